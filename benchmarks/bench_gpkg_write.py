"""Writing a result's GeoPackage layers row by row against through Arrow: time and memory.

Reads every layer of a written ``livingcircle.gpkg``, then writes each one alone into a new
GeoPackage, once with pyogrio's row-by-row writer (what ``livingcircle`` does) and once through
Arrow (``use_arrow=True``), each in a child process of its own. A child reports the seconds of
the write and the resident memory it added (``VmHWM`` after the write less ``VmRSS`` before it,
the peak reset before the write through ``/proc/self/clear_refs``). Then it writes the whole
file both ways and compares what pyogrio reads back, layer by layer (field types, values and the
WKB of every geometry).

The Arrow side needs pyarrow, which is not a dependency of livingcircle
(``benchmarks/CITY_SCALE.md``, "Runs 50–57": installed, it raised the city centre's peak by
180 MB); without it only the row-by-row side is measured.

Usage::

    python benchmarks/bench_city.py --centre      # writes the city centre's result, then:
    python benchmarks/bench_gpkg_write.py \
        benchmarks/_work/city_58564_1600_2300_centre/out/livingcircle.gpkg
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _layers(src: Path) -> list[str]:
    import pyogrio

    return [str(n) for n, _ in pyogrio.list_layers(src)]


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(src: Path, layer: str, mode: str, out: Path) -> None:
    """Write one layer one way; print its seconds and the memory the write added (JSON)."""
    import gc

    import pyogrio

    df = pyogrio.read_dataframe(src, layer=layer)
    gc.collect()
    before = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
    t = time.perf_counter()
    pyogrio.write_dataframe(df, out, layer=layer, driver="GPKG", use_arrow=mode == "arrow")
    seconds = time.perf_counter() - t
    print(json.dumps({"layer": layer, "mode": mode, "rows": len(df),
                      "seconds": round(seconds, 3),
                      "added_mb": round(_status_mb("VmHWM") - before, 1)}))


def whole(frames: dict, out: Path, arrow: bool) -> float:
    """Write every layer (name → frame) into ``out`` one way; return the seconds of the writes."""
    import pyogrio

    t = time.perf_counter()
    for k, (name, df) in enumerate(frames.items()):
        pyogrio.write_dataframe(df, out, layer=name, driver="GPKG", append=k > 0,
                                use_arrow=arrow)
    return time.perf_counter() - t


def differences(a: Path, b: Path) -> list[str]:
    """Layers whose field types, values or geometries read back differently."""
    import pandas as pd
    import pyogrio
    import shapely

    out = []
    for name in _layers(a):
        da, db = (pyogrio.read_dataframe(p, layer=name) for p in (a, b))
        ia, ib = (pyogrio.read_info(p, layer=name) for p in (a, b))
        if list(ia["fields"]) != list(ib["fields"]) or list(ia["dtypes"]) != list(ib["dtypes"]):
            out.append(f"{name}: fields")
            continue
        if "geometry" in da.columns:
            if not (shapely.to_wkb(da.geometry.to_numpy())
                    == shapely.to_wkb(db.geometry.to_numpy())).all():
                out.append(f"{name}: geometry")
            da, db = pd.DataFrame(da.drop(columns="geometry")), pd.DataFrame(
                db.drop(columns="geometry"))
        try:
            pd.testing.assert_frame_equal(da, db, check_exact=True)
        except AssertionError as exc:
            out.append(f"{name}: {str(exc).splitlines()[0]}")
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gpkg", type=Path, help="a written livingcircle.gpkg")
    ap.add_argument("--child", nargs=3, metavar=("LAYER", "MODE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.gpkg, args.child[0], args.child[1], Path(args.child[2]))
        return
    modes = ["rows"] + (["arrow"] if importlib.util.find_spec("pyarrow") else [])
    with tempfile.TemporaryDirectory() as tmp:
        for layer in _layers(args.gpkg):
            for mode in modes:
                out = Path(tmp) / f"{layer}_{mode}.gpkg"
                subprocess.run([sys.executable, __file__, str(args.gpkg), "--child", layer,
                                mode, str(out)], check=True)
        if "arrow" in modes:
            import pyogrio

            frames = {n: pyogrio.read_dataframe(args.gpkg, layer=n) for n in _layers(args.gpkg)}
            rec = {}
            for arrow in (False, True, False, True):
                p = Path(tmp) / f"whole_{arrow}.gpkg"
                p.unlink(missing_ok=True)
                rec.setdefault("arrow" if arrow else "rows", []).append(
                    round(whole(frames, p, arrow), 2))
            rec["differences"] = differences(Path(tmp) / "whole_False.gpkg",
                                             Path(tmp) / "whole_True.gpkg")
            print(json.dumps({"whole_file_seconds": rec}))


if __name__ == "__main__":
    main()
