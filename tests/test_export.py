"""GIS export: round trips through GDAL (pyogrio) for every format and coordinate system."""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import CRS
from shapely import Point, Polygon

import livingcircle as lc
from livingcircle import export as ex
from livingcircle import results, styles
from livingcircle._errors import CoordinateError, ExportError
from livingcircle.cli import main as cli_main
from livingcircle.coords import gcj02_to_wgs84, transform_geometries
from livingcircle.crs import gk3_epsg, gk3_zone, resolve_crs

CRS_PRESETS = ["wgs84", "cgcs2000", "cgcs2000-gk3", "cgcs2000-gk3-nozone", "gcj02", "EPSG:32652"]


# ------------------------------------------------------------------------------------------
# test data: a few Harbin communities and facilities with Chinese text
# ------------------------------------------------------------------------------------------


def _square(lon, lat, d=0.002):
    return Polygon([(lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d)])


def make_layers() -> dict[str, pd.DataFrame]:
    communities = gpd.GeoDataFrame(
        {
            "community_id": ["c1", "c2", "c3"],
            "name": ["道里区安静小区", "香坊区和平里", "南岗区·工程大学家属楼"],
            "build_year": pd.array([1985, None, 1999], dtype="Int64"),
            "households": pd.array([320, 48, 1200], dtype="Int64"),
            "elderly_share": [0.31, np.nan, 0.125],
            "has_elevator": [False, True, False],
            "nearest_facility_id": ["f1", "f2", "f1"],
            "completeness_5min": [0.5, 1.0, 0.25],
            "completeness_10min": [0.75, 1.0, 0.0],
        },
        geometry=[_square(126.6123456, 45.7571234), _square(126.6801, 45.7402),
                  _square(126.6452, 45.7233)],
        crs=4326,
    )
    facilities = gpd.GeoDataFrame(
        {
            "facility_id": ["f1", "f2", "f3", "f4"],
            "category": ["kindergarten", "bus_stop", "kindergarten", "fresh_market"],
            "name": ["红星幼儿园", "公交站（大直街）", "哈尔滨市第一幼儿园", "道外菜市场"],
            "capacity": [90.0, np.nan, 180.0, np.nan],
        },
        geometry=[Point(126.6131, 45.7580), Point(126.6799, 45.7410),
                  Point(126.6402, 45.7251), Point(126.6500, 45.7300)],
        crs=4326,
    )
    access = pd.DataFrame({
        "community_id": ["c1", "c1", "c2"],
        "category": ["kindergarten", "bus_stop", "kindergarten"],
        "speed_profile": ["adult", "adult", "elderly"],
        "distance_m": [120.5, np.nan, 880.25],
        "reached": [True, False, True],
    })
    return {"communities": communities, "facilities": facilities, "access": access}


ID = {"communities": "community_id", "facilities": "facility_id", "access": None}


# ------------------------------------------------------------------------------------------
# reading back what was written
# ------------------------------------------------------------------------------------------


def _norm(v):
    """Compare values across formats: CSV/Excel give text, Shapefile gives floats for ints."""
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, str):
        if v == "":
            return None
        if v in ("True", "False", "true", "false"):
            return v.lower() == "true"
        try:
            return float(v)
        except ValueError:
            return v
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return float(v)
    return v


def read_back(files: list[Path], fmt: str, layer: str, encoding: str) -> pd.DataFrame:
    """Read one exported layer with pyogrio; restore the ASCII column names."""
    files = [Path(f) for f in files]
    folder = files[0].parent
    if fmt == "gpkg":
        return pyogrio.read_dataframe(files[0], layer=layer)
    if fmt == "xlsx":
        book = folder / "livingcircle.xlsx"
        fields = pyogrio.read_dataframe(book, layer="字段说明", HEADERS="FORCE")
        fields = fields[fields["图层"] == layer]
        sheet = styles.LAYER_LABELS_ZH[layer]
        df = pyogrio.read_dataframe(book, layer=sheet, HEADERS="FORCE")
        df = df.rename(columns=dict(zip(fields["列名"], fields["字段"], strict=True)))
        if "wkt" in df:
            return gpd.GeoDataFrame(df.drop(columns="wkt"),
                                    geometry=shapely.from_wkt(df["wkt"]))
        for x, y in (("lon", "lat"), ("x", "y")):
            if x in df:
                geom = shapely.points(df[x].astype(float), df[y].astype(float))
                return gpd.GeoDataFrame(df.drop(columns=[x, y]), geometry=geom)
        return df
    if fmt == "csv" or layer == "access":
        df = pyogrio.read_dataframe(folder / f"{layer}.csv", encoding=encoding.upper())
        if "wkt" in df:
            df = df.drop(columns="wkt")
        return df
    if fmt == "shp":
        df = pyogrio.read_dataframe(folder / f"{layer}.shp")
        mapping = pd.read_csv(folder / f"{layer}_fields.csv", encoding="utf-8-sig")
        return df.rename(columns=dict(zip(mapping["field"], mapping["column"], strict=True)))
    return pyogrio.read_dataframe(folder / f"{layer}{ex.FORMATS[fmt]}")


def assert_same_attributes(orig: pd.DataFrame, got: pd.DataFrame, id_col: str | None) -> None:
    """Same rows (matched by id, or in order for a table without one), same values."""
    assert len(got) == len(orig)
    if id_col is not None:
        got = got.set_index(got[id_col].astype(str)).loc[list(orig[id_col])]
    for col in orig.columns:
        if col == "geometry":
            continue
        for a, b in zip(orig[col], got[col], strict=True):
            na, nb = _norm(a), _norm(b)
            if isinstance(na, float) and isinstance(nb, float):
                assert nb == pytest.approx(na, rel=1e-12), (col, a, b)
            else:
                assert na == nb, (col, a, b)


def coords_of(geoms) -> np.ndarray:
    return shapely.get_coordinates(np.asarray(geoms))


def max_gap(a, b) -> float:
    """Largest Hausdorff distance between matching geometries (ring start/orientation free)."""
    a, b = np.asarray(a), np.asarray(b)
    assert len(a) == len(b)
    assert list(shapely.get_num_coordinates(a)) == list(shapely.get_num_coordinates(b))
    return float(np.max(shapely.hausdorff_distance(a, b)))


# ------------------------------------------------------------------------------------------
# round trips
# ------------------------------------------------------------------------------------------

# The CRS each preset must give for the test layers (longitudes 126.61–126.68), written from the
# EPSG registry, not from livingcircle.crs: 3-degree Gauss–Krüger zone = round(lon / 3) = 42
# (central meridian 126°E); EPSG 4513–4533 are CGCS2000 GK3 zones 25–45 with the zone number,
# 4534–4554 the same central meridians 75°E–135°E without it. gcj02: WGS84 axes, shifted points.
EXPECTED_CRS = {"wgs84": (4326, False), "cgcs2000": (4490, False), "cgcs2000-gk3": (4530, False),
                "cgcs2000-gk3-nozone": (4551, False), "gcj02": (4326, True),
                "EPSG:32652": (32652, False)}


def test_expected_crs_table_is_what_the_epsg_registry_says():
    # pyproj alone: the names of the codes the table above promises
    assert CRS.from_epsg(4530).name == "CGCS2000 / 3-degree Gauss-Kruger zone 42"
    assert CRS.from_epsg(4551).name == "CGCS2000 / 3-degree Gauss-Kruger CM 126E"
    assert CRS.from_epsg(4530).to_dict()["lon_0"] == CRS.from_epsg(4551).to_dict()["lon_0"] == 126
    assert CRS.from_epsg(4530).to_dict()["x_0"] == 42_500_000  # the zone in front of the easting
    assert set(EXPECTED_CRS) == set(CRS_PRESETS)


CASES = [(f, c, "utf-8") for f in ex.FORMATS for c in CRS_PRESETS]
CASES += [("shp", c, "gbk") for c in CRS_PRESETS] + [("csv", "cgcs2000", "gbk")]


@pytest.mark.parametrize(("fmt", "crs", "encoding"), CASES)
def test_round_trip(tmp_path, fmt, crs, encoding):
    layers = make_layers()
    before = {k: v.copy() for k, v in layers.items()}
    files = ex.export_layers(layers, out=tmp_path / "out", format=fmt, crs=crs,
                             encoding=encoding)
    # the caller's frames are untouched
    for k in layers:
        pd.testing.assert_frame_equal(pd.DataFrame(layers[k]), pd.DataFrame(before[k]))
    epsg, shifted = EXPECTED_CRS[crs]
    target = CRS.from_epsg(epsg)
    for name, orig in layers.items():
        got = read_back(files, fmt, name, encoding)
        assert_same_attributes(orig, got, ID[name])
        if not isinstance(orig, gpd.GeoDataFrame):
            continue
        got = got.set_index(got[ID[name]].astype(str)).loc[list(orig[ID[name]])]
        out_g, orig_g = got.geometry.values, orig.geometry.values
        if target.is_projected:
            # projected: compare in metres with the original projected directly (1 cm)
            assert max_gap(out_g, orig.to_crs(target).geometry.values) < 0.01
            # and projected back to longitude/latitude (1e-6 degrees)
            back = gpd.GeoSeries(out_g, crs=target).to_crs(4326)
            assert max_gap(back.values, orig_g) < 1e-6
        elif shifted:
            # GCJ-02: shifted by tens to hundreds of metres, and back within 1e-6 degrees
            assert 1e-4 < max_gap(out_g, orig_g) < 1e-2
            assert max_gap(transform_geometries(out_g, gcj02_to_wgs84), orig_g) < 1e-6
        else:
            assert max_gap(out_g, orig_g) < 1e-6
        if fmt in ("gpkg", "shp", "geojson", "fgb"):
            got_crs = pyogrio.read_info(
                files[0] if fmt == "gpkg" else files[0].parent / f"{name}{ex.FORMATS[fmt]}",
                layer=name if fmt == "gpkg" else None,
            )["crs"]
            assert CRS.from_user_input(got_crs).equals(target)


def test_gpkg_round_trip_from_result_file_keeps_types(tmp_path):
    src = tmp_path / "run" / "livingcircle.gpkg"
    src.parent.mkdir()
    for name, df in make_layers().items():
        pyogrio.write_dataframe(df, src, layer=name)
    (out,) = ex.export_layers(src, out=tmp_path / "exp", format="gpkg", crs="cgcs2000")
    assert out == (tmp_path / "exp" / "livingcircle.gpkg").resolve()
    got = pyogrio.read_dataframe(out, layer="communities")
    assert list(got["name"]) == ["道里区安静小区", "香坊区和平里", "南岗区·工程大学家属楼"]
    assert got["has_elevator"].tolist() == [False, True, False]
    assert got.crs.to_epsg() == 4490
    table = pyogrio.read_dataframe(out, layer="access")
    assert isinstance(table, pd.DataFrame) and "geometry" not in table
    assert table["distance_m"].tolist()[0] == 120.5


# ------------------------------------------------------------------------------------------
# Shapefile specifics
# ------------------------------------------------------------------------------------------


def test_shapefile_field_names_shorten_words_keep_short_names():
    m = ex.shapefile_field_names([
        "community_id", "name", "nearest_facility_id", "completeness_5min",
        "completeness_10min", "completeness_15min", "n_categories_reached",
    ])
    # worked by hand: trim the longest word one letter at a time until the name fits 10
    assert m == {
        "community_id": "communi_id",  # 9 + 1 + 2 -> "communi" (7) + "_id"
        "name": "name",
        "nearest_facility_id": "nea_fac_id",  # 7/8/2 letters -> 3/3/2
        "completeness_5min": "compl_5min",  # 12/4 -> 5/4
        "completeness_10min": "comp_10min",  # 12/5 -> 4/5
        "completeness_15min": "comp_15min",
        "n_categories_reached": "n_cat_reac",  # 1/10/7 -> 1/7/7 -> 1/5/5 -> 1/4/4 -> 1/3/4
    }
    assert all(len(v) <= 10 and v.isascii() for v in m.values())


def test_shapefile_field_names_collisions_are_numbered():
    m = ex.shapefile_field_names(["abcdefghijk", "abcdefghijz", "abcdefghij", "Name", "name",
                                  "名称", "地址"])
    assert m["abcdefghij"] == "abcdefghij"  # fits already: kept, the long ones move aside
    assert m["abcdefghijk"] == "abcdefgh_2"
    assert m["abcdefghijz"] == "abcdefgh_3"
    assert m["Name"] == "Name"
    assert m["name"] == "name_2"  # DBF names are case-insensitive
    assert m["名称"] == "field" and m["地址"] == "field_2"
    assert len({v.lower() for v in m.values()}) == len(m)


def test_shapefile_writes_mapping_cpg_and_gbk_bytes(tmp_path):
    layers = make_layers()
    files = ex.export_layers(layers, out=tmp_path, format="shp", crs="cgcs2000-gk3",
                             encoding="gbk")
    names = {p.name for p in files}
    assert {"communities.shp", "communities.dbf", "communities.shx", "communities.prj",
            "communities.cpg", "communities_fields.csv", "access.csv", "metadata.json"} <= names
    assert (tmp_path / "communities.cpg").read_text() == "GBK"
    dbf = (tmp_path / "communities.dbf").read_bytes()
    assert "道里区安静小区".encode("gbk") in dbf
    assert "道里区安静小区".encode() not in dbf
    mapping = pd.read_csv(tmp_path / "communities_fields.csv", encoding="utf-8-sig")
    row = mapping.set_index("column").loc["nearest_facility_id"]
    assert row["field"] == "nea_fac_id" and row["label_zh"] == "最近设施编号"
    info = pyogrio.read_info(tmp_path / "communities.shp")
    assert "nea_fac_id" in list(info["fields"])
    assert info["crs"] == "EPSG:4530"
    # the tables beside are GBK too
    assert "和平里".encode("gbk") not in (tmp_path / "access.csv").read_bytes()
    (tmp_path / "x").mkdir()
    ex.export_layers(layers, out=tmp_path / "x", format="shp", encoding="utf-8")
    assert (tmp_path / "x" / "communities.cpg").read_text() == "UTF-8"


def test_strict_gbk_refuses_text_it_cannot_hold(tmp_path):
    layers = make_layers()
    layers["facilities"].loc[1, "name"] = "公交站😀"
    with pytest.raises(ExportError, match=r"'facilities', column 'name', row 2.*gb18030"):
        ex.export_layers(layers, out=tmp_path / "o", format="shp", encoding="gbk",
                         strict_encoding=True)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "csv"])
def test_list_cells_are_joined(tmp_path, fmt):
    gaps = gpd.GeoDataFrame({"community_id": ["c1"], "categories": [["kindergarten", "bus_stop"]],
                             "detail": [{"幼儿园": 2}]}, geometry=[Point(126.6, 45.7)], crs=4326)
    files = ex.export_layers({"gaps": gaps}, out=tmp_path, format=fmt)
    got = read_back(files, fmt, "gaps", "utf-8")  # Shapefile names restored from the mapping
    assert got["categories"].iloc[0] == "kindergarten;bus_stop"
    assert got["detail"].iloc[0] == '{"幼儿园": 2}'
    assert isinstance(gaps["categories"].iloc[0], list)  # the input is untouched


def test_mixed_geometry_layer_is_split_for_shapefile(tmp_path):
    diag = gpd.GeoDataFrame(
        {"layer": ["facilities", "communities", "facilities"],
         "issue": ["重复", "无效几何", "无坐标"]},
        geometry=[Point(126.6, 45.7), _square(126.6, 45.7), None], crs=4326,
    )
    files = ex.export_layers({"diagnostics": diag}, out=tmp_path, format="shp")
    names = {p.name for p in files}
    assert {"diagnostics_point.shp", "diagnostics_polygon.shp"} <= names
    pts = pyogrio.read_dataframe(tmp_path / "diagnostics_point.shp")
    pgs = pyogrio.read_dataframe(tmp_path / "diagnostics_polygon.shp")
    # the row without a geometry stays with the first part: every row is somewhere
    assert sorted(pts["issue"]) == ["无坐标", "重复"] and list(pgs["issue"]) == ["无效几何"]


# ------------------------------------------------------------------------------------------
# other formats' details
# ------------------------------------------------------------------------------------------


def test_csv_has_bom_ascii_header_and_wkt(tmp_path):
    ex.export_layers(make_layers(), out=tmp_path, format="csv", crs="wgs84")
    raw = (tmp_path / "facilities.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\r\n" if b"\r\n" in raw else b"\n")[0].decode()
    assert header == "facility_id,category,name,capacity,wkt"
    df = pd.read_csv(tmp_path / "facilities.csv", encoding="utf-8-sig")
    assert df.loc[0, "wkt"] == "POINT (126.6131 45.758)"
    assert df.loc[1, "name"] == "公交站（大直街）"


def test_xlsx_chinese_headers_and_sheets(tmp_path):
    ex.export_layers(make_layers(), out=tmp_path, format="xlsx", crs="cgcs2000")
    book = pd.read_excel(tmp_path / "livingcircle.xlsx", sheet_name=None)
    assert list(book) == ["小区", "设施", "可达性", "字段说明", "元数据"]
    assert list(book["设施"].columns) == ["设施编号", "设施类别", "名称", "容量", "经度", "纬度"]
    assert book["设施"].loc[0, "经度"] == pytest.approx(126.6131, abs=1e-12)
    assert list(book["可达性"].columns)[:4] == [
        "小区编号", "设施类别", "步行速度方案", "步行距离(米)"
    ]
    assert book["小区"]["几何(WKT)"].str.startswith("POLYGON").all()
    meta = book["元数据"].set_index("项目")["内容"]
    assert meta["crs"] == "CGCS2000 (EPSG:4490)"


def test_xlsx_marks_geometry_too_long_for_a_cell(tmp_path, caplog):
    big = Point(126.6, 45.7).buffer(0.01, quad_segs=1000)  # 4001 vertices, ~150 000 characters
    iso = gpd.GeoDataFrame({"community_id": ["c1", "c2"], "minutes": [5, 10]},
                           geometry=[big, _square(126.6, 45.7)], crs=4326)
    ex.export_layers({"isochrones": iso}, out=tmp_path, format="xlsx")
    sheet = pd.read_excel(tmp_path / "livingcircle.xlsx", sheet_name="等时圈")
    assert sheet.loc[0, "几何(WKT)"] == "（几何过长，见 GeoPackage）"
    assert sheet.loc[1, "几何(WKT)"].startswith("POLYGON ((126.6 45.7")
    assert "1 geometries are longer than an Excel cell holds" in caplog.text


def test_gpkg_has_qgis_styles_and_metadata(tmp_path):
    (out,) = ex.export_layers(make_layers(), out=tmp_path, format="gpkg", crs="cgcs2000-gk3")
    style_rows = pyogrio.read_dataframe(out, layer="layer_styles")
    assert sorted(style_rows["f_table_name"]) == ["communities", "facilities"]
    geom_col = pyogrio.read_info(out, layer="facilities")["geometry_name"]
    fac = style_rows.set_index("f_table_name").loc["facilities"]
    assert fac["f_geometry_column"] == geom_col == "geom"
    assert bool(fac["useAsDefault"]) is True
    qml = ET.fromstring(fac["styleQML"].split("\n", 1)[1])
    renderer = qml.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol" and renderer.get("attr") == "category"
    cats = {c.get("value"): c.get("label") for c in renderer.iter("category")}
    assert cats == {"bus_stop": "公交车站", "fresh_market": "菜市场或生鲜超市",
                    "kindergarten": "幼儿园"}
    assert {s.get("type") for s in renderer.iter("symbol")} == {"marker"}
    com = ET.fromstring(style_rows.set_index("f_table_name").loc["communities", "styleQML"]
                        .split("\n", 1)[1])
    assert com.find("renderer-v2").get("type") == "singleSymbol"
    assert com.find("layerGeometryType").text == "2"
    # QGIS looks the table up by these columns; check the SQLite schema GDAL made
    with sqlite3.connect(out) as con:
        cols = [r[1] for r in con.execute("PRAGMA table_info(layer_styles)")]
    assert cols[:1] == ["id"]
    assert {"f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column",
            "styleName", "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui",
            "update_time"} <= set(cols)
    meta = ex.read_metadata(out)
    assert meta["crs"] == "CGCS2000 / 3-degree Gauss-Kruger zone 42 (EPSG:4530)"
    assert meta["crs_epsg"] == 4530 and meta["tool_version"] == lc.__version__
    assert meta["layers"]["facilities"] == {"rows": 4, "geometry": "point", "label_zh": "设施"}


def test_isochrones_are_styled_by_minutes():
    iso = gpd.GeoDataFrame({"community_id": ["c1"] * 3, "minutes": [5, 10, 15]},
                           geometry=[_square(126.6, 45.7, d) for d in (0.003, 0.006, 0.01)],
                           crs=4326)
    qml = ET.fromstring(styles.layer_style_qml(iso, layer="isochrones").split("\n", 1)[1])
    labels = [c.get("label") for c in qml.iter("category")]
    assert labels == ["5分钟", "10分钟", "15分钟"]
    assert styles.layer_style_qml(pd.DataFrame({"a": [1]})) is None


# ------------------------------------------------------------------------------------------
# metadata
# ------------------------------------------------------------------------------------------


def test_metadata_merges_source_caller_and_checksums(tmp_path):
    osm = tmp_path / "district.osm"
    osm.write_bytes(b"<osm version='0.6'></osm>\n")
    src = tmp_path / "livingcircle.gpkg"
    for name, df in make_layers().items():
        pyogrio.write_dataframe(df, src, layer=name)
    pyogrio.write_dataframe(
        ex.metadata_frame({"profile": "default", "speed_profile": "winter",
                           "inputs": [{"path": str(osm)}], "city": "哈尔滨"}),
        src, layer="livingcircle_metadata",
    )
    src_sha = hashlib.sha256(src.read_bytes()).hexdigest()
    files = ex.export_layers(src, out=tmp_path / "shp", format="shp",
                             metadata={"speed_profile": "elderly", "operator": "规划科"})
    meta = json.loads((tmp_path / "shp" / "metadata.json").read_text(encoding="utf-8"))
    assert (tmp_path / "shp" / "metadata.json").resolve() in files
    assert meta["profile"] == "default"
    assert meta["speed_profile"] == "elderly"  # the caller wins over the source
    assert meta["city"] == "哈尔滨" and meta["operator"] == "规划科"
    by_path = {Path(i["path"]).name: i for i in meta["inputs"]}
    assert by_path["district.osm"]["sha256"] == hashlib.sha256(
        b"<osm version='0.6'></osm>\n").hexdigest()
    assert by_path["livingcircle.gpkg"]["sha256"] == src_sha
    assert meta["tool_version"] == lc.__version__
    assert meta["crs"] == "CGCS2000 (EPSG:4490)" and meta["format"] == "shp"
    assert meta["exported_at"][:4].isdigit()
    # the metadata table is not exported as a layer
    assert "livingcircle_metadata.shp" not in {p.name for p in files}


def test_metadata_unknown_profile_is_none_not_guessed(tmp_path):
    ex.export_layers(make_layers(), out=tmp_path, format="geojson")
    meta = json.loads((tmp_path / "metadata.json").read_text(encoding="utf-8"))
    assert meta["profile"] is None and meta["speed_profile"] is None
    assert meta["coordinates_shifted_to"] is None


# ------------------------------------------------------------------------------------------
# coordinate systems
# ------------------------------------------------------------------------------------------

HEILONGJIANG = [
    # city, lon, lat, zone (round(lon / 3) worked by hand)
    ("Harbin 哈尔滨", 126.63, 45.75, 42),  # 42.21
    ("Mohe 漠河", 122.53, 52.97, 41),  # 40.84
    ("Jiamusi 佳木斯", 130.32, 46.80, 43),  # 43.44
    ("Suifenhe 绥芬河", 131.15, 44.40, 44),  # 43.72
    ("Qiqihar 齐齐哈尔", 123.92, 47.35, 41),  # 41.31
]


@pytest.mark.parametrize(("city", "lon", "lat", "zone"), HEILONGJIANG)
def test_gauss_kruger_zone_for_heilongjiang(city, lon, lat, zone):
    pts = gpd.GeoDataFrame({"name": [city]}, geometry=[Point(lon, lat)], crs=4326)
    assert gk3_zone(lon) == zone
    with_zone = resolve_crs("cgcs2000-gk3", pts)
    no_zone = resolve_crs("cgcs2000-gk3-nozone", pts)
    assert with_zone.crs.to_epsg() == 4513 + zone - 25
    assert no_zone.crs.to_epsg() == 4534 + zone - 25
    # what EPSG itself says about these codes
    assert with_zone.crs.name == f"CGCS2000 / 3-degree Gauss-Kruger zone {zone}"
    assert no_zone.crs.name == f"CGCS2000 / 3-degree Gauss-Kruger CM {3 * zone}E"
    params = {p.name: p.value for p in with_zone.crs.coordinate_operation.params}
    assert params["Longitude of natural origin"] == 3 * zone
    assert params["False easting"] == zone * 1_000_000 + 500_000
    x, _ = pts.to_crs(with_zone.crs).geometry.iloc[0].coords[0]
    assert int(x // 1_000_000) == zone
    x0, _ = pts.to_crs(no_zone.crs).geometry.iloc[0].coords[0]
    assert x0 == pytest.approx(x - zone * 1_000_000, abs=1e-6)


def test_harbin_codes_named():
    # Harbin's zone: 42 -> EPSG:4530 (with zone number) and EPSG:4551 (CM 126E)
    assert gk3_epsg(42) == 4530 and gk3_epsg(42, with_zone=False) == 4551
    assert gk3_epsg(25) == 4513 and gk3_epsg(45) == 4533
    assert gk3_epsg(25, with_zone=False) == 4534 and gk3_epsg(45, with_zone=False) == 4554


def test_zone_edges_and_limits():
    assert gk3_zone(127.5) == 43  # on the edge of 42 and 43: the eastern zone
    assert gk3_zone(127.4999) == 42
    with pytest.raises(CoordinateError, match="outside the zones 25-45"):
        gk3_epsg(gk3_zone(70.0))
    assert resolve_crs("cgcs2000-gk3:44").crs.to_epsg() == 4532
    with pytest.raises(ExportError, match="no layer has a geometry"):
        resolve_crs("cgcs2000-gk3", [pd.DataFrame({"a": [1]})])


def test_zone_from_centre_of_all_layers():
    west = gpd.GeoDataFrame(geometry=[Point(125.9, 45.7)], crs=4326)  # zone 42 alone
    east = gpd.GeoDataFrame(geometry=[Point(129.3, 45.7)], crs=4326)  # zone 43 alone
    # centre 127.6°E: zone round(127.6 / 3) = 43 -> EPSG:4513 + 43 - 25 = 4531 (EPSG registry)
    assert resolve_crs("cgcs2000-gk3", [west, east]).crs.to_epsg() == 4531
    assert CRS.from_epsg(4531).name == "CGCS2000 / 3-degree Gauss-Kruger zone 43"


def test_unknown_crs_lists_presets():
    with pytest.raises(ExportError, match=r"unknown coordinate system 'beijing54'.*cgcs2000-gk3"):
        resolve_crs("beijing54")
    with pytest.raises(ExportError, match="EPSG:999999"):
        resolve_crs("EPSG:999999")
    assert resolve_crs("EPSG:3857").crs.to_epsg() == 3857
    assert resolve_crs(4490).label == "CGCS2000 (EPSG:4490)"


def test_unknown_format_and_encoding():
    with pytest.raises(ExportError, match="unknown format 'kml'"):
        ex.export_layers(make_layers(), out="x", format="kml")
    with pytest.raises(ExportError, match="unknown encoding 'latin-1'"):
        ex.export_layers(make_layers(), out="x", encoding="latin-1")
    with pytest.raises(ExportError, match=r"\['roads'\] are not in"):
        ex.export_layers(make_layers(), out="x", layers="communities,roads")


# ------------------------------------------------------------------------------------------
# safety of data
# ------------------------------------------------------------------------------------------


def _fail_on_call(n):
    real = results.write_vector
    calls = {"n": 0}

    def writer(*args, **kw):
        calls["n"] += 1
        if calls["n"] == n:
            msg = "disk full (simulated)"
            raise OSError(msg)
        return real(*args, **kw)

    return writer


@pytest.mark.parametrize("fmt", ["gpkg", "shp", "geojson", "fgb"])
def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch, fmt):
    monkeypatch.setattr(results, "write_vector", _fail_on_call(2))
    out = tmp_path / "out"
    with pytest.raises(OSError, match="simulated"):
        ex.export_layers(make_layers(), out=out, format=fmt)
    leftovers = list(out.rglob("*")) if out.exists() else []
    assert leftovers == []


def test_interrupted_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    (out,) = ex.export_layers(make_layers(), out=tmp_path, format="gpkg")
    before = out.read_bytes()
    monkeypatch.setattr(results, "write_vector", _fail_on_call(3))
    with pytest.raises(OSError, match="simulated"):
        ex.export_layers(make_layers(), out=tmp_path, format="gpkg", crs="wgs84",
                         overwrite=True)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["livingcircle.gpkg"]


def test_never_overwrites_the_input(tmp_path):
    src = tmp_path / "livingcircle.gpkg"
    for name, df in make_layers().items():
        pyogrio.write_dataframe(df, src, layer=name)
    before = src.read_bytes()
    for kw in ({}, {"overwrite": True}):
        with pytest.raises(ExportError, match="is an input of this export"):
            ex.export_layers(src, out=tmp_path, format="gpkg", **kw)
        with pytest.raises(ExportError, match="is an input of this export"):
            ex.export_layers(src, out=tmp_path / "sub" / ".." / "livingcircle.gpkg", **kw)
    # an input named in the metadata is protected too
    (tmp_path / "o").mkdir()
    with pytest.raises(ExportError, match="is an input"):
        ex.export_layers(src, out=tmp_path / "o", format="geojson", overwrite=True,
                         metadata={"inputs": [str(tmp_path / "o" / "facilities.geojson")]})
    assert src.read_bytes() == before


def test_existing_output_replaced_only_when_asked(tmp_path):
    layers = make_layers()
    ex.export_layers(layers, out=tmp_path, format="geojson", crs="wgs84")
    with pytest.raises(ExportError, match=r"communities.geojson exists; pass overwrite=True"):
        ex.export_layers(layers, out=tmp_path, format="geojson", crs="cgcs2000")
    assert pyogrio.read_info(tmp_path / "facilities.geojson")["crs"] == "EPSG:4326"
    ex.export_layers(layers, out=tmp_path, format="geojson", crs="cgcs2000-gk3",
                     overwrite=True)
    assert pyogrio.read_info(tmp_path / "facilities.geojson")["crs"] == "EPSG:4530"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------


def test_cli_export(tmp_path, capsys):
    src = tmp_path / "run" / "livingcircle.gpkg"
    src.parent.mkdir()
    for name, df in make_layers().items():
        pyogrio.write_dataframe(df, src, layer=name)
    args = ["export", str(src), "--format", "shp", "--crs", "cgcs2000-gk3-nozone",
            "--encoding", "gbk", "--layers", "communities,access", "--out", str(tmp_path / "o")]
    assert cli_main(args) == 0
    assert (tmp_path / "o" / "communities.cpg").read_text() == "GBK"
    assert pyogrio.read_info(tmp_path / "o" / "communities.shp")["crs"] == "EPSG:4551"
    assert not (tmp_path / "o" / "facilities.shp").exists()
    assert cli_main(args) == 2
    assert "exists; pass overwrite=True (command line: --overwrite)" in capsys.readouterr().err
    assert cli_main([*args, "--overwrite"]) == 0
    assert cli_main(["export", str(src), "--format", "gpkg", "--out", str(src.parent)]) == 2
    assert "is the result GeoPackage this command reads" in capsys.readouterr().err
