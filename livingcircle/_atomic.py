"""Safe writing of result files: never a half-written file, never an input overwritten.

Every writer in livingcircle goes through these helpers:

* :func:`check_output` is the one check every command (``run``, ``demo``, ``recommend``,
  ``batch``, ``map``, ``report``, ``export``) makes on its ``--out`` before any work starts: the
  path has the kind the command writes (a folder, or a file with the command's extension), it is
  none of the command's inputs nor a file of the result it reads, and it can be written (no
  part of it is a regular file, the nearest existing folder accepts a new file; missing parents
  are created later, as ``mkdir -p`` would);
* :func:`check_targets` refuses a target that is one of the inputs (compared as resolved paths,
  so a symlink or ``./a/../a.gpkg`` is caught) and an existing target unless ``overwrite=True``;
* :func:`atomic_file` hands out a temporary path in the target's folder; the file is fsynced and
  moved into place with :func:`os.replace` only when the ``with`` block ends without an error,
  otherwise it is removed;
* :class:`StagedFiles` does the same for a set of files (a Shapefile and its companions, one file
  per layer, the files of a run): all are written into a hidden temporary folder beside the
  targets and moved into place together at the end; with ``manifest=`` a ``manifest.json``
  (every file's size and SHA-256, the tool version, the time, the run id) is written last;
* :func:`verify_manifest` is what ``map``/``report``/``export`` call on a result: a folder whose
  files differ from its manifest (an interrupted run, a file copied in from another run) is
  refused with the name of the file that differs.

A writer killed while writing leaves its staging folder or temporary file
(``.livingcircle-partial-<pid>-…``) and nothing else; the next write into the same folder removes
those whose process has ended, and no reader ever looks inside them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ._errors import ExportError, InputError

logger = logging.getLogger(__name__)


def _resolved(p: str | os.PathLike) -> Path:
    return Path(p).expanduser().resolve()


#: Suffixes of files livingcircle reads or writes: an output folder named like one is refused
#: (``--out results/livingcircle.gpkg`` given to ``run`` means a file, not a folder).
FILE_SUFFIXES = (".gpkg", ".shp", ".dbf", ".geojson", ".json", ".fgb", ".csv", ".xlsx", ".xls",
                 ".html", ".htm", ".pdf", ".osm", ".pbf", ".yaml", ".yml", ".zip", ".sqlite")


def check_output(
    out: str | os.PathLike,
    *,
    suffixes: Iterable[str] = (),
    folder: bool = False,
    files: Iterable[str] = (),
    inputs: Iterable[str | os.PathLike] | Mapping[str | os.PathLike, str] = (),
    option: str = "--out",
) -> Path:
    """Check a command's output path before any work starts; return it resolved.

    Parameters
    ----------
    out
        The path the user gave.
    suffixes
        Extensions of the file this command writes (``(".html",)``); ``out`` ending in one of them
        is that file.
    folder
        ``out`` may (or, without ``suffixes``, must) be a folder the command writes into.
    files
        Names of the files written into that folder, checked against ``inputs`` as well.
    inputs
        Files that must never be written: the command's inputs and the files of a result it
        reads (:func:`manifest_files`). A mapping gives each a description for the message
        (``{path: "the result GeoPackage"}``).
    option
        The option's name in messages.

    Raises
    ------
    ExportError
        With one line naming the path, what is wrong and what to give instead: the path is an
        input or a result file; it has another kind's extension; it is a file where a folder is
        needed (or a folder where a file is); a part of it is a regular file; the nearest
        existing folder cannot be written. A missing parent is not an error: writers create it.
    """
    shown = str(out)
    target = _resolved(out)
    suffixes = tuple(x.lower() for x in suffixes)
    if not (folder or suffixes):
        msg = "check_output needs folder=True or the suffixes of the file written"
        raise TypeError(msg)
    as_file = (bool(suffixes) and target.suffix.lower() in suffixes) or not folder
    labels = inputs if isinstance(inputs, Mapping) else dict.fromkeys(inputs, "")
    protected = {_resolved(p): (what or "an input of this command") for p, what in labels.items()}
    for t in [target] if as_file else [target / n for n in files]:
        what = protected.get(t)
        if what is None:
            what = next((w for p, w in protected.items() if t.exists() and p.exists()
                         and t.samefile(p)), None)
        if what is not None:
            if as_file and suffixes:
                alt = f"a {suffixes[0]} file of its own, e.g. " + str(
                    Path(shown).with_name(f"{Path(shown).stem}_new{suffixes[0]}"))
            else:
                alt = "another folder"
            msg = f"{option} {shown}: {t} is {what} and is never written over; give {alt}"
            raise ExportError(msg)
    if as_file and target.is_dir():
        msg = f"{option} {shown} is an existing folder; give a file name ending in {suffixes[0]}"
        raise ExportError(msg)
    if as_file and target.suffix.lower() not in suffixes:
        want = " or ".join(suffixes)
        msg = (f"{option} {shown}: this command writes a {want} file; give a path ending in "
               f"{suffixes[0]}, e.g. {Path(shown).with_suffix(suffixes[0])}")
        raise ExportError(msg)
    if not as_file:
        if target.suffix.lower() in FILE_SUFFIXES:
            also = f" or a file ending in {' / '.join(suffixes)}" if suffixes else ""
            msg = (f"{option} {shown}: this command writes into a folder{also}, and "
                   f"{target.name} is named like a {target.suffix} file; give a folder, e.g. "
                   f"{Path(shown).parent / target.stem}")
            raise ExportError(msg)
        if target.exists() and not target.is_dir():
            msg = f"{option} {shown} is an existing file; give a folder (it is created if missing)"
            raise ExportError(msg)
    check_writable(target.parent if as_file else target, shown=shown, option=option)
    return target


def check_writable(folder: str | os.PathLike, *, shown: str | None = None,
                   option: str = "--out") -> Path:
    """Check that files can be created in ``folder`` (or, when it is missing, where it would be).

    The nearest existing folder on the way must be a folder (not a regular file) and accept a
    new file: a probe file is created and removed there, which catches permissions, read-only
    mounts and pseudo file systems alike. Missing folders below it are not created here.

    Raises
    ------
    ExportError
        Naming the path and the reason.
    """
    folder = _resolved(folder)
    shown = shown if shown is not None else str(folder)
    near = folder
    while not near.exists() and near != near.parent:
        near = near.parent
    if not near.is_dir():
        msg = (f"{option} {shown}: {near} is a file, so nothing can be written under it; "
               "give a path in a folder")
        raise ExportError(msg)
    what = "the folder" if near == folder else f"its nearest existing folder {near}"
    if not os.access(near, os.W_OK | os.X_OK):
        msg = (f"{option} {shown}: {what} is not writable for this user; give a folder you can "
               "write to")
        raise ExportError(msg)
    try:
        fd, probe = tempfile.mkstemp(prefix=".livingcircle-probe-", dir=near)
    except OSError as exc:
        msg = (f"{option} {shown}: {what} does not accept new files ({exc.strerror}); give a "
               "folder you can write to")
        raise ExportError(msg) from None
    os.close(fd)
    os.unlink(probe)
    return folder


def sha256_file(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """Return the SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_targets(
    targets: Iterable[str | os.PathLike],
    *,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
) -> list[Path]:
    """Check that ``targets`` may be written; return them as absolute paths.

    Raises
    ------
    ExportError
        If a target is one of ``inputs`` (always, even with ``overwrite=True``), if a target
        exists and ``overwrite`` is False, if a target is an existing folder, or if the same
        target is named twice.
    """
    ins = {_resolved(p) for p in inputs}
    out: list[Path] = []
    seen: set[Path] = set()
    for t in targets:
        r = _resolved(t)
        if r in ins or any(r.exists() and i.exists() and r.samefile(i) for i in ins):
            msg = (
                f"{t} is an input of this export and will not be overwritten; "
                "choose another output folder or file name"
            )
            raise ExportError(msg)
        if r in seen:
            msg = f"two outputs of this export would both be written to {t}; rename a layer"
            raise ExportError(msg)
        seen.add(r)
        if r.is_dir():
            msg = f"{t} is an existing folder; a file cannot replace it"
            raise ExportError(msg)
        if r.exists() and not overwrite:
            msg = f"{t} exists; pass overwrite=True (command line: --overwrite) to replace it"
            raise ExportError(msg)
        out.append(r)
    return out


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory file descriptors
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(
    target: str | os.PathLike,
    *,
    inputs: Iterable[str | os.PathLike] = (),
    overwrite: bool = False,
) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it into place when the block succeeds.

    The temporary name keeps the target's suffix (GDAL chooses drivers by it). If the block raises,
    the temporary file is removed and ``target`` is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_file(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "a.txt").read_text()
    'done'
    """
    (target_abs,) = check_targets([target], inputs=inputs, overwrite=overwrite)
    target_abs.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target_abs.parent)
    fd, name = tempfile.mkstemp(
        prefix=f"{_STAGE_PREFIX}{os.getpid()}-{target_abs.stem}.", suffix=target_abs.suffix,
        dir=target_abs.parent,
    )
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # let the writer create it (some GDAL drivers refuse an existing empty file)
    try:
        yield tmp
        if not tmp.exists():
            msg = f"the writer produced no file for {target}"
            raise ExportError(msg)
        _fsync_file(tmp)
        os.replace(tmp, target_abs)
        _fsync_dir(target_abs.parent)
        logger.debug("wrote %s", target_abs)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        _remove_gdal_sidecars(tmp)


def _remove_gdal_sidecars(tmp: Path) -> None:
    for extra in ("-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(tmp) + extra).unlink()


#: Name of the manifest a run writes last into its folder (see :func:`write_manifest`).
MANIFEST = "manifest.json"
_STAGE_PREFIX = ".livingcircle-partial-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_staging(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary files and folders left in ``folder`` by killed writers; return them.

    Staging folders (:class:`StagedFiles`) and temporary files (:func:`atomic_file`, with
    GDAL's ``-journal``/``-wal`` companions) are named ``.livingcircle-partial-<pid>-…``; one is
    stale when no process with that id runs on this machine any more. Those of live writers are
    left alone.
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for d in folder.glob(f"{_STAGE_PREFIX}*"):
        pid = d.name[len(_STAGE_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or _pid_alive(int(pid)):
            continue
        if d.is_dir():
            shutil.rmtree(d, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                d.unlink()
        logger.info("removed %s, left by an interrupted write", d)
        removed.append(d)
    return removed


def write_manifest(folder: str | os.PathLike, names: Iterable[str], *, run_id: str,
                   version: str) -> Path:
    """Write ``folder/manifest.json``: each file's name, size and SHA-256, version, time, run id.

    Written atomically, after the files it lists are in place.
    """
    folder = Path(folder)
    files = [{"name": n, "size": (folder / n).stat().st_size, "sha256": sha256_file(folder / n)}
             for n in names]
    doc = {"tool": "livingcircle", "version": version, "run_id": run_id,
           "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "files": files}
    with atomic_file(folder / MANIFEST, overwrite=True) as tmp:
        tmp.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    return folder / MANIFEST


def read_manifest(folder: str | os.PathLike) -> dict | None:
    """Return ``folder/manifest.json`` as a dict, or None when there is none.

    Raises
    ------
    InputError
        If the manifest is not the JSON :func:`write_manifest` writes.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        [(str(f["name"]), int(f["size"]), str(f["sha256"])) for f in doc["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        msg = (f"{path} is not a livingcircle manifest ({exc}); rerun `livingcircle run` into "
               f"{path.parent}, or delete {path.name} to use the files unchecked")
        raise InputError(msg) from None
    return doc


def _manifest_of(path: str | os.PathLike) -> tuple[Path, dict | None]:
    """Return the folder and manifest of a result given as its folder or one of its files."""
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    doc = read_manifest(folder)
    if doc is not None and not p.is_dir() and p.name not in {f["name"] for f in doc["files"]}:
        return folder, None  # a file beside a manifest of other files: not part of that run
    return folder, doc


def manifest_files(path: str | os.PathLike) -> dict[Path, str]:
    """Files of the result ``path`` (its folder or a file of it) that a command must not write.

    Returns path → description, for :func:`check_output`'s ``inputs``; empty when there is no
    manifest.
    """
    folder, doc = _manifest_of(path)
    if doc is None:
        return {}
    out = {folder / f["name"]: f"a file of the result in {folder} (listed in its {MANIFEST})"
           for f in doc["files"]}
    out[folder / MANIFEST] = f"the manifest of the result in {folder}"
    return out


def result_inputs(path: str | os.PathLike, *, name: str = "livingcircle.gpkg") -> dict[Path, str]:
    """Files a command reading the result ``path`` must never write (for :func:`check_output`).

    The result GeoPackage (``path`` itself, or ``path/livingcircle.gpkg`` for a folder) and every
    file its manifest lists.
    """
    p = Path(path)
    gpkg = p / name if p.is_dir() else p
    return {**manifest_files(p), gpkg: "the result GeoPackage this command reads"}


def verify_manifest(path: str | os.PathLike, *, option: str = "--no-verify") -> dict | None:
    """Check that the files of a result match its manifest; return the manifest.

    ``path`` is a result folder or a file in it. Without a manifest (a GeoPackage copied on its
    own, a result written before
    livingcircle wrote manifests) nothing can be checked: the fact is
    logged and None returned.

    Raises
    ------
    InputError
        Naming the first file that is missing or differs in size or content, and what to do:
        rerun ``livingcircle run``, or pass ``option`` for a file edited on purpose.
    """
    folder, doc = _manifest_of(path)
    if doc is None:
        logger.info("%s has no %s listing it: its files are not checked as one run", path,
                    MANIFEST)
        return None
    for f in doc["files"]:
        p = folder / f["name"]
        if not p.is_file():
            why = "is missing"
        elif p.stat().st_size != int(f["size"]):
            why = f"has {p.stat().st_size} bytes, the manifest says {f['size']}"
        elif sha256_file(p) != f["sha256"]:
            why = "has other contents than the run wrote (SHA-256 differs)"
        else:
            continue
        msg = (f"{p} {why}: the files in {folder} are not one run's (run {doc.get('run_id')}, "
               f"{doc.get('created')}); rerun `livingcircle run` into it, or pass {option} if "
               "you edited that file yourself")
        raise InputError(msg)
    return doc


class StagedFiles:
    """Write many files into a temporary folder and move them into place together.

    Use as a context manager; :meth:`path` gives the staging path of a final file name. When the
    block ends without error, every staged file that was registered with :meth:`path` is checked
    (:func:`check_targets`), fsynced and moved into ``out_dir``; on error the staging folder is
    removed and nothing in ``out_dir`` changes.

    Parameters
    ----------
    out_dir
        The folder the files end in (created with its parents if missing).
    inputs
        Paths that must never be overwritten.
    overwrite
        Replace existing files of the same names.
    manifest
        When given (``{"run_id": ..., "version": ...}``), the files are one run's result:
        files the previous manifest in ``out_dir`` listed that this run does not write are
        removed, and a new :data:`MANIFEST` is written last (:func:`write_manifest`). Until it
        is, the previous manifest no longer matches the files, so a reader refuses the folder.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        *,
        inputs: Iterable[str | os.PathLike] = (),
        overwrite: bool = False,
        manifest: Mapping | None = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.inputs = list(inputs)
        self.overwrite = overwrite
        self.manifest = manifest
        self.names: list[str] = []
        self._stage: Path | None = None
        self.written: list[Path] = []

    def check(self, names: Iterable[str]) -> list[Path]:
        """Check final names before any writing starts (same rules as :func:`check_targets`)."""
        return check_targets(
            [self.out_dir / n for n in names], inputs=self.inputs, overwrite=self.overwrite
        )

    def path(self, name: str) -> Path:
        """Return the staging path for the final file ``out_dir / name`` and register it."""
        if self._stage is None:
            msg = "StagedFiles.path() is only valid inside its with block"
            raise RuntimeError(msg)
        if name not in self.names:
            self.names.append(name)
        return self._stage / name

    def __enter__(self) -> StagedFiles:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_staging(self.out_dir)
        self._stage = Path(tempfile.mkdtemp(prefix=f"{_STAGE_PREFIX}{os.getpid()}-",
                                            dir=self.out_dir))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        stage = self._stage
        if stage is None:  # __enter__ was never called
            return
        try:
            if exc_type is None:
                missing = [n for n in self.names if not (stage / n).exists()]
                if missing:
                    msg = f"the writer produced no file for {missing} in {self.out_dir}"
                    raise ExportError(msg)
                targets = self.check(self.names)
                for n in self.names:
                    _fsync_file(stage / n)
                previous = None
                if self.manifest is not None:
                    with contextlib.suppress(InputError):  # a broken one is replaced below
                        previous = read_manifest(self.out_dir)
                for n, t in zip(self.names, targets, strict=True):
                    os.replace(stage / n, t)
                    self.written.append(t)
                if self.manifest is not None:
                    for f in (previous or {}).get("files", []):
                        old = self.out_dir / f["name"]
                        if f["name"] not in self.names and old.parent == self.out_dir:
                            with contextlib.suppress(FileNotFoundError):
                                old.unlink()
                                logger.info("removed %s of the previous run", old)
                    # listed like the other files: an absolute, resolved path
                    self.written.append(_resolved(write_manifest(
                        self.out_dir, self.names, run_id=str(self.manifest["run_id"]),
                        version=str(self.manifest["version"]))))
                _fsync_dir(self.out_dir)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
            self._stage = None
