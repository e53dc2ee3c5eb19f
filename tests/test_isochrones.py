import importlib
import logging
import os

import numpy as np
import pytest
from conftest import CRS, X0, Y0, lattice, points, xy

from livingcircle.accessibility import measure_access
from livingcircle.isochrones import isochrones


def _proj(iso, crs="EPSG:32652"):
    return iso.to_crs(crs)


def test_partial_edges_are_cut_exactly_at_the_threshold():
    net = lattice()
    comm = points(["A"], [(0, 0)], "community_id")
    iso = _proj(isochrones(net, comm, minutes=[1.5], speed_profiles=[100.0], buffer_m=1.0))
    poly = iso.geometry.iloc[0]
    assert iso["walk_m"].iloc[0] == pytest.approx(150.0)
    for inside in [(149, 0), (0, 149), (100, 49), (49, 100), (50, 0)]:
        assert poly.contains(xy(*inside)), inside
    for outside in [(152, 0), (0, 152), (100, 52), (52, 100), (200, 0)]:
        assert not poly.contains(xy(*outside)), outside
    # independent reference: the streets within 150 m, cut by hand (400 m in all), each
    # buffered by 1 m with 4 segments per quarter circle (the package's documented resolution,
    # isochrones.QUAD_SEGS) and united: 801.888 m². A cut 1 cm off at the four open ends would
    # change the area by 4 × 2 × 0.01 = 0.08 m²; the polygon went through EPSG:4326 and back
    # (_proj), which costs < 1e-6 relative (measured 1.4e-11)
    import shapely

    reach = [((0, 0), (150, 0)), ((0, 0), (0, 150)), ((100, 0), (100, 50)),
             ((0, 100), (50, 100))]
    lines = [shapely.LineString([xy(*a), xy(*b)]) for a, b in reach]
    ref = shapely.union_all(shapely.buffer(lines, 1.0, quad_segs=4)).area
    assert ref == pytest.approx(801.888, abs=1e-3)
    assert poly.area == pytest.approx(ref, rel=1e-6)
    assert iso["area_m2"].iloc[0] == round(ref, 1)  # the layer rounds to 0.1 m²


def test_nested_and_faster_never_shrinks():
    net = lattice(7)
    comm = points(["A", "B"], [(300, 300), (120, 0)], "community_id")
    acc = measure_access(net, comm, comm.rename(columns={"community_id": "facility_id"})
                         .assign(categories="kindergarten"), speed_profiles=["winter", "adult"])
    iso = _proj(isochrones(acc, minutes=(5, 10, 15)))
    for _key, grp in iso.groupby(["community_id", "speed_profile"]):
        g = grp.sort_values("minutes").geometry.tolist()
        assert g[0].buffer(1e-6).contains(g[0])
        assert g[1].buffer(1e-6).contains(g[0]) and g[2].buffer(1e-6).contains(g[1])
    for cid in ["A", "B"]:
        for m in (5, 10, 15):
            slow = iso[(iso.community_id == cid) & (iso.minutes == m)
                       & (iso.speed_profile == "winter")].geometry.iloc[0]
            fast = iso[(iso.community_id == cid) & (iso.minutes == m)
                       & (iso.speed_profile == "adult")].geometry.iloc[0]
            assert fast.buffer(1e-6).contains(slow)
    a = iso[iso.community_id == "A"]
    assert (a["ped_shed_ratio"] > 0).all() and (a["ped_shed_ratio"] < 1.2).all()


def test_holes_kept_where_the_network_does_not_reach():
    # remove the streets around nothing: a 3x3 lattice of 300 m blocks leaves holes in the middle
    net = lattice(4, spacing=300.0)
    comm = points(["A"], [(0, 0)], "community_id")
    iso = _proj(isochrones(net, comm, minutes=[30], speed_profiles=[100.0], buffer_m=25))
    poly = iso.geometry.iloc[0]
    assert not poly.contains(xy(150, 150))  # the middle of a block
    assert poly.contains(xy(150, 0))


def test_unattached_origin_gives_empty_isochrone():
    net = lattice()
    comm = points(["FAR"], [(5000, 5000)], "community_id")
    iso = isochrones(net, comm, minutes=[5])
    assert iso["area_m2"].iloc[0] == 0 and not iso["reached"].iloc[0]
    assert np.isfinite(iso["circle_area_m2"].iloc[0])


def test_coverage_area_of_a_category_and_the_residential_area_it_leaves():
    import geopandas as gpd
    import shapely

    from livingcircle.coverage import coverage_areas
    from livingcircle.gaps import uncovered_residential

    net = lattice()
    fac = points(["K"], [(0, 0)], "facility_id", categories=["kindergarten"])
    blocks = [shapely.box(xy(10, 10).x, xy(10, 10).y, xy(90, 90).x, xy(90, 90).y),
              shapely.box(xy(310, 310).x, xy(310, 310).y, xy(390, 390).x, xy(390, 390).y)]
    comm = gpd.GeoDataFrame({"community_id": ["NEAR", "FAR"]}, geometry=blocks, crs=CRS)
    acc = measure_access(net, comm, fac)
    cov = _proj(coverage_areas(acc, fac, buffer_m=1.0, categories=["kindergarten"]))
    poly = cov.geometry.iloc[0]
    # 300 m from the corner node: along the streets, cut exactly at 300 m
    assert poly.contains(xy(299, 0)) and not poly.contains(xy(302, 0))
    assert poly.contains(xy(100, 199)) and not poly.contains(xy(100, 202))
    # with a 25 m buffer, the street-side strips of the near block are covered, not the far block
    cov = coverage_areas(acc, fac, buffer_m=25.0, categories=["kindergarten"])
    unc = uncovered_residential(cov, comm.to_crs(4326))
    far = unc[(unc.community_id == "FAR") & (unc.category == "kindergarten")]
    assert far["uncovered_area_m2"].iloc[0] == pytest.approx(80 * 80, rel=1e-3)
    assert far["uncovered_share"].iloc[0] == pytest.approx(1.0)
    near = unc[(unc.community_id == "NEAR") & (unc.category == "kindergarten")]
    # the block is 10 m from a street on all four sides: 15 m deep strips are covered,
    # a 50 m x 50 m core is not
    # (the buffers' edges inside the block are straight: the core is exactly 50 m × 50 m; the
    # block went through EPSG:4326 and back, measured 4e-12 relative)
    expected = (50 * 50) / (80 * 80)
    assert near["uncovered_share"].iloc[0] == pytest.approx(expected, rel=1e-9)
    assert near["uncovered_area_m2"].iloc[0] == pytest.approx(50 * 50, rel=1e-9)


# --- the fast path gives the same polygons as uniting every reached piece's buffer -------------


def _naive_isochrone(acc, i, T, buffer_m):
    """Reference: buffer every reachable street piece (networkx distances, shapely substrings).

    The network distances come from networkx's Dijkstra over the split graph's segments (every
    street piece and every point's offset leg), not from livingcircle.routing's search; the cut
    rule is written out here: a piece reached from both ends within T is whole, else each end
    reached keeps T − d of it.
    """
    import networkx as nx
    import shapely
    from shapely.ops import substring

    g, edges = acc.graph, acc.edge_table
    G = nx.Graph()
    G.add_nodes_from(range(g.n_nodes))
    for a, b, L in zip(g.seg_a.tolist(), g.seg_b.tolist(), g.seg_len.tolist(), strict=True):
        if not G.has_edge(a, b) or G[a][b]["length"] > L:
            G.add_edge(a, b, length=L)
    starts = [int(n) for n in np.atleast_1d(acc.community_nodes[i])]
    reached = nx.multi_source_dijkstra_path_length(G, starts, cutoff=T, weight="length")
    d = np.full(g.n_nodes, np.inf)
    d[list(reached)] = list(reached.values())
    pieces = []
    for k in np.flatnonzero(g.seg_edge >= 0):
        da, db, L = d[g.seg_a[k]], d[g.seg_b[k]], g.seg_len[k]
        geom, t0, t1 = edges.geometry[g.seg_edge[k]], g.seg_t0[k], g.seg_t1[k]
        if da <= T and db <= T and (da + db + L) / 2 <= T:
            pieces.append(substring(geom, t0, t1))
            continue
        if da < T:
            pieces.append(substring(geom, t0, t0 + min(L, T - da)))
        if db < T:
            pieces.append(substring(geom, t1 - min(L, T - db), t1))
    pieces = [p for p in pieces if p.length > 1e-9]
    return shapely.union_all(shapely.buffer(np.array(pieces, dtype=object), buffer_m, quad_segs=4))


@pytest.mark.parametrize("threads", [1, 2])
def test_cells_and_cached_buffers_give_the_naive_polygons(curvy_access, threads):
    import shapely

    acc = curvy_access
    iso = _proj(isochrones(acc, minutes=(2, 5, 9), buffer_m=12.0, threads=threads))
    for i, cid in enumerate(acc.communities["community_id"]):
        for m in (2, 5, 9):
            got = iso[(iso.community_id == cid) & (iso.minutes == m)].geometry.iloc[0]
            ref = _naive_isochrone(acc, i, m * 60.0, 12.0)
            assert got.is_valid
            assert shapely.symmetric_difference(got, ref).area < 1e-4 * max(ref.area, 1.0)
            # every block reached all round is a hole, once (blocks go back in as holes)
            assert shapely.get_num_interior_rings(got) == shapely.get_num_interior_rings(ref)


def test_chunks_and_an_emptied_cache_change_nothing(curvy_access, monkeypatch):
    import pandas as pd
    import shapely

    from livingcircle import settings
    from livingcircle.isochrones import iter_isochrones

    acc = curvy_access
    whole = _proj(isochrones(acc, minutes=(3, 7), buffer_m=10.0))
    monkeypatch.setattr(settings, "isochrone_cache_vertices", 500)  # empties again and again
    chunks = list(iter_isochrones(acc, minutes=(3, 7), buffer_m=10.0, chunk_size=5))
    assert [len(c) for c in chunks] == [10, 10, 4]
    parts = _proj(pd.concat(chunks)).set_index(["community_id", "minutes"])
    whole = whole.set_index(["community_id", "minutes"])
    assert set(parts.index) == set(whole.index)
    for key in whole.index:
        a, b = whole.geometry.loc[key], parts.geometry.loc[key]
        assert shapely.symmetric_difference(a, b).area < 1e-6 * max(a.area, 1.0)
    with pytest.raises(ValueError, match="chunk_size"):
        next(iter_isochrones(acc, chunk_size=0))
    with pytest.raises(ValueError, match="minutes"):
        next(iter_isochrones(acc, minutes=(0, 5)))


def test_isochrones_in_chunks_keep_the_communities_order_and_polygons(curvy_access,
                                                                       monkeypatch):
    import importlib

    iso_mod = importlib.import_module("livingcircle.isochrones")  # the package shadows it
    acc = curvy_access
    one = isochrones(acc, minutes=(3, 7), buffer_m=10.0)  # 12 communities: one chunk
    monkeypatch.setattr(iso_mod, "ISOCHRONE_CHUNK", 5)
    acc.__dict__.pop("_isochrone_makers", None)
    chunked = isochrones(acc, minutes=(3, 7), buffer_m=10.0)  # three chunks, spatial order
    ids = acc.communities["community_id"].astype(str).tolist()
    assert chunked["community_id"].tolist() == [c for c in ids for _m in (3, 7)]
    assert chunked.drop(columns="geometry").equals(one.drop(columns="geometry"))
    assert all(a.equals_exact(b, 0.0) for a, b in zip(one.geometry, chunked.geometry,
                                                      strict=True))


def _drawn_by(acc, monkeypatch, **kw):
    """The curvy case's isochrones in chunks of 5 and tasks of 2 (several of each)."""
    import importlib

    from livingcircle import settings

    iso_mod = importlib.import_module("livingcircle.isochrones")
    monkeypatch.setattr(iso_mod, "ISOCHRONE_CHUNK", 5)
    monkeypatch.setattr(iso_mod, "ISOCHRONE_TASK", 2)
    monkeypatch.setattr(settings, "process_pool_min_communities", 0)
    acc.__dict__.pop("_isochrone_makers", None)
    return isochrones(acc, minutes=(3, 7), buffer_m=10.0, speed_profiles=[60.0, 90.0], **kw)


def _same_rows(a, b):
    assert a.drop(columns="geometry").equals(b.drop(columns="geometry"))
    assert a.crs == b.crs
    for x, y in zip(a.geometry, b.geometry, strict=True):
        assert x.equals_exact(y, 1e-9)  # WKB keeps every bit: equal within 1e-9 degree
        assert x.equals_exact(y, 0.0)


def test_two_worker_processes_draw_the_same_polygons_as_one(curvy_access, monkeypatch):
    from livingcircle import _parallel

    acc = curvy_access
    one = _drawn_by(acc, monkeypatch, workers=1)
    pools = []
    real = _parallel.StreamWorkers.__enter__

    def kept(self):
        pools.append(self)
        return real(self)

    monkeypatch.setattr(_parallel.StreamWorkers, "__enter__", kept)
    two = _drawn_by(acc, monkeypatch, workers=2)
    assert len(one) == 12 * 2 * 2 and one["reached"].all()
    _same_rows(one, two)
    # the local pool drew them in 2 streams (halves of the communities in spatial order):
    # 12 communities (6 per half) in chunks of 5 are 2 rounds of 3 per half, in tasks of 2
    (pool,) = pools
    assert sorted(pool.ran_by) == [(k, s, j) for k in range(2) for s in range(2)
                                   for j in range(2)]
    assert set(pool.ran_by.values()) <= {0, 1}


def _probe(_state, task):
    import os
    import time

    time.sleep(task[1])
    return os.getpid(), task[0]


def test_stream_workers_keep_to_their_stream_and_take_over_the_end_of_another():
    from livingcircle._parallel import StreamWorkers

    # round 0: stream 0 has six slow tasks, stream 1 one quick one; round 1: one each
    rounds = [[[(f"a{j}", 0.3) for j in range(6)], [("b0", 0.0)]],
              [[("a6", 0.0)], [("b1", 0.0)]]]
    with StreamWorkers(None, 2, len(rounds)) as pool:
        got = list(pool.run(_probe, rounds))
        assert len(list(pool.run(_probe, rounds[:1]))) == 1  # the pool serves a second run
        with pytest.raises(ValueError, match="at most 2 rounds of 2 streams"):
            list(pool.run(_probe, rounds * 2))
    assert [[name for _pid, name in r] for r in got] == [
        ["a0", "a1", "a2", "a3", "a4", "a5", "b0"], ["a6", "b1"]]
    assert len({pid for r in got for pid, _name in r}) == 2  # two worker processes
    by = pool.ran_by  # of the second run: round 0 again
    # each starts on its own stream; worker 1, with nothing left of its own, takes over the
    # last task of stream 0 while worker 0 works from the front
    assert by[0, 0, 0] == 0 and by[0, 1, 0] == 1 and by[0, 0, 5] == 1
    with pytest.raises(ValueError, match="at least 2 workers"):
        StreamWorkers(None, 1, 1)


def test_a_dask_cluster_draws_the_same_polygons_as_one_process(curvy_access, monkeypatch):
    distributed = pytest.importorskip("distributed")
    acc = curvy_access
    one = _drawn_by(acc, monkeypatch, workers=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        on_dask = _drawn_by(acc, monkeypatch, scheduler=client)
        # the tasks ran on the cluster's worker processes (each keeps its maker), not here
        assert sum(len(v) for v in client.run(_worker_makers).values()) >= 1
        assert _worker_makers() == []
    _same_rows(one, on_dask)


def test_no_worker_processes_inside_a_task_that_runs_one_per_core(curvy_access):
    from livingcircle import _parallel
    from livingcircle.routing import threads_here

    assert _parallel.worker_count(2) == 2
    with threads_here(1):  # a `livingcircle batch` area on a Dask worker thread
        assert _parallel.worker_count(2) == 1 and _parallel.worker_count(None) == 1


def _worker_makers():
    import importlib

    return list(importlib.import_module("livingcircle.isochrones")._WORKER)


def test_a_larger_threshold_keeps_the_round_end_of_a_smaller_one_at_a_bend():
    # One street bending 30° at 100 m; the 99 m isochrone ends 1 m before the bend. The buffer
    # of the 150 m piece draws the outside of the bend with chords (quad_segs=4), inside the
    # circle, so the 99 m piece's round end sticks out of it (by 1.31 m², measured): the 150 m
    # polygon must keep it (5 ⊆ 10 ⊆ 15) and be exactly the union of the two buffers.
    import shapely
    from shapely.geometry import LineString
    from shapely.ops import substring

    from livingcircle.network import WalkNetwork

    a = np.radians(30.0)
    pts = np.array([(0.0, 0.0), (100 + 100 * np.cos(a), 100 * np.sin(a))]) + (X0, Y0)
    street = LineString(np.array([(0.0, 0.0), (100.0, 0.0), (100 + 100 * np.cos(a),
                                                            100 * np.sin(a))]) + (X0, Y0))
    net = WalkNetwork.from_arrays(pts, np.array([0]), np.array([1]), crs=CRS,
                                  geometry=np.array([street], dtype=object))
    comm = points(["A"], [(0, 0)], "community_id")
    iso = _proj(isochrones(net, comm, minutes=(9.9, 15), speed_profiles=[10.0], buffer_m=25.0))
    small, large = iso.geometry.iloc[0], iso.geometry.iloc[1]
    buf99 = shapely.buffer(substring(street, 0, 99), 25.0, quad_segs=4)
    buf150 = shapely.buffer(substring(street, 0, 150), 25.0, quad_segs=4)
    assert shapely.difference(buf99, buf150).area > 1.0  # the round end outside the chords
    assert shapely.symmetric_difference(small, buf99).area < 1e-6
    assert shapely.symmetric_difference(large, shapely.union(buf99, buf150)).area < 1e-6
    assert large.area == pytest.approx(shapely.union(buf99, buf150).area, abs=1e-6)
    assert large.buffer(1e-6).contains(small)


def _square_block(spur: bool):
    """Four streets round a 200 m block, the west one bent 30 m into it; a spur into it."""
    from shapely.geometry import LineString

    from livingcircle.network import WalkNetwork

    corners = np.array([(0.0, 0.0), (200.0, 0.0), (200.0, 200.0), (0.0, 200.0)])
    lines = [[(0, 0), (200, 0)], [(200, 0), (200, 200)], [(200, 200), (0, 200)],
             [(0, 200), (30, 100), (0, 0)]]
    u, v = [0, 1, 2, 3], [1, 2, 3, 0]
    if spur:  # a dead end from the middle of the east street, 60 m into the block
        corners = np.vstack([corners, [(200.0, 100.0), (140.0, 100.0)]])
        lines[1:2] = [[(200, 0), (200, 100)], [(200, 100), (200, 200)]]
        lines.append([(200, 100), (140, 100)])
        u, v = [0, 1, 4, 2, 3, 4], [1, 4, 2, 3, 0, 5]
    geoms = [LineString(np.array(line, dtype=float) + (X0, Y0)) for line in lines]
    return WalkNetwork.from_arrays(corners + (X0, Y0), np.array(u), np.array(v), crs=CRS,
                                   geometry=np.array(geoms, dtype=object))


@pytest.fixture
def cells_everywhere(monkeypatch, curvy_access):
    """Makers that draw every top-level cell from cached cells, whatever its cover.

    The streets of the small test networks are far apart for their 10-12 m buffers (cover
    below :data:`~livingcircle.isochrones.CELLS_FROM_COVER`), so their isochrones would be
    drawn from the streets' own buffers; the tests of the cells themselves need cells.
    """
    import importlib

    iso_mod = importlib.import_module("livingcircle.isochrones")  # not the function
    monkeypatch.setattr(iso_mod, "CELLS_FROM_COVER", 0.0)
    curvy_access.__dict__.pop("_isochrone_makers", None)
    yield
    curvy_access.__dict__.pop("_isochrone_makers", None)  # not kept for the tests after


def test_a_block_comes_back_as_a_hole_less_a_round_end_that_entered_it(cells_everywhere):
    """The cells are united with their blocks filled and the blocks put back as holes; a round
    end of a piece cut at the smaller threshold that enters the block stays in the larger
    polygon, which is the union of it and every street's buffer, exactly."""
    import shapely
    from shapely.ops import substring

    net, maker, reached = _block_case(spur=False)
    west = net.edges.geometry[3]  # from (0, 200) over the bend to (0, 0)
    T1 = west.length / 2 - 1.0  # 1 m before the bend, from the origin's corner
    small = maker.polygon(reached, T1)
    large = maker.polygon(reached, 2000.0, small)
    streets = shapely.union_all(shapely.buffer(net.edges.geometry, 25.0, quad_segs=4))
    end = shapely.buffer(substring(west, west.length - T1, west.length), 25.0, quad_segs=4)
    assert shapely.difference(end, streets).area > 0.5  # the round end enters the block
    assert len(large.holes.rings) == 1 and shapely.get_num_interior_rings(streets) == 1
    assert large.filled.area > streets.area + 100 * 100  # united with the block filled
    want = shapely.union(streets, small.polygon)
    assert large.polygon.is_valid and shapely.get_num_interior_rings(large.polygon) == 1
    assert shapely.symmetric_difference(large.polygon, want).area < 1e-6
    assert large.polygon.buffer(1e-6).contains(small.polygon)
    # a third threshold: the block once, from the cells and from the smaller polygon
    larger = maker.polygon(reached, 2500.0, large).polygon
    assert larger.is_valid and shapely.symmetric_difference(larger, want).area < 1e-6


def test_the_smaller_polygons_blocks_lose_only_the_new_round_ends(curvy_access):
    """Each threshold takes the round ends of its new cut pieces from the smaller polygon's
    holes (already less that polygon's cuts), and every cut's from its new blocks: the same
    holes as taking every cut so far from every block, on the curvy lattice from cells."""
    import shapely

    from livingcircle.isochrones import IsochroneMaker, _less_round_ends, with_holes
    from livingcircle.routing import BoundedSearch

    acc = curvy_access
    maker = IsochroneMaker(acc.graph, acc.edge_table, 12.0, cells_from_cover=0)
    search = BoundedSearch(acc.graph)
    work = np.full(acc.graph.n_nodes, np.inf)
    entered_before = 0
    for starts in acc.community_nodes:
        nodes, dist = search(starts, np.zeros(len(starts)), 600.0)
        reached = maker.segments_reached(nodes, dist, work)
        inner = None
        for T in (100.0, 180.0, 260.0, 340.0, 420.0, 600.0):
            if inner is not None and (len(inner.left.rings) != len(inner.holes.rings) or any(
                    a is not b for a, b in zip(inner.left.rings, inner.holes.rings, strict=True))):
                entered_before += 1  # round ends took part of a block of the smaller polygon
            drawn = maker.polygon(reached, T, inner)
            every_cut = with_holes(drawn.filled, _less_round_ends(drawn.holes, drawn.cuts))
            assert drawn.polygon.is_valid
            assert shapely.hausdorff_distance(drawn.polygon, every_cut) < 1e-9
            assert drawn.polygon.area == pytest.approx(every_cut.area, abs=1e-6)
            assert (shapely.get_num_interior_rings(drawn.polygon)
                    == shapely.get_num_interior_rings(every_cut))
            if inner is not None:  # nested: within Clipper2's rounding (9e-9 m measured)
                smaller = shapely.points(shapely.get_coordinates(inner.polygon))
                assert shapely.distance(smaller, drawn.polygon).max() < 1e-6
            inner = drawn
    assert entered_before >= 10  # 24 measured: the smaller polygons' blocks were entered


def test_a_hole_another_street_enters_is_no_block():
    """A hole of a cell's union that another street's buffer enters (a dead end into the
    block) is kept as a hole of the cell, not filled; with that street, it is a block."""
    import shapely

    net, maker, reached = _block_case(spur=True)
    ring = shapely.union_all(shapely.buffer(net.edges.geometry[:5], 25.0, quad_segs=4))
    assert shapely.get_num_interior_rings(ring) == 1
    street = np.arange(len(maker.geom))
    # streets 0-4 one cell: the spur (street 5) enters its hole
    filled, blocks = maker._fill_blocks(ring, (street >= 5).astype(np.int32), 0)
    assert len(blocks.rings) == 0 and filled.equals(ring)
    with_spur = shapely.union_all(shapely.buffer(net.edges.geometry, 25.0, quad_segs=4))
    filled, blocks = maker._fill_blocks(with_spur, (street >= 6).astype(np.int32), 0)
    assert len(blocks.rings) == 1 and shapely.get_num_interior_rings(filled) == 0
    assert blocks.rings[0].equals(with_spur.interiors[0])
    assert shapely.Polygon(blocks.rings[0]).contains(shapely.points(blocks.inside[0]))
    got = maker.polygon(reached, 2000.0).polygon
    assert got.is_valid and shapely.symmetric_difference(got, with_spur).area < 1e-6


def test_what_a_round_end_takes_of_a_block_leaves_no_vertices_nanometres_apart():
    """Where a round end's edge crosses a block's edge next to one of its vertices, the
    difference would keep both, nanometres apart (they fold over once taken to WGS84)."""
    import shapely

    from livingcircle.isochrones import Holes, _less_round_ends

    ring = shapely.LinearRing(np.array([(0, 0), (10, 0), (10, 5), (10, 10), (0, 10)],
                                       dtype=float) + (X0, Y0))
    end = shapely.box(X0 + 9, Y0 + 5 + 3e-9, X0 + 11, Y0 + 7)  # 3 nm above (10, 5)
    blocks = Holes(np.array([ring], dtype=object), np.array([[X0 + 2, Y0 + 2]]))
    got = _less_round_ends(blocks, np.array([end], dtype=object))
    assert len(got.rings) == 1
    xy = shapely.get_coordinates(got.rings[0])
    assert np.hypot(*np.diff(xy, axis=0).T).min() > 1e-6
    left = shapely.Polygon(got.rings[0])
    assert left.is_valid and left.area == pytest.approx(98.0, abs=1e-6)
    assert left.contains(shapely.points(got.inside[0]))


def _block_case(spur: bool):
    """The square block's network, its maker (25 m buffers) and one search from its SW corner."""
    from livingcircle.isochrones import maker_for
    from livingcircle.routing import BoundedSearch

    net = _square_block(spur)
    comm = points(["A"], [(0, 0)], "community_id")
    acc = measure_access(net, comm, comm.iloc[:0].rename(columns={"community_id":
                                                                   "facility_id"})
                         .assign(categories=[]), speed_profiles=[10.0])
    maker = maker_for(acc, 25.0)
    starts = np.asarray(acc.community_nodes[0])
    nodes, dist = BoundedSearch(acc.graph)(starts, np.zeros(len(starts)), 2000.0)
    return net, maker, maker.segments_reached(nodes, dist, np.full(acc.graph.n_nodes, np.inf))


def test_vectorised_substrings_match_shapely():
    import shapely
    from shapely.geometry import LineString
    from shapely.ops import substring

    from livingcircle.isochrones import substrings

    lines = np.array([LineString([(0, 0), (10, 0), (10, 10), (0, 10)]),
                      LineString([(0, 0), (3, 4)]),
                      LineString([(5, 5), (5, 6), (5, 8), (9, 8)])], dtype=object)
    start = np.array([0.0, 1.0, 1.0])
    end = np.array([25.0, 5.0, 3.0])  # 3.0 falls on a vertex of the third line
    got = substrings(lines, start, end)
    for g, line, s, e in zip(got, lines, start, end, strict=True):
        ref = substring(line, s, e)
        assert g.equals_exact(ref, 1e-12) or shapely.equals(g, ref)
        assert g.length == pytest.approx(e - s)


@pytest.mark.parametrize("r", [25.0, 7.5, 300.0])
def test_straight_buffers_are_geos_buffers_bit_for_bit(r):
    """line_buffers draws straight lines itself: GEOS's polygons, every vertex's bits the same.

    Lines in every direction and along the axes, from just over STADIUM_MIN_LENGTH widths to
    400 m, at UTM coordinates and near 0; shorter, longer, bent and empty lines in between go
    to GEOS.
    """
    import shapely

    iso = importlib.import_module("livingcircle.isochrones")
    rng = np.random.default_rng(31)
    n = 4000
    angle = np.r_[rng.uniform(-np.pi, np.pi, n - 16), np.repeat(np.arange(-4, 4) * np.pi / 4, 2)]
    length = np.exp(rng.uniform(np.log(iso.STADIUM_MIN_LENGTH * r * 1.0001), np.log(400.0), n))
    p0 = np.column_stack([rng.uniform(3e5, 7e5, n), rng.uniform(4e6, 6e6, n)])
    p0[: n // 4] = rng.uniform(-50, 50, (n // 4, 2))
    p1 = p0 + np.column_stack([length * np.cos(angle), length * np.sin(angle)])
    lines = list(shapely.linestrings(np.stack([p0, p1], axis=1)))
    lines += [shapely.LineString([(0, 0), (iso.STADIUM_MIN_LENGTH * r / 2, 0)]),  # too short
              shapely.LineString([(0, 0), (0, 0)]),  # no length
              shapely.LineString([(0, 0), (30, 0), (30, 40)]),  # bent
              shapely.LineString()]
    lines = np.array(lines, dtype=object)
    lines[::7] = lines[::7][::-1]  # mixed, not sorted by kind
    got = iso.line_buffers(lines, r)
    want = shapely.buffer(lines, r, quad_segs=iso.QUAD_SEGS)
    assert (shapely.to_wkb(got) == shapely.to_wkb(want)).all()
    assert iso._stadiums_agree(r)
    assert len(iso.line_buffers(np.array([], dtype=object), r)) == 0
    few = lines[: iso.STADIUMS_FROM - 1]  # too few to pay for the calls around the stadiums
    assert (shapely.to_wkb(iso.line_buffers(few, r)) == shapely.to_wkb(want[: len(few)])).all()


def test_straight_buffers_that_would_differ_are_left_to_geos(monkeypatch):
    """Where the stadiums are not GEOS's (another GEOS: here a vertex moved), GEOS draws all."""
    import shapely

    iso = importlib.import_module("livingcircle.isochrones")
    drawn = iso._stadium_polygons

    def moved(xy, r):
        out = drawn(xy, r)
        return shapely.transform(out, lambda c: c + [1e-9, 0.0])

    monkeypatch.setattr(iso, "_stadium_polygons", moved)
    iso._stadiums_agree.cache_clear()
    try:
        lines = shapely.linestrings([[(k, 0), (10, 5 + k)] for k in range(8)]
                                    + [[(700_000, 5e6), (700_040, 5e6 + 1)]])
        assert not iso._stadiums_agree(25.0)
        got = iso.line_buffers(lines, 25.0)
        assert (shapely.to_wkb(got) == shapely.to_wkb(shapely.buffer(lines, 25.0,
                                                                     quad_segs=4))).all()
    finally:
        iso._stadiums_agree.cache_clear()


@pytest.fixture(scope="module")
def polygon_access():
    """The curvy network with polygon communities (blocks) and facilities of two categories."""
    import geopandas as gpd
    import shapely

    from livingcircle.network import WalkNetwork

    rng = np.random.default_rng(8)
    n, s = 10, 80.0
    xy = np.array([(c * s + rng.uniform(-12, 12), r * s + rng.uniform(-12, 12))
                   for r in range(n) for c in range(n)]) + (X0, Y0)
    u, v = [], []
    for r in range(n):
        for c in range(n):
            a = r * n + c
            for b in ([a + 1] if c < n - 1 else []) + ([a + n] if r < n - 1 else []):
                if rng.random() >= 0.1:
                    u.append(a)
                    v.append(b)
    net = WalkNetwork.from_arrays(xy, np.array(u), np.array(v), crs=CRS)
    centres = rng.uniform(40, (n - 2) * s, (25, 2)) + (X0, Y0)
    blocks = [shapely.box(x - 25, y - 20, x + 25, y + 20) for x, y in centres]
    comm = gpd.GeoDataFrame({"community_id": [f"B{i}" for i in range(len(blocks))]},
                            geometry=blocks, crs=CRS)
    fpts = rng.uniform(0, (n - 1) * s, (6, 2)) + (X0, Y0)
    fac = gpd.GeoDataFrame({"facility_id": [f"F{i}" for i in range(6)],
                            "categories": ["kindergarten"] * 3 + ["supermarket"] * 3},
                           geometry=shapely.points(fpts), crs=CRS)
    acc = measure_access(net, comm, fac)
    return acc, fac, comm


def test_uncovered_areas_measured_beside_the_clusters_are_the_same(polygon_access, monkeypatch,
                                                                   caplog):
    """pipeline._uncovered: from process_pool_min_communities communities on, the uncovered areas
    are measured in a child process while the renovation and clusters run; the same frame as
    measured in the run's process, the stage logged when they are taken, the cells dropped."""
    import logging
    from types import SimpleNamespace

    from conftest import assert_same_layer, beside_counted

    from livingcircle import pipeline, settings
    from livingcircle.isochrones import buffer_width, maker_for, wanted_categories
    from livingcircle.routing import parallel_each
    from livingcircle.stages import Stages

    acc, fac, comm = polygon_access
    ctx = SimpleNamespace(stages=Stages())
    data = SimpleNamespace(comm=comm, fac=fac)
    started = beside_counted(monkeypatch)
    parallel_each(range(4), lambda i, _local: None, threads=2)  # the run's pool, as in a run
    monkeypatch.setattr(settings, "process_pool_min_communities", len(comm))
    maker = maker_for(acc, buffer_width(None))
    maker.edge_buffers(np.arange(len(maker.geom)))  # cells and buffers cached, as after coverage
    with caplog.at_level(logging.INFO, logger="livingcircle.pipeline"), \
            pipeline._uncovered(ctx, acc, data) as taken:
        assert maker._cached_vertices == 0  # dropped here at once: the child has its copy
        assert "stage uncovered" not in caplog.text  # logged when taken
        beside = taken()
    assert "stage uncovered" in caplog.text
    assert started == ["measuring the uncovered areas"]
    monkeypatch.setattr(settings, "process_pool_min_communities", len(comm) + 1)
    with pipeline._uncovered(ctx, acc, data) as taken:
        here = taken()
    assert started == ["measuring the uncovered areas"]  # not a second child
    assert maker._cached_vertices == 0
    assert len(here) == len(wanted_categories(acc, None)) * len(comm)
    assert_same_layer(beside, here)
    points = SimpleNamespace(comm=comm.set_geometry(comm.centroid), fac=fac)
    with pipeline._uncovered(ctx, acc, points) as taken:  # no polygon: nothing to measure
        assert taken() is None


def test_uncovered_areas_from_the_network_equal_the_polygon_overlay(polygon_access,
                                                                      monkeypatch):
    import shapely

    import livingcircle.coverage as cov
    from livingcircle.coverage import coverage_areas, uncovered_areas
    from livingcircle.gaps import uncovered_residential

    acc, fac, comm = polygon_access
    cats = ["kindergarten", "supermarket", "nursing_home"]  # the last has no facility
    ref = uncovered_residential(coverage_areas(acc, fac, categories=cats, buffer_m=20.0), comm)
    drawn = []
    part = cov._uncovered_part

    def counted(maker, poly, reached, T):
        drawn.append(poly)
        return part(maker, poly, reached, T)

    monkeypatch.setattr(cov, "_uncovered_part", counted)
    got = uncovered_areas(acc, fac, categories=cats, buffer_m=20.0, threads=2)
    # a community whose nearby streets both categories with facilities reach whole is drawn
    # once for the two; the category without a facility reaches nothing and is never drawn
    assert len(comm) < len(drawn) < len(comm) * 2
    assert len(got) == len(ref) == 3 * len(comm)
    ref = ref.set_index(["category", "community_id"])
    got = got.set_index(["category", "community_id"])
    assert set(got.index) == set(ref.index)
    for key in ref.index:
        assert got.loc[key, "uncovered_area_m2"] == pytest.approx(
            ref.loc[key, "uncovered_area_m2"], abs=1e-3)
        assert shapely.symmetric_difference(got.geometry.loc[key],
                                            ref.geometry.loc[key]).area < 1e-3
    shares = got["uncovered_share"]
    assert (shares.loc["nursing_home"] == 1.0).all()
    assert 0 < shares.loc["kindergarten"].mean() < 1  # some covered, some not


def test_coverage_of_a_wide_network_comes_in_tiles_that_add_up(polygon_access, monkeypatch):
    import importlib

    import shapely

    from livingcircle import settings

    iso_mod = importlib.import_module("livingcircle.isochrones")  # the package shadows it
    from livingcircle import coverage

    acc, fac, _comm = polygon_access
    one = coverage.coverage_areas(acc, fac, categories=["kindergarten"])
    assert list(one["tile"]) == ["all"]
    # small cells (100 m tiles), and the network counted as wide
    monkeypatch.setattr(iso_mod, "_LEVELS", 3)
    monkeypatch.setattr(settings, "coverage_tile_above_m", 100.0)
    acc.__dict__.pop("_isochrone_makers", None)
    tiled = coverage.coverage_areas(acc, fac, categories=["kindergarten"], threads=2)
    # each tile knows the top-level cell it is: that of the streets whose midpoint is in it
    maker = iso_mod.maker_for(acc, settings.isochrone_buffer_m)
    tiles = coverage._tiles(maker)
    size = maker.cell_m * 2 ** (len(maker.levels) - 1)
    mid = shapely.get_coordinates(shapely.line_interpolate_point(maker.geom, 0.5,
                                                                 normalized=True))
    top = maker.levels[-1]["cell"]
    assert np.array_equal(maker.top_ij[top], np.floor((mid - maker.origin) / size))
    has = tiles["top"] >= 0
    corner = shapely.bounds(tiles["box"])[:, :2]
    assert np.array_equal(maker.top_ij[tiles["top"][has]],
                          np.round((corner[has] - maker.origin) / size))
    assert sorted(tiles["top"][has]) == list(range(len(maker.top_ij)))
    acc.__dict__.pop("_isochrone_makers", None)
    assert len(tiled) > 10 and tiled["tile"].is_unique
    a = one.to_crs(CRS).geometry.iloc[0]
    b = tiled.to_crs(CRS).geometry
    assert tiled["area_m2"].sum() == pytest.approx(one["area_m2"].iloc[0], rel=1e-6)
    assert shapely.symmetric_difference(a, b.union_all()).area < 1e-3 * a.area
    assert b.area.sum() == pytest.approx(b.union_all().area, rel=1e-6)  # tiles do not overlap


def test_a_tiles_coverage_is_clipped_to_its_box_as_an_overlay_would(polygon_access):
    """coverage._clipped (GEOS's rectangle clipping) gives the overlay's polygon, holes kept."""
    import shapely

    from livingcircle import coverage

    acc, fac, _comm = polygon_access
    poly = coverage.coverage_areas(acc, fac, categories=["kindergarten"]).to_crs(CRS)
    poly = poly.geometry.iloc[0]
    holes = [shapely.Polygon(r) for p in shapely.get_parts(poly) for r in p.interiors]
    assert len(holes) > 10  # the blocks
    x0, y0, x1, y1 = poly.bounds
    hx0, hy0, hx1, hy1 = holes[len(holes) // 2].bounds
    # a box whose left edge and one whose top edge run through a block
    for box in ([(hx0 + hx1) / 2, y0 - 5, x1 + 5, y1 + 5],
                [x0 - 5, y0 - 5, x1 + 5, (hy0 + hy1) / 2]):
        got = coverage._clipped(poly, np.array(box))
        want = shapely.intersection(poly, shapely.box(*box))
        assert got.is_valid and got.geom_type in ("Polygon", "MultiPolygon")
        assert 0 < got.area < poly.area
        assert got.area == pytest.approx(want.area, rel=1e-12)
        assert shapely.symmetric_difference(got, want).area < 1e-6
        assert shapely.get_num_coordinates(got) == shapely.get_num_coordinates(want)
    # nothing of it inside the box: empty, which the tiles leave out
    assert coverage._clipped(poly, np.array([x1 + 10, y1 + 10, x1 + 20, y1 + 20])).is_empty


def test_coverage_tiles_from_two_worker_processes_are_the_same(polygon_access, monkeypatch,
                                                               tmp_path):
    import importlib

    from livingcircle import coverage, settings

    iso_mod = importlib.import_module("livingcircle.isochrones")
    acc, fac, _comm = polygon_access
    monkeypatch.setattr(iso_mod, "_LEVELS", 3)  # 100 m tiles, the network counted as wide
    monkeypatch.setattr(settings, "coverage_tile_above_m", 100.0)
    monkeypatch.setattr(settings, "process_pool_min_communities", 0)
    # every top-level cell from cells (the 80 m blocks' buffers cover their 100 m tiles less
    # than once: flat_streets would leave the pool nothing to build)
    monkeypatch.setattr(iso_mod, "CELLS_FROM_COVER", 0.0)
    cats = ["kindergarten", "primary_school"]
    acc.__dict__.pop("_isochrone_makers", None)
    one = coverage.coverage_areas(acc, fac, categories=cats, workers=1)
    acc.__dict__.pop("_isochrone_makers", None)
    two = coverage.coverage_areas(acc, fac, categories=cats, workers=2)
    # the pool built every cell once, ahead (prepare_cells), and its workers shared them
    assert iso_mod.maker_for(acc, settings.isochrone_buffer_m).complete
    acc.__dict__.pop("_isochrone_makers", None)
    assert len(one) > 10
    _same_rows(one, two)
    # cells too many for the caches, kept on disk by the isochrones' stage: the workers read them
    maker = iso_mod.maker_for(acc, settings.isochrone_buffer_m)
    monkeypatch.setattr(settings, "spill_dir", str(tmp_path))
    monkeypatch.setattr(settings, "isochrone_cache_vertices", maker.predicted_tree_vertices() - 1)
    assert iso_mod.prepare_cells(acc, workers=2, store=True)
    reads = tmp_path / "reads.txt"
    _spy_on_reads(monkeypatch, reads)
    three = coverage.coverage_areas(acc, fac, categories=cats, workers=2)
    assert _readers(reads) and str(os.getpid()) not in _readers(reads)
    # a tile reads its own top-level cell's file only, never the next one's for the streets
    # near its edge: each file read once, by the one worker that drew its tile
    read = [line.split()[1] for line in reads.read_text().splitlines()]
    assert len(read) == len(set(read))
    acc.__dict__.pop("_isochrone_makers", None)
    _same_rows(one, three)


def test_bad_buffer_and_categories_give_clear_errors():
    from livingcircle.coverage import coverage_areas, uncovered_areas
    from livingcircle.standards import ProfileError

    net = lattice()
    fac = points(["K"], [(0, 0)], "facility_id", categories=["kindergarten"])
    comm = points(["A"], [(100, 100)], "community_id")
    acc = measure_access(net, comm, fac)
    for bad in (0.0, -5.0, float("nan")):
        with pytest.raises(ValueError, match="buffer_m must be a positive number of metres"):
            isochrones(acc, buffer_m=bad)
        with pytest.raises(ValueError, match="buffer_m must be a positive"):
            coverage_areas(acc, fac, buffer_m=bad)
    with pytest.raises(ValueError, match="categories is empty"):
        coverage_areas(acc, fac, categories=[])
    with pytest.raises(ProfileError, match="unknown category 'schol'; valid categories"):
        uncovered_areas(acc, fac, categories=["schol"])
    # one id as a plain string is that category, not its letters
    one = coverage_areas(acc, fac, categories="kindergarten")
    assert one["category"].tolist() == ["kindergarten"]


def test_sorted_unique_is_np_unique():
    from livingcircle.isochrones import _sorted_unique

    rng = np.random.default_rng(4)
    for n, k in [(1000, 5), (1000, 900), (50, 0), (7, 40)]:  # np.unique branch, then the mask
        idx = rng.integers(0, n, k).astype(np.int32)
        assert np.array_equal(_sorted_unique(idx, n), np.unique(idx))


def _whole_cells_level_by_level(maker, whole, covered, top):
    """The cells of ``_whole_cells`` found as the definition says: level by level, top down,
    each full cell holding a street not ``covered`` taken, its streets then set aside."""
    new = ~np.isin(whole, covered)
    flat = maker.flat[whole] | (maker.levels[-1]["cell"][whole] != top if top is not None
                                else False)
    rest, new, alone = whole[~flat], new[~flat], whole[flat & new]
    out = []
    for lv in range(len(maker.levels) - 1, -1, -1):
        level = maker.levels[lv]
        cells, inv, cnt = np.unique(level["cell"][rest], return_inverse=True,
                                    return_counts=True)
        full = (cnt == level["count"][cells])[inv.reshape(-1)]
        taken = np.unique(level["cell"][rest][full & new])
        out.extend((lv, int(c)) for c in taken)
        rest, new = rest[~full], new[~full]
    return out, np.concatenate([rest[new], alone])


def test_whole_cells_are_the_largest_full_cells_in_order(curvy_access, cells_everywhere):
    from livingcircle.isochrones import buffer_width, maker_for

    maker = maker_for(curvy_access, buffer_width(None))
    assert len(maker.levels) > 3
    # along the Z-order the streets of every cell of every level are one run
    order = np.argsort(maker.z, kind="stable")
    for level in maker.levels:
        c = level["cell"][order]
        assert len(np.unique(c)) == (np.diff(c) != 0).sum() + 1  # as many runs as cells
    rng = np.random.default_rng(11)
    n = len(maker.geom)
    n_top = len(maker.levels[-1]["count"])
    levels_seen = set()
    for k in range(200):
        whole = np.unique(rng.integers(0, n, rng.integers(1, n + 1)))
        if k % 4 == 0:
            whole = np.arange(n)  # every street: the top-level cells whole
        covered = whole[rng.random(len(whole)) < rng.random()]
        top = None if k % 3 else int(rng.integers(0, n_top))
        cells, rest = maker._whole_cells(whole, covered, top=top)
        want_cells, want_rest = _whole_cells_level_by_level(maker, whole, covered, top)
        assert cells == want_cells
        assert np.array_equal(rest, want_rest)  # left over in the order of ``whole``
        levels_seen |= {lv for lv, _c in cells}
    assert len(levels_seen) >= 3  # full cells found at several levels


def test_interleaved_codes_nest_the_quadtree():
    from livingcircle.isochrones import _interleaved

    # x = 0b011, y = 0b101: bits x0 y0 x1 y1 x2 y2 = 1 1 1 0 0 1, i.e. 1 + 2 + 4 + 32
    assert _interleaved(np.array([3]), np.array([5])).tolist() == [39]
    rng = np.random.default_rng(6)
    cx, cy = rng.integers(0, 5000, 1000), rng.integers(0, 5000, 1000)
    code = _interleaved(cx, cy)
    for k in range(5):  # a cell k levels up is the code shifted by 2k
        assert np.array_equal(_interleaved(cx >> k, cy >> k), code >> np.uint64(2 * k))
    assert len(_interleaved(np.zeros(0, int), np.zeros(0, int))) == 0


def test_members_is_np_isin():
    from livingcircle.isochrones import _members

    rng = np.random.default_rng(5)
    for n_a, n_b in [(100, 30), (5, 0), (0, 4), (50, 500)]:
        a = rng.integers(0, 200, n_a)
        b = np.unique(rng.integers(0, 200, n_b))
        assert np.array_equal(_members(a, b), np.isin(a, b))
        assert np.array_equal(_members(a, b[::-1].copy()), np.isin(a, b))  # unsorted too


def _cache_budget(_state, _task):
    from livingcircle import settings

    return settings.isochrone_cache_vertices


def test_a_local_pools_workers_share_the_cache_budget(curvy_access, monkeypatch, caplog):
    """Each of the n workers of a local pool keeps 1/n of ``isochrone_cache_vertices``; the run's
    own setting is unchanged; and polygons drawn by workers whose caches fill and are emptied
    again and again are the same as with caches that never fill."""
    from livingcircle import settings
    from livingcircle._parallel import Workers

    monkeypatch.setattr(settings, "isochrone_cache_vertices", 1_000_001)
    with Workers(None, workers=2) as pool:
        seen = {f.result() for f in pool.submit(_cache_budget, list(range(4)))}
    assert seen == {500_000} and settings.isochrone_cache_vertices == 1_000_001
    with Workers(None, workers=1) as pool:  # no pool: this process, the whole budget
        assert [f.result() for f in pool.submit(_cache_budget, [0])] == [1_000_001]

    acc = curvy_access
    roomy = _drawn_by(acc, monkeypatch, workers=2)
    monkeypatch.setattr(settings, "isochrone_cache_vertices", 400)  # 200 per worker
    tight = _drawn_by(acc, monkeypatch, workers=2)
    _same_rows(roomy, tight)
    # the same budget in this process (its log is seen here): the caches are emptied often
    monkeypatch.setattr(settings, "isochrone_cache_vertices", 200)
    with caplog.at_level(logging.DEBUG, logger="livingcircle.isochrones"):
        here = _drawn_by(acc, monkeypatch, workers=1)
    assert sum("isochrone cache full" in r.getMessage() for r in caplog.records) >= 10
    _same_rows(roomy, here)


def _frozen_objects(_state, _task):
    import gc

    return gc.get_freeze_count()


def test_a_local_pool_keeps_the_runs_objects_out_of_its_workers_collections():
    """While a local pool lives the run's objects are frozen (``gc.freeze``), in the run and in
    the forked workers, so that the workers' garbage collections do not copy their pages; the
    run's own collections see them again once the pool ends. One worker: nothing frozen."""
    import gc

    from livingcircle._parallel import Workers

    assert gc.get_freeze_count() == 0
    with Workers(None, workers=2) as pool:
        assert gc.get_freeze_count() > 0
        in_workers = [f.result() for f in pool.submit(_frozen_objects, [0, 1, 2, 3])]
    assert min(in_workers) > 0
    assert gc.get_freeze_count() == 0
    with Workers(None, workers=1) as pool:
        assert [f.result() for f in pool.submit(_frozen_objects, [0])] == [0]


def _worker_maker_facts(state, _task):
    import importlib

    # the module (the package's own isochrones is the function)
    iso = importlib.import_module("livingcircle.isochrones")
    maker = iso.worker_maker(state["graph"], state["edges"], state["buffer_m"], state["token"])[0]
    parent = iso._FORKED.get(state["token"])
    return {"offered": parent is not None,
            "shares_index": parent is not None and maker is not parent
            and maker.inc is parent.inc and maker.levels[0]["cell"] is parent.levels[0]["cell"],
            "inherits_caches": parent is not None
            and all(maker._buf[k] is parent._buf[k] is not None for k in range(5))
            and all(maker.levels[lv]["poly"][c] is parent.levels[lv]["poly"][c]
                    for lv in range(len(parent.levels)) for c in parent.levels[lv]["poly"]),
            # in containers of its own: what it adds, and empties, is never the run's
            "own_containers": parent is not None and maker._buf is not parent._buf
            and all(a["poly"] is not b["poly"] for a, b in zip(maker.levels, parent.levels,
                                                                 strict=True)),
            "own_count": maker._cached_vertices,
            "cells": len(maker.levels[0]["count"])}


def test_forked_workers_share_the_runs_maker_index(curvy_access, cells_everywhere):
    """A local pool's worker takes the run's maker index and caches (inherited by fork),
    counting only what it adds against its budget; without the offer it builds the same index
    itself."""
    from livingcircle._parallel import Workers
    from livingcircle.isochrones import forked_maker, maker_for

    acc = curvy_access
    maker = maker_for(acc, 10.0)
    maker.whole_pieces(np.arange(5))  # something in the run's caches
    state = {"graph": acc.graph, "edges": acc.edge_table, "buffer_m": 10.0, "token": "t1"}
    with forked_maker("t1", maker), Workers(state, workers=2) as pool:
        facts = [f.result() for f in pool.submit(_worker_maker_facts, [0, 1])]
    assert all(f["offered"] and f["shares_index"] and f["inherits_caches"]
               and f["own_containers"] for f in facts)
    assert [f["own_count"] for f in facts] == [0, 0]
    state["token"] = "t2"  # not offered: built in the worker
    with Workers(state, workers=2) as pool:
        built = pool.submit(_worker_maker_facts, [0])[0].result()
    assert not built["offered"] and built["cells"] == facts[0]["cells"]
    # what a copy adds is its own; emptied, the run's caches stay
    copy = maker.forked_copy()
    copy.edge_buffers(np.arange(5, 10))
    assert all(b is None for b in maker._buf[5:10])
    copy.drop_caches()
    assert maker._buf[0] is not None and maker.levels[0]["poly"]


def _every_cell(maker):
    top = len(maker.levels) - 1
    for c in range(len(maker.levels[top]["count"])):
        maker._cell_filled(top, c)
    return maker


def test_a_cell_built_from_cold_is_the_cell_built_street_by_street(curvy_access, monkeypatch):
    """A cell built from empty caches buffers all its streets in one call first; its cells are
    bit for bit those built from the bottom up (each 25 m cell buffering its own streets), and
    a cache emptied half way (budget of 300 vertices) changes nothing but the time."""
    import shapely

    from livingcircle import settings
    from livingcircle.isochrones import IsochroneMaker

    acc = curvy_access
    cold = _every_cell(IsochroneMaker(acc.graph, acc.edge_table, 10.0))
    up = IsochroneMaker(acc.graph, acc.edge_table, 10.0)
    for lv, level in enumerate(up.levels):  # every level's cells, finest first
        for c in range(len(level["count"])):
            up._cell_filled(lv, c)
    assert cold._cached_vertices == up._cached_vertices
    for got, ref in zip(cold.levels, up.levels, strict=True):
        assert got["poly"].keys() == ref["poly"].keys()
        for c, (filled, holes) in ref["poly"].items():
            assert got["poly"][c][0].equals_exact(filled, 0.0)
            assert shapely.equals_exact(got["poly"][c][1].rings, holes.rings, 0.0).all()
    assert all(a.equals_exact(b, 0.0) for a, b in zip(cold._buf, up._buf, strict=True))
    monkeypatch.setattr(settings, "isochrone_cache_vertices", 300)
    tight = IsochroneMaker(acc.graph, acc.edge_table, 10.0)
    top = len(tight.levels) - 1
    for c in range(len(tight.levels[top]["count"])):
        filled, holes = tight._cell_filled(top, c)
        assert filled.equals_exact(up.levels[top]["poly"][c][0], 0.0)


def test_cells_built_by_the_pool_are_those_built_here(curvy_access, cells_everywhere, monkeypatch):
    """prepare_cells: the pool's workers build every cell of the quadtree (several top-level
    cells) and the run's maker caches them, bit for bit the cells built in this process; once
    built, not again; the isochrones drawn from them are those of one process."""
    import importlib

    import shapely

    from livingcircle.isochrones import IsochroneMaker, maker_for, prepare_cells

    iso_mod = importlib.import_module("livingcircle.isochrones")
    monkeypatch.setattr(iso_mod, "_LEVELS", 4)  # 200 m top-level cells: 16 of them
    acc = curvy_access
    acc.__dict__.pop("_isochrone_makers", None)
    assert prepare_cells(acc, buffer_m=10.0, workers=2)
    maker = maker_for(acc, 10.0)
    assert maker.complete and len(maker.levels[-1]["count"]) > 4
    here = _every_cell(IsochroneMaker(acc.graph, acc.edge_table, 10.0, levels=4))
    for lv, (got, ref) in enumerate(zip(maker.levels, here.levels, strict=True)):
        assert got["poly"].keys() == ref["poly"].keys(), lv
        for c, (filled, holes) in ref["poly"].items():
            assert got["poly"][c][0].equals_exact(filled, 0.0)
            assert shapely.equals_exact(got["poly"][c][1].rings, holes.rings, 0.0).all()
    assert all(a.equals_exact(b, 0.0) for a, b in zip(maker._buf, here._buf, strict=True))
    assert maker._cached_vertices == here._cached_vertices
    assert not prepare_cells(acc, buffer_m=10.0, workers=2)  # built already
    assert not prepare_cells(acc, buffer_m=10.0, workers=1)  # no pool: nothing to share

    one = _drawn_by(acc, monkeypatch, workers=1)
    built = []
    real = iso_mod.prepare_cells

    def spy(*a, **k):
        built.append(real(*a, **k))
        return built[-1]

    monkeypatch.setattr(iso_mod, "prepare_cells", spy)
    two = _drawn_by(acc, monkeypatch, workers=2)
    assert built == [True] and maker_for(acc, 10.0).complete
    _same_rows(one, two)


def test_cells_not_built_where_it_would_not_pay(curvy_access, cells_everywhere, monkeypatch):
    """No cells built ahead for a few short walks on the network, nor when every cell would
    not fit the caches' budget; a maker refuses cells over its budget."""
    from livingcircle import settings
    from livingcircle.isochrones import IsochroneMaker, maker_for, prepare_cells

    acc = curvy_access
    acc.__dict__.pop("_isochrone_makers", None)
    maker = maker_for(acc, 10.0)
    # fewer communities than a pool is started for: drawn in threads, one maker's caches
    assert not prepare_cells(acc, buffer_m=10.0, origins=40, reach_m=600.0, workers=2)
    monkeypatch.setattr(settings, "process_pool_min_communities", 0)
    assert not prepare_cells(acc, buffer_m=10.0, origins=2, reach_m=100.0, workers=2)
    assert prepare_cells(acc, buffer_m=10.0, origins=40, reach_m=600.0, workers=2)
    needed = maker._cached_vertices
    assert 0.5 < maker.predicted_tree_vertices() / needed < 2  # the prediction's order
    maker.drop_caches()
    assert not maker.complete and maker._cached_vertices == 0
    monkeypatch.setattr(settings, "isochrone_cache_vertices", maker.predicted_tree_vertices() - 1)
    assert not prepare_cells(acc, buffer_m=10.0, workers=2)  # no store asked for
    assert maker._cached_vertices == 0 and maker.store is None
    monkeypatch.setattr(settings, "isochrone_cache_vertices", needed - 1)
    other = IsochroneMaker(acc.graph, acc.edge_table, 10.0)
    other.evicts = False
    assert not maker.adopt(other.built_under(other.top_cells()))
    assert maker._cached_vertices == 0 and all(b is None for b in maker._buf)


def _spy_on_reads(monkeypatch, log):
    """Note in ``log`` which process reads which stored top-level cell (forked workers too:
    they inherit the patched method)."""
    from livingcircle.isochrones import CellStore

    real = CellStore.read

    def read(store, top):
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {top}\n")
        return real(store, top)

    monkeypatch.setattr(CellStore, "read", read)


def _readers(log) -> set[str]:
    """The processes that read stored cells (:func:`_spy_on_reads`)."""
    return {line.split()[0] for line in log.read_text().splitlines() if line}


def test_cells_too_large_to_cache_are_kept_on_disk_and_read_back(curvy_access, cells_everywhere,
                                                                  monkeypatch, tmp_path):
    """prepare_cells(store=True) where every cell would not fit the caches: the pool's workers
    write each top-level cell's cells to a file, the run's maker caches none of them; a maker
    reads a top-level cell's file for its first cell there instead of building it, bit for bit
    the cells built here, within its budget; the isochrones of workers forked afterwards read
    them, and are those of one process; dropped, the folder is gone. (The coverage's workers:
    test_coverage_tiles_from_two_worker_processes_are_the_same.)"""
    import importlib

    import shapely

    from livingcircle import settings
    from livingcircle.isochrones import (
        IsochroneMaker,
        drop_cells,
        maker_for,
        prepare_cells,
    )

    iso_mod = importlib.import_module("livingcircle.isochrones")
    monkeypatch.setattr(iso_mod, "_LEVELS", 4)  # 200 m top-level cells: 16 of them
    monkeypatch.setattr(settings, "spill_dir", str(tmp_path))
    monkeypatch.setattr(settings, "process_pool_min_communities", 0)
    acc = curvy_access
    here = _every_cell(IsochroneMaker(acc.graph, acc.edge_table, 10.0, levels=4))
    one = isochrones(acc, minutes=(3, 7), buffer_m=10.0, speed_profiles=[60.0], workers=1)
    acc.__dict__.pop("_isochrone_makers", None)

    maker = maker_for(acc, 10.0)
    monkeypatch.setattr(settings, "isochrone_cache_vertices", maker.predicted_tree_vertices() - 1)
    assert not prepare_cells(acc, buffer_m=10.0, workers=1, store=True)  # no pool
    assert prepare_cells(acc, buffer_m=10.0, workers=2, store=True)
    store = maker.store
    tops = maker.top_cells()
    assert len(tops) > 4 and not maker.complete and maker._cached_vertices == 0
    assert sorted(p.name for p in store.folder.iterdir()) == sorted(f"{t}.pkl" for t in tops)
    assert not prepare_cells(acc, buffer_m=10.0, workers=2, store=True)  # built already

    # read, not built (building a top-level cell buffers its streets first), and the same cells
    def never(*_a, **_k):
        msg = "a stored cell was built again"
        raise AssertionError(msg)

    reader = maker.with_empty_caches()
    with monkeypatch.context() as m:
        m.setattr(IsochroneMaker, "edge_buffers", never)
        _every_cell(reader)
    assert reader._loaded == set(tops.tolist())
    assert reader._cached_vertices == here._cached_vertices  # counted as built
    assert any(len(h.rings) for level in here.levels for _f, h in level["poly"].values())
    for got, ref in zip(reader.levels, here.levels, strict=True):
        assert got["poly"].keys() == ref["poly"].keys()
        for c, (filled, holes) in ref["poly"].items():
            assert got["poly"][c][0].equals_exact(filled, 0.0)
            assert shapely.equals_exact(got["poly"][c][1].rings, holes.rings, 0.0).all()
    # a budget of about two top-level cells: emptied as it fills, the same cells, within it
    budget = 2 * reader._cached_vertices // len(tops)
    monkeypatch.setattr(settings, "isochrone_cache_vertices", budget)
    tight = maker.with_empty_caches()
    top = len(tight.levels) - 1
    for c in tops:
        filled, _holes = tight._cell_filled(top, int(c))
        assert filled.equals_exact(here.levels[top]["poly"][int(c)][0], 0.0)
        assert tight._cached_vertices <= budget
    assert len(tight._loaded) < len(tops)  # emptied on the way

    # workers forked from the run read the stored cells: the same isochrones
    monkeypatch.setattr(settings, "isochrone_cache_vertices", maker.predicted_tree_vertices() - 1)
    reads = tmp_path / "reads.txt"
    _spy_on_reads(monkeypatch, reads)
    two = isochrones(acc, minutes=(3, 7), buffer_m=10.0, speed_profiles=[60.0], workers=2)
    assert _readers(reads) and str(os.getpid()) not in _readers(reads)
    _same_rows(one, two)

    # a forked process leaves the folder to the run, which removes it once dropped
    iso_mod._remove_folder(str(store.folder), os.getpid() + 1)
    assert store.folder.is_dir()
    drop_cells(acc)
    assert maker.store is None and not store.folder.exists()


def test_a_full_disk_for_the_stored_cells_is_a_clear_error(tmp_path, monkeypatch):
    """No room for a top-level cell's file: an error that names the folder and what to do,
    and no half-written file left; another OSError is not dressed up."""
    import errno
    import importlib

    from livingcircle._errors import LivingCircleError
    from livingcircle.isochrones import NO_POLYGONS, BuiltCells, CellStore

    iso_mod = importlib.import_module("livingcircle.isochrones")
    folder = tmp_path / "cells"
    folder.mkdir()
    store = CellStore(folder, 4)
    nothing = BuiltCells([], np.zeros(0, dtype=np.int64), NO_POLYGONS)
    assert store.write(1, nothing) > 0 and store.read(1)[0].cells == []

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(iso_mod.pickle, "dump", full)
    with pytest.raises(LivingCircleError, match=f"no space left in {folder}.*TMPDIR"):
        store.write(2, nothing)
    assert sorted(p.name for p in folder.iterdir()) == ["1.pkl"]

    def denied(*_a, **_k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(iso_mod.pickle, "dump", denied)
    with pytest.raises(PermissionError):
        store.write(3, nothing)
    store.close()
    assert not folder.exists()


def test_the_smallest_cell_follows_the_streets():
    from livingcircle.isochrones import smallest_cell

    lattice = np.arange(64)
    one_each = (lattice % 8, lattice // 8)  # one street in each 25 m cell of a 200 m square
    assert smallest_cell(*one_each, levels=8) == 1  # 4 streets per 50 m cell
    assert smallest_cell(np.repeat(one_each[0], 2), np.repeat(one_each[1], 2), levels=8) == 0
    apart = (lattice * 8, np.zeros(64, dtype=np.int64))  # 200 m apart: alone at every size
    assert smallest_cell(*apart, levels=8) == 2  # the largest smallest cell, 100 m
    assert smallest_cell(*apart, levels=2) == 1  # one level is always left
    assert smallest_cell(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 8) == 0


def test_larger_smallest_cells_draw_the_same_polygons(curvy_access):
    """The maker's own smallest cell (the streets of 80 m blocks: 100 m) against 25 m cells.

    The same cells as a maker given that size; the polygons of both within Clipper2's rounding.
    """
    import shapely

    from livingcircle.isochrones import IsochroneMaker
    from livingcircle.routing import BoundedSearch

    acc = curvy_access
    auto = IsochroneMaker(acc.graph, acc.edge_table, 12.0)
    assert auto.cell_m == 100.0 and len(auto.levels) == 6  # the same 3.2 km top cells
    given = IsochroneMaker(acc.graph, acc.edge_table, 12.0, cell_m=100.0, levels=6)
    assert all(np.array_equal(a["cell"], b["cell"])
               for a, b in zip(auto.levels, given.levels, strict=True))
    small = IsochroneMaker(acc.graph, acc.edge_table, 12.0, cell_m=25.0, levels=8)
    search = BoundedSearch(acc.graph)
    work = np.full(acc.graph.n_nodes, np.inf)
    for starts in acc.community_nodes:
        nodes, dist = search(starts, np.zeros(len(starts)), 540.0)
        inner = {}
        for T in (120.0, 300.0, 540.0):
            for name, maker in (("auto", auto), ("small", small)):
                reached = maker.segments_reached(nodes, dist, work)
                inner[name] = maker.polygon(reached, T, inner.get(name))
            a, b = inner["auto"].polygon, inner["small"].polygon
            assert a.is_valid and shapely.hausdorff_distance(a, b) < 1e-6
            assert shapely.get_num_interior_rings(a) == shapely.get_num_interior_rings(b)


def test_the_cover_of_the_ground_decides_where_cells_are_drawn():
    """Streets 100 m apart with 25 m buffers cover their ground 1.0 times; twice as many, 2.0."""
    from livingcircle.isochrones import flat_streets, top_cover

    # top cell 0: a 1 km square of 100 m streets (east-west and north-south, midpoints in the
    # middle of each 100 m side); top cell 1: the same ground with each street doubled
    k = np.arange(10)
    ew = np.array([(100.0 * i + 50.0, 100.0 * j) for i in k for j in k])
    grid = np.vstack([ew, ew[:, ::-1]])
    mid = np.vstack([grid, grid + (5000.0, 0.0), grid + (5000.0, 0.0)])
    length = np.full(len(mid), 100.0)
    top = np.repeat([0, 1, 1], len(grid))
    # every 200 m square holds midpoints: 2 streets per 100 m square, 8 per 200 m square
    assert top_cover(mid, length, top, 25.0) == pytest.approx([1.0, 2.0])
    flat = flat_streets(mid, length, top, 25.0, cells_from_cover=1.5)
    assert flat[top == 0].all() and not flat[top == 1].any()
    assert not flat_streets(mid, length, top, 25.0, cells_from_cover=0.0).any()
    # buffers twice as wide cover more: 400 m squares, of which the 1 km square's streets
    # hold 9 (1.44 km²), covered 2 km × 100 m over, 1.39 times
    assert top_cover(mid, length, top, 50.0) == pytest.approx([2 / 1.44, 4 / 1.44])
    assert not flat_streets(mid, length, top, 50.0, cells_from_cover=1.2).any()
    assert len(flat_streets(np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=np.int32), 25.0,
                            1.0)) == 0


def test_streets_drawn_as_their_own_buffers_give_the_polygons_of_cells(curvy_access):
    """The curvy lattice's streets (80 m apart, 12 m buffers) are drawn without cells; the
    polygons are those drawn from cells everywhere, within Clipper2's rounding, with the same
    holes, and so where some top-level cells are drawn from cells and their neighbours not."""
    import shapely

    from livingcircle.isochrones import IsochroneMaker, maker_for, prepare_cells, top_cover
    from livingcircle.routing import BoundedSearch

    acc = curvy_access
    own = IsochroneMaker(acc.graph, acc.edge_table, 12.0)
    assert own.flat.all() and len(own.top_cells()) == 0
    cells = IsochroneMaker(acc.graph, acc.edge_table, 12.0, cells_from_cover=0)
    assert not cells.flat.any() and len(cells.top_cells()) == len(cells.levels[-1]["count"])
    # 200 m top-level cells, half of them (by cover) drawn from cells
    mid = shapely.get_coordinates(shapely.line_interpolate_point(own.geom, 0.5, normalized=True))
    small_top = IsochroneMaker(acc.graph, acc.edge_table, 12.0, cell_m=25.0, levels=4)
    cover = top_cover(mid, own.length, small_top.levels[-1]["cell"], 12.0)
    mixed = IsochroneMaker(acc.graph, acc.edge_table, 12.0, cell_m=25.0, levels=4,
                           cells_from_cover=float(np.median(cover)))
    assert 0 < mixed.flat.mean() < 1
    search = BoundedSearch(acc.graph)
    work = np.full(acc.graph.n_nodes, np.inf)
    drawn_from_cells = 0
    for starts in acc.community_nodes:
        nodes, dist = search(starts, np.zeros(len(starts)), 540.0)
        inner = {}
        for T in (120.0, 300.0, 540.0):
            for name, maker in (("own", own), ("cells", cells), ("mixed", mixed)):
                reached = maker.segments_reached(nodes, dist, work)
                inner[name] = maker.polygon(reached, T, inner.get(name))
            ref = inner["cells"].polygon
            for name in ("own", "mixed"):
                got = inner[name].polygon
                assert got.is_valid and shapely.hausdorff_distance(got, ref) < 1e-6, name
                assert got.area == pytest.approx(ref.area, abs=1e-4)
                assert (shapely.get_num_interior_rings(got)
                        == shapely.get_num_interior_rings(ref)), name
            drawn_from_cells += len(inner["mixed"].holes.rings)
    assert drawn_from_cells  # the mixed maker's blocks came from its cells
    assert not any(own.levels[lv]["poly"] for lv in range(len(own.levels)))  # none built
    assert not prepare_cells(acc, buffer_m=12.0, workers=2)  # no cell to build: no pool
    assert not maker_for(acc, 12.0).complete
