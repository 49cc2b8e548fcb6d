"""The first vertical slice through the real stack: register a client over HTTP, the
journey starts in Temporal, journey.started reaches NATS, reporting shows the client."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
import uuid

import httpx
import nats

from shared.contracts.journey import Role
from tests.conftest import Live


def _wait_for(predicate, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def test_register_client_starts_journey_and_shows_in_caseload(live: Live) -> None:
    org = live.add_org()
    coach_id = org.users[Role.COACH.value]
    created = live.register_client(org, "Helmi", "Mäkinen")
    client_id = created["client_id"]
    assert created["journey_id"] == f"journey-{org.id}-{client_id}"

    with live.http(live.username(org, Role.COACH)) as http:
        state = http.get(f"/api/v1/journeys/{client_id}").json()
        assert state["phase"] == "INTAKE" and state["status"] == "ACTIVE"
        assert state["coach_id"] == str(coach_id)

        record = http.get(f"/api/v1/clients/{client_id}").json()
        assert (record["first_name"], record["last_name"]) == ("Helmi", "Mäkinen")

        def shown() -> dict | None:  # type: ignore[type-arg]
            report = http.get("/api/v1/reports/caseload").json()
            for coach in report["coaches"]:
                if coach["coach_id"] == str(coach_id):
                    for c in coach["clients"]:
                        if c["client_id"] == client_id:
                            return report
            return None

        report = _wait_for(shown)
        (mine,) = [c for c in report["coaches"] if c["coach_id"] == str(coach_id)]
        assert mine["active_clients"] == 1 and mine["capacity"] == 20
        assert report["data_as_of"] is not None

    # journey.started is in the stream exactly once, with ids and codes only.
    async def started_events() -> list[dict]:  # type: ignore[type-arg]
        nc = await nats.connect(live.settings.nats_url)
        js = nc.jetstream()
        sub = await js.subscribe(f"polku.{org.id}.journey.started", ordered_consumer=True)
        found = []
        try:
            while True:
                msg = await sub.next_msg(timeout=1.0)
                body = json.loads(msg.data)
                if body["client_id"] == client_id:
                    found.append(body)
                    assert msg.headers and msg.headers.get("Nats-Msg-Id") == body["id"]
        except nats.errors.TimeoutError:
            pass
        finally:
            await nc.close()
        return found

    events = asyncio.run(started_events())
    assert len(events) == 1
    assert "Helmi" not in json.dumps(events) and "Mäkinen" not in json.dumps(events)
    assert events[0]["coach_id"] == str(coach_id) and events[0]["phase"] == "INTAKE"


def test_me_returns_the_caller(live: Live) -> None:
    org = live.add_org(roles=(Role.TEAM_LEAD,))
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        me = http.get("/api/v1/me").json()
    assert me == {
        "id": str(org.users["team_lead"]),
        "username": live.username(org, Role.TEAM_LEAD),
        "role": "team_lead",
        "organisation_id": str(org.id),
        "region_id": org.region,
    }


def _assert_problem(r: httpx.Response, status: int) -> dict:  # type: ignore[type-arg]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict = r.json()  # type: ignore[type-arg]
    assert body["status"] == status and body["title"]
    return body


def test_wrong_password_expired_and_forged_tokens_are_401(live: Live) -> None:
    from shared.auth import TokenService
    from shared.identity import Account
    from shared.keys import load_keys

    org = live.add_org(roles=(Role.COACH,))
    username = live.username(org, Role.COACH)
    r = httpx.post(f"{live.base_url}/api/v1/auth/token", json={"username": username, "password": "wrong-one!"})
    assert _assert_problem(r, 401)["code"] == "invalid_credentials"
    r = httpx.post(f"{live.base_url}/api/v1/auth/token", json={"username": "nobody", "password": "wrong-one!"})
    assert _assert_problem(r, 401)["code"] == "invalid_credentials"

    account = Account(org.users["coach"], username, Role.COACH, org.id, org.region, None, 1.0)
    keys = load_keys(live.settings)
    expired = TokenService(keys.secret_key, -10, 60).access_token(account)
    forged = TokenService(b"x" * 32, 600, 60).access_token(account)
    for token, code in ((expired, "token_expired"), (forged, "token_invalid"), ("abc", "token_invalid")):
        r = httpx.get(f"{live.base_url}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert _assert_problem(r, 401)["code"] == code
    r = httpx.get(f"{live.base_url}/api/v1/reports/caseload")
    assert _assert_problem(r, 401)["code"] == "unauthenticated"
    assert r.headers["www-authenticate"] == "Bearer"


def test_missing_role_is_403(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH, Role.AUDITOR, Role.REGION_ANALYST))
    for role in (Role.AUDITOR, Role.REGION_ANALYST):
        with live.http(live.username(org, role)) as http:
            r = http.post(
                "/api/v1/clients",
                json={"coach_id": str(org.users["coach"]), "first_name": "Aino", "last_name": "Laine"},
            )
            assert _assert_problem(r, 403)["code"] == "forbidden"


def _audit_count(live: Live, org_id: uuid.UUID) -> int:
    from shared.audit import AuditLog
    from shared.db import Database
    from tests.conftest import run_sync

    async def go() -> int:
        db = Database(live.settings, "platform")
        try:
            return len(await AuditLog(db).records(org_id))
        finally:
            await db.dispose()

    return run_sync(go())


def test_bad_input_is_422_with_field_messages_and_writes_nothing(live: Live) -> None:
    org = live.add_org(roles=(Role.COACH, Role.TEAM_LEAD))
    other = live.add_org(roles=(Role.COACH,))
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        before = len(http.get("/api/v1/clients").json())
        audits_before = _audit_count(live, org.id)
        cases = [
            ({"coach_id": "not-a-uuid", "first_name": "Aino", "last_name": "Laine"}, "coach_id"),
            ({"coach_id": str(org.users["coach"]), "first_name": "", "last_name": "Laine"}, "first_name"),
            ({"coach_id": str(org.users["coach"]), "first_name": "Aino"}, "last_name"),
            ({"coach_id": str(org.users["coach"]), "first_name": "A1no", "last_name": "Laine"}, "first_name"),
            ({"coach_id": str(org.users["coach"]), "first_name": "Aino", "last_name": "Laine", "ssn": "x"}, "ssn"),
            # A coach of another organisation is not a valid assignment.
            ({"coach_id": str(other.users["coach"]), "first_name": "Aino", "last_name": "Laine"}, "coach_id"),
        ]
        for body, field in cases:
            problem = _assert_problem(http.post("/api/v1/clients", json=body), 422)
            assert field in {e["field"] for e in problem["errors"]}, problem
            assert all(e["message"] for e in problem["errors"])
        problem = _assert_problem(
            http.post("/api/v1/clients", content=b"{not json", headers={"content-type": "application/json"}), 422
        )
        assert problem["errors"]
        problem = _assert_problem(http.get("/api/v1/clients/not-a-uuid"), 422)
        assert problem["errors"][0]["field"] == "client_id"
        assert len(http.get("/api/v1/clients").json()) == before
        # Only the list reads above were audited, nothing for the rejected writes.
        assert _assert_no_register_audit(live, org.id, audits_before)


def _assert_no_register_audit(live: Live, org_id: uuid.UUID, since: int) -> bool:
    from shared.audit import AuditLog
    from shared.db import Database
    from tests.conftest import run_sync

    async def go() -> list[str]:
        db = Database(live.settings, "platform")
        try:
            return [r.action for r in (await AuditLog(db).records(org_id))[since:]]
        finally:
            await db.dispose()

    actions = run_sync(go())
    return "client.register" not in actions


def test_an_idle_connection_stays_open_for_reuse(live: Live) -> None:
    """Clients and proxies drop idle connections first (httpx after 5 s): the server must
    not close one they may be reusing at that moment (uvicorn's default closed at 5 s)."""
    host, port = live.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", "/healthz")
        first = conn.getresponse()
        first.read()
        assert first.status == 200
        sock = conn.sock
        time.sleep(6.5)
        conn.request("GET", "/healthz")  # on the same connection, or it raises
        again = conn.getresponse()
        again.read()
        assert again.status == 200 and conn.sock is sock
    finally:
        conn.close()
