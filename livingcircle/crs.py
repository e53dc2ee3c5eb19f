"""Coordinate systems that results are exported in, chosen by preset name or EPSG code.

Presets
-------
``wgs84``
    WGS 84 geographic, EPSG:4326 (longitude/latitude as GIS software writes them).
``cgcs2000``
    CGCS2000 geographic, EPSG:4490, the national datum of China. CGCS2000 and WGS84 agree to a
    few centimetres, so coordinates are carried over unchanged (PROJ's no-op transformation).
``cgcs2000-gk3``
    The CGCS2000 3-degree Gauss–Krüger zone that holds the data, *with* the zone number in front of
    the false easting (EPSG:4513–4533, zones 25–45, e.g. x = 42 500 000 m on the central meridian
    of zone 42). The zone is ``floor(lon / 3 + 0.5)`` of the data's centre longitude; a fixed zone
    can be asked for as ``cgcs2000-gk3:42``.
``cgcs2000-gk3-nozone``
    The same zone *without* the zone number (EPSG:4534–4554, x = 500 000 m on the central
    meridian), as many municipal systems store it.
``gcj02``
    GCJ-02 (the AMap/高德 and Tencent shift of WGS84) for import into AMap tools. Coordinates are
    shifted with :func:`livingcircle.coords.wgs84_to_gcj02` and written with EPSG:4326 axes, since
    GCJ-02 has no EPSG code; the export's metadata records them as GCJ-02.

Any ``EPSG:CODE`` (or a bare number) is accepted too.

The metric system every stage measures in is the WGS 84 UTM zone of the data (:func:`utm_crs`).
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

import geopandas as gpd
import numpy as np
from pyproj import CRS, Transformer
from pyproj.database import CRSInfo, query_utm_crs_info
from pyproj.exceptions import CRSError

from ._errors import CoordinateError, ExportError
from .coords import transform_geometries, wgs84_to_gcj02

logger = logging.getLogger(__name__)

#: The layers a CRS is chosen for: one GeoDataFrame or GeoSeries, a list or a dict of them
#: (other values in a list or dict are passed over), or None.
Layers = (gpd.GeoDataFrame | gpd.GeoSeries | Iterable[object] | Mapping[str, object] | None)

#: Preset names and what they mean.
PRESETS: dict[str, str] = {
    "wgs84": "WGS 84 geographic (EPSG:4326)",
    "cgcs2000": "CGCS2000 geographic (EPSG:4490)",
    "cgcs2000-gk3": "CGCS2000 3-degree Gauss-Kruger zone of the data, zone number in the easting "
    "(EPSG:4513-4533)",
    "cgcs2000-gk3-nozone": "CGCS2000 3-degree Gauss-Kruger zone of the data, no zone number "
    "(EPSG:4534-4554)",
    "gcj02": "GCJ-02 (AMap/Tencent) longitude/latitude, written with EPSG:4326 axes",
}

#: First and last 3-degree zone that EPSG defines for CGCS2000 (central meridians 75°E–135°E).
GK3_ZONES = (25, 45)
_GK3_WITH_ZONE_BASE = 4513  # EPSG code of zone 25 with zone number in the false easting
_GK3_NO_ZONE_BASE = 4534  # EPSG code of central meridian 75°E without zone number


@functools.cache
def _utm_zones() -> tuple[CRSInfo, ...]:
    """Every WGS 84 UTM zone in PROJ's database, in the database's order (read once a process)."""
    return tuple(query_utm_crs_info(datum_name="WGS 84"))


@functools.cache
def _utm_zone_crs(code: str) -> CRS:
    return CRS.from_epsg(code)


def utm_crs(data: gpd.GeoDataFrame | gpd.GeoSeries) -> CRS:
    """Return the WGS 84 UTM zone of the centre of ``data``'s bounds: ``data.estimate_utm_crs()``.

    geopandas asks PROJ's database on every call for the zones whose area of use holds the
    centre: 70-80 ms each time, eight times in a run of the sample district and 201 times in the
    test suite's own process (2026-12-07). Here the 120 zones are read once a process and the
    first that holds the centre is taken, in the database's order as PROJ's query returns them,
    so a centre on a zone's edge gets the same one (``tests/test_crs.py`` compares the two).
    The centre is geopandas' too: the middle of the bounds in longitude and latitude, across
    the antimeridian when the bounds cross it.
    """
    if data.crs is None:
        msg = "crs must be set to estimate UTM CRS."  # geopandas' words
        raise RuntimeError(msg)
    minx, miny, maxx, maxy = data.total_bounds
    if not data.crs.is_geographic:
        to_lonlat = Transformer.from_crs(data.crs, 4326, always_xy=True)
        minx, miny, maxx, maxy = to_lonlat.transform_bounds(minx, miny, maxx, maxy)
    lon = (minx + maxx) / 2.0
    if minx > maxx:  # across the antimeridian (only projected bounds come back so)
        lon = ((minx + maxx + 360.0) / 2.0 + 180.0) % 360.0 - 180.0
    lat = (miny + maxy) / 2.0
    for zone in _utm_zones():
        a = zone.area_of_use
        if a is not None and a.west <= lon <= a.east and a.south <= lat <= a.north:
            return _utm_zone_crs(zone.code)
    msg = "Unable to determine UTM CRS"  # geopandas' words
    raise RuntimeError(msg)


class ResolvedCRS(NamedTuple):
    """An export coordinate system: what to write, how to shift, and how to label it."""

    crs: CRS
    """The CRS written into the file."""
    transform: Callable | None
    """A lon/lat → lon/lat function applied after reprojecting to EPSG:4326 (GCJ-02), or None."""
    label: str
    """A label recorded in the metadata, e.g. 'CGCS2000 / 3-degree ... zone 42 (EPSG:4530)'."""


def gk3_zone(lon: float) -> int:
    """Return the 3-degree Gauss–Krüger zone number of a longitude in degrees east.

    Zone ``n`` has its central meridian at ``3 n`` degrees and covers ``3 n ± 1.5``; a longitude
    exactly on a zone edge goes to the eastern zone.

    Examples
    --------
    >>> gk3_zone(126.6)  # Harbin
    42
    >>> gk3_zone(122.5)  # Mohe
    41
    """
    if not np.isfinite(lon):
        msg = f"cannot choose a Gauss-Kruger zone for longitude {lon!r}"
        raise CoordinateError(msg)
    return int(math.floor(lon / 3.0 + 0.5))


def gk3_epsg(zone: int, *, with_zone: bool = True) -> int:
    """Return the EPSG code of CGCS2000 3-degree Gauss–Krüger zone ``zone`` (25–45).

    Parameters
    ----------
    zone
        Zone number; the central meridian is ``3 * zone`` degrees east.
    with_zone
        True for the codes with the zone number in the false easting (4513–4533), False for those
        without (4534–4554).
    """
    lo, hi = GK3_ZONES
    if not lo <= int(zone) <= hi:
        msg = (
            f"3-degree Gauss-Kruger zone {zone} (central meridian {3 * zone}°E) is outside the "
            f"zones {lo}-{hi} (75°E-135°E) that EPSG defines for CGCS2000; use 'cgcs2000' or an "
            "EPSG code instead"
        )
        raise CoordinateError(msg)
    base = _GK3_WITH_ZONE_BASE if with_zone else _GK3_NO_ZONE_BASE
    return base + int(zone) - lo


def _present(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoSeries:
    """Return a layer's geometries that are neither missing nor empty, in the layer's CRS."""
    geo = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    return gpd.GeoSeries(geo[~(geo.isna() | geo.is_empty)])


def _frames(data: Layers) -> list[gpd.GeoDataFrame | gpd.GeoSeries]:
    if data is None:
        return []
    if isinstance(data, gpd.GeoDataFrame | gpd.GeoSeries):
        return [data]
    if isinstance(data, dict):
        data = data.values()
    if isinstance(data, Iterable):
        return [d for d in data if isinstance(d, gpd.GeoDataFrame | gpd.GeoSeries)]
    return []


def data_center_lonlat(data: Layers) -> tuple[float, float]:
    """Return the centre (lon, lat) in WGS84 of the combined bounds of one or more geo frames.

    ``data`` is a GeoDataFrame, a GeoSeries, or a list/dict of them; layers without a CRS are
    taken to be in EPSG:4326.
    """
    boxes = []
    for f in _frames(data):
        geo = _present(f)
        if len(geo) == 0:
            continue
        if geo.crs is not None and not geo.crs.equals(CRS.from_epsg(4326)):
            geo = geo.to_crs(4326)
        boxes.append(geo.total_bounds)
    if not boxes:
        msg = (
            "the Gauss-Kruger zone is chosen from the data, but no layer has a geometry; "
            "name the zone, e.g. 'cgcs2000-gk3:42', or use 'cgcs2000'"
        )
        raise ExportError(msg)
    b = np.vstack(boxes)
    minx, miny = b[:, 0].min(), b[:, 1].min()
    maxx, maxy = b[:, 2].max(), b[:, 3].max()
    return float((minx + maxx) / 2.0), float((miny + maxy) / 2.0)


def _gk3(name: str, data: Layers, *, with_zone: bool) -> ResolvedCRS:
    m = re.fullmatch(r"cgcs2000-gk3(?:-nozone)?(?::(\d+))?", name)
    if m and m.group(1):
        zone = int(m.group(1))
    else:
        lon, _ = data_center_lonlat(data)
        zone = gk3_zone(lon)
        for f in _frames(data):
            geo = _present(f)
            if len(geo) == 0:
                continue
            b = (geo.to_crs(4326) if geo.crs is not None else geo).total_bounds
            if b[0] < 3 * zone - 1.5 - 0.5 or b[2] > 3 * zone + 1.5 + 0.5:
                logger.warning(
                    "the data reach %.2f°E-%.2f°E, beyond 3-degree zone %d (%.1f°E-%.1f°E) by more "
                    "than 0.5°; distortion grows at the edges", b[0], b[2], zone,
                    3 * zone - 1.5, 3 * zone + 1.5,
                )
                break
    code = gk3_epsg(zone, with_zone=with_zone)
    crs = CRS.from_epsg(code)
    # Check that the code means what we computed: EPSG names carry the zone or central meridian.
    expect = f"zone {zone}" if with_zone else f"CM {3 * zone}E"
    if "CGCS2000" not in crs.name or not crs.name.endswith(expect):
        msg = f"EPSG:{code} is {crs.name!r}, expected CGCS2000 Gauss-Kruger {expect}"
        raise ExportError(msg)
    return ResolvedCRS(crs, None, f"{crs.name} (EPSG:{code})")


def resolve_crs(name: str | int, data: Layers = None) -> ResolvedCRS:
    """Turn a preset name or EPSG code into the CRS to write, a coordinate shift and a label.

    Parameters
    ----------
    name
        A key of :data:`PRESETS`, ``'cgcs2000-gk3:ZONE'``, ``'EPSG:CODE'`` or a bare EPSG number.
    data
        The layers to be written (a GeoDataFrame, or a list or dict of them); needed by the
        Gauss–Krüger presets, which choose the zone from the centre longitude of the data.

    Returns
    -------
    ResolvedCRS
        ``(crs, transform, label)``; ``transform`` is None except for ``gcj02``.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely import Point
    >>> harbin = gpd.GeoDataFrame(geometry=[Point(126.6, 45.75)], crs=4326)
    >>> resolve_crs("cgcs2000-gk3", harbin).crs.to_epsg()
    4530
    """
    key = str(name).strip().lower().replace("_", "-").replace(" ", "")
    if key in ("wgs84", "epsg:4326", "4326"):
        return ResolvedCRS(CRS.from_epsg(4326), None, "WGS 84 (EPSG:4326)")
    if key in ("cgcs2000", "epsg:4490", "4490"):
        return ResolvedCRS(CRS.from_epsg(4490), None, "CGCS2000 (EPSG:4490)")
    if key in ("gcj02", "gcj-02", "amap"):
        return ResolvedCRS(
            CRS.from_epsg(4326), wgs84_to_gcj02,
            "GCJ-02 (AMap/Tencent shift of WGS 84; written with EPSG:4326 axes)",
        )
    if key.startswith("cgcs2000-gk3"):
        return _gk3(key, data, with_zone="nozone" not in key)
    m = re.fullmatch(r"(?:epsg:)?(\d{4,6})", key)
    if m:
        try:
            crs = CRS.from_epsg(int(m.group(1)))
        except CRSError:
            msg = f"EPSG:{m.group(1)} is not a coordinate system PROJ knows; check the code"
            raise ExportError(msg) from None
        return ResolvedCRS(crs, None, f"{crs.name} (EPSG:{m.group(1)})")
    msg = (
        f"unknown coordinate system {name!r}; use one of {sorted(PRESETS)}, "
        "'cgcs2000-gk3:ZONE' or 'EPSG:CODE'"
    )
    raise ExportError(msg)


def to_export_crs(gdf: gpd.GeoDataFrame, resolved: ResolvedCRS) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` in the export coordinate system (the input is not changed).

    A layer without a CRS is taken to be in EPSG:4326, the CRS of every livingcircle layer.
    """
    out = gdf.copy()
    if out.crs is None:
        out = out.set_crs(4326)
    if resolved.transform is None:
        return out.to_crs(resolved.crs)
    out = out.to_crs(4326)
    geom = out.geometry
    shifted = transform_geometries(geom.values, resolved.transform)
    out[geom.name] = gpd.GeoSeries(shifted, index=out.index, crs=4326)
    return out
