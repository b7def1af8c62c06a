"""The fallback rule in the place of a model that could not be loaded.

An endpoint whose model never loaded (a missing or tampered artifact, say) answers 503,
unless the server has a ``serve.fallback`` rule: then the rule answers every request, as
it does while a breaker is open (``decided_by`` ``fallback``, a review item a row), and
loading the model is retried until it succeeds. Requests are checked against the
version's input schema (in the registry, not in the artifact), and a classifier's rule
must answer one of the model's classes, which its fit keeps beside the model (the
artifact ``classes``, :func:`prodml.tracking.fit.classes`).
"""

from __future__ import annotations

import copy

import numpy as np

from prodml.errors import NotFoundError
from prodml.model.rules import RuleModel
from prodml.store.runs import Runs


def stand_in(rule: RuleModel, runs: Runs, run_id: str | None, shown: str) -> RuleModel:
    """``rule`` with the classes the fit ``run_id`` kept (of the model ``shown`` as, in an
    error); a NotFoundError when it kept none."""
    try:
        kept = runs.kept(run_id, "classes")
    except NotFoundError:
        raise NotFoundError(
            f"{shown} kept no classes (fitted before prodml kept them), so the fallback "
            "rule cannot answer in its place; refit it and register the fit"
        ) from None
    model = copy.copy(rule)
    if kept["classes"] is not None:
        model.classes_ = np.asarray(kept["classes"])
    return model
