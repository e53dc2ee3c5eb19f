"""A city's isochrones on disk: the spilled layer, and a run that streams its isochrones."""

import gc
import shutil

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

import livingcircle as lc
from livingcircle._spill import SpilledLayer


def _chunk(k, n=4):
    geoms = [shapely.box(k, i, k + 0.5, i + 0.5) for i in range(n)]
    if k == 1:
        geoms[0] = shapely.MultiPolygon([shapely.box(1, 0, 1.2, 0.2), shapely.box(1.3, 0, 1.4, 1)])
        geoms[1] = shapely.Polygon()
    return gpd.GeoDataFrame({"community_id": [f"c{k}{i}" for i in range(n)],
                             "minutes": np.full(n, 5 * (k + 1)), "reached": [True] * n},
                            geometry=geoms, crs=4326)


def test_spilled_layer_writes_what_one_write_of_the_whole_frame_writes(tmp_path):
    layer = SpilledLayer("iso", directory=tmp_path)
    chunks = [_chunk(k) for k in range(3)]
    for c in chunks:
        layer.append(c)
    whole = pd.concat(chunks, ignore_index=True)
    assert len(layer) == 12 and layer.geometry_type == "MultiPolygon"
    pd.testing.assert_frame_equal(layer.attributes, pd.DataFrame(whole.drop(columns="geometry")))
    pyogrio.write_dataframe(whole, tmp_path / "one.gpkg", layer="iso", driver="GPKG")
    layer.write_to(tmp_path / "chunks.gpkg", layer="iso", chunk_size=5)
    a = pyogrio.read_info(tmp_path / "one.gpkg", layer="iso")
    b = pyogrio.read_info(tmp_path / "chunks.gpkg", layer="iso")
    assert (a["geometry_type"], a["features"], list(a["fields"]), list(a["dtypes"])) == \
        (b["geometry_type"], b["features"], list(b["fields"]), list(b["dtypes"]))
    x = pyogrio.read_dataframe(tmp_path / "one.gpkg", layer="iso")
    y = pyogrio.read_dataframe(tmp_path / "chunks.gpkg", layer="iso")
    pd.testing.assert_frame_equal(pd.DataFrame(x.drop(columns="geometry")),
                                  pd.DataFrame(y.drop(columns="geometry")))
    assert shapely.equals_exact(x.geometry.values, y.geometry.values, 0).all()
    assert len(layer.read(where="minutes = 10")) == 4
    folder = layer.path.parent
    assert folder.is_dir()
    del layer
    gc.collect()
    assert not folder.exists()  # the temporary folder goes with the layer


def test_a_spilled_chunks_missing_text_is_null_in_its_file_and_where_it_is_written(tmp_path):
    """pandas' NA in a text column of a chunk is a NULL field, never the text "<NA>".

    The spilled file and the result written from it, as :func:`results.write_vector` writes a
    frame held in memory (pyogrio's row-by-row writer turns NA into text).
    """
    import sqlite3

    chunk = _chunk(0).assign(heritage=pd.Series(["文保", pd.NA, None, pd.NaT], dtype=object))
    before = chunk.copy()
    layer = SpilledLayer("iso", directory=tmp_path)
    layer.append(chunk)
    layer.write_to(tmp_path / "out.gpkg", layer="iso")
    pd.testing.assert_frame_equal(chunk, before)  # the caller's chunk is left as it was
    for path in (layer.path, tmp_path / "out.gpkg"):
        with sqlite3.connect(path) as con:
            kinds = con.execute("SELECT typeof(heritage) FROM iso").fetchall()
        assert [k for (k,) in kinds] == ["text", "null", "null", "null"], path
    assert layer.read()["heritage"].iloc[1:].isna().all()


def test_a_spilled_layer_of_one_type_is_copied_by_gdal_as_the_whole_frame_is_written(
        tmp_path, monkeypatch):
    # nothing to promote: GDAL copies the rows through an Arrow stream (no geometry decoded
    # in Python); the table, its declared type and every value are those of one write
    import sqlite3

    from livingcircle import _spill

    chunks = [_chunk(k) for k in (0, 2, 3)]
    chunks[1].loc[1, "geometry"] = shapely.Polygon()  # an empty polygon keeps its type
    chunks[1].loc[2, "geometry"] = None
    for c, notes in zip(chunks, (["a"] * 4, [None] * 4, ["文保", None, "x", None]), strict=True):
        c["note"] = pd.Series(notes, dtype=object)
    layer = SpilledLayer("iso", directory=tmp_path)
    for c in chunks:
        layer.append(c)
    assert layer.geometry_type == "Polygon"
    copied, real = [], _spill._copy_by_arrow
    monkeypatch.setattr(_spill, "_copy_by_arrow",
                        lambda *a, **kw: copied.append(a) or real(*a, **kw))
    whole = pd.concat(chunks, ignore_index=True)
    pyogrio.write_dataframe(_spill.missing_as_none(whole), tmp_path / "one.gpkg", layer="iso",
                            driver="GPKG")
    pyogrio.write_dataframe(whole.head(2), tmp_path / "copy.gpkg", layer="first",
                            driver="GPKG")
    layer.write_to(tmp_path / "copy.gpkg", layer="iso", append=True, chunk_size=3)  # 4 batches
    assert len(copied) == 1
    assert [n for n, _ in pyogrio.list_layers(tmp_path / "copy.gpkg")] == ["first", "iso"]
    a = pyogrio.read_info(tmp_path / "one.gpkg", layer="iso")
    b = pyogrio.read_info(tmp_path / "copy.gpkg", layer="iso")
    for key in ("geometry_type", "geometry_name", "fid_column", "features", "crs"):
        assert a[key] == b[key], key
    assert list(a["fields"]) == list(b["fields"]) and list(a["dtypes"]) == list(b["dtypes"])
    with sqlite3.connect(tmp_path / "one.gpkg") as x, sqlite3.connect(tmp_path / "copy.gpkg") as y:
        assert x.execute("SELECT * FROM iso ORDER BY fid").fetchall() == \
            y.execute("SELECT * FROM iso ORDER BY fid").fetchall()  # GeoPackage blobs too
        sql = "SELECT sql FROM sqlite_master WHERE name = 'iso'"
        assert x.execute(sql).fetchall() == y.execute(sql).fetchall()
        extent = "SELECT min_x, min_y, max_x, max_y, srs_id FROM gpkg_contents WHERE " \
                 "table_name = 'iso'"
        assert x.execute(extent).fetchall() == y.execute(extent).fetchall()
        rtree = "SELECT count(*) FROM rtree_iso_geom"
        assert x.execute(rtree).fetchall() == y.execute(rtree).fetchall() == [(10,)]


def test_a_layer_spilled_as_multi_parts_is_copied_by_gdal_as_the_whole_frame_is_promoted(
        tmp_path, monkeypatch):
    # a city's coverage: single and multi polygons. Promoted as they are spilled, the layer has
    # one type and GDAL copies it; the same blobs as GDAL's promotion of the whole frame
    import sqlite3

    from livingcircle import _spill

    chunks = [_chunk(k) for k in range(3)]  # chunk 1: a MultiPolygon and an empty Polygon
    chunks[2].loc[3, "geometry"] = None
    layer = SpilledLayer("cov", directory=tmp_path, multi=True)
    for c in chunks:
        layer.append(c)
    assert layer.geometry_type == "MultiPolygon"
    assert shapely.get_type_id(chunks[0].geometry.to_numpy()).tolist() == [3] * 4  # unchanged
    copied, real = [], _spill._copy_by_arrow
    monkeypatch.setattr(_spill, "_copy_by_arrow",
                        lambda *a, **kw: copied.append(a) or real(*a, **kw))
    whole = pd.concat(chunks, ignore_index=True)
    pyogrio.write_dataframe(whole, tmp_path / "one.gpkg", layer="cov", driver="GPKG")
    layer.write_to(tmp_path / "copy.gpkg", layer="cov", chunk_size=5)
    assert len(copied) == 1
    a = pyogrio.read_info(tmp_path / "one.gpkg", layer="cov")
    b = pyogrio.read_info(tmp_path / "copy.gpkg", layer="cov")
    assert a["geometry_type"] == b["geometry_type"] == "MultiPolygon"
    with sqlite3.connect(tmp_path / "one.gpkg") as x, sqlite3.connect(tmp_path / "copy.gpkg") as y:
        assert x.execute("SELECT * FROM cov ORDER BY fid").fetchall() == \
            y.execute("SELECT * FROM cov ORDER BY fid").fetchall()  # GeoPackage blobs too


def test_as_multi_wraps_each_single_part_and_keeps_the_rest():
    from livingcircle._spill import as_multi

    line = shapely.LineString([(0, 0), (1, 1)])
    geoms = np.array([shapely.Point(1, 2), line, shapely.box(0, 0, 1, 1), None,
                      shapely.MultiPoint([(0, 0), (1, 1)]), shapely.Polygon(), shapely.Point()],
                     dtype=object)
    got = as_multi(geoms)
    assert shapely.get_type_id(got).tolist() == [4, 5, 6, -1, 4, 6, 4]
    assert got[0].geoms[0].equals(geoms[0]) and got[1].geoms[0].equals(line)
    assert got[2].geoms[0].equals(geoms[2]) and got[4] is geoms[4]
    assert got[5].is_empty and got[6].is_empty and len(got[5].geoms) == 1  # as GDAL promotes
    assert shapely.get_type_id(geoms).tolist()[:3] == [0, 1, 3]  # the input is not changed


def test_spilled_layer_of_one_type_keeps_it(tmp_path):
    layer = SpilledLayer("iso", directory=tmp_path)
    layer.append(_chunk(0))
    assert layer.geometry_type == "Polygon"
    layer.close()
    assert not layer.path.parent.exists()
    with pytest.raises(RuntimeError, match="closed"):
        layer.append(_chunk(0))


def test_a_run_over_the_threshold_streams_its_isochrones(sample_result, sample_written,
                                                         monkeypatch, tmp_path):
    monkeypatch.setattr(lc.settings, "spill_above_communities", 10)
    monkeypatch.setattr(lc.settings, "isochrone_chunk_size", 30)
    r = lc.run_sample(progress=False)
    assert set(r.spilled) == {"isochrones", "coverage"}
    ref = sample_result["isochrones"]
    attrs = r["isochrones"]  # the attribute table: the same rows, no polygons in memory
    assert not isinstance(attrs, gpd.GeoDataFrame)
    key = ["community_id", "speed_profile", "minutes"]
    ref_s = ref.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(attrs.sort_values(key).reset_index(drop=True),
                                  pd.DataFrame(ref_s.drop(columns="geometry")))
    back = r.layer("isochrones").sort_values(key).reset_index(drop=True)
    assert shapely.equals_exact(back.geometry.values, ref_s.geometry.values, 0).all()
    assert len(r.layer("isochrones", where="minutes = 15")) == (ref["minutes"] == 15).sum()
    # the same filter on a run that kept its layers in memory: the same rows, not all of them
    where = "minutes IN (5, 15) AND speed_profile = 'adult'"
    mem = sample_result.layer("isochrones", where=where).sort_values(key).reset_index(drop=True)
    disk = r.layer("isochrones", where=where).sort_values(key).reset_index(drop=True)
    assert 0 < len(mem) < len(ref)
    pd.testing.assert_frame_equal(pd.DataFrame(mem.drop(columns="geometry")),
                                  pd.DataFrame(disk.drop(columns="geometry")))
    with pytest.raises(ValueError, match="layer 'isochrones': the filter 'minuts = 5'"):
        sample_result.layer("isochrones", where="minuts = 5")
    # the written GeoPackage holds the same isochrone layer as a run that kept them in memory
    r.write(tmp_path / "spilled", map_html=False)
    memory = sample_written  # sample_result as written by the session (conftest)
    for name, order in (("isochrones", key), ("coverage", ["category"])):
        a = pyogrio.read_dataframe(memory / "livingcircle.gpkg", layer=name)
        b = pyogrio.read_dataframe(tmp_path / "spilled" / "livingcircle.gpkg", layer=name)
        a, b = (t.sort_values(order).reset_index(drop=True) for t in (a, b))
        files = (memory / "livingcircle.gpkg", tmp_path / "spilled" / "livingcircle.gpkg")
        types = [pyogrio.read_info(f, layer=name)["geometry_type"] for f in files]
        assert types[0] == types[1], (name, types)
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")),
                                      pd.DataFrame(b.drop(columns="geometry")))
        assert shapely.equals_exact(a.geometry.values, b.geometry.values, 0).all()
    pd.testing.assert_frame_equal(
        r["coverage"], pd.DataFrame(sample_result["coverage"].drop(columns="geometry")))
    names = [n for n, _ in pyogrio.list_layers(tmp_path / "spilled" / "livingcircle.gpkg")]
    assert names == [n for n, _ in pyogrio.list_layers(memory / "livingcircle.gpkg")]
    # a map that asks for the isochrones reads them back from the file
    from livingcircle.maps import make_map

    spilled_map = make_map(r, isochrones=True).get_root().render()
    memory_map = make_map(sample_result, isochrones=True).get_root().render()
    plain_map = make_map(r, isochrones=False).get_root().render()
    # the same polygons drawn (element ids are random, their length is not); they are what the
    # map gains: 247,389 bytes for the sample's 240 polygons (measured 2026-12-05, the map
    # 648,347 bytes without them). Drawn from cached cells (before flat_streets: the sample's
    # streets cover their ground less than once) the same polygons within 3.4e-7 m gained
    # 279,653 bytes: the 5 m simplification for display keeps other vertices of them.
    assert len(spilled_map) == len(memory_map) > len(plain_map) + 200_000


def test_a_written_city_result_loads_without_its_isochrone_polygons(sample_written, tmp_path,
                                                                  monkeypatch):
    from livingcircle.results import load_result

    # a copy of the session's written sample result: this test writes into the folder
    shutil.copytree(sample_written, tmp_path, dirs_exist_ok=True)
    whole = load_result(tmp_path)
    assert isinstance(whole["isochrones"], gpd.GeoDataFrame) and not whole.spilled
    monkeypatch.setattr(lc.settings, "spill_above_communities", 10)
    r = load_result(tmp_path)
    assert set(r.spilled) == {"isochrones", "coverage"}
    assert not isinstance(r["isochrones"], gpd.GeoDataFrame)
    pd.testing.assert_frame_equal(r["isochrones"],
                                  pd.DataFrame(whole["isochrones"].drop(columns="geometry")))
    back = r.layer("isochrones", where="minutes = 10")
    assert shapely.equals_exact(
        back.geometry.values,
        whole["isochrones"].query("minutes == 10").geometry.values, 0).all()
    r.spilled["isochrones"].close()
    assert (tmp_path / "livingcircle.gpkg").is_file()  # a written result is never removed
    with pytest.raises(RuntimeError, match="written result"):
        r.spilled["isochrones"].append(whole["isochrones"].head(1))
    # writing the loaded result again copies the polygons from the file
    r.write(tmp_path / "again", map_html=False)
    again = pyogrio.read_dataframe(tmp_path / "again" / "livingcircle.gpkg", layer="isochrones")
    assert len(again) == len(whole["isochrones"])
    assert shapely.equals_exact(again.geometry.values, whole["isochrones"].geometry.values,
                                0).all()
