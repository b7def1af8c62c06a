"""``prodml serve``: the model as an HTTP service (native, MLflow and V2 protocols)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import prodml
from prodml.cli import app
from prodml.cli.render import console, warn
from prodml.cli.shell import ProjectOption, reporting
from prodml.errors import ProdmlError


@app.command(
    epilog="Examples:  prodml serve    prodml serve --port 9000 --workers 2    "
    "prodml serve --host 0.0.0.0    prodml serve --run 5b431d86    prodml serve --reload",
)
def serve(
    project: ProjectOption = Path("."),
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on. The default, loopback, answers only this machine; "
            "0.0.0.0 answers every network it is on, once an API key exists (prodml keys "
            "create) or serve.admin is false."
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Server processes (one model and one thread each).", min=1)
    ] = 1,
    run: Annotated[
        str | None,
        typer.Option(
            help="Serve this run instead of the registry's deployments.",
            show_default="the registered primaries; without any, the newest fit",
        ),
    ] = None,
    reload: Annotated[
        bool,
        typer.Option(
            "--reload",
            help="For development: start again whenever a .py or .yaml file of the project "
            "changes (prodml.yaml, rules); one process. The serve: settings (port, keys, "
            "batching) stay as they were at the start.",
        ),
    ] = False,
) -> None:
    """Serve a model over HTTP until Ctrl-C: prodml's /predict, MLflow's /invocations and
    the Open Inference Protocol (/v2), with health, /metrics, /openapi.json and its page at
    /docs.

    Requests are checked against the model's input schema, batched, and every answered
    prediction is logged in the project's store before its answer is sent. A request may
    give the time of the event it is about (the data.time field in its rows, or
    "parameters": {"time": ...} on V2, "params": {"time": ...} on MLflow, ISO 8601 with
    its zone): prodml monitor's windows of time follow it, and count predictions that
    come after their window closed (monitor.lateness) as late_rows.
    """
    from prodml.serve.launch import serve as run_server

    def ready(url: str, endpoints: list[str]) -> None:
        console.print(f"Serving [bold]{', '.join(endpoints)}[/] at [bold]{url}[/]; Ctrl-C stops")
        console.print("  prodml  POST /predict")
        console.print("  MLflow  POST /invocations")
        for name in endpoints:
            console.print(f"  V2      POST /v2/models/{name}/infer")
        console.print("  health  GET  /health/ready  /metrics  /openapi.json")
        console.print(f"  docs    GET  /docs: the API to read and try, at {url}/docs")

    with reporting():
        if reload and workers > 1:
            raise ProdmlError(
                f"--reload serves one process, and --workers is {workers}; drop one of them "
                "(--reload is for development)"
            )
        if run is not None:  # a run, not a deployment: the audit gate does not stand between
            with prodml.Project(project) as opened:
                unaudited = opened.unaudited(run=run)
            if unaudited is not None:
                warn(f"{unaudited}; serving it anyway (--run is outside the audit gate)")
        run_server(
            project, run, host=host, port=port, workers=workers, on_ready=ready, reload=reload
        )
    console.print("stopped")
