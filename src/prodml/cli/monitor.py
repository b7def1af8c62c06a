"""``prodml monitor``, ``prodml feedback`` and ``prodml alerts``: watching a served model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

import prodml
from prodml.cli import app
from prodml.cli.deploy import canary_dict
from prodml.cli.render import console, fmt, print_json
from prodml.cli.shell import JsonOption, ProjectOption, reporting
from prodml.config import window_seconds

if TYPE_CHECKING:
    from prodml.monitor.monitor import Pass
    from prodml.store.monitoring import Alert, Window

EndpointOption = Annotated[
    str | None,
    typer.Option(help="The endpoint to watch.", show_default="monitor.endpoint, or the project's"),
]

monitor_app = typer.Typer(
    help="Read the prediction log in windows: software, input and output metrics, drift "
    "against the reference profile, realized performance from feedback, alerts.",
    epilog="Examples:  prodml monitor --once    prodml monitor --every 60s    "
    "prodml monitor report --html monitor.html",
    invoke_without_command=True,
    rich_markup_mode="rich",
)
alerts_app = typer.Typer(
    help="The alerts the monitor's rules fired (monitor.alerts in prodml.yaml).",
    epilog="Examples:  prodml alerts list    prodml alerts list --firing --json",
    no_args_is_help=True,
)
app.add_typer(monitor_app, name="monitor")
app.add_typer(alerts_app, name="alerts")


@monitor_app.callback()
def monitor(
    ctx: typer.Context,
    project: ProjectOption = Path("."),
    endpoint: EndpointOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="One pass, then exit (the default).")
    ] = False,
    every: Annotated[
        str | None,
        typer.Option(help="Run a pass at this interval until Ctrl-C, e.g. 60s or 5m."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Cut the prediction log into closed windows (monitor.window: a duration such as 1h, or a
    number of predictions such as 5000) and store, for each, its metrics and every drift
    score; update realized performance from feedback; fire and resolve alerts.

    A window of time is closed a few seconds after its end, a window of predictions when it
    is full. Drift is measured per feature against the model version's reference profile
    (the held-out rows of its fit): KS or chi-square at every window size, unless
    monitor.drift.method names another; see docs of prodml.monitor.drift. With --every, each
    pass then prunes the prediction log as log.retention says. Each pass also checks every
    canary (see prodml deployments check NAME) and rolls back, advances or holds it.
    """
    if ctx.invoked_subcommand is not None:
        return
    with reporting():
        if once and every is not None:
            raise prodml.ConfigError("give --once or --every, not both")
        interval = _interval(every) if every is not None else None
        opened = prodml.Project(project)
        while True:
            with console.status("reading the prediction log...", spinner="dots") as status:
                if json:
                    status.stop()
                done = opened.monitor(endpoint)
                looked = [opened.check_canary(name) for name in opened.canaries()]
            if json:
                print_json({**done.to_dict(), "canaries": [canary_dict(c) for c in looked]})
            else:
                show_pass(done)
                for canary in looked:
                    console.print(f"canary {escape(canary.endpoint)}: {escape(canary.summary)}")
            if interval is None:
                return
            retention = opened.settings.log.retention
            if retention.age is not None or retention.rows is not None:
                opened.prune_log()  # after the pass: nothing is pruned before it is read
            time.sleep(interval)


@monitor_app.command()
def report(
    project: ProjectOption = Path("."),
    endpoint: EndpointOption = None,
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML page (works offline).")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Drift of each feature over time, reference and newest window side by side, alerts."""
    from prodml.monitor.html import render

    with reporting():
        found = prodml.Project(project).monitor_report(endpoint)
    if json:
        print_json(found)
        return
    if html is not None:
        html.write_text(render(found), encoding="utf-8")
        console.print(f"wrote [bold]{escape(str(html))}[/]")
    _drift_table(found)


@app.command(
    epilog="Examples:  prodml feedback labels.csv    "
    "prodml feedback late.parquet --label-column approved --skip-unknown"
)
def feedback(
    file: Annotated[Path, typer.Argument(help="A CSV or Parquet file of request id and label.")],
    project: ProjectOption = Path("."),
    id_column: Annotated[str, typer.Option(help="The column of request ids.")] = "request_id",
    label_column: Annotated[str, typer.Option(help="The column of true labels.")] = "label",
    skip_unknown: Annotated[
        bool, typer.Option(help="Store the rest when some request ids were never logged.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Attach true labels to logged predictions by request id. Labels may come late, for
    some predictions only, or more than once: the last one received counts. The next
    `prodml monitor` pass turns them into accuracy, recall and F1 per window and looks for
    a change in the error rate."""
    with reporting():
        stored, unknown = prodml.Project(project).feedback(
            file, id_column=id_column, label_column=label_column, skip_unknown=skip_unknown
        )
    if json:
        print_json({"stored": stored, "unknown": unknown})
        return
    console.print(f"stored {stored:,} label(s) from {escape(str(file))}")
    if unknown:
        console.print(f"[yellow]skipped {len(unknown):,} unknown request id(s)[/]")


@alerts_app.command("list")
def list_alerts(
    project: ProjectOption = Path("."),
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint's.")] = None,
    firing: Annotated[bool, typer.Option(help="Only those still firing.")] = False,
    json: JsonOption = False,
) -> None:
    """The alerts fired, newest first, with the window and value that fired them."""
    with reporting():
        found = prodml.Project(project).monitoring.alerts(endpoint, firing=firing)
    if json:
        from prodml.store.monitoring import record

        print_json([record(a) for a in found])
        return
    table = Table(title="alerts", title_justify="left")
    for column in ("fired at", "endpoint", "rule", "value", "window", "state", "webhooks"):
        table.add_column(column)
    for alert in found:
        table.add_row(
            alert.fired_at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(alert.endpoint),
            escape(alert.rule),
            fmt(alert.value),
            str(alert.window_id),
            "[red]firing[/]" if alert.resolved_at is None else "resolved",
            _deliveries(alert),
        )
    console.print(table if found else "no alerts")


def _interval(text: str) -> float:
    try:
        return window_seconds(text)
    except ValueError as exc:
        raise prodml.ConfigError(f"--every {exc}") from None


def show_pass(done: Pass) -> None:
    """What a monitor pass stored: its windows, drifted features, change points, alerts."""
    if not done.windows:
        console.print(f"{escape(done.endpoint)}: no new closed window")
    table = Table(title=f"{done.endpoint}: new windows", title_justify="left")
    for column in ("window", "model", "from", "to", "rows", "p99 s", "errors", "drift share"):
        table.add_column(column)
    for w in done.windows:
        m = w.metrics
        table.add_row(
            str(w.id),
            f"{escape(w.model_name)}:{w.model_version}",
            w.starts_at.strftime("%m-%d %H:%M:%S"),
            w.ends_at.strftime("%m-%d %H:%M:%S"),
            f"{w.rows:,}",
            fmt(m.get("latency_p99_seconds")),
            fmt(m.get("error_rate")),
            _share(m.get("drift_share")),
        )
    if done.windows:
        console.print(table)
        drifted = sorted({s.column for s in done.scores if s.drifted and s.kind == "drift"})
        if drifted:
            console.print(f"[yellow]drifted features:[/] {escape(', '.join(drifted))}")
    for point in done.change_points:
        console.print(
            f"[yellow]error rate changed[/] ({point.detector}): began at prediction "
            f"{point.started_id}, found at {point.detected_id}"
        )
    for alert in done.fired:
        console.print(f"[bold red]alert fired:[/] {escape(alert.rule)} (value {fmt(alert.value)})")
    for alert in done.resolved:
        console.print(f"[green]alert resolved:[/] {escape(alert.rule)}")
    if done.updated:
        console.print(f"realized performance updated in {done.updated} window(s) from feedback")


def show_performance(windows: list[Window]) -> None:
    """Realized performance per window, from the feedback received so far."""
    table = Table(title="realized performance by window", title_justify="left")
    for column in ("window", "rows", "labelled", "accuracy", "concept change"):
        table.add_column(column)
    for w in windows:
        m = w.metrics
        table.add_row(
            str(w.id),
            f"{w.rows:,}",
            f"{m.get('labelled', 0):,}",
            fmt(m.get("accuracy")),
            "[yellow]yes[/]" if m.get("concept_change") else "",
        )
    console.print(table)


def _drift_table(found: dict[str, Any]) -> None:
    windows = found["windows"][-8:]
    table = Table(title=f"{found['endpoint']}: drift score by window", title_justify="left")
    table.add_column("feature")
    for w in windows:
        table.add_column(str(w["id"]), justify="right")
    by_cell = {(s["column"], s["window_id"]): s for s in found["scores"] if s["kind"] != "skew"}
    for column in dict.fromkeys(s["column"] for s in found["scores"] if s["kind"] != "skew"):
        cells = []
        for w in windows:
            s = by_cell.get((column, w["id"]))
            text = "" if s is None else fmt(s["score"])
            cells.append(f"[red]{text}[/]" if s is not None and s["drifted"] else text)
        table.add_row(escape(column), *cells)
    console.print(table)


def _share(value: Any) -> str:
    return "" if value is None else f"{value:.0%}"


def _deliveries(alert: Alert) -> str:
    hooks = alert.deliveries.get("webhooks", [])
    return ", ".join("ok" if d.get("ok") else f"failed ({d.get('attempts')})" for d in hooks)
