"""Issue 16 §3 end to end: ``livingcircle run --criterion both --speed elderly_winter`` on the
sample district, its gaps layer, metadata and report section."""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
from conftest import background_folder, background_result, subprocess_env

import livingcircle as lc

SAMPLE = lc.sample_paths()
ENTRY = shutil.which("livingcircle", path=str(Path(sys.executable).parent)) or \
    shutil.which("livingcircle")
# the profile's elderly_winter speed: 0.8 m/s = 48 m/min = 20.8333 min/km, + 2 min/km on ice
ELDERLY_WINTER = 1000.0 / (1000.0 / 48.0 + 2.0)  # 43.7956 m/min


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ENTRY, "run", "--osm", str(SAMPLE["osm"]), "--communities", str(SAMPLE["communities"]),
         "--gates", str(SAMPLE["gates"]), "--facilities", str(SAMPLE["facilities"]),
         "--boundary", str(SAMPLE["boundary"]), "--speeds", "adult", *extra,
         "--out", str(tmp_path / "o"), "--no-progress"],
        capture_output=True, text=True, timeout=1800, env=subprocess_env())


def _commands(tmp: Path) -> dict[str, subprocess.CompletedProcess]:
    """Every command line of this module, one after another: the run with both criteria, the
    report of its result (when the run succeeded), and the two runs with a bad value."""
    done = {"both": _run(tmp / "both", "--criterion", "both", "--speed", "elderly_winter")}
    if done["both"].returncode == 0:
        done["report"] = subprocess.run(
            [ENTRY, "report", str(tmp / "both" / "o"), "--out", str(tmp / "report.html"),
             "--no-map"], capture_output=True, text=True, timeout=600, env=subprocess_env())
    done["bad criterion"] = _run(tmp / "criterion", "--criterion", "fastest")
    done["bad speed"] = _run(tmp / "speed", "--speed", "running")
    return done


def background_work(items):
    """The module's command lines (subprocesses), run beside the other tests (conftest.py)."""
    return lambda: _commands(background_folder("time-criterion"))


@pytest.fixture(scope="module")
def commands(request, tmp_path_factory):
    return background_result(request, lambda: _commands(tmp_path_factory.mktemp("commands")))


@pytest.fixture(scope="module")
def both_run(commands):
    proc = commands["both"]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return Path(proc.args[proc.args.index("--out") + 1])


def test_gaps_carry_both_judgements(both_run):
    g = gpd.read_file(both_run / "livingcircle.gpkg", layer="gaps")
    assert set(g["criterion"]) == {"both"}
    assert set(g["time_speed_profile"]) == {"elderly_winter"}
    assert g["time_speed_m_per_min"].to_numpy() == pytest.approx(ELDERLY_WINTER)
    reached = g[g["distance_m"].notna()]
    assert reached["time_at_speed_min"].to_numpy() == pytest.approx(
        reached["distance_m"].to_numpy() / ELDERLY_WINTER)
    assert (reached["met_distance"] == (reached["distance_m"] <= reached["threshold_m"])).all()
    timed = reached[reached["threshold_min"].notna()]
    assert (timed["met_time"] == (timed["time_at_speed_min"] <= timed["threshold_min"])).all()
    block = reached[reached["threshold_min"].isna()]
    assert (block["met_time"] == block["met_distance"]).all()
    assert (g["met"] == (g["met_distance"] & g["met_time"])).all()
    # the sample district has pairs met by distance but not by an older walker on ice
    # (counted below from the layer itself, not assumed)
    shortfalls = g[g["met_distance"] & ~g["met_time"]]
    assert len(shortfalls) > 0
    assert (shortfalls["status"] == "missing").all()


def test_metadata_records_the_speeds_with_source_and_status(both_run):
    con = sqlite3.connect(both_run / "livingcircle.gpkg")
    meta = {k: json.loads(v) for k, v in con.execute(
        "SELECT key, value FROM livingcircle_metadata")}
    con.close()
    assert meta["criterion"] == "both" and meta["time_speed"] == "elderly_winter"
    assert meta["speed_profiles"] == {"adult": 80.0}
    prof = lc.load_profile()
    for name in ("adult", "elderly_winter"):
        sp = prof.speed(name)
        assert meta["speeds"][name] == {
            "m_per_min": pytest.approx(sp.m_per_min), "name_zh": sp.name_zh,
            "name_en": sp.name_en, "status": sp.status, "source": sp.source_text,
            "derivation": sp.derivation}
    assert meta["speeds"]["elderly_winter"]["status"] == "derived"


def test_report_section_lists_the_shortfalls_with_households(both_run, commands):
    proc = commands["report"]  # livingcircle report BOTH_RUN --out report.html --no-map
    assert proc.returncode == 0, proc.stderr
    out = Path(proc.args[proc.args.index("--out") + 1])
    h = out.read_text(encoding="utf-8")
    assert "<h3>按距离达标、按老年人（冬季冰雪路面）步速时间不达标</h3>" in h
    g = gpd.read_file(both_run / "livingcircle.gpkg", layer="gaps")
    comm = gpd.read_file(both_run / "livingcircle.gpkg", layer="communities")
    short = g[g["met_distance"] & ~g["met_time"]]
    hh = comm.set_index("community_id")["households"]
    ids = list(dict.fromkeys(short["community_id"]))
    known = hh.reindex(ids).dropna()
    assert f"共 {len(short)} 项，涉及 {len(ids)} 个小区、{known.sum():,.0f} 户" in h
    m = re.search(r'<table class="time-shortfalls">.*?<tbody>(.*?)</tbody>', h, re.S)
    assert m
    rows = re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)
    assert len(rows) == len(short)
    first = re.findall(r"<td>(.*?)</td>", rows[0])
    s0 = short.sort_values("community_id", kind="stable").iloc[0]
    assert first[0] == html.escape(s0["community_id"])
    assert first[6] == f"{s0['time_at_speed_min']:.1f}"


def test_bad_criterion_and_speed_are_clear_errors(commands):
    proc = commands["bad criterion"]  # --criterion fastest
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "criterion (--criterion): unknown 'fastest'; use one of distance, time, both" \
        in proc.stderr
    proc = commands["bad speed"]  # --speed running
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "speed (--speed): unknown speed 'running'" in proc.stderr
    assert "elderly_winter" in proc.stderr
