import numpy as np
import pytest
from conftest import CRS, lattice, points, xy

from livingcircle.accessibility import measure_access
from livingcircle.isochrones import isochrones


def _proj(iso, crs="EPSG:32652"):
    return iso.to_crs(crs)


def test_partial_edges_are_cut_exactly_at_the_threshold():
    net = lattice()
    comm = points(["A"], [(0, 0)], "community_id")
    iso = _proj(isochrones(net, comm, minutes=[1.5], speed_profiles=[100.0], buffer_m=1.0))
    poly = iso.geometry.iloc[0]
    assert iso["walk_m"].iloc[0] == pytest.approx(150.0)
    for inside in [(149, 0), (0, 149), (100, 49), (49, 100), (50, 0)]:
        assert poly.contains(xy(*inside)), inside
    for outside in [(152, 0), (0, 152), (100, 52), (52, 100), (200, 0)]:
        assert not poly.contains(xy(*outside)), outside
    # reachable street length 400 m, buffered 1 m each side (+ round ends)
    assert iso["area_m2"].iloc[0] == pytest.approx(400 * 2, rel=0.02)


def test_nested_and_faster_never_shrinks():
    net = lattice(7)
    comm = points(["A", "B"], [(300, 300), (120, 0)], "community_id")
    acc = measure_access(net, comm, comm.rename(columns={"community_id": "facility_id"})
                         .assign(categories="kindergarten"), speed_profiles=["winter", "adult"])
    iso = _proj(isochrones(acc, minutes=(5, 10, 15)))
    for _key, grp in iso.groupby(["community_id", "speed_profile"]):
        g = grp.sort_values("minutes").geometry.tolist()
        assert g[0].buffer(1e-6).contains(g[0])
        assert g[1].buffer(1e-6).contains(g[0]) and g[2].buffer(1e-6).contains(g[1])
    for cid in ["A", "B"]:
        for m in (5, 10, 15):
            slow = iso[(iso.community_id == cid) & (iso.minutes == m)
                       & (iso.speed_profile == "winter")].geometry.iloc[0]
            fast = iso[(iso.community_id == cid) & (iso.minutes == m)
                       & (iso.speed_profile == "adult")].geometry.iloc[0]
            assert fast.buffer(1e-6).contains(slow)
    a = iso[iso.community_id == "A"]
    assert (a["ped_shed_ratio"] > 0).all() and (a["ped_shed_ratio"] < 1.2).all()


def test_holes_kept_where_the_network_does_not_reach():
    # remove the streets around nothing: a 3x3 lattice of 300 m blocks leaves holes in the middle
    net = lattice(4, spacing=300.0)
    comm = points(["A"], [(0, 0)], "community_id")
    iso = _proj(isochrones(net, comm, minutes=[30], speed_profiles=[100.0], buffer_m=25))
    poly = iso.geometry.iloc[0]
    assert not poly.contains(xy(150, 150))  # the middle of a block
    assert poly.contains(xy(150, 0))


def test_unattached_origin_gives_empty_isochrone():
    net = lattice()
    comm = points(["FAR"], [(5000, 5000)], "community_id")
    iso = isochrones(net, comm, minutes=[5])
    assert iso["area_m2"].iloc[0] == 0 and not iso["reached"].iloc[0]
    assert np.isfinite(iso["circle_area_m2"].iloc[0])


def test_coverage_area_of_a_category_and_the_residential_area_it_leaves():
    import geopandas as gpd
    import shapely

    from livingcircle.gaps import uncovered_residential
    from livingcircle.isochrones import coverage_areas

    net = lattice()
    fac = points(["K"], [(0, 0)], "facility_id", categories=["kindergarten"])
    blocks = [shapely.box(xy(10, 10).x, xy(10, 10).y, xy(90, 90).x, xy(90, 90).y),
              shapely.box(xy(310, 310).x, xy(310, 310).y, xy(390, 390).x, xy(390, 390).y)]
    comm = gpd.GeoDataFrame({"community_id": ["NEAR", "FAR"]}, geometry=blocks, crs=CRS)
    acc = measure_access(net, comm, fac)
    cov = _proj(coverage_areas(acc, fac, buffer_m=1.0, categories=["kindergarten"]))
    poly = cov.geometry.iloc[0]
    # 300 m from the corner node: along the streets, cut exactly at 300 m
    assert poly.contains(xy(299, 0)) and not poly.contains(xy(302, 0))
    assert poly.contains(xy(100, 199)) and not poly.contains(xy(100, 202))
    # with a 25 m buffer, the street-side strips of the near block are covered, not the far block
    cov = coverage_areas(acc, fac, buffer_m=25.0, categories=["kindergarten"])
    unc = uncovered_residential(cov, comm.to_crs(4326))
    far = unc[(unc.community_id == "FAR") & (unc.category == "kindergarten")]
    assert far["uncovered_area_m2"].iloc[0] == pytest.approx(80 * 80, rel=1e-3)
    assert far["uncovered_share"].iloc[0] == pytest.approx(1.0)
    near = unc[(unc.community_id == "NEAR") & (unc.category == "kindergarten")]
    # the block is 10 m from a street on all four sides: 15 m deep strips are covered,
    # a 50 m x 50 m core is not
    expected = (50 * 50) / (80 * 80)
    assert near["uncovered_share"].iloc[0] == pytest.approx(expected, abs=0.01)
