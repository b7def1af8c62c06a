"""``prodml store``: where the store's schema stands, and its migrations run on request."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

import prodml
from prodml.cli import app
from prodml.cli.render import console, print_json
from prodml.cli.shell import JsonOption, ProjectOption, reporting

if TYPE_CHECKING:
    from prodml.store.database import Database, Migration

store_app = typer.Typer(
    help="The store's schema: which migration it is at, and running the ones it lacks.\n\n"
    "Commands that write (fit, serve, monitor, deploy, ui...) bring the store to the newest "
    "migration when they open it; commands that only read (runs list, models show, monitor "
    "report...) never change it, and stop on an older store until it is upgraded. These "
    "show and run the migrations on their own (before a rollout, or on a shared "
    "PostgreSQL).",
    epilog="Examples:  prodml store current    prodml store upgrade    prodml store current --json",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(store_app, name="store")


@store_app.command(epilog="Examples:  prodml store current    prodml store current --json")
def current(project: ProjectOption = Path("."), json: JsonOption = False) -> None:
    """Say which migration the project's store is at, the newest this prodml knows and
    the ones it lacks, without changing anything (a store made by a newer prodml is
    reported, not opened)."""
    with reporting(), _database(project) as database:
        state = database.migrations()
    if json:
        print_json({**asdict(state), "newer": state.newer})
        return
    console.print(f"store  [bold]{escape(state.url)}[/]")
    if state.newer:
        console.print(
            f"at     {state.current}, a migration this prodml does not know (its newest is "
            f"{state.head}): a newer prodml made it; upgrade prodml (pip install -U prodml)"
        )
    elif not state.pending:
        console.print(f"at     {state.current}, the newest: nothing to run")
    else:
        where = "no prodml tables yet" if state.current is None else state.current
        count = len(state.pending)
        console.print(f"at     {where}; {count} migrations to the newest, {state.head}:")
        console.print(_table(state.pending))
        console.print("Next: [bold]prodml store upgrade[/]")


@store_app.command(epilog="Examples:  prodml store upgrade    prodml store upgrade --json")
def upgrade(project: ProjectOption = Path("."), json: JsonOption = False) -> None:
    """Run the migrations the project's store lacks, oldest first, in one transaction
    under a lock (other processes opening the store wait for it). A store made by a newer
    prodml is refused: upgrade prodml instead."""
    with reporting(), _database(project) as database:
        before = database.migrations()
        applied = database.upgrade()
    if json:
        print_json(
            {
                "url": before.url,
                "from": before.current,
                "to": before.head,
                "applied": [asdict(migration) for migration in applied],
            }
        )
        return
    if not applied:
        console.print(f"The store is at {before.head}, the newest; nothing to run.")
        return
    start = "an empty database" if before.current is None else before.current
    console.print(f"Upgraded [bold]{escape(before.url)}[/] from {start} to {before.head}:")
    console.print(_table(applied))


@contextlib.contextmanager
def _database(project: Path) -> Iterator[Database]:
    """The project's database, opened as it is (not migrated)."""
    from prodml.store.database import Database

    database = Database(prodml.Project(project).database_url, migrate=False)
    try:
        yield database
    finally:
        database.dispose()


def _table(migrations: tuple[Migration, ...] | list[Migration]) -> Table:
    table = Table("migration", "what it does", title_justify="left")
    table.columns[1].overflow = "fold"
    for migration in migrations:
        table.add_row(migration.revision, escape(migration.doc))
    return table
