"""Outputs a planner can trust (issue 14 items 2, 6, 10, 16, 17).

* no command writes over one of its inputs or over a file of the result it reads, and each
  writes only its own kind of file (``.html`` for map/report, a folder or the format's file for
  export);
* a run's files appear together or not at all, with ``manifest.json`` last; map/report/export
  refuse a folder whose files do not match it;
* an output path that cannot be written is reported before the analysis starts;
* GBK Shapefiles of text GBK cannot hold; GeoPackage 1.2 that QGIS 3.22 opens cleanly.

One written sample result is shared by the module; tests that change files work on a copy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import need

import livingcircle as lc
from livingcircle import pipeline
from livingcircle._atomic import check_output, sha256_file, verify_manifest
from livingcircle._errors import ExportError, InputError
from livingcircle.cli import main
from livingcircle.results import load_result


@pytest.fixture(scope="module")
def written(sample_written):
    """The session's written sample result (conftest.sample_written): read, never changed."""
    return sample_written


@pytest.fixture(scope="module")
def written_with_programme(sample_result, tmp_path_factory):
    """The sample result as ``run --years 2026-2028 --capacity 3000`` writes it (+ programme)."""
    import dataclasses

    from livingcircle.programme import programme_layers

    prog = programme_layers(sample_result.layers, years=[2026, 2027, 2028], capacity=3000.0)
    out = tmp_path_factory.mktemp("result_programme")
    dataclasses.replace(sample_result, layers={**sample_result.layers, **prog}).write(
        out, map_html=False)
    return out


@pytest.fixture
def result_copy(written, tmp_path):
    dst = tmp_path / "result"
    shutil.copytree(written, dst)
    return dst


def _snapshot(folder: Path) -> dict[str, str]:
    """Every entry of a folder (hidden ones too) → SHA-256 of its bytes."""
    return {p.name: sha256_file(p) if p.is_file() else "<dir>" for p in folder.iterdir()}


@pytest.fixture
def no_analysis(monkeypatch):
    """Make any start of the analysis fail the test: checks must come first."""

    def started(*args, **kwargs):
        msg = "the analysis started before the output was checked"
        raise AssertionError(msg)

    monkeypatch.setattr(pipeline, "run", started)
    monkeypatch.setattr(pipeline, "run_sample", started)


# ------------------------------------------------------------------------------------------
# item 2: never over an input or a result file of another kind
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["map", "{r}", "--out", "{r}/livingcircle.gpkg"],
     "livingcircle.gpkg is the result GeoPackage this command reads and is never written over; "
     "give a .html file of its own, e.g. {r}/livingcircle_new.html"),
    (["report", "{r}", "--out", "{r}/livingcircle.gpkg"], "is the result GeoPackage"),
    (["map", "{r}/livingcircle.gpkg", "--out", "{r}/sub/../livingcircle.gpkg"],
     "is the result GeoPackage"),
    (["map", "{r}", "--out", "{r}/map.html"],
     "map.html is a file of the result in {r} (listed in its manifest.json)"),
    (["report", "{r}", "--out", "{r}/annual_plan.csv"], "annual_plan.csv is a file of the result"),
    (["report", "{r}", "--out", "{r}/manifest.json"], "manifest.json is the manifest of the"),
    (["export", "{r}/livingcircle.gpkg", "--format", "gpkg", "--out", "{r}"],
     "livingcircle.gpkg is the result GeoPackage this command reads and is never written over; "
     "give another folder"),
    (["export", "{r}/livingcircle.gpkg", "--format", "xlsx", "--out", "{r}/annual_plan.xlsx",
      "--overwrite"], "annual_plan.xlsx is a file of the result"),
    (["export", "{r}/livingcircle.gpkg", "--format", "shp", "--out", "{r}/livingcircle.gpkg"],
     "this command writes into a folder, and livingcircle.gpkg is named like a .gpkg file"),
])
def test_commands_never_write_over_the_result(result_copy, capsys, args, message):
    before = _snapshot(result_copy)
    args = [a.format(r=result_copy) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --out ")
    assert message.format(r=result_copy) in err
    assert _snapshot(result_copy) == before


def test_a_symlink_to_the_result_is_caught(result_copy, tmp_path, capsys):
    link = tmp_path / "map.html"
    link.symlink_to(result_copy / "livingcircle.gpkg")
    before = _snapshot(result_copy)
    assert main(["map", str(result_copy), "--out", str(link)]) == 2
    assert "is the result GeoPackage this command reads" in capsys.readouterr().err
    assert _snapshot(result_copy) == before


@pytest.mark.parametrize(("args", "message"), [
    (["map", "{r}", "--out", "{t}/map.txt"],
     "this command writes a .html file; give a path ending in .html, e.g. {t}/map.html"),
    (["report", "{r}", "--out", "{t}"], "{t} is an existing folder; give a file name ending in"),
    (["export", "{r}/livingcircle.gpkg", "--format", "shp", "--out", "{t}/a.html"],
     "this command writes into a folder, and a.html is named like a .html file"),
    (["export", "{r}/livingcircle.gpkg", "--format", "gpkg", "--out", "{t}/a.xlsx"],
     "writes into a folder or a file ending in .gpkg"),
])
def test_each_command_writes_only_its_own_kind(written, tmp_path, capsys, args, message):
    args = [a.format(r=written, t=tmp_path) for a in args]
    assert main(args) == 2
    assert message.format(t=tmp_path) in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_run_refuses_an_out_folder_holding_its_input(result_copy, capsys, no_analysis):
    paths = lc.sample_paths()
    gpkg = result_copy / "livingcircle.gpkg"
    before = sha256_file(gpkg)
    assert main(["run", "--osm", str(paths["osm"]), "--communities", str(gpkg),
                 "--out", str(result_copy), "--no-progress"]) == 2
    assert (f"{gpkg} is an input of this command and is never written over; give another "
            "folder") in capsys.readouterr().err
    assert sha256_file(gpkg) == before


def test_check_output_returns_the_resolved_target(tmp_path):
    got = check_output(tmp_path / "a" / ".." / "m.html", suffixes=(".html",))
    assert got == (tmp_path / "m.html").resolve()
    assert check_output(tmp_path / "new" / "deep", folder=True) == tmp_path / "new" / "deep"
    assert not (tmp_path / "new").exists()  # checked, not created
    with pytest.raises(ExportError, match="is an input of this command"):
        check_output(tmp_path, folder=True, files=["x.gpkg"], inputs=[tmp_path / "x.gpkg"])


# ------------------------------------------------------------------------------------------
# item 6: all files of a run or none, with a manifest
# ------------------------------------------------------------------------------------------


def test_manifest_lists_every_file_with_size_and_checksum(written, sample_result):
    doc = json.loads((written / "manifest.json").read_text(encoding="utf-8"))
    names = [f["name"] for f in doc["files"]]
    assert names == ["livingcircle.gpkg", "annual_plan.csv", "annual_plan.xlsx", "map.html"]
    assert sorted(p.name for p in written.iterdir()) == sorted([*names, "manifest.json"])
    for f in doc["files"]:
        assert f["size"] == (written / f["name"]).stat().st_size
        assert f["sha256"] == sha256_file(written / f["name"])
    assert doc["version"] == lc.__version__ and doc["tool"] == "livingcircle"
    assert doc["run_id"] == sample_result.metadata["run_id"]
    assert len(doc["run_id"]) == 32
    assert load_result(written).metadata["run_id"] == doc["run_id"]
    assert verify_manifest(written)["run_id"] == doc["run_id"]


@pytest.mark.parametrize("changed", ["livingcircle.gpkg", "annual_plan.csv", "map.html"])
def test_a_mixed_folder_is_refused(result_copy, tmp_path, capsys, changed):
    # a file of another run (here: the same file with one byte more) in the folder
    with open(result_copy / changed, "ab") as fh:
        fh.write(b"\n")
    for args in (["map", str(result_copy), "--out", str(tmp_path / "m.html")],
                 ["report", str(result_copy), "--out", str(tmp_path / "r.html"), "--no-map"],
                 ["export", str(result_copy / "livingcircle.gpkg"), "--format", "csv",
                  "--out", str(tmp_path / "csv")]):
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert f"{result_copy / changed} has " in err
        assert "rerun `livingcircle run` into it, or pass --no-verify" in err
    with pytest.raises(InputError, match=f"{changed} has "):
        load_result(result_copy)
    assert not [p for p in tmp_path.iterdir() if p.name != "result"]


def test_a_file_changed_in_place_is_found_by_its_checksum(result_copy, tmp_path, capsys):
    csv = result_copy / "annual_plan.csv"
    data = bytearray(csv.read_bytes())
    data[-2] = ord("9") if data[-2] != ord("9") else ord("8")  # same size, other contents
    csv.write_bytes(bytes(data))
    assert main(["report", str(result_copy), "--out", str(tmp_path / "r.html"),
                 "--no-map"]) == 2
    assert "annual_plan.csv has other contents than the run wrote (SHA-256 differs)" in \
        capsys.readouterr().err
    # a planner who edited the file on purpose says so
    assert main(["report", str(result_copy), "--out", str(tmp_path / "r.html"), "--no-map",
                 "--no-verify"]) == 0


def test_a_missing_file_is_named(result_copy):
    (result_copy / "map.html").unlink()
    with pytest.raises(InputError, match=r"map.html is missing: the files in .* are not one run"):
        load_result(result_copy)


def test_a_failed_write_leaves_the_previous_run_untouched(result_copy, sample_result,
                                                          monkeypatch):
    import livingcircle.maps

    before = _snapshot(result_copy)

    def broken_map(*args, **kwargs):
        msg = "map writer failed (simulated)"
        raise OSError(msg)

    monkeypatch.setattr(livingcircle.maps, "make_map", broken_map)
    with pytest.raises(OSError, match="simulated"):
        sample_result.write(result_copy)  # the GeoPackage and plan were already staged
    assert _snapshot(result_copy) == before  # no new file, no stray staging folder
    verify_manifest(result_copy)


def test_a_killed_write_leaves_the_previous_run_and_a_staging_folder_cleaned_next_time(
        result_copy, sample_result, tmp_path):
    before = _snapshot(result_copy)
    script = textwrap.dedent(f"""
        import os, signal
        import livingcircle.maps
        from livingcircle.results import load_result

        r = load_result({str(result_copy)!r})
        def killed(*args, **kwargs):  # the process dies while the run's files are staged
            os.kill(os.getpid(), signal.SIGKILL)
        livingcircle.maps.make_map = killed
        r.write({str(result_copy)!r}, map_html=True)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    stray = [p for p in result_copy.iterdir() if p.name not in before]
    assert len(stray) == 1 and stray[0].name.startswith(".livingcircle-partial-")
    assert (stray[0] / "livingcircle.gpkg").is_file()  # what the killed run had written
    assert {n: h for n, h in _snapshot(result_copy).items() if n in before} == before
    # readers never look into it; the folder is still the previous run's, whole
    assert load_result(result_copy).metadata["run_id"] == sample_result.metadata["run_id"]
    # the next write into the folder removes it
    files = sample_result.write(result_copy, map_html=False)
    assert sorted(p.name for p in result_copy.iterdir()) == \
        ["annual_plan.csv", "annual_plan.xlsx", "livingcircle.gpkg", "manifest.json"]
    assert [p.name for p in files][-1] == "manifest.json"
    # the previous run's map is not left beside a run that wrote none
    assert verify_manifest(result_copy)["files"][-1]["name"] == "annual_plan.xlsx"


def test_a_killed_single_file_writer_leaves_nothing_that_stays(tmp_path):
    from livingcircle._atomic import atomic_file

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(done.stdout)  # the id of a process that has ended
    stale = tmp_path / f".livingcircle-partial-{dead}-report.abc123.html"
    stale_journal = tmp_path / f".livingcircle-partial-{dead}-x.abc.gpkg-journal"
    live = tmp_path / f".livingcircle-partial-{os.getpid()}-map.def456.html"  # being written
    for p in (stale, stale_journal, live):
        p.write_text("half a file", encoding="utf-8")
    with atomic_file(tmp_path / "report.html") as tmp:
        tmp.write_text("whole", encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "report.html"]


# ------------------------------------------------------------------------------------------
# item 10: an output that cannot be written is reported before the analysis starts
# ------------------------------------------------------------------------------------------


def _commands(out: str, written: Path, areas: Path) -> dict[str, list[str]]:
    p = lc.sample_paths()
    inputs = ["--osm", str(p["osm"]), "--communities", str(p["communities"])]
    return {
        "run": ["run", *inputs, "--out", out, "--no-progress"],
        "demo": ["demo", "--out", out, "--no-progress"],
        "recommend": ["recommend", "--demo", "--out", out, "--no-progress"],
        "batch": ["batch", str(areas), "--out", out, "--no-progress"],
        "map": ["map", str(written), "--out", f"{out}/map.html"],
        "report": ["report", str(written), "--out", f"{out}/report.html"],
        "export": ["export", str(written / "livingcircle.gpkg"), "--format", "shp",
                   "--out", out],
    }


@pytest.fixture
def areas_file(tmp_path):
    p = lc.sample_paths()
    areas = tmp_path / "areas.yaml"
    areas.write_text(f"areas:\n  - name: d\n    osm: {p['osm']}\n"
                     f"    communities: {p['communities']}\n", encoding="utf-8")
    return areas


@pytest.mark.parametrize("command", ["run", "demo", "recommend", "batch", "map", "report",
                                     "export"])
def test_a_path_under_a_file_is_reported_first(written, tmp_path, areas_file, capsys,
                                               no_analysis, command):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("a regular file", encoding="utf-8")
    args = _commands(str(a_file / "out"), written, areas_file)[command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{a_file} is a file, so nothing can be written under it; give a path in a folder" \
        in err, err
    assert a_file.read_text(encoding="utf-8") == "a regular file"


@pytest.mark.parametrize("command", ["run", "demo", "recommend", "batch", "map", "report",
                                     "export"])
def test_a_folder_that_takes_no_files_is_reported_first(written, tmp_path, areas_file, capsys,
                                                        no_analysis, command):
    # /proc takes no new files even for root, so this holds where tests run as root (CI)
    args = _commands("/proc/livingcircle-test/out", written, areas_file)[command]
    assert main(args) == 2
    assert "its nearest existing folder /proc does not accept new files" in \
        capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only (0o555) folder "
                    "anyway; the /proc test above covers a folder that takes no files")
def test_a_read_only_folder_is_reported_first(written, tmp_path, capsys, no_analysis):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["demo", "--out", str(ro / "out")]) == 2
        assert f"its nearest existing folder {ro} is not writable for this user" in \
            capsys.readouterr().err
        assert main(["map", str(written), "--out", str(ro / "m.html")]) == 2
        assert "is not writable for this user" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


def test_missing_parents_are_created(written, sample_result, tmp_path):
    out = tmp_path / "a" / "b" / "m.html"
    assert main(["map", str(written), "--out", str(out), "--no-isochrones"]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    files = sample_result.write(tmp_path / "x" / "y", map_html=False)
    assert [p.parent for p in files] == [tmp_path / "x" / "y"] * 4


# ------------------------------------------------------------------------------------------
# item 16: GBK Shapefiles of real text
# ------------------------------------------------------------------------------------------


@pytest.fixture
def poi_result(written, tmp_path):
    """The sample result with two facility names as real OSM data has them: '䝳' (a POI name
    in a real city, outside GBK) and an emoji; written by GDAL as a GeoPackage."""
    import pyogrio

    fac = pyogrio.read_dataframe(written / "livingcircle.gpkg", layer="facilities")
    fac.loc[3, "name"] = "䝳记生鲜"
    fac.loc[10, "name"] = "便民店😀"
    src = tmp_path / "poi.gpkg"
    pyogrio.write_dataframe(fac, src, layer="facilities")
    return src, fac


def test_gbk_shapefile_replaces_and_lists_what_gbk_cannot_hold(poi_result, tmp_path, caplog):
    import pandas as pd
    import pyogrio

    src, fac = poi_result
    out = tmp_path / "shp"
    with caplog.at_level("WARNING", logger="livingcircle.export"):
        assert main(["export", str(src), "--format", "shp", "--encoding", "gbk",
                     "--out", str(out)]) == 0
    warnings = [r for r in caplog.records if "cannot hold" in r.getMessage()]
    assert len(warnings) == 1
    assert "2 text(s) in 'facilities' held characters GBK cannot hold" in \
        warnings[0].getMessage()
    assert (out / "facilities.cpg").read_text() == "GBK"
    back = pyogrio.read_dataframe(out / "facilities.shp", encoding="gbk")
    assert len(back) == len(fac)  # nothing dropped
    assert back.loc[3, "name"] == "?记生鲜" and back.loc[10, "name"] == "便民店?"
    assert back.loc[0, "name"] == fac.loc[0, "name"]
    assert "?记生鲜".encode("gbk") in (out / "facilities.dbf").read_bytes()
    listed = pd.read_csv(out / "encoding_replacements.csv", encoding="utf-8-sig")
    assert listed.to_dict("records") == [
        {"layer": "facilities", "row": 4, "column": "name", "original": "䝳记生鲜",
         "written": "?记生鲜"},
        {"layer": "facilities", "row": 11, "column": "name", "original": "便民店😀",
         "written": "便民店?"},
    ]


def test_gb18030_keeps_every_character(poi_result, tmp_path):
    import pandas as pd
    import pyogrio

    src, fac = poi_result
    out = tmp_path / "shp"
    assert main(["export", str(src), "--format", "shp", "--encoding", "gb18030",
                 "--out", str(out)]) == 0
    assert (out / "facilities.cpg").read_text() == "GB18030"
    back = pyogrio.read_dataframe(out / "facilities.shp", encoding="gb18030")
    assert back["name"].tolist() == fac["name"].tolist()
    assert "䝳记生鲜".encode("gb18030") in (out / "facilities.dbf").read_bytes()
    assert len(pd.read_csv(out / "encoding_replacements.csv", encoding="utf-8-sig")) == 0


def test_strict_encoding_keeps_the_refusal(poi_result, tmp_path, capsys):
    src, _ = poi_result
    out = tmp_path / "shp"
    assert main(["export", str(src), "--format", "shp", "--encoding", "gbk",
                 "--strict-encoding", "--out", str(out)]) == 2
    assert ("layer 'facilities', column 'name', row 4: '䝳记生鲜' has the character '䝳' that "
            "GBK cannot hold") in capsys.readouterr().err
    assert not out.exists() or list(out.iterdir()) == []


# ------------------------------------------------------------------------------------------
# item 17: GeoPackage 1.2 with QGIS styles, opened by the real QGIS 3.22 LTR
# ------------------------------------------------------------------------------------------

SYSTEM_PYTHON = Path("/usr/bin/python3")  # Debian's python3-qgis is built for it only
QGIS_SCRIPT = Path(__file__).with_name("qgis_open_layers.py")


def _qgis_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME",
                                                             "VIRTUAL_ENV")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


@pytest.fixture(scope="module")
def qgis():
    """Skip without Debian's QGIS outside CI; in CI (env CI set) a missing QGIS is a failure."""
    problem = None
    if not SYSTEM_PYTHON.exists():
        problem = f"{SYSTEM_PYTHON} is missing"
    else:
        probe = subprocess.run([str(SYSTEM_PYTHON), "-c", "import qgis.core"], env=_qgis_env(),
                               capture_output=True, text=True, timeout=120, check=False)
        if probe.returncode != 0:
            problem = (f"{SYSTEM_PYTHON} cannot import qgis (apt-get install python3-qgis "
                       f"qgis-providers): {probe.stderr.strip().splitlines()[-1:]}")
    need("QGIS (Debian's python3-qgis)", problem is None, problem or "")
    return SYSTEM_PYTHON


def _open_in_qgis(python: Path, gpkg: Path) -> dict:
    proc = subprocess.run([str(python), str(QGIS_SCRIPT), str(gpkg)], env=_qgis_env(),
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_run_geopackage_is_version_1_2_with_styles(written):
    import sqlite3

    import pyogrio

    gpkg = written / "livingcircle.gpkg"
    with sqlite3.connect(gpkg) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200  # GeoPackage 1.2
        styled = sorted(r[0] for r in con.execute("SELECT f_table_name FROM layer_styles"))
    spatial = sorted(str(n) for n, g in pyogrio.list_layers(gpkg) if g is not None)
    assert styled == spatial


def test_export_geopackage_is_version_1_2(written, tmp_path):
    import sqlite3

    from livingcircle.export import export_layers

    (out,) = export_layers(written / "livingcircle.gpkg", out=tmp_path, format="gpkg")
    with sqlite3.connect(out) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200


def test_every_layer_opens_cleanly_and_styled_in_qgis_3_22(qgis, written_with_programme):
    import pyogrio

    written = written_with_programme  # every layer, the programme's too

    gpkg = written / "livingcircle.gpkg"
    got = _open_in_qgis(qgis, gpkg)
    assert got["gdal"] == []  # no "may only be partially supported", nor any other warning
    assert got["messages"] == []
    listed = {str(n): g for n, g in pyogrio.list_layers(gpkg)}
    assert set(got["layers"]) == set(listed)
    for name, layer in got["layers"].items():
        assert layer["valid"], name
        assert layer["features"] == pyogrio.read_info(gpkg, layer=name)["features"], name
        if listed[name] is not None and name != "layer_styles":
            # the style stored in the file is the one QGIS applied
            assert layer["styles_for_layer"] == [name], name
    fac, iso = got["layers"]["facilities"], got["layers"]["isochrones"]
    assert (fac["renderer"], fac["class_attribute"]) == ("categorizedSymbol", "category")
    assert fac["categories"] == len(pyogrio.read_dataframe(
        gpkg, layer="facilities", columns=["category"], read_geometry=False)["category"].unique())
    assert (iso["renderer"], iso["class_attribute"], iso["categories"]) == \
        ("categorizedSymbol", "minutes", 3)
    assert got["layers"]["communities"]["renderer"] == "singleSymbol"
    # the multi-year programme by year, its communities without a year in a grey category
    prog = got["layers"]["programme"]
    years = pyogrio.read_dataframe(gpkg, layer="programme", columns=["year"],
                                   read_geometry=False)["year"]
    assert (prog["renderer"], prog["class_attribute"]) == ("categorizedSymbol", "year")
    assert prog["categories"] == years.nunique() + 1  # each year that has communities, 未安排
    assert not got["layers"]["programme_years"]["spatial"]  # a table: no symbology
    verify_manifest(written)  # opening the result in QGIS does not change it


def test_spilled_layers_get_the_same_styles(written, tmp_path, monkeypatch):
    import pyogrio

    monkeypatch.setattr(lc.settings, "spill_above_communities", 10)
    r = load_result(written)  # a city-sized result: isochrones and coverage stay in the file
    assert set(r.spilled) == {"isochrones", "coverage"}
    r.write(tmp_path / "again", map_html=False)

    def styles(folder):
        t = pyogrio.read_dataframe(folder / "livingcircle.gpkg", layer="layer_styles")
        return t.set_index("f_table_name")[["f_geometry_column", "styleQML"]].sort_index()

    a, b = styles(written), styles(tmp_path / "again")
    assert {"isochrones", "coverage"} <= set(b.index)
    assert a.equals(b)


def test_batch_refuses_an_input_inside_an_area_result_folder(tmp_path, capsys, no_analysis):
    p = lc.sample_paths()
    province = tmp_path / "province"
    (province / "d").mkdir(parents=True)
    comm = province / "d" / "communities.gpkg"  # where the area's results will go
    shutil.copy(p["communities"], comm)
    areas = tmp_path / "areas.yaml"
    areas.write_text(f"areas:\n  - name: d\n    osm: {p['osm']}\n    communities: {comm}\n",
                     encoding="utf-8")
    before = sha256_file(comm)
    assert main(["batch", str(areas), "--out", str(province), "--no-progress"]) == 2
    assert (f"{comm} (communities of area 'd') lies in {province / 'd'}, which the batch "
            "replaces with the area's results") in capsys.readouterr().err
    assert sha256_file(comm) == before


def test_files_written_into_a_relative_folder_are_listed_absolute(tmp_path, monkeypatch):
    """``livingcircle demo`` lists what it wrote: the manifest like the others (it was relative)."""
    from livingcircle._atomic import StagedFiles

    monkeypatch.chdir(tmp_path)
    with StagedFiles("maps/demo", manifest={"run_id": "r1", "version": "0"}) as stage:
        stage.path("a.csv").write_text("x\n", encoding="utf-8")
    assert stage.written == [(tmp_path / "maps/demo/a.csv").resolve(),
                             (tmp_path / "maps/demo/manifest.json").resolve()]
