"""Siting new shared facilities: maximal covering (MCLP) or set covering (LSCP), spopt + HiGHS.

The clusters of :func:`livingcircle.clusters.find_clusters` miss categories; this module measures
community ↔ candidate site distances (:func:`site_distances`: the sites are measured as
facilities of a carrier category with :func:`livingcircle.measure_access`, so they are snapped to
edges exactly like facilities) and chooses sites for new shared facilities
(:func:`site_facilities`, one problem per cluster and category, :func:`solve_mclp` or
:func:`solve_lscp`). Greedy and random choices (:func:`greedy_mclp`, :func:`random_sites`) are
here for the comparison of :func:`livingcircle.scenarios.compare_siting`. A new siting model goes
here.

Siting (issue 16 §4)
--------------------
For each cluster and each category missing for some member (required categories first, then by
households missing, then category id), the demand is the cluster's communities (members and
beneficiaries) that do **not** meet the category now — existing facilities count as already
open, so a community already served is never "newly served". A site covers a community when the
network distance is within the category's threshold (metres of the standard).

Which sites may hold a category is the profile's ``siting`` section, judged by
:func:`livingcircle.standards.site_fit` (a city changes it in its profile):

- district-planning categories (schools, 养老院, 社区卫生服务中心, large sports grounds) are
  never sited on a community's site (note 'district_planning');
- a site of an incompatible type, or known to be smaller than the category's sourced minimum,
  is never used;
- a category without a sourced minimum is proposed only on a site the planner confirmed
  (``area_confirmed`` = yes in the sites file, alias 面积已确认): ``confirmed_by_planner``;
- a site of unknown area is used for a category with a sourced minimum only as
  ``to_be_confirmed``, and only for the communities no site of known area serves (it ranks
  below them: those are chosen first, the unknown ones for what is left).

Two models (``--siting``): ``mclp`` (default) chooses ``new_per_category`` sites that maximise
households covered (spopt ``MCLP``); ``lscp`` chooses the fewest sites that bring every member
community within the threshold (spopt ``LSCP``), and where no compatible site can reach a
member, says which (``communities_not_coverable``). Both are solved with HiGHS through PuLP
(``pulp.HiGHS``, package ``highspy``). A site hosts at most one new facility: categories and
clusters are processed in the documented order and a chosen site is removed from the candidates
of later ones (greedy across categories, exact within one). When no candidate sites are given,
network nodes near the cluster are the candidates (area to be confirmed). A cluster and
category without a proposal gets a reason (:data:`NOT_SITED_REASONS`).

``cost_proxy`` is floor area × a unit cost by site type (yuan/m², :data:`UNIT_COST_PROXY`): a
ranking proxy to compare sites, **not** a cost estimate.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from . import settings
from ._errors import InputError
from .schema import parse_yes_no
from .standards import Profile, site_fit

if TYPE_CHECKING:
    from .accessibility import Access

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
                   access: Access | None = None) -> pd.DataFrame:
    """Network distance from every community to every candidate site within reach.

    The sites are measured by :func:`livingcircle.measure_access` as facilities of one carrier
    category, so they attach to the network exactly like facilities (nearest edge, offset walked).
    ``access``: the run's :class:`~livingcircle.accessibility.Access` of the same network,
    communities and gates, whose community access points are then reused (``measure_access``'s
    ``same_communities_as``).

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
                         speed_profiles=[settings.default_speed_profile],
                         same_communities_as=access)
    pairs = acc.pairs[acc.pairs["category"] == carrier]
    out = pairs.rename(columns={"facility_id": "site_id"})[["community_id", "site_id",
                                                             "distance_m"]]
    out = out.groupby(["community_id", "site_id"], as_index=False)["distance_m"].min()
    return cast(pd.DataFrame, out).sort_values(["community_id", "site_id"], ignore_index=True)


# --- clusters ------------------------------------------------------------------------------------
def solve_mclp(cover: np.ndarray, weights: np.ndarray, p: int, *,
               ties: str = "solver") -> np.ndarray:
    """Maximal covering: choose ``p`` columns of ``cover`` (demand × site, bool) maximising weight.

    spopt's MCLP on a 0/1 cost matrix (1 m when covered, 2 m otherwise, radius 1 m), solved with
    HiGHS through PuLP. One site (``p == 1``) with a single best column is that column, found
    without the solver (any exact solver must return it). Returns the chosen site indices,
    sorted; sites that add nothing are dropped.

    Parameters
    ----------
    cover
        Demand × site, True where the site covers the demand.
    weights
        Weight of each demand (households).
    p
        Sites to choose.
    ties
        One site with several equally good columns: ``"solver"`` lets HiGHS choose (as it
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
    from spopt.locate import MCLP

    cost = np.where(cover, 1.0, 2.0)
    model = MCLP.from_cost_matrix(cost, w, 1.0, p)
    model.solve(_solver())
    # spopt sets fac_vars in from_cost_matrix but does not declare it on the class
    chosen = [j for j, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5]  # pyright: ignore[reportAttributeAccessIssue]
    return _drop_useless(cover, w, np.array(sorted(chosen), dtype=int))


def _solver():
    """Return the MILP solver of every siting model: HiGHS through PuLP (package highspy)."""
    import pulp

    return pulp.HiGHS(msg=False)


def solve_lscp(cover: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Location set covering: the fewest columns of ``cover`` that cover every coverable row.

    spopt's LSCP on the same 0/1 cost matrix as :func:`solve_mclp`, solved with HiGHS. Rows no
    column covers cannot be brought within the threshold by any site: they are left out of the
    model (which would be infeasible) and returned, so the caller can say which they are.

    Parameters
    ----------
    cover
        Demand × site, True where the site covers the demand.

    Returns
    -------
    chosen : numpy.ndarray
        The chosen site indices, sorted (empty when no row can be covered).
    uncoverable : numpy.ndarray
        Boolean mask of the rows no site covers.

    Examples
    --------
    >>> import numpy as np
    >>> cover = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]], dtype=bool)
    >>> chosen, left = solve_lscp(cover)
    >>> chosen.tolist(), left.tolist()
    ([1], [False, False, True])
    """
    cover = np.asarray(cover, dtype=bool)
    uncoverable = cast(np.ndarray, ~cover.any(axis=1))
    rows = cover[~uncoverable]
    if len(rows) == 0:
        return np.zeros(0, dtype=int), uncoverable
    useful = np.flatnonzero(rows.any(axis=0))
    if len(useful) == 1 or rows[:, useful].all(axis=0).any():  # one site covers every row
        j = useful[np.flatnonzero(rows[:, useful].all(axis=0))[0]]
        return np.array([j], dtype=int), uncoverable
    from spopt.locate import LSCP

    model = LSCP.from_cost_matrix(np.where(rows[:, useful], 1.0, 2.0), 1.0)
    model.solve(_solver())
    # spopt sets fac_vars in from_cost_matrix but does not declare it on the class
    chosen = useful[[k for k, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5]]  # pyright: ignore[reportAttributeAccessIssue]
    return np.array(sorted(chosen), dtype=int), uncoverable


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


def node_sites(net, clusters: gpd.GeoDataFrame, *, max_per_cluster: int = 40) -> gpd.GeoDataFrame:
    """Network nodes inside the cluster outlines as candidate sites (when no sites are given).

    Reads the node coordinates of the edge table, so a network kept as arrays works too.
    """
    e = net.edges
    ids = np.asarray(e.node_ids)
    pts = (gpd.GeoSeries(shapely.points(e.xy), crs=net.crs).to_crs(cast(CRS, clusters.crs))
           .to_numpy())
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
    model: str = "mclp",
    unit_cost: Mapping[str, float] | None = None,
    not_sited: list | None = None,
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
        Candidate sites: site_id, site_type, floor_area_m2 (NaN = unknown), optional
        area_confirmed (the planner confirms the site is large enough), geometry.
    profile
        The standard profile: category names and order, and its ``siting`` rules
        (:meth:`~livingcircle.standards.Profile.site_rule`, judged by
        :func:`livingcircle.standards.site_fit`).
    new_per_category
        New facilities per cluster and category (p of the MCLP; not used by the LSCP).
    categories
        Category ids to site; default every category missing for some member.
    required_only
        Site required categories only.
    model
        ``"mclp"``: ``new_per_category`` sites serving the most households; ``"lscp"``: the
        fewest sites bringing every member that can be reached within the threshold.
    unit_cost
        Unit cost proxy by site type (default :data:`UNIT_COST_PROXY`).
    not_sited
        A list to which one record per cluster and category left without a proposal is
        appended: cluster_id, category, reason (a key of :data:`NOT_SITED_REASONS`).

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`PROPOSED_COLUMNS`: the site, its area and ``area_status`` (:data:`AREA_STATUSES`),
        households and communities newly served, the members no compatible site can serve
        (``communities_not_coverable``), threshold_m, cost_proxy. Clusters in order, categories
        in the siting order, sites of known area before those to be confirmed.
    """
    if model not in SITING_MODELS:
        msg = f"unknown siting model {model!r}; valid models: {list(SITING_MODELS)}"
        raise InputError(msg)
    unit = dict(UNIT_COST_PROXY if unit_cost is None else unit_cost)
    cm = cluster_members.assign(community_id=cluster_members["community_id"].astype(str))
    g = gaps.assign(community_id=gaps["community_id"].astype(str), category=gaps[
        "category"].astype(str))
    sites = sites.assign(site_id=sites["site_id"].astype(str)).sort_values("site_id")
    cand = _Candidates(sites, profile)
    reach = _reach_by_community(site_dist, cand.index)
    notes = [] if not_sited is None else not_sited
    problems = _siting_problems(cm, g, profile, categories, required_only, notes)
    ties = _ties(sum(len(p[3]) for p in problems))
    out = []
    for cl_id, cids, hh, todo, is_member in problems:
        if todo:
            out += _site_cluster(cl_id, cids, hh, is_member, todo, reach, cand, profile,
                                 ties=ties, model=model, new_per_category=new_per_category,
                                 unit=unit, notes=notes)
    res = gpd.GeoDataFrame(pd.DataFrame(out, columns=PROPOSED_COLUMNS), geometry="geometry",
                           crs=sites.crs)
    logger.info("siting (%s): %d new facilities proposed", model, len(res))
    return res


def _ties(n_problems: int) -> str:
    """How equally good sites are chosen: by the solver, or the first (beyond the setting)."""
    if n_problems <= settings.siting_solver_max_problems:
        return "solver"
    logger.info("siting: %d problems (more than settings.siting_solver_max_problems = %d): "
                "of equally good single sites the first is taken, without the solver",
                n_problems, settings.siting_solver_max_problems)
    return "first"


#: The siting models of :func:`site_facilities` (``--siting``).
SITING_MODELS = ("mclp", "lscp")

#: ``area_status`` of a proposal: the site's known area meets the category's sourced minimum;
#: the planner confirmed the area (``area_confirmed`` in the sites file: the only way a category
#: without a sourced minimum is proposed); or the area is unknown and must be confirmed (such
#: sites are used only where no site of the first two kinds serves the communities).
AREA_STATUSES = ("meets_minimum", "confirmed_by_planner", "to_be_confirmed")

#: Why a cluster got no new facility of a category: (Chinese, English).
NOT_SITED_REASONS: dict[str, tuple[str, str]] = {
    "district_planning": ("由上级规划统筹，不在小区候选用地上设置",
                          "planned by the district (上级规划统筹), never on a community's site"),
    "no_site_in_reach": ("标准步行距离内无候选用地", "no candidate site within the threshold"),
    "no_compatible_site": ("步行距离内的候选用地类型均不适合",
                           "no site within the threshold is of a compatible type"),
    "sites_too_small": ("步行距离内适合的候选用地面积均不足",
                        "every compatible site within the threshold is too small"),
    "area_not_confirmed": ("该类设施无有出处的最小面积，步行距离内无经规划人员确认面积的用地",
                           "no sourced minimum area, and no site within the threshold has its "
                           "area confirmed by the planner (area_confirmed)"),
    "sites_taken": ("适合的候选用地已用于其他设施", "the fitting sites are taken by other "
                    "new facilities"),
    "no_gap_to_site": ("成员小区无可在候选用地上补齐的缺项",
                       "no member gap that a community's site can fill"),
}

#: Columns of :func:`site_facilities`.
PROPOSED_COLUMNS = ["cluster_id", "category", "name_zh", "required", "site_id", "site_name",
                    "site_type", "floor_area_m2", "floor_area_known", "area_status",
                    "households_newly_served", "communities_newly_served",
                    "communities_not_coverable", "threshold_m", "cost_proxy", "geometry"]

# site fit codes, worst first (the array form of standards.site_fit plus the planner's word)
_INCOMPATIBLE, _TOO_SMALL, _UNCONFIRMED, _TO_CONFIRM, _CONFIRMED, _FITS = range(6)
_FIT_STATUS = {_FITS: "meets_minimum", _CONFIRMED: "confirmed_by_planner",
               _TO_CONFIRM: "to_be_confirmed"}


class _Candidates:
    """The candidate sites as arrays in site_id order, which are taken, and their fit."""

    def __init__(self, sites: gpd.GeoDataFrame, profile: Profile) -> None:
        self.sites = sites
        self.profile = profile
        self.ids = sites["site_id"].to_numpy()
        self.index = {s: j for j, s in enumerate(self.ids)}
        self.area = pd.to_numeric(sites["floor_area_m2"], errors="coerce").to_numpy(dtype=float) \
            if "floor_area_m2" in sites.columns else np.full(len(sites), np.nan)
        self.type = sites["site_type"].astype(str).to_numpy() if "site_type" in sites.columns \
            else np.full(len(sites), "other", dtype=object)
        self.confirmed = np.array([
            parse_yes_no(v, where=f"sites column 'area_confirmed', site {s!r}") is True
            for s, v in zip(self.ids, sites["area_confirmed"], strict=True)], dtype=bool) \
            if "area_confirmed" in sites.columns else np.zeros(len(sites), dtype=bool)
        self.name = sites["name"].to_numpy() if "name" in sites.columns else self.ids
        self.used = np.zeros(len(sites), dtype=bool)
        self.geometry = sites.geometry.to_numpy()
        self._fit: dict[str, np.ndarray] = {}

    def fit(self, category: str) -> np.ndarray:
        """Fit code of every site for a category (:func:`livingcircle.standards.site_fit`).

        A network node (no site known) may hold any category that has a compatible site type,
        its area to be confirmed; a type the profile does not know is judged as 'other'.
        """
        if category not in self._fit:
            rule = self.profile.site_rule(category)
            codes = np.empty(len(self.ids), dtype=int)
            node = self.type == "network_node"
            # a city's nodes (most sites) by their two codes, planner-confirmed or not
            f = "area_to_confirm" if rule.site_types else "incompatible"
            by_confirmed = [_fit_code(f, True, rule.min_area_m2 is None, c) for c in (False, True)]
            codes[node] = np.where(self.confirmed[node], by_confirmed[1], by_confirmed[0])
            for j in np.flatnonzero(~node):
                t, a = self.type[j], self.area[j]
                f = site_fit(self.profile, category,
                             t if t in self.profile.site_types else "other", a)
                codes[j] = _fit_code(f, rule.min_area_m2 is None or math.isnan(a),
                                     rule.min_area_m2 is None, bool(self.confirmed[j]))
            self._fit[category] = codes
        return self._fit[category]


def usable_sites(sites: gpd.GeoDataFrame, profile: Profile, category: str) -> np.ndarray:
    """Return which sites :func:`site_facilities` may propose for a category, in row order.

    The same rules as a run (:func:`livingcircle.standards.site_fit` and the planner's
    ``area_confirmed``): a compatible site type of at least the sourced minimum area, or of
    unknown area (to be confirmed), or, for a category without a sourced minimum, a site whose
    area the planner confirmed; never a district-planning category (上级规划统筹).

    Parameters
    ----------
    sites
        Candidate sites: site_id, site_type, floor_area_m2, optional area_confirmed.
    profile
        The standard profile with its ``siting`` rules.
    category
        A category id of the profile.

    Returns
    -------
    numpy.ndarray
        Booleans, one per row of ``sites``.
    """
    if profile.category(category).district_planning:
        return np.zeros(len(sites), dtype=bool)
    cand = _Candidates(sites.assign(site_id=sites["site_id"].astype(str)), profile)
    return cand.fit(category) >= _TO_CONFIRM


def _fit_code(fit: str, area_open: bool, no_minimum: bool, confirmed: bool) -> int:
    if fit == "incompatible":
        return _INCOMPATIBLE
    if fit == "too_small":
        return _TOO_SMALL
    if fit == "fits":
        return _FITS
    # area_to_confirm: the planner's confirmation settles it; otherwise a category with a
    # sourced minimum may still go on a site of unknown area (to be confirmed), one without
    # a minimum may not
    if confirmed and area_open:
        return _CONFIRMED
    return _UNCONFIRMED if no_minimum else _TO_CONFIRM


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
                     required_only: bool, notes: list) -> list:
    """Return per cluster (sorted): id, community ids, households, categories, member mask.

    The categories are those missing for some member, sorted required first, then by
    households not served (desc), then id; each with the mask of the cluster's communities it
    does not serve now. District-planning categories are never sited (a note says so), nor
    are categories left out by ``categories`` / ``required_only``; a cluster left with none
    gets the note 'no_gap_to_site'.
    """
    met_mask = g["met"].astype(bool).to_numpy()
    met = set(zip(g["community_id"].to_numpy()[met_mask], g["category"].to_numpy()[met_mask],
                  strict=True))
    unmet = g.loc[~g["met"].astype(bool), ["community_id", "category"]]
    unmet_of = {c: list(x) for c, x in unmet.groupby("community_id", sort=False)["category"]}
    wanted = None if categories is None else set(categories)
    problems = []
    for cl_id, cids, hh, is_member in _clusters_in_order(cm):
        cand = []
        district = []
        for c in dict.fromkeys(c for m in np.asarray(cids)[is_member]
                               for c in unmet_of.get(m, ())):
            cat = profile.category(c)
            if (wanted is not None and c not in wanted) or (required_only and not cat.required):
                continue
            if cat.district_planning:
                district.append(c)
                continue
            unserved = np.array([(x, c) not in met for x in cids], dtype=bool)
            cand.append((not cat.required, -float(hh[unserved].sum()), c, unserved))
        cand.sort(key=lambda t: t[:3])
        notes += [{"cluster_id": cl_id, "category": c, "reason": "district_planning"}
                  for c in sorted(district)]
        if not cand:
            notes.append({"cluster_id": cl_id, "category": "", "reason": "no_gap_to_site"})
        problems.append((cl_id, cids, hh, cand, is_member))
    return problems


def _clusters_in_order(cm: pd.DataFrame) -> Iterator[tuple]:
    """Yield each cluster's id, community ids, households and member mask, as numpy slices.

    Clusters by id, their communities by id (a community is in a cluster once); households
    not given count 0. One sort of the whole table: a pandas group and sort per cluster took
    about 2 of the 1M-node city's 3.4 s of siting problems under cProfile.
    """
    if len(cm) == 0:
        return
    cm = cm.sort_values(["cluster_id", "community_id"], kind="stable")
    cl = cm["cluster_id"].to_numpy()
    ids = cm["community_id"].to_numpy(dtype=object)
    hh = pd.to_numeric(cm["households"], errors="coerce").fillna(0.0).to_numpy(dtype=float)
    member = (cm["role"] == "member").to_numpy(dtype=bool)
    starts = np.flatnonzero(np.r_[True, cl[1:] != cl[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], len(cl)], strict=True):
        yield cl[a], ids[a:b].tolist(), hh[a:b], member[a:b]


def _choose(cover_sure, cover_maybe, hh, is_member, unserved, *, model, p, ties):
    """Chosen columns: sites of known area first, to-be-confirmed ones for what is left.

    Returns the columns (sure ones first) and the unserved members no column can serve.
    """
    if model == "lscp":
        dem = is_member & unserved
        sure, left = solve_lscp(cover_sure[dem])
        rest = np.flatnonzero(dem)[left]
        maybe, left2 = solve_lscp(cover_maybe[rest])
        not_coverable = np.zeros(len(hh), dtype=bool)
        not_coverable[rest[left2]] = True
        return [*sure, *maybe], not_coverable
    sure = solve_mclp(cover_sure, hh, p, ties=ties)
    covered = cover_sure[:, sure].any(axis=1) if len(sure) else np.zeros(len(hh), dtype=bool)
    maybe = solve_mclp(cover_maybe & ~covered[:, None], hh, p - len(sure), ties=ties) \
        if p > len(sure) else np.zeros(0, dtype=int)
    reachable = (cover_sure | cover_maybe).any(axis=1)
    return [*sure, *maybe], is_member & unserved & ~reachable


def _site_cluster(cl_id, cids, hh, is_member, todo, reach, cand: _Candidates, profile: Profile,
                  *, ties: str, model: str, new_per_category: int, unit: Mapping[str, float],
                  notes: list) -> list[dict]:
    """Solve the siting problems of one cluster, category by category; mark sites taken."""
    sd_site, sd_dist, rows_of = reach
    # distance matrix community × the sites any of them reaches (ascending site order)
    spans = [rows_of.get(x, (0, 0)) for x in cids]
    cols = np.unique(np.concatenate([sd_site[s0:s1] for s0, s1 in spans])) \
        if spans else np.zeros(0, dtype=np.int64)
    Dm = np.full((len(cids), len(cols)), np.inf)
    for i, (s0, s1) in enumerate(spans):
        Dm[i, np.searchsorted(cols, sd_site[s0:s1])] = sd_dist[s0:s1]
    ids = np.asarray(cids)
    out = []
    for _req, _neg, c, unserved in todo:
        cat = profile.category(c)
        fit = cand.fit(c)[cols]
        free = ~cand.used[cols]
        near = (Dm <= cat.max_walk_m) & unserved[:, None]
        cover_sure = near & (free & (fit >= _CONFIRMED))[None, :]
        cover_maybe = near & (free & (fit == _TO_CONFIRM))[None, :]
        chosen, not_cov = _choose(cover_sure, cover_maybe, hh, is_member, unserved, model=model,
                                  p=new_per_category, ties=ties)
        if not chosen:
            notes.append({"cluster_id": cl_id, "category": c,
                          "reason": _why_not(near[is_member], fit, free)})
            continue
        covered = np.zeros(len(cids), dtype=bool)
        for k in chosen:
            j = cols[k]
            new = (cover_sure[:, k] | cover_maybe[:, k]) & ~covered
            covered |= new
            cand.used[j] = True
            out.append({
                "cluster_id": cl_id, "category": c, "name_zh": cat.name_zh,
                "required": cat.required, "site_id": cand.ids[j], "site_name": cand.name[j],
                "site_type": cand.type[j], "floor_area_m2": cand.area[j],
                "floor_area_known": bool(np.isfinite(cand.area[j])),
                "area_status": _FIT_STATUS[int(fit[k])],
                "households_newly_served": float(hh[new].sum()),
                "communities_newly_served": ";".join(ids[new]),
                "communities_not_coverable": ";".join(ids[not_cov]),
                "threshold_m": cat.max_walk_m,
                "cost_proxy": float(cand.area[j] * unit.get(cast(str, cand.type[j]), math.nan)),
                "geometry": cand.geometry[j],
            })
    return out


def _why_not(near: np.ndarray, fit: np.ndarray, free: np.ndarray) -> str:
    """Return the reason (a key of :data:`NOT_SITED_REASONS`) no site was chosen for a category."""
    in_reach = near.any(axis=0)
    if not in_reach.any():
        return "no_site_in_reach"
    f = fit[in_reach]
    if (f >= _TO_CONFIRM).any():
        return "sites_taken" if not (free[in_reach] & (f >= _TO_CONFIRM)).any() \
            else "no_site_in_reach"
    if (f == _UNCONFIRMED).any():
        return "area_not_confirmed"
    if (f == _TOO_SMALL).any():
        return "sites_too_small"
    return "no_compatible_site"


# --- before / after ------------------------------------------------------------------------------
