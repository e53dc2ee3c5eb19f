"""Report tests: sections and their rows, escaping, English, load_result round trip, CLI.

One sample run is shared by the module (and with test_maps through ``request.config``).
"""

from __future__ import annotations

import base64
import html
import re

import geopandas as gpd
import pandas as pd
import pytest
from conftest import sample_policy_scope

import livingcircle as lc
from livingcircle import report
from livingcircle.cli import main
from livingcircle.maps import make_map
from livingcircle.report import make_report
from livingcircle.results import Result, load_result

EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def report_zh(sample_report):
    """make_report(sample_result), made once for the session (conftest.sample_report)."""
    return sample_report


@pytest.fixture(scope="module")
def written(sample_written):
    """The session's written sample result (conftest.sample_written): read, never changed."""
    return sample_written


def _rows(h: str, cls: str) -> list[list[str]]:
    """Body rows (cell texts, still HTML-escaped) of ``<table class="cls">``."""
    m = re.search(rf'<table class="{cls}">.*?<tbody>(.*?)</tbody>', h, re.S)
    assert m, cls
    return [re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
            for tr in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)]


def _h2(h: str) -> list[str]:
    return re.findall(r"<h2[^>]*>(.*?)</h2>", h)


def _svg_images(h: str) -> list[str]:
    """The SVG documents embedded as ``<img src="data:image/svg+xml;base64,...">``."""
    return [base64.b64decode(b).decode("utf-8")
            for b in re.findall(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', h)]


def test_summary_sentence_counts_from_the_raw_file(report_zh):
    # independent: the raw sample file and the policy rule (conftest.policy_scope)
    raw = gpd.read_file(lc.sample_paths()["communities"])
    n_yes = int((sample_policy_scope() == "yes").sum())  # buildings decide where given
    assert n_yes == 60
    hh = f"{raw['households'].sum():,.0f}"
    assert f"{len(raw)} 个小区，{hh} 户；{n_yes} 个在改造范围内；" in report_zh


def test_sections_zh(report_zh, sample_result):
    L = sample_result.layers
    assert _h2(report_zh) == ["研究区概况", "改造前后对比", "年度改造计划", "上级规划统筹事项",
                              "楼栋改造范围", "片区统筹建议",
                              "交互地图", "采用的标准及阈值", "步行速度", "数据来源"]
    assert '<html lang="zh-CN">' in report_zh
    assert '<p class="synthetic">合成示例数据 SYNTHETIC' in report_zh
    # study-area figures: one row per area_figures row; two charts as inline SVG
    assert len(_rows(report_zh, "figures")) == len(L["area_figures"])
    assert report_zh.count("<svg") == 2
    # the plan: every row, Chinese reasons
    plan = _rows(report_zh, "plan")
    assert len(plan) == len(L["plan"])
    # before/after: the whole-area rows only (31 categories + 4 completeness levels)
    ba = L["before_after"]
    assert len(_rows(report_zh, "before-after")) == int((ba["scope"] == "all").sum()) == 35
    # clusters with their reasons, in rank order
    cl = L["clusters"].sort_values("rank")
    rows = _rows(report_zh, "clusters")
    assert len(rows) == len(cl)
    assert rows[0][1] == cl["cluster_id"].iloc[0]
    assert rows[0][-1] == html.escape(cl["reason_zh"].iloc[0])
    assert "理由" in report_zh
    # buildings (issue 16 §1, §2): a row per community with buildings; every grade D building
    # listed with the appraisal note
    comm = L["communities"]
    rows = _rows(report_zh, "buildings")
    assert len(rows) == int((comm["n_buildings"] > 0).sum())
    d = _rows(report_zh, "buildings-grade-d")
    assert [r[0] for r in d] == L["buildings"].loc[L["buildings"]["grade_d"].astype(bool),
                                                    "building_id"].tolist()
    assert all(r[-1].startswith("危房（安全鉴定D级）") for r in d)


def test_figures_and_print_layout(report_zh, sample_result):
    L = sample_result.layers
    # the overview map and one card per cluster, in rank order, each its own printed page
    cl = L["clusters"].sort_values("rank")
    cards = re.findall(r'<section class="cluster-card" id="cluster-(\d+)">\s*<h3>(.*?)</h3>',
                       report_zh)
    assert cards == [(str(i + 1), f"片区 {c}") for i, c in enumerate(cl["cluster_id"])]
    svgs = _svg_images(report_zh)
    assert len(svgs) == 1 + len(cl)
    assert ">小区必配设施达标情况</text>" in svgs[0]
    for svg, (cid, rank) in zip(svgs[1:], zip(cl["cluster_id"], cl["rank"], strict=True),
                                strict=True):
        assert f">片区 {cid}（第 {rank} 位）</text>" in svg
    assert "@page { size: A4 portrait; margin: 12mm; }" in report_zh
    assert ".cluster-card { break-before: page;" in report_zh
    a3 = make_report(sample_result, lang="en", include_map=False, paper="a3")
    assert "@page { size: A3 landscape; margin: 12mm; }" in a3
    assert ">Required facilities reached, by community</text>" in _svg_images(a3)[0]
    with pytest.raises(ValueError, match="paper must be one of a4, a3, not 'letter'"):
        make_report(sample_result, paper="letter")


def test_standard_speeds_sources(report_zh, sample_result):
    prof = sample_result.profile
    rows = _rows(report_zh, "profile")
    assert len(rows) == len(prof.categories)
    by_id = {r[0]: r for r in rows}
    for c in prof.categories.values():
        r = by_id[c.id]
        assert r[1] == html.escape(c.name_zh)
        assert r[3] == (f"{c.max_walk_m:.0f}" if c.max_walk_m is not None else "")
        assert r[5] == ("已核实" if c.threshold_status == "verified"
                        else f"未核实（{c.threshold_status}）")
    # the speeds the sample measured, from the profile with status and source (issue 16 §3):
    # adult 80 m/min (used for gaps), elderly 0.8 m/s = 48, winter 1000/14.5 = 69.0,
    # elderly in winter 1000/22.833 = 43.8
    rows = _rows(report_zh, "speeds")
    assert [r[:3] for r in rows] == [["adult (用于判定缺口)", "80.0", "unverified"],
                                     ["elderly", "48.0", "verified"],
                                     ["winter", "69.0", "derived"],
                                     ["elderly_winter", "43.8", "derived"]]
    assert [r[3] for r in rows] == [html.escape(prof.speed(n).source_text)
                                    for n in ("adult", "elderly", "winter", "elderly_winter")]
    src = _rows(report_zh, "sources")
    inputs = sample_result.metadata["inputs"]
    assert len(src) == len(inputs)
    for i, r in zip(inputs, src, strict=True):
        assert r[0] == i["role"] and r[2] == i["sha256"] and len(r[2]) == 64
    # each file's coordinate system: the AMap CSV's from its name, the GeoPackages' their own
    crs = {r[1].rsplit("/", 1)[-1]: r[3] for r in src}
    assert crs["facilities_amap_gcj02.csv"] == "gcj02（据文件名）；距步行街道中位距离 10.8 m"
    assert crs["facilities.gpkg"] == "EPSG:4326（文件自带）；距步行街道中位距离 10.9 m"
    assert crs["district.osm"] == ""


def test_english(sample_result):
    h = make_report(sample_result, lang="en", include_map=False)
    assert '<html lang="en">' in h
    assert _h2(h) == ["Study area", "Before and after", "Annual renovation plan",
                      "Items for district planning (上级规划统筹)",
                      "Buildings in the renovation scope", "Cluster proposals",
                      "Standard and thresholds", "Walking speeds", "Data sources"]
    cl = sample_result.layers["clusters"].sort_values("rank")
    assert _rows(h, "clusters")[0][-1] == html.escape(cl["reason_en"].iloc[0])
    assert "used for gaps" in h and "年度改造计划" not in h


def test_names_escaped_in_report_and_map(sample_result):
    L = sample_result.layers
    members = set(L["cluster_members"]["community_id"])  # a member: its cluster card names it
    cid = next(c for c in L["plan"]["community_id"].astype(str) if c in members)
    comm = L["communities"].copy()
    comm.loc[comm["community_id"] == cid, "name"] = EVIL
    plan = L["plan"].copy()
    plan.loc[plan["community_id"] == cid, "name"] = EVIL
    r = Result(layers={**L, "communities": comm, "plan": plan}, profile=sample_result.profile,
               speed_profiles=sample_result.speed_profiles, metadata=sample_result.metadata)
    h = make_report(r)
    assert EVIL not in h and "<script>alert" not in h
    assert EVIL_ESCAPED in h  # the plan table shows the name as text
    # the figures embedded in the report escape it too (the overview has no names; a cluster
    # card lists its members)
    card = [svg for svg in _svg_images(h) if f" {cid} · " in svg]
    assert card and all(EVIL_ESCAPED in svg for svg in card)
    assert all("<script" not in svg for svg in _svg_images(h))
    m = make_map(r, isochrones=False).get_root().render()
    assert EVIL not in m and "<script>alert" not in m
    assert "\\u0026lt;script\\u0026gt;alert(1)\\u0026lt;/script\\u0026gt;" in m


def test_load_result_round_trip(written, sample_result):
    r = load_result(written)
    assert load_result(written / "livingcircle.gpkg").layers.keys() == r.layers.keys()
    assert set(r.layers) == set(sample_result.layers)
    for k, df in sample_result.layers.items():
        assert len(r.layers[k]) == len(df), k
    a = sample_result.layers["communities"]
    b = r.layers["communities"]
    assert list(b["community_id"]) == list(a["community_id"])
    assert str(b.crs) == "EPSG:4326"
    pd.testing.assert_series_equal(b["households"].astype(float).reset_index(drop=True),
                                   a["households"].astype(float).reset_index(drop=True))
    assert r.speed_profiles[0] == sample_result.metadata["speed_profile"]
    assert r.metadata["inputs"] == sample_result.metadata["inputs"]
    assert r.profile.name == sample_result.profile.name


def test_cli_map_and_report(written, tmp_path, capsys):
    m = tmp_path / "m.html"
    assert main(["map", str(written), "--out", str(m), "--no-isochrones"]) == 0
    text = m.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "lc-legend" in text
    rep = tmp_path / "r.html"
    assert main(["report", str(written), "--out", str(rep), "--lang", "en", "--no-map"]) == 0
    text = rep.read_text(encoding="utf-8")
    assert '<html lang="en">' in text and "Annual renovation plan" in text
    assert f"wrote {rep}" in capsys.readouterr().out
    # --pdf without a browser: exit code 2 and a line saying what to install
    monkey = pytest.MonkeyPatch()
    monkey.setattr(report, "CHROMIUM_NAMES", ("no-such-browser-here",))
    try:
        assert main(["report", str(written), "--out", str(tmp_path / "r.pdf")]) == 2
    finally:
        monkey.undo()
    assert "apt-get install chromium" in capsys.readouterr().err
    assert not (tmp_path / "r.pdf").exists()
    assert main(["report", str(written), "--out", str(tmp_path / "r.html"), "--pdf"]) == 2
    assert "give an --out ending in .pdf" in capsys.readouterr().err
    # a folder without a result: exit code 2 and a message naming the file
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "x.html")]) == 2
    assert "livingcircle.gpkg not found" in capsys.readouterr().err


def test_card_cap_and_png_overview_for_a_city(sample_result, monkeypatch):
    """Only the best-ranked cluster cards are printed (with a note), and above the spill size a
    city's overview is a PNG instead of an SVG of every polygon."""
    import livingcircle as lc

    monkeypatch.setattr(report, "MAX_CLUSTER_CARDS", 3)
    monkeypatch.setattr(lc.settings, "spill_above_communities", 10)
    h = make_report(sample_result, include_map=False)
    cl = sample_result.layers["clusters"].sort_values("rank")
    cards = re.findall(r'<section class="cluster-card" id="cluster-\d+">\s*<h3>片区 (\w+)</h3>', h)
    assert cards == cl["cluster_id"].head(3).tolist()
    assert f"以下为排名前 3 个片区的图卡（共 {len(cl)} 个）" in h
    overview = re.search(r'<figure class="overview"><img src="data:image/(\w+)\+?\w*;base64,', h)
    assert overview.group(1) == "png"
    assert len(_svg_images(h)) == 3


def test_district_planning_grade_d_and_rules_section(report_zh, sample_result):
    # issue 16 §2: gaps the district plans, per category, counted from the layer by hand
    dp = pd.DataFrame(sample_result.layers["district_planning"])
    rows = _rows(report_zh, "district-planning")
    assert len(rows) == dp["category"].nunique() > 0
    names = {c.id: c.name_zh for c in sample_result.profile.categories.values()}
    first = dp["category"].iloc[0]
    sub = dp[dp["category"] == first]
    assert rows[0][0] == html.escape(names[first])
    assert rows[0][2] == str(len(sub))
    assert rows[0][3] == f"{int(sub['households'].sum()):,}"
    # none of them is a community's renovation need
    assert not sample_result.layers["needs"]["item_id"].isin(dp["category"]).any()
    # the four grade D communities of the sample are always listed, with the note
    gd = _rows(report_zh, "grade-d")
    assert [r[0] for r in gd] == ["C037", "C062", "C067", "C076"]
    assert all("须经房屋安全鉴定" in r[-1] for r in gd)
    # the sample's location_type column: the report says the rule was applied
    assert "已按所在地类型（location_type）核对二(一)所列地域" in report_zh
    assert sample_result.metadata["renovation_rules"]["location_eligibility"]["applied"] == "yes"
