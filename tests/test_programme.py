"""The multi-year programme (issue 16 §5): hand-worked cases.

黑政办规〔2021〕15号 二(三): "科学编制老旧小区改造“十四五”规划，合理确定年度改造计划，并将居民出资、
业主委员会（物业管理委员会）组建、改造后物业管理模式确定等作为纳入年度改造计划的前提条件" — only
ready communities enter a year; 五(二)2 "积极推进片区联动改造" — a 片区's members share a year.
"""

import numpy as np
import pandas as pd
import pytest

from livingcircle._errors import InputError
from livingcircle.programme import (
    check_costs,
    community_costs,
    multi_year_programme,
    parse_years,
    read_costs,
)

# rank, id, households, need score, readiness
PLAN = pd.DataFrame(
    [(1, "A", 500, 10, "ready"), (2, "B", 400, 8, "ready"), (3, "C", 300, 7, "not_ready"),
     (4, "D", 300, 5, "ready"), (5, "E", 700, 4, "ready"), (6, "F", 1200, 3, "ready"),
     (7, "G", 200, 3, "unknown"), (8, "H", np.nan, 2, "ready"), (9, "I", 100, 0, "ready")],
    columns=["rank", "community_id", "households", "need_score", "readiness"])
PLAN["name"] = PLAN["community_id"] + "小区"
MEMBERS = pd.DataFrame({"cluster_id": ["K1", "K1", "K1"], "community_id": ["B", "D", "E"],
                        "role": ["member", "member", "beneficiary"]})
NOT_READY = pd.DataFrame({"community_id": ["C", "G"],
                          "lacks_zh": ["业主委员会未组建", "居民出资未核实"]})


def _by_id(prog):
    return prog.set_index("community_id")


def test_households_by_rank_with_the_cluster_kept_together():
    prog, years = multi_year_programme(PLAN, years=[2026, 2027], capacity=1000,
                                       cluster_members=MEMBERS, not_ready=NOT_READY)
    p = _by_id(prog)
    # A (500) fills 2026 to 500; B+D (片区 K1, 700 at B's rank 2) do not fit the 500 left, so
    # they open 2027; E (700, a beneficiary, not a member) does not fit 2027's 300 left and no
    # later year exists; F (1200) is larger than any year; H's households are unknown.
    assert p.loc["A", "year"] == 2026
    assert p.loc["B", "year"] == p.loc["D", "year"] == 2027
    assert p.loc["B", "cluster_id"] == "K1" and pd.isna(p.loc["E", "cluster_id"])
    assert p["status"].to_dict() == {
        "A": "scheduled", "B": "scheduled", "C": "not_ready", "D": "scheduled",
        "E": "after_period", "F": "exceeds_year_capacity", "G": "readiness_unknown",
        "H": "households_unknown", "I": "no_need"}
    assert p.loc["C", "reason_zh"] == "前提条件：业主委员会未组建"
    assert p.loc["D", "reason_zh"] == "与片区 K1 同年；排入 2027 年"
    assert p.loc["F", "reason_zh"].startswith("规模 1200户 超过单年能力")
    assert list(prog["community_id"]) == list("ABCDEFGHI")       # in rank order, none dropped
    assert years[["year", "used", "n_communities"]].to_dict("records") == [
        {"year": 2026, "used": 500.0, "n_communities": 1},
        {"year": 2027, "used": 700.0, "n_communities": 2}]


def test_no_overtaking_and_communities_as_unit():
    # two communities a year: A, then B+D would make 3 → B+D open 2027; E and F fill 2028; H
    # (households unknown does not matter when counting communities) would fit 2026's free place
    # but does not overtake: after the period
    prog, years = multi_year_programme(PLAN, years=range(2026, 2029), capacity=2,
                                       unit="communities", cluster_members=MEMBERS)
    p = _by_id(prog)
    assert [p.loc[c, "year"] for c in "ABDEF"] == [2026, 2027, 2027, 2028, 2028]
    assert p.loc["H", "status"] == "after_period" and pd.isna(p.loc["H", "year"])
    assert list(years["used"]) == [1.0, 2.0, 2.0]


def test_per_year_capacity_must_cover_every_year():
    with pytest.raises(InputError, match=r"no capacity given for year\(s\) \[2027\]"):
        multi_year_programme(PLAN, years=[2026, 2027], capacity={2026: 1000})
    with pytest.raises(InputError, match="must be a number > 0"):
        multi_year_programme(PLAN, years=[2026], capacity=0)


NEEDS = pd.DataFrame(
    [("A", "utilities", "基础", "need"), ("A", "elevator_retrofit", "完善", "need"),
     ("A", "fresh_market", "提升", "unknown"), ("B", "utilities", "基础", "need"),
     ("B", "fresh_market", "提升", "need"), ("D", "utilities", "基础", "need")],
    columns=["community_id", "item_id", "renovation_class", "assessment"])
COSTS = pd.DataFrame({"item": ["基础", "elevator_retrofit"],
                      "cost_per_household": [0.5, None], "cost_per_community": [None, 50]})


def test_costs_from_the_planners_table_only():
    c = community_costs(NEEDS, {"A": 500, "B": 400, "D": np.nan}, check_costs(COSTS))
    c = c.set_index("community_id")
    assert c.loc["A", "cost"] == 500 * 0.5 + 50          # the unknown need is not priced
    assert np.isnan(c.loc["B", "cost"]) and c.loc["B", "unpriced"] == "fresh_market"
    assert np.isnan(c.loc["D", "cost"]) and c.loc["D", "unpriced"] == "households"


def test_budget_schedules_priced_communities():
    prog, years = multi_year_programme(PLAN, years=[2026], capacity=300, unit="budget",
                                       needs=NEEDS, costs=COSTS)
    p = _by_id(prog)
    assert p.loc["A", "status"] == "scheduled" and p.loc["A", "cost"] == 300.0
    assert p.loc["B", "status"] == "cost_unknown"
    assert years.loc[0, "used"] == 300.0
    with pytest.raises(InputError, match="no default costs"):
        multi_year_programme(PLAN, years=[2026], capacity=300, unit="budget")


def test_cost_table_errors_name_row_and_column(tmp_path):
    f = tmp_path / "costs.csv"
    f.write_text("item,cost_per_household\n基础,0.5\n完善,abc\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"costs.csv, row 3, column cost_per_household: 'abc'"):
        read_costs(f)
    f.write_text("need,price\n基础,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs a column 'item'"):
        read_costs(f)


def test_parse_years():
    assert parse_years("2026-2030") == [2026, 2027, 2028, 2029, 2030]
    with pytest.raises(InputError, match="give a range such as 2026-2030"):
        parse_years("soon")
