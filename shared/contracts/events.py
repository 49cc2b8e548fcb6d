"""Domain events on NATS JetStream.

Every event is a flat pydantic model: the envelope fields of ``Event`` plus its own
ids and codes. Subject: ``polku.{organisation_id}.{type}``, e.g.
``polku.3f0c….journey.started``. The event id is the JetStream de-duplication id
(``Nats-Msg-Id``), so a retried publish is stored once.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from shared.contracts.employer import (
    CoachSupport,
    ContactChannel,
    ContactMode,
    ContactPurpose,
    OpeningSource,
    PlacementEndReason,
    PlacementKind,
    SupportNeed,
    WorkArrangementSupport,
)
from shared.contracts.intake import (
    ClientSource,
    ConsentScope,
    DeclineReason,
    InformationParty,
    QuickHelpTopic,
    ReferrerType,
)
from shared.contracts.journey import Outcome, Phase, RestReason, Status


class Event(BaseModel):
    """The envelope. No personal data: ids, codes and times only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    organisation_id: uuid.UUID
    region_id: str
    traceparent: str | None = None

    # The stream the event's subject belongs to (see shared.events.streams).
    area: ClassVar[str] = "journey"

    def subject(self) -> str:
        return f"polku.{self.organisation_id}.{self.type}"


class JourneyEvent(Event):
    area: ClassVar[str] = "journey"
    client_id: uuid.UUID
    journey_id: str
    coach_id: uuid.UUID
    episode: int = 1
    phase: Phase
    status: Status
    actor_id: uuid.UUID | None = None
    actor_role: str | None = None
    # Position of the matching entry in the journey timeline (the workflow's audit trail).
    timeline_seq: int | None = None


class JourneyStarted(JourneyEvent):
    type: Literal["journey.started"] = "journey.started"


class JourneyMoved(JourneyEvent):
    """An accepted move: advance, step back, rest, resume, close, reopen, reassign."""

    type: Literal["journey.moved"] = "journey.moved"
    action: str
    from_phase: Phase
    from_status: Status
    from_coach_id: uuid.UUID | None = None
    rest_reason: RestReason | None = None
    outcome: Outcome | None = None
    reason_ref: str | None = None
    review_date: date | None = None


class MilestoneRecorded(JourneyEvent):
    type: Literal["journey.milestone_recorded"] = "journey.milestone_recorded"
    kind: str
    milestone_occurred_at: datetime
    # The milestone's code: disclosure criterion (a-d) or contact place.
    code: str | None = None
    contact_mode: str | None = None
    reason_ref: str | None = None


class ReminderDue(JourneyEvent):
    type: Literal["journey.reminder_due"] = "journey.reminder_due"
    reminder: str
    due_at: datetime


class ClientRegistered(Event):
    area: ClassVar[str] = "intake"
    type: Literal["client.registered"] = "client.registered"
    client_id: uuid.UUID
    coach_id: uuid.UUID
    referral_id: uuid.UUID | None = None
    source: ClientSource = ClientSource.SELF_REFERRAL
    # The coach's caseload was full and someone assigned the client anyway, with a reason.
    over_capacity_override: bool = False


class ReferralReceived(Event):
    """A referral (lähete) was recorded; it waits to be accepted or declined."""

    area: ClassVar[str] = "intake"
    type: Literal["referral.received"] = "referral.received"
    referral_id: uuid.UUID
    referrer_type: ReferrerType
    wants_open_employment: bool


class ReferralAccepted(Event):
    """The referral started (or joined, for a known client) a client's journey."""

    area: ClassVar[str] = "intake"
    type: Literal["referral.accepted"] = "referral.accepted"
    referral_id: uuid.UUID
    client_id: uuid.UUID
    coach_id: uuid.UUID


class ReferralDeclined(Event):
    """The referral was declined; ``reason`` is a code, counted to reveal exclusion."""

    area: ClassVar[str] = "intake"
    type: Literal["referral.declined"] = "referral.declined"
    referral_id: uuid.UUID
    reason: DeclineReason


class ConsentChanged(Event):
    """A client gave or withdrew a consent: processing, or information exchange with a party."""

    area: ClassVar[str] = "intake"
    type: Literal["consent.changed"] = "consent.changed"
    client_id: uuid.UUID
    scope: ConsentScope
    party: InformationParty | None = None
    given: bool


class QuickHelpRecorded(Event):
    """A one-off quick-help contact (pika-apu) with someone not enrolled as a client."""

    area: ClassVar[str] = "intake"
    type: Literal["quick_help.recorded"] = "quick_help.recorded"
    quick_help_id: uuid.UUID
    coach_id: uuid.UUID
    topic: QuickHelpTopic
    duration_minutes: int
    occurred_on: date
    anonymous: bool


class EmployerRegistered(Event):
    """An employer was added to the organisation's employer register."""

    area: ClassVar[str] = "employer"
    type: Literal["employer.registered"] = "employer.registered"
    employer_id: uuid.UUID
    # TOL 2008 industry code (a section letter or 2-5 digits).
    industry: str | None = None
    preferred_channel: ContactChannel
    support_needs: list[SupportNeed] = Field(default_factory=list)


class EmployerContactRecorded(Event):
    """A job-development contact with an employer; ``client_id`` when made on behalf of a client."""

    area: ClassVar[str] = "employer"
    type: Literal["employer_contact.recorded"] = "employer_contact.recorded"
    contact_id: uuid.UUID
    employer_id: uuid.UUID
    staff_id: uuid.UUID
    occurred_on: date
    mode: ContactMode
    client_present: bool
    client_id: uuid.UUID | None = None
    purposes: list[ContactPurpose]
    # The employer relationship level (1-5) the contact reached.
    level: int = Field(ge=1, le=5)


class OpeningCreated(Event):
    """A job opening, from an employer or found by the team; ``carved`` for tailored tasks."""

    area: ClassVar[str] = "employer"
    type: Literal["opening.created"] = "opening.created"
    opening_id: uuid.UUID
    employer_id: uuid.UUID
    source: OpeningSource
    industry: str | None = None
    carved: bool = False
    for_client_id: uuid.UUID | None = None


class PlacementStarted(Event):
    """A client started a job, work trial, subsidised job or apprenticeship with an employer."""

    area: ClassVar[str] = "employer"
    type: Literal["placement.started"] = "placement.started"
    placement_id: uuid.UUID
    client_id: uuid.UUID
    employer_id: uuid.UUID
    opening_id: uuid.UUID | None = None
    kind: PlacementKind
    industry: str | None = None
    starts_on: date
    planned_end_on: date | None = None
    hours_per_week: float
    permanent: bool
    competitive: bool
    coach_supports: list[CoachSupport] = Field(default_factory=list)
    work_arrangement_support: WorkArrangementSupport = WorkArrangementSupport.NONE


class PlacementEnded(Event):
    """A placement ended; ``reason`` is a code."""

    area: ClassVar[str] = "employer"
    type: Literal["placement.ended"] = "placement.ended"
    placement_id: uuid.UUID
    client_id: uuid.UUID
    employer_id: uuid.UUID
    kind: PlacementKind
    started_on: date
    ended_on: date
    reason: PlacementEndReason
    permanent: bool
    competitive: bool


class AssessmentRecorded(Event):
    """A client's self-assessment at the start or the end of coaching, one instrument per
    event: work ability (työkykyarvio, 0-10) or sense of self-efficacy (pystyvyyden tunne,
    the General Self-Efficacy Scale: 10 items 1-4, sum 10-40). Scores only, no free text."""

    area: ClassVar[str] = "coaching"
    type: Literal["assessment.recorded"] = "assessment.recorded"
    client_id: uuid.UUID
    coach_id: uuid.UUID
    instrument: Literal["work_ability", "self_efficacy"]
    timing: Literal["start", "end"]
    score: float
    scale_min: float
    scale_max: float
    assessed_on: date

    @model_validator(mode="after")
    def _within_scale(self) -> AssessmentRecorded:
        if not self.scale_min < self.scale_max or not self.scale_min <= self.score <= self.scale_max:
            raise ValueError("score must lie on its scale")
        return self


class FeedbackRecorded(Event):
    """One answered client feedback survey: answers 1-5 by question code. Anonymous
    answers carry no client id; the free-text comment stays in the coaching service."""

    area: ClassVar[str] = "coaching"
    type: Literal["feedback.recorded"] = "feedback.recorded"
    response_id: uuid.UUID
    survey: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")] = "client_feedback"
    client_id: uuid.UUID | None = None
    answered_on: date
    answers: dict[
        Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")],
        Annotated[int, Field(ge=1, le=5)],
    ]


AnyJourneyEvent = Annotated[
    JourneyStarted | JourneyMoved | MilestoneRecorded | ReminderDue,
    Field(discriminator="type"),
]

AnyIntakeEvent = Annotated[
    ClientRegistered | ReferralReceived | ReferralAccepted | ReferralDeclined | ConsentChanged | QuickHelpRecorded,
    Field(discriminator="type"),
]

AnyEvent = Annotated[
    JourneyStarted
    | JourneyMoved
    | MilestoneRecorded
    | ReminderDue
    | ClientRegistered
    | ReferralReceived
    | ReferralAccepted
    | ReferralDeclined
    | ConsentChanged
    | QuickHelpRecorded
    | EmployerRegistered
    | EmployerContactRecorded
    | OpeningCreated
    | PlacementStarted
    | PlacementEnded
    | AssessmentRecorded
    | FeedbackRecorded,
    Field(discriminator="type"),
]
ANY_EVENT: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> AnyEvent:
    return ANY_EVENT.validate_json(raw)


_EVENT_TYPE = re.compile(r"^[a-z_]{1,40}\.[a-z_]{1,60}$")


def known_event(body: Any) -> AnyEvent | None:
    """The event in a consumed message's body (decoded JSON, or raw bytes), or None when
    it is not an event this version knows: a type added by a newer producer, or a
    malformed message. A consumer acknowledges and skips those: redelivering them could
    never succeed, and would repeat forever. Only the type code is logged, never the
    body."""
    try:
        if isinstance(body, bytes | str):
            body = json.loads(body)
        return ANY_EVENT.validate_python(body)
    except (ValidationError, ValueError):
        kind = body.get("type") if isinstance(body, dict) else None
        shown = kind if isinstance(kind, str) and _EVENT_TYPE.match(kind) else "unreadable"
        logging.getLogger(__name__).warning("event skipped: not an event this version knows (type %s)", shown)
        return None
