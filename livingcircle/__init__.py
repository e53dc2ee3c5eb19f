"""livingcircle: 5/10/15-minute living circles for old-community renovation (老旧小区改造).

Load a walking network and facility points, measure for every community the walking distance to
every category of the living-circle standard (GB 50180-2018, 完整居住社区), find the gaps, decide
renovation scope and needs under the provincial policy, and recommend area-linked renovation
clusters. See README.md and the numbered notebooks.
"""

from importlib.metadata import PackageNotFoundError, version

from . import compose as compose  # hands maps and _display to Result (results.RENDERERS)
from . import coords, figures, settings
from ._errors import (
    CoordinateError,
    ExportError,
    InputError,
    LivingCircleError,
    LivingCircleWarning,
    NetworkError,
    ProfileError,
)
from .accessibility import Access, measure_access
from .diagnostics import Diagnostics
from .inputs import InputFile
from .io import (
    read_boundary,
    read_communities,
    read_facilities,
    read_gates,
    read_layer,
    read_sites,
)
from .isochrones import isochrones, iter_isochrones
from .network import WalkNetwork, build_network
from .osm import read_osm_facilities, read_osm_residential
from .pipeline import run, run_sample
from .results import Result, load_result
from .sample import SYNTHETIC_LABEL, sample_paths
from .standards import (
    Category,
    Level,
    Profile,
    SiteRule,
    SpeedProfile,
    classify_facilities,
    classify_poi,
    list_categories,
    load_profile,
    site_fit,
)

try:
    __version__ = version("livingcircle")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "SYNTHETIC_LABEL",
    "Access",
    "Diagnostics",
    "InputFile",
    "Result",
    "WalkNetwork",
    "build_network",
    "isochrones",
    "iter_isochrones",
    "load_result",
    "measure_access",
    "read_boundary",
    "read_communities",
    "read_facilities",
    "read_gates",
    "read_layer",
    "read_osm_facilities",
    "read_osm_residential",
    "read_sites",
    "run",
    "run_sample",
    "sample_paths",
    "Category",
    "CoordinateError",
    "ExportError",
    "InputError",
    "Level",
    "LivingCircleError",
    "LivingCircleWarning",
    "NetworkError",
    "Profile",
    "ProfileError",
    "SiteRule",
    "SpeedProfile",
    "__version__",
    "classify_facilities",
    "classify_poi",
    "coords",
    "figures",
    "list_categories",
    "load_profile",
    "site_fit",
    "settings",
]
