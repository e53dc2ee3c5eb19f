"""Standard profiles: living-circle levels, facility categories and POI classification rules.

A profile says what a complete living circle contains: the levels (5-, 10-, 15-minute circles and
the residential block) with their walking thresholds, every facility category with its level,
threshold, whether it is required, the standard that sets it and whether that number is verified,
and the rules that turn raw POIs (OSM tags, AMap type codes and type strings, Chinese names) into
categories. The default profile ships with the package (``profiles/default.yaml``); a city can pass
its own file.

A profile also holds the numbers the planning steps use beside the thresholds, each with its source
and status (verified / derived / secondary / unverified) as the thresholds have:

- ``speeds``: named walking speeds (adult, elderly, winter, elderly_winter, carer_with_child) for
  the time criterion, read with :meth:`Profile.speed`;
- ``readiness``: the preconditions of the annual plan (黑政办规〔2021〕15号 二(三)), kept apart from
  物业用房, which is premises and a need;
- ``siting``: which candidate-site types can hold a new facility of a category, and the smallest
  area it needs, judged by :func:`site_fit`.

A city profile that leaves out ``speeds``, ``readiness`` or ``siting`` gets the default profile's.

Examples
--------
>>> import livingcircle as lc
>>> profile = lc.load_profile()
>>> profile.category("kindergarten").max_walk_m
300.0
>>> "elderly_day_care" in lc.list_categories()["id"].tolist()
True
>>> profile.speed("elderly").m_per_min
48.0
>>> lc.site_fit(profile, "outdoor_fitness", "vacant_lot", 1000.0)
'fits'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
import pandas as pd
import yaml

from ._errors import ProfileError

LEVEL_KEYS = ("5", "10", "15", "block")
RENOVATION_CATEGORIES = ("基础", "完善", "提升")
THRESHOLD_STATUSES = ("verified", "secondary", "unverified")
#: Status of a walking speed: read in the source, computed from such numbers, or neither.
SPEED_STATUSES = ("verified", "derived", "unverified")
#: Status of a minimum area: as for thresholds (secondary = a superseded, local or related source).
AREA_STATUSES = THRESHOLD_STATUSES
#: What a minimum area measures: the floor area of rooms, or the area of the site (用地).
AREA_KINDS = ("floor", "site")
#: The answers of :func:`site_fit`, best first.
SITE_FITS = ("fits", "area_to_confirm", "too_small", "incompatible")
SiteFit = Literal["fits", "area_to_confirm", "too_small", "incompatible"]
_CATEGORY_KEYS = {
    "id", "name_zh", "name_en", "level", "max_walk_m", "required", "complete_community",
    "threshold_status", "status", "source", "renovation_category", "district_planning",
    "district_planning_source", "target", "match",
}
_SPEED_KEYS = {"name_zh", "name_en", "m_per_min", "m_per_s", "base", "extra_min_per_km",
               "status", "source", "note"}
_SITE_RULE_KEYS = {"site_types", "basis", "min_area_m2", "area_kind", "area_status",
                   "area_source", "note"}
_MATCH_KEYS = {"osm", "amap_typecodes", "amap_types", "name", "exclude_name"}


@dataclass(frozen=True)
class Level:
    """One level of the living circle (5/10/15 minutes or the residential block)."""

    key: str
    name_zh: str
    name_en: str
    minutes: float | None
    walk_m: float
    status: str = ""
    source: str = ""


@dataclass(frozen=True)
class Category:
    """A facility category of the standard, with its threshold and classification rules."""

    id: str
    name_zh: str
    name_en: str
    level: str
    max_walk_m: float
    required: bool
    complete_community: bool
    threshold_status: str
    status: str
    source: tuple[str, ...]
    renovation_category: str | None
    target: str
    district_planning: bool = False
    district_planning_source: str = ""
    osm: tuple[dict[str, Any], ...] = ()
    amap_typecodes: tuple[str, ...] = ()
    amap_types: tuple[str, ...] = ()
    name_pattern: re.Pattern | None = None
    exclude_name_pattern: re.Pattern | None = None

    @property
    def verified(self) -> bool:
        """Whether the threshold was read in a named public source."""
        return self.threshold_status == "verified"

    @property
    def source_text(self) -> str:
        """The sources as one line, for popups and reports."""
        return "; ".join(self.source)


@dataclass(frozen=True)
class SpeedProfile:
    """A named walking speed with its source and status.

    ``derivation`` says how a derived speed was computed (a base speed plus a walking-time
    penalty per kilometre); it is empty for a speed read in its source.
    """

    name: str
    name_zh: str
    name_en: str
    m_per_min: float
    status: str
    source: tuple[str, ...]
    note: str = ""
    derivation: str = ""

    @property
    def m_per_s(self) -> float:
        """The speed in metres per second."""
        return self.m_per_min / 60.0

    @property
    def verified(self) -> bool:
        """Whether the speed itself was read in a named public source."""
        return self.status == "verified"

    @property
    def source_text(self) -> str:
        """The sources as one line, for popups and reports."""
        return "; ".join(self.source)


@dataclass(frozen=True)
class Precondition:
    """A precondition of the annual plan (readiness), with the attributes that record it."""

    id: str
    name_zh: str
    name_en: str
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class SiteType:
    """A kind of candidate site (former boiler room, vacant lot, ground-floor shop...)."""

    id: str
    name_zh: str
    name_en: str
    kind: str


@dataclass(frozen=True)
class SiteRule:
    """Where a new facility of one category may go, and the smallest area it needs.

    ``site_types`` empty means no candidate site of a community can hold it (a facility planned
    by the district, 上级规划统筹). ``min_area_m2`` None means no sourced minimum: the planner
    confirms the area of any site proposed for it.
    """

    category: str
    site_types: tuple[str, ...]
    basis: str = ""
    min_area_m2: float | None = None
    area_kind: str | None = None
    area_status: str | None = None
    area_source: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Profile:
    """A standard profile: levels and categories (see the module docstring)."""

    name: str
    levels: dict[str, Level]
    categories: dict[str, Category]
    path: str = "default"
    description: str = ""
    non_poi_items: tuple[dict, ...] = field(default_factory=tuple)
    speeds: dict[str, SpeedProfile] = field(default_factory=dict)
    default_speed: str = "adult"
    preconditions: tuple[Precondition, ...] = ()
    readiness_source: str = ""
    premises_not_preconditions: dict[str, str] = field(default_factory=dict)
    site_types: dict[str, SiteType] = field(default_factory=dict)
    site_rules: dict[str, SiteRule] = field(default_factory=dict)

    def speed(self, name: str | None = None) -> SpeedProfile:
        """Return a named walking speed; None gives the profile's default speed.

        Parameters
        ----------
        name
            A key of :attr:`speeds` (``adult``, ``elderly``, ``winter``, ``elderly_winter``,
            ``carer_with_child`` in the default profile).

        Raises
        ------
        ProfileError
            For an unknown name; the message lists the valid names.

        Examples
        --------
        >>> import livingcircle as lc
        >>> round(lc.load_profile().speed("winter").m_per_min, 2)
        68.97
        """
        key = self.default_speed if name is None else name
        try:
            return self.speeds[key]
        except KeyError:
            msg = f"unknown speed profile {key!r}; valid speed profiles: {sorted(self.speeds)}"
            raise ProfileError(msg) from None

    def site_rule(self, category_id: str) -> SiteRule:
        """Return the siting rule of a category (checked against the categories).

        A category the profile's ``siting`` section leaves out may use any site type and has no
        sourced minimum area; a district-planning category may use none.
        """
        cat = self.category(category_id)
        if cat.district_planning:
            rule = self.site_rules.get(cat.id)
            return SiteRule(category=cat.id, site_types=(),
                            basis=rule.basis if rule else "district planning (上级规划统筹)",
                            min_area_m2=rule.min_area_m2 if rule else None,
                            area_kind=rule.area_kind if rule else None,
                            area_status=rule.area_status if rule else None,
                            area_source=rule.area_source if rule else (),
                            note=rule.note if rule else "")
        return self.site_rules.get(cat.id) or SiteRule(category=cat.id,
                                                         site_types=tuple(self.site_types))

    def siting_frame(self) -> pd.DataFrame:
        """Return the compatibility table of site types × categories.

        One row per category: one column per site type (True/False), then the minimum area with
        its kind, status and source, the basis of the compatibility and a note.
        """
        rows = []
        for cid in self.categories:
            rule = self.site_rule(cid)
            row: dict[str, Any] = {"id": cid, "district_planning": self.categories[cid]
                                   .district_planning}
            for t in self.site_types:
                row[t] = t in rule.site_types
            row.update(min_area_m2=rule.min_area_m2, area_kind=rule.area_kind,
                       area_status=rule.area_status, area_source="; ".join(rule.area_source),
                       basis=rule.basis, note=rule.note)
            rows.append(row)
        return pd.DataFrame(rows)

    def category(self, category_id: str) -> Category:
        """Return one category; an unknown id raises an error listing the valid ids."""
        try:
            return self.categories[category_id]
        except KeyError:
            msg = f"unknown category {category_id!r}; valid categories: {sorted(self.categories)}"
            raise ProfileError(msg) from None

    def poi_categories(self) -> list[Category]:
        """Categories measured by walking to a facility (all but attribute-only ones)."""
        return [c for c in self.categories.values() if c.target == "poi"]

    def categories_frame(self) -> pd.DataFrame:
        """All categories as a table (one row per category, in profile order)."""
        rows = []
        for c in self.categories.values():
            lv = self.levels[c.level]
            rows.append({
                "id": c.id,
                "name_zh": c.name_zh,
                "name_en": c.name_en,
                "level": c.level,
                "level_name_zh": lv.name_zh,
                "max_walk_m": c.max_walk_m,
                "level_minutes": lv.minutes,
                "required": c.required,
                "complete_community": c.complete_community,
                "threshold_status": c.threshold_status,
                "renovation_category": c.renovation_category,
                "district_planning": c.district_planning,
                "target": c.target,
                "source": c.source_text,
                "status": c.status,
            })
        return pd.DataFrame(rows)


def _fail(path: object, key: str, problem: str, fix: str = "") -> NoReturn:
    msg = f"{path}: key '{key}': {problem}"
    if fix:
        msg += f"; {fix}"
    raise ProfileError(msg)


def _compile(path, key, pattern):
    if pattern in (None, ""):
        return None
    try:
        return re.compile(str(pattern))
    except re.error as exc:
        _fail(path, key, f"invalid regular expression {pattern!r} ({exc})")


def _parse_level(path, key, raw) -> Level:
    where = f"levels.{key}"
    if key not in LEVEL_KEYS:
        _fail(path, where, "unknown level", f"use one of {list(LEVEL_KEYS)}")
    if not isinstance(raw, dict):
        _fail(path, where, "must be a mapping")
    walk = raw.get("walk_m")
    if not isinstance(walk, int | float) or walk <= 0:
        _fail(path, f"{where}.walk_m", f"must be a positive number of metres, got {walk!r}")
    minutes = raw.get("minutes")
    if minutes is not None and (not isinstance(minutes, int | float) or minutes <= 0):
        _fail(path, f"{where}.minutes", f"must be a positive number or null, got {minutes!r}")
    return Level(
        key=key,
        name_zh=str(raw.get("name_zh", key)),
        name_en=str(raw.get("name_en", key)),
        minutes=float(minutes) if minutes is not None else None,
        walk_m=float(walk),
        status=str(raw.get("status", "")),
        source=str(raw.get("source", "")),
    )


def _parse_osm_rules(path, key, rules) -> tuple[dict, ...]:
    if rules is None:
        return ()
    if not isinstance(rules, list):
        _fail(path, key, "must be a list of tag mappings, e.g. [{amenity: kindergarten}]")
    out = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or not rule:
            _fail(path, f"{key}[{i}]", "must be a non-empty mapping of OSM tag to value(s)")
        norm = {}
        for tag, val in rule.items():
            vals = val if isinstance(val, list) else [val]
            norm[str(tag)] = tuple(str(v) for v in vals)
        out.append(norm)
    return tuple(out)


def _parse_category(path, i, raw, levels) -> Category:
    where = f"categories[{i}]"
    if not isinstance(raw, dict):
        _fail(path, where, "must be a mapping")
    cid = raw.get("id")
    if not isinstance(cid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", cid):
        _fail(path, f"{where}.id", f"must be an ASCII snake_case id, got {cid!r}")
    where = f"categories[{i}] ({cid})"
    unknown = set(raw) - _CATEGORY_KEYS
    if unknown:
        _fail(path, f"{where}.{sorted(unknown)[0]}", "unknown key",
              f"valid keys: {sorted(_CATEGORY_KEYS)}")
    for req in ("name_zh", "level"):
        if req not in raw:
            _fail(path, f"{where}.{req}", "missing")
    level = str(raw["level"])
    if level not in levels:
        _fail(path, f"{where}.level", f"level {level!r} is not defined under 'levels'",
              f"defined levels: {sorted(levels)}")
    walk = raw.get("max_walk_m")
    if walk is None:
        walk = levels[level].walk_m
    if not isinstance(walk, int | float) or walk <= 0:
        _fail(path, f"{where}.max_walk_m", f"must be a positive number of metres, got {walk!r}")
    tstatus = raw.get("threshold_status", "unverified")
    if tstatus not in THRESHOLD_STATUSES:
        _fail(path, f"{where}.threshold_status", f"got {tstatus!r}",
              f"use one of {list(THRESHOLD_STATUSES)}")
    reno = raw.get("renovation_category")
    if reno is not None and reno not in RENOVATION_CATEGORIES:
        _fail(path, f"{where}.renovation_category", f"got {reno!r}",
              f"use one of {list(RENOVATION_CATEGORIES)} or null")
    target = raw.get("target", "poi")
    if target not in ("poi", "attribute"):
        _fail(path, f"{where}.target", f"got {target!r}", "use 'poi' or 'attribute'")
    match = raw.get("match") or {}
    if not isinstance(match, dict):
        _fail(path, f"{where}.match", "must be a mapping")
    unknown = set(match) - _MATCH_KEYS
    if unknown:
        _fail(path, f"{where}.match.{sorted(unknown)[0]}", "unknown key",
              f"valid keys: {sorted(_MATCH_KEYS)}")
    for k in ("amap_typecodes", "amap_types"):
        if k in match and not isinstance(match[k], list):
            _fail(path, f"{where}.match.{k}", "must be a list")
    codes = tuple(str(c) for c in match.get("amap_typecodes", []))
    for c in codes:
        if not re.fullmatch(r"\d{6}", c):
            _fail(path, f"{where}.match.amap_typecodes", f"{c!r} is not a 6-digit AMap code")
    source = raw.get("source") or []
    if isinstance(source, str):
        source = [source]
    for b in ("required", "complete_community", "district_planning"):
        if b in raw and not isinstance(raw[b], bool):
            _fail(path, f"{where}.{b}", f"must be true or false, got {raw[b]!r}")
    return Category(
        id=cid,
        name_zh=str(raw["name_zh"]),
        name_en=str(raw.get("name_en", cid)),
        level=level,
        max_walk_m=float(walk),
        required=bool(raw.get("required", False)),
        complete_community=bool(raw.get("complete_community", False)),
        threshold_status=tstatus,
        status=str(raw.get("status", "")),
        source=tuple(str(s) for s in source),
        renovation_category=reno,
        target=target,
        district_planning=bool(raw.get("district_planning", False)),
        district_planning_source=str(raw.get("district_planning_source", "")),
        osm=_parse_osm_rules(path, f"{where}.match.osm", match.get("osm")),
        amap_typecodes=codes,
        amap_types=tuple(str(t) for t in match.get("amap_types", [])),
        name_pattern=_compile(path, f"{where}.match.name", match.get("name")),
        exclude_name_pattern=_compile(path, f"{where}.match.exclude_name",
                                      match.get("exclude_name")),
    )


def _sources(path, key, raw) -> tuple[str, ...]:
    """Return a non-empty list of source texts (one string is accepted as a list of one)."""
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) and x.strip()
                                                        for x in raw):
        _fail(path, key, "missing or empty", "name the source of the number (a list of texts)")
    return tuple(raw)


def _positive(path, key, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        _fail(path, key, f"must be a positive number, got {value!r}")
    return float(value)


def _parse_speeds(path, raw) -> tuple[dict[str, SpeedProfile], str]:
    """Parse the ``speeds`` section: ``default`` and ``profiles`` (name -> speed)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("profiles"), dict) \
            or not raw["profiles"]:
        _fail(path, "speeds", "must be a mapping with a non-empty 'profiles' mapping")
    items = raw["profiles"]
    out: dict[str, SpeedProfile] = {}
    visiting: list[str] = []

    def one(name: str) -> SpeedProfile:
        if name in out:
            return out[name]
        where = f"speeds.profiles.{name}"
        if name in visiting:
            _fail(path, f"{where}.base", f"circular base: {' -> '.join([*visiting, name])}")
        sp = items[name]
        if not isinstance(sp, dict):
            _fail(path, where, "must be a mapping")
        unknown = set(sp) - _SPEED_KEYS
        if unknown:
            _fail(path, f"{where}.{sorted(unknown)[0]}", "unknown key",
                  f"valid keys: {sorted(_SPEED_KEYS)}")
        given = [k for k in ("m_per_min", "m_per_s", "base") if k in sp]
        if len(given) != 1:
            _fail(path, where, f"give exactly one of m_per_min, m_per_s or base, got {given}")
        status = sp.get("status")
        if status not in SPEED_STATUSES:
            _fail(path, f"{where}.status", f"got {status!r}", f"use one of {list(SPEED_STATUSES)}")
        source = _sources(path, f"{where}.source", sp.get("source"))
        derivation = ""
        if "base" in sp:
            base_name = sp["base"]
            if base_name not in items:
                _fail(path, f"{where}.base", f"unknown speed profile {base_name!r}",
                      f"defined: {sorted(items)}")
            extra = sp.get("extra_min_per_km", 0.0)
            if isinstance(extra, bool) or not isinstance(extra, int | float) or extra < 0:
                _fail(path, f"{where}.extra_min_per_km",
                      f"must be a number of minutes >= 0, got {extra!r}")
            visiting.append(name)
            base = one(base_name)
            visiting.pop()
            pace = 1000.0 / base.m_per_min + float(extra)  # minutes per km
            m_per_min = 1000.0 / pace
            derivation = (f"{base_name} {base.m_per_min:g} m/min = {1000.0 / base.m_per_min:.4g} "
                          f"min/km, + {float(extra):g} min/km = {pace:.4g} min/km")
        elif "m_per_s" in sp:
            m_per_min = _positive(path, f"{where}.m_per_s", sp["m_per_s"]) * 60.0
        else:
            m_per_min = _positive(path, f"{where}.m_per_min", sp["m_per_min"])
        out[name] = SpeedProfile(
            name=name, name_zh=str(sp.get("name_zh", name)), name_en=str(sp.get("name_en", name)),
            m_per_min=m_per_min, status=status, source=source, note=str(sp.get("note", "")),
            derivation=derivation)
        return out[name]

    for name in items:
        if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            _fail(path, f"speeds.profiles.{name}", "must be an ASCII snake_case name")
        one(name)
    default = raw.get("default", next(iter(items)))
    if default not in out:
        _fail(path, "speeds.default", f"unknown speed profile {default!r}",
              f"defined: {sorted(out)}")
    # keep the file's order
    return {n: out[n] for n in items}, default


def _parse_readiness(path, raw) -> tuple[tuple[Precondition, ...], str, dict[str, str]]:
    """Parse the ``readiness`` section: the preconditions and the premises kept apart."""
    if not isinstance(raw, dict) or not isinstance(raw.get("preconditions"), list):
        _fail(path, "readiness", "must be a mapping with a 'preconditions' list")
    out = []
    for i, pc in enumerate(raw["preconditions"]):
        where = f"readiness.preconditions[{i}]"
        if not isinstance(pc, dict) or not isinstance(pc.get("id"), str):
            _fail(path, where, "must be a mapping with an 'id'")
        attrs = pc.get("attributes")
        if not isinstance(attrs, list) or not attrs:
            _fail(path, f"{where}.attributes", "must list the community attributes that record it")
        out.append(Precondition(id=pc["id"], name_zh=str(pc.get("name_zh", pc["id"])),
                                name_en=str(pc.get("name_en", pc["id"])),
                                attributes=tuple(str(a) for a in attrs)))
    apart = raw.get("premises_not_preconditions") or {}
    if not isinstance(apart, dict):
        _fail(path, "readiness.premises_not_preconditions", "must be a mapping")
    return tuple(out), str(raw.get("source", "")), {str(k): str(v) for k, v in apart.items()}


def _parse_siting(path, raw, categories) -> tuple[dict[str, SiteType], dict[str, SiteRule]]:
    """Parse the ``siting`` section: site types, and per category its site types and area."""
    if not isinstance(raw, dict) or not isinstance(raw.get("site_types"), dict) \
            or not raw["site_types"]:
        _fail(path, "siting", "must be a mapping with a non-empty 'site_types' mapping")
    types = {}
    for tid, t in raw["site_types"].items():
        if not isinstance(t, dict):
            _fail(path, f"siting.site_types.{tid}", "must be a mapping")
        types[str(tid)] = SiteType(id=str(tid), name_zh=str(t.get("name_zh", tid)),
                                   name_en=str(t.get("name_en", tid)),
                                   kind=str(t.get("kind", "unknown")))
    rules = {}
    cats = raw.get("categories") or {}
    if not isinstance(cats, dict):
        _fail(path, "siting.categories", "must be a mapping of category id to its rule")
    for cid, r in cats.items():
        where = f"siting.categories.{cid}"
        if cid not in categories:
            _fail(path, where, f"unknown category {cid!r}",
                  f"valid categories: {sorted(categories)}")
        if not isinstance(r, dict):
            _fail(path, where, "must be a mapping")
        unknown = set(r) - _SITE_RULE_KEYS
        if unknown:
            _fail(path, f"{where}.{sorted(unknown)[0]}", "unknown key",
                  f"valid keys: {sorted(_SITE_RULE_KEYS)}")
        st = r.get("site_types", list(types))
        if not isinstance(st, list):
            _fail(path, f"{where}.site_types", "must be a list of site types")
        bad = [t for t in st if t not in types]
        if bad:
            _fail(path, f"{where}.site_types", f"unknown site type {bad[0]!r}",
                  f"defined under siting.site_types: {sorted(types)}")
        area = r.get("min_area_m2")
        kind = status = None
        source: tuple[str, ...] = ()
        if area is not None:
            area = _positive(path, f"{where}.min_area_m2", area)
            kind = r.get("area_kind")
            if kind not in AREA_KINDS:
                _fail(path, f"{where}.area_kind", f"got {kind!r}", f"use one of {list(AREA_KINDS)}")
            status = r.get("area_status")
            if status not in AREA_STATUSES:
                _fail(path, f"{where}.area_status", f"got {status!r}",
                      f"use one of {list(AREA_STATUSES)}")
            source = _sources(path, f"{where}.area_source", r.get("area_source"))
        rules[cid] = SiteRule(category=cid, site_types=tuple(st), basis=str(r.get("basis", "")),
                              min_area_m2=area, area_kind=kind, area_status=status,
                              area_source=source, note=str(r.get("note", "")))
    return types, rules


def _default_section(key: str):
    text = resources.files("livingcircle.profiles").joinpath("default.yaml").read_text(
        encoding="utf-8")
    return yaml.safe_load(text).get(key)


def load_profile(path: str | Path | None = None) -> Profile:
    """Load the default standard profile or a city's own YAML file.

    Parameters
    ----------
    path
        A YAML file in the layout of ``livingcircle/profiles/default.yaml``; None loads the default.

    Returns
    -------
    Profile

    Raises
    ------
    ProfileError
        When the file is missing, is not YAML, or a key is missing or wrong; the message names
        the file and the key.
    """
    raw, where = _read_profile_yaml(path)
    if not isinstance(raw, dict):
        _fail(where, "<top>", "the file must hold a mapping with 'levels' and 'categories'")
    if raw.get("schema_version", 1) != 1:
        _fail(where, "schema_version", f"unsupported version {raw.get('schema_version')!r}",
              "this livingcircle reads version 1")
    for key in ("levels", "categories"):
        if key not in raw:
            _fail(where, key, "missing")
    if not isinstance(raw["levels"], dict) or not raw["levels"]:
        _fail(where, "levels", "must be a non-empty mapping of level to its settings")
    levels = {str(k): _parse_level(where, str(k), v) for k, v in raw["levels"].items()}
    if not isinstance(raw["categories"], list) or not raw["categories"]:
        _fail(where, "categories", "must be a non-empty list")
    categories: dict[str, Category] = {}
    for i, c in enumerate(raw["categories"]):
        cat = _parse_category(where, i, c, levels)
        if cat.id in categories:
            _fail(where, f"categories[{i}].id", f"duplicate category id {cat.id!r}")
        categories[cat.id] = cat
    # sections a city profile may leave out come from the default profile
    sections = {k: raw[k] if k in raw else (None if path is None else _default_section(k))
                for k in ("speeds", "readiness", "siting")}
    for k, v in sections.items():
        if v is None:
            _fail(where, k, "missing")
    if "siting" not in raw:  # the default's rules for the categories this profile shares with it
        siting = sections["siting"] or {}  # (not None: checked above)
        sections["siting"] = dict(siting, categories={
            k: v for k, v in (siting.get("categories") or {}).items() if k in categories})
    speeds, default_speed = _parse_speeds(where, sections["speeds"])
    preconditions, readiness_source, apart = _parse_readiness(where, sections["readiness"])
    site_types, site_rules = _parse_siting(where, sections["siting"], categories)
    return Profile(
        name=str(raw.get("name", where)),
        levels=levels,
        categories=categories,
        path=where,
        description=str(raw.get("description", "")),
        non_poi_items=tuple(raw.get("non_poi_items") or ()),
        speeds=speeds,
        default_speed=default_speed,
        preconditions=preconditions,
        readiness_source=readiness_source,
        premises_not_preconditions=apart,
        site_types=site_types,
        site_rules=site_rules,
    )


def _read_profile_yaml(path: str | Path | None) -> tuple[Any, str]:
    """Return the parsed YAML of a profile file (None: the default) and how messages name it."""
    if path is None:
        text = resources.files("livingcircle.profiles").joinpath("default.yaml").read_text(
            encoding="utf-8")
        where = "default profile"
    else:
        p = Path(path)
        if not p.is_file():
            msg = f"{p}: profile file not found; pass the path of a YAML profile"
            raise ProfileError(msg)
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            msg = f"{p}: not a YAML text file (not UTF-8 text); save the profile as UTF-8 YAML"
            raise ProfileError(msg) from None
        where = str(p)
    try:
        return yaml.safe_load(text), where
    except yaml.YAMLError as exc:
        msg = f"{where}: not valid YAML ({exc})"
        raise ProfileError(msg) from None


def list_categories(profile: Profile | str | Path | None = None) -> pd.DataFrame:
    """Return the categories of a profile as a table (id, names, level, threshold, status...)."""
    return as_profile(profile).categories_frame()


def as_profile(profile: Profile | str | Path | None) -> Profile:
    """Return ``profile`` itself, or the profile it names.

    Parameters
    ----------
    profile
        A :class:`Profile`, a profile file or a built-in profile's name, or None for the
        default profile (as :func:`load_profile`).

    Returns
    -------
    Profile
    """
    if isinstance(profile, Profile):
        return profile
    return load_profile(profile)


def site_fit(profile: Profile, category: str, site_type: str,
             area_m2: float | None) -> SiteFit:
    """Judge whether a candidate site can hold a new facility of a category.

    Parameters
    ----------
    profile
        The standard profile; its ``siting`` section holds the compatible site types and the
        smallest area of each category, with their sources.
    category
        A category id of the profile.
    site_type
        A site type of the profile (``boiler_room``, ``vacant_lot``, ``ground_floor_shop``,
        ``public_building``, ``other`` in the default profile).
    area_m2
        The site's recorded area in m² (floor area of a building, lot area of a vacant lot);
        None or NaN when unknown.

    Returns
    -------
    str
        ``"incompatible"``: the site type cannot hold the category, or the category is planned by
        the district (``district_planning``) and never goes on a community's site;
        ``"area_to_confirm"``: compatible, but the area is unknown or the category has no sourced
        minimum, so the planner confirms it (rank such sites below those that fit);
        ``"too_small"``: compatible but smaller than the minimum;
        ``"fits"``: compatible and at least the minimum.

    Raises
    ------
    ProfileError
        For an unknown category or site type (the message lists the valid ones), or a negative
        area.

    Examples
    --------
    >>> import livingcircle as lc
    >>> p = lc.load_profile()
    >>> lc.site_fit(p, "junior_high_school", "ground_floor_shop", 80.0)
    'incompatible'
    >>> lc.site_fit(p, "postal_express_station", "ground_floor_shop", 12.0)
    'too_small'
    >>> lc.site_fit(p, "elderly_day_care", "boiler_room", 430.0)
    'area_to_confirm'
    """
    rule = profile.site_rule(category)
    if site_type not in profile.site_types:
        msg = (f"unknown site type {site_type!r}; valid site types: {sorted(profile.site_types)}"
               f" (profile {profile.path}, siting.site_types)")
        raise ProfileError(msg)
    if site_type not in rule.site_types:
        return "incompatible"
    if area_m2 is None or (isinstance(area_m2, float) and np.isnan(area_m2)):
        return "area_to_confirm"
    area = float(area_m2)
    if area < 0:
        msg = f"site area must be >= 0 m², got {area_m2!r}"
        raise ProfileError(msg)
    if rule.min_area_m2 is None:
        return "area_to_confirm"
    return "fits" if area >= rule.min_area_m2 else "too_small"


# --- POI classification -------------------------------------------------------------------

def _tag_value(row_tags: dict, tag: str):
    v = row_tags.get(tag)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return str(v)


def _osm_rule_matches(rule: dict, tags: dict) -> bool:
    for tag, values in rule.items():
        v = _tag_value(tags, tag)
        if v is None:
            return False
        if "*" in values:
            continue
        if v not in values and not any(part in values for part in v.split(";")):
            return False
    return True


def classify_poi(
    tags: dict | None = None,
    *,
    name: str | None = None,
    amap_typecode: str | None = None,
    amap_type: str | None = None,
    profile: Profile | None = None,
) -> list[str]:
    """Return the categories (ids, in profile order) that one POI belongs to.

    A POI matches a category by any of its OSM tag sets, AMap type codes, AMap type-string
    prefixes or name pattern, unless the category's exclusion pattern matches the name.
    A POI may serve several categories (a community centre is also a culture station).
    """
    profile = profile or load_profile()
    tags = tags or {}
    name = name if isinstance(name, str) else ""
    codes = [c.strip() for c in str(amap_typecode or "").split("|") if c.strip()]
    types = [t.strip() for t in str(amap_type or "").split("|") if t.strip()]
    out = []
    for cat in profile.categories.values():
        hit = (
            any(_osm_rule_matches(r, tags) for r in cat.osm)
            or any(c in cat.amap_typecodes for c in codes)
            or any(t.startswith(p) for t in types for p in cat.amap_types)
            or (cat.name_pattern is not None and name and cat.name_pattern.search(name))
        )
        if hit and cat.exclude_name_pattern is not None and name:
            if cat.exclude_name_pattern.search(name):
                hit = False
        if hit:
            out.append(cat.id)
    return out


def classify_facilities(
    pois: pd.DataFrame,
    *,
    profile: Profile | None = None,
    name_col: str = "name",
) -> pd.DataFrame:
    """Add ``category`` (first match) and ``categories`` (all, ';'-joined) to a POI frame.

    OSM tags are read from same-named columns (as pyrosm and osmnx return them) and from a
    ``tags`` column holding a dict or JSON text; AMap fields from ``typecode`` and ``type``.
    A row that already has a non-empty ``category`` keeps it (checked against the profile).
    Rows that match no category get an empty ``categories`` and ``category`` = None; the caller
    reports them in the diagnostics. Returns a new frame; the input is not changed.
    """
    import json

    profile = profile or load_profile()
    tag_names = sorted({t for c in profile.categories.values() for r in c.osm for t in r})
    present = [t for t in tag_names if t in pois.columns]
    has_tags_col = "tags" in pois.columns
    cats_out, first_out = [], []
    cols = [c for c in {*present, "tags", name_col, "typecode", "type", "category"}
            if c in pois.columns]
    for row in pd.DataFrame(pois[cols]).to_dict("records"):
        g = row.get("category")
        if isinstance(g, str) and g.strip():
            ids = [s.strip() for s in g.replace(",", ";").split(";") if s.strip()]
            cats_out.append(";".join(ids))
            first_out.append(ids[0])
            continue
        tags = {t: row[t] for t in present}
        if has_tags_col:
            extra = row["tags"]
            if isinstance(extra, str) and extra.strip().startswith("{"):
                try:
                    extra = json.loads(extra)
                except ValueError:
                    extra = None
            if isinstance(extra, dict):
                for k, v in extra.items():
                    tags.setdefault(k, v)
        cats = classify_poi(
            tags,
            name=row.get(name_col),
            amap_typecode=row.get("typecode"),
            amap_type=row.get("type"),
            profile=profile,
        )
        cats_out.append(";".join(cats))
        first_out.append(cats[0] if cats else None)
    out = pois.copy()
    out["category"] = first_out
    out["categories"] = cats_out
    return out
