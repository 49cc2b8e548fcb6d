"""The codec server of the Temporal Web UI (and ``temporal --codec-endpoint``).

Temporal holds journey payloads encrypted (``shared/codec.py``). The Temporal Web UI shows
them readable by sending them here: ``POST {endpoint}/decode`` and ``{endpoint}/encode``
with ``{"payloads": [{"metadata": {name: base64}, "data": base64}]}`` (the protobuf JSON of
``temporal.api.common.v1.Payloads``), where the endpoint is ``{origin}/api/v1/codec``.

Who may read: an ``auditor`` (tracing a client's journey is their job) or an
``org_admin`` (operates the organisation's part of the system), and only payloads of
their own organisation: a payload names its organisation in authenticated metadata, and
another organisation's payloads, the deployment's own ones and payloads that fail to
authenticate are returned as they came (still encrypted). Coaches and team leads read
journeys through Polku's own pages, region analysts see aggregates only. Every call is
audited before it answers: a decode with one record per client whose data it revealed
(``client_id`` found in the decoded payloads; none found: one record without a client),
and one ``denied`` record when it left payloads encrypted.

Login: a bearer token (``temporal workflow show --codec-auth "Bearer …"``), or the web
UI's session cookie, sent by the browser when "Include cross-origin credentials" is on in
the Temporal Web UI's codec settings. The cookie is accepted only together with an
``Origin`` header naming the Temporal Web UI; that origin check stands in for the CSRF
token, which the Temporal Web UI cannot send. CORS answers only that origin
(``POLKU_TEMPORAL_UI_URL``, default ``http://127.0.0.1:{POLKU_TEMPORAL_UI_PORT}``); any other
``Origin`` is refused (403) without CORS headers.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator
from temporalio.api.common.v1 import Payload

from shared.auth import (
    PUBLIC,
    SESSION_COOKIE,
    Principal,
    api_principal,
    declare_roles,
    ensure_not_revoked,
    forbidden,
    tokens_of,
    unauthorized,
)
from shared.codec import PayloadCipher, PayloadDecryptError, client_ids_in, is_encrypted, payload_organisation
from shared.contracts.journey import Role
from shared.keys import load_payload_keys
from shared.problems import ProblemError, problem_response
from shared.service import ServiceContext, ctx_of
from shared.settings import Settings

router = APIRouter(prefix="/api/v1/codec", tags=["codec"])

CODEC_ROLES: frozenset[Role] = frozenset({Role.AUDITOR, Role.ORG_ADMIN})
ALLOWED_HEADERS = "authorization, content-type, x-namespace"
MAX_PAYLOADS = 1000
PURPOSE = "temporal-web-ui"


_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]*={0,2}$")


def _b64(value: str) -> bytes:
    """Protobuf JSON bytes: standard or URL-safe base64, padding optional."""
    if not _BASE64.match(value):
        raise ValueError("not base64")
    body = value.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("not base64") from exc


class CodecPayload(BaseModel):
    """One ``temporal.api.common.v1.Payload`` in protobuf JSON: bytes as base64."""

    model_config = ConfigDict(extra="ignore")

    metadata: dict[str, str] = Field(default_factory=dict, max_length=32)
    data: str = ""

    @field_validator("metadata")
    @classmethod
    def _metadata_is_base64(cls, value: dict[str, str]) -> dict[str, str]:
        for item in value.values():
            _b64(item)
        return value

    @field_validator("data")
    @classmethod
    def _data_is_base64(cls, value: str) -> str:
        _b64(value)
        return value

    def to_proto(self) -> Payload:
        return Payload(metadata={k: _b64(v) for k, v in self.metadata.items()}, data=_b64(self.data))

    @classmethod
    def of(cls, payload: Payload) -> CodecPayload:
        return cls(
            metadata={k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
            data=base64.b64encode(payload.data).decode(),
        )


class CodecPayloads(BaseModel):
    payloads: list[CodecPayload] = Field(max_length=MAX_PAYLOADS)


def temporal_ui_origin(settings: Settings) -> str:
    """The one origin allowed to call the codec server from a browser."""
    url = settings.temporal_ui_url or f"http://127.0.0.1:{settings.temporal_ui_port}"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _cors(origin: str | None) -> dict[str, str]:
    if origin is None:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def _origin_refused() -> ProblemError:
    return ProblemError(
        403,
        "Forbidden",
        "This origin may not use the codec server.",
        code="origin_not_allowed",
        headers={"Vary": "Origin"},
    )


async def codec_caller(request: Request) -> Principal:
    """An auditor or organisation admin, by bearer token or by session from the Temporal Web UI."""
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() != temporal_ui_origin(ctx_of(request).settings):
        raise _origin_refused()
    try:
        if request.headers.get("authorization"):
            principal = await api_principal(request)
        elif cookie := request.cookies.get(SESSION_COOKIE):
            if origin is None:
                raise ProblemError(
                    403,
                    "Forbidden",
                    "A session may use the codec server only from the Temporal Web UI.",
                    code="origin_required",
                )
            principal = await ensure_not_revoked(request, tokens_of(request).decode(cookie, "session"))
        else:
            raise unauthorized("Authentication is required.")
        if principal.role not in CODEC_ROLES:
            raise forbidden(principal.role)
    except ProblemError as exc:
        exc.headers.update(_cors(origin))
        raise
    request.state.principal = principal
    return principal


declare_roles(codec_caller, CODEC_ROLES)
Caller = Annotated[Principal, Depends(codec_caller)]


def _cipher(request: Request, ctx: ServiceContext) -> PayloadCipher:
    """One cipher per app (it caches the organisations' AES-GCM keys)."""
    cipher: PayloadCipher | None = getattr(request.app.state, "payload_cipher", None)
    if cipher is None:
        cipher = request.app.state.payload_cipher = PayloadCipher(load_payload_keys(ctx.settings, ctx.keys))
    return cipher


@router.post(
    "/decode",
    response_model=CodecPayloads,
    summary="Decrypt Temporal payloads of the caller's organisation (Temporal Web UI codec server)",
    responses={401: {"description": "Not logged in"}, 403: {"description": "Role or origin not allowed"}},
)
async def decode(body: CodecPayloads, request: Request, response: Response, principal: Caller) -> CodecPayloads:
    ctx = ctx_of(request)
    cipher = _cipher(request, ctx)
    organisation = str(principal.organisation_id)
    out: list[Payload] = []
    clients: set[uuid.UUID] = set()
    decoded = refused = 0
    for item in body.payloads:
        payload = item.to_proto()
        if not is_encrypted(payload):
            out.append(payload)
            continue
        if payload_organisation(payload) != organisation:
            refused += 1
            out.append(payload)
            continue
        try:
            plain = cipher.decrypt(payload)
        except PayloadDecryptError:
            refused += 1
            out.append(payload)
            continue
        decoded += 1
        clients |= client_ids_in(plain)
        out.append(plain)
    # The audit records go first: if they cannot be stored, nothing is revealed (503).
    if decoded or not refused:
        await ctx.audit_many(principal, "temporal.payloads.decode", sorted(clients) or [None], purpose=PURPOSE)
    if refused:
        await ctx.audit_access(principal, "temporal.payloads.decode", None, purpose=PURPOSE, outcome="denied")
    response.headers.update(_cors(request.headers.get("origin")))
    return CodecPayloads(payloads=[CodecPayload.of(p) for p in out])


@router.post(
    "/encode",
    response_model=CodecPayloads,
    summary="Encrypt payloads under the caller's organisation's key (Temporal Web UI codec server)",
    responses={401: {"description": "Not logged in"}, 403: {"description": "Role or origin not allowed"}},
)
async def encode(body: CodecPayloads, request: Request, response: Response, principal: Caller) -> CodecPayloads:
    ctx = ctx_of(request)
    cipher = _cipher(request, ctx)
    organisation = str(principal.organisation_id)
    await ctx.audit_access(principal, "temporal.payloads.encode", None, purpose=PURPOSE)
    sealed = [cipher.encrypt(item.to_proto(), organisation) for item in body.payloads]
    response.headers.update(_cors(request.headers.get("origin")))
    return CodecPayloads(payloads=[CodecPayload.of(p) for p in sealed])


@router.options("/decode", include_in_schema=False, dependencies=[PUBLIC])
@router.options("/encode", include_in_schema=False, dependencies=[PUBLIC])
async def preflight(request: Request) -> Response:
    """CORS preflight: browsers send it without credentials, so it is open, and it
    answers only the Temporal Web UI's origin asking for POST."""
    origin = request.headers.get("origin")
    method = request.headers.get("access-control-request-method", "")
    if origin is None or origin.lower() != temporal_ui_origin(ctx_of(request).settings) or method.upper() != "POST":
        refused = _origin_refused()
        return problem_response(
            refused.status, refused.title, refused.detail, code=refused.code, headers=refused.headers
        )
    headers = {
        **_cors(origin),
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": ALLOWED_HEADERS,
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)
