import importlib
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Point

from livingcircle.network import WalkNetwork

# Reference data published outside the package, copied into the repository (see each file's header)
REFERENCE_DIR = Path(__file__).parent / "data"
# ../shared beside the clone: present in CI and on the team's machines, absent in a plain clone
SHARED_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"

CRS = "EPSG:32652"  # UTM 52N: Harbin
X0, Y0 = 500000.0, 5070000.0


def lattice(n=5, spacing=100.0, *, missing=()):
    """An n×n street lattice in metres (both directions, osmnx-style), node id = row*n+col."""
    G = nx.MultiDiGraph(crs=CRS)
    for r in range(n):
        for c in range(n):
            G.add_node(r * n + c, x=X0 + c * spacing, y=Y0 + r * spacing)
    for r in range(n):
        for c in range(n):
            a = r * n + c
            for b in ([a + 1] if c < n - 1 else []) + ([a + n] if r < n - 1 else []):
                if (a, b) in missing:
                    continue
                pa = (G.nodes[a]["x"], G.nodes[a]["y"])
                pb = (G.nodes[b]["x"], G.nodes[b]["y"])
                G.add_edge(a, b, 0, length=spacing, highway="residential",
                           geometry=LineString([pa, pb]))
                G.add_edge(b, a, 0, length=spacing, highway="residential",
                           geometry=LineString([pb, pa]))
    return WalkNetwork(graph=G, source="lattice")


def xy(x, y):
    """A point at lattice coordinates (metres from the lattice origin)."""
    return Point(X0 + x, Y0 + y)


def points(ids, coords, idcol, **cols):
    return gpd.GeoDataFrame({idcol: ids, **cols}, geometry=[xy(*c) for c in coords], crs=CRS)


# --- work beside the tests ------------------------------------------------------------------
# Some checks run in processes of their own and need nothing from the test process: the
# notebooks (a Jupyter kernel each) and pyright (Node.js). While the test process works on one
# core, the other core of the 2-core CI machine is idle most of the time; this one thread starts
# those processes at the beginning of the session, in collection order, one job at a time, and
# the tests that check them wait for their job. Every check is the same; it only starts earlier.
#
# A test module takes part by defining ``background_work(items)``: given its selected test items
# it returns a function to run (or None when none of its items needs one); its fixture then calls
# ``background_result(request, fallback)``.

_BACKGROUND = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livingcircle-tests")
_STARTED: dict[str, Future] = {}
_FOLDERS: list[Path] = []


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment to start a test's subprocess with: a copy of ``os.environ`` taken now, with
    ``extra`` on top. A background job must always pass it (``env=subprocess_env()``); a module
    with background work passes it everywhere (tests/test_background.py checks).

    Without ``env``, CPython's subprocess hands the C library's ``environ`` array to the child it
    starts with ``vfork``, and it lets the other threads run meanwhile. A test in the main thread
    that sets or deletes a variable then (``monkeypatch.setenv``, as in test_figures.py) can
    reallocate that array under the child, whose ``execve`` then fails with "OSError: [Errno 14]
    Bad address" (seen in CI; a loop of ``subprocess.run`` in a thread beside a loop of
    ``os.environ`` changes shows it within seconds, and none with an explicit ``env``).
    """
    return {**os.environ, **extra}


def background_folder(name: str) -> Path:
    """A new folder for a background job's files; removed at the end of a session that passed
    (kept for a look after a failure, like pytest's own tmp_path folders)."""
    folder = Path(tempfile.mkdtemp(prefix=f"livingcircle-{name}-"))
    _FOLDERS.append(folder)
    return folder


@pytest.hookimpl(trylast=True)  # after -k/-m have deselected what does not run
def pytest_collection_modifyitems(config, items):
    """Start the ``background_work`` of every module that has selected tests."""
    if config.getoption("collectonly") or config.getoption("setupplan", False):
        return  # nothing runs
    by_module: dict = {}
    for item in items:
        module = getattr(item, "module", None)
        if module is not None:
            by_module.setdefault(module, []).append(item)
    for module, selected in by_module.items():
        work = getattr(module, "background_work", None)
        job = work(selected) if work is not None else None
        if job is not None:
            _STARTED[module.__name__] = _BACKGROUND.submit(job)


def pytest_sessionfinish(session, exitstatus):
    """Jobs not started yet (a run stopped early, ``-x``) are dropped, not run at exit."""
    _BACKGROUND.shutdown(wait=False, cancel_futures=True)
    if exitstatus == 0:
        for folder in _FOLDERS:
            shutil.rmtree(folder, ignore_errors=True)


def background_result(request, fallback: Callable[[], object]):
    """The result of the requesting module's background job, waiting for it if need be.

    ``fallback`` computes the same result here and now, for a module whose job was not started
    (its tests were collected another way). An exception of the job is raised here, so the
    tests that need it fail with it.
    """
    job = _STARTED.get(request.module.__name__)
    return job.result() if job is not None else fallback()


@pytest.fixture(scope="session")
def sample_result():
    """One run of the bundled sample district, shared by every test that only reads it."""
    import livingcircle as lc

    return lc.run_sample(progress=False)


@pytest.fixture(scope="session")
def sample_report(sample_result) -> str:
    """``make_report(sample_result)``: the Chinese report with its map, as ``livingcircle report``
    writes it; read by the report tests and opened in Chromium by the browser tests."""
    from livingcircle.report import make_report

    return make_report(sample_result)


@pytest.fixture(scope="session")
def sample_written(sample_result, tmp_path_factory):
    """:func:`sample_result` written as ``livingcircle demo`` writes it: the GeoPackage, map.html,
    the plan tables and manifest.json. Shared by every test that only reads the folder; a test
    that changes or adds files works on its own ``shutil.copytree`` copy."""
    out = tmp_path_factory.mktemp("sample_written") / "result"
    sample_result.write(out)
    return out


@pytest.fixture
def in_ci():
    return bool(os.environ.get("CI"))


def need(what: str, ok: bool, reason: str) -> None:
    """Go on when a real component a test needs is present; otherwise skip, or fail in CI.

    Outside CI a missing component (Chromium, PostGIS, QGIS, Dask, an optional Python package,
    reference data) skips the test, or the whole module when called at import time, with
    ``reason``. With the environment variable ``CI`` set the same absence is a failure, so that
    a CI run never passes by skipping what it was meant to check.

    Parameters
    ----------
    what : str
        The component, as a reader of the test report would name it ("PostGIS", "QGIS").
    ok : bool
        Whether the component is present and usable.
    reason : str
        What is missing and how to install it.
    """
    if ok:
        return
    message = f"{what} is missing: {reason}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: the tests that need it must run)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def beside_counted(monkeypatch, *, workers: int = 2) -> list[str]:
    """Count the child processes :class:`livingcircle._parallel.Beside` starts in this test.

    Returns the list their ``what`` is appended to; the run may use ``workers`` processes (two:
    a run on this machine's cores forks them; one: it would not).
    """
    from livingcircle import _parallel, settings

    started: list[str] = []

    class Counted(_parallel.Beside):
        def __init__(self, fn, what):
            started.append(what)
            super().__init__(fn, what)

    monkeypatch.setattr(_parallel, "Beside", Counted)
    monkeypatch.setattr(settings, "workers", workers)
    return started


def assert_same_layer(got, want) -> None:
    """Assert two GeoDataFrames equal: every attribute, and every geometry coordinate for
    coordinate (a layer made in a child process against the same made here)."""
    import pandas as pd

    pd.testing.assert_frame_equal(pd.DataFrame(got.drop(columns="geometry")),
                                  pd.DataFrame(want.drop(columns="geometry")))
    assert got.geometry.geom_equals_exact(want.geometry, tolerance=0).all()


def need_module(name: str, what: str, install: str):
    """Import and return module ``name``, or ``need(what, False, ...)``: skip locally, fail in CI.

    Use it instead of ``pytest.importorskip`` for the packages a real component needs
    (``install`` says how to get it, e.g. ``pip install 'livingcircle[postgis]'``).
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        need(what, False, f"cannot import {name} ({exc}); {install}")


def policy_scope(raw: pd.DataFrame, year_limit: int = 2000) -> pd.Series:
    """Renovation scope of raw community rows, by the policy rule alone (an independent reference).

    黑政办规〔2021〕15号 二(一): built by the end of ``year_limit``, or later with safety grade C,
    or units without their own kitchen and bathroom (``complete_units`` 0) → 'yes'; none of these
    and all three attributes known → 'no'; otherwise 'unknown'. Safety grade D (危房) → 'unknown'
    whatever the rest says: 二(一) names grade C only, a dangerous building is decided beyond
    ordinary renovation (issue 16 §2). Then the location (:func:`policy_location`). Plain pandas
    on the file's columns; livingcircle's own rule is not called. Indexed by community_id.
    """
    year = pd.to_numeric(raw["build_year"], errors="coerce")
    grade = raw["safety_grade"].astype("string").str.strip().str.upper()
    units = pd.to_numeric(raw["complete_units"], errors="coerce")
    yes = (year <= year_limit) | (grade == "C").fillna(False) | (units == 0)
    known = year.notna() & grade.notna() & units.notna()
    status = np.where(yes, "yes", np.where(known, "no", "unknown"))
    status = np.where((grade == "D").fillna(False), "unknown", status)
    out = pd.Series(status, index=raw["community_id"].astype(str).to_numpy(), name="in_scope")
    return policy_location(out, raw)


def policy_scope_with_buildings(raw: pd.DataFrame, buildings: pd.DataFrame,
                                year_limit: int = 2000) -> pd.Series:
    """Scope of raw communities where a buildings table decides for the communities it covers.

    Each building row is judged by :func:`policy_scope`'s rule (the policy's unit is the building,
    单栋住宅楼); a community with buildings is 'yes' when one of its buildings is, else 'unknown'
    when one is unknown, else 'no'; the others keep the community rule (issue 16 §1). Buildings
    without a community id are left out (livingcircle places them by location). Plain pandas.
    """
    out = policy_scope(raw, year_limit)
    b = buildings[buildings["community_id"].notna()]
    per_building = policy_scope(b.assign(community_id=b["building_id"]), year_limit)
    per_building.index = b["community_id"].astype(str).to_numpy()
    verdict = per_building.groupby(level=0).agg(
        lambda s: "yes" if (s == "yes").any() else "unknown" if (s == "unknown").any() else "no")
    out.update(verdict)
    return policy_location(out, raw)  # the location is the community's, buildings or not


def sample_policy_scope() -> pd.Series:
    """The sample run's expected scope: its communities file, decided by its buildings file
    where a community has buildings (``run_sample`` passes both)."""
    import pyogrio

    import livingcircle as lc

    paths = lc.sample_paths()
    raw = pyogrio.read_dataframe(paths["communities"], read_geometry=False)
    buildings = pyogrio.read_dataframe(paths["buildings"], read_geometry=False)
    return policy_scope_with_buildings(raw, buildings)


#: The locations 二(一) lists (城市、县城、原农垦、森工系统二级机构所在地) as the sample writes them
POLICY_LOCATIONS = {"城市", "县城", "原农垦", "森工"}


def policy_location(status: pd.Series, raw: pd.DataFrame) -> pd.Series:
    """Apply 二(一)'s location list to a scope indexed by community_id (an independent reference).

    Only when ``raw`` has a ``location_type`` column: a value outside :data:`POLICY_LOCATIONS`
    → 'no'; an empty cell → a 'yes' becomes 'unknown'. Plain pandas.
    """
    if "location_type" not in raw.columns:
        return status
    loc = pd.Series(raw["location_type"].astype("string").str.strip().to_numpy(),
                    index=raw["community_id"].astype(str).to_numpy()).reindex(status.index)
    out = status.where(~(loc.isna() & (status == "yes")), "unknown")
    return out.where(~(loc.notna() & ~loc.isin(POLICY_LOCATIONS)).fillna(False), "no")


@pytest.fixture(scope="module")
def curvy_access():
    """A jittered lattice with curved streets, gates and point communities."""
    import geopandas as gpd
    import shapely
    from shapely.geometry import LineString

    from livingcircle.accessibility import measure_access
    from livingcircle.network import WalkNetwork

    rng = np.random.default_rng(3)
    n, s = 9, 80.0
    xy = {r * n + c: (c * s + rng.uniform(-15, 15), r * s + rng.uniform(-15, 15))
          for r in range(n) for c in range(n)}
    u, v, geoms = [], [], []
    for r in range(n):
        for c in range(n):
            a = r * n + c
            for b in ([a + 1] if c < n - 1 else []) + ([a + n] if r < n - 1 else []):
                if rng.random() < 0.12:
                    continue  # a missing street leaves a larger block
                pa, pb = np.array(xy[a]), np.array(xy[b])
                mid = (pa + pb) / 2 + rng.uniform(-12, 12, 2)  # a bend in the street
                u.append(a)
                v.append(b)
                geoms.append(LineString([pa + (X0, Y0), mid + (X0, Y0), pb + (X0, Y0)]))
    pts = np.array([xy[i] for i in range(n * n)]) + (X0, Y0)
    net = WalkNetwork.from_arrays(pts, np.array(u), np.array(v), crs=CRS,
                                  geometry=np.array(geoms, dtype=object))
    origins = rng.uniform(0, (n - 1) * s, (12, 2)) + (X0, Y0)
    comm = gpd.GeoDataFrame({"community_id": [f"C{i}" for i in range(len(origins))]},
                            geometry=shapely.points(origins), crs=CRS)
    return measure_access(net, comm, comm.iloc[:0].rename(columns={"community_id":
                                                                   "facility_id"})
                          .assign(categories=[]), speed_profiles=[60.0])
