"""``/docs``: the OpenAPI document as a page served from the package (nothing from a CDN or
any other origin), read and tried in a real browser (Debian's Chromium, Playwright) against
a real ``prodml serve``."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from tests.serve.conftest import Http, Server

CHROMIUM = Path("/usr/bin/chromium")


def digest(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def test_the_page_is_one_file_that_reaches_no_other_origin(http: Http, bc_server: Server) -> None:
    answer = http.call(f"{bc_server.url}/docs")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    html = answer.body.decode()
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing loaded from elsewhere
    assert "http://" not in html and "https://" not in html
    policy = dict(
        part.strip().split(" ", 1) for part in answer.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'self'"
    script = re.search(r"<script>(.*)</script>", html, re.S)
    style = re.search(r"<style>(.*)</style>", html, re.S)
    assert script is not None and style is not None
    assert policy["script-src"] == f"'{digest(script.group(1))}'"  # only this script runs
    assert policy["style-src"] == f"'{digest(style.group(1))}'"
    assert 'fetch("openapi.json")' in script.group(1)


def test_the_document_lists_the_page(http: Http, bc_server: Server) -> None:
    document = http.call(f"{bc_server.url}/openapi.json").json()
    operation = document["paths"]["/docs"]["get"]
    assert "text/html; charset=utf-8" in operation["responses"]["200"]["content"]
    assert "security" not in operation  # anyone may read it


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield launched
        launched.close()


def test_a_browser_reads_the_record_and_sends_the_example(
    browser: Browser, loans_server: Server
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1024, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(f"{loans_server.url}/docs")
        expect(page.locator("#title")).to_contain_text("prodml model server")
        fields = page.locator("#fields tbody tr")
        expect(fields.first).to_be_visible()
        purpose = page.locator("#fields tr", has_text="purpose")
        expect(purpose).to_contain_text("debt_consolidation")  # a category seen in training
        predict = page.locator("details#post_predict")
        predict.locator("summary").click()
        body = predict.locator("textarea")
        expect(body).to_have_value(re.compile(r'"records"'))
        predict.get_by_role("button", name="Send").click()
        expect(predict.locator(".status")).to_contain_text("200 OK")
        expect(predict.locator("pre.body")).to_contain_text('"model": "loans:')
        body.fill('{"records": [{"income": "a lot"}]}')
        predict.get_by_role("button", name="Send").click()
        expect(predict.locator(".status")).to_contain_text("422")
        expect(predict.locator("pre.body")).to_contain_text("income")
        keys = page.locator("details#get_admin_keys summary")
        expect(keys).to_contain_text("needs a key")
    finally:
        context.close()
    assert not [p for p in problems if "422" not in p], problems  # the refusal is logged
    assert all(url.startswith(loans_server.url) for url in requests), requests
