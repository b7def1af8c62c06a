"""The demo's deployment step, against a running ``prodml serve``: a second model in shadow
and where it disagrees with the primary, per metadata slice (the requests carry gender
and region beside the inputs, and the log keeps them); a promotion undone by a rollback
that loads nothing; a deliberately worse model as a canary, rolled back by its guards
with the evidence."""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.markup import escape

from prodml.cli.deploy import show_canary, show_comparison
from prodml.cli.models import events_table
from prodml.cli.render import console
from prodml.deploy import gate
from prodml.deploy.canary import CanaryCheck
from prodml.errors import GateError
from prodml.project import Project
from prodml.registry import ModelVersion
from prodml.serve.demo import answers, model_loads, records, send, send_feedback, wait_until

ENDPOINT = "loans"
#: Applications the shadow sees (10 a request).
SHADOW_ROWS = 1_000
#: Canary requests (one application each) between two looks of the guards.
ROUND = 100
#: Looks before the demo gives up on a rollback (it comes after two or three).
MAX_ROUNDS = 20


def deployment_step(url: str, project: Project, challenger: str, worse: str) -> None:
    """Shadow run ``challenger``, promote it and roll back, then canary run ``worse``
    until the guards roll it back; ``url`` serves ``project``'s endpoint."""
    rows = test_rows(project)
    deployer = project.deployer()
    shadow = _shadow(url, project, challenger, rows.head(SHADOW_ROWS))
    console.print(f"\n  [bold]prodml promote {ENDPOINT}[/]: the shadow becomes the primary")
    deployer.promote(ENDPOINT, reason="demo: the shadow agreed")
    probe = records(rows.head(1)[list(project.load_data().features)])
    took = wait_until(lambda: _answered_by(url, probe) == shadow.ref, "the promotion")
    console.print(f"  the server answered with the new primary {took:.1f} s later")
    loads = model_loads(url)
    deployer.rollback(ENDPOINT, reason="demo: back to the audited primary")
    took = wait_until(lambda: _answered_by(url, probe) == f"{ENDPOINT}:1", "the rollback")
    loaded = model_loads(url) - loads
    console.print(
        f"  [bold]prodml rollback {ENDPOINT}[/]: {ENDPOINT}:1 answered again {took:.1f} s later "
        f"(the server looks every serve.reload_seconds), having loaded {loaded:.0f} models: "
        "it kept the previous primary (serve.keep_previous)"
    )
    _canary(url, project, worse, rows.iloc[SHADOW_ROWS:])
    console.print(events_table(project.registry.events(ENDPOINT)[-6:]))


def _shadow(url: str, project: Project, run: str, rows: pd.DataFrame) -> ModelVersion:
    version = project.register(run)
    console.print(f"  registered [bold]{version.ref}[/]: gradient boosting as fitted in step 5")
    _gate(project, version, f"{version.ref} --shadow")
    passed = project.evaluate(run).passed
    console.print(f"  prodml evaluate {run}: audit {'passed' if passed else 'failed'}")
    _deploy(url, project, f"{version.ref} --shadow", version.ref, mode="shadow")
    # the metadata beside the inputs: logged with each row (never given to the model), so
    # the comparison is cut by gender and region
    sent = [*project.load_data().features, *project.settings.data.metadata]
    ids = send(url, records(rows[sent]), per_request=10)
    send_feedback(url, list(zip(ids, rows[project.settings.data.target].astype(int), strict=True)))
    wait_until(
        lambda: project.shadow_comparison(ENDPOINT).pairs >= len(ids), "the shadow's answers"
    )
    console.print(
        f"  sent {len(ids):,} applications; the shadow answered each one after the primary"
    )
    show_comparison(project.shadow_comparison(ENDPOINT), json=False)
    return version


def _canary(url: str, project: Project, run: str, rows: pd.DataFrame) -> None:
    version = project.register(run)
    console.print(
        f"\n  registered [bold]{version.ref}[/]: the majority baseline of step 4, a deliberately "
        "worse model"
    )
    command = f"{version.ref} --canary --ramp 50,100 --min-requests 300"
    _gate(project, version, command)
    _deploy(
        url,
        project,
        f"{command} --force --reason ...",
        version.ref,
        mode="canary",
        ramp=(50, 100),
        min_requests=300,
        force=True,
        reason="demo: a deliberately worse model, to see the guards roll it back",
    )
    features, target = list(project.load_data().features), project.settings.data.target
    seen: CanaryCheck | None = None
    for looks in range(1, MAX_ROUNDS + 1):
        part = rows.sample(ROUND, random_state=looks)
        answered = answers(url, records(part[features]))
        truth = part[target].astype(int)
        send_feedback(url, [(a["request_id"], t) for a, t in zip(answered, truth, strict=True)])
        seen = project.check_canary(ENDPOINT)
        console.print(f"  after {looks * ROUND:,} requests: {escape(seen.summary)}")
        if seen.action == "rollback":
            break
    if seen is not None:
        show_canary(seen)


def _deploy(url: str, project: Project, shown: str, ref: str, **options: Any) -> None:
    """``prodml deploy`` as the demo's user, then wait for the server to load the version."""
    loads = model_loads(url)
    project.deployer().deploy(ref, **options)
    took = wait_until(lambda: model_loads(url) > loads, f"the server to load {ref}")
    console.print(
        f"  [bold]prodml deploy {escape(shown)}[/]: loaded by the server {took:.1f} s later"
    )


def _gate(project: Project, version: ModelVersion, shown: str) -> None:
    """What the audit gate says of deploying ``version``, without deploying it."""
    try:
        gate.check(project.deployer().evaluations, version, "deploy")
    except GateError as exc:
        console.print(f"  [bold]prodml deploy {escape(shown)}[/] is refused: {escape(str(exc))}")


def _answered_by(url: str, probe: list[dict[str, Any]]) -> str:
    model: str = answers(url, probe)[0]["model"]
    return model


def test_rows(project: Project) -> pd.DataFrame:
    """The test period before the loans data's shift, shuffled (seeded)."""
    from prodml.data.loans import SHIFT_AFTER

    frame = project.load_data().frame
    applied = frame[project.settings.data.time or "applied_at"]
    return frame[(applied >= "2024-07-01") & (applied < SHIFT_AFTER)].sample(frac=1, random_state=7)
