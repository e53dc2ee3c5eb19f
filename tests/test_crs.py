"""The metric system of a run: :func:`livingcircle.crs.utm_crs` against geopandas' own choice."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from livingcircle.crs import utm_crs

#: Centres where the choice is easy to get wrong: on the edge between two zones (126°E, 0°,
#: ±180°), on the equator (a north and a south zone both hold it), at the last latitude a zone
#: covers (84°N, 80°S), just past it (no zone), and where EPSG's zones follow the usual 6° bands
#: although the military grid does not (southern Norway, Svalbard).
EDGES = [(126.0, 45.7), (126.0, 0.0), (-180.0, 10.0), (180.0, 10.0), (0.0, 0.0),
         (-174.0, -10.0), (126.6, 84.0), (126.6, -80.0), (5.0, 60.0), (15.0, 78.0),
         (126.63, 45.76), (24.94, 60.17)]
OUTSIDE = [(126.6, 84.5), (126.6, -80.5)]


def _points(lonlat, crs=4326):
    lon, lat = np.asarray(lonlat, dtype=float).T
    return gpd.GeoSeries(shapely.points(lon, lat), crs=4326).to_crs(crs)


@pytest.mark.parametrize("lonlat", EDGES, ids=[f"{x},{y}" for x, y in EDGES])
def test_the_zone_of_a_centre_is_geopandas_zone(lonlat):
    one = _points([lonlat])
    assert utm_crs(one) == one.estimate_utm_crs()


def test_random_centres_and_layers_give_geopandas_zone():
    rng = np.random.default_rng(17)
    for _ in range(8):
        lon0, lat0 = rng.uniform(-179, 179), rng.uniform(-79, 83)
        layer = _points(np.column_stack([lon0 + rng.uniform(-1, 1, 20),
                                         np.clip(lat0 + rng.uniform(-1, 1, 20), -80, 84)]))
        assert utm_crs(layer) == layer.estimate_utm_crs()
        frame = gpd.GeoDataFrame({"n": range(20)}, geometry=layer)
        assert utm_crs(frame) == frame.estimate_utm_crs()


def test_projected_layers_are_taken_to_lonlat_as_geopandas_does():
    harbin = _points([(126.5, 45.6), (126.8, 45.9)], crs=3857)
    assert utm_crs(harbin) == harbin.estimate_utm_crs()
    # a layer across the antimeridian (Fiji, in UTM zone 60S): the middle is near 180°, not 0°
    fiji = _points([(178.5, -17.0), (-179.5, -16.5)], crs=32760)
    assert utm_crs(fiji) == fiji.estimate_utm_crs()
    assert utm_crs(fiji).utm_zone == "60S"


def test_no_zone_and_no_crs_fail_as_geopandas_does():
    for lonlat in OUTSIDE:
        one = _points([lonlat])
        with pytest.raises(RuntimeError, match="Unable to determine UTM CRS"):
            one.estimate_utm_crs()
        with pytest.raises(RuntimeError, match="Unable to determine UTM CRS"):
            utm_crs(one)
    bare = gpd.GeoSeries([shapely.Point(126.6, 45.7)])
    with pytest.raises(RuntimeError, match="crs must be set"):
        utm_crs(bare)
