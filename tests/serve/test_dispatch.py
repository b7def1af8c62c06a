"""The prediction routes called straight from their path (prodml.serve.dispatch) answer
exactly as they did through Starlette's router: the same status, headers and body."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from prodml.serve.dispatch import Dispatch
from prodml.serve.launch import Launch, build_app, resolve
from prodml.serve.options import ServeOptions

if TYPE_CHECKING:
    from tests.serve.conftest import Answer, Http, InThread

_ID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")


def masked(answer: Answer) -> tuple[int, dict[str, bytes], bytes]:
    """The answer without what differs between two calls: request ids, the date."""
    headers = {
        name.lower(): _ID.sub(b"ID", value.encode())
        for name, value in answer.headers.items()
        if name.lower() != "date"
    }
    return answer.status, headers, _ID.sub(b"ID", answer.body)


def test_the_prediction_routes_answer_as_through_starlette_s_router(
    loans_project: Path,
    loans_features: pd.DataFrame,
    tmp_path: Path,
    in_thread: InThread,
    http: Http,
) -> None:
    project = Path(shutil.copytree(loans_project, tmp_path / "loans"))
    run_id, _ = resolve(project, None)
    app = build_app(Launch(str(project), run_id, ServeOptions(freeze_gc=False), os.getpid()))
    records: list[dict[str, Any]] = http.records(loans_features.iloc[:3])
    bad = [{**records[0], "income": "lots"}, {key: records[1][key] for key in list(records[1])[1:]}]
    bodies = [
        {"records": records},
        {"records": records[:1], "endpoint": "nobody"},
        {"records": bad},
        {"rows": records},
        {"dataframe_records": records},
        {"dataframe_split": {"columns": list(records[0]), "data": [list(records[0].values())]}},
        {"instances": bad},
    ]
    sent: list[tuple[str, str, bytes, str | None]] = [
        *(
            ("POST", path, json.dumps(body).encode(), "application/json")
            for body in bodies
            for path in ("/predict", "/invocations")
        ),
        ("POST", "/predict", b"{not json", "application/json"),
        ("POST", "/invocations", b"a,b\n1,2\n", "text/plain"),
        ("GET", "/predict", b"", None),
        ("POST", "/predict/", json.dumps(bodies[0]).encode(), "application/json"),
    ]
    with in_thread(app) as url:
        dispatch = app.middleware_stack
        while not isinstance(dispatch, Dispatch):
            dispatch = dispatch.app  # type: ignore[union-attr]
        assert set(dispatch.endpoints) == {"/predict", "/invocations"}
        direct = dispatch.endpoints
        answers = []
        for endpoints in (direct, {}):  # called directly, then through the router
            dispatch.endpoints = endpoints
            answers.append(
                [
                    masked(http.call(url + path, method, body, kind))
                    for method, path, body, kind in sent
                ]
            )
    assert answers[0] == answers[1]
    statuses = [status for status, _, _ in answers[0]]
    assert statuses.count(200) == 3 and {400, 404, 405, 415, 422} <= set(statuses)
