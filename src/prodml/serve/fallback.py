"""A rule that answers for a failing model: ``serve.fallback: rules:rules.py:function``
(the rule form of baselines, :mod:`prodml.model.rules`).

With a fallback, a request the model fails on (alone, after a failing batch was split by
request) is answered by the rule, and so is every request while the endpoint's
:mod:`~prodml.serve.breaker` is open: status ``decided``, ``decided_by`` ``fallback`` in
the answer and the log, and a review item of reason ``fallback`` for each row. A model
call slower than ``serve.timeout_ms`` counts as a failure for the breaker, but its answers
are still the model's (they were computed; the breaker spares the next requests). Each
change of the breaker's state is a deployment event (``breaker-open``,
``breaker-closed``). Without a fallback a failure answers 500, as before.

A classifier's rule answers a label; its probabilities say it is certain (1 for that
label), as a rule baseline's do. The rule runs in the event loop (a rule is a few
vectorized pandas operations). An endpoint whose model never loaded gets the rule's
answers too (:mod:`~prodml.serve.stand_in`).

>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "rules.py").write_text("def one(X):\\n    return [1] * len(X)\\n")
>>> Fallback.load("rules:rules.py:one", folder).reference
'rules:rules.py:one'
>>> Fallback.load("rules:rules.py:two", folder)
Traceback (most recent call last):
prodml.errors.ConfigError: serve.fallback 'rules:rules.py:two' cannot answer: ...
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prodml.errors import ConfigError, ModelError
from prodml.model.rules import RuleModel
from prodml.registry import Registry, event
from prodml.serve.breaker import Breaker
from prodml.serve.predictor import Predictions, Predictor
from prodml.serve.validation import Row
from prodml.store.runs import utc_now

logger = logging.getLogger("prodml.serve")


@dataclass(frozen=True)
class Fallback:
    """A loaded rule that answers a predictor's rows."""

    reference: str
    rule: RuleModel

    @classmethod
    def load(cls, reference: str, root: Path) -> Fallback:
        """The rule ``reference`` of the project folder ``root``; a ConfigError when it
        cannot be read."""
        try:
            return cls(reference, RuleModel.from_reference(reference, root))
        except ModelError as exc:
            raise ConfigError(
                f"serve.fallback {reference!r} cannot answer: {exc}; give a function of a "
                "file in the project folder, as rules:FILE.py:FUNCTION"
            ) from None

    def predict(self, predictor: Predictor, rows: Sequence[Row]) -> Predictions:
        """The rule's answers to ``rows`` (checked tuples of ``predictor``'s schema), in
        the form the model's take."""
        answers = self.rule.predict(predictor.frame(rows)).tolist()
        if predictor.classes is None:
            return Predictions(None, None, np.asarray(answers, dtype=np.float64).tolist(), None)
        unknown = [a for a in answers if a not in predictor.classes]
        if unknown:
            raise ModelError(
                f"serve.fallback {self.reference} answered {unknown[0]!r}, which is not a class "
                f"of the model; classes are {predictor.classes}"
            )
        keys = [str(c) for c in predictor.classes]
        if not predictor.probabilistic:
            return Predictions(answers, None, None, keys)
        certain = [[float(a == c) for c in predictor.classes] for a in answers]
        return Predictions(answers, certain, None, keys)


async def note_change(registry: Registry, endpoint: str, version: int, breaker: Breaker) -> None:
    """Write the breaker's new state to ``endpoint``'s deployment events; a write that
    fails is logged, never felt by a request."""
    reason = (
        f"{breaker.in_a_row} model failures in a row; the fallback answers, a probe "
        f"in {breaker.probe_after:g}s"
        if breaker.state == "open"
        else "a probe of the model succeeded"
    )
    happened = event(
        endpoint,
        utc_now(),
        f"breaker-{breaker.state}",
        version,
        {
            "failures": breaker.failures,
            "in_a_row": breaker.in_a_row,
            "probe_after": breaker.probe_after,
        },
        actor=f"server {socket.gethostname()}:{os.getpid()}",
        reason=reason,
    )
    try:
        await asyncio.to_thread(registry.note, happened)
    except Exception as exc:
        logger.error(
            "endpoint %s: the breaker's change to %s could not be written to its deployment "
            "events (%s: %s)",
            endpoint,
            breaker.state,
            type(exc).__name__,
            exc,
        )
