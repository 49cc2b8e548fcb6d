"""Organisation scoping on a real database: every query is filtered, unscoped ones fail."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select, update

from services.reporting.models import JourneyProjection
from shared.db import Database, utcnow
from shared.migrations import upgrade
from shared.settings import Settings
from shared.tenancy import TenancyError


@pytest.fixture
async def reporting(db_settings: Settings) -> Database:
    await asyncio.to_thread(upgrade, db_settings, "reporting")
    db = Database(db_settings, "reporting")
    yield db  # type: ignore[misc]
    await db.dispose()


def _row(org: uuid.UUID) -> JourneyProjection:
    now = utcnow()
    return JourneyProjection(
        client_id=uuid.uuid4(),
        organisation_id=org,
        coach_id=uuid.uuid4(),
        phase="INTAKE",
        status="ACTIVE",
        since=now,
        last_event_at=now,
    )


async def test_queries_see_only_their_organisation(reporting: Database) -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    rows_a, rows_b = [_row(a) for _ in range(3)], [_row(b) for _ in range(2)]
    async with reporting.session(organisation_id=a) as s, s.begin():
        s.add_all(rows_a)
    async with reporting.session(organisation_id=b) as s, s.begin():
        s.add_all(rows_b)
    async with reporting.session(organisation_id=a) as s:
        seen = (await s.execute(select(JourneyProjection))).scalars().all()
        assert {r.client_id for r in seen} == {r.client_id for r in rows_a}
        assert await s.get(JourneyProjection, rows_b[0].client_id) is None
        # Even an explicit filter on the other organisation returns nothing.
        other = await s.execute(select(JourneyProjection).where(JourneyProjection.organisation_id == b))
        assert other.scalars().all() == []
        # Bulk updates are scoped too.
        await s.execute(update(JourneyProjection).values(phase="PROFILING"))
        await s.commit()
    async with reporting.session(organisation_id=b) as s:
        assert {r.phase for r in (await s.execute(select(JourneyProjection))).scalars()} == {"INTAKE"}


async def test_unscoped_query_raises(reporting: Database) -> None:
    async with reporting.session() as s:
        with pytest.raises(TenancyError):
            await s.execute(select(JourneyProjection))


async def test_writing_into_another_organisation_raises(reporting: Database) -> None:
    async with reporting.session(organisation_id=uuid.uuid4()) as s:
        s.add(_row(uuid.uuid4()))
        with pytest.raises(TenancyError):
            await s.flush()
