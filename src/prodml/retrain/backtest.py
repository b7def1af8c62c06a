"""Which strategy? A backtest replays the labelled history of the prediction log.

At several moments of the past (the *points*), each strategy of
:mod:`prodml.retrain.training` is trained on what was known then
(:func:`~prodml.retrain.training.build` with the point as its cutoff: the project's data
plus the labels received by that moment) and scored on the labelled rows that came next
(predicted after the point, up to its horizon), with the metric the project's evaluation
ranks by: accuracy (recall of ``data.positive_class`` when that class is under 10% of the
labels) or MAE. The strategy with the better mean suits the team's own data; no one-off
split can say so.

By default 5 points cut the labelled history's time span into 6 equal parts, and each
point is scored up to the next one (the last up to the newest labelled row): the first
part is only learnt from, and every later labelled row is scored once. A horizon of a
duration scores the rows predicted within it after each point, one of N rows the next N.

>>> import pandas as pd
>>> times = pd.Series(pd.to_datetime(["2026-01-01", "2026-01-04", "2026-01-07"], utc=True))
>>> [f"{t:%d %H:%M}" for t in schedule(times, 2, None)[0]]
['03 00:00', '05 00:00']
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter

from prodml.config import Settings, Strategy
from prodml.data.dataset import Dataset, prepare
from prodml.errors import ConfigError, DataError
from prodml.evaluate.evaluation import RARE_POSITIVE
from prodml.evaluate.metrics import metrics
from prodml.executor import running
from prodml.model.factory import build as build_model
from prodml.page import BASE_STYLE, template
from prodml.retrain.spans import POINTS, STRATEGIES, duration, rows_or_duration, score_text
from prodml.retrain.training import build, labelled_history, time_column
from prodml.tracking.fit import fit

if TYPE_CHECKING:
    from prodml.project import Project

__all__ = [
    "ROWS_PER_POINT",
    "Backtest",
    "OnFit",
    "Point",
    "backtest",
    "render_html",
    "replay",
    "schedule",
]

#: Labelled rows a backtest needs for each part of the history its points cut: of 5
#: points (6 parts), 30.
ROWS_PER_POINT = 5
#: Called after each fit with (fits done, fits in all).
OnFit = Callable[[int, int], None]


@dataclass(frozen=True)
class Point:
    """One moment of the replay: the strategies trained on what was known at ``cutoff``,
    scored on the ``rows_scored`` labelled rows predicted after it, up to ``until``."""

    cutoff: datetime
    until: datetime | None  # the horizon's end (with a horizon of N rows: the Nth row's time)
    rows_scored: int
    rows_trained: dict[str, int]  # by strategy (window keeps fewer)
    scores: dict[str, float | None]  # by strategy; None: no rows to score
    winners: tuple[str, ...]  # the best strategies (several on a tie), none without scores


@dataclass(frozen=True)
class Backtest:
    """The replay's outcome: a score per point and strategy, and their means."""

    endpoint: str | None
    metric: str
    better: Literal["higher", "lower"]
    horizon: str  # as given, or "to the next point"
    labelled: int  # labelled rows in the history
    strategies: tuple[Strategy, ...]  # replayed
    skipped: dict[str, str]  # strategy: why it was not replayed
    points: tuple[Point, ...]
    mean: dict[str, float | None]  # by strategy, over the points that had rows to score
    winners: tuple[str, ...]  # the best mean (several on a tie)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601 text."""
        found = asdict(self)
        for point in found["points"]:
            point["cutoff"] = point["cutoff"].isoformat()
            point["until"] = None if point["until"] is None else point["until"].isoformat()
        return found


def replay(
    project: Project,
    endpoint: str | None = None,
    *,
    points: int = POINTS,
    horizon: str | int | timedelta | None = None,
    since: datetime | None = None,
    window: str | int | timedelta | None = None,
    half_life: str | timedelta | None = None,
    on_fit: OnFit | None = None,
) -> Backtest:
    """:func:`backtest` of ``project``'s model over the labelled history of ``endpoint``'s
    prediction log (``monitor.endpoint``, else the project's name) known now: what
    :meth:`prodml.project.Project.backtest` does."""
    name = project.endpoint(endpoint)
    now = datetime.now(UTC)
    if isinstance(half_life, str):
        half_life = duration(half_life, "--half-life")
    return backtest(
        project.load_data("backtesting").frame,
        labelled_history(project, name, cutoff=now),
        project.settings,
        build_model(project.settings.model, project.path),
        points=points,
        horizon=rows_or_duration(horizon, "--horizon", 200),
        since=since,
        window=rows_or_duration(window, "--window"),
        half_life=half_life,
        endpoint=name,
        on_fit=on_fit,
    )


def backtest(
    data: pd.DataFrame,
    history: pd.DataFrame,
    settings: Settings,
    model: Any,
    *,
    points: int = POINTS,
    horizon: timedelta | int | None = None,
    since: datetime | None = None,
    window: timedelta | int | None = None,
    half_life: timedelta | None = None,
    endpoint: str | None = None,
    on_fit: OnFit | None = None,
) -> Backtest:
    """Replay ``history`` (:func:`~prodml.retrain.training.labelled_history` up to now) at
    ``points`` moments: each strategy ``model`` (unfitted; cloned for each fit) can take is
    trained on ``data`` plus the labels received by the point, and scored on the labelled
    rows predicted after it, up to the ``horizon`` (a duration or a number of rows; by
    default up to the next point). ``since``, ``window`` and ``half_life`` are
    :func:`~prodml.retrain.training.build`'s. The fits run where ``executor:`` says."""
    if points < 1:
        raise ConfigError(f"--points {points} is not a number of points; give 1 or more, e.g. 5")
    needed = ROWS_PER_POINT * (points + 1)
    if len(history) < needed:
        raise DataError(
            f"the prediction log{f' of {endpoint}' if endpoint else ''} has {len(history):,} "
            f"labelled predictions, and a backtest of {points} points needs at least {needed} "
            f"({ROWS_PER_POINT} for each of the {points + 1} parts the points cut); send the "
            "true labels with `prodml feedback FILE` (or answer the review queue: `prodml "
            "review`), or ask for fewer points with --points"
        )
    target = settings.data.target
    times = pd.to_datetime(history[time_column(settings)], utc=True)
    cutoffs, ends = schedule(times, points, horizon)
    strategies, skipped = _strategies(model, settings, window)
    metric, better = _metric(settings, history[target])
    scored = [_next(times, cutoff, end, horizon) for cutoff, end in zip(cutoffs, ends, strict=True)]
    builds = {
        (p, strategy): build(
            data,
            history,
            settings,
            strategy,
            cutoff=cutoff.to_pydatetime(),
            since=since,
            window=window,
            half_life=half_life,
        )
        for p, cutoff in enumerate(cutoffs)
        for strategy in strategies
    }
    # a point with nothing to score, or a strategy left with no rows to learn from (a
    # narrow window), is not fitted: its score is None, shown as a dash
    fits = [key for key in builds if len(scored[key[0]]) and builds[key].rows]
    predicted: dict[tuple[int, Strategy], np.ndarray] = {}
    with running(settings.executor) as run:
        jobs = (_job(builds[key], history.iloc[scored[key[0]]], settings) for key in fits)
        for done, (key, answers) in enumerate(
            zip(fits, run(_fit_predict, jobs, model), strict=True), 1
        ):
            predicted[key] = answers
            if on_fit is not None:
                on_fit(done, len(fits))
    found = []
    for p, cutoff in enumerate(cutoffs):
        rows = history.iloc[scored[p]]
        scores: dict[str, float | None] = {
            s: _score(settings, metric, rows[target], builds[p, s], predicted.get((p, s)))
            for s in strategies
        }
        last = times.iloc[scored[p][-1]].to_pydatetime() if len(scored[p]) else None
        found.append(
            Point(
                cutoff=cutoff.to_pydatetime(),
                until=last if isinstance(horizon, int) else ends[p].to_pydatetime(),
                rows_scored=len(rows),
                rows_trained={s: builds[p, s].rows for s in strategies},
                scores=scores,
                winners=_best(scores, better),
            )
        )
    mean: dict[str, float | None] = {
        s: _mean([point.scores[s] for point in found]) for s in strategies
    }
    return Backtest(
        endpoint=endpoint,
        metric=metric,
        better=better,
        horizon=_horizon_text(horizon),
        labelled=len(history),
        strategies=strategies,
        skipped=skipped,
        points=tuple(found),
        mean=mean,
        winners=_best(mean, better),
    )


def schedule(
    times: pd.Series, points: int, horizon: timedelta | int | None
) -> tuple[list[pd.Timestamp], list[pd.Timestamp]]:
    """The points (cutoffs, to the second) over the span of ``times``, and where each one's
    scoring ends:
    the next point by default (the newest time after the last point), else the point
    plus a ``horizon`` duration; with a horizon of rows, the newest time (rows count)."""
    first, last = times.min(), times.max()
    if not first < last:
        raise DataError(
            f"every labelled prediction was made at {first}; a backtest needs labelled "
            "predictions made over a span of time, to train on the earlier and score the later"
        )
    step = (last - first) / (points + 1)
    # whole seconds, as the table shows them
    cutoffs = [(first + step * i).floor("s") for i in range(1, points + 1)]
    if horizon is None:
        return cutoffs, [*cutoffs[1:], last]
    if isinstance(horizon, int):
        return cutoffs, [last] * points
    return cutoffs, [cutoff + pd.Timedelta(horizon) for cutoff in cutoffs]


def render_html(found: Backtest, project: str = "") -> str:
    """The backtest as one self-contained HTML page (template ``backtest.html``): no
    script, no font, no URL.

    >>> at = datetime(2026, 1, 5)
    >>> point = Point(at, None, 12, {"all": 340}, {"all": 0.75}, ("all",))
    >>> page = render_html(Backtest("loans", "accuracy", "higher", "to the next point", 40,
    ...     ("all",), {}, (point,), {"all": 0.75}, ("all",)), "loans <test>")
    >>> page.startswith("<!DOCTYPE html>"), "0.7500" in page, "loans &lt;test&gt;" in page
    (True, True, True)
    >>> "<script" in page, "http" in page
    (False, False)
    """
    return template(
        "backtest.html",
        style=BASE_STYLE,
        project=project,
        backtest=found,
        score=score_text,
    )


# ---- the replay's parts -------------------------------------------------------------

Job = tuple[Dataset, "np.ndarray | None", pd.DataFrame]


def _job(built: Any, rows: pd.DataFrame, settings: Settings) -> Job:
    """What one fit needs: the training rows as a data set (text columns as categories,
    as :func:`prodml.project.Project.fit` has them), their weights, and the rows to
    predict with the training rows' column types."""
    train = prepare(built.frame, settings.data, settings.task, "the backtest", "backtesting")
    features = list(train.features)
    kinds = {c: train.frame[c].dtype for c in features}
    categories = {c: kind for c, kind in kinds.items() if isinstance(kind, pd.CategoricalDtype)}
    return train, built.weights, rows.reindex(columns=features).astype(categories)


def _fit_predict(model: Any, job: Job) -> np.ndarray:
    train, weights, rows = job
    fitted = clone(model, safe=False)
    if weights is None:
        fit(fitted, train)
    else:
        fitted.fit(train.X, train.y, **_weight_argument(fitted, weights))
    return np.asarray(fitted.predict(rows))


def _weight_argument(model: Any, weights: np.ndarray) -> dict[str, np.ndarray]:
    if isinstance(model, Pipeline):
        return {f"{model.steps[-1][0]}__sample_weight": weights}
    return {"sample_weight": weights}


def _final(model: Any) -> Any:
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def _strategies(
    model: Any, settings: Settings, window: timedelta | int | None
) -> tuple[tuple[Strategy, ...], dict[str, str]]:
    """The strategies to replay, and why the others are not."""
    skipped = {}
    if window is None and rows_or_duration(settings.retrain.window, "retrain.window") is None:
        skipped["window"] = (
            "no window is set: give --window 90d (a duration) or --window 5000 (the newest "
            "rows), or set retrain.window in prodml.yaml"
        )
    final = _final(model)
    if not has_fit_parameter(final, "sample_weight"):
        skipped["weighted"] = (
            f"{type(final).__name__}.fit takes no sample_weight, so recency weights cannot "
            "be given to it"
        )
    return tuple(s for s in STRATEGIES if s not in skipped), skipped


def _metric(settings: Settings, labels: pd.Series) -> tuple[str, Literal["higher", "lower"]]:
    """The metric the evaluation ranks by (see :mod:`prodml.evaluate.evaluation`)."""
    if settings.task == "regression":
        return "mae", "lower"
    positive = settings.data.positive_class
    if positive is not None and (labels.astype(str) == str(positive)).mean() < RARE_POSITIVE:
        return f"recall[{positive}]", "higher"
    return "accuracy", "higher"


def _next(
    times: pd.Series, cutoff: pd.Timestamp, end: pd.Timestamp, horizon: timedelta | int | None
) -> np.ndarray:
    """The positions of the rows scored at ``cutoff``: predicted after it, up to ``end``
    (or the next ``horizon`` rows)."""
    after = np.flatnonzero((times > cutoff).to_numpy())
    if isinstance(horizon, int):
        return after[:horizon]
    return after[(times.iloc[after] <= end).to_numpy()]


def _score(
    settings: Settings, metric: str, truth: pd.Series, built: Any, answers: np.ndarray | None
) -> float | None:
    if answers is None:
        return None
    target = built.frame[settings.data.target]
    with contextlib.suppress(TypeError, ValueError):  # feedback may give 1.0 for a class 1
        truth = truth.astype(target.dtype)
    found = metrics(settings.task, truth.to_numpy(), answers)
    # a class neither true nor predicted here has no recall: 0, as scikit-learn's
    # zero_division=0 gives when the class is named
    return found.get(metric, 0.0)


def _best(scores: dict[str, float | None], better: Literal["higher", "lower"]) -> tuple[str, ...]:
    known = {s: v for s, v in scores.items() if v is not None and not math.isnan(v)}
    if not known:
        return ()
    best = (max if better == "higher" else min)(known.values())
    return tuple(s for s, v in known.items() if v == best)


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def _horizon_text(horizon: timedelta | int | None) -> str:
    if horizon is None:
        return "to the next point"
    if isinstance(horizon, int):
        return f"the next {horizon} rows"
    return _duration(horizon)


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"
