"""Build livingcircle/profiles/default.yaml from ../shared/reference/facility-standards.yaml.

The reference file is the project's record of every number with its source and verification
status; this script copies those facts and adds what the tool needs to use them: English names,
a three-valued threshold status, and POI classification rules in a structured form (the reference
states them as prose). Run from the repository root::

    python data/build_default_profile.py ../shared/reference/facility-standards.yaml

and commit the regenerated YAML. The output is deterministic.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

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
    "parcel_delivery": "Parcel lockers / delivery service point",
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
    "parcel_delivery": {
        "osm": [{"amenity": ["parcel_locker", "post_office"]}],
        "amap_typecodes": ["070500", "070400"], "amap_types": ["生活服务;物流速递"],
        "name": "驿站|丰巢|快递柜|蜂巢|收寄|快递超市|邮政",
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
        categories.append({
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
            "target": "attribute" if fid == "property_management" else "poi",
            "match": MATCH[fid],
        })
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
    }


def main(argv: list[str]) -> None:
    ref = Path(argv[1] if len(argv) > 1 else "../shared/reference/facility-standards.yaml")
    out = Path(__file__).resolve().parents[1] / "livingcircle" / "profiles" / "default.yaml"
    header = (
        "# livingcircle default standard profile. Generated by data/build_default_profile.py from\n"
        "# shared/reference/facility-standards.yaml; edit that script, not this file.\n"
        "# A city can copy this file, change thresholds or rules, and pass it as --profile.\n"
    )
    text = yaml.safe_dump(build(ref), allow_unicode=True, sort_keys=False, width=100)
    out.write_text(header + text, encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
