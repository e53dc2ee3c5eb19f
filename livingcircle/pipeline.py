"""The whole analysis as one call, and the ``livingcircle run`` / ``demo`` commands.

:func:`run` chains the steps of DESIGN.md — read and check the inputs, build the walking network,
measure access and isochrones, judge gaps, renovation scope and needs, plan — and returns a
:class:`Result` whose layers are GeoDataFrames; :meth:`Result.write` puts them in one GeoPackage
beside a map and the plan tables. Notebooks call the same steps one by one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import click
import geopandas as gpd
import pandas as pd
from tqdm.auto import tqdm

from . import settings
from .diagnostics import Diagnostics, set_aside_lines
from .schema import is_yes
from .standards import Profile, load_profile

logger = logging.getLogger(__name__)


def _memory_mb() -> tuple[float, float]:
    """Return current and peak resident memory in MB (``VmRSS``/``VmHWM`` on Linux).

    Elsewhere the current figure is unknown (NaN) and the peak is ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            vals = {k: int(v.split()[0]) / 1024.0 for k, v in
                    (line.split(":", 1) for line in fh if line.startswith(("VmRSS", "VmHWM")))}
        return vals["VmRSS"], vals["VmHWM"]
    except (OSError, KeyError, ValueError):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return float("nan"), peak / (2**20 if sys.platform == "darwin" else 1024.0)


def _release_memory() -> None:
    """Give the memory a stage freed back to the system (glibc's ``malloc_trim``).

    The allocator keeps freed memory for reuse, but the threaded stages allocate from other
    arenas than the one a previous stage freed into; at a million street nodes that retained
    memory was 1.4 GB after the network alone. Elsewhere than glibc this does nothing.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class _Stages:
    """Log the seconds and memory of each stage of a run at INFO level.

    One line per stage, ``stage <name>: <s> s, rss <MB> MB, peak <MB> MB, cpu <s> s`` (the
    peak is the process's high-water mark so far; the current figure is taken after freed
    memory has been returned to the system; cpu is the CPU time of the process in the stage, all
    threads: on a busy machine it says what the stage costs when the wall time does not);
    ``benchmarks/bench_city.py`` reads these lines.
    """

    def __init__(self) -> None:
        import time

        self._clock = time.perf_counter
        self._cpu = time.process_time
        self._t = self._clock()
        self._c = self._cpu()

    def done(self, name: str) -> None:
        """Log the stage that ends now and start the next one."""
        now, cpu = self._clock(), self._cpu()
        _release_memory()
        rss, peak = _memory_mb()
        logger.info("stage %s: %.1f s, rss %.0f MB, peak %.0f MB, cpu %.1f s", name,
                    now - self._t, rss, peak, cpu - self._c)
        self._t, self._c = now, cpu

#: Layers in the order they are written to the GeoPackage.
LAYER_ORDER = [
    "communities", "gates", "facilities", "sites", "access", "isochrones", "gaps",
    "completeness", "capacity", "area_figures", "coverage", "uncovered", "scope", "needs",
    "plan", "not_ready",
    "clusters", "cluster_members", "proposed_sites", "before_after", "diagnostics",
    "access_points", "basemap",
]


def _filter_where(frame: pd.DataFrame, where: str, name: str) -> pd.DataFrame:
    """Rows of an in-memory layer matching an SQL filter, evaluated by SQLite as for a file."""
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
    access: object = field(default=None, repr=False)
    network: object = field(default=None, repr=False)
    spilled: dict = field(default_factory=dict, repr=False)

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
        return frame if where is None else _filter_where(frame, where, name)

    def output_files(self, *, map_html: bool = True) -> list[str]:
        """Names of the files :meth:`write` puts into its folder (besides ``manifest.json``)."""
        names = ["livingcircle.gpkg"]
        if "plan" in self.layers:
            names += ["annual_plan.csv", "annual_plan.xlsx"]
        if map_html:
            names.append("map.html")
        return names
    def summary(self) -> pd.DataFrame:
        """Return a short summary: communities, in scope, completeness, clusters, diagnostics.

        One row per item (``item``, ``value``), labelled in Chinese and English; a notebook
        shows it as the result's own display, ``repr`` as text.
        """
        from ._display import summary

        return summary(self)

    def __repr__(self) -> str:
        from ._display import text

        return text(self)

    def _repr_html_(self) -> str:
        from ._display import html_table

        return html_table(self)

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
        from ._display import explore

        return explore(self, layer, where=where, column=column, simplify_m=simplify_m, **kwargs)

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
        from . import __version__
        from ._atomic import StagedFiles, check_output

        inputs = [i["path"] for i in self.metadata.get("inputs", [])]
        names = self.output_files(map_html=map_html)
        check_output(out, folder=True, files=names, inputs=inputs)
        stages = _Stages()
        run_id = self.metadata.get("run_id") or uuid.uuid4().hex
        with StagedFiles(out, inputs=inputs, overwrite=overwrite,
                         manifest={"run_id": run_id, "version": __version__}) as stage:
            stage.check(names)  # before the first byte is written
            write_gpkg(self, stage.path("livingcircle.gpkg"))
            stages.done("write geopackage")
            if "plan" in self.layers:
                from .renovation import plan_table_zh

                plan_zh = plan_table_zh(self.layers["plan"])
                plan_zh.to_csv(stage.path("annual_plan.csv"), index=False, encoding="utf-8-sig")
                with pd.ExcelWriter(stage.path("annual_plan.xlsx"), engine="openpyxl") as xw:
                    plan_zh.to_excel(xw, sheet_name="年度改造计划", index=False)
                    if "not_ready" in self.layers:
                        self.layers["not_ready"].to_excel(xw, sheet_name="未具备条件", index=False)
                stages.done("write plan tables")
            if map_html:
                from .maps import make_map

                make_map(self).save(str(stage.path("map.html")))
                stages.done("write map")
        return stage.written


def write_gpkg(result: Result, path: str | Path) -> None:
    """Write every layer of ``result``, its QGIS styles and its metadata into one GeoPackage.

    The file is a GeoPackage 1.2 with a ``layer_styles`` table (it opens styled and without
    warnings in QGIS 3.22 LTR), written by :func:`livingcircle.export.write_geopackage`. A
    spilled layer (:attr:`Result.spilled`) is copied from its temporary file chunk by chunk,
    so that its geometries are never all in memory.
    """
    from .export import write_geopackage

    spilled = getattr(result, "spilled", None) or {}
    names = [n for n in LAYER_ORDER if n in result.layers]
    names += [n for n in result.layers if n not in names]
    layers = {n: spilled.get(n, result.layers[n]) for n in names}
    write_geopackage(layers, path, metadata=result.metadata)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _described_inputs(*, communities, gates, facilities, sites, facilities_crs) -> dict:
    """Return the input files of :func:`run` as :class:`~livingcircle.inputs.InputFile` lists.

    A table's system is taken from its file name when nothing states it; ``facilities_crs``
    applies to the only facilities file that can take it
    (:func:`livingcircle.inputs.apply_layer_value`).
    """
    from ._errors import InputError
    from .inputs import advice, apply_layer_value, as_input_files

    files = {"communities": as_input_files(communities, role="communities"),
             "gates": as_input_files(gates, role="gates"),
             "facilities": as_input_files(facilities, role="facilities"),
             "sites": as_input_files(sites, role="sites")}
    if not files["communities"]:
        msg = "give the communities file (communities=...)"
        raise InputError(msg)
    for role in ("communities", "gates", "sites"):
        if len(files[role]) > 1:
            msg = f"{role}: give one file (got {len(files[role])})"
            raise InputError(msg)
    files["facilities"] = apply_layer_value(
        files["facilities"], facilities_crs, attr="crs",
        option=advice("facilities_crs=", "--facilities-crs", "facilities_crs:"),
        per_file=advice("InputFile({file!r}, crs={value!r})", "--crs {file}={value}",
                        "{{path: {file}, crs: {value}}}"))
    return {role: [f if isinstance(f, gpd.GeoDataFrame) else f.with_name_hint() for f in fs]
            for role, fs in files.items()}


def _crs_record(f, read_meta: dict) -> dict:
    """Return what the run's metadata says about one file's coordinate system."""
    return {
        "crs_stated": f.crs if f.crs_from == "stated" else None,
        "crs_from_file_name": f.crs if f.crs_from == "file name" else None,
        "crs_detected": read_meta.get("file_crs"),
        # a GIS file without a Chinese statement is taken in its own CRS
        "crs_applied": (read_meta.get("file_crs") if read_meta.get("file_crs") and
                        read_meta.get("source_crs") in (None, "wgs84")
                        else read_meta.get("source_crs")),
        "crs_column": read_meta.get("crs_column"),
        "crs_rows": read_meta.get("crs_rows"),
    }


def run(
    *,
    communities,
    osm: str | Path | None = None,
    place: str | None = None,
    gates=None,
    facilities=None,
    facilities_crs: str | None = None,
    sites=None,
    boundary=None,
    claimed=None,
    profile: str | Path | Profile | None = None,
    speed_profiles=("adult", "elderly", "winter"),
    isochrone_minutes=None,
    target_communities: int | None = None,
    target_households: int | None = None,
    clusters: bool = True,
    strict: bool = False,
    progress: bool = True,
) -> Result:
    """Run the whole analysis for one study area.

    Parameters
    ----------
    communities
        Communities file (or GeoDataFrame with ``community_id``). Every input file may be a
        path, or a :class:`livingcircle.InputFile` (or dict with ``path``) that states its
        coordinate system, a per-row system column and a column mapping
        (:mod:`livingcircle.inputs`), e.g. ``lc.InputFile("amap.csv", crs="gcj02")``.
    osm, place
        The OSM file for the walking network (and facilities when none are given), or a place name
        to download (needs the internet).
    gates
        Optional gates file (``gate_id``, ``community_id``).
    facilities
        One or more facilities files (GeoPackage/Shapefile/GeoJSON/CSV/Excel); without them the
        OSM file's POIs are classified.
    facilities_crs
        'wgs84', 'gcj02' (AMap) or 'bd09' (Baidu) for the only facilities file that can take
        it: the only file, or the only CSV/Excel table among several (a GIS file among several
        keeps its own CRS; several tables are an error: state each file's system with
        :class:`~livingcircle.InputFile`). A CSV/Excel named ``*gcj02*``/``*amap*``
        (``*bd09*``/``*baidu*``) is taken as such when nothing is stated.
    sites
        Optional candidate sites for new facilities.
    boundary
        Optional study boundary; the network keeps a 15-minute halo around it. Only the
        communities whose representative point lies in it are analysed; the others are
        recorded in the diagnostics as 'outside_study_area'.
    claimed
        Areas that own their communities before this one, ``(name, geometry)`` pairs in
        EPSG:4326 (:func:`livingcircle.batch.run_batch` passes the areas listed before), so
        that a community is analysed and counted in one area only.
    profile
        Standard profile (path or :class:`Profile`); default: the bundled one.
    speed_profiles
        Speed profiles to measure; gaps are judged with the first.
    isochrone_minutes
        Minutes of the isochrones drawn for every community (first speed profile); default
        :data:`livingcircle.settings.level_minutes`.
    target_communities, target_households
        The size of this year's plan (one of them); default: every ready community.
    clusters
        Also recommend 片区联动 clusters with the default options
        (:func:`livingcircle.clusters.recommend`).
    strict
        Stop with an error, instead of a warning, when a point layer fits the walking streets
        markedly better in another coordinate system than the one stated
        (:func:`livingcircle.inputs.check_against_network`).
    progress
        Show a progress bar.

    Returns
    -------
    Result

    Raises
    ------
    livingcircle._errors.CoordinateError
        When more than :data:`livingcircle.settings.unreachable_share_max` of the communities
        have no walkable street within :data:`livingcircle.settings.max_snap_distance_m`
        (checked right after the network is built, before any search).
    """
    from . import _validate, io
    from .accessibility import measure_access
    from .isochrones import isochrones, iter_isochrones
    from .network import build_network

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    diag = Diagnostics()
    speed_profiles = [speed_profiles] if isinstance(speed_profiles, str) else list(speed_profiles)
    inputs = []

    def note(kind, p) -> dict | None:
        if isinstance(p, str | Path) and Path(p).is_file():
            inputs.append({"role": kind, "path": str(Path(p).resolve()),
                           "sha256": _sha256(Path(p))})
            return inputs[-1]
        return None

    steps = ["read inputs", "walking network", "access", "isochrones", "gaps", "renovation",
             "clusters"]
    bar = tqdm(total=len(steps), desc="livingcircle", disable=not progress, unit="step")

    def step(name):
        bar.set_postfix_str(name)

    stages = _Stages()

    step("read inputs")
    bnd = None
    if boundary is not None:
        note("boundary", boundary)
        bnd = boundary if isinstance(boundary, gpd.GeoDataFrame) else \
            io.read_boundary(boundary, diagnostics=diag)
    files = _described_inputs(communities=communities, gates=gates, facilities=facilities,
                              sites=sites, facilities_crs=facilities_crs)
    read_frames: list[tuple[str, object, gpd.GeoDataFrame]] = []  # for the network check
    records: list[dict | None] = []  # their entries in metadata["inputs"]

    def read(role, f, reader, **kw):
        if isinstance(f, gpd.GeoDataFrame):
            read_frames.append((role, None, f))
            records.append(None)
            return f
        entry = note(role, f.path)
        gdf = reader(f.path, coord_crs=f.crs, crs_column=f.crs_column,
                     columns=f.column_mapping(), layer=f.layer, diagnostics=diag, **kw)
        if entry is not None:
            entry.update(_crs_record(f, gdf.attrs.get("input", {})))
        read_frames.append((role, f, gdf))
        records.append(entry)
        return gdf

    first = files["communities"][0]
    if isinstance(first, gpd.GeoDataFrame):
        first = _validate.keep_in_area(first, bnd, claimed=claimed, layer="communities",
                                       source="communities", diagnostics=diag)
    comm = read("communities", first, io.read_communities, boundary=bnd, claimed=claimed)
    gts = None
    if files["gates"]:
        g = files["gates"][0]
        if isinstance(g, gpd.GeoDataFrame):
            g = _validate.drop_gates_far_from_community(g, comm, source="gates",
                                                        diagnostics=diag)
        gts = read("gates", g, io.read_gates, communities=comm)
    fac_frames = [read("facilities", f, io.read_facilities, profile=prof, boundary=bnd)
                  for f in files["facilities"]]
    if not fac_frames:
        if osm is None:
            msg = "give a facilities file or an OSM file to take facilities from"
            raise click.UsageError(msg)
        from .osm import read_osm_facilities

        fac_frames.append(read_osm_facilities(osm, profile=prof, boundary=bnd, diagnostics=diag))
    fac = pd.concat(fac_frames, ignore_index=True)
    fac = gpd.GeoDataFrame(fac, geometry="geometry", crs=4326)
    if "capacity" not in fac.columns:
        fac["capacity"] = float("nan")  # unknown, never guessed
    dup = fac["facility_id"].duplicated(keep=False)
    if dup.any():
        from ._errors import InputError

        ids = fac.loc[dup, "facility_id"].unique()[:5].tolist()
        msg = (f"facility ids repeat across the facilities files: {ids}; give each file its own "
               "id prefix")
        raise InputError(msg)
    site_gdf = None
    if files["sites"]:
        site_gdf = read("sites", files["sites"][0], io.read_sites, boundary=bnd)
    stages.done("read inputs")
    bar.update()

    step("walking network")
    note("osm", osm)
    net = build_network(osm=osm, place=place, boundary=bnd, diagnostics=diag)
    from .inputs import check_against_network

    for rec, check in zip(records, check_against_network(net, read_frames, strict=strict),
                          strict=True):
        if rec is not None:
            rec["network_check"] = {k: v for k, v in check.items() if k not in ("role",
                                                                                 "source")}
    _validate.check_reachable(net, comm, gts, source=str(first.path) if not isinstance(
        first, gpd.GeoDataFrame) else "communities")
    stages.done("walking network")
    from .basemap import basemap_layer

    basemap = basemap_layer(net, osm=osm)  # display only: streets, water, green for the map
    stages.done("basemap")
    bar.update()

    step("access")
    acc = measure_access(net, comm, fac, gates=gts, profile=prof, speed_profiles=speed_profiles,
                         diagnostics=diag)
    stages.done("access")
    bar.update()

    step("isochrones")
    spilled = {}
    if len(comm) > settings.spill_above_communities:
        # a city's polygons go to a temporary GeoPackage chunk by chunk; only the attributes stay
        from ._spill import SpilledLayer

        spill = SpilledLayer("isochrones")
        for chunk in iter_isochrones(acc, minutes=isochrone_minutes,
                                     speed_profiles=speed_profiles[:1],
                                     chunk_size=settings.isochrone_chunk_size):
            spill.append(chunk)
            logger.debug("isochrones: %d rows streamed to %s", len(spill), spill.path)
        spilled["isochrones"] = spill
        iso = spill.attributes
        logger.info("isochrones: %d rows kept in %s (more than %d communities)", len(spill),
                    spill.path, settings.spill_above_communities)
    else:
        iso = isochrones(acc, minutes=isochrone_minutes, speed_profiles=speed_profiles[:1])
    stages.done("isochrones")
    bar.update()

    step("gaps")
    from .capacity import capacity_access
    from .gaps import area_figures, completeness, find_gaps

    gaps = find_gaps(acc.table, prof, speed_profile=speed_profiles[0])
    comp = completeness(gaps, prof)
    stages.done("gaps")
    cap = None
    if "population" in comm.columns and comm["population"].notna().any():
        cap = capacity_access(acc.pairs, comm, fac, prof,
                              persons_per_place=settings.capacity_persons_per_place)
    else:
        logger.info("no population given: the capacity measure is skipped")
    stages.done("capacity")
    figures = area_figures(gaps, comm, prof)
    stages.done("area figures")
    from .coverage import coverage_areas, uncovered_areas

    if len(comm) > settings.spill_above_communities:
        # a city's coverage polygons (hundreds of MB) are only written: to disk tile by tile
        from ._spill import SpilledLayer
        from .coverage import iter_coverage_areas

        spilled["coverage"] = SpilledLayer("coverage")
        for chunk in iter_coverage_areas(acc, fac):
            spilled["coverage"].append(chunk)
        coverage = spilled["coverage"].attributes
    else:
        coverage = coverage_areas(acc, fac)
    stages.done("coverage")
    uncovered = uncovered_areas(acc, fac) if \
        (comm.geom_type.isin(["Polygon", "MultiPolygon"])).any() else None
    stages.done("uncovered")
    bar.update()

    step("renovation")
    wide = acc.wide(speed_profiles[0]).merge(comp, on="community_id", how="left")
    layers: dict[str, pd.DataFrame] = {}
    try:
        from .renovation import annual_plan, renovation_needs, renovation_scope
    except ImportError:  # pragma: no cover - the renovation module is optional while in progress
        scope = needs = plan = not_ready = None
    else:
        scope = renovation_scope(comm)
        needs = renovation_needs(comm, gaps, scope, prof, capacity=cap)
        plan, not_ready = annual_plan(comm, scope, needs, target_communities=target_communities,
                                      target_households=target_households)
        wide = wide.merge(scope[["community_id", "in_scope", "reasons"]]
                          .rename(columns={"reasons": "scope_reasons"}),
                          on="community_id", how="left")
    stages.done("renovation")
    bar.update()

    wide = gpd.GeoDataFrame(wide, geometry="geometry", crs=comm.crs)
    layers["communities"] = wide
    if gts is not None:
        layers["gates"] = gts
    layers["facilities"] = fac
    if site_gdf is not None:
        layers["sites"] = site_gdf
    layers["access"] = acc.table
    layers["isochrones"] = iso
    layers["gaps"] = gaps
    layers["completeness"] = comp
    if cap is not None:
        layers["capacity"] = cap
    layers["area_figures"] = figures
    layers["coverage"] = coverage
    if uncovered is not None:
        layers["uncovered"] = uncovered
    for name, df in (("scope", scope), ("needs", needs), ("plan", plan),
                     ("not_ready", not_ready)):
        if df is not None:
            layers[name] = df
    step("clusters")
    if clusters and scope is not None and is_yes(scope["in_scope"]).any():
        from .clusters import recommend

        layers.update(recommend({
            "communities": wide, "gaps": gaps, "access": acc, "network": net,
            "profile": prof, "facilities": fac, "sites": site_gdf, "gates": gts,
            "plan": plan, "speed_profile": speed_profiles[0]}))
    stages.done("clusters")
    bar.update()
    bar.close()
    layers["access_points"] = acc.access_points
    layers["basemap"] = basemap
    layers["diagnostics"] = diag.to_frame()

    from . import __version__
    from .network import graph_arrays_summary

    metadata = {
        "tool": "livingcircle",
        "version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run_id": uuid.uuid4().hex,
        "profile": prof.name,
        "profile_path": prof.path,
        "speed_profile": speed_profiles[0],
        "speed_profiles": {s: settings.speed_m_per_min(s) for s in speed_profiles},
        "network": {"source": net.source, **graph_arrays_summary(net)},
        # per input file: role, path, sha256 and its coordinate system (stated, from the file
        # name, the file's own CRS, the one applied, a per-row column and its counts)
        "inputs": inputs,
        "search_cutoff_m": acc.cutoff_m,
        "max_snap_distance_m": settings.max_snap_distance_m,
    }
    logger.info("run finished: %d communities, %d facilities, %d diagnostics", len(comm),
                len(fac), len(diag))
    return Result(layers=layers, profile=prof, speed_profiles=speed_profiles, metadata=metadata,
                  spilled=spilled,
                  access=acc, network=net)


def run_sample(**kwargs) -> Result:
    """Run :func:`run` on the bundled synthetic sample district."""
    from .sample import sample_paths

    p = sample_paths()
    result = run(osm=p["osm"], communities=p["communities"], gates=p["gates"],
                 facilities=[p["facilities"], p["amap_csv"]], facilities_crs=None,
                 sites=p["sites"], boundary=p["boundary"], **kwargs)
    # the SYNTHETIC label travels with the result (written into livingcircle_metadata), so that
    # maps, figures and reports made from it by another install or on another machine keep it
    result.metadata["synthetic"] = True
    return result


def _summary(result: Result, written: list[Path]) -> str:
    comm = result.layers["communities"]
    lines = [f"{len(comm)} communities, {len(result.layers['facilities'])} facilities, "
             f"{len(result.layers['diagnostics'])} diagnostic records"]
    if "in_scope" in comm.columns:
        counts = comm["in_scope"].value_counts().to_dict()
        lines.append("renovation scope: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    lines += set_aside_lines(result.layers["diagnostics"].to_dict("records"))
    if "clusters" in result.layers:
        lines.append(f"片区联动 clusters: {len(result.layers['clusters'])}, proposed sites: "
                     f"{len(result.layers.get('proposed_sites', []))}")
    lines.append("wrote:")
    lines += [f"  {p}" for p in written]
    return "\n".join(lines)


@click.command("demo")
@click.option("--out", "out", default="maps/demo", show_default=True,
              type=click.Path(), help="Output folder, created with its parents if missing.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def demo_command(out: str, no_progress: bool) -> None:
    """Run the whole analysis on the bundled SYNTHETIC sample district."""
    from .sample import SYNTHETIC_LABEL, sample_paths

    check_run_output(out, sample_paths())
    click.echo(SYNTHETIC_LABEL)
    result = run_sample(progress=not no_progress)
    written = result.write(out)
    click.echo(_summary(result, written))


#: Files :meth:`Result.write` may put into its folder.
RESULT_FILES = ("livingcircle.gpkg", "annual_plan.csv", "annual_plan.xlsx", "map.html",
                "manifest.json")


def check_run_output(out, inputs) -> Path:
    """Check a run's ``--out`` folder before the analysis starts (:func:`_atomic.check_output`).

    ``inputs`` is the command's options (or any mapping/iterable): every value that is the path
    of an existing file, or a list of such, is protected from being written over.
    """
    from ._atomic import check_output

    values = inputs.values() if isinstance(inputs, dict) else inputs
    paths = []
    for v in values:
        for x in (v if isinstance(v, list | tuple) else [v]):
            if isinstance(x, str | Path) and Path(x).is_file():
                paths.append(x)
    return check_output(out, folder=True, files=RESULT_FILES, inputs=paths)


def input_options(f):
    """Add the input options of ``livingcircle run`` to a click command."""
    options = [
        click.option("--osm", type=click.Path(exists=True, dir_okay=False),
                     help="OSM file (.osm XML or .osm.pbf) for the walking network."),
        click.option("--place", help="Place name to download the network for (needs the "
                     "internet)."),
        click.option("--communities", type=click.Path(exists=True, dir_okay=False),
                     help="Communities file (polygons or points)."),
        click.option("--gates", type=click.Path(exists=True, dir_okay=False), help="Gates file."),
        click.option("--facilities", multiple=True, type=click.Path(exists=True, dir_okay=False),
                     help="Facilities file(s); default: the OSM file's POIs."),
        click.option("--sites", type=click.Path(exists=True, dir_okay=False),
                     help="Candidate sites for new facilities."),
        click.option("--boundary", type=click.Path(exists=True, dir_okay=False),
                     help="Study boundary."),
        click.option("--profile", type=click.Path(exists=True, dir_okay=False),
                     help="Standard profile YAML (default: the bundled one)."),
        click.option("--crs", "crs", multiple=True, metavar="FILE=SYSTEM",
                     help="Coordinate system of one input file's longitude/latitude: wgs84, "
                     "gcj02 (AMap/高德, Tencent/腾讯) or bd09 (Baidu/百度); repeat per file, e.g. "
                     "--crs amap_pois.csv=gcj02. Required for CSV/Excel (unless the file name "
                     "holds gcj02/amap/bd09/baidu); a GIS file keeps its own CRS unless stated "
                     "gcj02/bd09 here (AMap/Baidu exports with a WGS84 .prj)."),
        click.option("--crs-column", "crs_column", multiple=True, metavar="FILE=COLUMN",
                     help="A column of FILE naming each row's system (mixed AMap/Baidu rows); "
                     "values amap/高德/gaode/gcj02/tencent/腾讯, baidu/百度/bd09, wgs84/osm/gps."),
        click.option("--columns", "columns", multiple=True, metavar="FILE=MAPPING",
                     help="Rename FILE's columns to livingcircle's names with a mapping file: "
                     "YAML ('小区名称: name' lines) or a two-column CSV (source, name)."),
        click.option("--facilities-crs", metavar="SYSTEM",
                     help="System of the only facilities file that can take it: the only file, "
                     "or the only CSV/Excel among several (GIS files keep their own CRS). "
                     "With several tables use --crs FILE=SYSTEM."),
        *[click.option(f"--{role}-crs-column", f"{role}_crs_column", metavar="COLUMN",
                       help=f"As --crs-column, for the {role} file"
                       + (" (the only table among several)." if role == "facilities" else "."))
          for role in ("communities", "gates", "facilities", "sites")],
        click.option("--strict", is_flag=True,
                     help="Stop, instead of warning, when a file's points fit the streets "
                     "markedly better in another coordinate system than the one stated."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def run_from_options(*, osm, place, communities, gates, facilities, sites, boundary, profile,
                     facilities_crs=None, crs=(), crs_column=(), columns=(),
                     communities_crs_column=None, gates_crs_column=None,
                     facilities_crs_column=None, sites_crs_column=None, strict=False,
                     progress=True, **kwargs) -> Result:
    """Call :func:`run` with the values of :func:`input_options` (checks what is required).

    The per-file options (``--crs``/``--crs-column``/``--columns FILE=...``) become
    :class:`~livingcircle.inputs.InputFile` descriptions; error advice then names command-line
    options (:func:`livingcircle.inputs.on_command_line`).
    """
    from .inputs import apply_layer_value, as_input_files, describe_files, on_command_line

    if osm is None and place is None:
        msg = "give --osm FILE (or --place NAME when online)"
        raise click.UsageError(msg)
    if communities is None:
        msg = "give --communities FILE"
        raise click.UsageError(msg)
    with on_command_line():
        files = {"communities": as_input_files(communities, role="communities"),
                 "gates": as_input_files(gates, role="gates"),
                 "facilities": as_input_files(list(facilities), role="facilities"),
                 "sites": as_input_files(sites, role="sites")}
        files = describe_files(files, crs=crs, crs_column=crs_column, columns=columns)
        for role, column in (("communities", communities_crs_column),
                             ("gates", gates_crs_column),
                             ("facilities", facilities_crs_column),
                             ("sites", sites_crs_column)):
            files[role] = apply_layer_value(files[role], column, attr="crs_column",
                                            option=f"--{role}-crs-column",
                                            per_file="--crs-column {file}={value}")
        return run(osm=osm, place=place, communities=files["communities"][0],
                   gates=(files["gates"] or [None])[0], facilities=files["facilities"] or None,
                   facilities_crs=facilities_crs, sites=(files["sites"] or [None])[0],
                   boundary=boundary, profile=profile, strict=strict, progress=progress,
                   **kwargs)


@click.command("run")
@input_options
@click.option("--speed", "speeds", multiple=True, default=("adult", "elderly", "winter"),
              show_default=True, help="Speed profile(s); gaps use the first.")
@click.option("--target-communities", type=int, help="Communities in this year's plan.")
@click.option("--target-households", type=int, help="Households in this year's plan.")
@click.option("--out", required=True, type=click.Path(),
              help="Output folder, created with its parents if missing; checked before the "
              "analysis starts.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def run_command(speeds, target_communities, target_households, out, no_progress, **inputs):
    """Run the analysis on your own data and write OUT/livingcircle.gpkg and OUT/map.html.

    The files of a run appear together, with OUT/manifest.json (sizes and SHA-256) last; a run
    that fails or is stopped leaves the previous run's files untouched.
    """
    check_run_output(out, inputs)
    result = run_from_options(**inputs, speed_profiles=speeds,
                              target_communities=target_communities,
                              target_households=target_households, progress=not no_progress)
    written = result.write(out)
    click.echo(_summary(result, written))


cli_commands = [demo_command, run_command]
