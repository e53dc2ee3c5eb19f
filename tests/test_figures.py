"""Figures for slides and documents: files, pixel sizes at 300 dpi, Chinese text kept as text in
SVG, one card per cluster, the synthetic label, the scale bar, escaping, the missing-font warning
and the command line. The sample run is shared with the other modules (``sample_result``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import shapely
from matplotlib.path import Path as MplPath
from PIL import Image

from livingcircle import figures
from livingcircle._errors import InputError
from livingcircle.cli import main
from livingcircle.results import Result
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
    meta = {**sample_result.metadata, "inputs": [], "synthetic": False}
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


def test_a_cjk_font_installed_after_matplotlibs_font_cache_is_found(monkeypatch):
    """matplotlib lists fonts from a cache made on its first run; a CJK font installed after
    it (fonts-noto-cjk after a first run) is added from the system's files, not missed."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    if figures._cjk_font_in(manager) is None and not figures._added_system_fonts(font_manager):
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk)")
    installed = figures._cjk_font_in(manager)
    stale = [f for f in manager.ttflist if "CJK" not in f.name and f.name not in
             figures.CJK_FONTS]  # the list as cached before the font was installed
    monkeypatch.setattr(manager, "ttflist", stale)
    figures._system_fonts_added_once.cache_clear()  # as in a new process
    assert figures._cjk_font_in(manager) is None
    assert figures.find_cjk_font() == installed
    assert any(f.name == installed for f in stale)  # added to the list matplotlib searches


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
    listed = ", ".join(sample_result.layers["clusters"]["cluster_id"].astype(str))
    with pytest.raises(InputError,
                       match=r"cluster 'K99' is not in the result; clusters: " + re.escape(listed)):
        figures.cluster_card(sample_result, "K99")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def written_result(sample_written):
    """The session's written sample result (conftest.sample_written): read, never changed."""
    return sample_written


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


def test_synthetic_label_travels_with_a_written_sample_result(sample_result, written_result):
    from livingcircle.results import load_result

    assert sample_result.metadata["synthetic"] is True
    r = load_result(written_result)
    assert r.metadata["synthetic"] is True
    assert SYNTHETIC_LABEL in [t.get_text() for t in figures.overview_figure(r).texts]
    # a sample result written before the flag, by another install (a fresh clone's venv, another
    # machine): its inputs lie in that install's sample folder, not this one's
    other = "/tmp/fresh/.venv/lib/python3.11/site-packages/livingcircle/_sample"
    meta = {k: v for k, v in r.metadata.items() if k != "synthetic"}
    meta["inputs"] = [{**i, "path": f"{other}/{Path(str(i['path'])).name}"}
                      for i in meta["inputs"]]
    assert any(i["path"].endswith("_sample/district.osm") for i in meta["inputs"])
    old = Result(layers=r.layers, profile=r.profile, speed_profiles=r.speed_profiles,
                 metadata=meta)
    assert SYNTHETIC_LABEL in [t.get_text() for t in figures.overview_figure(old).texts]


def test_figures_of_a_written_result_draw_its_basemap_streets(written_result, tmp_path):
    from livingcircle.results import load_result

    r = load_result(written_result)
    assert r.network is None  # a written result: the streets come from its basemap layer
    streets = figures._streets(r, figures._metric_crs(r))
    basemap = r.layers["basemap"]
    assert len(streets) == int((basemap["kind"] == "street").sum()) > 0
    fig = figures.overview_figure(r)
    ax = fig.axes[0]
    # the street lines are the lowest layer of the map (zorder 1), under the communities: every
    # line of every street starts a stroke (MOVETO) of a few compound paths, never one per street
    lines = [c for c in ax.collections if c.get_zorder() == 1]
    paths = [p for c in lines for p in c.get_paths()]
    moves = sum(int((p.codes == MplPath.MOVETO).sum()) for p in paths)
    assert moves == len(shapely.get_parts(streets.geometry.to_numpy())) >= len(streets)
    assert len(paths) < len(streets) / 10
    xy = np.concatenate([p.vertices for p in paths])
    assert len(xy) == len(shapely.get_coordinates(streets.geometry.to_numpy()))
    # water and green areas of the basemap (as on the offline map) under the streets
    areas = basemap[basemap["kind"].isin(["water", "green"]) & (basemap["rank"] == 1)]
    assert len(areas) > 0
    drawn = [c for c in ax.collections if c.get_zorder() == 0.5]
    assert sum(len(c.get_paths()) for c in drawn) == len(areas.explode(index_parts=False))
    svg = tmp_path / "overview.svg"
    figures.save_figure(fig, svg, "svg")
    texts = _svg_texts(svg)
    assert "路网" in texts and "水系" in texts and "绿地" in texts


def test_streets_are_drawn_as_few_paths_each_street_whole():
    """``_draw_lines``: 3,000 streets of 7 vertices (and a missing, an empty and a two-line
    street) as compound paths of streets starting within 10,000 vertices, none cut."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    rng = np.random.default_rng(3)
    lines = list(shapely.linestrings(rng.uniform(0, 1000, (3000, 7, 2))))
    lines += [None, shapely.LineString(),
              shapely.MultiLineString([[(0, 0), (5, 5)], [(9, 9), (10, 12), (11, 15)]])]
    ax = Figure().add_subplot()
    figures._draw_lines(ax, np.asarray(lines, dtype=object), colour="#c8c8c8", width=0.35)
    (drawn,) = ax.collections
    paths = drawn.get_paths()
    assert len(paths) == 3  # 21,005 vertices; streets starting at 0-9,996, 10,003-19,999, 20,006-
    for p in paths:
        starts = np.flatnonzero(p.codes == MplPath.MOVETO)
        assert starts[0] == 0 and starts[-1] < figures.STREET_PATH_VERTICES
    assert sum(int((p.codes == MplPath.MOVETO).sum()) for p in paths) == 3002
    xy = np.concatenate([p.vertices for p in paths])
    assert np.array_equal(xy, shapely.get_coordinates(np.asarray(lines, dtype=object)))
    assert drawn.get_zorder() == 1 and drawn.get_linewidth()[0] == 0.35
    assert drawn.get_capstyle() == "butt" and drawn.get_joinstyle() == "round"
    assert drawn.get_facecolor().shape == (0, 4)  # strokes only, nothing filled
    assert np.allclose(drawn.get_edgecolor(), [[200 / 255, 200 / 255, 200 / 255, 1.0]])


def test_one_drawing_projects_each_whole_layer_once_and_draws_the_same(sample_result,
                                                                       monkeypatch):
    """``report_figures`` takes the basemap to the figures' CRS once for the overview and every
    card; a card drawn on its own takes it twice (streets, background) and is the same SVG."""
    import geopandas as gpd

    basemap = sample_result.layers["basemap"]
    projected = []
    real = gpd.GeoDataFrame.to_crs

    def counted(self, *args, **kwargs):
        projected.append(self is basemap)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(gpd.GeoDataFrame, "to_crs", counted)
    _, _, cards, n = figures.report_figures(sample_result, "zh", 3)
    assert n == 20 and len(cards) == 3
    assert sum(projected) == 1
    projected.clear()
    alone = [(cid, figures.figure_svg(figures.cluster_card(sample_result, cid)))
             for cid, _ in cards]
    assert sum(projected) == 2 * 3

    def undated(svg: str) -> str:  # matplotlib stamps each SVG with the time it was written
        return re.sub(r"<dc:date>[^<]*</dc:date>", "", svg)

    assert [(c, undated(svg)) for c, svg in alone] == [(c, undated(svg)) for c, svg in cards]
    assert figures._PROJECTED.get() is None  # nothing kept once the drawing is done


# --- map tiles, only when asked for ---------------------------------------------------------------

def _no_proxy(monkeypatch):
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def tile_server(monkeypatch):
    """A tile server on this machine: every tile a flat magenta PNG; the paths asked are kept."""
    import io
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    buf = io.BytesIO()
    Image.new("RGB", (256, 256), (255, 0, 255)).save(buf, format="PNG")
    tile, asked = buf.getvalue(), []

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):  # the name http.server calls
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args):
            pass

    _no_proxy(monkeypatch)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", asked
    server.shutdown()


def test_tiles_are_drawn_under_the_data_when_asked(sample_result, tile_server, tmp_path):
    import numpy as np
    import xyzservices

    url, asked = tile_server
    provider = xyzservices.TileProvider(name="intranet", url=url + "/{z}/{x}/{y}.png",
                                        attribution="test tiles of this machine", max_zoom=19)
    written = figures.write_figures(sample_result, tmp_path, categories=[], clusters=False,
                                    tiles=provider)
    assert [p.name for p in written] == ["overview.png", "overview.svg"]
    # one zoom for the whole map, the one whose tile pixels match the PNG's (1,824 px across
    # the map box of the 2.6 km wide sample district at 45.7° N: zoom 16)
    zooms = {p.split("/")[1] for p in asked}
    assert zooms == {"16"}
    assert any("test tiles of this machine" in t for t in _svg_texts(tmp_path / "overview.svg"))
    fig = figures.overview_figure(sample_result, tiles=provider)
    pos = fig.axes[0].get_position()
    figures.save_figure(fig, tmp_path / "check.png", "png")
    with Image.open(tmp_path / "check.png") as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    magenta = (rgb[..., 0] > 200) & (rgb[..., 1] < 80) & (rgb[..., 2] > 200)
    h, w = magenta.shape
    box = magenta[round((1 - pos.y1) * h) + 2:round((1 - pos.y0) * h) - 2,
                  round(pos.x0 * w) + 2:round(pos.x1 * w) - 2]
    # the whole map box is tiled, its corners too (the scale bar's white box is lower left)
    assert box[:20, :20].all() and box[:20, -20:].all() and box[-20:, -20:].all()
    # and the data, streets, water and green are drawn over the tiles: 65.5 % of the box
    # shows tiles (measured 2026-12-02; streets alone over them would leave more)
    assert box.mean() == pytest.approx(0.655, abs=0.05)
    assert not magenta[:, round(pos.x1 * w) + 2:].any()  # legend and north arrow stay on white


def test_amap_tiles_are_fetched_in_gcj02_and_moved_onto_the_data(sample_result, tile_server,
                                                                 tmp_path):
    import numpy as np
    import xyzservices
    from pyproj import Transformer

    from livingcircle.coords import wgs84_to_gcj02

    url, asked = tile_server
    amap = xyzservices.TileProvider(name="amap", url=url + "/{z}/{x}/{y}.png",
                                    attribution="AMap-like", max_zoom=18)
    plain = xyzservices.TileProvider(name="plain", url=url + "/{z}/{x}/{y}.png",
                                     attribution="WGS84", max_zoom=18)
    ext = {}
    for p in (plain, amap):
        fig = figures.overview_figure(sample_result, tiles=p)
        ax = fig.axes[0]
        ext[p.name] = np.array(ax.images[0].get_extent())
        figures.save_figure(fig, tmp_path / f"{p.name}.png", "png")
        pos = ax.get_position()
        with Image.open(tmp_path / f"{p.name}.png") as im:
            rgb = np.asarray(im.convert("RGB")).astype(int)
        h, w = rgb.shape[:2]
        box = rgb[round((1 - pos.y1) * h) + 2:round((1 - pos.y0) * h) - 2,
                  round(pos.x0 * w) + 2:round(pos.x1 * w) - 2]
        magenta = (box[..., 0] > 200) & (box[..., 1] < 80) & (box[..., 2] > 200)
        # the moved image still covers the whole map (a wrong sign would leave a corner bare)
        assert magenta[:20, :20].all() and magenta[-20:, -20:].all() and magenta[:20, -20:].all()
    # the AMap tiles were fetched for the GCJ-02 position, about 0.5 km north-east of the data
    crs = figures._metric_crs(sample_result)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform((x0 + x1) / 2,
                                                                         (y0 + y1) / 2)
    glon, glat = (float(v[0]) for v in wgs84_to_gcj02(np.array([lon]), np.array([lat])))
    to_m = Transformer.from_crs(4326, crs, always_xy=True)
    dx, dy = np.subtract(to_m.transform(glon, glat), to_m.transform(lon, lat))
    assert 300 < np.hypot(dx, dy) < 700
    # its image was moved back by that offset: the zoom-16 tiles of the view's GCJ-02 bounds,
    # put at their place and moved by (-dx, -dy), give the image's extent (to the warp's
    # rounding); mercantile is contextily's own tile arithmetic
    import mercantile

    w, s, e, n = Transformer.from_crs(crs, 4326, always_xy=True).transform_bounds(x0, y0, x1, y1)
    gcj = (w + glon - lon, s + glat - lat, e + glon - lon, n + glat - lat)
    tiles = list(mercantile.tiles(*gcj, zooms=16))
    assert {f"/16/{t.x}/{t.y}.png" for t in tiles} <= set(asked)
    bounds = [mercantile.bounds(t) for t in tiles]
    gx0, gy0, gx1, gy1 = to_m.transform_bounds(min(b.west for b in bounds),
                                               min(b.south for b in bounds),
                                               max(b.east for b in bounds),
                                               max(b.north for b in bounds))
    want = np.array([gx0 - dx, gx1 - dx, gy0 - dy, gy1 - dy])
    # measured 1.5 m at most (2026-12-02); without the move it would be the 510 m offset
    assert np.abs(ext["amap"] - want).max() < 5.0


def test_tiles_offline_stop_with_one_clear_line_and_write_nothing(written_result, tmp_path,
                                                                  monkeypatch, capsys):
    # no internet, as a proxy that refuses: port 9 of this machine (nothing listens there)
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(k, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    d = tmp_path / "figs"
    assert main(["figures", str(written_result), "--out", str(d), "--tiles", "osm",
                 "--category", "kindergarten"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: could not fetch OpenStreetMap.Mapnik tiles from "
                          "tile.openstreetmap.org (is this machine offline?): ProxyError")
    assert err.rstrip().endswith("draw the figures without --tiles")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not d.exists() or not [p for p in d.rglob("*") if p.is_file()]


def test_tiles_choices_are_checked_before_any_work(sample_result, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TIANDITU_TOKEN", raising=False)
    with pytest.raises(InputError, match=r"Tianditu tiles need a token: set the TIANDITU_TOKEN"):
        figures.write_figures(sample_result, tmp_path, tiles="tianditu")
    with pytest.raises(InputError, match=r"tiles must be one of osm, amap, tianditu"):
        figures.write_figures(sample_result, tmp_path, tiles="google")
    assert list(tmp_path.iterdir()) == []
    src = figures.tile_source("tianditu", tianditu_token="abc")
    assert "tk=abc" in src.build_url(x=1, y=2, z=3) and "TILEMATRIX=3" in src.build_url(
        x=1, y=2, z=3)
    assert figures.tile_source("amap")["name"] == "amap"
    assert main(["figures", str(tmp_path), "--out", str(tmp_path / "f"), "--tiles", "bing"]) == 2
    assert "'bing' is not one of 'osm', 'amap', 'tianditu'" in capsys.readouterr().err


def test_a_long_title_is_shrunk_clear_of_the_synthetic_label(sample_result):
    import dataclasses

    # the longest name a profile has carried: the reference's one parcel entry, which the default
    # profile now splits in two; a city profile may still name a category so
    prof = sample_result.profile
    long_name = "邮件和快件送达/寄递设施（智能快件箱、智能信包箱、邮政快递末端综合服务站）"
    cats = {**prof.categories, "parcel_delivery": dataclasses.replace(
        prof.categories["parcel_delivery"], name_zh=long_name)}
    assert all(len(c.name_zh) < len(long_name) for k, c in cats.items() if k != "parcel_delivery")
    r = Result(layers=sample_result.layers, profile=dataclasses.replace(prof, categories=cats),
               speed_profiles=sample_result.speed_profiles, metadata=sample_result.metadata)
    # font sizes measured 2026-12-02 (13 pt unless the title would run under the label); for
    # the longest name the label moves down to the subtitle's line and the title fits the width
    for key, size, label_y in (("parcel_delivery", 11.5, 0.925), ("public_green_park", 11.5, 0.975),
                               ("kindergarten", 13.0, 0.975)):
        fig = figures.coverage_figure(r, key)
        title, sub = fig.texts[0], fig.texts[1]
        label = next(t for t in fig.texts if t.get_text() == SYNTHETIC_LABEL)
        assert title.get_text().startswith(cats[key].name_zh)
        assert title.get_fontsize() == size
        assert label.get_position()[1] == label_y
        box, other = title.get_window_extent(), label.get_window_extent()
        assert box.x1 < fig.bbox.width
        assert box.x1 < other.x0 or box.y0 > other.y1  # beside it or above it
        assert sub.get_window_extent().x1 < other.x0  # the subtitle ends before the label
        fig.clear()
