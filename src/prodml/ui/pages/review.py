"""The review queue: the next item for the signed-in reviewer, its inputs, the model's
suggestion and confidence, answered with one click (or a key press); the queue's size
and this session's progress and agreement with the model so far."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from prodml.errors import ConfigError, NotFoundError
from prodml.store.review import ReviewQueue
from prodml.store.runs import utc_now
from prodml.ui.access import checked_form
from prodml.ui.render import page, path
from prodml.ui.state import dashboard

#: the session's counts: items answered, and how many agreed with the model's suggestion
ANSWERED, AGREED = "answered", "agreed"


def queue(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    project = board.project
    endpoints = [d.endpoint for d in project.registry.deployments()]
    return page(
        request,
        "review.html",
        visitor,
        items=project.review_queue.items(limit=50),
        backlog={name: project.review_queue.backlog(name) for name in endpoints},
        now=utc_now(),
        empty=request.query_params.get("empty") == "1",
        **_progress(request),
    )


def item(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.visitor(request)
    queue = board.project.review_queue
    request_id = request.path_params["request_id"]
    found = queue.get(request_id)
    if found is None:
        raise NotFoundError(f"no review item for request {request_id}; see the review queue")
    return page(
        request,
        "review_item.html",
        visitor,
        item=found,
        classes=queue.classes(found) or (),
        answers=queue.answers(request_id),
        **_progress(request),
    )


async def take_next(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.require(request, "reviewer")
    await checked_form(request)
    return await _next(request, board.project.review_queue, visitor.name)


async def answer(request: Request) -> Response:
    board = dashboard(request)
    visitor = board.access.require(request, "reviewer")
    form = await checked_form(request)
    label, note = form.get("label"), form.get("note")
    if not isinstance(label, str) or not label:
        raise ConfigError("the answer has no label; press one of the classes' buttons")
    queue = board.project.review_queue
    request_id = request.path_params["request_id"]
    noted = note if isinstance(note, str) and note else None
    done = await run_in_threadpool(queue.answer, request_id, visitor.name, label, noted)
    suggested = (done.suggestion or {}).get("label")
    request.session[ANSWERED] = int(request.session.get(ANSWERED, 0)) + 1
    request.session[AGREED] = int(request.session.get(AGREED, 0)) + (
        suggested is not None and str(suggested) == label
    )
    return await _next(request, queue, visitor.name)


async def _next(request: Request, queue: ReviewQueue, reviewer: str) -> Response:
    """On to the reviewer's next item, or back to the queue when none is left."""
    leased = await run_in_threadpool(queue.next, reviewer)
    if leased is None:
        return RedirectResponse(path(request, "review") + "?empty=1", 303)
    return RedirectResponse(path(request, "review_item", request_id=leased.request_id), 303)


def _progress(request: Request) -> dict[str, int]:
    return {
        "answered": int(request.session.get(ANSWERED, 0)),
        "agreed": int(request.session.get(AGREED, 0)),
    }


ROUTES = [
    Route("/review", queue, methods=["GET"], name="review"),
    Route("/review/next", take_next, methods=["POST"], name="review_next"),
    Route("/review/{request_id}", item, methods=["GET"], name="review_item"),
    Route("/review/{request_id}/answer", answer, methods=["POST"], name="review_answer"),
]
