"""Build livingcircle/profiles/default.yaml from ../shared/reference/facility-standards.yaml.

The reference file is the project's record of every number with its source and verification
status; this script copies those facts and adds what the tool needs to use them: English names,
a three-valued threshold status, and POI classification rules in a structured form (the reference
states them as prose). Run from the repository root::

    python data/build_default_profile.py ../shared/reference/facility-standards.yaml

and commit the regenerated YAML. The output is deterministic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from livingcircle.buildings import ELEVATOR_SOURCE

NAME_EN = {
    "junior_high_school": "Junior high school",
    "primary_school": "Primary school",
    "kindergarten": "Kindergarten",
    "nursery_childcare": "Nursery / childcare centre",
    "community_health_center": "Community health service centre",
    "community_health_station": "Community health service station",
    "nursing_home": "Nursing home",
    "elderly_day_care": "Elderly day-care centre / elderly service station",
    "community_canteen": "Community canteen / meal-aid point",
    "community_service_station": "Community service station",
    "culture_activity_station": "Cultural activity station",
    "culture_activity_center": "Cultural activity centre (sub-district)",
    "small_sports_ground": "Small multi-purpose sports ground",
    "medium_sports_ground": "Medium multi-purpose sports ground",
    "large_sports_ground": "Large sports ground / fitness centre",
    "outdoor_fitness": "Outdoor fitness and public activity ground",
    "children_elderly_play": "Children's and elderly activity ground",
    "fresh_market": "Fresh-food market",
    "supermarket": "Supermarket",
    "convenience_store": "Convenience store",
    "daily_services": "Daily services (barber, laundry, pharmacy, repair, food)",
    "parcel_delivery": "Smart parcel and letter lockers",
    "postal_express_station": "Postal and express delivery service station",
    "waste_collection_point": "Household waste collection point",
    "waste_collection_station": "Waste collection station / recycling point",
    "public_toilet": "Public toilet",
    "bus_stop": "Bus stop",
    "metro_station": "Rail transit station",
    "bicycle_parking_charging": "Bicycle parking and e-bike charging",
    "car_parking_charging": "Car parking and charging",
    "public_green_park": "Public green space / park",
    "property_management": "Property management office",
}

# Threshold status: "verified" = the distance was read in a named public source (the reference
# says so), "secondary" = only the level's radius from secondary sources, "unverified" otherwise.
THRESHOLD_STATUS = {
    "junior_high_school": "verified",
    "primary_school": "verified",
    "kindergarten": "verified",
    "nursery_childcare": "secondary",
    "community_health_center": "unverified",
    "community_health_station": "secondary",
    "nursing_home": "unverified",
    "elderly_day_care": "unverified",
    "community_canteen": "unverified",
    "community_service_station": "unverified",
    "culture_activity_station": "unverified",
    "culture_activity_center": "unverified",
    "small_sports_ground": "unverified",
    "medium_sports_ground": "secondary",
    "large_sports_ground": "unverified",
    "outdoor_fitness": "unverified",
    "children_elderly_play": "unverified",
    "fresh_market": "secondary",
    "supermarket": "secondary",
    "convenience_store": "unverified",
    "daily_services": "unverified",
    "parcel_delivery": "unverified",
    "postal_express_station": "unverified",
    "waste_collection_point": "verified",
    "waste_collection_station": "unverified",
    "public_toilet": "unverified",
    "bus_stop": "verified",
    "metro_station": "unverified",
    "bicycle_parking_charging": "unverified",
    "car_parking_charging": "unverified",
    "public_green_park": "verified",
    "property_management": "unverified",
}

#: Names of staffed delivery points (邮政快递末端综合服务站): post offices, 驿站, 快递超市.
STATION_NAMES = "驿站|邮政|邮局|收寄|快递超市|快递服务站|末端综合服务站"

# Structured classification rules. osm: a list of tag sets; a POI matches a set when every tag
# matches (a list of values means any of them, "*" any value). amap_typecodes: exact 6-digit
# codes; amap_types: prefixes of AMap's type string; name: a regular expression on the name;
# exclude_name: a regular expression that vetoes the category.
MATCH = {
    "junior_high_school": {
        "osm": [{"amenity": "school", "isced:level": ["2", "2;3", "1;2", "1;2;3"]}],
        "amap_typecodes": ["141202"], "amap_types": ["科教文化服务;学校;中学"],
        "name": "初中|初级中学|中学", "exclude_name": "高中|高级中学|大学|学院",
    },
    "primary_school": {
        "osm": [{"amenity": "school", "isced:level": ["1", "1;2", "0;1"]}],
        "amap_typecodes": ["141203"], "amap_types": ["科教文化服务;学校;小学"],
        "name": "小学", "exclude_name": "中学|大学",
    },
    "kindergarten": {
        "osm": [{"amenity": "kindergarten"}],
        "amap_typecodes": ["141204"], "amap_types": ["科教文化服务;学校;幼儿园"],
        "name": "幼儿园", "exclude_name": "托育|托儿所",
    },
    "nursery_childcare": {
        "osm": [{"amenity": "childcare"}, {"amenity": "kindergarten", "nursery": "yes"}],
        "name": "托育|托儿所|育婴",
    },
    "community_health_center": {
        "osm": [{"healthcare": "centre"}, {"amenity": "clinic"}, {"amenity": "doctors"}],
        "amap_types": ["医疗保健服务;综合医院;卫生院"],
        "name": "社区卫生服务中心|社区医院|街道卫生院",
    },
    "community_health_station": {
        "osm": [{"amenity": "clinic"}, {"amenity": "doctors"}, {"healthcare": "clinic"}],
        "name": "社区卫生服务站|卫生服务站|社康",
        "exclude_name": "服务中心",
    },
    "nursing_home": {
        "osm": [
            {"amenity": "social_facility",
             "social_facility": ["nursing_home", "group_home", "assisted_living"],
             "social_facility:for": ["senior", "elderly"]},
            {"amenity": "nursing_home"},
        ],
        "name": "养老院|敬老院|福利院|老年公寓|护理院|养护院",
    },
    "elderly_day_care": {
        "osm": [
            {"amenity": "social_facility", "social_facility": "day_care",
             "social_facility:for": ["senior", "elderly"]},
            {"amenity": "community_centre", "community_centre": "senior"},
        ],
        "name": "日间照料|托老所|养老服务(站|驿站|中心)|老年服务站|长者(照护|之家)",
    },
    "community_canteen": {
        "osm": [{"amenity": "canteen"}],
        "name": "长者食堂|社区食堂|助餐点|幸福食堂|老年食堂|助餐",
    },
    "community_service_station": {
        "osm": [{"amenity": "community_centre"},
                {"office": "government", "government": "community"}],
        "amap_types": ["商务住宅;住宅区;社区中心"],
        "name": "社区(服务|综合服务|党群服务)(站|中心)|居委会|居民委员会",
    },
    "culture_activity_station": {
        "osm": [{"amenity": ["community_centre", "arts_centre", "library"]}],
        "amap_types": ["科教文化服务;文化宫"],
        "name": "文化活动(站|室)|老年活动(室|中心)|图书室|青少年活动",
    },
    "culture_activity_center": {
        "osm": [{"amenity": ["community_centre", "arts_centre"]}],
        "amap_types": ["科教文化服务;文化宫"],
        "name": "文化活动中心|文化中心|文化馆",
    },
    "small_sports_ground": {
        "osm": [{"leisure": ["pitch", "sports_centre"]}],
        "name": "篮球场|羽毛球|乒乓球|足球场|运动场|体育公园",
    },
    "medium_sports_ground": {
        "osm": [{"leisure": ["pitch", "sports_centre"]}],
        "name": "运动场|体育场|球场|体育公园",
    },
    "large_sports_ground": {
        "osm": [{"leisure": ["sports_centre", "stadium"]}],
        "name": "体育馆|体育场|全民健身中心|体育中心",
    },
    "outdoor_fitness": {
        "osm": [{"leisure": ["fitness_station", "playground"]}],
        "amap_types": ["风景名胜;公园广场;城市广场"],
        "name": "健身(广场|路径|苑|点)|文体广场|活动广场",
    },
    "children_elderly_play": {
        "osm": [{"leisure": ["playground", "fitness_station"]}],
        "name": "儿童(乐园|游乐|活动)|老年(人)?活动场",
    },
    "fresh_market": {
        "osm": [{"amenity": "marketplace"}, {"shop": "greengrocer"}],
        "amap_typecodes": ["060705"],
        "amap_types": ["购物服务;综合市场;蔬菜市场", "购物服务;综合市场;农副产品市场",
                       "购物服务;综合市场;水产海鲜市场"],
        "name": "菜市场|农贸市场|生鲜|菜店|早市",
    },
    "supermarket": {
        "osm": [{"shop": "supermarket"}],
        "amap_typecodes": ["060400", "060401", "060402"], "amap_types": ["购物服务;超级市场"],
        "name": "超市",
    },
    "convenience_store": {
        "osm": [{"shop": ["convenience", "greengrocer"]}],
        "amap_typecodes": ["060200"], "amap_types": ["购物服务;便民商店/便利店"],
        "name": "便利店|便民店|小卖部",
    },
    "daily_services": {
        "osm": [
            {"shop": ["hairdresser", "laundry", "dry_cleaning", "repair"]},
            {"amenity": ["pharmacy", "restaurant", "fast_food"]},
            {"craft": "*"},
        ],
        "amap_typecodes": ["071100", "071500", "071200"],
        "amap_types": ["生活服务;美容美发店", "生活服务;洗衣店", "生活服务;维修站点",
                       "医疗保健服务;医药保健销售店"],
        "name": "理发|美发|洗衣|药店|大药房|维修|家政|早餐",
    },
    # AMap files lockers and staffed stations under one type (物流速递, 070500): the name tells
    # them apart; a 物流速递 POI whose name says neither stays a locker, as before the split.
    "parcel_delivery": {
        "osm": [{"amenity": "parcel_locker"}],
        "amap_typecodes": ["070500"], "amap_types": ["生活服务;物流速递"],
        "name": "丰巢|快递柜|蜂巢|快件箱|信包箱|智能柜|自提柜",
        "exclude_name": STATION_NAMES,
    },
    "postal_express_station": {
        "osm": [{"amenity": "post_office"}],
        "amap_typecodes": ["070400"],
        "name": STATION_NAMES,
    },
    "waste_collection_point": {
        "osm": [{"amenity": ["waste_disposal", "recycling"]}],
        "name": "垃圾收集点|垃圾分类|垃圾投放",
    },
    "waste_collection_station": {
        "osm": [{"amenity": "waste_transfer_station"},
                {"amenity": "recycling", "recycling_type": "centre"}],
        "name": "垃圾收集站|再生资源回收|垃圾站",
    },
    "public_toilet": {"osm": [{"amenity": "toilets"}], "name": "公共厕所|公厕"},
    "bus_stop": {
        "osm": [{"highway": "bus_stop"}, {"public_transport": "platform", "bus": "yes"}],
        "amap_typecodes": ["150700", "150702"], "amap_types": ["交通设施服务;公交车站"],
        "name": "公交(车)?站",
    },
    "metro_station": {
        "osm": [{"railway": "station", "station": "subway"}, {"railway": "subway_entrance"},
                {"station": "subway"}],
        "amap_typecodes": ["150500"], "amap_types": ["交通设施服务;地铁站"],
        "name": "地铁站",
    },
    "bicycle_parking_charging": {
        "osm": [{"amenity": "bicycle_parking"}, {"amenity": "charging_station", "bicycle": "yes"}],
        "name": "非机动车|自行车停|电动车充电|电瓶车充电",
    },
    "car_parking_charging": {
        "osm": [{"amenity": ["parking", "charging_station"]}],
        "amap_typecodes": ["150900", "150903", "150904"], "amap_types": ["交通设施服务;停车场"],
        "name": "停车场|充电站|充电桩",
    },
    "public_green_park": {
        "osm": [{"leisure": ["park", "garden"]}],
        "amap_typecodes": ["110101", "110105"], "amap_types": ["风景名胜;公园广场;公园"],
        "name": "公园|游园|绿地|花园",
    },
    "property_management": {"name": "物业(服务|管理)?(中心|用房|办公)"},
}

# --- issue 16 §2: rules the reference merges or leaves out ---------------------------------------

POLICY = "黑政办规〔2021〕15号"
POLICY_FILE = "shared/reference/policy-heilongjiang-2021-15.txt"

# The reference's one parcel entry holds two items the policy puts in different classes:
# 三(二) 完善类 lists 物流快递箱 (智能快件箱/智能信包箱), 三(三) 提升类 邮政快递末端综合服务站.
# parcel_delivery keeps its id (input files label lockers with it) and becomes the lockers;
# the station is a new category after it, with the reference's level and (unverified) threshold.
SPLIT = {
    "parcel_delivery": {
        "name_zh": "智能快件箱、智能信包箱",
        "renovation_category": "完善",
        "status_prefix": f"{POLICY} 三(二) 完善类 '物流快递箱' (verified in {POLICY_FILE}); ",
    },
    "postal_express_station": {
        "from": "parcel_delivery",
        "name_zh": "邮政快递末端综合服务站",
        "renovation_category": "提升",
        "status_prefix": (f"{POLICY} 三(三) 提升类 '邮政快递末端综合服务站' (verified in "
                          f"{POLICY_FILE}); "),
    },
}

# Facilities planned above the community (上级规划统筹): living-circle gaps, reported with their
# figures, but not a community's renovation need and never sited on a community's candidate sites.
DISTRICT_PLANNING_SOURCE = (
    "2022 完整社区建设试点: 统筹若干完整社区配建中小学、养老院、社区医院 "
    "(thepaper.cn/newsDetail_forward_20567103; verified, see facility-standards-sources.md)")
DISTRICT_PLANNING = {
    "primary_school": DISTRICT_PLANNING_SOURCE,
    "junior_high_school": DISTRICT_PLANNING_SOURCE,
    "nursing_home": DISTRICT_PLANNING_SOURCE,
    "community_health_center": DISTRICT_PLANNING_SOURCE,
    "large_sports_ground": (
        "a facility of the 15-minute residential district (GB 50180-2018: 50,000–100,000 "
        "residents, verified via ccprjournal.com.cn), planned for the district, not a community"),
}

# 二(三): preconditions for the annual plan decide readiness; 物业用房 (三(二)) is premises, a need.
READINESS = {
    "source": (f"{POLICY} 二(三): 将居民出资、业主委员会（物业管理委员会）组建、改造后物业管理模式"
               f"确定等作为纳入年度改造计划的前提条件 (verified in {POLICY_FILE})"),
    "preconditions": [
        {"id": "resident_funding", "name_zh": "居民出资", "name_en": "resident funding",
         "attributes": ["resident_funding"]},
        {"id": "committee", "name_zh": "业主委员会或物业管理委员会",
         "name_en": "owners' or property management committee",
         "attributes": ["owners_committee", "property_committee"]},
        {"id": "management_mode", "name_zh": "改造后物业管理模式",
         "name_en": "post-renovation management mode", "attributes": ["management_mode"]},
    ],
    "premises_not_preconditions": {
        "property_management": (
            f"物业用房 is premises: a 完善类 need ({POLICY} 三(二) '物业用房'), judged on the "
            "community's premises; the governance preconditions above decide readiness, not need"),
    },
}

# --- issue 16 §3: named walking speeds ------------------------------------------------------------
# A speed is given as read (m_per_s or m_per_min) or derived from another profile by adding a
# walking-time penalty per kilometre (base + extra_min_per_km). status: verified = the number is
# read in the named source; derived = computed from such numbers by the formula given;
# unverified = a planning default that no source states as such.
FOSSUM_RYENG = (
    "Fossum M., Ryeng E.O. (2021) The walking speed of pedestrians on various pavement surface "
    "conditions during winter. Transportation Research Part D 97, 102934, "
    "doi:10.1016/j.trd.2021.102934 (abstract: on clean ice, compared to a bare pavement, average "
    "travel times approximately 2 min/km longer; best obtainable winter surface approximately "
    "1 min/km longer)")


def _on_ice(base: str, name_zh: str, name_en: str, note: str) -> dict:
    """A speed derived from ``base`` on clean ice: + 2 min/km (Fossum & Ryeng 2021)."""
    return {"name_zh": name_zh, "name_en": name_en, "base": base, "extra_min_per_km": 2.0,
            "status": "derived", "source": [FOSSUM_RYENG], "note": note}


SPEEDS = {
    "default": "adult",
    "profiles": {
        "adult": {
            "name_zh": "成年人", "name_en": "adult",
            "m_per_min": 80.0,
            "status": "unverified",
            "source": [
                "livingcircle planning default, 4.8 km/h (1.33 m/s)",
                "Andrews A.W., Chinworth S.A. et al., Update on distance and velocity "
                "requirements for community ambulation: mean gait speed of 139 pedestrians at "
                "crosswalks 1.32 m/s",
                "Bohannon R.W., Andrews A.W. (2011) Normal walking speed: a descriptive "
                "meta-analysis. Physiotherapy 97(3):182–189, doi:10.1016/j.physio.2010.12.004: "
                "stratum means from 0.943 m/s (women 80–99) to 1.434 m/s (men 40–49)",
            ],
            "note": ("no source states 80 m/min: it is 0.01 m/s above the observed 1.32 m/s and "
                     "inside the meta-analysis range"),
        },
        "elderly": {
            "name_zh": "老年人", "name_en": "elderly",
            "m_per_s": 0.8,
            "status": "verified",
            "source": [
                "Asher L. et al. (2012) Most older pedestrians are unable to cross the road in "
                "time: a cross-sectional study. Age and Ageing 41(5):690, "
                "doi:10.1093/ageing/afs076: mean walking speed 0.8 m/s in women and 0.9 m/s in "
                "men aged 65+ (Health Survey for England 2005, 3,145 adults)",
            ],
            "note": ("the women's mean, the slower of the two: the time criterion asks who can "
                     "still reach a facility"),
        },
        "winter": _on_ice("adult", "冬季冰雪路面", "winter (icy pavement)",
                          "adult pace plus 2 min/km on clean ice; 1.0 min/km for well-kept "
                          "winter pavements (same study)"),
        "elderly_winter": _on_ice("elderly", "老年人（冬季冰雪路面）", "elderly in winter",
                                  "the study measured pedestrians of all ages; adding its average "
                                  "penalty to the elderly pace assumes older walkers lose no more "
                                  "time on ice than others"),
        "carer_with_child": {
            "name_zh": "携幼儿出行", "name_en": "carer with a small child",
            "m_per_s": 0.88,
            "status": "verified",
            "source": [
                "Varela-Martínez S. et al. (2024) Assessment of time allocated to pedestrian "
                "crossing: a study in pre-schoolers. International Journal of Crashworthiness "
                "29(5):880–883: mean walking speed of 48 pre-schoolers 0.88 ± 0.2 m/s",
            ],
            "note": ("the carer walks at the child's pace; measured where the children crossed "
                     "streets"),
        },
    },
}

# --- issue 16 §4: which candidate sites can hold a category, and how large they must be -------
# Site types are those of livingcircle.schema.SITE_TYPES. A category lists the site types it may
# use; an area minimum is compared with the site's recorded area (floor area of a building, lot
# area of a vacant lot). Area status as for thresholds: verified = read in the named source for
# this facility; secondary = read in a named source that is superseded, local or about a
# related facility; a commonly cited number that was not confirmed is left out (min_area_m2 null,
# the number named in the note), so that the planner confirms the area.
#: What the search for the unconfirmed numbers below found (issue 16 §4's follow-up).
NOT_FOUND = "not found in the document, page and code search of 2026-12-02"
SITE_TYPES = {
    "boiler_room": {"name_zh": "锅炉房", "name_en": "former boiler room", "kind": "building"},
    "vacant_lot": {"name_zh": "闲置空地", "name_en": "vacant lot", "kind": "land"},
    "ground_floor_shop": {"name_zh": "底商", "name_en": "ground-floor shop", "kind": "building"},
    "public_building": {"name_zh": "既有公建", "name_en": "existing public building",
                        "kind": "building"},
    "other": {"name_zh": "其他", "name_en": "other", "kind": "unknown"},
}
ANY_SITE = list(SITE_TYPES)
OPEN_LAND = ["vacant_lot"]
OPEN_LAND_BASIS = "an outdoor ground, green space, parking area or stop needs open land"
INDOOR_BASIS = "a service held in rooms: any building, or a new one on a lot"
GB93 = ("GB 50180-93 (2002 ed.) 公共服务设施 table, superseded by GB 50180-2018 "
        "(jz.jzsc.net/jingguanshejishuoming/96531.html)")
SITING = {
    "primary_school": {"site_types": [], "basis": "district planning (上级规划统筹)",
                       "min_area_m2": 6000, "area_kind": "site", "area_status": "secondary",
                       "area_source": [f"{GB93}: 小学 12班 用地 ≥6000 m²"]},
    "junior_high_school": {"site_types": [], "basis": "district planning (上级规划统筹)",
                           "min_area_m2": 11000, "area_kind": "site",
                           "area_status": "secondary",
                           "area_source": [f"{GB93}: 中学 18班 用地 ≥11000 m²"]},
    "kindergarten": {
        "site_types": OPEN_LAND,
        "basis": (f"{GB93}: 四班和四班以上的托、幼园所,其用地均应独立设置; three classes or "
                  "fewer may be attached to another building with its own yard and entrance "
                  "(a city may add building types for those)"),
        "min_area_m2": 1500, "area_kind": "site", "area_status": "secondary",
        "area_source": [f"{GB93}: 幼儿园 4班 用地 ≥1500 m² (6班 ≥2000, 8班 ≥2400)"],
        "note": ("完整居住社区建设指南 (2021) '≥6班' and 2200/3500 m² not verified ("
                 + NOT_FOUND + ")"),
    },
    "nursery_childcare": {"site_types": ANY_SITE, "basis": INDOOR_BASIS,
                          "note": "完整居住社区建设指南 ≥200 m² not verified (" + NOT_FOUND + "); "
                                  "GB 50180-93 托儿所 4班 用地 ≥1200 m² (jz.jzsc.net/"
                                  "jingguanshejishuoming/96531.html) applies to standalone "
                                  "nurseries only"},
    "community_health_center": {"site_types": [], "basis": "district planning (上级规划统筹)"},
    "community_health_station": {"site_types": ANY_SITE, "basis": INDOOR_BASIS,
                                 "note": ("≥120 m² (完整居住社区建设指南) not verified ("
                                          + NOT_FOUND + ")")},
    "nursing_home": {"site_types": [], "basis": "district planning (上级规划统筹)"},
    "elderly_day_care": {"site_types": ANY_SITE, "basis": INDOOR_BASIS,
                         "note": "≥350 m² (完整居住社区建设指南) not verified (" + NOT_FOUND
                                 + "); a local rule per households, not per site: 已建成居住区 "
                                 "每百户不少于20 m² 社区养老服务设施 (银川市民政局 2023, "
                                 "yinchuan.gov.cn/xxgk/zcwd/bm/ycsmzj_71540/202310/"
                                 "t20231030_4331674.html)"},
    "community_canteen": {"site_types": ANY_SITE, "basis": INDOOR_BASIS},
    "community_service_station": {
        "site_types": ANY_SITE, "basis": INDOOR_BASIS,
        "min_area_m2": 600, "area_kind": "floor", "area_status": "secondary",
        "area_source": [
            "城市社区嵌入式服务设施建设导则（试行）(国家发展改革委、住房城乡建设部、自然资源部, "
            "2023): 社区嵌入式服务综合体（社区服务中心）建筑面积一般不应小于600 m², 有条件的不宜"
            "小于800 m² (hmhjcl.com/bigualu/93868.html)"],
        "note": "完整居住社区建设指南 '以800 m²为宜' not verified (" + NOT_FOUND + ")",
    },
    "culture_activity_station": {"site_types": ANY_SITE, "basis": INDOOR_BASIS},
    "culture_activity_center": {"site_types": ANY_SITE, "basis": INDOOR_BASIS},
    "small_sports_ground": {"site_types": OPEN_LAND, "basis": OPEN_LAND_BASIS,
                            "note": "完整居住社区建设指南 ≥800 m² 多功能运动场地 not verified ("
                                    + NOT_FOUND + ")"},
    "medium_sports_ground": {"site_types": OPEN_LAND, "basis": OPEN_LAND_BASIS},
    "large_sports_ground": {"site_types": [], "basis": "district planning (上级规划统筹)"},
    "outdoor_fitness": {
        "site_types": OPEN_LAND, "basis": OPEN_LAND_BASIS,
        "min_area_m2": 150, "area_kind": "site", "area_status": "verified",
        "area_source": ["完整居住社区 15-item list, item 14: 公共活动场地（面积不小于150平方米） "
                        "(GitHub sleeper012/Optimization-of-urban-facilities README)"],
    },
    "children_elderly_play": {"site_types": OPEN_LAND, "basis": OPEN_LAND_BASIS},
    "fresh_market": {"site_types": ANY_SITE, "basis": INDOOR_BASIS},
    "supermarket": {"site_types": ANY_SITE, "basis": INDOOR_BASIS,
                    "note": "≥300 m² (完整居住社区建设指南) not verified (" + NOT_FOUND
                            + ")"},
    "convenience_store": {"site_types": ANY_SITE, "basis": INDOOR_BASIS},
    "daily_services": {"site_types": ANY_SITE, "basis": INDOOR_BASIS},
    "parcel_delivery": {"site_types": ANY_SITE, "basis": INDOOR_BASIS + " or a wall outside",
                        "note": "sized by compartments (格口 = 1–1.3 × daily deliveries), no area"},
    "postal_express_station": {
        "site_types": ANY_SITE, "basis": INDOOR_BASIS,
        "min_area_m2": 15, "area_kind": "floor", "area_status": "secondary",
        "area_source": ["新建社区邮政快递末端综合服务站使用面积 ≥15 m² (a local rule for new "
                        "communities, cited at chinasuperbox.com/xw/hyzx/news_863.html)"],
    },
    "waste_collection_point": {"site_types": OPEN_LAND, "basis": OPEN_LAND_BASIS},
    "waste_collection_station": {"site_types": ANY_SITE, "basis": INDOOR_BASIS,
                                 "note": ("≥120 m² (完整居住社区建设指南) not verified ("
                                          + NOT_FOUND + ")")},
    "public_toilet": {"site_types": ANY_SITE, "basis": INDOOR_BASIS},
    "bus_stop": {"site_types": OPEN_LAND, "basis": OPEN_LAND_BASIS},
    "metro_station": {"site_types": OPEN_LAND, "basis": OPEN_LAND_BASIS},
    "bicycle_parking_charging": {"site_types": OPEN_LAND, "basis": OPEN_LAND_BASIS},
    "car_parking_charging": {"site_types": OPEN_LAND, "basis": OPEN_LAND_BASIS},
    "public_green_park": {
        "site_types": OPEN_LAND, "basis": OPEN_LAND_BASIS,
        "min_area_m2": 10000, "area_kind": "site", "area_status": "verified",
        "area_source": ["GB 50180-2018, 十分钟生活圈居住区: 居住区公园 ≥1.0 ha (中国大百科全书, "
                        "zgbk.com/ecph/words?ID=491601)"],
        "note": "社区游园 ≥4000 m² not verified (" + NOT_FOUND + ")",
    },
    "property_management": {"site_types": ANY_SITE, "basis": INDOOR_BASIS},
}


# --- issue 16 §1: the elevator retrofit of a walk-up (有条件的楼栋加装电梯) -----------------------
# The number and its sources live beside the rule (livingcircle.buildings.ELEVATOR_SOURCE); the
# profile records them, as it records the thresholds and speeds.
ELEVATOR_RETROFIT = {
    "min_floors": ELEVATOR_SOURCE["value"],
    "status": ELEVATOR_SOURCE["status"],
    "policy": ELEVATOR_SOURCE["policy"],
    "source": [ELEVATOR_SOURCE["source"]],
}


LEVEL_NAMES = {
    "15": ("十五分钟生活圈居住区", "15-minute living circle"),
    "10": ("十分钟生活圈居住区", "10-minute living circle"),
    "5": ("五分钟生活圈居住区", "5-minute living circle"),
    "block": ("居住街坊", "Residential block"),
}


def build(reference: Path) -> dict:
    ref = yaml.safe_load(reference.read_text(encoding="utf-8"))
    levels = {}
    for lv in ref["levels"]:
        key = str(lv["level"])
        walk = lv["walk_m"]
        zh, en = LEVEL_NAMES[key]
        entry = {
            "name_zh": zh,
            "name_en": en,
            "minutes": lv["minutes"],
            "walk_m": max(walk) if isinstance(walk, list) else walk,
            "population": lv.get("population"),
            "dwellings": lv.get("dwellings"),
            "status": lv.get("distance_status", lv.get("status")),
            "source": "GB 50180-2018",
        }
        if isinstance(walk, list):
            entry["walk_m_range"] = walk
        if key == "block":
            entry["walk_m"] = 150
            entry["status"] = "livingcircle default: GB 50180-2018 gives no block radius"
        levels[key] = entry
    categories = []
    for fac in ref["facilities"]:
        fid = fac["id"]
        level = str(fac["level"])
        req = fac.get("required") or {}
        threshold = fac.get("max_walk_m")
        if threshold is None:
            threshold = levels[level]["walk_m"]
            tstatus = "unverified"
        else:
            tstatus = THRESHOLD_STATUS[fid]
        src = fac.get("source") or ["GB 50180-2018 附录B/C"]
        if isinstance(src, str):
            src = [src]
        entry = {
            "id": fid,
            "name_zh": fac["name_zh"],
            "name_en": NAME_EN[fid],
            "level": level,
            "max_walk_m": threshold,
            "required": bool(req.get("gb50180")),
            "complete_community": bool(req.get("complete_community")),
            "threshold_status": tstatus,
            "status": fac.get("status", ""),
            "source": src,
            "renovation_category": fac.get("renovation_category"),
            "district_planning": fid in DISTRICT_PLANNING,
            "target": "attribute" if fid == "property_management" else "poi",
            "match": MATCH[fid],
        }
        if fid in DISTRICT_PLANNING:
            entry["district_planning_source"] = DISTRICT_PLANNING[fid]
        categories.append(entry)
        for new_id, split in SPLIT.items():
            if split.get("from", new_id) != fid:
                continue
            part = dict(entry, id=new_id, name_zh=split["name_zh"], name_en=NAME_EN[new_id],
                        renovation_category=split["renovation_category"],
                        status=split["status_prefix"] + entry["status"],
                        threshold_status=THRESHOLD_STATUS[new_id], match=MATCH[new_id])
            if new_id == fid:
                categories[-1] = part
            else:
                categories.append(part)
    return {
        "schema_version": 1,
        "name": "GB 50180-2018 + 完整居住社区建设指南 (livingcircle default)",
        "description": (
            "Default standard profile built from the project's facility-standards reference; "
            "every threshold keeps its verification status. Thresholds are walking distances "
            "along the network (服务半径)."
        ),
        "levels": levels,
        "categories": categories,
        "non_poi_items": ref.get("non_poi_items", []),
        "readiness": READINESS,
        "speeds": SPEEDS,
        "siting": {"site_types": SITE_TYPES, "categories": SITING},
        # the walk-up threshold of the building needs, with its sources (livingcircle.buildings)
        "elevator_retrofit": ELEVATOR_RETROFIT,
    }


def main(argv: list[str]) -> None:
    ref = Path(argv[1] if len(argv) > 1 else "../shared/reference/facility-standards.yaml")
    out = Path(__file__).resolve().parents[1] / "livingcircle" / "profiles" / "default.yaml"
    header = (
        "# livingcircle default standard profile. Generated by data/build_default_profile.py from\n"
        "# shared/reference/facility-standards.yaml; edit that script, not this file.\n"
        "# A city can copy this file, change thresholds or rules, and pass it as --profile.\n"
    )
    # a JSON round trip gives every shared list its own copy: no YAML anchors for a city to untangle
    data = json.loads(json.dumps(build(ref), ensure_ascii=False))
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    out.write_text(header + text, encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
