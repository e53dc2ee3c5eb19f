"""Coverage of each facility category and the residential area it leaves uncovered.

Drawn like an isochrone (:mod:`livingcircle.isochrones`): one multi-source radius-limited search
from all facilities of a category within the category's threshold (the standard's metres, not a
speed), the reachable streets cut exactly at the threshold and buffered by
:data:`livingcircle.settings.isochrone_buffer_m`, with the same network-wide caches
(:class:`~livingcircle.isochrones.IsochroneMaker`).

* :func:`coverage_areas` / :func:`iter_coverage_areas`: the covered area per category (a city in
  3.2 km tiles);
* :func:`uncovered_areas`: per polygon community and category, the part of the community outside
  the covered area, computed from the streets near each community only.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from . import settings
from ._errors import LivingCircleWarning
from ._parallel import Workers, worker_count
from ._union import union_of
from .accessibility import Access, facility_categories
from .isochrones import (
    NO_POLYGONS,
    IsochroneMaker,
    Reached,
    buffer_width,
    forked_maker,
    maker_for,
    prepare_cells,
    reached_whole,
    spatial_order,
    wanted_categories,
    worker_maker,
)
from .routing import BoundedSearch, EdgeTable, SplitGraph, nearest_table, parallel_each


def _category_starts(acc: Access, facilities: gpd.GeoDataFrame, categories):
    """Per category: its facilities' nodes on the split graph (those attached to the network)."""
    fac_ids = facilities["facility_id"].astype(str).to_numpy()
    node_of = dict(zip(acc.facility_ids, acc.facility_nodes, strict=True))
    members = facility_categories(facilities)
    out = {}
    for cid in categories:
        starts = np.array([node_of.get(f, -1) for f, cs in zip(fac_ids, members, strict=True)
                           if cid in cs], dtype=np.int64)
        out[cid] = starts[starts >= 0]
    return out


def coverage_areas(acc: Access, facilities: gpd.GeoDataFrame, *, buffer_m: float | None = None,
                   categories=None, threads: int | None = None, workers: int | None = None,
                   scheduler=None) -> gpd.GeoDataFrame:
    """Return, per category, the area its facilities cover within the category's threshold.

    One multi-source radius-limited search from all facilities of the category (the standard's
    metres, not a speed), then the reachable streets cut at the threshold and buffered like an
    isochrone. A network wider than :data:`livingcircle.settings.coverage_tile_above_m` (a
    city) is split into square tiles of the isochrone maker's largest cell (3.2 km): one row per
    category and tile, each clipped to its tile, so that no polygon spans the whole city; the
    rows of a category do not overlap and their areas add up. :func:`iter_coverage_areas` gives
    the same rows tile by tile. Feed the result to :func:`livingcircle.gaps.uncovered_residential`,
    or use :func:`uncovered_areas`, which gives the same figures from the network directly and
    scales to a city.

    Parameters
    ----------
    acc
        The :class:`~livingcircle.accessibility.Access` the facilities were measured in.
    facilities
        The same facilities frame (``facility_id``, ``categories``) passed to ``measure_access``.
    buffer_m
        Buffer half-width; default :data:`settings.isochrone_buffer_m`.
    categories
        Only these category ids (default: every POI category of the profile).
    threads
        Worker threads for the tiles; default :data:`livingcircle.settings.threads`.
    workers, scheduler
        Worker processes or a Dask cluster for the tiles of a wide network (as for
        :func:`livingcircle.isochrones.isochrones`); the same rows.

    Returns
    -------
    GeoDataFrame
        category, name_zh, threshold_m, n_facilities, tile ('all', or 'column_row' of the
        tile), area_m2, geometry (EPSG:4326); rows by category, then tile.
    """
    chunks = list(iter_coverage_areas(acc, facilities, buffer_m=buffer_m,
                                      categories=categories, threads=threads, workers=workers,
                                      scheduler=scheduler))
    out = pd.concat(chunks, ignore_index=True)
    wanted = wanted_categories(acc, categories)
    # by category, then tile column (west to east) and row (south to north); 'all' is 0_0
    ij = out["tile"].replace("all", "0_0").str.split("_", expand=True).astype(int)
    key = pd.DataFrame({"c": out["category"].map({c: k for k, c in enumerate(wanted)}),
                        "i": ij[0], "j": ij[1]})
    order = np.lexsort((key["j"], key["i"], key["c"]))
    return gpd.GeoDataFrame(out.iloc[order].reset_index(drop=True), geometry="geometry",
                            crs=4326)


def iter_coverage_areas(acc: Access, facilities: gpd.GeoDataFrame, *,
                        buffer_m: float | None = None, categories: Iterable[str] | None = None,
                        threads: int | None = None, workers: int | None = None,
                        scheduler=None,
                        tiles_per_chunk: int = 8) -> Iterator[gpd.GeoDataFrame]:
    """Yield the rows of :func:`coverage_areas` a few tiles at a time (every category of each).

    Tiles come in spatial order, so that the cells of a tile are built once and serve every
    category while they are cached; a city's coverage is never all in memory. ``workers`` and
    ``scheduler``: as for :func:`livingcircle.isochrones.isochrones` (the tiles go to worker
    processes or a Dask cluster, two at a time; the same rows).

    Yields
    ------
    GeoDataFrame
        The columns of :func:`coverage_areas`, EPSG:4326.
    """
    buffer_m = buffer_width(buffer_m)
    maker = maker_for(acc, buffer_m)
    wanted = wanted_categories(acc, categories)
    starts_of = _category_starts(acc, facilities, wanted)
    reach = _category_reach(acc, maker, starts_of, wanted, threads)
    to_wgs84 = Transformer.from_crs(acc.crs, 4326, always_xy=True)

    def frame(found: list[tuple[str, str, BaseGeometry]]) -> gpd.GeoDataFrame:
        return _coverage_frame(acc, found, starts_of, to_wgs84)

    tiles = _tiles(maker)
    if tiles is None:
        yield frame(_untiled_coverage(maker, reach, wanted))
        return
    seen = set()
    order = [int(t) for t in tiles["order_spatial"]]
    chunks = [order[lo:lo + tiles_per_chunk] for lo in range(0, len(order), tiles_per_chunk)]
    scheduler = scheduler if scheduler is not None else settings.scheduler
    if scheduler is None and (worker_count(workers) == 1 or len(acc.communities)
                              < settings.process_pool_min_communities):
        drawn = _tiles_in_threads(chunks, tiles, maker, reach, threads)
    else:
        prepare_cells(acc, buffer_m=buffer_m, workers=workers, scheduler=scheduler)
        state = _CoverageState(acc.graph, acc.edge_table, buffer_m, reach, tiles,
                               uuid.uuid4().hex)
        drawn = _tiles_in_processes(chunks, state, workers, scheduler, maker)
    for found in drawn:
        seen.update(cid for cid, *_ in found)
        if found:
            yield frame(found)
    missing = [cid for cid in wanted if cid not in seen]
    if missing:  # categories that cover nothing keep one empty row, as a small area does
        yield frame([(cid, "all", shapely.Polygon()) for cid in missing])


def _tiles_in_threads(chunks: list[list[int]], tiles: dict, maker: IsochroneMaker,
                      reach: dict, threads: int | None) -> Iterator[list]:
    """Each chunk's (category, tile, polygon) rows, drawn in this process's threads."""
    for chunk in chunks:
        found = []
        lock = threading.Lock()

        def one(t, in_tile, found=found, lock=lock):
            done = _tile_coverage(t, in_tile, tiles, maker, reach)
            with lock:
                found.extend(done)

        parallel_each(chunk, one, threads=threads,
                      state=lambda: np.zeros(len(maker.geom), dtype=bool))
        yield found


@dataclass
class _CoverageState:
    """What a worker process needs to draw the coverage of tiles (sent once)."""

    graph: SplitGraph
    edges: EdgeTable
    buffer_m: float
    reach: dict
    tiles: dict
    token: str


def _coverage_task(state: _CoverageState, task: list[int]) -> list:
    """Return the (category, tile, polygon) rows of one task's tiles, in a worker process."""
    maker, _search, _work = worker_maker(state.graph, state.edges, state.buffer_m, state.token)
    in_tile = np.zeros(len(maker.geom), dtype=bool)
    out = []
    for t in task:
        out.extend(_tile_coverage(t, in_tile, state.tiles, maker, state.reach))
    return out


def _tiles_in_processes(chunks: list[list[int]], state: _CoverageState, workers: int | None,
                        scheduler, maker: IsochroneMaker) -> Iterator[list]:
    """Each chunk's rows, its tiles drawn two at a time by worker processes or a Dask cluster.

    A local pool's workers are forked with ``maker`` offered (:func:`forked_maker`): they
    share its index instead of building their own.
    """
    with forked_maker(state.token, maker), \
            Workers(state, workers=workers, scheduler=scheduler) as pool:
        futures = deque(pool.submit(_coverage_task,
                                    [chunk[k:k + 2] for k in range(0, len(chunk), 2)])
                        for chunk in chunks)  # every tile handed out now: the workers never wait
        while futures:
            # each chunk's futures dropped once read: a future keeps its polygons for as long as
            # it is referenced, and holding them all took 1.5 GB more at 1M nodes
            # (CITY_SCALE.md, 2026-12-04)
            yield [row for f in futures.popleft() for row in f.result()]


#: What one category's search reaches: the streets reached whole (indices and a mask over every
#: street) and the cut pieces (street index, start and end metres along it).
_Reach: TypeAlias = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _category_reach(acc: Access, maker: IsochroneMaker, starts_of: dict[str, np.ndarray],
                    wanted: list[str], threads: int | None = None) -> dict[str, _Reach]:
    """One search per category with facilities, to its threshold: what it reaches.

    The categories' searches run in ``threads`` (the compiled search releases the GIL): on
    the 1M city they are the coverage's first seconds, before any tile is drawn.
    """
    found: dict[str, _Reach] = {}

    def one(cid: str, local: tuple[BoundedSearch, np.ndarray]) -> None:
        search, work = local
        T = acc.profile.category(cid).max_walk_m
        nodes, dist = search(starts_of[cid], np.zeros(len(starts_of[cid])), T)
        whole, pe, ps, pf = maker.parts(maker.segments_reached(nodes, dist, work), T)
        mask = np.zeros(len(maker.geom), dtype=bool)
        mask[whole] = True
        found[cid] = (whole, mask, pe, ps, pf)  # each key set once, by one thread

    parallel_each([cid for cid in wanted if len(starts_of[cid])], one, threads=threads,
                  state=lambda: (BoundedSearch(acc.graph), np.full(acc.graph.n_nodes, np.inf)))
    return {cid: found[cid] for cid in wanted if cid in found}  # in the order of ``wanted``


def _coverage_frame(acc: Access, found: list[tuple[str, str, BaseGeometry]],
                    starts_of: dict[str, np.ndarray], to_wgs84: Transformer) -> gpd.GeoDataFrame:
    """Rows of :func:`coverage_areas` from (category, tile name, projected polygon)."""
    rows = []
    for cid, name, poly in found:
        cat = acc.profile.category(cid)
        rows.append({"category": cid, "name_zh": cat.name_zh, "threshold_m": cat.max_walk_m,
                     "n_facilities": len(starts_of[cid]), "tile": name,
                     "area_m2": round(float(poly.area), 1), "geometry": poly})
    df = pd.DataFrame(rows)
    geoms = shapely.transform(df.pop("geometry").to_numpy(), lambda c: np.column_stack(
        to_wgs84.transform(c[:, 0], c[:, 1])))
    return gpd.GeoDataFrame(df, geometry=geoms, crs=4326)


def _cut_pieces(maker: IsochroneMaker, pe: np.ndarray, ps: np.ndarray, pf: np.ndarray,
                sel: np.ndarray) -> np.ndarray:
    """Return the buffers of the cut street pieces selected by ``sel``."""
    return maker.cut_buffers(pe[sel], ps[sel], pf[sel])


def _untiled_coverage(maker: IsochroneMaker, reach: dict[str, _Reach],
                      wanted: list[str]) -> list[tuple[str, str, BaseGeometry]]:
    """Each category's whole coverage polygon, for a network small enough for one tile."""
    found = []
    for cid in wanted:
        poly = shapely.Polygon()
        if cid in reach:
            whole, _mask, pe, ps, pf = reach[cid]
            poly = maker.united(whole, maker.cut_buffers(pe, ps, pf)).polygon
        found.append((cid, "all", poly))
    return found


def _tile_coverage(t: int, in_tile: np.ndarray, tiles: dict, maker: IsochroneMaker,
                   reach: dict[str, _Reach]) -> list[tuple[str, str, BaseGeometry]]:
    """Each category's coverage inside tile ``t`` (``in_tile``: the thread's work mask)."""
    near = tiles["edges"][t]
    box = shapely.bounds(tiles["box"][t])
    # only the tile's own cells: the streets near its edge in the next top-level cells go in
    # as their own buffers, as fast where every cell is cached, and where they are on disk
    # no tile reads the next one's file for them (CITY_SCALE.md, "Coverage tiles clipped
    # to their box and drawn from their own cells")
    top = int(tiles["top"][t])
    in_tile[near] = True
    full = None  # the tile's polygon when every street near it is reached whole
    done = []
    for cid, (_whole, mask, pe, ps, pf) in reach.items():
        w = near[mask[near]]
        if len(w) and len(w) == len(near):
            if full is None:
                full = _clipped(maker.united(w, NO_POLYGONS, top=top).polygon, box)
            poly = full
        else:
            sel = in_tile[pe]
            if len(w) == 0 and not sel.any():
                continue
            cut = _cut_pieces(maker, pe, ps, pf, sel)
            poly = _clipped(maker.united(w, cut, top=top).polygon, box)
        if not poly.is_empty:
            done.append((cid, tiles["name"][t], poly))
    in_tile[near] = False
    return done


def _clipped(poly: BaseGeometry, box: np.ndarray) -> BaseGeometry:
    """Return the part of a tile's coverage ``poly`` inside its box (xmin, ymin, xmax, ymax).

    GEOS's clipping to a rectangle, not an overlay: on the 1M-node city's 8,475 tiles of
    categories 2.3 against 18.8 s, the same polygons (areas within 5e-8 m², the symmetric
    difference within 1.1e-9 m², every one valid; the city centre's 606: 0.12 against 0.99 s;
    ``benchmarks/CITY_SCALE.md``); a ring may start at another of its vertices. Nothing inside
    the box gives an empty geometry.
    """
    return shapely.clip_by_rect(poly, *box.tolist())


def _tiles(maker: IsochroneMaker) -> dict | None:
    """Tiles of a wide network (the maker's largest cells), or None for one area."""
    geom = maker.geom
    if len(geom) == 0:
        return None
    x0, y0, x1, y1 = shapely.total_bounds(geom)
    if max(x1 - x0, y1 - y0) <= settings.coverage_tile_above_m:
        return None
    size = maker.cell_m * 2 ** (len(maker.levels) - 1)
    ox, oy = maker.origin
    r = maker.buffer_m
    i0, i1 = int(np.floor((x0 - r - ox) / size)), int(np.floor((x1 + r - ox) / size))
    j0, j1 = int(np.floor((y0 - r - oy) / size)), int(np.floor((y1 + r - oy) / size))
    ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    boxes = shapely.box(ox + ii * size, oy + jj * size, ox + (ii + 1) * size,
                        oy + (jj + 1) * size)
    t_idx, e_idx = maker.edges.tree.query(boxes, predicate="dwithin", distance=r)
    order = np.argsort(t_idx, kind="stable")
    t_idx, e_idx = t_idx[order], e_idx[order]
    ptr = np.searchsorted(t_idx, np.arange(len(boxes) + 1))
    names = [f"{i - i0}_{j - j0}" for i, j in zip(ii, jj, strict=True)]
    # the top-level cell each tile is (-1: none, no street's midpoint in it)
    top_of = {(i, j): k for k, (i, j) in enumerate(maker.top_ij.tolist())}
    tops = np.array([top_of.get(ij, -1) for ij in zip(ii.tolist(), jj.tolist(), strict=True)],
                    dtype=np.int64)
    return {"box": boxes, "name": names, "top": tops,
            "order": {n: k for k, n in enumerate(names)},
            "edges": [e_idx[ptr[k]:ptr[k + 1]] for k in range(len(boxes))],
            "order_spatial": spatial_order(shapely.centroid(boxes))}


def uncovered_areas(acc: Access, facilities: gpd.GeoDataFrame, *,
                    buffer_m: float | None = None, categories: Iterable[str] | None = None,
                    threads: int | None = None) -> gpd.GeoDataFrame:
    """Return the residential area each category leaves uncovered, per polygon community.

    The same figures as ``uncovered_residential(coverage_areas(acc, facilities), communities)``
    (:func:`livingcircle.gaps.uncovered_residential`), computed for each community from the
    streets within ``buffer_m`` of it only: one multi-source search per category (kept at the
    nodes of those streets), then each community's nearby reachable pieces are buffered, united
    and subtracted from it. The cost grows with communities × categories, not with the size of
    the covered area, so a whole city is measured in minutes.

    Parameters
    ----------
    acc
        The :class:`~livingcircle.accessibility.Access` (its communities are the residential
        areas; point communities have no area and are left out with a warning).
    facilities
        The facilities frame passed to ``measure_access``.
    buffer_m
        Buffer half-width of the covered area; default :data:`settings.isochrone_buffer_m`.
    categories
        Only these category ids (default: every POI category of the profile).
    threads
        Worker threads; default :data:`livingcircle.settings.threads`.

    Returns
    -------
    GeoDataFrame
        category, community_id, residential_area_m2, uncovered_area_m2, uncovered_share and
        geometry (the uncovered part, empty when fully covered), in the network's metric CRS.
    """
    buffer_m = buffer_width(buffer_m)
    maker = maker_for(acc, buffer_m)
    wanted = wanted_categories(acc, categories)
    ids, polys = _area_communities(acc)
    if len(polys) == 0 or not wanted:
        return gpd.GeoDataFrame(columns=_UNCOVERED_COLUMNS, geometry="geometry", crs=acc.crs)
    near = _NearbyStreets(maker, polys, buffer_m)
    starts_of = _category_starts(acc, facilities, wanted)
    limits = [acc.profile.category(c).max_walk_m for c in wanted]
    # one multi-source search per category, kept at the nodes of the streets near a community
    dist, _ = nearest_table(acc.graph, [starts_of[c] for c in wanted], limit=limits,
                            at=near.nodes, threads=threads)
    result: list[list] = [[] for _ in range(len(polys))]  # per polygon, one part per category

    seg_len = maker.g.seg_len

    def one(i, _local):
        poly = cast(BaseGeometry, polys[i])
        every = None  # the part outside every nearby street, for each category reaching all
        parts = []
        for j, T in enumerate(limits):
            reached = near.reached(i, dist[:, j])
            segs, da, db = reached
            if not ((da <= T) | (db <= T)).any():
                # no end of a nearby street within T: nothing reached (what _uncovered_part
                # would find, at some 25 µs of Python a pair: 38,000 of the centre's 49,600)
                parts.append(poly)
            elif reached_whole(da, db, seg_len[segs], T).all():
                # every nearby street reached whole: the same pieces for each such category
                if every is None:
                    every = _uncovered_part(maker, poly, reached, T)
                parts.append(every)
            else:
                parts.append(_uncovered_part(maker, poly, reached, T))
        result[i] = parts

    parallel_each(range(len(polys)), one, threads=threads)
    return _uncovered_frame(acc, wanted, ids, polys, result)


_UNCOVERED_COLUMNS = ["category", "community_id", "residential_area_m2", "uncovered_area_m2",
                      "uncovered_share", "geometry"]


def _area_communities(acc: Access) -> tuple[np.ndarray, np.ndarray]:
    """Ids and projected polygons of the polygon communities (the others named in a warning)."""
    comm = acc.communities[["community_id", "geometry"]].to_crs(acc.crs)
    is_area = comm.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if not is_area.all():
        warnings.warn(
            f"{int((~is_area).sum())} communities are not polygons (no residential area); "
            "they are left out of the uncovered-area figures",
            LivingCircleWarning, stacklevel=3,
        )
    return (comm["community_id"].astype(str).to_numpy()[is_area],
            comm.geometry.to_numpy()[is_area])


class _NearbyStreets:
    """The split street segments within ``buffer_m`` of each polygon, and their end nodes.

    ``nodes`` are the distinct end nodes (where the searches' distances are kept);
    :meth:`reached` gives one polygon's segments with the distance of both their ends.
    """

    def __init__(self, maker: IsochroneMaker, polys: np.ndarray, buffer_m: float):
        g = maker.g
        ci, ei = maker.edges.tree.query(polys, predicate="dwithin", distance=buffer_m)
        order = np.lexsort((ei, ci))
        ci, ei = ci[order], ei[order]
        self.segs = maker.segments_of(ei)
        seg_owner = np.repeat(ci, maker.seg_ptr[ei + 1] - maker.seg_ptr[ei])
        self.ptr = np.searchsorted(seg_owner, np.arange(len(polys) + 1))
        self.nodes, inv = np.unique(np.concatenate((g.seg_a[self.segs], g.seg_b[self.segs])),
                                    return_inverse=True)
        self.pos_a, self.pos_b = inv[:len(self.segs)], inv[len(self.segs):]

    def reached(self, i: int, dist: np.ndarray) -> Reached:
        """Polygon ``i``'s segments and their ends' distances (``dist`` at :attr:`nodes`)."""
        sl = slice(self.ptr[i], self.ptr[i + 1])
        return self.segs[sl], dist[self.pos_a[sl]], dist[self.pos_b[sl]]


def _uncovered_part(maker: IsochroneMaker, poly: BaseGeometry, reached: Reached,
                    T: float) -> BaseGeometry:
    """Return the part of ``poly`` outside the buffer of its nearby reached pieces within T."""
    whole, pe, ps, pf = maker.parts(reached if len(reached[0]) else None, T)
    pieces = list(maker.edge_buffers(whole)) if len(whole) else []
    pieces.extend(maker.cut_buffers(pe, ps, pf))
    if not pieces:
        return poly
    return shapely.difference(poly, union_of(pieces))


def _uncovered_frame(acc: Access, wanted: list[str], ids: np.ndarray, polys: np.ndarray,
                     result: list[list]) -> gpd.GeoDataFrame:
    """Rows of :func:`uncovered_areas`: by category, then community."""
    area = shapely.area(polys)
    rows = []
    for j, cid in enumerate(wanted):
        for i in range(len(polys)):
            geom = result[i][j]
            a = float(geom.area)
            rows.append({"category": cid, "community_id": ids[i],
                         "residential_area_m2": float(area[i]), "uncovered_area_m2": a,
                         "uncovered_share": a / area[i] if area[i] > 0 else np.nan,
                         "geometry": geom})
    return gpd.GeoDataFrame(rows, columns=_UNCOVERED_COLUMNS, geometry="geometry", crs=acc.crs)
