"""Transactional outbox: an event is stored in the same transaction as the change it
describes, then published; a relay republishes whatever a crash left unpublished.
JetStream de-duplicates by event id, so publishing twice is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.contracts.events import Event
from shared.db import Database, UTCDateTime, UUIDStr, utcnow
from shared.events.publisher import EventPublisher

log = logging.getLogger(__name__)


class OutboxRow(Protocol):
    id: uuid.UUID
    payload: str
    published_at: datetime | None


def outbox_model(base: type[DeclarativeBase]) -> Any:
    """The outbox table of one service database."""

    class OutboxEvent(base):  # type: ignore[valid-type,misc]
        __tablename__ = "outbox"

        id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
        type: Mapped[str] = mapped_column(String(100))
        payload: Mapped[str] = mapped_column(Text)
        created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
        published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)

    return OutboxEvent


class Outbox:
    def __init__(self, db: Database, model: Any, publisher: EventPublisher) -> None:
        self._db, self._model, self._publisher = db, model, publisher
        self._wake = asyncio.Event()

    def add(self, session: AsyncSession, event: Event) -> None:
        """Store the event in the caller's transaction."""
        session.add(self._model(id=event.id, type=event.type, payload=event.model_dump_json()))
        self._wake.set()

    async def flush(self, limit: int = 500) -> int:
        """Publish what is waiting; returns how many were published."""
        from shared.contracts.events import parse_event

        async with self._db.session(cross_tenant=True) as s:
            rows = (
                (
                    await s.execute(
                        select(self._model)
                        .where(self._model.published_at.is_(None))
                        .order_by(self._model.created_at)
                        .limit(limit)
                    )
                )
                .scalars()
                .all()
            )
        done = 0
        for row in rows:
            await self._publisher.publish(parse_event(row.payload))
            async with self._db.session(cross_tenant=True) as s, s.begin():
                fresh = await s.get(self._model, row.id)
                if fresh is not None:
                    fresh.published_at = utcnow()
            done += 1
        return done

    async def relay(self, interval: float = 2.0) -> None:
        """Run until cancelled: publish soon after each add, and retry every ``interval``."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried on the next round
                log.warning("outbox publish failed, will retry: %s", type(exc).__name__)
