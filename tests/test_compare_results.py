"""benchmarks/compare_results.py: the before/after check of issue 15 finds every kind of change.

The script itself runs the sample district twice (a minute); here its comparison is checked on
small GeoPackages written by GDAL, with one change at a time.
"""

import importlib.util
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cmp():
    spec = importlib.util.spec_from_file_location("compare_results",
                                                  ROOT / "benchmarks" / "compare_results.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["compare_results"] = mod
    spec.loader.exec_module(mod)
    return mod


def _layer(**change):
    data = {"community_id": ["C1", "C2", "C3"], "in_scope": ["yes", "no", "unknown"],
            "distance_m": [120.5, 480.25, 1010.0], "households": [300, 120, 45],
            "geometry": [Point(500000, 5070000), Point(500100, 5070000), Point(500200, 5070050)]}
    data.update(change)
    return gpd.GeoDataFrame(data, crs=32652)


def _write(folder: Path, layers: dict) -> Path:
    folder.mkdir(parents=True)
    for name, gdf in layers.items():
        gdf.to_file(folder / "livingcircle.gpkg", layer=name, engine="pyogrio")
    return folder


def test_identical_results_agree(cmp, tmp_path):
    a = _write(tmp_path / "a", {"access": _layer()})
    b = _write(tmp_path / "b", {"access": _layer()})
    assert cmp.compare_folders(a, b, rtol=1e-9, atol=1e-9, geom_tol=1e-9) == []


def test_each_change_is_named_with_its_row(cmp, tmp_path):
    a = _write(tmp_path / "a", {"access": _layer()})
    b = _write(tmp_path / "b", {"access": _layer(
        distance_m=[120.5, 480.25 + 1e-3, 1010.0],
        in_scope=["yes", "no", "yes"],
        geometry=[Point(500000, 5070000), Point(500100, 5070000), Point(500200, 5070050.001)])})
    diffs = cmp.compare_folders(a, b, rtol=1e-9, atol=1e-9, geom_tol=1e-9)
    keys = sorted(d.key() for d in diffs)
    assert keys == ["access.distance_m", "access.geometry", "access.in_scope"]
    by = {d.key(): d for d in diffs}
    assert by["access.distance_m"].examples == ["row 2: before 480.25, after 480.251"]
    assert by["access.in_scope"].examples == ["row 3: before 'unknown', after 'yes'"]
    assert by["access.geometry"].examples == ["row 3: Hausdorff distance 0.001"]
    # a change within the tolerance is no difference
    assert cmp.compare_folders(a, b, rtol=1e-9, atol=2e-3, geom_tol=2e-3) == [by["access.in_scope"]]


def test_layers_columns_and_rows(cmp, tmp_path):
    a = _write(tmp_path / "a", {"access": _layer(), "gaps": _layer()})
    fewer = _layer().drop(columns="households").iloc[:2]
    b = _write(tmp_path / "b", {"access": fewer})
    whats = [d.what for d in cmp.compare_folders(a, b, rtol=1e-9, atol=1e-9, geom_tol=1e-9)]
    assert whats == ["layers gone: ['gaps']; layers new: []",
                     "columns gone: ['households']", "3 rows before, 2 after"]


def test_allow_names_a_layer_or_a_column(cmp):
    d = cmp.Difference("demo/livingcircle.gpkg:gaps.capacity_ratio", "1 of 3 values differ")
    assert cmp.allowed(d, ["gaps.capacity_ratio"])
    assert cmp.allowed(d, ["gaps"])
    assert not cmp.allowed(d, ["gaps.capacity"])
    assert not cmp.allowed(d, ["access"])


def test_tree_paths_and_volatile_metadata_are_neutral(cmp, tmp_path):
    import pandas as pd

    df = pd.DataFrame({"source": ["/tmp/x/tree-before/data/a.osm", None]})
    out = cmp._neutral_paths(df, Path("/tmp/x/tree-before"))["source"]
    assert out.iloc[0] == "<tree>/data/a.osm"
    assert pd.isna(out.iloc[1])
    assert cmp._strip_json('{"run_id": "r1", "nodes": 3, "created": "t"}') == '{"nodes": 3}'
