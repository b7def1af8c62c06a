"""What prodml's offline HTML pages share: the base style, Jinja2 templates, and how
numbers and coordinates are shown.

The report pages (``prodml evaluate --html``, ``prodml monitor report --html``,
``prodml deployments compare --html``, ``prodml retrain --backtest --html``) are Jinja2
templates beside the dashboard's (:func:`template`), the first three on a frame of their
own (``_report.html``), each with :data:`BASE_STYLE` inline; Python lays out what they
draw (numbers as text, chart coordinates), the templates escape every value.

>>> clip("north-east", 5), tenth(2.25)
('nort…', 2.2)
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "BASE_STYLE",
    "clip",
    "missing",
    "template",
    "tenth",
]

#: The rules every page shares; each page appends its own (width, margins, alignment, fonts).
BASE_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1f2328; margin: 0; background: #f6f8fa; }
main { margin: 0 auto; padding: 24px; } h1 { font-size: 22px; } h2 { font-size: 17px; }
header, section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px;
  padding: 16px 20px; margin-bottom: 16px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eaeef2; }
.muted { color: #59636e; } .ok { color: #1a7f37; } .scroll { overflow-x: auto; }
svg text { fill: #1f2328; text-anchor: middle; dominant-baseline: central; }
svg .start { text-anchor: start; } svg .end { text-anchor: end; } svg .tick { fill: #59636e; }
svg .grid { stroke: #eaeef2; }
"""


def missing(value: Any) -> bool:
    """Whether ``value`` is undefined: None or a float's nan.

    >>> missing(None), missing(float("nan")), missing(0.0), missing("n/a")
    (True, True, False, False)
    """
    return value is None or (isinstance(value, float) and math.isnan(value))


def clip(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` characters, an ellipsis marking the cut.

    >>> clip("region=north", 8), clip("north", 8)
    ('region=…', 'north')
    """
    return text if len(text) <= width else text[: width - 1] + "…"


def tenth(value: float) -> float:
    """``value`` to the tenth: an SVG coordinate, to the tenth of a pixel.

    >>> tenth(12.345), tenth(3)
    (12.3, 3)
    """
    return round(value, 1)


#: The dashboard's templates; a page of its own (``--html``) is one of them that extends none.
TEMPLATES = Path(__file__).parent / "ui" / "templates"


def template(name: str, **context: Any) -> str:
    """Template ``name`` of :data:`TEMPLATES` rendered with ``context``, every value
    escaped unless marked safe; a name the template uses and ``context`` lacks is an error
    (see :func:`prodml.retrain.backtest.render_html`)."""
    return _environment().get_template(name).render(**context)


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2  # only a page that is written loads it

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
