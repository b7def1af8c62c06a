"""What every command shares: the project option, JSON option and error reporting."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from prodml.cli.render import errors
from prodml.errors import MESSAGE_LIMIT, ProdmlError, shortened

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
WideOption = Annotated[
    bool,
    typer.Option("--wide", help="Every column of the tables, even when wider than the terminal."),
]
ReasonOption = Annotated[
    str | None, typer.Option("--reason", help="Why: recorded with the change.")
]
ForceOption = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Let a version whose audit failed (or that was never evaluated) "
        "through the gate; needs --reason.",
    ),
]


@contextlib.contextmanager
def reporting() -> Iterator[None]:
    """Turn prodml's errors (and a path the system refuses) into one red line and exit
    code 1; Ctrl-C into 130."""
    try:
        yield
    except ProdmlError as exc:
        _error(str(exc))
    except OSError as exc:
        if exc.filename is None:
            raise  # not about a path: shown in full
        # a path given on the command line that the file system refuses (a folder where a
        # file is written, a missing parent folder, no permission)
        _error(f"cannot use {exc.filename}: {exc.strerror}; check the path")
    except KeyboardInterrupt:
        errors.print("[bold red]interrupted[/]", markup=True)
        raise typer.Exit(130) from None


def _error(message: str) -> NoReturn:
    errors.print(f"[bold red]error:[/] {escape(shortened(message, MESSAGE_LIMIT))}", markup=True)
    raise typer.Exit(1) from None
