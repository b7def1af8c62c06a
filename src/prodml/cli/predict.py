"""``prodml predict``: batch scoring of a file with a registered model, or JSON lines
answered one by one (``prodml predict -``)."""

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
from prodml.errors import ProdmlError


@app.command(
    epilog="Examples:  prodml predict data/new.parquet -o scored.parquet    "
    "prodml predict new.csv -o out.csv --model loans:2    prodml predict x.csv -o y.csv --json"
    "    prodml predict batch.csv -o scored.csv --log    "
    "tail -f requests.jsonl | prodml predict - > answers.jsonl"
)
def predict(
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV or Parquet file of inputs; or - to answer JSON lines from stdin."
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write a file's scores: .csv or .parquet."),
    ] = None,
    project: ProjectOption = Path("."),
    model: Annotated[
        str | None,
        typer.Option(help="NAME or NAME:VERSION.", show_default="the project's primary version"),
    ] = None,
    chunk_rows: Annotated[int, typer.Option(help="Rows read at a time.", min=1)] = 100_000,
    log: Annotated[
        bool,
        typer.Option(
            "--log",
            help="Also write the predictions to the prediction log, for prodml monitor: "
            "request id from data.id, time from data.time, role batch.",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Score a file with a registered model, chunk by chunk in constant memory.

    Each chunk is checked against the model's input schema (a chunk with errors stops the
    job and names the rows); the output has the id column, the prediction and one
    probability per class, and appears only when the whole file is scored. The job is
    recorded as a run of kind batch (see prodml runs list). With --log, each row and its
    prediction go to the prediction log as served ones do (request id: its data.id, else
    RUN-ROW; time: its data.time, else now; role batch), so that prodml monitor reads
    them in windows and prodml feedback can label them by data.id.

    With - (Palladium's stream), each line of stdin is a JSON record, or a list of them,
    and gets one line on stdout: label and probabilities (or value), model and request id,
    as POST /predict answers. Rows are checked as the server checks them and logged in the
    prediction log before their answer is written, a record's data.time field as the time
    of its event (ISO 8601 with its zone), which prodml monitor's windows follow; a line
    the checks refuse is answered by {"error", "field", "line"} in its place, the stream
    goes on, and the exit code is 1.
    """
    if str(file) == "-":
        _answer_lines(project, model)
        return
    if output is None:
        with reporting():
            raise ProdmlError(
                f"prodml predict {file} needs --output (-o): where to write the scores, a "
                ".csv or .parquet file; or give - to answer JSON lines from stdin"
            )
    logged = 0
    with (
        reporting(),
        Progress(
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=console,
            disable=json,
        ) as progress,
    ):
        task = progress.add_task("scoring", total=None)
        opened = prodml.Project(project)
        run = opened.predict(
            file,
            output,
            model,
            chunk_rows=chunk_rows,
            on_chunk=lambda rows: progress.update(task, completed=rows),
        )
        if log:
            from prodml.monitor.files import log_predictions

            logging = progress.add_task("logging", total=None)
            logged = log_predictions(
                opened,
                file,
                output,
                model,
                batch=run.id,
                on_chunk=lambda rows: progress.update(logging, completed=rows),
            )
    with reporting():
        unaudited = opened.unaudited(model)
    if unaudited is not None:  # batch scoring is outside the gate, but not silently
        warn(f"{unaudited}; scored with it all the same")
    if json:
        print_json({**run_dict(run), **({"logged": logged} if log else {})})
        return
    params = run.params or {}
    rate = (run.metrics or {}).get("rows_per_second", 0.0)
    console.print(
        f"Scored {run.data_rows:,} rows with {escape(str(params.get('model')))} into "
        f"[bold]{escape(str(output))}[/] ({rate:,.0f} rows/s); run {run.id}"
    )
    if log:
        console.print(f"logged {logged:,} predictions (role batch), for prodml monitor")


def _answer_lines(project: Path, model: str | None) -> None:
    """``prodml predict -``: an answer line on stdout for each line of stdin."""
    from prodml.stream import JsonLines

    stdin, stdout = typer.get_text_stream("stdin"), typer.get_text_stream("stdout")
    read, refused, first = 0, 0, ""
    with reporting(), prodml.Project(project) as opened:
        unaudited = opened.unaudited(model)
        if unaudited is not None:
            warn(f"{unaudited}; answering with it all the same")
        with JsonLines.open(opened, model) as lines:
            for number, line in enumerate(stdin, 1):
                if not line.strip():
                    continue
                read += 1
                answer = lines.answer(line, number)
                stdout.write(answer.text + "\n")
                stdout.flush()  # a pipe's reader gets each answer as it is made
                if answer.error is not None:
                    refused += 1
                    first = first or f"line {number}: {answer.error}"
        if refused:
            raise ProdmlError(
                f"{refused} of {read} lines were refused, each answered by its error (the "
                f"first, {first}); fix those lines and send them again"
            )
