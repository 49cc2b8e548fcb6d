"""Client records against the whole stack (real Temporal, NATS, SQLite): meetings and
outreach with encrypted notes that report contact_made to the journey, the versioned
vocational profile, the multi-professional team, their pages, organisation isolation,
validation and the audit trail."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.coaching.record_store import client_records_summary
from shared.contracts.journey import Role
from shared.crypto import FieldCipher
from shared.db import Database
from shared.keys import load_keys
from tests.conftest import Live, Org, run_sync

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOTE = "Asiakas kertoi selkävaivoista ja toivoo osa-aikatyötä"


@pytest.fixture(scope="module")
def org(live: Live) -> Org:
    return live.add_org()


@pytest.fixture(scope="module")
def other_org(live: Live) -> Org:
    return live.add_org()


def _client(live: Live, org: Org) -> str:
    suffix = "".join(chr(ord("a") + int(d, 16) % 26) for d in uuid.uuid4().hex[:8])
    return str(live.register_client(org, "Eino", f"Lahti-{suffix.capitalize()}")["client_id"])


@pytest.fixture()
def client_id(live: Live, org: Org) -> str:
    return _client(live, org)


@pytest.fixture(scope="module")
def untouched_client(live: Live, org: Org) -> str:
    """One client for the validation tests, which must leave it as it was (the caseload
    limit of 20 per coach keeps the number of clients per organisation down)."""
    return _client(live, org)


@pytest.fixture()
def coach(live: Live, org: Org) -> Iterator[httpx.Client]:
    with live.http(live.username(org, Role.COACH)) as http:
        yield http


def _rows(live: Live, sql: str, *args: Any, database: str = "coaching") -> list[tuple[Any, ...]]:
    return [tuple(row.values()) for row in live.rows(database, sql, *args)]


def _audit_actions(live: Live, org: Org, client_id: str) -> list[str]:
    rows = _rows(
        live,
        "SELECT action FROM audit_records WHERE organisation_id = ? AND client_id = ? ORDER BY seq",
        str(org.id),
        client_id,
        database="platform",
    )
    return [r[0] for r in rows]


def _meeting(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "duration_minutes": 45,
        "place": "community",
        "contact_mode": "outreach",
        "participants": ["client", "coach"],
        "notes": NOTE,
    }
    return {**body, **over}


def _csrf(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no csrf token in the page"
    return match.group(1)


# --------------------------------------------------------------------------- meetings


def test_a_meeting_is_stored_encrypted_and_reaches_the_journey(
    live: Live, org: Org, coach: httpx.Client, client_id: str
) -> None:
    occurred = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    r = coach.post(f"/api/v1/clients/{client_id}/meetings", json=_meeting(occurred_at=occurred.isoformat()))
    assert r.status_code == 201, r.text
    meeting = r.json()
    assert meeting["notes"] == NOTE and meeting["place"] == "community" and meeting["contact_mode"] == "outreach"
    assert meeting["recorded_by"] == str(org.users["coach"])

    listed = coach.get(f"/api/v1/clients/{client_id}/meetings").json()
    assert [m["id"] for m in listed] == [meeting["id"]]
    assert listed[0]["notes"] == NOTE and listed[0]["participants"] == ["client", "coach"]

    # At rest: ciphertext bound to the row, never the text.
    ((stored, org_id),) = _rows(
        live, "SELECT notes_enc, organisation_id FROM client_meetings WHERE id = ?", meeting["id"]
    )
    assert stored.startswith("v1:") and NOTE not in stored and "selkävaivoista" not in stored
    assert org_id == str(org.id)
    assert NOTE.encode() not in live.database_bytes("coaching")

    # The journey counts the contact: codes and the meeting's id, no notes.
    state = coach.get(f"/api/v1/journeys/{client_id}").json()
    m = state["milestones"]
    assert m["contacts"] == 1 and m["outreach_contacts"] == 1 and m["contacts_outside_office"] == 1
    assert datetime.fromisoformat(m["last_contact_at"]) == occurred
    timeline = coach.get(f"/api/v1/journeys/{client_id}/timeline").json()
    (entry,) = [e for e in timeline if e.get("milestone") == "contact_made"]
    assert entry["reason_ref"] == f"meeting:{meeting['id']}"
    assert entry["place"] == "community" and entry["contact_mode"] == "outreach"
    assert NOTE not in str(timeline) and NOTE not in str(state)

    # An office meeting counts too, but not as outside the office.
    r = coach.post(
        f"/api/v1/clients/{client_id}/meetings",
        json=_meeting(place="office", contact_mode="meeting", notes=None),
    )
    assert r.status_code == 201, r.text
    m = coach.get(f"/api/v1/journeys/{client_id}").json()["milestones"]
    assert m["contacts"] == 2 and m["contacts_outside_office"] == 1 and m["outreach_contacts"] == 1

    actions = _audit_actions(live, org, client_id)
    assert actions.count("records.meeting.create") == 2 and "records.meetings.read" in actions


@pytest.mark.parametrize(
    "change",
    [
        {"duration_minutes": 0},
        {"duration_minutes": 2000},
        {"place": "moon"},
        {"contact_mode": "letter"},
        {"participants": []},
        {"participants": ["client", "client"]},
        {"participants": ["boss"]},
        {"notes": "x" * 10_001},
        {"occurred_at": "2026-01-05T10:00:00"},  # no time zone
        {"occurred_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()},  # not yet happened
        {"unexpected": 1},
    ],
    ids=lambda c: next(iter(c)),
)
def test_bad_meeting_is_422_and_writes_nothing(
    live: Live, org: Org, coach: httpx.Client, untouched_client: str, change: dict[str, Any]
) -> None:
    client_id = untouched_client
    r = coach.post(f"/api/v1/clients/{client_id}/meetings", json=_meeting(**change))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["code"] == "validation_failed" and problem["errors"]
    assert _rows(live, "SELECT count(*) FROM client_meetings WHERE client_id = ?", client_id) == [(0,)]
    assert coach.get(f"/api/v1/journeys/{client_id}").json()["milestones"]["contacts"] == 0
    assert "records.meeting.create" not in _audit_actions(live, org, client_id)


def test_a_closed_journey_takes_no_meeting_and_nothing_is_written(
    live: Live, coach: httpx.Client, client_id: str
) -> None:
    r = coach.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "close", "outcome": "discontinued"})
    assert r.status_code == 200, r.text
    r = coach.post(f"/api/v1/clients/{client_id}/meetings", json=_meeting())
    assert r.status_code == 409 and r.json()["code"] == "closed_accepts_only_reopen"
    assert _rows(live, "SELECT count(*) FROM client_meetings WHERE client_id = ?", client_id) == [(0,)]


# --------------------------------------------------------------------------- profile


def test_profile_versions_keep_who_changed_what(live: Live, org: Org, coach: httpx.Client, client_id: str) -> None:
    assert coach.get(f"/api/v1/clients/{client_id}/profile").json() is None
    first = {"strengths": "Tarkka ja täsmällinen", "goals": "Varastotyö", "preferred_hours_per_week": 25}
    r = coach.put(f"/api/v1/clients/{client_id}/profile", json=first)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1
    assert r.json()["changed_fields"] == ["strengths", "preferred_hours_per_week", "goals"]

    with live.http(live.username(org, Role.TEAM_LEAD)) as lead:
        second = {**first, "goals": "Logistiikka-alan työ", "preferred_area": "Kotka"}
        r = lead.put(f"/api/v1/clients/{client_id}/profile", json=second)
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2 and r.json()["changed_fields"] == ["preferred_area", "goals"]
    r = coach.put(f"/api/v1/clients/{client_id}/profile", json=second)  # saved again unchanged
    assert r.json()["version"] == 3 and r.json()["changed_fields"] == []

    profile = coach.get(f"/api/v1/clients/{client_id}/profile").json()
    assert profile["version"] == 3 and profile["goals"] == "Logistiikka-alan työ" and profile["interests"] is None
    versions = coach.get(f"/api/v1/clients/{client_id}/profile/versions").json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["author_id"] for v in versions] == [
        str(org.users["coach"]),
        str(org.users["team_lead"]),
        str(org.users["coach"]),
    ]
    assert versions[1]["changed_fields"] == ["preferred_area", "goals"]

    # Never updated in place: three rows, text encrypted, each bound to its own row.
    rows = _rows(
        live,
        "SELECT version, strengths_enc, goals_enc FROM vocational_profile_versions"
        " WHERE client_id = ? ORDER BY version",
        client_id,
    )
    assert [r[0] for r in rows] == [1, 2, 3]
    assert all(r[1].startswith("v1:") and "Tarkka" not in r[1] for r in rows)
    assert rows[1][1] != rows[2][1]  # same text, different ciphertext
    assert b"Logistiikka" not in live.database_bytes("coaching")

    actions = _audit_actions(live, org, client_id)
    assert actions.count("records.profile.save") == 3
    assert "records.profile.read" in actions and "records.profile.versions.read" in actions


@pytest.mark.parametrize(
    "body",
    [{"preferred_hours_per_week": 100}, {"goals": "x" * 5001}, {"salary": "high"}, {"preferred_hours_per_week": "a"}],
    ids=["hours", "too_long", "unknown_field", "hours_text"],
)
def test_bad_profile_is_422_and_writes_nothing(
    live: Live, coach: httpx.Client, untouched_client: str, body: dict[str, Any]
) -> None:
    client_id = untouched_client
    r = coach.put(f"/api/v1/clients/{client_id}/profile", json=body)
    assert r.status_code == 422 and r.json()["code"] == "validation_failed"
    assert _rows(live, "SELECT count(*) FROM vocational_profile_versions WHERE client_id = ?", client_id) == [(0,)]


# --------------------------------------------------------------------------- team


def test_team_members_are_added_ended_and_kept(live: Live, org: Org, coach: httpx.Client, client_id: str) -> None:
    base = f"/api/v1/clients/{client_id}/team"
    r = coach.post(
        base,
        json={"role": "te_expert", "name": "Tiina TE", "organisation": "TE-palvelut", "contact": "tiina@example.fi"},
    )
    assert r.status_code == 201, r.text
    te = r.json()
    assert te["active"] and te["contact"] == "tiina@example.fi"
    social = coach.post(base, json={"role": "social_counsellor", "name": "Sami Sosiaali"}).json()

    ((contact,),) = _rows(live, "SELECT contact_enc FROM client_team_members WHERE id = ?", te["id"])
    assert contact.startswith("v1:") and "tiina@" not in contact

    r = coach.delete(f"{base}/{social['id']}")
    assert r.status_code == 200 and r.json()["ended_at"] and not r.json()["active"]
    assert r.json()["ended_by"] == str(org.users["coach"])
    everyone = coach.get(base).json()
    assert [m["id"] for m in everyone] == [te["id"], social["id"]]  # current first, history kept
    assert [m["id"] for m in coach.get(base, params={"current_only": "true"}).json()] == [te["id"]]
    assert coach.delete(f"{base}/{uuid.uuid4()}").status_code == 404

    r = coach.post(
        f"{base}/meetings",
        json={"held_on": "2026-11-20", "participant_ids": [te["id"], social["id"]], "notes": "Sovittiin työkokeilusta"},
    )
    assert r.status_code == 201, r.text
    # A participant who is not in the team: 422, nothing written.
    r = coach.post(f"{base}/meetings", json={"held_on": "2026-11-21", "participant_ids": [str(uuid.uuid4())]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "participant_ids"
    r = coach.post(f"{base}/meetings", json={"held_on": "not-a-date", "participant_ids": [te["id"]]})
    assert r.status_code == 422
    meetings = coach.get(f"{base}/meetings").json()
    assert len(meetings) == 1 and meetings[0]["notes"] == "Sovittiin työkokeilusta"
    assert set(meetings[0]["participant_ids"]) == {te["id"], social["id"]}
    ((notes,),) = _rows(live, "SELECT notes_enc FROM client_team_meetings WHERE client_id = ?", client_id)
    assert "työkokeilu" not in notes

    actions = _audit_actions(live, org, client_id)
    for action in ("records.team.add", "records.team.end", "records.team.read", "records.team_meeting.create"):
        assert action in actions
    assert "records.team_meetings.read" in actions


def test_bad_team_member_is_422_and_writes_nothing(live: Live, coach: httpx.Client, client_id: str) -> None:
    base = f"/api/v1/clients/{client_id}/team"
    for body in ({"role": "wizard", "name": "X"}, {"role": "te_expert", "name": "  "}, {"role": "te_expert"}):
        r = coach.post(base, json=body)
        assert r.status_code == 422, body
    assert _rows(live, "SELECT count(*) FROM client_team_members WHERE client_id = ?", client_id) == [(0,)]


# --------------------------------------------------------------------------- isolation, roles


def test_another_organisation_gets_404_and_nothing_is_written(
    live: Live, org: Org, other_org: Org, coach: httpx.Client, client_id: str
) -> None:
    member = coach.post(f"/api/v1/clients/{client_id}/team", json={"role": "te_expert", "name": "Tiina"}).json()
    base = f"/api/v1/clients/{client_id}"
    calls: list[tuple[str, str, Any]] = [
        ("GET", "/meetings", None),
        ("POST", "/meetings", _meeting()),
        ("GET", "/profile", None),
        ("PUT", "/profile", {"goals": "x"}),
        ("GET", "/profile/versions", None),
        ("GET", "/team", None),
        ("POST", "/team", {"role": "te_expert", "name": "Intruder"}),
        ("DELETE", f"/team/{member['id']}", None),
        ("GET", "/team/meetings", None),
        ("POST", "/team/meetings", {"held_on": "2026-11-20", "participant_ids": [member["id"]]}),
    ]
    with live.http(live.username(other_org, Role.COACH)) as stranger:
        for method, path, body in calls:
            r = stranger.request(method, base + path, json=body)
            assert r.status_code == 404, (method, path, r.text)
            assert "Tiina" not in r.text
    for table in ("client_meetings", "vocational_profile_versions", "client_team_meetings"):
        assert _rows(live, f"SELECT count(*) FROM {table} WHERE client_id = ?", client_id) == [(0,)]
    assert _rows(live, "SELECT count(*), max(ended_at) FROM client_team_members WHERE client_id = ?", client_id) == [
        (1, None)
    ]
    assert _audit_actions(live, other_org, client_id) == []


def test_auditor_reads_and_cannot_write(live: Live, org: Org, coach: httpx.Client, client_id: str) -> None:
    coach.post(f"/api/v1/clients/{client_id}/meetings", json=_meeting())
    with live.http(live.username(org, Role.AUDITOR)) as auditor:
        r = auditor.get(f"/api/v1/clients/{client_id}/meetings")
        assert r.status_code == 200 and r.json()[0]["notes"] == NOTE
        assert auditor.post(f"/api/v1/clients/{client_id}/meetings", json=_meeting()).status_code == 403
        assert auditor.put(f"/api/v1/clients/{client_id}/profile", json={}).status_code == 403
        assert auditor.post(f"/api/v1/clients/{client_id}/team", json={"role": "other", "name": "A"}).status_code == 403
    with live.http(live.username(org, Role.REGION_ANALYST)) as analyst:
        assert analyst.get(f"/api/v1/clients/{client_id}/meetings").status_code == 403
    assert _rows(live, "SELECT count(*) FROM client_meetings WHERE client_id = ?", client_id) == [(1,)]
    rows = _rows(
        live,
        "SELECT actor_role FROM audit_records WHERE client_id = ? AND action = 'records.meetings.read'",
        client_id,
        database="platform",
    )
    assert ("auditor",) in rows


def test_employer_coordinator_sees_meetings_but_not_their_notes(
    live: Live, org: Org, coach: httpx.Client, client_id: str
) -> None:
    assert coach.post(f"/api/v1/clients/{client_id}/meetings", json=_meeting()).status_code == 201
    member = coach.post(f"/api/v1/clients/{client_id}/team", json={"role": "te_expert", "name": "Tiina"}).json()
    team_meeting = {"held_on": "2026-11-02", "participant_ids": [member["id"]], "notes": NOTE}
    assert coach.post(f"/api/v1/clients/{client_id}/team/meetings", json=team_meeting).status_code == 201
    with live.http(live.username(org, Role.EMPLOYER_COORDINATOR)) as coordinator:
        for path in ("meetings", "team/meetings"):
            seen = coordinator.get(f"/api/v1/clients/{client_id}/{path}").json()
            assert [(m["notes"], m["notes_withheld"]) for m in seen] == [(None, True)], path
    for role in (Role.COACH, Role.TEAM_LEAD, Role.AUDITOR):
        with live.http(live.username(org, role)) as reader:
            for path in ("meetings", "team/meetings"):
                seen = reader.get(f"/api/v1/clients/{client_id}/{path}").json()
                assert [(m["notes"], m["notes_withheld"]) for m in seen] == [(NOTE, False)], (role, path)
    with closing(live.browser_session(org, Role.EMPLOYER_COORDINATOR)) as page:
        for section in ("meetings", "team"):
            shown = page.get(f"/clients/{client_id}/{section}").text
            assert NOTE not in shown and "Tapaamisten muistiinpanot eivät näy yrityskoordinaattoreille." in shown


def test_the_records_are_in_the_openapi_schema(live: Live) -> None:
    schema = httpx.get(f"{live.base_url}/api/v1/coaching/openapi.json", timeout=30).json()
    paths = schema["paths"]
    assert set(paths["/api/v1/clients/{client_id}/meetings"]) == {"get", "post"}
    assert set(paths["/api/v1/clients/{client_id}/profile"]) == {"get", "put"}
    assert "delete" in paths["/api/v1/clients/{client_id}/team/{member_id}"]
    assert "MeetingOut" in schema["components"]["schemas"]


# --------------------------------------------------------------------------- summary


def test_the_summary_has_the_latest_profile_meetings_and_current_team(
    live: Live, org: Org, coach: httpx.Client, client_id: str
) -> None:
    base = f"/api/v1/clients/{client_id}"
    coach.post(f"{base}/meetings", json=_meeting())
    coach.put(f"{base}/profile", json={"strengths": "Sinnikäs"})
    coach.put(f"{base}/profile", json={"strengths": "Sinnikäs ja oppii nopeasti"})
    kept = coach.post(f"{base}/team", json={"role": "te_expert", "name": "Tiina"}).json()
    ended = coach.post(f"{base}/team", json={"role": "other", "name": "Olli"}).json()
    coach.delete(f"{base}/team/{ended['id']}")

    async def read() -> Any:
        db = Database(live.settings, "coaching")
        try:
            async with db.session(organisation_id=org.id) as session:
                return await client_records_summary(
                    session, FieldCipher(load_keys(live.settings)), uuid.UUID(client_id)
                )
        finally:
            await db.dispose()

    summary = run_sync(read())
    assert summary.profile is not None and summary.profile.version == 2
    assert summary.profile.strengths == "Sinnikäs ja oppii nopeasti"
    assert [m.notes for m in summary.meetings] == [NOTE]
    assert [str(m.id) for m in summary.team] == [kept["id"]]


# --------------------------------------------------------------------------- pages


@pytest.fixture()
def coach_page(live: Live, org: Org) -> Iterator[httpx.Client]:
    with closing(live.browser_session(org, Role.COACH)) as session:
        yield session


def test_meetings_page_records_a_meeting(live: Live, coach_page: httpx.Client, client_id: str) -> None:
    path = f"/clients/{client_id}/meetings"
    page = coach_page.get(path)
    assert page.status_code == 200, page.text
    assert "Tapaamiset" in page.text and "Kirjaa tapaaminen" in page.text
    assert 'for="meeting-notes"' in page.text and "<script>" not in page.text
    when = datetime.now(ZoneInfo("Europe/Helsinki")) - timedelta(days=1)
    form = {
        "csrf_token": _csrf(page.text),
        "date": when.date().isoformat(),
        "time": "10:30",
        "duration_minutes": "50",
        "place": "workplace",
        "contact_mode": "meeting",
        "participants": ["client", "employer"],
        "notes": "Työpaikkakäynti varastolla",
    }
    r = coach_page.post(path, data=form)
    assert r.status_code == 303 and r.headers["location"] == f"{path}?saved=meeting"
    shown = coach_page.get(r.headers["location"]).text
    assert "Tapaaminen kirjattiin." in shown and "Työpaikkakäynti varastolla" in shown and "Työpaikka" in shown
    stored = _rows(live, "SELECT place, participants FROM client_meetings WHERE client_id = ?", client_id)
    # A JSON column: text on SQLite, decoded already on PostgreSQL.
    assert [(place, json.loads(p) if isinstance(p, str) else p) for place, p in stored] == [
        ("workplace", ["client", "employer"])
    ]

    # Bad input: a translated message at the field, nothing written.
    bad = {**form, "duration_minutes": "0", "csrf_token": _csrf(shown)}
    r = coach_page.post(path, data=bad)
    assert r.status_code == 422
    assert "Anna kesto kokonaisina minuutteina, 1–1440." in r.text
    assert 'id="meeting-duration" name="duration_minutes" type="number" value="0"' in r.text
    assert 'aria-invalid="true"' in r.text
    r = coach_page.post(path, data={**bad, "duration_minutes": "30", "participants": []})
    assert r.status_code == 422 and "Valitse vähintään yksi osallistuja." in r.text
    r = coach_page.post(path, data={**bad, "duration_minutes": "30", "date": ""})
    assert r.status_code == 422 and "Anna tapaamisen päivä ja kellonaika." in r.text
    # With htmx the answer is 200 (swapped in place) and carries the same message.
    r = coach_page.post(path, data=bad, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "Anna kesto kokonaisina minuutteina" in r.text
    # Without the CSRF token: refused.
    r = coach_page.post(path, data={k: v for k, v in form.items() if k != "csrf_token"})
    assert r.status_code == 403
    assert _rows(live, "SELECT count(*) FROM client_meetings WHERE client_id = ?", client_id) == [(1,)]


def test_profile_page_saves_versions_and_shows_history(live: Live, coach_page: httpx.Client, client_id: str) -> None:
    path = f"/clients/{client_id}/profile"
    page = coach_page.get(path)
    assert page.status_code == 200 and "Ammatillinen profiili" in page.text
    assert "Profiilia ei ole vielä tallennettu." in page.text
    form = {"csrf_token": _csrf(page.text), "strengths": "Huolellinen", "preferred_hours_per_week": "30"}
    r = coach_page.post(path, data=form)
    assert r.status_code == 303
    r = coach_page.post(path, data={**form, "goals": "Kaupan ala"})
    assert r.status_code == 303
    shown = coach_page.get(path).text
    assert "Huolellinen" in shown and "Kaupan ala" in shown
    assert "Profiilin versiot" in shown
    table = shown.split('<table class="versions">', 1)[1].split("</table>", 1)[0]
    newest, oldest = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]  # after the header row
    assert "Työelämätavoitteet" in newest and "Vahvuudet" not in newest
    assert "Vahvuudet ja osaaminen" in oldest and "Toivottu työaika" in oldest
    r = coach_page.post(path, data={**form, "preferred_hours_per_week": "200"})
    assert r.status_code == 422 and "Anna viikkotunnit kokonaislukuna, 0–80." in r.text
    assert _rows(live, "SELECT count(*) FROM vocational_profile_versions WHERE client_id = ?", client_id) == [(2,)]


def test_team_page_adds_ends_and_records_a_meeting(live: Live, coach_page: httpx.Client, client_id: str) -> None:
    path = f"/clients/{client_id}/team"
    page = coach_page.get(path)
    assert page.status_code == 200 and "Moniammatillinen tiimi" in page.text
    token = _csrf(page.text)
    r = coach_page.post(path, data={"csrf_token": token, "form": "member", "role": "", "name": ""})
    assert r.status_code == 422 and "Valitse rooli." in r.text
    r = coach_page.post(
        path, data={"csrf_token": token, "form": "member", "role": "te_expert", "name": "Tiina TE", "contact": "040 1"}
    )
    assert r.status_code == 303
    r = coach_page.post(path, data={"csrf_token": token, "form": "member", "role": "social_counsellor", "name": "Sami"})
    assert r.status_code == 303
    shown = coach_page.get(path).text
    assert "Tiina TE" in shown and "TE-asiantuntija" in shown and "Sosiaaliohjaaja" in shown
    members = dict(_rows(live, "SELECT name, id FROM client_team_members WHERE client_id = ?", client_id))
    r = coach_page.post(
        path,
        data={
            "csrf_token": token,
            "form": "team_meeting",
            "held_on": "2026-11-02",
            "participant_ids": [members["Tiina TE"], members["Sami"]],
            "notes": "Palkkatuen mahdollisuus",
        },
    )
    assert r.status_code == 303
    r = coach_page.post(path, data={"csrf_token": token, "form": "end", "member_id": members["Sami"]})
    assert r.status_code == 303
    shown = coach_page.get(r.headers["location"]).text
    assert "Jäsenyys päätettiin." in shown and "Tiimin aiemmat jäsenet" in shown
    assert "Palkkatuen mahdollisuus" in shown
    assert _rows(
        live, "SELECT count(*) FROM client_team_members WHERE ended_at IS NOT NULL AND client_id = ?", client_id
    ) == [(1,)]


def test_record_pages_are_404_for_another_organisation(live: Live, other_org: Org, client_id: str) -> None:
    with closing(live.browser_session(other_org, Role.COACH)) as stranger:
        for section in ("meetings", "profile", "team"):
            r = stranger.get(f"/clients/{client_id}/{section}")
            assert r.status_code == 404 and "Eino" not in r.text
            r = stranger.post(f"/clients/{client_id}/{section}", data={"form": "member", "name": "X", "role": "other"})
            assert r.status_code == 404
    for table in ("client_meetings", "vocational_profile_versions", "client_team_members"):
        assert _rows(live, f"SELECT count(*) FROM {table} WHERE client_id = ?", client_id) == [(0,)]


def test_record_pages_render_in_english(live: Live, org: Org, client_id: str) -> None:
    with closing(live.browser_session(org, Role.COACH)) as session:
        session.cookies.set("polku_lang", "en")
        for section, heading in (
            ("meetings", "Record a meeting or outreach"),
            ("profile", "Versions of the profile"),
            ("team", "Multi-professional team"),
        ):
            r = session.get(f"/clients/{client_id}/{section}")
            assert r.status_code == 200 and heading in r.text, section
            assert 'rel="stylesheet" href="/static/records.css"' in r.text
