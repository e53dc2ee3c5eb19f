"""No traceback reaches the user: every command with bad input, corrupt OSM files, warnings.

Issue 14 items 9, 11 and 12. The command-line cases run the installed ``livingcircle`` entry
point in a subprocess, as a user would; the commands are taken from the click group, so a new
command is covered without editing this file.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click
import geopandas as gpd
import pyrosm
import pytest
from conftest import background_folder, background_result, subprocess_env

import livingcircle as lc
from livingcircle import cli as cli_module
from livingcircle._errors import InputError, NetworkError
from livingcircle.network import build_network
from livingcircle.osm import read_osm_facilities

SAMPLE = lc.sample_paths()
ENTRY = shutil.which("livingcircle", path=str(Path(sys.executable).parent)) or \
    shutil.which("livingcircle")
COMMANDS = sorted(cli_module.cli.commands)
#: Suffix of the bad file given to a path parameter, by parameter name (default .gpkg).
SUFFIX = {"osm": ".osm", "profile": ".yaml", "areas": ".yaml"}
GARBAGE = bytes(range(256)) * 40  # not text, not SQLite, not protobuf


def _exists_paths(cmd: click.Command) -> list[click.Parameter]:
    return [p for p in cmd.params if isinstance(p.type, click.Path) and p.type.exists]


def _value_params(cmd: click.Command) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option) and not p.is_flag and
            isinstance(p.type, click.types.IntParamType | click.types.FloatParamType |
                       click.Choice)]


def _args(cmd_name: str, scenario: str, folder: Path) -> list[str]:
    """The command line of one bad-input scenario, built from the command's parameters."""
    cmd = cli_module.cli.commands[cmd_name]
    argv: list[str] = [cmd_name]
    paths = _exists_paths(cmd)
    for p in cmd.params:
        opt = p.opts[0] if isinstance(p, click.Option) else None
        value = None
        if isinstance(p.type, click.Path) and p.type.exists:
            suffix = SUFFIX.get(p.name, ".gpkg")
            f = folder / f"{p.name}{suffix}"
            if scenario == "empty":
                f.write_bytes(b"")
            elif scenario == "garbage":
                f.write_bytes(GARBAGE)
            elif scenario == "bad_value":
                f = Path(SAMPLE["osm"] if p.name == "osm" else SAMPLE["communities"])
            value = str(f)  # "missing": never written
        elif isinstance(p, click.Option) and p.name == "out":  # the output folder or file
            value = str(folder / f"out-{cmd_name}")
            if scenario == "missing" and not paths:  # nothing to miss: the folder is a file
                (folder / "a_file.txt").write_text("x")
                value = str(folder / "a_file.txt")
        elif scenario == "bad_value" and p in _value_params(cmd):
            value = "bogus" if isinstance(p.type, click.Choice) else "not-a-number"
        elif isinstance(p, click.Option) and p.is_flag and p.name.startswith("no_progress"):
            argv.append(opt)
        if value is None:
            continue
        argv += [value] if opt is None else [opt, value]
    return argv


SCENARIOS = ["missing", "bad_value", "empty", "garbage"]


def _applies(cmd_name: str, scenario: str) -> bool:
    cmd = cli_module.cli.commands[cmd_name]
    if scenario == "bad_value":
        return bool(_value_params(cmd))
    if scenario in ("empty", "garbage"):
        return bool(_exists_paths(cmd))
    return True  # a missing input file, or an output folder that is a file


CASES = [(c, s) for c in COMMANDS for s in SCENARIOS if _applies(c, s)]


def _outcomes(base: Path) -> dict:
    """Run every case through the installed entry point, three at a time (in ``base``)."""
    assert ENTRY is not None, "the livingcircle entry point is not installed"

    def one(case):
        cmd, scenario = case
        folder = base / f"{cmd}-{scenario}"
        folder.mkdir()
        argv = _args(cmd, scenario, folder)
        proc = subprocess.run([ENTRY, *argv], capture_output=True, text=True, cwd=folder,
                              stdin=subprocess.DEVNULL, timeout=900,
                              env=subprocess_env(PYTHONWARNINGS=""))
        return case, (argv, proc)

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(pool.map(one, CASES))


def background_work(items):
    """This module's subprocesses, run beside the other tests (conftest.background_result): the
    bad-input cases and the sample run of ``test_cli_warnings_are_the_tools_own``."""
    names = {getattr(i, "originalname", None) for i in items}
    jobs = {}
    if "test_every_command_with_bad_input_prints_one_error_line" in names:
        jobs["outcomes"] = lambda: _outcomes(background_folder("cli-errors"))
    if "test_cli_warnings_are_the_tools_own" in names:
        folder = background_folder("cli-warnings")
        try:
            _warnings_inputs(folder)  # here, in the test process: reading and writing GeoPackages
        except Exception:  # the test makes the inputs itself and fails with the reason
            pass
        else:
            jobs["warnings"] = lambda: _warnings_run(folder)
    return (lambda: {k: job() for k, job in jobs.items()}) if jobs else None


def _from_background(request, key: str, fallback):
    done = background_result(request, lambda: {})
    return done[key] if key in done else fallback()


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory):
    return _from_background(request, "outcomes",
                            lambda: _outcomes(tmp_path_factory.mktemp("outcomes")))


@pytest.mark.parametrize(("command", "scenario"), CASES)
def test_every_command_with_bad_input_prints_one_error_line(outcomes, command, scenario):
    argv, proc = outcomes[(command, scenario)]
    shown = f"livingcircle {' '.join(argv)}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    assert "Traceback" not in proc.stdout + proc.stderr, shown
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1, shown
    assert all(ln.startswith(("error: ", "warning: ")) for ln in lines), shown
    if scenario in ("missing", "bad_value"):
        assert proc.returncode == 2, shown  # click's usage error
    else:
        assert proc.returncode == 2, shown  # a problem with the input, named as such
        assert "unexpected" not in errors[0], shown


def test_every_command_is_covered():
    assert {"demo", "run", "export", "map", "report", "recommend", "batch"} <= set(COMMANDS)
    assert {c for c, _ in CASES} == set(COMMANDS)


def test_unexpected_error_is_one_line_with_a_hint(monkeypatch, capsys, tmp_path):
    def boom(**kwargs):
        msg = "no such column 'x' in a frame"
        raise KeyError(msg)

    monkeypatch.setattr(lc.pipeline, "run_sample", boom)
    assert cli_module.main(["demo", "--out", str(tmp_path / "o"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        "error: unexpected KeyError: \"no such column 'x' in a frame\"; rerun with -v for "
        "details, -vv for the traceback (livingcircle -vv COMMAND …)")
    assert cli_module.main(["-v", "demo", "--out", str(tmp_path / "o"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "in boom (test_cli_errors.py:" in err
    assert cli_module.main(["-vv", "demo", "--out", str(tmp_path / "o"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "KeyError" in err


def test_run_with_an_unreachable_scheduler_stops_before_the_analysis(monkeypatch, capsys,
                                                                     tmp_path):
    from livingcircle import _parallel

    monkeypatch.setattr(_parallel, "SCHEDULER_TIMEOUT_S", 1)

    def not_reached(**kwargs):
        msg = "the analysis started"
        raise AssertionError(msg)

    monkeypatch.setattr(lc.pipeline, "run", not_reached)
    argv = ["run", "--osm", str(SAMPLE["osm"]), "--communities", str(SAMPLE["communities"]),
            "--out", str(tmp_path / "o"), "--no-progress", "--scheduler", "tcp://127.0.0.1:9"]
    assert cli_module.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(
        "error: cannot reach the Dask scheduler 'tcp://127.0.0.1:9' (")
    assert "leave --scheduler out" in err
    assert not (tmp_path / "o").exists()


def test_library_log_warnings_only_with_v(monkeypatch, capsys, tmp_path):
    """Dask logs "Worker process still alive after 4.0 seconds, killing" when `batch` closes its
    cluster (seen twice at the end of a two-area batch of the sample); without -v the console
    shows livingcircle's own log lines and any library's errors, not a library's warnings."""
    import logging

    def logs(**kwargs):
        logging.getLogger("distributed.nanny").warning(
            "Worker process still alive after 4.0 seconds, killing")
        logging.getLogger("distributed.core").error("a library error")
        logging.getLogger("livingcircle.batch").warning("area east: a warning of the tool")
        msg = "stop here"
        raise InputError(msg)

    monkeypatch.setattr(lc.pipeline, "run_sample", logs)
    assert cli_module.main(["demo", "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: a library error", "warning: area east: a warning of the tool",
        "error: stop here"]
    assert cli_module.main(["-v", "demo", "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert ("WARNING distributed.nanny: Worker process still alive after 4.0 seconds, killing"
            in capsys.readouterr().err)


def _imported_modules(path: Path) -> set[str]:
    """Top-level names of the modules a Python file imports, anywhere in it (parsed, not run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_cli_module_imports_click():
    """Issue 15 item 2: the library raises its own errors; only cli.py knows click."""
    package = Path(lc.__file__).parent
    importers = sorted(p.name for p in package.rglob("*.py") if "click" in _imported_modules(p))
    assert importers == ["cli.py"]


def test_the_cli_loads_no_module_by_name():
    """Commands are defined in cli.py; no importlib loading that could skip a module silently."""
    cli_file = Path(cli_module.__file__)
    assert "importlib" not in _imported_modules(cli_file)
    assert set(COMMANDS) == {"batch", "demo", "export", "figures", "map", "recommend", "report",
                             "run"}


def test_batch_engine_is_a_base_dependency():
    from importlib.metadata import requires

    base = [r for r in requires("livingcircle") if "extra ==" not in r]
    assert any(r.startswith("dask[distributed]") for r in base)
    assert any(r.startswith("fsspec") for r in base)


# --- corrupt, empty or truncated OSM files (item 9) ---------------------------------------

def _osm_cases(folder: Path) -> dict[str, Path]:
    xml = Path(SAMPLE["osm"]).read_bytes()
    pbf = Path(pyrosm.get_data("test_pbf")).read_bytes()
    files = {
        "truncated.osm": xml[: len(xml) // 2],
        "truncated.osm.pbf": pbf[: len(pbf) // 2],
        "empty.osm": b"",
        "empty.osm.pbf": b"",
        "binary.osm": GARBAGE,
    }
    out = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        out[name] = folder / name
    return out


REASONS = {
    "truncated.osm": "not a readable OSM XML file (ParseError: unclosed token: line 4873",
    "truncated.osm.pbf": "not a readable OSM PBF file (DecodeError: Error parsing message",
    "empty.osm": "the OSM file is empty (0 bytes)",
    "empty.osm.pbf": "the OSM file is empty (0 bytes)",
    "binary.osm": "not a readable OSM XML file (UnicodeDecodeError:",
}


@pytest.mark.parametrize("name", sorted(REASONS))
@pytest.mark.parametrize("reader", ["network", "facilities"])
def test_unreadable_osm_file_is_one_error_naming_it(tmp_path, name, reader):
    path = _osm_cases(tmp_path)[name]
    with pytest.raises(InputError) as err:
        if reader == "network":
            build_network(osm=path)
        else:
            read_osm_facilities(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: {REASONS[name]}")
    assert "\n" not in msg


def test_osm_without_walkable_streets(tmp_path):
    path = tmp_path / "river.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n'
        '<node id="1" lat="45.75" lon="126.62" version="1"/>\n'
        '<node id="2" lat="45.751" lon="126.621" version="1"/>\n'
        '<way id="10" version="1"><nd ref="1"/><nd ref="2"/>'
        '<tag k="waterway" v="river"/></way>\n</osm>\n', encoding="utf-8")
    with pytest.raises(NetworkError, match=r"river\.osm: no walkable ways"):
        build_network(osm=path)


def test_cli_names_a_truncated_osm_file(tmp_path):
    path = _osm_cases(tmp_path)["truncated.osm.pbf"]
    proc = subprocess.run([ENTRY, "run", "--osm", str(path), "--communities",
                           str(SAMPLE["communities"]), "--facilities", str(SAMPLE["facilities"]),
                           "--out", str(tmp_path / "o"), "--no-progress"],
                          capture_output=True, text=True, timeout=900, env=subprocess_env())
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (
        f"error: {path}: not a readable OSM PBF file (DecodeError: Error parsing message with "
        "type 'OSMPBF.Blob': Wire format was corrupt); it may be truncated, corrupt or of "
        "another format — download or export it again (.osm XML or .osm.pbf)")


# --- warnings read as the tool's own (item 12) --------------------------------------------

def _warnings_inputs(tmp_path: Path) -> None:
    """The sample with two communities 8 km away (and without gates), a gate 600 km away."""
    comm = gpd.read_file(SAMPLE["communities"]).to_crs(32652)
    far = comm["community_id"].isin(["C005", "C006"])
    comm.loc[far, "geometry"] = comm.loc[far].translate(0, 8000)
    comm.to_crs(4326).to_file(tmp_path / "communities.gpkg")
    gates = gpd.read_file(SAMPLE["gates"]).to_crs(32652)
    gates = gates[~gates["community_id"].isin(["C005", "C006"])].reset_index(drop=True)
    gates.loc[0, "geometry"] = gates.loc[[0]].translate(0, 600_000).iloc[0]
    gates.to_crs(4326).to_file(tmp_path / "gates.gpkg")


def _warnings_run(tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([ENTRY, "run", "--osm", str(SAMPLE["osm"]),
                           "--communities", str(tmp_path / "communities.gpkg"),
                           "--gates", str(tmp_path / "gates.gpkg"),
                           "--facilities", str(SAMPLE["facilities"]),
                           "--speeds", "adult", "--out", str(tmp_path / "o"), "--no-progress"],
                          capture_output=True, text=True, timeout=1800, env=subprocess_env())


def test_cli_warnings_are_the_tools_own(request, tmp_path):
    """A sample run with two unreachable communities and a gate 600 km away."""

    def here():
        _warnings_inputs(tmp_path)
        return _warnings_run(tmp_path)

    proc = _from_background(request, "warnings", here)
    out = Path(proc.args[proc.args.index("--out") + 1])
    assert proc.returncode == 0, proc.stderr
    assert ".py:" not in proc.stderr and "UserWarning" not in proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines and all(ln.startswith("warning: ") for ln in lines), proc.stderr
    assert any("2 of 80 communities have no walkable street within 150 m (C005, C006)" in ln
               for ln in lines)
    assert any("set aside 1 gate(s) far from their own community" in ln for ln in lines)
    assert (out / "map.html").is_file()


def test_no_command_shows_the_help(capsys):
    assert cli_module.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: livingcircle [OPTIONS] COMMAND [ARGS]...")
    assert all(f"  {c} " in out for c in COMMANDS)
