"""The Temporal payload codec: AES-256-GCM, per-organisation keys, key ids, rotation."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads, SearchAttributes
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent, WorkflowExecutionStartedEventAttributes
from temporalio.converter import (
    ActivitySerializationContext,
    WorkflowSerializationContext,
)
from temporalio.exceptions import ApplicationError

from shared.codec import (
    ENCODING,
    META_KEY_ID,
    META_ORG,
    EncryptionCodec,
    PayloadCipher,
    PayloadDecryptError,
    client_ids_in,
    data_converter,
    decrypt_message,
    organisation_of_workflow,
)
from shared.contracts.journey import Role
from shared.keys import DEPLOYMENT_SCOPE, FIELD_DERIVED_PREFIX, load_payload_keys
from shared.settings import Settings
from workflows.contracts import Actor, JourneyInput

ORG_A = str(uuid.uuid4())
ORG_B = str(uuid.uuid4())


def b64key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


FIELD_KEY = b64key()


def settings(tmp_path: Path, **extra: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": tmp_path,
        "secret_key": SecretStr("s" * 32),
        "blind_index_key": SecretStr("b" * 32),
        "field_keys": {"f1": SecretStr(FIELD_KEY)},
    }
    return Settings.model_validate({**base, **extra})


def cipher(tmp_path: Path, **extra: object) -> PayloadCipher:
    return PayloadCipher(load_payload_keys(settings(tmp_path, **extra)))


def plain(text: str = '{"organisation_id": "x", "client_id": "y"}') -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


def journey_ctx(org: str) -> WorkflowSerializationContext:
    return WorkflowSerializationContext(namespace="default", workflow_id=f"journey-{org}-{uuid.uuid4()}")


# --------------------------------------------------------------------------- the cipher


def test_round_trip_hides_the_plaintext_and_names_key_and_organisation(tmp_path: Path) -> None:
    c = cipher(tmp_path)
    original = plain('{"organisation_id": "secret-org", "region_id": "kymenlaakso"}')
    sealed = c.encrypt(original, ORG_A)
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata[META_KEY_ID] == f"{FIELD_DERIVED_PREFIX}f1".encode()
    assert sealed.metadata[META_ORG] == ORG_A.encode()
    assert b"organisation_id" not in sealed.SerializeToString()
    assert b"kymenlaakso" not in sealed.SerializeToString()
    assert b"json/plain" not in sealed.SerializeToString()  # the inner metadata is sealed too
    assert c.decrypt(sealed) == original
    # A fresh 96-bit nonce each time: the same payload never encrypts the same way twice.
    again = c.encrypt(original, ORG_A)
    assert again.data[:12] != sealed.data[:12] and again.data != sealed.data


def test_tampered_data_or_metadata_does_not_decrypt(tmp_path: Path) -> None:
    c = cipher(tmp_path)
    sealed = c.encrypt(plain(), ORG_A)
    flipped = bytearray(sealed.data)
    flipped[-1] ^= 1
    with pytest.raises(PayloadDecryptError):
        c.decrypt(Payload(metadata=sealed.metadata, data=bytes(flipped)))
    # Relabelled to another organisation: the associated data no longer matches.
    relabelled = Payload()
    relabelled.CopyFrom(sealed)
    relabelled.metadata[META_ORG] = ORG_B.encode()
    with pytest.raises(PayloadDecryptError):
        c.decrypt(relabelled)
    # Organisation label removed (deployment scope): fails as well.
    del relabelled.metadata[META_ORG]
    with pytest.raises(PayloadDecryptError):
        c.decrypt(relabelled)
    with pytest.raises(PayloadDecryptError):
        c.decrypt(Payload(metadata={"encoding": ENCODING, META_KEY_ID: b"field.f1"}, data=b"short"))


def test_wrong_or_unknown_key_id_does_not_decrypt(tmp_path: Path) -> None:
    two = cipher(tmp_path, payload_keys={"*": {"d1": SecretStr(b64key()), "d2": SecretStr(b64key())}})
    sealed = two.encrypt(plain(), ORG_A)
    assert sealed.metadata[META_KEY_ID] == b"d2"
    other = Payload()
    other.CopyFrom(sealed)
    other.metadata[META_KEY_ID] = b"d1"  # a key that exists, but not the one used
    with pytest.raises(PayloadDecryptError):
        two.decrypt(other)
    other.metadata[META_KEY_ID] = b"nope"
    with pytest.raises(PayloadDecryptError, match="no payload key 'nope'"):
        two.decrypt(other)
    del other.metadata[META_KEY_ID]
    with pytest.raises(PayloadDecryptError, match="without a key id"):
        two.decrypt(other)
    # Another deployment (other keys) cannot read it.
    with pytest.raises(PayloadDecryptError):
        cipher(tmp_path / "other", payload_keys={"*": {"d2": SecretStr(b64key())}}).decrypt(sealed)


def test_rotation_old_payloads_still_decode_new_ones_use_the_new_key(tmp_path: Path) -> None:
    k1, k2 = b64key(), b64key()
    before = cipher(tmp_path, payload_keys={"*": {"k1": SecretStr(k1)}})
    old = before.encrypt(plain('{"n": 1}'), ORG_A)
    assert old.metadata[META_KEY_ID] == b"k1"

    after = cipher(tmp_path, payload_keys={"*": {"k1": SecretStr(k1), "k2": SecretStr(k2)}})
    assert after.active_key_id(ORG_A) == "k2"  # the greatest key id, by default
    assert after.decrypt(old) == plain('{"n": 1}')
    assert after.needs_rotation(old)
    new = after.encrypt(plain('{"n": 2}'), ORG_A)
    assert new.metadata[META_KEY_ID] == b"k2" and not after.needs_rotation(new)
    assert after.decrypt(new) == plain('{"n": 2}')

    # An explicit active key wins over the order of ids; k1 still decrypts everything.
    pinned = cipher(
        tmp_path, payload_keys={"*": {"k1": SecretStr(k1), "k2": SecretStr(k2)}}, payload_key_active={"*": "k1"}
    )
    assert pinned.encrypt(plain(), ORG_A).metadata[META_KEY_ID] == b"k1"
    assert pinned.decrypt(new) == plain('{"n": 2}')

    # The keys derived from the field keys stay for decryption after an explicit key arrives.
    derived_only = cipher(tmp_path)
    earliest = derived_only.encrypt(plain('{"n": 0}'), ORG_A)
    assert after.decrypt(earliest) == plain('{"n": 0}')


def test_each_organisation_has_its_own_key_and_may_bring_one(tmp_path: Path) -> None:
    c = cipher(tmp_path)
    a, b = c.encrypt(plain(), ORG_A), c.encrypt(plain(), ORG_B)
    assert a.metadata[META_KEY_ID] == b.metadata[META_KEY_ID]  # same deployment key id ...
    # ... but a different derived key: B's payload relabelled as A's does not decrypt.
    forged = Payload()
    forged.CopyFrom(b)
    forged.metadata[META_ORG] = ORG_A.encode()
    with pytest.raises(PayloadDecryptError):
        c.decrypt(forged)

    own = b64key()
    with_own = cipher(tmp_path, payload_keys={ORG_A.upper(): {"a-2026": SecretStr(own)}})
    mine = with_own.encrypt(plain(), ORG_A)
    assert mine.metadata[META_KEY_ID] == b"a-2026"
    assert with_own.encrypt(plain(), ORG_B).metadata[META_KEY_ID] == b"field.f1"  # B unaffected
    assert with_own.decrypt(a) == plain()  # A's older payloads (derived key) still decode
    # The organisation's own key is used as it is: anyone holding it can check.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from shared.codec import _aad

    inner = AESGCM(base64.b64decode(own)).decrypt(mine.data[:12], mine.data[12:], _aad("a-2026", ORG_A))
    assert Payload.FromString(inner) == plain()


def test_unencrypted_payloads_pass_through_decoding(tmp_path: Path) -> None:
    c = cipher(tmp_path)
    recorded = [plain('{"phase": "INTAKE"}'), Payload(metadata={"encoding": b"binary/null"})]
    assert [c.decrypt(p) for p in recorded] == recorded
    mixed = [recorded[0], c.encrypt(plain('{"phase": "PROFILING"}'), None)]
    assert [c.decrypt(p) for p in mixed] == [recorded[0], plain('{"phase": "PROFILING"}')]
    assert mixed[1].metadata.get(META_ORG) is None  # deployment scope: no organisation


# --------------------------------------------------------------------------- the codec and context


def test_organisation_comes_from_the_workflow_id() -> None:
    org, client = str(uuid.uuid4()), str(uuid.uuid4())
    assert organisation_of_workflow(f"journey-{org}-{client}") == org
    assert organisation_of_workflow(f"retention-{org}") == org
    assert organisation_of_workflow(f"bench-noop-{uuid.uuid4()}") is None
    assert organisation_of_workflow("journey-org-dev-x") is None
    assert organisation_of_workflow(f"x{org}") is None
    assert organisation_of_workflow(None) is None


async def test_codec_takes_the_organisation_from_the_serialisation_context(tmp_path: Path) -> None:
    c = cipher(tmp_path)
    root = c.codec()
    assert root.organisation is None
    wf = root.with_context(journey_ctx(ORG_A))
    assert isinstance(wf, EncryptionCodec) and wf.organisation == ORG_A
    assert wf.with_context(journey_ctx(ORG_A)) is wf  # reused, no new object per activation
    act = root.with_context(
        ActivitySerializationContext(
            namespace="default",
            activity_id="1",
            activity_type="publish",
            activity_task_queue="q",
            workflow_id=f"journey-{ORG_B}-{uuid.uuid4()}",
            workflow_type="ClientJourney",
            is_local=False,
        )
    )
    assert act.organisation == ORG_B
    assert root.with_context(WorkflowSerializationContext("default", "bench-noop-1")).organisation is None
    (sealed,) = await wf.encode([plain()])
    assert sealed.metadata[META_ORG] == ORG_A.encode()
    assert await root.decode([sealed]) == [plain()]  # decoding needs no context


async def test_data_converter_copies_per_organisation_are_made_once(tmp_path: Path) -> None:
    dc = data_converter(cipher(tmp_path))
    a1, a2, b = (
        dc.with_context(journey_ctx(ORG_A)),
        dc.with_context(journey_ctx(ORG_A)),
        dc.with_context(journey_ctx(ORG_B)),
    )
    assert a1 is a2 and a1 is not b and a1 is not dc
    assert a1.with_context(journey_ctx(ORG_B)) is b and b.with_context(journey_ctx(ORG_A)) is a1
    assert dc.with_context(WorkflowSerializationContext("default", "bench-noop-1")) is dc
    assert a1.payload_converter is dc.payload_converter  # the pydantic converter (and its caches) is shared
    for conv, org in ((a1, ORG_A), (b, ORG_B)):
        (sealed,) = await conv.encode(["x"])
        assert sealed.metadata[META_ORG] == org.encode()


async def test_data_converter_encrypts_journey_inputs_and_failures(tmp_path: Path) -> None:
    c = cipher(tmp_path)
    dc = data_converter(c)
    org, client, coach = uuid.UUID(ORG_A), uuid.uuid4(), uuid.uuid4()
    inp = JourneyInput(
        organisation_id=org,
        region_id="kymenlaakso",
        client_id=client,
        coach_id=coach,
        actor=Actor(user_id=coach, role=Role.COACH),
    )
    in_context = dc.with_context(journey_ctx(ORG_A))
    (payload,) = await in_context.encode([inp])
    wire = payload.SerializeToString()
    for needle in (b"organisation_id", b"kymenlaakso", str(client).encode(), str(coach).encode()):
        assert needle not in wire
    assert payload.metadata[META_ORG] == ORG_A.encode()
    assert await dc.decode([payload], [JourneyInput]) == [inp]

    failure = Failure()
    await in_context.encode_failure(ApplicationError("client 123 said no", type="not_resting"), failure)
    assert "client 123" not in failure.message and b"client 123" not in failure.SerializeToString()
    err = await dc.decode_failure(failure)
    assert isinstance(err, ApplicationError) and err.message == "client 123 said no" and err.type == "not_resting"


async def test_decrypt_message_opens_a_history_event_but_not_its_search_attributes(tmp_path: Path) -> None:
    c = cipher(tmp_path)
    sealed = c.encrypt(plain('{"client_id": "c"}'), ORG_A)
    attr = Payload(metadata={"encoding": b"json/plain"}, data=b'"org"')
    event = HistoryEvent(
        event_id=1,
        workflow_execution_started_event_attributes=WorkflowExecutionStartedEventAttributes(
            input=Payloads(payloads=[sealed]),
            search_attributes=SearchAttributes(indexed_fields={"OrganisationId": attr}),
        ),
    )
    event.workflow_execution_started_event_attributes.memo.fields["m"].CopyFrom(c.encrypt(plain('"memo"'), ORG_A))
    assert decrypt_message(c, event) == 2
    started = event.workflow_execution_started_event_attributes
    assert started.input.payloads[0] == plain('{"client_id": "c"}')
    assert started.memo.fields["m"] == plain('"memo"')
    assert started.search_attributes.indexed_fields["OrganisationId"] == attr
    assert decrypt_message(c, event) == 0  # already plain


def test_client_ids_are_found_for_the_audit() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    body = {"client_id": str(a), "events": [{"client_id": str(b)}, {"client_id": "not-a-uuid"}]}
    assert client_ids_in(plain(json.dumps(body))) == {a, b}
    assert client_ids_in(Payload(metadata={"encoding": b"binary/null"})) == set()
    assert client_ids_in(plain("not json")) == set()


# --------------------------------------------------------------------------- key loading


def test_keys_from_a_file_and_settings_merge(tmp_path: Path) -> None:
    k_file, k_env, k_org = b64key(), b64key(), b64key()
    path = tmp_path / "payload-keys.json"
    path.write_text(json.dumps({"keys": {"*": {"p1": k_file}, ORG_A: {"a1": k_org}}, "active": {"*": "p1"}}))
    keys = load_payload_keys(settings(tmp_path, payload_key_file=path, payload_keys={"*": {"p2": SecretStr(k_env)}}))
    assert set(keys.keys[DEPLOYMENT_SCOPE]) == {"p1", "p2", "field.f1"}
    assert keys.keys[ORG_A] == {"a1": base64.b64decode(k_org)}
    assert keys.active == {DEPLOYMENT_SCOPE: "p1", ORG_A: "a1"}
    # Nothing configured: the deployment encrypts under the key derived from the field key,
    # the same in every process that shares the field keys.
    one, two = load_payload_keys(settings(tmp_path)), load_payload_keys(settings(tmp_path / "2"))
    assert one.active == {DEPLOYMENT_SCOPE: "field.f1"}
    assert one.keys[DEPLOYMENT_SCOPE]["field.f1"] == two.keys[DEPLOYMENT_SCOPE]["field.f1"]
    assert one.keys[DEPLOYMENT_SCOPE]["field.f1"] != base64.b64decode(FIELD_KEY)  # its own purpose


def test_dev_keys_file_gives_every_process_the_same_payload_keys(tmp_path: Path) -> None:
    first = load_payload_keys(Settings(data_dir=tmp_path))
    second = load_payload_keys(Settings(data_dir=tmp_path))
    assert first == second and first.active[DEPLOYMENT_SCOPE].startswith(FIELD_DERIVED_PREFIX)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"payload_keys": {"*": {"short": SecretStr(base64.b64encode(b"x" * 16).decode())}}}, "32 bytes"),
        ({"payload_keys": {"kymenlaakso": {"k": SecretStr(b64key())}}}, "neither"),
        ({"payload_keys": {"*": {"field.x": SecretStr(b64key())}}}, "not allowed"),
        ({"payload_keys": {"*": {"k": SecretStr(b64key())}, ORG_A: {"k": SecretStr(b64key())}}}, "two scopes"),
        ({"payload_keys": {"*": {"k": SecretStr(b64key())}}, "payload_key_active": {"*": "zz"}}, "names no"),
        ({"payload_key_active": {ORG_A: "k"}}, "names no"),
    ],
)
def test_bad_key_settings_are_refused(tmp_path: Path, extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_payload_keys(settings(tmp_path, **extra))
