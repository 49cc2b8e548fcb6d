"""Coaching service tables and API models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import JSON, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.contracts.journey import Outcome, Phase, RestReason
from shared.db import UTCDateTime, UUIDStr
from shared.outbox import outbox_model
from shared.tenancy import TenantScoped
from workflows.contracts import ContactMode, Criterion, MilestoneKind, MoveAction, Place, ReasonRef


class CoachingBase(DeclarativeBase):
    pass


OutboxEvent = outbox_model(CoachingBase)


class JourneySnapshot(TenantScoped, CoachingBase):
    """The dashboard's read model: each journey's state as the workflow last answered it
    (``services.coaching.journey_snapshots`` writes and reads it).

    ``state`` is the workflow's ``JourneyState`` as JSON: ids, codes and times, no names
    or free text. ``version`` is its ``timeline_length``, which grows with every change
    (moves, milestones and raised reminders all append to the timeline), so an older
    state never overwrites a newer one. The retention sweep deletes the row with the
    client's coaching data: ``state`` is marked as the client's data and cannot be null.
    """

    __tablename__ = "journey_snapshots"

    client_id: Mapped[UUID] = mapped_column(UUIDStr, primary_key=True)
    coach_id: Mapped[UUID] = mapped_column(UUIDStr, index=True)
    phase: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, info={"personal": True})
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The bodies of journey moves and milestones: the workflow's requests without the actor,
# which is always the authenticated caller.


class MoveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: MoveAction
    to_phase: Phase | None = None
    reason: RestReason | None = None
    review_date: date | None = None
    outcome: Outcome | None = None
    coach_id: UUID | None = None
    reason_ref: ReasonRef | None = None


class MilestoneBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: MilestoneKind
    occurred_at: AwareDatetime
    criterion: Criterion | None = None
    place: Place | None = None
    contact_mode: ContactMode | None = None
    confirm_move: bool = False
    reason_ref: ReasonRef | None = None
