"""Renovation scope, needs and the annual plan under 黑政办规〔2021〕15号.

Three steps, each a function that returns a new table:

:func:`renovation_scope`
    Eligibility by the policy's 二(一): built up to the end of the year limit (2000 by default,
    :data:`livingcircle.settings.renovation_year_limit`); built later but appraised safety grade C;
    units without their own kitchen or bathroom (非成套). Unknown attributes that could change the
    outcome give 'unknown', never a guess.
:func:`renovation_needs`
    For every in-scope community, the needs grouped as 基础类 (应改尽改), 完善类 (宜改即改) and
    提升类 (能改则改) — the policy's 三 — each with what triggers it: a facility the standard
    requires but the community lacks (:func:`livingcircle.gaps.find_gaps`), or an attribute.
:func:`annual_plan`
    Ranks in-scope communities by need and by the preconditions of 二(三) (居民出资, 业主委员会 or
    物业管理委员会, 改造后物业管理模式) and fills a target of communities or households.

The policy says an in-scope community is one that 需改造; whether it does is the planner's call,
so ``in_scope='yes'`` means eligible, not decided.

Scope
-----
Grade D (危房): 二(一) names grade C only (“对 2000 年后建成并被鉴定为安全 C 级住宅楼……可以
一并纳入改造范围”); a dangerous building needs an appraisal and a decision beyond ordinary
renovation. A grade D community is therefore never silently in (or out of) scope by its
build year: ``in_scope`` is 'unknown' (as :func:`livingcircle.buildings.building_scope` does
for a building), the first reason is ``grade_d_danger`` followed by the criteria that hold,
``grade_d`` is True and ``note_zh``/``note_en`` carry :data:`GRADE_D_NOTE_ZH`.

Location (二(一) “城市、县城、原农垦、森工系统二级机构所在地”), only when the layer has a
``location_type`` column (:data:`LOCATION_TYPES`; :func:`scope_rules_applied` says whether
it was applied): a value outside the list → out (``location_not_eligible``, first reason);
an empty cell → a community the other rules put in becomes 'unknown'
(``unknown_location_type``); no column → the rule is not applied. ``location_type`` (the
area's location, ``--location-type``) stands for every community whose own cell is empty
or that has no column; a community's own value wins.

Needs
-----
:func:`renovation_needs` names the trigger of every row:

- ``missing_facility``: a category of :func:`livingcircle.gaps.find_gaps` not met (missing or
  not reached) → the category's ``renovation_category`` of the profile. Categories without a
  renovation category (e.g. bus stops, public toilets in the default profile) stay in the gap
  table and are not renovation items.
- ``over_capacity``: with ``capacity`` (the result of
  :func:`livingcircle.capacity.capacity_access`), a category that is within reach but whose
  capacity_status is 'over_capacity' → the category's renovation category, as for a missing
  facility (a full kindergarten is a gap too).
- ``policy_default`` (trigger_attribute build_year): built up to ``year_limit`` → the 基础类
  items every old community is assessed for (utilities, facade insulation, roof waterproofing).
- ``attribute``: safety grade C → 基础 building_safety; complete_units False → 基础
  unit_completion (both read from 基础类's "安全需要和基本生活需求"; an interpretation);
  floors ≥ ``min_floors_elevator`` without elevator → 完善 elevator_retrofit; elderly_share ≥
  ``elderly_share_threshold`` → 完善 barrier_free (适老设施/无障碍); no property premises
  (``property_premises`` False) → 完善 property_management (物业用房, 三(二)). The governance
  attributes (owners_committee, property_committee, management_mode) never trigger it: they
  are the annual plan's preconditions (二(三)), read by :func:`annual_plan`.

Categories with ``district_planning: true`` in the profile (小学, 初中, 养老院,
社区卫生服务中心, large sports grounds) are living-circle gaps but never a community's
renovation need: they are planned by the district (上级规划统筹) and listed by
:func:`district_planning_items`.

A heritage community (heritage True) gets the protection requirement of 四(三)4 on every item.
An attribute that is unknown never triggers a need: the item is listed with
``assessment='unknown'`` and the detail says which attribute to survey.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Mapping

import pandas as pd
from pandas.api.typing import NAType

from . import settings
from ._errors import InputError, LivingCircleWarning, advice
from .schema import is_yes, labels_zh, parse_yes_no
from .standards import Profile

logger = logging.getLogger(__name__)

#: Priority wording of the policy's 三 for each renovation class.
PRIORITY_ZH = {"基础": "应改尽改", "完善": "宜改即改", "提升": "能改则改"}
CLASS_ZH = {"基础": "基础类", "完善": "完善类", "提升": "提升类"}
CLASS_ORDER = ("基础", "完善", "提升")
#: Default weights of a need of each class in the plan's need score (基础 counts most).
DEFAULT_CLASS_WEIGHTS = {"基础": 3.0, "完善": 2.0, "提升": 1.0}
#: Buildings with this many floors or more and no elevator need an elevator retrofit.
MIN_FLOORS_ELEVATOR = 4
#: management_mode values that mean "no property management".
NO_MANAGEMENT = frozenset({"无", "无物业", "无物业管理", "none", "no", "无管理"})

PROTECTION_ZH = (
    "涉及历史文化街区、不可移动文物、历史建筑：严格落实保护修缮要求，延续城市特色与历史文脉"
    "（黑政办规〔2021〕15号 四(三)4）"
)

#: The policy line of the location rule (二(一)), quoted in its reasons.
LOCATION_POLICY_ZH = (
    "黑政办规〔2021〕15号 二(一)：“城市、县城、原农垦、森工系统二级机构所在地，2000 年底前建成"
    "需改造的老旧小区或单栋住宅楼。”")
#: The locations the policy lists (二(一)) and the cell values read as each (compared after
#: stripping spaces, case-insensitively). Any other non-empty value is outside the list.
LOCATION_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "city": ("城市", ("城市", "市", "市区", "城区", "city")),
    "county_town": ("县城", ("县城", "县城区", "county_town", "county town")),
    "state_farm": ("原农垦系统二级机构所在地", ("原农垦", "农垦", "原农垦系统二级机构所在地",
                                             "农垦系统二级机构所在地", "state_farm")),
    "forestry": ("森工系统二级机构所在地", ("森工", "原森工", "森工系统二级机构所在地",
                                          "forestry")),
}
#: The note every grade D community and building carries (:mod:`livingcircle.buildings` uses it).
GRADE_D_NOTE_ZH = (
    "危房（安全鉴定D级）：须经房屋安全鉴定，由主管部门决定解危、加固或拆除重建等处置，超出一般"
    "老旧小区改造的范围；是否纳入改造须另行决定，不能仅凭建成年份纳入"
)
GRADE_D_NOTE_EN = (
    "dangerous building (safety grade D): needs an appraisal and a decision by the authority "
    "(make safe, strengthen or rebuild) beyond ordinary renovation; never in scope by its "
    "build year alone"
)
#: Why grade D is not a ground of the policy: the line it reads (二(一) names grade C only).
GRADE_D_POLICY = (
    "黑政办规〔2021〕15号 二(一)：“对 2000 年后建成并被鉴定为安全 C 级住宅楼……可以一并纳入改造"
    "范围。”— grade C only; grade D is a dangerous building (JGJ 125-2016 危险房屋鉴定标准)"
)
#: The line that makes 物业用房 a 完善类 need (三(二)), and the one that makes the committee and
#: management mode preconditions of the annual plan (二(三)), not needs.
PREMISES_POLICY_ZH = (
    "黑政办规〔2021〕15号 三(二)：完善类“主要包括……文化休闲设施、体育健身设施、物业用房等配套"
    "设施”")
GOVERNANCE_POLICY_ZH = (
    "黑政办规〔2021〕15号 二(三)：“将居民出资、业主委员会（物业管理委员会）组建、改造后物业管理模式"
    "确定等作为纳入年度改造计划的前提条件”")

#: Items triggered by attributes: id -> (class, Chinese name).
ATTRIBUTE_ITEMS = {
    "utilities": ("基础", "小区内部及与小区联系的供水、排水、供电、供气、供热、道路、消防、安防、"
                          "生活垃圾分类、移动通信、广电等基础设施"),
    "facade_insulation": ("基础", "建筑物公共部位外墙保温及粉刷"),
    "roof_waterproofing": ("基础", "屋面保温及防水"),
    "building_safety": ("基础", "房屋安全隐患整治（安全鉴定C级）"),
    "unit_completion": ("基础", "非成套住宅改造（增设独立厨房、卫生间）"),
    "elevator_retrofit": ("完善", "有条件的楼栋加装电梯"),
    "barrier_free": ("完善", "完善小区适老设施、无障碍设施"),
    "property_management": ("完善", "物业用房"),
    "heritage_protection": ("基础", "历史文化保护要求"),
}

PRECONDITIONS = {
    "resident_funding": ("居民出资", "resident funding"),
    "committee": ("业主委员会或物业管理委员会", "owners' or property management committee"),
    "management_mode": ("改造后物业管理模式", "post-renovation management mode"),
}

#: Chinese headers of the plan table (the layer contract, :data:`schema.LAYERS`).
PLAN_LABELS_ZH = labels_zh("plan")
READINESS_ZH = {"ready": "齐备", "not_ready": "未满足", "unknown": "未核实"}


# --- three-valued attribute readers -------------------------------------------------------------

def _is_missing(v) -> bool:
    if v is None or v is pd.NA:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def bool_or_none(v: object, column: str, cid: str) -> bool | None:
    """Return True/False, or None when the value is unknown (:func:`schema.parse_yes_no`)."""
    return parse_yes_no(v, where=f"communities column {column!r}, community {cid!r}")


def _number_or_none(v, column: str, cid: str) -> float | None:
    if _is_missing(v):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        msg = f"communities column {column!r}, community {cid!r}: {v!r} is not a number"
        raise InputError(msg) from None


def _grade_or_none(v, cid: str) -> str | None:
    if _is_missing(v):
        return None
    s = str(v).strip().upper().replace("级", "")
    if s == "":
        return None
    if s not in ("A", "B", "C", "D"):
        msg = (
            f"communities column 'safety_grade', community {cid!r}: {v!r} is not a safety grade; "
            "use A, B, C or D (or leave it empty when unknown)"
        )
        raise InputError(msg)
    return s


def _get(row: Mapping, column: str):
    return row.get(column, None)


def _ids(communities: pd.DataFrame) -> list[str]:
    if "community_id" not in communities.columns:
        msg = f"communities lacks column 'community_id'; it has {list(communities.columns)}"
        raise InputError(msg)
    ids = communities["community_id"].astype(str).tolist()
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            msg = f"communities has duplicated community_id {i!r}; ids must be unique"
            raise InputError(msg)
        seen.add(i)
    return ids


def _records(communities: pd.DataFrame) -> list[dict]:
    ids = _ids(communities)
    recs = communities.drop(columns="geometry", errors="ignore").to_dict("records")
    for r, i in zip(recs, ids, strict=True):
        r["community_id"] = i
    return recs


# --- scope --------------------------------------------------------------------------------------

def renovation_scope(
    communities: pd.DataFrame,
    *,
    year_limit: int | None = None,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    location_type: str | None = None,
) -> pd.DataFrame:
    """Decide which communities are in renovation scope (黑政办规〔2021〕15号 二(一)).

    Rules, in three-valued logic (an unknown attribute is unknown, never a guess):

    - built up to the end of ``year_limit`` → in (``built_before_<year_limit+1>``);
    - appraised safety grade C → in (``safety_grade_c``; the policy names buildings built after
      the limit, and an older building is in anyway);
    - units without their own kitchen or bathroom (``complete_units`` False) → in
      (``non_complete_units``);
    - none of these true and all three known → out; otherwise → 'unknown', with the unknown
      attributes named (``unknown_build_year``, ``unknown_safety_grade``,
      ``unknown_complete_units``).

    Grade D (危房) and the location list (二(一)): see the module docstring ("Scope").

    Local lists override the rules: ``exclude`` → out
    (``local_exclude``), ``include`` → in (``local_include``). Some cities extend the year limit
    (e.g. to 2005): pass ``year_limit`` or set ``settings.renovation_year_limit``.

    Parameters
    ----------
    communities
        community_id and, when known, build_year, safety_grade, complete_units,
        location_type.
    year_limit
        Last year of construction in scope; None takes ``settings.renovation_year_limit``.
    include, exclude
        Community ids added to or removed from scope by local decision.
    location_type
        The study area's location (:func:`check_location_type`), for the communities whose own
        ``location_type`` is empty; None: an empty cell is unknown.

    Returns
    -------
    pandas.DataFrame
        community_id, in_scope ('yes' | 'no' | 'unknown'), reasons (';'-joined codes),
        reasons_zh, grade_d (bool), note_zh, note_en (the grade D note, else empty),
        year_limit; in the order of ``communities``.
    """
    limit = settings.renovation_year_limit if year_limit is None else int(year_limit)
    recs = _records(communities)
    inc, exc = _local_lists(include, exclude, {r["community_id"] for r in recs})
    area = check_location_type(location_type)
    has_location = "location_type" in communities.columns or area is not None
    out = []
    for r in recs:
        cid = r["community_id"]
        grade_d = _grade_or_none(_get(r, "safety_grade"), cid) == "D"
        loc = _location(r, area) if has_location else ("n/a", None)
        status, reasons = _scope_verdict(_scope_criteria(r, cid, limit), grade_d, loc,
                                         local="exclude" if cid in exc else
                                         "include" if cid in inc else None)
        out.append({
            "community_id": cid,
            "in_scope": status,
            "reasons": ";".join(c for c, _ in reasons),
            "reasons_zh": "；".join(z for _, z in reasons),
            "grade_d": grade_d,
            "note_zh": GRADE_D_NOTE_ZH if grade_d else "",
            "note_en": GRADE_D_NOTE_EN if grade_d else "",
            "year_limit": limit,
        })
    result = pd.DataFrame(out, columns=["community_id", "in_scope", "reasons", "reasons_zh",
                                        "grade_d", "note_zh", "note_en", "year_limit"])
    result["grade_d"] = result["grade_d"].astype(bool)
    logger.info("renovation scope: %s", result["in_scope"].value_counts().to_dict())
    return result


def _local_lists(include, exclude, known: set[str]) -> tuple[set[str], set[str]]:
    """Check the local include/exclude lists: an id in both is an error, an unknown one warned."""
    inc = {str(i) for i in include or ()}
    exc = {str(i) for i in exclude or ()}
    both = sorted(inc & exc)
    if both:
        msg = f"communities {both} are both in include and exclude; keep each in one list"
        raise InputError(msg)
    stray = sorted((inc | exc) - known)
    if stray:
        warnings.warn(f"include/exclude name communities not in the layer: {stray}",
                      LivingCircleWarning, stacklevel=3)
    return inc, exc


def _scope_verdict(criteria, grade_d: bool, loc: tuple, *, local: str | None):
    """Decide one community's scope; return (status, [(code, Chinese), ...]).

    From its criteria (held, not held, unknown), its grade D, its location verdict and a local
    decision ('include', 'exclude' or None). The order of the rules, and of the reasons, is the
    one :func:`renovation_scope` documents.
    """
    yes, no, unk = criteria
    d_reason = [("grade_d_danger", "安全鉴定D级（危房）")] if grade_d else []
    if local == "exclude":
        return "no", [("local_exclude", "地方决定不纳入"), *d_reason]
    if local == "include":
        return "yes", [*d_reason, *yes, ("local_include", "地方决定纳入")]
    if loc[0] == "no":
        return "no", [loc[1], *d_reason, *yes, *no, *unk]
    if grade_d:
        # 二(一) names grade C only: a dangerous building is decided beyond this policy
        return "unknown", [*d_reason, *yes, *no, *unk]
    if yes and loc[0] == "unknown":
        return "unknown", [*yes, loc[1]]
    if yes:
        return "yes", yes
    if unk:
        return "unknown", [*no, *unk, *([loc[1]] if loc[0] == "unknown" else [])]
    return "no", no


def _scope_criteria(r: Mapping, cid: str, limit: int):
    """Return the policy's scope criteria that a community meets, does not meet, and cannot tell.

    Build year up to ``limit``, safety grade C, or units without their own kitchen and
    bathroom (黑政办规〔2021〕15号 二(一)); each a (code, Chinese text) pair.
    """
    year = _number_or_none(_get(r, "build_year"), "build_year", cid)
    grade = _grade_or_none(_get(r, "safety_grade"), cid)
    units = bool_or_none(_get(r, "complete_units"), "complete_units", cid)
    yes: list[tuple[str, str]] = []
    no: list[tuple[str, str]] = []
    unk: list[tuple[str, str]] = []
    if year is None:
        unk.append(("unknown_build_year", "建成年份未知"))
    elif year <= limit:
        yes.append((f"built_before_{limit + 1}", f"{limit}年底前建成（{year:.0f}年）"))
    else:
        no.append((f"built_after_{limit}", f"{limit}年后建成（{year:.0f}年）"))
    if grade is None:
        unk.append(("unknown_safety_grade", "安全鉴定等级未知"))
    elif grade == "C":
        yes.append(("safety_grade_c", "安全鉴定C级"))
    elif grade == "D":
        pass  # grade_d_danger, decided by renovation_scope (never a silent yes or no)
    else:
        no.append((f"safety_grade_{grade.lower()}", f"安全鉴定{grade}级"))
    if units is None:
        unk.append(("unknown_complete_units", "是否成套住宅未知"))
    elif units is False:
        yes.append(("non_complete_units", "无独立厨房、卫生间（非成套住宅）"))
    else:
        no.append(("complete_units", "成套住宅"))
    return yes, no, unk


def _empty(v) -> bool:
    return _is_missing(v) or str(v).strip() == ""


def _location(r: Mapping, area: str | None = None) -> tuple[str, tuple[str, str] | None]:
    """Judge a community's ``location_type`` against the policy's list (二(一)).

    Returns ('yes', None) for a listed location, ('no', reason) for a value outside the list,
    ('unknown', reason) for an empty cell. ``area`` (the study area's location) stands for an
    empty cell; the reason then says the value is the area's.
    """
    v = _get(r, "location_type")
    from_area = _empty(v) and area is not None
    if from_area:
        v = area
    if _empty(v):
        return "unknown", ("unknown_location_type",
                           "所在地类型未知（是否城市、县城、原农垦、森工系统二级机构所在地，需核实）")
    key = str(v).strip().lower()
    for _code, (_zh, words) in LOCATION_TYPES.items():
        if key in {w.lower() for w in words}:
            return "yes", None
    listed = "、".join(zh for zh, _ in LOCATION_TYPES.values())
    whose = "（片区设定 --location-type）" if from_area else ""
    return "no", ("location_not_eligible",
                  f"所在地类型“{v}”{whose}不在政策所列范围（{listed}）；{LOCATION_POLICY_ZH}")


#: The values ``--location-type`` accepts: the policy's locations (二(一)) and ``other``.
LOCATION_OPTION_VALUES = (*LOCATION_TYPES, "other")


def check_location_type(value: str | None) -> str | None:
    """Check the study area's location type (``--location-type``) and return it, or None.

    Parameters
    ----------
    value
        ``city``, ``county_town``, ``state_farm``, ``forestry`` (the locations 二(一) lists),
        ``other`` (outside the list: the area's communities are not eligible), a word of
        :data:`LOCATION_TYPES` (城市, 县城, 原农垦, 森工 …), or None / empty (no area value).

    Returns
    -------
    str or None
        The value as given (stripped), or None.

    Raises
    ------
    InputError
        For any other value, naming the option and the accepted values.
    """
    if value is None or str(value).strip() == "":
        return None
    v = str(value).strip()
    if v.lower() == "other" or location_type_code(v) != "other":
        return v
    name = advice("location_type", "--location-type", "location_type")
    msg = (f"{name} {value!r} is not a location of 二(一); use one of "
           f"{', '.join(LOCATION_OPTION_VALUES)} (or 城市, 县城, 原农垦, 森工)")
    raise InputError(msg)


def community_locations(communities: pd.DataFrame,
                        location_type: str | None = None) -> dict[str, tuple]:
    """Return each community's location verdict (二(一)), or {} when the rule is not applied.

    Parameters
    ----------
    communities
        community_id and, when known, location_type.
    location_type
        The area's location for the communities whose own cell is empty
        (:func:`check_location_type`).

    Returns
    -------
    dict
        community_id → ('yes'|'no'|'unknown', (code, Chinese reason) or None); empty when the
        layer has no ``location_type`` column and no area value is given.
    """
    area = check_location_type(location_type)
    if "location_type" not in communities.columns and area is None:
        return {}
    return {r["community_id"]: _location(r, area) for r in _records(communities)}


def apply_location(status: str, codes: list[str], texts: list[str],
                   location: tuple) -> tuple[str, list[str], list[str]]:
    """Apply a community's location verdict to a scope judged without it (e.g. by its buildings).

    A location outside 二(一)'s list → 'no' with ``location_not_eligible`` first; an unknown
    location turns a 'yes' into 'unknown' (``unknown_location_type`` added); a listed location
    changes nothing. The same order as :func:`renovation_scope`.

    Parameters
    ----------
    status
        'yes', 'no' or 'unknown'.
    codes, texts
        The reason codes and their Chinese texts (lists of any lengths).
    location
        A verdict of :func:`community_locations`.

    Returns
    -------
    tuple
        (status, codes, texts) after the location rule.
    """
    verdict, reason = location
    if verdict == "no":
        return "no", [reason[0], *codes], [reason[1], *texts]
    if verdict == "unknown" and status == "yes":
        return "unknown", [*codes, reason[0]], [*texts, reason[1]]
    return status, codes, texts


def location_type_code(value) -> str | None:
    """Return the policy location a ``location_type`` cell names.

    ``city``, ``county_town``, ``state_farm`` or ``forestry`` (:data:`LOCATION_TYPES`);
    ``'other'`` for a value outside the list; None for an empty cell.
    """
    verdict, _ = _location({"location_type": value})
    if verdict == "unknown":
        return None
    key = str(value).strip().lower()
    for code, (_zh, words) in LOCATION_TYPES.items():
        if key in {w.lower() for w in words}:
            return code
    return "other"


def scope_rules_applied(communities: pd.DataFrame,
                        location_type: str | None = None) -> dict[str, dict[str, str]]:
    """Say which optional rules of :func:`renovation_scope` were applied, and why not.

    The location rule (二(一) 城市、县城、原农垦、森工系统二级机构所在地) needs a
    ``location_type`` column; without one it is not applied, and the run's metadata and report
    say so instead of passing over it in silence.

    Parameters
    ----------
    communities
        The communities layer the scope was judged on.
    location_type
        The area's location given to :func:`renovation_scope` (``--location-type``), if any.

    Returns
    -------
    dict
        ``{"location_eligibility": {"applied": "yes"|"no", "zh": ..., "en": ...}}``, with
        ``area_value`` when an area value was given.
    """
    area = check_location_type(location_type)
    if area is not None:
        own = ("location_type" in communities.columns
               and bool(communities["location_type"].map(lambda v: not _empty(v)).any()))
        loc = {"applied": "yes", "area_value": area,
               "zh": f"已核对二(一)所列地域：片区所在地类型设为“{area}”（--location-type），"
                     "用于所在地类型为空的小区" + ("；小区自身填写的所在地类型优先" if own else ""),
               "en": f"location eligibility (二(一)) checked with the area's location type "
                     f"'{area}' (--location-type) for communities whose own location_type is "
                     "empty" + ("; a community's own value wins" if own else "")}
    elif "location_type" in communities.columns:
        loc = {"applied": "yes",
               "zh": "已按所在地类型（location_type）核对二(一)所列地域：城市、县城、原农垦、"
                     "森工系统二级机构所在地；其他所在地不纳入（location_not_eligible），空值为未知",
               "en": "location eligibility checked from location_type (二(一): city, county "
                     "town, former state-farm or forestry second-level seat); other locations "
                     "out of scope, empty cells unknown"}
    else:
        loc = {"applied": "no",
               "zh": "小区图层无所在地类型（location_type）列：未核对二(一)所列地域（城市、县城、"
                     "原农垦、森工系统二级机构所在地），默认全部小区位于所列地域",
               "en": "no location_type column: the location rule of 二(一) (city, county town, "
                     "former state-farm or forestry seat) was not applied; every community is "
                     "taken to lie in a listed location"}
    return {"location_eligibility": loc}


# --- needs --------------------------------------------------------------------------------------

def _facility_detail(g) -> str:
    dist = g.get("distance_m")
    crit = g.get("criterion", "distance")
    cid = g["category"]
    thr_min = g.get("threshold_min")
    if crit == "time" and not _is_missing(thr_min):
        nearest = ("none reached within the search cutoff" if _is_missing(g.get("time_min"))
                   else f"nearest {float(g['time_min']):.1f} min")
        return (f"{cid} not within {float(thr_min):g} min at {g.get('speed_profile')} speed "
                f"({nearest})")
    nearest = ("none reached within the search cutoff" if _is_missing(dist)
               else f"nearest {float(dist):.0f} m")
    return f"{cid} not within {float(g['threshold_m']):g} m ({nearest})"


def renovation_needs(
    communities: pd.DataFrame,
    gaps: pd.DataFrame | None,
    scope: pd.DataFrame,
    profile: Profile,
    *,
    year_limit: int | None = None,
    elderly_share_threshold: float | None = None,
    min_floors_elevator: int = MIN_FLOORS_ELEVATOR,
    capacity: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """List the renovation needs of every in-scope community, with what triggers each.

    The triggers (``missing_facility``, ``over_capacity``, ``policy_default``, ``attribute``),
    the district-planning categories that are never a need, the heritage protection requirement
    and the unknown attributes are described in the module docstring ("Needs").

    Parameters
    ----------
    communities
        community_id and the attributes above (missing = unknown).
    gaps
        The result of :func:`livingcircle.gaps.find_gaps`, or None to use attributes only.
    scope
        The result of :func:`renovation_scope`; only communities with in_scope 'yes' are listed.
    profile
        Gives categories their names and renovation category.
    year_limit
        As in :func:`renovation_scope`; None takes the scope table's year_limit (or the setting).
    elderly_share_threshold
        Share of residents aged 60+ (0–1) from which 适老/无障碍 is a need; default
        :data:`livingcircle.settings.elderly_share_threshold` (where its source is given).
    min_floors_elevator
        Floors from which a building without elevator needs an elevator retrofit.
    capacity
        Optional result of :func:`livingcircle.capacity.capacity_access`.

    Returns
    -------
    pandas.DataFrame
        community_id, renovation_class ('基础' | '完善' | '提升'), renovation_class_zh,
        priority_zh ('应改尽改' | '宜改即改' | '能改则改'), item_id, item_zh, trigger
        ('missing_facility' | 'over_capacity' | 'attribute' | 'policy_default'),
        trigger_attribute, trigger_detail, trigger_detail_zh, required (facility items: required
        by the standard), assessment ('need' | 'unknown'), protection_requirement ('' when not a
        heritage community).
    """
    year_limit, elderly_share_threshold = _needs_settings(scope, year_limit,
                                                         elderly_share_threshold)
    in_scope, recs = _in_scope_records(communities, scope)
    gap_rows = _rows_by_community(gaps, ("community_id", "category", "met"), "gaps",
                                  "find_gaps", keep=lambda t: ~t["met"].astype(bool))
    full_rows = _rows_by_community(
        capacity, ("community_id", "category", "capacity_status"), "capacity",
        "capacity_access", keep=lambda t: t["capacity_status"] == "over_capacity")
    prop_class, prop_name = _premises_item(profile)
    rows: list[dict] = []
    for cid in in_scope:
        r = recs[cid]
        needs = _Needs(cid)
        _building_needs(needs, r, year_limit)
        _elevator_need(needs, r, min_floors_elevator)
        _elderly_need(needs, r, elderly_share_threshold)
        _premises_need(needs, r, prop_class, prop_name)
        _facility_needs(needs, gap_rows.get(cid, []), full_rows.get(cid, []), profile)
        _heritage_protection(needs, r)
        rows.extend(needs.items)
    return _needs_table(rows, in_scope)


def _needs_settings(scope: pd.DataFrame, year_limit, elderly_share_threshold):
    """Check the scope table; return the year limit and the elderly share threshold to use."""
    for col in ("community_id", "in_scope"):
        if col not in scope.columns:
            msg = f"scope table lacks column {col!r}; pass the result of renovation_scope()"
            raise InputError(msg)
    if year_limit is None:
        if "year_limit" in scope.columns and len(scope):
            year_limit = int(scope["year_limit"].iloc[0])
        else:
            year_limit = settings.renovation_year_limit
    if elderly_share_threshold is None:
        elderly_share_threshold = settings.elderly_share_threshold
    return year_limit, elderly_share_threshold


def _in_scope_records(communities: pd.DataFrame, scope: pd.DataFrame):
    """Return the in-scope community ids and every community's record (by id)."""
    in_scope = scope.loc[is_yes(scope["in_scope"]), "community_id"].astype(str).tolist()
    recs = {r["community_id"]: r for r in _records(communities)}
    stray = [c for c in in_scope if c not in recs]
    if stray:
        msg = f"scope names communities not in the communities layer: {stray[:5]}"
        raise InputError(msg)
    return in_scope, recs


def _premises_item(profile: Profile) -> tuple[str, str]:
    """Return the renovation class and Chinese name of 物业用房 (the profile's, else the list's)."""
    prop_cat = profile.categories.get("property_management")
    prop_name = prop_cat.name_zh if prop_cat is not None else ATTRIBUTE_ITEMS[
        "property_management"][1]
    prop_class = (prop_cat.renovation_category if prop_cat is not None
                  and prop_cat.renovation_category else "完善")
    return prop_class, prop_name


def _heritage_protection(needs: _Needs, r: Mapping) -> None:
    """Give every item of a heritage community the protection requirement (四(三)4)."""
    heritage = bool_or_none(_get(r, "heritage"), "heritage", needs.cid)
    if heritage is None:
        needs.attr_item("heritage_protection", "attribute", "heritage", "heritage unknown",
                        "是否涉及历史文化保护未知，需调查", "unknown")
    protection = PROTECTION_ZH if heritage else ""
    for it in needs.items:
        it["protection_requirement"] = protection


class _Needs:
    """The need items of one community, in the order they are found."""

    def __init__(self, cid: str) -> None:
        self.cid = cid
        self.items: list[dict] = []

    def add(self, item_id, cls, name, trigger, attr, detail, detail_zh, assessment="need",
            required: bool | NAType = pd.NA) -> None:
        self.items.append({
            "community_id": self.cid, "renovation_class": cls,
            "renovation_class_zh": CLASS_ZH[cls], "priority_zh": PRIORITY_ZH[cls],
            "item_id": item_id, "item_zh": name, "trigger": trigger,
            "trigger_attribute": attr, "trigger_detail": detail,
            "trigger_detail_zh": detail_zh, "required": required, "assessment": assessment,
        })

    def attr_item(self, item_id, trigger, attr, detail, detail_zh, assessment="need") -> None:
        cls, name = ATTRIBUTE_ITEMS[item_id]
        self.add(item_id, cls, name, trigger, attr, detail, detail_zh, assessment)


def _rows_by_community(table: pd.DataFrame | None, columns, what: str, maker: str,
                       keep) -> dict[str, list[dict]]:
    """Rows of ``table`` kept by ``keep``, as records grouped by community id ({} for None)."""
    out: dict[str, list[dict]] = {}
    if table is None:
        return out
    for col in columns:
        if col not in table.columns:
            msg = f"{what} table lacks column {col!r}; pass the result of {maker}()"
            raise InputError(msg)
    kept = table[keep(table)]
    # the records of to_dict("records") (the same values and Python types), column by column:
    # to_dict boxes every cell on its own
    cols = {c: kept[c].tolist() for c in kept.columns}
    for values in zip(*cols.values(), strict=True):
        g = dict(zip(cols, values, strict=True))
        out.setdefault(str(g["community_id"]), []).append(g)
    return out


def _building_needs(needs: _Needs, r: Mapping, year_limit: int) -> None:
    """Add the 基础类 items of the build year, the safety grade and the units' completeness."""
    cid = needs.cid
    # build year: the 基础类 items every old community is assessed for
    year = _number_or_none(_get(r, "build_year"), "build_year", cid)
    basic_defaults = ("utilities", "facade_insulation", "roof_waterproofing")
    if year is None:
        for it in basic_defaults:
            needs.attr_item(it, "policy_default", "build_year", "build_year unknown",
                            "建成年份未知，需调查", "unknown")
    elif year <= year_limit:
        for it in basic_defaults:
            needs.attr_item(it, "policy_default", "build_year",
                            f"build_year={year:.0f} <= {year_limit}",
                            f"{year:.0f}年建成（{year_limit}年底前），基础类应改尽改")
    grade = _grade_or_none(_get(r, "safety_grade"), cid)
    if grade == "C":
        needs.attr_item("building_safety", "attribute", "safety_grade", "safety_grade=C",
                        "安全鉴定C级")
    units = bool_or_none(_get(r, "complete_units"), "complete_units", cid)
    if units is False:
        needs.attr_item("unit_completion", "attribute", "complete_units",
                        "complete_units=False", "无独立厨房、卫生间")


def _elevator_need(needs: _Needs, r: Mapping, min_floors_elevator: int) -> None:
    """Add the elevator retrofit when floors ≥ ``min_floors_elevator`` and no elevator."""
    cid = needs.cid
    floors = _number_or_none(_get(r, "floors"), "floors", cid)
    elev = bool_or_none(_get(r, "has_elevator"), "has_elevator", cid)
    f_txt = "unknown" if floors is None else f"{floors:.0f}"
    e_txt = "unknown" if elev is None else str(elev)
    detail = f"floors={f_txt}, has_elevator={e_txt}"
    if elev is True or (floors is not None and floors < min_floors_elevator):
        return
    if floors is not None and elev is False:
        needs.attr_item("elevator_retrofit", "attribute", "floors;has_elevator", detail,
                        f"{floors:.0f}层，无电梯")
    else:
        needs.attr_item("elevator_retrofit", "attribute", "floors;has_elevator", detail,
                        "层数或有无电梯未知，需调查", "unknown")


def _elderly_need(needs: _Needs, r: Mapping, elderly_share_threshold: float) -> None:
    """Add 适老/无障碍 when the elderly share reaches the threshold (or is unknown)."""
    share = _number_or_none(_get(r, "elderly_share"), "elderly_share", needs.cid)
    if share is None:
        needs.attr_item("barrier_free", "attribute", "elderly_share", "elderly_share unknown",
                        "老年人口比例未知，需调查", "unknown")
    elif share >= elderly_share_threshold:
        needs.attr_item("barrier_free", "attribute", "elderly_share",
                        f"elderly_share={share:.2f} >= {elderly_share_threshold:g}",
                        f"老年人口比例 {share:.0%}（≥{elderly_share_threshold:.0%}）")


def _premises_need(needs: _Needs, r: Mapping, prop_class: str, prop_name: str) -> None:
    """Add 物业用房 when the community has no property premises (or it is unknown).

    物业用房 is premises, a 完善类 item (:data:`PREMISES_POLICY_ZH`), read from the attribute
    ``property_premises`` (yes/no/unknown). The governance attributes (owners_committee,
    property_committee, management_mode) are preconditions of the annual plan
    (:data:`GOVERNANCE_POLICY_ZH`) and decide readiness only: they never trigger this need.
    """
    has = bool_or_none(_get(r, "property_premises"), "property_premises", needs.cid)
    if has is False:
        needs.add("property_management", prop_class, prop_name, "attribute",
                  "property_premises", "property_premises=False",
                  f"无物业用房（{PREMISES_POLICY_ZH}）")
    elif has is None:
        needs.add("property_management", prop_class, prop_name, "attribute",
                  "property_premises", "property_premises unknown",
                  "有无物业用房未知，需调查（业委会、物业管理模式只决定是否具备纳入年度计划的前提条件，"
                  "不作为物业用房需求的依据）", "unknown")


def _facility_needs(needs: _Needs, gap_rows: list[dict], full_rows: list[dict],
                    profile: Profile) -> None:
    """Add the categories missing (gaps) or over capacity that have a renovation category."""
    for g in gap_rows:
        cat = profile.categories.get(str(g["category"]))
        if cat is None or cat.renovation_category is None or cat.district_planning:
            continue
        needs.add(cat.id, cat.renovation_category, cat.name_zh, "missing_facility", cat.id,
                  _facility_detail(g), str(g.get("explanation_zh", "")),
                  required=bool(g.get("required", cat.required)))
    missing_ids = {str(g["category"]) for g in gap_rows}
    for c in full_rows:
        cat = profile.categories.get(str(c["category"]))
        if (cat is None or cat.renovation_category is None or cat.district_planning
                or cat.id in missing_ids):
            continue
        per_1000 = float(c.get("supply_ratio", math.nan)) * 1000.0
        norm_1000 = float(c.get("norm_ratio", math.nan)) * 1000.0
        needs.add(cat.id, cat.renovation_category, cat.name_zh, "over_capacity", cat.id,
                  f"{cat.id} within {cat.max_walk_m:g} m but over capacity "
                  f"({per_1000:.1f} places per 1000 persons < norm {norm_1000:.1f})",
                  f"{cat.name_zh}：{cat.max_walk_m:g} 米内有设施但容量不足"
                  f"（每千人 {per_1000:.1f} 个学位/床位，低于标准 {norm_1000:.1f}）",
                  required=cat.required)


def _needs_table(rows: list[dict], in_scope: list[str]) -> pd.DataFrame:
    """Return the need rows as a table: communities in scope order, then class order."""
    columns = [
        "community_id", "renovation_class", "renovation_class_zh", "priority_zh", "item_id",
        "item_zh", "trigger", "trigger_attribute", "trigger_detail", "trigger_detail_zh",
        "required", "assessment", "protection_requirement",
    ]
    result = pd.DataFrame(rows, columns=columns)
    if len(result):
        order = {c: i for i, c in enumerate(in_scope)}
        result = result.assign(
            _c=result["community_id"].map(order),
            _k=result["renovation_class"].map({c: i for i, c in enumerate(CLASS_ORDER)}),
        ).sort_values(["_c", "_k"], kind="stable").drop(columns=["_c", "_k"])
    result["required"] = result["required"].astype("boolean")
    return result.reset_index(drop=True)


# --- district planning (上级规划统筹) -------------------------------------------------------------

#: Columns of the ``district_planning`` layer (the layer contract, :data:`schema.LAYERS`).
DISTRICT_PLANNING_COLUMNS = [
    "category", "name_zh", "level", "community_id", "households", "in_scope", "status",
    "distance_m", "threshold_m", "nearest_facility_id", "criterion", "basis", "detail_zh",
]


def district_planning_items(
    gaps: pd.DataFrame | None,
    communities: pd.DataFrame,
    profile: Profile,
    scope: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """List the living-circle gaps the district plans, not the community (上级规划统筹).

    Schools (小学, 初中) and district-level facilities (养老院, 社区卫生服务中心, large sports
    grounds) — the categories with ``district_planning: true`` in the profile, each with its
    ``district_planning_source`` — are gaps of the 15-minute (or 10-minute) living circle that one
    community's renovation cannot close: :func:`renovation_needs` lists no need for them and the
    siting never puts them on a community's site. They are reported here, one row per community
    lacking the category, with the gap figures (distance to the nearest facility and the
    threshold), for every community judged (in scope or not: the district plans for all).

    Parameters
    ----------
    gaps
        The result of :func:`livingcircle.gaps.find_gaps` (None gives an empty table).
    communities
        community_id and, when known, households.
    profile
        Says which categories are district planning.
    scope
        Optional result of :func:`renovation_scope`, for the in_scope column.

    Returns
    -------
    pandas.DataFrame
        :data:`DISTRICT_PLANNING_COLUMNS`: category, name_zh, level, community_id, households
        (empty when unknown), in_scope ('yes'|'no'|'unknown', empty without scope), status
        ('missing' | 'not_reached'), distance_m (empty when none is reached within the search
        cutoff), threshold_m, nearest_facility_id, criterion, basis (the profile's source of the
        district-planning flag), detail_zh; in profile order of categories, then community order.
    """
    dp = [c for c in profile.categories.values() if c.district_planning]
    if gaps is None or not dp:
        return _dp_frame([])
    for col in ("community_id", "category", "met"):
        if col not in gaps.columns:
            msg = f"gaps table lacks column {col!r}; pass the result of find_gaps()"
            raise InputError(msg)
    hh = {r["community_id"]: _number_or_none(_get(r, "households"), "households",
                                             r["community_id"])
          for r in _records(communities)}
    status = ({} if scope is None else
              dict(zip(scope["community_id"].astype(str), scope["in_scope"], strict=True)))
    g = gaps[~gaps["met"].astype(bool)]
    by_cat = {c: t for c, t in g.assign(category=g["category"].astype(str)).groupby("category")}
    rows = []
    for cat in dp:
        t = by_cat.get(cat.id)
        if t is None:
            continue
        for r in t.to_dict("records"):
            cid = str(r["community_id"])
            raw = r.get("distance_m")
            dist = None if raw is None or _is_missing(raw) else float(raw)
            near = "搜索范围内无可达设施" if dist is None else f"最近 {dist:.0f} 米"
            rows.append({
                "category": cat.id, "name_zh": cat.name_zh, "level": cat.level,
                "community_id": cid, "households": hh.get(cid),
                "in_scope": status.get(cid), "status": r.get("status", "missing"),
                "distance_m": dist, "threshold_m": float(cat.max_walk_m),
                "nearest_facility_id": r.get("nearest_facility_id"),
                "criterion": r.get("criterion", "distance"),
                "basis": cat.district_planning_source,
                "detail_zh": f"{cat.name_zh}：{cat.max_walk_m:g} 米内无（{near}）；上级规划统筹，"
                             "不列为小区改造需求",
            })
    return _dp_frame(rows)


def _dp_frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=DISTRICT_PLANNING_COLUMNS)
    out["households"] = out["households"].astype("Float64").astype("Int64")
    out["distance_m"] = out["distance_m"].astype(float)
    out["threshold_m"] = out["threshold_m"].astype(float)
    return out.reset_index(drop=True)


def district_planning_summary(items: pd.DataFrame) -> pd.DataFrame:
    """Sum :func:`district_planning_items` per category, for the report.

    Parameters
    ----------
    items
        The ``district_planning`` table.

    Returns
    -------
    pandas.DataFrame
        category, name_zh, threshold_m, n_communities, households (sum of the known ones),
        n_unknown_households, n_not_reached, median_distance_m, max_distance_m (over the
        communities with a facility reached), community_ids (';'-joined).
    """
    cols = ["category", "name_zh", "threshold_m", "n_communities", "households",
            "n_unknown_households", "n_not_reached", "median_distance_m", "max_distance_m",
            "community_ids"]
    rows = []
    for cat, t in items.groupby("category", sort=False):
        d = t["distance_m"].dropna()
        rows.append({
            "category": cat, "name_zh": t["name_zh"].iloc[0],
            "threshold_m": float(t["threshold_m"].iloc[0]), "n_communities": len(t),
            "households": int(t["households"].sum()),
            "n_unknown_households": int(t["households"].isna().sum()),
            "n_not_reached": int(t["distance_m"].isna().sum()),
            "median_distance_m": float(d.median()) if len(d) else math.nan,
            "max_distance_m": float(d.max()) if len(d) else math.nan,
            "community_ids": ";".join(t["community_id"].astype(str)),
        })
    return pd.DataFrame(rows, columns=cols)


# --- annual plan --------------------------------------------------------------------------------

def _preconditions(row: Mapping, cid: str) -> dict[str, bool | None]:
    funding = bool_or_none(_get(row, "resident_funding"), "resident_funding", cid)
    owners = bool_or_none(_get(row, "owners_committee"), "owners_committee", cid)
    prop = bool_or_none(_get(row, "property_committee"), "property_committee", cid)
    if owners is True or prop is True:
        committee: bool | None = True
    elif owners is False and prop is False:
        committee = False
    else:
        committee = None
    mode = _get(row, "management_mode")
    if _is_missing(mode) or str(mode).strip() == "":
        mode_ok: bool | None = None
    else:
        mode_ok = str(mode).strip().lower() not in NO_MANAGEMENT
    return {"resident_funding": funding, "committee": committee, "management_mode": mode_ok}


def annual_plan(
    communities: pd.DataFrame,
    scope: pd.DataFrame,
    needs: pd.DataFrame,
    *,
    target_communities: int | None = None,
    target_households: int | None = None,
    class_weights: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rank in-scope communities and fill this year's target (黑政办规〔2021〕15号 二(三)).

    Readiness follows the policy's preconditions for the annual plan: resident funding
    (resident_funding), an owners' committee or property management committee
    (owners_committee or property_committee) and a known post-renovation management mode
    (management_mode known and not '无'). Each is met, not met or unknown; a community is 'ready'
    when all are met, 'not_ready' when one is not met, else 'unknown'.

    Ranking: ready communities first (then unknown, then not ready), by need score (sum over
    needs with assessment 'need' of the class weight; 基础 3, 完善 2, 提升 1 by default), then by
    the number of 基础类 needs, then by community_id. Only ready communities with at least one
    need are selected, in rank order, until the target is reached: ``target_communities``
    selects that many; ``target_households`` stops at the first community that brings the total
    to or above the target (communities with unknown households are passed over); neither
    selects every eligible one.

    Parameters
    ----------
    communities
        community_id, households and the precondition attributes (missing = unknown).
    scope
        The result of :func:`renovation_scope`; only 'yes' communities are ranked.
    needs
        The result of :func:`renovation_needs`.
    target_communities, target_households
        The target, as a number of communities or of households (at most one).
    class_weights
        Weight of one need of each class.

    Returns
    -------
    tuple of pandas.DataFrame
        ``plan``: rank, community_id, name (when present), households, need_score, n_basic,
        n_improve, n_upgrade, readiness, selected, cumulative_households, reason_zh, reason_en.
        ``not_ready``: community_id, name, households, readiness, missing_preconditions
        (';'-joined; an unknown one as '<code>:unknown'), lacks_zh.
    """
    if target_communities is not None and target_households is not None:
        msg = "give the target as target_communities or target_households, not both"
        raise InputError(msg)
    for t, name in ((target_communities, "target_communities"),
                    (target_households, "target_households")):
        if t is not None and t < 0:
            msg = f"{name} must be ≥ 0, got {t}"
            raise InputError(msg)
    weights = dict(DEFAULT_CLASS_WEIGHTS if class_weights is None else class_weights)
    for c in CLASS_ORDER:
        weights.setdefault(c, 0.0)
    recs = {r["community_id"]: r for r in _records(communities)}
    in_scope = scope.loc[is_yes(scope["in_scope"]), "community_id"].astype(str).tolist()
    stray = [c for c in in_scope if c not in recs]
    if stray:
        msg = f"scope names communities not in the communities layer: {stray[:5]}"
        raise InputError(msg)
    nd = needs[needs["assessment"] == "need"] if "assessment" in needs.columns else needs
    counts = (nd.assign(community_id=nd["community_id"].astype(str))
              .groupby(["community_id", "renovation_class"]).size())

    rows, not_ready = _plan_rows(in_scope, recs, counts, weights)
    ready_order = {"ready": 0, "unknown": 1, "not_ready": 2}
    rows.sort(key=lambda x: (ready_order[x["readiness"]], -x["need_score"], -x["n_basic"],
                             x["community_id"]))
    n_sel = _select_in_rank_order(rows, target_communities, target_households)
    plan, nr = _plan_tables(rows, not_ready, with_name="name" in communities.columns)
    logger.info("annual plan: %d of %d in-scope communities selected", n_sel, len(plan))
    return plan, nr


def _plan_rows(in_scope: list[str], recs: dict, counts: pd.Series,
               weights: Mapping[str, float]) -> tuple[list[dict], list[dict]]:
    """Return each in-scope community's need score and readiness, and the rows not ready.

    The not-ready rows say which preconditions are lacking or unknown (in Chinese too).
    """
    rows = []
    not_ready = []
    for cid in in_scope:
        r = recs[cid]
        n = {c: int(counts.get((cid, c), 0)) for c in CLASS_ORDER}
        score = float(sum(weights[c] * n[c] for c in CLASS_ORDER))
        pre = _preconditions(r, cid)
        lacking = [k for k, v in pre.items() if v is False]
        unknown = [k for k, v in pre.items() if v is None]
        readiness = "not_ready" if lacking else ("unknown" if unknown else "ready")
        hh = _number_or_none(_get(r, "households"), "households", cid)
        rows.append({
            "community_id": cid, "name": _get(r, "name"), "households": hh,
            "need_score": score, "n_basic": n["基础"], "n_improve": n["完善"],
            "n_upgrade": n["提升"], "readiness": readiness,
            "_lacking": lacking, "_unknown": unknown,
        })
        if readiness != "ready":
            lacks_zh = "；".join(
                [f"缺{PRECONDITIONS[k][0]}" for k in lacking]
                + [f"{PRECONDITIONS[k][0]}未知" for k in unknown])
            not_ready.append({
                "community_id": cid, "name": _get(r, "name"), "households": hh,
                "readiness": readiness,
                "missing_preconditions": ";".join(lacking + [f"{k}:unknown" for k in unknown]),
                "lacks_zh": lacks_zh,
            })

    return rows, not_ready


def _select_in_rank_order(rows: list[dict], target_communities: int | None,
                          target_households: int | None) -> int:
    """Give the ranked rows their rank, selection and reasons until the target is filled.

    Returns the number selected.
    """
    cum = 0.0
    n_sel = 0
    full = target_communities == 0 or target_households == 0
    for rank, x in enumerate(rows, start=1):
        x["rank"] = rank
        needs_zh = (f"需求分 {x['need_score']:g}（基础类 {x['n_basic']} 项、完善类 "
                    f"{x['n_improve']} 项、提升类 {x['n_upgrade']} 项）")
        needs_en = (f"need score {x['need_score']:g} ({x['n_basic']} basic, "
                    f"{x['n_improve']} improvement, {x['n_upgrade']} upgrade needs)")
        selected = False
        if x["readiness"] == "not_ready":
            zh = "前提条件未满足（" + "、".join(
                f"缺{PRECONDITIONS[k][0]}" for k in x["_lacking"]) + "），不纳入年度计划"
            en = "precondition not met (lacks " + ", ".join(
                PRECONDITIONS[k][1] for k in x["_lacking"]) + "); not in this year's plan"
        elif x["readiness"] == "unknown":
            zh = "前提条件未核实（" + "、".join(
                f"{PRECONDITIONS[k][0]}未知" for k in x["_unknown"]) + "），核实后再定"
            en = "preconditions not verified (unknown: " + ", ".join(
                PRECONDITIONS[k][1] for k in x["_unknown"]) + "); decide after survey"
        elif x["need_score"] <= 0:
            zh, en = "前提条件齐备，但无已识别改造需求", "ready, but no identified need"
        elif full:
            zh = "前提条件齐备；年度目标已满，列入后续年度"
            en = "ready; this year's target is filled, carried to a later year"
        elif target_households is not None and x["households"] is None:
            zh = "前提条件齐备；户数未知，无法计入户数目标，未纳入"
            en = "ready; households unknown, cannot count toward the household target"
        else:
            selected = True
            n_sel += 1
            cum += x["households"] or 0.0
            hh_zh = f"（累计 {cum:.0f} 户）" if x["households"] is not None else ""
            zh = "前提条件齐备，纳入年度计划" + hh_zh
            en = "ready; selected for this year's plan" + (
                f" (cumulative {cum:.0f} households)" if x["households"] is not None else "")
            if target_communities is not None and n_sel >= target_communities:
                full = True
            if target_households is not None and cum >= target_households:
                full = True
        x["selected"] = selected
        x["cumulative_households"] = cum if selected else math.nan
        x["reason_zh"] = f"第 {rank} 位：{needs_zh}；{zh}"
        x["reason_en"] = f"rank {rank}: {needs_en}; {en}"

    return n_sel


def _plan_tables(rows: list[dict], not_ready: list[dict], *,
                 with_name: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the plan and not-ready tables (households as integers; name when given)."""
    plan_cols = ["rank", "community_id", "name", "households", "need_score", "n_basic",
                 "n_improve", "n_upgrade", "readiness", "selected", "cumulative_households",
                 "reason_zh", "reason_en"]
    plan = pd.DataFrame([{k: x[k] for k in plan_cols} for x in rows], columns=plan_cols)
    plan["households"] = plan["households"].astype("Float64").astype("Int64")
    nr = pd.DataFrame(not_ready, columns=["community_id", "name", "households", "readiness",
                                          "missing_preconditions", "lacks_zh"])
    nr["households"] = nr["households"].astype("Float64").astype("Int64")
    if not with_name:
        plan = plan.drop(columns="name")
        nr = nr.drop(columns="name")
    return plan, nr


def plan_table_zh(plan: pd.DataFrame) -> pd.DataFrame:
    """Return the plan with Chinese headers and values, for CSV/Excel.

    The English reason column is dropped; readiness becomes 齐备/未满足/未核实 and selected 是/否.
    """
    out = plan.drop(columns=[c for c in ("reason_en",) if c in plan.columns]).copy()
    if "readiness" in out.columns:
        out["readiness"] = out["readiness"].map(READINESS_ZH).fillna(out["readiness"])
    if "selected" in out.columns:
        out["selected"] = out["selected"].map({True: "是", False: "否"})
    return out.rename(columns=PLAN_LABELS_ZH)
