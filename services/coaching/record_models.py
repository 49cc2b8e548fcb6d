"""Client records kept by the coaching service: meetings and outreach, the vocational
profile (versioned) and the multi-professional team.

Free text about the client (meeting notes, the profile's text fields, team meeting
notes) and the professionals' contact details are stored AES-GCM encrypted (``*_enc``),
each value bound to its table, row and field (``record_store.context``). Codes, times
and ids stay in clear so they can be listed and counted.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from sqlalchemy import JSON, Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.coaching.models import CoachingBase
from shared.db import UTCDateTime, UUIDStr, utcnow
from shared.tenancy import TenantScoped
from workflows.contracts import ContactMode, Place

# --------------------------------------------------------------------------- vocabulary

MeetingParticipant = Literal["client", "coach", "te_expert", "social_counsellor", "employer", "family", "other"]
TeamRole = Literal[
    "te_expert",
    "social_counsellor",
    "employer_coordinator",
    "health_professional",
    "rehabilitation_counsellor",
    "other",
]
MEETING_PARTICIPANTS: tuple[str, ...] = MeetingParticipant.__args__  # type: ignore[attr-defined]
TEAM_ROLES: tuple[str, ...] = TeamRole.__args__  # type: ignore[attr-defined]
PLACES: tuple[str, ...] = Place.__args__  # type: ignore[attr-defined]
CONTACT_MODES: tuple[str, ...] = ContactMode.__args__  # type: ignore[attr-defined]

# The profile's fields in the order the page shows them. All but the hours are free text.
PROFILE_TEXT_FIELDS: tuple[str, ...] = (
    "strengths",
    "interests",
    "work_history",
    "education",
    "work_ability",
    "support_needs",
    "preferred_fields",
    "preferred_area",
    "goals",
)
PROFILE_FIELDS: tuple[str, ...] = (*PROFILE_TEXT_FIELDS[:7], "preferred_hours_per_week", *PROFILE_TEXT_FIELDS[7:])

MAX_NOTES = 10_000
MAX_PROFILE_TEXT = 5_000
MAX_DURATION_MINUTES = 24 * 60


# --------------------------------------------------------------------------- tables


class ClientMeeting(TenantScoped, CoachingBase):
    """A meeting with the client or an outreach contact (jalkautuva / etsivä yhteydenotto)."""

    __tablename__ = "client_meetings"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    place: Mapped[str] = mapped_column(String(20))
    contact_mode: Mapped[str] = mapped_column(String(20))
    participants: Mapped[list[str]] = mapped_column(JSON)
    notes_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProfileVersionRow(TenantScoped, CoachingBase):
    """One saved version of a client's vocational profile. Rows are never updated:
    every save adds the next version, with its author and the fields it changed."""

    __tablename__ = "vocational_profile_versions"
    __table_args__ = (UniqueConstraint("organisation_id", "client_id", "version", name="uq_profile_version"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    version: Mapped[int] = mapped_column(Integer)
    strengths_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    interests_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    work_history_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    education_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    work_ability_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    support_needs_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    preferred_fields_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    preferred_hours_per_week: Mapped[int | None] = mapped_column(Integer, nullable=True)
    preferred_area_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    goals_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    changed_fields: Mapped[list[str]] = mapped_column(JSON)
    author_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMemberRow(TenantScoped, CoachingBase):
    """A professional in the client's multi-professional team. Ending a membership sets
    ``ended_at``; the row stays as history."""

    __tablename__ = "client_team_members"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    role: Mapped[str] = mapped_column(String(40))
    # The professional's name and organisation are staff data; contact details are encrypted.
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200), nullable=True)
    contact_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_by: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)


class TeamMeetingRow(TenantScoped, CoachingBase):
    """A meeting of the client's multi-professional team."""

    __tablename__ = "client_team_meetings"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    held_on: Mapped[date] = mapped_column(Date)
    participant_ids: Mapped[list[str]] = mapped_column(JSON)
    notes_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --------------------------------------------------------------------------- API models


def _blank_to_none(value: Any) -> Any:
    """Forms send empty strings for empty fields: store them as 'not given'."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


# Free text of at most so many characters, or None (blank input too).
Notes = Annotated[Annotated[str, StringConstraints(max_length=MAX_NOTES)] | None, BeforeValidator(_blank_to_none)]
ProfileText = Annotated[
    Annotated[str, StringConstraints(max_length=MAX_PROFILE_TEXT)] | None, BeforeValidator(_blank_to_none)
]
ShortText = Annotated[Annotated[str, StringConstraints(max_length=200)] | None, BeforeValidator(_blank_to_none)]
Contact = Annotated[Annotated[str, StringConstraints(max_length=300)] | None, BeforeValidator(_blank_to_none)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("each participant may be listed once")
    return values


class MeetingIn(BaseModel):
    """A meeting or outreach contact that happened. Recording it reports ``contact_made``."""

    model_config = ConfigDict(extra="forbid")

    occurred_at: AwareDatetime
    duration_minutes: int = Field(gt=0, le=MAX_DURATION_MINUTES)
    place: Place
    contact_mode: ContactMode = "meeting"
    participants: list[MeetingParticipant] = Field(min_length=1, max_length=len(MEETING_PARTICIPANTS))
    notes: Notes = None

    _participants_unique = field_validator("participants")(_unique)


class MeetingOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    occurred_at: datetime
    duration_minutes: int
    place: Place
    contact_mode: ContactMode
    participants: list[MeetingParticipant]
    notes: str | None
    notes_withheld: bool = Field(
        default=False, description="Notes exist but the caller's role does not read them (employer coordinators)"
    )
    recorded_by: uuid.UUID
    recorded_at: datetime


class ProfileIn(BaseModel):
    """The vocational profile (ammatillinen profiili) as a whole: a save replaces every field."""

    model_config = ConfigDict(extra="forbid")

    strengths: ProfileText = None
    interests: ProfileText = None
    work_history: ProfileText = None
    education: ProfileText = None
    work_ability: ProfileText = None
    support_needs: ProfileText = None
    preferred_fields: ProfileText = None
    preferred_hours_per_week: Annotated[Annotated[int, Field(ge=0, le=80)] | None, BeforeValidator(_blank_to_none)] = (
        None
    )
    preferred_area: ProfileText = None
    goals: ProfileText = None


class ProfileOut(ProfileIn):
    client_id: uuid.UUID
    version: int
    author_id: uuid.UUID
    saved_at: datetime
    changed_fields: list[str]


class ProfileVersion(BaseModel):
    """Who saved which version when, and which fields that save changed."""

    version: int
    author_id: uuid.UUID
    saved_at: datetime
    changed_fields: list[str]


class TeamMemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: TeamRole
    name: Name
    organisation: ShortText = None
    contact: Contact = None


class TeamMemberOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    role: TeamRole
    name: str
    organisation: str | None
    contact: str | None
    started_at: datetime
    started_by: uuid.UUID
    ended_at: datetime | None
    ended_by: uuid.UUID | None
    active: bool


class TeamMeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    held_on: date
    participant_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    notes: Notes = None

    _participants_unique = field_validator("participant_ids")(_unique)


class TeamMeetingOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    held_on: date
    participant_ids: list[uuid.UUID]
    notes: str | None
    notes_withheld: bool = Field(
        default=False, description="Notes exist but the caller's role does not read them (employer coordinators)"
    )
    recorded_by: uuid.UUID
    recorded_at: datetime


class ClientRecordsSummary(BaseModel):
    """A client's records for the final report: the latest profile (None before the first
    save), every meeting oldest first, the current team and the team meetings."""

    client_id: uuid.UUID
    profile: ProfileOut | None
    meetings: list[MeetingOut]
    team: list[TeamMemberOut]
    team_meetings: list[TeamMeetingOut]


__all__ = [
    "CONTACT_MODES",
    "MEETING_PARTICIPANTS",
    "PLACES",
    "PROFILE_FIELDS",
    "PROFILE_TEXT_FIELDS",
    "TEAM_ROLES",
    "ClientMeeting",
    "ClientRecordsSummary",
    "CoachingBase",
    "MeetingIn",
    "MeetingOut",
    "MeetingParticipant",
    "ProfileIn",
    "ProfileOut",
    "ProfileVersion",
    "ProfileVersionRow",
    "TeamMeetingIn",
    "TeamMeetingOut",
    "TeamMeetingRow",
    "TeamMemberIn",
    "TeamMemberOut",
    "TeamMemberRow",
    "TeamRole",
]
