"""``prodml keys create / list / revoke``: the API keys a server admits, and their roles."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

import prodml
from prodml.cli import app
from prodml.cli.render import console, fmt, print_json
from prodml.cli.shell import JsonOption, ProjectOption, reporting

if TYPE_CHECKING:
    from datetime import datetime

    from prodml.deploy.keys import Keys

keys_app = typer.Typer(
    help="API keys for the server's routes that change state: a viewer < reviewer < "
    "operator < admin role each, stored hashed in the project's store. There is no default "
    "key; once one exists, POST /feedback needs a reviewer's.",
    epilog="Examples:  prodml keys create ci --role operator    prodml keys list    "
    "prodml keys revoke ci",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(keys_app, name="keys")

Name = Annotated[str, typer.Argument(help="The key's name, unique in the store.")]


@keys_app.command(
    "create",
    epilog="Examples:  prodml keys create ci --role operator    "
    "prodml keys create labeler --role reviewer",
)
def create(
    name: Name,
    role: Annotated[
        str,
        typer.Option(help="viewer, reviewer (feedback), operator (deploy) or admin (all)."),
    ],
    project: ProjectOption = Path("."),
) -> None:
    """Create a key of ROLE and print it, once: only its hash is stored. Send it as
    'Authorization: Bearer KEY'."""
    with reporting():
        info, key = _keys(project).create(name, role)
        console.print(f"Created key [bold]{escape(info.name)}[/] (id {info.id}, role {info.role}):")
        print(key)
        console.print("It will not be shown again: keep it now, e.g. in a secret store.")


@keys_app.command("list", epilog="Examples:  prodml keys list    prodml keys list --json")
def list_keys(project: ProjectOption = Path("."), json: JsonOption = False) -> None:
    """Every key: name, id, role, when it was created and revoked (never the key)."""
    with reporting():
        found = _keys(project, migrate=False).list()
        rows = [
            {
                "name": k.name,
                "id": k.id,
                "role": k.role,
                "created_at": k.created_at.isoformat(),
                "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            }
            for k in found
        ]
        if json:
            print_json(rows)
            return
        if not rows:
            console.print("No keys; create one with prodml keys create NAME --role operator.")
            return
        table = Table("name", "id", "role", "created", "revoked", title="API keys")
        for k in found:
            table.add_row(fmt(k.name), k.id, k.role, _when(k.created_at), _when(k.revoked_at))
        console.print(table)


@keys_app.command("revoke", epilog="Examples:  prodml keys revoke ci")
def revoke(name: Name, project: ProjectOption = Path(".")) -> None:
    """Revoke the key NAME: every server refuses it within seconds. Its name stays taken."""
    with reporting():
        info = _keys(project).revoke(name)
        console.print(
            f"Key [bold]{escape(info.name)}[/] (id {info.id}, role {info.role}) is revoked "
            f"since {_when(info.revoked_at)}."
        )


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def _keys(project: Path, *, migrate: bool = True) -> Keys:
    from prodml.deploy.keys import Keys

    return Keys(prodml.Project(project, migrate=migrate).runs_store.database)
