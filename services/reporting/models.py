"""Reporting tables: projections built only from events, and the fidelity reviews.

Projections (everything in ``PROJECTION_TABLES``) can be dropped and rebuilt from the
streams at any time (``services.reporting.rebuild``). Fidelity reviews are the one thing
reporting owns itself: a reviewer's scores and notes, kept across rebuilds.

Days (``*_day``) are Finnish calendar days and months (``*_month``) ``yyyymm`` integers
of those days, stored beside the timestamps so reports filter and group in SQL.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Boolean, Date, Float, Index, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, UUIDStr, utcnow
from shared.tenancy import TenantScoped


class ReportingBase(DeclarativeBase):
    pass


class Projected(TenantScoped):
    """A projection table with a composite index that starts with ``organisation_id``
    (every report filters on it first): no index on the organisation alone, which the
    composite one covers and each event applied would pay for."""

    organisation_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)


class ProcessedEvent(ReportingBase):
    """Ids of the events applied, so a redelivered or duplicated one is skipped. Journey
    events are recorded as ``JourneyFact`` rows (keyed by event id) instead."""

    __tablename__ = "processed_events"

    event_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    organisation_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Watermark(ReportingBase):
    """Per organisation: the newest event applied ("data as of") and how many were."""

    __tablename__ = "watermarks"

    organisation_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    events: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --------------------------------------------------------------------------- journeys


class JourneyFact(Projected, ReportingBase):
    """One journey event as it came: every move, milestone and reminder. The derived
    journey tables below are a fold over these, so a client's can be refolded when an
    event arrives out of order."""

    __tablename__ = "journey_facts"
    __table_args__ = (
        # Keyed by client, then event id: the key's index finds a client's facts (the refold,
        # outreach answered) and tells whether an event was applied (the event names its
        # client), so a fact stored updates two indexes, not three (event id, client, report).
        PrimaryKeyConstraint("client_id", "event_id"),
        # Moves, milestones of one kind, reminders in a period; covers counting contacts by place.
        Index("ix_journey_facts_org_kind_day", "organisation_id", "kind", "milestone", "day", "code"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    episode: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # started, move, milestone, reminder
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The day it counts for: the milestone's own day for milestones, else the event's.
    day: Mapped[date] = mapped_column(Date)
    month: Mapped[int] = mapped_column(Integer)
    coach_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    phase: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    action: Mapped[str | None] = mapped_column(String(20), nullable=True)
    from_phase: Mapped[str | None] = mapped_column(String(40), nullable=True)
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    rest_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(40), nullable=True)
    milestone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    milestone_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    code: Mapped[str | None] = mapped_column(String(20), nullable=True)
    contact_mode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reminder: Mapped[str | None] = mapped_column(String(40), nullable=True)


class JourneyProjection(TenantScoped, ReportingBase):
    """Where each client's journey stands, as the events tell it."""

    __tablename__ = "journeys"

    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    coach_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)  # grouped by within an organisation only: no index
    phase: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    episode: Mapped[int] = mapped_column(default=1)
    # When the phase or status last changed: the start of the open spell.
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rest_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Episode(Projected, ReportingBase):
    """One episode of a client's journey: from start (or reopening) to closing."""

    __tablename__ = "episodes"
    __table_args__ = (
        Index("ix_episodes_org_closed_day", "organisation_id", "closed_day"),
        Index("ix_episodes_org_contact_day", "organisation_id", "first_contact_day"),
        # None on started_day: no report filters on it.
    )

    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    episode: Mapped[int] = mapped_column(Integer, primary_key=True)
    coach_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_day: Mapped[date] = mapped_column(Date)
    # First time the episode reached rapid job search (or a later phase).
    reached_search_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    first_contact_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    first_job_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    jobs_started: Mapped[int] = mapped_column(Integer, default=0)
    current_job_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    benefits_counselling_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    disclosure: Mapped[str] = mapped_column(String(8), default="")  # criteria met, e.g. "abd"
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    closed_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(40), nullable=True)


class Spell(Projected, ReportingBase):
    """A finished stretch in one phase and status (ACTIVE or RESTING)."""

    __tablename__ = "spells"
    __table_args__ = (Index("ix_spells_org_ended_day", "organisation_id", "ended_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    episode: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    rest_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_day: Mapped[date] = mapped_column(Date)
    days: Mapped[float] = mapped_column(Float)


class Job(Projected, ReportingBase):
    """A job that ended (job_ended, or the journey stepped back from the job phases);
    running jobs are ``Episode.current_job_at``."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_org_ended_day", "organisation_id", "ended_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    episode: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_day: Mapped[date] = mapped_column(Date)
    tenure_days: Mapped[float] = mapped_column(Float)


# --------------------------------------------------------------------------- intake


class Referral(Projected, ReportingBase):
    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_org_received_day", "organisation_id", "received_day"),)

    referral_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    received_day: Mapped[date] = mapped_column(Date)
    referrer_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(20))  # received, accepted, declined
    decline_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # Declined for a reason that excludes someone who wanted work (zero exclusion).
    excluding: Mapped[bool] = mapped_column(Boolean, default=False)


class QuickHelp(Projected, ReportingBase):
    __tablename__ = "quick_help"
    __table_args__ = (Index("ix_quick_help_org_day", "organisation_id", "day"),)

    quick_help_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    coach_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    topic: Mapped[str] = mapped_column(String(40))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    month: Mapped[int] = mapped_column(Integer)
    anonymous: Mapped[bool] = mapped_column(Boolean)


# --------------------------------------------------------------------------- employer


class EmployerContact(Projected, ReportingBase):
    __tablename__ = "employer_contacts"
    __table_args__ = (Index("ix_employer_contacts_org_day", "organisation_id", "day"),)

    contact_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    employer_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    staff_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    client_id: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)
    day: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(20))
    level: Mapped[int] = mapped_column(Integer)


class Placement(Projected, ReportingBase):
    __tablename__ = "placements"
    __table_args__ = (Index("ix_placements_org_starts_on", "organisation_id", "starts_on"),)

    placement_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    employer_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    kind: Mapped[str] = mapped_column(String(20))
    industry: Mapped[str | None] = mapped_column(String(10), nullable=True)
    starts_on: Mapped[date] = mapped_column(Date)
    hours_per_week: Mapped[float | None] = mapped_column(Float, nullable=True)
    permanent: Mapped[bool] = mapped_column(Boolean)
    competitive: Mapped[bool] = mapped_column(Boolean)
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


# --------------------------------------------------------------------------- coaching


class Assessment(Projected, ReportingBase):
    """A start or end self-assessment (work ability, self-efficacy) of a client."""

    __tablename__ = "assessments"
    __table_args__ = (Index("ix_assessments_org_day", "organisation_id", "day"),)

    event_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    instrument: Mapped[str] = mapped_column(String(40))
    timing: Mapped[str] = mapped_column(String(10))  # start, end
    score: Mapped[float] = mapped_column(Float)
    scale_min: Mapped[float] = mapped_column(Float)
    scale_max: Mapped[float] = mapped_column(Float)
    day: Mapped[date] = mapped_column(Date)


class FeedbackAnswer(Projected, ReportingBase):
    """One answer of a client feedback survey (1-5)."""

    __tablename__ = "feedback_answers"
    __table_args__ = (Index("ix_feedback_answers_org_day", "organisation_id", "day"),)

    event_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    question: Mapped[str] = mapped_column(String(60), primary_key=True)
    survey: Mapped[str] = mapped_column(String(60))
    answer: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)


# The tables ``rebuild`` empties and refills from the streams.
PROJECTION_TABLES: tuple[type[ReportingBase], ...] = (
    ProcessedEvent,
    Watermark,
    JourneyFact,
    JourneyProjection,
    Episode,
    Spell,
    Job,
    Referral,
    QuickHelp,
    EmployerContact,
    Placement,
    Assessment,
    FeedbackAnswer,
)


# --------------------------------------------------------------------------- fidelity reviews


class FidelityReview(TenantScoped, ReportingBase):
    """A reviewer's scoring of the fidelity scale for one period (kept across rebuilds)."""

    __tablename__ = "fidelity_reviews"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True, default=uuid.uuid4)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    reviewer_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    total: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(20))
    # About the service, never about a client.
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class FidelityReviewItem(TenantScoped, ReportingBase):
    __tablename__ = "fidelity_review_items"

    review_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    item: Mapped[str] = mapped_column(String(40), primary_key=True)
    score: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10))  # auto, review
    value: Mapped[float | None] = mapped_column(Float, nullable=True)  # what was measured
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


# =========================================================================== API models


class PeriodOut(BaseModel):
    start: date
    end: date
    granularity: str
    buckets: list[str]


class Report(BaseModel):
    """What every report carries: whose data, for when, and how fresh."""

    organisation_id: uuid.UUID | None = None
    region_id: str | None = None
    data_as_of: datetime | None
    period: PeriodOut | None = None


class Stat(BaseModel):
    """A distribution in days, hours, ...: how many values, median, 90th percentile, mean."""

    n: int
    median: float | None
    p90: float | None
    mean: float | None


# --------------------------------------------------------------------------- caseload


class CaseloadClient(BaseModel):
    client_id: uuid.UUID
    phase: str
    status: str
    since: datetime
    rest_reason: str | None = None


class CoachCaseload(BaseModel):
    coach_id: uuid.UUID
    username: str | None
    fte: float
    capacity: int
    active_clients: int
    clients: list[CaseloadClient]
    resting_clients: int = 0
    # Active clients per full-time equivalent (the fidelity criterion's measure).
    per_fte: float | None = None


class CaseloadTotals(BaseModel):
    """The organisation as a whole (a team lead's or admin's view)."""

    coaches: int
    fte: float
    capacity: int
    active_clients: int
    resting_clients: int
    per_fte: float | None
    fidelity_score: int | None


class TeamCaseload(BaseModel):
    """One team's coaches together; ``team_id`` None gathers the coaches in no team."""

    team_id: uuid.UUID | None
    name: str | None
    coaches: int
    fte: float
    capacity: int
    active_clients: int
    resting_clients: int
    per_fte: float | None


class CaseloadReport(BaseModel):
    organisation_id: uuid.UUID
    data_as_of: datetime | None
    caseload_per_fte: int = 20
    coaches: list[CoachCaseload]
    teams: list[TeamCaseload] = []
    totals: CaseloadTotals | None = None


# --------------------------------------------------------------------------- flow


class PhaseNow(BaseModel):
    phase: str
    active: int
    resting: int


class TimeInPhase(BaseModel):
    phase: str
    status: str
    days: Stat


class Transition(BaseModel):
    from_phase: str
    to_phase: str
    action: str
    count: int


class ReasonCount(BaseModel):
    reason: str
    rested_in_period: int
    resting_now: int


class FlowReport(Report):
    phases_now: list[PhaseNow]
    closed_now: int
    time_in_phase: list[TimeInPhase]
    moves_by_bucket: dict[str, dict[str, int]]  # bucket -> action -> count
    moves_total: dict[str, int]
    transitions: list[Transition]
    rest_reasons: list[ReasonCount]


# --------------------------------------------------------------------------- outcomes


class OutcomeCount(BaseModel):
    outcome: str
    count: int
    by_bucket: dict[str, int]


class JobStarts(BaseModel):
    first: int
    later: int
    by_bucket: dict[str, dict[str, int]]  # bucket -> first/later -> count


class OutcomesReport(Report):
    outcomes: list[OutcomeCount]
    closed: int
    closed_by_bucket: dict[str, int]
    employed: int
    employment_rate: float | None  # employed / closed, %
    benchmark_average: float
    benchmark_excellent: float
    served: int  # clients whose journey was open during the period
    worked: int  # of them, clients with a job during the period
    working_rate: float | None
    days_to_first_employer_contact: Stat
    days_to_first_job: Stat
    job_starts: JobStarts
    hours_per_week: Stat
    tenure_days_ended: Stat
    tenure_days_running: Stat


# --------------------------------------------------------------------------- fidelity


class FidelityItemOut(BaseModel):
    key: str
    number: int
    section: str
    label: str
    automatic: bool
    measure: str | None  # what is measured (automatic items)
    value: float | None  # the measured value
    base: int | None  # people or records behind the value
    score: int | None
    source: str | None  # auto, review, or None when not scored
    reviewed_at: datetime | None = None
    note: str | None = None


class ReviewSummary(BaseModel):
    id: uuid.UUID
    period_start: date
    period_end: date
    reviewed_at: datetime
    reviewer_id: uuid.UUID
    total: int
    band: str


class FidelityReport(Report):
    items: list[FidelityItemOut]
    total: int
    scored: int
    complete: bool
    band: str | None
    meets_threshold: bool | None
    threshold: int = 74
    maximum: int = 125
    reviews: list[ReviewSummary]
    referrals_received: int
    referrals_declined_excluding: int


class EvidenceRow(BaseModel):
    client_id: uuid.UUID | None = None
    episode: int | None = None
    ref: uuid.UUID | None = None  # an employer contact or placement
    day: date | None = None
    value: float | None = None
    detail: str | None = None  # codes: disclosure criteria, place, industry, ...
    ok: bool | None = None  # whether the row meets the criterion


class EvidenceReport(Report):
    item: str
    value: float | None
    base: int | None
    score: int | None
    total_rows: int  # rows behind the value; ``rows`` holds a page of them
    offset: int = 0
    rows: list[EvidenceRow]


class ReviewItemIn(BaseModel):
    item: str
    score: int = Field(ge=1, le=5)
    note: str | None = Field(default=None, max_length=2000)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period_start: date
    period_end: date
    items: list[ReviewItemIn]
    note: str | None = Field(default=None, max_length=4000)


class ReviewItemOut(BaseModel):
    item: str
    score: int
    source: str
    value: float | None
    note: str | None


class ReviewOut(ReviewSummary):
    note: str | None
    items: list[ReviewItemOut]


# --------------------------------------------------------------------------- others


class InstrumentChange(BaseModel):
    instrument: str
    clients: int  # with a start and an end assessment
    mean_start: float | None  # on a 0-100 scale (each score placed on its own scale)
    mean_end: float | None
    mean_change: float | None
    improved: int
    unchanged: int
    worsened: int


class FeedbackQuestion(BaseModel):
    survey: str
    question: str
    answers: int
    mean: float | None
    distribution: dict[int, int]


class AssessmentsReport(Report):
    instruments: list[InstrumentChange]
    feedback: list[FeedbackQuestion]


class TopicCount(BaseModel):
    topic: str
    count: int
    minutes: int
    by_bucket: dict[str, int]


class QuickHelpReport(Report):
    topics: list[TopicCount]
    total: int
    anonymous: int
    minutes: int


class EconomicsOut(BaseModel):
    participants: int
    employed: int
    effect_per_employed: float
    pension_per_employed: float
    coaching_cost: float
    effect: float
    net: float
    effect_per_participant: float | None
    pension_contributions: float
    effect_with_pensions: float
    net_with_pensions: float
    effect_with_pensions_per_participant: float | None
    return_per_euro: float | None


class EconomicsReport(Report):
    result: EconomicsOut
    # The organisation's (or region's) own figures for the period, to use as parameters.
    own_participants: int | None
    own_employed: int | None


class RegionOrganisation(BaseModel):
    """One organisation's aggregates; None where fewer than 5 people would show."""

    organisation_id: uuid.UUID | None  # None on the region's total row
    name: str
    served: int | None
    active_now: int | None
    closed: int | None
    outcomes: dict[str, int | None]
    employment_rate: float | None
    job_starts: int | None
    quick_help: int | None
    fidelity_total: int | None
    fidelity_band: str | None
    fidelity_reviewed_at: datetime | None


class RegionReport(Report):
    min_cell: int
    outcome_codes: list[str]
    organisations: list[RegionOrganisation]
    total: RegionOrganisation


class RegionFidelityOrg(BaseModel):
    organisation_id: uuid.UUID
    name: str
    scores: dict[str, int | None]  # item -> score (automatic: this period; others: latest review)
    total: int | None
    band: str | None
    reviewed_at: datetime | None


class RegionFidelityReport(Report):
    min_cell: int
    items: list[FidelityItemOut]  # the scale, without values
    organisations: list[RegionFidelityOrg]


class ConsumerLag(BaseModel):
    stream: str
    durable: str
    pending: int | None  # in the stream, not yet delivered
    ack_pending: int | None  # delivered, not yet acknowledged
    redelivered: int | None
    error: str | None = None


class StatusReport(BaseModel):
    data_as_of: datetime | None
    events_applied: int
    consumers: list[ConsumerLag]
