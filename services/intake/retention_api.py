"""Legal holds and the data subject's export, served by intake (the client registry).

- ``POST/GET/DELETE /api/v1/clients/{client_id}/legal-hold``: a legal hold stops the
  retention workflow from erasing the client's data until it is lifted.
- ``GET /api/v1/clients/{client_id}/export``: everything held about the client, across
  services, as one JSON file (the right of access, GDPR art. 15 and act 703/2023).

Roles: ``org_admin`` (the registrar's administrator answers access requests and places
holds) and ``auditor`` (supervises processing; may also place holds). Coaches and team
leads see the client's data through their own views; a whole-record export is not theirs.
Every call leaves an audit record; another organisation's client answers 404.

The export reads coaching's and employer's data through their ``retention`` modules
(their contract for this job) from their databases, and the journey from Temporal.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.intake.models import Client
from shared import retention as rules
from shared.auth import Principal, requires
from shared.contracts.journey import Role
from shared.db import Database, utcnow
from shared.platform import LegalHold
from shared.problems import not_found
from shared.service import ServiceContext, ctx_of

router = APIRouter(prefix="/api/v1", tags=["retention"])

Registrar = Annotated[Principal, Depends(requires(Role.ORG_ADMIN, Role.AUDITOR))]
_CLIENT_404: dict[int | str, dict[str, Any]] = {404: {"description": "No such client in your organisation"}}
EXPORT_FORMAT = "polku.subject-export.v1"

# A diary or case number: no spaces, so no sentence of free text lands here.
CaseReference = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")]


class LegalHoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_reference: CaseReference | None = Field(default=None, description="Diary or case number, e.g. 123/2026")


class LegalHoldOut(BaseModel):
    client_id: uuid.UUID
    case_reference: str | None
    placed_at: datetime
    placed_by: uuid.UUID
    lifted_at: datetime | None = None
    lifted_by: uuid.UUID | None = None
    active: bool


def _hold_out(hold: LegalHold) -> LegalHoldOut:
    return LegalHoldOut(
        client_id=hold.client_id,
        case_reference=hold.case_reference,
        placed_at=hold.placed_at,
        placed_by=hold.placed_by,
        lifted_at=hold.lifted_at,
        lifted_by=hold.lifted_by,
        active=hold.lifted_at is None,
    )


async def _client_exists(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> None:
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        if await session.get(Client, client_id) is None:
            raise not_found()


@router.post(
    "/clients/{client_id}/legal-hold",
    status_code=201,
    response_model=LegalHoldOut,
    summary="Place a legal hold: retention erases nothing of the client until it is lifted",
    responses={200: {"description": "A hold was in force already: that hold"}, **_CLIENT_404},
)
async def place_legal_hold(
    client_id: uuid.UUID, body: LegalHoldIn, principal: Registrar, request: Request
) -> LegalHoldOut | JSONResponse:
    ctx = ctx_of(request)
    await _client_exists(ctx, principal, client_id)
    await ctx.audit_access(principal, "client.legal_hold.place", client_id)
    hold, new = await rules.place_hold(
        ctx.platform, principal.organisation_id, client_id, principal.user_id, body.case_reference
    )
    out = _hold_out(hold)
    return out if new else JSONResponse(out.model_dump(mode="json"), status_code=200)


@router.get(
    "/clients/{client_id}/legal-hold",
    response_model=list[LegalHoldOut],
    summary="The client's legal holds, in force and lifted, oldest first",
    responses=_CLIENT_404,
)
async def list_legal_holds(client_id: uuid.UUID, principal: Registrar, request: Request) -> list[LegalHoldOut]:
    ctx = ctx_of(request)
    await _client_exists(ctx, principal, client_id)
    await ctx.audit_access(principal, "client.legal_hold.read", client_id)
    async with ctx.platform.session(organisation_id=principal.organisation_id) as session:
        return [_hold_out(h) for h in await rules.holds_of(session, client_id)]


@router.delete(
    "/clients/{client_id}/legal-hold",
    response_model=LegalHoldOut,
    summary="Lift the legal hold in force; the next retention run may erase the client's data",
    responses={404: {"description": "No such client in your organisation, or no hold in force"}},
)
async def lift_legal_hold(client_id: uuid.UUID, principal: Registrar, request: Request) -> LegalHoldOut:
    ctx = ctx_of(request)
    await _client_exists(ctx, principal, client_id)
    await ctx.audit_access(principal, "client.legal_hold.lift", client_id)
    hold = await rules.lift_hold(ctx.platform, principal.organisation_id, client_id, principal.user_id)
    if hold is None:
        raise not_found("legal hold")
    return _hold_out(hold)


@router.get(
    "/clients/{client_id}/export",
    summary="Everything held about the client, across services, as one JSON file",
    responses={
        200: {"description": "The export (`format` names its version)", "content": {"application/json": {}}},
        **_CLIENT_404,
    },
)
async def export_client(client_id: uuid.UUID, principal: Registrar, request: Request) -> JSONResponse:
    ctx = ctx_of(request)
    await _client_exists(ctx, principal, client_id)
    await ctx.audit_access(principal, "client.export", client_id)
    body = await build_export(ctx, principal.organisation_id, client_id)
    if body is None:
        raise not_found()
    body["generated_by"] = str(principal.user_id)
    return JSONResponse(
        body,
        headers={"Content-Disposition": f'attachment; filename="polku-client-{client_id}.json"'},
    )


async def build_export(ctx: ServiceContext, organisation_id: uuid.UUID, client_id: uuid.UUID) -> dict[str, Any] | None:
    from services.coaching import retention as coaching
    from services.employer import retention as employer
    from services.intake import retention as intake

    registry = await intake.export_client(ctx.database, ctx.cipher, organisation_id, client_id)
    if registry is None:
        return None
    coaching_db = Database(ctx.settings, "coaching")
    employer_db = Database(ctx.settings, "employer")
    try:
        coaching_rows = await coaching.export_client(coaching_db, ctx.cipher, organisation_id, client_id)
        employer_data = await employer.export_client(employer_db, ctx.cipher, organisation_id, client_id)
    finally:
        await coaching_db.dispose()
        await employer_db.dispose()
    async with ctx.platform.session(organisation_id=organisation_id) as session:
        holds = [_hold_out(h).model_dump(mode="json") for h in await rules.holds_of(session, client_id)]
    access = await ctx.audit.records(organisation_id, client_id)
    return {
        "format": EXPORT_FORMAT,
        "generated_at": utcnow().isoformat(),
        "organisation_id": str(organisation_id),
        "client_id": str(client_id),
        "intake": registry,
        "journey": await _journey(ctx, organisation_id, client_id),
        "coaching": coaching_rows,
        "employer": employer_data,
        "legal_holds": holds,
        "access_log": [
            {
                "at": r.at.isoformat(),
                "actor_id": None if r.actor_id is None else str(r.actor_id),
                "actor_role": r.actor_role,
                "action": r.action,
                "purpose": r.purpose,
                "outcome": r.outcome,
                "trace_id": r.trace_id,
            }
            for r in access
        ],
    }


async def _journey(ctx: ServiceContext, organisation_id: uuid.UUID, client_id: uuid.UUID) -> dict[str, Any] | None:
    """The journey's state and timeline (ids and codes); None when Temporal has none."""
    from workflows.client import JourneyNotFound, get_state, get_timeline

    temporal = await ctx.temporal()
    try:
        state = await get_state(temporal, organisation_id, client_id)
        timeline = await get_timeline(temporal, organisation_id, client_id)
    except JourneyNotFound:
        return None
    return {
        "state": state.model_dump(mode="json"),
        "timeline": [entry.model_dump(mode="json") for entry in timeline],
    }
