"""Every check of input layers, in one place (called by :mod:`livingcircle.io`).

The rule is the one of osmnx's ``_validate``: raise when the results would be wrong, and repair
what can be repaired without guessing, with a warning (``stacklevel`` pointing at the caller's
code) and a record in :class:`~livingcircle.diagnostics.Diagnostics`. Nothing is dropped without
a record; the rows a reader sets aside are warned about in one line per file at its end
(:func:`livingcircle.diagnostics.set_aside_lines`). Row numbers in messages and records are
1-based and count data rows (features), not the header line of a CSV or Excel sheet; messages
about one row name its id too where the file has one.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import logging
import os
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, SupportsInt, TypeVar

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from . import settings
from ._errors import CoordinateError, InputError, LivingCircleWarning
from .coords import in_china
from .crs import utm_crs
from .diagnostics import Diagnostics, reasons_text
from .schema import (
    COMMUNITY_ATTRIBUTES,
    SITE_TYPES,
    UNKNOWN_WORDS,
    YES_NO_HINT,
    parse_yes_no,
)

if TYPE_CHECKING:
    from .network import WalkNetwork
    from .standards import Category

logger = logging.getLogger(__name__)

#: A study boundary as the library takes it: a layer or a geometry in EPSG:4326, or no boundary.
Boundary = gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry | None
#: A table a function returns as the same kind it was given (DataFrame in, DataFrame out;
#: GeoDataFrame in, GeoDataFrame out).
FrameT = TypeVar("FrameT", bound=pd.DataFrame)
#: The 1-based source row of each value a parser reads (named in its messages).
Rows = Sequence[int] | np.ndarray
#: The id of each value's feature (named in messages), or None when the layer has no ids yet.
Ids = Sequence[str | None] | None

VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".zip"}
TABLE_SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm"}

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "wgs84_lon", "gcj02_lon", "bd09_lon")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "wgs84_lat", "gcj02_lat", "bd09_lat")

# cells that mean "unknown": the yes/no parser's table (livingcircle.schema), for numbers too
_UNKNOWN = UNKNOWN_WORDS

_SITE_TYPE_ZH = {
    "锅炉房": "boiler_room",
    "废弃锅炉房": "boiler_room",
    "空地": "vacant_lot",
    "闲置地": "vacant_lot",
    "闲置用地": "vacant_lot",
    "空闲地": "vacant_lot",
    "底商": "ground_floor_shop",
    "底层商铺": "ground_floor_shop",
    "沿街商铺": "ground_floor_shop",
    "公共建筑": "public_building",
    "公房": "public_building",
    "其他": "other",
}


# --- warnings -----------------------------------------------------------------------------

def _caller_stacklevel() -> int:
    """Return the stacklevel of the first frame outside the livingcircle package."""
    pkg_dir = str(Path(__file__).resolve().parent)
    level = 1
    frame = inspect.currentframe()
    try:
        frame = frame.f_back if frame is not None else None  # skip this function
        while frame is not None:
            if not str(Path(frame.f_code.co_filename).resolve()).startswith(pkg_dir):
                return level
            frame = frame.f_back
            level += 1
    finally:
        del frame
    return 2


def warn(msg: str) -> None:
    """Warn about a repaired input (the warning points at the user's calling line)."""
    warnings.warn(msg, LivingCircleWarning, stacklevel=_caller_stacklevel())


def rows_text(rows: Iterable[SupportsInt], limit: int = 5) -> str:
    """Return source rows for a message: the first ``limit`` and how many more.

    Examples
    --------
    >>> rows_text([3, 8, 9, 12, 20, 31, 40])
    '3, 8, 9, 12, 20 and 2 more'
    """
    rows = [int(r) for r in rows]
    text = ", ".join(str(r) for r in rows[:limit])
    if len(rows) > limit:
        text += f" and {len(rows) - limit} more"
    return text


# --- files, columns -----------------------------------------------------------------------

def check_file(path: str | os.PathLike[str]) -> Path:
    """Return ``path`` as a Path after checking that it exists and has a format we read."""
    p = Path(path)
    if not p.exists():
        msg = f"{p}: file not found; check the path (relative paths start where you run)"
        raise InputError(msg)
    suffix = p.suffix.lower()
    if suffix == ".xls":
        msg = f"{p}: the old Excel .xls format is not read; open it and save it as .xlsx"
        raise InputError(msg)
    if suffix not in VECTOR_SUFFIXES | TABLE_SUFFIXES and not p.is_dir():
        msg = (
            f"{p}: unknown file type {suffix!r}; use GeoPackage (.gpkg), Shapefile (.shp), "
            "GeoJSON (.geojson), CSV (.csv) or Excel (.xlsx)"
        )
        raise InputError(msg)
    return p


def is_table(path: Path) -> bool:
    """Whether ``path`` is a CSV or Excel table (points from longitude/latitude columns)."""
    return path.suffix.lower() in TABLE_SUFFIXES


def check_not_empty(df: pd.DataFrame, *, source: str, what: str = "layer") -> None:
    """Raise when a layer has no rows."""
    if len(df) == 0:
        msg = f"{source}: the {what} is empty (no features or data rows); check the file and layer"
        raise InputError(msg)


def apply_column_mapping(df: FrameT, columns: Mapping[str, str] | None, *, source: str) -> FrameT:
    """Rename source columns to schema names (``columns`` maps source name -> schema name)."""
    df = df.rename(columns=lambda c: str(c).strip())
    if not columns:
        return df
    missing = [c for c in columns if c not in df.columns]
    if missing:
        from ._errors import advice

        msg = (
            f"{source}: column(s) {missing} given in "
            + advice("columns=", f"the --columns mapping of {source}",
                     f"the columns: mapping of {source} in areas.yaml")
            + f" are not in the file; its columns are {[c for c in df.columns if c != 'geometry']}"
        )
        raise InputError(msg)
    targets = list(columns.values())
    dup = sorted({t for t in targets if targets.count(t) > 1})
    if dup:
        msg = (
            f"{source}: the column mapping (--columns; Python: columns=) maps several source "
            f"columns to {dup}; map one source column to each name"
        )
        raise InputError(msg)
    clash = [t for s, t in columns.items() if t in df.columns and t != s and t not in columns]
    if clash:
        msg = (
            f"{source}: the column mapping (--columns; Python: columns=) renames a column to "
            f"{clash}, which the file already has; rename or drop one of them"
        )
        raise InputError(msg)
    return df.rename(columns=dict(columns))


def find_lonlat_columns(
    columns: Iterable[str], lon_col: str | None, lat_col: str | None, *, source: str
) -> tuple[str, str]:
    """Return the longitude and latitude column names (given, or detected by name)."""
    cols = [str(c) for c in columns]
    lower = {c.strip().lower(): c for c in cols}

    def pick(given, names, what, arg):
        if given is not None:
            if given not in cols:
                msg = f"{source}: {arg}={given!r} is not a column; the columns are {cols}"
                raise InputError(msg)
            return given
        for n in names:
            if n in lower:
                return lower[n]
        msg = (
            f"{source}: no {what} column found (looked for {list(names)}); rename yours to "
            f"{names[0]!r} or map it to {names[0]!r} with --columns (Python: {arg}= or "
            f"columns=); the columns are {cols}"
        )
        raise InputError(msg)

    return pick(lon_col, LON_NAMES, "longitude", "lon_col"), pick(
        lat_col, LAT_NAMES, "latitude", "lat_col")


def parse_coordinates(
    df: pd.DataFrame, lon_col: str, lat_col: str, *, layer: str, source: str,
    diagnostics: Diagnostics,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return float lon, lat and a mask of usable rows; record rows with missing/bad values."""
    def num(col):
        text = df[col].astype("string").str.strip().str.replace("°", "", regex=False)
        return pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)

    lon, lat = num(lon_col), num(lat_col)
    ok = np.isfinite(lon) & np.isfinite(lat)
    bad = np.flatnonzero(~ok)
    rows = df["src_row"].to_numpy()
    for i in bad:
        raw = (df[lon_col].iloc[i], df[lat_col].iloc[i])
        blank = any(pd.isna(v) or str(v).strip() == "" for v in raw)
        diagnostics.add(
            layer, "missing_coordinates" if blank else "bad_coordinates", action="dropped",
            source=source, row=int(rows[i]),
            detail=f"{lon_col}={raw[0]!r}, {lat_col}={raw[1]!r}: no usable longitude/latitude",
        )
    return lon, lat, ok


# --- coordinate checks --------------------------------------------------------------------

def looks_swapped(lon: npt.ArrayLike, lat: npt.ArrayLike) -> np.ndarray:
    """Rows whose longitude and latitude look exchanged.

    True where the latitude cannot be one (|lat| > 90) but the longitude can, or where the
    point lies outside China but the exchanged point lies inside it (the tool serves Chinese
    cities; a latitude of 73–135 with a longitude of 3–54 is a swap).
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    impossible = (np.abs(lat) > 90) & (np.abs(lon) <= 90)
    china_swap = in_china(lat, lon) & ~in_china(lon, lat)
    return impossible | china_swap


def fix_swapped_lonlat(
    lon: np.ndarray, lat: np.ndarray, rows: np.ndarray, *, layer: str, source: str,
    diagnostics: Diagnostics,
) -> tuple[np.ndarray, np.ndarray]:
    """Swap back rows with exchanged longitude/latitude, recording each as repaired."""
    swap = looks_swapped(lon, lat)
    if not swap.any():
        return lon, lat
    new_lon = np.where(swap, lat, lon)
    new_lat = np.where(swap, lon, lat)
    for i in np.flatnonzero(swap):
        diagnostics.add(
            layer, "swapped_lonlat", action="repaired", source=source, row=int(rows[i]),
            detail=f"longitude {lon[i]} / latitude {lat[i]} exchanged back",
        )
    warn(f"{source}: {int(swap.sum())} row(s) had longitude and latitude exchanged "
         f"(rows {rows_text(rows[swap])}); swapped back, see the diagnostics")
    return new_lon, new_lat


def fix_swapped_geometries(gdf: gpd.GeoDataFrame, *, layer: str, source: str,
                           diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Swap back the axes of geometries (in EPSG:4326) whose lon/lat look exchanged."""
    geoms = gdf.geometry.values
    b = shapely.bounds(np.asarray(geoms))
    x = (b[:, 0] + b[:, 2]) / 2
    y = (b[:, 1] + b[:, 3]) / 2
    swap = looks_swapped(x, y) & np.isfinite(x)
    if not swap.any():
        return gdf
    out = gdf.copy()
    flipped = shapely.transform(np.asarray(geoms)[swap], lambda c: c[:, ::-1])
    new = np.asarray(geoms).copy()
    new[swap] = flipped
    out = out.set_geometry(gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs))
    rows = gdf["src_row"].to_numpy()
    for i in np.flatnonzero(swap):
        diagnostics.add(layer, "swapped_lonlat", action="repaired", source=source,
                        row=int(rows[i]), detail="x/y axes exchanged back (lon/lat order)")
    warn(f"{source}: {int(swap.sum())} feature(s) had longitude and latitude exchanged "
         f"(rows {rows_text(rows[swap])}); swapped back, see the diagnostics")
    return out


def drop_invalid_lonlat(gdf: gpd.GeoDataFrame, *, layer: str, source: str,
                        diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Drop (and record) features whose coordinates are not longitude/latitude degrees."""
    b = shapely.bounds(np.asarray(gdf.geometry.values))
    bad = ~((b[:, 0] >= -180) & (b[:, 2] <= 180) & (b[:, 1] >= -90) & (b[:, 3] <= 90))
    bad &= np.isfinite(b).all(axis=1)
    if not bad.any():
        return gdf
    if bad.all():
        msg = (
            f"{source}: no feature has coordinates in degrees (x {b[:, 0].min():.6g}..."
            f"{b[:, 2].max():.6g}, y {b[:, 1].min():.6g}...{b[:, 3].max():.6g}); the stated "
            f"coordinate system ({gdf.crs}) is probably wrong — set the right one in your GIS "
            "(for Heilongjiang often EPSG:4490 or a CGCS2000 Gauss–Krüger zone, e.g. EPSG:4528) "
            "and save again"
        )
        raise CoordinateError(msg)
    rows = gdf["src_row"].to_numpy()
    for i in np.flatnonzero(bad):
        diagnostics.add(layer, "bad_coordinates", action="dropped", source=source,
                        row=int(rows[i]), detail="coordinates outside ±180° / ±90°")
    return gdf.loc[~bad].copy()


def check_crs(gdf: gpd.GeoDataFrame, *, source: str) -> pyproj.CRS:
    """Return a vector layer's coordinate reference system; a CoordinateError when it has none."""
    if gdf.crs is None:
        msg = (
            f"{source}: the layer has no coordinate reference system (for a Shapefile the .prj "
            "file is missing); define it in your GIS — QGIS: Layer ▸ Set CRS, ArcGIS: Define "
            "Projection — and save again. Longitude/latitude in degrees is usually EPSG:4490 "
            "(CGCS2000) or EPSG:4326 (WGS84); metres usually a CGCS2000 Gauss–Krüger zone"
        )
        raise CoordinateError(msg)
    return gdf.crs


def boundary_geometry(boundary: Boundary) -> BaseGeometry | None:
    """Return a study boundary (GeoDataFrame, GeoSeries or shapely geometry) in EPSG:4326."""
    if boundary is None:
        return None
    if isinstance(boundary, gpd.GeoDataFrame):
        boundary = boundary.geometry
    if isinstance(boundary, gpd.GeoSeries):
        if boundary.crs is None:
            msg = "boundary has no coordinate reference system; set one with .set_crs(...)"
            raise CoordinateError(msg)
        geom = shapely.union_all(np.asarray(boundary.to_crs(4326).values))
    elif isinstance(boundary, BaseGeometry):
        geom = boundary  # documented as EPSG:4326
    else:
        msg = (
            f"boundary must be a GeoDataFrame, GeoSeries or shapely geometry (EPSG:4326), "
            f"got {type(boundary).__name__}; read a file with livingcircle.io.read_boundary"
        )
        raise InputError(msg)
    if geom is None or geom.is_empty:
        msg = "the study boundary is empty"
        raise InputError(msg)
    return geom


def drop_far_outside(gdf: gpd.GeoDataFrame, boundary: Boundary, *, layer: str, source: str,
                     diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Drop (and record) features farther than ``settings.far_outside_km`` from the boundary.

    Raises a CoordinateError when every feature is that far: then the coordinates, not the
    features, are wrong.
    """
    geom = boundary_geometry(boundary)
    if geom is None or len(gdf) == 0:
        return gdf
    bser = gpd.GeoSeries([geom], crs=4326)
    utm = utm_crs(bser)
    bproj = bser.to_crs(utm).values[0]
    dist = gdf.geometry.to_crs(utm).distance(bproj).to_numpy()
    limit = settings.far_outside_km * 1000.0
    far = dist > limit
    if not far.any():
        return gdf
    if far.all():
        from ._errors import advice

        msg = (
            f"{source}: all {len(gdf)} features lie more than {settings.far_outside_km:g} km "
            f"from the study boundary (nearest {dist.min() / 1000:.1f} km); the coordinate "
            "system is probably wrong — "
            + advice("a CSV/Excel needs the right coord_crs ('wgs84', 'gcj02' for AMap, 'bd09' "
                     "for Baidu)",
                     f"a CSV/Excel needs the right --crs {source}=wgs84, =gcj02 (AMap) or =bd09 "
                     "(Baidu)",
                     f"a CSV/Excel needs the right crs: (wgs84, gcj02 for AMap, bd09 for Baidu) "
                     f"in the entry {{path: {source}, crs: ...}} of areas.yaml")
            + ", a GIS file the right CRS — or the file belongs to another area"
        )
        raise CoordinateError(msg)
    rows = gdf["src_row"].to_numpy()
    ids = gdf[_id_col(gdf)].to_numpy() if _id_col(gdf) else [None] * len(gdf)
    for i in np.flatnonzero(far):
        diagnostics.add(
            layer, "far_outside", action="dropped", source=source, row=int(rows[i]),
            feature_id=ids[i], geometry=gdf.geometry.iloc[i],
            detail=f"{dist[i] / 1000:.1f} km from the study boundary "
                   f"(limit {settings.far_outside_km:g} km)",
        )
    return gdf.loc[~far].copy()


def _row_number(value: SupportsInt | None) -> int | None:
    """Return a 1-based source row number as an int, None for a feature without a source row."""
    return None if value is None else int(value)


def _covers(geom: BaseGeometry, points: np.ndarray) -> np.ndarray:
    """Whether each point lies in ``geom`` or on its edge (a border point counts as inside)."""
    shapely.prepare(geom)
    return shapely.covers(geom, points)


def keep_in_area(gdf: gpd.GeoDataFrame, boundary: Boundary, *,
                 claimed: Iterable[tuple[str, BaseGeometry]] | None = None, layer: str,
                 source: str,
                 diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Keep the communities whose representative point lies in the study area; record the rest.

    A community belongs to the area its ``representative_point()`` falls in, computed in
    EPSG:4326 like the boundary (a point on the boundary line counts as inside). The others are
    dropped with one 'outside_study_area' record each (file, row, id, distance). In a batch,
    ``claimed`` lists the areas before this one as ``(name, geometry)`` pairs in EPSG:4326: a
    community whose point lies in one of them belongs to that area (the first listed wins on a
    shared border or an overlap) and is recorded as 'in_other_area'. The network and the
    facilities keep their halo, so streets and facilities outside still serve the communities
    inside.

    Raises a CoordinateError when no community is in the area (then the coordinates or the
    boundary are wrong).
    """
    geom = boundary_geometry(boundary)
    if (geom is None and not claimed) or len(gdf) == 0:
        return gdf
    geo = gdf.geometry if gdf.crs is None or gdf.crs.equals(4326) else gdf.geometry.to_crs(4326)
    rep = shapely.point_on_surface(np.asarray(geo.values))
    # without a boundary every community is in the area, unless an earlier area claims it
    inside = _covers(geom, rep) if geom is not None else np.ones(len(gdf), dtype=bool)
    other = np.full(len(gdf), "", dtype=object)  # the earlier area that owns it
    taken = np.zeros(len(gdf), dtype=bool)
    for name, g in claimed or ():
        hit = inside & ~taken & _covers(g, rep)
        other[hit] = str(name)
        taken |= hit
    keep = inside & ~taken
    if geom is not None and not inside.any():  # (without a boundary every one is inside)
        bser = gpd.GeoSeries([geom], crs=4326)
        utm = utm_crs(bser)
        dist = gpd.GeoSeries(rep, crs=4326).to_crs(utm).distance(bser.to_crs(utm).values[0])
        msg = (
            f"{source}: none of the {len(gdf)} communities lies inside the study boundary "
            f"(nearest {dist.min() / 1000:.1f} km away); the coordinate system is probably "
            "wrong — a CSV/Excel needs the right coordinate system ('wgs84', 'gcj02' for AMap, "
            "'bd09' for Baidu), a GIS file the right CRS — or the boundary belongs to another area"
        )
        raise CoordinateError(msg)
    if keep.all():
        return gdf
    rows = gdf["src_row"].to_numpy() if "src_row" in gdf.columns else [None] * len(gdf)
    idc = _id_col(gdf)
    ids = gdf[idc].to_numpy() if idc else [None] * len(gdf)
    out_idx = np.flatnonzero(~inside)
    if geom is not None and len(out_idx):
        bser = gpd.GeoSeries([geom], crs=4326)
        utm = utm_crs(bser)
        dist = gpd.GeoSeries(rep[out_idx], crs=4326).to_crs(utm).distance(
            bser.to_crs(utm).values[0]).to_numpy()
        for i, d in zip(out_idx, dist, strict=True):
            diagnostics.add(
                layer, "outside_study_area", action="dropped", source=source,
                row=_row_number(rows[i]), feature_id=ids[i],
                geometry=rep[i],
                detail=f"its representative point lies {d:,.0f} m outside the study boundary; "
                       "not analysed or counted")
    for i in np.flatnonzero(taken):
        diagnostics.add(
            layer, "in_other_area", action="dropped", source=source,
            row=_row_number(rows[i]), feature_id=ids[i], geometry=rep[i],
            detail=f"its representative point lies in area {other[i]!r}, listed before this "
                   "one; analysed and counted there")
    n_out, n_other = len(out_idx), int(taken.sum())
    parts = [f"{n_out} outside the study boundary"] if n_out else []
    parts += [f"{n_other} in an area listed before this one"] if n_other else []
    warn(f"{source}: {int(keep.sum())} of {len(gdf)} communities are in the study area; "
         f"set aside {' and '.join(parts)} (see the diagnostics)")
    return gdf.loc[keep].copy()


def drop_gates_far_from_community(gates: gpd.GeoDataFrame, communities: pd.DataFrame | None,
                                  *, source: str, diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Set aside gates that lie far from their own community.

    A gate farther than :data:`livingcircle.settings.gate_outline_tolerance_m` from its
    community's polygon — or, for a community given as a point (no outline), farther than
    :data:`livingcircle.settings.gate_point_tolerance_m` from that point — is dropped with a
    'gate_far_from_community' record naming the file, row, gate id, community id and distance.
    The community is then reached through its other gates, or its outline when none is left.
    Distances are measured in the UTM zone of the gates. ``communities`` without geometries (a
    plain table) are not checked against.
    """
    if (len(gates) == 0 or not isinstance(communities, gpd.GeoDataFrame)
            or "geometry" not in communities.columns):
        return gates
    comm = communities[["community_id", "geometry"]].copy()
    comm["community_id"] = [id_text(x) for x in comm["community_id"]]
    comm = gpd.GeoDataFrame(comm, geometry="geometry",
                            crs=communities.crs).drop_duplicates("community_id")
    utm = utm_crs(gates)
    cgeo = comm.set_index("community_id").geometry.to_crs(utm)
    own = cgeo.reindex(gates["community_id"].to_numpy()).to_numpy()
    gpts = np.asarray(gates.geometry.to_crs(utm).values)
    dist = shapely.distance(gpts, own)
    is_point = shapely.get_type_id(own) == 0
    limit = np.where(is_point, settings.gate_point_tolerance_m,
                     settings.gate_outline_tolerance_m)
    far = np.nan_to_num(dist, nan=0.0) > limit
    if not far.any():
        return gates
    rows = gates["src_row"].to_numpy() if "src_row" in gates.columns else \
        np.arange(1, len(gates) + 1)
    for i in np.flatnonzero(far):
        what = "point" if is_point[i] else "outline"
        diagnostics.add(
            "gates", "gate_far_from_community", action="dropped", source=source,
            row=int(rows[i]), feature_id=gates["gate_id"].iloc[i],
            geometry=gates.geometry.iloc[i],
            detail=f"gate {gates['gate_id'].iloc[i]} lies {dist[i]:,.0f} m from the {what} of "
                   f"its community {gates['community_id'].iloc[i]} (tolerance "
                   f"{limit[i]:g} m); not used")
    warn(f"{source}: set aside {int(far.sum())} gate(s) far from their own community (more "
         f"than {settings.gate_outline_tolerance_m:g} m from its outline, or "
         f"{settings.gate_point_tolerance_m:g} m from a community given as a point; rows "
         f"{rows_text(rows[far])}; farthest {np.nanmax(dist[far]):,.0f} m); check the "
         "coordinate system of the gates file; see the diagnostics")
    return gates.loc[~far].copy()


def _bounds_text(bounds) -> str:
    x0, y0, x1, y1 = bounds
    return f"lon {x0:.4f}…{x1:.4f}, lat {y0:.4f}…{y1:.4f}"


def check_reachable(net: WalkNetwork, communities: gpd.GeoDataFrame,
                    gates: gpd.GeoDataFrame | None = None, *, source: str,
                    max_snap_m: float | None = None) -> np.ndarray:
    """Stop a run where most communities cannot reach the walking network.

    A community can reach the network when a walkable street lies within ``max_snap_m``
    (default :data:`livingcircle.settings.max_snap_distance_m`) of its polygon or point, or of
    one of its gates. When more than :data:`livingcircle.settings.unreachable_share_max` of the
    communities cannot, the communities and the network are not in the same place and the run
    stops with a CoordinateError naming the counts, both bounding boxes and the likely causes.
    Fewer unreachable communities are kept (each gets a diagnostic from the access step) and
    counted in a warning.

    Returns
    -------
    numpy.ndarray
        Whether each community (in order) can reach the network.
    """
    from pyproj import Transformer

    max_snap = float(max_snap_m if max_snap_m is not None else settings.max_snap_distance_m)
    n = len(communities)
    if n == 0:
        return np.zeros(0, dtype=bool)
    edges = net.edges
    comm = communities.to_crs(net.crs)
    ok = np.zeros(n, dtype=bool)
    idx = edges.tree.query(np.asarray(comm.geometry.values), predicate="dwithin",
                           distance=max_snap)
    ok[np.unique(idx[0])] = True
    if gates is not None and len(gates):
        g = gates.to_crs(net.crs)
        gidx = edges.tree.query(np.asarray(g.geometry.values), predicate="dwithin",
                                distance=max_snap)
        reached = set(g["community_id"].iloc[np.unique(gidx[0])])
        ok |= comm["community_id"].isin(reached).to_numpy()
    n_bad = int((~ok).sum())
    if n_bad == 0:
        return ok
    if n_bad / n > settings.unreachable_share_max:
        to_wgs = Transformer.from_crs(net.crs, 4326, always_xy=True)
        x0, y0, x1, y1 = shapely.total_bounds(edges.geometry)
        nb = to_wgs.transform_bounds(x0, y0, x1, y1)
        cb = communities.to_crs(4326).total_bounds
        msg = (
            f"{source}: {n_bad} of {n} communities ({n_bad / n:.0%}) have no walkable street "
            f"within {max_snap:g} m, so the communities and the walking network "
            f"({net.source}) do not lie in the same place. Communities: "
            f"{_bounds_text(cb)}; network: {_bounds_text(nb)}. Likely causes: the coordinate "
            "system (a CSV/Excel read with the wrong system, a GIS file whose .prj names the "
            "wrong CRS or zone) or a file of another city or district. Nothing was analysed "
            f"(the run stops when more than {settings.unreachable_share_max:.0%} cannot reach "
            "the network)"
        )
        raise CoordinateError(msg)
    ids = communities["community_id"].to_numpy()[~ok]
    shown = ", ".join(str(x) for x in ids[:5]) + (f" and {n_bad - 5} more" if n_bad > 5 else "")
    warn(f"{source}: {n_bad} of {n} communities have no walkable street within {max_snap:g} m "
         f"({shown}); they are kept with every category 'not reached' (see the diagnostics)")
    return ok


def _id_col(gdf) -> str | None:
    for c in ("community_id", "gate_id", "facility_id", "site_id"):
        if c in gdf.columns:
            return c
    return None


# --- geometries ---------------------------------------------------------------------------

def repair_geometries(gdf: gpd.GeoDataFrame, *, layer: str, source: str,
                      diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Drop (record) missing/empty geometries; make invalid ones valid (record the repair)."""
    geoms = np.asarray(gdf.geometry.values)
    rows = gdf["src_row"].to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        diagnostics.add(layer, "empty_geometry", action="dropped", source=source,
                        row=int(rows[i]), detail="the feature has no geometry")
    invalid = ~missing & ~shapely.is_valid(geoms)
    if not invalid.any():
        return gdf.loc[~missing].copy() if missing.any() else gdf
    new = geoms.copy()
    reasons = shapely.is_valid_reason(geoms[invalid])
    fixed = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
    new[invalid] = fixed
    collapsed = np.zeros(len(geoms), dtype=bool)
    for k, i in enumerate(np.flatnonzero(invalid)):
        if fixed[k] is None or fixed[k].is_empty:
            collapsed[i] = True
            diagnostics.add(layer, "invalid_geometry", action="dropped", source=source,
                            row=int(rows[i]), geometry=geoms[i],
                            detail=f"{reasons[k]}; nothing valid remains after repair")
        else:
            diagnostics.add(layer, "invalid_geometry", action="repaired", source=source,
                            row=int(rows[i]), detail=f"{reasons[k]}; repaired with make_valid")
    warn(f"{source}: {int(invalid.sum())} invalid geometr(ies) repaired with make_valid "
         f"(rows {rows_text(rows[invalid])}); see the diagnostics")
    out = gdf.set_geometry(gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs))
    return out.loc[~missing & ~collapsed].copy()


def check_geometry_types(gdf: gpd.GeoDataFrame, allowed: tuple[str, ...], *, what: str,
                         source: str) -> None:
    """Raise when a feature's geometry type is not one of ``allowed``."""
    types = gdf.geom_type.to_numpy()
    bad = ~np.isin(types, allowed)
    if bad.any():
        rows = gdf["src_row"].to_numpy()[bad]
        msg = (
            f"{source}: {what} must be {' or '.join(allowed)} geometries; rows "
            f"{rows_text(rows)} are {sorted(set(types[bad]))}"
        )
        raise InputError(msg)


# --- ids ----------------------------------------------------------------------------------

def id_text(v: Any) -> str | None:  # (a cell as a file gives it: text, number, NA, ...)
    """Return an id cell as text, or None when it is empty or missing.

    A whole number a spreadsheet stored as a float loses its ``.0``.

    Examples
    --------
    >>> id_text(12.0), id_text(" C004 "), id_text(float("nan")), id_text("")
    ('12', 'C004', None, None)
    """
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, float | np.floating) and float(v).is_integer():
        v = int(v)
    text = str(v).strip()
    if text.endswith(".0") and text[:-2].lstrip("-").isdigit():
        text = text[:-2]  # 12.0 written by a spreadsheet
    return text or None


def assign_ids(df: FrameT, id_col: str, *, layer: str, source: str,
               diagnostics: Diagnostics, prefix: str | None = None) -> FrameT:
    """Make ``id_col`` str; generate ``<prefix>_<row>`` for missing ids; reject duplicates.

    ``prefix`` defaults to the layer name.
    """
    prefix = layer if prefix is None else prefix
    out = df.copy()
    rows = out["src_row"].to_numpy()
    if id_col not in out.columns:
        plain = [c for c in out.columns if str(c).strip().lower() in ("id", "编号")]
        if len(plain) == 1:
            logger.info("%s: using column %r as %s", source, plain[0], id_col)
            out = out.rename(columns={plain[0]: id_col})
    if id_col not in out.columns:
        ids = [f"{prefix}_{r}" for r in rows]
        diagnostics.add(layer, "missing_id", action="repaired", source=source,
                        detail=f"no {id_col} column; generated ids {prefix}_<row>")
        warn(f"{source}: no {id_col} column; generated ids {prefix}_<row> (map yours to "
             f"{id_col!r} with --columns; Python: id_column= or columns=)")
    else:
        ids = [id_text(v) for v in out[id_col]]
        gen = [i for i, v in enumerate(ids) if v is None]
        for i in gen:
            ids[i] = f"{prefix}_{rows[i]}"
            diagnostics.add(layer, "missing_id", action="repaired", source=source,
                            row=int(rows[i]), feature_id=ids[i],
                            detail=f"empty {id_col}; generated {ids[i]}")
        if gen:
            warn(f"{source}: {len(gen)} row(s) without {id_col} (rows "
                 f"{rows_text(rows[gen])}); generated ids {prefix}_<row>")
    out[id_col] = ids
    dup_mask = out[id_col].duplicated(keep=False).to_numpy()
    if dup_mask.any():
        groups: dict[str, list[int]] = {}
        for v, r in zip(out[id_col].to_numpy()[dup_mask], rows[dup_mask], strict=True):
            groups.setdefault(v, []).append(int(r))
        shown = "; ".join(f"{k!r} (rows {', '.join(map(str, v))})"
                          for k, v in list(groups.items())[:5])
        more = f" and {len(groups) - 5} more" if len(groups) > 5 else ""
        msg = (
            f"{source}: column '{id_col}' has duplicate ids: {shown}{more}; every "
            f"{layer[:-1] if layer.endswith('s') else layer} needs its own id — fix the file, "
            "or drop the column to have ids generated"
        )
        raise InputError(msg)
    return out


# --- attributes ---------------------------------------------------------------------------

def _where(source, row, feature_id=None) -> str:
    """``file: row N (id X)``: where a message or record points (row 1-based, data rows)."""
    at = f"{source}: row {row}"
    return at if feature_id is None else f"{at} (id {feature_id})"


def _cell_error(source, row, column, value, expected, feature_id=None) -> InputError:
    msg = f"{_where(source, row, feature_id)}, column '{column}': {value!r} is not {expected}"
    return InputError(msg)


def _ids_or_none(ids: Ids, n: int) -> list:
    return [None] * n if ids is None else list(ids)


def parse_bool(values: pd.Series, rows: Rows, *, column: str, source: str,
               ids: Ids = None) -> pd.Series:
    """Parse 是/否/有/无/yes/no/true/false/1/0/Y/N (empty or 未知 = unknown) into 'boolean'.

    Each cell goes through :func:`livingcircle.schema.parse_yes_no`, the one yes/no parser;
    a cell it cannot read is an error naming the file, row, column and id.
    """
    out = []
    for v, r, fid in zip(values.tolist(), rows, _ids_or_none(ids, len(values)), strict=True):
        try:
            b = parse_yes_no(v)
        except InputError:
            raise _cell_error(source, r, column, v, YES_NO_HINT, fid) from None
        out.append(pd.NA if b is None else b)
    return pd.Series(pd.array(out, dtype="boolean"), index=values.index)


def _number_text(v) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    text = unicodedata.normalize("NFKC", str(v)).strip().replace(",", "")
    if text.lower() in _UNKNOWN:
        return None
    return text


def _blank(v) -> bool:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return True
    return isinstance(v, str) and not v.strip()


#: Earliest plausible build year: earlier years in these tables are typing mistakes (rule of
#: issue 14; the sample district's oldest community is from 1960).
YEAR_MIN = 1900

_PLAIN = re.compile(r"\+?(\d+)(?:\.0*)?")
_YEAR_UNIT = re.compile(r"(\d{4})\s*年")
_YEAR_DATE = re.compile(r"(\d{4})\s*(?:年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?|[-/.]\d{1,2}"
                        r"(?:[-/.]\d{1,2})?)")
_DECADE = re.compile(r"(?:\d{2}|\d{4}|[一二三四五六七八九零〇十]+)\s*(?:年代|'?s)")
_APPROX = re.compile(r"约|大约|左右|前后|以前|以后|之前|之后|~|\?|c\.|ca\.")
_RANGE = re.compile(r"\d{4}\s*(?:-|~|至|到|—)\s*\d{2,4}")


def _year_or_reason(v) -> tuple[int | None, str | None]:
    """Read one build-year cell: (year, None), (year, how it was read) or (None, why not)."""
    if isinstance(v, _dt.date | pd.Timestamp):
        return v.year, "a date; its year is used"
    text = unicodedata.normalize("NFKC", str(v)).strip().replace(",", "")
    if text.lower() in _UNKNOWN:
        return None, "says the year is unknown"
    m = _PLAIN.fullmatch(text)
    if m and len(m.group(1)) == 4:
        return int(m.group(1)), None
    if m:
        return None, "not a four-digit year"
    m = _YEAR_UNIT.fullmatch(text)
    if m:
        return int(m.group(1)), "a year written with 年"
    m = _YEAR_DATE.fullmatch(text)
    if m:
        return int(m.group(1)), "a date; its year is used"
    if _DECADE.search(text):
        return None, "a decade, not a year"
    if _RANGE.search(text):
        return None, "a range of years"
    if _APPROX.search(text):
        return None, "an approximate year"
    return None, "not a year"


def parse_build_year(values: pd.Series, rows: Rows, *, layer: str, source: str,
                     diagnostics: Diagnostics, ids: Ids = None,
                     column: str = "build_year") -> pd.Series:
    """Read build years as municipal tables write them into 'Int64'.

    - ``1998``, ``1998.0``, `` 1998 ``, full-width ``１９９８`` → 1998 (no record);
    - ``1998年``, a date (``1998年5月``, ``1998-05``, ``1998/5/1``, ``1998.05``, an Excel date)
      → 1998, recorded as ``value_repaired`` with the original text;
    - a decade (``90年代``, ``1980s``, ``八十年代``), an approximate year (``约1985``,
      ``1985左右``), a range (``1985-1990``), ``不详``/``未知``/``-`` and any other text that is
      not a four-digit year → unknown, recorded as ``value_unknown`` with the original text and
      the reason — never guessed, never a run-stopping error;
    - an empty cell → unknown without a record (the ordinary way of saying "unknown"; the
      renovation scope lists such communities as ``unknown_build_year``);
    - a year after this year or before :data:`YEAR_MIN` (1900) → :class:`InputError` naming
      the file, row, id and column.
    """
    out = []
    this_year = _dt.date.today().year
    for v, r, fid in zip(values.tolist(), rows, _ids_or_none(ids, len(values)), strict=True):
        if _blank(v):
            out.append(pd.NA)
            continue
        year, how = _year_or_reason(v)
        if year is not None and not YEAR_MIN <= year <= this_year:
            when = f"after this year ({this_year})" if year > this_year else \
                f"before {YEAR_MIN}"
            raise _cell_error(source, r, column, v,
                              f"a plausible build year: {year} is {when}; correct it, or leave "
                              "the cell empty when the year is unknown", fid)
        if how is not None:
            done = f"read as {year}" if year is not None else "left unknown"
            diagnostics.add(layer, "value_repaired" if year is not None else "value_unknown",
                            action="repaired", source=source, row=int(r), feature_id=fid,
                            detail=f"{column} {v!r}: {how}; {done}")
        out.append(pd.NA if year is None else year)
    return pd.Series(pd.array(out, dtype="Int64"), index=values.index)


#: Units a count may carry in a municipal table (removed, recorded).
COUNT_UNITS = {"floors": ("层", "f"), "households": ("户",), "population": ("人", "口")}


def parse_int(values: pd.Series, rows: Rows, *, column: str, source: str, layer: str | None = None,
              diagnostics: Diagnostics | None = None, ids: Ids = None) -> pd.Series:
    """Parse whole numbers into 'Int64', tolerant of how municipal tables write counts.

    ``6``, ``6.0``, full-width ``６`` → 6. With ``diagnostics``: ``6层``, ``120户``, ``350人``
    (the unit of :data:`COUNT_UNITS` for ``column``) → the number, recorded as
    ``value_repaired``; text that is not a number (``不详``, ``多层``, ``6-7层``) → unknown,
    recorded as ``value_unknown``. A fraction or a negative number is an error naming the row.
    Without ``diagnostics`` and ``layer`` any such text is an error.
    """
    units = COUNT_UNITS.get(column, ())
    out = []
    for v, r, fid in zip(values.tolist(), rows, _ids_or_none(ids, len(values)), strict=True):
        if _blank(v):
            out.append(pd.NA)
            continue
        text = unicodedata.normalize("NFKC", str(v)).strip().replace(",", "")
        unit = next((u for u in units if text.lower().endswith(u)), None)
        number = text[: -len(unit)].strip() if unit else text
        try:
            f = float(number)
        except ValueError:
            f = None
        if f is None or not np.isfinite(f):
            if diagnostics is None or layer is None:
                raise _cell_error(source, r, column, v, "a whole number", fid)
            diagnostics.add(layer, "value_unknown", action="repaired", source=source,
                            row=int(r), feature_id=fid,
                            detail=f"{column} {v!r}: not a number; left unknown")
            out.append(pd.NA)
            continue
        if not f.is_integer():
            raise _cell_error(source, r, column, v, "a whole number", fid)
        if f < 0:
            raise _cell_error(source, r, column, v, "a non-negative number", fid)
        if unit is not None:
            if diagnostics is None or layer is None:
                raise _cell_error(source, r, column, v, "a whole number", fid)
            diagnostics.add(layer, "value_repaired", action="repaired", source=source,
                            row=int(r), feature_id=fid,
                            detail=f"{column} {v!r}: unit {unit!r} removed; read as {int(f)}")
        out.append(int(f))
    return pd.Series(pd.array(out, dtype="Int64"), index=values.index)


def parse_float(values: pd.Series, rows: Rows, *, column: str, source: str,
                ids: Ids = None) -> pd.Series:
    """Parse numbers into 'Float64' (a trailing '%' divides by 100)."""
    out = []
    for v, r, fid in zip(values.tolist(), rows, _ids_or_none(ids, len(values)), strict=True):
        text = _number_text(v)
        if text is None:
            out.append(pd.NA)
            continue
        scale = 1.0
        if text.endswith("%"):
            text, scale = text[:-1].strip(), 0.01
        text = re.sub(r"\s*(㎡|m2|m²|平方米|平米)$", "", text)
        try:
            f = float(text) * scale
        except ValueError:
            raise _cell_error(source, r, column, v, "a number", fid) from None
        if not np.isfinite(f):
            raise _cell_error(source, r, column, v, "a finite number", fid)
        out.append(f)
    return pd.Series(pd.array(out, dtype="Float64"), index=values.index)


def parse_safety_grade(values: pd.Series, rows: Rows, *, source: str, ids: Ids = None) -> pd.Series:
    """Normalise safety grades to 'A'–'D' (accepts a, Ａ, A级, A类); others are an error."""
    out = []
    for v, r, fid in zip(values.tolist(), rows, _ids_or_none(ids, len(values)), strict=True):
        text = _number_text(v)
        if text is None:
            out.append(pd.NA)
            continue
        key = re.sub(r"(级|类|等)$", "", text.upper()).strip()
        if key not in ("A", "B", "C", "D"):
            raise _cell_error(source, r, "safety_grade", v,
                              "a safety grade A, B, C or D (房屋安全等级; empty when unknown)",
                              fid)
        out.append(key)
    return pd.Series(pd.array(out, dtype="string"), index=values.index)


def coerce_community_attributes(df: FrameT, *, layer: str, source: str,
                                diagnostics: Diagnostics,
                                headers: dict[str, str] | None = None) -> FrameT:
    """Coerce the attributes of :data:`~livingcircle.schema.COMMUNITY_ATTRIBUTES` to their dtypes.

    Missing values stay missing (unknown). Build years are read by :func:`parse_build_year`
    (``1998年`` → 1998, ``90年代`` → unknown, each recorded), counts by :func:`parse_int`
    (``6层`` → 6, recorded). An elderly_share column given in percent (a value above 1) is
    divided by 100, each changed row recorded as repaired. Errors and records name the file,
    the 1-based row and the community id; with ``headers`` (schema name → the file's header,
    from :func:`livingcircle.io._read`) an error names the header as the file writes it
    (``column '建成年代' (read as build_year)``).
    """
    out = df.copy()
    for col in COMMUNITY_ATTRIBUTES:
        if col not in out.columns:
            continue
        try:
            out = _coerce_community_column(out, col, layer=layer, source=source,
                                           diagnostics=diagnostics)
        except InputError as exc:
            header = (headers or {}).get(col)
            if header is None or f"column '{col}'" not in str(exc):
                raise
            msg = str(exc).replace(f"column '{col}'", f"column '{header}' (read as {col})", 1)
            raise InputError(msg) from None
    return out


def _coerce_community_column(out: FrameT, col: str, *, layer: str, source: str,
                             diagnostics: Diagnostics) -> FrameT:
    """Coerce one column of :func:`coerce_community_attributes` in place; return the frame."""
    rows = out["src_row"].to_numpy()
    ids = out["community_id"].tolist() if "community_id" in out.columns else None
    dtype = COMMUNITY_ATTRIBUTES[col]
    s = out[col]
    if col == "safety_grade":
        out[col] = parse_safety_grade(s, rows, source=source, ids=ids)
    elif col == "build_year":
        out[col] = parse_build_year(s, rows, layer=layer, source=source,
                                    diagnostics=diagnostics, ids=ids)
    elif dtype == "boolean":
        out[col] = parse_bool(s, rows, column=col, source=source, ids=ids)
    elif dtype == "Int64":
        out[col] = parse_int(s, rows, column=col, source=source, layer=layer,
                             diagnostics=diagnostics, ids=ids)
    elif dtype == "Float64":
        parsed = parse_float(s, rows, column=col, source=source, ids=ids)
        if col == "elderly_share":
            parsed = _elderly_share(parsed, rows, layer=layer, source=source,
                                    diagnostics=diagnostics, raw=s, ids=ids)
        out[col] = parsed
    else:
        text = s.astype("string").str.strip()
        out[col] = text.mask(text == "", pd.NA)
    return out


def _elderly_share(parsed: pd.Series, rows, *, layer, source, diagnostics, raw,
                   ids=None) -> pd.Series:
    vals = parsed.to_numpy(dtype=float, na_value=np.nan)
    ids = _ids_or_none(ids, len(vals))
    bad = (vals < 0) | (vals > 100)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _cell_error(source, rows[i], "elderly_share", raw.iloc[i],
                          "a share between 0 and 1 (or a percentage 0–100)", ids[i])
    if not (vals > 1).any():
        return parsed
    changed = np.flatnonzero(np.isfinite(vals) & (vals != 0))
    for i in changed:
        diagnostics.add(layer, "elderly_share_percent", action="repaired", source=source,
                        row=int(rows[i]), feature_id=ids[i],
                        detail=f"elderly_share {vals[i]:g} read as percent -> {vals[i] / 100:g}")
    warn(f"{source}: elderly_share holds percentages (values above 1); divided by 100 "
         "(see the diagnostics)")
    return parsed / 100.0


def normalise_site_types(values: pd.Series, rows: Rows, *, layer: str, source: str,
                         diagnostics: Diagnostics, ids: Ids = None) -> pd.Series:
    """Map site types (English ids or Chinese names) to :data:`~livingcircle.schema.SITE_TYPES`.

    Case, spaces and full-width characters do not matter. An unknown type becomes 'other',
    recorded as repaired with the original text.
    """
    out = []
    for v, r, fid in zip(values.tolist(), rows, _ids_or_none(ids, len(values)), strict=True):
        text = _number_text(v)
        if text is None:
            out.append(pd.NA)
            continue
        key = re.sub(r"[\s\-]+", "_", text.strip().lower())
        if key in SITE_TYPES:
            out.append(key)
        elif "".join(text.split()) in _SITE_TYPE_ZH:
            out.append(_SITE_TYPE_ZH["".join(text.split())])
        else:
            out.append("other")
            diagnostics.add(layer, "unknown_site_type", action="repaired", source=source,
                            row=int(r), feature_id=fid,
                            detail=f"site_type {text!r} not one of {SITE_TYPES}; "
                                               "kept as 'other'")
    return pd.Series(pd.array(out, dtype="string"), index=values.index)


def category_key(text: object) -> str:
    """Return the form in which category names are compared: NFKC, lower case, no spaces/_/-.

    Examples
    --------
    >>> category_key(" Public_Green  Park "), category_key("ＫＩＮＤＥＲＧＡＲＴＥＮ")
    ('publicgreenpark', 'kindergarten')
    """
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", str(text)).strip().lower())


def category_lookup(categories: Mapping[str, Category]) -> dict[str, str]:
    """Return :func:`category_key` of every name of a profile's categories → category id.

    Each category is found by its id, its English and its Chinese name, the parts of a name
    joined by ``/`` (托儿所/托育机构 → 托儿所, 托育机构) and a name without its bracketed note
    (社区卫生服务中心（社区医院） → 社区卫生服务中心). A key that two categories share is left out.
    """
    seen: dict[str, set[str]] = {}
    for cid, cat in categories.items():
        names = [cid, cat.name_en, cat.name_zh]
        for name in [cat.name_en, cat.name_zh]:
            plain = re.sub(r"\s*[(（][^()（）]*[)）]", "", unicodedata.normalize("NFKC", name))
            names += [plain, *name.split("/"), *plain.split("/")]
        for n in names:
            if n and category_key(n):
                seen.setdefault(category_key(n), set()).add(cid)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


def normalise_categories(values: pd.Series, lookup: dict[str, str]) -> pd.Series:
    """Return given categories as ';'-joined ids of the profile (:func:`category_lookup`).

    Case, surrounding and inner spaces and full-width characters do not matter; several
    categories in a cell may be separated by ``;``, ``,``, ``；``, ``，`` or ``、``. A name the
    profile does not know is kept (spaces collapsed) for the ``unknown_category`` record.
    """
    out = []
    for v in values.tolist():
        if _blank(v):
            out.append(pd.NA)
            continue
        parts = re.split(r"[;,、]", unicodedata.normalize("NFKC", str(v)))
        ids = [lookup.get(category_key(t), " ".join(t.split())) for t in parts if t.strip()]
        out.append(";".join(ids) if ids else pd.NA)
    return pd.Series(pd.array(out, dtype="object"), index=values.index)


def strip_text(values: pd.Series) -> pd.Series:
    """Return text values stripped of surrounding spaces; missing stays missing."""
    return values.map(lambda x: x.strip() if isinstance(x, str) else x)


def check_usable(df: pd.DataFrame, n_in: int, *, layer: str, source: str,
                 diagnostics: Diagnostics) -> None:
    """Raise when every row of a non-empty input was set aside."""
    if len(df) == 0 and n_in > 0:
        issues: dict[str, list] = {}
        for d in diagnostics.records:
            if d["layer"] == layer and d["source"] == str(source) and d["action"] == "dropped":
                issues.setdefault(d["issue"], []).append(d["row"])
        why = reasons_text(issues) or "see the diagnostics"
        msg = (
            f"{source}: none of the {n_in} rows is usable ({why}); check the columns, the "
            "coordinate system and the layer"
        )
        raise InputError(msg)
