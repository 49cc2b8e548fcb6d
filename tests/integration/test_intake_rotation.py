"""Field-key rotation of the intake database, on SQLite and PostgreSQL: after the active
key changes, ``reencrypt`` moves every personal field to it and the values read the same."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from datetime import date

from pydantic import SecretStr
from sqlalchemy import select

from services.intake import store
from services.intake.models import Client, ConsentEntry, QuickHelp, Referral
from services.intake.rotation import reencrypt, reindex
from shared.crypto import FieldCipher
from shared.db import Database
from shared.keys import load_keys
from shared.migrations import upgrade
from shared.settings import Settings


def _key() -> SecretStr:
    return SecretStr(base64.b64encode(secrets.token_bytes(32)).decode())


async def test_reencrypt_moves_every_value_to_the_active_key(db_settings: Settings) -> None:
    old, new = _key(), _key()
    common = {"secret_key": SecretStr("s" * 32), "blind_index_key": SecretStr("b" * 32)}
    before = db_settings.model_copy(update={**common, "field_keys": {"k1": old}, "field_key_active": "k1"})
    after = db_settings.model_copy(update={**common, "field_keys": {"k1": old, "k2": new}, "field_key_active": "k2"})
    await asyncio.to_thread(upgrade, before, "intake")

    org, user, client_id, referral_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cipher = FieldCipher(load_keys(before))
    c = store.client_sealer(cipher, client_id)
    r = store.Sealer(cipher, "referral", referral_id)
    consent_id, quick_id = uuid.uuid4(), uuid.uuid4()
    db = Database(before, "intake")
    try:
        async with db.session(organisation_id=org) as session, session.begin():
            session.add_all(
                [
                    Client(
                        id=client_id,
                        organisation_id=org,
                        coach_id=user,
                        journey_id="j",
                        first_name_enc=c.seal("first_name", "Aino"),
                        last_name_enc=c.seal("last_name", "Laine"),
                        name_index="x",
                        hetu_enc=c.seal("hetu", "131052-308T"),
                        phone_enc=c.seal("phone", "040 123 4567"),
                        registered_by=user,
                    ),
                    Referral(
                        id=referral_id,
                        organisation_id=org,
                        referrer_type="kela",
                        referrer_organisation_enc=r.seal("referrer_organisation", "Kela Kotka"),
                        background_enc=r.seal("background", "Taustaa"),
                        referred_on=date(2026, 1, 5),
                        wants_open_employment=True,
                        received_by=user,
                    ),
                    ConsentEntry(
                        id=consent_id,
                        organisation_id=org,
                        client_id=client_id,
                        scope="information_exchange",
                        party="other",
                        party_name_enc=store.Sealer(cipher, "consent", consent_id).seal("party_name", "Nuorisotoimi"),
                        given=True,
                        recorded_by=user,
                    ),
                    QuickHelp(
                        id=quick_id,
                        organisation_id=org,
                        coach_id=user,
                        topic="cv",
                        duration_minutes=30,
                        occurred_on=date(2026, 1, 5),
                        person_name_enc=None,  # anonymous: nothing to rotate
                        recorded_by=user,
                    ),
                ]
            )
    finally:
        await db.dispose()

    counts = await reencrypt(after, batch=1)
    assert counts == {"clients": 4, "referrals": 2, "consents": 1, "assignment_overrides": 0, "quick_help": 0}
    assert set((await reencrypt(after)).values()) == {0}  # nothing left under the old key

    rotated = FieldCipher(load_keys(after))
    db = Database(after, "intake")
    try:
        async with db.session(organisation_id=org) as session:
            client = (await session.execute(select(Client))).scalar_one()
            referral = (await session.execute(select(Referral))).scalar_one()
            consent = (await session.execute(select(ConsentEntry))).scalar_one()
    finally:
        await db.dispose()
    for stored in (client.first_name_enc, client.hetu_enc, referral.background_enc, consent.party_name_enc):
        assert stored is not None and stored.startswith("v1:k2:")
    record = store.to_details(client, rotated, None)
    assert (record.first_name, record.last_name, record.personal_identity_code, record.phone) == (
        "Aino",
        "Laine",
        "131052-308T",
        "040 123 4567",
    )
    assert store.to_referral(referral, rotated).referrer_organisation == "Kela Kotka"
    # Without the old key, the rotated values still read.
    only_new = after.model_copy(update={"field_keys": {"k2": new}})
    assert store.to_record(client, FieldCipher(load_keys(only_new))).first_name == "Aino"


async def test_blind_index_key_rotates_searchable_throughout(db_settings: Settings) -> None:
    """The blind-index key changes: with the old key as the previous one, clients are found
    before and after ``reindex``; afterwards every index is under the new key, so the
    previous key can go; a second run changes nothing."""
    fields = {"secret_key": SecretStr("s" * 32), "field_keys": {"k1": _key()}, "field_key_active": "k1"}
    old, new = _key(), _key()
    before = db_settings.model_copy(update={**fields, "blind_index_key": old})
    rotating = db_settings.model_copy(update={**fields, "blind_index_key": new, "blind_index_key_previous": old})
    after = db_settings.model_copy(update={**fields, "blind_index_key": new})
    await asyncio.to_thread(upgrade, before, "intake")

    org, user = uuid.uuid4(), uuid.uuid4()
    people = {uuid.uuid4(): ("Aino", "Laine", "131052-308T"), uuid.uuid4(): ("Eino", "Lahti", None)}
    keys = load_keys(before)
    cipher = FieldCipher(keys)
    db = Database(before, "intake")
    try:
        async with db.session(organisation_id=org) as session, session.begin():
            for client_id, (first, last, code) in people.items():
                s = store.client_sealer(cipher, client_id)
                session.add(
                    Client(
                        id=client_id,
                        organisation_id=org,
                        coach_id=user,
                        journey_id=f"journey-{client_id}",
                        first_name_enc=s.seal("first_name", first),
                        last_name_enc=s.seal("last_name", last),
                        **store.name_indexes(keys, org, first, last),
                        hetu_enc=s.seal("hetu", code),
                        hetu_index=store.hetu_index(keys, org, code) if code else None,
                        registered_by=user,
                    )
                )
    finally:
        await db.dispose()

    async def found(settings: Settings) -> tuple[set[uuid.UUID], uuid.UUID | None]:
        ring = load_keys(settings)
        db = Database(settings, "intake")
        try:
            async with db.session(organisation_id=org) as session:
                by_name: set[uuid.UUID] = set()
                for words in ("Aino Laine", "laine", "EINO", "Lahti"):
                    hits = await store.search_clients(session, store.name_search_indexes(ring, org, words), [])
                    by_name |= {c.id for c in hits}
                by_code = await store.client_by_hetu(session, store.hetu_indexes(ring, org, "131052-308t"))
        finally:
            await db.dispose()
        return by_name, by_code.id if by_code else None

    aino = next(i for i, p in people.items() if p[0] == "Aino")
    assert await found(before) == (set(people), aino)
    assert await found(after) == (set(), None)  # the indexes depend on the key
    assert await found(rotating) == (set(people), aino)
    assert await reindex(rotating, batch=1) == 2
    assert await found(rotating) == (set(people), aino)
    assert await found(after) == (set(people), aino)  # the previous key can go
    assert await found(before) == (set(), None)
    assert await reindex(after) == 0
