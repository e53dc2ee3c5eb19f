"""A record of every input row that was set aside or repaired, and why.

Readers and analysis steps take an optional :class:`Diagnostics` and add one record per affected
row; ``livingcircle run`` writes them as the ``diagnostics`` layer. Nothing the user gave is dropped
without a record here.

Every record names its layer, its ``source`` (the file), its ``row`` — the 1-based data row of the
source file (``src_row`` of the readers; never a pandas index) — and its ``feature_id`` where the
layer has ids. Records about a whole file or column (an encoding, a missing id column, unused
columns) have no row; their issues are :data:`FILE_ISSUES`. Features taken from an OSM file have
no row either: their ``feature_id`` is the OSM id. On the console, rows set aside are summarised
one line per file by :func:`set_aside_lines`.
"""

from __future__ import annotations

import ast
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd

from .schema import DIAGNOSTIC_ACTIONS, DIAGNOSTIC_COLUMNS

if TYPE_CHECKING:
    from pyproj import CRS

logger = logging.getLogger(__name__)

#: Issues recorded once for a whole file, column or network part rather than for a source row.
FILE_ISSUES = frozenset({"encoding", "missing_id", "unused_columns", "disconnected_component"})

#: How the console names the reasons rows are set aside (issue → words).
ISSUE_TEXT = {
    "missing_coordinates": "no coordinates",
    "bad_coordinates": "unusable coordinates",
    "empty_geometry": "no geometry",
    "invalid_geometry": "invalid geometry",
    "far_outside": "far outside the study area",
    "far_from_network": "far from the walking streets",
    "unclassified": "no category matched",
    "unknown_category": "unknown category",
    "missing_community_id": "no community id",
    "unknown_community": "unknown community",
    "disconnected_component": "not connected to the main walking network",
    "outside_study_area": "outside the study area",
    "in_other_area": "in an area listed before this one",
    "community_outside_study_area": "of a community outside the study area",
    "gate_far_from_community": "far from their own community",
}


_SET_ASIDE_UNIT = {"network": ("street part", "street parts")}


def where_in(frame: pd.DataFrame, k: int) -> dict:
    """Return ``source`` and ``row`` (1-based) of the ``k``-th row of a frame read by :mod:`io`.

    The row is the frame's ``src_row``; the file is ``frame.attrs["source"]`` (set by the
    readers), else the row's ``source`` column; each is None where the frame does not say.
    """
    row = frame["src_row"].iloc[k] if "src_row" in frame.columns else None
    source = frame.attrs.get("source")
    if source is None and "source" in frame.columns:
        source = frame["source"].iloc[k]
    return {"source": None if source is None or pd.isna(source) else str(source),
            "row": None if row is None or pd.isna(row) else int(row)}


def reasons_text(issues: dict[str, list], rows_shown: int = 3) -> str:
    """Return ``2 unknown category (rows 2, 4), 1 no coordinates (row 9)`` for issue → rows."""
    parts = []
    for issue, rows in sorted(issues.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        text = f"{len(rows)} {ISSUE_TEXT.get(issue, issue.replace('_', ' '))}"
        known = sorted(int(x) for x in rows if x is not None and not pd.isna(x))
        if known:
            shown = ", ".join(str(x) for x in known[:rows_shown])
            more = f" and {len(known) - rows_shown} more" if len(known) > rows_shown else ""
            text += f" ({'rows' if len(known) > 1 else 'row'} {shown}{more})"
        parts.append(text)
    return ", ".join(parts)


def set_aside_lines(records: Iterable[dict], *, rows_shown: int = 3) -> list[str]:
    """Summarise dropped records: one line per layer and file, reasons by count, first rows.

    Examples
    --------
    >>> set_aside_lines([
    ...     {"layer": "facilities", "source": "pois.csv", "row": 4, "issue": "unknown_category",
    ...      "action": "dropped"},
    ...     {"layer": "facilities", "source": "pois.csv", "row": 9,
    ...      "issue": "missing_coordinates", "action": "dropped"},
    ...     {"layer": "facilities", "source": "pois.csv", "row": 2, "issue": "unknown_category",
    ...      "action": "dropped"}])
    ['pois.csv: 3 rows set aside — 2 unknown category (rows 2, 4), 1 no coordinates (row 9); see the diagnostics layer']
    """  # noqa: E501
    groups: dict[tuple, dict[str, list]] = {}
    for r in records:
        if r.get("action") != "dropped":
            continue
        key = (r.get("source") or r.get("layer"), r.get("layer"))
        groups.setdefault(key, {}).setdefault(r["issue"], []).append(r.get("row"))
    lines = []
    for (source, layer), issues in groups.items():
        n = sum(len(v) for v in issues.values())
        what = _SET_ASIDE_UNIT.get(layer, ("row", "rows"))[n > 1]
        lines.append(f"{source}: {n} {what} set aside — {reasons_text(issues, rows_shown)}; "
                     "see the diagnostics layer")
    return lines


@dataclass
class Diagnostics:
    """Collects diagnostic records (see :data:`livingcircle.schema.DIAGNOSTIC_COLUMNS`)."""

    records: list[dict] = field(default_factory=list)

    def add(
        self,
        layer: str,
        issue: str,
        *,
        action: str,
        detail: str = "",
        source: str | None = None,
        row: int | None = None,
        feature_id: str | None = None,
        # a shapely geometry or None; typed object as pandas-stubs type a GeoSeries cell as any
        # scalar (``gdf.geometry.iloc[i]``)
        geometry: object = None,
    ) -> None:
        """Record one row; ``action`` is 'dropped', 'repaired' or 'kept'."""
        if action not in DIAGNOSTIC_ACTIONS:
            msg = f"action must be 'dropped', 'repaired' or 'kept', got {action!r}"
            raise ValueError(msg)
        self.records.append({
            "layer": layer,
            "source": None if source is None else str(source),
            "row": row,
            "feature_id": None if feature_id is None else str(feature_id),
            "issue": issue,
            "action": action,
            "detail": detail,
            "geometry": geometry,
        })
        logger.info("%s %s row %s (%s): %s %s", layer, source or "", row, feature_id, issue, action)

    def extend(self, other: Diagnostics) -> None:
        """Append the records of another collector."""
        self.records.extend(other.records)

    def __len__(self) -> int:
        return len(self.records)

    def to_frame(self, crs: str | int | CRS = "EPSG:4326") -> gpd.GeoDataFrame:
        """Return the records as a GeoDataFrame (geometry may be empty), in ``crs``."""
        if not self.records:
            df = pd.DataFrame({c: pd.Series(dtype="object") for c in DIAGNOSTIC_COLUMNS})
            return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
        df = pd.DataFrame(self.records)
        df["row"] = df["row"].astype("Int64")
        return gpd.GeoDataFrame(df, geometry="geometry", crs=crs)

    def set_aside_lines(self, *, start: int = 0) -> list[str]:
        """Console lines for the rows dropped since record ``start`` (:func:`set_aside_lines`)."""
        return set_aside_lines(self.records[start:])

    def summary(self) -> pd.DataFrame:
        """Return counts by layer, issue and action."""
        df = pd.DataFrame(self.records, columns=[*DIAGNOSTIC_COLUMNS, "geometry"])
        return df.groupby(["layer", "issue", "action"]).size().rename("count").reset_index()


def kept_source_columns(records: pd.DataFrame, layer: str) -> list[str]:
    """Return the user's columns of ``layer`` kept as they are but not used, from the records.

    They are the ``unused_columns`` records' lists (``columns kept as they are but not used:
    '地址', 'note'; …``), in file order; the layer contract allows them on the layers that keep
    source columns (:func:`livingcircle.schema.check_layer`, ``source_columns``).

    Parameters
    ----------
    records
        The ``diagnostics`` layer (or :meth:`Diagnostics.to_frame`).
    layer
        The layer whose columns to list.

    Examples
    --------
    >>> d = Diagnostics()
    >>> d.add("facilities", "unused_columns", action="kept", source="pois.csv",
    ...       detail="columns kept as they are but not used: '地址', 'note'; if one holds a "
    ...              "schema column, map it with --columns")
    >>> kept_source_columns(d.to_frame(), "facilities")
    ['地址', 'note']
    """
    rows = records[(records["issue"] == "unused_columns") & (records["layer"] == layer)]
    out: list[str] = []
    for detail in rows["detail"]:
        m = _UNUSED.match(str(detail))
        if m:
            out += [str(c) for c in ast.literal_eval("[" + m.group(1) + "]")]
    return out


_UNUSED = re.compile(r"columns kept as they are but not used: (.*?); if one holds")
