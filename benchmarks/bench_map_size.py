"""Size and opening time of the interactive map (:mod:`livingcircle.maps`) for a city.

The sample district (80 communities, 240 isochrones, 2,400 gap rows, 368 facilities, its offline
basemap of streets, river and parks) is run once; its communities, isochrones, gap rows and
basemap are then repeated ``k`` times, each copy shifted by 0.05 degree steps on a 5-column grid
with fresh community ids, and its districts renamed per group of 13 copies (about 1,000
communities a district at 10,000), so a city of ``80 k`` communities has realistic polygons,
isochrones, gap tables and streets. Facilities and the other layers are not repeated.

For each size the script renders the single-file map (:func:`make_map`, isochrones packed and
drawn when a community is opened) and, with ``--pages``, the index and per-district pages
(:func:`write_map_pages`); it measures the UTF-8 size of every file and opens it in headless
Chromium (Debian's ``/usr/bin/chromium`` through Playwright, offline) to read the browser's own
clock: ``performance.now()`` when the map's last script has run (``window.lcReady``, the
``lc-ready`` event), and Navigation Timing's ``loadEventEnd``. It also opens one community and
times its isochrones (decompress, decode, draw: the ``lc-isochrones`` event).

Usage::

    python benchmarks/bench_map_size.py                       # 80 and 1,600 communities
    python benchmarks/bench_map_size.py --copies 1 20 --pages 125   # + 10,000 as pages
    python benchmarks/bench_map_size.py --copies 20 --no-browser    # sizes only

The results and the machine's load (``uptime``) are printed; benchmarks/README.md records them.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.affinity import translate

import livingcircle as lc
from livingcircle.maps import make_map, write_map_pages
from livingcircle.results import Result

CHROMIUM = "/usr/bin/chromium"


def city(sample: Result, copies: int, *, isochrones: bool = True) -> Result:
    """Return a Result of ``copies`` shifted copies of the sample's communities (and isochrones)."""
    L = sample.layers
    comms, isos, gaps, bgs = [], [], [], []
    for k in range(copies):
        dx, dy = 0.05 * (k % 5), 0.05 * (k // 5)

        def shift(gdf, dx=dx, dy=dy, k=k, ids=True):
            out = gdf.copy()
            if ids:
                out["community_id"] = out["community_id"].astype(str) + f"_{k}"
            out["geometry"] = out.geometry.map(lambda geom: translate(geom, dx, dy))
            return out

        c = shift(L["communities"])
        c["district"] = c["district"].astype(str) + f"{k // 13:02d}"
        comms.append(c)
        if isochrones:
            isos.append(shift(L["isochrones"]))
        if "basemap" in L:
            bgs.append(shift(L["basemap"], ids=False))
        g = L["gaps"].copy()
        g["community_id"] = g["community_id"].astype(str) + f"_{k}"
        gaps.append(g)
    layers = {"communities": gpd.GeoDataFrame(pd.concat(comms, ignore_index=True), crs=4326),
              "gaps": pd.concat(gaps, ignore_index=True), "facilities": L["facilities"]}
    if isochrones:
        layers["isochrones"] = gpd.GeoDataFrame(pd.concat(isos, ignore_index=True), crs=4326)
    if bgs:
        layers["basemap"] = gpd.GeoDataFrame(pd.concat(bgs, ignore_index=True), crs=4326)
    return Result(layers=layers, profile=sample.profile, speed_profiles=sample.speed_profiles,
                  metadata={})


def open_in_chromium(paths: list[Path], *, open_one: bool = True) -> list[dict]:
    """Open each page offline in headless Chromium; return the browser's own timings (ms)."""
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--headless", "--no-sandbox", "--disable-gpu"])
        for path in paths:
            page = b.new_page(viewport={"width": 1200, "height": 800})
            errors = []
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(
                ("file:", "data:", "about:", "blob:")) else r.abort())
            page.goto(path.resolve().as_uri(), wait_until="load", timeout=120_000)
            page.wait_for_function("window.lcReady !== undefined", timeout=120_000)
            t = page.evaluate("""() => {
                const n = performance.getEntriesByType('navigation')[0];
                return {ready_ms: window.lcReady, load_ms: n.loadEventEnd,
                        dom_ms: n.domContentLoadedEventEnd};
            }""")
            if open_one and page.evaluate("lcIso.blobs.length") > 0:
                t["iso_ms"] = page.evaluate("""() => new Promise(done => {
                    const i = lcIso.of.findIndex(k => k !== null);
                    const t0 = performance.now();
                    document.addEventListener('lc-isochrones',
                        () => done(performance.now() - t0), {once: true});
                    lcShowIso(i);
                })""")
            t["errors"] = errors
            out.append(t)
            page.close()
        b.close()
    return out


def _mb(path: Path) -> float:
    return path.stat().st_size / 1e6


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, nargs="*", default=[1, 20],
                    help="single-file maps of 80 × k communities")
    ap.add_argument("--pages", type=int, nargs="*", default=[],
                    help="index + district pages of 80 × k communities")
    ap.add_argument("--no-browser", action="store_true", help="sizes only")
    a = ap.parse_args(argv)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; uptime: "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    sample = lc.run_sample(progress=False)
    tmp = Path(tempfile.mkdtemp(prefix="bench_map_"))
    for k in a.copies:
        r = city(sample, k)
        n = len(r.layers["communities"])
        t = time.perf_counter()
        path = tmp / f"map_{n}.html"
        make_map(r, isochrones=True).save(str(path))
        s = time.perf_counter() - t
        line = f"{n:>7,} communities, one file: {_mb(path):6.2f} MB, rendered in {s:5.1f} s"
        if not a.no_browser:
            (b,) = open_in_chromium([path])
            line += (f"; Chromium: ready {b['ready_ms']:.0f} ms, load event "
                     f"{b['load_ms']:.0f} ms, one community's isochrones "
                     f"{b.get('iso_ms', float('nan')):.0f} ms, errors {len(b['errors'])}")
        print(line, flush=True)
    for k in a.pages:
        r = city(sample, k)
        n = len(r.layers["communities"])
        out = tmp / f"pages_{n}"
        t = time.perf_counter()
        files = write_map_pages(r, out, by="district")
        s = time.perf_counter() - t
        sizes = [_mb(f) for f in files]
        print(f"{n:>7,} communities, {len(files) - 1} pages + index in {s:.0f} s: index "
              f"{sizes[0]:.2f} MB, pages {min(sizes[1:]):.2f}–{max(sizes[1:]):.2f} MB, "
              f"total {sum(sizes):.1f} MB", flush=True)
        if not a.no_browser:
            big = max(files[1:], key=_mb)
            ti, tb = open_in_chromium([files[0], big])
            print(f"         Chromium: index ready {ti['ready_ms']:.0f} ms, largest page "
                  f"({_mb(big):.2f} MB) ready {tb['ready_ms']:.0f} ms, its isochrones "
                  f"{tb.get('iso_ms', float('nan')):.0f} ms, errors "
                  f"{len(ti['errors']) + len(tb['errors'])}", flush=True)
    print(f"files in {tmp}")


if __name__ == "__main__":
    main()
