import os

import geopandas as gpd
import networkx as nx
import pytest
from shapely.geometry import LineString, Point

from livingcircle.network import WalkNetwork

CRS = "EPSG:32652"  # UTM 52N: Harbin
X0, Y0 = 500000.0, 5070000.0


def lattice(n=5, spacing=100.0, *, missing=()):
    """An n×n street lattice in metres (both directions, osmnx-style), node id = row*n+col."""
    G = nx.MultiDiGraph(crs=CRS)
    for r in range(n):
        for c in range(n):
            G.add_node(r * n + c, x=X0 + c * spacing, y=Y0 + r * spacing)
    for r in range(n):
        for c in range(n):
            a = r * n + c
            for b in ([a + 1] if c < n - 1 else []) + ([a + n] if r < n - 1 else []):
                if (a, b) in missing:
                    continue
                pa = (G.nodes[a]["x"], G.nodes[a]["y"])
                pb = (G.nodes[b]["x"], G.nodes[b]["y"])
                G.add_edge(a, b, 0, length=spacing, highway="residential",
                           geometry=LineString([pa, pb]))
                G.add_edge(b, a, 0, length=spacing, highway="residential",
                           geometry=LineString([pb, pa]))
    return WalkNetwork(graph=G, source="lattice")


def xy(x, y):
    """A point at lattice coordinates (metres from the lattice origin)."""
    return Point(X0 + x, Y0 + y)


def points(ids, coords, idcol, **cols):
    return gpd.GeoDataFrame({idcol: ids, **cols}, geometry=[xy(*c) for c in coords], crs=CRS)


@pytest.fixture(scope="session")
def sample_result():
    """One run of the bundled sample district, shared by every test that only reads it."""
    import livingcircle as lc

    return lc.run_sample(progress=False)


@pytest.fixture
def in_ci():
    return bool(os.environ.get("CI"))
