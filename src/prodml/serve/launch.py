"""Running the server: uvicorn (uvloop, httptools) with one process or ``workers`` of them.

uvicorn starts worker processes by importing the app by name, so :func:`serve` writes
what to serve into the environment (``PRODML_SERVE``, JSON) and every process builds its
own app from it with :func:`app_from_environment`: its own model, batcher and prediction
log writer, all sharing the project's database. A thread of the calling process waits
for ``/health/ready`` and then calls ``on_ready``, so "ready" means a worker answers.

On Ctrl-C or SIGTERM uvicorn stops accepting, finishes the requests under way, and
the app's shutdown commits what the prediction log holds before the process exits. A
worker process also gets a SIGTERM of its own when the process that started it dies, even
by ``kill -9`` (:func:`stop_with_parent`), rather than serving on as an orphan that holds
the port and the store.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette

from prodml.errors import NotFoundError
from prodml.serve.options import ServeOptions

ENV = "PRODML_SERVE"
FACTORY = "prodml.serve.launch:app_from_environment"

OnReady = Callable[[str, list[str]], None]
#: prctl(2)'s option that has the kernel signal a process when its parent dies (Linux)
PR_SET_PDEATHSIG = 1
#: how often a worker checks that its parent lives (where prctl is missing, or too late)
PARENT_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Launch:
    """What every worker process serves: a project folder, a run, the options; and the
    process that starts the workers (``supervisor``, its pid).

    >>> Launch.from_json(Launch("/p", "abc123", ServeOptions(), 42).to_json()).run
    'abc123'
    """

    project: str
    run: str
    options: ServeOptions
    supervisor: int

    def to_json(self) -> str:
        options = json.loads(self.options.to_json())
        return json.dumps(
            {
                "project": self.project,
                "run": self.run,
                "options": options,
                "supervisor": self.supervisor,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Launch:
        raw = json.loads(text)
        options = ServeOptions.from_json(json.dumps(raw["options"]))
        return cls(raw["project"], raw["run"], options, raw["supervisor"])


def build_app(launch: Launch) -> Starlette:
    """The app of one process: the registry's deployments (or one run's model, when a run
    is given), logging to the project's database (with the ``data.metadata`` fields
    requests carry), admitting the keys it holds, answering by its ``serve.fallback`` rule
    when a model fails."""
    from prodml.deploy.keys import Keys
    from prodml.project import Project
    from prodml.serve.app import create_app
    from prodml.serve.fallback import Fallback
    from prodml.serve.prediction_log import PredictionLog
    from prodml.serve.registry_source import RegistrySource
    from prodml.serve.source import RunSource, Source

    project = Project(launch.project)
    source: Source = (
        RunSource(project, launch.run)
        if launch.run
        else RegistrySource(
            project.registry,
            project.settings.data.metadata,
            project.settings.serve.automation,
            project.settings.serve.unseen,
            project.settings.data.time,
        )
    )
    database = project.runs_store.database
    log = PredictionLog(database, project.settings.log.durability)
    rule = launch.options.fallback
    return create_app(
        source,
        log=log,
        options=launch.options,
        on_stop=project.close,
        keys=Keys(database),
        fallback=None if rule is None else Fallback.load(rule, project.path),
        ui=project if project.settings.serve.ui else None,
    )


def app_from_environment() -> Starlette:
    """uvicorn's app factory in every process: :func:`build_app` of ``PRODML_SERVE``; a
    worker process (not the one that called :func:`serve`) stops with its parent."""
    launch = Launch.from_json(os.environ[ENV])
    if launch.supervisor != os.getpid():
        stop_with_parent(launch.supervisor)
    return build_app(launch)


def stop_with_parent(parent: int) -> None:
    """SIGTERM this process once ``parent`` is no longer its parent (it died, even by
    ``kill -9``): uvicorn then shuts the worker down as on Ctrl-C, so the prediction log
    commits what was acknowledged. uvicorn calls the app factory with its signal handlers
    in place, so a SIGTERM from here on is a clean shutdown.

    On Linux the kernel sends it at once (``prctl(PR_SET_PDEATHSIG)``); a daemon thread
    also compares ``os.getppid()`` with ``parent`` every PARENT_POLL_SECONDS, for a parent
    that died before the prctl call and for systems without prctl.
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="prodml-parent-watch", daemon=True).start()


def resolve(project: Path, run: str | None) -> tuple[str, list[str]]:
    """What to serve, checked before any process starts: the registry's endpoints (run
    ``""``) unless ``run`` is given or nothing is registered; then ``run`` or the newest
    finished fit or search, under the project's name. Registered versions that serve
    nowhere (none passed the audit gate) are not served in their place."""
    from prodml.project import Project
    from prodml.serve.source import RunSource

    with Project(project) as opened:
        endpoints = [d.endpoint for d in opened.registry.deployments()]
        if run is None and endpoints:
            return "", endpoints
        versions = opened.registry.versions() if run is None else []
        if versions:
            newest = versions[0]
            raise NotFoundError(
                f"no endpoint serves a registered model yet: {newest.ref} was registered "
                "but did not pass the audit gate; prodml evaluate, then prodml deploy "
                f"{newest.ref} (or serve a run for development with --run)"
            )
        source = RunSource(opened, run)
        return source.run.id, source.endpoints()


def checked_options(
    project: Path, host: str, options: ServeOptions | None, run: str = ""
) -> ServeOptions:
    """``options`` (default: the project file's ``serve:`` settings), once
    :func:`~prodml.deploy.keys.check_exposed` allows serving them on ``host`` and their
    ``sticky_key`` is a field a request to ``run`` (empty: the registry's deployments) may
    carry (:func:`~prodml.serve.sticky.check_field`), and their ``fallback`` rule loads."""
    from prodml.deploy.keys import Keys, check_exposed
    from prodml.project import Project
    from prodml.serve.fallback import Fallback
    from prodml.serve.sticky import check_field, fields_served

    with Project(project) as opened:
        if options is None:
            options = ServeOptions(**opened.settings.serve.options())
        check_exposed(host, Keys(opened.runs_store.database), admin=options.admin)
        if options.sticky_key is not None:
            check_field(options.sticky_key, fields_served(opened, run))
        if options.fallback is not None:
            Fallback.load(options.fallback, opened.path)
    return options


def serve(
    project: Path,
    run: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    options: ServeOptions | None = None,
    on_ready: OnReady | None = None,
    reload: bool = False,
) -> None:
    """Serve ``run`` of ``project`` until interrupted; ``on_ready(url, endpoints)`` once
    ``/health/ready`` answers 200. Refuses a ``host`` other machines reach while the admin
    routes are on and no key exists, and a sticky key no request carries
    (:func:`checked_options`). ``reload`` (for development, one process): the server
    starts again whenever a Python or YAML file in the project's folder changes."""
    import uvicorn

    run_id, endpoints = resolve(project, run)
    options = checked_options(project, host, options, run_id)
    launch = Launch(str(Path(project).resolve()), run_id, options, os.getpid())
    os.environ[ENV] = launch.to_json()
    url = f"http://{_url_host(host)}:{port}"
    if on_ready is not None:
        threading.Thread(
            target=_wait_ready, args=(url, endpoints, on_ready), name="prodml-ready", daemon=True
        ).start()
    # uvicorn shuts down cleanly on Ctrl-C or SIGTERM, then passes the signal on: the way out
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(
            FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            reload=reload,
            reload_dirs=[launch.project] if reload else None,
            reload_includes=["*.py", "*.yaml", "*.yml"] if reload else None,
            loop="uvloop",
            http="httptools",
            lifespan="on",
            log_level="warning",
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=30,
        )


def _url_host(host: str) -> str:
    """Where to reach a server bound to ``host`` from this machine."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _wait_ready(url: str, endpoints: list[str], on_ready: OnReady) -> None:
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as answer:
                if answer.status == 200:
                    on_ready(url, endpoints)
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
