"""The page in a real browser (SPEC §10): headless Chromium from Debian's packages, driven by
Playwright, walking the whole flow on the samples against the sandbox and asserting what a
person sees; a stop that behaves like Ctrl-C and an import that then resumes. With
IMPORTER_SCREENSHOTS=DIR, each step is saved there (the README's screenshots)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from importer.sandbox import SandboxConfig, SandboxThread
from tests.conftest import SAMPLES, sandbox_env
from tests.ui_server import running_ui

CHROMIUM = Path(os.environ.get("IMPORTER_CHROMIUM", "/usr/bin/chromium"))
SHOTS = os.environ.get("IMPORTER_SCREENSHOTS")

if not CHROMIUM.exists():  # CI installs it (scripts/browser.sh): there a missing one fails
    if os.environ.get("CI"):
        raise RuntimeError(f"no Chromium at {CHROMIUM}: `make browser` installs it")
    pytest.skip(f"no Chromium at {CHROMIUM} (make browser installs it)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

expect.set_options(timeout=30_000)  # an import against a rate-limited sandbox takes seconds


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        found = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield found
        found.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    found = context.new_page()
    found.set_default_timeout(30_000)
    yield found
    context.close()


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def filter_button(page: Page, where: str, label: str) -> Any:
    return page.locator(f"{where} .filters button", has_text=re.compile(f"^{label}"))


def test_the_whole_flow_on_the_sample(page: Page, tmp_path: Path, sandbox: SandboxThread) -> None:
    with running_ui(tmp_path, sandbox_env(sandbox.base_url)) as ui:
        page.goto(ui.url)
        expect(page.locator("h1")).to_have_text("importer")
        page.fill("#path", str(SAMPLES / "leads.csv"))
        page.click("#path-read")
        expect(page.locator("#file-info")).to_have_text(
            "leads.csv (CSV, utf-8-sig, delimiter ';'), 9 columns."
        )
        country = page.locator("#columns tr[data-column='Paese']")
        expect(country.locator("input.field")).to_have_value("customFields.country")
        email = page.locator("#columns tr[data-column='E-mail']")
        expect(email.locator("input.field")).to_have_value("email")
        expect(email.locator("td.values")).to_contain_text("mario.rossi@gmail.com")
        company = page.locator("#columns tr[data-column='Azienda']")
        company.locator("select.update").select_option("if_empty")
        expect(page.locator("#toml")).to_have_value(
            re.compile(r'"customFields\.company" = \{column = "Azienda", update = "if_empty"\}')
        )
        expect(company.locator("select.update")).to_have_value("if_empty")
        shot(page, "1-mapping")

        page.click("#check")
        expect(filter_button(page, "#check-result", "error")).to_have_text("error (1)")
        expect(page.locator("#check-result pre.summary")).to_contain_text(
            "12 rows: 1 duplicate, 1 skipped, 9 valid, 1 error"
        )
        filter_button(page, "#check-result", "error").click()
        rows = page.locator("#check-result table.rows tbody tr")
        expect(rows).to_have_count(1)
        expect(rows.first.locator("td.cause")).to_have_text("anna.ferrari@@gmail.com")
        expect(rows.first).to_contain_text(
            "invalid email 'anna.ferrari@@gmail.com' in column E-mail"
        )
        shot(page, "2-check")
        assert sandbox.requests() == []

        page.click("#predict")
        expect(filter_button(page, "#check-result", "would_create")).to_have_text(
            "would_create (9)"
        )

        page.click("#import")
        expect(page.locator("#import-result pre.summary")).to_contain_text(
            "12 rows: 9 created, 1 duplicate, 1 skipped, 1 error"
        )
        expect(filter_button(page, "#import-result", "created")).to_have_text("created (9)")
        with page.expect_download() as download:
            page.click("#import-result .downloads a[data-what='report.xlsx']")
        assert download.value.suggested_filename == "import-report.xlsx"
        shot(page, "3-import")
        assert len(sandbox.contacts()["minimo"]) == 9

        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#undo")
        expect(filter_button(page, "#undo-result", "deleted")).to_have_text("deleted (9)")
        shot(page, "4-undo")
        assert [c.get("deleted") for c in sandbox.contacts()["minimo"]] == [True] * 9

        page.click("#import")  # the job is done and undone: the page says how to go again
        expect(page.locator("#import-result pre.summary")).to_contain_text("and was undone on 2")
        expect(page.locator("#import-result pre.summary")).to_contain_text(
            "; press Import from the start to import the file again."
        )
        page.click("#fresh")
        expect(filter_button(page, "#import-result", "created")).to_have_text("created (9)")
        assert sum(not c.get("deleted") for c in sandbox.contacts()["minimo"]) == 9


def test_stop_is_ctrl_c_and_the_import_resumes(page: Page, tmp_path: Path) -> None:
    source = tmp_path / "many.csv"
    source.write_text("Email,First\n" + "".join(f"p{i:03d}@x.it,P{i}\n" for i in range(120)))
    with (
        SandboxThread(SandboxConfig(port=0, rate=10)) as sb,
        running_ui(tmp_path, sandbox_env(sb.base_url)) as ui,
    ):
        page.goto(ui.url)
        page.check("input[name=target][value=notifuse]")
        page.fill("#path", str(source))
        page.click("#path-read")
        expect(page.locator("#columns tr[data-column='Email'] input.field")).to_have_value("email")
        page.click("#import")
        progress = page.locator("#import-result .progress-text")
        expect(progress).to_contain_text(re.compile(r"sending: \d+ of 120 rows"))
        expect(progress).to_contain_text("rate-limited (429)")
        shot(page, "5-progress")
        page.click("#stop")
        expect(page.locator("#import-result .next-step")).to_have_text(
            "Stopped. The rows not sent yet are pending: press Import again to go on where it "
            "stopped."
        )
        expect(page.locator("#import-result pre.summary")).not_to_contain_text("report:")
        expect(filter_button(page, "#import-result", "pending")).to_be_visible()
        sent = len(sb.contacts()["notifuse"])
        assert 0 < sent < 120
        page.click("#import")
        expect(filter_button(page, "#import-result", "created")).to_have_text("created (120)")
        expect(filter_button(page, "#import-result", "all")).to_have_text("all (120)")
        expect(filter_button(page, "#import-result", "pending")).to_have_count(0)
        assert len(sb.contacts()["notifuse"]) == 120
        upserts = [r for r in sb.requests() if r["path"] == "/api/contacts.upsert"]
        assert len({r["status"] for r in upserts} - {200, 429}) == 0
