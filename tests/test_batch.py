"""Batch runs on Dask: three thirds of the sample district on a local cluster of two workers."""

from __future__ import annotations

import json
import shutil

# Dask is a normal dependency (the batch engine): a missing one fails here, never skips
import distributed
import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
import yaml
from conftest import policy_scope, sample_policy_scope
from geopandas.testing import assert_geodataframe_equal

import livingcircle as lc
from livingcircle import batch
from livingcircle._errors import InputError
from livingcircle.summaries import area_summary

HALO_CATEGORY = "large_sports_ground"
SPEED = ["adult"]
N_PER_AREA = 6  # communities per area: small keeps the test fast


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def _metres_per_degree_lon(lat):
    return 111_320.0 * np.cos(np.radians(lat))


@pytest.fixture(scope="module")
def areas(tmp_path_factory):
    """Three sub-areas (west/middle/east thirds) and a fourth with a corrupt communities file."""
    d = tmp_path_factory.mktemp("areas")
    p = lc.sample_paths()
    bnd = gpd.read_file(p["boundary"]).to_crs(4326)
    poly = shapely.union_all(bnd.geometry.values)
    x0, y0, x1, y1 = poly.bounds
    cuts = np.linspace(x0, x1, 4)
    comm = gpd.read_file(p["communities"])
    gates = gpd.read_file(p["gates"])
    rep = comm.geometry.representative_point()
    specs = []
    parts = {}
    for k, name in enumerate(["西片 west", "中片 middle", "东片 east"]):
        part = shapely.intersection(poly, shapely.box(cuts[k], y0 - 0.01, cuts[k + 1], y1 + 0.01))
        folder = batch.safe_name(name)
        bfile = d / f"{folder}_boundary.geojson"
        gpd.GeoDataFrame({"name": [name]}, geometry=[part], crs=4326).to_file(bfile)
        inside = comm[rep.within(part)]
        if k == 0:  # keep the easternmost community of the west area for the halo test
            east = inside.geometry.bounds["maxx"].idxmax()
            inside = pd.concat([inside.drop(index=east).head(N_PER_AREA - 1), inside.loc[[east]]])
        else:
            inside = inside.head(N_PER_AREA)
        cfile = d / f"{folder}_communities.gpkg"
        inside.to_file(cfile)
        gfile = d / f"{folder}_gates.gpkg"
        gates[gates["community_id"].isin(inside["community_id"])].to_file(gfile)
        parts[name] = (part, inside)
        specs.append({"name": name, "osm": str(p["osm"]), "communities": cfile.name,
                      "gates": gfile.name, "facilities": [str(p["facilities"]),
                                                          str(p["amap_csv"])],
                      "sites": str(p["sites"]), "boundary": bfile.name, "speeds": SPEED})
    # halo: a facility 100 m east of the west area's edge, level with its easternmost community
    west_part, west_comm = parts["西片 west"]
    edge_x = cuts[1]
    wproj = west_comm.to_crs(west_comm.estimate_utm_crs())
    east_most = west_comm.iloc[int(np.argmax(wproj.geometry.bounds["maxx"].to_numpy()))]
    lat = east_most.geometry.representative_point().y
    fx = edge_x + 100.0 / _metres_per_degree_lon(lat)
    halo = gpd.GeoDataFrame({"facility_id": ["HALO1"], "name": ["边界外体育场"],
                             "category": [HALO_CATEGORY]},
                            geometry=[shapely.Point(fx, lat)], crs=4326)
    halo_file = d / "halo_facility.gpkg"
    halo.to_file(halo_file)
    specs[0]["facilities"] = [*specs[0]["facilities"], halo_file.name]
    broken = d / "broken_communities.gpkg"
    broken.write_bytes(b"this is not a GeoPackage\x00\x01" * 20)
    specs.append({"name": "坏数据 broken", "osm": str(p["osm"]), "communities": broken.name,
                  "speeds": SPEED})  # no facilities key: the OSM file's POIs would be used
    yml = d / "areas.yaml"
    yml.write_text(yaml.safe_dump({"areas": specs}, allow_unicode=True), encoding="utf-8")
    return {"yaml": yml, "dir": d, "specs": specs, "halo_community": east_most["community_id"],
            "halo_point": halo.geometry.iloc[0], "edge_x": edge_x, "west_part": west_part,
            "halo_file": halo_file}


def _single_run(kwargs: dict, out: str) -> str:
    """One plain ``run`` (the reference for the batch), written without a map; on a worker."""
    from livingcircle.pipeline import run as run_one

    run_one(speed_profiles=SPEED, progress=False, **kwargs).write(out, map_html=False)
    return out + "/livingcircle.gpkg"


@pytest.fixture(scope="module")
def singles(tmp_path_factory, areas, client):
    """Reference runs, one plain ``run`` per area plus one over the whole district (halo test).

    They are plain pipeline.run calls; they go to the cluster's workers only so that they run
    two at a time beside the batch.
    """
    import sys

    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    d = tmp_path_factory.mktemp("singles")
    specs = batch.load_areas(areas["yaml"])
    futs = {}
    for spec in specs[:3]:
        kw = {k: spec[k] for k in ("osm", "communities", "gates", "facilities", "sites",
                                   "boundary")}
        futs[spec["folder"]] = client.submit(_single_run, kw, str(d / spec["folder"]),
                                             pure=False)
    p = lc.sample_paths()
    west = specs[0]
    kw = {"osm": str(p["osm"]), "communities": west["communities"], "gates": west["gates"],
          "facilities": west["facilities"], "boundary": str(p["boundary"])}
    futs["whole district"] = client.submit(_single_run, kw, str(d / "whole"), pure=False)
    return futs


@pytest.fixture(scope="module")
def batch_out(tmp_path_factory, areas, client, singles):
    out = tmp_path_factory.mktemp("batch_out")
    table = batch.run_batch(areas["yaml"], out=out, scheduler=client, progress=False)
    return out, table


def _layer(path, layer, keys):
    df = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
    return df.sort_values(keys).reset_index(drop=True)


def test_batch_equals_single_runs(areas, batch_out, singles):
    out, table = batch_out
    done = table[table["status"] == "done"]
    assert sorted(done["folder"]) == sorted(batch.safe_name(s["name"])
                                            for s in areas["specs"][:3])
    specs = batch.load_areas(areas["yaml"])
    for spec in specs[:3]:
        mine = singles[spec["folder"]].result()
        theirs = out / spec["folder"] / "livingcircle.gpkg"
        for layer, keys in (("access", ["community_id", "category", "speed_profile"]),
                            ("completeness", ["community_id"]),
                            ("gaps", ["community_id", "category"])):
            pd.testing.assert_frame_equal(_layer(theirs, layer, keys), _layer(mine, layer, keys))
        a = pyogrio.read_dataframe(theirs, layer="communities").sort_values("community_id")
        b = pyogrio.read_dataframe(mine, layer="communities").sort_values("community_id")
        assert_geodataframe_equal(a.reset_index(drop=True), b.reset_index(drop=True))
        # the summary row is the area's own figures
        row = table.set_index("folder").loc[spec["folder"]]
        comp = _layer(mine, "completeness", ["community_id"])
        n_fac = pyogrio.read_info(mine, layer="facilities")["features"]
        assert row["communities"] == len(b) == N_PER_AREA
        # independent of both runs: the area's own input file and the policy rule
        raw = gpd.read_file(spec["communities"])
        assert row["in_scope"] == int((policy_scope(raw) == "yes").sum())
        assert row["households"] == raw["households"].sum()
        assert row["facilities"] == n_fac
        assert row["mean_completeness_15"] == pytest.approx(comp["completeness_15"].mean())
        hh = b.set_index("community_id")["households"]
        full = comp[comp["completeness_15"] >= 1]["community_id"]
        judged = comp[comp["completeness_15"].notna()]["community_id"]
        assert row["share_households_15"] == pytest.approx(hh[full].sum() / hh[judged].sum())
        marker = json.loads((out / spec["folder"] / batch.DONE_MARKER).read_text("utf-8"))
        roles = {i["role"] for i in marker["inputs"]}
        assert roles == {"osm", "communities", "gates", "facilities", "sites", "boundary"}
        assert all(len(i["sha256"]) == 64 for i in marker["inputs"])


def test_batch_outputs_keep_the_layer_contract(batch_out):
    from livingcircle.diagnostics import kept_source_columns
    from livingcircle.schema import LAYERS, SYSTEM_TABLES, check_layer, vocabulary

    out, table = batch_out
    vocab = vocabulary()
    summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig")
    assert check_layer("summary", summary, vocab) == []
    for folder in table.loc[table["status"] == "done", "folder"]:
        gpkg = out / folder / "livingcircle.gpkg"
        names = [n for n, _ in pyogrio.list_layers(gpkg) if n not in SYSTEM_TABLES]
        diag = pyogrio.read_dataframe(gpkg, layer="diagnostics", read_geometry=False)
        assert set(names) <= set(LAYERS)
        assert {"communities", "access", "gaps", "diagnostics"} <= set(names)
        for name in names:
            frame = pyogrio.read_dataframe(gpkg, layer=name,
                                           read_geometry=bool(LAYERS[name].geometry))
            kept = kept_source_columns(diag, name)
            assert check_layer(name, frame, vocab, source_columns=kept) == [], (folder, name)


def test_failing_area_reported_others_finish(batch_out):
    out, table = batch_out
    assert list(table["status"]) == ["done", "done", "done", "failed"]
    bad = table.iloc[3]
    assert bad["name"] == "坏数据 broken"
    assert "broken_communities.gpkg" in bad["error"]
    assert bad["error"].startswith("InputError: ")  # the exception's type and message
    assert not (out / bad["folder"]).exists()
    assert not list(out.glob(".*tmp-*"))  # no temporary folder left behind
    summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig")
    assert list(summary["status"]) == ["done", "done", "done", "failed"]
    assert (out / "summary.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    zh = pd.read_excel(out / "summary.xlsx", sheet_name="片区比较")
    assert list(zh["状态"]) == ["完成", "完成", "完成", "失败"]
    assert "15分钟生活圈必配设施齐全的户数占比(%)" in zh.columns
    html = (out / "summary_map.html").read_text("utf-8")
    for name in ("西片 west", "中片 middle", "东片 east"):
        assert name in html
    assert "map.html" in html
    # offline: Leaflet is in the page, nothing is loaded from a CDN
    assert "cdn.jsdelivr" not in html and "<script src=" not in html


def test_rerun_finishes_only_missing_areas(areas, batch_out, tmp_path, client, capsys):
    src, _ = batch_out
    out = tmp_path / "again"
    shutil.copytree(src, out)
    west = out / batch.safe_name("西片 west") / "livingcircle.gpkg"
    before = west.stat().st_mtime_ns
    shutil.rmtree(out / batch.safe_name("东片 east"))  # interrupted before east was written
    (out / batch.safe_name("中片 middle") / batch.DONE_MARKER).unlink()  # no marker: not done
    # by address, as ``--scheduler tcp://…`` for an existing cluster
    table = batch.run_batch(areas["yaml"], out=out, scheduler=client.scheduler.address,
                            progress=True)
    assert list(table["status"]) == ["skipped", "done", "done", "failed"]
    err = capsys.readouterr()
    assert "Dask dashboard:" in err.out + err.err  # the address, or why there is none
    assert west.stat().st_mtime_ns == before
    assert table.iloc[0]["seconds"] == 0.0
    assert table.iloc[0]["communities"] > 0  # figures of a skipped area come from its marker
    assert (out / batch.safe_name("东片 east") / batch.DONE_MARKER).is_file()
    assert (out / batch.safe_name("中片 middle") / batch.DONE_MARKER).is_file()


def test_halo_facility_outside_boundary_serves_community_inside(areas, batch_out, singles):
    out, _ = batch_out
    # the facility lies outside the west area, about 100 m from its edge
    part = areas["west_part"]
    pt = areas["halo_point"]
    assert not part.contains(pt)
    utm = gpd.GeoSeries([part, pt], crs=4326).estimate_utm_crs()
    pp, ptp = gpd.GeoSeries([part, pt], crs=4326).to_crs(utm)
    assert 80 < pp.distance(ptp) < 120
    # kept by the reader: io drops points only beyond settings.far_outside_km (5 km)
    assert lc.settings.far_outside_km * 1000 > 120
    cid = areas["halo_community"]
    west = batch.safe_name("西片 west")
    acc = pyogrio.read_dataframe(out / west / "livingcircle.gpkg", layer="access",
                                 read_geometry=False)
    row = acc[(acc["community_id"] == cid) & (acc["category"] == HALO_CATEGORY)].iloc[0]
    assert row["nearest_facility_id"] == "HALO1"
    # the same distance as a run over the whole district (no cut at the west area's edge)
    whole = singles["whole district"].result()
    ref = _layer(whole, "access", ["community_id", "category", "speed_profile"])
    ref = ref[(ref["community_id"] == cid) & (ref["category"] == HALO_CATEGORY)].iloc[0]
    assert ref["nearest_facility_id"] == "HALO1"
    assert row["distance_m"] == pytest.approx(ref["distance_m"], abs=1e-6)
    assert row["distance_m"] < lc.load_profile().category(HALO_CATEGORY).max_walk_m


def test_localise_copies_fsspec_url(tmp_path):
    import fsspec  # a dependency of livingcircle: never skipped
    with fsspec.open("memory://lc-test/communities.geojson", "wb") as fh:
        fh.write(b'{"type": "FeatureCollection", "features": []}')
    local = batch.localise("memory://lc-test/communities.geojson", tmp_path)
    assert local.endswith("communities.geojson")
    assert open(local, "rb").read() == b'{"type": "FeatureCollection", "features": []}'
    assert batch.localise(str(tmp_path / "x.gpkg"), tmp_path) == str(tmp_path / "x.gpkg")


@pytest.mark.parametrize(("entry", "match"), [
    ({"name": "a", "osm": "x.osm"}, "area 'a': key 'communities' is missing"),
    ({"name": "a", "communities": "c.gpkg"}, "area 'a': give key 'osm'"),
    ({"name": "a", "osm": "x.osm", "communities": "c.gpkg", "colour": 1},
     r"area 'a': unknown key\(s\) \['colour'\]"),
    ({"name": "a", "osm": "missing.osm", "communities": "c.gpkg"},
     "area 'a', key 'osm': file not found"),
    ({"name": "a", "osm": "x.osm", "communities": "c.gpkg", "facilities_crs": "utm"},
     "area 'a', key 'facilities_crs'"),
    ({"osm": "x.osm", "communities": "c.gpkg"}, "area #1 has no 'name'"),
])
def test_areas_yaml_errors_name_area_and_key(tmp_path, entry, match):
    (tmp_path / "x.osm").write_text("<osm/>")
    (tmp_path / "c.gpkg").write_bytes(b"")
    yml = tmp_path / "areas.yaml"
    yml.write_text(yaml.safe_dump({"areas": [entry]}), encoding="utf-8")
    with pytest.raises(InputError, match=match):
        batch.load_areas(yml)


def test_areas_relative_paths_and_duplicate_names(tmp_path):
    sub = tmp_path / "data"
    sub.mkdir()
    (sub / "x.osm").write_text("<osm/>")
    (sub / "c.gpkg").write_bytes(b"")
    yml = tmp_path / "areas.yaml"
    yml.write_text(yaml.safe_dump({"areas": [
        {"name": "哈尔滨/道里", "osm": "data/x.osm", "communities": "data/c.gpkg",
         "facilities": "data/c.gpkg"}]}, allow_unicode=True), encoding="utf-8")
    (spec,) = batch.load_areas(yml)
    assert spec["osm"] == str((sub / "x.osm").resolve())
    assert spec["facilities"] == [str((sub / "c.gpkg").resolve())]
    assert spec["folder"] == "哈尔滨_道里"
    yml.write_text(yaml.safe_dump({"areas": [
        {"name": "a b", "osm": "data/x.osm", "communities": "data/c.gpkg"},
        {"name": "a/b", "osm": "data/x.osm", "communities": "data/c.gpkg"}]}), encoding="utf-8")
    with pytest.raises(InputError, match="area 'a/b': its folder name 'a_b'"):
        batch.load_areas(yml)


def test_cli_batch_all_done_skips_without_running(areas, batch_out, tmp_path):
    from livingcircle.cli import main

    src, _ = batch_out
    out = tmp_path / "cli"
    shutil.copytree(src, out)
    data = yaml.safe_load(areas["yaml"].read_text("utf-8"))
    data["areas"] = data["areas"][:3]  # the three areas that are done
    yml = areas["dir"] / "three.yaml"
    yml.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["batch", str(yml), "--out", str(out), "--no-progress"]) == 0
    summary = pd.read_csv(out / "summary.csv", encoding="utf-8-sig")
    assert list(summary["status"]) == ["skipped"] * 3
    assert list(summary["name"]) == ["西片 west", "中片 middle", "东片 east"]


def test_inputs_changed_compares_checksums(tmp_path):
    f = tmp_path / "c.gpkg"
    f.write_bytes(b"one")
    spec = {"name": "a", "communities": str(f), "facilities": [str(f)], "folder": "a"}
    sha = batch._sha256(f)
    rec = {"inputs": [{"role": "communities", "source": str(f), "sha256": sha},
                      {"role": "facilities", "source": str(f), "sha256": sha}]}
    assert batch.inputs_changed(spec, rec) == []
    f.write_bytes(b"two")
    assert batch.inputs_changed(spec, rec) == [f"communities: {f}", f"facilities: {f}"]


def _threads_in_area_task():
    from livingcircle.batch import _engine_threads
    from livingcircle.routing import _threads

    with _engine_threads():
        inside = _threads(None)
    return inside, _threads(None)


def test_area_tasks_use_one_engine_thread_inside_a_worker(client):
    from livingcircle.routing import _threads

    inside, after = client.submit(_threads_in_area_task, pure=False).result()
    cores = client.submit(_threads, None, pure=False).result()
    assert inside == 1 and after == cores  # Dask runs one task per worker thread
    assert _threads_in_area_task() == (_threads(None), _threads(None))  # outside: untouched


def test_threads_here_holds_for_the_calling_thread_only():
    import threading

    from livingcircle import settings
    from livingcircle.routing import _threads, threads_here

    seen = {}
    with threads_here(1):
        other = threading.Thread(target=lambda: seen.setdefault("other", _threads(None)))
        other.start()
        other.join()
        assert _threads(None) == 1 and _threads(2) == 2  # an explicit count still wins
    assert seen["other"] == _threads(None) and settings.threads is None


def test_overlapping_areas_count_each_community_once(areas, client, tmp_path):
    """Two neighbouring areas given the same (whole district) communities file.

    The middle area's boundary also reaches 500 m into the west area: communities in that
    overlap belong to the west area, listed first.
    """
    p = lc.sample_paths()
    d = areas["dir"]
    middle = gpd.read_file(d / f"{batch.safe_name('中片 middle')}_boundary.geojson")
    utm = middle.estimate_utm_crs()
    x0, y0, x1, y1 = middle.to_crs(utm).total_bounds
    wider = shapely.box(x0 - 500, y0, x1, y1)
    wider = gpd.GeoDataFrame({"name": ["中片 middle"]}, geometry=[wider], crs=utm).to_crs(4326)
    wider.to_file(tmp_path / "middle_wider.geojson")
    specs = []
    for name, bfile in (("西片 west", d / f"{batch.safe_name('西片 west')}_boundary.geojson"),
                        ("中片 middle", tmp_path / "middle_wider.geojson")):
        specs.append({"name": name, "osm": str(p["osm"]), "communities": str(p["communities"]),
                      "facilities": [str(p["facilities"])], "boundary": str(bfile),
                      "speeds": SPEED})
    out = tmp_path / "out"
    with pytest.warns(UserWarning) as caught:  # the areas' own warnings, from the workers
        table = batch.run_batch(specs, out=out, scheduler=client, progress=False)
    assert list(table["status"]) == ["done", "done"]
    shown = [str(w.message) for w in caught]
    # an independent count: representative points of the file in each part (border: first)
    comm = gpd.read_file(p["communities"])
    rep = comm.representative_point()
    west = gpd.read_file(specs[0]["boundary"]).union_all()
    middle = gpd.read_file(specs[1]["boundary"]).union_all()
    in_west = rep.covered_by(west)
    in_middle = rep.covered_by(middle) & ~in_west
    assert (rep.covered_by(middle) & in_west).sum() > 0  # the overlap holds communities
    assert table["communities"].tolist() == [int(in_west.sum()), int(in_middle.sum())]
    ids = [set(pyogrio.read_dataframe(out / batch.safe_name(s["name"]) / "livingcircle.gpkg",
                                      layer="communities", read_geometry=False)["community_id"])
           for s in specs]
    assert ids[0] == set(comm.loc[in_west, "community_id"])
    assert ids[1] == set(comm.loc[in_middle, "community_id"])
    assert not ids[0] & ids[1]
    diag = pyogrio.read_dataframe(out / batch.safe_name("中片 middle") / "livingcircle.gpkg",
                                  layer="diagnostics", read_geometry=False)
    outside = diag[diag["issue"].isin(["outside_study_area", "in_other_area"])]
    assert len(outside) == len(comm) - int(in_middle.sum())  # each recorded once
    assert outside["row"].is_unique
    n_other = int((diag["issue"] == "in_other_area").sum())
    assert n_other == int((rep.covered_by(middle) & in_west).sum())
    assert any(m.startswith("area 中片 middle: ") and
               f"{int(in_middle.sum())} of {len(comm)} communities are in the study area" in m
               and f"{n_other} in an area listed before this one" in m for m in shown), shown


def test_summary_counts_in_scope_yes_only(sample_result):
    fig = area_summary(sample_result)
    comm = gpd.read_file(lc.sample_paths()["communities"])
    # independent count from the raw file (conftest.policy_scope): built by 2000, safety grade
    # C, or units without their own kitchen and bathroom (黑政办规〔2021〕15号 二(一))
    want = sample_policy_scope()  # the sample run judges by its buildings file too
    assert fig["in_scope"] == int((want == "yes").sum()) == 60
    assert fig["communities"] == len(comm) == 80
    assert fig["households"] == comm["households"].sum()  # NaN rows add nothing
    assert fig["population"] == comm["population"].sum()
    scope = sample_result["communities"].set_index("community_id")["in_scope"]
    # 15 'no' and 3 'unknown' are not counted
    assert scope.sort_index().to_dict() == want.sort_index().to_dict()
