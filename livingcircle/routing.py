"""Routing arrays: the undirected edge table, snapping points to edges, and shortest paths.

The graph is converted once to compressed sparse arrays. Points (community access points,
facilities, candidate sites) are attached to the nearest walkable edge, not the nearest node: the
edge is split at the projected point (a *virtual node*) and the point itself becomes a leaf joined
to it by its offset, so the metres walked to reach the street are counted and two points on the
same block face see each other at their true distance.

Both kinds of search run one compiled (numba) Dijkstra with a 4-ary indexed heap over the CSR
arrays (:func:`_dijkstra`); it releases the GIL, so searches run in parallel threads:

* :func:`nearest_table` — one multi-source search per facility category with a cutoff: the nearest
  facility of the category for every node at once; cost grows with categories × network size,
  not with the number of communities. Categories run on all cores, largest first.
* :class:`BoundedSearch` — a search from one origin's set of points, stopping at a radius and
  touching only the nodes it reaches: used for counts within 5/10/15 minutes, community–facility
  pairs and isochrones.

On the benchmark grids the kernel is 1.3–2× faster than ``scipy.sparse.csgraph.dijkstra`` on one
core (``benchmarks/README.md``), with equal distances.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import networkx as nx
import numba
import numpy as np
import scipy.sparse as sp
import shapely

#: What the numba kernels read of a :class:`SplitGraph`: CSR row pointers (int64), column indices
#: (int32), weights in metres (float64) and a flag per node with exactly one neighbour (uint8).
KernelArrays: TypeAlias = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def graph_edge_rows(G: nx.MultiDiGraph) -> Iterator[tuple[Any, Any, dict]]:
    """Yield ``(u, v, edge data)`` for each street segment of a walking graph once.

    The rows of :meth:`EdgeTable.from_graph`, in its order: a walking graph holds both
    directions of a street (the first one seen is kept), and loops are left out (a loop never
    shortens a path). Read an edge attribute per row of the table with it (the OSM ``highway``
    of a network kept without its graph, :func:`livingcircle.network.build_network`).
    """
    reverse_seen = set()  # (v, u, key) of the rows given: that direction is the same street
    for a, b, k, d in G.edges(keys=True, data=True):
        if a == b or (a, b, k) in reverse_seen:
            continue
        reverse_seen.add((b, a, k))
        yield a, b, d


@dataclass
class EdgeTable:
    """Undirected edges of a projected graph: node indices, lengths and geometries (u → v)."""

    node_ids: np.ndarray  # original node id per node index
    xy: np.ndarray  # (n, 2) node coordinates
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    geometry: np.ndarray  # shapely LineStrings running from u to v
    tree: shapely.STRtree

    @classmethod
    def from_graph(cls, G: nx.MultiDiGraph) -> EdgeTable:
        """Collect each street segment once (a walking graph holds both directions)."""
        node_ids = np.array(list(G.nodes))
        index = {n: i for i, n in enumerate(node_ids)}
        xy = np.array([[G.nodes[n]["x"], G.nodes[n]["y"]] for n in node_ids], dtype=float)
        us, vs, lens, geoms = [], [], [], []
        for a, b, d in graph_edge_rows(G):
            ia, ib = index[a], index[b]
            geom = d.get("geometry")
            if geom is None:
                geom = shapely.LineString([xy[ia], xy[ib]])
            us.append(ia)
            vs.append(ib)
            lens.append(float(geom.length))
            geoms.append(geom)
        geometry = np.array(geoms, dtype=object)
        us_a, vs_a = np.array(us, dtype=np.int64), np.array(vs, dtype=np.int64)
        # make every geometry run from u to v
        starts = shapely.get_point(geometry, 0)
        d_u = shapely.distance(starts, shapely.points(xy[us_a]))
        d_v = shapely.distance(starts, shapely.points(xy[vs_a]))
        flip = d_v < d_u
        if flip.any():
            geometry[flip] = shapely.reverse(geometry[flip])
        return cls(node_ids, xy, us_a, vs_a, np.array(lens), geometry, shapely.STRtree(geometry))

    @classmethod
    def from_arrays(cls, xy, u, v, *, geometry=None, node_ids=None) -> EdgeTable:
        """Build the table from node coordinates and undirected edges, without networkx.

        For networks too large for networkx objects (a city of a million nodes).

        Parameters
        ----------
        xy
            (n, 2) projected node coordinates in metres.
        u, v
            Node indices of each street segment (each segment once).
        geometry
            LineStrings from u to v; straight lines when not given.
        node_ids
            Original node ids; default ``0..n-1``.
        """
        xy = np.asarray(xy, dtype=float)
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        if geometry is None:
            geometry = shapely.linestrings(np.stack([xy[u], xy[v]], axis=1))
        geometry = np.asarray(geometry, dtype=object)
        ids = np.arange(len(xy)) if node_ids is None else np.asarray(node_ids)
        return cls(ids, xy, u, v, shapely.length(geometry), geometry, shapely.STRtree(geometry))

    @property
    def n_nodes(self) -> int:
        """Number of graph nodes."""
        return len(self.node_ids)


@dataclass
class Snap:
    """Where points attach to the network."""

    edge: np.ndarray  # edge index, -1 when too far from any edge
    t: np.ndarray  # metres along the edge from u
    offset: np.ndarray  # metres from the point to the edge
    ok: np.ndarray  # attached (within the allowed distance)


def snap_points(edges: EdgeTable, points: np.ndarray, *, max_distance: float) -> Snap:
    """Attach projected points to their nearest edge within ``max_distance`` metres."""
    points = np.asarray(points, dtype=object)
    n = len(points)
    edge = np.full(n, -1, dtype=np.int64)
    t = np.zeros(n)
    offset = np.full(n, np.inf)
    if n:
        idx, dist = edges.tree.query_nearest(points, max_distance=max_distance,
                                             return_distance=True, all_matches=False)
        # one edge per point (equally near edges: the first)
        first = np.unique(idx[0], return_index=True)[1]
        src, tgt, dist = idx[0][first], idx[1][first], dist[first]
        edge[src] = tgt
        offset[src] = dist
        t[src] = shapely.line_locate_point(edges.geometry[tgt], points[src])
    return Snap(edge=edge, t=t, offset=offset, ok=edge >= 0)


@dataclass
class SplitGraph:
    """The graph with snap points inserted: CSR arrays plus the split segments for isochrones.

    Node indices: ``0..n_nodes-1`` original nodes, then one virtual node per distinct snap location,
    then one leaf per snapped point (``point_node``; -1 for points that did not snap).
    """

    csr: sp.csr_array
    n_nodes: int
    point_node: np.ndarray
    seg_a: np.ndarray  # segment end nodes
    seg_b: np.ndarray
    seg_len: np.ndarray
    seg_edge: np.ndarray  # source edge index, -1 for a point's offset leg
    seg_t0: np.ndarray  # start and end along the source edge (metres from its u)
    seg_t1: np.ndarray
    #: the CSR arrays in the kernels' dtypes and the leaf flags, made once by :func:`_csr_arrays`
    _kernel_arrays: KernelArrays | None = field(default=None, repr=False, compare=False)

    @property
    def indptr(self) -> np.ndarray:
        """CSR row pointers."""
        return self.csr.indptr

    @property
    def indices(self) -> np.ndarray:
        """CSR column indices."""
        return self.csr.indices

    @property
    def data(self) -> np.ndarray:
        """CSR weights (metres)."""
        return self.csr.data


def split_graph(edges: EdgeTable, snap: Snap) -> SplitGraph:
    """Insert the snapped points into the edge network (see :class:`SplitGraph`)."""
    n0 = edges.n_nodes
    ok = np.flatnonzero(snap.ok)
    # distinct (edge, t) locations become virtual nodes; a point at an edge end uses that node
    e, t = snap.edge[ok], np.round(snap.t[ok], 6)
    L = edges.length[e]
    at_u = t <= 1e-6
    at_v = t >= L - 1e-6
    loc_node = np.empty(len(ok), dtype=np.int64)
    loc_node[at_u] = edges.u[e[at_u]]
    loc_node[at_v & ~at_u] = edges.v[e[at_v & ~at_u]]
    mid = ~(at_u | at_v)
    keys = np.stack([e[mid], np.round(t[mid] * 1e6).astype(np.int64)], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True) if len(keys) else (keys, keys[:, 0])
    loc_node[mid] = n0 + inv.reshape(-1)
    n_virtual = len(uniq)
    vt = uniq[:, 1] / 1e6 if n_virtual else np.zeros(0)
    ve = uniq[:, 0] if n_virtual else np.zeros(0, dtype=np.int64)
    # segments: untouched edges whole, split edges as chains through their virtual nodes
    touched = np.zeros(len(edges.u), dtype=bool)
    touched[ve] = True
    untouched = np.flatnonzero(~touched)
    seg_a = [edges.u[untouched]]
    seg_b = [edges.v[untouched]]
    seg_t0 = [np.zeros(len(untouched))]
    seg_t1 = [edges.length[untouched]]
    seg_edge = [untouched]
    if n_virtual:
        order = np.lexsort((vt, ve))  # uniq is already sorted by (edge, t); keep it explicit
        ve_s, vt_s, vn_s = ve[order], vt[order], (n0 + np.arange(n_virtual))[order]
        starts = np.flatnonzero(np.r_[True, ve_s[1:] != ve_s[:-1]])
        ends = np.r_[starts[1:], len(ve_s)]
        # each split edge becomes the chain u, its virtual nodes by t, v; the chains one after
        # another in one array (edge g's u at starts[g] + 2g), and a segment is two neighbours
        # in it unless the first is a chain's v (no loop over the edges: a city splits tens of
        # thousands)
        g = np.arange(len(starts))
        ge, k = ve_s[starts], ends - starts  # each split edge and its number of virtual nodes
        at_u, at_v = starts + 2 * g, ends + 2 * g + 1
        at_mid = np.arange(n_virtual) + 2 * np.repeat(g, k) + 1
        chain_nodes = np.empty(n_virtual + 2 * len(g), dtype=np.int64)
        chain_t = np.empty(len(chain_nodes))
        chain_nodes[at_u], chain_t[at_u] = edges.u[ge], 0.0
        chain_nodes[at_mid], chain_t[at_mid] = vn_s, vt_s
        chain_nodes[at_v], chain_t[at_v] = edges.v[ge], edges.length[ge]
        pair = np.ones(len(chain_nodes) - 1, dtype=bool)
        pair[at_v[:-1]] = False
        seg_a.append(chain_nodes[:-1][pair])
        seg_b.append(chain_nodes[1:][pair])
        seg_t0.append(chain_t[:-1][pair])
        seg_t1.append(chain_t[1:][pair])
        seg_edge.append(np.repeat(ge, k + 1))
    n_total = n0 + n_virtual + len(ok)
    point_node = np.full(len(snap.ok), -1, dtype=np.int64)
    point_node[ok] = n0 + n_virtual + np.arange(len(ok))
    seg_a.append(point_node[ok])
    seg_b.append(loc_node)
    seg_t0.append(np.zeros(len(ok)))
    seg_t1.append(snap.offset[ok])
    seg_edge.append(np.full(len(ok), -1))
    a = np.concatenate(seg_a).astype(np.int64)
    b = np.concatenate(seg_b).astype(np.int64)
    t0 = np.concatenate(seg_t0)
    t1 = np.concatenate(seg_t1)
    seg_len = t1 - t0
    se = np.concatenate(seg_edge).astype(np.int64)
    csr = _csr_shortest(np.r_[a, b], np.r_[b, a], np.r_[seg_len, seg_len], n_total)
    return SplitGraph(csr, n_total, point_node, a, b, seg_len, se, t0, t1)


def _csr_shortest(rows: np.ndarray, cols: np.ndarray, w: np.ndarray, n: int) -> sp.csr_array:
    """Return the n × n CSR matrix of the arcs ``rows`` → ``cols`` of ``w`` metres.

    Parallel arcs between the same two nodes keep the shortest (scipy's COO → CSR conversion
    would sum them); the indices are sorted in each row. One stable sort of the arcs by (row,
    column) packed in one integer, the shortest of each run of equal keys, and the CSR arrays
    read off the sorted keys: on the 1M city 0.8 s against 3.7-5.7 s for a three-key lexsort and
    scipy's conversion (``benchmarks/CITY_SCALE.md``, "The clusters' own work, and two sorts in
    every access").
    """
    if len(rows) == 0:
        return sp.csr_array((n, n), dtype=float)
    key = rows.astype(np.int64) * np.int64(n) + cols
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    data = np.minimum.reduceat(w[order], first)
    key = key[first]
    indptr = np.searchsorted(key // n, np.arange(n + 1))
    return sp.csr_array((data, key % n, indptr), shape=(n, n))


_HERE = threading.local()  # engine threads set for the calling thread only (a Dask task)


@contextlib.contextmanager
def threads_here(n: int | None) -> Iterator[None]:
    """Use ``n`` engine threads for searches started from this thread, whatever the setting.

    For tasks that already run one per core (Dask worker threads): unlike changing
    :data:`livingcircle.settings.threads`, it does not reach the other tasks of the process.
    """
    old = getattr(_HERE, "threads", None)
    _HERE.threads = n
    try:
        yield
    finally:
        _HERE.threads = old


def threads_set_here() -> int | None:
    """Return the engine threads :func:`threads_here` set for the calling thread, or None."""
    return getattr(_HERE, "threads", None)


def _threads(threads: int | None) -> int:
    from . import settings

    n = threads
    if n is None:
        n = getattr(_HERE, "threads", None)
    if n is None:
        n = settings.threads
    return max(1, int(n if n is not None else usable_cores()))


def usable_cores() -> int:
    """Return the cores this process may run on (``os.sched_getaffinity``; else the CPU count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _sift_up(hd, hn, pos, size, node, d):
    """Insert ``node`` at distance ``d`` (or lower its key) in the 4-ary heap; return its size."""
    j = pos[node]
    if j < 0:
        j = size
        size += 1
    while j > 0:
        p = (j - 1) >> 2
        if hd[p] <= d:
            break
        hd[j] = hd[p]
        w = hn[p]
        hn[j] = w
        pos[w] = j
        j = p
    hd[j] = d
    hn[j] = node
    pos[node] = j
    return size


# Longer than the package's 80-line limit on purpose (tests/test_static.py allows it by name):
# a numba kernel whose heap loop keeps its state in local arrays; split into helpers it would
# hand that state across compiled calls for no reader's gain.
@numba.njit(cache=True, nogil=True, boundscheck=False)
def _dijkstra(indptr, indices, data, leaf, starts, start_dist, limit, dist, src, pos, hd, hn,
              order):
    """Dijkstra from several start nodes (with initial distances) up to ``limit`` metres.

    A 4-ary indexed heap with decrease-key: each node is in the heap at most once, so ``hd``/``hn``
    need one slot per node. A dead end (``leaf``: one neighbour; every snapped point is one) is
    final as soon as its neighbour is settled, so it never enters the heap. On entry ``dist`` is
    inf, ``src`` and ``pos`` are -1 everywhere; on return the first ``k`` entries of ``order`` are
    the nodes reached (in the order they became final), with ``dist`` their distance and ``src``
    the position in ``starts`` of the start they were reached from (ties: the start found first).
    :func:`_reset` restores the arrays in O(k).
    """
    size = 0
    k = 0
    for i in range(len(starts)):
        s = starts[i]
        d0 = start_dist[i]
        if d0 > limit or not d0 < dist[s]:
            continue
        dist[s] = d0
        src[s] = i
        if d0 == 0.0 and pos[s] == -1:  # nothing is nearer: final now, relaxed without the heap
            pos[s] = -2
            order[k] = s
            k += 1
            continue
        size = _sift_up(hd, hn, pos, size, s, d0)
    n_zero = k
    scan = 0
    while True:
        if scan < n_zero:
            u = order[scan]
            d = 0.0
            scan += 1
        elif size > 0:  # the nearest node off the heap; the last leaf moves to the root
            u = hn[0]
            d = hd[0]
            pos[u] = -2
            order[k] = u
            k += 1
            size -= 1
            if size > 0:
                ld = hd[size]
                ln = hn[size]
                j = 0
                while True:  # sift down
                    c = 4 * j + 1
                    if c >= size:
                        break
                    m = c
                    mv = hd[c]
                    for q in range(c + 1, min(c + 4, size)):
                        if hd[q] < mv:
                            mv = hd[q]
                            m = q
                    if mv >= ld:
                        break
                    hd[j] = mv
                    w = hn[m]
                    hn[j] = w
                    pos[w] = j
                    j = m
                hd[j] = ld
                hn[j] = ln
                pos[ln] = j
        else:
            break
        su = src[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = indices[e]
            nd = d + data[e]
            if nd < dist[v] and nd <= limit:
                dist[v] = nd
                src[v] = su
                if pos[v] == -1 and leaf[v]:
                    pos[v] = -2
                    order[k] = v
                    k += 1
                    continue
                size = _sift_up(hd, hn, pos, size, v, nd)
    return k


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _reset(order, k, dist, src, pos):
    for i in range(k):
        u = order[i]
        dist[u] = np.inf
        src[u] = -1
        pos[u] = -1


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _nearest_one(indptr, indices, data, leaf, sources, zeros, limit, dist, src, pos, hd, hn,
                 order, at_pos, out_d, out_s):
    """One multi-source search; write the wanted rows (``at_pos[node] >= 0``), then reset."""
    k = _dijkstra(indptr, indices, data, leaf, sources, zeros, limit, dist, src, pos, hd, hn,
                  order)
    for i in range(k):
        u = order[i]
        r = at_pos[u]
        if r >= 0:
            out_d[r] = dist[u]
            out_s[r] = src[u]
    _reset(order, k, dist, src, pos)
    return k


_POOL: ThreadPoolExecutor | None = None


def _forget_pool() -> None:
    """In a forked child: the parent's pool is not the child's (its threads did not fork)."""
    global _POOL
    _POOL = None


# a child forked after the pool started (a Beside child: the uncovered areas) would otherwise
# queue its searches on threads that do not exist in it, and wait for ever
os.register_at_fork(after_in_child=_forget_pool)


def _pool(n_threads: int) -> ThreadPoolExecutor:
    """Return a thread pool kept between calls (starting threads costs more than a search)."""
    global _POOL
    if _POOL is None or _POOL._max_workers != n_threads:
        if _POOL is not None:
            _POOL.shutdown(wait=False)
        _POOL = ThreadPoolExecutor(n_threads, thread_name_prefix="livingcircle")
    return _POOL


def parallel_each(items: Iterable[Any], fn: Callable[[Any, Any], object], *,
                  threads: int | None = None, state: Callable[[], Any] | None = None) -> None:
    """Call ``fn(item, local)`` for every item, on worker threads pulling items one by one.

    ``local = state()`` is made once per thread (work arrays, a search); None gives ``None``.
    Items are taken in the order given (put the largest first for balance). Runs inline on one
    thread; errors are raised in the caller.
    """
    items = list(items)
    n_threads = min(_threads(threads), max(1, len(items)))
    todo = iter(items)
    lock = threading.Lock()

    def worker():
        local = state() if state is not None else None
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                return
            fn(item, local)

    if n_threads == 1:
        worker()
        return
    futures = [_pool(n_threads).submit(worker) for _ in range(n_threads)]
    for f in futures:
        f.result()


class _Workspace:
    """Work arrays of one search at a time (one per thread)."""

    def __init__(self, n: int):
        self.dist = np.full(n, np.inf)
        self.src = np.full(n, -1, dtype=np.int32)
        self.pos = np.full(n, -1, dtype=np.int32)
        self.hd = np.empty(n, dtype=np.float64)
        self.hn = np.empty(n, dtype=np.int32)
        self.order = np.empty(n, dtype=np.int32)


def _csr_arrays(g: SplitGraph) -> KernelArrays:
    arrays = g._kernel_arrays
    if arrays is None:
        indptr = g.indptr.astype(np.int64)
        leaf = (np.diff(indptr) == 1).astype(np.uint8)
        arrays = (indptr, g.indices.astype(np.int32), g.data.astype(np.float64), leaf)
        g._kernel_arrays = arrays
    return arrays


def nearest_table(
    g: SplitGraph,
    source_sets: Sequence[np.ndarray],
    *,
    limit: float | Sequence[float],
    at: np.ndarray | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest source of every set, for every node: one multi-source Dijkstra per set.

    Each set (a facility category's nodes) gets one search with a cutoff over the CSR arrays, so
    the cost grows with sets × network size, not with the number of nodes asked about. Sets run
    in parallel threads (the compiled search releases the GIL), largest first.

    Parameters
    ----------
    g
        The split graph.
    source_sets
        A sequence of node-index arrays, one per set.
    limit
        Searches stop at this distance (metres); farther nodes are not reached. One number, or
        one per set.
    at
        Only these node indices (rows of the result, in this order); default every node.
    threads
        Worker threads; default :data:`livingcircle.settings.threads` (all available cores).

    Returns
    -------
    dist, which
        ``(len(at), len(source_sets))`` arrays (Fortran order): the distance to the nearest
        source of each set (``inf`` when not reached) and its position in that set (-1).
    """
    n = g.n_nodes
    sets = [np.asarray(s, dtype=np.int32) for s in source_sets]
    for s in sets:
        if len(s) and (s.min() < 0 or s.max() >= n):
            msg = "source node indices must lie in 0..n_nodes-1 (-1 marks an unattached point)"
            raise ValueError(msg)
    if at is not None and len(at) and (np.min(at) < 0 or np.max(at) >= n):
        msg = "'at' node indices must lie in 0..n_nodes-1"
        raise ValueError(msg)
    rows = n if at is None else len(at)
    out_d = np.full((rows, len(sets)), np.inf, order="F")
    out_s = np.full((rows, len(sets)), -1, dtype=np.int32, order="F")
    at_pos = np.arange(n, dtype=np.int64) if at is None else np.full(n, -1, dtype=np.int64)
    if at is not None:
        at = np.asarray(at, dtype=np.int64)
        at_pos[at[::-1]] = np.arange(len(at))[::-1]  # a node asked twice: first row, copied below
    indptr, indices, data, leaf = _csr_arrays(g)
    limits = np.broadcast_to(np.asarray(limit, dtype=float), (len(sets),))
    zeros = np.zeros(max([len(s) for s in sets] or [0]))

    def one(j, ws):
        s = sets[j]
        _nearest_one(indptr, indices, data, leaf, s, zeros[:len(s)], float(limits[j]),
                     ws.dist, ws.src, ws.pos, ws.hd, ws.hn, ws.order, at_pos, out_d[:, j],
                     out_s[:, j])

    # largest sets first; each thread takes the next set when it is free (dynamic balance)
    work = [j for j in np.argsort([-len(s) for s in sets], kind="stable") if len(sets[j])]
    parallel_each(work, one, threads=threads, state=lambda: _Workspace(n))
    if at is not None and len(at):
        first = at_pos[at]
        dup = first != np.arange(len(at))
        if dup.any():
            out_d[dup] = out_d[first[dup]]
            out_s[dup] = out_s[first[dup]]
    return out_d, out_s


def nearest_from_sources(
    g: SplitGraph, sources: np.ndarray, *, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-source Dijkstra: distance to, and index (into ``sources``) of, the nearest source.

    Returns arrays over all nodes; unreached nodes have ``inf`` and -1.
    """
    sources = np.asarray(sources, dtype=np.int64)
    dist, which = nearest_table(g, [sources], limit=limit, threads=1)
    return dist[:, 0].copy(), which[:, 0].astype(np.int64)


class BoundedSearch:
    """Repeated radius-limited searches on one split graph, reusing work arrays.

    Each call costs time in proportion to the nodes within the radius, not the whole graph. One
    instance serves one thread at a time.
    """

    def __init__(self, g: SplitGraph):
        self.g = g
        self._ws = _Workspace(g.n_nodes)
        self._arrays = _csr_arrays(g)

    def __call__(self, starts, start_dist, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the nodes within ``limit`` metres of the starts and their distances."""
        starts = np.asarray(starts, dtype=np.int32)
        start_dist = np.asarray(start_dist, dtype=np.float64)
        if len(starts) != len(start_dist):
            msg = f"{len(starts)} start nodes but {len(start_dist)} start distances"
            raise ValueError(msg)
        if len(starts) and (starts.min() < 0 or starts.max() >= self.g.n_nodes):
            msg = "start node indices must lie in 0..n_nodes-1 (-1 marks an unattached point)"
            raise ValueError(msg)
        if (start_dist < 0).any():
            msg = "start distances must be zero or positive metres"
            raise ValueError(msg)
        ws = self._ws
        k = _dijkstra(*self._arrays, starts, start_dist, float(limit),
                      ws.dist, ws.src, ws.pos, ws.hd, ws.hn, ws.order)
        nodes = ws.order[:k].astype(np.int64)
        dist = ws.dist[nodes]
        _reset(ws.order, k, ws.dist, ws.src, ws.pos)
        return nodes, dist


def map_bounded(g: SplitGraph, starts: Sequence[np.ndarray], limit: float,
                fn: Callable[[int, np.ndarray, np.ndarray], Any], *, threads: int | None = None,
                chunk: int = 32) -> list:
    """Run one radius-limited search per origin and ``fn(i, nodes, dist)`` on each, in threads.

    ``starts[i]`` holds origin ``i``'s start nodes (distance 0). ``fn`` should reduce a search
    to what is kept (a few facilities, a polygon), so that memory stays small. Results come back
    in the order of ``starts``.
    """
    n = len(starts)
    out = [None] * n

    def block(lo, search):
        for i in range(lo, min(lo + chunk, n)):
            s = starts[i]
            nodes, dist = search(s, np.zeros(len(s)), limit)
            out[i] = fn(i, nodes, dist)

    parallel_each(range(0, n, chunk), block, threads=threads, state=lambda: BoundedSearch(g))
    return out


def bounded_search(g: SplitGraph, starts: np.ndarray | Sequence[int], limit: float,
                   start_dist: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One radius-limited search (see :class:`BoundedSearch` for many)."""
    starts = np.atleast_1d(np.asarray(starts, dtype=np.int64))
    if start_dist is None:
        start_dist = np.zeros(len(starts))
    return BoundedSearch(g)(starts, start_dist, limit)
