"""Measure the figures behind the buildings' coordinate system check (issue 16 §1, task item 4).

:func:`livingcircle.inputs.check_against_network` finds a wrongly stated system by the median
distance from a layer's points to the walking streets. Buildings stand inside blocks, like
communities; this script measures, on the synthetic sample district's buildings table
(``data/sample_district/buildings.csv``, points), both that median and the median distance to
each building's own community polygon (:func:`livingcircle.buildings.check_buildings_crs`):

* read right (WGS84 stated WGS84);
* GCJ-02 coordinates stated as WGS84 (the table's lon/lat moved by the published GCJ-02
  formula, an AMap survey export read as GPS);
* WGS84 coordinates stated as GCJ-02 and as BD-09.

Each case writes the table, reads it with :func:`livingcircle.buildings.read_buildings` (as a
run does) and prints one row per case and measure.

Usage (repository root)::

    python benchmarks/bench_buildings_crs.py
"""

from __future__ import annotations

import datetime as dt
import platform
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

import livingcircle as lc
from livingcircle import coords, io
from livingcircle.buildings import read_buildings
from livingcircle.inputs import network_medians
from livingcircle.network import build_network

CASES = (("read right", "wgs84", "wgs84"), ("GCJ-02 stated WGS84", "gcj02", "wgs84"),
         ("WGS84 stated GCJ-02", "wgs84", "gcj02"), ("WGS84 stated BD-09", "wgs84", "bd09"))


def main() -> None:
    p = lc.sample_paths()
    b = io.read_boundary(p["boundary"])
    net = build_network(osm=p["osm"], boundary=b)
    comm = io.read_communities(p["communities"])
    table = pd.read_csv(Path(p["buildings"]).with_suffix(".csv"), dtype=str,
                        encoding="utf-8-sig")
    lon, lat = table["经度"].astype(float).to_numpy(), table["纬度"].astype(float).to_numpy()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, python "
          f"{platform.python_version()}, {dt.date.today()}")
    print("| case | stated | measure | wgs84 | gcj02 | bd09 | verdict |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, truth, stated in CASES:
            x, y = coords.from_wgs84(lon, lat, truth)
            f = Path(tmp) / f"{truth}.csv"
            table.assign(经度=np.round(x, 7), 纬度=np.round(y, 7)).to_csv(
                f, index=False, encoding="utf-8-sig")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bld = read_buildings(f, communities=comm, coord_crs=stated)
            check = bld.attrs["input"]["community_check"]
            pts = shapely.point_on_surface(np.asarray(bld.geometry.values))
            streets = network_medians(net, pts, stated, within_extent=True)
            n = streets.pop("n_points")
            print(f"| {label} | {stated} | streets ({n} points) | {streets['wgs84']:.1f} | "
                  f"{streets['gcj02']:.1f} | {streets['bd09']:.1f} | |")
            m = check["median_m"]
            print(f"| {label} | {stated} | own community ({check['n_points']} points) | "
                  f"{m['wgs84']:.1f} | {m['gcj02']:.1f} | {m['bd09']:.1f} | {check['verdict']} |")


if __name__ == "__main__":
    main()
