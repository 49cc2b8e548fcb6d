"""Secrets for the embedded stack.

Production sets every key through the environment. On a developer machine the keys
are generated once into ``data_dir/keys.json`` (mode 0600), so a second ``polku dev``
still reads the data the first one encrypted.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.settings import Settings


@dataclass(frozen=True)
class KeyRing:
    secret_key: bytes
    field_keys: dict[str, bytes]
    active_field_key: str
    blind_index_key: bytes
    # The key being rotated away from: searched as well until every index is recomputed.
    previous_blind_index_key: bytes | None = None


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
        previous_blind_index_key=(
            settings.blind_index_key_previous.get_secret_value().encode() if settings.blind_index_key_previous else None
        ),
    )


# --------------------------------------------------------------------------- Temporal payloads

DEPLOYMENT_SCOPE = "*"
FIELD_DERIVED_PREFIX = "field."
_PAYLOAD_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class PayloadKeys:
    """Keys of the Temporal payload codec (``shared/codec.py``).

    ``keys[scope][key id]``: scope ``"*"`` holds the deployment's keys (an organisation without
    keys of its own encrypts under a key derived from the active one); an organisation id
    holds that organisation's own keys, used as they are. ``active[scope]`` encrypts; every
    key decrypts, so keys rotate by adding a key and making it active. Key ids are unique
    across scopes.
    """

    keys: dict[str, dict[str, bytes]]
    active: dict[str, str]


def _scope(raw: str) -> str:
    if raw == DEPLOYMENT_SCOPE:
        return raw
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise ValueError(f"payload key scope {raw!r} is neither '*' nor an organisation id") from None


def _payload_source(
    keys: dict[str, dict[str, str]], active: dict[str, str], origin: str
) -> tuple[dict[str, dict[str, bytes]], dict[str, str]]:
    out: dict[str, dict[str, bytes]] = {}
    for raw_scope, by_id in keys.items():
        scope = _scope(raw_scope)
        for kid, b64 in by_id.items():
            if not _PAYLOAD_KEY_ID.match(kid) or kid.startswith(FIELD_DERIVED_PREFIX):
                raise ValueError(f"{origin}: payload key id {kid!r} is not allowed")
            key = base64.b64decode(b64, validate=True)
            if len(key) != 32:
                raise ValueError(f"{origin}: payload key {kid!r} must be 32 bytes (base64)")
            out.setdefault(scope, {})[kid] = key
    return out, {_scope(k): v for k, v in active.items()}


def _field_derived(ring: KeyRing) -> dict[str, bytes]:
    """Deployment payload keys derived from the field keys (HKDF-SHA256, own purpose label).

    Every process of a deployment already shares the field keys, so the payload codec works
    with no secret of its own; rotating the field keys rotates these too.
    """
    return {
        FIELD_DERIVED_PREFIX + kid: HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"polku", info=b"polku temporal payload deployment key"
        ).derive(key)
        for kid, key in ring.field_keys.items()
    }


def load_payload_keys(settings: Settings, ring: KeyRing | None = None) -> PayloadKeys:
    """The payload keys: ``POLKU_PAYLOAD_KEY_FILE`` and ``POLKU_PAYLOAD_KEYS`` (merged), plus the
    keys derived from the field keys, which are always kept for decryption and encrypt for
    the deployment scope when no deployment key is set."""
    ring = ring or load_keys(settings)
    sources: list[tuple[dict[str, dict[str, bytes]], dict[str, str]]] = []
    if settings.payload_key_file is not None:
        data = json.loads(settings.payload_key_file.read_text())
        sources.append(_payload_source(data.get("keys", {}), data.get("active", {}), str(settings.payload_key_file)))
    if settings.payload_keys:
        plain = {s: {k: v.get_secret_value() for k, v in ids.items()} for s, ids in settings.payload_keys.items()}
        sources.append(_payload_source(plain, settings.payload_key_active, "POLKU_PAYLOAD_KEYS"))
    elif settings.payload_key_active:
        sources.append(({}, {_scope(k): v for k, v in settings.payload_key_active.items()}))

    keys: dict[str, dict[str, bytes]] = {}
    active: dict[str, str] = {}
    for src_keys, src_active in sources:
        for scope, by_id in src_keys.items():
            mine = keys.setdefault(scope, {})
            for kid, key in by_id.items():
                if mine.get(kid, key) != key:
                    raise ValueError(
                        f"payload key {kid!r} of scope {scope!r} differs between the key file and settings"
                    )
                mine[kid] = key
        active.update(src_active)

    explicit_deployment = sorted(keys.get(DEPLOYMENT_SCOPE, {}))
    keys.setdefault(DEPLOYMENT_SCOPE, {}).update(_field_derived(ring))
    seen: dict[str, str] = {}
    for scope, by_id in keys.items():
        for kid in by_id:
            if kid in seen:
                raise ValueError(f"payload key id {kid!r} is used in two scopes ({seen[kid]!r}, {scope!r})")
            seen[kid] = scope
        if scope not in active:
            if scope == DEPLOYMENT_SCOPE:
                active[scope] = (
                    explicit_deployment[-1] if explicit_deployment else FIELD_DERIVED_PREFIX + ring.active_field_key
                )
            else:
                active[scope] = sorted(by_id)[-1]
    for scope, kid in active.items():
        if kid not in keys.get(scope, {}):
            raise ValueError(f"POLKU_PAYLOAD_KEY_ACTIVE: {kid!r} names no payload key of scope {scope!r}")
    return PayloadKeys(keys=keys, active=active)
