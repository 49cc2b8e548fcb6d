"""Coaching HTTP routes for a client's plans and assessments: the job search plan, the
disclosure plan (criteria a-d), benefits counselling, self-assessments and client feedback.

The operations (``read_*``, ``save_*``, ``record_*``) are plain functions of the service
context and the caller, so the pages (``plan_pages``) run exactly the same checks, audit
records, milestones and events as the API. Each one:

1. checks the client's journey exists in the caller's organisation (else 404, nothing
   logged: the same answer as for a client that does not exist);
2. appends the audit record (who, what, which client) before touching the data;
3. reports the journey milestone first where there is one (a journey that refuses it,
   e.g. a closed one, answers 409 and nothing is written);
4. writes the row(s), and any event through the coaching outbox, in one transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime, time
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.coaching import plan_store as store
from services.coaching.plan_models import (
    GSE_ITEMS,
    SELF_EFFICACY_MAX,
    SELF_EFFICACY_MIN,
    WORK_ABILITY_MAX,
    WORK_ABILITY_MIN,
    AssessmentIn,
    AssessmentOut,
    AssessmentRow,
    BenefitsCounsellingIn,
    BenefitsCounsellingOut,
    DisclosurePlanIn,
    DisclosurePlanOut,
    FeedbackIn,
    FeedbackOut,
    JobSearchPlanIn,
    JobSearchPlanOut,
)
from services.coaching.records import client_journey
from shared.auth import Principal, requires
from shared.contracts.events import AssessmentRecorded, FeedbackRecorded
from shared.contracts.journey import Role
from shared.db import utcnow
from shared.i18n import TIMEZONE
from shared.problems import ProblemError, not_found
from shared.service import ServiceContext, ctx_of
from shared.telemetry import current_traceparent
from workflows.client import JourneyNotFound, record_milestone
from workflows.contracts import Actor, Criterion, JourneyState, MilestoneKind, MilestoneRequest
from workflows.domain import MoveRejected

router = APIRouter(prefix="/api/v1", tags=["plans"])

# Coaches and team leads read and write a client's plans (the roles that see names).
PLAN_ROLES: tuple[Role, ...] = (Role.COACH, Role.TEAM_LEAD)
PlanUser = Annotated[Principal, Depends(requires(*PLAN_ROLES))]

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such client in your organisation"}}
INVALID: dict[int | str, dict[str, Any]] = {422: {"description": "Invalid fields; nothing was written"}}
REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "The journey refuses the milestone now (e.g. it is closed); `code` says why"}
}


# --------------------------------------------------------------------------- shared steps


def session_for(ctx: ServiceContext, principal: Principal) -> Any:
    """A coaching-database session scoped to the caller's organisation."""
    return ctx.database.session(organisation_id=principal.organisation_id)


@asynccontextmanager
async def transaction(ctx: ServiceContext, principal: Principal) -> AsyncIterator[AsyncSession]:
    async with session_for(ctx, principal) as session, session.begin():
        yield session


T = TypeVar("T")


async def saving(ctx: ServiceContext, principal: Principal, save: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``save`` in a transaction. When another request created the same one-per-client row
    at the same moment (its unique constraint fails here), ``save`` runs once more and then
    updates that row: the later save wins, as it would a moment later."""
    try:
        async with transaction(ctx, principal) as session:
            return await save(session)
    except IntegrityError:
        async with transaction(ctx, principal) as session:
            return await save(session)


# The client's journey in the caller's organisation, or 404 (the records' check).
journey_of = client_journey


def conflict(code: str, detail: str) -> ProblemError:
    return ProblemError(409, "Conflict", detail, code=code)


def moment(day: date) -> datetime:
    """Noon of ``day`` in Finnish time (or now, if that is still ahead): when a milestone
    recorded with a date only happened."""
    at = datetime.combine(day, time(12), ZoneInfo(TIMEZONE))
    now = utcnow()
    return now if at > now else at


async def report_milestone(
    ctx: ServiceContext,
    principal: Principal,
    client_id: uuid.UUID,
    kind: MilestoneKind,
    day: date,
    criterion: Criterion | None = None,
) -> JourneyState:
    """Report a milestone to the client's ClientJourney; 409 if the journey refuses it."""
    req = MilestoneRequest(
        kind=kind,
        occurred_at=moment(day),
        criterion=criterion,
        actor=Actor(user_id=principal.user_id, role=principal.role),
    )
    try:
        return await record_milestone(await ctx.temporal(), principal.organisation_id, client_id, req)
    except MoveRejected as exc:
        raise conflict(exc.code, exc.message) from None
    except JourneyNotFound:
        raise not_found() from None


def _event_base(principal: Principal) -> dict[str, Any]:
    return {
        "organisation_id": principal.organisation_id,
        "region_id": principal.region_id,
        "traceparent": current_traceparent(),
    }


# --------------------------------------------------------------------------- operations


async def read_job_plan(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> JobSearchPlanOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "plans.job_search.read", client_id)
    async with session_for(ctx, principal) as session:
        return store.to_job_plan(client_id, await store.job_plan_row(session, client_id), ctx.cipher)


async def save_job_plan(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, body: JobSearchPlanIn
) -> JobSearchPlanOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "plans.job_search.write", client_id)
    return await saving(
        ctx,
        principal,
        lambda session: store.save_job_plan(
            session, ctx.cipher, principal.organisation_id, client_id, body, principal.user_id
        ),
    )


async def read_disclosure(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> DisclosurePlanOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "plans.disclosure.read", client_id)
    async with session_for(ctx, principal) as session:
        return store.to_disclosure(client_id, await store.disclosure_row(session, client_id), ctx.cipher)


async def save_disclosure(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, body: DisclosurePlanIn
) -> DisclosurePlanOut:
    await journey_of(ctx, principal, client_id)
    async with session_for(ctx, principal) as session:
        news = store.disclosure_news(await store.disclosure_row(session, client_id), body)
    await ctx.audit_access(principal, "plans.disclosure.write", client_id)
    for criterion, day in news:
        await report_milestone(ctx, principal, client_id, "disclosure_discussed", day, criterion)
    return await saving(
        ctx,
        principal,
        lambda session: store.save_disclosure(
            session, ctx.cipher, principal.organisation_id, client_id, body, principal.user_id
        ),
    )


async def list_benefits(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID
) -> list[BenefitsCounsellingOut]:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "plans.benefits.read", client_id)
    async with session_for(ctx, principal) as session:
        return await store.benefits(session, ctx.cipher, client_id)


async def record_benefits(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, body: BenefitsCounsellingIn
) -> BenefitsCounsellingOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "plans.benefits.write", client_id)
    await report_milestone(ctx, principal, client_id, "benefits_counselling_given", body.given_on)
    async with transaction(ctx, principal) as session:
        row = store.add_benefits(session, ctx.cipher, principal.organisation_id, client_id, body, principal.user_id)
    return store.to_benefits(row, ctx.cipher)


async def list_assessments(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> list[AssessmentOut]:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "assessments.read", client_id)
    async with session_for(ctx, principal) as session:
        return await store.assessments(session, ctx.cipher, client_id)


async def record_assessment(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, body: AssessmentIn
) -> AssessmentOut:
    state = await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, f"assessments.write.{body.kind}", client_id)
    base = _event_base(principal)
    try:
        row = await _add_assessment(ctx, principal, client_id, body, state, base)
    except IntegrityError:  # another request added the same kind at the same moment
        raise conflict("assessment_exists", f"The client already has a {body.kind} assessment.") from None
    return store.to_assessment(row, ctx.cipher)


async def _add_assessment(
    ctx: ServiceContext,
    principal: Principal,
    client_id: uuid.UUID,
    body: AssessmentIn,
    state: JourneyState,
    base: dict[str, Any],
) -> AssessmentRow:
    async with transaction(ctx, principal) as session:
        if await store.assessment_exists(session, client_id, body.kind):
            raise conflict("assessment_exists", f"The client already has a {body.kind} assessment.")
        row = store.add_assessment(session, ctx.cipher, principal.organisation_id, client_id, body, principal.user_id)
        for instrument, score, low, high in (
            ("work_ability", row.work_ability, WORK_ABILITY_MIN, WORK_ABILITY_MAX),
            ("self_efficacy", row.self_efficacy, SELF_EFFICACY_MIN, SELF_EFFICACY_MAX),
        ):
            ctx.outbox.add(
                session,
                AssessmentRecorded(
                    **base,
                    client_id=client_id,
                    coach_id=state.coach_id,
                    instrument=instrument,
                    timing=body.kind,
                    score=score,
                    scale_min=low,
                    scale_max=high,
                    assessed_on=body.assessed_on,
                ),
            )
    return row


async def list_feedback(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> list[FeedbackOut]:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "feedback.read", client_id)
    async with session_for(ctx, principal) as session:
        return await store.feedback(session, ctx.cipher, client_id)


async def record_feedback(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, body: FeedbackIn
) -> FeedbackOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "feedback.write", client_id)
    async with transaction(ctx, principal) as session:
        row = store.add_feedback(session, ctx.cipher, principal.organisation_id, client_id, body, principal.user_id)
        ctx.outbox.add(
            session,
            FeedbackRecorded(
                **_event_base(principal),
                response_id=row.id,
                survey=row.survey,
                client_id=None if body.anonymous else client_id,
                answered_on=body.answered_on,
                answers=dict(row.answers),
            ),
        )
    return store.to_feedback(row, ctx.cipher)


# --------------------------------------------------------------------------- routes


@router.get(
    "/clients/{client_id}/job-search-plan",
    response_model=JobSearchPlanOut,
    summary="The client's job search plan (version 0 and empty before the first save)",
    responses=NOT_FOUND,
)
async def get_job_search_plan(client_id: uuid.UUID, principal: PlanUser, request: Request) -> JobSearchPlanOut:
    return await read_job_plan(ctx_of(request), principal, client_id)


@router.put(
    "/clients/{client_id}/job-search-plan",
    response_model=JobSearchPlanOut,
    summary="Save the job search plan: target jobs, employers to contact, hours, steps with due dates, notes",
    responses={**NOT_FOUND, **INVALID},
)
async def put_job_search_plan(
    client_id: uuid.UUID, body: JobSearchPlanIn, principal: PlanUser, request: Request
) -> JobSearchPlanOut:
    return await save_job_plan(ctx_of(request), principal, client_id, body)


@router.get(
    "/clients/{client_id}/disclosure-plan",
    response_model=DisclosurePlanOut,
    summary="The disclosure plan: criteria a-d as a checklist, revisits, and the fidelity score 1-5",
    responses=NOT_FOUND,
)
async def get_disclosure_plan(client_id: uuid.UUID, principal: PlanUser, request: Request) -> DisclosurePlanOut:
    return await read_disclosure(ctx_of(request), principal, client_id)


@router.put(
    "/clients/{client_id}/disclosure-plan",
    response_model=DisclosurePlanOut,
    summary="Save the disclosure plan; a criterion newly discussed (or a revisit held) reports "
    "`disclosure_discussed` to the journey",
    responses={**NOT_FOUND, **INVALID, **REFUSED},
)
async def put_disclosure_plan(
    client_id: uuid.UUID, body: DisclosurePlanIn, principal: PlanUser, request: Request
) -> DisclosurePlanOut:
    return await save_disclosure(ctx_of(request), principal, client_id, body)


@router.get(
    "/clients/{client_id}/benefits-counselling",
    response_model=list[BenefitsCounsellingOut],
    summary="The client's benefits counselling (etuusneuvonta) sessions, oldest first",
    responses=NOT_FOUND,
)
async def get_benefits_counselling(
    client_id: uuid.UUID, principal: PlanUser, request: Request
) -> list[BenefitsCounsellingOut]:
    return await list_benefits(ctx_of(request), principal, client_id)


@router.post(
    "/clients/{client_id}/benefits-counselling",
    status_code=201,
    response_model=BenefitsCounsellingOut,
    summary="Record benefits counselling; reports `benefits_counselling_given` to the journey",
    responses={**NOT_FOUND, **INVALID, **REFUSED},
)
async def post_benefits_counselling(
    client_id: uuid.UUID, body: BenefitsCounsellingIn, principal: PlanUser, request: Request
) -> BenefitsCounsellingOut:
    return await record_benefits(ctx_of(request), principal, client_id, body)


@router.get(
    "/clients/{client_id}/assessments",
    response_model=list[AssessmentOut],
    summary="The client's start and end self-assessments",
    responses=NOT_FOUND,
)
async def get_assessments(client_id: uuid.UUID, principal: PlanUser, request: Request) -> list[AssessmentOut]:
    return await list_assessments(ctx_of(request), principal, client_id)


@router.post(
    "/clients/{client_id}/assessments",
    status_code=201,
    response_model=AssessmentOut,
    summary=f"Record a start or end self-assessment: work ability {WORK_ABILITY_MIN}-{WORK_ABILITY_MAX} and "
    f"the General Self-Efficacy Scale ({GSE_ITEMS} answers 1-4, sum {SELF_EFFICACY_MIN}-{SELF_EFFICACY_MAX}); "
    "publishes `assessment.recorded`",
    responses={
        **NOT_FOUND,
        **INVALID,
        409: {"description": "The client already has an assessment of this kind (`assessment_exists`)"},
    },
)
async def post_assessment(
    client_id: uuid.UUID, body: AssessmentIn, principal: PlanUser, request: Request
) -> AssessmentOut:
    return await record_assessment(ctx_of(request), principal, client_id, body)


@router.get(
    "/clients/{client_id}/feedback",
    response_model=list[FeedbackOut],
    summary="The client's answers to the feedback survey",
    responses=NOT_FOUND,
)
async def get_feedback(client_id: uuid.UUID, principal: PlanUser, request: Request) -> list[FeedbackOut]:
    return await list_feedback(ctx_of(request), principal, client_id)


@router.post(
    "/clients/{client_id}/feedback",
    status_code=201,
    response_model=FeedbackOut,
    summary="Record the end-of-coaching feedback survey (answers 1-5 by question code, optional comment); "
    "publishes `feedback.recorded`",
    responses={**NOT_FOUND, **INVALID},
)
async def post_feedback(client_id: uuid.UUID, body: FeedbackIn, principal: PlanUser, request: Request) -> FeedbackOut:
    return await record_feedback(ctx_of(request), principal, client_id, body)
