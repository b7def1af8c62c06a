"""``prodml models``: register a run's model as a numbered version, list versions, show one."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

import prodml
from prodml.cli.render import Column, FittedTable, console, fmt, print_json
from prodml.cli.shell import (
    ForceOption,
    JsonOption,
    ProjectOption,
    ReasonOption,
    WideOption,
    reporting,
)

if TYPE_CHECKING:
    from prodml.registry import Deployment, DeploymentEvent, ModelVersion

app = typer.Typer(
    help="The model registry: numbered versions of fitted models, with their lineage.",
    epilog="Examples:  prodml models register    prodml models list    "
    "prodml models show breast-cancer:2",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

NameOption = Annotated[
    str | None,
    typer.Option(
        "--name", help="The model's name (also its endpoint's).", show_default="the project's name"
    ),
]


@app.command(
    epilog="Examples:  prodml models register    prodml models register 3f2a --name loans-gbm    "
    "prodml models register --json"
)
def register(
    run: Annotated[
        str | None,
        typer.Argument(help="A run id or prefix.", show_default="the newest fit or search"),
    ] = None,
    name: NameOption = None,
    force: ForceOption = False,
    reason: ReasonOption = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Register a run's model as the next version of a model name.

    The version keeps the run's lineage: data fingerprint, input schema and the latest
    evaluation's audit verdict. The first version of a name becomes the primary of an
    endpoint of that name when its audit passed, so `prodml serve` serves it at once;
    later versions serve only through `prodml deploy`.
    """
    with reporting():
        opened = prodml.Project(project)
        version = opened.register(run, name, force=force, reason=reason)
        deployments = opened.registry.deployments()
    show_registered(version, deployments, json=json)


@app.command(
    "list",
    epilog="Examples:  prodml models list    prodml models list --name loans    "
    "prodml models list --json",
)
def list_models(
    name: Annotated[str | None, typer.Option(help="Only the versions of this model.")] = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
    wide: WideOption = False,
) -> None:
    """List registered versions, newest first: run, data, audit verdict, which is primary."""
    with reporting():
        registry = prodml.Project(project, migrate=False).registry
        versions = registry.versions(name)
        deployments = registry.deployments()
    if json:
        print_json([version_dict(v, deployments) for v in versions])
        return
    if not versions:
        console.print(
            "No models registered yet. Register the newest fit with "
            "[bold]prodml models register[/]."
        )
        return
    table = FittedTable(
        [
            Column("name", "id"),
            Column("version", "number"),
            Column("run", "id"),
            Column("created", "id", drop=2),
            Column("data", "id", drop=3),
            Column("audit", "id", drop=1),
            Column("primary of"),
        ]
    )
    for version in versions:
        table.add_row(
            escape(version.name),
            str(version.version),
            version.run_id,
            f"{version.created_at:%Y-%m-%d %H:%M}",
            (version.data_fingerprint or "-")[:12],
            _verdict(version.audit_passed),
            escape(", ".join(primary_of(version, deployments))),
        )
    table.print(wide)


@app.command(
    epilog="Examples:  prodml models show breast-cancer    prodml models show loans:3    "
    "prodml models show loans:latest --json"
)
def show(
    ref: Annotated[
        str, typer.Argument(help="name (its endpoint's primary), name:VERSION or name:latest.")
    ],
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Show one version: its lineage (run, data, schema, evaluation) and deployment events."""
    with reporting():
        opened = prodml.Project(project, migrate=False)
        registry = opened.registry
        version = registry.get(ref)
        run = opened.run(version.run_id)
        deployments = registry.deployments()
        events = [
            event
            for deployment in deployments
            if deployment.name == version.name
            for event in registry.events(deployment.endpoint)
            if event.version == version.version
        ]
    columns = len((version.input_schema or {}).get("columns", []))
    if json:
        print_json(
            {
                **version_dict(version, deployments),
                "data_source": run.data_source,
                "schema_columns": columns,
                "events": [asdict(e) for e in events],
            }
        )
        return
    facts = Table.grid(padding=(0, 2))
    for label, value in (
        ("model", f"[bold]{escape(version.ref)}[/]"),
        ("registered", fmt(f"{version.created_at:%Y-%m-%d %H:%M:%S} UTC")),
        ("run", fmt(f"{run.id} ({run.kind}, project {run.project})")),
        ("data", fmt(f"{run.data_source} ({run.data_rows} rows)")),
        ("fingerprint", fmt(version.data_fingerprint)),
        ("schema", f"{columns} columns" if version.input_schema else "none recorded"),
        ("evaluation", _evaluation(version)),
        ("primary of", fmt(", ".join(primary_of(version, deployments)) or None)),
    ):
        facts.add_row(f"[bold]{label}[/]", value)
    console.print(facts)
    if events:
        console.print(events_table(events))


@app.command(
    epilog="Examples:  prodml models delete loans:2    "
    'prodml models delete loans:2 --reason "superseded by loans:3" --json    '
    "prodml models delete loans:2 --keep-run"
)
def delete(
    ref: Annotated[str, typer.Argument(help="name:VERSION, the version to delete.")],
    reason: ReasonOption = None,
    keep_run: Annotated[
        bool,
        typer.Option(
            "--keep-run",
            help="Keep the run the version came from, with its files, to register or "
            "compare it later (prodml runs delete RUN removes it then).",
        ),
    ] = False,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Delete a registered version and the files nothing else needs; its number is never
    given again.

    Refused while an endpoint serves it (as primary or candidate) or keeps it as the
    primary prodml rollback brings back. The run it came from goes too, with its artifact
    files, evaluations and a search's candidates, unless --keep-run or another version (of
    any name) comes from that run: then the run and every file stay. Only files under this
    store's artifact folder are removed. Each deletion is an event with who and --reason.
    """
    from prodml.deploy.changes import who

    with reporting(), prodml.Project(project) as opened:
        deleted = opened.registry.delete(ref, actor=who(), reason=reason, keep_run=keep_run)
    version, run = deleted.version, deleted.run
    if json:
        print_json(
            {
                **version_dict(version, []),
                "run_deleted": run is not None,
                "artifacts_removed": [] if run is None else [a.uri for a in run.artifacts],
                "run_kept_for": list(deleted.kept_for),
            }
        )
        return
    said = f"Deleted [bold]{escape(version.ref)}[/]"
    if run is not None:
        files = len(run.artifacts)
        console.print(f"{said} and its run {run.id} with its {files} artifact files.")
    elif deleted.kept_for:
        console.print(
            f"{said}. Its run {version.run_id} stays, with its files: "
            f"{escape(', '.join(deleted.kept_for))} also come from it."
        )
    else:
        console.print(
            f"{said}. Its run {version.run_id} stays, with its files (--keep-run): "
            f"[bold]prodml runs delete {version.run_id}[/] removes them."
        )


@app.command(
    "export",
    epilog="Examples:  prodml models export loans:3 loans-3    "
    "prodml models export loans:3 loans-3-mlflow --format mlflow    "
    "prodml models export loans:3 loans-3 --json",
)
def export_version(
    ref: Annotated[str, typer.Argument(help="name:VERSION, or name (its endpoint's primary).")],
    folder: Annotated[Path, typer.Argument(help="Where to write: a new or empty folder.")],
    form: Annotated[
        Literal["prodml", "mlflow"],
        typer.Option(
            "--format",
            help="prodml: a folder prodml models import reads into another store. mlflow: an "
            "MLflow model folder (MLmodel, signature, input example, requirements) for "
            "mlflow models serve --env-manager local, where prodml is installed.",
        ),
    ] = "prodml",
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Write a registered version into one folder, to move it to another store or to MLflow.

    The prodml format holds the run's artifacts (the model, the reference profile...), the
    input schema, the newest evaluation and manifest.json with every file's SHA-256; the
    version is written under a temporary name and moved into place when whole.
    """
    from prodml.mlflow_model import export_mlflow
    from prodml.registry_export import export_version as export_prodml

    write = export_mlflow if form == "mlflow" else export_prodml
    with reporting(), prodml.Project(project, migrate=False) as opened:
        exported = write(opened.registry, ref, folder)
    if json:
        print_json(
            {
                "ref": exported.version.ref,
                "folder": str(exported.folder),
                "format": form,
                "files": exported.files,
            }
        )
        return
    console.print(
        f"Exported [bold]{escape(exported.version.ref)}[/] (run {exported.version.run_id}) "
        f"into [bold]{escape(str(exported.folder))}[/]: {len(exported.files)} files."
    )
    if form == "mlflow":
        console.print(
            f"Serve it with [bold]mlflow models serve -m {escape(str(folder))} "
            "--env-manager local[/] where prodml is installed."
        )
    else:
        console.print(
            f"Next, in another project: [bold]prodml models import {escape(str(folder))}[/]"
        )


@app.command(
    "import",
    epilog="Examples:  prodml models import loans-3    "
    "prodml models import loans-3 --name loans-from-staging    prodml models import loans-3 --json",
)
def import_version(
    folder: Annotated[Path, typer.Argument(help="A folder prodml models export wrote.")],
    name: Annotated[
        str | None,
        typer.Option("--name", help="Register it under this name.", show_default="its name there"),
    ] = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Register a version exported from another store as the next version of its name.

    Every file is checked against the SHA-256 in manifest.json before anything is written;
    the run keeps its id, so the lineage reads the same in both stores. As with prodml
    models register, a first version whose audit passed opens an endpoint of its name.
    Importing the same folder again changes nothing.
    """
    from prodml.registry_export import import_version as import_folder

    with reporting(), prodml.Project(project) as opened:
        imported = import_folder(opened.registry, folder, name)
        deployments = opened.registry.deployments()
    version = imported.version
    if json:
        print_json(
            {
                **version_dict(version, deployments),
                "source": imported.source,
                "added": imported.added,
            }
        )
        return
    if not imported.added:
        console.print(
            f"This store has {escape(imported.source)} already, as [bold]{escape(version.ref)}[/] "
            f"(run {version.run_id}); nothing imported."
        )
        return
    console.print(f"Imported {escape(imported.source)} from {escape(str(folder))}.")
    show_registered(version, deployments)


def show_registered(
    version: ModelVersion, deployments: list[Deployment], *, json: bool = False
) -> None:
    """What a registration says: the new version, and the endpoint it is primary of."""
    if json:
        print_json(version_dict(version, deployments))
        return
    console.print(
        f"Registered [bold]{escape(version.ref)}[/] from run {version.run_id} "
        f"(audit: {_verdict(version.audit_passed)})."
    )
    serving = primary_of(version, deployments)
    for endpoint in serving:
        console.print(f"It is the primary of endpoint [bold]{escape(endpoint)}[/].")
    if serving:
        console.print(f"Next: [bold]prodml models show {escape(version.ref)}[/]")
    elif not any(d.name == version.name for d in deployments):
        deploy = f"[bold]prodml deploy {escape(version.ref)}[/]"
        if version.audit_passed:
            console.print(f"It serves nowhere yet. Next: {deploy}.")
        else:
            why = "was never evaluated" if version.audit_passed is None else "failed its audit"
            console.print(
                f"It serves nowhere: it {why}. Next: "
                f"[bold]prodml evaluate {version.run_id[:8]}[/], then {deploy}."
            )
    else:
        console.print(
            f"Next: [bold]prodml deploy {escape(version.ref)} --shadow[/] (or --canary, "
            "--blue-green) to try it beside the primary."
        )


def version_dict(version: ModelVersion, deployments: list[Deployment]) -> dict[str, Any]:
    """A version as JSON: its fields, its ref and the endpoints it is the primary of."""
    return {
        "ref": version.ref,
        **asdict(version),
        "primary_of": primary_of(version, deployments),
    }


def primary_of(version: ModelVersion, deployments: list[Deployment]) -> list[str]:
    """The endpoints that serve ``version`` as their primary."""
    return [
        d.endpoint for d in deployments if (d.name, d.primary) == (version.name, version.version)
    ]


def _verdict(passed: bool | None) -> str:
    if passed is None:
        return "not evaluated"
    return "[green]pass[/]" if passed else "[red]fail[/]"


def _evaluation(version: ModelVersion) -> str:
    if version.evaluation_id is None:
        return "not evaluated (prodml evaluate, then register again)"
    return f"{version.evaluation_id}, audit {_verdict(version.audit_passed)}"


def events_table(events: list[DeploymentEvent]) -> Table:
    """Deployment events: when, what, which version, who and why, and the detail."""
    table = Table(title="events", title_justify="left")
    for column in ("at (UTC)", "action", "ver", "by", "why / detail"):
        table.add_column(column, overflow="fold")
    for event in events:
        why = "; ".join(part for part in (event.reason, _detail(event.detail or {})) if part)
        table.add_row(
            f"{event.at:%m-%d %H:%M:%S}",
            event.action,
            fmt(event.version),
            fmt(event.actor),
            fmt(why or None),
        )
    return table


def _detail(detail: dict[str, Any]) -> str:
    """An event's detail on a line or two: each guard of an automatic decision as its
    counts (events/observations of each arm) and its statistic against the threshold."""
    parts = []
    for key, value in detail.items():
        if key == "guards":
            parts += [
                f"{name} {g['candidate']['events']}/{g['candidate']['n']} against "
                f"{g['primary']['events']}/{g['primary']['n']}, statistic "
                f"{g['statistic']:.3g} (threshold {g['threshold']:.3g})"
                for name, g in value.items()
            ]
        elif value is not None and key != "verdict":  # the reason says the verdict
            parts.append(f"{key}={_value(value)}")
    return ", ".join(parts)


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_value(v) for v in value)
    if isinstance(value, dict):
        return "(" + ", ".join(f"{k} {_value(v)}" for k, v in value.items()) + ")"
    return f"{value:.4g}" if isinstance(value, float) else str(value)
