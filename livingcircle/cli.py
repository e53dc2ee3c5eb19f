"""The ``livingcircle`` command line: thin commands over the library.

Subcommands live beside the code they drive: a module that offers one defines a click command
named ``cli_command`` (or a list ``cli_commands``) and is listed in :data:`_COMMAND_MODULES`.
A module of that list that cannot be imported is an error of the install, reported on every
call (never a command silently missing).

What a user sees:

* ``-v``/``-q`` set logging; ``-vv`` also shows the traceback of an unexpected error.
* Errors about the input print one line ``error: …`` and exit 2; an unexpected error inside the
  library prints one line with its type and message and a hint to rerun with ``-v`` (details)
  or ``-vv`` (traceback), and exits 1. No raw traceback is shown by default.
* Warnings of livingcircle itself (:class:`livingcircle._errors.LivingCircleWarning`) print as
  ``warning: <message>``, one line each, without a file or line; warnings of the libraries it
  uses mean nothing to a planner and are shown only with ``-v``.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
import warnings
from pathlib import Path

import click

from ._errors import LivingCircleError, LivingCircleWarning

_COMMAND_MODULES = [
    "livingcircle.pipeline",
    "livingcircle.export",
    "livingcircle.maps",
    "livingcircle.report",
    "livingcircle.figures",
    "livingcircle.clusters",
    "livingcircle.batch",
]

#: -v count of the current call (the group's callback sets it; main reads it for errors).
_state = {"verbose": 0}
#: Command modules that failed to import: (module, reason).
_IMPORT_FAILURES: list[tuple[str, str]] = []


class _Formatter(logging.Formatter):
    """Log lines as the tool's own: ``warning: …`` by default, logger names with ``-v``."""

    def format(self, record: logging.LogRecord) -> str:
        if _state["verbose"] == 0 and record.levelno >= logging.WARNING:
            return f"{record.levelname.lower()}: {record.getMessage()}"
        return super().format(record)


def _planner_records(record: logging.LogRecord) -> bool:
    """Whether a log record is shown without -v: livingcircle's own, or any library's error.

    A library's warnings (Dask's "Worker process still alive after 4.0 seconds, killing" when a
    batch closes its cluster) mean nothing to a planner; they appear with -v.
    """
    own = record.name == "livingcircle" or record.name.startswith("livingcircle.")
    return _state["verbose"] >= 1 or own or record.levelno >= logging.ERROR


class _StderrHandler(logging.StreamHandler):
    """A handler that writes to the ``sys.stderr`` of the moment (not the one at creation)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # StreamHandler.__init__ sets it; always use sys.stderr
        pass


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True,
              help="More log output and library warnings (-vv: debug, and the traceback of an "
                   "unexpected error).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="livingcircle")
def cli(verbose: int, quiet: bool) -> None:
    """Living-circle analysis for old-community renovation (老旧小区改造).

    Errors print one line 'error: …' (exit 2 for a problem with the input, 1 otherwise);
    warnings print as 'warning: …'.
    """
    _state["verbose"] = verbose
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    level = logging.ERROR if quiet else levels[min(verbose, 2)]
    root = logging.getLogger()
    root.setLevel(level)
    if not any(getattr(h, "_livingcircle", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_planner_records)
        handler._livingcircle = True
        root.addHandler(handler)
    if quiet:
        warnings.simplefilter("ignore", LivingCircleWarning)


def _register(modules: list[str] | None = None) -> list[tuple[str, str]]:
    """Add the commands of ``modules``; return the modules that failed to import, with why."""
    failures = []
    for name in _COMMAND_MODULES if modules is None else modules:
        try:
            mod = importlib.import_module(name)
        except ImportError as exc:
            failures.append((name, f"{type(exc).__name__}: {exc}"))
            continue
        cmds = list(getattr(mod, "cli_commands", []))
        if hasattr(mod, "cli_command"):
            cmds.append(mod.cli_command)
        for cmd in cmds:
            cli.add_command(cmd)
    return failures


_IMPORT_FAILURES.extend(_register())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print livingcircle's warnings as ``warning: …``; library warnings only with -v."""
    if issubclass(category, LivingCircleWarning):
        click.echo(f"warning: {message}", err=True)
    elif _state["verbose"] >= 1:
        click.echo(f"warning ({category.__name__}, {Path(filename).name}:{lineno}): {message}",
                   err=True)


def _unexpected(exc: BaseException) -> None:
    """Report an exception the library did not raise on purpose, as -v/-vv ask."""
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:300] + "…"
    verbose = _state["verbose"]
    if verbose >= 2:
        traceback.print_exception(exc)
    elif verbose == 1:
        frames = traceback.extract_tb(exc.__traceback__)
        for f in frames[-3:]:
            click.echo(f"  in {f.name} ({Path(f.filename).name}:{f.lineno})", err=True)
    hint = "" if verbose >= 2 else (
        "; rerun with -v for details, -vv for the traceback (livingcircle -vv COMMAND …)"
        if verbose == 0 else "; rerun with -vv for the traceback")
    click.echo(f"error: unexpected {type(exc).__name__}: {text}{hint}", err=True)


def _usage_line(exc: click.ClickException) -> str:
    msg = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        msg += f" (see: {ctx.command_path} --help)"
    return f"error: {msg}"


def _is_gdal_file_error(exc: BaseException) -> bool:
    """Whether ``exc`` is GDAL failing to open a data source (through pyogrio)."""
    try:
        from pyogrio.errors import DataSourceError
    except ImportError:  # pragma: no cover - pyogrio is a dependency
        return False
    return isinstance(exc, DataSourceError)


def _close_progress_bars() -> None:
    """End open progress bars so that an error starts on its own line."""
    from tqdm.std import tqdm

    for bar in list(getattr(tqdm, "_instances", [])):
        bar.close()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 bad input, 1 other failure)."""
    _state["verbose"] = 0
    if _IMPORT_FAILURES:
        name, why = _IMPORT_FAILURES[0]
        click.echo(f"error: livingcircle is not installed completely: {name} cannot be imported "
                   f"({why}); reinstall it: pip install --force-reinstall livingcircle",
                   err=True)
        return 1
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        warnings.simplefilter("always", LivingCircleWarning)
        try:
            try:
                rv = cli.main(args=argv, standalone_mode=False, prog_name="livingcircle")
            except BaseException:
                _close_progress_bars()
                raise
        except click.exceptions.Exit as exc:
            return exc.exit_code
        except click.ClickException as exc:
            no_args = getattr(click.exceptions, "NoArgsIsHelpError", ())
            if isinstance(exc, no_args):  # `livingcircle` alone: the help, as asked
                click.echo(exc.format_message())
                return 0
            click.echo(_usage_line(exc), err=True)
            return exc.exit_code
        except click.exceptions.Abort:
            click.echo("error: aborted", err=True)
            return 1
        except LivingCircleError as exc:
            click.echo(f"error: {exc}", err=True)
            return 2
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError,
                PermissionError) as exc:
            click.echo(f"error: {exc}", err=True)
            return 2
        except Exception as exc:  # the last line of defence: no raw traceback
            if _is_gdal_file_error(exc):
                # GDAL cannot open a file the user named (its message names the file)
                text = " ".join(str(exc).split()).split(".; It might help")[0]
                click.echo(f"error: not a readable GIS file: {text}; check the path and that "
                           "the file is whole (a GeoPackage, Shapefile or GeoJSON)", err=True)
                return 2
            _unexpected(exc)
            return 1
    # with standalone_mode=False click returns the exit code of ctx.exit(code)
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
