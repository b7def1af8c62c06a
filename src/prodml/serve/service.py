"""The serving runtime: served endpoints, their batchers, the model thread and the log.

A request's path through it: a protocol handler checks the rows against the endpoint's
:class:`~prodml.serve.predictor.Predictor` (:meth:`Service.predictor`) and
:meth:`Service.submit`\\ s them; the endpoint's batcher gathers the rows of concurrent
requests; one model call predicts the batch (on the model thread, or in the event loop
when the model's calls are short: :attr:`ServeOptions.model_thread`); the batch's rows
go to the prediction log, each with the ``data.metadata`` values its request carried
beside the inputs (:mod:`~prodml.serve.metadata`; the model never sees them); once they
are committed, each request gets its :class:`Answered` rows. When the model fails on a
batch, each request in it is tried alone, so one request the model cannot take does not
fail the others; the one that fails answers 500 (its cause logged), or, with a
``serve.fallback`` rule, the rule's answers (and while the endpoint's breaker is open every
request gets them: :mod:`~prodml.serve.fallback`). A batch whose log commit fails answers
503: never a 200 that was not logged.

An endpoint answers through a :mod:`~prodml.serve.routing` strategy over the versions of
its lineup (a primary, and a shadow, canary or blue-green candidate beside it). A request
copied to a shadow (its metadata too) goes to a second, bounded batcher after its answer
is committed; when that queue is full the copy is dropped, counted, and written to the
endpoint's deployment events (:mod:`~prodml.serve.shadow_drops`). That batcher lingers
(``shadow_linger``) so the shadow makes few, large model calls beside a busy primary; a
shadow row's logged latency is its model call's. Versions that leave a lineup stay
loaded for ``keep_previous`` seconds, so a rollback loads nothing.

Endpoints load when the service starts, before its process accepts a connection, and
load again in the background when the source's revision for them grows. One whose load
failed answers 503 (``/health/ready`` too) while loading is retried, or, with a fallback
rule, the rule's answers (:mod:`~prodml.serve.stand_in`); one whose new version
failed to load keeps answering with the version it has (``/health/ready`` says
``degraded``). A failure is logged once, as one line, and again only if its reason changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from threadpoolctl import threadpool_limits

from prodml.automation.levels import Automation, Decider
from prodml.errors import NotFoundError, ProdmlError, listing
from prodml.serve.batcher import Batcher
from prodml.serve.breaker import Breaker
from prodml.serve.deferral import (
    Decided,
    by_rule,
    decide,
    decided_header,
    review_items,
)
from prodml.serve.fallback import Fallback, note_change
from prodml.serve.metadata import Carried
from prodml.serve.metrics import Metrics
from prodml.serve.options import ServeOptions
from prodml.serve.prediction_log import Entry, PredictionLog, encoded_inputs, log_stream
from prodml.serve.predictor import Predictions, Predictor
from prodml.serve.registry_source import RegistrySource
from prodml.serve.rejection import Rejected
from prodml.serve.routing import Router, point, router
from prodml.serve.shadow_drops import ShadowDrops
from prodml.serve.source import Served, Source
from prodml.serve.validation import Row, joined
from prodml.store.log_format import (
    encode_outputs,
    encode_probabilities,
    encode_value,
    microseconds,
)
from prodml.store.review import ItemRow, item_rows

logger = logging.getLogger("prodml.serve")


@dataclass(frozen=True)
class Answered:
    """One request's rows of a predicted (and logged) batch."""

    served: Served
    predictions: Predictions
    start: int  # the request's first row in the batch
    request_ids: list[str]
    deciders: tuple[Decider, ...] = ()  # the batch's, one a row; none: the model decided
    suggests: bool = True  # does a row a person decides show the model's answer?

    def outputs(self, row: int) -> dict[str, Any]:
        """The answer of the request's row ``row``, as :meth:`Predictions.outputs`."""
        return self.predictions.outputs(self.start + row)

    def decided_by(self, row: int) -> Decider:
        """Who decides the request's row ``row``."""
        return self.deciders[self.start + row] if self.deciders else "model"

    def shown(self, row: int) -> bool:
        """Whether the answer of row ``row`` is given (not at level human, deferred)."""
        return self.suggests or self.decided_by(row) != "person"

    def status(self, row: int) -> str:
        """``deferred`` when a person decides row ``row``, else ``decided``."""
        return "deferred" if self.decided_by(row) == "person" else "decided"

    def deciders_of_rows(self) -> Sequence[Decider]:
        """Who decides each of the request's rows (:meth:`decided_by` of each)."""
        if not self.deciders:
            model: Decider = "model"
            return (model,) * len(self.request_ids)
        return self.deciders[self.start : self.start + len(self.request_ids)]

    def headers(self) -> dict[str, str]:
        """The ``X-Prodml-Decided-By`` header: who decides each row (see
        :func:`~prodml.serve.deferral.decided_header`)."""
        return decided_header(self.deciders_of_rows())

    def given(self, name: str) -> list[Any]:
        """The request's :meth:`column` ``name`` as answered: None for a row whose answer
        is not :meth:`shown`."""
        values = self.column(name)
        if self.suggests:
            return values
        return [v if self.shown(i) else None for i, v in enumerate(values)]

    def column(self, name: str) -> list[Any]:
        """The request's ``labels``, ``values`` or ``probabilities`` (rows of them)."""
        values: list[Any] | None = getattr(self.predictions, name)
        assert values is not None, name
        return values[self.start : self.start + len(self.request_ids)]


@dataclass(slots=True)
class _Job:
    predictor: Predictor
    rows: Sequence[Row]
    request_ids: list[str]
    started: float  # time.perf_counter() when the request came in
    future: asyncio.Future[Answered]
    shadow: Predictor | None = None  # predicts a copy once this job's answer is committed
    metadata: Carried | None = None  # logged beside the rows' inputs, with their times


@dataclass
class _Endpoint:
    name: str
    batcher: Batcher[_Job]
    shadows: Batcher[_Job]
    router: Router | None = None
    revision: int | None = None
    error: str | None = None  # why it is not loaded, while it is not
    automation: Automation = field(default_factory=Automation)
    breaker: Breaker | None = None  # with a fallback rule only

    @property
    def predictor(self) -> Predictor | None:
        """The primary's predictor, once loaded."""
        return None if self.router is None else self.router.primary


class Service:
    """The endpoints of ``source`` named in ``endpoints``, served; see the module docstring.

    ``log`` None answers without logging (for measuring the log's cost, not for production).
    ``fallback`` answers for the model when it fails (see :mod:`~prodml.serve.fallback`).
    """

    def __init__(
        self,
        source: Source,
        endpoints: Sequence[str],
        log: PredictionLog | None,
        options: ServeOptions | None = None,
        metrics: Metrics | None = None,
        fallback: Fallback | None = None,
    ) -> None:
        if not endpoints:
            raise NotFoundError("no endpoint to serve; name at least one")
        self.source = source
        self.log = log
        self.options = options or ServeOptions()
        self.metrics = metrics or Metrics()
        self._drops = (
            ShadowDrops(source.registry, self.options.shadow_queue)
            if isinstance(source, RegistrySource)
            else None  # a run has no shadow
        )
        self._arriving = 0
        self._executor: ThreadPoolExecutor | None = None
        self._limits: threadpool_limits | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.fallback = fallback
        self._notes: set[asyncio.Task[None]] = set()  # breaker events being written
        # loaded versions by (endpoint, version): the predictor and when it was last in
        # the endpoint's lineup (see keep_previous)
        self._loaded: dict[tuple[str, int], tuple[Predictor, float]] = {}
        self.endpoints: dict[str, _Endpoint] = {}
        for name in endpoints:
            batcher: Batcher[_Job] = Batcher(
                self._process,
                max_batch=self.options.max_batch,
                max_wait=self.options.max_wait,
                max_queue=self.options.max_queue,
                arriving=lambda: self._arriving,
                on_batch=self.metrics.batch_observer(name),
            )
            shadows: Batcher[_Job] = Batcher(
                self._process,
                max_batch=self.options.max_batch,
                max_queue=self.options.shadow_queue,
                linger=self.options.shadow_linger,
            )
            breaker = None
            if fallback is not None:
                failures, probe = self.options.breaker_failures, self.options.breaker_probe_after
                breaker = Breaker(failures, probe)
                self.metrics.breaker(name, opened=False)
            self.endpoints[name] = _Endpoint(name, batcher, shadows, breaker=breaker)

    @property
    def default_endpoint(self) -> str:
        """The endpoint of protocols that name none (MLflow, and /predict by default)."""
        return next(iter(self.endpoints))

    @property
    def ready(self) -> bool:
        """Does every endpoint answer (its model, or the fallback in its place)?"""
        return all(e.predictor is not None for e in self.endpoints.values())

    @property
    def loaded(self) -> bool:
        """Does every endpoint answer with its model?"""
        return all(
            e.predictor is not None and not e.predictor.served.stand_in
            for e in self.endpoints.values()
        )

    async def start(self) -> None:
        """Start the batchers and the model thread, load the endpoints once, then keep
        them fresh in the background.

        Waiting for the first load means a process accepts no connection before it can
        answer: with several workers on one socket, ``/health/ready`` from one of them
        then speaks for all. An endpoint whose load failed answers 503 with the reason,
        and loading is retried in the background.
        """
        if self.options.model_thread != "never":
            self._executor = ThreadPoolExecutor(
                1, thread_name_prefix="prodml-model", initializer=_one_thread
            )
        if self.options.model_thread != "always":
            self._limits = _one_thread()  # models called in the event loop
        for endpoint in self.endpoints.values():
            endpoint.batcher.start()
            endpoint.shadows.start()
        await self._refresh_all()
        self._tasks.append(asyncio.get_running_loop().create_task(self._watch()))

    async def stop(self) -> None:
        """Answer what is queued, commit the log, stop the threads."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        for endpoint in self.endpoints.values():
            await endpoint.batcher.close()
            await endpoint.shadows.close()
        if self._drops is not None:
            await self._drops.close()
        await asyncio.gather(*self._notes, return_exceptions=True)
        if self.log is not None:
            await asyncio.to_thread(self.log.close)
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        if self._limits is not None:
            self._limits.restore_original_limits()
            self._limits = None

    def predictor(
        self, endpoint: str | None = None, version: str | None = None, key: str | None = None
    ) -> Predictor:
        """The predictor that answers a request to ``endpoint`` now: the version it names,
        or the one its routing picks for sticky ``key``; 404 for an unknown endpoint or a
        version it does not serve, 503 while it is loading."""
        name = self.default_endpoint if endpoint is None else endpoint
        state = self.endpoints.get(name)
        if state is None:
            raise Rejected(
                404,
                f"model '{name}' is not served here; models are: {listing(self.endpoints)}",
                "model",
            )
        router = state.router
        if router is None:
            reason = f" ({state.error})" if state.error else ""
            raise Rejected(503, f"model '{name}' is not loaded yet{reason}; retry in a moment")
        if version is None:
            return router.answer(point(key))
        for predictor in router.predictors():
            if version == str(predictor.served.version):
                return predictor
        served = listing(str(p.served.version) for p in router.predictors())
        raise Rejected(
            404,
            f"model '{name}' has no version '{version}' here; it serves version {served}",
            "version",
        )

    @contextlib.contextmanager
    def arrival(self) -> Iterator[None]:
        """Mark a request as on its way to the batcher (read, decoded, checked), so that a
        batch forming meanwhile waits for it."""
        self._arriving += 1
        try:
            yield
        finally:
            self._arriving -= 1

    def submit(
        self,
        predictor: Predictor,
        rows: Sequence[Row],
        request_ids: list[str],
        started: float,
        metadata: Carried | None = None,
    ) -> asyncio.Future[Answered]:
        """Queue ``rows`` for ``predictor``'s batcher; the future holds the answer once
        the batch is predicted and logged (with the rows' ``metadata``, if any), or a
        :class:`Rejected`."""
        future: asyncio.Future[Answered] = asyncio.get_running_loop().create_future()
        if not rows:
            future.set_result(Answered(predictor.served, predictor.nothing(), 0, []))
            return future
        state = self.endpoints[predictor.served.endpoint]
        job = _Job(predictor, rows, request_ids, started, future, metadata=metadata)
        if predictor.role == "primary" and state.router is not None:
            job.shadow = state.router.copy(point(request_ids[0]))
        state.batcher.submit(job, len(rows))
        return future

    def _copy_to_shadows(self, group: list[_Job]) -> None:
        """Queue the answered jobs' copies for their shadow; a copy that does not fit the
        shadow queue is dropped and counted, never delaying an answer."""
        loop = asyncio.get_running_loop()
        for job in group:
            shadow = job.shadow
            if shadow is None or not job.future.done() or job.future.exception() is not None:
                continue
            future: asyncio.Future[Answered] = loop.create_future()
            future.add_done_callback(_quiet)
            began = time.perf_counter()
            copy = _Job(shadow, job.rows, job.request_ids, began, future, metadata=job.metadata)
            try:
                self.endpoints[shadow.served.endpoint].shadows.submit(copy, len(job.rows))
            except Rejected:
                served = shadow.served
                self.metrics.shadow_dropped(served.endpoint, len(job.rows))
                if self._drops is not None:
                    self._drops.dropped(served.endpoint, served.version, len(job.rows))

    # --- batches ---------------------------------------------------------------------------

    async def _process(self, jobs: list[_Job]) -> None:
        groups: dict[int, list[_Job]] = {}
        for job in jobs:  # one group, unless the model was reloaded while they queued
            groups.setdefault(id(job.predictor), []).append(job)
        for group in groups.values():
            try:
                await self._predict(group)
            except Exception as exc:
                logger.exception("a batch failed outside the model")
                _fail(
                    group,
                    Rejected(
                        500, f"the server failed ({type(exc).__name__}); the cause is in its log"
                    ),
                )

    async def _predict(self, group: list[_Job], alone: bool = False) -> None:
        predictor = group[0].predictor
        served = predictor.served
        rows = group[0].rows if len(group) == 1 else joined([job.rows for job in group])
        endpoint = self.endpoints[served.endpoint]
        # a shadow's answers go to nobody: no rule answers for it, it trips no breaker
        breaker = None if predictor.role == "shadow" else endpoint.breaker
        if served.stand_in or (
            breaker is not None and not alone and not breaker.allows(time.monotonic())
        ):
            self._by_rule(group, rows)
            return
        loop = asyncio.get_running_loop()
        called = time.perf_counter()
        try:
            if self._on_thread(predictor):
                assert self._executor is not None
                predictions = await loop.run_in_executor(self._executor, predictor.predict, rows)
            else:
                predictions = predictor.predict(rows)
        except Exception as exc:
            if len(group) > 1:  # find the request the model cannot take; answer the rest
                for job in group:
                    await self._predict([job], alone=True)
                return
            logger.exception("model %s failed on a batch of %d rows", served.model_id, len(rows))
            if breaker is not None:
                self._tripped(endpoint, served, breaker.failed(time.monotonic()))
                self._by_rule(group, rows)
                return
            if predictor.role == "shadow" and self.log is not None:  # for its comparison
                seconds = time.perf_counter() - called
                self.log.write_error(served.endpoint, "shadow", 500, seconds, served.version)
            _fail(
                group,
                Rejected(
                    500,
                    f"model {served.model_id} failed on this input ({type(exc).__name__}); "
                    "the cause is in the server's log",
                ),
            )
            return
        finished = time.perf_counter()
        if breaker is not None:
            limit = self.options.timeout_ms
            slow = limit is not None and (finished - called) * 1000 > limit
            now = time.monotonic()
            self._tripped(endpoint, served, breaker.failed(now) if slow else breaker.succeeded(now))
        automation = endpoint.automation
        decided = None  # a shadow's rows, and any row at full without audit: the model's
        if predictor.role != "shadow" and not automation.model_decides_all:
            ids = [i for job in group for i in job.request_ids]
            decided = decide(automation, predictions, ids)
        self._answer(group, predictions, decided, called, finished)

    def _by_rule(self, group: list[_Job], rows: Sequence[Row]) -> None:
        """Answer the group with the fallback rule (see :mod:`~prodml.serve.fallback`)."""
        assert self.fallback is not None  # a breaker or a stand-in only with a fallback
        called = time.perf_counter()
        predictions = self.fallback.predict(group[0].predictor, rows)
        self._answer(group, predictions, by_rule(len(rows)), called, time.perf_counter())

    def _tripped(self, endpoint: _Endpoint, served: Served, change: str | None) -> None:
        """Record a change of the endpoint's breaker: /metrics, the server's log, and its
        deployment events (written off the event loop)."""
        breaker = endpoint.breaker
        if change is None or breaker is None:
            return
        self.metrics.breaker(endpoint.name, opened=change == "open")
        logger.warning("endpoint %s: the breaker is %s", endpoint.name, change)
        if isinstance(self.source, RegistrySource):
            noted = note_change(
                self.source.registry, endpoint.name, served.version, replace(breaker)
            )
            task = asyncio.get_running_loop().create_task(noted)
            self._notes.add(task)
            task.add_done_callback(self._notes.discard)

    def _answer(
        self,
        group: list[_Job],
        predictions: Predictions,
        decided: Decided | None,
        called: float,
        finished: float,
    ) -> None:
        """Log the group's answers (and queue its review items), then give them."""
        predictor = group[0].predictor
        served = predictor.served
        loop = asyncio.get_running_loop()
        automation = self.endpoints[served.endpoint].automation
        deciders = () if decided is None else decided.deciders
        answers, start = [], 0
        for job in group:
            answers.append(
                Answered(served, predictions, start, job.request_ids, deciders, automation.suggests)
            )
            start += len(job.rows)
        if self.log is None:
            self._settle(group, answers, None)
            return

        def rows_to_log() -> list[Entry]:  # runs on the log's thread
            at = microseconds(datetime.now(UTC))
            classes = predictor.classes if predictor.probabilistic else None
            names = predictor.checker.names
            logged: list[Entry] = []
            for job, answer in zip(group, answers, strict=True):
                # a shadow's copies wait for their batch to fill by design: its latency is
                # its model call's, not its queue's
                began = called if predictor.role == "shadow" else job.started
                latency = round((finished - began) * 1e6)
                rows, columns, times = job.rows, names, None
                if job.metadata is not None:
                    times = job.metadata.times
                    if job.metadata.names:  # logged after the inputs, in a stream of both
                        rows = job.metadata.joined(rows)
                        columns = names + job.metadata.names
                inputs = encoded_inputs(rows)
                deciders_of_rows = answer.deciders_of_rows()
                # a stream a decider, looked up once a job rather than once a row
                streams = {
                    decider: log_stream(served, predictor.role, columns, classes, decider)
                    for decider in set(deciders_of_rows)
                }
                for i, (request_id, blob) in enumerate(zip(job.request_ids, inputs, strict=True)):
                    into = streams[deciders_of_rows[i]]
                    outputs = encoded(predictions, answer.start + i)
                    event = None if times is None else times[i]
                    logged.append((into, request_id, at, blob, outputs, latency, event))
            return logged

        reviews = None
        if decided is not None and decided.reviewed:

            def reviews() -> list[ItemRow]:  # runs on the log's thread
                ids = [i for job in group for i in job.request_ids]
                items = review_items(decided, automation, served, predictions, ids)
                return item_rows(items, datetime.now(UTC))

        committed = self.log.write(rows_to_log, reviews)
        committed.add_done_callback(
            lambda done: loop.call_soon_threadsafe(self._settle, group, answers, done)
        )

    def _settle(
        self, group: list[_Job], answers: list[Answered], committed: Future[None] | None
    ) -> None:
        _settle(group, answers, committed)
        self._copy_to_shadows(group)

    def _on_thread(self, predictor: Predictor) -> bool:
        mode = self.options.model_thread
        if mode != "auto":
            return mode == "always"
        seconds = predictor.call_seconds
        return seconds is None or seconds >= self.options.inline_below

    # --- loading ---------------------------------------------------------------------------

    async def _refresh_all(self) -> None:
        await asyncio.gather(*(self._refresh(e) for e in self.endpoints.values()))

    async def _watch(self) -> None:
        while not (self.options.reload_seconds == 0 and self.loaded):
            await asyncio.sleep(self.options.reload_seconds or 0.5)
            await self._refresh_all()

    async def _refresh(self, endpoint: _Endpoint) -> None:
        try:
            revision = await asyncio.to_thread(self.source.revision, endpoint.name)
            if revision == endpoint.revision:
                self._forget()
                return
            lineup = await asyncio.to_thread(self.source.lineup, endpoint.name)
            primary = await self._version(endpoint.name, lineup.primary)
            candidate = None
            if lineup.candidate is not None:
                candidate = await self._version(endpoint.name, lineup.candidate)
        except Exception as exc:
            unruled = None
            if endpoint.router is None and self.fallback is not None:
                unruled = await self._stand_in(endpoint)
            self._failed(endpoint, exc, unruled)
            return
        before, failed = endpoint.router, endpoint.error is not None
        endpoint.router = router(lineup, primary, candidate)
        endpoint.revision, endpoint.error = revision, None
        endpoint.automation = lineup.automation
        self.metrics.loaded(endpoint.name, failed=False)
        now = _lineup_text(endpoint.router)
        if before is not None and now != _lineup_text(before):
            logger.warning(
                "endpoint %s now serves %s (was %s)", endpoint.name, now, _lineup_text(before)
            )
        elif failed:
            logger.warning("endpoint %s loaded %s", endpoint.name, now)

    async def _stand_in(self, endpoint: _Endpoint) -> str | None:
        """Let the fallback rule answer for an endpoint whose model never loaded, while
        loading is retried (see :mod:`~prodml.serve.stand_in`); why it cannot, if it
        cannot (the endpoint then answers 503)."""
        assert self.fallback is not None
        name = endpoint.name
        try:
            lineup = await asyncio.to_thread(self.source.lineup, name)
            served = await asyncio.to_thread(self.source.stand_in, name, self.fallback.rule)
            count = self.metrics.out_of_range_counter(name)
            predictor = await asyncio.to_thread(_predictor, served, count)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        endpoint.router = router(lineup, predictor, None)
        endpoint.automation = lineup.automation
        return None

    async def _version(self, endpoint: str, version: int) -> Predictor:
        """A loaded version of the endpoint's model: the one held, or newly loaded."""
        held = self._loaded.get((endpoint, version))
        if held is not None:
            predictor = held[0]
        else:
            served = await asyncio.to_thread(self.source.load, endpoint, version)
            count = self.metrics.out_of_range_counter(endpoint)
            predictor = await asyncio.to_thread(_predictor, served, count)
            self.metrics.model_loaded(endpoint)
            if self.options.freeze_gc:
                await asyncio.to_thread(_freeze)
        self._loaded[endpoint, version] = (predictor, time.monotonic())
        return predictor

    def _forget(self) -> None:
        """Drop the versions no endpoint has routed to for ``keep_previous`` seconds."""
        now = time.monotonic()
        routed = {
            (name, p.served.version)
            for name, e in self.endpoints.items()
            if e.router is not None
            for p in e.router.predictors()
        }
        for key, (predictor, seen) in list(self._loaded.items()):
            if key in routed:
                self._loaded[key] = (predictor, now)
            elif now - seen > self.options.keep_previous:
                del self._loaded[key]

    def _failed(self, endpoint: _Endpoint, exc: Exception, unruled: str | None = None) -> None:
        """Note a failed load (and why the fallback cannot answer in its place, if it
        cannot); log it only when its reason is new, since the load is retried every
        ``reload_seconds`` (a tampered file would otherwise fill the log)."""
        reason = f"{type(exc).__name__}: {exc}"
        if unruled is not None:
            reason += f"; the fallback cannot answer in its place ({unruled})"
        self.metrics.loaded(endpoint.name, failed=True)
        if reason == endpoint.error:
            return
        endpoint.error = reason
        serving = endpoint.predictor
        if serving is None:
            after = "it answers 503"
        elif serving.served.stand_in:
            after = "the fallback rule answers in its place"
        else:
            after = f"it serves {serving.served.model_id}"
        if isinstance(exc, ProdmlError):  # a cause the user can fix: its message says how
            logger.error("cannot load endpoint %s: %s; %s, retrying", endpoint.name, reason, after)
        else:
            logger.exception("cannot load endpoint %s; %s, retrying", endpoint.name, after)


def encoded(predictions: Predictions, row: int) -> bytes:
    """Row ``row``'s answer in the log's format: a predictor's label is the class of its
    highest probability, so the probabilities say both."""
    if predictions.probabilities is not None:
        return encode_probabilities(predictions.probabilities[row])
    if predictions.values is not None:
        return encode_value(predictions.values[row])
    return encode_outputs(predictions.outputs(row))


def _lineup_text(routed: Router) -> str:
    """``loans:3`` or ``loans:3 with loans:4 as canary``, for the server's log."""
    first, *rest = routed.predictors()
    return first.served.model_id + "".join(f" with {p.served.model_id} as {p.role}" for p in rest)


def _quiet(future: asyncio.Future[Answered]) -> None:
    """Retrieve a shadow's outcome: nobody waits for it (a failure is in the server's log)."""
    if not future.cancelled():
        future.exception()


def _settle(group: list[_Job], answers: list[Answered], committed: Future[None] | None) -> None:
    error = None if committed is None else committed.exception()
    if error is not None:
        _fail(
            group,
            Rejected(
                503,
                f"the prediction could not be logged or queued for review "
                f"({type(error).__name__}), so it is not given; retry in a moment",
            ),
        )
        return
    for job, answer in zip(group, answers, strict=True):
        if not job.future.done():
            job.future.set_result(answer)


def _fail(group: list[_Job], rejected: Rejected) -> None:
    for job in group:
        if not job.future.done():
            job.future.set_exception(rejected)


def _predictor(served: Served, on_out_of_range: Callable[[str], None]) -> Predictor:
    _one_thread()  # the load times a call, which should run as the served calls will
    return Predictor(served, on_out_of_range)


def _freeze() -> None:
    """Move what is loaded (the model, scikit-learn, pandas) out of the garbage collector's
    sight: a full collection over it took 100 ms here, a pause every request in flight
    felt (p99 of 100 ms against 30 without)."""
    gc.collect()
    gc.freeze()


def _one_thread() -> threadpool_limits:
    """One BLAS and OpenMP thread for the calling thread: on busy cores, gradient boosting
    with a thread per core runs ten times slower than with one."""
    return threadpool_limits(limits=1)
