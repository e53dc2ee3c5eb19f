"""Standard profiles: living-circle levels, facility categories and POI classification rules.

A profile says what a complete living circle contains: the levels (5-, 10-, 15-minute circles and
the residential block) with their walking thresholds, every facility category with its level,
threshold, whether it is required, the standard that sets it and whether that number is verified,
and the rules that turn raw POIs (OSM tags, AMap type codes and type strings, Chinese names) into
categories. The default profile ships with the package (``profiles/default.yaml``); a city can pass
its own file.

Examples
--------
>>> import livingcircle as lc
>>> profile = lc.load_profile()
>>> profile.category("kindergarten").max_walk_m
300.0
>>> "elderly_day_care" in lc.list_categories()["id"].tolist()
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ._errors import ProfileError

LEVEL_KEYS = ("5", "10", "15", "block")
RENOVATION_CATEGORIES = ("基础", "完善", "提升")
THRESHOLD_STATUSES = ("verified", "secondary", "unverified")
_CATEGORY_KEYS = {
    "id", "name_zh", "name_en", "level", "max_walk_m", "required", "complete_community",
    "threshold_status", "status", "source", "renovation_category", "target", "match",
}
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
class Profile:
    """A standard profile: levels and categories (see the module docstring)."""

    name: str
    levels: dict[str, Level]
    categories: dict[str, Category]
    path: str = "default"
    description: str = ""
    non_poi_items: tuple[dict, ...] = field(default_factory=tuple)

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
                "target": c.target,
                "source": c.source_text,
                "status": c.status,
            })
        return pd.DataFrame(rows)


def _fail(path, key, problem, fix=""):
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
    for b in ("required", "complete_community"):
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
        osm=_parse_osm_rules(path, f"{where}.match.osm", match.get("osm")),
        amap_typecodes=codes,
        amap_types=tuple(str(t) for t in match.get("amap_types", [])),
        name_pattern=_compile(path, f"{where}.match.name", match.get("name")),
        exclude_name_pattern=_compile(path, f"{where}.match.exclude_name",
                                      match.get("exclude_name")),
    )


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
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        msg = f"{where}: not valid YAML ({exc})"
        raise ProfileError(msg) from None
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
    return Profile(
        name=str(raw.get("name", where)),
        levels=levels,
        categories=categories,
        path=where,
        description=str(raw.get("description", "")),
        non_poi_items=tuple(raw.get("non_poi_items") or ()),
    )


def list_categories(profile: Profile | str | Path | None = None) -> pd.DataFrame:
    """Return the categories of a profile as a table (id, names, level, threshold, status...)."""
    return _as_profile(profile).categories_frame()


def _as_profile(profile) -> Profile:
    if isinstance(profile, Profile):
        return profile
    return load_profile(profile)


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
