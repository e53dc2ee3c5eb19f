"""The result's one home (issue 15 item 3): one GeoPackage writer, one reader, one metadata table.

Every test reads the sample district's result as ``livingcircle run`` writes it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

import livingcircle as lc
from livingcircle import export, results, settings
from livingcircle._errors import InputError
from livingcircle.clusters import recommend
from livingcircle.results import METADATA_TABLE, STYLE_TABLE, load_result, read_metadata


@pytest.fixture(scope="module")
def written(sample_written):
    """The session's written sample result (conftest.sample_written): read, never changed."""
    return sample_written


def test_recommend_on_a_loaded_result_names_what_is_missing(written):
    """A result read back keeps no network: an InputError, not None inside the distance step."""
    loaded = load_result(written)
    assert loaded.network is None and loaded.access is None
    with pytest.raises(InputError, match=r"^recommend needs the walking network and the access"):
        recommend(loaded)


def test_the_written_geopackage_has_one_metadata_table(written, sample_result):
    gpkg = written / "livingcircle.gpkg"
    tables = [str(n) for n, _ in pyogrio.list_layers(gpkg)]
    assert tables.count(METADATA_TABLE) == 1 and tables.count(STYLE_TABLE) == 1
    assert read_metadata(gpkg)["run_id"] == sample_result.metadata["run_id"]
    # GeoPackage 1.2 (QGIS 3.22 reads it without a warning): application_id 'GPKG', version 10200
    with open(gpkg, "rb") as fh:
        header = fh.read(100)
    assert header[68:72] == b"GPKG"
    assert int.from_bytes(header[60:64], "big") == 10200


@pytest.mark.parametrize(("driver", "name", "kw"), [
    ("GPKG", "x.gpkg", {}),
    ("GeoJSON", "x.geojson", {}),
    ("ESRI Shapefile", "x.shp", {"encoding": "GBK"}),
    ("FlatGeobuf", "x.fgb", {}),
])
def test_a_missing_text_value_is_written_as_null(tmp_path, driver, name, kw):
    """pandas' NA in a text column is a NULL field in every format, never the text "<NA>".

    pyogrio's row-by-row writer wrote the text: every cluster member's ``heritage`` of the city
    centre's GeoPackage read "<NA>" until write_vector gave the writer None instead.
    """
    import geopandas as gpd
    import shapely

    df = gpd.GeoDataFrame(
        {"heritage": pd.Series(["文保", pd.NA, None, pd.NaT], dtype=object),
         "typed": pd.array(["a", pd.NA, "b", pd.NA], dtype="string")},
        geometry=[shapely.Point(126.6, 45.7)] * 4, crs=4326)
    before = df.copy()
    path = tmp_path / name
    results.write_vector(df, path, driver=driver, **kw)
    got = pyogrio.read_dataframe(path, encoding=kw.get("encoding"))
    assert got["heritage"].iloc[0] == "文保" and got["heritage"].iloc[1:].isna().all()
    assert got["typed"].iloc[[0, 2]].tolist() == ["a", "b"]
    assert got["typed"].iloc[[1, 3]].isna().all()
    pd.testing.assert_frame_equal(df, before)  # the caller's frame is left as it was
    if driver == "GPKG":
        import sqlite3

        with sqlite3.connect(path) as con:
            kinds = con.execute("SELECT typeof(heritage) FROM x").fetchall()
        assert [k for (k,) in kinds] == ["text", "null", "null", "null"]


def test_the_metadata_table_name_is_written_once_in_the_package():
    package = Path(lc.__file__).parent
    holders = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == "livingcircle_metadata":
                holders.append(path.name)
    assert holders == ["schema.py"]  # the contract; results and every reader import it


def test_export_and_load_read_the_same_layers(written):
    """``export.read_result`` and ``load_result`` are one reader: the same frames, cell by cell.

    Export keeps each layer in the CRS it was written in (``uncovered`` is in metres); a loaded
    result has every layer in EPSG:4326.
    """
    gpkg = written / "livingcircle.gpkg"
    loaded = load_result(written)
    for_export = export.read_result(gpkg)
    assert list(for_export) == list(loaded.layers)
    crs = {name: getattr(frame, "crs", None) for name, frame in for_export.items()}
    assert {n for n, c in crs.items() if c is not None and c.to_epsg() != 4326} == {"uncovered"}
    for name, frame in for_export.items():
        if crs[name] is not None:
            frame = frame.to_crs(4326)
        pd.testing.assert_frame_equal(pd.DataFrame(frame), pd.DataFrame(loaded.layers[name]))


def test_a_spilled_layer_is_read_back_whole(written, monkeypatch):
    """A city's isochrones stay in the file on loading; read back they equal the whole layer."""
    whole = load_result(written).layers["isochrones"]
    monkeypatch.setattr(settings, "spill_above_communities", 0)
    loaded = load_result(written)
    assert set(loaded.spilled) == {"isochrones", "coverage"}
    assert "geometry" not in loaded.layers["isochrones"].columns
    back = loaded.layer("isochrones")
    assert len(back) == len(whole) == 240
    assert back.geometry.geom_equals_exact(whole.geometry, tolerance=0).all()
    fifteen = loaded.layer("isochrones", where="minutes = 15")
    assert len(fifteen) == (whole["minutes"] == 15).sum() == 80


def test_writing_a_loaded_result_gives_the_same_layers(written, tmp_path):
    """Read, write again, read: every layer equal (the writer and reader agree)."""
    first = load_result(written)
    first.write(tmp_path / "again", map_html=False)
    second = load_result(tmp_path / "again")
    assert list(second.layers) == list(first.layers)
    for name, frame in first.layers.items():
        pd.testing.assert_frame_equal(pd.DataFrame(second.layers[name]), pd.DataFrame(frame))
    assert second.metadata == first.metadata


def test_a_file_that_is_not_a_geopackage_is_named(tmp_path):
    bad = tmp_path / "livingcircle.gpkg"
    bad.write_bytes(b"not a geopackage")
    with pytest.raises(InputError, match=r"cannot open .*livingcircle\.gpkg as a GeoPackage"):
        results.read_layers(bad)


def _relative_imports(path: Path) -> set[str]:
    """The package modules a file imports (``from .x import y``, ``from . import x``), anywhere."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names |= {node.module.split(".")[0]} if node.module else {a.name for a in
                                                                      node.names}
    return names


@pytest.mark.parametrize("module", ["results", "maps", "report", "figures", "export",
                                    "_display"])
def test_outputs_import_neither_the_pipeline_nor_the_command_line(module):
    """Issue 15 item 3: the outputs take a Result; the run and the commands sit above them."""
    path = Path(lc.__file__).parent / f"{module}.py"
    assert _relative_imports(path) & {"pipeline", "batch", "cli", "options"} == set()


def test_planning_does_not_import_the_pipeline():
    """The cycle pipeline → clusters → pipeline is gone (issue 15 item 4)."""
    package = Path(lc.__file__).parent
    for module in ("clusters", "renovation", "gaps", "accessibility"):
        assert "pipeline" not in _relative_imports(package / f"{module}.py"), module


# --- the map written beside the GeoPackage (a city's result) -------------------------------------
def _beside_used(monkeypatch) -> list:
    """Make every Result.write of this test write its map beside; return the children started."""
    from conftest import beside_counted

    started = beside_counted(monkeypatch)
    monkeypatch.setattr(settings, "process_pool_min_communities", 1)
    return started


def test_the_map_written_beside_the_geopackage_is_the_same(sample_result, written, tmp_path,
                                                           monkeypatch):
    """A city writes its map in a child process while the GeoPackage is written: same files."""
    import re

    started = _beside_used(monkeypatch)
    files = sample_result.write(tmp_path / "beside")
    assert started == ["writing map.html"]
    assert sorted(p.name for p in files) == sorted(p.name for p in written.iterdir())
    # folium numbers its elements at random: the same map apart from those numbers
    ids = re.compile(r"[0-9a-f]{32}")
    alone = ids.sub("#", (written / "map.html").read_text(encoding="utf-8"))
    beside = ids.sub("#", (tmp_path / "beside" / "map.html").read_text(encoding="utf-8"))
    assert beside == alone and len(beside) > 100_000
    first, second = load_result(written), load_result(tmp_path / "beside")
    for name, frame in first.layers.items():
        pd.testing.assert_frame_equal(pd.DataFrame(second.layers[name]), pd.DataFrame(frame))


def test_a_map_that_fails_beside_stops_the_write_with_its_error(sample_result, tmp_path,
                                                                monkeypatch):
    """The child's error is the caller's, same type and message; no file is left behind."""
    from livingcircle._errors import ExportError

    started = _beside_used(monkeypatch)

    def disk_full(make, path):
        msg = f"cannot write {path.name}: no space left on the device"
        raise ExportError(msg)

    monkeypatch.setattr(results.RENDERERS, "save_page", disk_full)
    out = tmp_path / "failed"
    with pytest.raises(ExportError, match=r"^cannot write map\.html: no space left"):
        sample_result.write(out)
    assert started == ["writing map.html"]
    assert not out.exists() or not any(out.iterdir())


def test_a_child_that_dies_or_raises_what_does_not_pickle_is_named():
    """Beside: a child killed without a word, or an exception that cannot travel back."""
    import os
    import threading

    from livingcircle._parallel import Beside

    with Beside(lambda: os._exit(3), what="writing map.html") as child, \
            pytest.raises(RuntimeError, match=r"writing map\.html stopped without a result "
                                               r"\(exit code 3"):
        child.wait()

    class Unpicklable(Exception):  # a local class: pickle cannot find it by name
        pass

    def raise_it():
        raise Unpicklable(threading.Lock())

    with Beside(raise_it, what="writing map.html") as child, \
            pytest.raises(RuntimeError, match=r"Unpicklable"):
        child.wait()
    with Beside(lambda: None, what="nothing") as child:
        child.wait()  # a child that ends well: nothing raised


def test_a_childs_warnings_are_raised_in_the_parent_and_its_threads_are_its_own():
    """Beside: what the child warns is warned again by wait() (under the parent's filters), and
    a child forked after the run's thread pool started runs its threads, not the parent's."""
    import warnings

    from livingcircle._parallel import Beside
    from livingcircle.routing import parallel_each

    def warns():
        warnings.warn("3 communities are not polygons", lc.LivingCircleWarning, stacklevel=1)
        return 7

    with Beside(warns, what="measuring") as child, \
            pytest.warns(lc.LivingCircleWarning, match="^3 communities are not polygons$"):
        assert child.wait() == 7
    with warnings.catch_warnings():
        warnings.simplefilter("error", lc.LivingCircleWarning)
        with Beside(warns, what="measuring") as child, \
                pytest.raises(lc.LivingCircleWarning, match="not polygons"):
            child.wait()

    parallel_each(range(4), lambda i, _local: None, threads=2)  # the pool starts here

    def on_threads():
        done = []
        parallel_each(range(8), lambda i, _local: done.append(i), threads=2)
        return sorted(done)

    with Beside(on_threads, what="searching") as child:  # the parent's pool: waited for ever
        assert child.wait() == list(range(8))
