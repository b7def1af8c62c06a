"""Models and deployments: registered versions with their lineage and audit verdict; an
endpoint's deployment, its events with their evidence, its candidate beside the primary,
and the changes an operator makes (deploy, promote, roll back, stop), each with a reason
and a confirmation."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from prodml.deploy.html import render
from prodml.errors import ConfigError, NotFoundError, listing
from prodml.registry import MODES
from prodml.ui.access import checked_form
from prodml.ui.render import page, path
from prodml.ui.state import dashboard

if TYPE_CHECKING:
    from prodml.deploy.changes import Deployer
    from prodml.deploy.compare import Comparison
    from prodml.project import Project

#: the changes an operator may make, and what each asks the deployer to do
ACTIONS = ("deploy", "promote", "rollback", "stop")


def models(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    registry = board.project.registry
    deployments = registry.deployments()
    primaries = {(d.name, d.primary): d.endpoint for d in deployments}
    return page(
        request,
        "models.html",
        visitor,
        versions=registry.versions(),
        deployments=deployments,
        primaries=primaries,
    )


def deployment(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    project = board.project
    endpoint = request.path_params["endpoint"]
    found = project.registry.deployment(endpoint)
    canary = project.canary(endpoint) if endpoint in project.canaries() else None
    return page(
        request,
        "deployment.html",
        visitor,
        deployment=found,
        events=project.registry.events(endpoint)[::-1],
        versions=project.registry.versions(found.name),
        canary=canary,
        comparison=_comparison(project, endpoint),
        modes=MODES,
    )


def comparison_report(request: Request) -> Response:
    """The candidate beside the primary, as ``prodml deployments compare --html`` draws it."""
    board = dashboard(request)
    board.access.visitor(request)
    found = board.project.shadow_comparison(request.path_params["endpoint"])
    return HTMLResponse(render(asdict(found)))


async def change(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.require(request, "operator")
    form = await checked_form(request)
    endpoint, action = request.path_params["endpoint"], request.path_params["action"]
    if action not in ACTIONS:
        raise NotFoundError(f"no change {action!r}; changes are: {listing(ACTIONS)}")
    reason = _confirmed(form, action, endpoint)
    deployer = board.project.deployer(visitor.name)
    await run_in_threadpool(_apply, deployer, action, endpoint, form, reason)
    return RedirectResponse(path(request, "deployment", endpoint=endpoint), 303)


def _apply(deployer: Deployer, action: str, endpoint: str, form: FormData, reason: str) -> None:
    if action == "promote":
        deployer.promote(endpoint, reason=reason)
    elif action == "rollback":
        deployer.rollback(endpoint, reason=reason)
    elif action == "stop":
        deployer.stop(endpoint, reason=reason)
    else:
        name = deployer.registry.deployment(endpoint).name
        mode = _field(form, "mode")
        if mode not in MODES:
            raise ConfigError(f"mode {mode!r} is not one of {listing(MODES)}")
        deployer.deploy(f"{name}:{_field(form, 'version')}", mode, reason=reason)


def _confirmed(form: FormData, action: str, endpoint: str) -> str:
    """The change's reason, once the form confirms it; else a ConfigError saying what to
    fill in."""
    reason = _field(form, "reason").strip()
    if not reason or _field(form, "confirm") != "yes":
        raise ConfigError(
            f"{action} on endpoint {endpoint} needs a reason (recorded with the change) and "
            "the confirmation box ticked; fill in both and send again"
        )
    return reason


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _comparison(project: Project, endpoint: str) -> Comparison | None:
    """The endpoint's candidate beside its primary (or the last it had); None if it never
    had one."""
    try:
        return project.shadow_comparison(endpoint)
    except NotFoundError:
        return None


ROUTES = [
    Route("/models", models, methods=["GET"], name="models"),
    Route("/deployments/{endpoint}", deployment, methods=["GET"], name="deployment"),
    Route(
        "/deployments/{endpoint}/compare",
        comparison_report,
        methods=["GET"],
        name="comparison",
    ),
    Route("/deployments/{endpoint}/{action}", change, methods=["POST"], name="change"),
]
