"""Hand-checked cases for livingcircle.gaps (every expected value is worked out in comments)."""

from __future__ import annotations

import math
import textwrap
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from livingcircle import InputError, load_profile
from livingcircle.capacity import capacity_access
from livingcircle.gaps import (
    area_figures,
    completeness,
    find_gaps,
    uncovered_residential,
    worst_served,
)

PROFILE_YAML = textwrap.dedent("""
    schema_version: 1
    name: test profile
    levels:
      '5': {name_zh: 五分钟生活圈居住区, name_en: 5-minute living circle, minutes: 5, walk_m: 300}
      '10': {name_zh: 十分钟生活圈居住区, name_en: 10-minute living circle, minutes: 10,
             walk_m: 500}
      '15': {name_zh: 十五分钟生活圈居住区, name_en: 15-minute living circle, minutes: 15,
             walk_m: 1000}
      block: {name_zh: 居住街坊, name_en: Residential block, minutes: null, walk_m: 150}
    categories:
      - {id: kg, name_zh: 幼儿园, name_en: Kindergarten, level: '5', max_walk_m: 300,
         required: true, complete_community: true, threshold_status: verified,
         source: [GB 50180-2018 附录B/C], renovation_category: 提升}
      - {id: day_care, name_zh: 日间照料中心, name_en: Day care, level: '5', max_walk_m: 300,
         required: true, complete_community: true, threshold_status: unverified,
         source: [GB 50180-2018 附录B/C], renovation_category: 提升}
      - {id: canteen, name_zh: 社区食堂, name_en: Canteen, level: '5', max_walk_m: 300,
         required: false, complete_community: false, renovation_category: 提升}
      - {id: park, name_zh: 公园, name_en: Park, level: '10', max_walk_m: 500,
         required: true, complete_community: true, renovation_category: 完善}
      - {id: school, name_zh: 初中, name_en: School, level: '15', max_walk_m: 1000,
         required: true, complete_community: false, renovation_category: 提升}
      - {id: waste_point, name_zh: 垃圾收集点, name_en: Waste point, level: block, max_walk_m: 70,
         required: true, complete_community: true, renovation_category: 基础}
      - {id: toilet, name_zh: 公共厕所, name_en: Toilet, level: '5', max_walk_m: 300,
         required: false, complete_community: false, renovation_category: null}
      - {id: property, name_zh: 物业用房, name_en: Property office, level: block,
         required: true, complete_community: true, renovation_category: 完善, target: attribute}
""")

# distances (m) per community; time = distance / 80 m/min (adult) or / 60 (elderly)
DIST = {
    "c1": {"kg": 700, "day_care": 250, "canteen": np.nan, "park": 450, "school": 900,
           "waste_point": 60, "toilet": 320},
    "c2": {"kg": 280, "day_care": 280, "canteen": 100, "park": 600, "school": np.nan,
           "waste_point": 80, "toilet": 100},
}
SPEEDS = {"adult": 80.0, "elderly": 60.0}


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    p = tmp_path_factory.mktemp("profile") / "p.yaml"
    p.write_text(PROFILE_YAML, encoding="utf-8")
    return load_profile(p)


def make_access(dist=DIST, speeds=SPEEDS):
    rows = []
    for sp, v in speeds.items():
        for c, cats in dist.items():
            for k, d in cats.items():
                reached = not math.isnan(d)
                rows.append({
                    "community_id": c, "category": k, "speed_profile": sp,
                    "distance_m": float(d), "time_min": d / v,
                    "nearest_facility_id": f"f_{k}" if reached else None, "reached": reached,
                    "n_5min": 0, "n_10min": 0, "n_15min": 0,
                })
    return pd.DataFrame(rows)


@pytest.fixture
def access():
    return make_access()


def status_of(g, community, category):
    row = g[(g["community_id"] == community) & (g["category"] == category)]
    assert len(row) == 1
    return row.iloc[0]


def test_find_gaps_shape_and_statuses(access, profile):
    before = access.copy()
    g = find_gaps(access, profile)
    pd.testing.assert_frame_equal(access, before)  # input untouched
    # 2 communities x 7 POI categories; the attribute category 'property' is not judged
    assert len(g) == 14
    assert "property" not in set(g["category"])
    assert g["speed_profile"].unique().tolist() == ["adult"]
    expected = {
        ("c1", "kg"): "missing", ("c1", "day_care"): "met", ("c1", "canteen"): "not_reached",
        ("c1", "park"): "met", ("c1", "school"): "met", ("c1", "waste_point"): "met",
        ("c1", "toilet"): "missing",
        ("c2", "kg"): "met", ("c2", "day_care"): "met", ("c2", "canteen"): "met",
        ("c2", "park"): "missing", ("c2", "school"): "not_reached",
        ("c2", "waste_point"): "missing", ("c2", "toilet"): "met",
    }
    got = {(r.community_id, r.category): r.status for r in g.itertuples()}
    assert got == expected
    assert (g["met"] == (g["status"] == "met")).all()


def test_levels_are_not_nested(access, profile):
    # kindergarten at 700 m: within the 15-minute circle (1000 m) but its own level is 5 min/300 m
    row = status_of(find_gaps(access, profile), "c1", "kg")
    assert row["status"] == "missing"
    assert row["threshold_m"] == 300.0
    assert row["threshold_min"] == 5.0
    assert row["level"] == "5"
    assert row["distance_m"] == 700.0


def test_explanations(access, profile):
    g = find_gaps(access, profile)
    # 700 m / 80 m/min = 8.75 min, printed with one decimal
    assert status_of(g, "c1", "kg")["explanation_zh"] == (
        "幼儿园：最近步行 700 米（8.8 分钟），超过 5 分钟生活圈标准 300 米"
        "（来源：GB 50180-2018 附录B/C，已核实）"
    )
    assert status_of(g, "c1", "day_care")["explanation_zh"] == (
        "日间照料中心：最近步行 250 米（3.1 分钟），满足 5 分钟生活圈标准 300 米"
        "（来源：GB 50180-2018 附录B/C，未核实）"
    )
    assert status_of(g, "c1", "kg")["explanation_en"].startswith(
        "Kindergarten: nearest 700 m walk (8.8 min), beyond the 5-minute living circle standard "
        "of 300 m")
    nr = status_of(g, "c1", "canteen")
    assert nr["explanation_zh"].startswith("社区食堂：搜索范围内无可达设施")
    assert math.isnan(nr["distance_m"])
    blk = status_of(g, "c2", "waste_point")
    assert "居住街坊标准 70 米" in blk["explanation_zh"]
    assert math.isnan(blk["threshold_min"])


@pytest.mark.parametrize(
    ("distance", "speed_profile", "criterion", "expected"),
    [
        (290, "adult", "distance", "met"),      # 290 <= 300 m
        (290, "elderly", "time", "met"),        # 290/60 = 4.83 <= 5 min
        (350, "adult", "distance", "missing"),  # 350 > 300 m
        (350, "adult", "time", "met"),          # 350/80 = 4.375 <= 5 min
        (350, "elderly", "time", "missing"),    # 350/60 = 5.83 > 5 min
        (350, "elderly", "distance", "missing"),  # metres never change with the speed
        (250, "elderly", "distance", "met"),
    ],
)
def test_criterion_time_vs_distance(profile, distance, speed_profile, criterion, expected):
    access = make_access({"c9": {"kg": distance}})
    g = find_gaps(access, profile, speed_profile=speed_profile, criterion=criterion,
                  categories=["kg"])
    assert g.loc[0, "status"] == expected
    assert g.loc[0, "speed_profile"] == speed_profile
    assert g.loc[0, "time_min"] == pytest.approx(distance / SPEEDS[speed_profile])


def test_time_criterion_block_level_judged_by_distance(profile):
    # waste point 60 m <= 70 m: block level has no minutes, so distance decides and it is said
    access = make_access({"c9": {"waste_point": 60}})
    g = find_gaps(access, profile, speed_profile="elderly", criterion="time",
                  categories=["waste_point"])
    assert g.loc[0, "status"] == "met"
    assert "按距离判定" in g.loc[0, "explanation_zh"]
    access = make_access({"c9": {"waste_point": 75}})
    g = find_gaps(access, profile, speed_profile="elderly", criterion="time",
                  categories=["waste_point"])
    assert g.loc[0, "status"] == "missing"


def test_time_criterion_explanation_names_speed(profile):
    access = make_access({"c9": {"kg": 350}})
    g = find_gaps(access, profile, speed_profile="elderly", criterion="time", categories=["kg"])
    assert g.loc[0, "explanation_zh"] == (
        "幼儿园：最近步行 350 米（5.8 分钟），超过 5 分钟生活圈标准 5 分钟（老年人步速）"
        "（来源：GB 50180-2018 附录B/C，已核实）"
    )


def test_find_gaps_errors(access, profile):
    with pytest.raises(InputError, match="unknown criterion 'speed'"):
        find_gaps(access, profile, criterion="speed")
    with pytest.raises(InputError, match="no rows for speed profile 'winter'"):
        find_gaps(access, profile, speed_profile="winter")
    with pytest.raises(InputError, match=r"no rows for categories \['kg'\]"):
        find_gaps(access[access["category"] != "kg"], profile)
    with pytest.raises(InputError, match="attribute-only"):
        find_gaps(access, profile, categories=["property"])
    with pytest.raises(InputError, match="duplicated"):
        find_gaps(pd.concat([access, access.iloc[:1]]), profile)
    partial = access.drop(index=access.index[0])  # c1 x kg x adult removed
    with pytest.raises(InputError, match=r"lacks 1 community × category rows"):
        find_gaps(partial, profile)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['time_min'\]"):
        find_gaps(access.drop(columns="time_min"), profile)


def test_find_gaps_warns_on_unknown_category(access, profile):
    extra = access.iloc[:1].assign(category="helipad")
    with pytest.warns(UserWarning, match="helipad"):
        g = find_gaps(pd.concat([access, extra]), profile)
    assert "helipad" not in set(g["category"])


def test_completeness_numbers(access, profile):
    c = completeness(find_gaps(access, profile), profile).set_index("community_id")
    # c1 required: kg(miss), day_care(met) @5; park(met) @10; school(met) @15; waste(met) @block
    assert c.loc["c1", "completeness_5"] == 0.5
    assert c.loc["c1", "completeness_10"] == 1.0
    assert c.loc["c1", "completeness_15"] == 1.0
    assert c.loc["c1", "completeness_block"] == 1.0
    assert c.loc["c1", "n_required"] == 5
    assert c.loc["c1", "n_missing_required"] == 1
    assert c.loc["c1", "missing_required"] == "kg"
    # c2: kg, day_care met @5; park missing; school not reached; waste 80 m > 70 m
    assert c.loc["c2", "completeness_5"] == 1.0
    assert c.loc["c2", "completeness_10"] == 0.0
    assert c.loc["c2", "completeness_15"] == 0.0
    assert c.loc["c2", "completeness_block"] == 0.0
    assert c.loc["c2", "n_missing_required"] == 3
    assert c.loc["c2", "missing_required"] == "park;school;waste_point"


def test_complete_community_check(access, profile):
    c = completeness(find_gaps(access, profile), profile).set_index("community_id")
    # complete_community categories judged: kg, day_care, park, waste_point
    assert not c.loc["c1", "complete_community"]
    assert c.loc["c1", "complete_community_missing"] == "kg"
    assert not c.loc["c2", "complete_community"]
    assert c.loc["c2", "complete_community_missing"] == "park;waste_point"
    assert c.loc["c1", "complete_community_not_judged"] == "property"
    ok = make_access({"c3": {"kg": 100, "day_care": 100, "canteen": np.nan, "park": 100,
                             "school": np.nan, "waste_point": 10, "toilet": np.nan}})
    c3 = completeness(find_gaps(ok, profile), profile).set_index("community_id")
    # school (not complete_community) unreached, canteen/toilet optional: still complete
    assert c3.loc["c3", "complete_community"]
    assert c3.loc["c3", "complete_community_missing"] == ""
    assert c3.loc["c3", "completeness_15"] == 0.0


# --- capacity -----------------------------------------------------------------------------

def cap_inputs(capacity=30.0, pop2=500):
    communities = pd.DataFrame({
        "community_id": ["c1", "c2", "c3"],
        "population": pd.array([500, pop2, 800], dtype="Int64"),
    })
    facilities = pd.DataFrame({"facility_id": ["f1"], "category": ["kg"],
                               "capacity": [capacity]})
    # c3 reaches f1 only at 400 m: outside the 300 m catchment
    pairs = pd.DataFrame({
        "community_id": ["c1", "c2", "c3"], "facility_id": ["f1", "f1", "f1"],
        "category": ["kg", "kg", "kg"], "distance_m": [200.0, 250.0, 400.0],
    })
    return pairs, communities, facilities


def test_capacity_full_kindergarten_is_a_gap(profile):
    pairs, communities, facilities = cap_inputs()
    # proximity says both c1 and c2 have a kindergarten within 300 m ...
    g = find_gaps(make_access({"c1": {"kg": 200}, "c2": {"kg": 250}}), profile,
                  categories=["kg"])
    assert g["met"].all()
    # ... but 30 places for 500 + 500 people: R = 30 / 1000 = 0.03 places/person,
    # norm 1 place per 25 persons = 0.04 > 0.03 -> over capacity
    cap = capacity_access(pairs, communities, facilities, profile, persons_per_place=25)
    cap = cap.set_index("community_id")
    for c in ("c1", "c2"):
        assert cap.loc[c, "supply_ratio"] == pytest.approx(0.03)
        assert cap.loc[c, "places_per_1000"] == pytest.approx(30.0)
        assert cap.loc[c, "capacity_status"] == "over_capacity"
        assert not cap.loc[c, "capacity_met"]
        assert cap.loc[c, "n_facilities_in_reach"] == 1
    assert cap.loc["c1", "norm_ratio"] == pytest.approx(0.04)
    assert cap.loc["c3", "capacity_status"] == "no_facility_in_reach"
    assert cap.loc["c3", "supply_ratio"] == 0.0
    assert cap.loc["c1", "demand_basis"] == "population"


def test_capacity_ok_with_lower_norm(profile):
    pairs, communities, facilities = cap_inputs()
    # 1 place per 40 persons = 0.025 <= 0.03 -> ok
    cap = capacity_access(pairs, communities, facilities, profile,
                          persons_per_place={"kg": 40}).set_index("community_id")
    assert cap.loc["c1", "capacity_status"] == "ok"
    assert cap.loc["c1", "capacity_met"]


def test_capacity_unknown_capacity_never_guessed(profile):
    pairs, communities, facilities = cap_inputs(capacity=np.nan)
    cap = capacity_access(pairs, communities, facilities, profile,
                          persons_per_place=25).set_index("community_id")
    assert cap.loc["c1", "capacity_status"] == "no_capacity_data"
    assert pd.isna(cap.loc["c1", "capacity_met"])
    assert cap.loc["c1", "n_facilities_no_capacity"] == 1
    # a second kindergarten f2 of 50 places within reach of c1 only: the known part alone gives
    # c1 30/1000 + 50/500 = 0.13 >= 0.04, so c1 is ok whatever f1 holds; c2 only has unknown f1
    pairs2 = pd.concat([pairs, pd.DataFrame({"community_id": ["c1"], "facility_id": ["f2"],
                                             "category": ["kg"], "distance_m": [100.0]})])
    fac2 = pd.DataFrame({"facility_id": ["f1", "f2"], "capacity": [np.nan, 50.0]})
    cap = capacity_access(pairs2, communities, fac2, profile,
                          persons_per_place=25).set_index("community_id")
    assert cap.loc["c1", "capacity_status"] == "ok"
    assert cap.loc["c1", "supply_ratio"] == pytest.approx(0.1)  # f1 unknown counts 0
    assert cap.loc["c2", "capacity_status"] == "no_capacity_data"


def test_capacity_unknown_demand(profile):
    # c2's population unknown: R(f1) = 30 / 500 = 0.06 is an upper bound
    pairs, communities, facilities = cap_inputs(pop2=pd.NA)
    cap = capacity_access(pairs, communities, facilities, profile,
                          persons_per_place=10).set_index("community_id")
    # norm 0.1 > 0.06: even the upper bound fails -> over capacity
    assert cap.loc["c1", "supply_ratio"] == pytest.approx(0.06)
    assert cap.loc["c1", "capacity_status"] == "over_capacity"
    cap = capacity_access(pairs, communities, facilities, profile,
                          persons_per_place=25).set_index("community_id")
    # norm 0.04 <= 0.06 upper bound: cannot tell
    assert cap.loc["c1", "capacity_status"] == "no_demand_data"
    assert pd.isna(cap.loc["c2", "capacity_met"])


def test_capacity_no_norm_and_gaussian(profile):
    pairs, communities, facilities = cap_inputs()
    pairs = pairs.assign(distance_m=[0.0, 150.0, 400.0])
    cap = capacity_access(pairs, communities, facilities, profile,
                          decay="gaussian").set_index("community_id")
    # w(150; 300) = (exp(-0.125) - exp(-0.5)) / (1 - exp(-0.5)) = 0.701367
    # R = 30 / (500 * 1 + 500 * 0.701367) = 0.0352660 ; A_c1 = R ; A_c2 = 0.701367 * R
    assert cap.loc["c1", "supply_ratio"] == pytest.approx(0.0352660, rel=1e-5)
    assert cap.loc["c2", "supply_ratio"] == pytest.approx(0.0247343, rel=1e-5)
    assert cap.loc["c1", "capacity_status"] == "no_norm"
    assert cap.loc["c1", "decay"] == "gaussian"


def test_capacity_two_facilities_with_overlapping_catchments(profile):
    """Classic 2SFCA worked by hand: two kindergartens, three communities, catchments overlap."""
    communities = pd.DataFrame({"community_id": ["c1", "c2", "c3"],
                                "population": [1000, 500, 1500]})
    facilities = pd.DataFrame({"facility_id": ["fA", "fB"], "capacity": [60.0, 50.0]})
    # catchment of 'kg' = 300 m, edge included (d <= 300)
    #        fA        fB
    # c1   100 m     320 m (outside)
    # c2   200 m     150 m
    # c3   300 m     250 m   (c3-fA exactly on the edge: inside)
    pairs = pd.DataFrame({
        "community_id": ["c1", "c1", "c2", "c2", "c3", "c3"],
        "facility_id": ["fA", "fB", "fA", "fB", "fA", "fB"],
        "category": ["kg"] * 6,
        "distance_m": [100.0, 320.0, 200.0, 150.0, 300.0, 250.0],
    })
    # step 1: R_A = 60 / (1000 + 500 + 1500) = 0.02 ; R_B = 50 / (500 + 1500) = 0.025
    # step 2: A_c1 = R_A = 0.02 ; A_c2 = R_A + R_B = 0.045 ; A_c3 = R_A + R_B = 0.045
    # check: Σ A_i · pop_i = 20 + 22.5 + 67.5 = 110 = 60 + 50 (every place is allotted once)
    # norm 1 place per 30 persons = 0.0333: c1 over capacity, c2 and c3 ok
    cap = capacity_access(pairs, communities, facilities, profile,
                          persons_per_place=30).set_index("community_id")
    assert cap["supply_ratio"].to_dict() == pytest.approx({"c1": 0.02, "c2": 0.045,
                                                           "c3": 0.045}, rel=1e-12)
    assert cap["places_per_1000"].to_dict() == pytest.approx({"c1": 20.0, "c2": 45.0,
                                                              "c3": 45.0}, rel=1e-12)
    assert cap["n_facilities_in_reach"].to_dict() == {"c1": 1, "c2": 2, "c3": 2}
    assert cap["capacity_status"].to_dict() == {"c1": "over_capacity", "c2": "ok", "c3": "ok"}
    assert (cap["supply_ratio"] * communities.set_index("community_id")["population"]).sum() \
        == pytest.approx(110.0, rel=1e-12)

    # Gaussian weights (Dai 2010), w(d) = (exp(-(d/300)²/2) - exp(-1/2)) / (1 - exp(-1/2)):
    # w(100) = 0.862656, w(150) = 0.701367, w(200) = 0.493575, w(250) = 0.254448, w(300) = 0
    # R_A = 60 / (0.862656·1000 + 0.493575·500 + 0·1500) = 60 / 1109.444 = 0.0540811
    # R_B = 50 / (0.701367·500 + 0.254448·1500) = 50 / 732.356 = 0.0682728
    # A_c1 = 0.862656·R_A = 0.0466534
    # A_c2 = 0.493575·R_A + 0.701367·R_B = 0.0266931 + 0.0478843 = 0.0745774
    # A_c3 = 0·R_A + 0.254448·R_B = 0.0173719
    cap = capacity_access(pairs, communities, facilities, profile,
                          decay="gaussian").set_index("community_id")
    assert cap["supply_ratio"].to_dict() == pytest.approx(
        {"c1": 0.0466534, "c2": 0.0745774, "c3": 0.0173719}, rel=2e-6)  # 6 digits by hand


def test_capacity_errors(profile):
    pairs, communities, facilities = cap_inputs()
    with pytest.raises(InputError, match="unknown decay"):
        capacity_access(pairs, communities, facilities, profile, decay="linear")
    with pytest.raises(InputError, match="not in the facilities layer"):
        capacity_access(pairs.assign(facility_id="fx"), communities, facilities, profile)
    with pytest.raises(InputError, match="must be positive"):
        capacity_access(pairs, communities, facilities, profile, persons_per_place=0)
    with pytest.raises(InputError, match=r"lacks column\(s\) \['population'\]"):
        capacity_access(pairs, communities.drop(columns="population"), facilities, profile)


# --- area figures -------------------------------------------------------------------------

def test_area_figures(access, profile):
    g = find_gaps(access, profile)
    communities = pd.DataFrame({
        "community_id": ["c1", "c2"],
        "households": pd.array([300, 700], dtype="Int64"),
        "population": pd.array([900, pd.NA], dtype="Int64"),
    })
    a = area_figures(g, communities, profile).set_index(["scope", "key"])
    kg = a.loc[("category", "kg")]
    assert kg["households_met"] == 700 and kg["households_known"] == 1000
    assert kg["share_households"] == pytest.approx(0.7)
    # c2 (the one with kg) has unknown population: 0 of 900 known people
    assert kg["share_population"] == 0.0
    assert kg["population_known"] == 900
    assert kg["n_unknown_population"] == 1
    assert kg["n_unknown_households"] == 0
    assert a.loc[("category", "park"), "share_households"] == pytest.approx(0.3)
    # level 5 required = kg + day_care: only c2 meets both -> 700/1000
    assert a.loc[("level", "5"), "share_households"] == pytest.approx(0.7)
    assert a.loc[("level", "10"), "share_households"] == pytest.approx(0.3)
    assert a.loc[("level", "block"), "n_communities_met"] == 1
    assert len(a) == 7 + 4


def test_worst_served(access, profile):
    c = completeness(find_gaps(access, profile), profile)
    communities = pd.DataFrame({"community_id": ["c1", "c2"], "name": ["甲", "乙"],
                                "households": [300, 700]})
    w = worst_served(c, communities, n=10)
    assert w["community_id"].tolist() == ["c2", "c1"]
    assert w["rank"].tolist() == [1, 2]
    assert w.loc[0, "name"] == "乙"
    assert worst_served(c, communities, n=1)["community_id"].tolist() == ["c2"]


# --- uncovered residential area -------------------------------------------------------------

def test_uncovered_residential():
    crs = "EPSG:32652"
    communities = gpd.GeoDataFrame(
        {"community_id": ["c1", "c2", "p"]},
        geometry=[box(0, 0, 100, 100), box(200, 0, 300, 100), Point(500, 500)], crs=crs)
    covered = gpd.GeoDataFrame(
        {"category": ["kg", "kg", "park"]},
        geometry=[box(-10, -10, 50, 110), box(250, 0, 260, 10), box(-1000, -1000, 1000, 1000)],
        crs=crs)
    before = communities.copy()
    with pytest.warns(UserWarning, match="1 communities are not polygons"):
        u = uncovered_residential(covered, communities)
    pd.testing.assert_frame_equal(pd.DataFrame(communities), pd.DataFrame(before))
    u = u.set_index(["category", "community_id"])
    # kg covers the left half of c1 (5000 m²) and a 10x10 corner of c2 (100 m²)
    assert u.loc[("kg", "c1"), "uncovered_area_m2"] == pytest.approx(5000.0)
    assert u.loc[("kg", "c1"), "uncovered_share"] == pytest.approx(0.5)
    assert u.loc[("kg", "c2"), "uncovered_area_m2"] == pytest.approx(9900.0)
    assert u.loc[("park", "c1"), "uncovered_area_m2"] == 0.0
    assert u.loc[("park", "c2"), "residential_area_m2"] == pytest.approx(10000.0)
    assert len(u) == 4
    # a covered area and the uncovered residue never overlap
    kg_union = covered[covered["category"] == "kg"].geometry.union_all()
    assert u.loc[("kg", "c1"), "geometry"].intersection(kg_union).area == pytest.approx(0.0)


def test_uncovered_residential_geoseries_and_geographic():
    communities = gpd.GeoDataFrame(
        {"community_id": ["c1"]}, geometry=[box(126.60, 45.75, 126.61, 45.76)], crs="EPSG:4326")
    covered = gpd.GeoSeries([box(126.60, 45.75, 126.605, 45.76)], index=["kg"], crs="EPSG:4326")
    u = uncovered_residential(covered, communities)
    assert u.crs.is_projected
    # half the box in degrees is not exactly half its area in metres: the reference projects
    # both boxes with geopandas/pyproj into the CRS the result reports (UTM 52N here)
    assert u.crs.to_epsg() == 32652
    comm_m = communities.to_crs(u.crs).geometry.iloc[0]
    cov_m = covered.to_crs(u.crs).iloc[0]
    expected = comm_m.difference(cov_m).area / comm_m.area  # 0.5000018
    assert u.loc[0, "uncovered_share"] == pytest.approx(expected, rel=1e-9)
    assert u.loc[0, "uncovered_share"] != pytest.approx(0.5, rel=1e-6)


def test_completeness_level_order_and_unjudged_levels():
    # the default profile lists levels 15, 10, 5, block; columns come out 5, 10, 15, block
    prof = load_profile()
    access = make_access({"c1": {"kindergarten": 200, "primary_school": 600}},
                         speeds={"adult": 80.0})
    c = completeness(find_gaps(access, prof, categories=["kindergarten", "primary_school"]), prof)
    cols = [k for k in c.columns if k.startswith("completeness_")]
    assert cols == ["completeness_5", "completeness_10", "completeness_15", "completeness_block"]
    assert c.loc[0, "completeness_5"] == 1.0  # kindergarten 200 <= 300 m
    assert c.loc[0, "completeness_10"] == 0.0  # primary school 600 > 500 m
    assert math.isnan(c.loc[0, "completeness_15"])  # no required category judged there


# --- issue 16 §3: time beside distance, at the profile's sourced speeds --------------------------
# The profile above has no speeds section, so it takes the default profile's (standards.py):
#   elderly          0.8 m/s = 48 m/min (Asher et al. 2012)           = 20.8333 min/km
#   elderly_winter   20.8333 + 2 min/km on ice (Fossum & Ryeng 2021)   = 22.8333 min/km = 43.7956
#   winter           adult 80 m/min = 12.5 min/km + 2                  = 14.5 min/km    = 68.9655
#   carer_with_child 0.88 m/s (Varela-Martínez et al. 2024)            = 52.8 m/min
# The access rows are the adult ones only: the time speed's minutes are distance / its speed.

ADULT = {"adult": 80.0}


@pytest.mark.parametrize(
    ("category", "distance", "speed", "minutes", "met_distance", "met_time"),
    [
        # kindergarten, 5-minute level, 300 m: 290 m complies, but 0.29 km × 22.8333 = 6.62 min
        ("kg", 290, "elderly_winter", 6.6217, True, False),
        # park, 10-minute level, 500 m: 400 m, 0.4 × 22.8333 = 9.13 min: both met
        ("park", 400, "elderly_winter", 9.1333, True, True),
        # 450 m: 10.275 min > 10
        ("park", 450, "elderly_winter", 10.275, True, False),
        # school, 15-minute level, 1000 m: 650 m = 14.84 min met, 700 m = 15.98 min not
        ("school", 650, "elderly_winter", 14.8417, True, True),
        ("school", 700, "elderly_winter", 15.9833, True, False),
        # winter adults: 290 m × 14.5 min/km = 4.205 min; park 700 m = 10.15 min, 700 > 500 m
        ("kg", 290, "winter", 4.205, True, True),
        ("park", 700, "winter", 10.15, False, False),
        # carer with a small child, 52.8 m/min: 290 m = 5.49 min > 5; 260 m = 4.92 min
        ("kg", 290, "carer_with_child", 5.4924, True, False),
        ("kg", 260, "carer_with_child", 4.9242, True, True),
        # elderly 48 m/min: 240 m = 5.0 min, on the line: met
        ("kg", 240, "elderly", 5.0, True, True),
    ],
)
def test_both_judgements_at_the_profile_speeds(profile, category, distance, speed, minutes,
                                               met_distance, met_time):
    access = make_access({"c9": {category: distance}}, speeds=ADULT)
    for criterion, met in (("distance", met_distance), ("time", met_time),
                           ("both", met_distance and met_time)):
        g = find_gaps(access, profile, criterion=criterion, time_speed=speed,
                      categories=[category])
        row = g.iloc[0]
        assert row["time_at_speed_min"] == pytest.approx(minutes, abs=1e-4)
        assert row["time_speed_m_per_min"] == pytest.approx(profile.speed(speed).m_per_min)
        assert (row["met_distance"], row["met_time"]) == (met_distance, met_time)
        assert bool(row["met"]) is met
        assert row["status"] == ("met" if met else "missing")
        assert row["criterion"] == criterion
        assert row["time_speed_profile"] == speed
        # distance_m, time_min and speed_profile stay those of the measured (adult) rows
        assert row["speed_profile"] == "adult"
        assert row["time_min"] == pytest.approx(distance / 80.0)


def test_both_explanation_gives_both_verdicts(profile):
    access = make_access({"c9": {"kg": 290}}, speeds=ADULT)
    g = find_gaps(access, profile, criterion="both", time_speed="elderly_winter",
                  categories=["kg"])
    assert g.loc[0, "explanation_zh"] == (
        "幼儿园：最近步行 290 米，满足 5 分钟生活圈标准 300 米；老年人（冬季冰雪路面）步速需 "
        "6.6 分钟，超过 5 分钟（来源：GB 50180-2018 附录B/C，已核实）")
    assert g.loc[0, "explanation_en"] == (
        "Kindergarten: nearest 290 m walk, within the 5-minute living circle standard of 300 m; "
        "6.6 min at the elderly_winter walking speed, beyond 5 min "
        "(source: GB 50180-2018 附录B/C, verified)")


def test_distance_explanation_keeps_the_measured_minutes(profile):
    # criterion distance: the sentence shows the adult minutes, 290 / 80 = 3.6 min
    access = make_access({"c9": {"kg": 290}}, speeds=ADULT)
    g = find_gaps(access, profile, time_speed="elderly_winter", categories=["kg"])
    assert g.loc[0, "explanation_zh"].startswith("幼儿园：最近步行 290 米（3.6 分钟），满足")


def test_time_judgement_block_level_and_not_reached(profile):
    # the residential block has no minutes: met_time is the distance verdict (60 <= 70 m)
    access = make_access({"c9": {"waste_point": 60, "kg": np.nan}}, speeds=ADULT)
    g = find_gaps(access, profile, criterion="both", time_speed="elderly_winter",
                  categories=["waste_point", "kg"]).set_index("category")
    assert g.loc["waste_point", ["met_distance", "met_time", "met"]].tolist() == [True] * 3
    assert "按距离判定" in g.loc["waste_point", "explanation_zh"]
    assert g.loc["kg", ["met_distance", "met_time", "met"]].tolist() == [False] * 3
    assert g.loc["kg", "status"] == "not_reached"
    assert math.isnan(g.loc["kg", "time_at_speed_min"])


def test_time_speed_must_be_named(profile):
    access = make_access({"c9": {"kg": 290}}, speeds=ADULT)
    with pytest.raises(InputError, match=r"unknown time speed 'running'.*elderly_winter"):
        find_gaps(access, profile, time_speed="running", categories=["kg"])
    with pytest.raises(InputError, match="unknown criterion 'fast'"):
        find_gaps(access, profile, criterion="fast", categories=["kg"])


def test_a_city_profile_overrides_a_speed(tmp_path):
    # a city measures its own older walkers at 0.9 m/s = 54 m/min (Asher et al. 2012, men):
    # elderly_winter then 1000/54 + 2 = 20.5185 min/km; 290 m = 5.95 min
    import yaml

    raw = yaml.safe_load(PROFILE_YAML)
    default = yaml.safe_load(resources.files("livingcircle.profiles").joinpath("default.yaml")
                             .read_text(encoding="utf-8"))
    raw["speeds"] = default["speeds"]
    raw["speeds"]["profiles"]["elderly"].update(m_per_s=0.9, source=["Asher et al. 2012, men"])
    p = tmp_path / "city.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    city = load_profile(p)
    g = find_gaps(make_access({"c9": {"kg": 290}}, speeds=ADULT), city, criterion="time",
                  time_speed="elderly_winter", categories=["kg"])
    assert g.loc[0, "time_speed_m_per_min"] == pytest.approx(1000 / (1000 / 54 + 2))
    assert g.loc[0, "time_at_speed_min"] == pytest.approx(0.29 * (1000 / 54 + 2))
    assert not g.loc[0, "met"]


def test_time_shortfalls_counts_households_once(profile):
    from livingcircle.gaps import time_shortfalls

    # c1: kg 290 m (6.62 min) and park 450 m (10.28 min) met by distance, not by time;
    # c2 (households unknown): kg 290 m; c3: park 400 m (9.13 min) met both ways
    access = make_access({"c1": {"kg": 290, "park": 450}, "c2": {"kg": 290, "park": 900},
                          "c3": {"kg": 320, "park": 400}}, speeds=ADULT)
    g = find_gaps(access, profile, time_speed="elderly_winter", categories=["kg", "park"])
    comm = pd.DataFrame({"community_id": ["c1", "c2", "c3"], "name": ["甲", "乙", "丙"],
                         "households": [420, None, 300]})
    t = time_shortfalls(g, comm)
    assert t[["community_id", "category"]].values.tolist() == [
        ["c1", "kg"], ["c1", "park"], ["c2", "kg"]]
    assert t["time_at_speed_min"].tolist() == pytest.approx([6.6217, 10.275, 6.6217], abs=1e-4)
    per_comm = t.drop_duplicates("community_id")
    assert per_comm["households"].sum() == 420.0
    assert int(per_comm["households"].isna().sum()) == 1
