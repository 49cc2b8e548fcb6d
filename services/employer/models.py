"""Employer service tables and API models.

Contact persons are personal data: their fields (``*_enc``) are AES-GCM encrypted, bound
to their row and field (``store.context``). A client's match profile (preferences and
interests) is client data and is stored encrypted as one JSON value. Business names,
ids, industry codes and openings are not personal data.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, EmailStr, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.employer import domain
from shared.contracts.employer import (
    CoachSupport,
    ContactChannel,
    ContactMode,
    ContactPurpose,
    JourneyReport,
    OpeningSource,
    OpeningStatus,
    PlacementEndReason,
    PlacementKind,
    PlacementStatus,
    SupportNeed,
    WorkArrangementSupport,
)
from shared.db import UTCDateTime, UUIDStr, utcnow
from shared.i18n import N_
from shared.outbox import outbox_model
from shared.tenancy import TenantScoped


class EmployerBase(DeclarativeBase):
    pass


OutboxEvent = outbox_model(EmployerBase)


# --------------------------------------------------------------------------- tables


class Employer(TenantScoped, EmployerBase):
    __tablename__ = "employers"
    # One register entry per business id per organisation.
    __table_args__ = (UniqueConstraint("organisation_id", "business_id", name="uq_employers_org_business_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    business_id: Mapped[str] = mapped_column(String(9))
    industry: Mapped[str | None] = mapped_column(String(5), nullable=True)
    # [{"municipality": str, "address": str | None}]
    locations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    preferred_channel: Mapped[str] = mapped_column(String(20), default=ContactChannel.EMAIL.value)
    support_needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The level (1-5) the latest contact reached, and when that contact was.
    relationship_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_contact_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)


class ContactPerson(TenantScoped, EmployerBase):
    __tablename__ = "employer_contact_persons"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    employer_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, ForeignKey("employers.id"), index=True)
    name_enc: Mapped[str] = mapped_column(Text)
    title_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    email_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    added_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)


class EmployerContact(TenantScoped, EmployerBase):
    """One job-development contact (the contact log)."""

    __tablename__ = "employer_contacts"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    employer_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, ForeignKey("employers.id"), index=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    occurred_on: Mapped[date] = mapped_column(Date, index=True)
    mode: Mapped[str] = mapped_column(String(20))
    client_present: Mapped[bool] = mapped_column(Boolean, default=False)
    client_id: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True, index=True)
    purposes: Mapped[list[str]] = mapped_column(JSON, default=list)
    level: Mapped[int] = mapped_column(Integer)
    # What the client's journey said to the first-employer-contact milestone.
    journey_report: Mapped[str] = mapped_column(String(20), default=JourneyReport.NOT_APPLICABLE.value)
    journey_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)


class Opening(TenantScoped, EmployerBase):
    """A job opening, or tasks carved from an employer's needs (``tasks``), possibly for one client."""

    __tablename__ = "openings"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    employer_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, ForeignKey("employers.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=OpeningStatus.OPEN.value, index=True)
    industry: Mapped[str | None] = mapped_column(String(5), nullable=True)
    municipality: Mapped[str | None] = mapped_column(String(100), nullable=True)
    hours_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    hours_max: Mapped[float | None] = mapped_column(Float, nullable=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    tasks: Mapped[list[str]] = mapped_column(JSON, default=list)
    for_client_id: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MatchProfile(TenantScoped, EmployerBase):
    """The preferences matching uses, per client (until the coaching profile feeds it)."""

    __tablename__ = "match_profiles"

    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    profile_enc: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)


class PoolClient(TenantScoped, EmployerBase):
    """Where each client's journey stands, from journey events: the matching pool."""

    __tablename__ = "pool_clients"

    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    coach_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    phase: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20))
    episode: Mapped[int] = mapped_column(Integer, default=1)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessedEvent(EmployerBase):
    """Event ids already applied: a redelivered or duplicated event is skipped."""

    __tablename__ = "processed_events"

    event_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    organisation_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Placement(TenantScoped, EmployerBase):
    """A client's job, work trial, subsidised job or apprenticeship, with the support agreement."""

    __tablename__ = "placements"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    employer_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, ForeignKey("employers.id"), index=True)
    opening_id: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, ForeignKey("openings.id"), nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    job_title: Mapped[str] = mapped_column(String(200))
    job_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    starts_on: Mapped[date] = mapped_column(Date)
    planned_end_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    hours_per_week: Mapped[float] = mapped_column(Float)
    permanent: Mapped[bool] = mapped_column(Boolean)
    competitive: Mapped[bool] = mapped_column(Boolean)
    coach_supports: Mapped[list[str]] = mapped_column(JSON, default=list)
    work_arrangement_support: Mapped[str] = mapped_column(String(20), default=WorkArrangementSupport.NONE.value)
    status: Mapped[str] = mapped_column(String(20), default=PlacementStatus.ACTIVE.value, index=True)
    ended_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)
    journey_moved: Mapped[bool] = mapped_column(Boolean, default=False)
    end_journey_report: Mapped[str | None] = mapped_column(String(20), nullable=True)
    end_journey_code: Mapped[str | None] = mapped_column(String(60), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_by: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)


# --------------------------------------------------------------------------- input models

# Validation messages are English msgids: the API returns them, the web UI translates them.
MESSAGES: dict[str, str] = {
    **domain.MESSAGES,
    "text_empty": N_("Write something here or leave the field out."),
    "phone": N_("Write the phone number with digits only, e.g. 040 123 4567 or +358 40 123 4567."),
    "date_future": N_("The date cannot be in the future."),
    "hours_order": N_("The smallest number of hours cannot be larger than the largest."),
    "client_needed": N_("Choose the client who took part, or untick “with the client”."),
    "duplicates": N_("Each choice may be given only once."),
    "carved_tasks": N_("An opening carved for a client needs its tasks."),
    "end_before_start": N_("The end date cannot be before the start date."),
    "permanent_end": N_("A permanent job has no planned end date."),
    "start_future": N_("Record the placement on or after its first day."),
}


def _error(code: str) -> PydanticCustomError:
    return PydanticCustomError(code, MESSAGES[code])


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _words(value: Any) -> Any:
    """A list of short texts: also accepts one comma-separated string (form fields)."""
    if isinstance(value, str):
        return [part for part in (p.strip() for p in value.split(",")) if part]
    if isinstance(value, list):
        return [v.strip() if isinstance(v, str) else v for v in value if not (isinstance(v, str) and not v.strip())]
    return value


def _lines(value: Any) -> Any:
    """A list of texts: also accepts one string with a line per item (form textareas)."""
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    return _words(value) if isinstance(value, list) else value


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    if not value:
        raise _error("text_empty")
    return value


def _ytunnus(value: str) -> str:
    try:
        return domain.parse_ytunnus(value)
    except domain.DomainError as exc:
        raise _error(exc.code) from None


def _tol(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return domain.parse_tol(value)
    except domain.DomainError as exc:
        raise _error(exc.code) from None


_PHONE = re.compile(r"^\+?\d{5,15}$")


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    if not _PHONE.match(re.sub(r"[\s()\-]", "", value)):
        raise _error("phone")
    return value.strip()


def _not_future(value: date | None) -> date | None:
    if value is not None and value > domain.finnish_today():
        raise _error("date_future")
    return value


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise _error("duplicates")
    return values


Optional = BeforeValidator(_blank_to_none)
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
OptionalText = Annotated[Annotated[str, Field(max_length=200)] | None, Optional]
Word = Annotated[str, Field(min_length=1, max_length=60)]
Words = Annotated[list[Word], BeforeValidator(_words), Field(max_length=20)]
Hours = Annotated[Annotated[float, Field(ge=0, le=80)] | None, Optional]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Location(_Input):
    municipality: Annotated[str, Field(min_length=1, max_length=100)]
    address: OptionalText = None

    _check_municipality = field_validator("municipality")(_text)


class ContactPersonIn(_Input):
    name: Text200
    title: OptionalText = None
    email: Annotated[EmailStr | None, Optional] = None
    phone: Annotated[Annotated[str, Field(max_length=40)] | None, Optional] = None

    _check_name = field_validator("name")(_text)
    _check_phone = field_validator("phone")(_phone)


class EmployerCreate(_Input):
    """A new employer in the organisation's register."""

    name: Text200
    business_id: Annotated[str, Field(min_length=1, max_length=20, description="Y-tunnus, e.g. 2077474-0")]
    industry: Annotated[
        Annotated[str, Field(max_length=10)] | None, Optional, Field(description="TOL 2008 code, e.g. 56101 or I")
    ] = None
    locations: list[Location] = Field(default_factory=list, max_length=20)
    contact_persons: list[ContactPersonIn] = Field(default_factory=list, max_length=20)
    preferred_channel: ContactChannel = ContactChannel.EMAIL
    support_needs: list[SupportNeed] = Field(default_factory=list, max_length=len(SupportNeed))

    _check_name = field_validator("name")(_text)
    _check_business_id = field_validator("business_id")(_ytunnus)
    _check_industry = field_validator("industry")(_tol)
    _check_needs = field_validator("support_needs")(_unique)


class ContactCreate(_Input):
    """One employer contact. ``client_id`` when made on behalf of a named client."""

    employer_id: uuid.UUID
    occurred_on: date
    mode: ContactMode
    client_present: bool = False
    client_id: Annotated[uuid.UUID | None, Optional] = None
    purposes: list[ContactPurpose] = Field(min_length=1, max_length=len(ContactPurpose))
    level: int = Field(ge=1, le=5, description="Employer relationship level 1-5 the contact reached")
    staff_id: Annotated[uuid.UUID | None, Optional] = Field(
        default=None, description="Who made the contact; default the caller"
    )

    _check_date = field_validator("occurred_on")(_not_future)
    _check_purposes = field_validator("purposes")(_unique)

    @model_validator(mode="after")
    def _client_named(self) -> ContactCreate:
        if self.client_present and self.client_id is None:
            raise _error("client_needed")
        return self


def _hours_in_order(low: float | None, high: float | None) -> None:
    if low is not None and high is not None and low > high:
        raise _error("hours_order")


class OpeningCreate(_Input):
    """An opening from an employer or found by the team; ``tasks`` for a carved job."""

    employer_id: uuid.UUID
    title: Text200
    source: OpeningSource = OpeningSource.EMPLOYER
    industry: Annotated[
        Annotated[str, Field(max_length=10)] | None, Optional, Field(description="default: the employer's")
    ] = None
    municipality: Annotated[Annotated[str, Field(max_length=100)] | None, Optional] = None
    hours_min: Hours = None
    hours_max: Hours = None
    keywords: Words = Field(default_factory=list)
    tasks: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]], BeforeValidator(_lines), Field(max_length=30)
    ] = Field(default_factory=list)
    for_client_id: Annotated[uuid.UUID | None, Optional] = Field(
        default=None, description="Job carving: the client the tasks were put together for"
    )

    _check_title = field_validator("title")(_text)
    _check_industry = field_validator("industry")(_tol)
    _check_municipality = field_validator("municipality")(_text)

    @model_validator(mode="after")
    def _consistent(self) -> OpeningCreate:
        _hours_in_order(self.hours_min, self.hours_max)
        if self.for_client_id is not None and not self.tasks:
            raise _error("carved_tasks")
        return self


class OpeningStatusChange(_Input):
    status: OpeningStatus


class MatchProfileIn(_Input):
    """Preferences from the vocational profile that matching uses."""

    fields: Words = Field(default_factory=list, description="TOL 2008 codes (e.g. I, 56) or keywords")
    hours_min: Hours = None
    hours_max: Hours = None
    areas: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], BeforeValidator(_words)] = Field(
        default_factory=list, max_length=20, description="Municipalities"
    )
    interests: Words = Field(default_factory=list, description="Keywords of the client's stated interests")

    @model_validator(mode="after")
    def _consistent(self) -> MatchProfileIn:
        _hours_in_order(self.hours_min, self.hours_max)
        return self


class PlacementCreate(_Input):
    """A placement starts: the job and the support agreement with the employer."""

    client_id: uuid.UUID
    employer_id: uuid.UUID
    opening_id: Annotated[uuid.UUID | None, Optional] = None
    kind: PlacementKind
    job_title: Text200
    job_type: Annotated[Annotated[str, Field(max_length=100)] | None, Optional] = None
    starts_on: date
    planned_end_on: Annotated[date | None, Optional] = None
    hours_per_week: float = Field(gt=0, le=80)
    permanent: bool
    competitive: bool = Field(description="A job in the open labour market")
    coach_supports: list[CoachSupport] = Field(default_factory=list, max_length=len(CoachSupport))
    work_arrangement_support: WorkArrangementSupport = WorkArrangementSupport.NONE
    confirm_move: bool = Field(default=False, description="Also move the journey to EMPLOYER_AGREEMENT")

    _check_title = field_validator("job_title")(_text)
    _check_type = field_validator("job_type")(_text)
    _check_supports = field_validator("coach_supports")(_unique)

    @field_validator("starts_on")
    @classmethod
    def _started(cls, value: date) -> date:
        if value > domain.finnish_today():
            raise _error("start_future")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PlacementCreate:
        if self.planned_end_on is not None:
            if self.planned_end_on < self.starts_on:
                raise _error("end_before_start")
            if self.permanent:
                raise _error("permanent_end")
        return self


class PlacementEnd(_Input):
    ended_on: date
    reason: PlacementEndReason
    confirm_move: bool = Field(default=False, description="Also move the journey back to JOB_SEARCH")

    _check_date = field_validator("ended_on")(_not_future)


# --------------------------------------------------------------------------- output models


class ContactPersonOut(BaseModel):
    id: uuid.UUID
    name: str
    title: str | None = None
    email: str | None = None
    phone: str | None = None


class EmployerSummary(BaseModel):
    id: uuid.UUID
    name: str
    business_id: str
    industry: str | None
    industry_section: str | None
    municipalities: list[str]
    preferred_channel: ContactChannel
    relationship_level: int | None
    last_contact_on: date | None
    registered_at: datetime


class EmployerOut(EmployerSummary):
    locations: list[Location]
    support_needs: list[SupportNeed]
    contact_persons: list[ContactPersonOut]


class ContactOut(BaseModel):
    id: uuid.UUID
    employer_id: uuid.UUID
    staff_id: uuid.UUID
    occurred_on: date
    mode: ContactMode
    client_present: bool
    client_id: uuid.UUID | None
    purposes: list[ContactPurpose]
    level: int
    journey_report: JourneyReport
    journey_code: str | None = None
    recorded_at: datetime


class WeeklyCountOut(BaseModel):
    staff_id: uuid.UUID
    username: str | None
    role: str | None
    face_to_face: int
    other: int
    total: int
    target: int
    target_met: bool


class WeeklyReport(BaseModel):
    week: str
    monday: date
    sunday: date
    target: int
    staff: list[WeeklyCountOut]


class OpeningOut(BaseModel):
    id: uuid.UUID
    employer_id: uuid.UUID
    employer_name: str
    title: str
    source: OpeningSource
    status: OpeningStatus
    industry: str | None
    municipality: str | None
    hours_min: float | None
    hours_max: float | None
    keywords: list[str]
    tasks: list[str]
    carved: bool
    for_client_id: uuid.UUID | None
    created_at: datetime


class MatchProfileOut(BaseModel):
    client_id: uuid.UUID
    fields: list[str]
    hours_min: float | None
    hours_max: float | None
    areas: list[str]
    interests: list[str]
    updated_at: datetime | None = Field(description="None: no preferences recorded yet")


class ReasonOut(BaseModel):
    code: str
    preference: str
    value: str
    text: str


class OpeningMatch(BaseModel):
    opening: OpeningOut
    score: int
    reasons: list[ReasonOut]
    concerns: list[ReasonOut]
    explanation: str


class ClientMatches(BaseModel):
    client_id: uuid.UUID
    phase: str
    status: str
    in_job_search: bool
    profile: MatchProfileOut | None
    matches: list[OpeningMatch]


class ClientMatch(BaseModel):
    client_id: uuid.UUID
    coach_id: uuid.UUID
    score: int
    reasons: list[ReasonOut]
    concerns: list[ReasonOut]
    explanation: str


class OpeningMatches(BaseModel):
    opening: OpeningOut
    matches: list[ClientMatch]


class PlacementOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    employer_id: uuid.UUID
    employer_name: str
    opening_id: uuid.UUID | None
    kind: PlacementKind
    job_title: str
    job_type: str | None
    starts_on: date
    planned_end_on: date | None
    hours_per_week: float
    permanent: bool
    competitive: bool
    coach_supports: list[CoachSupport]
    work_arrangement_support: WorkArrangementSupport
    status: PlacementStatus
    ended_on: date | None
    end_reason: PlacementEndReason | None
    journey_moved: bool
    end_journey_report: JourneyReport | None
    end_journey_code: str | None
    created_at: datetime
