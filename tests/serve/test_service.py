"""The serving runtime in-process: answers wait for the log, a failed commit is a 503 and a
failing model a 500 (never a 200), and a new primary is picked up when the source's
revision grows."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sqlalchemy import text

import prodml
from prodml.model.rules import RuleModel
from prodml.serve.options import ServeOptions
from prodml.serve.prediction_log import PredictionLog
from prodml.serve.rejection import Rejected
from prodml.serve.service import Answered, Service
from prodml.serve.source import Lineup, RunSource, Served
from prodml.store.database import Database
from prodml.store.monitoring import Monitoring

OPTIONS = ServeOptions(reload_seconds=0.02, freeze_gc=False)


class Switchable:
    """A source whose endpoint's primary can be replaced by another version, as a
    promotion does."""

    def __init__(self, first: Served) -> None:
        self.served, self._revision = first, 0

    def promote(self, served: Served) -> None:
        self.served, self._revision = served, self._revision + 1

    def revision(self, endpoint: str) -> int:
        return self._revision

    def lineup(self, endpoint: str) -> Lineup:
        return Lineup(primary=self.served.version)

    def load(self, endpoint: str, version: int | None = None) -> Served:
        assert version in (None, self.served.version)
        return self.served

    def stand_in(self, endpoint: str, rule: RuleModel) -> Served:
        return replace(self.served, model=rule, stand_in=True)

    def endpoints(self) -> list[str]:
        return [self.served.endpoint]


class Exploding(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier that fails on any row whose first value is negative."""

    classes_ = np.array(["benign", "malignant"])

    def predict_proba(self, X: Any) -> Any:
        if (np.asarray(X)[:, 0] < 0).any():
            raise ArithmeticError("the model's own failure")
        return np.full((len(X), 2), 0.5)


class Doubling(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier that doubles its input in place before answering, as a transformer
    with ``copy=False`` does."""

    classes_ = np.array(["benign", "malignant"])

    def predict_proba(self, X: Any) -> Any:
        X *= 2
        return np.full((len(X), 2), 0.5)


@pytest.fixture(scope="module")
def served(spare_project: Path) -> Served:
    with prodml.Project(spare_project) as project:
        return RunSource(project).load("breast-cancer")


def run(service: Service, scenario: Callable[[], Awaitable[None]]) -> None:
    async def around() -> None:
        await service.start()
        try:
            while not service.ready:
                await asyncio.sleep(0.01)
            await scenario()
        finally:
            await service.stop()

    asyncio.run(around())


async def predict(service: Service, record: dict[str, Any]) -> Answered:
    predictor = service.predictor()
    row = predictor.checker.record(record, 0)
    return await service.submit(predictor, [row], ["id-1"], 0.0)


def record_of(served: Served) -> dict[str, Any]:
    return {c.name: c.quantiles["p50"] if c.quantiles else 0.0 for c in served.schema.columns}


def test_an_answer_comes_once_its_rows_are_committed(served: Served, tmp_path: Path) -> None:
    log = PredictionLog(Database(f"sqlite:///{tmp_path / 'p.db'}"))
    service = Service(Switchable(served), ["breast-cancer"], log, OPTIONS)

    async def scenario() -> None:
        answer = await predict(service, record_of(served))
        assert answer.request_ids == ["id-1"] and log.count() == 1

    run(service, scenario)
    log.database.dispose()


def test_a_failed_commit_answers_503_not_200(served: Served, tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    with database.engine.begin() as conn:
        conn.execute(text("DROP TABLE predictions"))
    service = Service(Switchable(served), ["breast-cancer"], PredictionLog(database), OPTIONS)

    async def scenario() -> None:
        with pytest.raises(Rejected, match=r"^the prediction could not be logged") as raised:
            await predict(service, record_of(served))
        assert raised.value.status == 503

    run(service, scenario)
    database.dispose()


def test_the_log_keeps_the_inputs_sent_when_the_model_writes_to_its_own(
    served: Served, tmp_path: Path
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'p.db'}")
    doubling = Served("breast-cancer", "bc", 1, Doubling(), served.schema)
    service = Service(Switchable(doubling), ["breast-cancer"], PredictionLog(database), OPTIONS)
    names = [c.name for c in served.schema.columns]
    sent = [[{name: float(i + j) + 0.5 for j, name in enumerate(names)}] * 2 for i in range(3)]

    async def scenario() -> None:
        predictor = service.predictor()

        def submit(records: list[dict[str, Any]]) -> asyncio.Future[Answered]:
            return service.submit(predictor, predictor.checker.records(records), ["a", "b"], 0.0)

        await submit(sent[0])  # a batch of one request: the model gets its rows alone
        await asyncio.gather(*map(submit, sent[1:]))  # one of two: their rows joined

    run(service, scenario)
    logged = [row.inputs for row in Monitoring(database).logged("breast-cancer")]
    assert logged == [record for records in sent for record in records]
    database.dispose()


def test_a_failing_model_answers_500_to_that_request_only(served: Served) -> None:
    broken = Served("breast-cancer", "bc", 1, Exploding(), served.schema)
    source = Switchable(broken)
    service = Service(source, ["breast-cancer"], None, OPTIONS)

    async def scenario() -> None:
        predictor = service.predictor()
        good = predictor.checker.record(record_of(served), 0)
        bad = predictor.checker.record({**record_of(served), "mean_radius": -1.0}, 0)
        answers = [service.submit(predictor, [row], ["id"], 0.0) for row in (good, bad, good)]
        done = await asyncio.gather(*answers, return_exceptions=True)  # one batch
        assert isinstance(done[0], Answered) and isinstance(done[2], Answered)
        assert isinstance(done[1], Rejected) and done[1].status == 500
        assert re.match(r"model bc:1 failed on this input \(ArithmeticError\)", done[1].message)

    run(service, scenario)


def test_a_new_primary_is_served_once_the_revision_grows(
    served: Served, spare_project: Path
) -> None:
    with prodml.Project(spare_project) as project:
        run_id = project.fit(prodml.ModelSpec(factory="sklearn.dummy.DummyClassifier")).id
        dummy = RunSource(project, run_id).load("breast-cancer")
    second = Served("breast-cancer", "breast-cancer", 2, dummy.model, dummy.schema)
    source = Switchable(served)
    service = Service(source, ["breast-cancer"], None, OPTIONS)

    async def scenario() -> None:
        assert (await predict(service, record_of(served))).served.model_id == "breast-cancer:0"
        source.promote(second)
        for _ in range(500):
            if service.predictor().served.version == 2:
                break
            await asyncio.sleep(0.01)
        answered = await predict(service, record_of(served))
        assert answered.served.model_id == "breast-cancer:2"
        assert answered.outputs(0)["label"] == "benign"  # the majority class

    run(service, scenario)


def test_unknown_models_and_versions_are_404(served: Served) -> None:
    service = Service(Switchable(served), ["breast-cancer"], None, OPTIONS)

    async def scenario() -> None:
        with pytest.raises(Rejected, match="model 'bc' is not served here; models are: br"):
            service.predictor("bc")
        with pytest.raises(Rejected, match="has no version '1' here; it serves version 0"):
            service.predictor("breast-cancer", "1")

    run(service, scenario)
