"""Runs that cannot be right are refused; communities belong to the area their point lies in.

Issue 14 items 4 and 5: communities nowhere near the network stop the run with the likely
cause; a gate far from its own community is set aside; communities outside the study boundary
are recorded, not analysed.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, box

import livingcircle as lc
from livingcircle import _validate, io, settings
from livingcircle._errors import CoordinateError
from livingcircle.diagnostics import Diagnostics

SAMPLE = lc.sample_paths()
UTM = 32652  # the sample district (Harbin) lies in UTM zone 52N


def _records(result_or_diag, issue):
    d = result_or_diag["diagnostics"] if not isinstance(result_or_diag, Diagnostics) else \
        result_or_diag.to_frame()
    return d[d["issue"] == issue].sort_values("row").reset_index(drop=True)


def test_communities_of_another_city_stop_the_run(tmp_path):
    comm = gpd.read_file(SAMPLE["communities"])
    moved = comm.copy()
    moved["geometry"] = moved.translate(3.0, 0.5)  # about 240 km east-north-east: another city
    path = tmp_path / "other_city.gpkg"
    moved.to_file(path)
    x0, y0, x1, y1 = moved.total_bounds
    with pytest.raises(CoordinateError) as err:
        lc.run(osm=SAMPLE["osm"], communities=path, facilities=SAMPLE["facilities"],
               progress=False, clusters=False)
    msg = str(err.value)
    assert msg.startswith(f"{path}: 80 of 80 communities (100%) have no walkable street within "
                          "150 m")
    assert f"Communities: lon {x0:.4f}…{x1:.4f}, lat {y0:.4f}…{y1:.4f}" in msg
    assert "network: lon 126.6" in msg and "coordinate system" in msg
    assert "another city" in msg


@pytest.fixture(scope="module")
def partly_bad(tmp_path_factory):
    """The sample with two communities moved 8 km north, one gate 600 km and one 200 m away."""
    d = tmp_path_factory.mktemp("partly_bad")
    comm = gpd.read_file(SAMPLE["communities"]).to_crs(UTM)
    far = comm["community_id"].isin(["C005", "C006"])
    comm.loc[far, "geometry"] = comm.loc[far].translate(0, 8000)
    comm.to_crs(4326).to_file(d / "communities.gpkg")
    gates = gpd.read_file(SAMPLE["gates"]).to_crs(UTM)
    gates = gates[~gates["community_id"].isin(["C005", "C006"])].reset_index(drop=True)
    g600, g200 = 9, 20  # 0-based positions: rows 10 and 21 of the file
    gates.loc[g600, "geometry"] = gates.loc[[g600]].translate(0, 600_000).iloc[0]
    gates.loc[g200, "geometry"] = gates.loc[[g200]].translate(200, 200).iloc[0]
    gates.to_crs(4326).to_file(d / "gates.gpkg")
    cgeo = comm.set_index("community_id").geometry
    expected = {int(i) + 1: (gates.loc[i, "gate_id"], gates.loc[i, "community_id"],
                             gates.geometry[i].distance(cgeo[gates.loc[i, "community_id"]]))
                for i in (g600, g200)}
    with pytest.warns(UserWarning) as caught:
        result = lc.run(osm=SAMPLE["osm"], communities=d / "communities.gpkg",
                        gates=d / "gates.gpkg", facilities=SAMPLE["facilities"],
                        speed_profiles=["adult"], isochrone_minutes=(5,), progress=False,
                        clusters=False)  # one isochrone level: checked here are the inputs
    return result, expected, d, [str(w.message) for w in caught]


def test_few_unreachable_communities_are_kept_and_counted(partly_bad):
    result, _, d, messages = partly_bad
    assert len(result["communities"]) == 80
    far = _records(result, "far_from_network")
    assert sorted(far["feature_id"]) == ["C005", "C006"]
    assert (far["action"] == "kept").all()
    assert f"{d / 'communities.gpkg'}: 2 of 80 communities have no walkable street within " \
           "150 m (C005, C006)" in "\n".join(messages)
    reached = result["communities"].set_index("community_id")["n_categories_reached"]
    assert reached[["C005", "C006"]].tolist() == [0, 0]


def test_gates_far_from_their_community_are_set_aside(partly_bad):
    result, expected, d, messages = partly_bad
    rec = _records(result, "gate_far_from_community")
    assert rec["row"].tolist() == sorted(expected)
    for r in rec.itertuples():
        gate_id, cid, dist = expected[r.row]
        assert r.feature_id == gate_id and r.action == "dropped"
        assert r.source == str(d / "gates.gpkg")
        shown = float(r.detail.split(" lies ")[1].split(" m ")[0].replace(",", ""))
        assert shown == pytest.approx(dist, abs=0.5 + 1e-9)  # rounded to whole metres
        assert f"of its community {cid} (tolerance 100 m)" in r.detail
    assert expected[min(expected)][2] > 590_000 and 100 < expected[max(expected)][2] < 300
    dropped = set(rec["feature_id"])
    assert not dropped & set(result["gates"]["gate_id"])
    # the sample's own gates all lie on their outlines (0.008 m at most), so none else is dropped
    assert len(result["gates"]) == len(gpd.read_file(d / "gates.gpkg")) - 2
    assert any("set aside 2 gate(s)" in m for m in messages)


def test_gate_of_a_point_community_checked_against_the_point(tmp_path):
    centre = Point(500_000, 5_070_000)
    comm = gpd.GeoDataFrame({"community_id": ["P1"]}, geometry=[centre], crs=UTM)
    gates = gpd.GeoDataFrame(
        {"gate_id": ["near", "far"], "community_id": ["P1", "P1"]},
        geometry=[Point(500_250, 5_070_000), Point(500_350, 5_070_000)], crs=UTM)
    gates.to_file(tmp_path / "gates.gpkg")
    diag = Diagnostics()
    with pytest.warns(UserWarning, match="set aside 1 gate.*rows 2; farthest 350 m"):
        out = io.read_gates(tmp_path / "gates.gpkg", communities=comm.to_crs(4326),
                            diagnostics=diag)
    assert out["gate_id"].tolist() == ["near"]
    (rec,) = diag.records
    assert (rec["issue"], rec["row"], rec["feature_id"]) == ("gate_far_from_community", 2, "far")
    assert settings.gate_point_tolerance_m == 300.0
    assert "350 m from the point of its community P1 (tolerance 300 m)" in rec["detail"]


def test_communities_outside_the_boundary_are_recorded_not_analysed(tmp_path):
    comm = gpd.read_file(SAMPLE["communities"]).to_crs(UTM)
    bnd = gpd.read_file(SAMPLE["boundary"]).to_crs(UTM).union_all()
    # six copies 2 km east of the district's east edge: inside the old 5 km limit
    extra = comm.head(6).copy()
    shift = bnd.bounds[2] - extra.total_bounds[0] + 2000
    extra["geometry"] = extra.translate(shift, 0)
    extra["community_id"] = [f"X{i}" for i in range(6)]
    both = gpd.GeoDataFrame(
        pd.concat([comm, extra], ignore_index=True), crs=UTM).to_crs(4326)
    both.to_file(tmp_path / "communities.gpkg")
    diag = Diagnostics()
    with pytest.warns(UserWarning, match="80 of 86 communities are in the study area; set aside "
                                         "6 outside the study boundary"):
        out = io.read_communities(tmp_path / "communities.gpkg",
                                  boundary=io.read_boundary(SAMPLE["boundary"]), diagnostics=diag)
    assert len(out) == 80 and not out["community_id"].str.startswith("X").any()
    rec = _records(diag, "outside_study_area")
    assert rec["row"].tolist() == list(range(81, 87))
    assert rec["feature_id"].tolist() == [f"X{i}" for i in range(6)]
    # an independent count: representative points of the projected copies, against the boundary
    assert not extra.representative_point().within(bnd).any()
    # the copies' gates go with their communities, recorded as such (not as unknown ids)
    gates = gpd.read_file(SAMPLE["gates"]).to_crs(UTM)
    ids = dict(zip(comm.head(6)["community_id"], extra["community_id"], strict=True))
    moved = gates[gates["community_id"].isin(ids)].copy()
    moved["geometry"] = moved.translate(shift, 0)
    moved["community_id"] = moved["community_id"].map(ids)
    moved["gate_id"] = "X-" + moved["gate_id"]
    all_gates = gpd.GeoDataFrame(pd.concat([gates, moved], ignore_index=True),
                                 crs=UTM).to_crs(4326)
    all_gates.to_file(tmp_path / "gates.gpkg")
    out_gates = io.read_gates(tmp_path / "gates.gpkg", communities=out, diagnostics=diag)
    assert len(out_gates) == len(gates)
    rec = _records(diag, "community_outside_study_area")
    assert rec["row"].tolist() == list(range(len(gates) + 1, len(all_gates) + 1))
    assert rec["feature_id"].tolist() == moved["gate_id"].tolist()
    assert len(_records(diag, "unknown_community")) == 0


def test_representative_point_decides_and_first_area_wins_on_a_shared_border():
    west, east = box(0, 0, 1, 1), box(1, 0, 2, 1)
    comm = gpd.GeoDataFrame(
        {"community_id": ["W", "E", "edge", "straddle", "out"], "src_row": [1, 2, 3, 4, 5]},
        geometry=[box(0.2, 0.2, 0.4, 0.4), box(1.5, 0.5, 1.7, 0.7),
                  Point(1.0, 0.5),  # exactly on the shared border
                  box(0.6, 0.2, 1.2, 0.4),  # mostly west: its representative point decides
                  box(5, 5, 6, 6)], crs=4326)
    diag_w, diag_e = Diagnostics(), Diagnostics()
    with pytest.warns(UserWarning):
        in_w = _validate.keep_in_area(comm, west, layer="communities", source="c",
                                      diagnostics=diag_w)
        in_e = _validate.keep_in_area(comm, east, claimed=[("west", west)], layer="communities",
                                      source="c", diagnostics=diag_e)
    assert shapely.get_x(shapely.point_on_surface(box(0.6, 0.2, 1.2, 0.4))) < 1.0  # west
    assert in_w["community_id"].tolist() == ["W", "edge", "straddle"]
    assert in_e["community_id"].tolist() == ["E"]
    other = _records(diag_e, "in_other_area")
    assert other["feature_id"].tolist() == ["edge"]
    assert "lies in area 'west'" in other["detail"].iloc[0]
    outside = _records(diag_e, "outside_study_area")["feature_id"]
    assert np.array_equal(outside, ["W", "straddle", "out"])
