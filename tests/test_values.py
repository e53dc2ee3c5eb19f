"""Cell values as municipal tables write them: build years, counts with units, categories."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import pytest

from livingcircle import io
from livingcircle._errors import InputError
from livingcircle.diagnostics import Diagnostics

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

THIS_YEAR = dt.date.today().year


def _table(tmp_path, column: str, cells: list, *, suffix: str = "csv"):
    """Three communities C1..C3 with ``column`` set to ``cells``, written as a real CSV/xlsx."""
    df = pd.DataFrame({"小区编号": ["C1", "C2", "C3"], "小区名称": ["甲", "乙", "丙"],
                       column: cells, "经度": [126.61, 126.62, 126.63],
                       "纬度": [45.75, 45.76, 45.77]})
    path = tmp_path / f"小区.{suffix}"
    if suffix == "csv":
        df.to_csv(path, index=False, encoding="utf-8-sig")
    else:
        df.to_excel(path, index=False)
    return path


@pytest.mark.parametrize(
    ("cell", "year", "issue", "reason"),
    [
        ("1998", 1998, None, None),
        ("1998.0", 1998, None, None),
        (" 1998 ", 1998, None, None),
        ("１９９８", 1998, None, None),
        ("1998年", 1998, "value_repaired", "a year written with 年; read as 1998"),
        ("１９９８年", 1998, "value_repaired", "a year written with 年; read as 1998"),
        ("1998年5月", 1998, "value_repaired", "a date; its year is used; read as 1998"),
        ("1998-05", 1998, "value_repaired", "a date; its year is used; read as 1998"),
        ("1998/5/1", 1998, "value_repaired", "a date; its year is used; read as 1998"),
        ("1998.05", 1998, "value_repaired", "a date; its year is used; read as 1998"),
        ("90年代", None, "value_unknown", "a decade, not a year; left unknown"),
        ("1980s", None, "value_unknown", "a decade, not a year; left unknown"),
        ("八十年代", None, "value_unknown", "a decade, not a year; left unknown"),
        ("约1985", None, "value_unknown", "an approximate year; left unknown"),
        ("1985左右", None, "value_unknown", "an approximate year; left unknown"),
        ("1985-1990", None, "value_unknown", "a range of years; left unknown"),
        ("不详", None, "value_unknown", "says the year is unknown; left unknown"),
        ("98", None, "value_unknown", "not a four-digit year; left unknown"),
        ("", None, None, None),  # an empty cell is the ordinary "unknown": no record
    ],
)
def test_build_year_forms(cell, year, issue, reason, tmp_path):
    path = _table(tmp_path, "建成年代", ["1990", cell, "2000"])
    diag = Diagnostics()
    out = io.read_communities(path, coord_crs="wgs84", diagnostics=diag)
    assert out["build_year"].tolist() == [1990, pd.NA if year is None else year, 2000]
    got = [(d["source"], d["row"], d["feature_id"], d["issue"], d["action"], d["detail"])
           for d in diag.records]
    if issue is None:
        assert got == []
    else:
        assert got == [(str(path), 2, "C2", issue, "repaired",
                        f"build_year {cell!r}: {reason}")]


def test_build_year_excel_date_cell(tmp_path):
    path = _table(tmp_path, "建成时间", [1990, dt.datetime(1998, 5, 1), 2000], suffix="xlsx")
    diag = Diagnostics()
    out = io.read_communities(path, coord_crs="wgs84", diagnostics=diag)
    assert out["build_year"].tolist() == [1990, 1998, 2000]
    assert [(d["row"], d["feature_id"], d["issue"]) for d in diag.records] == [
        (2, "C2", "value_repaired")]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (str(THIS_YEAR + 1), rf"{THIS_YEAR + 1} is after this year \({THIS_YEAR}\)"),
        (f"{THIS_YEAR + 3}年", rf"{THIS_YEAR + 3} is after this year \({THIS_YEAR}\)"),
        ("1850", r"1850 is before 1900"),
    ],
)
def test_implausible_build_year_is_an_error_naming_the_row(cell, message, tmp_path):
    path = _table(tmp_path, "build_year", ["1990", "1991", cell])
    with pytest.raises(InputError, match=r"小区\.csv: row 3 \(id C3\), column 'build_year': "
                                         rf".*{message}; correct it, or leave the cell empty"):
        io.read_communities(path, coord_crs="wgs84")


def test_a_value_error_names_the_header_the_file_writes(tmp_path):
    """A planner's table has no column 'build_year': the error names 建成年代 (and what it is
    read as), the same for a Shapefile field GDAL cut to 10 characters (safety_gra)."""
    path = _table(tmp_path, "建成年代", ["1990", "1991", str(THIS_YEAR + 1)])
    with pytest.raises(InputError, match=r"小区\.csv: row 3 \(id C3\), column '建成年代' \(read "
                                         r"as build_year\): .* is after this year"):
        io.read_communities(path, coord_crs="wgs84")
    gdf = gpd.GeoDataFrame(
        {"community_id": ["C1", "C2", "C3"], "safety_grade": ["A", "E", "C"]},
        geometry=gpd.points_from_xy([126.61, 126.62, 126.63], [45.75, 45.76, 45.77]), crs=4326)
    shp = tmp_path / "communities.shp"
    with pytest.warns(RuntimeWarning, match="Normalized/laundered field name"):
        gdf.to_file(shp)  # GDAL cuts the names to community_ and safety_gra
    assert list(gpd.read_file(shp).columns) == ["community_", "safety_gra", "geometry"]
    with pytest.raises(InputError, match=r"communities\.shp: row 2 \(id C2\), column "
                                         r"'safety_gra' \(read as safety_grade\): 'E'"):
        io.read_communities(shp)


@pytest.mark.parametrize(
    ("column", "cell", "value", "issue", "detail"),
    [
        ("楼层", "6层", 6, "value_repaired", "floors '6层': unit '层' removed; read as 6"),
        ("层数", "６ 层", 6, "value_repaired", "floors '６ 层': unit '层' removed; read as 6"),
        ("户数", "120户", 120, "value_repaired",
         "households '120户': unit '户' removed; read as 120"),
        ("人口", "1,350人", 1350, "value_repaired",
         "population '1,350人': unit '人' removed; read as 1350"),
        ("楼层", "多层", None, "value_unknown", "floors '多层': not a number; left unknown"),
        ("户数", "不详", None, "value_unknown", "households '不详': not a number; left unknown"),
        ("户数", "120", 120, None, None),
    ],
)
def test_counts_with_units(column, cell, value, issue, detail, tmp_path):
    path = _table(tmp_path, column, ["80", cell, "90"])
    diag = Diagnostics()
    out = io.read_communities(path, coord_crs="wgs84", diagnostics=diag)
    col = {"楼层": "floors", "层数": "floors", "户数": "households", "人口": "population"}[column]
    assert out[col].tolist() == [80, pd.NA if value is None else value, 90]
    got = [(d["row"], d["feature_id"], d["issue"], d["detail"]) for d in diag.records]
    assert got == ([] if issue is None else [(2, "C2", issue, detail)])


# --- categories -----------------------------------------------------------------------------

def _facilities_csv(tmp_path, categories: list, *, lon=None):
    n = len(categories)
    df = pd.DataFrame({"id": [f"F{i + 1}" for i in range(n)],
                       "名称": [f"设施{i}" for i in range(n)], "类别": categories,
                       "lon": lon if lon is not None else [126.61 + i * 0.001 for i in range(n)],
                       "lat": [45.75] * n})
    path = tmp_path / "facilities.csv"
    df.to_csv(path, index=False, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("kindergarten", "kindergarten"),
        ("Kindergarten", "kindergarten"),
        ("  KINDERGARTEN ", "kindergarten"),
        ("ｋｉｎｄｅｒｇａｒｔｅｎ", "kindergarten"),  # full-width
        ("public green park", "public_green_park"),
        ("Public-Green_Park", "public_green_park"),
        ("幼儿园", "kindergarten"),
        (" 幼 儿 园 ", "kindergarten"),
        ("托育机构", "nursery_childcare"),  # one part of 托儿所/托育机构
        ("社区卫生服务中心", "community_health_center"),  # without its bracketed note
        ("Bus stop；幼儿园", "bus_stop;kindergarten"),  # full-width separator, two categories
        ("bus_stop、primary_school", "bus_stop;primary_school"),
    ],
)
def test_category_names_are_normalised(cell, expected, tmp_path):
    diag = Diagnostics()
    out = io.read_facilities(_facilities_csv(tmp_path, [cell]), coord_crs="wgs84",
                             diagnostics=diag)
    assert out["categories"].tolist() == [expected]
    assert out["category"].tolist() == [expected.split(";")[0]]
    assert [d["issue"] for d in diag.records] == []


def test_unknown_category_names_the_text_given(tmp_path):
    diag = Diagnostics()
    out = io.read_facilities(_facilities_csv(tmp_path, ["幼儿园", "Heli  Pad", "幼儿园；Heli Pad"]),
                             coord_crs="wgs84", diagnostics=diag)
    assert out["facility_id"].tolist() == ["F1", "F3"]
    got = [(d["row"], d["feature_id"], d["issue"], d["action"], d["detail"])
           for d in diag.records]
    assert got == [
        (2, "F2", "unknown_category", "dropped",
         "category 'Heli  Pad': 'Heli Pad' is not in profile 'GB 50180-2018 + 完整居住社区建设指南 "
         "(livingcircle default)' (its ids, English or Chinese names)"),
        (3, "F3", "unknown_category", "repaired",
         "category '幼儿园；Heli Pad': ignored unknown categories ['Heli Pad']"),
    ]


def test_rows_set_aside_are_summarised_in_one_line(tmp_path):
    path = _facilities_csv(tmp_path, ["幼儿园", "helipad", "", "bus stop", "heliport", "小学"],
                           lon=[126.61, 126.62, 126.63, None, 126.64, 126.65])
    with pytest.warns(UserWarning) as seen:
        out = io.read_facilities(path, coord_crs="wgs84")
    assert out["facility_id"].tolist() == ["F1", "F6"]
    assert [str(w.message) for w in seen] == [
        f"{path}: 4 rows set aside — 2 unknown category (rows 2, 5), 1 no coordinates (row 4), "
        "1 no category matched (row 3); see the diagnostics layer"]


def test_amap_type_headers_classify(tmp_path):
    # an AMap export's own headers: 类型编码 and 类型 classify rows whose names say nothing
    path = tmp_path / "amap.csv"
    path.write_text("id,名称,类型,类型编码,地址,经度,纬度\n"
                    "A1,家家乐,购物服务;超级市场;超市,060400,某路1号,126.61,45.75\n"
                    "A2,启明星,,141204,某路2号,126.62,45.75\n"
                    "A3,红星,生活服务;美容美发店,,某路3号,126.63,45.75\n", encoding="utf-8")
    diag = Diagnostics()
    out = io.read_facilities(path, coord_crs="gcj02", diagnostics=diag)
    assert out["categories"].tolist() == ["supermarket", "kindergarten", "daily_services"]
    assert [(d["issue"], d["detail"].split(";")[0]) for d in diag.records] == [
        ("unused_columns", "columns kept as they are but not used: '地址'")]
