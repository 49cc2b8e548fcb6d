"""Event subscribers that keep the reporting projections current.

Durable pull consumer, explicit ack (NACK on error so a failed event is redelivered),
idempotent by event id: the id is recorded in the same transaction as its effect.
"""

from __future__ import annotations

import logging

from faststream import AckPolicy
from faststream.nats import PullSub
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import JourneyProjection, ProcessedEvent
from shared.contracts.events import AnyEvent, JourneyEvent, JourneyMoved
from shared.db import Database
from shared.events.streams import jstream
from shared.service import ServiceContext

log = logging.getLogger(__name__)

JOURNEY_DURABLE = "reporting-journey"


async def apply_event(db: Database, event: AnyEvent) -> bool:
    """Apply one event once. Returns False when it had been applied before."""
    async with db.session(cross_tenant=True) as session, session.begin():
        if await session.get(ProcessedEvent, event.id) is not None:
            return False
        session.add(
            ProcessedEvent(
                event_id=event.id, type=event.type, organisation_id=event.organisation_id, occurred_at=event.occurred_at
            )
        )
        if isinstance(event, JourneyEvent):
            await _project_journey(session, event)
    return True


async def _project_journey(session: AsyncSession, event: JourneyEvent) -> None:
    row = await session.get(JourneyProjection, event.client_id)
    if row is None:
        session.add(
            JourneyProjection(
                client_id=event.client_id,
                organisation_id=event.organisation_id,
                coach_id=event.coach_id,
                phase=event.phase.value,
                status=event.status.value,
                episode=event.episode,
                since=event.occurred_at,
                last_event_at=event.occurred_at,
            )
        )
        return
    if event.occurred_at < row.last_event_at:
        return  # an older event arriving late must not overwrite newer state
    moved = (row.phase, row.status) != (event.phase.value, event.status.value)
    row.coach_id = event.coach_id
    row.phase = event.phase.value
    row.status = event.status.value
    row.episode = event.episode
    row.last_event_at = event.occurred_at
    if moved or isinstance(event, JourneyMoved):
        row.since = event.occurred_at


def register(ctx: ServiceContext) -> None:
    db = ctx.database

    @ctx.broker.subscriber(
        "polku.*.journey.>",
        stream=jstream("journey"),
        durable=JOURNEY_DURABLE,
        pull_sub=PullSub(batch_size=100, timeout=1.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="reporting-journey",
        description="Journey events into the caseload and flow projections",
    )
    async def on_journey_event(event: AnyEvent) -> None:
        await apply_event(db, event)
