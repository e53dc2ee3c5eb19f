"""Safe writing of result files: never a half-written file, never an input overwritten.

Every writer in livingcircle goes through these helpers:

* :func:`check_targets` refuses a target that is one of the inputs (compared as resolved paths,
  so a symlink or ``./a/../a.gpkg`` is caught) and an existing target unless ``overwrite=True``;
* :func:`atomic_file` hands out a temporary path in the target's folder; the file is fsynced and
  moved into place with :func:`os.replace` only when the ``with`` block ends without an error,
  otherwise it is removed;
* :class:`StagedFiles` does the same for a set of files (a Shapefile and its companions, one file
  per layer): all are written into a hidden temporary folder beside the targets and moved into
  place together at the end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from ._errors import ExportError

logger = logging.getLogger(__name__)


def _resolved(p: str | os.PathLike) -> Path:
    return Path(p).expanduser().resolve()


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
    fd, name = tempfile.mkstemp(
        prefix=f".{target_abs.stem}.", suffix=f".partial{target_abs.suffix}",
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


class StagedFiles:
    """Write many files into a temporary folder and move them into place together.

    Use as a context manager; :meth:`path` gives the staging path of a final file name. When the
    block ends without error, every staged file that was registered with :meth:`path` is checked
    (:func:`check_targets`), fsynced and moved into ``out_dir``; on error the staging folder is
    removed and nothing in ``out_dir`` changes.

    Parameters
    ----------
    out_dir
        The folder the files end in (created if missing).
    inputs
        Paths that must never be overwritten.
    overwrite
        Replace existing files of the same names.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        *,
        inputs: Iterable[str | os.PathLike] = (),
        overwrite: bool = False,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.inputs = list(inputs)
        self.overwrite = overwrite
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
        self._stage = Path(tempfile.mkdtemp(prefix=".livingcircle-partial-", dir=self.out_dir))
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        stage = self._stage
        try:
            if exc_type is None:
                missing = [n for n in self.names if not (stage / n).exists()]
                if missing:
                    msg = f"the writer produced no file for {missing} in {self.out_dir}"
                    raise ExportError(msg)
                targets = self.check(self.names)
                for n in self.names:
                    _fsync_file(stage / n)
                for n, t in zip(self.names, targets, strict=True):
                    os.replace(stage / n, t)
                    self.written.append(t)
                _fsync_dir(self.out_dir)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
            self._stage = None
