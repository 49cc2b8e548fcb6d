"""Employer HTTP routes: employers, the contact log, openings, matching and placements.

Each route is a thin wrapper over an operation (``register_employer``, ``record_contact``,
...) that the web pages call too, so a page and the API check, audit and write the same
way. Coaches and employer coordinators write; team leads read.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.exc import IntegrityError
from temporalio.client import Client as TemporalClient

from services.employer import domain, matching, store
from services.employer.models import (
    ClientMatch,
    ClientMatches,
    ContactCreate,
    ContactOut,
    ContactPersonIn,
    ContactPersonOut,
    Employer,
    EmployerContact,
    EmployerCreate,
    EmployerOut,
    EmployerSummary,
    MatchProfile,
    MatchProfileIn,
    MatchProfileOut,
    Opening,
    OpeningCreate,
    OpeningMatch,
    OpeningMatches,
    OpeningOut,
    OpeningStatusChange,
    Placement,
    PlacementCreate,
    PlacementEnd,
    PlacementOut,
    ReasonOut,
    WeeklyCountOut,
    WeeklyReport,
)
from shared.auth import Principal, requires
from shared.contracts.employer import (
    WEEKLY_FACE_TO_FACE_TARGET,
    ContactMode,
    JourneyReport,
    OpeningStatus,
    PlacementStatus,
)
from shared.contracts.events import (
    EmployerContactRecorded,
    EmployerRegistered,
    OpeningCreated,
    PlacementEnded,
    PlacementStarted,
)
from shared.contracts.journey import Phase, Role, Status
from shared.db import utcnow
from shared.problems import FieldError, ProblemError, not_found
from shared.service import ServiceContext, ctx_of
from shared.telemetry import current_traceparent
from workflows.client import JourneyNotFound, get_state, record_milestone
from workflows.contracts import Actor, JourneyState, MilestoneRequest
from workflows.domain import MoveRejected

router = APIRouter(prefix="/api/v1", tags=["employers"])

WRITERS: tuple[Role, ...] = (Role.COACH, Role.EMPLOYER_COORDINATOR)
READERS: tuple[Role, ...] = (Role.COACH, Role.EMPLOYER_COORDINATOR, Role.TEAM_LEAD)
# Who may be named as the maker of an employer contact.
STAFF_ROLES: tuple[Role, ...] = (Role.COACH, Role.EMPLOYER_COORDINATOR, Role.TEAM_LEAD)

Writer = Annotated[Principal, Depends(requires(*WRITERS))]
Reader = Annotated[Principal, Depends(requires(*READERS))]

# When a journey refuses job_ended, the placement still ends: the job is over either way.
END_ACCEPTED_REJECTIONS = frozenset({"no_current_job", "closed_accepts_only_reopen"})

_404: dict[int | str, dict[str, Any]] = {404: {"description": "No such thing in your organisation"}}
_422: dict[int | str, dict[str, Any]] = {422: {"description": "Invalid fields; nothing was written"}}


def invalid(field: str, message: str) -> ProblemError:
    error = FieldError(field=field, message=message, type="value_error")
    return ProblemError(
        422,
        "Unprocessable Content",
        "The request has invalid fields.",
        code="validation_failed",
        extra={"errors": [error.model_dump()]},
    )


def _rejected(exc: MoveRejected) -> ProblemError:
    return ProblemError(409, "Conflict", exc.message, code=exc.code)


def _actor(principal: Principal) -> Actor:
    return Actor(user_id=principal.user_id, role=principal.role)


def _event_base(principal: Principal) -> dict[str, Any]:
    return {
        "organisation_id": principal.organisation_id,
        "region_id": principal.region_id,
        "traceparent": current_traceparent(),
    }


async def journey_of(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID
) -> tuple[TemporalClient, JourneyState]:
    """The client's journey in the caller's organisation; 404 for anyone else's client."""
    temporal = await ctx.temporal()
    try:
        return temporal, await get_state(temporal, principal.organisation_id, client_id)
    except JourneyNotFound:
        raise not_found() from None


async def _employer(ctx: ServiceContext, principal: Principal, employer_id: uuid.UUID) -> Employer:
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        employer = await store.get_employer(session, employer_id)
    if employer is None:
        raise not_found("employer")
    return employer


# --------------------------------------------------------------------------- employers


async def register_employer(ctx: ServiceContext, principal: Principal, body: EmployerCreate) -> EmployerOut:
    org = principal.organisation_id
    employer_id = uuid.uuid4()
    try:
        async with ctx.database.session(organisation_id=org) as session, session.begin():
            existing = await store.employer_by_business_id(session, body.business_id)
            if existing is not None:
                raise _employer_exists(existing.id)
            employer = Employer(
                id=employer_id,
                organisation_id=org,
                name=body.name,
                business_id=body.business_id,
                industry=body.industry,
                locations=[loc.model_dump() for loc in body.locations],
                preferred_channel=body.preferred_channel.value,
                support_needs=[n.value for n in body.support_needs],
                registered_by=principal.user_id,
            )
            session.add(employer)
            await session.flush()
            persons = [
                store.new_contact_person(ctx.cipher, org, employer_id, p, principal.user_id)
                for p in body.contact_persons
            ]
            session.add_all(persons)
            ctx.outbox.add(
                session,
                EmployerRegistered(
                    **_event_base(principal),
                    employer_id=employer_id,
                    industry=body.industry,
                    preferred_channel=body.preferred_channel,
                    support_needs=list(body.support_needs),
                ),
            )
    except IntegrityError:
        # Registered by someone else at the same moment.
        async with ctx.database.session(organisation_id=org) as session:
            existing = await store.employer_by_business_id(session, body.business_id)
        raise _employer_exists(existing.id if existing else None) from None
    return store.to_employer(employer, persons, ctx.cipher)


def _employer_exists(employer_id: uuid.UUID | None) -> ProblemError:
    return ProblemError(
        409,
        "Conflict",
        "An employer with this business ID is already in the register.",
        code="employer_exists",
        extra={"employer_id": str(employer_id)} if employer_id else None,
    )


async def read_employer(ctx: ServiceContext, principal: Principal, employer_id: uuid.UUID) -> EmployerOut:
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        employer = await store.get_employer(session, employer_id)
        if employer is None:
            raise not_found("employer")
        persons = await store.contact_persons(session, employer_id)
    return store.to_employer(employer, persons, ctx.cipher)


async def list_employers(ctx: ServiceContext, principal: Principal, name: str | None = None) -> list[EmployerSummary]:
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        rows = await store.list_employers(session, name)
    return [store.to_summary(e) for e in rows]


async def add_contact_person(
    ctx: ServiceContext, principal: Principal, employer_id: uuid.UUID, body: ContactPersonIn
) -> ContactPersonOut:
    async with ctx.database.session(organisation_id=principal.organisation_id) as session, session.begin():
        if await store.get_employer(session, employer_id) is None:
            raise not_found("employer")
        person = store.new_contact_person(ctx.cipher, principal.organisation_id, employer_id, body, principal.user_id)
        session.add(person)
    return store.to_contact_person(person, ctx.cipher)


@router.post(
    "/employers",
    status_code=201,
    response_model=EmployerOut,
    summary="Register an employer (business ID validated, contact persons encrypted)",
    responses={**_422, 409: {"description": "The business ID is already registered; `employer_id` names it"}},
)
async def post_employer(body: EmployerCreate, principal: Writer, request: Request) -> EmployerOut:
    return await register_employer(ctx_of(request), principal, body)


@router.get("/employers", response_model=list[EmployerSummary], summary="The organisation's employers")
async def get_employers(
    principal: Reader, request: Request, name: Annotated[str | None, Query(max_length=100)] = None
) -> list[EmployerSummary]:
    return await list_employers(ctx_of(request), principal, name)


@router.get(
    "/employers/{employer_id}",
    response_model=EmployerOut,
    summary="An employer with its contact persons",
    responses=_404,
)
async def get_employer(employer_id: uuid.UUID, principal: Reader, request: Request) -> EmployerOut:
    return await read_employer(ctx_of(request), principal, employer_id)


@router.post(
    "/employers/{employer_id}/contact-persons",
    status_code=201,
    response_model=ContactPersonOut,
    summary="Add a contact person to an employer",
    responses={**_404, **_422},
)
async def post_contact_person(
    employer_id: uuid.UUID, body: ContactPersonIn, principal: Writer, request: Request
) -> ContactPersonOut:
    return await add_contact_person(ctx_of(request), principal, employer_id, body)


# --------------------------------------------------------------------------- contacts


async def _check_staff(ctx: ServiceContext, principal: Principal, staff_id: uuid.UUID) -> None:
    account = await ctx.identity.account(staff_id)
    if account is None or account.organisation_id != principal.organisation_id or account.role not in STAFF_ROLES:
        raise invalid("staff_id", "No coach or employer coordinator with this id in your organisation.")


async def record_contact(ctx: ServiceContext, principal: Principal, body: ContactCreate) -> ContactOut:
    """Log an employer contact. A face-to-face contact on behalf of a client reports the
    journey's first employer contact (a journey that has one already says so: fine)."""
    org = principal.organisation_id
    staff_id = body.staff_id or principal.user_id
    if body.staff_id is not None and body.staff_id != principal.user_id:
        await _check_staff(ctx, principal, body.staff_id)
    await _employer(ctx, principal, body.employer_id)
    temporal: TemporalClient | None = None
    if body.client_id is not None:
        temporal, _state = await journey_of(ctx, principal, body.client_id)
        await ctx.audit_access(principal, "employer_contact.record", body.client_id)
    contact_id = uuid.uuid4()
    async with ctx.database.session(organisation_id=org) as session, session.begin():
        employer = await store.get_employer(session, body.employer_id)
        if employer is None:
            raise not_found("employer")
        contact = EmployerContact(
            id=contact_id,
            organisation_id=org,
            employer_id=body.employer_id,
            staff_id=staff_id,
            occurred_on=body.occurred_on,
            mode=body.mode.value,
            client_present=body.client_present,
            client_id=body.client_id,
            purposes=[p.value for p in body.purposes],
            level=body.level,
            journey_report=JourneyReport.NOT_APPLICABLE.value,
            recorded_by=principal.user_id,
        )
        session.add(contact)
        await session.flush()
        await store.refresh_relationship(session, employer)
        ctx.outbox.add(
            session,
            EmployerContactRecorded(
                **_event_base(principal),
                contact_id=contact_id,
                employer_id=body.employer_id,
                staff_id=staff_id,
                occurred_on=body.occurred_on,
                mode=body.mode,
                client_present=body.client_present,
                client_id=body.client_id,
                purposes=list(body.purposes),
                level=body.level,
            ),
        )
        if temporal is not None and body.client_id is not None and body.mode is ContactMode.FACE_TO_FACE:
            # Reported inside the transaction: if the engine is away, the contact is not saved either.
            report, code = await _report_first_contact(
                temporal, principal, body.client_id, contact_id, body.occurred_on
            )
            contact.journey_report, contact.journey_code = report.value, code
    return store.to_contact(contact)


async def _report_first_contact(
    temporal: TemporalClient, principal: Principal, client_id: uuid.UUID, contact_id: uuid.UUID, day: date
) -> tuple[JourneyReport, str | None]:
    request = MilestoneRequest(
        kind="first_employer_contact",
        occurred_at=domain.occurred_at(day, datetime.now(UTC)),
        reason_ref=f"employer-contact/{contact_id}",
        actor=_actor(principal),
    )
    try:
        await record_milestone(
            temporal, principal.organisation_id, client_id, request, update_id=f"employer-contact-{contact_id}"
        )
    except MoveRejected as exc:
        if exc.code == "already_recorded":
            return JourneyReport.ALREADY_RECORDED, None
        return JourneyReport.NOT_RECORDED, exc.code
    except JourneyNotFound:
        raise not_found() from None
    return JourneyReport.RECORDED, None


async def list_contacts(
    ctx: ServiceContext,
    principal: Principal,
    *,
    employer_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    week: domain.Week | None = None,
    limit: int | None = None,
) -> list[ContactOut]:
    if client_id is not None:
        await journey_of(ctx, principal, client_id)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        rows = await store.contacts(
            session,
            employer_id=employer_id,
            client_id=client_id,
            since=week.monday if week else None,
            until=week.sunday if week else None,
            limit=limit,
        )
    clients = sorted({c.client_id for c in rows if c.client_id is not None}, key=str)
    await ctx.audit_many(principal, "employer_contact.list", clients)
    return [store.to_contact(c) for c in rows]


async def weekly_report(ctx: ServiceContext, principal: Principal, week: domain.Week) -> WeeklyReport:
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        rows = await store.contacts(session, since=week.monday, until=week.sunday)
    users = {u.id: u for u in await ctx.identity.users(principal.organisation_id)}
    coaches = [str(u.id) for u in users.values() if u.role in (Role.COACH.value, Role.EMPLOYER_COORDINATOR.value)]
    counts = domain.weekly_counts(store.contact_facts(rows), week, coaches)
    staff = []
    for count in counts:
        user = users.get(uuid.UUID(count.staff_id))
        staff.append(
            WeeklyCountOut(
                staff_id=uuid.UUID(count.staff_id),
                username=(user.display_name or user.username) if user else None,
                role=user.role if user else None,
                face_to_face=count.face_to_face,
                other=count.other,
                total=count.total,
                target=count.target,
                target_met=count.target_met,
            )
        )
    return WeeklyReport(
        week=str(week), monday=week.monday, sunday=week.sunday, target=WEEKLY_FACE_TO_FACE_TARGET, staff=staff
    )


def week_param(value: str | None) -> domain.Week:
    if value is None:
        return domain.week_of(domain.finnish_today())
    try:
        return domain.parse_week(value)
    except ValueError:
        raise invalid("week", "Give the week as YYYY-Www, e.g. 2026-W03.") from None


WeekQuery = Annotated[str | None, Query(description="ISO week YYYY-Www; default this week", max_length=8)]


@router.post(
    "/employer-contacts",
    status_code=201,
    response_model=ContactOut,
    summary="Log an employer contact; a client's face-to-face one reports the first employer contact",
    responses={**_404, **_422},
)
async def post_contact(body: ContactCreate, principal: Writer, request: Request) -> ContactOut:
    return await record_contact(ctx_of(request), principal, body)


@router.get(
    "/employer-contacts",
    response_model=list[ContactOut],
    summary="The contact log, newest first; by employer, client or week",
    responses=_404,
)
async def get_contacts(
    principal: Reader,
    request: Request,
    employer_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    week: WeekQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[ContactOut]:
    return await list_contacts(
        ctx_of(request),
        principal,
        employer_id=employer_id,
        client_id=client_id,
        week=week_param(week) if week else None,
        limit=limit,
    )


@router.get(
    "/employer-contacts/weekly",
    response_model=WeeklyReport,
    summary="Face-to-face employer contacts per coach in a week, against the target of six",
)
async def get_weekly(principal: Reader, request: Request, week: WeekQuery = None) -> WeeklyReport:
    return await weekly_report(ctx_of(request), principal, week_param(week))


# --------------------------------------------------------------------------- openings


async def create_opening(ctx: ServiceContext, principal: Principal, body: OpeningCreate) -> OpeningOut:
    org = principal.organisation_id
    if body.for_client_id is not None:
        await journey_of(ctx, principal, body.for_client_id)
        await ctx.audit_access(principal, "opening.carve", body.for_client_id)
    opening_id = uuid.uuid4()
    async with ctx.database.session(organisation_id=org) as session, session.begin():
        employer = await store.get_employer(session, body.employer_id)
        if employer is None:
            raise not_found("employer")
        industry = body.industry or employer.industry
        municipality = body.municipality
        if municipality is None and len(employer.locations or []) == 1:
            municipality = str(employer.locations[0]["municipality"])
        opening = Opening(
            id=opening_id,
            organisation_id=org,
            employer_id=employer.id,
            title=body.title,
            source=body.source.value,
            status=OpeningStatus.OPEN.value,
            industry=industry,
            municipality=municipality,
            hours_min=body.hours_min,
            hours_max=body.hours_max,
            keywords=list(body.keywords),
            tasks=list(body.tasks),
            for_client_id=body.for_client_id,
            created_by=principal.user_id,
            created_at=utcnow(),
        )
        session.add(opening)
        ctx.outbox.add(
            session,
            OpeningCreated(
                **_event_base(principal),
                opening_id=opening_id,
                employer_id=employer.id,
                source=body.source,
                industry=industry,
                carved=bool(body.tasks),
                for_client_id=body.for_client_id,
            ),
        )
    return store.to_opening(opening, employer.name)


async def list_openings(
    ctx: ServiceContext,
    principal: Principal,
    *,
    status: OpeningStatus | None = None,
    employer_id: uuid.UUID | None = None,
) -> list[OpeningOut]:
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        rows = await store.openings(session, status=status, employer_id=employer_id)
        names = await store.employer_names(session)
    return [store.to_opening(o, names.get(o.employer_id, "")) for o in rows]


async def read_opening(ctx: ServiceContext, principal: Principal, opening_id: uuid.UUID) -> OpeningOut:
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        opening = await store.get_opening(session, opening_id)
        if opening is None:
            raise not_found("opening")
        employer = await store.get_employer(session, opening.employer_id)
    return store.to_opening(opening, employer.name if employer else "")


async def change_opening_status(
    ctx: ServiceContext, principal: Principal, opening_id: uuid.UUID, body: OpeningStatusChange
) -> OpeningOut:
    async with ctx.database.session(organisation_id=principal.organisation_id) as session, session.begin():
        opening = await store.get_opening(session, opening_id)
        if opening is None:
            raise not_found("opening")
        if opening.status != body.status.value:
            opening.status = body.status.value
            opening.status_changed_at = utcnow()
        employer = await store.get_employer(session, opening.employer_id)
    return store.to_opening(opening, employer.name if employer else "")


@router.post(
    "/openings",
    status_code=201,
    response_model=OpeningOut,
    summary="Add an opening, or tasks carved from an employer's needs (optionally for one client)",
    responses={**_404, **_422},
)
async def post_opening(body: OpeningCreate, principal: Writer, request: Request) -> OpeningOut:
    return await create_opening(ctx_of(request), principal, body)


@router.get("/openings", response_model=list[OpeningOut], summary="Openings, newest first")
async def get_openings(
    principal: Reader,
    request: Request,
    status: OpeningStatus | None = None,
    employer_id: uuid.UUID | None = None,
) -> list[OpeningOut]:
    return await list_openings(ctx_of(request), principal, status=status, employer_id=employer_id)


@router.get("/openings/{opening_id}", response_model=OpeningOut, summary="One opening", responses=_404)
async def get_opening(opening_id: uuid.UUID, principal: Reader, request: Request) -> OpeningOut:
    return await read_opening(ctx_of(request), principal, opening_id)


@router.post(
    "/openings/{opening_id}/status",
    response_model=OpeningOut,
    summary="Mark an opening filled or closed, or open it again",
    responses={**_404, **_422},
)
async def post_opening_status(
    opening_id: uuid.UUID, body: OpeningStatusChange, principal: Writer, request: Request
) -> OpeningOut:
    return await change_opening_status(ctx_of(request), principal, opening_id, body)


# --------------------------------------------------------------------------- matching


def _reasons(reasons: Sequence[matching.Reason]) -> list[ReasonOut]:
    return [ReasonOut(code=r.code, preference=r.preference, value=r.value, text=matching.explain(r)) for r in reasons]


async def set_match_profile(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, body: MatchProfileIn
) -> MatchProfileOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "match_profile.write", client_id)

    async def save() -> MatchProfile:
        async with ctx.database.session(organisation_id=principal.organisation_id) as session, session.begin():
            row = await store.get_profile(session, client_id)
            if row is None:
                row = MatchProfile(client_id=client_id, organisation_id=principal.organisation_id, profile_enc="")
                session.add(row)
            row.profile_enc = store.encrypt_profile(ctx.cipher, client_id, body)
            row.updated_at = utcnow()
            row.updated_by = principal.user_id
        return row

    try:
        row = await save()
    except IntegrityError:  # someone created the client's profile at the same moment: update it
        row = await save()
    return store.to_profile_out(row, body)


async def read_match_profile(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> MatchProfileOut | None:
    """The client's profile; None if none is set (404 if the client is not the caller's)."""
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "match_profile.read", client_id)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        row = await store.get_profile(session, client_id)
    return None if row is None else store.to_profile_out(row, store.decrypt_profile(ctx.cipher, row))


async def client_matches(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> ClientMatches:
    """Open openings for the client, best fit first, each with its reasons."""
    _temporal, state = await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "match.client", client_id)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        row = await store.get_profile(session, client_id)
        rows = await store.openings(session, status=OpeningStatus.OPEN)
        names = await store.employer_names(session)
    profile = None if row is None else store.decrypt_profile(ctx.cipher, row)
    matches: list[OpeningMatch] = []
    if row is not None and profile is not None:
        by_id = {str(o.id): o for o in rows}
        facts = [store.opening_facts(o, names.get(o.employer_id, "")) for o in rows]
        for s in matching.rank_openings(store.to_matching_profile(profile), facts, str(client_id)):
            opening = by_id[s.target_id]
            matches.append(
                OpeningMatch(
                    opening=store.to_opening(opening, names.get(opening.employer_id, "")),
                    score=s.score,
                    reasons=_reasons(s.reasons),
                    concerns=_reasons(s.concerns),
                    explanation=matching.explanation(s),
                )
            )
    return ClientMatches(
        client_id=client_id,
        phase=state.phase.value,
        status=state.status.value,
        in_job_search=state.phase is Phase.JOB_SEARCH and state.status is Status.ACTIVE,
        profile=None if row is None or profile is None else store.to_profile_out(row, profile),
        matches=matches,
    )


async def opening_matches(ctx: ServiceContext, principal: Principal, opening_id: uuid.UUID) -> OpeningMatches:
    """The organisation's active job seekers who fit the opening, best first."""
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        opening = await store.get_opening(session, opening_id)
        if opening is None:
            raise not_found("opening")
        employer = await store.get_employer(session, opening.employer_id)
        seekers = await store.job_seekers(session)
        profiles = await store.profiles_of(session, [p.client_id for p in seekers])
    name = employer.name if employer else ""
    coach_of = {p.client_id: p.coach_id for p in seekers}
    by_client = {
        str(row.client_id): store.to_matching_profile(store.decrypt_profile(ctx.cipher, row)) for row in profiles
    }
    ranked = matching.rank_clients(store.opening_facts(opening, name), by_client)
    await ctx.audit_many(principal, "match.opening", [uuid.UUID(s.target_id) for s in ranked])
    return OpeningMatches(
        opening=store.to_opening(opening, name),
        matches=[
            ClientMatch(
                client_id=uuid.UUID(s.target_id),
                coach_id=coach_of[uuid.UUID(s.target_id)],
                score=s.score,
                reasons=_reasons(s.reasons),
                concerns=_reasons(s.concerns),
                explanation=matching.explanation(s),
            )
            for s in ranked
        ],
    )


@router.put(
    "/clients/{client_id}/match-profile",
    response_model=MatchProfileOut,
    summary="Set the preferences matching uses (fields, hours, areas, interests)",
    responses={**_404, **_422},
)
async def put_match_profile(
    client_id: uuid.UUID, body: MatchProfileIn, principal: Writer, request: Request
) -> MatchProfileOut:
    return await set_match_profile(ctx_of(request), principal, client_id, body)


@router.get(
    "/clients/{client_id}/match-profile",
    response_model=MatchProfileOut,
    summary="The preferences matching uses (empty, without `updated_at`, until recorded)",
    responses=_404,
)
async def get_match_profile(client_id: uuid.UUID, principal: Reader, request: Request) -> MatchProfileOut:
    profile = await read_match_profile(ctx_of(request), principal, client_id)
    if profile is None:
        return MatchProfileOut(
            client_id=client_id, fields=[], hours_min=None, hours_max=None, areas=[], interests=[], updated_at=None
        )
    return profile


@router.get(
    "/clients/{client_id}/matches",
    response_model=ClientMatches,
    summary="Open openings ranked by fit with the client's preferences, each saying why",
    responses=_404,
)
async def get_client_matches(client_id: uuid.UUID, principal: Reader, request: Request) -> ClientMatches:
    return await client_matches(ctx_of(request), principal, client_id)


@router.get(
    "/openings/{opening_id}/matches",
    response_model=OpeningMatches,
    summary="The organisation's job seekers who fit the opening, each saying why",
    responses=_404,
)
async def get_opening_matches(opening_id: uuid.UUID, principal: Reader, request: Request) -> OpeningMatches:
    return await opening_matches(ctx_of(request), principal, opening_id)


# --------------------------------------------------------------------------- placements


async def start_placement(ctx: ServiceContext, principal: Principal, body: PlacementCreate) -> PlacementOut:
    """Start a placement and report ``job_started`` to the journey (moving it to
    EMPLOYER_AGREEMENT with ``confirm_move``). A journey that refuses leaves nothing written."""
    org = principal.organisation_id
    temporal, _state = await journey_of(ctx, principal, body.client_id)
    async with ctx.database.session(organisation_id=org) as session:
        employer = await store.get_employer(session, body.employer_id)
        opening = await store.get_opening(session, body.opening_id) if body.opening_id else None
    if employer is None:
        raise not_found("employer")
    if body.opening_id is not None:
        if opening is None:
            raise not_found("opening")
        if opening.employer_id != employer.id:
            raise invalid("opening_id", "The opening belongs to another employer.")
        if opening.for_client_id is not None and opening.for_client_id != body.client_id:
            raise invalid("opening_id", "The opening was carved for another client.")
    await ctx.audit_access(principal, "placement.start", body.client_id)
    placement_id = uuid.uuid4()
    async with ctx.database.session(organisation_id=org) as session, session.begin():
        placement = Placement(
            id=placement_id,
            organisation_id=org,
            client_id=body.client_id,
            employer_id=employer.id,
            opening_id=body.opening_id,
            kind=body.kind.value,
            job_title=body.job_title,
            job_type=body.job_type,
            starts_on=body.starts_on,
            planned_end_on=body.planned_end_on,
            hours_per_week=body.hours_per_week,
            permanent=body.permanent,
            competitive=body.competitive,
            coach_supports=[s.value for s in body.coach_supports],
            work_arrangement_support=body.work_arrangement_support.value,
            status=PlacementStatus.ACTIVE.value,
            journey_moved=body.confirm_move,
            created_by=principal.user_id,
            created_at=utcnow(),
        )
        session.add(placement)
        if body.opening_id is not None:
            fresh = await store.get_opening(session, body.opening_id)
            if fresh is not None and fresh.status == OpeningStatus.OPEN.value:
                fresh.status, fresh.status_changed_at = OpeningStatus.FILLED.value, utcnow()
        ctx.outbox.add(
            session,
            PlacementStarted(
                **_event_base(principal),
                placement_id=placement_id,
                client_id=body.client_id,
                employer_id=employer.id,
                opening_id=body.opening_id,
                kind=body.kind,
                industry=employer.industry,
                starts_on=body.starts_on,
                planned_end_on=body.planned_end_on,
                hours_per_week=body.hours_per_week,
                permanent=body.permanent,
                competitive=body.competitive,
                coach_supports=list(body.coach_supports),
                work_arrangement_support=body.work_arrangement_support,
            ),
        )
        await session.flush()
        request = MilestoneRequest(
            kind="job_started",
            occurred_at=domain.occurred_at(body.starts_on, datetime.now(UTC)),
            confirm_move=body.confirm_move,
            reason_ref=f"placement/{placement_id}",
            actor=_actor(principal),
        )
        try:
            await record_milestone(
                temporal, org, body.client_id, request, update_id=f"placement-{placement_id}-started"
            )
        except MoveRejected as exc:
            raise _rejected(exc) from None  # rolls the placement back
        except JourneyNotFound:
            raise not_found() from None
    return store.to_placement(placement, employer.name)


async def end_placement(
    ctx: ServiceContext, principal: Principal, placement_id: uuid.UUID, body: PlacementEnd
) -> PlacementOut:
    """End a placement and report ``job_ended`` with the reason (moving the journey back to
    JOB_SEARCH with ``confirm_move``)."""
    org = principal.organisation_id
    async with ctx.database.session(organisation_id=org) as session:
        found = await store.get_placement(session, placement_id)
    if found is None:
        raise not_found("placement")
    temporal, _state = await journey_of(ctx, principal, found.client_id)
    if found.status != PlacementStatus.ACTIVE.value:
        raise ProblemError(409, "Conflict", "The placement has ended already.", code="placement_ended")
    if body.ended_on < found.starts_on:
        raise invalid("ended_on", "The end date cannot be before the start date.")
    await ctx.audit_access(principal, "placement.end", found.client_id)
    async with ctx.database.session(organisation_id=org) as session, session.begin():
        placement = await store.get_placement(session, placement_id)
        if placement is None:
            raise not_found("placement")
        if placement.status != PlacementStatus.ACTIVE.value:
            raise ProblemError(409, "Conflict", "The placement has ended already.", code="placement_ended")
        employer = await store.get_employer(session, placement.employer_id)
        placement.status = PlacementStatus.ENDED.value
        placement.ended_on = body.ended_on
        placement.end_reason = body.reason.value
        placement.ended_at = utcnow()
        placement.ended_by = principal.user_id
        ctx.outbox.add(
            session,
            PlacementEnded(
                **_event_base(principal),
                placement_id=placement.id,
                client_id=placement.client_id,
                employer_id=placement.employer_id,
                kind=placement.kind,
                started_on=placement.starts_on,
                ended_on=body.ended_on,
                reason=body.reason,
                permanent=placement.permanent,
                competitive=placement.competitive,
            ),
        )
        await session.flush()
        request = MilestoneRequest(
            kind="job_ended",
            occurred_at=domain.occurred_at(body.ended_on, datetime.now(UTC)),
            confirm_move=body.confirm_move,
            reason_ref=f"placement/{placement.id}/{body.reason.value}",
            actor=_actor(principal),
        )
        report, code = JourneyReport.RECORDED, None
        try:
            await record_milestone(
                temporal, org, placement.client_id, request, update_id=f"placement-{placement.id}-ended"
            )
        except MoveRejected as exc:
            if exc.code not in END_ACCEPTED_REJECTIONS:
                raise _rejected(exc) from None
            report, code = JourneyReport.NOT_RECORDED, exc.code
        except JourneyNotFound:
            raise not_found() from None
        placement.end_journey_report, placement.end_journey_code = report.value, code
    return store.to_placement(placement, employer.name if employer else "")


async def read_placement(ctx: ServiceContext, principal: Principal, placement_id: uuid.UUID) -> PlacementOut:
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        placement = await store.get_placement(session, placement_id)
        if placement is None:
            raise not_found("placement")
        employer = await store.get_employer(session, placement.employer_id)
    await ctx.audit_access(principal, "placement.read", placement.client_id)
    return store.to_placement(placement, employer.name if employer else "")


async def list_placements(
    ctx: ServiceContext,
    principal: Principal,
    *,
    client_id: uuid.UUID | None = None,
    employer_id: uuid.UUID | None = None,
    status: PlacementStatus | None = None,
) -> list[PlacementOut]:
    if client_id is not None:
        await journey_of(ctx, principal, client_id)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        rows = await store.placements(session, client_id=client_id, employer_id=employer_id, status=status)
        names = await store.employer_names(session)
    await ctx.audit_many(principal, "placement.list", sorted({p.client_id for p in rows}, key=str))
    return [store.to_placement(p, names.get(p.employer_id, "")) for p in rows]


@router.post(
    "/placements",
    status_code=201,
    response_model=PlacementOut,
    summary="Start a placement with its support agreement; reports job_started to the journey",
    responses={**_404, **_422, 409: {"description": "The journey refused job_started; `code` says why"}},
)
async def post_placement(body: PlacementCreate, principal: Writer, request: Request) -> PlacementOut:
    return await start_placement(ctx_of(request), principal, body)


@router.post(
    "/placements/{placement_id}/end",
    response_model=PlacementOut,
    summary="End a placement with a reason; reports job_ended to the journey",
    responses={**_404, **_422, 409: {"description": "Ended already, or the journey refused; `code` says why"}},
)
async def post_placement_end(
    placement_id: uuid.UUID, body: PlacementEnd, principal: Writer, request: Request
) -> PlacementOut:
    return await end_placement(ctx_of(request), principal, placement_id, body)


@router.get("/placements/{placement_id}", response_model=PlacementOut, summary="One placement", responses=_404)
async def get_placement(placement_id: uuid.UUID, principal: Reader, request: Request) -> PlacementOut:
    return await read_placement(ctx_of(request), principal, placement_id)


@router.get(
    "/placements",
    response_model=list[PlacementOut],
    summary="Placements, newest first; by client, employer or status",
    responses=_404,
)
async def get_placements(
    principal: Reader,
    request: Request,
    client_id: uuid.UUID | None = None,
    employer_id: uuid.UUID | None = None,
    status: PlacementStatus | None = None,
) -> list[PlacementOut]:
    return await list_placements(
        ctx_of(request), principal, client_id=client_id, employer_id=employer_id, status=status
    )
