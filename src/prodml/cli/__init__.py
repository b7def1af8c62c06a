"""The ``prodml`` command: a thin shell over :class:`prodml.Project`.

Each command parses its options, makes one library call and renders the result; a
:class:`~prodml.errors.ProdmlError` becomes one red line on stderr and exit code 1.
"""

from __future__ import annotations

import signal
from importlib.metadata import version as metadata_version
from types import FrameType
from typing import Annotated

import typer

from prodml.cli import data as data_commands
from prodml.cli import models as models_commands
from prodml.cli import runs as runs_commands
from prodml.cli.helptext import HelpGroup

app = typer.Typer(
    name="prodml",
    cls=HelpGroup,
    help="prodml: from a first baseline to a monitored production service.\n\n"
    "Start with [bold]prodml demo[/], or [bold]prodml init loans --example loans[/].",
    epilog="Examples:  prodml demo    prodml init loans --example loans    "
    "prodml fit -C loans    prodml runs compare -C loans",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(runs_commands.app, name="runs")
app.add_typer(data_commands.app, name="data")
app.add_typer(models_commands.app, name="models")


def _version(asked: bool) -> None:
    if asked:
        print(f"prodml {metadata_version('prodml')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print prodml's version and exit.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    """The options of ``prodml`` itself, before a command."""


def main() -> None:
    """Entry point of the ``prodml`` command."""
    signal.signal(signal.SIGTERM, _interrupt)  # record a terminated fit as failed, too
    app()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


# The commands register themselves on ``app`` when imported.
from prodml.cli import (  # noqa: E402, F401
    automation,
    config,
    demo,
    deploy,
    evaluate,
    fit,
    init,
    keys,
    log,
    monitor,
    predict,
    retrain,
    review,
    serve,
    store,
    ui,
)
