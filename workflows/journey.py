"""ClientJourney: one long-running workflow per client.

Shape, chosen for throughput (see bench/journeys.py):
- Updates change the state synchronously (no ``await`` in a handler), queue their events
  and return at once; the move's caller never waits for NATS.
- The main loop, woken by the change, raises due reminders, upserts search attributes,
  publishes queued events in batches through an activity (retried; each event's id
  comes from ``workflow.uuid4()`` and is JetStream's de-duplication id) and sleeps until
  the next reminder. The update's answer goes out before the events are published.
- Publishing is a regular activity (PUBLISH_ACTIVITY_PATCH), not a local one: with a
  local activity, a workflow task holding an update could be completed before the
  workflow saw the activity's result, and what it did next (a timer, continue-as-new)
  landed in a later task than a replay puts it, failing the replay (a nondeterminism
  error on queries of closed runs and after every cache eviction).
- One timer waits for the next reminder and is kept across moves (KEEP_TIMER_PATCH): a
  move that brings no reminder earlier adds no TimerCanceled/TimerStarted events.
- It continues as new from the main loop, carrying the whole state.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from datetime import datetime, timedelta
from uuid import UUID

from temporalio import workflow
from temporalio.common import (
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)
from temporalio.exceptions import ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from shared.contracts.events import AnyJourneyEvent
    from shared.contracts.journey import Phase, Status
    from workflows import domain
    from workflows.contracts import (
        PUBLISH_EVENTS_ACTIVITY,
        CarriedState,
        EventBatch,
        JourneyData,
        JourneyInput,
        JourneyState,
        MilestoneRequest,
        MoveRequest,
        TimelineEntry,
    )

ORGANISATION_ID = SearchAttributeKey.for_keyword("OrganisationId")
COACH_ID = SearchAttributeKey.for_keyword("CoachId")
JOURNEY_PHASE = SearchAttributeKey.for_keyword("JourneyPhase")
JOURNEY_STATUS = SearchAttributeKey.for_keyword("JourneyStatus")
SEARCH_ATTRIBUTE_KEYS = (ORGANISATION_ID, COACH_ID, JOURNEY_PHASE, JOURNEY_STATUS)

# Events per publishing activity: bounds the payload when many queued up (NATS down).
PUBLISH_BATCH = 100
# A round of quick retries (JourneyTimers.publish_attempts); the loop does the slow ones.
PUBLISH_RETRY_INTERVAL = timedelta(milliseconds=200)
# workflow.patched ids (workflows/VERSIONING.md); never reuse one.
KEEP_TIMER_PATCH = "journey-keep-timer-202611"
PUBLISH_ACTIVITY_PATCH = "journey-publish-activity-202612"


def search_attributes(organisation_id: UUID, coach_id: UUID, phase: Phase, status: Status) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(ORGANISATION_ID, str(organisation_id)),
            SearchAttributePair(COACH_ID, str(coach_id)),
            SearchAttributePair(JOURNEY_PHASE, str(phase)),
            SearchAttributePair(JOURNEY_STATUS, str(status)),
        ]
    )


def journey_search_attributes(state: JourneyData) -> TypedSearchAttributes:
    return search_attributes(state.organisation_id, state.coach_id, state.phase, state.status)


def _timer_seconds(due: datetime) -> float:
    # Whole milliseconds, rounded up, so the timer never fires before the due time.
    return max(math.ceil((due - workflow.now()).total_seconds() * 1000), 1) / 1000


def _rejection(e: domain.MoveRejected) -> ApplicationError:
    # The code is the error type (what the client unwraps) and also in details.
    return ApplicationError(e.message, {"code": e.code}, type=e.code, non_retryable=True)


@workflow.defn
class ClientJourney:
    @workflow.init
    def __init__(self, inp: JourneyInput) -> None:
        # State lives here, not in run(): an update may arrive before run() starts.
        self._inp = inp
        self._pending: list[AnyJourneyEvent] = []
        self._dirty = True
        # Things this run added to history; continue-as-new only after some, so a tiny
        # history limit cannot make runs hand over to each other forever.
        self._run_changes = 0
        # After a failed publish: not before this time again (unless a new run starts).
        self._publish_after: datetime | None = None
        # The main loop's timer (KEEP_TIMER_PATCH): its task, due time, and whether it fired.
        self._timer: asyncio.Task[None] | None = None
        self._timer_due: datetime | None = None
        self._timer_fired = False
        now = workflow.now()
        if inp.carried_state is not None:
            self._j = inp.carried_state.journey
            self._pending = list(inp.carried_state.pending_events)
        else:
            self._j = domain.new_journey(
                organisation_id=inp.organisation_id,
                region_id=inp.region_id,
                client_id=inp.client_id,
                coach_id=inp.coach_id,
                actor=inp.actor,
                now=now,
            )
            self._queue_events(self._j.timeline[-1:])
        domain.replan(self._j, inp.timers, now)
        current = workflow.info().typed_search_attributes
        self._upserted = {k.name: current.get(k) for k in SEARCH_ATTRIBUTE_KEYS}

    @workflow.run
    async def run(self, inp: JourneyInput) -> None:
        while True:
            self._dirty = False
            now = workflow.now()
            for kind, due in domain.due_reminders(self._j, now):
                self._queue_events([domain.raise_reminder(self._j, kind, due, now)])
                self._run_changes += 1
            self._upsert_search_attributes()
            may_publish = self._publish_after is None or now >= self._publish_after
            if self._pending and may_publish and await self._publish():
                continue
            if self._should_continue_as_new():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    self._inp.model_copy(
                        update={
                            "carried_state": CarriedState.model_validate(
                                {"journey": self._j, "pending_events": self._pending}
                            )
                        }
                    ),
                    search_attributes=journey_search_attributes(self._j),
                )
            nxt = domain.next_due(self._j)
            if self._pending and self._publish_after is not None:
                nxt = self._publish_after if nxt is None else min(nxt, self._publish_after)
            if workflow.patched(KEEP_TIMER_PATCH):
                # One timer, kept across moves (see _set_timer): most moves then add
                # no TimerCanceled/TimerStarted to the history.
                self._set_timer(nxt)
                await workflow.wait_condition(lambda: self._dirty or self._timer_fired)
                continue
            # Histories from before KEEP_TIMER_PATCH: a new timer every time round.
            timeout = None
            if nxt is not None:
                timeout = _timer_seconds(nxt)
            # A timeout (asyncio.TimeoutError): a reminder is due, or publishing may retry.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._dirty, timeout=timeout)

    def _set_timer(self, due: datetime | None) -> None:
        """Have the loop woken at ``due`` (None: nothing due), keeping the running timer
        unless it would fire too late.

        A timer that fires before anything is due costs one wake-up that finds nothing
        and starts the next timer; cancelling and restarting on every change would cost
        two history events per move instead.
        """
        if self._timer_fired:
            self._timer, self._timer_due, self._timer_fired = None, None, False
        if self._timer is not None and self._timer_due is not None:
            if due is None or self._timer_due <= due:
                return
            self._timer.cancel()  # TimerCanceled: ``due`` is earlier
            self._timer = None
        self._timer_due = due
        if due is not None:
            self._timer = asyncio.create_task(self._sleep(_timer_seconds(due)))

    async def _sleep(self, seconds: float) -> None:
        await workflow.sleep(seconds)
        self._timer_fired = True

    # -- updates --------------------------------------------------------------------

    @workflow.update
    async def move(self, req: MoveRequest) -> JourneyState:
        # No await before the state changes: a concurrent update validates against this.
        try:
            entries = domain.apply_move(self._j, req, workflow.now())
        except domain.MoveRejected as e:
            raise _rejection(e) from None
        self._changed(entries)
        return self._view()

    @move.validator
    def _validate_move(self, req: MoveRequest) -> None:
        try:
            domain.validate_move(self._j, req, workflow.now())
        except domain.MoveRejected as e:
            raise _rejection(e) from None

    @workflow.update
    async def record_milestone(self, req: MilestoneRequest) -> JourneyState:
        try:
            entries = domain.apply_milestone(self._j, req, workflow.now())
        except domain.MoveRejected as e:
            raise _rejection(e) from None
        self._changed(entries)
        return self._view()

    @record_milestone.validator
    def _validate_milestone(self, req: MilestoneRequest) -> None:
        try:
            domain.validate_milestone(self._j, req, workflow.now())
        except domain.MoveRejected as e:
            raise _rejection(e) from None

    # -- queries --------------------------------------------------------------------

    @workflow.query
    def state(self) -> JourneyState:
        return self._view()

    @workflow.query
    def timeline(self) -> list[TimelineEntry]:
        return list(self._j.timeline)

    # -- internals ------------------------------------------------------------------

    def _view(self) -> JourneyState:
        return domain.view(self._j, pending_events=len(self._pending))

    def _changed(self, entries: list[TimelineEntry]) -> None:
        self._queue_events(entries)
        domain.replan(self._j, self._inp.timers, workflow.now())
        self._run_changes += 1
        self._dirty = True

    def _queue_events(self, entries: list[TimelineEntry]) -> None:
        for entry in entries:
            # Deterministic: a replay (e.g. after a worker crash) makes the same id, so
            # JetStream stores a re-published event once.
            entry.event_id = workflow.uuid4()
            self._pending.append(domain.event_for(self._j, entry, entry.event_id))

    def _upsert_search_attributes(self) -> None:
        wanted = {
            ORGANISATION_ID.name: str(self._j.organisation_id),
            COACH_ID.name: str(self._j.coach_id),
            JOURNEY_PHASE.name: str(self._j.phase),
            JOURNEY_STATUS.name: str(self._j.status),
        }
        changed = [
            key.value_set(wanted[key.name])
            for key in SEARCH_ATTRIBUTE_KEYS
            if self._upserted.get(key.name) != wanted[key.name]
        ]
        if changed:
            workflow.upsert_search_attributes(changed)
            self._upserted.update(wanted)

    async def _publish(self) -> bool:
        """Publish the oldest queued events; False if NATS did not take them in time.

        A round of attempts is short (publish_attempts): during a NATS outage moves keep
        being accepted, the events wait in the queue (and survive continue-as-new), and
        the next round comes after publish_backoff_s. The events keep their ids, so
        nothing is stored twice.
        """
        batch = self._pending[:PUBLISH_BATCH]
        timers = self._inp.timers
        self._run_changes += 1  # it adds history, failed or not
        retry_policy = RetryPolicy(
            initial_interval=PUBLISH_RETRY_INTERVAL,
            backoff_coefficient=2.0,
            maximum_attempts=timers.publish_attempts,
        )
        # Built, not validated: the events were validated when created.
        events = EventBatch.model_construct(events=batch)
        try:
            if workflow.patched(PUBLISH_ACTIVITY_PATCH):
                await workflow.execute_activity(
                    PUBLISH_EVENTS_ACTIVITY,
                    events,
                    result_type=int,
                    start_to_close_timeout=timedelta(seconds=5),
                    retry_policy=retry_policy,
                )
            else:  # histories from before PUBLISH_ACTIVITY_PATCH
                await workflow.execute_local_activity(
                    PUBLISH_EVENTS_ACTIVITY,
                    events,
                    result_type=int,
                    start_to_close_timeout=timedelta(seconds=5),
                    retry_policy=retry_policy,
                )
        except FailureError:
            # An activity out of attempts: an ActivityError; a local one surfaces as its
            # cause (an ApplicationError). Left uncaught, either would fail the journey.
            workflow.logger.warning("publishing %d journey events failed; retrying later", len(batch))
            self._publish_after = workflow.now() + timedelta(seconds=timers.publish_backoff_s)
            return False
        # Only what was sent: handlers may have queued more meanwhile.
        del self._pending[: len(batch)]
        self._publish_after = None
        return True

    def _should_continue_as_new(self) -> bool:
        if self._run_changes == 0:
            return False
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() >= self._inp.history_limit
