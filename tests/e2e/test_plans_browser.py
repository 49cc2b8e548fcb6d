"""A client's plans, self-assessments and final report in a real Chromium, by keyboard:
the disclosure checklist, a self-assessment, the report saved, approved and its PDF
downloaded. Each page state is checked with axe-core (no serious or critical violations),
for unlabelled controls and, in Finnish, for untranslated strings; screenshots go to
test-output/plans/{lang}/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, expect, sync_playwright

from shared.contracts.journey import Role
from tests.conftest import PASSWORD, Live
from tests.untranslated import untranslated

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
LOCALES = {"fi": "fi-FI", "en": "en-GB"}
LOGIN = {"fi": ("Käyttäjätunnus", "Salasana"), "en": ("Username", "Password")}
WORDS = {
    "fi": {
        "discussed": "Keskusteltu asiakkaan kanssa",
        "date": "Keskustelun päivä",
        "save_disclosure": "Tallenna kertomisen suunnitelma",
        "disclosure_saved": "Rajoitteista kertomisen suunnitelma tallennettiin.",
        "work_ability": "Työkykypistemäärä (0–10)",
        "start": "Alussa",
        "record_assessment": "Kirjaa itsearviointi",
        "assessment_saved": "Itsearviointi kirjattiin.",
        "save_report": "Tallenna raportti",
        "summary": "Yhteenveto",
        "approve": "Hyväksy raportti",
        "approved": "Raportti hyväksyttiin.",
        "download": "Lataa raportti (PDF)",
    },
    "en": {
        "discussed": "Discussed with the client",
        "date": "Date discussed",
        "save_disclosure": "Save the disclosure plan",
        "disclosure_saved": "The disclosure plan was saved.",
        "work_ability": "Work-ability score (0–10)",
        "start": "At the start",
        "record_assessment": "Record the self-assessment",
        "assessment_saved": "The self-assessment was recorded.",
        "save_report": "Save the report",
        "summary": "Summary",
        "approve": "Approve the report",
        "approved": "The report was approved.",
        "download": "Download the report (PDF)",
    },
}
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "plans"
_axe = Axe()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _check(page: Page, folder: Path, name: str, lang: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    results = _axe.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): {[n.get('target') for n in v.get('nodes', [])][:3]}"
        for v in results.response.get("violations", [])
        if v.get("impact") in ("serious", "critical")
    ]
    assert bad == [], f"{name}: axe violations {bad}"
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
            .map(el => el.name || el.id)"""
    )
    assert unlabelled == [], f"{name}: controls without a label {unlabelled}"
    assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0
    if lang == "fi":
        assert untranslated(page.content(), "fi") == [], name


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_plans_assessments_and_final_report_by_keyboard(live: Live, browser: Browser, lang: str) -> None:
    org = live.add_org()
    cid = live.register_client(org, "Selma", "Selain")["client_id"]
    words, folder = WORDS[lang], SHOTS / lang
    context = browser.new_context(base_url=live.base_url, locale=LOCALES[lang], accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/login")
    page.get_by_label(LOGIN[lang][0]).fill(live.username(org, Role.COACH))
    page.get_by_label(LOGIN[lang][1]).fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/$"))

    # Plans: tick criterion a with the keyboard, give its date, save.
    page.goto(f"/clients/{cid}/plans")
    _check(page, folder, "01-plans", lang)
    page.locator("#a_discussed").focus()
    page.keyboard.press("Space")
    expect(page.locator("#a_discussed")).to_be_checked()
    page.get_by_label(words["date"]).first.fill(date.today().isoformat())
    page.get_by_role("button", name=words["save_disclosure"]).press("Enter")
    expect(page.get_by_text(words["disclosure_saved"])).to_be_visible()
    _check(page, folder, "02-plans-saved", lang)

    # Self-assessment: a start assessment, answers chosen by keyboard.
    page.goto(f"/clients/{cid}/assessments")
    _check(page, folder, "03-assessments", lang)
    page.get_by_label(words["start"]).check()
    page.get_by_label(words["work_ability"]).select_option("6")
    for n in range(1, 11):
        page.locator(f"#gse_{n}_3").check()
    page.get_by_role("button", name=words["record_assessment"]).press("Enter")
    expect(page.get_by_text(words["assessment_saved"])).to_be_visible()
    _check(page, folder, "04-assessment-recorded", lang)

    # Final report: save the draft as it is, approve, download the PDF.
    page.goto(f"/clients/{cid}/final-report")
    _check(page, folder, "05-final-report-draft", lang)
    page.get_by_label(words["summary"]).fill("Selma löysi osa-aikatyön.")
    page.get_by_role("button", name=words["save_report"]).press("Enter")
    page.get_by_role("button", name=words["approve"]).press("Enter")
    expect(page.get_by_text(words["approved"])).to_be_visible()
    _check(page, folder, "06-final-report-approved", lang)
    with page.expect_download() as download:
        page.get_by_role("link", name=words["download"]).click()
    path = download.value.path()
    assert Path(path).read_bytes().startswith(b"%PDF")
    print(f"screenshots in {folder}")
    context.close()
