"""The server's Prometheus metrics, in a registry of their own (one per app, so two apps in
one process, or a test, never share counts).

==================================  ==========  =============================================
metric                              type        labels
==================================  ==========  =============================================
prodml_requests_total               counter     endpoint, protocol, model_version, status
prodml_request_errors_total         counter     endpoint, protocol, model_version, status
prodml_request_latency_seconds      histogram   endpoint, protocol
prodml_requests_in_flight           gauge
prodml_batch_rows                   histogram   endpoint
prodml_out_of_range_values_total    counter     endpoint, column
prodml_drift_score                  gauge       endpoint, kind, column, method
prodml_drift_detected               gauge       endpoint, kind, column, method
prodml_drift_share                  gauge       endpoint
prodml_alert_firing                 gauge       endpoint, rule
prodml_automation                   gauge       endpoint, metric
prodml_review_queue_items           gauge       endpoint
prodml_review_queue_age_p95_seconds gauge       endpoint
prodml_endpoint_load_failed         gauge       endpoint
prodml_shadow_dropped_rows_total    counter     endpoint
==================================  ==========  =============================================

``prodml_shadow_dropped_rows_total`` counts the rows a shadow candidate did not see, its
queue full; the endpoint's deployment events say when (:mod:`prodml.serve.shadow_drops`).

``prodml_endpoint_load_failed`` is 1 while an endpoint's last load failed (it answers 503,
or keeps serving the version it had) and 0 once a load succeeds; its sum is the number of
endpoints that failed.

The drift and alert gauges come from the store, as ``prodml monitor`` last left it: the
scores of each endpoint's newest window (detected: 1 or 0) and every alert rule that
has fired (1 while it fires, 0 once resolved); ``prodml_automation``, the newest window's
``deferred_share``, ``fallback_share``, ``automatic_accuracy`` and ``human_agreement``; and
the review queue's open items and their age now. They are read at most every 10 seconds.

``endpoint`` is the served endpoint's name (empty for a request that names no known
model, so unknown names cannot grow the label set), ``protocol`` one of ``native``,
``mlflow``, ``v2``, ``health``; errors are the answers of status 400 and above.

>>> metrics = Metrics()
>>> metrics.request("loans", "v2", "3", 200, 0.004)
>>> line = b'prodml_requests_total{endpoint="loans",model_version="3",protocol="v2",status="200"}'
>>> line + b" 1.0" in metrics.exposition()
True
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from prodml.store.monitoring import Monitoring
from prodml.store.review import ReviewQueue

logger = logging.getLogger("prodml.serve")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384)


class Metrics:
    """The counters, gauges and histograms of one app; see the module docstring."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["endpoint", "protocol", "model_version", "status"]
        self._requests = Counter(
            "prodml_requests", "Requests answered.", labels, registry=self.registry
        )
        self._errors = Counter(
            "prodml_request_errors",
            "Requests answered with status 400 or above.",
            labels,
            registry=self.registry,
        )
        self._latency = Histogram(
            "prodml_request_latency_seconds",
            "Time from receiving a request to its answer.",
            ["endpoint", "protocol"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "prodml_requests_in_flight", "Requests being answered now.", registry=self.registry
        )
        self._batch_rows = Histogram(
            "prodml_batch_rows",
            "Rows a model call predicted at once.",
            ["endpoint"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self._out_of_range = Counter(
            "prodml_out_of_range_values",
            "Numbers outside the training range (let through, counted).",
            ["endpoint", "column"],
            registry=self.registry,
        )
        self._load_failed = Gauge(
            "prodml_endpoint_load_failed",
            "1 while the endpoint's last model load failed, else 0.",
            ["endpoint"],
            registry=self.registry,
        )
        self._breaker = Gauge(
            "prodml_breaker_open",
            "1 while the endpoint's breaker is open (its fallback rule answers), else 0.",
            ["endpoint"],
            registry=self.registry,
        )
        self._shadow_dropped = Counter(
            "prodml_shadow_dropped_rows",
            "Rows not copied to a shadow candidate because its queue was full.",
            ["endpoint"],
            registry=self.registry,
        )
        self._dropped_said = -float("inf")
        self._loads = Counter(
            "prodml_model_loads",
            "Model versions loaded from the store (a version still held is not loaded again).",
            ["endpoint"],
            registry=self.registry,
        )
        self._children: dict[tuple[Any, ...], Any] = {}  # .labels() costs microseconds

    def request(
        self, endpoint: str, protocol: str, version: str, status: int, seconds: float
    ) -> None:
        """Count one answered request and its latency."""
        key = ("request", endpoint, protocol, version, status)
        children = self._children.get(key)
        if children is None:
            values = (endpoint, protocol, version, str(status))
            children = self._children[key] = (
                self._requests.labels(*values),
                self._errors.labels(*values) if status >= 400 else None,
                self._latency.labels(endpoint, protocol),
            )
        requests, errors, latency = children
        requests.inc()
        if errors is not None:
            errors.inc()
        latency.observe(seconds)

    def batch_observer(self, endpoint: str) -> Callable[[int], None]:
        """A function that records the rows of each batch of ``endpoint``."""
        return self._batch_rows.labels(endpoint).observe

    def out_of_range_counter(self, endpoint: str) -> Callable[[str], None]:
        """A function that counts one out-of-range value of a column of ``endpoint``."""

        def count(column: str) -> None:
            key = ("range", endpoint, column)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = self._out_of_range.labels(endpoint, column)
            child.inc()

        return count

    def shadow_dropped(self, endpoint: str, rows: int) -> None:
        """Count rows a shadow did not see; say so in the server's log once a minute."""
        self._shadow_dropped.labels(endpoint).inc(rows)
        if time.monotonic() - self._dropped_said > 60:
            self._dropped_said = time.monotonic()
            logger.warning(
                "endpoint %s: the shadow's queue is full, copies are dropped "
                "(prodml_shadow_dropped_rows counts them)",
                endpoint,
            )

    def model_loaded(self, endpoint: str) -> None:
        """Count one model version loaded for ``endpoint``."""
        self._loads.labels(endpoint).inc()

    def breaker(self, endpoint: str, opened: bool) -> None:
        """Record whether ``endpoint``'s breaker is open."""
        self._breaker.labels(endpoint).set(float(opened))

    def loaded(self, endpoint: str, failed: bool) -> None:
        """Record whether ``endpoint``'s last load failed."""
        self._load_failed.labels(endpoint).set(float(failed))

    def watch(self, store: Monitoring, seconds: float = 10.0) -> None:
        """Show the drift scores and alert states that the monitor keeps in ``store``."""
        self.registry.register(_Monitored(store, seconds))

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)


#: The window metrics of automation shown on /metrics.
AUTOMATION = ("deferred_share", "fallback_share", "automatic_accuracy", "human_agreement")


class _Monitored(Collector):
    """The monitor's newest drift scores and its alerts, read from the store at most every
    ``seconds``; a store that cannot be read leaves them out (and logs why)."""

    def __init__(self, store: Monitoring, seconds: float) -> None:
        self.store = store
        self.seconds = seconds
        self._read_at = -float("inf")
        self._metrics: list[Metric] = []

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only: registering must not touch the store

    def collect(self) -> Iterator[Metric]:
        if time.monotonic() - self._read_at >= self.seconds:
            try:
                self._metrics = self._read()
            except Exception:
                logger.exception("the drift scores and alerts could not be read for /metrics")
                self._metrics = []
            self._read_at = time.monotonic()
        yield from self._metrics

    def _read(self) -> list[Metric]:
        labels = ["endpoint", "kind", "column", "method"]
        score = GaugeMetricFamily(
            "prodml_drift_score", "Drift score in the newest monitor window.", labels=labels
        )
        detected = GaugeMetricFamily(
            "prodml_drift_detected", "1 if the score says drift, else 0.", labels=labels
        )
        share = GaugeMetricFamily(
            "prodml_drift_share", "Share of features drifted, newest window.", labels=["endpoint"]
        )
        firing = GaugeMetricFamily(
            "prodml_alert_firing", "1 while the alert rule fires.", labels=["endpoint", "rule"]
        )
        features: dict[str, list[bool]] = {}
        for endpoint, s in self.store.newest_scores():
            values = [endpoint, s.kind, s.column, s.method]
            score.add_metric(values, s.score)
            detected.add_metric(values, float(s.drifted))
            if s.kind == "drift":
                features.setdefault(endpoint, []).append(s.drifted)
        for endpoint, drifted in features.items():
            share.add_metric([endpoint], sum(drifted) / len(drifted))
        states: dict[tuple[str, str], bool] = {}
        for alert in reversed(self.store.alerts()):  # oldest first: the newest state wins
            states[(alert.endpoint, alert.rule)] = alert.resolved_at is None
        for (endpoint, rule), on in states.items():
            firing.add_metric([endpoint, rule], float(on))
        return [score, detected, share, firing, *self._automation()]

    def _automation(self) -> list[Metric]:
        """Each endpoint's newest window's automation metrics, and its review queue now."""
        newest = GaugeMetricFamily(
            "prodml_automation",
            "Newest monitor window: share deferred to people, share answered by the fallback "
            "rule, accuracy of the model's own decisions, people's agreement with it.",
            labels=["endpoint", "metric"],
        )
        size = GaugeMetricFamily(
            "prodml_review_queue_items", "Open review items.", labels=["endpoint"]
        )
        age = GaugeMetricFamily(
            "prodml_review_queue_age_p95_seconds",
            "95th percentile of the open review items' age.",
            labels=["endpoint"],
        )
        queue = ReviewQueue(self.store.database)
        for endpoint in self.store.endpoints():
            windows = self.store.windows(endpoint)
            metrics = windows[-1].metrics if windows else {}
            for name in AUTOMATION:
                if metrics.get(name) is not None:
                    newest.add_metric([endpoint, name], float(metrics[name]))
            items, oldest = queue.backlog(endpoint)
            size.add_metric([endpoint], float(items))
            if oldest is not None:
                age.add_metric([endpoint], oldest)
        return [newest, size, age]
