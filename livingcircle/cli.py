"""The ``livingcircle`` command line: thin commands over the library.

Subcommands live beside the code they drive: a module that offers one defines a click command
named ``cli_command`` (or a list ``cli_commands``) and is listed in :data:`_COMMAND_MODULES`.
``-v``/``-q`` set logging; errors about the user's input print one actionable line and exit 2.
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from ._errors import LivingCircleError

_COMMAND_MODULES = [
    "livingcircle.pipeline",
    "livingcircle.export",
    "livingcircle.maps",
    "livingcircle.report",
    "livingcircle.figures",
    "livingcircle.clusters",
    "livingcircle.batch",
]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="livingcircle")
def cli(verbose: int, quiet: bool) -> None:
    """Living-circle analysis for old-community renovation (老旧小区改造)."""
    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    level = logging.ERROR if quiet else levels[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    for name in _COMMAND_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # that capability is not built yet
            raise
        cmds = list(getattr(mod, "cli_commands", []))
        if hasattr(mod, "cli_command"):
            cmds.append(mod.cli_command)
        for cmd in cmds:
            cli.add_command(cmd)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code (0 ok, 2 bad input, 1 other failure)."""
    try:
        rv = cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except LivingCircleError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except FileNotFoundError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    # with standalone_mode=False click returns the exit code of ctx.exit(code)
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
