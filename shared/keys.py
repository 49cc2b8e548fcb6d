"""Secrets for the embedded stack.

Production sets every key through the environment. On a developer machine the keys
are generated once into ``data_dir/keys.json`` (mode 0600), so a second ``polku dev``
still reads the data the first one encrypted.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from shared.settings import Settings


@dataclass(frozen=True)
class KeyRing:
    secret_key: bytes
    field_keys: dict[str, bytes]
    active_field_key: str
    blind_index_key: bytes


def _b64key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _load_dev_file(path: Path) -> dict[str, str]:
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"secret_key": _b64key(), "field_key_id": "dev1", "field_key": _b64key(), "blind_index_key": _b64key()}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    return data


def load_keys(settings: Settings) -> KeyRing:
    dev: dict[str, str] | None = None
    if settings.secret_key is None or not settings.field_keys or settings.blind_index_key is None:
        dev = _load_dev_file(settings.data_dir / "keys.json")

    secret = settings.secret_key.get_secret_value() if settings.secret_key else dev["secret_key"]  # type: ignore[index]
    if settings.field_keys:
        field_keys = {k: base64.b64decode(v.get_secret_value()) for k, v in settings.field_keys.items()}
        active = settings.field_key_active or sorted(field_keys)[-1]
    else:
        assert dev is not None
        field_keys = {dev["field_key_id"]: base64.b64decode(dev["field_key"])}
        active = dev["field_key_id"]
    blind = (
        settings.blind_index_key.get_secret_value() if settings.blind_index_key else dev["blind_index_key"]  # type: ignore[index]
    )
    if active not in field_keys:
        raise ValueError(f"POLKU_FIELD_KEY_ACTIVE={active!r} names no key in POLKU_FIELD_KEYS")
    for kid, key in field_keys.items():
        if len(key) != 32:
            raise ValueError(f"field key {kid!r} must be 32 bytes (base64)")
    return KeyRing(
        secret_key=secret.encode(),
        field_keys=field_keys,
        active_field_key=active,
        blind_index_key=blind.encode(),
    )
