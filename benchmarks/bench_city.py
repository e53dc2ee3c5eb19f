"""One city-sized area on one machine: time and peak memory of the analysis on a synthetic city.

A synthetic walking network of about ``--nodes`` intersections (a jittered street grid with a
share of streets removed, in UTM zone 52N like Harbin), ``--communities`` community polygons in
the blocks and ``--facilities`` facility points of the profile's categories. The graph never
becomes a networkx object: :meth:`livingcircle.WalkNetwork.from_arrays` builds the edge table
(:class:`livingcircle.routing.EdgeTable`) straight from numpy arrays, and the analysis reads only
that table (``--mode networkx`` measures the same run through a networkx graph).

Every size runs in its own subprocess; the child reports after each stage the seconds and its peak
resident memory so far (``resource.getrusage(RUSAGE_SELF).ru_maxrss``). Results go to
``benchmarks/_work/bench_city.jsonl``; nothing is estimated.

Usage::

    python benchmarks/bench_city.py                         # 10k, 100k, 1M nodes
    python benchmarks/bench_city.py --sizes 1000000 --iso-sample 200
    python benchmarks/bench_city.py --networkx 100000       # also the networkx path, for contrast
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

WORK = Path(__file__).resolve().parent / "_work"
CRS = "EPSG:32652"
X0, Y0 = 640_000.0, 5_060_000.0  # around Harbin in UTM 52N


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def grid_arrays(n_nodes: int, *, spacing: float, drop: float, seed: int):
    """Node coordinates and undirected edges (u < v) of a jittered grid with ``drop`` removed."""
    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(n_nodes)))
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.column_stack([X0 + jj.ravel() * spacing, Y0 + ii.ravel() * spacing])
    xy += rng.uniform(-0.15, 0.15, xy.shape) * spacing
    idx = np.arange(side * side).reshape(side, side)
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    keep = rng.random(len(u)) >= drop
    return side, xy, u[keep].astype(np.int64), v[keep].astype(np.int64)


def synthetic_inputs(side: int, spacing: float, n_comm: int, n_fac: int, seed: int):
    """Community squares in block centres and facility points on random positions."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    import livingcircle as lc

    rng = np.random.default_rng(seed + 1)
    blocks = rng.choice((side - 1) ** 2, size=n_comm, replace=False)
    bi, bj = np.divmod(blocks, side - 1)
    cx = X0 + (bj + 0.5) * spacing
    cy = Y0 + (bi + 0.5) * spacing
    half = 0.3 * spacing
    polys = shapely.box(cx - half, cy - half, cx + half, cy + half)
    hh = rng.integers(80, 1200, n_comm)
    comm = gpd.GeoDataFrame({
        "community_id": [f"C{i:06d}" for i in range(n_comm)],
        "households": hh, "population": (hh * 2.6).round().astype(int),
        "build_year": rng.integers(1960, 2010, n_comm),
    }, geometry=polys, crs=CRS)
    cats = [c.id for c in lc.load_profile().poi_categories()]
    ext = (side - 1) * spacing
    fac = gpd.GeoDataFrame({
        "facility_id": [f"F{i:06d}" for i in range(n_fac)],
        "category": rng.choice(cats, size=n_fac),
        "capacity": rng.integers(20, 300, n_fac).astype(float),
    }, geometry=shapely.points(X0 + rng.uniform(0, ext, n_fac), Y0 + rng.uniform(0, ext, n_fac)),
        crs=CRS)
    fac["categories"] = fac["category"]
    return comm, fac, pd.Series(cats)


def child(args) -> None:
    """Run one size and print one JSON line per stage."""
    out = {"nodes_asked": args.nodes, "communities": args.communities,
           "facilities": args.facilities, "spacing_m": args.spacing, "mode": args.mode}
    t_all = time.perf_counter()

    def stage(name, t0, **extra):
        rec = {**out, "stage": name, "seconds": round(time.perf_counter() - t0, 2),
               "peak_rss_mb": round(peak_mb(), 1), **extra}
        print(json.dumps(rec), flush=True)

    t = time.perf_counter()
    import geopandas  # noqa: F401

    import livingcircle as lc
    from livingcircle.accessibility import measure_access
    from livingcircle.gaps import completeness, find_gaps
    stage("import", t)

    t = time.perf_counter()
    side, xy, u, v = grid_arrays(args.nodes, spacing=args.spacing, drop=0.1, seed=args.seed)
    stage("grid arrays", t, nodes=int(len(xy)), edges=int(len(u)),
          extent_km=round((side - 1) * args.spacing / 1000, 1))

    t = time.perf_counter()
    if args.mode == "networkx":
        import networkx as nx

        from livingcircle.network import WalkNetwork

        G = nx.MultiDiGraph(crs=CRS)
        G.add_nodes_from((i, {"x": float(x), "y": float(y)}) for i, (x, y) in enumerate(xy))
        ln = np.hypot(*(xy[u] - xy[v]).T)
        G.add_edges_from((int(a), int(b), {"length": float(w)}) for a, b, w in zip(u, v, ln,
                                                                                 strict=True))
        G.add_edges_from((int(b), int(a), {"length": float(w)}) for a, b, w in zip(u, v, ln,
                                                                                 strict=True))
        stage("networkx graph", t)
        t = time.perf_counter()
        net = WalkNetwork(graph=G, source="synthetic grid (networkx)")
        _ = net.edges
        stage("edge table from networkx", t)
    else:
        from livingcircle.network import WalkNetwork

        net = WalkNetwork.from_arrays(xy, u, v, crs=CRS, source="synthetic grid (arrays)")
        stage("edge table from arrays", t)
    del xy, u, v

    t = time.perf_counter()
    comm, fac, _cats = synthetic_inputs(side, args.spacing, args.communities, args.facilities,
                                        args.seed)
    stage("inputs", t)

    t = time.perf_counter()
    prof = lc.load_profile()
    acc = measure_access(net, comm, fac, profile=prof, speed_profiles=args.speeds)
    stage("measure_access", t, access_rows=len(acc.table), pairs=len(acc.pairs),
          split_graph_nodes=int(acc.graph.n_nodes),
          access_points=int((acc.access_points["owner_layer"] == "communities").sum()))

    t = time.perf_counter()
    gaps = find_gaps(acc.table, prof, speed_profile=args.speeds[0])
    comp = completeness(gaps, prof)
    stage("gaps + completeness", t, gap_rows=len(gaps),
          mean_completeness_15=round(float(comp["completeness_15"].mean()), 4))

    if args.iso_sample:
        from livingcircle.isochrones import isochrones

        t = time.perf_counter()
        sample_ids = comm["community_id"].iloc[:args.iso_sample].tolist()
        iso = isochrones(acc, minutes=(5, 10, 15), speed_profiles=args.speeds[:1],
                         community_ids=sample_ids)
        stage("isochrones (sample)", t, iso_communities=len(sample_ids), iso_rows=len(iso))
    stage("total", t_all)


def parent(args) -> None:
    """Run every size in its own subprocess; append the JSON lines to the log."""
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "bench_city.jsonl"
    runs = [("arrays", n) for n in args.sizes]
    runs += [("networkx", n) for n in args.networkx]
    for mode, n in runs:
        scale = n / 1_000_000
        n_comm = max(50, int(round(args.communities * scale))) if args.scale_inputs else \
            args.communities
        n_fac = max(200, int(round(args.facilities * scale))) if args.scale_inputs else \
            args.facilities
        cmd = [sys.executable, __file__, "--child", "--nodes", str(n), "--communities",
               str(n_comm), "--facilities", str(n_fac), "--spacing", str(args.spacing),
               "--mode", mode, "--iso-sample", str(args.iso_sample),
               "--seed", str(args.seed), "--speeds", *args.speeds]
        print(" ".join(cmd), flush=True)
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ})
        with log.open("a", encoding="utf-8") as fh:
            for line in proc.stdout.splitlines():
                if line.startswith("{"):
                    fh.write(line + "\n")
                    print(line, flush=True)
        if proc.returncode != 0:
            fail = {"nodes_asked": n, "mode": mode, "stage": "FAILED",
                    "returncode": proc.returncode, "seconds": round(time.perf_counter() - t, 1),
                    "stderr_tail": proc.stderr[-2000:]}
            with log.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(fail) + "\n")
            print(json.dumps(fail), flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--networkx", type=int, nargs="*", default=[],
                    help="sizes to run through a networkx graph as well (for contrast)")
    ap.add_argument("--communities", type=int, default=10_000)
    ap.add_argument("--facilities", type=int, default=50_000)
    ap.add_argument("--scale-inputs", action="store_true",
                    help="scale communities/facilities with the node count (1M = full counts)")
    ap.add_argument("--spacing", type=float, default=50.0, help="grid spacing in metres")
    ap.add_argument("--speeds", nargs="+", default=["adult", "elderly", "winter"])
    ap.add_argument("--iso-sample", type=int, default=0,
                    help="also draw isochrones for this many communities")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--mode", choices=["arrays", "networkx"], default="arrays")
    ap.add_argument("--child", action="store_true")
    args = ap.parse_args(argv)
    if args.child:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
