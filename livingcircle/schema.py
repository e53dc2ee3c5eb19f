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

Analysis layers (written to the result GeoPackage by ``livingcircle run``)
--------------------------------------------------------------------------
access (long table) : community_id, category, speed_profile, distance_m (NaN = not reached within
    the search cutoff), time_min, nearest_facility_id, reached (bool), n_5min, n_10min, n_15min.
communities (wide) : the input columns plus ``d_<category>`` (metres) and ``t_<category>``
    (minutes, default speed profile) per category, ``n_categories_reached`` and
    ``completeness_<level>``.
isochrones : community_id, minutes, speed_profile, walk_m, area_m2, circle_area_m2,
    ped_shed_ratio, geometry (Polygon/MultiPolygon).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

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
}

SITE_TYPES = ("boiler_room", "vacant_lot", "ground_floor_shop", "public_building", "other")

DIAGNOSTIC_COLUMNS = ["layer", "source", "row", "feature_id", "issue", "action", "detail"]

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
    "category": "设施类别",
    "categories": "设施类别(全部)",
    "capacity": "容量",
    "source_crs": "原坐标系",
    "site_type": "用地类型",
    "floor_area_m2": "建筑面积(㎡)",
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
    "sites": ("site_id", "name", "site_type", "floor_area_m2"),
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
    from .export import shapefile_field_names  # export imports this module

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
