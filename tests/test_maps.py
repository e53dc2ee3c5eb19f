"""Map tests: layers, legend, escaping, packed coordinates and records, GCJ-02 shift for AMap,
search, size, isochrone blocks, the offline basemap, pages of a city.

Measured sizes (2026-12-02, defaults): the sample district's map is 0.89 MB (2.50 MB before the
compact records and compressed isochrones); cities of 1,600 and 10,000 communities are measured
by ``benchmarks/bench_map_size.py`` (benchmarks/README.md); here a 200-community city is checked.
"""

from __future__ import annotations

import base64
import json
import re
import zlib

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.affinity import translate

import livingcircle as lc
from livingcircle.coords import wgs84_to_gcj02
from livingcircle.maps import BASEMAP_STYLES, _Data, _Layer, _pack, make_map, write_map_pages
from livingcircle.results import Result

EVIL = "<script>alert(1)</script>"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def sample_map(sample_result):
    return make_map(sample_result)


@pytest.fixture(scope="module")
def sample_html(sample_map):
    return sample_map.get_root().render()


def _layers(m) -> dict[str, dict]:
    """Layer-control name → packed data of the map's FeatureGroups."""
    out = {}
    for ch in m._children.values():
        for sub in getattr(ch, "_children", {}).values():
            if isinstance(sub, _Layer):
                out[ch.layer_name] = sub.data
    return out


def _data(m) -> dict:
    """The page data of the map (lcInfo, lcRules, lcT, lcIso__blobs, lcIso__of)."""
    out = {}
    for ch in m._children.values():
        if isinstance(ch, _Data):
            out.update(ch.values)
    return out


def _iso_records(m) -> dict[int, dict]:
    """The isochrone blocks of the page, inflated as the page does: row → record."""
    out = {}
    for blob in _data(m)["lcIso__blobs"]:
        raw = zlib.decompress(base64.b64decode(blob), wbits=-15)
        out.update({int(k): v for k, v in json.loads(raw).items()})
    return out


def test_isochrones_packed_a_group_of_blocks_at_a_time_are_the_same(sample_map, sample_result,
                                                                    monkeypatch):
    """The page's isochrone blocks do not depend on how many are simplified at once (memory)."""
    import livingcircle.maps as lm

    monkeypatch.setattr(lm, "ISO_PACK_BLOCKS", 1)  # 5 groups of one block instead of one
    one_by_one = make_map(sample_result)
    assert _data(one_by_one)["lcIso__blobs"] == _data(sample_map)["lcIso__blobs"]
    assert _data(one_by_one)["lcIso__of"] == _data(sample_map)["lcIso__of"]


def test_isochrones_packed_by_worker_processes_are_the_same(sample_map, sample_result,
                                                           monkeypatch):
    """A city's isochrone blocks are packed by a local pool: the same blocks, in the same order."""
    import livingcircle.maps as lm
    from livingcircle import settings

    pools = []

    class Spy(lm.Workers):
        def __enter__(self):
            pools.append(self.n)
            return super().__enter__()

    monkeypatch.setattr(lm, "Workers", Spy)
    monkeypatch.setattr(lm, "ISO_PACK_BLOCKS", 1)  # 5 groups: tasks for both workers
    monkeypatch.setattr(settings, "process_pool_min_communities", 1)
    monkeypatch.setattr(settings, "workers", 2)
    pooled = make_map(sample_result)
    assert pools == [2]
    assert _data(pooled)["lcIso__blobs"] == _data(sample_map)["lcIso__blobs"]
    assert _data(pooled)["lcIso__of"] == _data(sample_map)["lcIso__of"]


def _legend(h: str) -> str:
    return h[h.index("<div class='lc-legend'>"):h.index("<div class='lc-title'>")]


def test_layers_and_legend(sample_html, sample_map, sample_result):
    for name in ("小区（按达标比例着色） Communities", "5分钟等时圈", "10分钟等时圈",
                 "15分钟等时圈", "直线距离圈", "缺口: 初中", "设施: 幼儿园 Kindergarten",
                 "候选用地",
                 "无底图（离线）", "OpenStreetMap"):
        assert name in sample_html or json.dumps(name)[1:-1] in sample_html, name
    assert "合成示例数据 SYNTHETIC" in sample_html
    assert "GB 50180-2018" in sample_html
    layers = _layers(sample_map)
    comm = layers["小区（按达标比例着色） Communities (share of required categories met)"]
    assert len(comm["f"]) == len(sample_result.layers["communities"]) == 80
    comm_ids = list(sample_result.layers["communities"]["community_id"])
    # isochrones: three empty level layers filled in the page when a community is opened, from
    # compressed blocks holding every community's 5/10/15-minute polygons and walking distances
    for mi in (5, 10, 15):
        lvl = layers[f"{mi}分钟等时圈 {mi}-minute isochrones"]
        assert lvl["kind"] == "iso" and lvl["minutes"] == mi and lvl["f"] == []
    assert layers["直线距离圈 Straight-line circles"]["kind"] == "circles"
    recs = _iso_records(sample_map)
    assert sorted(recs) == list(range(80))
    assert all([e[0] for e in r["l"]] == [5, 10, 15] for r in recs.values())
    assert len(_data(sample_map)["lcIso__blobs"]) == 5  # 80 communities in blocks of 16
    # the 15-minute walking distance (the circle's radius) is the isochrone layer's
    iso = sample_result.layers["isochrones"]
    row0 = iso[(iso["community_id"] == comm_ids[0]) & (iso["minutes"] == 15)]
    assert recs[0]["l"][2][1] == pytest.approx(float(row0["walk_m"].iloc[0]), abs=0.05)
    assert recs[0]["l"][2][4][0] in ("Polygon", "MultiPolygon")
    # a gap layer holds one feature per community missing that category, drawn by reference
    gaps = sample_result.layers["gaps"]
    n_jh = int(((gaps["category"] == "junior_high_school") & (gaps["status"] != "met")).sum())
    jh = next(v for k, v in layers.items() if k.startswith("缺口: 初中"))
    assert len(jh["f"]) == n_jh and jh["shared"] == "comm" and "g" not in jh["f"][0]
    # its tooltips are built in the page from the community's gap rows of that category
    info, rules = _data(sample_map)["lcInfo"], _data(sample_map)["lcRules"]
    row = jh["f"][0]["r"]
    assert [rules[g[0]][0] for g in info[row][7] if rules[g[0]][5] == jh["cat"]] == ["初中"]


def test_legend_languages(sample_html, sample_result):
    zh = _legend(sample_html)
    # Chinese first with English beside
    for both in ("图例 Legend", "必配类别达标比例 Required categories met",
                 "5分钟等时圈 5-minute isochrones", "幼儿园 Kindergarten"):
        assert both in zh, both
    en = _legend(make_map(sample_result, lang="en", isochrones=False,
                          gap_layers=False).get_root().render())
    assert "Legend" in en and "5-minute isochrones" in en and "Kindergarten" in en
    assert not CJK.search(en)


def test_search_index(sample_map, sample_result):
    comm = _layers(sample_map)[
        "小区（按达标比例着色） Communities (share of required categories met)"]
    c = sample_result.layers["communities"]
    first = comm["f"][0]
    assert set(first["k"]) == {str(c["name"].iloc[0]), str(c["community_id"].iloc[0])}
    # the popup is built in the page from the community's record
    rec = _data(sample_map)["lcInfo"][first["r"]]
    assert rec[:2] == [str(c["community_id"].iloc[0]), str(c["name"].iloc[0])]


def test_offline_assets_inline(sample_html):
    # no script or stylesheet is fetched from a CDN: Leaflet is inline
    assert not re.search(r"<script[^>]+src=", sample_html)
    assert not re.search(r"<link[^>]+stylesheet", sample_html)
    assert "Leaflet 1.9.4" in sample_html
    assert "function lcDecode" in sample_html


def test_escaped_names(sample_result):
    comm = sample_result.layers["communities"].copy()
    comm.loc[comm.index[0], "name"] = EVIL
    r = Result(layers={**sample_result.layers, "communities": comm},
               profile=sample_result.profile, speed_profiles=sample_result.speed_profiles,
               metadata=sample_result.metadata)
    m = make_map(r, isochrones=False)
    h = m.get_root().render()
    assert EVIL not in h and "<script>alert" not in h
    # the search list: escaped once for HTML, then embedded as script JSON (& -> \u0026)
    assert "\\u0026lt;script\\u0026gt;alert(1)\\u0026lt;/script\\u0026gt;" in h
    # the record the popup is built from keeps the name as it is, JSON with < and > escaped;
    # the page escapes it for HTML (lcEsc; tests/test_browser.py shows it as text)
    assert _data(m)["lcInfo"][0][1] == EVIL
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in h


def test_pack_by_hand():
    sq = shapely.Polygon([(126.6, 45.75), (126.60001, 45.75), (126.60001, 45.75002),
                          (126.6, 45.75)],
                         [[(126.600004, 45.750004), (126.600006, 45.750004),
                           (126.600006, 45.750006)]])
    t, rings = _pack(sq)
    assert t == "Polygon"
    assert rings[0] == [12660000, 4575000, 1, 0, 0, 2, -1, -2]
    # the hole rounds to (12660000, 4575000), (12660001, 4575000), (12660001, 4575001) and back
    assert rings[1] == [12660000, 4575000, 1, 0, 0, 1, -1, -1]
    # repeated grid points are dropped: two vertices 0.2 m apart become one
    line = shapely.LineString([(126.6, 45.75), (126.600002, 45.75), (126.60002, 45.75)])
    assert _pack(line) == ["LineString", [12660000, 4575000, 2, 0]]
    assert _pack(shapely.Point(126.123456, 45.654321)) == ["Point", [12612346, 4565432]]
    mp = shapely.MultiPolygon([sq, translate(sq, 0.001, 0)])
    t, polys = _pack(mp)
    assert t == "MultiPolygon" and polys[1][0][:2] == [12660100, 4575000]
    # a MultiLineString (a basemap's street class): each part on its own, repeated grid points
    # dropped within a part but not across two parts that meet
    mls = shapely.MultiLineString([line.coords, [(126.60002, 45.75), (126.60002, 45.75003)]])
    assert _pack(mls) == ["MultiLineString", [[12660000, 4575000, 2, 0],
                                              [12660002, 4575000, 0, 3]]]


def _tiny(lon=126.6, lat=45.75):
    poly = gpd.GeoSeries.from_wkt([f"POLYGON(({lon} {lat},{lon + .001} {lat},"
                                   f"{lon + .001} {lat + .001},{lon} {lat + .001},{lon} {lat}))"],
                                  crs=4326)
    comm = gpd.GeoDataFrame({"community_id": ["A"], "name": ["甲"], "n_required": [2],
                             "n_missing_required": [1]}, geometry=poly, crs=4326)
    return Result(layers={"communities": comm}, profile=lc.load_profile(),
                  speed_profiles=["adult"])


def test_amap_shifts_to_gcj02():
    r = _tiny()
    h_wgs = make_map(r, simplify_m=None).get_root().render()
    h_gcj = make_map(r, basemap="amap", simplify_m=None).get_root().render()
    lon, lat = wgs84_to_gcj02(126.6, 45.75)
    assert '[["Polygon",[[12660000,4575000,' in h_wgs
    assert f'[["Polygon",[[{round(float(lon) * 1e5)},{round(float(lat) * 1e5)},' in h_gcj
    # the GCJ-02 offset in Harbin is a few hundred metres east/south-east: > 0.004 deg longitude
    assert 0.004 < float(lon) - 126.6 < 0.008
    assert "GCJ-02" in h_gcj and "autonavi" in h_gcj and "openstreetmap" not in h_gcj


def test_save_page_writes_what_branca_writes(tmp_path, monkeypatch):
    """save_page (what Result.write and write_map use) writes the bytes of branca's save."""
    import livingcircle.maps as maps

    make_map(_tiny()).save(str(tmp_path / "branca.html"))
    monkeypatch.setattr(maps, "_WRITE_CHARS", 1000)  # many pieces, some cut inside 甲
    maps.save_page(lambda: make_map(_tiny()), tmp_path / "page.html")
    # two maps: the same page but for the random ids of their elements (a branca figure
    # rendered twice is not the same page, so one map cannot be written both ways)
    a, b = (re.sub(rb"_[0-9a-f]{32}", b"_ID", (tmp_path / f).read_bytes())
            for f in ("branca.html", "page.html"))
    assert len(a) > 10_000 and "甲".encode() in a
    assert a == b


def test_names_that_look_like_jinja_are_drawn_as_they_are():
    """branca compiles what an element renders as a Jinja template; the map writes its text as
    it is, so a community's name with ``{{``, ``{%`` or ``{#`` is drawn as given (it was drawn
    as "42 小区", or the map failed with Jinja's syntax error)."""
    names = ["{{ 6*7 }} 小区", "{# 老区", "{% if %}院"]
    poly = gpd.GeoSeries.from_wkt(
        [f"POLYGON(({x} 45.75,{x + .001} 45.75,{x + .001} 45.751,{x} 45.751,{x} 45.75))"
         for x in (126.600, 126.602, 126.604)], crs=4326)
    comm = gpd.GeoDataFrame({"community_id": ["A", "B", "C"], "name": names,
                             "n_required": [2] * 3, "n_missing_required": [1] * 3},
                            geometry=poly, crs=4326)
    r = Result(layers={"communities": comm}, profile=lc.load_profile(),
               speed_profiles=["adult"])
    h = make_map(r).get_root().render()
    for name in names:
        assert json.dumps(name, ensure_ascii=False) in h
    assert "42 小区" not in h


def test_unknown_basemap():
    with pytest.raises(ValueError, match="valid basemaps"):
        make_map(_tiny(), basemap="google")


def test_map_size(sample_html, sample_result):
    size_mb = len(sample_html.encode()) / 1e6
    print(f"sample map: {size_mb:.2f} MB")
    # measured 2026-12-02: 0.89 MB (2.50 MB before the compact records); 1.04 MB with the
    # sample's 625 buildings (issue 16 §1)
    assert size_mb < 1.2
    # the compressed isochrones are about a third of it (measured 0.30 MB)
    small = make_map(sample_result, isochrones=False).get_root().render()
    assert 0.2 < size_mb - len(small.encode()) / 1e6 < 0.4


def test_city_of_200(sample_result):
    """200 communities (the sample's communities and gaps repeated, offset) without isochrones."""
    L = sample_result.layers
    comms, gaps = [], []
    for k in range(3):
        c = L["communities"].copy()
        c["community_id"] = c["community_id"] + f"_{k}"
        c["geometry"] = c.geometry.map(lambda g, k=k: translate(g, 0.05 * k, 0))
        comms.append(c)
        g = L["gaps"].copy()
        g["community_id"] = g["community_id"] + f"_{k}"
        gaps.append(g)
    comm = gpd.GeoDataFrame(pd.concat(comms, ignore_index=True), crs=4326).head(200)
    city = Result(layers={"communities": comm, "gaps": pd.concat(gaps, ignore_index=True)},
                  profile=sample_result.profile, speed_profiles=sample_result.speed_profiles)
    m = make_map(city, isochrones=False)
    comm_layer = next(v for k, v in _layers(m).items() if k.startswith("小区"))
    assert len(comm_layer["f"]) == 200
    size_mb = len(m.get_root().render().encode()) / 1e6
    print(f"200-community city without isochrones: {size_mb:.2f} MB")
    assert size_mb < 4


def test_isochrones_left_out_of_a_city_sized_map_by_default(sample_result, monkeypatch):
    import livingcircle.maps as lm

    with_iso = make_map(sample_result).get_root().render()
    monkeypatch.setattr(lm, "MAX_ISOCHRONE_COMMUNITIES", 10)
    without = make_map(sample_result).get_root().render()
    # the isochrones are a quarter of the sample map's bytes (215 of 864 KB, 2026-12-07; 248 of
    # 896 KB before each ring was simplified without GEOS's repair, styles.plain_simplify)
    assert len(without) < 0.8 * len(with_iso)


def test_basemap_drawn_under_the_data(sample_result):
    m = make_map(sample_result, isochrones=False, gap_layers=False)
    layers = _layers(m)
    streets = layers["街道（离线底图） Streets (offline basemap)"]
    assert len(streets["f"]) == int((sample_result.layers["basemap"]["kind"] == "street").sum())
    assert all(s["pane"] == "lcbase" and s["interactive"] is False for s in streets["s"])
    assert [s["weight"] for s in streets["s"]] == [BASEMAP_STYLES[("street", r)]["weight"]
                                                   for r in (1, 2, 3)]
    assert "水系、绿地、铁路 Water, green, railways" in layers
    h = m.get_root().render()
    assert 'createPane("lcbase").style.zIndex = 250' in h
    off = _layers(make_map(sample_result, isochrones=False, gap_layers=False, background=False))
    assert not any(k.startswith("街道") for k in off)


def test_records_by_hand():
    """Popup records and standards of a hand-made result: one rule per distinct standard."""
    r = _tiny()
    comm = r.layers["communities"]
    comm["in_scope"], comm["scope_reasons"] = ["yes"], ["built_before_2001"]
    gaps = pd.DataFrame({
        "community_id": ["A", "A", "A"], "category": ["kindergarten", "school", "park"],
        "name_zh": ["幼儿园", "小学", "公园"], "name_en": ["Kindergarten", "School", "Park"],
        "level": [5, 10, 5], "threshold_m": [300.0, 500.0, 300.0],
        "distance_m": [412.4, None, 100.0], "time_min": [5.16, None, 1.2],
        "status": ["missing", "not_reached", "met"],
        "threshold_status": ["verified", "unverified", "verified"],
        "source": ["GB 50180-2018", "GB 50180-2018", "GB 50180-2018"]})
    r.layers["gaps"] = gaps
    d = _data(make_map(r))
    assert d["lcInfo"] == [["A", "甲", 0.5, 1, 2, "yes", "built_before_2001",
                            [[0, 412, 5.2, 0], [1, None, None, 1]]]]
    assert d["lcRules"] == [["幼儿园", "5", 300, "GB 50180-2018", True, 0],
                            ["小学", "10", 500, "GB 50180-2018", False, 1]]
    assert d["lcT"]["yes"]["yes"] == "是"


def _city(sample_result, copies: int):
    """``copies`` of the sample's communities, gaps and isochrones, shifted, one district each."""
    L = sample_result.layers
    comms, gaps, isos = [], [], []
    for k in range(copies):
        c = L["communities"].copy()
        c["community_id"] = c["community_id"] + f"_{k}"
        c["district"] = c["district"] + f"{k}"
        c["geometry"] = c.geometry.map(lambda g, k=k: translate(g, 0.05 * k, 0))
        comms.append(c)
        i = L["isochrones"].copy()
        i["community_id"] = i["community_id"] + f"_{k}"
        i["geometry"] = i.geometry.map(lambda g, k=k: translate(g, 0.05 * k, 0))
        isos.append(i)
        g = L["gaps"].copy()
        g["community_id"] = g["community_id"] + f"_{k}"
        gaps.append(g)
    comm = gpd.GeoDataFrame(pd.concat(comms, ignore_index=True), crs=4326)
    comm.loc[comm.index[-1], "district"] = None  # a community with no district
    return Result(layers={"communities": comm, "gaps": pd.concat(gaps, ignore_index=True),
                          "isochrones": gpd.GeoDataFrame(pd.concat(isos, ignore_index=True),
                                                         crs=4326),
                          "facilities": L["facilities"], "basemap": L["basemap"]},
                  profile=sample_result.profile, speed_profiles=sample_result.speed_profiles)


def test_pages(sample_result, tmp_path):
    """Index + one page per district: every community on exactly one page, linked both ways."""
    city = _city(sample_result, 2)
    files = write_map_pages(city, tmp_path / "pages", by="district", max_per_page=40)
    names = [f.name for f in files]
    # districts 南兴区0/1 (20 each), 道安区0 (60 -> 2 parts), 道安区1 (59 -> 2), unknown (1)
    assert names == ["index.html"] + [f"district_{i:02d}.html" for i in range(1, 8)]
    index = files[0].read_text(encoding="utf-8")
    for f in files[1:]:
        page = f.read_text(encoding="utf-8")
        assert "href='index.html'" in page  # back to the index
        assert f"href='{f.name}'" in index  # and from the index to the page
    assert "道安区0 (1/2)" in index and "未知 unknown" in index
    # each community is on one page only, with its isochrones
    seen = []
    for f in files[1:]:
        info = json.loads(re.search(r"lcInfo = (\[.*?\]);\n", f.read_text(encoding="utf-8"))
                          .group(1))
        seen += [r[0] for r in info]
    assert sorted(seen) == sorted(city.layers["communities"]["community_id"])
    assert max(f.stat().st_size for f in files) < 1_000_000


def test_pages_need_a_known_column(sample_result, tmp_path):
    with pytest.raises(ValueError, match="no column 'ward'.*district"):
        write_map_pages(sample_result, tmp_path / "p", by="ward")


def test_cli_pages_from_a_written_result(sample_result, tmp_path, capsys):
    """`livingcircle map RESULT --pages-by district` reads the basemap back from the GeoPackage."""
    from livingcircle.cli import main
    from livingcircle.results import write_result_gpkg

    gpkg = tmp_path / "livingcircle.gpkg"
    write_result_gpkg(sample_result, gpkg)
    out = tmp_path / "pages"
    assert main(["map", str(gpkg), "--out", str(out), "--pages-by", "district"]) == 0
    assert "and 2 pages" in capsys.readouterr().out
    names = sorted(p.name for p in out.iterdir())
    assert names == ["district_01.html", "district_02.html", "index.html"]
    page = (out / "district_01.html").read_text(encoding="utf-8")
    assert json.dumps("街道（离线底图） Streets (offline basemap)")[1:-1] in page
    assert 'lcIso.blobs = ["' in page
    # a folder is not a map file
    assert main(["map", str(gpkg), "--out", str(out)]) != 0


def test_pages_by_cluster(sample_result, tmp_path):
    """One page per 片区 cluster of cluster_members; the communities in none share one page."""
    members = sample_result.layers["cluster_members"]
    files = write_map_pages(sample_result, tmp_path / "k", by="cluster")
    n_clusters = members["cluster_id"].nunique()
    assert len(files) == 1 + n_clusters + 1
    index = files[0].read_text(encoding="utf-8")
    n_alone = len(sample_result.layers["communities"]) - members["community_id"].nunique()
    assert f"未分组 not in a cluster ({n_alone})" in index
    first = sorted(members["cluster_id"].unique())[0]
    n_first = int((members["cluster_id"] == first).sum())
    assert f"{first} ({n_first})" in index
