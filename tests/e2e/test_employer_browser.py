"""The employer pages in a real Chromium: a coordinator registers an employer, logs a
contact on a client's behalf, adds an opening, matches a job seeker and starts a placement.
Screenshots go to test-output/employer/."""

from __future__ import annotations

import random
import re
import string
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from shared.contracts.journey import Role
from tests.conftest import PASSWORD, Live

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
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "employer"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _business_id() -> str:
    while True:
        digits = f"{uuid.uuid4().int % 10_000_000:07d}"
        remainder = sum(w * int(d) for w, d in zip((7, 9, 10, 5, 8, 4, 2), digits, strict=True)) % 11
        if remainder != 1:
            return f"{digits}-{0 if remainder == 0 else 11 - remainder}"


def _login(browser: Browser, live: Live, username: str) -> Page:
    context = browser.new_context(base_url=live.base_url, locale="fi-FI", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login")
    page.get_by_label("Käyttäjätunnus").fill(username)
    page.get_by_label("Salasana").fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/$"))
    return page


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _check_page(page: Page) -> None:
    """Every visible control has a label; no inline scripts; every post form carries the CSRF token."""
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
            .map(el => el.name || el.id)"""
    )
    assert unlabelled == [], unlabelled
    inline = page.evaluate("() => [...document.scripts].filter(s => !s.src).length")
    assert inline == 0
    without_csrf = page.evaluate(
        """() => [...document.querySelectorAll('form[method=post]')]
            .filter(f => !f.querySelector('input[name=csrf_token]')).map(f => f.action)"""
    )
    assert without_csrf == [], without_csrf


def test_coordinator_from_employer_to_placement(live: Live, browser: Browser) -> None:
    started = time.monotonic()
    org = live.add_org()
    surname = "Selain" + "".join(random.choice(string.ascii_lowercase) for _ in range(5))
    client_id = live.register_client(org, "Outi", surname)["client_id"]
    with live.http(live.username(org, Role.COACH)) as http:
        for _ in range(2):  # INTAKE -> PROFILING -> JOB_SEARCH
            assert http.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "advance"}).status_code == 200
    employer_name = f"Kotikulma {uuid.uuid4().hex[:4]}"

    page = _login(browser, live, live.username(org, Role.EMPLOYER_COORDINATOR))

    # 1. Register the employer, with a wrong business ID first.
    page.get_by_role("navigation", name="Päävalikko").get_by_role("link", name="Työnantajat").click()
    page.get_by_role("link", name="Lisää työnantaja").click()
    _check_page(page)
    page.locator("#name").fill(employer_name)
    page.locator("#business_id").fill("2077474-1")
    page.locator("#industry").fill("56101")
    page.locator("#municipalities").fill("Kotka")
    page.get_by_label("Tietoa työkokeilusta").check()
    page.get_by_label("Apua työn alkaessa").check()
    page.locator("#person_name").fill("Maija Mallikas")
    page.locator("#person_email").fill("maija@example.fi")
    page.get_by_role("button", name="Tallenna").click()
    expect(page.locator("#business_id-error")).to_contain_text("tarkistusnumero ei täsmää")
    expect(page.locator("#business_id")).to_have_attribute("aria-invalid", "true")
    _shot(page, "1-employer-invalid-business-id")
    page.locator("#business_id").fill(_business_id())
    page.get_by_role("button", name="Tallenna").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(employer_name)
    expect(page.get_by_role("status")).to_contain_text("Työnantaja lisättiin")
    expect(page.get_by_text("56101 (I – Majoitus- ja ravitsemistoiminta)")).to_be_visible()
    _check_page(page)
    _shot(page, "2-employer")

    # 2. Log a face-to-face contact on the client's behalf: the journey's first employer contact.
    page.get_by_role("link", name="Kirjaa yhteydenotto").click()
    _check_page(page)
    expect(page.locator("#employer_id")).to_have_value(re.compile(r"[0-9a-f-]{36}"))
    page.locator("#client_id").select_option(label=f"Outi {surname}")
    page.get_by_label("Asiakas oli mukana").check()
    page.get_by_label("Asiakkaan vahvuuksien esittely").check()
    page.get_by_label(re.compile(r"^4 – ")).check()
    _shot(page, "3-contact-form")
    page.get_by_role("button", name="Tallenna yhteydenotto").click()
    expect(page.get_by_role("status")).to_contain_text("Kirjattu asiakkaan ensimmäiseksi työnantajakontaktiksi")
    expect(page.locator("table.contacts")).to_contain_text(f"Outi {surname}")
    _shot(page, "4-contact-logged")

    # 3. Add an opening at the employer.
    page.get_by_role("link", name="Lisää työpaikka").click()
    _check_page(page)
    page.locator("#title").fill("Keittiöapulainen")
    page.locator("#hours_min").fill("20")
    page.locator("#hours_max").fill("30")
    page.locator("#keywords").fill("keittiö, salaatit")
    page.get_by_role("button", name="Tallenna työpaikka").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Keittiöapulainen")
    expect(page.get_by_role("status")).to_contain_text("Työpaikka tallennettiin")
    _shot(page, "5-opening")

    # 4. Match: the job seeker's preferences, then the openings that fit and why.
    page.get_by_role("navigation", name="Päävalikko").get_by_role("link", name="Työnhakijat").click()
    for _ in range(50):  # the pool follows the journey events
        if page.get_by_role("link", name=f"Outi {surname}").count():
            break
        time.sleep(0.2)
        page.reload()
    page.get_by_role("link", name=f"Outi {surname}").click()
    _check_page(page)
    page.locator("#fields").fill("I")
    page.locator("#hours_min").fill("15")
    page.locator("#hours_max").fill("25")
    page.locator("#areas").fill("Kotka")
    page.locator("#interests").fill("keittiö")
    page.get_by_role("button", name="Tallenna toiveet").click()
    expect(page.get_by_role("status")).to_contain_text("Toiveet tallennettiin")
    first = page.locator("ol.matches > li").first
    expect(first).to_contain_text("Keittiöapulainen")
    expect(first).to_contain_text("Ala: toimiala 56101 kuuluu toivottuun alaan I")
    expect(first).to_contain_text("Alue: Kotka on toivottu alue")
    expect(first).to_contain_text("Tunnit: 20–30 h/vko sopii toivottuun 15–25 h/vko")
    _shot(page, "6-matches")

    # 5. Start the placement from the match, with the support agreement.
    first.get_by_role("link", name="Kirjaa työn aloitus").click()
    _check_page(page)
    expect(page.locator("#job_title")).to_have_value("Keittiöapulainen")
    page.get_by_label("Palkkatuettu työ").check()
    page.locator("#hours_per_week").fill("25")
    page.get_by_label("Perehdytys työpaikalla").check()
    page.get_by_label("Työpaikkakäynnit").check()
    page.get_by_label("Haettu").check()
    expect(page.locator("#confirm_move")).to_be_checked()
    _shot(page, "7-placement-form")
    page.get_by_role("button", name="Kirjaa työn aloitus").click()
    expect(page.get_by_role("status")).to_contain_text("Työn aloitus kirjattiin")
    expect(page.locator("dl.facts")).to_contain_text("Palkkatuettu työ")
    _shot(page, "8-placement")

    with live.http(live.username(org, Role.COACH)) as http:
        state = http.get(f"/api/v1/journeys/{client_id}").json()
    assert state["phase"] == "EMPLOYER_AGREEMENT"
    assert state["milestones"]["first_employer_contact_at"] and state["milestones"]["job_started_at"]

    # The weekly count shows the face-to-face contact against six.
    page.get_by_role("navigation", name="Päävalikko").get_by_role("link", name="Työnantajakontaktit").click()
    expect(page.locator("table.weekly")).to_contain_text("1 / 6")
    _check_page(page)
    _shot(page, "9-weekly-contacts")
    page.context.close()
    print(f"employer browser flow: {time.monotonic() - started:.1f} s")
