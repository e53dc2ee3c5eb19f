"""Every numbered notebook runs top to bottom with the public API (cwd = notebooks/).

Each notebook runs in a Jupyter kernel of its own. The selected notebooks are executed one after
another beside the other tests, from the start of the session (``background_work``, see
conftest.py); each keeps its own test and outcome. They write into folders of their own
(``maps/notebook-NN``, a temporary folder).
"""

import asyncio
from pathlib import Path

import nbformat
import pytest
from conftest import background_result
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def _execute_all(paths: list[Path]) -> dict[Path, tuple]:
    """Execute ``paths`` one after another; return path → (notebook, exception or None)."""
    out = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            asyncio.run(client.async_execute())
        except Exception as exc:  # raised again by the notebook's own test
            out[path] = (nb, exc)
        else:
            out[path] = (nb, None)
    return out


def _selected(items) -> list[Path]:
    return [i.callspec.params["path"] for i in items
            if getattr(i, "originalname", None) == "test_notebook_runs"]


def background_work(items):
    """The selected notebooks, executed beside the other tests (conftest.background_result)."""
    paths = _selected(items)
    return (lambda: _execute_all(paths)) if paths else None


@pytest.fixture(scope="module")
def executed(request):
    return background_result(request, lambda: _execute_all(_selected(request.session.items)))


def test_notebooks_exist():
    names = [p.name for p in NOTEBOOKS]
    assert names[:3] == ["01-getting-started.ipynb", "02-accessibility.ipynb",
                         "03-gaps-and-renovation.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(executed, path):
    nb, exc = executed[path]
    if exc is not None:
        raise exc  # the cell that failed, as nbclient reports it
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
