"""One city over a Dask cluster (issue 17, target 6): ``livingcircle run --scheduler`` on 1 and 2
local workers against the same run on this machine's own cores, and the results compared.

For every ``--workers`` count N this script starts a ``distributed.LocalCluster`` of N worker
processes with one thread each (the scheduler runs in this process), runs the command a planner
runs on a cluster::

    livingcircle -v run --osm city.osm.pbf --communities ... --facilities ... \\
        --scheduler tcp://127.0.0.1:PORT --out out_dask<N> --no-progress

in a subprocess (timed by ``bench_city.measure``: wall time, the command's own peak memory, its
``stage ...`` lines), and reads each worker process's CPU seconds (``psutil``, before and after)
and peak resident memory (``VmHWM`` from ``/proc/<pid>/status`` at the end). The run without
``--scheduler`` (``--local``, on by default) is the baseline. The results of every Dask run are
then compared with the baseline layer by layer and cell by cell with
``compare_results.compare_folders`` (the per-community stages must give the same results, issue
17 target 6); the number of differences is recorded.

The city is ``bench_city``'s synthetic city (``--centre`` by default, or ``--nodes`` ...), written
once and reused. On a 2-core machine two single-threaded workers plus the command's own process
share two cores: what scales is the per-community drawing (isochrones, coverage areas, uncovered
areas), and the figures say how much of the run that is.

Usage::

    python benchmarks/bench_city_dask.py                       # the city centre, 1 and 2 workers
    python benchmarks/bench_city_dask.py --workers 1 2 --nodes 100000 --communities 1000 \\
        --facilities 5000

One JSON line per run is appended to ``benchmarks/_work/bench_city_dask.jsonl`` and printed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_city  # this folder's script: its city and its timing

WORK = bench_city.WORK


def _worker_pids(client) -> dict[str, int]:
    return client.run(os.getpid)


def _cpu_seconds(pids) -> dict[int, float]:
    import psutil

    out = {}
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        out[pid] = t.user + t.system
    return out


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_once(folder: Path, label: str, speeds: list[str], scheduler: str | None) -> dict:
    """``livingcircle -v run`` on the city into ``out_<label>``, with or without a scheduler."""
    import pyrosm

    pyrosm.OSM.clear_cache(str(folder / "city.osm.pbf"))
    out = folder / f"out_{label}"
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "livingcircle.cli", "-v", "run",
           "--osm", str(folder / "city.osm.pbf"),
           "--communities", str(folder / "communities.gpkg"),
           "--facilities", str(folder / "facilities.gpkg"),
           "--out", str(out), "--no-progress"]
    for s in speeds:
        cmd += ["--speeds", s]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return {"started": started, **bench_city.measure(cmd, folder / f"run_{label}.log")}


def dask_run(folder: Path, n_workers: int, speeds: list[str]) -> dict:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        pids = _worker_pids(client)
        cpu0, self0 = _cpu_seconds(pids.values()), _self_cpu()
        rec = run_once(folder, f"dask{n_workers}", speeds, cluster.scheduler_address)
        cpu1, self1 = _cpu_seconds(pids.values()), _self_cpu()
        hwm = {pid: bench_city._vm_hwm_mb(pid) for pid in pids.values()}
    rec["dask"] = {
        "workers": n_workers, "threads_per_worker": 1,
        "worker_cpu_seconds": [round(cpu1[p] - cpu0[p], 1) for p in pids.values()],
        "worker_peak_mb": [round(hwm[p] or 0.0, 1) for p in pids.values()],
        "scheduler_cpu_seconds": round(self1 - self0, 1),  # this process: LocalCluster's scheduler
    }
    return rec


def compare(folder: Path, label: str) -> dict:
    """Differences between ``out_<label>`` and the baseline ``out_local``, by layer."""
    from compare_results import compare_folders

    base, other = folder / "out_local", folder / f"out_{label}"
    if not (base.exists() and other.exists()):
        return {"compared": False}
    diffs = compare_folders(base, other, roots=(base, other), rtol=1e-9, atol=1e-6,
                            geom_tol=1e-6)
    return {"compared": True, "differences": len(diffs),
            "where": sorted({d.key() for d in diffs})[:20]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-local", dest="local", action="store_false",
                    help="skip the baseline run without --scheduler (out_local must exist)")
    ap.add_argument("--nodes", type=int, default=None)
    ap.add_argument("--communities", type=int, default=None)
    ap.add_argument("--facilities", type=int, default=None)
    ap.add_argument("--speeds", nargs="+", default=["adult", "elderly", "winter"])
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    # bench_city's own options for the city (the centre case unless a size is given)
    city_args = bench_city.argparse.Namespace(
        centre=args.nodes is None, spacing=50.0, seed=args.seed, speeds=args.speeds)
    base = bench_city.CENTRE if city_args.centre else {}
    for k in ("nodes", "communities", "facilities"):
        setattr(city_args, k, getattr(args, k) or base[k])
    folder = bench_city.city_folder(city_args)
    city = bench_city.write_city(folder, **bench_city.city_options(city_args))
    print(json.dumps({"city": str(folder), **city}), flush=True)
    runs = []
    if args.local:
        runs.append(("local", run_once(folder, "local", args.speeds, None)))
    for n in args.workers:
        rec = dask_run(folder, n, args.speeds)
        rec["same_as_local"] = compare(folder, f"dask{n}")
        runs.append((f"dask{n}", rec))
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / "bench_city_dask.jsonl").open("a", encoding="utf-8") as fh:
        for label, rec in runs:
            line = {"label": label, "nodes_asked": city_args.nodes,
                    "communities": city_args.communities, "facilities": city_args.facilities,
                    "centre": city_args.centre, "city": city, **rec,
                    "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]}}
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            short = {k: v for k, v in line.items() if k not in ("stages", "city", "log")}
            print(json.dumps(short, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
