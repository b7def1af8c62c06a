"""``prodml fit``: a tracked fit, a hyperparameter search, or the sanity check."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import prodml
from prodml.cli import app
from prodml.cli.models import NameOption, show_registered, version_dict
from prodml.cli.render import (
    console,
    duration,
    metrics_table,
    print_json,
    run_dict,
    split_warnings,
    status,
)
from prodml.cli.shell import ProjectOption, reporting

if TYPE_CHECKING:
    from prodml.store.runs import Run
    from prodml.tracking.search import Candidate


@app.command(
    epilog="Examples:  prodml fit    prodml fit --sanity    prodml fit --search    "
    "prodml fit --model sklearn.dummy.DummyClassifier    prodml fit --register --name loans    "
    "prodml fit --json",
)
def fit(
    project: ProjectOption = Path("."),
    search: Annotated[
        bool, typer.Option("--search", help="Search the hyperparameters in search: (CV).")
    ] = False,
    sanity: Annotated[
        bool,
        typer.Option("--sanity", help="Only check that the model can overfit a small subset."),
    ] = False,
    rows: Annotated[int, typer.Option(help="Rows for --sanity.", min=2)] = 100,
    model: Annotated[
        str | None,
        typer.Option(help="Fit this factory instead of model: (e.g. a baseline)."),
    ] = None,
    register: Annotated[
        bool,
        typer.Option("--register", help="Register the fitted model as the next version."),
    ] = False,
    name: NameOption = None,
    json: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Fit the project's model on the training split and record the run.

    A run records the code version, the data fingerprint, the split, every parameter,
    metrics on train, dev and test, fit time, peak memory, package versions and the
    model artifact with its SHA-256. With --register, the model becomes the next version
    of the project's model (or of --name) in the registry.
    """
    if search and (sanity or model):
        raise typer.BadParameter("--search goes alone: without --sanity or --model")
    if sanity and register:
        raise typer.BadParameter("--register needs a fit or --search; --sanity keeps no model")
    if name is not None and not register:
        raise typer.BadParameter("--name is the name to register under; add --register")
    with reporting():
        opened = prodml.Project(project)
        if sanity:
            result = opened.sanity(rows)
            if json:
                print_json(
                    {
                        "passed": result.passed,
                        "score": result.score,
                        "metric": result.metric,
                        "rows": result.rows,
                        "run": result.run.id,
                    }
                )
            else:
                colour = "green" if result.passed else "red"
                console.print(f"[{colour}]{result.message}[/]")
            raise typer.Exit(0 if result.passed else 1)
        if search:
            run = _search(opened, quiet=json)
        else:
            spec = prodml.ModelSpec(factory=model) if model else None
            with contextlib.nullcontext() if json else console.status("fitting..."):
                run = opened.fit(spec)
        registered = opened.register(run.id, name) if register else None
        deployments = opened.registry.deployments() if register else []
    if json:
        extra = {} if registered is None else {"registered": version_dict(registered, deployments)}
        print_json({**run_dict(run), **extra})
        return
    show_finished(run)
    if registered is not None:
        show_registered(registered, deployments)


def show_finished(run: Run) -> None:
    """The short report after a fit: id, status, time, and the metrics."""
    console.print(
        f"Run [bold]{run.id}[/] {status(run.status)} ({run.kind}) in {duration(run)}, "
        f"peak memory {(run.peak_memory_bytes or 0) / 2**20:.0f} MiB"
    )
    split_warnings(run.split)
    console.print(metrics_table(run))
    console.print(f"Next: [bold]prodml runs show {run.id}[/] or [bold]prodml runs compare[/]")


def _search(project: prodml.Project, quiet: bool) -> Run:
    with Progress(
        TextColumn("search"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        disable=quiet,
    ) as progress:
        task = progress.add_task("", total=None)
        best: list[tuple[float, dict[str, Any]]] = []  # the best score so far, and its params

        def advance(done: int, total: int, candidate: Candidate) -> None:
            score = candidate.score
            if score is not None and math.isfinite(score) and (not best or score > best[0][0]):
                best[:] = [(score, candidate.params)]
            shown = f"best {best[0][0]:.4f} with {best[0][1]}" if best else "none scored yet"
            progress.update(task, completed=done, total=total, description=escape(shown))

        return project.search(advance)
