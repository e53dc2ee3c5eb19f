"""Peak memory of the in-memory isochrone stage on the city-centre case, one child per setting.

``livingcircle run`` keeps a city's isochrones in memory up to
:data:`livingcircle.settings.spill_above_communities` communities, through
:func:`livingcircle.isochrones.isochrones`. That function draws them
:data:`livingcircle.isochrones.ISOCHRONE_CHUNK` communities at a time; ``--chunks`` gives the
values to compare (1000000 draws every community in one chunk, as before 2026-12-02). Each value
runs in its own child process (so that its peak is its own): the city-centre network of
``bench_city.py --centre`` read as arrays, ``measure_access`` for the first ``--communities``
communities (adult speed), then ``isochrones(acc, minutes=(5, 10, 15))`` as the run calls it.
The child prints resident memory before the isochrones and its peak (``VmHWM``) after, CPU and
wall seconds of the isochrones, and a checksum of the polygons (total area, vertices) that must
be the same for every chunk size.

``--workers`` compares worker processes (issue 17, target 6): ``1`` draws in this process's
threads (``--threads``, default every core), ``2`` in a pool of two processes
(:mod:`livingcircle._parallel`). With a pool the CPU seconds include the workers' (they are
joined when ``isochrones`` returns) and the memory is polled every 0.5 s over the child and its
workers: the sum of their resident memory (``VmRSS``; pages shared after ``fork`` counted in
each) and of their proportional share (``Pss``, each shared page divided among its sharers),
besides the child's own ``VmHWM``. ``wkb_sha256`` hashes every polygon's WKB: the same value
means the same polygons bit for bit.

Usage::

    python benchmarks/bench_isochrone_memory.py --communities 400 --chunks 1000000,200
    python benchmarks/bench_isochrone_memory.py --communities 1600 --chunks 200 --workers 1,2
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _mem_mb() -> dict:
    vals = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            k, v = line.split(":", 1)
            vals[k] = round(int(v.split()[0]) / 1024.0, 1)
    return vals


def child(n_comm: int, chunk: int, workers: int = 1, threads: int | None = None) -> None:
    """Draw the isochrones of the first ``n_comm`` communities with ``chunk``; print JSON."""
    import hashlib
    import threading

    import bench_city
    import geopandas as gpd
    import shapely

    from livingcircle import settings
    from livingcircle.accessibility import measure_access
    from livingcircle.network import build_network

    iso_mod = importlib.import_module("livingcircle.isochrones")  # the package shadows it
    c = bench_city.CENTRE
    folder = bench_city.WORK / f"city_{c['nodes']}_{c['communities']}_{c['facilities']}_centre"
    bench_city.write_city(folder, spacing=50.0, seed=7, **c)
    net = build_network(osm=str(folder / "city.osm.pbf"), graph=False)
    comm = gpd.read_file(folder / "communities.gpkg").iloc[:n_comm]
    none = gpd.GeoDataFrame({"facility_id": [], "categories": []},
                            geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    acc = measure_access(net, comm, none, speed_profiles=["adult"])
    iso_mod.ISOCHRONE_CHUNK = chunk
    settings.workers = workers
    settings.threads = threads
    before = _mem_mb()
    tree = [0.0, 0.0]
    stop = threading.Event()

    poll_cpu = [0.0]

    def poll():
        while not stop.is_set():
            rss, pss = bench_city.tree_mb(os.getpid())
            tree[0], tree[1] = max(tree[0], rss), max(tree[1], pss)
            poll_cpu[0] = time.thread_time()  # this thread's CPU, taken off the figures
            stop.wait(0.5)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    t, c0, k0 = time.perf_counter(), time.process_time(), os.times()
    iso = iso_mod.isochrones(acc, minutes=(5, 10, 15))
    wall, cpu = time.perf_counter() - t, time.process_time() - c0
    k1 = os.times()
    stop.set()
    th.join()
    cpu -= poll_cpu[0]
    cpu_workers = (k1.children_user - k0.children_user) + (k1.children_system
                                                           - k0.children_system)
    after = _mem_mb()
    digest = hashlib.sha256()
    for g in shapely.to_wkb(iso.geometry.to_numpy()):
        digest.update(g)
    print(json.dumps({
        "communities": n_comm, "chunk": chunk, "workers": workers, "threads": threads,
        "rows": len(iso), "cpu_s_with_workers": round(cpu + cpu_workers, 1),
        "cpu_s_workers": round(cpu_workers, 1), "cpu_s_polling": round(poll_cpu[0], 1),
        "tree_rss_peak_mb": round(tree[0], 1), "tree_pss_peak_mb": round(tree[1], 1),
        "wkb_sha256": digest.hexdigest(),
        "rss_before_mb": before["VmRSS"], "peak_before_mb": before["VmHWM"],
        "rss_after_mb": after["VmRSS"], "peak_mb": after["VmHWM"],
        "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
        "area_m2_sum": round(float(iso["area_m2"].sum()), 1),
        "vertices": int(shapely.get_num_coordinates(iso.geometry.to_numpy()).sum()),
        "ids_in_order": iso["community_id"].drop_duplicates().tolist()
        == comm["community_id"].astype(str).tolist(),
    }), flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--communities", type=int, default=400)
    ap.add_argument("--chunks", default="1000000,200")
    ap.add_argument("--workers", default="1", help="worker processes to compare, e.g. 1,2")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads of a one-process run (default: every core)")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-workers", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        child(args.communities, args.child, args.child_workers, args.threads)
        return
    recs = []
    runs = [(int(c), int(w)) for c in args.chunks.split(",") for w in args.workers.split(",")]
    for chunk, workers in runs:
        load = os.getloadavg()
        extra = ["--threads", str(args.threads)] if args.threads else []
        got = subprocess.run([sys.executable, __file__, "--communities", str(args.communities),
                              "--child", str(chunk), "--child-workers", str(workers), *extra],
                             capture_output=True, text=True, check=True)
        rec = json.loads(got.stdout.strip().splitlines()[-1])
        rec.update(load_avg_at_start=load, date=time.strftime("%Y-%m-%d %H:%M:%S %Z"))
        print(json.dumps(rec), flush=True)
        recs.append(rec)
    work = Path(__file__).resolve().parent / "_work"
    work.mkdir(exist_ok=True)
    with (work / "bench_isochrone_memory.jsonl").open("a", encoding="utf-8") as fh:
        for rec in recs:
            fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
