from __future__ import annotations

import base64
import os
import uuid

import pytest
from cryptography.exceptions import InvalidTag

from shared.crypto import FieldCipher, blind_index, blind_indexes
from shared.keys import KeyRing


def ring(active: str = "k1", **keys: bytes) -> KeyRing:
    keys = keys or {"k1": os.urandom(32)}
    return KeyRing(secret_key=b"s", field_keys=keys, active_field_key=active, blind_index_key=b"b" * 32)


def test_roundtrip_and_ciphertext_hides_the_value() -> None:
    c = FieldCipher(ring())
    stored = c.encrypt("Aino Korhonen", "client:1:name")
    assert stored is not None and "Aino" not in stored and stored.startswith("v1:k1:")
    assert c.decrypt(stored, "client:1:name") == "Aino Korhonen"


def test_same_value_encrypts_differently_each_time() -> None:
    c = FieldCipher(ring())
    assert c.encrypt("x") != c.encrypt("x")


def test_context_binds_value_to_its_row() -> None:
    c = FieldCipher(ring())
    stored = c.encrypt("Aino", "client:1:first_name")
    with pytest.raises(InvalidTag):
        c.decrypt(stored, "client:2:first_name")


def test_rotation_old_values_still_decrypt() -> None:
    k1, k2 = os.urandom(32), os.urandom(32)
    old = FieldCipher(ring("k1", k1=k1)).encrypt("Eino")
    assert old is not None
    new_cipher = FieldCipher(ring("k2", k1=k1, k2=k2))
    assert new_cipher.decrypt(old) == "Eino"
    assert new_cipher.needs_rotation(old)
    fresh = new_cipher.encrypt("Eino")
    assert fresh is not None and not new_cipher.needs_rotation(fresh)


def test_blind_index_normalises_and_is_scoped_to_organisation() -> None:
    r = ring()
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert blind_index(r, a, "name", "Aino  Korhonen ".replace("  ", " ")) == blind_index(r, a, "name", "aino korhonen")
    assert blind_index(r, a, "name", "aino korhonen") != blind_index(r, b, "name", "aino korhonen")
    assert "aino" not in blind_index(r, a, "name", "aino korhonen")


def test_dev_keys_are_generated_once_and_reused(tmp_path: object) -> None:
    from pathlib import Path

    from shared.keys import load_keys
    from shared.settings import Settings

    s = Settings(data_dir=Path(str(tmp_path)))
    first, second = load_keys(s), load_keys(s)
    assert first == second
    assert (Path(str(tmp_path)) / "keys.json").stat().st_mode & 0o077 == 0


def test_configured_keys_must_be_32_bytes(tmp_path: object) -> None:
    from pathlib import Path

    from pydantic import SecretStr

    from shared.keys import load_keys
    from shared.settings import Settings

    s = Settings(
        data_dir=Path(str(tmp_path)),
        secret_key=SecretStr("x" * 40),
        blind_index_key=SecretStr("y" * 40),
        field_keys={"a": SecretStr(base64.b64encode(b"short").decode())},
    )
    with pytest.raises(ValueError, match="32 bytes"):
        load_keys(s)


def test_blind_indexes_search_the_previous_key_only_while_it_is_set() -> None:
    old = KeyRing(secret_key=b"s", field_keys={}, active_field_key="", blind_index_key=b"o" * 32)
    new = KeyRing(secret_key=b"s", field_keys={}, active_field_key="", blind_index_key=b"n" * 32)
    rotating = KeyRing(
        secret_key=b"s",
        field_keys={},
        active_field_key="",
        blind_index_key=b"n" * 32,
        previous_blind_index_key=b"o" * 32,
    )
    org = str(uuid.uuid4())
    assert blind_indexes(new, org, "hetu", "131052-308T") == [blind_index(new, org, "hetu", "131052-308T")]
    assert blind_indexes(rotating, org, "hetu", "131052-308t ") == [
        blind_index(new, org, "hetu", "131052-308T"),
        blind_index(old, org, "hetu", "131052-308T"),
    ]
    assert blind_index(old, org, "hetu", "131052-308T") != blind_index(new, org, "hetu", "131052-308T")
