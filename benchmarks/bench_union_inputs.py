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

Usage::

    python benchmarks/bench_union_inputs.py --origins 200 \\
        --out benchmarks/results/2026-12-06_union_inputs.jsonl      # the city centre
    python benchmarks/bench_union_inputs.py --network lattice@50 --origins 20 --parts speeds

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


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--network", default="centre",
                    help="'centre' (bench_city.py --centre, its first communities) or "
                         "lattice@<spacing> (2,500 nodes, for a quick check)")
    ap.add_argument("--origins", type=int, default=200)
    ap.add_argument("--parts", nargs="+", default=["inputs", "speeds"],
                    choices=["inputs", "speeds"])
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of 'speeds'")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "_work"
                                         / "bench_union_inputs.jsonl"))
    args = ap.parse_args(argv)
    if args.origins < 1 or args.rounds < 1:
        ap.error("--origins and --rounds: give 1 or more")
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
        rec = base | {"part": part} | (part_inputs(acc, ids, search, work) if part == "inputs"
                                       else part_speeds(acc, ids, search, work, args.rounds))
        line = json.dumps(rec, ensure_ascii=False)
        print(line, flush=True)
        with out.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")


if __name__ == "__main__":
    main()
