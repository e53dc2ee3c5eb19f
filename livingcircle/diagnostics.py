"""A record of every input row that was set aside or repaired, and why.

Readers and analysis steps take an optional :class:`Diagnostics` and add one record per affected
row; ``livingcircle run`` writes them as the ``diagnostics`` layer. Nothing the user gave is dropped
without a record here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from .schema import DIAGNOSTIC_COLUMNS

logger = logging.getLogger(__name__)


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
        geometry=None,
    ) -> None:
        """Record one row; ``action`` is 'dropped', 'repaired' or 'kept'."""
        if action not in ("dropped", "repaired", "kept"):
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

    def to_frame(self, crs="EPSG:4326") -> gpd.GeoDataFrame:
        """Return the records as a GeoDataFrame (geometry may be empty), in ``crs``."""
        if not self.records:
            df = pd.DataFrame({c: pd.Series(dtype="object") for c in DIAGNOSTIC_COLUMNS})
            return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
        df = pd.DataFrame(self.records)
        df["row"] = df["row"].astype("Int64")
        return gpd.GeoDataFrame(df, geometry="geometry", crs=crs)

    def summary(self) -> pd.DataFrame:
        """Return counts by layer, issue and action."""
        df = pd.DataFrame(self.records, columns=[*DIAGNOSTIC_COLUMNS, "geometry"])
        return df.groupby(["layer", "issue", "action"]).size().rename("count").reset_index()
