"""The data model: the layers livingcircle reads and writes, and their columns.

Every layer is a GeoDataFrame with a stable id column. Column names stay ASCII snake_case so that
GIS software (and Shapefile's 10-character limit, see :mod:`livingcircle.export`) can use them;
Chinese labels for reports live in :data:`LABELS_ZH`.

Input layers (after :mod:`livingcircle.io` has read and checked them, always in EPSG:4326)
-----------------------------------------------------------------------------------------
communities : community_id (str), geometry (Polygon/MultiPolygon or Point), and when present
    name, build_year (int), households (int), population (int), elderly_share (0–1 float),
    floors (int), has_elevator (bool), safety_grade ('A'–'D'), complete_units (bool; False means
    units without their own kitchen/bathroom, 非成套), heritage (bool), owners_committee (bool),
    property_committee (bool), management_mode (str), resident_funding (bool), district, street.
    A missing value means "unknown" and is never replaced by a guess.
gates : gate_id (str), community_id (str), geometry (Point).
facilities : facility_id (str), category (first category id), categories (';'-joined ids),
    name, capacity (float, optional), source_crs ('wgs84' | 'gcj02' | 'bd09'), source (file),
    geometry (Point; polygons are reduced to a representative point).
sites : site_id (str), name, site_type (e.g. 'boiler_room', 'vacant_lot', 'ground_floor_shop',
    'public_building'), floor_area_m2 (float, optional), geometry (Point).
boundary : one or more polygons of the study area.
diagnostics : layer, source, row (1-based row in the source file, or None), feature_id, issue,
    action ('dropped' | 'repaired' | 'kept'), detail, geometry (where known).

Analysis layers (written to the result GeoPackage by ``livingcircle run``)
--------------------------------------------------------------------------
access (long table) : community_id, category, speed_profile, distance_m (NaN = not reached within
    the search cutoff), time_min, nearest_facility_id, reached (bool), n_5min, n_10min, n_15min.
communities (wide) : the input columns plus ``d_<category>`` (metres) and ``t_<category>``
    (minutes, default speed profile) per category, ``n_categories_reached`` and
    ``completeness_<level>``.
isochrones : community_id, minutes, speed_profile, walk_m, area_m2, circle_area_m2,
    ped_shed_ratio, geometry (Polygon/MultiPolygon).
"""

from __future__ import annotations

ID_COLUMNS = {
    "communities": "community_id",
    "gates": "gate_id",
    "facilities": "facility_id",
    "sites": "site_id",
}

COMMUNITY_ATTRIBUTES = {
    "name": "string",
    "build_year": "Int64",
    "households": "Int64",
    "population": "Int64",
    "elderly_share": "Float64",
    "floors": "Int64",
    "has_elevator": "boolean",
    "safety_grade": "string",
    "complete_units": "boolean",
    "heritage": "boolean",
    "owners_committee": "boolean",
    "property_committee": "boolean",
    "management_mode": "string",
    "resident_funding": "boolean",
    "district": "string",
    "street": "string",
}

SITE_TYPES = ("boiler_room", "vacant_lot", "ground_floor_shop", "public_building", "other")

DIAGNOSTIC_COLUMNS = ["layer", "source", "row", "feature_id", "issue", "action", "detail"]

#: Chinese labels of columns, for Excel headers, reports and popups.
LABELS_ZH = {
    "community_id": "小区编号",
    "gate_id": "出入口编号",
    "facility_id": "设施编号",
    "site_id": "候选用地编号",
    "name": "名称",
    "build_year": "建成年份",
    "households": "户数",
    "population": "人口",
    "elderly_share": "老年人口比例",
    "floors": "层数",
    "has_elevator": "有电梯",
    "safety_grade": "安全等级",
    "complete_units": "成套住宅",
    "heritage": "历史文化保护",
    "owners_committee": "业主委员会",
    "property_committee": "物业管理委员会",
    "management_mode": "物业管理模式",
    "resident_funding": "居民出资",
    "district": "区",
    "street": "街道",
    "category": "设施类别",
    "categories": "设施类别(全部)",
    "capacity": "容量",
    "source_crs": "原坐标系",
    "site_type": "用地类型",
    "floor_area_m2": "建筑面积(㎡)",
    "speed_profile": "步行速度方案",
    "distance_m": "步行距离(米)",
    "time_min": "步行时间(分钟)",
    "nearest_facility_id": "最近设施编号",
    "reached": "可达",
    "n_5min": "5分钟内数量",
    "n_10min": "10分钟内数量",
    "n_15min": "15分钟内数量",
    "minutes": "分钟",
    "walk_m": "步行距离阈值(米)",
    "area_m2": "面积(㎡)",
    "layer": "图层",
    "source": "来源",
    "row": "行号",
    "feature_id": "要素编号",
    "issue": "问题",
    "action": "处理",
    "detail": "说明",
}
