"""A circuit breaker: after ``failures`` model failures in a row an endpoint answers with its
fallback rule alone (open); after ``probe_after`` seconds one request probes the model
again (half-open), and its success closes the breaker, its failure opens it anew.

Every change of state is returned to the caller, which records it as a deployment event.

>>> breaker = Breaker(failures=2, probe_after=30)
>>> breaker.failed(now=0), breaker.failed(now=1), breaker.allows(now=2)
(None, 'open', False)
>>> breaker.allows(now=31), breaker.allows(now=31)  # one probe at a time
(True, False)
>>> breaker.succeeded(now=32), breaker.state
('closed', 'closed')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from prodml.errors import ConfigError

State = Literal["closed", "open", "half-open"]


@dataclass
class Breaker:
    """One endpoint's breaker; ``now`` is a monotonic clock in seconds."""

    failures: int = 5
    probe_after: float = 30.0
    state: State = "closed"
    in_a_row: int = 0
    opened_at: float = 0.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.failures, bool)
            or not isinstance(self.failures, int)
            or self.failures < 1
        ):
            raise ConfigError(
                f"serve.breaker.failures is {self.failures!r}; give the failures in a row that "
                "open the breaker, 1 or more (e.g. 5)"
            )
        if not self.probe_after > 0:
            raise ConfigError(
                f"serve.breaker.probe_after is {self.probe_after!r} seconds; give how long the "
                "breaker stays open before a probe, more than 0 (e.g. 30)"
            )

    def allows(self, now: float) -> bool:
        """Whether the model may be called: always while closed; once ``probe_after``
        seconds after opening (then half-open, until that call's outcome)."""
        if self.state == "closed":
            return True
        if self.state == "open" and now - self.opened_at >= self.probe_after:
            self.state = "half-open"
            return True
        return False

    def succeeded(self, now: float) -> State | None:
        """The model answered: count from zero; a probe's success closes the breaker (the
        new state is returned when it changed)."""
        self.in_a_row = 0
        if self.state == "half-open":
            self.state = "closed"
            return "closed"
        return None

    def failed(self, now: float) -> State | None:
        """The model failed (raised, or took too long): the ``failures``-th in a row, or a
        failed probe, opens the breaker (the new state is returned when it changed)."""
        self.in_a_row += 1
        if self.state == "half-open" or (self.state == "closed" and self.in_a_row >= self.failures):
            self.state, self.opened_at = "open", now
            return "open"
        return None
