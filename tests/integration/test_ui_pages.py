"""The web UI's pages against the whole stack: login, CSRF, caseload, client page, languages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import date, timedelta

import httpx
import pytest

from shared.contracts.journey import Role
from tests.conftest import PASSWORD, Live, Org, wait_for

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _page_with(session: httpx.Client, path: str, text: str) -> Callable[[], str | None]:
    def check() -> str | None:
        r = session.get(path)
        return r.text if r.status_code == 200 and text in r.text else None

    return check


def _csrf(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no csrf token in the page"
    return match.group(1)


def _set_cookie(response: httpx.Response, name: str) -> str:
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return header


@pytest.fixture(scope="module")
def org(live: Live) -> Org:
    return live.add_org()


@pytest.fixture(scope="module")
def other_org(live: Live) -> Org:
    return live.add_org()


@pytest.fixture(scope="module")
def client(live: Live, org: Org) -> dict[str, str]:
    # Unique per run, letters only (the registry refuses digits in names).
    suffix = "".join(chr(ord("a") + int(d, 16) % 26) for d in uuid.uuid4().hex[:8])
    first, last = "Aino", f"Mäki-{suffix.capitalize()}"
    created = live.register_client(org, first, last)
    return {"client_id": created["client_id"], "name": f"{first} {last}"}


@pytest.fixture()
def coach(live: Live, org: Org) -> Iterator[httpx.Client]:
    with closing(live.browser_session(org, Role.COACH)) as session:
        yield session


# --------------------------------------------------------------------------- login


def test_login_with_wrong_password_is_401_with_the_error(live: Live, org: Org) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        token = _csrf(http.get("/login").text)
        r = http.post(
            "/login",
            data={"username": live.username(org, Role.COACH), "password": "wrong-password", "csrf_token": token},
        )
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("text/html")
        assert "Väärä käyttäjätunnus tai salasana." in r.text
        assert "polku_session" not in r.headers.get("set-cookie", "")


def test_login_sets_a_safe_session_cookie_and_redirects(live: Live, org: Org) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        page = http.get("/login")
        assert "httponly" in _set_cookie(page, "polku_csrf").lower()
        r = http.post(
            "/login",
            data={
                "username": live.username(org, Role.COACH),
                "password": PASSWORD,
                "csrf_token": _csrf(page.text),
                "next": "/clients",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/clients"
        cookie = _set_cookie(r, "polku_session")
        attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
        assert "httponly" in attributes
        assert attributes["samesite"].lower() == "samesite=lax"
        assert attributes["path"] == "Path=/"
        assert attributes["max-age"] == f"Max-Age={live.settings.session_ttl_seconds}"
        assert "secure" not in attributes  # POLKU_COOKIE_SECURE=false in the test stack


def test_login_ignores_an_absolute_next(live: Live, org: Org) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        token = _csrf(http.get("/login").text)
        r = http.post(
            "/login",
            data={
                "username": live.username(org, Role.COACH),
                "password": PASSWORD,
                "csrf_token": token,
                "next": "https://evil.example/",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/"


def test_pages_redirect_to_login_when_not_logged_in(live: Live) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        r = http.get("/clients/" + str(uuid.uuid4()))
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=/clients/")
        assert http.get("/").headers["location"] == "/login"
        r = http.get("/", headers={"HX-Request": "true"})
        assert r.headers["hx-redirect"] == "/login"


def test_an_invalid_session_cookie_sends_to_login(live: Live) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30, cookies={"polku_session": "not-a-jwt"}) as http:
        r = http.get("/")
        assert r.status_code == 303 and r.headers["location"] == "/login"


# --------------------------------------------------------------------------- CSRF


def test_form_posts_without_csrf_are_403(live: Live, coach: httpx.Client) -> None:
    for path, data in (("/logout", {}), ("/language", {"lang": "en"}), ("/logout", {"csrf_token": "forged"})):
        r = coach.post(path, data=data)
        assert r.status_code == 403, path
        assert r.headers["content-type"].startswith("text/html")
    assert coach.get("/").status_code == 200  # still logged in, language unchanged
    assert "polku_lang" not in coach.cookies


def test_login_without_csrf_is_403(live: Live, org: Org) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        http.get("/login")
        r = http.post("/login", data={"username": live.username(org, Role.COACH), "password": PASSWORD})
        assert r.status_code == 403
        assert "polku_session" not in r.headers.get("set-cookie", "")


def test_logout_clears_the_session(live: Live, coach: httpx.Client) -> None:
    r = coach.post("/logout", data={"csrf_token": _csrf(coach.get("/").text)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    cookie = _set_cookie(r, "polku_session")
    assert "Max-Age=0" in cookie or "expires=Thu, 01 Jan 1970" in cookie
    assert coach.get("/").status_code == 303


# --------------------------------------------------------------------------- caseload


def test_caseload_lists_a_registered_client(live: Live, coach: httpx.Client, client: dict[str, str]) -> None:
    # The caseload comes from reporting's projection, which follows the events.
    page = wait_for(_page_with(coach, "/", client["name"]))
    assert f'href="/clients/{client["client_id"]}"' in page
    assert "Palveluun hakeutuminen" in page  # INTAKE, in Finnish
    assert "Aktiivinen" in page and "chip--light-green" in page
    assert "1 / 20" in page  # the caseload meter
    assert "Tiedot päivitetty" in page  # data as of
    assert coach.get("/").headers["cache-control"] == "no-store"


def test_team_lead_sees_the_coaches_caseloads(live: Live, org: Org, client: dict[str, str]) -> None:
    with closing(live.browser_session(org, Role.TEAM_LEAD)) as lead:
        page = wait_for(_page_with(lead, "/", client["name"]))
        assert live.username(org, Role.COACH) in page
        assert "Esihenkilö" in page  # the header's role


def test_roles_without_a_caseload_land_on_links_to_their_own_pages(live: Live, org: Org) -> None:
    own = {
        Role.AUDITOR: ["/reports", "/audit"],
        Role.EMPLOYER_COORDINATOR: [
            "/employers",
            "/employer-contacts",
            "/openings",
            "/job-seekers",
            "/placements",
            "/reports",
        ],
        Role.REGION_ANALYST: ["/reports"],
    }
    for role, paths in own.items():
        with closing(live.browser_session(org, role)) as session:
            r = session.get("/")
            assert r.status_code == 200 and "Tervetuloa" in r.text, role
            home = r.text.split('<ul class="role-home">')[1].split("</ul>")[0]
            assert re.findall(r'href="([^"]+)"', home) == paths, role


# --------------------------------------------------------------------------- client page


def test_client_page_shows_the_journey(live: Live, coach: httpx.Client, client: dict[str, str]) -> None:
    r = coach.get(f"/clients/{client['client_id']}")
    assert r.status_code == 200
    assert f"<h1>{client['name']}</h1>" in r.text
    assert "Palveluun hakeutuminen" in r.text and "Aktiivinen" in r.text
    assert "Asiakkuus alkoi" in r.text  # the timeline's first entry


def test_another_organisations_client_is_a_404_without_data(live: Live, other_org: Org, client: dict[str, str]) -> None:
    with closing(live.browser_session(other_org, Role.COACH)) as outsider:
        for path in (f"/clients/{client['client_id']}", f"/clients/{uuid.uuid4()}", "/clients/not-a-uuid"):
            r = outsider.get(path)
            assert r.status_code == 404, path
            assert r.headers["content-type"].startswith("text/html")
            assert "Asiakasta ei löydy" in r.text
            assert client["name"] not in r.text and client["name"].split()[1] not in r.text


def test_api_paths_keep_problem_json(live: Live, coach: httpx.Client) -> None:
    r = coach.get(f"/api/v1/clients/{uuid.uuid4()}")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = coach.get("/api/v1/no-such-route")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = coach.get("/no-such-page")
    assert r.status_code == 404 and "Sivua ei löydy" in r.text


def test_static_files_are_served(live: Live) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30) as http:
        assert http.get("/static/htmx.min.js").status_code == 200
        assert http.get("/static/polku.css").headers["content-type"].startswith("text/css")


# --------------------------------------------------------------------------- languages


def test_language_switch_changes_the_page(live: Live, coach: httpx.Client) -> None:
    page = coach.get("/")
    assert '<html lang="fi">' in page.text and "Asiakkuudet" in page.text
    r = coach.post("/language", data={"lang": "en", "csrf_token": _csrf(page.text), "next": "/?x=1"})
    assert r.status_code == 303 and r.headers["location"] == "/?x=1"
    assert "polku_lang=en" in _set_cookie(r, "polku_lang")
    page = coach.get("/")
    assert '<html lang="en">' in page.text and "Caseload" in page.text and "Log out" in page.text
    assert page.headers["content-language"] == "en"
    coach.post("/language", data={"lang": "sv", "csrf_token": _csrf(page.text)})
    assert "Logga ut" in coach.get("/").text


def test_accept_language_picks_swedish_before_login(live: Live) -> None:
    with httpx.Client(base_url=live.base_url, timeout=30, headers={"Accept-Language": "sv-FI,sv;q=0.9"}) as http:
        page = http.get("/login")
        assert '<html lang="sv">' in page.text and "Logga in" in page.text
        # The login page's own switcher works before there is a session.
        r = http.post("/language", data={"lang": "en", "csrf_token": _csrf(page.text), "next": "/login?next=/x"})
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/x"
        assert "Log in" in http.get("/login").text


# --------------------------------------------------------------------------- journey moves


def _journey_client(live: Live, org: Org) -> str:
    suffix = "".join(chr(ord("a") + int(d, 16) % 26) for d in uuid.uuid4().hex[:8])
    return str(live.register_client(org, "Eino", f"Siirto-{suffix.capitalize()}")["client_id"])


def _move(session: httpx.Client, client_id: str, htmx: bool = True, **fields: str) -> httpx.Response:
    token = _csrf(session.get(f"/clients/{client_id}").text)
    headers = {"HX-Request": "true"} if htmx else {}
    return session.post(f"/clients/{client_id}/moves", data={"csrf_token": token, **fields}, headers=headers)


def _phase(live: Live, org: Org, client_id: str) -> tuple[str, str]:
    with live.http(live.username(org, Role.COACH)) as http:
        body = http.get(f"/api/v1/journeys/{client_id}").json()
        return body["phase"], body["status"]


def test_client_page_offers_only_the_legal_moves(live: Live, org: Org, coach: httpx.Client) -> None:
    client_id = _journey_client(live, org)
    page = coach.get(f"/clients/{client_id}").text
    for move in ("advance", "rest", "close"):
        assert f'data-move="{move}"' in page, move
    for move in ("resume", "reopen", "step_back", "job_started"):
        assert f'data-move="{move}"' not in page, move
    assert f'hx-post="/clients/{client_id}/moves"' in page
    assert f'href="/clients/{client_id}/meetings"' in page and f'href="/clients/{client_id}/final-report"' in page


def test_an_htmx_move_answers_the_updated_fragment(live: Live, org: Org, coach: httpx.Client) -> None:
    client_id = _journey_client(live, org)
    r = _move(coach, client_id, action="advance")
    assert r.status_code == 200, r.text
    assert "<html" not in r.text and r.text.lstrip().startswith('<div id="journey-live"')
    assert 'aria-current="step">Ammatillinen profilointi' in r.text  # the new phase
    assert "Siirretty seuraavaan vaiheeseen" in r.text  # the timeline's new entry
    assert 'data-move="step_back"' not in r.text  # no step back from PROFILING
    assert _phase(live, org, client_id) == ("PROFILING", "ACTIVE")


def test_a_refused_move_shows_the_reason_in_place_and_changes_nothing(
    live: Live, org: Org, coach: httpx.Client
) -> None:
    client_id = _journey_client(live, org)
    r = _move(coach, client_id, action="resume")
    assert r.status_code == 409
    assert "<html" not in r.text and 'role="alert"' in r.text
    assert "Asiakkuus ei ole lepäämässä, joten sitä ei voi jatkaa." in r.text
    past = (date.today() - timedelta(days=3)).isoformat()
    r = _move(coach, client_id, action="rest", reason="other", review_date=past)
    assert r.status_code == 409 and "Tarkistuspäivä on menneisyydessä." in r.text
    assert _phase(live, org, client_id) == ("INTAKE", "ACTIVE")


def test_invalid_fields_are_422_with_the_field_marked(live: Live, org: Org, coach: httpx.Client) -> None:
    client_id = _journey_client(live, org)
    r = _move(coach, client_id, action="rest", reason="other", review_date="2026-02-31")
    assert r.status_code == 422
    assert 'aria-invalid="true" aria-describedby="rest-review_date-error"' in r.text
    assert "Anna tarkistuspäivä oikeassa muodossa." in r.text and 'value="2026-02-31"' in r.text
    r = _move(coach, client_id, htmx=False, action="reassign", coach_id=str(uuid.uuid4()))
    assert r.status_code == 422 and "<html" in r.text  # without JS: the whole page with the error
    assert _phase(live, org, client_id) == ("INTAKE", "ACTIVE")


def test_without_javascript_a_move_redirects_back(live: Live, org: Org, coach: httpx.Client) -> None:
    client_id = _journey_client(live, org)
    r = _move(coach, client_id, htmx=False, action="rest", reason="health_clarification",
              review_date=(date.today() + timedelta(days=20)).isoformat())  # fmt: skip
    assert r.status_code == 303 and r.headers["location"] == f"/clients/{client_id}?done=rest#journey-live"
    page = coach.get(r.headers["location"]).text
    assert "Tallennettu: Asetettu lepäämään" in page or "Tallennettu:" in page
    assert "Lepäämässä: Terveydentilan selvittely" in page and 'data-move="resume"' in page
    r = _move(coach, client_id, htmx=False, action="resume")
    assert r.status_code == 303
    assert _phase(live, org, client_id) == ("INTAKE", "ACTIVE")


def test_a_move_without_the_csrf_token_is_refused(live: Live, org: Org, coach: httpx.Client) -> None:
    client_id = _journey_client(live, org)
    r = coach.post(f"/clients/{client_id}/moves", data={"action": "advance"}, headers={"HX-Request": "true"})
    assert r.status_code == 403
    assert _phase(live, org, client_id) == ("INTAKE", "ACTIVE")


def test_job_start_with_the_confirmed_move(live: Live, org: Org, coach: httpx.Client) -> None:
    client_id = _journey_client(live, org)
    _move(coach, client_id, action="advance")
    r = _move(coach, client_id, action="advance")
    assert 'data-move="job_started"' in r.text
    token = _csrf(coach.get(f"/clients/{client_id}").text)
    r = coach.post(
        f"/clients/{client_id}/milestones",
        data={
            "csrf_token": token,
            "kind": "job_started",
            "occurred_at": date.today().isoformat(),
            "confirm_move": "yes",
        },
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200, r.text
    assert _phase(live, org, client_id) == ("EMPLOYER_AGREEMENT", "ACTIVE")
    assert 'data-move="advance"' in r.text  # follow-along is open now that a job runs


def test_another_organisations_client_cannot_be_moved(live: Live, other_org: Org, org: Org) -> None:
    client_id = _journey_client(live, org)
    with closing(live.browser_session(other_org, Role.COACH)) as outsider:
        token = _csrf(outsider.get("/").text)
        r = outsider.post(f"/clients/{client_id}/moves", data={"csrf_token": token, "action": "advance"})
        assert r.status_code == 404 and "Eino" not in r.text
    assert _phase(live, org, client_id) == ("INTAKE", "ACTIVE")


# --------------------------------------------------------------------------- dashboard


def test_dashboard_sorts_and_filters_with_links(live: Live, org: Org, coach: httpx.Client) -> None:
    client_id = _journey_client(live, org)
    _move(coach, client_id, action="advance")
    page = wait_for(_page_with(coach, "/?phase=PROFILING", client_id))
    assert '<option value="PROFILING" selected>' in page
    assert "Viimeisin yhteydenpito" in page and "Muistutukset" in page
    # Every other row of the filtered page is in PROFILING too.
    phases = re.findall(r'<td>([^<]+)</td>\s*<td><span class="chip', page)
    assert phases and set(phases) == {"Ammatillinen profilointi"}
    page = coach.get("/?sort=days&order=desc").text
    assert 'aria-sort="descending"' in page and 'href="/?sort=days"' in page
    closed = coach.get("/?status=CLOSED").text
    assert client_id not in closed
    assert coach.get("/?sort=nonsense&status=x").status_code == 200


def test_dashboard_shows_clients_the_caseload_report_has_not_caught_up_with(
    live: Live, org: Org, coach: httpx.Client
) -> None:
    """The caseload report is a projection of events and can lag the registry: a client
    it does not hold yet still has a row, with the journey's own phase, and a closed one
    stays out of the open view."""
    open_id, closed_id = _journey_client(live, org), _journey_client(live, org)
    _move(coach, closed_id, action="close", outcome="education")
    _move(coach, open_id, action="advance")

    def projected() -> bool:
        rows = live.rows(
            "reporting", "SELECT client_id, status FROM journeys WHERE client_id IN (?, ?)", open_id, closed_id
        )
        return {str(r["client_id"]): r["status"] for r in rows} == {open_id: "ACTIVE", closed_id: "CLOSED"}

    wait_for(projected)
    live.rows("reporting", "DELETE FROM journeys WHERE client_id IN (?, ?)", open_id, closed_id)  # as if not yet there
    page = coach.get("/").text
    assert open_id in page and closed_id not in page
    row = page[page.index(f"/clients/{open_id}") :]
    assert "Ammatillinen profilointi" in row[: row.index("</tr>")]
    assert closed_id in coach.get("/?status=CLOSED").text


def test_team_lead_sees_only_their_team(live: Live) -> None:
    from shared.db import Database
    from shared.identity import Identity
    from tests.conftest import run_sync

    org = live.add_org()
    names = {"in": f"tiimi-{uuid.uuid4().hex[:6]}", "out": f"muu-{uuid.uuid4().hex[:6]}"}

    async def setup() -> None:
        db = Database(live.settings, "platform", immediate=True)
        try:
            ident = Identity(db)
            team = await ident.add_team(org.id, "Kotka")
            await ident.add_team(org.id, "Kouvola")
            await ident.set_team(org.users[Role.TEAM_LEAD.value], team)
            await ident.set_team(org.users[Role.COACH.value], team)
            await ident.add_user(org.id, names["in"], PASSWORD, Role.COACH, display_name="Tiina Tiimissä", team_id=team)
            await ident.add_user(org.id, names["out"], PASSWORD, Role.COACH, display_name="Matti Muualla")
        finally:
            await db.dispose()

    run_sync(setup())
    with closing(live.browser_session(org, Role.TEAM_LEAD)) as lead:
        page = wait_for(_page_with(lead, "/", "Tiina Tiimissä"))
        assert "Matti Muualla" not in page and live.username(org, Role.COACH) in page
        assert "Asiakkuudet: Kotka" in page
    with closing(live.browser_session(org, Role.ORG_ADMIN)) as admin:
        page = admin.get("/").text
        assert "Tiina Tiimissä" in page and "Matti Muualla" in page and "Tiimi: Kotka" in page
