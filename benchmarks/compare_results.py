"""Compare the sample district's result before and after a change, layer by layer, cell by cell.

Issue 15 restructured the package "with behaviour unchanged". This script is how that is checked:
it runs the bundled sample district (``livingcircle demo`` and ``livingcircle recommend --demo``)
with two versions of the package and compares every layer of the two GeoPackages and every table
the runs write (CSV), cell by cell:

- the same layers, the same columns in the same order, the same number of rows in the same order;
- text, integer and boolean cells equal; floating-point cells equal within ``--rtol`` (default
  1e-9, relative) or ``--atol`` (default 1e-9); both-missing counts as equal;
- geometries equal within ``--geom-tol`` (default 1e-9 in the layer's own units, degrees for the
  WGS84 layers) by :func:`shapely.equals_exact`.

Rows of the metadata table that change with every run (run id, time, version, paths, timing) are
left out; everything else in it is compared.

Usage::

    python benchmarks/compare_results.py --before a81d9a3            # a git revision vs this tree
    python benchmarks/compare_results.py --before a81d9a3 --after /path/to/other/tree
    python benchmarks/compare_results.py --before-dir old/ --after-dir new/   # two result folders
    python benchmarks/compare_results.py --before a81d9a3 --allow gaps.capacity_ratio

``--allow LAYER.COLUMN`` (repeatable) names a difference that is intended (a bug fix with its own
test); ``--allow LAYER`` allows any difference in a layer. The exit status is 0 when the results
agree apart from what is allowed, 1 otherwise; every difference is printed with the layer, the
column, the first differing rows and the values.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely

REPO = Path(__file__).resolve().parents[1]

#: Metadata keys that differ between any two runs (identity and timing of the run, where files
#: were); everything else in the metadata table is compared.
VOLATILE_METADATA = ("run_id", "created", "created_at", "timestamp", "time", "version",
                     "livingcircle_version", "elapsed", "stages", "timings", "out", "paths",
                     "python", "host", "inputs_dir", "git")

#: Columns that hold the time a row was written, not a result.
VOLATILE_COLUMNS = {"layer_styles": ("update_time",)}

#: The runs compared: (output sub-folder, command line after ``livingcircle``).
RUNS = (("demo", ["demo", "--no-progress"]),
        ("recommend", ["recommend", "--demo", "--no-progress"]))


@dataclass
class Difference:
    """One way two results differ: where, what, and a few examples."""

    where: str                    # "run/file:layer" or "run/file:layer.column"
    what: str
    examples: list[str] = field(default_factory=list)

    def key(self) -> str:
        """``layer`` or ``layer.column``: what ``--allow`` matches."""
        return self.where.split(":", 1)[-1]

    def __str__(self) -> str:
        lines = [f"{self.where}: {self.what}"]
        lines += [f"    {e}" for e in self.examples]
        return "\n".join(lines)


def export_tree(rev: str, dest: Path) -> Path:
    """Write the files of git revision ``rev`` of this repository into ``dest`` (no checkout)."""
    data = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev],
                          check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def run_sample(tree: Path, out: Path) -> Path:
    """Run the sample district with the package in ``tree``; the results go under ``out``.

    The package is imported from ``tree`` (``PYTHONPATH``), with this interpreter's libraries,
    from a neutral working directory so that no other copy of the package is picked up.
    """
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0")
    code = "import sys; from livingcircle.cli import main; sys.exit(main(sys.argv[1:]))"
    for name, args in RUNS:
        dest = out / name
        proc = subprocess.run([sys.executable, "-c", code, *args, "--out", str(dest)],
                              env=env, cwd=out, capture_output=True, text=True)
        if proc.returncode != 0:
            msg = (f"livingcircle {' '.join(args)} failed in {tree} "
                   f"(exit {proc.returncode}):\n{proc.stderr[-3000:]}")
            raise SystemExit(msg)
    return out


def _is_float(s: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(s.dtype)


def _short(v, width: int = 160) -> str:
    r = repr(v.item() if isinstance(v, np.generic) else v)
    return r if len(r) <= width else r[:width - 3] + "..."


def _fmt_rows(idx, a: pd.Series, b: pd.Series, limit: int = 5) -> list[str]:
    return [f"row {i + 1}: before {_short(a.iloc[i])}, after {_short(b.iloc[i])}"
            for i in idx[:limit]]


def compare_column(where: str, a: pd.Series, b: pd.Series, *, rtol: float,
                   atol: float) -> Difference | None:
    """Compare one column of two tables row by row; ``None`` when they agree."""
    a = a.reset_index(drop=True)
    b = b.reset_index(drop=True)
    if _is_float(a) or _is_float(b):
        try:
            x = pd.to_numeric(a, errors="raise").to_numpy(dtype=float)
            y = pd.to_numeric(b, errors="raise").to_numpy(dtype=float)
        except (TypeError, ValueError):
            return Difference(where, f"type changed: {a.dtype} -> {b.dtype}")
        both_nan = np.isnan(x) & np.isnan(y)
        close = np.isclose(x, y, rtol=rtol, atol=atol) | both_nan
        bad = np.flatnonzero(~close)
        if len(bad):
            worst = np.nanmax(np.abs(x[bad] - y[bad])) if np.isfinite(x[bad] - y[bad]).any() \
                else math.nan
            return Difference(where, f"{len(bad)} of {len(x)} values differ "
                              f"(largest difference {worst:.3g})", _fmt_rows(bad, a, b))
        return None
    same = (a.astype(object).where(a.notna(), None).to_numpy()
            == b.astype(object).where(b.notna(), None).to_numpy())
    bad = np.flatnonzero(~np.asarray(same, dtype=bool))
    if len(bad):
        return Difference(where, f"{len(bad)} of {len(a)} values differ", _fmt_rows(bad, a, b))
    return None


def compare_geometry(where: str, a, b, *, tol: float) -> Difference | None:
    """Compare two geometry arrays pairwise with :func:`shapely.equals_exact` within ``tol``."""
    a = np.asarray(a, dtype=object)
    b = np.asarray(b, dtype=object)
    a_none = np.array([g is None for g in a], dtype=bool)  # dtype: an empty layer as well
    b_none = np.array([g is None for g in b], dtype=bool)
    eq = np.zeros(len(a), dtype=bool)
    both = ~a_none & ~b_none
    if both.any():
        eq[both] = shapely.equals_exact(a[both], b[both], tolerance=tol)
    eq |= a_none & b_none
    bad = np.flatnonzero(~eq)
    if len(bad):
        ex = []
        for i in bad[:5]:
            if a[i] is None or b[i] is None:
                ex.append(f"row {i + 1}: before {a[i]}, after {b[i]}")
            else:
                ex.append(f"row {i + 1}: Hausdorff distance "
                          f"{shapely.hausdorff_distance(a[i], b[i]):.3g}")
        return Difference(where, f"{len(bad)} of {len(a)} geometries differ beyond {tol:g}", ex)
    return None


def compare_tables(where: str, a: pd.DataFrame, b: pd.DataFrame, *, rtol: float, atol: float,
                   geom_tol: float) -> list[Difference]:
    """Compare two tables (layers): columns, row count, then every column cell by cell."""
    diffs: list[Difference] = []
    ca, cb = list(a.columns), list(b.columns)
    if ca != cb:
        gone = [c for c in ca if c not in cb]
        new = [c for c in cb if c not in ca]
        what = []
        if gone:
            what.append(f"columns gone: {gone}")
        if new:
            what.append(f"columns new: {new}")
        if not gone and not new:
            what.append("column order changed")
        diffs.append(Difference(where, "; ".join(what)))
    if len(a) != len(b):
        diffs.append(Difference(where, f"{len(a)} rows before, {len(b)} after"))
        return diffs
    for col in [c for c in ca if c in cb]:
        w = f"{where}.{col}"
        if col == "geometry":
            d = compare_geometry(w, a[col].to_numpy(), b[col].to_numpy(), tol=geom_tol)
        else:
            d = compare_column(w, a[col], b[col], rtol=rtol, atol=atol)
        if d is not None:
            diffs.append(d)
    return diffs


def _read_layer(path: Path, layer: str) -> pd.DataFrame:
    df = pyogrio.read_dataframe(path, layer=layer, fid_as_index=False)
    if "geometry" in df.columns:
        df["geometry"] = df.geometry.to_numpy()
    return pd.DataFrame(df)


def _metadata_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The metadata table without the rows that change with every run."""
    key = next((c for c in ("key", "name") if c in df.columns), None)
    if key is None:
        return df
    keep = ~df[key].astype(str).isin(VOLATILE_METADATA)
    out = df[keep].reset_index(drop=True).copy()
    # JSON values: compare parsed, with the volatile keys dropped at every level
    val = next((c for c in ("value", "json") if c in out.columns), None)
    if val is not None:
        out[val] = [_strip_json(v) for v in out[val]]
    return out


def _strip_json(v):
    try:
        obj = json.loads(v)
    except (TypeError, ValueError):
        return v

    def strip(o):
        if isinstance(o, dict):
            return {k: strip(x) for k, x in sorted(o.items()) if k not in VOLATILE_METADATA}
        if isinstance(o, list):
            return [strip(x) for x in o]
        return o
    return json.dumps(strip(obj), sort_keys=True, ensure_ascii=False)


def _neutral_paths(df: pd.DataFrame, root: Path | None) -> pd.DataFrame:
    """Text cells with the package tree's folder written as ``<tree>`` (inputs' paths differ)."""
    if root is None:
        return df
    prefix = str(root)
    for col in df.columns:
        if pd.api.types.is_object_dtype(df[col]) or pd.api.types.is_string_dtype(df[col]):
            df[col] = [v.replace(prefix, "<tree>") if isinstance(v, str) else v for v in df[col]]
    return df


def compare_gpkg(where: str, a: Path, b: Path, *, roots=(None, None),
                 **tols) -> list[Difference]:
    """Compare two GeoPackages: the same layers, then each layer cell by cell.

    ``roots`` are the package trees the two results were made with; their folder is written as
    ``<tree>`` in text cells before the comparison.
    """
    la = [n for n, _ in pyogrio.list_layers(a)]
    lb = [n for n, _ in pyogrio.list_layers(b)]
    diffs: list[Difference] = []
    if sorted(la) != sorted(lb):
        diffs.append(Difference(where, f"layers gone: {sorted(set(la) - set(lb))}; "
                                f"layers new: {sorted(set(lb) - set(la))}"))
    for layer in [n for n in la if n in lb]:
        ta = _neutral_paths(_read_layer(a, layer), roots[0])
        tb = _neutral_paths(_read_layer(b, layer), roots[1])
        volatile = [c for c in VOLATILE_COLUMNS.get(layer, ()) if c in ta and c in tb]
        ta, tb = ta.drop(columns=volatile), tb.drop(columns=volatile)
        if "metadata" in layer:
            ta, tb = _metadata_rows(ta), _metadata_rows(tb)
        diffs += compare_tables(f"{where}:{layer}", ta, tb, **tols)
    return diffs


def compare_folders(a: Path, b: Path, *, roots=(None, None), **tols) -> list[Difference]:
    """Compare two result folders: every GeoPackage layer and every CSV table, recursively."""
    diffs: list[Difference] = []
    fa = {p.relative_to(a) for p in a.rglob("*") if p.suffix in (".gpkg", ".csv")}
    fb = {p.relative_to(b) for p in b.rglob("*") if p.suffix in (".gpkg", ".csv")}
    for rel in sorted(fa ^ fb):
        diffs.append(Difference(str(rel), "only before" if rel in fa else "only after"))
    for rel in sorted(fa & fb):
        if rel.suffix == ".gpkg":
            diffs += compare_gpkg(str(rel), a / rel, b / rel, roots=roots, **tols)
        else:
            ta = _neutral_paths(pd.read_csv(a / rel, dtype=str, keep_default_na=False), roots[0])
            tb = _neutral_paths(pd.read_csv(b / rel, dtype=str, keep_default_na=False), roots[1])
            diffs += compare_tables(f"{rel}:{rel.stem}", ta, tb, **tols)
    return diffs


def allowed(diff: Difference, allow: list[str]) -> bool:
    """Whether ``--allow`` covers a difference (``layer`` or ``layer.column``)."""
    key = diff.key()
    return any(key == x or key.startswith(x + ".") for x in allow)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--before", help="git revision of this repository to compare against")
    p.add_argument("--after", default=str(REPO),
                   help="package tree to compare (default: this checkout)")
    p.add_argument("--before-dir", type=Path, help="an existing result folder (instead of a run)")
    p.add_argument("--after-dir", type=Path, help="an existing result folder (instead of a run)")
    p.add_argument("--keep", type=Path, help="keep the runs' results in this folder")
    p.add_argument("--allow", action="append", default=[], metavar="LAYER[.COLUMN]",
                   help="an intended difference (repeatable)")
    p.add_argument("--rtol", type=float, default=1e-9)
    p.add_argument("--atol", type=float, default=1e-9)
    p.add_argument("--geom-tol", type=float, default=1e-9)
    args = p.parse_args(argv)
    if not (args.before or args.before_dir):
        p.error("give --before REV or --before-dir FOLDER")

    with tempfile.TemporaryDirectory(prefix="lc-compare-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        before, roots = args.before_dir, [None, None]
        if before is None:
            tree = export_tree(args.before, work / "tree-before")
            roots[0] = tree.resolve()
            print(f"running the sample district at {args.before} ...", flush=True)
            before = run_sample(tree, _fresh(work / "before"))
        after = args.after_dir
        if after is None:
            print(f"running the sample district in {args.after} ...", flush=True)
            roots[1] = Path(args.after).resolve()
            after = run_sample(roots[1], _fresh(work / "after"))
        diffs = compare_folders(before, after, roots=tuple(roots), rtol=args.rtol, atol=args.atol,
                                geom_tol=args.geom_tol)
        n_files = sum(1 for p in Path(before).rglob("*") if p.suffix in (".gpkg", ".csv"))

    ok = [d for d in diffs if allowed(d, args.allow)]
    bad = [d for d in diffs if not allowed(d, args.allow)]
    for d in ok:
        print(f"allowed  {d}")
    for d in bad:
        print(f"DIFFERS  {d}")
    print(f"{len(bad)} difference(s), {len(ok)} allowed, over {n_files} files")
    return 1 if bad else 0


def _fresh(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    sys.exit(main())
