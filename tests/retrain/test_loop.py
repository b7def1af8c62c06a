"""The retraining loop end to end, on SQLite and PostgreSQL: the loans example's October
2024 shift reaches the served model, the monitor's drift alert fires on two windows in a
row, and the pass that sees the second retrains the model into a shadow candidate with its
lineage; the next pass does not retrain again, nor does a second runner at the same time.

The traffic is new applications from the loans generator (another seed than the project's
data), answered by the registered model and logged as the server logs them, each with its
true decision as feedback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pandas as pd
import pytest
import yaml
from sklearn.metrics import accuracy_score
from typer.testing import CliRunner

import prodml
from prodml.cli import app
from prodml.data.loans import SHIFT_AFTER, generate_loans
from prodml.monitor.monitor import Pass
from prodml.retrain.triggers import OUTCOME, TRIGGERED
from prodml.serve.prediction_log import PredictionLog, entry
from prodml.store.runs import utc_now

if TYPE_CHECKING:
    from tests.conftest import Together

#: The loans example's drift rule, which monitor.retrain names; windows of 500 predictions.
RULE, WINDOW = "drift_share > 0.3", 500
#: Applications sent from before the shift (two windows) and from after it.
BEFORE, AFTER = 1_000, 2_000

runner = CliRunner()


@pytest.fixture
def loans(tmp_path: Path, database_url: str) -> Iterator[prodml.Project]:
    """The loans example with monitor.retrain on its drift rule for two windows in a row,
    its store at ``database_url``; version 1 registered (the endpoint's primary)."""
    folder = prodml.init(tmp_path / "loans", example="loans")
    settings = yaml.safe_load((folder / "prodml.yaml").read_text())
    settings["project"] = f"loans-{uuid4().hex[:12]}"  # the PostgreSQL database is shared
    settings["model"]["params"]["max_iter"] = 50  # a faster fit; it learns the rule as well
    # evaluate.human matches the underwriters' file by application id, and a logged
    # request's id is its own: none match (the last test keeps it, as shipped)
    settings["evaluate"].pop("human")
    settings["monitor"]["retrain"] = {"alert": RULE, "windows": 2}
    settings["store"] = {"database": database_url, "artifacts": str(folder / "artifacts")}
    (folder / "prodml.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    with prodml.Project(folder) as project:
        run = project.fit()
        project.evaluate(run.id)
        project.register(run.id)
        yield project


@pytest.fixture(scope="module")
def traffic() -> tuple[pd.DataFrame, pd.DataFrame]:
    """New applications of the third quarter of 2024, and from the shift on."""
    fresh = generate_loans(20_000, seed=8)
    applied = fresh["applied_at"]
    before = fresh[(applied >= "2024-07-01") & (applied < SHIFT_AFTER)].tail(BEFORE)
    return before.reset_index(drop=True), fresh[applied >= SHIFT_AFTER].head(AFTER)


def serve(project: prodml.Project, rows: pd.DataFrame, prefix: str) -> list[str]:
    """Answer ``rows`` with the endpoint's primary, log them as the server does (inputs and
    metadata, now), and give each its true decision as feedback; the request ids."""
    version = project.registry.get(f"{project.name}:1")
    model = project.registry.load(version)
    data = project.load_data()
    features, metadata = list(data.features), list(project.settings.data.metadata)
    X = rows[features].astype({c: data.frame[c].dtype for c in features})
    labels, probabilities = model.predict(X).tolist(), model.predict_proba(X).tolist()
    records: list[dict[str, Any]] = json.loads(rows[features + metadata].to_json(orient="records"))
    ids = [f"{project.name}-{prefix}{i}" for i in range(len(rows))]
    entries = [
        entry(
            request_id,
            project.name,
            project.name,
            1,
            record,
            {"label": label, "probabilities": {"0": p[0], "1": p[1]}},
            0.002,
            classes=(0, 1),
        )
        for request_id, record, label, p in zip(ids, records, labels, probabilities, strict=True)
    ]
    log = PredictionLog(project.runs_store.database)
    try:
        log.write(entries).result()
    finally:
        log.close()
    truth = rows[project.settings.data.target].astype(int).tolist()
    project.monitoring.add_feedback(list(zip(ids, truth, strict=True)), "the decisions")
    return ids


def drift_for_one_window(
    project: prodml.Project, traffic: tuple[pd.DataFrame, pd.DataFrame]
) -> list[Pass]:
    """Two windows from before the shift, then one from after it: passes that fire the
    alert on the third window and retrain nothing (one window of the two in a row)."""
    before, after = traffic
    serve(project, before, "b")
    passes = [project.monitor()]
    serve(project, after.iloc[:WINDOW], "a")
    passes.append(project.monitor())
    return passes


def test_the_shift_fires_the_alert_and_the_second_window_retrains_into_a_shadow(
    loans: prodml.Project, traffic: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    quiet, fired = drift_for_one_window(loans, traffic)
    assert [w.metrics["drift_share"] <= 0.3 for w in quiet.windows] == [True, True]
    assert [a.rule for a in fired.fired] == [RULE] and fired.retrain is None
    assert [v.version for v in loans.registry.versions(loans.name)] == [1]

    serve(loans, traffic[1].iloc[WINDOW : 2 * WINDOW], "c")
    started = utc_now()
    done = loans.monitor()
    windows = [fired.windows[0], *done.windows]
    assert done.retrain is not None and done.retrain.ran and done.retrain.error is None
    assert done.retrain.due == ("alert",)

    # version 2, the endpoint's candidate in shadow; version 1 still answers
    assert sorted(v.version for v in loans.registry.versions(loans.name)) == [1, 2]
    deployment = loans.registry.deployment(loans.name)
    assert deployment.primary == 1 and deployment.candidate is not None
    assert (deployment.candidate.version, deployment.candidate.mode) == (2, "shadow")

    # the trigger and its evidence: the rule, its alert, the two windows and their values
    triggered = [e for e in loans.registry.events(loans.name) if e.action == TRIGGERED]
    assert len(triggered) == 1 and triggered[0].actor == "monitor"
    evidence = triggered[0].detail or {}
    assert evidence["rule"] == RULE and evidence["by"] == ["alert"]
    assert evidence["alert"] == fired.fired[0].id
    assert evidence["windows"] == [w.id for w in windows]
    assert evidence["values"] == [w.metrics["drift_share"] for w in windows]
    outcome = [e for e in loans.registry.events(loans.name) if e.action == OUTCOME]
    assert [(e.version, (e.detail or {})["passed"]) for e in outcome] == [(2, True)]

    # the run's lineage: what triggered it, the strategy, the data and its cutoff
    version = loans.registry.get(f"{loans.name}:2")
    params = loans.run(version.run_id).params or {}
    assert json.loads(params["retrain.trigger"]) == json.loads(json.dumps(evidence))
    assert params["retrain.strategy"] == "all" and params["retrain.endpoint"] == loans.name
    assert started <= datetime.fromisoformat(params["retrain.cutoff"]) <= utc_now()
    labelled = BEFORE + 2 * WINDOW
    held = labelled // 5  # retrain.holdout: the newest 20% judge the candidate
    assert (params["retrain.rows_from_log"], params["retrain.newest_rows"]) == (
        labelled - held,
        held,
    )
    data = loans.load_data()
    rows_from_data = (loans.split(data).assignment != 2).sum()  # all but the test split
    assert params["retrain.rows_from_data"] == rows_from_data
    assert params["retrain.first"] == data.frame["applied_at"].min().isoformat() + "+00:00"
    training_set = (done.retrain.outcome or {})["training_set"]
    assert params["retrain.fingerprint"] == training_set["fingerprint"]
    assert params["retrain.last"] == training_set["last"] <= params["retrain.cutoff"]

    # judged on the newest labelled rows: the shift's last applications, as sklearn scores
    newest = traffic[1].iloc[2 * WINDOW - held : 2 * WINDOW]
    X = newest[list(data.features)].astype({c: data.frame[c].dtype for c in data.features})
    scores = (done.retrain.outcome or {})["scores"][0]
    assert (scores["data"], scores["rows"]) == ("newest labelled", held)
    for model, seen in (
        (loans.registry.load(version), scores["candidate"]),
        (loans.registry.load(loans.registry.get(f"{loans.name}:1")), scores["primary"]),
    ):
        assert seen["accuracy"] == accuracy_score(newest["approved"], model.predict(X))

    # the next windows still drift: due, and held while the candidate waits
    serve(loans, traffic[1].iloc[2 * WINDOW :], "d")
    again = loans.monitor()
    assert len(again.windows) == 2 and again.retrain is not None and not again.retrain.ran
    assert again.retrain.held == (
        f"the endpoint has a candidate, {loans.name}:2 (shadow); promote or stop it first"
    )
    assert sorted(v.version for v in loans.registry.versions(loans.name)) == [1, 2]


#: A monitor pass in a process of its own, released by the "go" file (the last argument);
#: prints what its triggers did, as JSON.
PASS = """
import json, sys, time
from pathlib import Path
import prodml
with prodml.Project(sys.argv[1]) as project:
    print("ready", flush=True)
    while not Path(sys.argv[2]).exists():
        time.sleep(0.005)
    done = project.monitor()
    print(json.dumps(None if done.retrain is None else done.retrain.to_dict()))
"""


def test_two_runners_on_one_store_retrain_once(
    loans: prodml.Project, traffic: tuple[pd.DataFrame, pd.DataFrame], together: Together
) -> None:
    # a person's shadow holds the due retrain while a pass cuts the second window (two
    # passes cutting the same window at once collide in the store, so the racing passes
    # find none to cut); stopping it lets the next passes retrain
    shadow = loans.register(loans.registry.get(f"{loans.name}:1").run_id)
    loans.deployer().deploy(shadow.ref, "shadow", reason="a person's shadow")
    drift_for_one_window(loans, traffic)
    serve(loans, traffic[1].iloc[WINDOW : 2 * WINDOW], "c")
    held = loans.monitor().retrain
    assert held is not None and held.held is not None and not held.ran
    loans.deployer().stop(loans.name, reason="the shadow is done")

    results = together([(PASS, [str(loans.path)]), (PASS, [str(loans.path)])])
    assert [code for code, _, _ in results] == [0, 0], "\n".join(e[-2000:] for _, _, e in results)
    seen = [json.loads(out.splitlines()[-1]) for _, out, _ in results]
    ran = [s for s in seen if s is not None and s["ran"]]
    assert len(ran) == 1 and ran[0]["outcome"]["version"] == 3
    events = loans.registry.events(loans.name)
    assert [e.action for e in events].count(TRIGGERED) == 1
    assert sorted(v.version for v in loans.registry.versions(loans.name)) == [1, 2, 3]


def test_prodml_monitor_says_what_triggered_the_retrain_and_why_the_next_waits(
    loans: prodml.Project, traffic: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    drift_for_one_window(loans, traffic)
    serve(loans, traffic[1].iloc[WINDOW : 2 * WINDOW], "c")
    shown = runner.invoke(app, ["monitor", "--once", "-C", str(loans.path)], terminal_width=80)
    assert shown.exit_code == 0, shown.output
    ref = f"{loans.name}:2"
    said = f"retrain triggered (alert {RULE} for 2 window(s)): {ref} passed its audit in shadow"
    assert said in " ".join(shown.output.split())  # Rich may wrap the line at 80 columns
    assert loans.registry.deployment(loans.name).candidate is not None

    serve(loans, traffic[1].iloc[2 * WINDOW :], "d")
    found = runner.invoke(app, ["monitor", "--once", "--json", "-C", str(loans.path)])
    assert found.exit_code == 0, found.output
    retrain = json.loads(found.stdout)["retrain"]
    held = f"the endpoint has a candidate, {ref} (shadow); promote or stop it first"
    assert (retrain["ran"], retrain["due"], retrain["held"]) == (False, ["alert"], held)
    assert (
        retrain["evidence"]["windows"] == [w.id for w in loans.monitoring.windows(loans.name)][-2:]
    )
    shown = runner.invoke(app, ["monitor", "--once", "-C", str(loans.path)])
    assert "retrain due (alert" in shown.output and "held: the endpoint has a candidate" in (
        " ".join(shown.output.split())
    )


def test_the_loans_example_as_shipped_retrains_with_its_human_baseline(
    loans: prodml.Project, traffic: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    settings = yaml.safe_load((loans.path / "prodml.yaml").read_text())
    settings["evaluate"]["human"] = "data/underwriters.csv"
    (loans.path / "prodml.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    serve(loans, traffic[1].iloc[:WINDOW], "a")
    with prodml.Project(loans.path) as shipped:
        done = shipped.retrain()
    # the underwriters' labels match no logged request: the newest rows are audited
    # without HLP (this raised a ValueError), the test split with it
    newest, test = done.scores
    assert (newest.data, test.data, done.version) == ("newest labelled", "original test split", 2)
    assert not any("not audited" in reason for reason in done.reasons), done.reasons
    assert newest.passed is not None and test.passed is not None
