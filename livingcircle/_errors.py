"""Errors raised by livingcircle.

Every error the package raises on purpose derives from :class:`LivingCircleError`. Errors about
the user's input are also ``ValueError`` so that generic ``except ValueError`` code keeps working.
Messages name the file, the row or column and what to do.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator


class LivingCircleError(Exception):
    """Base class of every livingcircle error."""


class InputError(LivingCircleError, ValueError):
    """An input file or frame cannot be used as given."""


class ProfileError(InputError):
    """A standard profile file is malformed (the message names the bad key)."""


class NetworkError(LivingCircleError, ValueError):
    """The walking network cannot be built or is unusable."""


class CoordinateError(InputError):
    """Coordinates are in the wrong system, swapped or outside the study area."""


class ExportError(LivingCircleError, ValueError):
    """A result cannot be written where or how it was asked."""


class LivingCircleWarning(UserWarning):
    """A warning of livingcircle itself about the user's input or results (shown by the CLI).

    The command line prints these as ``warning: <message>``; warnings of the libraries it uses
    are shown only with ``-v``.
    """


# --- wording of advice for the user's context (Python, command line, areas.yaml) --------------

_WHERE: contextvars.ContextVar[str] = contextvars.ContextVar("livingcircle_where",
                                                            default="python")


@contextlib.contextmanager
def on_command_line(where: str = "cli") -> Iterator[None]:
    """Within this block, error advice names command-line options instead of Python parameters.

    ``where='yaml'`` names the keys of ``areas.yaml`` instead (``livingcircle batch``).
    """
    token = _WHERE.set(where)
    try:
        yield
    finally:
        _WHERE.reset(token)


def advice(python: str, cli: str, yaml: str | None = None) -> str:
    """Return the advice for the user's context (:func:`on_command_line`).

    Outside it ``python``; on the command line ``cli``; in ``areas.yaml`` ``yaml`` (or ``cli``
    when no YAML form is given, the keys being the options' names).
    """
    where = _WHERE.get()
    if where == "yaml":
        return yaml if yaml is not None else cli
    return cli if where == "cli" else python
