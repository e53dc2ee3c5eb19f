"""The union of many overlapping polygons, through Clipper2 (manifold3d's ``CrossSection``).

An isochrone and a tile of coverage are the union of a few hundred polygons: cached cells, the
buffers of whole streets and of the pieces cut at the threshold. GEOS (``shapely.union_all``)
spent about 19 ms on each such union of the city centre's isochrones, about three quarters of
the isochrone stage; Clipper2's sweep takes a fifth of that, 3.9 ms with the conversions from
and to shapely (``benchmarks/CITY_SCALE.md``, "The union through Clipper2"). Clipper2 works on
integers: manifold3d keeps 8 decimals, so every vertex is within 1e-8 m of GEOS's (on projected
metres) and an isochrone's area differs from GEOS's union by some 1e-5 m² at most.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import shapely
from manifold3d import CrossSection, FillRule
from shapely.geometry.base import BaseGeometry

#: Pieces from which :func:`union_of` goes through Clipper2: below, GEOS is as fast or faster
#: (the city centre's isochrones, 2026-12-04, one thread: 2-3 pieces 0.03 against 0.13 ms,
#: 32-63 pieces 3.3 against 1.1 ms, 64 and more 19.3 against 5.7 ms).
CLIPPER_PIECES = 16


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

    The same area as ``shapely.union_all(pieces)``, within Clipper2's 1e-8 of each vertex; empty
    pieces are left out, and nothing gives an empty Polygon.
    """
    parts = shapely.get_parts(np.asarray(pieces, dtype=object))
    parts = parts[~shapely.is_empty(parts)]
    if len(parts) == 0:
        return shapely.Polygon()
    # shells anticlockwise, holes clockwise: a hole counts -1 under the positive fill rule, so a
    # hole of one piece stays a hole unless another piece covers it
    rings = shapely.get_rings(shapely.orient_polygons(parts))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    first = np.flatnonzero(np.r_[True, ring[1:] != ring[:-1]])
    last = np.r_[first[1:], len(ring)] - 1  # a ring's closing vertex repeats its first
    contours = [coords[a:b] for a, b in zip(first, last, strict=True)]
    out = CrossSection(contours, FillRule.Positive).to_polygons()
    if not out:
        return shapely.Polygon()
    closed = np.asarray(shapely.linearrings(
        np.concatenate(out), indices=np.repeat(np.arange(len(out)), [len(c) for c in out])),
        dtype=object)
    # Clipper2's contours: shells anticlockwise, holes clockwise, no two crossing; GEOS finds
    # which hole lies in which shell
    got = cast(BaseGeometry, shapely.build_area(shapely.geometrycollections(closed)))
    return got if not got.is_empty else shapely.Polygon()
