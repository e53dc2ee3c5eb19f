"""Area-linked renovation clusters (片区联动改造) with shared new facilities, before and after.

黑政办规〔2021〕15号 四(三)2 asks cities to renovate neighbouring communities together and to build
shared facilities that complete their 5-, 10- and 15-minute living circles. This module

1. measures network distances community ↔ community (:func:`community_distances`, one bounded
   search from each community's access points on the split graph of
   :func:`livingcircle.measure_access`) and community ↔ candidate site (:func:`site_distances`:
   the sites are measured as facilities of a carrier category with the same
   :func:`~livingcircle.measure_access`, so they are snapped to edges exactly like facilities);
2. groups in-scope communities into clusters (:func:`find_clusters`);
3. sites new shared facilities with a maximal covering model (:func:`site_facilities`);
4. re-runs access and gaps with the proposed or a planner's scenario (:func:`before_after`);
5. ranks the clusters with written reasons (:func:`rank_clusters`);
6. compares the solver with greedy and random siting (:func:`compare_siting`).

Why complete-linkage agglomerative clustering
---------------------------------------------
The policy's test of a cluster is that its members are *within walking distance of each other*.
Complete linkage merges two groups at the largest distance between their members, so cutting the
tree at ``distance_threshold = max walk`` guarantees that **every pair** of members is within the
walk (scikit-learn ``AgglomerativeClustering(metric="precomputed", linkage="complete")``).
A city has too many communities for that n × n matrix (10,000² floats and the linkage's copies
are gigabytes), so the same complete linkage runs on the sparse graph of the pairs within the walk
(:func:`_complete_link_sparse`, tested against scikit-learn on the whole matrix); scikit-learn
splits a group over the size cap on the group's own small matrix.
SKATER and max-p (spopt) cut a spatial contiguity tree: they give contiguous regions with a floor
on size, but they neither bound the walking distance between members nor need a floor; they also
partition *every* unit, where here many communities should stay alone. Agglomerative clustering
on the network distance matrix is the shorter and the exact fit.

Shared gaps enter the distance: two communities that have no missing required category in
common get the "unreachable" distance, so complete linkage never puts them in one cluster
(every pair of members shares at least one missing required category; the whole cluster need not
share one). Clusters over the size cap (households, members) are split in two by complete linkage
on their own matrix, again and again, until every part fits. Everything is sorted by id first,
so the same inputs give the same clusters.

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
from .renovation import _bool_or_none
from .routing import map_bounded
from .standards import Profile

logger = logging.getLogger(__name__)

#: Distance given to pairs that may not share a cluster (unreachable or no common gap).
FAR = 1e9

#: Proxy unit cost (yuan per m² of floor area) by site type; for ranking sites only.
UNIT_COST_PROXY: dict[str, float] = {
    "boiler_room": 2500.0,       # conversion of a disused boiler room
    "ground_floor_shop": 1500.0,  # fit-out of a leased or bought ground-floor shop
    "public_building": 2000.0,   # refurbishment of a public building
    "vacant_lot": 3500.0,        # new construction on vacant land
    "network_node": math.nan,    # no site known: no proxy
}

PROTECTION_ZH = ("含历史文化保护小区 {ids}：改造须严格落实保护修缮要求，延续城市特色与历史文脉"
                 "（黑政办规〔2021〕15号 四(三)4）")
PROTECTION_EN = ("includes heritage-protected communities {ids}: renovation must follow the "
                 "protection and repair requirements (Heilongjiang 2021-15, IV(3)4)")


# --- distances -----------------------------------------------------------------------------------

def community_distance_pairs(access, *, radius_m: float) -> pd.DataFrame:
    """Network distance between communities within ``radius_m``, each pair once.

    One bounded search from each community's access points on the split graph of
    :func:`livingcircle.measure_access`; the distance of a pair is the shortest over the access
    points of both (the smaller of the two searches). Memory grows with the pairs within reach,
    not with the square of the number of communities.

    Parameters
    ----------
    access
        A :class:`livingcircle.Access` (its split graph and each community's access nodes).
    radius_m
        Searches stop here; farther pairs are left out.

    Returns
    -------
    pandas.DataFrame
        community_a, community_b (ids, ``community_a < community_b``), distance_m (metres);
        sorted by the two ids.
    """
    ids = access.communities["community_id"].astype(str).to_numpy()
    nodes = access.community_nodes
    g = access.graph
    owner = np.full(g.n_nodes, -1, dtype=np.int64)
    for i, ns in enumerate(nodes):
        owner[ns] = i
    order = np.argsort(ids, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    with_access = [i for i in range(len(ids)) if len(nodes[i])]

    def others(k, reached, dist):  # the other communities this one's search reached
        o = owner[reached]
        hit = (o >= 0) & (o != with_access[k])
        return np.full(int(hit.sum()), rank[with_access[k]]), rank[o[hit]], dist[hit]

    found = map_bounded(g, [nodes[i] for i in with_access], float(radius_m), others)
    src, dst, dd = (list(x) for x in zip(*found, strict=True)) if found else ([], [], [])
    a = np.concatenate(src) if src else np.zeros(0, dtype=np.int64)
    b = np.concatenate(dst) if dst else np.zeros(0, dtype=np.int64)
    d = np.concatenate(dd) if dd else np.zeros(0)
    # the undirected graph gives both directions equal up to rounding: keep the smaller
    t = (pd.DataFrame({"a": np.minimum(a, b), "b": np.maximum(a, b), "distance_m": d})
         .groupby(["a", "b"], sort=True)["distance_m"].min().reset_index())
    sorted_ids = ids[order]
    return pd.DataFrame({"community_a": sorted_ids[t["a"].to_numpy()],
                         "community_b": sorted_ids[t["b"].to_numpy()],
                         "distance_m": t["distance_m"].to_numpy(dtype=float)})


def community_distances(access, *, radius_m: float) -> pd.DataFrame:
    """Network distance between every two communities, through their access points.

    The square form of :func:`community_distance_pairs` (n × n floats: for a city of 10,000
    communities that is 800 MB, so the analysis itself uses the pairs).

    Parameters
    ----------
    access
        A :class:`livingcircle.Access` (its split graph and each community's access nodes).
    radius_m
        Searches stop here; farther pairs are ``inf``.

    Returns
    -------
    pandas.DataFrame
        Square, indexed and columned by community_id (sorted); metres, 0 on the diagonal,
        ``inf`` for pairs farther than ``radius_m`` or without access points.
    """
    ids = np.sort(access.communities["community_id"].astype(str).to_numpy(), kind="stable")
    pairs = community_distance_pairs(access, radius_m=radius_m)
    pos = pd.Index(ids)
    i = pos.get_indexer(pairs["community_a"])
    j = pos.get_indexer(pairs["community_b"])
    D = np.full((len(ids), len(ids)), np.inf)
    D[i, j] = pairs["distance_m"].to_numpy()
    D[j, i] = pairs["distance_m"].to_numpy()
    np.fill_diagonal(D, 0.0)
    return pd.DataFrame(D, index=ids, columns=ids)


def _pairs_from_square(distances: pd.DataFrame) -> pd.DataFrame:
    """Return the finite off-diagonal entries of a symmetric square table as pairs (a < b)."""
    ids = distances.index.astype(str).to_numpy()
    D = distances.to_numpy(dtype=float)
    i, j = np.nonzero(np.isfinite(D))
    keep = ids[i] < ids[j]
    return pd.DataFrame({"community_a": ids[i[keep]], "community_b": ids[j[keep]],
                         "distance_m": D[i[keep], j[keep]]})


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

def _parts(result_or_parts) -> dict:
    """Accept a :class:`~livingcircle.Result` or a dict with the same pieces."""
    if isinstance(result_or_parts, Mapping):
        return dict(result_or_parts)
    r = result_or_parts
    lay = r.layers
    return {"communities": lay["communities"], "gaps": lay["gaps"], "access": r.access,
            "network": r.network, "profile": r.profile, "facilities": lay["facilities"],
            "sites": lay.get("sites"), "gates": lay.get("gates"), "plan": lay.get("plan"),
            "speed_profile": r.speed_profiles[0]}


def _missing_sets(gaps: pd.DataFrame, *, required_only: bool = True) -> dict[str, set]:
    g = gaps[~gaps["met"].astype(bool)]
    if required_only:
        g = g[g["required"].astype(bool)]
    return {str(c): set(x["category"].astype(str)) for c, x in g.groupby("community_id")}


def _households(communities: pd.DataFrame) -> pd.Series:
    if "households" not in communities.columns:
        return pd.Series(np.nan, index=communities["community_id"].astype(str))
    s = pd.to_numeric(communities["households"], errors="coerce").astype(float)
    return pd.Series(s.to_numpy(), index=communities["community_id"].astype(str))


def _complete_link(D: np.ndarray, threshold: float | None, n_clusters: int | None = None):
    from sklearn.cluster import AgglomerativeClustering

    if len(D) == 1:
        return np.zeros(1, dtype=int)
    model = AgglomerativeClustering(metric="precomputed", linkage="complete",
                                    distance_threshold=threshold, n_clusters=n_clusters)
    return model.fit_predict(np.minimum(D, FAR))


def _split_to_cap(idx: np.ndarray, D: np.ndarray, hh: np.ndarray, max_households, max_members):
    too_big = ((max_members is not None and len(idx) > max_members)
               or (max_households is not None and np.nansum(hh[idx]) > max_households))
    if not too_big or len(idx) == 1:
        return [idx]
    lab = _complete_link(D[np.ix_(idx, idx)], None, n_clusters=2)
    out = []
    for k in sorted(set(lab), key=lambda k: idx[lab == k].min()):
        out += _split_to_cap(idx[lab == k], D, hh, max_households, max_members)
    return out


def _complete_link_sparse(n: int, i: np.ndarray, j: np.ndarray, d: np.ndarray) -> list[list[int]]:
    """Complete-linkage clusters of ``n`` items from the pairs closer than the threshold.

    ``i``, ``j``, ``d``: the pairs (i < j) whose distance is below the threshold; every other
    pair is at or above it. Two clusters merge, closest first, while every pair between them is
    such a pair; the linkage of a merged cluster to a neighbour is the larger of the two
    linkages (Lance–Williams for complete linkage), and a neighbour that is not within reach of
    both is dropped. This is the naive agglomerative algorithm cut at the threshold, on the
    sparse graph of the pairs: the clusters that :func:`_complete_link` gives on the whole
    n × n matrix with ``distance_threshold``, in memory that grows with the pairs.

    Returns
    -------
    list of list of int
        The clusters (item indices, ascending), ordered by their first item.
    """
    import heapq

    nbr: list[dict[int, float]] = [{} for _ in range(n)]
    for a, b, w in zip(i.tolist(), j.tolist(), d.tolist(), strict=True):
        nbr[a][b] = w
        nbr[b][a] = w
    heap = [(w, a, b) for a in range(n) for b, w in nbr[a].items() if a < b]
    heapq.heapify(heap)
    alive = [True] * n
    members = [[k] for k in range(n)]
    while heap:
        w, a, b = heapq.heappop(heap)
        if not (alive[a] and alive[b]) or nbr[a].get(b) != w:
            continue  # a stale entry: one side merged since, or the linkage changed
        alive[b] = False
        na, nb = nbr[a], nbr[b]
        del na[b], nb[a]
        merged = {x: max(wa, nb[x]) for x, wa in na.items() if x in nb}
        for x in na:
            del nbr[x][a]
        for x in nb:
            del nbr[x][b]
        for x, wx in merged.items():
            nbr[x][a] = wx
            heapq.heappush(heap, (wx, min(a, x), max(a, x)))
        nbr[a], nbr[b] = merged, {}
        members[a] += members[b]
        members[b] = []
    return sorted((sorted(m) for m, ok in zip(members, alive, strict=True) if ok),
                  key=lambda m: m[0])


def _member_groups(members: list[str], pairs: pd.DataFrame, missing: dict[str, set] | None,
                   walk_m: float, hh: np.ndarray, max_households, max_members):
    """Complete-linkage groups of the in-scope ``members`` (indices into ``members``).

    Two members may share a group only when they are closer than ``walk_m`` (and, with
    ``missing``, miss a required category in common). The groups are those of complete linkage
    on the whole n × n matrix cut at ``walk_m`` (:func:`_complete_link_sparse`); a group over
    the size cap is then split on its own small matrix (:func:`_split_to_cap`).
    """
    n = len(members)
    if n == 0:
        return []
    pos = pd.Index(members)
    i = pos.get_indexer(pairs["community_a"])
    j = pos.get_indexer(pairs["community_b"])
    d = pairs["distance_m"].to_numpy(dtype=float)
    ok = (i >= 0) & (j >= 0) & (d < walk_m)
    i, j, d = i[ok], j[ok], d[ok]
    if missing is not None and len(i):
        cats = sorted(set().union(*missing.values())) if missing else []
        col = {c: k for k, c in enumerate(cats)}
        M = np.zeros((n, len(cats)), dtype=bool)
        for r, m in enumerate(members):
            M[r, [col[c] for c in missing.get(m, ())]] = True
        shared = (M[i] & M[j]).any(axis=1)
        i, j, d = i[shared], j[shared], d[shared]
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    clusters = _complete_link_sparse(n, lo, hi, d)
    logger.info("clusters: %d in-scope communities, %d pairs within the walk sharing a gap, "
                "%d groups before the size cap", n, len(d), len(clusters))
    pair_d = dict(zip(zip(lo.tolist(), hi.tolist(), strict=True), d.tolist(), strict=True))
    groups: list[np.ndarray] = []
    for c in clusters:
        idx = np.asarray(c, dtype=np.int64)
        if len(idx) > 1:  # the group's own matrix, for splits over the size cap
            Dg = np.full((len(idx), len(idx)), FAR)
            np.fill_diagonal(Dg, 0.0)
            for x in range(len(idx)):
                for y in range(x + 1, len(idx)):
                    Dg[x, y] = Dg[y, x] = pair_d[int(idx[x]), int(idx[y])]
            groups += [idx[g] for g in _split_to_cap(np.arange(len(idx)), Dg, hh[idx],
                                                     max_households, max_members)]
        else:
            groups.append(idx)
    return groups


def _beneficiaries(pairs: pd.DataFrame, members: list[str], groups: list[np.ndarray],
                   others: set[str]) -> dict[str, tuple[float, int]]:
    """Out-of-scope community → (largest walk to the members, group) of the group it joins.

    A community joins a group when it is within the walk of every member (``pairs`` holds
    only the pairs within the walk); of several such groups, the one with the smallest largest
    walk, then the first.
    """
    if not groups or not others:
        return {}
    group_of = {members[m]: k for k, g in enumerate(groups) for m in g}
    a, b = pairs["community_a"].to_numpy(), pairs["community_b"].to_numpy()
    d = pairs["distance_m"].to_numpy(dtype=float)
    other_a = np.array([x in others for x in a], dtype=bool)
    other_b = np.array([x in others for x in b], dtype=bool)
    o = np.r_[a[other_a], b[other_b]]
    m = np.r_[b[other_a], a[other_b]]
    dd = np.r_[d[other_a], d[other_b]]
    k = np.array([group_of.get(x, -1) for x in m], dtype=np.int64)
    t = pd.DataFrame({"other": o, "k": k, "d": dd})
    t = t[t["k"] >= 0].groupby(["other", "k"], sort=True)["d"].agg(["count", "max"])
    size = np.array([len(g) for g in groups])
    t = t[t["count"].to_numpy() == size[t.index.get_level_values("k")]]
    best: dict[str, tuple[float, int]] = {}
    for (c, kk), dmax in zip(t.index, t["max"], strict=True):
        if c not in best or (float(dmax), int(kk)) < best[c]:
            best[c] = (float(dmax), int(kk))
    return best


def find_clusters(
    result_or_parts,
    *,
    max_walk_min: float = 10,
    speed_profile: str | float | None = None,
    max_households: float | None = 3000,
    max_members: int | None = 8,
    min_members: int = 2,
    share_gaps: bool = True,
    method: str = "agglomerative",
    distances: pd.DataFrame | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Group in-scope communities into renovation clusters contiguous on foot.

    Parameters
    ----------
    result_or_parts
        A :class:`livingcircle.Result`, or a dict with ``communities`` (community_id, in_scope,
        households, elderly_share, heritage, geometry), ``gaps`` and ``access``.
    max_walk_min
        Every two members are within this walk (minutes at ``speed_profile``).
    speed_profile
        Speed for the walk; default the result's first speed profile (or the settings' default).
    max_households, max_members
        Size cap; clusters above it are split (None: no cap).
    min_members
        Groups with fewer in-scope members are not clusters (their communities stay alone).
    share_gaps
        Only communities with a missing required category in common may share a cluster.
    method
        Only ``"agglomerative"`` (see the module docstring for why).
    distances
        Precomputed :func:`community_distances` (metres); default: measured here.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        ``clusters``: cluster_id, n_members, n_beneficiaries, member_ids, beneficiary_ids,
        households_members, households_all, max_member_walk_m, max_walk_m, shared_missing
        (categories missing for every member), missing_any, heritage_ids, protection_zh,
        protection_en, geometry (convex hull of all communities, buffered 30 m).
        ``cluster_members``: cluster_id, community_id, role ('member' | 'beneficiary'),
        in_scope, households, elderly_share, heritage, max_walk_to_members_m, geometry.
    """
    if method != "agglomerative":
        msg = f"unknown method {method!r}; valid methods: ['agglomerative']"
        raise InputError(msg)
    parts = _parts(result_or_parts)
    comm = parts["communities"]
    for col in ("community_id", "in_scope"):
        if col not in comm.columns:
            msg = (f"communities: column '{col}' is missing; run renovation_scope first or use "
                   "the communities layer of livingcircle.run")
            raise InputError(msg)
    sp_name = speed_profile or parts.get("speed_profile") or settings.default_speed_profile
    walk_m = float(max_walk_min) * settings.speed_m_per_min(sp_name)
    if distances is None:
        pairs = community_distance_pairs(parts["access"], radius_m=walk_m)
        ids_all = np.sort(parts["access"].communities["community_id"].astype(str).to_numpy(),
                          kind="stable")
    else:
        pairs = _pairs_from_square(distances)
        ids_all = distances.index.astype(str).to_numpy()
    pairs = pairs[pairs["distance_m"] <= walk_m]
    pair_d = dict(zip(zip(pairs["community_a"], pairs["community_b"], strict=True),
                      pairs["distance_m"], strict=True))

    def dist(x: str, y: str) -> float:
        if x == y:
            return 0.0
        return pair_d.get((x, y) if x < y else (y, x), math.inf)

    comm = comm.assign(community_id=comm["community_id"].astype(str))
    scope = comm.set_index("community_id")["in_scope"].astype(str)
    members = sorted(c for c in ids_all if scope.get(c) == "yes")
    hh_all = _households(comm)
    missing = _missing_sets(parts["gaps"])
    groups = _member_groups(members, pairs, missing if share_gaps else None, walk_m,
                            hh_all.reindex(members).to_numpy(dtype=float), max_households,
                            max_members)
    groups = [g for g in groups if len(g) >= min_members]
    groups.sort(key=lambda g: members[g.min()])

    # beneficiaries: out-of-scope communities within the walk of every member of a cluster;
    # one cluster each (the smallest largest walk, then the cluster order)
    best = _beneficiaries(pairs, members, groups, set(ids_all) - set(members))

    geom = comm.set_index("community_id").geometry
    crs = comm.crs
    # outlines are drawn in the network's metric CRS (one UTM zone for the whole area)
    acc_crs = getattr(parts.get("access"), "crs", None)
    geographic = crs is not None and crs.is_geographic
    metric = (acc_crs if acc_crs is not None else comm.estimate_utm_crs()) if geographic else crs
    geom_m = geom.to_crs(metric) if geographic else geom
    prof_geo = comm.set_index("community_id")
    heritage = (prof_geo["heritage"] if "heritage" in prof_geo.columns
                else pd.Series(pd.NA, index=prof_geo.index))
    elderly = (pd.to_numeric(prof_geo["elderly_share"], errors="coerce")
               if "elderly_share" in prof_geo.columns
               else pd.Series(np.nan, index=prof_geo.index))
    crec, mrec = [], []
    for k, g in enumerate(groups):
        cid = f"K{k + 1:02d}"
        mids = [members[i] for i in g]
        bids = sorted(c for c, (_, kk) in best.items() if kk == k)
        sub = [dist(x, y) for x in mids for y in mids]
        miss_sets = [missing.get(m, set()) for m in mids]
        shared = set.intersection(*miss_sets) if miss_sets else set()
        anyc = set.union(*miss_sets) if miss_sets else set()
        her = [m for m in mids + bids if _bool_or_none(heritage.get(m), "heritage", m) is True]
        hull = shapely.convex_hull(shapely.union_all(geom_m.loc[mids + bids].to_numpy())).buffer(30)
        crec.append({
            "cluster_id": cid, "n_members": len(mids), "n_beneficiaries": len(bids),
            "member_ids": ";".join(mids), "beneficiary_ids": ";".join(bids),
            "households_members": float(hh_all.reindex(mids).sum()),
            "households_all": float(hh_all.reindex(mids + bids).sum()),
            "max_member_walk_m": round(float(max(sub)), 1), "max_walk_m": walk_m,
            "shared_missing": ";".join(sorted(shared)), "missing_any": ";".join(sorted(anyc)),
            "heritage_ids": ";".join(her),
            "protection_zh": PROTECTION_ZH.format(ids="、".join(her)) if her else "",
            "protection_en": PROTECTION_EN.format(ids=", ".join(her)) if her else "",
            "geometry": hull,
        })
        for m in mids + bids:
            role = "member" if m in mids else "beneficiary"
            mrec.append({
                "cluster_id": cid, "community_id": m, "role": role, "in_scope": scope.get(m),
                "households": hh_all.get(m, np.nan),
                "elderly_share": elderly.get(m, np.nan),
                "heritage": heritage.get(m, pd.NA),
                "max_walk_to_members_m": round(max(dist(m, x) for x in mids), 1),
                "geometry": geom.loc[m],
            })
    ccols = ["cluster_id", "n_members", "n_beneficiaries", "member_ids", "beneficiary_ids",
             "households_members", "households_all", "max_member_walk_m", "max_walk_m",
             "shared_missing", "missing_any", "heritage_ids", "protection_zh", "protection_en",
             "geometry"]
    mcols = ["cluster_id", "community_id", "role", "in_scope", "households", "elderly_share",
             "heritage", "max_walk_to_members_m", "geometry"]
    clusters = gpd.GeoDataFrame(pd.DataFrame(crec, columns=ccols), geometry="geometry",
                                crs=metric)
    if geographic:  # the outlines were drawn in metres: back to the communities' CRS at once
        clusters = clusters.to_crs(crs)
    mem = gpd.GeoDataFrame(pd.DataFrame(mrec, columns=mcols), geometry="geometry", crs=crs)
    logger.info("clusters: %d clusters of %d in-scope communities (walk %.0f m), "
                "%d beneficiaries", len(clusters), len(members), walk_m, len(best))
    return clusters, mem


# --- siting --------------------------------------------------------------------------------------

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


def _node_sites(net, clusters: gpd.GeoDataFrame, *, max_per_cluster: int = 40) -> gpd.GeoDataFrame:
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
        ``cluster_members`` of :func:`find_clusters` (cluster_id, community_id, role,
        households).
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
    met_mask = g["met"].astype(bool).to_numpy()
    met = set(zip(g["community_id"].to_numpy()[met_mask], g["category"].to_numpy()[met_mask],
                  strict=True))
    sites = sites.assign(site_id=sites["site_id"].astype(str)).sort_values("site_id")
    site_ids = sites["site_id"].to_numpy()
    sidx = {s: j for j, s in enumerate(site_ids)}
    area = pd.to_numeric(sites["floor_area_m2"], errors="coerce").to_numpy(dtype=float) \
        if "floor_area_m2" in sites.columns else np.full(len(sites), np.nan)
    stype = sites["site_type"].astype(str).to_numpy() if "site_type" in sites.columns else \
        np.full(len(sites), "unknown", dtype=object)
    sname = sites["name"].to_numpy() if "name" in sites.columns else site_ids
    sd = site_dist.assign(community_id=site_dist["community_id"].astype(str),
                          site_id=site_dist["site_id"].astype(str))
    sd = sd[sd["site_id"].isin(sidx)]
    # each community's reachable sites (site index, metres), as slices of sorted arrays
    sd = sd.sort_values("community_id", kind="stable")
    sd_comm = sd["community_id"].to_numpy()
    sd_site = sd["site_id"].map(sidx).to_numpy(dtype=np.int64)
    sd_dist = sd["distance_m"].to_numpy(dtype=float)
    starts = np.flatnonzero(np.r_[True, sd_comm[1:] != sd_comm[:-1]]) if len(sd) else []
    ends = np.r_[starts[1:], len(sd)] if len(sd) else []
    rows_of = {sd_comm[s0]: (s0, s1) for s0, s1 in zip(starts, ends, strict=True)}
    unmet = g.loc[~g["met"].astype(bool), ["community_id", "category"]]
    unmet_of = {c: list(x) for c, x in unmet.groupby("community_id", sort=False)["category"]}
    used = np.zeros(len(sites), dtype=bool)
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
    n_problems = sum(len(p[3]) for p in problems)
    ties = "solver" if n_problems <= settings.siting_solver_max_problems else "first"
    if ties == "first":
        logger.info("siting: %d problems (more than settings.siting_solver_max_problems = %d): "
                    "of equally good single sites the first is taken, without CBC", n_problems,
                    settings.siting_solver_max_problems)
    out = []
    for cl_id, cids, hh, cand in problems:
        if not cand:
            continue
        # distance matrix community × the sites any of them reaches (ascending site order)
        spans = [rows_of.get(x, (0, 0)) for x in cids]
        cols = np.unique(np.concatenate([sd_site[s0:s1] for s0, s1 in spans])) \
            if spans else np.zeros(0, dtype=np.int64)
        Dm = np.full((len(cids), len(cols)), np.inf)
        for i, (s0, s1) in enumerate(spans):
            Dm[i, np.searchsorted(cols, sd_site[s0:s1])] = sd_dist[s0:s1]
        for _req, _neg, c, unserved in cand:
            cat = profile.category(c)
            ok_site = ~used & ~(area < _min_area(min_floor_area_m2, c))  # NaN area: allowed
            if site_types and c in site_types:
                ok_site &= np.isin(stype, list(site_types[c]))
            if ties == "solver":  # today's problem: every site a column (CBC's ties as before)
                full = np.full((len(cids), len(sites)), np.inf)
                full[:, cols] = Dm
                cover = (full <= cat.max_walk_m) & unserved[:, None] & ok_site[None, :]
                col_site = np.arange(len(sites))
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
                used[j] = True
                out.append({
                    "cluster_id": cl_id, "category": c, "name_zh": cat.name_zh,
                    "required": cat.required, "site_id": site_ids[j], "site_name": sname[j],
                    "site_type": stype[j], "floor_area_m2": area[j],
                    "floor_area_known": bool(np.isfinite(area[j])),
                    "households_newly_served": float(hh[new].sum()),
                    "communities_newly_served": ";".join(np.asarray(cids)[new]),
                    "threshold_m": cat.max_walk_m,
                    "cost_proxy": float(area[j] * unit.get(stype[j], math.nan)),
                    "geometry": sites.geometry.iloc[j],
                })
    cols = ["cluster_id", "category", "name_zh", "required", "site_id", "site_name", "site_type",
            "floor_area_m2", "floor_area_known", "households_newly_served",
            "communities_newly_served", "threshold_m", "cost_proxy", "geometry"]
    res = gpd.GeoDataFrame(pd.DataFrame(out, columns=cols), geometry="geometry", crs=sites.crs)
    logger.info("siting: %d new facilities proposed", len(res))
    return res


# --- before / after ------------------------------------------------------------------------------

SCENARIO_ACTIONS = ("add", "remove", "convert")


def apply_scenario(facilities: gpd.GeoDataFrame, scenario: pd.DataFrame,
                   sites: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Facilities after a scenario (a new frame; the inputs are untouched).

    ``scenario`` rows: ``action`` 'add' | 'remove' | 'convert'; ``category`` (add, convert);
    ``facility_id`` (remove; convert an existing facility to ``category``); ``site_id`` (add or
    convert at a candidate site, e.g. a former boiler room turned into an elderly day-care
    centre: the site's point is used); ``geometry`` (add at a point). Proposed sites of
    :func:`site_facilities` (no ``action`` column) are all 'add'.
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
                .to_crs(fac.crs).geometry if sites is not None else None)
    sc_geo = None
    if isinstance(scenario, gpd.GeoDataFrame) and scenario.crs is not None:
        sc_geo = scenario.to_crs(fac.crs).geometry.to_numpy()
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


def before_after(result_or_parts, proposed_or_scenario: pd.DataFrame, *,
                 cluster_members: pd.DataFrame | None = None) -> pd.DataFrame:
    """Access, gaps and completeness before and after adding proposed facilities or a scenario.

    Parameters
    ----------
    result_or_parts
        A :class:`livingcircle.Result` (or the dict of :func:`find_clusters`, with ``network``,
        ``facilities``, ``sites``, ``gates``, ``profile``, ``gaps``, ``speed_profile`` too).
    proposed_or_scenario
        :func:`site_facilities` output (all 'add'), or a scenario (see :func:`apply_scenario`).
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
    from .accessibility import measure_access
    from .gaps import completeness, find_gaps

    parts = _parts(result_or_parts)
    prof = parts["profile"]
    acc = parts["access"]
    comm = acc.communities
    sp_name = parts.get("speed_profile") or settings.default_speed_profile
    fac_after = apply_scenario(parts["facilities"], proposed_or_scenario, parts.get("sites"))
    acc_after = measure_access(parts["network"], comm, fac_after, gates=parts.get("gates"),
                               profile=prof, speed_profiles=[sp_name], cutoff_m=acc.cutoff_m)
    gaps_b = parts["gaps"]
    gaps_a = find_gaps(acc_after.table, prof, speed_profile=sp_name,
                       criterion=str(gaps_b["criterion"].iloc[0]) if len(gaps_b) else "distance")
    comp_b = completeness(gaps_b, prof)
    comp_a = completeness(gaps_a, prof)
    hh = _households(parts["communities"])
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
    cm = cluster_members.copy()
    cm["_hh"] = pd.to_numeric(cm["households"], errors="coerce")
    cm["_el"] = pd.to_numeric(cm["elderly_share"], errors="coerce")
    ready = {}
    if plan is not None and "readiness" in plan.columns:
        ready = dict(zip(plan["community_id"].astype(str), plan["readiness"], strict=True))
    cm["_ready"] = cm["community_id"].astype(str).map(ready)
    stats = {}
    for cl, x in cm.groupby("cluster_id"):
        m = x[x["role"] == "member"]
        k = m[m["_el"].notna() & m["_hh"].notna()]
        el = float((k["_el"] * k["_hh"]).sum() / k["_hh"].sum()) if k["_hh"].sum() > 0 \
            else math.nan
        stats[cl] = {"share_in_scope": len(m) / len(x), "elderly_share": el,
                     "share_ready": float((m["_ready"] == "ready").mean()) if len(m) else 0.0}
    for col in ("share_in_scope", "elderly_share", "share_ready"):
        out[col] = out["cluster_id"].map({k: v[col] for k, v in stats.items()})
    out = out.sort_values(
        ["households_per_facility", "share_in_scope", "elderly_share", "share_ready",
         "cluster_id"], ascending=[False, False, False, False, True], na_position="last",
        kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    zh, en = [], []
    for r in out.itertuples():
        el_zh = f"{r.elderly_share:.0%}" if pd.notna(r.elderly_share) else "未知"
        el_en = f"{r.elderly_share:.0%}" if pd.notna(r.elderly_share) else "unknown"
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

    For each category (default: required categories with a gap), the demand is every
    community that does not meet it (households as weights); the candidates are all sites;
    each method picks ``p`` sites. The random draws of category number k use ``seed + k``.

    Returns
    -------
    pandas.DataFrame
        category, method, n_sites, households_served, sites; plus rows category 'total'
        summed over categories.
    """
    parts = _parts(result_or_parts)
    prof = parts["profile"]
    sites = parts["sites"].assign(site_id=parts["sites"]["site_id"].astype(str)) \
        .sort_values("site_id")
    if site_dist is None:
        site_dist = site_distances(parts["network"], parts["access"].communities, sites,
                                   gates=parts.get("gates"), profile=prof)
    gaps = parts["gaps"].assign(community_id=parts["gaps"]["community_id"].astype(str))
    hh = _households(parts["communities"])
    if categories is None:
        g = gaps[gaps["required"].astype(bool) & ~gaps["met"].astype(bool)]
        categories = list(dict.fromkeys(g["category"]))
    piv = site_dist.assign(community_id=site_dist["community_id"].astype(str),
                           site_id=site_dist["site_id"].astype(str)).pivot_table(
        index="community_id", columns="site_id", values="distance_m", aggfunc="min")
    piv = piv.reindex(columns=sites["site_id"].to_numpy())
    frames = []
    for k, c in enumerate(categories):
        th = prof.category(c).max_walk_m
        x = gaps[(gaps["category"] == c) & ~gaps["met"].astype(bool)]
        ids = sorted(x["community_id"])
        D = piv.reindex(ids).to_numpy(dtype=float)
        cover = np.nan_to_num(D, nan=np.inf) <= th
        t = compare_methods(cover, hh.reindex(ids).fillna(0).to_numpy(), p, seed=seed + k,
                            n_random=n_random)
        t["sites"] = [";".join(sites["site_id"].to_numpy()[list(map(int, s.split(";")))])
                      if s else "" for s in t["sites"]]
        t.insert(0, "category", c)
        frames.append(t)
    res = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["category", "method", "n_sites", "households_served", "sites"])
    tot = res.groupby("method", sort=False, as_index=False)[["n_sites", "households_served"]] \
        .sum().assign(category="total", sites="")
    return pd.concat([res, tot[res.columns]], ignore_index=True)


# --- everything at once --------------------------------------------------------------------------

def recommend(result, *, max_walk_min: float = 10, speed_profile=None,
              max_households: float | None = 3000, max_members: int | None = 8,
              new_per_category: int = 1, required_only: bool = True,
              min_floor_area_m2: float | Mapping[str, float] | None = "settings",
              site_types: Mapping[str, list[str]] | None = "settings",
              ) -> dict[str, gpd.GeoDataFrame]:
    """Clusters, members, proposed sites and the before/after table for one run.

    ``min_floor_area_m2`` and ``site_types`` default to :data:`settings.site_min_floor_area_m2`
    and :data:`settings.site_types_by_category` (pass None to switch a rule off).

    Returns
    -------
    dict
        ``clusters`` (ranked, outline polygons), ``cluster_members``, ``proposed_sites``,
        ``before_after``; all in EPSG:4326 (before_after is a table).
    """
    if isinstance(min_floor_area_m2, str):
        min_floor_area_m2 = {k: v["m2"] for k, v in settings.site_min_floor_area_m2.items()}
    if isinstance(site_types, str):
        site_types = settings.site_types_by_category
    parts = _parts(result)
    if parts.get("access") is None or parts.get("network") is None:
        # a result read back from its file (load_result) keeps neither
        msg = ("recommend needs the walking network and the access of a run, which a result "
               "read back from its file does not keep; call it on the Result that "
               "livingcircle.run() returns, or run `livingcircle recommend` with the inputs")
        raise InputError(msg)
    clusters, members = find_clusters(parts, max_walk_min=max_walk_min,
                                      speed_profile=speed_profile,
                                      max_households=max_households, max_members=max_members)
    sites = parts.get("sites")
    if sites is None or len(sites) == 0:
        sites = _node_sites(parts["network"], clusters)
    sd = site_distances(parts["network"], parts["access"].communities, sites,
                        gates=parts.get("gates"), profile=parts["profile"])
    proposed = site_facilities(members, parts["gaps"], sd, sites, parts["profile"],
                               new_per_category=new_per_category, required_only=required_only,
                               min_floor_area_m2=min_floor_area_m2, site_types=site_types)
    ba = before_after(parts, proposed, cluster_members=members)
    ranked = rank_clusters(clusters, members, proposed, plan=parts.get("plan"))
    return {"clusters": ranked.to_crs(4326), "cluster_members": members.to_crs(4326),
            "proposed_sites": proposed.to_crs(4326), "before_after": ba}
