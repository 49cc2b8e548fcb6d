"""Queries and conversions of the employer service, always inside one organisation's scope."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.employer import domain, matching
from services.employer.models import (
    ContactOut,
    ContactPerson,
    ContactPersonIn,
    ContactPersonOut,
    Employer,
    EmployerContact,
    EmployerOut,
    EmployerSummary,
    Location,
    MatchProfile,
    MatchProfileIn,
    MatchProfileOut,
    Opening,
    OpeningOut,
    Placement,
    PlacementOut,
    PoolClient,
)
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
from shared.contracts.journey import Phase, Status
from shared.crypto import FieldCipher


def context(kind: str, row_id: uuid.UUID, field: str) -> str:
    # Binds each ciphertext to its row and field, so values cannot be swapped between rows.
    return f"{kind}:{row_id}:{field}"


# --------------------------------------------------------------------------- employers


async def get_employer(session: AsyncSession, employer_id: uuid.UUID) -> Employer | None:
    return await session.get(Employer, employer_id)


async def employer_by_business_id(session: AsyncSession, business_id: str) -> Employer | None:
    q = select(Employer).where(Employer.business_id == business_id)
    return (await session.execute(q)).scalar_one_or_none()


async def list_employers(session: AsyncSession, name: str | None = None) -> list[Employer]:
    q = select(Employer).order_by(Employer.name)
    rows = list((await session.execute(q)).scalars())
    if name:
        needle = matching.normalise(name)
        rows = [e for e in rows if needle in matching.normalise(e.name)]
    return rows


async def employer_names(session: AsyncSession) -> dict[uuid.UUID, str]:
    rows = await session.execute(select(Employer.id, Employer.name))
    return {row.id: row.name for row in rows}


def new_contact_person(
    cipher: FieldCipher, organisation_id: uuid.UUID, employer_id: uuid.UUID, body: ContactPersonIn, by: uuid.UUID
) -> ContactPerson:
    pid = uuid.uuid4()

    def enc(field: str, value: str | None) -> str | None:
        return cipher.encrypt(value, context("contact_person", pid, field))

    return ContactPerson(
        id=pid,
        organisation_id=organisation_id,
        employer_id=employer_id,
        name_enc=enc("name", body.name) or "",
        title_enc=enc("title", body.title),
        email_enc=enc("email", None if body.email is None else str(body.email)),
        phone_enc=enc("phone", body.phone),
        added_by=by,
    )


async def contact_persons(session: AsyncSession, employer_id: uuid.UUID) -> list[ContactPerson]:
    q = select(ContactPerson).where(ContactPerson.employer_id == employer_id).order_by(ContactPerson.added_at)
    return list((await session.execute(q)).scalars())


def to_contact_person(row: ContactPerson, cipher: FieldCipher) -> ContactPersonOut:
    def dec(field: str, value: str | None) -> str | None:
        return cipher.decrypt(value, context("contact_person", row.id, field))

    return ContactPersonOut(
        id=row.id,
        name=dec("name", row.name_enc) or "",
        title=dec("title", row.title_enc),
        email=dec("email", row.email_enc),
        phone=dec("phone", row.phone_enc),
    )


def to_summary(e: Employer) -> EmployerSummary:
    return EmployerSummary(
        id=e.id,
        name=e.name,
        business_id=e.business_id,
        industry=e.industry,
        industry_section=domain.tol_section(e.industry) if e.industry else None,
        municipalities=[str(loc["municipality"]) for loc in e.locations or []],
        preferred_channel=ContactChannel(e.preferred_channel),
        relationship_level=e.relationship_level,
        last_contact_on=e.last_contact_on,
        registered_at=e.registered_at,
    )


def to_employer(e: Employer, persons: Sequence[ContactPerson], cipher: FieldCipher) -> EmployerOut:
    return EmployerOut(
        **to_summary(e).model_dump(),
        locations=[Location.model_validate(loc) for loc in e.locations or []],
        support_needs=[SupportNeed(n) for n in e.support_needs or []],
        contact_persons=[to_contact_person(p, cipher) for p in persons],
    )


# --------------------------------------------------------------------------- contacts


async def contacts(
    session: AsyncSession,
    *,
    employer_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int | None = None,
) -> list[EmployerContact]:
    q = select(EmployerContact).order_by(EmployerContact.occurred_on.desc(), EmployerContact.recorded_at.desc())
    if employer_id is not None:
        q = q.where(EmployerContact.employer_id == employer_id)
    if client_id is not None:
        q = q.where(EmployerContact.client_id == client_id)
    if since is not None:
        q = q.where(EmployerContact.occurred_on >= since)
    if until is not None:
        q = q.where(EmployerContact.occurred_on <= until)
    if limit is not None:
        q = q.limit(limit)
    return list((await session.execute(q)).scalars())


def to_contact(c: EmployerContact) -> ContactOut:
    return ContactOut(
        id=c.id,
        employer_id=c.employer_id,
        staff_id=c.staff_id,
        occurred_on=c.occurred_on,
        mode=ContactMode(c.mode),
        client_present=c.client_present,
        client_id=c.client_id,
        purposes=[ContactPurpose(p) for p in c.purposes or []],
        level=c.level,
        journey_report=JourneyReport(c.journey_report),
        journey_code=c.journey_code,
        recorded_at=c.recorded_at,
    )


def contact_facts(rows: Sequence[EmployerContact]) -> list[domain.ContactFact]:
    return [domain.ContactFact(str(c.staff_id), c.occurred_on, ContactMode(c.mode)) for c in rows]


async def refresh_relationship(session: AsyncSession, employer: Employer) -> None:
    """The employer's level is the level of its latest contact."""
    rows = await contacts(session, employer_id=employer.id)
    employer.relationship_level = domain.relationship_level((c.occurred_on, c.recorded_at, c.level) for c in rows)
    employer.last_contact_on = max((c.occurred_on for c in rows), default=None)


# --------------------------------------------------------------------------- openings


async def get_opening(session: AsyncSession, opening_id: uuid.UUID) -> Opening | None:
    return await session.get(Opening, opening_id)


async def openings(
    session: AsyncSession,
    *,
    status: OpeningStatus | None = None,
    employer_id: uuid.UUID | None = None,
) -> list[Opening]:
    q = select(Opening).order_by(Opening.created_at.desc())
    if status is not None:
        q = q.where(Opening.status == status.value)
    if employer_id is not None:
        q = q.where(Opening.employer_id == employer_id)
    return list((await session.execute(q)).scalars())


def to_opening(o: Opening, employer_name: str) -> OpeningOut:
    return OpeningOut(
        id=o.id,
        employer_id=o.employer_id,
        employer_name=employer_name,
        title=o.title,
        source=OpeningSource(o.source),
        status=OpeningStatus(o.status),
        industry=o.industry,
        municipality=o.municipality,
        hours_min=o.hours_min,
        hours_max=o.hours_max,
        keywords=list(o.keywords or []),
        tasks=list(o.tasks or []),
        carved=bool(o.tasks),
        for_client_id=o.for_client_id,
        created_at=o.created_at,
    )


def opening_facts(o: Opening, employer_name: str) -> matching.OpeningFacts:
    return matching.OpeningFacts(
        id=str(o.id),
        title=o.title,
        industry=o.industry,
        municipality=o.municipality,
        hours_min=o.hours_min,
        hours_max=o.hours_max,
        keywords=tuple(o.keywords or ()),
        tasks=tuple(o.tasks or ()),
        employer_name=employer_name,
        for_client_id=None if o.for_client_id is None else str(o.for_client_id),
    )


# --------------------------------------------------------------------------- match profiles and the pool


def encrypt_profile(cipher: FieldCipher, client_id: uuid.UUID, body: MatchProfileIn) -> str:
    return cipher.encrypt(body.model_dump_json(), context("match_profile", client_id, "profile")) or ""


def decrypt_profile(cipher: FieldCipher, row: MatchProfile) -> MatchProfileIn:
    raw = cipher.decrypt(row.profile_enc, context("match_profile", row.client_id, "profile")) or "{}"
    return MatchProfileIn.model_validate(json.loads(raw))


def to_profile_out(row: MatchProfile, profile: MatchProfileIn) -> MatchProfileOut:
    return MatchProfileOut(client_id=row.client_id, updated_at=row.updated_at, **profile.model_dump())


def to_matching_profile(profile: MatchProfileIn) -> matching.Profile:
    return matching.Profile(
        fields=tuple(profile.fields),
        hours_min=profile.hours_min,
        hours_max=profile.hours_max,
        areas=tuple(profile.areas),
        interests=tuple(profile.interests),
    )


async def get_profile(session: AsyncSession, client_id: uuid.UUID) -> MatchProfile | None:
    return await session.get(MatchProfile, client_id)


async def pool(session: AsyncSession, *, phase: Phase | None = None, include_closed: bool = False) -> list[PoolClient]:
    q = select(PoolClient).order_by(PoolClient.last_event_at.desc())
    if phase is not None:
        q = q.where(PoolClient.phase == phase.value)
    if not include_closed:
        q = q.where(PoolClient.status != Status.CLOSED.value)
    return list((await session.execute(q)).scalars())


async def job_seekers(session: AsyncSession) -> list[PoolClient]:
    """The matching pool: active clients in rapid job search."""
    rows = await pool(session, phase=Phase.JOB_SEARCH)
    return [r for r in rows if r.status == Status.ACTIVE.value]


async def profiles_of(session: AsyncSession, client_ids: Sequence[uuid.UUID]) -> list[MatchProfile]:
    if not client_ids:
        return []
    q = select(MatchProfile).where(MatchProfile.client_id.in_(list(client_ids)))
    return list((await session.execute(q)).scalars())


# --------------------------------------------------------------------------- placements


async def get_placement(session: AsyncSession, placement_id: uuid.UUID) -> Placement | None:
    return await session.get(Placement, placement_id)


async def placements(
    session: AsyncSession,
    *,
    client_id: uuid.UUID | None = None,
    employer_id: uuid.UUID | None = None,
    status: PlacementStatus | None = None,
) -> list[Placement]:
    q = select(Placement).order_by(Placement.starts_on.desc(), Placement.created_at.desc())
    if client_id is not None:
        q = q.where(Placement.client_id == client_id)
    if employer_id is not None:
        q = q.where(Placement.employer_id == employer_id)
    if status is not None:
        q = q.where(Placement.status == status.value)
    return list((await session.execute(q)).scalars())


def to_placement(p: Placement, employer_name: str) -> PlacementOut:
    return PlacementOut(
        id=p.id,
        client_id=p.client_id,
        employer_id=p.employer_id,
        employer_name=employer_name,
        opening_id=p.opening_id,
        kind=PlacementKind(p.kind),
        job_title=p.job_title,
        job_type=p.job_type,
        starts_on=p.starts_on,
        planned_end_on=p.planned_end_on,
        hours_per_week=p.hours_per_week,
        permanent=p.permanent,
        competitive=p.competitive,
        coach_supports=[CoachSupport(s) for s in p.coach_supports or []],
        work_arrangement_support=WorkArrangementSupport(p.work_arrangement_support),
        status=PlacementStatus(p.status),
        ended_on=p.ended_on,
        end_reason=None if p.end_reason is None else PlacementEndReason(p.end_reason),
        journey_moved=p.journey_moved,
        end_journey_report=None if p.end_journey_report is None else JourneyReport(p.end_journey_report),
        end_journey_code=p.end_journey_code,
        created_at=p.created_at,
    )
