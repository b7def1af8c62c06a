"""The time of the event a request's rows are about, when it is not the moment they arrive.

A replay of history, or a client that queues its requests, knows when each event
happened; the monitor's windows of time follow that time where a row has one
(:class:`~prodml.monitor.window.Cutter`), and the arrival elsewhere. A request carries it
in its rows, as the project's ``data.time`` field (the column ``prodml predict --log``
reads as well), or once for all its rows, as the parameter ``time`` (V2
``"parameters": {"time": ...}``, MLflow ``"params": {"time": ...}``); a row's own time
wins. It is logged as the prediction's ``event_us``; a request without one logs null.

A time is ISO 8601 text with its zone, ``Z`` or an offset, at most a day ahead of the
server's clock (a clock or a time zone gone wrong, not a forecast); anything else is a
422 that names the field and the value.

>>> event_us("2026-01-31T12:00:00Z", "field 'at'")
1769860800000000
>>> event_us("2026-01-31T13:00:00+01:00", "field 'at'")
1769860800000000
>>> event_us("2026-01-31T12:00:00", "field 'at'")  # doctest: +ELLIPSIS
Traceback (most recent call last):
prodml.serve.rejection.Rejected: field 'at': '2026-01-31T12:00:00' has no time zone; ...
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prodml.serve.rejection import Rejected, shown
from prodml.store.log_format import microseconds

#: The parameter that gives every row of a request one time.
PARAMETER = "time"
#: How far ahead of the server's clock an event's time may be.
AHEAD = timedelta(days=1)
_ALLOWED = (
    "give ISO 8601 text with its zone, such as 2026-01-31T12:00:00Z or "
    "2026-01-31T13:00:00+01:00, at most a day ahead of now"
)


def event_us(value: Any, where: str, field: str = PARAMETER) -> int:
    """``value``, a time as a request gives it, in microseconds since 1970 (UTC); else a
    422 naming where it was given (``where``, of ``field``), the value and what is
    allowed."""
    problem = "is not text"
    if type(value) is str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            problem = "is not an ISO 8601 time"
        else:
            if moment.tzinfo is None:
                problem = "has no time zone"
            elif moment - datetime.now(UTC) > AHEAD:
                problem = "is more than a day ahead of the server's clock"
            else:
                return microseconds(moment)
    raise Rejected(422, f"{where}: {shown(value)} {problem}; {_ALLOWED}", field)


def row_times(values: Sequence[Any], name: str, text: bool = False) -> list[int | None] | None:
    """The event time of each row from its field ``name`` (``values``: one a row, None
    where a row has none; ``text``: CSV cells, where an empty one is none); None when no
    row has one."""
    if all(value is None or (text and value == "") for value in values):
        return None
    return [
        None if value is None or (text and value == "") else _row_time(value, i, name)
        for i, value in enumerate(values)
    ]


def _row_time(value: Any, row: int, name: str) -> int:
    return event_us(value, f"row {row}, field '{name}'", name)
