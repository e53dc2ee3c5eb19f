"""PostgreSQL/PostGIS export of result layers (GeoPandas ``to_postgis``).

:func:`export_postgis` writes the layers of a result GeoPackage, or a dict of frames, as tables
of one schema, in the coordinate system asked for, with the metadata table beside them. It needs
the ``postgis`` extra (sqlalchemy, geoalchemy2, psycopg2).

It is an output beside ``export``, not above it: it reads a result with
:func:`livingcircle.results.read_result` and builds the metadata with
:func:`livingcircle.results.build_metadata`, the same functions ``export`` uses, and imports no
other output (``tests/test_layers.py``). Another database writer goes beside it, as a module of
its own in the outputs layer.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from ._errors import ExportError
from .crs import resolve_crs, to_export_crs
from .results import (
    METADATA_TABLE,
    as_table,
    build_metadata,
    flatten_values,
    is_spatial,
    metadata_frame,
    read_metadata,
    read_result,
    select_layers,
)

logger = logging.getLogger(__name__)

_SQL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def export_postgis(
    source: str | os.PathLike | Mapping[str, pd.DataFrame],
    url: str,
    *,
    schema: str = "public",
    crs: str | int = "cgcs2000",
    if_exists: str = "fail",
    layers: Iterable[str] | str | None = None,
    table_prefix: str = "",
    metadata: Mapping | None = None,
) -> list[str]:
    """Write result layers to PostgreSQL/PostGIS tables (GeoPandas ``to_postgis``).

    Parameters
    ----------
    source
        A result GeoPackage or a dict {layer name: GeoDataFrame or DataFrame}.
    url
        SQLAlchemy URL, e.g. ``postgresql://user:pass@host:5432/db`` or
        ``postgresql:///db?host=/var/run/postgresql`` for a local socket.
    schema
        Target schema; created when missing.
    crs
        As in :func:`livingcircle.export.export_layers`.
    if_exists
        ``'fail'`` (default: an existing table is an error) or ``'replace'``.
    layers
        Layers to write; all when None.
    table_prefix
        Prepended to every table name (e.g. ``'lc_'``); table names are the layer names.
    metadata
        Extra metadata, merged as in :func:`livingcircle.export.export_layers` and stored in the
        table ``<prefix>livingcircle_metadata``.

    Returns
    -------
    list of str
        The tables written, as ``schema.table``.
    """
    sa = _sqlalchemy(url)
    if if_exists not in ("fail", "replace"):
        msg = f"if_exists must be 'fail' or 'replace', got {if_exists!r}"
        raise ExportError(msg)
    if not _SQL_NAME.match(schema):
        msg = f"schema name {schema!r} must be letters, digits and '_' (at most 63)"
        raise ExportError(msg)
    if isinstance(source, Mapping):
        frames_in = {n: source[n] for n in select_layers(list(source), layers, where="the layers")}
        source_meta, source_path = {}, None
    else:
        source_path = Path(source)
        frames_in = read_result(source_path, layers=layers)
        source_meta = read_metadata(source_path)
    tables = {f"{table_prefix}{n}": flatten_values(df) for n, df in frames_in.items()}
    for t in [*tables, f"{table_prefix}{METADATA_TABLE}"]:
        if not _SQL_NAME.match(t):
            msg = f"table name {t!r} must be letters, digits and '_' (at most 63); rename the layer"
            raise ExportError(msg)
    spatial = [df for df in frames_in.values() if is_spatial(df)]
    resolved = resolve_crs(crs, spatial)
    meta = build_metadata(
        source_meta=source_meta, caller_meta=metadata, source_path=source_path,
        resolved=resolved, crs_name=str(crs), fmt="postgis", encoding="UTF-8", layers=frames_in,
    )
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            written = _write_tables(conn, tables, schema=schema, resolved=resolved, meta=meta,
                                    meta_table=f"{table_prefix}{METADATA_TABLE}",
                                    if_exists=if_exists)
    finally:
        engine.dispose()
    logger.info("wrote %s to PostGIS (%s)", written, resolved.label)
    return written


def _sqlalchemy(url: str):
    """Return sqlalchemy, after checking that the PostGIS extra is installed."""
    try:
        import geoalchemy2  # noqa: F401 - the PostGIS geometry type sqlalchemy writes with
        import sqlalchemy as sa

        if str(url).startswith(("postgresql://", "postgres://")):
            import psycopg2  # noqa: F401 - the default driver of a postgresql:// URL
    except ImportError as exc:  # pragma: no cover - depends on the install
        msg = (f"PostGIS export needs {exc.name}, which the base install leaves out: "
               'pip install "livingcircle[postgis]"')
        raise ExportError(msg) from None
    return sa


def _write_tables(conn, tables: Mapping[str, pd.DataFrame], *, schema: str, resolved,
                  meta: Mapping, meta_table: str, if_exists: str) -> list[str]:
    """Write the tables and the metadata table in one transaction; return ``schema.table``s.

    The schema is created when missing; an existing table is an error unless ``if_exists`` is
    'replace'.
    """
    import sqlalchemy as sa

    conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    existing = set(sa.inspect(conn).get_table_names(schema=schema))
    clash = [t for t in [*tables, meta_table] if t in existing]
    if clash and if_exists != "replace":
        msg = (
            f"table(s) {clash} exist in schema {schema!r}; pass if_exists='replace' "
            "(command line: --replace) to replace them, or choose another schema"
        )
        raise ExportError(msg)
    written = []
    for t, df in tables.items():
        if is_spatial(df):
            gdf = to_export_crs(df, resolved).rename_geometry("geom")
            gdf.to_postgis(t, conn, schema=schema, if_exists="replace", index=False)
        else:
            as_table(df).to_sql(t, conn, schema=schema, if_exists="replace", index=False)
        written.append(f"{schema}.{t}")
    metadata_frame(meta).to_sql(meta_table, conn, schema=schema, if_exists="replace",
                                index=False)
    return written
