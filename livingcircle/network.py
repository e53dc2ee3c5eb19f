"""The walking network: build it from an OSM file or (online) a place, clip, project, clean.

Every analysis runs on a :class:`WalkNetwork`: the undirected edge table that points are snapped
to (:class:`livingcircle.routing.EdgeTable`) and, for networks of a size networkx handles well, the
osmnx-style ``MultiDiGraph`` it was built from, projected to metres. ``.osm`` XML files are read by
osmnx's own reader (``osmnx.graph_from_xml``) and filtered to the ways a pedestrian may use;
``.pbf`` files by pyrosm's walking filter. Online, a place name or a polygon goes to
``osmnx.graph_from_place`` / ``graph_from_polygon``.

Graph or arrays
---------------
A city-sized ``.pbf`` (a million street nodes) would cost gigabytes as networkx objects, and
nothing in the analysis needs them: :func:`livingcircle.measure_access`, the isochrones, gaps and
clusters read only the edge table. So a ``.pbf`` with more way nodes than
:data:`livingcircle.settings.network_graph_max_nodes` goes from pyrosm's frames straight to arrays
(``graph`` is None), without a networkx graph; below it the graph is kept as before, for the
notebooks and anyone who wants ``net.graph``. ``build_network(graph=True/False)`` forces either;
``livingcircle run`` forces arrays (:func:`livingcircle.pipeline.run`'s ``keep_graph``), and
keeps only the edge table and OSM ``highway`` tags of an ``.osm`` file's graph.
Both paths give the same network: the same nodes (pyrosm's simplified graph tables,
:func:`pyrosm.graphs.graph_tables`, are what its networkx export is built from), the same clip
(osmnx's ``truncate_graph_polygon(truncate_by_edge=True)``), the same largest component with the
same diagnostics, the same UTM zone and the same street lengths.

The network is clipped to the study boundary plus a halo of one 15-minute walk
(:data:`livingcircle.settings.halo_minutes` at the fastest speed profile) so that communities near
the edge still see facilities just outside it, and only the largest connected walkable component is
kept; what was dropped is recorded in the diagnostics.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import LineString, MultiPolygon, Polygon

from . import settings
from ._errors import NetworkError
from .crs import utm_crs
from .diagnostics import Diagnostics
from .osm import reading_osm

if TYPE_CHECKING:
    from .routing import EdgeTable

#: A coordinate reference system as the network keeps it: a pyproj ``CRS`` (read or estimated)
#: or the string a caller gave (``"EPSG:32652"``); both are accepted wherever geopandas and
#: pyproj take a CRS.
CrsLike: TypeAlias = CRS | str

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
        osmnx MultiDiGraph in a metric CRS (``graph.graph["crs"]``), edges with ``length`` (m);
        None for a network kept as arrays only (see the module docstring).
    source
        Where it came from (file path or place), for metadata.
    """

    graph: nx.MultiDiGraph | None
    source: str = ""
    _edges: EdgeTable | None = field(default=None, repr=False)
    _crs: CrsLike | None = field(default=None, repr=False)
    #: OSM ``highway`` value of each row of the edge table of a network kept as arrays (for the
    #: map's street classes, :mod:`livingcircle.basemap`); None when not known.
    highway: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_arrays(cls, xy: np.ndarray, u: np.ndarray, v: np.ndarray, *, crs: CrsLike,
                    geometry: np.ndarray | None = None, node_ids: np.ndarray | None = None,
                    source: str = "", highway: np.ndarray | None = None) -> WalkNetwork:
        """Build a network kept as arrays only (no networkx graph), for city-sized networks.

        ``measure_access``, ``isochrones`` and the rest of the analysis read only the edge table
        (:meth:`livingcircle.routing.EdgeTable.from_arrays`); ``graph`` is None.

        Parameters
        ----------
        xy
            (n, 2) projected node coordinates in metres.
        u, v
            Node indices (0..n-1) of each street segment, each segment once.
        crs
            The metric CRS of ``xy``.
        geometry
            LineStrings from u to v; straight lines when not given.
        node_ids
            Original node ids (e.g. OSM ids); default ``0..n-1``.
        source
            Where the network came from, for metadata.
        highway
            OSM ``highway`` value of each segment (for the map only), or None.
        """
        from .routing import EdgeTable

        return cls(graph=None, source=source,
                   _edges=EdgeTable.from_arrays(xy, u, v, geometry=geometry, node_ids=node_ids),
                   _crs=crs, highway=None if highway is None else np.asarray(highway))

    @property
    def crs(self) -> CrsLike:
        """The metric CRS of the network."""
        if self.graph is not None:
            return self.graph.graph["crs"]
        if self._crs is None:  # only a WalkNetwork built by hand without graph or from_arrays
            msg = "this walking network has neither a graph nor a CRS; build it with from_arrays"
            raise NetworkError(msg)
        return self._crs

    @property
    def edges(self) -> EdgeTable:
        """The undirected edge table (:class:`livingcircle.routing.EdgeTable`), built once."""
        if self._edges is None:
            from .routing import EdgeTable

            if self.graph is None:
                msg = "this walking network has neither a graph nor an edge table"
                raise NetworkError(msg)
            self._edges = EdgeTable.from_graph(self.graph)
        return self._edges

    def to_gdfs(self) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        """Nodes and edges as GeoDataFrames.

        With a graph: osmnx's ``graph_to_gdfs`` (every edge in both directions). Without one:
        nodes indexed by their id (``osmid``) with ``x``, ``y``; edges indexed by
        ``(u, v, key)`` with ``length``, each street segment once, from u to v.
        """
        if self.graph is not None:
            import osmnx as ox

            return ox.graph_to_gdfs(self.graph)
        e = self.edges
        ids = np.asarray(e.node_ids)
        nodes = gpd.GeoDataFrame({"x": e.xy[:, 0], "y": e.xy[:, 1]},
                                 geometry=shapely.points(e.xy), crs=self.crs,
                                 index=pd.Index(ids, name="osmid"))
        uv = pd.DataFrame({"u": ids[e.u], "v": ids[e.v]})
        key = uv.groupby(["u", "v"], sort=False).cumcount().to_numpy()
        index = pd.MultiIndex.from_arrays([uv["u"].to_numpy(), uv["v"].to_numpy(), key],
                                          names=["u", "v", "key"])
        edges = gpd.GeoDataFrame({"length": e.length}, geometry=e.geometry, crs=self.crs,
                                 index=index)
        return nodes, edges

    def __len__(self) -> int:
        return self.edges.n_nodes if self.graph is None else self.graph.number_of_nodes()


def _read_xml(path: Path) -> nx.MultiDiGraph:
    import osmnx as ox  # here: its import takes 2 s (it loads scikit-learn), a .pbf needs none

    old = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = sorted(set(old) | set(_EXTRA_WAY_TAGS))
    try:
        with reading_osm(path):
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


def _read_pbf_frames(path: Path, bbox=None):
    """Read the walking network of a ``.pbf`` with pyrosm: the reader, node and edge frames."""
    from pyrosm.pyrosm import OSM  # (the package's lazy `pyrosm.OSM` hides its signature)

    with reading_osm(path):
        osm = OSM(str(path), bounding_box=bbox, **_decode_threads(OSM))
        nodes, edges = osm.get_network(network_type="walking", nodes=True)
    if edges is None or len(edges) == 0:
        msg = f"{path}: no walkable ways in this OSM extract (or none inside the boundary)"
        raise NetworkError(msg)
    return osm, nodes, edges


def _decode_threads(reader: type) -> dict:
    """Return pyrosm's ``workers``: decode on every core the run may use, where pyrosm takes it.

    pyrosm's own choice (``"auto"``) leaves two cores free, so on 2 cores it decodes on one
    while the run waits for the network with the other core idle. Its decode threads, and the
    steps after it, run on the run's cores (:func:`~livingcircle._parallel.worker_count`: one
    inside a pool or Dask worker), at most the cores this process may use (more would only make
    pyrosm warn: ``--workers`` may ask for more processes than cores). The 1M-node city's
    ``get_network``: 4.5-5.5 s on two threads against 5.8-7.2 s on one, the same frames
    (``benchmarks/CITY_SCALE.md``). Older pyrosm releases have no ``workers``; they read as
    before.
    """
    import inspect

    from ._parallel import worker_count
    from .routing import usable_cores

    if "workers" not in inspect.signature(reader).parameters:
        return {}
    return {"workers": min(worker_count(None), usable_cores())}


def _graph_from_frames(osm, nodes, edges) -> nx.MultiDiGraph:
    """Export the frames to networkx with pyrosm, every street walkable both ways."""
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


def _read_pbf(path: Path, bbox=None) -> nx.MultiDiGraph:
    """Read a ``.pbf`` into a networkx graph (geographic coordinates, unclipped)."""
    osm, nodes, edges = _read_pbf_frames(path, bbox)
    return _graph_from_frames(osm, nodes, edges)


@dataclass
class _DirectedArrays:
    """The directed edges of pyrosm's simplified walking graph, as arrays (EPSG:4326).

    ``u``/``v`` are positions in ``ids``; one row per directed edge as pyrosm exports it
    (a reverse edge is added later for a row without one, as :func:`_graph_from_frames` does).
    """

    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length: np.ndarray  # pyrosm's length in metres
    geometry: np.ndarray  # LineStrings from u to v, or None
    highway: np.ndarray | None = None  # OSM highway value per row, for the map

    def subset(self, node_keep: np.ndarray) -> _DirectedArrays:
        """Keep the nodes of the mask and the rows between two of them (renumbered)."""
        rows = node_keep[self.u] & node_keep[self.v]
        new = np.cumsum(node_keep) - 1
        return _DirectedArrays(self.ids[node_keep], self.lon[node_keep], self.lat[node_keep],
                               new[self.u[rows]], new[self.v[rows]], self.length[rows],
                               self.geometry[rows],
                               None if self.highway is None else self.highway[rows])

    def reverse_missing(self) -> np.ndarray:
        """Return True for rows (not loops) whose reverse direction has no row."""
        n = np.int64(len(self.ids))
        key = self.u * n + self.v
        # pandas' hash table: numpy's isin sorts both (4.5 against 0.25 s at 3.5M rows)
        return (self.u != self.v) & ~pd.Index(self.v * n + self.u).isin(key)

    def lines(self, rows: np.ndarray) -> np.ndarray:
        """Geometries of ``rows``, straight lines between the nodes where a row has none."""
        g = self.geometry[rows]  # a new array (rows index it): the caller may change it
        none = shapely.is_missing(g)
        if none.any():
            r = rows[none]
            g[none] = shapely.linestrings(np.stack(
                [np.column_stack([self.lon[self.u[r]], self.lat[self.u[r]]]),
                 np.column_stack([self.lon[self.v[r]], self.lat[self.v[r]]])], axis=1))
        return g


def _arrays_from_frames(nodes, edges) -> _DirectedArrays:
    """Return pyrosm's simplified graph tables (what its networkx export is built from)."""
    from pyrosm.graphs import graph_tables

    gn, ge = graph_tables(nodes, edges, retain_all=True)
    ids = gn["id"].to_numpy()
    pos = pd.Index(ids)
    u = pos.get_indexer(ge["u"].to_numpy()).astype(np.int64)
    v = pos.get_indexer(ge["v"].to_numpy()).astype(np.int64)
    pts = gn.geometry.to_numpy()
    return _DirectedArrays(ids, shapely.get_x(pts), shapely.get_y(pts), u, v,
                           ge["length"].to_numpy(dtype=float), ge.geometry.to_numpy(),
                           ge["highway"].to_numpy(dtype=object) if "highway" in ge.columns
                           else None)


def _truncate_arrays(a: _DirectedArrays, polygon, source: str, halo: float) -> _DirectedArrays:
    """Clip like osmnx's ``truncate_graph_polygon(truncate_by_edge=True)``, on arrays.

    Keeps the nodes inside the polygon and the nodes outside with a neighbour inside, and every
    edge between two kept nodes.
    """
    shapely.prepare(polygon)
    inside = shapely.intersects(polygon, shapely.points(a.lon, a.lat))
    if not inside.any():
        msg = (
            f"{source}: no walkable street lies inside the study boundary plus its "
            f"{halo:.0f} m halo; check that the boundary and the OSM file cover the same place"
        )
        raise NetworkError(msg)
    keep = inside.copy()
    keep[a.u[inside[a.v]]] = True
    keep[a.v[inside[a.u]]] = True
    return a.subset(keep)


def _largest_component_arrays(a: _DirectedArrays, diag: Diagnostics,
                              source: str) -> _DirectedArrays:
    """Keep the largest connected component; record the others as :func:`_keep_largest_component`.

    Components are ordered by size, ties in the order of their first node (as networkx finds
    them); edge counts and lengths are those of the graph with every missing reverse edge added.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    n = len(a.ids)
    if n == 0:
        msg = f"{source}: the walking network is empty"
        raise NetworkError(msg)
    adj = sp.csr_array((np.ones(len(a.u), dtype=np.int8), (a.u, a.v)), shape=(n, n))
    n_comp, labels = connected_components(adj, directed=False)
    if n_comp == 1:
        return a
    sizes = np.bincount(labels, minlength=n_comp)
    order = np.argsort(-sizes, kind="stable")
    weight = np.where(a.reverse_missing(), 2, 1)  # directed edges of the row in the graph
    row_label = labels[a.u]
    by_row = np.argsort(row_label, kind="stable")
    bounds = np.searchsorted(row_label[by_row], np.arange(n_comp + 1))
    for lab in order[1:]:
        rows = by_row[bounds[lab]:bounds[lab + 1]]
        lines = a.lines(rows)
        n_edges = int(weight[rows].sum())
        length = float((weight[rows] * a.length[rows]).sum()) / 2
        diag.add(
            "network", "disconnected_component", action="dropped", source=source,
            feature_id=f"component of {int(sizes[lab])} nodes",
            detail=(f"{int(sizes[lab])} nodes, {n_edges} edges, about {length:.0f} m of "
                    "street not connected to the main walking network"),
            geometry=shapely.union_all(lines) if len(lines) else None,
        )
    logger.info("kept the largest walkable component: %d of %d nodes", int(sizes[order[0]]), n)
    return a.subset(labels == order[0])


def _osmnx_utm_crs(lon: np.ndarray, lat: np.ndarray) -> CrsLike:
    """Return the CRS osmnx's ``project_graph`` chooses for nodes at these coordinates."""
    # osmnx: the centroid of the union of the node points (duplicates merged) against UTM limits
    centroid_lat = pd.DataFrame({"lon": lon, "lat": lat}).drop_duplicates()["lat"].mean()
    if centroid_lat < -80:
        return "epsg:32761"
    if centroid_lat > 84:
        return "epsg:32661"
    # geopandas' choice depends on the points' bounds only: two corners stand for them all
    corners = shapely.points([lon.min(), lon.max()], [lat.min(), lat.max()])
    return utm_crs(gpd.GeoSeries(corners, crs=4326))


def _network_from_arrays(a: _DirectedArrays, source: str) -> WalkNetwork:
    """Project to the UTM zone osmnx would choose and keep each street segment once."""
    crs = _osmnx_utm_crs(a.lon, a.lat)
    # geopandas' to_crs, on the coordinates: the transformer it makes, and no point geometries
    to_utm = Transformer.from_crs(CRS.from_user_input(4326), CRS.from_user_input(crs),
                                  always_xy=True)
    xy = np.column_stack(to_utm.transform(a.lon, a.lat))
    # one row per street segment: of the two directions of a node pair, the one with more rows
    # (the same set of segments; a row without a reverse stands for both)
    loop = a.u == a.v
    real = np.flatnonzero(~loop)
    lo, hi = np.minimum(a.u[real], a.v[real]), np.maximum(a.u[real], a.v[real])
    fwd = a.u[real] < a.v[real]
    _, inv = np.unique(lo * np.int64(len(a.ids)) + hi, return_inverse=True)
    n_fwd = np.bincount(inv, weights=fwd)[inv]
    n_bwd = np.bincount(inv, weights=~fwd)[inv]
    keep = np.zeros(len(a.u), dtype=bool)
    keep[real] = np.where(fwd, n_fwd >= n_bwd, n_bwd > n_fwd)
    rows = np.flatnonzero(keep)
    geom = a.lines(rows)
    coords = shapely.get_coordinates(geom)
    coords = np.column_stack(to_utm.transform(coords[:, 0], coords[:, 1]))
    geom = shapely.set_coordinates(geom, coords)  # as to_crs does (the lines are 2D)
    u, v = a.u[rows], a.v[rows]
    # every geometry runs from u to v (as EdgeTable.from_graph makes sure)
    flip = _starts_nearer(coords, shapely.get_num_coordinates(geom), xy[v], xy[u])
    if flip.any():
        geom[flip] = shapely.reverse(geom[flip])
    net = WalkNetwork.from_arrays(xy, u, v, crs=crs, geometry=geom, node_ids=a.ids,
                                  source=source,
                                  highway=None if a.highway is None else a.highway[rows])
    logger.info("walking network: %d nodes, %d street segments (%s; arrays, no networkx graph)",
                len(a.ids), len(rows), source)
    return net


def _starts_nearer(coords: np.ndarray, n_coords: np.ndarray, a: np.ndarray, b: np.ndarray
                   ) -> np.ndarray:
    """Whether each line's first vertex lies nearer the point of ``a`` than that of ``b``.

    ``coords`` are the lines' coordinates one line after the other, ``n_coords`` how many each
    has. GEOS's distance of two points, ``sqrt(dx * dx + dy * dy)``, from the coordinates:
    without making 2 × 1.7M point geometries for ``shapely.distance`` (2.5 of the 1M-node city's
    28 s network), nor the first points (``shapely.get_point``, 0.74 s). A line without a
    vertex is False, as its distance (NaN) compares.
    """
    some = n_coords > 0
    first = (np.cumsum(n_coords) - n_coords)[some]
    x, y = np.full(len(n_coords), np.nan), np.full(len(n_coords), np.nan)
    x[some], y[some] = coords[first, 0], coords[first, 1]
    return np.sqrt((x - a[:, 0]) ** 2 + (y - a[:, 1]) ** 2) < \
        np.sqrt((x - b[:, 0]) ** 2 + (y - b[:, 1]) ** 2)


def _boundary_with_halo(boundary: gpd.GeoDataFrame, width_m: float) -> Polygon | MultiPolygon:
    """Return the boundary plus halo as a WGS84 polygon."""
    b = boundary.to_crs(utm_crs(boundary))
    poly = shapely.union_all(b.geometry.values).buffer(width_m)
    wgs84 = gpd.GeoSeries([poly], crs=b.crs).to_crs("EPSG:4326").to_numpy()[0]
    if not isinstance(wgs84, Polygon | MultiPolygon):  # a buffer is always an area
        msg = f"the boundary plus its halo is a {wgs84.geom_type}, not an area"
        raise NetworkError(msg)
    return wgs84


def build_network(
    *,
    osm: str | Path | None = None,
    place: str | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    halo: float | None = None,
    diagnostics: Diagnostics | None = None,
    graph: bool | None = None,
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
    graph
        Keep a networkx graph (``True``) or only the arrays (``False``, ``net.graph`` is None).
        None (default): a ``.pbf`` with more way nodes than
        :data:`livingcircle.settings.network_graph_max_nodes` goes to arrays without ever
        building networkx objects; everything else keeps its graph. XML files and downloads are
        read by osmnx into a graph first; with ``graph=False`` only its edge table is kept,
        with each street's OSM ``highway`` tag (``net.highway``, for the map's street classes).

    Returns
    -------
    WalkNetwork
        Projected to the UTM zone of its centre, largest walkable component only.

    Examples
    --------
    >>> import livingcircle as lc
    >>> net = lc.build_network(osm=lc.sample_paths()["osm"])
    >>> net.graph is not None and net.crs.is_projected
    True
    """
    diag = diagnostics if diagnostics is not None else Diagnostics()
    halo = halo_m() if halo is None else float(halo)
    clip_poly = None
    if boundary is not None and len(boundary):
        clip_poly = _boundary_with_halo(boundary, halo)
    if osm is not None:
        read = _read_osm_file(Path(osm), clip_poly, halo, graph, diag)
        if isinstance(read, WalkNetwork):
            return read
        G, source = read
        if clip_poly is not None:
            G = _clip_graph(G, clip_poly, source, halo)
    else:
        G, source = _download_graph(place, clip_poly)
    G = _keep_largest_component(G, diag, source)
    G = _project_with_lengths(G)
    logger.info("walking network: %d nodes, %d edges (%s)", len(G), G.number_of_edges(), source)
    net = WalkNetwork(graph=G, source=source)
    if graph is False:
        from .routing import EdgeTable, graph_edge_rows

        # each row's OSM highway tag (a list where osmnx joined ways), as a network read from
        # a .pbf keeps it: the map's street classes (basemap.street_lines)
        tags = [d.get("highway") for _u, _v, d in graph_edge_rows(G)]
        highway = np.empty(len(tags), dtype=object)
        for k, tag in enumerate(tags):  # one by one: lists must stay single elements
            highway[k] = tag
        net = WalkNetwork(graph=None, source=source, _edges=EdgeTable.from_graph(G),
                          _crs=G.graph["crs"], highway=highway)
    return net


def _read_osm_file(
    path: Path, clip_poly: Polygon | MultiPolygon | None, halo: float, graph: bool | None,
    diag: Diagnostics,
) -> WalkNetwork | tuple[nx.MultiDiGraph, str]:
    """Read an OSM file: its graph and source, or the finished network of a pbf kept as arrays."""
    if not path.is_file():
        msg = f"{path}: OSM file not found"
        raise NetworkError(msg)
    name = path.name.lower()
    source = str(path)
    if is_pbf(path):
        bbox = list(clip_poly.bounds) if clip_poly is not None else None
        reader, nodes, edges = _read_pbf_frames(path, bbox)
        use_graph = graph if graph is not None else \
            len(nodes) <= settings.network_graph_max_nodes
        if not use_graph:
            logger.info("%s: %d way nodes (more than settings.network_graph_max_nodes = %d "
                        "or graph=False): arrays, no networkx graph", source, len(nodes),
                        settings.network_graph_max_nodes)
            arrays = _arrays_from_frames(nodes, edges)
            del reader, nodes, edges
            if clip_poly is not None:
                arrays = _truncate_arrays(arrays, clip_poly, source, halo)
            arrays = _largest_component_arrays(arrays, diag, source)
            return _network_from_arrays(arrays, source)
        return _graph_from_frames(reader, nodes, edges), source
    if name.endswith((".osm", ".xml", ".osm.xml")):
        return _read_xml(path), source
    msg = f"{path}: unknown OSM file type; give an .osm (XML) or .osm.pbf file"
    raise NetworkError(msg)


def is_pbf(path: str | Path) -> bool:
    """Whether ``path`` names an OSM ``.pbf`` file (read by pyrosm; the others by osmnx)."""
    return Path(path).name.lower().endswith(".pbf")


def _download_graph(place: str | None,
                    clip_poly: Polygon | MultiPolygon | None) -> tuple[nx.MultiDiGraph, str]:
    """Download the walking graph of a place name or of the boundary polygon with osmnx."""
    import osmnx as ox

    if place is not None:
        G = ox.graph_from_place(place, network_type="walk", retain_all=True)
        return G, f"OpenStreetMap via osmnx: {place}"
    if clip_poly is not None:
        G = ox.graph_from_polygon(clip_poly, network_type="walk", retain_all=True)
        return G, "OpenStreetMap via osmnx: boundary polygon"
    msg = "give an OSM file (osm=...), a place name (place=...) or a boundary to download"
    raise NetworkError(msg)


def _clip_graph(G: nx.MultiDiGraph, clip_poly: Polygon | MultiPolygon, source: str,
                halo: float) -> nx.MultiDiGraph:
    """Keep the streets of a file's graph that reach into the boundary plus its halo."""
    import osmnx as ox

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
    return G


def _project_with_lengths(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Project to UTM; every edge gets a geometry and its ``length`` in the projected CRS."""
    import osmnx as ox

    xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)], dtype=float)
    # osmnx's own choice of zone, without its query of PROJ's database (crs.utm_crs)
    G = ox.project_graph(G, to_crs=_osmnx_utm_crs(xy[:, 0], xy[:, 1]))
    # lengths in the projected CRS, so that edge lengths and geometries agree exactly
    for u, v, d in G.edges(data=True):
        geom = d.get("geometry")
        if geom is None:
            geom = LineString([(G.nodes[u]["x"], G.nodes[u]["y"]),
                               (G.nodes[v]["x"], G.nodes[v]["y"])])
            d["geometry"] = geom
        d["length"] = float(geom.length)
    return G


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
    # in place: G is always this module's own graph, and removing the few dropped nodes is
    # cheaper than copying the kept ones (G.subgraph(keep).copy() was 26 % of build_network on
    # the city-centre case under cProfile, 2026-12-02); same nodes, edges and their order
    G.remove_nodes_from([n for comp in comps[1:] for n in comp])
    return G


def graph_arrays_summary(net: WalkNetwork) -> dict:
    """Return counts (street segments counted once) and street length, for metadata."""
    edges = net.edges
    return {
        "nodes": int(edges.n_nodes),
        "edges": int(len(edges.u)),
        "street_km": float(edges.length.sum() / 1000),
        "crs": str(net.crs),
    }
