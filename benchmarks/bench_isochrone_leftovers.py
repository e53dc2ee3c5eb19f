"""What is left around the isochrones' union: five small routes, measured before building any.

A py-spy profile of the city centre's run (``CITY_SCALE.md``, "Five small routes around the
union") puts Clipper2's union at about half of the isochrone workers' time and leaves a few
per cent each to the steps around it. This script measures each of those on the real data, one
thread, in this process, CPU seconds (``time.process_time``), so that the next engineer need not
guess what they are worth:

``projection``
    The run's own process takes each chunk of isochrones (500 communities, from both workers'
    parts of the city, as ``iter_isochrones`` gives them) to WGS84 through ``shapely.transform``.
    Their holes are mostly the same blocks: here every ring is projected once per chunk
    (``rings_once``: runs of coordinates closed on their first point, a 64-bit hash of their
    bits, copies compared bit for bit) against every coordinate (``plain``). Reads a finished
    run's GeoPackage (``--run-dir``: the folder ``bench_city.py`` wrote its city and ``out``
    into), takes ``--chunks`` chunks back to the network's UTM zone and projects them both ways;
    both must give the same WKB.
``approx``
    PROJ's inverse UTM (Poder/Engsager) against its ``+approx`` transverse Mercator
    (Evenden/Snyder) on ``--points`` (2 million) points of Harbin's zone 52N: ns per point and
    the largest difference in metres, at several places of the zone.
``round_ends``
    ``_less_round_ends`` (what the round end of a cut piece takes of a block) on the first
    ``--origins`` communities of the city centre: how many (block, cut piece) pairs it finds
    entered and how much area each takes; then a filter that leaves out the pairs whose piece
    keeps more than ``r - 1e-6`` m from the block (what such a piece takes lies in a band 1 µm
    thick) against the maker's, on the same calls, and how far the blocks left differ.
``cell_unions``
    Every union made while building every cell of the city centre (``built_under``), by size,
    through GEOS (``shapely.union_all``, what the cells use) and through Clipper2
    (``union_polygons``, what the isochrones use from 16 pieces on).
``gc``
    The first 300 of those origins drawn with Python's cyclic garbage collector on and off,
    alternating.

Usage::

    python benchmarks/bench_city.py --centre             # writes the run this reads
    python benchmarks/bench_isochrone_leftovers.py --origins 400 \\
        --out benchmarks/results/2026-12-08_isochrone_leftovers.jsonl
    python benchmarks/bench_isochrone_leftovers.py --parts projection --chunks 2 \\
        --run-dir benchmarks/_work/city_1000000_10000_50000

One JSON line per part is appended to ``--out`` (default
``benchmarks/_work/bench_isochrone_leftovers.jsonl``) and printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import gc
import importlib
import json
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

HERE = Path(__file__).resolve().parent
CENTRE_RUN = HERE / "_work" / "city_58564_1600_2300_centre"
PARTS = ["projection", "approx", "round_ends", "cell_unions", "gc"]


# -- projection: every ring once ---------------------------------------------------------------
@numba.njit(cache=True, nogil=True)
def _closed_runs(xy):
    """Starts of the runs of coordinates that end on their first point, and the end."""
    n = len(xy)
    start = np.empty(n + 1, np.int64)
    k = 0
    i = 0
    while i < n:
        start[k] = i
        k += 1
        x0, y0 = xy[i, 0], xy[i, 1]
        i += 1
        while i < n and not (xy[i, 0] == x0 and xy[i, 1] == y0):
            i += 1
        i += 1
    start[k] = n
    return start[:k + 1]


@numba.njit(cache=True, nogil=True)
def _ring_hashes(bits, start):
    out = np.empty(len(start) - 1, np.uint64)
    prime = np.uint64(1099511628211)
    for r in range(len(start) - 1):
        h = np.uint64(14695981039346656037)
        for i in range(start[r], start[r + 1]):
            h = (h ^ np.uint64(bits[i, 0])) * prime
            h = (h ^ np.uint64(bits[i, 1])) * prime
        out[r] = h
    return out


@numba.njit(cache=True, nogil=True)
def _first_copies(bits, start, order):
    """Each coordinate's position in the first copy of its run (itself if none before)."""
    src = np.arange(len(bits))
    kept = -1
    for k in range(len(order)):
        r = order[k]
        a = start[r]
        m = start[r + 1] - a
        if kept >= 0 and start[kept + 1] - start[kept] == m:
            b = start[kept]
            same = True
            for i in range(m):
                if bits[a + i, 0] != bits[b + i, 0] or bits[a + i, 1] != bits[b + i, 1]:
                    same = False
                    break
            if same:
                for i in range(m):
                    src[a + i] = b + i
                continue
        kept = r
    return src


@numba.njit(cache=True, nogil=True)
def _placed(src, x, y):
    out = np.empty((len(src), 2))
    j = 0
    for k in range(len(src)):
        if src[k] == k:
            out[k, 0] = x[j]
            out[k, 1] = y[j]
            j += 1
        else:
            out[k] = out[src[k]]
    return out


def rings_once(geoms, transformer, shares: list | None = None):
    """``shapely.transform`` through ``transformer``, each repeated ring projected once."""
    def once(xy):
        if len(xy) == 0:
            return xy.copy()
        start = _closed_runs(xy)
        bits = xy.view(np.int64)
        src = _first_copies(bits, start, np.argsort(_ring_hashes(bits, start), kind="stable"))
        own = src == np.arange(len(xy))
        if shares is not None:
            shares.append((int(own.sum()), len(xy)))
        x, y = transformer.transform(xy[own, 0], xy[own, 1])
        return _placed(src, np.asarray(x, float), np.asarray(y, float))
    return shapely.transform(geoms, once)


def part_projection(run_dir: Path, n_chunks: int) -> dict:
    import geopandas as gpd
    import pyogrio
    from pyproj import Transformer

    from livingcircle.isochrones import spatial_order
    from livingcircle.settings import isochrone_chunk_size

    comm = gpd.read_file(run_dir / "communities.gpkg")
    utm = comm.estimate_utm_crs()
    ids = comm["community_id"].astype(str).to_numpy()
    order = ids[spatial_order(comm.to_crs(utm).geometry.centroid.values)]
    halves = np.array_split(order, 2)  # the two workers' parts of the city (_streams)
    per = isochrone_chunk_size // 2
    tr = Transformer.from_crs(utm, 4326, always_xy=True)

    def plain(g):
        return shapely.transform(g, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))

    rows, shares = [], []
    for k in np.linspace(0, len(halves[0]) - per, n_chunks).astype(int):
        chunk = [*halves[0][k:k + per], *halves[1][k:k + per]]
        where = "community_id IN ({})".format(",".join(f"'{c}'" for c in chunk))
        layer = pyogrio.read_dataframe(run_dir / "out" / "livingcircle.gpkg",
                                       layer="isochrones", where=where)
        geoms = np.asarray(layer.to_crs(utm).geometry.values, dtype=object)
        rings_once(geoms[:3], tr)  # compiled before timing
        t0 = time.process_time()
        a = plain(geoms)
        t1 = time.process_time()
        got = []
        b = rings_once(geoms, tr, got)
        t2 = time.process_time()
        if not (shapely.to_wkb(a) == shapely.to_wkb(b)).all():
            msg = "rings_once gave other coordinates than shapely.transform"
            raise AssertionError(msg)
        n = int(shapely.get_num_coordinates(geoms).sum())
        shares += got
        rows.append({"polygons": len(geoms), "coordinates": n, "plain_s": round(t1 - t0, 3),
                     "rings_once_s": round(t2 - t1, 3)})
    n = sum(r["coordinates"] for r in rows)
    p = sum(r["plain_s"] for r in rows)
    s = sum(r["rings_once_s"] for r in rows)
    return {"chunks": rows, "coordinates": n,
            "projected_share": round(sum(o for o, _ in shares) / sum(t for _, t in shares), 3),
            "plain_ns_per_coordinate": round(p / n * 1e9, 1),
            "rings_once_ns_per_coordinate": round(s / n * 1e9, 1), "same_wkb": True}


def part_approx(points: int = 2_000_000) -> dict:
    from pyproj import Transformer

    exact = Transformer.from_crs(32652, 4326, always_xy=True)
    approx = Transformer.from_pipeline(
        "+proj=pipeline +step +inv +proj=tmerc +approx +lon_0=129 +k=0.9996 +x_0=500000 "
        "+ellps=WGS84 +step +proj=unitconvert +xy_in=rad +xy_out=deg")
    fwd = Transformer.from_crs(4326, 32652, always_xy=True)
    rng = np.random.default_rng(3)
    out = {"points": points, "places": {}}
    x, y = fwd.transform(126.63 + rng.uniform(-0.2, 0.2, points),
                         45.76 + rng.uniform(-0.2, 0.2, points))
    for name, t in (("exact", exact), ("approx", approx)):
        best = np.inf
        for _ in range(3):
            t0 = time.process_time()
            t.transform(x, y)
            best = min(best, time.process_time() - t0)
        out[f"{name}_ns_per_point"] = round(best / len(x) * 1e9, 1)
    for lon, lat in [(126.63, 45.76), (126.0, 45.0), (125.5, 50.0), (129.0, 45.0),
                     (132.5, 53.0)]:
        x, y = fwd.transform(lon + rng.uniform(-0.1, 0.1, 1000), lat + rng.uniform(-0.1, 0.1, 1000))
        a, b = np.asarray(exact.transform(x, y)), np.asarray(approx.transform(x, y))
        metres = np.hypot((a[0] - b[0]) * 111_320 * np.cos(np.radians(lat)),
                          (a[1] - b[1]) * 110_574)
        out["places"][f"{lon},{lat}"] = float(f"{metres.max():.3g}")
    return out


# -- the city centre's origins, drawn as a worker draws them -------------------------------
@functools.cache
def _network(network: str, origins: int):
    """``bench_union_inputs._network``, built once for every part that draws on it."""
    import bench_union_inputs

    return bench_union_inputs._network(network, origins)


def _centre(origins: int, network: str = "centre"):
    """The network's Access, the origins' rows in a worker's spatial order, a search."""
    from livingcircle.routing import BoundedSearch

    iso = importlib.import_module("livingcircle.isochrones")
    acc, ids = _network(network, origins)
    rows = np.flatnonzero(acc.communities["community_id"].astype(str).isin(ids).to_numpy())
    cent = acc.communities.to_crs(acc.crs).geometry.centroid.to_numpy()
    rows = rows[iso.spatial_order(cent[rows])]
    search = BoundedSearch(acc.graph)
    work = np.full(acc.graph.n_nodes, np.inf)
    return iso, acc, rows, search, work


def _draw_all(iso, acc, maker, rows, search, work) -> float:
    t0 = time.process_time()
    for i in rows:
        starts = acc.community_nodes[i]
        if len(starts):
            nodes, dist = search(starts, np.zeros(len(starts)), 15 * 80.0)
            iso._draw(maker, {"adult": 80.0}, [5.0, 10.0, 15.0], nodes, dist, work)
    return time.process_time() - t0


def _banded(iso, blocks, cuts, lines, r: float, eta: float):
    """``_less_round_ends`` without the pairs whose piece keeps ``r - eta`` from the block.

    A copy of the maker's function with one line added (``near``), kept whole so that the two
    are timed side by side on the same calls.
    """
    if not len(cuts) or not len(blocks.rings):
        return blocks
    hole = np.asarray(shapely.polygons(blocks.rings), dtype=object)
    hi, ci = shapely.STRtree(cuts).query(hole, predicate="intersects")
    near = shapely.distance(lines[ci], hole[hi]) < r - eta
    hi, ci = hi[near], ci[near]
    entered = ~shapely.touches(cuts[ci], hole[hi])
    if not entered.any():
        return blocks
    hi, ci = hi[entered], ci[entered]
    keep = np.ones(len(hole), dtype=bool)
    keep[hi] = False
    entered_h, first, count = np.unique(hi, return_index=True, return_counts=True)
    one = count == 1
    left = np.empty(len(entered_h), dtype=object)
    left[one] = shapely.difference(hole[entered_h[one]], cuts[ci[first[one]]])
    for k in np.flatnonzero(~one):
        left[k] = shapely.difference(hole[entered_h[k]],
                                     shapely.union_all(cuts[ci[hi == entered_h[k]]]))
    parts = shapely.get_parts(shapely.remove_repeated_points(left, iso._SAME_POINT_M))
    parts = parts[(shapely.get_type_id(parts) == iso.POLYGON_TYPE) & ~shapely.is_empty(parts)]
    rings = np.asarray(shapely.get_exterior_ring(parts), dtype=object)
    return iso.Holes(np.concatenate([blocks.rings[keep], rings]),
                     np.concatenate([blocks.inside[keep],
                                     shapely.get_coordinates(shapely.point_on_surface(parts))
                                     .reshape(-1, 2)]))


def part_round_ends(origins: int, network: str) -> dict:
    iso, acc, rows, search, work = _centre(origins, network)
    maker = iso.maker_for(acc, iso.buffer_width(None))
    r, eta = maker.buffer_m, 1e-6
    line_of, calls = {}, []
    buffered = iso.IsochroneMaker.cut_buffers
    less = iso._less_round_ends

    def cut_buffers(self, pe, ps, pf):  # the maker's, keeping each piece's line
        if len(pe) == 0:
            return iso.NO_POLYGONS
        lines = iso.substrings(self.geom[pe], ps, pf)
        out = shapely.buffer(lines, self.buffer_m, quad_segs=iso.QUAD_SEGS)
        line_of.update(zip(map(id, out), lines, strict=True))
        return out

    def kept(blocks, cuts):
        if len(cuts) and len(blocks.rings):
            calls.append((blocks, cuts, np.array([line_of[id(c)] for c in cuts], dtype=object)))
        return less(blocks, cuts)

    iso.IsochroneMaker.cut_buffers, iso._less_round_ends = cut_buffers, kept
    try:
        drawing = _draw_all(iso, acc, maker, rows, search, work)
    finally:
        iso.IsochroneMaker.cut_buffers, iso._less_round_ends = buffered, less
    pairs = entered = 0
    taken = []
    for blocks, cuts, _lines in calls:
        hole = np.asarray(shapely.polygons(blocks.rings), dtype=object)
        hi, ci = shapely.STRtree(cuts).query(hole, predicate="intersects")
        inside = ~shapely.touches(cuts[ci], hole[hi])
        pairs += len(hi)
        entered += int(inside.sum())
        taken += shapely.area(shapely.intersection(hole[hi[inside]], cuts[ci[inside]])).tolist()
    taken = np.asarray(taken)
    times = {"maker": [], "banded": []}
    for _ in range(3):
        t0 = time.process_time()
        a = [less(b, c) for b, c, _l in calls]
        t1 = time.process_time()
        b = [_banded(iso, bl, c, li, r, eta) for bl, c, li in calls]
        t2 = time.process_time()
        times["maker"].append(round(t1 - t0, 3))
        times["banded"].append(round(t2 - t1, 3))
    differ, hausdorff = 0, 0.0
    for x, y in zip(a, b, strict=True):
        px = shapely.union_all(shapely.polygons(x.rings))
        py = shapely.union_all(shapely.polygons(y.rings))
        if not shapely.equals_exact(px, py, 0.0):
            differ += 1
            hausdorff = max(hausdorff, float(shapely.hausdorff_distance(px, py)))
    return {"origins": len(rows), "drawing_cpu_s": round(drawing, 2), "calls": len(calls),
            "pairs_intersecting": pairs, "pairs_entered": entered,
            "entered_taking_m2": {f"<{q:g}": int((taken < q).sum())
                                  for q in (1e-9, 1e-6, 1e-3, 1.0, 10.0)},
            "cpu_s": times, "calls_differing": differ, "max_hausdorff_m": hausdorff}


def part_cell_unions(network: str, origins: int) -> dict:
    from livingcircle._union import union_polygons

    iso, acc, _rows, _search, _work = _centre(origins, network)
    maker = iso.maker_for(acc, iso.buffer_width(None)).with_empty_caches()
    unions = []
    geos = shapely.union_all

    def kept(pieces, *a, **k):
        unions.append(np.asarray(pieces, dtype=object))
        return geos(pieces, *a, **k)

    shapely.union_all = kept
    try:
        t0 = time.process_time()
        maker.built_under(maker.top_cells())
        build = time.process_time() - t0
    finally:
        shapely.union_all = geos
    out = {"unions": len(unions), "build_cpu_s": round(build, 2), "by_vertices": {}}
    edges = [0, 100, 1000, 10_000, 10**9]
    size = np.array([int(shapely.get_num_coordinates(p).sum()) for p in unions])
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        some = [p for p, s in zip(unions, size, strict=True) if lo <= s < hi]
        if not some:
            continue
        t0 = time.process_time()
        a = [geos(p) for p in some]
        t1 = time.process_time()
        b = [union_polygons(p) for p in some]
        t2 = time.process_time()
        sym = max(float(shapely.area(shapely.symmetric_difference(x, y)))
                  for x, y in zip(a[:300], b[:300], strict=True))
        out["by_vertices"][f"{lo}-{hi}"] = {
            "unions": len(some), "pieces_mean": round(float(np.mean([len(p) for p in some])), 1),
            "geos_s": round(t1 - t0, 3), "clipper2_s": round(t2 - t1, 3),
            "max_symmetric_difference_m2_first_300": float(f"{sym:.2g}")}
    return out


def part_gc(origins: int, rounds: int, network: str) -> dict:
    iso, acc, rows, search, work = _centre(origins, network)
    maker = iso.maker_for(acc, iso.buffer_width(None))
    _draw_all(iso, acc, maker, rows, search, work)  # every cell built and cached
    on, off = [], []
    for _ in range(rounds):
        on.append(round(_draw_all(iso, acc, maker, rows, search, work), 2))
        gc.disable()
        try:
            off.append(round(_draw_all(iso, acc, maker, rows, search, work), 2))
        finally:
            gc.enable()
    return {"origins": len(rows), "gc_threshold": list(gc.get_threshold()),
            "tracked_objects": len(gc.get_objects()), "cpu_s_gc_on": on, "cpu_s_gc_off": off}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", nargs="+", default=PARTS, choices=PARTS)
    ap.add_argument("--network", default="centre",
                    help="'centre' (bench_city.py --centre) or lattice@<spacing> (2,500 nodes, "
                         "a quick check) for parts round_ends, cell_unions and gc")
    ap.add_argument("--origins", type=int, default=400, help="communities drawn")
    ap.add_argument("--chunks", type=int, default=4, help="chunks of part 'projection'")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds of part 'gc'")
    ap.add_argument("--points", type=int, default=2_000_000, help="points of part 'approx'")
    ap.add_argument("--run-dir", type=Path, default=CENTRE_RUN,
                    help="a finished bench_city.py run (its communities.gpkg and out/)")
    ap.add_argument("--out", type=Path, default=HERE / "_work" / "bench_isochrone_leftovers.jsonl")
    args = ap.parse_args(argv)
    if min(args.origins, args.chunks, args.rounds, args.points) < 1:
        ap.error("--origins, --chunks, --rounds and --points: give 1 or more")
    if "projection" in args.parts and not (args.run_dir / "out" / "livingcircle.gpkg").exists():
        ap.error(f"{args.run_dir / 'out' / 'livingcircle.gpkg'} is missing: run "
                 "bench_city.py first (--centre for the default --run-dir)")
    import subprocess

    code = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=HERE, check=False).stdout.strip()
    base = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "code": code,
            "cores": os.cpu_count(), "python": sys.version.split()[0], "threads": 1}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for part in args.parts:
        if part == "projection":
            got = part_projection(args.run_dir, args.chunks)
        elif part == "approx":
            got = part_approx(args.points)
        elif part == "round_ends":
            got = part_round_ends(args.origins, args.network)
        elif part == "cell_unions":
            got = part_cell_unions(args.network, args.origins)
        else:
            got = part_gc(min(args.origins, 300), args.rounds, args.network)
        where = str(args.run_dir) if part == "projection" else (
            "synthetic" if part == "approx" else args.network)
        line = json.dumps({"part": part, "network": where, **base, **got})
        print(line, flush=True)
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
