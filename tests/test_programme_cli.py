"""The multi-year programme through ``livingcircle run`` (issue 16 §5) on the sample district.

黑政办规〔2021〕15号 二(三): "合理确定年度改造计划，并将居民出资、业主委员会（物业管理委员会）组建、
改造后物业管理模式确定等作为纳入年度改造计划的前提条件"; 五(二)2: "积极推进片区联动改造".

The expected years are worked out by hand from the sample's annual plan (``annual_plan.csv`` of
``livingcircle demo``): six communities are ready and have needs, in rank order

====  =====  ==========  ========  =====================  ============================
rank  id     households  片区      needs 基础/完善/提升   片区's ready members
====  =====  ==========  ========  =====================  ============================
1     C003   786         K02       6 / 7 / 8              C003 alone (C008, C013 not ready)
2     C070   754         K19       4 / 9 / 5              C070 alone (C068, C071 not ready)
3     C042   572         K12       4 / 9 / 4              C042 + C043 (rank 4) → 1404
4     C043   832         K12       4 / 3 / 4              (with C042)
5     C049   533         K14       4 / 2 / 3              C049 + C048 (rank 6) → 1358
6     C048   825         K14       3 / 1 / 3              (with C049)
====  =====  ==========  ========  =====================  ============================

and 50 in-scope communities are not ready (48 lack a precondition, C019 and C033 unknown);
56 are in scope (the four grade D communities are 'unknown', issue 16 §2; C027 lies in a 建制镇,
outside 二(一)'s list, and C061's location_type is empty; district-planning categories are no
needs, so the need counts are those of the policy's renovation items). C070 and C042 have no
物业用房 (property_premises 否 in the communities file): one 完善类 need each (三(二)), which
raises their need score by 2 but not their rank (C003 40, C070 35, C042 34, C043 22, C049 19,
C048 14 at 基础 3, 完善 2, 提升 1).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio
import pytest

import livingcircle as lc
from livingcircle import cli

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning",
                                        "ignore::DeprecationWarning")

SAMPLE = lc.sample_paths()
INPUTS = ["--osm", str(SAMPLE["osm"]), "--communities", str(SAMPLE["communities"]),
          "--gates", str(SAMPLE["gates"]), "--facilities", str(SAMPLE["facilities"]),
          "--facilities", str(SAMPLE["amap_csv"]), "--sites", str(SAMPLE["sites"]),
          "--boundary", str(SAMPLE["boundary"])]


def _run(out: Path, *extra: str) -> int:
    return cli.main(["run", *INPUTS, "--out", str(out), "--no-progress", *extra])


def _years(path: Path) -> dict[str, int | None]:
    prog = pyogrio.read_dataframe(path, layer="programme")
    return {c: (None if pd.isna(y) else int(y))
            for c, y in zip(prog["community_id"], prog["year"], strict=True)}


@pytest.fixture(scope="module")
def households_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("programme") / "hh"
    assert _run(out, "--years", "2026-2028", "--capacity", "3000") == 0
    return out


def test_households_per_year_by_rank_with_the_pianqu_together(households_run):
    gpkg = households_run / "livingcircle.gpkg"
    years = _years(gpkg)
    # 2026: C003 786, + C070 754 = 1540, + C042/C043 1404 = 2944 ≤ 3000; C049/C048 (1358)
    # would make 4302, so they open 2027 together; 2028 stays empty
    assert {c: y for c, y in years.items() if y is not None} == {
        "C003": 2026, "C042": 2026, "C070": 2026, "C043": 2026, "C049": 2027, "C048": 2027}
    per_year = pyogrio.read_dataframe(gpkg, layer="programme_years", read_geometry=False)
    assert per_year[["year", "capacity", "used", "n_communities"]].to_dict("records") == [
        {"year": 2026, "capacity": 3000.0, "used": 2944.0, "n_communities": 4},
        {"year": 2027, "capacity": 3000.0, "used": 1358.0, "n_communities": 2},
        {"year": 2028, "capacity": 3000.0, "used": 0.0, "n_communities": 0}]
    prog = pyogrio.read_dataframe(gpkg, layer="programme").set_index("community_id")
    # every community of the plan is there, the not-ready ones with what they lack
    assert len(prog) == 56
    assert prog["status"].value_counts().to_dict() == {
        "not_ready": 48, "scheduled": 6, "readiness_unknown": 2}
    assert prog.loc["C073", "reason_zh"] == "前提条件：缺业主委员会或物业管理委员会"
    assert prog.loc["C019", "reason_zh"] == "前提条件：居民出资未知"
    assert prog.loc["C043", "reason_zh"] == "与片区 K12 同年；排入 2026 年"
    assert prog.geom_type.eq("Polygon").all()


def test_households_run_writes_the_programme_tables(households_run):
    csv = pd.read_csv(households_run / "programme.csv", encoding="utf-8-sig")
    assert list(csv.columns[:4]) == ["小区编号", "小区名称", "片区", "排序"]
    assert csv.loc[csv["小区编号"] == "C048", "改造年度"].item() == 2027
    sheets = pd.read_excel(households_run / "programme.xlsx", sheet_name=None)
    assert list(sheets) == ["多年改造计划", "年度能力"]
    assert list(sheets["年度能力"]["已安排"]) == [2944.0, 1358.0, 0.0]


def test_without_years_nothing_changes(sample_result):
    assert "programme" not in sample_result.layers
    assert "programme.csv" not in sample_result.output_files()


def test_budget_with_the_planners_cost_table(tmp_path):
    costs = tmp_path / "costs.csv"
    costs.write_text("item,cost_per_community\n基础,10\n完善,5\n提升,2\n", encoding="utf-8")
    out = tmp_path / "budget"
    assert _run(out, "--years", "2026-2027", "--capacity", "300", "--capacity-unit", "budget",
                "--costs", str(costs)) == 0
    gpkg = out / "livingcircle.gpkg"
    prog = pyogrio.read_dataframe(gpkg, layer="programme").set_index("community_id")
    # cost = 10 × 基础 + 5 × 完善 + 2 × 提升 needs (table in the module docstring)
    want = {"C003": 111.0, "C070": 95.0, "C042": 93.0, "C043": 63.0, "C049": 56.0,
            "C048": 41.0}
    assert prog.loc[list(want), "cost"].to_dict() == want
    # 2026: C003 111 + C070 95 = 206; C042/C043 (156) would make 362 → 2027, with C049/C048
    # (97): 253 ≤ 300
    assert {c: y for c, y in _years(gpkg).items() if y is not None} == {
        "C003": 2026, "C070": 2026, "C042": 2027, "C043": 2027, "C049": 2027, "C048": 2027}
    per_year = pyogrio.read_dataframe(gpkg, layer="programme_years", read_geometry=False)
    assert list(per_year["used"]) == [206.0, 253.0]
    assert list(per_year["unit"]) == ["budget", "budget"]


@pytest.mark.parametrize(("extra", "says"), [
    (["--years", "2030-2026", "--capacity", "3000"],
     "error: --years '2030-2026': the first year is after the last; write 2026-2030"),
    (["--years", "2026-2030", "--capacity", "3000", "--capacity-unit", "budget"],
     "error: --capacity-unit budget needs --costs FILE: your cost table"),
    (["--years", "2026-2030"], "error: --years needs --capacity"),
    (["--capacity", "3000"], "error: --capacity plan(s) a programme: give --years too"),
    (["--years", "2026-2027", "--capacity", "2026=3000"],
     "error: --capacity '2026=3000': no capacity for year(s) [2027]"),
    (["--years", "2026-2027", "--capacity", "3000", "--capacity-unit", "rooms"],
     "error: --capacity-unit 'rooms': use households, communities or budget"),
])
def test_a_planners_mistake_is_one_error_line(tmp_path, capsys, extra, says):
    assert _run(tmp_path / "o", *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(says), err
    assert not (tmp_path / "o" / "livingcircle.gpkg").exists()


def test_a_bad_cost_cell_names_file_row_and_column(tmp_path, capsys):
    costs = tmp_path / "costs.csv"
    costs.write_text("item,cost_per_household\n基础,0.5\n完善,约三千\n", encoding="utf-8")
    assert _run(tmp_path / "o", "--years", "2026-2027", "--capacity", "300",
                "--capacity-unit", "budget", "--costs", str(costs)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {costs}, row 3, column cost_per_household: '约三千' is not a cost ≥ 0; "
                   "write a number or leave the cell empty"]


def test_map_and_report_of_the_written_programme(households_run):
    from livingcircle.maps import make_map
    from livingcircle.report import make_report

    result = lc.load_result(households_run)
    html = make_map(result, lang="zh").get_root().render()
    assert "改造年度 programme by year" in html
    assert "刃具小区: 2026" in html and "兴华小区: 2027" in html
    assert "轻工小区: 前提条件未满足" in html
    report = make_report(result, lang="zh", include_map=False)
    assert "多年改造计划（十四五）" in report
    # the years table: 2026 with its four communities, and who waits, with what they lack
    assert "<td>2026</td><td>3000</td><td>2944</td><td>4</td><td>2944</td>" \
           "<td>刃具小区、电表新村、煤气新村、胜利住宅区</td>" in report
    assert "<td>C073</td><td>轻工小区</td><td>748</td><td>前提条件未满足</td>" \
           "<td>前提条件：缺业主委员会或物业管理委员会</td>" in report
    english = make_report(result, lang="en", include_map=False)
    assert "<td>C073</td><td>轻工小区</td><td>748</td><td>not_ready</td>" \
           "<td>preconditions: committee</td>" in english


def test_areas_yaml_takes_the_programme_keys(tmp_path):
    from livingcircle import batch

    costs = tmp_path / "costs.csv"
    costs.write_text("item,cost_per_community\n基础,10\n", encoding="utf-8")
    spec = batch.load_areas([{"name": "a", "osm": str(SAMPLE["osm"]),
                              "communities": str(SAMPLE["communities"]), "years": "2026-2028",
                              "capacity": 3000, "capacity_unit": "budget",
                              "costs": str(costs)}])[0]
    assert (spec["years"], spec["capacity"], spec["capacity_unit"]) == \
        ("2026-2028", "3000", "budget")
    assert Path(spec["costs"]) == costs
