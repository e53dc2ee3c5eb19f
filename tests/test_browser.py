"""Open the map and the report in headless Chromium, offline (every non-file request aborted).

Needs Debian's ``chromium`` at /usr/bin/chromium (installed by ``.ci/run``) and Playwright-python
(its own browser download is not used). Skipped with a reason when Chromium is missing outside CI;
fails in CI (env CI set). Screenshots go to tests/_artifacts/ for review.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from conftest import need, need_module

from livingcircle.maps import make_map, write_map_pages
from livingcircle.report import make_report, write_report
from livingcircle.results import Result

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "_artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def _need_browser():
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright (python) is not installed"
    need("Chromium with playwright", problem is None, problem or "")


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _open(browser, path: Path, page=None):
    """Open ``path`` offline; return the page, JS errors, console errors and blocked requests."""
    page = page or browser.new_page(viewport={"width": 1200, "height": 800})
    errors, console, blocked = [], [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)

    def route(r):
        if r.request.url.startswith(("file:", "data:", "about:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_timeout(500)
    return page, errors, console, blocked


def test_map_offline_in_chromium(browser, sample_result, sample_written):
    path = sample_written / "map.html"  # make_map(sample_result), written with the result
    page, errors, console, blocked = _open(browser, path)
    assert errors == []
    assert console == []
    assert blocked == []  # the default map asks for nothing from the network
    n_comm = len(sample_result.layers["communities"])
    # communities + candidate sites + facilities are shown by default, each as an SVG path
    n_fac = len(sample_result.layers["facilities"])
    n_sites = len(sample_result.layers["sites"])
    # cluster outlines and proposed sites of 片区联动 are shown by default too
    n_extra = sum(len(sample_result.layers[k]) for k in ("clusters", "proposed_sites")
                  if k in sample_result.layers)
    n_paths = page.locator("path.leaflet-interactive").count()
    assert n_paths == n_comm + n_fac + n_sites + n_extra
    labels = page.locator(".leaflet-control-layers label").all_inner_texts()
    text = " ".join(labels)
    for want in ("无底图", "OpenStreetMap", "小区", "5分钟等时圈", "15分钟等时圈", "直线距离圈",
                 "缺口", "设施", "候选用地"):
        assert want in text
    assert page.locator(".lc-legend").is_visible()
    # typing a community name in the search box zooms to it and opens its popup
    comm = sample_result.layers["communities"]
    name, cid = str(comm["name"].iloc[5]), str(comm["community_id"].iloc[5])
    assert page.locator(".leaflet-popup-content").count() == 0
    scale_before = page.locator(".leaflet-control-scale-line").first.inner_text()
    page.fill(".lc-search input", name)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=5000)
    assert popup.count() == 1
    text = popup.inner_text()
    assert text.startswith(name) and f"编号 {cid}" in text
    # the map zoomed in to the community: the metric scale bar shows a shorter distance
    assert page.locator(".leaflet-control-scale-line").first.inner_text() != scale_before
    # opening it drew its 5/10/15-minute isochrones (decompressed from the page's data)
    page.wait_for_function("Object.values(lcIso.groups).every(g => g.getLayers().length === 1)",
                           timeout=5000)
    assert page.locator("path.leaflet-interactive").count() == n_paths + 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_offline.png"))
    page.close()


def test_report_offline_in_chromium(browser, sample_result, sample_report, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(sample_report, encoding="utf-8")  # make_report(sample_result), conftest
    page, errors, console, blocked = _open(browser, path)
    assert errors == []
    assert console == []
    assert blocked == []
    assert page.locator("h1").first.inner_text().startswith("15分钟生活圈")
    assert page.locator("table.plan tbody tr").count() == len(sample_result.layers["plan"])
    frame = page.frame_locator("iframe.map")
    assert frame.locator(".leaflet-control-layers").count() == 1
    n_comm = len(sample_result.layers["communities"])
    assert frame.locator("path.leaflet-interactive").count() >= n_comm
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report_offline.png"))
    page.close()


def _street_pixels(png: bytes, boxes: list[dict]) -> tuple[int, int]:
    """Return (pixels in the street greys, pixels looked at) outside ``boxes`` (client rects).

    The street greys are those of :data:`livingcircle.maps.BASEMAP_STYLES` (#8c8c8c–#c2c2c2,
    with anti-aliasing on the #f4f4f0 background: grey levels 130–215, channels within 6).
    """
    import io

    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    free = np.ones(img.shape[:2], dtype=bool)
    for b in boxes:
        free[max(int(b["top"]), 0):int(b["bottom"]) + 1,
             max(int(b["left"]), 0):int(b["right"]) + 1] = False
    r, g, b_ = img[..., 0], img[..., 1], img[..., 2]
    grey = (np.abs(r - g) <= 6) & (np.abs(g - b_) <= 6) & (r >= 130) & (r <= 215)
    return int((grey & free).sum()), int(free.sum())


_BOXES_JS = """() => Array.from(document.querySelectorAll(
  'path.leaflet-interactive, .lc-legend, .lc-title, .lc-search, .leaflet-control'))
  .map(e => e.getBoundingClientRect().toJSON())"""


def test_offline_map_shows_the_street_pattern(browser, sample_result, sample_written):
    """The sample's offline map draws its streets, water and green under the data layers."""
    bg = sample_result.layers["basemap"]
    assert set(bg["kind"]) == {"street", "water", "green"}  # the sample has no railway
    path = sample_written / "map.html"  # make_map(sample_result), written with the result
    page, errors, console, blocked = _open(browser, path)
    assert errors == [] and console == [] and blocked == []
    # every street feature of the layer is an SVG path in the basemap pane; each merged line of
    # it is one "M" (move-to) of the path data: the sample's street network drawn as lines
    streets = page.locator(".leaflet-lcbase-pane path.lc-street")
    assert streets.count() == int((bg["kind"] == "street").sum())
    n_lines = page.evaluate("""() => Array.from(document.querySelectorAll('path.lc-street'))
        .map(p => (p.getAttribute('d').match(/M/g) || []).length).reduce((a, b) => a + b, 0)""")
    print(f"street polylines drawn: {n_lines}")
    assert n_lines > 1000  # measured 2026-12-02: 1,811 at the opening zoom
    assert page.locator(".leaflet-lcbase-pane path.lc-bg").count() == int(
        (bg["kind"] != "street").sum())
    # pixels in the street greys where no community, facility or control is drawn
    boxes = page.evaluate(_BOXES_JS)
    png = page.screenshot()
    with_streets, looked_at = _street_pixels(png, boxes)
    page.evaluate("() => document.querySelectorAll('path.lc-street, path.lc-bg')"
                  ".forEach(p => p.style.display = 'none')")
    without, _ = _street_pixels(page.screenshot(), boxes)
    print(f"street-grey pixels outside the data: {with_streets} with the basemap, {without} "
          f"without, of {looked_at}")
    assert looked_at > 200_000
    # measured 2026-12-02: 12,795 with, 1,867 without (grey facility dots' edges, scale bar)
    # of 698,291 pixels looked at
    assert with_streets - without > 8_000 and without < with_streets / 4
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "map_offline_streets.png").write_bytes(png)
    page.close()


NASTY = ["<script>alert(1)</script>", 'He said "hi" & \'bye\'', "</div><b>bold</b>"]


def _nasty_result(sample_result, copies: int = 1) -> Result:
    """The sample with nasty community names (and ``copies`` shifted districts for pages)."""
    from shapely.affinity import translate

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
    comm.loc[comm.index[:3], "name"] = NASTY
    comm.loc[comm.index[0], "district"] = NASTY[2]  # a page named by a nasty district
    return Result(layers={**L, "communities": comm, "gaps": pd.concat(gaps, ignore_index=True),
                          "isochrones": gpd.GeoDataFrame(pd.concat(isos, ignore_index=True),
                                                         crs=4326)},
                  profile=sample_result.profile, speed_profiles=sample_result.speed_profiles,
                  metadata=sample_result.metadata)


_AS_TEXT_JS = """(html) => { const d = document.createElement('div'); d.innerHTML = html;
  return [d.textContent, d.querySelectorAll('script, b').length]; }"""


def test_names_shown_as_text(browser, sample_result, tmp_path):
    """Names with markup show as text in popups, tooltips and the search box; nothing runs."""
    r = _nasty_result(sample_result)
    path = tmp_path / "map.html"
    make_map(r).save(str(path))
    page, errors, console, blocked = _open(browser, path)
    assert errors == [] and console == [] and blocked == []
    for i, name in enumerate(NASTY):
        if i:
            page.locator(".leaflet-popup-close-button").click()
            page.wait_for_function("!document.querySelector('.leaflet-popup')")
        page.fill(".lc-search input", name)
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(state="visible", timeout=5000)
        assert popup.inner_text().startswith(name + " (编号 ")
        assert popup.locator("script").count() == 0
        assert popup.locator("b").count() == 2  # the name and "未达标类别", both ours
        text, tags = page.evaluate(_AS_TEXT_JS, page.evaluate(f"lcCommTip({i})"))
        assert text.startswith(name + " ") and tags == 0
        cat = page.evaluate(f"lcRules[lcInfo[{i}][7][0][0]][5]")
        text, tags = page.evaluate(_AS_TEXT_JS, page.evaluate(f"lcGapTip({i}, {cat})"))
        assert text.startswith(name + ": ") and tags == 0
        page.wait_for_function(f"lcIso.shown === {i}")
    # the isochrone tooltips carry the name as text too
    page.wait_for_function("lcIso.groups[15].getLayers().length === 1")
    tip = page.evaluate("lcIso.groups[15].getLayers()[0].getTooltip().getContent()")
    assert page.evaluate(_AS_TEXT_JS, tip)[0].startswith(NASTY[2] + ": 15 分钟")
    assert page.evaluate("window.alerted === undefined")
    assert errors == [] and console == []
    page.close()


def test_city_pages_in_chromium(browser, sample_result, tmp_path):
    """The index and its pages open offline, link both ways and show nasty names as text."""
    r = _nasty_result(sample_result, copies=2)
    files = write_map_pages(r, tmp_path / "pages", by="district")
    assert len(files) == 1 + 5  # 南兴区0/1, 道安区0/1 and the nasty district's page
    page, errors, console, blocked = _open(browser, files[0])
    assert errors == [] and console == [] and blocked == []
    links = page.locator(".lc-links a")
    assert links.count() == 5
    assert NASTY[2] + " (1)" in links.all_inner_texts()
    # one outline per page on the index
    assert page.locator("path.leaflet-interactive").count() == 5
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_index.png"))
    for k in range(5):
        page.locator(".lc-links a").nth(k).click()
        page.wait_for_function("window.lcReady !== undefined", timeout=10_000)
        assert page.url.endswith(files[1 + k].name)
        title = page.locator(".lc-title").inner_text()
        assert page.locator(".lc-links a").inner_text() == "← 全市索引 City index"
        if k == 0:
            page.screenshot(path=str(ARTIFACTS / "map_page.png"))
        page.locator(".lc-links a").click()
        page.wait_for_function("window.lcReady !== undefined", timeout=10_000)
        assert page.url.endswith("index.html")
        assert title
    assert errors == [] and console == [] and blocked == []
def test_report_print_media_in_chromium(browser, sample_result, tmp_path):
    """The report as printed: no errors, cards drawn, the map left out, user names as text."""
    L = sample_result.layers
    evil = "<script>alert(1)</script>"
    cid = str(L["plan"]["community_id"].iloc[0])
    comm = L["communities"].copy()
    comm.loc[comm["community_id"] == cid, "name"] = evil
    plan = L["plan"].copy()
    plan.loc[plan["community_id"] == cid, "name"] = evil
    r = Result(layers={**L, "communities": comm, "plan": plan}, profile=sample_result.profile,
               speed_profiles=sample_result.speed_profiles, metadata=sample_result.metadata)
    path = tmp_path / "report.html"
    path.write_text(make_report(r), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.emulate_media(media="print")
    page, errors, console, blocked = _open(browser, path, page=page)
    assert errors == [] and console == [] and blocked == [] and dialogs == []
    n_cl = len(L["clusters"])
    cards = page.locator("section.cluster-card img")
    assert cards.count() == n_cl
    widths = cards.evaluate_all("els => els.map(e => e.naturalWidth)")
    assert all(w > 0 for w in widths)  # every card's SVG decoded and drawn
    assert page.locator("figure.overview img").evaluate("e => e.naturalWidth") > 0
    assert not page.locator("iframe.map").is_visible()  # the interactive map is not printed
    row = page.locator("table.plan tbody tr", has_text=cid).first.inner_text()
    assert evil in row  # shown as text, never run
    page.close()


def _pdf_pages(path: Path):
    """(width pt, height pt, text) of each page; NFKC because pypdf reads some CJK glyphs of
    the embedded font as Kangxi radicals (⽚ U+2F5A for 片)."""
    import unicodedata

    pypdf = need_module("pypdf", "pypdf", "pip install 'livingcircle[test]'")
    reader = pypdf.PdfReader(str(path))
    return [(float(p.mediabox.width), float(p.mediabox.height),
             unicodedata.normalize("NFKC", p.extract_text() or "")) for p in reader.pages]


@pytest.mark.parametrize("paper, size", [("a4", (595.0, 842.0)), ("a3", (1191.0, 842.0))])
def test_report_pdf_pages(browser, sample_result, tmp_path, paper, size):
    """``write_report(..., "report.pdf")`` prints through Chromium: A4 portrait or A3
    landscape, one page per 片区 cluster card in rank order; page 1 rendered for review."""
    import math
    import shutil
    import subprocess

    pdf = tmp_path / f"report_{paper}.pdf"
    write_report(sample_result, pdf, paper=paper)
    pages = _pdf_pages(pdf)
    for w, h, _ in pages:
        assert (w, h) == pytest.approx(size, abs=1.0)  # A4 595×842 pt, A3 landscape 1191×842
    cl = sample_result.layers["clusters"].sort_values("rank")["cluster_id"].tolist()
    starts = [i for i, (_, _, text) in enumerate(pages) if text.lstrip().startswith("片区 K")]
    # every cluster card starts its own page, in rank order, one after another
    assert [pages[i][2].lstrip()[:6] for i in starts] == [f"片区 {c}"[:6] for c in cl]
    assert starts == list(range(starts[0], starts[0] + len(cl)))
    assert len(pages) > starts[-1]
    assert pages[0][2].lstrip().startswith("15分钟生活圈")
    assert "SYNTHETIC" in pages[0][2]
    need("pdftoppm", bool(shutil.which("pdftoppm")), "apt-get install poppler-utils (.ci/run does)")
    ARTIFACTS.mkdir(exist_ok=True)
    stem = ARTIFACTS / f"report_{paper}_page1"
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-singlefile", "-f", "1", "-l", "1",
                    str(pdf), str(stem)], check=True)
    from PIL import Image

    with Image.open(f"{stem}.png") as im:
        # 50 dpi, pdftoppm rounds up: 594.96 × 841.92 pt → 414 × 585 px (A4)
        w, h, _ = pages[0]
        assert im.size == (math.ceil(w / 72 * 50), math.ceil(h / 72 * 50))
        assert len(im.convert("RGB").getcolors(maxcolors=1_000_000)) > 20


def test_figure_svg_in_chromium_shows_names_as_text(browser, sample_result, tmp_path):
    """A community card opened as an SVG document: the name is text, nothing runs."""
    from livingcircle import figures

    L = sample_result.layers
    evil = "<script>alert(1)</script>"
    comm = L["communities"].copy()
    comm.loc[comm["community_id"] == "C004", "name"] = evil
    r = Result(layers={**L, "communities": comm}, profile=sample_result.profile,
               speed_profiles=sample_result.speed_profiles, metadata=sample_result.metadata)
    (path,) = figures.write_figures(r, tmp_path, categories=[], clusters=False, overview=False,
                                    communities=["C004"], formats="svg")
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page, errors, console, blocked = _open(browser, path, page=page)
    assert errors == [] and console == [] and blocked == [] and dialogs == []
    assert page.locator("script").count() == 0
    texts = page.locator("text").all_text_contents()
    assert f"{evil}（C004）" in texts
    page.close()
