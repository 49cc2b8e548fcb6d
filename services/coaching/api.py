"""Coaching HTTP routes: a client's journey (state, timeline, moves, milestones)."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from services.coaching import journey_snapshots
from services.coaching.models import MilestoneBody, MoveBody
from shared.auth import CLIENT_WORKERS, Principal, requires
from shared.contracts.journey import Role
from shared.problems import FieldError, ProblemError, not_found
from shared.service import ServiceContext, ctx_of
from workflows.client import JourneyNotFound, get_state, get_timeline, move, record_milestone
from workflows.contracts import Actor, JourneyState, MilestoneRequest, MoveRequest, TimelineEntry
from workflows.domain import MoveRejected

router = APIRouter(prefix="/api/v1", tags=["journeys"])
log = logging.getLogger(__name__)

JourneyReader = Annotated[Principal, Depends(requires(*CLIENT_WORKERS, Role.AUDITOR))]
JourneyMover = Annotated[Principal, Depends(requires(Role.COACH, Role.TEAM_LEAD))]
MilestoneReporter = Annotated[Principal, Depends(requires(*CLIENT_WORKERS))]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such client in your organisation"}}


async def _snapshot(ctx: ServiceContext, state: JourneyState) -> JourneyState:
    """Save the state a move or milestone answered with as the dashboard's snapshot. A
    failure leaves the snapshot to the event consumer; the change itself was made."""
    try:
        await journey_snapshots.save(ctx.database, [state])
    except Exception as exc:  # noqa: BLE001 - the read model must not fail an accepted change
        log.warning("journey snapshot not saved after a change (%s)", type(exc).__name__)
    return state


def _rejected(exc: MoveRejected) -> ProblemError:
    return ProblemError(409, "Conflict", exc.message, code=exc.code)


async def _check_coach(ctx: ServiceContext, principal: Principal, coach_id: uuid.UUID | None) -> None:
    if coach_id is None:
        return
    coach = await ctx.identity.account(coach_id)
    if (
        coach is None
        or coach.organisation_id != principal.organisation_id
        or coach.role
        not in (
            Role.COACH,
            Role.TEAM_LEAD,
        )
    ):
        raise ProblemError(
            422,
            "Unprocessable Content",
            "The request has invalid fields.",
            code="validation_failed",
            extra={
                "errors": [
                    FieldError(
                        field="coach_id", message="No coach with this id in your organisation.", type="value_error"
                    ).model_dump()
                ]
            },
        )


@router.get(
    "/journeys/{client_id}", response_model=JourneyState, summary="Where the journey stands", responses=_NOT_FOUND
)
async def journey_state(client_id: uuid.UUID, principal: JourneyReader, request: Request) -> JourneyState:
    ctx = ctx_of(request)
    try:
        state = await get_state(await ctx.temporal(), principal.organisation_id, client_id)
    except JourneyNotFound:
        raise not_found() from None
    await ctx.audit_access(principal, "journey.read", client_id)
    return state


@router.get(
    "/journeys/{client_id}/timeline",
    response_model=list[TimelineEntry],
    summary="Every move, milestone and reminder of the journey",
    responses=_NOT_FOUND,
)
async def journey_timeline(client_id: uuid.UUID, principal: JourneyReader, request: Request) -> list[TimelineEntry]:
    ctx = ctx_of(request)
    try:
        timeline = await get_timeline(await ctx.temporal(), principal.organisation_id, client_id)
    except JourneyNotFound:
        raise not_found() from None
    await ctx.audit_access(principal, "journey.timeline.read", client_id)
    return timeline


@router.post(
    "/journeys/{client_id}/moves",
    response_model=JourneyState,
    summary="Move the journey: advance, step back, rest, resume, close, reopen, reassign",
    responses={**_NOT_FOUND, 409: {"description": "Illegal move now; `code` says why"}},
)
async def journey_move(client_id: uuid.UUID, body: MoveBody, principal: JourneyMover, request: Request) -> JourneyState:
    ctx = ctx_of(request)
    await _check_coach(ctx, principal, body.coach_id)
    temporal = await ctx.temporal()
    # Existence first, so another organisation's client id is a plain 404 and leaves no trace.
    try:
        await get_state(temporal, principal.organisation_id, client_id)
    except JourneyNotFound:
        raise not_found() from None
    await ctx.audit_access(principal, f"journey.move.{body.action}", client_id)
    req = MoveRequest(**body.model_dump(), actor=Actor(user_id=principal.user_id, role=principal.role))
    try:
        state = await move(temporal, principal.organisation_id, client_id, req)
    except MoveRejected as exc:
        raise _rejected(exc) from None
    except JourneyNotFound:
        raise not_found() from None
    return await _snapshot(ctx, state)


@router.post(
    "/journeys/{client_id}/milestones",
    response_model=JourneyState,
    summary="Report a milestone: employer contact, job start or end, counselling, disclosure, contact",
    responses={**_NOT_FOUND, 409: {"description": "Not possible now; `code` says why"}},
)
async def journey_milestone(
    client_id: uuid.UUID, body: MilestoneBody, principal: MilestoneReporter, request: Request
) -> JourneyState:
    ctx = ctx_of(request)
    temporal = await ctx.temporal()
    try:
        await get_state(temporal, principal.organisation_id, client_id)
    except JourneyNotFound:
        raise not_found() from None
    await ctx.audit_access(principal, f"journey.milestone.{body.kind}", client_id)
    req = MilestoneRequest(**body.model_dump(), actor=Actor(user_id=principal.user_id, role=principal.role))
    try:
        state = await record_milestone(temporal, principal.organisation_id, client_id, req)
    except MoveRejected as exc:
        raise _rejected(exc) from None
    except JourneyNotFound:
        raise not_found() from None
    return await _snapshot(ctx, state)
