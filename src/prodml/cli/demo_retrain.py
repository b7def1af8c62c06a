"""The demo's retraining step, against a running ``prodml serve``: new applications from
after the loans data's shift come in and their true decisions come back; the drift alert
fires on two windows in a row, so the monitor's pass retrains the model into a shadow
(``monitor.retrain``, added to the demo's ``prodml.yaml``); the shadow is then tried as a
canary on more of the shifted traffic, whose guards promote it or roll it back, and the
two versions' accuracy on the canary's labelled requests says whether it won."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.markup import escape

from prodml.cli.demo_deploy import ENDPOINT
from prodml.cli.monitor import show_pass
from prodml.cli.render import console
from prodml.data.loans import SHIFT_AFTER, generate_loans
from prodml.errors import ConfigError
from prodml.project import Project
from prodml.serve.demo import answers, model_loads, records, send, send_feedback, wait_until

#: What monitor.retrain waits for: the loans example's drift rule, two windows in a row.
TRIGGERS = "retrain: {alert: drift_share > 0.3, windows: 2}"
#: Where it goes in the example's prodml.yaml: after the monitor's alert rules.
AFTER_ALERTS = "  # webhooks: [http://alerts.internal/prodml]\n"
#: What the candidate learns from: the labelled log of the last day, the newest data.
STRATEGY = "retrain: {strategy: window, window: 1d}"
#: New applications answered and labelled before the retrain (two windows of 500), and
#: those the shadow sees.
LABELLED, SHADOW = 1_000, 200
#: The canary's plan, and its requests (one application each) between two looks.
RAMP, STEP_SECONDS, MIN_REQUESTS = (50.0, 100.0), 2.0, 150
ROUND, MAX_ROUNDS = 100, 10


def retrain_step(url: str, folder: Path) -> None:
    """Send shifted traffic with feedback, let a monitor pass retrain into a shadow, try
    the candidate as a canary; ``url`` serves the project in ``folder``."""
    with Project(folder) as project:
        project.automate(ENDPOINT, "full", reason="demo: the model answers while it is retrained")
        console.print(f"  [bold]prodml automation {ENDPOINT} full[/]: the model answers everything")
        # steps 11 and 12's windows, before the triggers; the open ones closed, so that the
        # shifted traffic below fills windows of its own
        caught_up = project.monitor(close=True)
        console.print(f"  prodml monitor: {len(caught_up.windows):,} windows of steps 11 and 12")
    _add_triggers(folder)
    console.print(
        f"  prodml.yaml, monitor: [bold]{escape(TRIGGERS)}[/]; [bold]{escape(STRATEGY)}[/]"
    )
    with Project(folder) as project:
        rows = shifted(project)
        sent = [*project.load_data().features, *project.settings.data.metadata]
        target = project.settings.data.target
        labelled = rows.head(LABELLED)
        ids = send(url, records(labelled[sent]), per_request=10)
        send_feedback(url, list(zip(ids, labelled[target].astype(int), strict=True)))
        console.print(
            f"  sent {len(ids):,} new applications from after the shift; their true "
            "decisions came back"
        )
        loads = model_loads(url)
        done = project.monitor()
        show_pass(done)
        outcome = None if done.retrain is None else done.retrain.outcome
        if outcome is None or outcome.get("mode") != "shadow":
            console.print("  [yellow]no candidate went to shadow, so there is nothing to try[/]")
            return
        wait_until(lambda: model_loads(url) > loads, "the server to load the shadow")
        ref = str(outcome["ref"])
        _in_shadow(url, project, rows.iloc[LABELLED : LABELLED + SHADOW][sent], ref)
        project.deployer().deploy(  # from shadow to canary, in one change
            ref,
            "canary",
            ramp=RAMP,
            step_seconds=STEP_SECONDS,
            min_requests=MIN_REQUESTS,
            reason="demo: the retrained candidate, tried on the shifted traffic",
        )
        probe = records(rows.head(10)[list(project.load_data().features)])
        took = wait_until(
            lambda: any(a["model"] == ref for a in answers(url, probe)), "the canary's answers"
        )
        console.print(
            f"  [bold]prodml deploy {ref} --canary --ramp 50,100 --step {STEP_SECONDS:g}s "
            f"--min-requests {MIN_REQUESTS}[/]: answering half the requests {took:.1f} s later"
        )
        _canary(url, project, ref, rows.iloc[LABELLED + SHADOW :])


def shifted(project: Project) -> pd.DataFrame:
    """New applications from the shift on: the loans generator with another seed than
    the project's data (the same world, other applicants), in time order."""
    fresh = generate_loans(len(project.load_data().frame), seed=8)
    return fresh[fresh[project.settings.data.time or "applied_at"] >= SHIFT_AFTER]


def _add_triggers(folder: Path) -> None:
    """Add monitor.retrain and retrain to the example's prodml.yaml, keeping its comments."""
    path = folder / "prodml.yaml"
    text = path.read_text(encoding="utf-8")
    if AFTER_ALERTS not in text:
        raise ConfigError(
            f"{path} has no line {AFTER_ALERTS.strip()!r} after monitor.alerts, where the "
            f"demo adds monitor.{TRIGGERS}; run prodml demo in a new folder"
        )
    text = text.replace(AFTER_ALERTS, f"{AFTER_ALERTS}  {TRIGGERS}\n")
    added = "# Added by prodml demo (step 13): how a retrained model learns.\n"
    path.write_text(f"{text.rstrip()}\n\n{added}{STRATEGY}\n", encoding="utf-8")


def _in_shadow(url: str, project: Project, rows: pd.DataFrame, ref: str) -> None:
    ids = send(url, records(rows), per_request=10)
    wait_until(
        lambda: project.shadow_comparison(ENDPOINT).pairs >= len(ids), "the shadow's answers"
    )
    seen = project.shadow_comparison(ENDPOINT)
    console.print(
        f"  in shadow, {ref} answered {seen.pairs:,} more applications after the primary "
        f"and agreed with it on {seen.agreement or 0:.0%}"
    )


def _canary(url: str, project: Project, ref: str, rows: pd.DataFrame) -> None:
    """Send rounds of labelled requests, look at the guards after each, until they roll
    the canary back or promote it; then both versions on the requests sent."""
    primary = f"{ENDPOINT}:{project.registry.deployment(ENDPOINT).primary}"
    features, target = list(project.load_data().features), project.settings.data.target
    action, looks = "hold", 0
    while action not in ("rollback", "promote") and looks < MAX_ROUNDS:
        part = rows.iloc[looks * ROUND : (looks + 1) * ROUND]
        looks += 1
        answered = answers(url, records(part[features]))
        truth = part[target].astype(int).tolist()
        send_feedback(url, [(a["request_id"], t) for a, t in zip(answered, truth, strict=True)])
        seen = project.check_canary(ENDPOINT)
        action = seen.action
        console.print(f"  after {looks * ROUND:,} requests: {escape(seen.summary)}")
    console.print(_verdict(project, action, ref, primary, rows.head(looks * ROUND)))


def _verdict(project: Project, action: str, ref: str, primary: str, rows: pd.DataFrame) -> str:
    """What became of the canary, and both versions' accuracy on the same labelled
    requests (the canary's share of them alone is too few to tell the two apart)."""
    data = project.load_data()
    X = rows[list(data.features)].astype({c: data.frame[c].dtype for c in data.features})
    truth = rows[data.target].to_numpy()
    right = {
        version: float(
            (project.registry.load(project.registry.get(version)).predict(X) == truth).mean()
        )
        for version in (ref, primary)
    }
    scores = (
        f"the {len(rows):,} requests: {ref} {right[ref]:.1%} right, {primary} {right[primary]:.1%}"
    )
    if action == "promote" and right[ref] > right[primary]:
        return f"  [bold green]won[/]: {ref} promoted, better on the shifted traffic ({scores})"
    if action == "promote":
        return f"  [yellow]promoted with no guard showing harm, but not better[/] ({scores})"
    if action == "rollback":
        return f"  [bold red]rolled back[/]: the guards found harm ({scores})"
    return f"  [yellow]still a canary[/]: the guards want more requests ({scores})"
