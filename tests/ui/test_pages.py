"""Every page answers, and shows the numbers the command line's ``--json`` shows for the
same thing: pages are read as a person reads them, the text of the cells the templates
mark ``data-field`` in rows marked ``data-row``, and each is compared with the JSON of the
matching command (typer's CliRunner), formatted by the same filters the pages use."""

from __future__ import annotations

import html
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

import prodml
from prodml.cli import app
from prodml.serve.demo import records, send
from prodml.ui.app import create_ui
from prodml.ui.render import number, percent
from prodml.ui.server_metrics import scraped

_VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "wbr",
}
runner = CliRunner()


class _Cells(HTMLParser):
    def __init__(self, within: str | None) -> None:
        super().__init__()
        self.within = within
        self.found: dict[str, dict[str, str]] = {}
        self.open: list[tuple[str, str | None, str | None, bool]] = []  # tag, row, field, inside
        self.text: dict[int, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        named = dict(attrs)
        inside = (self.open[-1][3] if self.open else False) or (
            self.within is None or named.get("id") == self.within
        )
        self.open.append((tag, named.get("data-row"), named.get("data-field"), inside))
        if named.get("data-field") is not None and inside:
            self.text[len(self.open) - 1] = []

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            depth = len(self.open) - 1
            opened, _, field, _ = self.open.pop()
            if depth in self.text:
                words = " ".join("".join(self.text.pop(depth)).split())
                row = next((r for _, r, _, _ in reversed(self.open) if r is not None), "")
                self.found.setdefault(row, {})[str(field)] = words
            if opened == tag:
                return

    def handle_data(self, data: str) -> None:
        for parts in self.text.values():
            parts.append(data)


def cells(page: str, within: str | None = None) -> dict[str, dict[str, str]]:
    """``{row: {field: text}}`` of ``page`` (only inside the element of id ``within``)."""
    parser = _Cells(within)
    parser.feed(page)
    return parser.found


def cli_json(folder: Path, *args: str) -> Any:
    """What ``prodml ARGS --json -C FOLDER`` prints, read back."""
    result = runner.invoke(app, [*args, "--json", "-C", str(folder)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


PAGES = [
    "/ui/",
    "/ui/runs",
    "/ui/runs/compare",
    "/ui/models",
    "/ui/deployments/loans",
    "/ui/deployments/loans/compare",
    "/ui/review",
    "/ui/alerts",
    "/ui/monitoring",
    "/ui/monitoring/loans/report",
    "/ui/live",
    "/ui/live/numbers",
    "/ui/signin",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_answers_this_machine_without_a_key(client: TestClient, url: str) -> None:
    answer = client.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in answer.headers["content-security-policy"]


def test_the_root_sends_to_the_dashboard(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (307, "/ui/")


def test_pages_load_only_files_of_the_package(client: TestClient) -> None:
    page = client.get("/ui/").text
    for name in ("htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css", "ui.js", "ui.css"):
        assert f'/ui/static/{name}"' in page
        assert client.get(f"/ui/static/{name}").status_code == 200
    assert "http" not in page.split("<body>")[0].replace("http-equiv", "")


def test_overview_shows_what_deployments_monitor_and_alerts_json_show(
    client: TestClient, store: Any
) -> None:
    shown = cells(client.get("/ui/").text)["loans"]
    deployment = cli_json(store.folder, "deployments")[0]
    newest = cli_json(store.folder, "monitor", "report")["windows"][-1]["metrics"]
    firing = cli_json(store.folder, "alerts", "list", "--firing")
    assert shown["primary"] == f"loans:{deployment['primary']}"
    assert shown["candidate"] == f"loans:{deployment['candidate']['version']}"
    assert shown["mode"] == deployment["candidate"]["mode"] == "shadow"
    assert shown["share"] == number(deployment["candidate"]["share"]) + "%"
    assert shown["automation"].startswith(deployment["automation"]["level"])
    for name in ("throughput_per_second", "latency_p99_seconds", "error_rate", "drift_share"):
        assert shown[name] == number(newest.get(name)), name
    assert firing and shown["firing"] == " ".join(a["rule"] for a in firing)


def test_runs_page_shows_what_runs_list_json_shows(client: TestClient, store: Any) -> None:
    listed = cli_json(store.folder, "runs", "list")
    shown = cells(client.get("/ui/runs?metric=test.f1[1]").text, "runs")
    assert list(shown) == [run["id"] for run in listed]
    for run in listed:
        row = shown[run["id"]]
        assert (row["kind"], row["status"]) == (run["kind"], run["status"])
        assert row["test.f1[1]"] == number(run["metrics"]["test.f1[1]"])
        assert row["fit_seconds"] == number(run["fit_seconds"])


def test_runs_are_filtered_sorted_and_paged_by_the_server(
    client: TestClient, project: prodml.Project
) -> None:
    runs = project.runs()
    by_f1 = sorted(runs, key=lambda r: -(r.metrics or {})["test.f1[1]"])
    shown = cells(client.get("/ui/runs?sort=-metric:test.f1[1]&per_page=1&page=2").text, "runs")
    assert list(shown) == [by_f1[1].id]
    assert cells(client.get("/ui/runs?status=failed").text, "runs") == {}
    assert client.get("/ui/runs?sort=colour").status_code == 422
    assert "sort 'colour' is not a column" in html.unescape(client.get("/ui/runs?sort=colour").text)
    assert client.get("/ui/runs?kind=fitt").status_code == 422
    assert "did you mean" in client.get("/ui/runs?kind=fitt").text.lower()


def test_run_page_shows_what_runs_show_json_shows(client: TestClient, store: Any) -> None:
    run = cli_json(store.folder, "runs", "show")
    page = client.get(f"/ui/runs/{run['id']}").text
    metrics = cells(page, "metrics")
    assert {name: row["value"] for name, row in metrics.items()} == {
        name: number(value) for name, value in run["metrics"].items()
    }
    artifacts = cells(page, "artifacts")
    assert {name: row["sha256"] for name, row in artifacts.items()} == {
        a["name"]: a["sha256"] for a in run["artifacts"]
    }
    sizes = run["split"]["sizes"]
    assert cells(page, "split")["all"] == {
        s: number(sizes.get(s)) for s in ("train", "dev", "test")
    }
    assert "the evaluation page" in page


def test_an_evaluation_page_is_the_evaluate_html_report(
    client: TestClient, project: prodml.Project
) -> None:
    run = project.runs()[0]
    evaluation = project.evaluations(run.id)[0]
    from prodml.evaluate.html import render_html

    answer = client.get(f"/ui/runs/{run.id}/evaluations/{evaluation.id}")
    assert answer.text == render_html(evaluation.result)
    missing = client.get(f"/ui/runs/{run.id}/evaluations/nope")
    assert missing.status_code == 404
    assert "has no evaluation 'nope'" in html.unescape(missing.text)


def test_compare_page_shows_what_runs_compare_json_shows(client: TestClient, store: Any) -> None:
    compared = cli_json(store.folder, "runs", "compare")
    query = "&".join(f"run={r}" for r in compared["runs"])
    shown = cells(client.get(f"/ui/runs/compare?{query}").text, "comparison")
    for row in compared["rows"]:
        mine = shown[f"{row['section']}:{row['name']}"]
        assert [mine[r] for r in compared["runs"]] == [number(v) for v in row["values"]]
    differing = client.get(f"/ui/runs/compare?{query}&diff=1").text
    assert 'class="differs"' in differing


def test_models_page_shows_what_models_list_json_shows(client: TestClient, store: Any) -> None:
    listed = cli_json(store.folder, "models", "list")
    shown = cells(client.get("/ui/models").text, "versions")
    for version in listed:
        row = shown[version["ref"]]
        assert row["run_id"] == version["run_id"]
        assert row["primary_of"] == ", ".join(version["primary_of"])
        verdict = {None: "not evaluated", True: "pass", False: "fail"}[version["audit_passed"]]
        assert row["audit_passed"] == verdict


def test_deployment_page_shows_what_deployments_json_shows(client: TestClient, store: Any) -> None:
    shown = client.get("/ui/deployments/loans").text
    deployment = cli_json(store.folder, "deployments", "loans", "--events", "1000")[0]
    facts = cells(shown, "deployment")[""]
    assert facts["primary"] == f"loans:{deployment['primary']}"
    assert facts["revision"] == str(deployment["revision"])
    events = cells(shown, "events")
    assert [row["action"] for row in events.values()] == [
        e["action"] for e in deployment["events"]
    ][::-1][: len(events)]
    compared = cli_json(store.folder, "deployments", "compare", "loans")
    table = cells(shown, "comparison")
    assert table["answers"] == {
        "primary": number(compared["primary"]["answers"]),
        "candidate": number(compared["candidate"]["answers"]),
    }
    assert percent(compared["agreement"]) in cells(shown)[""]["agreement"]


def test_review_page_shows_what_review_list_json_shows(client: TestClient, store: Any) -> None:
    listed = cli_json(store.folder, "review", "list")
    assert listed, "the fixture's partial automation deferred answers"
    shown = cells(client.get("/ui/review").text, "items")
    for item in listed:
        row = shown[item["request_id"]]
        assert row["reason"] == item["reason"]
        assert row["answers"] == f"{item['answers_given']}/{item['answers_needed']}"
        suggestion = item["suggestion"]
        assert row["suggestion"] == f"{suggestion['label']} ({number(suggestion['confidence'])})"


def test_review_item_page_shows_its_inputs_and_suggestion(
    client: TestClient, project: prodml.Project
) -> None:
    item = project.review_queue.items()[0]
    page = client.get(f"/ui/review/{item.request_id}").text
    inputs = cells(page, "inputs")
    assert {k: v["value"] for k, v in inputs.items()} == {
        k: number(v) for k, v in item.inputs.items()
    }
    assert item.suggestion is not None
    suggested = cells(page, "suggestion")[""]
    assert suggested == {
        "label": str(item.suggestion["label"]),
        "confidence": number(item.suggestion["confidence"]),
    }
    assert client.get("/ui/review/no-such-request").status_code == 404


def test_alerts_page_shows_what_alerts_list_json_shows(client: TestClient, store: Any) -> None:
    listed = cli_json(store.folder, "alerts", "list")
    page = client.get("/ui/alerts").text
    shown = {**cells(page, "firing"), **cells(page, "resolved")}
    assert set(shown) == {str(a["id"]) for a in listed}
    for alert in listed:
        row = shown[str(alert["id"])]
        assert (row["rule"], row["value"], row["window"]) == (
            alert["rule"],
            number(alert["value"]),
            str(alert["window_id"]),
        )


def test_monitoring_page_shows_what_monitor_report_json_shows(
    client: TestClient, store: Any
) -> None:
    report = cli_json(store.folder, "monitor", "report")
    page = client.get("/ui/monitoring?endpoint=loans").text
    windows = cells(page, "windows")
    assert len(windows) == len(report["windows"])  # few windows: one a column
    for window in report["windows"]:
        row = windows[str(window["id"])]
        assert row["rows"] == number(window["rows"])
        for name in ("drift_share", "error_rate", "accuracy", "latency_p99_seconds", "requests"):
            assert row[name] == number(window["metrics"].get(name)), name
    heat = cells(page, "heat")
    drift = [s for s in report["scores"] if s["kind"] == "drift"]
    assert drift
    for score in drift:
        assert heat[score["column"]][str(score["window_id"])] == number(score["score"])


def test_a_window_of_the_monitoring_page_shows_its_scores(client: TestClient, store: Any) -> None:
    report = cli_json(store.folder, "monitor", "report")
    window = report["windows"][0]
    page = client.get(
        f"/ui/monitoring/loans/windows/{window['id']}", headers={"HX-Request": "true"}
    )
    assert "<html" not in page.text  # a fragment, for htmx to swap in
    shown = cells(page.text, "window-scores")
    for score in (s for s in report["scores"] if s["window_id"] == window["id"]):
        assert shown[f"{score['kind']}:{score['column']}"]["score"] == number(score["score"])
    assert client.get("/ui/monitoring/loans/windows/999999").status_code == 404
    assert client.get("/ui/monitoring?endpoint=lons").status_code == 404


def test_live_page_counts_what_the_log_holds(client: TestClient, store: Any) -> None:
    logged = cli_json(store.folder, "log", "stats")["predictions"]
    shown = cells(client.get("/ui/live/numbers?endpoint=loans&span=15m").text, "arms")
    assert sum(int(row["requests"].replace(",", "")) for row in shown.values()) == logged
    assert set(shown) == {"1:primary", "2:shadow"}
    assert client.get("/ui/live?span=2h").status_code == 422


# The live page's "Servers now" reads each server's /metrics: the dashboard's own inside
# prodml serve (serve.ui: true), and another server's over HTTP for prodml ui --server URL.
# Each is checked against the requests the test sends between two looks; a server that
# does not answer is a row saying so, not an error of the page.
NUMBERS = "/ui/live/numbers?endpoint=loans&span=1m"
#: requests of 5 rows each this test sends between its two looks
SENT = 7


def _count(row: dict[str, str], field: str) -> int:
    return int(row[field].replace(",", ""))


def _bad_request(url: str) -> int:
    """A request whose record misses every column: the status the server answers."""
    body = json.dumps({"records": [{}]}).encode()
    request = urllib.request.Request(
        f"{url}/predict", body, {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def _sends_and_counts(
    look: Callable[[], dict[str, str]], store: Any, project: prodml.Project, in_flight: int
) -> None:
    rows = records(project.load_data().X.head(SENT * 5))
    before = look()
    send(store.url, rows, per_request=5)
    assert _bad_request(store.url) == 422
    after = look()
    assert _count(after, "requests") - _count(before, "requests") == SENT + 1
    assert _count(after, "errors") - _count(before, "errors") == 1
    assert (after["breaker"], after["load"]) == ("closed", "ok")
    assert _count(after, "in_flight") == in_flight


def test_the_dashboard_in_prodml_serve_shows_its_own_server(
    store: Any, project: prodml.Project
) -> None:
    def look() -> dict[str, str]:
        with urllib.request.urlopen(store.url + NUMBERS, timeout=10) as answer:
            row: dict[str, str] = cells(answer.read().decode(), "servers")["this server"]
            return row

    _sends_and_counts(look, store, project, in_flight=0)  # the page is not a request counted


def test_prodml_ui_shows_another_servers_metrics(store: Any, project: prodml.Project) -> None:
    ui = create_ui(project, [scraped(store.url), scraped("http://127.0.0.1:1")])
    with TestClient(ui, client=("127.0.0.1", 50000)) as client:

        def look() -> dict[str, str]:
            page = client.get(NUMBERS)
            assert page.status_code == 200
            row: dict[str, str] = cells(page.text, "servers")[store.url]
            return row

        _sends_and_counts(look, store, project, in_flight=1)  # the look at /metrics itself
        down = cells(client.get(NUMBERS).text, "servers")["http://127.0.0.1:1"]
        assert down["error"].startswith("not answering: ")


def test_without_a_server_the_page_says_how_to_add_one(client: TestClient) -> None:
    page = client.get(NUMBERS).text
    assert 'id="servers"' not in page
    assert "prodml ui --server http://HOST:PORT" in page


@pytest.mark.parametrize("address", ["127.0.0.1:8000", "ftp://127.0.0.1:8000", "http://h:1/x"])
def test_prodml_ui_refuses_an_address_that_is_not_a_servers(address: str) -> None:
    result = CliRunner().invoke(app, ["ui", "--server", address])
    assert result.exit_code == 1
    assert f"--server {address!r} is not a server's address" in " ".join(result.output.split())
    assert "Dashboard at" not in result.output
