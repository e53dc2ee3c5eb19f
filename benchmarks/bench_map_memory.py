"""Where the memory of the map stage goes: the peak resident memory of each step of ``make_map``.

Reads a written result (``livingcircle.results.load_result``, as ``livingcircle map DIR``
does), then draws ``map.html`` as ``Result.write`` does, with a thread sampling this
process's resident memory (``VmRSS``) every 20 ms and the map module's steps wrapped so that
each sample is charged to the steps running at that moment. Prints one JSON line: the
resident memory before the map, the peak of each step above it, the whole peak, seconds and
the size of the page.

Usage::

    python benchmarks/bench_map_memory.py benchmarks/_work/city_58564_1600_2300_centre/out

(run ``python benchmarks/bench_city.py --centre`` first). The figures above the memory before
the map are the map's own.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import threading
import time
from pathlib import Path

STEPS = ("_isochrones_to_draw", "prepare_layer", "_iso_blocks", "_add_isochrones",
         "_community_layer", "_add_gap_layers", "_add_facilities", "_basemap_layers",
         "_add_planning_layers")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("result", help="folder of a written result (livingcircle.gpkg)")
    args = ap.parse_args(argv)

    from livingcircle import maps
    from livingcircle.results import load_result
    from livingcircle.stages import release_memory

    result = load_result(args.result)
    release_memory()
    base = rss_mb()
    stack: list[str] = ["(other)"]
    peaks: dict[str, float] = {}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            r = rss_mb()
            for name in set(stack):
                peaks[name] = max(peaks.get(name, 0.0), r)
            stop.wait(0.02)

    def wrap(name):
        fn = getattr(maps, name)

        @functools.wraps(fn)
        def inner(*a, **k):
            stack.append(name)
            try:
                return fn(*a, **k)
            finally:
                stack.remove(name)
        setattr(maps, name, inner)

    for name in STEPS:
        if hasattr(maps, name):
            wrap(name)
    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.perf_counter()
    c0 = time.process_time()
    def make():  # as Result.write: make_map, then "save" (render and write, save_page)
        m = maps.make_map(result)
        stack.append("save")
        return m

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "map.html"
        maps.save_page(make, out)
        size = out.stat().st_size / 2**20
    stack.remove("save")
    stop.set()
    th.join()
    print(json.dumps({
        "result": args.result, "rss_before_map_mb": round(base, 1),
        "peak_mb": round(max(peaks.values()), 1),
        "peak_above_before_mb": {k: round(v - base, 1) for k, v in
                                 sorted(peaks.items(), key=lambda kv: -kv[1])},
        "seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(time.process_time() - c0, 1), "map_mb": round(size, 1),
        "load": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}))


if __name__ == "__main__":
    main()
