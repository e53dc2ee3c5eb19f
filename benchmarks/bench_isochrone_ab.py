"""A/B of the isochrone maker on the city-centre case, one thread, in one process.

Writes (once) the city-centre case of ``bench_city.py --centre``, builds its network and
``measure_access`` as ``livingcircle run`` does, then draws the 5/10/15-minute isochrones of the
same communities with two makers from empty caches, one after the other, and again in the other
order: ``before`` (the reached street segments through ``np.unique``, as up to this commit's
parent) and ``now`` (through a mask, :func:`livingcircle.isochrones._sorted_unique`). Then the
coverage areas the same way (``--coverage``).
CPU seconds (``time.process_time``) beside wall seconds, because the machine may be shared; the
polygons of both must be the same.

Usage::

    python benchmarks/bench_isochrone_ab.py --communities 100 --coverage
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--communities", type=int, default=200,
                    help="the first N communities of the city (random blocks)")
    ap.add_argument("--coverage", action="store_true",
                    help="also time coverage_areas (every category, the whole city)")
    args = ap.parse_args(argv)

    import importlib

    import bench_city

    import livingcircle as lc

    iso_mod = importlib.import_module("livingcircle.isochrones")
    from livingcircle.accessibility import measure_access
    from livingcircle.coverage import coverage_areas

    class Before(iso_mod.IsochroneMaker):
        """The maker of the parent commit: reached segments through ``np.unique``."""

        def segments_reached(self, nodes, dist, work):
            g = self.g
            if len(nodes) == 0:
                return None
            work[nodes] = dist
            segs = np.unique(self.inc[nodes].indices)
            segs = segs[self.street[segs]]
            da, db = work[g.seg_a[segs]], work[g.seg_b[segs]]
            work[nodes] = np.inf
            return segs, da, db

    folder = bench_city.WORK / "city_{nodes}_{communities}_{facilities}_centre".format(
        **bench_city.CENTRE)
    bench_city.write_city(folder, nodes=bench_city.CENTRE["nodes"],
                          communities=bench_city.CENTRE["communities"],
                          facilities=bench_city.CENTRE["facilities"], spacing=50.0, seed=7,
                          drop=bench_city.CENTRE["drop"],
                          shape_points=bench_city.CENTRE["shape_points"],
                          bow=bench_city.CENTRE["bow"])
    net = lc.build_network(osm=folder / "city.osm.pbf")
    comm = lc.read_communities(folder / "communities.gpkg")
    fac = lc.read_facilities(folder / "facilities.gpkg")
    acc = measure_access(net, comm, fac, speed_profiles=["adult", "elderly", "winter"])
    ids = comm["community_id"].iloc[:args.communities].tolist()
    makers = {"before": Before, "now": iso_mod.IsochroneMaker}
    out = {"communities": len(ids), "load_avg_at_start": os.getloadavg(), "runs": []}
    polys = {}
    for name in ["before", "now", "now", "before"]:
        acc.__dict__.pop("_isochrone_makers", None)  # empty caches: a fresh maker
        original = iso_mod.IsochroneMaker
        iso_mod.IsochroneMaker = makers[name]
        try:
            c, w = time.process_time(), time.perf_counter()
            # workers=1: one process (200 communities and more would go to the process pool,
            # whose CPU seconds process_time does not see)
            got = iso_mod.isochrones(acc, community_ids=ids, speed_profiles=["adult"],
                                     threads=1, workers=1)
            cpu, wall = time.process_time() - c, time.perf_counter() - w
        finally:
            iso_mod.IsochroneMaker = original
        polys[name] = got.to_crs(acc.crs).geometry.to_numpy()
        rec = {"maker": name, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
               "cpu_ms_per_community": round(1000 * cpu / len(ids), 1),
               "load_avg": os.getloadavg()}
        out["runs"].append(rec)
        print(json.dumps(rec), flush=True)
    if args.coverage:
        cov = {}
        for name in ["before", "now"]:
            acc.__dict__.pop("_isochrone_makers", None)
            original = iso_mod.IsochroneMaker
            iso_mod.IsochroneMaker = makers[name]
            try:
                c, w = time.process_time(), time.perf_counter()
                got = coverage_areas(acc, fac, threads=1, workers=1)
                cpu, wall = time.process_time() - c, time.perf_counter() - w
            finally:
                iso_mod.IsochroneMaker = original
            cov[name] = got.to_crs(acc.crs).geometry.to_numpy()
            rec = {"coverage_maker": name, "cpu_s": round(cpu, 2), "wall_s": round(wall, 2),
                   "load_avg": os.getloadavg()}
            out["runs"].append(rec)
            print(json.dumps(rec), flush=True)
        out["coverage_max_symmetric_difference_m2"] = float(np.max(shapely.area(
            shapely.symmetric_difference(cov["before"], cov["now"]))))
    diff = shapely.area(shapely.symmetric_difference(polys["before"], polys["now"]))
    out["max_symmetric_difference_m2"] = float(np.max(diff)) if len(diff) else 0.0
    best = {n: min(r["cpu_s"] for r in out["runs"] if r.get("maker") == n) for n in makers}
    out["cpu_speedup"] = round(best["before"] / best["now"], 2)
    out["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    print(json.dumps(out), flush=True)
    bench_city.WORK.mkdir(parents=True, exist_ok=True)
    with (bench_city.WORK / "bench_isochrone_ab.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
