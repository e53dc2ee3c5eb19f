"""The bundled synthetic sample district (a Harbin-style old town; SYNTHETIC, not real data).

The files are made by ``data/make_sample_district.py`` and committed under ``data/sample_district``;
an installed package carries them as ``livingcircle._sample``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ._errors import InputError

#: The label shown wherever the sample district appears.
SYNTHETIC_LABEL = "合成示例数据 SYNTHETIC sample district — not real communities"


def sample_dir() -> Path:
    """Return the folder holding the sample district's files."""
    here = Path(__file__).resolve().parent
    candidates = [here.parent / "data" / "sample_district"]
    try:
        # installed wheels carry the files here (pyproject's package-dir maps data/sample_district)
        packaged = importlib.import_module("livingcircle._sample")

        candidates[:0] = [Path(p) for p in packaged.__path__]
    except ModuleNotFoundError:
        pass
    for c in candidates:
        if (c / "district.osm").is_file():
            return c
    msg = (
        "the sample district's files were not found (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); reinstall livingcircle or run data/make_sample_district.py"
    )
    raise InputError(msg)


def sample_paths() -> dict[str, Path]:
    """Return the paths of the sample district's inputs, keyed like ``livingcircle run`` options."""
    d = sample_dir()
    return {
        "osm": d / "district.osm",
        "communities": d / "communities.gpkg",
        "gates": d / "gates.gpkg",
        "facilities": d / "facilities.gpkg",
        "amap_csv": d / "facilities_amap_gcj02.csv",
        "sites": d / "sites.gpkg",
        "boundary": d / "boundary.geojson",
        # issue 16 §1, §2: buildings (楼栋) and the heritage layer
        "buildings": d / "buildings.gpkg",
        "heritage": d / "heritage.gpkg",
    }


def is_sample(result) -> bool:
    """Return whether a result (a :class:`livingcircle.results.Result`) is the sample's.

    :func:`livingcircle.run_sample` records ``synthetic`` in the metadata; a result written
    before that is recognised by its OSM input, the sample's ``district.osm`` in this install's
    sample folder or in any install's (``_sample``, ``data/sample_district``).
    """
    meta = getattr(result, "metadata", {}) or {}
    if meta.get("synthetic"):
        return True
    try:
        d = str(sample_dir().resolve())
    except Exception:
        d = None
    for i in meta.get("inputs", []):
        path = str(i.get("path", ""))
        if d and path.startswith(d):
            return True
        p = Path(path)
        if p.name == "district.osm" and p.parent.name in ("_sample", "sample_district"):
            return True
    return False


def synthetic_label(result) -> str | None:
    """Return :data:`livingcircle.sample.SYNTHETIC_LABEL` for the sample's result, else None."""
    return SYNTHETIC_LABEL if is_sample(result) else None
