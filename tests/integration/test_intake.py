"""Intake against the whole stack: referrals, the registry with protected personal data,
duplicates, consent, caseload-aware assignment, quick help and the team lead's view."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import random
import re
import string
import uuid
from contextlib import closing, suppress
from datetime import date, timedelta
from typing import Any

import httpx
import nats
import pytest

from shared.contracts.journey import Role
from tests.conftest import PASSWORD, Live, Org, run_sync, wait_for

ALPHABET = "0123456789ABCDEFHJKLMNPRSTUVWXY"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --------------------------------------------------------------------------- helpers


def unique_name() -> str:
    # Letters only (names refuse digits), unlikely to occur anywhere by chance.
    return "Zx" + "".join(random.choice(string.ascii_lowercase) for _ in range(8))


def new_hetu(year_from: int = 1960, year_to: int = 2004) -> str:
    born = date(year_from, 1, 1) + timedelta(
        days=random.randrange((date(year_to, 12, 31) - date(year_from, 1, 1)).days)
    )
    sign = random.choice("-YXWVU" if born.year < 2000 else "ABCDEF")
    digits = f"{born:%d%m}{born.year % 100:02d}{random.randint(2, 899):03d}"
    return f"{digits[:6]}{sign}{digits[6:]}{ALPHABET[int(digits) % 31]}"


def coach_of(org: Org) -> str:
    return str(org.users[Role.COACH.value])


def consent(*parties: str) -> dict[str, Any]:
    return {"processing": True, "information_exchange": list(parties)}


def referral_body(**extra: Any) -> dict[str, Any]:
    return {
        "referrer_type": "social_services",
        "referrer_organisation": "Kotkan sosiaalitoimi",
        "referrer_unit": "Aikuissosiaalityö",
        "referrer_contact": "Sari Sosiaalityöntekijä, 040 765 4321",
        "referred_on": date.today().isoformat(),
        "wants_open_employment": True,
        "background": "Toivoo osa-aikatyötä kaupan alalta.",
        **extra,
    }


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    return body


def add_coach(live: Live, org: Org, fte: float) -> tuple[uuid.UUID, str]:
    from shared.db import Database
    from shared.identity import Identity

    username = f"coach{int(fte * 10)}-{uuid.uuid4().hex[:8]}"

    async def go() -> uuid.UUID:
        db = Database(live.settings, "platform", immediate=True)
        try:
            return await Identity(db).add_user(org.id, username, PASSWORD, Role.COACH, fte=fte)
        finally:
            await db.dispose()

    return run_sync(go()), username


def audit_records(live: Live, org_id: uuid.UUID) -> list[Any]:
    from shared.audit import AuditLog
    from shared.db import Database

    async def go() -> list[Any]:
        db = Database(live.settings, "platform")
        try:
            return await AuditLog(db).records(org_id)
        finally:
            await db.dispose()

    return run_sync(go())


async def _stream(nats_url: str, org: uuid.UUID) -> list[tuple[str, bytes]]:
    """Every message of the organisation in the intake and journey streams."""
    nc = await nats.connect(nats_url)
    found: list[tuple[str, bytes]] = []
    try:
        js = nc.jetstream()
        for area in ("referral", "client", "consent", "quick_help", "journey"):
            sub = await js.subscribe(f"polku.{org}.{area}.>", ordered_consumer=True)
            # A push consumer may have delivered some messages before consumer_info answers:
            # those are counted in `delivered`, not in `num_pending`.
            info = await sub.consumer_info()
            delivered = info.delivered.consumer_seq if info.delivered else 0
            for _ in range((delivered or 0) + (info.num_pending or 0)):
                msg = await sub.next_msg(timeout=5)
                found.append((msg.subject, msg.data))
            await sub.unsubscribe()
    finally:
        await nc.close()
    return found


def stream_events(live: Live, org: Org) -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in run_sync(_stream(live.settings.nats_url, org.id))]


def events_of(live: Live, org: Org, type_: str, count: int = 1) -> list[dict[str, Any]]:
    """Wait until the outbox has published ``count`` events of the type; return them."""

    def ready() -> list[dict[str, Any]] | None:
        found = [e for e in stream_events(live, org) if e["type"] == type_]
        return found if len(found) >= count else None

    return wait_for(ready)


# --------------------------------------------------------------------------- referral to journey


def test_referral_accepted_starts_the_journey_with_consent_and_events(live: Live) -> None:
    org = live.add_org()
    first, last, code = unique_name(), unique_name(), new_hetu()
    with live.http(live.username(org, Role.COACH)) as http:
        r = http.post("/api/v1/referrals", json=referral_body(first_name=first, last_name=last))
        assert r.status_code == 201, r.text
        referral_id = r.json()["referral_id"]
        listed = http.get("/api/v1/referrals").json()
        assert [x["referral_id"] for x in listed] == [referral_id] and listed[0]["status"] == "received"

        body = {
            "coach_id": coach_of(org),
            "client": {
                "first_name": first,
                "last_name": last,
                "personal_identity_code": code.lower(),
                "phone": "040 123 4567",
                "email": "aino@example.fi",
                "preferred_language": "sv",
                "municipality": "Kotka",
            },
            "consent": consent("employment_services", {"party": "other", "name": "Kotkan nuorisotoimi"}),
        }
        r = http.post(f"/api/v1/referrals/{referral_id}/accept", json=body)
        assert r.status_code == 201, r.text
        client_id = r.json()["client_id"]
        assert r.json()["journey_id"] == f"journey-{org.id}-{client_id}" and r.json()["existing"] is False

        state = http.get(f"/api/v1/journeys/{client_id}").json()
        assert (state["phase"], state["status"], state["coach_id"]) == ("INTAKE", "ACTIVE", coach_of(org))
        record = http.get(f"/api/v1/clients/{client_id}").json()
        assert (record["first_name"], record["personal_identity_code"]) == (first, code)
        assert record["date_of_birth"] and record["preferred_language"] == "sv" and record["source"] == "referral"
        assert record["referral_id"] == referral_id
        assert record["consent"]["processing"] is True
        parties = {(c["party"], c.get("party_name")) for c in record["consent"]["current"] if c["party"]}
        assert parties == {("employment_services", None), ("other", "Kotkan nuorisotoimi")}

        referral = http.get(f"/api/v1/referrals/{referral_id}").json()
        assert (referral["status"], referral["client_id"]) == ("accepted", client_id)
        # Decided once: a second accept or a decline is a conflict.
        assert problem(http.post(f"/api/v1/referrals/{referral_id}/accept", json=body), 409)["code"]
        decline = http.post(f"/api/v1/referrals/{referral_id}/decline", json={"reason": "unreachable"})
        assert problem(decline, 409)["code"] == "referral_decided"

    # An employer coordinator reads the name, not the identity code or contact details.
    with live.http(live.username(org, Role.EMPLOYER_COORDINATOR)) as http:
        record = http.get(f"/api/v1/clients/{client_id}").json()
        assert record["first_name"] == first and "personal_identity_code" not in record and "phone" not in record

    wanted = {"referral.received", "referral.accepted", "client.registered", "journey.started"}

    def published() -> list[dict[str, Any]] | None:
        found = stream_events(live, org)
        types = [e["type"] for e in found]
        return found if wanted <= set(types) and types.count("consent.changed") == 3 else None

    events = wait_for(published)
    by_type = {e["type"]: e for e in events}
    assert by_type["referral.accepted"]["client_id"] == client_id
    assert by_type["client.registered"]["referral_id"] == referral_id
    assert by_type["client.registered"]["source"] == "referral"
    consents = [e for e in events if e["type"] == "consent.changed"]
    assert sorted((e["scope"], e["party"]) for e in consents) == [
        ("information_exchange", "employment_services"),
        ("information_exchange", "other"),
        ("processing", None),
    ]
    text = json.dumps(events, ensure_ascii=False)
    for secret in (first, last, code, "Kotkan", "040 123 4567", "aino@example.fi", "Toivoo"):
        assert secret not in text


def _strings(value: Any) -> list[str]:
    """Every string in a JSON value, plus the decoded text of base64 payload data."""
    out: list[str] = []
    if isinstance(value, dict):
        for v in value.values():
            out += _strings(v)
    elif isinstance(value, list):
        for v in value:
            out += _strings(v)
    elif isinstance(value, str):
        out.append(value)
        with suppress(binascii.Error, ValueError):
            out.append(base64.b64decode(value, validate=True).decode("utf-8", errors="replace"))
    return out


def _database_contents(live: Live) -> list[tuple[str, bytes]]:
    names = ("platform", "intake", "coaching", "employer", "reporting")
    contents = [(name, live.database_bytes(name)) for name in names]
    assert len(contents[1][1]) > 1000  # the scan does see intake's rows
    return contents


def test_no_name_or_identity_code_in_clear_text_in_the_database_temporal_or_events(live: Live) -> None:
    org = live.add_org()
    first, last, code = unique_name(), unique_name(), new_hetu()
    created = live.register_client(
        org, first, last, personal_identity_code=code, phone="+358 44 987 6543", municipality="Pyhtää"
    )
    client_id = created["client_id"]
    # Wait until the events are out, so the outbox, the stream and the projections all hold them.
    wait_for(lambda: {"client.registered", "journey.started"} <= {e["type"] for e in stream_events(live, org)})
    secrets = [first, last, code, code.lower(), code.replace("-", ""), "987 6543", "Pyhtää"]
    secret_bytes = [s.encode() for s in secrets] + [s.encode("utf-16-le") for s in (first, code)]

    # 1. Every database of the stack: the SQLite files (with their write-ahead logs), or a
    # dump of every schema on PostgreSQL.
    for name, content in _database_contents(live):
        for s in secret_bytes:
            assert s not in content, f"{s!r} in clear text in {name}"

    # 2. The journey's Temporal history, payloads decoded.
    async def history() -> dict[str, Any]:
        from workflows.client import connect

        client = await connect(live.settings)
        h = await client.get_workflow_handle(created["journey_id"]).fetch_history()
        result: dict[str, Any] = h.to_json_dict()
        return result

    text = "\n".join(_strings(run_sync(history())))
    assert client_id in text  # the scan does see the payloads
    for s in secrets:
        assert s not in text, f"{s!r} in the Temporal history"

    # 3. The event stream, raw bytes.
    messages = run_sync(_stream(live.settings.nats_url, org.id))
    assert messages
    for subject, data in messages:
        for s in secret_bytes:
            assert s not in data and s not in subject.encode()


# --------------------------------------------------------------------------- duplicates, isolation


def test_the_same_identity_code_is_one_client_per_organisation_and_isolated(live: Live) -> None:
    org_a, org_b = live.add_org(), live.add_org()
    code = new_hetu()
    first = live.register_client(org_a, "Aino", "Laine", personal_identity_code=code)
    again = live.register_client(org_a, "Aino", "Laine-Virtanen", personal_identity_code=code.lower())
    assert again["client_id"] == first["client_id"] and again["existing"] is True
    other = live.register_client(org_b, "Aino", "Laine", personal_identity_code=code)
    assert other["client_id"] != first["client_id"] and other["existing"] is False

    with live.http(live.username(org_a, Role.COACH)) as http:
        assert [c["client_id"] for c in http.get("/api/v1/clients").json()] == [first["client_id"]]
        found = http.post("/api/v1/clients/search", json={"query": code, "purpose": "duplicate check"}).json()
        assert [c["client_id"] for c in found] == [first["client_id"]]
    with live.http(live.username(org_b, Role.COACH)) as http:
        assert http.get(f"/api/v1/clients/{first['client_id']}").status_code == 404
        found = http.post("/api/v1/clients/search", json={"query": code, "purpose": "duplicate check"}).json()
        assert [c["client_id"] for c in found] == [other["client_id"]]
        assert http.get(f"/api/v1/clients/{other['client_id']}").json()["personal_identity_code"] == code
    # The journey exists once: the second registration in org A started nothing new.
    assert [a.action for a in audit_records(live, org_a.id)].count("client.register") == 1


def test_another_organisations_referral_is_404(live: Live) -> None:
    org_a, org_b = live.add_org(), live.add_org()
    with live.http(live.username(org_a, Role.COACH)) as http:
        referral_id = http.post("/api/v1/referrals", json=referral_body(first_name="Venla")).json()["referral_id"]
    accept = {
        "coach_id": coach_of(org_b),
        "client": {"first_name": "Venla", "last_name": "Koski"},
        "consent": consent(),
    }
    with live.http(live.username(org_b, Role.TEAM_LEAD)) as http:
        for method, path, body in (
            ("GET", f"/api/v1/referrals/{referral_id}", None),
            ("POST", f"/api/v1/referrals/{referral_id}/accept", accept),
            ("POST", f"/api/v1/referrals/{referral_id}/decline", {"reason": "unreachable"}),
        ):
            r = http.request(method, path, json=body)
            assert problem(r, 404)["code"] == "not_found", path
            assert "Venla" not in r.text and "Kotkan" not in r.text
        assert http.get("/api/v1/referrals?show=all").json() == []
    with closing(live.browser_session(org_b, Role.COACH)) as page:
        r = page.get(f"/referrals/{referral_id}")
        assert r.status_code == 404 and "Venla" not in r.text
    with live.http(live.username(org_a, Role.COACH)) as http:
        assert http.get(f"/api/v1/referrals/{referral_id}").json()["status"] == "received"


# --------------------------------------------------------------------------- validation


def test_bad_identity_code_and_missing_consent_are_422_and_write_nothing(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH,))
    before = len(audit_records(live, org.id))
    base = {"coach_id": coach_of(org), "first_name": "Aino", "last_name": "Laine", "consent": consent()}
    cases = [
        ({**base, "personal_identity_code": "131052-308U"}, "personal_identity_code", "check character"),
        ({**base, "personal_identity_code": "310252-308Y"}, "personal_identity_code", "date of birth"),
        ({**base, "personal_identity_code": "131052G308T"}, "personal_identity_code", "century sign"),
        ({**base, "personal_identity_code": "131052-308T", "date_of_birth": "1952-10-14"}, "date_of_birth", "match"),
        ({**base, "phone": "call me"}, "phone", "phone number"),
        ({**base, "email": "not-an-address"}, "email", ""),
        ({**base, "preferred_language": "de"}, "preferred_language", ""),
        ({**base, "consent": None}, "consent.processing", "consent"),
        ({**base, "consent": {"processing": False}}, "consent.processing", "consent"),
        ({**base, "consent": {"processing": True, "information_exchange": ["other"]}}, "consent", "Name"),
    ]
    with live.http(live.username(org, Role.COACH)) as http:
        for body, field, words in cases:
            errors = problem(http.post("/api/v1/clients", json=body), 422)["errors"]
            matching = [e for e in errors if e["field"].startswith(field)]
            assert matching and words in matching[0]["message"], (field, errors)
        bad = {"client": {"first_name": "A", "last_name": "B", "personal_identity_code": "x"}, "coach_id": "nope"}
        errors = problem(http.post(f"/api/v1/referrals/{uuid.uuid4()}/accept", json=bad), 422)["errors"]
        assert {"client.personal_identity_code", "coach_id"} <= {e["field"] for e in errors}
        assert problem(http.post("/api/v1/referrals", json={"referrer_type": "x"}), 422)["errors"]
        assert http.get("/api/v1/clients").json() == []
    assert audit_records(live, org.id)[before:] == []  # an empty list reads nobody


# --------------------------------------------------------------------------- caseload


def test_assignment_past_a_full_caseload_needs_an_override_seen_by_the_team_lead(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH, Role.TEAM_LEAD))
    small_id, _ = add_coach(live, org, fte=0.1)  # capacity round(20 * 0.1) = 2
    body = {"coach_id": str(small_id), "first_name": "Aino", "last_name": "Laine", "consent": consent()}
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        for _ in range(2):
            assert http.post("/api/v1/clients", json=body).status_code == 201
        loads = {c["coach_id"]: c for c in http.get("/api/v1/assignment/coaches").json()}
        assert (loads[str(small_id)]["active"], loads[str(small_id)]["capacity"]) == (2, 2)

        refused = problem(http.post("/api/v1/clients", json=body), 409)
        assert refused["code"] == "caseload_full"
        assert "2 active clients" in refused["detail"] and "override_reason" in refused["detail"]
        assert (refused["active_clients"], refused["capacity"]) == (2, 2)
        assert len(http.get("/api/v1/clients").json()) == 2  # nothing written

        reason = "Asiakas tuntee valmentajan ennestään"
        r = http.post("/api/v1/clients", json={**body, "override_reason": reason})
        assert r.status_code == 201, r.text
        overridden = r.json()["client_id"]
        loads = {c["coach_id"]: c for c in http.get("/api/v1/assignment/coaches").json()}
        assert loads[str(small_id)]["active"] == 3

        report = http.get("/api/v1/intake/oversight").json()
        (override,) = report["overrides"]
        assert override["client_id"] == overridden and override["reason"] == reason
        assert (override["active_before"], override["capacity"], override["coach_id"]) == (2, 2, str(small_id))
    with closing(live.browser_session(org, Role.TEAM_LEAD)) as lead:
        page = lead.get("/intake/oversight")
        assert page.status_code == 200 and reason in page.text and "2 / 2" in page.text
    with live.http(live.username(org, Role.COACH)) as http:
        assert problem(http.get("/api/v1/intake/oversight"), 403)["code"] == "forbidden"
    (event,) = [e for e in events_of(live, org, "client.registered", 3) if e["client_id"] == overridden]
    assert event["over_capacity_override"] is True and reason not in json.dumps(event)


def test_simultaneous_registrations_cannot_overfill_a_caseload(live: Live) -> None:
    """The caseload is counted again inside the transaction that adds the client, under a
    lock per coach: of several registrations at once to a coach with one place left, one
    is accepted and the others answer caseload_full."""
    org = live.add_org(roles=(Role.COACH, Role.TEAM_LEAD))
    coach_id, _ = add_coach(live, org, fte=0.05)  # capacity round(20 * 0.05) = 1
    token = live.token(live.username(org, Role.TEAM_LEAD))

    async def register_at_once(n: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=live.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as http:
            bodies = [
                {"coach_id": str(coach_id), "first_name": "Aino", "last_name": f"Laine-{name}", "consent": consent()}
                for name in ("Aho", "Berg", "Collin", "Dahl")[:n]
            ]
            return list(await asyncio.gather(*(http.post("/api/v1/clients", json=b) for b in bodies)))

    answers = run_sync(register_at_once(4))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409], [r.text for r in answers]
    assert {problem(r, 409)["code"] for r in answers if r.status_code == 409} == {"caseload_full"}
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        assert len(http.get("/api/v1/clients", params={"coach_id": str(coach_id)}).json()) == 1
        loads = {c["coach_id"]: c for c in http.get("/api/v1/assignment/coaches").json()}
        assert (loads[str(coach_id)]["active"], loads[str(coach_id)]["capacity"]) == (1, 1)
        assert http.get("/api/v1/intake/oversight").json()["overrides"] == []


def test_journey_events_move_clients_between_caseloads(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH, Role.TEAM_LEAD))
    other_id, _ = add_coach(live, org, fte=1.0)
    client_id = live.register_client(org)["client_id"]

    def loads() -> dict[str, int]:
        with live.http(live.username(org, Role.TEAM_LEAD)) as http:
            return {c["coach_id"]: c["active"] for c in http.get("/api/v1/assignment/coaches").json()}

    assert loads()[coach_of(org)] == 1
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        r = http.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "reassign", "coach_id": str(other_id)})
        assert r.status_code == 200, r.text
    wait_for(lambda: loads() == {coach_of(org): 0, str(other_id): 1} or None)
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        r = http.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "close", "outcome": "employed"})
        assert r.status_code == 200, r.text
    wait_for(lambda: loads()[str(other_id)] == 0 or None)


# --------------------------------------------------------------------------- decline, consent, search, quick help


def test_declines_need_a_reason_and_are_counted_for_the_team_lead(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH, Role.TEAM_LEAD))
    with live.http(live.username(org, Role.COACH)) as http:
        ids = [http.post("/api/v1/referrals", json=referral_body()).json()["referral_id"] for _ in range(3)]
        assert problem(http.post(f"/api/v1/referrals/{ids[0]}/decline", json={}), 422)["errors"][0]["field"] == "reason"
        errors = problem(http.post(f"/api/v1/referrals/{ids[0]}/decline", json={"reason": "other"}), 422)["errors"]
        assert errors[0]["field"] == "note"
        reasons = ("not_work_ready", "no_wish_for_open_employment", "not_work_ready")
        for referral_id, reason in zip(ids, reasons, strict=True):
            r = http.post(f"/api/v1/referrals/{referral_id}/decline", json={"reason": reason, "note": "Ei vielä"})
            assert r.status_code == 200 and r.json()["status"] == "declined"
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        report = http.get("/api/v1/intake/oversight").json()
    counts = {row["reason"]: (row["count"], row["excluding"]) for row in report["declines_by_reason"]}
    assert counts["not_work_ready"] == (2, True) and counts["no_wish_for_open_employment"] == (1, False)
    assert (report["declined"], report["excluding_declines"], report["open"]) == (3, 2, 0)
    reasons = sorted(e["reason"] for e in events_of(live, org, "referral.declined", 3))
    assert reasons == ["no_wish_for_open_employment", "not_work_ready", "not_work_ready"]


def test_a_referral_without_the_wish_to_work_is_accepted_only_when_the_wish_is_confirmed(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH,))
    with live.http(live.username(org, Role.COACH)) as http:
        referral_id = http.post("/api/v1/referrals", json=referral_body(wants_open_employment=False)).json()[
            "referral_id"
        ]
        body = {"coach_id": coach_of(org), "client": {"first_name": "Eino", "last_name": "Koski"}, "consent": consent()}
        errors = problem(http.post(f"/api/v1/referrals/{referral_id}/accept", json=body), 422)["errors"]
        assert errors[0]["field"] == "wish_confirmed" and "only entry criterion" in errors[0]["message"]
        r = http.post(f"/api/v1/referrals/{referral_id}/accept", json={**body, "wish_confirmed": True})
        assert r.status_code == 201, r.text


def test_consent_withdrawal_is_recorded_and_shown(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH,))
    client_id = live.register_client(org, consent=consent("kela"))["client_id"]
    with live.http(live.username(org, Role.COACH)) as http:
        r = http.post(f"/api/v1/clients/{client_id}/consent", json={"scope": "information_exchange", "given": False})
        assert problem(r, 422)["errors"][0]["field"] == "party"
        r = http.post(
            f"/api/v1/clients/{client_id}/consent",
            json={"scope": "information_exchange", "party": "kela", "given": False},
        )
        assert r.status_code == 200, r.text
        r = http.post(f"/api/v1/clients/{client_id}/consent", json={"scope": "processing", "given": False})
        state = r.json()
        assert state["processing"] is False
        assert {(c["scope"], c["party"], c["given"]) for c in state["current"]} == {
            ("processing", None, False),
            ("information_exchange", "kela", False),
        }
        assert [c["given"] for c in state["history"]] == [False, False, True, True]
        assert http.get(f"/api/v1/clients/{client_id}/consent").json() == state
    with closing(live.browser_session(org, Role.COACH)) as page:
        html = page.get(f"/clients/{client_id}/details").text
        assert "peruuttanut suostumuksen" in html and "Peruttu" in html
    withdrawn = [e for e in events_of(live, org, "consent.changed", 4) if e["given"] is False]
    assert sorted(e["scope"] for e in withdrawn) == ["information_exchange", "processing"]
    actions = [a.action for a in audit_records(live, org.id) if a.client_id and str(a.client_id) == client_id]
    assert actions.count("consent.withdraw") == 2


def test_search_by_name_is_audited_with_its_purpose(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH, Role.EMPLOYER_COORDINATOR))
    last = unique_name()
    client_id = live.register_client(org, "Helmi", last)["client_id"]
    with live.http(live.username(org, Role.COACH)) as http:
        for query in (last, f"helmi  {last.upper()}", f"Helmi {last}"):
            found = http.post("/api/v1/clients/search", json={"query": query, "purpose": "phone call from Kela"})
            assert [c["client_id"] for c in found.json()] == [client_id], query
        assert http.post("/api/v1/clients/search", json={"query": "Nobody", "purpose": "check"}).json() == []
        assert (
            problem(http.post("/api/v1/clients/search", json={"query": last}), 422)["errors"][0]["field"] == "purpose"
        )
    with live.http(live.username(org, Role.EMPLOYER_COORDINATOR)) as http:
        assert http.post("/api/v1/clients/search", json={"query": last, "purpose": "x" * 5}).status_code == 403
    searches = [a for a in audit_records(live, org.id) if a.action == "client.search"]
    assert [str(a.client_id) for a in searches[:3]] == [client_id] * 3
    assert all(a.purpose == "phone call from Kela" for a in searches[:3])
    assert searches[3].client_id is None and searches[3].purpose == "check"


def test_quick_help_is_recorded_named_or_anonymous_and_published(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH, Role.TEAM_LEAD))
    name = unique_name()
    today = date.today().isoformat()
    with live.http(live.username(org, Role.COACH)) as http:
        body = {"topic": "interview_preparation", "duration_minutes": 45, "occurred_on": today}
        assert http.post("/api/v1/quick-help", json=body).status_code == 201
        errors = problem(http.post("/api/v1/quick-help", json={**body, "anonymous": False}), 422)["errors"]
        assert errors[0]["field"] == "person_name"
        r = http.post("/api/v1/quick-help", json={**body, "topic": "cv", "anonymous": False, "person_name": name})
        assert r.status_code == 201
        assert problem(http.post("/api/v1/quick-help", json={**body, "duration_minutes": 0}), 422)
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        report = http.get("/api/v1/intake/oversight").json()
        assert (report["quick_help_contacts"], report["quick_help_minutes"]) == (2, 90)
    published = events_of(live, org, "quick_help.recorded", 2)
    assert sorted((e["topic"], e["anonymous"], e["duration_minutes"]) for e in published) == [
        ("cv", False, 45),
        ("interview_preparation", True, 45),
    ]
    assert name not in json.dumps(published)


# --------------------------------------------------------------------------- pages without a browser


def test_intake_forms_refuse_a_post_without_csrf(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH, Role.AUDITOR))
    with closing(live.browser_session(org, Role.COACH)) as coach:
        for path in ("/referrals/new", "/register", "/quick-help"):
            r = coach.post(path, data={"topic": "cv"})
            assert r.status_code == 403 and r.headers["content-type"].startswith("text/html"), path
        form = coach.get("/referrals/new")
        assert form.status_code == 200 and form.headers["cache-control"] == "no-store"
        token = CSRF.search(form.text)
        assert token
        r = coach.post("/referrals/new", data={"csrf_token": token.group(1), "referrer_type": "kela"})
        assert r.status_code == 422 and 'aria-invalid="true"' in r.text and "Pakollinen tieto." in r.text
    with closing(live.browser_session(org, Role.AUDITOR)) as auditor:
        assert auditor.get("/referrals").status_code == 403
    with httpx.Client(base_url=live.base_url, timeout=30) as anonymous:
        r = anonymous.get("/referrals")
        assert r.status_code == 303 and r.headers["location"] == "/login?next=/referrals"


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_intake_pages_render_in_each_language(live: Live, lang: str) -> None:
    words = {
        "fi": ("Lähetteet", "Uusi asiakas", "Pika-apu", "Henkilötunnus"),
        "sv": ("Remisser", "Ny klient", "Snabbhjälp", "Personbeteckning"),
        "en": ("Referrals", "New client", "Quick help", "Personal identity code"),
    }[lang]
    org = live.add_org(roles=(Role.COACH,))
    with closing(live.browser_session(org, Role.COACH)) as coach:
        coach.cookies.set("polku_lang", lang)
        assert words[0] in coach.get("/referrals").text
        register = coach.get("/register").text
        assert words[1] in register and words[3] in register and f'<html lang="{lang}">' in register
        assert words[2] in coach.get("/quick-help").text
