"""retrain.promote: a retrained candidate goes out as a shadow; with ``promote: canary``
the monitor's pass sends it out as a canary once it has answered
``retrain.shadow_requests`` copies, in one deployment change; with ``manual``, and for a
person's shadow, nothing moves on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

import prodml
from prodml.errors import DeploymentError
from prodml.retrain.promotion import ACTOR

if TYPE_CHECKING:
    from tests.retrain.conftest import GiveFeedback, LogRows, ToyData, WriteProject
    from tests.retrain.test_retrain import serve_and_label
else:  # pytest imports the tests of this folder by their file's name (no package)
    from test_retrain import serve_and_label

COPIES = 40


def retrained_shadow(
    folder: Path,
    toy_data: ToyData,
    log_rows: LogRows,
    give_feedback: GiveFeedback,
) -> tuple[prodml.Project, str]:
    """The project in ``folder``, its version 2 retrained into a shadow."""
    project = prodml.Project(folder)
    serve_and_label(project, toy_data, log_rows, give_feedback)
    done = project.retrain()
    assert (done.mode, done.version) == ("shadow", 2)
    return project, f"{project.name}:2"


def copies(project: prodml.Project, toy_data: ToyData, log_rows: LogRows, rows: int) -> None:
    """``rows`` requests answered by the primary, each copied to the shadow, from now on."""
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)  # after the deploy
    sent = toy_data(rows, seed=int(now.timestamp()) % 1000, start=now)
    prefix = f"c{uuid4().hex[:8]}-"
    log_rows(project, sent, prefix=prefix)
    log_rows(project, sent, prefix=prefix, role="shadow", version=2)


@pytest.mark.parametrize("promote", ["canary", "manual"])
def test_a_retrained_shadow_goes_out_as_a_canary_after_its_copies_with_promote_canary(
    promote: str,
    tmp_path: Path,
    database_url: str,
    write_project: WriteProject,
    toy_data: ToyData,
    log_rows: LogRows,
    give_feedback: GiveFeedback,
) -> None:
    retrain = {"promote": promote, "shadow_requests": COPIES}
    folder = write_project(tmp_path / promote, database_url, retrain=retrain)
    project, ref = retrained_shadow(folder, toy_data, log_rows, give_feedback)
    with project:
        copies(project, toy_data, log_rows, COPIES - 10)
        waiting = project.monitor().retrain
        if promote == "manual":
            assert waiting is None
        else:
            assert waiting is not None and waiting.shadow == (
                f"{ref} in shadow: {COPIES - 10} of the {COPIES} copies it answers before "
                "it goes out as a canary (retrain.shadow_requests)"
            )
        assert project.registry.deployment(project.name).candidate.mode == "shadow"  # type: ignore[union-attr]

        copies(project, toy_data, log_rows, 10)
        moved = project.monitor().retrain
        candidate = project.registry.deployment(project.name).candidate
        assert candidate is not None and candidate.version == 2
        if promote == "manual":
            assert moved is None and candidate.mode == "shadow"
            return
        assert moved is not None and moved.shadow is not None
        assert moved.shadow.startswith(f"{ref} answered {COPIES} copies in shadow")
        assert candidate.mode == "canary" and candidate.step_started_at is not None
        last = project.registry.events(project.name)[-1]
        assert (last.action, last.version, last.actor) == ("canary", 2, ACTOR)
        said = f"retrain.promote: canary: {COPIES} copies answered in shadow without an error"
        assert last.reason == said


def test_a_persons_shadow_is_theirs_to_move(
    tmp_path: Path,
    database_url: str,
    write_project: WriteProject,
    toy_data: ToyData,
    log_rows: LogRows,
) -> None:
    retrain = {"promote": "canary", "shadow_requests": 5}
    folder = write_project(tmp_path / "person", database_url, retrain=retrain)
    with prodml.Project(folder) as project:
        for _ in range(2):
            run = project.fit()
            project.evaluate(run.id)
            project.register(run.id)
        project.deployer("ana").deploy(f"{project.name}:2", "shadow")
        copies(project, toy_data, log_rows, 10)
        assert project.monitor().retrain is None
        assert project.registry.deployment(project.name).candidate.mode == "shadow"  # type: ignore[union-attr]


def test_a_shadow_goes_out_as_a_canary_in_one_change_and_no_other_version_may(
    tmp_path: Path,
    database_url: str,
    write_project: WriteProject,
) -> None:
    folder = write_project(tmp_path / "widen", database_url)
    with prodml.Project(folder) as project:
        for _ in range(3):
            run = project.fit()
            project.evaluate(run.id)
            project.register(run.id)
        deployer = project.deployer("ana")
        deployer.deploy(f"{project.name}:2", "shadow")
        revision = project.registry.deployment(project.name).revision
        with pytest.raises(DeploymentError, match="already has a shadow candidate"):
            deployer.deploy(f"{project.name}:3", "canary")
        widened = deployer.deploy(f"{project.name}:2", "canary")
        assert widened.candidate is not None and widened.candidate.mode == "canary"
        assert widened.revision == revision + 1  # one change, not a stop and a deploy
        with pytest.raises(DeploymentError, match="already has a canary candidate"):
            deployer.deploy(f"{project.name}:2", "shadow")
