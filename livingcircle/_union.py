"""The union of many overlapping polygons, through Clipper2 (manifold3d's ``CrossSection``).

An isochrone and a tile of coverage are the union of a few hundred polygons: cached cells, the
buffers of whole streets and of the pieces cut at the threshold. GEOS (``shapely.union_all``)
spent 19 ms on such a union of the city centre's isochrones (64 pieces and more, one thread),
three quarters of the isochrone stage; Clipper2's sweep takes 5.7 ms with the conversions from
and to shapely (``benchmarks/CITY_SCALE.md``, "Runs 41–45"). Clipper2 works on integers:
manifold3d keeps 8 decimals of the coordinates (projected metres here). On 120 of the centre's
largest unions the outlines lie within 5e-6 m of GEOS's (Hausdorff distance) and the areas
within 1.2e-5 m²; the tips of spikes Clipper2 now and then leaves are dropped
(:func:`_without_spikes`).
"""

from __future__ import annotations

from typing import NamedTuple, cast

import numba
import numpy as np
import shapely
from manifold3d import CrossSection, FillRule
from shapely.geometry.base import BaseGeometry

#: Pieces from which :func:`union_of` goes through Clipper2: below, GEOS is as fast or faster
#: (the city centre's isochrones, 2026-12-04, one thread: 2-3 pieces 0.03 against 0.13 ms,
#: 32-63 pieces 3.3 against 1.1 ms, 64 and more 19.3 against 5.7 ms).
CLIPPER_PIECES = 16
#: A plain int: a numpy integer compared with the enum member looks the enum class up for
#: numpy's special methods, 3.5 µs a time (cProfile of building every cell of the centre).
POLYGON_TYPE = int(shapely.GeometryType.POLYGON)


def union_of(pieces) -> BaseGeometry:
    """Return the union of the polygons ``pieces`` (a list or array), Clipper2's for many.

    One piece is returned as it is; fewer than :data:`CLIPPER_PIECES` go to
    ``shapely.union_all``, more to :func:`union_polygons`.
    """
    if len(pieces) == 1:
        return pieces[0]
    if len(pieces) >= CLIPPER_PIECES:
        return union_polygons(pieces)
    return shapely.union_all(np.asarray(pieces, dtype=object))


def union_polygons(pieces) -> BaseGeometry:
    """Return the union of the polygons (or multipolygons) ``pieces``, a Polygon or MultiPolygon.

    The same polygon as ``shapely.union_all(pieces)`` within Clipper2's rounding (the module's
    docstring); empty pieces are left out, and nothing gives an empty Polygon.
    """
    rings = contours(pieces)
    if not rings:
        return shapely.Polygon()
    out = CrossSection(rings, FillRule.Positive).to_polygons()
    if not out:
        return shapely.Polygon()
    pts, ring = _without_spikes(np.concatenate(out),
                                np.repeat(np.arange(len(out)), [len(c) for c in out]))
    if len(pts) == 0:
        return shapely.Polygon()
    closed = np.asarray(shapely.linearrings(pts, indices=ring), dtype=object)
    # Clipper2's contours: shells anticlockwise, holes clockwise, no two crossing (GEOS's
    # robust orientation test: a 0.01 m² hole at UTM coordinates stays a hole). One shell (most
    # isochrones): every other ring is a hole of it. More (most coverage tiles): each hole goes
    # to the smallest shell around it (_with_holes_found).
    is_shell = np.asarray(shapely.is_ccw(closed))
    shells = np.flatnonzero(is_shell)
    if len(shells) == 1:  # shapely.polygons: not Polygon(), which checks every ring in Python
        return cast(BaseGeometry, shapely.polygons(closed[shells[0]],
                                                   holes=np.delete(closed, shells[0])))
    if len(shells) == 0:
        return shapely.Polygon()
    return _with_holes_found(closed[shells], closed[~is_shell])


def contours(pieces) -> list[np.ndarray]:
    """Return the rings of the polygons ``pieces`` as :func:`union_polygons` gives them to Clipper2.

    Each ring an (n, 2) array, open (its closing vertex left out); shells anticlockwise, holes
    clockwise: a hole counts -1 under the positive fill rule, so a hole of one piece stays a
    hole unless another piece covers it. Empty pieces are left out.

    The rings are read off the pieces' coordinates in one pass (:func:`_ring_bounds`), not as
    ring geometries: ``shapely.get_parts``, ``orient_polygons`` and ``get_rings`` copied every
    piece two or three times in GEOS, 1.32 of 9.1 s of 1,800 centre isochrones' unions against
    0.62 s now, the same rings (``benchmarks/CITY_SCALE.md``). A ring reversed here is the
    ring ``orient_polygons`` gives, first vertex kept (:func:`rings_of`; GEOS's ring geometries
    where the pass cannot tell the rings apart).
    """
    arr = np.asarray(pieces, dtype=object)
    if (shapely.get_type_id(arr) != POLYGON_TYPE).any():  # most pieces are single polygons
        arr = shapely.get_parts(arr)
    arr = arr[~shapely.is_empty(arr)]
    if len(arr) == 0:
        return []
    found = rings_of(arr)
    xy, at = found.xy, found.ring_at
    # ring k runs from at[k] to its closing vertex at[k + 1] - 1; reversed: p0, p(n-1), ..., p1
    return [xy[b:a:-1] if f else xy[a:b]
            for a, b, f in zip(at[:-1].tolist(), (at[1:] - 1).tolist(), found.flip.tolist(),
                               strict=True)]


class Rings(NamedTuple):
    """The rings of polygons as they lie in their coordinates (:func:`rings_of`)."""

    #: every coordinate of the polygons, in order: each polygon's shell, then its holes
    xy: np.ndarray
    #: where each ring starts in ``xy``, and one past the last ring's end: ring k is
    #: ``xy[ring_at[k]:ring_at[k + 1]]``, closed (its last coordinate repeats its first)
    ring_at: np.ndarray
    #: whether a ring runs against GEOS's orientation (a shell clockwise, a hole anticlockwise)
    flip: np.ndarray
    #: the rings of each polygon (its shell and its holes)
    count: np.ndarray


def rings_of(parts: np.ndarray) -> Rings:
    """Find the rings of the non-empty Polygons ``parts``, in one pass over their coordinates.

    No ring geometry is made (:func:`_ring_bounds`), except where the pass cannot tell the rings
    apart (a ring touching itself at its first vertex): then all of them come from GEOS
    (:func:`_rings_by_geos`), the same rings and orientations.
    """
    xy, owner = shapely.get_coordinates(parts, return_index=True)
    start, end, flip, count, ok = _ring_bounds(xy, owner, len(parts))
    if not ok or not np.array_equal(count, shapely.get_num_interior_rings(parts) + 1):
        return _rings_by_geos(parts)
    return Rings(xy, np.r_[start, end[-1] + 1 if len(end) else 0], flip, count)


def _rings_by_geos(parts: np.ndarray) -> Rings:
    """Return :func:`rings_of` through GEOS's ring geometries.

    The coordinates as ``shapely.to_ragged_array`` lays them out; ``flip`` from GEOS's own
    orientation test (``is_ccw``, the test ``orient_polygons`` reverses a ring by: a shell must
    run anticlockwise, a hole clockwise).
    """
    _kind, xy, (ring_at, poly_at) = shapely.to_ragged_array(parts)
    ring_at, poly_at = np.asarray(ring_at, dtype=np.int64), np.asarray(poly_at, dtype=np.int64)
    ccw = shapely.is_ccw(shapely.get_rings(parts))
    shell = np.zeros(len(ccw), dtype=bool)
    shell[poly_at[:-1]] = True  # every polygon's first ring (none is empty)
    return Rings(np.asarray(xy), ring_at, np.where(shell, ~ccw, ccw), np.diff(poly_at))


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _ring_bounds(xy: np.ndarray, owner: np.ndarray, n_polys: int):
    """Find the rings in the coordinates of ``n_polys`` polygons (``owner``: each vertex's).

    A polygon's coordinates are its shell, then its holes, each closed (its first vertex
    repeated at its end). Returns each ring's first and closing vertex, whether it must be
    reversed (a shell clockwise or a hole anticlockwise: the sign of its area, summed about
    its first vertex so that a ring of centimetres at UTM coordinates keeps its sign), the
    rings of each polygon, and False where a ring does not close within its polygon.
    """
    n = len(xy)
    cap = n // 4 + 1  # a ring has 4 coordinates at least
    start = np.empty(cap, np.int64)
    end = np.empty(cap, np.int64)
    flip = np.empty(cap, np.bool_)
    count = np.zeros(n_polys, np.int64)
    k = 0
    i = 0
    while i < n:
        p = owner[i]
        x0, y0 = xy[i, 0], xy[i, 1]
        j = i + 1
        area2 = 0.0
        while j < n and owner[j] == p:
            area2 += (xy[j - 1, 0] - x0) * (xy[j, 1] - y0) - (xy[j, 0] - x0) * (xy[j - 1, 1] - y0)
            if xy[j, 0] == x0 and xy[j, 1] == y0:
                break
            j += 1
        if j >= n or owner[j] != p or j - i < 3 or k >= cap:
            return start[:0], end[:0], flip[:0], count, False
        start[k] = i
        end[k] = j
        flip[k] = area2 < 0.0 if count[p] == 0 else area2 > 0.0
        count[p] += 1
        k += 1
        i = j + 1
    return start[:k], end[:k], flip[:k], count, True


def _with_holes_found(shells: np.ndarray, holes: np.ndarray) -> BaseGeometry:
    """Return the MultiPolygon of the rings ``shells``, each with the ``holes`` it holds.

    Clipper2's rings do not cross, so the shells that hold a hole are its own and those around
    that one (an island in a hole of another shell): the smallest of them is its own. (GEOS's
    ``build_area``, which nodes every ring again, was 9 % of the coverage of a 250,000-node grid
    city, ``benchmarks/CITY_SCALE.md``.)
    """
    filled = np.asarray(shapely.polygons(shells), dtype=object)
    owner = np.full(len(holes), -1)
    if len(holes):
        # a point of each hole's ring that lies on no other ring: the middle of its first edge
        # (Clipper2's rings touch at vertices, where it splits the edges of both, at most); in
        # a shell or on its edge, the hole is in it. A point's test, not the whole ring's
        # (covered_by): 0.28 against 0.88 s for the 46,011 holes of the centre's coverage
        # tiles, the same owners.
        mid = (shapely.get_coordinates(shapely.get_point(holes, 0))
               + shapely.get_coordinates(shapely.get_point(holes, 1))) / 2
        at, shell = shapely.STRtree(filled).query(shapely.points(mid))
        inside = shapely.intersects_xy(filled[shell], mid[at, 0], mid[at, 1])
        at, shell = at[inside], shell[inside]
        area = np.asarray(shapely.area(filled))
        order = np.lexsort((area[shell], at))  # by hole, the smallest shell first
        at, shell = at[order], shell[order]
        first = np.r_[True, at[1:] != at[:-1]] if len(at) else np.zeros(0, dtype=bool)
        owner[at[first]] = shell[first]
        if (owner < 0).any():  # never seen: a hole no shell holds; GEOS sorts the rings out
            got = cast(BaseGeometry,
                       shapely.build_area(shapely.geometrycollections(np.r_[shells, holes])))
            return got if not got.is_empty else shapely.Polygon()
    by = np.argsort(owner, kind="stable")
    ptr = np.searchsorted(owner[by], np.arange(len(shells) + 1))
    return shapely.MultiPolygon([shapely.Polygon(s, list(holes[by[ptr[k]:ptr[k + 1]]]))
                                 for k, s in enumerate(shells)])


#: A vertex whose two edges leave it within this angle of each other (radians, about 0.008°) is
#: the tip of a spike: the outline runs out and back along itself.
SPIKE_RAD = 1.4e-4


def _without_spikes(pts: np.ndarray, ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the tips of spikes from rings (``pts`` of ring ``ring``, in order, not closed).

    Clipper2 now and then leaves one where two nearly parallel edges meet: on the city centre's
    4,800 isochrones one hole got a tip 0.7 m out and back (width 4e-5 m), which GEOS's union
    has not. A tip is dropped, and again while a ring has one (a vertex repeated where a tip was
    goes too); a ring left with fewer than 3 vertices is dropped. Most unions have none, and
    come back as they are after one compiled pass (:func:`_tips`; numpy's arrays of the same
    test took 0.20 against 0.05 s on 1,800 centre isochrones' unions).
    """
    cos_max = np.cos(SPIKE_RAD)
    while len(pts):
        tip = _tips(pts, ring, cos_max)
        if not tip.any():
            break
        pts, ring = pts[~tip], ring[~tip]
        keep = np.bincount(ring)[ring] >= 3
        pts, ring = pts[keep], np.unique(ring[keep], return_inverse=True)[1]
    return pts, ring


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _tips(pts: np.ndarray, ring: np.ndarray, cos_max: float) -> np.ndarray:
    """Return which vertices are tips (:func:`_without_spikes`).

    A tip's two edges leave it within :data:`SPIKE_RAD` of each other (cosine above
    ``cos_max``), or its next vertex is the same point (where a tip was). The rings are
    stored one after the other (``ring`` sorted); a ring's last vertex joins its first.
    """
    n = len(pts)
    tip = np.zeros(n, np.bool_)
    i = 0
    while i < n:
        j = i
        while j < n and ring[j] == ring[i]:
            j += 1
        for k in range(i, j):
            p = k - 1 if k > i else j - 1
            q = k + 1 if k < j - 1 else i
            a0, a1 = pts[p, 0] - pts[k, 0], pts[p, 1] - pts[k, 1]
            b0, b1 = pts[q, 0] - pts[k, 0], pts[q, 1] - pts[k, 1]
            la, lb = np.hypot(a0, a1), np.hypot(b0, b1)
            tip[k] = a0 * b0 + a1 * b1 > cos_max * la * lb or lb == 0.0
        i = j
    return tip
