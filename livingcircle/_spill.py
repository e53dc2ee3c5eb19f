"""Layers too large to hold in memory: written chunk by chunk to a temporary GeoPackage.

A city's isochrones (10,000 communities × 3 polygons, every block a hole) are several gigabytes
of polygons. :class:`SpilledLayer` takes them chunk by chunk as they are made, keeps only their
attribute table in memory, and copies the polygons into the output GeoPackage chunk by chunk when
the result is written. The temporary folder is removed when the layer is closed or garbage
collected, and at the latest when Python exits.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import settings

#: A DataFrame or GeoDataFrame, given back as the same type.
FrameT = TypeVar("FrameT", bound=pd.DataFrame)

logger = logging.getLogger(__name__)

_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}
_MULTI = {"Polygon": "MultiPolygon", "LineString": "MultiLineString", "Point": "MultiPoint"}


class SpilledLayer:
    """One layer kept in a temporary GeoPackage, with its attribute table in memory.

    Parameters
    ----------
    name
        Layer name (also the name of the layer in the temporary file).
    directory
        Where the temporary folder goes; default :data:`livingcircle.settings.spill_dir`
        (None: the system's temporary folder).
    multi
        Write single parts as multi parts from the first chunk on (:func:`as_multi`), as the
        copy would promote them once both occur: for a layer known to hold both (a city's
        coverage). Then the layer has one type and is copied by GDAL (:meth:`write_to`).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> layer = SpilledLayer("demo")
    >>> layer.append(gpd.GeoDataFrame({"k": [1]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326))
    >>> len(layer), list(layer.attributes.columns)
    (1, ['k'])
    >>> layer.close()
    """

    def __init__(self, name: str, *, directory: str | Path | None = None,
                 multi: bool = False) -> None:
        self.name = name
        self.multi = multi
        folder = directory if directory is not None else settings.spill_dir
        self._dir = Path(tempfile.mkdtemp(prefix=f"livingcircle-{name}-", dir=folder))
        self.path = self._dir / f"{name}.gpkg"
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(self._dir), True)
        self._chunks: list[pd.DataFrame] = []
        self._attributes: pd.DataFrame | None = None
        self._types: set[str] = set()
        self.crs = None
        self.geometry_column = "geometry"
        self.n_rows = 0
        self._read_only = False

    @classmethod
    def from_file(cls, path: str | Path, layer: str) -> SpilledLayer:
        """Refer to a layer of an existing GeoPackage (a written result) without reading it.

        Only its attribute table is read; the file is never removed by :meth:`close`.
        """
        import pyogrio

        self = cls.__new__(cls)
        self.name = layer
        self.multi = False
        self._dir = None
        self.path = Path(path)
        self._finalizer = weakref.finalize(self, lambda: None)
        info = pyogrio.read_info(self.path, layer=layer)
        self._attributes = pd.DataFrame(pyogrio.read_dataframe(self.path, layer=layer,
                                                               read_geometry=False))
        self._chunks = [self._attributes]
        gtype = info["geometry_type"]
        self._types = {gtype} if gtype and gtype != "Unknown" else set()
        self.crs = info["crs"]
        self.geometry_column = "geometry"
        self.n_rows = int(info["features"])
        self._read_only = True
        return self

    def __len__(self) -> int:
        return self.n_rows

    def __repr__(self) -> str:
        return f"SpilledLayer({self.name!r}, {self.n_rows} rows in {self.path})"

    def append(self, gdf: gpd.GeoDataFrame) -> None:
        """Append one chunk (same columns and CRS every time) to the temporary file."""
        import pyogrio

        if self._read_only:
            msg = f"{self.path}: layer {self.name!r} belongs to a written result; not appended to"
            raise RuntimeError(msg)
        if self._finalizer.alive is False:
            msg = f"the spilled layer {self.name!r} was closed"
            raise RuntimeError(msg)
        if self.n_rows == 0:
            self.crs = gdf.crs
            self.geometry_column = gdf.geometry.name
        if self.multi:
            gdf = gdf.set_geometry(as_multi(gdf.geometry.to_numpy()), crs=gdf.crs)
        geoms = gdf.geometry.to_numpy()
        present = geoms[~shapely.is_missing(geoms)]  # empty geometries keep their type
        self._types |= {_TYPE_NAMES[t] for t in set(shapely.get_type_id(present).tolist())}
        # no declared type until the whole layer is known (see geometry_type)
        pyogrio.write_dataframe(missing_as_none(gdf), self.path, layer=self.name, driver="GPKG",
                                append=self.n_rows > 0, geometry_type="Unknown",
                                promote_to_multi=False)
        self._chunks.append(pd.DataFrame(gdf.drop(columns=self.geometry_column)))
        self._attributes = None
        self.n_rows += len(gdf)

    @property
    def attributes(self) -> pd.DataFrame:
        """The attribute table (every column but the geometry), in the order rows were added."""
        if self._attributes is None:
            self._attributes = (pd.concat(self._chunks, ignore_index=True) if self._chunks
                                else pd.DataFrame())
            self._chunks = [self._attributes]
        return self._attributes

    @property
    def geometry_type(self) -> str:
        """The type pyogrio gives the whole layer: mixed single and multi parts become multi."""
        types = self._types
        if len(types) == 1:
            return next(iter(types))
        if len(types) == 2:
            for single, multi in _MULTI.items():
                if types == {single, multi}:
                    return multi
        return "Unknown"

    def iter_chunks(self, chunk_size: int | None = None) -> Iterator[gpd.GeoDataFrame]:
        """Read the layer back chunk by chunk (``chunk_size`` rows at a time)."""
        import pyogrio

        size = _chunk_rows(chunk_size)
        for lo in range(0, self.n_rows, size):
            gdf = pyogrio.read_dataframe(self.path, layer=self.name, skip_features=lo,
                                         max_features=size)
            if gdf.geometry.name != self.geometry_column:
                gdf = gdf.rename_geometry(self.geometry_column)
            yield gdf

    def read(self, *, where: str | None = None) -> gpd.GeoDataFrame:
        """Read the whole layer (or the rows of an SQL ``where``) into memory."""
        import pyogrio

        gdf = pyogrio.read_dataframe(self.path, layer=self.name, where=where)
        if gdf.geometry.name != self.geometry_column:
            gdf = gdf.rename_geometry(self.geometry_column)
        return gdf

    def write_to(self, path: str | Path, *, layer: str | None = None, append: bool = False,
                 chunk_size: int | None = None) -> None:
        """Copy the layer into the GeoPackage ``path`` chunk by chunk.

        The declared geometry type is that of the whole layer (:attr:`geometry_type`), with
        single parts promoted to multi when both occur, as a write of the whole frame would do.
        A layer with nothing to promote is copied by GDAL through an Arrow stream, its
        geometries never decoded (:func:`_copy_by_arrow`); one with both goes chunk by chunk.
        """
        import pyogrio

        gtype = self.geometry_type
        promote = len(self._types) == 2 and gtype != "Unknown"
        if self.n_rows and not promote and pyogrio.__gdal_version__ >= (3, 8, 0):  # write_arrow
            _copy_by_arrow(self.path, self.name, path, layer=layer or self.name,
                           geometry_type=gtype, append=append,
                           batch_size=_chunk_rows(chunk_size))
            logger.debug("copied %d rows of %s into %s", self.n_rows, self.name, path)
            return
        first = True
        for chunk in self.iter_chunks(chunk_size):
            pyogrio.write_dataframe(chunk, path, layer=layer or self.name, driver="GPKG",
                                    append=append or not first, geometry_type=gtype,
                                    promote_to_multi=promote)
            first = False
        if first:  # an empty layer: write the empty frame so that the layer exists
            empty = gpd.GeoDataFrame(self.attributes.head(0),
                                     geometry=gpd.GeoSeries([], crs=self.crs), crs=self.crs)
            pyogrio.write_dataframe(empty, path, layer=layer or self.name, driver="GPKG",
                                    append=append)
        logger.debug("copied %d rows of %s into %s", self.n_rows, self.name, path)

    def close(self) -> None:
        """Remove the temporary file now (a layer of a written result is left alone)."""
        self._finalizer()


def as_multi(geoms: np.ndarray) -> np.ndarray:
    """Return the geometries with every Point, LineString and Polygon as a multi part of one.

    As GDAL promotes them when a layer holds both (``promote_to_multi``): the same GeoPackage
    blobs, an empty part as a multi part of one empty part (tested). Missing ones stay missing.
    """
    out = np.array(geoms, dtype=object)
    kind = shapely.get_type_id(out)
    kinds = shapely.GeometryType
    for single, make in ((kinds.POINT, shapely.multipoints),
                         (kinds.LINESTRING, shapely.multilinestrings),
                         (kinds.POLYGON, shapely.multipolygons)):
        at = np.flatnonzero(kind == int(single))
        if len(at):  # an empty part too: "MULTIPOLYGON (EMPTY)", as GDAL makes it
            out[at] = make(out[at], indices=np.arange(len(at)))
    return out


def _chunk_rows(chunk_size: int | None) -> int:
    """Rows read at a time from a spilled layer: ``chunk_size``, or three chunks of isochrones."""
    return int(chunk_size or settings.isochrone_chunk_size * 3)


def _copy_by_arrow(source: Path, name: str, path: str | Path, *, layer: str,
                   geometry_type: str, append: bool, batch_size: int) -> None:
    """Copy layer ``name`` of GeoPackage ``source`` into ``path`` as ``layer``, in GDAL.

    pyogrio's Arrow stream (no pyarrow needed) hands GDAL's batches of ``batch_size`` rows,
    the geometries as their WKB, from one file to the other: no geometry is decoded in Python.
    The same layer as a copy through data frames, table definition and values (tested). The
    batch bounds the memory: the stream's default of 65,536 rows held the 1M city's 30,000
    isochrones (931 MB) at once: the run's peak went from 3,707 to 4,521 MB. In batches of 1,500
    they were copied in 2.0-2.2 s and 453 MB against 4.0-4.3 s and 1,821 MB chunk by chunk
    (``benchmarks/CITY_SCALE.md``).
    """
    from pyogrio.raw import open_arrow, write_arrow

    with open_arrow(source, layer=name, use_pyarrow=False,
                    batch_size=batch_size) as (meta, stream):
        write_arrow(stream, path, layer=layer, driver="GPKG", append=append,
                    geometry_name=meta["geometry_name"] or "geometry",
                    geometry_type=geometry_type, crs=meta["crs"])


def missing_as_none(df: FrameT) -> FrameT:
    """Return ``df`` with pandas' ``NA`` and ``NaT`` in object columns as None, for pyogrio.

    pyogrio's row-by-row writer turns them into the text ``"<NA>"`` / ``"NaT"``: every cluster
    member's ``heritage`` of the city centre was the text ``<NA>`` in its GeoPackage. None is
    a NULL field. The input is not changed. Every frame written from memory goes through it:
    :func:`livingcircle.results.write_vector` and :meth:`SpilledLayer.append`.
    """
    out = df
    geom = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    for col in df.columns:
        s = df[col]
        if col == geom or s.dtype != object:
            continue
        na = s.isna().to_numpy()
        if na.any() and any(v is pd.NA or v is pd.NaT for v in s.to_numpy()[na]):
            if out is df:
                out = df.copy()
            out[col] = s.astype(object).where(~na, None)
    return out
