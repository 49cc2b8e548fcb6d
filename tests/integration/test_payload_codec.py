"""Temporal payload encryption on the real stack, and the codec server of the Temporal Web UI.

A journey started the normal way (a coach's self-referral over HTTP, the worker as its own
process) is read back with the Temporal CLI: its history holds ciphertext only. The codec
server gives the payloads back to an auditor of the same organisation (and to the CLI
through ``--codec-endpoint``), to nobody else, and audits every decode.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from polku.devstack import find_binary
from services.coaching.codec_server import temporal_ui_origin
from shared.audit import AuditLog
from shared.contracts.journey import Role
from shared.db import Database
from tests.conftest import Live, Org, run_sync

DECODE = "/api/v1/codec/decode"
SKIP = ("searchAttributes", "header")
CORE_MARKER_KEYS = {
    "seq",
    "attempt",
    "activity_id",
    "activity_type",
    "complete_time",
    "backoff",
    "original_schedule_time",
    "activation_index",
}
ENCODE = "/api/v1/codec/encode"
# JSON field names of the workflow's input, state and events: they exist only inside payloads.
FIELD_NAMES = ("organisation_id", "client_id", "coach_id", "region_id", "user_id", "carried_state")


@dataclass
class Journey:
    org: Org
    client_id: str
    workflow_id: str
    history: dict[str, Any]  # `temporal workflow show -o json`, without a codec
    raw: str


def show(live: Live, workflow_id: str, *extra: str) -> str:
    out = subprocess.run(
        [
            find_binary("temporal"),
            "workflow",
            "show",
            "-w",
            workflow_id,
            "--address",
            live.settings.temporal_address,
            "--namespace",
            live.settings.temporal_namespace,
            "-o",
            "json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout


def payloads_in(tree: Any, skip: tuple[str, ...] = ("searchAttributes", "header")) -> Iterator[dict[str, Any]]:
    """Every payload ({"metadata": ..., "data": ...}) of a history, search attributes and
    headers (tracing context) left out."""
    for _, payload in located_payloads(tree, skip):
        yield payload


def located_payloads(tree: Any, skip: tuple[str, ...], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(tree, dict):
        if isinstance(tree.get("metadata"), dict) and "encoding" in tree["metadata"]:
            yield path, tree
            return
        for key, value in tree.items():
            if key not in skip:
                yield from located_payloads(value, skip, f"{path}.{key}")
    elif isinstance(tree, list):
        for i, item in enumerate(tree):
            yield from located_payloads(item, skip, f"{path}[{i}]")


def strings_in(tree: Any) -> Iterator[str]:
    if isinstance(tree, dict):
        for value in tree.values():
            yield from strings_in(value)
    elif isinstance(tree, list):
        for item in tree:
            yield from strings_in(item)
    elif isinstance(tree, str):
        yield tree


def b64(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        return b""


def encoding(payload: dict[str, Any]) -> bytes:
    return b64(payload["metadata"]["encoding"])


@pytest.fixture(scope="module")
def journey(live: Live) -> Journey:
    org = live.add_org()
    created = live.register_client(org, "Salla", "Salainen")
    client_id = created["client_id"]
    with live.http(live.username(org, Role.COACH)) as http:
        r = http.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "advance"})
        assert r.status_code == 200, r.text
        r = http.post(f"/api/v1/journeys/{client_id}/moves", json={"action": "resume"})
        assert r.status_code == 409 and r.json()["code"] == "not_resting", r.text  # its reason came back decrypted
    raw = show(live, created["journey_id"])
    return Journey(org, client_id, created["journey_id"], json.loads(raw), raw)


def decode_with(
    live: Live, token: str | None, payloads: list[dict[str, Any]], origin: str | None = None
) -> httpx.Response:
    headers = {"X-Namespace": "default"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if origin:
        headers["Origin"] = origin
    return httpx.post(f"{live.base_url}{DECODE}", json={"payloads": payloads}, headers=headers, timeout=30)


def encrypted(journey: Journey) -> list[dict[str, Any]]:
    return [p for p in payloads_in(journey.history) if encoding(p) == b"binary/encrypted"]


def plain_json(payloads: list[dict[str, Any]]) -> list[Any]:
    return [json.loads(b64(p.get("data", ""))) for p in payloads if encoding(p) == b"json/plain"]


# --------------------------------------------------------------------------- ciphertext only


def test_workflow_show_prints_ciphertext_only(live: Live, journey: Journey) -> None:
    found = list(payloads_in(journey.history))
    assert len(found) >= 3, journey.raw[:2000]  # the input, the update, its result, the activity's input ...
    plain = [(where, p) for where, p in located_payloads(journey.history, SKIP) if encoding(p) != b"binary/encrypted"]
    # The exceptions: the SDK core's own bookkeeping, written without the data converter:
    # a local activity's sequence number, attempt and times beside its (encrypted) result,
    # and the id of a workflow.patched() marker.
    for where, p in plain:
        body = json.loads(b64(p["data"]))
        if where.endswith(".markerRecordedEventAttributes.details.data.payloads[0]"):
            assert set(body) <= CORE_MARKER_KEYS, p
        else:
            assert where.endswith(".markerRecordedEventAttributes.details.patch-data.payloads[0]"), where
            assert set(body) <= {"id", "deprecated"} and str(body["id"]).startswith("journey-"), body
    found = [p for p in found if encoding(p) == b"binary/encrypted"]
    assert {b64(p["metadata"]["encryption-org"]) for p in found} == {str(journey.org.id).encode()}
    assert all(b64(p["metadata"]["encryption-key-id"]) for p in found)
    # Nothing of the workflow's data reads in the output, as text or base64-decoded.
    decoded = b"\n".join(b64(s) for s in strings_in(journey.history))
    coach_actor = str(journey.org.users[Role.COACH.value])
    for needle in (*FIELD_NAMES, "kymenlaakso", "Salla", "Salainen", "not_resting", "advance"):
        assert needle not in journey.raw, needle
        assert needle.encode() not in decoded, needle
    # The coach id is in the search attributes (which must stay readable for listing
    # journeys), and in no payload.
    assert coach_actor.encode() in decoded  # the CoachId search attribute
    assert coach_actor.encode() not in b"".join(b64(p["data"]) for p in found)


def test_the_codec_endpoint_gives_an_auditor_their_organisations_payloads(live: Live, journey: Journey) -> None:
    found = encrypted(journey)
    auditor = live.token(live.username(journey.org, Role.AUDITOR))
    r = decode_with(live, auditor, found)
    assert r.status_code == 200, r.text
    plain = r.json()["payloads"]
    assert len(plain) == len(found)
    values = plain_json(plain)
    assert values, plain
    text = json.dumps(values)
    assert journey.client_id in text and str(journey.org.id) in text and "organisation_id" in text
    assert "Salla" not in text  # the workflow itself never held the name

    # Every decode left an audit record naming the client and the purpose.
    async def records() -> list[Any]:
        db = Database(live.settings, "platform", immediate=True)
        try:
            return await AuditLog(db).records(journey.org.id, uuid.UUID(journey.client_id))
        finally:
            await db.dispose()

    mine = [x for x in run_sync(records()) if x.action == "temporal.payloads.decode"]
    assert mine and mine[-1].outcome == "ok" and mine[-1].purpose == "temporal-web-ui"
    assert mine[-1].actor_id == journey.org.users[Role.AUDITOR.value]


def test_the_cli_reads_the_history_through_the_codec_server(live: Live, journey: Journey) -> None:
    auditor = live.token(live.username(journey.org, Role.AUDITOR))
    raw = show(
        live,
        journey.workflow_id,
        "--codec-endpoint",
        f"{live.base_url}/api/v1/codec",
        "--codec-auth",
        f"Bearer {auditor}",
    )
    decoded = b"\n".join(b64(s) for s in strings_in(json.loads(raw)))
    assert b"organisation_id" in decoded and journey.client_id.encode() in decoded
    assert b"binary/encrypted" not in decoded


def test_other_organisations_and_other_roles_read_nothing(live: Live, journey: Journey) -> None:
    found = encrypted(journey)
    other = live.add_org(roles=(Role.AUDITOR, Role.ORG_ADMIN))
    for role in (Role.AUDITOR, Role.ORG_ADMIN):
        r = decode_with(live, live.token(live.username(other, role)), found)
        assert r.status_code == 200, r.text
        assert r.json()["payloads"] == found  # returned as they came: still encrypted
    admin = decode_with(live, live.token(live.username(journey.org, Role.ORG_ADMIN)), found)
    assert admin.status_code == 200 and plain_json(admin.json()["payloads"])
    for role in (Role.COACH, Role.TEAM_LEAD, Role.EMPLOYER_COORDINATOR, Role.REGION_ANALYST):
        r = decode_with(live, live.token(live.username(journey.org, role)), found)
        assert r.status_code == 403, (role, r.text)
        assert "organisation_id" not in r.text
    r = decode_with(live, None, found)
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json")
    r = decode_with(live, "not-a-token", found)
    assert r.status_code == 401


def test_cors_answers_only_the_temporal_web_ui(live: Live, journey: Journey) -> None:
    found = encrypted(journey)[:1]
    ui = temporal_ui_origin(live.settings)
    auditor = live.token(live.username(journey.org, Role.AUDITOR))

    def preflight(origin: str, method: str = "POST") -> httpx.Response:
        return httpx.options(
            f"{live.base_url}{DECODE}",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
            timeout=30,
        )

    ok = preflight(ui)
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == ui
    assert ok.headers["access-control-allow-credentials"] == "true"
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert {"content-type", "x-namespace"} <= {h.strip() for h in ok.headers["access-control-allow-headers"].split(",")}
    for bad in (preflight("http://evil.example"), preflight(live.base_url), preflight(ui, "DELETE")):
        assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers

    right = decode_with(live, auditor, found, origin=ui)
    assert right.status_code == 200 and right.headers["access-control-allow-origin"] == ui
    wrong = decode_with(live, auditor, found, origin="http://evil.example")
    assert wrong.status_code == 403 and "access-control-allow-origin" not in wrong.headers
    assert "payloads" not in wrong.text


def test_a_web_ui_session_works_from_the_temporal_ui_only(live: Live, journey: Journey) -> None:
    found = encrypted(journey)
    ui = temporal_ui_origin(live.settings)
    session = live.browser_session(journey.org, Role.AUDITOR)
    try:
        # The Temporal Web UI sends the cookie ("include cross-origin credentials") and its
        # Origin, never Polku's CSRF token.
        r = session.post(DECODE, json={"payloads": found}, headers={"Origin": ui, "X-Namespace": "default"})
        assert r.status_code == 200, r.text
        assert plain_json(r.json()["payloads"])
        assert r.headers["access-control-allow-origin"] == ui
        no_origin = session.post(DECODE, json={"payloads": found})
        assert no_origin.status_code == 403 and no_origin.json()["code"] == "origin_required"
        elsewhere = session.post(DECODE, json={"payloads": found}, headers={"Origin": "http://evil.example"})
        assert elsewhere.status_code == 403
    finally:
        session.close()


def test_encode_seals_under_the_callers_organisation(live: Live, journey: Journey) -> None:
    auditor = live.token(live.username(journey.org, Role.AUDITOR))
    body = {
        "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
        "data": base64.b64encode(b'"x"').decode(),
    }
    r = httpx.post(
        f"{live.base_url}{ENCODE}",
        json={"payloads": [body]},
        headers={"Authorization": f"Bearer {auditor}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    (sealed,) = r.json()["payloads"]
    assert encoding(sealed) == b"binary/encrypted"
    assert b64(sealed["metadata"]["encryption-org"]) == str(journey.org.id).encode()
    back = decode_with(live, auditor, [sealed])
    assert back.json()["payloads"] == [body]
    bad = decode_with(live, auditor, [{"metadata": {"encoding": "%%%"}, "data": ""}])
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
