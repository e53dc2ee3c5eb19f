"""5-, 10- and 15-minute isochrones along the walking network, and the pedestrian-shed ratio.

For each origin (a community, through its gates or boundary access points) one radius-limited
search gives the walking distance to every node within the largest threshold; every threshold and
speed profile is then cut from that one search:

* a street segment whose both ends are reached and whose farthest point is within the threshold is
  kept whole; otherwise the part reachable from each end is cut exactly at the threshold
  (``shapely.ops.substring`` on the segment's geometry);
* the kept lines are buffered by :data:`livingcircle.settings.isochrone_buffer_m`, which keeps holes
  where the network does not reach (large blocks, a river);
* 5 ⊆ 10 ⊆ 15 holds by construction (each polygon is also united with the smaller ones).

Beside each polygon: the straight-line circle of the same walking distance around the community's
centroid, and the ratio of the two areas (pedestrian-shed ratio; 1 would be a perfect grid with no
detours, old gated districts are often below 0.3).
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from pyproj import Transformer
from shapely.ops import substring

from . import settings
from .accessibility import Access, _speed_table, measure_access
from .network import WalkNetwork
from .routing import BoundedSearch

logger = logging.getLogger(__name__)


def _incidence(g) -> sp.csr_array:
    n_seg = len(g.seg_a)
    rows = np.r_[g.seg_a, g.seg_b]
    cols = np.r_[np.arange(n_seg), np.arange(n_seg)]
    return sp.csr_array((np.ones(len(rows), dtype=np.int8), (rows, cols)),
                        shape=(g.n_nodes, n_seg))


def _reachable_lines(g, edges_geom, edge_len, inc, nodes, dist, T):
    """Line pieces of the network within ``T`` metres, given node distances of one search.

    Each split segment contributes the interval of its source edge that is within reach; the
    intervals of one edge are merged, so a street reached end to end is one piece (its own
    geometry) and only the frontier needs cutting.
    """
    d = np.full(g.n_nodes, np.inf)
    d[nodes] = dist
    segs = np.unique(inc[nodes].indices) if len(nodes) else np.zeros(0, dtype=np.int64)
    segs = segs[g.seg_edge[segs] >= 0]  # offset legs of points are not streets
    da, db, L = d[g.seg_a[segs]], d[g.seg_b[segs]], g.seg_len[segs]
    e, t0, t1 = g.seg_edge[segs], g.seg_t0[segs], g.seg_t1[segs]
    whole = (da <= T) & (db <= T) & ((da + db + L) / 2 <= T)
    from_a = ~whole & (da < T)
    from_b = ~whole & (db < T)
    iv_e = np.r_[e[whole], e[from_a], e[from_b]]
    iv_s = np.r_[t0[whole], t0[from_a], t1[from_b] - np.minimum(L[from_b], T - db[from_b])]
    iv_f = np.r_[t1[whole], t0[from_a] + np.minimum(L[from_a], T - da[from_a]), t1[from_b]]
    if len(iv_e) == 0:
        return []
    order = np.lexsort((iv_s, iv_e))
    iv_e, iv_s, iv_f = iv_e[order], iv_s[order], iv_f[order]
    pieces = []
    cur_e, cur_s, cur_f = iv_e[0], iv_s[0], iv_f[0]

    def flush(edge, s0, f0):
        if f0 - s0 <= 1e-9:
            return
        if s0 <= 1e-6 and f0 >= edge_len[edge] - 1e-6:
            pieces.append(edges_geom[edge])
        else:
            pieces.append(substring(edges_geom[edge], s0, f0))

    for k in range(1, len(iv_e)):
        if iv_e[k] == cur_e and iv_s[k] <= cur_f + 1e-6:
            cur_f = max(cur_f, iv_f[k])
            continue
        flush(cur_e, cur_s, cur_f)
        cur_e, cur_s, cur_f = iv_e[k], iv_s[k], iv_f[k]
    flush(cur_e, cur_s, cur_f)
    return pieces


def isochrones(
    source: Access | WalkNetwork,
    communities: gpd.GeoDataFrame | None = None,
    *,
    gates: gpd.GeoDataFrame | None = None,
    minutes=(5, 10, 15),
    speed_profiles=None,
    buffer_m: float | None = None,
    community_ids=None,
) -> gpd.GeoDataFrame:
    """Isochrone polygons of communities at several minutes and speed profiles.

    Parameters
    ----------
    source
        An :class:`~livingcircle.accessibility.Access` (reuses its graph and access points) or a
        :class:`~livingcircle.network.WalkNetwork` together with ``communities`` (and ``gates``).
    communities, gates
        With a network as ``source``: the origins and their optional gates.
    minutes
        Walking minutes, plain numbers (5, 10, 15).
    speed_profiles
        Speed profile names or m/min; default: those of ``source`` or the default profile.
    buffer_m
        Half-width of the buffer around reachable streets; default
        :data:`settings.isochrone_buffer_m`.
    community_ids
        Only these origins (default: all communities).

    Returns
    -------
    GeoDataFrame
        community_id, speed_profile, minutes, walk_m, area_m2, circle_area_m2, ped_shed_ratio and
        the polygon, in EPSG:4326.
    """
    if isinstance(source, WalkNetwork):
        if communities is None:
            msg = "give the communities whose isochrones to draw"
            raise ValueError(msg)
        empty = gpd.GeoDataFrame({"facility_id": [], "categories": []},
                                 geometry=gpd.GeoSeries([], crs=4326), crs=4326)
        source = measure_access(source, communities, empty, gates=gates,
                                speed_profiles=speed_profiles)
    acc = source
    speeds = _speed_table(speed_profiles) if speed_profiles is not None else acc.speeds
    buffer_m = float(buffer_m if buffer_m is not None else settings.isochrone_buffer_m)
    minutes = sorted(float(m) for m in minutes)
    g = acc.graph
    net_edges_geom, edge_len = _edge_arrays(acc)
    inc = _incidence(g)
    search = BoundedSearch(g)
    comm = acc.communities.to_crs(acc.crs)
    ids = comm["community_id"].astype(str).to_numpy()
    centroids = comm.geometry.centroid.to_numpy()
    wanted = set(map(str, community_ids)) if community_ids is not None else None
    radius = max(minutes) * max(speeds.values())
    # each polygon goes to EPSG:4326 as soon as it is made (areas are measured before), so a
    # city's isochrones are not held twice, projected and geographic
    to_wgs84 = Transformer.from_crs(acc.crs, 4326, always_xy=True)

    def geographic(row):
        row["geometry"] = shapely.transform(
            row["geometry"], lambda c: np.column_stack(to_wgs84.transform(c[:, 0], c[:, 1])))
        return row

    rows = []
    for i, cid in enumerate(ids):
        if wanted is not None and cid not in wanted:
            continue
        starts = acc.community_nodes[i]
        if len(starts) == 0:
            for sp_name, speed in speeds.items():
                for m in minutes:
                    rows.append(_row(cid, sp_name, m, m * speed, None, centroids[i]))
            continue
        nodes, dist = search(starts, np.zeros(len(starts)), radius)
        for sp_name, speed in speeds.items():
            prev = None
            for m in minutes:
                T = m * speed
                lines = _reachable_lines(g, net_edges_geom, edge_len, inc, nodes, dist, T)
                # buffering each piece and uniting them is ~3x faster than buffering one
                # MultiLineString, with the same polygon
                poly = shapely.union_all(shapely.buffer(np.asarray(lines, dtype=object),
                                                        buffer_m, quad_segs=4)) \
                    if lines else shapely.Polygon()
                if prev is not None and not prev.is_empty:
                    poly = shapely.union(poly, prev)
                prev = poly
                rows.append(geographic(_row(cid, sp_name, m, T, poly, centroids[i])))
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=4326)


def _row(cid, sp_name, m, T, poly, centroid):
    area = 0.0 if poly is None else float(poly.area)
    circle = float(np.pi * T * T)
    return {
        "community_id": cid,
        "speed_profile": sp_name,
        "minutes": int(m) if float(m).is_integer() else m,
        "walk_m": float(T),
        "area_m2": round(area, 1),
        "circle_area_m2": round(circle, 1),
        "ped_shed_ratio": round(area / circle, 4) if circle else np.nan,
        "geometry": poly if poly is not None else shapely.Polygon(),
        "reached": poly is not None,
    }


def _edge_arrays(acc: Access):
    # the edge table of the network the split graph was built from
    edges = acc.edge_table
    return edges.geometry, edges.length


def straight_line_circles(isochrone_layer: gpd.GeoDataFrame,
                          communities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Return the straight-line circle of each isochrone's walking distance around the centroid."""
    crs = communities.estimate_utm_crs()
    cent = communities.to_crs(crs).set_index("community_id").geometry.centroid
    iso = isochrone_layer.drop(columns="geometry")
    geoms = [cent.loc[c].buffer(w) for c, w in zip(iso["community_id"], iso["walk_m"], strict=True)]
    return gpd.GeoDataFrame(iso, geometry=geoms, crs=crs).to_crs(4326)


def coverage_areas(acc: Access, facilities: gpd.GeoDataFrame, *, buffer_m: float | None = None,
                   categories=None) -> gpd.GeoDataFrame:
    """Return, per category, the area its facilities cover within the category's threshold.

    One multi-source radius-limited search from all facilities of the category (the standard's
    metres, not a speed), then the reachable streets cut at the threshold and buffered like an
    isochrone. Feed the result to :func:`livingcircle.gaps.uncovered_residential` for the
    residential area each category leaves uncovered.

    Parameters
    ----------
    acc
        The :class:`~livingcircle.accessibility.Access` the facilities were measured in.
    facilities
        The same facilities frame (``facility_id``, ``categories``) passed to ``measure_access``.
    buffer_m
        Buffer half-width; default :data:`settings.isochrone_buffer_m`.
    categories
        Only these category ids (default: every POI category of the profile).

    Returns
    -------
    GeoDataFrame
        category, name_zh, threshold_m, n_facilities, area_m2, geometry (EPSG:4326).
    """
    buffer_m = float(buffer_m if buffer_m is not None else settings.isochrone_buffer_m)
    g = acc.graph
    eg, el = _edge_arrays(acc)
    inc = _incidence(g)
    search = BoundedSearch(g)
    fac_ids = facilities["facility_id"].astype(str).to_numpy()
    node_of = dict(zip(acc.facility_ids, acc.facility_nodes, strict=True))
    cats_col = "categories" if "categories" in facilities.columns else "category"
    members = facilities[cats_col].fillna("").astype(str).str.split(";")
    rows = []
    wanted = categories or [c.id for c in acc.profile.poi_categories()]
    for cid in wanted:
        cat = acc.profile.category(cid)
        starts = np.array([node_of.get(f, -1) for f, cs in zip(fac_ids, members, strict=True)
                           if cid in cs], dtype=np.int64)
        starts = starts[starts >= 0]
        poly = shapely.Polygon()
        if len(starts):
            nodes, dist = search(starts, np.zeros(len(starts)), cat.max_walk_m)
            lines = _reachable_lines(g, eg, el, inc, nodes, dist, cat.max_walk_m)
            if lines:
                poly = shapely.union_all(shapely.buffer(np.asarray(lines, dtype=object),
                                                        buffer_m, quad_segs=4))
        rows.append({"category": cid, "name_zh": cat.name_zh, "threshold_m": cat.max_walk_m,
                     "n_facilities": len(starts), "area_m2": round(float(poly.area), 1),
                     "geometry": poly})
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=acc.crs).to_crs(4326)
