"""Retention of client data: which closed journeys are due for erasure, and legal holds.

Working-age social services keep a client's records 10 years after the matter closes
(client data act 703/2023 and its annex); each organisation may set another period
(``organisations.retention_years``). When the period has passed since the journey closed,
the retention workflow (``workflows.retention``) erases or pseudonymises the client's
personal data in every service; the anonymous statistics stay. A legal hold in force
(``legal_holds`` with ``lifted_at`` null) stops that for its client until it is lifted.

The rules here are pure (``retention_ends``, ``is_due``, ``due_journeys``); the
queries below them read the platform database (organisations and holds).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database, utcnow
from shared.platform import LegalHold, Organisation

DEFAULT_RETENTION_YEARS = 10
MIN_RETENTION_YEARS = 1
MAX_RETENTION_YEARS = 100


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class ClosedJourney:
    """A journey whose status is CLOSED, and when it closed (ids and a time only)."""

    organisation_id: uuid.UUID
    client_id: uuid.UUID
    closed_at: datetime


def add_years(moment: datetime, years: int) -> datetime:
    """The same calendar day ``years`` later; 29 February becomes 1 March."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a common year
        return (moment + timedelta(days=1)).replace(year=moment.year + years)


def retention_ends(closed_at: datetime, years: int, year_s: int | None = None) -> datetime:
    """When the retention period (``years``) of a journey closed at ``closed_at`` ends.

    ``year_s`` (``POLKU_RETENTION_YEAR_S``): a retention year lasts this many seconds
    instead of a calendar year, so tests shorten every organisation's period alike."""
    if closed_at.tzinfo is None:
        raise ValueError("closed_at must be timezone-aware")
    if not MIN_RETENTION_YEARS <= years <= MAX_RETENTION_YEARS:
        raise ValueError(f"retention years must be {MIN_RETENTION_YEARS}..{MAX_RETENTION_YEARS}, not {years}")
    if year_s is not None:
        if year_s <= 0:
            raise ValueError("a retention year must last a positive number of seconds")
        return closed_at + timedelta(seconds=years * year_s)
    return add_years(closed_at, years)


def is_due(closed_at: datetime, now: datetime, years: int, *, held: bool, year_s: int | None = None) -> bool:
    """Whether a journey closed at ``closed_at`` is due for erasure at ``now``.

    Due once the period has fully passed (strictly after its end); never under a hold."""
    if held:
        return False
    return now > retention_ends(closed_at, years, year_s)


def due_journeys(
    journeys: Iterable[ClosedJourney],
    now: datetime,
    years_by_org: Mapping[uuid.UUID, int],
    held: set[tuple[uuid.UUID, uuid.UUID]],
    year_s: int | None = None,
) -> list[ClosedJourney]:
    """The journeys due at ``now``, oldest close first. ``years_by_org``: each
    organisation's period (missing: the default); ``held``: (organisation, client) pairs
    under a legal hold."""
    due = [
        j
        for j in journeys
        if is_due(
            j.closed_at,
            now,
            years_by_org.get(j.organisation_id, DEFAULT_RETENTION_YEARS),
            held=(j.organisation_id, j.client_id) in held,
            year_s=year_s,
        )
    ]
    return sorted(due, key=lambda j: (j.closed_at, str(j.client_id)))


# --------------------------------------------------------------------------- platform queries


async def retention_years_by_org(platform: Database) -> dict[uuid.UUID, int]:
    async with platform.session() as session:
        rows = (await session.execute(select(Organisation.id, Organisation.retention_years))).all()
    return {org: int(years) for org, years in rows}


async def set_retention_years(platform: Database, organisation_id: uuid.UUID, years: int) -> bool:
    """Set an organisation's retention period; False when there is no such organisation."""
    if not MIN_RETENTION_YEARS <= years <= MAX_RETENTION_YEARS:
        raise ValueError(f"retention years must be {MIN_RETENTION_YEARS}..{MAX_RETENTION_YEARS}, not {years}")
    async with platform.session() as session, session.begin():
        org = await session.get(Organisation, organisation_id)
        if org is None:
            return False
        org.retention_years = years
    return True


async def held_clients(platform: Database) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Every (organisation, client) under a hold in force, across organisations."""
    async with platform.session(cross_tenant=True) as session:
        q = select(LegalHold.organisation_id, LegalHold.client_id).where(LegalHold.lifted_at.is_(None))
        return {(org, client) for org, client in (await session.execute(q)).all()}


async def is_held(platform: Database, organisation_id: uuid.UUID, client_id: uuid.UUID) -> bool:
    async with platform.session(organisation_id=organisation_id) as session:
        return await active_hold(session, client_id) is not None


async def active_hold(session: AsyncSession, client_id: uuid.UUID) -> LegalHold | None:
    """The hold in force on the client (an organisation-scoped session), if any."""
    q = select(LegalHold).where(LegalHold.client_id == client_id, LegalHold.lifted_at.is_(None))
    return (await session.execute(q.order_by(LegalHold.placed_at).limit(1))).scalar_one_or_none()


async def holds_of(session: AsyncSession, client_id: uuid.UUID) -> list[LegalHold]:
    """Every hold of the client, lifted ones too, oldest first."""
    q = select(LegalHold).where(LegalHold.client_id == client_id).order_by(LegalHold.placed_at)
    return list((await session.execute(q)).scalars())


async def place_hold(
    platform: Database,
    organisation_id: uuid.UUID,
    client_id: uuid.UUID,
    placed_by: uuid.UUID,
    case_reference: str | None,
) -> tuple[LegalHold, bool]:
    """Place a hold; returns (the hold in force, whether it is new). A second placement
    while one is in force returns that one unchanged."""
    async with platform.session(organisation_id=organisation_id) as session, session.begin():
        existing = await active_hold(session, client_id)
        if existing is not None:
            return existing, False
        hold = LegalHold(
            organisation_id=organisation_id,
            client_id=client_id,
            case_reference=case_reference,
            placed_at=utcnow(),
            placed_by=placed_by,
        )
        session.add(hold)
    return hold, True


async def lift_hold(
    platform: Database, organisation_id: uuid.UUID, client_id: uuid.UUID, lifted_by: uuid.UUID
) -> LegalHold | None:
    """Lift the hold in force; None when there is none."""
    async with platform.session(organisation_id=organisation_id) as session, session.begin():
        hold = await active_hold(session, client_id)
        if hold is None:
            return None
        hold.lifted_at, hold.lifted_by = utcnow(), lifted_by
    return hold
