"""Report tests: sections and their rows, escaping, English, load_result round trip, CLI.

One sample run is shared by the module (and with test_maps through ``request.config``).
"""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from livingcircle.cli import main
from livingcircle.maps import make_map
from livingcircle.pipeline import Result
from livingcircle.report import load_result, make_report

EVIL = "<script>alert(1)</script>"
EVIL_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture(scope="module")
def report_zh(sample_result):
    return make_report(sample_result)


@pytest.fixture(scope="module")
def written(sample_result, tmp_path_factory):
    out = tmp_path_factory.mktemp("result")
    sample_result.write(out)
    return out


def _rows(h: str, cls: str) -> list[list[str]]:
    """Body rows (cell texts, still HTML-escaped) of ``<table class="cls">``."""
    m = re.search(rf'<table class="{cls}">.*?<tbody>(.*?)</tbody>', h, re.S)
    assert m, cls
    return [re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
            for tr in re.findall(r"<tr>(.*?)</tr>", m.group(1), re.S)]


def _h2(h: str) -> list[str]:
    return re.findall(r"<h2[^>]*>(.*?)</h2>", h)


def test_sections_zh(report_zh, sample_result):
    L = sample_result.layers
    assert _h2(report_zh) == ["研究区概况", "改造前后对比", "年度改造计划", "片区统筹建议",
                              "交互地图", "采用的标准及阈值", "步行速度", "数据来源"]
    assert '<html lang="zh-CN">' in report_zh
    assert '<p class="synthetic">合成示例数据 SYNTHETIC' in report_zh
    # study-area figures: one row per area_figures row; two charts as inline SVG
    assert len(_rows(report_zh, "figures")) == len(L["area_figures"])
    assert report_zh.count("<svg") == 2
    # the plan: every row, Chinese reasons
    plan = _rows(report_zh, "plan")
    assert len(plan) == len(L["plan"])
    # before/after: the whole-area rows only (30 categories + 4 completeness levels)
    ba = L["before_after"]
    assert len(_rows(report_zh, "before-after")) == int((ba["scope"] == "all").sum()) == 34
    # clusters with their reasons, in rank order
    cl = L["clusters"].sort_values("rank")
    rows = _rows(report_zh, "clusters")
    assert len(rows) == len(cl)
    assert rows[0][1] == cl["cluster_id"].iloc[0]
    assert rows[0][-1] == html.escape(cl["reason_zh"].iloc[0])
    assert "理由" in report_zh


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
    # speed profiles of the sample: adult 80 m/min (used for gaps), elderly 60, winter 50
    assert _rows(report_zh, "speeds") == [["adult (用于判定缺口)", "80"], ["elderly", "60"],
                                          ["winter", "50"]]
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
                      "Cluster proposals", "Standard and thresholds", "Walking speeds",
                      "Data sources"]
    cl = sample_result.layers["clusters"].sort_values("rank")
    assert _rows(h, "clusters")[0][-1] == html.escape(cl["reason_en"].iloc[0])
    assert "used for gaps" in h and "年度改造计划" not in h


def test_names_escaped_in_report_and_map(sample_result):
    L = sample_result.layers
    cid = str(L["plan"]["community_id"].iloc[0])
    comm = L["communities"].copy()
    comm.loc[comm["community_id"] == cid, "name"] = EVIL
    plan = L["plan"].copy()
    plan.loc[plan["community_id"] == cid, "name"] = EVIL
    r = Result(layers={**L, "communities": comm, "plan": plan}, profile=sample_result.profile,
               speed_profiles=sample_result.speed_profiles, metadata=sample_result.metadata)
    h = make_report(r)
    assert EVIL not in h and "<script>alert" not in h
    assert EVIL_ESCAPED in h  # the plan table shows the name as text
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
    # a folder without a result: exit code 2 and a message naming the file
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "x.html")]) == 2
    assert "livingcircle.gpkg not found" in capsys.readouterr().err
