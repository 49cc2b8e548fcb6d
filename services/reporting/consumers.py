"""The event consumers that keep the reporting projections current.

One durable pull consumer per stream (``reporting-{area}``, every subject of the stream),
explicit ack. Each fetch takes what is waiting, up to ``BATCH_SIZE`` events, at once (no
waiting for a batch to fill, so the dashboards follow within a moment), and the next
batch is fetched, decoded and validated (``projection.PreparedBatch``) while one is
applied; the batch is applied in one transaction (``projection.apply_prepared``) and
acknowledged after it commits.
If it fails, the whole batch is NACKed and redelivered; nothing of it was written and
every event id is recorded with its effect, so nothing counts twice. Event types without
a projection are acknowledged and skipped.

The loop uses nats-py directly rather than a FastStream subscriber: FastStream's batched
pull keeps fetching until the batch is full or a deadline passes, and a fetch that times
out on that deadline loses the messages already fetched until JetStream redelivers them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from typing import Any

from services.reporting.projection import (
    PreparedBatch,
    apply_prepared,
    checkpoints,
    prepare_batch,
    projection_database,
)
from shared.db import Database
from shared.events.streams import STREAMS, StreamSpec
from shared.service import ServiceContext
from shared.settings import Settings

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# How long an idle fetch waits for the next event before asking again.
FETCH_WAIT_S = 5.0
# A batch not acknowledged within this long is redelivered (the projection crashed or hung).
ACK_WAIT_S = 60.0
RETRY_S = 1.0
# Events decoded and validated at a time before the event loop runs other tasks.
PREPARE_SLICE = 50


def durable_name(spec: StreamSpec) -> str:
    return f"reporting-{spec.area}"


def consumer_config(spec: StreamSpec, durable: str | None) -> Any:
    """Every subject of the stream: one filter subject would have to be one of the
    stream's subjects; several go in ``filter_subjects``."""
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    return ConsumerConfig(
        durable_name=durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ACK_WAIT_S,
        max_ack_pending=BATCH_SIZE * 4,
        filter_subjects=list(spec.subjects) if len(spec.subjects) > 1 else None,
    )


def decode(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


class StreamConsumer:
    """Applies one stream's events to the projections for as long as it runs."""

    def __init__(self, settings: Settings, db: Database, spec: StreamSpec) -> None:
        self.settings, self.db, self.spec = settings, db, spec
        self.applied = 0

    async def run(self) -> None:
        import nats

        nc = await nats.connect(
            self.settings.nats_url,
            name=f"polku-reporting-{self.spec.area}",
            connect_timeout=5,
            max_reconnect_attempts=-1,
        )
        applying: asyncio.Task[None] | None = None
        try:
            sub = await self._subscribe(nc.jetstream())
            # A pipeline, one batch in each stage: while the database applies a batch (and
            # it is then acknowledged), the next one is fetched, decoded and validated.
            # Batches are applied one after another, in the order fetched; one that fails
            # is redelivered later, after the ones fetched meanwhile: the projection does
            # not depend on that order.
            while True:
                msgs = await self._fetch(sub)
                prepared = await self._prepare(msgs) if msgs else None
                if applying is not None:
                    await applying
                    applying = None
                if msgs:
                    applying = asyncio.create_task(self.handle(msgs, prepared))
        finally:
            if applying is not None:  # stopping: do not leave the batch behind
                applying.cancel()
                await asyncio.gather(applying, return_exceptions=True)
            await nc.close()

    async def _prepare(self, msgs: list[Any]) -> PreparedBatch | None:
        """Decode and validate the batch in slices, letting the event loop run between
        them: the batch in its transaction (holding the database's write lock) goes on
        between slices rather than waiting for the whole batch."""
        try:
            prepared = PreparedBatch()
            for i, m in enumerate(msgs, 1):
                prepared.add(decode(m.data))
                if i % PREPARE_SLICE == 0:
                    await asyncio.sleep(0)
            return prepared
        except Exception:  # handle() prepares it again and NAKs the batch if it fails again
            log.exception("reporting %s: preparing a batch of %d events failed", self.spec.area, len(msgs))
            return None

    async def _fetch(self, sub: Any) -> list[Any]:
        try:
            msgs: list[Any] = await sub.fetch(BATCH_SIZE, timeout=FETCH_WAIT_S)
            return msgs
        except TimeoutError:  # nats' own TimeoutError is one too
            return []
        except Exception as exc:  # noqa: BLE001 - reconnecting; the loop goes on
            log.warning("reporting %s: fetch failed (%s)", self.spec.area, type(exc).__name__)
            await asyncio.sleep(RETRY_S)
            return []

    async def _subscribe(self, js: Any) -> Any:
        durable = durable_name(self.spec)
        while True:
            try:
                return await js.pull_subscribe(
                    self.spec.subjects[0],
                    durable=durable,
                    stream=self.spec.name,
                    config=consumer_config(self.spec, durable),
                )
            except Exception as exc:  # noqa: BLE001 - the stream may not exist yet: retry
                log.warning("reporting %s: cannot subscribe yet (%s)", self.spec.area, type(exc).__name__)
                await asyncio.sleep(RETRY_S)

    async def handle(self, msgs: list[Any], prepared: PreparedBatch | None = None) -> None:
        """Apply the batch (``prepared`` from ``msgs`` unless given), then acknowledge it."""
        try:
            if prepared is None:
                prepared = prepare_batch([decode(m.data) for m in msgs])
            result = await apply_prepared(self.db, prepared)
        except Exception:
            log.exception("reporting %s: a batch of %d events failed; redelivered", self.spec.area, len(msgs))
            for m in msgs:
                await m.nak(delay=RETRY_S)
            return
        for m in msgs:
            await m.ack()
        self.applied += result.applied
        if result.invalid:
            log.warning("reporting %s: %d invalid events skipped", self.spec.area, result.invalid)


def projection_tasks(settings: Settings, db: Database) -> dict[str, Coroutine[Any, Any, None]]:
    """What keeps the projections current: a consumer per stream, and on SQLite the
    background checkpoints of the projection's database."""
    tasks: dict[str, Coroutine[Any, Any, None]] = {
        f"consumer-{spec.area}": StreamConsumer(settings, db, spec).run() for spec in STREAMS
    }
    tasks["projection-checkpoints"] = checkpoints(db)
    return tasks


async def start(ctx: ServiceContext) -> None:
    """Start the projection's tasks for the service's lifetime (``build_service_app`` hook)."""
    db = projection_database(ctx.settings)
    for name, task in projection_tasks(ctx.settings, db).items():
        ctx.spawn(task, name)
    ctx.spawn(_dispose_when_stopped(db), "projection-db")


async def _dispose_when_stopped(db: Database) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await db.dispose()
