"""Routing: which of an endpoint's loaded versions answers a request, and which also sees a
copy of it after the answer is sent.

One interface, :class:`Router`, and one small strategy per deployment mode, each wrapping
the predictors it routes between (the shared conformance suite is
``tests/serve/test_routing.py``):

- :class:`Alone`: the primary answers everything;
- :class:`Canary`: the candidate answers the requests whose point falls below its share;
- :class:`Shadow`: the primary answers; the candidate predicts a copy of the requests whose
  point falls below its sample, after the answer (its rows logged as ``shadow``);
- :class:`BlueGreen`: the primary answers; the candidate is loaded and warm, and answers
  only a request that names its version.

A request's point is :func:`point` of its sticky key, a number in [0, 100) that is the
same in every replica, so replicas route one key alike without talking. The key
(:mod:`prodml.serve.sticky`) is the ``X-Prodml-Key`` header when a request sends one;
else, with ``serve.sticky_key: FIELD``, the value of that field in its first row; a
request without either (or whose field holds no value) gets a random point, as a hash
of its random request id would be. A copy for a shadow is chosen by the point of its
first request id, so the choice can be replayed from the log.

>>> point("customer-42") == point("customer-42"), 0 <= point("customer-42") < 100
(True, True)
"""

from __future__ import annotations

import copy
import hashlib
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from prodml.errors import ConfigError

if TYPE_CHECKING:
    from prodml.serve.predictor import Predictor
    from prodml.serve.source import Lineup


def point(key: str | None) -> float:
    """Where ``key`` falls in [0, 100): the first 8 bytes of its BLAKE2b hash, scaled; a
    random point for no key."""
    if key is None:
        return random.random() * 100
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100


def tagged(predictor: Predictor, role: str) -> Predictor:
    """``predictor`` answering in ``role`` (primary, canary, shadow, blue-green): a shallow
    copy sharing the model, so one loaded version can change role without loading again."""
    if predictor.role == role:
        return predictor
    twin = copy.copy(predictor)
    twin.role = role
    return twin


class Router(Protocol):
    """Which predictor answers, and which also sees a copy."""

    @property
    def primary(self) -> Predictor:
        """The version that answers by default (health and documents speak of it)."""
        ...

    def answer(self, at: float) -> Predictor:
        """The predictor that answers a request at point ``at``."""
        ...

    def copy(self, at: float) -> Predictor | None:
        """The predictor that also predicts the request (after the answer), if any."""
        ...

    def predictors(self) -> tuple[Predictor, ...]:
        """Every predictor routed to (the primary first)."""
        ...


@dataclass(frozen=True)
class Alone:
    primary: Predictor

    def answer(self, at: float) -> Predictor:
        return self.primary

    def copy(self, at: float) -> Predictor | None:
        return None

    def predictors(self) -> tuple[Predictor, ...]:
        return (self.primary,)


@dataclass(frozen=True)
class Canary:
    primary: Predictor
    candidate: Predictor
    share: float  # percent of requests the candidate answers

    def answer(self, at: float) -> Predictor:
        return self.candidate if at < self.share else self.primary

    def copy(self, at: float) -> Predictor | None:
        return None

    def predictors(self) -> tuple[Predictor, ...]:
        return (self.primary, self.candidate)


@dataclass(frozen=True)
class Shadow:
    primary: Predictor
    candidate: Predictor
    share: float  # percent of requests copied to the candidate

    def answer(self, at: float) -> Predictor:
        return self.primary

    def copy(self, at: float) -> Predictor | None:
        return self.candidate if at < self.share else None

    def predictors(self) -> tuple[Predictor, ...]:
        return (self.primary, self.candidate)


@dataclass(frozen=True)
class BlueGreen:
    primary: Predictor
    candidate: Predictor

    def answer(self, at: float) -> Predictor:
        return self.primary

    def copy(self, at: float) -> Predictor | None:
        return None

    def predictors(self) -> tuple[Predictor, ...]:
        return (self.primary, self.candidate)


def router(lineup: Lineup, primary: Predictor, candidate: Predictor | None) -> Router:
    """The strategy of ``lineup``'s mode over the loaded predictors, each tagged with the
    role it answers in."""
    first = tagged(primary, "primary")
    if candidate is None or lineup.mode is None:
        return Alone(first)
    second = tagged(candidate, lineup.mode)
    if lineup.mode == "canary":
        return Canary(first, second, lineup.share)
    if lineup.mode == "shadow":
        return Shadow(first, second, lineup.share)
    if lineup.mode == "blue-green":
        return BlueGreen(first, second)
    raise ConfigError(
        f"deployment mode {lineup.mode!r} is not one of: shadow, canary, blue-green; "
        "upgrade prodml to serve this store"
    )
