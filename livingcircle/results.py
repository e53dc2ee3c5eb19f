"""Results: the layers of one run, and the result folder on disk.

This module owns a result from the moment :func:`livingcircle.pipeline.run` returns it:

* :class:`Result` — the layers (GeoDataFrames in EPSG:4326 and tables), the profile, the speed
  profiles and the metadata of one run;
* :func:`write_geopackage` — the one GeoPackage writer (GeoPackage 1.2, QGIS styles in
  :data:`STYLE_TABLE`, the metadata in :data:`METADATA_TABLE`), used by :meth:`Result.write`
  and by ``livingcircle export``;
* :meth:`Result.write` — the result folder: ``livingcircle.gpkg``, the plan tables and
  ``map.html`` staged and moved into place together, ``manifest.json`` (sizes and SHA-256) last;
* :func:`load_result` and :func:`read_layers` — the one reader (a city's spilled layers stay in
  the file), checked against the manifest first (:func:`livingcircle._atomic.verify_manifest`);
  :func:`read_result` reads every layer into memory for ``export`` and ``postgis``;
* :func:`build_metadata` — the metadata of an export (source, caller, checksums, CRS), which
  ``export`` and ``postgis`` both write: an output never takes it from another output.

Maps, report, figures and export take a :class:`Result`; they may import this module, never
``pipeline``. A new output file of the result folder goes into :meth:`Result.write` (and
:meth:`Result.output_files`); a new output format goes into ``export``.

The QGIS styles of :func:`write_geopackage` come from ``styles``. This module is the lowest of
the outputs (``tests/test_layers.py``): the map of :meth:`Result.write` and the display methods
(``summary``, ``repr``, ``explore``) are drawn by ``maps`` and ``_display`` above it, which this
module never imports. It calls them through :data:`RENDERERS`, which ``livingcircle.compose``
fills when the package is imported.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, TypeVar

import geopandas as gpd
import pandas as pd
import pyogrio

from . import settings
from ._atomic import sha256_file
from ._errors import ExportError, InputError
from ._spill import SpilledLayer, missing_as_none
from .schema import METADATA_TABLE, STYLE_TABLE
from .stages import Stages
from .standards import Profile, load_profile
from .styles import LAYER_LABELS_ZH, geometry_family, styles_frame

if TYPE_CHECKING:
    import folium

    from .accessibility import Access
    from .crs import ResolvedCRS
    from .network import WalkNetwork

#: A DataFrame or a GeoDataFrame, returned as the type it came in.
FrameT = TypeVar("FrameT", bound=pd.DataFrame)

#: Name of the result GeoPackage in a result folder.
GPKG_NAME = "livingcircle.gpkg"
#: GeoPackage version written: 1.2 is what QGIS 3.22 LTR (GDAL 3.4-3.6) reads without the
#: "may only be partially supported" warning that GDAL's default (1.4 since GDAL 3.9) gives there.
GPKG_VERSION = "1.2"

#: Layers in the order they are written to the GeoPackage.
LAYER_ORDER = [
    "communities", "gates", "facilities", "sites", "access", "isochrones", "gaps",
    "completeness", "capacity", "area_figures", "coverage", "uncovered", "scope", "needs",
    "plan", "not_ready", "district_planning",
    "clusters", "cluster_members", "proposed_sites", "before_after",
    "programme", "programme_years", "diagnostics",
    "access_points", "basemap",
]

#: Files :meth:`Result.write` may put into its folder.
RESULT_FILES = (GPKG_NAME, "annual_plan.csv", "annual_plan.xlsx", "map.html", "manifest.json",
                "programme.csv", "programme.xlsx")




def filter_where(frame: pd.DataFrame, where: str, name: str) -> pd.DataFrame:
    """Return the rows of an in-memory layer matching an SQL filter, evaluated by SQLite.

    The same filter on a layer in a file (:meth:`livingcircle._spill.SpilledLayer.read`) gives
    the same rows.

    Raises
    ------
    ValueError
        When ``where`` is not valid SQL on the layer's columns (the message names them).
    """
    import sqlite3

    geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    attrs = frame.drop(columns=[geom]) if geom else frame
    with contextlib.closing(sqlite3.connect(":memory:")) as con:
        attrs.reset_index(drop=True).to_sql("layer", con, index_label="_row")
        try:
            rows = [r for (r,) in con.execute(f"SELECT _row FROM layer WHERE {where}")]
        except sqlite3.Error as exc:
            msg = (f"layer {name!r}: the filter {where!r} is not valid SQL on its columns "
                   f"{list(attrs.columns)} ({exc})")
            raise ValueError(msg) from None
    return frame.iloc[sorted(rows)]


@dataclass
class Renderers:
    """The drawings of a result made by output modules above this one.

    :class:`Result` calls them for ``map.html``, ``summary()``, ``repr``, the notebook display
    and ``explore()``, the report for its map and figures; :mod:`livingcircle.compose` sets them
    (importing the package does), so neither this module nor ``report`` imports ``maps``,
    ``figures`` or ``_display``.
    """

    make_map: Callable[..., folium.Map] | None = None
    #: ``(make, path)``: render the page ``make()`` returns into ``path``
    #: (:func:`livingcircle.maps.save_page`).
    save_page: Callable[[Callable[[], Any], Path], None] | None = None
    summary: Callable[[Result], pd.DataFrame] | None = None
    text: Callable[[Result], str] | None = None
    html_table: Callable[[Result], str] | None = None
    explore: Callable[..., folium.Map] | None = None
    #: The report's figures: ``(result, lang, max_cards)`` → (overview bytes, its MIME type,
    #: [(cluster id, card SVG)], number of clusters) (:func:`livingcircle.figures.report_figures`).
    report_figures: Callable[..., tuple[bytes, str, list[tuple[str, str]], int]] | None = None

    def get(self, name: str) -> Callable[..., Any]:
        """Return the renderer ``name``; a clear error when none was registered."""
        fn = getattr(self, name)
        if fn is None:
            msg = (f"no {name!r} renderer is registered; import livingcircle (the package), "
                   "not livingcircle.results alone")
            raise RuntimeError(msg)
        return fn


#: The renderers :class:`Result` calls; set by :mod:`livingcircle.compose`.
RENDERERS = Renderers()


@dataclass
class Result:
    """All layers of one run, with what produced them.

    Attributes
    ----------
    layers
        Layer name → GeoDataFrame (EPSG:4326) or DataFrame (tables), see :data:`LAYER_ORDER`.
    profile
        The standard profile used.
    speed_profiles
        The speed profiles measured; the first is the one gaps are judged with.
    metadata
        Inputs with checksums, tool version, date, settings.
    access
        The :class:`livingcircle.accessibility.Access` of the run; None for a result read back
        from its file (:func:`load_result`).
    network
        The :class:`livingcircle.network.WalkNetwork` of the run; None for a result read back.
    spilled
        Layers whose geometries are kept in a temporary GeoPackage instead of memory (a city's
        isochrones and coverage, see :data:`livingcircle.settings.spill_above_communities`):
        name → :class:`livingcircle._spill.SpilledLayer`. ``layers[name]`` is then the attribute
        table; :meth:`layer` reads the geometries back, :meth:`write` copies them chunk by chunk.
    """

    layers: dict[str, pd.DataFrame]
    profile: Profile
    speed_profiles: list[str]
    metadata: dict = field(default_factory=dict)
    access: Access | None = field(default=None, repr=False)
    network: WalkNetwork | None = field(default=None, repr=False)
    spilled: dict[str, SpilledLayer] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.layers[name]

    def layer(self, name: str, *, where: str | None = None) -> pd.DataFrame:
        """Return a layer with its geometries, reading a spilled layer back from its file.

        Parameters
        ----------
        name
            Layer name.
        where
            An SQL (SQLite) filter on the layer's attributes, e.g. ``"minutes = 15"``. A spilled
            layer reads only those rows into memory; a layer in memory is filtered the same way.
        """
        if name in self.spilled:
            return self.spilled[name].read(where=where)
        frame = self.layers[name]
        return frame if where is None else filter_where(frame, where, name)

    def output_files(self, *, map_html: bool = True) -> list[str]:
        """Names of the files :meth:`write` puts into its folder (besides ``manifest.json``)."""
        names = [GPKG_NAME]
        if "plan" in self.layers:
            names += ["annual_plan.csv", "annual_plan.xlsx"]
        if "programme" in self.layers:
            names += ["programme.csv", "programme.xlsx"]
        if map_html:
            names.append("map.html")
        return names

    def summary(self) -> pd.DataFrame:
        """Return a short summary: communities, in scope, completeness, clusters, diagnostics.

        One row per item (``item``, ``value``), labelled in Chinese and English; a notebook
        shows it as the result's own display, ``repr`` as text.
        """
        return RENDERERS.get("summary")(self)

    def __repr__(self) -> str:
        return RENDERERS.get("text")(self)

    def _repr_html_(self) -> str:
        return RENDERERS.get("html_table")(self)

    def explore(self, layer: str = "communities", *, where: str | None = None,
                column: str | None = None, simplify_m: float | None = 2.0, **kwargs):
        """Return an interactive folium map of one layer (``GeoDataFrame.explore``).

        Parameters
        ----------
        layer
            Layer name with geometries, e.g. ``"communities"`` (coloured by the share of
            required categories met), ``"isochrones"``, ``"coverage"``, ``"clusters"``.
            A layer kept on disk (:attr:`spilled`) is read back with :meth:`layer`.
        where
            An SQL filter as for :meth:`layer`, e.g. ``"minutes = 15"``.
        column
            The column to colour by; default: a sensible one for the layer.
        simplify_m
            Simplify lines and polygons by this many metres for display only (as the offline
            map does; the result keeps every vertex): the sample's 240 isochrones make a
            map of 18.9 MB unsimplified, 6.9 MB at 2 m (measured 2026-12-02). None draws every
            vertex.
        **kwargs
            Passed to :meth:`geopandas.GeoDataFrame.explore` (e.g. ``tiles=None`` for no
            online basemap, ``m=`` to add to a map).

        Returns
        -------
        folium.Map
            Tooltips show the layer's main columns (text escaped).
        """
        return RENDERERS.get("explore")(self, layer, where=where, column=column,
                                        simplify_m=simplify_m, **kwargs)

    def write(self, out: str | Path, *, overwrite: bool = True,
              map_html: bool = True) -> list[Path]:
        """Write ``livingcircle.gpkg``, ``map.html`` and the plan tables into folder ``out``.

        All files are written into a hidden staging folder inside ``out`` and moved into place
        together at the end, followed by ``manifest.json`` (each file's size and SHA-256, the
        tool version, the time and the run id) that ``map``/``report``/``export`` check. A run
        that fails or is killed while writing leaves the previous run's files as they were. An
        input file is never overwritten; ``out`` and its parents are created when missing.

        Returns
        -------
        list of Path
            The files written, ``manifest.json`` last.
        """
        extra: dict[str, Callable[[Path], None]] = {}
        if map_html:
            # the map is drawn by ``maps``, an output above this one (see RENDERERS)
            make_map, save_page = RENDERERS.get("make_map"), RENDERERS.get("save_page")
            extra["map.html"] = lambda path: save_page(lambda: make_map(self), path)
        return write_result_folder(self, out, overwrite=overwrite, extra_files=extra)


def write_result_folder(result: Result, out: str | Path, *, overwrite: bool = True,
                        extra_files: Mapping[str, Callable[[Path], None]] | None = None
                        ) -> list[Path]:
    """Write a result folder: the GeoPackage, the plan tables, ``extra_files``, the manifest.

    Parameters
    ----------
    result
        The result to write.
    out
        The folder (created with its parents when missing).
    overwrite
        Replace the files of a previous run in ``out``.
    extra_files
        File name → a function writing that file at the staging path it is given (the map).

    Returns
    -------
    list of Path
        The files written, ``manifest.json`` last (see :meth:`Result.write`).
    """
    from . import __version__
    from ._atomic import StagedFiles, check_output
    from ._parallel import Beside, beside_pays

    extra_files = dict(extra_files or {})
    inputs = [i["path"] for i in result.metadata.get("inputs", [])]
    names = result.output_files(map_html="map.html" in extra_files)
    names += [n for n in extra_files if n not in names]
    check_output(out, folder=True, files=names, inputs=inputs)
    stages = Stages()
    run_id = result.metadata.get("run_id") or uuid.uuid4().hex
    with StagedFiles(out, inputs=inputs, overwrite=overwrite,
                     manifest={"run_id": run_id, "version": __version__}) as stage:
        stage.check(names)  # before the first byte is written
        with contextlib.ExitStack() as beside:
            later = {}  # name → the child process writing it while the GeoPackage is written
            comm = result.layers.get("communities")
            # a city's map (one core of Python) beside the GeoPackage (one core of GDAL): the
            # time of the longer of the two (benchmarks/CITY_SCALE.md, "The map beside the
            # GeoPackage"); the same files either way (tested)
            if extra_files and beside_pays(0 if comm is None else len(comm)):
                for name, writer in extra_files.items():
                    later[name] = beside.enter_context(
                        Beside(partial(_on_one_core, writer, stage.path(name)),
                               what=f"writing {name}"))
            write_result_gpkg(result, stage.path(GPKG_NAME))
            stages.done("write geopackage")
            if "plan" in result.layers:
                _write_plan_tables(result, stage.path("annual_plan.csv"),
                                   stage.path("annual_plan.xlsx"))
                stages.done("write plan tables")
            if "programme" in result.layers:
                _write_programme_tables(result, stage.path("programme.csv"),
                                        stage.path("programme.xlsx"))
                stages.done("write programme tables")
            for name, writer in extra_files.items():
                if name in later:
                    later[name].wait()  # its time beyond the tables' is the stage's
                else:
                    writer(stage.path(name))
                stages.done("write map" if name == "map.html" else f"write {name}")
    return stage.written


def _on_one_core(writer: Callable[[Path], None], path: Path) -> None:
    """Run ``writer(path)`` in this process only: no worker processes of its own.

    In a :class:`~livingcircle._parallel.Beside` child, which has a core to itself while the
    parent writes the GeoPackage on the other. The map's own pool of two (its isochrone
    blocks) made the city centre's writing 1.5 s shorter still, but four processes at once
    took the run's memory from 1,350 to 1,585 MB (Pss of the process tree; the target is
    1.5 GB); on one core, 1,411 MB (``benchmarks/CITY_SCALE.md``, "The map beside the
    GeoPackage").
    """
    settings.workers = 1  # the child's own copy of the settings: the parent's is unchanged
    writer(path)


def _write_plan_tables(result: Result, csv_path: Path, xlsx_path: Path) -> None:
    """Write the annual plan as a Chinese CSV and an Excel workbook (with the not-ready sheet)."""
    from .renovation import plan_table_zh

    plan_zh = plan_table_zh(result.layers["plan"])
    plan_zh.to_csv(csv_path, index=False, encoding="utf-8-sig")
    with pd.ExcelWriter(xlsx_path, engine="openpyxl") as xw:
        plan_zh.to_excel(xw, sheet_name="年度改造计划", index=False)
        if "not_ready" in result.layers:
            result.layers["not_ready"].to_excel(xw, sheet_name="未具备条件", index=False)


def _write_programme_tables(result: Result, csv_path: Path, xlsx_path: Path) -> None:
    """Write the multi-year programme as a Chinese CSV and an Excel workbook (with the years)."""
    from .schema import labels_zh

    prog = pd.DataFrame(result.layers["programme"]).drop(columns=["geometry", "reason_en"],
                                                         errors="ignore")
    prog = prog.rename(columns=labels_zh("programme", prog.columns))
    prog.to_csv(csv_path, index=False, encoding="utf-8-sig")
    with pd.ExcelWriter(xlsx_path, engine="openpyxl") as xw:
        prog.to_excel(xw, sheet_name="多年改造计划", index=False)
        years = result.layers.get("programme_years")
        if years is not None:
            years.rename(columns=labels_zh("programme_years", years.columns)).to_excel(
                xw, sheet_name="年度能力", index=False)


def write_result_gpkg(result: Result, path: str | Path) -> None:
    """Write every layer of ``result``, its QGIS styles and its metadata into one GeoPackage.

    Layers in :data:`LAYER_ORDER`, then any other. A spilled layer (:attr:`Result.spilled`) is
    copied from its temporary file chunk by chunk, so that its geometries are never all in
    memory (:func:`write_geopackage`).
    """
    spilled = result.spilled or {}
    names = [n for n in LAYER_ORDER if n in result.layers]
    names += [n for n in result.layers if n not in names]
    layers = {n: spilled.get(n, result.layers[n]) for n in names}
    write_geopackage(layers, path, metadata=result.metadata)


# --- frames ------------------------------------------------------------------------------------


def write_vector(df, path: str | os.PathLike, *, driver: str, layer: str | None = None,
                 **kw) -> None:
    """Write one vector layer with pyogrio: the single place that does (tests make it fail).

    Row by row (GDAL's feature writer): pandas' missing value in a text column goes to it as
    None (:func:`livingcircle._spill.missing_as_none`; a spilled layer's chunks too). Arrow
    (``use_arrow``) wrote the city centre's tables faster but not its isochrones, and pyarrow
    installed raised the run's peak memory by 180 MB (``benchmarks/CITY_SCALE.md``, "Runs
    50–57").
    """
    pyogrio.write_dataframe(missing_as_none(df), path, driver=driver, layer=layer, **kw)


def has_geometry(df: object) -> TypeGuard[gpd.GeoDataFrame]:
    """Whether ``df`` is a GeoDataFrame whose active geometry column exists."""
    if not isinstance(df, gpd.GeoDataFrame):
        return False
    try:
        return df.geometry.name in df.columns
    except AttributeError:
        return False


def is_spatial(df: pd.DataFrame) -> TypeGuard[gpd.GeoDataFrame]:
    """Whether ``df`` is a GeoDataFrame with at least one non-empty geometry."""
    if not isinstance(df, gpd.GeoDataFrame):
        return False
    try:
        geo = df.geometry
    except AttributeError:
        return False
    return bool((~(geo.isna() | geo.is_empty)).any())


def as_table(df: pd.DataFrame) -> pd.DataFrame:
    """Return the frame as a plain table (its geometry column dropped)."""
    if isinstance(df, gpd.GeoDataFrame):
        try:
            name = df.geometry.name
        except AttributeError:
            return pd.DataFrame(df)
        return pd.DataFrame(df.drop(columns=[name]))
    return df


def flatten_values(df: FrameT) -> FrameT:
    """Return ``df`` with list/tuple/set cells joined by ';' and dict cells as JSON text.

    GIS formats hold scalars only; the input frame is not changed.
    """
    out = None
    geom = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    for col in df.columns:
        if col == geom or df[col].dtype != object:
            continue
        s = df[col]
        if not s.map(lambda v: isinstance(v, list | tuple | set | dict)).any():
            continue
        if out is None:
            out = df.copy()
        out[col] = s.map(
            lambda v: json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, dict)
            else ";".join(map(str, v)) if isinstance(v, list | tuple | set) else v
        )
    return df if out is None else out


def select_layers(available: list[str], layers: Iterable[str] | str | None, *,
                  where: str) -> list[str]:
    """Return the layers asked for (all when None; a comma-separated text is split).

    Raises
    ------
    ExportError
        Naming the layers that are not in ``where`` and the ones that are.
    """
    if layers is None:
        return list(available)
    if isinstance(layers, str):
        layers = [s.strip() for s in layers.split(",") if s.strip()]
    layers = list(layers)
    unknown = [n for n in layers if n not in available]
    if unknown:
        msg = f"layer(s) {unknown} are not in {where}; available layers: {available}"
        raise ExportError(msg)
    return layers


# --- the metadata table --------------------------------------------------------------------------


def metadata_frame(metadata: Mapping) -> pd.DataFrame:
    """Return metadata as the two-column (``key``, JSON ``value``) table stored in a GeoPackage."""
    return pd.DataFrame({
        "key": [str(k) for k in metadata],
        "value": [json.dumps(v, ensure_ascii=False, default=str) for v in metadata.values()],
    })


def read_metadata(path: str | os.PathLike) -> dict:
    """Return the :data:`METADATA_TABLE` of a GeoPackage as a dict ({} when absent).

    Values are JSON-decoded where they are JSON, kept as text otherwise.
    """
    path = Path(path)
    names = [str(n) for n, _ in _list_layers(path)]
    if METADATA_TABLE not in names:
        return {}
    df = pyogrio.read_dataframe(path, layer=METADATA_TABLE, read_geometry=False)
    if not {"key", "value"} <= set(df.columns):
        msg = (
            f"{path}: table {METADATA_TABLE!r} has columns {list(df.columns)}, expected 'key' and "
            "'value'; rewrite it with livingcircle.results.metadata_frame()"
        )
        raise InputError(msg)
    out = {}
    for k, v in zip(df["key"], df["value"], strict=True):
        try:
            out[str(k)] = json.loads(v) if isinstance(v, str) else v
        except json.JSONDecodeError:
            out[str(k)] = v
    return out


def _normalise_inputs(inputs) -> list[dict]:
    out = []
    for item in inputs or []:
        if isinstance(item, str | os.PathLike):
            item = {"path": str(item)}
        item = dict(item)
        p = item.get("path")
        if p and not item.get("sha256") and Path(p).is_file():
            item["sha256"] = sha256_file(p)
        out.append(item)
    return out


def build_metadata(
    *,
    source_meta: Mapping | None = None,
    caller_meta: Mapping | None = None,
    source_path: str | os.PathLike | None = None,
    resolved: ResolvedCRS,
    crs_name: str,
    fmt: str,
    encoding: str,
    layers: Mapping[str, pd.DataFrame],
) -> dict:
    """Merge the metadata of the source, of the caller and of this export (later wins).

    ``inputs`` lists are concatenated (source, caller, then the exported file itself) and every
    existing file gets its SHA-256 checksum. ``profile`` and ``speed_profile`` are None when
    nobody recorded them (unknown, never guessed).
    """
    from . import __version__

    meta: dict = {"profile": None, "speed_profile": None}
    meta.update(dict(source_meta or {}))
    inputs = _normalise_inputs((source_meta or {}).get("inputs"))
    caller = dict(caller_meta or {})
    inputs += _normalise_inputs(caller.pop("inputs", None))
    meta.update(caller)
    if source_path is not None:
        inputs.append({
            "path": str(Path(source_path).resolve()),
            "sha256": sha256_file(source_path),
            "role": "export source",
        })
    meta["inputs"] = inputs
    meta.update({
        "tool": "livingcircle",
        "tool_version": __version__,
        "exported_at": _dt.datetime.now(_dt.UTC).astimezone().isoformat(timespec="seconds"),
        "format": fmt,
        "encoding": encoding,
        "crs": resolved.label,
        "crs_preset": crs_name,
        "crs_epsg": resolved.crs.to_epsg(),
        "crs_wkt": resolved.crs.to_wkt(),
        "coordinates_shifted_to": "GCJ-02" if resolved.transform is not None else None,
        "layers": {
            name: {
                "rows": len(df),
                "geometry": geometry_family(df) if is_spatial(df) else None,
                "label_zh": LAYER_LABELS_ZH.get(name),
            }
            for name, df in layers.items()
        },
    })
    return meta


# --- the one GeoPackage writer -------------------------------------------------------------------


def geometry_type_option(df: gpd.GeoDataFrame) -> str | None:
    """Return the ``geometry_type`` for GDAL: "Unknown" for mixed families, else None."""
    return "Unknown" if geometry_family(df) == "mixed" else None


def write_geopackage(
    layers: Mapping[str, pd.DataFrame | SpilledLayer],
    path: str | os.PathLike,
    *,
    metadata: Mapping | None = None,
) -> None:
    """Write layers into a new GeoPackage 1.2 with QGIS layer styles and a metadata table.

    The one GeoPackage writer of livingcircle (``livingcircle run`` and ``export``). List, set
    and dict cells become text (:func:`flatten_values`).

    Parameters
    ----------
    layers
        Layer name → GeoDataFrame (a spatial layer), DataFrame (a table) or
        :class:`livingcircle._spill.SpilledLayer` (copied chunk by chunk), in the order written.
    path
        The GeoPackage to create (normally a staging path of :mod:`livingcircle._atomic`).
    metadata
        Written as the :data:`METADATA_TABLE` table (:func:`metadata_frame`).
    """
    path = Path(path)
    created = False

    def options() -> dict:
        nonlocal created
        if created:
            return {"append": True}
        created = True
        return {"dataset_options": {"VERSION": GPKG_VERSION}}

    meta_first = bool(layers) and isinstance(next(iter(layers.values())), SpilledLayer)
    if meta_first:
        # a spilled layer cannot take dataset options: let the metadata table create the file
        write_vector(metadata_frame(metadata or {}), path, driver="GPKG", layer=METADATA_TABLE,
                     **options())
    written: dict[str, tuple[pd.DataFrame | SpilledLayer, str]] = {}
    for name, df in layers.items():
        if isinstance(df, SpilledLayer):
            df.write_to(path, layer=name, append=True)
            written[name] = (df, pyogrio.read_info(path, layer=name)["geometry_name"])
        elif has_geometry(df):
            df = flatten_values(df)
            write_vector(df, path, driver="GPKG", layer=name,
                         geometry_type=geometry_type_option(df), **options())
            written[name] = (df, pyogrio.read_info(path, layer=name)["geometry_name"])
        else:
            write_vector(flatten_values(as_table(df)), path, driver="GPKG", layer=name,
                         **options())
    styles = styles_frame(written)
    if styles is not None:
        write_vector(styles, path, driver="GPKG", layer=STYLE_TABLE,
                     layer_options={"FID": "id"}, **options())
    if not meta_first:
        write_vector(metadata_frame(metadata or {}), path, driver="GPKG", layer=METADATA_TABLE,
                     **options())


# --- the one reader ------------------------------------------------------------------------------


def _list_layers(path: Path) -> list:
    """``pyogrio.list_layers``, with a file that is not a GeoPackage as an :class:`InputError`."""
    try:
        return list(pyogrio.list_layers(path))
    except Exception as exc:
        msg = f"cannot open {path} as a GeoPackage: {exc}"
        raise InputError(msg) from exc


def read_layers(path: str | os.PathLike, *, layers: Iterable[str] | str | None = None,
                keep_large_on_disk: bool = False, to_wgs84: bool = False
                ) -> tuple[dict[str, pd.DataFrame], dict[str, SpilledLayer]]:
    """Read the layers of a GeoPackage (without its metadata and style tables).

    Parameters
    ----------
    path
        A GeoPackage written by ``livingcircle run`` (or any GeoPackage).
    layers
        Names of the layers to read; all when None (:func:`select_layers`).
    keep_large_on_disk
        Leave the isochrones and coverage of more than
        :data:`livingcircle.settings.spill_above_communities` communities in the file: their
        attribute tables are returned, the polygons as :class:`~livingcircle._spill.SpilledLayer`.
    to_wgs84
        Reproject spatial layers with a CRS to EPSG:4326.

    Returns
    -------
    layers, spilled
        Layer name → GeoDataFrame (spatial layers) or DataFrame (tables); name → spilled layer.
    """
    path = Path(path)
    listed = [(str(n), t) for n, t in _list_layers(path)
              if str(n) not in (METADATA_TABLE, STYLE_TABLE)]
    wanted = set(select_layers([n for n, _ in listed], layers, where=str(path)))
    n_comm = pyogrio.read_info(path, layer="communities")["features"] \
        if keep_large_on_disk and "communities" in {n for n, _ in listed} else 0
    out: dict[str, pd.DataFrame] = {}
    spilled: dict[str, SpilledLayer] = {}
    for name, geom_type in listed:
        if name not in wanted:
            continue
        if name in ("isochrones", "coverage") and geom_type is not None and \
                n_comm > settings.spill_above_communities:
            # a city's largest layers stay in the file; maps read the isochrones they draw
            spilled[name] = SpilledLayer.from_file(path, name)
            out[name] = spilled[name].attributes
        elif geom_type is None:
            out[name] = pd.DataFrame(pyogrio.read_dataframe(path, layer=name,
                                                            read_geometry=False))
        else:
            g = pyogrio.read_dataframe(path, layer=name, fid_as_index=False)
            if to_wgs84 and isinstance(g, gpd.GeoDataFrame) and g.crs:
                g = g.to_crs(4326)
            out[name] = g
    if layers is not None:  # in the order asked for
        out = {n: out[n] for n in select_layers(list(out), layers, where=str(path))}
    return out, spilled


def read_result(
    source: str | os.PathLike, *, layers: Iterable[str] | str | None = None
) -> dict[str, pd.DataFrame]:
    """Read the layers of a result GeoPackage (without its metadata and style tables).

    What ``export`` and ``postgis`` write from: :func:`read_layers` with every geometry in
    memory, after checking that the file exists.

    Parameters
    ----------
    source
        A GeoPackage written by ``livingcircle run`` (or any GeoPackage).
    layers
        Names of the layers to read; all when None.

    Returns
    -------
    dict
        Layer name → GeoDataFrame (spatial layers) or DataFrame (tables).
    """
    source = Path(source)
    if not source.is_file():
        msg = f"result file {source} not found; give the .gpkg that 'livingcircle run' wrote"
        raise FileNotFoundError(msg)
    return read_layers(source, layers=layers)[0]


def load_result(path: str | Path, *, verify: bool = True) -> Result:
    """Read a result written by :meth:`Result.write` (its folder or ``livingcircle.gpkg``).

    With ``verify`` (the default) the folder's files are first checked against its
    ``manifest.json`` (:func:`livingcircle._atomic.verify_manifest`): a folder that mixes files
    of two runs, or whose GeoPackage was changed, is refused with the name of the file.

    Geometry layers come back as GeoDataFrames in EPSG:4326, tables as DataFrames (the
    isochrones and coverage of more than :data:`livingcircle.settings.spill_above_communities`
    communities stay in the file: their attribute tables, with the polygons in
    :attr:`Result.spilled`); the metadata table (key → JSON) becomes ``metadata``; the profile
    is loaded from the metadata's ``profile_path`` when that file exists, else the bundled
    default. The walking network is not kept in the file: :attr:`Result.network` and
    :attr:`Result.access` are None.
    """
    from ._atomic import verify_manifest

    p = Path(path)
    gpkg = p / GPKG_NAME if p.is_dir() else p
    if not gpkg.is_file():
        msg = f"{gpkg} not found; give a result folder written by `livingcircle run` or its .gpkg"
        raise InputError(msg)
    if verify:
        verify_manifest(p)
    layers, spilled = read_layers(gpkg, keep_large_on_disk=True, to_wgs84=True)
    metadata = read_metadata(gpkg)
    if "communities" not in layers:
        msg = f"{gpkg} has no 'communities' layer; is it a livingcircle result?"
        raise InputError(msg)
    prof_path = metadata.get("profile_path")
    prof = load_profile(prof_path if prof_path and Path(str(prof_path)).is_file() else None)
    sp = metadata.get("speed_profiles") or {}
    speed_profiles = list(sp)
    if metadata.get("speed_profile") in speed_profiles:
        speed_profiles.remove(metadata["speed_profile"])
        speed_profiles.insert(0, metadata["speed_profile"])
    return Result(layers=layers, profile=prof, speed_profiles=speed_profiles or ["adult"],
                  metadata=metadata, spilled=spilled)
