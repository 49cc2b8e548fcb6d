"""Key rotation: re-encrypt every personal field of the intake database under the active
field key (``POLKU_FIELD_KEY_ACTIVE``). Values carry their key id, so the service reads old
and new values alike while this runs; once it reports nothing left, the old key can go.

Blind indexes are keyed separately (``POLKU_BLIND_INDEX_KEY``) and are not rotated here.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from services.intake import store
from shared.crypto import FieldCipher
from shared.db import Database
from shared.keys import load_keys
from shared.settings import Settings

BATCH = 200


async def reencrypt(settings: Settings, batch: int = BATCH) -> dict[str, int]:
    """Re-encrypt the values not under the active key; returns the count per table.
    Idempotent: a second run re-encrypts nothing."""
    cipher = FieldCipher(load_keys(settings))
    # BEGIN IMMEDIATE on SQLite, row locks on PostgreSQL: no write of a service interleaves.
    db = Database(settings, "intake", immediate=True)
    counts: dict[str, int] = {}
    try:
        for model, (label, columns) in store.ENCRYPTED.items():
            key = sa_inspect(model).primary_key[0]
            async with db.session(cross_tenant=True) as session:
                ids: list[uuid.UUID] = list((await session.execute(select(key))).scalars())
            changed = 0
            for start in range(0, len(ids), batch):
                q = select(model).where(key.in_(ids[start : start + batch])).with_for_update()
                async with db.session(cross_tenant=True) as session, session.begin():
                    for row in (await session.execute(q)).scalars():
                        changed += _rotate_row(cipher, label, row, columns)
            counts[model.__tablename__] = changed
    finally:
        await db.dispose()
    return counts


def _rotate_row(cipher: FieldCipher, label: str, row: Any, columns: tuple[str, ...]) -> int:
    changed = 0
    for column in columns:
        stored = getattr(row, column)
        if stored is None or not cipher.needs_rotation(stored):
            continue
        context = store.context(label, row.id, column.removesuffix("_enc"))
        setattr(row, column, cipher.encrypt(cipher.decrypt(stored, context), context))
        changed += 1
    return changed
