"""The auditor in a real Chromium, after a coach's scenario done in the coach's own pages:
the auditor finds the client (by id, then by identity code), opens the journey trace and
sees every move and every view of the client with its actor, filters it, downloads the
signed JSON and checks it with the page's button, checks the access log's hash chain and
opens the access report for the client in Swedish. Each page state is checked with
axe-core (no serious or critical violations), for unlabelled controls and, in Finnish, for
untranslated strings; screenshots go to test-output/audit/."""

from __future__ import annotations

import json
import random
import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, Page, expect, sync_playwright

from shared.audit import AuditLog
from shared.contracts.journey import Role
from shared.db import Database
from shared.platform import AuditRecord
from tests.conftest import PASSWORD, Live, Org, run_sync
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
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "audit"
ALPHABET = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_axe = Axe()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _hetu() -> str:
    digits = f"{random.randint(1, 28):02d}{random.randint(1, 12):02d}{random.randint(60, 99):02d}"
    digits += f"{random.randint(2, 899):03d}"
    return f"{digits[:6]}-{digits[6:]}{ALPHABET[int(digits) % 31]}"


def _login(browser: Browser, live: Live, username: str) -> Page:
    context = browser.new_context(base_url=live.base_url, locale="fi-FI", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto("/login")
    page.get_by_label("Käyttäjätunnus").fill(username)
    page.get_by_label("Salasana").fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/$"))
    return page


class Checker:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, page: Page, name: str) -> None:
        self.count += 1
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(SHOTS / f"{self.count:02d}-{name}.png"), full_page=True)
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
        assert untranslated(page.content(), "fi") == [], name


def _press(page: Page, move: str) -> None:
    with page.expect_response(lambda r: "/clients/" in r.url and r.request.method == "POST"):
        page.locator(f'#journey-live [data-move="{move}"]').click()
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")


def _client_records(live: Live, org: Org, client_id: str) -> list[AuditRecord]:
    async def go() -> list[AuditRecord]:
        db = Database(live.settings, "platform")
        try:
            return await AuditLog(db).records(org.id, uuid.UUID(client_id))
        finally:
            await db.dispose()

    return run_sync(go())


def _coach_scenario(live: Live, browser: Browser, org: Org) -> tuple[str, str]:
    """The coach works the journey in the coaching pages; the team lead looks at the client."""
    code = _hetu()
    client_id = str(live.register_client(org, "Jäljitettävä", "Asiakas", personal_identity_code=code)["client_id"])
    coach = _login(browser, live, live.username(org, Role.COACH))
    coach.goto(f"/clients/{client_id}")
    _press(coach, "advance")
    _press(coach, "advance")
    coach.locator("#rest-reason").select_option("life_situation")
    coach.locator("#rest-review_date").fill((date.today() + timedelta(days=14)).isoformat())
    _press(coach, "rest")
    _press(coach, "resume")
    coach.context.close()
    lead = _login(browser, live, live.username(org, Role.TEAM_LEAD))
    lead.goto(f"/clients/{client_id}")
    expect(lead.locator("#journey-live")).to_be_visible()
    lead.context.close()
    return client_id, code


def test_an_auditor_sees_every_move_and_every_view_with_actors(live: Live, browser: Browser) -> None:
    org = live.add_org(region=f"audit-{uuid.uuid4().hex[:6]}")
    client_id, code = _coach_scenario(live, browser, org)
    names = {str(uid): f"{role}-{org.id.hex[:8]}" for role, uid in org.users.items()}
    with live.http(live.username(org, Role.COACH)) as http:
        timeline = http.get(f"/api/v1/journeys/{client_id}/timeline").json()
    moves = [e for e in timeline if e["kind"] in ("started", "move")]
    assert [e.get("action") for e in moves] == [None, "advance", "advance", "rest", "resume"]
    views = _client_records(live, org, client_id)  # every access so far, coach's and team lead's
    assert {names[str(r.actor_id)] for r in views} >= {
        names[str(org.users["coach"])],
        names[str(org.users["team_lead"])],
    }

    check = Checker()
    page = _login(browser, live, live.username(org, Role.AUDITOR))
    page.locator(".site-nav").get_by_role("link", name="Valvonta").click()
    page.wait_for_url("**/audit")
    check(page, "find")
    page.get_by_label("Asiakastunnus").fill(client_id)
    page.get_by_label("Tarkoitus", exact=True).select_option("supervision")
    page.get_by_role("button", name="Avaa polun jäljitys").click()
    page.wait_for_url(re.compile(rf".*/audit/clients/{client_id}\?purpose=supervision$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Asiakaspolun jäljitys")
    check(page, "trace")

    # Every move of the journey, with its actor.
    rows = page.locator("tr.entry--workflow")
    whats = rows.evaluate_all("rows => rows.map(r => r.dataset.what)")
    assert [w for w in whats if w == "started" or w.startswith("move.")] == [
        "started",
        "move.advance",
        "move.advance",
        "move.rest",
        "move.resume",
    ]
    for e in moves:
        what = "started" if e["kind"] == "started" else f"move.{e['action']}"
        actor = page.locator(f'tr.entry--workflow[data-what="{what}"] td.actor').first
        expect(actor).to_contain_text(names[e["actor"]["user_id"]])
    expect(page.locator('tr.entry--workflow[data-what="move.rest"]')).to_contain_text("life_situation")

    # Every view and change of the client's data, with its actor, and the auditor's own view last.
    access = page.locator("tr.entry--access")
    assert access.count() == len(views) + 1
    for r in views:
        row = page.locator(f'tr.entry--access[data-what="{r.action}"]', has_text=names[str(r.actor_id)])
        expect(row.first).to_be_visible()
    expect(access.last).to_contain_text(names[str(org.users["auditor"])])
    expect(access.last).to_contain_text("Asiakastietojen käsittelyn valvonta")
    expect(page.locator("tr.entry--event").first).to_be_visible()

    # Filter: the team lead's entries only, then the access log only.
    page.get_by_label("Tekijä").select_option(str(org.users["team_lead"]))
    page.get_by_role("button", name="Näytä").click()
    page.wait_for_url(re.compile(r".*actor=.*"))
    lead_rows = page.locator("tbody tr.entry")
    assert lead_rows.count() >= 1
    assert all(names[str(org.users["team_lead"])] in t for t in lead_rows.all_inner_texts())
    page.get_by_label("Tekijä").select_option("")
    page.get_by_label("Käyttöloki").check()
    page.get_by_role("button", name="Näytä").click()
    page.wait_for_url(re.compile(r".*kind=access.*"))
    assert page.locator("tr.entry--workflow").count() == 0 and page.locator("tr.entry--access").count() > 0
    check(page, "trace-filtered")

    # The signed export, checked with the page's button; an edited copy fails.
    with page.expect_download() as download:
        page.get_by_role("link", name="Vie allekirjoitettuna JSON-tiedostona").click()
    exported = Path(download.value.path())
    doc = json.loads(exported.read_text())
    assert doc["signature"]["algorithm"] == "Ed25519" and doc["trace"]["client_id"] == client_id
    assert {e["kind"] for e in doc["trace"]["entries"]} == {"access"}
    page.locator(".site-nav").get_by_role("link", name="Valvonta").click()
    page.get_by_label("Viety jäljitys (JSON)").set_input_files(str(exported))
    page.get_by_role("button", name="Tarkasta allekirjoitus").click()
    expect(page.locator("#verify-result")).to_contain_text("Allekirjoitus on kelvollinen")
    doc["trace"]["entries"][0]["actor_name"] = "Joku muu"
    edited = exported.with_name("edited.json")
    edited.write_text(json.dumps(doc))
    page.get_by_label("Viety jäljitys (JSON)").set_input_files(str(edited))
    page.get_by_role("button", name="Tarkasta allekirjoitus").click()
    expect(page.locator("#verify-result")).to_contain_text("ei läpäise tarkastusta")

    # The hash chain of the access log.
    page.get_by_role("button", name="Tarkasta tiivisteketju").click()
    expect(page.locator("#chain-result")).to_contain_text("Ketju on ehjä")
    check(page, "chain-checked")

    # Found by identity code: the code travels in the form's body, not in the address.
    page.get_by_label("tai henkilötunnus").fill(code)
    page.get_by_label("Tarkoitus", exact=True).select_option("client_request")
    page.get_by_label("Asia- tai diaarinumero (valinnainen)").fill("DNRO-42/2026")
    page.get_by_role("button", name="Avaa polun jäljitys").click()
    page.wait_for_url(re.compile(rf".*/audit/clients/{client_id}\?purpose=client_request&case=DNRO-42%2F2026$"))
    assert code not in page.url
    expect(page.locator("tr.entry--access").last).to_contain_text(
        "Asiakas pyysi tietoa siitä, kuka on käsitellyt hänen tietojaan (DNRO-42/2026)"
    )

    # The access report for the client, in Swedish.
    page.get_by_role("link", name="Käyttöselvitys asiakkaalle").click()
    expect(page.get_by_role("heading", name="Kuka on käsitellyt tietojasi")).to_be_visible()
    expect(page.locator(".access-report")).to_contain_text(names[str(org.users["coach"])])
    check(page, "access-report")
    page.get_by_label("Selvityksen kieli").select_option("sv")
    page.get_by_role("button", name="Näytä").click()
    expect(page.get_by_role("heading", name="Vem har behandlat dina uppgifter")).to_be_visible()
    expect(page.locator(".access-report")).to_contain_text("klientrelation")
    page.screenshot(path=str(SHOTS / "99-access-report-sv.png"), full_page=True)

    # Another organisation's auditor finds nothing.
    other = live.add_org(region=f"audit-{uuid.uuid4().hex[:6]}")
    stranger = _login(browser, live, live.username(other, Role.AUDITOR))
    response = stranger.goto(f"/audit/clients/{client_id}?purpose=supervision")
    assert response is not None and response.status == 404
    stranger.context.close()
    page.context.close()
