"""Intake: referrals, the client registry, consent, assignment overrides and quick help.

Personal fields (``*_enc``) are stored AES-GCM encrypted, bound to their row and field
(``store.context``); equality search goes through keyed blind indexes (``*_index``).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from sqlalchemy import Boolean, Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.intake import hetu
from shared.contracts.api import ClientCreated, ClientRecord
from shared.contracts.intake import (
    ClientSource,
    ConsentScope,
    DeclineReason,
    InformationParty,
    QuickHelpTopic,
    ReferralStatus,
    ReferrerType,
)
from shared.db import UTCDateTime, UUIDStr, utcnow
from shared.i18n import N_
from shared.outbox import outbox_model
from shared.tenancy import TenantScoped


class IntakeBase(DeclarativeBase):
    pass


OutboxEvent = outbox_model(IntakeBase)


# --------------------------------------------------------------------------- tables


class Client(TenantScoped, IntakeBase):
    __tablename__ = "clients"
    # One client per identity code per organisation, also under concurrent registrations.
    __table_args__ = (UniqueConstraint("organisation_id", "hetu_index", name="uq_clients_org_hetu"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    coach_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    journey_id: Mapped[str] = mapped_column(String(120))
    first_name_enc: Mapped[str] = mapped_column(Text)
    last_name_enc: Mapped[str] = mapped_column(Text)
    name_index: Mapped[str] = mapped_column(String(64), index=True)
    first_name_index: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    last_name_index: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    hetu_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    hetu_index: Mapped[str | None] = mapped_column(String(64), nullable=True)
    date_of_birth_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    phone_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    email_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    municipality_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    preferred_language: Mapped[str] = mapped_column(String(2), default="fi")
    source: Mapped[str] = mapped_column(String(20), default=ClientSource.SELF_REFERRAL.value)
    referral_id: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)
    # Where the journey stands, as the journey events tell it: counts the active caseload.
    journey_status: Mapped[str] = mapped_column(String(20), default="ACTIVE")
    journey_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    # Set when retention erased the personal fields (services.intake.retention).
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ConsentEntry(TenantScoped, IntakeBase):
    """One consent given or withdrawn; the newest entry per (scope, party) is in force."""

    __tablename__ = "consents"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    scope: Mapped[str] = mapped_column(String(30))
    party: Mapped[str | None] = mapped_column(String(40), nullable=True)
    party_name_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    given: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)


class Referral(TenantScoped, IntakeBase):
    __tablename__ = "referrals"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default=ReferralStatus.RECEIVED.value, index=True)
    referrer_type: Mapped[str] = mapped_column(String(40))
    referrer_organisation_enc: Mapped[str] = mapped_column(Text)
    referrer_unit_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    referrer_contact_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    referred_on: Mapped[date] = mapped_column(Date)
    wants_open_employment: Mapped[bool] = mapped_column(Boolean)
    first_name_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_name_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    background_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_start: Mapped[date | None] = mapped_column(Date, nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    decline_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    decline_note_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)
    client_id: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)


class AssignmentOverride(TenantScoped, IntakeBase):
    """A client assigned to a coach whose caseload was already full, and why."""

    __tablename__ = "assignment_overrides"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    coach_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    active_before: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)
    reason_enc: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)


class QuickHelp(TenantScoped, IntakeBase):
    """A one-off quick-help contact (pika-apu); the person is named or anonymous."""

    __tablename__ = "quick_help"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    coach_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    topic: Mapped[str] = mapped_column(String(40))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    occurred_on: Mapped[date] = mapped_column(Date)
    person_name_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)


# --------------------------------------------------------------------------- input models

# Validation messages are English msgids: the API returns them, the web UI translates them.
MESSAGES: dict[str, str] = {
    **hetu.MESSAGES,
    "name_empty": N_("Write the name."),
    "name_digits": N_("A name cannot contain digits."),
    "phone": N_("Write the phone number with digits only, e.g. 040 123 4567 or +358 40 123 4567."),
    "text_empty": N_("Write something here or leave the field out."),
    "dob_mismatch": N_("The date of birth does not match the identity code."),
    "dob_future": N_("The date of birth cannot be in the future."),
    "consent_required": N_("The journey cannot start without the client's consent to processing their data."),
    "party_name_required": N_("Name the party."),
    "note_required": N_("Describe the reason."),
    "referral_future": N_("The referral date cannot be in the future."),
    "party_required": N_("Choose the party information is exchanged with."),
    "date_future": N_("The date cannot be in the future."),
    "coach_unknown": N_("No coach with this id in your organisation."),
    "wish_not_confirmed": N_(
        "The person's own wish to work in the open labour market is the only entry criterion: "
        "confirm it with them before accepting."
    ),
}


def _error(code: str) -> PydanticCustomError:
    return PydanticCustomError(code, MESSAGES[code])


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _name(value: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise _error("name_empty")
    if any(ch.isdigit() for ch in value):
        raise _error("name_digits")
    return value


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        raise _error("text_empty")
    return value


def _hetu(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return hetu.parse(value).code
    except hetu.HetuError as exc:
        raise _error(exc.code) from None


_PHONE = re.compile(r"^\+?\d{5,15}$")


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    compact = re.sub(r"[\s()\-]", "", value)
    if not _PHONE.match(compact):
        raise _error("phone")
    return value.strip()


Optional = BeforeValidator(_blank_to_none)  # an empty form field is "not given"
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Str20 = Annotated[str, StringConstraints(max_length=20)]
Str40 = Annotated[str, StringConstraints(max_length=40)]
Str100 = Annotated[str, StringConstraints(max_length=100)]
Str200 = Annotated[str, StringConstraints(max_length=200)]
Str1000 = Annotated[str, StringConstraints(max_length=1000)]
Str2000 = Annotated[str, StringConstraints(max_length=2000)]
Str4000 = Annotated[str, StringConstraints(max_length=4000)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ClientFields(_Input):
    """A client's registry fields, the same for a self-referral and an accepted referral."""

    first_name: Name
    last_name: Name
    personal_identity_code: Annotated[Str20 | None, Optional] = None
    date_of_birth: Annotated[date | None, Optional] = None
    phone: Annotated[Str40 | None, Optional] = None
    email: Annotated[EmailStr | None, Optional] = None
    preferred_language: Annotated[str, Field(pattern="^(fi|sv|en)$")] = "fi"
    municipality: Annotated[Str100 | None, Optional] = None

    _check_names = field_validator("first_name", "last_name")(_name)
    _check_hetu = field_validator("personal_identity_code")(_hetu)
    _check_phone = field_validator("phone")(_phone)
    _check_municipality = field_validator("municipality")(_text)

    @field_validator("date_of_birth")
    @classmethod
    def _dob(cls, value: date | None, info: ValidationInfo) -> date | None:
        if value is None:
            return None
        if value > date.today():
            raise _error("dob_future")
        code = info.data.get("personal_identity_code")
        if code and hetu.parse(code).birth_date != value:
            raise _error("dob_mismatch")
        return value

    @model_validator(mode="after")
    def _dob_from_hetu(self) -> ClientFields:
        if self.personal_identity_code and self.date_of_birth is None:
            self.date_of_birth = hetu.parse(self.personal_identity_code).birth_date
        return self


def _named_if_other(party_field: str) -> Any:
    """A validator: the name is required when the party is ``other``."""

    def check(value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get(party_field) == InformationParty.OTHER:
            raise _error("party_name_required")
        return value

    return check


PartyName = Annotated[Str200 | None, Optional]


class InformationExchange(_Input):
    party: InformationParty
    name: PartyName = Field(default=None, validate_default=True)

    _check_name = field_validator("name")(_named_if_other("party"))


def _party(value: Any) -> Any:
    return {"party": value} if isinstance(value, str) else value  # "kela" is short for {"party": "kela"}


class ConsentGiven(_Input):
    """The consents given when the journey starts. ``processing`` must be true."""

    processing: bool
    information_exchange: list[Annotated[InformationExchange, BeforeValidator(_party)]] = Field(
        default_factory=list, max_length=20
    )


OverrideReason = Annotated[Str1000 | None, Optional]


class ClientCreate(ClientFields):
    """A self-referral: the coach registers a client directly and the journey starts.

    ``consent`` with ``processing: true`` is required (checked with the coach, so one 422
    names every problem); ``override_reason`` assigns past a full caseload."""

    coach_id: uuid.UUID
    consent: ConsentGiven | None = None
    override_reason: OverrideReason = None


class ReferralCreate(_Input):
    referrer_type: ReferrerType
    referrer_organisation: Annotated[str, Field(min_length=1, max_length=200)]
    referrer_unit: Annotated[Str200 | None, Optional] = None
    referrer_contact: Annotated[Str200 | None, Optional] = None
    referred_on: date
    wants_open_employment: bool
    first_name: Annotated[Str100 | None, Optional] = None
    last_name: Annotated[Str100 | None, Optional] = None
    background: Annotated[Str4000 | None, Optional] = None
    requested_start: Annotated[date | None, Optional] = None

    @field_validator("first_name", "last_name")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else _name(value)

    @field_validator("referred_on")
    @classmethod
    def _not_future(cls, value: date) -> date:
        if value > date.today():
            raise _error("referral_future")
        return value


class ReferralAccept(_Input):
    coach_id: uuid.UUID
    client: ClientFields
    consent: ConsentGiven | None = None
    override_reason: OverrideReason = None
    # The person's own wish, confirmed in the agreement discussion, if the referral lacked it.
    wish_confirmed: bool = False


class ReferralDecline(_Input):
    reason: DeclineReason
    note: Annotated[Str2000 | None, Optional] = Field(default=None, validate_default=True)

    @field_validator("note")
    @classmethod
    def _other_has_note(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("reason") == DeclineReason.OTHER:
            raise _error("note_required")
        return value


class ConsentChange(_Input):
    scope: ConsentScope
    party: Annotated[InformationParty | None, Optional] = Field(default=None, validate_default=True)
    party_name: PartyName = Field(default=None, validate_default=True)
    given: bool

    _check_name = field_validator("party_name")(_named_if_other("party"))

    @field_validator("party")
    @classmethod
    def _party_for_exchange(cls, value: InformationParty | None, info: ValidationInfo) -> InformationParty | None:
        if value is None and info.data.get("scope") == ConsentScope.INFORMATION_EXCHANGE:
            raise _error("party_required")
        return value

    @model_validator(mode="after")
    def _processing_has_no_party(self) -> ConsentChange:
        if self.scope == ConsentScope.PROCESSING:
            self.party, self.party_name = None, None
        return self


class ClientSearch(_Input):
    """Search the registry by name or identity code; ``purpose`` goes to the audit log."""

    query: Annotated[str, Field(min_length=2, max_length=200)]
    purpose: Annotated[str, Field(min_length=3, max_length=200)]


class QuickHelpCreate(_Input):
    topic: QuickHelpTopic
    duration_minutes: Annotated[int, Field(ge=1, le=480)]
    occurred_on: date
    anonymous: bool = True
    person_name: Annotated[Str200 | None, Optional] = Field(default=None, validate_default=True)
    coach_id: uuid.UUID | None = None  # default: the caller

    @field_validator("person_name")
    @classmethod
    def _named_or_anonymous(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("anonymous", True):
            return None  # an anonymous contact keeps no name, whatever was typed
        if value is None:
            raise _error("name_empty")
        return value

    @field_validator("occurred_on")
    @classmethod
    def _not_future(cls, value: date) -> date:
        if value > date.today():
            raise _error("date_future")
        return value


# --------------------------------------------------------------------------- output models


class Registered(ClientCreated):
    """``existing``: the identity code was registered before in this organisation, and
    this is that client (answered with 200 instead of 201)."""

    existing: bool = False


class ReferralCreated(BaseModel):
    referral_id: uuid.UUID


class ConsentState(BaseModel):
    scope: ConsentScope
    party: InformationParty | None = None
    party_name: str | None = None
    given: bool
    at: datetime
    recorded_by: uuid.UUID


class ClientConsents(BaseModel):
    client_id: uuid.UUID
    processing: bool  # in force now
    current: list[ConsentState]
    history: list[ConsentState]  # newest first


class ClientDetails(ClientRecord):
    """The registry record with the protected fields, for coaches and team leads."""

    personal_identity_code: str | None = None
    date_of_birth: date | None = None
    phone: str | None = None
    email: str | None = None
    preferred_language: str = "fi"
    municipality: str | None = None
    source: ClientSource = ClientSource.SELF_REFERRAL
    referral_id: uuid.UUID | None = None
    journey_status: str = "ACTIVE"
    consent: ClientConsents | None = None


class ReferralView(BaseModel):
    referral_id: uuid.UUID
    status: ReferralStatus
    referrer_type: ReferrerType
    referrer_organisation: str
    referrer_unit: str | None
    referrer_contact: str | None
    referred_on: date
    wants_open_employment: bool
    first_name: str | None
    last_name: str | None
    background: str | None
    requested_start: date | None
    received_at: datetime
    decline_reason: DeclineReason | None
    decline_note: str | None
    decided_at: datetime | None
    client_id: uuid.UUID | None


class ReferralDeclined(BaseModel):
    referral_id: uuid.UUID
    status: ReferralStatus
    reason: DeclineReason


class CoachLoad(BaseModel):
    coach_id: uuid.UUID
    username: str
    name: str
    role: str
    fte: float
    capacity: int
    active: int

    @property
    def over(self) -> bool:
        return self.active > self.capacity

    @property
    def full(self) -> bool:
        return self.active >= self.capacity


class QuickHelpCreated(BaseModel):
    quick_help_id: uuid.UUID


class DeclineCount(BaseModel):
    reason: DeclineReason
    count: int
    excluding: bool  # a reason zero exclusion does not allow


class OverrideView(BaseModel):
    client_id: uuid.UUID
    coach_id: uuid.UUID
    active_before: int
    capacity: int
    reason: str
    at: datetime
    decided_by: uuid.UUID


class DeclineView(BaseModel):
    referral_id: uuid.UUID
    reason: DeclineReason
    note: str | None
    referrer_type: ReferrerType
    decided_at: datetime | None
    decided_by: uuid.UUID | None


class Oversight(BaseModel):
    """What a team lead watches: is anyone turned away, and who carries too many clients."""

    received: int
    accepted: int
    declined: int
    open: int
    declines_by_reason: list[DeclineCount]
    excluding_declines: int
    recent_declines: list[DeclineView]
    overrides: list[OverrideView]
    quick_help_contacts: int
    quick_help_minutes: int
