"""Shared facilities that could be built (issue 16 §4): the profile's site rules in the siting,
LSCP beside MCLP (both with HiGHS), and why a cluster got no proposal.

Hand-worked on the 100 m lattice of ``test_clusters`` and on small cover matrices; the sample
district checks the two proposals issue 16 quotes (a 初中 in an 80 m² shop, 养老院 in 160 m²
shops) are gone.
"""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import lattice, points
from test_clusters import COMM, WALK_MIN, lattice_parts

import livingcircle as lc
from livingcircle import clusters as C
from livingcircle import siting as S
from livingcircle.standards import site_fit

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def case():
    """The lattice of test_clusters: clusters K01 = A, B, C (+ F) and K02 = D, E."""
    p = lattice_parts()
    net, comm, prof, gaps, sites = (p["network"], p["communities"], p["profile"], p["gaps"],
                                    p["sites"])
    acc = p["access"]
    cl, mem = C.find_clusters({"communities": comm, "gaps": gaps, "access": acc, "network": net,
                               "profile": prof, "speed_profile": "adult"},
                              max_walk_min=WALK_MIN, max_households=None, max_members=None)
    sd = S.site_distances(net, comm, sites, profile=prof)
    return {"gaps": gaps, "profile": prof, "sites": sites, "members": mem, "sd": sd}


def _site(case, categories, sites=None, **kw):
    notes: list = []
    prop = S.site_facilities(case["members"], case["gaps"], case["sd"],
                             case["sites"] if sites is None else sites, case["profile"],
                             categories=categories, not_sited=notes, **kw)
    return prop, pd.DataFrame(notes, columns=["cluster_id", "category", "reason"])


# --- the profile's rules decide the site ---------------------------------------------------------

def test_category_without_sourced_minimum_waits_for_the_planners_confirmation(case):
    # 非机动车停车场 goes on open land only (vacant lots) and the profile has no sourced minimum
    # area for it: S2 (vacant lot, 400 m², 150 m threshold: A 100, F 100) is not proposed until
    # the planner confirms its area
    p = case["profile"]
    assert p.site_rule("bicycle_parking_charging").min_area_m2 is None
    assert site_fit(p, "bicycle_parking_charging", "vacant_lot", 400.0) == "area_to_confirm"
    prop, notes = _site(case, ["bicycle_parking_charging"])
    assert len(prop) == 0
    assert notes.set_index("cluster_id").loc["K01", "reason"] == "area_not_confirmed"
    confirmed = case["sites"].assign(area_confirmed=[False, True, False, False])
    prop, _ = _site(case, ["bicycle_parking_charging"], sites=confirmed)
    assert prop["site_id"].tolist() == ["S2"]
    assert prop["area_status"].tolist() == ["confirmed_by_planner"]
    assert prop["communities_newly_served"].tolist() == ["A;F"]
    assert prop["households_newly_served"].tolist() == [100.0 + 50.0]


def test_too_small_and_incompatible_sites_are_never_used(case):
    # 社区服务站 needs 600 m² of floor area (城市社区嵌入式服务设施建设导则 2023, in the profile):
    # S1 (50 m²) is too small, S2 and S4 are vacant lots (compatible, 400 m² too small and
    # 1000 m² far away), S3 has no known area -> S3 'to be confirmed' for C (200 + 100 m)
    prop, _ = _site(case, ["community_service_station"])
    assert prop[["cluster_id", "site_id", "area_status"]].values.tolist() == [
        ["K01", "S3", "to_be_confirmed"]]
    # a confirmed area never overrides a known one that is too small
    confirmed = case["sites"].assign(area_confirmed=[True, True, False, False])
    prop2, notes = _site(case, ["community_service_station"], sites=confirmed)
    assert prop2["site_id"].tolist() == ["S3"]
    # K02 (D, E): only S3 is within 300 m of D, and K01 took it
    assert notes.set_index("cluster_id").loc["K02", "reason"] == "sites_taken"


def test_district_planning_categories_are_never_sited(case):
    # 黑政办规〔2021〕15号 lists schools, 养老院 and 社区卫生服务中心 as no community's
    # renovation content: the profile marks them district planning (上级规划统筹)
    prop, notes = _site(case, ["community_health_center", "primary_school"])
    assert len(prop) == 0
    got = notes[notes["category"] != ""].sort_values(["cluster_id", "category"])
    assert got[["cluster_id", "category", "reason"]].values.tolist() == [
        ["K01", "community_health_center", "district_planning"],
        ["K01", "primary_school", "district_planning"],
        ["K02", "community_health_center", "district_planning"],
        ["K02", "primary_school", "district_planning"],
    ]
    # nothing else is left to site: each cluster also says so
    assert notes.loc[notes["category"] == "", "reason"].tolist() == ["no_gap_to_site"] * 2


def test_network_nodes_are_sites_of_unknown_area(case):
    # with no candidate sites, network nodes stand in: a category with a sourced minimum goes
    # there 'to be confirmed', one without a minimum and a district one never
    nodes = points(["N1"], [(200, 300)], "site_id", site_type=["network_node"],
                   floor_area_m2=[np.nan])
    sd = S.site_distances(lattice(11), points(list(COMM), list(COMM.values()), "community_id"),
                          nodes, profile=case["profile"])
    notes: list = []
    prop = S.site_facilities(case["members"], case["gaps"], sd, nodes, case["profile"],
                             categories=["postal_express_station", "bicycle_parking_charging",
                                         "nursing_home"], not_sited=notes)
    # N1 (200, 300), 150 m: B 100, A 200 + 100 too far, F 100 -> postal station for B and F
    assert prop[["site_id", "category", "area_status", "communities_newly_served"]
                ].values.tolist() == [["N1", "postal_express_station", "to_be_confirmed", "B;F"]]
    reasons = {(n["cluster_id"], n["category"]): n["reason"] for n in notes}
    assert reasons[("K01", "nursing_home")] == "district_planning"
    assert reasons[("K01", "bicycle_parking_charging")] == "area_not_confirmed"


# --- LSCP beside MCLP ---------------------------------------------------------------------------

def test_lscp_fewest_sites_on_a_hand_case():
    # rows 0..5 coverable, row 6 by no site. S2 covers the most (0, 1, 3, 4), so a greedy set
    # cover takes it and then needs S0 (row 2) and S1 (row 5): 3 sites; S0 + S1 cover all six.
    cover = np.array([
        # S0 S1 S2
        [1, 0, 1],  # 0
        [1, 0, 1],  # 1
        [1, 0, 0],  # 2
        [0, 1, 1],  # 3
        [0, 1, 1],  # 4
        [0, 1, 0],  # 5
        [0, 0, 0],  # 6: no site reaches it
    ], dtype=bool)
    chosen, left = S.solve_lscp(cover)
    assert chosen.tolist() == [0, 1]
    assert left.tolist() == [False] * 6 + [True]
    # one site covering every coverable row needs no solver
    chosen1, left1 = S.solve_lscp(cover[[0, 1, 3], :])
    assert chosen1.tolist() == [2] and not left1.any()
    # nothing coverable: nothing chosen, every row reported
    chosen0, left0 = S.solve_lscp(np.zeros((2, 3), dtype=bool))
    assert chosen0.tolist() == [] and left0.tolist() == [True, True]


def test_lscp_on_the_lattice_says_which_members_no_site_can_reach(case):
    # 邮政快递末端综合服务站 (150 m, ≥ 15 m²; none exists): K01's members A, B, C. S1 (250, 200)
    # reaches B and C (50 m each); A (0, 200) is 100 m from S2 (0, 300), a vacant lot of 400 m².
    # The fewest sites for A, B and C: S1 + S2. K02's members D (600, 200) and E (800, 200):
    # S3 (500, 300) is 200 m from D and no other site is within 150 m of either -> none, and D
    # and E are named
    prop, _ = _site(case, ["postal_express_station"], model="lscp")
    got = prop[["cluster_id", "site_id", "communities_newly_served",
                "communities_not_coverable"]].values.tolist()
    assert got == [["K01", "S1", "B;C", ""], ["K01", "S2", "A;F", ""]]
    assert prop["households_newly_served"].tolist() == [220.0, 150.0]
    # the MCLP with one site serves the most households instead: S1 (220) and stops; it still
    # names the member no compatible site reaches (none in K01)
    mclp, notes = _site(case, ["postal_express_station"], model="mclp")
    assert mclp["site_id"].tolist() == ["S1"]
    assert notes.set_index("cluster_id").loc["K02", "reason"] == "no_site_in_reach"


def test_lscp_lists_the_uncoverable_members(case):
    # kindergarten (300 m; on a vacant lot of ≥ 1500 m², GB 50180-93 in the profile):
    # K01's B and C are reached by S1 (boiler room: incompatible), S2 (vacant lot 400 m²: too
    # small; B 200 + 100) and S3 (shop: incompatible) -> 'sites_too_small'; K02's D is reached
    # by S3 only (200 + 100) -> 'no_compatible_site'; S4 is 1000 m from D and 800 m from E
    prop, notes = _site(case, ["kindergarten"], model="lscp")
    assert len(prop) == 0
    assert notes[["cluster_id", "reason"]].values.tolist() == [
        ["K01", "sites_too_small"], ["K02", "no_compatible_site"]]
    # a vacant lot of unknown area at (700, 300): D 100 + 100, E 100 + 100 -> one site, to be
    # confirmed, serving both; a member beyond it is named
    lot = gpd.GeoDataFrame(pd.concat([case["sites"], points(
        ["S5"], [(700, 300)], "site_id", site_type=["vacant_lot"], floor_area_m2=[np.nan])],
        ignore_index=True), crs=case["sites"].crs)
    comm = points(list(COMM), list(COMM.values()), "community_id")
    sd = S.site_distances(lattice(11), comm, lot, profile=case["profile"])
    prop = S.site_facilities(case["members"], case["gaps"], sd, lot, case["profile"],
                             categories=["kindergarten"], model="lscp")
    assert prop[["cluster_id", "site_id", "area_status", "communities_newly_served"]
                ].values.tolist() == [["K02", "S5", "to_be_confirmed", "D;E"]]


def test_unknown_siting_model_lists_the_valid_ones(case):
    with pytest.raises(lc.InputError, match=r"valid models: \['mclp', 'lscp'\]"):
        _site(case, ["kindergarten"], model="pmedian")
    # the run stops before reading anything
    with pytest.raises(lc.InputError, match=r"--siting 'p-median'.*\['mclp', 'lscp'\]"):
        lc.run(communities="no-such-file.gpkg", siting="p-median", progress=False)
    from livingcircle.options import BY_NAME, options_of

    assert BY_NAME["siting"].default == "mclp"
    assert {"siting"} <= {o.name for o in options_of("recommend")}


# --- the planner's confirmation in a real file ---------------------------------------------------

def test_area_confirmed_read_from_a_geopackage(tmp_path):
    # a sites table as a planner writes it: Chinese headers, 是/否/empty in 面积已确认
    gdf = gpd.GeoDataFrame({"用地编号": ["S1", "S2", "S3"], "用地类型": ["锅炉房", "空地", "底商"],
                            "建筑面积": [430.0, None, 80.0], "面积已确认": ["是", "否", None]},
                           geometry=gpd.points_from_xy([126.60, 126.61, 126.62],
                                                       [45.75, 45.75, 45.75]), crs=4326)
    path = tmp_path / "sites.gpkg"
    gdf.to_file(path, driver="GPKG")
    sites = lc.read_sites(path)
    assert sites["area_confirmed"].tolist() == [True, False, pd.NA]
    assert str(sites["area_confirmed"].dtype) == "boolean"


# --- the sample district -------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["mclp", "lscp"])
def test_sample_proposals_follow_the_site_rules(sample_result, model):
    out = C.recommend(sample_result, siting=model)
    prop = out["proposed_sites"]
    prof = lc.load_profile()
    assert len(prop) > 0
    # issue 16: "today's default 片区联动 run places a 初中 in an 80 m² shop and 养老院 in 160 m²
    # shops" -- no district category is proposed, and every site fits or waits for confirmation
    district = {c for c, cat in prof.categories.items() if cat.district_planning}
    assert {"junior_high_school", "nursing_home"} <= district
    assert not set(prop["category"]) & district
    fits = [site_fit(prof, c, t, a) for c, t, a in
            zip(prop["category"], prop["site_type"], prop["floor_area_m2"], strict=True)]
    assert set(fits) <= {"fits", "area_to_confirm"}
    assert ((np.array(fits) == "fits") == (prop["area_status"] == "meets_minimum")).all()
    # S22 (80 m² shop) and S08/S15 (160 m² shops) hold nothing the rules forbid
    small = prop[prop["site_id"].isin(["S08", "S15", "S22"])]
    assert all(site_fit(prof, c, "ground_floor_shop", a) == "fits"
               for c, a in zip(small["category"], small["floor_area_m2"], strict=True))
    if model == "lscp":  # every unserved member of a sited category is served or named
        gaps = sample_result.layers["gaps"]
        unmet = set(zip(gaps.loc[~gaps["met"].astype(bool), "community_id"].astype(str),
                        gaps.loc[~gaps["met"].astype(bool), "category"], strict=True))
        mem = out["cluster_members"]
        for (cid, cat), rows in prop.groupby(["cluster_id", "category"]):
            members = mem.loc[(mem["cluster_id"] == cid) & (mem["role"] == "member"),
                              "community_id"].astype(str)
            want = {m for m in members if (m, cat) in unmet}
            served = {x for v in rows["communities_newly_served"] for x in v.split(";") if x}
            named = {x for v in rows["communities_not_coverable"] for x in v.split(";") if x}
            assert want == (served | named) & want and not served & named
    # every cluster has a proposal or says why not
    cl = out["clusters"]
    none = cl["n_new_facilities"] == 0
    assert (cl.loc[none, "siting_note_en"].str.len() > 0).all()
    assert (cl.loc[~none, "siting_note_en"] == "").all()


def test_report_cluster_table_says_why_a_cluster_got_no_proposal(case):
    # the report's 片区 table: a cluster with a proposal keeps its ranking reason, one without
    # says why none was made (issue 16 §4), in the report's language
    from types import SimpleNamespace

    from livingcircle import report

    prof = case["profile"]
    notes: list = []
    prop = S.site_facilities(case["members"], case["gaps"], case["sd"], case["sites"], prof,
                             categories=["postal_express_station"], not_sited=notes)
    cl = pd.DataFrame({"cluster_id": ["K01", "K02"], "member_ids": ["A;B;C", "D;E"],
                       "n_new_facilities": [1, 0], "reason_zh": ["第 1 位", "第 2 位"],
                       "reason_en": ["rank 1", "rank 2"]})
    cl = C._siting_notes(cl, notes, prof)
    assert prop["cluster_id"].tolist() == ["K01"]
    for lang, why in (("zh", "标准步行距离内无候选用地：邮政快递末端综合服务站"),
                      ("en", "no candidate site within the threshold: postal_express_station")):
        t = report._clusters(SimpleNamespace(layers={"clusters": cl}), lang)
        rows = {r[0]: r[-1] for r in t["rows"]}
        assert rows == {"K01": "第 1 位" if lang == "zh" else "rank 1", "K02": why}
