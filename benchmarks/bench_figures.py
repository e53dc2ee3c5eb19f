"""Time the figures and the printed report of a written result (default: the sample district).

Usage::

    python benchmarks/bench_figures.py                    # runs the sample district first
    python benchmarks/bench_figures.py --result results/  # a result written by `livingcircle run`

Prints one JSON object: seconds and files per kind of figure (overview, coverage maps, cluster
cards, one community card; PNG 300 dpi + SVG), seconds and pages of the A4 PDF report, the peak
resident memory of the process, and the load average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--result", help="a written result (folder or livingcircle.gpkg)")
    ap.add_argument("--community", default="C004", help="community id for the community card")
    args = ap.parse_args()

    import livingcircle as lc
    from livingcircle import figures
    from livingcircle.report import write_report
    from livingcircle.results import load_result

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-figures-") as d:
        d = Path(d)
        if args.result:
            src = Path(args.result)
        else:
            src = d / "result"
            lc.run_sample(progress=False).write(src, map_html=False)
        result = load_result(src)
        cats = list(dict.fromkeys(result.layers["coverage"]["category"].astype(str)))
        out: dict = {"result": str(args.result or "sample district"),
                     "communities": len(result.layers["communities"])}
        none = {"categories": [], "clusters": False, "overview": False}
        kinds = {
            "overview": {**none, "overview": True},
            "coverage": {**none, "categories": cats},
            "clusters": {**none, "clusters": True},
            "community": {**none, "communities": [args.community]},
        }
        for kind, opts in kinds.items():
            t = time.perf_counter()
            written = figures.write_figures(result, d / kind, **opts)
            secs = time.perf_counter() - t
            out[kind] = {"seconds": round(secs, 1), "files": len(written),
                         "mb": round(sum(p.stat().st_size for p in written) / 1e6, 1)}
        t = time.perf_counter()
        pdf = write_report(result, d / "report.pdf", paper="a4")
        out["report_pdf_a4"] = {"seconds": round(time.perf_counter() - t, 1),
                                "mb": round(pdf.stat().st_size / 1e6, 1)}
        try:
            from pypdf import PdfReader

            out["report_pdf_a4"]["pages"] = len(PdfReader(str(pdf)).pages)
        except ImportError:
            pass
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["load_before"] = [round(x, 1) for x in load_before]
    out["load_after"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
