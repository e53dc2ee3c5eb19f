"""The background jobs of conftest.py start their subprocesses with an explicit environment.

CI once failed with "OSError: [Errno 14] Bad address" from ``subprocess.run`` in a background job:
without ``env``, the child CPython starts with ``vfork`` reads the C library's ``environ`` array
while a test in the main thread may be reallocating it (``monkeypatch.setenv``). See
``conftest.subprocess_env``.
"""

from __future__ import annotations

import ast
import os
import sys
import threading
from pathlib import Path

import pytest
from conftest import subprocess_env

TESTS = Path(__file__).parent


def _modules_with_background_work() -> list[Path]:
    return sorted(p for p in TESTS.glob("test_*.py")
                  if "def background_work(" in p.read_text(encoding="utf-8"))


def _calls_without_env(path: Path) -> list[str]:
    """``subprocess.run`` / ``subprocess.Popen`` calls in ``path`` that pass no ``env``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "subprocess"
                and node.func.attr in ("run", "Popen", "check_output", "check_call", "call")
                and not any(k.arg == "env" for k in node.keywords)):
            found.append(f"{path.name}:{node.lineno}")
    return found


def test_every_module_with_background_work_passes_env_to_its_subprocesses():
    modules = _modules_with_background_work()
    assert len(modules) >= 5, modules  # cli_errors, notebooks, options, static, time_criterion
    missing = [where for path in modules for where in _calls_without_env(path)]
    assert missing == [], f"subprocess calls without env=subprocess_env(): {missing}"


def test_the_environment_is_a_copy_taken_now_with_the_extras_on_top(monkeypatch):
    monkeypatch.setenv("LIVINGCIRCLE_BACKGROUND_A", "1")
    env = subprocess_env(LIVINGCIRCLE_BACKGROUND_B="2")
    assert env["LIVINGCIRCLE_BACKGROUND_A"] == "1"
    assert env["LIVINGCIRCLE_BACKGROUND_B"] == "2"
    assert "LIVINGCIRCLE_BACKGROUND_B" not in os.environ
    monkeypatch.setenv("LIVINGCIRCLE_BACKGROUND_A", "changed")
    assert env["LIVINGCIRCLE_BACKGROUND_A"] == "1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="vfork is Linux's")
def test_subprocesses_in_a_thread_start_while_the_main_thread_changes_the_environment():
    """The failure CI saw, provoked: a thread starts 150 processes with ``subprocess_env()``
    while this thread sets and deletes variables; every one starts. (With no ``env`` the same
    loops gave 186 ``Bad address`` errors in 781 starts in 10 s on the 2-core machine CI runs
    on, 2026-12-07.)"""
    import subprocess

    errors: list[OSError] = []
    done = threading.Event()

    def start_many():
        try:
            for _ in range(150):
                try:
                    subprocess.run(["/bin/true"], env=subprocess_env(), check=True)
                except OSError as exc:
                    errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=start_many)
    thread.start()
    i = 0
    try:
        while not done.is_set():
            os.environ[f"LIVINGCIRCLE_RACE_{i % 50}"] = "x" * (i % 100)
            if i % 3 == 0:
                os.environ.pop(f"LIVINGCIRCLE_RACE_{(i * 7) % 50}", None)
            i += 1
    finally:
        thread.join()
        for k in [k for k in os.environ if k.startswith("LIVINGCIRCLE_RACE_")]:
            del os.environ[k]
    assert i > 0
    assert errors == []
