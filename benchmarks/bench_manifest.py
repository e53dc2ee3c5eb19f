"""Cost of a run's ``manifest.json``: hashing the files when a run writes them and again when
``map``/``report``/``export`` verify them (:mod:`livingcircle._atomic`).

A folder with one file of ``--mb`` megabytes of random bytes stands for the result GeoPackage
(1,775 MB at city scale, ``CITY_SCALE.md``); the script times :func:`write_manifest` and
:func:`verify_manifest` ``--repeat`` times and prints the best and the throughput. The file has
just been written, so it is read from the page cache, as it is right after a run; a verify after
the cache was emptied reads from disk and is slower by the disk's speed.

Usage::

    python benchmarks/bench_manifest.py              # 1,775 MB, best of 3
    python benchmarks/bench_manifest.py --mb 200 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from livingcircle._atomic import verify_manifest, write_manifest


def main() -> None:
    """Write the test file, time the manifest and its check, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=1775, help="size of the file in MB (2**20 bytes)")
    ap.add_argument("--repeat", type=int, default=3, help="timings per step; the best is shown")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="lc-bench-manifest-") as d:
        folder = Path(d)
        with open(folder / "livingcircle.gpkg", "wb") as fh:
            for _ in range(args.mb):
                fh.write(os.urandom(1 << 20))
        times = {"write_manifest": [], "verify_manifest": []}
        for _ in range(args.repeat):
            t = time.perf_counter()
            write_manifest(folder, ["livingcircle.gpkg"], run_id="bench", version="bench")
            times["write_manifest"].append(time.perf_counter() - t)
            t = time.perf_counter()
            verify_manifest(folder)
            times["verify_manifest"].append(time.perf_counter() - t)
    print(f"{platform.node()} {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    for step, ts in times.items():
        best = min(ts)
        print(f"{step}: {args.mb} MB in {best:.2f} s best of {len(ts)} "
              f"({args.mb / best:.0f} MB/s); all: {', '.join(f'{x:.2f}' for x in ts)}")


if __name__ == "__main__":
    main()
