"""A light offline basemap: the walking network's streets, water, green and railways, for display.

With no internet the map has no tiles; these vector layers let a planner find their way (the river,
the main roads, the parks) under the analysis layers. :func:`basemap_layer` builds them once per
run into the result's ``basemap`` layer, which is written to the GeoPackage with the rest and
drawn by :func:`livingcircle.maps.make_map` (also from a written result, ``livingcircle map``).

The layer is for display only and is kept small: streets come from the walking network (every
street segment once, its OSM ``highway`` class in three ranks), water, green and railways from the
OSM file itself (one read, only the tags below); everything is simplified by ``simplify_m`` metres,
the street lines are merged end to end and grouped into features of about 1 km tiles, so that a
page showing part of a city can take only the tiles it needs. No analysis reads this layer.

Columns: ``kind`` (``street``, ``water``, ``green``, ``rail``), ``rank`` (streets: 1 main road,
2 street, 3 lane or path; water: 1 area, 2 river line), ``tile`` (``"ix_iy"`` of the 1 km grid in
the network's metric CRS), geometry in EPSG:4326.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

if TYPE_CHECKING:
    from .network import WalkNetwork

logger = logging.getLogger(__name__)

#: OSM ``highway`` values drawn as main roads (rank 1) and streets (rank 2); every other walkable
#: way (service, footway, path, steps, ...) is rank 3. The hierarchy of the OSM wiki's
#: ``Key:highway`` page (motorway > trunk > primary > secondary > tertiary > unclassified /
#: residential), cut where Chinese city maps change line weight (arterials / branch streets).
MAIN_ROADS = frozenset({"motorway", "motorway_link", "trunk", "trunk_link", "primary",
                        "primary_link", "secondary", "secondary_link"})
STREETS = frozenset({"tertiary", "tertiary_link", "residential", "unclassified", "living_street",
                     "road"})

#: OSM tags read for the background (value lists are OSM wiki values of each key).
BACKGROUND_TAGS: dict[str, list[str]] = {
    "natural": ["water", "wood", "scrub", "grassland"],
    "water": ["river", "lake", "pond", "reservoir", "canal"],
    "waterway": ["river", "riverbank", "canal", "stream"],
    "landuse": ["reservoir", "basin", "grass", "forest", "meadow", "recreation_ground",
                "village_green", "cemetery"],
    "leisure": ["park", "garden", "nature_reserve"],
    "railway": ["rail", "light_rail", "subway", "tram", "narrow_gauge"],
}
_WATER = {("natural", "water"), ("landuse", "reservoir"), ("landuse", "basin"),
          ("waterway", "riverbank")} | {("water", v) for v in BACKGROUND_TAGS["water"]}

#: Size of the grid cells the merged lines are grouped by (metres).
TILE_M = 1000.0


def highway_rank(value: object) -> int:
    """Return 1 (main road), 2 (street) or 3 (lane, path, other) for an OSM ``highway`` value.

    A list (osmnx gives one for a simplified edge made of several ways) takes its highest rank.
    """
    vals = value if isinstance(value, list | tuple) else [value]
    ranks = [1 if v in MAIN_ROADS else 2 if v in STREETS else 3 for v in vals]
    return min(ranks) if ranks else 3


def street_lines(net: WalkNetwork) -> gpd.GeoDataFrame:
    """Every street segment of a walking network once, with its ``rank`` (see :func:`highway_rank`).

    Parameters
    ----------
    net
        A :class:`livingcircle.network.WalkNetwork`. With a graph the OSM ``highway`` tag of each
        edge gives the rank; a network kept as arrays has no tags, and every segment is rank 2
        unless it carries them (``net.highway``, kept from pyrosm's tables).

    Returns
    -------
    geopandas.GeoDataFrame
        ``rank`` and LineString geometry in the network's metric CRS.
    """
    if net.graph is not None:
        rows = [(d.get("geometry"), highway_rank(d.get("highway")), u, v)
                for u, v, d in net.graph.edges(data=True) if u <= v or
                not net.graph.has_edge(v, u)]
        g = gpd.GeoDataFrame({"rank": [r for _, r, _, _ in rows]},
                             geometry=np.asarray([geom for geom, *_ in rows], dtype=object),
                             crs=net.crs)
        g = g[g.geometry.notna()]
        # both directions of a u == v loop, or of parallel edges, are the same line
        key = shapely.to_wkb(shapely.normalize(g.geometry.values))
        return g[~pd.Series(key, index=g.index).duplicated()]
    e = net.edges
    hw = getattr(net, "highway", None)
    rank = [highway_rank(h) for h in hw] if hw is not None else np.full(len(e.u), 2)
    return gpd.GeoDataFrame({"rank": rank}, geometry=np.asarray(e.geometry), crs=net.crs)


def read_background(path: str | Path, *, bbox: list[float] | None = None) -> gpd.GeoDataFrame:
    """Read water, green and railways of an OSM file (``kind``, ``rank``, geometry, EPSG:4326).

    ``.osm`` XML goes through ``osmnx.features_from_xml``, ``.pbf`` through pyrosm's
    ``get_data_by_custom_criteria`` (ways and relations only), both with
    :data:`BACKGROUND_TAGS`. ``bbox`` (west, south, east, north) limits a ``.pbf`` read and clips
    either. Points (a station node, a named spring) are not drawn and are left out.
    """
    p = Path(path)
    if p.name.lower().endswith(".pbf"):
        from pyrosm.pyrosm import OSM  # (the package's lazy `pyrosm.OSM` hides its signature)

        osm = OSM(str(p), bounding_box=bbox)
        raw = osm.get_data_by_custom_criteria(custom_filter=BACKGROUND_TAGS, keep_nodes=False,
                                              osm_keys_to_keep=list(BACKGROUND_TAGS))
    else:
        import osmnx as ox

        try:
            raw = ox.features_from_xml(p, tags={**BACKGROUND_TAGS})
        except ox._errors.InsufficientResponseError:
            raw = None
    empty = gpd.GeoDataFrame({"kind": [], "rank": []}, geometry=gpd.GeoSeries([], crs=4326),
                             crs=4326)
    if raw is None or len(raw) == 0:
        return empty
    raw = raw.reset_index(drop=True).set_crs(4326, allow_override=True)
    if bbox is not None:
        west, south, east, north = bbox
        raw = raw[raw.intersects(shapely.box(west, south, east, north))]
    kind, rank = [], []
    cols = {k: raw[k].to_numpy() if k in raw.columns else np.full(len(raw), None)
            for k in BACKGROUND_TAGS}
    polys = shapely.get_type_id(raw.geometry.to_numpy()) >= 3  # (multi)polygons
    for i, is_poly in enumerate(polys):
        tags = {(k, cols[k][i]) for k in BACKGROUND_TAGS if isinstance(cols[k][i], str)}
        if tags & _WATER or (not is_poly and cols["waterway"][i] in
                             BACKGROUND_TAGS["waterway"]):
            kind.append("water")
            rank.append(1 if is_poly else 2)
        elif isinstance(cols["railway"][i], str) and cols["railway"][i] in \
                BACKGROUND_TAGS["railway"]:
            kind.append("rail")
            rank.append(1)
        elif is_poly:
            kind.append("green")
            rank.append(1)
        else:  # a park drawn as an open line, say: nothing to fill
            kind.append(None)
            rank.append(0)
    out = gpd.GeoDataFrame({"kind": kind, "rank": rank}, geometry=raw.geometry.to_numpy(),
                           crs=4326)
    return out[out["kind"].notna()].reset_index(drop=True)


def _tiles(geoms: np.ndarray) -> np.ndarray:
    c = shapely.get_coordinates(shapely.point_on_surface(geoms))
    ix = np.floor(c[:, 0] / TILE_M).astype(np.int64)
    iy = np.floor(c[:, 1] / TILE_M).astype(np.int64)
    return np.char.add(np.char.add(ix.astype(str), "_"), iy.astype(str))


def _merged(frame: pd.DataFrame) -> list[tuple]:
    """Lines (``kind``, ``rank``, ``tile``, ``g``) merged end to end per kind, rank and tile."""
    out = []
    for (kind, _rank, tile), sub in frame.groupby(["kind", "rank", "tile"], sort=True):
        parts = shapely.get_parts(sub["g"].to_numpy())  # a MultiLineString way into its lines
        out.append((kind, int(sub["rank"].iloc[0]), tile,
                    shapely.line_merge(shapely.multilinestrings(parts))))
    return out


def basemap_layer(net: WalkNetwork, *, osm: str | Path | None = None, simplify_m: float = 3.0,
                  min_area_m2: float = 200.0) -> gpd.GeoDataFrame:
    """Build the display layer of streets, water, green and railways for a run.

    Parameters
    ----------
    net
        The run's :class:`livingcircle.network.WalkNetwork` (its streets, its extent).
    osm
        The OSM file the network was read from, for water, green and railways (None: streets
        only, as for a network downloaded by place name).
    simplify_m
        Display simplification in metres (default 3 m: less than a street's half width, so a
        street never leaves its own carriageway on screen).
    min_area_m2
        Water and green areas smaller than this are not drawn (default 200 m², about a
        14 × 14 m yard: under two pixels wide at zoom 15).

    Returns
    -------
    geopandas.GeoDataFrame
        ``kind``, ``rank``, ``tile`` and geometry in EPSG:4326 (see the module docstring).
    """
    crs = net.crs
    streets = street_lines(net)
    parts = []
    if len(streets):
        geoms = streets.geometry.to_numpy()
        tiles = _tiles(geoms)
        parts += _merged(pd.DataFrame({"kind": "street", "rank": streets["rank"].to_numpy(),
                                       "tile": tiles, "g": geoms}))
    if osm is not None:
        bounds = gpd.GeoSeries(streets.geometry.to_numpy(), crs=crs).to_crs(4326).total_bounds \
            if len(streets) else None
        try:
            bg = read_background(osm, bbox=list(bounds) if bounds is not None else None)
        except Exception as exc:  # the background is decoration: the run goes on without it
            logger.warning("%s: water, green and railways not read for the map (%s)", osm, exc)
            bg = None
        if bg is not None and len(bg):
            bg = bg.to_crs(crs)
            g = bg.geometry.to_numpy()
            area = shapely.area(g)
            keep = (shapely.get_type_id(g) < 3) | (area >= min_area_m2)
            bg = bg[keep]
            g = bg.geometry.to_numpy()
            lines = shapely.get_type_id(g) < 3
            for k, r, t, geom in zip(bg["kind"][~lines], bg["rank"][~lines],
                                     _tiles(g[~lines]), g[~lines], strict=True):
                parts.append((k, int(r), t, geom))  # areas one by one: valid polygons
            frame = pd.DataFrame({"kind": bg["kind"][lines].to_numpy(),
                                  "rank": bg["rank"][lines].to_numpy(), "tile": _tiles(g[lines]),
                                  "g": g[lines]})
            parts += _merged(frame)
    if not parts:
        return gpd.GeoDataFrame({"kind": [], "rank": [], "tile": []},
                                geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    out = gpd.GeoDataFrame({"kind": [p[0] for p in parts], "rank": [p[1] for p in parts],
                            "tile": [p[2] for p in parts]},
                           geometry=[p[3] for p in parts], crs=crs)
    out["geometry"] = out.geometry.simplify(simplify_m, preserve_topology=True)
    out = out[~out.geometry.is_empty].to_crs(4326)
    order = {"water": 0, "green": 1, "rail": 2, "street": 3}
    out = out.sort_values(["kind", "rank"], key=lambda s: s.map(order) if s.name == "kind"
                          else -s, kind="stable")
    logger.info("basemap: %d street features, %d water, %d green, %d rail",
                *(int((out["kind"] == k).sum()) for k in ("street", "water", "green", "rail")))
    return out.reset_index(drop=True)
