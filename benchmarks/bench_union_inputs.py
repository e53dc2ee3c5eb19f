"""What the union of an isochrone costs, and two ways that did not make it cheaper.

The union through Clipper2 (:func:`livingcircle._union.union_polygons`) is more than half of
drawing an isochrone. Two questions decide where to go next; this script measures both on the
same origins, one thread, every cell cached (after an untimed pass that builds them).

``inputs``
    Every union the maker makes while drawing the origins' 5/10/15-minute polygons (80 m/min)
    is captured, then timed again in CPU seconds through manifold3d's ``CrossSection`` (the
    call ``union_polygons`` makes on the rings of :func:`livingcircle._union.contours`, without
    the conversions back) two ways: the pieces as the maker
    passed them, and the same pieces moved apart so that no two overlap (the same vertices, no
    intersections: what disjoint pre-cut faces would give if they kept the vertex count).
    Recorded: input and output vertices per union, ms per union, µs per input vertex, for the
    unions of 16 pieces and more (those that go through Clipper2). If ``pyclipr`` or
    ``pyclipper`` can be imported (they are not dependencies), the same unions through them.
``speeds``
    The polygons of three speed profiles (``adult``, ``elderly``, ``winter``: 9 thresholds per
    origin), drawn as ``isochrones()`` draws them (each speed its own 5 ⊆ 10 ⊆ 15 chain) and as
    one chain over all nine thresholds in metres (each polygon built on the next smaller one
    of any speed, so that it unites fewer new cells). CPU ms per origin for each, alternating
    over ``--rounds``, and how far the polygons differ (largest Hausdorff distance, relative
    area).

``decompositions``
    Two ways to give the union fewer vertices, counted before anything is built (Clipper2's time
    follows the vertices it is given, part ``inputs``). The origins here are the first
    ``--origins`` communities in the spatial order a worker draws them in (neighbours one after
    the other), 5/10/15 minutes at 80 m/min, every cell built first:

    * ``descent``: a cell the polygon takes whole although some of its streets are already inside
      the smaller polygon is replaced by those of its sub-cells that hold new streets, wherever
      that gives fewer vertices (chosen recursively, the best case of such a rule);
    * ``core``: the whole streets that each of ``G`` neighbouring origins reach at a threshold
      (``--groups``) are united once; each origin's union then takes that core's outline instead
      of the cells it covers, plus its share (1/G) of the core's own union.

    Recorded per threshold: the vertices each union is given now and with the decomposition,
    and the cells it takes now by their size (cells per origin, their vertices).

Usage::

    python benchmarks/bench_union_inputs.py --origins 200 \\
        --out benchmarks/results/2026-12-06_union_inputs.jsonl      # the city centre
    python benchmarks/bench_union_inputs.py --network lattice@50 --origins 20 --parts speeds
    python benchmarks/bench_union_inputs.py --origins 200 --parts decompositions --groups 4 8 16

One JSON line per part is appended to ``--out`` (default
``benchmarks/_work/bench_union_inputs.jsonl``) and printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: The speed profiles of part ``speeds`` (the profile's adult, elderly and winter walkers).
SPEEDS = ["adult", "elderly", "winter"]
MINUTES = [5.0, 10.0, 15.0]


def _network(name: str, origins: int):
    """Return (Access, community ids): the city centre or a lattice ``lattice@<spacing>``."""
    if name.startswith("lattice@"):
        import bench_cell_cover

        return bench_cell_cover._lattice_and_origins(float(name.partition("@")[2]), origins,
                                                     n_nodes=2_500)
    import bench_smallest_cell

    return bench_smallest_cell._network_and_origins(name, origins, origins)


def _apart(contours: list[np.ndarray]) -> list[np.ndarray]:
    """The same rings, each moved east past the one before: no two overlap."""
    out, x = [], 0.0
    for c in contours:
        lo, hi = c[:, 0].min(), c[:, 0].max()
        out.append(c + [x - lo, 0.0])
        x += hi - lo + 10.0
    return out


def _time(fn, unions: list) -> tuple[float, list]:
    t0 = time.process_time()
    got = [fn(c) for c in unions]
    return time.process_time() - t0, got


def _unions_through(name: str):
    """Return the union function of a Clipper binding that can be imported, or None."""
    if name == "manifold3d":
        from manifold3d import CrossSection, FillRule

        return lambda c: CrossSection(c, FillRule.Positive).to_polygons()
    try:
        if name == "pyclipr":
            import pyclipr
        else:
            import pyclipper
    except ImportError:
        return None
    if name == "pyclipr":
        def by_pyclipr(c):
            pc = pyclipr.Clipper()
            pc.scaleFactor = int(1e8)  # manifold3d's 8 decimals
            pc.addPaths(c, pyclipr.Subject)
            return pc.execute(pyclipr.Union, pyclipr.FillRule.Positive)
        return by_pyclipr

    def by_pyclipper(c):  # Clipper 1 works on 64-bit integers: metres from the first vertex
        o = c[0][0].round()
        pc = pyclipper.Pyclipper()
        pc.AddPaths([pyclipper.scale_to_clipper(x - o, 2 ** 20) for x in c],
                    pyclipper.PT_SUBJECT, True)
        return pc.Execute(pyclipper.CT_UNION, pyclipper.PFT_POSITIVE, pyclipper.PFT_POSITIVE)
    return by_pyclipper


def part_inputs(acc, ids, search, work) -> dict:
    """Capture the maker's unions of the origins' polygons and time them as given and apart."""
    from livingcircle import _union
    from livingcircle.isochrones import _draw, buffer_width, maker_for

    maker = maker_for(acc, buffer_width(None))
    speeds = {"adult": acc.speeds["adult"]}
    rows = _rows_of(acc, ids)

    def draw_all():
        for i in rows:
            starts = np.asarray(acc.community_nodes[i])
            nodes, dist = search(starts, np.zeros(len(starts)), max(MINUTES) * speeds["adult"])
            _draw(maker, speeds, MINUTES, nodes, dist, work)

    draw_all()  # untimed: builds every cell the origins use
    captured = []
    real = _union.union_polygons

    def spy(pieces):
        captured.append(list(pieces))
        return real(pieces)

    _union.union_polygons = spy
    try:
        draw_all()
    finally:
        _union.union_polygons = real
    unions = [_union.contours(p) for p in captured]
    if not unions:
        return {"unions": 0}
    n_in = np.array([sum(len(c) for c in u) for u in unions])
    rec = {"unions": len(unions), "pieces_mean": round(float(np.mean([len(p) for p in captured])),
                                                       1),
           "input_vertices_mean": round(float(n_in.mean()), 1)}
    manifold = _unions_through("manifold3d")
    for label, given in (("as_given", unions), ("apart", [_apart(u) for u in unions])):
        _time(manifold, given[: max(1, len(given) // 10)])  # untimed warm-up
        cpu, got = _time(manifold, given)
        n_out = np.array([sum(len(r) for r in g) for g in got])
        rec[label] = {"ms_per_union": round(1000 * cpu / len(given), 3),
                      "us_per_input_vertex": round(1e6 * cpu / n_in.sum(), 3),
                      "output_vertices_mean": round(float(n_out.mean()), 1)}
    for binding in ("pyclipr", "pyclipper"):
        fn = _unions_through(binding)
        if fn is None:
            rec[binding] = "not installed"
            continue
        cpu, _got = _time(fn, unions)
        rec[binding] = {"ms_per_union": round(1000 * cpu / len(unions), 3)}
    return rec


def _rows_of(acc, ids) -> np.ndarray:
    """The rows (positions) of the communities ``ids`` that reach the network."""
    rows = np.flatnonzero(acc.communities["community_id"].astype(str).isin(set(map(str, ids))))
    return np.array([i for i in rows if len(acc.community_nodes[i])], dtype=np.int64)


def part_speeds(acc, ids, search, work, rounds: int) -> dict:
    """Draw three speeds' polygons per speed and as one chain; CPU and differences."""
    from livingcircle.isochrones import _draw, _speeds, buffer_width, maker_for

    maker = maker_for(acc, buffer_width(None))
    speeds = _speeds(acc, SPEEDS)
    radius = max(MINUTES) * max(speeds.values())
    rows = _rows_of(acc, ids)
    searched = []
    for i in rows:
        starts = np.asarray(acc.community_nodes[i])
        nodes, dist = search(starts, np.zeros(len(starts)), radius)
        searched.append((nodes.copy(), dist.copy()))

    def per_speed(nodes, dist):  # as isochrones() draws them
        return _draw(maker, speeds, MINUTES, nodes, dist, work)

    def one_chain(nodes, dist):
        reached = maker.segments_reached(nodes, dist, work)
        out, inner = {}, None
        for T, sp, m in sorted((m * s, sp, m) for sp, s in speeds.items() for m in MINUTES):
            inner = maker.polygon(reached, T, inner)
            out[sp, m] = inner.polygon
        return out

    ways = {"per_speed": per_speed, "one_chain": one_chain}
    for f in ways.values():  # untimed: builds every cell
        for n, d in searched:
            f(n, d)
    cpu = {k: [] for k in ways}
    got = {}
    for r in range(rounds):
        for k in (list(ways) if r % 2 == 0 else list(ways)[::-1]):
            t0 = time.process_time()
            got[k] = [ways[k](n, d) for n, d in searched]
            cpu[k].append(round(1000 * (time.process_time() - t0) / len(searched), 2))
    haus, rel = [], []
    for a, b in zip(got["per_speed"], got["one_chain"], strict=True):
        for key, pa in a.items():
            haus.append(shapely.hausdorff_distance(pa, b[key]))
            rel.append(b[key].area / pa.area - 1 if pa.area else 0.0)
    return {"speeds": speeds, "thresholds_per_origin": len(speeds) * len(MINUTES),
            "cpu_ms_per_origin": cpu,
            "max_hausdorff_m": round(float(max(haus)), 4),
            "mean_hausdorff_m": round(float(np.mean(haus)), 4),
            "area_rel_diff_range": [float(min(rel)), float(max(rel))]}


def part_decompositions(acc, search, work, origins: int, groups: list[int]) -> dict:
    """Vertices each union is given now, with the cells' descent, and with a group's core."""
    from livingcircle import _union
    from livingcircle.isochrones import buffer_width, maker_for, spatial_order

    maker = maker_for(acc, buffer_width(None))
    speed = acc.speeds["adult"]
    centroids = acc.communities.to_crs(acc.crs).geometry.centroid.to_numpy()
    rows = [int(i) for i in spatial_order(centroids) if len(acc.community_nodes[i])][:origins]
    reached = []
    for i in rows:
        starts = np.asarray(acc.community_nodes[i])
        nodes, dist = search(starts, np.zeros(len(starts)), max(MINUTES) * speed)
        reached.append(maker.segments_reached(nodes, dist, work))
    n_edges = len(maker.geom)
    counted: dict = {}

    def nv(geoms) -> int:
        return int(shapely.get_num_coordinates(np.asarray(geoms, dtype=object)).sum()) \
            if len(geoms) else 0

    def cell_v(lv: int, c: int) -> int:
        if (lv, c) not in counted:
            counted[lv, c] = int(shapely.get_num_coordinates(maker._cell_filled(lv, c)[0]))
        return counted[lv, c]

    def descent(lv: int, c: int, covered: np.ndarray) -> int:
        level = maker.levels[lv]
        new = ~covered[level["members"][level["ptr"][c]:level["ptr"][c + 1]]]
        if not new.any():
            return 0
        if lv == 0 or new.all():
            return cell_v(lv, c)
        kids = level["children"][level["child_ptr"][c]:level["child_ptr"][c + 1]]
        return min(cell_v(lv, c), sum(descent(lv - 1, int(k), covered) for k in kids))

    def given(whole, covered, cut_v, inner_v) -> tuple[int, list]:
        """Vertices of one union: the smaller polygon, cells, other streets, cut pieces."""
        cells, rest = maker._whole_cells(whole, covered) if len(whole) else ([], [])
        return (inner_v + sum(cell_v(lv, c) for lv, c in cells)
                + nv(maker.edge_buffers(rest)) + cut_v), cells

    now = np.zeros(len(MINUTES))
    by_descent = np.zeros(len(MINUTES))
    by_core = {g: np.zeros(len(MINUTES)) for g in groups}
    by_level = np.zeros((len(MINUTES), len(maker.levels), 2))  # cells taken, their vertices
    # per origin and threshold, drawn once: (whole streets, streets inside the smaller polygon,
    # its vertices, the cut pieces' vertices); the cores below count with them
    drawn: list[list[tuple]] = []
    for r in reached:
        inner, mine = None, []
        for j, m in enumerate(MINUTES):
            whole, pe, ps, pf = maker.parts(r, m * speed)
            cut_v = nv(maker.cut_buffers(pe, ps, pf))
            covered = inner.whole if inner is not None and not inner.filled.is_empty else None
            inner_v = nv([inner.filled]) if covered is not None else 0
            mine.append((whole, covered, inner_v, cut_v))
            v, cells = given(whole, covered, cut_v, inner_v)
            now[j] += v
            for lv, c in cells:
                by_level[j, lv] += (1, cell_v(lv, c))
            mask = np.zeros(n_edges, dtype=bool)
            if covered is not None:
                mask[covered] = True
            by_descent[j] += v - sum(cell_v(lv, c) - descent(lv, c, mask) for lv, c in cells)
            inner = maker.polygon(r, m * speed, inner)
        drawn.append(mine)
    for g in groups:
        for g0 in range(0, len(reached), g):
            members = [k for k in range(g0, min(g0 + g, len(reached)))
                       if reached[k] is not None]
            for j in range(len(MINUTES)):
                common = None
                for k in members:
                    w = drawn[k][j][0]
                    common = w if common is None else np.intersect1d(common, w)
                core_in = core_out = 0
                if common is not None and len(common):
                    pieces = maker.whole_pieces(common)
                    core_in = nv(pieces)
                    core_out = nv([_union.union_of(pieces)])
                for k in members:
                    whole, covered, inner_v, cut_v = drawn[k][j]
                    both = common if covered is None else (
                        np.union1d(covered, common) if common is not None else covered)
                    v, _cells = given(whole, both, cut_v, inner_v)
                    by_core[g][j] += v + core_out + core_in / len(members)
    n = len(reached)
    per = {f"{m:g}": {} for m in MINUTES}
    for j, m in enumerate(MINUTES):
        row = per[f"{m:g}"]
        row["now"] = round(now[j] / n, 1)
        row["descent"] = round(by_descent[j] / n, 1)
        for g in groups:
            row[f"core_{g}"] = round(by_core[g][j] / n, 1)
    total = {"now": round(float(now.sum()) / n, 1),
             "descent": round(float(by_descent.sum()) / n, 1)}
    total |= {f"core_{g}": round(float(by_core[g].sum()) / n, 1) for g in groups}
    cells = {f"{m:g}": {f"{maker.cell_m * 2 ** lv:g} m": [round(float(x), 1) for x in
                                                        by_level[j, lv] / n]
                          for lv in range(len(maker.levels)) if by_level[j, lv, 0]}
             for j, m in enumerate(MINUTES)}
    return {"origins_in_spatial_order": n, "groups": groups,
            "vertices_per_union": per, "vertices_per_origin": total,
            "cells_per_union_by_size": cells}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--network", default="centre",
                    help="'centre' (bench_city.py --centre, its first communities) or "
                         "lattice@<spacing> (2,500 nodes, for a quick check)")
    ap.add_argument("--origins", type=int, default=200)
    ap.add_argument("--parts", nargs="+", default=["inputs", "speeds"],
                    choices=["inputs", "speeds", "decompositions"])
    ap.add_argument("--groups", nargs="+", type=int, default=[4, 8, 16],
                    help="neighbouring origins per core of part 'decompositions'")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of 'speeds'")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "_work"
                                         / "bench_union_inputs.jsonl"))
    args = ap.parse_args(argv)
    if args.origins < 1 or args.rounds < 1 or min(args.groups) < 1:
        ap.error("--origins, --rounds and --groups: give 1 or more")
    if args.network != "centre":
        spacing = args.network.partition("@")[2] if args.network.startswith("lattice@") else ""
        try:
            ok = float(spacing) > 0
        except ValueError:
            ok = False
        if not ok:
            ap.error(f"--network {args.network!r}: give 'centre' or lattice@<block metres>, "
                     "e.g. lattice@50")

    from livingcircle.routing import BoundedSearch

    acc, ids = _network(args.network, args.origins)
    search = BoundedSearch(acc.graph)
    work = np.full(acc.graph.n_nodes, np.inf)
    base = {"network": args.network, "origins": len(ids), "threads": 1,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cores": os.cpu_count(), "python": sys.version.split()[0]}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for part in args.parts:
        if part == "inputs":
            got = part_inputs(acc, ids, search, work)
        elif part == "speeds":
            got = part_speeds(acc, ids, search, work, args.rounds)
        else:
            got = part_decompositions(acc, search, work, args.origins, args.groups)
        rec = base | {"part": part} | got
        line = json.dumps(rec, ensure_ascii=False)
        print(line, flush=True)
        with out.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
