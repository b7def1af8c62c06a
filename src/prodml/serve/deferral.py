"""Deferral: who decides each row of an answered batch, and what goes before a person.

After the model predicts a batch, each row's decider is the endpoint's
:meth:`Automation.decider` of its confidence (the top probability; None for a model
without probabilities). A row a person decides becomes a review item (``low_confidence``),
and so does a row the model decides that the audit sample picks (``audit_sample``,
:func:`~prodml.automation.levels.sampled` of its request id). An item's priority is one
minus the confidence, so the least sure answers come first; it shows the model's answer as
a suggestion when the level does (not at ``human``), and never for an audit item, whose
point is to measure the model's decisions without a person leaning on them. Rows the
:mod:`~prodml.serve.fallback` rule answered are decided by ``fallback`` (:func:`by_rule`),
and each is an item (``fallback``, priority 1: the model gave no answer there).

The items are committed in the prediction log's own transaction, with the batch's log
rows (:meth:`~prodml.serve.prediction_log.PredictionLog.write`): an acknowledged deferred
answer always has its item.

>>> from prodml.automation.levels import Automation
>>> from prodml.serve.predictor import Predictions
>>> answered = Predictions([1, 0], [[0.1, 0.9], [0.6, 0.4]], None, ["0", "1"])
>>> decided = decide(Automation("partial", 0.7), answered, ["r1", "r2"])
>>> decided.deciders, [(i, c) for i, c in decided.deferred]
(('model', 'person'), [(1, 0.6)])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from prodml.automation.levels import Automation, Decider, sampled
from prodml.serve.predictor import Predictions
from prodml.serve.source import Served
from prodml.store.review import NewItem, Reason


@dataclass(frozen=True)
class Decided:
    """Who decides each row of a batch, and the rows for the review queue: (row,
    confidence) of those a person decides, and of the model's that the audit picks; the
    rows the fallback rule answered."""

    deciders: tuple[Decider, ...]
    deferred: list[tuple[int, float | None]]
    audited: list[tuple[int, float | None]]
    fallback: list[int] = field(default_factory=list)

    @property
    def reviewed(self) -> bool:
        """Does the batch have review items?"""
        return bool(self.deferred or self.audited or self.fallback)


def decide(automation: Automation, predictions: Predictions, request_ids: Sequence[str]) -> Decided:
    """Who decides each of a batch's rows (``request_ids``, one a row)."""
    deciders: list[Decider] = []
    deferred, audited = [], []
    for row, request_id in enumerate(request_ids):
        sure = confidence(predictions, row)
        decider = automation.decider(sure)
        deciders.append(decider)
        if decider == "person":
            deferred.append((row, sure))
        elif sampled(request_id, automation.audit_sample):
            audited.append((row, sure))
    return Decided(tuple(deciders), deferred, audited)


def by_rule(rows: int) -> Decided:
    """A batch of ``rows`` the fallback rule answered: each decided by it, each reviewed.

    >>> by_rule(2).deciders
    ('fallback', 'fallback')
    """
    rule: Decider = "fallback"
    return Decided((rule,) * rows, [], [], list(range(rows)))


def confidence(predictions: Predictions, row: int) -> float | None:
    """Row ``row``'s top probability; None without probabilities."""
    if predictions.probabilities is None:
        return None
    return max(predictions.probabilities[row])


def review_items(
    decided: Decided,
    automation: Automation,
    served: Served,
    predictions: Predictions,
    request_ids: Sequence[str],
) -> list[NewItem]:
    """The review items of a batch's ``decided`` rows; their inputs are the prediction
    log's (see :mod:`~prodml.store.review`)."""

    def item(
        row: int, sure: float | None, reason: Reason, shown: bool, priority: float | None = None
    ) -> NewItem:
        answer = predictions.outputs(row)
        suggestion = {"label": answer.get("label", answer.get("value")), "confidence": sure}
        return NewItem(
            request_id=request_ids[row],
            endpoint=served.endpoint,
            inputs=None,
            reason=reason,
            suggestion=suggestion if shown else None,
            model_version=served.version,
            priority=priority if priority is not None else 0.0 if sure is None else 1.0 - sure,
        )

    return (
        [item(r, c, "low_confidence", automation.suggests) for r, c in decided.deferred]
        + [item(r, c, "audit_sample", False) for r, c in decided.audited]
        + [item(r, None, "fallback", False, priority=1.0) for r in decided.fallback]
    )


#: The answer's header that says who decided each row, and the most rows it lists.
HEADER, HEADER_ROWS = "X-Prodml-Decided-By", 1000


def decided_header(deciders: Sequence[str]) -> dict[str, str]:
    """``X-Prodml-Decided-By``: who decided each row of an answer, comma-separated in row
    order (``model,person,model``), for up to :data:`HEADER_ROWS` rows (longer headers
    break common clients; the answer's body says it for every row in /predict and V2).

    >>> decided_header(["model", "person"])
    {'X-Prodml-Decided-By': 'model,person'}
    """
    return {HEADER: ",".join(deciders)} if 0 < len(deciders) <= HEADER_ROWS else {}
