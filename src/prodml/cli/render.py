"""How the CLI shows things: Rich tables for people, JSON for programs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from prodml.data import SPLIT_NAMES

if TYPE_CHECKING:
    from prodml.store.runs import Run
    from prodml.tracking.compare import Comparison

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass(frozen=True, eq=False)  # eq=False: two columns may look alike
class Column:
    """A column of a :class:`FittedTable`.

    ``kind`` says how a cell may break: ``text`` folds onto more lines, an ``id`` (a run id,
    a time) and a ``number`` (right-aligned) are never broken or cut. ``drop`` above 0
    lets the column be left out when the table is wider than the terminal, the highest
    first; 0 keeps it always.
    """

    header: str
    kind: Literal["text", "id", "number"] = "text"
    drop: int = 0


class FittedTable:
    """A table that fits the terminal it is printed on: at its width, the columns that may
    be left out are, one at a time, until the rest fits on one line per row; ``wide``
    keeps every column, wider than the terminal if need be.

    >>> table = FittedTable([Column("name"), Column("value", "number", drop=1)])
    >>> table.add_row("a", "0.5")
    >>> [c.header for c in table.table().columns]
    ['name', 'value']
    """

    def __init__(
        self, columns: Sequence[Column], *, title: str | None = None, caption: str | None = None
    ) -> None:
        self.columns = list(columns)
        self.title, self.caption = title, caption
        self.rows: list[tuple[tuple[str, ...], str | None]] = []

    def add_row(self, *cells: str, style: str | None = None) -> None:
        self.rows.append((cells, style))

    def table(self, wide: bool = False) -> Table:
        """The Rich table of the columns that fit (every column when ``wide``)."""
        shown = list(self.columns)
        if not wide:
            for column in sorted((c for c in self.columns if c.drop), key=lambda c: -c.drop):
                if _natural_width(self._build(shown, None)) <= console.width:
                    break
                shown.remove(column)
        left_out = [c.header for c in self.columns if c not in shown]
        notes = [self.caption] if self.caption else []
        if left_out:
            notes.append(f"not shown at this width: {', '.join(left_out)} (--wide shows them)")
        table = self._build(shown, "; ".join(notes) or None)
        natural = _natural_width(table)
        if natural > console.width and wide:
            table.width = natural  # print with crop=False: the terminal wraps what is wider
        return table

    def print(self, wide: bool = False) -> None:
        console.print(self.table(wide), crop=False)

    def _build(self, columns: list[Column], caption: str | None) -> Table:
        table = Table(
            title=self.title, title_justify="left", caption=caption, caption_justify="left"
        )
        for column in columns:
            table.add_column(
                column.header,
                justify="right" if column.kind == "number" else "left",
                no_wrap=column.kind != "text",
                overflow="fold",
            )
        at = [self.columns.index(c) for c in columns]
        for cells, style in self.rows:
            table.add_row(*(cells[i] for i in at), style=style)
        return table


def _natural_width(table: Table) -> int:
    """The width of ``table`` with every cell on one line."""
    return console.measure(table, options=console.options.update_width(10_000)).maximum


def print_json(value: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    print(json.dumps(value, indent=2, default=str))


def run_dict(run: Run) -> dict[str, Any]:
    return asdict(run)


def metrics_table(run: Run, title: str | None = None) -> Table:
    """Metrics with one column per split (train, dev, test), or as they are named."""
    metrics = run.metrics or {}
    splits = [s for s in SPLIT_NAMES if any(k.startswith(f"{s}.") for k in metrics)]
    table = Table(title=title, title_justify="left")
    table.add_column("metric", overflow="fold")
    for split in splits:
        table.add_column(split, justify="right")
    names = dict.fromkeys(k.split(".", 1)[1] for k in metrics if k.split(".", 1)[0] in splits)
    for name in names:
        table.add_row(escape(name), *(fmt(metrics.get(f"{s}.{name}")) for s in splits))
    for key, value in metrics.items():
        if key.split(".", 1)[0] not in splits:
            table.add_row(escape(key), fmt(value), *[""] * (len(splits) - 1))
    return table


def runs_table(runs: list[Run], headline: str) -> FittedTable:
    table = FittedTable(
        [
            Column("run", "id"),
            Column("kind", "id", drop=1),
            Column("status", "id"),
            Column("started", "id", drop=2),
            Column("model"),
            Column("data", "id", drop=4),
            Column(escape(f"test {headline}"), "number"),
            Column("fit s", "number", drop=3),
        ]
    )
    for run in runs:
        table.add_row(
            run.id,
            run.kind,
            status(run.status),
            f"{run.started_at:%Y-%m-%d %H:%M:%S}",
            escape(short_factory(run)),
            (run.data_fingerprint or "")[:8],
            fmt((run.metrics or {}).get(f"test.{headline}")),
            fmt(run.fit_seconds),
        )
    return table


def comparison_table(comparison: Comparison, only_differences: bool) -> Table:
    table = Table(title_justify="left", caption="[bold yellow]yellow[/]: differs between runs")
    widest = max((len(row.name) for row in comparison.rows), default=0)
    # names stay whole up to 30 characters (a min_width would push the table past the
    # terminal's edge once Rich narrows the columns)
    table.add_column("", overflow="fold", no_wrap=widest <= 30)
    for run in comparison.runs:
        table.add_column(run.id, justify="right", overflow="fold")
    section = ""
    for row in comparison.rows:
        if only_differences and not row.differs and row.section != "run":
            continue
        if row.section != section:
            section = row.section
            table.add_section()
            table.add_row(f"[bold]{section}[/]", *[""] * len(comparison.runs))
        style = "bold yellow" if row.differs else ""
        table.add_row(escape(row.name), *(fmt(v) for v in row.values), style=style)
    return table


def split_table(record: dict[str, Any]) -> Table:
    """Rows per split and cell (label, or label x metadata for balanced splits)."""
    counts = record.get("counts") or []
    keys = [k for k in (counts[0] if counts else {}) if k not in SPLIT_NAMES]
    table = Table(title=f"split: {record.get('method')}", title_justify="left")
    for key in keys:
        table.add_column(key)
    for name in SPLIT_NAMES:
        table.add_column(name, justify="right")
    for row in counts:
        table.add_row(*(fmt(row[k]) for k in keys), *(fmt(row[s]) for s in SPLIT_NAMES))
    sizes = record.get("sizes") or {}
    table.add_row(
        *(["[bold]all[/]"] + [""] * (len(keys) - 1)),
        *(f"[bold]{sizes.get(s, 0)}[/]" for s in SPLIT_NAMES),
    )
    return table


def split_warnings(record: dict[str, Any] | None) -> None:
    for warning in (record or {}).get("warnings", []):
        console.print(f"[yellow]warning:[/] {escape(warning)}")


def warn(message: str) -> None:
    """One yellow warning line on stderr (so --json output stays JSON)."""
    errors.print(f"[yellow]warning:[/] {escape(message)}", markup=True)


def duration(run: Run) -> str:
    """How long a run took: a search's whole time, with its refit's beside it.

    >>> from datetime import datetime
    >>> from prodml.store.runs import Run
    >>> run = Run("r", None, "p", "search", "finished", datetime.now(), None, "h", 1,
    ...           metrics={"search.refit_seconds": 7.8249}, fit_seconds=154.2)
    >>> duration(run)
    '154.20s (the refit 7.82s)'
    """
    refit = (run.metrics or {}).get("search.refit_seconds")
    total = f"{run.fit_seconds or 0:.2f}s"
    return total if refit is None else f"{total} (the refit {refit:.2f}s)"


def status(value: str) -> str:
    colour = {"finished": "green", "failed": "red", "running": "yellow"}.get(value, "white")
    return f"[{colour}]{value}[/]"


def short_factory(run: Run) -> str:
    factory = str((run.model_spec or {}).get("factory", ""))
    return factory.rsplit(".", 1)[-1] if not factory.startswith("rules:") else factory


def fmt(value: Any) -> str:
    """A value as table text: numbers rounded, anything else shown literally (no markup)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4f}" if 1e-3 <= abs(value) < 1e5 else f"{value:.4g}"
    return escape(str(value))
