"""Figures for slides and printed documents: PNG at 300 dpi plus SVG or PDF, from matplotlib.

:func:`write_figures` (and ``livingcircle figures RESULT --out DIR``) writes, from a
:class:`livingcircle.results.Result` or a written result folder:

* ``overview``: every community coloured by the share of its required categories that it reaches
  (the classes of :data:`livingcircle.styles.COMPLETENESS_CLASSES`, as on the interactive map), the
  communities in the renovation scope outlined;
* ``coverage/<category>``: for each facility category, the area within its walking threshold
  (the ``coverage`` layer), its facilities, and which communities meet it;
* ``clusters/<cluster_id>``: one card per 片区联动 cluster — its members, the proposed sites and
  the before/after coverage and households of the ``clusters``, ``proposed_sites`` and
  ``before_after`` layers;
* ``communities/<community_id>``: on request, one card per community with its 5/10/15-minute
  isochrones and the required categories it misses.

Every map has a north arrow, a scale bar in metres (drawn in a projected CRS: the network's own
when the result records one, else the UTM zone of the communities; grid north and true north
differ by less than 2° within a UTM zone's 6°), a legend, the data sources and date, and the
synthetic label on the sample district. The streets of the walking network are drawn lightly
underneath when the result carries them (its ``basemap`` layer, or the network of a run still in
memory), and the basemap's water, green and railways under them in the offline map's colours.

Figures are made offline: map tiles are drawn only when asked for with ``tiles="osm"``,
``"amap"`` or ``"tianditu"`` (``--tiles``), fetched with contextily (``pip install
"livingcircle[tiles]"``); without internet that fails with one clear error, never with a figure
silently missing its background.

Chinese text needs a CJK font that matplotlib can find (Debian: ``fonts-noto-cjk``); without one,
one warning says so and the figures use English labels. SVG keeps text as text
(``svg.fonttype = "none"``), so a slide tool can edit it and tests can read it. User text
(community and site names) is drawn with mathtext off, and matplotlib escapes it in SVG.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import logging
import re
import textwrap
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast, overload

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._errors import ExportError, InputError
from .crs import utm_crs
from .results import load_result
from .sample import synthetic_label
from .styles import (
    AMAP_TILES_URL,
    BASEMAP_STYLES,
    COMPLETENESS_CLASSES,
    TIANDITU_TILES_URL,
    completeness_colour,
)
from .summaries import in_scope_mask, share_met
from .values import format_number, format_share

if TYPE_CHECKING:
    from xyzservices import TileProvider

    from .results import Result

logger = logging.getLogger(__name__)

#: Resolution of the PNG files: 300 dpi, the usual minimum for print (issue 18).
DPI = 300
#: Size in inches of a map figure (4:3; 2400 × 1800 px at 300 dpi).
MAP_SIZE = (8.0, 6.0)
#: Size in inches of a cluster or community card (map and text side by side; 3000 × 1800 px).
CARD_SIZE = (10.0, 6.0)
#: Output formats :func:`write_figures` can write.
FORMATS = ("png", "svg", "pdf")

#: CJK fonts looked for, in order (Debian's fonts-noto-cjk provides the first).
CJK_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans CJK JP", "Source Han Sans",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei",
             "PingFang SC", "Heiti SC", "Noto Serif CJK SC", "AR PL UMing CN"]

#: Map tiles that figures can draw under the data when asked for (``tiles=``, ``--tiles``).
TILES = ("osm", "amap", "tianditu")
_TILE_ATTRIBUTION = {"amap": "© 高德地图 AutoNavi", "tianditu": "© 天地图 Tianditu"}

_ISO_COLOURS = {5: "#1b9e77", 10: "#7570b3", 15: "#d95f02"}
_ROLE_COLOURS = {"member": "#fdae61", "beneficiary": "#abd9e9"}
_STREET_COLOUR = "#c8c8c8"
_MAP_NORTH = (1.07, 0.2)  # a map figure's north arrow: right of the map, below the legend

_T = {
    "zh": {
        "overview": "小区必配设施达标情况", "share": "必配类别达标比例", "no_data": "无数据",
        "in_scope": "改造范围内（粗框）", "communities": "小区",
        "overview_sub": "{n} 个小区，{c} 个全部必配类别达标，{s} 个在改造范围内",
        "coverage": "{name}：步行 {m} 米可达范围", "covered": "步行 {m} 米内",
        "facilities": "设施", "met": "达标小区", "not_met": "未达标小区",
        "coverage_sub": "{met}/{n} 个小区达标，达标住户比例 {share}；标准：{src}",
        "cluster": "片区 {cid}（第 {rank} 位）", "members": "成员小区", "beneficiaries": "受益小区",
        "member": "成员", "beneficiary": "受益", "proposed": "建议新增设施",
        "site": "建议用地", "outline": "片区范围", "changes": "改造前后",
        "hh": "户", "hh_unknown": "户数未知", "served": "新覆盖 {h} 户", "no_change": "无变化",
        "met_change": "达标小区 {a}→{b}，达标住户 {c}→{d}",
        "cluster_sub": "{n} 个成员小区，新增 {f} 处设施，新覆盖 {h} 户",
        "community": "{name}（{cid}）", "iso": "{m} 分钟等时圈", "missing": "未达标必配类别",
        "none_missing": "全部必配类别达标",
        "gap": "{name}：最近 {d}（{t}），标准 ≤ {th} 米", "not_reached": "搜索范围内无",
        "level": "{m} 分钟生活圈", "block": "居住街坊",
        "community_sub": "{h} 户；改造范围：{scope}；达标 {met}/{req} 个必配类别",
        "sources": "数据来源", "network": "路网", "standard": "标准", "made": "制图",
        "crs": "坐标", "tiles": "底图", "water": "水系", "green": "绿地", "rail": "铁路",
        "more": "…… 另 {n} 项", "yes": "是", "no": "否",
        "unknown": "未知",
    },
    "en": {
        "overview": "Required facilities reached, by community",
        "share": "share of required categories met", "no_data": "no data",
        "in_scope": "in renovation scope (thick outline)", "communities": "communities",
        "overview_sub": "{n} communities; {c} reach every required category; {s} in scope",
        "coverage": "{name}: area within a {m} m walk", "covered": "within {m} m walk",
        "facilities": "facilities", "met": "communities met", "not_met": "communities not met",
        "coverage_sub": "{met}/{n} communities met, {share} of households; standard: {src}",
        "cluster": "Cluster {cid} (rank {rank})", "members": "Members",
        "beneficiaries": "Also served", "member": "member", "beneficiary": "also served",
        "proposed": "Proposed new facilities", "site": "proposed site",
        "outline": "cluster area", "changes": "Before → after", "hh": "households",
        "hh_unknown": "households unknown",
        "served": "newly serves {h} households", "no_change": "no change",
        "met_change": "communities met {a}→{b}, households met {c}→{d}",
        "cluster_sub": "{n} member communities, {f} new facilities, {h} households newly served",
        "community": "{name} ({cid})", "iso": "{m}-minute isochrone",
        "missing": "Required categories not met", "none_missing": "every required category met",
        "gap": "{name}: nearest {d} ({t}), standard ≤ {th} m", "not_reached": "none in reach",
        "level": "{m}-minute circle", "block": "block",
        "community_sub": "{h} households; in scope: {scope}; {met}/{req} required categories met",
        "sources": "Data", "network": "network", "standard": "standard", "made": "made",
        "crs": "CRS", "tiles": "tiles", "water": "water", "green": "green space",
        "rail": "railway", "more": "… {n} more", "yes": "yes", "no": "no",
        "unknown": "unknown",
    },
}


# --- fonts and style ----------------------------------------------------------------------------

def find_cjk_font() -> str | None:
    """Return the name of a CJK font matplotlib can use, or None when none is installed.

    Looks for :data:`CJK_FONTS` in order, then any font whose name contains ``CJK``. When
    matplotlib's font list has none, the system's font files it does not list are added to it
    first: matplotlib keeps that list in a cache (``~/.cache/matplotlib``) made the first time
    it ran, so a font installed afterwards (``apt-get install fonts-noto-cjk`` after a first
    run, as ``.ci/run`` does on a machine that ran before) was never seen and every figure
    silently came out in English.
    """
    from matplotlib import font_manager

    found = _cjk_font_in(font_manager.fontManager)
    if found is None and _system_fonts_added_once():
        found = _cjk_font_in(font_manager.fontManager)
    return found


@functools.cache
def _system_fonts_added_once() -> int:
    """Return :func:`_added_system_fonts`, run once per process.

    Every figure asks for the font; without any CJK font installed the system's fonts would
    be listed again for each.
    """
    from matplotlib import font_manager

    return _added_system_fonts(font_manager)


def _cjk_font_in(manager) -> str | None:
    names = {f.name for f in manager.ttflist}
    for n in CJK_FONTS:
        if n in names:
            return n
    other = sorted(n for n in names if "CJK" in n)
    return other[0] if other else None


def _added_system_fonts(font_manager) -> int:
    """Add the system's font files missing from matplotlib's (cached) list; return how many."""
    known = {f.fname for f in font_manager.fontManager.ttflist}
    added = 0
    for path in font_manager.findSystemFonts():
        if path in known:
            continue
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):  # a file FreeType cannot read: left out
            continue
        added += 1
    if added:
        logger.info("%d font files added to matplotlib's cached font list (installed after it "
                    "was made)", added)
    return added


def figure_style(lang: str) -> tuple[str, dict]:
    """Return the language to draw in and matplotlib rc settings (CJK font when there is one)."""
    font = find_cjk_font()
    if font is None and lang == "zh":
        msg = ("no Chinese (CJK) font found for matplotlib: the figures use English labels, and "
               "Chinese names may show as boxes; install one (Debian/Ubuntu: apt-get install "
               "fonts-noto-cjk)")
        warnings.warn(msg, stacklevel=3)
        lang = "en"
    family = ([font] if font else []) + ["DejaVu Sans"]
    rc = {"font.family": family, "font.size": 8, "svg.fonttype": "none",
          "text.parse_math": False, "axes.unicode_minus": False,
          "svg.hashsalt": "livingcircle"}
    return lang, rc


# --- data helpers -------------------------------------------------------------------------------

def _metric_crs(result: Result):
    """Return the CRS to draw in: the network's when recorded, else the communities' UTM."""
    from pyproj import CRS

    net = (result.metadata or {}).get("network") or {}
    if isinstance(net, dict) and net.get("crs"):
        try:
            crs = CRS.from_user_input(net["crs"])
            if crs.is_projected:
                return crs
        except Exception:  # a CRS text not understood: fall back to UTM
            logger.debug("network CRS %r not usable, using UTM", net.get("crs"))
    return utm_crs(cast(gpd.GeoDataFrame, result.layers["communities"]).to_crs(4326))


#: The whole layers :func:`_geo` has taken to a figure's CRS, kept while :func:`write_figures`
#: or :func:`report_figures` draws many figures of one result (None outside them: each figure
#: projects its own). A card of the city centre spent 0.15 of its 0.86 s projecting the whole
#: basemap (twice), the cluster members and the proposed sites again (cProfile, 2026-12-07).
_PROJECTED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("_PROJECTED",
                                                                        default=None)


@contextlib.contextmanager
def _projected_once():
    """Keep each whole layer :func:`_geo` projects while the block draws figures of a result.

    The figures only read what :func:`_geo` returns (they filter it into new frames), and the
    result does not change while they are drawn.
    """
    token = _PROJECTED.set({})
    try:
        yield
    finally:
        _PROJECTED.reset(token)


def _geo(result: Result, name: str, crs, where: str | None = None) -> gpd.GeoDataFrame | None:
    """Return layer ``name`` (rows ``where``) in ``crs``; None when missing, empty or CRS-less.

    A whole layer is taken from :data:`_PROJECTED` when kept there; the rows of one category or
    community (``where``) are drawn once and not kept.
    """
    kept = _PROJECTED.get() if where is None else None
    key = (id(result), name, str(crs))
    if kept is not None and key in kept:
        return kept[key]
    out = None
    if name in result.layers:
        df = result.layer(name, where=where) if where is not None else (
            result.layer(name) if name in getattr(result, "spilled", {}) else result.layers[name])
        if isinstance(df, gpd.GeoDataFrame) and df.crs is not None and len(df):
            out = df.to_crs(crs)
    if kept is not None:
        kept[key] = out
    return out


def _communities(result: Result, crs) -> gpd.GeoDataFrame:
    """Return the communities in ``crs`` (kept like :func:`_geo`'s layers)."""
    comm = _geo(result, "communities", crs)
    if comm is None:  # none, or without a CRS: to_crs says what is wrong, as before
        comm = cast(gpd.GeoDataFrame, result.layers["communities"]).to_crs(crs)
    return comm


def _streets(result: Result, crs) -> gpd.GeoDataFrame | None:
    """Return the street lines drawn under a map: the ``basemap`` layer's, else the network's.

    The basemap's ``rank`` 1 (main roads, :mod:`livingcircle.basemap`) or a ``highway`` column
    (OSM class) draws main roads stronger.
    """
    g = _geo(result, "basemap", crs)
    if g is not None and "kind" in g.columns:
        return g[g["kind"] == "street"].reset_index(drop=True)
    net = getattr(result, "network", None)
    if net is None:
        return None
    try:
        _, edges = net.to_gdfs()
    except Exception:  # a network without geometry: draw no streets
        logger.debug("network edges not available for figures", exc_info=True)
        return None
    keep = [c for c in ("highway",) if c in edges.columns]
    return edges[keep + [edges.geometry.name]].reset_index(drop=True).to_crs(crs)


def _background(result: Result, crs) -> gpd.GeoDataFrame | None:
    """Return the water, green and railways of the result's ``basemap`` layer (None: none)."""
    g = _geo(result, "basemap", crs)
    if g is None or "kind" not in g.columns:
        return None
    g = g[g["kind"].isin(["water", "green", "rail"])].reset_index(drop=True)
    return g if len(g) else None


def _split(v) -> list[str]:
    if isinstance(v, list | tuple | set):
        return [str(x) for x in v]
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return []
    return [s for s in str(v).split(";") if s]


def _cat_name(result: Result, key: str, lang: str, fallback: str | None = None) -> str:
    cat = result.profile.categories.get(str(key))
    if cat is None:
        return str(fallback or key)
    return cat.name_zh if lang == "zh" else cat.name_en


def _names(result: Result) -> dict[str, str]:
    comm = result.layers["communities"]
    if "name" not in comm.columns:
        return {}
    return {str(k): str(v) for k, v in zip(comm["community_id"], comm["name"], strict=True)
            if isinstance(v, str) and v}


def _footer(result: Result, crs, lang: str, tiles: str | None = None) -> str:
    t = _T[lang]
    meta = result.metadata or {}
    files = [Path(str(i.get("path", ""))).name for i in meta.get("inputs", [])
             if i.get("role") != "osm"]
    if len(files) > 6:
        files = files[:6] + [t["more"].format(n=len(files) - 6)]
    net = meta.get("network") or {}
    src = Path(str(net.get("source", ""))).name if isinstance(net, dict) else str(net)
    created = str(meta.get("created", ""))[:10]
    sep = "、" if lang == "zh" else ", "
    parts = [f"{t['sources']}: {sep.join(files)}" if files else None,
             f"{t['network']}: {src}" if src else None,
             f"{t['standard']}: {meta.get('profile') or result.profile.name}",
             f"{t['made']}: livingcircle {meta.get('version', '')} {created}".rstrip(),
             f"{t['crs']}: {crs.name} (EPSG:{crs.to_epsg()})" if crs.to_epsg() else None,
             f"{t['tiles']}: {tiles}" if tiles else None]
    return " | ".join(p for p in parts if p)


# --- drawing helpers ----------------------------------------------------------------------------

def _nice_length(width_m: float) -> float:
    """Return the largest 1, 2 or 5 × 10^k metres not longer than a fifth of ``width_m``."""
    target = max(width_m / 5.0, 1.0)
    k = 10 ** np.floor(np.log10(target))
    return float(max(m * k for m in (1, 2, 5) if m * k <= target))


def _scale_bar(ax) -> float:
    """Draw a two-part scale bar in the lower left of a metric map; return its length (m)."""
    from matplotlib.patches import Rectangle

    ax.apply_aspect()
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = _nice_length(x1 - x0)
    h = (y1 - y0) * 0.012
    x, y = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.05
    ax.add_patch(Rectangle((x - (x1 - x0) * 0.01, y - h * 1.5), length + (x1 - x0) * 0.02,
                           h * 5.5, facecolor="white", edgecolor="none", alpha=0.8, zorder=20))
    for i, col in enumerate(("black", "white")):
        ax.add_patch(Rectangle((x + i * length / 2, y), length / 2, h, facecolor=col,
                               edgecolor="black", linewidth=0.6, zorder=21))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x + length / 2, y + h * 1.6, label, ha="center", va="bottom", fontsize=7, zorder=22)
    return length


def _north_arrow(ax, at: tuple[float, float] = (0.95, 0.95)) -> None:
    """Draw a north arrow whose tip is at ``at`` (axes fraction; outside the axes is allowed)."""
    x, y = at
    ax.annotate("N", xy=(x, y), xytext=(x, y - 0.11), xycoords="axes fraction",
                textcoords="axes fraction", ha="center", va="center", fontsize=9,
                fontweight="bold", zorder=22, annotation_clip=False,
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3,
                            "headwidth": 9, "headlength": 8},
                bbox={"boxstyle": "circle,pad=0.15", "facecolor": "white", "edgecolor": "none",
                      "alpha": 0.8})


def _new_figure(size: tuple[float, float], map_box: list[float], rc: dict):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI)
    # fonts and text-as-text apply when saving, see _save_to; an attribute of our own
    fig.livingcircle_rc = rc  # pyright: ignore[reportAttributeAccessIssue]
    ax = fig.add_axes(cast(tuple[float, float, float, float], tuple(map_box)))
    ax.set_axis_off()
    return fig, ax


def _frame_map(ax, bounds, margin: float = 0.06) -> None:
    """Show ``bounds`` (plus a margin) at equal scale, widened to fill the axes' box."""
    x0, y0, x1, y1 = bounds
    dx, dy = max(x1 - x0, 50.0) * (1 + 2 * margin), max(y1 - y0, 50.0) * (1 + 2 * margin)
    box = ax.get_position()
    ratio = (box.height * ax.figure.get_figheight()) / (box.width * ax.figure.get_figwidth())
    if dy / dx < ratio:
        dy = dx * ratio
    else:
        dx = dy / ratio
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax.set_xlim(cx - dx / 2, cx + dx / 2)
    ax.set_ylim(cy - dy / 2, cy + dy / 2)
    ax.set_aspect("equal", adjustable="box")


@overload
def _near(frame: gpd.GeoDataFrame, bounds: Sequence[float],
          pad: float = 0.8) -> gpd.GeoDataFrame: ...
@overload
def _near(frame: None, bounds: Sequence[float], pad: float = 0.8) -> None: ...
def _near(frame: gpd.GeoDataFrame | None, bounds: Sequence[float],
          pad: float = 0.8) -> gpd.GeoDataFrame | None:
    """Return the features of ``frame`` near ``bounds`` (a card draws only what it shows)."""
    if frame is None:
        return None
    x0, y0, x1, y1 = bounds
    d = max(x1 - x0, y1 - y0, 200.0) * pad  # the map box widens the shorter side to square
    return frame.cx[x0 - d:x1 + d, y0 - d:y1 + d]


#: OSM highway classes drawn as main roads under the figures.
MAIN_ROADS = {"motorway", "trunk", "primary", "secondary", "tertiary", "motorway_link",
              "trunk_link", "primary_link", "secondary_link", "tertiary_link"}


def _draw_streets(ax, streets) -> None:
    if streets is None or not len(streets):
        return
    main = np.zeros(len(streets), dtype=bool)
    if "rank" in streets.columns:
        main = (streets["rank"] == 1).to_numpy(dtype=bool)
    elif "highway" in streets.columns:
        main = streets["highway"].map(
            lambda v: bool(set(_split(v) if not isinstance(v, str) else [v]) & MAIN_ROADS)
        ).to_numpy(dtype=bool)
    _draw_lines(ax, streets.geometry.to_numpy()[~main], colour=_STREET_COLOUR, width=0.35)
    if main.any():
        _draw_lines(ax, streets.geometry.to_numpy()[main], colour="#a8a8a8", width=0.9)


#: Vertices of one compound path of :func:`_draw_lines` (a path is not cut inside a street).
STREET_PATH_VERTICES = 10_000


def _draw_lines(ax, geoms: np.ndarray, *, colour: str, width: float) -> None:
    """Draw the lines ``geoms`` under the data (zorder 1) as a few compound paths.

    ``GeoSeries.plot`` gives each street its own path: 16,811 ``<path>`` elements in the sample
    district's 20 report cards (2.7 MB of SVG), against 910 this way (1.1 MB); the report's
    figures are drawn in 2.3-3.0 against 3.4-3.6 s (2026-12-07, alternating). The strokes are
    those of ``GeoSeries.plot`` (butt ends, round joins). The streets of one path start within
    :data:`STREET_PATH_VERTICES` vertices, so that a city's streets never make one path too
    long for Agg.
    """
    from matplotlib.collections import PathCollection
    from matplotlib.path import Path as MplPath

    parts = shapely.get_parts(geoms)
    parts = parts[~shapely.is_empty(parts)]
    if len(parts) == 0:
        return
    xy, of = shapely.get_coordinates(parts, return_index=True)
    starts = np.searchsorted(of, np.arange(len(parts)))  # each street's first vertex
    codes = np.full(len(xy), MplPath.LINETO, dtype=MplPath.code_type)
    codes[starts] = MplPath.MOVETO
    cuts = [*starts[np.flatnonzero(np.diff(starts // STREET_PATH_VERTICES, prepend=-1))],
            len(xy)]
    paths = [MplPath(xy[a:b], codes[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    ax.add_collection(PathCollection(paths, facecolors="none", edgecolors=colour,
                                     linewidths=width, capstyle="butt", joinstyle="round",
                                     zorder=1))


def tile_source(tiles: str | TileProvider, *,
                tianditu_token: str | None = None) -> TileProvider:
    """Return the xyzservices tile provider of a ``tiles`` choice, checked before any drawing.

    Parameters
    ----------
    tiles
        ``"osm"``, ``"amap"`` (GCJ-02 tiles; see :func:`_draw_tiles`), ``"tianditu"`` (needs a
        token) or an :class:`xyzservices.TileProvider` of your own (a city's intranet tile
        server, say).
    tianditu_token
        The Tianditu key; default: the ``TIANDITU_TOKEN`` environment variable.

    Returns
    -------
    xyzservices.TileProvider
        With ``name`` ``"amap"`` for AMap, whose tiles are in GCJ-02.
    """
    import os

    import xyzservices


    if isinstance(tiles, xyzservices.TileProvider):
        return tiles
    if tiles not in TILES:
        msg = f"tiles must be one of {', '.join(TILES)} (or left out for none), not {tiles!r}"
        raise InputError(msg)
    if tiles == "osm":
        return xyzservices.providers.OpenStreetMap.Mapnik
    if tiles == "amap":
        return xyzservices.TileProvider(name="amap", url=AMAP_TILES_URL.replace("{s}", "1"),
                                        attribution=_TILE_ATTRIBUTION["amap"], max_zoom=18)
    token = tianditu_token or os.environ.get("TIANDITU_TOKEN")
    if not token:
        msg = ("Tianditu tiles need a token: set the TIANDITU_TOKEN environment variable (a key "
               "from the Tianditu developer site), or use --tiles osm or amap, or no --tiles")
        raise InputError(msg)
    url = TIANDITU_TILES_URL.format(s="0", layer="vec", token=token)
    return xyzservices.TileProvider(name="tianditu", url=url,
                                    attribution=_TILE_ATTRIBUTION["tianditu"], max_zoom=18)


def _tile_zoom(width_m: float, width_px: float, lat: float, max_zoom: int) -> int:
    """Return the zoom whose tile pixels are no larger than the figure's pixels on the ground.

    A Web Mercator tile of 256 px covers 40,075,016.686 m × cos(latitude) / 2^zoom (the
    equator's length, WGS84).
    """
    m_per_px = max(width_m / max(width_px, 1.0), 0.01)
    z = np.ceil(np.log2(40_075_016.686 * np.cos(np.radians(lat)) / (256.0 * m_per_px)))
    return int(min(max(z, 1), max_zoom))


def _draw_tiles(ax, crs, source: TileProvider) -> str:
    """Draw map tiles under the data of a framed map (zorder 0); return their attribution.

    The tiles of the map's extent are fetched with contextily, warped to the map's metric CRS
    and drawn at the zoom of the PNG's resolution. AMap tiles are drawn in GCJ-02: the tiles of
    the GCJ-02 position are fetched and moved back by the GCJ-02 offset at the map's centre.
    That offset varies by 3.7 m across a 2.3 km district and by 27 m across 16 km (measured
    with :func:`livingcircle.coords.wgs84_to_gcj02` at Harbin, 45.75° N), under 4 px of a
    300-dpi overview of either.
    """
    try:
        import contextily as cx
    except ImportError:
        msg = ("figures with tiles need contextily: pip install \"livingcircle[tiles]\" "
               "(or draw them without --tiles: the streets, water and green of the result)")
        raise InputError(msg) from None
    from pyproj import Transformer

    from .coords import wgs84_to_gcj02

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    to_ll = Transformer.from_crs(crs, 4326, always_xy=True)
    w, s, e, n = to_ll.transform_bounds(x0, y0, x1, y1)
    lon, lat = (w + e) / 2, (s + n) / 2
    dx = dy = 0.0
    if source.get("name") == "amap":
        g_lon, g_lat = (float(v[0]) for v in wgs84_to_gcj02(np.array([lon]), np.array([lat])))
        from_ll = Transformer.from_crs(4326, crs, always_xy=True)
        gx, gy = from_ll.transform(g_lon, g_lat)
        cx0, cy0 = from_ll.transform(lon, lat)
        dx, dy = gx - cx0, gy - cy0
        w, e, s, n = w + g_lon - lon, e + g_lon - lon, s + g_lat - lat, n + g_lat - lat
    box = ax.get_position()
    width_px = box.width * ax.figure.get_figwidth() * DPI
    zoom = _tile_zoom(x1 - x0, width_px, lat, int(source.get("max_zoom", 18)))
    try:
        # contextily annotates zoom as its default "auto" (str); it documents an int zoom level
        img, ext = cx.bounds2img(w, s, e, n, zoom=zoom,  # pyright: ignore[reportArgumentType]
                                 source=source, ll=True, timeout=20)
    except Exception as exc:  # no internet, a proxy, a server refusing: one clear line
        from urllib.parse import urlsplit

        url = getattr(getattr(exc, "request", None), "url", None)
        where = f" from {urlsplit(url).netloc}" if url else ""
        # requests' text repeats the pool and the URL; its first clause says what failed
        why = " ".join(str(exc).split()).split(" (Caused by")[0].split(": Max retries")[0]
        msg = (f"could not fetch {source.get('name', 'map')} tiles{where} (is this machine "
               f"offline?): {type(exc).__name__}: {why[:120]}; draw the figures without --tiles")
        raise ExportError(msg) from None
    img, ext = cx.warp_tiles(img, ext, t_crs=crs)
    ax.imshow(img, extent=(ext[0] - dx, ext[1] - dx, ext[2] - dy, ext[3] - dy),
              interpolation="bilinear", zorder=0)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return str(source.get("attribution") or source.get("name", ""))


def _draw_background(ax, bg, lang: str) -> list:
    """Draw water, green and railways under the streets, in the offline map's colours.

    Returns the legend handles of the kinds drawn (water, green, railway).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch


    if bg is None or not len(bg):
        return []
    handles = []
    t = _T[lang]
    for kind, rank in (("green", 1), ("water", 1), ("water", 2), ("rail", 1)):
        part = bg[(bg["kind"] == kind).to_numpy() & (bg["rank"] == rank).to_numpy()]
        if not len(part):
            continue
        st = BASEMAP_STYLES[(kind, rank)]
        if "fillColor" in st:  # areas
            part.plot(ax=ax, color=st["fillColor"], edgecolor="none", zorder=0.5)
        else:  # river and rail lines; Leaflet's pixel weights at a third for print
            part.plot(ax=ax, color=st["color"], linewidth=st["weight"] / 3, zorder=0.6,
                      linestyle="--" if kind == "rail" else "-")
    kinds = set(bg["kind"])
    if "water" in kinds:
        handles.append(Patch(facecolor=BASEMAP_STYLES[("water", 1)]["fillColor"],
                             label=t["water"]))
    if "green" in kinds:
        handles.append(Patch(facecolor=BASEMAP_STYLES[("green", 1)]["fillColor"],
                             label=t["green"]))
    if "rail" in kinds:
        handles.append(Line2D([], [], color=BASEMAP_STYLES[("rail", 1)]["color"],
                              linestyle="--", label=t["rail"]))
    return handles


def _fit_title(head, label, *, smallest: float = 10.0) -> None:
    """Keep the title clear of the synthetic label in the top right corner.

    A category's full Chinese name makes a title as wide as the figure: 公共绿地/居住区公园/社区
    游园/口袋公园：步行 500 米可达范围 ran under the label at 13 pt and fits at 11.5 pt. The title
    shrinks down to ``smallest``; a longer one (the parcel-delivery category's) keeps its size
    and the label moves down to the subtitle's line, right-aligned, the title shrinking to the
    figure's width if needed.
    """
    gap = head.figure.dpi * 0.08  # and the label's rounded box
    size0 = float(head.get_fontsize())

    def shrink(limit: float, floor: float) -> None:
        size = size0
        head.set_fontsize(size)
        while size > floor and head.get_window_extent().x1 > limit:
            size -= 0.5
            head.set_fontsize(size)

    shrink(label.get_window_extent().x0 - gap, smallest)
    if head.get_window_extent().x1 <= label.get_window_extent().x0 - gap:
        return
    label.set_y(0.925)
    shrink(head.figure.bbox.width * 0.98, 7.0)


def _decorate(fig, ax, result, crs, lang: str, *, title: str, subtitle: str = "",
              north: tuple[float, float] = (0.95, 0.95),
              tiles: str | TileProvider | None = None) -> None:
    """Tiles when asked, title, subtitle, synthetic label, north arrow, scale bar and footer."""
    attribution = _draw_tiles(ax, crs, tile_source(tiles)) if tiles is not None else None
    head = fig.text(0.02, 0.975, title, fontsize=13, fontweight="bold", va="top", ha="left")
    if subtitle:
        fig.text(0.02, 0.925, subtitle, fontsize=8, va="top", ha="left", color="#333")
    syn = synthetic_label(result)
    if syn:
        label = fig.text(0.98, 0.975, syn, fontsize=7, va="top", ha="right", color="#6b4f00",
                         fontweight="bold",
                         bbox={"facecolor": "#fff3cd", "edgecolor": "#e0a800",
                               "boxstyle": "round"})
        _fit_title(head, label)
    _north_arrow(ax, north)
    _scale_bar(ax)
    footer = _footer(result, crs, lang, attribution)
    if syn:
        footer = f"{syn} | {footer}"
    fig.text(0.02, 0.012, "\n".join(textwrap.wrap(footer, 190)), fontsize=5.5, color="#555",
             va="bottom", ha="left")


def _legend(fig, handles: list, title: str | None = None, anchor=(0.80, 0.86)) -> None:
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=anchor, frameon=False,
               fontsize=7, title=title, title_fontsize=7.5, alignment="left")


def _panel(fig, lines: list[tuple[str, dict]], box=(0.55, 0.86), width: int = 44) -> None:
    """Write text lines down a panel of a card; wraps long lines."""
    x, y = box
    for text, style in lines:
        wrapped = textwrap.wrap(text, width, break_long_words=True) or [""]
        for k, part in enumerate(wrapped):
            fs = style.get("fontsize", 7.5)
            fig.text(x + (0.012 if k else 0), y, part, va="top", ha="left", **style)
            y -= fs / 72.0 * 1.45 / fig.get_figheight()
        if y < 0.08:
            break


# --- the figures --------------------------------------------------------------------------------

def overview_figure(result: Result, *, lang: str = "zh", tiles: str | TileProvider | None = None):
    """Return the overview map: every community coloured by its share of required categories met.

    Parameters
    ----------
    result
        A :class:`livingcircle.results.Result`.
    lang
        ``"zh"`` or ``"en"`` (English when no CJK font is installed).
    tiles
        Map tiles to draw under the data (fetched over the internet): ``"osm"``, ``"amap"``,
        ``"tianditu"`` or a tile provider (:func:`tile_source`); default none.

    Returns
    -------
    matplotlib.figure.Figure
        :data:`MAP_SIZE` inches at :data:`DPI`.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch


    lang, rc = figure_style(_check_lang(lang))
    t = _T[lang]
    crs = _metric_crs(result)
    import matplotlib.pyplot as plt

    with plt.rc_context(rc):
        fig, ax = _new_figure(MAP_SIZE, [0.02, 0.07, 0.76, 0.83], rc)
        comm = _communities(result, crs)
        share = share_met(comm)
        bg_handles = _draw_background(ax, _background(result, crs), lang)
        _draw_streets(ax, _streets(result, crs))
        comm.plot(ax=ax, color=[completeness_colour(s) for s in share], edgecolor="#555",
                  linewidth=0.3, zorder=3)
        scope = in_scope_mask(comm) if "in_scope" in comm else None
        if scope is not None and scope.any():
            comm[scope.to_numpy()].boundary.plot(ax=ax, color="#08306b", linewidth=1.1, zorder=4)
        _frame_map(ax, comm.total_bounds)
        bounds = [lo for lo, _ in COMPLETENESS_CLASSES]
        handles = []
        for i, (lo, col) in enumerate(COMPLETENESS_CLASSES):
            rng = f"{lo:.0%}" if i == len(bounds) - 1 else f"{lo:.0%}–{bounds[i + 1]:.0%}"
            handles.append(Patch(facecolor=col, edgecolor="#555", linewidth=0.3, label=rng))
        handles.append(Patch(facecolor="#bdbdbd", edgecolor="#555", linewidth=0.3,
                             label=t["no_data"]))
        handles.append(Patch(facecolor="white", edgecolor="#08306b", linewidth=1.1,
                             label=t["in_scope"]))
        if _streets(result, crs) is not None:
            handles.append(Line2D([], [], color=_STREET_COLOUR, linewidth=1, label=t["network"]))
        _legend(fig, handles + bg_handles, t["share"])
        n_complete = int((pd.to_numeric(cast(pd.Series, comm.get("n_missing_required")),
                                        errors="coerce") == 0)
                         .sum()) if "n_missing_required" in comm else 0
        sub = t["overview_sub"].format(n=len(comm), c=n_complete,
                                       s=int(scope.sum()) if scope is not None else 0)
        _decorate(fig, ax, result, crs, lang, title=t["overview"], subtitle=sub,
                  north=_MAP_NORTH, tiles=tiles)
    return fig


def _facilities_of(fac: gpd.GeoDataFrame, key: str) -> gpd.GeoDataFrame:
    if "categories" in fac.columns:
        hit = fac["categories"].map(lambda v: key in _split(v))
        return fac[hit.to_numpy() | (fac["category"].astype(str) == key).to_numpy()]
    return fac[fac["category"].astype(str) == key]


def coverage_figure(result: Result, category: str, *, lang: str = "zh",
                    tiles: str | TileProvider | None = None):
    """Return the coverage map of one facility category.

    The area within the category's walking threshold (``coverage`` layer), its facilities, and
    the communities that meet it (the ``gaps`` layer, first speed profile) or not.

    Parameters
    ----------
    result
        A :class:`livingcircle.results.Result`.
    category
        A category id of the result's profile.
    lang
        ``"zh"`` or ``"en"``.
    tiles
        Map tiles to draw under the data (fetched over the internet): ``"osm"``, ``"amap"``,
        ``"tianditu"`` or a tile provider (:func:`tile_source`); default none.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lang, rc = figure_style(_check_lang(lang))
    t = _T[lang]
    if category not in result.profile.categories:
        msg = (f"category {category!r} is not in the profile {result.profile.name!r}; "
               f"categories: {', '.join(sorted(result.profile.categories))}")
        raise InputError(msg)
    cat = result.profile.categories[category]
    crs = _metric_crs(result)
    import matplotlib.pyplot as plt

    with plt.rc_context(rc):
        fig, ax = _new_figure(MAP_SIZE, [0.02, 0.07, 0.76, 0.83], rc)
        comm = _communities(result, crs)
        streets = _streets(result, crs)
        bg_handles = _draw_background(ax, _background(result, crs), lang)
        _draw_streets(ax, streets)
        cov = _geo(result, "coverage", crs, where=f"category = {_sql(category)}")
        thr = cat.max_walk_m
        m = format_number(thr) if thr is not None else "?"
        handles = []
        if cov is not None:
            cov.plot(ax=ax, color="#a1d99b", alpha=0.55, edgecolor="none", zorder=2)
            handles.append(Patch(facecolor="#a1d99b", alpha=0.55, label=t["covered"].format(m=m)))
        ok, known = _category_met(result, comm, category)
        handles += _draw_met(ax, comm, ok, known, t)
        fac = _geo(result, "facilities", crs)
        if fac is not None:
            f = _facilities_of(fac, category)
            if len(f):
                f.plot(ax=ax, color="#08306b", markersize=9, marker="o", edgecolor="white",
                       linewidth=0.4, zorder=5)
            handles.append(Line2D([], [], marker="o", linestyle="", color="#08306b",
                                  markeredgecolor="white", label=f"{t['facilities']} ({len(f)})"))
        if streets is not None:
            handles.append(Line2D([], [], color=_STREET_COLOUR, linewidth=1, label=t["network"]))
        handles += bg_handles
        _frame_map(ax, comm.total_bounds)
        name = cat.name_zh if lang == "zh" else cat.name_en
        fig_row = _area_row(result, category)
        sub = t["coverage_sub"].format(
            met=int(ok.sum()), n=len(comm),
            share=format_share(fig_row.get("share_households"), 0) if fig_row else "",
            src=_source_text(getattr(cat, "source", None)))
        _legend(fig, handles)
        _decorate(fig, ax, result, crs, lang, title=t["coverage"].format(name=name, m=m),
                  subtitle=sub, north=_MAP_NORTH, tiles=tiles)
    return fig


def _source_text(src) -> str:
    """Return a category's source (text or list of texts) as one short line."""
    if isinstance(src, list | tuple):
        src = "; ".join(map(str, src))
    text = str(src or "")
    return text if len(text) <= 80 else text[:79] + "…"


def _category_met(result: Result, comm, category: str) -> tuple[np.ndarray, np.ndarray]:
    """Return, per community, whether it meets ``category`` and whether that is known.

    Read from the gaps layer at the result's first speed profile.
    """
    gaps = result.layers.get("gaps")
    met = pd.Series(np.nan, index=comm.index)
    if gaps is not None and len(gaps):
        g = gaps[gaps["category"].astype(str) == category]
        if "speed_profile" in g.columns and len(result.speed_profiles):
            g = g[g["speed_profile"].astype(str) == str(result.speed_profiles[0])]
        by = dict(zip(g["community_id"].astype(str), g["met"], strict=True))
        met = comm["community_id"].astype(str).map(by)
    ok = met.astype("boolean").fillna(False).to_numpy(dtype=bool)
    return ok, met.notna().to_numpy()


def _draw_met(ax, comm, ok, known, t: dict) -> list:
    """Draw the communities meeting, not meeting and without data; return legend handles."""
    from matplotlib.patches import Patch

    handles = []
    for mask, col, label in ((ok, "#1a9850", t["met"]), (known & ~ok, "#d73027",
                                                            t["not_met"])):
        if mask.any():
            comm[mask].plot(ax=ax, facecolor=col, alpha=0.75, edgecolor="#333",
                            linewidth=0.3, zorder=3)
            handles.append(Patch(facecolor=col, alpha=0.75, edgecolor="#333", label=label))
    if (~known).any():
        comm[~known].plot(ax=ax, facecolor="#bdbdbd", edgecolor="#333", linewidth=0.3,
                          zorder=3)
        handles.append(Patch(facecolor="#bdbdbd", edgecolor="#333", label=t["no_data"]))
    return handles


def _area_row(result: Result, key: str) -> dict | None:
    f = result.layers.get("area_figures")
    if f is None or "key" not in f.columns:
        return None
    r = f[(f["key"].astype(str) == key) & (f["scope"].astype(str) == "category")]
    return r.iloc[0].to_dict() if len(r) else None


def _sql(value: str) -> str:
    """Return an SQL string literal (quotes doubled) for a ``where=`` filter."""
    return "'" + str(value).replace("'", "''") + "'"


def _check_lang(lang: str) -> str:
    if lang not in _T:
        msg = f"lang must be 'zh' or 'en', not {lang!r}"
        raise InputError(msg)
    return lang


def cluster_card(result: Result, cluster_id: str, *, lang: str = "zh",
                 tiles: str | TileProvider | None = None):
    """Return the card of one 片区联动 cluster: its map, members, proposed sites, before/after.

    Parameters
    ----------
    result
        A :class:`livingcircle.results.Result` with ``clusters`` (and, when made,
        ``cluster_members``, ``proposed_sites``, ``before_after``) layers.
    cluster_id
        The cluster's id.
    lang
        ``"zh"`` or ``"en"``.
    tiles
        Map tiles to draw under the data (fetched over the internet): ``"osm"``, ``"amap"``,
        ``"tianditu"`` or a tile provider (:func:`tile_source`); default none.

    Returns
    -------
    matplotlib.figure.Figure
        :data:`CARD_SIZE` inches at :data:`DPI`.
    """
    lang, rc = figure_style(_check_lang(lang))
    t = _T[lang]
    cl, row = _cluster_row(result, cluster_id)
    cid = str(row["cluster_id"])
    crs = _metric_crs(result)
    names = _names(result)
    import matplotlib.pyplot as plt

    with plt.rc_context(rc):
        fig, ax = _new_figure(CARD_SIZE, [0.02, 0.07, 0.5, 0.83], rc)
        comm = _communities(result, crs)
        members = _geo(result, "cluster_members", crs)
        if members is not None:
            members = members[members["cluster_id"].astype(str) == cid]
        else:
            ids = set(_split(row.get("member_ids")))
            members = comm[comm["community_id"].astype(str).isin(ids)].assign(role="member")
        shape = gpd.GeoSeries([row.geometry], crs=cl.crs).to_crs(crs) \
            if isinstance(cl, gpd.GeoDataFrame) and row.geometry is not None else None
        sites = _geo(result, "proposed_sites", crs)
        sites = sites[sites["cluster_id"].astype(str) == cid] if sites is not None else None
        parts = [g.geometry for g in (members, sites) if g is not None and len(g)]
        if shape is not None:
            parts.append(shape)
        b = pd.concat(parts).total_bounds if parts else comm.total_bounds
        _card_ground(ax, result, comm, b, crs, lang)
        handles = _draw_cluster(ax, members, shape, sites, t)
        sub = t["cluster_sub"].format(n=int((members["role"].astype(str) == "member").sum()),
                                      f=format_number(row.get("n_new_facilities")),
                                      h=format_number(row.get("households_newly_served")))
        _card_finish(fig, ax, result, crs, lang, b=b, margin=0.25, handles=handles,
                     lines=_cluster_lines(result, row, members, sites, names, lang),
                     title=t["cluster"].format(cid=cid, rank=format_number(row.get("rank"))),
                     subtitle=sub, tiles=tiles)
    return fig


def _cluster_row(result: Result, cluster_id: str):
    """Return the clusters layer and the row of ``cluster_id`` (a clear error when absent)."""
    cl = result.layers.get("clusters")
    if cl is None or len(cl) == 0:
        msg = ("this result has no 片区联动 clusters (run `livingcircle recommend` or "
               "run(clusters=True))")
        raise InputError(msg)
    rows = cl[cl["cluster_id"].astype(str) == str(cluster_id)]
    if len(rows) == 0:
        msg = (f"cluster {cluster_id!r} is not in the result; clusters: "
               f"{', '.join(cl['cluster_id'].astype(str).head(20))}")
        raise InputError(msg)
    return cl, rows.iloc[0]


def _draw_cluster(ax, members, shape, sites, t: dict) -> list:
    """Draw a cluster's members by role, its outline and its numbered proposed sites.

    Returns the legend handles.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    for role, col in _ROLE_COLOURS.items():
        part = members[members["role"].astype(str) == role]
        if len(part):
            part.plot(ax=ax, facecolor=col, edgecolor="#333", linewidth=0.5, zorder=3)
            handles.append(Patch(facecolor=col, edgecolor="#333", label=t[role]))
    if shape is not None:
        shape.boundary.plot(ax=ax, color="#08306b", linewidth=1.0, linestyle="--", zorder=4)
        handles.append(Line2D([], [], color="#08306b", linestyle="--", label=t["outline"]))
    if sites is not None and len(sites):
        sites.plot(ax=ax, color="#d7301f", marker="*", markersize=90, edgecolor="black",
                   linewidth=0.4, zorder=6)
        for k, (x, y) in enumerate(zip(sites.geometry.x, sites.geometry.y, strict=True)):
            ax.annotate(str(k + 1), (x, y), xytext=(4, 4), textcoords="offset points",
                        fontsize=7, fontweight="bold", zorder=7)
        handles.append(Line2D([], [], marker="*", linestyle="", color="#d7301f",
                              markeredgecolor="black", markersize=9, label=t["site"]))
    return handles


def _card_ground(ax, result, comm, b, crs, lang: str) -> None:
    """Draw what lies under a card's map: background, streets and the communities near ``b``."""
    _draw_background(ax, _near(_background(result, crs), b), lang)
    _draw_streets(ax, _near(_streets(result, crs), b))
    _near(comm, b).plot(ax=ax, facecolor="#f0f0f0", edgecolor="#999", linewidth=0.3, zorder=2)


def _card_finish(fig, ax, result, crs, lang: str, *, b, margin: float, handles, lines, title,
                 subtitle, tiles) -> None:
    """Frame a card's map on ``b``, add its legend, its text panel, title and sources."""
    _frame_map(ax, b, margin=margin)
    ax.legend(handles=handles, loc="upper left", fontsize=6.5, framealpha=0.85)
    _panel(fig, lines, box=(0.55, 0.86), width=46 if lang == "zh" else 80)
    _decorate(fig, ax, result, crs, lang, title=title, subtitle=subtitle, tiles=tiles)


def _cluster_lines(result: Result, row, members, sites, names, lang) -> list[tuple[str, dict]]:
    t = _T[lang]
    head = {"fontsize": 8.5, "fontweight": "bold", "color": "#08306b"}
    body: dict = {"fontsize": 7.5}
    out: list[tuple[str, dict]] = []
    for role, title in (("member", t["members"]), ("beneficiary", t["beneficiaries"])):
        part = members[members["role"].astype(str) == role]
        if not len(part):
            continue
        out.append((f"{title} ({len(part)})", head))
        hh = part["households"] if "households" in part else pd.Series(np.nan, part.index)
        items = [f"· {names.get(str(c), '')} {c} · "
                 + (f"{format_number(h)} {t['hh']}" if format_number(h) else t["hh_unknown"])
                 for c, h in zip(part["community_id"].astype(str), hh, strict=True)]
        if len(items) > 10:
            items = items[:10] + [t["more"].format(n=len(items) - 10)]
        out += [(s, body) for s in items]
    if sites is not None and len(sites):
        out.append((t["proposed"], head))
        for k, s in enumerate(sites.itertuples(index=False)):
            cat = _cat_name(result, s.category, lang, getattr(s, "name_zh", None))
            area = f"{format_number(s.floor_area_m2)} m²" if format_number(s.floor_area_m2) else ""
            where = " ".join(x for x in (str(s.site_name or ""), area) if x)
            served = t["served"].format(h=format_number(s.households_newly_served))
            out.append((f"{k + 1}. {cat} → {where}{'，' if lang == 'zh' else '; '}{served}",
                        body))
    ba = result.layers.get("before_after")
    if ba is not None and len(ba) and "scope" in ba.columns:
        b = ba[ba["scope"].astype(str) == str(row["cluster_id"])]
        changed = b[(pd.to_numeric(b["change"], errors="coerce").fillna(0) != 0)
                    | (pd.to_numeric(b["households_gain"], errors="coerce").fillna(0) != 0)]
        out.append((t["changes"], head))
        if not len(changed):
            out.append((t["no_change"], body))
        for r in cast(Iterable[Any], changed.itertuples(index=False)):
            if r.kind == "completeness":
                label = r.name_zh if lang == "zh" else str(r.key)
                before, after = format_share(r.value_before, 0), format_share(r.value_after, 0)
                out.append((f"{label}: {before} → {after}", body))
            else:
                label = _cat_name(result, r.key, lang, r.name_zh)
                out.append((f"{label}: " + t["met_change"].format(
                    a=format_number(r.n_met_before), b=format_number(r.n_met_after),
                    c=format_number(r.households_met_before),
                    d=format_number(r.households_met_after)), body))
    return out


def community_card(result: Result, community_id: str, *, lang: str = "zh",
                   tiles: str | TileProvider | None = None):
    """Return the card of one community: its 5/10/15-minute isochrones and missing categories.

    Parameters
    ----------
    result
        A :class:`livingcircle.results.Result`.
    community_id
        The community's id.
    lang
        ``"zh"`` or ``"en"``.
    tiles
        Map tiles to draw under the data (fetched over the internet): ``"osm"``, ``"amap"``,
        ``"tianditu"`` or a tile provider (:func:`tile_source`); default none.

    Returns
    -------
    matplotlib.figure.Figure
        :data:`CARD_SIZE` inches at :data:`DPI`.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lang, rc = figure_style(_check_lang(lang))
    t = _T[lang]
    comm_all = cast(gpd.GeoDataFrame, result.layers["communities"])
    hit = comm_all["community_id"].astype(str) == str(community_id)
    if not hit.any():
        msg = (f"community {community_id!r} is not in the result; e.g. "
               f"{', '.join(comm_all['community_id'].astype(str).head(10))}")
        raise InputError(msg)
    crs = _metric_crs(result)
    import matplotlib.pyplot as plt

    with plt.rc_context(rc):
        fig, ax = _new_figure(CARD_SIZE, [0.02, 0.07, 0.5, 0.83], rc)
        comm = comm_all.to_crs(crs)
        me = comm[hit.to_numpy()]
        row = me.iloc[0]
        cid = str(row["community_id"])
        handles = []
        iso = _geo(result, "isochrones", crs, where=f"community_id = {_sql(cid)}")
        if iso is not None and "speed_profile" in iso.columns and len(result.speed_profiles):
            first = iso[iso["speed_profile"].astype(str) == str(result.speed_profiles[0])]
            iso = first if len(first) else iso
        b = iso.total_bounds if iso is not None and len(iso) else me.total_bounds
        _card_ground(ax, result, comm, b, crs, lang)
        if iso is not None:
            for minutes in sorted(iso["minutes"].unique(), reverse=True):
                col = _ISO_COLOURS.get(int(minutes), "#999999")
                iso[iso["minutes"] == minutes].plot(ax=ax, facecolor=col, alpha=0.25,
                                                    edgecolor=col, linewidth=0.8, zorder=3)
                handles.append(Patch(facecolor=col, alpha=0.35, edgecolor=col,
                                     label=t["iso"].format(m=int(minutes))))
        me.plot(ax=ax, facecolor="#08306b", edgecolor="black", linewidth=0.6, zorder=5)
        handles.append(Patch(facecolor="#08306b", label=t["communities"] + " " + cid))
        fac = _geo(result, "facilities", crs)
        if fac is not None and iso is not None and len(iso):
            inside = fac[fac.intersects(iso.union_all())]
            if len(inside):
                inside.plot(ax=ax, color="#444", markersize=4, zorder=4)
                handles.append(Line2D([], [], marker="o", linestyle="", color="#444",
                                      markersize=3, label=f"{t['facilities']} ({len(inside)})"))
        lines, met, req = _community_lines(result, cid, lang)
        name = str(row.get("name")) if isinstance(row.get("name"), str) else cid
        scope = t.get(str(row.get("in_scope")), t["unknown"])
        sub = t["community_sub"].format(h=format_number(row.get("households")), scope=scope,
                                        met=met, req=req)
        _card_finish(fig, ax, result, crs, lang, b=b, margin=0.08, handles=handles, lines=lines,
                     title=t["community"].format(name=name, cid=cid), subtitle=sub,
                     tiles=tiles)
    return fig


def _community_lines(result: Result, cid: str,
                     lang: str) -> tuple[list[tuple[str, dict]], int, int]:
    t = _T[lang]
    head = {"fontsize": 8.5, "fontweight": "bold", "color": "#08306b"}
    body: dict = {"fontsize": 7.5}
    gaps = result.layers.get("gaps")
    if gaps is None or len(gaps) == 0:
        return [], 0, 0
    g = gaps[(gaps["community_id"].astype(str) == cid) & gaps["required"].astype(bool)]
    if "speed_profile" in g.columns and len(result.speed_profiles):
        g = g[g["speed_profile"].astype(str) == str(result.speed_profiles[0])]
    miss = g[~g["met"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    out: list[tuple[str, dict]] = [(f"{t['missing']} ({len(miss)}/{len(g)})", head)]
    if not len(miss):
        out.append((t["none_missing"], body))
    for level, part in miss.groupby("level", sort=True):
        lv = str(level)
        label = t["level"].format(m=lv) if lv.isdigit() else t["block"]
        out.append((label, {**head, "fontsize": 7.8, "color": "#333"}))
        for r in cast(Iterable[Any], part.itertuples(index=False)):
            d = (f"{format_number(r.distance_m)} m" if format_number(r.distance_m)
                 else t["not_reached"])
            tm = f"{format_number(r.time_min, 1)} min" if format_number(r.time_min) else "—"
            out.append(("· " + t["gap"].format(name=_cat_name(result, r.category, lang,
                                                                r.name_zh),
                                               d=d, t=tm, th=format_number(r.threshold_m)), body))
    return out, len(g) - len(miss), len(g)


# --- writing ------------------------------------------------------------------------------------

def _slug(value: str) -> str:
    """Return a file name for a user id: safe characters, a short hash when any changed."""
    s = re.sub(r"[^0-9A-Za-z_.\-]+", "_", str(value)).strip("._") or "id"
    if s != str(value):
        s = f"{s[:40]}-{hashlib.sha1(str(value).encode('utf-8')).hexdigest()[:8]}"
    return s


def save_figure(fig, target, fmt: str) -> None:
    """Save with the figure's own settings (SVG text kept as text, the CJK font for PDF)."""
    import matplotlib.pyplot as plt

    with plt.rc_context(getattr(fig, "livingcircle_rc", {})):
        fig.savefig(target, format=fmt, dpi=DPI)


def _save(fig, base: Path, formats: Iterable[str], inputs: list[str], overwrite: bool,
          written: list[Path]) -> None:
    from ._atomic import atomic_file

    base.parent.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        path = base.with_name(base.name + "." + fmt)
        with atomic_file(path, inputs=inputs, overwrite=overwrite) as tmp:
            save_figure(fig, tmp, fmt)
        written.append(path)
    fig.clear()


def write_figures(result: Result | str | Path, out: str | Path, *, lang: str = "zh",
                  communities: Iterable[str] = (), categories: Iterable[str] | None = None,
                  clusters: bool = True, overview: bool = True,
                  formats: Iterable[str] = ("png", "svg"), overwrite: bool = True,
                  tiles: str | TileProvider | None = None,
                  tianditu_token: str | None = None) -> list[Path]:
    """Write the figures of a result into folder ``out``; return the files written, in order.

    PNG at 300 dpi plus SVG by default.

    Parameters
    ----------
    result
        A :class:`livingcircle.results.Result`, or the path of a written result (its folder or
        ``livingcircle.gpkg``, read with :func:`livingcircle.results.load_result`).
    out
        Output folder: ``overview.*``, ``coverage/<category>.*``, ``clusters/<cluster_id>.*``,
        ``communities/<community_id>.*`` (ids that are not plain ASCII get a safe name with a
        short hash).
    lang
        ``"zh"`` (default) or ``"en"``.
    communities
        Community ids to draw a card for (none by default).
    categories
        Category ids to draw a coverage map for; default: every category of the ``coverage``
        layer (else of the profile).
    clusters
        Draw one card per 片区联动 cluster when the result has clusters.
    overview
        Draw the overview map.
    formats
        Any of ``"png"``, ``"svg"``, ``"pdf"``.
    overwrite
        Replace figures already there (never an input file).
    tiles
        Map tiles under every map, fetched over the internet when asked for: ``"osm"``,
        ``"amap"``, ``"tianditu"`` or a tile provider (:func:`tile_source`). Default: none, the
        figures are made offline. Offline, the first figure stops with an error and nothing is
        written.
    tianditu_token
        The Tianditu key for ``tiles="tianditu"`` (default: ``TIANDITU_TOKEN``).

    Examples
    --------
    >>> import livingcircle as lc
    >>> from livingcircle.figures import write_figures
    >>> result = lc.run_sample(progress=False)  # doctest: +SKIP
    >>> write_figures(result, "maps/figures", communities=["C004"])  # doctest: +SKIP
    """
    if isinstance(result, str | Path):
        result = load_result(result)
    # Chinese without a CJK font: one warning here, then English for every figure
    lang, _ = figure_style(_check_lang(lang))
    formats = _checked_formats(formats)
    if tiles is not None:
        tiles = tile_source(tiles, tianditu_token=tianditu_token)
    communities = _known_communities(result, communities)
    keys = _coverage_keys(result, categories)
    out = Path(out)
    inputs = [i["path"] for i in (result.metadata or {}).get("inputs", [])]
    written: list[Path] = []

    def save(fig, path: Path) -> None:
        _save(fig, path, formats, inputs, overwrite, written)

    with warnings.catch_warnings(), _projected_once():
        # said once above; matplotlib would add one warning per Chinese glyph of a name
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        if overview:
            save(overview_figure(result, lang=lang, tiles=tiles), out / "overview")
        for key in keys:
            save(coverage_figure(result, key, lang=lang, tiles=tiles),
                 out / "coverage" / _slug(key))
        for cid in _cluster_ids(result) if clusters else []:
            save(cluster_card(result, cid, lang=lang, tiles=tiles), out / "clusters" / _slug(cid))
        for c in communities:
            save(community_card(result, str(c), lang=lang, tiles=tiles),
                 out / "communities" / _slug(c))
    logger.info("figures: %d files written to %s", len(written), out)
    return written


def _checked_formats(formats: Iterable[str] | str) -> list[str]:
    """Return the figure formats asked for as a list; an unknown or empty one is an error."""
    formats = [formats] if isinstance(formats, str) else list(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        msg = f"formats must be some of {', '.join(FORMATS)}, not {bad or formats}"
        raise InputError(msg)
    return formats


def _cluster_ids(result: Result) -> list[str]:
    """Return the ids of the result's 片区联动 clusters, by rank when ranked (none: [])."""
    cl = result.layers.get("clusters")
    if cl is None or not len(cl):
        return []
    ids = cl.sort_values("rank")["cluster_id"] if "rank" in cl else cl["cluster_id"]
    return ids.astype(str).tolist()


def _known_communities(result: Result, communities) -> list:
    """Return the community ids asked for as a list; an id not in the result is an error."""
    communities = [communities] if isinstance(communities, str) else list(communities)
    ids = set(result.layers["communities"]["community_id"].astype(str))
    unknown = [c for c in communities if str(c) not in ids]
    if unknown:
        msg = (f"community {', '.join(map(repr, unknown))} not in the result; ids look like "
               f"{', '.join(sorted(ids)[:5])}")
        raise InputError(msg)
    return communities


def _coverage_keys(result: Result, categories) -> list[str]:
    """Return the categories to draw a coverage map for (see :func:`write_figures`)."""
    if categories is not None:
        return [categories] if isinstance(categories, str) else list(categories)
    cov = result.layers.get("coverage")
    keys = list(dict.fromkeys(cov["category"].astype(str))) if cov is not None and \
        "category" in cov.columns and len(cov) else list(result.profile.categories)
    return [k for k in keys if k in result.profile.categories]


def figure_svg(fig) -> str:
    """Return a figure as SVG text (text kept as text) and release it."""
    import io

    buf = io.StringIO()
    save_figure(fig, buf, "svg")
    fig.clear()
    return buf.getvalue()


def report_figures(result: Result, lang: str, max_cards: int
                   ) -> tuple[bytes, str, list[tuple[str, str]], int]:
    """Return the report's figures: the overview map, the best-ranked clusters' cards.

    The overview is SVG, or PNG at 300 dpi above
    :data:`livingcircle.settings.spill_above_communities` communities (a city's polygons would
    make an SVG of tens of MB). Returns (overview bytes, its MIME type, [(cluster id, card SVG)]
    of at most ``max_cards`` clusters in rank order, the number of clusters).
    """
    import io
    import warnings

    from . import settings

    lang, _ = figure_style(lang)  # without a CJK font: one warning, English figures
    with warnings.catch_warnings(), _projected_once():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig = overview_figure(result, lang=lang)
        if len(result.layers["communities"]) > settings.spill_above_communities:
            buf = io.BytesIO()
            save_figure(fig, buf, "png")
            overview, mime = buf.getvalue(), "image/png"
        else:
            overview, mime = figure_svg(fig).encode("utf-8"), "image/svg+xml"
        cards: list[tuple[str, str]] = []
        cl = result.layers.get("clusters")
        n_clusters = 0 if cl is None else len(cl)
        if cl is not None and n_clusters:
            order = (cl.sort_values("rank") if "rank" in cl.columns else cl).head(max_cards)
            for cid in order["cluster_id"].astype(str):
                cards.append((cid, figure_svg(cluster_card(result, cid, lang=lang))))
    return overview, mime, cards, n_clusters
