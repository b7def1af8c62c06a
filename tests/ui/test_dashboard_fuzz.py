"""Every route of the dashboard, fuzzed as tests/serve/test_fuzz.py fuzzes the server's:
whatever path parameters, query strings and forms a visitor sends, the answer is a 2xx, a
3xx or a 4xx, never a 5xx. The routes are walked, so a new page is fuzzed as soon as it is
served. Forms carry a valid CSRF token half the time, so the handlers behind the token
are reached too; the project is one of this module's own, since they may change it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route
from starlette.testclient import TestClient

import prodml
from prodml.ui.app import PAGES, create_ui

LOOPBACK = ("127.0.0.1", 50000)
#: The query parameters and form fields the pages read, and some they do not.
KEYS = [
    "endpoint", "span", "empty", "metric", "run", "diff", "kind", "status", "sort", "model",
    "since", "until", "page", "per_page", "next", "reason", "confirm", "mode", "version",
    "label", "note", "key", "zz",
]  # fmt: skip
FUZZ = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
ROUTES = [
    (method, route.path)
    for routes in PAGES
    for route in routes
    if isinstance(route, Route)
    for method in sorted((route.methods or set()) - {"HEAD"})
]
#: Text as visitors send it: ordinary, numbers, dates, a known name, unicode, huge.
TEXT = (
    st.text(max_size=30)
    | st.from_regex(r"-?[0-9]{1,12}", fullmatch=True)
    | st.sampled_from(["bc", "breast-cancer", "breast-cancer:1", "1", "0", "-1", "yes", "5m"])
    | st.sampled_from(["2026-01-01", "9999-99-99", "-started", "accuracy", "%", "../..", "\x00"])
    | st.just("x" * 2_000)  # a long value, within what an HTTP client sends in a URL
)
PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")


@pytest.fixture(scope="module")
def board(
    tmp_path_factory: pytest.TempPathFactory,
    with_canary: Callable[[Path], AbstractContextManager[prodml.Project]],
) -> Iterator[TestClient]:
    """breast-cancer with two audited versions, the second a canary, and no key: this
    machine's visitor may do everything."""
    with (
        with_canary(tmp_path_factory.mktemp("fuzz") / "bc") as project,
        TestClient(create_ui(project), client=LOOPBACK) as client,
    ):
        yield client


def token(client: TestClient) -> str:
    page = client.get("/ui/deployments/breast-cancer").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "the deployment's page carries a CSRF token in its forms"
    return found.group(1)


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
@FUZZ
@given(data=st.data())
def test_no_dashboard_route_answers_a_5xx(
    board: TestClient, method: str, path: str, data: st.DataObject
) -> None:
    filled = PARAMETER.sub(lambda m: quote(data.draw(TEXT, label=m.group(1)), safe=""), path)
    fields = data.draw(st.lists(st.tuples(st.sampled_from(KEYS), TEXT), max_size=6), label="fields")
    url = "/ui" + filled
    if method == "GET":
        answer = board.get(url, params=tuple(fields), follow_redirects=False)
    else:
        if data.draw(st.booleans(), label="with its CSRF token"):
            fields.append(("csrf", token(board)))
        answer = board.post(url, data=dict(fields), follow_redirects=False)
    assert answer.status_code < 500, (method, url, fields, answer.text[:300])
    assert "Traceback" not in answer.text
