"""``prodml config``: the project's settings as its files and environment compose them, each
value with the file it came from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from prodml.cli import app
from prodml.cli.render import console, print_json
from prodml.cli.shell import JsonOption, ProjectOption, reporting

if TYPE_CHECKING:
    from prodml.config_files import Composed, Key, Origin


@app.command(
    epilog="Examples:  prodml config    PRODML_CONFIG=base.yaml,prod.yaml prodml config    "
    "prodml config --defaults    prodml config --json"
)
def config(
    project: ProjectOption = Path("."),
    defaults: Annotated[
        bool, typer.Option("--defaults", help="Also every setting the files leave at its default.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Show the project's settings, merged and resolved, each value with the file it came from.

    The files are prodml.yaml, or those PRODML_CONFIG lists (base.yaml,prod.yaml: a later
    one wins), each after the files its extends: names; ${VAR} and ${VAR:-default} in any
    value are read from the environment. The settings are then checked as every command
    checks them: a mistake is one error line, after the table.
    """
    from prodml.config import parse_settings
    from prodml.config_files import compose

    folder = project.resolve()
    with reporting():
        composed = compose(folder)
    shown = {key: _source(origin, folder) for key, origin in composed.origins.items()}
    left: dict[Key, Any] = {}
    if defaults:
        with reporting():
            settings = parse_settings(composed.raw)
        left = {
            key: value
            for key, value in _leaves(settings.model_dump(mode="json"), ()).items()
            if not any(_under(key, set_key) or _under(set_key, key) for set_key in shown)
        }
    if json:
        print_json(
            {
                "files": [_shown(file, folder) for file in composed.files],
                "settings": composed.raw,
                "sources": {".".join(key): source for key, source in shown.items()},
                **({"defaults": {".".join(k): v for k, v in left.items()}} if defaults else {}),
            }
        )
    else:
        _print(composed, folder, shown, left)
    with reporting():
        parse_settings(composed.raw)


def _print(
    composed: Composed, folder: Path, shown: dict[Key, dict[str, Any]], left: dict[Key, Any]
) -> None:
    files = ", ".join(_shown(file, folder) for file in composed.files)
    via = " (PRODML_CONFIG)" if os.environ.get("PRODML_CONFIG") else ""
    console.print(f"Settings of [bold]{escape(str(folder))}[/] from {escape(files)}{via}:")
    table = Table(title_justify="left")
    table.add_column("key", no_wrap=True)  # a key is what a user searches for: never cut
    table.add_column("value", overflow="fold")
    table.add_column("from", no_wrap=True)
    values = _leaves(composed.raw, ())
    for key, source in shown.items():
        variables = ", ".join(f"${name}" for name in source["variables"])
        origin = source["file"] + (f" ({variables})" if variables else "")
        table.add_row(escape(".".join(key)), escape(_text(values[key])), escape(origin))
    for key, value in left.items():
        table.add_row(escape(".".join(key)), escape(_text(value)), "[dim]default[/]")
    console.print(table)


def _source(origin: Origin, folder: Path) -> dict[str, Any]:
    return {"file": _shown(origin.file, folder), "variables": list(origin.variables)}


def _shown(file: Path, folder: Path) -> str:
    """A file as the user named it: relative to the project folder when it is inside."""
    return str(file.relative_to(folder)) if file.is_relative_to(folder) else str(file)


def _leaves(tree: dict[str, Any], key: Key) -> dict[Key, Any]:
    """Every value of ``tree`` that is not a mapping, by its key path."""
    found: dict[Key, Any] = {}
    for name, value in tree.items():
        here = (*key, str(name))
        if isinstance(value, dict) and value:
            found.update(_leaves(value, here))
        else:
            found[here] = value
    return found


def _under(key: Key, prefix: Key) -> bool:
    return key[: len(prefix)] == prefix


def _text(value: Any) -> str:
    """A value as text: text as it is, anything else in YAML's flow style, a list of
    mappings (audit rules, alerts) one item a line."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return "\n".join(_text(item) for item in value)
    flow = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6)
    return str(flow).strip().removesuffix("\n...")
