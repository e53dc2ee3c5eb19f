"""PostGIS export against a real PostgreSQL + PostGIS started on a local Unix socket.

The fixture needs Debian's ``postgresql`` and ``postgis`` packages (``initdb``/``pg_ctl`` under
/usr/lib/postgresql/*/bin and the postgis extension). Without them (or without the
``postgis`` extra) the tests are skipped, except in CI (environment variable ``CI`` set), where a
missing component is a failure (``conftest.need``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import need, need_module
from shapely import Point, Polygon

pytestmark = pytest.mark.postgis

# the Python side of the PostGIS export: skipped in a plain local install, a failure in CI
_INSTALL = "pip install 'livingcircle[postgis]' (the test extras include it)"
sa = need_module("sqlalchemy", "PostGIS export (sqlalchemy)", _INSTALL)
need_module("geoalchemy2", "PostGIS export (geoalchemy2)", _INSTALL)
need_module("psycopg2", "PostGIS export (psycopg2)", _INSTALL)

from livingcircle import postgis as pg  # noqa: E402
from livingcircle._errors import ExportError  # noqa: E402
from livingcircle.cli import main as cli_main  # noqa: E402

PORT = 54329


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _postgis_available(bindir: Path) -> bool:
    share = subprocess.run([str(bindir / "pg_config"), "--sharedir"], capture_output=True,
                           text=True, check=False).stdout.strip()
    if share:
        return bool(glob.glob(os.path.join(share, "extension", "postgis.control")))
    return bool(glob.glob("/usr/share/postgresql/*/extension/postgis.control"))


def _unavailable(reason: str):
    need("PostgreSQL with PostGIS", False,
         f"{reason}; install Debian's 'postgresql' and 'postgis' packages (.ci/run does)")


@pytest.fixture(scope="module")
def pg_url():
    """Start PostgreSQL with PostGIS in a temporary folder; yield its SQLAlchemy URL."""
    bindir = _pg_bin()
    if bindir is None:
        _unavailable("PostgreSQL server binaries (initdb, pg_ctl) not found")
    if not _postgis_available(bindir):
        _unavailable("the PostGIS extension is not installed for this PostgreSQL")
    root = Path(tempfile.mkdtemp(prefix="lc-pg-"))  # short path: sockets allow ~100 chars
    data, sock, log = root / "data", root / "sock", root / "server.log"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as 'postgres'
        if shutil.which("runuser") is None:
            _unavailable("running as root without 'runuser' to start PostgreSQL as another user")
        try:
            shutil.chown(root, "postgres")
            shutil.chown(sock, "postgres")
        except (LookupError, PermissionError) as exc:
            _unavailable(f"cannot hand the database folder to user 'postgres': {exc}")
        prefix = ["runuser", "-u", "postgres", "--"]

    def run(*args: str) -> None:
        proc = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            pytest.fail(f"{args[0]} failed: {proc.stderr}\n{tail}")

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
        "--encoding=UTF8", "--locale=C")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
        "-o", f"-k {sock} -c listen_addresses='' -p {PORT} -c fsync=off", "start")
    url = f"postgresql+psycopg2://postgres@/postgres?host={sock}&port={PORT}"
    try:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
        engine.dispose()
        yield url
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                        "stop"], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _layers():
    communities = gpd.GeoDataFrame(
        {"community_id": ["c1", "c2"], "name": ["道里区安静小区", "香坊区和平里"],
         "households": [320, 48], "has_elevator": [False, True]},
        geometry=[Polygon([(126.61, 45.75), (126.612, 45.75), (126.612, 45.752)]),
                  Polygon([(126.68, 45.74), (126.682, 45.74), (126.682, 45.742)])],
        crs=4326,
    )
    facilities = gpd.GeoDataFrame(
        {"facility_id": ["f1", "f2"], "category": ["kindergarten", "bus_stop"],
         "name": ["红星幼儿园", "公交站（大直街）"]},
        geometry=[Point(126.6131, 45.7580), Point(126.6799, 45.7410)], crs=4326,
    )
    access = pd.DataFrame({"community_id": ["c1", "c2"], "category": ["kindergarten"] * 2,
                           "distance_m": [120.5, np.nan]})
    return {"communities": communities, "facilities": facilities, "access": access}


def _read(url, sql, geom=True):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if geom:
                return gpd.read_postgis(sa.text(sql), conn, geom_col="geom")
            return pd.read_sql(sa.text(sql), conn)
    finally:
        engine.dispose()


def test_round_trip_chinese_text_and_gauss_kruger(pg_url):
    layers = _layers()
    tables = pg.export_postgis(layers, pg_url, schema="planning", crs="cgcs2000-gk3")
    assert tables == ["planning.communities", "planning.facilities", "planning.access"]
    fac = _read(pg_url, "SELECT * FROM planning.facilities ORDER BY facility_id")
    assert list(fac["name"]) == ["红星幼儿园", "公交站（大直街）"]
    assert fac.crs.to_epsg() == 4530  # Harbin, 126.6°E: zone 42
    expect = layers["facilities"].to_crs(4530)
    dx = np.abs(fac.geometry.x.to_numpy() - expect.geometry.x.to_numpy()).max()
    dy = np.abs(fac.geometry.y.to_numpy() - expect.geometry.y.to_numpy()).max()
    assert dx < 0.01 and dy < 0.01
    back = fac.to_crs(4326)
    assert np.abs(back.geometry.x.to_numpy() - [126.6131, 126.6799]).max() < 1e-6
    srid = _read(pg_url, "SELECT Find_SRID('planning', 'communities', 'geom') AS srid",
                 geom=False)
    assert int(srid["srid"].iloc[0]) == 4530
    com = _read(pg_url, "SELECT * FROM planning.communities ORDER BY community_id")
    assert list(com["name"]) == ["道里区安静小区", "香坊区和平里"]
    assert list(com["households"]) == [320, 48]
    assert list(com["has_elevator"]) == [False, True]
    acc = _read(pg_url, "SELECT * FROM planning.access ORDER BY community_id", geom=False)
    assert acc["distance_m"].iloc[0] == 120.5 and pd.isna(acc["distance_m"].iloc[1])
    meta = _read(pg_url, "SELECT key, value FROM planning.livingcircle_metadata", geom=False)
    meta = dict(zip(meta["key"], meta["value"], strict=True))
    assert meta["crs"] == '"CGCS2000 / 3-degree Gauss-Kruger zone 42 (EPSG:4530)"'


def test_existing_tables_replaced_only_when_asked(pg_url):
    layers = _layers()
    pg.export_postgis(layers, pg_url, schema="repl", crs="cgcs2000")
    changed = {k: v.copy() for k, v in layers.items()}
    changed["facilities"].loc[0, "name"] = "新建幼儿园"
    with pytest.raises(ExportError, match=r"exist in schema 'repl'.*--replace"):
        pg.export_postgis(changed, pg_url, schema="repl", crs="cgcs2000-gk3-nozone")
    fac = _read(pg_url, "SELECT * FROM repl.facilities ORDER BY facility_id")
    assert fac.loc[0, "name"] == "红星幼儿园" and fac.crs.to_epsg() == 4490
    pg.export_postgis(changed, pg_url, schema="repl", crs="cgcs2000-gk3-nozone",
                      if_exists="replace")
    fac = _read(pg_url, "SELECT * FROM repl.facilities ORDER BY facility_id")
    assert fac.loc[0, "name"] == "新建幼儿园" and fac.crs.to_epsg() == 4551


def test_cli_to_postgis(pg_url, tmp_path, capsys):
    import pyogrio

    src = tmp_path / "livingcircle.gpkg"
    for name, df in _layers().items():
        pyogrio.write_dataframe(df, src, layer=name)
    args = ["export", str(src), "--to", pg_url, "--schema", "cli", "--crs", "gcj02",
            "--layers", "facilities"]
    assert cli_main(args) == 0
    assert capsys.readouterr().out.split() == ["cli.facilities"]
    assert cli_main(args) == 2
    assert cli_main([*args, "--replace"]) == 0
    fac = _read(pg_url, "SELECT * FROM cli.facilities ORDER BY facility_id")
    assert fac.crs.to_epsg() == 4326
    # GCJ-02 shifts Harbin by some hundreds of metres
    assert 1e-4 < abs(fac.geometry.x.iloc[0] - 126.6131) < 1e-2
