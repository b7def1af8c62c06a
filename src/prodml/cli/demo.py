"""``prodml demo``: the lifecycle on the loans example, explained step by step."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.rule import Rule
from rich.table import Table

import prodml
from prodml.cli import app
from prodml.cli.data import show_labels
from prodml.cli.evaluate import show_evaluation
from prodml.cli.fit import show_finished
from prodml.cli.monitor import show_pass, show_performance
from prodml.cli.render import comparison_table, console
from prodml.cli.shell import reporting
from prodml.evaluate.html import render_html

BASELINE = "sklearn.dummy.DummyClassifier"
STEPS = 13
#: Applications sent from each side of the loans data's shift in step 10.
TRAFFIC = 1_000


@app.command(epilog="Examples:  prodml demo    prodml demo --dir /tmp/tour")
def demo(
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to create the demo project (a new folder)."),
    ] = None,
) -> None:
    """A tour of prodml on the loans example, on the embedded defaults (SQLite, local files).

    It creates a project, measures how consistently three simulated underwriters
    label (agreement, HLP, disputed examples), checks that the model can learn, fits the majority
    baseline and the model, searches hyperparameters, compares the runs and evaluates
    the best one (baselines, slices, the audit), serves and monitors it, then deploys: a
    shadow, a rollback and a canary the guards roll back; hands the model the applications
    it is sure of; and, when the world drifts, retrains it into a shadow, then a canary.
    It says what each step does. Nothing is downloaded; it takes a minute or two.
    """
    started = time.perf_counter()
    target = folder or Path(tempfile.mkdtemp(prefix="prodml-demo-")) / "loans"
    with reporting():
        _step(
            1,
            "Create a project",
            "prodml init writes prodml.yaml, the data and a README. The loans data are "
            "20,000 generated applications over two years; gender and region are metadata "
            "(kept for slicing, never features), and the approval rule shifts in Oct 2024.",
        )
        prodml.init(target, example="loans")
        project = prodml.Project(target)
        console.print(f"  project folder: [bold]{target}[/]")

        _step(
            2,
            "Labels: how consistent are people, and how good?",
            "Three simulated underwriters re-decided 3,000 applications (data/underwriters.csv); "
            "one approves too easily. Their agreement, each one against the others and "
            "against the recorded decision, human-level performance (HLP) and the examples "
            "to discuss. prodml evaluate uses this HLP in its priority table (step 8).",
        )
        show_labels(project.labels().to_dict())

        _step(
            3,
            "Sanity check: can the model overfit a small subset?",
            "The first check the field recommends: if a model cannot memorise 100 "
            "examples, more data will not help.",
        )
        sanity = project.sanity()
        console.print(f"  [{'green' if sanity.passed else 'red'}]{sanity.message}[/]")

        _step(
            4,
            "Baseline: always predict the most frequent class",
            "The print('0') model. Any model must beat it; when accuracy is close to it, "
            "accuracy is the wrong metric.",
        )
        baseline = project.fit(prodml.ModelSpec(factory=BASELINE))
        show_finished(baseline)

        _step(
            5,
            "Fit the model",
            "Gradient boosting, trained before 2024-04-01, chosen on dev (Apr-Jun 2024) and "
            "tested from 2024-07-01 on. The run records code version, data fingerprint, "
            "split, parameters, metrics, fit time, peak memory and the artifact's SHA-256.",
        )
        first_fit = project.fit()
        show_finished(first_fit)

        _step(
            6,
            "Search hyperparameters",
            "A grid from search: in prodml.yaml, each candidate cross-validated on the "
            "training split as a child run; the best is refit and kept.",
        )
        with console.status("searching..."):
            best = project.search()
        show_finished(best)

        _step(
            7,
            "Compare runs",
            "The baseline, the model and the search side by side; rows that differ are "
            "highlighted.",
        )
        runs = [r.id for r in project.runs() if r.kind in ("fit", "search")][:3][::-1]
        console.print(comparison_table(project.compare(runs), only_differences=True))

        _step(
            8,
            "Evaluate: baselines, slices, the audit",
            "The best model on the test split beside the majority, stratified and rule "
            "baselines and HLP; slices by gender, region, their cross and income bins, "
            "ranked by expected gain (gap to HLP x share); and the audit in prodml.yaml "
            "(minimum recall, a fairness gap across gender, beating the baselines) that a "
            "version must pass to be deployed.",
        )
        evaluation = project.evaluate(best.id)
        report = target / "evaluation.html"
        report.write_text(render_html(evaluation.result), encoding="utf-8")
        show_evaluation(evaluation.result)
        console.print(f"  HTML report (works offline): [bold]{report}[/]")

        _step(
            9,
            "Register and serve",
            "The best run becomes version 1 of model loans and the primary of endpoint "
            "loans; prodml serve answers prodml's /predict, MLflow's /invocations and the "
            "Open Inference Protocol (V2), and logs every prediction before answering.",
        )
        version = project.register(best.id)
        console.print(f"  registered [bold]{version.ref}[/] (audit passed: {version.audit_passed})")
        from prodml.serve.demo import serving

        with serving(target) as url:
            _ask(url, project)

            _step(
                10,
                "Monitor: the world shifts",
                "Traffic from before the October 2024 shift, then from after it, 500 "
                "predictions a window (monitor: in prodml.yaml). prodml monitor compares "
                "each window with the reference profile saved at fit time, fires the "
                "alert rules, and, once the true decisions come back through POST "
                "/feedback, measures accuracy per window and finds where the error rate "
                "changed.",
            )
            _monitor(url, target, project)

            _step(
                11,
                "Deploy: shadow, rollback, canary",
                "A new version is not trusted at once. The fit of step 5 (audited first: "
                "the gate refuses a version never evaluated) runs in shadow mode: it "
                "predicts every request after the primary has answered, and the two are "
                "compared on the same requests. Promoted, then rolled back: the previous "
                "primary is still loaded, so nothing loads. Last, the majority baseline "
                "goes out as a canary to half the traffic; each look of the guards (an "
                "always-valid sequential test on errors, latency, the answers' mix and "
                "labelled accuracy, against the primary over the same period) may roll "
                "it back.",
            )
            from prodml.cli.demo_deploy import deployment_step

            deployment_step(url, project, first_fit.id, baseline.id)

            _step(
                12,
                "Automate: the model decides where it is sure",
                "Partial automation: the model decides an application when its confidence "
                "reaches a threshold, a person decides the rest. The threshold is the "
                "lowest whose 95% bound on the dev split keeps the model's own error "
                "within 5%. Deferred applications wait in the review queue, least "
                "confident first (with 2% of the model's own decisions, to audit it); a "
                "person's answer becomes the request's feedback.",
            )
            from prodml.cli.demo_automation import automation_step

            automation_step(url, project)

            _step(
                13,
                "Retrain: back again when the world drifts",
                "New applications keep coming from after the shift, and their decisions "
                "come back. With monitor.retrain in prodml.yaml, the pass that sees the drift "
                "alert fire for two windows in a row retrains the model on the newest "
                "labelled data (retrain: the log of the last day), audits it beside the "
                "primary and deploys it as a shadow, never as the primary. Then it is "
                "tried as a canary on the shifted traffic: "
                "its guards promote it or roll it back, and the two versions' accuracy on "
                "the labelled requests says whether it won.",
            )
            from prodml.cli.demo_retrain import retrain_step

            retrain_step(url, target)

    console.print(Rule())
    console.print(f"Done in {time.perf_counter() - started:.0f}s. What to run next:")
    console.print(f"  [bold]cd {target}[/]")
    console.print("  [bold]prodml runs list[/]            every run of the project")
    console.print(f"  [bold]prodml runs show {best.id}[/]   the search, with its candidates")
    console.print("  [bold]prodml evaluate --html report.html[/]   the evaluation, as a page")
    console.print("  [bold]prodml serve[/]                the registered model over HTTP")
    console.print("  [bold]prodml monitor report --html monitor.html[/]   drift over time")
    console.print("  [bold]prodml alerts list[/]          the alerts the monitor fired")
    console.print("  [bold]prodml deployments loans[/]    what serves, and every change: who, why")
    console.print("  [bold]prodml review list[/]          what waits for a person")
    console.print("  [bold]prodml retrain --backtest[/]   which retraining strategy, on the log")
    console.print("  [bold]prodml init my-project[/]      start your own project")
    console.print(
        f"Open the dashboard: [bold]prodml ui --project {target}[/], then http://127.0.0.1:8100/ui/"
    )


def _ask(url: str, project: prodml.Project) -> None:
    """Send one request in each protocol to the server at ``url``, show the log."""
    from prodml.serve.demo import ask_each_protocol

    for protocol, request, answer in ask_each_protocol(url, project):
        console.print(f"  [bold]{protocol}[/] {escape(request)}")
        console.print(f"    -> {escape(answer)}")
    table = Table("request id", "model", "label", "confidence", "latency ms", title_justify="left")
    for row in project.prediction_log(limit=5):
        table.add_row(
            row["request_id"][:8],
            row["model"],
            escape(str(row["label"])),
            f"{row['confidence']:.3f}",
            f"{row['latency_seconds'] * 1000:.1f}",
        )
    console.print("  the prediction log (newest first):")
    console.print(table)


def _monitor(url: str, folder: Path, project: prodml.Project) -> None:
    """Send traffic from both sides of the shift, monitor it, send feedback, monitor again."""
    from prodml.data.loans import SHIFT_AFTER
    from prodml.monitor.html import render
    from prodml.serve.demo import records, send, send_feedback

    data = project.load_data()
    applied = data.frame[project.settings.data.time or "applied_at"]
    before = data.frame[(applied >= "2024-07-01") & (applied < SHIFT_AFTER)].tail(TRAFFIC)
    after = data.frame[applied >= SHIFT_AFTER].head(TRAFFIC)
    ids: list[str] = []
    with console.status("sending 2,000 applications to /predict..."):
        for part in (before, after):
            ids += send(url, records(part[list(data.features)]), per_request=10)
    console.print(
        f"  sent {len(before):,} applications from before the shift, then {len(after):,} from after"
    )
    done = project.monitor()
    show_pass(done)
    truth = [*before[data.target], *after[data.target]]
    stored = send_feedback(url, [(i, int(label)) for i, label in zip(ids, truth, strict=True)])
    console.print(f"  the true decisions came back: POST /feedback stored {stored:,} labels")
    show_pass(project.monitor())
    show_performance(project.monitoring.windows(project.endpoint()))
    report = folder / "monitor.html"
    report.write_text(render(project.monitor_report()), encoding="utf-8")
    console.print(f"  HTML report (works offline): [bold]{report}[/]")


def _step(number: int, title: str, explanation: str) -> None:
    console.print(Rule(f"[bold]Step {number}/{STEPS} · {title}", align="left"))
    console.print(f"[dim]{explanation}[/]")
