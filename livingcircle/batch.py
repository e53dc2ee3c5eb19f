"""Many study areas at once on Dask: ``livingcircle batch areas.yaml --out DIR``.

A provincial team runs the same analysis for every city and county town and compares them. Each
area of ``areas.yaml`` is one independent :mod:`dask.distributed` task that calls
:func:`livingcircle.pipeline.run` with the area's inputs; the network of every area is clipped to
its boundary plus a halo of one 15-minute walk (:func:`livingcircle.network.halo_m`), and
facilities up to :data:`livingcircle.settings.far_outside_km` outside the boundary are kept, so a
facility just across an area's edge still serves the communities inside it. A community is
analysed and counted in exactly one area: the one its representative point lies in, and where
areas touch or overlap, the one listed first (:func:`claim_areas`).

``areas.yaml``::

    areas:
      - name: 哈尔滨市道里区
        osm: data/harbin.osm.pbf          # or place: "Daoli, Harbin" (needs the internet)
        communities: data/daoli_communities.gpkg
        gates: data/daoli_gates.gpkg      # optional
        facilities:                       # optional, one file or a list
          - data/poi.gpkg                 # a GIS file keeps its own CRS
          - {path: data/amap.csv, crs: gcj02}               # a file described: its system,
          - {path: data/merged.csv, crs_column: 来源,        # a column of per-row systems,
             columns: {名称: name}}                          # a column mapping (or a file)
        sites: data/daoli_sites.gpkg      # optional
        boundary: data/daoli.geojson      # optional, recommended
        profile: my_profile.yaml          # optional
        speeds: [adult, elderly]          # optional, as ``livingcircle run --speeds``
        criterion: both                   # optional, as ``--criterion`` (and ``speed:``)

Keys are the options of ``livingcircle run``. Each input file (communities, gates, facilities,
sites) is a path, or a mapping ``{path, crs, crs_column, columns, layer}`` that describes that
file alone (:mod:`livingcircle.inputs`; ``columns`` is a mapping or the path of a YAML/CSV
mapping file). Layer-wide keys ``facilities_crs`` and ``<layer>_crs_column`` apply, as on the
command line, only to the layer's one file that can take them; ``strict: true`` as ``--strict``.
Relative paths are read against the YAML file's folder; any path may also be a URL that
:mod:`fsspec` understands (``s3://``, ``https://`` …): a worker copies such a file to a local
temporary file first, because GDAL and osmnx need local paths.

Output: ``DIR/<area>/`` holds that area's ``livingcircle.gpkg``, ``map.html``, the plan tables and
``_done.json`` (input checksums, how the files were described, figures, time). An area is written
into a hidden temporary folder beside its final one and renamed when complete, so a folder
``DIR/<area>`` is always whole. A rerun skips areas with a ``_done.json`` unless ``rerun=True`` or
an input file or its description changed; an area that fails is reported with
its exception and the other areas finish. ``DIR/summary.csv`` (UTF-8 with BOM for Excel),
``DIR/summary.xlsx`` (Chinese headers) and ``DIR/summary_map.html`` compare the areas.

Dask does the scheduling: a :class:`distributed.LocalCluster` by default, or an existing cluster
by its scheduler address; retries are Dask's own (``retries=``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.util
import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from ._atomic import atomic_file
from ._errors import ExportError, InputError, LivingCircleWarning
from .options import AREA_KEYS, DESCRIBED_KEYS, PATH_KEYS, RUN_OPTIONS, RunOption
from .schema import labels_zh
from .summaries import area_summary

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from .results import Result

logger = logging.getLogger(__name__)

#: What a described file entry may say besides its ``path`` (:class:`livingcircle.InputFile`).
FILE_ENTRY_KEYS = ("crs", "crs_column", "columns", "layer")
DONE_MARKER = "_done.json"
PROGRESS_TOPIC = "livingcircle-batch-progress"
#: Steps of one area, reported to the per-area progress bars.
AREA_STEPS = ("fetch inputs", "analysis", "write results", "done")

#: Summary columns and their Chinese headers (summary.xlsx, summary map).
SUMMARY_COLUMNS_ZH = labels_zh("summary")  # the contract's table (schema.TABLES)
STATUS_ZH = {"done": "完成", "skipped": "已完成(跳过)", "failed": "失败"}


# --------------------------------------------------------------------------------------------
# areas.yaml
# --------------------------------------------------------------------------------------------

def _is_url(s: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", s)) and not s.startswith("file://")


def safe_name(name: str) -> str:
    """Return a folder name for an area: letters (any script), digits, ``.-_``; others → ``_``.

    Examples
    --------
    >>> safe_name("哈尔滨市 道里区/东部")
    '哈尔滨市_道里区_东部'
    """
    s = re.sub(r"[^\w.-]+", "_", str(name), flags=re.UNICODE).strip("._")
    return s or "area"


def _resolve(value, base: Path, where: str):
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        msg = f"{where}: expected a file path or URL, got {value!r}"
        raise InputError(msg)
    s = str(value)
    if _is_url(s):
        return s
    if s.startswith("file://"):
        s = s[len("file://"):]
    p = Path(s).expanduser()
    if not p.is_absolute():
        p = base / p
    if not p.is_file():
        msg = f"{where}: file not found: {p}"
        raise InputError(msg)
    return str(p.resolve())


def _system(value, where: str) -> str:
    from ._errors import CoordinateError
    from .coords import canonical_crs

    try:
        return canonical_crs(value)
    except CoordinateError as exc:
        msg = f"{where}: {exc}"
        raise InputError(msg) from None


def _file_entry(value, base: Path, where: str, described: dict) -> str:
    """Resolve one file entry (a path, or ``{path, crs, crs_column, columns, layer}``).

    Returns the resolved path; a description is put in ``described[path]`` (the system made
    canonical, a mapping file read).
    """
    if not isinstance(value, Mapping):
        return _resolve(value, base, where)
    unknown = [k for k in value if k != "path" and k not in FILE_ENTRY_KEYS]
    if "path" not in value or unknown:
        msg = (f"{where}: a file described by a mapping needs 'path' and may have "
               f"{list(FILE_ENTRY_KEYS)}; got {list(value)}")
        raise InputError(msg)
    path = _resolve(value["path"], base, f"{where}, 'path'")
    desc: dict = {}
    if value.get("crs") is not None:
        desc["crs"] = _system(value["crs"], f"{where} ({value['path']}), 'crs'")
    if value.get("crs_column") is not None:
        desc["crs_column"] = str(value["crs_column"])
    if value.get("layer") is not None:
        desc["layer"] = value["layer"]
    cols = value.get("columns")
    if cols is not None:
        if isinstance(cols, Mapping):
            desc["columns"] = {str(k): str(v) for k, v in cols.items()}
        else:
            from .inputs import load_column_mapping

            desc["columns"] = load_column_mapping(
                _resolve(cols, base, f"{where} ({value['path']}), 'columns'"))
    described[path] = desc
    return path


def load_areas(areas, *, base: str | os.PathLike | None = None) -> list[dict]:
    """Read and check the areas of a batch.

    Parameters
    ----------
    areas
        Path of an ``areas.yaml`` file, or a list of area mappings (or a mapping with ``areas``).
    base
        Folder that relative paths are read against; default the YAML file's folder (the current
        folder for a list).

    Returns
    -------
    list of dict
        One checked mapping per area, paths made absolute (URLs unchanged), with ``folder`` (the
        sanitised name) added.

    Raises
    ------
    InputError
        Naming the area and the key that is wrong.
    """
    data, base_dir, src = _read_areas(areas, base)
    out: list[dict] = []
    folders: dict[str, str] = {}
    for i, entry in enumerate(data, start=1):
        spec = _area_spec(entry, i, src=src, base_dir=base_dir)
        folder = safe_name(spec["name"])
        if folder in folders:
            msg = (f"{src}: area '{spec['name']}': its folder name '{folder}' is the same as area "
                   f"'{folders[folder]}'s; give the areas distinct names")
            raise InputError(msg)
        folders[folder] = spec["name"]
        spec["folder"] = folder
        out.append(spec)
    return out


def _read_areas(areas, base) -> tuple[Sequence, Path, str]:
    """Return the list of area entries, the folder paths are read against and its source name."""
    import yaml

    src = "areas"
    if isinstance(areas, str | os.PathLike):
        path = Path(areas)
        src = str(path)
        if not path.is_file():
            msg = f"{path}: areas file not found"
            raise InputError(msg)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            msg = f"{path}: not a YAML text file (not UTF-8 text); save areas.yaml as UTF-8"
            raise InputError(msg) from None
        except yaml.YAMLError as exc:
            msg = f"{path}: not valid YAML ({exc}); see the example in livingcircle.batch"
            raise InputError(msg) from None
        base_dir = Path(base) if base is not None else path.resolve().parent
    else:
        data = areas
        base_dir = Path(base) if base is not None else Path.cwd()
    if isinstance(data, Mapping):
        if "areas" not in data:
            msg = f"{src}: no 'areas:' list; give 'areas:' with one entry per study area"
            raise InputError(msg)
        data = data["areas"]
    if not isinstance(data, Sequence) or isinstance(data, str) or not data:
        msg = f"{src}: 'areas' must be a non-empty list of areas, each with a 'name'"
        raise InputError(msg)
    return data, base_dir, src


def _area_spec(entry, i: int, *, src: str, base_dir: Path) -> dict:
    """Check area number ``i`` of ``src``; return it with absolute paths (URLs unchanged)."""
    if not isinstance(entry, Mapping):
        msg = f"{src}: area #{i} is not a mapping of option: value"
        raise InputError(msg)
    name = entry.get("name")
    if name is None or not str(name).strip():
        msg = f"{src}: area #{i} has no 'name'"
        raise InputError(msg)
    name = str(name).strip()
    where = f"{src}: area '{name}'"
    unknown = [k for k in entry if k not in AREA_KEYS]
    if unknown:
        msg = (f"{where}: unknown key(s) {unknown}; valid keys: {list(AREA_KEYS)} "
               "(the options of 'livingcircle run')")
        raise InputError(msg)
    if "communities" not in entry or entry["communities"] is None:
        msg = f"{where}: key 'communities' is missing; give the communities file"
        raise InputError(msg)
    if entry.get("osm") is None and entry.get("place") is None:
        msg = f"{where}: give key 'osm' (an OSM file) or 'place' (a place name, online)"
        raise InputError(msg)
    spec: dict = {"name": name}
    described: dict = {}
    for key in PATH_KEYS:
        val = entry.get(key)
        if val is None:
            continue
        if key == "facilities":
            vals = [val] if isinstance(val, str | os.PathLike | Mapping) else val
            if not isinstance(vals, Sequence) or not vals:
                msg = f"{where}: key 'facilities' must be a file or a list of files"
                raise InputError(msg)
            spec[key] = [_file_entry(v, base_dir, f"{where}, key 'facilities'", described)
                         for v in vals]
        elif key in DESCRIBED_KEYS:
            spec[key] = _file_entry(val, base_dir, f"{where}, key '{key}'", described)
        else:
            spec[key] = _resolve(val, base_dir, f"{where}, key '{key}'")
    if described:
        spec["describe"] = described
    for opt in RUN_OPTIONS:
        if opt.area_key and opt.kind not in ("file", "files") and \
                entry.get(opt.name) is not None:
            spec[opt.name] = _area_value(opt, entry[opt.name], where)
    try:  # a layer-wide key must name one file: checked now, not on a worker
        _described_files(spec, spec)
    except InputError as exc:
        msg = f"{where}, {exc}"
        raise InputError(msg) from None
    return spec


def _area_value(opt: RunOption, val, where: str):
    """Check the value of one area key that is not a file, by its kind (:mod:`.options`)."""
    if opt.kind == "system":
        return _system(val, f"{where}, key '{opt.name}'")
    if opt.kind == "text":
        return str(val)
    if opt.kind == "flag":
        if not isinstance(val, bool):
            msg = f"{where}, key '{opt.name}': expected true or false, got {val!r}"
            raise InputError(msg)
        return val
    if opt.kind == "count":
        if isinstance(val, bool) or not isinstance(val, int) or val < 0:
            msg = f"{where}, key '{opt.name}': expected a whole number ≥ 0, got {val!r}"
            raise InputError(msg)
        return val
    if opt.kind == "speeds":
        from . import settings

        speeds = [val] if isinstance(val, str | int | float) else list(val)
        for sp in speeds:
            if isinstance(sp, str) and sp not in settings.speed_profiles:
                msg = (f"{where}, key '{opt.name}': unknown speed profile {sp!r}; valid: "
                       f"{sorted(settings.speed_profiles)}")
                raise InputError(msg)
        return speeds
    msg = f"option kind {opt.kind!r} of {opt.name!r} has no areas.yaml form"  # pragma: no cover
    raise AssertionError(msg)


# --------------------------------------------------------------------------------------------
# one area (runs on a Dask worker)
# --------------------------------------------------------------------------------------------

def _sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def localise(path_or_url: str, workdir: str | os.PathLike) -> str:
    """Return a local path for ``path_or_url``, copying a non-local fsspec URL into ``workdir``.

    GDAL, pyrosm and osmnx read local files only, so a worker copies ``s3://``, ``https://``,
    ``memory://`` … files with :mod:`fsspec` before the analysis starts.
    """
    s = str(path_or_url)
    if not _is_url(s):
        return s[len("file://"):] if s.startswith("file://") else s
    import fsspec

    fs, remote = fsspec.core.url_to_fs(s)
    name = Path(remote.rstrip("/")).name or "input"
    target = Path(tempfile.mkdtemp(prefix="in-", dir=workdir)) / name
    fs.get(remote, str(target))
    logger.debug("copied %s to %s", s, target)
    return str(target)


def _report(name: str, step: int) -> None:
    """Send an area's step to the client's progress bars (no-op outside a Dask worker)."""
    try:
        from distributed import get_worker

        get_worker().log_event(PROGRESS_TOPIC, {"area": name, "step": step})
    except (ImportError, ValueError):
        pass


def _outline_wkt(result, boundary_path: str | None) -> str | None:
    """Return the area's outline in EPSG:4326: its boundary, else the hull of its communities."""
    import geopandas as gpd
    import shapely

    geom = None
    if boundary_path is not None:
        with contextlib.suppress(Exception):
            b = gpd.read_file(boundary_path).to_crs(4326)
            geom = shapely.union_all(b.geometry.values)
    if geom is None or geom.is_empty:
        comm = result.layers["communities"].to_crs(4326)
        geom = shapely.union_all(comm.geometry.values).convex_hull
    return None if geom is None or geom.is_empty else geom.wkt


def _portable(exc: Exception) -> Exception:
    """Return ``exc`` as an exception of the same type that Dask can send back to the client.

    An exception raised while handling another (a GDAL error, say) carries that one as its
    context, which may not pickle; Dask would then report a bare ``Exception`` with a repr.
    """
    import pickle

    try:
        clean = type(exc)(*exc.args)
        pickle.loads(pickle.dumps(clean))
    except Exception:
        clean = RuntimeError(f"{type(exc).__name__}: {exc}")
    return clean


@contextlib.contextmanager
def _engine_threads():
    """Inside a Dask worker, let each area's searches use one thread.

    Dask already runs one task per worker thread; the engine's own threads
    (:data:`livingcircle.settings.threads`) would only compete with them. The limit holds for
    the task's own thread only (:func:`livingcircle.routing.threads_here`), so tasks sharing a
    worker do not undo each other's; outside a worker nothing changes.
    """
    from .routing import threads_here

    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):
        yield
        return
    with threads_here(1):
        yield


def _described_files(spec: Mapping, loc: Mapping) -> dict:
    """Return the area's input files as :class:`livingcircle.InputFile` (local paths).

    Each file gets its own description from ``areas.yaml``; a layer-wide ``<layer>_crs_column``
    goes to the layer's one file that can take it.
    """
    from .inputs import InputFile, apply_layer_value

    described = spec.get("describe", {})
    out: dict = {}
    for key in DESCRIBED_KEYS:
        if key not in loc:
            continue
        srcs = spec[key] if key == "facilities" else [spec[key]]
        locals_ = loc[key] if key == "facilities" else [loc[key]]
        files = [InputFile(local, **described.get(src, {}))
                 for src, local in zip(srcs, locals_, strict=True)]
        files = apply_layer_value(files, spec.get(f"{key}_crs_column"), attr="crs_column",
                                  option=f"key '{key}_crs_column':",
                                  per_file="{{path: {file}, crs_column: {value}}}")
        if key == "facilities":
            files = apply_layer_value(files, spec.get("facilities_crs"), attr="crs",
                                      option="key 'facilities_crs':",
                                      per_file="{{path: {file}, crs: {value}}}")
        out[key] = files if key == "facilities" else files[0]
    return out


def _run_arguments(spec: Mapping, loc: Mapping) -> dict:
    """Return the keywords of :func:`livingcircle.pipeline.run` for one area (files local).

    Each area key goes to the ``run_arg`` its :class:`~livingcircle.options.RunOption` names;
    the described files become :class:`livingcircle.InputFile` (:func:`_described_files`).
    """
    kwargs = {}
    for opt in RUN_OPTIONS:
        if opt.run_arg is None or opt.described or opt.name not in spec:
            continue
        kwargs[opt.run_arg] = loc[opt.name] if opt.name in PATH_KEYS else spec[opt.name]
    kwargs.update(_described_files(spec, loc))
    return kwargs


def _localise_inputs(spec: Mapping, work: Path) -> tuple[dict[str, Any], list[dict]]:
    """Copy an area's input files into ``work`` (:func:`localise`); return them and checksums.

    The local paths are by ``PATH_KEYS`` key (a list for ``facilities``); each checksum row
    names the role, the source as written in areas.yaml and the SHA-256 of the copy.
    """
    loc: dict[str, Any] = {}
    checksums = []
    for key in PATH_KEYS:
        if key not in spec:
            continue
        srcs = spec[key] if key == "facilities" else [spec[key]]
        locals_ = [localise(v, work) for v in srcs]
        loc[key] = locals_ if key == "facilities" else locals_[0]
        for src, local in zip(srcs, locals_, strict=True):
            checksums.append({"role": key, "source": src, "sha256": _sha256(local)})
    return loc, checksums


def _run_local(spec: Mapping, loc: Mapping) -> tuple[Result, list[str]]:
    """Run the pipeline on an area's local files; return the result and its warnings' texts.

    Advice names areas.yaml keys; the area's own warnings travel back with its record: the
    client shows them as the tool's own (a worker process would print them with its file and
    line).
    """
    from ._errors import on_command_line
    from .pipeline import run

    kwargs = _run_arguments(spec, loc)
    if spec.get("claimed"):
        import shapely

        kwargs["claimed"] = [(n, shapely.from_wkt(w)) for n, w in spec["claimed"]]
    with _engine_threads(), on_command_line("yaml"), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LivingCircleWarning)
        result = run(progress=False, keep_graph=False, **kwargs)  # written, never read
    return result, [str(w.message) for w in caught
                    if issubclass(w.category, LivingCircleWarning)]


def _publish(tmp: Path, final: Path) -> None:
    """Move the finished folder ``tmp`` to ``final``, replacing an older one only at the end."""
    old = None
    if final.exists():
        old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_area(spec: Mapping, out: str | os.PathLike) -> dict:
    """Run one area and write ``out/<folder>`` atomically; return its figures.

    This is the task each Dask worker runs. The results are written into a hidden folder
    ``out/.<folder>.tmp-XXXX`` beside the final one, with ``_done.json`` last, and the folder is
    renamed to ``out/<folder>`` when complete; on failure the temporary folder is removed and the
    exception propagates (Dask reports it, and retries if asked).

    Parameters
    ----------
    spec
        One entry of :func:`load_areas`.
    out
        The batch output folder.

    Returns
    -------
    dict
        Name, folder, seconds, input checksums, outline (WKT) and
        :func:`livingcircle.summaries.area_summary`.
    """
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folder = spec["folder"]
    final = out / folder
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.tmp-", dir=out))
    tmp.chmod(0o755)  # mkdtemp makes it private; the area folder is an ordinary output folder
    work = Path(tempfile.mkdtemp(prefix=f"livingcircle-{folder}-"))
    name = spec["name"]
    try:
        _report(name, 0)
        loc, checksums = _localise_inputs(spec, work)
        _report(name, 1)
        result, caught = _run_local(spec, loc)
        _report(name, 2)
        result.write(tmp)
        figures = area_summary(result)
        seconds = time.perf_counter() - t0
        record = {
            "name": name, "folder": folder, "seconds": round(seconds, 3),
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "inputs": checksums, "description": _description(spec),
            "outline_wkt": _outline_wkt(result, loc.get("boundary")),
            "figures": figures, "version": result.metadata.get("version"),
            "warnings": caught,
        }
        with atomic_file(tmp / DONE_MARKER) as p:
            p.write_text(json.dumps(record, ensure_ascii=False, indent=1, default=str),
                         encoding="utf-8")
        _publish(tmp, final)
        _report(name, 3)
        logger.info("area %s done in %.1f s", name, seconds)
        return record
    except Exception as exc:
        logger.exception("area %s failed", name)
        failure = _portable(exc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    raise failure  # outside the except block: no unpicklable __context__ travels with it


# --------------------------------------------------------------------------------------------
# the batch
# --------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _client(scheduler, n_workers: int, threads_per_worker: int):
    from distributed import Client, LocalCluster

    if scheduler is not None and not isinstance(scheduler, str):
        if isinstance(scheduler, Client):
            yield scheduler
            return
        with Client(scheduler) as c:  # a cluster object
            yield c
        return
    if scheduler:
        with Client(scheduler) as c:
            yield c
        return
    # a free port, so two batches (or another Dask user) on one machine do not clash on 8787
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                      processes=True, dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


def dashboard_address(client) -> str | None:
    """Return the Dask dashboard's address, or None when the scheduler serves none (no bokeh)."""
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # pragma: no cover - a scheduler that cannot answer
        return None
    if "dashboard" not in services:
        return None
    return client.dashboard_link


def _done_record(folder: Path) -> dict | None:
    marker = folder / DONE_MARKER
    if not marker.is_file():
        return None
    try:
        return json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _description(spec: Mapping) -> dict:
    """How an area's files are described (per-file entries, layer-wide keys), as JSON values."""
    keys = ("facilities_crs", "communities_crs_column", "gates_crs_column",
            "facilities_crs_column", "sites_crs_column", "strict")
    out = {k: spec[k] for k in keys if spec.get(k) is not None}
    if spec.get("describe"):
        out["describe"] = spec["describe"]
    return json.loads(json.dumps(out, ensure_ascii=False))


def inputs_changed(spec: Mapping, record: Mapping) -> list[str]:
    """Return the local inputs of ``spec`` whose checksum differs from the ``_done.json`` record.

    URLs are not fetched again: they are taken as unchanged. A changed description of the files
    (a stated ``crs``, a ``crs_column``, a column mapping, ``strict``) counts as a change too.
    """
    known = {(i["role"], i["source"]): i["sha256"] for i in record.get("inputs", [])}
    changed = []
    for key in PATH_KEYS:
        vals = spec.get(key)
        for src in ([] if vals is None else vals if key == "facilities" else [vals]):
            if _is_url(src):
                continue
            if known.get((key, src)) != (_sha256(src) if Path(src).is_file() else None):
                changed.append(f"{key}: {src}")
    if record.get("description", {}) != _description(spec):
        changed.append("how the files are described (crs, crs_column, columns, strict)")
    return changed


def claim_areas(specs: list[dict]) -> list[dict]:
    """Give each area the boundaries of the areas listed before it, so a community counts once.

    A community belongs to the area its representative point falls in
    (:func:`livingcircle._validate.keep_in_area`). Where two areas' boundaries touch or overlap,
    a point on the shared border or in the overlap belongs to the area listed first in
    ``areas.yaml``: each spec gets ``claimed``, the ``(name, WKT)`` pairs of the earlier areas
    that have a boundary, and :func:`run_area` records its communities that lie in one of them
    as 'in_other_area'. An area without a boundary keeps every community of its file that no
    earlier area claims. Changes ``specs`` in place and returns it.
    """
    from .io import read_boundary

    earlier: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="livingcircle-claims-") as work:
        for spec in specs:
            spec["claimed"] = list(earlier)
            if spec.get("boundary") is None:
                continue
            try:
                geom = read_boundary(localise(spec["boundary"], work)).geometry.iloc[0]
            except InputError as exc:
                logger.warning("area %s: its boundary cannot be read (%s); it claims no "
                               "communities from later areas", spec["name"], exc)
                continue
            earlier.append((spec["name"], cast("BaseGeometry", geom).wkt))
    return specs


def _row(spec: Mapping, status: str, *, record: dict | None = None, error: str = "") -> dict:
    """One summary row; ``seconds`` is this batch's run time (0 for a skipped area)."""
    seconds = math.nan
    if status == "done" and record is not None:
        seconds = float(record.get("seconds", math.nan))
    elif status == "skipped":
        seconds = 0.0
    row = {"name": spec["name"], "status": status, "error": error, "seconds": seconds}
    if record is not None:
        row.update(record.get("figures", {}))
    row["folder"] = spec["folder"]
    return row


def run_batch(
    areas,
    *,
    out: str | os.PathLike,
    scheduler=None,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    rerun: bool = False,
    retries: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Run every area of a batch as an independent Dask task and write a summary.

    Parameters
    ----------
    areas
        Path of ``areas.yaml`` or a list of area mappings (see :func:`load_areas`).
    out
        Output folder: one folder per area (its sanitised name) plus ``summary.csv``,
        ``summary.xlsx`` and ``summary_map.html``.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``), a ``distributed.Client``,
        or None for a local cluster of ``n_workers`` processes.
    n_workers, threads_per_worker
        Size of the local cluster.
    rerun
        Run areas again even when their folder holds a ``_done.json``.
    retries
        Dask retries per area (for flaky remote inputs); 0 by default.
    progress
        Show a progress bar per area and one overall, and print the dashboard address.

    Returns
    -------
    pandas.DataFrame
        One row per area in the order given: name, status ('done' | 'skipped' | 'failed'), error
        (exception type and message), seconds, communities, facilities, households,
        mean_completeness[_<level>], share_households_<level>, … and folder.
    """
    specs = load_areas(areas)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    claim_areas(specs)
    todo, rows, records = _areas_to_run(specs, out, rerun=rerun)
    if todo:
        with _client(scheduler, n_workers, threads_per_worker) as client:
            _run_areas(client, todo, out, rows, records, retries=retries, progress=progress)
    table = pd.DataFrame([rows[s["folder"]] for s in specs])
    write_summary(table, records, out)
    return table


def _areas_to_run(specs: list[dict], out: Path, *, rerun: bool
                  ) -> tuple[list[dict], dict[str, dict], dict[str, dict]]:
    """Split the areas into those to run and those done before with the same inputs.

    Returns the areas to run, and the summary rows and records of the skipped ones by folder.
    """
    rows: dict[str, dict] = {}
    records: dict[str, dict] = {}
    todo = []
    for spec in specs:
        rec = None if rerun else _done_record(out / spec["folder"])
        if rec is not None and (changed := inputs_changed(spec, rec)):
            logger.warning("area %s: input(s) changed since it was done (%s); running it again",
                           spec["name"], ", ".join(changed))
            rec = None
        if rec is not None:
            rows[spec["folder"]] = _row(spec, "skipped", record=rec)
            records[spec["folder"]] = rec
            logger.info("area %s already done (%s); skipped", spec["name"], out / spec["folder"])
        else:
            todo.append(spec)
            for stale in out.glob(f".{spec['folder']}.tmp-*"):  # left by an interrupted run
                shutil.rmtree(stale, ignore_errors=True)
    return todo, rows, records


def _progress_bars(client, todo: list[dict], *, progress: bool):
    """Show the dashboard address; return the overall bar and one bar per area (by name)."""
    from tqdm.auto import tqdm

    link = dashboard_address(client)
    if progress:
        note = "" if importlib.util.find_spec("bokeh") is not None else \
            " (its plots need the bokeh package)"
        tqdm.write(f"Dask dashboard: {link}{note}" if link else
                   "Dask dashboard: none on this scheduler")
    elif link:
        logger.info("Dask dashboard: %s", link)
    overall = tqdm(total=len(todo), desc="areas", unit="area", disable=not progress, position=0)
    bars = {spec["name"]: tqdm(total=len(AREA_STEPS) - 1, desc=spec["name"], unit="step",
                               disable=not progress, position=i, leave=False)
            for i, spec in enumerate(todo, start=1)}

    def on_event(event):
        msg = event[1] if isinstance(event, tuple) else event
        bar = bars.get(msg.get("area")) if isinstance(msg, dict) else None
        if bar is not None:
            step = int(msg["step"])
            bar.n = step
            bar.set_postfix_str(AREA_STEPS[step])
            bar.refresh()

    if progress:
        client.subscribe_topic(PROGRESS_TOPIC, on_event)
    return overall, bars


def _run_areas(client, todo: list[dict], out: Path, rows: dict, records: dict, *,
               retries: int, progress: bool) -> None:
    """Run the areas ``todo`` on the Dask client; add their summary rows and records."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    overall, bars = _progress_bars(client, todo, progress=progress)
    futures = {}
    for spec in todo:
        fut = client.submit(run_area, dict(spec), str(out.resolve()), pure=False,
                            retries=retries,
                            key=f"livingcircle-area-{spec['folder']}-{uuid.uuid4().hex}")
        futures[fut] = spec
    try:
        for fut in as_completed(list(futures)):
            spec = futures[fut]
            if fut.status == "finished":
                rec = fut.result()
                for text in rec.get("warnings", []):
                    warnings.warn(f"area {spec['name']}: {text}", LivingCircleWarning,
                                  stacklevel=2)
                rows[spec["folder"]] = _row(spec, "done", record=rec)
                records[spec["folder"]] = rec
            else:
                exc = fut.exception()
                err = f"{type(exc).__name__}: {exc}"
                rows[spec["folder"]] = _row(spec, "failed", error=err)
                logger.error("area %s failed: %s", spec["name"], err)
                if progress:
                    tqdm.write(f"area {spec['name']} failed: {err}")
            bars[spec["name"]].close()
            overall.update()
    finally:
        overall.close()
        for b in bars.values():
            b.close()
        if progress:
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(PROGRESS_TOPIC)


# --------------------------------------------------------------------------------------------
# summary
# --------------------------------------------------------------------------------------------

def summary_table_zh(table: pd.DataFrame) -> pd.DataFrame:
    """Return the summary with Chinese headers and statuses, shares as percentages (1 decimal)."""
    t = table.copy()
    t["status"] = t["status"].map(STATUS_ZH).fillna(t["status"])
    for c in t.columns:
        if c.startswith(("mean_completeness", "share_households")):
            t[c] = (t[c].astype(float) * 100).round(1)
    if "seconds" in t.columns:
        t["seconds"] = t["seconds"].astype(float).round(1)
    headers = {c: SUMMARY_COLUMNS_ZH.get(c, c) for c in t.columns}
    for c in t.columns:
        if c.startswith(("mean_completeness", "share_households")) and c in SUMMARY_COLUMNS_ZH:
            headers[c] = SUMMARY_COLUMNS_ZH[c] + "(%)"
    return t.rename(columns=headers)


def write_summary(table: pd.DataFrame, records: Mapping[str, dict], out: str | os.PathLike
                  ) -> list[Path]:
    """Write ``summary.csv`` (UTF-8 BOM), ``summary.xlsx`` and ``summary_map.html`` into ``out``."""
    out = Path(out)
    zh = summary_table_zh(table)
    written = []
    csv = out / "summary.csv"
    with atomic_file(csv, overwrite=True) as tmp:
        table.to_csv(tmp, index=False, encoding="utf-8-sig")
    written.append(csv)
    xlsx = out / "summary.xlsx"
    with atomic_file(xlsx, overwrite=True) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as xw:
            zh.to_excel(xw, sheet_name="片区比较", index=False)
    written.append(xlsx)
    html = out / "summary_map.html"
    with atomic_file(html, overwrite=True) as tmp:
        summary_map(table, records).save(str(tmp))
    written.append(html)
    return written


def summary_map(table: pd.DataFrame, records: Mapping[str, dict]):
    """Return a folium map with one outline and marker per area, coloured by mean completeness.

    One self-contained HTML file that works offline (Leaflet written into the page; the
    OpenStreetMap background is optional in the layer control). Each popup links to the area's
    own ``map.html``. Area names are escaped.
    """
    from html import escape

    import branca.colormap as cm
    import folium
    import shapely
    from branca.element import Element, Figure

    from .maps import offline_map

    m = offline_map(tiles=None, zoom_start=8)
    folium.FeatureGroup(name="无底图 Plain", overlay=False, control=True).add_to(m)
    folium.TileLayer("OpenStreetMap", name="OpenStreetMap", show=False, overlay=False).add_to(m)
    scale = cm.LinearColormap(["#d73027", "#fee08b", "#1a9850"], vmin=0, vmax=1)
    legend = "".join(
        f'<div><span style="display:inline-block;width:14px;height:10px;background:'
        f'{scale(v)}"></span> {int(v * 100)}%</div>' for v in (0.0, 0.25, 0.5, 0.75, 1.0))
    cast(Figure, m.get_root()).html.add_child(Element(
        '<div style="position:fixed;bottom:20px;left:10px;z-index:1000;background:#fff;'
        'padding:6px 8px;border:1px solid #999;font:12px sans-serif">'
        "平均配套完整度<br>Mean completeness" + legend + "</div>"))
    bounds = []
    group = folium.FeatureGroup(name="片区 Areas").add_to(m)
    for _, row in table.iterrows():
        rec = records.get(row["folder"])
        if rec is None or not rec.get("outline_wkt"):
            continue
        geom = shapely.from_wkt(rec["outline_wkt"])
        val = row.get("mean_completeness")
        colour = scale(val) if isinstance(val, float) and not math.isnan(val) else "#999999"
        lines = [f"<b>{escape(str(row['name']))}</b>",
                 f"状态: {STATUS_ZH.get(row['status'], escape(str(row['status'])))}"]
        for col in ("communities", "households", "facilities", "mean_completeness",
                    "share_households_15", "share_households_complete_community"):
            v = row.get(col)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            label = SUMMARY_COLUMNS_ZH[col]
            txt = f"{v * 100:.1f}%" if col.startswith(("mean_", "share_")) else f"{v:,.0f}"
            lines.append(f"{label}: {txt}")
        lines.append(f'<a href="{escape(str(row["folder"]))}/map.html" target="_blank">'
                     "片区地图 area map</a>")
        popup = folium.Popup("<br>".join(lines), max_width=320)
        folium.GeoJson(
            shapely.geometry.mapping(geom),
            style_function=lambda f, c=colour: {"color": c, "weight": 2, "fillColor": c,
                                                "fillOpacity": 0.25},
            tooltip=escape(str(row["name"])),
        ).add_to(group)
        c = geom.representative_point()
        folium.CircleMarker([c.y, c.x], radius=8, color="#333", weight=1, fill=True,
                            fill_color=colour, fill_opacity=0.9, popup=popup,
                            tooltip=escape(str(row["name"]))).add_to(group)
        bounds.append(geom.bounds)
    folium.LayerControl().add_to(m)
    if bounds:
        xs = [b[0] for b in bounds] + [b[2] for b in bounds]
        ys = [b[1] for b in bounds] + [b[3] for b in bounds]
        m.fit_bounds([[min(ys), min(xs)], [max(ys), max(xs)]])
    return m


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------

def check_batch_output(areas, out: str | os.PathLike) -> Path:
    """Check a batch's ``--out`` before any area runs (:func:`livingcircle._atomic.check_output`).

    Besides the checks every command makes, no input of an area may lie inside that area's
    result folder ``out/<folder>``: a finished area replaces the folder as a whole.
    """
    from ._atomic import check_output

    target = check_output(out, folder=True, inputs=[areas],
                          files=["summary.csv", "summary.xlsx", "summary_map.html"])
    for spec in load_areas(areas):
        area_dir = target / spec["folder"]
        for key in PATH_KEYS:
            values = spec.get(key)
            for v in values if isinstance(values, list | tuple) else [values]:
                if isinstance(v, str) and not _is_url(v) and \
                        area_dir in Path(v).expanduser().resolve().parents:
                    msg = (f"--out {out}: {v} ({key} of area {spec['name']!r}) lies in "
                           f"{area_dir}, which the batch replaces with the area's results; move "
                           "that input out of it or give another --out")
                    raise ExportError(msg)
    return target
