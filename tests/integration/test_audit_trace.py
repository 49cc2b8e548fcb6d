"""The auditor's view on the whole stack (Temporal dev server, nats-server, every service):
the journey trace after a coach's scenario, its filters, the signed JSON and PDF exports,
the client's access report, the identity-code lookup, the hash-chain check, the
organisation boundary and the auditing of every auditor action."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shared.audit import AuditLog
from shared.contracts.journey import Role
from shared.db import Database
from shared.platform import AuditRecord
from tests.conftest import Live, Org, run_sync, wait_for

ALPHABET = "0123456789ABCDEFHJKLMNPRSTUVWXY"
TRACE = "/api/v1/audit/clients/{}/trace"


def hetu() -> str:
    """A random valid identity code (born 1960-1999, individual number 002-899)."""
    digits = f"{random.randint(1, 28):02d}{random.randint(1, 12):02d}{random.randint(60, 99):02d}"
    digits += f"{random.randint(2, 899):03d}"
    return f"{digits[:6]}-{digits[6:]}{ALPHABET[int(digits) % 31]}"


@dataclass
class Scenario:
    org: Org
    client_id: str
    identity_code: str


def coach_scenario(live: Live, org: Org) -> Scenario:
    """A coach registers a client and moves the journey; the coach and the team lead view
    the client. Returns once the journey's events are in the stream."""
    code = hetu()
    client = live.register_client(org, "Auditoitava", "Asiakas", personal_identity_code=code)
    cid = str(client["client_id"])
    review = (date.today() + timedelta(days=30)).isoformat()
    with live.http(live.username(org, Role.COACH)) as http:
        for path, body in (
            ("moves", {"action": "advance"}),
            ("moves", {"action": "advance"}),
            ("milestones", {"kind": "first_employer_contact", "occurred_at": datetime.now(UTC).isoformat()}),
            ("moves", {"action": "rest", "reason": "health_clarification", "review_date": review}),
            ("moves", {"action": "resume"}),
        ):
            r = http.post(f"/api/v1/journeys/{cid}/{path}", json=body)
            assert r.status_code == 200, r.text
        assert http.get(f"/api/v1/clients/{cid}").status_code == 200
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        assert http.get(f"/api/v1/clients/{cid}").status_code == 200
    return Scenario(org, cid, code)


@contextmanager
def session(live: Live, org: Org, role: Role) -> Iterator[httpx.Client]:
    """A web UI session (cookie) of the organisation's user in ``role``."""
    client = live.browser_session(org, role)
    try:
        yield client
    finally:
        client.close()


def auditor(live: Live, org: Org) -> httpx.Client:
    return live.http(live.username(org, Role.AUDITOR))


def get_trace(live: Live, s: Scenario, **params: Any) -> dict[str, Any]:
    with auditor(live, s.org) as http:
        r = http.get(TRACE.format(s.client_id), params={"purpose": "supervision", **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def records(live: Live, org: Org, **where: Any) -> list[AuditRecord]:
    async def go() -> list[AuditRecord]:
        db = Database(live.settings, "platform")
        try:
            return await AuditLog(db).records(org.id, where.get("client_id"))
        finally:
            await db.dispose()

    return run_sync(go())


@pytest.fixture(scope="module")
def scenario(live: Live) -> Scenario:
    s = coach_scenario(live, live.add_org(region=f"audit-{uuid.uuid4().hex[:6]}"))

    def events_arrived() -> dict[str, Any] | None:
        trace = get_trace(live, s, kind="event")
        # Intake's outbox and the worker publish independently: wait for both.
        what = [e["what"] for e in trace["entries"]]
        return trace if what.count("journey.moved") >= 4 and "client.registered" in what else None

    wait_for(events_arrived)
    return s


# --------------------------------------------------------------------------- the trace


def test_the_trace_merges_every_move_event_and_view_with_actors(live: Live, scenario: Scenario) -> None:
    org, cid = scenario.org, scenario.client_id
    coach, lead, aud = (str(org.users[r.value]) for r in (Role.COACH, Role.TEAM_LEAD, Role.AUDITOR))
    started = time.perf_counter()
    trace = get_trace(live, scenario)
    print(f"\ntrace of {len(trace['entries'])} entries in {time.perf_counter() - started:.2f} s")
    entries = trace["entries"]
    assert trace["client_id"] == cid and trace["workflow_id"] == f"journey-{org.id}-{cid}"
    assert trace["workflow_available"] and trace["events_complete"]
    assert trace["runs"] and all(e["run_id"] == trace["runs"][0]["run_id"] for e in entries if e["kind"] == "workflow")

    workflow = [(e["what"], e["actor_id"]) for e in entries if e["kind"] == "workflow"]
    assert workflow == [
        ("started", coach),
        ("move.advance", coach),
        ("move.advance", coach),
        ("milestone.first_employer_contact", coach),
        ("move.rest", coach),
        ("move.resume", coach),
    ]
    rest = next(e for e in entries if e["what"] == "move.rest")
    assert rest["reason"] == "health_clarification" and rest["actor_name"] == f"coach-{org.id.hex[:8]}"

    events = [e["what"] for e in entries if e["kind"] == "event"]
    assert events.count("journey.moved") == 4 and "client.registered" in events and "journey.started" in events
    assert "consent.changed" in events

    access = [(e["what"], e["actor_id"]) for e in entries if e["kind"] == "access"]
    assert ("client.register", coach) in access
    assert [a for a, who in access if a.startswith("journey.move.")] == [
        "journey.move.advance",
        "journey.move.advance",
        "journey.move.rest",
        "journey.move.resume",
    ]
    assert ("client.read.details", coach) in access and ("client.read.details", lead) in access
    assert access[-1] == ("audit.trace.view", aud)  # this very view, already in the log
    assert entries[-1]["purpose"] == "supervision"

    # Every entry has a reference; accesses and intake's events carry the request's trace id.
    assert all(e["ref"] for e in entries)
    assert all(len(e["trace_id"] or "") == 32 for e in entries if e["kind"] == "access")
    registered = next(e for e in entries if e["what"] == "client.registered")
    assert registered["trace_id"] and any(
        e["trace_id"] == registered["trace_id"] for e in entries if e["what"] == "client.register"
    )
    assert entries == sorted(entries, key=lambda e: e["at"])
    assert {a["actor_id"] for a in trace["actors"]} >= {coach, lead, aud}


def test_the_filters_by_kind_actor_and_period(live: Live, scenario: Scenario) -> None:
    lead = str(scenario.org.users[Role.TEAM_LEAD.value])
    only_access = get_trace(live, scenario, kind="access")
    assert only_access["entries"] and {e["kind"] for e in only_access["entries"]} == {"access"}
    two = get_trace(live, scenario, kind=["workflow", "event"])
    assert {e["kind"] for e in two["entries"]} == {"workflow", "event"}
    by_lead = get_trace(live, scenario, actor=lead)
    assert [e["what"] for e in by_lead["entries"]] == ["client.read.details"]
    future = (date.today() + timedelta(days=2)).isoformat()
    assert get_trace(live, scenario, start=future)["entries"] == []
    today = get_trace(live, scenario, start=(date.today() - timedelta(days=1)).isoformat(), end=future)
    assert len(today["entries"]) == sum(today["counts"].values())
    with auditor(live, scenario.org) as http:
        url = TRACE.format(scenario.client_id)
        bad = [
            {"purpose": "supervision", "start": "2026-02-02", "end": "2026-02-01"},
            {"purpose": "curiosity"},
            {},
            {"purpose": "complaint", "case": "Matti Meikäläinen"},
            {"purpose": "supervision", "kind": "gossip"},
        ]
        for params in bad:
            r = http.get(url, params=params)
            assert r.status_code == 422, (params, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")


def test_other_organisations_and_other_roles_get_nothing(live: Live, scenario: Scenario) -> None:
    other = live.add_org(region=f"audit-{uuid.uuid4().hex[:6]}")
    with auditor(live, other) as http:
        for path in ("/trace", "/trace/export.json", "/trace/export.pdf", "/access-report"):
            r = http.get(f"/api/v1/audit/clients/{scenario.client_id}{path}", params={"purpose": "supervision"})
            assert r.status_code == 404, (path, r.text)
        r = http.get(TRACE.format(uuid.uuid4()), params={"purpose": "supervision"})
        assert r.status_code == 404
        lookup = http.post("/api/v1/clients/lookup", json={"query": scenario.identity_code, "purpose": "supervision"})
        assert lookup.status_code == 200 and lookup.json() == []
    # The refused attempts are in the other organisation's log, as not found.
    attempts = [r for r in records(live, other) if r.action.startswith("audit.")]
    assert {r.outcome for r in attempts} == {"not_found"} and len(attempts) >= 5
    assert all(r.purpose == "supervision" for r in attempts)
    for role in (Role.COACH, Role.TEAM_LEAD, Role.ORG_ADMIN, Role.REGION_ANALYST):
        with live.http(live.username(scenario.org, role)) as http:
            r = http.get(TRACE.format(scenario.client_id), params={"purpose": "supervision"})
            assert r.status_code == 403, role
    # And the auditor's own earlier attempts do not make an unknown id a client.
    with auditor(live, other) as http:
        assert http.get(TRACE.format(scenario.client_id), params={"purpose": "supervision"}).status_code == 404


def test_lookup_by_identity_code_is_audited_with_its_purpose(live: Live, scenario: Scenario) -> None:
    with auditor(live, scenario.org) as http:
        r = http.post(
            "/api/v1/clients/lookup",
            json={"query": scenario.identity_code, "purpose": "complaint:DNRO-7/2026"},
        )
        assert r.status_code == 200, r.text
        assert r.json() == [{"client_id": scenario.client_id}]
        assert http.post("/api/v1/clients/lookup", json={"query": "not-a-code", "purpose": "x"}).status_code == 422
        assert http.post("/api/v1/clients/lookup", json={"query": "010101-0101"}).status_code == 422
    with live.http(live.username(scenario.org, Role.COACH)) as http:
        r = http.post("/api/v1/clients/lookup", json={"query": scenario.identity_code, "purpose": "complaint"})
        assert r.status_code == 403
    lookups = [r for r in records(live, scenario.org) if r.action == "audit.client.lookup"]
    assert any(r.client_id == uuid.UUID(scenario.client_id) and r.purpose == "complaint:DNRO-7/2026" for r in lookups)
    # The identity code is in no audit record.
    assert all(scenario.identity_code not in (r.purpose or "") for r in records(live, scenario.org))


# --------------------------------------------------------------------------- exports


def test_the_signed_export_verifies_and_a_modified_one_does_not(live: Live, scenario: Scenario) -> None:
    with auditor(live, scenario.org) as http:
        r = http.get(
            TRACE.format(scenario.client_id) + "/export.json",
            params={"purpose": "complaint", "case": "DNRO-7/2026", "kind": ["workflow", "access"]},
        )
        assert r.status_code == 200, r.text
        assert "attachment" in r.headers["content-disposition"]
        doc = r.json()
        assert doc["format"] == "polku.audit-trace/1"
        assert doc["trace"]["purpose"] == "complaint:DNRO-7/2026"
        assert doc["trace"]["filters"]["kinds"] == ["workflow", "access"]
        key = http.get("/api/v1/audit/signing-key").json()
        assert doc["signature"]["key_id"] == key["key_id"] and doc["signature"]["algorithm"] == "Ed25519"

        ok = http.post("/api/v1/audit/exports/verify", json=doc).json()
        assert ok == {"valid": True, "key_id": key["key_id"], "problem": None}

        changed = json.loads(json.dumps(doc))
        move = next(e for e in changed["trace"]["entries"] if e["what"] == "move.rest")
        move["actor_id"] = str(uuid.uuid4())
        bad = http.post("/api/v1/audit/exports/verify", json=changed).json()
        assert bad["valid"] is False and bad["problem"]

        shortened = json.loads(json.dumps(doc))
        shortened["trace"]["entries"] = shortened["trace"]["entries"][1:]
        assert http.post("/api/v1/audit/exports/verify", json=shortened).json()["valid"] is False

    other = live.add_org(region=f"audit-{uuid.uuid4().hex[:6]}")
    with auditor(live, other) as http:
        foreign = http.post("/api/v1/audit/exports/verify", json=doc).json()
        assert foreign["valid"] is False and foreign["problem"] == "another organisation's export"


def test_the_pdf_export(live: Live, scenario: Scenario) -> None:
    with auditor(live, scenario.org) as http:
        started = time.perf_counter()
        r = http.get(TRACE.format(scenario.client_id) + "/export.pdf", params={"purpose": "supervision"})
        seconds = time.perf_counter() - started
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF") and len(r.content) > 2000
    assert seconds < 30
    print(f"\ntrace PDF export: {len(r.content)} bytes in {seconds:.2f} s")
    assert any(rec.action == "audit.trace.export.pdf" for rec in records(live, scenario.org))


# --------------------------------------------------------------------------- the access report


def test_the_clients_access_report(live: Live, scenario: Scenario) -> None:
    org = scenario.org
    with auditor(live, org) as http:
        url = f"/api/v1/audit/clients/{scenario.client_id}/access-report"
        fi = http.get(url, params={"purpose": "client_request", "lang": "fi"}).json()
        sv = http.get(url, params={"purpose": "client_request", "lang": "sv"}).json()
        pdf = http.get(url.replace("access-report", "access-report.pdf"), params={"purpose": "client_request"})
        assert http.get(url, params={"purpose": "client_request", "lang": "de"}).status_code == 422
    by_name = {line["actor_name"]: line for line in fi["lines"]}
    coach = by_name[f"coach-{org.id.hex[:8]}"]
    assert coach["activities"]["changed"] >= 5 and coach["activities"]["viewed"] >= 1
    assert "asiakassuhde" in coach["basis"]
    lead = by_name[f"team_lead-{org.id.hex[:8]}"]
    assert lead["activities"] == {"viewed": 1} and lead["role"] == "team_lead"
    assert f"auditor-{org.id.hex[:8]}" in by_name  # the auditor's own checks are part of it
    assert fi["period_start"] <= (date.today() - timedelta(days=729)).isoformat()
    assert "klientrelation" in next(line["basis"] for line in sv["lines"] if line["role"] == "coach")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


# --------------------------------------------------------------------------- the chain and the audit of the auditor


def _tamper(live: Live, org: Org) -> tuple[int, str]:
    async def go() -> tuple[int, str]:
        db = Database(live.settings, "platform", immediate=True)
        try:
            async with db.session() as session, session.begin():
                rec = (
                    (
                        await session.execute(
                            select(AuditRecord).where(AuditRecord.organisation_id == org.id).order_by(AuditRecord.seq)
                        )
                    )
                    .scalars()
                    .first()
                )
                assert rec is not None
                original = rec.action
                rec.action = "client.nothing_to_see"
                return rec.seq, original
        finally:
            await db.dispose()

    return run_sync(go())


def _restore(live: Live, org: Org, seq: int, action: str) -> None:
    async def go() -> None:
        db = Database(live.settings, "platform", immediate=True)
        try:
            async with db.session() as session, session.begin():
                rec = (
                    await session.execute(
                        select(AuditRecord).where(AuditRecord.organisation_id == org.id, AuditRecord.seq == seq)
                    )
                ).scalar_one()
                rec.action = action
        finally:
            await db.dispose()

    run_sync(go())


def test_the_chain_check_finds_an_edited_record(live: Live) -> None:
    s = coach_scenario(live, live.add_org(region=f"audit-{uuid.uuid4().hex[:6]}"))
    with auditor(live, s.org) as http:
        intact = http.post("/api/v1/audit/chain/verify").json()
        assert intact["intact"] is True and intact["records"] >= 8
        seq, original = _tamper(live, s.org)
        try:
            broken = http.post("/api/v1/audit/chain/verify").json()
            assert broken["intact"] is False and broken["broken_at_seq"] == seq
            assert "changed" in broken["problem"]
            cli = subprocess.run(
                [sys.executable, "-m", "polku", "audit", "verify"], env=live.env, capture_output=True, text=True
            )
            assert cli.returncode == 1 and f"organisation {s.org.id}: chain broken at seq {seq}" in cli.stdout
        finally:
            _restore(live, s.org, seq, original)
        assert http.post("/api/v1/audit/chain/verify").json()["intact"] is True
    checks = [r for r in records(live, s.org) if r.action == "audit.chain.verify"]
    assert [r.outcome for r in checks] == ["ok", "broken", "ok"] and all(r.purpose for r in checks)


def test_every_auditor_action_is_audited_with_a_purpose(live: Live) -> None:
    s = coach_scenario(live, live.add_org(region=f"audit-{uuid.uuid4().hex[:6]}"))
    url = TRACE.format(s.client_id)
    with auditor(live, s.org) as http:
        assert http.post("/api/v1/clients/lookup", json={"query": s.identity_code, "purpose": "incident"}).is_success
        assert http.get(url, params={"purpose": "incident"}).is_success
        doc = http.get(url + "/export.json", params={"purpose": "incident"}).json()
        assert http.get(url + "/export.pdf", params={"purpose": "incident"}).is_success
        report = f"/api/v1/audit/clients/{s.client_id}/access-report"
        assert http.get(report, params={"purpose": "client_request"}).is_success
        assert http.post("/api/v1/audit/exports/verify", json=doc).json()["valid"]
        assert http.post("/api/v1/audit/chain/verify").json()["intact"]
    aud = s.org.users[Role.AUDITOR.value]
    mine = [r for r in records(live, s.org) if r.actor_id == aud]
    assert [r.action for r in mine] == [
        "audit.client.lookup",
        "audit.trace.view",
        "audit.trace.export.json",
        "audit.trace.export.pdf",
        "audit.access_report",
        "audit.export.verify",
        "audit.chain.verify",
    ]
    assert all(r.purpose for r in mine) and all(r.actor_role == "auditor" for r in mine)
    assert [r.purpose for r in mine[:4]] == ["incident"] * 4
    assert all(r.client_id == uuid.UUID(s.client_id) for r in mine[:6])


# --------------------------------------------------------------------------- the pages


def test_the_pages_by_role_purpose_and_organisation(live: Live, scenario: Scenario) -> None:
    org = scenario.org
    page = f"/audit/clients/{scenario.client_id}"
    with session(live, org, Role.AUDITOR) as web:
        asked = web.get(page)
        assert asked.status_code == 200 and 'name="purpose"' in asked.text and "<table" not in asked.text
        shown = web.get(page, params={"purpose": "supervision", "kind": "workflow"})
        assert shown.status_code == 200 and 'data-what="move.rest"' in shown.text
        assert f"coach-{org.id.hex[:8]}" in shown.text
        assert shown.headers["cache-control"] == "no-store"
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/audit").text)
        assert csrf
        found = web.post(
            "/audit/find",
            data={"csrf_token": csrf.group(1), "identity_code": scenario.identity_code, "purpose": "supervision"},
        )
        assert found.status_code == 303 and found.headers["location"] == f"{page}?purpose=supervision"
        assert scenario.identity_code not in found.headers["location"]
        bad = web.post(
            "/audit/find", data={"csrf_token": csrf.group(1), "identity_code": "QWERTY-HETU", "purpose": "x"}
        )
        assert bad.status_code == 422 and "QWERTY-HETU" not in bad.text
        form = {"csrf_token": csrf.group(1), "identity_code": "QWERTY-HETU", "purpose": "supervision"}
        bad = web.post("/audit/find", data=form)
        assert bad.status_code == 422 and "Henkilötunnus ei kelpaa." in bad.text and "QWERTY-HETU" not in bad.text
        assert web.post("/audit/find", data={"identity_code": scenario.identity_code}).status_code == 403
        report = web.get(page + "/access-report", params={"purpose": "client_request", "lang": "en"})
        assert report.status_code == 200 and "Who has processed your data" in report.text
    other = live.add_org(region=f"audit-{uuid.uuid4().hex[:6]}")
    with session(live, other, Role.AUDITOR) as web:
        assert web.get(page, params={"purpose": "supervision"}).status_code == 404
    with session(live, org, Role.COACH) as web:
        assert web.get(page, params={"purpose": "supervision"}).status_code == 403
