"""The ClientJourney workflow's wire and state models.

Everything here crosses a boundary (Temporal payloads, queries, continue-as-new), so
it is pydantic v2 and holds ids, codes and times only: never names, notes or other
personal data. Free text stays in the services; the workflow keeps a reference id.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from shared.contracts.events import AnyJourneyEvent
from shared.contracts.journey import Outcome, Phase, RestReason, Role, Status

if TYPE_CHECKING:
    from shared.settings import Settings

MoveAction = Literal["advance", "step_back", "rest", "resume", "close", "reopen", "reassign"]
MilestoneKind = Literal[
    "first_employer_contact",
    "job_started",
    "job_ended",
    "benefits_counselling_given",
    "disclosure_discussed",
    "contact_made",
]
Criterion = Literal["a", "b", "c", "d"]
Place = Literal["office", "community", "workplace", "home", "remote"]
ContactMode = Literal["meeting", "outreach"]
ReminderKind = Literal[
    "employer_contact_due",
    "disclosure_revisit",
    "follow_along_contact",
    "rest_review",
    "silence_outreach",
]
TimelineKind = Literal["started", "move", "milestone", "reminder"]

# A reference to a note kept elsewhere (e.g. a services/coaching record id). The pattern
# has no spaces, so a sentence of free text cannot slip into the workflow's history.
ReasonRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")]

# Name the worker registers the publishing activity under (see workflows.activities).
PUBLISH_EVENTS_ACTIVITY = "publish_journey_events"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Actor(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: UUID
    role: Role


class JourneyTimers(_Model):
    """Reminder durations in seconds. Production takes them from Settings; tests shorten them."""

    employer_contact_due_s: int = Field(default=30 * 86400, gt=0)
    disclosure_revisit_s: int = Field(default=61 * 86400, gt=0)
    follow_along_first_s: int = Field(default=3 * 86400, gt=0)
    follow_along_weekly_s: int = Field(default=7 * 86400, gt=0)
    follow_along_first_month_s: int = Field(default=30 * 86400, gt=0)
    follow_along_monthly_s: int = Field(default=30 * 86400, gt=0)
    silence_outreach_s: int = Field(default=30 * 86400, gt=0)
    # The rest-review reminder is due this many seconds after 00:00 UTC of the review
    # date (06:00 UTC is 08:00/09:00 in Finland). May be negative or past a day in tests.
    rest_review_at_s: int = 6 * 3600
    # Publishing events: a few quick attempts (0.2 s, 0.4 s, 0.8 s apart), so a NATS outage
    # stalls a move by about a second; the next round follows publish_backoff_s later.
    # The events wait in the workflow meanwhile.
    publish_attempts: int = Field(default=4, gt=0)
    publish_backoff_s: int = Field(default=30, gt=0)

    @classmethod
    def from_settings(cls, settings: Settings) -> JourneyTimers:
        return cls(
            employer_contact_due_s=settings.employer_contact_due_s,
            disclosure_revisit_s=settings.disclosure_revisit_s,
            follow_along_first_s=settings.follow_along_first_s,
            follow_along_weekly_s=settings.follow_along_weekly_s,
            follow_along_first_month_s=settings.follow_along_first_month_s,
            follow_along_monthly_s=settings.follow_along_monthly_s,
            silence_outreach_s=settings.silence_outreach_s,
        )


class MoveRequest(_Model):
    """A coach's (or team lead's) move of a journey. Fields not used by the action must be unset."""

    action: MoveAction
    to_phase: Phase | None = None
    reason: RestReason | None = None
    review_date: date | None = None
    outcome: Outcome | None = None
    coach_id: UUID | None = None
    reason_ref: ReasonRef | None = None
    actor: Actor


class MilestoneRequest(_Model):
    """A milestone reported by a service. ``confirm_move`` lets the coach move the journey
    with it (job_started in JOB_SEARCH -> EMPLOYER_AGREEMENT; job_ended in EMPLOYER_AGREEMENT
    or FOLLOW_ALONG -> JOB_SEARCH); without it the phase never changes."""

    kind: MilestoneKind
    occurred_at: AwareDatetime
    criterion: Criterion | None = None
    place: Place | None = None
    contact_mode: ContactMode | None = None
    confirm_move: bool = False
    reason_ref: ReasonRef | None = None
    actor: Actor


class Reminder(_Model):
    kind: ReminderKind
    due_at: datetime
    # True once the due time has passed and journey.reminder_due was raised for it.
    overdue: bool


class Milestones(_Model):
    """What the current episode has reached (the timeline holds every single record)."""

    first_employer_contact_at: datetime | None = None
    # The job the client has now; None when there is none.
    job_started_at: datetime | None = None
    job_ended_at: datetime | None = None
    jobs_started: int = 0
    benefits_counselling_at: datetime | None = None
    disclosure_criteria: list[Criterion] = Field(default_factory=list)
    disclosure_discussed_at: datetime | None = None
    last_contact_at: datetime | None = None
    contacts: int = 0
    contacts_outside_office: int = 0
    outreach_contacts: int = 0


class TimelineEntry(_Model):
    """One accepted change. The timeline is append-only: the auditor's who/what/when/why."""

    seq: int
    at: datetime
    kind: TimelineKind
    episode: int
    actor: Actor | None = None
    action: MoveAction | None = None
    milestone: MilestoneKind | None = None
    reminder: ReminderKind | None = None
    from_phase: Phase | None = None
    to_phase: Phase | None = None
    from_status: Status | None = None
    to_status: Status | None = None
    from_coach_id: UUID | None = None
    to_coach_id: UUID | None = None
    rest_reason: RestReason | None = None
    review_date: date | None = None
    outcome: Outcome | None = None
    criterion: Criterion | None = None
    place: Place | None = None
    contact_mode: ContactMode | None = None
    occurred_at: datetime | None = None
    due_at: datetime | None = None
    reason_ref: ReasonRef | None = None
    # The id of the event published for this entry (the JetStream de-duplication id).
    event_id: UUID | None = None


class JourneyData(_Model):
    """The whole journey state, carried across continue-as-new. Mutated by workflows.domain."""

    organisation_id: UUID
    region_id: str
    client_id: UUID
    coach_id: UUID
    phase: Phase
    status: Status
    # When the phase or status last changed.
    since: datetime
    episode: int = 1
    episode_started_at: datetime
    # When the status last became ACTIVE (start, resume, reopen): the silence baseline.
    active_since: datetime
    # When the current search for work began (profiling, or a job ended): the
    # disclosure-revisit baseline. None before profiling.
    search_started_at: datetime | None = None
    rested_phase: Phase | None = None
    rest_reason: RestReason | None = None
    review_date: date | None = None
    outcome: Outcome | None = None
    milestones: Milestones = Field(default_factory=Milestones)
    # Planned reminders (kind -> due time), recomputed after every change.
    reminders: dict[ReminderKind, datetime] = Field(default_factory=dict)
    # Reminders already raised (kind -> the due time raised), so each fires once.
    fired: dict[ReminderKind, datetime] = Field(default_factory=dict)
    timeline: list[TimelineEntry] = Field(default_factory=list)


class CarriedState(_Model):
    """What one run hands to the next on continue-as-new."""

    journey: JourneyData
    # Events not yet confirmed published; the next run publishes them (same ids).
    pending_events: list[AnyJourneyEvent] = Field(default_factory=list)


class JourneyInput(_Model):
    organisation_id: UUID
    region_id: str
    client_id: UUID
    coach_id: UUID
    actor: Actor
    timers: JourneyTimers = Field(default_factory=lambda: JourneyTimers())
    # Continue-as-new once the run's history has this many events.
    history_limit: int = Field(default=10_000, gt=0)
    carried_state: CarriedState | None = None


class JourneyState(_Model):
    """The journey as the UI and the services see it (query and update result)."""

    organisation_id: UUID
    region_id: str
    client_id: UUID
    coach_id: UUID
    phase: Phase
    status: Status
    since: datetime
    episode: int
    episode_started_at: datetime
    rested_phase: Phase | None = None
    rest_reason: RestReason | None = None
    review_date: date | None = None
    outcome: Outcome | None = None
    milestones: Milestones
    reminders: list[Reminder]
    timeline_length: int
    # Events accepted but not yet confirmed published (0 in steady state).
    pending_events: int = 0


class EventBatch(_Model):
    """The publishing activity's input: events in timeline order."""

    events: list[AnyJourneyEvent]
