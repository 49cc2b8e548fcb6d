"""Coaching HTTP routes: the journey of a client (state, timeline)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from shared.auth import CLIENT_WORKERS, Principal, requires
from shared.contracts.journey import Role
from shared.problems import not_found
from shared.service import ctx_of

router = APIRouter(prefix="/api/v1", tags=["journeys"])

JourneyReader = Annotated[Principal, Depends(requires(*CLIENT_WORKERS, Role.AUDITOR))]


@router.get(
    "/journeys/{client_id}",
    summary="Where the client's journey stands",
    responses={404: {"description": "No such client in your organisation"}},
)
async def journey_state(client_id: uuid.UUID, principal: JourneyReader, request: Request) -> Any:
    from workflows.client import JourneyNotFound, get_state

    ctx = ctx_of(request)
    temporal = await ctx.temporal()
    try:
        state = await get_state(temporal, principal.organisation_id, client_id)
    except JourneyNotFound:
        raise not_found() from None
    await ctx.audit_access(principal, "journey.read", client_id)
    return state


@router.get(
    "/journeys/{client_id}/timeline",
    summary="Every move and milestone of the client's journey",
    responses={404: {"description": "No such client in your organisation"}},
)
async def journey_timeline(client_id: uuid.UUID, principal: JourneyReader, request: Request) -> Any:
    from workflows.client import JourneyNotFound, get_timeline

    ctx = ctx_of(request)
    temporal = await ctx.temporal()
    try:
        timeline = await get_timeline(temporal, principal.organisation_id, client_id)
    except JourneyNotFound:
        raise not_found() from None
    await ctx.audit_access(principal, "journey.timeline.read", client_id)
    return timeline
