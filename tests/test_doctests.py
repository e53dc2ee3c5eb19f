"""Every example in the package's docstrings runs as a test (issue 15, item 6).

The examples are taken from the package that ``import livingcircle`` gives — the installed one
after README's ``pip install ".[test]"``, the working tree after ``pip install -e``. pytest's
own ``--doctest-modules livingcircle/`` cannot do that: it imports the files of the working tree
by path and, when the package is installed without ``-e``, stops with "import file mismatch"
because ``livingcircle`` is already imported from site-packages. Each docstring is one test,
named after the object it documents, run in a fresh folder with the module's own names, offline.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys

import pytest

import livingcircle

OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    """Every module of the package, subpackages included."""
    found = pkgutil.walk_packages(livingcircle.__path__, prefix="livingcircle.")
    return sorted(["livingcircle", *(m.name for m in found)])


def _docstring_tests() -> list[tuple[str, str]]:
    """(module, doctest name) of every docstring with at least one example."""
    finder = doctest.DocTestFinder()
    out = []
    for name in _module_names():
        module = importlib.import_module(name)
        out += [(name, t.name) for t in finder.find(module, name) if t.examples]
    return sorted(out)


DOCTESTS = _docstring_tests()


@pytest.mark.parametrize(("module_name", "test_name"), DOCTESTS,
                         ids=[t for _, t in DOCTESTS])
def test_docstring_examples(module_name, test_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # an example that writes a file writes it here
    module = importlib.import_module(module_name)
    (test,) = [t for t in doctest.DocTestFinder().find(module, module_name)
               if t.name == test_name]
    report: list[str] = []
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    result = runner.run(test, out=report.append)
    assert result.failed == 0, "".join(report)


@pytest.mark.parametrize("module_name", [
    "livingcircle.coords", "livingcircle.crs", "livingcircle.schema", "livingcircle.values",
    "livingcircle.settings", "livingcircle._validate",
])
def test_the_reference_modules_show_runnable_examples(module_name):
    # the modules whose functions are easiest to learn from an example keep their examples
    examples = [t for m, t in DOCTESTS if m == module_name]
    assert examples, f"{module_name} has no docstring example"


def test_every_module_imports_without_the_optional_components():
    # collecting the examples imports every module: that must not need the browser, PostGIS or
    # map tiles (their packages are imported where they are used)
    optional = ["playwright", "sqlalchemy", "geoalchemy2", "psycopg2", "contextily"]
    code = (
        "import importlib, pkgutil, sys\n"
        f"for name in {optional!r}:\n"
        "    sys.modules[name] = None  # import name now raises ImportError\n"
        "import livingcircle\n"
        "names = [m.name for m in pkgutil.walk_packages(livingcircle.__path__, 'livingcircle.')]\n"
        "for name in names:\n"
        "    importlib.import_module(name)\n"
        "print(len(names))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == len(_module_names()) - 1
