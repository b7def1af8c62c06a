"""``prodml evaluate``: a run's model beside its baselines, on slices, through the audit."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

import prodml
from prodml.cli import app
from prodml.cli.render import Column, FittedTable, console, fmt, print_json
from prodml.cli.shell import JsonOption, ProjectOption, WideOption, reporting

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
    wide: WideOption = False,
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
        show_evaluation(result, wide)
        if html is not None:
            console.print(f"HTML report: [bold]{escape(str(html))}[/]")
    raise typer.Exit(0 if evaluation.passed else 1)


def show_evaluation(result: Mapping[str, Any], wide: bool = False) -> None:
    """The evaluation in the terminal: warnings, tables, golden failures, verdict; the
    tables leave out what does not fit the terminal, unless ``wide``."""
    data = result["data"]
    console.print(
        f"Evaluation of run [bold]{result['run']}[/] on {escape(data['source'])} "
        f"({data['rows']:,} rows)"
    )
    for warning in result["warnings"]:
        console.print(f"[bold yellow]warning:[/] {escape(warning)}")
    if result["task"] == "classification":
        _confusion(result).print(wide)
    _baselines(result).print(wide)
    if result["slices"]:
        _priority(result).print(wide)
    golden = result.get("golden")
    if golden is not None:
        for failure in golden["failures"]:
            console.print(
                f"[red]golden example {escape(failure['id'])} is wrong:[/] expected "
                f"{escape(failure['expected'])}, predicted {escape(failure['predicted'])}"
            )
    _verdict(result)


def _confusion(result: Mapping[str, Any]) -> FittedTable:
    labels = result["labels"]
    metrics = result["metrics"]
    table = FittedTable(
        [
            Column("true \\ pred", "id"),
            *(Column(escape(label), "number") for label in labels),
            *(
                Column(name, "number", drop)
                for name, drop in (("precision", 3), ("recall", 2), ("f1", 1), ("support", 4))
            ),
        ],
        title="Confusion matrix (rows: true, columns: predicted)",
    )
    for label, counts in zip(labels, result["confusion"], strict=True):
        per_class = [fmt(metrics.get(f"{m}[{label}]")) for m in ("precision", "recall", "f1")]
        table.add_row(
            escape(label), *map(str, counts), *per_class, fmt(metrics.get(f"support[{label}]"))
        )
    return table


def _baselines(result: Mapping[str, Any]) -> FittedTable:
    focus, positive = result["focus"], result["positive_class"]
    # how soon each column is left out when the terminal is narrow (0: never)
    if result["task"] == "regression":
        drops = {"mae": 0, "rmse": 0, "r2": 2, "mape": 1}
    else:
        per_class = (
            {f"recall[{positive}]": 3, f"precision[{positive}]": 6, f"f1[{positive}]": 0}
            if positive
            else {}
        )
        drops = {**per_class, "accuracy": 4, "f1_macro": 2, "roc_auc": 1, "pr_auc": 5}
    columns = {focus: 0, **{name: d for name, d in drops.items() if name != focus}}
    table = FittedTable(
        [Column(""), *(Column(escape(c), "number", drop) for c, drop in columns.items())],
        title=f"Baselines side by side (ranked by {focus})",
    )
    for entry in result["baselines"]:
        partial = entry["rows"] < result["data"]["rows"]
        name = escape(entry["name"]) + (f" (on {entry['rows']:,} rows)" if partial else "")
        style = "bold" if entry["kind"] == "model" else None
        table.add_row(name, *(fmt(entry["metrics"].get(c)) for c in columns), style=style)
    return table


def _priority(result: Mapping[str, Any]) -> FittedTable:
    focus = result["focus"]
    slices = result["slices"]
    reference = next((s["reference_name"] for s in slices if s["reference_name"]), "reference")
    notes = []
    if len(slices) > SHOWN_SLICES:
        notes.append(f"{len(slices) - SHOWN_SLICES} more in --json and --html")
    if any(not row["sufficient"] for row in slices[:SHOWN_SLICES]):
        least = result.get("min_count")
        under = f"under evaluate.min_count ({least}) rows" if least else "too few rows"
        notes.append(f"* insufficient evidence: {under}, ranked last")
    table = FittedTable(
        [
            Column("slice"),
            Column(escape(focus), "number"),
            Column("95% CI", "number", drop=2),
            Column(escape(reference), "number", drop=1),
            Column("gap", "number"),
            Column("share", "number"),
            Column("gain", "number"),
            Column("errors", "number", drop=3),
            Column("rows", "number"),
        ],
        title=f"Where to improve: slices by expected gain (gap to {escape(reference)} x share)",
        caption="; ".join(notes) or None,
    )
    for row in slices[:SHOWN_SLICES]:
        interval = row["interval"]
        shown = "-" if interval is None or interval[0] is None else _span(interval)
        name = escape(row["name"]) + ("" if row["sufficient"] else " [yellow]*[/]")
        table.add_row(
            name,
            fmt(row["value"]),
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
