"""``prodml init``: a new project folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import prodml
from prodml.cli import app
from prodml.cli.render import console
from prodml.cli.shell import reporting
from prodml.examples import EXAMPLES


@app.command(
    epilog="Examples:  prodml init loans --example loans    prodml init my-project",
)
def init(
    folder: Annotated[Path, typer.Argument(help="The new project folder (new or empty).")],
    example: Annotated[
        str | None,
        typer.Option(help=f"Start from an example: {', '.join(EXAMPLES)}."),
    ] = None,
) -> None:
    """Create a project folder: prodml.yaml, data and a README that says what to run next.

    Without --example the folder gets a commented prodml.yaml to fill in.
    """
    with reporting():
        path = prodml.init(folder, example=example)
    what = f"the {example} example" if example else "a blank, commented prodml.yaml"
    console.print(f"Created [bold]{path}[/] from {what}.")
    if example:
        console.print(f"Next: [bold]cd {folder} && prodml fit --sanity && prodml fit[/]")
    else:
        console.print(f"Next: fill in {folder}/prodml.yaml, then [bold]prodml fit --sanity[/]")
