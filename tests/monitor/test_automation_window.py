"""A window's automation metrics: the shares people and the fallback rule decided, counted
from each logged row's decided_by, and the review queue as the monitor scores a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from prodml.data.schema import infer_schema
from prodml.monitor.window import inputs_frame, known_metric, window_metrics
from prodml.store.monitoring import Logged

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_deferred_and_fallback_shares_count_who_decided_each_row() -> None:
    rng = np.random.default_rng(2)
    decided = rng.choice(["model", "person", "fallback"], 200, p=[0.7, 0.2, 0.1]).tolist()
    rows = [
        Logged(
            i,
            f"r{i}",
            AT + timedelta(seconds=i),
            "m",
            1,
            {"x": float(i)},
            {"label": 1, "probabilities": {"0": 0.3, "1": 0.7}},
            0.7,
            0.001,
            decided_by=who,
        )
        for i, who in enumerate(decided)
    ]
    schema = infer_schema(pd.DataFrame({"x": [0.0, 500.0]}), ["x"])

    found = window_metrics(
        rows,
        inputs_frame(rows, schema),
        schema,
        starts_at=AT,
        ends_at=AT + timedelta(hours=1),
        errors=0,
    )

    assert found["deferred_share"] == pytest.approx(decided.count("person") / 200)
    assert found["fallback_share"] == pytest.approx(decided.count("fallback") / 200)


@pytest.mark.parametrize(
    "name",
    [
        "deferred_share",
        "fallback_share",
        "queue_size",
        "queue_age_p95_seconds",
        "automatic_accuracy",
        "human_agreement",
    ],
)
def test_alert_rules_may_name_each_automation_metric(name: str) -> None:
    assert known_metric(name)
