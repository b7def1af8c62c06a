"""The tables of the system of record. The schema changes only through migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        datetime: DateTime(timezone=True),
    }


class RunRow(Base):
    """One tracked fit, search, search candidate or sanity check."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    project: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    code_commit: Mapped[str | None] = mapped_column(String(40))
    code_dirty: Mapped[bool | None]
    data_source: Mapped[str | None] = mapped_column(Text)
    data_fingerprint: Mapped[str | None] = mapped_column(String(64))
    data_rows: Mapped[int | None] = mapped_column(BigInteger)
    split: Mapped[dict[str, Any] | None]
    model_spec: Mapped[dict[str, Any] | None]
    params: Mapped[dict[str, Any] | None]
    metrics: Mapped[dict[str, Any] | None]
    fit_seconds: Mapped[float | None]
    cpu_seconds: Mapped[float | None]
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    environment: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    input_schema: Mapped[dict[str, Any] | None]


class ArtifactRow(Base):
    """A file a run produced, with the SHA-256 its content must still have."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("run_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    uri: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    format: Mapped[str] = mapped_column(String(20))
    format_version: Mapped[int] = mapped_column(Integer)
    trusted: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class EvaluationRow(Base):
    """An evaluation of a finished run: its report, the audit verdict and any sign-off."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    project: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any]]
    passed: Mapped[bool]
    signed_by: Mapped[str | None] = mapped_column(String(200))
    sign_note: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[datetime | None]


class DatasetRow(Base):
    """A data set some run used, by content: where it came from and its shape."""

    __tablename__ = "datasets"

    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(BigInteger)
    schema_hash: Mapped[str] = mapped_column(String(64))
    schema: Mapped[dict[str, Any]]
    first_seen: Mapped[datetime]


#: An autoincrementing 64-bit key (SQLite's autoincrement needs INTEGER).
BIG_KEY = BigInteger().with_variant(Integer(), "sqlite")


class ModelVersionRow(Base):
    """A registered model: a name, its version number, and the run it came from."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    project: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    data_fingerprint: Mapped[str | None] = mapped_column(String(64))
    input_schema: Mapped[dict[str, Any] | None]
    evaluation_id: Mapped[str | None] = mapped_column(String(32))
    audit_passed: Mapped[bool | None]


class DeploymentRow(Base):
    """Which versions an endpoint serves: its primary and at most one candidate (with its
    mode, share of traffic and ramp); ``revision`` grows with every change."""

    __tablename__ = "deployments"

    endpoint: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    primary_version: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    candidate_version: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str | None] = mapped_column(String(20))
    share: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    plan: Mapped[dict[str, Any] | None]
    ramp_step: Mapped[int | None] = mapped_column(Integer)
    step_started_at: Mapped[datetime | None]
    previous_version: Mapped[int | None] = mapped_column(Integer)
    automation: Mapped[dict[str, Any] | None]  # who decides; None: the model (full)


class DeploymentEventRow(Base):
    """One change of a deployment: registered, promoted, rolled back..."""

    __tablename__ = "deployment_events"

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(40))
    version: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any] | None]
    revision: Mapped[int | None] = mapped_column(Integer)  # the deployment's, after it
    actor: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class LogStreamRow(Base):
    """What the predictions of one endpoint, model version, role, input columns and classes
    share, stored once (see :mod:`prodml.store.log_format`)."""

    __tablename__ = "log_streams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(32))  # the run whose model answered
    role: Mapped[str] = mapped_column(String(20))
    columns: Mapped[list[str]] = mapped_column(JSON)
    classes: Mapped[list[Any] | None] = mapped_column(JSON)
    decided_by: Mapped[str | None] = mapped_column(String(20))  # None: the model
    format_version: Mapped[int] = mapped_column(Integer)


class PredictionRow(Base):
    """One prediction the server answered, written before the answer went out; its values
    in the compact format of :mod:`prodml.store.log_format`."""

    __tablename__ = "predictions"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 (SQLAlchemy's own form)

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    stream_id: Mapped[int] = mapped_column(ForeignKey("log_streams.id"))
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    at_us: Mapped[int] = mapped_column(BigInteger)  # arrival: microseconds since 1970, UTC
    inputs: Mapped[bytes] = mapped_column(LargeBinary)
    outputs: Mapped[bytes] = mapped_column(LargeBinary)
    latency_us: Mapped[int] = mapped_column(BigInteger)
    # the event's time, when the request carried one (microseconds since 1970, UTC)
    event_us: Mapped[int | None] = mapped_column(BigInteger)


class RequestErrorRow(Base):
    """A request the server answered with an error (4xx or 5xx): the error rate's count."""

    __tablename__ = "request_errors"

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    protocol: Mapped[str] = mapped_column(String(20))
    status: Mapped[int] = mapped_column(Integer)
    latency_seconds: Mapped[float]
    model_version: Mapped[int | None] = mapped_column(Integer)  # routed to, if any


class FeedbackRow(Base):
    """A true label for a logged prediction; of several for one request id, the last counts."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    label: Mapped[dict[str, Any]]  # {"value": the label}, so that any JSON value fits
    received_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(200))


class MonitorWindowRow(Base):
    """One window of an endpoint's prediction log, and its metrics."""

    __tablename__ = "monitor_windows"
    __table_args__ = (UniqueConstraint("endpoint", "model_version", "first_id"),)

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    first_id: Mapped[int] = mapped_column(BigInteger)  # the window's predictions, by id
    last_id: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class DriftScoreRow(Base):
    """One feature's (or the outputs') drift score in one window: the time series."""

    __tablename__ = "drift_scores"

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("monitor_windows.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # drift, prediction or skew
    column: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(20))
    score: Mapped[float]
    p_value: Mapped[float | None]  # after the correction for many features
    threshold: Mapped[float]
    threshold_on: Mapped[str] = mapped_column(String(10))  # score or p_value
    drifted: Mapped[bool]


class AlertRow(Base):
    """An alert rule that fired on a window, and what became of its webhooks."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    rule: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None]
    window_id: Mapped[int] = mapped_column(ForeignKey("monitor_windows.id"))
    fired_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    deliveries: Mapped[dict[str, Any]]
    resolved_window_id: Mapped[int | None] = mapped_column(BIG_KEY, default=None)


class ChangePointRow(Base):
    """A change in the error rate that a streaming detector found in the feedback."""

    __tablename__ = "change_points"
    __table_args__ = (UniqueConstraint("endpoint", "detector", "started_id"),)

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    endpoint: Mapped[str] = mapped_column(String(200), index=True)
    detector: Mapped[str] = mapped_column(String(40))
    started_id: Mapped[int] = mapped_column(BigInteger)  # the prediction where it began
    detected_id: Mapped[int] = mapped_column(BigInteger)  # the one where it was found
    started_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    found_at: Mapped[datetime]


class MonitorStreamRow(Base):
    """How far the monitor's change detectors have read an endpoint's error stream, so
    that a new process (``prodml monitor --once``) carries on instead of reading every
    label again: the newest feedback row read, each detector's state, and the id and
    time of each prediction read (delta-coded int64s, zlib-compressed)."""

    __tablename__ = "monitor_streams"

    endpoint: Mapped[str] = mapped_column(String(200), primary_key=True)
    mark: Mapped[int] = mapped_column(BigInteger)
    detectors: Mapped[dict[str, Any]]
    ids: Mapped[bytes] = mapped_column(LargeBinary)
    times: Mapped[bytes] = mapped_column(LargeBinary)
    saved_at: Mapped[datetime]


class MonitorPositionRow(Base):
    """Where the monitor reads an endpoint's log from: every prediction up to ``through``
    is in a stored window. The windows of the models that share an endpoint interleave
    (a canary's rows among the primary's), so the newest window's last id is no such
    place: rows of a model whose window is still open lie before it."""

    __tablename__ = "monitor_positions"

    endpoint: Mapped[str] = mapped_column(String(200), primary_key=True)
    through: Mapped[int] = mapped_column(BigInteger)


class ApiKeyRow(Base):
    """An API key: its public id, a unique name, its role and the SHA-256 of its secret
    (see :mod:`prodml.deploy.keys`)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ReviewItemRow(Base):
    """A prediction a person decides (see :mod:`prodml.store.review`): deferred, sampled
    for audit, or answered by the fallback rule; leased to one reviewer at a time."""

    __tablename__ = "review_items"
    __table_args__ = (
        Index(  # the open items by priority; no other index: the server writes one an item
            "ix_review_items_open",
            "priority",
            "id",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(36), unique=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[int | None] = mapped_column(Integer)
    inputs: Mapped[dict[str, Any] | None]  # None: the prediction log's (the server's items)
    suggestion: Mapped[dict[str, Any] | None]  # {"label", "confidence"}; None: not shown
    reason: Mapped[str] = mapped_column(String(20))
    priority: Mapped[float] = mapped_column(Float)
    answers_needed: Mapped[int] = mapped_column(Integer)
    answers_given: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    leased_by: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ReviewAnswerRow(Base):
    """One reviewer's answer to one review item (a reviewer answers an item once)."""

    __tablename__ = "review_answers"
    __table_args__ = (UniqueConstraint("item_id", "reviewer"),)

    id: Mapped[int] = mapped_column(BIG_KEY, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(200))
    label: Mapped[dict[str, Any]]  # {"value": the label}
    note: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime]
