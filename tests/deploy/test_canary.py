"""The canary runner on a real store: traffic logged as the server logs it, counted per
version over the step, and the decision acted on (rollback with its evidence, advance,
promote, hold, "not proven"), checked against counts made here by hand."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

import numpy as np
import pytest

import prodml
from prodml.config import CanarySettings
from prodml.deploy.canary import check, look
from prodml.errors import DeploymentError
from prodml.serve.prediction_log import PredictionLog
from prodml.store.runs import utc_now

if TYPE_CHECKING:
    from tests.deploy.conftest import LogAnswers


@pytest.fixture
def project(two_versions: Path, tmp_path: Path) -> Iterator[prodml.Project]:
    """A copy whose version 2 is a canary at 10%, then 100%: 60 s and 500 requests a step."""
    with prodml.Project(shutil.copytree(two_versions, tmp_path / "bc")) as opened:
        opened.deployer("ana").deploy(
            "breast-cancer:2", "canary", ramp=[10, 100], step_seconds=60, min_requests=500
        )
        yield opened


def traffic(
    project: prodml.Project,
    log_answers: LogAnswers,
    requests: dict[int, int],
    errors: dict[int, float],
) -> dict[int, int]:
    """Log ``requests[v]`` requests answered by version ``v`` (1 primary, 2 canary), of
    which a share ``errors[v]`` failed with a 500, as the server would; the failures each
    version had."""
    rng = np.random.default_rng(3)
    failed = {}
    log = PredictionLog(project.runs_store.database)
    try:
        for version, count in requests.items():
            bad = int((rng.random(count) < errors[version]).sum())
            latencies = rng.integers(800, 1200, count - bad)
            answers = [(uuid4().hex, 0.3, int(latency)) for latency in latencies]
            log_answers(project, version, "primary" if version == 1 else "canary", answers)
            for _ in range(bad):
                log.write_error("breast-cancer", "native", 500, 0.001, version).result()
            failed[version] = bad
    finally:
        log.close()
    return failed


def test_a_canary_failing_five_times_as_often_is_rolled_back_with_its_evidence(
    project: prodml.Project, log_answers: LogAnswers
) -> None:
    failed = traffic(project, log_answers, {1: 9_000, 2: 1_000}, {1: 0.01, 2: 0.05})

    done = check(project.deployer("canary"), "breast-cancer")

    assert (done.action, done.decision.verdict) == ("rollback", "rollback")
    assert done.deployment.candidate is None and done.deployment.primary == 1
    last = project.registry.events("breast-cancer")[-1]
    assert (last.action, last.version, last.actor) == ("rollback", 2, "canary")
    assert last.reason is not None and last.reason.startswith("rollback: error_rate")
    guard = last.detail["guards"]["error_rate"]  # type: ignore[index]
    assert guard["candidate"] == {"n": 1_000, "events": failed[2]}
    assert guard["primary"] == {"n": 9_000, "events": failed[1]}
    assert guard["statistic"] >= guard["threshold"]
    assert guard["difference"] == pytest.approx(failed[2] / 1_000 - failed[1] / 9_000)


def test_a_harmless_canary_advances_once_the_step_s_time_is_up_then_is_promoted(
    project: prodml.Project, log_answers: LogAnswers
) -> None:
    traffic(project, log_answers, {1: 9_000, 2: 1_000}, {1: 0.01, 2: 0.01})
    deployer = project.deployer("canary")

    early = check(deployer, "breast-cancer")
    later = check(deployer, "breast-cancer", now=utc_now() + timedelta(seconds=61))

    assert (early.decision.verdict, early.action, early.not_proven) == ("advance", "hold", False)
    assert later.action == "advance" and later.deployment.candidate is not None
    assert later.deployment.candidate.share == 100.0
    traffic(project, log_answers, {1: 0, 2: 1_000}, {1: 0.0, 2: 0.01})
    done = check(deployer, "breast-cancer", now=utc_now() + timedelta(seconds=61))
    assert done.action == "promote" and done.deployment.primary == 2
    assert [e.action for e in project.registry.events("breast-cancer")][-2:] == [
        "advance",
        "promote",
    ]


def test_too_few_requests_hold_and_a_step_out_of_time_is_not_proven(
    project: prodml.Project, log_answers: LogAnswers
) -> None:
    failed = traffic(project, log_answers, {1: 900, 2: 100}, {1: 0.01, 2: 0.01})

    now = look(project.registry, "breast-cancer")
    late = check(project.deployer("canary"), "breast-cancer", now=utc_now() + timedelta(seconds=61))

    assert (now.action, now.not_proven) == ("hold", False)
    answered = 100 - failed[2]  # the latency guard counts answered predictions only
    assert f"slow has {answered} canary observations of the 500 needed" in now.decision.reason
    assert (late.action, late.not_proven) == ("hold", True)
    assert project.registry.deployment("breast-cancer").candidate is not None


def test_the_tolerance_lets_a_small_harm_through(
    project: prodml.Project, log_answers: LogAnswers
) -> None:
    traffic(project, log_answers, {1: 9_000, 2: 1_000}, {1: 0.01, 2: 0.05})
    lenient = CanarySettings(error_rate=0.2)

    done = check(project.deployer("canary"), "breast-cancer", lenient)

    assert done.decision.verdict == "advance" and done.action == "hold"


def test_a_canary_whose_answers_shift_is_rolled_back_by_the_output_guard(
    project: prodml.Project, log_answers: LogAnswers
) -> None:
    # the primary answers benign (probability of malignant 0.3) 60% of the time, the
    # canary 40%: the share of the primary's most frequent label moved 20 points
    rng = np.random.default_rng(8)
    shares = {1: (9_000, 0.6), 2: (1_000, 0.4)}
    benign = {}
    for version, (count, share) in shares.items():
        chosen = rng.random(count) < share
        answers = [(uuid4().hex, 0.3 if b else 0.7, 1000) for b in chosen]
        log_answers(project, version, "primary" if version == 1 else "canary", answers)
        benign[version] = int(chosen.sum())

    done = check(project.deployer("canary"), "breast-cancer")

    assert done.action == "rollback"
    assert done.decision.reason.startswith("rollback: output")
    guard = project.registry.events("breast-cancer")[-1].detail["guards"]["output"]  # type: ignore[index]
    assert guard["candidate"] == {"n": 1_000, "events": benign[2]}
    assert guard["primary"] == {"n": 9_000, "events": benign[1]}
    assert guard["difference"] == pytest.approx(benign[2] / 1_000 - benign[1] / 9_000)
    assert guard["interval"][1] < -guard["tolerance"]


def test_checking_an_endpoint_without_a_canary_says_so(project: prodml.Project) -> None:
    project.deployer("ana").stop("breast-cancer")
    with pytest.raises(DeploymentError, match="endpoint breast-cancer has no canary to check"):
        check(project.deployer("canary"), "breast-cancer")
