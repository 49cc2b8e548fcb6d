"""Queries over the reporting projections, inside one organisation's scope."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import JourneyProjection, ProcessedEvent


async def journeys(session: AsyncSession, coach_id: uuid.UUID | None = None) -> list[JourneyProjection]:
    q = select(JourneyProjection).order_by(JourneyProjection.since)
    if coach_id is not None:
        q = q.where(JourneyProjection.coach_id == coach_id)
    return list((await session.execute(q)).scalars())


async def data_as_of(session: AsyncSession, organisation_id: uuid.UUID) -> datetime | None:
    # ProcessedEvent is not tenant-scoped (it deduplicates across organisations), so filter here.
    return await session.scalar(
        select(func.max(ProcessedEvent.occurred_at)).where(ProcessedEvent.organisation_id == organisation_id)
    )
