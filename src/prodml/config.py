"""The project file, ``prodml.yaml``, parsed once into frozen typed settings.

Nothing deeper than this module reads raw YAML: the rest of prodml receives
:class:`Settings` and its parts. Errors name the key, the value, what is allowed and,
where it fits, the closest allowed value.

>>> s = parse_settings({"project": "demo", "data": {"source": "bundled:iris",
...     "target": "target"}, "model": "sklearn.tree.DecisionTreeClassifier"})
>>> s.model.factory, s.data.split_settings("classification").method
('sklearn.tree.DecisionTreeClassifier', 'stratified')
"""

from __future__ import annotations

import re
import types
import typing
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from prodml.errors import ConfigError, did_you_mean, listing, shortened

PROJECT_FILE = "prodml.yaml"
Task = Literal["classification", "regression"]
#: what an input value never seen in training gets: a refusal (422), or the model's answer
Unseen = Literal["reject", "predict"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SqlSource(_Frozen):
    """An SQL query over an SQLAlchemy URL: ``{sql: "select ...", url: "sqlite:///x.db"}``."""

    sql: str = Field(description="the query whose rows are the data set")
    url: str = Field(description="an SQLAlchemy URL, e.g. sqlite:///data/loans.db")


SEED_MAX = 2**32 - 1


def _seed(value: int) -> int:
    # numpy's legacy generators (used by scikit-learn) take 0 to 2**32-1 only
    if not 0 <= value <= SEED_MAX:
        raise ValueError(f"a seed is a whole number from 0 to {SEED_MAX} (2**32-1)")
    return value


Seed = Annotated[int, AfterValidator(_seed)]


class _FractionSplit(_Frozen):
    dev: float = Field(0.2, ge=0.0, lt=1.0, description="share of rows for the dev set")
    test: float = Field(0.2, gt=0.0, lt=1.0, description="share of rows for the test set")
    seed: Seed = 0

    @model_validator(mode="after")
    def _leaves_training_rows(self) -> _FractionSplit:
        if self.dev + self.test >= 1.0:
            raise ValueError(
                f"dev {self.dev} + test {self.test} leaves no training rows; keep their sum below 1"
            )
        return self


class RandomSplit(_FractionSplit):
    """Rows shuffled with a seed, then cut into train, dev and test."""

    method: Literal["random"]


class StratifiedSplit(_FractionSplit):
    """Every split keeps the label shares of the whole data set."""

    method: Literal["stratified"]


class BalancedSplit(_FractionSplit):
    """Stratified jointly on the label and metadata columns (e.g. gender, region)."""

    method: Literal["balanced"]
    on: tuple[str, ...] = Field(description="metadata columns to balance on, with the label")
    min_count: int = Field(10, ge=1, description="smallest cell count worth measuring")


class TimeSplit(_Frozen):
    """Train before a date, test from it on (and dev between ``dev_after`` and it)."""

    method: Literal["time"]
    test_after: datetime = Field(description="a date such as 2024-07-01: test rows from it on")
    dev_after: datetime | None = None

    @field_validator("test_after", "dev_after", mode="before")
    @classmethod
    def _date_is_midnight(cls, value: object) -> object:
        if isinstance(value, date) and not isinstance(value, datetime):
            return datetime(value.year, value.month, value.day)
        return value

    @model_validator(mode="after")
    def _dev_before_test(self) -> TimeSplit:
        if self.dev_after is not None and self.dev_after >= self.test_after:
            raise ValueError(
                f"dev_after {self.dev_after:%Y-%m-%d} must come before "
                f"test_after {self.test_after:%Y-%m-%d}"
            )
        return self


SplitSettings = Annotated[
    RandomSplit | StratifiedSplit | BalancedSplit | TimeSplit, Field(discriminator="method")
]
SPLIT_METHODS = ("random", "stratified", "balanced", "time")


class DataSettings(_Frozen):
    """Where the data comes from and what its columns mean."""

    source: str | SqlSource = Field(
        description="a .csv or .parquet file, bundled:NAME, module:function, or {sql, url}"
    )
    target: str = Field(description="the column to predict")
    positive_class: str | int | None = None
    id: str | None = Field(None, description="a column that names each example")
    metadata: tuple[str, ...] = Field((), description="columns kept for slicing, never features")
    time: str | None = Field(None, description="a datetime column, for time splits")
    features: tuple[str, ...] | None = None
    split: SplitSettings | None = None
    missing_target: Literal["drop", "error"] = Field(
        "error",
        description="rows whose target is missing: an error that names them (error), or "
        "left out of fitting and evaluation (drop)",
    )

    def split_settings(self, task: Task) -> SplitSettings:
        """The configured split, or the default for the task (stratified or random)."""
        if self.split is not None:
            return self.split
        if task == "classification":
            return StratifiedSplit(method="stratified")
        return RandomSplit(method="random")


class ModelSpec(_Frozen):
    """A factory (dotted path, or ``rules:file.py:function``) with its arguments.

    Parameters may hold nested specs (``{factory: ..., params: ...}``) for pipelines.
    """

    factory: str = Field(description="e.g. sklearn.linear_model.LogisticRegression")
    params: dict[str, Any] = Field(default_factory=dict)
    args: tuple[Any, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: object) -> object:
        return {"factory": value} if isinstance(value, str) else value


class Distribution(_Frozen):
    """A distribution for random search: ``{dist: loguniform, low: 0.001, high: 10}``."""

    dist: Literal["uniform", "loguniform", "randint"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Distribution:
        if not self.low < self.high:
            raise ValueError(f"low {self.low} must be below high {self.high}")
        if self.dist == "loguniform" and self.low <= 0:
            raise ValueError(f"loguniform needs low > 0, got {self.low}")
        return self


class SearchSettings(_Frozen):
    """Hyperparameter search with cross-validation on the training split."""

    method: Literal["grid", "random"] = "grid"
    params: dict[str, list[Any] | Distribution] = Field(
        description="parameter name to a list of values (or a distribution for random)"
    )
    n_iter: int = Field(10, ge=1)
    cv: int = Field(5, ge=2)
    scoring: str | None = None
    seed: Seed = 0

    @model_validator(mode="after")
    def _grid_takes_lists(self) -> SearchSettings:
        for name, values in self.params.items():
            if self.method == "grid" and isinstance(values, Distribution):
                raise ValueError(
                    f"params.{name} is a distribution, which only random search "
                    "can sample; give a list of values or set search.method: random"
                )
            if isinstance(values, list) and not values:
                raise ValueError(f"params.{name} is an empty list; give at least one value")
        return self


class BinSlice(_Frozen):
    """Numeric bins of one column: ``{column: income, bins: [0, 20000, 50000]}``.

    A list gives the edges (left-closed bins, the last one open to the right); a
    number gives that many quantile bins.
    """

    column: str
    bins: int | tuple[float, ...] = Field(
        4, description="edges such as [0, 20000, 50000], or a number of quantile bins"
    )

    @field_validator("bins")
    @classmethod
    def _usable(cls, bins: int | tuple[float, ...]) -> int | tuple[float, ...]:
        if isinstance(bins, int) and bins < 2:
            raise ValueError(f"{bins} bins cannot split anything; give at least 2")
        if isinstance(bins, tuple) and (len(bins) < 2 or list(bins) != sorted(set(bins))):
            raise ValueError("edges must be at least two increasing numbers, e.g. [0, 20000]")
        return bins


class WhereSlice(_Frozen):
    """The rows where a boolean expression holds: ``{name: low income, where: income < 20000}``."""

    where: str = Field(description="a pandas expression, e.g. income < 20000 and age > 60")
    name: str | None = None


def _slice_kind(value: object) -> str:
    if isinstance(value, dict):
        return "WhereSlice" if "where" in value else "BinSlice"
    if isinstance(value, BaseModel):
        return type(value).__name__
    return "str" if isinstance(value, str) else "tuple[str, ...]"


#: A metadata (or any) column, a cross of columns, numeric bins, or an expression.
SliceSpec = Annotated[
    Annotated[str, Tag("str")]
    | Annotated[tuple[str, ...], Tag("tuple[str, ...]")]
    | Annotated[BinSlice, Tag("BinSlice")]
    | Annotated[WhereSlice, Tag("WhereSlice")],
    Discriminator(_slice_kind),
]

AUDIT_CHECKS = ("min", "max", "across", "beat", "golden")


class AuditRule(_Frozen):
    """One condition a model must meet before it may be deployed.

    ``{metric: recall, class: 1, min: 0.8}``, ``{metric: accuracy, slice: region=north,
    min: 0.7}``, ``{metric: recall, across: gender, max_gap: 0.05}`` (or ``min_ratio:
    0.8``), ``{metric: f1, class: 1, beat: majority, by: 0.1}``, ``{golden: true}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    metric: str | None = Field(None, description="e.g. accuracy, recall, f1, roc_auc, mae")
    class_: str | int | None = Field(None, alias="class")
    slice: str | None = Field(None, description="a slice name such as region=north")
    min: float | None = None
    max: float | None = None
    across: str | None = Field(None, description="a metadata column, e.g. gender")
    max_gap: float | None = Field(None, ge=0.0)
    min_ratio: float | None = Field(None, ge=0.0, le=1.0)
    beat: str | None = Field(None, description="a baseline: majority, stratified, a rule...")
    by: float = 0.0
    golden: bool = False

    @model_validator(mode="after")
    def _one_check(self) -> AuditRule:
        checks = [
            name
            for name, given in zip(
                AUDIT_CHECKS,
                (self.min is not None, self.max is not None, self.across, self.beat, self.golden),
                strict=True,
            )
            if given
        ]
        if len(checks) != 1 and not (checks == ["min", "max"]):
            raise ValueError(
                f"a rule needs exactly one check of {listing(AUDIT_CHECKS)} (min and max "
                f"may go together), got {listing(checks) or 'none'}"
            )
        if not self.golden and self.metric is None:
            raise ValueError("metric is missing; name one, e.g. metric: recall")
        if self.across and (self.max_gap is None) == (self.min_ratio is None):
            raise ValueError(f"across: {self.across} needs one of max_gap or min_ratio")
        return self


class EvaluateSettings(_Frozen):
    """What ``prodml evaluate`` looks at beyond the headline metrics."""

    slices: tuple[SliceSpec, ...] | None = Field(
        None, description="columns, crosses, bins or expressions (default: the metadata)"
    )
    tags: str | None = Field(None, description="a CSV or Parquet file of id and tags")
    golden: str | None = Field(None, description="a file of ids that must be right")
    human: str | None = Field(
        None, description="a column of human labels, or a file of id and human label"
    )
    reference: str | None = Field(
        None, description="the baseline slices are compared with (default: HLP, else majority)"
    )
    min_count: int = Field(30, ge=1, description="fewer rows in a slice: insufficient evidence")
    audit: tuple[AuditRule, ...] = ()


class LabelsSettings(_Frozen):
    """Labels given by people (``prodml data labels``): one row per label given."""

    file: str | None = Field(None, description="a CSV or Parquet file of example, labeler, label")
    example: str = Field("example", description="the column naming the example labeled")
    labeler: str = Field("labeler", description="the column naming who labeled it")
    label: str = Field("label", description="the column of the label given")
    standardise: dict[str, str] = Field(
        default_factory=dict, description="label to its standard name, e.g. deep scratch: scratch"
    )
    level: Literal["nominal", "ordinal", "interval"] = "nominal"


#: The drift statistics ``monitor.drift.method`` may name (None: KS or chi-square, by column).
DriftMethod = Literal["ks", "chisquare", "wasserstein", "jensenshannon", "psi", "hellinger"]
_WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class AlertRule(_Frozen):
    """``{metric: drift_share, above: 0.3, for: 2}``: fire when the metric of this many
    windows in a row is above (or below) the value; ``prodml alerts list`` shows them."""

    metric: str = Field(
        description="a window metric: drift_share, drift.<feature>, latency_p99_seconds, "
        "error_rate, mean_confidence, accuracy, recall.<class>, missing.<feature>..."
    )
    above: float | None = None
    below: float | None = None
    for_: int = Field(1, ge=1, alias="for", description="windows in a row before it fires")
    name: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> AlertRule:
        if (self.above is None) == (self.below is None):
            raise ValueError(
                f"alert on {self.metric} needs exactly one of above or below, e.g. "
                f"{{metric: {self.metric}, above: 0.3}}"
            )
        return self

    @property
    def label(self) -> str:
        """The rule's name, or ``metric > value`` (``for N windows``)."""
        if self.name:
            return self.name
        sign, value = (">", self.above) if self.above is not None else ("<", self.below)
        return f"{self.metric} {sign} {value:g}" + (f" for {self.for_}" if self.for_ > 1 else "")


class DriftSettings(_Frozen):
    """How windows are compared with the model's reference profile."""

    method: DriftMethod | None = Field(
        None, description="one statistic for every feature; unset: KS, or chi-square for categories"
    )
    threshold: float | Literal["learned"] | None = Field(
        None,
        description="a constant, or learned: above 199 simulated reference windows of the "
        "same size (at most 0.5% of feature-windows flagged without drift)",
    )
    correction: Literal["holm", "bonferroni", "none"] = "holm"
    share: float = Field(0.5, gt=0.0, le=1.0, description="drifted features share: dataset drift")


class RetrainTriggers(_Frozen):
    """``monitor.retrain:``: when a monitor pass retrains the endpoint's model into a shadow
    candidate (see :mod:`prodml.retrain.triggers`): an alert rule firing for ``windows``
    windows in a row, a schedule (``every``), or ``labels`` new feedback labels since the
    last retrain; at most once a ``cooldown`` and ``daily_budget`` times a UTC day. After
    ``stop_after`` failed candidates in a row it stops, and an alert says so, until a
    version that passes its audit is registered (``prodml retrain`` by a person)."""

    alert: str | None = Field(
        None, description="an alert rule of monitor.alerts, by its name (prodml alerts list)"
    )
    windows: int = Field(1, ge=1, description="windows in a row the alert fires on, at least")
    every: str | None = Field(None, description="a schedule: this long after the last retrain")
    labels: int | None = Field(None, ge=1, description="new feedback labels since the last one")
    cooldown: str = Field("1h", description="at least this long between triggered retrains")
    daily_budget: int = Field(2, ge=1, description="triggered retrains a UTC day, at most")
    stop_after: int = Field(3, ge=1, description="failed candidates in a row before it stops")

    @field_validator("every", "cooldown")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            window_seconds(value)
        return value

    @model_validator(mode="after")
    def _something_to_wait_for(self) -> RetrainTriggers:
        if self.alert is None and self.every is None and self.labels is None:
            raise ValueError(
                "give at least one trigger: alert (a rule's name), every (e.g. 7d) or "
                "labels (e.g. 1000), e.g. {alert: drift_share > 0.3, windows: 2}"
            )
        return self


class MonitorSettings(_Frozen):
    """``monitor:``: the windows the prediction log is read in, drift, alerts, webhooks."""

    window: str | int = Field(
        "1h", description="a duration (90s, 30m, 1h, 1d) or a number of predictions (5000)"
    )
    lateness: str = Field(
        "5s",
        description="how long a window of time waits past its end for rows still to come "
        "(by event time, or arrival); a row later than that is counted as late_rows",
    )
    endpoint: str | None = Field(None, description="the endpoint to watch; unset: the project's")
    min_rows: int = Field(
        100,
        ge=1,
        description="a window with fewer rows gets its software metrics but no drift verdict",
    )
    min_labels: int = Field(
        30,
        ge=1,
        description="a window with fewer labels keeps its realized performance (accuracy, "
        "mae...), but alert rules on it are not judged there",
    )
    drift: DriftSettings = DriftSettings()
    alerts: tuple[AlertRule, ...] = ()
    webhooks: tuple[str, ...] = Field((), description="URLs that get each alert as a JSON POST")
    retrain: RetrainTriggers | None = Field(
        None, description="when a pass retrains the model into a shadow; unset: never"
    )

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | int) -> str | int:
        if isinstance(value, int):
            if value < 2:
                raise ValueError("a window of predictions needs at least 2; e.g. 5000")
            return value
        try:
            window_seconds(value)
        except ValueError as exc:
            raise ValueError(f"{exc}, or a number of predictions such as 5000") from None
        return value

    @field_validator("lateness")
    @classmethod
    def _lateness(cls, value: str) -> str:
        window_seconds(value)
        return value

    @model_validator(mode="after")
    def _retrain_alert_is_a_rule(self) -> MonitorSettings:
        name = None if self.retrain is None else self.retrain.alert
        rules = [rule.label for rule in self.alerts]
        if name is not None and name not in rules:
            raise ValueError(
                f"retrain.alert '{name}' is not an alert rule of monitor.alerts; "
                + (
                    f"they are: {listing(rules)}{did_you_mean(name, rules)}"
                    if rules
                    else "add it there first, e.g. alerts: [{metric: drift_share, above: 0.3}]"
                )
            )
        return self

    @property
    def seconds(self) -> float | None:
        """The window's length in seconds, or None for a window of a number of predictions."""
        return None if isinstance(self.window, int) else window_seconds(self.window)

    @property
    def lateness_seconds(self) -> float:
        """``lateness`` in seconds."""
        return window_seconds(self.lateness)


def window_seconds(text: str) -> float:
    """``"90s"``, ``"30m"``, ``"1h"``, ``"1d"`` in seconds.

    >>> window_seconds("30m")
    1800.0
    """
    number, unit = text[:-1].strip(), text[-1:]
    try:
        value = float(number)
    except ValueError:
        value = -1.0
    if unit not in _WINDOW_UNITS or value <= 0:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit (s, m, h, d), e.g. 30m or 1h"
        )
    return value * _WINDOW_UNITS[unit]


class RetentionSettings(_Frozen):
    """How much of the prediction log ``prodml log prune`` keeps (nothing set: all of it)."""

    age: str | None = Field(None, description="predictions newer than this, e.g. 30d or 12h")
    rows: int | None = Field(None, ge=1, description="at most this many, the newest")

    @field_validator("age")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        if value is not None:
            window_seconds(value)
        return value


class LogSettings(_Frozen):
    """The prediction log: how durable an acknowledged prediction is, and how long it stays.

    ``process`` (the default): an acknowledged prediction survives a crash of the server
    process; ``power``: also a power cut (every group commit is synced to the disk).
    """

    durability: Literal["process", "power"] = "process"
    retention: RetentionSettings = RetentionSettings()


class StoreSettings(_Frozen):
    """Where runs and artifacts live (defaults: ``.prodml/`` inside the project)."""

    database: str | None = Field(None, description="an SQLAlchemy URL")
    artifacts: str | None = Field(None, description="a folder or an fsspec URL")


Level = Literal["human", "assist", "partial", "full"]
#: a rule's reference, ``rules:FILE.py:FUNCTION`` (see :mod:`prodml.model.rules`)
RULE_FORM = re.compile(r"rules:[^:]+\.py:[A-Za-z_]\w*")


class AutomationSettings(_Frozen):
    """``serve.automation:``: who decides (see :mod:`prodml.automation.levels`). ``human``:
    a person, the model's answer not shown; ``assist``: a person, with the model's
    suggestion; ``partial``: the model when its confidence is at least ``defer_below``
    (or the threshold that meets ``target_error``), else a person; ``full``: the model."""

    level: Level = Field("full", description="human, assist, partial or full")
    defer_below: float | None = Field(
        None, gt=0, lt=1, description="partial: answers less confident than this go to a person"
    )
    target_error: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="partial: instead of defer_below, the error tolerated among the model's "
        "own decisions (the threshold is chosen on the dev split, 95% confidence)",
    )
    audit_sample: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="share of the model's own decisions also sent to the review queue, so "
        "their accuracy is measured without bias",
    )

    @model_validator(mode="after")
    def _one_threshold(self) -> AutomationSettings:
        if self.defer_below is not None and self.target_error is not None:
            raise ValueError(
                f"give defer_below ({self.defer_below}) or target_error ({self.target_error}), "
                "not both"
            )
        if self.level == "partial" and self.defer_below is None and self.target_error is None:
            raise ValueError(
                "level partial needs defer_below (a confidence, e.g. 0.7) or target_error "
                "(the error tolerated, e.g. 0.02)"
            )
        return self


class BreakerSettings(_Frozen):
    """``serve.breaker:``: when an endpoint with a ``serve.fallback`` answers by its rule
    alone (see :mod:`prodml.serve.breaker`)."""

    failures: int = Field(5, ge=1, description="model failures in a row that open the breaker")
    probe_after: float = Field(
        30.0, gt=0, description="seconds the breaker stays open before a request probes the model"
    )


class BatchSettings(_Frozen):
    """``serve.batch:``: how the server gathers requests into model calls (see
    :mod:`prodml.serve.batcher`)."""

    max_rows: int = Field(256, ge=1, description="rows a model call takes at most")
    max_wait_ms: float = Field(
        2.0, ge=0, description="milliseconds a batch waits for requests on their way, at most"
    )
    queue_rows: int = Field(
        10_000, ge=1, description="rows waiting for the model before requests get 503"
    )


class ServeSettings(_Frozen):
    """``serve:``: who may call what on ``prodml serve`` (see :mod:`prodml.deploy.keys`),
    what routes a request (:mod:`prodml.serve.sticky`), and what answers when the model
    fails (:mod:`prodml.serve.fallback`)."""

    open_feedback: bool = Field(
        False, description="POST /feedback takes labels without a key, even once keys exist"
    )
    admin: bool = Field(
        True,
        description="serve the admin routes (deploy, promote, rollback, stop, keys); each "
        "needs a key, and serving them beyond loopback needs one to exist",
    )
    keep_previous: str = Field(
        "10m",
        description="how long a version that left an endpoint stays loaded, so a rollback "
        "loads nothing (30s, 10m, 1h)",
    )
    sticky_key: str | None = Field(
        None,
        description="a field whose value in a request's first row routes it, so one value "
        "always meets the same version of a canary: a model input, or the data's id, time "
        "or a metadata column sent beside them; an X-Prodml-Key header wins over it, and a "
        "request without either routes by its request id (see prodml.serve.sticky)",
    )
    automation: AutomationSettings = Field(
        AutomationSettings(),
        description="who decides: the model, or a person below a confidence threshold; "
        "`prodml automation NAME LEVEL` changes it per endpoint",
    )
    fallback: str | None = Field(
        None,
        description="a rule (rules:FILE.py:FUNCTION, as a baseline) that answers, marked "
        "fallback, when the model fails on a request or while the breaker is open; "
        "without one a failure answers 500 (see prodml.serve.fallback)",
    )
    timeout_ms: float | None = Field(
        None,
        gt=0,
        description="a model call slower than this counts as a failure for the breaker "
        "(its answers are still the model's)",
    )
    breaker: BreakerSettings = Field(
        BreakerSettings(), description="when the fallback answers alone, and for how long"
    )
    batch: BatchSettings = Field(
        BatchSettings(), description="how requests are gathered into model calls"
    )
    unseen: Unseen = Field(
        "reject",
        description="a category (or a true/false) never seen in training: the request gets "
        "a 422 (reject), or the model answers it (predict); prodml data validate and "
        "prodml evaluate judge such rows the same way (an error, or a warning)",
    )
    ui: bool = Field(
        False,
        description="also show the dashboard at /ui (what `prodml ui` shows); once a key "
        "exists its pages need one of role viewer to sign in with",
    )

    @field_validator("fallback")
    @classmethod
    def _rule(cls, value: str | None) -> str | None:
        if value is not None and not RULE_FORM.fullmatch(value):
            raise ValueError(
                f"serve.fallback is {value!r}; give a rule as rules:FILE.py:FUNCTION "
                "(e.g. rules:rules.py:approve_if_income)"
            )
        return value

    @field_validator("keep_previous")
    @classmethod
    def _duration(cls, value: str) -> str:
        window_seconds(value)  # its ValueError names the value and the units
        return value

    def options(self) -> dict[str, Any]:
        """These settings as :class:`~prodml.serve.options.ServeOptions` fields."""
        # the lineup carries automation, each served version its unseen policy; the
        # dashboard is the app's, not the service's
        dumped = self.model_dump(exclude={"automation", "breaker", "batch", "ui", "unseen"})
        return {
            **dumped,
            "keep_previous": window_seconds(self.keep_previous),
            "breaker_failures": self.breaker.failures,
            "breaker_probe_after": self.breaker.probe_after,
            "max_batch": self.batch.max_rows,
            "max_wait": self.batch.max_wait_ms / 1000,
            "max_queue": self.batch.queue_rows,
        }


class CanarySettings(_Frozen):
    """``deploy.canary:``: how a canary's guards decide (see :mod:`prodml.deploy.canary`).

    Each tolerance is the harm let through, as a difference of rates: ``error_rate: 0.005``
    lets the candidate fail half a point more often than the primary."""

    alpha: float = Field(0.05, gt=0, lt=1, description="the false-rollback rate, at most")
    error_rate: float = Field(0.0, ge=0, lt=1, description="tolerated rise in server errors")
    slow: float = Field(
        0.05, ge=0, lt=1, description="tolerated rise in the share slower than the primary's p95"
    )
    accuracy: float = Field(0.01, ge=0, lt=1, description="tolerated fall in labelled accuracy")
    output: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="tolerated move, either way, in the share of answers that are the "
        "primary's most frequent label (a regressor's: above its median)",
    )


class DeploySettings(_Frozen):
    """``deploy:``: automatic decisions on candidates."""

    canary: CanarySettings = CanarySettings()


#: How retraining builds its training set (see :mod:`prodml.retrain.training`).
Strategy = Literal["all", "window", "weighted"]


class RetrainSettings(_Frozen):
    """``retrain:``: how ``prodml retrain`` builds a candidate, and who promotes it."""

    strategy: Strategy = Field(
        "all",
        description="all: every row; window: the newest only; weighted: recent ones count more",
    )
    window: str | int | None = Field(
        None, description="strategy window: a duration (90d, 12h) or a number of newest rows"
    )
    half_life: str = Field("30d", description="strategy weighted: a row's weight halves per age")
    holdout: float = Field(
        0.2, gt=0.0, lt=1.0, description="the newest share of labelled history kept to evaluate"
    )
    promote: Literal["manual", "canary"] = Field(
        "manual",
        description="manual: a person promotes the shadow; canary: once it has answered "
        "shadow_requests copies without an error, it goes out as a canary",
    )
    shadow_requests: int = Field(
        500, ge=1, description="promote canary: copies a retrained shadow answers first"
    )

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | int | None) -> str | int | None:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"{value} is not a number of rows; give 1 or more, or a duration")
        if isinstance(value, str):
            window_seconds(value)
        return value

    @field_validator("half_life")
    @classmethod
    def _half_life(cls, value: str) -> str:
        window_seconds(value)
        return value


class ExecutorSettings(_Frozen):
    """Where parallel work (search candidates, partitions to score or profile) runs:
    ``local`` processes on this machine, or ``dask`` workers (``pip install 'prodml[dask]'``).
    """

    kind: Literal["local", "dask"] = Field(
        "local", description="local: processes on this machine; dask: a Dask cluster"
    )
    n_jobs: int = Field(
        1, ge=1, description="local: processes at a time; dask: workers of a LocalCluster"
    )
    address: str | None = Field(
        None,
        description="a Dask scheduler, e.g. tcp://10.0.0.5:8786 (or PRODML_DASK_ADDRESS); "
        "unset: a LocalCluster on this machine",
    )


class Settings(_Frozen):
    """Everything in ``prodml.yaml``."""

    project: str = Field(description="the project's name")
    task: Task = "classification"
    data: DataSettings
    model: ModelSpec
    search: SearchSettings | None = None
    baselines: tuple[ModelSpec, ...] = Field(
        (), description="models to compare with, beyond majority and stratified: rules:..."
    )
    evaluate: EvaluateSettings = EvaluateSettings()
    labels: LabelsSettings = LabelsSettings()
    monitor: MonitorSettings = MonitorSettings()
    log: LogSettings = LogSettings()
    serve: ServeSettings = ServeSettings()
    deploy: DeploySettings = DeploySettings()
    retrain: RetrainSettings = RetrainSettings()
    store: StoreSettings = StoreSettings()
    executor: ExecutorSettings = ExecutorSettings()

    @model_validator(mode="after")
    def _confidence_to_defer_on(self) -> Settings:
        if self.task == "regression" and self.serve.automation.level == "partial":
            raise ValueError(
                "serve.automation.level partial defers the answers of low confidence, and a "
                "regressor gives none (task: regression); give human, assist or full"
            )
        return self


def load_settings(path: Path) -> Settings:
    """Read and parse the project's settings: ``prodml.yaml`` in folder ``path`` (or the file
    itself), or the files ``PRODML_CONFIG`` lists, with ``extends:`` and ``${VAR}``
    resolved (see :mod:`prodml.config_files`)."""
    from prodml.config_files import compose  # it reads each file with read_yaml, below

    return parse_settings(compose(path).raw)


def read_yaml(text: str, name: str = PROJECT_FILE) -> object:
    r"""YAML as prodml reads it (see :class:`_Loader`); ``name``, the file's, for messages.

    >>> read_yaml("split: {method: balanced, on: [gender]}\npositive_class: Yes")
    {'split': {'method': 'balanced', 'on': ['gender']}, 'positive_class': 'Yes'}
    """
    loader = _Loader(text)
    loader.file_name = name
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(
            f"{name} is not valid YAML: {where}{exc.problem}; "
            "check the indentation and quote values that contain ': ' or '#'"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name} is not valid YAML: {exc}") from None
    finally:
        loader.dispose()


_BOOL = "tag:yaml.org,2002:bool"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with three of YAML 1.1's traps removed.

    Booleans are YAML 1.2's ``true`` and ``false`` (any case) only: YAML 1.1 reads
    ``on:`` (``split: {on: [gender]}``) and ``positive_class: Yes`` as booleans. A key
    given twice is refused rather than silently overwritten by the second. Aliases
    (``*name``) are refused: a kilobyte of nested aliases expands into gigabytes.
    """

    file_name = PROJECT_FILE  # the file read, for messages

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ConfigError(
                f"{self.file_name} line {event.start_mark.line + 1}: alias '*{event.anchor}' is "
                "not allowed (an alias can expand a small file into gigabytes); "
                "write the value out in full"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        lines: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode):
                continue
            line = key.start_mark.line + 1
            if (key.tag, key.value) in lines:
                raise ConfigError(
                    f"key '{shortened(key.value)}' is given twice in {self.file_name}, on lines "
                    f"{lines[key.tag, key.value]} and {line}; keep one"
                )
            lines[key.tag, key.value] = line
        return super().construct_mapping(node, deep=deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?i:true|false)$"), list("tTfF"))


def parse_settings(raw: object) -> Settings:
    """Turn the loaded YAML into :class:`Settings`, or raise one readable ConfigError."""
    if raw is None:
        raise ConfigError(f"{PROJECT_FILE} is empty; it needs at least project, data and model")
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{PROJECT_FILE} must be a mapping of keys (project, data, model, ...), "
            f"not a {type(raw).__name__}"
        )
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        errors = _relevant(exc.errors())
        if len({tuple(_clean([str(p) for p in e["loc"]])) for e in errors}) == 1:
            # one value that fits none of a union's types: say all it could have been
            first = errors[0]
            errors = [{**first, "msg": " or ".join(str(e["msg"]) for e in errors)}]
        messages = [_explain(error) for error in errors]
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        raise ConfigError(messages[0] + more) from None


def _relevant(errors: list[Any]) -> list[Any]:
    """Keep, for a value checked against a union, the errors of the branch it was meant for.

    A mapping given for ``str | SqlSource`` fails both branches; the "should be a valid
    string" error is noise next to the SqlSource one.
    """

    def is_type_error(e: Any) -> bool:
        return str(e["type"]).endswith("_type")

    deeper = [_clean([str(p) for p in e["loc"]]) for e in errors if not is_type_error(e)]
    kept = [
        e
        for e in errors
        if not is_type_error(e)
        or not any(d[: len(c)] == c for c in [_clean([str(p) for p in e["loc"]])] for d in deeper)
    ]
    return kept or errors


def _explain(error: Any) -> str:
    loc = [str(part) for part in error["loc"]]
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        parent, key = loc[:-1], loc[-1]
        allowed = _keys_at(parent)
        where = ".".join(_clean(parent)) or "the top level"
        return (
            f"unknown key '{shortened(key)}' in {where} of {PROJECT_FILE}; allowed keys are: "
            f"{listing(allowed)}{did_you_mean(key, allowed)}"
        )
    key = ".".join(_clean(loc))
    if kind == "missing":
        hint = _description(loc)
        return f"{key} is missing from {PROJECT_FILE}" + (f"; set it to {hint}" if hint else "")
    if kind == "union_tag_not_found":
        return f"{key}.method is missing; choose one of: {listing(SPLIT_METHODS)}"
    if kind == "union_tag_invalid":
        tag = ctx.get("tag")
        return (
            f"{key}.method '{shortened(tag)}' is not allowed; choose one of: "
            f"{listing(SPLIT_METHODS)}{did_you_mean(tag, SPLIT_METHODS)}"
        )
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace(" or ", ", ")
        allowed = [a.strip(" '") for a in expected.split(",")]
        return (
            f"{key} '{shortened(value)}' is not allowed; choose one of: "
            f"{listing(allowed)}{did_you_mean(value, allowed)}"
        )
    message = str(error["msg"]).removeprefix("Value error, ")
    shown = f" {shortened(repr(value))}" if not isinstance(value, dict | list) else ""
    return f"{key}{shown}: {message}"


def _clean(loc: list[str]) -> list[str]:
    """Drop the union branch names (``SqlSource``, ``time``, ``list[any]``) from a location."""
    return [p for p in loc if not _is_branch(p)]


def _is_branch(part: str) -> bool:
    return "[" in part or part in _BRANCHES


_BRANCHES = {
    "str",
    "int",
    "float",
    "bool",
    "SqlSource",
    "Distribution",
    "BinSlice",
    "WhereSlice",
    *SPLIT_METHODS,
}


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = Settings
    parts = list(loc)
    while parts and current is not None:
        part = parts.pop(0)
        if (_is_branch(part) or part.isdigit()) and part not in current.model_fields:
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        models = _models_in(field.annotation)
        while parts and parts[0].isdigit():
            parts.pop(0)
        if len(models) > 1 and parts and _is_branch(parts[0]):
            tag = parts.pop(0)
            models = [m for m in models if tag in _tags(m) or tag == m.__name__] or models[:1]
        current = models[0] if models else None
    return current


def _keys_at(loc: list[str]) -> list[str]:
    model = _model_at(loc)
    return [f.alias or name for name, f in model.model_fields.items()] if model else []


def _description(loc: list[str]) -> str | None:
    model = _model_at(loc[:-1])
    field = model.model_fields.get(loc[-1]) if model else None
    return field.description if field else None


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (Annotated, typing.Union, types.UnionType, tuple):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _tags(model: type[BaseModel]) -> tuple[str, ...]:
    field = model.model_fields.get("method")
    return typing.get_args(field.annotation) if field else ()
