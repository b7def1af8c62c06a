"""Pages from templates: the Jinja2 environment (autoescaped), the filters every page
uses to show numbers and times the same way, and :func:`page`, which adds what the base
template needs (the visitor, the CSRF token, the navigation).

>>> number(0.912345), number(1234567), number(None), number(0.00012), percent(0.25)
('0.9123', '1,234,567', '—', '0.00012', '25.0%')
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from prodml.ui.access import CSRF_FIELD, Visitor, csrf_token

FOLDER = Path(__file__).parent
#: the name of the dashboard's mount, which its route names begin with
MOUNT_NAME = "ui"
#: the pages the navigation lists: route name, title
NAVIGATION = (
    ("overview", "Overview"),
    ("runs", "Runs"),
    ("models", "Models"),
    ("live", "Live traffic"),
    ("monitoring", "Monitoring"),
    ("alerts", "Alerts"),
    ("review", "Review"),
)


def number(value: Any) -> str:
    """A number as every page shows it: integers with thousands separators, others to
    four decimals (or four significant digits when tiny or huge); a dash when missing."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.4f}" if 1e-3 <= abs(value) < 1e5 else f"{value:.4g}"
    return str(value)


def percent(value: Any) -> str:
    """A share as a percentage, one decimal."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{float(value):.1%}"


def when(value: datetime | str | None) -> str:
    """A moment in UTC, to the second."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value:%Y-%m-%d %H:%M:%S}"


def path(request: Request, route: str, **params: Any) -> str:
    """The path of the dashboard's route named ``route`` (under its mount, ``/ui``)."""
    return request.url_for(f"{MOUNT_NAME}:{route}", **params).path


def params_with(request: Request, **changes: Any) -> str:
    """``request``'s query string with ``changes`` made (a page, a sort), every other
    parameter kept, repeated ones too."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    return urlencode([*kept, *((k, str(v)) for k, v in changes.items())])


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(FOLDER / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt name fails in the tests, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, percent=percent, when=when)
    return env


templates = Jinja2Templates(env=_environment())


def page(
    request: Request,
    name: str,
    visitor: Visitor | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Template ``name`` with ``context``, for ``visitor`` (None: nobody signed in yet)."""
    shared = {
        "visitor": visitor,
        "csrf": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "navigation": NAVIGATION,
        "path": lambda route, **params: path(request, route, **params),
        "params_with": lambda **changes: params_with(request, **changes),
    }
    return templates.TemplateResponse(request, name, {**shared, **context}, status_code=status)
