"""Coaching service tables and API models."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy.orm import DeclarativeBase

from shared.contracts.journey import Outcome, Phase, RestReason
from shared.outbox import outbox_model
from workflows.contracts import ContactMode, Criterion, MilestoneKind, MoveAction, Place, ReasonRef


class CoachingBase(DeclarativeBase):
    pass


OutboxEvent = outbox_model(CoachingBase)


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
