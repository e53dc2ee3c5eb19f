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

from . import settings
from ._errors import ExportError, InputError
from .inputs import crs_text
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
        "speed": "速度（米/分钟）", "used": "用于判定缺口", "sources": "数据来源",
        "role": "类型", "path": "文件", "crs": "坐标系", "network": "步行网络",
        "summary": "{n} 个小区，{h} 户；{s} 个在改造范围内；全部必配类别达标的小区 {c} 个。",
        "chart_share": "小区必配设施达标比例分布", "chart_cat": "各类设施步行可达的住户比例",
        "x_share": "必配类别达标比例", "y_count": "小区数", "x_hh": "住户比例",
        "overview": "小区必配设施达标情况图", "cluster_card": "片区 {cid}",
        "map_print": "交互地图不随打印输出：请打开 map.html。",
        "cards_note": "以下为排名前 {n} 个片区的图卡（共 {total} 个）；全部图卡见 "
                      "livingcircle figures。",
    },
    "en": {
        "title": "15-minute living circle assessment and old-community renovation report",
        "created": "Created", "profile": "Standard", "figures": "Study area",
        "worst": "Worst-served communities", "before_after": "Before and after",
        "plan": "Annual renovation plan", "clusters": "Cluster proposals", "map": "Interactive map",
        "standard": "Standard and thresholds", "speeds": "Walking speeds",
        "speed_profile": "Speed profile", "speed": "Speed (m/min)", "used": "used for gaps",
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
    cols = [c for c in ("rank", "cluster_id", "member_ids", "beneficiary_ids", "n_new_facilities",
                        "households_newly_served", "share_in_scope", reason) if c in cl.columns]
    cl = pd.DataFrame(cl)[cols]
    if lang == "zh":
        cl = cl.rename(columns=_CL_ZH)
    return _table(cl)


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

    The overview is SVG, or PNG at 300 dpi above
    :data:`livingcircle.settings.spill_above_communities` communities (a city's polygons would
    make an SVG of tens of MB).
    """
    from . import figures

    lang, _ = figures.figure_style(lang)  # without a CJK font: one warning, English figures
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        fig = figures.overview_figure(result, lang=lang)
        if len(result.layers["communities"]) > settings.spill_above_communities:
            buf = io.BytesIO()
            figures.save_figure(fig, buf, "png")
            overview = _img(buf.getvalue(), "image/png")
        else:
            overview = _img(figures.figure_svg(fig))
        cards = []
        cl = result.layers.get("clusters")
        n_clusters = 0 if cl is None else len(cl)
        if cl is not None and n_clusters:
            order = (cl.sort_values("rank") if "rank" in cl.columns else cl)
            order = order.head(MAX_CLUSTER_CARDS)
            reason = "reason_zh" if lang == "zh" else "reason_en"
            for cid, why in zip(order["cluster_id"].astype(str),
                                order[reason] if reason in order else [None] * len(order),
                                strict=True):
                svg = figures.figure_svg(figures.cluster_card(result, cid, lang=lang))
                cards.append({"id": cid, "src": _img(svg), "reason": _cell(why)})
    return overview, cards, n_clusters


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
    speeds = [(k, format_number(v, 0)) for k, v in (meta.get("speed_profiles") or {}).items()]
    map_html = None
    if include_map:
        from .maps import make_map

        map_html = make_map(result, lang=lang).get_root().render()
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
        plan=_plan(result, lang),
        clusters=_clusters(result, lang),
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
