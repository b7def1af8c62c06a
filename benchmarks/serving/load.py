"""The two load generators of the serving benchmark, standard library only.

*Closed loop*: ``wrk`` with CONNECTIONS connections, each sending its next request as soon
as its last one is answered, so the server runs flat out; what it answers a second is its
throughput, and wrk's latency distribution is that of a saturated server.

*Open loop*: wrk cannot send at a given rate (wrk2 can; it is not installed here), so
:func:`open_loop` does it: one asyncio task per request, started at its scheduled time
(``i / rate`` seconds after the start) whatever happened to the earlier ones, over at most
MAX_CONNECTIONS HTTP/1.1 keep-alive connections. A request's latency runs from its
scheduled time to the end of its answer, so time spent waiting for a free connection
counts (no coordinated omission). A connection idle for STALE seconds is closed rather
than used again, as HTTP clients do: servers close idle keep-alive connections (uvicorn
after 5 s). Requests still unanswered GRACE seconds after the last was due count as not
answered: a percentile that falls among them is ``None``.
"""

from __future__ import annotations

import asyncio
import math
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: wrk's closed loop: threads, connections
THREADS, CONNECTIONS = 2, 32
#: the open loop: connections at most, how long the last requests may take, and how long
#: a connection may stay idle before it is closed rather than used again
MAX_CONNECTIONS, GRACE, STALE = 64, 5.0, 2.0
#: wrk's units of time, in seconds
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def lua_script(path: Path, body: bytes) -> Path:
    """A wrk script that POSTs ``body`` as JSON (a Lua long string: no escaping needed)."""
    path.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{body.decode()}]==]\n"
    )
    return path


def lua_rotation(path: Path, bodies: list[bytes]) -> Path:
    """A wrk script that POSTs ``bodies`` as JSON in turn, each connection from the first
    (Lua long strings: no escaping needed)."""
    listed = ",\n".join(f"[==[{body.decode()}]==]" for body in bodies)
    path.write_text(
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"local bodies = {{\n{listed}\n}}\n"
        "local turn = 0\n"
        "request = function()\n"
        "  turn = turn % #bodies + 1\n"
        '  return wrk.format("POST", nil, nil, bodies[turn])\n'
        "end\n"
    )
    return path


def wrk_version() -> str:
    """``wrk 4.1.0`` (wrk prints its version and usage, and exits 1, for ``-v``)."""
    shown = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return shown.split(" [", 1)[0].strip()


def wrk(url: str, script: Path, seconds: int) -> dict[str, Any]:
    """Run wrk against ``url`` for ``seconds`` and parse what it printed."""
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency"]
    shown = subprocess.run(
        [*command, "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
    return parse_wrk(shown)


def parse_wrk(shown: str) -> dict[str, Any]:
    """Requests a second, the latency percentiles (seconds) and the failures wrk printed.

    >>> shown = parse_wrk('''  Latency Distribution
    ...      50%    5.01ms
    ...      75%  710.00us
    ...      90%    1.20s
    ...      99%    2.00m
    ...   9000 requests in 15.00s, 1.00MB read
    ...   Socket errors: connect 0, read 1, write 0, timeout 2
    ...   Non-2xx or 3xx responses: 4
    ... Requests/sec:    600.10
    ... ''')
    >>> shown["p50"], shown["p99"], shown["requests_per_second"], shown["failed"], shown["not_2xx"]
    (0.00501, 120.0, 600.1, 3, 4)
    """
    percentiles = {
        f"p{q}": float(value) * _UNITS[unit]
        for q, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", shown, re.M)
    }
    requests = re.search(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h)", shown, re.M)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", shown, re.M)
    if not (requests and rate and percentiles):
        raise ValueError(f"wrk printed what this script cannot read:\n{shown}")
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", shown
    )
    not_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", shown)
    return {
        "requests_per_second": float(rate.group(1)),
        "requests": int(requests.group(1)),
        "seconds": float(requests.group(2)) * _UNITS[requests.group(3)],
        **percentiles,
        "failed": sum(int(n) for n in sockets.groups()) if sockets else 0,
        "timeouts": int(sockets.group(4)) if sockets else 0,
        "not_2xx": int(not_2xx.group(1)) if not_2xx else 0,
    }


def percentile(latencies: list[float], total: int, q: float) -> float | None:
    """The nearest-rank ``q`` percentile of ``total`` requests of which ``latencies`` were
    answered (the others count as slower than any); None if it is one of those.

    >>> percentile([0.3, 0.1, 0.2], 3, 50), percentile([0.1], 4, 50)
    (0.2, None)
    """
    rank = max(1, math.ceil(q / 100 * total))
    return sorted(latencies)[rank - 1] if rank <= len(latencies) else None


def open_loop(url: str, body: bytes, rate: float, seconds: float) -> dict[str, Any]:
    """POST ``body`` to ``url`` at ``rate`` requests a second for ``seconds``; the
    latency percentiles (seconds, or None: see :func:`percentile`) and the counts."""
    return asyncio.run(_open_loop(url, body, rate, seconds))


async def _open_loop(url: str, body: bytes, rate: float, seconds: float) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    message = (
        f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    loop = asyncio.get_running_loop()
    free = asyncio.Semaphore(MAX_CONNECTIONS)  # wakes its waiters in order: first due, first sent
    # (reader, writer, when it was last answered); servers close keep-alive connections idle
    # for a few seconds (uvicorn after 5 s), and a client would not send on such a one
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    opened: list[asyncio.StreamWriter] = []
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    async def send(due: float) -> None:
        async with free:
            while idle and loop.time() - idle[0][2] > STALE:
                idle.pop(0)[1].close()
            if idle:
                reader, writer, _ = idle.pop()
            else:
                reader, writer = await asyncio.open_connection(host, port)
                opened.append(writer)
            writer.write(message)
            statuses[await _answer(reader)] += 1
            latencies.append(loop.time() - due)
            idle.append((reader, writer, loop.time()))

    total = round(rate * seconds)
    start = loop.time() + 0.1
    tasks = []
    for i in range(total):
        due = start + i / rate
        if due > loop.time():
            await asyncio.sleep(due - loop.time())
        tasks.append(asyncio.create_task(send(due)))
    sent_in = loop.time() - start
    done, late = await asyncio.wait(tasks, timeout=start + seconds + GRACE - loop.time())
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    for writer in opened:
        writer.close()
    failures = Counter(
        type(task.exception()).__name__
        for task in done
        if not task.cancelled() and task.exception() is not None
    )
    return {
        "offered_per_second": rate,
        "seconds": seconds,
        "requests": total,
        "sent_in_seconds": sent_in,
        "answered": len(latencies),
        "ok": statuses[200],
        "not_200": len(latencies) - statuses[200],
        "broken": sum(failures.values()),
        "failures": dict(failures),
        "unanswered": len(late),
        "connections": len(opened),
        **{f"p{q}": percentile(latencies, total, q) for q in (50, 90, 99)},
    }


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer with a Content-Length; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    found = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    if found is None:
        raise ValueError(f"an answer without Content-Length: {head[:200]!r}")
    await reader.readexactly(int(found.group(1)))
    return int(head.split(b" ", 2)[1])
