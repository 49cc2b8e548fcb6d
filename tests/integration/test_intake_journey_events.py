"""Journey events into the intake registry (SQLite and PostgreSQL): each client's status
and coach follow the newest event, even when events are applied at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from services.intake.consumers import apply_journey_event
from services.intake.models import Client
from shared.contracts.events import JourneyMoved
from shared.contracts.journey import Phase, Status
from shared.db import Database
from shared.migrations import upgrade
from shared.settings import Settings

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
async def intake_db(db_settings: Settings) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade, db_settings, "intake")
    db = Database(db_settings, "intake")
    yield db
    await db.dispose()


def _moved(org: uuid.UUID, client: uuid.UUID, coach: uuid.UUID, status: Status, at: datetime) -> JourneyMoved:
    return JourneyMoved(
        organisation_id=org,
        region_id="kymenlaakso",
        client_id=client,
        journey_id=f"journey-{org}-{client}",
        coach_id=coach,
        phase=Phase.JOB_SEARCH,
        status=status,
        action="close" if status is Status.CLOSED else "advance",
        from_phase=Phase.PROFILING,
        from_status=Status.ACTIVE,
        occurred_at=at,
    )


async def test_status_and_coach_follow_the_newest_event_when_applied_at_once(intake_db: Database) -> None:
    org, first_coach, new_coach = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    clients = [uuid.uuid4() for _ in range(20)]
    async with intake_db.session(organisation_id=org) as session, session.begin():
        session.add_all(
            Client(
                id=c,
                organisation_id=org,
                coach_id=first_coach,
                journey_id=f"journey-{org}-{c}",
                first_name_enc="-",
                last_name_enc="-",
                name_index="-",
                registered_by=first_coach,
            )
            for c in clients
        )
    for round_ in range(3):
        at = T0 + timedelta(days=round_)
        # Per client: reassigned and closed (newer), and an older move that must not win.
        newer = [_moved(org, c, new_coach, Status.CLOSED, at + timedelta(seconds=2)) for c in clients]
        older = [_moved(org, c, first_coach, Status.ACTIVE, at + timedelta(seconds=1)) for c in clients]
        batch = [ev for pair in zip(newer, older, strict=True) for ev in pair]
        applied = await asyncio.gather(*(apply_journey_event(intake_db, ev) for ev in batch))
        assert sum(applied) >= len(clients)  # every newer one; an older one only if it came first
        async with intake_db.session(organisation_id=org) as session:
            rows = (await session.execute(select(Client))).scalars().all()
        assert {(r.id, r.journey_status, r.coach_id, r.journey_event_at) for r in rows} == {
            (c, "CLOSED", new_coach, at + timedelta(seconds=2)) for c in clients
        }
    # Older news, or a client of another organisation, changes nothing.
    assert not await apply_journey_event(intake_db, _moved(org, clients[0], first_coach, Status.ACTIVE, T0))
    assert not await apply_journey_event(
        intake_db, _moved(uuid.uuid4(), clients[0], first_coach, Status.ACTIVE, T0 + timedelta(days=9))
    )
