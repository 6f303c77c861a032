"""report.html opened in real headless Chromium (Debian's `chromium`, driven by Playwright).

Chromium must be installed (`.ci/run` installs it): without it these tests fail, they never skip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from report_fixtures import shop_run, write_run

from drsim.report import render_run

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail(f"Chromium is not installed ({CHROMIUM}): install Debian's chromium (apt-get install -y chromium), as .ci/run does")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@dataclass
class Visit:
    """What a page did while it loaded: console messages, page errors, requests, dialogs."""

    page: Page
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def visit(browser: Browser, html: Path) -> Visit:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = Visit(page)
    page.on("console", lambda message: seen.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(html.resolve().as_uri(), wait_until="load")
    return seen


def test_report_opens_cleanly_and_shows_verdict_and_chart(browser: Browser, shop_dir: Path, tmp_path: Path) -> None:
    render_run(shop_dir, ("html",))
    html = shop_dir / "report.html"
    seen = visit(browser, html)
    try:
        assert [m for m in seen.console if m[0] in ("error", "warning")] == []
        assert seen.errors == []
        assert seen.requests == [html.resolve().as_uri()], "the report fetches nothing but itself"
        verdict = seen.page.locator("#status")
        assert verdict.is_visible() and verdict.inner_text() == "Verdict: FAILED"
        assert seen.page.locator(".card.missed .card-label").inner_text() == "crm · RPO"
        chart = seen.page.locator("#timeline svg")
        assert chart.is_visible()
        box = chart.bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 200
        assert seen.page.locator("#timeline svg text", has_text="shop healthy").count() == 1
        shot = tmp_path / "report.png"
        seen.page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        seen.page.emulate_media(media="print")
        assert not seen.page.locator("nav.toc").is_visible()
        assert seen.page.locator("#signoff").is_visible()
    finally:
        seen.page.close()


def test_xss_vm_name_is_shown_as_text_and_never_runs(browser: Browser, tmp_path: Path) -> None:
    result, events = shop_run(vm_prefix=XSS)
    run = write_run(tmp_path / "run", result, events)
    render_run(run, ("html",))
    seen = visit(browser, run / "report.html")
    try:
        assert seen.dialogs == [] and seen.errors == []
        assert seen.page.evaluate("document.scripts.length") == 0
        assert f"{XSS}sql-01" in seen.page.locator("#rpo").inner_text()
        assert seen.page.locator("#timeline svg text", has_text=f"{XSS}sql-01").count() >= 1
    finally:
        seen.page.close()


def test_coverage_packet_opens_cleanly_and_links_its_runs(browser: Browser, tmp_path: Path) -> None:
    """coverage.html (drsim coverage) in Chromium: self-contained, the matrix and checklist shown, every
    run linked to its report, and a hostile directory name shown as text."""
    from click.testing import CliRunner

    from drsim.cli import main

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / f"runs{XSS.replace('/', '')}"
    for drill in ("2026-q4-shop-asr", "2026-q4-shop-backup"):
        ran = CliRunner().invoke(main, ["drill", "run", str(root / "drills" / f"{drill}.yaml"), "--out", str(out), "--quiet"])
        assert ran.exit_code in (0, 1), ran.output
    packet = tmp_path / "packet"
    made = CliRunner().invoke(main, ["coverage", "--period", "2026-Q4", "--store", str(out / "history.sqlite"), "--out", str(packet)])
    assert made.exit_code == 0, made.output
    html = packet / "coverage.html"
    seen = visit(browser, html)
    try:
        assert seen.errors == [] and seen.dialogs == [] and seen.page.evaluate("document.scripts.length") == 0
        assert [m for m in seen.console if m[0] in ("error", "warning")] == []
        assert seen.requests == [html.resolve().as_uri()], "the packet fetches nothing but itself"
        assert seen.page.locator("h1").inner_text() == "DR testing coverage: 2026-Q4"
        assert seen.page.locator("td.missing").count() > 0 and seen.page.locator("td.present").count() == 0
        assert "script>alert(1)" in seen.page.locator("body").inner_text()
        links = seen.page.locator("table").first.locator("a")
        assert links.count() == 2
        for i in range(2):
            target = (packet / links.nth(i).get_attribute("href")).resolve()  # type: ignore[operator]
            assert target.name == "report.html" and target.is_file()
        shot = tmp_path / "coverage.png"
        seen.page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
    finally:
        seen.page.close()
