"""How a :class:`livingcircle.results.Result` shows itself: a summary table and a folium map.

``Result.summary()``, ``repr(result)``, ``result._repr_html_()`` (Jupyter) and
``result.explore(layer)`` are thin methods over the functions here, so that the pipeline module
stays about running the analysis.

An output beside ``maps``: it imports only the shared outputs (``summaries`` for the counts,
``styles`` for the display geometry the offline map uses too), never ``maps``
(``tests/test_layers.py``). :mod:`livingcircle.compose` hands these functions to ``Result``.
A new line of the summary goes into :func:`summary`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from ._errors import InputError

if TYPE_CHECKING:
    import folium

    from .results import Result

#: Columns shown in the tooltip and popup of :func:`explore`, per layer (those present are
#: used; other layers show their first ten columns).
EXPLORE_COLUMNS = {
    "communities": ["community_id", "name", "households", "in_scope", "share_met",
                    "n_missing_required", "n_required", "completeness_5", "completeness_10",
                    "completeness_15"],
    "gates": ["gate_id", "community_id"],
    "facilities": ["facility_id", "category", "name", "capacity", "source"],
    "sites": ["site_id", "name", "site_type", "floor_area_m2"],
    "isochrones": ["community_id", "speed_profile", "minutes", "walk_m", "area_m2",
                   "ped_shed_ratio"],
    "coverage": ["category", "name_zh", "threshold_m", "n_facilities", "area_m2"],
    "uncovered": ["community_id", "category", "uncovered_area_m2", "uncovered_share"],
    "clusters": ["rank", "cluster_id", "member_ids", "beneficiary_ids", "n_new_facilities",
                 "households_newly_served", "reason_zh"],
    "cluster_members": ["cluster_id", "community_id", "role", "in_scope", "households"],
    "proposed_sites": ["cluster_id", "category", "name_zh", "site_id", "site_name",
                       "households_newly_served"],
    "diagnostics": ["layer", "source", "row", "feature_id", "issue", "action", "detail"],
    "access_points": ["owner_layer", "owner_id", "kind", "offset_m", "attached"],
}
#: The column a layer is coloured by in :func:`explore` when none is given.
EXPLORE_COLOUR = {"communities": "share_met", "isochrones": "minutes", "coverage": "category",
                  "facilities": "category", "clusters": "cluster_id",
                  "cluster_members": "role", "proposed_sites": "category",
                  "uncovered": "category", "diagnostics": "issue"}


def summary(result: Result) -> pd.DataFrame:
    """Return the short summary of a result: one row per item, labels in Chinese and English.

    Items: communities (and households), in renovation scope, reaching every required category,
    the mean share of required categories met, facilities, 片区联动 clusters (and proposed
    sites), diagnostics (by issue), the standard, the speed profile, the synthetic label.
    """
    from .summaries import scope_counts, share_met

    L = result.layers
    comm = L["communities"]
    rows: list[tuple[str, str]] = []
    hh = pd.to_numeric(comm["households"], errors="coerce") if "households" in comm else None
    n_hh = f"; {hh.sum():,.0f} 户 households" if hh is not None and hh.notna().any() else ""
    rows.append(("小区 communities", f"{len(comm):,}{n_hh}"))
    if "in_scope" in comm.columns:
        n = scope_counts(comm)
        rows.append(("改造范围内 in renovation scope",
                     f"{n['yes']:,} (no {n['no']:,}, unknown {n['unknown']:,})"))
    if "n_missing_required" in comm.columns:
        miss = pd.to_numeric(comm["n_missing_required"], errors="coerce")
        rows.append(("必配类别全部达标 reach every required category",
                     f"{int((miss == 0).sum()):,} of {int(miss.notna().sum()):,}"))
    share = share_met(comm)
    if share.notna().any():
        rows.append(("必配类别达标比例（平均）mean share of required categories met",
                     f"{share.mean():.1%}"))
    if "facilities" in L:
        rows.append(("设施 facilities", f"{len(L['facilities']):,}"))
    cl = L.get("clusters")
    if cl is not None:
        sites = L.get("proposed_sites")
        rows.append(("片区联动 clusters", f"{len(cl):,}" + (
            f" ({len(sites):,} proposed sites)" if sites is not None else "")))
    diag = L.get("diagnostics")
    if diag is not None:
        detail = ""
        if len(diag) and "issue" in diag.columns:
            counts = diag["issue"].astype(str).value_counts()
            detail = " — " + ", ".join(f"{k} {v:,}" for k, v in counts.head(5).items())
            if len(counts) > 5:
                detail += ", …"
        rows.append(("诊断记录 diagnostics", f"{len(diag):,}{detail}"))
    meta = result.metadata or {}
    rows.append(("标准 standard", str(meta.get("profile") or result.profile.name)))
    speeds = meta.get("speed_profiles") or {}
    if result.speed_profiles:
        sp = result.speed_profiles[0]
        v = speeds.get(sp) if isinstance(speeds, dict) else None
        rows.append(("步行速度 walking speed", f"{sp}" + (f" ({v:g} m/min)" if v else "")))
    if getattr(result, "spilled", None):
        rows.append(("磁盘上的图层 layers kept on disk", ", ".join(sorted(result.spilled))))
    from .sample import synthetic_label

    label = synthetic_label(result)
    if label:
        rows.append(("数据 data", label))
    return pd.DataFrame(rows, columns=["item", "value"])


def text(result: Result) -> str:
    """Return the plain-text form of :func:`summary` (``repr(result)``)."""
    s = summary(result)
    lines = ["livingcircle Result"] + [f"  {i}: {v}"
                                       for i, v in zip(s["item"], s["value"], strict=True)]
    lines.append(f"  layers: {', '.join(result.layers)}")
    return "\n".join(lines)


def html_table(result: Result) -> str:
    """Return the HTML form of :func:`summary` (Jupyter's rich display); every value escaped."""
    s = summary(result)
    rows = "".join(f"<tr><th style='text-align:left'>{html.escape(i)}</th>"
                   f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
                   for i, v in zip(s["item"], s["value"], strict=True))
    layers = html.escape(", ".join(result.layers))
    return (f"<table class='livingcircle-result'><caption style='text-align:left'><b>livingcircle "
            f"Result</b></caption><tbody>{rows}</tbody></table>"
            f"<div style='font-size:smaller'>layers: {layers}</div>")


def _plain(v: object) -> object:
    """Return a cell for a map's tooltip: lists joined, text HTML-escaped (folium does not)."""
    if isinstance(v, list | tuple | set):
        v = "; ".join(map(str, v))
    if isinstance(v, str):
        return html.escape(v)
    return v


def explore(result: Result, layer: str, *, where: str | None = None, column: str | None = None,
            simplify_m: float | None = 2.0, **kwargs: Any) -> folium.Map:
    """Return a folium map of one layer of ``result`` (GeoDataFrame.explore).

    See :meth:`livingcircle.results.Result.explore`.
    """
    if layer not in result.layers:
        msg = f"no layer {layer!r} in this result; layers: {', '.join(result.layers)}"
        raise InputError(msg)
    frame = result.layer(layer, where=where)
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        msg = (f"layer {layer!r} is a table without geometry; look at it with result[{layer!r}] "
               "or join it to 'communities' on community_id")
        raise InputError(msg)
    if frame.crs is None:
        msg = f"layer {layer!r} has no coordinate system; cannot place it on a map"
        raise InputError(msg)
    gdf = frame
    if layer == "communities":
        from .summaries import share_met

        gdf = gdf.assign(share_met=share_met(gdf).round(3))
    wanted = EXPLORE_COLUMNS.get(layer) or [c for c in gdf.columns
                                            if c != gdf.geometry.name][:10]
    cols = [c for c in wanted if c in gdf.columns]
    if column is None:
        column = EXPLORE_COLOUR.get(layer)
        column = column if column in gdf.columns else None
    elif column not in gdf.columns:
        msg = f"layer {layer!r} has no column {column!r}; columns: {list(gdf.columns)}"
        raise InputError(msg)
    if column is not None and gdf[column].isna().all():
        column = None  # nothing to colour by (e.g. no gaps judged yet)
    keep = list(dict.fromkeys(cols + ([column] if column else [])))
    data = pd.DataFrame({c: gdf[c].map(_plain) if gdf[c].dtype == object or
                         pd.api.types.is_string_dtype(gdf[c]) else gdf[c] for c in keep},
                        index=gdf.index)
    gdf = gpd.GeoDataFrame(data, geometry=gdf.geometry.values, crs=gdf.crs)
    if simplify_m:
        from .styles import prepare_layer

        # for display only, as on the offline map (the result keeps every vertex)
        gdf = prepare_layer(gdf, simplify_m=simplify_m, gcj=False)
    options: dict[str, Any] = {"tooltip": cols[:6] or False, "popup": cols or False}
    if column == "share_met":
        options.update(cmap="RdYlGn", vmin=0.0, vmax=1.0)
    if column is not None and not pd.api.types.is_numeric_dtype(gdf[column]):
        options.update(categorical=True)
    options.update(kwargs)
    from .styles import written_as_is

    # names and values written as given, not read as Jinja (styles.PageText)
    return written_as_is(gdf.explore(column=column, **options))
