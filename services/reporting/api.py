"""Reporting HTTP routes."""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.reporting import store
from services.reporting.models import CaseloadClient, CaseloadReport, CoachCaseload, JourneyProjection
from shared.auth import Principal, requires
from shared.contracts.journey import Role, Status
from shared.service import ctx_of

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

CASELOAD_PER_FTE = 20

CaseloadViewer = Annotated[Principal, Depends(requires(Role.COACH, Role.TEAM_LEAD, Role.ORG_ADMIN))]


@router.get("/caseload", response_model=CaseloadReport, summary="Active clients per coach against 20 per FTE")
async def caseload(principal: CaseloadViewer, request: Request) -> CaseloadReport:
    ctx = ctx_of(request)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        rows = await store.journeys(session)
        as_of = await store.data_as_of(session, principal.organisation_id)
    staff = {u.id: u for u in await ctx.identity.users(principal.organisation_id)}
    by_coach: dict[uuid.UUID, list[JourneyProjection]] = defaultdict(list)
    for row in rows:
        if row.status != Status.CLOSED.value:
            by_coach[row.coach_id].append(row)
    # Every coach appears, with or without clients; so does anyone still holding clients.
    coach_ids = set(by_coach) | {u.id for u in staff.values() if u.role == Role.COACH.value}

    def order(coach_id: uuid.UUID) -> tuple[str, str]:
        user = staff.get(coach_id)
        return (user.username if user else "~", str(coach_id))

    coaches = []
    for coach_id in sorted(coach_ids, key=order):
        user = staff.get(coach_id)
        fte = user.fte if user else 1.0
        clients = by_coach.get(coach_id, [])
        coaches.append(
            CoachCaseload(
                coach_id=coach_id,
                username=user.username if user else None,
                fte=fte,
                capacity=round(CASELOAD_PER_FTE * fte),
                active_clients=sum(1 for c in clients if c.status == Status.ACTIVE.value),
                clients=[
                    CaseloadClient(client_id=c.client_id, phase=c.phase, status=c.status, since=c.since)
                    for c in clients
                ],
            )
        )
    if principal.role == Role.COACH:
        coaches = [c for c in coaches if c.coach_id == principal.user_id]
    return CaseloadReport(organisation_id=principal.organisation_id, data_as_of=as_of, coaches=coaches)
