"""``prodml log stats / prune / export``: the prediction log's size, retention and archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

import prodml
from prodml.cli import app
from prodml.cli.render import console, fmt, print_json
from prodml.cli.shell import JsonOption, ProjectOption, reporting

log_app = typer.Typer(
    help="The prediction log: what it holds and costs on disk, pruning by age or count "
    "(log.retention in prodml.yaml), and archiving to Parquet.",
    epilog="Examples:  prodml log stats    prodml log prune --older-than 30d    "
    "prodml log export --to parquet archive/ --older-than 30d --prune",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(log_app, name="log")

OlderThan = Annotated[
    str | None,
    typer.Option(
        "--older-than", help="Only predictions logged longer ago than this, e.g. 30d or 12h."
    ),
]


@log_app.command("stats")
def stats(project: ProjectOption = Path("."), json: JsonOption = False) -> None:
    """Predictions, labels and streams in the log, its time span, and the store's size per
    prediction (SQLite: the database file and its write-ahead log)."""
    with reporting():
        found = prodml.Project(project, migrate=False).log_stats()
        record = {
            "predictions": found.predictions,
            "feedback": found.feedback,
            "streams": found.streams,
            "first_at": found.first_at.isoformat() if found.first_at else None,
            "last_at": found.last_at.isoformat() if found.last_at else None,
            "database_bytes": found.database_bytes,
            "bytes_per_prediction": found.bytes_per_prediction,
        }
        if json:
            print_json(record)
            return
        table = Table("what", "value", title="The prediction log")
        for key, value in record.items():
            table.add_row(key.replace("_", " "), "-" if value is None else fmt(value))
        console.print(table)


@log_app.command("prune")
def prune(
    project: ProjectOption = Path("."),
    older_than: OlderThan = None,
    keep_rows: Annotated[
        int | None, typer.Option(min=1, help="Keep only this many predictions, the newest.")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Delete the oldest predictions, and their feedback: those older than --older-than,
    and those beyond the newest --keep-rows (defaults: log.retention.age and .rows).

    The freed space is reused for new predictions. Export them first to keep them:
    prodml log export --to parquet DIR --older-than 30d --prune.
    """
    with reporting():
        done = prodml.Project(project).prune_log(older_than, keep_rows)
        if json:
            print_json(
                {"predictions": done.predictions, "feedback": done.feedback, "kept": done.kept}
            )
            return
        console.print(
            f"Pruned {done.predictions:,} predictions and {done.feedback:,} labels; "
            f"{done.kept:,} predictions kept."
        )


@log_app.command("export")
def export(
    folder: Annotated[Path, typer.Argument(help="The folder to write the files to.")],
    to: Annotated[
        Literal["parquet"], typer.Option("--to", help="The format of the files.")
    ] = "parquet",
    project: ProjectOption = Path("."),
    older_than: OlderThan = None,
    prune_after: Annotated[
        bool, typer.Option("--prune", help="Delete the exported predictions from the log.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Write the prediction log to FOLDER as Parquet, one file per endpoint, model version
    and role: a column per input and output, the request id, the time and the latency.

    Without --older-than, everything logged up to a few seconds ago.
    """
    with reporting():
        written = prodml.Project(project, migrate=prune_after).export_log(
            folder, older_than, prune_after=prune_after
        )
        rows = [{"file": str(w.path), "rows": w.rows} for w in written]
        if json:
            print_json({"format": to, "files": rows, "pruned": prune_after})
            return
        table = Table("file", "predictions", title=f"Exported to {folder}")
        for row in rows:
            table.add_row(Path(str(row["file"])).name, f"{row['rows']:,}")
        console.print(table)
        if prune_after:
            console.print("The exported predictions were pruned from the log.")
