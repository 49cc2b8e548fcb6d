"""Publishing domain events to JetStream through FastStream's NATS broker."""

from __future__ import annotations

from faststream.nats import NatsBroker

from shared.contracts.events import Event
from shared.events.streams import STREAM_BY_AREA


class EventPublisher:
    """Publishes events with the event id as JetStream's de-duplication id.

    A repeat of the same event id inside the stream's duplicate window is stored once,
    so callers may retry freely.
    """

    def __init__(self, broker: NatsBroker) -> None:
        self._broker = broker

    async def publish(self, event: Event, timeout: float = 5.0) -> None:
        headers = {"Nats-Msg-Id": str(event.id)}
        if event.traceparent:
            headers["traceparent"] = event.traceparent
        await self._broker.publish(
            event.model_dump_json().encode(),
            subject=event.subject(),
            headers=headers,
            stream=STREAM_BY_AREA[event.area].name,
            timeout=timeout,
        )
