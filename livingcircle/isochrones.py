"""5-, 10- and 15-minute isochrones along the walking network, and the pedestrian-shed ratio.

For each origin (a community, through its gates or boundary access points) one radius-limited
search gives the walking distance to every node within the largest threshold; every threshold and
speed profile is then cut from that one search:

* a street segment whose both ends are reached and whose farthest point is within the threshold is
  kept whole; otherwise the part reachable from each end is cut exactly at the threshold;
* the kept lines are buffered by :data:`livingcircle.settings.isochrone_buffer_m`, which keeps holes
  where the network does not reach (large blocks, a river);
* 5 ⊆ 10 ⊆ 15 holds by construction (each polygon is the smaller one united with what is new;
  within 0.1 µm, the rounding of the union of many pieces, :mod:`livingcircle._union`).

How it is fast (the polygons are the same as uniting the buffer of every reached piece, which the
tests check against a plain implementation; figures in ``benchmarks/README.md``): the buffer of a
whole street is the same for every origin, and so is the union of the buffers of all streets in a
square cell. :class:`IsochroneMaker` keeps both, built on first use, in a quadtree of cells
(up to 3.2 km; the smallest 25, 50 or 100 m, as the streets' density asks,
:func:`smallest_cell`); an isochrone is the union of the cells all of whose streets are reached
whole (the largest such cells first), the buffers of the other whole streets, and the buffers of the
cut frontier pieces. A cell is kept with its blocks filled (a block: a hole of its union that no
other street's buffer enters), so that the union works on outlines; the blocks go back in as
holes afterwards, without an overlay. A union of many pieces goes through Clipper2
(:func:`livingcircle._union.union_of`, about 3× GEOS's speed on them). Origins run in parallel
threads (GEOS, Clipper2 and the compiled search release the GIL), in spatial order so that
neighbouring origins share cells. The same maker draws the coverage of each facility category
and the residential area it leaves uncovered (:mod:`livingcircle.coverage`).

Beside each polygon: the straight-line circle of the same walking distance around the community's
centroid, and the ratio of the two areas (pedestrian-shed ratio; 1 would be a perfect grid with no
detours, old gated districts are often below 0.3).
"""

from __future__ import annotations

import copy
import errno
import functools
import logging
import math
import os
import pickle
import shutil
import tempfile
import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeAlias

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from . import settings
from ._errors import LivingCircleError
from ._parallel import StreamWorkers, Workers, worker_count
from ._union import POLYGON_TYPE, union_of
from .accessibility import Access, SpeedProfiles, measure_access, speed_table
from .crs import utm_crs
from .network import WalkNetwork
from .routing import BoundedSearch, EdgeTable, SplitGraph, map_bounded

#: What one search reaches: the street segments touched and the distance of both their ends.
Reached: TypeAlias = tuple[np.ndarray, np.ndarray, np.ndarray]

logger = logging.getLogger(__name__)

QUAD_SEGS = 4  # segments per quarter circle of the buffers' round ends
_LEVELS = 8  # quadtree levels of the isochrone maker from 25 m: up to 3.2 km cells
ISOCHRONE_CHUNK = 200  # communities per chunk of isochrones() (memory, see isochrones())
#: Communities per task of a worker process: neighbours (Z-order) that share its cached cells
#: (each process builds its own). A local pool's worker draws its own part of the city task by
#: task (:func:`_drawn_in_streams`); the next chunk's tasks may start before this one's rows
#: are made, so 2 workers are not idle at the end of a chunk. With 25,
#: two processes spent 57 CPU s where one spent 51 on 400 city-centre communities (2026-12-02,
#: bench_isochrone_memory.py, loaded machine): halving the tasks keeps more neighbours together.
ISOCHRONE_TASK = 50
#: No polygons (no cut pieces): an empty object array, never written to.
NO_POLYGONS = np.zeros(0, dtype=object)
#: Vertices the whole quadtree of cells caches per vertex of the street buffers
#: (:meth:`IsochroneMaker.predicted_tree_vertices`): 7,762,961 for 1,894,806 (4.10) at the
#: city centre of ``benchmarks/CITY_SCALE.md``, 2026-12-04, with 25 m cells; 5,868,212 (3.10)
#: with the 50 m cells :func:`smallest_cell` now gives it, so the prediction errs high. It only
#: decides whether :func:`prepare_cells` builds every cell; the caches' budget is kept either
#: way.
TREE_PER_BUFFER_VERTEX = 4.1


def _incidence(g) -> sp.csr_array:
    n_seg = len(g.seg_a)
    rows = np.r_[g.seg_a, g.seg_b]
    cols = np.r_[np.arange(n_seg), np.arange(n_seg)]
    return sp.csr_array((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                        shape=(g.n_nodes, n_seg))


def _sorted_unique(idx: np.ndarray, n: int) -> np.ndarray:
    """``np.unique(idx)`` for integers in ``[0, n)``, through a mask when ``idx`` is not tiny.

    numpy 2's ``np.unique`` hashes and then sorts: for random indices of the city-centre
    case's size (300,000 below 160,000) it took 123 ms against 0.4 ms for the mask, for 2,000
    below 160,000 1.1 ms against 0.05 ms (one thread, same process, 2026-12-02); it was 4 % of
    the coverage stage under cProfile. Same result either way.
    """
    if len(idx) * 64 < n:
        return np.unique(idx)
    mask = np.zeros(n, dtype=bool)
    mask[idx] = True
    return np.flatnonzero(mask)


def substrings(lines: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Return the part of each line between ``start`` and ``end`` metres from its first point.

    Vectorised ``shapely.ops.substring`` for ``0 <= start < end <= length``: the interpolated end
    points and every vertex strictly between them.
    """
    lines = np.asarray(lines, dtype=object)
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    if len(lines) == 0:
        return np.zeros(0, dtype=object)
    coords, idx = shapely.get_coordinates(lines, return_index=True)
    seg = np.hypot(*np.diff(coords, axis=0).T)
    seg[idx[1:] != idx[:-1]] = 0.0  # no length between two lines
    cum = np.r_[0.0, np.cumsum(seg)]
    first = np.searchsorted(idx, np.arange(len(lines)))
    along = cum - cum[first][idx]  # metres from each line's first vertex
    inner = (along > start[idx]) & (along < end[idx])
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(lines, start))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(lines, end))
    n = len(lines)
    xy = np.concatenate([p0, coords[inner], p1])
    owner = np.concatenate([np.arange(n), idx[inner], np.arange(n)])
    rank = np.concatenate([np.full(n, -1.0), along[inner], np.full(n, np.inf)])
    order = np.lexsort((rank, owner))
    return np.asarray(shapely.linestrings(xy[order], indices=owner[order]), dtype=object)


def line_buffers(lines: np.ndarray, r: float) -> np.ndarray:
    """Return ``shapely.buffer(lines, r, quad_segs=QUAD_SEGS)``, the straight lines drawn here.

    GEOS takes about 5.5 µs for the buffer of a line of two points, through its general offset
    curve, noding and polygon building; that buffer is a stadium whose vertices GEOS computes by
    a fixed recipe (``OffsetSegmentGenerator``: each side's offset points, each round cap's
    points at equal angles from the side's normal). :func:`_stadiums` follows it number for
    number, with the polygons made from the coordinates: the same polygons, vertex for vertex
    and bit for bit (WKB), 0.22 against 1.1 s for 200,000 random lines. This is checked against
    GEOS once a process (:func:`_stadiums_agree`); where they would differ (another GEOS), GEOS
    draws every buffer. Lines of more points, straight ones shorter than
    :data:`STADIUM_MIN_LENGTH` buffer widths, and fewer than :data:`STADIUMS_FROM` straight
    lines are GEOS's. Many street pieces the isochrones cut,
    and every street of a grid city, are straight: building the city centre's cells took 8 %
    less CPU (``benchmarks/CITY_SCALE.md``, "Straight pieces buffered as GEOS buffers them").
    """
    lines = np.asarray(lines, dtype=object)
    out = np.empty(len(lines), dtype=object)
    todo = np.ones(len(lines), dtype=bool)
    two = np.flatnonzero(shapely.get_num_coordinates(lines) == 2)
    if len(two) >= STADIUMS_FROM and _stadiums_agree(float(r)):
        xy = shapely.get_coordinates(lines[two]).reshape(-1, 2, 2)
        d = xy[:, 1] - xy[:, 0]
        long = np.hypot(d[:, 0], d[:, 1]) >= STADIUM_MIN_LENGTH * r
        out[two[long]] = _stadium_polygons(xy[long], float(r))
        todo[two[long]] = False
    if todo.any():
        out[todo] = shapely.buffer(lines[todo], r, quad_segs=QUAD_SEGS)
    return out


#: Fewer straight lines than this go to GEOS: the calls around :func:`_stadiums` cost about
#: 20 µs, GEOS's buffer 10 µs a line (one line: 20.2 against 10.1 µs; three: 24.1 against 18.8;
#: ten: 28.3 against 50.4; a /tmp loop, 2026-12-08).
STADIUMS_FROM = 4
#: Straight lines shorter than this many buffer widths are buffered by GEOS: very short ones
#: lose an offset point in GEOS as a near duplicate of the one before it, which
#: :func:`_stadiums` keeps (measured at 25 m: 2 mm and shorter lose one, 5 mm and longer keep
#: every vertex; the tests check from just over this length, at 7.5, 25 and 300 m).
STADIUM_MIN_LENGTH = 1e-3


def _stadium_polygons(xy: np.ndarray, r: float) -> np.ndarray:
    """Round-capped buffers of the straight lines ``xy`` ((n, 2, 2): each line's two points)."""
    per = 4 * QUAD_SEGS + 3
    coords = _stadiums(np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]), r,
                       QUAD_SEGS)
    n = len(xy)
    return shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords,
                                     (np.arange(0, n * per + 1, per), np.arange(n + 1)))


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _stadiums(p0: np.ndarray, p1: np.ndarray, r: float, quad_segs: int) -> np.ndarray:
    """Return the rings of the buffers of the lines ``p0``–``p1`` as GEOS's ``buffer`` does.

    GEOS's ``OffsetCurveBuilder`` for a line of two points, in its arithmetic: the left offset
    of the end, the round cap around the end clockwise from the left normal (its first point is
    the left offset again, left out as a duplicate), the right offset of the end and of the
    start, the round cap around the start, the left offset of the start, closed. A cap's points
    lie at ``start - i * (total / n)`` radians from the line's direction ± π/2, ``n`` the
    rounded number of quarter-circle steps. ``math.cos``/``sin``/``atan2`` are the C library's,
    as in GEOS.
    """
    n = len(p0)
    per = 4 * quad_segs + 3
    out = np.empty((n * per, 2))
    quantum = math.pi / 2.0 / quad_segs
    for k in range(n):
        x0, y0, x1, y1 = p0[k, 0], p0[k, 1], p1[k, 0], p1[k, 1]
        dx = x1 - x0
        dy = y1 - y0
        length = math.sqrt(dx * dx + dy * dy)
        ux, uy = 1.0 * r * dx / length, 1.0 * r * dy / length  # left: side sign +1
        vx, vy = -1.0 * r * dx / length, -1.0 * r * dy / length  # right: side sign -1
        j = k * per
        out[j, 0], out[j, 1] = x1 - uy, y1 + ux
        j = _cap(out, j + 1, x1, y1, math.atan2(dy, dx), r, quantum)
        out[j, 0], out[j, 1] = x1 - vy, y1 + vx
        out[j + 1, 0], out[j + 1, 1] = x0 - vy, y0 + vx
        j = _cap(out, j + 2, x0, y0, math.atan2(-dy, -dx), r, quantum)
        out[j, 0], out[j, 1] = x0 - uy, y0 + ux
        out[j + 1, 0], out[j + 1, 1] = x1 - uy, y1 + ux
    return out


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _cap(out: np.ndarray, j: int, x: float, y: float, angle: float, r: float,
         quantum: float) -> int:
    """Write a round cap's inner points around (x, y) from ``j``; return the next row."""
    start = angle + math.pi / 2.0
    total = abs(start - (angle - math.pi / 2.0))
    steps = int(total / quantum + 0.5)
    inc = total / steps
    for i in range(1, steps):
        a = start + (-1 * i) * inc
        out[j, 0] = x + r * math.cos(a)
        out[j, 1] = y + r * math.sin(a)
        j += 1
    return j


@functools.cache
def _stadiums_agree(r: float) -> bool:
    """Whether :func:`_stadiums` gives GEOS's buffers of width ``r`` here, bit for bit.

    Checked once a process on 256 lines in every direction, at UTM coordinates, from
    :data:`STADIUM_MIN_LENGTH` widths to 40 widths long (and along the axes); False, and
    logged, if one vertex differs, so that GEOS draws them all.
    """
    rng = np.random.default_rng(20261208)
    n = 256
    angle = np.r_[rng.uniform(-np.pi, np.pi, n - 8), np.arange(-4, 4) * np.pi / 4]
    length = r * np.exp(rng.uniform(np.log(STADIUM_MIN_LENGTH), np.log(40.0), n))
    p0 = np.column_stack([rng.uniform(2e5, 8e5, n), rng.uniform(0, 9e6, n)])
    p1 = p0 + np.column_stack([length * np.cos(angle), length * np.sin(angle)])
    lines = shapely.linestrings(np.stack([p0, p1], axis=1))
    p1 = shapely.get_coordinates(lines)[1::2]  # the points as the lines hold them
    ours = _stadium_polygons(np.stack([p0, p1], axis=1), r)
    same = bool((shapely.to_wkb(ours) == shapely.to_wkb(
        shapely.buffer(lines, r, quad_segs=QUAD_SEGS))).all())
    if not same:
        logger.debug("straight buffers differ from GEOS %s's: GEOS draws them",
                     shapely.geos_version_string)
    return same


#: The smallest cell the quadtree may have, and the cells it may take instead (see
#: :func:`smallest_cell`): 25, 50 and 100 m.
BASE_CELL_M = 25.0
MAX_CELL_DOUBLINGS = 2
#: Streets per occupied cell from which the smallest cells unite enough to be a level.
STREETS_PER_SMALLEST_CELL = 1.5


def smallest_cell(cx: np.ndarray, cy: np.ndarray, levels: int) -> int:
    """Return how many times to double the 25 m cells for the smallest level: 0, 1 or 2.

    ``cx``, ``cy``: each street's 25 m cell (of its midpoint). The smallest level is the first
    (25, 50, 100 m) whose occupied cells hold :data:`STREETS_PER_SMALLEST_CELL` streets or more
    on average. A cell of one street is its buffer: a level of them unites nothing, yet each
    cell is built, cached and counted, and its parent unites them one more time. Measured
    (2026-12-05, ``benchmarks/README.md``, "The smallest cell from the streets"): the
    city-centre case holds 1.05 streets per occupied 25 m cell, 1.75 per 50 m cell; the 10k
    and 100k grids (100 m blocks) 1.00, 1.05 and 2.00 per 100 m cell; Helsinki's short streets
    2.91 per 25 m cell, where 50 m cells drew 1,000 origins' isochrones in 31.9 CPU s against
    23.7 s (``benchmarks/bench_smallest_cell.py``). Always at least one level is left.
    """
    if len(cx) == 0:
        return 0
    largest = min(MAX_CELL_DOUBLINGS, levels - 1)
    for up in range(largest):
        occupied = len(np.unique(((cx >> up) << 32) | (cy >> up)))
        if len(cx) >= STREETS_PER_SMALLEST_CELL * occupied:
            return up
    return largest


#: A top-level cell whose streets' buffers cover the ground this many times or more is drawn
#: from cached cells; below, its streets go into an isochrone as their own buffers
#: (:func:`flat_streets`). See :data:`COVER_CELL_BUFFERS` for the ground.
CELLS_FROM_COVER = 1.0
#: The ground of :func:`flat_streets`: the squares of this many buffer widths (200 m for the
#: 25 m buffer) that hold the midpoint of a street.
COVER_CELL_BUFFERS = 8


def top_cover(mid: np.ndarray, length: np.ndarray, top: np.ndarray,
              buffer_m: float) -> np.ndarray:
    """Return how many times its streets' buffers would cover each top-level cell's ground.

    ``mid``: each street's midpoint (n × 2), ``length`` its length (m), ``top`` its top-level
    cell (0 … k-1). The ground is the squares of :data:`COVER_CELL_BUFFERS` buffer widths that
    hold a street's midpoint; the cover is ``length × 2 buffer_m / ground``.
    """
    n_top = int(top.max()) + 1 if len(top) else 0
    if n_top == 0:
        return np.zeros(0)
    side = COVER_CELL_BUFFERS * buffer_m
    sq = np.floor((mid - mid.min(axis=0)) / side).astype(np.int64)
    key = (top.astype(np.int64) << 42) | (sq[:, 0] << 21) | sq[:, 1]
    ground = np.bincount(np.unique(key) >> 42, minlength=n_top) * side * side
    return np.bincount(top, weights=length, minlength=n_top) * 2 * buffer_m / ground.clip(1)


def flat_streets(mid: np.ndarray, length: np.ndarray, top: np.ndarray, buffer_m: float,
                 cells_from_cover: float) -> np.ndarray:
    """Return which streets lie in a top-level cell drawn without cached cells.

    Those whose :func:`top_cover` is below ``cells_from_cover`` (0: none). A cached cell pays
    where the buffers overlap: its union, made once, holds far fewer vertices than its
    buffers. Where they barely overlap (streets about as far apart as the buffers are wide),
    the union is about as large as the buffers, and building, caching and uniting cells costs
    more than uniting the buffers themselves. Measured (2026-12-06, one thread, 1,000 origins,
    5/10/15 minutes at 80 m/min, 25 m buffers; ``benchmarks/bench_cell_cover.py``, record
    ``results/2026-12-05_cell_cover.jsonl``, ``benchmarks/README.md`` "Cells only where buffers
    overlap"): the 100k grid of 100 m blocks (cover 0.93) drew in 26.4 CPU s without cells
    against 54.8 with cells built as the origins need them and 47.2 with every cell built
    first; a 10,000-node lattice of 100 m blocks (0.92) in 18.4 against 20.2 and 19.0. Where the
    buffers overlap more, the cells win (``results/2026-12-06_cell_cover.jsonl``, with a way
    drawn without cells everywhere: at a cover of 1.32 14.4 against 16.0 CPU s, at 1.84 16.1
    against 34.0, Helsinki 4.7 against 51.8; at 1.06 the two within 4 % either way). The city
    centre of ``benchmarks/bench_city.py`` has 1.59 and Helsinki 2.01: drawn from cells; so is
    the 1M-node city, whose 256 top-level cells have covers of 1.77 to 1.84.
    """
    if len(length) == 0 or cells_from_cover <= 0:
        return np.zeros(len(length), dtype=bool)
    return (top_cover(mid, length, top, buffer_m) < cells_from_cover)[top]


def _interleaved(cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
    """Return the Z-order (Morton) codes of cells (column ``cx``, row ``cy``, both >= 0).

    Bit ``b`` of ``cx`` goes to bit ``2b``, of ``cy`` to ``2b + 1``: the cells ``(cx >> k,
    cy >> k)`` of every ``k`` are runs of consecutive codes (``code >> 2k``).
    """
    x, y = cx.astype(np.uint64), cy.astype(np.uint64)
    code = np.zeros(len(x), dtype=np.uint64)
    bits = int(max(x.max(), y.max())).bit_length() if len(x) else 0  # 11 at 1M nodes
    if bits > 32:
        msg = f"{bits}-bit cell numbers do not interleave into 64 bits"
        raise ValueError(msg)
    for b in range(bits):
        bit = np.uint64(b)
        code |= ((x >> bit) & np.uint64(1)) << np.uint64(2 * b)
        code |= ((y >> bit) & np.uint64(1)) << np.uint64(2 * b + 1)
    return code


def _members(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.isin(a, b)`` for integer arrays, by binary search in ``b`` sorted.

    ``b`` is the streets of a smaller threshold (:meth:`IsochroneMaker.parts` gives them
    sorted): no sort of both arrays together, as ``np.isin`` makes.
    """
    if len(b) == 0:
        return np.zeros(len(a), dtype=bool)
    if len(b) > 1 and not (b[1:] >= b[:-1]).all():
        b = np.sort(b)
    k = np.searchsorted(b, a).clip(max=len(b) - 1)
    return b[k] == a


def reached_whole(da: np.ndarray, db: np.ndarray, length: np.ndarray, T: float) -> np.ndarray:
    """Whether each segment (its ends ``da``, ``db`` metres away) is walked end to end within T."""
    return (da <= T) & (db <= T) & ((da + db + length) / 2 <= T)


class IsochroneMaker:
    """Network-wide pieces of isochrones, shared by every origin: buffers and cell unions.

    Built lazily and thread-safe (two threads may build the same cell; both get the same
    polygon). The caches are emptied when they hold more than
    :data:`livingcircle.settings.isochrone_cache_vertices` vertices.

    Parameters
    ----------
    g
        The split graph of an :class:`~livingcircle.accessibility.Access`.
    edges
        Its edge table (street geometries, u → v, projected).
    buffer_m
        Buffer half-width in metres.
    cell_m, levels
        Size of the smallest quadtree cell and the number of levels: cells of ``cell_m`` to
        ``cell_m * 2 ** (levels - 1)``. ``cell_m`` None (the default): the largest cells are
        ``25 m * 2 ** (levels - 1)`` (3.2 km for 8 levels) and the smallest as
        :func:`smallest_cell` finds for these streets, 25, 50 or 100 m (fewer levels below the
        same top).
    cells_from_cover
        The top-level cells drawn from cached cells are those whose streets' buffers cover
        their ground this many times or more (:func:`flat_streets`); the streets of the others
        go into an isochrone as their own buffers. None: :data:`CELLS_FROM_COVER`; 0: every
        top-level cell.
    """

    def __init__(self, g, edges, buffer_m: float, *, cell_m: float | None = None,
                 levels: int = 8, cells_from_cover: float | None = None):
        self.g = g
        self.edges = edges
        self.geom = edges.geometry
        self.length = edges.length
        # a gap larger than any street: separates streets in parts()' running maximum
        self._street_gap = float(self.length.max()) + 1.0 if len(self.length) else 1.0
        self.buffer_m = float(buffer_m)
        self.inc = _incidence(g)
        self.street = g.seg_edge >= 0  # offset legs of snapped points are not streets
        n_e = len(self.geom)
        self._buf = np.full(n_e, None, dtype=object)
        self._lock = threading.Lock()
        self._cached_vertices = 0
        #: Every cell of the quadtree is cached (:func:`prepare_cells`).
        self.complete = False
        #: Whether a full cache is emptied (False while a worker builds cells to send back).
        self.evicts = True
        #: Every cell of a network too large to cache, kept on disk by top-level cell
        #: (:func:`prepare_cells`): a cell not cached is read from there, not built.
        self.store: CellStore | None = None
        self._loaded: set[int] = set()  # top-level cells read from the store since emptied
        self._predicted: int | None = None  # predicted_tree_vertices(), once found
        if n_e:
            mid = shapely.get_coordinates(
                shapely.line_interpolate_point(self.geom, 0.5, normalized=True))
        else:
            mid = np.zeros((0, 2))
        self.origin = mid.min(axis=0) if n_e else np.zeros(2)
        base = BASE_CELL_M if cell_m is None else float(cell_m)
        cx = np.floor((mid[:, 0] - self.origin[0]) / base).astype(np.int64)
        cy = np.floor((mid[:, 1] - self.origin[1]) / base).astype(np.int64)
        if cell_m is None:  # the same cells as cell_m=base * 2 ** up: floor((x - o) / 2b)
            up = smallest_cell(cx, cy, levels)
            cx, cy, levels = cx >> up, cy >> up, levels - up
            base *= 2 ** up
        self.cell_m = base
        span = int(cy.max()) + 1 if n_e else 1
        self.levels = []
        for lv in range(levels):
            key = (cx >> lv) * span + (cy >> lv)
            _uk, cell, count = np.unique(key, return_inverse=True, return_counts=True)
            cell = cell.reshape(-1).astype(np.int32)
            order = np.argsort(cell, kind="stable").astype(np.int32)
            ptr = np.r_[0, np.cumsum(count)]
            level = {"cell": cell, "count": count, "members": order, "ptr": ptr, "poly": {}}
            if lv:  # the cells one level down that make up each cell (built from them)
                below = self.levels[-1]
                first = below["members"][below["ptr"][:-1]]  # one street of each lower cell
                parent = cell[first]
                level["children"] = np.argsort(parent, kind="stable").astype(np.int32)
                level["child_ptr"] = np.searchsorted(parent[level["children"]],
                                                     np.arange(len(count) + 1))
            self.levels.append(level)
        #: Each street's place on a Z-order curve of its smallest cell: the streets of any cell,
        #: at any level, come together in this order (:meth:`_whole_cells`).
        self.z = _interleaved(cx, cy)
        top = self.levels[-1]
        first = top["members"][top["ptr"][:-1]]  # one street of each top-level cell
        #: Each top-level cell's column and row, ``floor(((x, y) - origin) / size)`` with
        #: ``size`` its side (a coverage tile is one: :func:`livingcircle.coverage._tiles`).
        self.top_ij = np.column_stack([cx[first] >> (levels - 1), cy[first] >> (levels - 1)])
        #: Streets of top-level cells drawn as their own buffers, never from cells.
        self.flat = flat_streets(mid, self.length, self.levels[-1]["cell"], self.buffer_m,
                                 CELLS_FROM_COVER if cells_from_cover is None
                                 else float(cells_from_cover))
        # the split segments of every street, for local questions (uncovered_areas)
        streets = np.flatnonzero(self.street)
        by_edge = streets[np.argsort(g.seg_edge[streets], kind="stable")]
        self.seg_of_edge = by_edge
        self.seg_ptr = np.searchsorted(g.seg_edge[by_edge], np.arange(n_e + 1))

    def with_empty_caches(self) -> IsochroneMaker:
        """Return a maker that shares this one's index but keeps caches of its own.

        The index (quadtree cells, incidence, streets by edge; some 1.8M-long arrays at 1M
        nodes) is read-only once built. A worker process forked from the run to build cells
        (:func:`prepare_cells`) takes this instead of building the index again: its pages stay
        shared with the run's process (copy-on-write), and the worker does not spend the time.
        A worker that draws takes :meth:`forked_copy`, the run's caches included.
        """
        new = self._copy()
        new._emptied()
        return new

    def forked_copy(self) -> IsochroneMaker:
        """Return the maker of a worker process forked from the run: its index and its caches.

        Whatever the run's maker has cached (every cell, after :func:`prepare_cells`) serves
        the worker as it is: the pages stay shared with the run's process (copy-on-write; the
        geometries' coordinates live in GEOS's memory, which reading never writes). The
        worker's own share of the cache budget (:func:`livingcircle._parallel._init`) counts
        only what it adds; were it full, the worker empties its own caches, not the run's.

        The containers are the worker's own copies (of references): what the worker adds must
        not go into the run's dicts and array, which the run's maker (inherited too) keeps
        alive. Adding to them kept the worker's first cache full after it was emptied: the 1M
        city's workers held 351–415 MB more (``benchmarks/CITY_SCALE.md``, run j against run k).
        """
        new = self._copy()
        new._buf = self._buf.copy()
        for level in new.levels:
            level["poly"] = dict(level["poly"])
        return new

    def _copy(self) -> IsochroneMaker:
        """Return a maker sharing this one's index and caches, with its own lock and levels.

        Its level dicts are its own, so that emptying them (:meth:`_emptied`) leaves this
        maker's; nothing it holds is counted against its budget yet.
        """
        new = copy.copy(self)
        new._lock = threading.Lock()  # a lock copied by fork may have been held by a thread
        new._cached_vertices = 0
        new.levels = [dict(level) for level in self.levels]
        new._loaded = set(self._loaded)
        return new

    def _emptied(self) -> None:
        """Drop every cached buffer and cell (the caller holds the lock or owns the maker)."""
        self._buf = np.full(len(self.geom), None, dtype=object)
        for level in self.levels:
            level["poly"] = {}
        self._cached_vertices = 0
        self.complete = False
        self._loaded = set()

    def predicted_tree_vertices(self) -> int:
        """About how many vertices every cell of the quadtree holds once built (to decide).

        A street's buffer has about two vertices per vertex of the street, plus
        ``4 * QUAD_SEGS`` for its round ends and joins; the quadtree's levels, the cells' block
        rings and the buffers together hold about :data:`TREE_PER_BUFFER_VERTEX` times the
        buffers' vertices (measured, below).
        """
        if self._predicted is None:  # asked by each stage that may build the cells
            in_cells = self.geom[~self.flat]  # (flat_streets: never in a cell)
            n_coords = int(shapely.get_num_coordinates(in_cells).sum())
            buffers = 2 * n_coords + 4 * QUAD_SEGS * len(in_cells)
            self._predicted = int(TREE_PER_BUFFER_VERTEX * buffers)
        return self._predicted

    def top_cells(self) -> np.ndarray:
        """Return the quadtree's top-level cells drawn from cells, the most streets first.

        Those whose streets are drawn as their own buffers (:func:`flat_streets`) are left out.
        """
        top = self.levels[-1]
        count = top["count"]
        order = np.argsort(-count, kind="stable")
        flat = self.flat[top["members"][top["ptr"][:-1]]]  # of one street of each top cell
        return order[~flat[order]]

    def built_under(self, tops: Iterable[int]) -> BuiltCells:
        """Build every cell under the top-level cells ``tops``; return what this maker cached.

        Called on a maker with empty caches of its own (:meth:`with_empty_caches`) in a worker
        process; :meth:`adopt` puts the cells and street buffers into the run's maker.
        """
        top = len(self.levels) - 1
        for c in tops:
            self._cell_filled(top, int(c))
        cells = []
        for lv, level in enumerate(self.levels):
            if level["poly"]:
                keys = np.fromiter(level["poly"].keys(), dtype=np.int64, count=len(level["poly"]))
                cells.append((lv, keys, list(level["poly"].values())))
        streets = np.flatnonzero(~shapely.is_missing(self._buf))
        return BuiltCells(cells, streets, self._buf[streets])

    def adopt(self, built: BuiltCells) -> bool:
        """Cache the cells and street buffers another maker built (:meth:`built_under`).

        Returns False, and caches nothing, when they would take the caches over their budget
        (:data:`livingcircle.settings.isochrone_cache_vertices`).
        """
        new, added = self._new_in(built)
        with self._lock:
            if self._cached_vertices + added > settings.isochrone_cache_vertices:
                return False
            self._put(built, new, added)
        return True

    def _new_in(self, built: BuiltCells, cells: int | None = None) -> tuple[np.ndarray, int]:
        """Which of ``built``'s street buffers this maker lacks, and the vertices they add.

        With the cells' own vertices (``cells``: :meth:`CellStore.read` counted them), or
        counted here.
        """
        new = shapely.is_missing(self._buf[built.streets])
        added = int(shapely.get_num_coordinates(built.buffers[new]).sum())
        if cells is not None:
            return new, added + cells
        rings = {}  # a cell's blocks are also its parent's: the same ring objects, counted once
        for _lv, _keys, got in built.cells:
            filled = np.array([f for f, _h in got], dtype=object)
            added += int(shapely.get_num_coordinates(filled).sum())
            rings.update((id(r), r) for _f, h in got for r in h.rings)
        added += int(shapely.get_num_coordinates(np.array(list(rings.values()),
                                                          dtype=object)).sum())
        return new, added

    def _put(self, built: BuiltCells, new: np.ndarray, added: int) -> None:
        """Cache ``built`` (the caller holds the lock; ``new``, ``added``: :meth:`_new_in`)."""
        self._buf[built.streets[new]] = built.buffers[new]
        for lv, keys, got in built.cells:
            self.levels[lv]["poly"].update(zip(keys.tolist(), got, strict=True))
        self._cached_vertices += added

    def _read_stored(self, lv: int, c: int) -> bool:
        """Cache every cell under the top-level cell of cell ``c`` of level ``lv`` from the store.

        Returns False where there is nothing to read: no store, a top-level cell not in it
        (drawn as its own streets' buffers, :func:`flat_streets`), or read already since the
        caches were last emptied. A full cache is emptied first, as a cell built here would
        empty it; cells that would not fit even an empty cache are left to be built.
        """
        store = self.store
        if store is None:
            return False
        first = self.levels[lv]["members"][self.levels[lv]["ptr"][c]]
        top = int(self.levels[-1]["cell"][first])
        with self._lock:
            if top in self._loaded or not store.has(top):
                return False
            self._loaded.add(top)  # another thread asking meanwhile builds its cell itself
        built, cells = store.read(top)
        with self._lock:
            new, added = self._new_in(built, cells)
            budget = settings.isochrone_cache_vertices
            if self.evicts and self._cached_vertices + added > budget:
                logger.debug("isochrone cache full (%d vertices): emptied for stored cells",
                             self._cached_vertices)
                self._emptied()
                self._loaded.add(top)
                new, added = self._new_in(built, cells)
            if added > budget:
                return False
            self._put(built, new, added)
        return True

    def drop_caches(self) -> None:
        """Empty the caches and leave the store (a city's cells, once no stage needs them).

        The store's folder is removed by the process that made it (:meth:`CellStore.close`).
        """
        with self._lock:
            self._emptied()
            store, self.store = self.store, None
        if store is not None:
            store.close()

    # -- caches ----------------------------------------------------------------------------
    def _note(self, geoms) -> None:
        """Count the vertices of newly cached ``geoms`` (one geometry or an array of them)."""
        counts = shapely.get_num_coordinates(geoms)
        # one geometry (most cells) gives a numpy integer, whose .sum() costs more than the count
        added = int(counts.sum()) if isinstance(geoms, np.ndarray) else int(counts)
        with self._lock:
            self._cached_vertices += added
            if self.evicts and self._cached_vertices > settings.isochrone_cache_vertices:
                logger.debug("isochrone cache full (%d vertices): emptied",
                             self._cached_vertices)
                self._emptied()

    def edge_buffers(self, e: np.ndarray) -> np.ndarray:
        """Return the buffers of whole streets ``e`` (cached)."""
        buf = self._buf
        b = buf[e]
        miss = np.flatnonzero(shapely.is_missing(b))
        if len(miss):
            new = line_buffers(self.geom[e[miss]], self.buffer_m)
            buf[e[miss]] = new
            b[miss] = new
            self._note(new)
        return b

    def _cell_polygon(self, lv: int, c: int):
        """Return the union of the buffers of a cell's streets (its blocks as holes)."""
        filled, holes = self._cell_filled(lv, c)
        return with_holes(filled, holes)

    def _cell_filled(self, lv: int, c: int, *, buffered: bool = False) -> tuple[BaseGeometry,
                                                                               Holes]:
        """Return a cell's union with its blocks filled, and the blocks (cached).

        A block is a hole of the union that no other street's buffer enters: it is a hole of
        every union of reached pieces that holds the cell whole (unless a cut piece's round end
        enters it, :meth:`polygon`). Filled, the cell is little more than its outline, so that
        the union of an isochrone's cells works on outlines; the blocks go back in as holes
        without an overlay (:func:`with_holes`). Built from the filled sub-cells.

        A cell built here buffers all its streets first, in one call (``buffered``: the caller
        did), so that its 25 m cells, most of them one street, find their buffers made: one
        call per street was a third of the time of building every cell of the city centre
        (``benchmarks/CITY_SCALE.md``, "Runs 41–45 and 1M run l").
        """
        level = self.levels[lv]
        got = level["poly"].get(c)
        if got is not None:
            return got
        if self._read_stored(lv, c):
            got = level["poly"].get(c)
            if got is not None:
                return got
        members = level["members"][level["ptr"][c]:level["ptr"][c + 1]]
        if lv == 0:  # 25 m: a hole here is the odd street that loops, left as it is
            parts = self._buf[members]
            if len(parts) > 1 or parts[0] is None:  # most are one street, buffered already
                parts = self.edge_buffers(members)
            got = (parts[0] if len(parts) == 1 else shapely.union_all(parts), _NO_HOLES)
            level["poly"][c] = got
            self._note(got[0])
            return got
        if not buffered:
            self.edge_buffers(members)
        kids = level["children"][level["child_ptr"][c]:level["child_ptr"][c + 1]]
        sub = [self._cell_filled(lv - 1, int(k), buffered=True) for k in kids]
        union = sub[0][0] if len(sub) == 1 else shapely.union_all(
            np.asarray([p for p, _ in sub], dtype=object))
        filled, blocks = self._fill_blocks(union, level["cell"], c)
        got = (filled, _joined_holes([*(h for _, h in sub), blocks]))
        level["poly"][c] = got
        self._note(np.array([filled, *blocks.rings], dtype=object))
        return got

    def _fill_blocks(self, union: BaseGeometry, cell_of: np.ndarray,
                     cell: int) -> tuple[BaseGeometry, Holes]:
        """Fill the holes of ``union`` (of the streets of ``cell``) that are blocks.

        ``cell_of``: every street's cell (at the level of ``cell``). A hole is a block when no
        buffer of a street of another cell enters it (touching its edge is not entering).
        """
        if shapely.get_type_id(union) == POLYGON_TYPE:  # most cells: one polygon, often no hole
            if not shapely.get_num_interior_rings(union):
                return union, _NO_HOLES
            polys = np.array([union], dtype=object)
        else:
            polys = shapely.get_parts(union)
        n_holes = shapely.get_num_interior_rings(polys)
        if not n_holes.any():
            return union, _NO_HOLES
        rings = np.concatenate([shapely.get_interior_ring(p, np.arange(n))
                                for p, n in zip(polys, n_holes, strict=True) if n])
        hole = np.asarray(shapely.polygons(rings), dtype=object)
        at, near = self.edges.tree.query(hole, predicate="dwithin", distance=self.buffer_m)
        other = cell_of[near] != cell
        at, near = at[other], near[other]
        block = np.ones(len(rings), dtype=bool)
        if len(at):
            buf = self.edge_buffers(near)
            entered = shapely.intersects(buf, hole[at]) & ~shapely.touches(buf, hole[at])
            block[at[entered]] = False
        if not block.any():
            return union, _NO_HOLES
        out, k = [], 0
        for poly, n in zip(polys, n_holes, strict=True):
            mine = block[k:k + n]
            out.append(poly if not mine.any() else
                       shapely.Polygon(poly.exterior, list(rings[k:k + n][~mine])))
            k += n
        filled = out[0] if len(out) == 1 else shapely.MultiPolygon(out)
        inside = shapely.get_coordinates(shapely.point_on_surface(hole[block]))
        return filled, Holes(rings[block], inside)

    def whole_pieces(self, whole: np.ndarray, covered: np.ndarray | None = None) -> list:
        """Polygons whose union is the buffer of the whole streets ``whole`` (unique indices).

        A cell all of whose streets are in ``whole`` contributes its cached union (largest cells
        first); the other streets their own buffers. Streets in ``covered`` (a subset of
        ``whole`` already inside a polygon the caller unites with these pieces) are left out,
        and so is a cell holding only such streets.
        """
        cells, rest = self._whole_cells(whole, covered)
        out = [self._cell_polygon(lv, c) for lv, c in cells]
        if len(rest):
            out.extend(self.edge_buffers(rest))
        return out

    def _whole_cells(self, whole: np.ndarray, covered: np.ndarray | None, *,
                     top: int | None = None) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Return the cells (level, cell) of :meth:`whole_pieces` and the streets left over.

        ``top``: only cells under that top-level cell; the streets of the others are left over
        (:meth:`united`).
        """
        out: list[tuple[int, int]] = []
        new = np.ones(len(whole), dtype=bool) if covered is None else ~_members(whole, covered)
        flat = self.flat[whole]
        if top is not None:
            flat |= self.levels[-1]["cell"][whole] != top
        at = np.flatnonzero(~flat)  # where each street of ``rest`` is in ``whole``
        alone = whole[flat & new]  # (flat_streets)
        # along the Z-order curve the streets of every cell, at every level, are one run: one
        # sort here instead of one np.unique a level (4.3 % of the 1M city's isochrone workers,
        # the whole of this 7.4 %; CITY_SCALE.md, "What the measuring took")
        at = at[np.argsort(self.z[whole[at]], kind="stable")]
        rest, new = whole[at], new[at]
        for lv in range(len(self.levels) - 1, -1, -1):
            if len(rest) == 0:
                break
            level = self.levels[lv]
            c = level["cell"][rest]
            start = np.flatnonzero(np.concatenate(([True], c[1:] != c[:-1])))
            cnt = np.diff(np.append(start, len(c)))
            cells = c[start]
            full = cnt == level["count"][cells]
            if not full.any():
                continue
            with_new = np.logical_or.reduceat(new, start)
            # by level, then cell, as the union has always been given them
            out.extend((lv, int(k)) for k in np.sort(cells[full & with_new]))
            keep = ~np.repeat(full, cnt)
            rest, new, at = rest[keep], new[keep], at[keep]
        left = rest[new][np.argsort(at[new], kind="stable")]  # in the order of ``whole``
        return out, np.concatenate([left, alone]) if len(alone) else left

    def segments_of(self, e: np.ndarray) -> np.ndarray:
        """Return the split segments of streets ``e``."""
        lo, hi = self.seg_ptr[e], self.seg_ptr[e + 1]
        if len(e) == 0:
            return np.zeros(0, dtype=np.int64)
        counts = hi - lo
        start = np.repeat(lo - np.r_[0, np.cumsum(counts)[:-1]], counts)
        return self.seg_of_edge[start + np.arange(counts.sum())]

    # -- one origin ---------------------------------------------------------------------------
    def segments_reached(self, nodes: np.ndarray, dist: np.ndarray,
                         work: np.ndarray) -> Reached | None:
        """Street segments touching the reached nodes, with the distance of both their ends."""
        g = self.g
        if len(nodes) == 0:
            return None
        work[nodes] = dist
        segs = _sorted_unique(self.inc[nodes].indices, len(g.seg_a))
        segs = segs[self.street[segs]]
        da, db = work[g.seg_a[segs]], work[g.seg_b[segs]]
        work[nodes] = np.inf
        return segs, da, db

    def parts(self, reached: Reached | None,
              T: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Whole streets and the cut pieces (edge, from, to metres) within ``T`` metres."""
        g = self.g
        empty = np.zeros(0, dtype=np.int64)
        if reached is None:
            return empty, empty, np.zeros(0), np.zeros(0)
        segs, da, db = reached
        L = g.seg_len[segs]
        e, t0, t1 = g.seg_edge[segs], g.seg_t0[segs], g.seg_t1[segs]
        whole = reached_whole(da, db, L, T)
        from_a = ~whole & (da < T)
        from_b = ~whole & (db < T)
        cat = np.concatenate  # not np.r_: its indexing was 13 % of uncovered_areas (cProfile)
        iv_e = cat((e[whole], e[from_a], e[from_b]))
        if len(iv_e) == 0:
            return empty, empty, np.zeros(0), np.zeros(0)
        iv_s = cat((t0[whole], t0[from_a], t1[from_b] - np.minimum(L[from_b], T - db[from_b])))
        iv_f = cat((t1[whole], t0[from_a] + np.minimum(L[from_a], T - da[from_a]), t1[from_b]))
        # merge the intervals of each street: a street reached end to end becomes whole
        order = np.lexsort((iv_s, iv_e))
        iv_e, iv_s, iv_f = iv_e[order], iv_s[order], iv_f[order]
        new_edge = cat(([True], iv_e[1:] != iv_e[:-1]))
        group = np.cumsum(new_edge) - 1
        shift = group * self._street_gap  # running max of ends within a street
        run_f = np.maximum.accumulate(iv_f + shift) - shift
        starts = new_edge.copy()
        starts[1:] |= iv_s[1:] > run_f[:-1] + 1e-6
        run = np.cumsum(starts) - 1
        m_e, m_s = iv_e[starts], iv_s[starts]
        m_f = np.full(len(m_e), -np.inf)
        np.maximum.at(m_f, run, iv_f)
        keep = m_f - m_s > 1e-9
        m_e, m_s, m_f = m_e[keep], m_s[keep], m_f[keep]
        is_whole = (m_s <= 1e-6) & (m_f >= self.length[m_e] - 1e-6)
        m_f = np.minimum(m_f, self.length[m_e])
        return m_e[is_whole], m_e[~is_whole], np.maximum(m_s[~is_whole], 0.0), m_f[~is_whole]

    def polygon(self, reached: Reached | None, T: float,
                inner: Drawn | None = None) -> Drawn:
        """Return the isochrone polygon within ``T`` metres of one search, as a :class:`Drawn`.

        ``inner`` is what this returned for a smaller threshold of the same search: the result
        is built as that polygon united with what is new at ``T`` only, so it always contains
        it (5 ⊆ 10 ⊆ 15). Uniting the smaller polygon is what keeps the nesting: a round end of
        a piece cut at 5 minutes can stick out of the buffer of the longer piece at 10 minutes
        by some decimetres where the street bends (the chords of a buffer's round join lie
        inside the circle; 0.53 m Hausdorff distance at most on 30 city-centre origins; tested
        on a bend in ``tests/test_isochrones.py``).

        The union works on outlines: the cells come with their blocks filled
        (:meth:`_cell_filled`), and so does the smaller polygon; the blocks go back in as holes
        at the end, less what a cut piece's round end takes of them. Same polygon as uniting
        the cells as they are; 70.2 → 53.7 CPU ms per city-centre origin of three polygons
        (``benchmarks/README.md``, "Blocks filled").
        """
        whole, pe, ps, pf = self.parts(reached, T)
        return self.united(whole, self.cut_buffers(pe, ps, pf), inner)

    def cut_buffers(self, pe: np.ndarray, ps: np.ndarray, pf: np.ndarray) -> np.ndarray:
        """Return the buffers of the cut pieces of :meth:`parts` (street, from, to metres)."""
        if len(pe) == 0:
            return NO_POLYGONS
        return line_buffers(substrings(self.geom[pe], ps, pf), self.buffer_m)

    def united(self, whole: np.ndarray, cut: np.ndarray, inner: Drawn | None = None, *,
               top: int | None = None) -> Drawn:
        """Return the union of the buffers of the whole streets ``whole`` and the polygons ``cut``.

        ``cut``: the buffers of the cut pieces; ``inner``: see :meth:`polygon`. The polygons
        of :meth:`polygon` and of the coverage of a facility category
        (:mod:`livingcircle.coverage`). ``top``: cells are taken only under that top-level
        cell, the other whole streets as their own buffers (a coverage tile is a top-level
        cell: the streets near its edge in the next one are not worth reading that one's
        stored cells for).
        """
        pieces, holes, covered, left, n_old = [], [], None, _NO_HOLES, 0
        cuts = inner.cuts if inner is not None else NO_POLYGONS
        if inner is not None and not inner.filled.is_empty:
            pieces.append(inner.filled)
            holes.append(inner.holes)  # first: its blocks keep their rows (_joined_holes)
            covered, left, n_old = inner.whole, inner.left, len(inner.holes.rings)
        if len(whole):
            cells, rest = self._whole_cells(whole, covered, top=top)
            for lv, c in cells:
                filled, blocks = self._cell_filled(lv, c)
                pieces.append(filled)
                holes.append(blocks)
            if len(rest):
                pieces.extend(self.edge_buffers(rest))
        if len(cut):
            pieces.extend(cut)
            cuts = np.concatenate([cuts, cut])
        if not pieces:
            return Drawn(shapely.Polygon(), whole, shapely.Polygon(), _NO_HOLES, cuts, _NO_HOLES)
        filled = union_of(pieces)
        blocks = _joined_holes(holes)  # kept whole for the next threshold: its cuts add up
        # the smaller polygon's blocks have had its cuts' round ends taken already: only the
        # new cuts take more of them (B - C1 - C2 is B - (C1 | C2)); new blocks meet every cut
        new = Holes(blocks.rings[n_old:], blocks.inside[n_old:]) if n_old else blocks
        left = _concat_holes(_less_round_ends(left, cut), _less_round_ends(new, cuts))
        return Drawn(with_holes(filled, left), whole, filled, blocks, cuts, left)


class BuiltCells(NamedTuple):
    """Cells and street buffers one maker built, for another to cache (``adopt``).

    Pickled in one piece, so that a block ring shared by a cell and the cells above it, or a
    one-street cell and its street's buffer, stay one object; shapely pickles geometries as
    WKB, every coordinate bit for bit. (Whole arrays of WKB instead took as much CPU in the
    city centre's workers: 17.8 against 17.1 s, and 1.0 against 0.16 s to adopt.)
    """

    cells: list  # per level: (level, cell numbers, [(filled polygon, Holes)])
    streets: np.ndarray  # the streets whose buffers were built
    buffers: np.ndarray  # their buffers


class CellStore:
    """Every cell of a network too large to cache, on disk: one file per top-level cell.

    Each file holds the :class:`BuiltCells` of one top-level cell (every cell under it and
    the street buffers built on the way), as :func:`prepare_cells`' workers built it, packed
    in a few arrays (:func:`_packed`). A maker with a store reads a top-level cell's file when
    it first needs one of its cells (:meth:`IsochroneMaker._read_stored`); the worker
    processes forked afterwards share the store.

    The folder is removed by :meth:`close`, or when the store is collected, only by the process
    that made it: a forked worker or child that drops its caches leaves it to the run.
    """

    def __init__(self, folder: Path, n_top: int):
        self.folder = Path(folder)
        self._stored = np.zeros(n_top, dtype=bool)
        self._finalizer = weakref.finalize(self, _remove_folder, str(self.folder), os.getpid())

    @classmethod
    def new(cls, n_top: int) -> CellStore:
        """Return an empty store in a new folder under :data:`~livingcircle.settings.spill_dir`."""
        folder = tempfile.mkdtemp(prefix="livingcircle-cells-", dir=settings.spill_dir)
        return cls(Path(folder), n_top)

    def path(self, top: int) -> Path:
        """Return the file of top-level cell ``top``."""
        return self.folder / f"{int(top)}.pkl"

    def write(self, top: int, built: BuiltCells) -> int:
        """Write the cells of top-level cell ``top`` (whole, then renamed); return the bytes."""
        part = self.folder / f".{int(top)}.{os.getpid()}.part"
        try:
            with open(part, "wb") as f:
                pickle.dump(_packed(built), f, protocol=pickle.HIGHEST_PROTOCOL)
        except OSError as err:
            part.unlink(missing_ok=True)
            if err.errno != errno.ENOSPC:
                raise
            msg = (f"no space left in {self.folder} for the isochrone cells of this network "
                   "(1.6 GB for a city of a million nodes): free space there, or point TMPDIR (or "
                   "livingcircle.settings.spill_dir) to a folder on a disk with room")
            raise LivingCircleError(msg) from None
        os.replace(part, self.path(top))
        return self.path(top).stat().st_size

    def build(self, maker: IsochroneMaker, tops: Iterable[int]) -> int:
        """Build and write the cells under each of ``tops``, one at a time; return the bytes.

        Each from empty caches on ``maker``'s index (:meth:`IsochroneMaker.with_empty_caches`),
        written whole and dropped before the next.
        """
        written = 0
        for top in tops:
            one = maker.with_empty_caches()
            one.evicts = False
            written += self.write(int(top), one.built_under([int(top)]))
        return written

    def mark(self, tops: Iterable[int]) -> None:
        """Count the files of ``tops`` as stored (in the process that reads them)."""
        self._stored[np.asarray(list(tops), dtype=np.int64)] = True

    def has(self, top: int) -> bool:
        """Return whether top-level cell ``top`` has a file."""
        return bool(self._stored[top])

    def read(self, top: int) -> tuple[BuiltCells, int]:
        """Return the cells of top-level cell ``top``, as built, and their cells' vertices.

        The vertices of the filled cells and of their block rings, each ring once (as
        :meth:`IsochroneMaker.adopt` counts them; the street buffers are counted by the maker,
        which may have some of them already).
        """
        with open(self.path(top), "rb") as f:
            return _unpacked(pickle.load(f))

    def close(self) -> None:
        """Remove the folder, if this process made it."""
        self._finalizer()


def _packed(built: BuiltCells) -> tuple:
    """``built`` as a few arrays: every geometry once, as WKB in one call (:func:`_unpacked`).

    Pickling the geometries one by one made reading a top-level cell back cost a fifth of
    building it (1M-node city, 12 coverage tiles: 2.0 of 9.2 CPU s, one ``from_wkb`` per
    geometry). A ring shared by several cells' blocks is kept once, by index; the rings go as
    coordinates (WKB has no linear ring).
    """
    polys: dict[int, int] = {}  # id of a filled cell or buffer -> its index
    rings: dict[int, int] = {}
    poly_list: list = []
    ring_list: list = []

    def index(of: dict, items: list, g) -> int:
        k = of.get(id(g))
        if k is None:
            k = of[id(g)] = len(items)
            items.append(g)
        return k

    levels = []
    for lv, keys, got in built.cells:
        filled = np.array([index(polys, poly_list, f) for f, _h in got], dtype=np.int64)
        n_holes = np.array([len(h.rings) for _f, h in got], dtype=np.int64)
        ring_ix = np.array([index(rings, ring_list, r) for _f, h in got for r in h.rings],
                           dtype=np.int64)
        inside = (np.concatenate([h.inside for _f, h in got if len(h.rings)])
                  if n_holes.any() else np.zeros((0, 2)))
        levels.append((lv, keys, filled, n_holes, ring_ix, inside))
    buffers = np.array([index(polys, poly_list, b) for b in built.buffers], dtype=np.int64)
    geoms = np.empty(len(poly_list), dtype=object)
    geoms[:] = poly_list
    ring_geoms = np.empty(len(ring_list), dtype=object)
    ring_geoms[:] = ring_list
    ring_coords, ring_of = shapely.get_coordinates(ring_geoms, return_index=True)
    return (levels, built.streets, buffers, shapely.to_wkb(geoms), ring_coords, ring_of,
            len(ring_list))


def _unpacked(packed: tuple) -> tuple[BuiltCells, int]:
    """Return the :class:`BuiltCells` of :func:`_packed` and its cells' vertices (rings once)."""
    levels, streets, buffers, wkb, ring_coords, ring_of, n_rings = packed
    geoms = shapely.from_wkb(wkb)
    rings = shapely.linearrings(ring_coords, indices=ring_of) if n_rings else NO_POLYGONS
    vertices = len(ring_coords)
    cells = []
    for lv, keys, filled, n_holes, ring_ix, inside in levels:
        got_filled = geoms[filled]
        vertices += int(shapely.get_num_coordinates(got_filled).sum())
        ends = np.cumsum(n_holes)
        got = []
        for f, n, end in zip(got_filled.tolist(), n_holes.tolist(), ends.tolist(), strict=True):
            if n:
                got.append((f, Holes(rings[ring_ix[end - n:end]], inside[end - n:end])))
            else:
                got.append((f, _NO_HOLES))
        cells.append((lv, keys, got))
    return BuiltCells(cells, streets, geoms[buffers]), vertices


def _remove_folder(folder: str, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Holes:
    """Blocks: hole rings (LinearRings) and a point inside each, to find the part it is in."""

    rings: np.ndarray
    inside: np.ndarray  # (n, 2)


#: Vertices of a block closer than this (m) are one: where a round end's edge passes next to a
#: vertex of the block, the difference of the two leaves vertices nanometres apart (3 within
#: 1e-9 m in one of the city centre's 4,800 polygons), valid here but folded into a
#: self-intersection once the polygon is taken to WGS84.
_SAME_POINT_M = 1e-6
_NO_HOLES = Holes(NO_POLYGONS, np.zeros((0, 2)))


class Drawn(NamedTuple):
    """An isochrone polygon and what the next threshold of the same search builds on."""

    polygon: BaseGeometry
    whole: np.ndarray  # the streets reached whole
    filled: BaseGeometry  # the polygon with its blocks filled
    holes: Holes  # those blocks, before the round ends of the cut pieces took their part
    cuts: np.ndarray  # the buffers of the pieces cut at this and the smaller thresholds
    left: Holes  # the blocks less what those cuts' round ends take: the polygon's holes


def _concat_holes(a: Holes, b: Holes) -> Holes:
    """Return the blocks of ``a`` and of ``b`` (apart from each other), in that order."""
    if not len(a.rings):
        return b
    if not len(b.rings):
        return a
    return Holes(np.concatenate([a.rings, b.rings]), np.concatenate([a.inside, b.inside]))


def _joined_holes(parts: list[Holes]) -> Holes:
    """All blocks of ``parts``, each once (a block of a cell is often the smaller polygon's)."""
    parts = [h for h in parts if len(h.rings)]
    if not parts:
        return _NO_HOLES
    if len(parts) == 1:
        return parts[0]
    rings = np.concatenate([h.rings for h in parts])
    inside = np.concatenate([h.inside for h in parts])
    # the same block always has the same inside point (the same ring, the same computation);
    # x + iy as one complex key: a tenth of the time of np.unique(inside, axis=0)
    _u, first = np.unique(np.ascontiguousarray(inside).view(np.complex128).ravel(),
                          return_index=True)
    if len(first) < len(rings):
        first.sort()
        rings, inside = rings[first], inside[first]
    return Holes(rings, inside)


def _less_round_ends(blocks: Holes, cuts: np.ndarray) -> Holes:
    """Return the blocks less what the round ends of the cut pieces take of them.

    A block is a hole of the union of every street's buffer; the buffer of a piece cut from a
    bent street is not inside its street's buffer, and its round end may enter a block by some
    decimetres (:meth:`IsochroneMaker.polygon`). That part stays in the isochrone.
    """
    if not len(cuts) or not len(blocks.rings):
        return blocks
    hole = np.asarray(shapely.polygons(blocks.rings), dtype=object)
    hi, ci = shapely.STRtree(cuts).query(hole, predicate="intersects")
    entered = ~shapely.touches(cuts[ci], hole[hi])
    if not entered.any():
        return blocks
    hi, ci = hi[entered], ci[entered]
    keep = np.ones(len(hole), dtype=bool)
    keep[hi] = False
    # a block entered by one round end (most): one vectorised difference; by more: their union
    entered_h, first, count = np.unique(hi, return_index=True, return_counts=True)
    one = count == 1
    left = np.empty(len(entered_h), dtype=object)
    left[one] = shapely.difference(hole[entered_h[one]], cuts[ci[first[one]]])
    for k in np.flatnonzero(~one):
        h = entered_h[k]
        left[k] = shapely.difference(hole[h], shapely.union_all(cuts[ci[hi == h]]))
    parts = shapely.get_parts(shapely.remove_repeated_points(left, _SAME_POINT_M))
    # what a round end leaves of a block touches its edge: no holes of its own
    parts = parts[(shapely.get_type_id(parts) == POLYGON_TYPE) & ~shapely.is_empty(parts)]
    if not len(parts):
        return Holes(blocks.rings[keep], blocks.inside[keep])
    return Holes(np.concatenate([blocks.rings[keep],
                                 np.asarray(shapely.get_exterior_ring(parts), dtype=object)]),
                 np.concatenate([blocks.inside[keep],
                                 shapely.get_coordinates(shapely.point_on_surface(parts))]))


def with_holes(filled: BaseGeometry, holes: Holes) -> BaseGeometry:
    """Return ``filled`` with the blocks ``holes`` (inside it, apart) as holes, no overlay."""
    if not len(holes.rings) or filled.is_empty:
        return filled
    parts = shapely.get_parts(filled)
    owner = np.zeros(len(holes.rings), dtype=np.int64)
    if len(parts) > 1:
        at, part = shapely.STRtree(parts).query(shapely.points(holes.inside),
                                                predicate="within")
        owner[:] = -1
        owner[at] = part
    out = []
    for k, poly in enumerate(parts):
        mine = holes.rings[owner == k]
        if len(mine):  # its rings in one call, not one Python object per ring (.interiors)
            rings = shapely.get_rings(poly)
            poly = shapely.polygons(rings[0], holes=np.concatenate([rings[1:], mine]))
        out.append(poly)
    got = out[0] if len(out) == 1 else shapely.MultiPolygon(out)
    lost = owner < 0  # not seen inside one part (never so far): cut out by an overlay
    if lost.any():
        got = shapely.difference(got, shapely.union_all(shapely.polygons(holes.rings[lost])))
    return got


def buffer_width(buffer_m: float | None) -> float:
    """Return the street buffer half-width in metres (given or the setting); it must be positive.

    Parameters
    ----------
    buffer_m
        Metres, or None for :data:`livingcircle.settings.isochrone_buffer_m`.

    Returns
    -------
    float
        The half-width; a value that is not a positive number raises ``ValueError``.
    """
    b = float(buffer_m if buffer_m is not None else settings.isochrone_buffer_m)
    if not b > 0:
        msg = (f"buffer_m must be a positive number of metres (half the width drawn around a "
               f"street), got {buffer_m!r}")
        raise ValueError(msg)
    return b


def wanted_categories(acc: Access, categories: Iterable[str] | None) -> list[str]:
    """Return the category ids asked for, checked against the profile of ``acc``.

    Parameters
    ----------
    acc
        The :class:`~livingcircle.accessibility.Access` whose profile names the categories.
    categories
        One id, a list of ids, or None for every walk-judged (POI) category.

    Returns
    -------
    list of str
        The ids; an empty list raises ``ValueError``, an unknown id the profile's error.
    """
    if categories is None:
        return [c.id for c in acc.profile.poi_categories()]
    wanted = [categories] if isinstance(categories, str) else [str(c) for c in categories]
    if not wanted:
        msg = "categories is empty: give category ids, or None for every walk-judged category"
        raise ValueError(msg)
    for cid in wanted:
        acc.profile.category(cid)  # an unknown id raises, listing the valid ones
    return wanted


def maker_for(acc: Access, buffer_m: float) -> IsochroneMaker:
    """Return the :class:`IsochroneMaker` of ``acc`` for this buffer width (kept on it for reuse).

    Parameters
    ----------
    acc
        The :class:`~livingcircle.accessibility.Access` (its split graph and edge table).
    buffer_m
        Buffer half-width in metres (see :func:`buffer_width`).

    Returns
    -------
    IsochroneMaker
        The same object for every call with the same ``acc`` and ``buffer_m``.
    """
    cache = acc.__dict__.setdefault("_isochrone_makers", {})
    maker = cache.get(buffer_m)
    if maker is None:
        maker = cache[buffer_m] = IsochroneMaker(acc.graph, acc.edge_table, buffer_m,
                                                 levels=_LEVELS)
    return maker


def spatial_order(points: np.ndarray) -> np.ndarray:
    """Return the order of points along a Z-order (Morton) curve: neighbours come together.

    Parameters
    ----------
    points
        Shapely geometries (their coordinates are used).

    Returns
    -------
    numpy.ndarray
        Indices into ``points``.
    """
    if len(points) == 0:
        return np.zeros(0, dtype=np.int64)
    xy = shapely.get_coordinates(points)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    q = ((xy - lo) / np.maximum(hi - lo, 1e-9) * 65535).astype(np.uint64)
    return np.argsort(_interleaved(q[:, 0], q[:, 1]), kind="stable")


def iter_isochrones(
    source: Access | WalkNetwork,
    communities: gpd.GeoDataFrame | None = None,
    *,
    gates: gpd.GeoDataFrame | None = None,
    minutes: Iterable[float] | None = None,
    speed_profiles: SpeedProfiles = None,
    buffer_m: float | None = None,
    community_ids: Iterable[str] | None = None,
    chunk_size: int = 500,
    threads: int | None = None,
    workers: int | None = None,
    scheduler=None,
) -> Iterator[gpd.GeoDataFrame]:
    """Isochrones chunk by chunk, so that a city's polygons need not be held at once.

    Takes the arguments of :func:`isochrones`; ``chunk_size`` communities at a time, grouped in
    space (a Z-order curve) so that neighbours share cached cells; within a chunk the rows follow
    the communities' order. A local pool of ``n`` worker processes draws ``n`` parts of the
    city side by side, one per worker, so that each of its chunks holds a slice of every part
    (:func:`_streams`). ``threads``: default :data:`livingcircle.settings.threads`.
    ``workers`` (default :data:`livingcircle.settings.workers`) and ``scheduler`` (default
    :data:`livingcircle.settings.scheduler`): see :func:`isochrones`.

    Yields
    ------
    GeoDataFrame
        The columns of :func:`isochrones`, EPSG:4326.
    """
    if isinstance(source, WalkNetwork):
        if communities is None:
            msg = "give the communities whose isochrones to draw"
            raise ValueError(msg)
        empty = gpd.GeoDataFrame({"facility_id": [], "categories": []},
                                 geometry=gpd.GeoSeries([], crs=4326), crs=4326)
        source = measure_access(source, communities, empty, gates=gates,
                                speed_profiles=speed_profiles)
    acc = source
    speeds = _speeds(acc, speed_profiles)
    buffer_m = buffer_width(buffer_m)
    minutes = _checked_minutes(minutes)
    if chunk_size < 1:
        msg = f"chunk_size must be at least 1, got {chunk_size}"
        raise ValueError(msg)
    maker = maker_for(acc, buffer_m)
    comm = acc.communities.to_crs(acc.crs)
    ids = comm["community_id"].astype(str).to_numpy()
    centroids = comm.geometry.centroid.to_numpy()
    picked = np.arange(len(ids))
    if community_ids is not None:
        wanted = set(map(str, community_ids))
        picked = np.flatnonzero(np.isin(ids, list(wanted)))
    picked = picked[spatial_order(centroids[picked])]
    radius = walk_m(acc, minutes, speed_profiles)
    to_wgs84 = Transformer.from_crs(acc.crs, 4326, always_xy=True)
    chunks = [picked[lo:lo + chunk_size] for lo in range(0, len(picked), chunk_size)]
    scheduler = scheduler if scheduler is not None else settings.scheduler
    n_workers = worker_count(workers)
    if scheduler is None and (n_workers == 1
                              or len(picked) < settings.process_pool_min_communities):
        drawn = _drawn_in_threads(acc, maker, chunks, speeds, minutes, radius, threads)
    else:
        state = _IsoState(acc.graph, acc.edge_table, buffer_m, speeds, minutes, radius,
                          token=uuid.uuid4().hex)
        if scheduler is None:  # a local pool: each worker its own part of the city
            prepare_cells(acc, buffer_m=buffer_m, reach_m=radius, origins=len(picked),
                          workers=n_workers)
            streams = _streams(picked, chunk_size, n_workers)
            chunks = [np.concatenate(r) for r in streams]
            drawn = _drawn_in_streams(acc, state, streams, n_workers, maker)
        else:
            drawn = _drawn_on_cluster(acc, state, chunks, scheduler)
    for in_space, by_i in zip(chunks, drawn, strict=True):
        # drawn in spatial order (neighbours share cached cells), given in the communities' order
        yield _chunk_frame(np.sort(in_space), by_i, ids, centroids, speeds, minutes, to_wgs84)


def _speeds(acc: Access, speed_profiles: SpeedProfiles) -> dict[str, float]:
    """Return the speeds (m/min) to draw: the profiles given, or those of ``acc``."""
    return (speed_table(speed_profiles, acc.profile) if speed_profiles is not None
            else acc.speeds)


def walk_m(acc: Access, minutes: Iterable[float] | None = None,
           speed_profiles: SpeedProfiles = None) -> float:
    """Return the longest walk to draw (metres): the most minutes at the fastest speed."""
    return max(_checked_minutes(minutes)) * max(_speeds(acc, speed_profiles).values())


def drop_cells(acc: Access) -> None:
    """Empty the caches of every isochrone maker kept on ``acc`` (:func:`maker_for`)."""
    for maker in acc.__dict__.get("_isochrone_makers", {}).values():
        maker.drop_caches()


def _draw(maker: IsochroneMaker, speeds: dict[str, float], minutes: list[float],
          nodes: np.ndarray, dist: np.ndarray, work: np.ndarray) -> dict:
    """Every (speed profile, minutes) polygon of one origin's search (projected)."""
    reached = maker.segments_reached(nodes, dist, work)
    out = {}
    for sp_name, speed in speeds.items():
        inner = None
        for m in minutes:
            inner = maker.polygon(reached, m * speed, inner)
            out[sp_name, m] = inner.polygon
    return out


def _drawn_in_threads(acc: Access, maker: IsochroneMaker, chunks: list[np.ndarray],
                      speeds: dict[str, float], minutes: list[float], radius: float,
                      threads: int | None) -> Iterator[dict]:
    """Each chunk's polygons by community row, drawn in this process's threads."""
    work = threading.local()

    def one(_k, nodes, dist):
        if not hasattr(work, "d"):
            work.d = np.full(acc.graph.n_nodes, np.inf)
        return _draw(maker, speeds, minutes, nodes, dist, work.d)

    for in_space in chunks:
        with_access = [i for i in in_space if len(acc.community_nodes[i])]
        polys = map_bounded(acc.graph, [acc.community_nodes[i] for i in with_access], radius,
                            one, threads=threads, chunk=4)
        yield dict(zip(with_access, polys, strict=True))


@dataclass
class _IsoState:
    """What a worker process needs to draw isochrones (sent once; its maker built there)."""

    graph: SplitGraph
    edges: EdgeTable
    buffer_m: float
    speeds: dict[str, float]
    minutes: list[float]
    radius: float
    token: str  # names this state in a worker's cache of makers


#: A worker process's maker, search and work array, for the state of the given token.
_WORKER: dict[str, tuple] = {}
#: The run's own maker for the state of a token while a stage's local pool works (see
#: :func:`forked_maker`): the pool's workers are forked from the run and find it here.
_FORKED: dict[str, IsochroneMaker] = {}


@contextmanager
def forked_maker(token: str, maker: IsochroneMaker) -> Iterator[None]:
    """Offer ``maker`` to the worker processes forked while this block runs (state ``token``).

    Their :func:`worker_maker` then takes a copy of it, its caches included, instead of
    building the index again (a Dask worker, not forked from this process, still builds its
    own).
    """
    _FORKED[token] = maker
    try:
        yield
    finally:
        _FORKED.pop(token, None)


def worker_maker(graph: SplitGraph, edges: EdgeTable, buffer_m: float,
                 token: str) -> tuple[IsochroneMaker, BoundedSearch, np.ndarray]:
    """Return a worker process's maker, search and work array for the state named ``token``.

    Built on the first task of a stage in this process and kept for its other tasks, so that
    the maker's caches serve them all; a new token (the next stage or run) drops the last one.

    Parameters
    ----------
    graph, edges
        The split graph and edge table of the :class:`~livingcircle.accessibility.Access`.
    buffer_m
        Buffer half-width in metres.
    token
        Names the state the worker was given (a new one for every stage).

    Returns
    -------
    tuple
        ``(IsochroneMaker, BoundedSearch, distances work array filled with inf)``.
    """
    kept = _WORKER.get(token)
    if kept is None:
        _WORKER.clear()
        maker = _inherited_maker(token, graph, edges, buffer_m, caches=True)
        kept = _WORKER[token] = (maker, BoundedSearch(graph), np.full(graph.n_nodes, np.inf))
    return kept


def _inherited_maker(token: str, graph: SplitGraph, edges: EdgeTable, buffer_m: float, *,
                     caches: bool) -> IsochroneMaker:
    """Return a worker's maker: the run's inherited one, or a new one.

    The run's, inherited by fork, when it is offered under ``token`` (:func:`forked_maker`),
    with its caches when ``caches``, else with empty ones.
    """
    parent = _FORKED.get(token)
    if parent is None:  # not forked from the run (a Dask worker): the index built here
        return IsochroneMaker(graph, edges, buffer_m, levels=_LEVELS)
    return parent.forked_copy() if caches else parent.with_empty_caches()


def prepare_cells(acc: Access, *, buffer_m: float | None = None, reach_m: float | None = None,
                  origins: int | None = None, workers: int | None = None,
                  scheduler=None, store: bool = False) -> bool:
    """Build every cell of the run's isochrone maker on a local pool, once, for every stage.

    The isochrones' worker processes, the coverage's and the uncovered areas all unite the
    same cells. Each built them again from empty caches (coverage of the city centre: 29.7 CPU
    s from empty caches, 17.1 s with every cell cached, 12.7 s to build them all;
    ``benchmarks/README.md``). Here the pool's workers build the top-level cells side by side
    and send them back; the run's maker caches them, and the workers forked afterwards
    (:func:`forked_maker`) find them there, shared with the run's process.

    Where every cell is predicted not to fit
    :data:`livingcircle.settings.isochrone_cache_vertices`
    (:meth:`IsochroneMaker.predicted_tree_vertices`; the 1M-node city's do not) and ``store``
    is asked for (a run whose coverage unites them after the isochrones), the workers write
    them to disk instead, one file per top-level cell (:class:`CellStore`), and the workers
    forked afterwards read a top-level cell's file when they first need one of its cells,
    within their caches' budget. Reading costs about what having them cached does (1M city,
    coverage tiles: 0.543 CPU s per tile read, 0.563 s cached, 0.970 s built as needed;
    ``benchmarks/bench_coverage_tiles.py``); without a store the isochrones' and the
    coverage's workers each built the cells they needed.

    Only where it pays: a local pool of more than one worker (a Dask worker builds its own;
    fewer ``origins`` than :data:`livingcircle.settings.process_pool_min_communities` are
    drawn in threads), a network with cells to build (:func:`flat_streets`), and, for
    isochrones, ``origins`` whose walks of ``reach_m`` metres cover the network's extent at
    least twice over (a few communities of a large network would not use most cells).

    Returns
    -------
    bool
        Whether the cells were built now (False: not worth it, or built already).
    """
    maker = maker_for(acc, buffer_width(buffer_m))
    scheduler = scheduler if scheduler is not None else settings.scheduler
    n = worker_count(workers)
    if (maker.complete or maker.store is not None or scheduler is not None or n < 2
            or len(maker.geom) == 0):
        return False
    to_disk = maker.predicted_tree_vertices() > settings.isochrone_cache_vertices
    if to_disk and not store:
        return False
    if origins is not None and origins < settings.process_pool_min_communities:
        return False  # drawn in this process's threads, which share one maker's caches
    if origins is not None and reach_m is not None:
        x0, y0, x1, y1 = shapely.total_bounds(maker.geom)
        walked = origins * np.pi * reach_m ** 2 / 2  # a walk's area is about half its circle
        if walked < 2 * max((x1 - x0) * (y1 - y0), 1.0):
            return False
    tops = maker.top_cells()
    if len(tops) == 0:  # every street drawn as its own buffer (flat_streets): no cell to build
        return False
    if to_disk:
        _stored_cells(acc, maker, tops, n)
        return True
    state = _CellsState(acc.graph, acc.edge_table, maker.buffer_m, uuid.uuid4().hex)
    with forked_maker(state.token, maker), Workers(state, workers=n) as pool:
        # one top-level cell per task, the largest first: the workers finish together
        futures = pool.submit(_cells_task, [[int(c)] for c in tops])
        adopted = [maker.adopt(f.result()) for f in futures]
    maker.complete = all(adopted)
    logger.debug("isochrone cells: %d top-level cells built by %d workers, %d vertices cached",
                 len(tops), n, maker._cached_vertices)
    return True


def _stored_cells(acc: Access, maker: IsochroneMaker, tops: np.ndarray, n: int) -> None:
    """Build the cells under ``tops`` on ``n`` workers into a new store of ``maker``."""
    cells_store = CellStore.new(len(maker.levels[-1]["count"]))
    state = _StoredCellsState(acc.graph, acc.edge_table, maker.buffer_m, uuid.uuid4().hex,
                              cells_store)
    try:
        with forked_maker(state.token, maker), Workers(state, workers=n) as pool:
            futures = pool.submit(_stored_cells_task, [[int(c)] for c in tops])
            written = sum(f.result() for f in futures)
    except BaseException:
        cells_store.close()
        raise
    cells_store.mark(tops)
    maker.store = cells_store
    logger.debug("isochrone cells: %d top-level cells built by %d workers, %.1f MB kept in %s",
                 len(tops), n, written / 1e6, cells_store.folder)


@dataclass
class _CellsState:
    """What a worker process needs to build cells (:func:`prepare_cells`)."""

    graph: SplitGraph
    edges: EdgeTable
    buffer_m: float
    token: str


@dataclass
class _StoredCellsState(_CellsState):
    """What a worker process needs to build cells into a store (:func:`_stored_cells`)."""

    store: CellStore


def _cells_task(state: _CellsState, tops: list[int]) -> BuiltCells:
    """Build the cells under the top-level cells ``tops`` and return them (a worker process)."""
    maker = _inherited_maker(state.token, state.graph, state.edges, state.buffer_m,
                             caches=False)
    maker.evicts = False  # the run predicted that every cell fits its budget; sent back now
    return maker.built_under(tops)


def _stored_cells_task(state: _StoredCellsState, tops: list[int]) -> int:
    """Build the cells under each of ``tops`` into the store (a worker process); the bytes."""
    maker = _inherited_maker(state.token, state.graph, state.edges, state.buffer_m,
                             caches=False)
    return state.store.build(maker, tops)


def _iso_task(state: _IsoState, task: list[tuple[int, np.ndarray]]) -> list[tuple[int, dict]]:
    """Draw the isochrones of one task's communities (row, start nodes) in a worker process."""
    maker, search, work = worker_maker(state.graph, state.edges, state.buffer_m, state.token)
    out = []
    for i, starts in task:
        nodes, dist = search(starts, np.zeros(len(starts)), state.radius)
        out.append((i, _draw(maker, state.speeds, state.minutes, nodes, dist, work)))
    return out


def _drawn_on_cluster(acc: Access, state: _IsoState, chunks: list[np.ndarray],
                      scheduler) -> Iterator[dict]:
    """Each chunk's polygons by community row, drawn on a Dask cluster's workers.

    A chunk is cut into tasks of :data:`ISOCHRONE_TASK` neighbouring communities (neighbours
    share a worker's cached cells); the next chunk's tasks are handed out before this one's
    polygons are given back, so the workers are not idle while the caller writes them. (A
    local pool: :func:`_drawn_in_streams`.)
    """
    with Workers(state, scheduler=scheduler) as pool:
        pending = pool.submit(_iso_task, _iso_tasks(acc, chunks[0])) if chunks else []
        for k in range(len(chunks)):
            now = pending
            pending = (pool.submit(_iso_task, _iso_tasks(acc, chunks[k + 1]))
                       if k + 1 < len(chunks) else [])
            yield {i: polys for f in now for i, polys in f.result()}


def _streams(picked: np.ndarray, chunk_size: int, n: int) -> list[list[np.ndarray]]:
    """Cut communities in spatial order into ``n`` streams, given in rounds of a chunk each.

    Stream ``s`` is the ``s``-th of ``n`` equal, contiguous parts of ``picked`` (a Z-order: a
    part of the city); round ``k`` holds the ``k``-th slice of every stream, ``chunk_size``
    communities in all. ``rounds[k][s]`` are the rows of stream ``s`` in round ``k``.
    """
    parts = np.array_split(picked, n)
    per = max(1, -(-chunk_size // n))  # each stream's share of a chunk, rounded up
    n_rounds = -(-max(len(p) for p in parts) // per)
    return [[p[k * per:(k + 1) * per] for p in parts] for k in range(n_rounds)]


def _iso_tasks(acc: Access, rows: np.ndarray) -> list[list[tuple[int, np.ndarray]]]:
    """Tasks of :data:`ISOCHRONE_TASK` communities (row, start nodes); none without access."""
    with_access = [(int(i), acc.community_nodes[i]) for i in rows
                   if len(acc.community_nodes[i])]
    return [with_access[k:k + ISOCHRONE_TASK] for k in range(0, len(with_access), ISOCHRONE_TASK)]


def _drawn_in_streams(acc: Access, state: _IsoState, streams: list[list[np.ndarray]], n: int,
                      maker: IsochroneMaker) -> Iterator[dict]:
    """Each round's polygons by community row, each worker process drawing its own stream.

    :class:`~livingcircle._parallel.StreamWorkers`: worker ``w`` draws the communities of its
    part of the city in spatial order, so that it builds the cells of that part only, and
    takes over the end of another's part when it is done with its own. With the tasks handed
    to whichever worker was free (as a Dask cluster still does, :func:`_drawn_on_cluster`),
    each worker built nearly every cell of the city centre: 118.5 CPU s against 111.5 s for
    one half each (``benchmarks/bench_isochrone_split.py``, ``benchmarks/CITY_SCALE.md``).
    """
    rounds = [[_iso_tasks(acc, rows) for rows in r] for r in streams]
    with forked_maker(state.token, maker), StreamWorkers(state, n, len(rounds)) as pool:
        for results in pool.run(_iso_task, rounds):
            yield {i: polys for task in results for i, polys in task}


def _checked_minutes(minutes: Iterable[float] | None) -> list[float]:
    """Return the minutes asked for (default the levels' minutes), sorted; positive or stop."""
    out = sorted(float(m) for m in (settings.level_minutes if minutes is None else minutes))
    if not out or min(out) <= 0:
        msg = f"minutes must be positive numbers, got {out}"
        raise ValueError(msg)
    return out


def _chunk_frame(chunk: np.ndarray, by_i: dict, ids: np.ndarray, centroids: np.ndarray,
                 speeds: dict[str, float], minutes: list[float],
                 to_wgs84: Transformer) -> gpd.GeoDataFrame:
    """Rows of one chunk of :func:`iter_isochrones` (``by_i``: polygons by community row)."""
    rows = []
    for i in chunk:
        got = by_i.get(i)
        for sp_name, speed in speeds.items():
            for m in minutes:
                poly = None if got is None else got[sp_name, m]
                rows.append(_row(ids[i], sp_name, m, m * speed, poly, centroids[i]))
    frame = pd.DataFrame(rows)
    geoms = shapely.transform(
        frame["geometry"].to_numpy(),
        lambda c: np.column_stack(to_wgs84.transform(c[:, 0], c[:, 1])))
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs=4326)


def isochrones(
    source: Access | WalkNetwork,
    communities: gpd.GeoDataFrame | None = None,
    *,
    gates: gpd.GeoDataFrame | None = None,
    minutes: Iterable[float] | None = None,
    speed_profiles: SpeedProfiles = None,
    buffer_m: float | None = None,
    community_ids: Iterable[str] | None = None,
    threads: int | None = None,
    workers: int | None = None,
    scheduler=None,
) -> gpd.GeoDataFrame:
    """Isochrone polygons of communities at several minutes and speed profiles.

    Parameters
    ----------
    source
        An :class:`~livingcircle.accessibility.Access` (reuses its graph and access points) or a
        :class:`~livingcircle.network.WalkNetwork` together with ``communities`` (and ``gates``).
    communities, gates
        With a network as ``source``: the origins and their optional gates.
    minutes
        Walking minutes, plain numbers; default :data:`livingcircle.settings.level_minutes`
        (5, 10, 15).
    speed_profiles
        Speed profile names or m/min; default: those of ``source`` or the default profile.
    buffer_m
        Half-width of the buffer around reachable streets; default
        :data:`settings.isochrone_buffer_m`.
    community_ids
        Only these origins (default: all communities).
    threads
        Worker threads of a run in one process; default :data:`livingcircle.settings.threads`
        (all available cores).
    workers
        Worker processes (default :data:`livingcircle.settings.workers`: one per core); with
        more than one and at least :data:`livingcircle.settings.process_pool_min_communities`
        communities the polygons are drawn in a process pool (:mod:`livingcircle._parallel`),
        the same polygons as in one process.
    scheduler
        A Dask scheduler's address or ``distributed.Client`` (default
        :data:`livingcircle.settings.scheduler`): the polygons are drawn on that cluster's
        workers instead.

    Returns
    -------
    GeoDataFrame
        community_id, speed_profile, minutes, walk_m, area_m2, circle_area_m2, ped_shed_ratio,
        reached and the polygon, in EPSG:4326; rows in the communities' order. For a whole city,
        :func:`iter_isochrones` gives the same rows chunk by chunk.
    """
    # chunks of ISOCHRONE_CHUNK communities: only one chunk's projected polygons and their
    # WGS84 copies are alive at a time (one chunk of all 1,600 communities of the city-centre
    # case held them all twice: benchmarks/CITY_SCALE.md); then back to the communities' order
    chunks = list(iter_isochrones(source, communities, gates=gates, minutes=minutes,
                                  speed_profiles=speed_profiles, buffer_m=buffer_m,
                                  community_ids=community_ids, threads=threads,
                                  workers=workers, scheduler=scheduler,
                                  chunk_size=ISOCHRONE_CHUNK))
    if not chunks:
        return gpd.GeoDataFrame({"community_id": [], "speed_profile": [], "minutes": [],
                                 "walk_m": [], "area_m2": [], "circle_area_m2": [],
                                 "ped_shed_ratio": [], "reached": []},
                                geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    out = pd.concat(chunks, ignore_index=True)
    if len(chunks) > 1:
        frame = source.communities if isinstance(source, Access) else communities
        if frame is None:  # iter_isochrones gave rows, so it had the communities
            msg = "isochrones: the communities are needed to order the rows"
            raise ValueError(msg)
        ids = frame["community_id"]
        rank = pd.Series(np.arange(len(ids)), index=ids.astype(str).to_numpy())
        order = np.argsort(rank.loc[out["community_id"]].to_numpy(), kind="stable")
        out = out.iloc[order].reset_index(drop=True)
    return out


def _row(cid, sp_name, m, T, poly, centroid):
    area = 0.0 if poly is None else float(poly.area)
    circle = float(np.pi * T * T)
    return {
        "community_id": cid,
        "speed_profile": sp_name,
        "minutes": int(m) if float(m).is_integer() else m,
        "walk_m": float(T),
        "area_m2": round(area, 1),
        "circle_area_m2": round(circle, 1),
        "ped_shed_ratio": round(area / circle, 4) if circle else np.nan,
        "geometry": poly if poly is not None else shapely.Polygon(),
        "reached": poly is not None,
    }


def straight_line_circles(isochrone_layer: gpd.GeoDataFrame,
                          communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the straight-line circle of each isochrone's walking distance around the centroid."""
    crs = utm_crs(communities)
    cent = communities.to_crs(crs).set_index("community_id").geometry.centroid
    iso = isochrone_layer.drop(columns="geometry")
    geoms = [cent.loc[c].buffer(w) for c, w in zip(iso["community_id"], iso["walk_m"], strict=True)]
    return gpd.GeoDataFrame(iso, geometry=geoms, crs=crs).to_crs(4326)
