"""Open the map and the report in headless Chromium, offline (every non-file request aborted).

Needs Debian's ``chromium`` at /usr/bin/chromium (installed by ``.ci/run``) and Playwright-python
(its own browser download is not used). Skipped with a reason when Chromium is missing outside CI;
fails in CI (env CI set). Screenshots go to tests/_artifacts/ for review.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from livingcircle.maps import make_map
from livingcircle.report import make_report

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
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {problem}")
        pytest.skip(problem)


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def _open(browser, path: Path):
    """Open ``path`` offline; return the page, JS errors, console errors and blocked requests."""
    page = browser.new_page(viewport={"width": 1200, "height": 800})
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


def test_map_offline_in_chromium(browser, sample_result, tmp_path):
    path = tmp_path / "map.html"
    make_map(sample_result).save(str(path))
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
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_offline.png"))
    page.close()


def test_report_offline_in_chromium(browser, sample_result, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(make_report(sample_result), encoding="utf-8")
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


def test_offline_map_shows_the_street_pattern(browser, sample_result, tmp_path):
    """The sample's offline map draws its streets, water and green under the data layers."""
    bg = sample_result.layers["basemap"]
    assert set(bg["kind"]) == {"street", "water", "green"}  # the sample has no railway
    path = tmp_path / "map.html"
    make_map(sample_result).save(str(path))
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
