"""Alert webhooks against a real HTTP receiver on a free loopback port: what arrives,
what is retried and after which waits, and what happens when a receiver is down or slow."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

from prodml.errors import ConfigError
from prodml.monitor.webhooks import Delivery, backoff_delays, deliver, post

PAYLOAD: dict[str, Any] = {
    "rule": "error_rate above 0.2 for 3 windows",
    "model": "loans",
    "version": 4,
    "values": [0.21, 0.24, 0.31],
    "window_end": "2024-05-01T12:00:00+00:00",
}


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """A ThreadingHTTPServer that records every request and answers from a script
    (then 200 once the script is used up)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.script: list[Answer] = []
        self.release = threading.Event()  # ends a slow answer's wait at teardown
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.answer(self, "POST")

            def do_GET(self) -> None:
                receiver.answer(self, "GET")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up on a slow answer closed its socket

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/prodml"

    def answer(self, request: BaseHTTPRequestHandler, method: str) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length", 0)))
        with self._lock:
            self.calls.append(
                Call(method, request.path, dict(request.headers.items()), body, time.monotonic())
            )
            answer = self.script.pop(0) if self.script else Answer()
        if answer.delay:
            self.release.wait(answer.delay)
        request.send_response(answer.status)
        for name, value in answer.headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"{}")

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback requests must not go through a proxy set in the environment."""
    for name in (
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def closed_url() -> str:
    """A loopback URL nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/prodml"


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s where no retry was due")


def test_a_payload_arrives_as_json_on_the_first_attempt(receiver: Receiver) -> None:
    delivery = post(receiver.url, PAYLOAD, sleep=no_sleep)

    assert delivery == Delivery(receiver.url, True, 1, 200, None, delivery.seconds)
    assert 0 < delivery.seconds < 1
    [call] = receiver.calls
    assert (call.method, call.path) == ("POST", "/hooks/prodml")
    assert orjson.loads(call.body) == PAYLOAD
    assert call.headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"prodml/\S+", call.headers["User-Agent"])


def test_a_503_is_retried_after_the_documented_backoff(receiver: Receiver) -> None:
    receiver.script = [Answer(503), Answer(503)]
    sleeps: list[float] = []

    delivery = post(receiver.url, PAYLOAD, backoff=0.5, sleep=sleeps.append)

    assert (delivery.ok, delivery.attempts, delivery.status, delivery.error) == (True, 3, 200, None)
    assert sleeps == [0.5, 1.0] == backoff_delays(3, backoff=0.5)
    assert [orjson.loads(call.body) for call in receiver.calls] == [PAYLOAD] * 3


def test_a_429_waits_for_its_numeric_retry_after_up_to_max_delay(receiver: Receiver) -> None:
    receiver.script = [
        Answer(429, {"Retry-After": "3600"}),  # capped at max_delay
        Answer(429, {"Retry-After": "2"}),  # longer than the back-off of 0.5: honoured
        Answer(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),  # a date: back-off
    ]
    sleeps: list[float] = []

    delivery = post(receiver.url, PAYLOAD, backoff=0.25, max_delay=30.0, sleep=sleeps.append)

    assert (delivery.ok, delivery.attempts) == (True, 4)
    assert sleeps == [30.0, 2.0, 1.0]


def test_a_400_is_not_retried(receiver: Receiver) -> None:
    receiver.script = [Answer(400)]

    delivery = post(receiver.url, PAYLOAD, sleep=no_sleep)

    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 1, 400)
    assert delivery.error == "HTTP 400 Bad Request"
    assert len(receiver.calls) == 1


def test_a_redirect_is_not_followed_as_a_get(receiver: Receiver) -> None:
    receiver.script = [Answer(302, {"Location": "/elsewhere"})]

    delivery = post(receiver.url, PAYLOAD, sleep=no_sleep)

    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 1, 302)
    assert delivery.error == "HTTP 302 Found (redirects are not followed; configure the final URL)"
    assert [call.method for call in receiver.calls] == ["POST"]


def test_a_receiver_not_listening_gets_every_attempt_then_a_failure(closed_url: str) -> None:
    sleeps: list[float] = []

    delivery = post(closed_url, PAYLOAD, attempts=3, backoff=0.01, sleep=sleeps.append)

    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 3, None)
    assert delivery.error is not None
    assert re.fullmatch(r"connection failed: .*Connection refused.*", delivery.error)
    assert sleeps == [0.01, 0.02]


def test_a_receiver_slower_than_the_timeout_is_a_timed_out_failure(receiver: Receiver) -> None:
    receiver.script = [Answer(delay=5.0), Answer(delay=5.0)]

    delivery = post(
        receiver.url, PAYLOAD, attempts=2, backoff=0.0, timeout=0.2, sleep=lambda _: None
    )

    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 2, None)
    assert delivery.error == "timed out after 0.2 s"
    assert 0.4 <= delivery.seconds < 2.0
    assert len(receiver.calls) == 2


def test_deliver_does_not_make_one_receiver_wait_for_another(
    receiver: Receiver, closed_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="prodml.monitor"):
        down, up = deliver([closed_url, receiver.url], PAYLOAD, attempts=3, backoff=0.2)

    # The dead URL comes first and spends 0.2 + 0.4 s retrying; the live one is served
    # meanwhile, not after.
    assert receiver.calls[0].at - start < 0.3
    assert (down.url, down.ok, down.attempts) == (closed_url, False, 3)
    assert down.seconds >= 0.6
    assert (up.url, up.ok, up.attempts) == (receiver.url, True, 1)
    failures = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in failures] == [
        f"webhook {closed_url} failed after 3 attempt(s) in {down.seconds:.1f} s: {down.error}"
    ]
    assert all(r.name == "prodml.monitor" for r in caplog.records)


def test_deliver_checks_every_url_before_sending_any(receiver: Receiver) -> None:
    with pytest.raises(ConfigError, match=r"webhook URL 'hooks.example.com/x' is not allowed"):
        deliver([receiver.url, "hooks.example.com/x"], PAYLOAD)

    assert receiver.calls == []


@pytest.mark.parametrize(
    "url", ["ftp://hooks.example.com/x", "hooks.example.com/x", "http://", "", "http://[::1/x"]
)
def test_a_url_that_is_not_http_is_a_config_error_naming_it(url: str) -> None:
    message = (
        f"webhook URL {url!r} is not allowed; a webhook must be an http:// or https:// URL "
        "with a host, e.g. https://hooks.example.com/prodml"
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        post(url, PAYLOAD)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"attempts": 0},
            r"webhook attempts=0 is not allowed; attempts must be a whole number >= 1",
        ),
        (
            {"timeout": 0},
            r"webhook timeout=0 is not allowed; timeout must be a finite number > 0 \(seconds\)",
        ),
        (
            {"backoff": -1.0},
            r"webhook backoff=-1.0 is not allowed; backoff must be a finite number >= 0",
        ),
        (
            {"max_delay": float("inf")},
            r"webhook max_delay=inf is not allowed; max_delay must be a finite number >= 0",
        ),
    ],
)
def test_options_out_of_range_are_config_errors(
    receiver: Receiver, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        post(receiver.url, PAYLOAD, **options)

    assert receiver.calls == []


def test_a_delivery_reads_as_a_dict() -> None:
    delivery = Delivery("http://127.0.0.1:9/x", False, 5, 503, "HTTP 503 Service Unavailable", 7.5)

    assert delivery.to_dict() == {
        "url": "http://127.0.0.1:9/x",
        "ok": False,
        "attempts": 5,
        "status": 503,
        "error": "HTTP 503 Service Unavailable",
        "seconds": 7.5,
    }
