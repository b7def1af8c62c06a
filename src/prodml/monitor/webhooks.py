"""Alert webhooks: a JSON POST to each configured URL, retried with back-off.

A webhook that is down must not lose the alert nor hold up the others: :func:`post`
never raises for a failed delivery (it answers a :class:`Delivery` saying what went
wrong), and :func:`deliver` sends to every URL at once, each in its own thread.

Retried: connection errors, timeouts, HTTP 5xx and 429. Not retried: any other 4xx (the
receiver refused this payload; sending it again will not help) and redirects, which are
not followed (a redirected POST would arrive as a GET, without the alert). Before retry
k (1, 2, ...) the wait is ``backoff * 2 ** (k - 1)`` seconds (deterministic, no jitter:
alerts are rare, so receivers see no thundering herd), or the receiver's numeric
``Retry-After`` when that is longer, and never more than ``max_delay``.

>>> backoff_delays(5, backoff=0.5)  # the default schedule: 5 attempts, 4 waits
[0.5, 1.0, 2.0, 4.0]
>>> deliver([], {"rule": "error_rate above 0.2 for 3 windows"})
[]
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from email.message import Message
from http.client import HTTPException
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as metadata_version
from typing import Any

import orjson

from prodml.errors import ConfigError

__all__ = ["Delivery", "backoff_delays", "deliver", "post"]

logger = logging.getLogger("prodml.monitor")

MAX_THREADS = 16


@dataclass(frozen=True, slots=True)
class Delivery:
    """What became of one webhook POST: ``ok`` on a 2xx answer; else ``error`` says why
    (the last attempt's HTTP status, or the connection error)."""

    url: str
    ok: bool
    attempts: int
    status: int | None
    error: str | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def backoff_delays(attempts: int, *, backoff: float = 0.5, max_delay: float = 30.0) -> list[float]:
    """The waits between ``attempts`` tries when the receiver gives no ``Retry-After``.

    >>> backoff_delays(6, backoff=1.0, max_delay=10.0)
    [1.0, 2.0, 4.0, 8.0, 10.0]
    """
    return [min(backoff * 2.0**k, max_delay) for k in range(attempts - 1)]


def post(
    url: str,
    payload: Mapping[str, Any],
    *,
    attempts: int = 5,
    backoff: float = 0.5,
    timeout: float = 5.0,
    max_delay: float = 30.0,
    sleep: Callable[[float], object] = time.sleep,
) -> Delivery:
    """POST ``payload`` as JSON to ``url``, trying up to ``attempts`` times.

    ``timeout`` bounds each attempt's connect and each read; ``sleep`` is called with
    each wait between attempts (tests pass a recorder). Raises :class:`ConfigError` only
    for a URL or an option that is not allowed (and orjson's ``TypeError`` for a payload
    it cannot serialise); a receiver that is down, slow or refusing gives
    ``Delivery(ok=False)``.
    """
    _check(url, attempts=attempts, backoff=backoff, timeout=timeout, max_delay=max_delay)
    body = orjson.dumps(dict(payload), option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": _user_agent()},
    )
    delays = backoff_delays(attempts, backoff=backoff, max_delay=max_delay)
    start = time.monotonic()
    status: int | None = None
    error: str | None = None
    tried = 0
    for tried in range(1, attempts + 1):
        status, error, retry, retry_after = _attempt(request, timeout)
        if error is None or not retry or tried == attempts:
            break
        wait = delays[tried - 1]
        if retry_after is not None:
            wait = min(max(wait, retry_after), max_delay)
        logger.info("webhook %s: attempt %d of %d: %s", url, tried, attempts, error)
        sleep(wait)
    return Delivery(url, error is None, tried, status, error, time.monotonic() - start)


def deliver(urls: Sequence[str], payload: Mapping[str, Any], **options: Any) -> list[Delivery]:
    """POST ``payload`` to every URL at once (one thread each, up to 16); one
    :class:`Delivery` per URL, in order. Failures are logged as warnings on the
    ``prodml.monitor`` logger. Every URL is checked before anything is sent.
    """
    for url in urls:
        _check_url(url)
    if not urls:
        return []
    with ThreadPoolExecutor(min(len(urls), MAX_THREADS), "prodml-webhook") as pool:
        deliveries = list(pool.map(lambda url: post(url, payload, **options), urls))
    for delivery in deliveries:
        if not delivery.ok:
            logger.warning(
                "webhook %s failed after %d attempt(s) in %.1f s: %s",
                delivery.url,
                delivery.attempts,
                delivery.seconds,
                delivery.error,
            )
    return deliveries


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


def _attempt(
    request: urllib.request.Request, timeout: float
) -> tuple[int | None, str | None, bool, float | None]:
    """One POST: (status, error or None, worth retrying, Retry-After seconds or None)."""
    # Built per attempt, so proxy settings (http_proxy, no_proxy) are read when sending.
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(65_536)
            return response.status, None, False, None
    except urllib.error.HTTPError as answer:
        code = answer.code
        answer.close()
        error = f"HTTP {code} {answer.reason}"
        if 300 <= code < 400:
            error += " (redirects are not followed; configure the final URL)"
        retry = code == 429 or code >= 500
        return code, error, retry, _retry_after(answer.headers) if retry else None
    except urllib.error.URLError as failure:
        reason = failure.reason
        if isinstance(reason, TimeoutError):
            return None, f"timed out after {timeout:g} s", True, None
        return None, f"connection failed: {reason}", True, None
    except TimeoutError:
        return None, f"timed out after {timeout:g} s", True, None
    except (OSError, HTTPException) as failure:
        return None, f"connection failed: {type(failure).__name__}: {failure}", True, None


def _retry_after(headers: Message) -> float | None:
    value = headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:  # an HTTP date: fall back to the back-off schedule
        return None
    return seconds if seconds is not None and seconds >= 0 else None


def _check(url: str, *, attempts: int, backoff: float, timeout: float, max_delay: float) -> None:
    _check_url(url)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ConfigError(
            f"webhook attempts={attempts!r} is not allowed; attempts must be a whole number >= 1"
        )
    for name, value, zero in [
        ("backoff", backoff, True),
        ("max_delay", max_delay, True),
        ("timeout", timeout, False),
    ]:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not (number and math.isfinite(value) and (value > 0 or (zero and value == 0))):
            raise ConfigError(
                f"webhook {name}={value!r} is not allowed; {name} must be a finite number "
                f"{'>=' if zero else '>'} 0 (seconds)"
            )


def _check_url(url: str) -> None:
    host = None
    if isinstance(url, str):
        with contextlib.suppress(ValueError):  # e.g. an unclosed [ of an IPv6 host
            parts = urllib.parse.urlsplit(url)
            host = parts.hostname if parts.scheme in ("http", "https") else None
    if not host:
        raise ConfigError(
            f"webhook URL {url!r} is not allowed; a webhook must be an http:// or https:// "
            "URL with a host, e.g. https://hooks.example.com/prodml"
        )


def _user_agent() -> str:
    try:
        return f"prodml/{metadata_version('prodml')}"
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "prodml/unknown"
