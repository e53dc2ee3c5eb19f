"""The profile's planning numbers of issue 16 §2–4: the parcel split, district planning,
readiness, named walking speeds and site fit, each number with its source and status."""

import math

import geopandas as gpd
import pandas as pd
import pytest
import yaml
from conftest import SHARED_REFERENCE, need

import livingcircle as lc
from livingcircle.renovation import PRECONDITIONS
from livingcircle.standards import (
    AREA_STATUSES,
    SITE_FITS,
    SPEED_STATUSES,
    THRESHOLD_STATUSES,
    load_profile,
    site_fit,
)

DISTRICT = {"primary_school", "junior_high_school", "nursing_home", "community_health_center",
            "large_sports_ground"}


@pytest.fixture(scope="module")
def profile():
    return load_profile()


@pytest.fixture(scope="module")
def sites():
    return gpd.read_file(lc.sample_paths()["sites"]).set_index("site_id")


def _default_raw():
    from importlib import resources

    return yaml.safe_load(resources.files("livingcircle.profiles").joinpath("default.yaml")
                          .read_text(encoding="utf-8"))


def _write(tmp_path, data, name="city.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return p


# --- the profile's own check: every number has a source and a status ----------------------------

def test_every_number_has_source_and_status(profile):
    for c in profile.categories.values():
        assert c.threshold_status in THRESHOLD_STATUSES, c.id
        assert c.source and all(s.strip() for s in c.source), c.id
        assert c.status.strip(), c.id
        if c.district_planning:
            assert c.district_planning_source.strip(), c.id
    assert set(profile.speeds) == {"adult", "elderly", "winter", "elderly_winter",
                                   "carer_with_child"}
    for sp in profile.speeds.values():
        assert sp.status in SPEED_STATUSES, sp.name
        assert sp.source and all(s.strip() for s in sp.source), sp.name
        # a derived speed says how; a speed read in a source has nothing to derive
        assert bool(sp.derivation) == (sp.status == "derived"), sp.name
    for cid in profile.categories:
        rule = profile.site_rule(cid)
        assert rule.basis.strip(), cid
        if rule.min_area_m2 is not None:
            assert rule.area_status in AREA_STATUSES, cid
            assert rule.area_kind in ("floor", "site"), cid
            assert rule.area_source and all(s.strip() for s in rule.area_source), cid
    assert profile.readiness_source.strip()


# --- §2: rules that slipped -------------------------------------------------------------------

def test_parcel_lockers_and_station_are_split_by_the_policy(profile):
    """黑政办规〔2021〕15号 三(二) 完善类: '物流快递箱'; 三(三) 提升类: '邮政快递末端综合服务站'."""
    policy = SHARED_REFERENCE / "policy-heilongjiang-2021-15.txt"
    need("shared/reference beside the repository", policy.is_file(), f"{policy} not found")
    text = "".join(policy.read_text(encoding="utf-8").split())
    improve = text[text.index("（二）完善类"):text.index("（三）提升类")]
    upgrade = text[text.index("（三）提升类"):text.index("四、完善组织实施机制")]
    assert "物流快递箱" in improve and "邮政快递末端综合服务站" not in improve
    assert "邮政快递末端综合服务站" in upgrade
    lockers = profile.category("parcel_delivery")
    station = profile.category("postal_express_station")
    assert (lockers.name_zh, lockers.renovation_category) == ("智能快件箱、智能信包箱", "完善")
    assert (station.name_zh, station.renovation_category) == ("邮政快递末端综合服务站", "提升")
    # both keep the reference's level and threshold of the merged entry
    assert (lockers.level, lockers.max_walk_m) == (station.level, station.max_walk_m) == (
        "block", 150.0)


def test_sample_amap_delivery_pois_split_by_name():
    """The sample's AMap file files lockers and 驿站 under one type; the names tell them apart."""
    raw = pd.read_csv(lc.sample_paths()["amap_csv"], dtype={"类型编码": str})
    pois = raw.rename(columns={"名称": "name", "类型": "type", "类型编码": "typecode"})
    out = lc.classify_facilities(pois)
    lockers = out["name"].str.startswith("丰巢快递柜")
    stations = out["name"].str.startswith("菜鸟驿站")
    assert lockers.sum() > 0 and stations.sum() > 0
    assert (out.loc[lockers, "categories"] == "parcel_delivery").all()
    assert (out.loc[stations, "categories"] == "postal_express_station").all()
    delivery = out["type"].str.startswith("生活服务;物流速递")
    assert (lockers | stations)[delivery].all()  # every delivery POI of the file is one of them


def test_district_planning_categories(profile, sites):
    """Schools and district-level facilities: gaps for 上级规划统筹, never on a community's site."""
    flagged = {c.id for c in profile.categories.values() if c.district_planning}
    assert flagged == DISTRICT
    for cid in DISTRICT:
        assert profile.site_rule(cid).site_types == ()
        for s in sites.itertuples():
            assert site_fit(profile, cid, s.site_type, s.floor_area_m2) == "incompatible"
    # the case: a 初中 in the sample's 80 m² shop, 养老院 in its 160 m² shops
    assert sites.loc["S22", ["site_type", "floor_area_m2"]].tolist() == ["ground_floor_shop", 80.0]
    assert site_fit(profile, "junior_high_school", "ground_floor_shop", 80.0) == "incompatible"
    assert site_fit(profile, "nursing_home", "ground_floor_shop", 160.0) == "incompatible"
    assert "district_planning" in profile.categories_frame().columns


def test_readiness_keeps_premises_apart(profile):
    """二(三): 居民出资、业主委员会（物业管理委员会）组建、改造后物业管理模式确定 are
    preconditions; 物业用房 (三(二) 完善类) is premises, a need."""
    ids = [p.id for p in profile.preconditions]
    assert ids == ["resident_funding", "committee", "management_mode"]
    assert ids == list(PRECONDITIONS)  # the ones renovation.annual_plan checks
    attrs = {a for p in profile.preconditions for a in p.attributes}
    assert attrs == {"resident_funding", "owners_committee", "property_committee",
                     "management_mode"}
    assert "property_management" not in ids
    assert "物业用房" in profile.premises_not_preconditions["property_management"]
    assert profile.category("property_management").renovation_category == "完善"
    assert "二(三)" in profile.readiness_source


# --- §3: named walking speeds -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "m_per_min", "status"),
    [
        ("adult", 80.0, "unverified"),                            # 4.8 km/h planning default
        ("elderly", 0.8 * 60, "verified"),                        # Asher et al. 2012: 0.8 m/s
        ("winter", 1000 / (1000 / 80 + 2.0), "derived"),          # 12.5 + 2 = 14.5 min/km
        ("elderly_winter", 1000 / (1000 / 48 + 2.0), "derived"),  # 20.83 + 2 = 22.83 min/km
        ("carer_with_child", 0.88 * 60, "verified"),              # Varela-Martínez et al. 2024
    ],
)
def test_named_speeds(profile, name, m_per_min, status):
    sp = profile.speed(name)
    assert sp.m_per_min == pytest.approx(m_per_min, rel=1e-12)
    assert sp.m_per_s == pytest.approx(m_per_min / 60, rel=1e-12)
    assert sp.status == status
    assert sp.verified == (status == "verified")


def test_speed_values_hand_worked(profile):
    assert round(profile.speed("winter").m_per_min, 2) == 68.97
    assert round(profile.speed("elderly_winter").m_per_min, 2) == 43.80
    assert profile.speed().name == "adult"  # the default
    # ice slows every walker; the elderly on ice are the slowest of the five
    slowest = min(profile.speeds.values(), key=lambda s: s.m_per_min)
    assert slowest.name == "elderly_winter"
    assert profile.speed("winter").m_per_min < profile.speed("adult").m_per_min
    assert "doi:10.1016/j.trd.2021.102934" in profile.speed("winter").source_text
    assert "doi:10.1093/ageing/afs076" in profile.speed("elderly").source_text


def test_unknown_speed_lists_valid_names(profile):
    with pytest.raises(lc.ProfileError, match=r"unknown speed profile 'child'.*carer_with_child"):
        profile.speed("child")


def test_city_profile_changes_a_speed_and_the_derived_ones_follow(tmp_path):
    raw = _default_raw()
    raw["speeds"]["profiles"]["elderly"].update(m_per_s=0.9, source=["Asher et al. 2012, men"])
    raw["speeds"]["profiles"]["winter"]["extra_min_per_km"] = 1.0  # well-kept winter pavements
    p = load_profile(_write(tmp_path, raw))
    assert p.speed("elderly").m_per_min == pytest.approx(54.0)
    assert p.speed("elderly_winter").m_per_min == pytest.approx(1000 / (1000 / 54 + 2.0))
    assert p.speed("winter").m_per_min == pytest.approx(1000 / 13.5)


def test_city_profile_without_the_new_sections_gets_the_defaults(tmp_path):
    raw = _default_raw()
    for k in ("speeds", "readiness", "siting"):
        raw.pop(k)
    p = load_profile(_write(tmp_path, raw))
    assert p.speed("elderly").m_per_min == 48.0
    assert site_fit(p, "outdoor_fitness", "vacant_lot", 150.0) == "fits"
    assert [c.id for c in p.preconditions] == list(PRECONDITIONS)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d["speeds"]["profiles"]["elderly"].pop("source"),
         r"speeds\.profiles\.elderly\.source': missing or empty"),
        (lambda d: d["speeds"]["profiles"]["elderly"].update(status="maybe"),
         r"speeds\.profiles\.elderly\.status'.*derived"),
        (lambda d: d["speeds"]["profiles"]["elderly"].update(m_per_s=-1),
         r"speeds\.profiles\.elderly\.m_per_s': must be a positive number"),
        (lambda d: d["speeds"]["profiles"]["elderly"].update(m_per_min=48),
         r"give exactly one of m_per_min, m_per_s or base"),
        (lambda d: d["speeds"]["profiles"]["adult"].update(base="winter", m_per_min=None)
         or d["speeds"]["profiles"]["adult"].pop("m_per_min"), r"circular base"),
        (lambda d: d["speeds"].update(default="fast"), r"speeds\.default': unknown speed"),
        (lambda d: d["siting"]["categories"]["kindergarten"].update(site_types=["garage"]),
         r"siting\.categories\.kindergarten\.site_types': unknown site type 'garage'"),
        (lambda d: d["siting"]["categories"]["kindergarten"].pop("area_source"),
         r"kindergarten\.area_source': missing or empty"),
        (lambda d: d["siting"]["categories"]["kindergarten"].update(area_status="sure"),
         r"kindergarten\.area_status'"),
        (lambda d: d["siting"]["categories"].update(school={"site_types": []}),
         r"siting\.categories\.school': unknown category 'school'"),
    ],
)
def test_bad_new_sections_name_the_key(tmp_path, mutate, match):
    raw = _default_raw()
    mutate(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(lc.ProfileError, match=match) as exc:
        load_profile(path)
    assert str(path) in str(exc.value)


# --- §4: which sites can hold a category ------------------------------------------------------

@pytest.mark.parametrize(
    ("category", "site_id", "expected"),
    [
        # kindergarten: standalone site (vacant lot) of >= 1500 m² (GB 50180-93 4班)
        ("kindergarten", "S05", "fits"),          # vacant lot 2500 m²
        ("kindergarten", "S06", "too_small"),     # vacant lot 1000 m²
        ("kindergarten", "S01", "incompatible"),  # boiler room
        # 公共活动场地 >= 150 m², open land only
        ("outdoor_fitness", "S06", "fits"),
        ("outdoor_fitness", "S18", "incompatible"),  # public building
        # 居住区公园 >= 1.0 ha: no vacant lot of the sample is large enough
        ("public_green_park", "S05", "too_small"),
        # 社区服务中心 >= 600 m² floor
        ("community_service_station", "S18", "fits"),       # public building 700 m²
        ("community_service_station", "S08", "too_small"),  # shop 160 m²
        ("community_service_station", "S17", "area_to_confirm"),  # public building, area unknown
        # 末端综合服务站 >= 15 m²
        ("postal_express_station", "S22", "fits"),  # shop 80 m²
        ("postal_express_station", "S04", "area_to_confirm"),  # boiler room, area unknown
        # no sourced minimum: the planner confirms the area even of a large site
        ("elderly_day_care", "S18", "area_to_confirm"),
        ("parcel_delivery", "S22", "area_to_confirm"),
        ("small_sports_ground", "S05", "area_to_confirm"),
        ("small_sports_ground", "S02", "incompatible"),  # a ground needs open land
    ],
)
def test_site_fit_on_sample_sites(profile, sites, category, site_id, expected):
    s = sites.loc[site_id]
    assert site_fit(profile, category, s["site_type"], s["floor_area_m2"]) == expected


def test_site_fit_boundaries_and_unknown_area(profile):
    assert site_fit(profile, "outdoor_fitness", "vacant_lot", 150.0) == "fits"
    assert site_fit(profile, "outdoor_fitness", "vacant_lot", 149.99) == "too_small"
    assert site_fit(profile, "outdoor_fitness", "vacant_lot", None) == "area_to_confirm"
    assert site_fit(profile, "outdoor_fitness", "vacant_lot", math.nan) == "area_to_confirm"
    assert site_fit(profile, "outdoor_fitness", "vacant_lot", 0) == "too_small"
    assert set(SITE_FITS) == {"fits", "area_to_confirm", "too_small", "incompatible"}


def test_site_fit_table_of_the_sample(profile, sites):
    """Every sample site against every category: the verdicts the siting would see."""
    verdicts = pd.DataFrame(
        {cid: [site_fit(profile, cid, s.site_type, s.floor_area_m2) for s in sites.itertuples()]
         for cid in profile.categories}, index=sites.index)
    counts = verdicts.stack().value_counts()
    # hand count over 25 sites (8 boiler rooms, 5 vacant lots, 8 shops, 4 public buildings; the
    # area of S04 and S17 unknown) and 32 categories:
    # incompatible: 5 district categories everywhere; 10 open-land categories and the
    # kindergarten on the 20 sites that are not vacant lots
    assert counts["incompatible"] == 5 * 25 + 11 * 20
    assert verdicts.loc["S22"].eq("incompatible").sum() == 5 + 11
    # fits: outdoor_fitness on the 5 lots (>= 1000 m²); kindergarten on 3 lots (2500, 2100,
    # 2400 m²); service centre (>= 600 m²) on 3 public buildings (700, 750, 700) and the 5 lots;
    # the station (>= 15 m²) on the 23 sites with a known area
    assert counts["fits"] == 5 + 3 + (3 + 5) + 23
    # too small: kindergarten on 2 lots (1000, 1200); the park on all 5 lots; the service centre
    # on the 15 other sites with a known area (boiler rooms 350–530 m², shops 80–350 m²)
    assert counts["too_small"] == 2 + 5 + 15
    assert counts["area_to_confirm"] == 32 * 25 - (345 + 39 + 22)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("kindergarten", "garage", 100.0), r"unknown site type 'garage'.*boiler_room"),
        (("school", "vacant_lot", 100.0), r"unknown category 'school'"),
        (("kindergarten", "vacant_lot", -5.0), r"site area must be >= 0"),
    ],
)
def test_site_fit_errors(profile, args, match):
    with pytest.raises(lc.ProfileError, match=match):
        site_fit(profile, *args)


def test_city_profile_changes_siting(tmp_path, sites):
    raw = _default_raw()
    rules = raw["siting"]["categories"]
    rules["community_service_station"]["min_area_m2"] = 800  # 完整居住社区建设指南 '以800 m²为宜'
    rules["community_service_station"]["area_source"] = ["city rule"]
    rules["elderly_day_care"].update(min_area_m2=350, area_kind="floor", area_status="unverified",
                                     area_source=["city rule"])
    p = load_profile(_write(tmp_path, raw))
    assert site_fit(p, "community_service_station", "public_building", 700.0) == "too_small"
    assert site_fit(p, "community_service_station", "public_building", 800.0) == "fits"
    assert site_fit(p, "elderly_day_care", "boiler_room", 430.0) == "fits"
    assert site_fit(p, "elderly_day_care", "ground_floor_shop", 160.0) == "too_small"


def test_city_categories_without_siting_section(tmp_path):
    """A city's own category list without 'siting': shared ids keep the default rule, a new
    category may use any site and has no sourced minimum."""
    raw = _default_raw()
    kg = next(c for c in raw["categories"] if c["id"] == "kindergarten")
    rink = dict(kg, id="ice_rink", name_zh="冰场", renovation_category="完善")
    raw["categories"] = [kg, rink]
    raw.pop("siting")
    p = load_profile(_write(tmp_path, raw))
    assert site_fit(p, "kindergarten", "boiler_room", 2000.0) == "incompatible"
    assert site_fit(p, "kindergarten", "vacant_lot", 1499.0) == "too_small"
    assert site_fit(p, "ice_rink", "boiler_room", 2000.0) == "area_to_confirm"
    assert p.site_rule("ice_rink").site_types == tuple(p.site_types)
