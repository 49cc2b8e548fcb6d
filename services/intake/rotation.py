"""Key rotation in the intake database.

``reencrypt``: every personal field under the active field key (``POLKU_FIELD_KEY_ACTIVE``).
Values carry their key id, so the service reads old and new values alike while this runs;
once it reports nothing left, the old key can go.

``reindex``: the blind indexes (identity code, names) recomputed under
``POLKU_BLIND_INDEX_KEY``. An index does not say its key, so during the rotation the service
runs with the old key as ``POLKU_BLIND_INDEX_KEY_PREVIOUS`` and searches under both; once
this reports nothing left, the previous key can go.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from services.intake import store
from services.intake.models import Client
from shared.crypto import FieldCipher
from shared.db import Database
from shared.keys import KeyRing, load_keys
from shared.settings import Settings

BATCH = 200


async def reencrypt(settings: Settings, batch: int = BATCH) -> dict[str, int]:
    """Re-encrypt the values not under the active key; returns the count per table.
    Idempotent: a second run re-encrypts nothing."""
    cipher = FieldCipher(load_keys(settings))
    db = Database(settings, "intake", immediate=True)
    counts: dict[str, int] = {}
    try:
        for model, (label, columns) in store.ENCRYPTED.items():

            def rotate(row: Any, label: str = label, columns: tuple[str, ...] = columns) -> int:
                return _rotate_row(cipher, label, row, columns)

            counts[model.__tablename__] = await _rewrite_rows(db, model, batch, rotate)
    finally:
        await db.dispose()
    return counts


async def reindex(settings: Settings, batch: int = BATCH) -> int:
    """Recompute every client's blind indexes under the current key from the decrypted
    values; returns the number of clients changed. Idempotent: a second run changes none."""
    keys = load_keys(settings)
    cipher = FieldCipher(keys)
    db = Database(settings, "intake", immediate=True)
    try:
        return await _rewrite_rows(db, Client, batch, lambda client: _reindex_row(keys, cipher, client))
    finally:
        await db.dispose()


async def _rewrite_rows(db: Database, model: Any, batch: int, rewrite: Callable[[Any], int]) -> int:
    """Every row of ``model``, ``batch`` rows per transaction with the rows locked, through
    ``rewrite`` (which changes a row in place and returns 1, or 0 for none); the total.
    BEGIN IMMEDIATE on SQLite, row locks on PostgreSQL: no write of a service interleaves."""
    key = sa_inspect(model).primary_key[0]
    async with db.session(cross_tenant=True) as session:
        ids: list[uuid.UUID] = list((await session.execute(select(key))).scalars())
    changed = 0
    for start in range(0, len(ids), batch):
        q = select(model).where(key.in_(ids[start : start + batch])).with_for_update()
        async with db.session(cross_tenant=True) as session, session.begin():
            for row in (await session.execute(q)).scalars():
                changed += rewrite(row)
    return changed


def _reindex_row(keys: KeyRing, cipher: FieldCipher, client: Client) -> int:
    s = store.client_sealer(cipher, client.id)
    first, last = s.open("first_name", client.first_name_enc) or "", s.open("last_name", client.last_name_enc) or ""
    code = s.open("hetu", client.hetu_enc)
    wanted: dict[str, str | None] = {
        **store.name_indexes(keys, client.organisation_id, first, last),
        "hetu_index": store.hetu_index(keys, client.organisation_id, code) if code else None,
    }
    if all(getattr(client, column) == value for column, value in wanted.items()):
        return 0
    for column, value in wanted.items():
        setattr(client, column, value)
    return 1


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
