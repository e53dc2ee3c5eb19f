"""The ``livingcircle`` command line: thin commands over the library.

The only module of livingcircle that imports click. Each command parses its options, calls one
library function and prints what was written; the library raises the classes of
:mod:`livingcircle._errors`, which :func:`main` prints as one ``error:`` line. The options of a
run (``run``, ``recommend``, ``demo``) come from :data:`livingcircle.options.RUN_OPTIONS`. A new
command is one function here, decorated with ``@cli.command``.

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

import logging
import sys
import traceback
import warnings
from pathlib import Path

import click

from . import pipeline
from ._atomic import check_output, result_inputs, verify_manifest
from ._errors import LivingCircleError, LivingCircleWarning, on_command_line
from .crs import PRESETS
from .export import ENCODINGS
from .export import FORMATS as EXPORT_FORMATS
from .figures import FORMATS as FIGURE_FORMATS
from .figures import TILES
from .maps import BASEMAPS
from .options import BY_NAME, RunOption, options_of, run_arguments
from .report import PAPERS
from .results import Result, load_result
from .sample import SYNTHETIC_LABEL, sample_paths

#: -v count of the current call (the group's callback sets it; main reads it for errors).
_state = {"verbose": 0}


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

    #: Marks the handler this module installed, so that a second call does not add another.
    _livingcircle: bool = False

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



# --- the options of a run (livingcircle.options) -------------------------------------------------

_PATH_KINDS = {"file": False, "files": True}


def _click_option(opt: RunOption):
    """Return the click option of one run option (:data:`livingcircle.options.RUN_OPTIONS`)."""
    kw: dict = {"help": opt.help}
    if opt.metavar:
        kw["metavar"] = opt.metavar
    if opt.kind in _PATH_KINDS:
        kw.update(type=click.Path(exists=True, dir_okay=False), multiple=_PATH_KINDS[opt.kind])
    elif opt.kind == "flag":
        kw["is_flag"] = True
    elif opt.kind == "count":
        kw["type"] = int
    elif opt.kind in ("speeds", "per_file"):
        kw["multiple"] = True
    if opt.default is not None and opt.kind != "flag":
        kw.update(default=opt.default, show_default=True)
    return click.option(opt.flag, opt.name, **kw)


def _run_options(command: str):
    """Add the run options of ``command`` (``run`` or ``recommend``) to a click command."""
    def decorate(f):
        for opt in reversed(options_of(command)):
            f = _click_option(opt)(f)
        return f
    return decorate


def _out_option(help: str, **kw):
    return click.option("--out", "out", type=click.Path(), help=help, **kw)


_no_progress = click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
_no_verify = click.option("--no-verify", is_flag=True,
                          help="Skip the check of the result's files against its manifest.json "
                          "(for a file you edited yourself).")
_lang = click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)


def _input_files(values: dict) -> dict:
    """Return the values of the file options (files a run must never write over)."""
    return {k: v for k, v in values.items() if BY_NAME[k].kind in _PATH_KINDS}


def _run_with_options(values: dict, **kwargs) -> Result:
    """Run the analysis with the values of the run options (the required ones checked first)."""
    if values.get("osm") is None and values.get("place") is None:
        msg = "give --osm FILE (or --place NAME when online)"
        raise click.UsageError(msg)
    if values.get("communities") is None:
        msg = "give --communities FILE"
        raise click.UsageError(msg)
    with on_command_line():  # error advice names command-line options
        # nothing the command line writes reads the networkx graph (see pipeline.run)
        return pipeline.run(**run_arguments(values), keep_graph=False, **kwargs)


# --- run, demo, recommend ------------------------------------------------------------------------


def _demo_arguments(values: dict) -> dict:
    """Return the run keywords of the non-file options given to a run on the bundled sample."""
    return {BY_NAME[k].run_arg: v for k, v in values.items()
            if v is not None and k in BY_NAME and "demo" in BY_NAME[k].commands}


@cli.command("demo")
@_run_options("demo")
@_out_option("Output folder, created with its parents if missing.", default="maps/demo",
             show_default=True)
@_no_progress
def demo_command(out: str, no_progress: bool, **values) -> None:
    """Run the whole analysis on the bundled SYNTHETIC sample district."""
    pipeline.check_run_output(out, sample_paths())
    click.echo(SYNTHETIC_LABEL)
    with on_command_line():
        result = pipeline.run_sample(progress=not no_progress, **_demo_arguments(values))
    written = result.write(out)
    click.echo(pipeline.run_summary(result, written))


@cli.command("run")
@_run_options("run")
@_out_option("Output folder, created with its parents if missing; checked before the analysis "
             "starts.", required=True)
@_no_progress
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes drawing the isochrones and coverage areas of 200 "
              "communities or more (default: one per core; 1: one process). Same polygons "
              "either way.")
@click.option("--scheduler", default=None,
              help="Address of a Dask scheduler (tcp://host:8786): the isochrones and coverage "
              "areas are drawn on its workers, with the same results.")
def run_command(out: str, no_progress: bool, workers: int | None, scheduler: str | None,
                **values) -> None:
    """Run the analysis on your own data and write OUT/livingcircle.gpkg and OUT/map.html.

    The files of a run appear together, with OUT/manifest.json (sizes and SHA-256) last; a run
    that fails or is stopped leaves the previous run's files untouched.
    """
    from . import settings

    if workers is not None:
        settings.workers = workers
    if scheduler:
        from ._parallel import check_scheduler

        check_scheduler(scheduler)  # before the analysis, not after its first stages
        settings.scheduler = scheduler
    pipeline.check_run_output(out, _input_files(values))
    result = _run_with_options(values, progress=not no_progress)
    written = result.write(out)
    click.echo(pipeline.run_summary(result, written))


@cli.command("recommend")
@click.option("--demo", is_flag=True, help="Use the bundled SYNTHETIC sample district.")
@_run_options("recommend")
@click.option("--max-walk-min", default=10.0, show_default=True,
              help="Every two members of a cluster are within this walk (minutes).")
@click.option("--max-households", default=3000, show_default=True, type=int,
              help="Households cap of a cluster.")
@click.option("--max-members", default=8, show_default=True, type=int,
              help="Communities cap of a cluster.")
@click.option("--new-per-category", default=1, show_default=True, type=int,
              help="New facilities per cluster and missing category.")
@_out_option("Output folder, created with its parents if missing.", required=True)
@_no_progress
def recommend_command(demo: bool, max_walk_min: float, max_households: int, max_members: int,
                      new_per_category: int, out: str, no_progress: bool, **values) -> None:
    """Recommend area-linked renovation clusters (片区联动) and write OUT/livingcircle.gpkg."""
    from .clusters import recommend

    pipeline.check_run_output(out, sample_paths() if demo else _input_files(values))
    if demo:
        click.echo(SYNTHETIC_LABEL)
        with on_command_line():
            result = pipeline.run_sample(progress=not no_progress, clusters=False,
                                         **_demo_arguments(values))
    else:
        result = _run_with_options(values, progress=not no_progress, clusters=False)
    layers = recommend(result, max_walk_min=max_walk_min, max_households=max_households,
                       max_members=max_members, new_per_category=new_per_category,
                       siting=values.get("siting") or "mclp")
    result.layers.update(layers)
    written = result.write(out)
    click.echo(f"{len(layers['clusters'])} clusters, {len(layers['cluster_members'])} "
               f"member/beneficiary rows, {len(layers['proposed_sites'])} proposed sites")
    for p in written:
        click.echo(f"  {p}")


# --- commands on a written result ----------------------------------------------------------------


@cli.command("map")
@click.argument("result_path", type=click.Path(exists=True))
@_out_option("The .html file to write (its folder is created if missing); never a file of the "
             "result, e.g. RESULT/map_en.html. With --pages-by: the folder to write.",
             required=True)
@_lang
@click.option("--basemap", type=click.Choice(list(BASEMAPS)), default="none", show_default=True,
              help="Starting basemap; 'amap' shifts the data to GCJ-02. Offline ('none') the "
                   "streets, water and green of the OSM file are drawn under the data.")
@click.option("--no-isochrones", is_flag=True, help="Leave isochrones out (smaller file).")
@click.option("--pages-by", "pages_by", metavar="COLUMN", default=None,
              help="For a whole city: write OUT/index.html and one page per value of this "
                   "column of the communities (district, street, ...) or per 片区 cluster "
                   "('cluster'), linked both ways.")
@_no_verify
def map_command(result_path: str, out: str, lang: str, basemap: str,
                no_isochrones: bool, pages_by: str | None, no_verify: bool) -> None:
    """Draw the interactive map of a written result (folder or livingcircle.gpkg).

    One self-contained HTML file; a community's 5/10/15-minute isochrones are drawn when it is
    opened (click or search). A city of 1,600 communities makes about 8 MB; for a larger one
    use --pages-by district.
    """
    from .maps import write_map, write_map_pages

    if pages_by:
        check_output(out, folder=True, files=("index.html",),
                     inputs=result_inputs(result_path))
    else:
        check_output(out, suffixes=(".html",), inputs=result_inputs(result_path))
    r = load_result(result_path, verify=not no_verify)
    if pages_by:
        files = write_map_pages(r, out, by=pages_by, lang=lang, basemap=basemap,
                                isochrones=False if no_isochrones else True)
        click.echo(f"wrote {files[0]} and {len(files) - 1} pages")
        return
    write_map(r, out, lang=lang, basemap=basemap, isochrones=False if no_isochrones else None)
    click.echo(f"wrote {out}")


@cli.command("report")
@click.argument("result_path", type=click.Path(exists=True))
@_out_option("The .html file to write (a .pdf name prints it to PDF; its folder is created if "
             "missing); never a file of the result.", required=True)
@_lang
@click.option("--no-map", is_flag=True, help="Leave the interactive map out.")
@click.option("--pdf", is_flag=True, help="Print to PDF with headless Chromium (implied by a "
              ".pdf --out; needs chromium: apt-get install chromium).")
@click.option("--paper", type=click.Choice(list(PAPERS)), default="a4", show_default=True,
              help="Paper when printed: a4 = A4 portrait, a3 = A3 landscape.")
@_no_verify
def report_command(result_path: str, out: str, lang: str, no_map: bool, pdf: bool,
                   paper: str, no_verify: bool) -> None:
    """Write the printable meeting report of a written result (folder or livingcircle.gpkg)."""
    from .report import write_report

    if pdf and Path(out).suffix.lower() != ".pdf":
        msg = f"--pdf writes a PDF: give an --out ending in .pdf, not {out}"
        raise click.UsageError(msg)
    check_output(out, suffixes=(".html", ".pdf"), inputs=result_inputs(result_path))
    r = load_result(result_path, verify=not no_verify)
    write_report(r, out, lang=lang, include_map=not no_map, paper=paper, pdf=pdf or None)
    click.echo(f"wrote {out}")


@cli.command("figures")
@click.argument("result_path", type=click.Path(exists=True))
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder for the figures (PNG at 300 dpi plus SVG).")
@click.option("--community", "communities", multiple=True,
              help="Also draw the card of this community (id; repeat for more).")
@click.option("--category", "categories", multiple=True,
              help="Draw coverage maps only for this category id (repeat); default: all.")
@click.option("--format", "formats", multiple=True, type=click.Choice(list(FIGURE_FORMATS)),
              default=("png", "svg"), show_default=True, help="File formats (repeat).")
@_lang
@click.option("--tiles", type=click.Choice(list(TILES)), default=None,
              help="Draw map tiles under the data, fetched over the internet (default: none, "
                   "offline; tianditu needs TIANDITU_TOKEN). Needs "
                   "pip install \"livingcircle[tiles]\".")
def figures_command(result_path: str, out: str, communities: tuple[str, ...],
                    categories: tuple[str, ...], formats: tuple[str, ...], lang: str,
                    tiles: str | None) -> None:
    """Write figures for slides and documents from a written result (folder or .gpkg).

    An overview of completeness, a coverage map per category, a card per 片区 cluster, and a
    card per --community: PNG at 300 dpi plus SVG, with north arrow, scale bar, legend and the
    data sources and date.
    """
    import datetime as dt

    from .figures import write_figures

    started = dt.datetime.now()
    written = write_figures(result_path, out, lang=lang, communities=communities,
                            categories=list(categories) or None, formats=formats, tiles=tiles)
    click.echo(f"wrote {len(written)} files to {out} in "
               f"{(dt.datetime.now() - started).total_seconds():.0f} s")


@cli.command("export")
@click.argument("result", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(list(EXPORT_FORMATS)), default="gpkg",
              show_default=True, help="Output format.")
@click.option("--crs", default="cgcs2000", show_default=True,
              help=f"Coordinate system: {', '.join(PRESETS)} or EPSG:CODE.")
@click.option("--encoding", type=click.Choice(list(ENCODINGS), case_sensitive=False),
              default="utf-8", show_default=True,
              help="Text encoding of Shapefile/CSV. With gbk, a character GBK cannot hold is "
              "written as '?' and listed in OUT/encoding_replacements.csv; gb18030 holds all.")
@click.option("--strict-encoding", is_flag=True,
              help="Refuse text the encoding cannot hold instead of replacing it.")
@click.option("--layers", default=None, help="Comma-separated layer names (default: all).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output folder, created with its parents if missing (or a .gpkg/.xlsx file "
              "for those formats); never a file of the result.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--to", "to_url", default=None, help="Write to PostGIS: postgresql://user@host/db")
@click.option("--schema", default="public", show_default=True, help="PostGIS schema.")
@click.option("--replace", is_flag=True, help="Replace existing PostGIS tables.")
@_no_verify
def export_command(result: Path, fmt: str, crs: str, encoding: str, strict_encoding: bool,
                   layers: str | None, out: Path | None, overwrite: bool, to_url: str | None,
                   schema: str, replace: bool, no_verify: bool) -> None:
    """Export a result GeoPackage for GIS software, Excel or PostGIS."""
    from .export import METADATA_FILE, export_layers
    from .postgis import export_postgis

    if out is not None and not to_url:
        one_file = (EXPORT_FORMATS[fmt],) if fmt in ("gpkg", "xlsx") else ()
        check_output(out, suffixes=one_file, folder=True, inputs=result_inputs(result),
                     files=[f"{result.stem}{EXPORT_FORMATS[fmt]}", METADATA_FILE])
    if not no_verify:
        verify_manifest(result)
    if to_url:
        tables = export_postgis(result, to_url, schema=schema, crs=crs, layers=layers,
                                if_exists="replace" if replace else "fail")
        for t in tables:
            click.echo(t)
        return
    if out is None:
        msg = "give --out DIR (or --to postgresql://... for PostGIS)"
        raise click.UsageError(msg)
    files = export_layers(result, out=out, format=fmt, crs=crs, encoding=encoding,
                          layers=layers, overwrite=overwrite, strict_encoding=strict_encoding)
    for f in files:
        click.echo(str(f))


# --- batch ---------------------------------------------------------------------------------------


@cli.command("batch")
@click.argument("areas", type=click.Path(exists=True, dir_okay=False))
@_out_option("Output folder: one folder per area plus the summary (created with its parents if "
             "missing).", required=True)
@click.option("--scheduler", help="Address of an existing Dask scheduler (tcp://host:8786); "
              "default: a local cluster.")
@click.option("--workers", type=int, default=2, show_default=True,
              help="Worker processes of the local cluster.")
@click.option("--threads", type=int, default=1, show_default=True,
              help="Threads per worker of the local cluster.")
@click.option("--rerun", is_flag=True, help="Run areas again that are already done.")
@click.option("--retries", type=int, default=0, show_default=True,
              help="Dask retries per area.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bars.")
def batch_command(areas: str, out: str, scheduler: str | None, workers: int, threads: int,
                  rerun: bool, retries: int, no_progress: bool) -> None:
    """Run every area of AREAS (a YAML file) on Dask; write OUT/<area>/ and OUT/summary.*.

    A community counts in one area only: the area its representative point lies in; where
    areas touch or overlap, the one listed first in AREAS.
    """
    from .batch import check_batch_output, run_batch

    check_batch_output(areas, out)
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        # Dask logs every worker start and stop at INFO; show them only with -v
        for name in ("distributed", "distributed.scheduler", "distributed.nanny",
                     "distributed.core", "distributed.worker", "distributed.http.proxy"):
            logging.getLogger(name).setLevel(logging.WARNING)
    table = run_batch(areas, out=out, scheduler=scheduler, n_workers=workers,
                      threads_per_worker=threads, rerun=rerun, retries=retries,
                      progress=not no_progress)
    counts = table["status"].value_counts().to_dict()
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))
    for _, r in table[table["status"] == "failed"].iterrows():
        click.echo(f"failed: {r['name']}: {r['error']}", err=True)
    click.echo(f"summary: {Path(out) / 'summary.csv'}, {Path(out) / 'summary.xlsx'}, "
               f"{Path(out) / 'summary_map.html'}")
    if counts.get("failed"):
        msg = f"{counts['failed']} area(s) failed (see above and summary.csv); the others finished"
        raise click.ClickException(msg)

if __name__ == "__main__":
    sys.exit(main())
