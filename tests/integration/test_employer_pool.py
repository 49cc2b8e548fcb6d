"""The matching pool from journey events on a real database (SQLite and PostgreSQL): each
event applies once, a late older event changes nothing, and each organisation sees only
its own job seekers and their encrypted match profiles."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.employer import store
from services.employer.consumers import apply_event
from services.employer.models import MatchProfile, MatchProfileIn
from shared.contracts.events import JourneyMoved, JourneyStarted
from shared.contracts.journey import Phase, Status
from shared.crypto import FieldCipher
from shared.db import Database
from shared.keys import load_keys
from shared.migrations import upgrade
from shared.settings import Settings

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def employer_db(db_settings: Settings) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade, db_settings, "employer")
    db = Database(db_settings, "employer", immediate=True)
    yield db
    await db.dispose()


def _started(org: uuid.UUID, client: uuid.UUID, at: datetime) -> JourneyStarted:
    return JourneyStarted(
        organisation_id=org,
        region_id="kymenlaakso",
        client_id=client,
        journey_id=f"journey-{org}-{client}",
        coach_id=uuid.uuid4(),
        phase=Phase.INTAKE,
        status=Status.ACTIVE,
        occurred_at=at,
    )


def _moved(started: JourneyStarted, phase: Phase, status: Status, at: datetime) -> JourneyMoved:
    return JourneyMoved(
        organisation_id=started.organisation_id,
        region_id=started.region_id,
        client_id=started.client_id,
        journey_id=started.journey_id,
        coach_id=started.coach_id,
        phase=phase,
        status=status,
        action="advance",
        from_phase=Phase.PROFILING,
        from_status=Status.ACTIVE,
        occurred_at=at,
    )


async def test_pool_follows_journey_events_once_and_in_order(employer_db: Database) -> None:
    org, other_org = uuid.uuid4(), uuid.uuid4()
    aino = _started(org, uuid.uuid4(), T0)
    olli = _started(org, uuid.uuid4(), T0)
    stranger = _started(other_org, uuid.uuid4(), T0)
    to_search = _moved(aino, Phase.JOB_SEARCH, Status.ACTIVE, T0 + timedelta(days=3))
    olli_search = _moved(olli, Phase.JOB_SEARCH, Status.ACTIVE, T0 + timedelta(days=1))
    olli_closed = _moved(olli, Phase.JOB_SEARCH, Status.CLOSED, T0 + timedelta(days=2))
    stranger_search = _moved(stranger, Phase.JOB_SEARCH, Status.ACTIVE, T0 + timedelta(days=1))
    for event in (aino, olli, stranger, to_search, olli_search, olli_closed, stranger_search):
        assert await apply_event(employer_db, event) is True
    assert await apply_event(employer_db, to_search) is False  # redelivered: skipped
    # A late, older event does not move Aino back.
    late = _moved(aino, Phase.PROFILING, Status.ACTIVE, T0 + timedelta(days=2))
    assert await apply_event(employer_db, late) is True

    async with employer_db.session(organisation_id=org) as session:
        seekers = await store.job_seekers(session)
        everyone = await store.pool(session, include_closed=True)
    assert [s.client_id for s in seekers] == [aino.client_id]
    assert {p.client_id for p in everyone} == {aino.client_id, olli.client_id}
    async with employer_db.session(organisation_id=other_org) as session:
        assert [s.client_id for s in await store.job_seekers(session)] == [stranger.client_id]


async def test_events_applied_at_once_leave_the_newest_state(employer_db: Database) -> None:
    """A batch's messages are applied concurrently (and two replicas consume at once): a
    client's older move committed after a newer one must not win. On PostgreSQL a
    read-then-write projection lost the newer move (a client missing from the pool)."""
    org = uuid.uuid4()
    journeys = []
    for _ in range(20):
        started = _started(org, uuid.uuid4(), T0)
        profiling = _moved(started, Phase.PROFILING, Status.ACTIVE, T0 + timedelta(seconds=1))
        search = _moved(started, Phase.JOB_SEARCH, Status.ACTIVE, T0 + timedelta(seconds=2))
        journeys.append((started, profiling, search))
    for started, _, _ in journeys:
        assert await apply_event(employer_db, started)
    for _ in range(3):  # the older move of each pair gets every chance to commit last
        batch = [ev for _, profiling, search in journeys for ev in (search, profiling)]
        await asyncio.gather(*(apply_event(employer_db, ev) for ev in batch))
        async with employer_db.session(organisation_id=org) as session:
            seekers = {s.client_id: s.last_event_at for s in await store.job_seekers(session)}
        assert seekers == {started.client_id: T0 + timedelta(seconds=2) for started, _, _ in journeys}
        journeys = [
            (started, profiling.model_copy(update={"id": uuid.uuid4()}), search.model_copy(update={"id": uuid.uuid4()}))
            for started, profiling, search in journeys
        ]


async def test_match_profiles_are_encrypted_and_scoped(employer_db: Database, db_settings: Settings) -> None:
    cipher = FieldCipher(load_keys(db_settings))
    org, client = uuid.uuid4(), uuid.uuid4()
    body = MatchProfileIn(fields=["I"], areas=["Kotka"], interests=["leipominen"], hours_min=20, hours_max=30)
    async with employer_db.session(organisation_id=org) as session, session.begin():
        session.add(
            MatchProfile(
                client_id=client,
                organisation_id=org,
                profile_enc=store.encrypt_profile(cipher, client, body),
                updated_by=uuid.uuid4(),
            )
        )
    async with employer_db.session(organisation_id=org) as session:
        (row,) = (await session.execute(select(MatchProfile))).scalars().all()
    assert "leipominen" not in row.profile_enc and "Kotka" not in row.profile_enc
    assert store.decrypt_profile(cipher, row) == body
    async with employer_db.session(organisation_id=uuid.uuid4()) as session:
        assert await store.profiles_of(session, [client]) == []
