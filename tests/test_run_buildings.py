"""Buildings (楼栋) and the heritage layer through a whole run (issue 16 §1, §2).

``livingcircle run --buildings ... --heritage ...`` on the sample district through the command
line, and a hand-worked community whose buildings decide its scope and its building needs.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

import livingcircle as lc
from livingcircle.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning",
                                        "ignore::DeprecationWarning")

SAMPLE = lc.sample_paths()


def _layer(path, name):
    return pyogrio.read_dataframe(path, layer=name, read_geometry=False)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The sample's buildings as the CSV survey (WGS84 stated per file) and its heritage layer;
    the area is a city (--location-type)."""
    out = tmp_path_factory.mktemp("bld") / "out"
    csv = SAMPLE["buildings"].with_name("buildings.csv")
    assert main(["run", "--osm", str(SAMPLE["osm"]), "--communities", str(SAMPLE["communities"]),
                 "--facilities", str(SAMPLE["facilities"]), "--buildings", str(csv),
                 "--crs", f"{csv}=wgs84", "--heritage", str(SAMPLE["heritage"]),
                 "--location-type", "city", "--out", str(out), "--no-progress"]) == 0
    return csv, out / "livingcircle.gpkg"


def test_cli_buildings_layer_holds_every_building_or_its_reason(cli_run):
    csv, gpkg = cli_run
    raw = pd.read_csv(csv, dtype=str, encoding="utf-8-sig")
    b = _layer(gpkg, "buildings")
    diag = _layer(gpkg, "diagnostics")
    dropped = diag[(diag["layer"] == "buildings") & (diag["action"] == "dropped")]
    # nothing silently dropped: every row of the survey is a building or a diagnostics record
    assert len(b) + len(dropped) == len(raw)
    assert set(b["building_id"]) | set(dropped["feature_id"]) == set(raw["楼栋编号"])
    # grade D (危房) is never in scope by its build year: unknown, flagged, with the note
    d_ids = set(raw.loc[raw["鉴定等级"].str.removesuffix("级") == "D", "楼栋编号"])
    assert d_ids and set(b.loc[b["grade_d"].astype(bool), "building_id"]) == d_ids
    d = b[b["building_id"].isin(d_ids)]
    assert (d["in_scope"] == "unknown").all()
    assert d["note_zh"].str.startswith("危房（安全鉴定D级）").all()
    assert d["reasons"].str.contains("grade_d_danger").all()


def test_cli_community_counts_are_the_sums_of_its_buildings(cli_run):
    _, gpkg = cli_run
    b = _layer(gpkg, "buildings")
    comm = _layer(gpkg, "communities").set_index("community_id")
    yes = b[b["in_scope"] == "yes"]
    by = b.groupby("community_id")
    assert (comm.loc[by.size().index, "n_buildings"] == by.size()).all()
    n_yes = yes.groupby("community_id").size()
    assert (comm.loc[n_yes.index, "n_buildings_in_scope"] == n_yes).all()
    hh = yes.groupby("community_id")["households"].sum()
    assert (comm.loc[hh.index, "households_in_scope"] == hh).all()
    n_d = b[b["grade_d"].astype(bool)].groupby("community_id").size()
    assert (comm.loc[n_d.index, "n_grade_d"] == n_d).all()
    # a community with buildings takes its scope from them
    assert (comm.loc[by.size().index, "scope_from"] == "buildings").all()
    # ... unless the community's location says otherwise (二(一)'s list is the community's):
    # C027 lies in a 建制镇 (out: its own value wins over --location-type city); C061 has no
    # location_type, so the area's (城市) stands for it and its buildings put it in
    has_yes = comm.index.isin(n_yes.index)
    assert comm.loc[has_yes, "in_scope"].to_dict() == {
        c: "no" if c == "C027" else "yes" for c in comm.index[has_yes]}
    assert comm.loc["C027", "scope_reasons"].startswith("location_not_eligible")
    assert "unknown_location_type" not in comm.loc["C061", "scope_reasons"]
    meta = lc.load_result(gpkg.parent).metadata
    rule = meta["renovation_rules"]["location_eligibility"]
    assert (rule["applied"], rule["area_value"]) == ("yes", "city")
    assert "a community's own value wins" in rule["en"]
    # the buildings' coordinates checked against their own communities (task item 4)
    entry = next(e for e in meta["inputs"] if e.get("role") == "buildings")
    assert entry["community_check"]["verdict"] == "fits"
    assert entry["community_check"]["median_m"]["wgs84"] == 0.0


def test_cli_heritage_layer_marks_the_communities_it_touches(cli_run):
    _, gpkg = cli_run
    comm = _layer(gpkg, "communities").set_index("community_id")
    # heritage.py's doctest: the layer touches these five on the sample
    marked = comm.index[comm["heritage"].astype(bool)].tolist()
    assert marked == ["C007", "C012", "C021", "C025", "C037"]
    assert comm.loc["C037", "heritage_from"] == "layer"
    assert comm.loc["C037", "heritage_names"] == "红旗小区老水塔（合成）"
    needs = _layer(gpkg, "needs")
    prot = needs.groupby("community_id")["protection_requirement"].first()
    assert prot.loc["C037"].endswith("（黑政办规〔2021〕15号 四(三)4）")


# --- a hand-worked community ---------------------------------------------------------------
# C022 (振兴名苑) says of itself: built 2001, safety grade A, complete units, elevator: out of
# scope by 黑政办规〔2021〕15号 二(一). Its buildings say otherwise:
#   H1 1995, 6 floors, no elevator, 60 households   → in: “2000 年底前建成”; elevator (≥ 4 floors)
#   H2 2008, 5 floors, no elevator, grade C, 40 hh   → in: “2000 年后建成并被鉴定为安全 C 级”;
#                                                      elevator and building safety
#   H3 2012, 18 floors, elevator, grade A, 200 hh    → out
#   H4 1990, 3 floors, grade D, 24 hh                → unknown: 危房, appraisal first
#   H5 1998, 3 floors, no own kitchen/bath, hh ?     → in: 2000 年底前 and 非成套; unit completion
HAND = pd.DataFrame({
    "楼栋编号": ["H1", "H2", "H3", "H4", "H5"],
    "小区编号": ["C022"] * 5,
    "建成年代": ["1995", "2008", "2012", "1990", "1998"],
    "层数": ["6", "5", "18", "3", "3"],
    "电梯": ["无", "无", "有", "无", "无"],
    "鉴定等级": [None, "C", "A", "D", None],
    "独立厨卫": ["是", "是", "是", "是", "否"],
    "户数": ["60", "40", "200", "24", None],
})


@pytest.fixture(scope="module")
def hand_run(tmp_path_factory):
    """C022 with the five buildings, among its 11 nearest neighbours of the sample (a whole run
    of these 12 communities: what a building changes is the community's own)."""
    folder = tmp_path_factory.mktemp("hand")
    comm = gpd.read_file(SAMPLE["communities"])
    centres = comm.to_crs(32652).geometry.centroid
    c022 = centres[comm["community_id"] == "C022"].iloc[0]
    near = comm.iloc[centres.distance(c022).sort_values(kind="stable").index[:12]]
    assert "C022" in set(near["community_id"])
    pyogrio.write_dataframe(near, folder / "communities.gpkg")
    p = comm.set_index("community_id").loc["C022", "geometry"].representative_point()
    gdf = gpd.GeoDataFrame(HAND, geometry=gpd.points_from_xy([p.x] * 5, [p.y] * 5), crs=4326)
    path = folder / "楼栋.gpkg"
    pyogrio.write_dataframe(gdf, path)
    return lc.run(osm=SAMPLE["osm"], communities=folder / "communities.gpkg",
                  facilities=SAMPLE["facilities"], buildings=path, clusters=False,
                  progress=False)


def test_hand_worked_buildings_decide_the_communitys_scope(hand_run):
    comm = hand_run.layers["communities"].set_index("community_id")
    c = comm.loc["C022"]
    assert (c["in_scope"], c["scope_from"]) == ("yes", "buildings")
    assert c["scope_reasons"] == "built_by_2000:2;after_2000_grade_c:1;non_complete_units:1"
    assert (c["n_buildings"], c["n_buildings_in_scope"], c["households_in_scope"],
            c["households_in_scope_unknown"], c["n_grade_d"], c["grade_d_buildings"],
            c["n_elevator_retrofit"]) == (5, 3, 100, 1, 1, "H4", 2)
    # every other community keeps its own attributes: no building, counts unknown
    others = comm.drop(index="C022")
    assert len(others) == 11
    assert (others["scope_from"] == "community").all() and (others["n_buildings"] == 0).all()
    assert others["households_in_scope"].isna().all()
    scope = hand_run.layers["scope"].set_index("community_id")
    assert scope.loc["C022", "scope_from"] == "buildings"


def test_hand_worked_building_needs_replace_the_community_attributes(hand_run):
    needs = hand_run.layers["needs"]
    n = needs[(needs["community_id"] == "C022") & (needs["trigger"] == "building")]
    got = {r.item_id: (r.assessment, r.building_ids) for r in n.itertuples()}
    assert got == {"elevator_retrofit": ("need", "H1;H2"),
                   "building_safety": ("need", "H2"),
                   "unit_completion": ("need", "H5")}
    # the community's own attribute rows of these items are gone (its buildings decide)
    own = needs[(needs["community_id"] == "C022") & (needs["trigger"] == "attribute")]
    assert not own["item_id"].isin(["elevator_retrofit", "building_safety",
                                    "unit_completion"]).any()
    b = hand_run.layers["buildings"].set_index("building_id")
    assert b.loc["H2", "needs"] == "elevator_retrofit;building_safety"
    assert b.loc["H3", "in_scope"] == "no" and b.loc["H3", "needs"] == ""
