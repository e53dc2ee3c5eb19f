"""A result shows itself: summary table (text and Jupyter HTML) and ``explore`` maps of layers,
checked against independent counts of the sample run's layers."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pytest

from livingcircle._errors import InputError
from livingcircle._spill import SpilledLayer
from livingcircle.results import Result
from livingcircle.sample import SYNTHETIC_LABEL

EVIL = "<script>alert(1)</script>"


def _copy(r: Result, **layers) -> Result:
    return Result(layers={**r.layers, **layers}, profile=r.profile,
                  speed_profiles=r.speed_profiles, metadata=dict(r.metadata))


def _features(m: folium.Map) -> list[dict]:
    return [f for c in m._children.values() if isinstance(c, folium.GeoJson)
            for f in c.data["features"]]


def test_summary_counts(sample_result):
    L = sample_result.layers
    comm = L["communities"]
    s = dict(zip(*sample_result.summary().T.values, strict=True))
    hh = comm["households"].sum()
    assert s["小区 communities"] == f"{len(comm)}; {hh:,.0f} 户 households"
    scope = L["scope"]["in_scope"]
    assert s["改造范围内 in renovation scope"] == (
        f"{(scope == 'yes').sum()} (no {(scope == 'no').sum()}, unknown "
        f"{(scope == 'unknown').sum()})")
    assert (scope == "yes").sum() == 60  # conftest.sample_policy_scope
    comp = L["completeness"]
    assert s["必配类别全部达标 reach every required category"] == \
        f"{(comp['n_missing_required'] == 0).sum()} of {len(comp)}"
    share = ((comp["n_required"] - comp["n_missing_required"]) / comp["n_required"]).mean()
    assert s["必配类别达标比例（平均）mean share of required categories met"] == f"{share:.1%}"
    assert s["片区联动 clusters"] == \
        f"{len(L['clusters'])} ({len(L['proposed_sites'])} proposed sites)"
    issues = L["diagnostics"]["issue"].value_counts()
    assert s["诊断记录 diagnostics"] == f"{len(L['diagnostics'])} — " + ", ".join(
        f"{k} {v}" for k, v in issues.items())
    assert s["数据 data"] == SYNTHETIC_LABEL
    text = repr(sample_result)
    assert text.startswith("livingcircle Result\n  小区 communities: 80; ")
    assert "layers: communities, gates, facilities" in text
    assert len(text) < 2000  # a summary, never the frames


def test_repr_html_escapes(sample_result):
    r = _copy(sample_result)
    r.metadata["profile"] = EVIL
    h = r._repr_html_()
    assert h.startswith("<table class='livingcircle-result'>")
    assert "<script>" not in h and "&lt;script&gt;alert(1)&lt;/script&gt;" in h
    assert h.count("<tr>") == len(r.summary())


def test_explore_communities(sample_result):
    comm = sample_result.layers["communities"]
    m = sample_result.explore()
    assert isinstance(m, folium.Map)
    (x0, y0, x1, y1) = comm.to_crs(4326).total_bounds
    np.testing.assert_allclose(np.ravel(m.get_bounds()), [y0, x0, y1, x1], atol=1e-9)
    feats = _features(m)
    assert len(feats) == len(comm)
    props = feats[0]["properties"]
    assert list(props)[:4] == ["community_id", "name", "households", "in_scope"]
    by_id = {f["properties"]["community_id"]: f["properties"]["share_met"] for f in feats}
    comp = sample_result.layers["completeness"].set_index("community_id")
    want = ((comp["n_required"] - comp["n_missing_required"]) / comp["n_required"]).round(3)
    assert by_id == pytest.approx(want.to_dict())


def test_explore_reprojects_and_escapes(sample_result):
    comm = sample_result.layers["communities"].copy()
    comm.loc[comm.index[0], "name"] = EVIL
    utm = comm.to_crs(32652)
    r = _copy(sample_result, communities=utm)
    m = r.explore(tiles=None)
    (x0, y0, x1, y1) = comm.to_crs(4326).total_bounds
    np.testing.assert_allclose(np.ravel(m.get_bounds()), [y0, x0, y1, x1], atol=1e-7)
    page = m.get_root().render()
    assert EVIL not in page and "<script>alert" not in page
    # escaped once by livingcircle (shown as text in the tooltip), & written \u0026 in JSON
    assert "\\u0026lt;script\\u0026gt;alert(1)\\u0026lt;/script\\u0026gt;" in page
    assert "tile.openstreetmap" not in page  # tiles=None reached geopandas


def test_explore_draws_names_that_look_like_jinja_as_they_are(sample_result):
    """branca compiles what an element renders as a Jinja template, and geopandas wraps only
    ``{{`` in ``raw`` for it: a name with ``{#`` or ``{%`` failed the page with Jinja's syntax
    error. Every name is drawn as given (in the GeoJSON, JSON-escaped)."""
    import json

    names = ["{{ 6*7 }} 小区", "{# 老区", "{% if %}院", "a{{{b", "{% raw %}{{{% endraw %}"]
    comm = sample_result.layers["communities"].iloc[:len(names)].copy()
    comm["name"] = names
    page = _copy(sample_result, communities=comm).explore(tiles=None).get_root().render()
    for name in names:
        assert json.dumps(name) in page


def test_explore_spilled_layer_and_filters(sample_result):
    iso = sample_result.layers["isochrones"]
    spill = SpilledLayer("isochrones")
    try:
        spill.append(iso)
        r = Result(layers={**sample_result.layers, "isochrones": spill.attributes},
                   profile=sample_result.profile, speed_profiles=sample_result.speed_profiles,
                   metadata=sample_result.metadata, spilled={"isochrones": spill})
        m = r.explore("isochrones", where="minutes = 15")
        feats = _features(m)
        assert len(feats) == int((iso["minutes"] == 15).sum()) == 80
        assert {f["properties"]["minutes"] for f in feats} == {15}
        # the whole spilled layer, simplified by 2 m for display only: every isochrone is
        # there, in well under half the size of the unsimplified map (18.9 → 6.9 MB, measured)
        full = r.explore("isochrones")
        assert len(_features(full)) == len(iso) == 240
        size = len(full.get_root().render())
        assert size < 0.5 * len(r.explore("isochrones", simplify_m=None).get_root().render())
        assert r.layer("isochrones").geometry.equals(iso.geometry)  # the result is untouched
    finally:
        spill.close()


def test_explore_errors(sample_result):
    with pytest.raises(InputError, match=r"no layer 'nope' in this result; layers: communities"):
        sample_result.explore("nope")
    with pytest.raises(InputError, match=r"layer 'gaps' is a table without geometry"):
        sample_result.explore("gaps")
    with pytest.raises(InputError, match=r"layer 'facilities' has no column 'x'"):
        sample_result.explore("facilities", column="x")
    assert isinstance(sample_result.layers["communities"], gpd.GeoDataFrame)


def test_a_bare_result_still_shows_itself():
    """Communities only (nothing judged yet): the summary says what there is, the map has no
    colour column to use."""
    import shapely

    import livingcircle as lc

    comm = gpd.GeoDataFrame({"community_id": ["A"], "name": ["甲"]},
                            geometry=[shapely.Point(126.6, 45.7)], crs=4326)
    r = Result(layers={"communities": comm}, profile=lc.load_profile(), speed_profiles=[])
    assert list(r.summary()["item"]) == ["小区 communities", "标准 standard"]
    assert repr(r).splitlines()[1] == "  小区 communities: 1"
    feats = _features(r.explore())
    assert len(feats) == 1 and feats[0]["properties"]["name"] == "甲"


def test_local_plane_measures_metres_as_the_ellipsoid():
    """The display plane's metres are the ellipsoid's (pyproj.Geod) near its point, the round
    trip gives the same coordinates, and ``prepare_layer`` simplifies by that many metres."""
    import pyproj
    import shapely

    from livingcircle.styles import LocalPlane, prepare_layer

    plane = LocalPlane(126.63, 45.75)  # Harbin
    geod = pyproj.Geod(ellps="WGS84")
    pts = shapely.points([[126.63, 45.75], [126.64, 45.75], [126.63, 45.76],
                          [126.70, 45.80], [126.71, 45.80], [126.70, 45.81]])
    xy = shapely.get_coordinates(plane.forward(pts))
    for a, b, near in ((0, 1, True), (0, 2, True), (3, 4, False), (3, 5, False)):
        true = geod.line_length(*np.array([shapely.get_coordinates(pts[[a, b]])]).T.squeeze())
        got = float(np.hypot(*(xy[b] - xy[a])))
        # about 0.8 km and 1.1 km long; 6 km from the plane's point its scale is 0.1 % off
        assert got == pytest.approx(true, rel=1e-5 if near else 1.5e-3)
    back = shapely.get_coordinates(plane.back(plane.forward(pts)))
    np.testing.assert_allclose(back, shapely.get_coordinates(pts), rtol=0, atol=1e-10)

    # a zigzag of 3 m across a 400 m edge goes at a 5 m tolerance and stays at 1 m
    e = 400 / plane.scale[0]
    n3 = 3 / plane.scale[1]
    zig = [(126.63 + e * k / 8, 45.75 + (n3 if k % 2 else 0)) for k in range(9)]
    poly = shapely.Polygon([*zig, (126.63 + e, 45.751), (126.63, 45.751)])
    frame = gpd.GeoDataFrame(geometry=[poly], crs=4326)
    n5 = shapely.get_num_coordinates(prepare_layer(frame, simplify_m=5, gcj=False,
                                                   plane=plane).geometry.iloc[0])
    n1 = shapely.get_num_coordinates(prepare_layer(frame, simplify_m=1, gcj=False,
                                                   plane=plane).geometry.iloc[0])
    assert (n5, n1) == (5, shapely.get_num_coordinates(poly))


def _plain_case():
    """Polygons in lon/lat about Harbin: buffers of crossing streets (holes among them) in
    both ring orientations, a MultiPolygon with a part too small to survive, a polygon with a
    hole too small to survive, and one polygon that collapses whole."""
    import shapely

    from livingcircle.styles import LocalPlane

    plane = LocalPlane(126.63, 45.75)
    rng = np.random.default_rng(5)
    streets = [shapely.LineString(rng.uniform(-300, 300, (4, 2))) for _ in range(12)]
    town = shapely.union_all(shapely.buffer(np.array(streets), 20.0, quad_segs=4))
    bent = shapely.Polygon(shapely.Point(400, 0).buffer(60, quad_segs=16).exterior.coords[::-1],
                           [shapely.Point(400, 0).buffer(1.5, quad_segs=4).exterior.coords])
    speck = shapely.Point(0, 500).buffer(1.0, quad_segs=4)
    multi = shapely.MultiPolygon([shapely.Point(-500, 0).buffer(50, quad_segs=8), speck])
    metric = np.array([town, bent, multi, speck], dtype=object)
    return plane, metric, plane.back(metric)


def _ring_by_ring(lonlat, tol, plane):
    """GEOS's Douglas-Peucker of each ring (a LinearRing alone: no repair), in the plane's
    metres: the rings each polygon keeps, None for a polygon whose shell goes."""
    import shapely

    out = []
    for geom in lonlat:
        polys = []
        for part in shapely.get_parts(geom):
            rings = [shapely.get_coordinates(shapely.simplify(r, tol, preserve_topology=False))
                     for r in shapely.get_rings(plane.forward(part))]
            polys.append([r for r in rings if len(r) >= 4] if len(rings[0]) >= 4 else None)
        out.append([p for p in polys if p is not None])
    return out


def _rings_in_metres(geoms, plane):
    import shapely

    return [[[shapely.get_coordinates(r) for r in shapely.get_rings(plane.forward(p))]
             for p in shapely.get_parts(g)] for g in geoms]


def test_plain_simplify_is_geos_douglas_peucker_ring_by_ring():
    """Each ring is GEOS's own Douglas-Peucker of that ring, vertex for vertex (its first
    vertex dropped where GEOS drops it); a ring left with fewer than four vertices goes, a
    polygon with its shell; a multipolygon left with one part is that polygon and a geometry
    with nothing left is empty, which ``prepare_layer`` then leaves out."""
    import shapely

    from livingcircle.styles import plain_simplify, prepare_layer

    plane, metric, lonlat = _plain_case()
    assert shapely.get_num_interior_rings(metric[0]) > 0
    for tol in (5.0, 1.0):
        out = plain_simplify(lonlat, tol, plane)
        want = _ring_by_ring(lonlat, tol, plane)
        got = _rings_in_metres(out, plane)
        assert [[len(p) for p in g] for g in got] == [[len(p) for p in g] for g in want]
        for g_got, g_want in zip(got, want, strict=True):
            for p_got, p_want in zip(g_got, g_want, strict=True):
                for a, b in zip(p_got, p_want, strict=True):
                    np.testing.assert_array_equal(a, b)
    out = plain_simplify(lonlat, 5.0, plane)
    assert list(shapely.get_type_id(out)) == [int(shapely.get_type_id(metric[0])), 3, 3, 6]
    assert shapely.is_empty(out[3])
    assert shapely.get_num_interior_rings(out[1]) == 0  # the 1.5 m hole went
    assert shapely.get_num_coordinates(out).sum() < shapely.get_num_coordinates(lonlat).sum() / 2
    frame = gpd.GeoDataFrame({"k": range(4)}, geometry=lonlat, crs=4326)
    drawn = prepare_layer(frame, simplify_m=5.0, gcj=False, keep_topology=False, plane=plane)
    assert list(drawn["k"]) == [0, 1, 2]
    assert all(shapely.equals_exact(drawn.geometry.to_numpy(), out[:3], tolerance=0))


def test_plain_simplify_reads_a_ring_touching_itself_through_geos():
    """A shell touching itself at its first vertex (the pass over the coordinates cannot tell
    where it closes) is read through GEOS's ring geometries, to GEOS's Douglas-Peucker of it."""
    import shapely

    from livingcircle.styles import LocalPlane, plain_simplify

    plane = LocalPlane(126.63, 45.75)
    # two 100 m squares of 9 vertices a side meeting at (0, 0), where the ring starts
    side = np.linspace(0, 100, 9)
    a = [(x, 0.0) for x in side] + [(100.0, y) for y in side[1:]] + \
        [(x, 100.0) for x in side[::-1][1:]] + [(0.0, y) for y in side[::-1][1:-1]]
    touching = shapely.Polygon([*a, (0.0, 0.0), *[(-x, -y) for x, y in a[1:]], (0.0, 0.0)])
    square = shapely.Polygon(a)
    lonlat = plane.back(np.array([touching, square], dtype=object))
    for tol in (1.0, 30.0):
        got = _rings_in_metres(plain_simplify(lonlat, tol, plane), plane)
        want = _ring_by_ring(lonlat, tol, plane)
        assert len(got[0][0][0]) < shapely.get_num_coordinates(touching)
        for g_got, g_want in zip(got, want, strict=True):
            np.testing.assert_array_equal(g_got[0][0], g_want[0][0])
