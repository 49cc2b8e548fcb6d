"""Queries of the client registry, always inside one organisation's scope."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.models import Client
from shared.contracts.api import ClientRecord
from shared.crypto import FieldCipher


def name_context(client_id: uuid.UUID, field: str) -> str:
    # Binds each ciphertext to its row and field, so values cannot be swapped between rows.
    return f"client:{client_id}:{field}"


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> Client | None:
    return await session.get(Client, client_id)


def to_record(client: Client, cipher: FieldCipher) -> ClientRecord:
    return ClientRecord(
        client_id=client.id,
        organisation_id=client.organisation_id,
        coach_id=client.coach_id,
        journey_id=client.journey_id,
        first_name=cipher.decrypt(client.first_name_enc, name_context(client.id, "first_name")) or "",
        last_name=cipher.decrypt(client.last_name_enc, name_context(client.id, "last_name")) or "",
        registered_at=client.registered_at,
    )


async def list_clients(session: AsyncSession, coach_id: uuid.UUID | None = None) -> list[Client]:
    q = select(Client).order_by(Client.registered_at)
    if coach_id is not None:
        q = q.where(Client.coach_id == coach_id)
    return list((await session.execute(q)).scalars())
