"""The union through Clipper2 (livingcircle/_union.py) against GEOS's, and in the isochrones."""

import numpy as np
import pytest
import shapely
from conftest import X0, Y0

from livingcircle import _union
from livingcircle._union import union_polygons


def _same_as_geos(pieces):
    """``union_polygons(pieces)`` is GEOS's union: the same area, holes and parts, every vertex
    within 1e-7 m of GEOS's outline and the other way round."""
    got = union_polygons(pieces)
    ref = shapely.union_all(np.asarray(pieces, dtype=object))
    assert got.is_valid
    assert got.geom_type in ("Polygon", "MultiPolygon")
    assert shapely.symmetric_difference(got, ref).area < 1e-6 * max(ref.area, 1.0)
    assert shapely.hausdorff_distance(shapely.boundary(got), shapely.boundary(ref)) < 1e-7
    parts, ref_parts = shapely.get_parts(got), shapely.get_parts(ref)
    assert len(parts) == len(ref_parts)
    assert shapely.get_num_interior_rings(parts).sum() == \
        shapely.get_num_interior_rings(ref_parts).sum()
    return got


def test_buffers_of_a_street_lattice_unite_as_in_geos():
    """180 street buffers in projected metres (UTM-sized coordinates), each block a hole; some
    streets end between nodes, so round ends overlap and cross straight edges."""
    rng = np.random.default_rng(5)
    n, s = 10, 80.0
    node = {(r, c): np.array([X0 + c * s, Y0 + r * s]) + rng.uniform(-10, 10, 2)
            for r in range(n) for c in range(n)}
    lines = []
    for (r, c), a in node.items():
        for b in (node.get((r, c + 1)), node.get((r + 1, c))):
            if b is None:
                continue
            if rng.random() < 0.2:  # cut short: its round end stops inside a block
                b = a + (b - a) * rng.uniform(0.3, 0.9)
            lines.append(shapely.LineString([a, (a + b) / 2 + rng.uniform(-5, 5, 2), b]))
    pieces = shapely.buffer(np.array(lines, dtype=object), 12.0, quad_segs=4)
    got = _same_as_geos(pieces)
    assert shapely.get_num_interior_rings(got) > 20  # the blocks are holes


def test_holes_islands_and_apart():
    """A piece's hole stays a hole unless another piece covers it; an island in a hole and a
    piece far away stay parts of their own; any orientation and MultiPolygons are taken."""
    ring = shapely.box(0, 0, 100, 100).difference(shapely.box(20, 20, 80, 80))
    half = shapely.box(10, 10, 50, 90)  # covers the hole's western half
    island = shapely.box(60, 40, 70, 60)  # in what is left of the hole
    far = shapely.box(500, 500, 510, 510)
    reversed_far = shapely.Polygon(np.asarray(far.exterior.coords)[::-1])
    pieces = [shapely.affinity.translate(g, X0, Y0) for g in
              (ring, half, island, shapely.MultiPolygon([far, shapely.box(600, 0, 610, 10)]),
               reversed_far)]
    got = _same_as_geos(pieces)
    assert len(shapely.get_parts(got)) == 4  # the ring with its half hole, island, two far
    assert shapely.get_num_interior_rings(shapely.get_parts(got)).sum() == 1


def test_holes_go_to_the_innermost_shell_around_them(monkeypatch):
    """Shells in holes of shells, three deep, each with a hole of its own, and a hole touching
    its shell at a corner: every hole in the smallest shell holding it, found without GEOS's
    ``build_area`` (as GEOS's union has them)."""
    def frame(lo, hi, gap):  # a square with a square hole
        return shapely.box(lo, lo, hi, hi).difference(shapely.box(lo + gap, lo + gap,
                                                                  hi - gap, hi - gap))
    notched = shapely.Polygon([(300, 0), (400, 0), (400, 100), (300, 100)],
                              [[(300, 0), (340, 20), (320, 40)]])  # hole touches a corner
    nested = [frame(0, 200, 10), frame(30, 170, 10), frame(60, 140, 10), frame(90, 110, 5)]
    pieces = [shapely.affinity.translate(g, X0, Y0) for g in (*nested, notched)]
    monkeypatch.setattr(shapely, "build_area", lambda *a: pytest.fail("build_area called"))
    got = _same_as_geos(pieces)
    assert got.geom_type == "MultiPolygon" and len(got.geoms) == 5
    assert shapely.get_num_interior_rings(shapely.get_parts(got)).tolist() == [1] * 5
    ref = shapely.union_all(np.asarray(pieces, dtype=object))
    assert shapely.normalize(got).equals_exact(shapely.normalize(ref), 1e-7)


def test_a_hole_no_shell_holds_goes_to_geos():
    """Clipper2 never gave one; were it to, the rings go to ``build_area`` as before."""
    from livingcircle._union import _with_holes_found

    shells = np.array([shapely.box(0, 0, 10, 10).exterior, shapely.box(20, 0, 30, 10).exterior])
    holes = np.array([shapely.box(2, 2, 4, 4).exterior, shapely.box(40, 0, 45, 5).exterior])
    got = _with_holes_found(shells, holes)
    assert got.equals(shapely.build_area(shapely.geometrycollections(np.r_[shells, holes])))
    assert _with_holes_found(shells, holes[:1]).equals(
        shapely.MultiPolygon([shapely.box(0, 0, 10, 10).difference(shapely.box(2, 2, 4, 4)),
                              shapely.box(20, 0, 30, 10)]))


def test_a_tiny_hole_far_from_the_origin_stays_a_hole():
    """Four boxes around a 0.1 m gap at UTM-sized coordinates: one shell, one hole of 0.01 m²
    (the rings' orientation comes from GEOS's robust test, not from 1e12 m² products)."""
    x, y = X0 + 0.123456, Y0 + 0.654321
    pieces = [shapely.box(x, y, x + 10, y + 5), shapely.box(x, y + 5.1, x + 10, y + 10),
              shapely.box(x, y, x + 5, y + 10), shapely.box(x + 5.1, y, x + 10, y + 10)]
    got = _same_as_geos(pieces)
    assert got.geom_type == "Polygon" and len(got.interiors) == 1
    assert shapely.Polygon(got.interiors[0]).area == pytest.approx(0.01, rel=1e-6)


def test_nothing_unites_to_an_empty_polygon():
    assert union_polygons([]).equals(shapely.Polygon())
    assert union_polygons([shapely.Polygon(), shapely.MultiPolygon()]).is_empty
    one = shapely.box(X0, Y0, X0 + 1, Y0 + 1)
    assert union_polygons([one, shapely.Polygon()]).equals(one)


@pytest.mark.parametrize("threads", [1, 2])
def test_isochrones_through_clipper_are_those_through_geos(curvy_access, monkeypatch, threads):
    """Every isochrone of the curvy case drawn with the union through Clipper2 (from 2 pieces)
    is the one drawn with GEOS alone: the same area within 1e-6 of it, the same holes, valid,
    5 ⊆ 10 ⊆ 15 kept within 0.1 µm."""
    from livingcircle.isochrones import isochrones

    acc = curvy_access

    def drawn(pieces_from: int):
        monkeypatch.setattr(_union, "CLIPPER_PIECES", pieces_from)
        acc.__dict__.pop("_isochrone_makers", None)
        return isochrones(acc, minutes=(2, 5, 9), buffer_m=12.0, threads=threads,
                          workers=1).to_crs("EPSG:32652")

    calls = []
    real = _union.union_polygons
    monkeypatch.setattr(_union, "union_polygons", lambda p: calls.append(len(p)) or real(p))
    clipper = drawn(2)
    assert len(calls) > 20 and max(calls) > 40
    calls.clear()
    geos = drawn(10**9)
    assert calls == []
    for a, b in zip(clipper.geometry, geos.geometry, strict=True):
        assert a.is_valid
        assert shapely.symmetric_difference(a, b).area < 1e-6 * max(b.area, 1.0)
        assert shapely.get_num_interior_rings(shapely.get_parts(a)).sum() == \
            shapely.get_num_interior_rings(shapely.get_parts(b)).sum()
    for _cid, rows in clipper.groupby("community_id"):
        polys = rows.sort_values("minutes").geometry.to_numpy()
        for small, large in zip(polys[:-1], polys[1:], strict=True):
            out = shapely.difference(small, large)  # nothing, or slivers of Clipper2's rounding
            assert out.area < 1e-5
            if not out.is_empty:
                corners = shapely.points(shapely.get_coordinates(out))
                assert shapely.distance(corners, large).max() < 1e-7


def test_the_tip_of_a_spike_is_dropped_a_sharp_corner_kept():
    """Clipper2 can leave a spike where two nearly parallel edges meet (one hole of the city
    centre's 4,800 isochrones had a tip 0.7 m out and back): its tip goes, and again while a
    ring has one; a real corner stays, however sharp, and a ring left with under 3 vertices
    goes."""
    from livingcircle._union import _without_spikes

    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float)
    spiked = np.insert(square, 3, [[10.7, 10.00005], [10, 10]], axis=0)  # out 0.7 m and back
    double = np.insert(square, 3, [[11, 10], [10.5, 10], [10.9, 10]], axis=0)  # tip upon tip
    sliver = np.array([[0, 0], [5, 0], [0, 0.0001]], dtype=float)  # 0.001°: a spike itself
    sharp = np.array([[0, 0], [10, 0], [0, 0.5]], dtype=float)  # 2.9°: a corner
    rings = [spiked, double, sliver, sharp]
    pts, ring = _without_spikes(np.concatenate(rings),
                                np.repeat(np.arange(len(rings)), [len(r) for r in rings]))
    got = [pts[ring == k] for k in range(ring.max() + 1)]
    assert len(got) == 3  # the sliver has gone
    assert np.array_equal(got[0], square) and np.array_equal(got[2], sharp)
    assert shapely.Polygon(got[1]).equals(shapely.Polygon(square))


def _geos_oriented_rings(parts: np.ndarray) -> list[np.ndarray]:
    """The reference for ``contours``: GEOS's ``orient_polygons`` and ``get_rings``, each ring
    open (its closing vertex left out)."""
    rings = shapely.get_rings(shapely.orient_polygons(parts))
    return [np.asarray(r.coords)[:-1] for r in rings]


def test_rings_read_off_the_coordinates_are_geos_oriented_rings():
    """``contours`` reads the rings off the pieces' coordinates in one pass: every ring, vertex
    for vertex, is the one GEOS's ``orient_polygons`` and ``get_rings`` give, in the same order,
    for buffers with holes, both orientations, MultiPolygons, empty pieces and triangles of a
    few centimetres at UTM-sized coordinates (whose orientation a product of the coordinates
    themselves would lose)."""
    from livingcircle._union import _rings_by_geos, contours, rings_of

    rng = np.random.default_rng(11)
    lines = [shapely.LineString(np.cumsum(rng.uniform(-40, 40, (5, 2)), axis=0) + [X0, Y0])
             for _ in range(60)]
    buffers = list(shapely.buffer(np.array(lines, dtype=object), 15.0, quad_segs=4))
    frame = shapely.box(X0, Y0, X0 + 100, Y0 + 100).difference(
        shapely.box(X0 + 20, Y0 + 20, X0 + 80, Y0 + 80))
    turned = shapely.Polygon(np.asarray(frame.exterior.coords)[::-1],
                             [np.asarray(frame.interiors[0].coords)[::-1]])
    tiny = [shapely.Polygon([(X0 + a, Y0 + b), (X0 + a + 0.05, Y0 + b + 0.004),
                             (X0 + a + 0.004, Y0 + b + 0.03)][::d])
            for a, b, d in ((0.3, 0.7, 1), (0.9, 0.1, -1), (5.5, 3.25, 1))]
    multi = shapely.MultiPolygon([shapely.box(X0 + 500, Y0, X0 + 510, Y0 + 10), turned])
    pieces = [*buffers, frame, turned, *tiny, multi, shapely.Polygon(), shapely.MultiPolygon()]
    got = contours(pieces)
    parts = shapely.get_parts(np.asarray(pieces, dtype=object))
    solid = parts[~shapely.is_empty(parts)]
    ref = _geos_oriented_rings(solid)
    assert len(got) == len(ref) > 60
    assert all(np.array_equal(a, b) for a, b in zip(got, ref, strict=True))
    assert sum(shapely.get_num_interior_rings(parts)) > 0  # holes were among them
    # the pass and GEOS's rings (the way for a ring the pass cannot read) agree field by field
    for field_pass, field_geos in zip(rings_of(solid), _rings_by_geos(solid), strict=True):
        np.testing.assert_array_equal(field_pass, field_geos)


def test_a_ring_touching_itself_at_its_first_vertex_goes_through_geos(monkeypatch):
    """Where the one pass cannot tell the rings apart (a shell that passes its first vertex
    again, so that the pass finds two rings where the polygon has one), the rings come from
    GEOS's ring geometries, and the union is GEOS's."""
    from livingcircle import _union

    bow = shapely.Polygon([(X0, Y0), (X0 + 4, Y0), (X0 + 4, Y0 + 4), (X0, Y0),
                           (X0 - 4, Y0 + 4), (X0 - 4, Y0)])
    other = shapely.box(X0 + 10, Y0, X0 + 12, Y0 + 2)
    used = []
    real = _union._rings_by_geos
    monkeypatch.setattr(_union, "_rings_by_geos", lambda parts: used.append(1) or real(parts))
    got = _union.contours([other, bow])
    assert used == [1]
    ref = _geos_oriented_rings(np.array([other, bow], dtype=object))
    assert len(got) == len(ref) == 2
    assert all(np.array_equal(a, b) for a, b in zip(got, ref, strict=True))
    # a bow turned the other way round: GEOS reverses it as orient_polygons does
    turned = shapely.Polygon(np.asarray(bow.exterior.coords)[::-1])
    assert all(np.array_equal(a, b) for a, b in
               zip(_union.contours([turned]), _geos_oriented_rings(np.array([turned])),
                   strict=True))
    assert union_polygons([other, bow]).area == pytest.approx(2 * 8 + 4)


def test_rings_without_a_tip_are_given_back_as_they_are():
    """The compiled pass finds a tip where the vectorised test does (a spike 0.7 m out and
    back, a sliver) and none at a sharp corner or a plain square, which come back untouched."""
    from livingcircle._union import SPIKE_RAD, _tips, _without_spikes

    square = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=float) + [X0, Y0]
    spiked = np.insert(square, 3, [[X0 + 10.7, Y0 + 10.00005], [X0 + 10, Y0 + 10]], axis=0)
    sharp = np.array([[0, 0], [10, 0], [0, 0.5]], dtype=float) + [X0, Y0]
    sliver = np.array([[0, 0], [5, 0], [0, 0.0001]], dtype=float) + [X0, Y0]
    cos_max = np.cos(SPIKE_RAD)

    def one(*rings):
        return np.concatenate(rings), np.repeat(np.arange(len(rings)), [len(r) for r in rings])

    assert not _tips(*one(square, sharp), cos_max).any()
    assert _tips(*one(square, spiked), cos_max).any() and _tips(*one(sliver), cos_max).any()
    pts, ring = one(square, sharp)
    got_pts, got_ring = _without_spikes(pts, ring)
    assert got_pts is pts and got_ring is ring


def test_a_hole_touched_by_an_island_at_a_vertex_stays_its_shells(monkeypatch):
    """An island in a hole touching the hole's corners, and a second frame whose hole holds a
    smaller frame touching it at a vertex: each hole goes to the shell around it, never to the
    island (each hole is placed by a point of its own ring that no other ring passes)."""
    def frame(x, lo, hi, gap):
        return shapely.box(x + lo, lo, x + hi, hi).difference(
            shapely.box(x + lo + gap, lo + gap, x + hi - gap, hi - gap))
    island = shapely.Polygon([(20, 20), (50, 30), (80, 80), (30, 50)])  # two hole corners
    inner = shapely.Polygon([(320, 20), (360, 30), (370, 70), (330, 60)],  # touches a corner
                            [[(335, 35), (355, 38), (360, 58), (338, 52)]])
    pieces = [shapely.affinity.translate(g, X0, Y0)
              for g in (frame(0, 0, 100, 20), island, frame(300, 0, 100, 20), inner)]
    monkeypatch.setattr(shapely, "build_area", lambda *a: pytest.fail("build_area called"))
    got = _same_as_geos(pieces)
    assert len(shapely.get_parts(got)) == 4
