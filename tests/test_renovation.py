"""Hand-checked cases for livingcircle.renovation (scope, needs, annual plan)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from livingcircle import InputError, load_profile, settings
from livingcircle.gaps import find_gaps
from livingcircle.renovation import (
    PROTECTION_ZH,
    annual_plan,
    plan_table_zh,
    renovation_needs,
    renovation_scope,
)

NA = pd.NA


def communities_frame(rows: list[dict]) -> pd.DataFrame:
    types = {"build_year": "Int64", "households": "Int64", "floors": "Int64",
             "elderly_share": "Float64", "has_elevator": "boolean", "complete_units": "boolean",
             "heritage": "boolean", "owners_committee": "boolean",
             "property_committee": "boolean", "resident_funding": "boolean",
             "safety_grade": "string", "management_mode": "string",
             "property_premises": "boolean", "location_type": "string"}
    df = pd.DataFrame(rows)
    for c, t in types.items():
        if c in df.columns:
            df[c] = df[c].astype(t)
    return df


# --- scope --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("build_year", "grade", "complete", "status", "reasons"),
    [
        (1995, NA, NA, "yes", "built_before_2001"),
        (2000, "A", True, "yes", "built_before_2001"),  # built in 2000 = before the end of 2000
        (2001, "A", True, "no", "built_after_2000;safety_grade_a;complete_units"),
        (2005, "C", True, "yes", "safety_grade_c"),
        (2005, "c级", True, "yes", "safety_grade_c"),
        (2005, "B", False, "yes", "non_complete_units"),
        (NA, NA, NA, "unknown", "unknown_build_year;unknown_safety_grade;unknown_complete_units"),
        (NA, "C", NA, "yes", "safety_grade_c"),
        (NA, NA, False, "yes", "non_complete_units"),
        (2005, NA, True, "unknown", "built_after_2000;complete_units;unknown_safety_grade"),
        (NA, "A", True, "unknown", "safety_grade_a;complete_units;unknown_build_year"),
        (2005, "B", NA, "unknown", "built_after_2000;safety_grade_b;unknown_complete_units"),
        # grade D (危房) is never silently in or out by its build year (issue 16 §2): unknown,
        # its own code first, then the criteria as they stand
        (2005, "D", True, "unknown", "grade_d_danger;built_after_2000;complete_units"),
        (1990, "D", True, "unknown", "grade_d_danger;built_before_2001;complete_units"),
    ],
)
def test_scope_branches(build_year, grade, complete, status, reasons):
    c = communities_frame([{"community_id": "x", "build_year": build_year,
                            "safety_grade": grade, "complete_units": complete}])
    s = renovation_scope(c)
    assert s.loc[0, "in_scope"] == status
    assert s.loc[0, "reasons"] == reasons
    assert s.loc[0, "year_limit"] == 2000


def test_scope_reasons_zh_and_columns_absent():
    # no attribute columns at all: everything unknown
    s = renovation_scope(pd.DataFrame({"community_id": ["a"]}))
    assert s.loc[0, "in_scope"] == "unknown"
    c = communities_frame([{"community_id": "a", "build_year": 1988}])
    assert renovation_scope(c).loc[0, "reasons_zh"] == "2000年底前建成（1988年）"


def test_scope_year_limit_parameter_and_setting(monkeypatch):
    c = communities_frame([{"community_id": "a", "build_year": 2003, "safety_grade": "A",
                            "complete_units": True}])
    assert renovation_scope(c).loc[0, "in_scope"] == "no"
    s = renovation_scope(c, year_limit=2005)
    assert s.loc[0, "in_scope"] == "yes"
    assert s.loc[0, "reasons"] == "built_before_2006"
    monkeypatch.setattr(settings, "renovation_year_limit", 2005)
    assert renovation_scope(c).loc[0, "in_scope"] == "yes"


def test_scope_local_include_exclude():
    c = communities_frame([
        {"community_id": "old", "build_year": 1990},
        {"community_id": "new", "build_year": 2012, "safety_grade": "A",
         "complete_units": True},
    ])
    before = c.copy()
    s = renovation_scope(c, include=["new"], exclude=["old"]).set_index("community_id")
    pd.testing.assert_frame_equal(c, before)
    assert s.loc["old", "in_scope"] == "no"
    assert s.loc["old", "reasons"] == "local_exclude"
    assert s.loc["new", "in_scope"] == "yes"
    assert s.loc["new", "reasons"] == "local_include"
    with pytest.raises(InputError, match="both in include and exclude"):
        renovation_scope(c, include=["old"], exclude=["old"])
    with pytest.warns(UserWarning, match="ghost"):
        renovation_scope(c, include=["ghost"])


def test_scope_bad_values():
    c = communities_frame([{"community_id": "a", "safety_grade": "E"}])
    with pytest.raises(InputError, match="community 'a'.*not a safety grade"):
        renovation_scope(c)
    c = pd.DataFrame({"community_id": ["a", "a"]})
    with pytest.raises(InputError, match="duplicated community_id 'a'"):
        renovation_scope(c)


# --- needs --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def profile():
    return load_profile()


def access_frame(dist: dict, speed=80.0, speed_profile="adult") -> pd.DataFrame:
    rows = []
    for c, cats in dist.items():
        for k, d in cats.items():
            rows.append({"community_id": c, "category": k, "speed_profile": speed_profile,
                         "distance_m": float(d), "time_min": d / speed,
                         "nearest_facility_id": None, "reached": not np.isnan(d),
                         "n_5min": 0, "n_10min": 0, "n_15min": 0})
    return pd.DataFrame(rows)


CATS = ["elderly_day_care", "bus_stop", "culture_activity_station"]


@pytest.fixture
def needs_case(profile):
    communities = communities_frame([
        # old, tall, elderly, no management, heritage
        {"community_id": "n1", "build_year": 1990, "safety_grade": "B", "complete_units": True,
         "floors": 6, "has_elevator": False, "elderly_share": 0.30, "management_mode": "无",
         "owners_committee": False, "property_committee": False, "heritage": True,
         "property_premises": False},
        # newer but grade C and non-complete units; low-rise; managed
        {"community_id": "n2", "build_year": 2010, "safety_grade": "C", "complete_units": False,
         "floors": 3, "has_elevator": NA, "elderly_share": NA, "management_mode": "物业公司",
         "owners_committee": True, "property_committee": NA, "heritage": False,
         "property_premises": True},
        # grade C, everything else unknown
        {"community_id": "n3", "build_year": NA, "safety_grade": "C", "complete_units": NA,
         "floors": NA, "has_elevator": False, "elderly_share": 0.10, "management_mode": NA,
         "owners_committee": NA, "property_committee": NA, "heritage": NA,
         "property_premises": NA},
        # out of scope
        {"community_id": "n4", "build_year": 2015, "safety_grade": "A", "complete_units": True,
         "floors": 18, "has_elevator": False, "elderly_share": 0.5, "management_mode": "无",
         "owners_committee": False, "property_committee": False, "heritage": False,
         "property_premises": False},
    ])
    access = access_frame({
        "n1": {"elderly_day_care": 620, "bus_stop": np.nan, "culture_activity_station": 200},
        "n2": {"elderly_day_care": 100, "bus_stop": np.nan, "culture_activity_station": 800},
        "n3": {"elderly_day_care": 100, "bus_stop": 100, "culture_activity_station": 100},
        "n4": {"elderly_day_care": 900, "bus_stop": 100, "culture_activity_station": 100},
    })
    gaps = find_gaps(access, profile, categories=CATS)
    scope = renovation_scope(communities)
    return communities, gaps, scope


def items_of(needs, cid, assessment="need"):
    sub = needs[(needs["community_id"] == cid) & (needs["assessment"] == assessment)]
    return sub["item_id"].tolist()


def test_needs_triggers(needs_case, profile):
    communities, gaps, scope = needs_case
    assert scope.set_index("community_id")["in_scope"].to_dict() == {
        "n1": "yes", "n2": "yes", "n3": "yes", "n4": "no"}
    before = communities.copy()
    needs = renovation_needs(communities, gaps, scope, profile)
    pd.testing.assert_frame_equal(communities, before)
    assert "n4" not in set(needs["community_id"])  # out of scope: no needs listed
    # n1: 基础 policy defaults, then 完善 (elevator, elderly, property), then 提升 day care;
    # the bus stop is missing but has no renovation category; the culture station is met
    assert items_of(needs, "n1") == [
        "utilities", "facade_insulation", "roof_waterproofing",
        "elevator_retrofit", "barrier_free", "property_management", "elderly_day_care"]
    assert items_of(needs, "n1", "unknown") == []
    n1 = needs[needs["community_id"] == "n1"].set_index("item_id")
    assert n1.loc["utilities", "trigger"] == "policy_default"
    assert n1.loc["utilities", "trigger_attribute"] == "build_year"
    assert n1.loc["utilities", "trigger_detail"] == "build_year=1990 <= 2000"
    assert n1.loc["utilities", "priority_zh"] == "应改尽改"
    assert n1.loc["elevator_retrofit", "renovation_class"] == "完善"
    assert n1.loc["elevator_retrofit", "priority_zh"] == "宜改即改"
    assert n1.loc["elevator_retrofit", "trigger_detail"] == "floors=6, has_elevator=False"
    assert n1.loc["barrier_free", "trigger_detail"] == "elderly_share=0.30 >= 0.25"
    assert n1.loc["property_management", "item_zh"] == "物业管理与服务（物业用房）"
    assert n1.loc["property_management", "trigger_attribute"] == "property_premises"
    assert n1.loc["property_management", "trigger_detail"] == "property_premises=False"
    dc = n1.loc["elderly_day_care"]
    assert dc["trigger"] == "missing_facility"
    assert dc["renovation_class"] == "提升"
    assert dc["priority_zh"] == "能改则改"
    assert dc["trigger_detail"] == "elderly_day_care not within 300 m (nearest 620 m)"
    assert dc["trigger_detail_zh"].startswith("老年人日间照料中心")
    assert bool(dc["required"])
    # heritage: the protection requirement is on every item of n1, and on no other community
    assert (n1["protection_requirement"] == PROTECTION_ZH).all()
    assert "四(三)4" in PROTECTION_ZH
    assert (needs.loc[needs["community_id"] != "n1", "protection_requirement"] == "").all()


def test_needs_attribute_branches_and_unknowns(needs_case, profile):
    communities, gaps, scope = needs_case
    needs = renovation_needs(communities, gaps, scope, profile)
    # n2: built 2010 -> no policy defaults; grade C and non-complete units are 基础 needs;
    # 3 floors -> no elevator need even with has_elevator unknown; has 物业用房 -> no need;
    # culture station at 800 m > 500 m -> 完善
    assert items_of(needs, "n2") == ["building_safety", "unit_completion",
                                     "culture_activity_station"]
    assert items_of(needs, "n2", "unknown") == ["barrier_free"]
    n2 = needs[needs["community_id"] == "n2"].set_index("item_id")
    assert n2.loc["culture_activity_station", "renovation_class"] == "完善"
    assert n2.loc["building_safety", "trigger_detail"] == "safety_grade=C"
    # n3: only grade C is known to need work; the rest is listed as unknown, never as a need
    assert items_of(needs, "n3") == ["building_safety"]
    assert sorted(items_of(needs, "n3", "unknown")) == sorted([
        "utilities", "facade_insulation", "roof_waterproofing", "heritage_protection",
        "elevator_retrofit", "property_management"])
    n3u = needs[(needs["community_id"] == "n3") & (needs["item_id"] == "elevator_retrofit")]
    assert n3u.iloc[0]["trigger_detail"] == "floors=unknown, has_elevator=False"


def test_needs_thresholds_are_parameters(needs_case, profile):
    communities, gaps, scope = needs_case
    needs = renovation_needs(communities, gaps, scope, profile, elderly_share_threshold=0.35,
                             min_floors_elevator=7)
    assert items_of(needs, "n1") == [
        "utilities", "facade_insulation", "roof_waterproofing", "property_management",
        "elderly_day_care"]
    needs = renovation_needs(communities, None, scope, profile)
    assert "elderly_day_care" not in items_of(needs, "n1")


def test_needs_time_criterion_detail(profile):
    communities = communities_frame([{"community_id": "e", "build_year": 2012,
                                      "safety_grade": "C", "complete_units": True,
                                      "floors": 2, "elderly_share": 0.1, "heritage": False,
                                      "management_mode": "物业公司", "owners_committee": True}])
    access = access_frame({"e": {"kindergarten": 350}}, speed=60.0, speed_profile="elderly")
    gaps = find_gaps(access, profile, speed_profile="elderly", criterion="time",
                     categories=["kindergarten"])
    needs = renovation_needs(communities, gaps, renovation_scope(communities), profile)
    kg = needs.set_index("item_id").loc["kindergarten"]
    # 350 m / 60 m/min = 5.83 min > 5 min
    assert kg["trigger_detail"] == (
        "kindergarten not within 5 min at elderly speed (nearest 5.8 min)")


# --- annual plan --------------------------------------------------------------------------

def need_rows(spec: dict[str, list[str]]) -> pd.DataFrame:
    rows = []
    for cid, classes in spec.items():
        for i, cls in enumerate(classes):
            rows.append({"community_id": cid, "renovation_class": cls, "item_id": f"i{i}",
                         "assessment": "need"})
    return pd.DataFrame(rows)


READY = {"resident_funding": True, "owners_committee": True, "property_committee": NA,
         "management_mode": "物业公司"}


@pytest.fixture
def plan_case():
    communities = communities_frame([
        {"community_id": "p1", "build_year": 1990, "households": 400, **READY},
        {"community_id": "p2", "build_year": 1990, "households": 600, **READY},
        {"community_id": "p3", "build_year": 1990, "households": 500, **READY},
        {"community_id": "p4", "build_year": 1990, "households": 1000,
         **{**READY, "resident_funding": False}},
        {"community_id": "p5", "build_year": 1990, "households": 200,
         **{**READY, "management_mode": NA}},
        {"community_id": "p6", "build_year": 1990, "households": 300, **READY},
        {"community_id": "p7", "build_year": 1990, "households": 100, "resident_funding": NA,
         "owners_committee": False, "property_committee": False, "management_mode": "无"},
        {"community_id": "p8", "build_year": 2015, "safety_grade": "A", "complete_units": True,
         "households": 5000, **READY},  # out of scope
    ])
    needs = need_rows({
        "p1": ["基础", "基础", "提升"],   # 3+3+1 = 7, 2 basic
        "p2": ["完善", "完善", "完善"],   # 6
        "p3": ["基础", "完善", "完善"],   # 7, 1 basic
        "p4": ["基础", "基础", "基础"],   # 9 but not ready
        "p5": ["提升"],                   # 1, readiness unknown
        "p6": ["基础", "提升", "基础"],   # 7, 2 basic: ties p1, broken by id
        "p7": ["基础"],
    })
    # an unknown assessment never counts
    needs = pd.concat([needs, pd.DataFrame([{"community_id": "p2", "renovation_class": "基础",
                                             "item_id": "x", "assessment": "unknown"}])])
    return communities, renovation_scope(communities), needs


def test_plan_ranking(plan_case):
    communities, scope, needs = plan_case
    plan, _ = annual_plan(communities, scope, needs)
    assert plan["community_id"].tolist() == ["p1", "p6", "p3", "p2", "p5", "p4", "p7"]
    assert plan["rank"].tolist() == [1, 2, 3, 4, 5, 6, 7]
    assert plan["need_score"].tolist() == [7.0, 7.0, 7.0, 6.0, 1.0, 9.0, 3.0]
    assert plan["readiness"].tolist() == ["ready"] * 4 + ["unknown", "not_ready", "not_ready"]
    # no target: every ready community with a need
    assert plan.loc[plan["selected"], "community_id"].tolist() == ["p1", "p6", "p3", "p2"]
    assert plan.loc[0, "reason_zh"] == (
        "第 1 位：需求分 7（基础类 2 项、完善类 0 项、提升类 1 项）；前提条件齐备，纳入年度计划"
        "（累计 400 户）")
    assert "p8" not in set(plan["community_id"])


def test_plan_target_communities(plan_case):
    communities, scope, needs = plan_case
    plan, _ = annual_plan(communities, scope, needs, target_communities=2)
    assert plan.loc[plan["selected"], "community_id"].tolist() == ["p1", "p6"]
    p3 = plan.set_index("community_id").loc["p3"]
    assert "年度目标已满" in p3["reason_zh"]
    assert "target is filled" in p3["reason_en"]


def test_plan_target_households(plan_case):
    communities, scope, needs = plan_case
    # 400 (p1) + 300 (p6) = 700 < 800; + 500 (p3) = 1200 >= 800 -> stop
    plan, _ = annual_plan(communities, scope, needs, target_households=800)
    sel = plan[plan["selected"]]
    assert sel["community_id"].tolist() == ["p1", "p6", "p3"]
    assert sel["cumulative_households"].tolist() == [400.0, 700.0, 1200.0]
    # p6's households unknown: it cannot count and is passed over; 400 + 500 = 900 >= 800
    c2 = communities.copy()
    c2.loc[c2["community_id"] == "p6", "households"] = NA
    plan, _ = annual_plan(c2, scope, needs, target_households=800)
    assert plan.loc[plan["selected"], "community_id"].tolist() == ["p1", "p3"]
    assert "户数未知" in plan.set_index("community_id").loc["p6", "reason_zh"]


def test_plan_not_ready_lists_what_is_missing(plan_case):
    communities, scope, needs = plan_case
    plan, not_ready = annual_plan(communities, scope, needs)
    nr = not_ready.set_index("community_id")
    assert sorted(nr.index) == ["p4", "p5", "p7"]
    assert nr.loc["p4", "missing_preconditions"] == "resident_funding"
    assert nr.loc["p4", "lacks_zh"] == "缺居民出资"
    assert nr.loc["p5", "missing_preconditions"] == "management_mode:unknown"
    assert nr.loc["p5", "readiness"] == "unknown"
    assert nr.loc["p7", "missing_preconditions"] == (
        "committee;management_mode;resident_funding:unknown")
    assert nr.loc["p7", "lacks_zh"] == (
        "缺业主委员会或物业管理委员会；缺改造后物业管理模式；居民出资未知")
    assert not plan.set_index("community_id").loc["p4", "selected"]
    assert "缺居民出资" in plan.set_index("community_id").loc["p4", "reason_zh"]


def test_plan_errors_and_zh_table(plan_case):
    communities, scope, needs = plan_case
    with pytest.raises(InputError, match="not both"):
        annual_plan(communities, scope, needs, target_communities=1, target_households=1)
    plan, _ = annual_plan(communities, scope, needs, target_communities=1)
    zh = plan_table_zh(plan)
    assert list(zh.columns) == ["排序", "小区编号", "户数", "需求分", "基础类项数", "完善类项数",
                                "提升类项数", "前提条件", "纳入年度计划", "累计户数", "说明"]
    assert zh.loc[0, "前提条件"] == "齐备"
    assert zh["纳入年度计划"].tolist()[:2] == ["是", "否"]
    assert "reason_en" in plan.columns  # the input plan keeps its English column


def test_needs_over_capacity_is_a_need(profile):
    from livingcircle.capacity import capacity_access

    communities = communities_frame([
        {"community_id": c, "build_year": 2012, "safety_grade": "C", "complete_units": True,
         "floors": 2, "elderly_share": 0.1, "heritage": False, "management_mode": "物业公司",
         "owners_committee": True, "population": 500} for c in ("a", "b")])
    communities["population"] = communities["population"].astype("Int64")
    access = access_frame({"a": {"kindergarten": 200}, "b": {"kindergarten": 250}})
    gaps = find_gaps(access, profile, categories=["kindergarten"])
    assert gaps["met"].all()
    pairs = pd.DataFrame({"community_id": ["a", "b"], "facility_id": ["k", "k"],
                          "category": ["kindergarten"] * 2, "distance_m": [200.0, 250.0]})
    facilities = pd.DataFrame({"facility_id": ["k"], "capacity": [30.0]})
    # 30 places / 1000 persons = 30 per 1000 < 40 per 1000 (1 per 25 persons)
    cap = capacity_access(pairs, communities, facilities, profile, persons_per_place=25)
    scope = renovation_scope(communities)
    needs = renovation_needs(communities, gaps, scope, profile, capacity=cap)
    kg = needs[needs["item_id"] == "kindergarten"].set_index("community_id")
    assert kg.loc["a", "trigger"] == "over_capacity"
    assert kg.loc["a", "renovation_class"] == "提升"
    assert kg.loc["a", "trigger_detail"] == (
        "kindergarten within 300 m but over capacity (30.0 places per 1000 persons < norm 40.0)")
    assert "kindergarten" not in renovation_needs(communities, gaps, scope, profile)[
        "item_id"].tolist()


# --- issue 16 §2: rules that slipped ----------------------------------------------------------

def test_scope_grade_d_is_reported_with_its_note():
    # 二(一): “对 2000 年后建成并被鉴定为安全 C 级住宅楼……可以一并纳入改造范围” — grade C only.
    # A grade D (危房) community built in 1985 met the build-year rule and came out 'yes' with
    # only built_before_2001; now it is 'unknown' with grade_d_danger first and the note.
    from livingcircle.buildings import GRADE_D_NOTE_ZH as BUILDING_NOTE
    from livingcircle.renovation import GRADE_D_NOTE_EN, GRADE_D_NOTE_ZH

    c = communities_frame([
        {"community_id": "d", "build_year": 1985, "safety_grade": "D级", "complete_units": True},
        {"community_id": "c", "build_year": 1985, "safety_grade": "C", "complete_units": True},
    ])
    s = renovation_scope(c).set_index("community_id")
    assert s.loc["d", "in_scope"] == "unknown"
    assert s.loc["d", "reasons"] == "grade_d_danger;built_before_2001;complete_units"
    assert s.loc["d", "reasons_zh"].startswith("安全鉴定D级（危房）；2000年底前建成（1985年）")
    assert bool(s.loc["d", "grade_d"])
    assert s.loc["d", "note_zh"] == GRADE_D_NOTE_ZH == BUILDING_NOTE  # one wording everywhere
    assert "appraisal" in s.loc["d", "note_en"] and s.loc["d", "note_en"] == GRADE_D_NOTE_EN
    assert s.loc["c", "in_scope"] == "yes"
    assert not s.loc["c", "grade_d"] and s.loc["c", "note_zh"] == ""
    # not in scope, so no need rows; a local decision to include it keeps the code in front
    assert renovation_scope(c, include=["d"]).loc[0, "reasons"] == (
        "grade_d_danger;built_before_2001;local_include")


@pytest.mark.parametrize(
    ("location", "status", "reasons"),
    [
        ("城市", "yes", "built_before_2001"),
        ("县城", "yes", "built_before_2001"),
        ("农垦", "yes", "built_before_2001"),
        ("森工系统二级机构所在地", "yes", "built_before_2001"),
        ("乡镇", "no", "location_not_eligible;built_before_2001;complete_units;safety_grade_a"),
        (NA, "unknown", "built_before_2001;unknown_location_type"),
    ],
)
def test_scope_location_eligibility(location, status, reasons):
    # 二(一): “城市、县城、原农垦、森工系统二级机构所在地，2000 年底前建成需改造的老旧小区”
    c = communities_frame([{"community_id": "x", "build_year": 1990, "safety_grade": "A",
                            "complete_units": True, "location_type": location}])
    s = renovation_scope(c)
    assert s.loc[0, "in_scope"] == status
    # codes: the location verdict first when it excludes, then the criteria (held, not held)
    assert sorted(s.loc[0, "reasons"].split(";")) == sorted(reasons.split(";"))
    if status == "no":
        assert s.loc[0, "reasons"].startswith("location_not_eligible")
        assert "“乡镇”不在政策所列范围" in s.loc[0, "reasons_zh"]
        assert "城市、县城、原农垦" in s.loc[0, "reasons_zh"]


def test_scope_location_rule_not_applied_without_the_column():
    from livingcircle.renovation import location_type_code, scope_rules_applied

    c = communities_frame([{"community_id": "x", "build_year": 1990}])
    assert renovation_scope(c).loc[0, "in_scope"] == "yes"
    rule = scope_rules_applied(c)["location_eligibility"]
    assert rule["applied"] == "no"
    assert "location_type" in rule["zh"] and "not applied" in rule["en"]
    c["location_type"] = pd.Series(["城市"], dtype="string")
    assert scope_rules_applied(c)["location_eligibility"]["applied"] == "yes"
    assert [location_type_code(v) for v in ("城区", "County_Town", "原森工", "乡", " ", NA)] == [
        "city", "county_town", "forestry", "other", None, None]


def test_scope_location_type_of_the_area():
    # 二(一): “城市、县城、原农垦、森工系统二级机构所在地，2000 年底前建成需改造的老旧小区” —
    # --location-type gives the area's location to the communities whose own cell is empty; a
    # community's own value wins. Hand-worked: three 1990 communities (in by build year).
    from livingcircle.renovation import check_location_type, scope_rules_applied

    c = communities_frame([
        {"community_id": k, "build_year": 1990, "safety_grade": "B", "complete_units": True,
         "location_type": v} for k, v in (("own_county", "县城"), ("own_town", "乡镇"),
                                          ("empty", NA))])
    # no area value: the empty cell is unknown
    assert renovation_scope(c)["in_scope"].tolist() == ["yes", "no", "unknown"]
    # the area is a city: the empty cell becomes 城市 (in); 乡镇 stays out, its own value wins
    city = renovation_scope(c, location_type="city")
    assert city["in_scope"].tolist() == ["yes", "no", "yes"]
    assert city.loc[2, "reasons"] == "built_before_2001"
    # the area lies outside the list: the empty cell is out, and the reason says it is the area's
    other = renovation_scope(c, location_type="other")
    assert other["in_scope"].tolist() == ["yes", "no", "no"]
    assert other.loc[2, "reasons"].startswith("location_not_eligible")
    assert "“other”（片区设定 --location-type）不在政策所列范围" in other.loc[2, "reasons_zh"]
    # the metadata/report text names the area value and that a community's own value wins
    rule = scope_rules_applied(c, "city")["location_eligibility"]
    assert (rule["applied"], rule["area_value"]) == ("yes", "city")
    assert "片区所在地类型设为“city”" in rule["zh"] and "小区自身填写的所在地类型优先" in rule["zh"]
    assert "a community's own value wins" in rule["en"]
    # without a location_type column the area value applies to every community
    plain = communities_frame([{"community_id": "x", "build_year": 1990}])
    assert renovation_scope(plain, location_type="other")["in_scope"].tolist() == ["no"]
    assert scope_rules_applied(plain, "森工")["location_eligibility"]["applied"] == "yes"
    # accepted: the four codes, other, the words of the list; anything else is a clear error
    assert [check_location_type(v) for v in ("forestry", " 县城 ", "other", None, "")] == [
        "forestry", "县城", "other", None, None]
    with pytest.raises(InputError, match=r"^location_type '村' is not a location of 二\(一\); "
                       r"use one of city, county_town, state_farm, forestry, other"):
        check_location_type("村")


def test_premises_need_is_not_triggered_by_governance(profile):
    # 三(二) puts 物业用房 among 完善类 facilities; 二(三) makes 业委会 and the management mode
    # preconditions of the annual plan. No committee and no management no longer make a need:
    # premises present -> no item; premises absent -> need; column absent -> unknown.
    base = {"build_year": 1990, "safety_grade": "B", "complete_units": True, "floors": 3,
            "elderly_share": 0.1, "heritage": False, "management_mode": "无",
            "owners_committee": False, "property_committee": False}
    c = communities_frame([{"community_id": "has", **base, "property_premises": True},
                           {"community_id": "lacks", **base, "property_premises": False},
                           {"community_id": "unk", **base, "property_premises": NA}])
    needs = renovation_needs(c, None, renovation_scope(c), profile)
    prop = needs[needs["item_id"] == "property_management"].set_index("community_id")
    assert "has" not in prop.index
    assert prop.loc["lacks", "assessment"] == "need"
    assert prop.loc["lacks", "renovation_class"] == "完善"
    assert "物业用房" in prop.loc["lacks", "trigger_detail_zh"]
    assert prop.loc["unk", "assessment"] == "unknown"
    assert "业委会、物业管理模式只决定" in prop.loc["unk", "trigger_detail_zh"]
    without = renovation_needs(c.drop(columns="property_premises"), None, renovation_scope(c),
                               profile)
    p2 = without[without["item_id"] == "property_management"]
    assert p2["assessment"].tolist() == ["unknown"] * 3
    # readiness still reads the governance attributes: all three lack a committee
    plan, _ = annual_plan(c, renovation_scope(c), needs)
    assert set(plan["readiness"]) == {"not_ready"}


def test_district_planning_gaps_are_not_needs(profile):
    # 小学 (500 m) and 养老院 (1000 m) carry district_planning: true in the profile: a gap, but
    # never a community's renovation need; the day care centre (300 m) stays a need.
    from livingcircle.renovation import district_planning_items, district_planning_summary

    c = communities_frame([
        {"community_id": "a", "build_year": 1990, "households": 300},
        {"community_id": "b", "build_year": 1995, "households": NA},
        {"community_id": "z", "build_year": 2015, "safety_grade": "A", "complete_units": True,
         "households": 120},
    ])
    access = access_frame({
        "a": {"primary_school": 800, "nursing_home": 1500, "elderly_day_care": 450},
        "b": {"primary_school": np.nan, "nursing_home": 900, "elderly_day_care": 100},
        "z": {"primary_school": 650, "nursing_home": 300, "elderly_day_care": 100},
    })
    gaps = find_gaps(access, profile,
                     categories=["primary_school", "nursing_home", "elderly_day_care"])
    scope = renovation_scope(c)
    needs = renovation_needs(c, gaps, scope, profile)
    assert not needs["item_id"].isin(["primary_school", "nursing_home"]).any()
    assert items_of(needs, "a")[-1] == "elderly_day_care"
    dp = district_planning_items(gaps, c, profile, scope)
    # profile order: primary_school before nursing_home; every community judged (z is out of
    # scope but the district plans for it too)
    assert dp[["category", "community_id"]].values.tolist() == [
        ["primary_school", "a"], ["primary_school", "b"], ["primary_school", "z"],
        ["nursing_home", "a"]]
    assert dp["distance_m"].tolist()[:1] == [800.0]
    assert pd.isna(dp.loc[1, "distance_m"]) and dp.loc[1, "status"] == "not_reached"
    assert dp["threshold_m"].tolist() == [500.0, 500.0, 500.0, 1000.0]
    assert dp["in_scope"].tolist() == ["yes", "yes", "no", "yes"]
    assert dp.loc[0, "detail_zh"].startswith("小学：500 米内无（最近 800 米）")
    assert "完整社区" in dp.loc[0, "basis"]
    sm = district_planning_summary(dp).set_index("category")
    # 小学: a 300 + z 120 households known, b unknown; a 800 m and z 650 m reached
    assert sm.loc["primary_school", "n_communities"] == 3
    assert sm.loc["primary_school", "households"] == 420
    assert sm.loc["primary_school", "n_unknown_households"] == 1
    assert sm.loc["primary_school", "n_not_reached"] == 1
    assert sm.loc["primary_school", "median_distance_m"] == pytest.approx(725.0)
    assert sm.loc["primary_school", "max_distance_m"] == 800.0
    assert sm.loc["nursing_home", "community_ids"] == "a"


def test_location_and_premises_read_from_chinese_headers(tmp_path, profile):
    # a GeoPackage written by GDAL with the survey form's headers 所在地类型 and 物业用房
    import geopandas as gpd
    from shapely.geometry import Point

    import livingcircle as lc

    gdf = gpd.GeoDataFrame({
        "小区编号": ["a", "b", "c"], "建成年份": [1990, 1990, 1990], "安全等级": ["B", "B", "B"],
        "成套住宅": ["是", "是", "是"], "所在地类型": ["县城", "乡镇", None],
        "物业用房": ["无", "有", None],
    }, geometry=[Point(126.60, 45.75), Point(126.61, 45.75), Point(126.62, 45.75)], crs=4326)
    path = tmp_path / "communities.gpkg"
    gdf.to_file(path, engine="pyogrio")
    comm = lc.io.read_communities(path)
    assert str(comm["property_premises"].dtype) == "boolean"
    s = renovation_scope(comm).set_index("community_id")
    assert s["in_scope"].to_dict() == {"a": "yes", "b": "no", "c": "unknown"}
    assert s.loc["b", "reasons"].startswith("location_not_eligible")
    assert s.loc["c", "reasons"] == "built_before_2001;unknown_location_type"
    needs = renovation_needs(comm, None, renovation_scope(comm), profile)
    prop = needs[needs["item_id"] == "property_management"]
    assert prop[["community_id", "assessment"]].values.tolist() == [["a", "need"]]
