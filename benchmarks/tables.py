"""Print the README tables of ``bench_access.py`` results, straight from their JSON files.

    python benchmarks/tables.py benchmarks/results/2026-12-01_*.json

The figures in ``benchmarks/README.md`` are pasted from this script's output, so that no number
is copied by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _f(x, digits=3):
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def table_a(results: list[tuple[str, dict]]) -> str:
    head = ("| network | nodes | edges | livingcircle s (threads) | 1 thread s | scipy plain s | "
            "1 thread / scipy | nx multi-source s | nx per-origin s (extrap.) | pandana query s "
            "(build s) | cityseer s | × pandana | × cityseer | × nx multi | run (UTC), file |")
    rows = [head, "|" + "---|" * 15]
    for name, res in results:
        for n in res["networks"]:
            if "error" in n:
                rows.append(f"| {n['network']} | failed: {n['error'][:80]} |" + " |" * 13)
                continue
            t = n["timings_s"]
            sp = n.get("speedup_vs_livingcircle", {})
            cs = t.get("cityseer")
            cs_txt = "not run" if cs is None else _f(cs)
            if n.get("cityseer_extrapolated"):
                cs_txt += " (extrapolated)"
            pq = t.get("pandana")
            pd_txt = "not run" if pq is None else f"{_f(pq)} ({_f(t.get('pandana_build_s'), 1)})"
            rows.append(
                f"| {n['network']} | {n['nodes']:,} | {n['edges_undirected']:,} "
                f"| {_f(t['livingcircle'], 4)} ({n.get('threads', '?')}) "
                f"| {_f(t.get('livingcircle_1thread'), 4)} | {_f(t['scipy_plain'], 4)} "
                f"| {_f(n.get('ratio_livingcircle_1thread_over_scipy_plain'), 2)} "
                f"| {_f(t.get('networkx_multi_source'), 2)} "
                f"| {_f(t.get('networkx_per_origin'), 1)} | {pd_txt} | {cs_txt} "
                f"| {_f(sp.get('pandana'), 1)} | {_f(sp.get('cityseer'), 1)} "
                f"| {_f(sp.get('networkx_multi_source'), 1)} "
                f"| {res['machine']['date'][:16].replace('T', ' ')}, `{name}` |")
    return "\n".join(rows)


def table_agree(results: list[tuple[str, dict]]) -> str:
    rows = ["| network | method | max abs diff (m) | reached/not-reached mismatches | cells |",
            "|---|---|---|---|---|"]
    for _name, res in results:
        for n in res["networks"]:
            for k, v in n.items():
                if k.startswith("agree_"):
                    rows.append(f"| {n['network']} | {k[6:]} | {v['max_abs_diff_m']:.3g} | "
                                f"{v['reached_mismatch']} ({v['reached_mismatch_at_cutoff']} at "
                                f"the cutoff) | {v['cells']:,} |")
    return "\n".join(rows)


def table_b(results: list[tuple[str, dict]]) -> str:
    rows = ["| network | origins | livingcircle s (threads) | 1 thread s | ms / origin (1 thread) "
            "| osmnx example: sample s (origins) | osmnx extrap. s | speed-up (1 thread) "
            "| IoU mean 5/10/15 | IoU min 5/10/15 | share of lc outside osmnx 5/10/15 "
            "| share of osmnx outside lc 5/10/15 | IoU vs exact reference, min 5/10/15 "
            "| run (UTC), file |", "|" + "---|" * 14]
    for name, res in results:
        for n in res["networks"]:
            b = n.get("isochrones")
            if not b:
                continue

            def three(d, fmt="{:.3f}"):
                return " / ".join(fmt.format(d[str(m)] if str(m) in d else d[m])
                                  for m in (5, 10, 15))

            rows.append(
                f"| {n['network']} | {b['origins']:,} | {_f(b['livingcircle_s'], 1)} "
                f"({b.get('threads', '?')}) | {_f(b.get('livingcircle_1thread_s'), 1)} "
                f"| {_f(b['livingcircle_per_origin_ms'], 1)} "
                f"({_f(b.get('livingcircle_1thread_per_origin_ms'), 1)}) "
                f"| {_f(b['osmnx_example_sample_s'], 1)} ({b['osmnx_example_sample_origins']}) "
                f"| {_f(b['osmnx_example_extrapolated_s'], 0)} | {_f(b['speedup'], 1)} "
                f"({_f(b.get('speedup_1thread'), 1)}) | {three(b['iou_mean'])} "
                f"| {three(b['iou_min'])} | {three(b['share_of_lc_outside_osmnx_mean'])} "
                f"| {three(b['share_of_osmnx_outside_lc_mean'], '{:.4f}')} "
                f"| {three(b['iou_exact_reference_min'], '{:.7f}')} "
                f"| {res['machine']['date'][:16].replace('T', ' ')}, `{name}` |")
    return "\n".join(rows)


def table_memory(results: list[tuple[str, dict]]) -> str:
    rows = ["| size | nodes | peak RSS (VmHWM) MB | build s | table s | file |",
            "|---|---|---|---|---|---|"]
    for name, res in results:
        for m in res.get("memory", []):
            if "error" in m:
                rows.append(f"| {m.get('size')} | failed | | | | `{name}` |")
                continue
            rows.append(f"| {m['size']} | {m['nodes']:,} | {m['peak_rss_mb']:,.0f} "
                        f"| {m['build_s']:.1f} | {m['table_s']:.2f} | `{name}` |")
    return "\n".join(rows)


def main(argv=None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    results = [(p.name, json.loads(p.read_text())) for p in paths]
    for title, fn in (("(a) full table", table_a), ("agreement", table_agree),
                      ("(b) isochrones", table_b), ("(c) memory", table_memory)):
        print(f"### {title}\n\n{fn(results)}\n")
    for name, res in results:
        m = res["machine"]
        print(f"`{name}`: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB, Python {m['python']}, "
              f"{m['date']}, " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
