"""Queries of the coaching client records, and the encryption of their free text.

Every function takes an ``AsyncSession`` opened for one organisation
(``ServiceContext.database.session(organisation_id=...)``): the tenancy filter scopes every
query to it, so another organisation's rows are never seen. The caller checks that the
client exists in that organisation (the API does it through the journey workflow) and
writes the audit record.

``client_records_summary(session, cipher, client_id)`` is what the final report reads:
``session`` is such an organisation-scoped ``sqlalchemy.ext.asyncio.AsyncSession`` of the
coaching database and ``cipher`` the service's ``shared.crypto.FieldCipher``
(``ServiceContext.cipher``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.coaching.record_models import (
    PROFILE_FIELDS,
    PROFILE_TEXT_FIELDS,
    ClientMeeting,
    ClientRecordsSummary,
    MeetingIn,
    MeetingOut,
    ProfileIn,
    ProfileOut,
    ProfileVersion,
    ProfileVersionRow,
    TeamMeetingIn,
    TeamMeetingOut,
    TeamMeetingRow,
    TeamMemberIn,
    TeamMemberOut,
    TeamMemberRow,
)
from shared.crypto import FieldCipher
from shared.db import utcnow

# The context label of each table: part of every ciphertext's associated data.
MEETING, PROFILE, TEAM_MEMBER, TEAM_MEETING = "meeting", "profile", "team_member", "team_meeting"
ENCRYPTED: dict[type, tuple[str, tuple[str, ...]]] = {
    ClientMeeting: (MEETING, ("notes_enc",)),
    ProfileVersionRow: (PROFILE, tuple(f"{f}_enc" for f in PROFILE_TEXT_FIELDS)),
    TeamMemberRow: (TEAM_MEMBER, ("contact_enc",)),
    TeamMeetingRow: (TEAM_MEETING, ("notes_enc",)),
}


def context(label: str, row_id: uuid.UUID, field: str) -> str:
    # Binds each ciphertext to its row and field, so values cannot be swapped between rows.
    return f"coaching.{label}:{row_id}:{field}"


class Sealer:
    """Encrypts and decrypts the free-text fields of one row."""

    def __init__(self, cipher: FieldCipher, label: str, row_id: uuid.UUID) -> None:
        self._cipher, self._label, self._id = cipher, label, row_id

    def seal(self, field: str, value: str | None) -> str | None:
        return self._cipher.encrypt(value, context(self._label, self._id, field))

    def open(self, field: str, stored: str | None) -> str | None:
        return self._cipher.decrypt(stored, context(self._label, self._id, field))


# --------------------------------------------------------------------------- pure logic


def changed_fields(previous: ProfileIn | None, new: ProfileIn) -> list[str]:
    """The profile fields ``new`` changes from ``previous``, in the profile's order.

    Against no previous version every field that has a value counts as changed."""
    before = previous.model_dump() if previous is not None else dict.fromkeys(PROFILE_FIELDS)
    after = new.model_dump()
    return [f for f in PROFILE_FIELDS if before.get(f) != after.get(f)]


# --------------------------------------------------------------------------- meetings


def new_meeting(
    cipher: FieldCipher, organisation_id: uuid.UUID, client_id: uuid.UUID, body: MeetingIn, author: uuid.UUID
) -> ClientMeeting:
    meeting_id = uuid.uuid4()
    return ClientMeeting(
        id=meeting_id,
        organisation_id=organisation_id,
        client_id=client_id,
        occurred_at=body.occurred_at,
        duration_minutes=body.duration_minutes,
        place=body.place,
        contact_mode=body.contact_mode,
        participants=list(body.participants),
        notes_enc=Sealer(cipher, MEETING, meeting_id).seal("notes", body.notes),
        recorded_by=author,
        recorded_at=utcnow(),
    )


def to_meeting(row: ClientMeeting, cipher: FieldCipher, *, with_notes: bool = True) -> MeetingOut:
    """The meeting; without ``with_notes`` its notes are not even decrypted, only marked withheld."""
    return MeetingOut.model_validate(
        {
            "id": row.id,
            "client_id": row.client_id,
            "occurred_at": row.occurred_at,
            "duration_minutes": row.duration_minutes,
            "place": row.place,
            "contact_mode": row.contact_mode,
            "participants": row.participants,
            "notes": Sealer(cipher, MEETING, row.id).open("notes", row.notes_enc) if with_notes else None,
            "notes_withheld": not with_notes and row.notes_enc is not None,
            "recorded_by": row.recorded_by,
            "recorded_at": row.recorded_at,
        }
    )


async def meetings(
    session: AsyncSession, cipher: FieldCipher, client_id: uuid.UUID, *, with_notes: bool = True
) -> list[MeetingOut]:
    """The client's meetings, oldest first."""
    q = (
        select(ClientMeeting)
        .where(ClientMeeting.client_id == client_id)
        .order_by(ClientMeeting.occurred_at, ClientMeeting.recorded_at)
    )
    return [to_meeting(r, cipher, with_notes=with_notes) for r in (await session.execute(q)).scalars()]


# --------------------------------------------------------------------------- profile


def _profile_values(row: ProfileVersionRow, cipher: FieldCipher) -> ProfileIn:
    s = Sealer(cipher, PROFILE, row.id)
    values: dict[str, object] = {f: s.open(f, getattr(row, f"{f}_enc")) for f in PROFILE_TEXT_FIELDS}
    values["preferred_hours_per_week"] = row.preferred_hours_per_week
    return ProfileIn.model_validate(values)


def to_profile(row: ProfileVersionRow, cipher: FieldCipher) -> ProfileOut:
    return ProfileOut(
        **_profile_values(row, cipher).model_dump(),
        client_id=row.client_id,
        version=row.version,
        author_id=row.author_id,
        saved_at=row.saved_at,
        changed_fields=list(row.changed_fields),
    )


async def latest_profile_row(session: AsyncSession, client_id: uuid.UUID) -> ProfileVersionRow | None:
    q = (
        select(ProfileVersionRow)
        .where(ProfileVersionRow.client_id == client_id)
        .order_by(ProfileVersionRow.version.desc())
        .limit(1)
    )
    return (await session.execute(q)).scalar_one_or_none()


async def latest_profile(session: AsyncSession, cipher: FieldCipher, client_id: uuid.UUID) -> ProfileOut | None:
    row = await latest_profile_row(session, client_id)
    return None if row is None else to_profile(row, cipher)


async def save_profile(
    session: AsyncSession,
    cipher: FieldCipher,
    organisation_id: uuid.UUID,
    client_id: uuid.UUID,
    body: ProfileIn,
    author: uuid.UUID,
    now: datetime | None = None,
) -> ProfileOut:
    """Add the next version of the profile (never updates a version in place).

    Two concurrent saves may pick the same number; the unique constraint then fails the
    second one's flush (IntegrityError), and the caller answers 409."""
    previous = await latest_profile_row(session, client_id)
    version = 1 if previous is None else previous.version + 1
    changes = changed_fields(None if previous is None else _profile_values(previous, cipher), body)
    row_id = uuid.uuid4()
    s = Sealer(cipher, PROFILE, row_id)
    row = ProfileVersionRow(
        id=row_id,
        organisation_id=organisation_id,
        client_id=client_id,
        version=version,
        preferred_hours_per_week=body.preferred_hours_per_week,
        changed_fields=changes,
        author_id=author,
        saved_at=now or utcnow(),
        **{f"{f}_enc": s.seal(f, getattr(body, f)) for f in PROFILE_TEXT_FIELDS},
    )
    session.add(row)
    await session.flush()
    return to_profile(row, cipher)


async def profile_versions(session: AsyncSession, client_id: uuid.UUID) -> list[ProfileVersion]:
    """Every version of the profile, newest first: who saved it, when, and what changed."""
    q = (
        select(
            ProfileVersionRow.version,
            ProfileVersionRow.author_id,
            ProfileVersionRow.saved_at,
            ProfileVersionRow.changed_fields,
        )
        .where(ProfileVersionRow.client_id == client_id)
        .order_by(ProfileVersionRow.version.desc())
    )
    return [
        ProfileVersion(version=v, author_id=a, saved_at=at, changed_fields=list(ch))
        for v, a, at, ch in (await session.execute(q)).all()
    ]


async def profile_version_count(session: AsyncSession, client_id: uuid.UUID) -> int:
    q = select(func.count()).select_from(ProfileVersionRow).where(ProfileVersionRow.client_id == client_id)
    return int((await session.execute(q)).scalar_one())


# --------------------------------------------------------------------------- team


def new_member(
    cipher: FieldCipher, organisation_id: uuid.UUID, client_id: uuid.UUID, body: TeamMemberIn, author: uuid.UUID
) -> TeamMemberRow:
    member_id = uuid.uuid4()
    return TeamMemberRow(
        id=member_id,
        organisation_id=organisation_id,
        client_id=client_id,
        role=body.role,
        name=body.name,
        organisation=body.organisation,
        contact_enc=Sealer(cipher, TEAM_MEMBER, member_id).seal("contact", body.contact),
        started_at=utcnow(),
        started_by=author,
    )


def to_member(row: TeamMemberRow, cipher: FieldCipher) -> TeamMemberOut:
    return TeamMemberOut.model_validate(
        {
            "id": row.id,
            "client_id": row.client_id,
            "role": row.role,
            "name": row.name,
            "organisation": row.organisation,
            "contact": Sealer(cipher, TEAM_MEMBER, row.id).open("contact", row.contact_enc),
            "started_at": row.started_at,
            "started_by": row.started_by,
            "ended_at": row.ended_at,
            "ended_by": row.ended_by,
            "active": row.ended_at is None,
        }
    )


async def member_rows(session: AsyncSession, client_id: uuid.UUID, *, current_only: bool) -> Sequence[TeamMemberRow]:
    q = select(TeamMemberRow).where(TeamMemberRow.client_id == client_id)
    if current_only:
        q = q.where(TeamMemberRow.ended_at.is_(None))
    q = q.order_by(TeamMemberRow.started_at, TeamMemberRow.id)
    return (await session.execute(q)).scalars().all()


async def team(
    session: AsyncSession, cipher: FieldCipher, client_id: uuid.UUID, *, current_only: bool = False
) -> list[TeamMemberOut]:
    """The client's team members (current first, then ended ones), or only the current."""
    rows = await member_rows(session, client_id, current_only=current_only)
    members = [to_member(r, cipher) for r in rows]
    return sorted(members, key=lambda m: not m.active)


async def end_member(
    session: AsyncSession, cipher: FieldCipher, client_id: uuid.UUID, member_id: uuid.UUID, author: uuid.UUID
) -> TeamMemberOut | None:
    """End a membership (idempotent: an ended one stays as it was); None if no such member."""
    row = await session.get(TeamMemberRow, member_id)
    if row is None or row.client_id != client_id:
        return None
    if row.ended_at is None:
        row.ended_at, row.ended_by = utcnow(), author
        await session.flush()
    return to_member(row, cipher)


async def unknown_members(session: AsyncSession, client_id: uuid.UUID, ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Those of ``ids`` that are not (and never were) members of the client's team."""
    known = {r.id for r in await member_rows(session, client_id, current_only=False)}
    return [i for i in ids if i not in known]


def new_team_meeting(
    cipher: FieldCipher, organisation_id: uuid.UUID, client_id: uuid.UUID, body: TeamMeetingIn, author: uuid.UUID
) -> TeamMeetingRow:
    meeting_id = uuid.uuid4()
    return TeamMeetingRow(
        id=meeting_id,
        organisation_id=organisation_id,
        client_id=client_id,
        held_on=body.held_on,
        participant_ids=[str(i) for i in body.participant_ids],
        notes_enc=Sealer(cipher, TEAM_MEETING, meeting_id).seal("notes", body.notes),
        recorded_by=author,
        recorded_at=utcnow(),
    )


def to_team_meeting(row: TeamMeetingRow, cipher: FieldCipher, *, with_notes: bool = True) -> TeamMeetingOut:
    return TeamMeetingOut(
        id=row.id,
        client_id=row.client_id,
        held_on=row.held_on,
        participant_ids=[uuid.UUID(i) for i in row.participant_ids],
        notes=Sealer(cipher, TEAM_MEETING, row.id).open("notes", row.notes_enc) if with_notes else None,
        notes_withheld=not with_notes and row.notes_enc is not None,
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


async def team_meetings(
    session: AsyncSession, cipher: FieldCipher, client_id: uuid.UUID, *, with_notes: bool = True
) -> list[TeamMeetingOut]:
    """The client's team meetings, oldest first."""
    q = (
        select(TeamMeetingRow)
        .where(TeamMeetingRow.client_id == client_id)
        .order_by(TeamMeetingRow.held_on, TeamMeetingRow.recorded_at)
    )
    return [to_team_meeting(r, cipher, with_notes=with_notes) for r in (await session.execute(q)).scalars()]


# --------------------------------------------------------------------------- summary


async def client_records_summary(
    session: AsyncSession, cipher: FieldCipher, client_id: uuid.UUID
) -> ClientRecordsSummary:
    """The client's records for the final report, decrypted. ``session`` must be scoped to
    the client's organisation; the caller audits the read."""
    return ClientRecordsSummary(
        client_id=client_id,
        profile=await latest_profile(session, cipher, client_id),
        meetings=await meetings(session, cipher, client_id),
        team=await team(session, cipher, client_id, current_only=True),
        team_meetings=await team_meetings(session, cipher, client_id),
    )


__all__ = [
    "ClientRecordsSummary",
    "Sealer",
    "changed_fields",
    "client_records_summary",
    "context",
]
