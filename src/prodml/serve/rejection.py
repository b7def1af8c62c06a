"""Why a request gets no prediction: :class:`Rejected` carries the HTTP status and the
sentence that names the field, the value and what is allowed.

Every protocol answers a rejection in its own body (``{"error": ...}`` for V2 and the
native API, ``{"error_code", "message"}`` for MLflow), so the places that find a
mistake (reading the body, decoding, validating) raise this one type and stay
unaware of protocols.

==========  ======================================================================
status      when
==========  ======================================================================
400         malformed JSON or CSV, a body of the wrong shape, an unsupported extension
401         no usable API key for a route that needs one: none, malformed, unknown, revoked
403         the key's role is below the route's, or the server has no key store
404         an unknown model, version or path
405         a method the path does not take
413         a body over the size limit
415         a content type the protocol does not read
422         a record that does not fit the model's input schema (MLflow and V2: 400,
            as their specifications say)
500         the model failed (not the client's mistake; logged with its cause)
503         the model is not loaded yet, the queue is full, or the prediction log failed
==========  ======================================================================
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from prodml.errors import shortened

#: the most characters of a client's value a message quotes
SHOWN = 60


class Rejected(Exception):
    """A request the server answers with ``status`` and ``message`` instead of a prediction.

    >>> Rejected(422, "record 0: field 'age' is 'old'; expected a whole number", "age").field
    'age'
    """

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}  # of the answer, such as 401's WWW-Authenticate

    def __repr__(self) -> str:
        return f"Rejected({self.status}, {self.message!r})"


def shown(value: Any) -> str:
    """A client's value as JSON writes it, for a message: short, and safe to build however
    long or deeply nested the value (a 1 MB string, 1,000 nested lists).

    >>> shown("west"), shown(None), shown(float("nan")), shown([1, {"a": True}])
    ("'west'", 'null', 'NaN', '[1,{"a":true}]')
    >>> shown("a" * 1_048_576)  # doctest: +ELLIPSIS
    "'aaaa...a…' (1,048,576 characters)"
    """
    if isinstance(value, str):
        if len(value) <= SHOWN:
            return repr(value)
        return f"'{shortened(value[: SHOWN + 1], SHOWN)}' ({len(value):,} characters)"
    if value is None or isinstance(value, bool):
        return orjson.dumps(value).decode()
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, int | float):
        return shortened(value, SHOWN)
    try:
        return shortened(orjson.dumps(value, default=str).decode(), SHOWN)
    except orjson.JSONEncodeError:  # over orjson's 255 levels
        return "a value nested too deep to show"
