"""GIS export in the forms municipal systems and people accept.

Municipal planning and real-estate systems in China take Shapefiles and GeoPackages in CGCS2000,
often with GBK text; officials read Excel. :func:`export_layers` writes the layers of a result
GeoPackage (``livingcircle run``) or of a dict of frames as

* ``gpkg`` — one GeoPackage with every layer, QGIS layer styles in its ``layer_styles`` table (it
  opens styled in QGIS) and a ``livingcircle_metadata`` table;
* ``shp`` — one Shapefile per spatial layer, field names shortened to 10 ASCII characters with the
  mapping beside it (``<layer>_fields.csv``) and a ``.cpg`` naming the text encoding (UTF-8 or GBK);
  tables without geometry are written as CSV beside them;
* ``geojson`` and ``fgb`` (FlatGeobuf) — one file per layer, tables without geometry as CSV;
* ``csv`` — one file per layer, UTF-8 with BOM (Excel shows Chinese) or GBK, ASCII column names,
  geometry as a ``wkt`` column (GDAL and QGIS read it as geometry);
* ``xlsx`` — one workbook, one sheet per layer with Chinese headers
  (:data:`livingcircle.schema.LABELS_ZH`), points as longitude/latitude (or x/y) columns and other
  geometry as WKT, plus a field list and the metadata.

Coordinate systems are chosen by preset or EPSG code (:mod:`livingcircle.crs`). Metadata (profile,
speed profile, input files with SHA-256 checksums, tool version, date, CRS;
:func:`livingcircle.results.build_metadata`) goes into the GeoPackage or a ``metadata.json``
beside the files. Writes are atomic (:mod:`livingcircle._atomic`): a file appears only when
complete, an input is never overwritten and an existing output is replaced only with
``overwrite=True``.

A result GeoPackage is read by :func:`livingcircle.results.read_result` (the one reader), and
written by :func:`livingcircle.results.write_geopackage`. A new file format is a writer here: an
entry of :data:`FORMATS` and a branch of :func:`_write_files`, or its own ``_write_*`` like
:func:`_write_xlsx`, called from ``_write_format``. A database is a module of its own beside
this one, as :mod:`livingcircle.postgis` is (it takes the same reader and metadata from
``results``, never from here).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import results
from ._atomic import StagedFiles, atomic_file, manifest_files, sha256_file
from ._errors import ExportError
from .crs import ResolvedCRS, resolve_crs, to_export_crs
from .results import (
    FrameT,
    as_table,
    build_metadata,
    flatten_values,
    geometry_type_option,
    is_spatial,
    metadata_frame,
    read_metadata,
    read_result,
    select_layers,
    write_geopackage,
)
from .schema import LABELS_ZH, shapefile_field_names
from .styles import GEOMETRY_FAMILIES, LAYER_LABELS_ZH, category_names_zh, geometry_family

logger = logging.getLogger(__name__)

#: Output formats and the suffix of their files.
FORMATS: dict[str, str] = {
    "gpkg": ".gpkg",
    "shp": ".shp",
    "geojson": ".geojson",
    "fgb": ".fgb",
    "csv": ".csv",
    "xlsx": ".xlsx",
}

#: Text encodings offered, mapped to the codec used and the name written in a Shapefile's .cpg.
#: GB 18030 holds every Unicode character (GBK does not: e.g. '䝳' in a real OSM POI name).
ENCODINGS: dict[str, tuple[str, str]] = {
    "utf-8": ("utf-8", "UTF-8"), "gbk": ("gbk", "GBK"), "gb18030": ("gb18030", "GB18030"),
}
#: What a character the chosen encoding cannot hold becomes (unless ``strict_encoding``).
REPLACEMENT_CHARACTER = "?"
#: The file listing every replaced text (layer, row, column, original, written), beside the files.
REPLACEMENTS_FILE = "encoding_replacements.csv"

#: Name of the metadata file written beside files of the other formats.
METADATA_FILE = "metadata.json"

_XLSX_MAX_CELL = 32767  # characters Excel holds in one cell
_DBF_MAX_BYTES = 254  # bytes a Shapefile (DBF) text field holds


# --------------------------------------------------------------------------------------------
# labels
# --------------------------------------------------------------------------------------------


def column_label_zh(column: str, categories: Mapping[str, str] | None = None) -> str:
    """Return the Chinese label of a column (:data:`LABELS_ZH`, plus per-category columns).

    ``d_<category>`` becomes ``步行距离(米)·<category name>``, ``t_<category>`` ``步行时间(分钟)·…``
    and ``completeness_<level>`` ``完整度·<level>``; unknown columns keep their ASCII name.
    """
    if column in LABELS_ZH:
        return LABELS_ZH[column]
    categories = categories or {}
    m = re.fullmatch(r"([dt])_(.+)", column)
    if m and m.group(2) in categories:
        what = "步行距离(米)" if m.group(1) == "d" else "步行时间(分钟)"
        return f"{what}·{categories[m.group(2)]}"
    m = re.fullmatch(r"completeness_(.+)", column)
    if m:
        return f"完整度·{m.group(1)}"
    if column == "n_categories_reached":
        return "可达设施类别数"
    return column


# --------------------------------------------------------------------------------------------


def _encodable(df: FrameT, codec: str, *, layer: str, strict: bool,
               replaced: list[dict]) -> FrameT:
    """Return ``df`` with every character ``codec`` cannot hold replaced, listed in ``replaced``.

    Each replaced cell adds a row (layer, 1-based row, column, original and written text) to
    ``replaced``. With ``strict`` the first such cell is an error instead. The input frame is not
    changed.
    """
    if codec == "utf-8":
        return df
    out = None
    for col in df.columns:
        s = df[col]
        if not (s.dtype == object or pd.api.types.is_string_dtype(s)):
            continue
        for pos, v in enumerate(s.to_numpy()):
            if not isinstance(v, str):
                continue
            try:
                v.encode(codec)
                continue
            except UnicodeEncodeError as exc:
                bad = exc.object[exc.start:exc.end]
            if strict:
                msg = (
                    f"layer {layer!r}, column {col!r}, row {pos + 1}: {v!r} has the character "
                    f"{bad!r} that {codec.upper()} cannot hold; export with --encoding gb18030 "
                    "or utf-8, leave out --strict-encoding to replace it, or edit the text"
                )
                raise ExportError(msg)
            written = "".join(
                ch if ch.encode(codec, "ignore") else REPLACEMENT_CHARACTER for ch in v)
            if out is None:
                out = df.copy()
            # get_loc gives a slice or mask for a repeated name; iloc takes each, its stub not
            out.iloc[pos, out.columns.get_loc(col)] = written  # pyright: ignore[reportCallIssue, reportArgumentType]
            replaced.append({"layer": layer, "row": pos + 1, "column": str(col),
                             "original": v, "written": written})
    return df if out is None else out


# --------------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------------


def _wkt(geoms, *, geographic: bool) -> np.ndarray:
    prec = 9 if geographic else 4
    arr = shapely.to_wkt(np.asarray(geoms), rounding_precision=prec, trim=True)
    return np.where(pd.isna(arr), "", arr)


def _to_csv(df: pd.DataFrame, path: Path, *, codec: str, layer: str, geographic: bool,
            strict: bool, replaced: list[dict]) -> None:
    if is_spatial(df):
        geo = df.geometry
        table = pd.DataFrame(df.drop(columns=[geo.name]))
        table["wkt"] = _wkt(geo.values, geographic=geographic)
    else:
        table = as_table(df)
    table = _encodable(table, codec, layer=layer, strict=strict, replaced=replaced)
    table.to_csv(path, index=False, encoding="utf-8-sig" if codec == "utf-8" else codec)


def _write_gpkg(frames, target: Path, *, meta: dict, inputs, overwrite: bool) -> list[Path]:
    with atomic_file(target, inputs=inputs, overwrite=overwrite) as tmp:
        write_geopackage(frames, tmp, metadata=meta)
    return [target]


def _split_for_shapefile(name: str, df: gpd.GeoDataFrame) -> list[tuple[str, gpd.GeoDataFrame]]:
    """Split a layer with several geometry families into one Shapefile each (nulls to the first)."""
    fam = geometry_family(df)
    if fam != "mixed":
        return [(name, df)]
    geo = df.geometry
    fams = geo.geom_type.map(GEOMETRY_FAMILIES)
    order = [f for f in ("point", "line", "polygon") if (fams == f).any()]
    parts = []
    for i, f in enumerate(order):
        mask = (fams == f) | (fams.isna() if i == 0 else False)
        parts.append((f"{name}_{f}", df[mask]))
    logger.warning(
        "layer %r mixes %s geometries; a Shapefile holds one kind, so it is written as %s",
        name, "/".join(order), [p for p, _ in parts],
    )
    return parts


def _prepare_shapefile(df: gpd.GeoDataFrame, *, layer: str, codec: str):
    cols = [c for c in df.columns if c != df.geometry.name]
    mapping = shapefile_field_names(cols)
    out = df.rename(columns=mapping)
    for col in cols:
        s = df[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            lengths = s.dropna().map(lambda v: len(str(v).encode(codec, "replace")))
            if len(lengths) and lengths.max() > _DBF_MAX_BYTES:
                logger.warning(
                    "layer %r column %r: texts up to %d bytes in %s are cut to %d in the "
                    "Shapefile; the GeoPackage keeps them whole", layer, col, lengths.max(),
                    codec, _DBF_MAX_BYTES,
                )
    names = category_names_zh()
    fields = pd.DataFrame({
        "field": [mapping[c] for c in cols],
        "column": cols,
        "label_zh": [column_label_zh(c, names) for c in cols],
    })
    return out, fields


def _write_files(
    frames, out_dir: Path, *, fmt: str, codec: str, cpg: str, resolved: ResolvedCRS,
    meta: dict, inputs, overwrite: bool, strict_encoding: bool = False,
) -> list[Path]:
    geographic = resolved.crs.is_geographic
    # (final file name, (writer, layer name, frame)); the frame is a GeoDataFrame for the
    # spatial writers, any frame for csv, None for the metadata and the replacement list
    plan: list[tuple[str, tuple[str, str, Any]]] = []
    for name, df in frames.items():
        spatial = is_spatial(df)
        if fmt == "csv" or not spatial:
            plan.append((f"{name}.csv", ("csv", name, df)))
        elif fmt == "shp":
            for part, pdf in _split_for_shapefile(name, df):
                plan.append((f"{part}.shp", ("shp", part, pdf)))
        else:
            plan.append((f"{name}{FORMATS[fmt]}", (fmt, name, df)))
    plan.append((METADATA_FILE, ("meta", "", None)))
    replaced: list[dict] = []
    if codec != "utf-8":  # written last, and also when empty: a stale list never stays beside
        plan.append((REPLACEMENTS_FILE, ("replaced", "", None)))

    companions = {"shp": [".shx", ".dbf", ".prj", ".cpg"]}
    final_names = []
    for fname, (kind, part, _) in plan:
        final_names.append(fname)
        if kind == "shp":
            stem = fname[:-4]
            final_names += [stem + ext for ext in companions["shp"]] + [f"{part}_fields.csv"]

    with StagedFiles(out_dir, inputs=inputs, overwrite=overwrite) as stage:
        stage.check(final_names)  # refuse before any work is done
        for fname, (kind, part, df) in plan:
            if kind == "csv":
                _to_csv(df, stage.path(fname), codec=codec, layer=part, geographic=geographic,
                        strict=strict_encoding, replaced=replaced)
            elif kind == "replaced":
                _replacements_csv(replaced, stage.path(fname), codec=codec,
                                  folder=out_dir / fname)
            elif kind == "meta":
                stage.path(fname).write_text(
                    json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
                )
            elif kind == "shp":
                df = _encodable(df, codec, layer=part, strict=strict_encoding,
                                replaced=replaced)
                shp_df, fields = _prepare_shapefile(df, layer=part, codec=codec)
                results.write_vector(shp_df, stage.path(fname), driver="ESRI Shapefile",
                                     encoding=cpg, geometry_type=geometry_type_option(shp_df))
                stem = fname[:-4]
                for ext in companions["shp"]:
                    stage.path(stem + ext)
                fields.to_csv(stage.path(f"{part}_fields.csv"), index=False, encoding="utf-8-sig")
            elif kind == "geojson":
                results.write_vector(df, stage.path(fname), driver="GeoJSON",
                                     layer_options={"WRITE_NAME": "NO"},
                                     geometry_type=geometry_type_option(df))
            elif kind == "fgb":
                nulls = bool((df.geometry.isna() | df.geometry.is_empty).any())
                results.write_vector(df, stage.path(fname), driver="FlatGeobuf",
                                     layer_options={"SPATIAL_INDEX": "NO" if nulls else "YES"},
                                     geometry_type=geometry_type_option(df))
    return stage.written


def _replacements_csv(replaced: list[dict], path: Path, *, codec: str, folder: Path) -> None:
    """Write the list of replaced texts (UTF-8, it holds the originals) and warn once."""
    table = pd.DataFrame(replaced, columns=["layer", "row", "column", "original", "written"])
    table.to_csv(path, index=False, encoding="utf-8-sig")
    if replaced:
        logger.warning(
            "%d text(s) in %s held characters %s cannot hold; each was written with %r in their "
            "place and is listed with its original in %s (export with --encoding gb18030 or "
            "utf-8 to keep them)", len(table), ", ".join(map(repr, pd.unique(table["layer"]))),
            codec.upper(), REPLACEMENT_CHARACTER, folder,
        )


def _xlsx_sheets(frames, *, geographic: bool):
    cats = category_names_zh()
    sheets: list[tuple[str, pd.DataFrame]] = []
    fields = []
    used: set[str] = set()
    for name, df in frames.items():
        sheet = LAYER_LABELS_ZH.get(name) or name
        sheet = re.sub(r"[\[\]:*?/\\]", "_", sheet)[:31]
        k = 2
        base = sheet
        while sheet in used:
            sheet = f"{base[:28]}_{k}"
            k += 1
        used.add(sheet)
        table = as_table(df).copy()
        if is_spatial(df):
            geo = gpd.GeoSeries(df.geometry)
            fam = geometry_family(df)
            if fam == "point" and set(geo.geom_type.dropna()) <= {"Point"}:
                xcol, ycol = ("lon", "lat") if geographic else ("x", "y")
                table[xcol] = geo.x.where(~(geo.isna() | geo.is_empty))
                table[ycol] = geo.y.where(~(geo.isna() | geo.is_empty))
            else:
                wkt = _wkt(geo.values, geographic=geographic)
                too_long = np.char.str_len(wkt.astype(str)) > _XLSX_MAX_CELL
                if too_long.any():
                    wkt = wkt.astype(object)
                    wkt[too_long] = "（几何过长，见 GeoPackage）"
                    logger.warning(
                        "layer %r: %d geometries are longer than an Excel cell holds; their cell "
                        "says so and the GeoPackage/Shapefile export keeps them", name,
                        int(too_long.sum()),
                    )
                table["wkt"] = wkt
        labels_used: set[str] = set()
        header = {}
        for col in table.columns:
            lab = {"lon": "经度", "lat": "纬度", "x": "X坐标(米)", "y": "Y坐标(米)",
                   "wkt": "几何(WKT)"}.get(col) or column_label_zh(col, cats)
            if lab in labels_used:
                lab = f"{lab}({col})"
            labels_used.add(lab)
            header[col] = lab
            fields.append({"工作表": sheet, "列名": lab, "字段": col, "图层": name})
        sheets.append((sheet, table.rename(columns=header)))
    return sheets, pd.DataFrame(fields)


def _excel_safe(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.dt.tz_localize(None)
    return out


def _write_xlsx(frames, out_dir: Path, *, stem: str, resolved, meta, inputs, overwrite):
    sheets, fields = _xlsx_sheets(frames, geographic=resolved.crs.is_geographic)
    meta_rows = pd.DataFrame({
        "项目": list(meta.keys()),
        "内容": [v if isinstance(v, str | int | float) or v is None
                 else json.dumps(v, ensure_ascii=False, default=str) for v in meta.values()],
    })
    with StagedFiles(out_dir, inputs=inputs, overwrite=overwrite) as stage:
        stage.check([f"{stem}.xlsx", METADATA_FILE])
        with pd.ExcelWriter(stage.path(f"{stem}.xlsx"), engine="openpyxl") as xw:
            for sheet, table in sheets:
                _excel_safe(table).to_excel(xw, sheet_name=sheet, index=False)
            fields.to_excel(xw, sheet_name="字段说明", index=False)
            meta_rows.to_excel(xw, sheet_name="元数据", index=False)
        stage.path(METADATA_FILE).write_text(
            json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
        )
    return stage.written


def export_layers(
    source: str | os.PathLike | Mapping[str, pd.DataFrame],
    *,
    out: str | os.PathLike,
    format: str = "gpkg",
    crs: str | int = "cgcs2000",
    encoding: str = "utf-8",
    layers: Iterable[str] | str | None = None,
    overwrite: bool = False,
    metadata: Mapping | None = None,
    strict_encoding: bool = False,
) -> list[Path]:
    """Write result layers in a GIS format and coordinate system that municipal systems accept.

    Parameters
    ----------
    source
        A result GeoPackage (``livingcircle run``) or a dict {layer name: GeoDataFrame or
        DataFrame}. Frames are not changed.
    out
        The output folder (created if missing). For ``gpkg`` and ``xlsx`` it may also be the
        output file itself (ending in ``.gpkg`` / ``.xlsx``).
    format
        One of :data:`FORMATS`: ``gpkg``, ``shp``, ``geojson``, ``fgb``, ``csv``, ``xlsx``.
    crs
        A preset of :data:`livingcircle.crs.PRESETS` or ``'EPSG:CODE'``; default CGCS2000.
    encoding
        ``'utf-8'``, ``'gbk'`` or ``'gb18030'``: text encoding of Shapefile and CSV files
        (GeoPackage, GeoJSON, FlatGeobuf and Excel are always Unicode). A character GBK cannot
        hold (a rare one in a POI name, an emoji) is written as ``'?'``; every such text is
        listed (layer, 1-based row, column, original, written) in ``encoding_replacements.csv``
        (UTF-8) beside the files, which is written for every GBK/GB 18030 export, and one
        warning says how many. GB 18030 holds all of Unicode.
    layers
        Names of the layers to export (a list or a comma-separated string); all when None.
    overwrite
        Replace existing output files. Input files are never replaced.
    metadata
        Extra metadata (e.g. ``profile``, ``speed_profile``, ``inputs`` as paths) merged over what
        the source GeoPackage records.
    strict_encoding
        Refuse text the encoding cannot hold (an error naming layer, row and column) instead of
        replacing it.

    Returns
    -------
    list of Path
        The files written (including ``metadata.json`` where one is written).

    Examples
    --------
    >>> import geopandas as gpd, tempfile
    >>> from shapely import Point
    >>> pts = gpd.GeoDataFrame({"name": ["道里"]}, geometry=[Point(126.6, 45.75)], crs=4326)
    >>> files = export_layers({"communities": pts}, out=tempfile.mkdtemp(), format="shp",
    ...                       crs="cgcs2000-gk3", encoding="gbk")
    >>> sorted(p.suffix for p in files)
    ['.cpg', '.csv', '.csv', '.dbf', '.json', '.prj', '.shp', '.shx']
    """
    fmt, codec, cpg = _format_and_encoding(format, encoding)
    frames_in, source_meta, source_path, inputs, stem = _source_frames(source, layers, metadata)
    spatial = [df for df in frames_in.values() if is_spatial(df)]
    resolved = resolve_crs(crs, spatial)
    frames: dict[str, pd.DataFrame] = {}
    for n, df in frames_in.items():
        df = flatten_values(df)
        frames[n] = to_export_crs(df, resolved) if is_spatial(df) else as_table(df)

    meta = build_metadata(
        source_meta=source_meta, caller_meta=metadata, source_path=source_path,
        resolved=resolved, crs_name=str(crs), fmt=fmt, encoding=cpg, layers=frames,
    )
    out = Path(out)
    logger.info("exporting %d layers as %s in %s to %s", len(frames), fmt, resolved.label, out)
    return _write_format(frames, out, fmt=fmt, codec=codec, cpg=cpg, stem=stem,
                         resolved=resolved, meta=meta, inputs=inputs, overwrite=overwrite,
                         strict_encoding=strict_encoding)


def _write_format(frames: dict[str, pd.DataFrame], out: Path, *, fmt: str, codec: str, cpg: str,
                  stem: str, resolved: ResolvedCRS, meta: dict, inputs: list[Path],
                  overwrite: bool, strict_encoding: bool) -> list[Path]:
    """Write the frames with the writer of ``fmt``; return the files written.

    A GeoPackage or workbook is the file ``out`` names (``<stem>.gpkg``/``.xlsx`` in the folder
    ``out`` otherwise); the other formats write one file per layer into the folder ``out``. A
    new format's writer is called here.
    """
    if fmt == "gpkg":
        target = out if out.suffix.lower() == ".gpkg" else out / f"{stem}.gpkg"
        return _write_gpkg(frames, target, meta=meta, inputs=inputs, overwrite=overwrite)
    if fmt == "xlsx":
        if out.suffix.lower() == ".xlsx":
            out, stem = out.parent, out.stem
        return _write_xlsx(frames, out, stem=stem, resolved=resolved, meta=meta,
                           inputs=inputs, overwrite=overwrite)
    if out.suffix and out.suffix.lower() in FORMATS.values():
        msg = f"--out {out} looks like a file; {fmt} writes one file per layer into a folder"
        raise ExportError(msg)
    return _write_files(frames, out, fmt=fmt, codec=codec, cpg=cpg, resolved=resolved,
                        meta=meta, inputs=inputs, overwrite=overwrite,
                        strict_encoding=strict_encoding)


def _format_and_encoding(format: str, encoding: str) -> tuple[str, str, str]:
    """Return the format key, the Python codec and the ``.cpg`` name asked for, or an error."""
    fmt = str(format).lower().lstrip(".")
    if fmt == "shapefile":
        fmt = "shp"
    if fmt not in FORMATS:
        msg = f"unknown format {format!r}; use one of {list(FORMATS)}"
        raise ExportError(msg)
    enc = str(encoding).lower().replace("_", "-")
    enc = {"utf8": "utf-8", "cp936": "gbk", "gb2312": "gbk", "gb-18030": "gb18030"}.get(enc, enc)
    if enc not in ENCODINGS:
        msg = f"unknown encoding {encoding!r}; use one of {list(ENCODINGS)}"
        raise ExportError(msg)
    codec, cpg = ENCODINGS[enc]
    return fmt, codec, cpg


def _source_frames(source, layers, metadata):
    """Return the frames to export and what protects and describes them.

    ``(frames, source metadata, source path or None, input paths never overwritten, file
    stem)``: from a dict of frames, or read from a result GeoPackage (whose run files are
    inputs too); files the caller names in ``metadata["inputs"]`` are inputs as well.
    """
    inputs: list[Path] = []
    source_meta: dict = {}
    source_path = None
    if isinstance(source, Mapping):
        names = list(source)
        wanted = select_layers(names, layers, where="the given layers")
        frames_in = {n: source[n] for n in wanted}
        stem = "livingcircle"
    else:
        source_path = Path(source)
        frames_in = read_result(source_path, layers=layers)
        source_meta = read_metadata(source_path)
        inputs.append(source_path)
        inputs += list(manifest_files(source_path))  # the run's other files are kept too
        stem = source_path.stem
    if not frames_in:
        msg = "nothing to export: no layers were given or selected"
        raise ExportError(msg)
    for n, df in frames_in.items():
        if not isinstance(df, pd.DataFrame):
            msg = f"layer {n!r} is a {type(df).__name__}, expected a GeoDataFrame or DataFrame"
            raise ExportError(msg)
    # files the caller named as inputs are protected too
    for item in (metadata or {}).get("inputs", []) or []:
        p = item.get("path") if isinstance(item, Mapping) else item
        if p:
            inputs.append(Path(p))
    return frames_in, source_meta, source_path, inputs, stem


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


__all__ = [
    "ENCODINGS",
    "FORMATS",
    "LAYER_LABELS_ZH",
    "build_metadata",
    "column_label_zh",
    "export_layers",
    "metadata_frame",
    "read_metadata",
    "read_result",
    "sha256_file",
    "shapefile_field_names",
]

