"""Facilities and residential areas from OSM files, through the real readers.

``.osm`` XML files go through ``osmnx.features_from_xml``; ``.pbf`` extracts through pyrosm
(``OSM.get_pois`` and ``OSM.get_landuse``). The OSM tags asked for are those named in the standard
profile's classification rules, so a city's own profile widens the query by itself.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import geopandas as gpd
import pandas as pd
import shapely

from ._errors import InputError
from .diagnostics import Diagnostics
from .standards import Profile, classify_facilities, load_profile

logger = logging.getLogger(__name__)


def _unreadable_errors() -> tuple[type[BaseException], ...]:
    """Exceptions the OSM readers raise for a file that is not (whole) OSM data."""
    import struct
    import xml.etree.ElementTree as ET
    import zlib

    errors: list[type[BaseException]] = [ET.ParseError, UnicodeDecodeError, zlib.error,
                                         struct.error, EOFError]
    with contextlib.suppress(ImportError):
        from pyrosm.exceptions import InvalidOSMFileError

        errors.append(InvalidOSMFileError)
    with contextlib.suppress(ImportError):
        from google.protobuf.message import DecodeError

        errors.append(DecodeError)
    return tuple(errors)


@contextlib.contextmanager
def reading_osm(path: str | Path) -> Iterator[None]:
    """Turn a corrupt, empty or truncated OSM file into one :class:`InputError` naming it.

    Wraps a call of osmnx's XML reader or pyrosm's PBF reader. An empty file is reported before
    the reader sees it; a file the reader cannot parse (XML that ends early or is not text, a
    PBF block that does not decode) is reported with the reader's own reason in one line.
    """
    p = Path(path)
    if p.is_file() and p.stat().st_size == 0:
        msg = f"{p}: the OSM file is empty (0 bytes); download or export it again"
        raise InputError(msg)
    try:
        yield
    except _unreadable_errors() as exc:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        kind = "OSM PBF" if p.name.lower().endswith(".pbf") else "OSM XML"
        msg = (f"{p}: not a readable {kind} file ({type(exc).__name__}: {reason}); it may be "
               "truncated, corrupt or of another format — download or export it again "
               "(.osm XML or .osm.pbf)")
        raise InputError(msg) from None


def _profile_tags(profile: Profile) -> dict[str, bool]:
    keys = set()
    for c in profile.categories.values():
        for rule in c.osm:
            keys.add(next(iter(rule)))  # the first tag of each rule is its main key
    return dict.fromkeys(sorted(keys), True)


def _read_features(path: Path, tags: dict, bbox=None) -> gpd.GeoDataFrame:
    name = path.name.lower()
    if name.endswith(".pbf"):
        from pyrosm.pyrosm import OSM  # (the package's lazy `pyrosm.OSM` hides its signature)

        with reading_osm(path):
            osm = OSM(str(path), bounding_box=bbox)
            # pyrosm documents a GeoDataFrame, or None when nothing matches; its untyped
            # decorators hide that from a type checker
            gdf = cast(gpd.GeoDataFrame | None, osm.get_pois(custom_filter=tags))
        if gdf is None or len(gdf) == 0:
            return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326), crs=4326)
        gdf = gdf.set_crs(4326, allow_override=True)
        gdf["osm_id"] = gdf["osm_type"].astype(str).str[0] + gdf["id"].astype(str)
        return gdf
    import osmnx as ox

    try:
        with reading_osm(path):
            gdf = ox.features_from_xml(path, tags=tags)
    except ox._errors.InsufficientResponseError:
        return gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    gdf = gdf.reset_index()
    gdf["osm_id"] = gdf["element"].astype(str).str[0] + gdf["id"].astype(str)
    return gdf


def read_osm_facilities(
    path: str | Path,
    *,
    profile: Profile | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    diagnostics: Diagnostics | None = None,
) -> gpd.GeoDataFrame:
    """Read the POIs of an OSM file and classify them into the profile's categories.

    Returns the facilities layer of :mod:`livingcircle.schema` (``facility_id`` = 'n123'/'w456'
    for OSM nodes/ways). POIs that match no category are recorded in the diagnostics
    ('unclassified', dropped); polygons are reduced to a representative point.
    """
    profile = profile or load_profile()
    diag = diagnostics if diagnostics is not None else Diagnostics()
    p = Path(path)
    if not p.is_file():
        msg = f"{p}: OSM file not found"
        raise InputError(msg)
    bbox = list(shapely.union_all(boundary.to_crs(4326).geometry.values).bounds) \
        if boundary is not None and len(boundary) else None
    raw = _read_features(p, _profile_tags(profile), bbox)
    if len(raw) == 0:
        logger.warning("%s: no POIs with the profile's tags", p)
        return gpd.GeoDataFrame({"facility_id": [], "category": [], "categories": [],
                                 "name": []}, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    if "name" not in raw.columns:
        raw["name"] = None
    raw = raw.drop_duplicates("osm_id").reset_index(drop=True)
    classified = classify_facilities(pd.DataFrame(raw.drop(columns="geometry")), profile=profile)
    geom = raw.geometry.to_numpy()
    not_point = shapely.get_type_id(geom) != 0
    geom = geom.copy()
    geom[not_point] = shapely.point_on_surface(geom[not_point])
    out = gpd.GeoDataFrame({
        "facility_id": raw["osm_id"].astype(str).to_numpy(),
        "category": classified["category"].to_numpy(),
        "categories": classified["categories"].to_numpy(),
        "name": raw["name"].to_numpy(),
        "capacity": pd.to_numeric(raw["capacity"], errors="coerce").to_numpy()
        if "capacity" in raw.columns else float("nan"),
        "source_crs": "wgs84",
        "source": str(p),
    }, geometry=geom, crs=4326)
    unclassified = out["categories"] == ""
    for _, r in out[unclassified].iterrows():
        diag.add("facilities", "unclassified", action="dropped", source=str(p),
                 feature_id=r["facility_id"],
                 detail=f"OSM feature {r['name'] or ''} matches no category of the profile",
                 geometry=r.geometry)
    logger.info("%s: %d POIs classified, %d unclassified", p, int((~unclassified).sum()),
                int(unclassified.sum()))
    return out[~unclassified].reset_index(drop=True)


def read_osm_residential(
    path: str | Path,
    *,
    boundary: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Residential areas (``landuse=residential``) of an OSM file as a communities layer.

    Useful where no community register exists yet: each area becomes a community with
    ``community_id`` = its OSM id and its name; every other attribute is unknown.
    """
    p = Path(path)
    raw = _read_features(p, {"landuse": ["residential"]},
                         list(shapely.union_all(boundary.to_crs(4326).geometry.values).bounds)
                         if boundary is not None else None)
    if "landuse" in raw.columns:
        raw = raw[raw["landuse"] == "residential"]
    raw = raw[shapely.get_type_id(raw.geometry.to_numpy()) >= 3]
    if len(raw) == 0:
        msg = f"{p}: no landuse=residential areas in this OSM file"
        raise InputError(msg)
    name = raw["name"] if "name" in raw.columns else None
    return gpd.GeoDataFrame({
        "community_id": raw["osm_id"].astype(str).to_numpy(),
        "name": name.to_numpy() if name is not None else None,
    }, geometry=raw.geometry.to_numpy(), crs=4326).drop_duplicates("community_id")
