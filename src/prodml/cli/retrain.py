"""``prodml retrain``: a candidate fitted on the data plus the labelled prediction log,
audited beside the primary and deployed as a shadow; ``--backtest`` replays the labelled
history to say which strategy suits the project."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import prodml
from prodml.cli import app
from prodml.cli.render import Column, FittedTable, console, fmt, print_json
from prodml.cli.shell import JsonOption, ProjectOption, WideOption, reporting
from prodml.errors import ConfigError
from prodml.retrain.spans import POINTS, STRATEGIES, duration, rows_or_duration, score_text

if TYPE_CHECKING:
    from prodml.config import Strategy
    from prodml.retrain.backtest import Backtest
    from prodml.retrain.candidate import Retrained, Scores

#: The options only ``--backtest`` takes.
BACKTEST_ONLY = ("--points", "--horizon", "--html")


@app.command(
    epilog="Examples:  prodml retrain    prodml retrain loans --strategy window --window 90d    "
    "prodml retrain --strategy weighted --half-life 14d --since 2026-01-01    "
    "prodml retrain --json    prodml retrain --backtest    "
    "prodml retrain --backtest --points 8 --horizon 30d --html backtest.html"
)
def retrain(
    name: Annotated[
        str | None,
        typer.Argument(
            help="The model, and the endpoint of the same name.",
            metavar="NAME",
            show_default="the project's",
        ),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            help="all: every row; window: the newest only (--window); weighted: recent rows "
            "count more (--half-life).",
            metavar="all|window|weighted",
            show_default="retrain.strategy, else all",
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            help="Leave out rows older than this time (UTC): 2026-01-01 or 2026-01-01T12:00:00.",
            metavar="DATE",
        ),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(
            help="Strategy window: a duration (90d, 12h) or the newest N rows (5000).",
            metavar="90d|N",
            show_default="retrain.window",
        ),
    ] = None,
    half_life: Annotated[
        str | None,
        typer.Option(
            help="Strategy weighted: a row's weight halves per this age.",
            metavar="30d",
            show_default="retrain.half_life",
        ),
    ] = None,
    backtest: Annotated[
        bool,
        typer.Option(
            "--backtest", help="Replay the labelled history to compare the strategies instead."
        ),
    ] = False,
    points: Annotated[
        int | None,
        typer.Option(
            help="--backtest: moments of the history to replay.", show_default=str(POINTS)
        ),
    ] = None,
    horizon: Annotated[
        str | None,
        typer.Option(
            help="--backtest: score a duration (30d) or N rows after each point.",
            metavar="30d|N",
            show_default="up to the next point",
        ),
    ] = None,
    html: Annotated[
        Path | None, typer.Option(help="--backtest: also write the table as an HTML page here.")
    ] = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """Fit the model again on the project's data plus the labelled prediction log, and
    deploy it as a shadow when it passes its audit; never as the primary.

    The training set has the labels received up to now (no leakage), ordered by the time
    column; the newest labelled rows are held out, and the candidate is scored on them and
    on the original test split beside the primary. It is registered either way; a
    candidate that passes goes beside the primary as a shadow. A person moves it on
    (prodml deploy NAME:V --canary, prodml promote NAME), or, with retrain.promote:
    canary, a monitor pass sends it out as a canary once it has answered
    retrain.shadow_requests copies, and the canary's guards decide.

    With --backtest, each strategy is trained at several moments of the labelled history
    on what was known then and scored on what came next: one table, a row per moment.

    Exit code 0 when the candidate passed its audit, 1 when it failed it (or on an error).
    """
    given = {"--points": points, "--horizon": horizon, "--html": html}
    with reporting():
        _check(strategy, backtest, [option for option, v in given.items() if v is not None])
        _parsed(window, half_life, horizon)
        if backtest:
            _backtest(name, project, points, horizon, since, window, half_life, html, json, wide)
            return
        spinner = contextlib.nullcontext() if json else console.status("retraining...")
        with prodml.Project(project) as opened, spinner:
            done = opened.retrain(
                name,
                strategy=_strategy(strategy),
                since=since,
                window=_window(window),
                half_life=half_life,
            )
    if json:
        print_json(done.to_dict())
    else:
        show_retrained(done, wide)
    raise typer.Exit(0 if done.passed else 1)


def _check(strategy: str | None, backtest: bool, only: list[str]) -> None:
    """Refuse options that do not go together, and a strategy not known, before anything
    is loaded."""
    if backtest and strategy is not None:
        raise ConfigError(
            f"--backtest replays every strategy ({', '.join(STRATEGIES)}) side by side, so "
            f"--strategy {strategy} does not go with it; leave out --strategy, or --backtest "
            "to retrain with it"
        )
    if only and not backtest:
        raise ConfigError(
            f"{', '.join(only)} only go with --backtest; add --backtest, or leave them out "
            "to retrain"
        )
    _strategy(strategy)


def _parsed(window: str | None, half_life: str | None, horizon: str | None) -> None:
    """Refuse a window, half-life or horizon not understood, before anything is loaded."""
    _window(window)
    rows_or_duration(horizon, "--horizon", 200)
    duration(half_life, "--half-life")


def _strategy(value: str | None) -> Strategy | None:
    for known in STRATEGIES:
        if value == known:
            return known
    if value is None:
        return None
    raise ConfigError(
        f"--strategy {value!r} is not a strategy; give all (every row), window (the newest, "
        "see --window) or weighted (recent rows count more, see --half-life)"
    )


def _window(value: str | None) -> timedelta | int | None:
    if value is None:
        return None
    with contextlib.suppress(ConfigError):
        return rows_or_duration(value, "--window")
    raise ConfigError(
        f"--window {value!r} is neither a duration nor a number of rows; give a number and "
        "a unit (s, m, h, d) such as 90d, or the newest rows to keep, such as 5000"
    )


def show_retrained(done: Retrained, wide: bool = False) -> None:
    """What a retraining did: the run, its training set, the scores beside the primary,
    the verdict and where the candidate went."""
    ref = escape(done.ref or done.model)
    console.print(
        f"Retrained [bold]{escape(done.model)}[/] with strategy {done.strategy}: run "
        f"[bold]{done.run_id}[/], registered as [bold]{ref}[/]"
    )
    if done.primary is None:
        console.print("No primary serves to compare it with.")
    else:
        console.print(f"Compared with the primary [bold]{escape(done.primary)}[/].")
    console.print(f"Training set: {escape(training_text(done.training_set))}")
    for scores in done.scores:
        scores_table(scores).print(wide)
    _verdict(done)


def training_text(summary: dict[str, Any]) -> str:
    """The training set in one line: rows by origin, data window, cutoff, fingerprint.

    >>> print(training_text({"rows": 3, "rows_from_data": 2, "rows_from_log": 1,
    ...     "first": "2026-01-01T00:00:00+00:00", "last": None,
    ...     "cutoff": "2026-02-01T10:00:00+00:00", "fingerprint": "0123456789abcdef"}))
    ... # doctest: +NORMALIZE_WHITESPACE
    3 rows (2 from the data, 1 from the log), 2026-01-01 00:00 to -,
    labels received by 2026-02-01 10:00 UTC, fingerprint 0123456789ab
    """
    return (
        f"{summary['rows']:,} rows ({summary['rows_from_data']:,} from the data, "
        f"{summary['rows_from_log']:,} from the log), {_time(summary['first'])} to "
        f"{_time(summary['last'])}, labels received by {_time(summary['cutoff'])} UTC, "
        f"fingerprint {summary['fingerprint'][:12]}"
    )


def scores_table(scores: Scores) -> FittedTable:
    """The candidate beside the primary on one data set, a row per metric."""
    audit = {True: "audit passed", False: "audit failed", None: "not audited"}[scores.passed]
    theirs = scores.primary or {}
    table = FittedTable(
        [
            Column("metric"),
            Column("candidate", "number"),
            Column("primary", "number"),
            Column("difference", "number", drop=1),
        ],
        title=f"{scores.data} ({scores.rows:,} rows): {audit}",
    )
    for metric, value in scores.candidate.items():
        other = theirs.get(metric)
        change = None if other is None else value - other
        table.add_row(escape(metric), fmt(value), fmt(other), _signed(change))
    return table


def _verdict(done: Retrained) -> None:
    """Passed or failed, where the candidate went (or why nowhere), and the next command."""
    model = escape(done.model)
    if done.shadow is not None:
        console.print(
            f"[bold green]Passed its audit[/]: deployed as the {done.mode} of endpoint "
            f"[bold]{escape(done.shadow)}[/], beside its primary {escape(done.primary or '')}."
        )
        console.print(
            f"Next: [bold]prodml deployments compare {model}[/], then [bold]prodml deploy "
            f"{escape(done.ref or '')} --canary[/] or [bold]prodml promote {model}[/] "
            "(with retrain.promote: canary, a monitor pass sends it out as a canary)"
        )
        return
    verdict = "[bold green]Passed its audit[/]" if done.passed else "[bold red]Failed its audit[/]"
    console.print(f"{verdict}: registered, not deployed.")
    for reason in done.reasons:
        console.print(f"  {escape(reason)}")
    if done.passed:
        console.print(f"Next: [bold]prodml deployments {model}[/]")
    else:
        console.print(f"Next: [bold]prodml evaluate {done.run_id[:8]}[/] to see why")


def _backtest(
    name: str | None,
    folder: Path,
    points: int | None,
    horizon: str | None,
    since: datetime | None,
    window: str | None,
    half_life: str | None,
    html: Path | None,
    json: bool,
    wide: bool,
) -> None:
    """``--backtest``: the replay under a progress bar, then its table (or JSON)."""
    with (
        prodml.Project(folder, migrate=False) as opened,
        Progress(
            TextColumn("backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("fits"),
            TimeElapsedColumn(),
            console=console,
            disable=json,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("", total=None)
        found = opened.backtest(
            name,
            points=POINTS if points is None else points,
            horizon=horizon,
            since=since,
            window=window,
            half_life=half_life,
            on_fit=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if html is not None:
        from prodml.retrain.backtest import render_html

        html.write_text(render_html(found, opened.name), encoding="utf-8")
    if json:
        print_json(found.to_dict())
        return
    show_backtest(found, wide)
    if html is not None:
        console.print(f"HTML page: [bold]{escape(str(html))}[/]")


def show_backtest(found: Backtest, wide: bool = False) -> None:
    """The backtest's table, then the best strategy and the skipped ones, each in a line."""
    backtest_table(found).print(wide)
    if found.winners:
        best = " and ".join(found.winners)
        score = score_text(found.mean[found.winners[0]])
        console.print(
            f"Best: [bold]{best}[/] (mean {escape(found.metric)} {score}); retrain with "
            f"[bold]prodml retrain --strategy {found.winners[0]}[/]"
        )
    else:
        console.print("No strategy could be scored: no labelled rows came after any point.")
    for strategy, why in found.skipped.items():
        console.print(f"[yellow]{strategy} skipped[/]: {escape(why)}")


def backtest_table(found: Backtest) -> FittedTable:
    """A row per point (its cutoff, rows scored, each strategy's score, the winner), and
    a last row of means."""
    table = FittedTable(
        [
            Column("cutoff (UTC)", "id"),
            Column("scored", "number"),
            *(Column(s, "number") for s in found.strategies),
            Column("winner"),
        ],
        title=f"Backtest of {escape(found.endpoint or '')}: {found.labelled:,} labelled "
        f"predictions, {len(found.points)} points",
        caption=f"{escape(found.metric)} ({found.better} is better) on the labelled rows "
        f"after each point, {found.horizon}",
    )
    for point in found.points:
        table.add_row(
            f"{point.cutoff:%Y-%m-%d %H:%M:%S}",
            f"{point.rows_scored:,}",
            *(score_text(point.scores[s]) for s in found.strategies),
            ", ".join(point.winners) or "-",
        )
    table.add_row(
        "mean",
        f"{sum(p.rows_scored for p in found.points):,}",
        *(score_text(found.mean[s]) for s in found.strategies),
        ", ".join(found.winners) or "-",
        style="bold",
    )
    return table


def _time(value: str | None) -> str:
    return "-" if value is None else f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"
