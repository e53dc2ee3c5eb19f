"""A printable meeting report (one HTML file) and reading a written result back.

:func:`make_report` renders ``templates/report.html`` (Jinja2, autoescaped) with the study-area
figures, the completeness distribution and the worst-served communities, before/after and cluster
proposals when those layers exist, the annual plan, charts (matplotlib SVG, embedded inline), the
map (:func:`livingcircle.maps.make_map`, in an ``iframe srcdoc``), the standard profile with its
thresholds and verification status, the speed profiles and the input files with their SHA-256.
Chinese first; ``lang="en"`` for English.

Charts are SVG with their text kept as text (``svg.fonttype = "none"``) and a CJK font-family list,
so the browser draws Chinese labels with whatever Chinese font it has, even when matplotlib itself
has none.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from ._errors import ExportError, InputError
from .inputs import crs_text
from .results import RENDERERS
from .sample import synthetic_label
from .schema import labels_zh
from .summaries import n_complete as n_complete_communities
from .summaries import n_in_scope, share_met, total_households
from .values import format_number, format_share

if TYPE_CHECKING:
    from .results import Result

logger = logging.getLogger(__name__)

_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "SimHei",
          "WenQuanYi Zen Hei", "DejaVu Sans", "sans-serif"]

_TEXT = {
    "zh": {
        "title": "15分钟生活圈评估与老旧小区改造报告", "created": "生成时间", "profile": "标准",
        "figures": "研究区概况", "worst": "服务最差的小区", "before_after": "改造前后对比",
        "plan": "年度改造计划", "clusters": "片区统筹建议", "map": "交互地图",
        "standard": "采用的标准及阈值", "speeds": "步行速度", "speed_profile": "速度方案",
        "speed": "速度（米/分钟）", "used": "用于判定缺口",
        "speed_status": "核实状态", "speed_source": "来源", "sources": "数据来源",
        "role": "类型", "path": "文件", "crs": "坐标系", "network": "步行网络",
        "summary": "{n} 个小区，{h} 户；{s} 个在改造范围内；全部必配类别达标的小区 {c} 个。",
        "chart_share": "小区必配设施达标比例分布", "chart_cat": "各类设施步行可达的住户比例",
        "x_share": "必配类别达标比例", "y_count": "小区数", "x_hh": "住户比例",
        "overview": "小区必配设施达标情况图", "cluster_card": "片区 {cid}",
        "map_print": "交互地图不随打印输出：请打开 map.html。",
        "cards_note": "以下为排名前 {n} 个片区的图卡（共 {total} 个）；全部图卡见 "
                      "livingcircle figures。",
        # issue 16 §2
        "district_planning": "上级规划统筹事项",
        "district_planning_intro": "以下设施属于生活圈缺口，但由区级规划统筹配建（中小学、养老院、"
                                   "社区卫生服务中心、大型运动场地），不列为单个小区的改造需求，"
                                   "也不在小区候选用地上选址。",
        "district_planning_none": "无上级规划统筹事项：各小区均在阈值内可达这些设施。",
        "grade_d": "危房（安全鉴定D级）",
        "scope_rules": "改造范围规则的适用情况",
    },
    "en": {
        "title": "15-minute living circle assessment and old-community renovation report",
        "created": "Created", "profile": "Standard", "figures": "Study area",
        "worst": "Worst-served communities", "before_after": "Before and after",
        "plan": "Annual renovation plan", "clusters": "Cluster proposals", "map": "Interactive map",
        "standard": "Standard and thresholds", "speeds": "Walking speeds",
        "speed_profile": "Speed profile", "speed": "Speed (m/min)", "used": "used for gaps",
        "speed_status": "Status", "speed_source": "Source",
        "sources": "Data sources", "role": "Role", "path": "File", "crs": "Coordinate system",
        "network": "Walking network",
        "summary": "{n} communities, {h} households; {s} in the renovation scope; {c} communities "
                   "reach every required category.",
        "chart_share": "Communities by share of required categories met",
        "chart_cat": "Share of households within reach, by category",
        "x_share": "share of required categories met", "y_count": "communities",
        "x_hh": "share of households",
        "overview": "Required facilities reached, by community", "cluster_card": "Cluster {cid}",
        "map_print": "The interactive map is not printed: open map.html.",
        "cards_note": "Cards of the {n} best-ranked clusters (of {total}); livingcircle figures "
                      "draws them all.",
        # issue 16 §2
        "district_planning": "Items for district planning (上级规划统筹)",
        "district_planning_intro": "These facilities are living-circle gaps that the district "
                                   "plans (schools, nursing homes, community health centres, "
                                   "large sports grounds): they are not a community's renovation "
                                   "need and are never sited on a community's candidate sites.",
        "district_planning_none": "No items for district planning: every community reaches "
                                  "these facilities within the threshold.",
        "grade_d": "Dangerous buildings (safety grade D)",
        "scope_rules": "Scope rules applied",
    },
}

_FIG_HEAD = {
    "zh": ["类别/级别", "级别", "达标小区数", "小区总数", "达标住户", "住户比例", "人口比例"],
    "en": ["Category / level", "Level", "Communities met", "Communities", "Households met",
           "Share of households", "Share of population"],
}


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else (f"{v:.0f}" if v.is_integer() else f"{v:.3g}")
    if isinstance(v, list | tuple | set):
        return "; ".join(map(str, v))
    return str(v)


def _table(df: pd.DataFrame, *, max_rows: int | None = None) -> dict:
    d = pd.DataFrame(df).drop(columns=["geometry"], errors="ignore")
    if max_rows is not None:
        d = d.head(max_rows)
    return {"header": [str(c) for c in d.columns],
            "rows": [[_cell(v) for v in r] for r in d.itertuples(index=False)]}


# --- charts -------------------------------------------------------------------------------------

def _svg(fig) -> Markup:
    buf = io.StringIO()
    fm_log = logging.getLogger("matplotlib.font_manager")
    level = fm_log.level
    fm_log.setLevel(logging.ERROR)  # 'font family not found' for CJK fonts: the browser draws them
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # glyphs missing in matplotlib's fonts
            fig.savefig(buf, format="svg", bbox_inches="tight")
    finally:
        fm_log.setLevel(level)
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return Markup(text[text.index("<svg"):])


def _charts(result: Result, lang: str) -> list[dict]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    t = _TEXT[lang]
    out = []
    rc: dict[Any, Any] = {"svg.fonttype": "none", "font.family": _FONTS, "font.size": 9}
    comm = result.layers["communities"]
    share = share_met(comm).dropna()
    with plt.rc_context(rc):
        if len(share):
            fig, ax = plt.subplots(figsize=(6, 2.6))
            ax.hist(share, bins=list(np.linspace(0, 1, 11)), color="#4575b4", edgecolor="white")
            ax.set_xlabel(t["x_share"])
            ax.set_ylabel(t["y_count"])
            ax.xaxis.set_major_formatter(PercentFormatter(1.0))
            out.append({"title": t["chart_share"], "svg": _svg(fig)})
        fig_df = result.layers.get("area_figures")
        if fig_df is not None and len(fig_df) and "scope" in fig_df.columns:
            cat = fig_df[fig_df["scope"] == "category"]
            if len(cat):
                names = [_cat_label(result, k, n, lang) for k, n in
                         zip(cat["key"], cat["name_zh"], strict=True)]
                vals = pd.to_numeric(cat["share_households"], errors="coerce").fillna(0)
                fig, ax = plt.subplots(figsize=(7, 0.22 * len(cat) + 0.8))
                ax.barh(range(len(cat)), vals, color="#1a9850")
                ax.set_yticks(range(len(cat)), names)
                ax.invert_yaxis()
                ax.set_xlim(0, 1)
                ax.set_xlabel(t["x_hh"])
                ax.xaxis.set_major_formatter(PercentFormatter(1.0))
                out.append({"title": t["chart_cat"], "svg": _svg(fig)})
    return out


def _cat_label(result: Result, key, name_zh, lang: str) -> str:
    if lang == "zh":
        return str(name_zh)
    cat = result.profile.categories.get(str(key))
    return cat.name_en if cat is not None else str(key)


# --- sections -----------------------------------------------------------------------------------

def _figures(result: Result, lang: str) -> dict:
    f = result.layers.get("area_figures")
    if f is None or len(f) == 0:
        return {"header": [], "rows": []}
    rows = []
    r: Any  # a row of area_figures (pandas types itertuples' fields loosely)
    for r in f.itertuples(index=False):
        label = (_cat_label(result, r.key, r.name_zh, lang) if r.scope == "category"
                 else str(r.name_zh))
        rows.append([label, str(r.level), format_number(r.n_communities_met),
                     format_number(r.n_communities), format_number(r.households_met),
                     format_share(r.share_households), format_share(r.share_population)])
    return {"header": _FIG_HEAD[lang], "rows": rows}


def _worst(result: Result, lang: str) -> dict:
    from .gaps import worst_served

    comp = result.layers.get("completeness")
    if comp is None or "n_missing_required" not in comp.columns:
        return {"header": [], "rows": []}
    w = worst_served(comp, result.layers["communities"], n=10)
    cols = [c for c in ("rank", "community_id", "name", "households", "n_missing_required",
                        "n_required", "missing_required") if c in w.columns]
    w = w[cols]
    if lang == "zh":
        w = w.rename(columns={"rank": "排名", "community_id": "编号", "name": "名称",
                              "households": "户数", "n_missing_required": "未达标必配类别数",
                              "n_required": "必配类别数", "missing_required": "未达标类别"})
        if "未达标类别" in w.columns:
            names = {c.id: c.name_zh for c in result.profile.categories.values()}
            w["未达标类别"] = w["未达标类别"].map(
                lambda s: "、".join(names.get(x, x) for x in str(s).split(";") if x)
                if isinstance(s, str) else s)
    return _table(w)


def _plan(result: Result, lang: str) -> dict | None:
    plan = result.layers.get("plan")
    if plan is None or len(plan) == 0:
        return None
    if lang == "zh":
        from .renovation import plan_table_zh

        return _table(plan_table_zh(plan))
    return _table(plan.drop(columns=[c for c in ("reason_zh",) if c in plan.columns]))


def _policy_rules(result: Result, lang: str) -> dict | None:
    """Return the issue 16 §2 section: district-planning items, grade D, scope rules applied.

    None when the run had no renovation step (no ``scope`` layer).
    """
    from .renovation import district_planning_summary

    scope = result.layers.get("scope")
    if scope is None:
        return None
    dp = result.layers.get("district_planning")
    district = None
    if dp is not None and len(dp):
        sm = district_planning_summary(pd.DataFrame(dp))
        head = (["类别", "步行距离阈值（米）", "缺少的小区数", "涉及户数", "户数未知的小区",
                 "搜索范围内无可达", "最近设施距离中位数（米）", "最远（米）", "小区"]
                if lang == "zh" else
                ["Category", "Threshold (m)", "Communities lacking it", "Households",
                 "Households unknown", "None reached", "Median distance to nearest (m)",
                 "Max (m)", "Communities"])
        rows = [[r["name_zh"] if lang == "zh" else r["category"],
                 format_number(r["threshold_m"], 0), str(r["n_communities"]),
                 format_number(r["households"], 0), str(r["n_unknown_households"]),
                 str(r["n_not_reached"]), format_number(r["median_distance_m"], 0),
                 format_number(r["max_distance_m"], 0),
                 str(r["community_ids"]).replace(";", "、" if lang == "zh" else ", ")]
                for r in sm.to_dict("records")]
        district = {"header": head, "rows": rows}
    grade_d = None
    if "grade_d" in scope.columns and pd.Series(scope["grade_d"]).astype(bool).any():
        d = pd.DataFrame(scope)[pd.Series(scope["grade_d"]).astype(bool).to_numpy()]
        note = "note_zh" if lang == "zh" else "note_en"
        cols = ["community_id", "in_scope", "reasons_zh" if lang == "zh" else "reasons", note]
        d = d[[c for c in cols if c in d.columns]]
        if lang == "zh":
            d = d.rename(columns=labels_zh("scope", d.columns))
        grade_d = _table(d)
    rules = (result.metadata or {}).get("renovation_rules") or {}
    notes = [str(v.get(lang, "")) for v in rules.values() if isinstance(v, dict)]
    return {"district": district, "grade_d": grade_d, "rules": [n for n in notes if n]}


def _categories(result: Result, lang: str) -> dict:
    cf = result.profile.categories_frame()
    if lang == "zh":
        cf = cf[["id", "name_zh", "level_name_zh", "max_walk_m", "required", "threshold_status",
                 "source"]]
        cf = cf.assign(required=cf["required"].map({True: "是", False: "否"}),
                       threshold_status=cf["threshold_status"].map({"verified": "已核实"})
                       .fillna("未核实（" + cf["threshold_status"] + "）"))
        cf.columns = ["编号", "类别", "级别", "最大步行距离（米）", "必配", "阈值核实", "来源"]
    else:
        cf = cf[["id", "name_en", "level", "max_walk_m", "required", "threshold_status",
                 "source"]]
        cf.columns = ["id", "category", "level", "max walk (m)", "required", "threshold status",
                      "source"]
    return _table(cf)


# Chinese headers of the before/after and cluster tables: the layer contract's labels
_BA_ZH = labels_zh("before_after")
_CL_ZH = labels_zh("clusters")


def _before_after(result: Result, lang: str) -> dict | None:
    """Return the whole-area rows of before/after (per category and completeness level)."""
    ba = result.layers.get("before_after")
    if ba is None or len(ba) == 0:
        return None
    if "scope" in ba.columns and (ba["scope"] == "all").any():
        ba = ba[ba["scope"] == "all"]
    ba = ba.drop(columns=["scope"], errors="ignore")
    if lang == "zh":
        ba = ba.assign(kind=ba["kind"].map({"category": "类别", "completeness": "达标比例"})
                       .fillna(ba["kind"])).rename(columns=_BA_ZH)
    return _table(ba)


def _clusters(result: Result, lang: str) -> dict | None:
    """Return cluster proposals: members, new facilities, households served, reasons."""
    cl = result.layers.get("clusters")
    if cl is None or len(cl) == 0:
        return None
    reason = "reason_zh" if lang == "zh" else "reason_en"
    cl = pd.DataFrame(cl)
    note = f"siting_note_{lang}"
    if note in cl.columns and "n_new_facilities" in cl.columns:
        # issue 16 §4: a cluster without a proposal says why none was made, not its rank reason
        none = cl["n_new_facilities"] == 0
        cl[reason] = cl[reason].where(~none, cl[note].fillna(""))
    cols = [c for c in ("rank", "cluster_id", "member_ids", "beneficiary_ids", "n_new_facilities",
                        "households_newly_served", "share_in_scope", reason) if c in cl.columns]
    cl = cl[cols]
    if lang == "zh":
        cl = cl.rename(columns=_CL_ZH)
    return _table(cl)


_PROGRAMME_TEXT = {
    "zh": {"title": "多年改造计划（十四五）",
           "note": "具备前提条件且有改造需求的小区按排序逐年安排，同一片区的成员小区同年改造，"
                   "排序靠后的小区不越过靠前的小区（黑政办规〔2021〕15号 二(三)、五(二)2）。"
                   "能力单位：{unit}。",
           "waiting": "未排入年度的小区及原因", "communities": "小区",
           "units": {"households": "户", "communities": "小区数", "budget": "预算"}},
    "en": {"title": "Multi-year programme",
           "note": "Ready communities with needs are scheduled year by year in rank order, the "
                   "members of a 片区 in the same year; no lower-ranked community overtakes a "
                   "higher one (黑政办规〔2021〕15号 二(三), 五(二)2). Capacity in {unit}.",
           "waiting": "Communities not scheduled, and why", "communities": "communities",
           "units": {"households": "households", "communities": "communities",
                     "budget": "budget"}},
}


def _programme(result, lang: str) -> dict | None:
    """Return the programme section (``run --years``): the years and who waits, with why."""
    prog, years = result.layers.get("programme"), result.layers.get("programme_years")
    if prog is None or years is None or len(years) == 0:
        return None
    t = _PROGRAMME_TEXT[lang]
    prog = pd.DataFrame(prog).drop(columns=["geometry"], errors="ignore")
    names = prog["name"].fillna(prog["community_id"]) if "name" in prog.columns \
        else prog["community_id"]
    who = names.groupby(prog["year"]).agg("、".join if lang == "zh" else ", ".join)
    y = pd.DataFrame(years).drop(columns=["unit"])
    if y["cost"].isna().all():
        y = y.drop(columns=["cost"])
    y[t["communities"]] = y["year"].map(who).fillna("")
    waiting = prog[prog["status"] != "scheduled"]
    reason = "reason_zh" if lang == "zh" else "reason_en"
    status = "status_zh" if lang == "zh" else "status"
    waiting = waiting[["rank", "community_id", "name", "households", status, reason]]
    if lang == "zh":
        y = y.rename(columns=labels_zh("programme_years", [c for c in y.columns
                                                           if c != t["communities"]]))
        waiting = waiting.rename(columns=labels_zh("programme", waiting.columns))
    unit = t["units"].get(str(years["unit"].iloc[0]), str(years["unit"].iloc[0]))
    return {"title": t["title"], "note": t["note"].format(unit=unit),
            "years": _table(y), "waiting_title": t["waiting"], "waiting": _table(waiting)}
# issue 16 §3: met by distance, not by time at the time speed (elderly in winter by default)
_TIME_TEXT = {
    "zh": {
        "title": "按距离达标、按{speed}步速时间不达标",
        "intro": ("合规按 GB 50180-2018 的步行距离（米）判定。下表列出距离达标、但按{speed}步速"
                  "（{m_per_min} 米/分钟，{status}；来源：{source}）步行超过该层级分钟数的"
                  "小区与设施：共 {n} 项，涉及 {c} 个小区、{h} 户{unknown}。"),
        "unknown": "（另有 {u} 个小区户数未知）",
        "none": "按{speed}步速（{m_per_min} 米/分钟），距离达标的设施均在该层级分钟数内到达。",
        "header": ["小区编号", "小区名称", "户数", "设施类别", "步行距离（米）", "标准（米）",
                   "步行时间（分钟）", "层级时间（分钟）"],
        "status": {"verified": "已核实", "derived": "由已核实数据推算", "unverified": "未核实"},
    },
    "en": {
        "title": "Met by distance, not met by time for {speed}",
        "intro": ("Compliance is judged by the walking distance of GB 50180-2018 (metres). The "
                  "table lists the communities and categories met by distance whose walk at the "
                  "{speed} speed ({m_per_min} m/min, {status}; source: {source}) takes longer "
                  "than the level's minutes: {n} pairs in {c} communities, {h} households"
                  "{unknown}."),
        "unknown": " ({u} communities with unknown households)",
        "none": ("At the {speed} speed ({m_per_min} m/min) every category met by distance is "
                 "also reached within its level's minutes."),
        "header": ["Community", "Name", "Households", "Category", "Walk (m)", "Standard (m)",
                   "Walk (min)", "Level (min)"],
        "status": {"verified": "verified", "derived": "derived from verified figures",
                   "unverified": "unverified"},
    },
}


def _speed_status(result, name: str) -> tuple[str, str]:
    """Return the status and source of a named speed of the result's profile ('' if none)."""
    sp = result.profile.speeds.get(str(name))
    return (sp.status, sp.source_text) if sp is not None else ("", "")


def _time_section(result, lang: str) -> dict | None:
    """Return the section "met by distance, not by time" (issue 16 §3), or None.

    None when the gaps layer has no time judgement (a result written before it existed).
    Households are counted once per community, the unknown ones apart.
    """
    from .gaps import time_shortfalls

    g = result.layers.get("gaps")
    if g is None or "met_time" not in g.columns or len(g) == 0:
        return None
    tx = _TIME_TEXT[lang]
    name = str(g["time_speed_profile"].iloc[0])
    sp = result.profile.speeds.get(name)
    speed = (sp.name_zh if lang == "zh" else sp.name_en) if sp is not None else name
    fill = {"speed": speed,
            "m_per_min": format_number(float(g["time_speed_m_per_min"].iloc[0]), 1),
            "status": tx["status"].get(sp.status, sp.status) if sp is not None else "—",
            "source": sp.source_text if sp is not None else "—"}
    t = time_shortfalls(g, result.layers["communities"])
    out: dict = {"title": tx["title"].format(**fill)}
    if t.empty:
        return {**out, "intro": tx["none"].format(**fill), "header": [], "rows": []}
    per_comm = t.drop_duplicates("community_id")
    unknown = int(per_comm["households"].isna().sum())
    out["intro"] = tx["intro"].format(
        **fill, n=len(t), c=len(per_comm), h=format_number(per_comm["households"].sum()),
        unknown=tx["unknown"].format(u=unknown) if unknown else "")
    rows = []
    for r in t.to_dict("records"):
        rows.append([r["community_id"], _cell(r["name"]), format_number(r["households"]),
                     r["name_zh"] if lang == "zh" else r["name_en"],
                     format_number(r["distance_m"]), format_number(r["threshold_m"]),
                     format_number(r["time_at_speed_min"], 1), format_number(r["threshold_min"])])
    return {**out, "header": tx["header"], "rows": rows}


# --- buildings (楼栋), issue 16 §1 and §2 ------------------------------------------------------

_BUILDINGS_TEXT = {
    "zh": {"title": "楼栋改造范围", "grade_d": "D级危房楼栋（须鉴定并另行决定）",
           "intro": "{n} 个小区按楼栋判定改造范围：{b} 栋楼中 {y} 栋纳入范围，涉及已知户数 {h} 户"
                    "（{u} 栋户数未知）。",
           "cols": {"community_id": "编号", "name": "名称", "n_buildings": "楼栋数",
                    "n_buildings_in_scope": "纳入范围楼栋数",
                    "households_in_scope": "纳入范围户数",
                    "households_in_scope_unknown": "户数未知楼栋数",
                    "n_elevator_retrofit": "需加装电梯楼栋数", "n_grade_d": "D级危房楼栋数",
                    "in_scope": "纳入改造范围", "scope_reasons": "依据",
                    "heritage_names": "涉及保护对象"},
           "d_cols": {"building_id": "楼栋编号", "community_id": "小区编号", "name": "名称",
                      "build_year": "建成年份", "floors": "层数", "households": "户数",
                      "note_zh": "说明"}},
    "en": {"title": "Buildings in the renovation scope",
           "grade_d": "Safety grade D buildings (appraisal and a separate decision)",
           "intro": "{n} communities take their scope from their buildings: {y} of {b} "
                    "buildings in scope, {h} known households ({u} buildings' households "
                    "unknown).",
           "cols": {}, "d_cols": {}},
}


def _buildings(result, lang: str) -> dict | None:
    """Return the buildings section: buildings in scope per community, grade D listed.

    None when the run had no buildings file. Every grade D building is listed with the note
    that it needs an appraisal and a decision beyond ordinary renovation (issue 16 §2).
    """
    b = result.layers.get("buildings")
    comm = result.layers["communities"]
    if b is None or "n_buildings" not in comm.columns:
        return None
    t = _BUILDINGS_TEXT[lang]
    has = pd.DataFrame(comm[comm["n_buildings"] > 0]).drop(columns="geometry", errors="ignore")
    cols = [c for c in ("community_id", "name", "n_buildings", "n_buildings_in_scope",
                        "households_in_scope", "households_in_scope_unknown",
                        "n_elevator_retrofit", "n_grade_d", "in_scope", "scope_reasons",
                        "heritage_names") if c in has.columns]
    table = has[cols].astype(object).where(has[cols].notna(), "")
    if lang == "zh" and "in_scope" in table.columns:
        table["in_scope"] = table["in_scope"].map({"yes": "是", "no": "否", "unknown": "未知"})
    d = pd.DataFrame(b[b["grade_d"].astype(bool)]).drop(columns="geometry", errors="ignore")
    d_cols = [c for c in ("building_id", "community_id", "name", "build_year", "floors",
                          "households") if c in d.columns]
    d = d[d_cols].assign(note_zh=d["note_zh"] if lang == "zh" else _grade_d_note_en())
    d = d.astype(object).where(d.notna(), "")
    intro = t["intro"].format(
        n=len(has), b=int(has["n_buildings"].sum()),
        y=int(has["n_buildings_in_scope"].fillna(0).sum()),
        h=f"{int(has['households_in_scope'].fillna(0).sum()):,}",
        u=int(has["households_in_scope_unknown"].fillna(0).sum()))
    return {"title": t["title"], "intro": intro, "grade_d_title": t["grade_d"],
            "table": _table(table.rename(columns=t["cols"])),
            "grade_d": _table(d.rename(columns=t["d_cols"])) if len(d) else None}


def _grade_d_note_en() -> str:
    from .buildings import GRADE_D_NOTE_EN

    return GRADE_D_NOTE_EN


def _img(data: str | bytes, mime: str = "image/svg+xml") -> Markup:
    """Return a figure (SVG text or PNG bytes) as an ``<img>`` data URI.

    Scripts in an SVG image never run, its ids stay its own, and its text stays text
    (matplotlib escapes user text in it).
    """
    import base64

    raw = data.encode("utf-8") if isinstance(data, str) else data
    return Markup(f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}")


#: At most this many cluster cards are printed in the report (the best-ranked); a city can have
#: hundreds of clusters, and ``livingcircle figures`` draws every card. A layout choice, not a
#: measured figure: 50 cards are 50 pages.
MAX_CLUSTER_CARDS = 50


def _figures_svg(result: Result, lang: str) -> tuple[Markup | None, list[dict], int]:
    """Return the overview map, the cards of the best-ranked clusters, and the cluster count.

    Drawn by :func:`livingcircle.figures.report_figures` (through
    :data:`livingcircle.results.RENDERERS`, so that the report imports no other output).
    """
    overview, mime, svgs, n_clusters = RENDERERS.get("report_figures")(
        result, lang, MAX_CLUSTER_CARDS)
    cl = result.layers.get("clusters")
    reason = "reason_zh" if lang == "zh" else "reason_en"
    why = ({} if cl is None or reason not in cl.columns else
           dict(zip(cl["cluster_id"].astype(str), cl[reason], strict=True)))
    cards = [{"id": cid, "src": _img(svg), "reason": _cell(why.get(cid))} for cid, svg in svgs]
    return _img(overview, mime), cards, n_clusters


#: Paper sizes of the printed report (CSS ``@page size``).
PAPERS = {"a4": "A4 portrait", "a3": "A3 landscape"}


def make_report(result: Result, *, lang: str = "zh", include_map: bool = True,
                paper: str = "a4") -> str:
    """Return the meeting report of a run as one HTML string.

    It prints as the reader expects: each section (and the card of each 片区联动 cluster) starts
    a new page, tables and cards are not split where avoidable, table headers repeat.

    Parameters
    ----------
    result
        A :class:`livingcircle.results.Result`.
    lang
        ``"zh"`` (default) or ``"en"``.
    include_map
        Embed the interactive map (adds a few MB; on screen only, it is not printed).
    paper
        ``"a4"`` (A4 portrait, default) or ``"a3"`` (A3 landscape), for printing.

    Returns
    -------
    str
        A complete HTML document; every user text is escaped (Jinja2 autoescape).
    """
    if lang not in _TEXT:
        msg = f"lang must be 'zh' or 'en', not {lang!r}"
        raise InputError(msg)
    if paper not in PAPERS:
        msg = f"paper must be one of {', '.join(PAPERS)}, not {paper!r}"
        raise InputError(msg)
    t = dict(_TEXT[lang])
    comm = result.layers["communities"]
    hh = total_households(comm)
    n_scope = n_in_scope(comm)
    n_complete = n_complete_communities(comm)
    t["summary"] = t["summary"].format(n=len(comm), h=f"{hh:,.0f}", s=n_scope, c=n_complete)
    meta = dict(result.metadata or {})
    # each speed with its status and source (issue 16 §3), from the profile the run used
    speeds = [(k, format_number(v, 1), *_speed_status(result, k))
              for k, v in (meta.get("speed_profiles") or {}).items()]
    map_html = None
    if include_map:
        map_html = RENDERERS.get("make_map")(result, lang=lang).get_root().render()
    net = meta.get("network") or {}
    network = ", ".join(f"{k}: {_cell(v)}" for k, v in net.items()) if isinstance(net, dict) \
        else str(net)
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    tpl = env.from_string(
        (resources.files("livingcircle") / "templates" / "report.html").read_text("utf-8"))
    overview, cards, n_clusters = _figures_svg(result, lang)
    if n_clusters > len(cards):
        t["cards_note"] = t["cards_note"].format(n=len(cards), total=n_clusters)
    else:
        t["cards_note"] = ""
    return tpl.render(
        lang=lang, t=t, page_size=PAPERS[paper], overview=overview, cluster_cards=cards,
        synthetic=synthetic_label(result), meta=meta, profile=result.profile,
        figures=_figures(result, lang), charts=_charts(result, lang), worst=_worst(result, lang),
        before_after=_before_after(result, lang),
        time_section=_time_section(result, lang),
        plan=_plan(result, lang),
        policy_rules=_policy_rules(result, lang),
        buildings=_buildings(result, lang),
        clusters=_clusters(result, lang),
        programme=_programme(result, lang),
        map_html=map_html, categories=_categories(result, lang), speeds=speeds,
        speed_used=meta.get("speed_profile"), network=network,
        inputs=[{**i, "crs_text": crs_text(i, lang)} for i in meta.get("inputs", [])],
    )


def write_report(result: Result, path: str | Path, *, lang: str = "zh", include_map: bool = True,
                 overwrite: bool = True, paper: str = "a4", pdf: bool | None = None) -> Path:
    """Write :func:`make_report` to ``path`` atomically (never over an input file).

    ``pdf=True`` (or a path ending in ``.pdf`` when ``pdf`` is None) prints the report to PDF
    with headless Chromium (:func:`print_pdf`) on ``paper``, without the interactive map.
    """
    from ._atomic import atomic_file

    inputs = [i["path"] for i in (result.metadata or {}).get("inputs", [])]
    if pdf is None:
        pdf = Path(path).suffix.lower() == ".pdf"
    if pdf:
        exe = find_chromium()  # before the work: a missing browser is said at once
        text = make_report(result, lang=lang, include_map=False, paper=paper)
        with atomic_file(path, inputs=inputs, overwrite=overwrite) as tmp:
            print_pdf(text, tmp, chromium=exe)
        return Path(path)
    text = make_report(result, lang=lang, include_map=include_map, paper=paper)
    with atomic_file(path, inputs=inputs, overwrite=overwrite) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)


#: Browsers that can print the report, looked for on PATH in this order.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                  "chrome", "msedge")


def find_chromium() -> str:
    """Return the path of a Chromium-based browser on PATH; raise a one-line error if none."""
    import shutil

    for name in CHROMIUM_NAMES:
        exe = shutil.which(name)
        if exe:
            return exe
    msg = ("printing the report to PDF needs Chromium or Chrome on PATH: install it "
           "(Debian/Ubuntu: apt-get install chromium), or write .html and print from a browser")
    raise ExportError(msg)


def print_pdf(html: str, path: str | Path, *, chromium: str | None = None,
              timeout_s: float = 300.0) -> Path:
    """Print an HTML document to ``path`` (PDF) with headless Chromium's ``--print-to-pdf``.

    The page size is the document's CSS ``@page`` size; no header or footer is added. The
    document is printed offline from a temporary file (the report asks for nothing online).

    Parameters
    ----------
    html
        The document.
    path
        The PDF file to write (not atomically: :func:`write_report` hands a temporary name).
    chromium
        The browser to use; default: :func:`find_chromium`.
    timeout_s
        Give up after this many seconds.
    """
    import os
    import subprocess
    import tempfile

    exe = chromium or find_chromium()
    with tempfile.TemporaryDirectory(prefix="livingcircle-pdf-") as d:
        src = Path(d) / "report.html"
        src.write_text(html, encoding="utf-8")
        out = Path(d) / "report.pdf"
        args = [exe, "--headless", "--disable-gpu", "--no-first-run", "--disable-sync",
                "--disable-background-networking", "--disable-component-update",
                "--no-pdf-header-footer", f"--user-data-dir={Path(d) / 'profile'}",
                f"--print-to-pdf={out}", src.as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to start as root with its sandbox
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            msg = f"{exe} did not finish printing {path} within {timeout_s:.0f} s"
            raise ExportError(msg) from None
        if proc.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
            last = (proc.stderr or "").strip().splitlines()[-1:] or ["no message"]
            msg = f"{exe} could not print {path} (exit {proc.returncode}): {last[0]}"
            raise ExportError(msg)
        Path(path).write_bytes(out.read_bytes())
    return Path(path)
