"""The first check the field recommends: can the model overfit a small subset?

If a model cannot even memorise a few dozen training examples, something is wrong with
the features, the labels or the model's capacity, and fitting on all the data will not
fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from prodml.config import ModelSpec
from prodml.data.dataset import Dataset
from prodml.data.split import Split
from prodml.evaluate.metrics import metrics
from prodml.store.runs import Run
from prodml.tracking.fit import fit, parameters
from prodml.tracking.resources import measure
from prodml.tracking.workspace import Workspace

#: Training score on the subset that counts as "overfits": accuracy or R².
PASS_SCORE = 0.99


@dataclass(frozen=True)
class SanityResult:
    """The outcome of a sanity check, with the run that recorded it."""

    run: Run
    rows: int
    metric: str
    score: float
    passed: bool

    @property
    def message(self) -> str:
        shown = f"{self.score:.1%}" if self.metric == "accuracy" else f"{self.score:.3f}"
        if self.passed:
            return (
                f"The model fits the {self.rows} training examples it saw to {self.metric} "
                f"{shown}: it can learn from these features. Next: prodml fit"
            )
        return (
            f"The model reaches only {self.metric} {shown} on the {self.rows} examples it "
            f"was trained on (wanted {PASS_SCORE:.0%}): it cannot even memorise a small "
            "subset. Check that the labels are right and the features carry signal, or "
            "give the model more capacity (weaker regularisation, smaller min_samples_leaf) "
            "before fitting on everything"
        )


def sanity_check(
    workspace: Workspace, model: Any, spec: ModelSpec, data: Dataset, split: Split, rows: int
) -> SanityResult:
    """Fit ``model`` on ``rows`` training examples and score it on those same examples."""
    train = split.rows("train")
    chosen = np.random.default_rng(0).choice(train, size=min(rows, len(train)), replace=False)
    subset = data.rows(np.sort(chosen))
    metric = "accuracy" if data.task == "classification" else "r2"
    with workspace.tracked("sanity", data, spec) as run_id:
        workspace.runs.record(run_id, params=parameters(model))
        with measure() as usage:
            fit(model, subset)
        score = metrics(data.task, subset.y, model.predict(subset.X), data.labels)[metric]
        run = workspace.runs.finish(
            run_id,
            metrics={f"subset.{metric}": score, "subset.rows": float(len(subset.y))},
            fit_seconds=usage.wall_seconds,
            cpu_seconds=usage.cpu_seconds,
            peak_memory_bytes=usage.peak_memory_bytes,
        )
    return SanityResult(run, len(subset.y), metric, score, score >= PASS_SCORE)
