"""Siting new shared facilities: maximal covering (spopt MCLP, CBC) and its simple rivals.

The clusters of :func:`livingcircle.clusters.find_clusters` miss categories; this module measures
community ↔ candidate site distances (:func:`site_distances`: the sites are measured as
facilities of a carrier category with :func:`livingcircle.measure_access`, so they are snapped to
edges exactly like facilities) and chooses sites for new shared facilities
(:func:`site_facilities`, one MCLP per cluster and category, :func:`solve_mclp`). Greedy and
random choices (:func:`greedy_mclp`, :func:`random_sites`) are here for the comparison of
:func:`livingcircle.scenarios.compare_siting`. A new siting model goes here.

Siting
------
For each cluster and each category missing for some member (required categories first, then by
households missing, then category id), the demand is the cluster's communities (members and
beneficiaries) that do **not** meet the category now — existing facilities count as already
open, so a community already served is never "newly served". A site covers a community when the
network distance is within the category's threshold (metres of the standard). spopt's MCLP,
solved with CBC (``pulp.PULP_CBC_CMD(msg=False)``), chooses ``new_per_category`` sites that
maximise households covered. A site hosts at most one new facility: categories and clusters are
processed in the documented order and a chosen site is removed from the candidates of later ones
(greedy across categories, exact within one). Sites whose known floor area is below the
category's minimum are excluded; unknown floor area is allowed and flagged. When no candidate
sites are given, network nodes near the cluster are the candidates (floor area unknown).

``cost_proxy`` is floor area × a unit cost by site type (yuan/m², :data:`UNIT_COST_PROXY`): a
ranking proxy to compare sites, **not** a cost estimate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings
from ._errors import InputError
from .standards import Profile

logger = logging.getLogger(__name__)

#: Proxy unit cost (yuan per m² of floor area) by site type; for ranking sites only.
UNIT_COST_PROXY: dict[str, float] = {
    "boiler_room": 2500.0,       # conversion of a disused boiler room
    "ground_floor_shop": 1500.0,  # fit-out of a leased or bought ground-floor shop
    "public_building": 2000.0,   # refurbishment of a public building
    "vacant_lot": 3500.0,        # new construction on vacant land
    "network_node": math.nan,    # no site known: no proxy
}


# --- distances -----------------------------------------------------------------------------------

def site_distances(net, communities: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, *,
                   gates: gpd.GeoDataFrame | None = None, profile: Profile | None = None,
                   ) -> pd.DataFrame:
    """Network distance from every community to every candidate site within reach.

    The sites are measured by :func:`livingcircle.measure_access` as facilities of one carrier
    category, so they attach to the network exactly like facilities (nearest edge, offset walked).

    Returns
    -------
    pandas.DataFrame
        community_id, site_id, distance_m for every pair within the largest category threshold
        (and at least 15 minutes' walk).
    """
    from .accessibility import measure_access
    from .standards import load_profile

    profile = profile or load_profile()
    if "site_id" not in sites.columns:
        msg = "sites: column 'site_id' is missing; read the layer with livingcircle.read_sites"
        raise InputError(msg)
    carrier = profile.poi_categories()[0].id
    fac = gpd.GeoDataFrame({"facility_id": sites["site_id"].astype(str).to_numpy(),
                            "categories": carrier}, geometry=sites.geometry.to_numpy(),
                           crs=sites.crs)
    acc = measure_access(net, communities, fac, gates=gates, profile=profile,
                         speed_profiles=[settings.default_speed_profile])
    pairs = acc.pairs[acc.pairs["category"] == carrier]
    out = pairs.rename(columns={"facility_id": "site_id"})[["community_id", "site_id",
                                                             "distance_m"]]
    out = out.groupby(["community_id", "site_id"], as_index=False)["distance_m"].min()
    return out.sort_values(["community_id", "site_id"], ignore_index=True)


# --- clusters ------------------------------------------------------------------------------------
def solve_mclp(cover: np.ndarray, weights: np.ndarray, p: int, *,
               ties: str = "solver") -> np.ndarray:
    """Maximal covering: choose ``p`` columns of ``cover`` (demand × site, bool) maximising weight.

    spopt's MCLP on a 0/1 cost matrix (1 m when covered, 2 m otherwise, radius 1 m), solved with
    CBC. One site (``p == 1``) with a single best column is that column, found without the
    solver (any exact solver must return it). Returns the chosen site indices, sorted; sites
    that add nothing are dropped.

    Parameters
    ----------
    cover
        Demand × site, True where the site covers the demand.
    weights
        Weight of each demand (households).
    p
        Sites to choose.
    ties
        One site with several equally good columns: ``"solver"`` lets CBC choose (as it
        happens to), ``"first"`` takes the first of them (no solver call, for cities with
        thousands of siting problems).
    """
    if ties not in ("solver", "first"):
        msg = f"unknown ties rule {ties!r}; valid rules: ['solver', 'first']"
        raise InputError(msg)
    cover = np.asarray(cover, dtype=bool)
    n_dem, n_site = cover.shape
    p = min(int(p), n_site)
    if p <= 0 or n_dem == 0 or not cover.any():
        return np.zeros(0, dtype=int)
    w = np.asarray(weights, dtype=float)
    if p == 1:
        gain = cover.T.astype(float) @ np.nan_to_num(w)
        best = np.flatnonzero(gain == gain.max())
        if gain.max() <= 0:
            return np.zeros(0, dtype=int)
        if len(best) == 1 or ties == "first":
            return best[:1].astype(int)
    import pulp
    from spopt.locate import MCLP

    cost = np.where(cover, 1.0, 2.0)
    model = MCLP.from_cost_matrix(cost, w, 1.0, p)
    model.solve(pulp.PULP_CBC_CMD(msg=False))
    chosen = [j for j, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5]
    return _drop_useless(cover, w, np.array(sorted(chosen), dtype=int))


def _drop_useless(cover, weights, chosen):
    keep = []
    covered = np.zeros(cover.shape[0], dtype=bool)
    # keep a site only when it adds weight, taking the largest contributions first
    left = list(chosen)
    while left:
        gains = [float(weights[cover[:, j] & ~covered].sum()) for j in left]
        b = int(np.argmax(gains))
        if gains[b] <= 0:
            break
        covered |= cover[:, left[b]]
        keep.append(left.pop(b))
    return np.array(sorted(keep), dtype=int)


def greedy_mclp(cover: np.ndarray, weights: np.ndarray, p: int) -> np.ndarray:
    """Greedy covering: ``p`` times, add the site covering most uncovered weight (ties: first)."""
    cover = np.asarray(cover, dtype=bool)
    weights = np.asarray(weights, dtype=float)
    covered = np.zeros(cover.shape[0], dtype=bool)
    chosen: list[int] = []
    for _ in range(min(int(p), cover.shape[1])):
        gain = (cover & ~covered[:, None]).T.astype(float) @ weights
        gain[chosen] = -1
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        covered |= cover[:, j]
    return np.array(sorted(chosen), dtype=int)


def random_sites(cover: np.ndarray, p: int, *, seed: int = 0) -> np.ndarray:
    """``p`` sites drawn at random without replacement (``numpy.random.default_rng(seed)``)."""
    n_site = np.asarray(cover).shape[1]
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_site, size=min(int(p), n_site), replace=False))


def covered_weight(cover: np.ndarray, weights: np.ndarray, chosen) -> float:
    """Weight of the demand covered by at least one chosen site."""
    chosen = np.asarray(chosen, dtype=int)
    if len(chosen) == 0:
        return 0.0
    return float(np.asarray(weights, float)[np.asarray(cover, bool)[:, chosen].any(axis=1)].sum())


def _min_area(min_floor_area_m2, category: str) -> float:
    if min_floor_area_m2 is None:
        return 0.0
    if isinstance(min_floor_area_m2, Mapping):
        return float(min_floor_area_m2.get(category, 0.0))
    return float(min_floor_area_m2)


def node_sites(net, clusters: gpd.GeoDataFrame, *, max_per_cluster: int = 40) -> gpd.GeoDataFrame:
    """Network nodes inside the cluster outlines as candidate sites (when no sites are given).

    Reads the node coordinates of the edge table, so a network kept as arrays works too.
    """
    e = net.edges
    ids = np.asarray(e.node_ids)
    pts = gpd.GeoSeries(shapely.points(e.xy), crs=net.crs).to_crs(clusters.crs).to_numpy()
    hit_cl, hit_pt = shapely.STRtree(pts).query(clusters.geometry.to_numpy(),
                                                predicate="contains")
    rows = []
    for k in range(len(clusters)):
        inside = hit_pt[hit_cl == k]
        inside = inside[np.argsort(ids[inside], kind="stable")]
        step = max(1, math.ceil(len(inside) / max_per_cluster))
        for n in inside[::step]:
            nid = ids[n]
            rows.append({"site_id": f"N{nid}", "name": f"路网节点 {nid}",
                         "site_type": "network_node", "floor_area_m2": np.nan,
                         "geometry": pts[n]})
    out = pd.DataFrame(rows, columns=["site_id", "name", "site_type", "floor_area_m2",
                                      "geometry"]).drop_duplicates("site_id")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=clusters.crs)


def site_facilities(
    cluster_members: pd.DataFrame,
    gaps: pd.DataFrame,
    site_dist: pd.DataFrame,
    sites: gpd.GeoDataFrame,
    profile: Profile,
    *,
    new_per_category: int = 1,
    categories=None,
    required_only: bool = False,
    min_floor_area_m2: float | Mapping[str, float] | None = None,
    site_types: Mapping[str, list[str] | tuple[str, ...]] | None = None,
    unit_cost: Mapping[str, float] | None = None,
) -> gpd.GeoDataFrame:
    """Choose sites for new shared facilities in each cluster (see the module docstring).

    Parameters
    ----------
    cluster_members
        ``cluster_members`` of :func:`livingcircle.clusters.find_clusters` (cluster_id,
        community_id, role, households).
    gaps
        :func:`livingcircle.gaps.find_gaps` for the same communities (met, required,
        threshold_m).
    site_dist
        :func:`site_distances` (community_id, site_id, distance_m).
    sites
        Candidate sites: site_id, site_type, floor_area_m2 (NaN = unknown), geometry.
    profile
        The standard profile (category names and order).
    new_per_category
        New facilities per cluster and category (p of the MCLP).
    categories
        Category ids to site; default every category missing for some member.
    required_only
        Site required categories only.
    min_floor_area_m2
        Minimum floor area of a site for a category (one number or category → m²); sites with a
        known smaller area are excluded.
    site_types
        Category id → the site types a new facility of it may use (e.g. sports grounds only on
        vacant lots); categories not named may use any site.
    unit_cost
        Unit cost proxy by site type (default :data:`UNIT_COST_PROXY`).

    Returns
    -------
    geopandas.GeoDataFrame
        cluster_id, category, name_zh, required, site_id, site_name, site_type, floor_area_m2,
        floor_area_known, households_newly_served, communities_newly_served (';'-joined),
        threshold_m, cost_proxy, geometry (the site). Clusters in order, categories in the
        siting order.
    """
    unit = dict(UNIT_COST_PROXY if unit_cost is None else unit_cost)
    cm = cluster_members.assign(community_id=cluster_members["community_id"].astype(str))
    g = gaps.assign(community_id=gaps["community_id"].astype(str), category=gaps[
        "category"].astype(str))
    sites = sites.assign(site_id=sites["site_id"].astype(str)).sort_values("site_id")
    cand = _Candidates(sites)
    reach = _reach_by_community(site_dist, cand.index)
    problems = _siting_problems(cm, g, profile, categories, required_only)
    n_problems = sum(len(p[3]) for p in problems)
    ties = "solver" if n_problems <= settings.siting_solver_max_problems else "first"
    if ties == "first":
        logger.info("siting: %d problems (more than settings.siting_solver_max_problems = %d): "
                    "of equally good single sites the first is taken, without CBC", n_problems,
                    settings.siting_solver_max_problems)
    out = []
    for cl_id, cids, hh, todo in problems:
        if todo:
            out += _site_cluster(cl_id, cids, hh, todo, reach, cand, profile, ties=ties,
                                 new_per_category=new_per_category,
                                 min_floor_area_m2=min_floor_area_m2, site_types=site_types,
                                 unit=unit)
    res = gpd.GeoDataFrame(pd.DataFrame(out, columns=PROPOSED_COLUMNS), geometry="geometry",
                           crs=sites.crs)
    logger.info("siting: %d new facilities proposed", len(res))
    return res


#: Columns of :func:`site_facilities`.
PROPOSED_COLUMNS = ["cluster_id", "category", "name_zh", "required", "site_id", "site_name",
                    "site_type", "floor_area_m2", "floor_area_known", "households_newly_served",
                    "communities_newly_served", "threshold_m", "cost_proxy", "geometry"]


class _Candidates:
    """The candidate sites as arrays in site_id order, and which are taken already."""

    def __init__(self, sites: gpd.GeoDataFrame) -> None:
        self.sites = sites
        self.ids = sites["site_id"].to_numpy()
        self.index = {s: j for j, s in enumerate(self.ids)}
        self.area = pd.to_numeric(sites["floor_area_m2"], errors="coerce").to_numpy(dtype=float) \
            if "floor_area_m2" in sites.columns else np.full(len(sites), np.nan)
        self.type = sites["site_type"].astype(str).to_numpy() if "site_type" in sites.columns \
            else np.full(len(sites), "unknown", dtype=object)
        self.name = sites["name"].to_numpy() if "name" in sites.columns else self.ids
        self.used = np.zeros(len(sites), dtype=bool)


def _reach_by_community(site_dist: pd.DataFrame, sidx: dict):
    """Return each community's reachable sites as slices of sorted arrays.

    ``(site index array, metres array, {community_id: (start, stop)})``; sites not among the
    candidates are left out.
    """
    sd = site_dist.assign(community_id=site_dist["community_id"].astype(str),
                          site_id=site_dist["site_id"].astype(str))
    sd = sd[sd["site_id"].isin(sidx)]
    sd = sd.sort_values("community_id", kind="stable")
    sd_comm = sd["community_id"].to_numpy()
    sd_site = sd["site_id"].map(sidx).to_numpy(dtype=np.int64)
    sd_dist = sd["distance_m"].to_numpy(dtype=float)
    starts = np.flatnonzero(np.r_[True, sd_comm[1:] != sd_comm[:-1]]) if len(sd) else []
    ends = np.r_[starts[1:], len(sd)] if len(sd) else []
    rows_of = {sd_comm[s0]: (s0, s1) for s0, s1 in zip(starts, ends, strict=True)}
    return sd_site, sd_dist, rows_of


def _siting_problems(cm: pd.DataFrame, g: pd.DataFrame, profile: Profile, categories,
                     required_only: bool) -> list:
    """Return per cluster (sorted): id, community ids, households, categories to site.

    The categories are those missing for some member, sorted required first, then by
    households not served (desc), then id; each with the mask of the cluster's communities it
    does not serve now.
    """
    met_mask = g["met"].astype(bool).to_numpy()
    met = set(zip(g["community_id"].to_numpy()[met_mask], g["category"].to_numpy()[met_mask],
                  strict=True))
    unmet = g.loc[~g["met"].astype(bool), ["community_id", "category"]]
    unmet_of = {c: list(x) for c, x in unmet.groupby("community_id", sort=False)["category"]}
    wanted = None if categories is None else set(categories)
    problems = []
    for cl_id, mem in cm.groupby("cluster_id", sort=True):
        mem = mem.sort_values("community_id")
        cids = mem["community_id"].tolist()
        hh = pd.to_numeric(mem["households"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
        member_ids = mem.loc[mem["role"] == "member", "community_id"]
        cand = []
        for c in dict.fromkeys(c for m in member_ids for c in unmet_of.get(m, ())):
            cat = profile.category(c)
            if (wanted is not None and c not in wanted) or (required_only and not cat.required):
                continue
            unserved = np.array([(x, c) not in met for x in cids], dtype=bool)
            cand.append((not cat.required, -float(hh[unserved].sum()), c, unserved))
        cand.sort(key=lambda t: t[:3])
        problems.append((cl_id, cids, hh, cand))
    return problems


def _site_cluster(cl_id, cids, hh, todo, reach, cand: _Candidates, profile: Profile, *,
                  ties: str, new_per_category: int, min_floor_area_m2, site_types,
                  unit: Mapping[str, float]) -> list[dict]:
    """Solve the siting problems of one cluster, category by category; mark sites taken."""
    sd_site, sd_dist, rows_of = reach
    n_sites = len(cand.ids)
    # distance matrix community × the sites any of them reaches (ascending site order)
    spans = [rows_of.get(x, (0, 0)) for x in cids]
    cols = np.unique(np.concatenate([sd_site[s0:s1] for s0, s1 in spans])) \
        if spans else np.zeros(0, dtype=np.int64)
    Dm = np.full((len(cids), len(cols)), np.inf)
    for i, (s0, s1) in enumerate(spans):
        Dm[i, np.searchsorted(cols, sd_site[s0:s1])] = sd_dist[s0:s1]
    out = []
    for _req, _neg, c, unserved in todo:
        cat = profile.category(c)
        ok_site = ~cand.used & ~(cand.area < _min_area(min_floor_area_m2, c))  # NaN: allowed
        if site_types and c in site_types:
            ok_site &= np.isin(cand.type, list(site_types[c]))
        if ties == "solver":  # today's problem: every site a column (CBC's ties as before)
            full = np.full((len(cids), n_sites), np.inf)
            full[:, cols] = Dm
            cover = (full <= cat.max_walk_m) & unserved[:, None] & ok_site[None, :]
            col_site = np.arange(n_sites)
        else:
            cover = (Dm <= cat.max_walk_m) & unserved[:, None] & ok_site[cols][None, :]
            col_site = cols
        if not cover.any():
            continue
        chosen = solve_mclp(cover, hh, new_per_category, ties=ties)
        covered = np.zeros(len(cids), dtype=bool)
        for k in sorted(chosen, key=lambda k: -float(hh[cover[:, k]].sum())):
            j = col_site[k]
            new = cover[:, k] & ~covered
            covered |= new
            cand.used[j] = True
            out.append({
                "cluster_id": cl_id, "category": c, "name_zh": cat.name_zh,
                "required": cat.required, "site_id": cand.ids[j], "site_name": cand.name[j],
                "site_type": cand.type[j], "floor_area_m2": cand.area[j],
                "floor_area_known": bool(np.isfinite(cand.area[j])),
                "households_newly_served": float(hh[new].sum()),
                "communities_newly_served": ";".join(np.asarray(cids)[new]),
                "threshold_m": cat.max_walk_m,
                "cost_proxy": float(cand.area[j] * unit.get(cand.type[j], math.nan)),
                "geometry": cand.sites.geometry.iloc[j],
            })
    return out


# --- before / after ------------------------------------------------------------------------------
