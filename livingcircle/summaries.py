"""The figures every output shows about a result, computed once.

The map, the report, the figures, the notebook display and the batch summary all tell a planner
how many communities are in renovation scope, how many reach every required category and what
share of the required categories is met. They read them here, so a count means the same
everywhere: a community is in scope only when ``in_scope`` is ``"yes"`` ("no" and "unknown" are
not; the batch summary once counted them too), and the share met is
``(n_required − n_missing_required) / n_required`` of :func:`livingcircle.gaps.completeness`.
A new headline figure goes here.

Examples
--------
>>> import pandas as pd
>>> from livingcircle.summaries import n_in_scope, share_met
>>> comm = pd.DataFrame({"community_id": ["a", "b", "c"], "in_scope": ["yes", "no", "unknown"],
...                      "n_required": [4, 4, 0], "n_missing_required": [1, 0, 0]})
>>> n_in_scope(comm)
1
>>> share_met(comm).tolist()
[0.75, 1.0, nan]
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .schema import is_yes


def share_met(communities: pd.DataFrame) -> pd.Series:
    """Return each community's share of required categories met (NaN when it cannot be told).

    Parameters
    ----------
    communities
        The communities layer (or the completeness table) with ``n_required`` and
        ``n_missing_required``; without them ``completeness_5`` is used.

    Returns
    -------
    pandas.Series
        Floats in [0, 1] on the frame's index; NaN for a community with no required category or
        no figures.
    """
    if {"n_required", "n_missing_required"} <= set(communities.columns):
        n = pd.to_numeric(communities["n_required"], errors="coerce")
        miss = pd.to_numeric(communities["n_missing_required"], errors="coerce")
        return ((n - miss) / n.where(n > 0)).astype(float)
    if "completeness_5" in communities.columns:
        return pd.to_numeric(communities["completeness_5"], errors="coerce").astype(float)
    return pd.Series(np.nan, index=communities.index, dtype=float)


def in_scope_mask(communities: pd.DataFrame) -> pd.Series:
    """Return True where a community is in renovation scope (``in_scope == "yes"``).

    Parameters
    ----------
    communities
        The communities layer; without an ``in_scope`` column no community is in scope.

    Returns
    -------
    pandas.Series
        Booleans on the frame's index ("no" and "unknown" are False).
    """
    if "in_scope" not in communities.columns:
        return pd.Series(False, index=communities.index, dtype=bool)
    return is_yes(communities["in_scope"])


def n_in_scope(communities: pd.DataFrame) -> int:
    """Return how many communities are in renovation scope (``in_scope == "yes"``)."""
    return int(in_scope_mask(communities).sum())


def scope_counts(communities: pd.DataFrame) -> dict[str, int]:
    """Return the number of communities whose ``in_scope`` is "yes", "no" and "unknown".

    Parameters
    ----------
    communities
        The communities layer with ``in_scope``.

    Returns
    -------
    dict
        ``{"yes": n, "no": n, "unknown": n}``.
    """
    s = communities["in_scope"].astype(str)
    return {k: int((s == k).sum()) for k in ("yes", "no", "unknown")}


def n_complete(communities: pd.DataFrame) -> int:
    """Return how many communities reach every required category (no required one missing).

    Parameters
    ----------
    communities
        The communities layer; 0 without ``n_missing_required``.
    """
    if "n_missing_required" not in communities.columns:
        return 0
    return int((pd.to_numeric(communities["n_missing_required"], errors="coerce") == 0).sum())


def total_households(communities: pd.DataFrame) -> float:
    """Return the households of all communities (unknown counts left out; 0 without the column)."""
    if "households" not in communities.columns:
        return 0
    return pd.to_numeric(communities["households"], errors="coerce").sum()


def area_summary(result) -> dict:
    """Key figures of one area from the layers of a :class:`livingcircle.pipeline.Result`.

    ``mean_completeness_<level>`` is the mean over communities of the share of that level's
    required categories met; ``mean_completeness`` the same over all levels together
    (1 − missing/required per community); ``share_households_<level>`` the share of households
    (of communities when no household counts are given) living in communities where every
    required category of that level is met; ``share_households_complete_community`` the same for
    the 完整居住社区 check; ``in_scope`` the communities in renovation scope
    (:func:`n_in_scope`). The batch summary has one row of these per area.

    Parameters
    ----------
    result
        A result with ``communities``, ``completeness`` and ``facilities`` layers.

    Returns
    -------
    dict
        Figure name → number.
    """
    comm = result.layers["communities"]
    comp = result.layers["completeness"]
    fig: dict = {"communities": len(comm), "facilities": len(result.layers["facilities"])}
    hh = comm.set_index("community_id")["households"] if "households" in comm.columns else None
    fig["households"] = float(hh.sum()) if hh is not None else math.nan
    fig["population"] = (float(comm["population"].sum()) if "population" in comm.columns
                         else math.nan)
    w = comp["community_id"].map(hh).astype(float) if hh is not None else None
    if w is None or not w.notna().any() or w.fillna(0).sum() <= 0:
        w = pd.Series(1.0, index=comp.index)
    w = w.fillna(0.0)
    req = comp["n_required"].astype(float)
    per = (1 - comp["n_missing_required"] / req.where(req > 0))
    fig["mean_completeness"] = float(per.mean()) if per.notna().any() else math.nan
    for col in [c for c in comp.columns if c.startswith("completeness_")]:
        key = col[len("completeness_"):]
        v = comp[col].astype(float)
        fig[f"mean_completeness_{key}"] = float(v.mean()) if v.notna().any() else math.nan
        judged = v.notna()
        den = w[judged].sum()
        fig[f"share_households_{key}"] = (float(w[judged & (v >= 1 - 1e-9)].sum() / den)
                                          if den > 0 else math.nan)
    cc = comp["complete_community"].astype(bool)
    fig["share_households_complete_community"] = (float(w[cc].sum() / w.sum())
                                                  if w.sum() > 0 else math.nan)
    fig["missing_required"] = int(comp["n_missing_required"].sum())
    if "in_scope" in comm.columns:
        fig["in_scope"] = n_in_scope(comm)
    return fig
