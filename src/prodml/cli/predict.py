"""``prodml predict``: batch scoring of a file with a registered model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress, TextColumn, TimeElapsedColumn

import prodml
from prodml.cli import app
from prodml.cli.render import console, print_json, run_dict, warn
from prodml.cli.shell import JsonOption, ProjectOption, reporting


@app.command(
    epilog="Examples:  prodml predict data/new.parquet -o scored.parquet    "
    "prodml predict new.csv -o out.csv --model loans:2    prodml predict x.csv -o y.csv --json"
)
def predict(
    file: Annotated[Path, typer.Argument(help="A CSV or Parquet file of inputs.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write: .csv or .parquet.")
    ],
    project: ProjectOption = Path("."),
    model: Annotated[
        str | None,
        typer.Option(help="NAME or NAME:VERSION.", show_default="the project's primary version"),
    ] = None,
    chunk_rows: Annotated[int, typer.Option(help="Rows read at a time.", min=1)] = 100_000,
    json: JsonOption = False,
) -> None:
    """Score a file with a registered model, chunk by chunk in constant memory.

    Each chunk is checked against the model's input schema (a chunk with errors stops the
    job and names the rows); the output has the id column, the prediction and one
    probability per class, and appears only when the whole file is scored. The job is
    recorded as a run of kind batch (see prodml runs list).
    """
    with (
        reporting(),
        Progress(
            TextColumn("scoring"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=console,
            disable=json,
        ) as progress,
    ):
        task = progress.add_task("", total=None)
        opened = prodml.Project(project)
        run = opened.predict(
            file,
            output,
            model,
            chunk_rows=chunk_rows,
            on_chunk=lambda rows: progress.update(task, completed=rows),
        )
    with reporting():
        unaudited = opened.unaudited(model)
    if unaudited is not None:  # batch scoring is outside the gate, but not silently
        warn(f"{unaudited}; scored with it all the same")
    if json:
        print_json(run_dict(run))
        return
    params = run.params or {}
    rate = (run.metrics or {}).get("rows_per_second", 0.0)
    console.print(
        f"Scored {run.data_rows:,} rows with {escape(str(params.get('model')))} into "
        f"[bold]{escape(str(output))}[/] ({rate:,.0f} rows/s); run {run.id}"
    )
