"""Intake HTTP routes: registering clients and reading the registry."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from services.intake import store
from services.intake.models import Client, ClientCreate
from shared.auth import CLIENT_WORKERS, Principal, requires
from shared.contracts.api import ClientCreated, ClientRecord
from shared.contracts.events import ClientRegistered
from shared.contracts.journey import Role, journey_workflow_id
from shared.crypto import blind_index
from shared.problems import FieldError, ProblemError, not_found, problem_response
from shared.service import ctx_of
from shared.telemetry import current_traceparent

router = APIRouter(prefix="/api/v1", tags=["clients"])

Registrar = Annotated[Principal, Depends(requires(Role.COACH, Role.TEAM_LEAD))]
Reader = Annotated[Principal, Depends(requires(*CLIENT_WORKERS))]


def _invalid(field: str, message: str) -> JSONResponse:
    return problem_response(
        422,
        "Unprocessable Content",
        "The request has invalid fields.",
        code="validation_failed",
        errors=[FieldError(field=field, message=message, type="value_error")],
    )


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientCreated,
    summary="Register a client (self-referral) and start the journey in INTAKE",
    responses={422: {"description": "Invalid fields"}, 503: {"description": "Workflow engine unavailable"}},
)
async def register_client(body: ClientCreate, principal: Registrar, request: Request) -> ClientCreated | JSONResponse:
    ctx = ctx_of(request)
    coach = await ctx.identity.account(body.coach_id)
    if (
        coach is None
        or coach.organisation_id != principal.organisation_id
        or coach.role
        not in (
            Role.COACH,
            Role.TEAM_LEAD,
        )
    ):
        return _invalid("coach_id", "No coach with this id in your organisation.")

    client_id = uuid.uuid4()
    journey_id = journey_workflow_id(str(principal.organisation_id), str(client_id))
    await ctx.audit_access(principal, "client.register", client_id)

    from workflows.client import start_journey
    from workflows.contracts import Actor, JourneyInput, JourneyTimers

    temporal = await ctx.temporal()
    async with ctx.database.session(organisation_id=principal.organisation_id) as session, session.begin():
        session.add(
            Client(
                id=client_id,
                organisation_id=principal.organisation_id,
                coach_id=body.coach_id,
                journey_id=journey_id,
                first_name_enc=ctx.cipher.encrypt(body.first_name, store.name_context(client_id, "first_name")),
                last_name_enc=ctx.cipher.encrypt(body.last_name, store.name_context(client_id, "last_name")),
                name_index=blind_index(
                    ctx.keys, str(principal.organisation_id), "name", f"{body.first_name} {body.last_name}"
                ),
                registered_by=principal.user_id,
            )
        )
        ctx.outbox.add(
            session,
            ClientRegistered(
                organisation_id=principal.organisation_id,
                region_id=principal.region_id,
                client_id=client_id,
                coach_id=body.coach_id,
                traceparent=current_traceparent(),
            ),
        )
        await session.flush()
        # Started inside the transaction: if the engine refuses, the client row is rolled back.
        try:
            await start_journey(
                temporal,
                JourneyInput(
                    organisation_id=principal.organisation_id,
                    region_id=principal.region_id,
                    client_id=client_id,
                    coach_id=body.coach_id,
                    actor=Actor(user_id=principal.user_id, role=principal.role),
                    timers=JourneyTimers.from_settings(ctx.settings),
                    history_limit=ctx.settings.journey_history_limit,
                ),
                task_queue=ctx.settings.temporal_task_queue,
            )
        except Exception as exc:
            raise ProblemError(
                503,
                "Service Unavailable",
                "The journey could not be started; nothing was saved.",
                code="journey_not_started",
            ) from exc
    return ClientCreated(client_id=client_id, journey_id=journey_id)


@router.get(
    "/clients/{client_id}",
    response_model=ClientRecord,
    summary="A client's registry record",
    responses={404: {"description": "No such client in your organisation"}},
)
async def read_client(client_id: uuid.UUID, principal: Reader, request: Request) -> ClientRecord:
    ctx = ctx_of(request)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        client = await store.get_client(session, client_id)
    if client is None:
        raise not_found()
    await ctx.audit_access(principal, "client.read", client_id)
    return store.to_record(client, ctx.cipher)


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
