"""One city on one machine: time and peak memory of ``livingcircle run`` on a synthetic city.

Modes:

``run`` (default)
    Writes a **synthetic** city to real files — the walking network as an ``.osm.pbf`` (written
    with pyosmium), the communities and the facilities as GeoPackages — and runs the command a
    planner runs, ``livingcircle -v run --osm city.osm.pbf --communities ... --facilities ...
    --out DIR``, in a subprocess started from this small parent. While it runs, the parent reads
    the child's ``VmHWM`` (its own peak resident memory) from ``/proc/<pid>/status`` every 0.2 s
    and takes the larger of that and the child's ``ru_maxrss`` from ``os.wait4`` at its end; the
    child's per-stage seconds and memory are the ``stage ...`` lines the pipeline logs at INFO
    level (see ``livingcircle.pipeline``). While worker processes exist, the parent also sums
    the RSS and the Pss of the child and its workers, at most once a second and at most 1 % of
    a core (:data:`TREE_POLL_COST_SHARE`; every 4 s at the city centre, 7 s at 1M nodes): the
    run's largest sums (``tree_rss_peak_mb``, ``tree_pss_peak_mb``, lower bounds of the peak)
    and each stage's (the same keys on its stage line); ``poller`` says what the reading cost.
    pyrosm's result cache for the file is cleared before each run, so the OSM file is read cold
    every time.
``network``
    ``livingcircle.build_network`` of the written ``.osm.pbf`` alone, once as arrays and once
    through a networkx graph (``graph=True``), each in its own process: the cost of the choice.
``arrays``
    The older stage-by-stage measurement: the same grid handed to
    :meth:`livingcircle.WalkNetwork.from_arrays` in memory, then ``measure_access``, gaps and an
    optional sample of isochrones (``--mode networkx`` puts a networkx graph in between, for
    contrast). No files, no map, no GeoPackage.

The synthetic city: a ``side × side`` grid of intersections (``side = √nodes``), 50 m apart,
positions jittered by up to ±15 % of the spacing, 10 % of the street segments removed at random,
in UTM zone 52N around Harbin; every street is ``highway=residential`` and a run of consecutive
segments on one grid line is one OSM way. Communities are 30 m × 30 m squares in randomly chosen
blocks (households 80–1,199, population 2.6 per household, build year 1960–2009); facilities are
points at random positions with one category each, drawn evenly from the profile's POI
categories. Nothing is estimated: every figure comes from a run.

pyosmium (``pip install osmium``) is needed only to write the ``.osm.pbf``; it is a dependency of
this benchmark, not of livingcircle.

The city-centre case (``--centre``, issue 17): 242 × 242 intersections, 20 % of the segments
removed, curved streets (shape nodes, see :func:`write_pbf`), communities shaped by their blocks,
1,600 communities and 2,300 facilities (see ``CENTRE``); ``--profile`` runs the command again
under cProfile on one thread and writes ``profile.txt``.

Usage::

    python benchmarks/bench_city.py --centre                       # the city-centre case
    python benchmarks/bench_city.py --nodes 100000 --communities 1000 --facilities 5000
    python benchmarks/bench_city.py --nodes 1000000 --report       # 10,000 / 50,000 by default
    python benchmarks/bench_city.py --nodes 100000 --communities 1000 --facilities 5000 \
        --set network_graph_max_nodes=0                            # arrays at 100k as well
    python benchmarks/bench_city.py --mode network --nodes 1000000   # graph against arrays
    python benchmarks/bench_city.py --mode arrays --nodes 1000000 --iso-sample 100

Results are appended to ``benchmarks/_work/bench_city.jsonl``; the city files stay in
``benchmarks/_work/city_<nodes>_<communities>_<facilities>/`` (reused when the same options are
asked again), with the child's full log (``run.log``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

WORK = Path(__file__).resolve().parent / "_work"
CRS = "EPSG:32652"
X0, Y0 = 640_000.0, 5_060_000.0  # around Harbin in UTM 52N
# The city-centre case (issue 17, target 1): the size of the real extract of the issue (about
# 50,000 walking nodes, 1,635 residential areas, 2,259 POIs) on a grid made uneven the way
# pyrosm's Helsinki extract is (measured there: 2.84 vertices per street, 24 % dead-end nodes,
# streets 1.02 × longer than straight): 20 % of the segments removed (more dead ends and larger,
# uneven blocks), a mean of one shape node per street on a bow up to 10 % of its length.
# 242² intersections: with 20 % of the segments removed, 224² gave 42,347 walking nodes after
# pyrosm's simplification (0.844 of the intersections), so 242² gives about 49,400.
CENTRE = {"nodes": 242 * 242, "communities": 1600, "facilities": 2300, "drop": 0.2,
          "shape_points": 1.0, "bow": 0.1}


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB (``VmHWM``; else ``ru_maxrss``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- the synthetic city --------------------------------------------------------------------------

def grid_arrays(n_nodes: int, *, spacing: float, drop: float, seed: int):
    """Node coordinates and undirected edges (u < v) of a jittered grid with ``drop`` removed.

    Returns ``side, xy, u, v`` and the kept masks of the horizontal and vertical segments
    (``keep_h[i, j]``: node (i, j) to (i, j+1); ``keep_v[i, j]``: node (i, j) to (i+1, j)).
    """
    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(n_nodes)))
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    xy = np.column_stack([X0 + jj.ravel() * spacing, Y0 + ii.ravel() * spacing])
    xy += rng.uniform(-0.15, 0.15, xy.shape) * spacing
    idx = np.arange(side * side).reshape(side, side)
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    keep = rng.random(len(u)) >= drop
    n_h = side * (side - 1)
    keep_h = keep[:n_h].reshape(side, side - 1)
    keep_v = keep[n_h:].reshape(side - 1, side)
    return side, xy, u[keep].astype(np.int64), v[keep].astype(np.int64), keep_h, keep_v


def _runs(mask_row: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) segment index of every run of kept segments in one grid line."""
    m = np.r_[False, mask_row, False].astype(np.int8)
    d = np.diff(m)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1, strict=True))


def _shape_points(a: np.ndarray, b: np.ndarray, k: int, bow: float) -> np.ndarray:
    """``k`` points bending the straight street a → b into a smooth curve (arc-like bow).

    The point at fraction ``t`` of the way is moved sideways by ``bow · length · sin(π t)``:
    with ``bow`` = 0.1 a 50 m street becomes about 1.3 % longer than straight (1.02 on average
    in pyrosm's Helsinki extract, measured in ``CITY_SCALE.md``).
    """
    t = np.arange(1, k + 1) / (k + 1)
    d = b - a
    normal = np.array([-d[1], d[0]])
    return a + t[:, None] * d + (bow * np.sin(np.pi * t))[:, None] * normal


def write_pbf(path: Path, side: int, xy: np.ndarray, keep_h: np.ndarray,
              keep_v: np.ndarray, *, shape_points: float = 0.0, bow: float = 0.0,
              seed: int = 0) -> dict:
    """Write the grid as an OSM PBF: one node per intersection, one way per run of streets.

    ``shape_points`` > 0 curves the streets (city-centre case): between two intersections a
    way gets 0, 1 or 2 extra nodes (Poisson-like, ``shape_points`` on average) on a bow of
    random side and height up to ``bow`` × the street's length; these nodes only shape the
    street (pyrosm's simplified graph does not make them graph nodes).
    """
    import osmium
    from pyproj import Transformer

    rng = np.random.default_rng(seed + 2)
    to_wgs = Transformer.from_crs(CRS, 4326, always_xy=True)
    lon, lat = to_wgs.transform(xy[:, 0], xy[:, 1])
    used = np.zeros(side * side, dtype=bool)
    ways = []
    for i in range(side):  # horizontal lines: nodes (i, j..k+1)
        for a, b in _runs(keep_h[i]):
            ways.append(i * side + np.arange(a, b + 2))
    for j in range(side):  # vertical lines: nodes (a..b+1, j)
        for a, b in _runs(keep_v[:, j]):
            ways.append(np.arange(a, b + 2) * side + j)
    for w in ways:
        used[w] = True
    extra_xy = []  # shape nodes, ids after the intersections
    way_nodes = []
    next_id = side * side
    for w in ways:
        if shape_points <= 0:
            way_nodes.append(w)
            continue
        seq = [int(w[0])]
        for a, b in zip(w[:-1], w[1:], strict=True):
            k = int(min(2, rng.poisson(shape_points)))
            if k:
                pts = _shape_points(xy[a], xy[b], k, bow * rng.uniform(-1.0, 1.0))
                extra_xy.append(pts)
                seq.extend(range(next_id, next_id + k))
                next_id += k
            seq.append(int(b))
        way_nodes.append(np.asarray(seq))
    tmp = path.with_name(path.name + ".partial.osm.pbf")
    tmp.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(tmp))
    try:
        for n in np.flatnonzero(used):
            writer.add_node(osmium.osm.mutable.Node(id=int(n) + 1,
                                                    location=(float(lon[n]), float(lat[n]))))
        if extra_xy:
            exy = np.concatenate(extra_xy)
            elon, elat = to_wgs.transform(exy[:, 0], exy[:, 1])
            for k in range(len(exy)):
                writer.add_node(osmium.osm.mutable.Node(
                    id=side * side + k + 1, location=(float(elon[k]), float(elat[k]))))
        for k, w in enumerate(way_nodes):
            writer.add_way(osmium.osm.mutable.Way(id=k + 1, nodes=[int(n) + 1 for n in w],
                                                  tags={"highway": "residential"}))
    finally:
        writer.close()
    os.replace(tmp, path)
    return {"osm_nodes": int(used.sum()) + (next_id - side * side), "osm_ways": len(ways),
            "shape_nodes": next_id - side * side}


def synthetic_inputs(side: int, spacing: float, n_comm: int, n_fac: int, seed: int,
                     xy: np.ndarray | None = None):
    """Communities in randomly chosen blocks and facility points on random positions.

    Without ``xy``: squares of 0.6 × the spacing in the block centres. With ``xy`` (the
    jittered intersections): the block's own quadrilateral, its four corners drawn 20 % of the
    way towards its centre, so that a community follows the uneven streets around it.
    """
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
    if xy is not None:
        corner = bi * side + bj  # south-west intersection of the block
        quad = np.stack([xy[corner], xy[corner + 1], xy[corner + side + 1], xy[corner + side]],
                        axis=1)
        centre = quad.mean(axis=1, keepdims=True)
        polys = shapely.polygons(centre + 0.8 * (quad - centre))
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


def write_city(folder: Path, *, nodes: int, communities: int, facilities: int, spacing: float,
               seed: int, drop: float = 0.1, shape_points: float = 0.0,
               bow: float = 0.0) -> dict:
    """Write ``city.osm.pbf``, ``communities.gpkg`` and ``facilities.gpkg`` (EPSG:4326) once.

    ``shape_points`` > 0 (the city-centre case) also curves the streets and gives the
    communities the shape of their blocks (see :func:`write_pbf`, :func:`synthetic_inputs`).
    """
    import pyogrio

    spec = {"nodes": nodes, "communities": communities, "facilities": facilities,
            "spacing_m": spacing, "seed": seed, "drop": drop}
    if shape_points:
        spec.update(shape_points=shape_points, bow=bow)
    done = folder / "city.json"
    if done.is_file() and json.loads(done.read_text()).get("spec") == spec:
        return json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    side, xy, u, _v, keep_h, keep_v = grid_arrays(nodes, spacing=spacing, drop=drop, seed=seed)
    info = write_pbf(folder / "city.osm.pbf", side, xy, keep_h, keep_v,
                     shape_points=shape_points, bow=bow, seed=seed)
    info["street_segments"] = int(len(u))
    del u, _v
    comm, fac, _ = synthetic_inputs(side, spacing, communities, facilities, seed,
                                    xy=xy if shape_points else None)
    del xy
    for name, gdf in (("communities", comm), ("facilities", fac.drop(columns="categories"))):
        target = folder / f"{name}.gpkg"
        tmp = folder / f".{name}.partial.gpkg"
        tmp.unlink(missing_ok=True)
        pyogrio.write_dataframe(gdf.to_crs(4326), tmp, layer=name, driver="GPKG")
        os.replace(tmp, target)
    meta = {"spec": spec, "side": side, "extent_km": round((side - 1) * spacing / 1000, 1),
            **info, "write_seconds": round(time.perf_counter() - t, 1),
            "pbf_mb": round((folder / "city.osm.pbf").stat().st_size / 2**20, 1)}
    done.write_text(json.dumps(meta, indent=1))
    return meta


def city_folder(args) -> Path:
    """The folder of the city the options describe (``_centre`` for the city-centre case)."""
    name = f"city_{args.nodes}_{args.communities}_{args.facilities}"
    return WORK / (name + ("_centre" if args.centre else ""))


def city_options(args) -> dict:
    """Keyword arguments of :func:`write_city` from the command-line options."""
    opts = {"nodes": args.nodes, "communities": args.communities,
            "facilities": args.facilities, "spacing": args.spacing, "seed": args.seed}
    if args.centre:
        opts.update(drop=CENTRE["drop"], shape_points=CENTRE["shape_points"],
                    bow=CENTRE["bow"])
    return opts


# --- mode run: the real command in a subprocess --------------------------------------------------

_STAGE = re.compile(r"stage (?P<stage>.+?): (?P<seconds>[\d.]+) s, rss (?P<rss>[\d.]+) MB, "
                    r"peak (?P<peak>[\d.]+) MB(?:, cpu (?P<cpu>[\d.]+) s)?")


#: The tree's memory (:func:`tree_mb`) is read at most once in this many seconds, and at most
#: this share of one core goes to reading it. Read once a second, it took 38.6 s of CPU in a
#: 569.1 s run of the 1M city on 2 cores (py-spy, 1,931 samples at 50 Hz in its reads of
#: ``smaps_rollup``): CPU the run's workers then lacked (``CITY_SCALE.md``, "What the
#: measuring took").
TREE_POLL_MIN_S = 1.0
TREE_POLL_COST_SHARE = 0.01


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def _has_workers(pid: int) -> bool:
    """Whether any thread of process ``pid`` has started a child process."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if (task / "children").read_text().split():
                return True
        except OSError:
            continue
    return False


def tree_mb(pid: int) -> tuple[float, float]:
    """Sum of resident memory and of Pss (MB) of process ``pid`` and its descendants.

    Pss divides each page shared after ``fork`` among the processes sharing it, so its sum is
    the memory the tree takes; the RSS sum counts shared pages once per process.
    """
    import psutil

    rss = pss = 0.0
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return rss, pss
    for p in procs:
        try:
            for line in Path(f"/proc/{p.pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) / 1024.0
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) / 1024.0
        except OSError:
            continue
    return rss, pss


def measure(cmd: list[str], log_path: Path) -> dict:
    """Run ``cmd`` from this (small) process; wall time, the child's peak memory, its stages."""
    print(" ".join(cmd), flush=True)
    # The child runs in the folder of its log, not in this one: ``python -m`` and ``-c`` put
    # their working folder first on sys.path, and started from a checkout they would import its
    # livingcircle whatever PYTHONPATH names (an A/B run "before" from a git worktree would run
    # the code after). Which one it imports is recorded.
    where = log_path.parent
    imported = subprocess.run([cmd[0], "-c", "import livingcircle; print(livingcircle.__file__)"],
                              capture_output=True, text=True, cwd=where, check=False)
    stages = []
    load_at_start = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=where)
    polled = [0.0]
    tree = [0.0, 0.0]  # the child and its worker processes: sum of RSS, sum of Pss
    # the same, since the last stage line: which stage the workers' memory peaks in
    stage_tree = [0.0, 0.0]
    # the poller's own CPU seconds and its reads of the tree's smaps_rollup
    poller = {"cpu_seconds": 0.0, "tree_polls": 0, "tree_poll_cpu_seconds": 0.0}
    stop = threading.Event()

    def poll():
        next_tree = 0.0
        while not stop.is_set():
            hwm = _vm_hwm_mb(proc.pid)
            if hwm is not None:
                polled[0] = max(polled[0], hwm)
            now = time.perf_counter()
            if now >= next_tree and _has_workers(proc.pid):
                c0 = time.thread_time()
                rss, pss = tree_mb(proc.pid)
                cost = time.thread_time() - c0
                poller["tree_polls"] += 1
                poller["tree_poll_cpu_seconds"] += cost
                # smaps_rollup walks every page the tree maps: at 1M nodes 0.074 s of CPU a
                # read on average (run bk), taken from the run on 2 cores; read again after
                # 1 / TREE_POLL_COST_SHARE times that, and never more than once a second
                next_tree = now + max(TREE_POLL_MIN_S, cost / TREE_POLL_COST_SHARE)
                tree[0], tree[1] = max(tree[0], rss), max(tree[1], pss)
                stage_tree[0] = max(stage_tree[0], rss)
                stage_tree[1] = max(stage_tree[1], pss)
            stop.wait(0.2)
        poller["cpu_seconds"] = time.thread_time()

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    with log_path.open("w", encoding="utf-8") as log:
        for line in proc.stdout:
            log.write(f"{time.perf_counter() - t0:9.1f} {line}")
            log.flush()
            m = _STAGE.search(line)
            if m:
                rec = {"stage": m["stage"], "seconds": float(m["seconds"]),
                       "rss_mb": float(m["rss"]), "peak_mb": float(m["peak"]),
                       "cpu_seconds": float(m["cpu"]) if m["cpu"] else None}
                if stage_tree[1] > 0:  # worker processes were seen during this stage
                    rec["tree_rss_peak_mb"] = round(stage_tree[0], 1)
                    rec["tree_pss_peak_mb"] = round(stage_tree[1], 1)
                stage_tree[0] = stage_tree[1] = 0.0
                stages.append(rec)
                print(json.dumps(rec, ensure_ascii=False), flush=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    load = os.getloadavg()
    stop.set()
    th.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    rec = {"cmd": " ".join(cmd), "livingcircle": str(Path(imported.stdout.strip()).parent),
           "returncode": proc.returncode, "wall_seconds": round(wall, 1),
           "peak_mb_vmhwm_polled": round(polled[0], 1),
           "peak_mb_wait4_maxrss": round(usage.ru_maxrss / 1024.0, 1),
           "peak_mb": round(max(polled[0], usage.ru_maxrss / 1024.0), 1),
           # with worker processes (settings.workers): their memory and the child's together
           "tree_rss_peak_mb": round(tree[0], 1), "tree_pss_peak_mb": round(tree[1], 1),
           "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
           # what measuring took of the machine (not in cpu_seconds, which is the child's)
           "poller": {k: round(v, 3) if isinstance(v, float) else v for k, v in poller.items()},
           "load_avg_at_start": load_at_start, "load_avg_at_end": load,
           "stages": stages, "log": str(log_path)}
    if proc.returncode != 0:
        rec["log_tail"] = log_path.read_text(encoding="utf-8")[-3000:]
    return rec


def profile_run(args, run_args: list[str], folder: Path) -> dict:
    """The same command again under cProfile, on one thread (cProfile sees the main thread only).

    Its times are inflated by the profiler and by the single thread; it says where the time
    goes inside each stage, not how long the stage takes. ``profile.txt``: the 40 functions of
    largest cumulative time and the 40 of largest own time.
    """
    import pyrosm

    pyrosm.OSM.clear_cache(str(folder / "city.osm.pbf"))
    out = folder / "out_profile"
    if out.exists():
        shutil.rmtree(out)
    stats = folder / "profile.pstats"
    run_args = [a if a != str(folder / "out") else str(out) for a in run_args]
    assign = "".join(f"settings.{k} = {v}; " for k, v in (kv.split("=", 1) for kv in args.set))
    code = ("import cProfile, pstats, sys; from livingcircle import settings; "
            f"settings.threads = 1; {assign}from livingcircle.cli import main\n"
            f"argv = {run_args!r}\n"
            "try:\n"
            f"    cProfile.runctx('main(argv)', globals(), locals(), {str(stats)!r})\n"
            "except SystemExit:\n    pass\n"
            f"with open({str(folder / 'profile.txt')!r}, 'w') as fh:\n"
            f"    st = pstats.Stats({str(stats)!r}, stream=fh)\n"
            "    st.sort_stats('cumulative').print_stats(40)\n"
            "    st.sort_stats('tottime').print_stats(40)\n")
    rec = measure([sys.executable, "-c", code], folder / "profile.log")
    rec["profile_txt"] = str(folder / "profile.txt")
    return rec


def run_command(args) -> None:
    """Write the city (once), run ``livingcircle run`` on it in a subprocess, log the figures."""
    n_comm = args.communities
    n_fac = args.facilities
    folder = city_folder(args)
    t = time.perf_counter()
    city = write_city(folder, **city_options(args))
    print(json.dumps({"city": str(folder), **city,
                      "seconds_here": round(time.perf_counter() - t, 1)}), flush=True)
    import pyrosm

    pyrosm.OSM.clear_cache(str(folder / "city.osm.pbf"))
    out = folder / "out"
    if out.exists():
        shutil.rmtree(out)
    cli = [sys.executable, "-m", "livingcircle.cli"]
    if args.set:  # the same command with livingcircle.settings changed first
        assign = "; ".join(f"settings.{k} = {v}" for k, v in
                           (kv.split("=", 1) for kv in args.set))
        cli = [sys.executable, "-c", "import sys; from livingcircle import settings; "
               f"{assign}; from livingcircle.cli import main; sys.exit(main(sys.argv[1:]))"]
    cmd = [*cli, "-v", "run",
           "--osm", str(folder / "city.osm.pbf"),
           "--communities", str(folder / "communities.gpkg"),
           "--facilities", str(folder / "facilities.gpkg"),
           "--out", str(out), "--no-progress"]
    for s in args.speeds:
        cmd += ["--speeds", s]
    runs = {"run": measure(cmd, folder / "run.log")}
    if args.profile:
        runs["profile"] = profile_run(args, cmd[cmd.index("-v"):], folder)
    if args.report and runs["run"]["returncode"] == 0:
        cmd = [*cli, "-v", "report", str(out),
               "--out", str(out / "report.html")]
        runs["report"] = measure(cmd, folder / "report.log")
    outputs = {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted(out.glob("*"))} \
        if out.exists() else {}
    rec = {"mode": "run", "centre": args.centre, "nodes_asked": args.nodes,
           "communities": n_comm, "facilities": n_fac,
           "settings": args.set, "city": city, **runs, "outputs_mb": outputs,
           "parent_peak_mb": round(peak_mb(), 1),
           "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0],
                       "load_avg_at_end": os.getloadavg()},
           "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / "bench_city.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    summary = {k: ({kk: vv for kk, vv in v.items() if kk != "stages"} if isinstance(v, dict)
                   else v) for k, v in rec.items() if k != "city"}
    print(json.dumps(summary, ensure_ascii=False), flush=True)


# --- mode network: build_network alone, graph against arrays --------------------------------

def network_child(args) -> None:
    """Build the city's network one way and print its time and memory (one JSON line)."""
    import livingcircle as lc
    from livingcircle.stages import memory_mb

    path = city_folder(args) / "city.osm.pbf"
    t = time.perf_counter()
    net = lc.build_network(osm=path, graph=args.graph == "graph")
    seconds = time.perf_counter() - t
    rss, peak = memory_mb()
    print(json.dumps({"stage": f"build_network({args.graph})", "seconds": round(seconds, 1),
                      "rss_mb": round(rss), "peak_mb": round(peak), "nodes": len(net),
                      "street_segments": int(len(net.edges.u)),
                      "street_km": round(float(net.edges.length.sum()) / 1000, 1)}), flush=True)


def network_command(args) -> None:
    """Time ``build_network`` with and without a networkx graph, each in its own process."""
    import pyrosm

    folder = city_folder(args)
    write_city(folder, **city_options(args))
    recs = []
    for how in ("arrays", "graph"):
        pyrosm.OSM.clear_cache(str(folder / "city.osm.pbf"))
        cmd = [sys.executable, __file__, "--network-child", how, "--nodes", str(args.nodes),
               "--communities", str(args.communities), "--facilities", str(args.facilities),
               *(["--centre"] if args.centre else [])]
        rec = measure(cmd, folder / f"network_{how}.log")
        logged = [x.strip().split(" ", 1) for x in
                  (folder / f"network_{how}.log").read_text().splitlines()]
        line = [json.loads(x[1]) for x in logged if len(x) == 2 and x[1].startswith("{")]
        recs.append({"mode": "network", "how": how, "nodes_asked": args.nodes,
                     "wall_seconds": rec["wall_seconds"], "peak_mb": rec["peak_mb"],
                     "returncode": rec["returncode"], "child": line[-1] if line else None,
                     "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")})
        print(json.dumps(recs[-1]), flush=True)
    with (WORK / "bench_city.jsonl").open("a", encoding="utf-8") as fh:
        for r in recs:
            fh.write(json.dumps(r) + "\n")


# --- mode arrays: stage by stage in memory -------------------------------------------------------

def child(args) -> None:
    """Run one size in memory and print one JSON line per stage."""
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
    side, xy, u, v, _, _ = grid_arrays(args.nodes, spacing=args.spacing, drop=0.1,
                                       seed=args.seed)
    stage("grid arrays", t, nodes=int(len(xy)), edges=int(len(u)),
          extent_km=round((side - 1) * args.spacing / 1000, 1))

    t = time.perf_counter()
    from livingcircle.network import WalkNetwork

    if args.mode == "networkx":
        import networkx as nx

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


def arrays_command(args) -> None:
    """Run the in-memory stages in a subprocess; append the JSON lines to the log."""
    WORK.mkdir(parents=True, exist_ok=True)
    log = WORK / "bench_city.jsonl"
    cmd = [sys.executable, __file__, "--child", "--nodes", str(args.nodes), "--communities",
           str(args.communities), "--facilities", str(args.facilities), "--spacing",
           str(args.spacing), "--mode", args.mode, "--iso-sample", str(args.iso_sample),
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
        fail = {"nodes_asked": args.nodes, "mode": args.mode, "stage": "FAILED",
                "returncode": proc.returncode, "seconds": round(time.perf_counter() - t, 1),
                "stderr_tail": proc.stderr[-2000:]}
        with log.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(fail) + "\n")
        print(json.dumps(fail), flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["run", "network", "arrays", "networkx"], default="run",
                    help="run: livingcircle run on written files (default); network: "
                         "build_network of the written PBF with and without a networkx graph; "
                         "arrays/networkx: the in-memory stages")
    ap.add_argument("--centre", action="store_true",
                    help="the city-centre case: 242 × 242 intersections, 1,600 communities, "
                         "2,300 facilities, curved streets, 20 %% of segments removed, "
                         "communities shaped by their blocks (sizes can still be given)")
    ap.add_argument("--nodes", type=int, default=None, help="default 1,000,000")
    ap.add_argument("--communities", type=int, default=None, help="default 10,000")
    ap.add_argument("--facilities", type=int, default=None, help="default 50,000")
    ap.add_argument("--profile", action="store_true",
                    help="run mode: run the command under cProfile as well; the 40 costliest "
                         "functions (cumulative) go to profile.txt beside run.log")
    ap.add_argument("--spacing", type=float, default=50.0, help="grid spacing in metres")
    ap.add_argument("--speeds", nargs="+", default=["adult", "elderly", "winter"])
    ap.add_argument("--iso-sample", type=int, default=0,
                    help="arrays mode: also draw isochrones for this many communities")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--write-only", action="store_true", help="run mode: only write the files")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="run mode: set livingcircle.settings.NAME = VALUE (a Python literal) "
                         "before the command, e.g. --set network_graph_max_nodes=0")
    ap.add_argument("--report", action="store_true",
                    help="run mode: then time `livingcircle report` on the output as well")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--network-child", choices=["arrays", "graph"], dest="graph",
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    base = CENTRE if args.centre else {"nodes": 1_000_000, "communities": 10_000,
                                       "facilities": 50_000}
    for k in ("nodes", "communities", "facilities"):
        if getattr(args, k) is None:
            setattr(args, k, base[k])
    if args.child:
        child(args)
    elif args.graph:
        network_child(args)
    elif args.mode == "network":
        network_command(args)
    elif args.mode == "run" and args.write_only:
        print(json.dumps(write_city(city_folder(args), **city_options(args))))
    elif args.mode == "run":
        run_command(args)
    else:
        arrays_command(args)


if __name__ == "__main__":
    main()
