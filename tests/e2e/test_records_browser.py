"""A client's meetings, vocational profile and team in a real Chromium, by keyboard: a
meeting recorded (htmx swaps the records in place), a refused one with its message at the
field, the profile saved twice with its version history, a team member added and a team
meeting recorded. Each page state is checked with axe-core (no serious or critical
violations), for unlabelled controls, inline scripts and, in Finnish, untranslated
strings; screenshots go to test-output/records/{lang}/."""

from __future__ import annotations

import re
from collections.abc import Iterator
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
        "duration": "Kesto minuutteina",
        "outreach": "Jalkautuva yhteydenotto",
        "place": "Tapaamispaikka",
        "community": "Lähiyhteisö",
        "employer": "Työnantaja",
        "notes": "Muistiinpanot",
        "record": "Kirjaa tapaaminen",
        "recorded": "Tapaaminen kirjattiin.",
        "bad_duration": "Anna kesto kokonaisina minuutteina, 1–1440.",
        "strengths": "Vahvuudet ja osaaminen",
        "goals": "Työelämätavoitteet",
        "save_profile": "Tallenna profiili",
        "profile_saved": "Profiili tallennettiin uutena versiona.",
        "role": "Rooli tiimissä",
        "te_expert": "TE-asiantuntija",
        "name": "Nimi",
        "add": "Lisää tiimiin",
        "added": "Tiimin jäsen lisättiin.",
        "record_team_meeting": "Kirjaa tiimipalaveri",
        "team_meeting_recorded": "Tiimipalaveri kirjattiin.",
    },
    "en": {
        "duration": "Duration in minutes",
        "outreach": "Outreach",
        "place": "Place of the meeting",
        "community": "Community",
        "employer": "Employer",
        "notes": "Meeting notes",
        "record": "Record the meeting",
        "recorded": "The meeting was recorded.",
        "bad_duration": "Give the duration in whole minutes, 1–1440.",
        "strengths": "Strengths and skills",
        "goals": "Work goals",
        "save_profile": "Save the profile",
        "profile_saved": "The profile was saved as a new version.",
        "role": "Role in the team",
        "te_expert": "TE expert",
        "name": "Name",
        "add": "Add to the team",
        "added": "The team member was added.",
        "record_team_meeting": "Record the team meeting",
        "team_meeting_recorded": "The team meeting was recorded.",
    },
}
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "records"
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
def test_meetings_profile_and_team_by_keyboard(live: Live, browser: Browser, lang: str) -> None:
    org = live.add_org()
    cid = live.register_client(org, "Selma", "Selain")["client_id"]
    words, folder = WORDS[lang], SHOTS / lang
    context = browser.new_context(base_url=live.base_url, locale=LOCALES[lang])
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/login")
    page.get_by_label(LOGIN[lang][0]).fill(live.username(org, Role.COACH))
    page.get_by_label(LOGIN[lang][1]).fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/$"))

    # Meetings: a refused one first (the message at the field), then a good one, in place.
    page.goto(f"/clients/{cid}/meetings")
    _check(page, folder, "01-meetings", lang)
    page.evaluate("() => { window.__notReloaded = true }")
    page.get_by_label(words["duration"]).fill("0")
    page.get_by_role("radio", name=words["outreach"]).check()
    page.get_by_label(words["place"]).select_option("community")
    page.get_by_role("checkbox", name=words["employer"]).check()
    page.get_by_label(words["notes"]).fill("Tavattiin kirjastossa")
    page.get_by_role("button", name=words["record"]).press("Enter")
    expect(page.get_by_text(words["bad_duration"])).to_be_visible()
    expect(page.get_by_label(words["duration"])).to_have_attribute("aria-invalid", "true")
    _check(page, folder, "02-meetings-refused", lang)
    page.get_by_label(words["duration"]).fill("45")
    page.get_by_role("button", name=words["record"]).press("Enter")
    expect(page.get_by_text(words["recorded"])).to_be_visible()
    expect(page.locator(".records-list .record")).to_have_count(1)
    expect(page.locator(".record-notes")).to_have_text("Tavattiin kirjastossa")
    assert page.evaluate("() => window.__notReloaded === true"), "the page was reloaded, not swapped"
    _check(page, folder, "03-meetings-recorded", lang)

    # Profile: two saves, two versions; the history says which fields changed.
    page.goto(f"/clients/{cid}/profile")
    _check(page, folder, "04-profile", lang)
    page.get_by_label(words["strengths"]).fill("Huolellinen")
    page.get_by_role("button", name=words["save_profile"]).press("Enter")
    expect(page.get_by_text(words["profile_saved"])).to_be_visible()
    page.get_by_label(words["goals"]).fill("Kirjastotyö")
    page.get_by_role("button", name=words["save_profile"]).press("Enter")
    expect(page.locator("table.versions tbody tr")).to_have_count(2)
    expect(page.locator("table.versions tbody tr").first).to_contain_text(words["goals"])
    _check(page, folder, "05-profile-saved", lang)

    # Team: a member, then a team meeting with them.
    page.goto(f"/clients/{cid}/team")
    _check(page, folder, "06-team", lang)
    page.get_by_label(words["role"]).select_option("te_expert")
    page.get_by_role("textbox", name=re.compile(f"^{words['name']}")).fill("Tiina Tiimi")
    page.get_by_role("button", name=words["add"]).press("Enter")
    expect(page.get_by_text(words["added"])).to_be_visible()
    page.get_by_role("checkbox", name=re.compile("Tiina Tiimi")).check()
    page.get_by_role("button", name=words["record_team_meeting"]).press("Enter")
    expect(page.get_by_text(words["team_meeting_recorded"])).to_be_visible()
    _check(page, folder, "07-team-meeting", lang)
    context.close()
