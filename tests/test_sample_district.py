"""The synthetic sample district: deterministic, loadable by osmnx, with the documented gaps."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pyogrio
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from scipy.spatial import cKDTree

import livingcircle as lc
from livingcircle.coords import gcj02_to_wgs84
from livingcircle.sample import SYNTHETIC_LABEL
from livingcircle.schema import COMMUNITY_ATTRIBUTES, SITE_TYPES

#: Community attributes the sample district does not have (issue 16 §2, optional).

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "sample_district"
SCRIPT = ROOT / "data" / "make_sample_district.py"
METRIC = "EPSG:32652"
NOT_WALKABLE = {"motorway", "motorway_link", "trunk", "trunk_link"}
FILES = ["README.md", "boundary.geojson", "buildings.csv", "buildings.gpkg", "communities.gpkg",
         "district.osm", "facilities.gpkg", "facilities_amap_gcj02.csv", "gates.gpkg",
         "heritage.gpkg", "sites.gpkg"]
GPKG_LAYERS = {"communities.gpkg": "communities", "gates.gpkg": "gates",
               "facilities.gpkg": "facilities", "sites.gpkg": "sites",
               "buildings.gpkg": "buildings", "heritage.gpkg": "heritage"}
# the deliberate NULLs, as data/sample_district/README.md lists them
EXPECTED_NULLS = {
    "build_year": 2, "households": 2, "population": 2, "elderly_share": 3, "floors": 1,
    "has_elevator": 1, "safety_grade": 2, "complete_units": 1, "owners_committee": 2,
    "management_mode": 2, "resident_funding": 3, "street": 1, "property_premises": 3,
    "location_type": 1,
}


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_sample_district", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_sample_district"] = mod  # dataclasses look their module up here
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def gen_module():
    return _load_generator()


@pytest.fixture(scope="module")
def generated(gen_module, tmp_path_factory):
    return gen_module.make_sample_district(tmp_path_factory.mktemp("district_a"))


@pytest.fixture(scope="module")
def graph():
    old = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = [*old, "foot", "layer"]
    try:
        G = ox.graph_from_xml(DATA / "district.osm", simplify=True, retain_all=True)
    finally:
        ox.settings.useful_tags_way = old
    return G


def _values(v) -> set[str]:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return set()
    return {str(x) for x in np.atleast_1d(v)}


def _walkable(G):
    keep = [
        (u, v, k) for u, v, k, d in G.edges(keys=True, data=True)
        if "highway" in d and not (_values(d["highway"]) & NOT_WALKABLE)
        and "no" not in _values(d.get("foot"))
    ]
    return G.edge_subgraph(keep).copy()


@pytest.fixture(scope="module")
def walk(graph):
    """Largest weakly connected walkable component, projected to metres."""
    W = _walkable(graph)
    comps = sorted(nx.weakly_connected_components(W), key=len, reverse=True)
    lcc = W.subgraph(comps[0]).copy()
    return {"all": W, "components": comps, "lcc": ox.project_graph(lcc, to_crs=METRIC)}


@pytest.fixture(scope="module")
def layers():
    out = {f: gpd.read_file(DATA / f, layer=layer) for f, layer in GPKG_LAYERS.items()}
    out["boundary.geojson"] = gpd.read_file(DATA / "boundary.geojson")
    return out


@pytest.fixture(scope="module")
def origin(layers):
    b = layers["boundary.geojson"].to_crs(METRIC).total_bounds
    return b[0], b[1]


# --- determinism and files ------------------------------------------------------------------

def test_generator_writes_every_file_and_is_deterministic(generated, gen_module, tmp_path):
    again = gen_module.make_sample_district(tmp_path)
    assert sorted(generated["paths"]) == FILES
    for name in FILES:
        assert generated["paths"][name].read_bytes() == again["paths"][name].read_bytes(), name


def test_committed_files_equal_generator_output(generated):
    for name in ("README.md", "boundary.geojson", "district.osm", "facilities_amap_gcj02.csv",
                 "buildings.csv"):
        assert (DATA / name).read_bytes() == generated["paths"][name].read_bytes(), name
    for name, layer in GPKG_LAYERS.items():
        committed = gpd.read_file(DATA / name, layer=layer)
        fresh = gpd.read_file(generated["paths"][name], layer=layer)
        assert_geodataframe_equal(committed, fresh)


def test_output_is_small():
    total = sum((DATA / f).stat().st_size for f in FILES)
    assert total < 5 * 1024 * 1024


def test_every_file_carries_the_synthetic_label():
    for name, layer in GPKG_LAYERS.items():
        meta = pyogrio.read_info(DATA / name, layer=layer)["layer_metadata"]
        assert SYNTHETIC_LABEL in meta["DESCRIPTION"], name
        assert pyogrio.read_info(DATA / name, layer=layer)["crs"] == "EPSG:4326"
    head = (DATA / "district.osm").read_text(encoding="utf-8")[:600]
    assert "<!-- SYNTHETIC" in head and 'generator="livingcircle' in head
    gj = json.loads((DATA / "boundary.geojson").read_text(encoding="utf-8"))
    assert gj["description"] == SYNTHETIC_LABEL
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "合成示例数据" in readme and "SYNTHETIC" in readme
    assert "python data/make_sample_district.py" in readme


# --- the OSM file and the walking network ----------------------------------------------------

def test_osm_size_after_simplification(graph):
    assert 2000 <= len(graph) <= 6000


def test_every_gate_lies_by_the_largest_walkable_component(walk, layers):
    edges = ox.graph_to_gdfs(walk["lcc"], nodes=False)
    gates = layers["gates.gpkg"].to_crs(METRIC)
    _, dist = edges.sindex.nearest(gates.geometry, return_distance=True, return_all=False)
    assert len(dist) == len(gates)
    assert dist.max() < 30.0
    # the gates stand on their community's fence, a few metres from the street centre line
    assert np.median(dist) == pytest.approx(8.0, abs=3.0)


def test_island_is_a_separate_component_and_trunk_is_not_walkable(graph, walk):
    comps = walk["components"]
    assert len(comps) == 2  # the street network and the footway loop in the park
    assert len(comps[1]) <= 6
    assert len(comps[0]) > 1500
    trunk = [d for *_, d in graph.edges(data=True) if "trunk" in _values(d.get("highway"))]
    assert trunk and all(_values(d.get("foot")) == {"no"} for d in trunk)
    assert not any("trunk" in _values(d.get("highway")) for *_, d in walk["lcc"].edges(data=True))


def test_river_is_crossed_on_foot_only_at_three_bridges(walk):
    feats = ox.features_from_xml(DATA / "district.osm", tags={"natural": "water"})
    water = feats.to_crs(METRIC).union_all()
    edges = ox.graph_to_gdfs(walk["lcc"], nodes=False)
    crossing = edges[edges.intersects(water)]
    assert len(crossing) > 0
    assert all("yes" in _values(b) for b in crossing["bridge"])
    pairs = {tuple(sorted(ix[:2])) for ix in crossing.index}
    assert len(pairs) == 3


def _network_distance_to(walk, origin_pts, target_pts):
    """Walking metres from each origin point to the nearest target (node-based approximation)."""
    G = walk["lcc"]
    nodes = list(G.nodes)
    xy = np.array([[G.nodes[n]["x"], G.nodes[n]["y"]] for n in nodes])
    tree = cKDTree(xy)
    dt, it = tree.query(shapely.get_coordinates(target_pts))
    sources = {nodes[k] for k in it}
    dist = nx.multi_source_dijkstra_path_length(G.to_undirected(as_view=True), sources,
                                                weight="length")
    do, io = tree.query(shapely.get_coordinates(origin_pts))
    return np.array([dist.get(nodes[k], np.inf) for k in io]) + do


def test_east_bank_misses_kindergarten_and_day_care(walk, layers):
    fac = layers["facilities.gpkg"].to_crs(METRIC)
    com = layers["communities.gpkg"]
    gates = layers["gates.gpkg"].to_crs(METRIC)
    east_ids = set(com.loc[com["district"] == "南兴区", "community_id"])
    assert len(east_ids) == 20
    east = gates[gates["community_id"].isin(east_ids)]
    west = gates[~gates["community_id"].isin(east_ids)]
    for cat in ("kindergarten", "elderly_day_care"):
        pts = fac.loc[fac["category"] == cat].geometry.representative_point()
        d_east = _network_distance_to(walk, east.geometry, pts)
        assert d_east.min() > 600, cat  # the 5-minute threshold is 300 m
        d_west = _network_distance_to(walk, west.geometry, pts)
        assert d_west.min() < 300, cat  # some west gates are served: the gap is the river's
        assert np.median(d_west) < d_east.min(), cat


def test_northwest_has_no_fresh_market(walk, layers, generated, origin):
    fac = layers["facilities.gpkg"].to_crs(METRIC)
    amap = generated["amap"].to_crs(METRIC)
    pts = np.concatenate([
        np.asarray(fac.loc[fac["category"] == "fresh_market"].geometry),
        np.asarray(amap.loc[amap["category"] == "fresh_market"].geometry),
    ])
    assert len(pts) >= 4
    com = layers["communities.gpkg"].to_crs(METRIC)
    c = com.geometry.centroid
    nw = com[(c.x - origin[0] < 1000) & (c.y - origin[1] > 1750)]
    assert len(nw) >= 3
    gates = layers["gates.gpkg"].to_crs(METRIC)
    g = gates[gates["community_id"].isin(nw["community_id"])]
    assert _network_distance_to(walk, g.geometry, pts).min() > 500  # the 10-minute threshold


# --- facilities -----------------------------------------------------------------------------

def test_every_profile_category_is_present_and_classified_by_name(layers, generated):
    profile = lc.load_profile()
    wanted = {c.id for c in profile.poi_categories()}
    assert "property_management" not in wanted
    fac = layers["facilities.gpkg"]
    assert set(fac["category"]) == wanted
    assert set(generated["amap"]["category"]) <= wanted
    for name, cat in zip(fac["name"], fac["category"], strict=True):
        assert cat in lc.classify_poi(name=name, profile=profile), name
    assert fac["facility_id"].tolist() == [f"F{k + 1:04d}" for k in range(len(fac))]
    assert fac["name"].is_unique


def test_facility_capacities(layers):
    fac = layers["facilities.gpkg"]
    kg = fac.loc[fac["category"] == "kindergarten", "capacity"]
    assert kg.between(90, 360).all()
    dc = fac.loc[fac["category"] == "elderly_day_care", "capacity"]
    assert dc.between(20, 60).all()
    assert fac.loc[fac["category"] == "nursing_home", "capacity"].between(50, 200).all()
    other = ~fac["category"].isin(["kindergarten", "elderly_day_care", "nursing_home"])
    assert fac.loc[other, "capacity"].isna().all()
    assert (fac["category"] == "nursery_childcare").sum() <= 4  # few nurseries, on purpose
    polys = fac[fac.geom_type == "Polygon"]
    assert set(polys["category"]) == {"public_green_park", "large_sports_ground",
                                      "medium_sports_ground"}


def test_osm_pois_classify_into_their_category(layers, generated):
    profile = lc.load_profile()  # the default profile, loaded once (not once per POI)
    feats = ox.features_from_xml(DATA / "district.osm")
    pois = feats.loc["node"]
    pois = pois[pois["name"].notna()]
    truth = dict(zip(layers["facilities.gpkg"]["name"], layers["facilities.gpkg"]["category"],
                     strict=True))
    truth.update(zip(generated["amap"]["name"], generated["amap"]["category"], strict=True))
    assert len(pois) >= 150
    tag_cols = [c for c in pois.columns if c not in ("geometry", "name")]
    found = set()
    for _, row in pois.iterrows():
        tags = {k: row[k] for k in tag_cols if isinstance(row[k], str)}
        cat = truth[row["name"]]
        assert cat in lc.classify_poi(tags, profile=profile), (row["name"], tags)
        found.add(cat)
    assert {"bus_stop", "public_toilet", "kindergarten", "primary_school"} <= found


def test_amap_csv_is_gcj02_and_converts_back(generated):
    raw = (DATA / "facilities_amap_gcj02.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["id", "名称", "类型", "类型编码", "地址", "经度", "纬度"]
    body = rows[1:]
    truth = generated["amap"].set_index("facility_id")
    assert [r[0] for r in body] == list(truth.index)
    assert all(r[0].startswith("A") for r in body)
    glon = np.array([float(r[5]) for r in body])
    glat = np.array([float(r[6]) for r in body])
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    t = shapely.get_coordinates(np.asarray(truth.geometry))
    geod = gpd.GeoSeries(gpd.points_from_xy(wlon, wlat), crs=4326).to_crs(METRIC)
    true = gpd.GeoSeries(gpd.points_from_xy(t[:, 0], t[:, 1]), crs=4326).to_crs(METRIC)
    assert geod.distance(true).max() < 1.0
    shifted = gpd.GeoSeries(gpd.points_from_xy(glon, glat), crs=4326).to_crs(METRIC)
    assert shifted.distance(true).min() > 100  # GCJ-02 really is shifted by hundreds of metres
    # AMap types classify every row except those the profile knows only by name (家政, 早餐, and
    # 驿站, which AMap files with the lockers under 物流速递)
    profile = lc.load_profile()  # the default profile, loaded once (not once per row)
    for r, cat, kind in zip(body, truth["category"], truth["kind"], strict=True):
        by_type = lc.classify_poi(amap_typecode=r[3], amap_type=r[2], profile=profile)
        name_only = ("housekeeping", "breakfast", "express_station")
        assert (cat in by_type) != (kind in name_only), r
        assert cat in lc.classify_poi(name=r[1], profile=profile), r
        assert cat in lc.classify_poi(name=r[1], amap_typecode=r[3], amap_type=r[2],
                                      profile=profile), r


# --- communities, gates, sites --------------------------------------------------------------

def test_community_attributes(layers):
    com = layers["communities.gpkg"]
    assert set(COMMUNITY_ATTRIBUTES) <= set(com.columns)
    assert com["community_id"].tolist() == [f"C{k + 1:03d}" for k in range(80)]
    assert com["name"].is_unique
    assert com.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    nulls = {c: int(com[c].isna().sum()) for c in COMMUNITY_ATTRIBUTES
             if c in com.columns and com[c].isna().any()}
    assert nulls == EXPECTED_NULLS
    year = com["build_year"].dropna()
    assert year.between(1960, 2019).all()
    assert 0.7 <= (year < 2001).mean() <= 0.8
    hh = com["households"].dropna()
    assert hh.between(100, 1500).all()
    ratio = (com["population"] / com["households"]).dropna()
    assert ratio.between(2.6 * 0.95 - 0.01, 2.6 * 1.05 + 0.01).all()
    assert com["elderly_share"].dropna().between(0.1, 0.45).all()
    fl = com["floors"]
    assert fl.dropna().between(2, 18).all()
    assert (fl.dropna() <= 7).mean() > 0.8
    assert (com.loc[fl >= 11, "has_elevator"] == 1).all()
    low = com.loc[fl <= 7, "has_elevator"].dropna()
    assert (low == 0).mean() > 0.9
    assert 3 <= com["heritage"].sum() <= 5
    assert (com["complete_units"] == 0).sum() >= 3
    assert ((com["build_year"] >= 2001) & (com["safety_grade"] == "C")).sum() >= 2
    assert set(com["safety_grade"].dropna()) <= {"A", "B", "C", "D"}
    assert set(com["management_mode"].dropna()) <= {"物业公司", "单位自管", "社区托管", "无"}
    assert set(com["district"]) == {"道安区", "南兴区"}
    # issue 16 §2: 所在地类型 — the city, two listed seats, one place outside 二(一)'s list and one
    # empty cell, each on an old community that the location alone decides; 物业用房 mixed
    loc = com.set_index("community_id")["location_type"]
    assert (loc == "城市").sum() == 76
    odd = loc[loc != "城市"].to_dict() | {c: None for c in loc[loc.isna()].index}
    assert odd == {"C027": "建制镇", "C058": "原农垦", "C061": None, "C064": "森工"}
    old = com.set_index("community_id").loc[list(odd)]
    assert (old["build_year"] <= 2000).all() and old["safety_grade"].isin(["A", "B", "C"]).all()
    assert com["property_premises"].value_counts().to_dict() == {0: 41, 1: 36}


def test_gates_sit_on_their_community_fence(layers):
    com = layers["communities.gpkg"].to_crs(METRIC).set_index("community_id")
    gates = layers["gates.gpkg"].to_crs(METRIC)
    assert gates["gate_id"].is_unique
    per = gates.groupby("community_id").size()
    assert set(per.index) == set(com.index)
    assert per.between(1, 3).all()
    fence = com.loc[gates["community_id"]].geometry.boundary.to_numpy()
    assert shapely.distance(np.asarray(gates.geometry), fence).max() < 0.5


def test_layers_lie_inside_the_boundary(layers):
    b = layers["boundary.geojson"].to_crs(METRIC)
    side = np.sqrt(b.area.iloc[0])
    assert side == pytest.approx(3000, abs=1)
    zone = b.buffer(30).union_all()
    for name in ("communities.gpkg", "facilities.gpkg", "sites.gpkg"):
        assert layers[name].to_crs(METRIC).within(zone).all(), name


def test_sites_sit_where_the_gaps_are(layers, origin):
    s = layers["sites.gpkg"]
    assert 20 <= len(s) <= 30
    assert s["site_id"].tolist() == [f"S{k + 1:02d}" for k in range(len(s))]
    assert set(s["site_type"]) <= set(SITE_TYPES)
    assert {"boiler_room", "vacant_lot", "ground_floor_shop"} <= set(s["site_type"])
    assert s["floor_area_m2"].isna().sum() == 2
    p = s.to_crs(METRIC).geometry
    x, y = p.x - origin[0], p.y - origin[1]
    in_gap = (x > 2250) | ((x < 1000) & (y > 1750))
    assert in_gap.mean() >= 0.6
