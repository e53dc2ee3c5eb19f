"""Capacity-aware access: the two-step floating catchment area method (2SFCA).

:func:`livingcircle.gaps.find_gaps` asks whether a facility is within walking distance;
:func:`capacity_access` asks whether the facilities within the catchment have enough places for
the demand around them (Luo & Wang 2003; Gaussian decay after Dai 2010). Its table feeds
:func:`livingcircle.renovation.renovation_needs` (a category within reach but over capacity is a
need). A new capacity method (e.g. enhanced 2SFCA) goes here.

The method. Step 1: every facility *j* of a category gets a supply-to-demand ratio
``R_j = capacity_j / Σ_k w(d_kj) · demand_k`` over the communities *k* whose network distance
``d_kj`` is within the category's threshold (``max_walk_m``, the catchment). Step 2: every
community *i* sums ``A_i = Σ_j w(d_ij) · R_j`` over the facilities within the same catchment.
``A_i`` is in places per person of demand. With ``decay="none"`` (the default, classic 2SFCA)
``w`` is 1 inside the catchment; ``decay="gaussian"`` uses Dai (2010)'s Gaussian weight that
falls from 1 at the facility to 0 at the catchment edge.

Demand basis: the ``demand`` column of the communities (population by default; pass another
column, e.g. a count of children aged 3–6, when you have it). No share is assumed.

No verified per-category norm (places per person) exists in the project's standards
reference, so none is built in: give ``persons_per_place`` (one number for every category or
a mapping per category). A community meets the norm when ``A_i ≥ 1 / persons_per_place``.

Unknowns are never guessed (:data:`CAPACITY_STATUSES`, decided by :func:`_capacity_status`):

- a facility without capacity contributes nothing to the computed ratio, which is then a lower
  bound; the status is 'ok' if even the lower bound meets the norm, else 'no_capacity_data';
- a community with unknown demand is left out of the facilities' demand, whose ratios are then
  upper bounds; the status is 'over_capacity' if even the upper bound fails the norm, else
  'no_demand_data';
- both unknowns at once give 'no_capacity_data';
- no facility of the category within the catchment gives 'no_facility_in_reach'
  (supply_ratio 0; the proximity gap of :func:`livingcircle.gaps.find_gaps` already shows it);
- a category without a norm gives 'no_norm' (supply_ratio still computed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from ._errors import InputError
from .gaps import require_columns
from .standards import Profile

CAPACITY_STATUSES = (
    "ok", "over_capacity", "no_capacity_data", "no_demand_data", "no_facility_in_reach", "no_norm",
)
DECAYS = ("none", "gaussian")

CAPACITY_COLUMNS = [
    "community_id", "category", "catchment_m", "demand", "demand_basis",
    "n_facilities_in_reach", "n_facilities_no_capacity", "supply_ratio", "places_per_1000",
    "norm_ratio", "capacity_met", "capacity_status", "decay",
]


def _decay(d: np.ndarray, d0: float, decay: str) -> np.ndarray:
    if decay == "none":
        return (d <= d0).astype(float)
    # Gaussian 2SFCA (Dai 2010): weight 1 at the facility, 0 at the catchment edge.
    w = (np.exp(-0.5 * (d / d0) ** 2) - math.exp(-0.5)) / (1.0 - math.exp(-0.5))
    return np.where(d <= d0, w, 0.0)


def capacity_access(
    pairs: pd.DataFrame,
    communities: pd.DataFrame,
    facilities: pd.DataFrame,
    profile: Profile,
    *,
    categories: Iterable[str] | None = None,
    persons_per_place: float | Mapping[str, float] | None = None,
    demand: str = "population",
    decay: str = "none",
) -> pd.DataFrame:
    """Measure capacity-aware access with the two-step floating catchment area method (2SFCA).

    The method, the demand basis, the norm and how unknown capacity or demand is reported
    (``capacity_status``) are described in the module docstring (:mod:`livingcircle.capacity`).

    Parameters
    ----------
    pairs
        community_id, facility_id, category, distance_m: every community–facility pair within the
        search cutoff along the network (duplicates keep the shortest distance).
    communities
        Must hold community_id and the ``demand`` column (missing values = unknown).
    facilities
        facility_id and capacity (missing values = unknown; capacity 0 is a real zero).
    profile
        Gives each category its catchment (max_walk_m).
    categories
        Category ids to measure; None measures every category present in ``pairs`` that the
        profile defines as a POI category.
    persons_per_place
        The norm: one place per this many persons of demand.
    demand
        The column of ``communities`` used as demand.
    decay
        'none' or 'gaussian'.

    Returns
    -------
    pandas.DataFrame
        One row per community × category: community_id, category, catchment_m, demand,
        demand_basis, n_facilities_in_reach, n_facilities_no_capacity, supply_ratio
        (places per person), places_per_1000 (supply_ratio × 1000), norm_ratio, capacity_met
        (boolean, NA when it cannot be decided), capacity_status, decay.
    """
    _check_capacity_inputs(pairs, communities, facilities, demand=demand, decay=decay)
    p = _clean_pairs(pairs)
    cats = _categories_to_measure(p, profile, categories)
    comm, fac = _demand_and_supply(p, communities, facilities, demand)
    out = [_category_rows(p, comm, fac, cid, profile.category(cid).max_walk_m,
                          _persons_per_place(persons_per_place, cid), demand=demand,
                          decay=decay) for cid in cats]
    result = (pd.concat(out, ignore_index=True) if out
              else pd.DataFrame([], columns=CAPACITY_COLUMNS))
    result["capacity_met"] = result["capacity_met"].astype("boolean")
    return result.sort_values(["community_id", "category"], kind="stable").reset_index(drop=True)


def _check_capacity_inputs(pairs: pd.DataFrame, communities: pd.DataFrame,
                           facilities: pd.DataFrame, *, demand: str, decay: str) -> None:
    """Check the columns :func:`capacity_access` needs and its ``decay``."""
    require_columns(pairs, ("community_id", "facility_id", "category", "distance_m"),
                    "pairs table")
    require_columns(communities, ("community_id", demand), "communities")
    require_columns(facilities, ("facility_id", "capacity"), "facilities")
    if decay not in DECAYS:
        msg = f"unknown decay {decay!r}; valid decays: {list(DECAYS)}"
        raise InputError(msg)


def _categories_to_measure(p: pd.DataFrame, profile: Profile,
                           categories: Iterable[str] | None) -> list[str]:
    """Return the categories to measure, each checked in the profile.

    Those asked for, or (None) the profile's POI categories present in the pairs ``p``, in the
    profile's order.
    """
    if categories is None:
        poi = {c.id for c in profile.poi_categories()}
        present = set(p["category"].unique())  # once: in the comprehension's condition it was
        # built again for every category (2.1 million values read at the city centre, 1.4 s)
        return [c for c in profile.categories if c in poi and c in present]
    cats = list(dict.fromkeys(categories))
    for c in cats:
        profile.category(c)
    return cats


def _category_rows(p: pd.DataFrame, comm: pd.DataFrame, fac: pd.DataFrame, cid: str, d0: float,
                   ppp: float | None, *, demand: str, decay: str) -> pd.DataFrame:
    """Return the rows of one category: 2SFCA within its catchment ``d0``, every community's status.

    ``ppp`` is the category's norm (persons per place; None: no norm). A community with no
    facility in reach has 0 of them and a ratio of 0. Built column by column: with a dict per
    row (and ``to_dict``/``itertuples`` over the pandas columns) ``capacity_access`` took
    3.4-3.6 s on the 1M city's 310,000 rows, 2.0-2.3 s now, the same frame (2026-12-07).
    """
    norm = 1.0 / ppp if ppp is not None else math.nan
    per = _category_ratios(p[(p["category"] == cid) & (p["distance_m"] <= d0)], comm, fac,
                           d0, decay).reindex(comm["community_id"])  # ids unique: checked
    n_in = per["n_in"].fillna(0).to_numpy(dtype=np.int64)
    n_nocap = per["n_nocap"].fillna(0).to_numpy(dtype=np.int64)
    ratio = per["ratio"].fillna(0.0).to_numpy(dtype=float)
    incomplete = per["demand_incomplete"].fillna(False).to_numpy(dtype=bool)
    decided = [_capacity_status(a, b, r, d, has_norm=ppp is not None, norm=norm)
               for a, b, r, d in zip(n_in.tolist(), n_nocap.tolist(), ratio.tolist(),
                                     incomplete.tolist(), strict=True)]
    return pd.DataFrame({
        "community_id": comm["community_id"].to_numpy(),
        "category": cid,
        "catchment_m": np.full(len(comm), d0, dtype=float),
        "demand": comm["demand"].to_numpy(dtype=float),
        "demand_basis": demand,
        "n_facilities_in_reach": n_in,
        "n_facilities_no_capacity": n_nocap,
        "supply_ratio": ratio,
        "places_per_1000": ratio * 1000.0,
        "norm_ratio": np.full(len(comm), norm),  # a NaN scalar would make an object column
        "capacity_met": pd.array([m for _s, m in decided], dtype="boolean"),
        "capacity_status": [st for st, _m in decided],
        "decay": decay,
    }, columns=CAPACITY_COLUMNS)


def _clean_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Community–facility pairs as text ids and metres, the shortest of duplicates kept."""
    p = pairs[["community_id", "facility_id", "category", "distance_m"]].copy()
    p["community_id"] = p["community_id"].astype(str)
    p["facility_id"] = p["facility_id"].astype(str)
    p["category"] = p["category"].astype(str)
    p["distance_m"] = pd.to_numeric(p["distance_m"], errors="coerce")
    bad = p["distance_m"].isna() | (p["distance_m"] < 0)
    if bad.any():
        row = p[bad].iloc[0].tolist()
        msg = f"pairs has {int(bad.sum())} rows without a valid distance_m (first: {row})"
        raise InputError(msg)
    return p.groupby(["community_id", "facility_id", "category"])["distance_m"].min().reset_index()


def _demand_and_supply(p: pd.DataFrame, communities: pd.DataFrame, facilities: pd.DataFrame,
                       demand: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Communities' demand and facilities' capacity as floats; every id of ``p`` checked."""
    comm = pd.DataFrame({
        "community_id": communities["community_id"].astype(str).to_numpy(),
        "demand": pd.to_numeric(communities[demand], errors="coerce").to_numpy(dtype=float),
    })
    if comm["community_id"].duplicated().any():
        first = comm.loc[comm["community_id"].duplicated(), "community_id"].iloc[0]
        msg = f"communities has duplicated community_id {first!r}; ids must be unique"
        raise InputError(msg)
    if (comm["demand"] < 0).any():
        msg = f"communities column {demand!r} has negative values; demand must be ≥ 0"
        raise InputError(msg)
    fac = pd.DataFrame({
        "facility_id": facilities["facility_id"].astype(str).to_numpy(),
        "capacity": pd.to_numeric(facilities["capacity"], errors="coerce").to_numpy(dtype=float),
    }).drop_duplicates("facility_id")
    unknown_fac = sorted(set(p["facility_id"]) - set(fac["facility_id"]))
    if unknown_fac:
        msg = f"pairs names facilities not in the facilities layer: {unknown_fac[:5]}"
        raise InputError(msg)
    unknown_comm = sorted(set(p["community_id"]) - set(comm["community_id"]))
    if unknown_comm:
        msg = f"pairs names communities not in the communities layer: {unknown_comm[:5]}"
        raise InputError(msg)
    return comm, fac


def _persons_per_place(persons_per_place, cid: str) -> float | None:
    """Return the norm of one category (None when not given); a non-positive one is an error."""
    if persons_per_place is None:
        ppp = None
    elif isinstance(persons_per_place, Mapping):
        ppp = persons_per_place.get(cid)
    else:
        ppp = persons_per_place
    if ppp is not None and ppp <= 0:
        msg = f"persons_per_place for {cid!r} must be positive, got {ppp}"
        raise InputError(msg)
    return ppp


def _category_ratios(q: pd.DataFrame, comm: pd.DataFrame, fac: pd.DataFrame, d0: float,
                     decay: str) -> pd.DataFrame:
    """Both steps of 2SFCA for one category's pairs within the catchment ``d0``.

    Returns per community (index): n_in (facilities in reach), n_nocap (of them without
    capacity), ratio (A_i) and demand_incomplete (some facility's catchment has unknown demand).
    """
    q = q.merge(comm, on="community_id").merge(fac, on="facility_id")
    q["w"] = _decay(q["distance_m"].to_numpy(dtype=float), d0, decay)
    q["wd"] = q["w"] * q["demand"].fillna(0.0)
    q["demand_na"] = q["demand"].isna()
    fstats = q.groupby("facility_id").agg(wdemand=("wd", "sum"),
                                          demand_unknown=("demand_na", "any"))
    fstats = fstats.join(fac.set_index("facility_id"))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = fstats["capacity"] / fstats["wdemand"]
    # a facility whose catchment holds no (known) demand serves nobody in the study
    fstats["R"] = np.where(fstats["wdemand"] > 0, ratio, 0.0)
    fstats.loc[fstats["capacity"].isna(), "R"] = math.nan
    q = q.merge(fstats[["R", "demand_unknown"]], left_on="facility_id", right_index=True)
    q["wR"] = q["w"] * q["R"].fillna(0.0)
    q["nocap"] = q["R"].isna()
    return q.groupby("community_id").agg(
        n_in=("facility_id", "size"), n_nocap=("nocap", "sum"), ratio=("wR", "sum"),
        demand_incomplete=("demand_unknown", "any"),
    )


def _capacity_status(n_in: int, n_nocap: int, ratio_i: float, demand_incomplete: bool, *,
                     has_norm: bool, norm: float):
    """(capacity_status, capacity_met) of one community and category; see the module docstring."""
    if n_in == 0:
        return "no_facility_in_reach", False
    if not has_norm:
        return "no_norm", pd.NA
    if n_nocap and demand_incomplete:
        return "no_capacity_data", pd.NA
    if n_nocap:
        return ("ok", True) if ratio_i >= norm else ("no_capacity_data", pd.NA)
    if demand_incomplete:
        return ("over_capacity", False) if ratio_i < norm else ("no_demand_data", pd.NA)
    return ("ok", True) if ratio_i >= norm else ("over_capacity", False)
