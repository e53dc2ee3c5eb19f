"""How numbers and shares are written for people: one formatting for the report and figures.

The base layer of the package (no imports from the rest of it). An unreadable or missing value
is written as an empty string, never as ``nan``.

Examples
--------
>>> format_number(55589)
'55,589'
>>> format_number(20.84, 1)
'20.8'
>>> format_share(0.6253, 1)
'62.5%'
>>> format_number(float("nan")), format_share(None)
('', '')
"""

from __future__ import annotations

import math
from typing import SupportsFloat, SupportsIndex

__all__ = ["format_number", "format_share"]


#: A cell to write: a number (numpy's too), text, or None; anything else float() refuses is
#: written as unknown.
Cell = SupportsFloat | SupportsIndex | str | None


def _as_float(value: Cell) -> float | None:
    if value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


def format_number(value: Cell, digits: int = 0) -> str:
    """Write a number with thousands separators and ``digits`` decimals.

    Text that is not a number is returned as it is; None and NaN as ``""``.
    """
    if value is None:
        return ""
    try:
        float(value)
    except (TypeError, ValueError):
        return str(value)
    x = _as_float(value)
    return "" if x is None else f"{x:,.{digits}f}"


def format_share(value: Cell, digits: int = 1) -> str:
    """Write a share (0–1) as a percentage with ``digits`` decimals; ``""`` when unknown."""
    x = _as_float(value)
    return "" if x is None else f"{x:.{digits}%}"
