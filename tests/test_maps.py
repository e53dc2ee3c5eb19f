"""Map tests: layers, legend, escaping, GCJ-02 shift for AMap, offline assets and size.

Measured sizes (this test prints them; 2026-11, simplify_m=2): the sample district's map is about
7.3 MB (isochrones 4.9 MB of it, gap layers 1.3 MB, the rest 1.2 MB incl. 150 kB of Leaflet);
see test_city_size for the 2,000-community city.
"""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.affinity import translate

import livingcircle as lc
from livingcircle.coords import wgs84_to_gcj02
from livingcircle.maps import make_map
from livingcircle.pipeline import Result

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def sample_result(request):
    r = getattr(request.config, "_livingcircle_sample", None)
    if r is None:
        r = lc.run_sample(progress=False)
        request.config._livingcircle_sample = r
    return r


@pytest.fixture(scope="module")
def sample_html(sample_result):
    return make_map(sample_result).get_root().render()


def test_layers_and_legend(sample_html, sample_result):
    for name in ("小区（按达标比例着色） Communities", "5分钟等时圈", "10分钟等时圈",
                 "15分钟等时圈",
                 "直线距离圈", "缺口: 初中", "设施: 幼儿园 Kindergarten", "候选用地",
                 "无底图（离线）", "OpenStreetMap"):
        assert name in sample_html or json.dumps(name)[1:-1] in sample_html, name
    assert "lc-legend" in sample_html and "图例 Legend" in sample_html
    assert "合成示例数据 SYNTHETIC" in sample_html
    # one GeoJSON feature per community: its popup names the first gap with its source
    gaps = sample_result.layers["gaps"]
    assert "GB 50180-2018" in sample_html
    assert gaps["status"].ne("met").any()


def test_offline_assets_inline(sample_html):
    # no script or stylesheet is fetched from a CDN: Leaflet is inline
    assert not re.search(r"<script[^>]+src=", sample_html)
    assert not re.search(r"<link[^>]+stylesheet", sample_html)
    assert "Leaflet 1.9.4" in sample_html
    assert "Search" not in re.findall(r"L\.Control\.\w+", sample_html)


def test_escaped_names(sample_result):
    comm = sample_result.layers["communities"].copy()
    comm.loc[comm.index[0], "name"] = EVIL
    r = Result(layers={**sample_result.layers, "communities": comm},
               profile=sample_result.profile, speed_profiles=sample_result.speed_profiles,
               metadata=sample_result.metadata)
    h = make_map(r, isochrones=False).get_root().render()
    assert EVIL not in h
    # escaped once for HTML, then embedded by Jinja's tojson (& -> \\u0026)
    assert "\\u0026lt;script\\u0026gt;alert(1)\\u0026lt;/script\\u0026gt;" in h


def _tiny(lon=126.6, lat=45.75):
    poly = gpd.GeoSeries.from_wkt([f"POLYGON(({lon} {lat},{lon + .001} {lat},"
                                   f"{lon + .001} {lat + .001},{lon} {lat + .001},{lon} {lat}))"],
                                  crs=4326)
    comm = gpd.GeoDataFrame({"community_id": ["A"], "name": ["甲"], "n_required": [2],
                             "n_missing_required": [1]}, geometry=poly, crs=4326)
    return Result(layers={"communities": comm}, profile=lc.load_profile()
                  if hasattr(lc, "load_profile") else None, speed_profiles=["adult"])


def test_amap_shifts_to_gcj02():
    r = _tiny()
    h_wgs = make_map(r, simplify_m=None).get_root().render()
    h_gcj = make_map(r, basemap="amap", simplify_m=None).get_root().render()
    lon, lat = wgs84_to_gcj02(126.6, 45.75)
    assert "[126.6, 45.75]" in h_wgs
    assert f"[{round(float(lon), 6)}, {round(float(lat), 6)}]" in h_gcj
    # the GCJ-02 offset in Harbin is a few hundred metres east/south-east: > 0.004 deg longitude
    assert 0.004 < float(lon) - 126.6 < 0.008
    assert "GCJ-02" in h_gcj and "autonavi" in h_gcj and "openstreetmap" not in h_gcj


def test_unknown_basemap():
    with pytest.raises(ValueError, match="valid basemaps"):
        make_map(_tiny(), basemap="google")


def test_map_size(sample_html):
    size_mb = len(sample_html.encode()) / 1e6
    print(f"sample map: {size_mb:.2f} MB")
    assert size_mb < 9


def test_city_size(sample_result):
    """2,000 communities: the sample's communities/isochrones repeated 25 times, offset."""
    L = sample_result.layers
    comms, isos, gaps = [], [], []
    for k in range(25):
        dx, dy = 0.05 * (k % 5), 0.05 * (k // 5)
        c = L["communities"].copy()
        c["community_id"] = c["community_id"] + f"_{k}"
        c["geometry"] = c.geometry.map(lambda g, dx=dx, dy=dy: translate(g, dx, dy))
        comms.append(c)
        i = L["isochrones"].copy()
        i["community_id"] = i["community_id"] + f"_{k}"
        i["geometry"] = i.geometry.map(lambda g, dx=dx, dy=dy: translate(g, dx, dy))
        isos.append(i)
        g = L["gaps"].copy()
        g["community_id"] = g["community_id"] + f"_{k}"
        gaps.append(g)
    city = Result(layers={"communities": gpd.GeoDataFrame(pd.concat(comms), crs=4326),
                          "isochrones": gpd.GeoDataFrame(pd.concat(isos), crs=4326),
                          "gaps": pd.concat(gaps), "facilities": L["facilities"]},
                  profile=sample_result.profile, speed_profiles=sample_result.speed_profiles)
    assert len(city.layers["communities"]) == 2000
    h = make_map(city, isochrones=False).get_root().render()
    size_mb = len(h.encode()) / 1e6
    print(f"2,000-community city without isochrones: {size_mb:.1f} MB")
    assert size_mb < 60
    assert np.isfinite(size_mb)
