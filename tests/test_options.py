"""Run options are declared once (issue 15 item 2): run(), the commands and areas.yaml agree."""

from __future__ import annotations

import inspect
from pathlib import Path

import click
import pytest
from conftest import background_folder, background_result, subprocess_env

from livingcircle import batch, cli, options, pipeline
from livingcircle._errors import InputError
from livingcircle.options import AREA_KEYS, RUN_OPTIONS


def test_every_run_option_goes_to_a_parameter_of_run():
    params = inspect.signature(pipeline.run).parameters
    targets = [o.run_arg for o in RUN_OPTIONS if o.run_arg is not None]
    assert [t for t in targets if t not in params] == []
    assert len(targets) == len(set(targets))  # no two options feed one parameter


@pytest.mark.parametrize("command", ["run", "recommend", "demo"])
def test_the_commands_take_the_declared_options(command):
    names = {p.name for p in cli.cli.commands[command].params}
    declared = {o.name for o in options.options_of(command)}
    assert declared <= names
    # run takes every option, recommend the inputs only (not the plan's size or the speeds)
    # (demo, on the bundled sample, only the area's location type)
    plan = {"speeds", "target_communities", "target_households", "criterion", "speed", "years",
            "capacity", "capacity_unit", "costs"}
    assert declared == {"run": {o.name for o in RUN_OPTIONS},
                        "recommend": {o.name for o in RUN_OPTIONS} - plan,
                        "demo": {"location_type"}}[command]
    for opt in options.options_of(command):
        param = next(p for p in cli.cli.commands[command].params if p.name == opt.name)
        assert param.opts == [opt.flag]
        assert param.help == opt.help
        assert isinstance(param.type, click.Path) == (opt.kind in ("file", "files"))


def test_areas_take_the_run_options_that_are_not_per_file():
    assert AREA_KEYS == (
        "name", "osm", "place", "communities", "gates", "facilities", "sites", "boundary",
        "profile", "facilities_crs", "communities_crs_column", "gates_crs_column",
        "facilities_crs_column", "sites_crs_column", "strict", "speeds", "target_communities",
        "target_households",
        "siting",  # issue 16 §4
        "years", "capacity", "capacity_unit", "costs",  # issue 16 §5
        "criterion", "speed",  # issue 16 §3
        "buildings", "heritage", "buildings_crs_column",  # issue 16 §1, §2
        "location_type")  # issue 16 §2, per area
    assert batch.AREA_KEYS is options.AREA_KEYS


def test_an_area_value_is_checked_by_its_kind(tmp_path):
    from livingcircle.sample import sample_paths

    p = sample_paths()
    area = {"name": "a", "osm": str(p["osm"]), "communities": str(p["communities"])}
    spec = batch.load_areas([{**area, "speeds": "elderly", "strict": True,
                              "target_households": 500, "facilities_crs": "amap"}])[0]
    assert spec["speeds"] == ["elderly"] and spec["strict"] is True
    assert spec["target_households"] == 500 and spec["facilities_crs"] == "gcj02"
    for key, bad, says in (("strict", "yes", "expected true or false, got 'yes'"),
                           ("target_households", -1, "expected a whole number ≥ 0, got -1"),
                           ("speeds", "running", "unknown speed profile 'running'")):
        with pytest.raises(InputError, match=f"area 'a', key '{key}': {says}"):
            batch.load_areas([{**area, key: bad}])


def test_an_area_passes_its_options_to_run():
    """The keywords run() gets from an area (files already local), derived from RUN_OPTIONS."""
    spec = {"name": "a", "osm": "s.osm", "communities": "c.gpkg", "place": "X",
            "speeds": ["winter"], "strict": True, "target_communities": 3,
            "facilities_crs": "gcj02", "communities_crs_column": None}
    loc = {"osm": "/tmp/s.osm", "communities": "/tmp/c.gpkg"}
    kwargs = batch._run_arguments({k: v for k, v in spec.items() if v is not None}, loc)
    communities = kwargs.pop("communities")
    assert str(communities.path) == "/tmp/c.gpkg"
    assert kwargs == {"osm": "/tmp/s.osm", "place": "X", "facilities_crs": "gcj02",
                      "strict": True, "speed_profiles": ["winter"], "target_communities": 3}


LOCATION_TYPE_COMMANDS = ("demo", "run", "recommend")


def _bad_location_type_runs(base: Path) -> dict:
    """``livingcircle COMMAND --location-type 村`` through the installed entry point, per command:
    (the output folder asked for, the finished process)."""
    import shutil
    import subprocess
    import sys

    from livingcircle.sample import sample_paths

    entry = (shutil.which("livingcircle", path=str(Path(sys.executable).parent))
             or shutil.which("livingcircle"))
    assert entry is not None, "the livingcircle entry point is not installed"
    p = sample_paths()
    runs = {}
    for command in LOCATION_TYPE_COMMANDS:
        inputs = [] if command == "demo" else ["--osm", str(p["osm"]),
                                               "--communities", str(p["communities"])]
        out = base / command / "out"
        out.parent.mkdir(parents=True)
        runs[command] = out, subprocess.run(
            [entry, command, *inputs, "--location-type", "村", "--out", str(out),
             "--no-progress"],
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
            env=subprocess_env())
    return runs


def background_work(items):
    """The three command-line runs, beside the other tests (conftest.background_result)."""
    if any(getattr(i, "originalname", None) == "test_a_bad_location_type_is_one_line_naming_the_"
           "option" for i in items):
        return lambda: _bad_location_type_runs(background_folder("location-type"))
    return None


@pytest.fixture(scope="module")
def bad_location_type_runs(request, tmp_path_factory):
    return background_result(
        request, lambda: _bad_location_type_runs(tmp_path_factory.mktemp("location-type")))


@pytest.mark.parametrize("command", LOCATION_TYPE_COMMANDS)
def test_a_bad_location_type_is_one_line_naming_the_option(bad_location_type_runs, command):
    # issue 16 §2: --location-type takes the locations 二(一) lists (or other); anything else
    # stops before the analysis with one line naming the option and the accepted values
    out, proc = bad_location_type_runs[command]
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert errors == ["error: --location-type '村' is not a location of 二(一); use one of city, "
                      "county_town, state_farm, forestry, other (or 城市, 县城, 原农垦, 森工)"]
    assert not out.exists()
