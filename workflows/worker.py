"""The journey worker: runs ClientJourney and publishes its events to JetStream."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta

from faststream.nats import NatsBroker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from shared.codec import EncryptionCodec
from shared.contracts.journey import SEARCH_ATTRIBUTES
from shared.events.publisher import EventPublisher
from shared.events.streams import ensure_streams
from shared.settings import Settings
from shared.telemetry import setup_telemetry
from workflows import retention
from workflows.activities import JourneyActivities
from workflows.client import connect
from workflows.journey import ClientJourney
from workflows.retention import RetentionSweep

log = logging.getLogger(__name__)

# Whether production workers run workflows in Temporal's sandbox. Measured here
# (bench/journeys.py), the sandbox of temporalio 1.35 costs about as much CPU per move
# as the workflow itself: it runs code in the sandbox for every payload it converts.
# The journey's rules live in workflows.domain, imported through the sandbox anyway;
# the tests and the replay test run sandboxed, so a nondeterministic call still fails
# there.
SANDBOXED = False


class SearchAttributesMissing(RuntimeError):
    pass


async def check_search_attributes(client: Client, namespace: str) -> None:
    """Fail fast if the server does not know the journey's search attributes.

    Without them every upsert fails the workflow task again and again: journeys would hang
    instead of failing (STACK-NOTES pitfall 4).
    """
    resp = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    known = dict(resp.custom_attributes)
    wrong = [
        name
        for name, kind in SEARCH_ATTRIBUTES.items()
        if known.get(name) != IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{kind.upper()}")
    ]
    if wrong:
        flags = " ".join(f"--search-attribute {n}={SEARCH_ATTRIBUTES[n]}" for n in wrong)
        cmds = "; ".join(
            f"temporal operator search-attribute create --namespace {namespace} "
            f"--name {n} --type {SEARCH_ATTRIBUTES[n]}"
            for n in wrong
        )
        raise SearchAttributesMissing(
            f"Temporal namespace {namespace!r} lacks search attribute(s) {', '.join(wrong)} "
            f"(or has them with another type). Start the dev server with {flags}, or run: {cmds}"
        )


async def build_worker(
    client: Client,
    settings: Settings,
    broker: NatsBroker,
    *,
    sandboxed: bool = SANDBOXED,
    extra_workflows: Sequence[type] = (),
    publisher: EventPublisher | None = None,
) -> Worker:
    """A worker for the journey task queue. ``broker`` must be started by the caller.

    ``sandboxed``: see SANDBOXED. ``extra_workflows`` run on the same worker (benchmarks).
    ``publisher``: instead of ``EventPublisher(broker)`` (tests inject failures).
    """
    # The worker converts payloads with the client's data converter: it must encrypt
    # (shared/codec.py), or journeys would write their inputs and state in plain text.
    if not isinstance(client.data_converter.payload_codec, EncryptionCodec):
        raise ValueError("the journey worker needs a client from workflows.client.connect (payload encryption)")
    activities = JourneyActivities(publisher or EventPublisher(broker))
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[ClientJourney, RetentionSweep, *extra_workflows],
        activities=[activities.publish_events, *retention.activities_for(settings)],
        workflow_runner=SandboxedWorkflowRunner() if sandboxed else UnsandboxedWorkflowRunner(),
        # Let in-flight tasks (and their publishes) finish on shutdown.
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    setup_telemetry(settings, "worker")  # log level and span export, as in the service processes
    client = await connect(settings)
    await check_search_attributes(client, settings.temporal_namespace)
    await retention.ensure_schedule(client, settings)  # idempotent: the daily retention run
    await ensure_streams(settings.nats_url)
    broker = NatsBroker(settings.nats_url)
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        worker = await build_worker(client, settings, broker)
        async with worker:
            log.info("journey worker running on task queue %s", settings.temporal_task_queue)
            await stop.wait()
            log.info("journey worker shutting down")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await broker.stop()
