"""``prodml ui``: the dashboard in a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prodml.cli import app
from prodml.cli.render import console
from prodml.cli.shell import ProjectOption, reporting


@app.command(
    epilog="Examples:  prodml ui    prodml ui --port 9000    prodml ui --project loans    "
    "prodml ui --server http://127.0.0.1:8000    "
    "prodml ui --host 0.0.0.0  (once a key exists: prodml keys create ana --role viewer)"
)
def ui(
    project: ProjectOption = Path("."),
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. The default, loopback, answers only this machine "
            "(no sign-in while no key exists); another address needs a key to sign in with."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8100,
    server: Annotated[
        list[str] | None,
        typer.Option(
            help="A prodml serve whose /metrics the live page shows beside the log "
            "(requests in flight, breakers, failed loads, dropped shadow copies), as "
            "http://HOST:PORT; repeat it for each server.",
        ),
    ] = None,
) -> None:
    """Show the dashboard until Ctrl-C: runs, models and deployments, live traffic,
    monitoring, alerts and the review queue.

    Once any API key exists, pages need a key of role viewer to sign in with; deploying,
    promoting, rolling back and stopping need operator, answering reviews reviewer.
    `prodml serve` shows the same pages at /ui with serve.ui: true in prodml.yaml.
    """
    from prodml.ui.launch import run, url
    from prodml.ui.server_metrics import scraped

    with reporting():
        servers = [scraped(address) for address in server or ()]
        console.print(f"Dashboard at [bold]{url(host, port)}[/]; Ctrl-C stops")
        run(project, host, port, servers)
    console.print("stopped")
