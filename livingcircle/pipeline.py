"""The whole analysis as one call: :func:`run` and :func:`run_sample`.

:func:`run` chains the steps of DESIGN.md — read and check the inputs, build the walking network,
measure access and isochrones, judge gaps, renovation scope and needs, plan — and returns a
:class:`~livingcircle.results.Result` whose layers are GeoDataFrames;
:meth:`~livingcircle.results.Result.write` puts them in one GeoPackage beside a map and the plan
tables. Notebooks call the same steps one by one. :func:`run` reads as its steps, one call line
each, in the order of its progress bar (:data:`RUN_STEPS`): ``_read_step``, ``_network_step``,
``_access_step`` (access, isochrones; the basemap drawn beside it, ``_basemap``),
``_planning_step`` (gaps, renovation, ``_clusters_step``; the uncovered areas beside the last
two, ``_uncovered``),
``_programme`` and ``_result`` (metadata). The work of a step is in the functions they call
(``_read_inputs``, ``_walking_network``, ``_isochrones``, ``_gaps``, ``_renovation``,
``_clusters``). A new analysis step is one more such function and one call line in :func:`run`;
its layer goes into :func:`_layers`.

The pipeline sits above planning (renovation, clusters) and analysis, below the command line
(:mod:`livingcircle.cli`); it knows nothing of click. Run options are declared once in
:mod:`livingcircle.options`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from tqdm.auto import tqdm

from . import settings
from ._errors import InputError
from .diagnostics import Diagnostics, set_aside_lines
from .results import LAYER_ORDER, RESULT_FILES, Result
from .schema import is_yes
from .stages import Stages
from .standards import Profile, load_profile

logger = logging.getLogger(__name__)

__all__ = ["LAYER_ORDER", "RESULT_FILES", "Result", "check_run_output", "run", "run_sample",
           "run_summary"]


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
    from ._errors import advice
    from .inputs import apply_layer_value, as_input_files

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
    *, communities, osm: str | Path | None = None, place: str | None = None, gates=None,
    facilities=None, facilities_crs: str | None = None, sites=None, boundary=None, claimed=None,
    profile: str | Path | Profile | None = None, keep_graph: bool = True, isochrone_minutes=None,
    speed_profiles=("adult", "elderly", "winter", "elderly_winter"), costs=None,
    target_communities: int | None = None, target_households: int | None = None,
    clusters: bool = True, strict: bool = False, progress: bool = True, siting: str = "mclp",
    years: str | list[int] | None = None, capacity: str | float | dict[int, float] | None = None,
    capacity_unit: str | None = None, criterion: str = "distance", speed: str = "elderly_winter",
    buildings=None, heritage=None, location_type: str | None = None,
) -> Result:
    """Run the whole analysis for one study area; return its :class:`Result`.

    An input file is a path or an :class:`~livingcircle.InputFile` (``InputFile("amap.csv",
    crs="gcj02")``); each option's help: :data:`livingcircle.options.RUN_OPTIONS`.

    Parameters
    ----------
    communities, gates, sites, boundary
        Communities (or a GeoDataFrame with ``community_id``); optional gates (``gate_id``,
        ``community_id``), candidate sites, and a study boundary: the network keeps a 15-minute
        halo, communities whose representative point lies outside go to the diagnostics.
    osm, place, keep_graph
        The OSM file of the walking network (also the facilities' when none are given) or a place
        name to download; keep_graph: the networkx graph too (:func:`_walking_network`).
    facilities, facilities_crs
        Facilities files (GeoPackage/Shapefile/GeoJSON/CSV/Excel; none: the OSM file's POIs);
        'wgs84', 'gcj02' or 'bd09' for the only one of them that can take it (the only file or
        the only table; :func:`livingcircle.inputs.apply_layer_value`).
    buildings, heritage, location_type
        Optional 楼栋 file (scope and needs judged per building; :mod:`livingcircle.buildings`),
        heritage layer (it marks the communities it touches; :mod:`livingcircle.heritage`) and
        the area's 所在地类型 for 二(一) where a community's own cell is empty (``"city"``, …).
    claimed
        ``(name, geometry)`` (EPSG:4326) of areas listed before this one in a batch.
    profile, speed_profiles, isochrone_minutes
        The standard profile (path or :class:`Profile`; default: the bundled one); the speeds
        measured (:meth:`Profile.speed`; the gaps and isochrones use the first); the isochrones'
        minutes (default :data:`livingcircle.settings.level_minutes`).
    criterion, speed
        How a gap is judged (:func:`livingcircle.gaps.find_gaps`): ``"distance"`` (the
        standard's metres), ``"time"`` (the level's minutes at ``speed``) or ``"both"``.
    target_communities, target_households
        The size of this year's plan (one of them); default: every ready community.
    clusters, siting
        Recommend 片区联动 clusters (:func:`livingcircle.clusters.recommend`), sited by
        ``"mclp"`` or ``"lscp"`` (:func:`livingcircle.siting.site_facilities`).
    years, capacity, capacity_unit, costs
        A multi-year programme (:mod:`livingcircle.programme`): the years (``"2026-2030"``),
        what one year takes (``3000``, ``"2026=3000,2027=3500"``) in ``"households"``,
        ``"communities"`` or ``"budget"`` (with the planner's cost table; no default costs).
    strict, progress
        Stop instead of warning when a point layer fits the streets markedly better in another
        system (:func:`livingcircle.inputs.check_against_network`); show a progress bar.

    Raises
    ------
    livingcircle._errors.CoordinateError
        When too many communities have no walkable street near them
        (:data:`livingcircle.settings.unreachable_share_max`, ``max_snap_distance_m``).
    """
    ctx, speed_profiles = _start(profile, speed_profiles, progress=progress, siting=siting,
                                 criterion=criterion, speed=speed, location_type=location_type)
    programme = _programme_options(ctx, years=years, capacity=capacity,
                                   capacity_unit=capacity_unit, costs=costs)
    data = _read_step(ctx, osm=osm, communities=communities, gates=gates, facilities=facilities,
                      facilities_crs=facilities_crs, sites=sites, boundary=boundary,
                      claimed=claimed, buildings=buildings, heritage=heritage, strict=strict)
    net = _network_step(ctx, data, keep_graph, osm=osm, place=place, strict=strict)
    acc, iso, basemap = _access_step(ctx, data, net, osm=osm, speed_profiles=speed_profiles,
                                     minutes=isochrone_minutes)
    analysis, wide, planning, clustered = _planning_step(
        ctx, acc, data, net, speed_profile=speed_profiles[0], criterion=criterion,
        time_speed=speed, target_communities=target_communities,
        target_households=target_households, clusters=clusters, siting=siting)
    layers = _layers(data, acc, iso, analysis, wide, planning) | clustered
    layers.update(_programme(ctx, layers, programme))
    return _result(ctx, data, layers, net=net, acc=acc, basemap=basemap, planning=planning,
                   speed_profiles=speed_profiles, criterion=criterion, speed=speed)


def _start(profile, speed_profiles, *, progress: bool, siting: str, criterion: str,
           speed: str, location_type: str | None) -> tuple[_Run, list]:
    """Load the profile and check the options of :func:`run` before any work starts.

    Return the run's shared state (its progress bar shown; the location type as a code of
    二(一) or None) and the speed profiles as a list.
    """
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    _check_siting(siting)
    location_type = _check_location_type(location_type)
    speed_profiles = [speed_profiles] if isinstance(speed_profiles, str) else list(speed_profiles)
    _check_time_options(prof, speed_profiles, criterion=criterion, speed=speed)
    return _Run(prof=prof, progress=progress, location_type=location_type), speed_profiles


def _read_step(ctx: _Run, *, buildings, heritage, strict: bool, **inputs) -> _Inputs:
    """Step "read inputs": the input files (:func:`_read_inputs`), the buildings and heritage."""
    ctx.step("read inputs")
    data = _read_inputs(ctx, **inputs)
    _buildings_heritage(ctx, data, buildings=buildings, heritage=heritage, strict=strict)
    ctx.done("read inputs")
    return data


def _network_step(ctx: _Run, data: _Inputs, keep_graph: bool, *, osm, place, strict: bool):
    """Step "walking network": the network and the inputs checked on it."""
    ctx.step("walking network")
    net = _walking_network(ctx, data, osm=osm, place=place, strict=strict,
                           keep_graph=keep_graph)
    ctx.bar.update()
    return net


@contextmanager
def _aside(ctx: _Run, stage: str, here: Callable[[], Any], *, what: str, communities: int,
           beside: Callable[[], Any] | None = None,
           started: Callable[[], None] | None = None) -> Iterator[Callable[[], Any]]:
    """Do one stage's work beside the run's next steps; give a function that returns its value.

    From :data:`livingcircle.settings.process_pool_min_communities` ``communities`` on, where
    processes fork and the run may use more than one (:func:`~livingcircle._parallel.
    beside_pays`), ``beside`` (default ``here``) runs in a child process
    (:class:`~livingcircle._parallel.Beside`) while the ``with`` block goes on; otherwise
    ``here`` runs here and now. ``started`` is called in this process once the work is under
    way or done. The stage is logged when the value is taken: beside, its seconds are only the
    wait for the child.
    """
    from ._parallel import Beside, beside_pays

    if not beside_pays(communities):
        value = here()
        if started is not None:
            started()
        ctx.stages.done(stage)
        yield lambda: value
        return
    with Beside(beside or here, what=what) as child:
        if started is not None:
            started()

        def taken() -> Any:
            got = child.wait()
            ctx.stages.done(stage)
            return got

        yield taken


def _basemap(ctx: _Run, data: _Inputs, net, *,
             osm) -> AbstractContextManager[Callable[[], gpd.GeoDataFrame]]:
    """Draw the basemap (stage "basemap"); a context giving a function that returns it.

    Display only (streets, water, green for the map: :func:`livingcircle.basemap.basemap_layer`),
    and one core of Python: a city's is drawn in a child process (:func:`_aside`) while this one
    measures the access, which leaves part of the second core idle, and taken back before the
    isochrones (the child holds its memory until then; ``benchmarks/CITY_SCALE.md``, "The
    basemap beside the access").
    """
    from .basemap import basemap_layer

    return _aside(ctx, "basemap", partial(basemap_layer, net, osm=osm),
                  what="drawing the basemap", communities=len(data.comm))


def _access_step(ctx: _Run, data: _Inputs, net, *, osm, speed_profiles: list[str], minutes):
    """Run steps "access" and "isochrones": walking access of every community, its isochrones.

    The basemap is drawn beside the access and taken between the two (:func:`_basemap`; ``osm``
    the network's file); returned third.
    """
    from .accessibility import measure_access

    ctx.step("access")
    with _basemap(ctx, data, net, osm=osm) as basemap:
        acc = measure_access(net, data.comm, data.fac, gates=data.gts, profile=ctx.prof,
                             speed_profiles=speed_profiles, diagnostics=ctx.diag)
        ctx.stages.done("access")
        frame = basemap()
    ctx.bar.update()
    ctx.step("isochrones")
    iso = _isochrones(ctx, acc, data.comm, minutes=minutes, speed_profiles=speed_profiles)
    ctx.done("isochrones")
    return acc, iso, frame


def _planning_step(ctx: _Run, acc, data: _Inputs, net, *, speed_profile: str, criterion: str,
                   time_speed: str, target_communities, target_households, clusters: bool,
                   siting: str):
    """Run steps "gaps", "renovation" and "clusters"; return the clusters' layers last.

    The coverage areas, then gaps and their figures, scope, needs, the plan. The uncovered
    areas are measured beside the gaps, renovation and clusters (:func:`_uncovered`): none of
    them reads those.
    """
    ctx.step("gaps")
    coverage = _coverage(ctx, acc, data)
    with _uncovered(ctx, acc, data) as uncovered:
        analysis = _gaps(ctx, acc, data, speed_profile=speed_profile, criterion=criterion,
                         time_speed=time_speed)
        analysis["coverage"] = coverage
        ctx.bar.update()
        ctx.step("renovation")
        wide, planning = _renovation(ctx, acc, data, analysis, speed_profile=speed_profile,
                                     target_communities=target_communities,
                                     target_households=target_households,
                                     location_type=ctx.location_type)
        ctx.done("renovation")
        clustered = _clusters_step(ctx, data, acc, net, wide, analysis, planning, run=clusters,
                                   speed_profile=speed_profile, siting=siting)
        analysis["uncovered"] = uncovered()
    return analysis, wide, planning, clustered


def _uncovered(ctx: _Run, acc, data: _Inputs) -> AbstractContextManager[Callable[[], Any]]:
    """Measure the uncovered areas (stage "uncovered"); a context giving a function for them.

    The function returns None when no community is a polygon. A city's are measured in a child
    process (:func:`_aside`), on one thread, while this one judges the gaps and the renovation
    and recommends the clusters, which keep about one core busy (two threads: no shorter, and
    1,491 against 1,474 MB with the run's processes at the centre;
    ``benchmarks/CITY_SCALE.md``, "The uncovered areas beside the clusters", runs 77-78). The
    isochrone cells are dropped (:func:`~livingcircle.isochrones.drop_cells`): by this process
    once the child has its copy, and by the child before it measures; no later stage unites
    them, and the clusters and the map want their memory.
    """
    from .coverage import uncovered_areas
    from .isochrones import drop_cells

    areas = bool(data.comm.geom_type.isin(["Polygon", "MultiPolygon"]).any())
    return _aside(ctx, "uncovered",
                  lambda: uncovered_areas(acc, data.fac) if areas else None,
                  beside=partial(_uncovered_without_cells, acc, data.fac),
                  started=partial(drop_cells, acc), what="measuring the uncovered areas",
                  communities=len(data.comm) if areas else 0)


def _uncovered_without_cells(acc, fac: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Measure the uncovered areas on one thread, the isochrone cells dropped first.

    In :func:`_uncovered`'s child, which the run leaves alone with the cells: the uncovered
    areas unite only street buffers (it buffers again those it needs, near the communities), and
    the cells' memory is given back before the clusters' peak meets the child's.
    """
    from .coverage import uncovered_areas
    from .isochrones import drop_cells
    from .stages import release_memory

    drop_cells(acc)
    release_memory()
    return uncovered_areas(acc, fac, threads=1)


def _clusters_step(ctx: _Run, data: _Inputs, acc, net, wide, analysis: dict, planning: dict, *,
                   run: bool, speed_profile: str, siting: str) -> dict:
    """Step "clusters": the 片区联动 clusters' layers when ``run`` (:func:`_clusters`)."""
    ctx.step("clusters")
    out = _clusters(ctx, data, acc, net, wide, analysis, planning, speed_profile=speed_profile,
                    siting=siting) if run else {}
    ctx.done("clusters")
    return out


def _result(ctx: _Run, data: _Inputs, layers: dict, *, net, acc, basemap, planning: dict,
            speed_profiles: list[str], criterion: str, speed: str) -> Result:
    """Close the run: the last layers, the metadata, the :class:`Result`."""
    ctx.bar.close()
    layers["access_points"] = acc.access_points
    layers["basemap"] = basemap
    layers["diagnostics"] = ctx.diag.to_frame()
    metadata = _metadata(ctx, net, acc, speed_profiles=speed_profiles)
    metadata["renovation_rules"] = planning["rules"]  # issue 16 §2: rules applied or not
    metadata.update(_time_metadata(ctx.prof, speed_profiles, criterion=criterion, speed=speed))
    logger.info("run finished: %d communities, %d facilities, %d diagnostics", len(data.comm),
                len(data.fac), len(ctx.diag))
    return Result(layers=layers, profile=ctx.prof, speed_profiles=speed_profiles,
                  metadata=metadata, spilled=ctx.spilled, access=acc, network=net)


#: The steps of :func:`run`, as its progress bar names them.
RUN_STEPS = ("read inputs", "walking network", "access", "isochrones", "gaps", "renovation",
             "clusters")


class _Run:
    """What the steps of one :func:`run` share: profile, diagnostics, inputs, progress, spills."""

    def __init__(self, *, prof: Profile, progress: bool, location_type: str | None = None) -> None:
        self.prof = prof
        self.location_type = location_type  # the area's 所在地类型 (二(一)), a code or None
        self.diag = Diagnostics()
        self.inputs: list[dict] = []  # metadata["inputs"]: role, path, sha256, crs records
        self.spilled: dict = {}
        self.bar = tqdm(total=len(RUN_STEPS), desc="livingcircle", disable=not progress,
                        unit="step")
        self.stages = Stages()

    def step(self, name: str) -> None:
        """Show the step that starts on the progress bar."""
        self.bar.set_postfix_str(name)

    def done(self, name: str) -> None:
        """Log the stage that ends and advance the progress bar."""
        self.stages.done(name)
        self.bar.update()

    def note(self, role: str, p) -> dict | None:
        """Record an input file (role, path, checksum) in the metadata; return its record."""
        if isinstance(p, str | Path) and Path(p).is_file():
            self.inputs.append({"role": role, "path": str(Path(p).resolve()),
                                "sha256": _sha256(Path(p))})
            return self.inputs[-1]
        return None


@dataclass
class _Inputs:
    """The inputs of a run as read and checked by :func:`_read_inputs`."""

    comm: gpd.GeoDataFrame
    gts: gpd.GeoDataFrame | None
    fac: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame | None
    boundary: gpd.GeoDataFrame | None
    source: str  # the communities file, as error messages name it
    #: every point layer read, for the check against the network: (role, file, frame)
    frames: list = field(default_factory=list)
    #: their records in metadata["inputs"] (None for a frame given in memory)
    records: list = field(default_factory=list)
    #: buildings (issue 16 §1), by :func:`_buildings_heritage`: None without a buildings file
    buildings: _Buildings | None = None


def _read_inputs(ctx: _Run, *, osm, communities, gates, facilities, facilities_crs, sites,
                 boundary, claimed) -> _Inputs:
    """Read and check every input file of a run (step "read inputs")."""
    from . import _validate, io

    bnd = None
    if boundary is not None:
        ctx.note("boundary", boundary)
        bnd = boundary if isinstance(boundary, gpd.GeoDataFrame) else \
            io.read_boundary(boundary, diagnostics=ctx.diag)
    files = _described_inputs(communities=communities, gates=gates, facilities=facilities,
                              sites=sites, facilities_crs=facilities_crs)
    frames: list = []
    records: list = []

    def read(role, f, reader, **kw):
        if isinstance(f, gpd.GeoDataFrame):
            frames.append((role, None, f))
            records.append(None)
            return f
        entry = ctx.note(role, f.path)
        gdf = reader(f.path, coord_crs=f.crs, crs_column=f.crs_column,
                     columns=f.column_mapping(), layer=f.layer, diagnostics=ctx.diag, **kw)
        if entry is not None:
            entry.update(_crs_record(f, gdf.attrs.get("input", {})))
        frames.append((role, f, gdf))
        records.append(entry)
        return gdf

    first = files["communities"][0]
    if isinstance(first, gpd.GeoDataFrame):
        first = _validate.keep_in_area(first, bnd, claimed=claimed, layer="communities",
                                       source="communities", diagnostics=ctx.diag)
    comm = read("communities", first, io.read_communities, boundary=bnd, claimed=claimed)
    gts = None
    if files["gates"]:
        g = files["gates"][0]
        if isinstance(g, gpd.GeoDataFrame):
            g = _validate.drop_gates_far_from_community(g, comm, source="gates",
                                                        diagnostics=ctx.diag)
        gts = read("gates", g, io.read_gates, communities=comm)
    fac_frames = [read("facilities", f, io.read_facilities, profile=ctx.prof, boundary=bnd)
                  for f in files["facilities"]]
    fac = _facilities(ctx, fac_frames, osm=osm, boundary=bnd)
    site_gdf = None
    if files["sites"]:
        site_gdf = read("sites", files["sites"][0], io.read_sites, boundary=bnd)
    source = "communities" if isinstance(first, gpd.GeoDataFrame) else str(first.path)
    return _Inputs(comm=comm, gts=gts, fac=fac, sites=site_gdf, boundary=bnd, source=source,
                   frames=frames, records=records)


def _facilities(ctx: _Run, fac_frames: list, *, osm, boundary) -> gpd.GeoDataFrame:
    """Join the facilities files (or take the OSM file's POIs); ids must not repeat."""
    if not fac_frames:
        if osm is None:
            msg = "give a facilities file or an OSM file to take facilities from"
            raise InputError(msg)
        from .osm import read_osm_facilities

        fac_frames.append(read_osm_facilities(osm, profile=ctx.prof, boundary=boundary,
                                              diagnostics=ctx.diag))
    fac = pd.concat(fac_frames, ignore_index=True)
    fac = gpd.GeoDataFrame(fac, geometry="geometry", crs=4326)
    if "capacity" not in fac.columns:
        fac["capacity"] = float("nan")  # unknown, never guessed
    dup = fac["facility_id"].duplicated(keep=False)
    if dup.any():
        ids = fac.loc[dup, "facility_id"].unique()[:5].tolist()
        msg = (f"facility ids repeat across the facilities files: {ids}; give each file its own "
               "id prefix")
        raise InputError(msg)
    return fac


# --- buildings (楼栋) and heritage layers, issue 16 §1 and §2 ---------------------------------

@dataclass
class _Buildings:
    """The buildings of a run, judged per building (:mod:`livingcircle.buildings`)."""

    scope: pd.DataFrame  # building_scope
    needs: pd.DataFrame  # building_needs
    summary: pd.DataFrame  # community_building_summary, a row per community
    layer: gpd.GeoDataFrame  # buildings_layer, the output layer ``buildings``


#: The community columns the buildings add to the communities layer (from the summary).
BUILDING_COUNTS = ("n_buildings", "n_buildings_in_scope", "households_in_scope",
                   "households_in_scope_unknown", "n_grade_d", "grade_d_buildings",
                   "n_elevator_retrofit")
#: The heritage columns a heritage layer adds to the communities layer (from the marks).
HERITAGE_COLUMNS = ("heritage_from", "heritage_names", "heritage_classes_zh")
#: The community needs a building decides, with the building attributes that trigger them.
BUILDING_ITEMS = {"elevator_retrofit": "floors;has_elevator",
                  "unit_completion": "complete_units",
                  "building_safety": "safety_grade"}


def _one_file(value, role: str):
    """Return the one :class:`~livingcircle.inputs.InputFile` of ``role`` (a file, not a frame)."""
    from .inputs import as_input_files

    files = as_input_files(value, role=role)
    if len(files) != 1 or isinstance(files[0], gpd.GeoDataFrame):
        got = "a GeoDataFrame" if len(files) == 1 else f"{len(files)} files"
        msg = f"{role}: give one file (a path or InputFile), not {got}"
        raise InputError(msg)
    return files[0].with_name_hint()


def _buildings_heritage(ctx: _Run, data: _Inputs, *, buildings, heritage,
                        strict: bool = False) -> None:
    """Read the heritage and buildings layers (issue 16 §1, §2) into ``data``.

    The heritage layer marks the communities it touches (:func:`livingcircle.heritage.
    mark_heritage`): their ``heritage`` becomes True (False for a community it does not touch
    unless the attribute says True) and they gain :data:`HERITAGE_COLUMNS`, before access is
    measured, so that the communities layer and the needs' protection requirement follow it.
    The buildings are read (set-aside rows to the diagnostics), judged per building and
    summed per community into ``data.buildings`` for :func:`_renovation`.
    """
    if heritage is not None:
        from .heritage import mark_heritage, read_heritage

        f = _one_file(heritage, "heritage")
        if f.crs_column is not None:
            msg = (f"{f.path}: a heritage layer has one coordinate system; a per-row system "
                   "column (crs_column) is for tables of points")
            raise InputError(msg)
        entry = ctx.note("heritage", f.path)
        layer = read_heritage(str(f.path), layer=f.layer, columns=f.column_mapping(),
                              coord_crs=f.crs, boundary=data.boundary, diagnostics=ctx.diag)
        if entry is not None:
            entry.update(_crs_record(f, layer.attrs.get("input", {})))
        marks = mark_heritage(data.comm, layer).set_index("community_id")
        ids = data.comm["community_id"].astype(str)
        for col in ("heritage", *HERITAGE_COLUMNS):
            data.comm[col] = marks[col].reindex(ids.to_numpy()).to_numpy()
    if buildings is None:
        return
    from .buildings import (
        building_needs,
        building_scope,
        buildings_layer,
        community_building_summary,
        read_buildings,
    )

    f = _one_file(buildings, "buildings")
    entry = ctx.note("buildings", f.path)
    b = read_buildings(str(f.path), communities=data.comm, layer=f.layer,
                       columns=f.column_mapping(), coord_crs=f.crs, crs_column=f.crs_column,
                       diagnostics=ctx.diag, boundary=data.boundary, strict=strict)
    if entry is not None:
        entry.update(_crs_record(f, b.attrs.get("input", {})))
        # the buildings are checked against their own communities, not the streets
        entry["community_check"] = b.attrs.get("input", {}).get("community_check")
    scope = building_scope(b, year_limit=settings.renovation_year_limit)
    needs = building_needs(b, scope)
    data.buildings = _Buildings(
        scope=scope, needs=needs,
        summary=community_building_summary(b, scope, needs, communities=data.comm),
        layer=buildings_layer(b, scope, needs))


def _scope_with_buildings(scope: pd.DataFrame, bld: _Buildings | None,
                          comm: pd.DataFrame, location_type: str | None) -> pd.DataFrame:
    """Give a community with buildings the scope of its buildings (``scope_from``).

    The community's location rule (二(一)) applies to it (``combine_community_scope``).
    """
    if bld is None:
        return scope
    from .buildings import combine_community_scope

    return combine_community_scope(scope, bld.summary, communities=comm,
                                   location_type=location_type)


def _needs_with_buildings(needs: pd.DataFrame, scope: pd.DataFrame,
                          bld: _Buildings | None) -> pd.DataFrame:
    """Replace a building-scoped community's building needs by those of its buildings.

    For a community whose scope comes from its buildings, the items of :data:`BUILDING_ITEMS`
    are judged per building (:func:`livingcircle.buildings.building_needs`): one row per item
    (trigger 'building') names the buildings that need it (``building_ids``), assessed 'need'
    when one does, else 'unknown' naming the buildings to survey. The community attributes'
    rows of these items are dropped for such a community (its buildings decide); every other
    community keeps them.
    """
    if bld is None:
        return needs
    by_bld = set(scope.loc[scope["scope_from"] == "buildings", "community_id"].astype(str))
    cid = needs["community_id"].astype(str)
    keep = ~(cid.isin(by_bld) & needs["item_id"].isin(list(BUILDING_ITEMS)))
    protection = needs.groupby(cid)["protection_requirement"].first()
    rows = []
    bn = bld.needs.assign(community_id=bld.needs["community_id"].astype(str))
    n_in = bld.summary.set_index(bld.summary["community_id"].astype(str))["n_buildings_in_scope"]
    for (c, item), g in bn[bn["community_id"].isin(by_bld)].groupby(
            ["community_id", "item_id"], sort=False):
        need = g[g["assessment"] == "need"]
        use = need if len(need) else g
        ids = use["building_id"].astype(str).tolist()
        first = use.iloc[0]
        n = int(n_in.get(c, 0))
        if len(need):
            detail = f"{len(ids)} of {n} buildings in scope need it: {';'.join(ids)}"
            detail_zh = f"{n}栋纳入范围的楼栋中{len(ids)}栋：{'、'.join(ids)}"
        else:
            detail = f"unknown for {len(ids)} of {n} buildings in scope (survey): {';'.join(ids)}"
            detail_zh = f"{n}栋纳入范围的楼栋中{len(ids)}栋未知，需调查：{'、'.join(ids)}"
        rows.append({
            "community_id": c, "renovation_class": first["renovation_class"],
            "renovation_class_zh": first["renovation_class_zh"],
            "priority_zh": first["priority_zh"], "item_id": item, "item_zh": first["item_zh"],
            "trigger": "building", "trigger_attribute": BUILDING_ITEMS[str(item)],
            "trigger_detail": detail, "trigger_detail_zh": detail_zh, "required": pd.NA,
            "assessment": "need" if len(need) else "unknown",
            "protection_requirement": protection.get(c, ""), "building_ids": ";".join(ids)})
    out = needs[keep].assign(building_ids="")
    if rows:
        out = pd.concat([out, pd.DataFrame(rows, columns=out.columns)], ignore_index=True)
        out = out.astype({"required": needs["required"].dtype})
    # the community's rows together, in the order of the needs table
    order = {c: k for k, c in enumerate(dict.fromkeys(needs["community_id"].astype(str)))}
    rank = out["community_id"].astype(str).map(order).fillna(len(order))
    return out.iloc[rank.argsort(kind="stable")].reset_index(drop=True)


def _with_building_counts(wide: pd.DataFrame, scope: pd.DataFrame,
                          bld: _Buildings | None) -> pd.DataFrame:
    """Add :data:`BUILDING_COUNTS` and ``scope_from`` to the communities layer.

    The counts of a community without buildings are empty (unknown), not 0: only
    ``n_buildings`` says 0.
    """
    if bld is None:
        return wide
    s = bld.summary.assign(community_id=bld.summary["community_id"].astype(str))
    s = s.set_index("community_id")
    ids = wide["community_id"].astype(str)
    out = wide.copy()
    none = (s["n_buildings"] == 0).reindex(ids).fillna(True).to_numpy()
    for col in BUILDING_COUNTS:
        values = s[col].reindex(ids)
        if col == "n_buildings":
            out[col] = values.fillna(0).astype("int64").to_numpy()
        elif col == "grade_d_buildings":
            out[col] = values.where(~none, None).to_numpy()
        else:
            out[col] = pd.array(values.where(~none).to_numpy(), dtype="Int64")
    out["scope_from"] = ids.map(scope.set_index(scope["community_id"].astype(str))[
        "scope_from"]).to_numpy()
    return out


def _walking_network(ctx: _Run, data: _Inputs, *, osm, place, strict: bool, keep_graph: bool):
    """Build the walking network and check the inputs against it; return it.

    ``keep_graph=False``: a ``.pbf`` goes from pyrosm's tables straight to arrays, whatever its
    size (:func:`livingcircle.network.build_network` with ``graph=False``). The command line
    and ``livingcircle batch`` ask for it, since nothing they write reads the networkx graph:
    at the city centre of ``benchmarks/CITY_SCALE.md`` (142,365 way nodes, under
    :data:`livingcircle.settings.network_graph_max_nodes`) the graph took 7.0 s and 499 MB
    against 1.6 s and 198 MB for the arrays. An ``.osm`` file or a download is read into a
    graph by osmnx either way; without ``keep_graph`` only its edge table and street classes
    are kept (the same table the graph gives, so the same figures).
    """
    from . import _validate
    from .inputs import check_against_network
    from .network import build_network

    ctx.note("osm", osm)
    graph = None if keep_graph else False
    net = build_network(osm=osm, place=place, boundary=data.boundary, diagnostics=ctx.diag,
                        graph=graph)
    for rec, check in zip(data.records, check_against_network(net, data.frames, strict=strict),
                          strict=True):
        if rec is not None:
            rec["network_check"] = {k: v for k, v in check.items() if k not in ("role",
                                                                                 "source")}
    _validate.check_reachable(net, data.comm, data.gts, source=data.source)
    ctx.stages.done("walking network")
    return net


def _isochrones(ctx: _Run, acc, comm: gpd.GeoDataFrame, *, minutes, speed_profiles: list[str]):
    """Draw the isochrones of every community (a city's go to a temporary file).

    First, where it pays, every cell the isochrones and coverage unite is built once on the
    worker processes (stage "isochrone cells", :func:`livingcircle.isochrones.prepare_cells`),
    kept in the run's memory, or on disk where they would not fit its caches (the coverage
    reads them again); both are dropped once the uncovered areas have started
    (:func:`_uncovered`).
    """
    from .isochrones import isochrones, iter_isochrones, prepare_cells, walk_m

    if prepare_cells(acc, origins=len(comm), store=True,
                     reach_m=walk_m(acc, minutes, speed_profiles=speed_profiles[:1])):
        ctx.stages.done("isochrone cells")

    if len(comm) <= settings.spill_above_communities:
        return isochrones(acc, minutes=minutes, speed_profiles=speed_profiles[:1])
    # a city's polygons go to a temporary GeoPackage chunk by chunk; only the attributes stay
    from ._spill import SpilledLayer

    spill = SpilledLayer("isochrones")
    for chunk in iter_isochrones(acc, minutes=minutes, speed_profiles=speed_profiles[:1],
                                 chunk_size=settings.isochrone_chunk_size):
        spill.append(chunk)
        logger.debug("isochrones: %d rows streamed to %s", len(spill), spill.path)
    ctx.spilled["isochrones"] = spill
    logger.info("isochrones: %d rows kept in %s (more than %d communities)", len(spill),
                spill.path, settings.spill_above_communities)
    return spill.attributes


def _gaps(ctx: _Run, acc, data: _Inputs, *, speed_profile: str, criterion: str = "distance",
          time_speed: str | None = None) -> dict:
    """Gaps, completeness, capacity and area figures (step "gaps", after its coverage)."""
    from .capacity import capacity_access
    from .gaps import area_figures, completeness, find_gaps

    comm, fac, prof = data.comm, data.fac, ctx.prof
    out: dict = {"gaps": find_gaps(acc.table, prof, speed_profile=speed_profile,
                                   criterion=criterion, time_speed=time_speed)}
    out["completeness"] = completeness(out["gaps"], prof)
    ctx.stages.done("gaps")
    if "population" in comm.columns and comm["population"].notna().any():
        out["capacity"] = capacity_access(acc.pairs, comm, fac, prof,
                                          persons_per_place=settings.capacity_persons_per_place)
    else:
        logger.info("no population given: the capacity measure is skipped")
    ctx.stages.done("capacity")
    out["area_figures"] = area_figures(out["gaps"], comm, prof)
    ctx.stages.done("area figures")
    return out


def _coverage(ctx: _Run, acc, data: _Inputs) -> pd.DataFrame:
    """Draw the coverage areas of every category (stage "coverage", first of step "gaps").

    They unite the isochrone cells, which the uncovered areas' start drops: so they come
    before the gaps, and the gaps, capacity, area figures and renovation (one core of Python,
    about 11 s at 1M) run beside the uncovered areas' child instead of with a core idle
    (``benchmarks/CITY_SCALE.md``, "What was left around the drawing"). Neither reads the
    other.
    """
    from .coverage import coverage_areas

    if len(data.comm) > settings.spill_above_communities:
        # a city's coverage polygons (hundreds of MB) are only written: to disk tile by tile
        from ._spill import SpilledLayer
        from .coverage import iter_coverage_areas

        # its tiles are single and multi polygons: promoted as they come, GDAL copies the layer
        ctx.spilled["coverage"] = SpilledLayer("coverage", multi=True)
        for chunk in iter_coverage_areas(acc, data.fac):
            ctx.spilled["coverage"].append(chunk)
        out = ctx.spilled["coverage"].attributes
    else:
        out = coverage_areas(acc, data.fac)
    ctx.stages.done("coverage")
    return out


def _renovation(ctx: _Run, acc, data: _Inputs, analysis: dict, *, speed_profile: str,
                target_communities, target_households,
                location_type: str | None = None) -> tuple[gpd.GeoDataFrame, dict]:
    """Renovation scope, needs and the annual plan; the wide communities layer."""
    from .renovation import (
        annual_plan,
        district_planning_items,
        renovation_needs,
        renovation_scope,
        scope_rules_applied,
    )

    comm = data.comm
    wide = acc.wide(speed_profile).merge(analysis["completeness"], on="community_id",
                                         how="left")
    scope = _scope_with_buildings(renovation_scope(comm, location_type=location_type),
                                  data.buildings, comm, location_type)
    needs = renovation_needs(comm, analysis["gaps"], scope, ctx.prof,
                             capacity=analysis.get("capacity"))
    needs = _needs_with_buildings(needs, scope, data.buildings)
    plan, not_ready = annual_plan(comm, scope, needs, target_communities=target_communities,
                                  target_households=target_households)
    wide = wide.merge(scope[["community_id", "in_scope", "reasons"]]
                      .rename(columns={"reasons": "scope_reasons"}),
                      on="community_id", how="left")
    wide = _with_building_counts(wide, scope, data.buildings)
    wide = gpd.GeoDataFrame(wide, geometry="geometry", crs=comm.crs)
    planning = {"scope": scope, "needs": needs, "plan": plan, "not_ready": not_ready,
                # issue 16 §2: gaps the district plans, and which optional scope rules applied
                "district_planning": district_planning_items(analysis["gaps"], comm, ctx.prof,
                                                             scope),
                "rules": scope_rules_applied(comm, location_type)}
    return wide, planning


def _layers(data: _Inputs, acc, iso, analysis: dict, wide, planning: dict) -> dict:
    """Return the layers of the result so far, in the order of :data:`LAYER_ORDER`."""
    layers: dict[str, pd.DataFrame] = {"communities": wide}
    if data.gts is not None:
        layers["gates"] = data.gts
    layers["facilities"] = data.fac
    if data.sites is not None:
        layers["sites"] = data.sites
    layers["access"] = acc.table
    layers["isochrones"] = iso
    for name in ("gaps", "completeness", "capacity", "area_figures", "coverage", "uncovered"):
        if analysis.get(name) is not None:
            layers[name] = analysis[name]
    for name in ("scope", "needs", "plan", "not_ready", "district_planning"):
        if planning.get(name) is not None:
            layers[name] = planning[name]
    if data.buildings is not None:
        layers["buildings"] = data.buildings.layer
    return layers


def _clusters(ctx: _Run, data: _Inputs, acc, net, wide, analysis: dict, planning: dict, *,
              speed_profile: str, siting: str = "mclp") -> dict:
    """片区联动 clusters with the default options, when any community is in scope."""
    scope = planning.get("scope")
    if scope is None or not is_yes(scope["in_scope"]).any():
        return {}
    from .clusters import recommend

    return recommend({
        "communities": wide, "gaps": analysis["gaps"], "access": acc, "network": net,
        "profile": ctx.prof,
        "facilities": data.fac, "sites": data.sites, "gates": data.gts,
        "plan": planning.get("plan"), "speed_profile": speed_profile}, siting=siting)


def _check_location_type(location_type: str | None) -> str | None:
    """Stop before the analysis on a location type outside 二(一)'s list (issue 16 §2)."""
    from .renovation import check_location_type

    return check_location_type(location_type)


def _check_siting(siting: str) -> None:
    """Stop before the analysis on an unknown siting model (issue 16 §4)."""
    from .siting import SITING_MODELS

    if siting not in SITING_MODELS:
        msg = (f"--siting {siting!r} is not a siting model; use one of {list(SITING_MODELS)} "
               "(mclp: the sites serving most households; lscp: the fewest sites)")
        raise InputError(msg)


def _programme_options(ctx: _Run, *, years, capacity, capacity_unit, costs) -> dict | None:
    """Check the options of the multi-year programme before the analysis starts.

    Returns None without ``years`` (the run is as without a programme), else the keywords of
    :func:`livingcircle.programme.programme_layers`: years, capacity, unit and the cost table.
    """
    from ._errors import advice
    from .programme import parse_capacity, parse_years, read_costs

    def opt(name: str) -> str:
        return advice(name, "--" + name.replace("_", "-"), name)

    if years is None:
        given = [opt(n) for n, v in (("capacity", capacity), ("capacity_unit", capacity_unit),
                                     ("costs", costs)) if v is not None]
        if given:
            msg = (f"{', '.join(given)} plan(s) a programme: give {opt('years')} too "
                   "(e.g. 2026-2030)")
            raise InputError(msg)
        return None
    year_list = parse_years(years, option=opt("years")) if isinstance(years, str) \
        else sorted({int(y) for y in years})
    if capacity is None:
        msg = (f"{opt('years')} needs {opt('capacity')}: what one year can take, e.g. 3000 "
               "households, or 2026=3000,2027=3500")
        raise InputError(msg)
    caps = parse_capacity(capacity, option=opt("capacity"))
    if isinstance(caps, dict):
        missing = [y for y in year_list if y not in caps]
        if missing:
            msg = f"{opt('capacity')} {capacity!r}: no capacity for year(s) {missing}"
            raise InputError(msg)
    if not all(c > 0 for c in (caps.values() if isinstance(caps, dict) else [caps])):
        msg = f"{opt('capacity')} {capacity!r}: a capacity per year is a number > 0"
        raise InputError(msg)
    unit = capacity_unit or "households"
    if unit not in ("households", "communities", "budget"):
        msg = f"{opt('capacity_unit')} {unit!r}: use households, communities or budget"
        raise InputError(msg)
    table = None
    if unit == "budget":
        if costs is None:
            msg = (f"{opt('capacity_unit')} budget needs {opt('costs')} FILE: your cost table "
                   "(CSV/Excel with item, cost_per_community and/or cost_per_household); "
                   "livingcircle has no default costs")
            raise InputError(msg)
    if costs is not None:
        if isinstance(costs, pd.DataFrame):
            from .programme import check_costs

            table = check_costs(costs)
        else:
            ctx.note("costs", costs)
            table = read_costs(costs)
    return {"years": year_list, "capacity": caps, "unit": unit, "costs": table}


def _programme(ctx: _Run, layers: dict, options: dict | None) -> dict:
    """Make the multi-year programme (issue 16 §5) from the plan and clusters, with ``years``."""
    if options is None:
        return {}
    from .programme import programme_layers

    out = programme_layers(layers, **options)
    ctx.stages.done("programme")
    return out


def _check_time_options(prof: Profile, speed_profiles: list, *, criterion: str,
                        speed: str) -> None:
    """Check ``criterion``, ``speed`` and the speed profiles before any work (issue 16 §3)."""
    from .gaps import CRITERIA

    if criterion not in CRITERIA:
        msg = (f"criterion (--criterion): unknown {criterion!r}; use one of "
               f"{', '.join(CRITERIA)}")
        raise InputError(msg)
    for name, what in [(speed, "speed (--speed)"),
                       *((s, "speed_profiles (--speeds)") for s in speed_profiles
                         if isinstance(s, str))]:
        if name not in prof.speeds:
            msg = (f"{what}: unknown speed {name!r}; the profile {prof.name!r} names "
                   f"{', '.join(prof.speeds)} (its 'speeds' section)")
            raise InputError(msg)


def _time_metadata(prof: Profile, speed_profiles: list, *, criterion: str, speed: str) -> dict:
    """Return the run's criterion and every speed it used, with source and status (issue 16 §3)."""
    names = [s for s in dict.fromkeys([*speed_profiles, speed]) if isinstance(s, str)]
    return {
        "criterion": criterion,
        "time_speed": speed,
        "speeds": {n: {"m_per_min": prof.speeds[n].m_per_min, "name_zh": prof.speeds[n].name_zh,
                       "name_en": prof.speeds[n].name_en, "status": prof.speeds[n].status,
                       "source": prof.speeds[n].source_text,
                       "derivation": prof.speeds[n].derivation}
                   for n in names},
    }


def _metadata(ctx: _Run, net, acc, *, speed_profiles: list[str]) -> dict:
    """Return the metadata of a run: tool, version, date, run id, profile, inputs, settings."""
    from . import __version__
    from .network import graph_arrays_summary

    return {
        "tool": "livingcircle",
        "version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "run_id": uuid.uuid4().hex,
        "profile": ctx.prof.name,
        "profile_path": ctx.prof.path,
        "speed_profile": speed_profiles[0],
        # measured speeds (m/min) from the profile; "speeds" (added by run) holds their sources
        "speed_profiles": dict(acc.speeds),
        "network": {"source": net.source, **graph_arrays_summary(net)},
        # per input file: role, path, sha256 and its coordinate system (stated, from the file
        # name, the file's own CRS, the one applied, a per-row column and its counts)
        "inputs": ctx.inputs,
        "search_cutoff_m": acc.cutoff_m,
        "max_snap_distance_m": settings.max_snap_distance_m,
    }


def run_sample(**kwargs) -> Result:
    """Run :func:`run` on the bundled synthetic sample district."""
    from .sample import sample_paths

    p = sample_paths()
    result = run(osm=p["osm"], communities=p["communities"], gates=p["gates"],
                 facilities=[p["facilities"], p["amap_csv"]], facilities_crs=None,
                 sites=p["sites"], boundary=p["boundary"], buildings=p["buildings"],
                 heritage=p["heritage"], **kwargs)
    # the SYNTHETIC label travels with the result (written into livingcircle_metadata), so that
    # maps, figures and reports made from it by another install or on another machine keep it
    result.metadata["synthetic"] = True
    return result


def run_summary(result: Result, written: list[Path]) -> str:
    """Return what ``livingcircle run``/``demo`` print after writing: counts, scope, files."""
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
