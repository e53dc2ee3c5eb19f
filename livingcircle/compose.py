"""Wire the drawings of a result into :class:`livingcircle.results.Result`.

``results`` is the lowest of the output modules: ``maps``, ``_display``, ``report`` and the others
import it, never the other way round (``tests/test_layers.py``). Yet a ``Result`` writes its
``map.html`` and shows itself in a notebook, which ``maps`` and ``_display`` draw. This module sits
at the pipeline's level, above every output, and hands those functions to
:data:`livingcircle.results.RENDERERS`; the package's ``__init__`` imports it, so every
``Result`` finds them.

Each function here imports its output module when first called, so that ``import livingcircle``
does not load folium. A new drawing a ``Result`` method needs gets a field in
:class:`livingcircle.results.Renderers` and a function here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .results import RENDERERS

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import folium
    import pandas as pd

    from .results import Result


def make_map(result: Result, **kwargs: Any) -> folium.Map:
    """Return the offline map of ``result`` (:func:`livingcircle.maps.make_map`)."""
    from .maps import make_map as draw

    return draw(result, **kwargs)


def save_page(make: Callable[[], Any], path: Path) -> None:
    """Render ``make()`` into ``path`` (:func:`livingcircle.maps.save_page`)."""
    from .maps import save_page as save

    save(make, path)


def summary(result: Result) -> pd.DataFrame:
    """Return the summary table of ``result`` (:func:`livingcircle._display.summary`)."""
    from ._display import summary as table

    return table(result)


def text(result: Result) -> str:
    """Return the text ``repr`` of ``result`` (:func:`livingcircle._display.text`)."""
    from ._display import text as show

    return show(result)


def html_table(result: Result) -> str:
    """Return the notebook display of ``result`` (:func:`livingcircle._display.html_table`)."""
    from ._display import html_table as show

    return show(result)


def explore(result: Result, layer: str, **kwargs: Any) -> folium.Map:
    """Return an interactive map of one layer (:func:`livingcircle._display.explore`)."""
    from ._display import explore as draw

    return draw(result, layer, **kwargs)


def report_figures(result: Result, lang: str, max_cards: int):
    """Return the report's figures (:func:`livingcircle.figures.report_figures`)."""
    from .figures import report_figures as draw

    return draw(result, lang, max_cards)


RENDERERS.make_map = make_map
RENDERERS.save_page = save_page
RENDERERS.report_figures = report_figures
RENDERERS.summary = summary
RENDERERS.text = text
RENDERERS.html_table = html_table
RENDERERS.explore = explore
