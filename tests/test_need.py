"""The ``need`` guard of conftest: a missing real component skips locally and fails in CI."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import need, need_module

pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent

MODULE_NEEDING_A_MISSING_PACKAGE = """
from conftest import need_module

mod = need_module("livingcircle_no_such_package", "Frobnicator", "pip install frobnicator")


def test_uses_it():
    assert mod is not None
"""


def test_present_component_goes_on(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert need("Chromium", True, "unused") is None
    assert need_module("json", "JSON", "unused").dumps([1]) == "[1]"


def test_missing_component_skips_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostGIS is missing: no initdb"):
        need("PostGIS", False, "no initdb")


def test_missing_component_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="QGIS is missing: no qgis.core.*CI is set"):
        need("QGIS", False, "no qgis.core")


def test_missing_module_names_the_package_and_the_install(monkeypatch):
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception,
                       match=r"Dask is missing: cannot import livingcircle_no_dask .*pip inst"):
        need_module("livingcircle_no_dask", "Dask", "pip install x")


@pytest.mark.parametrize(("ci", "outcome"), [(None, "skipped"), ("1", "errors")])
def test_module_level_guard_skips_the_file_locally_and_fails_the_run_in_ci(
        pytester, monkeypatch, ci, outcome):
    # the bug this guards against: a module-level importorskip skipped a whole file in CI
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PYTHONPATH", str(TESTS))  # the inner run imports conftest.need
    pytester.makepyfile(test_frob=MODULE_NEEDING_A_MISSING_PACKAGE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(**{outcome: 1})
    # 5: nothing ran (the file was skipped); 2: interrupted by a collection error
    assert result.ret == (5 if ci is None else 2)
    result.stdout.fnmatch_lines(
        ["*Frobnicator is missing: cannot import livingcircle_no_such_package*"])
