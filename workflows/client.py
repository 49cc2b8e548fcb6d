"""Calling ClientJourney from the services: start, move, record milestones, read."""

from __future__ import annotations

from uuid import UUID

from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from shared.codec import PayloadCipher
from shared.codec import data_converter as encrypted_data_converter
from shared.contracts.journey import Phase, Status, journey_workflow_id
from shared.keys import load_payload_keys
from shared.settings import Settings, get_settings
from workflows.contracts import (
    JourneyInput,
    JourneyState,
    MilestoneRequest,
    MoveRequest,
    TimelineEntry,
)
from workflows.domain import MoveRejected
from workflows.journey import ClientJourney, journey_search_attributes, search_attributes


class JourneyNotFound(LookupError):
    """No running (or queryable) journey workflow for this organisation and client."""


def payload_cipher(settings: Settings) -> PayloadCipher:
    """The payload keys of this deployment (settings, key file, field keys: shared/keys.py)."""
    return PayloadCipher(load_payload_keys(settings))


def data_converter(settings: Settings) -> DataConverter:
    """Pydantic JSON payloads encrypted with the organisation's key (shared/codec.py)."""
    return encrypted_data_converter(payload_cipher(settings))


async def connect(settings: Settings) -> Client:
    """The Temporal client of every Polku process; a worker built on it encrypts alike."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        interceptors=[TracingInterceptor()],
    )


def workflow_id(organisation_id: UUID | str, client_id: UUID | str) -> str:
    return journey_workflow_id(str(organisation_id), str(client_id))


async def start_journey(client: Client, inp: JourneyInput, *, task_queue: str | None = None) -> str:
    """Start the client's journey; idempotent (a running journey is left as it is).

    Returns the workflow id. The search attributes are set at start, so the journey is
    listed by organisation, coach, phase and status from its first moment.
    """
    wid = workflow_id(inp.organisation_id, inp.client_id)
    carried = inp.carried_state.journey if inp.carried_state else None
    attrs = (
        journey_search_attributes(carried)
        if carried
        else search_attributes(inp.organisation_id, inp.coach_id, Phase.INTAKE, Status.ACTIVE)
    )
    await client.start_workflow(
        ClientJourney.run,
        inp,
        id=wid,
        task_queue=task_queue or get_settings().temporal_task_queue,
        search_attributes=attrs,
        # A second start for the same client (e.g. a redelivered client.registered) is a no-op.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # A journey never completes by itself; if one was terminated or failed, a new
        # start may replace it, but a journey that completed normally is never restarted.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )
    return wid


def _handle(client: Client, organisation_id: UUID | str, client_id: UUID | str) -> WorkflowHandle[ClientJourney, None]:
    # No run id: the handle follows continue-as-new to the current run.
    return client.get_workflow_handle_for(ClientJourney.run, workflow_id(organisation_id, client_id))


def _unwrap(e: WorkflowUpdateFailedError) -> Exception:
    cause = e.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return MoveRejected(cause.type, cause.message)
    return e


def _not_found(e: RPCError, organisation_id: UUID | str, client_id: UUID | str) -> Exception:
    if e.status == RPCStatusCode.NOT_FOUND:
        return JourneyNotFound(f"no journey {workflow_id(organisation_id, client_id)}: {e.message}")
    return e


async def move(
    client: Client,
    organisation_id: UUID | str,
    client_id: UUID | str,
    req: MoveRequest,
    *,
    update_id: str | None = None,
) -> JourneyState:
    """Apply a move; raises MoveRejected(code, message) if it is illegal.

    ``update_id`` makes a retried call (e.g. a redelivered message) apply once.
    """
    try:
        return await _handle(client, organisation_id, client_id).execute_update(ClientJourney.move, req, id=update_id)
    except WorkflowUpdateFailedError as e:
        raise _unwrap(e) from e
    except RPCError as e:
        raise _not_found(e, organisation_id, client_id) from e


async def record_milestone(
    client: Client,
    organisation_id: UUID | str,
    client_id: UUID | str,
    req: MilestoneRequest,
    *,
    update_id: str | None = None,
) -> JourneyState:
    try:
        return await _handle(client, organisation_id, client_id).execute_update(
            ClientJourney.record_milestone, req, id=update_id
        )
    except WorkflowUpdateFailedError as e:
        raise _unwrap(e) from e
    except RPCError as e:
        raise _not_found(e, organisation_id, client_id) from e


async def get_state(client: Client, organisation_id: UUID | str, client_id: UUID | str) -> JourneyState:
    try:
        return await _handle(client, organisation_id, client_id).query(ClientJourney.state)
    except RPCError as e:
        raise _not_found(e, organisation_id, client_id) from e


async def get_timeline(client: Client, organisation_id: UUID | str, client_id: UUID | str) -> list[TimelineEntry]:
    try:
        return await _handle(client, organisation_id, client_id).query(ClientJourney.timeline)
    except RPCError as e:
        raise _not_found(e, organisation_id, client_id) from e
