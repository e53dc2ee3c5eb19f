"""Every diagnostics row names its file, its 1-based source row and its id (issue 14 item 15)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio
import pytest

import livingcircle as lc
from livingcircle.diagnostics import FILE_ISSUES
from livingcircle.pipeline import run_summary

SAMPLE = Path(__file__).parents[1] / "data" / "sample_district"
ID_LAYERS = {"communities": "community_id", "gates": "gate_id", "facilities": "facility_id",
             "sites": "site_id"}


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    """The sample district with a few bad rows put into its files, and one run of it."""
    d = tmp_path_factory.mktemp("injected")
    comm = pyogrio.read_dataframe(SAMPLE / "communities.gpkg")
    comm["build_year"] = comm["build_year"].map(lambda y: None if pd.isna(y) else str(int(y)))
    comm.loc[4, "build_year"] = "90年代"   # row 5: unknown, recorded
    comm.loc[5, "build_year"] = "1998年"   # row 6: read as 1998, recorded
    comm.loc[6, "floors"] = None
    bad = comm.iloc[[0]].copy()
    bad["community_id"] = "C999"
    bad.geometry = [None]                  # row 81: no geometry, set aside
    comm = pd.concat([comm, bad], ignore_index=True)
    pyogrio.write_dataframe(comm, d / "communities.gpkg", layer="communities")

    gates = pyogrio.read_dataframe(SAMPLE / "gates.gpkg")
    ghost = gates.iloc[[0]].copy()
    ghost["gate_id"], ghost["community_id"] = "G-GHOST", "C998"  # row 152: unknown community
    pyogrio.write_dataframe(pd.concat([gates, ghost], ignore_index=True), d / "gates.gpkg",
                            layer="gates")

    fac = pyogrio.read_dataframe(SAMPLE / "facilities.gpkg")
    fac.loc[2, "category"] = " Kindergarten "  # row 3: normalised, kept
    fac.loc[3, "category"] = "helipad"         # row 4: unknown category, set aside
    pyogrio.write_dataframe(fac, d / "facilities.gpkg", layer="facilities")

    amap = (SAMPLE / "facilities_amap_gcj02.csv").read_text(encoding="utf-8-sig")
    amap += ("A9001,无坐标超市,购物服务;超市,060400,地址,,\n"             # row 120: no coordinates
             "A9002,某某科技有限公司,公司企业;公司,170200,地址,126.640150,45.752272\n")  # 121
    (d / "facilities_amap_gcj02.csv").write_text(amap, encoding="utf-8-sig")

    sites = pyogrio.read_dataframe(SAMPLE / "sites.gpkg")
    sites.loc[2, "site_type"] = "储藏室"       # row 3: unknown type, kept as 'other'
    pyogrio.write_dataframe(sites, d / "sites.gpkg", layer="sites")

    with pytest.warns(UserWarning) as seen:
        result = lc.run(osm=SAMPLE / "district.osm", communities=d / "communities.gpkg",
                        gates=d / "gates.gpkg",
                        facilities=[d / "facilities.gpkg", d / "facilities_amap_gcj02.csv"],
                        sites=d / "sites.gpkg", boundary=SAMPLE / "boundary.geojson",
                        speed_profiles=("adult",), isochrone_minutes=(5,), clusters=False,
                        progress=False)
    return d, result, [str(w.message) for w in seen]


def test_every_record_names_file_row_and_id(injected):
    d, result, _ = injected
    diag = result.layers["diagnostics"]
    n_rows = {str(d / f): len(pyogrio.read_dataframe(d / f, read_geometry=False))
              for f in ("communities.gpkg", "gates.gpkg", "facilities.gpkg", "sites.gpkg")}
    n_rows[str(d / "facilities_amap_gcj02.csv")] = 121
    assert len(diag) >= 8
    for rec in diag.to_dict("records"):
        assert isinstance(rec["source"], str) and rec["source"], rec
        if rec["issue"] in FILE_ISSUES:
            continue
        assert rec["source"] in n_rows, rec  # every other record is about a row of an input
        assert 1 <= rec["row"] <= n_rows[rec["source"]], rec
        if rec["layer"] in ID_LAYERS:
            assert isinstance(rec["feature_id"], str) and rec["feature_id"], rec


def test_injected_rows_are_found_where_they_were_put(injected):
    d, result, _ = injected
    diag = result.layers["diagnostics"]
    got = {(Path(r["source"]).name, r["row"], r["feature_id"], r["issue"], r["action"])
           for r in diag.to_dict("records") if r["issue"] not in FILE_ISSUES}
    assert got == {
        ("communities.gpkg", 5, "C005", "value_unknown", "repaired"),
        ("communities.gpkg", 6, "C006", "value_repaired", "repaired"),
        ("communities.gpkg", 81, "C999", "empty_geometry", "dropped"),
        ("gates.gpkg", 152, "G-GHOST", "unknown_community", "dropped"),
        ("facilities.gpkg", 4, "F0004", "unknown_category", "dropped"),
        ("facilities_amap_gcj02.csv", 120, "A9001", "missing_coordinates", "dropped"),
        ("facilities_amap_gcj02.csv", 121, "A9002", "unclassified", "dropped"),
        ("sites.gpkg", 3, "S03", "unknown_site_type", "repaired"),
    }
    fac = result.layers["facilities"]
    assert fac.loc[fac["facility_id"] == "F0003", "category"].tolist() == ["kindergarten"]


def test_console_lines_summarise_the_rows_set_aside(injected):
    d, result, warned = injected
    lines = [
        f"{d / 'communities.gpkg'}: 1 row set aside — 1 no geometry (row 81); see the "
        "diagnostics layer",
        f"{d / 'gates.gpkg'}: 1 row set aside — 1 unknown community (row 152); see the "
        "diagnostics layer",
        f"{d / 'facilities.gpkg'}: 1 row set aside — 1 unknown category (row 4); see the "
        "diagnostics layer",
        f"{d / 'facilities_amap_gcj02.csv'}: 2 rows set aside — 1 no coordinates (row 120), "
        "1 no category matched (row 121); see the diagnostics layer",
    ]
    for line in lines:
        assert warned.count(line) == 1  # warned once by the reader
        assert run_summary(result, []).splitlines().count(line) == 1  # and in the run's summary


def test_records_made_after_reading_find_file_and_row(tmp_path):
    # a reader's frame carries its file; a later step (here: a copy in another CRS, as
    # measure_access makes) names the file and the 1-based row of the k-th feature
    from livingcircle.diagnostics import where_in

    gates = lc.io.read_gates(SAMPLE / "gates.gpkg")
    projected = gates.to_crs(32652).iloc[10:]
    assert where_in(projected, 2) == {"source": str(SAMPLE / "gates.gpkg"), "row": 13}
    both = pd.concat([lc.io.read_facilities(SAMPLE / "facilities.gpkg"),
                      lc.io.read_facilities(SAMPLE / "facilities_amap_gcj02.csv",
                                            coord_crs="gcj02")], ignore_index=True)
    assert where_in(both, len(both) - 1) == {"source": "facilities_amap_gcj02.csv", "row": 119}


def test_every_reason_a_row_is_set_aside_reads_as_words():
    """Each issue a reader or check records with action 'dropped' has console words: a batch
    area of the sample printed '75 community outside study area' and '3 gate far from
    community' before they had."""
    import re

    from livingcircle.diagnostics import ISSUE_TEXT, reasons_text

    code = "".join(p.read_text(encoding="utf-8")
                   for p in Path(lc.__file__).parent.glob("*.py"))
    dropped = set(re.findall(r'"([a-z_]+)"(?: if [^,]+ else "[a-z_]+")?,\s*action="dropped"',
                             code))
    dropped |= set(re.findall(r'else "([a-z_]+)",\s*action="dropped"', code))
    assert {"gate_far_from_community", "community_outside_study_area", "outside_study_area",
            "in_other_area", "far_from_network"} <= dropped
    assert sorted(dropped - set(ISSUE_TEXT)) == []
    assert reasons_text({"community_outside_study_area": [7, 8, 9, 10],
                         "gate_far_from_community": [1, 2, 3]}) == (
        "4 of a community outside the study area (rows 7, 8, 9 and 1 more), "
        "3 far from their own community (rows 1, 2, 3)")
