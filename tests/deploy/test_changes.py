"""`Deployer`: shadow, canary and blue-green candidates, promote, rollback, stop, the ramp,
the audit gate, the errors users see, and a change killed half way.

The PostgreSQL database is shared by the session, so every model name carries a uuid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from prodml.deploy.changes import Deployer
from prodml.errors import ConfigError, DeploymentError, GateError, NotFoundError
from prodml.registry import Registry
from prodml.store.evaluations import Evaluations
from prodml.store.runs import Run, Runs


def fitted(runs: Runs, passed: bool | None = True) -> Run:
    """A finished fit with a model, evaluated by an audit that ``passed`` (None: never)."""
    run_id = runs.start("deploy-tests", "fit")
    run = runs.finish(run_id, artifacts=(runs.artifacts.save(run_id, "model", {"w": 1}),))
    if passed is not None:
        rules = [
            {"rule": "recall >= 0.9", "value": 0.8, "passed": passed, "reason": "recall is 0.8"}
        ]
        Evaluations(runs.database).record(
            run.id,
            run.project,
            data={},
            result={"audit": {"passed": passed, "rules": rules}},
            passed=passed,
        )
    return run


def versions(registry: Registry, runs: Runs, name: str, *passed: bool | None) -> None:
    """Register one version of ``name`` per entry, its audit as given; 1 opens the endpoint."""
    for verdict in passed:
        registry.register(fitted(runs, verdict), name)


def history(registry: Registry, name: str) -> list[tuple[str, int | None, int | None]]:
    """The endpoint's changes (its versions' registrations left out)."""
    return [(e.action, e.version, e.revision) for e in registry.events(name) if e.revision]


def test_a_canary_starts_at_its_ramp_s_first_share_and_records_who_and_why(
    registry: Registry, runs: Runs, name: str
) -> None:
    versions(registry, runs, name, True, True)

    deployment = Deployer(registry, actor="ana").deploy(
        f"{name}:2",
        "canary",
        ramp=[10, 50, 100],
        step_seconds=60,
        min_requests=200,
        reason="a better fit",
    )

    candidate = deployment.candidate
    assert candidate is not None
    assert (candidate.version, candidate.mode, candidate.share, candidate.ramp_step) == (
        2,
        "canary",
        10.0,
        0,
    )
    assert candidate.plan == {"ramp": [10.0, 50.0, 100.0], "step_seconds": 60, "min_requests": 200}
    assert (deployment.primary, deployment.revision) == (1, 2)
    assert registry.deployment(name) == deployment
    last = registry.events(name)[-1]
    assert (last.action, last.version, last.revision) == ("canary", 2, 2)
    assert (last.actor, last.reason) == ("ana", "a better fit")
    assert last.detail is not None and last.detail["audit"] == "passed"


def test_promote_then_rollback_bring_back_the_primary_in_one_revision_each(
    registry: Registry, runs: Runs, name: str
) -> None:
    versions(registry, runs, name, True, True)
    deployer = Deployer(registry, actor="ana")
    deployer.deploy(f"{name}:2", "blue-green")

    promoted = deployer.promote(name, reason="checked")
    rolled = deployer.rollback(name, reason="p99 too high")

    assert (promoted.primary, promoted.previous, promoted.candidate) == (2, 1, None)
    assert (rolled.primary, rolled.previous, rolled.candidate) == (1, None, None)
    assert history(registry, name) == [
        ("primary", 1, 1),
        ("blue-green", 2, 2),
        ("promote", 2, 3),
        ("rollback", 1, 4),
    ]
    with pytest.raises(DeploymentError, match=rf"endpoint {name} has no previous primary"):
        deployer.rollback(name)


def test_a_shadow_sees_its_sample_and_blue_green_takes_no_traffic(
    registry: Registry, runs: Runs, name: str
) -> None:
    versions(registry, runs, name, True, True)
    deployer = Deployer(registry)

    shadow = deployer.deploy(f"{name}:2", "shadow", sample=0.25).candidate
    deployer.stop(name)
    blue_green = deployer.deploy(f"{name}:2", "blue-green").candidate

    assert shadow is not None and (shadow.mode, shadow.share, shadow.plan) == (
        "shadow",
        25.0,
        {"sample": 0.25},
    )
    assert blue_green is not None and (blue_green.share, blue_green.ramp_step) == (0.0, None)
    assert [a for a, _, _ in history(registry, name)] == ["primary", "shadow", "stop", "blue-green"]


def test_a_canary_advances_along_its_ramp_and_past_the_last_step_is_promoted(
    registry: Registry, runs: Runs, name: str
) -> None:
    versions(registry, runs, name, True, True)
    deployer = Deployer(registry, actor="canary-runner")
    deployer.deploy(f"{name}:2", "canary", ramp=[5, 50, 100])
    evidence = {"error_rate": {"n": [900, 100], "statistic": 0.4, "threshold": 20.0}}

    shares = []
    for _ in range(2):
        candidate = deployer.advance(name, evidence).candidate
        assert candidate is not None
        shares.append((candidate.share, candidate.ramp_step))
    done = deployer.advance(name, evidence)

    assert shares == [(50.0, 1), (100.0, 2)]
    assert (done.primary, done.previous, done.candidate) == (2, 1, None)
    last = registry.events(name)[-1]
    assert (last.action, last.detail) == ("promote", evidence)
    with pytest.raises(DeploymentError, match=rf"endpoint {name} has no canary to advance"):
        deployer.advance(name, evidence)


def test_rollback_of_a_canary_drops_it_and_keeps_the_primary(
    registry: Registry, runs: Runs, name: str
) -> None:
    versions(registry, runs, name, True, True)
    deployer = Deployer(registry)
    deployer.deploy(f"{name}:2", "canary")

    rolled = deployer.rollback(name, evidence={"error_rate": {"statistic": 41.0}})

    assert (rolled.primary, rolled.candidate, rolled.previous) == (1, None, None)
    last = registry.events(name)[-1]
    assert (last.action, last.version, last.detail) == (
        "rollback",
        2,
        {"error_rate": {"statistic": 41.0}},
    )


@pytest.mark.parametrize(
    ("passed", "says"),
    [
        (False, r"failed its audit in evaluation \w+ \(recall >= 0.9: recall is 0.8\); fix"),
        (None, r"was never evaluated \(run \w+\); evaluate it \(`prodml evaluate \w{8}`\)"),
    ],
    ids=["audit-failed", "never-evaluated"],
)
def test_the_gate_refuses_a_version_that_did_not_pass_its_audit_unless_forced_with_a_reason(
    registry: Registry, runs: Runs, name: str, passed: bool | None, says: str
) -> None:
    versions(registry, runs, name, True, passed)
    deployer = Deployer(registry, actor="ana")

    with pytest.raises(GateError, match=rf"^cannot deploy {name}:2 {says}.*--force --reason"):
        deployer.deploy(f"{name}:2", "canary")
    with pytest.raises(ConfigError, match=r"--force lets .* only with a reason; add --reason"):
        deployer.deploy(f"{name}:2", "canary", force=True)
    assert registry.deployment(name).candidate is None

    forced = deployer.deploy(f"{name}:2", "blue-green", force=True, reason="hotfix")
    with pytest.raises(GateError, match=rf"^cannot promote {name}:2"):
        deployer.promote(name)
    deployer.promote(name, force=True, reason="hotfix")

    assert forced.candidate is not None
    change = registry.events(name)[-2]
    assert (change.action, change.reason) == ("blue-green", "hotfix")
    assert change.detail is not None and change.detail["forced"].startswith(f"{name}:2 ")


def test_a_first_version_refused_by_the_gate_is_deployed_as_the_primary_when_forced(
    registry: Registry, runs: Runs, name: str
) -> None:
    versions(registry, runs, name, False)
    assert registry.deployments(name) == []

    opened = Deployer(registry, actor="ana").deploy(f"{name}:1", force=True, reason="demo")

    assert (opened.primary, opened.revision, opened.candidate) == (1, 1, None)
    assert history(registry, name) == [("primary", 1, 1)]
    assert registry.events(name)[-1].reason == "demo"


def test_each_mistake_is_one_line_naming_the_value_and_changes_nothing(
    registry: Registry, runs: Runs, name: str
) -> None:
    versions(registry, runs, name, True, True, True)
    deployer = Deployer(registry)
    mistakes: list[tuple[type[Exception], str, object]] = [
        (
            NotFoundError,
            rf"model {name} has no version 9; its versions are: 1, 2, 3",
            lambda: deployer.deploy(f"{name}:9", "canary"),
        ),
        (
            ConfigError,
            r"names no version; give name:VERSION",
            lambda: deployer.deploy(name, "canary"),
        ),
        (
            ConfigError,
            r"--ramp 5,1,100 must increase and end at 100",
            lambda: deployer.deploy(f"{name}:2", "canary", ramp=[5, 1, 100]),
        ),
        (
            ConfigError,
            r"--ramp 5,50 must increase and end at 100",
            lambda: deployer.deploy(f"{name}:2", "canary", ramp=[5, 50]),
        ),
        (
            ConfigError,
            r"--ramp 0,100 has a share outside 0-100",
            lambda: deployer.deploy(f"{name}:2", "canary", ramp=[0, 100]),
        ),
        (
            ConfigError,
            r"--ramp 5,150 has a share outside 0-100",
            lambda: deployer.deploy(f"{name}:2", "canary", ramp=[5, 150]),
        ),
        (
            ConfigError,
            r"--sample 1.5 is outside \(0, 1\]",
            lambda: deployer.deploy(f"{name}:2", "shadow", sample=1.5),
        ),
        (
            ConfigError,
            r"deployment mode 'dark' is not one of: shadow, canary, blue-green",
            lambda: deployer.deploy(f"{name}:2", "dark"),  # type: ignore[arg-type]
        ),
        (
            DeploymentError,
            rf"serves {name}:1; put {name}:2 beside it with --shadow",
            lambda: deployer.deploy(f"{name}:2"),
        ),
        (
            DeploymentError,
            rf"{name}:1 is already the primary of endpoint {name}",
            lambda: deployer.deploy(f"{name}:1", "canary"),
        ),
        (
            DeploymentError,
            rf"endpoint {name} has no candidate to promote",
            lambda: deployer.promote(name),
        ),
        (
            DeploymentError,
            rf"endpoint {name} has no candidate to stop",
            lambda: deployer.stop(name),
        ),
        (
            NotFoundError,
            rf"no endpoint '{name}x'.*did you mean '{name}'\?",
            lambda: deployer.promote(f"{name}x"),
        ),
    ]
    for kind, message, change in mistakes:
        with pytest.raises(kind, match=message) as raised:
            change()  # type: ignore[operator]
        assert "\n" not in str(raised.value)
    deployer.deploy(f"{name}:2", "shadow")
    with pytest.raises(DeploymentError, match=rf"already has a shadow candidate, {name}:2;"):
        deployer.deploy(f"{name}:3", "canary")
    assert [a for a, _, _ in history(registry, name)] == ["primary", "shadow"]


def test_a_change_on_a_name_with_no_endpoint_says_to_deploy_the_primary_first(
    registry: Registry, runs: Runs, name: str
) -> None:
    versions(registry, runs, name, None)

    with pytest.raises(
        DeploymentError, match=rf"deploy it as the primary first: prodml deploy {name}:1"
    ):
        Deployer(registry).deploy(f"{name}:1", "canary", force=True, reason="x")


CHANGER = """
import sys
from prodml.deploy.changes import Deployer
from prodml.registry import Registry
from prodml.store.artifacts import ArtifactStore
from prodml.store.database import Database
from prodml.store.runs import Runs
url, artifacts, name = sys.argv[1:4]
deployer = Deployer(Registry(Runs(Database(url), ArtifactStore(artifacts))), actor="loop")
print("ready", flush=True)
while True:
    deployer.deploy(f"{name}:2", "canary", ramp=[50, 100])
    deployer.advance(name, {"n": 1})
    deployer.advance(name, {"n": 2})
    deployer.rollback(name)
"""


def test_a_change_killed_half_way_leaves_the_old_state_or_the_new_one(
    registry: Registry, runs: Runs, name: str, database_url: str
) -> None:
    """``kill -9`` of a process changing a deployment as fast as it can, five times: each
    time the endpoint's row agrees with its newest event, as one of the states the loop
    goes through (canary at 50%, at 100%, promoted, rolled back)."""
    versions(registry, runs, name, True, True)
    expected = {
        "canary": (1, 2, 50.0, None),
        "advance": (1, 2, 100.0, None),
        "promote": (2, None, 0.0, 1),
        "rollback": (1, None, 0.0, None),
    }
    seen = set()
    for kill in range(5):
        child = subprocess.Popen(
            [sys.executable, "-c", CHANGER, database_url, runs.artifacts.url, name],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(0.5 + 0.37 * kill)
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()

        deployment = registry.deployment(name)
        last = registry.events(name)[-1]
        candidate = deployment.candidate
        state = (
            deployment.primary,
            None if candidate is None else candidate.version,
            0.0 if candidate is None else candidate.share,
            deployment.previous,
        )
        assert last.revision == deployment.revision
        assert state == expected[last.action], (last.action, state)
        seen.add(last.action)
    assert len(history(registry, name)) > 10  # the loop did change it, many times
