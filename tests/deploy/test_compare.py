"""A candidate beside its primary: a shadow on the same requests (agreement and its
interval, confusion, McNemar's test on feedback, agreement by slice, |difference| for a
regressor) and a canary over the same period since it began (each side's answers,
accuracy, errors and latency), every number checked against counts made here, scipy and
statsmodels."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import update
from statsmodels.stats.proportion import (  # type: ignore[import-untyped]
    confint_proportions_2indep,
)

import prodml
from prodml.deploy.compare import compare
from prodml.deploy.intervals import newcombe
from prodml.errors import DeploymentError
from prodml.serve.prediction_log import PredictionLog
from prodml.store.log_format import encode_inputs, encode_value
from prodml.store.runs import utc_now
from prodml.store.tables import PredictionRow

if TYPE_CHECKING:
    from tests.deploy.conftest import LogAnswers


CLASSES = ["benign", "malignant"]  # the order the log stores probabilities in
RADIUS = "mean_radius"  # the logged input the slices here cut by


@pytest.fixture
def bare(two_versions: Path, tmp_path: Path) -> Iterator[prodml.Project]:
    """A copy of the project with two versions: 1 the primary, 2 nowhere yet."""
    with prodml.Project(shutil.copytree(two_versions, tmp_path / "bc")) as opened:
        yield opened


@pytest.fixture
def project(bare: prodml.Project) -> prodml.Project:
    """A copy whose version 2 is a shadow of version 1."""
    bare.deployer("ana").deploy("breast-cancer:2", "shadow")
    return bare


def shadowed(
    project: prodml.Project, log_answers: LogAnswers, first: list[int], second: list[int]
) -> list[str]:
    """Log one request per pair: version 1 answers class ``first[i]`` as the primary, and
    version 2 ``second[i]`` as the shadow, under the same request id; the ids."""
    ids = [uuid4().hex for _ in first]
    for version, role, answers in ((1, "primary", first), (2, "shadow", second)):
        logged = [(rid, float(a), 1000 + a) for rid, a in zip(ids, answers, strict=True)]
        log_answers(project, version, role, logged)
    return ids


def rewrite(
    project: prodml.Project, column: str, blobs: Mapping[str, bytes], role: str | None = None
) -> None:
    """Set ``column`` (inputs or outputs) of the logged answers of each request id (only
    of those logged as ``role``, when given)."""
    streams = project.monitoring.streams("breast-cancer")
    chosen = [i for i, s in streams.items() if role in (None, s.role)]
    with project.runs_store.database.session() as session:
        for rid, blob in blobs.items():
            where = (PredictionRow.request_id == rid) & PredictionRow.stream_id.in_(chosen)
            session.execute(update(PredictionRow).where(where).values({column: blob}))


def radii(project: prodml.Project, request_ids: Sequence[str], values: Sequence[float]) -> None:
    """Give each request's logged inputs ``RADIUS`` = its value (the other inputs 1.0)."""
    (stream, *_) = project.monitoring.streams("breast-cancer").values()
    rows = [[v if c == RADIUS else 1.0 for c in stream.columns] for v in values]
    rewrite(
        project, "inputs", {r: encode_inputs(x) for r, x in zip(request_ids, rows, strict=True)}
    )


def test_a_shadow_s_agreement_confusion_and_mcnemar_match_counts_made_by_hand(
    project: prodml.Project, log_answers: LogAnswers
) -> None:
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 2, 600)
    first = np.where(rng.random(600) < 0.9, truth, 1 - truth)  # 90% right
    second = np.where(rng.random(600) < 0.8, truth, 1 - truth)  # 80% right
    ids = shadowed(project, log_answers, first.tolist(), second.tolist())
    labelled = 400
    project.monitoring.add_feedback(
        [(rid, CLASSES[t]) for rid, t in zip(ids[:labelled], truth[:labelled], strict=True)], "test"
    )

    found = compare(project.registry, "breast-cancer")

    same = int((first == second).sum())
    assert (found.kind, found.primary.version, found.candidate.version) == ("shadow", 1, 2)
    assert (found.pairs, found.primary.role, found.candidate.role) == (600, "primary", "shadow")
    assert found.agreement == pytest.approx(same / 600)
    reference = stats.binomtest(same, 600).proportion_ci(0.95, method="wilson")
    assert found.interval == pytest.approx((reference.low, reference.high))
    for x in (0, 1):
        for y in (0, 1):
            expected = int(((first == x) & (second == y)).sum())
            assert found.confusion.get(CLASSES[x], {}).get(CLASSES[y], 0) == expected
    t, a, b = truth[:labelled], first[:labelled], second[:labelled]
    only_primary, only_shadow = int(((a == t) & (b != t)).sum()), int(((b == t) & (a != t)).sum())
    assert found.primary.labelled == found.candidate.labelled == labelled
    assert found.primary.accuracy == pytest.approx((a == t).mean())
    assert found.candidate.accuracy == pytest.approx((b == t).mean())
    assert found.deltas["accuracy"] == pytest.approx((b == t).mean() - (a == t).mean())
    n = only_primary + only_shadow
    exact = min(1.0, 2 * stats.binom.cdf(min(only_primary, only_shadow), n, 0.5))
    assert found.mcnemar == {
        "only_primary": only_primary,
        "only_shadow": only_shadow,
        "p": pytest.approx(exact),
    }
    assert found.mcnemar["p"] < 0.01  # ten points apart on 400 labels: a real difference
    assert found.candidate.latency_ms["p95"] == pytest.approx(
        np.percentile((1000 + second) / 1000, 95)
    )
    assert found.deltas["latency_p50_ms"] == pytest.approx(
        np.percentile((1000 + second) / 1000, 50) - np.percentile((1000 + first) / 1000, 50)
    )
    assert found.primary.predicted == {CLASSES[k]: int((first == k).sum()) for k in (0, 1)}
    assert found.candidate.errors == 0 and found.accuracy_interval is None


def test_a_shadow_s_failed_copies_are_its_error_rate_and_not_the_endpoint_s(
    project: prodml.Project, log_answers: LogAnswers
) -> None:
    shadowed(project, log_answers, [0] * 40, [1] * 40)
    log = PredictionLog(project.runs_store.database)
    try:  # as the server records a shadow's failure: protocol shadow, its version
        for _ in range(10):
            log.write_error("breast-cancer", "shadow", 500, 0.001, 2).result()
        log.write_error("breast-cancer", "native", 500, 0.001, 1).result()
    finally:
        log.close()

    found = compare(project.registry, "breast-cancer")

    assert (found.candidate.errors, found.primary.errors) == (10, 1)
    assert found.candidate.error_rate == pytest.approx(10 / (10 + 40))
    assert found.primary.error_rate == pytest.approx(1 / (1 + 40))
    a_day = timedelta(days=1)
    counted = project.monitoring.errors("breast-cancer", utc_now() - a_day, utc_now() + a_day)
    assert counted == 1  # the monitor's error rate is what clients saw


def test_a_shadow_s_output_drift_is_scipy_s_chi_square_and_ks(
    project: prodml.Project, log_answers: LogAnswers
) -> None:
    rng = np.random.default_rng(5)
    p, q = rng.beta(2, 5, 300), rng.beta(3, 3, 300)
    ids = [uuid4().hex for _ in p]
    log_answers(project, 1, "primary", [(r, float(x), 900) for r, x in zip(ids, p, strict=True)])
    log_answers(project, 2, "shadow", [(r, float(x), 900) for r, x in zip(ids, q, strict=True)])

    drift = compare(project.registry, "breast-cancer").drift

    # classes as the log answers them: malignant when its probability is the highest
    counts = [np.bincount((side > 0.5).astype(int), minlength=2) for side in (p, q)]
    chi = stats.chi2_contingency(counts, correction=False)  # two samples
    predicted = drift["(predicted)"]
    assert predicted["method"] == "chisquare"
    assert predicted["score"] == pytest.approx(chi.statistic)
    assert predicted["p_value"] == pytest.approx(chi.pvalue)
    assert predicted["drifted"] == (chi.pvalue < 0.05)
    ks = stats.ks_2samp(np.maximum(p, 1 - p), np.maximum(q, 1 - q))
    sure = drift["(confidence)"]
    assert (sure["method"], sure["drifted"]) == ("ks", bool(ks.pvalue < 0.05))
    assert (sure["score"], sure["p_value"]) == (
        pytest.approx(ks.statistic),
        pytest.approx(ks.pvalue),
    )


def test_a_shadow_s_agreement_by_slice_counts_its_pairs_and_says_insufficient_under_the_minimum(
    project: prodml.Project, log_answers: LogAnswers
) -> None:
    rng = np.random.default_rng(7)
    first, second = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    ids = shadowed(project, log_answers, first.tolist(), second.tolist())
    radius = rng.choice([10.0, 20.0, 30.0], 200, p=[0.5, 0.42, 0.08])
    radii(project, ids, radius.tolist())
    truth = rng.integers(0, 2, 200)
    project.monitoring.add_feedback([(r, CLASSES[t]) for r, t in zip(ids, truth, strict=True)], "t")

    found = compare(project.registry, "breast-cancer", slices=[RADIUS, "gender"], min_count=30)

    assert [s.name for s in found.slices] == [f"{RADIUS}={v}" for v in (10.0, 20.0, 30.0)]
    for s, value in zip(found.slices, (10.0, 20.0, 30.0), strict=True):
        inside = radius == value
        pairs, agreeing = int(inside.sum()), int((inside & (first == second)).sum())
        assert s.family == RADIUS and s.rows == {"primary": pairs, "candidate": pairs}
        assert s.agreement == pytest.approx(agreeing / pairs)
        reference = stats.binomtest(agreeing, pairs).proportion_ci(0.95, method="wilson")
        assert s.interval == pytest.approx((reference.low, reference.high))
        assert s.labelled == {"primary": pairs, "candidate": pairs}
        for side, answers in (("primary", first), ("candidate", second)):
            assert s.accuracy[side] == pytest.approx((answers == truth)[inside].mean())
        assert s.sufficient == (pairs >= 30)
    assert [s.sufficient for s in found.slices] == [True, True, False]
    (reason,) = found.unsliced  # gender is metadata: never given to the model, never logged
    assert "'gender' is not a column" in reason and RADIUS in reason


def test_a_regressor_shadow_gives_quantiles_of_the_difference_and_ks_on_the_values(
    project: prodml.Project, log_answers: LogAnswers
) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(50, 10, 400)
    b = a + rng.normal(1, 2, 400)
    ids = shadowed(project, log_answers, [0] * 400, [0] * 400)
    for role, values in (("primary", a), ("shadow", b)):
        blobs = {r: encode_value(float(v)) for r, v in zip(ids, values, strict=True)}
        rewrite(project, "outputs", blobs, role)

    found = compare(project.registry, "breast-cancer")

    gaps = np.abs(a - b)
    assert found.pairs == 400 and found.agreement is None and found.confusion == {}
    assert found.difference == pytest.approx(
        {"p50": np.percentile(gaps, 50), "p90": np.percentile(gaps, 90),
         "p99": np.percentile(gaps, 99), "max": gaps.max()}
    )  # fmt: skip
    ks = stats.ks_2samp(a, b)
    assert found.drift["(predicted)"]["method"] == "ks"
    assert found.drift["(predicted)"]["score"] == pytest.approx(ks.statistic)
    assert found.drift["(predicted)"]["p_value"] == pytest.approx(ks.pvalue)


def test_a_canary_is_compared_on_the_rows_logged_since_it_began(
    bare: prodml.Project, log_answers: LogAnswers
) -> None:
    rng = np.random.default_rng(23)
    log = PredictionLog(bare.runs_store.database)
    before = [(uuid4().hex, 0.9, 5_000) for _ in range(50)]  # before the canary: left out
    log_answers(bare, 1, "primary", before)
    for _ in range(4):
        log.write_error("breast-cancer", "native", 500, 0.01, 1).result()
    bare.deployer("ana").deploy("breast-cancer:2", "canary")
    sides = {1: rng.beta(2, 2, 300), 2: rng.beta(2, 3, 200)}  # P(malignant) of each answer
    latency = {1: rng.integers(800, 1500, 300), 2: rng.integers(900, 2500, 200)}
    ids = {v: [uuid4().hex for _ in p] for v, p in sides.items()}
    for version, role in ((1, "primary"), (2, "canary")):
        answers = zip(ids[version], sides[version], latency[version], strict=True)
        log_answers(bare, version, role, [(r, float(p), int(us)) for r, p, us in answers])
    for version, status, count in ((1, 500, 3), (1, 404, 2), (2, 503, 5)):
        for _ in range(count):
            log.write_error("breast-cancer", "native", status, 0.01, version).result()
    log.close()
    truth = {v: rng.integers(0, 2, len(p)) for v, p in sides.items()}
    labelled = {1: 250, 2: 120}
    bare.monitoring.add_feedback(
        [(r, "benign") for r, *_ in before]
        + [
            (rid, CLASSES[t])
            for v in (1, 2)
            for rid, t in zip(ids[v][: labelled[v]], truth[v], strict=False)
        ],
        "test",
    )
    radius = {v: rng.choice([10.0, 20.0], len(p), p=[0.7, 0.3]) for v, p in sides.items()}
    radii(bare, ids[1] + ids[2], [*radius[1], *radius[2]])

    found = compare(bare.registry, "breast-cancer", slices=[RADIUS], min_count=40)

    assert (found.kind, found.pairs, found.agreement, found.confusion) == ("canary", 0, None, {})
    assert (found.primary.answers, found.candidate.answers) == (300, 200)
    assert found.since == bare.registry.events("breast-cancer")[-1].at and found.until is None
    predicted = {v: (p > 0.5).astype(int) for v, p in sides.items()}
    right = {v: (predicted[v] == truth[v])[: labelled[v]] for v in (1, 2)}
    for version, arm in ((1, found.primary), (2, found.candidate)):
        k, n = int(right[version].sum()), labelled[version]
        assert (arm.version, arm.labelled) == (version, n)
        assert arm.accuracy == pytest.approx(k / n)
        reference = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert arm.interval == pytest.approx((reference.low, reference.high))
        classes = np.bincount(predicted[version], minlength=2)
        assert arm.predicted == {CLASSES[c]: int(classes[c]) for c in (0, 1) if classes[c]}
        assert arm.latency_ms["p95"] == pytest.approx(np.percentile(latency[version] / 1000, 95))
    assert (found.primary.errors, found.candidate.errors) == (3, 5)  # only 5xx, only since
    rates = (3 / (300 + 3), 5 / (200 + 5))
    assert (found.primary.error_rate, found.candidate.error_rate) == pytest.approx(rates)
    assert found.deltas["error_rate"] == pytest.approx(rates[1] - rates[0])
    counts = [(int(right[v].sum()), labelled[v]) for v in (2, 1)]
    low, high = confint_proportions_2indep(*counts[0], *counts[1], method="newcomb")
    assert found.accuracy_interval == pytest.approx((low, high))
    for s, value in zip(found.slices, (10.0, 20.0), strict=True):
        inside = {v: radius[v] == value for v in (1, 2)}
        assert s.rows == {"primary": int(inside[1].sum()), "candidate": int(inside[2].sum())}
        marked = {v: inside[v][: labelled[v]] for v in (1, 2)}
        assert s.labelled == {"primary": int(marked[1].sum()), "candidate": int(marked[2].sum())}
        assert s.accuracy["candidate"] == pytest.approx(right[2][marked[2]].mean())
        assert s.sufficient == (min(s.labelled.values()) >= 40)
        assert s.agreement is None


def test_after_a_trial_ends_the_last_one_is_compared_and_never_one_is_an_error(
    project: prodml.Project, bare: prodml.Project, log_answers: LogAnswers
) -> None:
    shadowed(project, log_answers, [0, 1, 1, 0], [0, 1, 0, 0])
    project.deployer("ana").stop("breast-cancer")
    shadowed(project, log_answers, [1], [1])  # logged after the stop: not in the trial

    past = compare(project.registry, "breast-cancer")
    by_version = compare(project.registry, "breast-cancer", 2)

    assert (past.kind, past.pairs, past.agreement) == ("shadow", 4, 0.75)
    assert past.until == project.registry.events("breast-cancer")[-1].at
    assert by_version == past
    with pytest.raises(DeploymentError, match="never had breast-cancer:1 beside it"):
        compare(project.registry, "breast-cancer", 1)


def test_an_endpoint_that_never_had_a_shadow_or_canary_says_so(bare: prodml.Project) -> None:
    with pytest.raises(
        DeploymentError,
        match="endpoint breast-cancer has never had a shadow or canary, so there is nothing to "
        "compare; deploy one with prodml deploy breast-cancer:VERSION --shadow",
    ):
        compare(bare.registry, "breast-cancer")


@pytest.mark.parametrize(
    ("k1", "n1", "k2", "n2"), [(90, 100, 80, 100), (5, 40, 30, 50), (0, 10, 10, 10)]
)
def test_newcombe_s_interval_is_statsmodels(k1: int, n1: int, k2: int, n2: int) -> None:
    expected = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    assert newcombe(k1, n1, k2, n2) == pytest.approx(expected)
