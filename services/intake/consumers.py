"""Journey events into the registry: each client's journey status and current coach, so
intake counts active caseloads from its own data (no call to reporting).

Durable pull consumer with explicit ack (NACK on error, so a failure is redelivered).
Applying an event is idempotent: it sets state, and an event older than the one applied
last is ignored (compared in the database, so concurrent applications cannot reorder).
"""

from __future__ import annotations

from typing import Any

from faststream import AckPolicy
from faststream.nats import PullSub
from sqlalchemy import or_, update

from services.intake.models import Client
from shared.contracts.events import JourneyEvent, known_event
from shared.db import Database
from shared.events.streams import jstream
from shared.service import ServiceContext

JOURNEY_DURABLE = "intake-journey"


async def apply_journey_event(db: Database, event: JourneyEvent) -> bool:
    """Returns False when the event changed nothing (unknown client, or older news).

    One conditional UPDATE (compare and set in the database): a batch's messages are
    applied concurrently, and two consumer replicas run at once, so an older event may
    commit after a newer one; a read-then-write could lose the newer status or coach.
    """
    stmt = (
        update(Client)
        .where(
            Client.id == event.client_id,
            Client.organisation_id == event.organisation_id,
            or_(Client.journey_event_at.is_(None), Client.journey_event_at <= event.occurred_at),
        )
        .values(
            journey_status=event.status.value,
            # A reassignment moves the client to the new coach's caseload.
            coach_id=event.coach_id,
            journey_event_at=event.occurred_at,
        )
        .execution_options(synchronize_session=False)
    )
    async with db.session(cross_tenant=True) as session, session.begin():
        result: Any = await session.execute(stmt)
    return bool(result.rowcount)


def register(ctx: ServiceContext) -> None:
    db = ctx.database

    @ctx.broker.subscriber(
        "polku.*.journey.>",
        stream=jstream("journey"),
        durable=JOURNEY_DURABLE,
        pull_sub=PullSub(batch_size=100, timeout=1.0),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="intake-journey",
        description="Journey status and coach of each registered client, for caseload counts",
    )
    async def on_journey_event(body: Any) -> None:
        # Validated here, not by FastStream: an event this version does not know is
        # acknowledged and skipped instead of being redelivered forever.
        event = known_event(body)
        if event is None:
            return
        if isinstance(event, JourneyEvent):
            await apply_journey_event(db, event)
