"""Interactive folium maps of a run (first version: communities by categories reached)."""

from __future__ import annotations

import branca.colormap as cm
import folium
import geopandas as gpd


def make_map(result) -> folium.Map:
    """Return a folium map of the communities coloured by how many categories they reach."""
    comm: gpd.GeoDataFrame = result.layers["communities"].to_crs(4326)
    n_total = int(comm["n_categories"].max()) if "n_categories" in comm.columns else 1
    bounds = comm.total_bounds
    m = folium.Map(location=[(bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2],
                   zoom_start=14, tiles=None)
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(m)
    scale = cm.LinearColormap(["#d73027", "#fee08b", "#1a9850"], vmin=0, vmax=n_total,
                              caption="达标设施类别数 Categories reached within standard")
    cols = ["community_id", "name", "n_categories_reached", "geometry"]
    data = comm[[c for c in cols if c in comm.columns]]
    folium.GeoJson(
        data,
        name="小区 Communities",
        style_function=lambda f: {
            "fillColor": scale(f["properties"].get("n_categories_reached") or 0),
            "color": "#333", "weight": 1, "fillOpacity": 0.7},
        tooltip=folium.GeoJsonTooltip(
            fields=[c for c in ("name", "n_categories_reached") if c in data.columns],
            aliases=["名称", "达标类别数"][: len([c for c in ("name", "n_categories_reached")
                                                if c in data.columns])]),
    ).add_to(m)
    scale.add_to(m)
    folium.LayerControl().add_to(m)
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m
