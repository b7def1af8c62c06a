"""The coverage-against-error curve and the threshold for a target error: counts equal a
direct computation, the bound equals statsmodels' Clopper-Pearson interval, and on the
loans example a threshold chosen on dev keeps the automatic error on test within target."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint  # type: ignore[import-untyped]

import prodml
from prodml.automation.threshold import as_dict, curve, thinned, threshold_for
from prodml.errors import ConfigError, DataError
from prodml.evaluate.html import render_html


@pytest.fixture(scope="module")
def measured(fitted_loans: Path) -> tuple[np.ndarray, ...]:
    """The loans model's top probability and correctness on dev, then on test, computed
    here from the model and the data."""
    with prodml.Project(fitted_loans) as project:
        model, data = project.load_model(), project.load_data()
        split = project.split(data)
        found = []
        for name in ("dev", "test"):
            part = data.rows(split.rows(name))
            confidence = model.predict_proba(part.X).max(axis=1)
            found += [confidence, np.asarray(model.predict(part.X)) == np.asarray(part.y)]
    return tuple(found)


def test_each_point_counts_what_a_mask_over_the_predictions_counts() -> None:
    rng = np.random.default_rng(4)
    confidence = rng.choice(np.linspace(0.5, 1.0, 40), 2_000)  # many ties
    correct = rng.random(2_000) < confidence

    points = curve(confidence, correct)

    assert [p.threshold for p in points] == sorted(set(confidence.tolist()), reverse=True)
    for p in points:
        automatic = confidence >= p.threshold
        assert p.automatic == automatic.sum() and p.total == 2_000
        assert p.errors == (~correct[automatic]).sum()
        assert p.coverage == pytest.approx(automatic.mean())
        assert p.error == pytest.approx(1 - correct[automatic].mean())


@pytest.mark.parametrize(("errors", "n"), [(0, 30), (3, 100), (40, 500), (99, 100)])
def test_the_upper_bound_is_the_clopper_pearson_interval_s_one_sided_95_percent(
    errors: int, n: int
) -> None:
    point = curve([0.9] * n, [False] * errors + [True] * (n - errors))[0]
    _, upper = proportion_confint(errors, n, alpha=0.10, method="beta")  # two-sided 90%
    assert point.upper == pytest.approx(upper, rel=1e-9)


def test_on_loans_a_threshold_chosen_on_dev_keeps_the_test_error_within_the_target(
    measured: tuple[np.ndarray, ...],
) -> None:
    dev_confidence, dev_correct, test_confidence, test_correct = measured
    chosen = threshold_for(curve(dev_confidence, dev_correct), 0.05)

    automatic = test_confidence >= chosen.threshold
    assert chosen.upper <= 0.05 and 0.1 < chosen.coverage < 1.0  # a real trade-off
    assert 1 - test_correct[automatic].mean() <= 0.05
    assert automatic.mean() > 0.1
    lower = [p for p in curve(dev_confidence, dev_correct) if p.threshold < chosen.threshold]
    assert all(p.upper > 0.05 for p in lower)  # the lowest threshold that meets the target


def test_an_unreachable_target_says_the_lowest_reachable_one() -> None:
    points = curve([0.9] * 50 + [0.8] * 50, [True] * 48 + [False] * 2 + [True] * 50)
    lowest = min(p.upper for p in points)
    with pytest.raises(ConfigError, match=f"lowest reachable is {lowest:.4f}"):
        threshold_for(points, 0.01)
    with pytest.raises(ConfigError, match=r"target_error 1\.5 is outside"):
        threshold_for(points, 1.5)


def test_mismatched_or_empty_or_nan_inputs_are_refused() -> None:
    with pytest.raises(DataError, match="3 confidences but 2 outcomes"):
        curve([0.9, 0.8, 0.7], [True, False])
    with pytest.raises(DataError, match="no labelled predictions"):
        curve([], [])
    with pytest.raises(DataError, match="NaN"):
        curve([0.9, float("nan")], [True, True])


def test_the_project_s_curve_is_the_one_computed_from_the_model_on_dev(
    loans: prodml.Project, measured: tuple[np.ndarray, ...]
) -> None:
    kept = loans.automation_curve("loans")  # from the run's calibration artifact
    direct = curve(measured[0], measured[1])
    assert [(p.threshold, p.automatic, p.errors) for p in kept] == [
        (p.threshold, p.automatic, p.errors) for p in direct
    ]


def test_the_evaluation_holds_the_test_split_s_curve_and_its_page_draws_it(
    loans: prodml.Project, measured: tuple[np.ndarray, ...]
) -> None:
    result = loans.evaluate().result

    direct = [as_dict(p) for p in thinned(curve(measured[2], measured[3]))]
    assert result["deferral"] == direct and len(direct) == 20
    page = render_html(result)
    assert 'id="deferral"' in page and f"{direct[9]['threshold']:.3f}" in page
