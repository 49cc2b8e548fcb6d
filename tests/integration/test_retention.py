"""Retention on the real stack, with a retention period of seconds: a journey closed past
the period loses its personal data in every service; one under a legal hold, one not yet
due and an active one keep theirs; reporting's anonymous statistics do not change; a
second run erases nothing more; lifting the hold lets the next run erase."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from services.employer.models import MatchProfile
from services.intake.models import Client, ConsentEntry
from shared.contracts.journey import Role
from shared.db import Database
from shared.platform import AuditRecord
from shared.settings import Settings
from tests.conftest import Live, Org, run_sync, wait_for
from workflows.client import connect
from workflows.retention import RetentionSweep, SweepInput, SweepResult, activities_for, schedule_id

# A retention "year" of 4 s (POLKU_RETENTION_YEAR_S): an organisation keeping 1 year
# erases after 4 s, one keeping 100 years after 400 s (not during the test).
YEAR_S = 4
HETU_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"


def hetu(seed: int) -> str:
    """A valid identity code of someone born on 1.1.1980 + seed days (1900s, sign '-')."""
    born = date(1980, 1, 1) + timedelta(days=seed % 5000)
    individual = 2 + (seed % 897)
    digits = f"{born:%d%m%y}{individual:03d}"
    return f"{born:%d%m%y}-{individual:03d}{HETU_CHECK[int(digits) % 31]}"


def business_id() -> str:
    """A fresh valid Y-tunnus (remainder 1 has no valid check digit: try the next)."""
    seed = uuid.uuid4().int
    while True:
        digits = f"{seed % 10_000_000:07d}"
        remainder = sum(w * int(d) for w, d in zip((7, 9, 10, 5, 8, 4, 2), digits, strict=True)) % 11
        if remainder != 1:
            return f"{digits}-{0 if remainder == 0 else 11 - remainder}"
        seed += 1


def sweep(live: Live, *orgs: Org) -> SweepResult:
    """One retention run on its own worker (retention years of YEAR_S seconds), scoped to
    ``orgs`` so other tests' closed journeys in the shared stack are left alone."""
    settings = live.settings.model_copy(update={"retention_year_s": YEAR_S})

    async def go() -> SweepResult:
        client = await connect(settings)
        queue = f"retention-test-{uuid.uuid4().hex[:8]}"
        async with Worker(
            client,
            task_queue=queue,
            workflows=[RetentionSweep],
            activities=activities_for(settings),
            workflow_runner=SandboxedWorkflowRunner(),  # proves the workflow is sandbox-safe
        ):
            return await client.execute_workflow(
                RetentionSweep.run,
                SweepInput(organisation_ids=[o.id for o in orgs]),
                id=f"retention-test-{uuid.uuid4().hex[:8]}",
                task_queue=queue,
            )

    return run_sync(go())


def set_years(live: Live, org: Org, years: int) -> None:
    """An organisation's retention period, through ``polku retention years``."""
    cmd = [sys.executable, "-m", "polku", "retention", "years", str(org.id), str(years)]
    done = subprocess.run(cmd, env=live.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def register(live: Live, org: Org, first: str, last: str, seed: int) -> str:
    body = live.register_client(
        org,
        first,
        last,
        personal_identity_code=hetu(seed),
        phone="040 765 4321",
        email=f"{first.lower()}.{last.lower()}@example.fi",
        municipality="Kotka",
        consent={"processing": True, "information_exchange": [{"party": "other", "name": f"Lakimies {last}"}]},
    )
    return str(body["client_id"])


def add_records(live: Live, org: Org, client_id: str, note: str) -> None:
    """A meeting with notes (coaching) and a match profile (employer)."""
    with live.http(live.username(org, Role.COACH)) as http:
        r = http.post(
            f"/api/v1/clients/{client_id}/meetings",
            json={
                "occurred_at": datetime.now(UTC).isoformat(),
                "duration_minutes": 45,
                "place": "community",
                "participants": ["client", "coach"],
                "notes": note,
            },
        )
        assert r.status_code == 201, r.text
    with live.http(live.username(org, Role.EMPLOYER_COORDINATOR)) as http:
        r = http.put(
            f"/api/v1/clients/{client_id}/match-profile",
            json={"fields": ["I"], "hours_min": 10, "hours_max": 20, "areas": ["Kotka"], "interests": [note]},
        )
        assert r.status_code == 200, r.text


def add_placement(live: Live, org: Org, client_id: str, title: str) -> str:
    """The client to job search, an employer, and a placement there (employer)."""
    with live.http(live.username(org, Role.COACH)) as http:
        for _ in range(2):
            r = http.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "advance"})
            assert r.status_code == 200, r.text
    with live.http(live.username(org, Role.EMPLOYER_COORDINATOR)) as http:
        employer = http.post("/api/v1/employers", json={"name": "Kahvila Kulma", "business_id": business_id()})
        assert employer.status_code == 201, employer.text
        r = http.post(
            "/api/v1/placements",
            json={
                "client_id": client_id,
                "employer_id": employer.json()["id"],
                "kind": "open_market",
                "job_title": title,
                "job_type": f"{title} (osa-aika)",
                "starts_on": date.today().isoformat(),
                "hours_per_week": 20,
                "permanent": True,
                "competitive": True,
            },
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def close(live: Live, org: Org, client_id: str, outcome: str = "employed") -> None:
    with live.http(live.username(org, Role.COACH)) as http:
        r = http.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "close", "outcome": outcome})
        assert r.status_code == 200, r.text


def intake_row(live: Live, client_id: str) -> Client:
    async def go() -> Client:
        db = Database(live.settings, "intake")
        try:
            async with db.session(cross_tenant=True) as session:
                row = await session.get(Client, uuid.UUID(client_id))
                assert row is not None
                return row
        finally:
            await db.dispose()

    return run_sync(go())


def wait_closed_in_intake(live: Live, client_id: str) -> None:
    wait_for(lambda: intake_row(live, client_id).journey_status == "CLOSED")


def outcome_figures(live: Live, org: Org) -> dict[str, Any]:
    with live.http(live.username(org, Role.TEAM_LEAD)) as http:
        r = http.get("/api/v1/reports/outcomes")
        assert r.status_code == 200, r.text
        body = r.json()
    return {k: body[k] for k in ("outcomes", "closed", "employed", "served", "worked", "job_starts")}


def db_rows(live: Live, database: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        db = Database(live.settings, database)
        try:
            async with db.engine.connect() as conn:
                return [dict(r) for r in (await conn.execute(text(sql), params)).mappings()]
        finally:
            await db.dispose()

    return run_sync(go())


def other_rows(live: Live, client_id: str) -> tuple[MatchProfile | None, list[ConsentEntry], list[AuditRecord]]:
    async def go() -> tuple[MatchProfile | None, list[ConsentEntry], list[AuditRecord]]:
        dbs = {n: Database(live.settings, n) for n in ("employer", "intake", "platform")}
        try:
            cid = uuid.UUID(client_id)
            async with dbs["employer"].session(cross_tenant=True) as s:
                profile = (await s.execute(select(MatchProfile).where(MatchProfile.client_id == cid))).scalar()
            async with dbs["intake"].session(cross_tenant=True) as s:
                consents = list((await s.execute(select(ConsentEntry).where(ConsentEntry.client_id == cid))).scalars())
            async with dbs["platform"].session() as s:
                audit = list((await s.execute(select(AuditRecord).where(AuditRecord.client_id == cid))).scalars())
            return profile, consents, audit
        finally:
            for db in dbs.values():
                await db.dispose()

    return run_sync(go())


def assert_intact(live: Live, client_id: str, last: str) -> None:
    row = intake_row(live, client_id)
    assert row.erased_at is None
    assert row.hetu_enc and row.hetu_index and row.phone_enc and row.email_enc and row.date_of_birth_enc
    notes = db_rows(live, "coaching", "SELECT notes_enc FROM client_meetings WHERE client_id = :c", c=client_id)
    assert notes and all(n["notes_enc"] for n in notes)
    profile, consents, _ = other_rows(live, client_id)
    assert profile is not None
    assert any(c.party_name_enc for c in consents)


def assert_erased(live: Live, org: Org, client_id: str, names: tuple[str, str]) -> None:
    row = intake_row(live, client_id)
    assert row.erased_at is not None
    assert row.hetu_enc is None and row.hetu_index is None
    assert row.phone_enc is None and row.email_enc is None and row.date_of_birth_enc is None
    assert row.municipality_enc is None
    notes = db_rows(live, "coaching", "SELECT notes_enc FROM client_meetings WHERE client_id = :c", c=client_id)
    assert notes and all(n["notes_enc"] is None for n in notes), "coaching free text erased, the meeting row stays"
    placements = db_rows(
        live, "employer", "SELECT job_title, job_type FROM placements WHERE client_id = :c", c=client_id
    )
    assert all(p["job_title"] == "-" and p["job_type"] is None for p in placements)
    profile, consents, audit = other_rows(live, client_id)
    assert profile is None
    assert consents and all(c.party_name_enc is None for c in consents)
    assert [a.action for a in audit].count("retention.erase") == 1
    erase = next(a for a in audit if a.action == "retention.erase")
    assert erase.actor_role == "system" and erase.actor_id is None and erase.purpose is None
    # Through the API the record now reads as a pseudonym.
    with live.http(live.username(org, Role.COACH)) as http:
        r = http.get(f"/api/v1/clients/{client_id}")
        assert r.status_code == 200, r.text
        body = r.json()
    assert names[0] not in r.text and names[1] not in r.text
    assert body["last_name"] == f"#{uuid.UUID(client_id).hex[:8]}"
    assert body["personal_identity_code"] is None and body["phone"] is None and body["email"] is None


@pytest.fixture(scope="module")
def org(live: Live) -> Org:
    """An organisation keeping closed journeys 1 retention year (YEAR_S seconds here)."""
    org = live.add_org()
    set_years(live, org, 1)
    return org


def test_retention_erases_due_journeys_only_and_keeps_statistics(live: Live, org: Org) -> None:
    """``org`` keeps 1 year, ``keeper`` 100: after a few seconds the journey closed in
    ``org`` is past its period, the one closed at the same time in ``keeper`` is not."""
    keeper = live.add_org()
    set_years(live, keeper, 100)
    seed = uuid.uuid4().int
    due = register(live, org, "Ulla", "Poistettava", seed)
    held = register(live, org, "Hilkka", "Pidossa", seed + 1)
    active = register(live, org, "Aktiivi", "Asiakas", seed + 2)
    recent = register(live, keeper, "Reijo", "Tuore", seed + 3)
    for o, client_id, note in (
        (org, due, "due-note"),
        (org, held, "held-note"),
        (org, active, "active-note"),
        (keeper, recent, "recent-note"),
    ):
        add_records(live, o, client_id, note)
    add_placement(live, org, due, "Ullan kahvila-apulainen")
    with live.http(live.username(org, Role.AUDITOR)) as http:
        r = http.post(f"/api/v1/clients/{held}/legal-hold", json={"case_reference": "HO-123/2026"})
        assert r.status_code == 201, r.text
    close(live, org, due, "employed")
    close(live, org, held, "education")
    close(live, keeper, recent, "discontinued")
    for client_id in (due, held, recent):
        wait_closed_in_intake(live, client_id)
    # Reporting has counted the closes before the "before" figures.
    before = {
        "org": wait_for(lambda: (f := outcome_figures(live, org))["closed"] == 2 and f),
        "keeper": wait_for(lambda: (f := outcome_figures(live, keeper))["closed"] == 1 and f),
    }
    time.sleep(YEAR_S + 1)

    result = sweep(live, org, keeper)

    assert result.candidates == 3 and result.erased == 1 and result.due == 1 and result.held == 1, result
    assert result.rows["intake"] >= 1 and result.rows["coaching"] >= 1 and result.rows["employer"] >= 1
    placements = db_rows(live, "employer", "SELECT job_title FROM placements WHERE client_id = :c", c=due)
    assert len(placements) == 1, "the placement's facts stay for the employer's history"
    assert_erased(live, org, due, ("Ulla", "Poistettava"))
    assert_intact(live, held, "Pidossa")
    assert_intact(live, recent, "Tuore")
    assert_intact(live, active, "Asiakas")
    assert {"org": outcome_figures(live, org), "keeper": outcome_figures(live, keeper)} == before

    # A second run erases nothing more and fails nothing.
    again = sweep(live, org, keeper)
    assert again.erased == 0 and again.due == 0 and again.held == 1, again
    assert_erased(live, org, due, ("Ulla", "Poistettava"))

    # Lifting the hold lets the next run erase; so does shortening keeper's period.
    with live.http(live.username(org, Role.ORG_ADMIN)) as http:
        r = http.delete(f"/api/v1/clients/{held}/legal-hold")
        assert r.status_code == 200 and r.json()["active"] is False, r.text
    set_years(live, keeper, 1)
    last = sweep(live, org, keeper)
    assert last.erased == 2 and last.held == 0, last
    assert_erased(live, org, held, ("Hilkka", "Pidossa"))
    assert_erased(live, keeper, recent, ("Reijo", "Tuore"))
    assert_intact(live, active, "Asiakas")
    assert {"org": outcome_figures(live, org), "keeper": outcome_figures(live, keeper)} == before


def test_reopened_journey_is_not_erased_even_if_intake_lags(live: Live, org: Org) -> None:
    """Intake says CLOSED (its last event) but the journey was reopened: the journey wins."""
    client_id = register(live, org, "Paluu", "Takaisin", uuid.uuid4().int)
    add_records(live, org, client_id, "reopen-note")
    close(live, org, client_id, "sick_leave")
    wait_closed_in_intake(live, client_id)
    closed_at = intake_row(live, client_id).journey_event_at
    time.sleep(YEAR_S + 1)
    with live.http(live.username(org, Role.COACH)) as http:
        r = http.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "reopen"})
        assert r.status_code == 200, r.text
    # Simulate intake lagging: its record still says CLOSED at the old time.

    async def force_closed() -> None:
        db = Database(live.settings, "intake")
        try:
            async with db.session(cross_tenant=True) as s, s.begin():
                c = await s.get(Client, uuid.UUID(client_id))
                assert c is not None
                c.journey_status = "CLOSED"
                c.journey_event_at = closed_at
        finally:
            await db.dispose()

    wait_for(lambda: intake_row(live, client_id).journey_status == "ACTIVE")
    run_sync(force_closed())
    result = sweep(live, org)
    assert result.reopened >= 1 and result.erased == 0, result
    assert_intact(live, client_id, "Takaisin")


def test_legal_hold_api_roles_validation_and_other_orgs(live: Live, org: Org) -> None:
    client_id = register(live, org, "Laki", "Asiakas", uuid.uuid4().int)
    other = live.add_org()
    path = f"/api/v1/clients/{client_id}/legal-hold"
    for role in (Role.COACH, Role.TEAM_LEAD, Role.EMPLOYER_COORDINATOR, Role.REGION_ANALYST):
        with live.http(live.username(org, role)) as http:
            assert http.post(path, json={}).status_code == 403
            assert http.get(path).status_code == 403
            assert http.delete(path).status_code == 403
    assert httpx.post(f"{live.base_url}{path}", json={}).status_code == 401
    with live.http(live.username(other, Role.ORG_ADMIN)) as http:
        assert http.post(path, json={}).status_code == 404
        assert http.get(path).status_code == 404
        assert http.delete(path).status_code == 404
    with live.http(live.username(org, Role.ORG_ADMIN)) as http:
        assert http.post(f"/api/v1/clients/{uuid.uuid4()}/legal-hold", json={}).status_code == 404
        bad = http.post(path, json={"case_reference": "free text with a name"})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert http.post(path, json={"unknown": 1}).status_code == 422
        assert http.get(path).json() == []  # nothing was written
        assert http.delete(path).status_code == 404  # no hold in force
        first = http.post(path, json={"case_reference": "DNRO-42/2026"})
        assert first.status_code == 201 and first.json()["active"] is True
        second = http.post(path, json={})
        assert second.status_code == 200 and second.json()["placed_at"] == first.json()["placed_at"]
        lifted = http.delete(path)
        assert lifted.status_code == 200 and lifted.json()["lifted_at"] is not None
        holds = http.get(path).json()
        assert len(holds) == 1 and holds[0]["active"] is False and holds[0]["case_reference"] == "DNRO-42/2026"
    _, _, audit = other_rows(live, client_id)
    actions = [a.action for a in audit]
    for action in ("client.legal_hold.place", "client.legal_hold.lift", "client.legal_hold.read"):
        assert action in actions


def test_worker_keeps_a_daily_retention_schedule(live: Live) -> None:
    async def go() -> Any:
        client = await connect(live.settings)
        return await client.get_schedule_handle(schedule_id(live.settings)).describe()

    desc = run_sync(go())
    action = desc.schedule.action
    assert action.workflow == "RetentionSweep"
    assert action.task_queue == live.settings.temporal_task_queue
    assert [i.every for i in desc.schedule.spec.intervals] == [timedelta(days=1)]


def test_erase_and_export_functions_on_sqlite_and_postgresql(db_settings: Settings) -> None:
    """The services' retention functions and the hold queries on both databases, without
    the stack: export reads the data decrypted, erase removes it, a second erase changes
    nothing, and another client and organisation are untouched."""
    from services.coaching import retention as coaching
    from services.coaching.record_models import ClientMeeting
    from services.coaching.record_store import MEETING, Sealer
    from services.employer import retention as employer
    from services.employer import store as employer_store
    from services.employer.models import MatchProfileIn
    from services.intake import retention as intake
    from services.intake import store as intake_store
    from shared import retention as rules
    from shared.crypto import FieldCipher
    from shared.keys import load_keys
    from shared.migrations import upgrade_all

    upgrade_all(db_settings)
    keys = load_keys(db_settings)
    cipher = FieldCipher(keys)
    org, other_org, author = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    subject, bystander, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def client_row(organisation: uuid.UUID, client_id: uuid.UUID, first: str, last: str, code: str) -> Client:
        s = intake_store.client_sealer(cipher, client_id)
        return Client(
            id=client_id,
            organisation_id=organisation,
            coach_id=author,
            journey_id=f"journey-{organisation}-{client_id}",
            first_name_enc=s.seal("first_name", first),
            last_name_enc=s.seal("last_name", last),
            hetu_enc=s.seal("hetu", code),
            hetu_index=intake_store.hetu_index(keys, organisation, code),
            phone_enc=s.seal("phone", "040 111 2222"),
            journey_status="CLOSED",
            journey_event_at=datetime(2014, 1, 1, tzinfo=UTC),
            registered_by=author,
            **intake_store.name_indexes(keys, organisation, first, last),
        )

    def meeting(organisation: uuid.UUID, client_id: uuid.UUID, notes: str) -> ClientMeeting:
        mid = uuid.uuid4()
        return ClientMeeting(
            id=mid,
            organisation_id=organisation,
            client_id=client_id,
            occurred_at=datetime.now(UTC),
            duration_minutes=30,
            place="office",
            contact_mode="meeting",
            participants=["client", "coach"],
            notes_enc=Sealer(cipher, MEETING, mid).seal("notes", notes),
            recorded_by=author,
        )

    def profile(organisation: uuid.UUID, client_id: uuid.UUID, interest: str) -> MatchProfile:
        body = MatchProfileIn(interests=[interest])
        return MatchProfile(
            organisation_id=organisation,
            client_id=client_id,
            profile_enc=employer_store.encrypt_profile(cipher, client_id, body),
            updated_by=author,
        )

    async def go() -> None:
        dbs = {n: Database(db_settings, n) for n in ("platform", "intake", "coaching", "employer")}
        try:
            rows: dict[str, list[Any]] = {
                "intake": [
                    client_row(org, subject, "Eeva", "Erased", hetu(1)),
                    client_row(org, bystander, "Olli", "Other", hetu(2)),
                    client_row(other_org, stranger, "Toinen", "Org", hetu(1)),  # same code, another org
                ],
                "coaching": [meeting(org, subject, "eeva-note"), meeting(org, bystander, "olli-note")],
                "employer": [profile(org, subject, "eeva-interest"), profile(org, bystander, "olli-interest")],
            }
            for name, objs in rows.items():
                async with dbs[name].session(cross_tenant=True) as s, s.begin():
                    s.add_all(objs)

            found = await intake.closed_journeys(dbs["intake"], organisations=[org])
            assert {j.client_id for j in found} == {subject, bystander}
            hold, new = await rules.place_hold(dbs["platform"], org, bystander, author, "K-1")
            assert new and (await rules.place_hold(dbs["platform"], org, bystander, author, None))[1] is False
            assert await rules.held_clients(dbs["platform"]) == {(org, bystander)}
            assert not await rules.is_held(dbs["platform"], other_org, bystander)

            exported = await intake.export_client(dbs["intake"], cipher, org, subject)
            assert exported is not None and exported["client"]["last_name"] == "Erased"
            assert exported["client"]["personal_identity_code"] == hetu(1)
            coach_rows = await coaching.export_client(dbs["coaching"], cipher, org, subject)
            assert [r["notes"] for r in coach_rows["client_meetings"]] == ["eeva-note"]
            emp = await employer.export_client(dbs["employer"], cipher, org, subject)
            assert emp["match_profile"]["interests"] == ["eeva-interest"]
            assert await intake.export_client(dbs["intake"], cipher, uuid.uuid4(), subject) is None

            assert await coaching.erase_client(dbs["coaching"], org, subject) == 1
            assert await employer.erase_client(dbs["employer"], org, subject) == 1
            assert await intake.erase_client(dbs["intake"], cipher, keys, org, subject) >= 1
            # Twice: nothing more.
            assert await coaching.erase_client(dbs["coaching"], org, subject) == 0
            assert await employer.erase_client(dbs["employer"], org, subject) == 0
            assert await intake.erase_client(dbs["intake"], cipher, keys, org, subject) == 0

            after = await intake.export_client(dbs["intake"], cipher, org, subject)
            assert after is not None and after["erased_at"] is not None
            assert after["client"]["last_name"] == f"#{subject.hex[:8]}" and after["client"]["first_name"] == ""
            assert after["client"]["personal_identity_code"] is None and after["client"]["phone"] is None
            coach_after = await coaching.export_client(dbs["coaching"], cipher, org, subject)
            assert [r["notes"] for r in coach_after["client_meetings"]] == [None]
            assert (await employer.export_client(dbs["employer"], cipher, org, subject))["match_profile"] is None
            # The same identity code may register again as a new client after erasure.
            async with dbs["intake"].session(organisation_id=org) as s:
                assert await intake_store.client_by_hetu(s, intake_store.hetu_indexes(keys, org, hetu(1))) is None
            # The bystander and the other organisation's client are untouched.
            assert await intake.export_client(dbs["intake"], cipher, other_org, subject) is None
            for organisation, client_id, last in ((org, bystander, "Other"), (other_org, stranger, "Org")):
                kept = await intake.export_client(dbs["intake"], cipher, organisation, client_id)
                assert kept is not None and kept["client"]["last_name"] == last and kept["erased_at"] is None
            kept_rows = await coaching.export_client(dbs["coaching"], cipher, org, bystander)
            assert [r["notes"] for r in kept_rows["client_meetings"]] == ["olli-note"]
            assert [j.client_id for j in await intake.closed_journeys(dbs["intake"], organisations=[org])] == [
                bystander
            ]
            assert (await rules.lift_hold(dbs["platform"], org, bystander, author)) is not None
            assert await rules.lift_hold(dbs["platform"], org, bystander, author) is None
            assert await rules.held_clients(dbs["platform"]) == set()
            assert hold.case_reference == "K-1"
        finally:
            for db in dbs.values():
                await db.dispose()

    run_sync(go())


def test_cli_schedules_and_runs_on_the_live_worker(live: Live) -> None:
    """``polku retention schedule`` and ``run`` against the stack's own worker (the
    default period of 10 years: a journey closed now is a candidate, not due)."""
    org = live.add_org()
    client_id = register(live, org, "Komento", "Rivi", uuid.uuid4().int)
    close(live, org, client_id, "education")
    wait_closed_in_intake(live, client_id)
    polku = [sys.executable, "-m", "polku", "retention"]
    done = subprocess.run([*polku, "schedule"], env=live.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert schedule_id(live.settings) in done.stdout
    done = subprocess.run(
        [*polku, "run", "--org", str(org.id)], env=live.env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = SweepResult.model_validate_json(done.stdout)
    assert result.candidates == 1 and result.due == 0 and result.erased == 0
    assert intake_row(live, client_id).erased_at is None
