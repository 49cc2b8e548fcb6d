"""Intake HTTP routes: referrals, the client registry, consent, caseloads for assignment,
quick help and the team lead's oversight. The work is in ``actions``; this module maps
its outcomes to HTTP (problem+json for every error)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.intake import actions, store
from services.intake.models import (
    ClientConsents,
    ClientCreate,
    ClientDetails,
    ClientSearch,
    CoachLoad,
    ConsentChange,
    Oversight,
    QuickHelpCreate,
    QuickHelpCreated,
    ReferralAccept,
    ReferralCreate,
    ReferralCreated,
    ReferralDecline,
    ReferralView,
    Registered,
)
from shared.auth import CLIENT_WORKERS, Principal, requires
from shared.contracts.api import ClientRecord
from shared.contracts.intake import ReferralStatus
from shared.contracts.journey import Role
from shared.problems import ProblemError, not_found
from shared.service import ctx_of

router = APIRouter(prefix="/api/v1", tags=["intake"])

# Coaches and team leads do intake; employer coordinators read names only.
Intaker = Annotated[Principal, Depends(requires(Role.COACH, Role.TEAM_LEAD))]
Reader = Annotated[Principal, Depends(requires(*CLIENT_WORKERS))]
Lead = Annotated[Principal, Depends(requires(Role.TEAM_LEAD, Role.ORG_ADMIN))]
PROTECTED_READERS = frozenset({Role.COACH, Role.TEAM_LEAD})

T = TypeVar("T")
_REGISTER_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The identity code is registered already: that client (`existing: true`)"},
    409: {"description": "The coach's caseload is full (`caseload_full`): give `override_reason`"},
    422: {"description": "Invalid fields; nothing was written"},
    503: {"description": "Workflow engine unavailable; nothing was written"},
}
_REFERRAL_404: dict[int | str, dict[str, Any]] = {404: {"description": "No such referral in your organisation"}}
_CLIENT_404: dict[int | str, dict[str, Any]] = {404: {"description": "No such client in your organisation"}}


async def _run(work: Awaitable[T]) -> T:
    """Await an action, turning its problems into problem+json answers."""
    try:
        return await work
    except actions.Invalid as exc:
        raise ProblemError(
            422,
            "Unprocessable Content",
            "The request has invalid fields.",
            code="validation_failed",
            extra={"errors": [e.model_dump() for e in exc.errors]},
        ) from None
    except actions.CaseloadFull as exc:
        load = exc.load
        raise ProblemError(
            409,
            "Conflict",
            str(exc),
            code="caseload_full",
            extra={"coach_id": str(load.coach_id), "active_clients": load.active, "capacity": load.capacity},
        ) from None
    except actions.Conflict as exc:
        raise ProblemError(409, "Conflict", exc.message, code=exc.code) from None
    except actions.NotFound as exc:
        raise not_found(exc.what) from None
    except actions.JourneyNotStarted:
        raise ProblemError(
            503,
            "Service Unavailable",
            "The journey could not be started; nothing was saved.",
            code="journey_not_started",
        ) from None


def _registered(result: Registered) -> Registered | JSONResponse:
    if result.existing:
        return JSONResponse(result.model_dump(mode="json"), status_code=200)
    return result


# --------------------------------------------------------------------------- clients


@router.post(
    "/clients",
    status_code=201,
    response_model=Registered,
    summary="Register a client (self-referral) and start the journey in INTAKE",
    responses=_REGISTER_RESPONSES,
)
async def register_client(body: ClientCreate, principal: Intaker, request: Request) -> Registered | JSONResponse:
    result = await _run(
        actions.register_client(ctx_of(request), principal, body, body.coach_id, body.consent, body.override_reason)
    )
    return _registered(result)


@router.post(
    "/clients/search",
    response_model=list[ClientRecord],
    summary="Find clients by identity code or name (exact); the purpose is audited",
)
async def search_clients(body: ClientSearch, principal: Intaker, request: Request) -> list[ClientRecord]:
    return await actions.search(ctx_of(request), principal, body.query, body.purpose)


class ClientLookupHit(BaseModel):
    client_id: uuid.UUID


@router.post(
    "/clients/lookup",
    response_model=list[ClientLookupHit],
    summary="The auditor's lookup: client ids by identity code only; the purpose is audited",
    responses={422: {"description": "Not a valid identity code, or no purpose"}},
)
async def lookup_clients(
    body: ClientSearch, principal: Annotated[Principal, Depends(requires(Role.AUDITOR))], request: Request
) -> list[ClientLookupHit]:
    from services.intake import hetu

    ctx = ctx_of(request)
    try:
        indexes = store.hetu_indexes(ctx.keys, principal.organisation_id, hetu.parse(body.query).code)
    except hetu.HetuError:
        raise ProblemError(
            422,
            "Unprocessable Content",
            "The request has invalid fields.",
            code="validation_failed",
            extra={"errors": [{"field": "query", "message": "Not a valid identity code.", "type": "hetu"}]},
        ) from None
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        found = await store.search_clients(session, [], indexes)
    ids = [c.id for c in found]
    await ctx.audit_many(
        principal, "audit.client.lookup", ids or [None], purpose=body.purpose, outcome="ok" if ids else "not_found"
    )
    return [ClientLookupHit(client_id=i) for i in ids]


@router.get(
    "/clients/{client_id}",
    response_model=ClientDetails,
    summary="A client's registry record; identity code, contact details and consent for coaches and team leads",
    responses=_CLIENT_404,
)
async def read_client(client_id: uuid.UUID, principal: Reader, request: Request) -> ClientDetails | JSONResponse:
    protected = principal.role in PROTECTED_READERS
    details = await _run(actions.client_details(ctx_of(request), principal, client_id, protected=protected))
    if protected:
        return details
    # Others (employer coordinators) get the plain record: no protected fields, not even empty.
    record = ClientRecord.model_validate(details.model_dump(include=set(ClientRecord.model_fields)))
    return JSONResponse(record.model_dump(mode="json"))


@router.get(
    "/clients",
    response_model=list[ClientRecord],
    summary="The organisation's clients, optionally one coach's",
)
async def list_clients(principal: Reader, request: Request, coach_id: uuid.UUID | None = None) -> list[ClientRecord]:
    ctx = ctx_of(request)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        clients = await store.list_clients(session, coach_id)
    await ctx.audit_many(principal, "client.list", [c.id for c in clients])
    return [store.to_record(c, ctx.cipher) for c in clients]


@router.get(
    "/clients/{client_id}/consent",
    response_model=ClientConsents,
    summary="The consents in force and their history",
    responses=_CLIENT_404,
)
async def read_consent(client_id: uuid.UUID, principal: Intaker, request: Request) -> ClientConsents:
    return await _run(actions.consents(ctx_of(request), principal, client_id))


@router.post(
    "/clients/{client_id}/consent",
    response_model=ClientConsents,
    summary="Record a consent given or withdrawn",
    responses={**_CLIENT_404, 422: {"description": "Invalid fields"}},
)
async def change_consent(
    client_id: uuid.UUID, body: ConsentChange, principal: Intaker, request: Request
) -> ClientConsents:
    return await _run(actions.change_consent(ctx_of(request), principal, client_id, body))


# --------------------------------------------------------------------------- assignment


@router.get(
    "/assignment/coaches",
    response_model=list[CoachLoad],
    summary="Each coach's active caseload against capacity (20 per full-time coach)",
)
async def coaches(principal: Intaker, request: Request) -> list[CoachLoad]:
    return await actions.coach_loads(ctx_of(request), principal)


# --------------------------------------------------------------------------- referrals


@router.post("/referrals", status_code=201, response_model=ReferralCreated, summary="Record a referral (lähete)")
async def create_referral(body: ReferralCreate, principal: Intaker, request: Request) -> ReferralCreated:
    return ReferralCreated(referral_id=await actions.create_referral(ctx_of(request), principal, body))


@router.get("/referrals", response_model=list[ReferralView], summary="The organisation's referrals, newest first")
async def list_referrals(
    principal: Intaker, request: Request, status: ReferralStatus | None = None
) -> list[ReferralView]:
    return await actions.referrals(ctx_of(request), principal, status)


@router.get("/referrals/{referral_id}", response_model=ReferralView, summary="One referral", responses=_REFERRAL_404)
async def read_referral(referral_id: uuid.UUID, principal: Intaker, request: Request) -> ReferralView:
    return await _run(actions.referral(ctx_of(request), principal, referral_id))


@router.post(
    "/referrals/{referral_id}/accept",
    status_code=201,
    response_model=Registered,
    summary="Accept a referral: register the client, record consent, assign the coach, start the journey",
    responses={**_REGISTER_RESPONSES, **_REFERRAL_404},
)
async def accept_referral(
    referral_id: uuid.UUID, body: ReferralAccept, principal: Intaker, request: Request
) -> Registered | JSONResponse:
    return _registered(await _run(actions.accept_referral(ctx_of(request), principal, referral_id, body)))


@router.post(
    "/referrals/{referral_id}/decline",
    response_model=ReferralView,
    summary="Decline a referral with a reason code",
    responses={**_REFERRAL_404, 409: {"description": "Decided already"}},
)
async def decline_referral(
    referral_id: uuid.UUID, body: ReferralDecline, principal: Intaker, request: Request
) -> ReferralView:
    return await _run(actions.decline_referral(ctx_of(request), principal, referral_id, body))


# --------------------------------------------------------------------------- quick help, oversight


@router.post(
    "/quick-help",
    status_code=201,
    response_model=QuickHelpCreated,
    summary="Record a quick-help contact (pika-apu), named or anonymous",
)
async def quick_help(body: QuickHelpCreate, principal: Intaker, request: Request) -> QuickHelpCreated:
    return QuickHelpCreated(quick_help_id=await _run(actions.record_quick_help(ctx_of(request), principal, body)))


@router.get(
    "/intake/oversight",
    response_model=Oversight,
    summary="Declines by reason (zero-exclusion check) and caseload overrides, for team leads",
)
async def oversight(principal: Lead, request: Request) -> Oversight:
    return await actions.oversight(ctx_of(request), principal)
