"""``prodml runs``: what was tried, one run in full, runs side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

import prodml
from prodml.cli.render import (
    comparison_table,
    console,
    fmt,
    metrics_table,
    print_json,
    run_dict,
    runs_table,
    split_table,
    split_warnings,
    status,
)
from prodml.cli.shell import JsonOption, ProjectOption, ReasonOption, WideOption, reporting

app = typer.Typer(
    help="What was tried: list runs, show one, compare several.",
    epilog="Examples:  prodml runs list    prodml runs show 3f2a    prodml runs compare",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


@app.command("list", epilog="Examples:  prodml runs list    prodml runs list --parent RUN --json")
def list_runs(
    project: ProjectOption = Path("."),
    limit: Annotated[int, typer.Option(help="Show at most this many runs.", min=1)] = 20,
    parent: Annotated[
        str | None, typer.Option(help="List the children of a run (a search's candidates).")
    ] = None,
    json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """List the project's runs, newest first."""
    with reporting():
        opened = prodml.Project(project, migrate=False)
        runs = opened.runs(limit=limit, parent=parent)
    if json:
        print_json([run_dict(r) for r in runs])
        return
    if not runs:
        console.print("No runs yet. Start with [bold]prodml fit[/].")
        return
    from prodml.evaluate.metrics import headline

    data = opened.settings.data
    metric = headline(opened.settings.task, data.positive_class)
    runs_table(runs, metric).print(wide)


@app.command(
    epilog="Examples:  prodml runs show    prodml runs show 3f2a    prodml runs show 3f2a --json"
)
def show(
    run: Annotated[
        str | None, typer.Argument(help="Run id or a unique prefix; default newest.")
    ] = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Show one run in full: where it ran, its data, split, parameters, metrics, artifacts."""
    with reporting():
        opened = prodml.Project(project, migrate=False)
        found = opened.run(run)
        children = opened.runs(parent=found.id)
    if json:
        print_json({**run_dict(found), "children": [run_dict(c) for c in children]})
        return
    facts = Table.grid(padding=(0, 2))
    env = found.environment or {}
    code = found.code_commit and f"{found.code_commit}{' (dirty)' if found.code_dirty else ''}"
    for name, value in (
        ("run", found.id),
        ("kind", found.kind),
        ("status", status(found.status)),
        ("parent", found.parent_id),
        ("started", found.started_at),
        ("ended", found.ended_at),
        ("host / pid", f"{found.host} / {found.pid}"),
        ("code", code or "not a git repository"),
        ("model", (found.model_spec or {}).get("factory")),
        ("data", f"{found.data_source} ({found.data_rows} rows)"),
        ("fingerprint", found.data_fingerprint),
        ("split", _split(found.split)),
        ("fit", f"{fmt(found.fit_seconds)} s wall, {fmt(found.cpu_seconds)} s CPU"),
        ("peak memory", f"{(found.peak_memory_bytes or 0) / 2**20:.1f} MiB"),
        ("python", env.get("python")),
        ("packages", ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items())),
    ):
        facts.add_row(f"[bold]{name}[/]", status(found.status) if name == "status" else fmt(value))
    console.print(facts)
    if found.error:
        console.print(f"[red]error:[/] {escape(found.error)}")
    if found.split and found.split.get("counts"):
        console.print(split_table(found.split))
        split_warnings(found.split)
    if found.metrics:
        console.print(metrics_table(found, title="metrics"))
    if found.params:
        params = Table("parameter", "value", title="parameters", title_justify="left")
        for key, value in found.params.items():
            params.add_row(escape(key), fmt(value))
        console.print(params)
    if found.artifacts:
        files = Table("artifact", "sha256", "bytes", "uri", title="artifacts", title_justify="left")
        for a in found.artifacts:
            files.add_row(a.name, a.sha256, str(a.size_bytes), a.uri)
        console.print(files)
    if children:
        metric = next(iter(children[0].metrics or {"": 0}), "")
        console.print(f"{len(children)} candidates (prodml runs list --parent {found.id}):")
        ranked = sorted(children, key=lambda c: -((c.metrics or {}).get(metric) or float("-inf")))
        table = Table("run", "status", escape(metric), "parameters", title_justify="left")
        for child in ranked:
            table.add_row(
                child.id,
                status(child.status),
                fmt((child.metrics or {}).get(metric)),
                escape(_varied(child.params or {}, found.model_spec or {})),
            )
        console.print(table)


@app.command(
    epilog="Examples:  prodml runs compare    prodml runs compare 3f2a 9c1e 77d0    "
    "prodml runs compare --diff"
)
def compare(
    runs: Annotated[
        list[str] | None, typer.Argument(help="Runs to compare; default the two newest fits.")
    ] = None,
    project: ProjectOption = Path("."),
    diff: Annotated[bool, typer.Option("--diff", help="Only rows that differ.")] = False,
    json: JsonOption = False,
) -> None:
    """Compare runs side by side: data, split, parameters and metrics; differences in yellow."""
    with reporting():
        comparison = prodml.Project(project, migrate=False).compare(runs)
    if json:
        print_json(comparison.to_dict())
        return
    console.print(comparison_table(comparison, only_differences=diff))


@app.command(
    epilog="Examples:  prodml runs delete 3f2a    "
    'prodml runs delete 3f2a --reason "wrong data" --json'
)
def delete(
    run: Annotated[str, typer.Argument(help="Run id or a unique prefix.")],
    reason: ReasonOption = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Delete a run and its files: artifacts, evaluations and, for a search, its candidates.

    Refused while the run is under way, and while a model version is registered from it:
    delete those first with prodml models delete NAME:VERSION. The deletion is an event
    of the store, with who, when, --reason and what the run had (its model, parameters,
    data, test metrics and the SHA-256 of each file).
    """
    from prodml.deploy.changes import who

    with reporting(), prodml.Project(project) as opened:
        deleted = opened.runs_store.delete(run, actor=who(), reason=reason)
    if json:
        print_json(run_dict(deleted))
        return
    files = len(deleted.artifacts)
    console.print(
        f"Deleted run {deleted.id} ({deleted.kind}, {deleted.status}) and its {files} "
        f"artifact files."
    )


def _split(record: dict[str, Any] | None) -> str:
    if not record:
        return "-"
    sizes = record.get("sizes", {})
    shown = ", ".join(f"{k} {v}" for k, v in sizes.items())
    return f"{record.get('method')} ({shown})" if shown else str(record.get("method"))


def _varied(params: dict[str, Any], spec: dict[str, Any]) -> str:
    names = (spec.get("search") or {}).get("params") or {}
    return ", ".join(f"{k}={params.get(k)}" for k in names) or "-"
