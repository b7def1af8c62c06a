"""The sticky key: the text a request is routed by (:func:`~prodml.serve.routing.point`), so
that one customer meets one version of a canary on every request and every replica.

A request's key is, first to last:

1. its ``X-Prodml-Key`` header, when sent: a client that names its key means it, whatever
   its rows hold;
2. the value of the field ``serve.sticky_key`` names in the request's first row, as text:
   a model input, or a column the data names but the model does not take (``data.id``,
   ``data.time``, ``data.metadata``), which a request may carry beside the inputs;
3. none: the request routes by its request id, a random point.

A field the request lacks, or holds no value in (null, NaN, a list), falls to 3: a request
is never refused for its key. Each protocol finds the field where its rows name fields:
``/predict``'s first record; MLflow's first ``dataframe_records`` or ``instances`` object,
``dataframe_split`` under its ``columns``, ``inputs`` by column, a CSV's first row under
its header; a V2 input tensor of that name, else the request's ``parameters`` (V2 inputs
are the model's only; a value there, or the first of a list of one a row). Forms that
name no fields (rows as lists of values, one 2-D V2 tensor) route by the header or the
request id. The same places hold the ``data.metadata`` fields logged with a request's
rows (:mod:`prodml.serve.metadata`).

A value's text is what JSON would say of it, so that a number is one key however it
comes: ``42`` and ``42.0`` are the key ``42``, ``0.5`` is ``0.5``, ``true`` is ``true``.
Text is taken as it is (a CSV cell, a ``BYTES`` value): ``"42"`` is ``42`` too, but
``"042"`` and ``"42.0"`` are keys of their own.

>>> text(42.0), text("42"), text(True), text(None)
('42', '42', 'true', None)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from prodml.data.schema import Schema
from prodml.errors import ConfigError, did_you_mean, listing

if TYPE_CHECKING:
    from prodml.project import Project
    from prodml.serve.options import ServeOptions

#: The header that carries a request's sticky key.
KEY_HEADER = "x-prodml-key"


def key(
    request: Request, options: ServeOptions, find: Callable[[str], Any] | None = None
) -> str | None:
    """``request``'s sticky key: its header, else the text of ``find(field)`` (the value of
    ``options.sticky_key`` in the first row, or None; no ``find``: a request without rows),
    else None."""
    header = request.headers.get(KEY_HEADER)
    if header is not None or options.sticky_key is None or find is None:
        return header
    return text(find(options.sticky_key))


def text(value: Any) -> str | None:
    """``value`` as a key: text as it is, a whole number without a fraction, true/false in
    lower case; None for a value that is missing or not one value."""
    if type(value) is str:
        return value
    if type(value) is bool:
        return str(value).lower()
    if type(value) is int:
        return str(value)
    if type(value) is float and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def in_first(rows: Any, field: str) -> Any:
    """The value of ``field`` in the first of ``rows``, when they are a list whose first is
    an object (None otherwise: the request's own checks say what is wrong with it).

    >>> in_first([{"customer": "c-7", "income": 1}], "customer"), in_first([[1, 2]], "x")
    ('c-7', None)
    """
    if type(rows) is list and rows and type(rows[0]) is dict:
        return rows[0].get(field)
    return None


def fields_served(project: Project, run: str) -> list[str]:
    """The fields a request to what ``project`` serves may carry, as :func:`key` reads
    them: the data's id, time and metadata columns, then the inputs of every version
    served (``run``'s, or with ``run`` empty, each deployment's primary and candidate)."""
    if run:
        schemas = [project.run(run).input_schema]
    else:
        registry = project.registry
        schemas = [
            registry.get(f"{d.name}:{version}").input_schema
            for d in registry.deployments()
            for version in (d.primary, *([d.candidate.version] if d.candidate else []))
        ]
    data = project.settings.data
    named = [name for name in (data.id, data.time, *data.metadata) if name]
    inputs = [c.name for raw in schemas if raw for c in Schema.from_dict(raw).columns]
    return list(dict.fromkeys([*named, *inputs]))


def check_field(field: str, known: list[str]) -> None:
    """Refuse (:class:`ConfigError`) a ``serve.sticky_key`` that no request would carry.

    >>> check_field("customer", ["income", "customer"])
    >>> check_field("incme", ["income", "customer"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    prodml.errors.ConfigError: serve.sticky_key 'incme' is not a field of the served ...
    """
    if field not in known:
        raise ConfigError(
            f"serve.sticky_key {field!r} is not a field of the served models' inputs or the "
            f"data's id, time and metadata columns; fields are: {listing(known)}"
            f"{did_you_mean(field, known)}"
        )
