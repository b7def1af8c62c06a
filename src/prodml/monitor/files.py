"""Monitoring data that did not come through ``prodml serve``: a batch's predictions
written to the prediction log (``prodml predict FILE --log``), and a file monitored on its
own (``prodml monitor FILE``), in windows, with the drift rule, detectors and realized
performance served traffic gets.

A file monitored on its own is logged into a store of its own, in a temporary folder, so
that the project's log and alerts are left as they were; its predictions are its own
``prediction`` and ``probability[C]`` columns (as ``prodml predict`` writes them) when it
has them, else the model's; its ``data.target`` column, when it has one, is the feedback.
Windows and change points are then named by the file's rows, counted from 0.

Each logged row's request id is its ``data.id`` value (else ``<batch>-<row>``), its event
time its ``data.time`` value (else none: the monitor reads the time it was logged), its
role ``batch``.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from prodml.config import DriftSettings, MonitorSettings
from prodml.data.profile import ProfileBuilder, read_chunks
from prodml.data.schema import Schema
from prodml.errors import DataError, listing
from prodml.monitor.drift import DriftReport, distributions, drift_report
from prodml.monitor.monitor import Monitor, Pass
from prodml.monitor.reference import load_reference
from prodml.monitor.report import monitor_report
from prodml.monitor.scoring import Reference
from prodml.serve.prediction_log import Entry, PredictionLog, entry
from prodml.store.database import Database
from prodml.store.monitoring import Monitoring

if TYPE_CHECKING:
    from prodml.project import Project

#: The columns of predictions in a file, as ``prodml predict`` writes them.
PREDICTION, PROBABILITY = "prediction", "probability["
#: Rows logged in one transaction.
CHUNK_ROWS = 20_000


@dataclass(frozen=True)
class Roles:
    """The columns of a file that are no features: ``data.id``, ``data.time``,
    ``data.target`` and ``data.metadata`` (those it has, as the project names them)."""

    id: str | None
    time: str | None
    target: str | None
    metadata: tuple[str, ...] = ()

    @classmethod
    def of(cls, project: Project) -> Roles:
        data = project.settings.data
        return cls(data.id, data.time, data.target, tuple(data.metadata))


@dataclass(frozen=True)
class Model:
    """The registered version whose predictions are logged: under its name, as its
    endpoint, with its input schema."""

    name: str
    version: int
    run_id: str | None
    schema: Schema
    regression: bool = False  # its answers are values, not labels


def batch_entries(
    model: Model, rows: pd.DataFrame, first_row: int, roles: Roles, batch: str
) -> list[Entry]:
    """The prediction log's entries of ``rows`` (counted from ``first_row`` in their
    file): inputs, and ``prediction`` with one ``probability[C]`` column per class."""
    features = [c.name for c in model.schema.columns]
    missing = [c for c in (*features, PREDICTION) if c not in rows.columns]
    if missing:
        raise DataError(
            f"rows {first_row}.. have no column {listing(missing)}, which model "
            f"{model.name}:{model.version} needs; columns are: {listing(list(rows.columns))}"
        )
    logged = [*features, *(c for c in roles.metadata if c in rows.columns)]
    probabilities = [c for c in rows.columns if c.startswith(PROBABILITY) and c.endswith("]")]
    classes = [c[len(PROBABILITY) : -1] for c in probabilities]
    inputs = rows[logged].astype(object).where(rows[logged].notna(), None)
    ids = _ids(rows, roles.id, first_row, batch)
    times = _times(rows, roles.time, first_row)
    found = []
    records: list[dict[str, Any]] = inputs.to_dict("records")  # type: ignore[assignment]
    answers = [_plain(v) for v in rows[PREDICTION].tolist()]
    shares = rows[probabilities].to_numpy(dtype=float).tolist() if probabilities else None
    key = "value" if model.regression else "label"
    for k, record in enumerate(records):
        outputs: dict[str, Any] = {key: answers[k]}
        if shares is not None:
            outputs["probabilities"] = dict(zip(classes, shares[k], strict=True))
        found.append(
            entry(
                ids[k],
                model.name,
                model.name,
                model.version,
                record,
                outputs,
                0.0,
                role="batch",
                event_at=times[k],
                run_id=model.run_id,
                classes=classes or None,
            )
        )
    return found


def beside(
    inputs: Iterator[pd.DataFrame], scores: Iterator[pd.DataFrame]
) -> Iterator[pd.DataFrame]:
    """Each chunk of ``inputs`` with the columns of the same rows of ``scores`` it lacks
    (the two files' chunks need not be cut at the same rows)."""
    waiting = pd.DataFrame()
    for chunk in inputs:
        while len(waiting) < len(chunk):
            waiting = pd.concat([waiting, next(scores)], ignore_index=True)
        added = waiting.iloc[: len(chunk)].drop(columns=list(chunk.columns), errors="ignore")
        yield pd.concat([chunk.reset_index(drop=True), added.reset_index(drop=True)], axis=1)
        waiting = waiting.iloc[len(chunk) :].reset_index(drop=True)


def log_file(
    log: PredictionLog,
    model: Model,
    chunks: Iterator[pd.DataFrame],
    roles: Roles,
    batch: str,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Write every row of ``chunks`` (inputs with their predictions) to ``log``; rows."""
    rows = 0
    for chunk in chunks:
        for start in range(0, len(chunk), CHUNK_ROWS):
            part = chunk.iloc[start : start + CHUNK_ROWS]
            log.write(batch_entries(model, part, rows + start, roles, batch)).result()
        rows += len(chunk)
        if on_chunk is not None:
            on_chunk(rows)
    return rows


@dataclass
class FileReport:
    """What monitoring a file found, by its rows (counted from 0)."""

    file: str
    model: str
    rows: int
    windows: list[dict[str, Any]] = field(default_factory=list)
    change_points: list[dict[str, Any]] = field(default_factory=list)
    #: the monitoring report of its store (:func:`prodml.monitor.report.monitor_report`)
    page: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "file": self.file,
            "model": self.model,
            "rows": self.rows,
            "windows": self.windows,
            "change_points": self.change_points,
        }


def report_of(done: Pass, file: str, model: str, rows: int, first_id: int) -> FileReport:
    """``done``, a pass over the log of one file whose row 0 is log id ``first_id``, by
    the file's rows."""
    drifted: dict[int, list[str]] = {}
    for score in done.scores:
        if score.kind == "drift" and score.drifted:
            drifted.setdefault(score.window_id, []).append(score.column)
    found = FileReport(file, model, rows)
    for w in done.windows:
        m = w.metrics
        found.windows.append(
            {
                "first_row": w.first_id - first_id,
                "last_row": w.last_id - first_id,
                "rows": w.rows,
                "starts_at": w.starts_at.isoformat(),
                "ends_at": w.ends_at.isoformat(),
                "partial": bool(m.get("partial")),
                "too_few_rows": bool(m.get("too_few_rows")),
                "drifted": sorted(drifted.get(w.id, [])),
                "drift_share": m.get("drift_share"),
                "accuracy": m.get("accuracy"),
                "labelled": m.get("labelled", 0),
                "concept_change": m.get("concept_change", 0),
                "metrics": m,
            }
        )
    for point in done.change_points:
        found.change_points.append(
            {
                "detector": point.detector,
                "began_at_row": point.started_id - first_id,
                "found_at_row": point.detected_id - first_id,
                "began_at": point.started_at.isoformat(),
                "found_at": point.detected_at.isoformat(),
            }
        )
    return found


def monitor_file(
    project: Project,
    file: str | Path,
    *,
    reference: str | None = None,
    model: str | None = None,
    window: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> FileReport:
    """Monitor ``file`` as if its rows had been served one after another, in windows of
    ``monitor.window`` (``window``: of that many rows instead), against ``reference``: a
    run id, or a CSV or Parquet file of reference rows; by default, the profile of the
    model version's fit."""
    roles = Roles.of(project)
    served, ref = _model(project, model)
    settings = _settings(project.settings.monitor, window, roles, file)
    against = _reference(project, served, ref, reference)
    source = Path(file).resolve()
    with tempfile.TemporaryDirectory(prefix="prodml-monitor-") as folder:
        head = next(read_chunks(source, 1), pd.DataFrame())
        if PREDICTION in head.columns:
            chunks = read_chunks(source)
        else:  # scored by the model first, as prodml predict does
            scores = Path(folder) / "scores.parquet"
            project.predict(source, scores, ref)
            chunks = beside(read_chunks(source), read_chunks(scores))
        database = Database(f"sqlite:///{Path(folder) / 'monitor.db'}")
        try:
            log = PredictionLog(database)
            try:
                rows = log_file(log, served, chunks, roles, "row", on_chunk)
            finally:
                log.close()
            store = Monitoring(database)
            if roles.target is not None and roles.target in head.columns:
                _feedback(store, source, roles)
            first_id = 1  # a new store's log: row 0 is its first prediction
            done = Monitor(
                store,
                settings,
                lambda name, v, run: against,
                positive_class=project.settings.data.positive_class,
            ).run(served.name, close=True)
            found = report_of(done, str(file), ref, rows, first_id)
            found.page = monitor_report(store, served.name, against)
        finally:
            database.dispose()
    return found


def log_predictions(
    project: Project,
    file: str | Path,
    scores: str | Path,
    model: str | None = None,
    *,
    batch: str = "batch",
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Write the rows of ``file`` with their predictions in ``scores`` (``prodml predict``'s
    output of it by ``model``) to the project's prediction log, role ``batch``; rows."""
    served, _ = _model(project, model)
    chunks = beside(read_chunks(Path(file).resolve()), read_chunks(Path(scores).resolve()))
    log = PredictionLog(project.registry.database, project.settings.log.durability)
    try:
        return log_file(log, served, chunks, Roles.of(project), batch, on_chunk)
    finally:
        log.close()


def drift_between(
    a: pd.DataFrame, b: pd.DataFrame, settings: DriftSettings, ignore: Sequence[str] = ()
) -> DriftReport:
    """The drift of ``b`` from ``a``, column by column (those both have, but ``ignore``),
    by the monitor's rule."""
    columns = [c for c in a.columns if c in b.columns and c not in ignore]
    if not columns:
        raise DataError(
            f"the two files share no column to compare; the first has {listing(list(a.columns))}, "
            f"the second {listing(list(b.columns))}"
        )
    constant = settings.threshold if isinstance(settings.threshold, float) else None
    return drift_report(
        distributions(a[columns]),
        distributions(b[columns]),
        method=settings.method,
        thresholds=None if constant is None else dict.fromkeys(columns, constant),
        correction=settings.correction,
        drift_share=settings.share,
    )


def _model(project: Project, model: str | None) -> tuple[Model, str]:
    """Registered ``model`` (the project's primary by default), and its ``name:version``."""
    version = project.registry.get(model or project.name)
    if version.input_schema is None:
        raise DataError(f"model {version.ref} has no input schema; register a new fit")
    schema = Schema.from_dict(version.input_schema)
    regression = project.settings.task == "regression"
    return Model(version.name, version.version, version.run_id, schema, regression), version.ref


def _settings(
    settings: MonitorSettings, window: int | None, roles: Roles, file: str | Path
) -> MonitorSettings:
    """The monitor's settings for a file: its own window, no alerts or webhooks."""
    chosen = window if window is not None else settings.window
    if not isinstance(chosen, int) and roles.time is None:
        raise DataError(
            f"monitor.window '{chosen}' is a duration, and the project sets no data.time to "
            f"read the time of {file}'s rows from; give --window 1000 (a number of rows), or "
            "set data.time"
        )
    return settings.model_copy(update={"window": chosen, "alerts": (), "webhooks": ()})


def _reference(project: Project, model: Model, ref: str, given: str | None) -> Reference:
    """The reference ``given`` (a run id or a file), else the version's fit's."""
    try:
        data = project.load_data()
    except DataError:
        data = None
    if given is None or not Path(given).exists():  # a run id
        run = project.runs_store.get(given or model.run_id or "")
        return load_reference(project.runs_store, run, ref, data)
    frame = pd.concat(list(read_chunks(Path(given).resolve())), ignore_index=True)
    features = [c.name for c in model.schema.columns if c.name in frame.columns]
    builder = ProfileBuilder(features)
    builder.update(frame[features])
    task = data.task if data is not None else "classification"
    return Reference(task, model.schema, builder.finish(), None, None)


def _feedback(store: Monitoring, source: Path, roles: Roles) -> None:
    assert roles.target is not None
    labels: list[tuple[str, Any]] = []
    rows = 0
    for chunk in read_chunks(source):
        ids = _ids(chunk, roles.id, rows, "row")
        labels.extend(
            (ids[k], _plain(value))
            for k, value in enumerate(chunk[roles.target].tolist())
            if value is not None and not (isinstance(value, float) and math.isnan(value))
        )
        rows += len(chunk)
    if labels:
        store.add_feedback(labels, "file", skip_unknown=True)


def _ids(rows: pd.DataFrame, column: str | None, first_row: int, batch: str) -> list[str]:
    if column is not None and column in rows.columns:
        return [str(_plain(v)) for v in rows[column].tolist()]
    return [f"{batch}-{first_row + k}" for k in range(len(rows))]


def _times(rows: pd.DataFrame, column: str | None, first_row: int) -> list[datetime | None]:
    if column is None or column not in rows.columns:
        return [None] * len(rows)
    moments = pd.to_datetime(rows[column], errors="coerce", utc=True)
    if moments.isna().any():
        bad = int(moments.isna().to_numpy().nonzero()[0][0])
        raise DataError(
            f"data.time '{column}' of row {first_row + bad} is "
            f"{rows[column].iloc[bad]!r}, not a time; give every row a time such as "
            "2026-01-31T12:00:00Z"
        )
    return [moment.to_pydatetime() for moment in moments]


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds."""
    return value.item() if hasattr(value, "item") else value
