"""The key routes on a real server: an admin key makes, lists and revokes keys over HTTP; a
new key works at once and a revoked one stops; the key is in the answer once and never in
a list; mistakes are 4xx with the line the command line prints; without an admin's key,
401 or 403."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import prodml
from prodml.deploy.keys import Keys

if TYPE_CHECKING:
    from tests.serve.conftest import Answer, Http, Launch, Server

KEY = re.compile(r"prodml_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
ROUTES = [("POST", "/admin/keys/create"), ("GET", "/admin/keys"), ("POST", "/admin/keys/revoke")]


@pytest.fixture
def keyed(
    registered_project: Path, tmp_path: Path, launch: Launch
) -> tuple[Server, dict[str, str]]:
    """A server whose store holds an admin key ``root`` and an operator key ``ops``; the
    server and the keys, by name."""
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    with prodml.Project(folder) as project:
        keys = Keys(project.runs_store.database)
        made = {
            name: keys.create(name, role)[1]
            for name, role in [("root", "admin"), ("ops", "operator")]
        }
    return launch(folder), made


def send(
    http: Http, server: Server, method: str, path: str, key: str | None, body: Any = None
) -> Answer:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = json.dumps(body).encode() if method == "POST" else None
    return http.call(server.url + path, method, data, headers=headers)


def test_an_admin_key_makes_lists_and_revokes_keys(
    http: Http, keyed: tuple[Server, dict[str, str]]
) -> None:
    server, made = keyed
    root = made["root"]

    created = send(
        http, server, "POST", "/admin/keys/create", root, {"name": "ci", "role": "operator"}
    )

    assert created.status == 200, created.body
    answer = created.json()
    found = KEY.fullmatch(answer.pop("key"))
    assert found is not None
    assert answer == {
        "name": "ci",
        "id": found[1],
        "role": "operator",
        "created_at": answer["created_at"],
        "revoked_at": None,
    }
    new = found[0]
    assert send(http, server, "GET", "/admin/deployments", new).status == 200  # at once

    listed = send(http, server, "GET", "/admin/keys", root)
    assert listed.status == 200
    assert [k["name"] for k in listed.json()] == ["root", "ops", "ci"]
    assert all(set(k) == {"name", "id", "role", "created_at", "revoked_at"} for k in listed.json())
    assert found[2].encode() not in listed.body

    revoked = send(http, server, "POST", "/admin/keys/revoke", root, {"name": "ci"})
    assert revoked.status == 200
    assert revoked.json()["name"] == "ci" and revoked.json()["revoked_at"] is not None
    assert send(http, server, "GET", "/admin/deployments", new).status == 401  # at once
    assert [
        k["revoked_at"] is None for k in send(http, server, "GET", "/admin/keys", root).json()
    ] == [
        True,
        True,
        False,
    ]

    server.stop()
    log = "".join(server.output)
    assert "key 'ci' (role operator) was created by key 'root'" in log
    assert "key 'ci' (role operator) was revoked by key 'root'" in log


def test_the_store_keeps_the_hash_of_a_key_made_over_http(
    http: Http, keyed: tuple[Server, dict[str, str]]
) -> None:
    server, made = keyed
    answer = send(
        http, server, "POST", "/admin/keys/create", made["root"], {"name": "ci", "role": "viewer"}
    )
    key = answer.json()["key"]

    with prodml.Project(server.project) as project:
        keys = Keys(project.runs_store.database)
        assert keys.check(f"Bearer {key}", "viewer").name == "ci"
    for stored in (server.project / ".prodml").glob("prodml.db*"):  # the WAL too
        assert key.split("_", 2)[2].encode() not in stored.read_bytes()


#: (route, body, status, what the error says)
MISTAKES: list[tuple[str, dict[str, Any], int, str]] = [
    (
        "/admin/keys/create",
        {"name": "ci", "role": "boss"},
        422,
        "role is 'boss'; give viewer or reviewer or operator or admin",
    ),
    ("/admin/keys/create", {"name": "ci"}, 422, 'create needs "role"'),
    ("/admin/keys/create", {"name": 7, "role": "viewer"}, 422, "name is 7; give a JSON string"),
    (
        "/admin/keys/create",
        {"name": "  ", "role": "viewer"},
        422,
        "key name '' is not a name; give 1 to 200 printable characters",
    ),
    (
        "/admin/keys/create",
        {"name": "ops", "role": "viewer"},
        409,
        "a key named 'ops' exists (a revoked key keeps its name); choose another name",
    ),
    ("/admin/keys/create", {"name": "x", "role": "viewer", "x": 1}, 422, "unknown key 'x'"),
    (
        "/admin/keys/revoke",
        {"name": "opz"},
        404,
        "no key named 'opz'; keys are: ops, root; did you mean 'ops'?",
    ),
    ("/admin/keys/revoke", {}, 422, 'revoke needs "name"'),
]


def test_key_mistakes_are_4xx_naming_the_value_and_what_is_allowed(
    http: Http, keyed: tuple[Server, dict[str, str]]
) -> None:
    server, made = keyed
    for path, body, status, says in MISTAKES:
        answer = send(http, server, "POST", path, made["root"], body)
        assert answer.status == status, (body, answer.body)
        assert says in answer.json()["error"], body


def test_the_key_routes_need_an_admins_key(
    http: Http, keyed: tuple[Server, dict[str, str]]
) -> None:
    server, made = keyed
    body = {"name": "root", "role": "admin"}
    for method, path in ROUTES:
        without = send(http, server, method, path, None, body)
        assert without.status == 401, (path, without.body)
        assert "`prodml keys create NAME --role admin`" in without.json()["error"]
        operator = send(http, server, method, path, made["ops"], body)
        assert operator.status == 403, (path, operator.body)
        assert operator.json()["error"] == (
            f"{method} {path}: key 'ops' has role operator, and this needs admin or above; "
            "get one with `prodml keys create NAME --role admin`"
        )
    assert [
        k["revoked_at"] for k in send(http, server, "GET", "/admin/keys", made["root"]).json()
    ] == [
        None,
        None,
    ]
