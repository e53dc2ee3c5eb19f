"""The compiled search engine against scipy's Dijkstra on random graphs (exact distances)."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from livingcircle.routing import (
    BoundedSearch,
    EdgeTable,
    Snap,
    map_bounded,
    nearest_from_sources,
    nearest_table,
    split_graph,
)


def random_graph(n=400, extra=300, seed=0, zero_edges=0):
    """A connected random planar-ish graph: a spanning tree plus extra edges, some dead ends."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 2000, size=(n, 2))
    u = np.arange(1, n)
    v = rng.integers(0, np.maximum(u, 1))  # a random tree: many dead ends
    a = rng.integers(0, n, extra)
    b = rng.integers(0, n, extra)
    keep = a != b
    u = np.r_[u, a[keep]]
    v = np.r_[v, b[keep]]
    edges = EdgeTable.from_arrays(xy, u, v)
    if zero_edges:
        # make a few streets zero-length (two OSM nodes at the same spot)
        edges.length[:zero_edges] = 0.0
    empty = Snap(edge=np.zeros(0, dtype=np.int64), t=np.zeros(0), offset=np.zeros(0),
                 ok=np.zeros(0, dtype=bool))
    return split_graph(edges, empty)


def scipy_nearest(g, sources, limit):
    d = dijkstra(g.csr, directed=True, indices=np.unique(sources), limit=limit, min_only=True)
    return np.where(np.isfinite(d), d, np.inf)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("threads", [1, 2])
def test_nearest_table_equals_scipy(seed, threads):
    g = random_graph(seed=seed)
    rng = np.random.default_rng(seed + 10)
    sets = [rng.choice(g.n_nodes, size=k, replace=False) for k in (1, 3, 20, 150, 399)]
    sets.append(np.zeros(0, dtype=np.int64))  # a category without facilities
    dist, which = nearest_table(g, sets, limit=900.0, threads=threads)
    assert dist.shape == which.shape == (g.n_nodes, len(sets))
    for j, s in enumerate(sets):
        if len(s) == 0:
            assert np.isinf(dist[:, j]).all() and (which[:, j] == -1).all()
            continue
        ref = scipy_nearest(g, s, 900.0)
        np.testing.assert_array_equal(dist[:, j], ref)
        reached = np.isfinite(ref)
        assert (which[reached, j] >= 0).all() and (which[~reached, j] == -1).all()
        # the named source is one of the nearest: its own distance equals the minimum
        per_source = dijkstra(g.csr, directed=True, indices=s, limit=900.0)
        rows = np.flatnonzero(reached)
        np.testing.assert_allclose(per_source[which[rows, j], rows], ref[rows], atol=1e-9)


def test_nearest_table_rows_at_and_duplicates():
    g = random_graph(seed=3)
    rng = np.random.default_rng(4)
    sets = [rng.choice(g.n_nodes, 5, replace=False), rng.choice(g.n_nodes, 50, replace=False)]
    full_d, full_w = nearest_table(g, sets, limit=700.0)
    at = np.array([7, 3, 7, 0, g.n_nodes - 1, 3])
    d, w = nearest_table(g, sets, limit=700.0, at=at)
    np.testing.assert_array_equal(d, full_d[at])
    np.testing.assert_array_equal(w, full_w[at])
    with pytest.raises(ValueError, match="0..n_nodes-1"):
        nearest_table(g, [np.array([-1, 2])], limit=100.0)


def test_zero_length_streets_and_duplicate_sources():
    g = random_graph(seed=5, zero_edges=40)
    assert (g.csr.data == 0).any()
    s = np.array([10, 10, 11, 200, 11])
    d, w = nearest_from_sources(g, s, limit=1e9)
    np.testing.assert_array_equal(d, scipy_nearest(g, s, 1e9))
    assert w[10] == 0 and w[11] == 2 and w[200] == 3  # the first occurrence names a source


def test_bounded_search_with_start_distances():
    g = random_graph(seed=6)
    search = BoundedSearch(g)
    starts = np.array([5, 17, 5])
    start_d = np.array([30.0, 0.0, 10.0])
    nodes, dist = search(starts, start_d, 600.0)
    # reference: a super-source joined to the starts by their start distances
    n = g.n_nodes
    uniq = np.unique(starts)
    first_d = np.array([start_d[starts == s].min() for s in uniq])  # scipy would sum repeats
    coo = g.csr.tocoo()
    rows = np.r_[coo.row, np.full(len(uniq), n)]
    cols = np.r_[coo.col, uniq]
    w = np.r_[coo.data, first_d + 1.0]  # +1 then -1: scipy drops explicit zeros
    big = sp.csr_array((w, (rows, cols)), shape=(n + 1, n + 1))
    ref = dijkstra(big, directed=True, indices=n, limit=601.0)[:n] - 1.0
    ref[ref > 600.0 + 1e-9] = np.inf
    assert len(np.unique(nodes)) == len(nodes)
    np.testing.assert_allclose(dist, ref[nodes], atol=1e-9)
    assert set(nodes) == set(np.flatnonzero(np.isfinite(ref)))
    # work arrays are reset: the same search again gives the same answer
    nodes2, dist2 = search(starts, start_d, 600.0)
    np.testing.assert_array_equal(nodes, nodes2)
    np.testing.assert_array_equal(dist, dist2)
    with pytest.raises(ValueError, match="zero or positive"):
        search([1], [-5.0], 100.0)


def test_map_bounded_keeps_order_across_threads():
    g = random_graph(seed=7)
    starts = [np.array([i]) for i in range(0, g.n_nodes, 3)]

    def count(i, nodes, dist):
        return i, len(nodes), float(dist.max())

    one = map_bounded(g, starts, 500.0, count, threads=1, chunk=5)
    two = map_bounded(g, starts, 500.0, count, threads=2, chunk=5)
    assert one == two
    assert [r[0] for r in one] == list(range(len(starts)))
    ref = dijkstra(g.csr, directed=True, indices=np.concatenate(starts), limit=500.0)
    assert [r[1] for r in one] == np.isfinite(ref).sum(axis=1).tolist()


def test_parallel_each_raises_worker_errors_in_the_caller():
    from livingcircle.routing import parallel_each

    seen = []

    def fn(item, local):
        if item == 7:
            msg = "bad item 7"
            raise RuntimeError(msg)
        seen.append((item, local))

    with pytest.raises(RuntimeError, match="bad item 7"):
        parallel_each(range(20), fn, threads=2, state=lambda: "ws")
    assert all(local == "ws" for _item, local in seen)
    out = []
    parallel_each([3, 1, 2], lambda i, _l: out.append(i), threads=1)
    assert out == [3, 1, 2]  # one thread: the order given


def test_split_graph_chains_points_along_each_edge():
    """Points on an edge split it into a chain in the order along it; ends and repeats share."""
    # two streets: 0-1 (100 m, east) and 1-2 (50 m, north)
    edges = EdgeTable.from_arrays(np.array([[0.0, 0.0], [100.0, 0.0], [100.0, 50.0]]),
                                  np.array([0, 1]), np.array([1, 2]))
    # on edge 0 at 70, 20, 70 again (one virtual node) and 0 (node 0 itself); on edge 1 at 10
    # and at 50 (node 2 itself); one point that did not snap
    snap = Snap(edge=np.array([0, 0, 0, 0, 1, 1, -1]),
                t=np.array([70.0, 20.0, 70.0, 0.0, 10.0, 50.0, 0.0]),
                offset=np.array([5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 0.0]),
                ok=np.array([True] * 6 + [False]))
    g = split_graph(edges, snap)
    # virtual nodes 3 (edge 0, t 20), 4 (edge 0, t 70), 5 (edge 1, t 10); leaves 6..11
    assert g.n_nodes == 12
    np.testing.assert_array_equal(g.point_node, [6, 7, 8, 9, 10, 11, -1])
    segs = list(zip(g.seg_a.tolist(), g.seg_b.tolist(), g.seg_edge.tolist(),
                    g.seg_t0.tolist(), g.seg_t1.tolist(), strict=True))
    assert segs == [
        (0, 3, 0, 0.0, 20.0), (3, 4, 0, 20.0, 70.0), (4, 1, 0, 70.0, 100.0),  # edge 0's chain
        (1, 5, 1, 0.0, 10.0), (5, 2, 1, 10.0, 50.0),  # edge 1's chain
        (6, 4, -1, 0.0, 5.0), (7, 3, -1, 0.0, 6.0), (8, 4, -1, 0.0, 7.0),  # the points' legs
        (9, 0, -1, 0.0, 8.0), (10, 5, -1, 0.0, 9.0), (11, 2, -1, 0.0, 10.0),
    ]
    np.testing.assert_array_equal(g.seg_len, g.seg_t1 - g.seg_t0)
    d = dijkstra(g.csr, directed=False, indices=[6])[0]
    assert d[7] == 5.0 + 50.0 + 6.0 and d[11] == 5.0 + 30.0 + 50.0 + 10.0


def test_split_graph_keeps_the_shortest_of_parallel_streets_in_sorted_rows():
    """Two streets between the same nodes (either way round) are one arc each way: the shorter.

    The CSR is compared with one built the plain way: the shortest length per node pair in a
    dict, then scipy's COO → CSR conversion.
    """
    rng = np.random.default_rng(5)
    n = 60
    xy = rng.uniform(0, 500, size=(n, 2))
    u = rng.integers(0, n, 400)
    v = rng.integers(0, n, 400)
    keep = u != v
    u, v = u[keep], v[keep]
    u, v = np.r_[u, v[:50], u[:20]], np.r_[v, u[:50], v[:20]]  # repeats, both ways round
    edges = EdgeTable.from_arrays(xy, u, v)
    edges.length[:] = rng.uniform(1.0, 300.0, len(edges.length))  # a curved street is longer
    # a few points snapped onto edges, so the chains and the legs go through the same path
    snap = Snap(edge=np.array([0, 0, 3, 7]), t=np.array([0.25, 0.5, 0.5, 0.0]) * edges.length[
        [0, 0, 3, 7]], offset=np.array([4.0, 5.0, 6.0, 7.0]), ok=np.ones(4, dtype=bool))
    g = split_graph(edges, snap)
    best: dict[tuple[int, int], float] = {}
    for a, b, w in zip(g.seg_a.tolist(), g.seg_b.tolist(), g.seg_len.tolist(), strict=True):
        for key in ((a, b), (b, a)):
            best[key] = min(best.get(key, np.inf), w)
    rows, cols = np.array(list(best)).T
    ref = sp.csr_array((np.array(list(best.values())), (rows, cols)), shape=(g.n_nodes,) * 2)
    ref.sort_indices()
    assert len(best) < 2 * len(g.seg_a)  # the case has parallel streets
    assert g.csr.has_sorted_indices
    np.testing.assert_array_equal(g.csr.indptr, ref.indptr)
    np.testing.assert_array_equal(g.csr.indices, ref.indices)
    np.testing.assert_array_equal(g.csr.data, ref.data)
