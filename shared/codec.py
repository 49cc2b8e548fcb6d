"""Temporal payload encryption: AES-256-GCM, per-organisation keys, key ids for rotation.

Every Temporal client and worker of Polku converts payloads with ``data_converter`` (see
``workflows.client.connect``), so the Temporal server, its database and ``temporal workflow
show`` hold ciphertext only. The codec server (``services/coaching/codec_server.py``) lets
authorised users read their own organisation's payloads in the Temporal Web UI.

An encrypted payload is ``nonce (12 bytes) | AES-GCM(serialised original payload)`` with the
metadata

- ``encoding``: ``binary/encrypted``
- ``encryption-key-id``: the key that encrypted it
- ``encryption-org``: the organisation the payload belongs to (absent: the deployment's own)

and associated data binding the format version, the key id and the organisation, so a
payload cannot be relabelled to another key or organisation without failing to decrypt.

Which organisation: the SDK (temporalio >= 1.17) hands every codec a serialisation context
with the workflow id the payload belongs to (workflow input, updates, queries, results,
activity input and output of that workflow). Workflow ids that name an organisation,
``<kind>-<organisation uuid>[-...]`` such as ``journey-{org}-{client}``, select that
organisation's key; any other workflow (benchmarks, deployment-wide maintenance) uses the
deployment scope. Decryption needs no context: the metadata names the key.

Keys (``shared.keys.load_payload_keys``): deployment keys (scope ``*``) and organisations'
own keys. An organisation without its own key encrypts under a key derived from the
active deployment key with HKDF-SHA256 (info = the organisation id): organisations never
share a key, and one secret serves them all. Derived keys and AESGCM objects are cached
per (organisation, key id), so a payload costs one AES-GCM operation and no derivation.

Payloads without the ``binary/encrypted`` encoding pass through decoding unchanged: the
histories recorded before encryption (tests/replay) still replay.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticPayloadConverter
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    SerializationContext,
    WithSerializationContext,
    WorkflowSerializationContext,
)

from shared.keys import DEPLOYMENT_SCOPE, PayloadKeys

ENCODING = b"binary/encrypted"
META_ENCODING = "encoding"
META_KEY_ID = "encryption-key-id"
META_ORG = "encryption-org"
_AAD = b"polku/temporal-payload/v1"
_NONCE = 12
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ORG_IN_WORKFLOW_ID = re.compile(rf"^[A-Za-z][A-Za-z0-9_]*-({_UUID})(?:-|$)")


class PayloadDecryptError(ValueError):
    """An encrypted payload could not be decrypted: unknown key, or altered data/metadata."""


def organisation_of_workflow(workflow_id: str | None) -> str | None:
    """The organisation a workflow belongs to, from ids shaped ``<kind>-<org uuid>[-...]``."""
    if not workflow_id:
        return None
    m = _ORG_IN_WORKFLOW_ID.match(workflow_id)
    return m.group(1) if m else None


def organisation_of_context(context: SerializationContext) -> str | None:
    if isinstance(context, WorkflowSerializationContext | ActivitySerializationContext):
        return organisation_of_workflow(context.workflow_id)
    return None


def is_encrypted(payload: Payload) -> bool:
    return payload.metadata.get(META_ENCODING) == ENCODING


def payload_organisation(payload: Payload) -> str | None:
    """The organisation an encrypted payload names (None: deployment scope or not encrypted)."""
    raw = payload.metadata.get(META_ORG)
    return raw.decode() if raw else None


def _aad(key_id: str, organisation: str | None) -> bytes:
    return b"\x00".join((_AAD, key_id.encode(), (organisation or "").encode()))


class PayloadCipher:
    """Selects keys and encrypts/decrypts single payloads. Shared by every codec instance."""

    def __init__(self, keys: PayloadKeys) -> None:
        self._keys = keys
        self._deployment = keys.keys.get(DEPLOYMENT_SCOPE, {})
        self._aead: dict[tuple[str | None, str], AESGCM] = {}
        self._codecs: dict[str | None, EncryptionCodec] = {}

    def codec(self, organisation: str | None = None) -> EncryptionCodec:
        """The codec encrypting for ``organisation`` (one instance each, reused)."""
        codec = self._codecs.get(organisation)
        if codec is None:
            codec = self._codecs[organisation] = EncryptionCodec(self, organisation)
        return codec

    @property
    def keys(self) -> PayloadKeys:
        return self._keys

    def active_key_id(self, organisation: str | None) -> str:
        if organisation is not None and organisation in self._keys.active:
            return self._keys.active[organisation]
        return self._keys.active[DEPLOYMENT_SCOPE]

    def _aead_for(self, organisation: str | None, key_id: str) -> AESGCM:
        cached = self._aead.get((organisation, key_id))
        if cached is not None:
            return cached
        own = self._keys.keys.get(organisation, {}) if organisation is not None else {}
        if key_id in own:
            key = own[key_id]
        elif key_id in self._deployment:
            key = self._derive(self._deployment[key_id], organisation)
        else:
            scope = organisation or "the deployment"
            raise PayloadDecryptError(f"no payload key {key_id!r} for {scope}")
        aead = AESGCM(key)
        self._aead[(organisation, key_id)] = aead
        return aead

    @staticmethod
    def _derive(master: bytes, organisation: str | None) -> bytes:
        info = b"polku temporal payload key|" + (organisation or DEPLOYMENT_SCOPE).encode()
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=_AAD, info=info).derive(master)

    def encrypt(self, payload: Payload, organisation: str | None) -> Payload:
        key_id = self.active_key_id(organisation)
        nonce = os.urandom(_NONCE)
        sealed = self._aead_for(organisation, key_id).encrypt(
            nonce, payload.SerializeToString(), _aad(key_id, organisation)
        )
        metadata = {META_ENCODING: ENCODING, META_KEY_ID: key_id.encode()}
        if organisation is not None:
            metadata[META_ORG] = organisation.encode()
        return Payload(metadata=metadata, data=nonce + sealed)

    def decrypt(self, payload: Payload) -> Payload:
        """The original payload; a payload that is not encrypted is returned as it is."""
        if not is_encrypted(payload):
            return payload
        raw_id = payload.metadata.get(META_KEY_ID)
        if not raw_id:
            raise PayloadDecryptError("encrypted payload without a key id")
        key_id = raw_id.decode()
        organisation = payload_organisation(payload)
        data = payload.data
        if len(data) < _NONCE + 16:
            raise PayloadDecryptError("encrypted payload too short")
        try:
            plain = self._aead_for(organisation, key_id).decrypt(
                data[:_NONCE], data[_NONCE:], _aad(key_id, organisation)
            )
        except InvalidTag as exc:
            raise PayloadDecryptError(f"payload does not authenticate under key {key_id!r}") from exc
        return Payload.FromString(plain)

    def needs_rotation(self, payload: Payload) -> bool:
        """Whether an encrypted payload is under another key than its scope's active one."""
        raw_id = payload.metadata.get(META_KEY_ID)
        if not raw_id:
            return False
        return raw_id.decode() != self.active_key_id(payload_organisation(payload))


class EncryptionCodec(PayloadCodec, WithSerializationContext):
    """The payload codec of every Polku Temporal client and worker.

    ``organisation``: whose key encrypts; set from the serialisation context (the workflow
    id) by the SDK through ``with_context``. None: the deployment scope.
    """

    def __init__(self, cipher: PayloadCipher, organisation: str | None = None) -> None:
        self.cipher = cipher
        self.organisation = organisation

    def with_context(self, context: SerializationContext) -> Self:
        organisation = organisation_of_context(context)
        if organisation == self.organisation:
            return self
        return self.cipher.codec(organisation)  # type: ignore[return-value]

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.cipher.encrypt(p, self.organisation) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.cipher.decrypt(p) for p in payloads]


@dataclasses.dataclass(frozen=True)
class EncryptingDataConverter(DataConverter):
    """A DataConverter that makes its copy per organisation once.

    The SDK asks for a copy with the serialisation context for every client call and, in
    the worker, several times per workflow activation; a plain DataConverter clones itself
    (and builds new payload and failure converters) each time, which costs more than the
    encryption. The copies differ only in the codec's organisation, so they are kept.
    """

    _copies: dict[str | None, DataConverter] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def with_context(self, context: SerializationContext) -> Self:
        codec = self.payload_codec
        converter = self.payload_converter
        if not isinstance(codec, EncryptionCodec) or (
            isinstance(converter, WithSerializationContext) and converter.with_context(context) is not converter
        ):
            return super().with_context(context)  # a context-aware payload converter: no sharing
        organisation = organisation_of_context(context)
        if organisation == codec.organisation:
            return self
        copy = self._copies.get(organisation)
        if copy is None:
            copy = self._copies[organisation] = super().with_context(context)
        return copy  # type: ignore[return-value]


def data_converter(cipher: PayloadCipher) -> DataConverter:
    """Pydantic JSON payloads, encrypted; failure messages and stack traces encrypted too."""
    return EncryptingDataConverter(
        payload_converter_class=PydanticPayloadConverter,
        payload_codec=cipher.codec(None),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


# --------------------------------------------------------------------------- histories


def _payloads_in(message: Message) -> Iterator[Payload]:
    """Every ``temporal.api.common.v1.Payload`` inside a protobuf message (depth first)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        kind = field.message_type
        if field.type != field.TYPE_MESSAGE or kind is None:
            continue
        if kind.GetOptions().map_entry:
            value_field = kind.fields_by_name["value"]
            if value_field.type == value_field.TYPE_MESSAGE:
                for item in value.values():
                    yield from _payloads_in(item)
        elif field.is_repeated:
            for item in value:
                yield from _payloads_in(item)
        else:
            yield from _payloads_in(value)


def decrypt_message(cipher: PayloadCipher, message: Message) -> int:
    """Decrypt, in place, every encrypted payload in a protobuf message (e.g. a history event).

    For readers of workflow histories outside a worker (the auditor's trace, recording the
    replay tests' histories). Returns how many payloads were decrypted. Search attributes
    are never encrypted and pass untouched.
    """
    count = 0
    for payload in _payloads_in(message):
        if is_encrypted(payload):
            payload.CopyFrom(cipher.decrypt(payload))
            count += 1
    return count


def client_ids_in(payload: Payload, limit: int = 50) -> set[uuid.UUID]:
    """Values of ``client_id`` keys in a JSON payload (a few levels deep): whose data it is."""
    if payload.metadata.get(META_ENCODING) != b"json/plain":
        return set()
    try:
        value: Any = json.loads(payload.data)
    except ValueError:
        return set()
    found: set[uuid.UUID] = set()

    def walk(v: Any, depth: int) -> None:
        if depth > 4 or len(found) >= limit:
            return
        if isinstance(v, dict):
            for k, item in v.items():
                if k == "client_id" and isinstance(item, str):
                    with contextlib.suppress(ValueError):
                        found.add(uuid.UUID(item))
                else:
                    walk(item, depth + 1)
        elif isinstance(v, list):
            for item in v:
                walk(item, depth + 1)

    walk(value, 0)
    return found
