"""How each input file is described: its coordinate system, a per-row system column, a column map.

A stated coordinate system applies only to the file it is stated for. Each input file of
:func:`livingcircle.pipeline.run` (communities, gates, facilities, sites) may be given as a plain
path, or as an :class:`InputFile` (or a dict with the same keys) that describes it:

``crs``
    The system of the file's longitude/latitude: 'wgs84', 'gcj02' (AMap/高德, Tencent/腾讯) or
    'bd09' (Baidu/百度); every name accepted is in :data:`livingcircle.coords.CRS_ALIASES`.
    Required for a CSV/Excel table (unless ``crs_column`` says it row by row, or the file name
    says it, see below). A GIS file keeps its own CRS (its .prj, or the GeoPackage's) unless
    ``crs`` says 'gcj02' or 'bd09': AMap and Baidu exports are often written with a WGS84 .prj,
    and then the stated system overrides the file's WGS84 and the points are converted exactly
    (:func:`livingcircle.coords.to_wgs84`).
``crs_column``
    A column naming each row's system (a table merging AMap and Baidu rows); values as for
    ``crs``, case and spaces ignored. An empty cell takes ``crs`` when it is given; any other
    value stops the run, naming the values and their rows.
``columns``
    Source column → schema name (``{"小区名称": "name"}``), or the path of a mapping file: YAML
    (``小区名称: name`` lines) or a CSV of two columns (source, schema name) under a header line.

File names: a CSV/Excel table whose name holds ``gcj02`` or ``amap`` (``bd09`` or ``baidu``) is
taken as GCJ-02 (BD-09) when nothing is stated; the metadata records it as "file name". A GIS
file's name is never used.

Layer-wide values (``run(facilities_crs=...)``, ``--facilities-crs``, ``--<layer>-crs-column``)
apply to the only file of the layer that can take them: the layer's only file, or, among several
files, its only CSV/Excel table. A GIS file among several files is described only by the per-file
form; several tables are an error that shows the per-file form, because a stated system must
never shift a file it was not meant for.

On the command line every per-file form is ``--crs FILE=SYSTEM``, ``--crs-column FILE=COLUMN``
and ``--columns FILE=MAPPING`` (repeatable); in ``areas.yaml`` a file entry may be a mapping
``{path: amap.csv, crs: gcj02, crs_column: ..., columns: {...}}`` beside a plain path.

After the network is built, :func:`check_against_network` compares how far each point layer
lies from the walking streets as given and as it would lie under each other system, and warns
(or, with ``strict``, stops) when another system fits the streets markedly better.

Advice in error messages names what the user typed: Python parameters by default, command-line
options inside :func:`on_command_line` (``livingcircle run``/``recommend``), and ``areas.yaml``
keys inside ``on_command_line("yaml")`` (``livingcircle batch``); see :func:`advice`.

Examples
--------
>>> from livingcircle.inputs import InputFile
>>> InputFile("amap_pois.csv", crs="高德").crs
'gcj02'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

from ._errors import CoordinateError, InputError, advice, on_command_line
from .coords import canonical_crs

if TYPE_CHECKING:  # geopandas is imported where it is used: `livingcircle --help` stays quick
    import geopandas as gpd

    from .network import WalkNetwork

logger = logging.getLogger(__name__)

__all__ = [
    "InputFile",
    "advice",
    "as_input_files",
    "load_column_mapping",
    "on_command_line",
]

#: Roles of the input files that can be described per file (the options of ``livingcircle run``).
ROLES = ("communities", "gates", "facilities", "sites")

_TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".xls")

# --- the description of one file ----------------------------------------------------------

@dataclass(frozen=True)
class InputFile:
    """One input file and how to read it.

    Parameters
    ----------
    path
        The file (GeoPackage, Shapefile, GeoJSON, CSV, Excel).
    crs
        System of its longitude/latitude ('wgs84', 'gcj02', 'bd09' or an alias such as 'amap',
        '高德', 'baidu'); see the module docstring for how it applies to a GIS file.
    crs_column
        Column naming each row's system.
    columns
        Source column → schema name, or the path of a YAML/CSV mapping file.
    layer
        Layer of a GeoPackage or sheet of an Excel file.
    crs_from
        Where ``crs`` came from, for the run's metadata: 'stated' (by the user; the default when
        ``crs`` is given) or 'file name' (:meth:`with_name_hint`).
    """

    path: str | os.PathLike
    crs: str | None = None
    crs_column: str | None = None
    columns: Mapping[str, str] | str | os.PathLike | None = None
    layer: str | int | None = None
    crs_from: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.crs is not None:
            object.__setattr__(self, "crs", canonical_crs(self.crs))
            if not self.crs_from:
                object.__setattr__(self, "crs_from", "stated")
        if self.crs_column is not None and not str(self.crs_column).strip():
            msg = f"{self.path}: crs_column is empty; give the name of the column"
            raise InputError(msg)

    @property
    def is_table(self) -> bool:
        """Whether the file is a CSV/Excel table (points from longitude/latitude columns)."""
        return Path(self.path).suffix.lower() in _TABLE_SUFFIXES

    @property
    def name(self) -> str:
        """The file name (without folder)."""
        return Path(self.path).name

    def with_name_hint(self) -> InputFile:
        """Take a table's system from its file name when nothing else says it.

        ``*gcj02*``/``*amap*`` → GCJ-02, ``*bd09*``/``*baidu*`` → BD-09; only for CSV/Excel.
        """
        if self.crs is not None or self.crs_column is not None or not self.is_table:
            return self
        low = self.name.lower()
        crs = ("gcj02" if "gcj02" in low or "amap" in low else
               "bd09" if "bd09" in low or "baidu" in low else None)
        if crs is None:
            return self
        logger.info("%s: coordinates taken as %s from the file name", self.path, crs)
        return replace(self, crs=crs, crs_from="file name")

    def column_mapping(self) -> dict[str, str] | None:
        """Return the column mapping as a dict (a mapping file is read)."""
        if self.columns is None or isinstance(self.columns, Mapping):
            return dict(self.columns) if self.columns else None
        return load_column_mapping(self.columns)


#: One input file as the library takes it: a path, an :class:`InputFile`, a mapping with
#: ``path`` (and ``crs``, ``crs_column``, ``columns``, ``layer``) or a GeoDataFrame.
FileValue: TypeAlias = "str | os.PathLike[str] | InputFile | Mapping[str, Any] | gpd.GeoDataFrame"


def _as_input_file(value: FileValue, *, role: str) -> InputFile | gpd.GeoDataFrame:
    import geopandas as gpd

    if isinstance(value, InputFile | gpd.GeoDataFrame):
        return value
    if isinstance(value, str | os.PathLike):
        return InputFile(value)
    if isinstance(value, Mapping):
        keys = {"path", "crs", "crs_column", "columns", "layer"}
        unknown = sorted(set(value) - keys)
        if unknown or "path" not in value:
            msg = (f"{role}: a file described by a mapping needs 'path' and may have "
                   f"{sorted(keys - {'path'})}; got {sorted(value)}")
            raise InputError(msg)
        return InputFile(**{k: value[k] for k in keys if value.get(k) is not None})
    msg = (f"{role}: expected a file path, a livingcircle.InputFile, a dict with 'path' or a "
           f"GeoDataFrame, got {type(value).__name__}")
    raise InputError(msg)


def as_input_files(value: FileValue | Sequence[FileValue] | None, *,
                   role: str) -> list[InputFile | gpd.GeoDataFrame]:
    """Return the files of one role as a list of :class:`InputFile` (GeoDataFrames unchanged).

    ``value`` is None, one file (path, :class:`InputFile`, dict with ``path``, GeoDataFrame) or a
    list of them.
    """
    import geopandas as gpd

    if value is None:
        return []
    if isinstance(value, str | os.PathLike | InputFile | Mapping | gpd.GeoDataFrame):
        return [_as_input_file(value, role=role)]
    if isinstance(value, Iterable):
        return [_as_input_file(v, role=role) for v in value]
    return [_as_input_file(value, role=role)]  # not a file: the error names what it is


def apply_layer_value(files: list, value: str | None, *, attr: str, option: str,
                      per_file: str) -> list:
    """Give a layer-wide ``value`` to the only file of the layer that can take it.

    That is the layer's only file, or among several files its only CSV/Excel table; a file that
    already states its own value keeps it. Several tables, or several GIS files and no table,
    are an error that names the files and shows the per-file form.

    Parameters
    ----------
    files
        The layer's files (:func:`as_input_files`).
    value
        The layer-wide value (a system for ``attr='crs'``, a column for ``attr='crs_column'``).
    attr
        The :class:`InputFile` field it sets.
    option
        How the user gave it (``--facilities-crs`` or ``facilities_crs=``), for messages.
    per_file
        The per-file form as a template with ``{file}`` and ``{value}``, for messages
        (``"--crs {file}={value}"`` or ``"InputFile({file!r}, crs={value!r})"``).
    """
    if value is None:
        return files
    paths = [f for f in files if isinstance(f, InputFile)]
    tables = [f for f in paths if f.is_table]
    if not paths:
        msg = f"{option} {value}: there is no file it could apply to; give the file as well"
        raise InputError(msg)
    if len(paths) == 1:
        target = paths[0]
    elif len(tables) == 1:
        target = tables[0]
        others = [f.name for f in paths if f is not target]
        logger.info("%s %s applies to %s only; %s keep their own coordinate system", option,
                    value, target.name, ", ".join(others))
    else:
        names = [f.name for f in (tables or paths)]
        forms = ", ".join(per_file.format(file=f, attr=attr, value=value) for f in names)
        msg = (f"{option} {value} is ambiguous with the files {names}; it applies to one file "
               f"only: state it for each file ({forms})")
        raise InputError(msg)
    if attr == "crs" and target.crs is not None and target.crs_from == "stated":
        return files
    if attr == "crs_column" and target.crs_column is not None:
        return files
    kwargs = {attr: value}
    if attr == "crs":
        kwargs["crs_from"] = "stated"
    new = replace(target, **kwargs)
    return [new if f is target else f for f in files]


# --- column mapping files -----------------------------------------------------------------

def load_column_mapping(path: str | os.PathLike) -> dict[str, str]:
    """Read a column mapping file: source column → schema name.

    Parameters
    ----------
    path
        A YAML file of ``source: schema_name`` lines, or a CSV file of two columns (source
        column, schema name) under a header line (UTF-8, UTF-8 with BOM, or GBK).

    Returns
    -------
    dict
        Source column → schema name.

    Raises
    ------
    InputError
        The file is missing, malformed, or maps two source columns to one name.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"{p}: column mapping file not found"
        raise InputError(msg)
    if p.suffix.lower() in (".csv", ".txt"):
        import io as _io

        import pandas as pd

        from .io import decode_table

        text, _ = decode_table(p.read_bytes(), None, source=str(p))
        df = pd.read_csv(_io.StringIO(text), dtype=str, header=0, skipinitialspace=True)
        if df.shape[1] != 2:
            msg = (f"{p}: a column mapping CSV has two columns (source column, schema name) "
                   f"under a header line; this one has {df.shape[1]}: {list(df.columns)}")
            raise InputError(msg)
        pairs = []
        for row, (src, dst) in enumerate(df.itertuples(index=False), start=1):
            if pd.isna(src) or pd.isna(dst) or not str(src).strip() or not str(dst).strip():
                msg = f"{p}: row {row} of the mapping has an empty cell; fill both or delete it"
                raise InputError(msg)
            pairs.append((str(src).strip(), str(dst).strip()))
    elif p.suffix.lower() in (".yaml", ".yml", ".json"):
        import yaml

        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            msg = f"{p}: not a readable UTF-8 YAML mapping ({exc})"
            raise InputError(msg) from None
        if not isinstance(data, Mapping) or not data:
            msg = f"{p}: expected lines 'source column: schema name', e.g. '小区名称: name'"
            raise InputError(msg)
        empty = [str(k) for k, v in data.items() if v is None or not str(v).strip()]
        if empty:
            msg = f"{p}: no schema name for {empty}; write 'source column: schema name'"
            raise InputError(msg)
        pairs = [(str(k).strip(), str(v).strip()) for k, v in data.items()]
    else:
        msg = f"{p}: a column mapping is a .yaml or .csv file"
        raise InputError(msg)
    targets = [t for _, t in pairs]
    dup = sorted({t for t in targets if targets.count(t) > 1})
    if dup:
        msg = f"{p}: several source columns are mapped to {dup}; map one to each name"
        raise InputError(msg)
    return dict(pairs)


# --- per-file options of the command line -------------------------------------------------

def split_file_value(text: str, *, option: str) -> tuple[str, str]:
    """Split ``FILE=VALUE`` (the last ``=`` separates them) or raise naming the option."""
    file, sep, value = str(text).rpartition("=")
    if not sep or not file.strip() or not value.strip():
        msg = f"{option} {text!r}: expected FILE=VALUE, e.g. {option} amap_pois.csv=gcj02"
        raise InputError(msg)
    return file.strip(), value.strip()


def match_file(key: str, files: dict[str, list], *, option: str) -> tuple[str, int]:
    """Return (role, index) of the input file ``key`` names: its path, or a unique file name."""
    entries = [(role, i, f) for role, fs in files.items() for i, f in enumerate(fs)
               if isinstance(f, InputFile)]
    kp = Path(key).expanduser()
    same = [(r, i) for r, i, f in entries
            if kp.exists() and Path(f.path).exists() and Path(f.path).resolve() == kp.resolve()]
    if not same:
        same = [(r, i) for r, i, f in entries if f.name == kp.name]
    if len(same) == 1:
        return same[0]
    given = [str(f.path) for _, _, f in entries]
    if not same:
        msg = f"{option} {key}=...: {key} is not one of the input files {given}"
    else:
        msg = f"{option} {key}=...: several input files are named {kp.name}; give its full path"
    raise InputError(msg)


def describe_files(files: dict[str, list], *, crs: Iterable[str] = (),
                   crs_column: Iterable[str] = (), columns: Iterable[str] = ()) -> dict:
    """Apply the per-file options ``--crs``/``--crs-column``/``--columns`` (``FILE=VALUE``)."""
    out = {role: list(fs) for role, fs in files.items()}
    for option, attr, values in (("--crs", "crs", crs), ("--crs-column", "crs_column",
                                                         crs_column),
                                 ("--columns", "columns", columns)):
        for text in values:
            key, value = split_file_value(text, option=option)
            role, i = match_file(key, out, option=option)
            f = out[role][i]
            if attr == "crs":
                try:
                    new = replace(f, crs=canonical_crs(value), crs_from="stated")
                except CoordinateError as exc:
                    msg = f"{option} {text}: {exc}"
                    raise InputError(msg) from None
            elif attr == "columns":
                new = replace(f, columns=load_column_mapping(value))
            else:
                new = replace(f, crs_column=value)
            out[role][i] = new
    return out


# --- is the stated system right? ----------------------------------------------------------

#: Points measured per layer by :func:`check_against_network` (evenly spaced rows); the median
#: of 2,000 points moves by well under a metre between samples.
CHECK_SAMPLE = 2000

SYSTEMS = ("wgs84", "gcj02", "bd09")


def network_medians(net: WalkNetwork, points_wgs84: np.ndarray, applied: str, *,
                    within_extent: bool = False) -> dict[str, float]:
    """Median distance (m) from points to the nearest walking street under each system.

    ``points_wgs84`` are the layer's points as read (converted from ``applied``); for each
    system S the points are taken back to the file's coordinates and converted as if they were
    in S. The distances use the network's edge STRtree (:attr:`WalkNetwork.edges`).

    Parameters
    ----------
    net
        The :class:`~livingcircle.network.WalkNetwork`.
    points_wgs84
        Shapely points in EPSG:4326.
    applied
        The system the points were converted from ('wgs84', 'gcj02' or 'bd09').
    within_extent
        Measure only the points that lie within the network's extent (the convex hull of its
        nodes) in at least one of the systems. A file may hold points of neighbouring areas
        (the areas of a batch share files), whose distance to this network's streets says
        nothing about their coordinate system; a point moved by a wrong statement stays within
        the extent in its right system.

    Returns
    -------
    dict
        System → median distance in metres (NaN when no point is measured), and ``n_points``,
        the number of points measured.
    """
    import geopandas as gpd
    import shapely

    from .coords import from_wgs84, to_wgs84

    pts = np.asarray(points_wgs84, dtype=object)
    if len(pts) > CHECK_SAMPLE:
        pts = pts[np.linspace(0, len(pts) - 1, CHECK_SAMPLE).round().astype(int)]
    lon, lat = shapely.get_x(pts), shapely.get_y(pts)
    olon, olat = from_wgs84(lon, lat, applied)
    projected = {}
    for system in SYSTEMS:
        x, y = to_wgs84(olon, olat, system)
        projected[system] = gpd.GeoSeries(shapely.points(x, y), crs=4326).to_crs(
            net.crs).to_numpy()
    keep = np.ones(len(pts), dtype=bool)
    if within_extent:
        hull = shapely.convex_hull(shapely.multipoints(net.edges.xy))
        shapely.prepare(hull)
        keep = np.logical_or.reduce([shapely.contains(hull, p) for p in projected.values()])
    tree = net.edges.tree
    out: dict[str, float] = {}
    for system, proj in projected.items():
        if not keep.any():
            out[system] = float("nan")
            continue
        _, dist = tree.query_nearest(proj[keep], return_distance=True, all_matches=False)
        out[system] = round(float(np.median(dist)), 1)
    out["n_points"] = int(keep.sum())
    return out


#: Another system "fits markedly better" when its median distance to the streets is at most the
#: median as read divided by this ratio ...
CHECK_RATIO = 1.5
#: ... and at least this many metres shorter ...
CHECK_MIN_GAIN_M = 5.0
#: ... measured on at least this many points.
CHECK_MIN_POINTS = 10


def check_against_network(net: WalkNetwork,
                          layers: Iterable[tuple[str, InputFile | None, gpd.GeoDataFrame]],
                          *, strict: bool = False) -> list[dict]:
    """Warn (or stop) when a point layer fits the streets markedly better in another system.

    For each layer, :func:`network_medians` measures the median distance from its points to the
    nearest walking street as read and as if its coordinates were WGS84, GCJ-02 or BD-09. When
    the best other system's median is at most the median as read / :data:`CHECK_RATIO` and at
    least :data:`CHECK_MIN_GAIN_M` shorter (on at least :data:`CHECK_MIN_POINTS` points), the
    stated system is probably wrong: a warning gives both medians, the file and the option that
    fixes it; with ``strict`` it is a :class:`~livingcircle.CoordinateError`.

    The rule comes from ``benchmarks/bench_crs_check.py`` (table in ``benchmarks/README.md``,
    2026-12-02). Read right, every point layer of the sample district lies a median 8.0–12.6 m
    from the streets, and every other system fits worse (≥ 1.64 × the median). Mis-stated by one
    step (WGS84 stated GCJ-02 or BD-09, or GCJ-02/BD-09 taken as WGS84) the median as read is
    18.1–439.5 m and the right system's is 1.64–35 × shorter (smallest: sites, 20.7 m against
    12.6 m). Helsinki's OSM POIs (a real network) lie 5.4 m from the streets; moved by the
    GCJ-02 shift of Harbin (469 m E, 201 m N) 16.3 m (3.0 ×). Outside China GCJ-02 is the
    identity, so there the check cannot (and does not) fire for GCJ-02. The ratio 1.5 lies below
    every mis-statement measured and above 1.0, the ratio of every right statement.

    Only points within the network's extent (the convex hull of its streets) in at least one
    of the three readings are measured: a batch area's shared files hold neighbours' points,
    while a point that the stated system puts outside and another puts inside is evidence and
    stays (on Helsinki this adds nothing that changes the medians by more than 0.1 m).

    Communities are measured but never judged: their representative points lie inside blocks,
    away from the streets, and on the sample the right system gives 31.7 m while a GCJ-02
    reading gives 16.9 m — the rule would warn about a right statement. Their gates are judged.

    Parameters
    ----------
    net
        The walking network.
    layers
        ``(role, InputFile or None, GeoDataFrame)`` per layer read; a GeoDataFrame's
        ``attrs["input"]`` tells the system applied (:func:`livingcircle.io.read_facilities` &c.).
    strict
        Raise instead of warning.

    Returns
    -------
    list of dict
        Per layer: role, source, ``median_m`` per system, the system applied and the verdict.
    """
    return [_check_layer(net, role, f, gdf, strict=strict) for role, f, gdf in layers]


def _check_layer(net: WalkNetwork, role: str, f: InputFile | None, gdf: gpd.GeoDataFrame, *,
                 strict: bool) -> dict:
    """Return the record of one layer of :func:`check_against_network`; warn or stop on a misfit."""
    import shapely

    meta = gdf.attrs.get("input", {})
    source = str(f.path) if f is not None else meta.get("source") or f"{role} (a frame)"
    rec = {"role": role, "source": source}
    if len(gdf) == 0:
        rec["verdict"] = "not checked: no rows"
        return rec
    if meta.get("crs_column"):
        rec["verdict"] = "not checked: systems given row by row"
        return rec
    applied = meta.get("source_crs") or "wgs84"
    geoms = np.asarray(gdf.geometry.values)
    polygons = bool((shapely.get_type_id(geoms) != 0).any())
    pts = geoms.copy()
    pts[shapely.get_type_id(geoms) != 0] = shapely.point_on_surface(
        geoms[shapely.get_type_id(geoms) != 0])
    med = network_medians(net, pts, applied, within_extent=True)
    n_points = med.pop("n_points")
    rec.update(median_m=med, applied=applied, n_points=n_points)
    if n_points == 0:
        rec["verdict"] = "not checked: no point within the network's extent"
        return rec
    best = min((s for s in SYSTEMS if s != applied), key=med.__getitem__)
    fits = (med[best] <= med[applied] / CHECK_RATIO
            and med[applied] - med[best] >= CHECK_MIN_GAIN_M)
    if role == "communities":
        rec["verdict"] = "not judged: communities" + (" (polygons)" if polygons else "")
        return rec
    if n_points < CHECK_MIN_POINTS or not fits:
        rec["verdict"] = "fits" if not fits else "not judged: too few points"
        return rec
    rec["verdict"] = f"fits {best} better"
    _misfit(role, f, source, med, applied=applied, best=best, strict=strict)
    return rec


def _misfit(role: str, f: InputFile | None, source: str, med: Mapping[str, float], *,
            applied: str, best: str, strict: bool) -> None:
    """Warn (or, with ``strict``, stop) that ``best`` fits the streets better than ``applied``."""
    from ._validate import warn

    fix = (advice(f"give {role}=lc.InputFile({source!r}, crs={best!r})",
                  f"give --crs {source}={best}",
                  f"describe the file in areas.yaml as {{path: {source}, crs: {best}}}")
           if f is not None else
           f"convert the frame with livingcircle.coords.to_wgs84(lon, lat, {best!r})")
    msg = (
        f"{source}: its points lie a median {med[applied]:.1f} m from the walking streets "
        f"as read ({applied}), but {med[best]:.1f} m if its coordinates were {best}; the "
        f"stated coordinate system is probably wrong: {fix}"
    )
    if strict:
        raise CoordinateError(msg)
    warn(msg + advice(" (strict=True makes this an error)",
                      " (--strict makes this an error)",
                      " (strict: true makes this an error)"))


_CRS_TEXT = {
    "zh": {"stated": "声明", "file": "文件自带", "file name": "据文件名", "rows": "逐行",
           "median": "距步行街道中位距离", "warn": "另一坐标系更吻合"},
    "en": {"stated": "stated", "file": "the file's own", "file name": "from the file name",
           "rows": "row by row", "median": "median distance to the walking streets",
           "warn": "another system fits better"},
}


def crs_text(entry: Mapping, lang: str = "zh") -> str:
    """Return one line on an input's coordinate system from its ``metadata["inputs"]`` entry.

    E.g. ``gcj02（声明）；距步行街道中位距离 10.8 m`` (for the report's list of sources).
    """
    t = _CRS_TEXT["en" if lang == "en" else "zh"]
    sep, op, cl = ("; ", " (", ")") if lang == "en" else ("；", "（", "）")
    parts = []
    if entry.get("crs_rows"):
        rows = ", ".join(f"{k} {v}" for k, v in entry["crs_rows"].items())
        parts.append(f"{t['rows']}{op}{entry.get('crs_column')}{cl}: {rows}")
    elif entry.get("crs_stated"):
        parts.append(f"{entry['crs_stated']}{op}{t['stated']}{cl}")
    elif entry.get("crs_from_file_name"):
        parts.append(f"{entry['crs_from_file_name']}{op}{t['file name']}{cl}")
    elif entry.get("crs_detected"):
        parts.append(f"{entry['crs_detected']}{op}{t['file']}{cl}")
    check = entry.get("network_check") or {}
    med = check.get("median_m")
    if med and check.get("applied") in med:
        parts.append(f"{t['median']} {med[check['applied']]:.1f} m")
        if str(check.get("verdict", "")).endswith(" better"):  # "fits bd09 better"
            parts.append(t["warn"])
    return sep.join(parts)
