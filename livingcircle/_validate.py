"""Every check of input layers, in one place (called by :mod:`livingcircle.io`).

The rule is the one of osmnx's ``_validate``: raise when the results would be wrong, and repair
what can be repaired without guessing, with a warning (``stacklevel`` pointing at the caller's
code) and a record in :class:`~livingcircle.diagnostics.Diagnostics`. Nothing is dropped without
a record. Row numbers in messages and records are 1-based and count data rows (features), not
the header line of a CSV or Excel sheet.
"""

from __future__ import annotations

import datetime as _dt
import inspect
import logging
import re
import unicodedata
import warnings
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings
from ._errors import CoordinateError, InputError, LivingCircleWarning
from .coords import in_china
from .diagnostics import Diagnostics
from .schema import COMMUNITY_ATTRIBUTES, SITE_TYPES

logger = logging.getLogger(__name__)

VECTOR_SUFFIXES = {".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".zip"}
TABLE_SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm"}

LON_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "wgs84_lon", "gcj02_lon", "bd09_lon")
LAT_NAMES = ("lat", "latitude", "y", "纬度", "wgs84_lat", "gcj02_lat", "bd09_lat")

_TRUE = {"是", "有", "yes", "y", "true", "t", "1", "1.0", "√", "✓"}
_FALSE = {"否", "无", "没有", "no", "n", "false", "f", "0", "0.0", "×", "✗"}
_UNKNOWN = {"", "nan", "none", "null", "<na>", "未知", "不详", "-", "—"}

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


def _rows_text(rows: Iterable, limit: int = 5) -> str:
    rows = [int(r) for r in rows]
    text = ", ".join(str(r) for r in rows[:limit])
    if len(rows) > limit:
        text += f" and {len(rows) - limit} more"
    return text


# --- files, columns -----------------------------------------------------------------------

def check_file(path) -> Path:
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


def check_not_empty(df: pd.DataFrame, *, source, what: str = "layer") -> None:
    """Raise when a layer has no rows."""
    if len(df) == 0:
        msg = f"{source}: the {what} is empty (no features or data rows); check the file and layer"
        raise InputError(msg)


def apply_column_mapping(df: pd.DataFrame, columns: dict | None, *, source) -> pd.DataFrame:
    """Rename source columns to schema names (``columns`` maps source name -> schema name)."""
    df = df.rename(columns=lambda c: str(c).strip())
    if not columns:
        return df
    missing = [c for c in columns if c not in df.columns]
    if missing:
        msg = (
            f"{source}: column(s) {missing} given in columns= are not in the file; "
            f"its columns are {[c for c in df.columns if c != 'geometry']}"
        )
        raise InputError(msg)
    targets = list(columns.values())
    dup = sorted({t for t in targets if targets.count(t) > 1})
    if dup:
        msg = f"{source}: columns= maps several source columns to {dup}; map one to each name"
        raise InputError(msg)
    clash = [t for s, t in columns.items() if t in df.columns and t != s and t not in columns]
    if clash:
        msg = (
            f"{source}: columns= renames a column to {clash}, which the file already has; "
            "rename or drop one of them"
        )
        raise InputError(msg)
    return df.rename(columns=dict(columns))


def find_lonlat_columns(
    columns: Iterable[str], lon_col: str | None, lat_col: str | None, *, source
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
            f"{source}: no {what} column found (looked for {list(names)}); "
            f"name it, or pass {arg}= (the columns are {cols})"
        )
        raise InputError(msg)

    return pick(lon_col, LON_NAMES, "longitude", "lon_col"), pick(
        lat_col, LAT_NAMES, "latitude", "lat_col")


def parse_coordinates(
    df: pd.DataFrame, lon_col: str, lat_col: str, *, layer: str, source,
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
    if len(bad):
        warn(f"{source}: dropped {len(bad)} row(s) without usable longitude/latitude "
             f"(rows {_rows_text(rows[bad])}); see the diagnostics")
    return lon, lat, ok


# --- coordinate checks --------------------------------------------------------------------

def looks_swapped(lon, lat) -> np.ndarray:
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
    lon: np.ndarray, lat: np.ndarray, rows: np.ndarray, *, layer: str, source,
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
         f"(rows {_rows_text(rows[swap])}); swapped back, see the diagnostics")
    return new_lon, new_lat


def fix_swapped_geometries(gdf: gpd.GeoDataFrame, *, layer: str, source,
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
         f"(rows {_rows_text(rows[swap])}); swapped back, see the diagnostics")
    return out


def drop_invalid_lonlat(gdf: gpd.GeoDataFrame, *, layer: str, source,
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
    warn(f"{source}: dropped {int(bad.sum())} feature(s) with coordinates outside ±180°/±90° "
         f"(rows {_rows_text(rows[bad])}); see the diagnostics")
    return gdf.loc[~bad].copy()


def check_crs(gdf: gpd.GeoDataFrame, *, source) -> None:
    """Raise a CoordinateError when a vector layer has no coordinate reference system."""
    if gdf.crs is None:
        msg = (
            f"{source}: the layer has no coordinate reference system (for a Shapefile the .prj "
            "file is missing); define it in your GIS — QGIS: Layer ▸ Set CRS, ArcGIS: Define "
            "Projection — and save again. Longitude/latitude in degrees is usually EPSG:4490 "
            "(CGCS2000) or EPSG:4326 (WGS84); metres usually a CGCS2000 Gauss–Krüger zone"
        )
        raise CoordinateError(msg)


def boundary_geometry(boundary) -> shapely.Geometry | None:
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
    elif isinstance(boundary, shapely.Geometry):
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


def drop_far_outside(gdf: gpd.GeoDataFrame, boundary, *, layer: str, source,
                     diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Drop (and record) features farther than ``settings.far_outside_km`` from the boundary.

    Raises a CoordinateError when every feature is that far: then the coordinates, not the
    features, are wrong.
    """
    geom = boundary_geometry(boundary)
    if geom is None or len(gdf) == 0:
        return gdf
    bser = gpd.GeoSeries([geom], crs=4326)
    utm = bser.estimate_utm_crs()
    bproj = bser.to_crs(utm).iloc[0]
    dist = gdf.geometry.to_crs(utm).distance(bproj).to_numpy()
    limit = settings.far_outside_km * 1000.0
    far = dist > limit
    if not far.any():
        return gdf
    if far.all():
        msg = (
            f"{source}: all {len(gdf)} features lie more than {settings.far_outside_km:g} km "
            f"from the study boundary (nearest {dist.min() / 1000:.1f} km); the coordinate "
            "system is probably wrong — a CSV/Excel needs the right coord_crs ('wgs84', 'gcj02' "
            "for AMap, 'bd09' for Baidu), a GIS file the right CRS — or the file belongs to "
            "another area"
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
    warn(f"{source}: dropped {int(far.sum())} feature(s) more than "
         f"{settings.far_outside_km:g} km outside the study area (rows "
         f"{_rows_text(rows[far])}); see the diagnostics")
    return gdf.loc[~far].copy()


def _covers(geom: shapely.Geometry, points: np.ndarray) -> np.ndarray:
    """Whether each point lies in ``geom`` or on its edge (a border point counts as inside)."""
    shapely.prepare(geom)
    return shapely.covers(geom, points)


def keep_in_area(gdf: gpd.GeoDataFrame, boundary, *, claimed=None, layer: str, source,
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
    if not inside.any():
        bser = gpd.GeoSeries([geom], crs=4326)
        utm = bser.estimate_utm_crs()
        dist = gpd.GeoSeries(rep, crs=4326).to_crs(utm).distance(bser.to_crs(utm).iloc[0])
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
    if len(out_idx):
        bser = gpd.GeoSeries([geom], crs=4326)
        utm = bser.estimate_utm_crs()
        dist = gpd.GeoSeries(rep[out_idx], crs=4326).to_crs(utm).distance(
            bser.to_crs(utm).iloc[0]).to_numpy()
        for i, d in zip(out_idx, dist, strict=True):
            diagnostics.add(
                layer, "outside_study_area", action="dropped", source=source,
                row=None if rows[i] is None else int(rows[i]), feature_id=ids[i],
                geometry=rep[i],
                detail=f"its representative point lies {d:,.0f} m outside the study boundary; "
                       "not analysed or counted")
    for i in np.flatnonzero(taken):
        diagnostics.add(
            layer, "in_other_area", action="dropped", source=source,
            row=None if rows[i] is None else int(rows[i]), feature_id=ids[i], geometry=rep[i],
            detail=f"its representative point lies in area {other[i]!r}, listed before this "
                   "one; analysed and counted there")
    n_out, n_other = len(out_idx), int(taken.sum())
    parts = [f"{n_out} outside the study boundary"] if n_out else []
    parts += [f"{n_other} in an area listed before this one"] if n_other else []
    warn(f"{source}: {int(keep.sum())} of {len(gdf)} communities are in the study area; "
         f"set aside {' and '.join(parts)} (see the diagnostics)")
    return gdf.loc[keep].copy()


def drop_gates_far_from_community(gates: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, *,
                                  source, diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Set aside gates that lie far from their own community.

    A gate farther than :data:`livingcircle.settings.gate_outline_tolerance_m` from its
    community's polygon — or, for a community given as a point (no outline), farther than
    :data:`livingcircle.settings.gate_point_tolerance_m` from that point — is dropped with a
    'gate_far_from_community' record naming the file, row, gate id, community id and distance.
    The community is then reached through its other gates, or its outline when none is left.
    Distances are measured in the UTM zone of the gates.
    """
    if len(gates) == 0 or communities is None or "geometry" not in communities.columns:
        return gates
    comm = communities[["community_id", "geometry"]].copy()
    comm["community_id"] = [_id_text(x) for x in comm["community_id"]]
    comm = gpd.GeoDataFrame(comm, geometry="geometry",
                            crs=communities.crs).drop_duplicates("community_id")
    utm = gates.estimate_utm_crs()
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
         f"{_rows_text(rows[far])}; farthest {np.nanmax(dist[far]):,.0f} m); check the "
         "coordinate system of the gates file; see the diagnostics")
    return gates.loc[~far].copy()


def _bounds_text(bounds) -> str:
    x0, y0, x1, y1 = bounds
    return f"lon {x0:.4f}…{x1:.4f}, lat {y0:.4f}…{y1:.4f}"


def check_reachable(net, communities: gpd.GeoDataFrame, gates=None, *, source,
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

def repair_geometries(gdf: gpd.GeoDataFrame, *, layer: str, source,
                      diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Drop (record) missing/empty geometries; make invalid ones valid (record the repair)."""
    geoms = np.asarray(gdf.geometry.values)
    rows = gdf["src_row"].to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        diagnostics.add(layer, "empty_geometry", action="dropped", source=source,
                        row=int(rows[i]), detail="the feature has no geometry")
    if missing.any():
        warn(f"{source}: dropped {int(missing.sum())} feature(s) without geometry "
             f"(rows {_rows_text(rows[missing])}); see the diagnostics")
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
         f"(rows {_rows_text(rows[invalid])}); see the diagnostics")
    out = gdf.set_geometry(gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs))
    return out.loc[~missing & ~collapsed].copy()


def check_geometry_types(gdf: gpd.GeoDataFrame, allowed: tuple[str, ...], *, what: str,
                         source) -> None:
    """Raise when a feature's geometry type is not one of ``allowed``."""
    types = gdf.geom_type.to_numpy()
    bad = ~np.isin(types, allowed)
    if bad.any():
        rows = gdf["src_row"].to_numpy()[bad]
        msg = (
            f"{source}: {what} must be {' or '.join(allowed)} geometries; rows "
            f"{_rows_text(rows)} are {sorted(set(types[bad]))}"
        )
        raise InputError(msg)


# --- ids ----------------------------------------------------------------------------------

def _id_text(v) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, float | np.floating) and float(v).is_integer():
        v = int(v)
    text = str(v).strip()
    if text.endswith(".0") and text[:-2].lstrip("-").isdigit():
        text = text[:-2]  # 12.0 written by a spreadsheet
    return text or None


def assign_ids(df: pd.DataFrame, id_col: str, *, layer: str, source,
               diagnostics: Diagnostics, prefix: str | None = None) -> pd.DataFrame:
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
        warn(f"{source}: no {id_col} column (pass id_column= or columns= to name it); "
             f"generated ids {prefix}_<row>")
    else:
        ids = [_id_text(v) for v in out[id_col]]
        gen = [i for i, v in enumerate(ids) if v is None]
        for i in gen:
            ids[i] = f"{prefix}_{rows[i]}"
            diagnostics.add(layer, "missing_id", action="repaired", source=source,
                            row=int(rows[i]), feature_id=ids[i],
                            detail=f"empty {id_col}; generated {ids[i]}")
        if gen:
            warn(f"{source}: {len(gen)} row(s) without {id_col} (rows "
                 f"{_rows_text(rows[gen])}); generated ids {prefix}_<row>")
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

def _cell_error(source, row, column, value, expected) -> InputError:
    msg = f"{source}: row {row}, column '{column}': {value!r} is not {expected}"
    return InputError(msg)


def parse_bool(values: pd.Series, rows, *, column: str, source) -> pd.Series:
    """Parse 是/否/有/无/yes/no/true/false/1/0/Y/N (empty or 未知 = unknown) into 'boolean'."""
    out = []
    for v, r in zip(values.tolist(), rows, strict=True):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            out.append(pd.NA)
            continue
        if isinstance(v, bool | np.bool_):
            out.append(bool(v))
            continue
        key = unicodedata.normalize("NFKC", str(v)).strip().lower()
        if key in _TRUE:
            out.append(True)
        elif key in _FALSE:
            out.append(False)
        elif key in _UNKNOWN:
            out.append(pd.NA)
        else:
            raise _cell_error(source, r, column, v,
                              "a yes/no value (是/否, 有/无, yes/no, true/false, 1/0, Y/N; "
                              "leave it empty when unknown)")
    return pd.Series(pd.array(out, dtype="boolean"), index=values.index)


def _number_text(v) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    text = unicodedata.normalize("NFKC", str(v)).strip().replace(",", "")
    if text.lower() in _UNKNOWN:
        return None
    return text


def parse_int(values: pd.Series, rows, *, column: str, source) -> pd.Series:
    """Parse whole numbers (a trailing unit 年/户/人/层 is allowed) into 'Int64'."""
    out = []
    for v, r in zip(values.tolist(), rows, strict=True):
        text = _number_text(v)
        if text is None:
            out.append(pd.NA)
            continue
        text = re.sub(r"\s*[年户人层栋]$", "", text)
        try:
            f = float(text)
        except ValueError:
            raise _cell_error(source, r, column, v, "a whole number") from None
        if not np.isfinite(f) or not f.is_integer():
            raise _cell_error(source, r, column, v, "a whole number")
        if f < 0:
            raise _cell_error(source, r, column, v, "a non-negative number")
        out.append(int(f))
    return pd.Series(pd.array(out, dtype="Int64"), index=values.index)


def parse_float(values: pd.Series, rows, *, column: str, source) -> pd.Series:
    """Parse numbers into 'Float64' (a trailing '%' divides by 100)."""
    out = []
    for v, r in zip(values.tolist(), rows, strict=True):
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
            raise _cell_error(source, r, column, v, "a number") from None
        if not np.isfinite(f):
            raise _cell_error(source, r, column, v, "a finite number")
        out.append(f)
    return pd.Series(pd.array(out, dtype="Float64"), index=values.index)


def parse_safety_grade(values: pd.Series, rows, *, source) -> pd.Series:
    """Normalise safety grades to 'A'–'D' (accepts a, Ａ, A级, A类); others are an error."""
    out = []
    for v, r in zip(values.tolist(), rows, strict=True):
        text = _number_text(v)
        if text is None:
            out.append(pd.NA)
            continue
        key = re.sub(r"(级|类|等)$", "", text.upper()).strip()
        if key not in ("A", "B", "C", "D"):
            raise _cell_error(source, r, "safety_grade", v,
                              "a safety grade A, B, C or D (房屋安全等级; empty when unknown)")
        out.append(key)
    return pd.Series(pd.array(out, dtype="string"), index=values.index)


def coerce_community_attributes(df: pd.DataFrame, *, layer: str, source,
                                diagnostics: Diagnostics) -> pd.DataFrame:
    """Coerce the attributes of :data:`~livingcircle.schema.COMMUNITY_ATTRIBUTES` to their dtypes.

    Missing values stay missing (unknown). An elderly_share column given in percent (a value
    above 1) is divided by 100, each changed row recorded as repaired.
    """
    out = df.copy()
    rows = out["src_row"].to_numpy()
    year_max = _dt.date.today().year + 5
    for col, dtype in COMMUNITY_ATTRIBUTES.items():
        if col not in out.columns:
            continue
        s = out[col]
        if col == "safety_grade":
            out[col] = parse_safety_grade(s, rows, source=source)
        elif dtype == "boolean":
            out[col] = parse_bool(s, rows, column=col, source=source)
        elif dtype == "Int64":
            parsed = parse_int(s, rows, column=col, source=source)
            if col == "build_year":
                bad = parsed.notna() & ((parsed < 1800) | (parsed > year_max))
                if bad.any():
                    i = int(np.flatnonzero(bad.to_numpy())[0])
                    raise _cell_error(source, rows[i], col, s.iloc[i],
                                      f"a four-digit year between 1800 and {year_max}")
            out[col] = parsed
        elif dtype == "Float64":
            parsed = parse_float(s, rows, column=col, source=source)
            if col == "elderly_share":
                parsed = _elderly_share(parsed, rows, layer=layer, source=source,
                                        diagnostics=diagnostics, raw=s)
            out[col] = parsed
        else:
            text = s.astype("string").str.strip()
            out[col] = text.mask(text == "", pd.NA)
    return out


def _elderly_share(parsed: pd.Series, rows, *, layer, source, diagnostics, raw) -> pd.Series:
    vals = parsed.to_numpy(dtype=float, na_value=np.nan)
    neg = vals < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise _cell_error(source, rows[i], "elderly_share", raw.iloc[i],
                          "a share between 0 and 1 (or a percentage 0–100)")
    over = vals > 100
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise _cell_error(source, rows[i], "elderly_share", raw.iloc[i],
                          "a share between 0 and 1 (or a percentage 0–100)")
    if not (vals > 1).any():
        return parsed
    changed = np.flatnonzero(np.isfinite(vals) & (vals != 0))
    for i in changed:
        diagnostics.add(layer, "elderly_share_percent", action="repaired", source=source,
                        row=int(rows[i]),
                        detail=f"elderly_share {vals[i]:g} read as percent -> {vals[i] / 100:g}")
    warn(f"{source}: elderly_share holds percentages (values above 1); divided by 100 "
         "(see the diagnostics)")
    return parsed / 100.0


def normalise_site_types(values: pd.Series, rows, *, layer: str, source,
                         diagnostics: Diagnostics) -> pd.Series:
    """Map site types (English ids or Chinese names) to :data:`~livingcircle.schema.SITE_TYPES`.

    An unknown type becomes 'other', recorded as repaired with the original text.
    """
    out = []
    for v, r in zip(values.tolist(), rows, strict=True):
        text = _number_text(v)
        if text is None:
            out.append(pd.NA)
            continue
        key = text.strip().lower().replace(" ", "_").replace("-", "_")
        if key in SITE_TYPES:
            out.append(key)
        elif text.strip() in _SITE_TYPE_ZH:
            out.append(_SITE_TYPE_ZH[text.strip()])
        else:
            out.append("other")
            diagnostics.add(layer, "unknown_site_type", action="repaired", source=source,
                            row=int(r), detail=f"site_type {text!r} not one of {SITE_TYPES}; "
                                               "kept as 'other'")
    return pd.Series(pd.array(out, dtype="string"), index=values.index)


def strip_text(values: pd.Series) -> pd.Series:
    """Return text values stripped of surrounding spaces; missing stays missing."""
    return values.map(lambda x: x.strip() if isinstance(x, str) else x)


def check_usable(df: pd.DataFrame, n_in: int, *, layer: str, source,
                 diagnostics: Diagnostics) -> None:
    """Raise when every row of a non-empty input was set aside."""
    if len(df) == 0 and n_in > 0:
        recs = [d for d in diagnostics.records if d["layer"] == layer and d["source"] == str(source)
                and d["action"] == "dropped"]
        reasons = pd.Series([d["issue"] for d in recs]).value_counts().to_dict() if recs else {}
        msg = (
            f"{source}: none of the {n_in} rows is usable ({reasons}); check the columns, "
            "the coordinate system and the layer"
        )
        raise InputError(msg)
