"""Chinese map coordinate systems: GCJ-02 (AMap, Tencent) and BD-09 (Baidu).

GCJ-02 is WGS84 shifted by an obfuscation formula that is applied only inside China; BD-09 is a
further shift of GCJ-02. Both are published as closed forms for the forward direction. The inverse
has no closed form: :func:`gcj02_to_wgs84` iterates the forward transform until it reproduces the
input (to 1e-9 degrees, well within 1 cm), instead of the common one-step approximation that can be
off by metres.

All functions take and return numpy arrays (or scalars) of longitude and latitude in degrees.

Examples
--------
A published WGS84 → GCJ-02 pair (``tests/data/coordinate-reference-pairs.csv``, agreed to 1e-7°)
and back; outside China nothing is shifted:

>>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
>>> round(lon, 7), round(lat, 7)
(116.4102445, 39.9164043)
>>> back = gcj02_to_wgs84(lon, lat)
>>> round(back[0], 9), round(back[1], 9)
(116.404, 39.915)
>>> wgs84_to_gcj02(2.3522, 48.8566)  # Paris
(2.3522, 48.8566)
>>> canonical_crs(" 高德 "), canonical_crs("Baidu")
('gcj02', 'bd09')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import overload

import numpy as np
import numpy.typing as npt

from ._errors import CoordinateError

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 formula
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0

#: Longitude and latitude in degrees: two floats for one point, two arrays for many.
LonLat = tuple[float, float] | tuple[np.ndarray, np.ndarray]

#: Names accepted for the coordinate system of input coordinates (a stated ``crs`` or the values
#: of a ``crs_column``), mapped to the canonical name; case and spaces are ignored. This table is
#: the one place that lists them: amap/高德/gaode/gcj02/tencent/腾讯 → GCJ-02,
#: baidu/百度/bd09 → BD-09, wgs84/osm/gps (and CGCS2000) → WGS84.
CRS_ALIASES = {
    "wgs84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "osm": "wgs84",
    "gps": "wgs84",
    "cgcs2000": "wgs84",  # CGCS2000 and WGS84 agree to a few cm, below the analysis' precision
    "epsg:4490": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "tencent": "gcj02",
    "高德": "gcj02",
    "腾讯": "gcj02",
    "火星坐标": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "baidu": "bd09",
    "百度": "bd09",
}


def canonical_crs(name: str) -> str:
    """Return 'wgs84', 'gcj02' or 'bd09' for a coordinate system name, or raise."""
    key = str(name).strip().lower().replace(" ", "")
    try:
        return CRS_ALIASES[key]
    except KeyError:
        msg = (
            f"unknown coordinate system {name!r}; use one of 'wgs84', 'gcj02' (AMap/高德) "
            "or 'bd09' (Baidu/百度)"
        )
        raise CoordinateError(msg) from None


def in_china(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_] | np.bool_:
    """Return True where the point lies in the rough bounding box where GCJ-02 is applied."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return (lon > 73.66) & (lon < 135.05) & (lat > 3.86) & (lat < 53.55)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    dlat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def _as_arrays(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _ret(lon: np.ndarray, lat: np.ndarray, scalar: bool) -> LonLat:
    if scalar:
        return float(lon), float(lat)
    return lon, lat


@overload
def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]: ...
def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """Shift WGS84 longitude/latitude to GCJ-02 (unchanged outside China)."""
    scalar = np.ndim(lon) == 0
    lon, lat = _as_arrays(lon, lat)
    dlon, dlat = _delta(lon, lat)
    inside = in_china(lon, lat)
    return _ret(np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat), scalar)


@overload
def gcj02_to_wgs84(
    lon: float, lat: float, *, tol: float = 1e-9, max_iter: int = 30,
) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, tol: float = 1e-9, max_iter: int = 30,
) -> tuple[np.ndarray, np.ndarray]: ...
def gcj02_to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, tol: float = 1e-9, max_iter: int = 30,
) -> LonLat:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration (exact to ``tol`` degrees)."""
    scalar = np.ndim(lon) == 0
    glon, glat = _as_arrays(lon, lat)
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        flon, flat = wgs84_to_gcj02(wlon, wlat)
        elon, elat = np.asarray(flon) - glon, np.asarray(flat) - glat
        wlon = wlon - elon
        wlat = wlat - elat
        if np.nanmax(np.abs(np.concatenate([np.ravel(elon), np.ravel(elat)])), initial=0) < tol:
            break
    return _ret(wlon, wlat, scalar)


@overload
def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]: ...
def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """Shift GCJ-02 longitude/latitude to Baidu's BD-09."""
    scalar = np.ndim(lon) == 0
    lon, lat = _as_arrays(lon, lat)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return _ret(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006, scalar)


@overload
def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]: ...
def bd09_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """Closed-form inverse of :func:`gcj02_to_bd09` (the published BD-09 → GCJ-02 step)."""
    scalar = np.ndim(lon) == 0
    lon, lat = _as_arrays(lon, lat)
    x = lon - 0.0065
    y = lat - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _ret(z * np.cos(theta), z * np.sin(theta), scalar)


@overload
def bd09_to_gcj02_exact(
    lon: float, lat: float, *, tol: float = 1e-10, max_iter: int = 30,
) -> tuple[float, float]: ...
@overload
def bd09_to_gcj02_exact(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, tol: float = 1e-10, max_iter: int = 30,
) -> tuple[np.ndarray, np.ndarray]: ...
def bd09_to_gcj02_exact(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, tol: float = 1e-10, max_iter: int = 30,
) -> LonLat:
    """Invert :func:`gcj02_to_bd09` by iteration, starting from the closed-form step."""
    scalar = np.ndim(lon) == 0
    blon, blat = _as_arrays(lon, lat)
    glon, glat = bd09_to_gcj02(blon, blat)
    glon, glat = np.asarray(glon, dtype=float), np.asarray(glat, dtype=float)
    for _ in range(max_iter):
        flon, flat = gcj02_to_bd09(glon, glat)
        elon, elat = np.asarray(flon) - blon, np.asarray(flat) - blat
        glon = glon - elon
        glat = glat - elat
        if np.nanmax(np.abs(np.concatenate([np.ravel(elon), np.ravel(elat)])), initial=0) < tol:
            break
    return _ret(glon, glat, scalar)


@overload
def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]: ...
def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """Shift WGS84 to BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


@overload
def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]: ...
def bd09_to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike) -> LonLat:
    """Invert :func:`wgs84_to_bd09` exactly (iterative at both steps)."""
    return gcj02_to_wgs84(*bd09_to_gcj02_exact(lon, lat))


@overload
def to_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]: ...
@overload
def to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str) -> tuple[np.ndarray, np.ndarray]: ...
def to_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str) -> LonLat:
    """Convert longitude/latitude in ``crs`` ('wgs84', 'gcj02' or 'bd09', or an alias) to WGS84."""
    crs = canonical_crs(crs)
    if crs == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if crs == "bd09":
        return bd09_to_wgs84(lon, lat)
    return _ret(*_as_arrays(lon, lat), np.ndim(lon) == 0)


@overload
def from_wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]: ...
@overload
def from_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str,
) -> tuple[np.ndarray, np.ndarray]: ...
def from_wgs84(lon: npt.ArrayLike, lat: npt.ArrayLike, crs: str) -> LonLat:
    """Convert WGS84 longitude/latitude to ``crs`` ('wgs84', 'gcj02' or 'bd09')."""
    crs = canonical_crs(crs)
    if crs == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if crs == "bd09":
        return wgs84_to_bd09(lon, lat)
    return _ret(*_as_arrays(lon, lat), np.ndim(lon) == 0)


def transform_geometries(
    geoms: npt.ArrayLike,
    func: Callable[[np.ndarray, np.ndarray], tuple[npt.ArrayLike, npt.ArrayLike]],
) -> np.ndarray:
    """Apply a lon/lat ``func`` to every coordinate of a shapely geometry array (vectorised)."""
    import shapely

    def _f(coords: np.ndarray) -> np.ndarray:
        lon, lat = func(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms), _f)
