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
from dataclasses import dataclass, field
from pathlib import Path

import click
import geopandas as gpd
import pandas as pd
from tqdm.auto import tqdm

from . import settings
from ._atomic import atomic_file, check_targets
from .diagnostics import Diagnostics
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
    "access_points",
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

    def write(self, out: str | Path, *, overwrite: bool = True,
              map_html: bool = True) -> list[Path]:
        """Write ``livingcircle.gpkg``, ``map.html`` and the plan tables into folder ``out``.

        Every file is written to a temporary name and moved into place when complete; an input
        file is never overwritten.
        """
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        inputs = [i["path"] for i in self.metadata.get("inputs", [])]
        written = []
        stages = _Stages()
        gpkg = out / "livingcircle.gpkg"
        check_targets([gpkg], inputs=inputs, overwrite=overwrite)
        with atomic_file(gpkg, inputs=inputs, overwrite=overwrite) as tmp:
            write_gpkg(self, tmp)
        written.append(gpkg)
        stages.done("write geopackage")
        if "plan" in self.layers:
            from .renovation import plan_table_zh

            plan_zh = plan_table_zh(self.layers["plan"])
            csv = out / "annual_plan.csv"
            with atomic_file(csv, inputs=inputs, overwrite=overwrite) as tmp:
                plan_zh.to_csv(tmp, index=False, encoding="utf-8-sig")
            xlsx = out / "annual_plan.xlsx"
            with atomic_file(xlsx, inputs=inputs, overwrite=overwrite) as tmp:
                with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
                    plan_zh.to_excel(xw, sheet_name="年度改造计划", index=False)
                    if "not_ready" in self.layers:
                        self.layers["not_ready"].to_excel(xw, sheet_name="未具备条件", index=False)
            written += [csv, xlsx]
            stages.done("write plan tables")
        if map_html:
            from .maps import make_map

            html = out / "map.html"
            with atomic_file(html, inputs=inputs, overwrite=overwrite) as tmp:
                make_map(self).save(str(tmp))
            written.append(html)
            stages.done("write map")
        return written


def _gpkg_safe(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if c == "geometry":
            continue
        s = out[c]
        if s.dtype == object:
            if s.map(lambda v: isinstance(v, list | tuple | set | dict)).any():
                out[c] = s.map(lambda v: ";".join(map(str, v))
                               if isinstance(v, list | tuple | set) else v)
    return out


def write_gpkg(result: Result, path: str | Path) -> None:
    """Write every layer of ``result`` (and a metadata table) into one GeoPackage.

    A spilled layer (:attr:`Result.spilled`) is copied from its temporary file chunk by chunk,
    so that its geometries are never all in memory.
    """
    import json

    import pyogrio

    path = Path(path)
    first = True
    spilled = getattr(result, "spilled", None) or {}
    names = [n for n in LAYER_ORDER if n in result.layers]
    names += [n for n in result.layers if n not in names]
    for name in names:
        df = result.layers[name]
        if name in spilled:
            spilled[name].write_to(path, layer=name, append=not first)
        elif isinstance(df, gpd.GeoDataFrame) and df.geometry.name in df.columns:
            gdf = _gpkg_safe(df)
            pyogrio.write_dataframe(gdf, path, layer=name, driver="GPKG",
                                    append=not first)
        else:
            table = _gpkg_safe(pd.DataFrame(df))
            pyogrio.write_dataframe(table, path, layer=name, driver="GPKG", append=not first)
        first = False
    meta = pd.DataFrame({"key": list(result.metadata),
                         "value": [json.dumps(v, ensure_ascii=False, default=str)
                                   for v in result.metadata.values()]})
    pyogrio.write_dataframe(meta, path, layer="livingcircle_metadata", driver="GPKG",
                            append=not first)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _as_list(x):
    if x is None:
        return []
    if isinstance(x, str | Path | gpd.GeoDataFrame):
        return [x]
    return list(x)


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
    profile: str | Path | Profile | None = None,
    speed_profiles=("adult", "elderly", "winter"),
    isochrone_minutes=(5, 10, 15),
    target_communities: int | None = None,
    target_households: int | None = None,
    clusters: bool = True,
    progress: bool = True,
) -> Result:
    """Run the whole analysis for one study area.

    Parameters
    ----------
    communities
        Communities file (or GeoDataFrame with ``community_id``).
    osm, place
        The OSM file for the walking network (and facilities when none are given), or a place name
        to download (needs the internet).
    gates
        Optional gates file (``gate_id``, ``community_id``).
    facilities
        One or more facilities files (GeoPackage/Shapefile/GeoJSON/CSV/Excel); without them the
        OSM file's POIs are classified.
    facilities_crs
        Coordinate system of CSV/Excel facilities: 'wgs84', 'gcj02' (AMap) or 'bd09' (Baidu).
        A file named ``*gcj02*``/``*bd09*`` is taken as such when this is not given.
    sites
        Optional candidate sites for new facilities.
    boundary
        Optional study boundary; the network keeps a 15-minute halo around it.
    profile
        Standard profile (path or :class:`Profile`); default: the bundled one.
    speed_profiles
        Speed profiles to measure; gaps are judged with the first.
    isochrone_minutes
        Minutes of the isochrones drawn for every community (first speed profile).
    target_communities, target_households
        The size of this year's plan (one of them); default: every ready community.
    clusters
        Also recommend 片区联动 clusters with the default options
        (:func:`livingcircle.clusters.recommend`).
    progress
        Show a progress bar.

    Returns
    -------
    Result
    """
    from . import io
    from .accessibility import measure_access
    from .isochrones import isochrones, iter_isochrones
    from .network import build_network

    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    diag = Diagnostics()
    speed_profiles = [speed_profiles] if isinstance(speed_profiles, str) else list(speed_profiles)
    inputs = []

    def note(kind, p):
        if isinstance(p, str | Path) and Path(p).is_file():
            inputs.append({"role": kind, "path": str(Path(p).resolve()),
                           "sha256": _sha256(Path(p))})

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
    note("communities", communities)
    comm = communities if isinstance(communities, gpd.GeoDataFrame) else \
        io.read_communities(communities, boundary=bnd, diagnostics=diag)
    gts = None
    if gates is not None:
        note("gates", gates)
        gts = gates if isinstance(gates, gpd.GeoDataFrame) else \
            io.read_gates(gates, communities=comm, diagnostics=diag)
    fac_frames = []
    for f in _as_list(facilities):
        note("facilities", f)
        if isinstance(f, gpd.GeoDataFrame):
            fac_frames.append(f)
            continue
        crs = facilities_crs
        low = Path(f).name.lower()
        if crs is None and Path(f).suffix.lower() in (".csv", ".xlsx", ".xls"):
            crs = "gcj02" if "gcj02" in low or "amap" in low else (
                "bd09" if "bd09" in low or "baidu" in low else None)
        fac_frames.append(io.read_facilities(f, coord_crs=crs, profile=prof, boundary=bnd,
                                             diagnostics=diag))
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
    if sites is not None:
        note("sites", sites)
        site_gdf = sites if isinstance(sites, gpd.GeoDataFrame) else \
            io.read_sites(sites, boundary=bnd, diagnostics=diag)
    stages.done("read inputs")
    bar.update()

    step("walking network")
    note("osm", osm)
    net = build_network(osm=osm, place=place, boundary=bnd, diagnostics=diag)
    stages.done("walking network")
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
    from .gaps import area_figures, capacity_access, completeness, find_gaps

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
    from .isochrones import coverage_areas, uncovered_areas

    if len(comm) > settings.spill_above_communities:
        # a city's coverage polygons (hundreds of MB) are only written: to disk tile by tile
        from ._spill import SpilledLayer
        from .isochrones import iter_coverage_areas

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
        needs = renovation_needs(comm, gaps, scope, prof, capacity=cap,
                                 elderly_share_threshold=settings.elderly_share_threshold)
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
    if clusters and scope is not None and (scope["in_scope"] == "yes").any():
        from .clusters import recommend

        layers.update(recommend({
            "communities": wide, "gaps": gaps, "access": acc, "network": net,
            "profile": prof, "facilities": fac, "sites": site_gdf, "gates": gts,
            "plan": plan, "speed_profile": speed_profiles[0]}))
    stages.done("clusters")
    bar.update()
    bar.close()
    layers["access_points"] = acc.access_points
    layers["diagnostics"] = diag.to_frame()

    from . import __version__
    from .network import graph_arrays_summary

    metadata = {
        "tool": "livingcircle",
        "version": __version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "profile": prof.name,
        "profile_path": prof.path,
        "speed_profile": speed_profiles[0],
        "speed_profiles": {s: settings.speed_m_per_min(s) for s in speed_profiles},
        "network": {"source": net.source, **graph_arrays_summary(net)},
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
    return run(osm=p["osm"], communities=p["communities"], gates=p["gates"],
               facilities=[p["facilities"], p["amap_csv"]], facilities_crs=None,
               sites=p["sites"], boundary=p["boundary"], **kwargs)


def _summary(result: Result, written: list[Path]) -> str:
    comm = result.layers["communities"]
    lines = [f"{len(comm)} communities, {len(result.layers['facilities'])} facilities, "
             f"{len(result.layers['diagnostics'])} diagnostic records"]
    if "in_scope" in comm.columns:
        counts = comm["in_scope"].value_counts().to_dict()
        lines.append("renovation scope: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if "clusters" in result.layers:
        lines.append(f"片区联动 clusters: {len(result.layers['clusters'])}, proposed sites: "
                     f"{len(result.layers.get('proposed_sites', []))}")
    lines.append("wrote:")
    lines += [f"  {p}" for p in written]
    return "\n".join(lines)


@click.command("demo")
@click.option("--out", "out", default="maps/demo", show_default=True,
              type=click.Path(file_okay=False), help="Output folder.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def demo_command(out: str, no_progress: bool) -> None:
    """Run the whole analysis on the bundled SYNTHETIC sample district."""
    from .sample import SYNTHETIC_LABEL

    click.echo(SYNTHETIC_LABEL)
    result = run_sample(progress=not no_progress)
    written = result.write(out)
    click.echo(_summary(result, written))


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
        click.option("--facilities-crs", type=click.Choice(["wgs84", "gcj02", "bd09"]),
                     help="Coordinate system of CSV/Excel facilities."),
        click.option("--sites", type=click.Path(exists=True, dir_okay=False),
                     help="Candidate sites for new facilities."),
        click.option("--boundary", type=click.Path(exists=True, dir_okay=False),
                     help="Study boundary."),
        click.option("--profile", type=click.Path(exists=True, dir_okay=False),
                     help="Standard profile YAML (default: the bundled one)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def run_from_options(*, osm, place, communities, gates, facilities, facilities_crs, sites,
                     boundary, profile, progress=True, **kwargs) -> Result:
    """Call :func:`run` with the values of :func:`input_options` (checks what is required)."""
    if osm is None and place is None:
        msg = "give --osm FILE (or --place NAME when online)"
        raise click.UsageError(msg)
    if communities is None:
        msg = "give --communities FILE"
        raise click.UsageError(msg)
    return run(osm=osm, place=place, communities=communities, gates=gates,
               facilities=list(facilities) or None, facilities_crs=facilities_crs, sites=sites,
               boundary=boundary, profile=profile, progress=progress, **kwargs)


@click.command("run")
@input_options
@click.option("--speed", "speeds", multiple=True, default=("adult", "elderly", "winter"),
              show_default=True, help="Speed profile(s); gaps use the first.")
@click.option("--target-communities", type=int, help="Communities in this year's plan.")
@click.option("--target-households", type=int, help="Households in this year's plan.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def run_command(speeds, target_communities, target_households, out, no_progress, **inputs):
    """Run the analysis on your own data and write OUT/livingcircle.gpkg and OUT/map.html."""
    result = run_from_options(**inputs, speed_profiles=speeds,
                              target_communities=target_communities,
                              target_households=target_households, progress=not no_progress)
    written = result.write(out)
    click.echo(_summary(result, written))


cli_commands = [demo_command, run_command]
