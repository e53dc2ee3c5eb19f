"""A multi-year renovation programme (十四五) beside the annual plan.

黑政办规〔2021〕15号 二(三) asks each city to "科学编制老旧小区改造“十四五”规划，合理确定年度改造
计划，并将居民出资、业主委员会（物业管理委员会）组建、改造后物业管理模式确定等作为纳入年度改造计划
的前提条件", and 五(二)2 to "积极推进片区联动改造". :func:`multi_year_programme` turns the ranked
annual plan (:func:`livingcircle.renovation.annual_plan`) into years:

- only **ready** communities with at least one need are scheduled (the same rule as the annual
  plan: the preconditions are the policy's condition for entering a year's plan);
- they are taken **in rank order**, year by year: a community (or a 片区's block, below) that does
  not fit what is left of a year's capacity opens the next year; no lower-ranked community
  overtakes it (so a year may keep unused capacity, shown in the summary);
- the ready **members of one 片区** (``cluster_members`` rows with role ``member``) form one
  block at the rank of their best-ranked member and go into the same year;
- a block larger than a whole year's capacity is not split and not squeezed in: it is reported
  ``exceeds_year_capacity`` with its size, for the planner to decide;
- what does not fit in the period is ``after_period``; communities that are not ready are listed
  with what they lack (``not_ready``/``readiness_unknown``); in-scope communities without a need
  are ``no_need``.

The capacity per year is counted in households, in communities, or as a budget. A budget needs a
cost table the planner supplies (:func:`read_costs`); there are no default costs. A community's
cost is the sum, over its needs assessed ``need``, of the table's row for that need (``item``
equal to the need's ``item_id``) or else for its class (``基础``/``完善``/``提升``):
``cost_per_community + cost_per_household × households``. A need the table does not price, or
unknown households where a per-household cost applies, makes the cost unknown: such a community
is ``cost_unknown`` and is not scheduled under a budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal, cast

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import InputError

Unit = Literal["households", "communities", "budget"]

#: Status of a community in the programme, with its Chinese label.
STATUS_ZH = {
    "scheduled": "已排入年度",
    "after_period": "规划期后",
    "exceeds_year_capacity": "超过单年能力",
    "households_unknown": "户数未知",
    "cost_unknown": "费用未知",
    "not_ready": "前提条件未满足",
    "readiness_unknown": "前提条件未核实",
    "no_need": "无改造需求",
}

#: Columns of the programme table, in order.
PROGRAMME_COLUMNS = ["community_id", "name", "cluster_id", "rank", "households", "cost", "year",
                     "status", "status_zh", "reason_zh", "reason_en"]


def parse_years(text: str, *, option: str = "years") -> list[int]:
    """``"2026-2030"`` → ``[2026, …, 2030]``; ``"2026,2028"`` → ``[2026, 2028]``.

    ``option`` names the option in the error (``--years`` on the command line).

    >>> parse_years("2026-2028")
    [2026, 2027, 2028]
    >>> parse_years("2027, 2026")
    [2026, 2027]
    """
    text = str(text)
    a = b = 0
    try:
        if "-" in text:
            a, b = (int(x) for x in text.split("-", 1))
            years = list(range(a, b + 1))
        else:
            years = sorted({int(x) for x in text.split(",") if x.strip()})
    except ValueError:
        years = []
    if a > b:
        msg = f"{option} {text!r}: the first year is after the last; write {b}-{a}"
        raise InputError(msg)
    if not years or years[0] < 1900:
        msg = f"{option} {text!r}: give a range such as 2026-2030 or a list such as 2026,2027"
        raise InputError(msg)
    return years


def read_costs(path: str | Path) -> pd.DataFrame:
    """Read the planner's cost table (CSV or Excel).

    Columns: ``item`` plus ``cost_per_community`` and/or ``cost_per_household`` (in the budget's
    unit, e.g. 万元). ``item`` is a need's ``item_id`` (``elevator_retrofit``) or a class
    (``基础``, ``完善``, ``提升``). An empty cost cell means the row gives no such cost (0).
    """
    path = Path(path)
    try:
        df = pd.read_excel(path) if path.suffix.lower() in (".xlsx", ".xls") else pd.read_csv(path)
    except (OSError, ValueError) as e:
        msg = f"{path}: cannot read the cost table ({e})"
        raise InputError(msg) from e
    return check_costs(df, source=str(path))


def check_costs(df: pd.DataFrame, *, source: str = "cost table") -> pd.DataFrame:
    """Check a cost table's columns and numbers; return it with numeric cost columns."""
    cost_cols = [c for c in ("cost_per_community", "cost_per_household") if c in df.columns]
    if "item" not in df.columns or not cost_cols:
        msg = (f"{source}: needs a column 'item' and at least one of 'cost_per_community', "
               f"'cost_per_household' (found {list(df.columns)})")
        raise InputError(msg)
    out = df.copy()
    out["item"] = out["item"].astype(str).str.strip()
    for col in cost_cols:
        vals = pd.to_numeric(out[col], errors="coerce")
        bad = vals.isna() & out[col].notna() & (out[col].astype(str).str.strip() != "")
        bad |= vals < 0
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # 1-based, after the header line
            msg = (f"{source}, row {row}, column {col}: {out[col].iloc[row - 2]!r} is not a cost "
                   f"≥ 0; write a number or leave the cell empty")
            raise InputError(msg)
        out[col] = vals.fillna(0.0)
    dup = out["item"][out["item"].duplicated()]
    if len(dup):
        msg = f"{source}: item {dup.iloc[0]!r} is priced twice; keep one row per item"
        raise InputError(msg)
    return out


def community_costs(needs: pd.DataFrame, households: Mapping[str, float],
                    costs: pd.DataFrame) -> pd.DataFrame:
    """Each community's cost from its needs and the cost table.

    Returns community_id, cost (NaN when unknown) and unpriced (';'-joined needs the table does
    not price, or ``households`` when a per-household cost meets unknown households).
    """
    table = costs.set_index("item")
    rows = []
    need = needs[needs["assessment"] == "need"]
    for cid, grp in need.groupby(need["community_id"].astype(str), sort=True):
        hh = households.get(cid, np.nan)
        total, missing = 0.0, []
        for item, cls in zip(grp["item_id"].astype(str), grp["renovation_class"].astype(str),
                             strict=True):
            key = item if item in table.index else cls if cls in table.index else None
            if key is None:
                missing.append(item)
                continue
            # pandas-stubs type a cell as any scalar (Period, Interval, ...); check_costs has
            # made both columns numbers
            per_c = per_h = 0.0
            if "cost_per_community" in table:
                per_c = float(table.at[key, "cost_per_community"])  # pyright: ignore[reportArgumentType]
            if "cost_per_household" in table:
                per_h = float(table.at[key, "cost_per_household"])  # pyright: ignore[reportArgumentType]
            if per_h and not np.isfinite(hh):
                missing.append("households")
                continue
            total += per_c + (per_h * hh if per_h else 0.0)
        rows.append({"community_id": cid, "cost": np.nan if missing else total,
                     "unpriced": ";".join(dict.fromkeys(missing))})
    return pd.DataFrame(rows, columns=["community_id", "cost", "unpriced"])


def _capacities(years: Sequence[int], capacity: float | Mapping[int, float]) -> dict[int, float]:
    if isinstance(capacity, Mapping):
        missing = [y for y in years if y not in capacity]
        if missing:
            msg = f"no capacity given for year(s) {missing}"
            raise InputError(msg)
        caps = {y: float(capacity[y]) for y in years}
    else:
        caps = dict.fromkeys(years, float(capacity))
    if any(not np.isfinite(c) or c <= 0 for c in caps.values()):
        msg = f"the capacity per year must be a number > 0, got {caps}"
        raise InputError(msg)
    return caps


def _blocks(ready: pd.DataFrame, cluster_of: Mapping[str, str]) -> list[pd.DataFrame]:
    """Ready communities in rank order, the members of one 片区 together at their best rank."""
    ready = ready.sort_values("rank", kind="stable")
    key = [cluster_of.get(c) or f"community:{c}" for c in ready["community_id"]]
    order = list(dict.fromkeys(key))
    return [ready[[k == b for k in key]] for b in order]


def _size(block: pd.DataFrame, unit: Unit) -> float:
    if unit == "communities":
        return float(len(block))
    col = "households" if unit == "households" else "cost"
    return float(block[col].sum(min_count=len(block)))


def _schedule(blocks: list[pd.DataFrame], caps: dict[int, float], unit: Unit) -> dict[str, dict]:
    """Years by rank order without overtaking; what each community becomes."""
    years = list(caps)
    used = dict.fromkeys(years, 0.0)
    at = 0                                   # index of the year being filled
    out: dict[str, dict] = {}
    for block in blocks:
        size = _size(block, unit)
        ids = block["community_id"].tolist()
        if not np.isfinite(size):
            status = "cost_unknown" if unit == "budget" else "households_unknown"
            out.update({c: {"status": status, "year": None} for c in ids})
            continue
        if size > max(caps.values()):
            out.update({c: {"status": "exceeds_year_capacity", "year": None, "size": size}
                        for c in ids})
            continue
        while at < len(years) and used[years[at]] + size > caps[years[at]]:
            at += 1
        if at == len(years):
            out.update({c: {"status": "after_period", "year": None} for c in ids})
            continue
        used[years[at]] += size
        out.update({c: {"status": "scheduled", "year": years[at], "size": size} for c in ids})
    return out


def _reason(status: str, year, unit: Unit, size, cluster_id, lacks: str,
            lacks_en: str = "") -> tuple[str, str]:
    block_zh = f"与片区 {cluster_id} 同年；" if cluster_id else ""
    block_en = f"together with cluster {cluster_id}; " if cluster_id else ""
    unit_zh = {"households": "户", "communities": "个小区", "budget": "（预算单位）"}[unit]
    if status == "scheduled":
        return f"{block_zh}排入 {year} 年", f"{block_en}scheduled in {year}"
    if status == "exceeds_year_capacity":
        return (f"{block_zh}规模 {size:g}{unit_zh} 超过单年能力，需调整能力或分期",
                f"{block_en}size {size:g} exceeds one year's capacity; raise it or phase the work")
    if status in ("not_ready", "readiness_unknown"):
        en = f"preconditions: {lacks_en.replace(';', ', ')}" if lacks_en else \
            f"preconditions: {status.replace('_', ' ')}"
        return f"前提条件：{lacks}" if lacks else STATUS_ZH[status], en
    return STATUS_ZH[status], status.replace("_", " ")


def multi_year_programme(
    plan: pd.DataFrame,
    *,
    years: Sequence[int],
    capacity: float | Mapping[int, float],
    unit: Unit = "households",
    not_ready: pd.DataFrame | None = None,
    cluster_members: pd.DataFrame | None = None,
    needs: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Assign the annual plan's ready communities to the programme's years.

    Parameters
    ----------
    plan
        :func:`~livingcircle.renovation.annual_plan`'s ranked table (rank, community_id, name,
        households, need_score, readiness).
    years
        The programme's years, e.g. ``range(2026, 2031)``.
    capacity
        Per year (one number for every year, or ``{year: number}``), in ``unit``.
    unit
        ``"households"``, ``"communities"`` or ``"budget"`` (needs ``needs`` and ``costs``).
    not_ready
        The annual plan's ``not_ready`` table: what the not-ready communities lack.
    cluster_members
        :func:`~livingcircle.clusters.recommend`'s members: a 片区's ready members share a year.
    needs, costs
        The needs table and the planner's cost table (:func:`read_costs`), for a budget.

    Returns
    -------
    tuple of pandas.DataFrame
        ``programme`` (:data:`PROGRAMME_COLUMNS`, one row per community of the plan) and
        ``years`` (year, unit, capacity, used, n_communities, households, cost).
    """
    if unit not in ("households", "communities", "budget"):
        msg = f"unit must be households, communities or budget, got {unit!r}"
        raise InputError(msg)
    caps = _capacities(list(years), capacity)
    df = plan.copy()
    df["community_id"] = df["community_id"].astype(str)
    df["households"] = pd.to_numeric(df["households"], errors="coerce")
    cluster_of = _cluster_of(cluster_members)
    df["cluster_id"] = df["community_id"].map(cluster_of)
    df["cost"] = np.nan
    if unit == "budget" or (costs is not None and needs is not None):
        if needs is None or costs is None:
            msg = "a budget needs the needs table and the planner's cost table (no default costs)"
            raise InputError(msg)
        hh = dict(zip(df["community_id"], df["households"], strict=True))
        cost = community_costs(needs, hh, check_costs(costs)).set_index("community_id")["cost"]
        df["cost"] = df["community_id"].map(cost)
    ready = df[(df["readiness"] == "ready") & (pd.to_numeric(df["need_score"]) > 0)]
    placed = _schedule(_blocks(ready, cluster_of), caps, unit)
    prog = _table(df, placed, unit, not_ready)
    return prog, _year_summary(prog, caps, unit)


def _cluster_of(cluster_members: pd.DataFrame | None) -> dict[str, str]:
    if cluster_members is None or cluster_members.empty:
        return {}
    m = cluster_members[cluster_members["role"] == "member"]
    return dict(zip(m["community_id"].astype(str), m["cluster_id"].astype(str), strict=True))


def _table(df: pd.DataFrame, placed: dict[str, dict], unit: Unit,
           not_ready: pd.DataFrame | None) -> pd.DataFrame:
    lacks = {} if not_ready is None else dict(zip(
        not_ready["community_id"].astype(str), not_ready["lacks_zh"].fillna("").astype(str),
        strict=True))
    lacks_en = {} if not_ready is None or "missing_preconditions" not in not_ready else dict(zip(
        not_ready["community_id"].astype(str),
        not_ready["missing_preconditions"].fillna("").astype(str), strict=True))
    rows = []
    for r in df.sort_values("rank", kind="stable").itertuples(index=False):
        cid = str(r.community_id)  # (text already: see plan_programme)
        p = placed.get(cid)
        if p is None:
            status = {"not_ready": "not_ready", "unknown": "readiness_unknown"}.get(
                str(r.readiness), "no_need")
            p = {"status": status, "year": None}
        cl = r.cluster_id if isinstance(r.cluster_id, str) else None
        zh, en = _reason(p["status"], p["year"], unit, p.get("size"), cl, lacks.get(cid, ""),
                         lacks_en.get(cid, ""))
        rows.append({"community_id": cid, "name": getattr(r, "name", None), "cluster_id": cl,
                     "rank": r.rank, "households": r.households, "cost": r.cost,
                     "year": p["year"], "status": p["status"], "status_zh": STATUS_ZH[p["status"]],
                     "reason_zh": zh, "reason_en": en})
    out = pd.DataFrame(rows, columns=PROGRAMME_COLUMNS)
    out["year"] = out["year"].astype("Int64")
    for col in ("households", "cost"):  # pd.NA among numbers would be written as text
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


def _year_summary(prog: pd.DataFrame, caps: dict[int, float], unit: Unit) -> pd.DataFrame:
    s = prog[prog["status"] == "scheduled"]
    rows = []
    for y, cap in caps.items():
        g = s[s["year"] == y]
        used = {"households": float(g["households"].sum()), "communities": float(len(g)),
                "budget": float(g["cost"].sum())}[unit]
        rows.append({"year": y, "unit": unit, "capacity": cap, "used": used,
                     "n_communities": len(g),
                     "households": float(g["households"].sum()),
                     "cost": float(g["cost"].sum()) if g["cost"].notna().any() else np.nan})
    return pd.DataFrame(rows)


def parse_capacity(value, *, option: str = "capacity") -> float | dict[int, float]:
    """Parse a capacity per year: one number for every year, or ``YEAR=NUMBER`` pairs.

    ``option`` names the option in the error (``--capacity`` on the command line).

    >>> parse_capacity("3000")
    3000.0
    >>> parse_capacity("2026=3000, 2027=3500")
    {2026: 3000.0, 2027: 3500.0}
    """
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    else:
        text = str(value).strip()
        pairs = [p.split("=", 1) for p in text.split(",") if p.strip()] if "=" in text \
            else None
        if pairs is None:
            try:
                return float(text)
            except ValueError:
                pairs = [[text]]
    try:
        return {int(str(y).strip()): float(str(v).strip()) for y, v in pairs}
    except ValueError:
        msg = (f"{option} {value!r}: give one number per year (3000) or one per year as "
               f"2026=3000,2027=3500")
        raise InputError(msg) from None


def programme_layers(layers: Mapping[str, pd.DataFrame], *, years: Sequence[int],
                     capacity: float | Mapping[int, float], unit: Unit = "households",
                     costs: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Return a result's programme layers: ``programme`` (with geometry), ``programme_years``.

    Parameters
    ----------
    layers
        A result's layers (:attr:`livingcircle.results.Result.layers`): ``plan``, ``not_ready``,
        ``needs``, ``communities`` (for the geometry) and, with clusters, ``cluster_members``.
    years, capacity, unit, costs
        As for :func:`multi_year_programme`; ``costs`` is the planner's table (:func:`read_costs`).

    Returns
    -------
    dict
        ``programme`` (a GeoDataFrame in EPSG:4326: :data:`PROGRAMME_COLUMNS` and each
        community's geometry) and ``programme_years``; empty when the result has no plan.
    """
    plan = layers.get("plan")
    if plan is None:
        return {}
    prog, per_year = multi_year_programme(
        plan, years=years, capacity=capacity, unit=unit, not_ready=layers.get("not_ready"),
        cluster_members=layers.get("cluster_members"), needs=layers.get("needs"), costs=costs)
    comm = cast(gpd.GeoDataFrame, layers["communities"])  # a layer with geometry
    geom = comm.geometry.set_axis(comm["community_id"].astype(str))
    layer = gpd.GeoDataFrame(prog, geometry=prog["community_id"].map(geom).to_numpy(),
                             crs=comm.crs)
    return {"programme": layer, "programme_years": per_year}
