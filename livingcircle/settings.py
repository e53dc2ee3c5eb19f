"""Global settings of livingcircle.

Settings are plain module-level variables; change them before calling the analysis::

    import livingcircle as lc
    lc.settings.default_speed_profile = "elderly"

Attributes
----------
speed_profiles : dict[str, dict]
    Read only unless set: the named walking speeds of the default profile's sourced ``speeds``
    section (``livingcircle/profiles/default.yaml``; :meth:`livingcircle.Profile.speed`), as
    name → {m_per_min, name_zh, name_en, status, source}. A city profile overrides them for its
    own runs (``run(profile=...)``). The metre thresholds of the standard never change with the
    speed profile.
default_speed_profile : str
    The speed profile used when none is named.
halo_minutes : float
    Width of the halo around a study boundary, in walking minutes at the fastest profile; the
    network and the facilities are kept within boundary + halo so that results at the edge
    are right.
max_snap_distance_m : float
    A community access point or facility farther than this from any walkable edge is not attached
    and is reported in the diagnostics.
search_cutoff_m : float
    Shortest-path searches stop at this distance; a facility farther than this is "not reached".
isochrone_buffer_m : float
    Half-width of the buffer drawn around reachable street segments in isochrone polygons.
block_walk_m : float
    Walking distance used for 居住街坊 (block-level) categories whose standard gives no radius.
renovation_year_limit : int
    Communities built up to the end of this year are in renovation scope (黑政办规〔2021〕15号).
boundary_access_m : float
    Without gates, a community polygon is reached from every walkable edge within this distance of
    its boundary (at the edge's nearest point); from the nearest edge when none is this close.
boundary_access_spacing_m : float
    Along each such street, access points are placed at this spacing (so the exit a resident uses
    is at most half of it from the best point of the boundary).
capacity_persons_per_place : dict[str, float]
    Capacity norms for the two-step floating catchment measure: residents served by one place.
    Default: kindergarten 30 places per 1,000 residents (a common local planning norm, NOT
    verified against a national standard). Categories without a norm are reported 'no_norm'.
level_minutes : tuple of int
    The walking minutes of the living-circle levels (5-, 10- and 15-minute 生活圈, GB 50180-2018
    §2.0.2–2.0.4; the minutes of the default profile's levels, which a test keeps equal): the
    default of every function that takes minutes (access counts ``n_<m>min``, isochrones, the
    map's isochrone levels) and the ``{minutes}`` columns of the layer contract.
elderly_share_threshold : float
    Communities with at least this share of residents aged 60+ get the 适老化 need (完善类
    适老设施/无障碍, :func:`livingcircle.renovation.renovation_needs`). A planning parameter, not
    a standard: 0.25 is well above the 14 % "aged society" mark and flags the oldest
    communities. The one definition; ``renovation_needs`` takes it as its default.
far_outside_km : float
    A point farther than this from the study area is reported as far outside.
gate_outline_tolerance_m : float
    A gate farther than this from its own community's polygon is set aside (diagnostics
    'gate_far_from_community'). A gate lies on its outline: on the sample district the farthest
    is 0.008 m from it; smartphone GPS is good to about 4.9 m under open sky (gps.gov, "GPS
    accuracy"). 100 m leaves room for a gate at the end of a short lane and still catches a gate
    in the wrong coordinate system: GCJ-02 read as WGS84 moves a point 507–514 m, BD-09
    1,298–1,327 m (measured on the sample district's communities with
    :func:`livingcircle.coords.to_wgs84`).
gate_point_tolerance_m : float
    The same check for a community given as a point (no outline): a gate farther than this
    from the point is set aside. 300 m: a 居住街坊 is 2–4 hm² (GB 50180-2018 §2.0.5), about
    141 m from the centre to a corner of a 200 m square; 300 m allows an estate of twice that
    and still catches the 507 m GCJ-02 shift.
unreachable_share_max : float
    A run stops when more than this share of the communities has no walkable street within
    :data:`max_snap_distance_m`: then the communities and the network are not in the same
    place (a wrong coordinate system shifts every row of a file, a file of another city all of
    them), and a plan with every category 'not reached' would be wrong. 0.5: fewer than half
    unreachable is a real area with some communities beyond the mapped streets (each kept
    with a diagnostic and counted on the console); on the sample district the share is 0.
siting_solver_max_problems : int
    :func:`livingcircle.siting.site_facilities` solves one siting problem per cluster and
    missing category. Up to this many, a one-site problem with several equally good sites is
    left to the solver (HiGHS since issue 16; CBC before); above it (a city of thousands of
    clusters, where a solver call per problem would take hours with CBC's process per call) the
    first of them by site id is taken. A problem with one best site never needs the solver.
network_graph_max_nodes : int
    An ``.osm.pbf`` whose walkable ways have more nodes than this (as pyrosm reads them, before
    simplification and clipping) becomes a network of arrays without a networkx graph
    (``WalkNetwork.graph`` is None): at a million nodes the networkx objects alone cost gigabytes
    and nothing in the analysis needs them. Smaller files keep their graph.
spill_above_communities : int
    A run with more communities than this keeps its two largest polygon layers in a temporary
    GeoPackage instead of memory: the isochrones, streamed chunk by chunk as they are made, and
    the coverage areas, as soon as they are made (``Result["isochrones"]`` is then the
    attribute table; :meth:`livingcircle.Result.write` copies the polygons into the output).
    A written result of that many communities is read back the same way.
isochrone_chunk_size : int
    Communities per chunk when isochrones are streamed.
spill_dir : str | None
    Folder for those temporary files, and for the isochrone cells of a network too large to
    cache (1.6 GB for the 1M-node city of ``benchmarks/``); None: the system's temporary folder.
isochrone_cache_vertices : int
    The isochrone maker keeps street buffers and cell unions for reuse across origins; above
    this many vertices (16 bytes each) the cache is emptied and rebuilt as needed. The budget
    of the run on this machine: each of the ``n`` worker processes of a local pool
    (``workers``) keeps ``1/n`` of it; a Dask worker keeps all of it. Where every cell of the
    network is predicted to fit in it, a local pool builds them all once, ahead, and the run
    keeps them for the isochrones and coverage
    (:func:`livingcircle.isochrones.prepare_cells`); a worker's ``1/n`` then counts only what
    it adds to them. Where they would not fit, a run's pool builds them once into files
    (:class:`livingcircle.isochrones.CellStore`, under ``spill_dir``), and each worker reads
    a top-level cell's file into its ``1/n`` when it first needs one of its cells. Half of it
    took 150-180 MB off the 1M-node city's peak in the same time, but the city centre's run
    over two Dask workers (each keeps all of it) took 86.0 against 75.4 s
    (``benchmarks/CITY_SCALE.md``, "The same code in a faster hour; half the cell cache").
coverage_tile_above_m : float
    A network wider than this (metres, east–west or north–south) gets its coverage polygons
    in 3.2 km tiles, one row per category and tile, instead of one polygon per category.
threads : int or None
    Threads for the shortest-path searches and isochrones (the compiled searches and GEOS
    release the GIL). None: every core this process may use. Set 1 inside a Dask worker that
    already runs one task per core.
workers : int or None
    Worker processes for the isochrones and coverage tiles of a run
    (:mod:`livingcircle._parallel`): the Python between two GEOS calls holds the GIL, which
    threads share. None: one per core this process may use; 1: threads in this process only
    (and a city's map written after its GeoPackage, not beside it in a child process).
process_pool_min_communities : int
    Fewer communities than this draw their isochrones and coverage in this process's threads
    and write their map after the GeoPackage (:meth:`livingcircle.Result.write`).
    A judgement: on the sample's 80 communities two processes spent 4.78 CPU s against the
    threads' 4.55 (each worker builds its own caches; 2026-12-02, ``benchmarks/README.md``,
    third round), so a small district gains little; the threads keep tests and notebooks
    free of process pools.
scheduler : str or None
    A Dask scheduler's address (``tcp://host:8786``): the isochrones and coverage tiles of a
    run are drawn on that cluster's workers (``livingcircle run --scheduler``). None: this
    machine.
"""

from __future__ import annotations

import functools

default_speed_profile: str = "adult"
halo_minutes: float = 15.0
max_snap_distance_m: float = 150.0
search_cutoff_m: float = 3000.0
isochrone_buffer_m: float = 25.0
block_walk_m: float = 150.0
renovation_year_limit: int = 2000
boundary_access_m: float = 50.0
boundary_access_spacing_m: float = 20.0
far_outside_km: float = 5.0
gate_outline_tolerance_m: float = 100.0
gate_point_tolerance_m: float = 300.0
unreachable_share_max: float = 0.5
network_graph_max_nodes: int = 200_000
spill_above_communities: int = 2_000
isochrone_chunk_size: int = 500
spill_dir: str | None = None
siting_solver_max_problems: int = 500
capacity_persons_per_place: dict[str, float] = {"kindergarten": 1000.0 / 30.0}
elderly_share_threshold: float = 0.25
level_minutes: tuple[int, ...] = (5, 10, 15)
threads: int | None = None
workers: int | None = None
process_pool_min_communities: int = 200
scheduler: str | None = None
isochrone_cache_vertices: int = 20_000_000
coverage_tile_above_m: float = 10_000.0


@functools.cache
def _default_speeds() -> dict[str, dict]:
    """Return the default profile's named speeds (see ``speed_profiles`` above), read once."""
    from .standards import load_profile

    return {name: {"m_per_min": sp.m_per_min, "name_zh": sp.name_zh, "name_en": sp.name_en,
                   "status": sp.status, "source": sp.source_text}
            for name, sp in load_profile().speeds.items()}


def __getattr__(name: str):
    # ``speed_profiles`` is read from the default profile when first asked for (PEP 562); a
    # value the user assigns to lc.settings.speed_profiles takes its place.
    if name == "speed_profiles":
        return _default_speeds()
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def speed_m_per_min(profile: str | float | None = None) -> float:
    """Return the walking speed in metres per minute of a named profile or a number.

    Parameters
    ----------
    profile
        A key of ``speed_profiles`` (the default profile's named speeds), a speed in m/min, or
        None for :data:`default_speed_profile`.

    Examples
    --------
    >>> speed_m_per_min("elderly"), speed_m_per_min(70)
    (48.0, 70.0)
    """
    from ._errors import InputError

    if profile is None:
        profile = default_speed_profile
    if isinstance(profile, int | float):
        if profile <= 0:
            msg = f"walking speed must be positive, got {profile} m/min"
            raise InputError(msg)
        return float(profile)
    speeds = globals().get("speed_profiles") or _default_speeds()
    try:
        return float(speeds[profile]["m_per_min"])
    except KeyError:
        msg = (
            f"unknown speed profile {profile!r}; valid profiles: {sorted(speeds)} "
            "(or give a speed in m/min)"
        )
        raise InputError(msg) from None

