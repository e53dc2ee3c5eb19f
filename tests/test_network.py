"""The walking network: OSM files through the real readers, clipping, components, downloads."""

import json
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
    far = nodes.distance(box_m).max()
    assert halo_m() == pytest.approx(1200.0)
    assert 900 < far <= halo_m() + 400  # kept up to the halo (plus the last edges' ends)
    full = lc.build_network(osm=paths["osm"])
    assert len(net.graph) < len(full.graph)


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
    pyrosm = pytest.importorskip("pyrosm")
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
    assert len(net.graph) == pytest.approx(len(from_file.graph), rel=0.02)
    assert net.source.startswith("OpenStreetMap via osmnx")
