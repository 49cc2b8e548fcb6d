"""The dashboard's journey snapshots on real servers: written by the journey API and by the
journey-event consumer, read by the dashboard (the workflow only for journeys without
one), versioned, organisation-scoped and erased with the client's coaching data."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update

from services.coaching import journey_snapshots as snap
from services.coaching import retention as coaching_retention
from services.coaching.models import JourneySnapshot
from shared.contracts.journey import Phase, Role, Status
from shared.crypto import FieldCipher
from shared.db import Database
from shared.keys import load_keys
from shared.settings import Settings
from tests.conftest import Live, Org, run_sync, wait_for
from workflows.contracts import Actor, JourneyState, MilestoneRequest, Milestones, Reminder

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _snapshot(live: Live, client_id: str) -> dict[str, Any] | None:
    rows = live.rows(
        "coaching",
        "SELECT organisation_id, coach_id, phase, status, version FROM journey_snapshots WHERE client_id = ?",
        client_id,
    )
    return rows[0] if rows else None


def _stored_state(live: Live, client_id: str) -> JourneyState:
    async def go() -> JourneyState:
        db = Database(live.settings, "coaching")
        try:
            async with db.session(cross_tenant=True) as session:
                raw = (
                    await session.execute(
                        select(JourneySnapshot.state).where(JourneySnapshot.client_id == uuid.UUID(client_id))
                    )
                ).scalar_one()
                return JourneyState.model_validate(raw)
        finally:
            await db.dispose()

    return run_sync(go())


def _change_snapshot(live: Live, client_id: str, state: JourneyState | None) -> None:
    """Replace the stored state (None: delete the snapshot), as if the read model said so."""

    async def go() -> None:
        db = Database(live.settings, "coaching")
        try:
            async with db.session(cross_tenant=True) as session, session.begin():
                where = JourneySnapshot.client_id == uuid.UUID(client_id)
                if state is None:
                    await session.execute(delete(JourneySnapshot).where(where))
                else:
                    await session.execute(
                        update(JourneySnapshot).where(where).values(state=state.model_dump(mode="json"))
                    )
        finally:
            await db.dispose()

    run_sync(go())


def _journey_reads(live: Live, client_id: str) -> int:
    rows = live.rows(
        "platform", "SELECT count(*) AS n FROM audit_records WHERE client_id = ? AND action = 'journey.read'", client_id
    )
    return int(rows[0]["n"])


def _register(live: Live, org: Org, prefix: str) -> str:
    suffix = "".join(chr(ord("a") + int(d, 16) % 26) for d in uuid.uuid4().hex[:8])
    return str(live.register_client(org, "Helmi", f"{prefix}-{suffix.capitalize()}")["client_id"])


@pytest.fixture(scope="module")
def org(live: Live) -> Org:
    return live.add_org()


@pytest.fixture()
def coach(live: Live, org: Org) -> Iterator[httpx.Client]:
    with closing(live.browser_session(org, Role.COACH)) as session:
        yield session


def _page_listing(session: httpx.Client, path: str, client_id: str) -> Callable[[], str | None]:
    def check() -> str | None:
        page = session.get(path).text
        return page if f'href="/clients/{client_id}"' in page else None

    return check


def _row_html(page: str, client_id: str) -> str:
    start = page.index(f'href="/clients/{client_id}"')
    return page[start : page.index("</tr>", start)]


def test_moves_events_and_other_services_milestones_keep_the_snapshot_current(
    live: Live, org: Org, coach: httpx.Client
) -> None:
    client_id = _register(live, org, "Tila")
    # journey.started reaches the consumer, which reads the journey and saves it.
    first = wait_for(lambda: _snapshot(live, client_id))
    assert first["version"] == 1 and first["phase"] == "INTAKE" and first["status"] == "ACTIVE"
    assert str(first["organisation_id"]) == str(org.id)

    # A move through the page (the journey API) is saved before the answer comes back.
    token = CSRF.search(coach.get(f"/clients/{client_id}").text)
    assert token
    r = coach.post(
        f"/clients/{client_id}/moves",
        data={"csrf_token": token.group(1), "action": "advance"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200, r.text
    moved = _snapshot(live, client_id)
    assert moved is not None and moved["version"] == 2 and moved["phase"] == "PROFILING"

    # A milestone another service reports straight to the workflow (as employer does)
    # reaches the snapshot through its event.
    from workflows.client import connect, record_milestone

    contact = datetime.now(UTC) - timedelta(days=2)

    async def report() -> None:
        temporal = await connect(live.settings)
        actor = Actor(user_id=org.users[Role.COACH.value], role=Role.COACH)
        req = MilestoneRequest(kind="contact_made", occurred_at=contact, place="community", actor=actor)
        await record_milestone(temporal, org.id, uuid.UUID(client_id), req)

    run_sync(report())
    wait_for(lambda: (s := _snapshot(live, client_id)) is not None and s["version"] == 3)
    stored = _stored_state(live, client_id)
    assert stored.milestones.last_contact_at == contact and stored.milestones.contacts == 1
    assert stored.phase is Phase.PROFILING

    page = wait_for(_page_listing(coach, "/?phase=PROFILING", client_id))
    assert f'<time datetime="{contact.isoformat()}">' in _row_html(page, client_id)


def test_the_dashboard_reads_the_snapshot_and_asks_the_workflow_only_without_one(
    live: Live, org: Org, coach: httpx.Client
) -> None:
    client_id = _register(live, org, "Luku")
    wait_for(lambda: _snapshot(live, client_id))
    wait_for(_page_listing(coach, "/", client_id))  # once reporting lists it

    # What the snapshot says is what the page shows (the workflow knows no contact).
    stored = _stored_state(live, client_id)
    seen = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    soon = datetime.now(UTC) + timedelta(days=3)
    past = datetime.now(UTC) - timedelta(minutes=5)
    _change_snapshot(
        live,
        client_id,
        stored.model_copy(
            update={
                "milestones": Milestones(last_contact_at=seen, contacts=1),
                "reminders": [
                    Reminder(kind="silence_outreach", due_at=soon, overdue=False),
                    # Past its time but not raised yet: overdue at read time.
                    Reminder(kind="employer_contact_due", due_at=past, overdue=False),
                ],
            }
        ),
    )
    before = _journey_reads(live, client_id)
    row = _row_html(coach.get("/").text, client_id)
    assert f'<time datetime="{seen.isoformat()}">' in row
    assert 'class="overdue"' in row and row.count("<li") == 2
    assert _journey_reads(live, client_id) == before + 1  # one audit record for the journey shown

    # Without a snapshot the workflow answers (no contact yet), and its answer is saved.
    _change_snapshot(live, client_id, None)
    row = _row_html(coach.get("/").text, client_id)
    assert "<time" not in row and "ei vielä" in row  # "none yet"
    assert _journey_reads(live, client_id) == before + 2
    again = _snapshot(live, client_id)
    assert again is not None and again["version"] == 1


# --------------------------------------------------------------------------- database


def _state(org: uuid.UUID, client_id: uuid.UUID, version: int, phase: Phase = Phase.INTAKE) -> JourneyState:
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    return JourneyState(
        organisation_id=org,
        region_id="kymenlaakso",
        client_id=client_id,
        coach_id=uuid.uuid4(),
        phase=phase,
        status=Status.ACTIVE,
        since=now,
        episode=1,
        episode_started_at=now,
        milestones=Milestones(),
        reminders=[Reminder(kind="employer_contact_due", due_at=now + timedelta(days=30), overdue=False)],
        timeline_length=version,
    )


def test_save_keeps_the_newest_version_per_organisation_and_retention_erases_it(db_settings: Settings) -> None:
    from shared.migrations import upgrade_all

    upgrade_all(db_settings)
    org, other = uuid.uuid4(), uuid.uuid4()
    a, b = uuid.uuid4(), uuid.uuid4()

    async def go() -> None:
        db = Database(db_settings, "coaching")
        try:
            await snap.save(db, [_state(org, a, 3, Phase.PROFILING), _state(org, b, 1)])
            # An older version never overwrites; an equal one (the same state) may.
            await snap.save(db, [_state(org, a, 2, Phase.INTAKE)])
            assert (await snap.load(db, org, [a]))[a].phase is Phase.PROFILING
            await snap.save(db, [_state(org, a, 3, Phase.JOB_SEARCH)])
            assert (await snap.load(db, org, [a]))[a].phase is Phase.JOB_SEARCH
            await snap.save(db, [_state(org, a, 2, Phase.INTAKE)])
            await snap.save(db, [_state(org, a, 5, Phase.JOB_SEARCH), _state(org, a, 4, Phase.INTAKE)])
            loaded = await snap.load(db, org, [a, b, uuid.uuid4()])
            assert set(loaded) == {a, b} and loaded[a].phase is Phase.JOB_SEARCH and loaded[a].timeline_length == 5
            assert await snap.versions(db, [a, b]) == {a: 5, b: 1}
            # Another organisation neither reads nor overwrites them.
            assert await snap.load(db, other, [a, b]) == {}
            await snap.save(db, [_state(other, a, 9, Phase.FOLLOW_ALONG)])
            assert (await snap.load(db, org, [a]))[a].phase is Phase.JOB_SEARCH

            # A stored state that no longer reads is left out, and mended by the same version.
            async with db.session(cross_tenant=True) as session, session.begin():
                await session.execute(
                    update(JourneySnapshot).where(JourneySnapshot.client_id == b).values(state={"phase": "?"})
                )
            assert await snap.load(db, org, [b]) == {}
            await snap.save(db, [_state(org, b, 1)])
            assert set(await snap.load(db, org, [b])) == {b}

            # The client's erasure deletes the snapshot; the export shows it first.
            cipher = FieldCipher(load_keys(db_settings))
            exported = await coaching_retention.export_client(db, cipher, org, a)
            assert [r["version"] for r in exported["journey_snapshots"]] == [5]
            assert await coaching_retention.erase_client(db, org, a) == 1
            assert await snap.load(db, org, [a, b]) == {b: (await snap.load(db, org, [b]))[b]}
            assert await coaching_retention.erase_client(db, org, a) == 0

            # A journey the consumer cannot read loses its snapshot (the workflow answers).
            await snap.forget(db, [b])
            assert await snap.load(db, org, [b]) == {} and await snap.versions(db, [b]) == {}
        finally:
            await db.dispose()

    run_sync(go())
