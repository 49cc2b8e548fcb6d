"""Consumers skip an event this version does not know (a type added by a newer producer,
or a malformed message) instead of having it redelivered forever."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import nats

from shared.events.streams import STREAM_BY_AREA
from tests.conftest import Live, run_sync

# The FastStream subscribers that validate journey events (reporting and coaching's
# snapshots read the raw messages and have tests of their own).
DURABLES = ("intake-journey", "employer-journey")


def _pending(live: Live) -> dict[str, tuple[int, int]]:
    """Per consumer: messages delivered and not yet acknowledged, and not yet delivered."""

    async def go() -> dict[str, tuple[int, int]]:
        nc = await nats.connect(live.settings.nats_url)
        try:
            js = nc.jetstream()
            out = {}
            for durable in DURABLES:
                info = await js.consumer_info(STREAM_BY_AREA["journey"].name, durable)
                out[durable] = (info.num_ack_pending, info.num_pending)
            return out
        finally:
            await nc.close()

    return run_sync(go())


def test_an_unknown_or_malformed_journey_event_is_acknowledged_and_skipped(live: Live) -> None:
    org = live.add_org()
    unknown = {
        "id": str(uuid.uuid4()),
        "type": "journey.something_new",
        "organisation_id": str(org.id),
        "region_id": org.region,
        "occurred_at": datetime.now(UTC).isoformat(),
    }

    async def publish() -> None:
        nc = await nats.connect(live.settings.nats_url)
        try:
            js = nc.jetstream()
            for body in (json.dumps(unknown).encode(), b"{not json"):
                await js.publish(
                    f"polku.{org.id}.journey.something_new", body, headers={"Nats-Msg-Id": uuid.uuid4().hex}
                )
        finally:
            await nc.close()

    run_sync(publish())
    # Redelivered forever, the two would stay pending; acknowledged, nothing is.
    deadline = time.monotonic() + 30
    pending = _pending(live)
    while any(pending.values()) and time.monotonic() < deadline:
        time.sleep(0.5)
        pending = _pending(live)
    assert not any(a or p for a, p in pending.values()), pending
