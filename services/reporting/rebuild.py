"""Rebuilding the projections from the streams (``polku reporting rebuild``).

1. Note where each stream ends now.
2. Empty every projection table in one transaction (fidelity reviews stay).
3. Replay each stream from its first message up to that point through a temporary
   consumer, applying batches exactly as the live consumers do.

The service may keep running meanwhile: its durable consumers go on applying new events,
and since every event is applied once by id and a client's journey is refolded whenever
its events arrive out of order, the live events and the replayed ones meet in the same
state the projections would have had without the rebuild.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete

from services.reporting.models import PROJECTION_TABLES
from services.reporting.projection import BatchResult, apply_batch, checkpoints, projection_database
from shared.events.streams import STREAMS
from shared.settings import Settings

REPLAY_BATCH = 500


@dataclass
class RebuildResult:
    streams: dict[str, int] = field(default_factory=dict)  # messages replayed per stream
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    invalid: int = 0
    seconds: float = 0.0

    def add(self, batch: BatchResult) -> None:
        self.applied += batch.applied
        self.duplicates += batch.duplicates
        self.skipped += batch.skipped
        self.invalid += batch.invalid


def _decode(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


async def rebuild(settings: Settings, progress: Callable[[str], None] | None = None) -> RebuildResult:
    """Drop the projections and replay every stream from the start."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
    from nats.js.errors import NotFoundError

    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    result = RebuildResult()
    db = projection_database(settings)
    checkpointing = asyncio.create_task(checkpoints(db))  # as beside the consumers
    nc = await nats.connect(settings.nats_url, connect_timeout=5)
    try:
        js = nc.jetstream()
        ends: dict[str, int] = {}
        for spec in STREAMS:
            try:
                ends[spec.name] = (await js.stream_info(spec.name)).state.last_seq
            except NotFoundError:
                ends[spec.name] = 0

        async with db.session(cross_tenant=True) as session, session.begin():
            for table in PROJECTION_TABLES:
                await session.execute(delete(table))
        say("projections emptied")

        for spec in STREAMS:
            end = ends[spec.name]
            result.streams[spec.name] = 0
            if end == 0:
                continue
            sub = await js.pull_subscribe(
                spec.subjects[0],
                stream=spec.name,
                config=ConsumerConfig(
                    ack_policy=AckPolicy.NONE,
                    deliver_policy=DeliverPolicy.ALL,
                    inactive_threshold=60.0,
                    filter_subjects=list(spec.subjects) if len(spec.subjects) > 1 else None,
                ),
            )
            try:
                seq = 0
                while seq < end:
                    try:
                        msgs = await sub.fetch(REPLAY_BATCH, timeout=5)
                    except nats.errors.TimeoutError:
                        break  # the rest of the stream was deleted or filtered out
                    batch = []
                    for msg in msgs:
                        seq = msg.metadata.sequence.stream
                        if seq <= end:
                            batch.append(_decode(msg.data))
                    result.streams[spec.name] += len(batch)
                    result.add(await apply_batch(db, batch))
                say(f"{spec.name}: {result.streams[spec.name]} events replayed")
            finally:
                await sub.unsubscribe()
    finally:
        checkpointing.cancel()
        await asyncio.gather(checkpointing, return_exceptions=True)
        await nc.close()
        await db.dispose()
    result.seconds = round(time.perf_counter() - started, 2)
    return result
