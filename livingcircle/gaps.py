"""Service gaps: which community misses which facility by the standard, and how many people that is.

The input is the long ``access`` table of :mod:`livingcircle.accessibility` (one row per community
× category × speed profile, see :mod:`livingcircle.schema`). Every category is judged only at its
own level and its own threshold: levels are **not nested** (GB 50180-2018), so a kindergarten
(5-minute level, 300 m) reached at 700 m is missing even though it lies within the 15-minute
circle.

Every row carries both judgements (issue 16 §3): ``met_distance`` and ``met_time``; ``met``
follows the criterion:

``"distance"`` (default)
    ``distance_m <= max_walk_m`` of the category: the standard's metres, the same for every
    walking speed. Compliance with GB 50180-2018 is judged this way.
``"time"``
    the walk takes no more than the minutes of the category's level at the time speed
    (``time_speed``: a named, sourced speed of the profile such as ``elderly_winter``, for
    一老一小 or winter studies). The residential block (居住街坊) has no minutes in the standard;
    its categories are judged by distance under every criterion, and the explanation says so.
``"both"``
    met only when both are met.

Attribute-only categories of a profile (``target: attribute``, e.g. 物业管理与服务) are not a walk
to a facility and are not judged here; :func:`livingcircle.renovation.renovation_needs` assesses
them from community attributes.

Examples
--------
>>> import pandas as pd
>>> import livingcircle as lc
>>> from livingcircle.gaps import find_gaps
>>> access = pd.DataFrame({
...     "community_id": ["c1"], "category": ["kindergarten"], "speed_profile": ["adult"],
...     "distance_m": [700.0], "time_min": [8.75], "nearest_facility_id": ["f1"],
...     "reached": [True], "n_5min": [0], "n_10min": [1], "n_15min": [1]})
>>> g = find_gaps(access, lc.load_profile(), categories=["kindergarten"])
>>> g.loc[0, "status"]
'missing'
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd

from . import settings
from ._errors import InputError, LivingCircleWarning
from .crs import utm_crs
from .schema import labels_zh
from .standards import LEVEL_KEYS, Category, Profile

if TYPE_CHECKING:
    from pyproj import CRS

logger = logging.getLogger(__name__)

ACCESS_COLUMNS = ("community_id", "category", "speed_profile", "distance_m", "time_min")
CRITERIA = ("distance", "time", "both")
#: The columns of the gaps table (:func:`find_gaps`), in order.
GAP_COLUMNS = [
    "community_id", "category", "name_zh", "name_en", "level", "required",
    "complete_community", "renovation_category", "threshold_m", "threshold_min",
    "speed_profile", "criterion", "distance_m", "time_min", "nearest_facility_id",
    "time_speed_profile", "time_speed_m_per_min", "time_at_speed_min", "met_distance",
    "met_time", "met", "status", "threshold_status", "source", "explanation_zh",
    "explanation_en",
]
GAP_STATUSES = ("met", "missing", "not_reached")

THRESHOLD_STATUS_ZH = {"verified": "已核实", "secondary": "仅二手来源", "unverified": "未核实"}
THRESHOLD_STATUS_EN = {
    "verified": "verified", "secondary": "secondary sources only", "unverified": "unverified",
}

#: Chinese labels of the gaps layer's columns (the layer contract, :data:`schema.LAYERS`).
GAP_LABELS_ZH = labels_zh("gaps")


# --- helpers ------------------------------------------------------------------------------------

def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`InputError` naming the columns a table lacks, and the columns it has.

    Parameters
    ----------
    frame
        The table.
    columns
        The columns it must hold.
    what
        The table's name in the message (e.g. ``"communities"``).
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        msg = (
            f"{what} lacks column(s) {missing}; it has {list(frame.columns)}. "
            "Pass the table as livingcircle builds it (see livingcircle.schema)."
        )
        raise InputError(msg)


def _level_label_zh(profile: Profile, level: str) -> str:
    lv = profile.levels[level]
    if lv.minutes is None:
        return lv.name_zh
    return f"{lv.minutes:g} 分钟生活圈"


def _level_label_en(profile: Profile, level: str) -> str:
    lv = profile.levels[level]
    if lv.minutes is None:
        return lv.name_en.lower()
    return f"{lv.minutes:g}-minute living circle"


def _level_order(profile: Profile) -> list[str]:
    """Level keys in the order 5, 10, 15, block (then any other key of the profile)."""
    keys = [k for k in LEVEL_KEYS if k in profile.levels]
    return keys + [k for k in profile.levels if k not in keys]


def _fmt(x: float, digits: int = 0) -> str:
    return f"{x:.{digits}f}"


class _Wording(NamedTuple):
    """The parts of one category's explanations that do not change from row to row."""

    name_zh: str
    name_en: str
    std_zh: str
    std_en: str
    tail_zh: str
    tail_en: str
    minutes: float | None  # the level's minutes (None: the residential block)
    criterion: str
    speed_name_zh: str
    speed_profile: str


def _wording(cat: Category, profile: Profile, *, criterion: str, speed_name_zh: str,
             speed_profile: str) -> _Wording:
    """Return the parts of :func:`_sentences` that one category shares in every row."""
    lv = profile.levels[cat.level]
    label_zh = _level_label_zh(profile, cat.level)
    label_en = _level_label_en(profile, cat.level)
    status_zh = THRESHOLD_STATUS_ZH.get(cat.threshold_status, cat.threshold_status)
    status_en = THRESHOLD_STATUS_EN.get(cat.threshold_status, cat.threshold_status)
    src = cat.source_text or "—"
    tail_zh = f"（来源：{src}，{status_zh}）"
    tail_en = f" (source: {src}, {status_en})"
    by_time = criterion == "time" and lv.minutes is not None
    if by_time:
        std_zh = f"{label_zh}标准 {lv.minutes:g} 分钟（{speed_name_zh}步速）"
        std_en = f"the {label_en} standard of {lv.minutes:g} min ({speed_profile} walking speed)"
    else:
        std_zh = f"{label_zh}标准 {cat.max_walk_m:g} 米"
        std_en = f"the {label_en} standard of {cat.max_walk_m:g} m"
    if std_zh[0].isdigit():
        std_zh = " " + std_zh
    if criterion != "distance" and lv.minutes is None:
        tail_zh = "；该层级无时间标准，按距离判定" + tail_zh
        tail_en = "; this level has no minutes in the standard, judged by distance" + tail_en
    return _Wording(cat.name_zh, cat.name_en, std_zh, std_en, tail_zh, tail_en, lv.minutes,
                    criterion, speed_name_zh, speed_profile)


def _sentences(w: _Wording, distance: float, time: float, met: bool,
               met_distance: bool | None) -> tuple[str, str]:
    """Return the Chinese and English sentence that explains one gap row.

    ``w``: the row's category's :func:`_wording`. ``time`` is the walk's minutes shown (at the
    time speed, except under ``"distance"``, where the measured speed's); under ``"both"`` the
    sentence gives the distance verdict (``met_distance``) and then the time verdict.
    """
    if math.isnan(distance):
        zh = f"{w.name_zh}：搜索范围内无可达设施，未达到{w.std_zh}{w.tail_zh}"
        en = f"{w.name_en}: none reached within the search cutoff; fails {w.std_en}{w.tail_en}"
        return zh, en
    t_zh = f"（{_fmt(time, 1)} 分钟）" if not math.isnan(time) else ""
    t_en = f" ({_fmt(time, 1)} min)" if not math.isnan(time) else ""
    if w.criterion == "both":
        t_zh = t_en = ""
    meas_zh = f"{w.name_zh}：最近步行 {_fmt(distance)} 米{t_zh}"
    meas_en = f"{w.name_en}: nearest {_fmt(distance)} m walk{t_en}"
    if w.criterion == "both" and w.minutes is not None:
        d_ok = bool(met_distance)
        t_ok = (not math.isnan(time)) and time <= w.minutes
        zh = (f"{meas_zh}，{'满足' if d_ok else '超过'}{w.std_zh}；{w.speed_name_zh}步速需 "
              f"{_fmt(time, 1)} 分钟，{'满足' if t_ok else '超过'} {w.minutes:g} 分钟"
              f"{w.tail_zh}")
        en = (f"{meas_en}, {'within' if d_ok else 'beyond'} {w.std_en}; {_fmt(time, 1)} min at "
              f"the {w.speed_profile} walking speed, {'within' if t_ok else 'beyond'} "
              f"{w.minutes:g} min{w.tail_en}")
        return zh, en
    if met:
        return (f"{meas_zh}，满足{w.std_zh}{w.tail_zh}",
                f"{meas_en}, within {w.std_en}{w.tail_en}")
    return f"{meas_zh}，超过{w.std_zh}{w.tail_zh}", f"{meas_en}, beyond {w.std_en}{w.tail_en}"


def _choose_speed_profile(access: pd.DataFrame, speed_profile: str | None) -> str:
    present = sorted(access["speed_profile"].dropna().astype(str).unique())
    if speed_profile is not None:
        if speed_profile not in present:
            msg = (
                f"access has no rows for speed profile {speed_profile!r}; it has {present}. "
                "Measure access with that profile or choose one of those."
            )
            raise InputError(msg)
        return speed_profile
    if settings.default_speed_profile in present:
        return settings.default_speed_profile
    if len(present) == 1:
        return present[0]
    msg = (
        f"access holds several speed profiles {present} and none is the default "
        f"{settings.default_speed_profile!r}; pass speed_profile=..."
    )
    raise InputError(msg)


# --- gaps ---------------------------------------------------------------------------------------

def find_gaps(
    access: pd.DataFrame,
    profile: Profile,
    *,
    speed_profile: str | None = None,
    criterion: str = "distance",
    time_speed: str | None = None,
    categories: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Judge every community against every facility category of the standard.

    Parameters
    ----------
    access
        The long access table (community_id, category, speed_profile, distance_m, time_min,
        nearest_facility_id, ...). ``distance_m`` NaN means nothing was reached within the search
        cutoff.
    profile
        The standard profile that gives each category its level, threshold and source.
    speed_profile
        Which speed profile's rows to judge; None takes the default profile of
        :mod:`livingcircle.settings` (or the only profile present).
    criterion
        ``"distance"``: distance_m ≤ the category's max_walk_m (metres of the standard);
        ``"time"``: the walk at ``time_speed`` takes ≤ the minutes of the category's level
        (block-level categories, which have no minutes, are judged by distance); ``"both"``:
        both. Both judgements are always returned (met_distance, met_time); ``met`` follows this.
    time_speed
        The speed the time judgement uses: a name of the profile's sourced speeds
        (:meth:`Profile.speed`, e.g. ``"elderly_winter"``) or of the access table's speed
        profiles. None: ``speed_profile``. When ``access`` has no rows for it, the minutes are
        distance_m / the profile's speed.
    categories
        Category ids to judge; None judges every POI category of the profile. Each must have rows
        in ``access`` (a category without any facility still needs rows with distance_m NaN).

    Returns
    -------
    pandas.DataFrame
        One row per community × category: community_id, category, name_zh, name_en, level,
        required, complete_community, renovation_category, threshold_m, threshold_min,
        speed_profile, criterion, distance_m, time_min, nearest_facility_id, time_speed_profile,
        time_speed_m_per_min, time_at_speed_min, met_distance, met_time, met,
        status ('met' | 'missing' | 'not_reached'), threshold_status, source, explanation_zh,
        explanation_en. Sorted by community_id and profile order of categories. ``time_min``
        is at ``speed_profile``, ``time_at_speed_min`` at ``time_speed``.

    Raises
    ------
    InputError
        When a column is missing, the criterion or speed profile is unknown, a category has no
        rows in ``access``, or a community × category pair is missing or duplicated.
    """
    require_columns(access, ACCESS_COLUMNS, "access table")
    if criterion not in CRITERIA:
        msg = f"unknown criterion {criterion!r}; valid criteria: {list(CRITERIA)}"
        raise InputError(msg)
    sp = _choose_speed_profile(access, speed_profile)
    rows = access[access["speed_profile"].astype(str) == sp].copy()
    rows["community_id"] = rows["community_id"].astype(str)
    rows["category"] = rows["category"].astype(str)

    wanted = _wanted_categories(profile, categories)
    rows = _checked_rows(rows, wanted, profile, sp)
    communities = sorted(rows["community_id"].unique())
    tsp, t_speed, t_name_zh = _time_speed(access, profile, sp, time_speed)
    rows["t_at_speed"] = (rows["distance_m"].astype(float) / t_speed if tsp != sp
                          else rows["time_min"].astype(float))
    order = {cid: i for i, cid in enumerate(wanted)}
    rows = rows.assign(_order=rows["category"].map(order)).sort_values(
        ["community_id", "_order"], kind="stable")
    result = _judged(rows, profile, wanted, criterion=criterion, sp=sp, tsp=tsp,
                     t_speed=t_speed, speed_name_zh=t_name_zh)
    logger.info("judged %d communities × %d categories (%s, %s): %d gaps", len(communities),
                len(wanted), criterion, sp, int((~result["met"]).sum()))
    return result


def _time_speed(access: pd.DataFrame, profile: Profile, sp: str,
                time_speed: str | None) -> tuple[str, float, str]:
    """Return the time judgement's speed: name, metres per minute and Chinese name.

    The speed of a name of the profile comes from the profile (sourced); a speed profile of
    the access table that the profile does not name (a plain number) from its own rows.
    """
    name = sp if time_speed is None else str(time_speed)
    if name in profile.speeds:
        return name, float(profile.speeds[name].m_per_min), profile.speeds[name].name_zh
    rows = access[(access["speed_profile"].astype(str) == name)
                  & (access["time_min"].astype(float) > 0)]
    if rows.empty:
        msg = (f"unknown time speed {name!r}: it is neither a speed of the profile "
               f"{profile.name!r} ({sorted(profile.speeds)}) nor measured in the access table")
        raise InputError(msg)
    r = rows.iloc[0]
    return name, float(r["distance_m"]) / float(r["time_min"]), name


def _wanted_categories(profile: Profile, categories) -> list[str]:
    """Return the category ids to judge: every POI category, or those asked (POI ones only)."""
    poi_ids = [c.id for c in profile.poi_categories()]
    if categories is None:
        wanted = poi_ids
    else:
        wanted = list(dict.fromkeys(categories))
        for cid in wanted:
            cat = profile.category(cid)
            if cat.target != "poi":
                msg = (
                    f"category {cid!r} is attribute-only (target: attribute) and is not judged "
                    "from walking access; leave it out of categories"
                )
                raise InputError(msg)
    return wanted


def _checked_rows(rows: pd.DataFrame, wanted: list[str], profile: Profile,
                  sp: str) -> pd.DataFrame:
    """Return the access rows of the wanted categories, one per community × category.

    A wanted category without rows, a duplicated pair or a missing pair is an error; categories
    the profile does not define get a warning and are left out.
    """
    present = set(rows["category"].unique())
    absent = [c for c in wanted if c not in present]
    if absent:
        msg = (
            f"access has no rows for categories {absent} (speed profile {sp!r}); measure them "
            "(a category without facilities still needs rows with distance_m NaN) or pass "
            "categories=[...] to judge a subset"
        )
        raise InputError(msg)
    unknown = sorted(present - set(profile.categories))
    if unknown:
        warnings.warn(
            f"access has categories {unknown} that the profile {profile.name!r} does not define; "
            "they are not judged",
            LivingCircleWarning, stacklevel=3,  # the caller of find_gaps
        )
    rows = rows[rows["category"].isin(wanted)]
    dup = rows.duplicated(["community_id", "category"])
    if dup.any():
        first = rows.loc[dup, ["community_id", "category"]].iloc[0].tolist()
        msg = (
            f"access has {int(dup.sum())} duplicated community × category rows for speed profile "
            f"{sp!r} (first: {first}); keep one row per pair"
        )
        raise InputError(msg)
    communities = sorted(rows["community_id"].unique())
    if len(rows) != len(communities) * len(wanted):
        have = set(zip(rows["community_id"], rows["category"], strict=True))
        gaps_in_grid = [(c, k) for c in communities for k in wanted if (c, k) not in have]
        msg = (
            f"access lacks {len(gaps_in_grid)} community × category rows (first: "
            f"{gaps_in_grid[:3]}); every community needs a row for every category "
            "(distance_m NaN when nothing is reached)"
        )
        raise InputError(msg)
    return rows


def _judged(rows: pd.DataFrame, profile: Profile, wanted: list[str], *, criterion: str, sp: str,
            tsp: str, t_speed: float, speed_name_zh: str) -> pd.DataFrame:
    """Return the gaps table of the sorted access ``rows`` (see :func:`find_gaps`), by columns.

    ``rows.t_at_speed`` is the walk's minutes at the time speed ``tsp``. A category's own
    values (level, threshold, source, the fixed words of its sentences) are looked up once;
    only the verdicts and the sentences' numbers go row by row. (Judged row by row, a city's
    310,000 rows took seconds twice per run: the gaps and the clusters' before and after.)
    """
    if rows.empty:
        return pd.DataFrame(columns=GAP_COLUMNS)
    cats = [profile.category(c) for c in wanted]
    k = rows["category"].map({c: i for i, c in enumerate(wanted)}).to_numpy()
    # each category's own columns, typed as a frame of its rows would type them
    own = pd.DataFrame([{
        "category": c.id, "name_zh": c.name_zh, "name_en": c.name_en, "level": c.level,
        "required": c.required, "complete_community": c.complete_community,
        "renovation_category": c.renovation_category, "threshold_m": c.max_walk_m,
        "threshold_status": c.threshold_status, "source": c.source_text} for c in cats])
    own = own.iloc[k].reset_index(drop=True)
    minutes = np.array([np.nan if profile.levels[c.level].minutes is None
                        else profile.levels[c.level].minutes for c in cats], dtype=float)[k]
    max_walk = np.array([c.max_walk_m for c in cats], dtype=float)[k]
    dist = pd.to_numeric(rows["distance_m"], errors="coerce").to_numpy(dtype=float,
                                                                        na_value=np.nan)
    tmin = pd.to_numeric(rows["t_at_speed"], errors="coerce").to_numpy(dtype=float,
                                                                       na_value=np.nan)
    time_min = pd.to_numeric(rows["time_min"], errors="coerce").to_numpy(dtype=float,
                                                                         na_value=np.nan)
    reached = ~np.isnan(dist)
    met_d = reached & (dist <= max_walk)
    # a level without minutes (the residential block) is judged by distance
    met_t = reached & np.where(np.isnan(minutes), met_d, ~np.isnan(tmin) & (tmin <= minutes))
    met = {"distance": met_d, "time": met_t, "both": met_d & met_t}[criterion]
    status = np.where(~reached, "not_reached", np.where(met, "met", "missing")).astype(object)
    # the distance sentence keeps the measured (first) speed's minutes, as before issue 16 §3
    shown = time_min if criterion == "distance" else tmin
    words = [_wording(c, profile, criterion=criterion, speed_name_zh=speed_name_zh,
                      speed_profile=tsp) for c in cats]
    said = [_sentences(words[i], d, t, m, md) for i, d, t, m, md in
            zip(k.tolist(), dist.tolist(), shown.tolist(), met.tolist(), met_d.tolist(),
                strict=True)]
    nearest = (rows["nearest_facility_id"].to_numpy(dtype=object)
               if "nearest_facility_id" in rows.columns else np.full(len(rows), None))
    return pd.DataFrame({
        "community_id": rows["community_id"].to_numpy(dtype=object),
        "category": own["category"],
        "name_zh": own["name_zh"],
        "name_en": own["name_en"],
        "level": own["level"],
        "required": own["required"],
        "complete_community": own["complete_community"],
        "renovation_category": own["renovation_category"],
        "threshold_m": own["threshold_m"],
        "threshold_min": minutes,
        "speed_profile": sp,
        "criterion": criterion,
        "distance_m": dist,
        "time_min": time_min,
        "nearest_facility_id": [n if isinstance(n, str) else None for n in nearest],
        "time_speed_profile": tsp,
        "time_speed_m_per_min": t_speed,
        "time_at_speed_min": tmin,
        "met_distance": met_d,
        "met_time": met_t,
        "met": met,
        "status": status,
        "threshold_status": own["threshold_status"],
        "source": own["source"],
        "explanation_zh": [zh for zh, _ in said],
        "explanation_en": [en for _, en in said],
    }, columns=GAP_COLUMNS)


def completeness(gaps: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """Summarise gaps per community: completeness per level and the 完整居住社区 check.

    Parameters
    ----------
    gaps
        The result of :func:`find_gaps`.
    profile
        The profile the gaps were judged with (gives the level keys in order).

    Returns
    -------
    pandas.DataFrame
        One row per community: ``completeness_<level>`` for every level of the profile (required
        categories met / required categories judged at that level, 0–1; NaN when the level has no
        required category among the judged ones), n_required, n_missing_required,
        missing_required (';'-joined ids), ``complete_community`` (every judged category with
        complete_community=True is met) and complete_community_missing (';'-joined ids).
        Attribute-only categories (e.g. property_management) are not judged from access and are
        not part of this check; they are listed in complete_community_not_judged.
    """
    require_columns(gaps, ("community_id", "category", "level", "required",
                            "complete_community", "met"), "gaps table")
    not_judged = ";".join(
        c.id for c in profile.categories.values()
        if c.complete_community and c.target != "poi"
    )
    g = pd.DataFrame({
        "community_id": gaps["community_id"],
        "category": gaps["category"].astype(str),
        "level": gaps["level"].astype(str),
        "required": gaps["required"].astype(bool),
        "cc": gaps["complete_community"].astype(bool),
        "met": gaps["met"].astype(bool),
    })
    comms = pd.Index(sorted(g["community_id"].unique()), name="community_id")
    req = g[g["required"]]
    rec = pd.DataFrame(index=comms)
    by_level = req.groupby(["community_id", "level"])["met"].mean().unstack()
    for key in _level_order(profile):
        rec[f"completeness_{key}"] = (by_level[key].reindex(comms).astype(float)
                                      if key in by_level.columns else math.nan)
    rec["n_required"] = req.groupby("community_id").size().reindex(comms, fill_value=0)
    miss = req[~req["met"]]
    rec["n_missing_required"] = miss.groupby("community_id").size().reindex(comms, fill_value=0)
    rec["missing_required"] = (miss.groupby("community_id")["category"].agg(";".join)
                               .reindex(comms, fill_value=""))
    cc_miss = g[g["cc"] & ~g["met"]]
    rec["complete_community"] = ~comms.isin(cc_miss["community_id"])
    rec["complete_community_missing"] = (cc_miss.groupby("community_id")["category"]
                                         .agg(";".join).reindex(comms, fill_value=""))
    rec["complete_community_not_judged"] = not_judged
    rec["n_required"] = rec["n_required"].astype(int)
    rec["n_missing_required"] = rec["n_missing_required"].astype(int)
    return rec.reset_index()


# --- area figures -------------------------------------------------------------------------------

def _weights(communities: pd.DataFrame, column: str) -> pd.Series:
    if column not in communities.columns:
        return pd.Series(math.nan, index=communities["community_id"].astype(str))
    return pd.Series(
        pd.to_numeric(communities[column], errors="coerce").to_numpy(dtype=float),
        index=communities["community_id"].astype(str).to_numpy(),
    )


def area_figures(gaps: pd.DataFrame, communities: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """Return household- and population-weighted shares for the study area.

    For a category: households (people) in communities that have the category within its
    threshold / all households (people) in the judged communities whose count is known. For a
    level: households (people) in communities that meet every required category of that level /
    the same known total. Communities with unknown households (population) are left out of both
    numerator and denominator and counted in n_unknown_households (n_unknown_population).

    Parameters
    ----------
    gaps
        The result of :func:`find_gaps`.
    communities
        community_id with households and population (either may be missing or absent).
    profile
        The profile the gaps were judged with.

    Returns
    -------
    pandas.DataFrame
        Rows with scope 'category' (one per judged category, profile order) and scope 'level'
        (one per level with required categories): scope, key, level, name_zh, n_communities,
        n_communities_met, households_met, households_known, share_households,
        population_met, population_known, share_population, n_unknown_households,
        n_unknown_population.
    """
    require_columns(gaps, ("community_id", "category", "level", "required", "met"), "gaps table")
    require_columns(communities, ("community_id",), "communities")
    hh = _weights(communities, "households")
    pop = _weights(communities, "population")
    g = gaps.assign(community_id=gaps["community_id"].astype(str))
    missing_ids = sorted(set(g["community_id"]) - set(hh.index))
    if missing_ids:
        msg = f"gaps names communities not in the communities layer: {missing_ids[:5]}"
        raise InputError(msg)

    def _row(scope, key, level, name_zh, met_by_comm: pd.Series) -> dict:
        ids = met_by_comm.index
        h = hh.reindex(ids)
        pp = pop.reindex(ids)
        hk, pk = h.notna(), pp.notna()
        h_known = float(h[hk].sum())
        p_known = float(pp[pk].sum())
        h_met = float(h[hk & met_by_comm].sum())
        p_met = float(pp[pk & met_by_comm].sum())
        return {
            "scope": scope, "key": key, "level": level, "name_zh": name_zh,
            "n_communities": len(ids), "n_communities_met": int(met_by_comm.sum()),
            "households_met": h_met, "households_known": h_known,
            "share_households": h_met / h_known if h_known > 0 else math.nan,
            "population_met": p_met, "population_known": p_known,
            "share_population": p_met / p_known if p_known > 0 else math.nan,
            "n_unknown_households": int((~hk).sum()),
            "n_unknown_population": int((~pk).sum()),
        }

    rows = []
    judged = list(dict.fromkeys(g["category"]))
    order = [c for c in profile.categories if c in judged]
    for cid in order:
        sub = g[g["category"] == cid]
        met = pd.Series(sub["met"].astype(bool).to_numpy(), index=sub["community_id"].to_numpy())
        cat = profile.category(cid)
        rows.append(_row("category", cid, cat.level, cat.name_zh, met))
    req = g[g["required"].astype(bool)]
    for key in _level_order(profile):
        lv = profile.levels[key]
        sub = req[req["level"].astype(str) == key]
        if sub.empty:
            continue
        met = sub.groupby("community_id")["met"].all().astype(bool)
        rows.append(_row("level", key, key, lv.name_zh, met))
    return pd.DataFrame(rows)


def worst_served(completeness_table: pd.DataFrame, communities: pd.DataFrame, *,
                 n: int = 10) -> pd.DataFrame:
    """Return the ``n`` communities that miss the most required categories.

    Ranked by n_missing_required (most first), then by households (more households first; unknown
    last), then by community_id, so the order is the same from run to run.

    Parameters
    ----------
    completeness_table
        The result of :func:`completeness`.
    communities
        community_id and optionally name and households.
    n
        How many communities to return.
    """
    require_columns(completeness_table, ("community_id", "n_missing_required"),
                     "completeness table")
    extra = [c for c in ("name", "households", "population") if c in communities.columns]
    info = communities[["community_id", *extra]].copy()
    info["community_id"] = info["community_id"].astype(str)
    t = completeness_table.assign(community_id=completeness_table["community_id"].astype(str))
    t = t.merge(pd.DataFrame(info), on="community_id", how="left")
    hh = (pd.to_numeric(t["households"], errors="coerce") if "households" in t.columns
          else pd.Series(math.nan, index=t.index))
    t = t.assign(_hh=hh.fillna(-1.0))
    t = t.sort_values(["n_missing_required", "_hh", "community_id"],
                      ascending=[False, False, True], kind="stable")
    t = t.drop(columns="_hh").head(n).reset_index(drop=True)
    t.insert(0, "rank", np.arange(1, len(t) + 1))
    return t


# --- uncovered residential area -----------------------------------------------------------------

def uncovered_residential(
    covered: gpd.GeoDataFrame | gpd.GeoSeries,
    communities: gpd.GeoDataFrame,
    *,
    crs: str | int | CRS | None = None,
) -> gpd.GeoDataFrame:
    """Return the residential area each category leaves uncovered, per community.

    ``covered`` is the area that a category covers within its threshold (for example the union
    of network isochrones from its facilities, which :mod:`livingcircle.isochrones` builds); this
    function only does the geometry: community polygon minus the category's covered area.

    Parameters
    ----------
    covered
        A GeoDataFrame with a ``category`` column (several rows per category are merged), or a
        GeoSeries indexed by category id.
    communities
        community_id and polygon geometry. Point communities have no area; they are left out
        with a warning.
    crs
        A metric CRS for the areas; None uses the communities' CRS when it is projected, else the
        local UTM zone estimated by geopandas.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per category × polygon community: category, community_id, residential_area_m2,
        uncovered_area_m2, uncovered_share and geometry (the uncovered part, empty when fully
        covered), in the metric CRS.
    """
    if isinstance(covered, gpd.GeoSeries):
        cov = gpd.GeoDataFrame({"category": covered.index.astype(str)}, geometry=covered.values,
                               crs=covered.crs)
    else:
        require_columns(covered, ("category", "geometry"), "covered areas")
        cov = covered[["category", "geometry"]].copy()
    require_columns(communities, ("community_id", "geometry"), "communities")
    if communities.crs is None or cov.crs is None:
        msg = "communities and covered areas must both have a CRS; set it with .set_crs(...)"
        raise InputError(msg)
    if crs is None:
        crs = communities.crs if communities.crs.is_projected else utm_crs(communities)
    comm = communities[["community_id", "geometry"]].to_crs(crs)
    comm["community_id"] = comm["community_id"].astype(str)
    is_area = comm.geom_type.isin(["Polygon", "MultiPolygon"])
    if not is_area.all():
        warnings.warn(
            f"{int((~is_area).sum())} communities are not polygons (no residential area); "
            "they are left out of the uncovered-area figures",
            LivingCircleWarning, stacklevel=2,
        )
    comm = comm[is_area]
    cov = cov.to_crs(crs)
    rows = []
    for cid, sub in cov.groupby("category", sort=False):
        union = sub.geometry.union_all()
        diff = comm.geometry.difference(union)
        for community_id, geom, total in zip(comm["community_id"], diff, comm.geometry.area,
                                             strict=True):
            rows.append({
                "category": str(cid),
                "community_id": community_id,
                "residential_area_m2": float(total),
                "uncovered_area_m2": float(geom.area),
                "uncovered_share": float(geom.area / total) if total > 0 else math.nan,
                "geometry": geom,
            })
    return gpd.GeoDataFrame(
        rows,
        columns=["category", "community_id", "residential_area_m2", "uncovered_area_m2",
                 "uncovered_share", "geometry"],
        geometry="geometry",
        crs=crs,
    )


# --- met by distance, not by time (issue 16 §3) -------------------------------------------------

def time_shortfalls(gaps: pd.DataFrame, communities: pd.DataFrame) -> pd.DataFrame:
    """Return the community × category pairs met by distance but not by time.

    GB 50180-2018 judges compliance in metres; this lists where a community complies and yet
    the walk takes longer than the level's minutes at the gaps' time speed (e.g. an older walker
    on winter ice, ``time_speed_profile``). Levels without minutes (the residential block) are
    judged by distance under every criterion and never appear.

    Parameters
    ----------
    gaps
        The result of :func:`find_gaps` (with met_distance, met_time, time_at_speed_min).
    communities
        community_id, optionally name and households.

    Returns
    -------
    pandas.DataFrame
        community_id, name, households (NaN: unknown), category, name_zh, name_en, level,
        distance_m, threshold_m, time_at_speed_min, threshold_min, time_speed_profile; sorted
        by community_id and the gaps' category order.

    Examples
    --------
    >>> import pandas as pd
    >>> g = pd.DataFrame({"community_id": ["c1"], "category": ["k"], "name_zh": ["幼儿园"],
    ...     "name_en": ["kindergarten"], "level": ["5min"], "distance_m": [290.0],
    ...     "threshold_m": [300.0], "time_at_speed_min": [6.62], "threshold_min": [5.0],
    ...     "time_speed_profile": ["elderly_winter"], "met_distance": [True],
    ...     "met_time": [False]})
    >>> time_shortfalls(g, pd.DataFrame({"community_id": ["c1"], "households": [420]}))[
    ...     ["community_id", "households", "time_at_speed_min"]].to_dict("records")
    [{'community_id': 'c1', 'households': 420.0, 'time_at_speed_min': 6.62}]
    """
    cols = ["community_id", "category", "name_zh", "name_en", "level", "distance_m",
            "threshold_m", "time_at_speed_min", "threshold_min", "time_speed_profile"]
    require_columns(gaps, [*cols, "met_distance", "met_time"], "gaps table")
    require_columns(communities, ("community_id",), "communities")
    sub = gaps[gaps["met_distance"].astype(bool) & ~gaps["met_time"].astype(bool)][cols].copy()
    sub["community_id"] = sub["community_id"].astype(str)
    info = pd.DataFrame({"community_id": communities["community_id"].astype(str).to_numpy()})
    info["name"] = (communities["name"].to_numpy() if "name" in communities.columns
                    else None)
    info["households"] = _weights(communities, "households").to_numpy()
    out = sub.merge(info, on="community_id", how="left")
    return out[["community_id", "name", "households", *cols[1:]]].reset_index(drop=True)
