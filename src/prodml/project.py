"""A prodml project: a folder with ``prodml.yaml``, and everything done on it.

Every CLI command is a call of this class, so a notebook can do the same::

    >>> import prodml, tempfile
    >>> folder = prodml.init(tempfile.mkdtemp() + "/bc", example="breast-cancer")
    >>> run = prodml.Project(folder).fit()
    >>> run.status, run.metrics["test.recall[malignant]"] > 0.9
    ('finished', True)
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.exc import OperationalError, ProgrammingError

from prodml.automation.setting import automate, dev_curve
from prodml.automation.threshold import Point
from prodml.batch import OnChunk, score_file
from prodml.config import Level, ModelSpec, Settings, load_settings, window_seconds
from prodml.data.dataset import Dataset, prepare
from prodml.data.labels import LabelReport, label_report, read_labels
from prodml.data.schema import Anomaly, Schema, validate
from prodml.data.sources import FileSource, open_source
from prodml.data.split import Split, split_report, split_rows
from prodml.data_diff import data_diff
from prodml.deploy.canary import CanaryCheck, check, look
from prodml.deploy.changes import Deployer
from prodml.deploy.compare import Comparison as CandidateComparison
from prodml.deploy.compare import compare as compare_candidate
from prodml.deploy.gate import refusal
from prodml.errors import (
    ConfigError,
    DataError,
    NotFoundError,
    ProdmlError,
    did_you_mean,
    listing,
)
from prodml.model.factory import build
from prodml.monitor.monitor import Monitor, Pass
from prodml.monitor.reference import load_reference
from prodml.monitor.report import monitor_report
from prodml.monitor.scoring import Reference
from prodml.registry import Deployment, ModelVersion, Registry
from prodml.retrain.backtest import Backtest, OnFit, replay
from prodml.retrain.candidate import Retrained, retrain
from prodml.retrain.spans import POINTS
from prodml.retrain.training import Strategy
from prodml.retrain.triggers import retrain_if_due
from prodml.store.artifacts import ArtifactStore
from prodml.store.database import Database
from prodml.store.datasets import Dataset as DatasetRecord
from prodml.store.datasets import Datasets
from prodml.store.evaluations import Evaluation, Evaluations, SignOff
from prodml.store.log_export import Exported, export_parquet
from prodml.store.log_retention import LogStats, Pruned, prune
from prodml.store.log_retention import stats as log_stats
from prodml.store.monitoring import Monitoring
from prodml.store.review import ReviewQueue
from prodml.store.runs import Run, Runs
from prodml.tracking.compare import Comparison, compare
from prodml.tracking.evaluation import EVALUATED_KINDS, Subject, evaluate_run, previous_run
from prodml.tracking.fit import fit_into
from prodml.tracking.sanity import SanityResult, sanity_check
from prodml.tracking.search import OnCandidate, search
from prodml.tracking.workspace import Workspace, record_dataset

DATABASE_ENV = "PRODML_DATABASE_URL"
ARTIFACTS_ENV = "PRODML_ARTIFACTS_URL"
STATE_FOLDER = ".prodml"

logger = logging.getLogger("prodml")


class Project:
    """Open the project in ``path`` (the folder holding ``prodml.yaml``).

    Its store is opened on first use and brought to the newest migration; with
    ``migrate=False`` (what only reads: listings, reports, exports) it is left as it is
    and refused while it lacks migrations, see :meth:`Database.for_reading`.
    """

    _monitor: Monitor | None = None

    def __init__(self, path: str | Path = ".", *, migrate: bool = True) -> None:
        self.path = Path(path).resolve()
        self.settings: Settings = load_settings(self.path)
        self.migrate = migrate

    @property
    def name(self) -> str:
        return self.settings.project

    def close(self) -> None:
        """Close the store's database connections (if the store was opened)."""
        if "runs_store" in self.__dict__:
            self.runs_store.database.dispose()
            del self.__dict__["runs_store"]
        self.__dict__.pop("registry", None)

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def database_url(self) -> str:
        """The store's database: PRODML_DATABASE_URL, else ``store.database`` in
        prodml.yaml, else ``.prodml/prodml.db`` in the project folder."""
        return (
            os.environ.get(DATABASE_ENV)
            or self.settings.store.database
            or f"sqlite:///{self.path / STATE_FOLDER / 'prodml.db'}"
        )

    @cached_property
    def runs_store(self) -> Runs:
        """The store of runs and artifacts (opened, and migrated unless ``migrate`` is
        False, on first use)."""
        state = self.path / STATE_FOLDER
        artifacts = (
            os.environ.get(ARTIFACTS_ENV)
            or self.settings.store.artifacts
            or str(state / "artifacts")
        )
        if "://" not in artifacts and not Path(artifacts).is_absolute():
            artifacts = str(self.path / artifacts)
        url = self.database_url
        database = Database(url) if self.migrate else Database.for_reading(url)
        runs = Runs(database, ArtifactStore(artifacts))
        try:
            runs.reconcile(self.name)
        except (OperationalError, ProgrammingError):
            if self.migrate:
                raise
            # a reader whose role may not write: its runs are shown as they are stored
            logger.info("runs of dead processes not marked failed: the store is read-only")
        return runs

    @cached_property
    def registry(self) -> Registry:
        """The model versions and deployments of the project's store."""
        return Registry(self.runs_store)

    def register(
        self,
        ref: str | None = None,
        name: str | None = None,
        *,
        force: bool = False,
        reason: str | None = None,
    ) -> ModelVersion:
        """Register a run's model (the newest finished fit or search by default) as the next
        version of ``name`` (the project's name by default). The first version of a name
        opens its endpoint when its audit passed, or with ``force`` and a ``reason``."""
        version = self.registry.register(self._evaluable(ref, "register"), name or self.name)
        if force and version.version == 1 and not self.registry.deployments(version.name):
            self.deployer().deploy(version.ref, force=True, reason=reason)
        return version

    def unaudited(self, model: str | None = None, run: str | None = None) -> str | None:
        """Why the audit gate would stop the registered ``model`` (``name``, ``name:3``;
        the project's primary by default) or ``run`` from serving, for a warning where
        the gate does not apply (batch scoring, serving a run); None if it passed."""
        if run is not None:
            found = self.run(run)
            ref, run_id = "this run", found.id
        else:
            version = self.registry.get(model or self.name)
            ref, run_id = version.ref, version.run_id
        return refusal(ref, run_id, Evaluations(self.runs_store.database).latest(run_id))

    def check_canary(self, endpoint: str) -> CanaryCheck:
        """Look at ``endpoint``'s canary once and act: roll back on harm, advance when the
        step has its time and requests (see :mod:`prodml.deploy.canary`); one runner at a
        time among every process on this store."""
        with self.runs_store.database.exclusive("canary"):
            return check(self.deployer("canary"), endpoint, self.settings.deploy.canary)

    def canary(self, endpoint: str) -> CanaryCheck:
        """What the guards of ``endpoint``'s canary show now, without acting on it."""
        return look(self.registry, endpoint, self.settings.deploy.canary)

    def shadow_comparison(self, endpoint: str, version: int | None = None) -> CandidateComparison:
        """``endpoint``'s primary beside its shadow or canary (with none now, the last it
        had; or ``version``, one of them), cut by the slices and with the minimum count of
        ``evaluate``; see :mod:`prodml.deploy.compare`."""
        settings = self.settings.evaluate
        slices = self.settings.data.metadata if settings.slices is None else settings.slices
        return compare_candidate(
            self.registry, endpoint, version, slices=slices, min_count=settings.min_count
        )

    def canaries(self) -> list[str]:
        """The endpoints with a canary now."""
        return [
            d.endpoint
            for d in self.registry.deployments()
            if d.candidate is not None and d.candidate.mode == "canary"
        ]

    def deployer(self, actor: str | None = None) -> Deployer:
        """Deployment changes (deploy, promote, rollback, stop) recorded as made by
        ``actor`` (default: the OS user); see :mod:`prodml.deploy.changes`."""
        return Deployer(self.registry, actor)

    def predict(
        self,
        file: str | Path,
        output: str | Path,
        model: str | None = None,
        *,
        chunk_rows: int = 100_000,
        on_chunk: OnChunk | None = None,
    ) -> Run:
        """Score a CSV or Parquet file with a registered model (``name``, ``name:3``; the
        project's primary by default) into ``output``, chunk by chunk, as a ``batch`` run."""
        version = self.registry.get(model or self.name)
        if version.input_schema is None:
            raise NotFoundError(f"model {version.ref} has no input schema; register a new fit")
        source, target = Path(file).resolve(), Path(output).resolve()
        workspace = self._workspace()
        with workspace.recorded(
            "batch", data_source=str(file), model_spec={"registered": version.ref}
        ) as run_id:
            scored = score_file(
                self.registry.load(version),
                Schema.from_dict(version.input_schema),
                source,
                target,
                keep=tuple(c for c in (self.settings.data.id,) if c is not None),
                chunk_rows=chunk_rows,
                on_chunk=on_chunk,
                unseen=self.settings.serve.unseen,
                executor=self.settings.executor,
            )
            return workspace.runs.finish(
                run_id,
                data_rows=scored.rows,
                params={"model": version.ref, "output": str(target), "sha256": scored.sha256},
                metrics={
                    "seconds": scored.seconds,
                    "rows_per_second": scored.rows / scored.seconds,
                },
            )

    def prediction_log(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest logged predictions of the project's store, newest first."""
        return [
            {
                "request_id": row.request_id,
                "at": row.created_at,
                "endpoint": endpoint,
                "model": f"{row.model_name}:{row.model_version}",
                "inputs": row.inputs,
                "label": row.outputs.get("label", row.outputs.get("value")),
                "confidence": row.confidence,
                "latency_seconds": row.latency_seconds,
                "decided_by": row.decided_by,
            }
            for endpoint, row in self.monitoring.newest(limit)
        ]

    def log_stats(self) -> LogStats:
        """How many predictions, labels and streams the prediction log holds, and its size."""
        return log_stats(self.runs_store.database)

    def prune_log(self, older_than: str | None = None, keep_rows: int | None = None) -> Pruned:
        """Delete the predictions older than ``older_than`` (a duration such as 30d) or
        beyond the newest ``keep_rows``, with their feedback; both default to
        ``log.retention`` in prodml.yaml."""
        retention = self.settings.log.retention
        older_than = older_than or retention.age
        keep_rows = keep_rows or retention.rows
        if older_than is None and keep_rows is None:
            raise ConfigError(
                "nothing to prune by: give --older-than (e.g. 30d) or --keep-rows, or set "
                "log.retention.age or log.retention.rows in prodml.yaml"
            )
        database = self.runs_store.database
        return prune(database, older_than=_before(older_than), keep_rows=keep_rows)

    def export_log(
        self, folder: str | Path, older_than: str | None = None, *, prune_after: bool = False
    ) -> list[Exported]:
        """Write the prediction log (the predictions older than ``older_than``) to Parquet
        files in ``folder``, a file per stream; ``prune_after`` then deletes what was
        written. Without ``older_than``, the predictions logged up to a few seconds ago:
        a prediction is stamped just before its commit, so none logged before that is still
        on its way, and pruning after cannot delete a prediction that was not written."""
        before = _before(older_than or SETTLED)
        database = self.runs_store.database
        written = export_parquet(database, Path(folder), older_than=before)
        if prune_after:
            prune(database, older_than=before)
        return written

    @cached_property
    def monitoring(self) -> Monitoring:
        """The feedback, monitor windows, drift scores and alerts of the project's store."""
        return Monitoring(self.runs_store.database)

    def automation_curve(self, endpoint: str | None = None) -> list[Point]:
        """Coverage against error of the endpoint's primary on its dev split, one point a
        confidence threshold (see :mod:`prodml.automation.threshold`)."""
        return dev_curve(self.registry, self.endpoint(endpoint))

    def automate(
        self,
        endpoint: str,
        level: Level,
        *,
        defer_below: float | None = None,
        target_error: float | None = None,
        audit_sample: float = 0.0,
        reason: str | None = None,
        actor: str | None = None,
    ) -> Deployment:
        """Set who decides ``endpoint``'s predictions: ``level`` human, assist, partial or
        full; for partial, below which confidence a person decides (``defer_below``), or
        the error tolerated among the model's own decisions (``target_error``: the lowest
        threshold whose 95% bound on the dev split meets it); ``audit_sample`` of the
        model's decisions also goes to the review queue (see :mod:`prodml.automation`)."""
        return automate(
            self.deployer(actor),
            self.endpoint(endpoint),
            level,
            defer_below=defer_below,
            target_error=target_error,
            audit_sample=audit_sample,
            reason=reason,
        )

    @cached_property
    def review_queue(self) -> ReviewQueue:
        """The predictions a person decides (see :mod:`prodml.store.review`)."""
        return ReviewQueue(self.runs_store.database)

    def monitor(self, endpoint: str | None = None, *, close: bool = False) -> Pass:
        """One pass of the monitor over ``endpoint``'s prediction log (``monitor.endpoint``,
        else the project's name): new windows, realized performance, change points, alerts,
        then a retrain if ``monitor.retrain`` calls for one (see
        :mod:`prodml.retrain.triggers`); ``close``: the open window too, as a partial one."""
        name = self.endpoint(endpoint)
        if self._monitor is None:
            self._monitor = Monitor(
                self.monitoring,
                self.settings.monitor,
                self._reference,
                positive_class=self.settings.data.positive_class,
            )
        done = self._monitor.run(name, close=close)
        done.retrain = retrain_if_due(self, name, self._monitor)  # monitor.retrain's triggers
        return done

    def endpoint(self, endpoint: str | None = None) -> str:
        """The endpoint monitoring watches: ``endpoint``, else ``monitor.endpoint``, else the
        project's name; a NotFoundError when it has neither a deployment nor predictions."""
        name = endpoint or self.settings.monitor.endpoint or self.name
        known = {d.endpoint for d in self.registry.deployments()} | set(self.monitoring.endpoints())
        if name not in known:
            raise NotFoundError(
                f"endpoint '{name}' has no deployment and no logged predictions; known "
                f"endpoints: {listing(sorted(known)) or '(none: register a model first)'}"
                f"{did_you_mean(name, known)}"
            )
        return name

    def feedback(
        self,
        file: str | Path,
        *,
        id_column: str = "request_id",
        label_column: str = "label",
        skip_unknown: bool = False,
    ) -> tuple[int, list[str]]:
        """Attach the true labels of a CSV or Parquet file (request id, label) to logged
        predictions; returns (labels stored, unknown request ids)."""
        frame = FileSource(Path(file).resolve(), str(file), "feedback").load()
        missing = [c for c in (id_column, label_column) if c not in frame.columns]
        if missing:
            raise DataError(
                f"feedback file {file} has no column '{missing[0]}'; its columns are: "
                f"{listing(frame.columns)}{did_you_mean(missing[0], frame.columns)}; name "
                "the columns with --id-column and --label-column"
            )
        pairs = [
            (str(request_id), label)
            for request_id, label in zip(frame[id_column], frame[label_column], strict=True)
            if pd.notna(label)
        ]
        try:
            return self.monitoring.add_feedback(pairs, str(file), skip_unknown=skip_unknown)
        except NotFoundError as exc:
            raise NotFoundError(f"{exc}; or store the others with --skip-unknown") from None

    def monitor_report(self, endpoint: str | None = None) -> dict[str, Any]:
        """The monitoring report of an endpoint: windows, drift scores over time, alerts,
        change points, and each feature's distribution in the reference and the newest
        window (see :func:`prodml.monitor.report.monitor_report`)."""
        name = self.endpoint(endpoint)
        windows = self.monitoring.windows(name)
        reference = (
            self._reference(windows[-1].model_name, windows[-1].model_version, windows[-1].run_id)
            if windows
            else None
        )
        return monitor_report(self.monitoring, name, reference)

    def _reference(self, name: str, version: int, run_id: str | None) -> Reference:
        try:
            data: Dataset | None = self.load_data()
        except DataError:
            data = None  # no skew or learned thresholds, the rest still works
        if version == 0:  # served with --run, outside the registry
            run = self.runs_store.get(run_id) if run_id else self._evaluable(None, "monitor")
        else:
            run = self.runs_store.get(self.registry.get(f"{name}:{version}").run_id)
        return load_reference(self.runs_store, run, f"{name}:{version}", data)

    def load_data(self, step: str = "fitting") -> Dataset:
        """Read the data source and check it against the project file; ``step`` is what
        the data are for, as an error names it ("fitting", "evaluating")."""
        source = open_source(self.settings.data.source, self.path)
        settings, task = self.settings.data, self.settings.task
        return prepare(source.load(), settings, task, source.describe(), step)

    def split(self, data: Dataset) -> Split:
        """Cut the data into train, dev and test as ``data.split`` says."""
        settings = self.settings.data.split_settings(self.settings.task)
        return split_rows(
            data.frame, settings, target=data.target, task=data.task, time=self.settings.data.time
        )

    def fit(self, model: ModelSpec | None = None) -> Run:
        """Fit the project's model (or ``model``) on the training split, as a tracked run."""
        spec = model or self.settings.model
        data, split, estimator = self._prepare(spec)
        workspace = self._workspace()
        with workspace.tracked("fit", data, spec) as run_id:
            return fit_into(workspace, run_id, estimator, data, split)

    def search(self, on_candidate: OnCandidate | None = None) -> Run:
        """Search the hyperparameters in ``search:``; the best candidate is kept, refit."""
        if self.settings.search is None:
            raise ConfigError(
                "search is not set in prodml.yaml; add e.g. search: {method: grid, "
                "params: {max_iter: [100, 200]}, cv: 5}"
            )
        spec = self.settings.model
        data, split, estimator = self._prepare(spec)
        return search(
            self._workspace(),
            estimator,
            spec,
            data,
            split,
            self.settings.search,
            on_candidate,
            executor=self.settings.executor,
        )

    def retrain(
        self,
        name: str | None = None,
        *,
        strategy: Strategy | None = None,
        since: datetime | None = None,
        window: timedelta | int | str | None = None,
        half_life: timedelta | str | None = None,
        trigger: dict[str, Any] | None = None,
    ) -> Retrained:
        """Fit model ``name`` (the project's) again on the data plus the labelled prediction
        log up to now (``strategy``, ``window``, ``half_life``: ``retrain:`` by default),
        audit it beside the primary on the newest labelled rows and the test split,
        register it, and deploy it as a shadow when it passes; ``trigger`` (None: a person)
        is kept in the run's lineage. See :mod:`prodml.retrain.candidate`."""
        return retrain(
            self,
            name,
            strategy=strategy,
            since=since,
            window=window,
            half_life=half_life,
            trigger=trigger,
        )

    def sanity(self, rows: int = 100) -> SanityResult:
        """Can the model overfit ``rows`` training examples? The first check to make."""
        spec = self.settings.model
        data, split, estimator = self._prepare(spec)
        return sanity_check(self._workspace(), estimator, spec, data, split, rows)

    def backtest(
        self,
        endpoint: str | None = None,
        *,
        points: int = POINTS,
        horizon: str | int | None = None,
        since: datetime | None = None,
        window: str | int | None = None,
        half_life: str | None = None,
        on_fit: OnFit | None = None,
    ) -> Backtest:
        """Which retraining strategy suits this project? Each one trained at ``points``
        moments of the labelled history on what was known then, scored on what came next
        (``horizon``: a duration or rows; by default up to the next point); see
        :mod:`prodml.retrain.backtest`."""
        return replay(
            self,
            endpoint,
            points=points,
            horizon=horizon,
            since=since,
            window=window,
            half_life=half_life,
            on_fit=on_fit,
        )

    def runs(self, limit: int | None = None, parent: str | None = None) -> list[Run]:
        """This project's runs, newest first (top-level ones, or a run's children)."""
        parent_id = self.run(parent).id if parent else None
        return self.runs_store.list(self.name, parent_id=parent_id, limit=limit)

    def run(self, ref: str | None = None) -> Run:
        """A run by id or unique id prefix; the newest run when ``ref`` is None."""
        if ref is not None:
            return self.runs_store.get(ref)
        newest = self.runs(limit=1)
        if not newest:
            raise NotFoundError(f"project {self.name} has no runs yet; start with `prodml fit`")
        return newest[0]

    def compare(self, refs: list[str] | None = None) -> Comparison:
        """Runs side by side; without ``refs``, the two newest finished fits or searches."""
        if refs:
            return compare([self.run(r) for r in refs])
        fits = [r for r in self.runs() if r.status == "finished" and r.kind in ("fit", "search")]
        return compare(fits[:2][::-1])

    def load_model(self, ref: str | None = None) -> Any:
        """The fitted model of a run (the newest finished fit or search by default: a
        batch run keeps none), after its SHA-256 is checked."""
        run = self._evaluable(ref, "load")
        return self.runs_store.artifacts.load(run.artifact("model"))

    def evaluate(
        self, ref: str | None = None, data: str | Path | None = None, sign_off: str | None = None
    ) -> Evaluation:
        """Evaluate a run's model (the newest fit or search by default) on its test split,
        or on ``data`` (a CSV or Parquet file with the target), and store the result with
        the run; ``sign_off`` is "name: note", who approved it."""
        signed = SignOff.parse(sign_off) if sign_off is not None else None
        run = self._evaluable(ref)
        whole = self.load_data("evaluating")
        if whole.fingerprint != run.data_fingerprint:
            raise DataError(
                f"the data changed since run {run.id} was fitted (fingerprint "
                f"{str(run.data_fingerprint)[:12]}, now {whole.fingerprint[:12]}); evaluate "
                "on a file with --data, or fit again"
            )
        store = self.runs_store
        previous = previous_run(store, run)
        subject = Subject(
            run=run,
            model=store.artifacts.load(run.artifact("model")),
            data=whole,
            assignment=store.artifacts.load(run.artifact("split")),
            settings=self.settings,
            root=self.path,
            previous=None
            if previous is None
            else (previous, store.artifacts.load(previous.artifact("model"))),
        )
        on = None
        if data is not None:
            source = FileSource(Path(data).resolve(), str(data), "--data")
            on = prepare(
                source.load(), self.settings.data, self.settings.task, str(data), "evaluating"
            )
            record_dataset(store.database, on)
        return evaluate_run(subject, Evaluations(store.database), on, signed)

    def evaluations(self, ref: str | None = None) -> list[Evaluation]:
        """The evaluations of a run (the newest fit or search by default), newest first."""
        return Evaluations(self.runs_store.database).list(self._evaluable(ref).id)

    def split_report(self) -> dict[str, Any]:
        """Rows per split by label and by metadata slice, with cells too small to measure."""
        data = self.load_data("splitting")
        settings = self.settings.data
        return split_report(
            data.frame,
            self.split(data),
            settings.split_settings(self.settings.task),
            target=data.target,
            metadata=data.metadata,
        )

    def validate(self, file: str | Path, ref: str | None = None) -> tuple[Run, list[Anomaly]]:
        """Anomalies of a CSV or Parquet file against the input schema of a run (the newest
        fit or search by default): missing or extra columns, wrong types, missing values,
        values out of range, unseen categories."""
        run = self._evaluable(ref)
        if run.input_schema is None:
            raise NotFoundError(
                f"run {run.id} has no input schema (it was fitted by an older prodml); "
                "fit again to record one"
            )
        frame = FileSource(Path(file).resolve(), str(file), "FILE").load()
        data = self.settings.data
        roles = [data.target, data.id, data.time, *data.metadata]
        ids = frame[data.id] if data.id in frame.columns else None
        features = frame.drop(columns=[c for c in roles if c in frame.columns])
        schema = Schema.from_dict(run.input_schema)
        return run, validate(features, schema, ids=ids, unseen=self.settings.serve.unseen)

    def labels(self, file: str | Path | None = None, dawid_skene: bool = False) -> LabelReport:
        """Agreement among labelers, disputed examples, consensus and human-level
        performance, from a file of one row per label given (``labels.file`` by default)."""
        options = self.settings.labels
        name = str(file) if file is not None else options.file
        if name is None:
            raise ConfigError(
                "no labels file given; pass one (prodml data labels FILE) or set "
                "labels: {file: labels.csv} in prodml.yaml"
            )
        given = read_labels(name, self.path, options)
        truth, slices = self._truth_and_slices()
        return label_report(
            given, truth=truth, slices=slices, level=options.level, dawid_skene=dawid_skene
        )

    def dataset(self, ref: str) -> DatasetRecord:
        """A recorded data set, by a run id (its data) or a fingerprint (or unique prefix)."""
        datasets = Datasets(self.runs_store.database)
        try:
            fingerprint = self.run(ref).data_fingerprint
        except NotFoundError:
            return datasets.get(ref)
        if fingerprint is None:
            raise NotFoundError(f"run {ref} recorded no data set")
        return datasets.get(fingerprint)

    def data_diff(self, first: str, second: str) -> dict[str, Any]:
        """What changed from one recorded data set to another (each a run id or a
        fingerprint): columns, categories, and each column's drift by the monitor's rule
        (see :mod:`prodml.data_diff`); ``data.id`` is not tested."""
        records = (self.dataset(first), self.dataset(second))
        (a, why_a), (b, why_b) = (self._rows_of(r) for r in records)
        skip = tuple(c for c in (self.settings.data.id,) if c is not None)
        return data_diff(*records, (a, b), why=(why_a, why_b), skip=skip)

    def _rows_of(self, record: DatasetRecord) -> tuple[pd.DataFrame | None, str]:
        """A recorded data set's rows while its source still holds that content (the
        project's data, or a file), else None and why not."""
        source: Any = open_source(self.settings.data.source, self.path)
        if record.source != source.describe():
            path = Path(record.source)
            path = path if path.is_absolute() else self.path / path
            if not path.is_file():
                return None, f"{record.source} is not a file in {self.path}"
            source = FileSource(path.resolve(), record.source, "data diff")
        try:
            data = prepare(
                source.load(), self.settings.data, self.settings.task, record.source, "diffing"
            )
        except ProdmlError as exc:
            return None, f"{record.source} cannot be read now: {exc}"
        if data.fingerprint != record.fingerprint:
            return None, f"{record.source} holds other rows now"
        return data.frame, ""

    def _truth_and_slices(self) -> tuple[pd.Series | None, pd.DataFrame | None]:
        """The target and the metadata columns by example id, when the data have ids."""
        data = self.load_data("comparing labels with the target")
        id_column = self.settings.data.id
        if id_column is None:
            return None, None
        by_id = data.frame.set_index(data.frame[id_column].astype(str))
        slices = by_id[list(data.metadata)].astype(str) if data.metadata else None
        return by_id[data.target], slices

    def _evaluable(self, ref: str | None, purpose: str = "evaluate") -> Run:
        if ref is not None:
            run = self.run(ref)
            if run.kind not in EVALUATED_KINDS:
                raise NotFoundError(
                    f"run {run.id} is a {run.kind} run, which keeps no model to {purpose}; "
                    "give a fit or search run (see `prodml runs list`)"
                )
            return run
        for run in self.runs():
            if run.kind in EVALUATED_KINDS and run.status == "finished":
                return run
        raise NotFoundError(
            f"project {self.name} has no finished fit or search run to {purpose}; "
            "start with `prodml fit`"
        )

    def _prepare(self, spec: ModelSpec) -> tuple[Dataset, Split, Any]:
        # All that a user can get wrong is checked before a run is started.
        estimator = build(spec, self.path)
        data = self.load_data()
        return data, self.split(data), estimator

    def _workspace(self) -> Workspace:
        return Workspace(self.name, self.path, self.runs_store)


#: How long ago a prediction must have been stamped to be surely committed (see export_log).
SETTLED = "5s"


def _before(duration: str | None) -> datetime | None:
    """The moment ``duration`` (e.g. 30d) ago; None for None."""
    if duration is None:
        return None
    try:
        seconds = window_seconds(duration)
    except ValueError as exc:
        raise ConfigError(f"--older-than {exc}") from None
    return datetime.now(UTC) - timedelta(seconds=seconds)


def init(path: str | Path, example: str | None = None) -> Path:
    """Create a project folder from an example (or a blank, commented template)."""
    from prodml.examples import create_project

    return create_project(Path(path), example)
