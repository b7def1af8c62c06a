"""POST /admin/automation on a real server: an operator sets who decides, a target error
becomes the threshold the primary's dev curve gives, and mistakes are 4xx naming them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import prodml
from prodml.automation.threshold import threshold_for
from prodml.deploy.keys import Keys

if TYPE_CHECKING:
    from tests.serve.conftest import Http, Launch


def test_an_operator_sets_the_level_and_a_target_error_picks_the_curve_s_threshold(
    registered_project: Path, tmp_path: Path, launch: Launch, http: Http
) -> None:
    folder = Path(shutil.copytree(registered_project, tmp_path / "bc"))
    with prodml.Project(folder) as project:
        _, key = Keys(project.runs_store.database).create("ops", "operator")
        expected = threshold_for(project.automation_curve("breast-cancer"), 0.1)
    server = launch(folder)
    headers = {"Authorization": f"Bearer {key}"}

    def post(body: object) -> tuple[int, dict[str, object]]:
        answer = http.call(
            f"{server.url}/admin/automation", "POST", json.dumps(body).encode(), headers=headers
        )
        return answer.status, answer.json()

    status, body = post({"endpoint": "breast-cancer", "level": "partial", "target_error": 0.1})
    assert status == 200, body
    automation = body["automation"]
    assert isinstance(automation, dict) and automation["defer_below"] == expected.threshold
    with prodml.Project(folder) as project:
        last = project.registry.events("breast-cancer")[-1]
    assert (last.action, last.actor) == ("automation", "ops")

    unreachable = post({"endpoint": "breast-cancer", "level": "partial", "target_error": 1e-6})
    assert unreachable[0] == 422 and "lowest reachable" in str(unreachable[1]["error"])
    assert post({"endpoint": "breast-cancer", "level": "most"})[0] == 422
    assert post({"endpoint": "nope", "level": "full"})[0] == 404
