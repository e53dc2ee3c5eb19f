"""Heritage (历史文化保护) from a layer: which communities it touches, and what the policy asks.

黑政办规〔2021〕15号 四(三)4 保护城市风貌: “改造项目涉及历史文化街区、不可移动文物、历史建筑等时，
严格落实保护修缮要求，延续好城市特色与历史文脉。” (:data:`PROTECTION_POLICY`). Issue 16 §2 asks
for this from layers as well as from the community attribute ``heritage``:

:func:`read_heritage`
    A polygon (or point) layer of 历史文化街区 / 文物保护单位 / 历史建筑 in any GIS format the other
    layers take, with its name and protection class; or the ``historic=*`` features of an OSM
    file (:func:`read_osm_heritage`).
:func:`mark_heritage`
    Per community: whether a heritage feature touches it (intersects its polygon, its border
    included, or covers its point), which ones (names, classes), the community attribute, and
    the protection requirement the policy states.

OSM's ``historic=*`` says what a thing is (memorial, monument, building), not its legal
protection; such features get the class ``osm_historic``, to be confirmed by the planner.

Examples
--------
>>> import livingcircle as lc
>>> import livingcircle.heritage as lh
>>> from livingcircle.sample import sample_dir
>>> com = lc.io.read_communities(sample_dir() / "communities.gpkg")
>>> marked = lh.mark_heritage(com, lh.read_heritage(sample_dir() / "heritage.gpkg"))
>>> marked.loc[marked["heritage"], "community_id"].tolist()
['C007', 'C012', 'C021', 'C025', 'C037']
>>> marked.set_index("community_id").loc["C037", ["heritage_from", "heritage_names"]].tolist()
['layer', '红旗小区老水塔（合成）']
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import _validate as v
from ._errors import InputError
from .diagnostics import Diagnostics
from .io import read_layer
from .osm import reading_osm
from .renovation import PROTECTION_ZH

logger = logging.getLogger(__name__)

__all__ = [
    "HERITAGE_CLASSES",
    "PROTECTION_POLICY",
    "mark_heritage",
    "read_heritage",
    "read_osm_heritage",
]

LAYER = "heritage"

#: The policy line a heritage community's renovation follows (quoted from the policy text).
PROTECTION_POLICY = (
    "黑政办规〔2021〕15号 四(三)4 保护城市风貌：“改造项目涉及历史文化街区、不可移动文物、"
    "历史建筑等时，严格落实保护修缮要求，延续好城市特色与历史文脉。”"
)

#: Protection classes: id -> (Chinese, English). The first three are the policy's words.
HERITAGE_CLASSES = {
    "historic_district": ("历史文化街区", "historic district"),
    "protected_monument": ("文物保护单位（不可移动文物）", "protected monument (immovable relic)"),
    "historic_building": ("历史建筑", "historic building"),
    "osm_historic": ("OSM historic（保护类别待核实）", "OSM historic=* (protection to confirm)"),
    "other": ("其他", "other"),
}

#: Words that name a class in a layer's class column (after NFKC, lower case, no spaces).
_CLASS_WORDS = (
    ("historic_district", ("历史文化街区", "街区", "historicdistrict", "district")),
    ("protected_monument", ("文物", "不可移动", "monument", "relic")),
    ("historic_building", ("历史建筑", "historicbuilding", "building")),
)

#: Columns that may hold the class, in the order tried (after the alias renaming of
#: :func:`livingcircle.io.read_layer`, which reads 类别 as ``category`` and 类型 as ``type``).
CLASS_COLUMNS = ("heritage_class", "class", "保护类别", "保护级别", "类别", "category", "type",
                 "级别")


def _class_of(text) -> str | None:
    if text is None or text is pd.NA or (isinstance(text, float) and np.isnan(text)):
        return None
    key = "".join(unicodedata.normalize("NFKC", str(text)).lower().split()).replace("_", "")
    if not key:
        return None
    for cls, words in _CLASS_WORDS:
        if any(w in key for w in words):
            return cls
    return "other"


def _frame(ids, names, classes, geoms, *, source: str, extra=None) -> gpd.GeoDataFrame:
    out = gpd.GeoDataFrame({
        "heritage_id": pd.array(ids, dtype="string"),
        "name": pd.array(names, dtype="string"),
        "heritage_class": pd.array(classes, dtype="string"),
        "heritage_class_zh": pd.array(
            [None if c is None or c is pd.NA else HERITAGE_CLASSES[c][0] for c in classes],
            dtype="string"),
        **(extra or {}),
    }, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)
    out.attrs["source"] = source
    return out


def read_osm_heritage(
    path: str | Path,
    *,
    boundary: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Read the ``historic=*`` features of an OSM file.

    A .osm.pbf extract is read through pyrosm, an .osm XML file through osmnx.

    Parameters
    ----------
    path
        The OSM file.
    boundary
        Only features within its bounding box are read (faster on a large extract).

    Returns
    -------
    geopandas.GeoDataFrame
        heritage_id ('n123' / 'w456' / 'r789'), name, heritage_class ('osm_historic'),
        heritage_class_zh, osm_historic (the tag's value), geometry (EPSG:4326). Empty when the
        file has none.
    """
    p = Path(path)
    if not p.is_file():
        msg = f"{p}: OSM file not found"
        raise InputError(msg)
    bbox = (list(shapely.union_all(boundary.to_crs(4326).geometry.values).bounds)
            if boundary is not None and len(boundary) else None)
    if p.name.lower().endswith(".pbf"):
        from pyrosm.pyrosm import OSM  # (the package's lazy `pyrosm.OSM` hides its signature)

        with reading_osm(p):
            # pyrosm documents a GeoDataFrame, or None when nothing matches; its untyped
            # return is not inferred as such
            raw = cast(gpd.GeoDataFrame | None,
                       OSM(str(p), bounding_box=bbox).get_pois(custom_filter={"historic": True}))
        if raw is None or len(raw) == 0:
            raw = gpd.GeoDataFrame({"id": [], "osm_type": []}, geometry=[], crs=4326)
        kind = raw["osm_type"].astype(str).str[0]
    else:
        import osmnx as ox

        try:
            with reading_osm(p):
                raw = ox.features_from_xml(p, tags={"historic": True}).reset_index()
        except ox._errors.InsufficientResponseError:
            raw = gpd.GeoDataFrame({"id": [], "element": []}, geometry=[], crs=4326)
        kind = raw["element"].astype(str).str[0]
        if bbox is not None and len(raw):
            raw = raw[raw.intersects(shapely.box(bbox[0], bbox[1], bbox[2], bbox[3]))]
            kind = kind.loc[raw.index]
    ids = (kind + raw["id"].astype(str)).tolist()
    names = raw["name"].tolist() if "name" in raw.columns else [None] * len(raw)
    hist = raw["historic"].tolist() if "historic" in raw.columns else [None] * len(raw)
    out = _frame(ids, names, ["osm_historic"] * len(raw), np.asarray(raw.geometry.values),
                 source=str(p), extra={"osm_historic": pd.array(hist, dtype="string")})
    out = out.drop_duplicates("heritage_id").reset_index(drop=True)
    logger.info("%s: %d historic=* features", p, len(out))
    return out


def read_heritage(
    path: str | Path,
    *,
    layer: str | int | None = None,
    columns: dict[str, str] | None = None,
    class_column: str | None = None,
    coord_crs: str | None = None,
    encoding: str | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    diagnostics: Diagnostics | None = None,
) -> gpd.GeoDataFrame:
    """Read a heritage layer: 历史文化街区, 文物保护单位 and 历史建筑 as polygons (or points).

    A GIS file is read by :func:`livingcircle.io.read_layer` (its CRS, encodings, a ``名称``
    header as ``name``); an OSM file (.osm, .pbf) by :func:`read_osm_heritage`. The class is
    read from ``class_column`` or the first of :data:`CLASS_COLUMNS` the file has: text naming
    历史文化街区 / 街区, 文物 / 不可移动文物, 历史建筑 (or the English words) gives that class;
    other text gives 'other' (recorded as ``unknown_heritage_class``); an empty cell or no class
    column leaves the class unknown. Every feature marks the communities it touches, whatever
    its class.

    Parameters
    ----------
    path
        GeoPackage, Shapefile, GeoJSON of polygons or points; or an OSM file.
    layer, columns, coord_crs, encoding
        As in :func:`livingcircle.io.read_layer`.
    class_column
        The column that holds the protection class.
    boundary
        For an OSM file: read only features within its bounding box.
    diagnostics
        Collector of repaired and set-aside rows (layer ``heritage``).

    Returns
    -------
    geopandas.GeoDataFrame
        heritage_id, name, heritage_class (a key of :data:`HERITAGE_CLASSES` or missing),
        heritage_class_zh, src_row, geometry (EPSG:4326).
    """
    p = Path(path)
    if p.suffix.lower() in (".osm", ".pbf"):
        return read_osm_heritage(p, boundary=boundary)
    diag = diagnostics if diagnostics is not None else Diagnostics()
    start = len(diag)
    if v.is_table(p):
        msg = (f"{p}: a heritage layer must be polygons or points in a GIS file (.gpkg, .shp, "
               ".geojson) or an OSM file")
        raise InputError(msg)
    gdf = read_layer(p, layer=layer, columns=columns, coord_crs=coord_crs, encoding=encoding,
                     diagnostics=diag)
    for rec in diag.records[start:]:
        if rec["layer"] == p.stem:
            rec["layer"] = LAYER
    src = gdf.attrs.get("source", str(p))
    v.check_geometry_types(gdf, ("Polygon", "MultiPolygon", "Point"), what="a heritage layer",
                           source=src)
    if class_column is not None and class_column not in gdf.columns:
        msg = (f"{src}: class_column {class_column!r} is not in the file; its columns are "
               f"{[c for c in gdf.columns if c not in ('geometry', 'src_row')]}")
        raise InputError(msg)
    gdf = v.assign_ids(gdf, "heritage_id", layer=LAYER, source=src, diagnostics=diag)
    col = class_column or next((c for c in CLASS_COLUMNS if c in gdf.columns), None)
    raw = gdf[col].tolist() if col is not None else [None] * len(gdf)
    classes = [_class_of(x) for x in raw]
    for k, (cls, text) in enumerate(zip(classes, raw, strict=True)):
        if cls == "other":
            diag.add(LAYER, "unknown_heritage_class", action="kept", source=src,
                     row=int(gdf["src_row"].iloc[k]), feature_id=gdf["heritage_id"].iloc[k],
                     detail=f"{col} {text!r} names none of 历史文化街区, 文物保护单位, 历史建筑; "
                            "read as 'other' (it still marks the communities it touches)")
    names = gdf["name"].tolist() if "name" in gdf.columns else [None] * len(gdf)
    out = _frame(gdf["heritage_id"].tolist(), names, classes, np.asarray(gdf.geometry.values),
                 source=src, extra={"src_row": gdf["src_row"].to_numpy()})
    return out


def mark_heritage(
    communities: gpd.GeoDataFrame,
    heritage: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Mark the communities a heritage layer touches, beside the community attribute.

    A feature touches a community when their geometries intersect (a polygon sharing only a
    border counts; a community given as a point must lie in the feature). ``heritage`` is then
    True (``heritage_from`` 'layer', or 'layer;attribute' when the attribute says so too).
    A community the layer does not touch keeps its attribute ``heritage`` when that is True
    ('attribute'); otherwise it is False when a layer is given (the layer is the list of
    protected places), and stays as the attribute says (True, False or unknown) without one.
    A heritage community carries the protection requirement of :data:`PROTECTION_POLICY`.

    Parameters
    ----------
    communities
        community_id, geometry and optionally the attribute ``heritage``.
    heritage
        The result of :func:`read_heritage` or :func:`read_osm_heritage`; None uses the
        attribute alone.

    Returns
    -------
    pandas.DataFrame
        community_id, heritage (boolean, missing = unknown), heritage_from, heritage_ids,
        heritage_names, heritage_classes, heritage_classes_zh (';'/'；'-joined, in layer order),
        protection_requirement, policy; in the order of ``communities``.
    """
    if "community_id" not in communities.columns:
        msg = f"communities lacks column 'community_id'; it has {list(communities.columns)}"
        raise InputError(msg)
    n = len(communities)
    attr = (communities["heritage"].astype("boolean") if "heritage" in communities.columns
            else pd.Series(pd.array([pd.NA] * n, dtype="boolean"), index=communities.index))
    hits: list[list[int]] = [[] for _ in range(n)]
    if heritage is not None and len(heritage):
        cg = np.asarray(communities.to_crs(4326).geometry.values)
        tree = shapely.STRtree(np.asarray(heritage.to_crs(4326).geometry.values))
        ci, hi = tree.query(cg, predicate="intersects")
        for c, h in sorted(zip(ci.tolist(), hi.tolist(), strict=True)):
            hits[c].append(h)
    rows = []
    for k, cid in enumerate(communities["community_id"].astype(str)):
        a = attr.iloc[k]
        a = None if a is pd.NA else bool(a)
        feats = heritage.iloc[hits[k]] if heritage is not None and hits[k] else None
        if feats is not None:
            value: bool | None = True
            src = "layer;attribute" if a else "layer"
        elif a:
            value, src = True, "attribute"
        elif heritage is not None:
            value, src = False, "layer"
        else:
            value, src = a, ("attribute" if a is not None else "")

        def joined(col, sep, feats=feats):
            if feats is None:
                return ""
            return sep.join(str(x) for x in feats[col] if x is not None and x is not pd.NA)

        rows.append({
            "community_id": cid,
            "heritage": value,
            "heritage_from": src,
            "heritage_ids": joined("heritage_id", ";"),
            "heritage_names": joined("name", "；"),
            "heritage_classes": joined("heritage_class", ";"),
            "heritage_classes_zh": joined("heritage_class_zh", "；"),
            "protection_requirement": PROTECTION_ZH if value else "",
            "policy": PROTECTION_POLICY if value else "",
        })
    out = pd.DataFrame(rows)
    out["heritage"] = out["heritage"].astype("boolean")
    logger.info("heritage: %d of %d communities marked", int(out["heritage"].fillna(False).sum()),
                n)
    return out
