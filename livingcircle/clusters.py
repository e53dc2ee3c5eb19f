"""Area-linked renovation clusters (片区联动改造): grouping communities, and the whole chain.

黑政办规〔2021〕15号 四(三)2 asks cities to renovate neighbouring communities together and to build
shared facilities that complete their 5-, 10- and 15-minute living circles. This module

1. measures network distances community ↔ community (:func:`community_distances`, one bounded
   search from each community's access points on the split graph of
   :func:`livingcircle.measure_access`);
2. groups in-scope communities into clusters (:func:`find_clusters`);
3. runs the whole chain in one call (:func:`recommend`): grouping here, siting new shared
   facilities in :mod:`livingcircle.siting` (MCLP and the solver), before/after and ranking in
   :mod:`livingcircle.scenarios`.

A new grouping rule goes here; a new siting model in :mod:`livingcircle.siting`; a new way to
judge or compare plans in :mod:`livingcircle.scenarios`.

Why complete-linkage agglomerative clustering
---------------------------------------------
The policy's test of a cluster is that its members are *within walking distance of each other*.
Complete linkage merges two groups at the largest distance between their members, so cutting the
tree at ``distance_threshold = max walk`` guarantees that **every pair** of members is within the
walk (scipy's ``linkage(method="complete")`` on the whole matrix, cut there).
A city has too many communities for that n × n matrix (10,000² floats and the linkage's copies
are gigabytes), so the same complete linkage runs on the sparse graph of the pairs within the walk
(:func:`_complete_link_sparse`, tested against scipy on the whole matrix); scipy's linkage
splits a group over the size cap on the group's own small matrix (:func:`_halves`).
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
"""

from __future__ import annotations

import logging
import math
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from . import settings
from ._errors import InputError
from .crs import utm_crs
from .routing import map_bounded
from .scenarios import before_after, community_households, rank_clusters, result_parts
from .schema import parse_yes_no
from .siting import NOT_SITED_REASONS, node_sites, site_distances, site_facilities

logger = logging.getLogger(__name__)

#: Distance given to pairs that may not share a cluster (unreachable or no common gap).
FAR = 1e9

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
    # pandas-stubs: get_indexer takes only an Index; pandas takes any array-like (a Series)
    i = pos.get_indexer(pairs["community_a"])  # pyright: ignore[reportArgumentType]
    j = pos.get_indexer(pairs["community_b"])  # pyright: ignore[reportArgumentType]
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

# --- clusters ------------------------------------------------------------------------------------

def _missing_sets(gaps: pd.DataFrame, *, required_only: bool = True) -> dict[str, set]:
    """Return each community's missing (required) categories, for communities missing any.

    One loop over the gap rows' plain strings: a pandas group per community took 2.3 s for the
    1M city's 10,000.
    """
    g = gaps[~gaps["met"].astype(bool)]
    if required_only:
        g = g[g["required"].astype(bool)]
    out: dict[str, set] = {}
    for c, cat in zip(g["community_id"].astype(str).tolist(), g["category"].astype(str).tolist(),
                      strict=True):
        out.setdefault(c, set()).add(cat)
    return out

def _halves(D: np.ndarray) -> np.ndarray:
    """Split items in two by complete linkage on their distance matrix ``D``: 0/1 labels.

    The two groups are those the last merge of the complete-linkage tree joins (scipy's
    ``linkage`` cut by ``cut_tree``), as scikit-learn's ``AgglomerativeClustering(
    metric="precomputed", linkage="complete", n_clusters=2)`` builds and cuts the same tree. So
    the run does not import scikit-learn (0.69-0.72 s and about 50 MB at the city centre;
    ``benchmarks/CITY_SCALE.md``). One item: label 0.
    """
    from scipy.cluster.hierarchy import cut_tree, linkage
    from scipy.spatial.distance import squareform

    if len(D) == 1:
        return np.zeros(1, dtype=int)
    tree = linkage(squareform(np.minimum(D, FAR), checks=False), method="complete")
    return cut_tree(tree, n_clusters=2).ravel()


def _split_to_cap(idx: np.ndarray, D: np.ndarray, hh: np.ndarray, max_households, max_members):
    too_big = ((max_members is not None and len(idx) > max_members)
               or (max_households is not None and np.nansum(hh[idx]) > max_households))
    if not too_big or len(idx) == 1:
        return [idx]
    lab = _halves(D[np.ix_(idx, idx)])
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
    sparse graph of the pairs: the clusters that complete linkage on the whole n × n matrix,
    cut at the threshold, gives, in memory that grows with the pairs.

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
    # pandas-stubs: get_indexer takes only an Index; pandas takes any array-like (a Series)
    i = pos.get_indexer(pairs["community_a"])  # pyright: ignore[reportArgumentType]
    j = pos.get_indexer(pairs["community_b"])  # pyright: ignore[reportArgumentType]
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
    parts = result_parts(result_or_parts)
    comm = _communities_with_scope(parts["communities"])
    sp_name = speed_profile or parts.get("speed_profile") or settings.default_speed_profile
    walk_m = float(max_walk_min) * settings.speed_m_per_min(sp_name)
    pairs, ids_all = _pairs_within_walk(parts, distances, walk_m)
    pair_d = dict(zip(zip(pairs["community_a"], pairs["community_b"], strict=True),
                      pairs["distance_m"], strict=True))

    def dist(x: str, y: str) -> float:
        if x == y:
            return 0.0
        return pair_d.get((x, y) if x < y else (y, x), math.inf)

    scope = comm.set_index("community_id")["in_scope"].astype(str)
    members = sorted(c for c in ids_all if scope.get(c) == "yes")
    hh_all = community_households(comm)
    missing = _missing_sets(parts["gaps"])
    groups = _member_groups(members, pairs, missing if share_gaps else None, walk_m,
                            hh_all.reindex(members).to_numpy(dtype=float), max_households,
                            max_members)
    groups = [g for g in groups if len(g) >= min_members]
    groups.sort(key=lambda g: members[g.min()])

    # beneficiaries: out-of-scope communities within the walk of every member of a cluster;
    # one cluster each (the smallest largest walk, then the cluster order)
    best = _beneficiaries(pairs, members, groups, set(ids_all) - set(members))

    clusters, mem = _cluster_layers(groups, members, best, missing, dist, comm, hh_all,
                                    walk_m, getattr(parts.get("access"), "crs", None))
    logger.info("clusters: %d clusters of %d in-scope communities (walk %.0f m), "
                "%d beneficiaries", len(clusters), len(members), walk_m, len(best))
    return clusters, mem


def _communities_with_scope(comm: pd.DataFrame) -> pd.DataFrame:
    """Return the communities with text ids, after checking for ``community_id``, ``in_scope``."""
    for col in ("community_id", "in_scope"):
        if col not in comm.columns:
            msg = (f"communities: column '{col}' is missing; run renovation_scope first or use "
                   "the communities layer of livingcircle.run")
            raise InputError(msg)
    return comm.assign(community_id=comm["community_id"].astype(str))


def _pairs_within_walk(parts: dict, distances: pd.DataFrame | None,
                       walk_m: float) -> tuple[pd.DataFrame, np.ndarray]:
    """Return the community pairs within ``walk_m`` and every community id they may name.

    From the precomputed square ``distances`` when given, else measured on the walking network
    from the result's access (:func:`community_distance_pairs`).
    """
    if distances is None:
        pairs = community_distance_pairs(parts["access"], radius_m=walk_m)
        ids_all = np.sort(parts["access"].communities["community_id"].astype(str).to_numpy(),
                          kind="stable")
    else:
        pairs = _pairs_from_square(distances)
        ids_all = distances.index.astype(str).to_numpy()
    return pairs[pairs["distance_m"] <= walk_m], ids_all


def _by_community(prof_geo: pd.DataFrame) -> tuple[dict, dict, dict]:
    """Return the in_scope text, heritage and elderly share of each community id as dicts.

    For :func:`_cluster_layers`' loop: a pandas lookup per member took seconds for the 1M
    city's 2,859 clusters.
    """
    ids = list(prof_geo.index)
    heritage = (prof_geo["heritage"] if "heritage" in prof_geo.columns
                else pd.Series(pd.NA, index=prof_geo.index))
    # float with NaN, not Float64: a missing share (pd.NA) mixed with floats made the column
    # text in the GeoPackage (layer contract, issue 15)
    elderly = (pd.to_numeric(prof_geo["elderly_share"], errors="coerce").astype(float)
               if "elderly_share" in prof_geo.columns
               else pd.Series(np.nan, index=prof_geo.index))
    return (dict(zip(ids, prof_geo["in_scope"].astype(str), strict=True)),
            dict(zip(ids, heritage, strict=True)), dict(zip(ids, elderly, strict=True)))


def _cluster_layers(groups, members: list[str], best: dict, missing: dict, dist, comm,
                    hh_all: pd.Series, walk_m: float, acc_crs):
    """Return the clusters (outlines and figures) and their members' rows.

    Outlines are the convex hull of all a cluster's communities buffered 30 m, drawn in the
    network's metric CRS (``acc_crs``; one UTM zone for the whole area) and returned in the
    communities' CRS.
    """
    prof_geo = comm.set_index("community_id")
    geom = prof_geo.geometry
    crs = comm.crs
    # outlines are drawn in the network's metric CRS (one UTM zone for the whole area)
    geographic = crs is not None and crs.is_geographic
    metric = (acc_crs if acc_crs is not None else utm_crs(comm)) if geographic else crs
    geom_m = geom.to_crs(metric) if geographic else geom
    scope_of, heritage_of, elderly_of = _by_community(prof_geo)
    pos = {c: i for i, c in enumerate(prof_geo.index)}
    outline_geoms, member_geoms = geom_m.to_numpy(), geom.to_numpy()
    hh_of = dict(zip(hh_all.index, hh_all.to_numpy(), strict=True))

    def households(cids: list[str]) -> float:
        # as hh_all.reindex(cids).sum(): missing and NaN count 0, numpy's sum of the array
        return float(np.nansum(np.array([hh_of.get(c, np.nan) for c in cids], dtype=float)))

    beneficiaries: dict[int, list[str]] = {}
    for c, (_, kk) in best.items():
        beneficiaries.setdefault(kk, []).append(c)
    crec, mrec = [], []
    for k, g in enumerate(groups):
        cid = f"K{k + 1:02d}"
        mids = [members[i] for i in g]
        bids = sorted(beneficiaries.get(k, []))
        sub = [dist(x, y) for x in mids for y in mids]
        miss_sets = [missing.get(m, set()) for m in mids]
        shared = set.intersection(*miss_sets) if miss_sets else set()
        anyc = set.union(*miss_sets) if miss_sets else set()
        her = [m for m in mids + bids if parse_yes_no(
            heritage_of.get(m), where=f"communities column 'heritage', community {m!r}") is True]
        hull = shapely.convex_hull(shapely.union_all(
            outline_geoms[[pos[m] for m in mids + bids]])).buffer(30)
        crec.append({
            "cluster_id": cid, "n_members": len(mids), "n_beneficiaries": len(bids),
            "member_ids": ";".join(mids), "beneficiary_ids": ";".join(bids),
            "households_members": households(mids),
            "households_all": households(mids + bids),
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
                "cluster_id": cid, "community_id": m, "role": role, "in_scope": scope_of.get(m),
                "households": hh_of.get(m, np.nan),
                "elderly_share": elderly_of.get(m, np.nan),
                "heritage": heritage_of.get(m, pd.NA),
                "max_walk_to_members_m": round(max(dist(m, x) for x in mids), 1),
                "geometry": member_geoms[pos[m]],
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
        clusters = clusters.to_crs(cast(CRS, crs))
    mem = gpd.GeoDataFrame(pd.DataFrame(mrec, columns=mcols), geometry="geometry", crs=crs)
    return clusters, mem


# --- everything at once --------------------------------------------------------------------------

def recommend(result, *, max_walk_min: float = 10, speed_profile=None,
              max_households: float | None = 3000, max_members: int | None = 8,
              new_per_category: int = 1, required_only: bool = True, siting: str = "mclp",
              ) -> dict[str, pd.DataFrame]:
    """Clusters, members, proposed sites and the before/after table for one run.

    Which site may hold which category is the profile's ``siting`` section
    (:func:`livingcircle.standards.site_fit`); ``siting`` is the model, ``"mclp"`` or ``"lscp"``
    (:func:`livingcircle.siting.site_facilities`). A cluster without a proposal says why in
    ``siting_note_zh`` / ``siting_note_en``.

    Returns
    -------
    dict
        ``clusters`` (ranked, outline polygons), ``cluster_members``, ``proposed_sites``,
        ``before_after``; all in EPSG:4326 (before_after is a table).
    """
    parts = result_parts(result)
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
        sites = node_sites(parts["network"], clusters)
    sd = site_distances(parts["network"], parts["access"].communities, sites,
                        gates=parts.get("gates"), profile=parts["profile"],
                        access=parts["access"])
    not_sited: list = []
    proposed = site_facilities(members, parts["gaps"], sd, sites, parts["profile"],
                               new_per_category=new_per_category, required_only=required_only,
                               model=siting, not_sited=not_sited)
    ba = before_after(parts, proposed, cluster_members=members)
    ranked = cast(gpd.GeoDataFrame,
                  rank_clusters(clusters, members, proposed, plan=parts.get("plan")))
    ranked = _siting_notes(ranked, not_sited, parts["profile"])
    return {"clusters": ranked.to_crs(4326), "cluster_members": members.to_crs(4326),
            "proposed_sites": proposed.to_crs(4326), "before_after": ba}


def _siting_notes(ranked: gpd.GeoDataFrame, not_sited: list, profile) -> gpd.GeoDataFrame:
    """Add why a cluster without a new facility got none (issue 16 §4), in Chinese and English.

    One clause per reason (:data:`livingcircle.siting.NOT_SITED_REASONS`, in their order) with
    the categories it holds for, from the records of
    :func:`livingcircle.siting.site_facilities`; empty for a cluster with a proposal.
    """
    by: dict[str, dict[str, list[str]]] = {}
    for r in not_sited:
        by.setdefault(str(r["cluster_id"]), {}).setdefault(r["reason"], []).append(r["category"])

    def note(cid: str, lang: int) -> str:
        parts = []
        for reason, (zh, en) in NOT_SITED_REASONS.items():
            cats = [c for c in by.get(cid, {}).get(reason, []) if c]
            if reason not in by.get(cid, {}):
                continue
            names = "、".join(profile.category(c).name_zh for c in cats) if lang == 0 \
                else ", ".join(cats)
            text = zh if lang == 0 else en
            parts.append(f"{text}：{names}" if lang == 0 and names else
                         f"{text}: {names}" if names else text)
        return ("；" if lang == 0 else "; ").join(parts)

    none = ranked["n_new_facilities"] == 0
    ids = ranked["cluster_id"].astype(str)
    return ranked.assign(
        siting_note_zh=np.where(none, ids.map(lambda k: note(cast(str, k), 0)), ""),
        siting_note_en=np.where(none, ids.map(lambda k: note(cast(str, k), 1)), ""))
