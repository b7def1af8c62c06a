"""Answers for JSON lines: ``prodml predict -`` reads records on standard input and writes one
answer line for each line read (Palladium's ``stream``).

A line is one JSON object, a record (the model's input fields, and any of the project's
``data.metadata`` fields, logged beside them), or a JSON list of records, answered by a
list. A record's ``data.time`` field, when the project has one, is the time of the event
it is about (ISO 8601 with its zone, :mod:`prodml.serve.event_time`): it is logged as the
prediction's event time, which the monitor's windows of time follow. Rows are checked
as prodml's server checks them (:class:`~prodml.serve.validation.RowChecker`: every bad
field of a row named, a category never seen in training unless ``serve.unseen`` is
``predict``, a null where training had none); a line that is not JSON or fails the
checks is answered in its place by ``{"error": ..., "field": ..., "line": N}``, so the
answers stay in step with the lines and the stream goes on. Each answer is what
``/predict`` gives a record: the label and probabilities (a regressor: the value), the
model and a request id; its row is committed to the prediction log before the answer is
written, under the model's name as endpoint, as the server logs it, so the monitor sees
it and feedback finds it by its request id.

>>> import json, prodml, tempfile
>>> project = prodml.Project(prodml.init(tempfile.mkdtemp() + "/bc", example="breast-cancer"))
>>> run = project.fit(); _ = project.evaluate(run.id); version = project.register(run.id)
>>> record = {column["name"]: 14.0 for column in version.input_schema["columns"]}
>>> with JsonLines.open(project, None) as lines:
...     good, bad = lines.answer(json.dumps(record), 1), lines.answer("[1, 2]", 2)
>>> good.error, sorted(json.loads(good.text))
(None, ['label', 'model', 'probabilities', 'request_id'])
>>> json.loads(bad.text)["line"], "row 0" in bad.error
(2, True)
>>> project.close()
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from prodml.data.schema import Schema
from prodml.errors import NotFoundError
from prodml.serve.http import parse_json, require_object
from prodml.serve.prediction_log import Entry, PredictionLog, entry
from prodml.serve.predictor import Predictions, Predictor
from prodml.serve.rejection import Rejected
from prodml.serve.request_ids import new_ids
from prodml.serve.source import Served
from prodml.store.log_format import moment

if TYPE_CHECKING:
    from prodml.project import Project


@dataclass(frozen=True)
class Answer:
    """The line written for a line read, and the message it refuses it with (None: it was
    answered)."""

    text: str
    error: str | None = None


class JsonLines:
    """A registered version answering JSON lines, logging each answered row to ``log``."""

    def __init__(self, predictor: Predictor, log: PredictionLog | None) -> None:
        self.predictor = predictor
        self.log = log

    @classmethod
    @contextlib.contextmanager
    def open(cls, project: Project, model: str | None) -> Iterator[JsonLines]:
        """``model`` (``name``, ``name:3``; default: the project's primary) of ``project``,
        logging to its store until the block ends."""
        registry = project.registry
        version = registry.get(model or project.name)
        if version.input_schema is None:
            raise NotFoundError(f"model {version.ref} has no input schema; register a new fit")
        served = Served(
            endpoint=version.name,
            name=version.name,
            version=version.version,
            model=registry.load(version),
            schema=Schema.from_dict(version.input_schema),
            run_id=version.run_id,
            metadata=project.settings.data.metadata,
            time=project.settings.data.time,
            unseen=project.settings.serve.unseen,
        )
        log = PredictionLog(registry.database, project.settings.log.durability)
        try:
            yield cls(Predictor(served), log)
        finally:
            log.close()

    def answer(self, line: str, number: int) -> Answer:
        """The answer to ``line``, the ``number``-th read (counted from 1)."""
        started = time.perf_counter()
        try:
            value = parse_json(line.encode())
            records = value if type(value) is list else [_record(value, number)]
            rows = self.predictor.checker.records(records)
            carried = self.predictor.metadata.records(records)
        except Rejected as refused:
            body = {"error": refused.message, "field": refused.field, "line": number}
            return Answer(orjson.dumps(body).decode(), refused.message)
        predictions = self.predictor.predict(rows)
        ids = new_ids(len(rows))
        if self.log is not None:
            logged = rows if carried is None else carried.joined(rows)
            names = self.predictor.checker.names + (() if carried is None else carried.names)
            latency = time.perf_counter() - started
            times = (None if carried is None else carried.times) or [None] * len(rows)
            entries = [
                self._entry(
                    request_id, dict(zip(names, row, strict=True)), predictions, i, latency, event
                )
                for i, (request_id, row, event) in enumerate(zip(ids, logged, times, strict=True))
            ]
            self.log.write(entries).result()  # committed before the answer is given
        model = self.predictor.served.model_id
        answers = [
            {**predictions.outputs(i), "model": model, "request_id": request_id}
            for i, request_id in enumerate(ids)
        ]
        return Answer(orjson.dumps(answers if type(value) is list else answers[0]).decode())

    def _entry(
        self,
        request_id: str,
        inputs: dict[str, Any],
        predictions: Predictions,
        row: int,
        latency: float,
        event_us: int | None,
    ) -> Entry:
        served = self.predictor.served
        return entry(
            request_id,
            served.endpoint,
            served.name,
            served.version,
            inputs,
            predictions.outputs(row),
            latency,
            run_id=served.run_id,
            classes=self.predictor.classes if self.predictor.probabilistic else None,
            event_at=None if event_us is None else moment(event_us),
        )


def _record(value: Any, number: int) -> dict[str, Any]:
    example = '{"field": value, ...} or a list of them'
    return require_object(value, f"line {number}", example)
