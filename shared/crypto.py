"""Field encryption at rest (AES-256-GCM with key ids) and keyed blind indexes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import unicodedata

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.keys import KeyRing

_PREFIX = "v1"


class FieldCipher:
    """Encrypts personal fields. The stored form is ``v1:<key id>:<base64(nonce|ciphertext)>``.

    The key id travels with the value, so old values stay readable after the active key
    changes; ``needs_rotation`` tells which values to re-encrypt.
    """

    def __init__(self, keys: KeyRing) -> None:
        self._keys = keys

    def encrypt(self, plaintext: str | None, context: str = "") -> str | None:
        if plaintext is None:
            return None
        kid = self._keys.active_field_key
        nonce = os.urandom(12)
        ct = AESGCM(self._keys.field_keys[kid]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_PREFIX}:{kid}:{base64.b64encode(nonce + ct).decode()}"

    def decrypt(self, stored: str | None, context: str = "") -> str | None:
        if stored is None:
            return None
        prefix, kid, blob = stored.split(":", 2)
        if prefix != _PREFIX:
            raise ValueError("unknown ciphertext format")
        raw = base64.b64decode(blob)
        return AESGCM(self._keys.field_keys[kid]).decrypt(raw[:12], raw[12:], context.encode()).decode()

    def needs_rotation(self, stored: str) -> bool:
        return stored.split(":", 2)[1] != self._keys.active_field_key


def normalise_for_index(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


def blind_index(keys: KeyRing, organisation_id: str, kind: str, value: str) -> str:
    """Keyed hash for equality search. Scoped to the organisation, so the same person in
    two organisations gets unrelated index values."""
    return _blind_index(keys.blind_index_key, organisation_id, kind, value)


def blind_indexes(keys: KeyRing, organisation_id: str, kind: str, value: str) -> list[str]:
    """The values to search for: under the current key, and under the previous key while
    the blind-index key rotates (rows not yet reindexed still carry the old value)."""
    found = [blind_index(keys, organisation_id, kind, value)]
    if keys.previous_blind_index_key is not None:
        found.append(_blind_index(keys.previous_blind_index_key, organisation_id, kind, value))
    return found


def _blind_index(key: bytes, organisation_id: str, kind: str, value: str) -> str:
    msg = f"{organisation_id}|{kind}|{normalise_for_index(value)}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()
