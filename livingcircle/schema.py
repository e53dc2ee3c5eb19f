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
    geometry (Point; polygons are reduced to a representative point); an AMap export's type
    and typecode (类型, 类型编码) classify it when no category is given.
sites : site_id (str), name, site_type (e.g. 'boiler_room', 'vacant_lot', 'ground_floor_shop',
    'public_building'), floor_area_m2 (float, optional), geometry (Point).
boundary : one or more polygons of the study area.
diagnostics : layer, source, row (1-based row in the source file, or None), feature_id, issue,
    action ('dropped' | 'repaired' | 'kept'), detail, geometry (where known).

Result layers: the written contract
-----------------------------------
:data:`LAYERS` is the contract of every layer ``livingcircle run`` (and ``recommend``, ``demo``,
each area of ``batch``) writes to the result GeoPackage: each column's name, type, unit, allowed
values or range and Chinese label; :data:`TABLES` the same for ``batch``'s summary table.
``docs/layers.md`` is generated from them (:func:`layers_markdown`) and
``tests/test_contract.py`` checks a written sample result against them (:func:`check_layer`).
A new column goes into its layer here first; Excel headers, report tables and popups take their
Chinese labels from here (:func:`labels_zh`, :data:`LAYER_LABELS_ZH`).

Yes/no/unknown fields (``in_scope``) are the text :data:`YES`, :data:`NO` or :data:`UNKNOWN`,
never a boolean: count them with :func:`is_yes`. Yes/no cells of an input file are read by one
parser, :func:`parse_yes_no`, with one word table (:data:`YES_WORDS`, :data:`NO_WORDS`,
:data:`UNKNOWN_WORDS`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

ID_COLUMNS = {
    "communities": "community_id",
    "gates": "gate_id",
    "facilities": "facility_id",
    "sites": "site_id",
    "buildings": "building_id",
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
    # issue 16 §2: premises apart from governance; the policy's location list (二(一))
    "property_premises": "boolean",
    "location_type": "string",
}

SITE_TYPES = ("boiler_room", "vacant_lot", "ground_floor_shop", "public_building", "other")

DIAGNOSTIC_COLUMNS = ["layer", "source", "row", "feature_id", "issue", "action", "detail"]
#: What happened to a row a diagnostic record names.
DIAGNOSTIC_ACTIONS = ("dropped", "repaired", "kept")

#: Chinese labels of columns, for Excel headers, reports and popups.
LABELS_ZH = {
    "community_id": "小区编号",
    "gate_id": "出入口编号",
    "facility_id": "设施编号",
    "site_id": "候选用地编号",
    "building_id": "楼栋编号",
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
    "property_premises": "物业用房",
    "location_type": "所在地类型",
    "category": "设施类别",
    "categories": "设施类别(全部)",
    "capacity": "容量",
    "source_crs": "原坐标系",
    "site_type": "用地类型",
    "floor_area_m2": "建筑面积(㎡)",
    "area_confirmed": "面积已确认",
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


# --- column names as source files write them -------------------------------------------------

#: The schema columns each input layer recognises in a source file (the readers of
#: :mod:`livingcircle.io` rename recognised headers to these names).
INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "communities": ("community_id", *COMMUNITY_ATTRIBUTES),
    "gates": ("gate_id", "community_id"),
    "facilities": ("facility_id", "name", "category", "categories", "capacity", "type",
                   "typecode"),
    "sites": ("site_id", "name", "site_type", "floor_area_m2", "area_confirmed"),
    # buildings (楼栋, issue 16 §1): read by livingcircle.buildings.read_buildings
    "buildings": ("building_id", "community_id", "name", "build_year", "floors", "has_elevator",
                  "safety_grade", "complete_units", "households"),
}

#: THE alias table: headers that municipal tables, AMap/GIS exports and planners write for each
#: schema column, beside the column's own name, its Chinese label (:data:`LABELS_ZH`) and the
#: forms a Shapefile cuts it to (:func:`gdal_shapefile_names`), which are recognised too.
#: Headers are compared after :func:`header_key` (full-width → half-width, case, spaces,
#: ``_``/``-`` and a trailing unit in brackets such as ``户数（户）`` do not matter).
#: ``docs/columns.md`` is generated from this table (:func:`aliases_markdown`). Headers taken
#: from the Heilongjiang renovation survey forms and the examples in issue 14; add a city's own
#: here (one header belongs to one column).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "community_id": ("小区编号", "小区代码", "小区id", "所属小区编号"),
    "gate_id": ("出入口编号", "大门编号", "门编号"),
    "facility_id": ("设施编号", "设施id"),
    "site_id": ("候选用地编号", "用地编号", "地块编号"),
    "building_id": ("楼栋编号", "楼栋号", "楼号", "楼栋id", "建筑编号", "幢号"),
    "name": ("名称", "小区名称", "小区名", "设施名称", "用地名称"),
    "build_year": ("建成年份", "建成年代", "建成时间", "建设年代", "建设年份", "竣工年份",
                   "竣工时间", "建筑年代", "year_built"),
    "households": ("户数", "总户数", "居民户数", "住户数"),
    "population": ("人口", "人口数", "总人口", "居住人口", "常住人口"),
    "elderly_share": ("老年人口比例", "老年人口占比", "老龄化率", "老年人比例"),
    "floors": ("层数", "楼层", "楼层数", "建筑层数", "地上层数"),
    "has_elevator": ("有电梯", "电梯", "有无电梯", "是否有电梯", "elevator"),
    "safety_grade": ("安全等级", "鉴定等级", "房屋安全等级", "安全鉴定等级"),
    "complete_units": ("成套住宅", "成套", "是否成套", "独立厨卫", "成套住房"),
    "heritage": ("历史文化保护", "历史文化", "历史文化街区", "历史建筑"),
    "owners_committee": ("业主委员会", "业委会", "有无业委会"),
    "property_committee": ("物业管理委员会", "物管会"),
    "management_mode": ("物业管理模式", "物业", "管理模式", "物业管理"),
    "resident_funding": ("居民出资", "居民出资意愿"),
    "district": ("区", "所属区", "区县", "行政区"),
    "street": ("街道", "所属街道", "街道办"),
    "category": ("设施类别", "类别"),
    "categories": ("设施类别(全部)",),
    "capacity": ("容量",),
    "type": ("类型", "高德类型", "poi类型"),  # AMap's type string, e.g. 购物服务;综合市场;蔬菜市场
    "typecode": ("类型编码", "高德类型编码", "poi类型编码"),  # AMap's 6-digit type code
    "site_type": ("用地类型",),
    "floor_area_m2": ("建筑面积(㎡)", "建筑面积", "面积"),
    # issue 16 §4: the planner confirms a site is large enough for what is proposed on it
    "area_confirmed": ("面积已确认", "面积已核实", "面积确认", "面积核实"),
    # issue 16 §2: 物业用房 (premises, a need) is not 物业管理模式 (governance, readiness)
    "property_premises": ("物业用房", "有无物业用房", "物业服务用房", "物业管理用房",
                          "物业办公用房"),
    # 二(一) 城市、县城、原农垦、森工系统二级机构所在地 (values: renovation.LOCATION_TYPES)
    "location_type": ("所在地类型", "所在地", "地域类型", "所在地性质"),
}

_UNIT = re.compile(r"[(（\[【][^()（）\[\]【】]*[)）\]】]$")


def header_key(text, *, unit: bool = True) -> str:
    """Return the form in which a source header is compared with the alias table.

    NFKC (full-width letters, digits and brackets become half-width), lower case, without
    spaces, ``_`` and ``-``; with ``unit=False`` also without one trailing unit in brackets
    (``户数（户）`` → ``户数``), the second try of :func:`match_header`.

    Examples
    --------
    >>> header_key(" Build_Year "), header_key("ＢＵＩＬＤ－ＹＥＡＲ")
    ('buildyear', 'buildyear')
    >>> header_key("户数（户）", unit=False)
    '户数'
    """
    key = unicodedata.normalize("NFKC", str(text)).strip().lower()
    if not unit:
        key = _UNIT.sub("", key).strip() or key
    return re.sub(r"[\s_\-]+", "", key)


def match_header(header, lookup: dict[str, str]) -> str | None:
    """Return the schema column a source header names in ``lookup`` (:func:`header_lookup`)."""
    for key in (header_key(header), header_key(header, unit=False)):
        if key in lookup:
            return lookup[key]
    return None


def gdal_shapefile_names(columns: Iterable[str], *, width: int = 10) -> dict[str, str]:
    """Return the field names GDAL's Shapefile driver gives ``columns`` (written in this order).

    GDAL cuts a name to 10 characters; a cut name already taken (compared without case) becomes
    its first 8 characters + ``_1`` … ``_9``, then + ``10`` … ``99`` (GDAL
    ``OGRShapeLayer::CreateField``). ``tests/test_columns.py`` checks this against GDAL itself.

    Examples
    --------
    >>> gdal_shapefile_names(["owners_committee", "owners_committee_note"])
    {'owners_committee': 'owners_com', 'owners_committee_note': 'owners_c_1'}
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for c in columns:
        base = str(c)[:width].strip()
        cand, n = base, 1
        while cand.lower() in used and n < 100:
            cand = f"{base[:8]}_{n}" if n < 10 else f"{base[:8]}{n:02d}"
            n += 1
        out[c] = cand
        used.add(cand.lower())
    return out


def column_aliases(layer: str | None = None) -> dict[str, list[str]]:
    """Return every header recognised for each schema column of ``layer`` (None: all layers).

    The column's own name, its Chinese label, :data:`COLUMN_ALIASES`, and the names a
    Shapefile gives it: GDAL's cut (:func:`gdal_shapefile_names`, alone and with the layer's
    columns written in schema order) and livingcircle's own ``export --format shp`` names.
    """
    layers = [layer] if layer is not None else list(INPUT_COLUMNS)
    cols = list(dict.fromkeys(c for lay in layers for c in INPUT_COLUMNS[lay]))

    shp_gdal = {}
    for lay in layers:
        shp_gdal.update(gdal_shapefile_names(INPUT_COLUMNS[lay]))
    shp_own = shapefile_field_names(cols)
    out = {}
    for c in cols:
        names = [c, LABELS_ZH.get(c, c), *COLUMN_ALIASES.get(c, ()), c[:10], shp_gdal.get(c, c),
                 shp_own[c]]
        out[c] = list(dict.fromkeys(names))
    return out


def header_lookup(layer: str | None = None) -> dict[str, str]:
    """Return :func:`header_key` of every recognised header → its schema column, for ``layer``.

    Raises ``ValueError`` when one header would name two columns (a mistake in the table).
    """
    lookup: dict[str, str] = {}
    for col, names in column_aliases(layer).items():
        for n in names:
            k = header_key(n)
            if lookup.setdefault(k, col) != col:
                msg = f"header {n!r} is an alias of both {lookup[k]!r} and {col!r}"
                raise ValueError(msg)
    return lookup


def aliases_markdown() -> str:
    """Return the alias table as the Markdown of ``docs/columns.md`` (generated, never edited)."""
    lines = [
        "# Column names livingcircle recognises",
        "",
        "Generated from `livingcircle/schema.py` (`COLUMN_ALIASES`) by",
        "`python -c \"import livingcircle.schema as s; print(s.aliases_markdown())\" > "
        "docs/columns.md`; a test keeps it current.",
        "",
        "A source column whose header is one of these is read as the schema column. Case, "
        "spaces, `_`/`-`, full-width characters and a trailing unit in brackets (`户数（户）`) do "
        "not matter. Two source columns that name the same schema column are an error: map the "
        "one you mean with `--columns` (Python: `columns=`). A column that is not recognised "
        "is kept as it is and listed once in the `diagnostics` layer (issue `unused_columns`). "
        "Without an id column, a single column `id` or `编号` is taken as the layer's id. "
        "How cell values are read (build years such as `1998年`, `90年代`) is described in "
        "`livingcircle.io.read_communities`.",
        "",
        "| layer | column | 中文 | recognised headers (besides the column name) |",
        "|---|---|---|---|",
    ]
    every = column_aliases()
    for lay, cols in INPUT_COLUMNS.items():
        for c in cols:
            names = [n for n in every[c] if n != c]
            label = LABELS_ZH.get(c, COLUMN_ALIASES.get(c, ("",))[0])
            lines.append(f"| {lay} | `{c}` | {label} | "
                         + ", ".join(f"`{n}`" for n in names) + " |")
    lines += [
        "",
        "Shapefile names: GDAL cuts field names to 10 characters (`safety_grade` → `safety_gra`) "
        "and numbers names that then collide (`owners_c_1`); livingcircle's own Shapefile export "
        "shortens names word by word (`communi_id`). Both are listed above.",
        "",
        "## Cell values",
        "",
        "Every value that is read differently from how it is written, or read as unknown, is "
        "listed in the `diagnostics` layer with the file, the row (1-based data row, the header "
        "not counted), the id and the original text. An empty cell means unknown.",
        "",
        "| column | written as | read as |",
        "|---|---|---|",
        "| `build_year` | `1998`, `1998.0`, ` 1998 `, `１９９８` | 1998 |",
        "| `build_year` | `1998年`, `1998年5月`, `1998-05`, `1998/5/1`, an Excel date | 1998 "
        "(recorded: `value_repaired`) |",
        "| `build_year` | `90年代`, `1980s`, `八十年代` (a decade), `约1985`, `1985左右` "
        "(approximate), `1985-1990` (a range), `98`, `不详`, `未知`, other text | unknown, "
        "never guessed (recorded: `value_unknown`) |",
        "| `build_year` | a year after this year, or before 1900 | an error naming the file, "
        "row and id |",
        "| `floors`, `households`, `population` | `6层`, `120户`, `1,350人` | the number "
        "(recorded: `value_repaired`); `多层`, `不详` → unknown (recorded: `value_unknown`); a "
        "fraction or a negative number is an error |",
        "| yes/no columns | `是`/`否`, `有`/`无`, `yes`/`no`, `true`/`false`, `1`/`0`, `Y`/`N`, "
        "`√`/`×` | true / false; `未知`, `不详` → unknown |",
        "| `safety_grade` | `A`–`D`, `a`, `Ａ`, `C级`, `C类` | `A`–`D` |",
        "| `elderly_share` | `0.23`, `23%`, or a column of percentages (`23.5`) | 0.23 / 0.235 "
        "(a percentage column is recorded) |",
        "| `category` (facilities) | the profile's id, English or Chinese name in any case, "
        "with spaces or full-width letters (`Kindergarten`, ` 幼 儿 园 `, "
        "`ｋｉｎｄｅｒｇａｒｔｅｎ`); "
        "several separated by `;` `,` `；` `，` `、` | the category ids; an unknown name is "
        "recorded (`unknown_category`) |",
        "| `site_type` (sites) | `boiler_room`, `Boiler Room`, `锅炉房`, `空地`, `底商` … | the "
        "site type; an unknown one becomes `other` (recorded) |",
        "",
        "Rows set aside (no coordinates, no geometry, unknown category, …) are summarised on the "
        "console, one line per file: `facilities.csv: 12 rows set aside — 9 unknown category "
        "(rows 3, 5, 8 and 6 more), 3 no coordinates (rows 2, 7, 11); see the diagnostics "
        "layer`.",
        "",
    ]
    return "\n".join(lines)


# --- the written contract of the result layers --------------------------------------------------
#
# Every layer ``livingcircle run`` (and ``recommend``, ``demo``, each area of ``batch``) writes to
# the result GeoPackage, with each column's name, type, unit, allowed values or range and Chinese
# label. ``docs/layers.md`` is generated from it (:func:`layers_markdown`) and
# ``tests/test_contract.py`` checks a written sample result against it (:func:`check_layer`).

#: The three values of a yes/no/unknown field (``in_scope``): a text column, never a boolean, so
#: that "unknown" stays apart from "no". Count the yes rows with ``frame[col] == YES`` — never
#: ``astype(bool)``, which counts "no" and "unknown" as well.
YES, NO, UNKNOWN = "yes", "no", "unknown"
TRISTATE = (YES, NO, UNKNOWN)

#: Words a source cell may use for yes, for no, and for "unknown" (compared after NFKC, strip and
#: lower case). One table for every yes/no reader: :func:`parse_yes_no` and the file readers.
YES_WORDS = frozenset({"是", "有", "yes", "y", "true", "t", "1", "1.0", "√", "✓"})
NO_WORDS = frozenset({"否", "无", "没有", "no", "n", "false", "f", "0", "0.0", "×", "✗"})
UNKNOWN_WORDS = frozenset({"", "nan", "none", "null", "<na>", "未知", "不详", "-", "—"})


#: How an error message describes a yes/no value.
YES_NO_HINT = ("a yes/no value (是/否, 有/无, yes/no, true/false, 1/0, Y/N; "
               "leave it empty when unknown)")


def parse_yes_no(value, *, where: str = "") -> bool | None:
    """Return True, False, or None (unknown) for one yes/no cell.

    The one parser of yes/no values, used by the file readers (:mod:`livingcircle.io`) and by
    every step that reads a yes/no attribute (renovation, clusters): a bool (or numpy bool),
    0/1, or a word of :data:`YES_WORDS`, :data:`NO_WORDS` or :data:`UNKNOWN_WORDS` (full-width
    letters, case and surrounding spaces do not matter). A missing value (None, NaN, ``pd.NA``)
    is unknown.

    Parameters
    ----------
    value
        One cell.
    where
        Where the cell is, for the error message (``"communities.csv: row 3, column 'heritage'"``).

    Raises
    ------
    InputError
        The value is none of these; the message starts with ``where``.

    Examples
    --------
    >>> parse_yes_no("是"), parse_yes_no(" No "), parse_yes_no("不详"), parse_yes_no(1.0)
    (True, False, None, True)
    """
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float) and value != value:  # NaN
        return None
    key = unicodedata.normalize("NFKC", str(value)).strip().lower()
    if key in YES_WORDS:
        return True
    if key in NO_WORDS:
        return False
    if key in UNKNOWN_WORDS:
        return None
    from ._errors import InputError

    msg = f"{where + ': ' if where else ''}{value!r} is not {YES_NO_HINT}"
    raise InputError(msg)


def is_yes(values: pd.Series) -> pd.Series:
    """Return a boolean mask of the rows of a yes/no/unknown column that are :data:`YES`.

    The one way to select or count (``is_yes(comm["in_scope"]).sum()``): "no", "unknown" and
    an empty cell are not yes.
    """
    return values.astype("string").eq(YES).fillna(False).astype(bool)


#: Column types of the contract. ``list``: ids joined by ``;`` (empty text = none);
#: ``yes/no/unknown``: :data:`TRISTATE` as text; ``boolean``: true/false, empty where unknown
#: (a GeoPackage stores it as an integer 0/1).
COLUMN_TYPES = ("text", "integer", "real", "boolean", "yes/no/unknown", "list")


@dataclass(frozen=True)
class Column:
    """One column of a result layer.

    Attributes
    ----------
    name : str
        The ASCII name; ``{category}``, ``{level}`` or ``{minutes}`` in it stands for one column
        per category id, level key or level minute (:func:`vocabulary`).
    type : str
        One of :data:`COLUMN_TYPES`.
    label_zh : str
        Chinese label (Excel headers, report tables, popups).
    unit : str
        Unit of a number (``m``, ``min``, ``m²``, ``share 0–1``, …), empty for none.
    values : tuple of str, or str
        Allowed values (of every item of a ``list``); a str names a vocabulary of
        :func:`vocabulary` (``"category"``, ``"level"``, ``"speed_profile"``), several joined by
        ``+``. None: any value.
    range : tuple
        (low, high) of a number, either None for open; None: any number.
    optional : str
        Empty when the column is always written; else when it is (e.g. "when the input has it").
    nullable : bool
        Whether a cell may be empty.
    doc : str
        What the column holds, where its name does not say it.
    """

    name: str
    type: str
    label_zh: str
    unit: str = ""
    values: tuple[str, ...] | str | None = None
    range: tuple[float | None, float | None] | None = None
    optional: str = ""
    nullable: bool = True
    doc: str = ""


@dataclass(frozen=True)
class Layer:
    """One layer (or table) of the result GeoPackage.

    Attributes
    ----------
    name : str
        The layer's name in the GeoPackage.
    label_zh : str
        Chinese name (Excel sheet names, QGIS style names).
    geometry : tuple of str
        Geometry types a feature may have; empty for a table without geometry.
    columns : tuple of Column
        In the order they are written.
    doc : str
        What one row is.
    optional : str
        Empty when every run writes the layer; else when it is written.
    key : tuple of str
        Columns whose values identify a row (unique together, never empty).
    keeps_source_columns : bool
        Whether columns of the user's file that livingcircle does not use are kept as they are
        (each listed in the ``diagnostics`` layer, issue ``unused_columns``).
    """

    name: str
    label_zh: str
    geometry: tuple[str, ...]
    columns: tuple[Column, ...]
    doc: str
    optional: str = ""
    key: tuple[str, ...] = ()
    keeps_source_columns: bool = False

    def column(self, name: str) -> Column | None:
        """Return the column ``name`` (a concrete name such as ``d_kindergarten``), or None."""
        for c in self.columns:
            if c.name == name or ("{" in c.name and _pattern(c.name).fullmatch(name)):
                return c
        return None


def _pattern(name: str) -> re.Pattern:
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+)", re.escape(name)))


_POLY = ("Polygon", "MultiPolygon")
_POINT = ("Point",)
_WHEN_INPUT = "when the input layer has it"
_SHARE = (0.0, 1.0)
_POS = (0.0, None)


def _c(name, type_, label, unit="", **kw) -> Column:
    return Column(name, type_, label, unit, **kw)


_ID = "text"
_SRC_ROW = _c("src_row", "integer", "源文件行号", range=(1, None), nullable=False,
              doc="1-based data row of the source file the feature was read from")
_ACCESS_COUNT = _c("n_{minutes}min", "integer", "{minutes}分钟内数量", range=_POS,
                   doc="facilities of the category within that many minutes at the speed")
_COMPLETENESS = (
    _c("completeness_{level}", "real", "完整度·{level}", "share 0–1", range=_SHARE,
       doc="share of the level's required categories within their threshold"),
    _c("n_required", "integer", "必配类别数", range=_POS, nullable=False),
    _c("n_missing_required", "integer", "缺失必配类别数", range=_POS, nullable=False),
    _c("missing_required", "list", "缺失必配类别", values="category"),
    _c("complete_community", "boolean", "完整居住社区", nullable=False,
       doc="every 完整居住社区 requirement judged from facilities is met"),
    _c("complete_community_missing", "list", "完整居住社区缺项", values="category"),
    _c("complete_community_not_judged", "list", "完整居住社区未判定项",
       doc="requirements that facilities cannot show (e.g. property_management)"),
)
_YES_NO_ATTRS = ("has_elevator", "complete_units", "heritage", "owners_committee",
                 "property_committee", "resident_funding", "property_premises")
_INPUT_COMMUNITY = tuple(
    _c(n, {"string": "text", "Int64": "integer", "Float64": "real", "boolean": "boolean"}[t],
       LABELS_ZH[n], {"elderly_share": "share 0–1", "households": "households",
                      "population": "persons", "build_year": "year", "floors": "floors"}.get(n, ""),
       values=("A", "B", "C", "D") if n == "safety_grade" else None,
       range={"build_year": (1900, None), "households": _POS, "population": _POS,
              "elderly_share": _SHARE, "floors": (1, None)}.get(n),
       optional=_WHEN_INPUT)
    for n, t in COMMUNITY_ATTRIBUTES.items()
)
# --- buildings (楼栋) and heritage marks, issue 16 §1 and §2 ---------------------------------
_WITH_BUILDINGS = "with a buildings file (--buildings)"
_WITH_HERITAGE = "with a heritage layer (--heritage)"
_SCOPE_FROM = _c("scope_from", "text", "范围判定依据", values=("buildings", "community"),
                 optional=_WITH_BUILDINGS,
                 doc="buildings: the community's scope is its buildings' (a building in scope "
                     "puts it in); community: its own attributes (no building in the file)")
_BUILDING_COUNTS = (
    _SCOPE_FROM,
    _c("n_buildings", "integer", "楼栋数", range=_POS, optional=_WITH_BUILDINGS,
       doc="buildings of the community in the buildings file (0: none, its attributes decide)"),
    _c("n_buildings_in_scope", "integer", "纳入范围楼栋数", range=_POS, optional=_WITH_BUILDINGS,
       doc="empty when the community has no building in the file"),
    _c("households_in_scope", "integer", "纳入范围户数", "households", range=_POS,
       optional=_WITH_BUILDINGS,
       doc="households of its buildings in scope whose households are known (a lower bound "
           "when households_in_scope_unknown > 0)"),
    _c("households_in_scope_unknown", "integer", "纳入范围户数未知楼栋数", range=_POS,
       optional=_WITH_BUILDINGS),
    _c("n_grade_d", "integer", "D级危房楼栋数", range=_POS, optional=_WITH_BUILDINGS,
       doc="safety grade D buildings: need an appraisal and a decision beyond renovation"),
    _c("grade_d_buildings", "list", "D级危房楼栋", optional=_WITH_BUILDINGS),
    _c("n_elevator_retrofit", "integer", "需加装电梯楼栋数", range=_POS, optional=_WITH_BUILDINGS,
       doc="buildings in scope of 4 floors or more without an elevator "
           "(buildings.ELEVATOR_SOURCE)"),
)
_HERITAGE_MARKS = (
    _c("heritage_from", "text", "历史文化保护依据",
       values=("layer", "layer;attribute", "attribute", ""), optional=_WITH_HERITAGE,
       doc="layer: a feature of the heritage layer touches the community; attribute: its own "
           "heritage attribute"),
    _c("heritage_names", "text", "涉及保护对象", optional=_WITH_HERITAGE,
       doc="names of the heritage features it touches, '；'-joined"),
    _c("heritage_classes_zh", "text", "保护类别", optional=_WITH_HERITAGE),
)
_BUILDINGS = Layer("buildings", "楼栋", (*_POLY, "Point"), (
    _c("building_id", _ID, LABELS_ZH["building_id"], nullable=False),
    _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
    _c("community_from", "text", "小区归属依据", values=("file", "location"), nullable=False,
       doc="location: no community id in the file, placed in the polygon it lies in"),
    _c("name", "text", LABELS_ZH["name"]),
    _c("build_year", "integer", LABELS_ZH["build_year"], "year", range=(1900, None)),
    _c("floors", "integer", LABELS_ZH["floors"], "floors", range=(1, None)),
    _c("has_elevator", "boolean", LABELS_ZH["has_elevator"]),
    _c("safety_grade", "text", LABELS_ZH["safety_grade"], values=("A", "B", "C", "D")),
    _c("complete_units", "boolean", LABELS_ZH["complete_units"]),
    _c("households", "integer", LABELS_ZH["households"], "households", range=_POS),
    _c("in_scope", "yes/no/unknown", "纳入改造范围", values=TRISTATE, nullable=False,
       doc="黑政办规〔2021〕15号 二(一) per building; grade D is 'unknown' (appraisal first)"),
    _c("reasons", "list", "依据", nullable=False,
       doc="built_by_<limit>, after_<limit>_grade_c, non_complete_units, grade_d_danger, "
           "built_after_<limit>, safety_grade_<a-b>, complete_units, unknown_<attribute>"),
    _c("reasons_zh", "text", "依据说明"),
    _c("policy", "text", "政策依据", doc="the policy lines of its reasons"),
    _c("grade_d", "boolean", "D级危房", nullable=False),
    _c("note_zh", "text", "说明", doc="the grade D note (buildings.GRADE_D_NOTE_ZH), else empty"),
    _c("needs", "list", "楼栋改造需求", values=("elevator_retrofit", "unit_completion",
                                          "building_safety"),
       doc="items assessed 'need' (buildings in scope only)"),
    _c("needs_zh", "text", "楼栋改造需求(中文)"),
    _c("needs_unknown", "list", "待调查需求", values=("elevator_retrofit", "unit_completion",
                                                "building_safety"),
       doc="items whose attributes are unknown (to survey)"),
    _SRC_ROW,
), "one building (楼栋) with its renovation scope, reasons and needs (issue 16 §1)",
    optional=_WITH_BUILDINGS, key=("building_id",), keeps_source_columns=True)

_CLUSTER_LABELS = {"rank": "排名", "cluster_id": "片区", "member_ids": "成员小区",
                   "beneficiary_ids": "受益小区", "n_new_facilities": "新增设施数",
                   "households_newly_served": "新覆盖住户", "share_in_scope": "改造范围内成员比例",
                   "reason_zh": "理由"}

LAYERS: dict[str, Layer] = {lay.name: lay for lay in (
    Layer("communities", "小区", (*_POLY, "Point"), (
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        *_INPUT_COMMUNITY,
        _SRC_ROW,
        _c("d_{category}", "real", "步行距离(米)·{category}", "m", range=_POS,
           doc="walking distance to the nearest facility; empty: not reached within "
               "settings.search_cutoff_m"),
        _c("t_{category}", "real", "步行时间(分钟)·{category}", "min", range=_POS,
           doc="the same at the default speed profile"),
        _c("n_categories_reached", "integer", "可达设施类别数", range=_POS, nullable=False),
        _c("n_categories", "integer", "设施类别数", range=_POS, nullable=False),
        *_COMPLETENESS,
        _c("in_scope", "yes/no/unknown", "纳入改造范围", values=TRISTATE,
           optional="with the renovation step",
           doc="eligible under 黑政办规〔2021〕15号 二(一) (yes = eligible, not decided)"),
        _c("scope_reasons", "list", "改造范围依据", optional="with the renovation step",
           doc="reason codes of the scope layer's reasons"),
        # issue 16 §1, §2: buildings (楼栋) and the heritage layer
        *_BUILDING_COUNTS,
        *_HERITAGE_MARKS,
    ), "one community (小区) with its walking access and completeness",
        key=("community_id",), keeps_source_columns=True),
    Layer("gates", "出入口", _POINT, (
        _c("gate_id", _ID, LABELS_ZH["gate_id"], nullable=False),
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _SRC_ROW,
    ), "one gate (出入口) of a community", optional="when gates are given",
        key=("gate_id",), keeps_source_columns=True),
    Layer("facilities", "设施", _POINT, (
        _c("facility_id", _ID, LABELS_ZH["facility_id"], nullable=False),
        _c("category", "text", LABELS_ZH["category"], values="category", nullable=False),
        _c("categories", "list", LABELS_ZH["categories"], values="category", nullable=False),
        _c("name", "text", LABELS_ZH["name"]),
        _c("capacity", "real", LABELS_ZH["capacity"], "places", range=_POS, optional=_WHEN_INPUT),
        _c("source_crs", "text", LABELS_ZH["source_crs"], values=("wgs84", "gcj02", "bd09"),
           nullable=False),
        _c("source", "text", LABELS_ZH["source"], doc="the file the facility was read from"),
        _SRC_ROW,
        _c("type", "text", "类型", optional="when an AMap export is read",
           doc="AMap's type string (购物服务;综合市场;蔬菜市场)"),
        _c("typecode", "text", "类型编码", optional="when an AMap export is read",
           doc="AMap's 6-digit type code"),
    ), "one facility point", key=("facility_id",), keeps_source_columns=True),
    Layer("sites", "候选用地", _POINT, (
        _c("site_id", _ID, LABELS_ZH["site_id"], nullable=False),
        _c("name", "text", LABELS_ZH["name"]),
        _c("site_type", "text", LABELS_ZH["site_type"], values=SITE_TYPES, nullable=False),
        _c("floor_area_m2", "real", LABELS_ZH["floor_area_m2"], "m²", range=_POS,
           optional=_WHEN_INPUT),
        _c("area_confirmed", "boolean", LABELS_ZH["area_confirmed"], optional=_WHEN_INPUT,
           doc="yes: the planner confirms the site is large enough (the only way a category "
               "without a sourced minimum area is proposed on it)"),
        _SRC_ROW,
    ), "one candidate site for a new facility", optional="when sites are given",
        key=("site_id",), keeps_source_columns=True),
    Layer("access", "可达性", (), (
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _c("category", "text", LABELS_ZH["category"], values="category", nullable=False),
        _c("speed_profile", "text", LABELS_ZH["speed_profile"], values="speed_profile",
           nullable=False),
        _c("distance_m", "real", LABELS_ZH["distance_m"], "m", range=_POS,
           doc="empty: not reached within settings.search_cutoff_m"),
        _c("time_min", "real", LABELS_ZH["time_min"], "min", range=_POS),
        _c("nearest_facility_id", _ID, LABELS_ZH["nearest_facility_id"]),
        _c("reached", "boolean", LABELS_ZH["reached"], nullable=False),
        _ACCESS_COUNT,
    ), "one community, category and speed profile",
        key=("community_id", "category", "speed_profile")),
    Layer("isochrones", "等时圈", _POLY, (
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _c("speed_profile", "text", LABELS_ZH["speed_profile"], values="speed_profile",
           nullable=False),
        _c("minutes", "integer", LABELS_ZH["minutes"], "min", values="minutes", nullable=False),
        _c("walk_m", "real", LABELS_ZH["walk_m"], "m", range=_POS, nullable=False),
        _c("area_m2", "real", LABELS_ZH["area_m2"], "m²", range=_POS),
        _c("circle_area_m2", "real", "直线距离圈面积(㎡)", "m²", range=_POS),
        _c("ped_shed_ratio", "real", "步行可达面积比", "ratio", range=_POS,
           doc="area_m2 / circle_area_m2 (pedestrian shed ratio)"),
        _c("reached", "boolean", LABELS_ZH["reached"], nullable=False,
           doc="false: the community has no walkable street within reach (no polygon)"),
    ), "one community's area within a walking time", key=("community_id", "speed_profile",
                                                          "minutes")),
    Layer("gaps", "设施短板", (), (
        _c("community_id", _ID, "小区编号", nullable=False),
        _c("category", "text", "设施类别", values="category", nullable=False),
        _c("name_zh", "text", "设施名称"),
        _c("name_en", "text", "设施名称(英文)"),
        _c("level", "text", "生活圈层级", values="level", nullable=False),
        _c("required", "boolean", "必配", nullable=False),
        _c("complete_community", "boolean", "完整社区要求", nullable=False),
        _c("renovation_category", "text", "改造类别", values=("基础", "完善", "提升"),
           doc="empty: the category is not a renovation item"),
        _c("threshold_m", "real", "标准步行距离(米)", "m", range=_POS, nullable=False),
        _c("threshold_min", "real", "层级时间(分钟)", "min", range=_POS,
           doc="empty for the residential block (居住街坊), which has no minutes"),
        _c("speed_profile", "text", "步行速度方案", values="speed_profile", nullable=False),
        _c("criterion", "text", "判定依据", values=("distance", "time", "both"), nullable=False,
           doc="what `met` follows (issue 16 §3): distance, time or both"),
        _c("distance_m", "real", "步行距离(米)", "m", range=_POS),
        _c("time_min", "real", "步行时间(分钟)", "min", range=_POS,
           doc="at speed_profile"),
        _c("nearest_facility_id", _ID, "最近设施编号"),
        _c("time_speed_profile", "text", "时间判定步速", values="speed_profile", nullable=False,
           doc="the profile's speed the time judgement uses (--speed)"),
        _c("time_speed_m_per_min", "real", "时间判定步速(米/分钟)", "m/min", range=_POS,
           nullable=False),
        _c("time_at_speed_min", "real", "该步速步行时间(分钟)", "min", range=_POS),
        _c("met_distance", "boolean", "按距离达标", nullable=False,
           doc="distance_m ≤ threshold_m (GB 50180-2018 metres: compliance)"),
        _c("met_time", "boolean", "按时间达标", nullable=False,
           doc="time_at_speed_min ≤ threshold_min; the residential block is judged by distance"),
        _c("met", "boolean", "达标", nullable=False, doc="follows criterion"),
        _c("status", "text", "状态", values=("met", "missing", "not_reached"), nullable=False),
        _c("threshold_status", "text", "标准核实状态",
           values=("verified", "secondary", "unverified"), nullable=False),
        _c("source", "text", "标准来源"),
        _c("explanation_zh", "text", "说明"),
        _c("explanation_en", "text", "说明(英文)"),
    ), "one community, level and category: met or missing, with why",
        key=("community_id", "level", "category")),
    Layer("completeness", "完整度", (), (
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        *_COMPLETENESS,
    ), "one community's completeness per level", key=("community_id",)),
    Layer("capacity", "设施容量", (), (
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _c("category", "text", LABELS_ZH["category"], values="category", nullable=False),
        _c("catchment_m", "real", "服务半径(米)", "m", range=_POS, nullable=False),
        _c("demand", "real", "需求", "persons or households", range=_POS),
        _c("demand_basis", "text", "需求依据", values=("population", "households")),
        _c("n_facilities_in_reach", "integer", "服务范围内设施数", range=_POS, nullable=False),
        _c("n_facilities_no_capacity", "integer", "无容量数据设施数", range=_POS, nullable=False),
        _c("supply_ratio", "real", "供需比(2SFCA)", "places per person", range=_POS),
        _c("places_per_1000", "real", "每千人位数", "places per 1,000", range=_POS),
        _c("norm_ratio", "real", "配置标准", "places per person", range=_POS,
           doc="settings.capacity_persons_per_place as places per person; empty: no norm"),
        _c("capacity_met", "boolean", "容量达标", doc="empty when it cannot be decided"),
        _c("capacity_status", "text", "容量状态", values=(
            "ok", "over_capacity", "no_capacity_data", "no_demand_data", "no_facility_in_reach",
            "no_norm"), nullable=False),
        _c("decay", "text", "距离衰减", values=("none", "gaussian"), nullable=False),
    ), "one community and category: two-step floating catchment (2SFCA) supply",
        optional="when a facility has a capacity", key=("community_id", "category")),
    Layer("area_figures", "面积指标", (), (
        _c("scope", "text", "统计对象", values=("category", "level"), nullable=False),
        _c("key", "text", "编号", values="category+level", nullable=False),
        _c("level", "text", "生活圈层级", values="level", nullable=False),
        _c("name_zh", "text", "名称"),
        _c("n_communities", "integer", "小区数", range=_POS, nullable=False),
        _c("n_communities_met", "integer", "达标小区数", range=_POS, nullable=False),
        _c("households_met", "real", "达标户数", "households", range=_POS),
        _c("households_known", "real", "户数已知的户数", "households", range=_POS),
        _c("share_households", "real", "达标户数比例", "share 0–1", range=_SHARE),
        _c("population_met", "real", "达标人口", "persons", range=_POS),
        _c("population_known", "real", "人口已知的人口", "persons", range=_POS),
        _c("share_population", "real", "达标人口比例", "share 0–1", range=_SHARE),
        _c("n_unknown_households", "integer", "户数未知小区数", range=_POS, nullable=False),
        _c("n_unknown_population", "integer", "人口未知小区数", range=_POS, nullable=False),
    ), "one category or level: communities, households and people within the standard",
        key=("scope", "key")),
    Layer("coverage", "覆盖范围", ("MultiPolygon", "Polygon"), (
        _c("category", "text", LABELS_ZH["category"], values="category", nullable=False),
        _c("name_zh", "text", "设施名称"),
        _c("threshold_m", "real", "标准步行距离(米)", "m", range=_POS, nullable=False),
        _c("n_facilities", "integer", "设施数", range=_POS, nullable=False),
        _c("tile", "text", "分块", nullable=False,
           doc="'all', or the 3.2 km tile of a wide network (settings.coverage_tile_above_m)"),
        _c("area_m2", "real", LABELS_ZH["area_m2"], "m²", range=_POS),
    ), "the area within a category's walking threshold of its facilities",
        key=("category", "tile")),
    Layer("uncovered", "未覆盖范围", _POLY, (
        _c("category", "text", LABELS_ZH["category"], values="category", nullable=False),
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _c("residential_area_m2", "real", "小区面积(㎡)", "m²", range=_POS),
        _c("uncovered_area_m2", "real", "未覆盖面积(㎡)", "m²", range=_POS),
        _c("uncovered_share", "real", "未覆盖比例", "share 0–1", range=_SHARE),
    ), "the part of a community's polygon beyond a category's threshold",
        optional="when communities are polygons", key=("category", "community_id")),
    Layer("scope", "改造范围", (), (
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _c("in_scope", "yes/no/unknown", "纳入改造范围", values=TRISTATE, nullable=False),
        _c("reasons", "list", "依据",
           doc="built_before_<limit+1>, built_after_<limit>, safety_grade_<a-c>, "
               "grade_d_danger, non_complete_units, complete_units, location_not_eligible, "
               "local_include, local_exclude, unknown_<attribute>"),
        _c("reasons_zh", "text", "依据说明"),
        _c("grade_d", "boolean", "危房(D级)", nullable=False,
           doc="safety grade D: in_scope is unknown, a decision beyond ordinary renovation"),
        _c("note_zh", "text", "危房说明", doc="the grade D note; empty otherwise"),
        _c("note_en", "text", "危房说明(英文)", doc="the grade D note; empty otherwise"),
        _c("year_limit", "integer", "年份界限", "year", nullable=False,
           doc="settings.renovation_year_limit"),
        _SCOPE_FROM,
    ), "one community's renovation eligibility (黑政办规〔2021〕15号 二(一))",
        optional="with the renovation step", key=("community_id",)),
    Layer("needs", "改造需求", (), (
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _c("renovation_class", "text", "改造类别", values=("基础", "完善", "提升"),
           nullable=False),
        _c("renovation_class_zh", "text", "改造类别(全称)", values=("基础类", "完善类", "提升类")),
        _c("priority_zh", "text", "改造要求", values=("应改尽改", "宜改即改", "能改则改")),
        _c("item_id", "text", "改造内容编号", nullable=False),
        _c("item_zh", "text", "改造内容"),
        _c("trigger", "text", "触发原因", values=(
            "attribute", "missing_facility", "over_capacity", "policy_default", "building"),
           nullable=False, doc="building: judged per building (the buildings in building_ids)"),
        _c("trigger_attribute", "list", "触发属性"),
        _c("trigger_detail", "text", "触发说明"),
        _c("trigger_detail_zh", "text", "触发说明(中文)"),
        _c("required", "boolean", "必配", doc="a facility need: the standard requires it; "
                                             "empty for an attribute need"),
        _c("assessment", "text", "判定", values=("need", "unknown"), nullable=False),
        _c("protection_requirement", "text", "保护要求", doc="empty when not a heritage community"),
        _c("building_ids", "list", "涉及楼栋", optional=_WITH_BUILDINGS,
           doc="trigger building: the buildings that need the item (or, assessed unknown, "
               "those to survey); empty for the other triggers"),
    ), "one renovation need of an in-scope community (基础类/完善类/提升类)",
        optional="with the renovation step", key=("community_id", "item_id")),
    Layer("plan", "年度计划", (), (
        _c("rank", "integer", "排序", range=(1, None), nullable=False),
        _c("community_id", _ID, "小区编号", nullable=False),
        _c("name", "text", "小区名称"),
        _c("households", "real", "户数", "households", range=_POS),
        _c("need_score", "real", "需求分", range=_POS, nullable=False),
        _c("n_basic", "integer", "基础类项数", range=_POS, nullable=False),
        _c("n_improve", "integer", "完善类项数", range=_POS, nullable=False),
        _c("n_upgrade", "integer", "提升类项数", range=_POS, nullable=False),
        _c("readiness", "text", "前提条件", values=("ready", "not_ready", "unknown"),
           nullable=False),
        _c("selected", "boolean", "纳入年度计划", nullable=False),
        _c("cumulative_households", "real", "累计户数", "households", range=_POS,
           doc="empty for a community not selected"),
        _c("reason_zh", "text", "说明"),
        _c("reason_en", "text", "说明(英文)"),
    ), "one in-scope community, ranked for the annual plan", optional="with the renovation step",
        key=("community_id",)),
    Layer("not_ready", "未具备条件", (), (
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _c("name", "text", "小区名称"),
        _c("households", "real", "户数", "households", range=_POS),
        _c("readiness", "text", "前提条件", values=("not_ready", "unknown"), nullable=False),
        _c("missing_preconditions", "list", "缺少的前提条件",
           doc="resident_funding, committee, management_mode; an unknown one as <code>:unknown"),
        _c("lacks_zh", "text", "缺少的前提条件(中文)"),
    ), "one in-scope community whose preconditions (二(三)) are not all met",
        optional="with the renovation step", key=("community_id",)),
    # issue 16 §2: gaps the district plans (上级规划统筹), never a community's renovation need
    Layer("district_planning", "上级规划统筹事项", (), (
        _c("category", "text", LABELS_ZH["category"], values="category", nullable=False),
        _c("name_zh", "text", "类别名称"),
        _c("level", "text", "生活圈层级", values="level"),
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _c("households", "integer", "户数", "households", range=_POS, doc="empty when unknown"),
        _c("in_scope", "yes/no/unknown", "纳入改造范围", values=TRISTATE),
        _c("status", "text", "状态", values=("missing", "not_reached"), nullable=False),
        _c("distance_m", "real", "最近设施步行距离(米)", "m", range=_POS,
           doc="empty when none is reached within the search cutoff"),
        _c("threshold_m", "real", "步行距离阈值(米)", "m", range=_POS, nullable=False),
        _c("nearest_facility_id", "text", "最近设施编号"),
        _c("criterion", "text", "判定标准", values=("distance", "time")),
        _c("basis", "text", "统筹依据", doc="the profile's district_planning_source"),
        _c("detail_zh", "text", "说明"),
    ), "one community lacking a category the district plans (小学, 初中, 养老院, 社区卫生服务中心, "
       "large sports grounds): a living-circle gap, not a renovation need",
        optional="with the renovation step", key=("category", "community_id")),
    _BUILDINGS,
    Layer("clusters", "片区联动", _POLY, (
        _c("rank", "integer", _CLUSTER_LABELS["rank"], range=(1, None), nullable=False),
        _c("cluster_id", _ID, _CLUSTER_LABELS["cluster_id"], nullable=False),
        _c("n_members", "integer", "成员小区数", range=(1, None), nullable=False),
        _c("n_beneficiaries", "integer", "受益小区数", range=_POS, nullable=False),
        _c("member_ids", "list", _CLUSTER_LABELS["member_ids"]),
        _c("beneficiary_ids", "list", _CLUSTER_LABELS["beneficiary_ids"]),
        _c("households_members", "real", "成员户数", "households", range=_POS),
        _c("households_all", "real", "总户数", "households", range=_POS),
        _c("max_member_walk_m", "real", "成员间最远步行距离(米)", "m", range=_POS),
        _c("max_walk_m", "real", "最远步行距离上限(米)", "m", range=_POS),
        _c("shared_missing", "list", "共同缺失类别", values="category"),
        _c("missing_any", "list", "缺失类别", values="category"),
        _c("heritage_ids", "list", "历史文化保护小区"),
        _c("protection_zh", "text", "保护要求"),
        _c("protection_en", "text", "保护要求(英文)"),
        _c("n_new_facilities", "integer", _CLUSTER_LABELS["n_new_facilities"], range=_POS,
           nullable=False),
        _c("households_newly_served", "real", _CLUSTER_LABELS["households_newly_served"],
           "households", range=_POS),
        _c("households_per_facility", "real", "每处设施覆盖户数", "households", range=_POS),
        _c("share_in_scope", "real", _CLUSTER_LABELS["share_in_scope"], "share 0–1",
           range=_SHARE),
        _c("elderly_share", "real", "老年人口比例", "share 0–1", range=_SHARE),
        _c("share_ready", "real", "具备前提条件成员比例", "share 0–1", range=_SHARE),
        _c("reason_zh", "text", _CLUSTER_LABELS["reason_zh"]),
        _c("reason_en", "text", "理由(英文)"),
        _c("siting_note_zh", "text", "未提出选址的原因",
           doc="a cluster without a new facility: why, per category (issue 16 §4)"),
        _c("siting_note_en", "text", "未提出选址的原因(英文)"),
    ), "one 片区联动 cluster of neighbouring in-scope communities, ranked",
        optional="with clusters (run, recommend) when a community is in scope",
        key=("cluster_id",)),
    Layer("cluster_members", "片区成员小区", _POLY + _POINT, (
        _c("cluster_id", _ID, "片区", nullable=False),
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _c("role", "text", "角色", values=("member", "beneficiary"), nullable=False),
        _c("in_scope", "yes/no/unknown", "纳入改造范围", values=TRISTATE),
        _c("households", "real", "户数", "households", range=_POS),
        _c("elderly_share", "real", LABELS_ZH["elderly_share"], "share 0–1", range=_SHARE),
        _c("heritage", "boolean", LABELS_ZH["heritage"]),
        _c("max_walk_to_members_m", "real", "到成员最远步行距离(米)", "m", range=_POS),
    ), "one community of a cluster: a member, or a beneficiary nearby",
        optional="with clusters", key=("cluster_id", "community_id")),
    Layer("proposed_sites", "建议设施选址", _POINT, (
        _c("cluster_id", _ID, "片区", nullable=False),
        _c("category", "text", LABELS_ZH["category"], values="category", nullable=False),
        _c("name_zh", "text", "设施名称"),
        _c("required", "boolean", "必配", nullable=False),
        _c("site_id", _ID, LABELS_ZH["site_id"], nullable=False),
        _c("site_name", "text", "用地名称"),
        _c("site_type", "text", LABELS_ZH["site_type"], values=SITE_TYPES),
        _c("floor_area_m2", "real", LABELS_ZH["floor_area_m2"], "m²", range=_POS),
        _c("floor_area_known", "boolean", "面积已知", nullable=False),
        _c("area_status", "text", "面积判定",
           values=("meets_minimum", "confirmed_by_planner", "to_be_confirmed"), nullable=False,
           doc="known area ≥ the profile's sourced minimum; confirmed by the planner; or unknown "
               "and to be confirmed (used only where no site of known area serves)"),
        _c("households_newly_served", "real", "新覆盖住户", "households", range=_POS),
        _c("communities_newly_served", "list", "新覆盖小区"),
        _c("communities_not_coverable", "list", "无用地可覆盖的成员小区",
           doc="members still unserved that no compatible site within the threshold can serve"),
        _c("threshold_m", "real", "标准步行距离(米)", "m", range=_POS),
        _c("cost_proxy", "real", "成本估算", "m² × category weight", range=_POS,
           doc="a relative cost for ranking; empty when the floor area is unknown"),
    ), "one new facility proposed on a candidate site for a cluster",
        optional="with clusters and sites", key=("cluster_id", "category", "site_id")),
    Layer("before_after", "改造前后", (), (
        _c("scope", "text", "范围", nullable=False, doc="'all', or a cluster_id"),
        _c("kind", "text", "类型", values=("category", "completeness"), nullable=False),
        _c("key", "text", "编号", values="category+completeness", nullable=False),
        _c("name_zh", "text", "名称"),
        _c("n_met_before", "integer", "改造前达标小区", range=_POS, nullable=False),
        _c("n_met_after", "integer", "改造后达标小区", range=_POS, nullable=False),
        _c("households_met_before", "real", "改造前达标住户", "households", range=_POS),
        _c("households_met_after", "real", "改造后达标住户", "households", range=_POS),
        _c("households_gain", "real", "新增达标住户", "households", range=_POS),
        _c("value_before", "real", "改造前", "share 0–1", range=_SHARE),
        _c("value_after", "real", "改造后", "share 0–1", range=_SHARE),
        _c("change", "real", "变化", "share", range=(-1.0, 1.0)),
    ), "one category or level, for the whole area or a cluster, before and after the proposals",
        optional="with clusters", key=("scope", "kind", "key")),
    # issue 16 §5: the multi-year programme (livingcircle.programme), with --years
    Layer("programme", "年度改造计划(多年)", _POLY + _POINT, (
        _c("community_id", _ID, LABELS_ZH["community_id"], nullable=False),
        _c("name", "text", "小区名称"),
        _c("cluster_id", _ID, "片区", doc="the 片区 whose ready members share the year"),
        _c("rank", "integer", "排序", range=(1, None), nullable=False,
           doc="the annual plan's rank"),
        _c("households", "real", "户数", "households", range=_POS),
        _c("cost", "real", "费用", "the cost table's unit", range=_POS,
           doc="from the planner's cost table (--costs); empty without one or when a need is "
               "not priced"),
        _c("year", "integer", "改造年度", "year", range=(1900, None),
           doc="empty unless status is scheduled"),
        _c("status", "text", "安排(代码)", nullable=False, values=(
            "scheduled", "after_period", "exceeds_year_capacity", "households_unknown",
            "cost_unknown", "not_ready", "readiness_unknown", "no_need")),
        _c("status_zh", "text", "安排", nullable=False),
        _c("reason_zh", "text", "说明"),
        _c("reason_en", "text", "说明(英文)"),
    ), "one community of the annual plan, assigned to a year of the programme or shown with "
       "why not (黑政办规〔2021〕15号 二(三))", optional="with --years",
        key=("community_id",)),
    Layer("programme_years", "年度改造能力", (), (
        _c("year", "integer", "年度", "year", range=(1900, None), nullable=False),
        _c("unit", "text", "能力单位", values=("households", "communities", "budget"),
           nullable=False),
        _c("capacity", "real", "年度能力", "unit", range=_POS, nullable=False),
        _c("used", "real", "已安排", "unit", range=_POS, nullable=False),
        _c("n_communities", "integer", "小区数", range=_POS, nullable=False),
        _c("households", "real", "户数", "households", range=_POS, nullable=False),
        _c("cost", "real", "费用", "the cost table's unit", range=_POS,
           doc="empty without a cost table"),
    ), "one year of the programme: its capacity and what is scheduled in it",
        optional="with --years", key=("year",)),
    Layer("diagnostics", "数据诊断", (), (
        _c("layer", "text", LABELS_ZH["layer"], nullable=False),
        _c("source", "text", LABELS_ZH["source"]),
        _c("row", "integer", LABELS_ZH["row"], range=(1, None),
           doc="1-based data row of the source file; empty for a record about a whole file"),
        _c("feature_id", "text", LABELS_ZH["feature_id"]),
        _c("issue", "text", LABELS_ZH["issue"], nullable=False),
        _c("action", "text", LABELS_ZH["action"], values=DIAGNOSTIC_ACTIONS, nullable=False),
        _c("detail", "text", LABELS_ZH["detail"]),
    ), "one input row (or file) set aside, repaired or kept with a remark, and why;"
       " geometry where known (any type)"),
    Layer("access_points", "接入点", _POINT, (
        _c("owner_layer", "text", "所属图层", values=("communities", "facilities"),
           nullable=False),
        _c("owner_id", _ID, "所属编号", nullable=False),
        _c("kind", "text", "类型", values=("gate", "boundary", "point", "facility"),
           nullable=False),
        _c("offset_m", "real", "到街道距离(米)", "m", range=_POS),
        _c("attached", "boolean", "已接入", nullable=False),
    ), "one point where a community or facility joins the walking network"),
    Layer("basemap", "底图", ("LineString", "MultiLineString", *_POLY), (
        _c("kind", "text", "类型", values=("street", "water", "green", "rail"), nullable=False),
        _c("rank", "integer", "级别", range=(0, None), nullable=False,
           doc="drawing order within the kind"),
        _c("tile", "text", "分块", nullable=False),
    ), "the OSM file's streets, water, green and railways, merged per tile, drawn under the data"),
)}

_LEVEL_NAME_ZH = {"5": "5分钟生活圈", "10": "10分钟生活圈", "15": "15分钟生活圈",
                  "block": "居住街坊"}
_PER_LEVEL = "for each level of the profile (the default profile's shown)"

#: Tables written as files beside the result folders (not GeoPackage layers): ``batch``'s
#: ``summary.csv`` (Chinese headers, shares in % in ``summary.xlsx``).
TABLES: dict[str, Layer] = {lay.name: lay for lay in (
    Layer("summary", "汇总", (), (
        _c("name", "text", "片区", nullable=False),
        _c("status", "text", "状态", values=("done", "skipped", "failed"), nullable=False),
        _c("error", "text", "错误原因", doc="empty unless failed"),
        _c("seconds", "real", "用时(秒)", "s", range=_POS, doc="0 for an area skipped as done"),
        _c("communities", "integer", "小区数", range=_POS),
        _c("households", "real", "户数", "households", range=_POS),
        _c("population", "real", "人口", "persons", range=_POS),
        _c("facilities", "integer", "设施数", range=_POS),
        _c("mean_completeness", "real", "平均配套完整度", "share 0–1", range=_SHARE,
           doc="mean over communities of the share of required categories met"),
        *(_c(f"mean_completeness_{k}", "real", f"{z}平均完整度", "share 0–1", range=_SHARE,
             optional=_PER_LEVEL) for k, z in _LEVEL_NAME_ZH.items()),
        *(_c(f"share_households_{k}", "real", f"{z}必配设施齐全的户数占比", "share 0–1",
             range=_SHARE, optional=_PER_LEVEL) for k, z in _LEVEL_NAME_ZH.items()),
        _c("share_households_complete_community", "real", "完整居住社区户数占比", "share 0–1",
           range=_SHARE),
        _c("missing_required", "integer", "缺失必配设施项数", range=_POS,
           doc="sum over communities of required categories missing"),
        _c("in_scope", "integer", "纳入改造范围小区数", range=_POS,
           doc="communities with in_scope 'yes' (no and unknown not counted)"),
        _c("folder", "text", "结果文件夹", nullable=False),
    ), "one area of a batch (livingcircle batch): its status and headline figures",
        key=("name",)),
)}

#: Name of the metadata table in a result GeoPackage (columns ``key`` and ``value``, value JSON
#: text); :mod:`livingcircle.results` writes and reads it.
METADATA_TABLE = "livingcircle_metadata"
#: Name of the QGIS style table in a GeoPackage (GDAL's ``layer_styles``).
STYLE_TABLE = "layer_styles"
#: Tables of the GeoPackage that are not layers: the run's metadata and the QGIS styles.
SYSTEM_TABLES = (METADATA_TABLE, STYLE_TABLE)


#: Chinese names of the layers (Excel sheet names, QGIS style names), the study-area boundary
#: (an input written by exports) included.
LAYER_LABELS_ZH: dict[str, str] = {"boundary": "研究范围",
                                   **{n: lay.label_zh for n, lay in LAYERS.items()}}


def _contract(name: str) -> Layer:
    """Return the contract of a layer (:data:`LAYERS`) or a table file (:data:`TABLES`)."""
    try:
        return LAYERS[name] if name in LAYERS else TABLES[name]
    except KeyError:
        msg = f"no layer or table {name!r} in the contract; known: {[*LAYERS, *TABLES]}"
        raise KeyError(msg) from None


def vocabulary(profile=None, *, minutes: Iterable[int] | None = None) -> dict[str, tuple[str, ...]]:
    """Return the value sets the contract names: category ids, level keys, speed profiles, minutes.

    ``category`` holds the categories measured by walking to a facility
    (:meth:`~livingcircle.standards.Profile.poi_categories`); attribute-only ones such as
    ``property_management`` have no distance columns. ``completeness`` holds
    ``completeness_<level>``, the keys of the before/after rows of a level.

    ``profile`` default: :func:`livingcircle.standards.load_profile`; ``minutes`` default:
    :data:`livingcircle.settings.level_minutes`.
    """
    from . import settings
    from .standards import load_profile

    profile = profile if profile is not None else load_profile()
    mins = tuple(minutes) if minutes is not None else tuple(settings.level_minutes)
    return {
        "category": tuple(c.id for c in profile.poi_categories()),
        "level": tuple(profile.levels),
        "completeness": tuple(f"completeness_{k}" for k in profile.levels),
        "speed_profile": tuple(profile.speeds),
        "minutes": tuple(str(m) for m in mins),
    }


def _allowed(values, vocab: dict[str, tuple[str, ...]]) -> set[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        return {v for part in values.split("+") for v in vocab[part]}
    return set(values)


_PLACEHOLDER = {"category": "category", "level": "level", "minutes": "minutes"}


def expand_columns(layer: str, vocab: dict[str, tuple[str, ...]]) -> list[tuple[str, Column]]:
    """Return the concrete column names of ``layer`` (patterns expanded over ``vocab``)."""
    out = []
    for c in _contract(layer).columns:
        m = re.search(r"\{(\w+)\}", c.name)
        if m is None:
            out.append((c.name, c))
        else:
            out += [(c.name.replace(m.group(0), v), c) for v in vocab[m.group(1)]]
    return out


def label_zh(layer: str, column: str, categories: dict[str, str] | None = None) -> str:
    """Return the Chinese label of ``column`` of ``layer`` (the column name when unknown).

    A per-category or per-level column gets the category's Chinese name from ``categories``
    (id → name) or its id: ``d_kindergarten`` → ``步行距离(米)·幼儿园``.
    """
    col = _contract(layer).column(column) if layer in LAYERS or layer in TABLES else None
    if col is None:
        return LABELS_ZH.get(column, column)
    if "{" not in col.name:
        return col.label_zh
    m = _pattern(col.name).fullmatch(column)
    part = next(iter(m.groupdict().items())) if m else None
    if part is None:
        return col.label_zh
    key, val = part
    shown = (categories or {}).get(val, val) if key == "category" else val
    return col.label_zh.replace("{" + key + "}", str(shown))


def labels_zh(layer: str, columns: Iterable[str] | None = None) -> dict[str, str]:
    """Return column → Chinese label for ``layer`` (all its fixed columns when ``columns`` is None).

    The one source of column labels for Excel headers, report tables and popups.
    """
    names = ([c.name for c in _contract(layer).columns if "{" not in c.name]
             if columns is None else list(columns))
    return {c: label_zh(layer, c) for c in names}


def _type_problem(s: pd.Series, type_: str) -> str | None:
    """Why ``s`` (as read back from a GeoPackage or held in memory) is not of ``type_``."""
    kind = s.dtype.kind
    notna = s.dropna()
    if type_ in ("text", "list", "yes/no/unknown"):
        if kind in "ifub" and len(notna):
            return f"holds numbers ({s.dtype}), not text"
        bad = [v for v in notna.tolist() if not isinstance(v, str)]
        return f"holds {type(bad[0]).__name__} values, not text" if bad else None
    if type_ == "boolean":
        if kind == "b" or str(s.dtype) == "boolean" or not len(notna):
            return None  # no value to judge by: an empty layer's column reads back as text
        if kind in "iuf" and notna.isin([0, 1]).all():
            return None  # a GeoPackage stores booleans as 0/1 (empty where unknown)
        return f"is {s.dtype}, not true/false"
    if kind not in "iuf" and not (kind == "O" and notna.map(
            lambda v: isinstance(v, int | float | np.integer | np.floating)).all()):
        return f"is {s.dtype}, not a number"
    if type_ == "integer" and len(notna) and not (notna.astype(float) % 1 == 0).all():
        return "holds fractions, not whole numbers"
    return None


def check_layer(name: str, frame: pd.DataFrame, vocab: dict[str, tuple[str, ...]], *,
                source_columns: Iterable[str] = (), tolerance: float = 1e-9) -> list[str]:
    """Return every way ``frame`` breaks the contract of layer ``name`` (empty: it keeps it).

    ``name`` is a layer of :data:`LAYERS` or a table of :data:`TABLES`. Checks that no column
    is missing (optional columns may be), no column is undocumented
    (except ``source_columns`` the user's file brought, on a layer that keeps them), each
    column's type, that no value lies outside its set or range (``tolerance`` for rounding), no
    empty cell where none is allowed, the key unique, and the geometry types.

    Parameters
    ----------
    name
        A key of :data:`LAYERS` or :data:`TABLES`.
    frame
        The layer, in memory or read back from the GeoPackage.
    vocab
        The value sets of :func:`vocabulary` for the run (its profile and level minutes).
    source_columns
        Columns of the user's files kept as they are (the ``unused_columns`` diagnostics).
    tolerance
        Allowed excess beyond a range's ends (a share of 1.0000000000000004 is 1).
    """
    layer = _contract(name)
    expected = expand_columns(name, vocab)
    names = {n for n, _ in expected}
    problems = []
    import geopandas as gpd

    try:
        geom = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    except AttributeError:  # a GeoDataFrame without an active geometry column
        geom = None
    for n, c in expected:
        if n not in frame.columns and not c.optional:
            problems.append(f"{name}: column {n!r} is missing")
    extra = [c for c in frame.columns if c not in names and c != geom]
    allowed_extra = set(source_columns) if layer.keeps_source_columns else set()
    problems += [f"{name}: column {c!r} is not in the contract" for c in extra
                 if c not in allowed_extra]
    for n, c in expected:
        if n not in frame.columns:
            continue
        s = frame[n]
        why = _type_problem(s, c.type)
        if why:
            problems.append(f"{name}.{n} ({c.type}) {why}")
            continue
        if not c.nullable and s.isna().any():
            problems.append(f"{name}.{n}: {int(s.isna().sum())} empty cells")
        allowed = _allowed(c.values, vocab)
        notna = s.dropna()
        if allowed is not None and len(notna):
            if c.type == "list":
                items = {v for x in notna for v in str(x).split(";") if v}
            else:
                items = set(notna.astype(str) if c.type != "integer"
                            else notna.astype(int).astype(str))
            if items - allowed:
                problems.append(f"{name}.{n}: values outside the contract "
                                f"{sorted(items - allowed)[:5]}")
        if c.range is not None and len(notna):
            lo, hi = c.range
            v = notna.astype(float)
            if lo is not None and (v < lo - tolerance).any():
                problems.append(f"{name}.{n}: {v.min()} below {lo}")
            if hi is not None and (v > hi + tolerance).any():
                problems.append(f"{name}.{n}: {v.max()} above {hi}")
    if layer.key and all(k in frame.columns for k in layer.key) and len(frame):
        dup = frame.duplicated(list(layer.key)).sum()
        if dup:
            problems.append(f"{name}: {dup} rows repeat the key {layer.key}")
    if isinstance(frame, gpd.GeoDataFrame) and geom is not None and layer.geometry:
        types = set(frame.geom_type.dropna()) - set(layer.geometry)
        if types:
            problems.append(f"{name}: geometry types {sorted(types)} not in {layer.geometry}")
    elif layer.geometry and geom is None and len(frame):
        problems.append(f"{name}: has no geometry")
    return problems


_VOCAB_WORDS = {
    "category": "a category id of the profile", "level": "a level key of the profile",
    "speed_profile": "a speed name of the profile (`speeds`)",
    "minutes": "a minute of `settings.level_minutes`", "completeness": "`completeness_<level>`",
}


def layers_markdown() -> str:
    """Return the layer contract as the Markdown of ``docs/layers.md`` (generated, never edited)."""
    lines = [
        "# The layers of a result",
        "",
        "Generated from `livingcircle/schema.py` (`LAYERS`) by",
        "`python -c \"import livingcircle.schema as s; print(s.layers_markdown())\" > "
        "docs/layers.md`; a test keeps it current, and `tests/test_contract.py` checks a "
        "written sample result against it.",
        "",
        "Every layer below is a layer (or, without geometry, a table) of the result GeoPackage "
        "`livingcircle.gpkg` (EPSG:4326), in this order. Column types: "
        "`text`; `integer`; `real`; `boolean` (true/false, stored as 0/1, empty where unknown); "
        "`yes/no/unknown` (the text `yes`, `no` or `unknown` — count with `== \"yes\"`); "
        "`list` (ids joined by `;`, empty text for none). `{category}` in a name is one column "
        "per facility category of the profile, `{level}` one per level (`5`, `10`, `15`, "
        "`block`), `{minutes}` one per level minute (`settings.level_minutes`). "
        "Layers marked *kept* also keep the user's columns livingcircle does not use, each "
        "listed in `diagnostics` (`unused_columns`). The tables `"
        + "`, `".join(SYSTEM_TABLES) + "` hold the run's metadata and the QGIS styles.",
        "",
    ]
    for lay in (*LAYERS.values(), *TABLES.values()):
        if lay.name in TABLES and lay.name == next(iter(TABLES)):
            lines += ["# Tables written beside the results", "",
                      "Not layers of a GeoPackage: CSV (UTF-8 with BOM) and Excel files.", ""]
        geom = ", ".join(lay.geometry) if lay.geometry else "none (a table)"
        lines += [f"## `{lay.name}` — {lay.label_zh}", "",
                  f"One row: {lay.doc}. Geometry: {geom}."
                  + (f" Written {lay.optional}." if lay.optional else "")
                  + (f" Key: `{'`, `'.join(lay.key)}`." if lay.key else "")
                  + (" Source columns *kept*." if lay.keeps_source_columns else ""),
                  "",
                  "| column | 中文 | type | unit | values | notes |",
                  "|---|---|---|---|---|---|"]
        for c in lay.columns:
            if c.values is not None:
                vals = (" or ".join(_VOCAB_WORDS[v] for v in c.values.split("+"))
                        if isinstance(c.values, str) else ", ".join(f"`{v}`" for v in c.values))
            elif c.range is not None:
                lo, hi = c.range
                vals = f"{'' if lo is None else f'{lo:g}'}–{'' if hi is None else f'{hi:g}'}"
            else:
                vals = ""
            notes = "; ".join(x for x in (c.doc, c.optional and f"written {c.optional}",
                                          "" if c.nullable else "never empty") if x)
            lines.append(f"| `{c.name}` | {c.label_zh} | {c.type} | {c.unit} | {vals} | "
                         f"{notes} |")
        lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Shapefile field names (export --format shp writes them; column_aliases reads them back)
# --------------------------------------------------------------------------------------------


def _ascii_name(name: str) -> str:
    s = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    s = re.sub(r"[^0-9A-Za-z_]+", "_", s).strip("_")
    if not s:
        s = "field"
    if s[0].isdigit():
        s = "f" + s
    return s


def _abbreviate(name: str, width: int) -> str:
    """Shorten a snake_case name to ``width`` characters by trimming its longest words first."""
    if len(name) <= width:
        return name
    words = [w for w in name.split("_") if w]
    if len(words) < 2 or len(words) - 1 + len(words) >= width + 1:
        return name[:width]
    lens = [len(w) for w in words]
    budget = width - (len(words) - 1)
    while sum(lens) > budget:
        i = max(range(len(lens)), key=lambda j: (lens[j], -j))
        if lens[i] <= 1:
            return name[:width]
        lens[i] -= 1
    return "_".join(w[:n] for w, n in zip(words, lens, strict=True))


def shapefile_field_names(columns: Iterable[str], *, width: int = 10) -> dict[str, str]:
    """Map column names to unique ASCII Shapefile field names of at most ``width`` characters.

    Names that already fit are kept; longer snake_case names lose letters from their longest words
    first (``nearest_facility_id`` → ``nea_fac_id``); names that still collide (DBF field names
    are case-insensitive) get a numeric suffix (``d_kinderga``, ``d_kinder_2``).

    Examples
    --------
    >>> shapefile_field_names(["community_id", "name", "completeness_5min"])
    {'community_id': 'communi_id', 'name': 'name', 'completeness_5min': 'compl_5min'}
    """
    columns = list(columns)
    out: dict[str, str] = {}
    used: set[str] = set()
    # first keep every name that already fits, so that a shortened name cannot take it
    for c in columns:
        a = _ascii_name(c)
        if a == str(c) and len(a) <= width and a.lower() not in used:
            out[c] = a
            used.add(a.lower())
    for c in columns:
        if c in out:
            continue
        base = _abbreviate(_ascii_name(c), width)
        cand = base
        k = 1
        while cand.lower() in used:
            k += 1
            suffix = f"_{k}"
            cand = base[: width - len(suffix)].rstrip("_") + suffix
        out[c] = cand
        used.add(cand.lower())
    return {c: out[c] for c in columns}
