"""What servers say on ``/metrics`` now, shown on the live page beside the log's minutes:
what only a server process knows, since it started. The log counts what was answered and
logged; a server also knows the requests it is answering now, its open breakers, its
failed loads, the shadow copies it dropped and the out-of-range values it let through.

A :class:`MetricsSource` is one server: the dashboard's own inside ``prodml serve``
(``serve.ui: true``) reads its app's registry, no HTTP; ``prodml ui --server URL`` reads
another server's ``/metrics`` (open to read, as Prometheus scrapes it). A server that
does not answer is shown as such, with the reason, never as an error of the page.

>>> from prodml.serve.metrics import Metrics
>>> metrics = Metrics()
>>> metrics.request("loans", "v2", "3", 200, 0.004)
>>> metrics.request("loans", "v2", "3", 422, 0.001)
>>> now = MetricsSource("this server", metrics.exposition).now("loans")
>>> now.requests, now.errors, now.in_flight, now.error
(2, 1, 0, None)
>>> scraped("http://127.0.0.1:1").now("loans").error  # nothing listens on port 1
'not answering: [Errno 111] Connection refused'
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from prodml.errors import ConfigError

#: how long a look waits for another server's /metrics
TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class ServerNow:
    """One server's counts for one endpoint since it started (``error``: why there are
    none). The latency is the mean over those requests, from the histogram's sum."""

    server: str
    error: str | None = None
    in_flight: int = 0
    requests: int = 0
    errors: int = 0
    latency_mean_seconds: float | None = None
    breaker_open: bool = False
    load_failed: bool = False
    shadow_dropped_rows: int = 0
    out_of_range_values: int = 0


@dataclass(frozen=True)
class MetricsSource:
    """A server, by the name the page shows, and how to read its metrics' text."""

    name: str
    read: Callable[[], bytes]

    def now(self, endpoint: str) -> ServerNow:
        """What the server says of ``endpoint`` now."""
        try:
            text = self.read().decode("utf-8")
        except (urllib.error.URLError, OSError) as exc:
            return ServerNow(self.name, f"not answering: {getattr(exc, 'reason', exc)}")
        try:
            return _summary(self.name, text, endpoint)
        except ValueError as exc:
            return ServerNow(self.name, f"not Prometheus metrics: {exc}")


def scraped(url: str) -> MetricsSource:
    """The server at ``url`` (``http://host:port``), its ``/metrics`` read over HTTP; a
    ConfigError for an address that is not one."""
    base = url.rstrip("/")
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
        raise ConfigError(
            f"--server {url!r} is not a server's address; give it as http://HOST:PORT "
            "(where prodml serve listens, e.g. http://127.0.0.1:8000)"
        )

    def read() -> bytes:
        with urllib.request.urlopen(f"{base}/metrics", timeout=TIMEOUT_SECONDS) as answer:
            return bytes(answer.read())

    return MetricsSource(base, read)


def _summary(server: str, text: str, endpoint: str) -> ServerNow:
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("endpoint", endpoint) == endpoint:
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
    count = values.get("prodml_request_latency_seconds_count", 0.0)
    return ServerNow(
        server,
        in_flight=int(values.get("prodml_requests_in_flight", 0)),
        requests=int(values.get("prodml_requests_total", 0)),
        errors=int(values.get("prodml_request_errors_total", 0)),
        latency_mean_seconds=values["prodml_request_latency_seconds_sum"] / count
        if count
        else None,
        breaker_open=values.get("prodml_breaker_open", 0) > 0,
        load_failed=values.get("prodml_endpoint_load_failed", 0) > 0,
        shadow_dropped_rows=int(values.get("prodml_shadow_dropped_rows_total", 0)),
        out_of_range_values=int(values.get("prodml_out_of_range_values_total", 0)),
    )
