"""Retention and subject access for the employer service's client data.

A client's data here: the match profile (preferences and interests, encrypted), the
placements (structured facts, plus the job title and type typed by staff), the
job-development contacts made on the client's behalf, openings carved for the client,
and the client's place in the matching pool (a projection of journey events).

``erase_client`` deletes the match profile and blanks the placements' free text
(``job_title`` becomes ``-``, ``job_type`` null); the structured facts stay, keyed by the
client id, which no longer leads to a person once intake has erased the registry record.
Employers, their contact persons and openings are the employers' data and stay.
Idempotent: a second run changes nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select

from services.employer import store
from services.employer.models import EmployerContact, MatchProfile, Opening, Placement, PoolClient
from shared.crypto import FieldCipher
from shared.db import Database

ERASED_TITLE = "-"


async def erase_client(db: Database, organisation_id: uuid.UUID, client_id: uuid.UUID) -> int:
    """Returns the number of rows changed or deleted."""
    changed = 0
    async with db.session(organisation_id=organisation_id) as session, session.begin():
        result = await session.execute(delete(MatchProfile).where(MatchProfile.client_id == client_id))
        changed += int(getattr(result, "rowcount", 0) or 0)
        q = select(Placement).where(
            Placement.client_id == client_id,
            or_(Placement.job_title != ERASED_TITLE, Placement.job_type.is_not(None)),
        )
        for placement in (await session.execute(q)).scalars():
            placement.job_title, placement.job_type = ERASED_TITLE, None
            changed += 1
    return changed


async def export_client(
    db: Database, cipher: FieldCipher, organisation_id: uuid.UUID, client_id: uuid.UUID
) -> dict[str, Any]:
    """Everything the employer service holds about the client (empty lists when nothing)."""
    async with db.session(organisation_id=organisation_id) as session:
        profile = await store.get_profile(session, client_id)
        placements = await store.placements(session, client_id=client_id)
        contacts = list(
            (
                await session.execute(
                    select(EmployerContact)
                    .where(EmployerContact.client_id == client_id)
                    .order_by(EmployerContact.occurred_on)
                )
            ).scalars()
        )
        openings = list((await session.execute(select(Opening).where(Opening.for_client_id == client_id))).scalars())
        pool = await session.get(PoolClient, client_id)
        names = await store.employer_names(session)
    return {
        "match_profile": (
            None
            if profile is None
            else store.to_profile_out(profile, store.decrypt_profile(cipher, profile)).model_dump(mode="json")
        ),
        "placements": [store.to_placement(p, names.get(p.employer_id, "")).model_dump(mode="json") for p in placements],
        "employer_contacts": [store.to_contact(c).model_dump(mode="json") for c in contacts],
        "openings_for_client": [
            store.to_opening(o, names.get(o.employer_id, "")).model_dump(mode="json") for o in openings
        ],
        "matching_pool": (
            None
            if pool is None
            else {
                "phase": pool.phase,
                "status": pool.status,
                "episode": pool.episode,
                "last_event_at": pool.last_event_at.isoformat(),
            }
        ),
    }
