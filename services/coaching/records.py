"""Coaching HTTP routes for a client's records: meetings and outreach, the vocational
profile (versioned) and the multi-professional team.

Every route first checks that the client's journey exists in the caller's organisation
(the journey workflow's id carries the organisation), so another organisation's client id
is a plain 404; then it writes the audit record, then reads or writes. Free text is
encrypted at rest (``record_store``). Recording a meeting reports ``contact_made`` to the
journey workflow with codes and the meeting's id only, never its notes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.exc import IntegrityError

from services.coaching import record_store as store
from services.coaching.record_models import (
    MeetingIn,
    MeetingOut,
    ProfileIn,
    ProfileOut,
    ProfileVersion,
    TeamMeetingIn,
    TeamMeetingOut,
    TeamMemberIn,
    TeamMemberOut,
)
from shared.auth import CLIENT_WORKERS, Principal, requires
from shared.contracts.journey import Role
from shared.problems import FieldError, ProblemError, not_found
from shared.service import ServiceContext, ctx_of
from workflows.client import JourneyNotFound, get_state, record_milestone
from workflows.contracts import Actor, JourneyState, MilestoneRequest
from workflows.domain import FUTURE_TOLERANCE, MoveRejected

router = APIRouter(prefix="/api/v1/clients/{client_id}", tags=["client records"])

RecordReader = Annotated[Principal, Depends(requires(*CLIENT_WORKERS, Role.AUDITOR))]
RecordWriter = Annotated[Principal, Depends(requires(Role.COACH, Role.TEAM_LEAD))]
# Meeting notes may hold health and life-situation details: the employer coordinator works
# with employers and needs the profile and the team, not what was said in meetings.
NOTE_READERS: tuple[Role, ...] = (Role.COACH, Role.TEAM_LEAD, Role.AUDITOR)

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such client in your organisation"}}


def invalid(field: str, message: str, type_: str = "value_error") -> ProblemError:
    """A 422 problem with one field error, the same shape as a request validation error."""
    return ProblemError(
        422,
        "Unprocessable Content",
        "The request has invalid fields.",
        code="validation_failed",
        extra={"errors": [FieldError(field=field, message=message, type=type_).model_dump()]},
    )


async def client_journey(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> JourneyState:
    """The client's journey in the caller's organisation, or 404 (also for another
    organisation's client: the workflow id includes the organisation)."""
    try:
        return await get_state(await ctx.temporal(), principal.organisation_id, client_id)
    except JourneyNotFound:
        raise not_found() from None


def _actor(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, role=principal.role)


# --------------------------------------------------------------------------- meetings


@router.get(
    "/meetings",
    response_model=list[MeetingOut],
    summary="The client's meetings and outreach contacts, oldest first",
    responses=_NOT_FOUND,
)
async def list_meetings(client_id: uuid.UUID, principal: RecordReader, request: Request) -> list[MeetingOut]:
    ctx = ctx_of(request)
    await client_journey(ctx, principal, client_id)
    await ctx.audit_access(principal, "records.meetings.read", client_id)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        return await store.meetings(session, ctx.cipher, client_id, with_notes=principal.role in NOTE_READERS)


@router.post(
    "/meetings",
    response_model=MeetingOut,
    status_code=201,
    summary="Record a meeting or outreach contact; reports contact_made to the journey",
    responses={**_NOT_FOUND, 409: {"description": "The journey takes no contacts now (closed); `code` says why"}},
)
async def create_meeting(
    client_id: uuid.UUID, body: MeetingIn, principal: RecordWriter, request: Request
) -> MeetingOut:
    ctx = ctx_of(request)
    if body.occurred_at > datetime.now(UTC) + FUTURE_TOLERANCE:
        raise invalid("occurred_at", "A meeting can be recorded once it has happened.")
    temporal = await ctx.temporal()
    await client_journey(ctx, principal, client_id)
    await ctx.audit_access(principal, "records.meeting.create", client_id)
    org = principal.organisation_id
    # The row and the milestone go together: if the workflow refuses the contact, the
    # transaction rolls back and nothing is written.
    async with ctx.database.session(organisation_id=org) as session, session.begin():
        row = store.new_meeting(ctx.cipher, org, client_id, body, principal.user_id)
        session.add(row)
        await session.flush()
        milestone = MilestoneRequest(
            kind="contact_made",
            occurred_at=body.occurred_at,
            place=body.place,
            contact_mode=body.contact_mode,
            reason_ref=f"meeting:{row.id}",
            actor=_actor(principal),
        )
        try:
            await record_milestone(temporal, org, client_id, milestone, update_id=f"meeting-{row.id}")
        except MoveRejected as exc:
            raise ProblemError(409, "Conflict", exc.message, code=exc.code) from None
        except JourneyNotFound:
            raise not_found() from None
        return store.to_meeting(row, ctx.cipher)


# --------------------------------------------------------------------------- profile


@router.get(
    "/profile",
    response_model=ProfileOut | None,
    summary="The current vocational profile (null before the first save)",
    responses=_NOT_FOUND,
)
async def get_profile(client_id: uuid.UUID, principal: RecordReader, request: Request) -> ProfileOut | None:
    ctx = ctx_of(request)
    await client_journey(ctx, principal, client_id)
    await ctx.audit_access(principal, "records.profile.read", client_id)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        return await store.latest_profile(session, ctx.cipher, client_id)


@router.put(
    "/profile",
    response_model=ProfileOut,
    summary="Save the vocational profile as its next version",
    responses={**_NOT_FOUND, 409: {"description": "Someone saved the profile at the same moment; try again"}},
)
async def put_profile(client_id: uuid.UUID, body: ProfileIn, principal: RecordWriter, request: Request) -> ProfileOut:
    ctx = ctx_of(request)
    await client_journey(ctx, principal, client_id)
    await ctx.audit_access(principal, "records.profile.save", client_id)
    org = principal.organisation_id
    try:
        async with ctx.database.session(organisation_id=org) as session, session.begin():
            return await store.save_profile(session, ctx.cipher, org, client_id, body, principal.user_id)
    except IntegrityError:
        raise ProblemError(
            409, "Conflict", "The profile was saved by someone else at the same time.", code="concurrent_save"
        ) from None


@router.get(
    "/profile/versions",
    response_model=list[ProfileVersion],
    summary="Every version of the profile, newest first: who saved it, when, which fields changed",
    responses=_NOT_FOUND,
)
async def list_profile_versions(
    client_id: uuid.UUID, principal: RecordReader, request: Request
) -> list[ProfileVersion]:
    ctx = ctx_of(request)
    await client_journey(ctx, principal, client_id)
    await ctx.audit_access(principal, "records.profile.versions.read", client_id)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        return await store.profile_versions(session, client_id)


# --------------------------------------------------------------------------- team


@router.get(
    "/team",
    response_model=list[TeamMemberOut],
    summary="The client's multi-professional team: current members first, then ended ones",
    responses=_NOT_FOUND,
)
async def list_team(
    client_id: uuid.UUID, principal: RecordReader, request: Request, current_only: bool = False
) -> list[TeamMemberOut]:
    ctx = ctx_of(request)
    await client_journey(ctx, principal, client_id)
    await ctx.audit_access(principal, "records.team.read", client_id)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        return await store.team(session, ctx.cipher, client_id, current_only=current_only)


@router.post(
    "/team",
    response_model=TeamMemberOut,
    status_code=201,
    summary="Add a professional to the client's team",
    responses=_NOT_FOUND,
)
async def add_team_member(
    client_id: uuid.UUID, body: TeamMemberIn, principal: RecordWriter, request: Request
) -> TeamMemberOut:
    ctx = ctx_of(request)
    await client_journey(ctx, principal, client_id)
    await ctx.audit_access(principal, "records.team.add", client_id)
    org = principal.organisation_id
    async with ctx.database.session(organisation_id=org) as session, session.begin():
        row = store.new_member(ctx.cipher, org, client_id, body, principal.user_id)
        session.add(row)
        await session.flush()
        return store.to_member(row, ctx.cipher)


@router.delete(
    "/team/{member_id}",
    response_model=TeamMemberOut,
    summary="End a team membership (the member stays in the team's history)",
    responses={404: {"description": "No such client or team member in your organisation"}},
)
async def end_team_member(
    client_id: uuid.UUID, member_id: uuid.UUID, principal: RecordWriter, request: Request
) -> TeamMemberOut:
    ctx = ctx_of(request)
    await client_journey(ctx, principal, client_id)
    await ctx.audit_access(principal, "records.team.end", client_id)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session, session.begin():
        member = await store.end_member(session, ctx.cipher, client_id, member_id, principal.user_id)
    if member is None:
        raise not_found("team member")
    return member


@router.get(
    "/team/meetings",
    response_model=list[TeamMeetingOut],
    summary="The client's team meetings, oldest first",
    responses=_NOT_FOUND,
)
async def list_team_meetings(client_id: uuid.UUID, principal: RecordReader, request: Request) -> list[TeamMeetingOut]:
    ctx = ctx_of(request)
    await client_journey(ctx, principal, client_id)
    await ctx.audit_access(principal, "records.team_meetings.read", client_id)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        return await store.team_meetings(session, ctx.cipher, client_id, with_notes=principal.role in NOTE_READERS)


@router.post(
    "/team/meetings",
    response_model=TeamMeetingOut,
    status_code=201,
    summary="Record a team meeting; participants are ids of the client's team members",
    responses=_NOT_FOUND,
)
async def create_team_meeting(
    client_id: uuid.UUID, body: TeamMeetingIn, principal: RecordWriter, request: Request
) -> TeamMeetingOut:
    ctx = ctx_of(request)
    await client_journey(ctx, principal, client_id)
    org = principal.organisation_id
    async with ctx.database.session(organisation_id=org) as session:
        unknown = await store.unknown_members(session, client_id, body.participant_ids)
    if unknown:
        raise invalid("participant_ids", "Every participant must be a member of the client's team.")
    await ctx.audit_access(principal, "records.team_meeting.create", client_id)
    async with ctx.database.session(organisation_id=org) as session, session.begin():
        row = store.new_team_meeting(ctx.cipher, org, client_id, body, principal.user_id)
        session.add(row)
        await session.flush()
        return store.to_team_meeting(row, ctx.cipher)
