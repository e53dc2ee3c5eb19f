"""Size of the interactive map (:func:`livingcircle.maps.make_map`) for a city of many communities.

The sample district (80 communities, 240 isochrones, 2,400 gap rows, 368 facilities) is run once;
its communities, isochrones and gap rows are then repeated ``k`` times, each copy shifted by
0.05 degree steps on a 5-column grid with fresh community ids, so a city of ``80 k`` communities has
realistic polygons, isochrones and gap tables. Facilities and the other layers are not repeated.
The map HTML is rendered in memory and its UTF-8 size measured (nothing is estimated).

Measured 2026-11 with this script (defaults of make_map: communities simplified 2 m, isochrones
5 m with every hole kept, coordinates as 1e-5-degree integer deltas, all three isochrone levels;
one laptop-class container core):

===========  ===============  ======  ==================  ======
communities  with isochrones  render  without isochrones  render
===========  ===============  ======  ==================  ======
80           2.30 MB          1.6 s   1.18 MB             0.3 s
2,000        51.3 MB          46 s    23.3 MB             5.1 s
===========  ===============  ======  ==================  ======

(80 = one copy: no sites or clusters, so smaller than the full sample map's 2.50 MB.) Without
isochrones about 11.6 kB per community remain, mostly the popup with its gap table and the
per-category gap tooltips.

Usage::

    python benchmarks/bench_map_size.py              # 80 and 2,000 communities
    python benchmarks/bench_map_size.py --copies 1 5 25
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import pandas as pd
from shapely.affinity import translate

import livingcircle as lc
from livingcircle.maps import make_map
from livingcircle.pipeline import Result


def city(sample: Result, copies: int, *, isochrones: bool = True) -> Result:
    """Return a Result of ``copies`` shifted copies of the sample's communities (and isochrones)."""
    L = sample.layers
    comms, isos, gaps = [], [], []
    for k in range(copies):
        dx, dy = 0.05 * (k % 5), 0.05 * (k // 5)

        def shift(gdf, dx=dx, dy=dy, k=k):
            out = gdf.copy()
            out["community_id"] = out["community_id"].astype(str) + f"_{k}"
            out["geometry"] = out.geometry.map(lambda geom: translate(geom, dx, dy))
            return out

        comms.append(shift(L["communities"]))
        if isochrones:
            isos.append(shift(L["isochrones"]))
        g = L["gaps"].copy()
        g["community_id"] = g["community_id"].astype(str) + f"_{k}"
        gaps.append(g)
    layers = {"communities": gpd.GeoDataFrame(pd.concat(comms, ignore_index=True), crs=4326),
              "gaps": pd.concat(gaps, ignore_index=True), "facilities": L["facilities"]}
    if isochrones:
        layers["isochrones"] = gpd.GeoDataFrame(pd.concat(isos, ignore_index=True), crs=4326)
    return Result(layers=layers, profile=sample.profile, speed_profiles=sample.speed_profiles,
                  metadata={})


def measure(r: Result, **kwargs) -> tuple[float, float]:
    """Return (MB, seconds) of rendering ``make_map(r, **kwargs)``."""
    t = time.perf_counter()
    h = make_map(r, **kwargs).get_root().render()
    return len(h.encode("utf-8")) / 1e6, time.perf_counter() - t


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--copies", type=int, nargs="+", default=[1, 25])
    a = ap.parse_args(argv)
    sample = lc.run_sample(progress=False)
    print("communities  with_isochrones_MB  s      without_isochrones_MB  s")
    for k in a.copies:
        r = city(sample, k)
        mb, s = measure(r)
        mb0, s0 = measure(r, isochrones=False)
        n = len(r.layers["communities"])
        print(f"{n:>11,}  {mb:>18.2f}  {s:5.1f}  {mb0:>21.2f}  {s0:5.1f}")


if __name__ == "__main__":
    main()
