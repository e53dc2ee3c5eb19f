"""Interactive folium maps of a run: one self-contained HTML file a planner can open anywhere.

:func:`make_map` draws the communities coloured by the share of required categories they reach
within the standard (thick outline: in the renovation scope), their 5/10/15-minute isochrones and
straight-line circles, the facilities by category, the gap areas per category, candidate sites and,
when present, clusters, cluster members and proposed sites. Popups are in Chinese (or English) and
say for every gap the category, the threshold, the standard it comes from and the measured walking
distance and time.

Offline first
    Leaflet's JavaScript and CSS are written into the HTML (taken from the ``django-js-lib-leaflet``
    package, which ships Leaflet 1.9.4 as plain files and has no dependencies); folium's other
    CDN assets (jQuery, Bootstrap, Font Awesome) are not used. With no internet the map draws the
    result's ``basemap`` layer (:mod:`livingcircle.basemap`: the walking network's streets in
    three weights by OSM highway class, water, green and railways) as light vector layers in a
    pane under the data, so it reads as a city; with internet the user picks tiles in the layer
    control.
Basemaps
    ``basemap="none"`` (default) starts on the plain background and offers OpenStreetMap and
    Tianditu (CGCS2000 ≈ WGS84; needs a token from ``tianditu_token`` or the ``TIANDITU_TOKEN``
    environment variable, and the token is then written into the HTML). AMap tiles are in GCJ-02:
    ``basemap="amap"`` makes a map whose data are shifted to GCJ-02 with
    :func:`livingcircle.coords.wgs84_to_gcj02` so data and tiles line up (the legend says
    so); such a map offers only the plain background and AMap.
Gap areas
    A gap area of a category is the residential area of every community that does not reach that
    category within its threshold (status not ``met`` in the gaps table): the whole community
    polygon, because access is measured from a community's gates, not from each building.
Size and opening time
    Coordinates are integers in 1e-5 degree (about 1 m), delta-encoded vertex to vertex, in
    compact JSON decoded by a few lines of JavaScript; the community polygons are written once
    and drawn by both the communities layer and every gap layer. Popups and tooltips are not
    written as HTML: each community is one compact record (``lcInfo``: id, name, share, scope,
    its gap rows as [standard, metres, minutes]) and each distinct standard once (``lcRules``);
    the page builds the HTML when a popup or tooltip opens. Isochrones are not drawn up front: a
    community's 5/10/15-minute polygons, walking distances and centre are packed with those of its
    neighbours (blocks of :data:`ISO_BLOCK`), deflated and base64-encoded, and inflated
    (``DecompressionStream``) and drawn when the community is opened (click or search), with its
    straight-line circles. Communities are simplified by 2 m and isochrones by 5 m in a metric
    CRS (display only: the GeoPackage keeps every vertex; ``simplify_m``,
    ``isochrone_simplify_m``); isochrone holes are kept unless ``min_hole_m2`` is set.
    Measured 2026-12-02 (``tests/test_maps.py``, ``benchmarks/bench_map_size.py``, figures in
    benchmarks/README.md): the sample district's map is 0.89 MB (was 2.50 MB; 7.3 MB with
    folium's GeoJSON); a synthetic city centre of 1,600 communities is one file of 8.1 MB that
    headless Chromium had drawn 2.5 s after it started loading (on a loaded machine). A larger
    city is written as an index and one page per district, street or 片区 cluster
    (:func:`write_map_pages`, ``livingcircle map --pages-by district``).
Safety
    Every text that reaches HTML is escaped: in Python with :func:`html.escape`, in the page by
    ``lcEsc`` for the texts the page builds (names, ids, scope reasons, sources); the data are
    embedded as JSON with ``< > & '`` escaped as Jinja's ``tojson`` does.
"""

from __future__ import annotations

import base64
import dataclasses
import gc
import html
import json
import logging
import os
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, cast

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Figure
from jinja2 import Template

from . import settings
from ._errors import InputError
from ._parallel import Workers
from .crs import utm_crs
from .sample import is_sample
from .styles import (
    AMAP_TILES_URL,
    BASEMAP_STYLES,
    COMPLETENESS_CLASSES,
    TIANDITU_TILES_URL,
    LocalPlane,
    PageText,
    Verbatim,
    completeness_colour,
    prepare_layer,
    written_as_is,
)
from .summaries import in_scope_mask, share_met

if TYPE_CHECKING:
    from .results import Result

logger = logging.getLogger(__name__)


def _root(m: folium.Map) -> Figure:
    """Return the HTML document of ``m`` (branca types ``get_root`` as a plain Element)."""
    return cast(Figure, m.get_root())


#: Basemap names accepted by :func:`make_map`.
BASEMAPS = ("none", "osm", "amap", "tianditu")

_ISO_COLOURS = {5: "#1b9e77", 10: "#7570b3", 15: "#d95f02"}
_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
            "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363", "#9c9ede",
            "#cedb9c", "#e7cb94", "#e7969c", "#de9ed6", "#6baed6", "#fd8d3c", "#74c476",
            "#9e9ac8", "#969696"]

_T = {
    "communities": ("小区（按达标比例着色）", "Communities (share of required categories met)"),
    "facilities": ("设施", "Facilities"),
    "gap": ("缺口", "Gap"),
    "iso": ("{m}分钟等时圈", "{m}-minute isochrones"),
    "circles": ("直线距离圈", "Straight-line circles"),
    "sites": ("候选用地", "Candidate sites"),
    "clusters": ("片区", "Clusters"),
    "cluster_members": ("片区成员小区", "Cluster members"),
    "proposed_sites": ("建议设施选址", "Proposed sites"),
    "plain": ("无底图（离线）", "Plain background (offline)"),
    "share": ("必配类别达标比例", "Required categories met"),
    "in_scope": ("改造范围内（粗边框）", "In renovation scope (thick outline)"),
    "scope_unknown": ("是否在改造范围未知（虚线）", "Scope unknown (dashed)"),
    "gcj": ("数据已偏移至GCJ-02以对齐高德底图", "Data shifted to GCJ-02 to match AMap tiles"),
    "search": ("搜索小区名称", "Search community name"),
    "no_gaps": ("各类设施均达标", "Every category within its standard"),
    "gaps_head": ("未达标类别", "Categories not reached"),
    "id": ("编号", "ID"),
    "scope": ("改造范围", "Renovation scope"),
    "legend": ("图例", "Legend"),
    "streets": ("街道（离线底图）", "Streets (offline basemap)"),
    "background": ("水系、绿地、铁路", "Water, green, railways"),
    "index": ("全市索引", "City index"),
    "pages": ("分区地图", "Maps by area"),
    "unknown_group": ("未知", "unknown"),
    "n_comm": ("小区数", "Communities"),
    "n_scope": ("改造范围内", "In renovation scope"),
    "mean_share": ("平均达标比例", "Mean share of required categories met"),
    "open_page": ("打开分区地图", "Open this area's map"),
    "programme": ("改造年度", "programme by year"),
    "not_scheduled": ("未排入年度", "not scheduled"),
    # issue 16 §1, §2: buildings and heritage
    "buildings": ("楼栋（按改造范围着色）", "Buildings (by renovation scope)"),
    "b_count": ("楼栋", "Buildings"),
    "b_text": ("{n} 栋，纳入范围 {y} 栋，户数 {h}", "{n}, {y} in scope, {h} households"),
    "b_hh_unknown": ("（{u} 栋户数未知）", " ({u} buildings' households unknown)"),
    "b_lift": ("需加装电梯楼栋", "Buildings needing an elevator"),
    "b_grade_d": ("D级危房（须鉴定，另行决定）", "Grade D (appraisal, separate decision)"),
    "heritage": ("历史文化保护", "Heritage"),
}
_YES = {"yes": ("是", "yes"), "no": ("否", "no"), "unknown": ("未知", "unknown")}


def _t(key: str, lang: str, **kw) -> str:
    zh, en = _T[key]
    return (zh if lang == "zh" else en).format(**kw)


def _both(key: str, lang: str, **kw) -> str:
    """Chinese with English beside (lang='zh') or English only."""
    zh, en = _T[key]
    return f"{zh.format(**kw)} {en.format(**kw)}" if lang == "zh" else en.format(**kw)


def _esc(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    return html.escape(str(v))


def _fmt(v, digits: int = 0) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return ""
    return "" if np.isnan(x) else f"{x:.{digits}f}"


# --- assets -------------------------------------------------------------------------------------

def _leaflet_assets() -> tuple[str, str]:
    """Return Leaflet's JS and CSS (images as data URIs) from django-js-lib-leaflet."""
    try:
        base = resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
    except ModuleNotFoundError:
        msg = ("the offline map needs the package django-js-lib-leaflet (it ships Leaflet's "
               "files); install it with `pip install django-js-lib-leaflet`")
        raise InputError(msg) from None
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    css = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(mo: re.Match) -> str:
        data = (base / "images" / mo.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode()})"

    css = re.sub(r"url\(images/([\w\-.]+\.png)\)", inline, css)
    return js.replace("</script", "<\\/script"), css


def offline_map(**kwargs) -> folium.Map:
    """Return a ``folium.Map`` with Leaflet written into the page instead of loaded from a CDN.

    For small maps built with folium's own elements (GeoJson, CircleMarker, Popup, LayerControl):
    they need nothing but Leaflet. folium's other CDN assets (jQuery, Bootstrap, icons) are left
    out, so do not add plugins that depend on them.
    """
    m = folium.Map(**kwargs)
    m.default_js = []
    m.default_css = []
    js, css = _leaflet_assets()
    root = _root(m)
    root.header.add_child(PageText(f"<style>{css}</style>"), name="leaflet_css_inline")
    root.header.add_child(PageText(f"<script>{js}</script>"), name="leaflet_js_inline")
    return m


# --- geometry -----------------------------------------------------------------------------------

#: Coordinates are stored as integers in units of 1e-5 degree (about 1.1 m north-south and 0.8 m
#: east-west in Heilongjiang), each vertex as the difference from the one before.
COORD_SCALE = 100_000


def _rings(rings) -> list[list[int]]:
    """Encode each line or ring as ``[x0, y0, dx1, dy1, …]`` (one numpy pass over them all).

    Coordinates are quantised to 1e-5 degree and repeated grid points dropped.
    """
    xy, idx = shapely.get_coordinates(rings, return_index=True)
    q = np.round(xy * COORD_SCALE).astype(np.int64)
    first = np.ones(len(q), dtype=bool)
    first[1:] = idx[1:] != idx[:-1]
    keep = first.copy()
    keep[1:] |= (q[1:] != q[:-1]).any(axis=1)
    q, first, idx = q[keep], first[keep], idx[keep]
    d = q.copy()
    d[1:] -= q[:-1]
    d[first] = q[first]
    flat = d.ravel().tolist()
    bounds = np.searchsorted(idx, np.arange(len(rings) + 1)) * 2
    return [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _pack(geom) -> list:
    """Pack a geometry as ``[type, nested lists of delta-encoded integer rings]``."""
    t = geom.geom_type
    if t == "Point":
        return ["Point", [round(geom.x * COORD_SCALE), round(geom.y * COORD_SCALE)]]
    if t in ("LineString", "MultiPoint"):
        return ["LineString", _rings(np.array([geom], dtype=object))[0]]
    if t == "Polygon":
        return ["Polygon", _rings(shapely.get_rings(geom))]
    if t == "MultiPolygon":
        return ["MultiPolygon", [_rings(shapely.get_rings(p)) for p in geom.geoms]]
    if t == "MultiLineString":
        # all parts in one numpy pass: a basemap's street classes are MultiLineStrings of
        # thousands of parts; one encoding call per part was 2.1 of the city-centre map's 15 s
        return ["MultiLineString", _rings(shapely.get_parts(geom))]
    msg = f"cannot draw geometry type {t}"
    raise InputError(msg)


#: JavaScript that turns packed features into Leaflet layers (added once to the page head).
#: Community popups and tooltips, gap tooltips and isochrones are built from compact data when
#: they are first shown (``lcInfo``, ``lcRules``, ``lcIso``), every text escaped by ``lcEsc``.
_LAYER_JS = """
<script>
var lcShared = {}, lcIndex = {}, lcInfo = [], lcRules = [], lcT = {};
var lcIso = {blobs: [], of: {}, groups: {}, circles: null, cache: {}, shown: null};
function lcDecode(p) {
  var S = __SCALE__;
  function ring(a) {
    var out = [], x = 0, y = 0;
    for (var i = 0; i < a.length; i += 2) { x += a[i]; y += a[i + 1]; out.push([y / S, x / S]); }
    return out;
  }
  var t = p[0], c = p[1];
  if (t === 'Point') return [c[1] / S, c[0] / S];
  if (t === 'LineString') return ring(c);
  if (t === 'Polygon' || t === 'MultiLineString') return c.map(ring);
  return c.map(function (poly) { return poly.map(ring); });
}
function lcEsc(v) {
  if (v === null || v === undefined) return '';
  return String(v).replace(/[&<>"']/g, function (ch) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;'}[ch];
  });
}
function lcNum(v, d) { return (v === null || v === undefined) ? '' : Number(v).toFixed(d || 0); }
function lcPct(v) { return v === null ? '\u2014' : Math.round(v * 100) + '%'; }
function lcGapCells(g) {
  var r = lcRules[g[0]], T = lcT;
  var std = lcEsc(r[1]) + (r[1] !== 'block' ? T.lvl : '') + T.circle + ' \u2264' +
    lcNum(r[2]) + T.m;
  var meas = lcNum(g[1]) + T.m + ' / ' + lcNum(g[2], 1) + T.min;
  if (g[3]) meas = T.none + meas;
  var src = lcEsc(r[3]) + (r[4] ? '' : T.unverified);
  return [lcEsc(r[0]), std, meas, src];
}
function lcCommTip(i) { var r = lcInfo[i]; return lcEsc(r[1]) + ' ' + lcPct(r[2]); }
function lcCommPopup(i) {
  var r = lcInfo[i], T = lcT;
  var h = "<div class='lc-popup'><b>" + lcEsc(r[1]) + '</b> (' + T.id + ' ' +
    lcEsc(r[0]) + ')';
  h += '<br>' + T.share + ': ' + lcPct(r[2]);
  if (r[3] !== null && r[4] !== null) {
    h += ' (' + lcNum(r[3]) + '/' + lcNum(r[4]) + ' ' + T.missing + ')';
  }
  if (r[5] !== null) {
    h += '<br>' + T.scope + ': ' + lcEsc(T.yes[r[5]] || r[5]);
    if (r[6]) h += ' (' + lcEsc(r[6]) + ')';
  }
  (r[8] || []).forEach(function (x) { h += '<br>' + lcEsc(x[0]) + ': ' + lcEsc(x[1]); });
  if (r[7].length) {
    h += '<br><b>' + T.gaps_head + "</b><table class='lc-gaps'><tr><th>" +
      T.head.join('</th><th>') + '</th></tr>';
    r[7].forEach(function (g) {
      var c = lcGapCells(g);
      h += '<tr><td>' + c[0] + '</td><td>' + c[1] + '</td><td>' + c[2] +
        "</td><td class='lc-src'>" + c[3] + '</td></tr>';
    });
    h += '</table>';
  } else { h += '<br>' + T.no_gaps; }
  return h + '</div>';
}
function lcGapTip(i, cat) {
  var r = lcInfo[i];
  return lcEsc(r[1]) + ': ' + r[7].filter(function (g) { return lcRules[g[0]][5] === cat; })
    .map(function (g) {
      var c = lcGapCells(g);
      return c[0] + ' ' + c[1] + ', ' + c[2] + " <span class='lc-src'>" + c[3] + '</span>';
    })
    .join('; ');
}
function lcInflate(k) {
  if (!lcIso.cache[k]) {
    var bin = atob(lcIso.blobs[k]), bytes = new Uint8Array(bin.length);
    for (var j = 0; j < bin.length; j++) bytes[j] = bin.charCodeAt(j);
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    lcIso.cache[k] = new Response(stream).text().then(JSON.parse);
  }
  return lcIso.cache[k];
}
function lcShowIso(i) {
  var k = lcIso.of[i];
  if (k === undefined || lcIso.shown === i) return Promise.resolve();
  lcIso.shown = i;
  return lcInflate(k).then(function (recs) {
    if (lcIso.shown !== i) return;
    Object.keys(lcIso.groups).forEach(function (m) { lcIso.groups[m].clearLayers(); });
    if (lcIso.circles) lcIso.circles.clearLayers();
    var rec = recs[i], name = lcEsc(lcInfo[i][1]), T = lcT;
    // [minutes, walk_m, area_m2, ped_shed_ratio, packed polygon], 5 before 10 before 15: each
    // goes behind the one before and every community, so the smallest is on top
    rec.l.forEach(function (e) {
      var m = e[0], g = lcIso.groups[m];
      if (!g) return;
      L.polygon(lcDecode(e[4]), g.lcStyle).bindTooltip(name + ': ' + m + ' ' + T.iso
        .replace('{w}', lcNum(e[1])).replace('{a}', lcNum(e[2] / 1e4, 1))
        .replace('{p}', lcNum(e[3], 2)), {sticky: true}).addTo(g).bringToBack();
      if (lcIso.circles && e[1] !== null) {
        var st = Object.assign({}, lcIso.circles.lcStyle, {color: g.lcStyle.color, radius: e[1]});
        L.circle(lcDecode(rec.c), st).bindTooltip(name + ': ' + m + ' ' +
          T.circle_tip.replace('{w}', lcNum(e[1])), {sticky: true}).addTo(lcIso.circles);
      }
    });
    document.dispatchEvent(new CustomEvent('lc-isochrones', {detail: i}));
  });
}
function lcLayer(group, d) {
  if (d.kind === 'iso') { group.lcStyle = d.s[0]; lcIso.groups[d.minutes] = group; return; }
  if (d.kind === 'circles') { group.lcStyle = d.s[0]; lcIso.circles = group; return; }
  d.f.forEach(function (f) {
    var g = f.g !== undefined ? f.g : lcShared[d.shared][f.r];
    var st = Object.assign({}, d.s[f.s || 0]);
    var l, ll = lcDecode(g);
    if (g[0] === 'Point') { l = L.circleMarker(ll, st); }
    else if (g[0] === 'LineString' || g[0] === 'MultiLineString') { l = L.polyline(ll, st); }
    else { l = L.polygon(ll, st); }
    if (d.kind === 'comm') {
      l.bindTooltip(function () { return lcCommTip(f.r); }, {sticky: true});
      l.bindPopup(function () { return lcCommPopup(f.r); }, {maxWidth: 480});
      l.on('popupopen', function () { lcShowIso(f.r); });
    } else if (d.kind === 'gap') {
      l.bindTooltip(function () { return lcGapTip(f.r, d.cat); }, {sticky: true});
    }
    if (f.t) l.bindTooltip(f.t, {sticky: true});
    if (f.p) l.bindPopup(f.p, {maxWidth: 480});
    if (f.k) { l.lcGroup = group; f.k.forEach(function (k) { lcIndex[k] = l; }); }
    group.addLayer(l);
  });
}
</script>
""".replace("__SCALE__", str(COORD_SCALE))


def _js_json(obj) -> str:
    """Compact JSON for a ``<script>``: UTF-8 text kept, ``< > & '`` escaped as Jinja's tojson."""
    s = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("'", "\\u0027"))


class _Shared(Verbatim):
    """Geometry drawn by several layers (communities: their own layer and every gap layer)."""

    _template = Template("""
{% macro script(this, kwargs) %}
lcShared[{{ this.key|tojson }}] = {{ this.json }};
{% endmacro %}
""")

    def __init__(self, key: str, geoms) -> None:
        super().__init__()
        self.key = key
        self.json = _js_json([_pack(g) for g in geoms])


class _Layer(Verbatim):
    """Features drawn into their parent FeatureGroup by ``lcLayer`` (see ``_LAYER_JS``)."""

    _template = Template("""
{% macro script(this, kwargs) %}
lcLayer({{ this._parent.get_name() }}, {{ this.json }});
{% endmacro %}
""")

    def __init__(self, data: dict) -> None:
        super().__init__()
        # only the JSON is kept: the features as Python lists were a second copy of every
        # layer until the page was written (the map stage's peak, benchmarks/README.md)
        self.json = _js_json(data)

    @property
    def data(self) -> dict:
        """The layer's features, read back from its JSON (for tests and inspection)."""
        return json.loads(self.json)


class _Pane(Verbatim):
    """A Leaflet pane between the tiles (z 200) and the data overlays (z 400) for the basemap."""

    _template = Template("""
{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.createPane({{ this.pane|tojson }}).style.zIndex = {{ this.z }};
{% endmacro %}
""")

    def __init__(self, pane: str, z: int) -> None:
        super().__init__()
        self.pane, self.z = pane, int(z)




def _basemap_layers(bg: gpd.GeoDataFrame, *, lang: str, gcj: bool, show: bool
                    ) -> list[folium.FeatureGroup]:
    """Return the streets and the water/green/rail layers of a result's ``basemap`` layer."""
    bg = prepare_layer(bg, simplify_m=None, gcj=gcj)
    out = []
    for name, kinds, cls in ((_both("background", lang), ("water", "green", "rail"), "lc-bg"),
                             (_both("streets", lang), ("street",), "lc-street")):
        sub = bg[bg["kind"].isin(kinds)]
        keys = [k for k in BASEMAP_STYLES if k[0] in kinds]
        styles = [{**BASEMAP_STYLES[k], "pane": "lcbase", "interactive": False,
                   "className": cls} for k in keys]
        feats = [{"g": _pack(g), "s": keys.index((k, int(r)))}
                 for g, k, r in zip(sub.geometry, sub["kind"], sub["rank"], strict=True)
                 if (k, int(r)) in keys]
        if feats:
            out.append(_layer(name=name, styles=styles, features=feats, show=show))
    return out


def _layer(*, name: str, styles: list[dict], features: list[dict], show: bool = True,
           kind: str = "geom", shared: str | None = None,
           extra: dict | None = None) -> folium.FeatureGroup:
    """Return a FeatureGroup (one entry in the layer control) holding packed features.

    Each feature is a dict with ``g`` (packed geometry) or ``r`` (index into the shared geometry
    ``shared``; for ``kind="comm"`` and ``"gap"`` also the row of ``lcInfo`` its popup and
    tooltip are built from), ``s`` (style index), ``t`` (tooltip HTML), ``p`` (popup HTML) and
    ``k`` (search keys). Texts must already be escaped. ``kind="iso"``/``"circles"`` make an
    empty group that ``lcShowIso`` fills when a community is opened. ``extra`` goes into the
    layer's data as is (``minutes`` of an isochrone level, ``cat`` of a gap layer).
    """
    fg = folium.FeatureGroup(name=name, show=show)
    feats = [{k: v for k, v in f.items() if v is not None and not (k == "s" and v == 0)
              and not (isinstance(v, str) and v == "")} for f in features]
    data = {"s": styles, "f": feats, "kind": kind, **(extra or {})}
    if shared:
        data["shared"] = shared
    _Layer(data).add_to(fg)
    return fg


#: Texts of the page-built popups and tooltips (``_LAYER_JS``), per language.
_JS_TEXT = {
    "zh": {"lvl": "分钟", "circle": "圈", "m": " 米", "min": " 分钟",
           "none": "搜索范围内无设施 ", "unverified": " （未核实）",
           "missing": "项必配类别未达标", "head": ["类别", "标准", "实测", "来源"],
           "iso": "分钟 步行 {w} 米，面积 {a} 公顷，步行圈/直线圈 {p}",
           "circle_tip": "分钟 直线 {w} 米"},
    "en": {"lvl": "-min", "circle": " circle", "m": " m", "min": " min",
           "none": "none within search range ", "unverified": " (unverified)",
           "missing": "required categories missing",
           "head": ["Category", "Standard", "Measured", "Source"],
           "iso": "min, {w} m walk, {a} ha, ped-shed ratio {p}", "circle_tip": "min, {w} m radius"},
}


class _Data(Verbatim):
    """Page data read by ``_LAYER_JS``: ``statements`` maps a JS target to a JSON value."""

    _template = Template("""
{% macro script(this, kwargs) %}
{% for target, value in this.statements %}{{ target }} = {{ value }};
{% endfor %}
{% endmacro %}
""")

    def __init__(self, **values) -> None:
        super().__init__()
        self._json = {k: _js_json(v) for k, v in values.items()}  # only the JSON (see _Layer)

    @property
    def statements(self) -> list[tuple[str, str]]:
        """``(JS target, JSON value)`` pairs: keyword ``a__b`` sets ``a.b``."""
        return [(k.replace("__", "."), v) for k, v in self._json.items()]

    @property
    def values(self) -> dict:
        """The page data by keyword, read back from its JSON (for tests and inspection)."""
        return {k: json.loads(v) for k, v in self._json.items()}


#: Isochrones of this many neighbouring communities are packed into one compressed block of the
#: page (decompressed when one of them is opened). Neighbours share streets, which deflate
#: finds: the sample's isochrones (5 m, every hole) take 3.74 kB per community in blocks of 16,
#: 5.52 kB one by one and 3.57 kB all in one block (measured 2026-12-02), while opening one
#: community decompresses only its block.
ISO_BLOCK = 16


#: zlib level of the isochrone blocks. On the city-centre case's 100 blocks (22.4 MB of JSON,
#: ``benchmarks/CITY_SCALE.md``, 2026-12-04): level 9 took 3.2 CPU s for 5.45 MB, level 6
#: 1.1 s for 5.65 MB (+4 %, 0.27 MB more base64 in a 16.9 MB page), level 5 0.4 s for 6.05 MB.
DEFLATE_LEVEL = 6


def _deflate_b64(obj) -> str:
    """JSON → raw deflate (:data:`DEFLATE_LEVEL`) → base64: what ``lcInflate`` reads back."""
    import zlib

    z = zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15)
    raw = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return base64.b64encode(z.compress(raw.encode("utf-8")) + z.flush()).decode("ascii")


#: Blocks of isochrones simplified and packed at a time (128 communities): the map holds one
#: such group's projected, simplified and packed copies, not the whole city's. Drawing the
#: city-centre case's 4,800 isochrones at once raised the map's resident memory by 740 MB
#: (``benchmarks/bench_map_memory.py``, 2026-12-02; the run's peak, 2,509 MB, was the map's).
ISO_PACK_BLOCKS = 8


def _iso_blocks(iso_src: gpd.GeoDataFrame, row_of: dict[str, int], centres: dict[str, list],
                prepare: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]
                ) -> tuple[list[str], list]:
    """Pack each community's isochrones with its centre; return (blocks, block index per row).

    A block holds :data:`ISO_BLOCK` communities that are next to each other (in the order of a
    500 m grid of their centres), as ``{row: {"c": packed centre, "l": [[minutes, walk_m,
    area_m2, ped_shed_ratio, packed polygon], ...]}}``. ``prepare`` (simplification for
    display, :func:`prepare_layer`) is applied :data:`ISO_PACK_BLOCKS` blocks at a time.

    A city's groups of blocks are packed by a local pool of worker processes
    (:class:`livingcircle._parallel.Workers`, forked: they inherit the isochrones instead of
    being sent them, and send back only the packed text), from
    :data:`livingcircle.settings.process_pool_min_communities` communities on; the same blocks
    in the same order as in this process (tested).
    """
    cids = iso_src["community_id"].astype(str).to_numpy()
    geoms = iso_src.geometry.to_numpy()
    drawn = shapely.is_geometry(geoms) & ~shapely.is_empty(geoms)  # what prepare_layer keeps
    rows_of_c: dict[str, list[int]] = {}
    for k in np.flatnonzero(drawn):
        c = cids[k]
        if c in row_of and c in centres:
            rows_of_c.setdefault(c, []).append(int(k))
    comm_of_row = {row_of[c]: c for c in rows_of_c}
    # neighbours together: rows ordered by a 500 m (0.005 degree) grid cell of their centre
    order = sorted(comm_of_row, key=lambda r: (centres[comm_of_row[r]][1][1] // 500,
                                               centres[comm_of_row[r]][1][0] // 500, r))
    of: list = [None] * (max(row_of.values()) + 1 if row_of else 0)
    group = ISO_BLOCK * ISO_PACK_BLOCKS
    groups = [[(r, rows_of_c[comm_of_row[r]]) for r in order[g0:g0 + group]]
              for g0 in range(0, len(order), group)]
    state = _IsoPacking(iso_src, row_of, centres, prepare)
    workers = None if len(order) >= settings.process_pool_min_communities and len(groups) > 1 \
        else 1
    blocks = []
    with Workers(state, workers=workers) as pool:
        for done in pool.submit(_packed_group, groups):
            for rows, blob in done.result():
                blocks.append(blob)
                for r in rows:
                    of[r] = len(blocks) - 1
    return blocks, of


@dataclasses.dataclass
class _IsoPacking:
    """What :func:`_packed_group` needs (a forked worker inherits it, nothing is pickled)."""

    iso_src: gpd.GeoDataFrame
    row_of: dict[str, int]
    centres: dict[str, list]
    prepare: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]


def _packed_group(state: _IsoPacking, in_group: list[tuple[int, list[int]]]
                  ) -> list[tuple[list[int], str]]:
    """Return the blocks of one group of :func:`_iso_blocks`: (map rows, packed text) each.

    ``in_group``: the group's map rows in block order, each with its rows of the isochrones.
    """
    take = sorted(k for _r, ks in in_group for k in ks)
    recs = _iso_records(state.prepare(state.iso_src.iloc[take]), state.row_of, state.centres)
    out = []
    for k in range(0, len(in_group), ISO_BLOCK):
        rows = [r for r, _ks in in_group[k:k + ISO_BLOCK] if r in recs]
        if rows:
            out.append((rows, _deflate_b64({str(r): recs[r] for r in rows})))
    return out


def _iso_records(iso: gpd.GeoDataFrame, row_of: dict[str, int], centres: dict[str, list]
                 ) -> dict[int, dict]:
    """Each community's packed isochrones (by row of the map), smallest minutes first."""
    ratio = iso["ped_shed_ratio"] if "ped_shed_ratio" in iso.columns else pd.Series(
        np.nan, index=iso.index)
    recs: dict[int, dict] = {}
    for c, mi, w, a, p, g in zip(iso["community_id"].astype(str), iso["minutes"], iso["walk_m"],
                                 iso["area_m2"], ratio, iso.geometry, strict=True):
        rec = recs.setdefault(row_of[c], {"c": centres[c], "l": []})
        rec["l"].append([int(mi), _num(w, 1), _num(a, 0), _num(p, 2), _pack(g)])
    for rec in recs.values():
        rec["l"].sort(key=lambda e: e[0])
    return recs


# --- popups -------------------------------------------------------------------------------------

def _num(v, digits: int):
    """Return a finite number rounded for the page, or None (JSON null)."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return round(x, digits) if np.isfinite(x) else None


def _info_records(comm: pd.DataFrame, share: pd.Series, names: pd.Series,
                  gaps: pd.DataFrame | None, lang: str) -> tuple[list, list, dict]:
    """Return the compact data the page builds popups and tooltips from (see ``_INFO_JS``).

    ``records[i]`` (row ``i`` of ``comm``): ``[id, name, share, n_missing, n_required, in_scope,
    scope_reasons, gaps]`` with ``gaps`` a list of ``[rule, distance_m, time_min, not_reached]``;
    ``rules[k]``: ``[category label, level, threshold_m, source, verified, category index]``,
    each distinct standard written once; ``cat_index``: category id → index. Texts are raw: the
    page escapes every one of them when it builds HTML.
    """
    rules: list = []
    rule_of: dict = {}
    cat_index: dict[str, int] = {}
    gap_of: dict[str, list] = {}
    if gaps is not None and len(gaps) and "status" in gaps.columns:
        g = gaps[gaps["status"].astype(str) != "met"]
        label_col = "name_zh" if lang == "zh" and "name_zh" in g.columns else (
            "name_en" if "name_en" in g.columns else "category")
        cols = {c: (g[c].to_numpy() if c in g.columns else np.full(len(g), None))
                for c in ("level", "threshold_m", "source", "threshold_status", "distance_m",
                          "time_min", "status")}
        for i, (cid, cat, label) in enumerate(zip(g["community_id"].astype(str),
                                                  g["category"].astype(str), g[label_col],
                                                  strict=True)):
            ts = cols["threshold_status"][i]
            key = (cat, str(label), str(cols["level"][i]), _num(cols["threshold_m"][i], 0),
                   "" if cols["source"][i] is None else str(cols["source"][i]),
                   not ts or str(ts) == "verified")
            if key not in rule_of:
                cat_index.setdefault(cat, len(cat_index))
                rule_of[key] = len(rules)
                rules.append([*key[1:], cat_index[cat]])
            gap_of.setdefault(cid, []).append(
                [rule_of[key], _num(cols["distance_m"][i], 0), _num(cols["time_min"][i], 1),
                 1 if str(cols["status"][i]) == "not_reached" else 0])
    n_req = comm["n_required"] if "n_required" in comm.columns else pd.Series(None, comm.index)
    n_miss = comm["n_missing_required"] if "n_missing_required" in comm.columns else \
        pd.Series(None, comm.index)
    scope = comm["in_scope"] if "in_scope" in comm.columns else pd.Series(None, comm.index)
    reasons = comm["scope_reasons"] if "scope_reasons" in comm.columns else \
        pd.Series(None, comm.index)

    def text(v):
        return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA \
            else str(v)

    records = [[cid, name, _num(sh, 3), _num(nm, 0), _num(nr, 0), text(sc), text(rs) or None,
                gap_of.get(cid, [])]
               for cid, name, sh, nm, nr, sc, rs in zip(
                   comm["community_id"], names, share, n_miss, n_req, scope, reasons,
                   strict=True)]
    extra = _building_heritage_lines(comm, lang)
    if extra is not None:  # records[i][8]: [label, text] lines of buildings and heritage
        for rec, lines in zip(records, extra, strict=True):
            rec.append(lines)
    return records, rules, cat_index


def _building_heritage_lines(comm: pd.DataFrame, lang: str) -> list[list] | None:
    """Return per community the popup lines of its buildings and heritage (issue 16 §1, §2).

    None when the communities layer has neither building counts nor heritage marks (a run
    without ``--buildings``/``--heritage``). Raw texts: the page escapes them.
    """
    if "n_buildings" not in comm.columns and "heritage_from" not in comm.columns:
        return None

    def get(r, col):
        v = r.get(col)
        return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v

    out = []
    for r in comm.drop(columns="geometry", errors="ignore").to_dict("records"):
        lines = []
        if get(r, "n_buildings"):
            hh = get(r, "households_in_scope")
            text = _t("b_text", lang, n=int(r["n_buildings"]),
                      y=int(get(r, "n_buildings_in_scope") or 0),
                      h="?" if hh is None else f"{int(hh):,}")
            if get(r, "households_in_scope_unknown"):
                text += _t("b_hh_unknown", lang, u=int(r["households_in_scope_unknown"]))
            lines.append([_t("b_count", lang), text])
            if get(r, "n_elevator_retrofit"):
                lines.append([_t("b_lift", lang), str(int(r["n_elevator_retrofit"]))])
            if get(r, "n_grade_d"):
                ids = str(get(r, "grade_d_buildings") or "").replace(";", ", ")
                lines.append([_t("b_grade_d", lang), f"{int(r['n_grade_d'])} ({ids})"])
        if get(r, "heritage") in (True, 1):
            names = get(r, "heritage_names") or ""
            classes = get(r, "heritage_classes_zh") or ""
            lines.append([_t("heritage", lang), (f"{names}（{classes}）" if classes else names)
                          or str(get(r, "heritage_from") or "")])
        out.append(lines)
    return out


def _generic_popup(row: dict, title: str) -> str:
    cells = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>"
                    for k, v in list(row.items())[:14])
    return f"<div class='lc-popup'><b>{_esc(title)}</b><table>{cells}</table></div>"


# --- controls -----------------------------------------------------------------------------------

class _Search(Verbatim):
    """A search box over community names and ids (no external plugin: works offline).

    Typing or picking a name that is in the index (``lcIndex``, filled by ``lcLayer``) zooms to
    the community and opens its popup; the communities layer is switched on if it was off.
    """

    _template = Template("""
{% macro script(this, kwargs) %}
(function(){
  var map = {{ this._parent.get_name() }};
  var ctl = L.control({position: 'topleft'});
  ctl.onAdd = function(){
    var div = L.DomUtil.create('div', 'lc-search leaflet-bar');
    div.innerHTML = {{ this.box_html|tojson }};
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    var input = div.querySelector('input');
    var last = null;
    function go(){
      var l = lcIndex[input.value.trim()];
      if (!l || (l === last && l.isPopupOpen())) return;
      last = l;
      if (l.lcGroup && !map.hasLayer(l.lcGroup)) map.addLayer(l.lcGroup);
      map.fitBounds(l.getBounds(), {maxZoom: 17, animate: false});
      l.openPopup();
    }
    input.addEventListener('input', go);
    input.addEventListener('change', go);
    input.addEventListener('keydown', function(e){ if (e.key === 'Enter') go(); });
    return div;
  };
  ctl.addTo(map);
})();
{% endmacro %}
""")

    def __init__(self, names: list[str], placeholder: str) -> None:
        super().__init__()
        opts = "".join(f"<option value=\"{html.escape(n, quote=True)}\"></option>"
                       for n in sorted(set(names)))
        self.box_html = (f"<input type='search' list='lc-names' placeholder="
                         f"'{html.escape(placeholder, quote=True)}'>"
                         f"<datalist id='lc-names'>{opts}</datalist>")


class _Ready(Verbatim):
    """Mark the map drawn: ``window.lcReady`` (``performance.now()``) and the ``lc-ready`` event.

    Added last, so its script runs after every layer is on the map; the benchmark and the
    browser tests read it.
    """

    _template = Template("""
{% macro script(this, kwargs) %}
window.lcReady = performance.now();
document.dispatchEvent(new Event('lc-ready'));
{% endmacro %}
""")


_CSS = """
<style>
html, body {background: #f4f4f0;}
.leaflet-container {background: #f4f4f0;}
.lc-popup {font-size: 12px; max-height: 320px; overflow-y: auto;}
.lc-popup table {border-collapse: collapse; margin-top: 4px;}
.lc-popup th, .lc-popup td {border: 1px solid #ccc; padding: 1px 4px; vertical-align: top;}
.lc-src {font-size: 10px; color: #555;}
.lc-search input {width: 180px; padding: 4px; border: none;}
.lc-legend {position: fixed; bottom: 50px; left: 10px; z-index: 1000; background: #fff;
  padding: 6px 8px; font: 11px sans-serif; max-height: 40%; overflow-y: auto;
  border-radius: 4px; box-shadow: 0 0 4px rgba(0,0,0,.4);}
.lc-legend i {display: inline-block; width: 12px; height: 12px; margin-right: 4px;
  vertical-align: middle; border: 1px solid #555;}
.lc-legend .dot {border-radius: 6px;}
.lc-links {position: fixed; top: 64px; right: 10px; z-index: 1000; background: #fff;
  padding: 4px 8px; font: 12px sans-serif; border-radius: 4px; max-height: 40%;
  overflow-y: auto; box-shadow: 0 0 4px rgba(0,0,0,.4);}
.lc-links a {display: block;}
.lc-title {position: fixed; top: 10px; left: 60px; z-index: 1000; background: #fff;
  padding: 4px 8px; font: bold 13px sans-serif; border-radius: 4px;
  box-shadow: 0 0 4px rgba(0,0,0,.4);}
</style>
"""


# --- the map ------------------------------------------------------------------------------------

#: Above this many communities, isochrones are left out of the map unless asked for: packed,
#: they take about 3.7 kB per community, so 2,000 communities make a file of about 10 MB
#: (1,600 made 8.1 MB, benchmarks/bench_map_size.py, 2026-12-02).
MAX_ISOCHRONE_COMMUNITIES = 2000


def make_map(
    result: Result, *, lang: str = "zh", basemap: str = "none", simplify_m: float | None = 2.0,
    isochrones: bool | None = None, isochrone_minutes: tuple[int, ...] | None = None,
    isochrone_simplify_m: float | None = 5.0, min_hole_m2: float = 0.0, gap_layers: bool = True,
    background: bool = True, tianditu_token: str | None = None, title: str | None = None,
    index_href: str | None = None,
) -> folium.Map:
    """Return an interactive, self-contained folium map of a run (save it with ``m.save``).

    Parameters
    ----------
    result
        A :class:`livingcircle.results.Result` (or anything with ``layers`` and ``metadata``).
    lang
        ``"zh"`` (Chinese with English beside in the legend) or ``"en"``.
    basemap
        ``"none"`` (plain background; OSM/Tianditu offered in the layer control), ``"osm"``,
        ``"tianditu"`` (WGS84 data) or ``"amap"`` (data shifted to GCJ-02 to match AMap tiles).
    simplify_m, isochrone_simplify_m
        Simplification tolerance in metres (None: every vertex); of the isochrones 5 m: they
        are buffers of the walkable streets, 5 m moves an edge by less than a third of one.
    isochrones, isochrone_minutes
        Put the isochrones and straight-line circles in the page (drawn when a community is
        opened). None: with at most :data:`MAX_ISOCHRONE_COMMUNITIES` communities, so that the
        file stays near 10 MB (1,600 communities: 8.1 MB, benchmarks/bench_map_size.py); a
        larger city goes on pages (:func:`write_map_pages`). The levels drawn: default
        :data:`livingcircle.settings.level_minutes`.
    min_hole_m2
        Fill holes smaller than this (m²) in the drawn isochrones (default 0: keep every hole).
        In the sample district 500 m² fills 4,202 of 15,512 holes (81 ha, 0.4 % of the summed
        isochrone area) and saves 0.17 MB; the written isochrone layer always keeps every hole.
    gap_layers, background
        Draw one gap-area layer per category; draw the result's ``basemap`` layer (streets,
        water, green, railways; :mod:`livingcircle.basemap`) under the data.
    tianditu_token
        Tianditu key (default: environment variable ``TIANDITU_TOKEN``); without one the
        Tianditu layer is left out. The key is written into the HTML.
    title, index_href
        Title shown on the map (default: the profile name, and the SYNTHETIC label for the
        sample); a link under it back to an index page (set by :func:`write_map_pages`).

    Examples
    --------
    >>> import livingcircle as lc
    >>> m = make_map(lc.run_sample(progress=False), lang="zh")  # doctest: +SKIP
    """
    token = _checked_map_options(result, lang=lang, basemap=basemap, token=tianditu_token)
    layers, gcj = result.layers, basemap == "amap"

    def prep(gdf):
        return prepare_layer(gdf, simplify_m=simplify_m, gcj=gcj)

    comm_src = cast(gpd.GeoDataFrame, layers["communities"])
    comm, names = _communities_to_draw(prep(comm_src))
    b = comm.total_bounds
    m = _base_map(b, lang=lang, basemap=basemap, token=token)
    if background:
        _add_background(m, layers.get("basemap"), lang=lang, gcj=gcj,
                        plain=basemap == "none" or (basemap == "tianditu" and not token))
    comm_fg, cat_index = _community_layer(m, comm, names, layers.get("gaps"), lang)
    row_of = {c: i for i, c in enumerate(comm["community_id"])}
    if isochrones is None:
        isochrones = len(layers["communities"]) <= MAX_ISOCHRONE_COMMUNITIES
    if isochrones and "isochrones" in layers and len(layers["isochrones"]):
        _add_isochrones(m, result, comm_src, row_of, lang=lang, gcj=gcj,
                        minutes=(settings.level_minutes if isochrone_minutes is None
                                 else isochrone_minutes), simplify_m=isochrone_simplify_m,
                        min_hole_m2=min_hole_m2)
    gaps = layers.get("gaps")
    if gap_layers and gaps is not None and len(gaps) and "status" in gaps.columns:
        _add_gap_layers(m, gaps, row_of, cat_index, lang)
    comm_fg.add_to(m)
    colours, cat_names = _add_facilities(m, result, lang=lang, gcj=gcj)
    _add_planning_layers(m, layers, prep, lang)
    _add_programme_layer(m, layers.get("programme"), prep, lang)
    _add_buildings_layer(m, layers.get("buildings"), prep, lang)
    _finish_map(m, names, b, lang=lang, colours=colours, cat_names=cat_names, gcj=gcj,
                result=result, title=title, index_href=index_href)
    return m


def _checked_map_options(result: Result, *, lang: str, basemap: str,
                         token: str | None) -> str | None:
    """Check the options of :func:`make_map` and the communities layer; return the Tianditu key.

    The key is ``token`` or the environment's ``TIANDITU_TOKEN`` (None without either: a
    Tianditu basemap then starts on the plain background, with a warning).
    """
    if lang not in ("zh", "en"):
        msg = f"lang must be 'zh' or 'en', not {lang!r}"
        raise InputError(msg)
    if basemap not in BASEMAPS:
        msg = f"unknown basemap {basemap!r}; valid basemaps: {list(BASEMAPS)}"
        raise InputError(msg)
    if "communities" not in result.layers:
        msg = "the result has no 'communities' layer; run the analysis first"
        raise InputError(msg)
    token = token or os.environ.get("TIANDITU_TOKEN") or None
    if basemap == "tianditu" and not token:
        logger.warning("no Tianditu token (option tianditu_token or env TIANDITU_TOKEN): "
                       "the map starts on the plain background")
    return token


def _communities_to_draw(comm: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, pd.Series]:
    """Return the prepared communities with text ids from 0, and the name shown for each."""
    if len(comm) == 0:
        msg = "the communities layer has no geometry to draw"
        raise InputError(msg)
    comm = comm.reset_index(drop=True)
    comm["community_id"] = comm["community_id"].astype(str)
    names = (comm["name"] if "name" in comm.columns else comm["community_id"]).fillna(
        comm["community_id"]).astype(str)
    return comm, names


def _add_background(m: folium.Map, bg, *, lang: str, gcj: bool, plain: bool) -> None:
    """Draw the result's ``basemap`` layer under the data (shown at start when ``plain``)."""
    if isinstance(bg, gpd.GeoDataFrame) and len(bg):
        _Pane("lcbase", 250).add_to(m)
        for fg in _basemap_layers(bg, lang=lang, gcj=gcj, show=plain):
            fg.add_to(m)


def _finish_map(m: folium.Map, names: pd.Series, b, *, lang: str, colours: dict,
                cat_names: dict, gcj: bool, result: Result, title: str | None,
                index_href: str | None) -> None:
    """Add the search box, layer control, legend and index link; fit the map to ``b``.

    Then every element of the map writes its text as it is (:func:`written_as_is`): folium's
    own elements too, such as the layer control, whose names come from the profile's category
    names, which a user may edit.
    """
    _Search(names.tolist(), _t("search", lang)).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    _legend(m, lang=lang, colours=colours, cat_names=cat_names, gcj=gcj, result=result,
            title=title)
    if index_href:
        _link_box(m, [(index_href, "← " + _both("index", lang))])
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]], max_zoom=16)
    _Ready().add_to(m)
    written_as_is(m)


def _base_map(b, *, lang: str, basemap: str, token: str | None) -> folium.Map:
    """Return the empty map over bounds ``b``: page scripts, plain background, then tile layers.

    The plain background comes first, then the tiles that line up with the data (AMap for
    GCJ-02 data; OSM and, with a key, Tianditu for WGS84).
    """
    gcj = basemap == "amap"
    m = offline_map(location=[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2], zoom_start=14, tiles=None,
                    control_scale=True, prefer_canvas=False)
    root = _root(m)
    root.header.add_child(PageText(_CSS), name="livingcircle_css")
    root.header.add_child(PageText(_LAYER_JS), name="livingcircle_js")
    folium.FeatureGroup(name=_both("plain", lang), overlay=False, control=True,
                        show=basemap == "none" or (basemap == "tianditu" and not token)).add_to(m)
    if gcj:
        folium.TileLayer(AMAP_TILES_URL, name="高德地图 AMap (GCJ-02)", attr="© 高德地图 AutoNavi",
                         subdomains="1234", max_zoom=19, show=True).add_to(m)
    else:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap",
                         show=basemap == "osm").add_to(m)
        if token:
            folium.TileLayer(TIANDITU_TILES_URL.format(layer="vec", token=token, s="{s}"),
                             name="天地图 Tianditu", attr="© 天地图 Tianditu",
                             subdomains="01234567", max_zoom=18,
                             show=basemap == "tianditu").add_to(m)
    return m


def _community_layer(m, comm: gpd.GeoDataFrame, names: pd.Series, gaps, lang: str):
    """Put the communities' shared geometry and records in the page; return their layer.

    The geometry is stored once and drawn by the communities layer and every gap layer;
    popups and tooltips are built in the page from compact records (lcInfo, lcRules). The
    layer is returned unadded (it goes above the isochrones and gap layers), with the category
    index of the records.
    """
    share = share_met(comm)
    _Shared("comm", comm.geometry.values).add_to(m)
    records, rules, cat_index = _info_records(comm, share, names, gaps, lang)
    texts = {**_JS_TEXT[lang], **{k: _t(k, lang) for k in ("id", "share", "scope", "gaps_head",
                                                             "no_gaps")},
             "yes": {k: v[0] if lang == "zh" else v[1] for k, v in _YES.items()}}
    _Data(lcInfo=records, lcRules=rules, lcT=texts).add_to(m)
    scope = comm["in_scope"].astype(str) if "in_scope" in comm.columns else pd.Series(
        "", index=comm.index)
    styles: list[dict] = []
    feats = []
    for i, (s, n, cid, sc) in enumerate(zip(share, names, comm["community_id"], scope,
                                            strict=True)):
        st = {"fillColor": completeness_colour(s), "fillOpacity": 0.65, "color": "#08306b",
              "weight": 3 if sc == "yes" else 1}
        if sc == "unknown":
            st["dashArray"] = "4 3"
        if st not in styles:
            styles.append(st)
        feats.append({"r": i, "s": styles.index(st), "k": sorted({n, cid})})
    comm_fg = _layer(name=_both("communities", lang), styles=styles, features=feats,
                     shared="comm", kind="comm")
    return comm_fg, cat_index


def _isochrones_to_draw(result: Result, row_of: dict, minutes) -> gpd.GeoDataFrame:
    """Return the isochrones of the first speed profile at ``minutes`` of the drawn communities.

    A city's polygons spilled to disk are read with a filter, so only what is drawn is read.
    """
    iso_src = result.layers["isochrones"]
    spilled = getattr(result, "spilled", None) or {}
    if "isochrones" in spilled:
        keep = ", ".join(str(int(m)) for m in minutes) or "-1"
        where = f"minutes IN ({keep})"
        if getattr(result, "speed_profiles", None):
            sp = str(result.speed_profiles[0]).replace("'", "''")
            where += f" AND speed_profile = '{sp}'"
        iso_src = spilled["isochrones"].read(where=where)
    if "speed_profile" in iso_src.columns and getattr(result, "speed_profiles", None):
        iso_src = iso_src[iso_src["speed_profile"] == result.speed_profiles[0]]
    return cast(gpd.GeoDataFrame,
                iso_src[iso_src["minutes"].astype(int).isin(list(minutes))
                        & iso_src["community_id"].astype(str).isin(row_of)])


def _add_isochrones(m, result, comm_src: gpd.GeoDataFrame, row_of: dict, *, lang: str,
                    gcj: bool, minutes, simplify_m: float | None, min_hole_m2: float) -> None:
    """Add the isochrones and straight-line circles, drawn when a community is opened.

    They are packed per block of neighbours and compressed; the layer control switches the
    levels. Circles are a centre (the community's centroid) and a radius drawn by Leaflet.
    """
    iso_src = _isochrones_to_draw(result, row_of, minutes)
    # one metric plane for every group of blocks: the one the whole layer would get
    plane = LocalPlane.about(iso_src.set_crs(4326, allow_override=iso_src.crs is None)) \
        if len(iso_src) else None

    def prepare(iso: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        return prepare_layer(iso, simplify_m=simplify_m, gcj=gcj, min_hole_m2=min_hole_m2,
                             keep_topology=False, plane=plane)

    utm = utm_crs(comm_src)
    cent = gpd.GeoDataFrame(
        {"community_id": comm_src["community_id"].astype(str).values},
        geometry=comm_src.to_crs(utm).geometry.centroid.values, crs=utm)
    cent = prepare_layer(cent, simplify_m=None, gcj=gcj)
    centres = {c: _pack(g) for c, g in zip(cent["community_id"], cent.geometry, strict=True)}
    blocks, block_of = _iso_blocks(iso_src, row_of, centres, prepare)
    _Data(lcIso__blobs=blocks, lcIso__of=block_of).add_to(m)
    for mi in sorted({int(x) for x in iso_src["minutes"]}):
        col = _ISO_COLOURS.get(mi, "#555")
        _layer(name=_both("iso", lang, m=mi), features=[], kind="iso",
               extra={"minutes": mi},
               styles=[{"color": col, "weight": 1, "fillColor": col,
                        "fillOpacity": 0.15}]).add_to(m)
    _layer(name=_both("circles", lang), show=False, features=[], kind="circles",
           styles=[{"weight": 1, "dashArray": "6 4", "fill": False}]).add_to(m)


def _add_gap_layers(m, gaps: pd.DataFrame, row_of: dict, cat_index: dict, lang: str) -> None:
    """Add one gap-area layer per category: the communities not reaching it.

    Drawn from the shared community geometry; tooltips are built in the page from the same
    records as the popups.
    """
    g = gaps[gaps["status"].astype(str) != "met"].copy()
    g["community_id"] = g["community_id"].astype(str)
    name_col = "name_zh" if lang == "zh" and "name_zh" in g.columns else "name_en"
    for cat, sub in g.groupby("category", sort=False):
        sub = sub[sub["community_id"].isin(row_of)]
        if len(sub) == 0:
            continue
        label = str(sub[name_col].iloc[0]) if name_col in sub.columns else str(cat)
        feats = [{"r": row_of[c]} for c in dict.fromkeys(sub["community_id"])]
        _layer(name=f"{_t('gap', lang)}: {_esc(label)}", show=False, features=feats,
               shared="comm", kind="gap", extra={"cat": cat_index[str(cat)]},
               styles=[{"color": "#b2182b", "weight": 1, "fillColor": "#b2182b",
                        "fillOpacity": 0.45, "dashArray": "2 2"}]).add_to(m)


def _add_facilities(m, result, *, lang: str, gcj: bool) -> tuple[dict, dict]:
    """Add one layer of facility points per category (profile order, then the others).

    Returns the colour of each category drawn and the categories' (Chinese, English) names,
    for the legend.
    """
    layers = result.layers
    cat_names = {}
    prof = getattr(result, "profile", None)
    if prof is not None:
        cat_names = {c.id: (c.name_zh, c.name_en) for c in prof.categories.values()}
    colours: dict[str, str] = {}
    if "facilities" not in layers or not len(layers["facilities"]):
        return colours, cat_names
    fac = prepare_layer(layers["facilities"], simplify_m=None, gcj=gcj)
    fac = fac[fac.geom_type == "Point"]
    order = list(cat_names) + sorted(set(fac["category"].astype(str)) - set(cat_names))
    for i, cat in enumerate(c for c in order if c in set(fac["category"].astype(str))):
        sub = fac[fac["category"].astype(str) == cat]
        col = _PALETTE[i % len(_PALETTE)]
        colours[cat] = col
        zh, en = cat_names.get(cat, (cat, cat))
        label = f"{zh} {en}" if lang == "zh" else en
        caps = sub["capacity"] if "capacity" in sub.columns else [None] * len(sub)
        fnames = sub["name"] if "name" in sub.columns else sub["category"]
        feats = [{"g": _pack(g), "t": f"{_esc(n)} ({_esc(zh if lang == 'zh' else en)})"
                  + (f" 容量 {_fmt(cap)}" if lang == "zh" and _fmt(cap) else
                     f" capacity {_fmt(cap)}" if _fmt(cap) else "")}
                 for g, n, cap in zip(sub.geometry, fnames, caps, strict=True)]
        _layer(name=f"{_t('facilities', lang)}: {_esc(label)}", features=feats,
               styles=[{"color": "#222", "weight": 1, "fillColor": col, "fillOpacity": 0.9,
                        "radius": 5}]).add_to(m)
    return colours, cat_names


def _add_planning_layers(m, layers, prep, lang: str) -> None:
    """Add the sites, clusters, cluster members and proposed sites that the result holds."""
    extra = [("sites", "#6a3d9a"), ("clusters", "#ff7f00"), ("cluster_members", "#fdbf6f"),
             ("proposed_sites", "#e31a1c")]
    for lname, col in extra:
        df = layers.get(lname)
        if not isinstance(df, gpd.GeoDataFrame) or len(df) == 0:
            continue
        d = prep(df)
        if len(d) == 0:
            continue
        attrs = d.drop(columns="geometry")
        idcol = next((c for c in ("name", "cluster_id", "site_id", "community_id")
                      if c in attrs.columns), None)
        points = d.geom_type.isin(["Point"]).all()
        st = ({"color": "#000", "weight": 2, "fillColor": col, "fillOpacity": 1, "radius": 7}
              if points else {"color": col, "weight": 3, "fillColor": col, "fillOpacity": 0.15})
        feats = [{"g": _pack(g),
                  "t": f"{_t(lname, lang)}: {_esc(r.get(idcol, '') if idcol else '')}",
                  "p": _generic_popup(r, _both(lname, lang))}
                 for g, r in zip(d.geometry, attrs.to_dict("records"), strict=True)]
        _layer(name=_both(lname, lang), features=feats, styles=[st],
               show=lname != "cluster_members").add_to(m)


#: Colours of the programme's years, first year darkest (ColorBrewer YlGnBu, 7 classes, reversed);
#: a year beyond the seventh takes the last colour again.
_YEAR_COLOURS = ["#0c2c84", "#225ea8", "#1d91c0", "#41b6c4", "#7fcdbb", "#c7e9b4", "#ffffcc"]
_NOT_SCHEDULED = "#bdbdbd"


def _add_programme_layer(m, prog, prep, lang: str) -> None:
    """Add the layer "改造年度 programme by year": plan communities coloured by programme year.

    Communities not scheduled (not ready, after the period, …) are grey; the tooltip gives the
    year or the status, the popup the programme's row (issue 16 §5, ``livingcircle run --years``).
    """
    if not isinstance(prog, gpd.GeoDataFrame) or len(prog) == 0:
        return
    d = prep(prog)
    if len(d) == 0:
        return
    years = sorted(int(y) for y in d["year"].dropna().unique())
    style_of = {y: i for i, y in enumerate(years)}
    styles = [{"color": _YEAR_COLOURS[min(i, len(_YEAR_COLOURS) - 1)], "weight": 2,
               "fillColor": _YEAR_COLOURS[min(i, len(_YEAR_COLOURS) - 1)], "fillOpacity": 0.6}
              for i in range(len(years))]
    styles.append({"color": _NOT_SCHEDULED, "weight": 1, "fillColor": _NOT_SCHEDULED,
                   "fillOpacity": 0.3, "dashArray": "4 3"})
    title = _both("programme", lang)
    status_col = "status_zh" if lang == "zh" else "status"
    feats = []
    for g, r in zip(d.geometry, d.drop(columns="geometry").to_dict("records"), strict=True):
        year = None if pd.isna(r["year"]) else int(r["year"])
        label = str(year) if year is not None else str(r[status_col])
        feats.append({"g": _pack(g), "s": style_of[year] if year is not None else len(years),
                      "t": f"{_esc(r.get('name') or r['community_id'])}: {_esc(label)}",
                      "p": _generic_popup(r, title)})
    _layer(name=title, features=feats, styles=styles, show=False).add_to(m)


#: Fill colours of the buildings layer by in_scope; a grade D building has a black outline.
_BUILDING_COLOURS = {"yes": "#d7301f", "no": "#969696", "unknown": "#fdae61"}


def _add_buildings_layer(m, buildings, prep, lang: str) -> None:
    """Add the buildings (楼栋) coloured by scope, with their reasons and needs (issue 16 §1).

    Off at start (a city has many buildings); a grade D building has a thick black outline.
    """
    if not isinstance(buildings, gpd.GeoDataFrame) or len(buildings) == 0:
        return
    d = prep(buildings)
    if len(d) == 0:
        return
    keys = list(_BUILDING_COLOURS)
    styles = [{"color": "#000" if grade_d else c, "weight": 2.5 if grade_d else 1,
               "fillColor": c, "fillOpacity": 0.6, "radius": 4}
              for grade_d in (False, True) for c in _BUILDING_COLOURS.values()]
    cols = [c for c in ("building_id", "build_year", "floors", "households", "in_scope",
                        "reasons_zh", "needs_zh", "note_zh") if c in d.columns]
    feats = []
    # a short popup of plain lines (a table per building doubled the sample map's size)
    for g, r in zip(d.geometry, d[cols].to_dict("records"), strict=True):
        scope = str(r.get("in_scope"))
        scope = scope if scope in keys else "unknown"
        grade_d = bool(r.get("note_zh"))
        word = _YES[scope][0 if lang == "zh" else 1]
        val = {c: "" if r.get(c) is pd.NA else _esc(r.get(c)) for c in cols}
        lines = [val[c] for c in ("reasons_zh", "needs_zh", "note_zh") if val.get(c)]
        facts = "/".join(val.get(c, "") or "?" for c in ("build_year", "floors", "households"))
        feats.append({"g": _pack(g), "s": keys.index(scope) + (len(keys) if grade_d else 0),
                      "t": f"{_esc(r['building_id'])} {_esc(word)}",
                      "p": f"<b>{_esc(r['building_id'])}</b> {_esc(word)} ({facts})<br>"
                           + "<br>".join(lines)})
    _layer(name=_both("buildings", lang), features=feats, styles=styles, show=False).add_to(m)


def _default_title(result: Result, lang: str) -> str:
    """Return the profile's name, and the SYNTHETIC label when the result is the sample's."""
    prof = getattr(result, "profile", None)
    title = ("15分钟生活圈 " if lang == "zh" else "15-minute living circle ") + (
        getattr(prof, "name", "") or "")
    if is_sample(result):
        from .sample import SYNTHETIC_LABEL

        title += f" — {SYNTHETIC_LABEL}"
    return title


def _legend(m, *, lang, colours, cat_names, gcj, result, title) -> None:
    rows = [f"<b>{_both('legend', lang)}</b>", f"<div>{_both('share', lang)}</div>"]
    bounds = [lo for lo, _ in COMPLETENESS_CLASSES]
    for i, (lo, col) in enumerate(COMPLETENESS_CLASSES):
        rng = f"{lo:.0%}" if i == len(bounds) - 1 else f"{lo:.0%}–{bounds[i + 1]:.0%}"
        rows.append(f"<div><i style='background:{col}'></i>{rng}</div>")
    rows.append(f"<div><i style='border:3px solid #08306b'></i>{_both('in_scope', lang)}</div>")
    rows.append(f"<div><i style='border:1px dashed #08306b'></i>"
                f"{_both('scope_unknown', lang)}</div>")
    for mi, col in _ISO_COLOURS.items():
        rows.append(f"<div><i style='background:{col};opacity:.5'></i>"
                    f"{_both('iso', lang, m=mi)}</div>")
    if colours:
        rows.append(f"<details><summary><b>{_both('facilities', lang)}</b></summary>")
    for cat, col in colours.items():
        zh, en = cat_names.get(cat, (cat, cat))
        label = f"{_esc(zh)} {_esc(en)}" if lang == "zh" else _esc(en)
        rows.append(f"<div><i class='dot' style='background:{col}'></i>{label}</div>")
    if colours:
        rows.append("</details>")
    if gcj:
        rows.append(f"<div><b>{_both('gcj', lang)}</b></div>")
    html_legend = "<div class='lc-legend'>" + "".join(rows) + "</div>"
    _root(m).html.add_child(PageText(html_legend), name="livingcircle_legend")
    if title is None:
        title = _default_title(result, lang)
    if gcj:
        title += " [GCJ-02]"
    _root(m).html.add_child(PageText(f"<div class='lc-title'>{_esc(title)}</div>"),
                                name="livingcircle_title")


def _link_box(m: folium.Map, links: list[tuple[str, str]]) -> None:
    """Add a box of links (href, text; both escaped here) under the map's title."""
    items = "".join(f"<a href='{html.escape(h, quote=True)}'>{_esc(t)}</a>" for h, t in links)
    _root(m).html.add_child(PageText(f"<div class='lc-links'>{items}</div>"),
                                name="livingcircle_links")


#: A page of :func:`write_map_pages` holds at most this many communities; a larger group is cut
#: into parts of neighbours. One file of 1,600 communities with isochrones was 8.1 MB
#: (benchmarks/bench_map_size.py, 2026-12-02), so a page of 2,000 is about 10 MB, well under 30.
MAX_PAGE_COMMUNITIES = 2000


def _groups(comm: gpd.GeoDataFrame, by: str, lang: str, max_per_page: int,
            members: pd.DataFrame | None = None) -> list[tuple[str, np.ndarray]]:
    """Return (label, row positions) of each page: one per value of ``by``, large ones cut.

    ``by="cluster"`` (when the communities have no such column) groups by the 片区 cluster of
    each community in ``members`` (the cluster_members layer); the others form one group.
    """
    if by == "cluster" and by not in comm.columns and members is not None and len(members):
        cid = dict(zip(members["community_id"].astype(str), members["cluster_id"].astype(str),
                       strict=True))
        comm = comm.assign(cluster=comm["community_id"].astype(str).map(cid).fillna(
            "未分组 not in a cluster" if lang == "zh" else "not in a cluster"))
    if by not in comm.columns:
        msg = (f"the communities have no column {by!r} to make one page per group; "
               f"columns: {[c for c in comm.columns if c != 'geometry']}")
        raise InputError(msg)
    key = comm[by].astype("string").fillna(_both("unknown_group", lang)).to_numpy()
    c = shapely.get_coordinates(comm.geometry.representative_point().to_numpy())
    cell = np.floor(c / 0.005).astype(np.int64)  # 500 m cells: neighbours stay together
    out = []
    for label in sorted(set(key)):
        rows = np.flatnonzero(key == label)
        rows = rows[np.lexsort((cell[rows, 0], cell[rows, 1]))]
        parts = int(np.ceil(len(rows) / max_per_page))
        for i, chunk in enumerate(np.array_split(rows, parts)):
            out.append((label if parts == 1 else f"{label} ({i + 1}/{parts})", chunk))
    return out


def _page_result(result: Result, rows: np.ndarray, halo_deg: float):
    """Return a Result of the communities at ``rows`` and what lies near them, for one page."""
    L = result.layers
    comm = L["communities"].iloc[rows]
    ids = set(comm["community_id"].astype(str))
    w, s_, e, n = comm.total_bounds
    box = shapely.box(w - halo_deg * 1.5, s_ - halo_deg, e + halo_deg * 1.5, n + halo_deg)
    layers = {"communities": comm}
    for name, df in L.items():
        if name in ("communities", "isochrones") or not isinstance(df, pd.DataFrame):
            continue
        if name == "gaps":
            layers[name] = df[df["community_id"].astype(str).isin(ids)]
        elif name in ("facilities", "sites", "clusters", "cluster_members", "proposed_sites",
                      "basemap") and isinstance(df, gpd.GeoDataFrame) and len(df):
            layers[name] = df[df.intersects(box)]
    spilled = getattr(result, "spilled", None) or {}
    if "isochrones" in spilled:  # read back only this page's polygons
        quoted = ", ".join("'" + i.replace("'", "''") + "'" for i in sorted(ids))
        layers["isochrones"] = spilled["isochrones"].read(where=f"community_id IN ({quoted})")
    elif "isochrones" in L and isinstance(L["isochrones"], gpd.GeoDataFrame):
        iso = L["isochrones"]
        layers["isochrones"] = iso[iso["community_id"].astype(str).isin(ids)]
    # the same kind of result, with this page's layers only (no network, nothing spilled)
    return dataclasses.replace(result, layers=layers, access=None, network=None, spilled={})


def make_index_map(result: Result, pages: list[tuple[str, str, np.ndarray]], *, lang: str = "zh",
                   title: str | None = None) -> folium.Map:
    """Return the index map of :func:`write_map_pages`: one outline per page, linked to it.

    Parameters
    ----------
    result
        The whole run.
    pages
        (label, file name, row positions in the communities layer) of each page.
    lang, title
        As for :func:`make_map`.

    Returns
    -------
    folium.Map
        Each page's area (the convex hull of its communities) coloured by the mean share of
        required categories met, with a popup of its figures and a link to its page; the main
        roads, water and green of the basemap under them; a list of every page.
    """
    comm = prepare_layer(cast(gpd.GeoDataFrame, result.layers["communities"]), simplify_m=None,
                         gcj=False)
    share = share_met(comm).to_numpy()
    scope = in_scope_mask(comm).to_numpy() if "in_scope" in comm.columns else None
    b = comm.total_bounds
    m = offline_map(location=[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2], zoom_start=11, tiles=None,
                    control_scale=True)
    root = _root(m)
    root.header.add_child(PageText(_CSS), name="livingcircle_css")
    root.header.add_child(PageText(_LAYER_JS), name="livingcircle_js")
    folium.FeatureGroup(name=_both("plain", lang), overlay=False, control=True).add_to(m)
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap", show=False).add_to(m)
    bg = result.layers.get("basemap")
    if isinstance(bg, gpd.GeoDataFrame) and len(bg):
        _Pane("lcbase", 250).add_to(m)
        main = bg[(bg["kind"] != "street") | (bg["rank"] == 1)]
        for fg in _basemap_layers(main, lang=lang, gcj=False, show=True):
            fg.add_to(m)
    styles: list[dict] = []
    feats = []
    for label, href, rows in pages:
        sh = float(np.nanmean(share[rows])) if np.isfinite(share[rows]).any() else np.nan
        st = {"color": "#08306b", "weight": 2, "fillColor": completeness_colour(sh),
              "fillOpacity": 0.55}
        if st not in styles:
            styles.append(st)
        hull = shapely.convex_hull(shapely.union_all(
            shapely.get_parts(shapely.convex_hull(comm.geometry.to_numpy()[rows]))))
        n_scope = int(scope[rows].sum()) if scope is not None else None
        link = f"<a href='{html.escape(href, quote=True)}'>{_t('open_page', lang)} →</a>"
        pct = "—" if np.isnan(sh) else f"{sh:.0%}"
        popup = (f"<div class='lc-popup'><b>{_esc(label)}</b><br>{_t('n_comm', lang)}: "
                 f"{len(rows)}" + (f"<br>{_t('n_scope', lang)}: {n_scope}"
                                   if n_scope is not None else "")
                 + f"<br>{_t('mean_share', lang)}: {pct}<br>{link}</div>")
        feats.append({"g": _pack(hull), "s": styles.index(st),
                      "t": f"{_esc(label)} ({len(rows)})", "p": popup, "k": [label]})
    _layer(name=_both("pages", lang), styles=styles, features=feats).add_to(m)
    _Search([p[0] for p in pages], _t("search", lang)).add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    _legend(m, lang=lang, colours={}, cat_names={}, gcj=False, result=result,
            title=f"{_t('index', lang)} — {title or _default_title(result, lang)}")
    _link_box(m, [(href, f"{label} ({len(rows)})") for label, href, rows in pages])
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]], max_zoom=16)
    _Ready().add_to(m)
    return written_as_is(m)


def write_map_pages(result: Result, out, *, by: str = "district", lang: str = "zh",
                    max_per_page: int = MAX_PAGE_COMMUNITIES, overwrite: bool = True,
                    **kwargs) -> list:
    """Write a city's map as ``index.html`` plus one page per ``by`` group, linked both ways.

    For a city too large for one file (10,000 communities): each page is :func:`make_map` of one
    district (``by="district"``), street (``"street"``), 片区 cluster (``"cluster"``: from the
    cluster_members layer, communities in no cluster on their own page) or any other column of
    the communities (a community without a value goes to the group "未知 unknown"), with its
    isochrones, the facilities, sites, clusters and basemap within a 15-minute walk of it, and a
    link back to the index; a group of more than ``max_per_page`` communities is cut into parts of
    neighbours. The index (:func:`make_index_map`) links to every page. Each file is written
    atomically; pages are named ``{by}_01.html``, ``{by}_02.html``, ... in the order of the
    group names.

    Parameters
    ----------
    result
        A :class:`livingcircle.results.Result` (or one read by ``load_result``).
    out
        The folder to write into (made if missing).
    by
        Column of the communities that groups them into pages, or ``"cluster"``.
    lang
        ``"zh"`` or ``"en"``.
    max_per_page
        Largest number of communities on one page.
    overwrite
        Replace existing files of the same names (never an input file).
    **kwargs
        Passed to :func:`make_map` for every page.

    Returns
    -------
    list of pathlib.Path
        ``index.html`` first, then the pages.
    """
    from ._atomic import atomic_file
    from .network import halo_m

    out = Path(out)
    if out.exists() and not out.is_dir():
        msg = f"{out} is a file; give a folder for the index and its pages"
        raise InputError(msg)
    out.mkdir(parents=True, exist_ok=True)
    inputs = [i["path"] for i in (getattr(result, "metadata", {}) or {}).get("inputs", [])]
    groups = _groups(cast(gpd.GeoDataFrame, result.layers["communities"]), by, lang, max_per_page,
                     result.layers.get("cluster_members"))
    width = max(2, len(str(len(groups))))
    safe_by = re.sub(r"[^A-Za-z0-9_]+", "_", by)
    pages = [(label, f"{safe_by}_{i + 1:0{width}d}.html", rows)
             for i, (label, rows) in enumerate(groups)]
    kwargs.setdefault("isochrones", True)
    base_title = kwargs.pop("title", None)
    written = []
    for label, name, rows in pages:
        page = _page_result(result, rows, halo_deg=halo_m() / 111_000)
        title = f"{label} — {base_title or _default_title(result, lang)}"
        with atomic_file(out / name, inputs=inputs, overwrite=overwrite) as tmp:
            save_page(lambda page=page, title=title: make_map(
                page, lang=lang, title=title, index_href="index.html", **kwargs), tmp)
        written.append(out / name)
        logger.info("map page %s: %d communities", name, len(rows))
    with atomic_file(out / "index.html", inputs=inputs, overwrite=overwrite) as tmp:
        save_page(lambda: make_index_map(result, pages, lang=lang, title=base_title), tmp)
    return [out / "index.html", *written]


def save_page(make: Callable[[], folium.Map | Figure], path) -> None:
    """Render the page ``make()`` returns and write it to ``path`` (UTF-8, as branca's ``save``).

    Unlike ``Map.save`` the map is let go once rendered and the text is encoded a few MB at a
    time: the layers' JSON, their rendered scripts and the page are then not alive beside a
    whole encoded copy of it. ``path`` is the temporary file of an atomic write.
    """
    text = make().get_root().render()
    gc.collect()  # the map and its elements refer to each other: free them before writing
    with open(path, "w", encoding="utf-8", newline="") as fh:
        for k in range(0, len(text), _WRITE_CHARS):
            fh.write(text[k:k + _WRITE_CHARS])


#: Characters of a rendered page encoded and written at a time (:func:`save_page`).
_WRITE_CHARS = 1 << 22


def write_map(result: Result, path, *, overwrite: bool = True, **kwargs) -> None:
    """Write :func:`make_map` of ``result`` to ``path`` atomically (options as for make_map)."""
    from ._atomic import atomic_file

    inputs = [i["path"] for i in (getattr(result, "metadata", {}) or {}).get("inputs", [])]
    with atomic_file(path, inputs=inputs, overwrite=overwrite) as tmp:
        save_page(lambda: make_map(result, **kwargs), tmp)
