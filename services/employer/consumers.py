"""Journey events keep the matching pool current: who is in rapid job search, who closed.

Durable pull consumer, explicit ack (NACK on error so a failed event is redelivered),
idempotent by event id: the id is recorded in the same transaction as its effect.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.nats import PullSub
from sqlalchemy.ext.asyncio import AsyncSession

from services.employer.models import PoolClient, ProcessedEvent
from shared.contracts.events import AnyEvent, JourneyEvent, known_event
from shared.db import Database, dialect_insert
from shared.events.streams import jstream
from shared.service import ServiceContext

log = logging.getLogger(__name__)

JOURNEY_DURABLE = "employer-journey"


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
            await _project(session, event)
    return True


async def _project(session: AsyncSession, event: JourneyEvent) -> None:
    row = await session.get(PoolClient, event.client_id)
    if row is None:
        # Insert-or-nothing: two events of a new client applied at once (two consumer
        # processes, or a redelivery) must not fail on the second insert.
        insert = await dialect_insert(session, PoolClient.__table__)
        created: Any = await session.execute(
            insert.values(
                client_id=event.client_id,
                organisation_id=event.organisation_id,
                coach_id=event.coach_id,
                phase=event.phase.value,
                status=event.status.value,
                episode=event.episode,
                last_event_at=event.occurred_at,
            ).on_conflict_do_nothing(index_elements=["client_id"])
        )
        if created.rowcount:
            return
        row = await session.get(PoolClient, event.client_id, populate_existing=True)
        if row is None:
            return
    if event.occurred_at < row.last_event_at:
        return  # an older event arriving late must not overwrite newer state
    row.coach_id = event.coach_id
    row.phase = event.phase.value
    row.status = event.status.value
    row.episode = event.episode
    row.last_event_at = event.occurred_at


def register(ctx: ServiceContext) -> None:

    @ctx.broker.subscriber(
        "polku.*.journey.>",
        stream=jstream("journey"),
        durable=JOURNEY_DURABLE,
        pull_sub=PullSub(batch_size=100, timeout=1.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="employer-journey",
        description="Journey events into the employer service's matching pool",
    )
    async def on_journey_event(body: Any) -> None:
        # Validated here, not by FastStream: an event this version does not know is
        # acknowledged and skipped instead of being redelivered forever.
        event = known_event(body)
        if event is None:
            return
        await apply_event(ctx.database, event)  # looked up now: the app swaps it at start
