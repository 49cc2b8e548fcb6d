"""The employer service on the real stack: contacts report the first employer contact to
the journey, placements start and end jobs in the journey and publish their events once,
matching sees the organisation's job seekers, bad input writes nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import nats
import pytest

from shared.contracts.journey import Role
from tests.conftest import Live, Org, wait_for

TODAY = date.today().isoformat()


def _business_id(seed: int) -> str:
    """A valid Y-tunnus from seven digits (remainder 1 has no valid check digit: skip)."""
    while True:
        digits = f"{seed % 10_000_000:07d}"
        remainder = sum(w * int(d) for w, d in zip((7, 9, 10, 5, 8, 4, 2), digits, strict=True)) % 11
        if remainder != 1:
            return f"{digits}-{0 if remainder == 0 else 11 - remainder}"
        seed += 1


def _new_business_id() -> str:
    return _business_id(uuid.uuid4().int)


@pytest.fixture(scope="module")
def org(live: Live) -> Org:
    return live.add_org()


def _coordinator(live: Live, org: Org) -> httpx.Client:
    return live.http(live.username(org, Role.EMPLOYER_COORDINATOR))


def _coach(live: Live, org: Org) -> httpx.Client:
    return live.http(live.username(org, Role.COACH))


def _employer(http: httpx.Client, name: str = "Ravintola Kotikulma", **extra: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "business_id": _new_business_id(),
        "industry": "56101",
        "locations": [{"municipality": "Kotka", "address": "Keskuskatu 1"}],
        "contact_persons": [{"name": "Maija Mallikas", "email": "maija@example.fi", "phone": "040 123 4567"}],
        "support_needs": ["info_work_trial", "help_job_start"],
        **extra,
    }
    r = http.post("/api/v1/employers", json=body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def _to_job_search(live: Live, org: Org, client_id: str) -> None:
    with _coach(live, org) as http:
        for _ in range(2):
            r = http.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "advance"})
            assert r.status_code == 200, r.text
        assert r.json()["phase"] == "JOB_SEARCH"


def _events(live: Live, subject: str) -> list[dict[str, Any]]:
    """Every message in the stream on ``subject`` (wildcards allowed), oldest first."""

    async def read() -> list[dict[str, Any]]:
        nc = await nats.connect(live.settings.nats_url)
        found: list[dict[str, Any]] = []
        try:
            sub = await nc.jetstream().subscribe(subject, ordered_consumer=True)
            while True:
                try:
                    msg = await sub.next_msg(timeout=0.5)
                except nats.errors.TimeoutError:
                    break
                body = json.loads(msg.data)
                assert msg.headers and msg.headers.get("Nats-Msg-Id") == body["id"]
                found.append(body)
        finally:
            await nc.close()
        return found

    return asyncio.run(read())


def test_a_clients_face_to_face_contact_is_the_first_employer_contact(live: Live, org: Org) -> None:
    client_id = live.register_client(org, "Aino", "Laine")["client_id"]
    with _coordinator(live, org) as http:
        employer = _employer(http)
        assert employer["business_id"].count("-") == 1
        assert employer["contact_persons"][0]["name"] == "Maija Mallikas"
        contact = {
            "employer_id": employer["id"],
            "occurred_on": TODAY,
            "mode": "face_to_face",
            "client_id": client_id,
            "client_present": False,
            "purposes": ["present_client"],
            "level": 4,
        }
        r = http.post("/api/v1/employer-contacts", json=contact)
        assert r.status_code == 201, r.text
        assert r.json()["journey_report"] == "recorded"

        state = http.get(f"/api/v1/journeys/{client_id}").json()
        assert state["milestones"]["first_employer_contact_at"] is not None
        timeline = http.get(f"/api/v1/journeys/{client_id}/timeline").json()
        (entry,) = [e for e in timeline if e.get("milestone") == "first_employer_contact"]
        assert entry["reason_ref"] == f"employer-contact/{r.json()['id']}"

        # A second one is fine: the journey already has its first.
        again = http.post("/api/v1/employer-contacts", json={**contact, "level": 5})
        assert again.status_code == 201 and again.json()["journey_report"] == "already_recorded"
        by_phone = http.post("/api/v1/employer-contacts", json={**contact, "mode": "phone"})
        assert by_phone.json()["journey_report"] == "not_applicable"
        general = http.post(
            "/api/v1/employer-contacts", json={**contact, "client_id": None, "purposes": ["learn_needs"], "level": 3}
        )
        assert general.status_code == 201 and general.json()["client_id"] is None

        assert http.get(f"/api/v1/employers/{employer['id']}").json()["relationship_level"] == 3
        weekly = http.get("/api/v1/employer-contacts/weekly").json()
        me = next(s for s in weekly["staff"] if s["staff_id"] == str(org.users["employer_coordinator"]))
        assert (me["face_to_face"], me["other"], me["target"], me["target_met"]) == (3, 1, 6, False)
        coach = next(s for s in weekly["staff"] if s["staff_id"] == str(org.users["coach"]))
        assert coach["face_to_face"] == 0  # every coach is listed, with or without contacts
        log = http.get("/api/v1/employer-contacts", params={"client_id": client_id}).json()
        assert len(log) == 3

    def both() -> list[dict[str, Any]] | None:  # the outbox publishes them in the background
        found = _events(live, f"polku.{org.id}.employer_contact.recorded")
        return found if {e["client_id"] for e in found} >= {client_id, None} else None

    events = wait_for(both)
    assert {e["client_id"] for e in events} == {client_id, None}
    assert "Maija" not in json.dumps(_events(live, f"polku.{org.id}.employer.>"))


def test_placement_starts_and_ends_in_the_journey_and_the_stream(live: Live, org: Org) -> None:
    client_id = live.register_client(org, "Eero", "Virtanen")["client_id"]
    _to_job_search(live, org, client_id)
    with _coordinator(live, org) as http:
        employer = _employer(http, "Kotkan Keittiö")
        opening = http.post(
            "/api/v1/openings",
            json={
                "employer_id": employer["id"],
                "title": "Keittiöapulainen",
                "hours_min": 20,
                "hours_max": 30,
                "keywords": ["keittiö"],
            },
        )
        assert opening.status_code == 201, opening.text
        opening_id = opening.json()["id"]
        assert opening.json()["municipality"] == "Kotka" and opening.json()["industry"] == "56101"

        r = http.put(
            f"/api/v1/clients/{client_id}/match-profile",
            json={"fields": ["I"], "hours_min": 15, "hours_max": 25, "areas": ["Kotka"], "interests": ["keittiö"]},
        )
        assert r.status_code == 200, r.text
        matches = http.get(f"/api/v1/clients/{client_id}/matches").json()
        assert matches["in_job_search"] is True
        assert matches["matches"][0]["opening"]["id"] == opening_id
        assert "Kotka" in matches["matches"][0]["explanation"]

        # The pool follows the journey events: the client shows up for the opening.
        def suggested() -> dict[str, Any] | None:
            found = http.get(f"/api/v1/openings/{opening_id}/matches").json()
            return next((m for m in found["matches"] if m["client_id"] == client_id), None)

        match = wait_for(suggested)
        assert {r["code"] for r in match["reasons"]} >= {"field_industry", "area", "hours", "interest"}

        start = {
            "client_id": client_id,
            "employer_id": employer["id"],
            "opening_id": opening_id,
            "kind": "wage_subsidy",
            "job_title": "Keittiöapulainen",
            "starts_on": TODAY,
            "hours_per_week": 25,
            "permanent": False,
            "planned_end_on": (date.today() + timedelta(days=180)).isoformat(),
            "competitive": True,
            "coach_supports": ["onboarding", "workplace_visits"],
            "work_arrangement_support": "applied",
            "confirm_move": True,
        }
        r = http.post("/api/v1/placements", json=start)
        assert r.status_code == 201, r.text
        placement = r.json()
        assert placement["status"] == "active" and placement["employer_name"] == "Kotkan Keittiö"
        state = http.get(f"/api/v1/journeys/{client_id}").json()
        assert state["phase"] == "EMPLOYER_AGREEMENT" and state["milestones"]["job_started_at"] is not None
        assert http.get(f"/api/v1/openings/{opening_id}").json()["status"] == "filled"

        # A second job while one runs: the journey refuses, nothing is written.
        second = http.post("/api/v1/placements", json={**start, "opening_id": None, "confirm_move": False})
        assert second.status_code == 409 and second.json()["code"] == "job_already_started"
        assert len(http.get("/api/v1/placements", params={"client_id": client_id}).json()) == 1

        r = http.post(
            f"/api/v1/placements/{placement['id']}/end",
            json={"ended_on": TODAY, "reason": "contract_ended", "confirm_move": True},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ended" and r.json()["end_journey_report"] == "recorded"
        again = http.post(f"/api/v1/placements/{placement['id']}/end", json={"ended_on": TODAY, "reason": "other"})
        assert again.status_code == 409 and again.json()["code"] == "placement_ended"

        state = http.get(f"/api/v1/journeys/{client_id}").json()
        assert state["phase"] == "JOB_SEARCH" and state["milestones"]["job_started_at"] is None
        timeline = http.get(f"/api/v1/journeys/{client_id}/timeline").json()
        kinds = [(e["kind"], e.get("milestone") or e.get("action")) for e in timeline]
        assert kinds[-4:] == [("milestone", "job_started"), ("move", "advance"), ("milestone", "job_ended"),
                              ("move", "step_back")]  # fmt: skip
        assert timeline[-2]["reason_ref"] == f"placement/{placement['id']}/contract_ended"

    # For reporting: each placement event is in the stream exactly once, ids and codes only.
    def both() -> list[dict[str, Any]] | None:
        found = [e for e in _events(live, f"polku.{org.id}.placement.>") if e["placement_id"] == placement["id"]]
        return found if len(found) >= 2 else None

    events = wait_for(both)
    assert [e["type"] for e in events] == ["placement.started", "placement.ended"]
    started, ended = events
    assert (started["kind"], started["competitive"], started["work_arrangement_support"]) == (
        "wage_subsidy",
        True,
        "applied",
    )
    assert (ended["reason"], ended["started_on"], ended["ended_on"]) == ("contract_ended", TODAY, TODAY)
    text = json.dumps(events)
    assert "Eero" not in text and "Keittiöapulainen" not in text
    opened = [e for e in _events(live, f"polku.{org.id}.opening.created") if e["opening_id"] == opening_id]
    assert len(opened) == 1

    # Reporting counts the job start, its hours and the ended job's tenure.
    def reported() -> dict[str, Any] | None:
        with live.http(live.username(org, Role.TEAM_LEAD)) as http:
            r = http.get("/api/v1/reports/outcomes")
        assert r.status_code == 200, r.text
        report: dict[str, Any] = r.json()
        seen = report["hours_per_week"]["n"] >= 1 and report["tenure_days_ended"]["n"] >= 1
        return report if seen and report["job_starts"]["first"] >= 1 else None

    report = wait_for(reported)
    assert report["hours_per_week"]["median"] is not None


def test_bad_input_other_organisations_and_roles(live: Live, org: Org) -> None:
    other = live.add_org(roles=(Role.COACH, Role.EMPLOYER_COORDINATOR))
    client_id = live.register_client(org, "Sanni", "Koski")["client_id"]
    with _coordinator(live, org) as http:
        employer = _employer(http, "Hamina Logistiikka")
        before = len(http.get("/api/v1/employers").json())
        cases: list[tuple[dict[str, Any], str]] = [
            ({"name": "X", "business_id": "2077474-1"}, "business_id"),
            ({"name": "X", "business_id": "207747"}, "business_id"),
            ({"name": "X", "business_id": _new_business_id(), "industry": "04"}, "industry"),
            ({"name": "", "business_id": _new_business_id()}, "name"),
            (
                {"name": "X", "business_id": _new_business_id(), "contact_persons": [{"name": "A", "email": "x"}]},
                "contact_persons.0.email",
            ),
        ]
        for body, field in cases:
            r = http.post("/api/v1/employers", json=body)
            assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
            assert field in {e["field"] for e in r.json()["errors"]}, r.text
        assert len(http.get("/api/v1/employers").json()) == before
        duplicate = http.post("/api/v1/employers", json={"name": "Y", "business_id": employer["business_id"]})
        assert duplicate.status_code == 409 and duplicate.json()["employer_id"] == employer["id"]

        future = http.post(
            "/api/v1/employer-contacts",
            json={
                "employer_id": employer["id"],
                "occurred_on": (date.today() + timedelta(days=2)).isoformat(),
                "mode": "phone",
                "purposes": [],
                "level": 9,
            },
        )
        assert {e["field"] for e in future.json()["errors"]} == {"occurred_on", "purposes", "level"}

        # A journey that refuses the move leaves no placement behind.
        refused = http.post(
            "/api/v1/placements",
            json={
                "client_id": client_id,
                "employer_id": employer["id"],
                "kind": "work_trial",
                "job_title": "Varastotyö",
                "starts_on": TODAY,
                "hours_per_week": 20,
                "permanent": False,
                "competitive": False,
                "confirm_move": True,  # the client is in INTAKE
            },
        )
        assert refused.status_code == 409 and refused.json()["code"] == "illegal_confirm_move"
        assert http.get("/api/v1/placements", params={"client_id": client_id}).json() == []

    with _coordinator(live, other) as http:
        for path in (f"/api/v1/employers/{employer['id']}", f"/api/v1/clients/{client_id}/matches"):
            assert http.get(path).status_code == 404
        contact = {"employer_id": employer["id"], "occurred_on": TODAY, "mode": "email", "purposes": ["follow_up"],
                   "level": 2}  # fmt: skip
        assert http.post("/api/v1/employer-contacts", json=contact).status_code == 404
        own = _employer(http, "Toisen Oy")
        placement = {
            "client_id": client_id,
            "employer_id": own["id"],
            "kind": "open_market",
            "job_title": "Myyjä",
            "starts_on": TODAY,
            "hours_per_week": 30,
            "permanent": True,
            "competitive": True,
        }
        r = http.post("/api/v1/placements", json=placement)
        assert r.status_code == 404 and "Sanni" not in r.text

    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        assert http.get("/api/v1/employers").status_code == 200
        assert http.get("/api/v1/employer-contacts/weekly").status_code == 200
        r = http.post("/api/v1/employers", json={"name": "Z", "business_id": _new_business_id()})
        assert r.status_code == 403 and r.json()["code"] == "forbidden"
    with live.http(live.username(org, Role.AUDITOR)) as http:
        assert http.get("/api/v1/employers").status_code == 403

    # The API is documented.
    spec = httpx.get(f"{live.base_url}/api/v1/employer/openapi.json").json()
    for path in ("/api/v1/employers", "/api/v1/openings/{opening_id}/matches", "/api/v1/placements/{placement_id}/end"):
        assert path in spec["paths"]


def test_pages_check_csrf_and_roles(live: Live, org: Org) -> None:
    import re
    from contextlib import closing

    with closing(live.browser_session(org, Role.EMPLOYER_COORDINATOR)) as session:
        form = session.get("/employers/new")
        assert form.status_code == 200 and 'name="csrf_token"' in form.text
        body = {"name": "Lomake Oy", "business_id": _new_business_id()}
        forged = session.post("/employers/new", data={**body, "csrf_token": "forged"})
        assert forged.status_code == 403 and "text/html" in forged.headers["content-type"]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        created = session.post("/employers/new", data={**body, "csrf_token": token.group(1)})
        assert created.status_code == 303 and created.headers["location"].startswith("/employers/")
        assert session.get(created.headers["location"]).status_code == 200
        invalid = session.post(
            "/employers/new", data={"name": "X", "business_id": "2077474-1", "csrf_token": token.group(1)}
        )
        assert invalid.status_code == 422 and 'aria-invalid="true"' in invalid.text
        names = [e["name"] for e in session.get("/api/v1/employers").json()]
        assert names.count("Lomake Oy") == 1 and "X" not in names
    with closing(live.browser_session(org, Role.TEAM_LEAD)) as session:
        page = session.get("/employers")
        assert page.status_code == 200 and "Lomake Oy" in page.text and "/employers/new" not in page.text
        assert session.get("/employers/new").status_code == 403
    with closing(live.browser_session(org, Role.AUDITOR)) as session:
        assert session.get("/employers").status_code == 403
    assert httpx.get(f"{live.base_url}/employers", follow_redirects=False).status_code == 303  # to the login
