"""What retraining and its backtest are asked for, parsed: a strategy, a duration, a span
of rows or time. Light (no numpy, no pandas), so ``prodml retrain`` checks its options
before anything heavy loads.

>>> rows_or_duration("90d", "--window"), rows_or_duration("5000", "--window")
(datetime.timedelta(days=90), 5000)
>>> duration("12h", "--half-life")
datetime.timedelta(seconds=43200)
>>> rows_or_duration("soon", "--horizon", 200)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
prodml.errors.ConfigError: --horizon 'soon' is not a duration; ..., or a number of rows such as 200
"""

from __future__ import annotations

from datetime import timedelta
from typing import get_args, overload

from prodml.config import Strategy, window_seconds
from prodml.errors import ConfigError

__all__ = ["POINTS", "STRATEGIES", "duration", "rows_or_duration", "score_text"]

#: The strategies, in the order tables show them.
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)
#: The moments of the history a backtest replays, by default.
POINTS = 5


@overload
def duration(value: str | timedelta, option: str) -> timedelta: ...
@overload
def duration(value: None, option: str) -> None: ...
@overload
def duration(value: str | timedelta | None, option: str) -> timedelta | None: ...
def duration(value: str | timedelta | None, option: str) -> timedelta | None:
    """``value`` (``30d``, ``12h``) as a timedelta; a bad one names ``option``."""
    if value is None or isinstance(value, timedelta):
        return value
    try:
        return timedelta(seconds=window_seconds(value.strip()))
    except ValueError as exc:
        raise ConfigError(f"{option} {exc}") from None


def rows_or_duration(
    value: timedelta | str | int | None, option: str, example: int = 5000
) -> timedelta | int | None:
    """A window or horizon as given: ``90d`` (a duration) or ``5000`` (rows); None stays."""
    if value is None or isinstance(value, timedelta):
        return value
    if isinstance(value, int) or value.strip().isdigit():
        rows = int(value)
        if rows < 1:
            raise ConfigError(f"{option} {rows} is not a number of rows; give 1 or more")
        return rows
    try:
        return duration(value, option)
    except ConfigError as exc:
        raise ConfigError(f"{exc}, or a number of rows such as {example}") from None


def score_text(value: float | None) -> str:
    """A score as the table and the HTML page show it: four decimals, a dash for none.

    >>> score_text(0.8), score_text(None)
    ('0.8000', '—')
    """
    return "—" if value is None else f"{value:.4f}"
