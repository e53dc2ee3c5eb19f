"""Ways to draw the same isochrone polygons, timed against the maker's, one thread, one process.

Issue 17 asks for isochrones 20× faster than the osmnx example on every network of part (b) of
``README.md``; ``shapely.union_all`` is most of their time. This script keeps the routes that
were tried so that the next attempt starts from figures: for the same origins and the same
radius-limited searches (done once, not timed), each variant draws the 5/10/15-minute polygons
(80 m/min) and is timed in CPU seconds (``time.process_time``; the wall clock is unreliable on a
shared machine) after a warm-up pass, so that the maker's caches are warm for every variant.
Each variant's polygons are compared with the maker's and with ``line_buffers`` (the definition
drawn plainly: minimum IoU, largest Hausdorff distance), and checked for validity and for how
far a smaller threshold's polygon sticks out of the next one's (``nesting_excess_m2_max``).

Variants:

``maker``
    :meth:`livingcircle.isochrones.IsochroneMaker.polygon` (cached quadtree cells, 10 min =
    5 min ∪ what is new).
``own_pieces_nested``
    each threshold united from its own cached pieces plus the buffers of the pieces cut at the
    smaller thresholds (the same area as the maker's, nesting kept, without uniting the smaller
    polygon again).
``independent``
    the same pieces, each threshold united on its own (no inner polygon).
``line_buffers``
    the buffers of every reached piece united (no cells).
``multilinestring_buffer``
    one ``buffer`` of a MultiLineString of the reached pieces.
``grid_size``
    the maker's pieces, each threshold united with ``union_all(grid_size=0.001)``.
``squares``
    disjoint pre-cut faces: the network-wide buffer union clipped to 200 m squares, a square
    taken whole when every street near it is reached whole, the others' reached pieces united
    and clipped; all joined with ``union_all``.
``squares_coverage``
    the same snapped to a 1 mm grid and joined with ``coverage_union_all`` (without the
    snapping GEOS refuses: "CoverageUnion cannot process incorrectly noded inputs").
``faces_frontier``
    the route ``README.md`` named as not yet tried: the network-wide buffer union clipped to
    50 m squares and snapped to 1 mm (faces cached on first use, eight by eight squares from
    one union); a square all of whose nearby streets are reached whole is its face; the
    frontier (cut pieces and the whole streets near a square that is not whole) is united
    once, clipped to the other squares, snapped, and everything joined with
    ``coverage_union_all``. Thresholds drawn independently.

Usage::

    python benchmarks/bench_isochrone_variants.py --nodes 10000 --origins 20
    python benchmarks/bench_isochrone_variants.py --centre --origins 30   # the city centre
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

THRESHOLDS = (400.0, 800.0, 1200.0)  # 5 / 10 / 15 min at 80 m/min
SQUARE_M = 200.0
FACE_M = 50.0  # squares of faces_frontier
GRID = 1e-3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=10_000, help="bench_access grid size")
    ap.add_argument("--origins", type=int, default=20)
    ap.add_argument("--variants", default="maker,independent,line_buffers,"
                    "multilinestring_buffer,grid_size,squares,squares_coverage,faces_frontier")
    ap.add_argument("--centre", action="store_true",
                    help="the city-centre case of bench_city.py (49,409 nodes, curved streets): "
                         "its first communities in the order a run draws them (Z-order) as "
                         "origins, through their own access points, instead of grid nodes")
    args = ap.parse_args(argv)

    import bench_access as ba
    import geopandas as gpd

    from livingcircle import settings
    from livingcircle.accessibility import measure_access
    from livingcircle.isochrones import QUAD_SEGS, maker_for, substrings
    from livingcircle.network import WalkNetwork
    from livingcircle.routing import BoundedSearch

    none = gpd.GeoDataFrame({"facility_id": [], "categories": []},
                            geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    if args.centre:
        import bench_city

        from livingcircle.isochrones import spatial_order
        from livingcircle.network import build_network

        c = bench_city.CENTRE
        folder = bench_city.WORK / (f"city_{c['nodes']}_{c['communities']}_"
                                    f"{c['facilities']}_centre")
        bench_city.write_city(folder, spacing=50.0, seed=7, **c)
        net = build_network(osm=str(folder / "city.osm.pbf"), graph=False)
        comm = gpd.read_file(folder / "communities.gpkg")
        order = spatial_order(comm.to_crs(comm.estimate_utm_crs()).geometry.centroid.to_numpy())
        comm = comm.iloc[np.sort(order[:args.origins])].reset_index(drop=True)
        args.nodes = "centre"
    else:
        a = ba.grid_arrays(args.nodes)
        net = WalkNetwork.from_arrays(a["xy"], a["u"], a["v"], crs=ba.CRS)
        rng = np.random.default_rng(2)
        pick = rng.choice(len(a["xy"]), size=args.origins, replace=False)
        comm = gpd.GeoDataFrame({"community_id": [f"o{i}" for i in range(args.origins)]},
                                geometry=shapely.points(a["xy"][pick]), crs=ba.CRS)
    acc = measure_access(net, comm, none, speed_profiles=["adult"])
    b = settings.isochrone_buffer_m
    maker = maker_for(acc, b)
    geom = maker.geom
    search = BoundedSearch(acc.graph)
    work = np.full(acc.graph.n_nodes, np.inf)
    reached = []
    for i in range(args.origins):
        st = np.asarray(acc.community_nodes[i])
        nodes, dist = search(st, np.zeros(len(st)), max(THRESHOLDS))
        reached.append(maker.segments_reached(nodes, dist, work))

    def lines(r, T):
        whole, pe, ps, pf = maker.parts(r, T)
        cut = substrings(geom[pe], ps, pf) if len(pe) else np.zeros(0, dtype=object)
        return whole, np.concatenate([geom[whole], cut])

    def by_maker(r):
        inner, out = None, []
        for T in THRESHOLDS:
            inner = maker.polygon(r, T, inner)
            out.append(inner[0])
        return out

    def by_own_pieces_nested(r):
        """Each threshold from its own cached pieces plus the smaller thresholds' cut pieces."""
        earlier, out = [], []
        for T in THRESHOLDS:
            whole, pe, ps, pf = maker.parts(r, T)
            if len(pe):
                earlier.extend(shapely.buffer(substrings(geom[pe], ps, pf), b,
                                              quad_segs=QUAD_SEGS))
            got = (list(maker.whole_pieces(whole)) if len(whole) else []) + earlier
            out.append(shapely.union_all(np.asarray(got, dtype=object)) if got
                       else shapely.Polygon())
        return out

    def pieces(r, T):
        whole, pe, ps, pf = maker.parts(r, T)
        got = list(maker.whole_pieces(whole)) if len(whole) else []
        if len(pe):
            got.extend(shapely.buffer(substrings(geom[pe], ps, pf), b, quad_segs=QUAD_SEGS))
        return np.asarray(got, dtype=object)

    squares = {}

    def square_faces():
        if not squares:
            x0, y0, x1, y1 = shapely.total_bounds(geom)
            x0, y0 = x0 - b, y0 - b
            ni, nj = int((x1 + b - x0) // SQUARE_M) + 1, int((y1 + b - y0) // SQUARE_M) + 1
            ii, jj = np.meshgrid(np.arange(ni), np.arange(nj), indexing="ij")
            ii, jj = ii.ravel(), jj.ravel()
            box = shapely.box(x0 + ii * SQUARE_M, y0 + jj * SQUARE_M, x0 + (ii + 1) * SQUARE_M,
                              y0 + (jj + 1) * SQUARE_M)
            whole_net = shapely.union_all(shapely.buffer(geom, b, quad_segs=QUAD_SEGS))
            q, e = maker.edges.tree.query(box, predicate="dwithin", distance=b)
            o = np.argsort(q, kind="stable")
            squares.update(box=box, q=q[o], e=e[o],
                           ptr=np.searchsorted(q[o], np.arange(len(box) + 1)),
                           face=shapely.intersection(whole_net, box),
                           face_snapped=shapely.intersection(whole_net, box, grid_size=GRID))
        return squares

    def by_squares(r, coverage):
        sq = square_faces()
        out = []
        for T in THRESHOLDS:
            whole, ls = lines(r, T)
            is_whole = np.zeros(len(geom), dtype=bool)
            is_whole[whole] = True
            touched = np.unique(sq["q"][np.isin(sq["e"], np.r_[whole, maker.parts(r, T)[1]])])
            polys, partial = [], []
            for c in touched:
                near = sq["e"][sq["ptr"][c]:sq["ptr"][c + 1]]
                if is_whole[near].all():
                    polys.append(sq["face_snapped" if coverage else "face"][c])
                else:
                    partial.append(c)
            bufs = shapely.buffer(ls, b, quad_segs=QUAD_SEGS)
            tree = shapely.STRtree(bufs)
            for c in partial:
                sel = tree.query(sq["box"][c], predicate="intersects")
                if len(sel):
                    polys.append(shapely.intersection(shapely.union_all(bufs[sel]), sq["box"][c],
                                                      grid_size=GRID if coverage else None))
            arr = np.asarray([p for p in polys if not p.is_empty], dtype=object)
            if coverage:  # snapping may leave a line where a face was a sliver: polygons only
                parts = shapely.get_parts(arr)
                arr = parts[shapely.get_type_id(parts) == 3]
            out.append(shapely.coverage_union_all(arr) if coverage else shapely.union_all(arr))
        return out

    faces = {}

    def face_grid():
        """50 m squares, the streets within the buffer of each, and a cache of their faces."""
        if not faces:
            x0, y0, x1, y1 = shapely.total_bounds(geom)
            x0, y0 = x0 - 2 * b, y0 - 2 * b
            ni = int((x1 + 2 * b - x0) // FACE_M) + 1
            nj = int((y1 + 2 * b - y0) // FACE_M) + 1
            ii, jj = np.meshgrid(np.arange(ni), np.arange(nj), indexing="ij")
            ii, jj = ii.ravel(), jj.ravel()
            bx, by = x0 + ii * FACE_M, y0 + jj * FACE_M
            box = shapely.box(bx, by, bx + FACE_M, by + FACE_M)
            q, e = maker.edges.tree.query(box, predicate="dwithin", distance=b)
            o = np.argsort(q, kind="stable")
            faces.update(box=box, bx=bx, by=by, q=q[o], e=e[o],
                         cnt=np.bincount(q, minlength=len(box)),
                         ptr=np.searchsorted(q[o], np.arange(len(box) + 1)),
                         tile=(ii // 8) * ((nj + 7) // 8) + jj // 8,
                         face=np.full(len(box), None, dtype=object))
        return faces

    def faces_of(sqs):
        """The network-wide buffer union clipped to squares ``sqs``, snapped (built 8×8 at once)."""
        f = face_grid()
        miss = sqs[np.array([x is None for x in f["face"][sqs]], dtype=bool)]
        for t in np.unique(f["tile"][miss]):
            ms = miss[f["tile"][miss] == t]
            es = np.unique(np.concatenate([f["e"][f["ptr"][c]:f["ptr"][c + 1]] for c in ms]))
            u = shapely.union_all(maker.edge_buffers(es))
            f["face"][ms] = shapely.set_precision(np.array(
                [shapely.clip_by_rect(u, x, y, x + FACE_M, y + FACE_M)
                 for x, y in zip(f["bx"][ms], f["by"][ms], strict=True)], dtype=object), GRID)
        return f["face"][sqs]

    def by_faces(r):
        """Whole squares from cached snapped faces; the frontier united once, clipped, joined."""
        f = face_grid()
        out = []
        is_whole = np.zeros(len(geom), dtype=bool)
        is_cut = np.zeros(len(geom), dtype=bool)
        for T in THRESHOLDS:
            whole, pe, ps, pf = maker.parts(r, T)
            is_whole[whole] = True
            is_cut[pe] = True
            w = is_whole[f["e"]]
            full = (f["cnt"] > 0) & (np.bincount(f["q"], weights=w, minlength=len(f["box"]))
                                     == f["cnt"])
            touched = np.zeros(len(f["box"]), dtype=bool)
            touched[f["q"][w | is_cut[f["e"]]]] = True
            partial = touched & ~full
            near = np.unique(f["e"][partial[f["q"]] & w])  # whole streets near the frontier
            is_whole[whole] = False
            is_cut[pe] = False
            polys = list(faces_of(np.flatnonzero(full)))
            front = list(maker.whole_pieces(near)) if len(near) else []
            if len(pe):
                front.extend(shapely.buffer(substrings(geom[pe], ps, pf), b,
                                            quad_segs=QUAD_SEGS))
            if front:
                clip = shapely.coverage_union_all(f["box"][partial])
                polys.append(shapely.set_precision(shapely.intersection(
                    shapely.union_all(np.asarray(front, dtype=object)), clip), GRID))
            arr = shapely.get_parts(np.asarray(polys, dtype=object))
            arr = arr[shapely.get_type_id(arr) == 3]  # snapping may leave lines of slivers
            out.append(shapely.coverage_union_all(arr))
        return out

    variants = {
        "maker": by_maker,
        "own_pieces_nested": by_own_pieces_nested,
        "faces_frontier": by_faces,
        "independent": lambda r: [shapely.union_all(pieces(r, T)) for T in THRESHOLDS],
        "line_buffers": lambda r: [shapely.union_all(shapely.buffer(lines(r, T)[1], b,
                                                                    quad_segs=QUAD_SEGS))
                                   for T in THRESHOLDS],
        "multilinestring_buffer": lambda r: [shapely.buffer(shapely.multilinestrings(
            lines(r, T)[1]), b, quad_segs=QUAD_SEGS) for T in THRESHOLDS],
        "grid_size": lambda r: [shapely.union_all(pieces(r, T), grid_size=GRID)
                                for T in THRESHOLDS],
        "squares": lambda r: by_squares(r, False),
        "squares_coverage": lambda r: by_squares(r, True),
    }
    ref = [by_maker(r) for r in reached]  # also warms the maker's caches
    # the definition without caches or nesting: the buffers of every reached piece at T united
    plain = [variants["line_buffers"](r) for r in reached]
    out = {"nodes": args.nodes, "origins": args.origins, "buffer_m": b,
           "load_avg_at_start": os.getloadavg(), "variants": {}}
    for name in args.variants.split(","):
        fn = variants[name]
        try:
            if name.startswith("squares"):
                square_faces()  # network-wide set-up, not per origin
            if name == "faces_frontier":  # its faces are cached on a first pass, like the maker's
                face_grid()
                for r in reached:
                    fn(r)
            c = time.process_time()
            got = [fn(r) for r in reached]
            cpu = time.process_time() - c
        except shapely.errors.GEOSException as exc:
            out["variants"][name] = {"error": str(exc)}
            print(name, "failed:", exc, flush=True)
            continue
        iou = [shapely.area(shapely.intersection(x, y)) / shapely.area(shapely.union(x, y))
               for gr, gg in zip(ref, got, strict=True) for x, y in zip(gr, gg, strict=True)]
        rec = {"cpu_ms_per_origin": round(1000 * cpu / len(reached), 1),
               "iou_min_vs_maker": float(np.min(iou)),
               "hausdorff_max_m_vs_maker": float(max(
                   shapely.hausdorff_distance(x, y) for gr, gg in zip(ref, got, strict=True)
                   for x, y in zip(gr, gg, strict=True))),
               "iou_min_vs_plain": float(min(
                   shapely.area(shapely.intersection(x, y)) / shapely.area(shapely.union(x, y))
                   for gr, gg in zip(plain, got, strict=True)
                   for x, y in zip(gr, gg, strict=True))),
               "hausdorff_max_m_vs_plain": float(max(
                   shapely.hausdorff_distance(x, y) for gr, gg in zip(plain, got, strict=True)
                   for x, y in zip(gr, gg, strict=True))),
               "nesting_excess_m2_max": float(max(
                   shapely.area(shapely.difference(g[k], g[k + 1]))
                   for g in got for k in range(len(g) - 1))),
               "valid": bool(all(shapely.is_valid(x) for g in got for x in g))}
        out["variants"][name] = rec
        print(name, json.dumps(rec), flush=True)
    out["load_avg_at_end"] = os.getloadavg()
    out["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    print(json.dumps(out), flush=True)
    ba_work = Path(__file__).resolve().parent / "_work"
    ba_work.mkdir(exist_ok=True)
    with (ba_work / "bench_isochrone_variants.jsonl").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
