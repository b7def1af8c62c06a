"""Running the dashboard on its own: ``prodml ui``, uvicorn on one process.

It refuses to listen beyond loopback while the store holds no key (anyone reaching it
would see everything and could deploy), as ``prodml serve`` does for its admin routes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

from prodml.deploy.keys import Keys, is_loopback
from prodml.errors import KeysError
from prodml.project import Project
from prodml.ui.app import PREFIX, create_ui
from prodml.ui.server_metrics import MetricsSource


def check_host(host: str, keys: Keys) -> None:
    """Refuse (:class:`KeysError`) to show the dashboard on ``host``, an address other
    machines reach, while no key exists to sign in with.

    >>> import tempfile
    >>> from prodml.store.database import Database
    >>> check_host("127.0.0.1", Keys(Database(f"sqlite:///{tempfile.mkdtemp()}/p.db")))
    """
    if is_loopback(host) or keys.any_made():
        return
    raise KeysError(
        f"--host {host} would show the dashboard (and its deploy, promote and rollback "
        "buttons) to other machines, and no key exists to sign in with; create one with "
        "`prodml keys create NAME --role viewer` (operator to change deployments), or "
        "serve on 127.0.0.1"
    )


def url(host: str, port: int) -> str:
    """Where a browser on this machine opens the dashboard.

    >>> url("0.0.0.0", 8100)
    'http://127.0.0.1:8100/ui/'
    """
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{PREFIX}/"


def run(
    folder: Path,
    host: str = "127.0.0.1",
    port: int = 8100,
    servers: Sequence[MetricsSource] = (),
) -> None:
    """Show the dashboard of the project in ``folder`` on ``host``:``port`` until Ctrl-C,
    its live page reading the ``/metrics`` of ``servers``."""
    import uvicorn

    project = Project(folder)
    try:
        check_host(host, Keys(project.runs_store.database))
        app = create_ui(project, servers)
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.run(
                app,
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                proxy_headers=False,
                server_header=False,
            )
    finally:
        project.close()
