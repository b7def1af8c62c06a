"""``prodml monitor``, ``prodml feedback`` and ``prodml alerts``: watching a served model."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

import prodml
from prodml.cli import app
from prodml.cli.data import app as data_app
from prodml.cli.deploy import canary_dict
from prodml.cli.render import Column, FittedTable, console, fmt, print_json
from prodml.cli.shell import JsonOption, ProjectOption, WideOption, reporting
from prodml.config import window_seconds

if TYPE_CHECKING:
    from prodml.monitor.files import FileReport
    from prodml.monitor.monitor import Pass
    from prodml.retrain.triggers import Triggered
    from prodml.store.monitoring import Alert, Window

EndpointOption = Annotated[
    str | None,
    typer.Option(help="The endpoint to watch.", show_default="monitor.endpoint, or the project's"),
]

#: The command behind ``prodml monitor FILE`` (hidden: FILE is given without its name).
FILE_COMMAND = "file"


class FileOrCommand(TyperGroup):
    """``prodml monitor``'s group: a first argument that names no subcommand is a FILE."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        if self.get_command(ctx, args[0]) is None and not args[0].startswith("-"):
            return FILE_COMMAND, self.get_command(ctx, FILE_COMMAND), args
        return super().resolve_command(ctx, args)


monitor_app = typer.Typer(
    cls=FileOrCommand,
    help="Read the prediction log in windows: software, input and output metrics, drift "
    "against the reference profile, realized performance from feedback, alerts. "
    "prodml monitor FILE does the same for a CSV or Parquet file, without a server.",
    epilog="Examples:  prodml monitor --once    prodml monitor --every 60s    "
    "prodml monitor --close    prodml monitor report --html monitor.html    "
    "prodml monitor new.csv --window 1000 --json",
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
    close: Annotated[
        bool,
        typer.Option(
            "--close",
            help="Close the open window as well and score it, marked partial (at the end of "
            "a replay or a batch, whose last rows would otherwise wait for more).",
        ),
    ] = False,
    json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Cut the prediction log into closed windows (monitor.window: a duration such as 1h, or a
    number of predictions such as 5000) and store, for each, its metrics and every drift
    score; update realized performance from feedback; fire and resolve alerts.

    Each model's predictions (a canary's among its primary's) are cut into windows of their
    own. A window of predictions is closed when it is full, or, marked partial, once a
    window of other models' predictions follows its model's last. A window of time holds
    the predictions of its slot by event time (a request's data.time field or time
    parameter; else its arrival), whatever order they came in, and is closed once a
    prediction of its model is monitor.lateness (default 5s) past its end, or once the
    clock is and no prediction of its model came for that long; a prediction that comes
    after its window closed is not scored but counted in the next window's late_rows.
    --close scores the open ones too, marked partial. A window
    of fewer than monitor.min_rows rows (default 100) gets its software metrics but no
    drift verdict ("too few rows"); one of fewer than monitor.min_labels labels (30)
    keeps its accuracy, but rules on realized performance are not judged on it. Drift is
    measured per feature against the model version's reference profile (the held-out
    rows of its fit): KS or chi-square at every window size, unless monitor.drift.method
    names another; see docs of prodml.monitor.drift. With --every, each
    pass then prunes the prediction log as log.retention says. Each pass also checks every
    canary (see prodml deployments check NAME) and rolls back, advances or holds it; with
    monitor.retrain set, it ends by retraining the model into a shadow candidate when a
    trigger is due, and says what triggered it and what came of it, or why it waits.
    """
    if ctx.invoked_subcommand is not None:
        return
    with reporting():
        if once and every is not None:
            raise prodml.ConfigError("give --once or --every, not both")
        if close and every is not None:
            raise prodml.ConfigError(
                "--close scores the open window once: give it without --every (each pass "
                "would cut a partial window)"
            )
        interval = _interval(every) if every is not None else None
        with prodml.Project(project) as opened:
            _passes(opened, endpoint, close, interval, json, wide)


def _passes(
    opened: prodml.Project,
    endpoint: str | None,
    close: bool,
    interval: float | None,
    json: bool,
    wide: bool,
) -> None:
    """One monitor pass, or one every ``interval`` seconds until Ctrl-C."""
    while True:
        with console.status("reading the prediction log...", spinner="dots") as status:
            if json:
                status.stop()
            done = opened.monitor(endpoint, close=close)
            looked = [opened.check_canary(name) for name in opened.canaries()]
        if json:
            print_json({**done.to_dict(), "canaries": [canary_dict(c) for c in looked]})
        else:
            show_pass(done, wide)
            for canary in looked:
                console.print(f"canary {escape(canary.endpoint)}: {escape(canary.summary)}")
        if interval is None:
            return
        retention = opened.settings.log.retention
        if retention.age is not None or retention.rows is not None:
            opened.prune_log()  # after the pass: nothing is pruned before it is read
        time.sleep(interval)


@monitor_app.command(
    FILE_COMMAND,
    hidden=True,
    epilog="Examples:  prodml monitor march.csv --window 1000    "
    "prodml monitor scored.parquet --reference 3f2a9c --json    "
    "prodml monitor new.csv --reference last_year.csv --html new.html",
)
def monitor_a_file(
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV or Parquet file of inputs, with prediction and probability[C] "
            "columns (as prodml predict writes them) or without (the model scores it), and "
            "with data.target when the labels are known."
        ),
    ],
    project: ProjectOption = Path("."),
    reference: Annotated[
        str | None,
        typer.Option(help="A run id, or a CSV or Parquet file of reference rows."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="NAME or NAME:VERSION.", show_default="the project's primary version"),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option(min=2, help="Rows a window.", show_default="monitor.window"),
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML page (works offline).")
    ] = None,
    json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """prodml monitor FILE: the file's rows as if they had been served one after another,
    in windows (the last one partial), each with its metrics, drift against the reference
    (monitor.drift) and, from data.target, realized performance and change points. Rows
    are counted from 0 in the file. The project's prediction log is left as it is."""
    from prodml.monitor.files import monitor_file
    from prodml.monitor.html import render

    with reporting(), console.status("monitoring the file...", spinner="dots") as status:
        if json:
            status.stop()
        found = monitor_file(
            prodml.Project(project, migrate=False),
            file,
            reference=reference,
            model=model,
            window=window,
        )
    if html is not None:
        html.write_text(render(found.page), encoding="utf-8")
    if json:
        print_json(found.to_dict())
        return
    if html is not None:
        console.print(f"wrote [bold]{escape(str(html))}[/]")
    show_file(found, wide)


@data_app.command(
    epilog="Examples:  prodml data drift january.csv february.csv    "
    "prodml data drift train.parquet new.csv --json"
)
def drift(
    first: Annotated[Path, typer.Argument(help="A CSV or Parquet file: the reference (A).")],
    second: Annotated[Path, typer.Argument(help="Another: the data compared with it (B).")],
    project: ProjectOption = Path("."),
    json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """The drift of B from A, column by column, by the monitor's rule (monitor.drift: KS or
    chi-square and an effect large enough to matter, unless it names another); the columns
    both files have, but data.id and data.time. For two recorded data sets (run ids or
    fingerprints), prodml data diff."""
    import pandas as pd

    from prodml.data.profile import read_chunks
    from prodml.monitor.files import drift_between

    with reporting():
        settings = prodml.Project(project).settings
        a, b = (
            pd.concat(list(read_chunks(f.resolve())), ignore_index=True) for f in (first, second)
        )
        ignore = [c for c in (settings.data.id, settings.data.time) if c is not None]
        found = drift_between(a, b, settings.monitor.drift, ignore)
    if json:
        print_json(found.to_dict())
        return
    table = FittedTable(
        [
            Column("column"),
            Column("test", "id", drop=1),
            Column("statistic", "number"),
            Column("p (adjusted)", "number"),
            Column("drifted", "id"),
        ],
        title=f"Drift from {first} to {second} ({found.share:.0%} of the columns)",
    )
    for name, score in found.scores.items():
        table.add_row(
            escape(name),
            score.method,
            fmt(score.score),
            fmt(score.p_adjusted),
            "[yellow]yes[/]" if score.drifted else "no",
        )
    table.print(wide)


@monitor_app.command()
def report(
    project: ProjectOption = Path("."),
    endpoint: EndpointOption = None,
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML page (works offline).")
    ] = None,
    last: Annotated[
        int | None, typer.Option(min=1, help="Only the newest N windows.", show_default="all")
    ] = None,
    json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Every window with its rows, accuracy, drift, drifted features, the alerts fired on
    it and the changes in the error rate found in it; then each change point, named by
    the request ids (a batch's: its data.id), log ids and times it began and was found at;
    then the alert history, resolved alerts too. --html writes the page with the drift of
    each feature over time and the reference and newest window side by side."""
    from prodml.monitor.html import render

    with reporting():
        found = prodml.Project(project, migrate=False).monitor_report(endpoint)
    if last is not None:
        found = {**found, "windows": found["windows"][-last:]}
    if json:
        print_json(found)
        return
    if html is not None:
        html.write_text(render(found), encoding="utf-8")
        console.print(f"wrote [bold]{escape(str(html))}[/]")
    show_report(found, wide)


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
        found = prodml.Project(project, migrate=False).monitoring.alerts(endpoint, firing=firing)
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


def show_pass(done: Pass, wide: bool = False) -> None:
    """What a monitor pass stored: its windows, drifted features, change points, alerts."""
    if not done.windows:
        console.print(f"{escape(done.endpoint)}: no new closed window")
    table = FittedTable(
        [
            Column("window", "id"),
            Column("model", "id", drop=2),
            Column("from", "id", drop=4),
            Column("to", "id", drop=3),
            Column("rows", "number"),
            Column("p99 s", "number", drop=1),
            Column("errors", "number"),
            Column("drift share", "number"),
        ],
        title=f"{done.endpoint}: new windows",
    )
    for w in done.windows:
        m = w.metrics
        table.add_row(
            str(w.id),
            f"{escape(w.model_name)}:{w.model_version}",
            w.starts_at.strftime("%m-%d %H:%M:%S"),
            w.ends_at.strftime("%m-%d %H:%M:%S"),
            _rows(w.rows, m),
            fmt(m.get("latency_p99_seconds")),
            fmt(m.get("error_rate")),
            "too few rows" if m.get("too_few_rows") else _share(m.get("drift_share")),
        )
    if done.windows:
        table.print(wide)
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
    if done.retrain is not None:
        console.print(f"[{_retrain_style(done.retrain)}]{escape(done.retrain.summary)}[/]")


def _retrain_style(triggered: Triggered) -> str:
    """Green for a candidate in place, red for a failed one, yellow for a held retrain."""
    if not triggered.ran:
        return "yellow"
    passed = triggered.error is None and (triggered.outcome or {}).get("passed")
    return "bold green" if passed else "bold red"


def show_file(found: FileReport, wide: bool = False) -> None:
    """A monitored file's windows, by rows, and the change points found in it."""
    table = FittedTable(
        [
            Column("rows", "id"),
            Column("n", "number", drop=2),
            Column("accuracy", "number"),
            Column("drift", "number", drop=1),
            Column("drifted features"),
        ],
        title=f"{found.file}: {found.rows:,} rows, model {found.model}",
    )
    for w in found.windows:
        note = "too few rows" if w["too_few_rows"] else ", ".join(w["drifted"])
        table.add_row(
            f"{w['first_row']}-{w['last_row']}" + (" partial" if w["partial"] else ""),
            f"{w['rows']:,}",
            fmt(w["accuracy"]),
            _share(w["drift_share"]),
            escape(note),
        )
    table.print(wide)
    for point in found.change_points:
        console.print(
            f"[yellow]error rate changed[/] ({point['detector']}): began at row "
            f"{point['began_at_row']}, found at row {point['found_at_row']}"
        )


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


def _rows(rows: int, metrics: dict[str, Any]) -> str:
    """A window's rows, marked partial, and the late rows counted in it when there are
    any.

    >>> _rows(1200, {"partial": 1, "late_rows": 3})
    '1,200 partial, 3 late'
    """
    late = metrics.get("late_rows")
    return (
        f"{rows:,}"
        + (" partial" if metrics.get("partial") else "")
        + (f", {late:,} late" if late else "")
    )


def show_report(found: dict[str, Any], wide: bool = False) -> None:
    """The monitoring report: windows, change points, alert history."""
    windows = found["windows"]
    if not windows:
        console.print(f"{escape(found['endpoint'])}: no window yet (run prodml monitor)")
        return
    shown = {w["id"] for w in windows}
    drifted: dict[int, list[str]] = {}
    for s in found["scores"]:
        if s["kind"] == "drift" and s["drifted"] and s["window_id"] in shown:
            drifted.setdefault(s["window_id"], []).append(s["column"])
    table = FittedTable(
        [
            Column("window", "id"),
            Column("from", "id", drop=3),
            Column("rows", "number"),
            Column("accuracy", "number"),
            Column("drift", "number", drop=2),
            Column("alerts"),
            Column("change", "number", drop=1),
            Column("drifted features", drop=4),
        ],
        title=f"{found['endpoint']}: {len(windows)} window(s)",
    )
    for w in windows:
        m = w["metrics"]
        table.add_row(
            str(w["id"]),
            w["starts_at"][:16].replace("T", " "),
            _rows(w["rows"], m),
            fmt(m.get("accuracy")),
            "too few rows" if m.get("too_few_rows") else _share(m.get("drift_share")),
            escape(", ".join(w["alerts"])),
            str(m.get("concept_change") or ""),
            escape(", ".join(sorted(drifted.get(w["id"], [])))),
            style="yellow" if w["alerts"] else None,
        )
    table.print(wide)
    for p in found["change_points"]:
        console.print(
            f"[yellow]error rate changed[/] ({p['detector']}): began at request "
            f"{escape(str(p['started_request']))} (log id {p['started_id']}, "
            f"{p['started_at'][:19]}), found at {escape(str(p['detected_request']))} (log id "
            f"{p['detected_id']}, {p['detected_at'][:19]})"
        )
    history = FittedTable(
        [
            Column("fired at", "id"),
            Column("rule"),
            Column("value", "number"),
            Column("window", "id"),
            Column("resolved at", "id"),
        ],
        title="alert history",
    )
    for a in found["alerts"]:
        resolved = a["resolved_at"]
        history.add_row(
            a["fired_at"][:19].replace("T", " "),
            escape(a["rule"]),
            fmt(a["value"]),
            str(a["window_id"]),
            "[red]firing[/]" if resolved is None else resolved[:19].replace("T", " "),
        )
    if found["alerts"]:
        history.print(wide)


def _share(value: Any) -> str:
    return "" if value is None else f"{value:.0%}"


def _deliveries(alert: Alert) -> str:
    hooks = alert.deliveries.get("webhooks", [])
    return ", ".join("ok" if d.get("ok") else f"failed ({d.get('attempts')})" for d in hooks)
