"""The data subject's export on the real stack: one JSON file with everything held about
one client across services (intake, coaching, employer, the journey, holds, the access
log) and nothing of another client; org_admin and auditor only; audited; another
organisation's client is 404."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from sqlalchemy import select

from shared.contracts.journey import Role
from shared.db import Database
from shared.platform import AuditRecord
from tests.conftest import Live, Org, run_sync
from tests.integration.test_retention import add_placement, add_records, hetu, register


@pytest.fixture(scope="module")
def org(live: Live) -> Org:
    return live.add_org()


def audit_actions(live: Live, client_id: str) -> list[tuple[str, str]]:
    async def go() -> list[tuple[str, str]]:
        db = Database(live.settings, "platform")
        try:
            async with db.session() as s:
                q = select(AuditRecord).where(AuditRecord.client_id == uuid.UUID(client_id)).order_by(AuditRecord.seq)
                return [(r.action, r.actor_role) for r in (await s.execute(q)).scalars()]
        finally:
            await db.dispose()

    return run_sync(go())


def test_export_holds_everything_about_the_client_and_nothing_else(live: Live, org: Org) -> None:
    seed = uuid.uuid4().int
    subject = register(live, org, "Saara", "Subjekti", seed)
    bystander = register(live, org, "Ville", "Sivullinen", seed + 1)
    add_records(live, org, subject, "subject-meeting-note")
    add_records(live, org, bystander, "bystander-meeting-note")
    add_placement(live, org, subject, "Saaran kirjastotyö")
    add_placement(live, org, bystander, "Villen varastotyö")
    with live.http(live.username(org, Role.AUDITOR)) as http:
        assert http.post(f"/api/v1/clients/{subject}/legal-hold", json={"case_reference": "X-1"}).status_code == 201

    with live.http(live.username(org, Role.ORG_ADMIN)) as http:
        r = http.get(f"/api/v1/clients/{subject}/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert f'filename="polku-client-{subject}.json"' in r.headers["content-disposition"]
    export = r.json()
    text = r.text

    assert export["format"] == "polku.subject-export.v1"
    assert export["client_id"] == subject and export["organisation_id"] == str(org.id)
    # intake: the registry record with its protected fields, and the consents
    client = export["intake"]["client"]
    assert (client["first_name"], client["last_name"]) == ("Saara", "Subjekti")
    assert client["personal_identity_code"] == hetu(seed)
    assert client["email"] == "saara.subjekti@example.fi" and client["phone"] == "040 765 4321"
    assert client["consent"]["processing"] is True
    assert any(c["party_name"] == "Lakimies Subjekti" for c in client["consent"]["history"])
    # coaching: the meeting with its notes decrypted
    meetings = export["coaching"]["client_meetings"]
    assert [m["notes"] for m in meetings] == ["subject-meeting-note"]
    assert all(m["client_id"] == subject for rows in export["coaching"].values() for m in rows)
    # employer: the match profile and the placement
    assert export["employer"]["match_profile"]["interests"] == ["subject-meeting-note"]
    assert [p["job_title"] for p in export["employer"]["placements"]] == ["Saaran kirjastotyö"]
    # the journey: state and timeline from the workflow
    journey = export["journey"]
    assert journey["state"]["client_id"] == subject and journey["state"]["phase"] == "JOB_SEARCH"
    assert [e["kind"] for e in journey["timeline"]][:1] == ["started"]
    assert any(e.get("milestone") == "job_started" for e in journey["timeline"])
    # the hold and the access log (who processed the data), this export included
    assert [h["case_reference"] for h in export["legal_holds"]] == ["X-1"]
    actions = [a["action"] for a in export["access_log"]]
    assert "client.register" in actions and actions[-1] == "client.export"
    assert export["access_log"][-1]["actor_role"] == "org_admin"

    # Nothing of the other client.
    for needle in (bystander, "Ville", "Sivullinen", hetu(seed + 1), "bystander-meeting-note", "Villen varastotyö"):
        assert needle not in text, needle
    json.loads(text)  # one machine-readable file

    assert ("client.export", "org_admin") in audit_actions(live, subject)


def test_export_roles_other_organisations_and_unknown_clients(live: Live, org: Org) -> None:
    subject = register(live, org, "Rooli", "Testi", uuid.uuid4().int)
    path = f"/api/v1/clients/{subject}/export"
    with live.http(live.username(org, Role.AUDITOR)) as http:
        r = http.get(path)
        assert r.status_code == 200 and r.json()["intake"]["client"]["last_name"] == "Testi"
    assert ("client.export", "auditor") in audit_actions(live, subject)
    for role in (Role.COACH, Role.TEAM_LEAD, Role.EMPLOYER_COORDINATOR, Role.REGION_ANALYST):
        with live.http(live.username(org, role)) as http:
            assert http.get(path).status_code == 403
    assert httpx.get(f"{live.base_url}{path}").status_code == 401
    other = live.add_org()
    with live.http(live.username(other, Role.ORG_ADMIN)) as http:
        r = http.get(path)
        assert r.status_code == 404 and "Testi" not in r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    with live.http(live.username(org, Role.ORG_ADMIN)) as http:
        assert http.get(f"/api/v1/clients/{uuid.uuid4()}/export").status_code == 404
        assert http.get("/api/v1/clients/not-a-uuid/export").status_code == 422
    exports = [a for a in audit_actions(live, subject) if a[0] == "client.export"]
    assert len(exports) == 1, "refused calls export nothing"
