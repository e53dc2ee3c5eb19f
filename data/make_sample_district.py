"""Generate the SYNTHETIC sample district (合成示例数据) under ``data/sample_district``.

The district is invented: a Harbin-style old town of about 3 × 3 km whose south-west corner sits
near 126.615 E, 45.745 N. Nothing in it describes real communities, facilities or people. It is laid
out in metres in a local metric projection (UTM zone 52N, EPSG:32652) and written in WGS84:

- an arterial grid every 500 m (primary/secondary, Chinese names), tertiary/residential streets
  half-way between them, and inside every block an alley (footway/service/living_street/path) with
  branch lanes, everything slightly jittered so that it is not a perfect lattice;
- a river running north–south that pedestrians cross only on three bridges (bridge=yes), an
  elevated expressway (highway=trunk, foot=no) that also crosses it, and two short footways
  that touch nothing else (the "island" a network builder must drop);
- about 80 gated communities (小区) with their gates, facilities of every category of the default
  standard profile with deliberate gaps, a part of them as an AMap-style POI export in GCJ-02,
  candidate sites for new facilities, and the study boundary.

Run from the repository root (the output is the same on every run)::

    python data/make_sample_district.py            # writes data/sample_district/
    python data/make_sample_district.py --out DIR  # writes somewhere else
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiPolygon, Point, Polygon

from livingcircle.coords import wgs84_to_gcj02
from livingcircle.sample import SYNTHETIC_LABEL
from livingcircle.schema import COMMUNITY_ATTRIBUTES
from livingcircle.standards import classify_poi, load_profile

logger = logging.getLogger(__name__)

SEED = 20210615  # the day 黑政办规〔2021〕15号 took effect is as good a seed as any
ORIGIN_LONLAT = (126.615, 45.745)  # south-west corner of the district
LAYOUT_CRS = "EPSG:32652"  # WGS 84 / UTM zone 52N, metres
SIZE_M = 3000.0
CELL_M = 250.0
N_CELLS = 12  # 12 × 250 m = 3000 m
SUBDIV = 8  # every 250 m street segment carries 7 intermediate nodes (at k/8)
RIVER_COL = 8  # the cells between x = 2000 m and 2250 m hold the river and its banks
BRIDGE_ROWS = (2, 6, 10)  # east–west streets that cross the river (y = 500, 1500, 2500 m)
TRUNK_ROW = 4  # the expressway runs over the street at y = 1000 m
RIVER_HALF_WIDTH = 35.0
COMMUNITY_INSET_M = 8.0  # community fences stand this far from the street centre line
ALLEY_HALF_GAP_M = 4.0
FIXED_DATE = "2021-06-15T00:00:00.000Z"  # written as GeoPackage last_change for stable bytes
N_COMMUNITIES_WEST = 60
N_COMMUNITIES_EAST = 20
GENERATOR = "livingcircle data/make_sample_district.py (SYNTHETIC sample district)"

NS_STREETS = [  # x-lines i = 0..12 (north–south)
    "安和街", "通达街", "景阳街", "民康街", "红星街", "振兴街", "友谊街", "新阳街",
    "江畔大街", "河东街", "兴华街", "曙光街", "松滨街",
]
EW_STREETS = [  # y-lines j = 0..12 (east–west)
    "南环路", "头道街", "建国路", "二道街", "东风路", "三道街", "胜利路", "四道街",
    "和平路", "五道街", "光华路", "六道街", "北环路",
]
BRIDGE_NAMES = {2: "建国桥", 6: "胜利桥", 10: "光华桥"}
DISTRICTS = {"west": "道安区", "east": "南兴区"}  # invented names in the style of 道里区/南岗区
SUBDISTRICTS = {"west_south": "安和街道", "west_north": "民康街道", "east": "兴华街道"}

COMMUNITY_PREFIXES = [
    "民安", "兴华", "安居", "和平", "红旗", "工人", "铁路", "机电", "纺织", "建国", "友谊", "松花",
    "新阳", "曙光", "东风", "胜利", "光华", "永安", "长青", "景阳", "通达", "振兴", "红星", "宏伟",
    "康乐", "福顺", "吉祥", "富强", "文昌", "育才", "林机", "电表", "轴承", "量具", "亚麻", "车辆",
    "电机", "汽轮", "轻工", "粮库", "水泥", "造纸", "毛纺", "卷烟", "啤酒", "制药", "仪表", "刃具",
    "铸造", "邮电", "税务", "教师", "公安", "水利", "电业", "煤气", "供热", "物资", "商业", "外贸",
    "粮食", "林业", "农机", "建工", "市政", "环卫", "航运", "江桥", "安静", "丽江", "阳光", "和谐",
    "金色", "御景", "锦绣", "春晖", "同乐", "兴隆", "安康", "保安", "福泰", "瑞丰", "恒盛", "嘉禾",
]
HERITAGE_PREFIXES = ["德润里", "宝裕里", "福昌里", "恒和里"]
SHOP_BRANDS = ["好邻居", "家乐家", "邻里", "鑫源", "百佳乐", "惠民", "日日升", "万家福", "便民家",
               "利客来", "一品", "福满多"]

# AMap type strings and codes as the default profile's rules expect them
AMAP = {
    "convenience_store": ("购物服务;便民商店/便利店;便民商店/便利店", "060200"),
    "supermarket": ("购物服务;超级市场;超市", "060400"),
    "fresh_market": ("购物服务;综合市场;蔬菜市场", "060705"),
    "parcel_delivery": ("生活服务;物流速递;物流速递", "070500"),
    "express_station": ("生活服务;物流速递;物流速递", "070500"),  # AMap files 驿站 with lockers
    "post_office": ("生活服务;邮局;邮局", "070400"),
    "car_parking_charging": ("交通设施服务;停车场;公共停车场", "150904"),
    "barber": ("生活服务;美容美发店;美容美发店", "071100"),
    "laundry": ("生活服务;洗衣店;洗衣店", "071500"),
    "repair": ("生活服务;维修站点;维修站点", "071200"),
    "pharmacy": ("医疗保健服务;医药保健销售店;药房", "090601"),
    "housekeeping": ("生活服务;生活服务场所;生活服务场所", "070000"),
    "breakfast": ("餐饮服务;快餐厅;快餐厅", "050300"),
}


# ---------------------------------------------------------------------------------------------
# the street network
# ---------------------------------------------------------------------------------------------


@dataclass
class OsmData:
    """Nodes (id -> x, y in layout metres, tags) and ways (id -> node ids, tags)."""

    xy: list[tuple[float, float]] = field(default_factory=list)
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)
    ways: list[tuple[list[int], dict[str, str]]] = field(default_factory=list)

    def node(self, x: float, y: float, tags: dict[str, str] | None = None) -> int:
        self.xy.append((float(x), float(y)))
        nid = len(self.xy)  # OSM ids start at 1
        if tags:
            self.node_tags[nid] = dict(tags)
        return nid

    def way(self, nodes: list[int], tags: dict[str, str]) -> None:
        self.ways.append((list(nodes), dict(tags)))

    def coords(self, nodes: list[int]) -> np.ndarray:
        return np.array([self.xy[n - 1] for n in nodes])


@dataclass
class Layout:
    """The street grid and what the rest of the generator needs to know about it."""

    osm: OsmData
    grid: np.ndarray  # (13, 13) node ids of the intersections
    hseg: dict[tuple[int, int], list[int]]  # (i, j): nodes from grid[i, j] to grid[i+1, j]
    vseg: dict[tuple[int, int], list[int]]  # (i, j): nodes from grid[i, j] to grid[i, j+1]
    cells: dict[tuple[int, int], dict]
    river_centre: LineString
    water: Polygon
    river_banks: list[Polygon]


def _street_class(index: int, *, rng: np.random.Generator) -> str:
    if index in (0, N_CELLS) or index % 4 == 0:
        return "primary"
    if index % 2 == 0:
        return "secondary"
    return "tertiary" if rng.random() < 0.4 else "residential"


def _segment_nodes(osm: OsmData, a: int, b: int, rng: np.random.Generator) -> list[int]:
    """Nodes along a street segment: a, 7 jittered intermediate nodes, b."""
    pa, pb = np.array(osm.xy[a - 1]), np.array(osm.xy[b - 1])
    d = pb - pa
    length = float(np.hypot(*d))
    u = d / length
    n = np.array([-u[1], u[0]])
    out = [a]
    for k in range(1, SUBDIV):
        p = pa + d * k / SUBDIV + u * rng.uniform(-3, 3) + n * rng.uniform(-1.5, 1.5)
        out.append(osm.node(*p))
    out.append(b)
    return out


def _river_x(y: float, phase: float) -> float:
    return 2125.0 + 22.0 * math.sin(2 * math.pi * y / 1400.0 + phase)


def build_layout(rng: np.random.Generator) -> Layout:
    """Lay out streets, alleys, river, bridges and expressway in layout metres."""
    osm = OsmData()
    n = N_CELLS + 1
    grid = np.zeros((n, n), dtype=int)
    for i in range(n):
        for j in range(n):
            jx, jy = np.clip(rng.normal(0, 8, size=2), -18, 18)
            if i in (RIVER_COL, RIVER_COL + 1):
                jx = np.clip(jx, -8, 8)
            grid[i, j] = osm.node(i * CELL_M + jx, j * CELL_M + jy)

    phase = float(rng.uniform(0, 2 * math.pi))
    ys = np.arange(-150.0, SIZE_M + 151.0, 50.0)
    centre = LineString([(_river_x(y, phase), y) for y in ys])
    water = centre.buffer(RIVER_HALF_WIDTH, cap_style="flat", quad_segs=2)
    water = shapely.simplify(water, 0.5)

    ns_class = [_street_class(i, rng=rng) for i in range(n)]
    ew_class = [_street_class(j, rng=rng) for j in range(n)]
    ns_class[RIVER_COL + 1] = "tertiary"

    hseg: dict[tuple[int, int], list[int]] = {}
    vseg: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        for j in range(N_CELLS):
            vseg[(i, j)] = _segment_nodes(osm, grid[i, j], grid[i, j + 1], rng)
    for j in range(n):
        for i in range(N_CELLS):
            if i == RIVER_COL:
                continue
            hseg[(i, j)] = _segment_nodes(osm, grid[i, j], grid[i + 1, j], rng)

    # north–south streets: one way per line
    for i in range(n):
        nodes = [grid[i, 0]]
        for j in range(N_CELLS):
            nodes += vseg[(i, j)][1:]
        osm.way(nodes, {"highway": ns_class[i], "name": NS_STREETS[i]})

    # east–west streets: west part, (bridge), east part
    for j in range(n):
        tags = {"highway": ew_class[j], "name": EW_STREETS[j]}
        west = [grid[0, j]]
        for i in range(RIVER_COL):
            west += hseg[(i, j)][1:]
        east = [grid[RIVER_COL + 1, j]]
        for i in range(RIVER_COL + 1, N_CELLS):
            east += hseg[(i, j)][1:]
        if j in BRIDGE_ROWS:
            a, b = grid[RIVER_COL, j], grid[RIVER_COL + 1, j]
            pa, pb = np.array(osm.xy[a - 1]), np.array(osm.xy[b - 1])
            y = (pa[1] + pb[1]) / 2
            xw = _river_x(y, phase) - RIVER_HALF_WIDTH - 12.0
            xe = _river_x(y, phase) + RIVER_HALF_WIDTH + 12.0
            slope = (pb[1] - pa[1]) / (pb[0] - pa[0])
            aw = osm.node(xw, pa[1] + slope * (xw - pa[0]))
            ae = osm.node(xe, pa[1] + slope * (xe - pa[0]))
            xm = (xw + xe) / 2
            mid = osm.node(xm, pa[1] + slope * (xm - pa[0]))
            osm.way(west + [aw], tags)
            osm.way([aw, mid, ae], {**tags, "name": BRIDGE_NAMES[j], "bridge": "yes",
                                    "layer": "1"})
            osm.way([ae] + east, tags)
            hseg[(RIVER_COL, j)] = [a, aw, mid, ae, b]
        else:
            osm.way(west, tags)
            osm.way(east, tags)

    # the elevated expressway over 东风路: no pedestrians, ramps only at its two ends
    a, b = grid[6, TRUNK_ROW], grid[11, TRUNK_ROW]
    pa, pb = np.array(osm.xy[a - 1]), np.array(osm.xy[b - 1])
    trunk = [a]
    for k in range(1, 25):
        p = pa + (pb - pa) * k / 25 + np.array([0.0, 2.0])
        trunk.append(osm.node(*p))
    trunk.append(b)
    osm.way(trunk, {"highway": "trunk", "name": "二环快速路", "foot": "no", "bicycle": "no",
                    "motorroad": "yes", "bridge": "yes", "layer": "1", "oneway": "no"})

    # the river: centre line and water area
    river_nodes = [osm.node(x, y) for x, y in centre.coords]
    osm.way(river_nodes, {"waterway": "river", "name": "马家河"})
    ring = list(water.exterior.coords)[:-1]
    ring_nodes = [osm.node(x, y) for x, y in ring]
    osm.way(ring_nodes + [ring_nodes[0]], {"natural": "water", "water": "river",
                                          "name": "马家河"})

    # blocks: every cell outside the river column gets an alley and is split in two halves
    cells: dict[tuple[int, int], dict] = {}
    for i in range(N_CELLS):
        for j in range(N_CELLS):
            if i == RIVER_COL:
                continue
            cells[(i, j)] = _make_cell(osm, i, j, hseg, vseg, rng)

    # riverside green between the bank roads and the water
    banks = []
    for side in (RIVER_COL, RIVER_COL + 1):
        line = np.vstack([osm.coords(vseg[(side, j)]) for j in range(N_CELLS)])
        strip = Polygon(
            [(x + (COMMUNITY_INSET_M if side == RIVER_COL else -COMMUNITY_INSET_M), y)
             for x, y in line]
            + [(2125.0, line[-1, 1] - COMMUNITY_INSET_M), (2125.0, line[0, 1] + COMMUNITY_INSET_M)]
        ).buffer(0)
        strip = strip.difference(water.buffer(6.0))
        if isinstance(strip, MultiPolygon):
            strip = max(strip.geoms, key=lambda g: g.area)
        banks.append(shapely.simplify(strip, 1.0))
    return Layout(osm, grid, hseg, vseg, cells, centre, water, banks)


def _make_cell(osm, i, j, hseg, vseg, rng) -> dict:
    """Alley, branch lanes and the two halves of one block."""
    south, north = hseg[(i, j)], hseg[(i, j + 1)]
    west, east = vseg[(i, j)], vseg[(i + 1, j)]
    ring = np.vstack([osm.coords(south), osm.coords(east)[1:], osm.coords(north)[::-1][1:],
                      osm.coords(west)[::-1][1:]])
    block = Polygon(ring)
    inner = block.buffer(-COMMUNITY_INSET_M, join_style="mitre")

    ew = bool(rng.random() < 0.5)
    if ew:  # alley from the west street to the east street; halves south / north
        start, end = west[SUBDIV // 2], east[SUBDIV // 2]
        outer = {"a": south, "b": north}
    else:  # alley from the south street to the north street; halves west / east
        start, end = south[SUBDIV // 2], north[SUBDIV // 2]
        outer = {"a": west, "b": east}
    p0, p1 = np.array(osm.xy[start - 1]), np.array(osm.xy[end - 1])
    d = p1 - p0
    u = d / np.hypot(*d)
    nrm = np.array([-u[1], u[0]])
    alley = [start]
    for k in range(1, SUBDIV):
        p = p0 + d * k / SUBDIV + nrm * rng.uniform(-5, 5)
        alley.append(osm.node(*p))
    alley.append(end)
    kind = str(rng.choice(["footway", "service", "living_street", "path"],
                          p=[0.35, 0.30, 0.20, 0.15]))
    tags = {"highway": kind}
    if kind == "service":
        tags["service"] = "alley"
    osm.way(alley, tags)

    line = LineString(osm.coords(alley))
    pieces = inner.difference(line.buffer(ALLEY_HALF_GAP_M, cap_style="flat"))
    parts = list(pieces.geoms) if isinstance(pieces, MultiPolygon) else [pieces]
    parts = sorted((p for p in parts if p.area > 2000), key=lambda g: -g.area)[:2]
    mid = np.array(line.interpolate(0.5, normalized=True).coords[0])

    def side_of(g):
        c = np.array(g.representative_point().coords[0])
        return "b" if float(np.dot(c - mid, nrm)) > 0 else "a"

    halves = {}
    for g in parts:
        halves[side_of(g)] = shapely.simplify(g, 0.3)
    # in an east–west alley nrm points north ("b" = north); in a south–north alley it points west
    if not ew:
        halves = {"a" if k == "b" else "b": v for k, v in halves.items()}
    return {"block": block, "inner": inner, "ew": ew, "alley": alley, "outer": outer,
            "halves": halves, "sides": {"south": south, "north": north, "west": west,
                                        "east": east}}


def add_branches(layout: Layout, cell_key, half: str, rng: np.random.Generator,
                 *, n_branches: int) -> None:
    """Branch lanes from the alley into one half, some through to the outer street."""
    osm = layout.osm
    cell = layout.cells[cell_key]
    outer = cell["outer"][half]
    ks = rng.choice([1, 2, 3, 5, 6, 7], size=n_branches, replace=False)
    for k in sorted(int(v) for v in ks):
        a = cell["alley"][k]
        s = outer[k]
        pa, ps = np.array(osm.xy[a - 1]), np.array(osm.xy[s - 1])
        kind = str(rng.choice(["service", "footway"], p=[0.5, 0.5]))
        tags = {"highway": kind}
        if kind == "service":
            tags["service"] = "driveway"
        if rng.random() < 0.3:
            m = osm.node(*((pa + ps) / 2 + rng.uniform(-3, 3, size=2)))
            osm.way([a, m, s], tags)
        else:
            depth = rng.uniform(0.45, 0.75)
            m = osm.node(*(pa + (ps - pa) * depth / 2 + rng.uniform(-3, 3, size=2)))
            e = osm.node(*(pa + (ps - pa) * depth))
            osm.way([a, m, e], tags)
            if rng.random() < 0.4:  # a T at the end: paths to the building entrances
                v = (ps - pa) / np.hypot(*(ps - pa))
                perp = np.array([-v[1], v[0]])
                pe = np.array(osm.xy[e - 1])
                left = osm.node(*(pe + perp * rng.uniform(15, 25)))
                right = osm.node(*(pe - perp * rng.uniform(15, 25)))
                osm.way([left, e, right], {"highway": "footway"})


# ---------------------------------------------------------------------------------------------
# communities and gates
# ---------------------------------------------------------------------------------------------


def _region(i: int) -> str:
    return "east" if i > RIVER_COL else "west"


def _manhattan(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Grid (Manhattan) distances between the rows of ``a`` (n, 2) and ``b`` (m, 2), in metres."""
    return np.abs(a[:, None, 0] - b[None, :, 0]) + np.abs(a[:, None, 1] - b[None, :, 1])


def greedy_cover(dist: np.ndarray, radius: float, *, share: float, max_n: int,
                 weights: np.ndarray | None = None) -> list[int]:
    """Pick candidates (columns of ``dist``) until ``share`` of the targets (rows) are covered.

    A target is covered when its distance to a picked candidate is at most ``radius``. Each step
    takes the candidate that covers the most (weighted) uncovered targets, the first on ties, so
    the result is deterministic for a given candidate order. It stops early when no candidate
    adds anything or ``max_n`` are picked.
    """
    n = dist.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    reach = dist <= radius
    covered = np.zeros(n, dtype=bool)
    picked: list[int] = []
    total = w.sum()
    while len(picked) < max_n and total > 0 and w[covered].sum() / total < share:
        gain = (reach & ~covered[:, None]).astype(float).T @ w
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            break
        picked.append(best)
        covered |= reach[:, best]
    return picked


# half-block uses placed to cover the half blocks of a bank: (use, radius m, share, max count);
# the radius is a grid distance a little shorter than the walking threshold of the category
HALF_PLAN = {
    "west": [("junior_high_school", 850.0, 0.97, 4), ("primary_school", 420.0, 0.85, 11),
             ("park", 420.0, 0.82, 8), ("medium_sports_ground", 420.0, 0.80, 7),
             ("large_sports_ground", 850.0, 0.90, 2)],
    "east": [("junior_high_school", 850.0, 0.90, 1), ("primary_school", 420.0, 0.60, 3),
             ("park", 420.0, 0.45, 2), ("medium_sports_ground", 420.0, 0.40, 2)],
}


def allocate_halves(layout: Layout, rng: np.random.Generator) -> dict[tuple, str]:
    """Decide what stands on every half block: community, school, park, sports or other.

    Schools, parks and sports grounds are spread over each bank so that most half blocks lie
    within reach of one (greedy cover on grid distance); the communities take the first of the
    remaining half blocks in a random order.
    """
    use: dict[tuple, str] = {}
    for region, n_comm in (("west", N_COMMUNITIES_WEST), ("east", N_COMMUNITIES_EAST)):
        halves = [(c, h) for c in sorted(layout.cells)
                  if (c[0] < RIVER_COL) == (region == "west")
                  for h in sorted(layout.cells[c]["halves"])]
        order = [halves[k] for k in rng.permutation(len(halves))]
        cent = np.array([layout.cells[c]["halves"][h].centroid.coords[0] for c, h in order])
        dist = _manhattan(cent, cent)
        free = np.ones(len(order), dtype=bool)
        for what, radius, share, max_n in HALF_PLAN[region]:
            d = np.where(free[None, :], dist, np.inf)
            for k in greedy_cover(d, radius, share=share, max_n=max_n):
                use[order[k]] = what
                free[k] = False
        rest = [order[k] for k in range(len(order)) if free[k]]
        for key in rest[:n_comm]:
            use[key] = "community"
        for key in rest[n_comm:]:
            use[key] = "other"
    return use


def _gate_on_side(poly: Polygon, street: LineString, t: float) -> Point:
    p = street.interpolate(t, normalized=True)
    return poly.exterior.interpolate(poly.exterior.project(p))


#: 所在地类型 (二(一)) of the communities that do not lie in the city proper; the rest are 城市.
#: Chosen among the communities in scope by their build year alone (built by 2000, grade A–C,
#: complete units known), so that each value changes what the location rule decides.
LOCATION_EXCEPTIONS = {"森工": 1, "原农垦": 1, "建制镇": 1, None: 1}
#: Share of communities with property premises (物业用房) by management mode (invented, plausible:
#: a property company usually has premises, a community without management usually not).
PREMISES_SHARE = {"物业公司": 0.9, "单位自管": 0.5, "社区托管": 0.3, "无": 0.1}
N_PREMISES_UNKNOWN = 3


def _policy_attributes(df: pd.DataFrame, rng: np.random.Generator) -> None:
    """Add ``location_type`` and ``property_premises`` (issue 16 §2) to the communities in place.

    They come from their own random generator (``rng``), so that adding them left every other
    layer of the sample as it was. ``location_type``: 城市 except :data:`LOCATION_EXCEPTIONS`
    (a 森工 and a 原农垦 seat, listed in 二(一); a 建制镇, not listed; one empty cell, unknown).
    ``property_premises``: drawn with :data:`PREMISES_SHARE` by management mode (0.5 where the
    mode is unknown), then :data:`N_PREMISES_UNKNOWN` empty cells.
    """
    n = len(df)
    old = ((df["build_year"] <= 2000) & df["safety_grade"].isin(["A", "B", "C"])
           & df["complete_units"].notna() & ~df["heritage"]).fillna(False)
    pick = iter(rng.permutation(np.flatnonzero(old.to_numpy())))
    location = np.array(["城市"] * n, dtype=object)
    for value, count in LOCATION_EXCEPTIONS.items():
        for _ in range(count):
            location[next(pick)] = value
    df["location_type"] = pd.array(location, dtype=COMMUNITY_ATTRIBUTES["location_type"])
    share = df["management_mode"].map(PREMISES_SHARE).fillna(0.5).to_numpy(dtype=float)
    premises = pd.array(rng.random(n) < share, dtype=COMMUNITY_ATTRIBUTES["property_premises"])
    premises[rng.choice(n, size=N_PREMISES_UNKNOWN, replace=False)] = pd.NA
    df["property_premises"] = premises


def make_communities(layout: Layout, use: dict, rng: np.random.Generator):
    """Community polygons with all attributes of the data model, and their gates."""
    osm = layout.osm
    keys = [k for k in sorted(use) if use[k] == "community"]
    geoms = [layout.cells[c]["halves"][h] for c, h in keys]
    cent = np.array([g.centroid.coords[0] for g in geoms])
    order = np.lexsort((cent[:, 0], np.round(cent[:, 1] / CELL_M)))  # south→north, west→east
    keys = [keys[k] for k in order]
    geoms = [geoms[k] for k in order]
    cent = cent[order]
    n = len(keys)

    # heritage: the four communities nearest the old core around (600, 700)
    core = np.hypot(cent[:, 0] - 600, cent[:, 1] - 700)
    heritage = np.zeros(n, dtype=bool)
    heritage[np.argsort(core)[:4]] = True

    decades = np.array([1960] * 8 + [1970] * 14 + [1980] * 22 + [1990] * 16 + [2000] * 14
                       + [2010] * 6)
    assert len(decades) == n, (len(decades), n)
    rest = list(decades)
    for _ in range(int(heritage.sum())):
        rest.remove(1960)
    rest = np.array(rest)[rng.permutation(len(rest))]
    decade = np.zeros(n, dtype=int)
    decade[heritage] = 1960
    decade[~heritage] = rest
    year = decade + rng.integers(0, 10, size=n)
    year[decade == 2000] = 2000 + rng.integers(1, 10, size=int((decade == 2000).sum()))
    year[heritage] = 1960 + rng.integers(0, 4, size=int(heritage.sum()))

    floors = np.zeros(n, dtype=int)
    for k in range(n):
        if heritage[k]:
            floors[k] = rng.integers(2, 4)
        elif decade[k] <= 1970:
            floors[k] = rng.integers(3, 6)
        elif decade[k] <= 1990:
            floors[k] = rng.choice([5, 6, 6, 7])
        elif decade[k] == 2000:
            floors[k] = rng.integers(11, 19) if rng.random() < 0.4 else rng.choice([6, 7])
        else:
            floors[k] = rng.integers(11, 19) if rng.random() < 0.6 else rng.choice([6, 7])
    elevator = floors >= 11
    retrofit = [k for k in rng.permutation(n) if decade[k] == 1990 and floors[k] <= 7][:3]
    elevator[retrofit] = True  # 加装电梯 already done

    grade = np.empty(n, dtype=object)
    for k in range(n):
        if decade[k] <= 1970:
            grade[k] = rng.choice(["B", "C", "D"], p=[0.4, 0.45, 0.15])
        elif decade[k] <= 1990:
            grade[k] = rng.choice(["A", "B", "C"], p=[0.1, 0.6, 0.3])
        else:
            grade[k] = rng.choice(["A", "B"], p=[0.5, 0.5])
    post = [k for k in rng.permutation(n) if year[k] >= 2001]
    for k in post[:3]:
        grade[k] = "C"

    complete = np.ones(n, dtype=bool)
    old = [k for k in rng.permutation(n) if decade[k] <= 1970 and not heritage[k]]
    complete[old[:4]] = False
    complete[np.flatnonzero(heritage)[:2]] = False

    area = np.array([g.area for g in geoms])
    far = floors * 0.28 * rng.uniform(0.8, 1.2, size=n)
    households = np.clip(np.round(area * far / 65.0), 100, 1500).astype(int)
    population = np.round(households * 2.6 * rng.uniform(0.95, 1.05, size=n)).astype(int)
    base = {1960: 0.34, 1970: 0.30, 1980: 0.26, 1990: 0.22, 2000: 0.16, 2010: 0.13}
    elderly = np.round(np.clip([base[d] + rng.normal(0, 0.04) for d in decade], 0.10, 0.45), 3)

    owners = np.array([rng.random() < (0.15 if d < 1990 else 0.35 if d == 1990 else 0.75)
                       for d in decade])
    prop_comm = np.array([(not o) and rng.random() < 0.4 for o in owners])
    modes = []
    for k in range(n):
        if heritage[k]:
            modes.append(str(rng.choice(["社区托管", "无"])))
        elif decade[k] < 1990:
            modes.append(str(rng.choice(["单位自管", "社区托管", "无"], p=[0.3, 0.35, 0.35])))
        elif decade[k] == 1990:
            modes.append(str(rng.choice(["物业公司", "单位自管", "社区托管", "无"],
                                        p=[0.35, 0.25, 0.25, 0.15])))
        else:
            modes.append(str(rng.choice(["物业公司", "社区托管"], p=[0.85, 0.15])))
    funding = np.array([rng.random() < (0.25 if d < 1990 else 0.35) for d in decade])

    prefixes = [COMMUNITY_PREFIXES[k] for k in rng.permutation(len(COMMUNITY_PREFIXES))]
    names = []
    hp = iter(HERITAGE_PREFIXES)
    for k in range(n):
        if heritage[k]:
            names.append(f"{next(hp)}巴洛克街坊")
            continue
        p = prefixes.pop()
        if decade[k] >= 2000:
            names.append(p + str(rng.choice(["家园", "名苑", "小区"])))
        else:
            names.append(p + str(rng.choice(["小区", "家属楼", "新村", "住宅区"],
                                            p=[0.6, 0.2, 0.12, 0.08])))

    districts, streets = [], []
    for (c, _h), ct in zip(keys, cent, strict=True):
        r = _region(c[0])
        districts.append(DISTRICTS[r])
        if r == "east":
            streets.append(SUBDISTRICTS["east"])
        else:
            streets.append(SUBDISTRICTS["west_south" if ct[1] < 1500 else "west_north"])

    df = pd.DataFrame({
        "community_id": [f"C{k + 1:03d}" for k in range(n)],
        "name": names,
        "build_year": year,
        "households": households,
        "population": population,
        "elderly_share": elderly,
        "floors": floors,
        "has_elevator": elevator,
        "safety_grade": grade.astype(str),
        "complete_units": complete,
        "heritage": heritage,
        "owners_committee": owners,
        "property_committee": prop_comm,
        "management_mode": modes,
        "resident_funding": funding,
        "district": districts,
        "street": streets,
    })
    for col, dtype in COMMUNITY_ATTRIBUTES.items():
        if col in df.columns:  # property_premises, location_type: added below
            df[col] = df[col].astype(dtype)

    # deliberate unknowns (NULL): a missing attribute means "unknown", never a guess
    nulls = {
        "build_year": 2, "households": 2, "elderly_share": 3, "floors": 1, "safety_grade": 2,
        "complete_units": 1, "owners_committee": 2, "management_mode": 2,
        "resident_funding": 3, "street": 1,
    }
    candidates = [k for k in rng.permutation(n)]
    her_idx = int(np.flatnonzero(heritage)[-1])
    candidates.remove(her_idx)
    candidates.insert(0, her_idx)  # one heritage block has no known build year
    pos = 0
    for col, cnt in nulls.items():
        rows = candidates[pos:pos + cnt]
        pos += cnt
        df.loc[rows, col] = pd.NA
        if col == "households":
            df.loc[rows, "population"] = pd.NA
        if col == "floors":
            df.loc[rows, "has_elevator"] = pd.NA
    _policy_attributes(df, np.random.default_rng([SEED, 16]))  # its own generator: see there

    # gates: 1–3 per community, on the fence facing a street or the alley
    gates = []
    for k, ((c, h), g) in enumerate(zip(keys, geoms, strict=True)):
        cell = layout.cells[c]
        outer = LineString(osm.coords(cell["outer"][h]))
        if cell["ew"]:
            lateral = [LineString(osm.coords(cell["sides"]["west"])),
                       LineString(osm.coords(cell["sides"]["east"]))]
        else:
            lateral = [LineString(osm.coords(cell["sides"]["south"])),
                       LineString(osm.coords(cell["sides"]["north"]))]
        lat_range = (0.12, 0.38) if h == "a" else (0.62, 0.88)
        n_g = int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25]))
        pts = [_gate_on_side(g, outer, rng.uniform(0.2, 0.8))]
        if n_g >= 2:
            pts.append(_gate_on_side(g, lateral[int(rng.integers(0, 2))],
                                     rng.uniform(*lat_range)))
        if n_g >= 3:
            alley = LineString(osm.coords(cell["alley"]))
            pts.append(_gate_on_side(g, alley, rng.uniform(0.2, 0.8)))
        cid = df.at[k, "community_id"]
        for m, p in enumerate(pts):
            gates.append({"gate_id": f"{cid}-G{m + 1}", "community_id": cid, "geometry": p})
    return df, geoms, keys, pd.DataFrame(gates)


# ---------------------------------------------------------------------------------------------
# facilities and sites
# ---------------------------------------------------------------------------------------------


@dataclass
class Placer:
    """Places points on street frontages and inside blocks, with the region rules of the gaps."""

    layout: Layout
    rng: np.random.Generator

    def cells_where(self, rule: str) -> list[tuple[int, int]]:
        keys = sorted(self.layout.cells)
        if rule == "west":
            return [c for c in keys if c[0] < RIVER_COL]
        if rule == "east":
            return [c for c in keys if c[0] > RIVER_COL]
        if rule == "west_far":  # far from the river: keeps the east bank's 300 m gaps honest
            return [c for c in keys if c[0] <= 6]
        if rule == "market_ok":  # no fresh market near the north-west area (x < 1000, y > 1750)
            return [c for c in keys if c[0] >= 6 or c[1] <= 3]
        if rule == "market_ok_west":  # the same, on the west bank, kept > 500 m from that area
            return [c for c in keys if c[0] < RIVER_COL
                    and (c[1] <= 3 or c[0] >= 7 or (c[0] == 6 and c[1] <= 5))]
        if rule == "northwest":
            return [c for c in keys if c[0] <= 3 and c[1] >= 7]
        return keys

    def frontage(self, rule: str) -> tuple[Point, str]:
        """A point 11 m inside a block from a street, and that street's name."""
        cells = self.cells_where(rule)
        c = cells[int(self.rng.integers(0, len(cells)))]
        cell = self.layout.cells[c]
        side = str(self.rng.choice(["south", "north", "west", "east"]))
        line = LineString(self.layout.osm.coords(cell["sides"][side]))
        t = self.rng.uniform(0.12, 0.88)
        p = np.array(line.interpolate(t, normalized=True).coords[0])
        centre = np.array(cell["block"].centroid.coords[0])
        v = centre - p
        p = p + v / np.hypot(*v) * 11.0
        i, j = c
        street = {"south": EW_STREETS[j], "north": EW_STREETS[j + 1],
                  "west": NS_STREETS[i], "east": NS_STREETS[i + 1]}[side]
        return Point(p), street


def _check_name(name: str, category: str, profile) -> None:
    got = classify_poi(name=name, profile=profile)
    if category not in got:
        msg = f"generated name {name!r} is not classified as {category!r} (got {got})"
        raise AssertionError(msg)


def make_facilities(layout: Layout, use: dict, communities: pd.DataFrame, geoms, keys,
                    gates: pd.DataFrame, rng: np.random.Generator):
    """Facilities of every profile category, with the deliberate gaps."""
    profile = load_profile()
    placer = Placer(layout, rng)
    rows: list[dict] = []
    counter: dict[str, int] = {}

    def add(category, name, geom, *, capacity=np.nan, kind=None, csv_share=0.0, osm=None,
            street=""):
        _check_name(name, category, profile)
        counter[name] = counter.get(name, 0) + 1
        if counter[name] > 1:
            name = f"{name}({counter[name]}号)" if not name.endswith(")") else \
                name[:-1] + f"·{counter[name]})"
        x = geom.centroid.x
        rows.append({"category": category, "name": name, "geometry": geom,
                     "capacity": float(capacity), "kind": kind or category, "street": street,
                     "region": "east" if x > (RIVER_COL + 1) * CELL_M else "west",
                     "in_csv": bool(rng.random() < csv_share),
                     "in_osm": osm if osm is not None else bool(rng.random() < 0.4)})

    # schools, parks and sports grounds on their own half blocks
    half_names = {}
    for (c, h), what in sorted(use.items()):
        g = layout.cells[c]["halves"][h]
        i, j = c
        place = NS_STREETS[i] if h == "a" else NS_STREETS[i + 1]
        if what in ("primary_school", "junior_high_school"):  # at the school gate
            outer = LineString(layout.osm.coords(layout.cells[c]["outer"][h]))
            q = np.array(_gate_on_side(g, outer, 0.5).coords[0])
            r = np.array(g.representative_point().coords[0])
            p = Point(q + (r - q) / np.hypot(*(r - q)) * 6.0)
            name = f"{place}小学" if what == "primary_school" else f"{EW_STREETS[j]}中学"
            add(what, name, p, osm=True)
        elif what == "park":
            nm = f"{EW_STREETS[j]}街心游园" if len(half_names) % 2 else f"{place}公园"
            half_names[(c, h)] = nm
            add("public_green_park", nm, g, osm=True)
        elif what == "large_sports_ground":
            add(what, f"{place}体育馆", g, osm=True)
        elif what == "medium_sports_ground":
            add(what, f"{place}运动场", g, osm=True)
    for side, g in zip(("西岸", "东岸"), layout.river_banks, strict=True):
        add("public_green_park", f"马家河{side}滨河绿地", g, osm=True)

    # points along the streets (region rule, count)
    def frontage(category, rule, count, make_name, **kw):
        for _ in range(count):
            p, street = placer.frontage(rule)
            name, extra = make_name(street)
            add(category, name, p, street=street, **{**kw, **extra})

    brand = lambda: SHOP_BRANDS[int(rng.integers(0, len(SHOP_BRANDS)))]  # noqa: E731

    # where every community's gates are, for the coverage of the street-front facilities
    g_xy = shapely.get_coordinates(np.asarray(gates["geometry"]))
    g_owner = gates["community_id"].to_numpy()
    ids = list(communities["community_id"])
    com_region = {cid: _region(keys[k][0][0]) for k, cid in enumerate(ids)}

    def covered(category, rule, region, radius, share, max_n, make_name, *, n_cand=160, **kw):
        """Street-front facilities picked from random candidates to cover a bank's communities.

        ``radius`` is a grid distance from a gate, a little shorter than the walking threshold;
        the greedy cover stops at ``share`` of the bank's communities or ``max_n`` facilities.
        """
        cands = [placer.frontage(rule) for _ in range(n_cand)]
        pts = np.array([[p.x, p.y] for p, _ in cands])
        d_gate = _manhattan(g_xy, pts)
        members = [cid for cid in ids if com_region[cid] == region]
        d = np.vstack([d_gate[g_owner == cid].min(axis=0) for cid in members])
        for k in greedy_cover(d, radius, share=share, max_n=max_n):
            p, street = cands[k]
            name, extra = make_name(street)
            add(category, name, p, street=street, **{**kw, **extra})

    # (category, rule, region, grid radius, share of the bank's communities, max count, name)
    r5, r10, r15 = 240.0, 420.0, 850.0
    covered("kindergarten", "west_far", "west", r5, 0.9, 26,
            lambda s: (f"{s}幼儿园", {"capacity": 30 * int(rng.integers(3, 13))}), osm=True)
    frontage("nursery_childcare", "west_far", 3, lambda s: (f"{s}宝贝托育中心", {}))
    covered("community_health_center", "west", "west", r15, 0.97, 3,
            lambda s: (f"{s}社区卫生服务中心", {}))
    covered("community_health_center", "east", "east", r15, 0.9, 1,
            lambda s: (f"{s}社区卫生服务中心", {}))
    covered("community_health_station", "west", "west", r5, 0.75, 14,
            lambda s: (f"{s}社区卫生服务站", {}))
    covered("community_health_station", "east", "east", r5, 0.4, 3,
            lambda s: (f"{s}社区卫生服务站", {}))
    covered("nursing_home", "west", "west", r15, 0.95, 3,
            lambda s: (f"{s}老年公寓", {"capacity": 10 * int(rng.integers(5, 21))}))
    covered("nursing_home", "east", "east", r15, 0.9, 1,
            lambda s: (f"{s}敬老院", {"capacity": 10 * int(rng.integers(5, 21))}))
    covered("elderly_day_care", "west_far", "west", r5, 0.85, 20,
            lambda s: (f"{s}社区日间照料中心", {"capacity": 5 * int(rng.integers(4, 13))}))
    covered("community_canteen", "west", "west", r5, 0.6, 10, lambda s: (f"{s}社区长者食堂", {}))
    covered("community_canteen", "east", "east", r5, 0.3, 2, lambda s: (f"{s}助餐点", {}))
    covered("community_service_station", "west", "west", r5, 0.9, 22,
            lambda s: (f"{s}社区服务站", {}))
    covered("community_service_station", "east", "east", r5, 0.6, 5,
            lambda s: (f"{s}社区党群服务中心", {}))
    covered("culture_activity_station", "west", "west", r10, 0.9, 10,
            lambda s: (f"{s}社区文化活动室", {}))
    covered("culture_activity_station", "east", "east", r10, 0.6, 3,
            lambda s: (f"{s}老年活动室", {}))
    covered("culture_activity_center", "west", "west", r15, 0.95, 3,
            lambda s: ("道安区文化活动中心", {}))
    covered("culture_activity_center", "east", "east", r15, 0.9, 1,
            lambda s: ("兴华街道文化活动中心", {}))
    covered("small_sports_ground", "west", "west", r5, 0.8, 18, lambda s: (f"{s}篮球场", {}))
    covered("small_sports_ground", "east", "east", r5, 0.4, 3, lambda s: (f"{s}羽毛球场", {}))
    covered("outdoor_fitness", "west", "west", r5, 0.88, 22, lambda s: (f"{s}健身广场", {}))
    covered("outdoor_fitness", "east", "east", r5, 0.5, 5, lambda s: (f"{s}健身路径", {}))
    # pocket parks, community sports grounds and a fitness centre on street fronts
    covered("public_green_park", "west", "west", r10, 0.88, 8, lambda s: (f"{s}口袋公园", {}))
    covered("public_green_park", "east", "east", r10, 0.5, 2, lambda s: (f"{s}街心游园", {}))
    covered("medium_sports_ground", "west", "west", r10, 0.85, 8,
            lambda s: (f"{s}社区运动场", {}))
    covered("medium_sports_ground", "east", "east", r10, 0.45, 2,
            lambda s: (f"{s}社区运动场", {}))
    covered("large_sports_ground", "west", "west", r15, 0.9, 2,
            lambda s: (f"{s}全民健身中心", {}))
    market = lambda s: (f"{s}{rng.choice(['菜市场', '早市', '农贸市场'])}", {})  # noqa: E731
    covered("fresh_market", "market_ok_west", "west", r10, 0.9, 10, market, csv_share=0.5,
            osm=True)
    covered("fresh_market", "east", "east", r10, 0.6, 2, market, csv_share=0.5, osm=True)
    covered("supermarket", "west", "west", r5, 0.75, 16, lambda s: (f"{brand()}超市({s}店)", {}),
            csv_share=0.5, osm=True)
    covered("supermarket", "east", "east", r5, 0.4, 3, lambda s: (f"{brand()}超市({s}店)", {}),
            csv_share=0.5, osm=True)
    services = [("barber", "理发店"), ("pharmacy", "大药房"), ("laundry", "洗衣店"),
                ("repair", "家电维修部"), ("housekeeping", "家政服务部"), ("breakfast", "早餐店")]
    for region, share, max_n in (("west", 0.95, 30), ("east", 0.7, 8)):
        for kind, word in services:  # every kind spread over the bank on its own
            covered("daily_services", region, region, r5, share / 1.6, max(2, max_n // 4),
                    lambda s, word=word: (f"{s}{word}", {}), kind=kind, csv_share=0.6)
    covered("waste_collection_station", "west", "west", r5, 0.8, 16,
            lambda s: (f"{s}垃圾收集站", {}))
    covered("waste_collection_station", "east", "east", r5, 0.4, 3,
            lambda s: (f"{s}再生资源回收站", {}))
    toilet = lambda s: (f"{s}{rng.choice(['公共厕所', '公厕'])}", {})  # noqa: E731
    covered("public_toilet", "west", "west", r5, 0.85, 20, toilet, osm=True)
    covered("public_toilet", "east", "east", r5, 0.5, 5, toilet, osm=True)
    frontage("car_parking_charging", "any", 6, lambda s: (f"{s}停车场", {}), csv_share=0.5)
    frontage("car_parking_charging", "any", 3, lambda s: (f"{s}公共充电桩", {}))

    # block-level (居住街坊) facilities in or at the gate of some communities: a community's
    # "upkeep" draw decides which it has (nested, so that well-kept ones have most of them)
    com_geoms = dict(zip(communities["community_id"], geoms, strict=True))
    com_names = dict(zip(communities["community_id"], communities["name"], strict=True))
    first_gate = gates.groupby("community_id", sort=True)["geometry"].first()
    upkeep = dict(zip(ids, rng.random(len(ids)), strict=True))
    block_share = {  # (west, east) share of communities that have it
        "waste_collection_point": (0.85, 0.6), "convenience_store": (0.8, 0.35),
        "parcel_delivery": (0.8, 0.3), "bicycle_parking_charging": (0.75, 0.25),
        "car_parking_charging": (0.7, 0.2), "children_elderly_play": (0.7, 0.15),
    }

    def has(cid, category):
        west, east = block_share[category]
        return upkeep[cid] < (west if com_region[cid] == "west" else east)

    def at_gate(cid, depth):
        g, gate = com_geoms[cid], first_gate[cid]
        c = np.array(g.representative_point().coords[0])
        q = np.array(gate.coords[0])
        return Point(q + (c - q) / np.hypot(*(c - q)) * depth)

    for cid in ids:
        nm = com_names[cid]
        if has(cid, "waste_collection_point"):
            add("waste_collection_point", f"{nm}垃圾分类投放点", at_gate(cid, 15.0))
        if has(cid, "convenience_store"):
            add("convenience_store", f"{brand()}便利店({nm}店)", at_gate(cid, 10.0),
                csv_share=0.6, street=nm)
        if has(cid, "parcel_delivery"):  # lockers (完善类) or a staffed station (提升类)
            if rng.random() < 0.15:
                add("postal_express_station", f"中国邮政{nm}营业所", at_gate(cid, 12.0),
                    kind="post_office", csv_share=0.5, street=nm)
            else:
                word = str(rng.choice(["菜鸟驿站", "丰巢快递柜"]))
                station = word == "菜鸟驿站"
                add("postal_express_station" if station else "parcel_delivery",
                    f"{word}({nm}店)", at_gate(cid, 12.0), csv_share=0.5, street=nm,
                    kind="express_station" if station else None)
        if has(cid, "bicycle_parking_charging"):
            word = str(rng.choice(["非机动车停车棚", "电动车充电棚"]))
            add("bicycle_parking_charging", f"{nm}{word}", at_gate(cid, rng.uniform(10, 16)))
        if has(cid, "car_parking_charging"):
            add("car_parking_charging", f"{nm}停车场", at_gate(cid, 20.0))
        if has(cid, "children_elderly_play"):
            add("children_elderly_play", f"{nm}{rng.choice(['儿童乐园', '儿童活动场地'])}",
                at_gate(cid, rng.uniform(12, 18)))
    # a few more convenience stores on street corners, for anybody passing
    frontage("convenience_store", "any", 8, lambda s: (f"{brand()}便利店({s}店)", {}),
             csv_share=0.6)

    # bus stops on the arterials every 500 m, metro stations on 胜利路
    osm = layout.osm
    for i in (2, 6, 10):
        for j in range(1, N_CELLS, 2):
            line = LineString(osm.coords(layout.vseg[(i, j)]))
            p = np.array(line.interpolate(0.5, normalized=True).coords[0])
            add("bus_stop", f"{NS_STREETS[i]}{EW_STREETS[j]}口(公交站)",
                Point(p + np.array([9.0 if j % 4 == 1 else -9.0, 0.0])), osm=True)
    for j in (2, 6, 10):
        for i in range(1, N_CELLS, 2):
            if i == RIVER_COL:
                continue
            line = LineString(osm.coords(layout.hseg[(i, j)]))
            p = np.array(line.interpolate(0.5, normalized=True).coords[0])
            add("bus_stop", f"{EW_STREETS[j]}{NS_STREETS[i]}口(公交站)",
                Point(p + np.array([0.0, 9.0 if i % 4 == 1 else -9.0])), osm=True)
    for i in (2, 6, 10):
        p = np.array(osm.xy[layout.grid[i, 6] - 1]) + np.array([14.0, 14.0])
        add("metro_station", f"{NS_STREETS[i]}地铁站", Point(p), osm=True)

    fac = pd.DataFrame(rows)
    return fac


def make_sites(layout: Layout, use: dict, communities, geoms, rng: np.random.Generator):
    """About 25 candidate sites, most where the gaps are."""
    placer = Placer(layout, rng)
    rows = []
    cid_geom = list(zip(communities["community_id"], communities["name"], geoms, strict=True))

    def in_region(g, rule):
        x, y = g.centroid.x, g.centroid.y
        if rule == "east":
            return x > (RIVER_COL + 1) * CELL_M
        if rule == "northwest":
            return x < 1000 and y > 1750
        return True

    used: set[str] = set()

    def boiler(rule):
        pool = [t for t in cid_geom if in_region(t[2], rule) and t[0] not in used]
        cid, nm, g = pool[int(rng.integers(0, len(pool)))]
        used.add(cid)
        p = g.representative_point()
        rows.append({"name": f"原{nm}锅炉房", "site_type": "boiler_room",
                     "floor_area_m2": float(10 * rng.integers(15, 61)),
                     "geometry": Point(p.x + rng.uniform(-20, 20), p.y + rng.uniform(-20, 20))})

    def vacant(rule):
        pool = [layout.cells[c]["halves"][h] for (c, h), w in sorted(use.items())
                if w == "other" and in_region(layout.cells[c]["halves"][h], rule)]
        g = pool[int(rng.integers(0, len(pool)))]
        i = int(np.clip(round(g.centroid.x / CELL_M), 0, N_CELLS))
        rows.append({"name": f"{NS_STREETS[i]}闲置空地", "site_type": "vacant_lot",
                     "floor_area_m2": float(100 * rng.integers(8, 31)),
                     "geometry": g.representative_point()})

    def shop(rule):
        p, s = placer.frontage(rule)
        rows.append({"name": f"{s}{int(rng.integers(1, 300))}号底商", "site_type":
                     "ground_floor_shop", "floor_area_m2": float(10 * rng.integers(6, 41)),
                     "geometry": p})

    def public(rule, what):
        p, s = placer.frontage(rule)
        rows.append({"name": f"原{s}{what}", "site_type": "public_building",
                     "floor_area_m2": float(50 * rng.integers(6, 31)), "geometry": p})

    for _ in range(4):
        boiler("east")
    for _ in range(3):
        vacant("east")
    for _ in range(3):
        shop("east")
    for _ in range(2):
        boiler("northwest")
    for _ in range(2):
        vacant("northwest")
    for _ in range(2):
        shop("northwest")
    public("west", "街道办事处旧址")
    public("east", "粮店")
    public("any", "邮电所")
    public("west", "职工俱乐部")
    for _ in range(3):
        shop("any")
    for _ in range(2):
        boiler("any")
    df = pd.DataFrame(rows)
    seen: dict[str, int] = {}
    names = []
    for nm in df["name"]:
        seen[nm] = seen.get(nm, 0) + 1
        names.append(nm if seen[nm] == 1 else f"{nm}({seen[nm]})")
    df["name"] = names
    df.loc[rng.choice(len(df), size=2, replace=False), "floor_area_m2"] = np.nan
    df.insert(0, "site_id", [f"S{k + 1:02d}" for k in range(len(df))])
    return df


# ---------------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------------

OSM_TAGS = {
    "junior_high_school": {"amenity": "school", "isced:level": "2"},
    "primary_school": {"amenity": "school", "isced:level": "1"},
    "kindergarten": {"amenity": "kindergarten"},
    "nursery_childcare": {"amenity": "childcare"},
    "community_health_center": {"amenity": "clinic", "healthcare": "centre"},
    "community_health_station": {"amenity": "clinic", "healthcare": "clinic"},
    "nursing_home": {"amenity": "social_facility", "social_facility": "nursing_home",
                     "social_facility:for": "senior"},
    "elderly_day_care": {"amenity": "social_facility", "social_facility": "day_care",
                         "social_facility:for": "senior"},
    "community_canteen": {"amenity": "canteen"},
    "community_service_station": {"amenity": "community_centre"},
    "culture_activity_station": {"amenity": "arts_centre"},
    "culture_activity_center": {"amenity": "arts_centre"},
    "small_sports_ground": {"leisure": "pitch", "sport": "basketball"},
    "medium_sports_ground": {"leisure": "pitch", "sport": "soccer"},
    "large_sports_ground": {"leisure": "sports_centre"},
    "outdoor_fitness": {"leisure": "fitness_station"},
    "children_elderly_play": {"leisure": "playground"},
    "fresh_market": {"amenity": "marketplace"},
    "supermarket": {"shop": "supermarket"},
    "convenience_store": {"shop": "convenience"},
    "barber": {"shop": "hairdresser"},
    "pharmacy": {"amenity": "pharmacy"},
    "laundry": {"shop": "laundry"},
    "repair": {"shop": "repair"},
    "breakfast": {"amenity": "fast_food"},
    "parcel_delivery": {"amenity": "parcel_locker"},
    "post_office": {"amenity": "post_office"},
    "express_station": {"amenity": "post_office"},
    "waste_collection_point": {"amenity": "waste_disposal"},
    "waste_collection_station": {"amenity": "waste_transfer_station"},
    "public_toilet": {"amenity": "toilets"},
    "bus_stop": {"highway": "bus_stop", "public_transport": "platform", "bus": "yes"},
    "metro_station": {"railway": "station", "station": "subway", "public_transport": "station"},
    "bicycle_parking_charging": {"amenity": "bicycle_parking"},
    "car_parking_charging": {"amenity": "parking"},
    "public_green_park": {"leisure": "park"},
}


def _fmt(v: float) -> str:
    return f"{v:.7f}"


def write_osm(path: Path, osm: OsmData, to_lonlat, bounds) -> None:
    """Write OSM XML (API 0.6 style) with a SYNTHETIC comment; ids and order are stable."""
    xy = np.array(osm.xy)
    lon, lat = to_lonlat(xy[:, 0], xy[:, 1])
    out = io.StringIO()
    out.write("<?xml version='1.0' encoding='UTF-8'?>\n")
    out.write(f"<!-- SYNTHETIC: {SYNTHETIC_LABEL}. Invented streets, not real OpenStreetMap "
              "data. -->\n")
    out.write(f'<osm version="0.6" generator={quoteattr(GENERATOR)}>\n')
    minlon, minlat, maxlon, maxlat = bounds
    out.write(f'  <bounds minlat="{_fmt(minlat)}" minlon="{_fmt(minlon)}" '
              f'maxlat="{_fmt(maxlat)}" maxlon="{_fmt(maxlon)}"/>\n')
    for k in range(len(xy)):
        nid = k + 1
        head = f'  <node id="{nid}" version="1" lat="{_fmt(lat[k])}" lon="{_fmt(lon[k])}"'
        tags = osm.node_tags.get(nid)
        if not tags:
            out.write(head + "/>\n")
            continue
        out.write(head + ">\n")
        for kk, vv in tags.items():
            out.write(f"    <tag k={quoteattr(kk)} v={quoteattr(vv)}/>\n")
        out.write("  </node>\n")
    for w, (nodes, tags) in enumerate(osm.ways):
        out.write(f'  <way id="{w + 1}" version="1">\n')
        for n in nodes:
            out.write(f'    <nd ref="{n}"/>\n')
        for kk, vv in tags.items():
            out.write(f"    <tag k={quoteattr(kk)} v={quoteattr(vv)}/>\n")
        out.write("  </way>\n")
    out.write("</osm>\n")
    path.write_text(out.getvalue(), encoding="utf-8", newline="\n")


def _to_wgs(gdf_xy: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf_xy.to_crs("EPSG:4326")
    rounded = shapely.transform(np.asarray(out.geometry), lambda c: np.round(c, 7))
    return out.set_geometry(gpd.GeoSeries(rounded, index=out.index, crs=out.crs))


def _write_gpkg(gdf: gpd.GeoDataFrame, path: Path, layer: str, what: str) -> None:
    if path.exists():
        path.unlink()
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_DATE})
    try:
        pyogrio.write_dataframe(
            gdf, path, layer=layer, driver="GPKG",
            layer_metadata={"DESCRIPTION": f"{SYNTHETIC_LABEL}: {what}",
                            "IDENTIFIER": f"{layer} (SYNTHETIC)"},
        )
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


# ---------------------------------------------------------------------------------------------
# buildings (楼栋) and heritage (issue 16 §1–2)
# ---------------------------------------------------------------------------------------------

BUILDING_COLUMNS = ["building_id", "community_id", "build_year", "floors", "has_elevator",
                    "safety_grade", "complete_units", "households"]
#: Headers of the CSV variant, as a municipal survey table writes them.
BUILDING_CSV_HEADERS = ["楼栋编号", "小区编号", "建成年代", "层数", "电梯", "鉴定等级", "独立厨卫",
                        "户数", "经度", "纬度"]


def _known(v) -> bool | None:
    """A nullable boolean cell as True, False or None (unknown)."""
    return None if pd.isna(v) else bool(v)


def _slabs(poly: Polygon, n: int) -> list[Polygon]:
    """``n`` slab footprints (rows of 1 or 2 columns) inside ``poly``, 8 m from its fence."""
    inner = poly.buffer(-8.0)
    x0, y0, x1, y1 = inner.bounds
    cols = 2 if n > 4 else 1
    rows = math.ceil(n / cols)
    along_x = (x1 - x0) >= (y1 - y0)
    if not along_x:  # lay the grid out along the long side
        x0, y0, x1, y1 = y0, x0, y1, x1
    cw, rh = (x1 - x0) / cols, (y1 - y0) / rows
    out = []
    for k in range(n):
        c, r = k % cols, k // cols
        cx, cy = x0 + (c + 0.5) * cw, y0 + (r + 0.5) * rh
        hl, hd = 0.35 * cw, min(6.0, 0.3 * rh)
        box = (cx - hl, cy - hd, cx + hl, cy + hd)
        if not along_x:
            box = (box[1], box[0], box[3], box[2])
        out.append(shapely.box(*box).intersection(inner))
    return out


def make_buildings(communities: pd.DataFrame, geoms, outside: Polygon) -> gpd.GeoDataFrame:
    """Buildings (楼栋) of every community, in layout metres, with a case for every rule.

    Each community's attributes are its buildings' (households split among them), except:
    in a grade D community only the first building is D (the others C); in a community built
    after 2000 with grade C only the first building is C (the others B); in a community
    without complete units every other building is non-complete; in the first walk-up built
    by 2000 with three or more buildings the last one has unknown floors, elevator and
    households, and the second has no community id (it is assigned by location). One more
    building (``S001``) without community id stands in no community and is set aside.
    """
    rows, footprints = [], []
    first_unknown = None
    for k, r in enumerate(communities.itertuples(index=False)):
        hh = r.households
        floors = r.floors
        if pd.notna(hh) and pd.notna(floors):
            n = int(min(8, max(2, round(hh / (floors * 6)))))
        else:
            n = 3
        split = ([int(hh) // n + (1 if j < int(hh) % n else 0) for j in range(n)]
                 if pd.notna(hh) else [pd.NA] * n)
        if (first_unknown is None and pd.notna(r.build_year) and r.build_year <= 2000 and n >= 3
                and pd.notna(floors) and floors >= 4 and _known(r.has_elevator) is False):
            first_unknown = r.community_id
        for j, fp in enumerate(_slabs(geoms[k], n)):
            grade = None if pd.isna(r.safety_grade) else str(r.safety_grade)
            if grade == "D" and j > 0:
                grade = "C"
            if grade == "C" and j > 0 and pd.notna(r.build_year) and r.build_year > 2000:
                grade = "B"
            complete = r.complete_units
            if _known(complete) is False and j % 2 == 1:
                complete = True
            rows.append({"building_id": f"{r.community_id}-B{j + 1:02d}",
                         "community_id": r.community_id, "build_year": r.build_year,
                         "floors": floors, "has_elevator": r.has_elevator,
                         "safety_grade": grade, "complete_units": complete,
                         "households": split[j]})
            footprints.append(fp)
    df = pd.DataFrame(rows, columns=BUILDING_COLUMNS)
    mine = df.index[df["community_id"] == first_unknown]
    df.loc[mine[-1], ["floors", "has_elevator", "households"]] = pd.NA
    df.loc[mine[1], "community_id"] = pd.NA
    c = outside.representative_point()
    df.loc[len(df)] = {"building_id": "S001", "community_id": pd.NA, "build_year": 1995,
                       "floors": 5, "has_elevator": False, "safety_grade": "B",
                       "complete_units": True, "households": 30}
    footprints.append(shapely.box(c.x - 25, c.y - 6, c.x + 25, c.y + 6))
    types = {"building_id": "string", "community_id": "string", "build_year": "Int64",
             "floors": "Int64", "has_elevator": "boolean", "safety_grade": "string",
             "complete_units": "boolean", "households": "Int64"}
    return gpd.GeoDataFrame(df.astype(types), geometry=footprints)


def make_heritage(communities: pd.DataFrame, geoms, elsewhere: Polygon) -> gpd.GeoDataFrame:
    """A heritage layer in layout metres: one of each class of 四(三)4.

    - 历史文化街区 around the four heritage communities (their polygons + 2 m);
    - 文物保护单位: a 20 × 20 m water tower in the first community built before 1970 that is not
      a heritage block (its attribute says no heritage; the layer marks it);
    - 历史建筑: a club house in a half block without communities (it touches none).
    """
    her = communities.index[communities["heritage"].fillna(False).astype(bool)].tolist()
    district = shapely.union_all([geoms[k].buffer(2.0, join_style="mitre") for k in her])
    old = next(k for k, r in enumerate(communities.itertuples(index=False))
               if pd.notna(r.build_year) and r.build_year < 1970 and not r.heritage)
    t = geoms[old].representative_point()
    c = elsewhere.representative_point()
    return gpd.GeoDataFrame({
        "编号": ["H01", "H02", "H03"],
        "名称": ["巴洛克历史文化街区（合成）",
               f"{communities['name'].iloc[old]}老水塔（合成）", "原工人俱乐部（合成）"],
        "保护类别": ["历史文化街区", "文物保护单位", "历史建筑"],
    }, geometry=[district, shapely.box(t.x - 10, t.y - 10, t.x + 10, t.y + 10),
                 shapely.box(c.x - 15, c.y - 40, c.x + 15, c.y - 10)])


def _buildings_csv(bld: gpd.GeoDataFrame) -> bytes:
    """The buildings as a municipal survey table: points, Chinese headers and cell styles."""
    pts = shapely.get_coordinates(shapely.point_on_surface(np.asarray(bld.geometry)))
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(BUILDING_CSV_HEADERS)

    def text(v, fmt=str):
        return "" if pd.isna(v) else fmt(v)

    for k, r in enumerate(bld.itertuples(index=False)):
        year = text(r.build_year, (lambda y: f"{y}年") if k % 7 == 3 else str)
        floors = text(r.floors, (lambda f: f"{f}层") if k % 5 == 2 else str)
        wr.writerow([r.building_id, text(r.community_id), year, floors,
                     text(r.has_elevator, lambda b: "有" if b else "无"),
                     text(r.safety_grade, lambda g: f"{g}级"),
                     text(r.complete_units, lambda b: "是" if b else "否"),
                     text(r.households), f"{pts[k, 0]:.7f}", f"{pts[k, 1]:.7f}"])
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


def make_sample_district(out_dir: str | Path, *, seed: int = SEED) -> dict[str, object]:
    """Generate the sample district into ``out_dir`` and return its layers.

    Parameters
    ----------
    out_dir
        Folder to write into (created if missing); existing files of the same names are replaced.
    seed
        Seed of the numpy random generator; the default reproduces the committed files.

    Returns
    -------
    dict
        ``paths`` (file name -> Path) and the layers in WGS84: ``communities``, ``gates``,
        ``facilities`` (the GeoPackage part), ``amap`` (the CSV part with its intended
        ``category`` and true WGS84 geometry), ``sites``, ``boundary``, and ``counts``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)

    to_xy = Transformer.from_crs("EPSG:4326", LAYOUT_CRS, always_xy=True)
    to_ll = Transformer.from_crs(LAYOUT_CRS, "EPSG:4326", always_xy=True)
    x0, y0 = to_xy.transform(*ORIGIN_LONLAT)

    def to_lonlat(x, y):
        return to_ll.transform(np.asarray(x) + x0, np.asarray(y) + y0)

    def shift(geoms):
        return shapely.transform(np.asarray(geoms, dtype=object), lambda c: c + [x0, y0])

    layout = build_layout(rng)
    use = allocate_halves(layout, rng)
    for key in sorted(use):
        what = use[key]
        if what in ("community", "other"):
            add_branches(layout, key[0], key[1], rng, n_branches=int(rng.integers(2, 5)))
        elif what in ("primary_school", "junior_high_school"):
            add_branches(layout, key[0], key[1], rng, n_branches=1)

    communities, cgeoms, ckeys, gates = make_communities(layout, use, rng)
    fac = make_facilities(layout, use, communities, cgeoms, ckeys, gates, rng)
    sites = make_sites(layout, use, communities, cgeoms, rng)

    # the island: footways in the first park that touch no other way (a mapping error that a
    # network builder must drop as not part of the largest component)
    park_key = next(k for k in sorted(use) if use[k] == "park")
    c = layout.cells[park_key[0]]["halves"][park_key[1]].representative_point()
    walk = [layout.osm.node(c.x + dx, c.y + dy) for dx, dy in
            ((-30, -8), (-10, 2), (10, -3), (30, 6))]
    layout.osm.way(walk, {"highway": "footway", "name": "游园小径"})
    stub = layout.osm.node(c.x - 8, c.y + 25)
    layout.osm.way([walk[1], stub], {"highway": "footway"})

    # OSM POIs: some facilities are also mapped in OSM (nodes; parks and pitches as areas)
    for r in fac.itertuples(index=False):
        if not r.in_osm or r.kind == "housekeeping":
            continue
        tags = {**(OSM_TAGS.get(r.kind) or OSM_TAGS[r.category]), "name": r.name}
        g = r.geometry
        if g.geom_type == "Polygon":
            ring = list(shapely.simplify(g, 2.0).exterior.coords)[:-1]
            nodes = [layout.osm.node(x, y) for x, y in ring]
            layout.osm.way(nodes + [nodes[0]], tags)
        else:
            layout.osm.node(g.x, g.y, tags)

    # ---- write everything -------------------------------------------------------------------
    crs_xy = LAYOUT_CRS
    bpoly = Polygon([(0, 0), (SIZE_M, 0), (SIZE_M, SIZE_M), (0, SIZE_M)])
    boundary = _to_wgs(gpd.GeoDataFrame({"name": ["合成示例片区"]},
                                        geometry=shift([bpoly]), crs=crs_xy))
    xy_all = np.array(layout.osm.xy)
    lon, lat = to_lonlat(xy_all[:, 0], xy_all[:, 1])
    write_osm(out / "district.osm", layout.osm, to_lonlat,
              (lon.min(), lat.min(), lon.max(), lat.max()))

    com = _to_wgs(gpd.GeoDataFrame(communities, geometry=shift(cgeoms), crs=crs_xy))
    gat = _to_wgs(gpd.GeoDataFrame(gates.drop(columns="geometry"),
                                   geometry=shift(gates["geometry"]), crs=crs_xy))
    fac_all = _to_wgs(gpd.GeoDataFrame(fac.drop(columns="geometry"),
                                       geometry=shift(fac["geometry"]), crs=crs_xy))
    site = _to_wgs(gpd.GeoDataFrame(sites.drop(columns="geometry"),
                                    geometry=shift(sites["geometry"]), crs=crs_xy))

    gp = fac_all[~fac_all["in_csv"]].reset_index(drop=True)
    gp.insert(0, "facility_id", [f"F{k + 1:04d}" for k in range(len(gp))])
    gp = gp[["facility_id", "name", "category", "capacity", "geometry"]]
    am = fac_all[fac_all["in_csv"]].reset_index(drop=True)
    am.insert(0, "facility_id", [f"A{k + 1:04d}" for k in range(len(am))])

    _write_gpkg(com, out / "communities.gpkg", "communities", "gated communities (小区)")
    _write_gpkg(gat, out / "gates.gpkg", "gates", "community gates (出入口)")
    _write_gpkg(gp, out / "facilities.gpkg", "facilities", "facilities (设施)")
    _write_gpkg(site, out / "sites.gpkg", "sites", "candidate sites (候选用地)")

    # the AMap-style export: GCJ-02, UTF-8 with BOM, Chinese headers
    xy = shapely.get_coordinates(np.asarray(am.geometry))
    glon, glat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(["id", "名称", "类型", "类型编码", "地址", "经度", "纬度"])
    addr_no = rng.integers(1, 400, size=len(am))
    for k, r in enumerate(am.itertuples(index=False)):
        typ, code = AMAP[r.kind]
        district = DISTRICTS[r.region]
        wr.writerow([r.facility_id, r.name, typ, code, f"黑龙江省哈尔滨市{district}{r.street}"
                     f"{int(addr_no[k])}号", f"{glon[k]:.6f}", f"{glat[k]:.6f}"])
    (out / "facilities_amap_gcj02.csv").write_bytes(b"\xef\xbb\xbf"
                                                    + buf.getvalue().encode("utf-8"))

    bj = json.loads(boundary.to_json(drop_id=True))
    bj = {"type": "FeatureCollection", "name": "boundary",
          "description": SYNTHETIC_LABEL, "features": bj["features"]}
    bj["features"][0]["properties"] = {"name": "合成示例片区 (SYNTHETIC)",
                                       "note": SYNTHETIC_LABEL}
    (out / "boundary.geojson").write_text(json.dumps(bj, ensure_ascii=False, indent=1) + "\n",
                                          encoding="utf-8", newline="\n")

    amap = am[["facility_id", "name", "category", "kind", "geometry"]].copy()
    counts = {
        "osm_nodes": len(layout.osm.xy), "osm_ways": len(layout.osm.ways),
        "osm_pois": len(layout.osm.node_tags),
        "communities": len(com), "gates": len(gat), "facilities_gpkg": len(gp),
        "facilities_csv": len(am), "sites": len(site),
    }
    # buildings and heritage (issue 16): made after everything above, without the random
    # generator, so that the files above stay as they were
    others = [layout.cells[c]["halves"][h] for c, h in sorted(use) if use[(c, h)] == "other"]
    bld_xy = make_buildings(communities, cgeoms, others[0])
    bld = _to_wgs(gpd.GeoDataFrame(bld_xy.drop(columns="geometry"),
                                   geometry=shift(bld_xy.geometry), crs=crs_xy))
    her_xy = make_heritage(communities, cgeoms, others[1])
    her = _to_wgs(gpd.GeoDataFrame(her_xy.drop(columns="geometry"),
                                   geometry=shift(her_xy.geometry), crs=crs_xy))
    _write_gpkg(bld, out / "buildings.gpkg", "buildings", "residential buildings (楼栋)")
    (out / "buildings.csv").write_bytes(_buildings_csv(bld))
    _write_gpkg(her, out / "heritage.gpkg", "heritage",
                "heritage: 历史文化街区, 文物保护单位, 历史建筑")
    counts.update(buildings=len(bld), heritage=len(her))

    (out / "README.md").write_text(_readme(com, gat, gp, am, site, counts)
                                   + _readme_buildings(bld, her), encoding="utf-8",
                                   newline="\n")
    paths = {p.name: p for p in sorted(out.iterdir()) if p.is_file()}
    return {"paths": paths, "communities": com, "gates": gat, "facilities": gp, "amap": amap,
            "sites": site, "boundary": boundary, "buildings": bld, "heritage": her,
            "counts": counts}


def _readme(com, gat, gp, am, site, counts) -> str:
    year = com["build_year"]
    known = int(year.notna().sum())
    before = int((year < 2001).sum())
    nulls = {c: int(com[c].isna().sum()) for c in COMMUNITY_ATTRIBUTES
             if c in com.columns and com[c].isna().any()}
    cats = pd.concat([gp["category"], am["category"]]).value_counts().sort_index()
    cat_lines = "\n".join(
        f"| {c} | {int((gp['category'] == c).sum())} | {int((am['category'] == c).sum())} |"
        for c in cats.index)
    null_lines = ", ".join(f"{c} {n}" for c, n in nulls.items())
    hi = int((com["floors"] >= 11).sum())
    loc = com["location_type"].astype(object).where(com["location_type"].notna(), "empty")
    loc_line = ", ".join(
        f"{v} {n}" + ("" if v == "城市" else f" ({', '.join(com.loc[loc == v, 'community_id'])})")
        for v, n in loc.value_counts().items())
    prem = com["property_premises"].astype("boolean")
    prem_line = (f"{int(prem.eq(True).sum())} with, {int(prem.eq(False).sum())} without, "
                 f"{int(prem.isna().sum())} unknown")
    lines = [
        "# Sample district — 合成示例数据 (SYNTHETIC)",
        "",
        f"**{SYNTHETIC_LABEL}.** Every street, community, facility and number in this folder is",
        "invented by `data/make_sample_district.py`; none of it describes real places or people.",
        "It is a Harbin-style old town of about 3 × 3 km whose south-west corner lies near",
        "126.615 E, 45.745 N, made for demonstrations and tests.",
        "",
        "Regenerate (deterministic: the same files on every run) from the repository root:",
        "",
        "```",
        "python data/make_sample_district.py            # writes data/sample_district/",
        "python data/make_sample_district.py --out DIR  # writes somewhere else",
        "```",
        "",
        "## Files",
        "",
        "| file | content | CRS |",
        "|---|---|---|",
        f"| `district.osm` | OSM XML: {counts['osm_nodes']} nodes, {counts['osm_ways']} ways, "
        f"{counts['osm_pois']} tagged POI nodes | WGS84 (EPSG:4326) |",
        f"| `communities.gpkg` (layer `communities`) | {len(com)} gated communities (小区), "
        "polygons with every attribute of the data model | EPSG:4326 |",
        f"| `gates.gpkg` (layer `gates`) | {len(gat)} gates (出入口), 1–3 per community | "
        "EPSG:4326 |",
        f"| `facilities.gpkg` (layer `facilities`) | {len(gp)} facilities (parks and sports "
        "grounds as polygons): facility_id, name, category, capacity | EPSG:4326 |",
        f"| `facilities_amap_gcj02.csv` | {len(am)} further facilities as an AMap-style POI "
        "export: UTF-8 with BOM, headers `id,名称,类型,类型编码,地址,经度,纬度` | **GCJ-02** |",
        f"| `sites.gpkg` (layer `sites`) | {len(site)} candidate sites (former boiler rooms, "
        "vacant lots, ground-floor shops, public buildings) | EPSG:4326 |",
        "| `boundary.geojson` | the 3 × 3 km study boundary | EPSG:4326 |",
        "",
        "The layout was made in metres in UTM zone 52N (EPSG:32652) and converted to WGS84.",
        "Each GeoPackage layer carries the synthetic label in its DESCRIPTION metadata, the OSM",
        "file in a comment and its `generator` attribute, the GeoJSON in its `description`.",
        "",
        "## The district",
        "",
        "- Arterial grid every 500 m (primary/secondary), tertiary/residential streets between",
        "  them, an alley (footway/service/living_street/path) with branch lanes in every block;",
        "  positions jittered by a few metres.",
        "- River 马家河 runs north–south between x ≈ 2.0 and 2.25 km. Pedestrians cross it only on",
        "  three bridges (建国桥, 胜利桥, 光华桥, `bridge=yes`). The elevated 二环快速路",
        "  (`highway=trunk`, `foot=no`) also crosses it but is not walkable.",
        "- Two short footways (游园小径) in a park touch no other way: a network builder must drop",
        "  them as not part of the largest component.",
        "",
        "## Communities",
        "",
        f"- {len(com)} communities C001–C{len(com):03d}; {int((com['district'] == '南兴区').sum())}"
        " lie east of the river (南兴区), the rest west (道安区). District and street (街道)",
        "  names are invented.",
        f"- Build years {int(year.min())}–{int(year.max())}; {before} of the {known} with a known"
        f" year ({before / known:.0%}) were built before 2001.",
        f"- {int((~com['complete_units'].fillna(True).astype(bool)).sum())} without complete units"
        f" (非成套); {int(com['heritage'].sum())} heritage blocks (巴洛克街坊); {hi} high-rises"
        " (11–18 floors, all with elevators);",
        f"  {int(((com['build_year'] >= 2001) & com['safety_grade'].isin(['C'])).sum())}"
        " built after 2000 with safety grade C.",
        f"- 所在地类型 (`location_type`, 二(一)): {loc_line}; the exceptions are old"
        " communities in scope by build year, so that each changes the verdict (森工/原农垦:"
        " listed, still in; 建制镇: not listed, out; empty: unknown).",
        f"- 物业用房 (`property_premises`): {prem_line} (drawn by management mode; a need of"
        " 完善类 where absent, unknown where empty).",
        f"- Deliberately unknown (NULL) values, to exercise the \"unknown\" paths: {null_lines}.",
        "",
        "## Facilities and deliberate gaps",
        "",
        "| category | facilities.gpkg | AMap CSV |",
        "|---|---|---|",
        cat_lines,
        "",
        "Gaps built in on purpose:",
        "",
        "- No kindergarten and no elderly day care (日间照料) east of the river or near its west",
        "  bank (none east of x ≈ 1.75 km): east-bank communities miss both 5-minute (300 m)",
        "  targets; on foot the nearest ones are about 1 km away, across a bridge.",
        "- Few nurseries (托育), all in the west.",
        "- No fresh market (菜市场) in or near the north-west area (x < 1 km, y > 1.75 km).",
        "- Block-level (居住街坊) facilities only at some communities' gates: waste points (70 m),",
        "  convenience stores, parcel lockers, bicycle sheds, car parks and play grounds; the",
        "  well-kept west-bank communities have most of them, many east-bank ones few.",
        "",
        "Elsewhere the west bank (道安区) is served at a realistic density: schools, parks and",
        "sports grounds, and street-front facilities (kindergartens, community service stations,",
        "clinics, shops, toilets …) are spread by a greedy cover so that most west-bank",
        "communities reach most categories within their thresholds; the east bank (南兴区) is",
        "thinner throughout.",
        "",
        "Candidate sites are mostly east of the river and in the north-west area, where the gaps",
        "are.",
        "",
    ]
    return "\n".join(lines)


def _readme_buildings(bld, her) -> str:
    n_com = bld["community_id"].nunique()
    lines = [
        "## Buildings and heritage (issue 16)",
        "",
        "| file | content | CRS |",
        "|---|---|---|",
        f"| `buildings.gpkg` (layer `buildings`) | {len(bld)} building footprints (楼栋) of "
        f"{n_com} communities: {', '.join(BUILDING_COLUMNS)} | EPSG:4326 |",
        f"| `buildings.csv` | the same {len(bld)} buildings as points, as a survey table writes "
        f"them: UTF-8 with BOM, headers `{','.join(BUILDING_CSV_HEADERS)}`, cells such as "
        "`1998年`, `6层`, `有`/`无`, `C级`, `是`/`否` | WGS84 |",
        f"| `heritage.gpkg` (layer `heritage`) | {len(her)} heritage features: "
        + ", ".join(f"{a} {b}" for a, b in zip(her["编号"], her["保护类别"], strict=True))
        + "; headers `编号,名称,保护类别` | EPSG:4326 |",
        "",
        "A community's buildings carry its attributes (its households split among them), with",
        "cases for every rule of `livingcircle.buildings`:",
        "",
        "- grade D (危房): in a grade D community only the first building is D, the others C;",
        "- grade C after 2000: in a community built after 2000 with grade C only the first",
        "  building is C, the others B;",
        "- non-complete units (非成套): every other building of a community without them;",
        "- walk-ups of 4–7 floors without elevator, 2–3 floor heritage blocks, high-rises with",
        "  elevators; unknowns from the community attributes, and in the first walk-up built by",
        "  2000 with three or more buildings the last building's floors, elevator and households;",
        "- no community id: that community's second building (it lies in it: assigned by",
        "  location), and `S001`, which stands in no community (set aside).",
        "",
        "The heritage district covers the four heritage blocks (2 m around them); the 文物保护单位",
        "stands in a community whose `heritage` attribute is false; the 历史建筑 touches no",
        "community.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "sample_district"),
                        help="output folder (default: data/sample_district next to this script)")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    res = make_sample_district(args.out, seed=args.seed)
    for path in res["paths"].values():
        logger.info("wrote %s (%d bytes)", path, path.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
