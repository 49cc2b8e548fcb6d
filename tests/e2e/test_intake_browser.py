"""Intake's pages in a real Chromium: a referral from the form to the coach's caseload,
self-referral past a full caseload, consent withdrawal, quick help, a decline and the team
lead's view. Screenshots go to test-output/intake/."""

from __future__ import annotations

import random
import re
import string
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from shared.contracts.journey import Role
from tests.conftest import PASSWORD, Live, Org, run_sync

pytestmark = pytest.mark.browser

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
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "intake"
ALPHABET = "0123456789ABCDEFHJKLMNPRSTUVWXY"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _name() -> str:
    return "Br" + "".join(random.choice(string.ascii_lowercase) for _ in range(7))


def _hetu() -> str:
    digits = f"{random.randint(1, 28):02d}{random.randint(1, 12):02d}{random.randint(60, 99):02d}"
    digits += f"{random.randint(2, 899):03d}"
    return f"{digits[:6]}-{digits[6:]}{ALPHABET[int(digits) % 31]}"


def _page(browser: Browser, live: Live, username: str, lang: str = "fi") -> Page:
    context = browser.new_context(base_url=live.base_url, locale={"fi": "fi-FI", "sv": "sv-FI", "en": "en-GB"}[lang])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login")
    page.get_by_label({"fi": "Käyttäjätunnus", "sv": "Användarnamn", "en": "Username"}[lang]).fill(username)
    page.get_by_label({"fi": "Salasana", "sv": "Lösenord", "en": "Password"}[lang]).fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/$"))
    return page


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _check_page(page: Page) -> None:
    """Every visible control has a label; no inline scripts; every form carries the CSRF token."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
            .map(el => el.name || el.id)"""
    )
    assert unlabelled == [], unlabelled
    assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0
    forms_without_token = page.evaluate(
        """() => [...document.querySelectorAll('form[method=post]')]
            .filter(f => !f.querySelector('input[name=csrf_token]')).map(f => f.action)"""
    )
    assert forms_without_token == [], forms_without_token


def _add_small_coach(live: Live, org: Org) -> tuple[uuid.UUID, str]:
    from shared.db import Database
    from shared.identity import Identity

    username = f"pieni-{uuid.uuid4().hex[:8]}"

    async def go() -> uuid.UUID:
        db = Database(live.settings, "platform", immediate=True)
        try:
            return await Identity(db).add_user(
                org.id, username, PASSWORD, Role.COACH, display_name="Pia Pienityö", fte=0.1
            )
        finally:
            await db.dispose()

    return run_sync(go()), username


def test_referral_from_the_form_to_the_coachs_caseload(live: Live, browser: Browser) -> None:
    org = live.add_org()
    first, last, code = _name(), _name(), _hetu()
    page = _page(browser, live, live.username(org, Role.COACH))

    page.get_by_role("link", name="Lähetteet").click()
    expect(page.get_by_role("heading", name="Lähetteet")).to_be_visible()
    page.get_by_role("link", name="Uusi lähete").click()
    _check_page(page)
    page.get_by_label("Lähettävän tahon tyyppi").select_option("social_services")
    page.get_by_label("Organisaatio").fill("Kotkan sosiaalitoimi")
    page.get_by_label("Yksikkö").fill("Aikuissosiaalityö")
    page.get_by_label("Yhteyshenkilö").fill("Sari Sosiaalityöntekijä, 040 765 4321")
    page.get_by_label("Etunimi").fill(first)
    page.get_by_label("Sukunimi").fill(last)
    page.get_by_label("Kyllä").check()
    page.get_by_label("Taustatiedot").fill("Toivoo osa-aikatyötä kaupan alalta.")
    _shot(page, "01-referral-new")
    page.get_by_role("button", name="Tallenna lähete").click()

    page.wait_for_url(re.compile(r".*/referrals/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(first)
    _check_page(page)
    # The accept form: client fields filled from the referral, the coach's own caseload meter.
    expect(page.get_by_label("Etunimi")).to_have_value(first)
    expect(page.locator("meter").first).to_be_visible()
    wrong = code[:-1] + ALPHABET[(ALPHABET.index(code[-1]) + 1) % 31]
    page.get_by_label("Henkilötunnus").fill(wrong)  # a typo in the check character first
    page.get_by_label("Asiakas suostuu henkilötietojensa käsittelyyn palvelussa").check()
    page.get_by_role("button", name="Hyväksy ja aloita asiakkuus").click()
    expect(page.locator(".field-error").first).to_contain_text("Tarkistusmerkki ei täsmää")
    _shot(page, "02-referral-accept-error")
    page.get_by_label("Henkilötunnus").fill(code)
    page.get_by_label("Puhelin").fill("040 123 4567")
    page.get_by_label("Kela", exact=True).check()
    if not page.get_by_label("Asiakas suostuu henkilötietojensa käsittelyyn palvelussa").is_checked():
        page.get_by_label("Asiakas suostuu henkilötietojensa käsittelyyn palvelussa").check()
    _shot(page, "03-referral-accept")
    page.get_by_role("button", name="Hyväksy ja aloita asiakkuus").click()

    page.wait_for_url(re.compile(r".*/clients/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{first} {last}")
    expect(page.get_by_text("Palveluun hakeutuminen").first).to_be_visible()
    _shot(page, "04-client")
    client_url = page.url

    # The registry details and consent; withdraw the Kela consent.
    page.get_by_role("link", name="Henkilötiedot ja suostumukset").click()
    _check_page(page)
    expect(page.get_by_text(code)).to_be_visible()
    kela_row = page.get_by_role("row").filter(has_text="Tietojenvaihto: Kela")
    kela_row.get_by_role("button", name="Kirjaa peruutus").click()
    expect(page.get_by_role("row").filter(has_text="Tietojenvaihto: Kela")).to_contain_text("Peruttu")
    _shot(page, "05-consent-withdrawn")

    # The coach's caseload follows the events: poll by reloading.
    page.goto("/")
    for _ in range(60):
        if page.get_by_role("link", name=f"{first} {last}").count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(page.get_by_role("link", name=f"{first} {last}")).to_be_visible()
    expect(page.locator(".caseload-count").first).to_have_text("1 / 20")
    _shot(page, "06-caseload")
    page.get_by_role("link", name=f"{first} {last}").click()
    assert page.url == client_url
    page.context.close()


def test_self_referral_past_a_full_caseload_quick_help_decline_and_the_team_lead_view(
    live: Live, browser: Browser
) -> None:
    org = live.add_org()
    small_id, _ = _add_small_coach(live, org)  # capacity 2
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        for _ in range(2):
            body = {
                "coach_id": str(small_id),
                "first_name": _name(),
                "last_name": _name(),
                "consent": {"processing": True},
            }
            assert http.post("/api/v1/clients", json=body).status_code == 201
        referral = {
            "referrer_type": "health_services",
            "referrer_organisation": "Kotkan terveyskeskus",
            "referred_on": date.today().isoformat(),
            "wants_open_employment": True,
            "first_name": "Onni",
        }
        referral_id = http.post("/api/v1/referrals", json=referral).json()["referral_id"]

    page = _page(browser, live, live.username(org, Role.TEAM_LEAD), lang="en")
    page.get_by_role("link", name="New client").click()
    _check_page(page)
    first, last = _name(), _name()
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("The client agrees to the processing of their personal data in the service").check()
    expect(page.locator(".coach-option--full")).to_contain_text("caseload full")
    page.get_by_label(re.compile("Pia Pienityö")).check()
    page.get_by_role("button", name="Register and start the journey").click()
    expect(page.get_by_role("alert")).to_contain_text("Pia Pienityö has 2 active clients and the limit is 2")
    _shot(page, "07-register-caseload-full")
    page.get_by_label("Reason for assigning past a full caseload").fill("Knows the coach from before")
    page.get_by_role("button", name="Register and start the journey").click()
    page.wait_for_url(re.compile(r".*/clients/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{first} {last}")

    page.get_by_role("link", name="Quick help").click()
    _check_page(page)
    page.get_by_label("Topic").select_option("cv")
    page.get_by_label("Duration in minutes").fill("40")
    page.get_by_label("Named").check()
    page.get_by_label("Name", exact=True).fill("Pop-up Visitor")
    page.get_by_role("button", name="Record the contact").click()
    expect(page.get_by_role("status")).to_contain_text("recorded")
    expect(page.get_by_text("1 contact, 40 minutes in all.")).to_be_visible()
    assert "Pop-up Visitor" not in page.content()  # the list says "Named", not the name
    _shot(page, "08-quick-help")

    page.goto(f"/referrals/{referral_id}")
    page.get_by_label(re.compile(r"^Reason \(")).select_option("not_work_ready")
    page.get_by_role("button", name="Decline the referral").click()
    expect(page.locator(".facts")).to_contain_text("Judged not ready for work")

    page.get_by_role("link", name="Declines and overrides").click()
    _check_page(page)
    expect(page.get_by_role("alert")).to_contain_text("1 referral was declined")
    expect(page.locator("tr.flagged")).to_contain_text("Judged not ready for work")
    expect(page.locator("table.overrides")).to_contain_text("Knows the coach from before")
    expect(page.locator("table.overrides")).to_contain_text("2 / 2")
    _shot(page, "09-oversight-en")
    # The same view in Swedish, through the header's language switch.
    page.get_by_role("button", name="Svenska").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Avslag och överskridanden")
    _shot(page, "10-oversight-sv")
    page.context.close()
