"""Plans judged and compared: before/after, planners' scenarios, ranking, solver vs simple siting.

- :func:`apply_scenario` and :func:`before_after`: re-run access and gaps with the proposed
  facilities of :func:`livingcircle.siting.site_facilities` or a planner's scenario (add,
  remove, convert a facility or a candidate site) and compare, for the whole area and each
  cluster;
- :func:`rank_clusters`: rank the clusters with written reasons (Chinese and English);
- :func:`compare_methods` and :func:`compare_siting`: the solver against greedy and random
  siting (the proof that the solver is worth it).

:func:`result_parts` and :func:`community_households` read the pieces of a run that the
planning modules share. A new way to judge or compare plans goes here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from . import settings
from ._errors import InputError
from .siting import (
    covered_weight,
    greedy_mclp,
    random_sites,
    site_distances,
    solve_mclp,
    usable_sites,
)


def result_parts(result_or_parts) -> dict:
    """Return the pieces of a run that the planning steps use, as a dict.

    Parameters
    ----------
    result_or_parts
        A :class:`~livingcircle.Result`, or a mapping with the same pieces (returned as a copy).

    Returns
    -------
    dict
        communities, gaps, access, network, profile, facilities, sites, gates, plan (layers or
        None when the run has none) and speed_profile (the run's first).
    """
    if isinstance(result_or_parts, Mapping):
        return dict(result_or_parts)
    r = result_or_parts
    lay = r.layers
    return {"communities": lay["communities"], "gaps": lay["gaps"], "access": r.access,
            "network": r.network, "profile": r.profile, "facilities": lay["facilities"],
            "sites": lay.get("sites"), "gates": lay.get("gates"), "plan": lay.get("plan"),
            "speed_profile": r.speed_profiles[0]}

def community_households(communities: pd.DataFrame) -> pd.Series:
    """Households of each community as floats, indexed by community_id (NaN when unknown).

    Parameters
    ----------
    communities
        The communities layer (community_id; households when known).

    Returns
    -------
    pandas.Series
        Households by community id (text); all NaN when the layer has no households column.
    """
    if "households" not in communities.columns:
        return pd.Series(np.nan, index=communities["community_id"].astype(str))
    s = pd.to_numeric(communities["households"], errors="coerce").astype(float)
    return pd.Series(s.to_numpy(), index=communities["community_id"].astype(str))

SCENARIO_ACTIONS = ("add", "remove", "convert")


def apply_scenario(facilities: gpd.GeoDataFrame, scenario: pd.DataFrame,
                   sites: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Facilities after a scenario (a new frame; the inputs are untouched).

    ``scenario`` rows: ``action`` 'add' | 'remove' | 'convert'; ``category`` (add, convert);
    ``facility_id`` (remove; convert an existing facility to ``category``); ``site_id`` (add or
    convert at a candidate site, e.g. a former boiler room turned into an elderly day-care
    centre: the site's point is used); ``geometry`` (add at a point). Proposed sites of
    :func:`livingcircle.siting.site_facilities` (no ``action`` column) are all 'add'.
    """
    sc = pd.DataFrame(scenario).copy()
    if "action" not in sc.columns:
        sc["action"] = "add"
    bad = sorted(set(sc["action"].astype(str)) - set(SCENARIO_ACTIONS))
    if bad:
        msg = f"scenario: unknown action(s) {bad}; valid actions: {list(SCENARIO_ACTIONS)}"
        raise InputError(msg)
    fac = facilities.copy()
    ids = fac["facility_id"].astype(str)
    catcol = "categories" if "categories" in fac.columns else "category"
    site_geo = (sites.assign(site_id=sites["site_id"].astype(str)).set_index("site_id")
                .to_crs(cast(CRS, fac.crs)).geometry if sites is not None else None)
    sc_geo = None
    if isinstance(scenario, gpd.GeoDataFrame) and scenario.crs is not None:
        sc_geo = scenario.to_crs(cast(CRS, fac.crs)).geometry.to_numpy()
    new_rows = []
    for n, (_, row) in enumerate(sc.iterrows()):
        act = str(row["action"])
        fid = row.get("facility_id")
        sid = row.get("site_id")
        if act in ("remove", "convert") and isinstance(fid, str) and fid:
            if fid not in set(ids):
                msg = f"scenario row {n + 1}: facility_id {fid!r} is not among the facilities"
                raise InputError(msg)
            if act == "remove":
                fac = fac[fac["facility_id"].astype(str) != fid]
            else:
                fac.loc[fac["facility_id"].astype(str) == fid, catcol] = str(row["category"])
            continue
        if act == "remove":
            msg = f"scenario row {n + 1}: 'remove' needs a facility_id"
            raise InputError(msg)
        if pd.isna(row.get("category")) if "category" in row else True:
            msg = f"scenario row {n + 1}: '{act}' needs a category"
            raise InputError(msg)
        if isinstance(sid, str) and sid and site_geo is not None and sid in site_geo.index:
            geom = site_geo.loc[sid]
        elif sc_geo is not None and sc_geo[n] is not None and not shapely.is_empty(sc_geo[n]):
            geom = sc_geo[n]
        else:
            msg = f"scenario row {n + 1}: give a site_id of the sites layer or a point geometry"
            raise InputError(msg)
        cl = row.get("cluster_id", "")
        new_id = f"NEW-{sid if isinstance(sid, str) and sid else n}-{row['category']}"
        if isinstance(cl, str) and cl:
            new_id = f"NEW-{cl}-{sid}-{row['category']}"
        new_rows.append({"facility_id": new_id, catcol: str(row["category"]),
                         "name": f"新增：{row['category']}", "geometry": geom})
    if new_rows:
        add = gpd.GeoDataFrame(pd.DataFrame(new_rows), geometry="geometry", crs=fac.crs)
        fac = gpd.GeoDataFrame(pd.concat([fac, add], ignore_index=True), geometry="geometry",
                               crs=fac.crs)
    return fac.reset_index(drop=True)


def _served_table(gaps, comp, hh, groups: dict[str, list[str]], profile) -> pd.DataFrame:
    """Met categories and complete levels per scope (the whole area and each cluster).

    One merge of the scopes' communities with the gaps and completeness tables, then group sums:
    a city has thousands of clusters, and a filter of the whole gaps table per cluster took
    minutes.
    """
    g = gaps.assign(community_id=gaps["community_id"].astype(str))
    c = comp.assign(community_id=comp["community_id"].astype(str))
    levels = [k for k in profile.levels if f"completeness_{k}" in c.columns]
    memb = pd.DataFrame({"scope": [s for s, ids in groups.items() for _ in ids],
                         "community_id": [i for ids in groups.values() for i in ids]})
    memb["_s"] = memb["scope"].map({s: k for k, s in enumerate(groups)})
    weight = hh.reindex(memb["community_id"]).fillna(0).to_numpy(dtype=float)
    memb["_w"] = weight
    # categories: in each scope in the order they first appear in the gaps table
    x = memb.merge(g[["community_id", "category", "met"]].assign(_r=np.arange(len(g))),
                   on="community_id").sort_values(["_s", "_r"], kind="stable")
    x["_m"] = x["met"].astype(bool)
    x["_wm"] = np.where(x["_m"], x["_w"], 0.0)
    t = x.groupby(["_s", "category"], sort=False).agg(
        scope=("scope", "first"), n_met=("_m", "sum"), households_met=("_wm", "sum"),
        value=("_m", "mean"), _first=("_r", "first")).reset_index()
    cat_rows = pd.DataFrame({"scope": t["scope"], "kind": "category", "key": t["category"],
                             "n_met": t["n_met"].astype(int),
                             "households_met": t["households_met"].astype(float),
                             "value": t["value"].astype(float), "_s": t["_s"], "_o": 0,
                             "_p": t["_first"]})
    # completeness: one row per scope and level (communities without a figure count as not met)
    y = memb.merge(c[["community_id", *[f"completeness_{k}" for k in levels]]],
                   on="community_id", how="left")
    lev_rows = []
    for n, k in enumerate(levels):
        v = y[f"completeness_{k}"]
        full = (v >= 1).to_numpy()
        z = pd.DataFrame({"_s": y["_s"], "full": full, "w": np.where(full, y["_w"], 0.0),
                          "v": v.to_numpy(dtype=float)})
        agg = z.groupby("_s", sort=True).agg(n=("full", "sum"), w=("w", "sum"), v=("v", "mean"))
        lev_rows.append(pd.DataFrame({
            "scope": np.asarray(list(groups), dtype=object)[agg.index.to_numpy()],
            "kind": "completeness", "key": f"completeness_{k}", "n_met": agg["n"].astype(int),
            "households_met": agg["w"].astype(float), "value": agg["v"].astype(float),
            "_s": agg.index.to_numpy(), "_o": 1, "_p": n}))
    out = pd.concat([cat_rows, *lev_rows], ignore_index=True)
    out = out.sort_values(["_s", "_o", "_p"], kind="stable")
    return out.drop(columns=["_s", "_o", "_p"]).reset_index(drop=True)


def _changed_categories(before: gpd.GeoDataFrame, after: gpd.GeoDataFrame) -> set[str]:
    """Return the categories of the facilities added, removed or changed from before to after.

    A facility is its id, categories and geometry (WKB); one that differs in any of them
    counts for the categories it had and has.
    """
    from .accessibility import facility_categories

    def rows(fac: gpd.GeoDataFrame) -> Counter:
        # plain lists: iterating a pandas string column calls its __getitem__ per element
        return Counter(zip(fac["facility_id"].astype(str).tolist(), facility_categories(fac),
                           shapely.to_wkb(fac.geometry.to_numpy()).tolist(), strict=True))

    b, a = rows(before), rows(after)
    return {c for _, cats, _ in (b - a) + (a - b) for c in cats}


def _with_categories(fac: gpd.GeoDataFrame, categories: list[str]) -> gpd.GeoDataFrame:
    """Return the facilities of any of ``categories``."""
    from .accessibility import facility_categories

    wanted = set(categories)
    return fac[np.array([bool(wanted.intersection(cs)) for cs in facility_categories(fac)],
                        dtype=bool)]


def _replace_rows(gaps: pd.DataFrame, judged: pd.DataFrame) -> pd.DataFrame:
    """Return ``gaps`` with the rows of ``judged``'s community × category pairs replaced.

    In the places of the rows they replace, so the table keeps its order (the order of the
    categories in :func:`_served_table`).
    """
    def key(t: pd.DataFrame) -> pd.Series:
        return t["community_id"].astype(str) + "\x00" + t["category"].astype(str)

    g = gaps.reset_index(drop=True)
    pos = pd.Index(key(g)).get_indexer(pd.Index(key(judged)))
    replaced = np.zeros(len(g), dtype=bool)
    replaced[pos[pos >= 0]] = True
    if (pos < 0).any() or replaced.sum() != len(judged) \
            or replaced.sum() != g["category"].isin(judged["category"]).sum():
        msg = "the gaps judged again do not match the gaps before, pair for pair"
        raise RuntimeError(msg)
    return pd.concat([g[~replaced], judged.set_axis(pos)]).sort_index()


def _gaps_after(parts: dict, fac_after: gpd.GeoDataFrame, sp_name: str) -> pd.DataFrame:
    """Return the gaps after a scenario: ``parts["gaps"]`` with the changed categories judged.

    Only the categories whose facilities the scenario changed (of those the gaps before
    judged) are measured and judged again, with the criterion and time speed of the gaps
    before; the others keep their rows (:func:`before_after`).
    """
    from .accessibility import measure_access
    from .gaps import find_gaps

    gaps_b, prof, acc = parts["gaps"], parts["profile"], parts["access"]
    judged_before = set(gaps_b["category"].astype(str))
    touched = _changed_categories(parts["facilities"], fac_after)  # once, not per category
    changed = [c.id for c in prof.poi_categories() if c.id in touched and c.id in judged_before]
    if not changed:
        return gaps_b
    acc_after = measure_access(parts["network"], acc.communities,
                               _with_categories(fac_after, changed), gates=parts.get("gates"),
                               profile=prof, speed_profiles=[sp_name], cutoff_m=acc.cutoff_m,
                               same_communities_as=acc)
    judged = find_gaps(acc_after.table, prof, speed_profile=sp_name,
                       criterion=str(gaps_b["criterion"].iloc[0]),
                       time_speed=str(gaps_b["time_speed_profile"].iloc[0]), categories=changed)
    return _replace_rows(gaps_b, judged)


def before_after(result_or_parts, proposed_or_scenario: pd.DataFrame, *,
                 cluster_members: pd.DataFrame | None = None) -> pd.DataFrame:
    """Access, gaps and completeness before and after adding proposed facilities or a scenario.

    Only the categories whose facilities the scenario adds, removes or changes are measured
    and judged again, with the criterion and time speed of the gaps before (their
    ``criterion`` and ``time_speed_profile``); every other category keeps its rows, so it shows
    no change. (Judging every category again at ``speed_profile`` made categories the scenario
    left alone gain under the time criterion at another speed. On the 1M city the new
    facilities are of 5 of the 31 categories: 5 searches instead of 31.)

    Parameters
    ----------
    result_or_parts
        A :class:`livingcircle.Result` (or the dict of
        :func:`livingcircle.clusters.find_clusters`, with ``network``, ``facilities``, ``sites``,
        ``gates``, ``profile``, ``gaps``, ``speed_profile`` too).
    proposed_or_scenario
        :func:`livingcircle.siting.site_facilities` output (all 'add'), or a scenario (see
        :func:`apply_scenario`).
    cluster_members
        When given, figures per cluster (members and beneficiaries) as well as for the whole
        area (scope 'all').

    Returns
    -------
    pandas.DataFrame
        scope ('all' or a cluster_id), kind ('category' | 'completeness'), key (category id or
        ``completeness_<level>``), name_zh, n_met_before/after, households_met_before/after,
        households_gain, value_before/after (share of communities meeting the category, or the
        mean completeness), change.
    """
    from .gaps import completeness

    parts = result_parts(result_or_parts)
    prof = parts["profile"]
    comm = parts["access"].communities
    sp_name = parts.get("speed_profile") or settings.default_speed_profile
    fac_after = apply_scenario(parts["facilities"], proposed_or_scenario, parts.get("sites"))
    gaps_b = parts["gaps"]
    gaps_a = _gaps_after(parts, fac_after, sp_name)
    comp_b = completeness(gaps_b, prof)
    comp_a = completeness(gaps_a, prof)
    hh = community_households(parts["communities"])
    groups = {"all": sorted(comm["community_id"].astype(str))}
    if cluster_members is not None:
        for cl, x in cluster_members.groupby("cluster_id", sort=True):
            groups[str(cl)] = sorted(x["community_id"].astype(str))
    b = _served_table(gaps_b, comp_b, hh, groups, prof)
    a = _served_table(gaps_a, comp_a, hh, groups, prof)
    t = b.merge(a, on=["scope", "kind", "key"], suffixes=("_before", "_after"), how="outer")
    t["households_gain"] = t["households_met_after"] - t["households_met_before"]
    t["change"] = t["value_after"] - t["value_before"]
    names = {c.id: c.name_zh for c in prof.categories.values()}
    lv = {f"completeness_{k}": f"{v.name_zh}完整度" for k, v in prof.levels.items()}
    t["name_zh"] = t["key"].map(names).fillna(t["key"].map(lv))
    cols = ["scope", "kind", "key", "name_zh", "n_met_before", "n_met_after",
            "households_met_before", "households_met_after", "households_gain",
            "value_before", "value_after", "change"]
    order = {s: i for i, s in enumerate(groups)}
    t = t.assign(_o=t["scope"].map(order)).sort_values(["_o", "kind", "key"], kind="stable")
    return t[cols].reset_index(drop=True)


# --- ranking -------------------------------------------------------------------------------------

def rank_clusters(clusters: pd.DataFrame, cluster_members: pd.DataFrame,
                  proposed: pd.DataFrame, *, plan: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rank clusters, with the reasons written out in Chinese and English.

    Order: households newly served per new facility (desc), share of in-scope members among
    all the cluster's communities (desc), household-weighted elderly share of members (desc),
    share of members ready for the annual plan (desc, ``plan.readiness``), then cluster_id.

    Returns
    -------
    pandas.DataFrame
        The clusters (same columns) with rank, n_new_facilities, households_newly_served,
        households_per_facility, share_in_scope, elderly_share, share_ready, reason_zh,
        reason_en; sorted by rank.
    """
    out = clusters.copy()
    p = proposed.groupby("cluster_id")["households_newly_served"].agg(["count", "sum"])
    out["n_new_facilities"] = out["cluster_id"].map(p["count"]).fillna(0).astype(int)
    out["households_newly_served"] = out["cluster_id"].map(p["sum"]).fillna(0.0)
    out["households_per_facility"] = np.where(
        out["n_new_facilities"] > 0,
        out["households_newly_served"] / out["n_new_facilities"].clip(lower=1), 0.0)
    ready = {}
    if plan is not None and "readiness" in plan.columns:
        ready = dict(zip(plan["community_id"].astype(str), plan["readiness"], strict=True))
    stats = _member_stats(cluster_members, ready)
    for col in ("share_in_scope", "elderly_share", "share_ready"):
        out[col] = out["cluster_id"].map(stats[col])
    out = out.sort_values(
        ["households_per_facility", "share_in_scope", "elderly_share", "share_ready",
         "cluster_id"], ascending=[False, False, False, False, True], na_position="last",
        kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    zh, en = [], []
    for r in out.itertuples():
        el_zh = f"{r.elderly_share:.0%}" if pd.notna(cast(float, r.elderly_share)) else "未知"
        el_en = f"{r.elderly_share:.0%}" if pd.notna(cast(float, r.elderly_share)) else "unknown"
        zh.append(f"第 {r.rank} 位：新增 {r.n_new_facilities} 处设施，新覆盖 "
                  f"{r.households_newly_served:.0f} 户（每处 {r.households_per_facility:.0f} 户）；"
                  f"改造范围内成员占 {r.share_in_scope:.0%}；老年人口占比 {el_zh}；"
                  f"具备年度计划前提条件的成员占 {r.share_ready:.0%}"
                  + (f"；{r.protection_zh}" if getattr(r, "protection_zh", "") else ""))
        en.append(f"rank {r.rank}: {r.n_new_facilities} new facilities newly serve "
                  f"{r.households_newly_served:.0f} households ({r.households_per_facility:.0f} "
                  f"per facility); in-scope members {r.share_in_scope:.0%}; elderly share "
                  f"{el_en}; members ready for the annual plan {r.share_ready:.0%}")
    out["reason_zh"] = zh
    out["reason_en"] = en
    first = ["rank", "cluster_id"]
    return out[first + [c for c in out.columns if c not in first]]


def _member_stats(cluster_members: pd.DataFrame, ready: dict) -> pd.DataFrame:
    """Per cluster: share of members among its rows, members' elderly share and share ready.

    The elderly share is weighted by households over the members with both figures (NaN when
    their households sum to 0); ``ready`` maps a community id to its ``plan.readiness``. One
    pass over the rows sorted by cluster, each cluster a slice of plain arrays summed by
    numpy as pandas would (a pandas filter per cluster took 4-5 s for the 1M city's 2,859).
    """
    cl = cluster_members["cluster_id"].to_numpy()
    order = np.argsort(pd.factorize(cl, sort=True)[0], kind="stable")
    member = (cluster_members["role"] == "member").to_numpy()[order]
    hh, el = (pd.to_numeric(cluster_members[c], errors="coerce").to_numpy(float, na_value=np.nan)
              [order] for c in ("households", "elderly_share"))
    is_ready = (cluster_members["community_id"].astype(str).map(ready) == "ready").to_numpy()
    is_ready = is_ready[order]
    ids = cl[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(ids)]
    rows = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        m = member[a:b]
        k = m & ~np.isnan(el[a:b]) & ~np.isnan(hh[a:b])
        w = hh[a:b][k]
        total = w.sum()
        rows.append((float(m.sum()) / (b - a),
                     float((el[a:b][k] * w).sum() / total) if total > 0 else math.nan,
                     float(is_ready[a:b][m].sum() / m.sum()) if m.any() else 0.0))
    return pd.DataFrame(rows, index=ids[starts] if len(ids) else [],
                        columns=["share_in_scope", "elderly_share", "share_ready"])


# --- proof of value ------------------------------------------------------------------------------

def compare_methods(cover: np.ndarray, weights: np.ndarray, p: int, *, seed: int = 0,
                    n_random: int = 100) -> pd.DataFrame:
    """Households covered by the solver, greedy and random choices of ``p`` sites.

    Returns a table: method ('solver' | 'greedy' | 'random_seed' | 'random_mean'), n_sites,
    households_served, sites (';'-joined column indices; empty for the mean of random draws).
    ``random_seed`` is one draw with ``seed``; ``random_mean`` the mean of ``n_random`` draws
    of a generator seeded with ``seed``.
    """
    rows = []
    for name, ch in (("solver", solve_mclp(cover, weights, p)),
                     ("greedy", greedy_mclp(cover, weights, p)),
                     ("random_seed", random_sites(cover, p, seed=seed))):
        rows.append({"method": name, "n_sites": len(ch),
                     "households_served": covered_weight(cover, weights, ch),
                     "sites": ";".join(map(str, ch))})
    rng = np.random.default_rng(seed)
    n_site = np.asarray(cover).shape[1]
    draws = [covered_weight(cover, weights, rng.choice(n_site, size=min(p, n_site),
                                                       replace=False))
             for _ in range(n_random)]
    rows.append({"method": "random_mean", "n_sites": min(p, n_site),
                 "households_served": float(np.mean(draws)), "sites": ""})
    return pd.DataFrame(rows)


def compare_siting(result_or_parts, *, p: int = 3, categories=None, seed: int = 0,
                   n_random: int = 100, site_dist: pd.DataFrame | None = None) -> pd.DataFrame:
    """Solver vs greedy vs random siting over the whole area, category by category.

    For each category (default: required categories with a gap that are not district
    planning), the demand is every community that does not meet it (households as weights);
    the candidates are the sites a run may propose for it (:func:`livingcircle.siting.
    usable_sites`: compatible type, large enough or of unknown area, or confirmed by the
    planner where the category has no sourced minimum), so that no method proposes a site a
    run would refuse; each method picks ``p`` of them. A district-planning category
    (schools, 养老院, 社区卫生服务中心: 上级规划统筹) is never sited on a community's candidate
    site: asked for by name, it is an error. The random draws of category number k use ``seed + k``.

    Returns
    -------
    pandas.DataFrame
        category, method, n_sites, households_served, sites; plus rows category 'total'
        summed over categories.
    """
    parts = result_parts(result_or_parts)
    prof = parts["profile"]
    sites = parts["sites"].assign(site_id=parts["sites"]["site_id"].astype(str)) \
        .sort_values("site_id")
    if site_dist is None:
        site_dist = site_distances(parts["network"], parts["access"].communities, sites,
                                   gates=parts.get("gates"), profile=prof)
    gaps = parts["gaps"].assign(community_id=parts["gaps"]["community_id"].astype(str))
    hh = community_households(parts["communities"])
    if categories is None:
        g = gaps[gaps["required"].astype(bool) & ~gaps["met"].astype(bool)]
        categories = [c for c in dict.fromkeys(g["category"])
                      if not prof.category(c).district_planning]
    district = [c for c in categories if prof.category(c).district_planning]
    if district:
        msg = (f"compare_siting: {district} are planned by the district (上级规划统筹) and never "
               "sited on a community's candidate sites; leave them out of categories")
        raise InputError(msg)
    piv = site_dist.assign(community_id=site_dist["community_id"].astype(str),
                           site_id=site_dist["site_id"].astype(str)).pivot_table(
        index="community_id", columns="site_id", values="distance_m", aggfunc="min")
    piv = piv.reindex(columns=sites["site_id"].to_numpy())
    frames = []
    for k, c in enumerate(categories):
        th = prof.category(c).max_walk_m
        x = gaps[(gaps["category"] == c) & ~gaps["met"].astype(bool)]
        ids = sorted(x["community_id"])
        usable = np.flatnonzero(usable_sites(sites, prof, c))  # random draws among these too
        D = piv.reindex(ids).to_numpy(dtype=float)[:, usable]
        cover = np.nan_to_num(D, nan=np.inf) <= th
        t = compare_methods(cover, hh.reindex(ids).fillna(0).to_numpy(), p, seed=seed + k,
                            n_random=n_random)
        usable_ids = sites["site_id"].to_numpy()[usable]
        t["sites"] = [";".join(usable_ids[list(map(int, s.split(";")))]) if s else ""
                      for s in t["sites"]]
        t.insert(0, "category", c)
        frames.append(t)
    res = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["category", "method", "n_sites", "households_served", "sites"])
    tot = res.groupby("method", sort=False, as_index=False)[["n_sites", "households_served"]] \
        .sum().assign(category="total", sites="")
    return pd.concat([res, tot[res.columns]], ignore_index=True)


