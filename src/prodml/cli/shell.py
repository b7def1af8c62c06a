"""What every command shares: the project option, JSON option and error reporting."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from prodml.cli.render import errors
from prodml.errors import ProdmlError

ProjectOption = Annotated[
    Path,
    typer.Option(
        "--project",
        "-C",
        help="The project folder (holding prodml.yaml).",
        show_default="the current folder",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


@contextlib.contextmanager
def reporting() -> Iterator[None]:
    """Turn prodml's errors into one red line and exit code 1; Ctrl-C into 130."""
    try:
        yield
    except ProdmlError as exc:
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        errors.print("[bold red]interrupted[/]", markup=True)
        raise typer.Exit(130) from None
