"""Issue 5's acceptance scenario in a real Chromium, in Finnish and in English: a referral
is received and accepted on the intake pages by the team lead, who assigns it to the
coach; the coach opens the client from the caseload, records meetings, fills the
vocational profile, takes the journey through all five phases with the client page's
buttons (the disclosure plan filled during profiling, a job start recorded with the move
to agreeing with the employer), rests with a reason and review date, resumes, closes with
the outcome "employed", and saves, approves and downloads the final report as a PDF.

Every page state is checked (tests/e2e/browser_helpers.PageChecker): axe-core with no
serious or critical violations, every control labelled, no inline scripts, the page in
the language asked for, no untranslated string and, in English, no Finnish left over. A
numbered screenshot of each goes to test-output/journey/{lang}/ (printed)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from shared.contracts.journey import Role
from tests.conftest import Live, Org
from tests.e2e.browser_helpers import ARGS, CHROMIUM, PHASE, PageChecker, current_phase, login, press
from tests.e2e.test_intake_browser import _hetu
from tests.e2e.test_plans_browser import WORDS as PLAN_WORDS
from tests.e2e.test_records_browser import WORDS as RECORD_WORDS

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "journey"
WORDS = {
    "fi": {
        "referrals": "Lähetteet",
        "new_referral": "Uusi lähete",
        "save_referral": "Tallenna lähete",
        "accept": "Hyväksy ja aloita asiakkuus",
        "organisation": "Kotkan sosiaalitoimi",
        "background": "Toivoo osa-aikatyötä kaupan alalta.",
        "notes": "Ensitapaaminen: toiveena kaupan ala, 20 h viikossa.",
        "workplace_notes": "Kolmikantapalaveri työpaikalla, perehdytys sovittu.",
        "strengths": "Huolellinen, hyvä asiakaspalvelija",
        "goals": "Osa-aikatyö kaupan alalla",
        "summary": "Asiakas työllistyi osa-aikaisesti kaupan alalle.",
        "resting": "Lepäämässä",
    },
    "en": {
        "referrals": "Referrals",
        "new_referral": "New referral",
        "save_referral": "Save the referral",
        "accept": "Accept and start the journey",
        "organisation": "Kotka social services",
        "background": "Would like part-time work in retail.",
        "notes": "First meeting: wants retail work, 20 hours a week.",
        "workplace_notes": "Three-way meeting at the workplace; induction agreed.",
        "strengths": "Careful, good with customers",
        "goals": "Part-time work in retail",
        "summary": "The client found part-time work in retail.",
        "resting": "Resting",
    },
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _surname() -> str:
    return "Polku" + "".join(chr(ord("a") + int(d, 16) % 26) for d in uuid.uuid4().hex[:6])


def _open_record(page: Page, client_id: str, slug: str) -> None:
    """Follow a link to one of the client's record pages (the client page's list or a tab)."""
    page.locator(f'main a[href="/clients/{client_id}/{slug}"]').first.click()
    page.wait_for_url(f"**/clients/{client_id}/{slug}")


def _back_to_client(page: Page, client_id: str) -> None:
    page.locator(f'.breadcrumb a[href="/clients/{client_id}"]').click()
    page.wait_for_url(f"**/clients/{client_id}")


def _receive_and_accept(browser: Browser, live: Live, org: Org, lang: str, check: PageChecker, last: str) -> str:
    """The team lead saves a referral from the intake form and accepts it for the coach."""
    words = WORDS[lang]
    page = login(browser, live, live.username(org, Role.TEAM_LEAD), lang)
    page.get_by_role("link", name=words["referrals"], exact=True).first.click()
    page.wait_for_url("**/referrals")
    check(page, "referrals")
    page.get_by_role("link", name=words["new_referral"]).click()
    page.wait_for_url("**/referrals/new")
    check(page, "referral-new")
    page.locator("#referrer_type").select_option("social_services")
    page.locator("#referrer_organisation").fill(words["organisation"])
    page.locator("#referred_on").fill(date.today().isoformat())
    page.locator("#first_name").fill("Helmi")
    page.locator("#last_name").fill(last)
    page.locator("#wants_open_employment-yes").check()
    page.locator("#background").fill(words["background"])
    page.get_by_role("button", name=words["save_referral"]).click()
    page.wait_for_url(re.compile(r".*/referrals/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Helmi {last}")
    expect(page.locator("#client-first_name")).to_have_value("Helmi")  # filled from the referral
    check(page, "referral-received")

    page.locator("#client-personal_identity_code").fill(_hetu())
    page.locator("#client-phone").fill("040 123 4567")
    page.locator("#consent-processing").check()
    page.locator(f'input[name=coach_id][value="{org.users[Role.COACH.value]}"]').check()
    page.get_by_role("button", name=words["accept"]).click()
    page.wait_for_url(re.compile(r".*/clients/[0-9a-f-]{36}$"))
    client_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Helmi {last}")
    assert current_phase(page) == PHASE[lang][0]
    check(page, "client-accepted-by-lead")
    page.context.close()
    return client_id


def _record_meeting(page: Page, check: PageChecker, lang: str, place: str, participants: list[str], notes: str,
                    name: str) -> None:  # fmt: skip
    words = RECORD_WORDS[lang]
    before = page.locator(".records-list .record").count()
    page.locator("#meeting-duration").fill("45")
    page.locator("input[name=contact_mode][value=meeting]").check()
    page.locator("#meeting-place").select_option(place)
    for who in participants:
        page.locator(f"input[name=participants][value={who}]").check()
    page.get_by_label(words["notes"]).fill(notes)
    page.get_by_role("button", name=words["record"]).click()
    expect(page.get_by_text(words["recorded"])).to_be_visible()
    expect(page.locator(".records-list .record")).to_have_count(before + 1)
    expect(page.locator(".record-notes").first).to_have_text(notes)
    check(page, name)


@pytest.mark.parametrize("lang", ["fi", "en"])
def test_a_coach_takes_a_referral_through_the_whole_journey(live: Live, browser: Browser, lang: str) -> None:
    started = time.monotonic()
    folder = SHOTS / lang
    for old in folder.glob("*.png"):
        old.unlink()
    print(f"\nscreenshots of the coach's journey ({lang}): {folder}")
    check = PageChecker(folder, lang)
    words, record_words, plan_words, phases = WORDS[lang], RECORD_WORDS[lang], PLAN_WORDS[lang], PHASE[lang]
    org = live.add_org()
    last = _surname()

    # Referral: received and accepted on the intake pages, assigned to the coach.
    client_id = _receive_and_accept(browser, live, org, lang, check, last)

    # The coach: the client is on the caseload (fed by events, so wait for it).
    page = login(browser, live, live.username(org, Role.COACH), lang)
    link = page.get_by_role("link", name=f"Helmi {last}")
    for _ in range(60):
        if link.count():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(link).to_be_visible()
    check(page, "dashboard")
    link.click()
    page.wait_for_url(f"**/clients/{client_id}")
    assert current_phase(page) == phases[0]
    check(page, "client-intake")

    # A first meeting and the vocational profile.
    _open_record(page, client_id, "meetings")
    check(page, "meetings")
    _record_meeting(page, check, lang, "office", ["client"], words["notes"], "meeting-recorded")
    _open_record(page, client_id, "profile")
    check(page, "profile")
    page.get_by_label(record_words["strengths"]).fill(words["strengths"])
    page.locator("#profile-work_history").fill("2015–2019")
    page.locator("#profile-preferred_hours_per_week").fill("20")
    page.get_by_label(record_words["goals"]).fill(words["goals"])
    page.get_by_role("button", name=record_words["save_profile"]).click()
    expect(page.get_by_text(record_words["profile_saved"])).to_be_visible()
    expect(page.locator("table.versions tbody tr")).to_have_count(1)
    check(page, "profile-saved")

    # INTAKE -> PROFILING; the disclosure plan during profiling; -> JOB_SEARCH.
    _back_to_client(page, client_id)
    press(page, "advance")
    assert current_phase(page) == phases[1]
    check(page, "client-profiling")
    _open_record(page, client_id, "plans")
    check(page, "plans")
    page.locator("#a_discussed").check()
    page.locator("#a_discussed_on").fill(date.today().isoformat())
    page.locator("#b_discussed").check()
    page.locator("#b_discussed_on").fill(date.today().isoformat())
    page.get_by_role("button", name=plan_words["save_disclosure"]).click()
    expect(page.get_by_text(plan_words["disclosure_saved"])).to_be_visible()
    expect(page.locator("#a_discussed")).to_be_checked()
    expect(page.locator("#b_discussed")).to_be_checked()
    check(page, "plans-disclosure-saved")
    _back_to_client(page, client_id)
    press(page, "advance")
    assert current_phase(page) == phases[2]
    check(page, "client-job-search")

    # A job start, confirming the move to agreeing with the employer; then follow-along.
    expect(page.locator("#job_started-occurred_at")).not_to_have_value("")
    expect(page.locator("#job_started-confirm")).to_be_checked()
    press(page, "job_started")
    assert current_phase(page) == phases[3]
    check(page, "client-employer-agreement")
    press(page, "advance")
    assert current_phase(page) == phases[4]
    check(page, "client-follow-along")

    # A meeting at the workplace with the employer.
    _open_record(page, client_id, "meetings")
    _record_meeting(page, check, lang, "workplace", ["client", "employer"], words["workplace_notes"],
                    "meeting-at-workplace")  # fmt: skip
    _back_to_client(page, client_id)

    # Rest with a reason and a review date, resume.
    page.locator("#rest-reason").select_option("life_situation")
    page.locator("#rest-review_date").fill((date.today() + timedelta(days=21)).isoformat())
    press(page, "rest")
    expect(page.locator("#journey-live .facts .chip")).to_contain_text(words["resting"])
    expect(page.locator("#journey-live .facts .chip--grey")).to_be_visible()  # life situation: grey
    expect(page.locator('#journey-live [data-move="resume"]')).to_be_visible()
    check(page, "client-resting")
    press(page, "resume")
    expect(page.locator("#journey-live .facts .chip--light-green")).to_be_visible()
    assert current_phase(page) == phases[4]
    check(page, "client-resumed")

    # Close with the outcome "employed".
    page.locator("#close-outcome").select_option("employed")
    press(page, "close")
    expect(page.locator("#journey-live .facts .chip--green")).to_be_visible()
    assert page.locator('#journey-live [data-move="advance"]').count() == 0
    check(page, "client-closed")

    # The final report: the draft, saved, approved, downloaded as a PDF.
    _open_record(page, client_id, "final-report")
    check(page, "final-report-draft")
    page.get_by_label(plan_words["summary"]).fill(words["summary"])
    page.get_by_role("button", name=plan_words["save_report"]).click()
    expect(page.get_by_role("button", name=plan_words["approve"])).to_be_visible()
    check(page, "final-report-saved")
    page.get_by_role("button", name=plan_words["approve"]).click()
    expect(page.get_by_text(plan_words["approved"])).to_be_visible()
    check(page, "final-report-approved")
    with page.expect_download() as download:
        page.get_by_role("link", name=plan_words["download"]).click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF"), pdf[:20]
    assert len(pdf) > 5_000, len(pdf)
    (folder / f"final-report-{lang}.pdf").write_bytes(pdf)

    page.context.close()
    print(f"{check.count} page states checked, PDF {len(pdf)} bytes, {time.monotonic() - started:.1f} s")
