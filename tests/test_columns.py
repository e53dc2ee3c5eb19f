"""Column names as real files write them: Shapefile names GDAL cut, Chinese municipal headers."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from livingcircle import io
from livingcircle._errors import InputError
from livingcircle.diagnostics import Diagnostics
from livingcircle.inputs import on_command_line
from livingcircle.renovation import renovation_scope
from livingcircle.schema import (
    COLUMN_ALIASES,
    INPUT_COLUMNS,
    aliases_markdown,
    gdal_shapefile_names,
    header_lookup,
    match_header,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")

SAMPLE = Path(__file__).parents[1] / "data" / "sample_district"
DOCS = Path(__file__).parents[1] / "docs" / "columns.md"

#: Chinese headers of a municipal survey table for the sample communities' columns.
ZH_HEADERS = {
    "community_id": "小区编号", "name": "小区名称", "build_year": "建成年代", "households": "户数",
    "population": "人口", "elderly_share": "老龄化率", "floors": "楼层", "has_elevator": "电梯",
    "safety_grade": "鉴定等级", "complete_units": "独立厨卫", "heritage": "历史文化",
    "owners_committee": "业委会", "property_committee": "物管会", "management_mode": "物业",
    "resident_funding": "居民出资", "district": "所属区", "street": "街道",
}


def _gdal_names(columns: list[str], folder: Path) -> list[str]:
    """The field names GDAL's Shapefile driver gives ``columns``, read back from the file."""
    gdf = gpd.GeoDataFrame({c: [1] for c in columns}, geometry=[Point(126.6, 45.7)], crs=4326)
    path = folder / "names.shp"
    pyogrio.write_dataframe(gdf, path)
    return [str(f) for f in pyogrio.read_info(path)["fields"]]


@pytest.mark.parametrize("layer", list(INPUT_COLUMNS))
def test_truncated_names_are_the_ones_gdal_writes(layer, tmp_path):
    cols = list(INPUT_COLUMNS[layer])
    assert list(gdal_shapefile_names(cols).values()) == _gdal_names(cols, tmp_path)


def test_gdal_deduplication_suffixes(tmp_path):
    # twelve names with one 10-character prefix: _1 … _9, then two digits without underscore
    cols = ["owners_committee", *[f"owners_committee_{k}" for k in range(11)], "OWNERS_COMX"]
    written = _gdal_names(cols, tmp_path)
    assert list(gdal_shapefile_names(cols).values()) == written
    assert written[1] == "owners_c_1" and written[10] == "owners_c10"


def test_every_truncated_and_chinese_header_is_recognised():
    lookup = header_lookup("communities")
    for col, zh in ZH_HEADERS.items():
        assert match_header(zh, lookup) == col
        assert match_header(col[:10], lookup) == col
        assert match_header(col[:10].upper(), lookup) == col  # DBF names are caseless
    assert match_header("户数（户）", lookup) == "households"
    assert match_header("ＢＵＩＬＤ＿ＹＥＡＲ", lookup) == "build_year"
    assert match_header("备注", lookup) is None


def test_shapefile_with_gdal_names_reads_as_the_geopackage(tmp_path):
    gpkg = SAMPLE / "communities.gpkg"
    shp = tmp_path / "communities.shp"
    pyogrio.write_dataframe(pyogrio.read_dataframe(gpkg), shp, encoding="UTF-8")
    fields = list(pyogrio.read_info(shp)["fields"])
    assert {"community_", "safety_gra", "elderly_sh", "complete_u", "owners_com",
            "resident_f", "build_year"} <= set(fields)  # GDAL did cut the names
    diag_shp, diag_gpkg = Diagnostics(), Diagnostics()
    from_shp = io.read_communities(shp, diagnostics=diag_shp)
    from_gpkg = io.read_communities(gpkg, diagnostics=diag_gpkg)
    assert list(from_shp.columns) == list(from_gpkg.columns)
    pd.testing.assert_frame_equal(pd.DataFrame(from_shp.drop(columns="geometry")),
                                  pd.DataFrame(from_gpkg.drop(columns="geometry")))
    assert from_shp.geom_equals_exact(from_gpkg.geometry, tolerance=1e-9).all()
    assert len(diag_shp) == len(diag_gpkg) == 0  # no generated ids, nothing unused
    pd.testing.assert_frame_equal(renovation_scope(from_shp), renovation_scope(from_gpkg))


def _chinese_table(path: Path) -> pd.DataFrame:
    """The sample communities as a municipal CSV: Chinese headers, 是/否, points as lon/lat."""
    gdf = pyogrio.read_dataframe(SAMPLE / "communities.gpkg")
    df = pd.DataFrame(gdf.drop(columns="geometry"))
    for c in ("has_elevator", "complete_units", "heritage", "owners_committee",
              "property_committee", "resident_funding"):
        df[c] = df[c].map(lambda x: x if pd.isna(x) else ("是" if x else "否"))
    pts = gdf.geometry.representative_point()
    df = df.rename(columns=ZH_HEADERS).assign(经度=pts.x, 纬度=pts.y)
    df.to_csv(path, index=False, encoding="gbk")
    return df


def test_chinese_headers_give_the_same_attributes(tmp_path):
    csv = tmp_path / "小区调查表.csv"
    _chinese_table(csv)
    diag = Diagnostics()
    table = io.read_communities(csv, coord_crs="wgs84", diagnostics=diag)
    gpkg = io.read_communities(SAMPLE / "communities.gpkg")
    pd.testing.assert_frame_equal(pd.DataFrame(table.drop(columns="geometry")),
                                  pd.DataFrame(gpkg.drop(columns="geometry")))
    assert len(diag) == 0
    pd.testing.assert_frame_equal(renovation_scope(table), renovation_scope(gpkg))


def test_two_columns_for_one_name_is_an_error_naming_both(tmp_path):
    csv = tmp_path / "c.csv"
    pd.DataFrame({"小区编号": ["C1"], "建成年代": [1990], "建成年份": [1991],
                  "经度": [126.6], "纬度": [45.7]}).to_csv(csv, index=False)
    with pytest.raises(InputError, match=r"c\.csv: columns '建成年代' and '建成年份' both name "
                                         r"'build_year'.*--columns \(Python: columns="):
        io.read_communities(csv, coord_crs="wgs84")
    # mapping the one meant resolves it; the other stays as it is, reported once as unused
    diag = Diagnostics()
    out = io.read_communities(csv, coord_crs="wgs84", columns={"建成年份": "build_year"},
                              diagnostics=diag)
    assert out["build_year"].tolist() == [1991]
    assert out["建成年代"].tolist() == ["1990"]
    unused = [d for d in diag.records if d["issue"] == "unused_columns"]
    assert len(unused) == 1 and "'建成年代'" in unused[0]["detail"]
    assert unused[0]["action"] == "kept" and unused[0]["source"] == str(csv)


def test_unrecognised_columns_are_listed_once_never_an_error(tmp_path):
    csv = tmp_path / "c.csv"
    pd.DataFrame({"小区编号": ["C1", "C2"], "备注": ["a", "b"], "联系人": ["x", "y"],
                  "lon": [126.6, 126.61], "lat": [45.7, 45.71]}).to_csv(csv, index=False)
    diag = Diagnostics()
    out = io.read_communities(csv, coord_crs="wgs84", diagnostics=diag)
    assert out["备注"].tolist() == ["a", "b"]
    assert [(d["issue"], d["detail"].split(";")[0]) for d in diag.records] == [
        ("unused_columns", "columns kept as they are but not used: '备注', '联系人'")]


def test_alias_document_is_generated_from_the_table():
    assert DOCS.read_text(encoding="utf-8") == aliases_markdown()


def test_advice_names_the_cli_option_and_the_python_parameter(tmp_path):
    gates = tmp_path / "gates.csv"
    pd.DataFrame({"门": ["G1"], "所属": ["C1"], "lon": [126.6], "lat": [45.7]}).to_csv(
        gates, index=False)
    # this message is phrased for where the user is (livingcircle.inputs.advice): Python here,
    # --columns on the command line (tests/test_input_crs.py)
    with pytest.raises(InputError, match=r"gates\.csv: gates need a 'community_id' column.*"
                                         r"map yours with columns=\{'<your column>': "):
        io.read_gates(gates, coord_crs="wgs84")  # in Python: the parameter
    with on_command_line(), pytest.raises(
            InputError, match=r"gates\.csv: gates need a 'community_id' column.*map yours with "
                              r"--columns .*gates\.csv=MAPPING\.yaml holding '<your column>: "
                              r"community_id' \(columns: \['门', '所属'\]\)"):
        io.read_gates(gates, coord_crs="wgs84")  # on the command line: the option
    nolon = tmp_path / "nolon.csv"
    pd.DataFrame({"小区编号": ["C1"], "东": [126.6], "北": [45.7]}).to_csv(nolon, index=False)
    with pytest.raises(InputError, match=r"nolon\.csv: no longitude column found.*map it to "
                                         r"'lon' with --columns \(Python: lon_col= or columns="):
        io.read_communities(nolon, coord_crs="wgs84")
    assert len(io.read_communities(nolon, coord_crs="wgs84", columns={"东": "lon", "北": "lat"}))
    noid = tmp_path / "noid.csv"
    pd.DataFrame({"名称": ["甲"], "lon": [126.6], "lat": [45.7]}).to_csv(noid, index=False)
    with pytest.warns(UserWarning, match=r"noid\.csv: no community_id column; generated ids "
                                         r"communities_<row> \(map yours to 'community_id' with "
                                         r"--columns; Python: id_column= or columns=\)"):
        io.read_communities(noid, coord_crs="wgs84")


@pytest.mark.parametrize("layer", [*INPUT_COLUMNS, None])
def test_one_header_names_one_column(layer):
    lookup = header_lookup(layer)  # raises when a header would name two columns
    layers = [layer] if layer else list(INPUT_COLUMNS)
    for col in {c for lay in layers for c in INPUT_COLUMNS[lay]}:
        assert lookup[col.replace("_", "")] == col
        for alias in COLUMN_ALIASES.get(col, ()):  # 安全等级 as well as 鉴定等级, …
            assert match_header(alias, lookup) == col
            assert match_header(f" {alias.upper()} ", lookup) == col
