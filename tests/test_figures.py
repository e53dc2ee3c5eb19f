"""Figures for slides and documents: files, pixel sizes at 300 dpi, Chinese text kept as text in
SVG, one card per cluster, the synthetic label, the scale bar, escaping, the missing-font warning
and the command line. The sample run is shared with the other modules (``sample_result``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from livingcircle import figures
from livingcircle._errors import InputError
from livingcircle.cli import main
from livingcircle.pipeline import Result
from livingcircle.sample import SYNTHETIC_LABEL

CATS = ["kindergarten", "junior_high_school"]
EVIL = "<script>alert(1)</script> $x$"


@pytest.fixture(scope="module")
def out(sample_result, tmp_path_factory):
    d = tmp_path_factory.mktemp("figures")
    written = figures.write_figures(sample_result, d, categories=CATS, communities=["C004"])
    return d, written


def _svg_texts(path: Path) -> list[str]:
    """The texts of an SVG's <text> elements (matplotlib escapes &, < and >)."""
    return re.findall(r"<text[^>]*>([^<]*)</text>", path.read_text(encoding="utf-8"))


def test_every_figure_written(out, sample_result):
    d, written = out
    clusters = sample_result.layers["clusters"].sort_values("rank")["cluster_id"].tolist()
    assert len(clusters) == 20
    bases = (["overview"] + [f"coverage/{c}" for c in CATS] + [f"clusters/{c}" for c in clusters]
             + ["communities/C004"])
    want = [d / f"{b}.{ext}" for b in bases for ext in ("png", "svg")]
    assert written == want
    for p in want:
        assert p.stat().st_size > 10_000, p
    # nothing else in the folder (no temporary files left behind)
    assert sorted(p for p in d.rglob("*") if p.is_file()) == sorted(want)


def test_png_is_300_dpi_at_the_stated_size(out):
    d, _ = out
    for name, size in (("overview", figures.MAP_SIZE), ("coverage/kindergarten", figures.MAP_SIZE),
                       ("clusters/K01", figures.CARD_SIZE), ("communities/C004",
                                                             figures.CARD_SIZE)):
        with Image.open(d / f"{name}.png") as im:
            assert im.size == (round(size[0] * 300), round(size[1] * 300)), name
            assert im.info["dpi"] == pytest.approx((300, 300), abs=0.01)
            # a drawn map, not a blank page: many distinct colours
            assert len(im.convert("RGB").getcolors(maxcolors=1_000_000)) > 50


def test_svg_keeps_chinese_titles_as_text(out, sample_result):
    d, _ = out
    assert "小区必配设施达标情况" in _svg_texts(d / "overview.svg")
    cat = sample_result.profile.categories["kindergarten"]
    assert f"{cat.name_zh}：步行 {cat.max_walk_m:,.0f} 米可达范围" in \
        _svg_texts(d / "coverage/kindergarten.svg")
    comm = sample_result.layers["communities"].set_index("community_id")
    texts = _svg_texts(d / "communities/C004.svg")
    assert f"{comm.loc['C004', 'name']}（C004）" in texts
    for m in (5, 10, 15):
        assert f"{m} 分钟等时圈" in texts


def test_one_card_per_cluster_with_members_sites_and_before_after(out, sample_result):
    d, _ = out
    L = sample_result.layers
    names = dict(zip(L["communities"]["community_id"], L["communities"]["name"], strict=True))
    for row in L["clusters"].itertuples(index=False):
        texts = _svg_texts(d / f"clusters/{row.cluster_id}.svg")
        assert f"片区 {row.cluster_id}（第 {row.rank} 位）" in texts
        members = L["cluster_members"][L["cluster_members"]["cluster_id"] == row.cluster_id]
        for cid, hh in zip(members["community_id"], members["households"], strict=True):
            size = "户数未知" if hh != hh else f"{hh:,.0f} 户"  # NaN: households unknown
            assert f"· {names[cid]} {cid} · {size}" in texts
        sites = L["proposed_sites"][L["proposed_sites"]["cluster_id"] == row.cluster_id]
        joined = "".join(texts).replace(" ", "")  # long lines wrap at spaces
        for s in sites.itertuples(index=False):
            assert s.site_name.replace(" ", "") in joined
        ba = L["before_after"]
        ba = ba[(ba["scope"] == row.cluster_id) & (ba["kind"] == "category")
                & (ba["households_gain"] != 0)]
        for r in ba.itertuples(index=False):
            assert (f"达标住户{r.households_met_before:,.0f}→{r.households_met_after:,.0f}"
                    in joined)


def test_synthetic_label_sources_and_scale_bar(out, sample_result):
    d, _ = out
    for p in sorted(d.rglob("*.svg")):
        texts = _svg_texts(p)
        assert SYNTHETIC_LABEL in texts, p
        assert any("district.osm" in t for t in texts), p  # the data source in the footer
    # the sample run keeps its network: the streets are drawn and named in the legend
    assert "路网" in _svg_texts(d / "overview.svg")
    # a result that is not the sample carries no synthetic label
    meta = {**sample_result.metadata, "inputs": []}
    r = Result(layers=sample_result.layers, profile=sample_result.profile,
               speed_profiles=sample_result.speed_profiles, metadata=meta)
    fig = figures.overview_figure(r)
    assert SYNTHETIC_LABEL not in [t.get_text() for t in fig.texts]
    # the scale bar: a 1-2-5 length of at most a fifth of the map's width in metres
    ax = fig.axes[0]
    x0, x1 = ax.get_xlim()
    comm = sample_result.layers["communities"].to_crs(figures._metric_crs(sample_result))
    bx0, _, bx1, _ = comm.total_bounds
    assert x1 - x0 >= (bx1 - bx0) * 1.12 - 1e-6  # the whole area and a 6 % margin each side
    length = figures._nice_length(x1 - x0)
    assert length <= (x1 - x0) / 5 < length * 2.5
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    assert label in [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("width, length", [(2600.0, 500.0), (4999.0, 500.0), (5000.0, 1000.0),
                                           (900.0, 100.0), (12_000.0, 2000.0), (3.0, 1.0)])
def test_nice_length(width, length):
    assert figures._nice_length(width) == length


def test_user_text_is_escaped_and_not_math(sample_result, tmp_path):
    L = sample_result.layers
    comm = L["communities"].copy()
    comm.loc[comm["community_id"] == "C004", "name"] = EVIL
    r = Result(layers={**L, "communities": comm}, profile=sample_result.profile,
               speed_profiles=sample_result.speed_profiles, metadata=sample_result.metadata)
    written = figures.write_figures(r, tmp_path, categories=[], clusters=False,
                                    communities=["C004"], formats="svg")
    svg = (tmp_path / "communities/C004.svg").read_text(encoding="utf-8")
    assert written == [tmp_path / "overview.svg", tmp_path / "communities/C004.svg"]
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt; $x$（C004）" in svg  # dollars kept, no mathtext


def test_no_cjk_font_warns_once_and_uses_english(sample_result, tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "find_cjk_font", lambda: None)
    with pytest.warns(UserWarning, match="fonts-noto-cjk") as rec:
        figures.write_figures(sample_result, tmp_path, categories=["kindergarten"],
                              clusters=False, formats="svg")
    assert len([w for w in rec if "CJK" in str(w.message)]) == 1
    assert "Required facilities reached, by community" in _svg_texts(tmp_path / "overview.svg")
    cat = sample_result.profile.categories["kindergarten"]
    assert f"{cat.name_en}: area within a {cat.max_walk_m:,.0f} m walk" in \
        _svg_texts(tmp_path / "coverage/kindergarten.svg")


def test_default_categories_are_those_of_the_coverage_layer(sample_result, tmp_path):
    L = sample_result.layers
    cov = L["coverage"][L["coverage"]["category"].isin(["primary_school", "bus_stop"])]
    r = Result(layers={**L, "coverage": cov}, profile=sample_result.profile,
               speed_profiles=sample_result.speed_profiles, metadata=sample_result.metadata)
    written = figures.write_figures(r, tmp_path, clusters=False, formats="png")
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        "overview.png", *[f"coverage/{c}.png" for c in cov["category"]]]


def test_bad_requests_name_what_to_do(sample_result, tmp_path):
    with pytest.raises(InputError, match=r"community 'X999' not in the result; ids look like"):
        figures.write_figures(sample_result, tmp_path, communities=["X999"])
    with pytest.raises(InputError, match=r"formats must be some of png, svg, pdf"):
        figures.write_figures(sample_result, tmp_path, formats=["jpg"])
    with pytest.raises(InputError, match=r"category 'nope' is not in the profile"):
        figures.coverage_figure(sample_result, "nope")
    with pytest.raises(InputError, match=r"cluster 'K99' is not in the result; clusters: K05"):
        figures.cluster_card(sample_result, "K99")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def written_result(sample_result, tmp_path_factory):
    d = tmp_path_factory.mktemp("result")
    sample_result.write(d, map_html=False)
    return d


def test_cli_figures_from_a_written_result(written_result, tmp_path, capsys):
    d = tmp_path / "figs"
    assert main(["figures", str(written_result), "--out", str(d), "--category", "kindergarten",
                 "--community", "C004", "--format", "png", "--format", "pdf"]) == 0
    assert f"to {d}" in capsys.readouterr().out
    for name in ("overview", "coverage/kindergarten", "clusters/K05", "communities/C004"):
        assert (d / f"{name}.png").is_file() and (d / f"{name}.pdf").is_file()
        assert (d / f"{name}.pdf").read_bytes().startswith(b"%PDF")
    assert not list(d.rglob("*.svg"))
    # a community that is not there: exit 2 and a message naming it
    assert main(["figures", str(written_result), "--out", str(d), "--community", "C9"]) == 2
    assert "community 'C9' not in the result" in capsys.readouterr().err
