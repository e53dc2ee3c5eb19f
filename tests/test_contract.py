"""The layer contract (livingcircle.schema.LAYERS) against a written sample result.

Every layer of the sample district's GeoPackage is read back as QGIS or a planner's script would
read it and checked column by column: nothing undocumented, nothing missing, every type right,
no value outside its set or range. The checker itself is tested on hand-made frames first, so
that a passing contract test means the layers keep the contract, not that nothing was checked.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

import livingcircle as lc
from livingcircle import schema
from livingcircle.diagnostics import kept_source_columns
from livingcircle.schema import LAYERS, SYSTEM_TABLES, check_layer, vocabulary

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")

DOCS = Path(__file__).parents[1] / "docs" / "layers.md"


@pytest.fixture(scope="module")
def full_result(sample_result):
    """The sample result with the layers an option adds: the programme of ``--years``."""
    from livingcircle.programme import programme_layers

    prog = programme_layers(sample_result.layers, years=[2026, 2027, 2028], capacity=3000.0)
    return dataclasses.replace(sample_result, layers={**sample_result.layers, **prog})


@pytest.fixture(scope="module")
def written(full_result, tmp_path_factory):
    """The sample result written as ``livingcircle run`` writes it (without the map)."""
    out = tmp_path_factory.mktemp("contract") / "result"
    full_result.write(out, map_html=False)
    return out / "livingcircle.gpkg"


def _read(path: Path, layer: str) -> pd.DataFrame:
    """A layer read back with GDAL; a table without geometry as a plain DataFrame."""
    return pyogrio.read_dataframe(path, layer=layer, read_geometry=bool(LAYERS[layer].geometry))


def test_written_result_holds_exactly_the_contracts_layers(written):
    names = {n for n, _ in pyogrio.list_layers(written)}
    assert names == set(LAYERS) | set(SYSTEM_TABLES)


@pytest.mark.parametrize("layer", list(LAYERS))
def test_written_layer_keeps_the_contract(written, sample_result, layer):
    frame = _read(written, layer)
    diag = _read(written, "diagnostics")
    kept = kept_source_columns(diag, layer)
    vocab = vocabulary(sample_result.profile)
    assert check_layer(layer, frame, vocab, source_columns=kept) == []
    # every documented column is there (the sample has every optional input column)
    names = {n for n, _ in schema.expand_columns(layer, vocab)}
    assert names <= set(frame.columns)
    assert len(frame) > 0


def test_sample_keeps_exactly_one_source_column(written):
    # the AMap export's 地址 (address) is the one column of the sample livingcircle does not use
    diag = _read(written, "diagnostics")
    assert kept_source_columns(diag, "facilities") == ["地址"]
    assert "地址" in _read(written, "facilities").columns


@pytest.mark.parametrize("layer", list(LAYERS))
def test_result_in_memory_keeps_the_contract(full_result, layer):
    frame = full_result.layers[layer]
    kept = kept_source_columns(full_result.layers["diagnostics"], layer)
    assert check_layer(layer, frame, vocabulary(full_result.profile),
                       source_columns=kept) == []


def test_recommend_layers_keep_the_contract(sample_result):
    from livingcircle.clusters import recommend

    layers = recommend(sample_result, max_walk_min=5)
    vocab = vocabulary(sample_result.profile)
    assert set(layers) == {"clusters", "cluster_members", "proposed_sites", "before_after"}
    for name, frame in layers.items():
        assert check_layer(name, frame, vocab) == [], name


def test_cluster_members_elderly_share_is_a_number(written, sample_result):
    # was written as text ('0.312') because missing shares (pd.NA) were mixed with floats
    mem = _read(written, "cluster_members")
    assert mem["elderly_share"].dtype == np.float64
    comm = sample_result["communities"].set_index("community_id")["elderly_share"]
    want = comm.loc[mem["community_id"]].astype(float).to_numpy()
    np.testing.assert_array_equal(mem["elderly_share"].to_numpy(), want)


# --- the checker on hand-made frames ------------------------------------------------------------

VOCAB = {"category": ("kindergarten", "primary_school"), "level": ("5", "10", "15", "block"),
         "completeness": ("completeness_5",), "speed_profile": ("adult",),
         "minutes": ("5", "10", "15")}


def _scope(**cols):
    base = {"community_id": ["C1", "C2"], "in_scope": ["yes", "unknown"],
            "reasons": ["built_before_2001", "unknown_build_year"],
            "reasons_zh": ["2000年底前建成（1980年）", "建成年份未知"], "grade_d": [False, False],
            "note_zh": ["", ""], "note_en": ["", ""], "year_limit": [2000, 2000]}
    base.update(cols)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


def test_check_layer_accepts_a_frame_that_keeps_the_contract():
    assert check_layer("scope", _scope(), VOCAB) == []


@pytest.mark.parametrize(("change", "problem"), [
    ({"in_scope": ["yes", "maybe"]}, "scope.in_scope: values outside the contract ['maybe']"),
    ({"in_scope": [True, False]}, "scope.in_scope (yes/no/unknown) holds numbers (bool), not text"),
    ({"reasons": None}, "scope: column 'reasons' is missing"),
    ({"extra": [1, 2]}, "scope: column 'extra' is not in the contract"),
    ({"year_limit": [2000.5, 2000]}, "scope.year_limit (integer) holds fractions, not whole "
                                     "numbers"),
    ({"community_id": ["C1", None]}, "scope.community_id: 1 empty cells"),
    ({"community_id": ["C1", "C1"]}, "scope: 1 rows repeat the key ('community_id',)"),
])
def test_check_layer_names_each_breach(change, problem):
    assert check_layer("scope", _scope(**change), VOCAB) == [problem]


def test_check_layer_ranges_lists_and_patterns():
    comp = pd.DataFrame({"community_id": ["C1"], "completeness_5": [1.2], "completeness_10": [1.0],
                         "completeness_15": [0.5], "n_required": [2], "n_missing_required": [1],
                         "missing_required": ["kindergarten;school"],
                         "complete_community": [0], "complete_community_missing": [""],
                         "complete_community_not_judged": ["property_management"]})
    assert check_layer("completeness", comp, VOCAB) == [
        "completeness: column 'completeness_block' is missing",
        "completeness.completeness_5: 1.2 above 1.0",
        "completeness.missing_required: values outside the contract ['school']",
    ]
    # a share a hair above 1 from floating-point rounding is 1
    comp = comp.assign(completeness_5=[1 + 4e-16], completeness_block=[0.0],
                       missing_required=["kindergarten"])
    assert check_layer("completeness", comp, VOCAB) == []


def test_check_layer_empty_layer():
    # an empty layer (no proposals in a small area) reads back with text columns: no value to
    # judge a type by, and no missing column
    cols = [n for n, _ in schema.expand_columns("proposed_sites", VOCAB)]
    empty = gpd.GeoDataFrame(pd.DataFrame({c: pd.Series([], dtype=object) for c in cols}),
                             geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    assert check_layer("proposed_sites", empty, VOCAB) == []


def test_check_layer_geometry_types():
    gates = gpd.GeoDataFrame({"gate_id": ["G1"], "community_id": ["C1"], "src_row": [1]},
                             geometry=[Point(0, 0).buffer(1)], crs=4326)
    assert check_layer("gates", gates, VOCAB) == [
        "gates: geometry types ['Polygon'] not in ('Point',)"]


# --- the contract itself --------------------------------------------------------------------------

def test_every_column_has_type_and_label():
    for layer in LAYERS.values():
        assert layer.label_zh
        for c in layer.columns:
            assert c.type in schema.COLUMN_TYPES, (layer.name, c.name)
            assert c.label_zh, (layer.name, c.name)
            assert not (c.values and c.range), (layer.name, c.name)


def test_label_of_a_category_column():
    assert schema.label_zh("communities", "d_kindergarten", {"kindergarten": "幼儿园"}) == \
        "步行距离(米)·幼儿园"
    assert schema.label_zh("access", "n_10min") == "10分钟内数量"
    assert schema.label_zh("communities", "completeness_block") == "完整度·block"


def test_docs_layers_md_is_current():
    assert DOCS.read_text(encoding="utf-8") == schema.layers_markdown(), (
        "docs/layers.md is out of date: regenerate it with the command at its top")


# --- yes/no/unknown: one type, one parser, one way to count ---------------------------------------

@pytest.mark.parametrize(("cell", "want"), [
    ("是", True), ("有", True), (" YES ", True), ("Ｙ", True), ("√", True), (1, True),
    (1.0, True), (np.True_, True), ("否", False), ("无", False), ("没有", False), ("n", False),
    ("×", False), (0, False), ("0.0", False), (False, False), ("未知", None), ("不详", None),
    ("", None), (None, None), (np.nan, None), (pd.NA, None),
])
def test_parse_yes_no_words(cell, want):
    assert schema.parse_yes_no(cell) is want


def test_parse_yes_no_refuses_other_text_and_says_where():
    from livingcircle._errors import InputError

    with pytest.raises(InputError, match=r"^communities.csv: row 3: '部分' is not a yes/no value "
                                         r"\(是/否, 有/无"):
        schema.parse_yes_no("部分", where="communities.csv: row 3")
    with pytest.raises(InputError, match="2 is not a yes/no value"):
        schema.parse_yes_no(2)


def test_renovation_reads_yes_no_words_as_the_file_reader_does():
    # before issue 15 renovation had its own word list: '不详' and 'N' were errors there
    from livingcircle.renovation import renovation_scope

    words = pd.DataFrame({"community_id": ["a", "b", "c", "d"],
                          "build_year": [2005, 2005, 2005, 2005],
                          "safety_grade": ["B", "B", "B", "B"],
                          "complete_units": ["N", "×", "不详", "是"]})
    got = renovation_scope(words).set_index("community_id")["in_scope"].to_dict()
    # units without their own kitchen/bathroom (complete_units no) put a later building in scope
    assert got == {"a": "yes", "b": "yes", "c": "unknown", "d": "no"}


def test_is_yes_counts_only_yes(sample_result):
    from conftest import sample_policy_scope

    s = pd.Series(["yes", "no", "unknown", None, "yes"])
    assert schema.is_yes(s).tolist() == [True, False, False, False, True]
    want = sample_policy_scope()  # the policy rule on the raw files, independent of livingcircle
    assert int(schema.is_yes(sample_result["communities"]["in_scope"]).sum()) == \
        int((want == "yes").sum()) == 60


# --- numbers defined once -------------------------------------------------------------------------

def test_level_minutes_are_the_profiles_levels():
    from livingcircle import settings

    minutes = [lv.minutes for lv in lc.load_profile().levels.values() if lv.minutes is not None]
    assert sorted(minutes) == sorted(settings.level_minutes) == [5, 10, 15]


def test_access_counts_and_isochrones_follow_level_minutes(monkeypatch):
    from conftest import lattice, points

    from livingcircle import settings
    from livingcircle.accessibility import measure_access
    from livingcircle.isochrones import isochrones

    monkeypatch.setattr(settings, "level_minutes", (2, 4))
    net = lattice()
    comm = points(["A"], [(0, 0)], "community_id")
    # kindergartens at 100, 300 and 500 m walking distance; adult 80 m/min: 160 m and 320 m
    fac = points(["K1", "K2", "K3"], [(100, 0), (300, 0), (400, 100)], "facility_id",
                 categories=["kindergarten"] * 3)
    acc = measure_access(net, comm, fac, speed_profiles=["adult"])
    kg = acc.table[acc.table["category"] == "kindergarten"].iloc[0]
    assert [c for c in acc.table.columns if c.startswith("n_")] == ["n_2min", "n_4min"]
    assert (kg["n_2min"], kg["n_4min"]) == (1, 2)
    iso = isochrones(acc)
    assert iso["minutes"].tolist() == [2, 4]
    assert iso["walk_m"].tolist() == [160.0, 320.0]


def test_elderly_share_threshold_is_the_setting(monkeypatch):
    from livingcircle import settings
    from livingcircle.renovation import renovation_needs, renovation_scope

    comm = pd.DataFrame({"community_id": ["a"], "build_year": [1990], "safety_grade": ["B"],
                         "complete_units": [True], "elderly_share": [0.30]})
    scope = renovation_scope(comm)
    prof = lc.load_profile()
    needs = renovation_needs(comm, None, scope, prof)
    detail = needs.set_index("item_id").loc["barrier_free", "trigger_detail"]
    assert detail == f"elderly_share=0.30 >= {settings.elderly_share_threshold:g}" == \
        "elderly_share=0.30 >= 0.25"
    monkeypatch.setattr(settings, "elderly_share_threshold", 0.35)
    needs = renovation_needs(comm, None, scope, prof)
    assert "barrier_free" not in needs.loc[needs["assessment"] == "need", "item_id"].tolist()


# --- batch: the summary table ---------------------------------------------------------------------

def test_batch_summary_row_keeps_the_contract(sample_result):
    from livingcircle import batch
    from livingcircle.summaries import area_summary

    figures = area_summary(sample_result)
    row = {"name": "示例 sample", "status": "done", "error": "", "seconds": 12.5, **figures,
           "folder": "sample"}
    table = pd.DataFrame([row])
    assert check_layer("summary", table, vocabulary(sample_result.profile)) == []
    assert figures["in_scope"] == 60  # 'yes' only (independent count: test_is_yes_counts_only_yes)
    zh = batch.summary_table_zh(table)
    assert list(zh.columns[:4]) == ["片区", "状态", "错误原因", "用时(秒)"]
    assert "5分钟生活圈平均完整度(%)" in zh.columns
    assert zh.loc[0, "纳入改造范围小区数"] == 60


def test_label_dictionaries_come_from_the_contract():
    from livingcircle import batch, export, renovation

    assert renovation.PLAN_LABELS_ZH == schema.labels_zh("plan")
    assert batch.SUMMARY_COLUMNS_ZH == schema.labels_zh("summary")
    assert all(schema.LAYER_LABELS_ZH[k] == v for k, v in export.LAYER_LABELS_ZH.items())
    # the labels the annual plan's CSV has always had
    assert renovation.PLAN_LABELS_ZH["rank"] == "排序"
    assert schema.labels_zh("clusters")["rank"] == "排名"
