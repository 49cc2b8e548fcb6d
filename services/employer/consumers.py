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
    """Upsert the client's pool row; the newest event wins.

    One statement, compare and set in the database: a batch's messages are applied
    concurrently (and two consumer replicas run at once), so an older move may commit
    after a newer one. A read-then-write here lost the newer move on PostgreSQL.
    """
    table = PoolClient.__table__
    insert = await dialect_insert(session, table)
    current = ("coach_id", "phase", "status", "episode", "last_event_at")
    await session.execute(
        insert.values(
            client_id=event.client_id,
            organisation_id=event.organisation_id,
            coach_id=event.coach_id,
            phase=event.phase.value,
            status=event.status.value,
            episode=event.episode,
            last_event_at=event.occurred_at,
        ).on_conflict_do_update(
            index_elements=["client_id"],
            set_={name: insert.excluded[name] for name in current},
            # An older event arriving late changes nothing; nor does one of another
            # organisation (a client id is never shared, but the pool is per tenant).
            where=(table.c.last_event_at <= insert.excluded.last_event_at)
            & (table.c.organisation_id == insert.excluded.organisation_id),
        )
    )


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
