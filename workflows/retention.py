"""Retention: a scheduled workflow erases the personal data of journeys closed longer
than their organisation's retention period ago (``shared.retention``), unless a legal
hold stops it.

Finding the journeys. Temporal's visibility knows ``JourneyStatus='CLOSED'`` but not when
the journey closed (the workflow keeps running after a close, so its execution close time
says nothing), and reporting's projection is another service's anonymous statistics.
Intake's registry holds the personal data to erase and, from the journey events, each
client's journey status and the time of the newest event, which for a CLOSED journey is
the close. So the candidates come from intake (``services.intake.retention``); each is then
confirmed against the journey itself (a query: status CLOSED, ``since`` = the close time),
so an intake that lags behind a reopen cannot erase an active client. A journey Temporal
no longer knows (terminated, or a lost dev server) keeps intake's word.

Erasing. One activity per client: it checks the hold again (placed after the search?),
erases coaching's and employer's client data, then pseudonymises intake's registry record
(``erased_at`` marks it done, so a second run finds nothing) and leaves an audit record
(actor ``system``, action ``retention.erase``; ids only). The workflow's history, the
events and reporting's projections hold ids and codes only and stay, so the anonymous
statistics do not change.

The activities open the services' databases in-process, through each service's own
``retention`` module (its public contract for this job; no store internals).

Workflow payloads carry ids, times and counts only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
from temporalio import activity, workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from shared.settings import Settings

log = logging.getLogger(__name__)

FIND_DUE_ACTIVITY = "retention_find_due"
ERASE_ACTIVITY = "retention_erase_client"
SYSTEM_ROLE = "system"
ERASE_ACTION = "retention.erase"
DEFAULT_EVERY = timedelta(days=1)
DEFAULT_OFFSET = timedelta(hours=1)  # 01:00 UTC, 03:00/04:00 in Finland


def schedule_id(settings: Settings) -> str:
    return f"polku-retention-{settings.temporal_task_queue}"


def sweep_workflow_id(settings: Settings) -> str:
    return f"polku-retention-sweep-{settings.temporal_task_queue}"


# --------------------------------------------------------------------------- contracts


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SweepInput(_Model):
    # Journeys erased per run at most; the next run takes the rest.
    limit: int = Field(default=500, gt=0, le=10_000)
    # Only these organisations (None: every organisation).
    organisation_ids: list[UUID] | None = None


class FindDueInput(_Model):
    now: datetime
    limit: int
    organisation_ids: list[UUID] | None = None


class DueClient(_Model):
    organisation_id: UUID
    client_id: UUID


class FindDueResult(_Model):
    due: list[DueClient]
    candidates: int  # closed, not erased
    held: int  # of the candidates past their period, under a legal hold
    reopened: int  # intake said CLOSED, the journey says otherwise (or closed later)


class EraseInput(_Model):
    organisation_id: UUID
    client_id: UUID


class EraseResult(_Model):
    erased: bool
    held: bool = False
    rows: dict[str, int] = Field(default_factory=dict)


class SweepResult(_Model):
    candidates: int
    due: int
    erased: int
    held: int
    reopened: int
    rows: dict[str, int] = Field(default_factory=dict)


# --------------------------------------------------------------------------- workflow


@workflow.defn(name="RetentionSweep")
class RetentionSweep:
    """One retention run: find the due journeys, erase each (deterministic: the time is
    the workflow's, every decision comes from an activity's result)."""

    @workflow.run
    async def run(self, inp: SweepInput) -> SweepResult:
        found = await workflow.execute_activity_method(
            RetentionActivities.find_due,
            FindDueInput(now=workflow.now(), limit=inp.limit, organisation_ids=inp.organisation_ids),
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_attempts=5),
        )
        erased, held = 0, found.held
        rows: dict[str, int] = {}
        failed: list[str] = []
        for due in found.due:
            try:
                result = await workflow.execute_activity_method(
                    RetentionActivities.erase_client,
                    EraseInput(organisation_id=due.organisation_id, client_id=due.client_id),
                    start_to_close_timeout=timedelta(minutes=2),
                    retry_policy=RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(minutes=1)),
                )
            except ActivityError:
                # One client's failure does not stop the others; the run fails at the end.
                failed.append(str(due.client_id))
                continue
            if result.held:
                held += 1
            if result.erased:
                erased += 1
            for service, n in result.rows.items():
                rows[service] = rows.get(service, 0) + n
        if failed:
            raise ApplicationError(
                f"{len(failed)} of {len(found.due)} clients could not be erased; the next run retries them",
                {"client_ids": failed, "erased": erased},
                type="retention_incomplete",
                non_retryable=True,
            )
        return SweepResult(
            candidates=found.candidates,
            due=len(found.due),
            erased=erased,
            held=held,
            reopened=found.reopened,
            rows=rows,
        )


# --------------------------------------------------------------------------- activities


class RetentionActivities:
    """Activities as methods, so the worker injects its settings (databases, keys)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn(name=FIND_DUE_ACTIVITY)
    async def find_due(self, inp: FindDueInput) -> FindDueResult:
        from services.intake import retention as intake
        from shared import retention as rules
        from shared.db import Database

        settings = self._settings
        intake_db = Database(settings, "intake")
        platform = Database(settings, "platform")
        try:
            candidates = await intake.closed_journeys(
                intake_db, limit=10 * inp.limit, organisations=inp.organisation_ids
            )
            years = await rules.retention_years_by_org(platform)
            holds = await rules.held_clients(platform)
        finally:
            await intake_db.dispose()
            await platform.dispose()
        year_s = settings.retention_year_s
        unheld = rules.due_journeys(candidates, inp.now, years, set(), year_s)
        due = rules.due_journeys(candidates, inp.now, years, holds, year_s)
        confirmed: list[DueClient] = []
        reopened = 0
        for journey in due:
            if len(confirmed) >= inp.limit:
                break
            known, closed_at = await _journey_closed_at(journey.organisation_id, journey.client_id)
            if not known:
                closed_at = journey.closed_at  # Temporal no longer knows it: intake's word
            if closed_at is None or not rules.is_due(
                closed_at,
                inp.now,
                years.get(journey.organisation_id, rules.DEFAULT_RETENTION_YEARS),
                held=False,
                year_s=year_s,
            ):
                reopened += 1
                continue
            confirmed.append(DueClient(organisation_id=journey.organisation_id, client_id=journey.client_id))
        activity.logger.info(
            "retention: %d closed, %d due, %d held, %d not closed after all",
            len(candidates),
            len(confirmed),
            len(unheld) - len(due),
            reopened,
        )
        return FindDueResult(due=confirmed, candidates=len(candidates), held=len(unheld) - len(due), reopened=reopened)

    @activity.defn(name=ERASE_ACTIVITY)
    async def erase_client(self, inp: EraseInput) -> EraseResult:
        from services.coaching import retention as coaching
        from services.employer import retention as employer
        from services.intake import retention as intake
        from shared import retention as rules
        from shared.audit import AuditEntry, AuditLog
        from shared.crypto import FieldCipher
        from shared.db import Database
        from shared.keys import load_keys
        from shared.telemetry import current_trace_id

        settings = self._settings
        keys = load_keys(settings)
        cipher = FieldCipher(keys)
        dbs = {name: Database(settings, name) for name in ("platform", "intake", "coaching", "employer")}
        org, client = inp.organisation_id, inp.client_id
        try:
            if await rules.is_held(dbs["platform"], org, client):
                return EraseResult(erased=False, held=True)
            if await intake.is_erased(dbs["intake"], org, client):
                return EraseResult(erased=False)
            rows = {
                "coaching": await coaching.erase_client(dbs["coaching"], org, client),
                "employer": await employer.erase_client(dbs["employer"], org, client),
            }
            # The legal trail first: a retry after a failure below repeats the record,
            # a failure here leaves everything to the retry.
            await AuditLog(dbs["platform"]).append(
                AuditEntry(
                    organisation_id=org,
                    actor_id=None,
                    actor_role=SYSTEM_ROLE,
                    action=ERASE_ACTION,
                    client_id=client,
                    trace_id=current_trace_id(),
                )
            )
            rows["intake"] = await intake.erase_client(dbs["intake"], cipher, keys, org, client)
            return EraseResult(erased=rows["intake"] > 0, rows=rows)
        finally:
            for db in dbs.values():
                await db.dispose()


async def _journey_closed_at(organisation_id: UUID, client_id: UUID) -> tuple[bool, datetime | None]:
    """(whether Temporal knows the journey, when it closed: None when it is not CLOSED)."""
    from shared.contracts.journey import Status
    from workflows.client import JourneyNotFound, get_state

    try:
        state = await get_state(activity.client(), organisation_id, client_id)
    except JourneyNotFound:
        return False, None
    return True, (state.since if state.status == Status.CLOSED else None)


# --------------------------------------------------------------------------- schedule


def build_schedule(settings: Settings, every: timedelta = DEFAULT_EVERY, offset: timedelta | None = None) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionSweep.run,
            SweepInput(),
            id=sweep_workflow_id(settings),
            task_queue=settings.temporal_task_queue,
        ),
        spec=ScheduleSpec(
            intervals=[ScheduleIntervalSpec(every=every, offset=DEFAULT_OFFSET if offset is None else offset)]
        ),
        # A run still going when the next is due: skip the next (the running one finishes the work).
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_schedule(
    client: Client, settings: Settings, every: timedelta = DEFAULT_EVERY, offset: timedelta | None = None
) -> str:
    """Create the retention schedule, or bring an existing one to this definition
    (idempotent: every worker may call it at start). Returns the schedule id."""
    sid = schedule_id(settings)
    schedule = build_schedule(settings, every, offset)
    try:
        await client.create_schedule(sid, schedule)
    except ScheduleAlreadyRunningError:

        def updater(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(sid).update(updater)
    return sid


async def run_sweep(
    client: Client, settings: Settings, limit: int = 500, organisation_ids: list[UUID] | None = None
) -> SweepResult:
    """One retention run now, waiting for its result (``polku retention run``)."""
    from temporalio.common import WorkflowIDConflictPolicy

    return await client.execute_workflow(
        RetentionSweep.run,
        SweepInput(limit=limit, organisation_ids=organisation_ids),
        id=sweep_workflow_id(settings),
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


def activities_for(settings: Settings) -> list[Callable[..., Any]]:
    """The retention activities the worker registers."""
    acts = RetentionActivities(settings)
    return [acts.find_due, acts.erase_client]
