"""The review routes on a real server: reviewers lease items one at a time (never the same
one), answer what they hold as their key's name, and the answer becomes the request's
feedback; every mistake is a 4xx with the line the command line prints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import prodml
from prodml.deploy.keys import Keys
from prodml.store.review import NewItem

if TYPE_CHECKING:
    from tests.serve.conftest import Answer, Http, Launch, Server

ENDPOINT = "breast-cancer"


@pytest.fixture
def served(
    registered_project: Path, tmp_path: Path, launch: Launch, http: Http
) -> tuple[Server, dict[str, str], list[str]]:
    """A server with reviewer keys ana and ben and a viewer key; three of its answered
    requests queued for review (the last one first); the server, the keys, the ids."""
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    with prodml.Project(folder) as project:
        keys = Keys(project.runs_store.database)
        made = {
            n: keys.create(n, r)[1]
            for n, r in [("ana", "reviewer"), ("ben", "reviewer"), ("vi", "viewer")]
        }
        records = json.loads(project.load_data().X.iloc[:3].to_json(orient="records"))
    server = launch(folder)
    answered = http.post(f"{server.url}/predict", {"records": records}).json()["predictions"]
    ids = [p["request_id"] for p in answered]
    with prodml.Project(folder) as project:
        project.review_queue.add(
            [
                NewItem(
                    rid, ENDPOINT, records[i], "low_confidence", {"label": p["label"]}, 1, float(i)
                )
                for i, (rid, p) in enumerate(zip(ids, answered, strict=True))
            ]
        )
    return server, made, ids


def send(http: Http, server: Server, path: str, key: str | None, body: Any = None) -> Answer:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = None if body is None else json.dumps(body).encode()
    return http.call(server.url + path, "GET" if body is None else "POST", data, headers=headers)


def test_reviewers_lease_different_items_and_an_answer_becomes_feedback(
    http: Http, served: tuple[Server, dict[str, str], list[str]]
) -> None:
    server, made, ids = served

    first = send(http, server, "/review/next", made["ana"], {})
    second = send(http, server, "/review/next", made["ben"], {"endpoint": ENDPOINT})

    assert first.status == second.status == 200
    ana, ben = first.json()["item"], second.json()["item"]
    assert (ana["request_id"], ana["leased_by"]) == (ids[2], "ana")  # the highest priority
    assert (ben["request_id"], ben["leased_by"]) == (ids[1], "ben")
    label = ana["suggestion"]["label"]
    stolen = send(
        http, server, "/review/answer", made["ben"], {"request_id": ids[2], "label": label}
    )
    assert stolen.status == 409 and "is leased to ana, not to ben" in stolen.json()["error"]
    wrong = send(http, server, "/review/answer", made["ana"], {"request_id": ids[2], "label": 7})
    assert wrong.status == 422
    assert (
        "label 7 is not a class of this model; give one of benign, malignant"
        in wrong.json()["error"]
    )
    done = send(
        http,
        server,
        "/review/answer",
        made["ana"],
        {"request_id": ids[2], "label": label, "note": "ok"},
    )
    assert done.status == 200 and done.json()["item"]["done_at"] is not None

    listed = send(http, server, "/review?limit=10", made["ana"])
    assert [i["request_id"] for i in listed.json()] == [ids[1], ids[0]]
    with prodml.Project(server.project) as project:
        assert project.monitoring.labels([ids[2]]) == {ids[2]: label}
        assert project.review_queue.answers(ids[2])[0]["reviewer"] == "ana"


def test_review_mistakes_are_4xx_naming_what_to_fix(
    http: Http, served: tuple[Server, dict[str, str], list[str]]
) -> None:
    server, made, _ = served
    ana = made["ana"]
    cases = [
        (
            "/review/answer",
            {"request_id": "nope", "label": 1},
            404,
            "no review item for request nope",
        ),
        ("/review/answer", {"request_id": "x"}, 422, 'answer needs "label"'),
        (
            "/review/answer",
            {"request_id": "x", "label": [1]},
            422,
            "give a JSON string or number or boolean",
        ),
        ("/review/next", {"who": "me"}, 422, "unknown key 'who'; next takes: endpoint"),
    ]
    for path, body, status, line in cases:
        answer = send(http, server, path, ana, body)
        assert (answer.status, line in answer.json()["error"]) == (status, True), answer.body
    bad_limit = send(http, server, "/review?limit=0", ana)
    assert bad_limit.status == 422 and "limit is '0'" in bad_limit.json()["error"]
    assert send(http, server, "/review/next", made["vi"], {}).status == 403  # a viewer
    assert send(http, server, "/review/next", None, {}).status == 401
