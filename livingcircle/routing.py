"""Routing arrays: the undirected edge table, snapping points to edges, and shortest paths.

The graph is converted once to compressed sparse arrays. Points (community access points,
facilities, candidate sites) are attached to the nearest walkable edge, not the nearest node: the
edge is split at the projected point (a *virtual node*) and the point itself becomes a leaf joined
to it by its offset, so the metres walked to reach the street are counted and two points on the
same block face see each other at their true distance.

Two kinds of search run on the arrays:

* :func:`nearest_from_sources` — one multi-source Dijkstra per facility category with a cutoff
  (``scipy.sparse.csgraph.dijkstra(min_only=True)``): the nearest facility of the category for every
  node at once; cost grows with categories × network size, not with the number of communities.
* :func:`bounded_search` — a compiled (numba) Dijkstra from one origin's set of points, stopping at
  a radius and touching only the nodes it reaches: used for counts within 5/10/15 minutes,
  community–facility pairs and isochrones.
"""

from __future__ import annotations

import heapq  # noqa: F401  (documents the algorithm; the numba kernel uses its own heap)
from dataclasses import dataclass

import networkx as nx
import numba
import numpy as np
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra


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
        seen = set()
        for a, b, k, d in G.edges(keys=True, data=True):
            if a == b:
                continue  # a loop never shortens a path
            ia, ib = index[a], index[b]
            key = (min(ia, ib), max(ia, ib), k)
            if key in seen:
                continue
            seen.add(key)
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

    @property
    def indptr(self):
        """CSR row pointers."""
        return self.csr.indptr

    @property
    def indices(self):
        """CSR column indices."""
        return self.csr.indices

    @property
    def data(self):
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
    split_edges = np.unique(ve)
    untouched = np.setdiff1d(np.arange(len(edges.u)), split_edges)
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
        for s, f in zip(starts, ends, strict=True):
            ei = ve_s[s]
            chain_nodes = np.r_[edges.u[ei], vn_s[s:f], edges.v[ei]]
            chain_t = np.r_[0.0, vt_s[s:f], edges.length[ei]]
            seg_a.append(chain_nodes[:-1])
            seg_b.append(chain_nodes[1:])
            seg_t0.append(chain_t[:-1])
            seg_t1.append(chain_t[1:])
            seg_edge.append(np.full(len(chain_t) - 1, ei))
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
    # parallel segments between the same two nodes keep the shortest (scipy would sum them)
    rows = np.r_[a, b]
    cols = np.r_[b, a]
    w = np.r_[seg_len, seg_len]
    order = np.lexsort((w, cols, rows))
    rows, cols, w = rows[order], cols[order], w[order]
    first = np.r_[True, (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])]
    csr = sp.csr_array((w[first], (rows[first], cols[first])), shape=(n_total, n_total))
    csr.sort_indices()
    return SplitGraph(csr, n_total, point_node, a, b, seg_len, se, t0, t1)


def nearest_from_sources(
    g: SplitGraph, sources: np.ndarray, *, limit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Multi-source Dijkstra: distance to, and index (into ``sources``) of, the nearest source.

    Returns arrays over all nodes; unreached nodes have ``inf`` and -1.
    """
    sources = np.asarray(sources, dtype=np.int64)
    n = g.n_nodes
    if len(sources) == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    uniq, first = np.unique(sources, return_index=True)
    # the CSR already holds both directions of every segment: directed=True avoids a symmetrised
    # copy of the matrix on every call (same distances)
    dist, _pred, src = dijkstra(g.csr, directed=True, indices=uniq, limit=limit, min_only=True,
                                return_predecessors=True)
    which = np.full(n, -1, dtype=np.int64)
    reached = src >= 0
    # src holds node ids of the winning source; map back to the position in ``sources``
    pos = np.searchsorted(uniq, src[reached])
    which[reached] = first[pos]
    dist = np.where(reached, dist, np.inf)
    return dist, which


@numba.njit(cache=True)
def _heap_push(hd, hn, size, d, node):
    i = size
    hd[i] = d
    hn[i] = node
    while i > 0:
        p = (i - 1) >> 1
        if hd[p] <= hd[i]:
            break
        hd[p], hd[i] = hd[i], hd[p]
        hn[p], hn[i] = hn[i], hn[p]
        i = p
    return size + 1


@numba.njit(cache=True)
def _heap_pop(hd, hn, size):
    d = hd[0]
    node = hn[0]
    size -= 1
    hd[0] = hd[size]
    hn[0] = hn[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        c = left
        if left + 1 < size and hd[left + 1] < hd[left]:
            c = left + 1
        if hd[i] <= hd[c]:
            break
        hd[c], hd[i] = hd[i], hd[c]
        hn[c], hn[i] = hn[i], hn[c]
        i = c
    return d, node, size


@numba.njit(cache=True)
def _bounded(indptr, indices, data, starts, start_dist, limit, dist, settled_flag):
    """Dijkstra from several start nodes with initial distances; returns visited nodes in order."""
    cap = 1024
    hd = np.empty(cap, dtype=np.float64)
    hn = np.empty(cap, dtype=np.int64)
    size = 0
    touched = np.empty(cap, dtype=np.int64)
    n_touched = 0
    for i in range(len(starts)):
        s = starts[i]
        d0 = start_dist[i]
        if d0 > limit:
            continue
        if dist[s] == np.inf:
            if n_touched == len(touched):
                touched = np.concatenate((touched, np.empty(len(touched), dtype=np.int64)))
            touched[n_touched] = s
            n_touched += 1
        if d0 < dist[s]:
            dist[s] = d0
            if size == len(hd):
                hd = np.concatenate((hd, np.empty(len(hd), dtype=np.float64)))
                hn = np.concatenate((hn, np.empty(len(hn), dtype=np.int64)))
            size = _heap_push(hd, hn, size, d0, s)
    out_n = np.empty(cap, dtype=np.int64)
    out_d = np.empty(cap, dtype=np.float64)
    n_out = 0
    while size > 0:
        d, u, size = _heap_pop(hd, hn, size)
        if settled_flag[u] or d > dist[u]:
            continue
        settled_flag[u] = True
        if n_out == len(out_n):
            out_n = np.concatenate((out_n, np.empty(len(out_n), dtype=np.int64)))
            out_d = np.concatenate((out_d, np.empty(len(out_d), dtype=np.float64)))
        out_n[n_out] = u
        out_d[n_out] = d
        n_out += 1
        for j in range(indptr[u], indptr[u + 1]):
            v = indices[j]
            nd = d + data[j]
            if nd <= limit and nd < dist[v]:
                if dist[v] == np.inf:
                    if n_touched == len(touched):
                        touched = np.concatenate((touched, np.empty(len(touched), dtype=np.int64)))
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = nd
                if size == len(hd):
                    hd = np.concatenate((hd, np.empty(len(hd), dtype=np.float64)))
                    hn = np.concatenate((hn, np.empty(len(hn), dtype=np.int64)))
                size = _heap_push(hd, hn, size, nd, v)
    # reset the work arrays for the next search (only what this one touched)
    for i in range(n_touched):
        dist[touched[i]] = np.inf
        settled_flag[touched[i]] = False
    return out_n[:n_out], out_d[:n_out]


class BoundedSearch:
    """Repeated radius-limited searches on one split graph, reusing work arrays.

    Each call costs time in proportion to the nodes within the radius, not the whole graph.
    """

    def __init__(self, g: SplitGraph):
        self.g = g
        self._dist = np.full(g.n_nodes, np.inf)
        self._flag = np.zeros(g.n_nodes, dtype=np.bool_)
        self._indptr = g.indptr.astype(np.int64)
        self._indices = g.indices.astype(np.int64)
        self._data = g.data.astype(np.float64)

    def __call__(self, starts, start_dist, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the nodes within ``limit`` metres of the starts and their distances."""
        starts = np.asarray(starts, dtype=np.int64)
        start_dist = np.asarray(start_dist, dtype=np.float64)
        return _bounded(self._indptr, self._indices, self._data, starts, start_dist,
                        float(limit), self._dist, self._flag)


def bounded_search(g: SplitGraph, starts, limit: float, start_dist=None):
    """One radius-limited search (see :class:`BoundedSearch` for many)."""
    starts = np.atleast_1d(np.asarray(starts, dtype=np.int64))
    if start_dist is None:
        start_dist = np.zeros(len(starts))
    return BoundedSearch(g)(starts, start_dist, limit)
