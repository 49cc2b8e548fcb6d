"""Queries of the intake database, always inside one organisation's scope, and the
encryption of personal fields (each value bound to its table, row and field)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import (
    AssignmentOverride,
    Client,
    ClientConsents,
    ClientDetails,
    ConsentEntry,
    ConsentState,
    IntakeBase,
    QuickHelp,
    Referral,
    ReferralView,
)
from shared.contracts.api import ClientRecord
from shared.contracts.intake import ConsentScope, DeclineReason, InformationParty, ReferralStatus, ReferrerType
from shared.crypto import FieldCipher, blind_index, blind_indexes
from shared.keys import KeyRing

# Which columns of which table hold ciphertext, and the context label of the table
# (the label is part of every value's associated data, see ``context``).
ENCRYPTED: dict[type[IntakeBase], tuple[str, tuple[str, ...]]] = {
    Client: (
        "client",
        (
            "first_name_enc",
            "last_name_enc",
            "hetu_enc",
            "date_of_birth_enc",
            "phone_enc",
            "email_enc",
            "municipality_enc",
        ),
    ),
    Referral: (
        "referral",
        (
            "referrer_organisation_enc",
            "referrer_unit_enc",
            "referrer_contact_enc",
            "first_name_enc",
            "last_name_enc",
            "background_enc",
            "decline_note_enc",
        ),
    ),
    ConsentEntry: ("consent", ("party_name_enc",)),
    AssignmentOverride: ("override", ("reason_enc",)),
    QuickHelp: ("quick_help", ("person_name_enc",)),
}


def context(label: str, row_id: uuid.UUID, field: str) -> str:
    # Binds each ciphertext to its row and field, so values cannot be swapped between rows.
    return f"{label}:{row_id}:{field}"


def name_context(client_id: uuid.UUID, field: str) -> str:
    return context("client", client_id, field)


class Sealer:
    """Encrypts and decrypts the personal fields of one row."""

    def __init__(self, cipher: FieldCipher, label: str, row_id: uuid.UUID) -> None:
        self._cipher, self._label, self._id = cipher, label, row_id

    def seal(self, field: str, value: str | None) -> str | None:
        return self._cipher.encrypt(value, context(self._label, self._id, field))

    def open(self, field: str, stored: str | None) -> str | None:
        return self._cipher.decrypt(stored, context(self._label, self._id, field))


def client_sealer(cipher: FieldCipher, client_id: uuid.UUID) -> Sealer:
    return Sealer(cipher, "client", client_id)


def name_indexes(keys: KeyRing, organisation_id: uuid.UUID, first: str, last: str) -> dict[str, str]:
    org = str(organisation_id)
    return {
        "name_index": blind_index(keys, org, "name", f"{first} {last}"),
        "first_name_index": blind_index(keys, org, "first_name", first),
        "last_name_index": blind_index(keys, org, "last_name", last),
    }


def hetu_index(keys: KeyRing, organisation_id: uuid.UUID, code: str) -> str:
    """The index stored with a new client (current key)."""
    return blind_index(keys, str(organisation_id), "hetu", code)


def hetu_indexes(keys: KeyRing, organisation_id: uuid.UUID, code: str) -> list[str]:
    """The indexes a search looks for (current key, and the previous one while it rotates)."""
    return blind_indexes(keys, str(organisation_id), "hetu", code)


def name_search_indexes(keys: KeyRing, organisation_id: uuid.UUID, words: str) -> list[str]:
    """Every index a name search looks for: full, first or last name, under each key in use."""
    return [
        i
        for kind in ("name", "first_name", "last_name")
        for i in blind_indexes(keys, str(organisation_id), kind, words)
    ]


# --------------------------------------------------------------------------- clients


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    return await session.get(Client, client_id)


async def client_by_hetu(session: AsyncSession, indexes: Sequence[str]) -> Client | None:
    """The client with the identity code (``hetu_indexes``); during a blind-index key rotation
    the same person could, in a race, have a row under each key: the oldest one answers."""
    q = select(Client).where(Client.hetu_index.in_(list(indexes))).order_by(Client.registered_at).limit(1)
    return (await session.execute(q)).scalar_one_or_none()


def to_record(client: Client, cipher: FieldCipher) -> ClientRecord:
    s = client_sealer(cipher, client.id)
    return ClientRecord(
        client_id=client.id,
        organisation_id=client.organisation_id,
        coach_id=client.coach_id,
        journey_id=client.journey_id,
        first_name=s.open("first_name", client.first_name_enc) or "",
        last_name=s.open("last_name", client.last_name_enc) or "",
        registered_at=client.registered_at,
    )


def to_details(client: Client, cipher: FieldCipher, consents: ClientConsents | None) -> ClientDetails:
    s = client_sealer(cipher, client.id)
    born = s.open("date_of_birth", client.date_of_birth_enc)
    return ClientDetails(
        **to_record(client, cipher).model_dump(),
        personal_identity_code=s.open("hetu", client.hetu_enc),
        date_of_birth=date.fromisoformat(born) if born else None,
        phone=s.open("phone", client.phone_enc),
        email=s.open("email", client.email_enc),
        preferred_language=client.preferred_language,
        municipality=s.open("municipality", client.municipality_enc),
        source=client.source,
        referral_id=client.referral_id,
        journey_status=client.journey_status,
        consent=consents,
    )


async def list_clients(session: AsyncSession, coach_id: uuid.UUID | None = None) -> list[Client]:
    q = select(Client).order_by(Client.registered_at)
    if coach_id is not None:
        q = q.where(Client.coach_id == coach_id)
    return list((await session.execute(q)).scalars())


async def search_clients(session: AsyncSession, indexes: Sequence[str], hetu: Sequence[str]) -> list[Client]:
    """Clients whose full, first or last name index is in ``indexes`` or whose identity-code
    index is in ``hetu``."""
    conditions: list[ColumnElement[bool]] = [
        column.in_(indexes) for column in (Client.name_index, Client.first_name_index, Client.last_name_index)
    ]
    if hetu:
        conditions.append(Client.hetu_index.in_(list(hetu)))
    q = select(Client).where(or_(*conditions)).order_by(Client.registered_at).limit(50)
    return list((await session.execute(q)).scalars())


async def active_caseloads(session: AsyncSession) -> dict[uuid.UUID, int]:
    """Active clients per coach in the session's organisation (resting and closed do not count)."""
    q = select(Client.coach_id, func.count()).where(Client.journey_status == "ACTIVE").group_by(Client.coach_id)
    return {coach_id: int(n) for coach_id, n in (await session.execute(q)).all()}


async def active_caseload(session: AsyncSession, coach_id: uuid.UUID) -> int:
    """One coach's active clients in the session's organisation."""
    q = select(func.count()).where(Client.coach_id == coach_id, Client.journey_status == "ACTIVE")
    return int((await session.execute(q)).scalar_one())


# --------------------------------------------------------------------------- consent


async def consent_entries(session: AsyncSession, client_id: uuid.UUID) -> list[ConsentEntry]:
    q = select(ConsentEntry).where(ConsentEntry.client_id == client_id).order_by(ConsentEntry.at.desc())
    return list((await session.execute(q)).scalars())


def to_consents(client_id: uuid.UUID, entries: list[ConsentEntry], cipher: FieldCipher) -> ClientConsents:
    """Entries newest first -> the consents in force and the whole history."""
    history = [
        ConsentState(
            scope=ConsentScope(e.scope),
            party=InformationParty(e.party) if e.party else None,
            party_name=Sealer(cipher, "consent", e.id).open("party_name", e.party_name_enc),
            given=e.given,
            at=e.at,
            recorded_by=e.recorded_by,
        )
        for e in entries
    ]
    current: dict[tuple[str, str | None, str | None], ConsentState] = {}
    for state in history:
        # "Other" parties are told apart by their name; the named codes by the code alone.
        name = state.party_name if state.party == InformationParty.OTHER else None
        current.setdefault((state.scope.value, state.party, name), state)
    in_force = sorted(current.values(), key=lambda c: (c.scope != ConsentScope.PROCESSING, c.party or "", c.at))
    processing = next((c.given for c in in_force if c.scope == ConsentScope.PROCESSING), False)
    return ClientConsents(client_id=client_id, processing=processing, current=in_force, history=history)


# --------------------------------------------------------------------------- referrals


async def get_referral(session: AsyncSession, referral_id: uuid.UUID) -> Referral | None:
    return await session.get(Referral, referral_id)


async def list_referrals(session: AsyncSession, status: ReferralStatus | None = None) -> list[Referral]:
    q = select(Referral).order_by(Referral.received_at.desc())
    if status is not None:
        q = q.where(Referral.status == status.value)
    return list((await session.execute(q.limit(500))).scalars())


def to_referral(r: Referral, cipher: FieldCipher) -> ReferralView:
    s = Sealer(cipher, "referral", r.id)
    return ReferralView(
        referral_id=r.id,
        status=ReferralStatus(r.status),
        referrer_type=ReferrerType(r.referrer_type),
        referrer_organisation=s.open("referrer_organisation", r.referrer_organisation_enc) or "",
        referrer_unit=s.open("referrer_unit", r.referrer_unit_enc),
        referrer_contact=s.open("referrer_contact", r.referrer_contact_enc),
        referred_on=r.referred_on,
        wants_open_employment=r.wants_open_employment,
        first_name=s.open("first_name", r.first_name_enc),
        last_name=s.open("last_name", r.last_name_enc),
        background=s.open("background", r.background_enc),
        requested_start=r.requested_start,
        received_at=r.received_at,
        decline_reason=DeclineReason(r.decline_reason) if r.decline_reason else None,
        decline_note=s.open("decline_note", r.decline_note_enc),
        decided_at=r.decided_at,
        client_id=r.client_id,
    )


async def referral_counts(session: AsyncSession) -> dict[str, int]:
    q = select(Referral.status, func.count()).group_by(Referral.status)
    return {status: int(n) for status, n in (await session.execute(q)).all()}


async def decline_counts(session: AsyncSession) -> dict[str, int]:
    q = (
        select(Referral.decline_reason, func.count())
        .where(Referral.status == ReferralStatus.DECLINED.value)
        .group_by(Referral.decline_reason)
    )
    return {reason: int(n) for reason, n in (await session.execute(q)).all() if reason}


async def recent_declines(session: AsyncSession, limit: int = 50) -> list[Referral]:
    q = (
        select(Referral)
        .where(Referral.status == ReferralStatus.DECLINED.value)
        .order_by(Referral.decided_at.desc())
        .limit(limit)
    )
    return list((await session.execute(q)).scalars())


# --------------------------------------------------------------------------- overrides, quick help


async def overrides(session: AsyncSession, limit: int = 100) -> list[AssignmentOverride]:
    q = select(AssignmentOverride).order_by(AssignmentOverride.at.desc()).limit(limit)
    return list((await session.execute(q)).scalars())


async def quick_help_totals(session: AsyncSession) -> tuple[int, int]:
    q = select(func.count(), func.coalesce(func.sum(QuickHelp.duration_minutes), 0))
    count, minutes = (await session.execute(q.select_from(QuickHelp))).one()
    return int(count), int(minutes)


async def recent_quick_help(session: AsyncSession, limit: int = 20) -> list[QuickHelp]:
    q = select(QuickHelp).order_by(QuickHelp.recorded_at.desc()).limit(limit)
    return list((await session.execute(q)).scalars())
