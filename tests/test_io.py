"""Input readers: every format, encodings, coordinate systems, and every bad input."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from conftest import REFERENCE_DIR
from pyproj import Geod
from shapely.geometry import Point, Polygon, box

from livingcircle import coords, io, settings
from livingcircle._errors import CoordinateError, InputError
from livingcircle.diagnostics import Diagnostics

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

REFERENCE = REFERENCE_DIR / "coordinate-reference-pairs.csv"  # copy of shared/reference
GEOD = Geod(ellps="WGS84")

NAMES = ["道里区安静小区", "南岗区花园街小区", "香坊区红旗小区"]
IDS = ["C1", "C2", "C3"]
LON = [126.61, 126.63, 126.65]
LAT = [45.76, 45.75, 45.74]
YEARS = [1985, 1992, 2003]


def _points_frame() -> pd.DataFrame:
    return pd.DataFrame({"编号": IDS, "名称": NAMES, "build_year": YEARS,
                         "经度": LON, "纬度": LAT})


def _polygons() -> gpd.GeoDataFrame:
    geoms = [box(x - 0.002, y - 0.001, x + 0.002, y + 0.001) for x, y in zip(LON, LAT, strict=True)]
    return gpd.GeoDataFrame({"编号": IDS, "名称": NAMES, "build_year": YEARS},
                            geometry=geoms, crs=4326)


def _write(fmt: str, folder: Path) -> Path:
    gdf = _polygons()
    df = _points_frame()
    if fmt == "gpkg":
        p = folder / "c.gpkg"
        gdf.to_file(p, driver="GPKG", layer="communities")
    elif fmt == "geojson":
        p = folder / "c.geojson"
        gdf.to_file(p, driver="GeoJSON")
    elif fmt.startswith("shp"):
        p = folder / "c.shp"
        enc = "UTF-8" if fmt == "shp_utf8" else "GBK"
        pyogrio.write_dataframe(gdf, p, encoding=enc)
        assert p.with_suffix(".cpg").read_text().strip() == enc
        if fmt == "shp_gbk_nocpg":
            p.with_suffix(".cpg").unlink()
    elif fmt.startswith("csv"):
        p = folder / "c.csv"
        enc = {"csv_utf8": "utf-8", "csv_bom": "utf-8-sig", "csv_gbk": "gbk"}[fmt]
        df.to_csv(p, index=False, encoding=enc)
    elif fmt == "xlsx":
        p = folder / "c.xlsx"
        df.to_excel(p, index=False)
    return p


FORMATS = ["gpkg", "geojson", "shp_utf8", "shp_gbk", "shp_gbk_nocpg", "csv_utf8", "csv_bom",
           "csv_gbk", "xlsx"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_keeps_chinese_text(fmt, tmp_path):
    p = _write(fmt, tmp_path)
    raw = p.read_bytes() if fmt.startswith("csv") else b""
    if fmt == "csv_gbk":
        assert "名称".encode("gbk") in raw  # the file really is GBK
    if fmt == "csv_bom":
        assert raw.startswith(b"\xef\xbb\xbf")
    table = fmt.startswith("csv") or fmt == "xlsx"
    diag = Diagnostics()
    out = io.read_communities(p, coord_crs="wgs84" if table else None, diagnostics=diag)
    assert out.crs.to_epsg() == 4326
    assert out["community_id"].tolist() == IDS  # 编号 is recognised as the id column
    assert out["name"].tolist() == NAMES  # 名称 -> name, characters intact
    assert out["build_year"].dtype == "Int64"
    assert out["build_year"].tolist() == YEARS
    assert out["src_row"].tolist() == [1, 2, 3]
    assert all(isinstance(x, str) for x in out["community_id"])
    c = out.geometry.centroid if not table else out.geometry
    np.testing.assert_allclose(c.x, LON, atol=1e-9)
    np.testing.assert_allclose(c.y, LAT, atol=1e-9)
    if fmt == "shp_gbk_nocpg":
        rec = [r for r in diag.records if r["issue"] == "encoding"]
        assert len(rec) == 1 and "GBK" in rec[0]["detail"]
    else:
        assert not diag.records


def test_shapefile_with_wrong_cpg_falls_back_to_gbk(tmp_path):
    p = _write("shp_gbk", tmp_path)
    p.with_suffix(".cpg").write_text("UTF-8")  # lies: the text is GBK
    diag = Diagnostics()
    out = io.read_communities(p, diagnostics=diag)
    assert out["name"].tolist() == NAMES
    assert "GBK" in diag.records[0]["detail"] and "utf-8" in diag.records[0]["detail"]


def test_read_layer_generic_and_column_mapping(tmp_path):
    p = tmp_path / "pois.csv"
    pd.DataFrame({"设施": ["幼儿园甲"], "X": [126.6], "Y": [45.7]}).to_csv(p, index=False)
    out = io.read_layer(p, columns={"设施": "name"}, coord_crs="wgs84")
    assert list(out.columns) == ["name", "src_row", "geometry"]
    assert out["name"].iloc[0] == "幼儿园甲"
    assert (out.geometry.x.iloc[0], out.geometry.y.iloc[0]) == (126.6, 45.7)


def test_explicit_column_mapping_and_id_column(tmp_path):
    p = tmp_path / "c.csv"
    pd.DataFrame({"小区代码": ["A-1", "A-2"], "小区名": ["安和小区", "兴华小区"],
                  "年代": [1979, 1996], "电梯": ["无", "有"], "lng": [126.6, 126.61],
                  "lat": [45.7, 45.71]}).to_csv(p, index=False)
    out = io.read_communities(
        p, coord_crs="wgs84", id_column="小区代码",
        columns={"小区名": "name", "年代": "build_year", "电梯": "has_elevator"})
    assert out["community_id"].tolist() == ["A-1", "A-2"]
    assert out["name"].tolist() == ["安和小区", "兴华小区"]
    assert out["has_elevator"].dtype == "boolean"
    assert out["has_elevator"].tolist() == [False, True]


def test_mapping_of_a_missing_column_is_an_error(tmp_path):
    p = _write("csv_utf8", tmp_path)
    # in Python the advice names the parameter (on the command line: --columns, see
    # test_input_crs.py)
    with pytest.raises(InputError, match=r"c\.csv: column\(s\) \['小区'\] given in columns= "
                                         r"are not in the file"):
        io.read_communities(p, coord_crs="wgs84", columns={"小区": "name"})


# --- coordinate systems -------------------------------------------------------------------

HARBIN = [(126.534, 45.803), (126.650, 45.760), (126.700, 45.700), (127.000, 46.000),
          (124.950, 46.590), (131.160, 46.650)]


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_chinese_map_coordinates_land_within_1m(crs, tmp_path):
    lon = np.array([x for x, _ in HARBIN])
    lat = np.array([y for _, y in HARBIN])
    slon, slat = coords.from_wgs84(lon, lat, crs)
    p = tmp_path / "amap.csv"
    pd.DataFrame({"name": [f"社区卫生服务站{i}" for i in range(len(lon))],
                  "lon": slon, "lat": slat}).to_csv(p, index=False, float_format="%.10f")
    out = io.read_facilities(p, coord_crs=crs)
    assert out["source_crs"].unique().tolist() == [crs]
    assert out["source"].unique().tolist() == ["amap.csv"]
    _, _, before = GEOD.inv(lon, lat, slon, slat)
    assert before.min() > 100  # the shift is real
    _, _, err = GEOD.inv(lon, lat, out.geometry.x.to_numpy(), out.geometry.y.to_numpy())
    assert err.max() < 1.0


@pytest.mark.parametrize("crs", ["GCJ02", "BD09"])
def test_map_csv_against_published_reference_pairs(crs, tmp_path):
    ref = pd.read_csv(REFERENCE, comment="#")
    rows = ref[(ref.from_crs == "WGS84") & (ref.to_crs == crs)]
    assert len(rows) >= 2
    p = tmp_path / f"{crs}.csv"
    pd.DataFrame({"名称": ["幼儿园"] * len(rows), "经度": rows.to_lon, "纬度": rows.to_lat}).to_csv(
        p, index=False, float_format="%.14f")
    out = io.read_facilities(p, coord_crs=crs.lower())
    _, _, err = GEOD.inv(rows.from_lon.to_numpy(), rows.from_lat.to_numpy(),
                         out.geometry.x.to_numpy(), out.geometry.y.to_numpy())
    assert err.max() < 1.0


def test_table_without_coord_crs_is_an_error(tmp_path):
    p = _write("csv_utf8", tmp_path)
    with pytest.raises(InputError, match=r"c\.csv: .*pass coord_crs='wgs84', 'gcj02'.*"
                                         r"crs_column="):
        io.read_facilities(p)
    from livingcircle.inputs import on_command_line

    with on_command_line(), pytest.raises(InputError, match=r"give --crs .*c\.csv=wgs84, "
                                                            r"=gcj02 .*--crs-column"):
        io.read_facilities(p)


def test_unknown_coord_crs_is_an_error(tmp_path):
    p = _write("csv_utf8", tmp_path)
    with pytest.raises(CoordinateError, match="unknown coordinate system 'mercator'"):
        io.read_communities(p, coord_crs="mercator")


def test_vector_without_crs_is_an_error(tmp_path):
    p = tmp_path / "nocrs.shp"
    pyogrio.write_dataframe(_polygons().set_crs(None, allow_override=True), p, encoding="UTF-8")
    assert not p.with_suffix(".prj").exists()
    with pytest.raises(CoordinateError, match=r"nocrs\.shp: the layer has no coordinate "
                                              r"reference system.*Set CRS"):
        io.read_communities(p)


def test_projected_input_is_converted_to_4326(tmp_path):
    p = tmp_path / "cgcs.gpkg"
    _polygons().to_crs(4528).to_file(p)  # CGCS2000 3-degree Gauss-Kruger zone 42 (126°E)
    out = io.read_communities(p)
    assert out.crs.to_epsg() == 4326
    np.testing.assert_allclose(out.geometry.centroid.x, LON, atol=1e-6)
    np.testing.assert_allclose(out.geometry.centroid.y, LAT, atol=1e-6)


def test_wrong_crs_with_metres_in_degrees_is_an_error(tmp_path):
    p = tmp_path / "wrong.gpkg"
    _polygons().to_crs(4528).set_crs(4326, allow_override=True).to_file(p)
    with pytest.raises(CoordinateError, match=r"wrong\.gpkg: no feature has coordinates in "
                                              r"degrees.*probably wrong"):
        io.read_communities(p)


def test_swapped_lonlat_repaired_and_recorded(tmp_path):
    df = _points_frame()
    df.loc[1, ["经度", "纬度"]] = [LAT[1], LON[1]]
    p = tmp_path / "swap.csv"
    df.to_csv(p, index=False)
    diag = Diagnostics()
    with pytest.warns(UserWarning, match=r"swap\.csv: 1 row\(s\) had longitude and latitude "
                                         r"exchanged \(rows 2\)") as caught:
        out = io.read_communities(p, coord_crs="wgs84", diagnostics=diag)
    # the warning points at the caller's line, not inside livingcircle
    assert [w.filename for w in caught if "swap.csv" in str(w.message)] == [__file__]
    np.testing.assert_allclose(out.geometry.x, LON)
    np.testing.assert_allclose(out.geometry.y, LAT)
    rec = diag.to_frame()
    assert rec[["issue", "action", "row"]].values.tolist() == [["swapped_lonlat", "repaired", 2]]


def test_swapped_axes_in_vector_file(tmp_path):
    g = _polygons()
    from shapely import transform

    g.loc[0, "geometry"] = transform(g.geometry.iloc[0], lambda c: c[:, ::-1])
    p = tmp_path / "swap.geojson"
    g.to_file(p)
    diag = Diagnostics()
    out = io.read_communities(p, diagnostics=diag)
    assert out.geometry.iloc[0].centroid.x == pytest.approx(LON[0])
    assert diag.records[0]["issue"] == "swapped_lonlat" and diag.records[0]["row"] == 1


def test_missing_lonlat_rows_dropped_with_row_number(tmp_path):
    df = _points_frame()
    df = df.astype({"经度": object, "纬度": object})
    df.loc[2, "经度"] = None
    df.loc[0, "纬度"] = "北纬45度"
    p = tmp_path / "gaps.csv"
    df.to_csv(p, index=False)
    diag = Diagnostics()
    out = io.read_communities(p, coord_crs="wgs84", diagnostics=diag)
    assert out["community_id"].tolist() == ["C2"]
    rec = diag.to_frame().sort_values("row")
    assert rec[["row", "issue", "action"]].values.tolist() == [
        [1, "bad_coordinates", "dropped"], [3, "missing_coordinates", "dropped"]]


def test_all_rows_unusable_is_an_error(tmp_path):
    p = tmp_path / "nocoords.csv"
    pd.DataFrame({"名称": ["甲", "乙"], "lon": [None, None], "lat": [None, None]}).to_csv(
        p, index=False)
    with pytest.raises(InputError, match=r"nocoords\.csv: none of the 2 rows is usable "
                                         r"\(2 no coordinates \(rows 1, 2\)\)"):
        io.read_communities(p, coord_crs="wgs84")


def test_no_lonlat_columns_is_an_error(tmp_path):
    p = tmp_path / "nolon.csv"
    pd.DataFrame({"名称": ["甲"], "东": [126.6], "北": [45.7]}).to_csv(p, index=False)
    with pytest.raises(InputError, match=r"nolon\.csv: no longitude column found.*lon_col="):
        io.read_communities(p, coord_crs="wgs84")
    out = io.read_communities(p, coord_crs="wgs84", lon_col="东", lat_col="北")
    assert (out.geometry.x.iloc[0], out.geometry.y.iloc[0]) == (126.6, 45.7)


# --- study area ---------------------------------------------------------------------------

BOUNDARY = gpd.GeoDataFrame(geometry=[box(126.55, 45.70, 126.70, 45.80)], crs=4326)


def test_far_outside_points_dropped_and_recorded(tmp_path):
    df = _points_frame()
    df.loc[2, ["经度", "纬度"]] = [116.40, 39.91]  # Beijing, ~1000 km away
    p = tmp_path / "far.csv"
    df.to_csv(p, index=False)
    diag = Diagnostics()  # points that serve the area (sites; facilities, gates alike)
    out = io.read_sites(p, coord_crs="wgs84", boundary=BOUNDARY, diagnostics=diag,
                        id_column="编号")
    assert out["site_id"].tolist() == ["C1", "C2"]
    # the sites reader does not use build_year: listed once as an unused column
    assert [r["issue"] for r in diag.records] == ["far_outside", "unused_columns"]
    rec = diag.records[0]
    assert (rec["issue"], rec["action"], rec["row"], rec["feature_id"]) == (
        "far_outside", "dropped", 3, "C3")
    km = float(rec["detail"].split(" km")[0])
    # the rule measures in the boundary's UTM zone (52N), to 0.1 km: pyproj directly gives
    # 1054.476 km (the geodesic to the nearest corner is 1048.9 km: UTM stretches that far out)
    from pyproj import Transformer
    from shapely import transform

    to_utm = Transformer.from_crs(4326, 32652, always_xy=True)
    box_m = transform(BOUNDARY.geometry.iloc[0], lambda c: np.column_stack(
        to_utm.transform(c[:, 0], c[:, 1])))
    ref = box_m.distance(Point(to_utm.transform(116.40, 39.91))) / 1000
    assert ref == pytest.approx(1054.476, abs=1e-3)
    assert km == round(ref, 1)


def test_point_within_limit_is_kept(tmp_path):
    df = _points_frame().iloc[:1].copy()
    df.loc[0, ["经度", "纬度"]] = [126.70 + 0.05, 45.75]  # ~3.9 km east of the boundary
    p = tmp_path / "near.csv"
    df.to_csv(p, index=False)
    assert settings.far_outside_km == 5.0
    out = io.read_sites(p, coord_crs="wgs84", boundary=BOUNDARY)
    assert len(out) == 1


def test_all_far_outside_is_an_error_with_a_hint(tmp_path):
    p = _write("csv_utf8", tmp_path)
    far = gpd.GeoDataFrame(geometry=[box(116.3, 39.8, 116.5, 40.0)], crs=4326)
    with pytest.raises(CoordinateError, match=r"c\.csv: all 3 features lie more than 5 km "
                                              r"from the study boundary.*coord_crs"):
        io.read_sites(p, coord_crs="wgs84", boundary=far)


def test_read_boundary_dissolves(tmp_path):
    p = tmp_path / "b.gpkg"
    gpd.GeoDataFrame({"街道": ["甲", "乙"]},
                     geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs=4326).to_file(p)
    b = io.read_boundary(p)
    assert len(b) == 1
    assert b.crs.to_epsg() == 4326
    assert b.geometry.iloc[0].area == pytest.approx(2.0)
    assert b.geometry.iloc[0].geom_type == "Polygon"
    assert b["n_parts"].iloc[0] == 2


def test_boundary_must_be_polygons_in_a_gis_file(tmp_path):
    p = tmp_path / "b.csv"
    pd.DataFrame({"lon": [1], "lat": [2]}).to_csv(p, index=False)
    with pytest.raises(InputError, match=r"b\.csv: a study boundary must be polygons"):
        io.read_boundary(p)
    q = tmp_path / "pts.geojson"
    gpd.GeoDataFrame(geometry=[Point(1, 2)], crs=4326).to_file(q)
    with pytest.raises(InputError, match=r"pts\.geojson: a study boundary must be Polygon or "
                                         r"MultiPolygon geometries; rows 1 are \['Point'\]"):
        io.read_boundary(q)


# --- layers, ids, geometries --------------------------------------------------------------

def test_empty_layer_is_an_error(tmp_path):
    p = tmp_path / "empty.gpkg"
    _polygons().iloc[:0].to_file(p)
    with pytest.raises(InputError, match=r"empty\.gpkg: the layer is empty"):
        io.read_communities(p)
    q = tmp_path / "empty.csv"
    q.write_text("名称,lon,lat\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"empty\.csv: the layer is empty"):
        io.read_communities(q, coord_crs="wgs84")


def test_several_layers_need_a_choice(tmp_path):
    p = tmp_path / "multi.gpkg"
    _polygons().to_file(p, layer="小区")
    _polygons().to_file(p, layer="other")
    with pytest.raises(InputError, match=r"multi\.gpkg: the file has several layers "
                                         r"\['小区', 'other'\]; name one of them "
                                         r"'communities', or save .*\(Python: layer=\)"):
        io.read_communities(p)
    assert len(io.read_communities(p, layer="小区")) == 3
    _polygons().to_file(p, layer="communities")
    assert len(io.read_communities(p)) == 3  # the layer named after the kind is chosen


def test_duplicate_ids_are_an_error(tmp_path):
    df = _points_frame()
    df["编号"] = ["C1", "C2", "C1"]
    p = tmp_path / "dup.csv"
    df.to_csv(p, index=False)
    with pytest.raises(InputError, match=r"dup\.csv: column 'community_id' has duplicate ids: "
                                         r"'C1' \(rows 1, 3\)"):
        io.read_communities(p, coord_crs="wgs84")


def test_missing_ids_generated_and_recorded(tmp_path):
    df = _points_frame()
    df["编号"] = ["C1", None, "C3"]
    p = tmp_path / "noid.csv"
    df.to_csv(p, index=False)
    diag = Diagnostics()
    out = io.read_communities(p, coord_crs="wgs84", diagnostics=diag)
    assert out["community_id"].tolist() == ["C1", "communities_2", "C3"]
    (rec,) = diag.records
    assert (rec["issue"], rec["action"], rec["row"], rec["feature_id"]) == (
        "missing_id", "repaired", 2, "communities_2")


def test_no_id_column_generates_all(tmp_path):
    p = tmp_path / "x.csv"
    _points_frame().drop(columns="编号").to_csv(p, index=False)
    diag = Diagnostics()
    out = io.read_communities(p, coord_crs="wgs84", diagnostics=diag)
    assert out["community_id"].tolist() == ["communities_1", "communities_2", "communities_3"]
    assert [(r["issue"], r["action"]) for r in diag.records] == [("missing_id", "repaired")]


def test_numeric_ids_become_text(tmp_path):
    df = _points_frame()
    df["编号"] = [101, 102, 103]
    p = tmp_path / "num.xlsx"
    df.to_excel(p, index=False)
    out = io.read_communities(p, coord_crs="wgs84")
    assert out["community_id"].tolist() == ["101", "102", "103"]


def test_invalid_and_empty_geometries(tmp_path):
    g = _polygons()
    bowtie = Polygon([(126.60, 45.75), (126.62, 45.77), (126.62, 45.75), (126.60, 45.77)])
    assert not bowtie.is_valid
    g.loc[1, "geometry"] = bowtie
    g.loc[2, "geometry"] = None
    p = tmp_path / "bad.gpkg"
    g.to_file(p)
    diag = Diagnostics()
    out = io.read_communities(p, diagnostics=diag)
    assert out["community_id"].tolist() == ["C1", "C2"]
    assert out.geometry.is_valid.all()
    # the bow-tie's edges cross at (126.61, 45.76): two triangles of base 0.02 and height
    # 0.01 each, 1e-4 square degrees apiece; make_valid keeps both
    repaired = out.geometry.iloc[1]
    assert repaired.geom_type == "MultiPolygon"
    assert repaired.area == pytest.approx(2e-4, rel=1e-9)
    got = sorted((r["row"], r["issue"], r["action"]) for r in diag.records)
    assert got == [(2, "invalid_geometry", "repaired"), (3, "empty_geometry", "dropped")]


def test_wrong_geometry_type_is_an_error(tmp_path):
    from shapely.geometry import LineString

    g = _polygons()
    g.loc[0, "geometry"] = LineString([(126.6, 45.7), (126.61, 45.71)])
    p = tmp_path / "line.geojson"
    g.to_file(p)
    with pytest.raises(InputError, match=r"line\.geojson: communities must be Polygon or "
                                         r"MultiPolygon or Point geometries; rows 1 are "
                                         r"\['LineString'\]"):
        io.read_communities(p)


# --- community attributes -----------------------------------------------------------------

def _attr_csv(tmp_path, **cols) -> Path:
    df = _points_frame()
    for k, v in cols.items():
        df[k] = v
    p = tmp_path / "attrs.csv"
    df.to_csv(p, index=False)
    return p


def test_attribute_dtypes_and_booleans(tmp_path):
    p = _attr_csv(tmp_path, has_elevator=["是", "否", ""], heritage=["Y", "n", "未知"],
                  owners_committee=["有", "无", "1"], resident_funding=["true", "False", "0"],
                  households=["120户", "", "86"], floors=[6, 7, 5],
                  safety_grade=["a", "C级", "Ｄ"])
    out = io.read_communities(p, coord_crs="wgs84")
    assert out["has_elevator"].tolist() == [True, False, pd.NA]
    assert out["heritage"].tolist() == [True, False, pd.NA]
    assert out["owners_committee"].tolist() == [True, False, True]
    assert out["resident_funding"].tolist() == [True, False, False]
    assert out["households"].dtype == "Int64"
    assert out["households"].tolist() == [120, pd.NA, 86]
    assert out["floors"].tolist() == [6, 7, 5]
    assert out["safety_grade"].tolist() == ["A", "C", "D"]
    assert out["name"].dtype == "string"


def test_bad_boolean_names_file_row_and_column(tmp_path):
    p = _attr_csv(tmp_path, has_elevator=["是", "部分", "否"])
    with pytest.raises(InputError, match=r"attrs\.csv: row 2 \(id C2\), column 'has_elevator': "
                                         r"'部分' is not a yes/no value"):
        io.read_communities(p, coord_crs="wgs84")


def test_bad_number_names_file_row_and_column(tmp_path):
    p = _attr_csv(tmp_path, population=["300", "300.5", "200"])
    with pytest.raises(InputError, match=r"attrs\.csv: row 2 \(id C2\), column 'population': "
                                         r"'300\.5' is not a whole number"):
        io.read_communities(p, coord_crs="wgs84")
    p = _attr_csv(tmp_path, population=["300", "约三百", "200"])  # text: unknown, recorded
    diag = Diagnostics()
    assert io.read_communities(p, coord_crs="wgs84", diagnostics=diag)["population"].tolist() \
        == [300, pd.NA, 200]
    assert [(d["row"], d["feature_id"], d["issue"]) for d in diag.records] == [
        (2, "C2", "value_unknown")]


def test_bad_safety_grade(tmp_path):
    p = _attr_csv(tmp_path, safety_grade=["A", "B", "E"])
    with pytest.raises(InputError, match=r"attrs\.csv: row 3 \(id C3\), column 'safety_grade': "
                                         r"'E'"):
        io.read_communities(p, coord_crs="wgs84")


def test_build_year_out_of_range(tmp_path):
    p = _attr_csv(tmp_path, build_year=[1985, 1850, 2001])
    with pytest.raises(InputError, match=r"row 2 \(id C2\), column 'build_year': .*1850 is "
                                         r"before 1900"):
        io.read_communities(p, coord_crs="wgs84")


def test_elderly_share_percent_divided_and_recorded(tmp_path):
    p = _attr_csv(tmp_path, elderly_share=[23.5, 0, 31])
    diag = Diagnostics()
    out = io.read_communities(p, coord_crs="wgs84", diagnostics=diag)
    assert out["elderly_share"].dtype == "Float64"
    np.testing.assert_allclose(out["elderly_share"].to_numpy(dtype=float), [0.235, 0.0, 0.31])
    got = [(r["row"], r["issue"], r["action"]) for r in diag.records]
    assert got == [(1, "elderly_share_percent", "repaired"), (3, "elderly_share_percent",
                                                               "repaired")]


def test_elderly_share_fraction_and_percent_sign(tmp_path):
    p = _attr_csv(tmp_path, elderly_share=["0.2", "25%", ""])
    diag = Diagnostics()
    out = io.read_communities(p, coord_crs="wgs84", diagnostics=diag)
    assert out["elderly_share"].tolist() == [0.2, 0.25, pd.NA]
    assert not diag.records


def test_input_frames_are_not_changed(tmp_path):
    p = _write("gpkg", tmp_path)
    boundary = BOUNDARY.copy()
    io.read_communities(p, boundary=boundary)
    assert boundary.equals(BOUNDARY)


# --- gates, facilities, sites -------------------------------------------------------------

def test_gates_unknown_community_reported(tmp_path):
    comms = io.read_communities(_write("gpkg", tmp_path))
    p = tmp_path / "gates.csv"
    pd.DataFrame({"gate_id": ["G1", "G2", "G3"], "community_id": ["C1", "C9", ""],
                  "lon": [126.61, 126.63, 126.65], "lat": [45.76, 45.75, 45.74]}).to_csv(
        p, index=False)
    diag = Diagnostics()
    gates = io.read_gates(p, communities=comms, coord_crs="wgs84", diagnostics=diag)
    assert gates[["gate_id", "community_id"]].values.tolist() == [["G1", "C1"]]
    got = sorted((r["row"], r["issue"], r["feature_id"], r["detail"]) for r in diag.records)
    assert got == [(2, "unknown_community", "G2", "community_id 'C9' is not among the communities"),
                   (3, "missing_community_id", "G3", "the gate names no community")]


def test_gates_need_community_id(tmp_path):
    p = tmp_path / "gates.geojson"
    gpd.GeoDataFrame({"门": ["北门"]}, geometry=[Point(126.6, 45.7)], crs=4326).to_file(p)
    with pytest.raises(InputError, match=r"gates\.geojson: gates need a 'community_id' column"):
        io.read_gates(p)


def test_facilities_classified_polygons_to_points_unclassified_reported(tmp_path):
    g = gpd.GeoDataFrame(
        {"name": ["红旗幼儿园", "花园街社区卫生服务中心", "某某公司"],
         "id": ["F1", "F2", "F3"]},
        geometry=[box(126.60, 45.75, 126.602, 45.752), Point(126.61, 45.76),
                  Point(126.62, 45.77)], crs=4326)
    p = tmp_path / "fac.gpkg"
    g.to_file(p)
    diag = Diagnostics()
    out = io.read_facilities(p, diagnostics=diag)
    assert out["facility_id"].tolist() == ["F1", "F2"]
    assert out["category"].tolist() == ["kindergarten", "community_health_center"]
    assert (out.geom_type == "Point").all()
    assert g.geometry.iloc[0].contains(out.geometry.iloc[0])
    assert out["source_crs"].tolist() == ["wgs84", "wgs84"]
    assert out["source"].tolist() == ["fac.gpkg", "fac.gpkg"]
    (rec,) = diag.records
    assert (rec["row"], rec["issue"], rec["action"], rec["feature_id"]) == (
        3, "unclassified", "dropped", "F3")


def test_facilities_amap_typecode_kept_as_text(tmp_path):
    p = tmp_path / "amap.xlsx"
    pd.DataFrame({"名称": ["某园"], "typecode": ["141204"], "经度": [126.6],
                  "纬度": [45.7]}).to_excel(p, index=False)
    out = io.read_facilities(p, coord_crs="gcj02")
    assert out["category"].tolist() == ["kindergarten"]
    assert out["typecode"].tolist() == ["141204"]


def test_facilities_unknown_given_category(tmp_path):
    p = tmp_path / "f.csv"
    pd.DataFrame({"name": ["甲", "乙"], "category": ["kindergarten", "spaceport"],
                  "lon": [126.6, 126.61], "lat": [45.7, 45.71]}).to_csv(p, index=False)
    diag = Diagnostics()
    out = io.read_facilities(p, coord_crs="wgs84", diagnostics=diag)
    assert out["category"].tolist() == ["kindergarten"]
    (rec,) = diag.records[-1:]
    assert (rec["row"], rec["issue"], rec["action"]) == (2, "unknown_category", "dropped")


def test_sites(tmp_path):
    p = tmp_path / "sites.csv"
    pd.DataFrame({"名称": ["原锅炉房", "空地", "商铺"],
                  "site_type": ["锅炉房", "vacant_lot", "仓库"],
                  "建筑面积(㎡)": ["320", "", "85.5㎡"], "lon": [126.6, 126.61, 126.62],
                  "lat": [45.7, 45.71, 45.72]}).to_csv(p, index=False, encoding="gbk")
    diag = Diagnostics()
    out = io.read_sites(p, coord_crs="wgs84", diagnostics=diag)
    assert out["site_id"].tolist() == ["sites_1", "sites_2", "sites_3"]
    assert out["site_type"].tolist() == ["boiler_room", "vacant_lot", "other"]
    assert out["floor_area_m2"].tolist() == [320.0, pd.NA, 85.5]
    assert ("unknown_site_type", 3) in [(r["issue"], r["row"]) for r in diag.records]


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(InputError, match=r"nothere\.gpkg: file not found"):
        io.read_communities(tmp_path / "nothere.gpkg")
    q = tmp_path / "x.xls"
    q.write_bytes(b"")
    with pytest.raises(InputError, match=r"x\.xls: .*save it as \.xlsx"):
        io.read_communities(q)


def test_gis_file_declared_gcj02(tmp_path):
    lon = np.array([x for x, _ in HARBIN])
    lat = np.array([y for _, y in HARBIN])
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    p = tmp_path / "amap.geojson"
    gpd.GeoDataFrame({"name": ["幼儿园"] * len(lon)}, geometry=gpd.points_from_xy(glon, glat),
                     crs=4326).to_file(p)
    out = io.read_facilities(p, coord_crs="gcj02")
    assert out["source_crs"].unique().tolist() == ["gcj02"]
    _, _, err = GEOD.inv(lon, lat, out.geometry.x.to_numpy(), out.geometry.y.to_numpy())
    assert err.max() < 1.0
    q = tmp_path / "proj.gpkg"
    _polygons().to_crs(4528).to_file(q)
    with pytest.raises(CoordinateError, match=r"proj\.gpkg: coord_crs='gcj02' applies to "
                                              r"longitude/latitude"):
        io.read_communities(q, coord_crs="gcj02")


def test_id_prefix_for_generated_ids(tmp_path):
    p = tmp_path / "f.csv"
    pd.DataFrame({"name": ["幼儿园"], "lon": [126.6], "lat": [45.7]}).to_csv(p, index=False)
    out = io.read_facilities(p, coord_crs="wgs84", id_prefix="amap")
    assert out["facility_id"].tolist() == ["amap_1"]
