"""The map's display simplification of a result's isochrones: pyproj's UTM against the local plane.

``livingcircle.styles.prepare_layer`` simplifies what the map draws in metres. Until
2026-12-05 it projected to UTM with pyproj and back; now it multiplies the coordinates by the
metres of a degree about the layer's centre (:class:`livingcircle.styles.LocalPlane`). This
script times both on the isochrones of a written result (process CPU seconds, one thread, each
``--repeat`` times, alternating) and compares what they draw: the area of the symmetric
difference of each simplified isochrone with the original, over the original's area, and of
the two simplifications with each other (every ``--every``-th isochrone; GEOS's overlay is the
slow part of the check). Prints one JSON line.

Usage::

    python benchmarks/bench_display_plane.py \
        benchmarks/_work/city_58564_1600_2300_centre/out/livingcircle.gpkg

(run ``python benchmarks/bench_city.py --centre`` first).
"""

from __future__ import annotations

import argparse
import json
import time

import geopandas as gpd
import numpy as np
import shapely

from livingcircle.styles import LocalPlane, prepare_layer


def _utm_round_trip(iso: gpd.GeoDataFrame, utm, tol: float) -> gpd.GeoDataFrame:
    """The preparation before 2026-12-05: to UTM, Douglas-Peucker, back to EPSG:4326."""
    out = iso.to_crs(utm)
    out["geometry"] = out.geometry.simplify(tol, preserve_topology=False)
    return out.to_crs(4326)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gpkg", help="a result's livingcircle.gpkg")
    ap.add_argument("--tolerance", type=float, default=5.0, help="metres (the map's default)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--every", type=int, default=8, help="compare every n-th isochrone")
    a = ap.parse_args()
    iso = gpd.read_file(a.gpkg, layer="isochrones", engine="pyogrio").to_crs(4326)
    utm = iso.estimate_utm_crs()
    plane = LocalPlane.about(iso)
    ways = {"utm": lambda g: _utm_round_trip(g, utm, a.tolerance),
            "plane": lambda g: prepare_layer(g, simplify_m=a.tolerance, gcj=False,
                                             keep_topology=False, plane=plane)}
    seconds: dict[str, list[float]] = {k: [] for k in ways}
    drawn: dict[str, np.ndarray] = {}
    for _ in range(a.repeat):
        for name, f in ways.items():
            t = time.process_time()
            got = f(iso)
            seconds[name].append(round(time.process_time() - t, 2))
            drawn[name] = got.geometry.to_numpy()
    some = slice(None, None, a.every)
    metric = {k: gpd.GeoSeries(v[some], crs=4326).to_crs(utm).to_numpy()
              for k, v in drawn.items()}
    orig = gpd.GeoSeries(iso.geometry.to_numpy()[some], crs=4326).to_crs(utm).to_numpy()
    area = shapely.area(orig)

    def off(x, y):
        r = shapely.area(shapely.symmetric_difference(x, y)) / area
        return {"mean": round(float(r.mean()), 6), "max": round(float(r.max()), 6)}

    print(json.dumps({
        "isochrones": len(iso),
        "vertices": int(shapely.get_num_coordinates(iso.geometry.to_numpy()).sum()),
        "tolerance_m": a.tolerance, "cpu_seconds": seconds,
        "vertices_drawn": {k: int(shapely.get_num_coordinates(v).sum()) for k, v in drawn.items()},
        "valid": {k: int(shapely.is_valid(v).sum()) for k, v in drawn.items()},
        "compared": len(orig),
        "sym_diff_share_vs_original": {k: off(v, orig) for k, v in metric.items()},
        "sym_diff_share_utm_vs_plane": off(metric["utm"], metric["plane"]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }))


if __name__ == "__main__":
    main()
