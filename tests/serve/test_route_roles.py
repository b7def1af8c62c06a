"""Who may call each route: the role of every route, pinned route by route, and real servers
that answer 401 without a usable key and 403 with a key of a lower role; feedback open until
the first key is made, and with ``serve.open_feedback``; admin routes closed while no key
exists, and refused beyond loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from starlette.requests import Request
from starlette.responses import Response

import prodml
from prodml.deploy.keys import REFRESH_SECONDS, ROLES, Keys, Role
from prodml.serve import app as app_module
from prodml.serve.app import create_app
from prodml.serve.http import Call, Route, json_response
from prodml.serve.launch import Launch, build_app, checked_options, resolve
from prodml.serve.options import ServeOptions
from prodml.serve.routes import ROUTES
from prodml.serve.service import Service
from prodml.serve.source import RunSource

if TYPE_CHECKING:
    from tests.serve.conftest import Answer, Http, InThread, Refused, Server
    from tests.serve.conftest import Launch as Start


#: Every route and who may call it: (role, open until the first key, the option that opens
#: it). A new route fails the first test until it is added here, with its role.
ACCESS: dict[tuple[str, str], tuple[Role | None, bool, str | None]] = {
    ("GET", "/health/live"): (None, False, None),
    ("GET", "/health/ready"): (None, False, None),
    ("GET", "/metrics"): (None, False, None),
    ("GET", "/docs"): (None, False, None),
    ("GET", "/openapi.json"): (None, False, None),
    ("POST", "/predict"): (None, False, None),
    ("POST", "/feedback"): ("reviewer", True, "open_feedback"),
    ("POST", "/invocations"): (None, False, None),
    ("GET", "/ping"): (None, False, None),
    ("GET", "/health"): (None, False, None),
    ("GET", "/v2/health/live"): (None, False, None),
    ("GET", "/v2/health/ready"): (None, False, None),
    ("GET", "/v2"): (None, False, None),
    ("GET", "/v2/models/{name}"): (None, False, None),
    ("GET", "/v2/models/{name}/versions/{version}"): (None, False, None),
    ("GET", "/v2/models/{name}/ready"): (None, False, None),
    ("GET", "/v2/models/{name}/versions/{version}/ready"): (None, False, None),
    ("POST", "/v2/models/{name}/infer"): (None, False, None),
    ("POST", "/v2/models/{name}/versions/{version}/infer"): (None, False, None),
    ("GET", "/admin/deployments"): ("viewer", False, None),
    ("POST", "/admin/deploy"): ("operator", False, None),
    ("POST", "/admin/promote"): ("operator", False, None),
    ("POST", "/admin/rollback"): ("operator", False, None),
    ("POST", "/admin/stop"): ("operator", False, None),
    ("POST", "/admin/automation"): ("operator", False, None),
    ("GET", "/admin/keys"): ("admin", False, None),
    ("POST", "/admin/keys/create"): ("admin", False, None),
    ("POST", "/admin/keys/revoke"): ("admin", False, None),
    ("GET", "/review"): ("reviewer", False, None),
    ("POST", "/review/next"): ("reviewer", False, None),
    ("POST", "/review/answer"): ("reviewer", False, None),
}
GUARDED = [route for route in ROUTES if route.role is not None]
PUBLIC = [route for route in ROUTES if route.role is None]


def route_id(route: Route) -> str:
    return f"{route.method} {route.path}"


def test_every_route_needs_the_role_the_table_says() -> None:
    found = {(r.method, r.path): (r.role, r.until_keys, r.opened_by) for r in ROUTES}
    assert found == ACCESS


def test_only_routes_that_change_state_need_a_role() -> None:
    changes = [route_id(r) for r in GUARDED if r.method == "POST"]
    assert changes == [
        "POST /feedback",
        *(f"POST /admin/{a}" for a in ("deploy", "promote", "rollback", "stop", "automation")),
        "POST /admin/keys/create",
        "POST /admin/keys/revoke",
        "POST /review/next",
        "POST /review/answer",
    ]
    reads = [route_id(r) for r in GUARDED if r.method == "GET"]
    assert reads == ["GET /admin/deployments", "GET /admin/keys", "GET /review"]
    assert all(r.method == "GET" for r in PUBLIC) or all(
        r.path in ("/predict", "/invocations") or r.path.endswith("/infer")
        for r in PUBLIC
        if r.method == "POST"
    )


# --- projects, keys and requests --------------------------------------------------------


@pytest.fixture(scope="module")
def fitted_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fitted breast-cancer project, never served: tests serve copies of it."""
    folder = prodml.init(tmp_path_factory.mktemp("roles") / "bc", example="breast-cancer")
    with prodml.Project(folder) as project:
        project.fit()
    return folder


def copy_of(project: Path, where: Path) -> Path:
    """A project of its own: the folder copied, its store (and keys) included."""
    return Path(shutil.copytree(project, where / "bc"))


@contextlib.contextmanager
def keys_of(project: Path) -> Iterator[Keys]:
    with prodml.Project(project) as opened:
        yield Keys(opened.runs_store.database)


def make_keys(project: Path, *roles: Role) -> dict[Role, str]:
    """A key of each of ``roles`` (named after it), by role."""
    with keys_of(project) as keys:
        return {role: keys.create(role, role)[1] for role in roles}


def serve_settings(project: Path, **settings: bool) -> None:
    file = project / "prodml.yaml"
    content = yaml.safe_load(file.read_text(encoding="utf-8"))
    file.write_text(yaml.safe_dump({**content, "serve": settings}), encoding="utf-8")


def concrete(path: str) -> str:
    return path.replace("{name}", "breast-cancer").replace("{version}", "1")


def call(http: Http, url: str, route: Route, key: str | None = None) -> Answer:
    """``route`` with an empty JSON object for a body, and the key if one is given."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = b"{}" if route.method == "POST" else None
    return http.call(url + concrete(route.path), route.method, body, headers=headers)


def message(route: Route, answer: Answer) -> str:
    """The error's sentence, in the route's protocol's error body."""
    body = answer.json()
    text: str = body["message"] if route.protocol == "mlflow" else body["error"]
    return text


def one_request_id(http: Http, server: Server, project: Path) -> str:
    with prodml.Project(project) as opened:
        record = json.loads(opened.load_data().X.iloc[:1].to_json(orient="records"))
    answer = http.post(f"{server.url}/predict", {"records": record})
    assert answer.status == 200, answer.body
    request_id: str = answer.json()["predictions"][0]["request_id"]
    return request_id


def eventually(check: Callable[[], bool], seconds: float = REFRESH_SECONDS + 5) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds}s"
        time.sleep(0.1)


# --- a server whose store holds a key of every role -------------------------------------


@pytest.fixture(scope="module")
def keyed(
    fitted_once: Path, tmp_path_factory: pytest.TempPathFactory, in_thread: InThread
) -> Iterator[tuple[str, dict[Role, str]]]:
    """A server built as ``prodml serve`` builds it, in a thread of this process, whose
    store holds a key of every role; its URL and the keys."""
    project = copy_of(fitted_once, tmp_path_factory.mktemp("keyed"))
    made = make_keys(project, *ROLES)
    run_id, _ = resolve(project, None)
    app = build_app(Launch(str(project), run_id, ServeOptions(freeze_gc=False), os.getpid()))
    with in_thread(app) as url:
        yield url, made


@pytest.mark.parametrize("route", GUARDED, ids=route_id)
def test_a_route_with_a_role_answers_401_without_a_key(
    http: Http, keyed: tuple[str, dict[Role, str]], route: Route
) -> None:
    url, _ = keyed
    for key in (None, "prodml_000000000000_" + "A" * 43, "not a key"):
        answer = call(http, url, route, key)
        assert answer.status == 401, (key, answer.body)
        assert {k.lower(): v for k, v in answer.headers.items()}["www-authenticate"] == "Bearer"
        assert message(route, answer).startswith(f"{route_id(route)}: ")
        assert f"`prodml keys create NAME --role {route.role}`" in message(route, answer)


@pytest.mark.parametrize("route", GUARDED, ids=route_id)
def test_a_route_with_a_role_answers_403_to_a_key_of_a_lower_role(
    http: Http, keyed: tuple[str, dict[Role, str]], route: Route
) -> None:
    url, made = keyed
    assert route.role is not None
    lower = ROLES[: ROLES.index(route.role)]
    for role in lower:
        answer = call(http, url, route, made[role])
        assert answer.status == 403, (role, answer.body)
        assert message(route, answer) == (
            f"{route_id(route)}: key '{role}' has role {role}, and this needs {route.role} "
            f"or above; get one with `prodml keys create NAME --role {route.role}`"
        )


@pytest.mark.parametrize("route", GUARDED, ids=route_id)
def test_a_route_with_a_role_serves_a_key_of_that_role_or_above(
    http: Http, keyed: tuple[str, dict[Role, str]], route: Route
) -> None:
    url, made = keyed
    assert route.role is not None
    for role in ROLES[ROLES.index(route.role) :]:
        answer = call(http, url, route, made[role])
        assert answer.status not in (401, 403), (role, answer.body)


@pytest.mark.parametrize("route", PUBLIC, ids=route_id)
def test_a_route_without_a_role_serves_anyone_while_keys_exist(
    http: Http, keyed: tuple[str, dict[Role, str]], route: Route
) -> None:
    url, _ = keyed
    answer = call(http, url, route)
    assert answer.status not in (401, 403), answer.body


# --- feedback: open until the first key -------------------------------------------------


def test_feedback_is_open_until_the_first_key_then_needs_a_reviewers_key(
    http: Http, launch: Start, fitted_once: Path, tmp_path: Path
) -> None:
    project = copy_of(fitted_once, tmp_path)
    server = launch(project)
    url = f"{server.url}/feedback"
    label = {"request_id": one_request_id(http, server, project), "label": "benign"}

    assert http.post(url, label).json() == {"stored": 1}  # no key exists: anyone

    made = make_keys(project, "viewer", "reviewer")
    eventually(lambda: http.post(url, label).status == 401)
    as_viewer = http.call(url, "POST", json.dumps(label).encode(), headers=bearer(made["viewer"]))
    assert as_viewer.status == 403
    by_reviewer = http.call(
        url, "POST", json.dumps(label).encode(), headers=bearer(made["reviewer"])
    )
    assert (by_reviewer.status, by_reviewer.json()) == (200, {"stored": 1})

    # revoking every key closes feedback to them, and does not open it to anyone
    with keys_of(project) as keys:
        keys.revoke("viewer")
        keys.revoke("reviewer")
    body = json.dumps(label).encode()
    eventually(lambda: http.call(url, "POST", body, headers=bearer(made["reviewer"])).status == 401)
    assert http.post(url, label).status == 401


def test_open_feedback_takes_labels_without_a_key_while_keys_exist(
    http: Http, launch: Start, fitted_once: Path, tmp_path: Path
) -> None:
    project = copy_of(fitted_once, tmp_path)
    serve_settings(project, open_feedback=True)
    make_keys(project, "reviewer")
    server = launch(project)
    label = {"request_id": one_request_id(http, server, project), "label": "malignant"}

    answer = http.post(f"{server.url}/feedback", label)

    assert (answer.status, answer.json()) == (200, {"stored": 1})


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- admin routes: a key always ---------------------------------------------------------


async def _probe(request: Request, service: Service, call: Call) -> Response:
    return json_response({"done": True})


#: A route as the admin routes will be: it needs an operator's key, even while none exists.
ADMIN = Route("POST", "/admin/probe", "native", _probe, "An admin route", role="operator")


@contextlib.contextmanager
def app_with_admin(
    project: Path, in_thread: InThread, monkeypatch: pytest.MonkeyPatch, keys: bool, **options: Any
) -> Iterator[str]:
    """The app of ``project``'s newest fit, without a prediction log, with ADMIN among
    its routes; ``keys``: with the store's keys (else as a server without a store)."""
    monkeypatch.setattr(app_module, "ROUTES", [*ROUTES, ADMIN])
    with prodml.Project(project) as opened:
        app = create_app(
            RunSource(opened),
            log=None,
            options=ServeOptions(freeze_gc=False, **options),
            keys=Keys(opened.runs_store.database) if keys else None,
        )
        with in_thread(app) as url:
            yield url


@pytest.fixture
def own(fitted_once: Path, tmp_path: Path) -> Path:
    return copy_of(fitted_once, tmp_path)


def test_an_admin_route_needs_a_key_even_while_none_exists(
    http: Http, own: Path, in_thread: InThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app_with_admin(own, in_thread, monkeypatch, keys=True) as url:
        answer = call(http, url, ADMIN)
        assert answer.status == 401
        assert "`prodml keys create NAME --role operator`" in message(ADMIN, answer)
        # feedback is open: the store holds no key (and this app no log, hence 503)
        assert http.post(f"{url}/feedback", {"request_id": "x", "label": 1}).status == 503

        made = make_keys(own, "reviewer", "operator")
        eventually(lambda: call(http, url, ADMIN, made["operator"]).status == 200)
        assert call(http, url, ADMIN, made["reviewer"]).status == 403
        assert call(http, url, ADMIN).status == 401


def test_without_a_store_an_admin_route_answers_403_and_feedback_is_open(
    http: Http, own: Path, in_thread: InThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_keys(own, "admin")
    with app_with_admin(own, in_thread, monkeypatch, keys=False) as url:
        answer = call(http, url, ADMIN)
        assert answer.status == 403
        assert message(ADMIN, answer) == (
            "POST /admin/probe needs a key of role operator, and this server has no key store; "
            "serve a project (prodml serve) and create one with "
            "`prodml keys create NAME --role operator`"
        )
        assert http.post(f"{url}/feedback", {"request_id": "x", "label": 1}).status == 503


def test_serve_admin_false_leaves_the_admin_routes_out(
    http: Http, own: Path, in_thread: InThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app_with_admin(own, in_thread, monkeypatch, keys=True, admin=False) as url:
        assert call(http, url, ADMIN).status == 404
        paths = http.call(f"{url}/openapi.json").json()["paths"]
        assert "/admin/probe" not in paths and "/feedback" in paths
    with app_with_admin(own, in_thread, monkeypatch, keys=True) as url:
        operation = http.call(f"{url}/openapi.json").json()["paths"]["/admin/probe"]["post"]
        assert operation["security"] == [{"key": []}]
        assert {"401", "403"} <= set(operation["responses"])


# --- beyond loopback --------------------------------------------------------------------


def test_serve_beyond_loopback_refuses_while_no_key_exists(own: Path, refused: Refused) -> None:
    assert refused(own, "--host", "0.0.0.0") == [
        "error: --host 0.0.0.0 would serve the admin routes (deploy, promote, rollback, stop, keys) "
        "to other machines, and no key exists to guard them; create one with `prodml keys "
        "create NAME --role admin`, serve on 127.0.0.1, or set serve.admin: false in prodml.yaml"
    ]


def test_serve_beyond_loopback_is_allowed_with_a_key_or_without_admin_routes(own: Path) -> None:
    assert checked_options(own, "127.0.0.1", None) == ServeOptions()
    serve_settings(own, admin=False, open_feedback=True)
    assert checked_options(own, "0.0.0.0", None) == ServeOptions(admin=False, open_feedback=True)
    with pytest.raises(prodml.ProdmlError, match="no key exists"):
        checked_options(own, "0.0.0.0", ServeOptions())
    make_keys(own, "admin")
    assert checked_options(own, "0.0.0.0", ServeOptions()) == ServeOptions()
