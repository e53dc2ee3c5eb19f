"""The walking network: build it from an OSM file or (online) a place, clip, project, clean.

Every analysis runs on a :class:`WalkNetwork`: an osmnx-style ``MultiDiGraph`` projected to metres
plus, built once on demand, the undirected edge table that points are snapped to. ``.osm`` XML
files are read by osmnx's own reader (``osmnx.graph_from_xml``) and filtered to the ways a
pedestrian may use; ``.pbf`` files by pyrosm's walking filter. Online, a place name or a polygon
goes to ``osmnx.graph_from_place`` / ``graph_from_polygon``.

The network is clipped to the study boundary plus a halo of one 15-minute walk
(:data:`livingcircle.settings.halo_minutes` at the fastest speed profile) so that communities near
the edge still see facilities just outside it, and only the largest connected walkable component is
kept; what was dropped is recorded in the diagnostics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import osmnx as ox
import shapely
from shapely.geometry import LineString

from . import settings
from ._errors import NetworkError
from .diagnostics import Diagnostics

logger = logging.getLogger(__name__)

# Ways a pedestrian cannot use. Mirrors osmnx's "walk" network filter (osmnx/_overpass.py),
# which graph_from_xml does not apply.
_EXCLUDED_HIGHWAY = {
    "abandoned", "bus_guideway", "construction", "cycleway", "motor", "no", "planned",
    "platform", "proposed", "raceway", "razed", "motorway", "motorway_link", "elevator",
}
_NO_ACCESS = {"no", "private"}
_EXTRA_WAY_TAGS = ["foot", "sidewalk", "footway", "bicycle"]


def halo_m() -> float:
    """Width of the halo around a study boundary in metres (one 15-minute walk, fastest profile)."""
    fastest = max(p["m_per_min"] for p in settings.speed_profiles.values())
    return settings.halo_minutes * fastest


def _first(v):
    return v[0] if isinstance(v, list) else v


def _is_walkable(data: dict) -> bool:
    hw = _first(data.get("highway"))
    if hw is None or hw in _EXCLUDED_HIGHWAY:
        return False
    foot = _first(data.get("foot"))
    if foot in _NO_ACCESS:
        return False
    access = _first(data.get("access"))
    if access in _NO_ACCESS and foot not in ("yes", "designated", "permissive"):
        return False
    if _first(data.get("service")) == "private":
        return False
    return True


@dataclass
class WalkNetwork:
    """A projected walking network and its provenance.

    Attributes
    ----------
    graph
        osmnx MultiDiGraph in a metric CRS (``graph.graph["crs"]``), edges with ``length`` (m).
    source
        Where it came from (file path or place), for metadata.
    """

    graph: nx.MultiDiGraph | None
    source: str = ""
    _edges: object = field(default=None, repr=False)
    _crs: object = field(default=None, repr=False)

    @classmethod
    def from_arrays(cls, xy, u, v, *, crs, geometry=None, source: str = "") -> WalkNetwork:
        """Build a network kept as arrays only (no networkx graph), for city-sized networks.

        ``measure_access``, ``isochrones`` and the rest of the analysis read only the edge table
        (:meth:`livingcircle.routing.EdgeTable.from_arrays`); ``graph`` is None.
        """
        from .routing import EdgeTable

        return cls(graph=None, source=source, _edges=EdgeTable.from_arrays(xy, u, v,
                                                                           geometry=geometry),
                   _crs=crs)

    @property
    def crs(self):
        """The metric CRS of the network."""
        if self.graph is None:
            return self._crs
        return self.graph.graph["crs"]

    @property
    def edges(self):
        """The undirected edge table (:class:`livingcircle.routing.EdgeTable`), built once."""
        if self._edges is None:
            from .routing import EdgeTable

            self._edges = EdgeTable.from_graph(self.graph)
        return self._edges

    def to_gdfs(self) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        """Nodes and edges as GeoDataFrames (osmnx's ``graph_to_gdfs``)."""
        return ox.graph_to_gdfs(self.graph)

    def __len__(self) -> int:
        return self.edges.n_nodes if self.graph is None else self.graph.number_of_nodes()


def _read_xml(path: Path) -> nx.MultiDiGraph:
    old = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = sorted(set(old) | set(_EXTRA_WAY_TAGS))
    try:
        G = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
    finally:
        ox.settings.useful_tags_way = old
    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not _is_walkable(d)]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    if G.number_of_edges() == 0:
        msg = f"{path}: no walkable ways (highway=* usable on foot) in this OSM file"
        raise NetworkError(msg)
    return ox.simplify_graph(G)


def _read_pbf(path: Path, bbox=None) -> nx.MultiDiGraph:
    import pyrosm

    osm = pyrosm.OSM(str(path), bounding_box=bbox)
    nodes, edges = osm.get_network(network_type="walking", nodes=True)
    if edges is None or len(edges) == 0:
        msg = f"{path}: no walkable ways in this OSM extract (or none inside the boundary)"
        raise NetworkError(msg)
    G = osm.to_graph(nodes, edges, graph_type="networkx", osmnx_compatible=True, retain_all=True)
    G.graph.setdefault("crs", "EPSG:4326")
    # pyrosm gives both directions of two-way streets; a pedestrian may walk one-way streets both
    # ways, so add any missing reverse edges.
    rev = [(v, u, dict(d)) for u, v, d in G.edges(data=True) if not G.has_edge(v, u)]
    for v, u, d in rev:
        if "geometry" in d and d["geometry"] is not None:
            d["geometry"] = LineString(list(d["geometry"].coords)[::-1])
        G.add_edge(v, u, **d)
    return G


def _boundary_with_halo(boundary: gpd.GeoDataFrame, width_m: float):
    """Return the boundary plus halo as a WGS84 polygon."""
    b = boundary.to_crs(boundary.estimate_utm_crs())
    poly = shapely.union_all(b.geometry.values).buffer(width_m)
    return gpd.GeoSeries([poly], crs=b.crs).to_crs("EPSG:4326").iloc[0]


def build_network(
    *,
    osm: str | Path | None = None,
    place: str | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    halo: float | None = None,
    diagnostics: Diagnostics | None = None,
) -> WalkNetwork:
    """Build the walking network from an OSM file, a place name or a boundary.

    Parameters
    ----------
    osm
        An ``.osm``/``.xml`` file (read by osmnx) or ``.osm.pbf``/``.pbf`` file (read by pyrosm).
    place
        A place name for osmnx's geocoder; needs the internet.
    boundary
        Study boundary (any CRS). The network is clipped to it plus ``halo`` metres; without an OSM
        file or place, it is downloaded for that polygon (needs the internet).
    halo
        Halo width in metres; default one 15-minute walk at the fastest speed profile.
    diagnostics
        Receives a record of the components dropped as not part of the largest walkable one.

    Returns
    -------
    WalkNetwork
        Projected to the UTM zone of its centre, largest walkable component only.
    """
    diag = diagnostics if diagnostics is not None else Diagnostics()
    halo = halo_m() if halo is None else float(halo)
    clip_poly = None
    if boundary is not None and len(boundary):
        clip_poly = _boundary_with_halo(boundary, halo)
    if osm is not None:
        path = Path(osm)
        if not path.is_file():
            msg = f"{path}: OSM file not found"
            raise NetworkError(msg)
        name = path.name.lower()
        if name.endswith(".pbf"):
            bbox = list(clip_poly.bounds) if clip_poly is not None else None
            G = _read_pbf(path, bbox)
        elif name.endswith((".osm", ".xml", ".osm.xml")):
            G = _read_xml(path)
        else:
            msg = f"{path}: unknown OSM file type; give an .osm (XML) or .osm.pbf file"
            raise NetworkError(msg)
        source = str(path)
    elif place is not None:
        G = ox.graph_from_place(place, network_type="walk", retain_all=True)
        source = f"OpenStreetMap via osmnx: {place}"
    elif clip_poly is not None:
        G = ox.graph_from_polygon(clip_poly, network_type="walk", retain_all=True)
        source = "OpenStreetMap via osmnx: boundary polygon"
    else:
        msg = "give an OSM file (osm=...), a place name (place=...) or a boundary to download"
        raise NetworkError(msg)

    if clip_poly is not None and osm is not None:
        try:
            G = ox.truncate.truncate_graph_polygon(G, clip_poly, truncate_by_edge=True)
        except ValueError:  # osmnx: "Found no graph nodes within the requested polygon"
            G = nx.MultiDiGraph()
        if G.number_of_nodes() == 0:
            msg = (
                f"{source}: no walkable street lies inside the study boundary plus its "
                f"{halo:.0f} m halo; check that the boundary and the OSM file cover the same place"
            )
            raise NetworkError(msg)
    G = _keep_largest_component(G, diag, source)
    G = ox.project_graph(G)
    # lengths in the projected CRS, so that edge lengths and geometries agree exactly
    for u, v, d in G.edges(data=True):
        geom = d.get("geometry")
        if geom is None:
            geom = LineString([(G.nodes[u]["x"], G.nodes[u]["y"]),
                               (G.nodes[v]["x"], G.nodes[v]["y"])])
            d["geometry"] = geom
        d["length"] = float(geom.length)
    logger.info("walking network: %d nodes, %d edges (%s)", len(G), G.number_of_edges(), source)
    return WalkNetwork(graph=G, source=source)


def _keep_largest_component(G: nx.MultiDiGraph, diag: Diagnostics, source: str):
    comps = sorted(nx.weakly_connected_components(G), key=len, reverse=True)
    if not comps:
        msg = f"{source}: the walking network is empty"
        raise NetworkError(msg)
    if len(comps) == 1:
        return G
    keep = comps[0]
    for comp in comps[1:]:
        sub = G.subgraph(comp)
        lines = []
        for u, v, d in sub.edges(data=True):
            geom = d.get("geometry")
            if geom is None:
                geom = LineString([(G.nodes[u]["x"], G.nodes[u]["y"]),
                                   (G.nodes[v]["x"], G.nodes[v]["y"])])
            lines.append(geom)
        length = sum(d.get("length", 0.0) for _, _, d in sub.edges(data=True)) / 2
        diag.add(
            "network", "disconnected_component", action="dropped", source=source,
            feature_id=f"component of {len(comp)} nodes",
            detail=(f"{len(comp)} nodes, {sub.number_of_edges()} edges, about {length:.0f} m of "
                    "street not connected to the main walking network"),
            geometry=shapely.union_all(lines) if lines else None,
        )
    logger.info("kept the largest walkable component: %d of %d nodes", len(keep), len(G))
    return G.subgraph(keep).copy()


def graph_arrays_summary(net: WalkNetwork) -> dict:
    """Return counts (street segments counted once) and street length, for metadata."""
    edges = net.edges
    return {
        "nodes": int(edges.n_nodes),
        "edges": int(len(edges.u)),
        "street_km": float(edges.length.sum() / 1000),
        "crs": str(net.crs),
    }
