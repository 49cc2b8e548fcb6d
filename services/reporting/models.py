"""Reporting projections, built only from events."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, UUIDStr, utcnow
from shared.tenancy import TenantScoped


class ReportingBase(DeclarativeBase):
    pass


class ProcessedEvent(ReportingBase):
    """Event ids already applied: a redelivered or duplicated event is skipped."""

    __tablename__ = "processed_events"

    event_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    organisation_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JourneyProjection(TenantScoped, ReportingBase):
    """Where each client's journey stands, as the events tell it."""

    __tablename__ = "journeys"

    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    coach_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    phase: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    episode: Mapped[int] = mapped_column(default=1)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --- API models ---------------------------------------------------------------------------


class CaseloadClient(BaseModel):
    client_id: uuid.UUID
    phase: str
    status: str
    since: datetime


class CoachCaseload(BaseModel):
    coach_id: uuid.UUID
    username: str | None
    fte: float
    capacity: int
    active_clients: int
    clients: list[CaseloadClient]


class CaseloadReport(BaseModel):
    organisation_id: uuid.UUID
    data_as_of: datetime | None
    caseload_per_fte: int = 20
    coaches: list[CoachCaseload]
