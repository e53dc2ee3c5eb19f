"""Read the input layers: communities, gates, facilities, candidate sites and a study boundary.

Every reader takes a GeoPackage, Shapefile (UTF-8 or GBK), GeoJSON, or a CSV / Excel (.xlsx)
table with longitude/latitude columns, and returns a new GeoDataFrame in EPSG:4326 with

* the layer's id column of :mod:`livingcircle.schema` as str (generated as ``<layer>_<row>``
  when the file has none, and recorded as a repair);
* ``src_row``: the 1-based row (feature) of the source file, counted without a header line.

A CSV/Excel table must say which coordinate system its longitude/latitude are in
(``coord_crs``: 'wgs84', 'gcj02' for AMap/高德 or 'bd09' for Baidu/百度); points are converted
to WGS84 exactly (:func:`livingcircle.coords.to_wgs84`). A GIS file needs a CRS; projected CRSs
are converted to EPSG:4326. Source columns can be renamed with ``columns`` (e.g.
``{"名称": "name"}``); without a mapping, the headers of the one alias table
:data:`livingcircle.schema.COLUMN_ALIASES` are recognised — Chinese municipal headers (小区名称,
建成年代, 户数, 电梯, 鉴定等级 …) and Shapefile names GDAL cut to 10 characters (``safety_gra``) —
as listed in ``docs/columns.md``. Two source columns that name one schema column are an error;
columns neither recognised nor used are kept and listed once in the diagnostics.

Problems are either an error that names the file, row and column, or a repair or drop recorded
in the ``diagnostics`` collector (and warned about); nothing is dropped silently. All checks live
in :mod:`livingcircle._validate`.

Examples
--------
>>> import livingcircle as lc
>>> from livingcircle.diagnostics import Diagnostics
>>> diag = Diagnostics()
>>> facilities = lc.io.read_facilities("pois.csv", coord_crs="gcj02",
...                                    diagnostics=diag)  # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import io as _io
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError
from shapely.geometry.base import BaseGeometry

from . import _validate as v
from ._errors import CoordinateError, InputError
from ._validate import Boundary, FrameT
from .coords import canonical_crs, to_wgs84, transform_geometries
from .diagnostics import Diagnostics
from .schema import COMMUNITY_ATTRIBUTES, ID_COLUMNS, INPUT_COLUMNS, header_lookup, match_header

if TYPE_CHECKING:
    import pyproj

    from .standards import Profile

logger = logging.getLogger(__name__)

__all__ = [
    "read_boundary",
    "read_communities",
    "read_facilities",
    "read_gates",
    "read_layer",
    "read_sites",
]

# --- encodings ----------------------------------------------------------------------------

def _codec(name: str) -> str | None:
    """Return a Python codec for an encoding name as written in a .cpg file, or None."""
    text = name.strip().strip("\ufeff").upper()
    if not text:
        return None
    if text.startswith("ANSI "):
        text = text[5:]
    if text.isdigit():
        text = f"CP{text}"
    if text in ("GB2312", "CP936", "GBK"):
        return "gb18030"  # superset of GB2312/GBK; decodes every GBK file
    try:
        return codecs.lookup(text).name
    except LookupError:
        return None


def decode_table(raw: bytes, encoding: str | None, *, source: str) -> tuple[str, str]:
    """Decode CSV bytes: the given encoding, else UTF-8 (with or without BOM), else GBK.

    Returns the text and the encoding that read it.
    """
    if encoding is not None:
        try:
            return raw.decode(_codec(encoding) or encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            msg = (
                f"{source}: cannot be read as {encoding!r} ({exc}); save it as UTF-8, or try "
                "another encoding (Python: encoding='utf-8' or 'gbk')"
            )
            raise InputError(msg) from None
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "UTF-8-BOM"
    try:
        return raw.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "GBK"
    except UnicodeDecodeError:
        msg = (
            f"{source}: neither UTF-8 nor GBK text; save it as UTF-8 CSV (in Python you can "
            "also pass encoding=)"
        )
        raise InputError(msg) from None


# --- reading raw frames -------------------------------------------------------------------

def _resolve_layer(path: Path, layer, kind: str | None):
    if layer is not None or path.suffix.lower() in (".shp", ".csv", ".txt"):
        return layer
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception:  # let the reader itself report unreadable files
        return layer
    if len(layers) <= 1:
        return layer
    if kind is not None and kind in layers:
        return kind
    msg = (
        f"{path}: the file has several layers {layers}; name one of them '{kind}', or save "
        "the one you mean as its own file (Python: layer=)"
    ) if kind is not None else (
        f"{path}: the file has several layers {layers}; save the one you mean as its own "
        "file (Python: layer=)"
    )
    raise InputError(msg)


def _read_vector(path: Path, *, layer, encoding, source, diagnostics, what) -> gpd.GeoDataFrame:
    if path.suffix.lower() != ".shp":
        try:
            return pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
        except DataLayerError as exc:
            msg = f"{source}: layer {layer!r} not found ({exc}); name an existing layer"
            raise InputError(msg) from None
        except DataSourceError as exc:
            msg = f"{source}: not a readable GIS file ({exc})"
            raise InputError(msg) from None
    tried = []
    cpg = path.with_suffix(".cpg")
    if encoding is not None:
        candidates = [encoding]
    else:
        candidates = []
        if cpg.exists():
            stated = _codec(cpg.read_text(encoding="ascii", errors="ignore"))
            if stated:
                candidates.append(stated)
        candidates += [c for c in ("utf-8", "gb18030") if c not in candidates]
    for enc in candidates:
        try:
            gdf = pyogrio.read_dataframe(path, encoding=enc)
        except UnicodeDecodeError:
            tried.append(enc)
            continue
        label = {"gb18030": "GBK", "utf-8": "UTF-8"}.get(enc, enc)
        how = ("as given" if encoding is not None else
               ".cpg" if cpg.exists() and not tried and enc == candidates[0] else
               "no usable .cpg; decoded after trying " + ", ".join([*tried, enc]))
        logger.info("%s: read with encoding %s (%s)", source, label, how)
        if encoding is None and not (cpg.exists() and enc == candidates[0]):
            diagnostics.add(what, "encoding", action="kept", source=source,
                            detail=f"Shapefile text decoded as {label} ({how})")
        gdf.attrs["encoding"] = label
        return gdf
    msg = (
        f"{source}: the attribute table cannot be decoded as {', '.join(tried)}; add a .cpg "
        "file naming the encoding, for example GBK or UTF-8 (in Python you can also pass "
        "encoding=)"
    )
    raise InputError(msg)


def _read_table(path: Path, *, layer, encoding, source) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            df = pd.read_excel(path, sheet_name=layer if layer is not None else 0, dtype=object)
        except ValueError as exc:
            msg = f"{source}: {exc}; name an existing sheet (Python: layer=)"
            raise InputError(msg) from None
        df.attrs["encoding"] = "xlsx"
        return df
    text, used = decode_table(path.read_bytes(), encoding, source=source)
    first = text.splitlines()[0] if text.strip() else ""
    sep = "," if "," in first or ("\t" not in first and ";" not in first) else (
        "\t" if "\t" in first else ";")
    df = pd.read_csv(_io.StringIO(text), sep=sep, dtype=str, skipinitialspace=True)
    logger.info("%s: read as %s", source, used)
    df.attrs["encoding"] = used
    return df


def _rename_known(df: FrameT, *, kind: str | None, source: str,
                  columns: Mapping[str, str] | None, headers: dict | None = None) -> FrameT:
    """Rename the headers of :data:`livingcircle.schema.COLUMN_ALIASES` to schema names.

    Headers the user mapped (``columns``) are left alone, and so are schema names they mapped
    to. Two source columns that name one schema column are an error naming both. ``headers``,
    when given, receives schema name → the file's header for every column renamed here or by
    ``columns`` (so that messages name the header the user sees in the file).
    """
    if kind is not None and kind not in INPUT_COLUMNS:
        return df
    lookup = header_lookup(kind)
    taken = set((columns or {}).values())
    geom = getattr(df, "_geometry_column_name", None)
    found: dict[str, list[str]] = {}
    for c in df.columns:
        if c == geom or c in taken:
            continue
        target = match_header(c, lookup)
        if target is not None and target not in taken:
            found.setdefault(target, []).append(c)
    for target, cols in found.items():
        if len(cols) > 1:
            named = " and ".join(repr(c) for c in cols)
            msg = (
                f"{source}: columns {named} both name '{target}'; delete or rename one of "
                f"them, or map the one you mean with --columns (Python: "
                f"columns={{{cols[0]!r}: {target!r}}})"
            )
            raise InputError(msg)
    renamed = {cols[0]: t for t, cols in found.items() if cols[0] != t}
    if headers is not None:
        headers.update({t: str(src) for src, t in (columns or {}).items() if str(src) != t})
        headers.update({t: str(src) for src, t in renamed.items()})
    return df.rename(columns=renamed)


def _report_unused(gdf: pd.DataFrame, used, *, layer: str, source,
                   diagnostics: Diagnostics) -> None:
    """Record once the source columns a reader keeps but does not use (not an error)."""
    skip = {*used, "src_row", "geometry", "_row_crs"}
    unused = [str(c) for c in gdf.columns if c not in skip]
    if not unused:
        return
    text = ", ".join(repr(c) for c in unused)
    logger.info("%s: columns kept but not used (not recognised): %s", source, text)
    diagnostics.add(layer, "unused_columns", action="kept", source=source,
                    detail=f"columns kept as they are but not used: {text}; if one holds a "
                           "schema column, map it with --columns (Python: columns=); see "
                           "docs/columns.md")


def _row_systems(values: pd.Series, rows, *, default: str | None, column: str,
                 source) -> np.ndarray:
    """Canonical system of each row from a ``crs_column`` (empty cells take ``default``).

    Unknown values (and empty cells without a default) stop the run with every such value and
    its 1-based rows.
    """
    text = values.astype("string").str.strip()
    out = np.empty(len(values), dtype=object)
    bad: dict[str, list[int]] = {}
    for i, t in enumerate(text.tolist()):
        if t is None or t is pd.NA or t == "":
            if default is None:
                bad.setdefault("(empty)", []).append(int(rows[i]))
            out[i] = default
            continue
        try:
            out[i] = canonical_crs(t)
        except CoordinateError:
            bad.setdefault(t, []).append(int(rows[i]))
    if bad:
        listed = "; ".join(f"{val!r} in rows {v.rows_text(r)}" for val, r in bad.items())
        msg = (
            f"{source}: column {column!r} names coordinate systems that are not known: "
            f"{listed}. Known values (case and spaces ignored): amap/高德/gaode/gcj02/tencent/"
            "腾讯 (GCJ-02), baidu/百度/bd09 (BD-09), wgs84/osm/gps (WGS84)"
            + ("; empty cells need a stated system for the file as well" if "(empty)" in bad
               else "")
        )
        raise CoordinateError(msg)
    return out


def _convert_rows(lon, lat, systems: np.ndarray):
    """Convert longitude/latitude to WGS84 row by row (grouped by system)."""
    lon = np.asarray(lon, dtype=float).copy()
    lat = np.asarray(lat, dtype=float).copy()
    for name in set(systems.tolist()):
        m = systems == name
        lon[m], lat[m] = to_wgs84(lon[m], lat[m], name)
    return lon, lat


def _read(
    path, *, what: str, kind: str | None, layer, columns, lon_col, lat_col, coord_crs,
    encoding, diagnostics: Diagnostics, id_column: str | None = None,
    crs_column: str | None = None,
) -> tuple[gpd.GeoDataFrame, dict]:
    """Read any supported file into a checked GeoDataFrame in EPSG:4326 with ``src_row``.

    ``meta`` records the file's own CRS (``file_crs``, None for a table), the system applied
    (``source_crs``) and, with ``crs_column``, the rows per system (``crs_rows``); a per-row
    system is kept in the column ``_row_crs`` until :func:`_finish`.
    """
    p = v.check_file(path)
    source = str(p)
    start = len(diagnostics)
    layer = _resolve_layer(p, layer, kind)
    crs_name = canonical_crs(coord_crs) if coord_crs is not None else None
    if id_column is not None and kind is not None:
        columns = {**(columns or {}), id_column: ID_COLUMNS[kind]}
    if v.is_table(p):
        gdf, meta, ids = _read_table_points(
            p, source, what=what, kind=kind, layer=layer, columns=columns, lon_col=lon_col,
            lat_col=lat_col, crs_name=crs_name, crs_column=crs_column, encoding=encoding,
            diagnostics=diagnostics)
    else:
        gdf, meta, ids = _read_vector_layer(
            p, source, what=what, kind=kind, layer=layer, columns=columns, coord_crs=coord_crs,
            crs_name=crs_name, crs_column=crs_column, encoding=encoding, diagnostics=diagnostics)
    _name_ids(diagnostics, start, ids)
    return gdf, meta


def _read_table_points(
    p: Path, source: str, *, what: str, kind: str | None, layer, columns, lon_col, lat_col,
    crs_name: str | None, crs_column: str | None, encoding, diagnostics: Diagnostics,
) -> tuple[gpd.GeoDataFrame, dict, dict[int, str]]:
    """Read a CSV/Excel table of points (step of :func:`_read`): frame, meta and source ids."""
    df = _read_table(p, layer=layer, encoding=encoding, source=source)
    v.check_not_empty(df, source=source)
    n_in = len(df)
    df = v.apply_column_mapping(df, columns, source=source)
    crs_values = _crs_values(df, crs_column, columns, source=source)
    headers: dict[str, str] = {}
    df = _rename_known(df, kind=kind, source=source, columns=columns, headers=headers)
    df["src_row"] = np.arange(1, len(df) + 1)
    ids = _source_ids(df, kind)
    lonc, latc = v.find_lonlat_columns(df.columns, lon_col, lat_col, source=source)
    if crs_name is None and crs_column is None:
        raise _table_without_crs(source, lonc, latc)
    systems = None
    if crs_column is not None and crs_values is not None:  # (the one implies the other)
        systems = _row_systems(crs_values, df["src_row"].to_numpy(), default=crs_name,
                               column=crs_column, source=source)
    lon, lat, ok = v.parse_coordinates(df, lonc, latc, layer=what, source=source,
                                       diagnostics=diagnostics)
    df = df.loc[ok].drop(columns=[lonc, latc])
    lon, lat = lon[ok], lat[ok]
    rows = df["src_row"].to_numpy()
    lon, lat = v.fix_swapped_lonlat(lon, lat, rows, layer=what, source=source,
                                    diagnostics=diagnostics)
    if systems is not None:
        systems = systems[ok]
        lon, lat = _convert_rows(lon, lat, systems)
        df["_row_crs"] = systems
    elif len(lon) and crs_name is not None:  # (without a crs_column there is a crs_name)
        lon, lat = to_wgs84(lon, lat, crs_name)
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(lon, lat), crs=4326)
    gdf = v.drop_invalid_lonlat(gdf, layer=what, source=source, diagnostics=diagnostics)
    meta = {"source": source, "n_in": n_in, "source_crs": crs_name, "file_crs": None,
            "crs_column": crs_column, "encoding": df.attrs.get("encoding"),
            "headers": headers}
    if systems is not None:
        meta["crs_rows"] = _counts(systems)
    return gdf, meta, ids


def _table_without_crs(source: str, lonc: str, latc: str) -> InputError:
    """Return the error for a table that does not state the system of its coordinates."""
    from ._errors import advice

    msg = (
        f"{source}: a CSV/Excel table must state the coordinate system of its "
        f"'{lonc}'/'{latc}' columns; "
        + advice("pass coord_crs='wgs84', 'gcj02' (AMap/高德, Tencent) or 'bd09' "
                 "(Baidu/百度), or crs_column= naming a column that says it per row",
                 f"give --crs {source}=wgs84, =gcj02 (AMap/高德, Tencent) or =bd09 "
                 f"(Baidu/百度), or --crs-column {source}=COLUMN naming a column "
                 "that says it per row",
                 f"describe it in areas.yaml as {{path: {source}, crs: wgs84}} (or "
                 "gcj02 for AMap/高德, Tencent, bd09 for Baidu/百度), or with crs_column: "
                 "naming a column that says it per row")
    )
    return InputError(msg)


def _read_vector_layer(
    p: Path, source: str, *, what: str, kind: str | None, layer, columns, coord_crs,
    crs_name: str | None, crs_column: str | None, encoding, diagnostics: Diagnostics,
) -> tuple[gpd.GeoDataFrame, dict, dict[int, str]]:
    """Read a GIS layer (step of :func:`_read`): frame in EPSG:4326, meta and source ids."""
    raw = _read_vector(p, layer=layer, encoding=encoding, source=source,
                       diagnostics=diagnostics, what=what)
    v.check_not_empty(raw, source=source)
    raw_crs = v.check_crs(raw, source=source)
    n_in = len(raw)
    geom_name = raw.geometry.name
    gdf = v.apply_column_mapping(raw, columns, source=source)
    crs_values = _crs_values(gdf, crs_column, columns, source=source)
    headers = {}
    gdf = _rename_known(gdf, kind=kind, source=source, columns=columns, headers=headers)
    if crs_values is not None:  # travels with its rows through the repairs below
        gdf["_crs_raw"] = crs_values
    if gdf.geometry.name != geom_name:  # a mapping never renames the geometry
        gdf = gdf.set_geometry(geom_name)
    if geom_name != "geometry":
        gdf = gdf.rename_geometry("geometry")
    gdf["src_row"] = np.arange(1, len(gdf) + 1)
    ids = _source_ids(gdf, kind)
    gdf = v.repair_geometries(gdf, layer=what, source=source, diagnostics=diagnostics)
    source_crs = "wgs84"
    if not raw_crs.equals(gpd.GeoSeries([], crs=4326).crs):
        gdf = gdf.to_crs(4326)
    gdf = v.fix_swapped_geometries(gdf, layer=what, source=source, diagnostics=diagnostics)
    gdf = v.drop_invalid_lonlat(gdf, layer=what, source=source, diagnostics=diagnostics)
    _check_geographic(raw_crs, source, coord_crs=coord_crs, crs_name=crs_name,
                      crs_column=crs_column)
    meta = {"source": source, "n_in": n_in, "source_crs": source_crs,
            "file_crs": raw_crs.to_string(), "crs_column": crs_column,
            "encoding": raw.attrs.get("encoding"), "headers": headers}
    if crs_column is not None:
        systems = _row_systems(gdf.pop("_crs_raw"), gdf["src_row"].to_numpy(),
                               default=crs_name, column=crs_column, source=source)
        geoms = np.asarray(gdf.geometry.values).copy()
        for name in set(systems.tolist()) - {"wgs84"}:
            m = systems == name
            geoms[m] = transform_geometries(geoms[m], lambda x, y, n=name: to_wgs84(x, y, n))
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=4326))
        gdf["_row_crs"] = systems
        meta["crs_rows"] = _counts(systems)
        meta["source_crs"] = crs_name
    elif crs_name is not None and crs_name != "wgs84":
        geoms = transform_geometries(gdf.geometry.values, lambda x, y: to_wgs84(x, y, crs_name))
        gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=4326))
        meta["source_crs"] = crs_name
    return gdf, meta, ids


def _check_geographic(raw_crs: pyproj.CRS, source: str, *, coord_crs, crs_name: str | None,
                      crs_column: str | None) -> None:
    """Stop when a Chinese system is stated for a file whose coordinates are projected."""
    chinese = crs_column is not None or (crs_name is not None and crs_name != "wgs84")
    if chinese and not raw_crs.is_geographic:
        from ._errors import advice

        stated = (advice(f"coord_crs={coord_crs!r}", f"--crs {source}={crs_name}",
                         f"crs: {crs_name}")
                  if crs_column is None else
                  advice(f"crs_column={crs_column!r}", f"--crs-column {source}={crs_column}",
                         f"crs_column: {crs_column}"))
        msg = (
            f"{source}: {stated} applies to longitude/latitude, but the file is in the "
            f"projected system {raw_crs.name}; leave it out"
        )
        raise CoordinateError(msg)


def _crs_values(df: pd.DataFrame, crs_column: str | None, columns: dict | None, *,
                source) -> pd.Series | None:
    """Return the ``crs_column`` values, named as in the file (or as mapped by ``columns``).

    Taken before Chinese headers are renamed, so that 来源 stays 来源 for the user.
    """
    if crs_column is None:
        return None
    name = str(crs_column).strip()
    if name not in df.columns and columns and name in columns:
        name = columns[name]
    if name in df.columns:
        return df[name].copy()
    from ._errors import advice

    cols = [c for c in df.columns if c not in ("geometry", "src_row")]
    msg = (f"{source}: the coordinate-system column {crs_column!r} is not in the file; its "
           f"columns are {cols}; "
           + advice("give crs_column= one of them",
                    f"give --crs-column {source}=COLUMN with one of them",
                    "give crs_column: one of them in the file's entry in areas.yaml"))
    raise InputError(msg)


def _counts(systems: np.ndarray) -> dict[str, int]:
    names, counts = np.unique(systems.astype(str), return_counts=True)
    return {str(n): int(c) for n, c in zip(names, counts, strict=True)}


def _finish(gdf: gpd.GeoDataFrame, front: list[str], meta: dict, *,
            diagnostics: Diagnostics, start: int) -> gpd.GeoDataFrame:
    """Order columns: ``front`` first, then the others, then src_row and geometry.

    ``meta`` (how the file was read: its own CRS, the system applied) is kept in
    ``attrs["input"]`` for the run's metadata, and ``attrs["source"]`` names the file (later
    steps name it in their diagnostics). The rows set aside since record ``start`` are warned
    about in one line.
    """
    front = [c for c in front if c in gdf.columns]
    rest = [c for c in gdf.columns if c not in (*front, "src_row", "geometry", "_row_crs")]
    out = gdf[[*front, *rest, "src_row", "geometry"]].copy()
    out["src_row"] = out["src_row"].astype("int64")
    out = out.reset_index(drop=True)
    out.attrs["source"] = meta["source"]
    out.attrs["input"] = {k: meta[k] for k in ("source", "file_crs", "source_crs",
                                               "crs_column", "crs_rows") if k in meta}
    for line in diagnostics.set_aside_lines(start=start):
        v.warn(line)
    return out


def _source_ids(df: pd.DataFrame, kind: str | None) -> dict[int, str]:
    """Return the layer's ids by ``src_row`` as the file gives them (before rows are set aside)."""
    if kind not in ID_COLUMNS:
        return {}
    col = ID_COLUMNS[kind]
    if col not in df.columns:
        plain = [c for c in df.columns if str(c).strip().lower() in ("id", "编号")]
        if len(plain) != 1:
            return {}
        col = plain[0]
    ids = (v.id_text(x) for x in df[col])
    return {int(r): i for r, i in zip(df["src_row"], ids, strict=True) if i is not None}


def _name_ids(diagnostics: Diagnostics, start: int, ids: dict[int, str]) -> None:
    """Give the records added since ``start`` the feature id of their row where it has one."""
    for rec in diagnostics.records[start:]:
        if rec["feature_id"] is None and rec["row"] is not None:
            rec["feature_id"] = ids.get(int(rec["row"]))


def _diag(diagnostics: Diagnostics | None) -> Diagnostics:
    return diagnostics if diagnostics is not None else Diagnostics()


def _to_points(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geoms = np.asarray(gdf.geometry.values)
    types = shapely.get_type_id(geoms)
    not_point = types != 0
    if not not_point.any():
        return gdf
    new = geoms.copy()
    new[not_point] = shapely.point_on_surface(geoms[not_point])
    return gdf.set_geometry(gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs))


def _single_points(gdf: gpd.GeoDataFrame, *, what: str, source) -> gpd.GeoDataFrame:
    """Turn one-point MultiPoints into Points; anything else that is not a point is an error."""
    geoms = np.asarray(gdf.geometry.values)
    multi = shapely.get_type_id(geoms) == 4
    one = multi & (shapely.get_num_geometries(geoms) == 1)
    if one.any():
        new = geoms.copy()
        new[one] = shapely.get_geometry(geoms[one], 0)
        gdf = gdf.set_geometry(gpd.GeoSeries(new, index=gdf.index, crs=gdf.crs))
    v.check_geometry_types(gdf, ("Point",), what=what, source=source)
    return gdf


# --- public readers -----------------------------------------------------------------------

def read_layer(
    path: str | Path,
    *,
    layer: str | int | None = None,
    columns: dict[str, str] | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    coord_crs: str | None = None,
    crs_column: str | None = None,
    encoding: str | None = None,
    diagnostics: Diagnostics | None = None,
) -> gpd.GeoDataFrame:
    """Read any supported file into a GeoDataFrame in EPSG:4326.

    Parameters
    ----------
    path
        GeoPackage, Shapefile, GeoJSON, CSV or Excel (.xlsx) file.
    layer
        Layer of a GeoPackage or sheet of an Excel file; needed only when there are several.
    columns
        Maps source column names to schema names, e.g. ``{"名称": "name"}``; needed only for
        headers that ``docs/columns.md`` does not list, or to choose between two that it does.
    lon_col, lat_col
        Longitude/latitude columns of a CSV/Excel table; detected by name when not given
        (lon/lng/longitude/x/经度 and lat/latitude/y/纬度).
    coord_crs
        Coordinate system of a table's longitude/latitude: 'wgs84', 'gcj02' (AMap) or 'bd09'
        (Baidu), or an alias of :data:`livingcircle.coords.CRS_ALIASES`. Required for tables
        (unless ``crs_column`` is given); for a GIS file in degrees it declares that its
        coordinates are GCJ-02/BD-09 although the file says WGS84.
    crs_column
        A column naming each row's coordinate system (values as for ``coord_crs``, case and
        spaces ignored; an empty cell takes ``coord_crs``); rows are converted one by one. An
        unknown value is a :class:`CoordinateError` naming the values and their rows.
    encoding
        Text encoding; by default a Shapefile's .cpg is used, then UTF-8, then GBK, and a CSV is
        read as UTF-8 (with or without BOM), then GBK.
    diagnostics
        Collector of repaired and dropped rows.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame in EPSG:4326 with the (renamed) source columns, ``src_row`` and geometry.

    Raises
    ------
    InputError
        Missing file, empty layer, unknown column, a table without ``coord_crs``.
    CoordinateError
        A GIS file without a CRS, or coordinates that are not degrees.
    """
    diag = _diag(diagnostics)
    start = len(diag)
    p = Path(path)
    gdf, meta = _read(path, what=p.stem, kind=None, layer=layer, columns=columns,
                      lon_col=lon_col, lat_col=lat_col, coord_crs=coord_crs,
                      crs_column=crs_column, encoding=encoding, diagnostics=diag)
    v.check_usable(gdf, meta["n_in"], layer=p.stem, source=meta["source"], diagnostics=diag)
    return _finish(gdf, [], meta, diagnostics=diag, start=start)


def read_communities(
    path: str | Path,
    *,
    layer: str | int | None = None,
    columns: dict[str, str] | None = None,
    id_column: str | None = None,
    id_prefix: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    coord_crs: str | None = None,
    crs_column: str | None = None,
    encoding: str | None = None,
    boundary: Boundary = None,
    claimed: Iterable[tuple[str, BaseGeometry]] | None = None,
    diagnostics: Diagnostics | None = None,
) -> gpd.GeoDataFrame:
    """Read communities (小区): polygons or points with their attributes.

    Attributes of :data:`livingcircle.schema.COMMUNITY_ATTRIBUTES` are coerced to their
    nullable dtypes (missing = unknown). Yes/no columns accept 是/否, 有/无, yes/no, true/false,
    1/0 and Y/N; an elderly_share in percent is divided by 100 (recorded); safety grades become
    'A'–'D'. Build years are read as municipal tables write them
    (:func:`livingcircle._validate.parse_build_year`): ``1998年`` is 1998, ``90年代``, ``约1985``
    and ``不详`` are unknown, each recorded with its row, id and text; a year after this year or
    before 1900 is an error naming the row. ``6层``, ``120户`` are numbers (recorded). The
    whole rule is in ``docs/columns.md``. Other parameters as in :func:`read_layer`.

    Parameters
    ----------
    path
        The communities file.
    id_column
        Source column holding the community id (same as ``columns={id_column: "community_id"}``).
        Without an id column, ids ``communities_<row>`` are generated and recorded.
    id_prefix
        Prefix of generated ids instead of the layer name (e.g. the file name, so that ids
        from several files do not collide).
    boundary
        Study boundary (GeoDataFrame/GeoSeries, or a shapely geometry in EPSG:4326). A
        community belongs to the area its representative point (``representative_point()``,
        in EPSG:4326) falls in, its border included; the others are dropped and recorded once
        as 'outside_study_area' (:func:`livingcircle._validate.keep_in_area`).
    claimed
        Areas that own their communities before this one, as ``(name, geometry)`` pairs in
        EPSG:4326 (a batch passes the areas listed before): a community whose representative
        point lies in one of them is recorded as 'in_other_area' and not kept here.
    diagnostics
        Collector of repaired and dropped rows.
    layer, columns, lon_col, lat_col, coord_crs, crs_column, encoding
        As in :func:`read_layer`.

    Returns
    -------
    geopandas.GeoDataFrame
        community_id (str), the attributes, other source columns, src_row, geometry.
    """
    diag = _diag(diagnostics)
    start = len(diag)
    what = "communities"
    gdf, meta = _read(path, what=what, kind=what, layer=layer, columns=columns,
                      lon_col=lon_col, lat_col=lat_col, coord_crs=coord_crs,
                      crs_column=crs_column, encoding=encoding, diagnostics=diag,
                      id_column=id_column)
    src = meta["source"]
    v.check_geometry_types(gdf, ("Polygon", "MultiPolygon", "Point"), what="communities",
                           source=src)
    gdf = v.assign_ids(gdf, ID_COLUMNS[what], layer=what, source=src, diagnostics=diag,
                       prefix=id_prefix)
    gdf = v.coerce_community_attributes(gdf, layer=what, source=src, diagnostics=diag,
                                        headers=meta.get("headers"))
    gdf = v.keep_in_area(gdf, boundary, claimed=claimed, layer=what, source=src,
                         diagnostics=diag)
    v.check_usable(gdf, meta["n_in"], layer=what, source=src, diagnostics=diag)
    _report_unused(gdf, INPUT_COLUMNS[what], layer=what, source=src, diagnostics=diag)
    return _finish(gdf, ["community_id", *COMMUNITY_ATTRIBUTES], meta, diagnostics=diag,
                   start=start)


def read_gates(
    path: str | Path,
    *,
    communities: pd.DataFrame | None = None,
    layer: str | int | None = None,
    columns: dict[str, str] | None = None,
    id_column: str | None = None,
    id_prefix: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    coord_crs: str | None = None,
    crs_column: str | None = None,
    encoding: str | None = None,
    boundary: Boundary = None,
    diagnostics: Diagnostics | None = None,
) -> gpd.GeoDataFrame:
    """Read community gates (出入口): points with the ``community_id`` they belong to.

    Parameters
    ----------
    path
        The gates file.
    communities
        The communities (as returned by :func:`read_communities`); gates whose community_id is
        not among them are dropped and recorded as 'unknown_community', and gates far from
        their own community's outline (or point) as 'gate_far_from_community'
        (:func:`livingcircle._validate.drop_gates_far_from_community`).
    id_column, id_prefix, boundary, diagnostics
        As in :func:`read_communities`.
    layer, columns, lon_col, lat_col, coord_crs, crs_column, encoding
        As in :func:`read_layer`.

    Returns
    -------
    geopandas.GeoDataFrame
        gate_id (str), community_id (str), other source columns, src_row, geometry (Point).
    """
    diag = _diag(diagnostics)
    start = len(diag)
    what = "gates"
    gdf, meta = _read(path, what=what, kind=what, layer=layer, columns=columns,
                      lon_col=lon_col, lat_col=lat_col, coord_crs=coord_crs,
                      crs_column=crs_column, encoding=encoding, diagnostics=diag,
                      id_column=id_column)
    src = meta["source"]
    if "community_id" not in gdf.columns:
        raise _gates_without_community_column(src, gdf.columns)
    gdf = _single_points(gdf, what="gates", source=src)
    gdf = v.assign_ids(gdf, ID_COLUMNS[what], layer=what, source=src, diagnostics=diag,
                       prefix=id_prefix)
    gdf = _drop_gates_of_no_known_community(gdf, communities, src=src, diagnostics=diag)
    if communities is not None:
        gdf = v.drop_gates_far_from_community(gdf, communities, source=src, diagnostics=diag)
    gdf = v.drop_far_outside(gdf, boundary, layer=what, source=src, diagnostics=diag)
    v.check_usable(gdf, meta["n_in"], layer=what, source=src, diagnostics=diag)
    _report_unused(gdf, INPUT_COLUMNS[what], layer=what, source=src, diagnostics=diag)
    return _finish(gdf, ["gate_id", "community_id"], meta, diagnostics=diag, start=start)


def _gates_without_community_column(src: str, columns: Iterable) -> InputError:
    """Return the error for a gates file without a community_id column."""
    from ._errors import advice

    msg = (
        f"{src}: gates need a 'community_id' column naming their community; map yours with "
        + advice("columns={'<your column>': 'community_id'}",
                 f"--columns {src}=MAPPING.yaml holding '<your column>: community_id'",
                 f"{{path: {src}, columns: {{<your column>: community_id}}}} in areas.yaml")
        + f" (columns: {[c for c in columns if c not in ('geometry', 'src_row')]})"
    )
    return InputError(msg)


def _drop_gates_of_no_known_community(gdf: gpd.GeoDataFrame, communities: pd.DataFrame | None,
                                      *, src: str,
                                      diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Set aside gates naming no community, an unknown one or one outside the study area.

    Step of :func:`read_gates`; each gate set aside gets its diagnostics record.
    """
    what = "gates"
    diag = diagnostics
    cid = pd.Series([v.id_text(x) for x in gdf["community_id"]], index=gdf.index)
    gdf["community_id"] = cid
    drop = cid.isna().to_numpy()
    if communities is not None:
        known = {v.id_text(x) for x in communities["community_id"]}
        drop_unknown = ~cid.isin(known).to_numpy() & ~drop
    else:
        drop_unknown = np.zeros(len(gdf), dtype=bool)
    # communities set aside as outside the study area (or owned by another area of a batch):
    # their gates go with them, recorded as such rather than as unknown
    elsewhere = {r["feature_id"]: r["issue"] for r in diag.records
                 if r["layer"] == "communities"
                 and r["issue"] in ("outside_study_area", "in_other_area")}
    away = drop_unknown & cid.isin(elsewhere).to_numpy()
    drop_unknown &= ~away
    rows = gdf["src_row"].to_numpy()
    for i in np.flatnonzero(away):
        diag.add(what, "community_outside_study_area", action="dropped", source=src,
                 row=int(rows[i]), feature_id=gdf["gate_id"].iloc[i],
                 geometry=gdf.geometry.iloc[i],
                 detail=f"its community {cid.iloc[i]} was set aside "
                        f"({elsewhere[cid.iloc[i]]}); see that community's record")
    if away.any():
        logger.info("%s: %d gate(s) of communities outside the study area set aside", src,
                    int(away.sum()))
        gdf = gdf.loc[~away].copy()
        cid, drop, drop_unknown, rows = cid[~away], drop[~away], drop_unknown[~away], rows[~away]
    for i in np.flatnonzero(drop | drop_unknown):
        issue = "missing_community_id" if drop[i] else "unknown_community"
        detail = ("the gate names no community" if drop[i] else
                  f"community_id {cid.iloc[i]!r} is not among the communities")
        diag.add(what, issue, action="dropped", source=src, row=int(rows[i]),
                 feature_id=gdf["gate_id"].iloc[i], geometry=gdf.geometry.iloc[i], detail=detail)
    bad = drop | drop_unknown
    if bad.any():
        gdf = gdf.loc[~bad].copy()
    return gdf


def read_facilities(
    path: str | Path,
    *,
    coord_crs: str | None = None,
    crs_column: str | None = None,
    profile: Profile | str | Path | None = None,
    layer: str | int | None = None,
    columns: dict[str, str] | None = None,
    id_column: str | None = None,
    id_prefix: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    encoding: str | None = None,
    boundary: Boundary = None,
    diagnostics: Diagnostics | None = None,
) -> gpd.GeoDataFrame:
    """Read facilities (POIs) and classify them into the categories of a standard profile.

    Classification uses :func:`livingcircle.standards.classify_facilities` (OSM tag columns,
    AMap ``typecode``/``type``, the name, or a given ``category`` column). Rows that match no
    category are dropped and recorded as 'unclassified'; a given category that the profile does
    not know is recorded as 'unknown_category'. Polygons are reduced to a point on their surface.

    Parameters
    ----------
    path
        The facilities file (an AMap export as CSV/Excel, or any GIS file).
    coord_crs
        'wgs84', 'gcj02' (AMap/高德) or 'bd09' (Baidu/百度); required for CSV/Excel.
    profile
        A :class:`~livingcircle.standards.Profile`, a profile file, or None for the default.
    id_column, id_prefix, boundary, diagnostics
        As in :func:`read_communities`.
    crs_column, layer, columns, lon_col, lat_col, encoding
        As in :func:`read_layer`.

    Returns
    -------
    geopandas.GeoDataFrame
        facility_id, category, categories, name, capacity (Float64), source_crs, source, other
        source columns, src_row, geometry (Point).
    """
    from .standards import as_profile, classify_facilities

    diag = _diag(diagnostics)
    start = len(diag)
    what = "facilities"
    prof = as_profile(profile)
    gdf, meta = _read(path, what=what, kind=what, layer=layer, columns=columns,
                      lon_col=lon_col, lat_col=lat_col, coord_crs=coord_crs,
                      crs_column=crs_column, encoding=encoding, diagnostics=diag,
                      id_column=id_column)
    src = meta["source"]
    gdf = _to_points(gdf)
    gdf = v.assign_ids(gdf, ID_COLUMNS[what], layer=what, source=src, diagnostics=diag,
                       prefix=id_prefix)
    if "capacity" in gdf.columns:
        gdf["capacity"] = v.parse_float(gdf["capacity"], gdf["src_row"].to_numpy(),
                                        column="capacity", source=src,
                                        ids=gdf["facility_id"].tolist())
    if "name" in gdf.columns:
        gdf["name"] = v.strip_text(gdf["name"])
    given = gdf["category"].tolist() if "category" in gdf.columns else [None] * len(gdf)
    if "category" in gdf.columns:
        gdf["category"] = v.normalise_categories(gdf["category"],
                                                 v.category_lookup(prof.categories))
    gdf = gpd.GeoDataFrame(classify_facilities(gdf, profile=prof), geometry="geometry",
                           crs=4326)
    gdf = _keep_known_categories(gdf, given, prof, src=src, diagnostics=diag)
    gdf["source_crs"] = gdf["_row_crs"] if "_row_crs" in gdf.columns else meta["source_crs"]
    gdf["source"] = Path(src).name
    gdf = v.drop_far_outside(gdf, boundary, layer=what, source=src, diagnostics=diag)
    v.check_usable(gdf, meta["n_in"], layer=what, source=src, diagnostics=diag)
    tags = {t for c in prof.categories.values() for r in c.osm for t in r}
    _report_unused(gdf, {*INPUT_COLUMNS[what], *tags, "tags", "typecode", "type", "source_crs",
                         "source"}, layer=what, source=src, diagnostics=diag)
    return _finish(gdf, ["facility_id", "category", "categories", "name", "capacity",
                         "source_crs", "source"], meta, diagnostics=diag, start=start)


def _keep_known_categories(gdf: gpd.GeoDataFrame, given: list, prof: Profile, *, src: str,
                           diagnostics: Diagnostics) -> gpd.GeoDataFrame:
    """Keep the facilities with a category of the profile (step of :func:`read_facilities`).

    ``categories`` keeps the known ids, ``category`` the first; a row with none is dropped as
    'unclassified' or 'unknown_category', unknown ids beside known ones are recorded as repaired.
    """
    what = "facilities"
    diag = diagnostics
    rows = gdf["src_row"].to_numpy()
    keep = np.ones(len(gdf), dtype=bool)
    cats_out, first_out = [], []
    for i, cats in enumerate(gdf["categories"].tolist()):
        ids = [c for c in str(cats or "").split(";") if c]
        known = [c for c in ids if c in prof.categories]
        unknown = [c for c in ids if c not in prof.categories]
        fid = gdf["facility_id"].iloc[i]
        name = gdf["name"].iloc[i] if "name" in gdf.columns else None
        if not ids:
            keep[i] = False
            diag.add(what, "unclassified", action="dropped", source=src, row=int(rows[i]),
                     feature_id=fid, geometry=gdf.geometry.iloc[i],
                     detail=f"{name!r} matches no category of profile {prof.name!r}")
        elif not known:
            keep[i] = False
            diag.add(what, "unknown_category", action="dropped", source=src, row=int(rows[i]),
                     feature_id=fid, geometry=gdf.geometry.iloc[i],
                     detail=f"category {given[i]!r}: {';'.join(unknown)!r} is not in profile "
                            f"{prof.name!r} (its ids, English or Chinese names)")
        elif unknown:
            diag.add(what, "unknown_category", action="repaired", source=src, row=int(rows[i]),
                     feature_id=fid,
                     detail=f"category {given[i]!r}: ignored unknown categories {unknown}")
        cats_out.append(";".join(known))
        first_out.append(known[0] if known else None)
    gdf["categories"] = cats_out
    gdf["category"] = first_out
    if (~keep).any():
        logger.info("%s: %d of %d facilities match no category (see diagnostics)",
                    src, int((~keep).sum()), len(gdf))
        gdf = gdf.loc[keep].copy()
    return gdf


def read_sites(
    path: str | Path,
    *,
    layer: str | int | None = None,
    columns: dict[str, str] | None = None,
    id_column: str | None = None,
    id_prefix: str | None = None,
    lon_col: str | None = None,
    lat_col: str | None = None,
    coord_crs: str | None = None,
    crs_column: str | None = None,
    encoding: str | None = None,
    boundary: Boundary = None,
    diagnostics: Diagnostics | None = None,
) -> gpd.GeoDataFrame:
    """Read candidate sites for new facilities (former boiler rooms, vacant lots, shops...).

    ``site_type`` is mapped to :data:`livingcircle.schema.SITE_TYPES` (English ids or Chinese
    names such as 锅炉房, 空地, 底商); an unknown type becomes 'other' (recorded).
    ``floor_area_m2`` becomes Float64; ``area_confirmed`` (面积已确认: the planner confirms the
    site is large enough, issue 16 §4) becomes boolean, empty (unknown) when the file has none.
    Polygons are reduced to a point on their surface. Parameters as in :func:`read_communities`.

    Returns
    -------
    geopandas.GeoDataFrame
        site_id, name, site_type, floor_area_m2, area_confirmed, other source columns, src_row,
        geometry (Point).
    """
    diag = _diag(diagnostics)
    start = len(diag)
    what = "sites"
    gdf, meta = _read(path, what=what, kind=what, layer=layer, columns=columns,
                      lon_col=lon_col, lat_col=lat_col, coord_crs=coord_crs,
                      crs_column=crs_column, encoding=encoding, diagnostics=diag,
                      id_column=id_column)
    src = meta["source"]
    gdf = _to_points(gdf)
    gdf = v.assign_ids(gdf, ID_COLUMNS[what], layer=what, source=src, diagnostics=diag,
                       prefix=id_prefix)
    rows = gdf["src_row"].to_numpy()
    if "site_type" in gdf.columns:
        gdf["site_type"] = v.normalise_site_types(gdf["site_type"], rows, layer=what,
                                                  source=src, diagnostics=diag,
                                                  ids=gdf["site_id"].tolist())
    if "floor_area_m2" in gdf.columns:
        gdf["floor_area_m2"] = v.parse_float(gdf["floor_area_m2"], rows,
                                             column="floor_area_m2", source=src,
                                             ids=gdf["site_id"].tolist())
    if "area_confirmed" in gdf.columns:
        gdf["area_confirmed"] = v.parse_bool(gdf["area_confirmed"], rows,
                                             column="area_confirmed", source=src,
                                             ids=gdf["site_id"].tolist())
    else:  # not given: no site's area is confirmed yet (empty = unknown, the planner's to fill)
        gdf["area_confirmed"] = pd.array([pd.NA] * len(gdf), dtype="boolean")
    if "name" in gdf.columns:
        gdf["name"] = v.strip_text(gdf["name"])
    gdf = v.drop_far_outside(gdf, boundary, layer=what, source=src, diagnostics=diag)
    v.check_usable(gdf, meta["n_in"], layer=what, source=src, diagnostics=diag)
    _report_unused(gdf, INPUT_COLUMNS[what], layer=what, source=src, diagnostics=diag)
    return _finish(gdf, ["site_id", "name", "site_type", "floor_area_m2", "area_confirmed"], meta,
                   diagnostics=diag, start=start)


def read_boundary(
    path: str | Path,
    *,
    layer: str | int | None = None,
    encoding: str | None = None,
    diagnostics: Diagnostics | None = None,
) -> gpd.GeoDataFrame:
    """Read a study boundary and dissolve it into one (multi)polygon.

    Parameters
    ----------
    path
        A GIS file of polygons (GeoPackage, Shapefile, GeoJSON).
    layer, encoding, diagnostics
        As in :func:`read_layer`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row: ``source`` (file name), ``n_parts`` (input features), ``src_row`` (the first
        feature's row) and the dissolved geometry, in EPSG:4326.
    """
    diag = _diag(diagnostics)
    start = len(diag)
    p = v.check_file(path)
    if v.is_table(p):
        msg = f"{p}: a study boundary must be polygons in a GIS file (.gpkg, .shp, .geojson)"
        raise InputError(msg)
    gdf, meta = _read(p, what="boundary", kind="boundary", layer=layer, columns=None,
                      lon_col=None, lat_col=None, coord_crs=None, encoding=encoding,
                      diagnostics=diag)
    src = meta["source"]
    v.check_usable(gdf, meta["n_in"], layer="boundary", source=src, diagnostics=diag)
    v.check_geometry_types(gdf, ("Polygon", "MultiPolygon"), what="a study boundary",
                           source=src)
    for line in diag.set_aside_lines(start=start):
        v.warn(line)
    geom = shapely.union_all(np.asarray(gdf.geometry.values))
    return gpd.GeoDataFrame(
        {"source": [Path(src).name], "n_parts": [len(gdf)],
         "src_row": [int(gdf["src_row"].iloc[0])]},
        geometry=[geom], crs=4326,
    )
