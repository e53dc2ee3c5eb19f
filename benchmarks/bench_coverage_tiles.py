"""What one tile of a city's coverage costs: building its cells, uniting its categories.

A city wider than :data:`livingcircle.settings.coverage_tile_above_m` gets its coverage areas
tile by tile (:func:`livingcircle.coverage.iter_coverage_areas`); a worker process draws every
category of a tile from the tile's cells. The run built every cell ahead (``prepare_cells``):
kept in memory where they fit the caches (the city centre), else written to files once
(:class:`livingcircle.isochrones.CellStore`, the 1M-node city), which the worker reads. This
script draws the coverage of ``--tiles`` tiles from the middle of the city (in the run's
spatial order), one thread, in this process, four ways, CPU seconds (``time.process_time``):

``cells, lazily``
    a maker from empty caches, building the cells it needs (the 1M city's workers before the
    store);
``cells, cached``
    the same maker again, its caches now holding those tiles' cells: the difference is what
    building the cells costs;
``cells, stored``
    a maker reading the cells from a store, as the 1M city's workers now do; the store of the
    top-level cells those tiles touch is written first, here (its CPU seconds per top-level
    cell recorded too);
``buffers only``
    a maker drawing every street from its own buffer (``cells_from_cover=inf``), no cells.

Recorded per tile: the streets near it and how many categories cover all of them (those share
one polygon); per way the CPU seconds per tile; the largest Hausdorff distance of the buffers'
polygons from the cells'. The stored cells must draw the lazily built cells' polygons exactly.

Usage::

    python benchmarks/bench_coverage_tiles.py --nodes 1000000 --tiles 6 \\
        --out benchmarks/results/2026-12-06_coverage_tiles_1m.jsonl

The city is ``bench_city.py``'s (``--nodes N``, its default 10,000 communities and 50,000
facilities), written once into ``benchmarks/_work``. One JSON line is appended to ``--out``
(default ``benchmarks/_work/bench_coverage_tiles.jsonl``) and printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=1_000_000)
    ap.add_argument("--communities", type=int, default=10_000)
    ap.add_argument("--facilities", type=int, default=50_000)
    ap.add_argument("--tiles", type=int, default=6, help="tiles from the middle of the city")
    ap.add_argument("--folder", default=None,
                    help="where the city is written (default: benchmarks/_work/city_...)")
    ap.add_argument("--tile-above-m", type=float, default=None,
                    help="tile a network wider than this (default: the setting; a small "
                         "number tiles a small test city)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "_work"
                                         / "bench_coverage_tiles.jsonl"))
    args = ap.parse_args(argv)
    blocks = (round(args.nodes ** 0.5) - 1) ** 2  # bench_city's grid of √nodes × √nodes
    if args.tiles < 1:
        ap.error(f"--tiles {args.tiles}: give 1 or more")
    if not 1 <= args.communities <= blocks:
        ap.error(f"--communities {args.communities}: a city of {args.nodes:,} nodes has "
                 f"{blocks:,} blocks, one community each; give 1 to {blocks:,}")
    if args.facilities < 1:
        ap.error(f"--facilities {args.facilities}: give 1 or more")

    from livingcircle import settings

    before = settings.coverage_tile_above_m
    if args.tile_above_m is not None:
        settings.coverage_tile_above_m = args.tile_above_m
    try:  # the setting is this process's: given back, so that a caller's later work keeps it
        rec = _measure(args)
    finally:
        settings.coverage_tile_above_m = before
    line = json.dumps(rec, ensure_ascii=False)
    print(line, flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def _measure(args) -> dict:
    """Draw the sample tiles three ways; return the record."""
    import bench_city
    import geopandas as gpd

    from livingcircle import settings
    from livingcircle.accessibility import measure_access
    from livingcircle.network import build_network

    cov = importlib.import_module("livingcircle.coverage")
    iso = importlib.import_module("livingcircle.isochrones")
    city = argparse.Namespace(centre=False, spacing=50.0, seed=7, nodes=args.nodes,
                              communities=args.communities, facilities=args.facilities)
    folder = Path(args.folder) if args.folder else bench_city.city_folder(city)
    bench_city.write_city(folder, **bench_city.city_options(city))
    net = build_network(osm=str(folder / "city.osm.pbf"), graph=False)
    comm = gpd.read_file(folder / "communities.gpkg")
    fac = gpd.read_file(folder / "facilities.gpkg")
    acc = measure_access(net, comm, fac, speed_profiles=["adult"])

    buffer_m = iso.buffer_width(None)
    first = iso.maker_for(acc, buffer_m)
    wanted = iso.wanted_categories(acc, None)
    starts_of = cov._category_starts(acc, fac, wanted)
    reach = cov._category_reach(acc, first, starts_of, wanted)
    tiles = cov._tiles(first)
    if tiles is None:
        msg = (f"the network is not tiled: narrower than coverage_tile_above_m "
               f"({settings.coverage_tile_above_m:g} m); give a smaller --tile-above-m")
        raise SystemExit(msg)
    order = [int(t) for t in tiles["order_spatial"]]
    mid = max(0, len(order) // 2 - args.tiles // 2)
    sample = order[mid:mid + args.tiles]
    per_tile = []
    for t in sample:
        near = tiles["edges"][t]
        per_tile.append({"tile": tiles["name"][t], "near_streets": len(near),
                         "categories_covering_all": sum(bool(mask[near].all())
                                                        for _w, mask, *_r in reach.values())})

    def maker(**kw):
        return iso.IsochroneMaker(acc.graph, acc.edge_table, buffer_m, levels=iso._LEVELS,
                                  **kw)

    def draw(m) -> tuple[float, dict]:
        in_tile = np.zeros(len(m.geom), dtype=bool)
        t0 = time.process_time()
        rows = [r for t in sample for r in cov._tile_coverage(t, in_tile, tiles, m, reach)]
        return time.process_time() - t0, {(c, n): p for c, n, p in rows}

    lazily = maker()
    cpu_lazily, by_cells = draw(lazily)
    cpu_cached, _again = draw(lazily)
    stored, cpu_store, n_tops = _stored_maker(maker, first, tiles, sample)
    try:
        cpu_stored, by_stored = draw(stored)
    finally:
        stored.drop_caches()  # and the store's folder
    cpu_buffers, by_buffers = draw(maker(cells_from_cover=float("inf")))
    if by_cells.keys() != by_buffers.keys():
        msg = "the two ways drew different rows"
        raise SystemExit(msg)
    if by_stored.keys() != by_cells.keys() or not all(
            by_stored[k].equals_exact(by_cells[k], 0.0) for k in by_cells):
        msg = "the stored cells drew other polygons than the cells built here"
        raise SystemExit(msg)
    haus = [shapely.hausdorff_distance(by_cells[k], by_buffers[k]) for k in by_cells]
    n = len(sample)
    return {"nodes": args.nodes, "communities": args.communities,
           "facilities": args.facilities, "streets": len(first.geom), "tiles_in_city": len(order),
           "categories": len(reach), "tiles": per_tile, "rows": len(by_cells),
           "cpu_s_per_tile": {"cells, lazily": round(cpu_lazily / n, 3),
                              "cells, cached": round(cpu_cached / n, 3),
                              "cells, stored": round(cpu_stored / n, 3),
                              "buffers only": round(cpu_buffers / n, 3)},
           "store": {"top_cells": n_tops,
                     "cpu_s_per_top_cell_built_and_written": round(cpu_store / max(n_tops, 1),
                                                                   3)},
           "cached_vertices": int(lazily._cached_vertices),
           "max_hausdorff_buffers_from_cells_m": float(max(haus)) if haus else 0.0,
           "threads": 1, "cores": os.cpu_count(), "python": sys.version.split()[0],
           "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}


def _stored_maker(maker, first, tiles: dict, sample: list[int]):
    """A maker reading the cells of the top-level cells near ``sample`` from a new store.

    Returns the maker, the CPU seconds of building and writing those cells (one top-level cell
    at a time, as the run's pool does) and their number.
    """
    iso = importlib.import_module("livingcircle.isochrones")
    top = first.levels[-1]["cell"]
    near = np.concatenate([tiles["edges"][t] for t in sample])
    tops = np.intersect1d(np.unique(top[near]), first.top_cells())
    store = iso.CellStore.new(len(first.levels[-1]["count"]))
    t0 = time.process_time()
    store.build(maker(), tops)
    cpu = time.process_time() - t0
    store.mark(tops)
    reader = maker()
    reader.store = store
    return reader, cpu, len(tops)


if __name__ == "__main__":
    main()
