"""Errors raised by livingcircle.

Every error the package raises on purpose derives from :class:`LivingCircleError`. Errors about
the user's input are also ``ValueError`` so that generic ``except ValueError`` code keeps working.
Messages name the file, the row or column and what to do.
"""


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
