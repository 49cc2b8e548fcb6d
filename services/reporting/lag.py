"""How far the projections are behind the streams: the durable consumers' pending counts."""

from __future__ import annotations

import logging
from typing import Any

from services.reporting.consumers import durable_name
from services.reporting.models import ConsumerLag
from shared.events.streams import STREAMS

log = logging.getLogger(__name__)


async def consumer_lag(jetstream: Any | None, nats_url: str) -> list[ConsumerLag]:
    """Each reporting consumer's lag. ``jetstream`` is a connected JetStream context (the
    service's broker); without one a short-lived connection is made."""
    nc = None
    if jetstream is None:
        import nats

        nc = await nats.connect(nats_url, connect_timeout=2, max_reconnect_attempts=0, allow_reconnect=False)
        jetstream = nc.jetstream()
    out: list[ConsumerLag] = []
    try:
        for spec in STREAMS:
            durable = durable_name(spec)
            try:
                info = await jetstream.consumer_info(spec.name, durable, timeout=2)
            except Exception as exc:  # noqa: BLE001 - reported, not raised: the rest still answer
                out.append(
                    ConsumerLag(
                        stream=spec.name,
                        durable=durable,
                        pending=None,
                        ack_pending=None,
                        redelivered=None,
                        error=type(exc).__name__,
                    )
                )
                continue
            out.append(
                ConsumerLag(
                    stream=spec.name,
                    durable=durable,
                    pending=info.num_pending,
                    ack_pending=info.num_ack_pending,
                    redelivered=info.num_redelivered,
                )
            )
    finally:
        if nc is not None:
            await nc.close()
    return out


def broker_jetstream(broker: Any) -> Any | None:
    """The JetStream context of a started FastStream NATS broker, if it has one."""
    try:
        return broker.config.connection_state.stream
    except Exception:  # noqa: BLE001 - not connected, or another FastStream version
        return None
