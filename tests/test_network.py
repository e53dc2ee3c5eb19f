"""The walking network: OSM files through the real readers, clipping, components, downloads."""

import json
import warnings
import xml.etree.ElementTree as ET

import geopandas as gpd
import networkx as nx
import pytest
import requests
import shapely

import livingcircle as lc
from livingcircle.network import _is_walkable, halo_m


@pytest.fixture(scope="module")
def paths():
    return lc.sample_paths()


def test_osm_xml_network_is_walkable_projected_and_connected(paths):
    diag = lc.Diagnostics()
    net = lc.build_network(osm=paths["osm"], diagnostics=diag)
    G = net.graph
    assert G.graph["crs"].is_projected
    assert nx.is_weakly_connected(G)
    highways = {d["highway"] if isinstance(d["highway"], str) else d["highway"][0]
                for _, _, d in G.edges(data=True)}
    assert "trunk" not in highways  # the expressway is foot=no
    assert {"footway", "residential"} <= highways
    # the park fragment is reported, with its size, not silently dropped
    dropped = [r for r in diag.records if r["issue"] == "disconnected_component"]
    assert len(dropped) == 1 and dropped[0]["action"] == "dropped"
    assert "nodes" in dropped[0]["detail"] and dropped[0]["geometry"] is not None
    # lengths agree with the projected geometries
    for _, _, d in list(G.edges(data=True))[:200]:
        assert d["length"] == pytest.approx(d["geometry"].length)


def test_boundary_clips_with_a_halo(paths):
    small = gpd.GeoDataFrame(geometry=[shapely.box(126.625, 45.755, 126.63, 45.76)], crs=4326)
    net = lc.build_network(osm=paths["osm"], boundary=small)
    nodes, _ = net.to_gdfs()
    box_m = small.to_crs(nodes.crs).geometry.iloc[0]
    assert halo_m() == pytest.approx(1200.0)
    full = lc.build_network(osm=paths["osm"])
    assert len(net.graph) < len(full.graph)
    # reference: the whole district's network, measured from the box by shapely
    fnodes, _ = full.to_gdfs()
    d_full = fnodes.distance(box_m)
    within = set(fnodes.index[d_full <= halo_m()])
    kept = set(nodes.index)
    # every node beyond the halo that is kept is the far end of a street leaving a node within
    # it (the last edges are kept whole) ...
    beyond = kept - within
    assert beyond
    assert all(within & set(nx.all_neighbors(full.graph, n)) for n in beyond)
    # ... and every node within the halo is kept but a fragment the cut separates from the
    # rest: 7 nodes (measured on the sample)
    assert len(within - kept) == 7


def test_boundary_that_misses_the_osm_file(paths):
    away = gpd.GeoDataFrame(geometry=[shapely.box(120.0, 40.0, 120.01, 40.01)], crs=4326)
    with pytest.raises(lc.NetworkError, match="boundary and the OSM file cover the same place"):
        lc.build_network(osm=paths["osm"], boundary=away)


def test_bad_network_inputs(tmp_path):
    with pytest.raises(lc.NetworkError, match="not found"):
        lc.build_network(osm=tmp_path / "missing.osm")
    odd = tmp_path / "city.shp"
    odd.write_text("x")
    with pytest.raises(lc.NetworkError, match=r"\.osm \(XML\) or \.osm\.pbf"):
        lc.build_network(osm=odd)
    with pytest.raises(lc.NetworkError, match="give an OSM file"):
        lc.build_network()


def test_pbf_network_through_pyrosm():
    import pyrosm  # a dependency of livingcircle: never skipped
    diag = lc.Diagnostics()
    net = lc.build_network(osm=pyrosm.get_data("test_pbf"), diagnostics=diag)
    assert len(net.graph) > 100
    assert nx.is_weakly_connected(net.graph)


def _overpass_json(osm_path):
    """What Overpass answers for a walk query over the sample district: a recorded response."""
    root = ET.parse(osm_path).getroot()
    elements, used = [], set()
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if "highway" not in tags or not _is_walkable(tags):
            continue
        refs = [int(nd.get("ref")) for nd in way.iter("nd")]
        used.update(refs)
        elements.append({"type": "way", "id": int(way.get("id")), "nodes": refs, "tags": tags})
    for node in root.iter("node"):
        if int(node.get("id")) in used:
            elements.append({"type": "node", "id": int(node.get("id")),
                             "lat": float(node.get("lat")), "lon": float(node.get("lon"))})
    return {"version": 0.6, "generator": "recorded for livingcircle tests", "elements": elements}


def test_download_for_a_boundary_with_a_recorded_overpass_response(paths, monkeypatch):
    import osmnx as ox
    from osmnx import _http, _overpass

    recorded = _overpass_json(paths["osm"])
    calls = []

    def fake_post(url, data=None, **kwargs):
        calls.append(data)
        r = requests.Response()
        r.status_code = 200
        r.url = url
        r._content = json.dumps(recorded).encode()
        return r

    monkeypatch.setattr(_overpass.requests, "post", fake_post)
    monkeypatch.setattr(_http, "_config_dns", lambda url: None)
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    monkeypatch.setattr(ox.settings, "use_cache", False)
    boundary = gpd.read_file(paths["boundary"])
    diag = lc.Diagnostics()
    net = lc.build_network(boundary=boundary, diagnostics=diag)
    assert calls and "highway" in calls[0]["data"]  # a real walk query was formed
    from_file = lc.build_network(osm=paths["osm"], boundary=boundary)
    # the recorded response holds the file's walkable ways: the same network, node for node
    assert set(net.graph.nodes) == set(from_file.graph.nodes)
    assert net.graph.number_of_edges() == from_file.graph.number_of_edges()
    assert net.graph.size(weight="length") == pytest.approx(from_file.graph.size(weight="length"),
                                                            rel=1e-9)
    assert net.source.startswith("OpenStreetMap via osmnx")


# --- the array path for .pbf files (no networkx objects) ----------------------------------------

def _pbf(name):
    import pyrosm  # a dependency of livingcircle: never skipped
    return pyrosm.get_data(name)


def _box_around_centre(net, dx=0.003, dy=0.002):
    nodes, _ = net.to_gdfs()
    b = nodes.to_crs(4326).total_bounds
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return gpd.GeoDataFrame(geometry=[shapely.box(cx - dx, cy - dy, cx + dx, cy + dy)], crs=4326)


@pytest.mark.parametrize("name", ["test_pbf", "helsinki_pbf"])
@pytest.mark.parametrize("clipped", [False, True])
def test_pbf_arrays_give_the_network_of_the_graph(name, clipped):
    import numpy as np
    import pandas as pd

    path = _pbf(name)
    kw = {}
    if clipped:
        kw = {"boundary": _box_around_centre(lc.build_network(osm=path)), "halo": 300}
    d_graph, d_arr = lc.Diagnostics(), lc.Diagnostics()
    g = lc.build_network(osm=path, graph=True, diagnostics=d_graph, **kw)
    a = lc.build_network(osm=path, graph=False, diagnostics=d_arr, **kw)
    assert g.graph is not None and a.graph is None
    assert a.crs == g.crs and a.crs.is_projected
    eg, ea = g.edges, a.edges
    # the same nodes at the same projected coordinates
    xy_g = pd.DataFrame(eg.xy, index=eg.node_ids).sort_index()
    xy_a = pd.DataFrame(ea.xy, index=ea.node_ids).sort_index()
    pd.testing.assert_index_equal(xy_g.index, xy_a.index)
    assert np.array_equal(xy_g.to_numpy(), xy_a.to_numpy())
    # each street segment once, with its projected length
    assert len(ea.u) == len(eg.u)
    assert ea.length.sum() == pytest.approx(eg.length.sum(), rel=1e-9)
    assert np.allclose(ea.length, shapely.length(ea.geometry))
    start = shapely.get_point(ea.geometry, 0)
    assert np.allclose(shapely.distance(start, shapely.points(ea.xy[ea.u])), 0.0)
    # the same components dropped, with the same record
    fg, fa = d_graph.to_frame(), d_arr.to_frame()
    assert len(fa) > 0
    pd.testing.assert_frame_equal(fg.drop(columns="geometry"), fa.drop(columns="geometry"))
    assert all(x.equals(y) for x, y in zip(fg.geometry, fa.geometry, strict=True))


def test_pbf_arrays_give_the_same_access_table():
    import numpy as np
    import pandas as pd

    path = _pbf("helsinki_pbf")
    g = lc.build_network(osm=path, graph=True)
    a = lc.build_network(osm=path, graph=False)
    nodes, _ = g.to_gdfs()
    b = nodes.total_bounds
    rng = np.random.default_rng(3)
    cx, cy = rng.uniform(b[0], b[2], 12), rng.uniform(b[1], b[3], 12)
    # and 200 blocks of 60-300 m a side, among them blocks past which a street leaves the
    # 50 m reach and comes back (each of its pieces sampled on its own: before, the points
    # of 6 of these communities depended on the way the edge table runs the street)
    bx, by = rng.uniform(b[0], b[2], 200), rng.uniform(b[1], b[3], 200)
    w, h = rng.uniform(30, 150, 200), rng.uniform(30, 150, 200)
    geoms = [*shapely.box(cx[:6] - 40, cy[:6] - 30, cx[:6] + 40, cy[:6] + 30),
             *shapely.points(cx[6:], cy[6:]), *shapely.box(bx - w, by - h, bx + w, by + h)]
    comm = gpd.GeoDataFrame({"community_id": [f"c{i}" for i in range(len(geoms))]},
                            geometry=geoms, crs=nodes.crs)
    cats = ["kindergarten", "supermarket", "primary_school"]
    fac = gpd.GeoDataFrame({"facility_id": [f"f{i}" for i in range(60)],
                            "categories": [cats[i % 3] for i in range(60)]},
                           geometry=shapely.points(rng.uniform(b[0], b[2], 60),
                                                   rng.uniform(b[1], b[3], 60)), crs=nodes.crs)
    x = lc.measure_access(g, comm, fac, speed_profiles=["adult", "elderly"])
    y = lc.measure_access(a, comm, fac, speed_profiles=["adult", "elderly"])
    assert x.table["reached"].sum() >= 60
    pd.testing.assert_frame_equal(x.table, y.table)
    key = ["community_id", "facility_id", "category"]
    pd.testing.assert_frame_equal(x.pairs.sort_values(key).reset_index(drop=True),
                                  y.pairs.sort_values(key).reset_index(drop=True))
    # the same access points (where each joins its street), whichever way the street runs:
    # each point of one within 1 µm of a point of the same community in the other (a point's
    # position along a street run the other way differs in the last bits)
    def joins(acc):
        cap = acc.community_points
        at = shapely.get_coordinates(
            shapely.line_interpolate_point(acc.edge_table.geometry[cap.edge], cap.t))
        return at + np.c_[cap.owner * 1e7, np.zeros(len(at))]  # communities 10,000 km apart

    from scipy.spatial import cKDTree

    jx, jy = joins(x), joins(y)
    assert len(jx) == len(jy) > 1000
    assert cKDTree(jy).query(jx)[0].max() < 1e-6 and cKDTree(jx).query(jy)[0].max() < 1e-6
    assert x.graph.n_nodes == y.graph.n_nodes


def test_large_pbf_becomes_arrays_by_default(monkeypatch):
    path = _pbf("test_pbf")
    assert lc.build_network(osm=path).graph is not None  # small: the graph is kept
    monkeypatch.setattr(lc.settings, "network_graph_max_nodes", 100)
    net = lc.build_network(osm=path)
    assert net.graph is None and len(net) == len(lc.build_network(osm=path, graph=True))
    nodes, edges = net.to_gdfs()
    assert len(nodes) == len(net) and len(edges) == len(net.edges.u)
    assert edges.index.names == ["u", "v", "key"] and nodes.index.name == "osmid"
    assert edges["length"].sum() == pytest.approx(net.edges.length.sum())
    # an XML file is read by osmnx into a graph; graph=False keeps only its edge table
    xml = lc.build_network(osm=lc.sample_paths()["osm"], graph=False)
    assert xml.graph is None and len(xml) > 100


@pytest.mark.parametrize("graph", [True, False])
def test_bad_pbf_inputs_give_the_same_errors(tmp_path, graph):
    import pyrosm  # a dependency of livingcircle: never skipped
    osm = pyrosm.OSM(_pbf("test_pbf"))
    no_ways = tmp_path / "buildings.osm.pbf"
    osm.write_pbf(osm.get_buildings(), no_ways, subset_only=True)
    with pytest.raises(lc.NetworkError, match="no walkable ways"):
        lc.build_network(osm=no_ways, graph=graph)
    away = gpd.GeoDataFrame(geometry=[shapely.box(120.0, 40.0, 120.01, 40.01)], crs=4326)
    with pytest.raises(lc.NetworkError, match="none inside the boundary"):
        lc.build_network(osm=_pbf("test_pbf"), boundary=away, graph=graph)
    # a ring around the extract: its bounding box holds the streets, the polygon none of them
    nodes, _ = lc.build_network(osm=_pbf("test_pbf")).to_gdfs()
    b = nodes.to_crs(4326).total_bounds
    ring = shapely.box(*(b + [-0.05, -0.05, 0.05, 0.05])).difference(
        shapely.box(*(b + [-0.01, -0.01, 0.01, 0.01])))
    around = gpd.GeoDataFrame(geometry=[ring], crs=4326)
    with pytest.raises(lc.NetworkError, match="boundary and the OSM file cover the same place"):
        lc.build_network(osm=_pbf("test_pbf"), boundary=around, halo=1, graph=graph)


def test_largest_component_kept_in_place_is_the_subgraph_copy(paths):
    # the sample's OSM file has one fragment apart (a park path): dropping it in place gives
    # the graph the copy of the kept part gave, node for node and edge for edge, in order
    from livingcircle.network import _keep_largest_component, _read_xml

    G = _read_xml(paths["osm"])
    keep = max(nx.weakly_connected_components(G), key=len)
    expected = G.subgraph(keep).copy()
    n_before = G.number_of_nodes()
    diag = lc.Diagnostics()
    got = _keep_largest_component(G, diag, "sample")
    assert len(keep) < n_before and len(diag.records) == 1
    assert list(got.nodes(data=True)) == list(expected.nodes(data=True))
    assert list(got.edges(keys=True, data=True)) == list(expected.edges(keys=True, data=True))
    assert got.graph == expected.graph


def test_the_commands_start_without_osmnx():
    """osmnx (and the scikit-learn it imports) is loaded where it is used, not by every command:
    2 s of each start (benchmarks/README.md, "Test suite time, 2026-12-03")."""
    import subprocess
    import sys

    code = ("import sys, livingcircle, livingcircle.cli; "
            "print(sorted(m for m in ('osmnx', 'sklearn') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.strip() == "[]"
    # reading an OSM XML file still uses it
    lc.build_network(osm=lc.sample_paths()["osm"])
    assert "osmnx" in sys.modules


def test_starts_nearer_is_geos_point_distance_from_the_coordinates():
    import numpy as np

    from livingcircle.network import _starts_nearer

    rng = np.random.default_rng(11)
    n = 400
    a, b = rng.uniform(0, 1000, (n, 2)), rng.uniform(0, 1000, (n, 2))
    # half the lines run from a to b, half from b to a, each with a vertex between
    mid = (a + b) / 2 + rng.normal(0, 5, (n, 2))
    fwd = rng.random(n) < 0.5
    first, last = np.where(fwd[:, None], a, b), np.where(fwd[:, None], b, a)
    lines = shapely.linestrings(np.stack([first, mid, last], axis=1))
    lines[7] = shapely.LineString()  # no first vertex: never nearer
    starts = shapely.get_point(lines, 0)
    expected = shapely.distance(starts, shapely.points(a)) < \
        shapely.distance(starts, shapely.points(b))
    got = _starts_nearer(shapely.get_coordinates(lines), shapely.get_num_coordinates(lines), a, b)
    assert np.array_equal(got, expected)
    assert not got[7] and got.sum() == (fwd.sum() - fwd[7])


def test_pyrosm_decodes_on_the_run_cores(monkeypatch):
    from pyrosm.pyrosm import OSM

    from livingcircle.network import _decode_threads
    from livingcircle.routing import usable_cores

    monkeypatch.setattr(lc.settings, "workers", 2)
    assert _decode_threads(OSM) == {"workers": min(2, usable_cores())}
    monkeypatch.setattr(lc.settings, "workers", 1)
    assert _decode_threads(OSM) == {"workers": 1}
    # more processes than cores (--workers 64): pyrosm gets the cores, and does not warn
    monkeypatch.setattr(lc.settings, "workers", 64)
    assert _decode_threads(OSM) == {"workers": usable_cores()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        OSM(_pbf("test_pbf"), **_decode_threads(OSM)).get_network(network_type="walking")

    class OldOSM:  # a pyrosm release without ``workers``
        def __init__(self, filepath, bounding_box=None):
            pass

    assert _decode_threads(OldOSM) == {}
