"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a real
``prodml serve`` showing it at ``/ui`` (a copy of the session's store, with keys).

Sign in, open every page (a screenshot of each at 1280 and 390 pixels wide, in
``screenshots/`` at the repository's root, which git ignores; no page wider than the
window, no error in the console), compare two runs, promote and roll back a version,
answer a review item with a key press, and watch the live page count traffic sent now.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import prodml
from prodml.deploy.keys import Keys
from prodml.serve.demo import records, send

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
WIDTHS = (1280, 390)

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium), "
        "as the README's test command does",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def site(
    store: Any,
    serve: Callable[[Path], contextlib.AbstractContextManager[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """The URL of a server on a copy of the session's store, its keys, and the folder."""
    folder = shutil.copytree(store.folder, tmp_path_factory.mktemp("browser") / "loans")
    with prodml.Project(folder) as project:
        keys = Keys(project.runs_store.database)
        made = {role: keys.create(f"{role}-ana", role)[1] for role in ("viewer", "operator")}
    with serve(folder) as url:
        yield url, made, folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, site: tuple[str, dict[str, str], Path]) -> Iterator[Page]:
    """A signed-in operator's tab, failing the test on any console error (a script the
    Content-Security-Policy blocked, a chart that did not draw)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: errors.append(str(e)))
    url, keys, _ = site
    opened.goto(f"{url}/ui/")
    expect(opened.get_by_role("heading", name="Sign in")).to_be_visible()
    opened.get_by_label("API key").fill(keys["operator"])
    opened.get_by_role("button", name="Sign in").click()
    expect(opened.get_by_role("heading", name="Endpoints")).to_be_visible()
    errors.clear()  # the sign-in page itself answers 401, which Chromium logs
    yield opened
    context.close()
    assert not errors, errors


PAGES = {
    "overview": "/ui/",
    "runs": "/ui/runs",
    "models": "/ui/models",
    "deployment": "/ui/deployments/loans",
    "live": "/ui/live",
    "monitoring": "/ui/monitoring",
    "alerts": "/ui/alerts",
    "review": "/ui/review",
}


@pytest.mark.parametrize("name", PAGES)
def test_each_page_fits_1280_and_390_pixels(
    page: Page, site: tuple[str, dict[str, str], Path], name: str
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.goto(site[0] + PAGES[name])
    expect(page.locator("h1")).to_be_visible()
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(200)  # the charts redraw for the width
        wider = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wider <= 1, f"{name} is {wider} px wider than a {width} px window"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


def test_a_chart_is_drawn_on_the_monitoring_page(
    page: Page, site: tuple[str, dict[str, str], Path]
) -> None:
    page.goto(site[0] + "/ui/monitoring")
    expect(page.locator(".chart canvas").first).to_be_visible()
    page.locator("#windows a").first.click()
    expect(page.locator("#window h2")).to_contain_text("Window")


def test_two_runs_are_compared_side_by_side(
    page: Page, site: tuple[str, dict[str, str], Path]
) -> None:
    page.goto(site[0] + "/ui/runs")
    boxes = page.locator("#runs input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_role("button", name="Compare the ticked runs").click()
    expect(page.get_by_role("heading", name="Runs side by side")).to_be_visible()
    expect(page.locator("#comparison thead th")).to_have_count(3)
    page.screenshot(path=str(SCREENSHOTS / "compare-1280.png"), full_page=True)


def test_a_version_is_promoted_and_rolled_back(
    page: Page, site: tuple[str, dict[str, str], Path]
) -> None:
    url, _, folder = site
    page.goto(url + "/ui/deployments/loans")
    promote = page.locator("#promote")
    promote.get_by_label("reason").fill("the shadow agrees")
    promote.get_by_role("checkbox").check()
    promote.get_by_role("button", name="Promote").click()
    expect(page.locator('#deployment [data-field="primary"]')).to_have_text("loans:2")
    back = page.locator("#rollback")
    back.get_by_label("reason").fill("p99 too high")
    back.get_by_role("checkbox").check()
    back.get_by_role("button", name="Roll back").click()
    expect(page.locator('#deployment [data-field="primary"]')).to_have_text("loans:1")
    with prodml.Project(folder) as project:
        actions = [(e.action, e.actor) for e in project.registry.events("loans")][-2:]
    assert actions == [("promote", "operator-ana"), ("rollback", "operator-ana")]


def test_a_review_item_is_answered_with_a_key_press(
    page: Page, site: tuple[str, dict[str, str], Path]
) -> None:
    url, _, folder = site
    page.goto(url + "/ui/review")
    page.get_by_role("button", name="Take the next item").click()
    expect(page.locator("#answer")).to_be_visible()
    request_id = page.url.rsplit("/", 1)[-1]
    page.keyboard.press("1")
    page.wait_for_url(re.compile(r".*/ui/review.*"))
    expect(page.locator("#progress")).to_contain_text("1 answered")
    with prodml.Project(folder) as project:
        answered = project.review_queue.answers(request_id)
    assert [a["reviewer"] for a in answered] == ["operator-ana"]


def test_the_live_page_counts_traffic_as_it_comes(
    page: Page, site: tuple[str, dict[str, str], Path]
) -> None:
    url, _, folder = site
    page.goto(url + "/ui/live?endpoint=loans&span=1m")
    before = int(page.locator("#requests").inner_text().replace(",", ""))
    with prodml.Project(folder) as project:
        rows = records(project.load_data().X.head(50))
    send(url, rows, per_request=10)
    expect(page.locator("#requests")).not_to_have_text(f"{before:,}", timeout=15_000)
    after = int(page.locator("#requests").inner_text().replace(",", ""))
    assert after >= before + 50 - 1 or after > before
    page.screenshot(path=str(SCREENSHOTS / "live-after-traffic-1280.png"), full_page=True)
