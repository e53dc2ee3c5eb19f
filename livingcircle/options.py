"""The options of a run, declared once.

:data:`RUN_OPTIONS` lists every option a user gives a run: its name, what kind of value it takes,
its default, its help text and whether ``areas.yaml`` takes it as a key. From this one list

* :mod:`livingcircle.cli` makes the click options of ``run``, ``recommend`` (the inputs) and
  ``demo`` (the output options);
* :mod:`livingcircle.batch` takes the keys an area may have (:data:`AREA_KEYS`), checks their
  values by kind and passes them to :func:`livingcircle.pipeline.run`;
* ``tests/test_options.py`` checks that each option's ``run_arg`` is a parameter of
  :func:`livingcircle.pipeline.run`.

A new run option is one :class:`RunOption` here and one parameter of
:func:`livingcircle.pipeline.run`; the command line and ``areas.yaml`` follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Kinds of value: a file, several files, a text, a coordinate system name, a yes/no flag, a
#: whole number ≥ 0, speed profile names, ``FILE=VALUE`` pairs (command line only).
KINDS = ("file", "files", "text", "system", "flag", "count", "speeds", "per_file")


@dataclass(frozen=True)
class RunOption:
    """One option of a run.

    Attributes
    ----------
    name
        The option's name: the click parameter (``--`` + name with dashes) and the areas.yaml key.
    kind
        One of :data:`KINDS`.
    help
        The help text of the command line (and the meaning of the areas.yaml key).
    run_arg
        The keyword of :func:`livingcircle.pipeline.run` the value goes to; None for options
        that describe input files (they become :class:`livingcircle.InputFile` settings).
    default
        The default (None: not given).
    area_key
        Whether ``areas.yaml`` takes the option as a key of an area.
    described
        A file of this option may be described one by one (``{path:, crs:, ...}`` in
        areas.yaml, ``--crs FILE=...`` on the command line).
    metavar
        The placeholder the command-line help shows.
    commands
        The commands that take the option: ``run`` and ``recommend`` take the inputs, only
        ``run`` the options of the plan.
    """

    name: str
    kind: str
    help: str
    run_arg: str | None = None
    default: Any = None
    area_key: bool = True
    described: bool = False
    metavar: str | None = None
    commands: tuple[str, ...] = ("run", "recommend")

    @property
    def flag(self) -> str:
        """The command-line flag, e.g. ``--facilities-crs``."""
        return "--" + self.name.replace("_", "-")


def _file(name: str, help: str, *, described: bool = False, kind: str = "file") -> RunOption:
    return RunOption(name, kind, help, run_arg=name, described=described)


def _layer_crs_column(role: str) -> RunOption:
    extra = " (the only table among several)." if role == "facilities" else "."
    return RunOption(f"{role}_crs_column", "text", f"As --crs-column, for the {role} file{extra}",
                     metavar="COLUMN")


#: Every option of a run, in the order the command-line help lists them.
RUN_OPTIONS: tuple[RunOption, ...] = (
    _file("osm", "OSM file (.osm XML or .osm.pbf) for the walking network."),
    RunOption("place", "text", "Place name to download the network for (needs the internet).",
              run_arg="place"),
    _file("communities", "Communities file (polygons or points).", described=True),
    _file("gates", "Gates file.", described=True),
    _file("facilities", "Facilities file(s); default: the OSM file's POIs.", described=True,
          kind="files"),
    _file("sites", "Candidate sites for new facilities.", described=True),
    _file("boundary", "Study boundary."),
    _file("profile", "Standard profile YAML (default: the bundled one)."),
    RunOption("crs", "per_file", area_key=False, metavar="FILE=SYSTEM", help=(
        "Coordinate system of one input file's longitude/latitude: wgs84, gcj02 (AMap/高德, "
        "Tencent/腾讯) or bd09 (Baidu/百度); repeat per file, e.g. --crs amap_pois.csv=gcj02. "
        "Required for CSV/Excel (unless the file name holds gcj02/amap/bd09/baidu); a GIS file "
        "keeps its own CRS unless stated gcj02/bd09 here (AMap/Baidu exports with a WGS84 "
        ".prj).")),
    RunOption("crs_column", "per_file", area_key=False, metavar="FILE=COLUMN", help=(
        "A column of FILE naming each row's system (mixed AMap/Baidu rows); values "
        "amap/高德/gaode/gcj02/tencent/腾讯, baidu/百度/bd09, wgs84/osm/gps.")),
    RunOption("columns", "per_file", area_key=False, metavar="FILE=MAPPING", help=(
        "Rename FILE's columns to livingcircle's names with a mapping file: YAML "
        "('小区名称: name' lines) or a two-column CSV (source, name).")),
    RunOption("facilities_crs", "system", run_arg="facilities_crs", metavar="SYSTEM", help=(
        "System of the only facilities file that can take it: the only file, or the only "
        "CSV/Excel among several (GIS files keep their own CRS). With several tables use "
        "--crs FILE=SYSTEM.")),
    *[_layer_crs_column(role) for role in ("communities", "gates", "facilities", "sites")],
    RunOption("strict", "flag", run_arg="strict", default=False, help=(
        "Stop, instead of warning, when a file's points fit the streets markedly better in "
        "another coordinate system than the one stated.")),
    RunOption("speeds", "speeds", (
        "Speed profile(s) of the standard profile to measure (repeat the option); the access "
        "table has minutes at each, isochrones and the gaps' time_min use the first."),
              run_arg="speed_profiles", default=("adult", "elderly", "winter", "elderly_winter"),
              commands=("run",)),
    RunOption("target_communities", "count", "Communities in this year's plan.",
              run_arg="target_communities", commands=("run",)),
    RunOption("target_households", "count", "Households in this year's plan.",
              run_arg="target_households", commands=("run",)),
    # issue 16 §4: the siting model of the 片区联动 proposals (livingcircle.siting)
    RunOption("siting", "text", "Siting model of new shared facilities: mclp (the sites serving "
              "most households) or lscp (the fewest sites reaching every member community).",
              run_arg="siting", default="mclp", metavar="mclp|lscp"),
    # issue 16 §5: the multi-year programme (livingcircle.programme); nothing without --years
    RunOption("years", "text", run_arg="years", metavar="YEARS", commands=("run",), help=(
        "Plan the ready communities over these years by rank (e.g. 2026-2030, or 2026,2028); "
        "a 片区's members share a year. Writes programme.csv/.xlsx and the programme layers.")),
    RunOption("capacity", "text", run_arg="capacity", metavar="N|YEAR=N,...",
              commands=("run",), help=(
                  "What one year can take, with --years: one number for every year (3000) or "
                  "one per year (2026=3000,2027=3500), in --capacity-unit.")),
    RunOption("capacity_unit", "text", run_arg="capacity_unit", metavar="UNIT",
              commands=("run",), help=(
                  "Unit of --capacity: households (default), communities or budget (needs "
                  "--costs).")),
    RunOption("costs", "file", run_arg="costs", commands=("run",), help=(
        "Your cost table (CSV/Excel: item, cost_per_community and/or cost_per_household, "
        "item a need's item_id or a class 基础/完善/提升) for --capacity-unit budget; there "
        "are no default costs.")),
    # issue 16 §3: 一老一小 and winter, time beside distance
    RunOption("criterion", "text", run_arg="criterion", default="distance",
              metavar="distance|time|both", commands=("run",), help=(
                  "How a gap is judged: distance (GB 50180-2018 metres, the compliance "
                  "judgement), time (the level's minutes at --speed) or both. The gaps layer "
                  "always carries both judgements (met_distance, met_time); met follows this.")),
    RunOption("speed", "text", run_arg="speed", default="elderly_winter", metavar="NAME",
              commands=("run",), help=(
                  "The speed of the profile the time judgement uses: adult, elderly, winter, "
                  "elderly_winter or carer_with_child (sourced in the profile's speeds).")),
    # issue 16 §1 (buildings, 楼栋) and §2 (heritage from a layer)
    _file("buildings", "Buildings (楼栋) file: footprints or points, or CSV/Excel with lon/lat; "
          "scope, elevator and other building needs are then judged per building, and a "
          "community with buildings takes its scope from them.", described=True),
    _file("heritage", "Heritage layer (历史文化街区/文物保护单位/历史建筑 polygons or points, "
          "or an OSM file's historic=*): marks the communities it touches.", described=True),
    _layer_crs_column("buildings"),
    # issue 16 §2: the location list of 二(一) per area (a community's own value wins)
    RunOption("location_type", "text", run_arg="location_type",
              metavar="city|county_town|state_farm|forestry|other",
              commands=("run", "recommend", "demo"), help=(
                  "所在地类型 of the study area for 二(一)'s list (城市、县城、原农垦、森工系统"
                  "二级机构所在地; other: outside it, not eligible), for the communities whose "
                  "own location_type is empty; a community's own value wins.")),
)

#: The options by name.
BY_NAME: dict[str, RunOption] = {o.name: o for o in RUN_OPTIONS}
#: Keys an area of ``areas.yaml`` may have: its name and the run options that are area keys.
AREA_KEYS: tuple[str, ...] = ("name", *(o.name for o in RUN_OPTIONS if o.area_key))
#: Area keys whose values are files (paths or fsspec URLs).
PATH_KEYS: tuple[str, ...] = tuple(o.name for o in RUN_OPTIONS
                                   if o.area_key and o.kind in ("file", "files"))
#: Area keys whose files may be described one by one (``{path: ..., crs: ..., ...}``).
DESCRIBED_KEYS: tuple[str, ...] = tuple(o.name for o in RUN_OPTIONS if o.described)


def options_of(command: str) -> list[RunOption]:
    """Return the run options the command ``command`` takes, in help order."""
    return [o for o in RUN_OPTIONS if command in o.commands]


def run_arguments(values: Mapping[str, Any]) -> dict[str, Any]:
    """Return the keywords of :func:`livingcircle.pipeline.run` for command-line option values.

    ``values`` maps option names (:data:`RUN_OPTIONS`) to their values as click parses them
    (missing or None: not given). The per-file options (``--crs``/``--crs-column``/
    ``--columns FILE=...``) and ``--<layer>-crs-column`` become
    :class:`~livingcircle.inputs.InputFile` descriptions; error advice then names command-line
    options when this is called, and :func:`livingcircle.pipeline.run` runs, inside
    :func:`livingcircle.inputs.on_command_line` (as :mod:`livingcircle.cli` does).
    """
    from .inputs import apply_layer_value, as_input_files, describe_files

    kwargs: dict[str, Any] = {}
    for opt in RUN_OPTIONS:
        value = values.get(opt.name)
        if opt.run_arg is None or opt.described or value is None:
            continue
        kwargs[opt.run_arg] = list(value) if opt.kind == "speeds" else value
    files = {key: as_input_files(list(values.get(key) or ()) if BY_NAME[key].kind == "files"
                                 else values.get(key), role=key)
             for key in DESCRIBED_KEYS}
    files = describe_files(files, crs=values.get("crs") or (),
                           crs_column=values.get("crs_column") or (),
                           columns=values.get("columns") or ())
    for role in DESCRIBED_KEYS:
        files[role] = apply_layer_value(files[role], values.get(f"{role}_crs_column"),
                                        attr="crs_column", option=f"--{role}-crs-column",
                                        per_file="--crs-column {file}={value}")
    for role in DESCRIBED_KEYS:
        if BY_NAME[role].kind == "files":
            kwargs[role] = files[role] or None
        else:
            kwargs[role] = (files[role] or [None])[0]
    return kwargs
