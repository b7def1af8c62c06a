"""The runs pages: a page of runs, runs side by side, one run in full (and registering
its model, for operators)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from prodml.errors import NotFoundError
from prodml.evaluate.html import render_html
from prodml.evaluate.metrics import headline
from prodml.tracking.evaluation import EVALUATED_KINDS
from prodml.ui.access import checked_form
from prodml.ui.render import page, path
from prodml.ui.runs_query import COLUMNS, KINDS, STATUSES, RunQuery, run_page
from prodml.ui.state import dashboard

if TYPE_CHECKING:
    from prodml.project import Project
    from prodml.store.datasets import Dataset


def runs(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    project = board.project
    data = project.settings.data
    chosen = tuple(request.query_params.getlist("metric")) or (
        f"test.{headline(project.settings.task, data.positive_class)}",
    )
    query = RunQuery.parse(request.query_params, chosen)
    found = run_page(project.runs_store.database, project.name, query)
    return page(
        request,
        "runs.html",
        visitor,
        found=found,
        kinds=KINDS,
        statuses=STATUSES,
        columns=COLUMNS,
        params=request.query_params,
    )


def compare(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    chosen = request.query_params.getlist("run")
    comparison = board.project.compare(chosen or None)
    only_differences = request.query_params.get("diff") == "1"
    return page(
        request, "compare.html", visitor, comparison=comparison, only_differences=only_differences
    )


def run(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    project = board.project
    found = project.run(request.path_params["run"])
    evaluable = found.kind in EVALUATED_KINDS
    return page(
        request,
        "run.html",
        visitor,
        run=found,
        children=project.runs(parent=found.id),
        evaluations=project.evaluations(found.id) if evaluable else [],
        dataset=_dataset(project, found.id),
        registrable=evaluable and found.status == "finished",
    )


def evaluation(request: Request) -> Response:
    """An evaluation's own page: the report ``prodml evaluate --html`` writes."""
    board = dashboard(request)
    board.access.visitor(request)
    wanted = request.path_params["evaluation"]
    for found in board.project.evaluations(request.path_params["run"]):
        if found.id == wanted:
            return HTMLResponse(render_html(found.result))
    raise NotFoundError(f"run {request.path_params['run']} has no evaluation {wanted!r}")


async def register(request: Request) -> Response:
    board = dashboard(request)
    board.access.require(request, "operator")
    await checked_form(request)
    version = await run_in_threadpool(board.project.register, request.path_params["run"])
    target = path(request, "models") + f"#{version.name}-{version.version}"
    return RedirectResponse(target, 303)


def _dataset(project: Project, run_id: str) -> Dataset | None:
    try:
        return project.dataset(run_id)
    except NotFoundError:
        return None


ROUTES = [
    Route("/runs", runs, methods=["GET"], name="runs"),
    Route("/runs/compare", compare, methods=["GET"], name="compare"),
    Route("/runs/{run}", run, methods=["GET"], name="run"),
    Route("/runs/{run}/evaluations/{evaluation}", evaluation, methods=["GET"], name="evaluation"),
    Route("/runs/{run}/register", register, methods=["POST"], name="register"),
]
