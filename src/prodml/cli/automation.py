"""``prodml automation NAME [LEVEL]``: who decides an endpoint's predictions, the model or
a person, and what each confidence threshold would cost."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

import prodml
from prodml.cli import app
from prodml.cli.render import console, print_json
from prodml.cli.shell import JsonOption, ProjectOption, ReasonOption, reporting

if TYPE_CHECKING:
    from prodml.automation.threshold import Point
    from prodml.config import Level

#: Coverage steps the curve's table shows (the JSON has every threshold).
STEPS = 20


@app.command(
    epilog="Examples:  prodml automation loans    prodml automation loans --curve    "
    "prodml automation loans partial --target-error 0.05    "
    "prodml automation loans partial --defer-below 0.7 --audit-sample 0.01"
)
def automation(
    endpoint: Annotated[str, typer.Argument(help="The endpoint (its model's name).")],
    level: Annotated[
        str | None,
        typer.Argument(
            help="human (a person decides, no suggestion shown), assist (a person, with the "
            "model's suggestion), partial (the model above a confidence, a person below) or "
            "full (the model).",
            show_default="show the current one",
        ),
    ] = None,
    defer_below: Annotated[
        float | None,
        typer.Option(help="partial: a person decides answers less confident than this."),
    ] = None,
    target_error: Annotated[
        float | None,
        typer.Option(
            help="partial: instead, the error tolerated among the model's own decisions; the "
            "lowest threshold whose 95% bound on the dev split meets it is chosen."
        ),
    ] = None,
    audit_sample: Annotated[
        float,
        typer.Option(help="Share of the model's own decisions also sent to the review queue."),
    ] = 0.0,
    curve: Annotated[
        bool,
        typer.Option(
            "--curve",
            help="Show coverage against error for each threshold: what each costs in "
            "people's time.",
        ),
    ] = False,
    reason: ReasonOption = None,
    project: ProjectOption = Path("."),
    json: JsonOption = False,
) -> None:
    """Show or set who decides ENDPOINT's predictions. Deferred answers say so (status
    deferred) and go to the review queue (prodml review); every change is an event, and
    every server applies it within seconds."""
    with reporting():
        opened = prodml.Project(project, migrate=level is not None)
        if level is not None:
            deployment = opened.automate(
                endpoint,
                _level(level),
                defer_below=defer_below,
                target_error=target_error,
                audit_sample=audit_sample,
                reason=reason,
            )
            setting = deployment.automation or {}
        else:
            setting = opened.registry.deployment(endpoint).automation or {"level": "full"}
        points = opened.automation_curve(endpoint) if curve else []
    if json:
        from prodml.automation.threshold import as_dict

        shown = [as_dict(p) for p in points]
        print_json({"endpoint": endpoint, "automation": setting, "curve": shown})
        return
    console.print(f"[bold]{escape(endpoint)}[/]: {described(setting)}")
    if points:
        console.print(_table(points))


def _level(text: str) -> Level:
    from prodml.automation.levels import LEVELS
    from prodml.errors import ConfigError, listing

    for level in LEVELS:
        if level == text:
            return level
    raise ConfigError(f"automation level {text!r} does not exist; give one of {listing(LEVELS)}")


def described(setting: dict[str, object]) -> str:
    level = setting.get("level", "full")
    said = {
        "full": "the model decides every prediction",
        "assist": "a person decides every prediction, with the model's suggestion",
        "human": "a person decides every prediction; the model's answer is logged, not shown",
        "partial": f"the model decides at confidence {setting.get('defer_below') or 0:.3f} or "
        "above, a person below",
    }[str(level)]
    chosen = setting.get("chosen") or {}
    if isinstance(chosen, dict) and chosen:
        said += (
            f" (chosen for a target error of {chosen['target_error']:g}: on the "
            f"{chosen['on']}, {chosen['coverage']:.1%} automatic, error {chosen['error']:.2%}, "
            f"95% bound {chosen['upper']:.2%}, {chosen['rows']:,} rows)"
        )
    sample = setting.get("audit_sample") or 0
    if isinstance(sample, float) and sample > 0:
        said += f"; {sample:.1%} of its own decisions are audited"
    return said


def _table(points: list[Point]) -> Table:
    """One row a coverage step: the lowest threshold that automates at most that share."""
    from prodml.automation.threshold import thinned

    table = Table(title="coverage against error on the dev split", title_justify="left")
    for column in ("threshold", "automatic", "errors", "error", "95% bound"):
        table.add_column(column, justify="right")
    for p in thinned(points, STEPS):
        table.add_row(
            f"{p.threshold:.3f}",
            f"{p.coverage:.0%} ({p.automatic:,})",
            f"{p.errors:,}",
            f"{p.error:.2%}",
            f"{p.upper:.2%}",
        )
    return table
