"""A primary and its shadow on the same requests: agreement and its interval, confusion,
accuracy and McNemar's test on feedback, checked against counts made here and scipy."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

import prodml
from prodml.cli import app
from prodml.deploy.compare import compare, wilson
from prodml.errors import DeploymentError

if TYPE_CHECKING:
    from tests.deploy.conftest import LogAnswers


CLASSES = ["benign", "malignant"]  # the order the log stores probabilities in


@pytest.fixture
def project(two_versions: Path, tmp_path: Path) -> Iterator[prodml.Project]:
    """A copy whose version 2 is a shadow of version 1."""
    with prodml.Project(shutil.copytree(two_versions, tmp_path / "bc")) as opened:
        opened.deployer("ana").deploy("breast-cancer:2", "shadow")
        yield opened


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


def test_agreement_confusion_and_mcnemar_match_counts_made_by_hand(
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
    assert (found.primary, found.candidate, found.pairs) == (1, 2, 600)
    assert found.agreement == pytest.approx(same / 600)
    reference = stats.binomtest(same, 600).proportion_ci(0.95, method="wilson")
    assert found.interval == pytest.approx((reference.low, reference.high))
    for x in (0, 1):
        for y in (0, 1):
            expected = int(((first == x) & (second == y)).sum())
            assert found.confusion.get(CLASSES[x], {}).get(CLASSES[y], 0) == expected
    t, a, b = truth[:labelled], first[:labelled], second[:labelled]
    only_primary, only_shadow = int(((a == t) & (b != t)).sum()), int(((b == t) & (a != t)).sum())
    assert found.labelled == labelled
    assert found.accuracy == pytest.approx({"primary": (a == t).mean(), "shadow": (b == t).mean()})
    n = only_primary + only_shadow
    exact = min(1.0, 2 * stats.binom.cdf(min(only_primary, only_shadow), n, 0.5))
    assert (
        found.mcnemar["only_primary"] == only_primary
        and found.mcnemar["only_shadow"] == only_shadow
    )
    assert found.mcnemar["p"] == pytest.approx(exact)
    assert found.mcnemar["p"] < 0.01  # ten points apart on 400 labels: a real difference
    assert found.latency_ms["shadow"]["p95"] == pytest.approx(
        np.percentile((1000 + second) / 1000, 95)
    )


def test_the_command_line_shows_it_and_a_name_without_a_shadow_is_one_line(
    project: prodml.Project, log_answers: LogAnswers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRODML_DATABASE_URL", raising=False)
    shadowed(project, log_answers, [0, 1, 1, 0], [0, 1, 0, 0])
    runner = CliRunner()

    shown = runner.invoke(
        app, ["deployments", "breast-cancer", "--compare", "-C", str(project.path)]
    )
    printed = runner.invoke(
        app, ["deployments", "breast-cancer", "--compare", "--json", "-C", str(project.path)]
    )

    assert shown.exit_code == 0, shown.output
    assert "They agree on 75.0%" in " ".join(shown.stdout.split())
    assert json.loads(printed.stdout)["agreement"] == 0.75
    project.deployer("ana").stop("breast-cancer")
    with pytest.raises(DeploymentError, match="endpoint breast-cancer has no shadow to compare"):
        compare(project.registry, "breast-cancer")
    assert compare(project.registry, "breast-cancer", 2).pairs == 4  # a past shadow, by version


def test_wilson_interval_is_scipy_s() -> None:
    for k, n in ((0, 10), (3, 10), (95, 100), (500, 1000)):
        reference = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert wilson(k, n) == pytest.approx((reference.low, reference.high))
