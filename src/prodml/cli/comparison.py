"""How ``prodml deployments compare`` shows a candidate beside its primary, in tables that
fit 80 columns."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.table import Table

from prodml.cli.render import console, print_json
from prodml.deploy.html import UNSLICED

if TYPE_CHECKING:
    from prodml.deploy.compare import Arm, Comparison


def show_comparison(comparison: Comparison, json: bool = False) -> None:
    """The two sides of ``comparison``, what differs between them, and by slice."""
    if json:
        print_json(asdict(comparison))
        return
    c = comparison
    console.print(_headline(c))
    if c.agreement is not None and c.interval is not None:
        low, high = c.interval
        console.print(f"They agree on {c.agreement:.1%} (95% interval {low:.1%} to {high:.1%}).")
    for name, value in c.difference.items():
        console.print(f"|primary - shadow| {name}: {value:.4g}")
    console.print(_sides(c))
    if c.confusion:
        console.print(_confusion(c))
    elif c.primary.predicted or c.candidate.predicted:
        console.print(_classes(c))
    if c.mcnemar:
        m = c.mcnemar
        console.print(
            f"On the {c.primary.labelled:,} labelled requests only the primary was right on "
            f"{m['only_primary']:g}, only the shadow on {m['only_shadow']:g} (McNemar's "
            f"exact test: p = {m['p']:.3g})."
        )
    if c.drift:
        console.print(_drift(c))
    if c.slices:
        console.print(_slices(c))
    if c.unsliced:
        console.print(f"[yellow]Not sliced[/] ({UNSLICED}):")
    for reason in c.unsliced:
        console.print(f"  {escape(reason)}")


def _headline(c: Comparison) -> str:
    """Which kind of comparison, of which versions, on what."""
    name, first, second = escape(c.endpoint), c.primary, c.candidate
    period = f"since {c.since:%Y-%m-%d %H:%M} UTC" + (
        " (going on)" if c.until is None else f" until {c.until:%Y-%m-%d %H:%M} UTC"
    )
    versions = f"{name}:{second.version} ({c.kind}) beside {name}:{first.version} (primary)"
    if c.kind == "shadow":
        on = f"paired, on the {c.pairs:,} requests both answered {period}"
    else:
        on = (
            f"over the same period, {period}: each answered its own requests "
            f"({first.answers:,} and {second.answers:,}), so nothing is paired"
        )
    return f"[bold]{c.kind.capitalize()} comparison[/] of {versions}, {on}."


def _sides(c: Comparison) -> Table:
    """Each side's answers, latency, errors and accuracy, and the candidate's difference."""
    table = Table(title_justify="left")
    table.add_column("")
    for arm in (c.primary, c.candidate):
        table.add_column(f"{arm.role} {arm.version}", justify="right")
    table.add_column("difference", justify="right")
    p, q, d = c.primary, c.candidate, c.deltas
    table.add_row("answers", f"{p.answers:,}", f"{q.answers:,}", "")
    for name, key in (("latency p50 ms", "p50"), ("latency p95 ms", "p95")):
        delta = d[f"latency_{key}_ms"]
        shown = [_number(arm.latency_ms.get(key)) for arm in (p, q)]
        table.add_row(name, *shown, "-" if delta is None else f"{delta:+.1f}")
    table.add_row("server errors", _errors(p), _errors(q), _points(d["error_rate"]))
    table.add_row("labelled", f"{p.labelled:,}", f"{q.labelled:,}", "")
    if p.labelled or q.labelled:
        accuracy = (_percent(p.accuracy), _percent(q.accuracy), _points(d["accuracy"]))
        table.add_row("accuracy", *accuracy)
        intervals = (_span(p.interval), _span(q.interval), _span(c.accuracy_interval, "+"))
        table.add_row("95% interval", *intervals)
    return table


def _confusion(c: Comparison) -> Table:
    table = Table(title="the two answers of each request", title_justify="left")
    labels = sorted({y for row in c.confusion.values() for y in row} | set(c.confusion))
    table.add_column("primary \\ shadow")
    for label in labels:
        table.add_column(escape(label), justify="right")
    for x in labels:
        table.add_row(escape(x), *(f"{c.confusion.get(x, {}).get(y, 0):,}" for y in labels))
    return table


def _classes(c: Comparison) -> Table:
    """Each side's answers by class, with their shares."""
    table = Table(title="answers by class", title_justify="left")
    table.add_column("class")
    for arm in (c.primary, c.candidate):
        table.add_column(f"{arm.role} {arm.version}", justify="right")
    for label in sorted(set(c.primary.predicted) | set(c.candidate.predicted)):
        cells = []
        for arm in (c.primary, c.candidate):
            n = arm.predicted.get(label, 0)
            cells.append(f"{n:,} ({n / arm.answers:.1%})" if arm.answers else "-")
        table.add_row(escape(label), *cells)
    return table


def _drift(c: Comparison) -> Table:
    table = Table(title=f"drift from the primary's outputs to the {c.kind}'s", title_justify="left")
    for column in ("output", "test", "statistic", "p-value", "drifted"):
        table.add_column(column, justify="left" if column in ("output", "test") else "right")
    for name, score in c.drift.items():
        statistic = "inf" if score["score"] is None else f"{score['score']:.4g}"
        p = score["p_value"]
        table.add_row(
            escape(name),
            score["method"],
            statistic,
            "-" if p is None else f"{p:.3g}",
            "[red]yes[/]" if score["drifted"] else "no",
        )
    return table


def _slices(c: Comparison) -> Table:
    """Per slice: a shadow's pairs, their agreement and labels; a canary's answers and
    labels a side; each side's accuracy on its labelled answers."""
    shadow = c.kind == "shadow"
    unit = "pairs" if shadow else "labelled answers a side"
    table = Table(
        title=f"by slice (insufficient evidence under {c.min_count} {unit})",
        title_justify="left",
        caption=f"two numbers: the primary's / the {c.kind}'s",
    )
    table.add_column("slice", overflow="fold")
    columns = ["pairs", "agreement (95%)"] if shadow else ["answers"]
    for column in (*columns, "labelled", "accuracy"):
        table.add_column(column, justify="right")
    for s in c.slices:
        insufficient = "[yellow]insufficient evidence[/]"
        accuracy = " / ".join(_percent(value) for value in s.accuracy.values())
        if shadow:
            agreement = f"{_percent(s.agreement)} {_span(s.interval)}"
            cells = [f"{s.rows['primary']:,}", agreement if s.sufficient else insufficient]
            cells.append(f"{s.labelled['primary']:,}")
        else:
            cells = [
                " / ".join(f"{n:,}" for n in counts.values()) for counts in (s.rows, s.labelled)
            ]
            accuracy = accuracy if s.sufficient else insufficient
        table.add_row(escape(s.name), *cells, accuracy)
    return table


def _errors(arm: Arm) -> str:
    return f"{_percent(arm.error_rate, 2)} ({arm.errors:,})"


def _percent(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2%}"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _span(interval: tuple[float, float] | None, sign: str = "") -> str:
    if interval is None:
        return "-"
    return f"{interval[0]:{sign}.1%} to {interval[1]:{sign}.1%}"
