"""Rows and bytes of every layer of a GeoPackage, from SQLite's ``dbstat`` table.

A layer's bytes are the pages of its feature table, of its indexes and of its spatial index
(``rtree_<layer>_<geometry column>*``); GeoPackage bookkeeping tables are listed under
``(geopackage tables)``. The figures add up to the file size.

Usage::

    python benchmarks/gpkg_layers.py OUT/livingcircle.gpkg            # a markdown table
    python benchmarks/gpkg_layers.py OUT/livingcircle.gpkg --json     # one JSON line
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path


def layer_sizes(path: str | Path) -> dict:
    """Return ``{"file_bytes": n, "layers": [{"layer", "rows", "bytes"}, ...]}`` (largest first).

    Parameters
    ----------
    path
        A GeoPackage (an SQLite file); opened read-only.
    """
    path = Path(path)
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        layers = [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")]
        pages = dict(con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
        owner = {}
        for name, tbl in con.execute("SELECT name, tbl_name FROM sqlite_master"):
            owner[name] = tbl
        out = {layer: {"layer": layer, "bytes": 0,
                       "rows": con.execute(f'SELECT COUNT(*) FROM "{layer}"').fetchone()[0]}
               for layer in layers}
        rest = 0
        for name, size in pages.items():
            tbl = owner.get(name, name)
            layer = tbl if tbl in out else next(
                (la for la in layers if tbl.startswith(f"rtree_{la}_")), None)
            if layer is None:
                rest += size
            else:
                out[layer]["bytes"] += size
    finally:
        con.close()
    rows = sorted(out.values(), key=lambda r: -r["bytes"])
    rows.append({"layer": "(geopackage tables)", "rows": None, "bytes": rest})
    return {"file": str(path), "file_bytes": path.stat().st_size, "layers": rows}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gpkg")
    ap.add_argument("--json", action="store_true", help="one JSON line instead of a table")
    args = ap.parse_args(argv)
    got = layer_sizes(args.gpkg)
    if args.json:
        print(json.dumps(got))
        return
    print(f"{got['file']}: {got['file_bytes'] / 2**20:.1f} MB")
    print("| layer | rows | MB | share |")
    print("|---|---:|---:|---:|")
    for r in got["layers"]:
        rows = "" if r["rows"] is None else f"{r['rows']:,}"
        print(f"| {r['layer']} | {rows} | {r['bytes'] / 2**20:.2f} | "
              f"{100 * r['bytes'] / got['file_bytes']:.1f} % |")


if __name__ == "__main__":
    main()
