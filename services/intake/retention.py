"""Retention and subject access for the intake registry.

- ``closed_journeys``: the retention workflow's candidates. Intake keeps each client's
  journey status and the time of the newest journey event (``consumers``); for a CLOSED
  journey that is the close (only ``reopen`` is accepted after it, which makes the status
  ACTIVE again). The workflow confirms each candidate against the journey itself.
- ``erase_client``: pseudonymises the client's registry record (names become
  ``#<8 hex of the id>``, the blind indexes follow the pseudonym) and erases the identity
  code and its index, date of birth and contact details, the free text of the referral
  that started the journey, named consent parties and override reasons; sets
  ``erased_at``. Idempotent: an erased client is left alone.
- ``export_client``: everything intake holds about one client, decrypted.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from services.intake import store
from services.intake.models import AssignmentOverride, Client, ConsentEntry, Referral
from shared.crypto import FieldCipher
from shared.db import Database, utcnow
from shared.keys import KeyRing
from shared.retention import ClosedJourney

# Referral fields erased with the client (the referrer organisation, a unit name, stays).
_REFERRAL_ERASED = (
    "referrer_unit_enc",
    "referrer_contact_enc",
    "first_name_enc",
    "last_name_enc",
    "background_enc",
    "decline_note_enc",
)
_CLIENT_ERASED = ("hetu_enc", "hetu_index", "date_of_birth_enc", "phone_enc", "email_enc", "municipality_enc")
ERASED_OVERRIDE_REASON = "-"


def pseudonym(client_id: uuid.UUID) -> str:
    return f"#{client_id.hex[:8]}"


async def closed_journeys(
    db: Database, limit: int = 1000, organisations: Sequence[uuid.UUID] | None = None
) -> list[ClosedJourney]:
    """Clients whose journey is CLOSED and whose data is not erased, oldest close first,
    across organisations (or in ``organisations`` only)."""
    q = (
        select(Client.organisation_id, Client.id, Client.journey_event_at)
        .where(Client.journey_status == "CLOSED", Client.erased_at.is_(None), Client.journey_event_at.is_not(None))
        .order_by(Client.journey_event_at)
        .limit(limit)
    )
    if organisations is not None:
        q = q.where(Client.organisation_id.in_(list(organisations)))
    async with db.session(cross_tenant=True) as session:
        rows = (await session.execute(q)).all()
    return [ClosedJourney(org, client, at) for org, client, at in rows if at is not None]


async def erase_client(
    db: Database,
    cipher: FieldCipher,
    keys: KeyRing,
    organisation_id: uuid.UUID,
    client_id: uuid.UUID,
    now: datetime | None = None,
) -> int:
    """Erase the client's personal fields; returns the number of rows changed (0 when the
    client is unknown in the organisation or already erased)."""
    async with db.session(organisation_id=organisation_id) as session, session.begin():
        client = await session.get(Client, client_id, with_for_update=True)
        if client is None or client.erased_at is not None:
            return 0
        name = pseudonym(client_id)
        sealer = store.client_sealer(cipher, client_id)
        client.first_name_enc = sealer.seal("first_name", "") or ""
        client.last_name_enc = sealer.seal("last_name", name) or ""
        for column, value in store.name_indexes(keys, organisation_id, "", name).items():
            setattr(client, column, value)
        for column in _CLIENT_ERASED:
            setattr(client, column, None)
        client.erased_at = now or utcnow()
        changed = 1
        referrals = select(Referral).where(Referral.client_id == client_id)
        for referral in (await session.execute(referrals)).scalars():
            for column in _REFERRAL_ERASED:
                setattr(referral, column, None)
            changed += 1
        consents = select(ConsentEntry).where(
            ConsentEntry.client_id == client_id, ConsentEntry.party_name_enc.is_not(None)
        )
        for consent in (await session.execute(consents)).scalars():
            consent.party_name_enc = None
            changed += 1
        overrides = select(AssignmentOverride).where(AssignmentOverride.client_id == client_id)
        for override in (await session.execute(overrides)).scalars():
            override.reason_enc = (
                store.Sealer(cipher, "override", override.id).seal("reason", ERASED_OVERRIDE_REASON) or ""
            )
            changed += 1
    return changed


async def is_erased(db: Database, organisation_id: uuid.UUID, client_id: uuid.UUID) -> bool:
    async with db.session(organisation_id=organisation_id) as session:
        client = await session.get(Client, client_id)
    return client is not None and client.erased_at is not None


async def export_client(
    db: Database, cipher: FieldCipher, organisation_id: uuid.UUID, client_id: uuid.UUID
) -> dict[str, Any] | None:
    """The client's registry record, consents, referrals and assignment overrides; None
    when the organisation has no such client."""
    async with db.session(organisation_id=organisation_id) as session:
        client = await session.get(Client, client_id)
        if client is None:
            return None
        entries = await store.consent_entries(session, client_id)
        referrals = list((await session.execute(select(Referral).where(Referral.client_id == client_id))).scalars())
        overrides = list(
            (
                await session.execute(select(AssignmentOverride).where(AssignmentOverride.client_id == client_id))
            ).scalars()
        )
    details = store.to_details(client, cipher, store.to_consents(client_id, entries, cipher))
    return {
        "client": details.model_dump(mode="json"),
        "journey_status": client.journey_status,
        "erased_at": client.erased_at.isoformat() if client.erased_at else None,
        "referrals": [store.to_referral(r, cipher).model_dump(mode="json") for r in referrals],
        "assignment_overrides": [
            {
                "coach_id": str(o.coach_id),
                "active_before": o.active_before,
                "capacity": o.capacity,
                "reason": store.Sealer(cipher, "override", o.id).open("reason", o.reason_enc),
                "at": o.at.isoformat(),
                "decided_by": str(o.decided_by),
            }
            for o in overrides
        ],
    }
