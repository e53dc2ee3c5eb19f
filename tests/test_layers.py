"""Imports run one way through the package (issue 15, item 1).

Every module of ``livingcircle`` belongs to one layer of :data:`LAYERS`; a module may import
modules of its own layer or of a lower one, never of a higher one, and the imports make no cycle.
Every import counts: at module level, inside functions and under ``TYPE_CHECKING`` (a type is a
dependency too). The table is the README's "Layout" section in code: a new module gets a row.

The layers, from the top:

* ``cli`` — the command line, the only click importer;
* ``compose`` — pipeline, batch, the run options and :mod:`livingcircle.compose`, which hands the
  drawings of ``maps`` and ``_display`` to :class:`livingcircle.results.Result`;
* ``outputs`` — maps, figures, report, export, postgis and ``_display`` (the notebook display):
  each draws or writes a result and imports only the shared outputs below (issue 15 item 3: they
  import neither the pipeline nor each other; no exception). The report embeds the map and the
  figures through the renderers :mod:`livingcircle.compose` hands to
  :data:`livingcircle.results.RENDERERS`; export and postgis read a result and build its
  metadata with the same functions of ``results``; the map and ``_display`` simplify what they
  draw with ``styles.prepare_layer``;
* ``shared outputs`` — results (the home of ``Result``, the one reader and writer, the metadata),
  summaries (the figures every output counts alike), styles (colours, labels, QGIS styles, the
  display geometry);
* ``planning`` — renovation rules, clusters, siting, scenarios, the programme, buildings, heritage.
  Refinement: the issue puts the outputs "beside" planning; they sit above it because they present
  what planning decided (``results`` and ``report`` print the plan with
  ``renovation.plan_table_zh``) while planning never draws;
* ``analysis`` — walking access, isochrones, coverage, gaps, capacity;
* ``network and inputs`` — the walking network, routing, OSM, reading and checking input files,
  coordinates and CRS, the worker processes of the per-community stages (``_parallel``);
* ``base`` — errors, settings, the layer contract (schema), values, the standard profiles,
  diagnostics, the sample, stages, spilling and atomic writes, the union of many polygons
  (``_union``, Clipper2).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "livingcircle"

#: Layer name → its modules, highest layer first.
LAYERS: dict[str, tuple[str, ...]] = {
    "cli": ("cli",),
    "compose": ("pipeline", "batch", "options", "compose"),
    "outputs": ("maps", "figures", "report", "export", "postgis", "_display"),
    "shared outputs": ("results", "summaries", "styles"),
    "planning": ("renovation", "clusters", "siting", "scenarios", "programme", "buildings",
                 "heritage"),
    "analysis": ("accessibility", "isochrones", "coverage", "gaps", "capacity"),
    "network and inputs": ("network", "routing", "osm", "inputs", "io", "_validate", "coords",
                           "crs", "basemap", "_parallel"),
    "base": ("_errors", "settings", "schema", "values", "standards", "diagnostics", "sample",
             "stages", "_spill", "_atomic", "_union"),
}
#: Module → rank of its layer (higher imports lower).
RANK = {m: len(LAYERS) - i for i, mods in enumerate(LAYERS.values()) for m in mods}
LAYER_OF = {m: name for name, mods in LAYERS.items() for m in mods}

#: Modules that import each other (a strongly connected part of the import graph). Empty since
#: the advice wording moved into ``_errors``: inputs uses io and _validate, never the other way.
#: Never add one.
KNOWN_TANGLES: set[frozenset[str]] = set()


def _module_imports() -> dict[str, list[tuple[str, str, int]]]:
    """Module → (imported module, imported name or "", line) for every import of the package."""
    out: dict[str, list[tuple[str, str, int]]] = {}
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found: list[tuple[str, str, int]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    base = node.module or ""
                elif (node.module or "").split(".")[0] == "livingcircle":
                    base = (node.module or "").removeprefix("livingcircle").lstrip(".")
                else:
                    continue
                for alias in node.names:
                    if base:  # from .x import name
                        found.append((base.split(".")[0], alias.name, node.lineno))
                    elif (PACKAGE / f"{alias.name}.py").is_file():  # from . import module
                        found.append((alias.name, "", node.lineno))
                    else:  # from . import __version__ (the package itself)
                        found.append(("__init__", alias.name, node.lineno))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == "livingcircle":
                        found.append((parts[1] if len(parts) > 1 else "__init__", "",
                                      node.lineno))
        out[path.stem] = found
    return out


IMPORTS = _module_imports()


def _graph() -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(m for m in IMPORTS if m != "__init__")
    for mod, found in IMPORTS.items():
        if mod == "__init__":
            continue  # the package's face re-exports from every layer
        for target, _, _ in found:
            if target not in ("__init__", mod):
                g.add_edge(mod, target)
    return g


def test_every_module_has_a_layer():
    modules = set(IMPORTS) - {"__init__"}
    assert sorted(modules - set(RANK)) == [], "add the new module to LAYERS (and README Layout)"
    assert sorted(set(RANK) - modules) == [], "a module in LAYERS no longer exists"


def test_parser_sees_function_level_and_type_checking_imports():
    # the cases the table must not miss, checked on real lines of the package
    results = {(t, n) for t, n, _ in IMPORTS["results"]}
    assert ("_atomic", "verify_manifest") in results  # inside a function
    assert ("accessibility", "Access") in results  # under TYPE_CHECKING
    assert ("__init__", "__version__") in results  # from . import __version__
    assert ("maps", "make_map") in {(t, n) for t, n, _ in IMPORTS["compose"]}


def test_no_upward_import():
    upward = [f"{mod} ({LAYER_OF[mod]}) imports {target} ({LAYER_OF[target]}) on line {line}"
              for mod, found in IMPORTS.items() if mod != "__init__"
              for target, name, line in found
              if target != "__init__" and RANK[target] > RANK[mod]]
    assert upward == []


def test_only_the_version_is_read_from_the_package_face():
    # ``livingcircle/__init__`` imports every layer; a module may take only ``__version__`` from
    # it (set from the installed metadata), inside the function that writes it
    names = sorted({name for mod, found in IMPORTS.items() if mod != "__init__"
                    for target, name, _ in found if target == "__init__"})
    assert names == ["__version__"]


def test_no_import_cycle():
    tangles = {frozenset(c) for c in nx.strongly_connected_components(_graph()) if len(c) > 1}
    assert tangles - KNOWN_TANGLES == set()
    assert KNOWN_TANGLES - tangles == set(), "a tangle is undone: take it off KNOWN_TANGLES"
    for tangle in tangles:
        assert len({LAYER_OF[m] for m in tangle}) == 1, f"cycle across layers: {sorted(tangle)}"


def _output_imports(mod: str) -> list[str]:
    outputs = LAYERS["outputs"] + LAYERS["shared outputs"]
    return sorted({t for t, _, _ in IMPORTS[mod] if t in outputs and t != mod})


@pytest.mark.parametrize("mod", LAYERS["outputs"] + LAYERS["shared outputs"])
def test_outputs_import_only_shared_outputs(mod):
    # maps, figures, report, export, postgis and _display import results/summaries/styles, no
    # other output; shared outputs import only each other
    assert [t for t in _output_imports(mod) if t not in LAYERS["shared outputs"]] == []


@pytest.mark.parametrize("mod", LAYERS["outputs"])
def test_outputs_import_neither_the_pipeline_nor_the_command_line(mod):
    # issue 15 item 3: maps, report and export take a Result and import neither the pipeline
    # (nor batch, options, compose, cli) nor each other; checked on every import, lazy ones too
    above = {m for name in ("cli", "compose") for m in LAYERS[name]}
    assert sorted({t for t, _, _ in IMPORTS[mod] if t in above}) == []


def test_no_private_name_from_another_module():
    # private modules (``_errors``, ``_atomic``...) are the package's own; a name starting with
    # one underscore is its module's own
    private = [f"{mod} imports {name} from {target} on line {line}"
               for mod, found in IMPORTS.items()
               for target, name, line in found
               if name.startswith("_") and not name.startswith("__") and target != mod]
    assert private == []


def test_only_the_cli_imports_click():
    importers = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] == "click" for n in names):
                importers.append(path.stem)
    assert sorted(set(importers)) == ["cli"]
