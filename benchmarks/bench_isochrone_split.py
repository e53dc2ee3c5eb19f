"""How the city centre's isochrones are shared between two workers: does giving each its own half
of the city save the cells both would build?

A local pool hands out tasks of ``ISOCHRONE_TASK`` neighbouring communities to whichever worker is
free, so both workers draw all over the city and each builds (and caches) most of the city's
cells. This script draws the 5/10/15-minute isochrones of every community of the city-centre case
of ``bench_city.py --centre`` (as ``livingcircle run`` does: the first speed profile, the
communities in Z order, the same searches) with two makers from empty caches, one after the
other in this process, on one thread:

``alternate``
    maker A draws tasks 0, 2, 4, … and maker B tasks 1, 3, 5, … (what two equally fast workers
    of the pool do);
``halves``
    maker A draws the first half of the Z order, maker B the second (each its own part of the
    city).

and reports each maker's CPU seconds (``time.process_time``) and cached vertices. If building
cells were a large part of the work, ``halves`` would take less CPU in all. Two more ways say
what building every cell of the city once costs, and one what the run's pool does:

``tree``
    one maker from empty caches builds every cell of the quadtree (every top-level cell, which
    builds the levels below it), on one thread;
``tree_threads``
    the same with the top-level cells shared by two threads of this process (wall and CPU
    seconds: the maker is thread-safe, GEOS lets go of the GIL, the Python between does not);
``pool``
    ``isochrones(acc, workers=2)``, as the run draws them (a local pool of 2 worker processes):
    wall seconds and the workers' CPU seconds, with the commit of the ``livingcircle`` imported
    (run it on two commits, e.g.
    ``PYTHONPATH=<worktree of the other commit>``, to compare how the pool shares the work).

Usage::

    python benchmarks/bench_isochrone_split.py                 # every way, about 5 minutes
    python benchmarks/bench_isochrone_split.py --ways tree tree_threads
    python benchmarks/bench_isochrone_split.py --ways pool --nodes 1000000   # the 1M city
    python benchmarks/bench_isochrone_split.py --ways pool --with-facilities  # as the run measures

One JSON line per way is appended to ``benchmarks/_work/bench_isochrone_split.jsonl`` and printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ways = ["alternate", "halves", "tree", "tree_threads", "pool"]
    ap.add_argument("--ways", nargs="+", default=ways, choices=ways)
    ap.add_argument("--nodes", type=int, default=None,
                    help="the grid city of `bench_city.py --nodes N` (its default 10,000 "
                         "communities and 50,000 facilities) instead of the city centre")
    ap.add_argument("--with-facilities", action="store_true",
                    help="measure the communities with the city's facilities, as the run does "
                         "(default: without, the isochrones need none)")
    args = ap.parse_args(argv)

    import bench_city
    import geopandas as gpd

    from livingcircle import settings
    from livingcircle.accessibility import measure_access
    from livingcircle.isochrones import ISOCHRONE_TASK, _draw, maker_for, spatial_order
    from livingcircle.network import build_network
    from livingcircle.routing import BoundedSearch

    city = argparse.Namespace(centre=args.nodes is None, spacing=50.0, seed=7,
                              nodes=args.nodes, communities=10_000, facilities=50_000)
    if city.centre:
        city.nodes, city.communities, city.facilities = (
            bench_city.CENTRE[k] for k in ("nodes", "communities", "facilities"))
    folder = bench_city.city_folder(city)
    bench_city.write_city(folder, **bench_city.city_options(city))
    net = build_network(osm=str(folder / "city.osm.pbf"), graph=False)
    comm = gpd.read_file(folder / "communities.gpkg")
    none = gpd.GeoDataFrame({"facility_id": [], "categories": []},
                            geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    fac = gpd.read_file(folder / "facilities.gpkg") if args.with_facilities else none
    acc = measure_access(net, comm, fac, speed_profiles=["adult"])
    order = spatial_order(acc.communities.to_crs(acc.crs).geometry.centroid.to_numpy())
    order = np.array([i for i in order if len(acc.community_nodes[i])])
    speeds = acc.speeds
    minutes = [float(m) for m in settings.level_minutes]
    radius = max(minutes) * max(speeds.values())
    search = BoundedSearch(acc.graph)
    work = np.full(acc.graph.n_nodes, np.inf)

    def draw(rows: np.ndarray) -> dict:
        maker = maker_for(acc, settings.isochrone_buffer_m).with_empty_caches()
        t0 = time.process_time()
        for i in rows:
            starts = np.asarray(acc.community_nodes[i])
            nodes, dist = search(starts, np.zeros(len(starts)), radius)
            _draw(maker, speeds, minutes, nodes, dist, work)
        return {"communities": len(rows), "cpu_s": round(time.process_time() - t0, 1),
                "cached_vertices": int(maker._cached_vertices)}

    def build_tree(threads: int) -> dict:
        from concurrent.futures import ThreadPoolExecutor

        maker = maker_for(acc, settings.isochrone_buffer_m).with_empty_caches()
        top = len(maker.levels) - 1
        cells = range(len(maker.levels[top]["count"]))
        t0, w0 = time.process_time(), time.perf_counter()
        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(lambda c: maker._cell_filled(top, c), cells))
        return {"threads": threads, "top_cells": len(cells),
                "cpu_s": round(time.process_time() - t0, 1),
                "wall_s": round(time.perf_counter() - w0, 1),
                "cached_vertices": int(maker._cached_vertices)}

    n = len(order)
    tasks = [order[k:k + ISOCHRONE_TASK] for k in range(0, n, ISOCHRONE_TASK)]
    out = Path(__file__).resolve().parent / "_work" / "bench_isochrone_split.jsonl"
    for way in args.ways:
        if way == "pool":
            _write(out, {"way": way, "city": folder.name, "facilities": len(fac), **pool(acc),
                         "load_avg": os.getloadavg()})
            continue
        if way.startswith("tree"):
            rec = {"way": way, "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                   **build_tree(threads=2 if way == "tree_threads" else 1),
                   "load_avg": os.getloadavg()}
            _write(out, rec)
            continue
        if way == "alternate":
            parts = [np.concatenate(tasks[0::2]), np.concatenate(tasks[1::2])]
        else:
            parts = [order[:n // 2], order[n // 2:]]
        started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        makers = [draw(p) for p in parts]
        rec = {"way": way, "started": started, "makers": makers,
               "cpu_s_total": round(sum(m["cpu_s"] for m in makers), 1),
               "load_avg": os.getloadavg(), "task": ISOCHRONE_TASK}
        _write(out, rec)


def pool(acc) -> dict:
    """The isochrones drawn as the run draws them with 2 workers: wall, the workers' CPU s."""
    import resource
    import subprocess

    import livingcircle
    from livingcircle import settings
    from livingcircle.isochrones import isochrones, iter_isochrones

    def children() -> float:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=Path(livingcircle.__file__).parent).stdout.strip()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    c0, t0 = children(), time.perf_counter()
    if len(acc.communities) > settings.spill_above_communities:
        # as the run draws a city's: chunk by chunk, each dropped once made (the run writes
        # it to a temporary file), never all in memory
        rows = sum(len(chunk) for chunk in iter_isochrones(
            acc, workers=2, chunk_size=settings.isochrone_chunk_size))
    else:
        rows = len(isochrones(acc, workers=2))
    return {"started": started, "commit": commit, "rows": rows,
            "wall_s": round(time.perf_counter() - t0, 1),
            "workers_cpu_s": round(children() - c0, 1)}


def _write(out: Path, rec: dict) -> None:
    line = json.dumps(rec)
    print(line, flush=True)
    out.parent.mkdir(exist_ok=True)
    with out.open("a") as f:
        f.write(line + "\n")


if __name__ == "__main__":
    main()
