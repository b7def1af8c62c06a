"""Signing in with an API key, and out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from prodml.ui.access import checked_form
from prodml.ui.render import page, path
from prodml.ui.state import dashboard


def form(request: Request) -> Response:
    return page(request, "signin.html", None, next=_next(request.query_params.get("next")))


async def sign_in(request: Request) -> Response:
    sent = await checked_form(request)
    key = sent.get("key")
    dashboard(request).access.sign_in(request, key if isinstance(key, str) else "")
    target = sent.get("next")
    return RedirectResponse(_next(target if isinstance(target, str) else None), 303)


async def sign_out(request: Request) -> Response:
    await checked_form(request)
    request.session.clear()
    return RedirectResponse(path(request, "signin"), 303)


def _next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never another host)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "./"


ROUTES = [
    Route("/signin", form, methods=["GET"], name="signin"),
    Route("/signin", sign_in, methods=["POST"], name="sign_in"),
    Route("/signout", sign_out, methods=["POST"], name="sign_out"),
]
