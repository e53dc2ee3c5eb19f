"""The map's display simplification of a result's isochrones: three ways of doing it.

``livingcircle.styles.prepare_layer`` simplifies what the map draws in metres. Until
2026-12-05 it projected to UTM with pyproj and back (``utm``); then it multiplied the
coordinates by the metres of a degree about the layer's centre
(:class:`livingcircle.styles.LocalPlane`) and ran GEOS's Douglas-Peucker on each polygon, which
repairs the result with a zero buffer (``plane_geos``); since 2026-12-07 it simplifies each ring
alone, GEOS's Douglas-Peucker without the repair (``plane``, :func:`livingcircle.styles.
plain_simplify`). This script times the three on the isochrones of a written result (process
CPU seconds, one thread, each ``--repeat`` times, alternating) and compares what they draw:
the area of the symmetric difference of each simplified isochrone with the original, over the
original's area, and of the simplifications with each other (every ``--every``-th isochrone,
``plane``'s polygons made valid first; GEOS's overlay is the slow part of the check); and
whether every ring ``plane`` draws is GEOS's Douglas-Peucker of that ring alone. Prints one
JSON line.

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


def _plane_geos(iso: gpd.GeoDataFrame, plane: LocalPlane, tol: float) -> gpd.GeoDataFrame:
    """The preparation of 2026-12-05 to 2026-12-07: GEOS's Douglas-Peucker of each polygon."""
    g = shapely.simplify(plane.forward(iso.geometry.to_numpy()), tol, preserve_topology=False)
    out = iso.set_geometry(plane.back(g), crs=4326)
    return out[~out.geometry.is_empty]


def _rings_as_geos(before: np.ndarray, after: np.ndarray, plane: LocalPlane, tol: float) -> dict:
    """Count the rings of ``after`` that are GEOS's Douglas-Peucker of a ring of ``before``.

    In order, polygon by polygon: GEOS simplifies each ring alone (a LinearRing is not
    repaired); a ring of fewer than four vertices goes, and a polygon with its shell.
    """
    same = other = 0
    for b, a in zip(before, after, strict=True):
        want = []
        for part in shapely.get_parts(b):
            rings = [shapely.get_coordinates(shapely.simplify(r, tol, preserve_topology=False))
                     for r in shapely.get_rings(plane.forward(part))]
            if len(rings[0]) >= 4:
                want.extend(r for r in rings if len(r) >= 4)
        got = [shapely.get_coordinates(r)
               for r in shapely.get_rings(plane.forward(shapely.get_parts(a)))]
        n = sum(len(w) == len(g) and np.array_equal(w, g) for w, g in zip(want, got, strict=False))
        same += n
        other += max(len(want), len(got)) - n
    return {"same": same, "other": other}


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
            "plane_geos": lambda g: _plane_geos(g, plane, a.tolerance),
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
    metric = {k: shapely.make_valid(gpd.GeoSeries(v[some], crs=4326).to_crs(utm).to_numpy())
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
        "sym_diff_share_plane_geos_vs_plane": off(metric["plane_geos"], metric["plane"]),
        "plane_rings_as_geos_ring_by_ring": _rings_as_geos(
            iso.geometry.to_numpy()[some], drawn["plane"][some], plane, a.tolerance),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }))


if __name__ == "__main__":
    main()
