"""Smoke test of benchmarks/bench_access.py: a 400-node grid, 2 categories; no timings asserted."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import need_module

from livingcircle import settings

ROOT = Path(__file__).resolve().parents[1]


def _load_script(name: str):
    """Import ``benchmarks/<name>.py`` as module ``name`` (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def bench():
    return _load_script("bench_access")


def test_grid_arrays_and_facilities(bench):
    a = bench.grid_arrays(400)
    assert len(a["xy"]) == 400
    # 2 * 20 * 19 = 760 lattice streets before 8 % are dropped; every length is a jittered 100 m
    assert 600 < len(a["u"]) < 760
    assert np.all((a["length"] > 100 - 2 * 20 * np.sqrt(2)) & (a["length"] < 100 + 2 * 40))
    cats = bench.facilities(400, 2)
    assert [len(c) for c in cats] == [5, 400]  # 5 and min(2000, all nodes)


def test_quick_run_methods_agree(bench, tmp_path):
    out = tmp_path / "quick.json"
    skip = [t for t in ("pandana", "cityseer") if importlib.util.find_spec(t) is None]
    argv = ["--quick", "--out", str(out), "--iso-origins", "0"]
    if skip:
        argv += ["--skip", ",".join(skip)]
    assert bench.main(argv) == 0
    res = json.loads(out.read_text())
    assert res["machine"]["cores"] >= 1 and res["machine"]["python"]
    (net,) = res["networks"]
    assert net["nodes"] == 400 and net["categories"] == 2
    assert "error" not in net, net.get("error")
    # the float64 methods give the same distances to within 1e-6 m, and the same reached cells
    for m in ("scipy_plain", "livingcircle_1thread", "networkx_multi_source",
              "networkx_per_origin"):
        agree = net[f"agree_{m}"]
        assert agree["max_abs_diff_m"] <= 1e-6, m
        assert agree["reached_mismatch"] == 0, m
    # pandana and cityseer keep float32 distances: about 1e-7 relative, i.e. millimetres at 1.2 km
    for m in ("pandana", "cityseer"):
        if m in skip:
            continue
        assert net["errors"].get(m) is None, net["errors"].get(m)
        assert net[f"agree_{m}"]["max_abs_diff_m"] <= 0.05, m
        assert net[f"agree_{m}"]["reached_mismatch"] == 0, m
    assert net["networkx_per_origin"]["sample_origins"] == 20
    assert set(net["timings_s"]) >= {"livingcircle", "scipy_plain", "livingcircle_1thread"}
    assert net["threads"] >= 1
    # the fast methods are timed 5 times (default --repeat); the table keeps the best run
    for m in ("livingcircle", "scipy_plain", "livingcircle_1thread"):
        assert len(net["repeats_s"][m]) == 5
        assert net["timings_s"][m] == min(net["repeats_s"][m])


def test_direct_table_matches_networkx(bench):
    """The engine's table on a 400-node grid equals networkx's Dijkstra, cell by cell."""
    from livingcircle.routing import Snap, split_graph

    a = bench.grid_arrays(400, seed=5)
    cats = bench.facilities(400, 2, seed=6)
    g = split_graph(bench.edge_table_from_arrays(a), bench._empty_snap(Snap))
    ours = bench.run_livingcircle(g, cats)
    ref = bench.run_nx_multi(bench.simple_graph(a), cats)
    assert np.array_equal(np.isfinite(ours), np.isfinite(ref))
    fin = np.isfinite(ref)
    assert fin.sum() > 400  # the 400-facility category reaches every node
    assert np.max(np.abs(ours[fin] - ref[fin])) <= 1e-6
    # every facility node is at distance 0 of its own category
    for j, s in enumerate(cats):
        assert np.all(ours[s, j] == 0.0)


def test_isochrone_part_runs(bench):
    """Part (b) on a tiny grid: IoU in (0, 1], the osmnx method is timed on the sample."""
    from livingcircle.network import WalkNetwork

    a = bench.grid_arrays(400, seed=7)
    net = WalkNetwork(graph=bench.multidigraph_from_arrays(a), source="grid")
    r = bench.bench_isochrones(net, 4, 2, one_thread=False)
    assert r["origins"] == 4 and r["osmnx_example_sample_origins"] == 2
    assert r["osmnx_example_extrapolated"] is True
    for m in (5, 10, 15):
        assert 0.0 < r["iou_min"][m] <= r["iou_mean"][m] <= 1.0
        # the osmnx method keeps whole edges only: its polygon lies (almost) inside ours
        assert r["share_of_osmnx_outside_lc_mean"][m] < 0.02
        # the independent reference of the same definition draws the same polygon
        assert r["iou_exact_reference_min"][m] > 0.999999


def test_real_network_arrays_keep_curved_geometry(bench):
    """cityseer gets the engine's own street geometries (u -> v), not straight chords."""
    import shapely

    from livingcircle.routing import EdgeTable

    xy = np.array([[0.0, 0.0], [100.0, 0.0]])
    bend = shapely.LineString([(0, 0), (50, 30), (100, 0)])
    edges = EdgeTable(np.array([10, 11]), xy, np.array([0]), np.array([1]),
                      np.array([bend.length]), np.array([bend], dtype=object),
                      shapely.STRtree([bend]))
    a = bench.arrays_from_edge_table(edges)
    assert a["geom"][0].equals(bend)
    assert a["length"][0] == pytest.approx(2 * np.hypot(50, 30))  # 116.62 m, not the 100 m chord


@pytest.mark.skipif(sys.platform != "linux", reason="VmHWM and ru_maxrss in kB are Linux")
def test_memory_child_reports_its_own_peak(bench):
    """The peak-memory figure is the child's own high-water mark, not the parent's.

    Linux carries ``ru_maxrss`` of the forking parent across ``exec``; ``VmHWM`` is the child's.
    """
    import resource
    import subprocess

    big = np.ones(400 * 2**20 // 8)  # this process touches 400 MB more than the child needs
    script = str(ROOT / "benchmarks" / "bench_access.py")
    code = ("import importlib.util, json, resource, sys; "
            f"spec = importlib.util.spec_from_file_location('b', {script!r}); "
            "b = importlib.util.module_from_spec(spec); spec.loader.exec_module(b); "
            "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
            "print(json.dumps([b._peak_rss_kb(), rss]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    own_kb, inherited_kb = json.loads(out.stdout)
    parent_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert big.sum() == len(big)
    assert inherited_kb >= 0.9 * parent_kb  # ru_maxrss: the parent's peak, not the child's
    assert own_kb < parent_kb - 300 * 1024  # VmHWM: the child alone, well under the parent


@pytest.fixture(scope="module")
def bench_city():
    return _load_script("bench_city")


def test_city_files_are_the_grid(bench_city, tmp_path):
    """The written .osm.pbf is the grid: every kept segment once, read back by the product."""
    need_module("osmium", "pyosmium", "pip install 'livingcircle[test]'")  # benchmark only
    import livingcircle as lc

    meta = bench_city.write_city(tmp_path, nodes=900, communities=12, facilities=60,
                                 spacing=50.0, seed=3)
    side, xy, u, v, keep_h, keep_v = bench_city.grid_arrays(900, spacing=50.0, drop=0.1, seed=3)
    assert meta["street_segments"] == len(u) == keep_h.sum() + keep_v.sum()
    net = lc.build_network(osm=tmp_path / "city.osm.pbf", graph=False)
    # pyrosm's simplification removes the nodes where a street only passes through
    deg = np.bincount(np.r_[u, v], minlength=side * side)
    assert len(net) <= int((deg > 0).sum())
    assert net.edges.length.sum() == pytest.approx(
        float(np.hypot(*(xy[u] - xy[v]).T).sum()), rel=1e-3)
    comm = lc.read_communities(tmp_path / "communities.gpkg")
    fac = lc.read_facilities(tmp_path / "facilities.gpkg")
    assert len(comm) == 12 and len(fac) == 60
    assert bench_city.write_city(tmp_path, nodes=900, communities=12, facilities=60,
                                 spacing=50.0, seed=3) == meta  # written once, then reused


def test_city_run_reports_the_pipeline_stages(bench_city, tmp_path):
    """A tiny `livingcircle run` in a subprocess: its stage lines and peak memory are read."""
    need_module("osmium", "pyosmium", "pip install 'livingcircle[test]'")
    bench_city.write_city(tmp_path, nodes=400, communities=6, facilities=40, spacing=50.0,
                          seed=1)
    cmd = [sys.executable, "-m", "livingcircle.cli", "-v", "run",
           "--osm", str(tmp_path / "city.osm.pbf"),
           "--communities", str(tmp_path / "communities.gpkg"),
           "--facilities", str(tmp_path / "facilities.gpkg"),
           "--out", str(tmp_path / "out"), "--no-progress"]
    rec = bench_city.measure(cmd, tmp_path / "run.log")
    assert rec["returncode"] == 0, rec.get("log_tail")
    names = [s["stage"] for s in rec["stages"]]
    assert names[:4] == ["read inputs", "walking network", "basemap", "access"]
    assert {"isochrones", "clusters", "write geopackage", "write map"} <= set(names)
    assert all(s["peak_mb"] >= s["rss_mb"] > 0 for s in rec["stages"])
    # each stage's CPU seconds are logged; together they are part of the child's CPU time
    cpu = [s["cpu_seconds"] for s in rec["stages"]]
    assert all(c is not None and c >= 0 for c in cpu)
    assert sum(cpu) <= rec["cpu_seconds"] + 0.05 * len(cpu) + 0.05  # each rounded to 0.1 s
    if sys.platform == "linux":
        assert rec["peak_mb"] >= max(s["peak_mb"] for s in rec["stages"]) - 1  # rounded
    assert (tmp_path / "out" / "livingcircle.gpkg").is_file()
    assert "isochrone cells" not in names  # 6 communities: no worker processes
    # the child ran in the city's folder, and the record says which livingcircle it imported
    import livingcircle

    assert rec["livingcircle"] == str(Path(livingcircle.__file__).parent)

    # the same run on 2 worker processes: every cell built once, ahead, in a stage of its own
    pooled = [sys.executable, "-c", "import sys; from livingcircle import settings; "
              "settings.process_pool_min_communities = 0; from livingcircle.cli import main; "
              "sys.exit(main(sys.argv[1:]))", *cmd[3:-3], "--out", str(tmp_path / "out2"),
              "--workers", "2", "--no-progress"]
    rec = bench_city.measure(pooled, tmp_path / "run2.log")
    assert rec["returncode"] == 0, rec.get("log_tail")
    names = [s["stage"] for s in rec["stages"]]
    assert names[4:6] == ["isochrone cells", "isochrones"]
    # the tree's memory was read while the workers lived, and what reading cost is reported
    poller = rec["poller"]
    assert poller["tree_polls"] >= 1 and rec["tree_pss_peak_mb"] > 0
    assert 0 <= poller["tree_poll_cpu_seconds"] <= poller["cpu_seconds"]


def test_city_centre_files_curve_the_same_streets(bench_city, tmp_path):
    """The city-centre case: shape nodes bend the streets but add no graph nodes; communities
    are block quadrilaterals that hold no street."""
    pytest.importorskip("osmium")
    import shapely

    import livingcircle as lc

    opts = {"nodes": 900, "communities": 12, "facilities": 60, "spacing": 50.0, "seed": 3,
            "drop": 0.2}
    straight = bench_city.write_city(tmp_path / "straight", **opts)
    curved = bench_city.write_city(tmp_path / "curved", **opts, shape_points=1.0, bow=0.1)
    assert curved["street_segments"] == straight["street_segments"]
    assert curved["osm_nodes"] == straight["osm_nodes"] + curved["shape_nodes"] > \
        straight["osm_nodes"]
    a = lc.build_network(osm=tmp_path / "straight" / "city.osm.pbf", graph=False)
    b = lc.build_network(osm=tmp_path / "curved" / "city.osm.pbf", graph=False)
    assert len(a) == len(b)  # a shape node is not a graph node
    # one shape node at mid-length bowed by h·L makes a street 2·sqrt(1/4 + h²) = 1.0198 times
    # longer at h = 0.1; two at 1/3 and 2/3 (h·sin(π/3)) 1.0219 times: never more
    ratio = b.edges.length.sum() / a.edges.length.sum()
    assert 1.0 < ratio < 1.0219
    comm = lc.read_communities(tmp_path / "curved" / "communities.gpkg").to_crs(b.crs)
    assert len(comm) == 12 and comm.geom_type.eq("Polygon").all()
    lines = b.edges.geometry
    assert not shapely.intersects(comm.geometry.to_numpy()[:, None], lines[None, :]).any()


def test_smallest_cell_benchmark_draws_every_cell_size_alike(tmp_path):
    """bench_smallest_cell.py on a 400-node lattice of 100 m blocks: the maker picks 100 m."""
    _load_script("bench_access")  # the grid it builds
    script = _load_script("bench_smallest_cell")
    out = tmp_path / "cells.jsonl"
    script.main(["--networks", "400", "--origins", "6", "--rounds", "1", "--out", str(out)])
    rec = json.loads(out.read_text(encoding="utf-8"))
    assert rec["network"] == "400" and rec["origins"] == 6
    assert [(r["cells"], r["cell_m"], r["levels"]) for r in rec["runs"]] == [
        ("25 m", 25.0, 8), ("50 m", 50.0, 7), ("100 m", 100.0, 6), ("own", 100.0, 6)]
    assert rec["own_cell_m"] == 100.0
    assert all(r["max_hausdorff_from_25m"] < 1e-6 for r in rec["runs"])
    assert all(r["cpu_s"] >= 0 and r["cached_vertices"] > 0 for r in rec["runs"])
    # the given sizes draw from cells; the maker's own choice, on 100 m blocks, from buffers
    assert [r["flat_streets"] for r in rec["runs"]] == [0.0, 0.0, 0.0, 1.0]


def test_cell_cover_benchmark_draws_each_way_alike(tmp_path):
    """bench_cell_cover.py on lattices of 100 and 50 m blocks (900 nodes, 5 origins): the
    first drawn without cells, the second from them; every way the same polygons."""
    _load_script("bench_access")
    _load_script("bench_smallest_cell")
    script = _load_script("bench_cell_cover")
    out = tmp_path / "cover.jsonl"
    script.main(["--networks", "lattice@100,lattice@50", "--origins", "5", "--rounds", "1",
                 "--lattice-nodes", "900", "--out", str(out)])
    recs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["network"] for r in recs] == ["lattice@100", "lattice@50"]
    sparse, dense = recs
    assert sparse["cover_mean"] < sparse["cells_from_cover"] < dense["cover_mean"]
    assert sparse["flat_streets"] == 1.0 and dense["flat_streets"] == 0.0
    for rec in recs:
        assert [r["way"] for r in rec["runs"]] == ["own", "buffers only", "cells, lazily",
                                                   "cells, built first"]
        assert rec["max_hausdorff_own_from_cells"] < 1e-6
        assert rec["max_hausdorff_buffers_from_cells"] < 1e-6
        assert rec["runs"][1]["flat_streets"] == 1.0 and rec["runs"][2]["flat_streets"] == 0.0
        built = rec["runs"][3]
        assert built["build_cpu_s"] >= 0 and built["total_cpu_s"] >= built["cpu_s"]
    assert sparse["runs"][0]["flat_streets"] == 1.0 and dense["runs"][0]["flat_streets"] == 0.0


def test_union_inputs_benchmark_times_the_unions_and_both_chains(tmp_path):
    """bench_union_inputs.py on a lattice of 50 m blocks (2,500 nodes, 5 origins): the unions
    are captured and timed as given and apart; three speeds drawn per speed and as one chain;
    the vertices of two decompositions counted."""
    _load_script("bench_access")
    _load_script("bench_smallest_cell")
    _load_script("bench_cell_cover")
    script = _load_script("bench_union_inputs")
    out = tmp_path / "union.jsonl"
    script.main(["--network", "lattice@50", "--origins", "5", "--rounds", "1",
                 "--parts", "inputs", "speeds", "decompositions", "--groups", "1", "5",
                 "--out", str(out)])
    inputs, speeds, parts = (json.loads(line)
                             for line in out.read_text(encoding="utf-8").splitlines())
    assert inputs["part"] == "inputs" and speeds["part"] == "speeds"
    assert inputs["unions"] > 0 and inputs["pieces_mean"] >= 16  # Clipper2's unions only
    given, apart = inputs["as_given"], inputs["apart"]
    # overlapping pieces lose most of their vertices in the union; pieces apart keep them
    assert given["output_vertices_mean"] < inputs["input_vertices_mean"] / 2
    assert apart["output_vertices_mean"] > 0.9 * inputs["input_vertices_mean"]
    assert given["ms_per_union"] > 0 and apart["us_per_input_vertex"] > 0
    assert speeds["thresholds_per_origin"] == 9
    assert set(speeds["speeds"]) == {"adult", "elderly", "winter"}
    assert all(len(v) == 1 and v[0] > 0 for v in speeds["cpu_ms_per_origin"].values())
    # straight lattice streets: no round end sticks out of a larger threshold's buffer
    assert speeds["max_hausdorff_m"] < 1e-6
    # the decompositions: counted per threshold; the descent never gives more vertices, and at
    # 5 minutes (no smaller polygon, nothing covered) it is the quadtree's own choice
    assert parts["part"] == "decompositions" and parts["origins_in_spatial_order"] == 5
    per = parts["vertices_per_union"]
    assert set(per) == {"5", "10", "15"}
    assert all(set(row) == {"now", "descent", "core_1", "core_5"} for row in per.values())
    assert all(0 < row["descent"] <= row["now"] for row in per.values())
    assert per["5"]["descent"] == per["5"]["now"]
    sizes = parts["cells_per_union_by_size"]
    assert set(sizes) == {"5", "10", "15"} and all(
        n > 0 and v > 0 for by in sizes.values() for n, v in by.values())
    # a core of one origin is its own whole streets: its outline and its union's input added
    assert parts["vertices_per_origin"]["core_1"] > parts["vertices_per_origin"]["now"]


def test_coverage_tiles_benchmark_draws_each_way_alike(tmp_path):
    """bench_coverage_tiles.py on a small city tiled on purpose: cells built lazily, cached,
    read from a store (the script stops were they other polygons), and no cells at all give
    the same coverage rows; the store's folder is removed."""
    need_module("osmium", "pyosmium", "pip install 'livingcircle[test]'")
    _load_script("bench_city")
    script = _load_script("bench_coverage_tiles")
    out = tmp_path / "tiles.jsonl"
    before = settings.coverage_tile_above_m
    spill = tmp_path / "spill"
    spill.mkdir()
    with pytest.MonkeyPatch.context() as m:
        m.setattr(settings, "spill_dir", str(spill))
        script.main(["--nodes", "2500", "--communities", "10", "--facilities", "200",
                     "--tiles", "2", "--tile-above-m", "100", "--folder", str(tmp_path / "city"),
                     "--out", str(out)])
    assert list(spill.iterdir()) == []
    # the tiling it asked for is this process's setting: given back for the tests after it
    assert settings.coverage_tile_above_m == before
    (rec,) = (json.loads(line) for line in out.read_text(encoding="utf-8").splitlines())
    assert rec["tiles_in_city"] > 1 and len(rec["tiles"]) == 2
    assert all(t["near_streets"] > 0 for t in rec["tiles"])
    assert rec["rows"] > 0 and rec["categories"] > 0
    assert set(rec["cpu_s_per_tile"]) == {"cells, lazily", "cells, cached", "cells, stored",
                                          "buffers only"}
    assert rec["store"]["top_cells"] >= 1  # the stored way read cells, and drew the same
    assert rec["cached_vertices"] > 0
    assert rec["max_hausdorff_buffers_from_cells_m"] < 1e-6


def test_isochrone_leftovers_benchmark_measures_each_route(tmp_path):
    """bench_isochrone_leftovers.py on a lattice of 50 m blocks (2,500 nodes, 5 origins): the
    blocks' round ends, the cells' unions both ways and the collector on and off are measured;
    every ring projected once gives the coordinates of every coordinate projected."""
    import shapely
    from pyproj import Transformer

    _load_script("bench_access")
    _load_script("bench_smallest_cell")
    _load_script("bench_cell_cover")
    _load_script("bench_union_inputs")
    script = _load_script("bench_isochrone_leftovers")
    out = tmp_path / "leftovers.jsonl"
    script.main(["--network", "lattice@50", "--origins", "5", "--rounds", "1", "--points", "20000",
                 "--parts", "approx", "round_ends", "cell_unions", "gc", "--out", str(out)])
    approx, ends, cells, collector = (json.loads(line)
                                      for line in out.read_text(encoding="utf-8").splitlines())
    assert approx["points"] == 20_000 and approx["exact_ns_per_point"] > 0
    assert approx["approx_ns_per_point"] > 0
    assert 0 < max(approx["places"].values()) < 1e-3  # the approximation keeps to 1 mm in zone
    assert ends["origins"] == 5 and ends["calls"] > 0
    assert ends["pairs_entered"] <= ends["pairs_intersecting"]
    assert len(ends["cpu_s"]["maker"]) == 3 and ends["max_hausdorff_m"] < 1e-6
    assert cells["unions"] > 0 and cells["by_vertices"]
    assert all(row["max_symmetric_difference_m2_first_300"] < 1e-3
               for row in cells["by_vertices"].values())
    assert len(collector["cpu_s_gc_on"]) == len(collector["cpu_s_gc_off"]) == 1
    # the projection's variant: repeated holes projected once, the same WKB as every coordinate
    iso = importlib.import_module("livingcircle.isochrones")
    acc, _ids = script._network("lattice@50", 5)  # the parts' network, built once
    polys = iso.isochrones(acc, threads=1)["geometry"].to_crs(acc.crs).to_numpy()
    to_wgs84 = Transformer.from_crs(acc.crs, 4326, always_xy=True)
    shares = []
    got = script.rings_once(polys, to_wgs84, shares)
    plain = shapely.transform(polys, lambda c: np.column_stack(to_wgs84.transform(c[:, 0],
                                                                                  c[:, 1])))
    assert (shapely.to_wkb(got) == shapely.to_wkb(plain)).all()
    (own, total), = shares
    assert 0 < own < total  # the lattice's blocks are holes of several polygons
