"""The journey's activities: publishing its domain events to JetStream."""

from __future__ import annotations

from temporalio import activity

from shared.events.publisher import EventPublisher
from workflows.contracts import PUBLISH_EVENTS_ACTIVITY, EventBatch


class JourneyActivities:
    """Activities as methods, so the worker injects the publisher (and its started broker)."""

    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    @activity.defn(name=PUBLISH_EVENTS_ACTIVITY)
    async def publish_events(self, batch: EventBatch) -> int:
        """Publish in order, awaiting each ack. A retry re-publishes the whole batch; the
        event ids make JetStream store each event once."""
        for event in batch.events:
            await self._publisher.publish(event)
        return len(batch.events)
