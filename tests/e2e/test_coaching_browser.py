"""The coach's day in a real Chromium: from the caseload to a client, the journey through
all five phases with the page's buttons, a rest with a reason and review date, resuming,
closing with an outcome, reopening, and a refused move shown in place. Every move updates
the page without navigating (a marker on ``window`` survives). Each page state is checked
with axe-core (no serious or critical violations) and, in Finnish, for untranslated
strings; a screenshot of each goes to test-output/coaching/{lang}/ (printed)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, expect, sync_playwright

from shared.contracts.journey import Role
from tests.conftest import PASSWORD, Live, Org
from tests.untranslated import untranslated

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
LOCALES = {"fi": "fi-FI", "en": "en-GB"}
LOGIN = {"fi": ("Käyttäjätunnus", "Salasana"), "en": ("Username", "Password")}
PHASE = {
    "fi": ["Palveluun hakeutuminen", "Ammatillinen profilointi", "Työn nopea etsintä", "Työnantajan kanssa sopiminen",
           "Työsuhteen ylläpitämisen tuki"],
    "en": ["Intake and engagement", "Vocational profiling", "Rapid job search", "Agreeing with the employer",
           "Follow-along support"],
}  # fmt: skip
NOT_ACTIVE = {
    "fi": "Asiakkuus ei ole aktiivinen, joten sitä ei voi nyt siirtää.",
    "en": "The journey is not active, so it cannot move now.",
}
# The client record pages of the other parts of issue 5, checked when they exist.
RECORD_PAGES = ("meetings", "profile", "team", "plans", "assessments", "final-report")
_axe = Axe()
# Screenshots: the repository's test output folder (ignored by git; pytest's own tmp folders
# are shared by every pytest run on the machine and pruned to the newest three).
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "coaching"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Checker:
    """Screenshots, axe-core and the untranslated-string scan of every page state."""

    def __init__(self, folder: Path, lang: str) -> None:
        self.folder, self.lang, self.count = folder, lang, 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Page, name: str) -> None:
        self.count += 1
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)
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
        if self.lang == "fi":
            assert untranslated(page.content(), "fi") == [], name


def _login(browser: Browser, live: Live, username: str, lang: str) -> Page:
    context = browser.new_context(base_url=live.base_url, locale=LOCALES[lang])
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/login")
    user_label, password_label = LOGIN[lang]
    page.get_by_label(user_label).fill(username)
    page.get_by_label(password_label).fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/$"))
    return page


def _current_phase(page: Page) -> str:
    return page.locator("#journey-live .phase-step--current").inner_text().strip()


def _press(page: Page, move: str) -> None:
    """Press a move's button and wait for htmx to swap the journey in place."""
    with page.expect_response(lambda r: "/clients/" in r.url and r.request.method == "POST"):
        page.locator(f'#journey-live [data-move="{move}"]').click()
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")


def _marker_survives(page: Page) -> None:
    assert page.evaluate("() => window.__polkuMarker") == "kept", "the page navigated instead of updating in place"


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_a_coach_takes_a_journey_through_every_phase(live: Live, browser: Browser, lang: str) -> None:
    shots = SHOTS / lang
    print(f"\nscreenshots of the coaching pages ({lang}): {shots}")
    check = Checker(shots, lang)
    org: Org = live.add_org()
    last = "Polku" + "".join(chr(ord("a") + int(d, 16) % 26) for d in uuid.uuid4().hex[:6])
    client_id = str(live.register_client(org, "Helmi", last)["client_id"])
    phases = PHASE[lang]

    page = _login(browser, live, live.username(org, Role.COACH), lang)
    expect(page.get_by_role("link", name=f"Helmi {last}")).to_be_visible(timeout=30_000)
    check(page, "dashboard")
    page.get_by_role("link", name=f"Helmi {last}").click()
    page.wait_for_url(f"**/clients/{client_id}")
    assert _current_phase(page) == phases[0]
    check(page, "client-intake")
    page.evaluate("() => { window.__polkuMarker = 'kept' }")

    # INTAKE -> PROFILING -> JOB_SEARCH with the advance button.
    _press(page, "advance")
    assert _current_phase(page) == phases[1]
    _press(page, "advance")
    assert _current_phase(page) == phases[2]
    check(page, "client-job-search")
    # A job start, confirming the move to agreeing with the employer.
    page.locator("#job_started-occurred_at").fill(date.today().isoformat())
    expect(page.locator("#job_started-confirm")).to_be_checked()
    _press(page, "job_started")
    assert _current_phase(page) == phases[3]
    _press(page, "advance")
    assert _current_phase(page) == phases[4]
    _marker_survives(page)
    check(page, "client-follow-along")

    # A refused move: another tab puts the journey to rest; this page's step back is refused in place.
    other = page.context.new_page()
    other.goto(f"/clients/{client_id}")
    other.locator("#rest-reason").select_option("life_situation")
    other.locator("#rest-review_date").fill((date.today() + timedelta(days=14)).isoformat())
    _press(other, "rest")
    other.close()
    _press(page, "step_back")
    alert = page.locator("#journey-live [role=alert]")
    expect(alert).to_have_text(NOT_ACTIVE[lang])
    expect(page.locator('#journey-live [data-move="resume"]')).to_be_visible()  # the page shows the state as it is
    _marker_survives(page)
    check(page, "client-refused")

    # Resume, then rest with a reason and review date, resume again.
    _press(page, "resume")
    assert _current_phase(page) == phases[4]
    page.locator("#rest-reason").select_option("health_clarification")
    page.locator("#rest-review_date").fill((date.today() + timedelta(days=30)).isoformat())
    _press(page, "rest")
    expect(page.locator("#journey-live .facts .chip--yellow")).to_be_visible()
    check(page, "client-resting")
    _press(page, "resume")
    expect(page.locator("#journey-live .facts .chip--light-green")).to_be_visible()

    # Close with an outcome, then reopen.
    page.locator("#close-outcome").select_option("employed")
    _press(page, "close")
    expect(page.locator("#journey-live .facts .chip--green")).to_be_visible()
    assert page.locator('#journey-live [data-move="advance"]').count() == 0
    check(page, "client-closed")
    page.locator("#reopen-to_phase").select_option("INTAKE")
    _press(page, "reopen")
    assert _current_phase(page) == phases[0]
    expect(page.locator("#journey-live .timeline-list li")).to_have_count(12)
    _marker_survives(page)
    check(page, "client-reopened")

    # The keyboard reaches the moves (Tab from the step before) and its focus is visible.
    page.locator("#reopen-to_phase, #rest-reason").first.focus()
    page.keyboard.press("Shift+Tab")
    page.locator('#journey-live [data-move="advance"]').focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => { const el = document.activeElement;
            return [el.dataset.move || '', el.matches(':focus-visible'), getComputedStyle(el).outlineStyle] }"""
    )
    assert focused == ["advance", True, "solid"], focused

    # The dashboard's sorting and filtering links.
    page.goto("/?sort=days&order=desc&phase=INTAKE")
    expect(page.get_by_role("link", name=f"Helmi {last}")).to_be_visible()
    check(page, "dashboard-filtered")
    page.context.close()


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_the_client_record_pages_pass_axe_and_are_translated(live: Live, browser: Browser, lang: str) -> None:
    """The record pages linked from the client page (built by other parts of issue 5):
    the same axe-core and untranslated-string checks, for each page that exists now."""
    org = live.add_org()
    client_id = str(live.register_client(org, "Väinö", "Kirjaaja")["client_id"])
    page = _login(browser, live, live.username(org, Role.COACH), lang)
    check = Checker(SHOTS / lang / "record", lang)
    found = []
    for slug in RECORD_PAGES:
        response = page.goto(f"/clients/{client_id}/{slug}")
        assert response is not None
        if response.status == 404 and "/clients/" in page.url:
            continue  # that page is not built yet
        assert response.status == 200, slug
        found.append(slug)
        check(page, slug)
    print(f"\nrecord pages checked ({lang}): {found or 'none yet'}")
    page.context.close()


def test_team_lead_sees_the_coaches_caseloads(live: Live, browser: Browser) -> None:
    org = live.add_org()
    live.register_client(org, "Onni", "Tiimiläinen")
    page = _login(browser, live, live.username(org, Role.TEAM_LEAD), "fi")
    expect(page.get_by_role("link", name="Onni Tiimiläinen")).to_be_visible(timeout=30_000)
    expect(page.locator("meter")).to_have_count(1)  # one coach in the organisation, with a meter
    print(f"\nscreenshot of the team lead's caseload: {SHOTS / 'lead'}")
    Checker(SHOTS / "lead", "fi")(page, "team-lead")
    page.context.close()
