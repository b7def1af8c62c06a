"""``prodml evaluate``: a run's model beside its baselines, on slices, through the audit."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

import prodml
from prodml.cli import app
from prodml.cli.render import console, fmt, print_json
from prodml.cli.shell import JsonOption, ProjectOption, reporting

#: Slices shown in the terminal; the JSON and HTML reports have them all.
SHOWN_SLICES = 15


@app.command(
    epilog="Examples:  prodml evaluate    prodml evaluate 3f2a --html report.html    "
    "prodml evaluate --data data/new.csv --json    "
    "prodml evaluate --sign-off 'Ana Ruiz: slices checked'",
)
def evaluate(
    run: Annotated[
        str | None,
        typer.Argument(help="A run id or prefix.", show_default="the newest fit or search"),
    ] = None,
    project: ProjectOption = Path("."),
    data: Annotated[
        Path | None,
        typer.Option(
            help="Evaluate on this CSV or Parquet file (with the target column) instead of "
            "the run's test split."
        ),
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="Also write a self-contained HTML report here.")
    ] = None,
    sign_off: Annotated[
        str | None,
        typer.Option(help='Sign the evaluation off, as "name: note".', metavar="'NAME: NOTE'"),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Evaluate a run's model: metrics, baselines, slices, golden examples and the audit.

    Shows the confusion matrix and per-class precision, recall and F1; the model beside
    the majority and stratified baselines (and rules, the previous run of the same
    model, human-level performance); the error-analysis priority table (slices ranked
    by gap to the reference x share of data); golden examples that fail; and the audit
    verdict of evaluate.audit in prodml.yaml. The evaluation is stored with the run.
    Exit code 1 when the audit fails.
    """
    with reporting():
        evaluation = prodml.Project(project).evaluate(run, data, sign_off)
        result = evaluation.result
        if html is not None:
            from prodml.evaluate.html import render_html

            html.write_text(render_html(result), encoding="utf-8")
    if json:
        print_json(result)
    else:
        show_evaluation(result)
        if html is not None:
            console.print(f"HTML report: [bold]{escape(str(html))}[/]")
    raise typer.Exit(0 if evaluation.passed else 1)


def show_evaluation(result: Mapping[str, Any]) -> None:
    """The evaluation in the terminal: warnings, tables, golden failures, verdict."""
    data = result["data"]
    console.print(
        f"Evaluation of run [bold]{result['run']}[/] on {escape(data['source'])} "
        f"({data['rows']:,} rows)"
    )
    for warning in result["warnings"]:
        console.print(f"[bold yellow]warning:[/] {escape(warning)}")
    if result["task"] == "classification":
        console.print(_confusion(result))
    console.print(_baselines(result))
    if result["slices"]:
        console.print(_priority(result))
    golden = result.get("golden")
    if golden is not None:
        for failure in golden["failures"]:
            console.print(
                f"[red]golden example {escape(failure['id'])} is wrong:[/] expected "
                f"{escape(failure['expected'])}, predicted {escape(failure['predicted'])}"
            )
    _verdict(result)


def _confusion(result: Mapping[str, Any]) -> Table:
    labels = result["labels"]
    metrics = result["metrics"]
    table = Table(title="Confusion matrix (rows: true, columns: predicted)", title_justify="left")
    table.add_column("true \\ predicted")
    for label in labels:
        table.add_column(escape(label), justify="right")
    for column in ("precision", "recall", "f1", "support"):
        table.add_column(column, justify="right", style="cyan")
    for label, counts in zip(labels, result["confusion"], strict=True):
        per_class = [fmt(metrics.get(f"{m}[{label}]")) for m in ("precision", "recall", "f1")]
        table.add_row(
            escape(label), *map(str, counts), *per_class, fmt(metrics.get(f"support[{label}]"))
        )
    return table


def _baselines(result: Mapping[str, Any]) -> Table:
    focus, positive = result["focus"], result["positive_class"]
    if result["task"] == "regression":
        columns = ["mae", "rmse", "r2", "mape"]
    else:
        per_class = [f"{m}[{positive}]" for m in ("recall", "precision", "f1")] if positive else []
        columns = [focus, *per_class, "accuracy", "f1_macro", "roc_auc", "pr_auc"]
    columns = list(dict.fromkeys(columns))
    table = Table(title=f"Baselines side by side (ranked by {focus})", title_justify="left")
    table.add_column("", no_wrap=True)
    for column in columns:
        table.add_column(escape(column), justify="right")
    for entry in result["baselines"]:
        partial = entry["rows"] < result["data"]["rows"]
        name = escape(entry["name"]) + (f" (on {entry['rows']:,} rows)" if partial else "")
        style = "bold" if entry["kind"] == "model" else None
        table.add_row(name, *(fmt(entry["metrics"].get(c)) for c in columns), style=style)
    return table


def _priority(result: Mapping[str, Any]) -> Table:
    focus = result["focus"]
    slices = result["slices"]
    reference = next((s["reference_name"] for s in slices if s["reference_name"]), "reference")
    table = Table(
        title=f"Where to improve: slices by expected gain (gap to {escape(reference)} x share)",
        title_justify="left",
        caption=f"{len(slices) - SHOWN_SLICES} more in --json and --html"
        if len(slices) > SHOWN_SLICES
        else None,
    )
    table.add_column("slice", no_wrap=True)
    for column in (escape(focus), "95% CI", escape(reference), "gap", "share", "gain", "errors"):
        table.add_column(column, justify="right")
    table.add_column("rows", justify="right")
    for row in slices[:SHOWN_SLICES]:
        interval = row["interval"]
        shown = "-" if interval is None or interval[0] is None else _span(interval)
        value = fmt(row["value"])
        if not row["sufficient"]:
            value = "[yellow]insufficient evidence[/]"
        table.add_row(
            escape(row["name"]),
            value,
            shown,
            fmt(row["reference"]),
            _percent(row["gap"]),
            _percent(row["share"]),
            _percent(row["gain"]),
            _percent(row["error_share"]),
            f"{row['count']:,}",
        )
    return table


def _verdict(result: Mapping[str, Any]) -> None:
    verdict = result["audit"]
    for rule in verdict["rules"]:
        mark = "[green]pass[/]" if rule["passed"] else "[red]FAIL[/]"
        console.print(f"  {mark} {escape(rule['rule'])}: {escape(rule['reason'])}")
    if not verdict["rules"]:
        console.print("Audit: no rules in evaluate.audit of prodml.yaml.")
    elif verdict["passed"]:
        console.print("[bold green]Audit passed[/]: this version may be deployed.")
    else:
        console.print("[bold red]Audit failed[/]: this version will not be promoted.")
    signed = result.get("sign_off")
    if signed:
        console.print(
            f"Signed off by {escape(signed['by'])} at {signed['at']}: {escape(signed['note'])}"
        )


def _span(interval: list[float]) -> str:
    return f"{interval[0]:.3f}-{interval[1]:.3f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"
