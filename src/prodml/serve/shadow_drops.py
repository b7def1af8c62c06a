"""A shadow's dropped copies, in its endpoint's deployment events: a shadow predicts copies
from a bounded queue (``shadow_queue`` rows), and a copy that does not fit is dropped and
counted on ``/metrics`` (``prodml_shadow_dropped_rows``); :class:`ShadowDrops` also writes
an event ``shadow-dropped`` (the shadow's version; detail: the rows dropped since the last
such event, and the queue's size), so that ``prodml deployments NAME`` says when and how
much a shadow missed, beside the changes that explain it.

The first drop is written at once; later ones at most every EVENT_SECONDS an endpoint, the
rows of the meantime in one event, and what is left when the server stops is written
then: the events of a process add up to its counter (but for copies refused once it is
stopping). Writes run on a thread (the store may be slow); one that fails is logged and
forgotten, never felt by a request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

from prodml.registry import Registry, event
from prodml.store.runs import utc_now

logger = logging.getLogger("prodml.serve")

#: the action of the events, as ``prodml deployments NAME`` lists it
ACTION = "shadow-dropped"
#: the least time between two events of one endpoint
EVENT_SECONDS = 60.0


class ShadowDrops:
    """The drops of each endpoint's shadow, written to ``registry``'s events; see the
    module docstring. Used from the event loop only."""

    def __init__(self, registry: Registry, queue: int) -> None:
        self.registry = registry
        self.queue = queue
        self.actor = f"server {socket.gethostname()}:{os.getpid()}"
        self._pending: dict[tuple[str, int], int] = {}  # rows by endpoint and version
        self._written: dict[str, float] = {}  # when each endpoint's last event was
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._writes: set[asyncio.Task[None]] = set()
        self._closed = False

    def dropped(self, endpoint: str, version: int, rows: int) -> None:
        """Note ``rows`` the shadow ``version`` of ``endpoint`` did not see; write them now,
        or with the others once EVENT_SECONDS have passed since the endpoint's last event."""
        if self._closed:  # a copy refused while the server stops: /metrics counts it
            return
        key = (endpoint, version)
        self._pending[key] = self._pending.get(key, 0) + rows
        if endpoint in self._timers:
            return
        wait = self._written.get(endpoint, -EVENT_SECONDS) + EVENT_SECONDS - time.monotonic()
        if wait <= 0:
            self._flush(endpoint)
        else:
            loop = asyncio.get_running_loop()
            self._timers[endpoint] = loop.call_later(wait, self._flush, endpoint)

    async def close(self) -> None:
        """Write what is pending and wait for every write; note no drop after."""
        self._closed = True
        for timer in self._timers.values():
            timer.cancel()
        for endpoint in {endpoint for endpoint, _ in self._pending}:
            self._flush(endpoint)
        await asyncio.gather(*self._writes, return_exceptions=True)

    def _flush(self, endpoint: str) -> None:
        self._timers.pop(endpoint, None)
        self._written[endpoint] = time.monotonic()
        for key in [key for key in self._pending if key[0] == endpoint]:
            rows = self._pending.pop(key)
            task = asyncio.get_running_loop().create_task(self._write(endpoint, key[1], rows))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write(self, endpoint: str, version: int, rows: int) -> None:
        happened = event(
            endpoint,
            utc_now(),
            ACTION,
            version,
            {"rows": rows, "queue": self.queue},
            actor=self.actor,
            reason="the shadow's queue was full (serve option shadow_queue)",
        )
        try:
            await asyncio.to_thread(self.registry.note, happened)
        except Exception as exc:  # the store's failure is not the request's
            logger.error(
                "endpoint %s: %d rows its shadow (version %d) dropped could not be written to "
                "its deployment events (%s: %s); prodml_shadow_dropped_rows counts them",
                endpoint,
                rows,
                version,
                type(exc).__name__,
                exc,
            )
