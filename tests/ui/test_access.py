"""Who may see and do what: sign-in with a key once any exists, the session cookie, roles
per action, CSRF tokens, and this machine alone while no key exists."""

from __future__ import annotations

import html
import os
import re
import stat
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import prodml
from prodml.deploy.keys import ROLES, Keys
from prodml.ui.access import SESSION_COOKIE
from prodml.ui.app import PAGES, create_ui
from prodml.ui.secret import FILE

#: Every route of the dashboard and the least role that may use it (None: anyone, to sign
#: in and out). A new route fails the first test below until it is added here, with its role.
ACCESS: dict[tuple[str, str], str | None] = {
    ("GET", "/"): "viewer",
    ("GET", "/signin"): None,
    ("POST", "/signin"): None,
    ("POST", "/signout"): None,
    ("GET", "/runs"): "viewer",
    ("GET", "/runs/compare"): "viewer",
    ("GET", "/runs/{run}"): "viewer",
    ("GET", "/runs/{run}/evaluations/{evaluation}"): "viewer",
    ("POST", "/runs/{run}/register"): "operator",
    ("GET", "/models"): "viewer",
    ("GET", "/deployments/{endpoint}"): "viewer",
    ("GET", "/deployments/{endpoint}/compare"): "viewer",
    ("POST", "/deployments/{endpoint}/{action}"): "operator",
    ("GET", "/review"): "viewer",
    ("POST", "/review/next"): "reviewer",
    ("GET", "/review/{request_id}"): "viewer",
    ("POST", "/review/{request_id}/answer"): "reviewer",
    ("GET", "/alerts"): "viewer",
    ("GET", "/monitoring"): "viewer",
    ("GET", "/monitoring/{endpoint}/windows/{window:int}"): "viewer",
    ("GET", "/monitoring/{endpoint}/report"): "viewer",
    ("GET", "/live"): "viewer",
    ("GET", "/live/numbers"): "viewer",
}
#: What the path parameters are filled with (the objects need not exist: the role is
#: checked before the object is looked up).
FILLED = {
    "{run}": "0123abcd",
    "{evaluation}": "4567ef01",
    "{endpoint}": "breast-cancer",
    "{action}": "promote",
    "{request_id}": "r1",
    "{window:int}": "1",
}

LOOPBACK = ("127.0.0.1", 50000)
ELSEWHERE = ("192.0.2.7", 50000)


@pytest.fixture(scope="module")
def guarded(
    tmp_path_factory: pytest.TempPathFactory,
    with_canary: Callable[[Path], AbstractContextManager[prodml.Project]],
) -> Iterator[tuple[prodml.Project, dict[str, str]]]:
    """breast-cancer with two evaluated versions, the second a canary, and a key a role."""
    with with_canary(tmp_path_factory.mktemp("access") / "bc") as project:
        keys = Keys(project.runs_store.database)
        made = {
            role: keys.create(f"{role}-ana", role)[1] for role in ("viewer", "reviewer", "operator")
        }
        yield project, made


@pytest.fixture
def browser(guarded: tuple[prodml.Project, dict[str, str]]) -> Iterator[TestClient]:
    with TestClient(create_ui(guarded[0]), client=LOOPBACK) as client:
        yield client


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "every form carries a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> None:
    token = csrf(client.get("/ui/signin").text)
    answer = client.post("/ui/signin", data={"key": key, "csrf": token}, follow_redirects=False)
    assert answer.status_code == 303, answer.text


def text(answer: Any) -> str:
    return html.unescape(answer.text)


def test_pages_ask_for_a_key_once_one_exists(browser: TestClient) -> None:
    answer = browser.get("/ui/runs")
    assert answer.status_code == 401
    assert 'name="key"' in answer.text and "role viewer" in text(answer)


def test_a_wrong_key_is_refused_with_what_to_check(
    browser: TestClient, guarded: tuple[prodml.Project, dict[str, str]]
) -> None:
    token = csrf(browser.get("/ui/signin").text)
    wrong = guarded[1]["viewer"][:-4] + "abcd"
    answer = browser.post("/ui/signin", data={"key": wrong, "csrf": token})
    assert answer.status_code == 401
    assert "not an active API key of this store" in text(answer)


def test_signing_in_sets_a_signed_httponly_lax_cookie_and_opens_the_pages(
    browser: TestClient, guarded: tuple[prodml.Project, dict[str, str]]
) -> None:
    token = csrf(browser.get("/ui/signin").text)
    answer = browser.post(
        "/ui/signin",
        data={"key": guarded[1]["viewer"], "csrf": token, "next": "/ui/models"},
        follow_redirects=False,
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/models")
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(SESSION_COOKIE) and "httponly" in cookie
    assert "samesite=lax" in cookie and "path=/ui" in cookie
    assert guarded[1]["viewer"].split("_")[-1] not in answer.headers["set-cookie"]
    page = browser.get("/ui/models")
    assert page.status_code == 200 and "viewer-ana" in page.text


def test_signing_in_goes_to_pages_of_this_site_only(
    browser: TestClient, guarded: tuple[prodml.Project, dict[str, str]]
) -> None:
    token = csrf(browser.get("/ui/signin").text)
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        answer = browser.post(
            "/ui/signin",
            data={"key": guarded[1]["viewer"], "csrf": token, "next": target},
            follow_redirects=False,
        )
        assert answer.headers["location"] == "./"
        token = csrf(browser.get("/ui/").text)


def test_a_viewer_may_not_change_a_deployment_nor_answer_reviews(
    browser: TestClient, guarded: tuple[prodml.Project, dict[str, str]]
) -> None:
    sign_in(browser, guarded[1]["viewer"])
    token = csrf(browser.get("/ui/").text)
    form = {"csrf": token, "reason": "try", "confirm": "yes"}
    answer = browser.post("/ui/deployments/breast-cancer/promote", data=form)
    assert answer.status_code == 403
    assert "has role viewer, and this needs operator" in text(answer)
    assert browser.post("/ui/review/next", data={"csrf": token}).status_code == 403
    assert (
        browser.post("/ui/review/r1/answer", data={"csrf": token, "label": "1"}).status_code == 403
    )
    run = guarded[0].runs()[0].id
    assert browser.post(f"/ui/runs/{run}/register", data={"csrf": token}).status_code == 403


def test_a_post_without_its_csrf_token_is_refused(
    browser: TestClient, guarded: tuple[prodml.Project, dict[str, str]]
) -> None:
    sign_in(browser, guarded[1]["operator"])
    form = {"reason": "try", "confirm": "yes"}
    for sent in (form, {**form, "csrf": "forged"}):
        answer = browser.post("/ui/deployments/breast-cancer/stop", data=sent)
        assert answer.status_code == 403
        assert "CSRF token is missing or stale" in text(answer)
    assert guarded[0].registry.deployment("breast-cancer").candidate is not None
    signed_out = browser.post("/ui/signout", data={})
    assert signed_out.status_code == 403


def test_an_operator_promotes_and_rolls_back_with_a_reason_and_confirmation(
    browser: TestClient, guarded: tuple[prodml.Project, dict[str, str]]
) -> None:
    project = guarded[0]
    sign_in(browser, guarded[1]["operator"])
    page = browser.get("/ui/deployments/breast-cancer").text
    token = csrf(page)
    unconfirmed = browser.post(
        "/ui/deployments/breast-cancer/promote", data={"csrf": token, "reason": "looks good"}
    )
    assert unconfirmed.status_code == 422 and "needs a reason" in text(unconfirmed)
    form = {"csrf": token, "reason": "guards clean", "confirm": "yes"}
    done = browser.post("/ui/deployments/breast-cancer/promote", data=form, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/ui/deployments/breast-cancer")
    assert project.registry.deployment("breast-cancer").primary == 2
    event = project.registry.events("breast-cancer")[-1]
    assert (event.action, event.actor, event.reason) == ("promote", "operator-ana", "guards clean")
    back = browser.post("/ui/deployments/breast-cancer/rollback", data={**form, "reason": "p99"})
    assert back.status_code == 200  # followed to the deployment page
    assert project.registry.deployment("breast-cancer").primary == 1
    again = browser.post("/ui/deployments/breast-cancer/rollback", data={**form, "reason": "p99"})
    assert again.status_code == 409 and "no previous primary" in text(again)
    assert browser.post("/ui/deployments/breast-cancer/explode", data=form).status_code == 404


def test_an_operator_registers_a_run_from_its_page(
    browser: TestClient, guarded: tuple[prodml.Project, dict[str, str]]
) -> None:
    project = guarded[0]
    sign_in(browser, guarded[1]["operator"])
    run = project.runs()[0]
    page = browser.get(f"/ui/runs/{run.id}").text
    assert "Register as the next version" in page
    done = browser.post(
        f"/ui/runs/{run.id}/register", data={"csrf": csrf(page)}, follow_redirects=False
    )
    assert done.status_code == 303
    assert project.registry.versions("breast-cancer")[0].run_id == run.id


def test_a_revoked_key_signs_its_session_out(
    tmp_path: Path, guarded: tuple[prodml.Project, dict[str, str]]
) -> None:
    project = guarded[0]
    keys = Keys(project.runs_store.database)
    _, key = keys.create("short-lived", "viewer")
    with TestClient(create_ui(project), client=LOOPBACK) as client:
        sign_in(client, key)
        assert client.get("/ui/alerts").status_code == 200
        keys.revoke("short-lived")
        assert client.get("/ui/alerts").status_code == 401


def test_without_keys_only_this_machine_is_answered(tmp_path: Path) -> None:
    folder = prodml.init(tmp_path / "bc", example="breast-cancer")
    with prodml.Project(folder) as project, TestClient(create_ui(project), client=ELSEWHERE) as far:
        answer = far.get("/ui/")
        assert answer.status_code == 403
        assert "no API key exists in this store" in text(answer)
        assert "prodml keys create NAME --role viewer" in text(answer)


def test_the_session_secret_is_made_for_the_store_and_kept_in_it(
    guarded: tuple[prodml.Project, dict[str, str]],
) -> None:
    kept = Path(guarded[0].runs_store.artifacts.root) / FILE
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o600
    assert len(kept.read_text().strip()) >= 43


def test_unknown_pages_and_methods_are_4xx_not_500(browser: TestClient) -> None:
    assert browser.get("/ui/nowhere").status_code in (401, 404)
    assert browser.delete("/ui/runs").status_code in (401, 405)


def test_prodml_serve_shows_the_dashboard_at_ui_when_asked(store: Any) -> None:
    with urllib.request.urlopen(f"{store.url}/ui/runs") as answer:
        assert answer.status == 200
        assert "<h1>Runs" in answer.read().decode()


def filled(path: str) -> str:
    for name, value in FILLED.items():
        path = path.replace(name, value)
    return "/ui" + path


def test_every_dashboard_route_has_its_role_pinned() -> None:
    served = {
        (method, route.path)
        for routes in PAGES
        for route in routes
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert served == set(ACCESS), (
        f"routes without a pinned role: {sorted(served - set(ACCESS))}; "
        f"pinned routes gone: {sorted(set(ACCESS) - served)}"
    )


def test_each_route_refuses_a_visitor_without_a_key_and_a_key_of_a_lower_role(
    browser: TestClient, guarded: tuple[prodml.Project, dict[str, str]]
) -> None:
    guarded_routes = {route: role for route, role in ACCESS.items() if role is not None}
    for method, path in guarded_routes:
        answer = browser.request(method, filled(path), data={"csrf": "none"})
        assert answer.status_code == 401, (method, path, answer.status_code)
    for signed_as in ("viewer", "reviewer"):
        browser.cookies.clear()
        sign_in(browser, guarded[1][signed_as])
        token = csrf(browser.get("/ui/").text)
        for (method, path), role in guarded_routes.items():
            answer = browser.request(method, filled(path), data={"csrf": token})
            lower = ROLES.index(signed_as) < ROLES.index(role)
            if lower:
                assert answer.status_code == 403, (signed_as, method, path, answer.status_code)
                assert f"needs {role}" in text(answer)
            else:
                assert answer.status_code not in (401, 403), (signed_as, method, path)
