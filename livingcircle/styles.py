"""QGIS layer styles (QML) for the result layers, and their Chinese names.

A GeoPackage written by livingcircle opens styled in QGIS: its ``layer_styles`` table
(:data:`STYLE_TABLE`, the table QGIS reads) holds one QML per spatial layer, made here
(:func:`layer_style_qml`; :func:`styles_frame` builds the table). Facilities and other layers
with a ``category`` column are coloured by category (Chinese names from the default profile),
isochrones by minutes, the ``programme`` by year, the ``basemap`` layer by a rule per kind. A
new layer's colours or its Chinese name go here.

The colours the interactive map and the figures share (:data:`COMPLETENESS_CLASSES`,
:data:`BASEMAP_STYLES`) and the tile addresses they offer are here too, so that neither imports
the other; so is the display geometry (:func:`prepare_layer`: simplified for the screen, moved to
GCJ-02 for AMap tiles) that the offline map and ``Result.explore`` share.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Mapping
from typing import TypeVar
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement

from ._spill import SpilledLayer
from ._union import POLYGON_TYPE, rings_of
from .schema import LAYER_LABELS_ZH as ZH_LAYER_NAMES

logger = logging.getLogger(__name__)


#: Chinese names of the result layers (Excel sheet names, style names), from the layer contract
#: (:data:`livingcircle.schema.LAYER_LABELS_ZH`). The layers added later (coverage, uncovered,
#: cluster_members, proposed_sites, before_after, basemap) keep their ASCII names in sheet and
#: style names as before issue 15: giving them their Chinese names is a visible change of its own.
LAYER_LABELS_ZH: dict[str, str] = {n: ZH_LAYER_NAMES[n] for n in (
    "communities", "gates", "facilities", "sites", "boundary", "access", "isochrones",
    "diagnostics", "gaps", "scope", "needs", "plan", "clusters", "access_points", "completeness",
    "capacity", "area_figures", "not_ready")}


@functools.lru_cache(maxsize=1)
def category_names_zh() -> dict[str, str]:
    """Category id → Chinese name from the default profile (read once; never mutated)."""
    try:
        from .standards import load_profile

        return {cid: c.name_zh for cid, c in load_profile().categories.items()}
    except Exception:  # the labels are a convenience; never fail an export for them
        logger.debug("default profile not readable; category labels stay ASCII", exc_info=True)
        return {}


# --------------------------------------------------------------------------------------------
# QGIS styles
# --------------------------------------------------------------------------------------------

_PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]
_MINUTE_COLORS: dict[float, tuple[int, int, int]] = {
    5: (26, 150, 65), 10: (253, 174, 97), 15: (215, 25, 28)}


def geometry_family(gdf: gpd.GeoDataFrame) -> str | None:
    """Return 'point', 'line', 'polygon' or 'mixed' for a layer's geometries; None when empty.

    Multi-part geometries belong to the family of their parts (:data:`GEOMETRY_FAMILIES`).
    """
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    types = {g.geom_type for g in geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]}
    fams = {GEOMETRY_FAMILIES.get(t) for t in types} - {None}
    if not fams:
        return None
    if len(fams) == 1:
        return fams.pop()
    return "mixed"


GEOMETRY_FAMILIES = {
    "Point": "point", "MultiPoint": "point",
    "LineString": "line", "MultiLineString": "line", "LinearRing": "line",
    "Polygon": "polygon", "MultiPolygon": "polygon",
}


def _symbol_xml(family: str, name: str, rgb: tuple[int, int, int], *, alpha: float = 1.0) -> str:
    color = f"{rgb[0]},{rgb[1]},{rgb[2]},255"
    if family == "point":
        stype, cls = "marker", "SimpleMarker"
        props = {"name": "circle", "color": color, "size": "2.6", "outline_color": "35,35,35,255",
                 "outline_width": "0.2", "size_unit": "MM"}
    elif family == "line":
        stype, cls = "line", "SimpleLine"
        props = {"line_color": color, "line_width": "0.6", "line_style": "solid",
                 "line_width_unit": "MM"}
    else:
        stype, cls = "fill", "SimpleFill"
        props = {"color": color, "style": "solid", "outline_color": color,
                 "outline_width": "0.4", "outline_style": "solid", "outline_width_unit": "MM"}
    opts = "".join(
        f'<Option name={quoteattr(k)} type="QString" value={quoteattr(v)}/>'
        for k, v in props.items()
    )
    legacy = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in props.items())
    return (
        f'<symbol type="{stype}" name={quoteattr(name)} alpha="{alpha:g}" clip_to_extent="1" '
        f'force_rhr="0"><layer class="{cls}" enabled="1" pass="0" locked="0">'
        f'<Option type="Map">{opts}</Option>{legacy}</layer></symbol>'
    )


def layer_style_qml(gdf: gpd.GeoDataFrame, *, layer: str = "") -> str | None:
    """Return a QGIS style (QML) for a spatial layer, or None for a table or an empty layer.

    Layers with a ``category`` column are styled by category (labels from the default profile),
    layers with ``minutes`` (isochrones) by minutes, with ``year`` (the programme) by year,
    others with a single symbol. Polygons are
    drawn half transparent.
    """
    fam = geometry_family(gdf) if isinstance(gdf, gpd.GeoDataFrame) else None
    return _style_qml(fam, gdf, layer=layer)


def _style_qml(fam: str | None, attrs: pd.DataFrame, *, layer: str) -> str | None:
    """Return the QML of :func:`layer_style_qml` for a geometry family and attributes."""
    if fam == "mixed" and layer == "basemap" and "kind" in attrs.columns:
        return _basemap_qml()
    if fam == "mixed":
        return _mixed_qml(layer)
    if fam is None:
        return None
    gdf = attrs
    alpha = 0.5 if fam == "polygon" else 1.0
    geom_type = {"point": 0, "line": 1, "polygon": 2}[fam]
    attr = None
    if "category" in gdf.columns:
        attr = "category"
    elif "minutes" in gdf.columns:
        attr = "minutes"
    elif "year" in gdf.columns:  # the multi-year programme (issue 16 §5)
        return _year_qml(fam, gdf["year"], geom_type, alpha)
    if attr is not None:
        values = sorted(pd.unique(gdf[attr].dropna()), key=lambda v: (str(type(v)), v))
        if not values:
            attr = None
    if attr is None:
        rgb = _PALETTE[sum(map(ord, layer)) % len(_PALETTE)]
        renderer = (
            '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0" forceraster="0">'
            f"<symbols>{_symbol_xml(fam, '0', rgb, alpha=alpha)}</symbols></renderer-v2>"
        )
    else:
        names = category_names_zh() if attr == "category" else {}
        cats, syms = [], []
        for i, v in enumerate(values):
            if attr == "minutes":
                v = int(v) if float(v).is_integer() else float(v)
                label = f"{v}分钟"
                rgb = _MINUTE_COLORS.get(v, _PALETTE[i % len(_PALETTE)])
            else:
                label = names.get(str(v), str(v))
                rgb = _PALETTE[i % len(_PALETTE)]
            cats.append(
                f"<category symbol=\"{i}\" value={quoteattr(str(v))} label={quoteattr(label)} "
                'render="true"/>'
            )
            syms.append(_symbol_xml(fam, str(i), rgb, alpha=alpha))
        renderer = (
            f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attr)} symbollevels="0" '
            'enableorderby="0" forceraster="0">'
            f"<categories>{''.join(cats)}</categories><symbols>{''.join(syms)}</symbols>"
            "</renderer-v2>"
        )
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.28.0" styleCategories="Symbology">'
        f"{renderer}<layerGeometryType>{geom_type}</layerGeometryType></qgis>\n"
    )


#: Colour of the communities a programme leaves without a year (not ready, beyond capacity).
_UNSCHEDULED_RGB = (189, 189, 189)


def _year_qml(fam: str, years: pd.Series, geom_type: int, alpha: float) -> str:
    """Return the QML of the ``programme`` layer: categorised by year, one colour per year.

    The communities without a year (not ready, beyond the years' capacity: see ``status_zh``)
    fall in QGIS's "all other values" category (empty value), drawn grey as 未安排.
    """
    values = sorted(int(y) for y in pd.unique(years.dropna()))
    cats, syms = [], []
    for i, y in enumerate(values):
        cats.append(f'<category symbol="{i}" value="{y}" label={quoteattr(f"{y}年")} '
                    'render="true"/>')
        syms.append(_symbol_xml(fam, str(i), _PALETTE[i % len(_PALETTE)], alpha=alpha))
    n = len(values)
    cats.append(f'<category symbol="{n}" value="" label="未安排 not scheduled" render="true"/>')
    syms.append(_symbol_xml(fam, str(n), _UNSCHEDULED_RGB, alpha=alpha))
    renderer = ('<renderer-v2 type="categorizedSymbol" attr="year" symbollevels="0" '
                'enableorderby="0" forceraster="0">'
                f"<categories>{''.join(cats)}</categories><symbols>{''.join(syms)}</symbols>"
                "</renderer-v2>")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.28.0" styleCategories="Symbology">'
            f"{renderer}<layerGeometryType>{geom_type}</layerGeometryType></qgis>\n")


def _basemap_qml() -> str:
    """Return the QML of the ``basemap`` layer (lines and polygons): one rule per kind and shape.

    Colours are the offline map's (:data:`BASEMAP_STYLES`).
    """
    rules = [("water", "Polygon", "polygon", (168, 203, 230), "水系 water"),
             ("water", "Line", "line", (168, 203, 230), "河流 river"),
             ("green", "Polygon", "polygon", (211, 232, 196), "绿地 green"),
             ("rail", "Line", "line", (110, 110, 110), "铁路 railway"),
             ("street", "Line", "line", (166, 166, 166), "街道 streets")]
    items, syms = [], []
    for i, (kind, shape, fam, rgb, label) in enumerate(rules):
        expr = f"\"kind\" = '{kind}' AND geometry_type($geometry) = '{shape}'"
        items.append(f'<rule key="r{i}" symbol="{i}" label={quoteattr(label)} '
                     f"filter={quoteattr(expr)}/>")
        syms.append(_symbol_xml(fam, str(i), rgb))
    return _rule_qml(items, syms)


def _rule_qml(items: list[str], syms: list[str]) -> str:
    """Return the QML document of a rule-based renderer from its rules and their symbols."""
    renderer = ('<renderer-v2 type="RuleRenderer" symbollevels="0" enableorderby="0" '
                f'forceraster="0"><rules key="root">{"".join(items)}</rules>'
                f"<symbols>{''.join(syms)}</symbols></renderer-v2>")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis version="3.28.0" styleCategories="Symbology">'
            f"{renderer}</qgis>\n")


def _mixed_qml(layer: str) -> str:
    """Return the QML of a layer of several geometry types: one rule per type, one colour.

    E.g. ``diagnostics``, holding a set-aside street part and a set-aside building.
    """
    rgb = _PALETTE[sum(map(ord, layer)) % len(_PALETTE)]
    items, syms = [], []
    for i, (shape, fam) in enumerate((("Point", "point"), ("Line", "line"),
                                      ("Polygon", "polygon"))):
        expr = f"geometry_type($geometry) = '{shape}'"
        items.append(f'<rule key="r{i}" symbol="{i}" label={quoteattr(shape)} '
                     f"filter={quoteattr(expr)}/>")
        syms.append(_symbol_xml(fam, str(i), rgb, alpha=0.5 if fam == "polygon" else 1.0))
    return _rule_qml(items, syms)


def styles_frame(written: Mapping[str, tuple[pd.DataFrame | SpilledLayer, str]]
                 ) -> pd.DataFrame | None:
    """Build the rows of a GeoPackage's ``layer_styles`` table (:data:`STYLE_TABLE`).

    Parameters
    ----------
    written
        Layer name → (the layer as written: a GeoDataFrame, or a spilled layer with
        ``geometry_type`` and ``attributes``; its geometry column name in the GeoPackage).

    Returns
    -------
    pandas.DataFrame or None
        One default style per spatial layer, in QGIS's column layout; None when no layer is
        styled.
    """
    rows = []
    now = pd.Timestamp.now(tz="UTC").floor("s")
    for name, (df, geom_col) in written.items():
        if isinstance(df, gpd.GeoDataFrame):
            qml = layer_style_qml(df, layer=name)
        elif isinstance(df, SpilledLayer):  # its type and attribute table
            fam = GEOMETRY_FAMILIES.get(str(df.geometry_type))
            qml = _style_qml(fam, df.attributes, layer=name)
        else:
            qml = None
        if qml is None:
            continue
        rows.append({
            "f_table_catalog": "",
            "f_table_schema": "",
            "f_table_name": name,
            "f_geometry_column": geom_col,
            "styleName": name,
            "styleQML": qml,
            "styleSLD": "",
            "useAsDefault": True,
            "description": f"livingcircle {LAYER_LABELS_ZH.get(name, name)}",
            "owner": "",
            "ui": "",
            "update_time": now,
        })
    if not rows:
        return None
    return pd.DataFrame(rows)


# --- colours and tiles of the maps and figures ----------------------------------------------

#: Colour classes of the communities: share of required categories reached (lower bound, colour).
COMPLETENESS_CLASSES = [(0.0, "#d73027"), (0.2, "#fc8d59"), (0.4, "#fee08b"), (0.6, "#d9ef8b"),
                        (0.8, "#91cf60"), (1.0, "#1a9850")]

#: Styles of the offline basemap (``basemap`` layer, :mod:`livingcircle.basemap`) by (kind, rank):
#: greys for streets, heavier for main roads, in the manner of printed city maps; light blue water,
#: light green parks, dashed dark railways. Drawn without interaction in pane ``lcbase``.
BASEMAP_STYLES = {
    ("water", 1): {"stroke": False, "fillColor": "#a8cbe6", "fillOpacity": 1},
    ("water", 2): {"color": "#a8cbe6", "weight": 4},
    ("green", 1): {"stroke": False, "fillColor": "#d3e8c4", "fillOpacity": 1},
    ("rail", 1): {"color": "#6e6e6e", "weight": 2, "dashArray": "6 4"},
    ("street", 1): {"color": "#8c8c8c", "weight": 4},
    ("street", 2): {"color": "#a6a6a6", "weight": 2},
    ("street", 3): {"color": "#c2c2c2", "weight": 1},
}

#: AMap (高德) street tiles, GCJ-02; ``{s}`` is the subdomain 1-4.
AMAP_TILES_URL = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
             "&x={x}&y={y}&z={z}")
#: Tianditu (天地图) WMTS tiles, WGS84 web Mercator; ``{layer}``, ``{token}``, ``{s}`` to fill.
TIANDITU_TILES_URL = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                 "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                 "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={token}")


def completeness_colour(share: float) -> str:
    """Return the colour of a share of required categories met (:data:`COMPLETENESS_CLASSES`).

    Grey (#bdbdbd) when the share is unknown (None or NaN).
    """
    if share is None or np.isnan(share):
        return "#bdbdbd"
    col = COMPLETENESS_CLASSES[0][1]
    for lo, c in COMPLETENESS_CLASSES:
        if share >= lo - 1e-9:
            col = c
    return col


# --- page text of the maps ----------------------------------------------------------------

_E = TypeVar("_E", bound=Element)


class PageText(Element):
    """Text written into a folium page as it is, never read as a Jinja template.

    branca puts what an element renders into the page as ``Element(text)``, which compiles that
    text as a template: names and data holding ``{{``, ``{%`` or ``{#`` were evaluated (a
    community called "{{ 6*7 }} 小区" was drawn as "42 小区") or broke the page (a name with
    "{#" raised Jinja's syntax error), and lexing the city centre's megabytes of map data took
    about 1 s (``benchmarks/CITY_SCALE.md``, "The map's isochrones simplified ring by ring").
    Jinja drops one trailing newline of a template; so does this, so that a page without such
    text is the same page as before, byte for byte.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text[:-1] if text.endswith("\n") else text

    def render(self, **kwargs) -> str:
        """Return the text as it was given (less one trailing newline)."""
        return self._text


class Verbatim(MacroElement):
    """A ``MacroElement`` that writes what it renders into the page as :class:`PageText`.

    Its header, html and script, as branca's ``MacroElement.render`` adds them, but not compiled
    again as templates. The offline map's elements derive from it; a map made by folium's own
    elements is converted with :func:`written_as_is`.
    """

    def render(self, **kwargs) -> None:
        """Add the element's header, html and script to its page, then render its children."""
        figure = self.get_root()
        if not isinstance(figure, Figure):
            msg = "an element of the map is rendered outside a page (branca Figure)"
            raise TypeError(msg)
        macros = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = macros.get(part)
            if macro is not None:
                getattr(figure, part).add_child(PageText(macro(self, kwargs)),
                                                name=self.get_name())
        for element in self._children.values():
            element.render(**kwargs)


def written_as_is(m: _E) -> _E:
    """Make every element of the folium map ``m`` write its text as it is; return ``m``.

    For a map folium or geopandas built: each ``MacroElement`` becomes an instance of its class
    with :class:`Verbatim` before ``MacroElement`` in its method order, so that its own
    ``render`` (folium's ``GeoJson`` prepares its data there) ends in :meth:`Verbatim.render`.
    ``GeoDataFrame.explore`` wraps each run of ``{`` of a text value in Jinja's ``raw`` for the
    second compile (and nothing else): that wrapping is taken off again here.
    """
    todo: list[Element] = [m]
    while todo:
        element = todo.pop()
        if isinstance(element, MacroElement) and not isinstance(element, Verbatim):
            element.__class__ = _verbatim_class(type(element))
        data = getattr(element, "data", None)
        if isinstance(data, dict) and isinstance(data.get("features"), list):
            for feature in data["features"]:
                props = feature.get("properties") or {}
                for key, value in props.items():
                    if isinstance(value, str) and _RAW_BRACES.search(value):
                        props[key] = _RAW_BRACES.sub(r"\1", value)
        todo.extend(element._children.values())
    return m


#: geopandas' escape of a run of ``{`` (``GeoDataFrame.explore``), undone by :func:`written_as_is`
_RAW_BRACES = re.compile(r"\{% raw %\}(\{\{+)\{% endraw %\}")


@functools.cache
def _verbatim_class(cls: type) -> type:
    """``cls`` with :class:`Verbatim` mixed in (one class per class, for :func:`written_as_is`)."""
    return type(cls.__name__, (cls, Verbatim), {"__module__": cls.__module__,
                                                "__doc__": cls.__doc__})


# --- display geometry of the maps ---------------------------------------------------------


def _drop_small_holes(geom, min_area: float):
    """Return ``geom`` without interior rings smaller than ``min_area`` (same units as geom)."""
    def fix(p):
        keep = [r for r in p.interiors if shapely.Polygon(r).area >= min_area]
        return shapely.Polygon(p.exterior, keep) if len(keep) != len(p.interiors) else p

    if geom.geom_type == "Polygon":
        return fix(geom)
    if geom.geom_type == "MultiPolygon":
        return shapely.MultiPolygon([fix(p) for p in geom.geoms])
    return geom


@dataclasses.dataclass(frozen=True)
class LocalPlane:
    """A linear plane in metres about one point of the WGS84 ellipsoid, for display only.

    ``x = (lon - lon0) * kx``, ``y = (lat - lat0) * ky``, with ``kx`` and ``ky`` the lengths in
    metres of one degree of longitude and latitude at ``lat0`` (prime-vertical and meridian radii
    of curvature of WGS84). Forward and back are a multiplication of the coordinates, where
    pyproj's transverse Mercator to UTM and back took 4.6 of the map's 17.9 CPU seconds on the
    city centre's 4,800 isochrones (11.6M vertices, py-spy, 2026-12-05). Its scale differs from
    the true one by ``tan(lat0) * dlat`` at ``dlat`` radians from ``lat0``: 0.1 % at 6 km in
    Harbin, so a 5 m simplification tolerance is 5 m ± 5 mm there; the analysis never uses it.
    """

    lon0: float
    lat0: float

    @classmethod
    def about(cls, gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> LocalPlane:
        """Return the plane about the centre of the bounds of ``gdf`` (in EPSG:4326)."""
        x0, y0, x1, y1 = gdf.to_crs(4326).total_bounds
        return cls((x0 + x1) / 2, (y0 + y1) / 2)

    @functools.cached_property
    def scale(self) -> np.ndarray:
        """Metres per degree of longitude and of latitude at ``lat0`` (WGS84)."""
        a, f = 6378137.0, 1 / 298.257223563
        e2 = f * (2 - f)
        phi = np.radians(self.lat0)
        w = 1 - e2 * np.sin(phi) ** 2
        n = a / np.sqrt(w)  # prime-vertical radius of curvature
        m = a * (1 - e2) / w ** 1.5  # meridian radius of curvature
        return np.array([n * np.cos(phi), m]) * np.pi / 180

    def metres(self, lonlat: np.ndarray) -> np.ndarray:
        """Coordinates (n, 2) in lon/lat to this plane's metres."""
        return (lonlat - np.array([self.lon0, self.lat0])) * self.scale

    def forward(self, geoms: np.ndarray) -> np.ndarray:
        """Shapely geometries in lon/lat to this plane's metres."""
        return shapely.transform(geoms, self.metres)

    def back(self, geoms: np.ndarray) -> np.ndarray:
        """Shapely geometries in this plane's metres back to lon/lat."""
        origin, k = np.array([self.lon0, self.lat0]), self.scale
        return shapely.transform(geoms, lambda xy: xy / k + origin)


def prepare_layer(gdf: gpd.GeoDataFrame, *, simplify_m: float | None, gcj: bool,
                  min_hole_m2: float = 0.0, keep_topology: bool = True,
                  plane: LocalPlane | None = None) -> gpd.GeoDataFrame:
    """Simplify in metres (dropping holes < ``min_hole_m2``), shift to GCJ-02 if asked.

    The display preparation of every drawn layer: the offline map (:mod:`livingcircle.maps`)
    and ``Result.explore`` (:mod:`livingcircle._display`) both use it; the result keeps every
    vertex. Empty and missing geometries are left out; the frame returned is in EPSG:4326.

    ``keep_topology=False`` simplifies each ring with plain Douglas-Peucker
    (:func:`plain_simplify`: no topology checks and no repair, for display of polygons with
    thousands of holes). ``plane``: the metric plane
    (:class:`LocalPlane`; default the one about the layer's own bounds), so that parts of a
    layer are simplified as the whole.
    """
    geoms = gdf.geometry.to_numpy()  # shapely: no GeoSeries.notna warning about empties
    out = gdf[shapely.is_geometry(geoms) & ~shapely.is_empty(geoms)].copy()
    if out.crs is None:
        out = out.set_crs(4326)
    out = out.to_crs(4326)
    if len(out) == 0:
        return out
    if (simplify_m or min_hole_m2) and not out.geom_type.isin(["Point", "MultiPoint"]).all():
        if plane is None:
            plane = LocalPlane.about(out)
        lonlat = out.geometry.to_numpy()
        if simplify_m and not keep_topology and not min_hole_m2 and _rings_only(lonlat):
            # the vertices kept are the layer's own lon/lat: no transform back
            out = out.set_geometry(plain_simplify(lonlat, simplify_m, plane), crs=4326)
        else:
            g = plane.forward(lonlat)
            if min_hole_m2:
                g = np.array([_drop_small_holes(x, min_hole_m2) for x in g], dtype=object)
            if simplify_m:
                g = shapely.simplify(g, simplify_m, preserve_topology=keep_topology)
            out = out.set_geometry(plane.back(g), crs=4326)
    if gcj:
        from .coords import transform_geometries, wgs84_to_gcj02

        out["geometry"] = transform_geometries(out.geometry.values, wgs84_to_gcj02)
    return out[~out.geometry.is_empty]


def _rings_only(geoms: np.ndarray) -> bool:
    """Whether every geometry is a flat (x, y) Polygon or MultiPolygon (:func:`plain_simplify`)."""
    polygonal = (POLYGON_TYPE, int(shapely.GeometryType.MULTIPOLYGON))
    return bool(len(geoms)) and bool(np.isin(shapely.get_type_id(geoms), polygonal).all()) \
        and not shapely.has_z(geoms).any()


def plain_simplify(geoms: np.ndarray, tolerance_m: float, plane: LocalPlane) -> np.ndarray:
    """Simplify (Multi)Polygons in lon/lat ring by ring, Douglas-Peucker in ``plane``'s metres.

    What ``shapely.simplify(..., preserve_topology=False)`` does to each ring (:func:`_dp_rings`,
    the same vertices as GEOS gives each ring alone), without the repair GEOS then runs on every
    polygon (a zero buffer), most of its time on the city centre's 4,800 isochrones of 11.6M
    vertices: 2.4-3.3 against 6.1-6.8 CPU s (``benchmarks/CITY_SCALE.md``, "The map's
    isochrones simplified ring by ring"). A ring left with fewer than four vertices is dropped,
    and with its shell the whole polygon; a result may touch or cross itself within the
    tolerance, which a page's even-odd fill draws as it is. The vertices kept are the input's
    own coordinates. Single polygons stay Polygons; a geometry with nothing left is empty.
    """
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    solid = ~shapely.is_empty(parts)
    parts, part_of = parts[solid], part_of[solid]
    if len(parts) == 0:
        return np.array([shapely.Polygon() for _ in geoms], dtype=object)
    found = rings_of(parts)
    lonlat, ring_at = found.xy, found.ring_at
    poly_at = np.r_[0, np.cumsum(found.count)]
    geom_at = np.searchsorted(part_of, np.arange(len(geoms) + 1))
    take, n_kept = _dp_rings(plane.metres(lonlat), ring_at, float(tolerance_m))
    # a ring stays with four vertices or more, and a polygon with its shell (its first ring)
    ring_ok = n_kept >= 4
    poly_ok = ring_ok[poly_at[:-1]]  # every part has its shell: empty parts were left out
    ring_ok &= np.repeat(poly_ok, np.diff(poly_at))
    n_parts = _sums(poly_ok, geom_at)
    out = shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON, lonlat[take[np.repeat(ring_ok, n_kept)]],
        (np.r_[0, np.cumsum(n_kept[ring_ok])],
         np.r_[0, np.cumsum(_sums(ring_ok, poly_at)[poly_ok])],
         np.r_[0, np.cumsum(n_parts)]))
    single = n_parts == 1
    out[single] = shapely.get_geometry(out[single], 0)
    return out


def _sums(flags: np.ndarray, at: np.ndarray) -> np.ndarray:
    """How many of ``flags`` are set in each run ``flags[at[i]:at[i + 1]]`` (runs may be empty)."""
    total = np.r_[0, np.cumsum(flags, dtype=np.int64)]
    return total[at[1:]] - total[at[:-1]]


@numba.njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _to_segment(xy: np.ndarray, p: int, a: int, b: int) -> float:
    """Distance of vertex ``p`` from the segment of vertices ``a`` and ``b`` (GEOS's formula)."""
    ax, ay, bx, by, px, py = xy[a, 0], xy[a, 1], xy[b, 0], xy[b, 1], xy[p, 0], xy[p, 1]
    if ax == bx and ay == by:
        return np.hypot(px - ax, py - ay)
    len2 = (bx - ax) * (bx - ax) + (by - ay) * (by - ay)
    r = ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / len2
    if r <= 0.0:
        return np.hypot(px - ax, py - ay)
    if r >= 1.0:
        return np.hypot(px - bx, py - by)
    s = ((ay - py) * (bx - ax) - (ax - px) * (by - ay)) / len2
    return abs(s) * np.sqrt(len2)


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _dp_rings(xy: np.ndarray, ring_at: np.ndarray, tolerance: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """Douglas-Peucker on each ring ``xy[ring_at[r]:ring_at[r + 1]]`` as GEOS does a ring.

    Between two kept vertices the one farthest from the segment joining them (the first of
    equals) is kept when it lies more than ``tolerance`` from it, and both halves are looked
    at again; then the ring's first vertex goes too when it lies within ``tolerance`` of the
    segment joining its kept neighbours, the ring closing at the next one (JTS's and GEOS's
    ``DouglasPeuckerLineSimplifier`` for a ring). Returns the vertices of the simplified
    rings, one ring after the other, each closed, and how many each ring has.
    """
    n_rings = len(ring_at) - 1
    keep = np.zeros(len(xy), dtype=np.bool_)
    take = np.empty(len(xy), dtype=np.int64)
    ring_len = np.zeros(n_rings, dtype=np.int64)
    longest = 1
    for r in range(n_rings):
        longest = max(longest, ring_at[r + 1] - ring_at[r])
    stack = np.empty((longest, 2), dtype=np.int64)
    o = 0
    for r in range(n_rings):
        first, last = ring_at[r], ring_at[r + 1] - 1
        if last < first:
            continue
        keep[first] = True
        keep[last] = True
        stack[0, 0], stack[0, 1], top = first, last, 1
        while top:
            top -= 1
            i, j = stack[top, 0], stack[top, 1]
            far, far_d = i, -1.0
            for m in range(i + 1, j):
                d = _to_segment(xy, m, i, j)
                if d > far_d:
                    far, far_d = m, d
            if far_d > tolerance:
                keep[far] = True
                stack[top, 0], stack[top, 1] = i, far
                stack[top + 1, 0], stack[top + 1, 1] = far, j
                top += 2
        m = 0
        for v in range(first, last + 1):
            if keep[v]:
                take[o + m] = v
                m += 1
        if m >= 4 and _to_segment(xy, take[o], take[o + 1], take[o + m - 2]) <= tolerance:
            for v in range(m - 2):
                take[o + v] = take[o + v + 1]
            take[o + m - 2] = take[o]
            m -= 1
        ring_len[r] = m
        o += m
    return take[:o], ring_len
