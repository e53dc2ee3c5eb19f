"""Hand-worked cases for livingcircle.buildings, each quoting the policy line it checks.

黑政办规〔2021〕15号 二(一) 改造范围: “城市、县城、原农垦、森工系统二级机构所在地，
2000 年底前建成需改造的老旧小区或单栋住宅楼。对 2000 年后建成并被鉴定为安全 C 级住宅楼，
以及无独立厨房、卫生间等非成套住宅楼，可以一并纳入改造范围。”
三(二) 完善类: “……有条件的楼栋加装电梯……”.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point, box

import livingcircle as lc
from livingcircle import InputError
from livingcircle.buildings import (
    ELEVATOR_MIN_FLOORS,
    ELEVATOR_SOURCE,
    GRADE_D_NOTE_ZH,
    SCOPE_RULES,
    building_needs,
    building_scope,
    buildings_layer,
    combine_community_scope,
    community_building_summary,
    read_buildings,
)
from livingcircle.diagnostics import Diagnostics

SAMPLE = Path(__file__).parents[1] / "data" / "sample_district"
NA = pd.NA
ATTRS = ["building_id", "community_id", "community_from", "build_year", "floors",
         "has_elevator", "safety_grade", "complete_units", "households"]


def buildings_frame(rows: list[dict]) -> pd.DataFrame:
    types = {"build_year": "Int64", "floors": "Int64", "households": "Int64",
             "has_elevator": "boolean", "complete_units": "boolean", "safety_grade": "string"}
    df = pd.DataFrame(rows)
    for c, t in types.items():
        df[c] = (df[c] if c in df.columns else pd.Series([NA] * len(df))).astype(t)
    return df


def one(year=NA, grade=NA, complete=NA, floors=NA, elevator=NA, households=NA, bid="B1",
        cid="C1") -> dict:
    return {"building_id": bid, "community_id": cid, "build_year": year, "safety_grade": grade,
            "complete_units": complete, "floors": floors, "has_elevator": elevator,
            "households": households}


@pytest.fixture(scope="module")
def communities():
    return lc.io.read_communities(SAMPLE / "communities.gpkg")


@pytest.fixture(scope="module")
def sample(communities):
    diag = Diagnostics()
    with pytest.warns(lc.LivingCircleWarning, match="1 row set aside"):
        b = read_buildings(SAMPLE / "buildings.gpkg", communities=communities, diagnostics=diag)
    return b, diag


# --- scope: 二(一) -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("year", "grade", "complete", "status", "reasons"),
    [
        # “2000 年底前建成需改造的……单栋住宅楼”: the end of 2000 is in
        (1995, "B", True, "yes", "built_by_2000"),
        (2000, NA, NA, "yes", "built_by_2000"),
        # “对 2000 年后建成并被鉴定为安全 C 级住宅楼……可以一并纳入改造范围”
        (2001, "C", True, "yes", "after_2000_grade_c"),
        # grade C and year unknown: in by one rule or the other
        (NA, "C", True, "yes", "after_2000_grade_c"),
        # “以及无独立厨房、卫生间等非成套住宅楼，可以一并纳入改造范围”
        (2005, "B", False, "yes", "non_complete_units"),
        (1995, "C", False, "yes", "built_by_2000;non_complete_units"),
        # none holds, all known
        (2005, "A", True, "no", "built_after_2000;safety_grade_a;complete_units"),
        # none holds, one unknown that could change it
        (2005, NA, True, "unknown", "unknown_safety_grade"),
        (NA, "B", True, "unknown", "unknown_build_year"),
        (2005, "B", NA, "unknown", "unknown_complete_units"),
        (NA, NA, NA, "unknown", "unknown_build_year;unknown_safety_grade;unknown_complete_units"),
        # grade D (危房): its own code first, never in scope by the build year alone
        (1990, "D", True, "unknown", "grade_d_danger;built_by_2000"),
        (2010, "D", True, "unknown", "grade_d_danger"),
        (1990, "D", False, "unknown", "grade_d_danger;built_by_2000;non_complete_units"),
    ],
)
def test_scope_rules_of_the_policy(year, grade, complete, status, reasons):
    out = building_scope(buildings_frame([one(year, grade, complete)]))
    assert out.loc[0, "in_scope"] == status
    assert out.loc[0, "reasons"] == reasons
    danger = grade is not NA and grade == "D"
    assert bool(out.loc[0, "grade_d"]) == danger
    assert out.loc[0, "note_zh"] == (GRADE_D_NOTE_ZH if danger else "")


def test_each_reason_carries_its_policy_line():
    out = building_scope(buildings_frame([
        one(1995, "B", True, bid="a"), one(2003, "C", True, bid="b"),
        one(2003, "B", False, bid="c"), one(1980, "D", True, bid="d")]))
    assert out["policy"].tolist() == [
        SCOPE_RULES["built_by"].policy, SCOPE_RULES["after_grade_c"].policy,
        SCOPE_RULES["non_complete_units"].policy,
        SCOPE_RULES["grade_d_danger"].policy + "\n" + SCOPE_RULES["built_by"].policy]
    assert "2000 年底前建成需改造的老旧小区或单栋住宅楼" in SCOPE_RULES["built_by"].policy
    assert "2000 年后建成并被鉴定为安全 C 级住宅楼" in SCOPE_RULES["after_grade_c"].policy
    assert "无独立厨房、卫生间等非成套住宅楼" in SCOPE_RULES["non_complete_units"].policy
    assert out.loc[0, "reasons_zh"] == "2000年底前建成（1995年）"
    assert out.loc[3, "reasons_zh"] == "安全鉴定D级（危房）；2000年底前建成（1980年）"
    assert "须经房屋安全鉴定" in out.loc[3, "note_zh"]


def test_year_limit_of_a_city_changes_rule_and_code():
    b = buildings_frame([one(2003, "B", True)])
    assert building_scope(b).loc[0, "in_scope"] == "no"
    out = building_scope(b, year_limit=2005)
    assert (out.loc[0, "in_scope"], out.loc[0, "reasons"]) == ("yes", "built_by_2005")


def test_scope_needs_the_ids():
    with pytest.raises(InputError, match=r"lacks column\(s\) \['community_id'\]"):
        building_scope(pd.DataFrame({"building_id": ["a"]}))


# --- needs: 三(二) 有条件的楼栋加装电梯, 非成套, C 级 ------------------------------------------

@pytest.mark.parametrize(
    ("floors", "elevator", "assessment"),
    [
        (5, False, "need"),     # walk-up of 5 floors without elevator
        (4, False, "need"),     # 4 floors: the threshold is inclusive
        (3, False, None),       # below the threshold
        (7, True, None),        # has an elevator
        (NA, False, "unknown"),  # floors unknown
        (6, NA, "unknown"),     # elevator unknown
        (3, NA, None),          # 3 floors: no need whatever the elevator
        (NA, True, None),       # an elevator: no need whatever the floors
    ],
)
def test_elevator_retrofit(floors, elevator, assessment):
    b = buildings_frame([one(1990, "B", True, floors, elevator)])
    needs = building_needs(b)
    got = needs.loc[needs["item_id"] == "elevator_retrofit", "assessment"].tolist()
    assert got == ([] if assessment is None else [assessment])
    if assessment:
        row = needs[needs["item_id"] == "elevator_retrofit"].iloc[0]
        assert (row["renovation_class"], row["item_zh"]) == ("完善", "有条件的楼栋加装电梯")
        assert row["policy"] == "黑政办规〔2021〕15号 三(二) 完善类：“有条件的楼栋加装电梯”"
        assert row["threshold_status"] == "secondary"


def test_elevator_threshold_is_sourced_and_can_be_changed():
    # 4 floors: read in local rules for adding elevators to existing dwellings (Shenzhen 2018,
    # Lu'an 2024), not in a national or Heilongjiang text: 'secondary'; the profile records it
    import yaml

    assert ELEVATOR_MIN_FLOORS == 4 == ELEVATOR_SOURCE["value"]
    assert ELEVATOR_SOURCE["status"] == "secondary"
    assert "english.sz.gov.cn" in ELEVATOR_SOURCE["source"]
    assert "luan.gov.cn" in ELEVATOR_SOURCE["source"]
    assert "Not found" in ELEVATOR_SOURCE["source"]  # what the search did not find, said
    profile = Path(lc.__file__).parent / "profiles" / "default.yaml"
    rec = yaml.safe_load(profile.read_text(encoding="utf-8"))["elevator_retrofit"]
    assert (rec["min_floors"], rec["status"], rec["source"]) == (
        4, "secondary", [ELEVATOR_SOURCE["source"]])
    b = buildings_frame([one(1990, "B", True, 5, False)])
    needs = building_needs(b, min_floors_elevator=7)
    assert "elevator_retrofit" not in needs["item_id"].tolist()


def test_unit_and_safety_needs_and_only_buildings_in_scope():
    b = buildings_frame([
        one(1990, "C", False, 3, False, bid="old_c_noncomplete"),
        one(1990, NA, NA, 2, False, bid="old_unknowns"),
        one(2005, "A", True, 6, False, bid="out"),
        one(1990, "D", True, 6, False, bid="danger"),
    ])
    needs = building_needs(b)
    got = {(r.building_id, r.item_id): r.assessment for r in needs.itertuples()}
    assert got == {
        ("old_c_noncomplete", "unit_completion"): "need",
        ("old_c_noncomplete", "building_safety"): "need",
        ("old_unknowns", "unit_completion"): "unknown",
        ("old_unknowns", "building_safety"): "unknown",
    }
    assert set(needs["renovation_class"]) == {"基础"}


# --- per community --------------------------------------------------------------------------

def test_community_summary_counts_and_reasons():
    b = buildings_frame([
        one(1985, "B", True, households=40, bid="A1", cid="A"),
        one(2003, "C", True, households=NA, bid="A2", cid="A"),
        one(2010, "A", True, households=30, bid="A3", cid="A"),
        one(NA, NA, NA, households=20, bid="B1", cid="B"),
        one(NA, "B", True, households=20, bid="B2", cid="B"),
        one(1970, "D", True, households=12, bid="C1", cid="C"),
        one(2012, "A", True, households=50, bid="C2", cid="C"),
        one(2012, "A", True, households=50, bid="D1", cid="D"),
    ])
    scope = building_scope(b)
    coms = pd.DataFrame({"community_id": ["A", "B", "C", "D", "E"]})
    out = community_building_summary(b, scope, building_needs(b, scope), communities=coms)
    out = out.set_index("community_id")
    assert out["in_scope"].to_dict() == {"A": "yes", "B": "unknown", "C": "unknown", "D": "no",
                                         "E": "unknown"}
    a = out.loc["A"]
    assert (a["n_buildings"], a["n_buildings_in_scope"], a["n_buildings_out"]) == (3, 2, 1)
    assert (a["households_in_scope"], a["households_in_scope_unknown"]) == (40, 1)
    assert a["buildings_in_scope"] == "A1;A2"
    assert a["reasons"] == "built_by_2000:1;after_2000_grade_c:1"
    assert a["reasons_zh"] == "2000年底前建成 1 栋；2000年后建成、安全鉴定C级 1 栋"
    assert a["n_building_safety"] == 1
    assert out.loc["B", "n_buildings_unknown"] == 2
    assert out.loc["B", "reasons"] == ("unknown_build_year:2;unknown_safety_grade:1;"
                                       "unknown_complete_units:1")
    assert out.loc["C", "reasons"] == "grade_d_danger:1;built_by_2000:1;built_after_2000:1;" \
        "safety_grade_a:1;complete_units:1"
    assert (out.loc["C", "n_grade_d"], out.loc["C", "grade_d_buildings"]) == (1, "C1")
    assert (out.loc["E", "n_buildings"], out.loc["E", "reasons"]) == (0, "no_buildings")


# --- reading the sample district ------------------------------------------------------------

def test_sample_buildings_are_read_and_placed(sample):
    b, diag = sample
    assert len(b) == 625
    assert list(b.columns[:10]) == [*ATTRS[:3], "name", *ATTRS[3:]]
    recs = [(r["row"], r["feature_id"], r["issue"], r["action"]) for r in diag.records]
    assert recs == [(10, "C002-B02", "community_by_location", "repaired"),
                    (626, "S001", "missing_community_id", "dropped")]
    row = b.set_index("building_id").loc["C002-B02"]
    assert (row["community_id"], row["community_from"]) == ("C002", "location")
    assert set(b["community_from"]) == {"file", "location"}
    assert b.crs.to_epsg() == 4326


def test_sample_csv_reads_as_the_geopackage(sample, communities):
    diag = Diagnostics()
    with pytest.warns(lc.LivingCircleWarning):
        c = read_buildings(SAMPLE / "buildings.csv", communities=communities, coord_crs="wgs84",
                           diagnostics=diag)
    pd.testing.assert_frame_equal(c[ATTRS], sample[0][ATTRS])
    issues = diag.summary().set_index("issue")["count"].to_dict()
    # 1998年 and 6层 as a survey table writes them, each recorded
    assert issues == {"community_by_location": 1, "missing_community_id": 1, "value_repaired": 211}


def test_sample_exercises_every_rule(sample):
    scope = building_scope(sample[0])
    assert scope["in_scope"].value_counts().to_dict() == {"yes": 461, "no": 136, "unknown": 28}
    codes = scope["reasons"].str.split(";").explode().value_counts().to_dict()
    assert codes == {"built_by_2000": 454, "built_after_2000": 136, "safety_grade_a": 56,
                     "safety_grade_b": 80, "complete_units": 136, "after_2000_grade_c": 11,
                     "non_complete_units": 24, "unknown_build_year": 8,
                     "unknown_safety_grade": 8, "unknown_complete_units": 8,
                     "grade_d_danger": 4}
    assert scope.loc[scope["grade_d"], "building_id"].tolist() == [
        "C037-B01", "C062-B01", "C067-B01", "C076-B01"]
    needs = building_needs(sample[0], scope)
    assert needs.groupby(["item_id", "assessment"]).size().to_dict() == {
        ("building_safety", "need"): 165, ("building_safety", "unknown"): 8,
        ("elevator_retrofit", "need"): 369, ("elevator_retrofit", "unknown"): 4,
        ("unit_completion", "need"): 23}


def test_sample_community_sum_agrees_with_community_attributes(sample, communities):
    b = sample[0]
    scope = building_scope(b)
    summary = community_building_summary(b, scope, communities=communities)
    by_attr = lc.renovation.renovation_scope(communities)
    both = by_attr.merge(summary, on="community_id", suffixes=("_community", "_buildings"))
    # the buildings carry their community's attributes: the same verdict for every community,
    # except the four whose community-level grade is D (issue 16 §2: 'unknown' with
    # grade_d_danger); their buildings name the one grade D building and put the grade C ones in
    d = both["reasons_community"].str.startswith("grade_d_danger")
    assert both.loc[d, "community_id"].tolist() == ["C037", "C062", "C067", "C076"]
    assert (both.loc[d, "in_scope_community"] == "unknown").all()
    assert (both.loc[d, "in_scope_buildings"] == "yes").all()
    assert (both.loc[d, "n_grade_d"] == 1).all()
    # and the two whose location decides (二(一)): a building knows no location, the community
    # in a 建制镇 (C027) is out, the one with an empty location_type (C061) unknown
    loc = both["reasons_community"].str.contains("location")
    assert both.loc[loc, ["community_id", "in_scope_community"]].values.tolist() == [
        ["C027", "no"], ["C061", "unknown"]]
    assert (both.loc[loc, "in_scope_buildings"] == "yes").all()
    same = ~d & ~loc
    assert (both.loc[same, "in_scope_community"] == both.loc[same, "in_scope_buildings"]).all()
    assert summary["in_scope"].value_counts().to_dict() == {"yes": 62, "no": 15, "unknown": 3}
    combined = combine_community_scope(by_attr, summary, communities=communities)
    assert combined["in_scope"].value_counts().to_dict() == {"yes": 60, "no": 16, "unknown": 4}
    # C001 (2002, grade unknown): every building unknown, so the community stays unknown
    c001 = summary.set_index("community_id").loc["C001"]
    assert (c001["in_scope"], c001["n_buildings_unknown"], c001["n_buildings"]) == (
        "unknown", 8, 8)
    # households in scope add up to the community's where all are known
    c003 = summary.set_index("community_id").loc["C003"]
    assert c003["households_in_scope"] == 786 == int(
        communities.set_index("community_id").loc["C003", "households"])


# --- reading: other formats and bad input ---------------------------------------------------

def test_shapefile_written_by_gdal_reads_as_the_geopackage(sample, communities, tmp_path):
    shp = tmp_path / "buildings.shp"
    pyogrio.write_dataframe(pyogrio.read_dataframe(SAMPLE / "buildings.gpkg"), shp,
                            encoding="UTF-8")
    assert {"building_i", "community_", "safety_gra", "has_elevat", "complete_u"} <= set(
        pyogrio.read_info(shp)["fields"])
    with pytest.warns(lc.LivingCircleWarning):
        b = read_buildings(shp, communities=communities)
    pd.testing.assert_frame_equal(b[ATTRS], sample[0][ATTRS])


def _square(x, y, d=0.002):
    return box(x, y, x + d, y + d)


@pytest.fixture
def two_communities():
    return gpd.GeoDataFrame({"community_id": ["K1", "K2"]},
                            geometry=[_square(126.60, 45.70), _square(126.61, 45.70)], crs=4326)


def test_bad_cells_become_unknown_and_are_recorded(tmp_path, two_communities):
    csv = tmp_path / "楼栋.csv"
    csv.write_text(
        "楼号,小区编号,建成年代,层数,电梯,鉴定等级,独立厨卫,户数,经度,纬度,备注\n"
        "1,K1,1990,6,无,E级,是,36,126.601,45.701,\n"            # grade E: not a grade
        "2,,1990,六层半,maybe,B,否,24,126.611,45.701,\n"        # no id; two bad cells
        "3,,1990,5,无,B,是,30,126.620,45.701,\n"                # no id, in no community
        "4,K9,1990,5,无,B,是,30,126.601,45.7015,拆迁\n",        # a community not in the layer
        encoding="utf-8")
    diag = Diagnostics()
    with pytest.warns(lc.LivingCircleWarning, match="2 rows set aside"):
        b = read_buildings(csv, communities=two_communities, coord_crs="wgs84",
                           diagnostics=diag)
    assert b["building_id"].tolist() == ["1", "2"]
    assert b["community_id"].tolist() == ["K1", "K2"]
    assert b["safety_grade"].isna().tolist() == [True, False]
    assert b["has_elevator"].isna().tolist() == [False, True]
    recs = [(r["layer"], r["row"], r["feature_id"], r["issue"], r["action"])
            for r in diag.records]
    assert recs == [
        ("buildings", 2, "2", "value_unknown", "repaired"),        # 六层半: not a number
        ("buildings", 2, "2", "value_invalid", "repaired"),        # maybe
        ("buildings", 1, "1", "value_invalid", "repaired"),        # E级
        ("buildings", 2, "2", "community_by_location", "repaired"),
        ("buildings", 3, "3", "missing_community_id", "dropped"),
        ("buildings", 4, "4", "unknown_community", "dropped"),
        ("buildings", None, None, "unused_columns", "kept"),
    ]
    assert b["备注"].isna().all()  # kept as it is
    grade = next(r for r in diag.records if r["row"] == 1)
    assert grade["detail"].startswith("safety_grade 'E级': not a safety grade A, B, C or D")
    assert grade["source"] == str(csv)


def test_without_communities_a_building_without_id_is_set_aside(tmp_path):
    gdf = gpd.GeoDataFrame({"building_id": ["a", "b"], "community_id": ["K1", None]},
                           geometry=[Point(126.6, 45.7), Point(126.61, 45.7)], crs=4326)
    path = tmp_path / "b.geojson"
    gdf.to_file(path)
    diag = Diagnostics()
    with pytest.warns(lc.LivingCircleWarning, match="1 row set aside"):
        b = read_buildings(path, diagnostics=diag)
    assert b["building_id"].tolist() == ["a"]
    assert diag.records[-1]["detail"].startswith(
        "no community_id and no communities layer to place it by location")
    # every attribute missing: unknown, with its dtype
    assert b[["build_year", "floors", "has_elevator", "safety_grade", "complete_units",
              "households"]].isna().all().all()
    assert str(b["build_year"].dtype) == "Int64" and str(b["has_elevator"].dtype) == "boolean"


def test_a_table_must_state_its_coordinate_system(tmp_path):
    csv = tmp_path / "b.csv"
    csv.write_text("楼栋编号,小区编号,lon,lat\nB1,K1,126.6,45.7\n", encoding="utf-8")
    with pytest.raises(InputError, match="must state the coordinate system"):
        read_buildings(csv)


def test_lines_are_not_buildings(tmp_path):
    from shapely.geometry import LineString

    path = tmp_path / "lines.gpkg"
    gpd.GeoDataFrame({"building_id": ["a"], "community_id": ["K1"]},
                     geometry=[LineString([(126.6, 45.7), (126.61, 45.7)])],
                     crs=4326).to_file(path)
    with pytest.raises(InputError, match="buildings must be Point or Polygon or MultiPolygon"):
        read_buildings(path)


def test_output_layer_joins_scope_and_needs(sample):
    b = sample[0]
    scope = building_scope(b)
    layer = buildings_layer(b, scope, building_needs(b, scope))
    assert len(layer) == len(b) and layer.crs == b.crs
    assert list(layer.columns[-11:]) == ["in_scope", "reasons", "reasons_zh", "policy",
                                         "grade_d", "note_zh", "needs", "needs_zh",
                                         "needs_unknown", "src_row", "geometry"]
    row = layer.set_index("building_id").loc["C003-B01"]  # 1985, grade C, 6 floors, no lift
    assert (row["in_scope"], row["needs"]) == ("yes", "elevator_retrofit;building_safety")
    assert row["needs_zh"] == "有条件的楼栋加装电梯；房屋安全隐患整治（安全鉴定C级）"
    d = layer.set_index("building_id").loc["C037-B01"]
    assert (d["in_scope"], d["needs"], bool(d["grade_d"])) == ("unknown", "", True)
    with pytest.raises(InputError, match="scope has no row for buildings"):
        buildings_layer(b, scope.iloc[1:], building_needs(b, scope))


def test_excel_survey_table_reads_as_the_csv(sample, communities, tmp_path):
    table = pd.read_csv(SAMPLE / "buildings.csv", dtype=str, encoding="utf-8-sig")
    xlsx = tmp_path / "楼栋调查.xlsx"
    table.to_excel(xlsx, index=False, sheet_name="楼栋")
    with pytest.warns(lc.LivingCircleWarning):
        b = read_buildings(xlsx, communities=communities, coord_crs="wgs84")
    pd.testing.assert_frame_equal(b[ATTRS], sample[0][ATTRS])


def test_communities_without_buildings_keep_their_attribute_scope():
    coms = pd.DataFrame({"community_id": ["A", "B"], "build_year": [1990, 1995]})
    coms["build_year"] = coms["build_year"].astype("Int64")
    by_attr = lc.renovation.renovation_scope(coms)
    b = buildings_frame([one(2010, "A", True, bid="A1", cid="A")])  # A's one building is new
    summary = community_building_summary(b, building_scope(b), communities=coms)
    out = combine_community_scope(by_attr, summary)
    assert out[["community_id", "in_scope", "reasons", "scope_from"]].values.tolist() == [
        ["A", "no", "built_after_2000:1;safety_grade_a:1;complete_units:1", "buildings"],
        ["B", "yes", "built_before_2001", "community"]]


def test_the_community_location_applies_to_its_buildings_scope():
    # 二(一): “城市、县城、原农垦、森工系统二级机构所在地，2000 年底前建成需改造的老旧小区或单栋
    # 住宅楼” — the location is the community's: a 1985 building of a community in a 建制镇 is out,
    # of one in a 森工 seat in, of one whose location is empty unknown
    coms = pd.DataFrame({"community_id": ["T", "F", "U"], "location_type": ["建制镇", "森工", NA]})
    coms["location_type"] = coms["location_type"].astype("string")
    b = buildings_frame([one(1985, "B", True, bid=f"{c}1", cid=c) for c in "TFU"])
    summary = community_building_summary(b, building_scope(b), communities=coms)
    by_attr = lc.renovation.renovation_scope(coms)
    out = combine_community_scope(by_attr, summary, communities=coms)
    assert out[["community_id", "in_scope", "reasons"]].values.tolist() == [
        ["T", "no", "location_not_eligible;built_by_2000:1"],
        ["F", "yes", "built_by_2000:1"],
        ["U", "unknown", "built_by_2000:1;unknown_location_type"]]
    assert out.loc[0, "reasons_zh"].startswith("所在地类型“建制镇”不在政策所列范围")
    # the area's location (--location-type) stands for the empty cell only
    area = combine_community_scope(by_attr, summary, communities=coms, location_type="city")
    assert area["in_scope"].tolist() == ["no", "yes", "yes"]
    # without the communities the buildings decide alone (the rule is not applied)
    assert combine_community_scope(by_attr, summary)["in_scope"].tolist() == ["yes"] * 3


# --- coordinates: a wrongly stated system, buildings far outside (task item 4) ---------------

def _survey_in(tmp_path, system: str, *, move=None) -> Path:
    """The sample's buildings.csv with its WGS84 lon/lat written in ``system`` (or moved)."""
    from livingcircle.coords import from_wgs84

    table = pd.read_csv(SAMPLE / "buildings.csv", dtype=str, encoding="utf-8-sig")
    x, y = from_wgs84(table["经度"].astype(float).to_numpy(),
                      table["纬度"].astype(float).to_numpy(), system)
    x = np.array(x, dtype=float)
    if move is not None:
        rows, dlon = move
        x[rows] += dlon
    out = tmp_path / f"楼栋_{system}.csv"
    table.assign(经度=x.round(7), 纬度=y.round(7)).to_csv(out, index=False, encoding="utf-8-sig")
    return out


def test_buildings_in_a_wrongly_stated_system_are_detected(tmp_path, communities):
    # an AMap (GCJ-02) survey export read as WGS84: every building moves ~450 m, into another
    # block, as far from the streets as before (benchmarks/bench_buildings_crs.py: 19.3 m either
    # way), but a median 420.4 m from its own community instead of 0 m
    f = _survey_in(tmp_path, "gcj02")
    with pytest.warns(lc.LivingCircleWarning) as caught:
        b = read_buildings(f, communities=communities, coord_crs="wgs84")
    check = b.attrs["input"]["community_check"]
    assert check["verdict"] == "fits gcj02 better" and check["n_points"] == 624
    assert check["median_m"]["wgs84"] == pytest.approx(420.4, abs=0.1)
    assert check["median_m"]["gcj02"] == pytest.approx(0.0, abs=0.1)
    msg = next(str(w.message) for w in caught if "own community" in str(w.message))
    assert msg.startswith(f"{f}: its buildings lie a median 420.4 m from their own community "
                          "as read (wgs84), but 0.0 m if its coordinates were gcj02")
    assert "crs='gcj02'" in msg
    with pytest.raises(lc.CoordinateError, match="probably wrong"):
        read_buildings(f, communities=communities, coord_crs="wgs84", strict=True)
    # stated right: nothing to say, the buildings stand in their communities
    with pytest.warns(lc.LivingCircleWarning) as caught:  # (the one set-aside row, S001)
        b = read_buildings(f, communities=communities, coord_crs="gcj02")
    assert b.attrs["input"]["community_check"]["verdict"] == "fits"
    assert b.attrs["input"]["community_check"]["median_m"]["gcj02"] == pytest.approx(0, abs=0.1)
    assert not [w for w in caught if "own community" in str(w.message)]


def test_buildings_far_outside_the_study_area_are_set_aside_with_the_distance(tmp_path,
                                                                             communities):
    # rows 3 and 4 of the table moved 1° east (about 78 km at 45.75° N): set aside as far_outside
    # with their distance from the boundary; the limit is settings.far_outside_km (5 km)
    boundary = lc.io.read_boundary(SAMPLE / "boundary.geojson")
    f = _survey_in(tmp_path, "wgs84", move=([2, 3], 1.0))
    diag = Diagnostics()
    with pytest.warns(lc.LivingCircleWarning):
        b = read_buildings(f, communities=communities, coord_crs="wgs84", boundary=boundary,
                           diagnostics=diag)
    far = [r for r in diag.records if r["issue"] == "far_outside"]
    assert [(r["layer"], r["row"], r["action"]) for r in far] == [
        ("buildings", 3, "dropped"), ("buildings", 4, "dropped")]
    assert all(r["detail"].endswith("km from the study boundary (limit 5 km)") for r in far)
    # 1° of longitude at 45.75° N is 111.32 km × cos 45.75° = 77.7 km, less at most the
    # district's 3 km between the building and the boundary's east edge
    km = [float(r["detail"].split(" km")[0]) for r in far]
    assert all(77.7 - 3.0 <= k <= 77.7 for k in km)
    assert len(b) == 626 - 1 - 2  # S001 stands in no community; the two far ones
    # every building that far: the coordinates are wrong, not the buildings
    with pytest.raises(lc.CoordinateError, match="all 626 features lie more than 5 km"):
        read_buildings(_survey_in(tmp_path, "wgs84", move=(slice(None), 1.0)),
                       communities=communities, coord_crs="wgs84", boundary=boundary)
