"""What prodml's offline HTML pages share: the base style, Jinja2 templates, how numbers and
coordinates are shown, and the building blocks of markup built in Python.

The report pages (``prodml evaluate --html``, ``prodml monitor report --html``,
``prodml deployments compare --html``, ``prodml retrain --backtest --html``) are Jinja2
templates beside the dashboard's (:func:`template`), the first three on a frame of their
own (``_report.html``), each with :data:`BASE_STYLE` inline. The evaluation page's deferral
section (:mod:`prodml.evaluate.deferral`) is still markup built here: functions return
markup as strings; arguments named ``content``, ``body``, ``text`` or ``cells`` are markup
already (escape what came from the data with :func:`escape` first), while attribute values
and ``title`` strings are escaped here.

>>> el("a", escape("R&D"), href="?q=1&r=2", class_="link")
'<a href="?q=1&amp;r=2" class="link">R&amp;D</a>'
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "BASE_STYLE",
    "clip",
    "el",
    "escape",
    "missing",
    "scroll",
    "section",
    "svg",
    "table",
    "template",
    "tenth",
    "tr",
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


def escape(value: Any) -> str:
    """``value`` as text, safe in content and in a quoted attribute.

    >>> escape('<b title="x">') + escape(3)
    '&lt;b title=&quot;x&quot;&gt;3'
    """
    return html.escape(str(value), quote=True)


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


def el(tag: str, content: str | None = None, **attrs: Any) -> str:
    """An element around ``content`` (markup), or empty (``<tag/>``) when it is None.

    An attribute's name drops a trailing ``_`` and has ``-`` for ``_`` (``class_`` gives
    class, ``aria_label`` aria-label); its value is escaped, a float rounded to 0.1.

    >>> el("rect", x=1.25, fill_opacity="0.5")
    '<rect x="1.2" fill-opacity="0.5"/>'
    """
    pairs = ""
    for key, value in attrs.items():
        shown = tenth(value) if isinstance(value, float) else escape(value)
        pairs += f' {key.rstrip("_").replace("_", "-")}="{shown}"'
    return f"<{tag}{pairs}/>" if content is None else f"<{tag}{pairs}>{content}</{tag}>"


def svg(
    width: float,
    height: float,
    parts: Iterable[str],
    cls: str = "",
    title: str = "",
    **attrs: Any,
) -> str:
    """An SVG image of ``parts`` (markup), ``width`` by ``height`` pixels in its own units.

    ``title`` (text) becomes its first child, its tooltip and accessible name; ``attrs``
    are further attributes, as for :func:`el`.

    >>> print(svg(20, 10, [el("circle", r=2)], cls="dot", title="a <dot>", role="img"))
    <svg class="dot" width="20" height="10" viewBox="0 0 20 10" role="img">
    <title>a &lt;dot&gt;</title>
    <circle r="2"/>
    </svg>
    """
    head = [el("title", escape(title))] if title else []
    body = "\n".join(["", *head, *parts, ""])
    first = {"class_": cls} if cls else {}
    box = f"0 0 {width} {height}"
    return el("svg", body, **first, width=width, height=height, viewBox=box, **attrs)


def scroll(content: str) -> str:
    """``content`` in a box that scrolls sideways when it is wider than the page."""
    return f'<div class="scroll">\n{content}\n</div>'


def section(ident: str, title: str, body: str) -> str:
    """A page section: its id, its heading (markup) and its body (markup)."""
    return f'<section id="{ident}">\n<h2>{title}</h2>\n{body}\n</section>'


def tr(cells: Iterable[str], cls: str = "", tag: str = "td") -> str:
    """A table row, each cell (markup) in a ``<td>`` (or ``tag``), unless it already is
    one, to carry its own attributes.

    >>> tr(["a", '<td class="num">1</td>'], cls="focus")
    '<tr class="focus"><td>a</td><td class="num">1</td></tr>'
    """
    attr = f' class="{cls}"' if cls else ""
    opened = f"<{tag}"
    return (
        f"<tr{attr}>"
        + "".join(c if c.startswith(opened) else f"<{tag}>{c}</{tag}>" for c in cells)
        + "</tr>"
    )


def table(head: Iterable[str], rows: Iterable[str], cls: str = "") -> str:
    """A table, in a box that scrolls sideways, of ``rows`` (each a ``<tr>``, or each a
    ``<tbody>`` of them) under a row of ``head`` cells (markup; see :func:`tr`).

    >>> print(table(["name"], [tr(["north"])]))
    <div class="scroll">
    <table>
    <thead><tr><th>name</th></tr></thead>
    <tbody>
    <tr><td>north</td></tr>
    </tbody>
    </table>
    </div>
    """
    body = "\n".join(rows)
    if not body.startswith("<tbody"):
        body = f"<tbody>\n{body}\n</tbody>"
    attr = f' class="{cls}"' if cls else ""
    return scroll(f"<table{attr}>\n<thead>{tr(head, tag='th')}</thead>\n{body}\n</table>")


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
