"""The figures every output shows (livingcircle.summaries): one meaning of each count."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import sample_policy_scope

import livingcircle as lc
from livingcircle.sample import is_sample, synthetic_label
from livingcircle.summaries import (
    in_scope_mask,
    n_complete,
    n_in_scope,
    scope_counts,
    share_met,
    total_households,
)


@pytest.fixture
def comm() -> pd.DataFrame:
    return pd.DataFrame({
        "community_id": ["a", "b", "c", "d", "e"],
        "in_scope": ["yes", "no", "unknown", "yes", None],
        "n_required": [4, 4, 0, 5, 3],
        "n_missing_required": [1, 0, 0, 5, np.nan],
        "households": [120, np.nan, "80", 0, 30],
    })


def test_share_met_is_required_categories_met_over_required(comm):
    got = share_met(comm)
    # a: 3 of 4; b: 4 of 4; c: no required category, cannot be told; d: 0 of 5; e: unknown
    assert got.iloc[:2].tolist() == [0.75, 1.0]
    assert math.isnan(got.iloc[2]) and math.isnan(got.iloc[4])
    assert got.iloc[3] == 0.0
    assert got.index.equals(comm.index)


def test_share_met_falls_back_to_the_5_minute_completeness():
    t = pd.DataFrame({"completeness_5": [0.5, "0.25", None]}, index=[7, 8, 9])
    got = share_met(t)
    assert got.loc[7] == 0.5 and got.loc[8] == 0.25 and math.isnan(got.loc[9])
    assert share_met(pd.DataFrame({"x": [1, 2]})).isna().all()


def test_only_yes_is_in_scope(comm):
    assert in_scope_mask(comm).tolist() == [True, False, False, True, False]
    assert n_in_scope(comm) == 2
    assert scope_counts(comm) == {"yes": 2, "no": 1, "unknown": 1}
    assert n_in_scope(comm.drop(columns="in_scope")) == 0


def test_complete_communities_and_households(comm):
    assert n_complete(comm) == 2  # b and c miss no required category; e is unknown
    assert n_complete(comm.drop(columns="n_missing_required")) == 0
    assert total_households(comm) == 230  # 120 + 80 + 0 + 30; the unknown one left out
    assert total_households(comm.drop(columns="households")) == 0


def test_sample_is_recognised_by_metadata_or_its_osm_file(tmp_path):
    assert is_sample(SimpleNamespace(metadata={"synthetic": True}))
    osm = tmp_path / "_sample" / "district.osm"
    assert is_sample(SimpleNamespace(metadata={"inputs": [{"path": str(osm)}]}))
    other = SimpleNamespace(metadata={"inputs": [{"path": str(tmp_path / "city.osm.pbf")}]})
    assert not is_sample(other)
    assert synthetic_label(other) is None
    assert synthetic_label(SimpleNamespace(metadata={"synthetic": True})) == lc.SYNTHETIC_LABEL


def test_sample_district_counts_agree_with_the_raw_file_and_the_gaps(sample_result):
    comm = sample_result.layers["communities"]
    want = sample_policy_scope()  # the policy rule on the files' columns, not livingcircle's code
    assert scope_counts(comm) == {k: int((want == k).sum()) for k in ("yes", "no", "unknown")}
    assert n_in_scope(comm) == 60
    # share met from the gaps layer itself: required categories met / required, per community
    g = sample_result.layers["gaps"]
    g = g[g["required"].astype(bool)]
    per = g.groupby(g["community_id"].astype(str))["met"].agg(lambda s: s.astype(bool).mean())
    got = pd.Series(share_met(comm).to_numpy(), index=comm["community_id"].astype(str))
    np.testing.assert_allclose(got.reindex(per.index).to_numpy(), per.to_numpy(), rtol=1e-12)
    assert synthetic_label(sample_result) == lc.SYNTHETIC_LABEL
