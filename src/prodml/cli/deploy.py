"""``prodml deploy``, ``promote``, ``rollback`` and ``deployments`` (``show``, ``compare``,
``check``): what each endpoint serves, the changes that put a new version in front of its
traffic, and how that version compares with the primary."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

import prodml
from prodml.cli import app
from prodml.cli.comparison import show_comparison as show_comparison  # the demo shows it too
from prodml.cli.models import events_table
from prodml.cli.render import console, fmt, print_json
from prodml.cli.shell import ForceOption, JsonOption, ProjectOption, ReasonOption, reporting
from prodml.config import window_seconds
from prodml.deploy.plan import DEFAULT_MIN_REQUESTS, DEFAULT_RAMP, DEFAULT_STEP_SECONDS
from prodml.errors import ConfigError

if TYPE_CHECKING:
    from prodml.deploy.canary import CanaryCheck
    from prodml.registry import Deployment, Mode

EndpointArgument = Annotated[str, typer.Argument(help="The endpoint (its model's name).")]
RAMP = ",".join(f"{step:g}" for step in DEFAULT_RAMP)


@app.command(
    epilog="Examples:  prodml deploy loans:1    prodml deploy loans:2 --shadow    "
    "prodml deploy loans:2 --canary --ramp 5,50,100 --step 30m    "
    "prodml deploy loans:2 --blue-green    prodml deploy loans --stop"
)
def deploy(
    ref: Annotated[
        str,
        typer.Argument(
            help="name:VERSION to deploy; with --stop, the endpoint whose candidate to drop."
        ),
    ],
    shadow: Annotated[
        bool, typer.Option("--shadow", help="The candidate sees a copy of the traffic.")
    ] = False,
    canary: Annotated[
        bool, typer.Option("--canary", help="The candidate answers a growing share.")
    ] = False,
    blue_green: Annotated[
        bool,
        typer.Option(
            "--blue-green", help="The candidate is loaded, takes no traffic until promoted."
        ),
    ] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Drop the endpoint's candidate.")] = False,
    sample: Annotated[float, typer.Option(help="Share of requests a shadow sees (0 to 1).")] = 1.0,
    ramp: Annotated[
        str, typer.Option(help="A canary's shares, percent, increasing to 100.")
    ] = RAMP,
    step: Annotated[
        str, typer.Option(help="Shortest time at each canary step (30s, 10m, 1h).")
    ] = f"{DEFAULT_STEP_SECONDS / 60:g}m",
    min_requests: Annotated[
        int, typer.Option(help="Fewest canary requests a step needs to advance.")
    ] = DEFAULT_MIN_REQUESTS,
    force: ForceOption = False,
    reason: ReasonOption = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Serve a registered version: as the first primary of its endpoint, or beside the
    primary as a shadow, a canary or a blue-green candidate.

    The audit gate refuses a version whose latest evaluation failed its audit, or that was
    never evaluated; --force --reason "..." overrides it, and the reason is recorded.
    Servers on the same store pick the change up within seconds.
    """
    choices: tuple[tuple[Mode, bool], ...] = (
        ("shadow", shadow),
        ("canary", canary),
        ("blue-green", blue_green),
    )
    modes = [mode for mode, chosen in choices if chosen]
    with reporting():
        if len(modes) + stop > 1:
            raise ConfigError(
                "give one of --shadow, --canary, --blue-green and --stop, not several"
            )
        deployer = prodml.Project(project).deployer()
        if stop:
            deployment = deployer.stop(ref.partition(":")[0], reason=reason)
        else:
            deployment = deployer.deploy(
                ref,
                modes[0] if modes else None,
                sample=sample,
                ramp=_numbers("--ramp", ramp),
                step_seconds=_seconds(step),
                min_requests=min_requests,
                force=force,
                reason=reason,
            )
    _show_change(deployment, json)


@app.command(epilog='Examples:  prodml promote loans    prodml promote loans --reason "ok"')
def promote(
    endpoint: EndpointArgument,
    force: ForceOption = False,
    reason: ReasonOption = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Make the endpoint's candidate its primary (the audit gate applies again); the old
    primary is kept for `prodml rollback`."""
    with reporting():
        deployer = prodml.Project(project).deployer()
        deployment = deployer.promote(endpoint, force=force, reason=reason)
    _show_change(deployment, json)


@app.command(epilog='Examples:  prodml rollback loans    prodml rollback loans --reason "p99"')
def rollback(
    endpoint: EndpointArgument,
    reason: ReasonOption = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """End a canary (its traffic back to the primary), or, with none, serve the previous
    primary again. Servers keep the previous primary loaded, so nothing loads."""
    with reporting():
        deployment = prodml.Project(project).deployer().rollback(endpoint, reason=reason)
    _show_change(deployment, json)


class _Deployments(TyperGroup):
    """``prodml deployments``: a first word that names none of its commands is the
    endpoint of ``show``, so ``prodml deployments [NAME]`` shows, and ``prodml
    deployments compare NAME`` compares."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = ["show", *args]
        return super().parse_args(ctx, args)


deployments_app = typer.Typer(
    cls=_Deployments,
    help="What each endpoint serves, and the candidate beside its primary: [bold]prodml "
    "deployments [NAME][/] shows them (the show command); compare and check look at one "
    "endpoint's shadow or canary.",
    epilog="Examples:  prodml deployments    prodml deployments loans --json    "
    "prodml deployments compare loans --html compare.html    prodml deployments check loans",
    rich_markup_mode="rich",
)
app.add_typer(deployments_app, name="deployments")


@deployments_app.command(
    epilog="Examples:  prodml deployments    prodml deployments loans    "
    "prodml deployments loans --json"
)
def show(
    endpoint: Annotated[
        str | None,
        typer.Argument(help="One endpoint, with its events and canary.", show_default="all"),
    ] = None,
    events: Annotated[int, typer.Option(help="How many of the newest events to show.")] = 10,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """What each endpoint serves; the default: prodml deployments [NAME].

    Each endpoint's primary, candidate (mode, share, ramp step) and previous primary; for
    one endpoint, its newest events (who, why, evidence) and, for a canary, each guard:
    both arms' counts, the difference with its always-valid interval, and the smallest
    harm detectable at the traffic so far."""
    with reporting():
        opened = prodml.Project(project, migrate=False)
        registry = opened.registry
        canary = None
        if endpoint is not None and endpoint in opened.canaries():
            canary = opened.canary(endpoint)
        found = [registry.deployment(endpoint)] if endpoint else registry.deployments()
        history = registry.events(endpoint)[-events:] if endpoint else []
    if json:
        print_json(
            [
                {
                    **deployment_dict(d),
                    **({"events": [asdict(e) for e in history]} if endpoint else {}),
                    **({"canary": canary_dict(canary)} if canary else {}),
                }
                for d in found
            ]
        )
        return
    if not found:
        console.print(
            "No endpoint yet. Evaluate and register a model ([bold]prodml evaluate[/], "
            "[bold]prodml models register[/]), or [bold]prodml deploy NAME:1[/]."
        )
        return
    table = Table(title_justify="left")
    for column in ("endpoint", "primary", "candidate", "share", "previous", "rev"):
        table.add_column(column, overflow="fold")
    for d in found:
        table.add_row(
            escape(d.endpoint),
            str(d.primary),
            _candidate(d),
            "-" if d.candidate is None else f"{d.candidate.share:g}%",
            fmt(d.previous),
            str(d.revision),
        )
    console.print(table)
    if history:
        console.print(events_table(history))
    if canary is not None:
        show_canary(canary)


@deployments_app.command(
    epilog="Examples:  prodml deployments compare loans    "
    "prodml deployments compare loans --html compare.html    "
    "prodml deployments compare loans --json"
)
def compare(
    endpoint: EndpointArgument,
    html: Annotated[
        Path | None, typer.Option(help="Also write a self-contained HTML page (works offline).")
    ] = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """The primary beside its shadow or canary (with none now, the last it had).

    A shadow, on the requests both answered: agreement with its 95% interval, the
    confusion between their answers, and on feedback each one's accuracy with McNemar's
    paired test (a regressor: quantiles of |difference|). A canary, over the same period
    since it began: each one's answers by class and accuracy on its own labelled answers.
    Both: latency and server-error rates with the differences, drift between the two
    outputs, and all of it per slice of evaluate.slices (metadata columns are not in the
    prediction log, so only slices of the model's inputs can be cut).
    """
    with reporting():
        found = prodml.Project(project, migrate=False).shadow_comparison(endpoint)
        if html is not None:
            from prodml.deploy.html import render

            html.write_text(render(asdict(found)), encoding="utf-8")
    if json:
        print_json(asdict(found))
        return
    show_comparison(found)
    if html is not None:
        console.print(f"HTML report: [bold]{escape(str(html))}[/]")


@deployments_app.command(
    epilog="Examples:  prodml deployments check loans    prodml deployments check loans --json"
)
def check(
    endpoint: EndpointArgument, project: ProjectOption = Path("."), json: JsonOption = False
) -> None:
    """Look at the endpoint's canary once and act on its guards.

    Roll back on harm; advance when its step has its time and requests, with no harm
    shown; else hold. prodml monitor does it for every canary on each pass."""
    with reporting():
        canary = prodml.Project(project).check_canary(endpoint)
    if json:
        print_json({**canary_dict(canary), "deployment": deployment_dict(canary.deployment)})
        return
    show_canary(canary)
    _show_change(canary.deployment, json=False)


def canary_dict(canary: CanaryCheck) -> dict[str, Any]:
    """A canary look as JSON: what was done, why, and the evidence."""
    return {
        "action": canary.action,
        "not_proven": canary.not_proven,
        "reason": canary.decision.reason,
        **canary.evidence(),
    }


def show_canary(canary: CanaryCheck) -> None:
    """Each guard of a canary look, and what was done."""
    table = Table(title="canary guards", title_justify="left")
    for column in ("guard", "canary", "primary", "difference (interval)", "detectable"):
        table.add_column(column, overflow="fold")
    for r in canary.decision.guards:
        table.add_row(
            r.guard.name,
            f"{r.candidate.events:,}/{r.candidate.n:,}",
            f"{r.primary.events:,}/{r.primary.n:,}",
            f"{r.difference:+.2%} ({r.low:+.2%} to {r.high:+.2%})",
            "-" if r.detectable == float("inf") else f"{r.detectable:.2%}",
        )
    console.print(table)
    console.print(escape(canary.summary))


def deployment_dict(deployment: Deployment) -> dict[str, Any]:
    """A deployment as JSON."""
    return asdict(deployment)


def _candidate(deployment: Deployment) -> str:
    candidate = deployment.candidate
    if candidate is None:
        return "-"
    text = f"{candidate.version} {candidate.mode}"
    ramp = candidate.plan.get("ramp")
    if ramp and candidate.ramp_step is not None:
        text += f" step {candidate.ramp_step + 1}/{len(ramp)}"
    return text


def _show_change(deployment: Deployment, json: bool) -> None:
    if json:
        print_json(deployment_dict(deployment))
        return
    primary = f"{deployment.name}:{deployment.primary}"
    line = f"Endpoint [bold]{escape(deployment.endpoint)}[/] serves {primary}"
    if deployment.candidate is not None:
        line += (
            f", with {deployment.name}:{_candidate(deployment)} at {deployment.candidate.share:g}%"
        )
    console.print(f"{line} (revision {deployment.revision}).")
    console.print(f"Next: [bold]prodml deployments {escape(deployment.endpoint)}[/]")


def _numbers(option: str, text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise ConfigError(
            f"{option} {text!r} is not a list of numbers; give percentages separated by "
            f"commas, e.g. {RAMP}"
        ) from None


def _seconds(text: str) -> float:
    try:
        return window_seconds(text)
    except ValueError as exc:
        raise ConfigError(f"--step {exc}") from None
