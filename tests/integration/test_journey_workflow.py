"""ClientJourney against a real Temporal dev server and a real nats-server (JetStream).

One worker runs for the module; every test makes its own organisation and client, so
its events sit under their own subject ``polku.{org}.journey.>``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import nats
import pytest
import pytest_asyncio
from faststream.nats import NatsBroker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.worker import Replayer

from shared.contracts.events import AnyEvent, Event, JourneyMoved, ReminderDue, parse_event
from shared.contracts.journey import Outcome, Phase, RestReason, Role, Status
from shared.events.publisher import EventPublisher
from shared.events.streams import STREAM_BY_AREA
from shared.settings import Settings
from tests.conftest import Servers
from workflows import client as jc
from workflows import worker as journey_worker
from workflows.contracts import (
    Actor,
    JourneyInput,
    JourneyState,
    JourneyTimers,
    MilestoneRequest,
    MoveRequest,
    TimelineEntry,
)
from workflows.domain import MoveRejected
from workflows.journey import ClientJourney

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
LONG = JourneyTimers()  # production durations: nothing fires during a test


@dataclass
class Env:
    client: Client
    settings: Settings
    nats_url: str
    task_queue: str


@dataclass
class Journey:
    org: uuid.UUID
    client_id: uuid.UUID
    coach: uuid.UUID
    actor: Actor
    env: Env

    @property
    def workflow_id(self) -> str:
        return jc.workflow_id(self.org, self.client_id)

    async def move(self, action: str, actor: Actor | None = None, **kw: Any) -> JourneyState:
        req = MoveRequest.model_validate({"action": action, "actor": actor or self.actor, **kw})
        return await jc.move(self.env.client, self.org, self.client_id, req)

    async def milestone(self, kind: str, actor: Actor | None = None, **kw: Any) -> JourneyState:
        kw.setdefault("occurred_at", datetime.now(UTC))
        req = MilestoneRequest.model_validate({"kind": kind, "actor": actor or self.actor, **kw})
        return await jc.record_milestone(self.env.client, self.org, self.client_id, req)

    async def state(self) -> JourneyState:
        return await jc.get_state(self.env.client, self.org, self.client_id)

    async def timeline(self) -> list[TimelineEntry]:
        return await jc.get_timeline(self.env.client, self.org, self.client_id)

    async def history_length(self) -> int:
        desc = await self.env.client.get_workflow_handle(self.workflow_id).describe()
        return desc.raw_description.workflow_execution_info.history_length

    async def events(self) -> list[tuple[str, AnyEvent]]:
        return await stream_events(self.env.nats_url, self.org)

    async def settled(self, within: float = 10) -> JourneyState:
        """The state once every accepted event is confirmed published."""
        return await eventually(self.state, lambda s: s.pending_events == 0, within)


async def stream_events(nats_url: str, org: uuid.UUID) -> list[tuple[str, AnyEvent]]:
    """Every message of the organisation's journey subjects: (Nats-Msg-Id, event)."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(f"polku.{org}.journey.>", stream=STREAM_BY_AREA["journey"].name)
        out: list[tuple[str, AnyEvent]] = []
        while True:
            try:
                msgs = await sub.fetch(500, timeout=0.3)
            except TimeoutError:  # nats.errors.TimeoutError or asyncio's: no more messages
                break
            for m in msgs:
                out.append(((m.headers or {}).get("Nats-Msg-Id", ""), parse_event(m.data)))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


async def eventually(get: Callable[[], Awaitable[T]], ok: Callable[[T], bool], within: float = 10) -> T:
    deadline = time.monotonic() + within
    while True:
        value = await get()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {within}s; last value: {value!r}")
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture(scope="module")
async def env(real_servers: Servers) -> AsyncIterator[Env]:
    tq = f"journey-test-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        temporal_address=real_servers.temporal_address, nats_url=real_servers.nats_url, temporal_task_queue=tq
    )
    client = await jc.connect(settings)
    await journey_worker.check_search_attributes(client, settings.temporal_namespace)
    broker = NatsBroker(real_servers.nats_url)
    await broker.start()
    # Sandboxed here (production runs unsandboxed, see workflows.worker.SANDBOXED): a
    # nondeterministic call in the workflow fails the tests.
    worker = await journey_worker.build_worker(client, settings, broker, sandboxed=True)
    async with worker:
        yield Env(client, settings, real_servers.nats_url, tq)
    await broker.stop()


async def start(env: Env, timers: JourneyTimers = LONG, history_limit: int = 10_000) -> Journey:
    org, client_id, coach = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    actor = Actor(user_id=coach, role=Role.COACH)
    inp = JourneyInput(
        organisation_id=org,
        region_id="kymenlaakso",
        client_id=client_id,
        coach_id=coach,
        actor=actor,
        timers=timers,
        history_limit=history_limit,
    )
    wid = await jc.start_journey(env.client, inp, task_queue=env.task_queue)
    assert wid == jc.workflow_id(org, client_id)
    return Journey(org, client_id, coach, actor, env)


def assert_events_match_timeline(events: list[tuple[str, AnyEvent]], timeline: list[TimelineEntry]) -> None:
    """Each timeline entry's event is in the stream exactly once, in order, id = msg id."""
    ids = [msg_id for msg_id, _ in events]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert all(msg_id == str(ev.id) for msg_id, ev in events)
    assert ids == [str(e.event_id) for e in timeline]
    assert [getattr(ev, "timeline_seq", None) for _, ev in events] == [e.seq for e in timeline]


# --------------------------------------------------------------------------- start


async def test_start_is_idempotent_and_publishes_started(env: Env) -> None:
    j = await start(env)
    inp = JourneyInput(
        organisation_id=j.org, region_id="kymenlaakso", client_id=j.client_id, coach_id=uuid.uuid4(), actor=j.actor
    )
    assert await jc.start_journey(env.client, inp, task_queue=env.task_queue) == j.workflow_id
    s = await j.settled()
    assert (s.phase, s.status, s.episode, s.coach_id) == (Phase.INTAKE, Status.ACTIVE, 1, j.coach)
    assert {r.kind for r in s.reminders} == {"employer_contact_due", "silence_outreach"}
    [(msg_id, ev)] = await j.events()
    assert ev.type == "journey.started" and ev.organisation_id == j.org
    [entry] = await j.timeline()
    assert msg_id == str(entry.event_id) and entry.kind == "started" and entry.actor == j.actor


async def test_unknown_journey_raises_not_found(env: Env) -> None:
    nobody = uuid.uuid4()
    with pytest.raises(jc.JourneyNotFound):
        await jc.get_state(env.client, nobody, nobody)
    with pytest.raises(jc.JourneyNotFound):
        await jc.get_timeline(env.client, nobody, nobody)
    with pytest.raises(jc.JourneyNotFound):
        await jc.move(
            env.client, nobody, nobody, MoveRequest(action="advance", actor=Actor(user_id=nobody, role=Role.COACH))
        )


# --------------------------------------------------------------------------- moves


async def test_every_legal_move_is_recorded_and_published_once(env: Env) -> None:
    j = await start(env)
    lead = Actor(user_id=uuid.uuid4(), role=Role.TEAM_LEAD)
    new_coach = uuid.uuid4()
    assert (await j.move("advance", reason_ref="coaching:meeting/1")).phase is Phase.PROFILING
    assert (await j.move("advance", to_phase=Phase.JOB_SEARCH)).phase is Phase.JOB_SEARCH
    assert (await j.move("step_back")).phase is Phase.PROFILING
    assert (await j.move("advance")).phase is Phase.JOB_SEARCH
    s = await j.milestone("job_started", confirm_move=True)
    assert s.phase is Phase.EMPLOYER_AGREEMENT and s.milestones.jobs_started == 1
    assert (await j.move("advance")).phase is Phase.FOLLOW_ALONG
    review = date.today() + timedelta(days=30)
    s = await j.move("rest", reason=RestReason.HEALTH_CLARIFICATION, review_date=review)
    assert (s.status, s.rested_phase, s.review_date) == (Status.RESTING, Phase.FOLLOW_ALONG, review)
    assert [r.kind for r in s.reminders] == ["rest_review"]
    s = await j.move("reassign", actor=lead, coach_id=new_coach)
    assert s.coach_id == new_coach and s.status is Status.RESTING
    s = await j.move("resume")
    assert (s.status, s.phase) == (Status.ACTIVE, Phase.FOLLOW_ALONG)
    assert (await j.milestone("job_ended", confirm_move=True)).phase is Phase.JOB_SEARCH
    s = await j.move("close", outcome=Outcome.WORK_TRIAL, actor=lead)
    assert (s.status, s.outcome, s.reminders) == (Status.CLOSED, Outcome.WORK_TRIAL, [])
    s = await j.move("reopen", actor=lead)
    assert (s.status, s.phase, s.episode, s.outcome) == (Status.ACTIVE, Phase.INTAKE, 2, None)
    await j.settled()

    timeline = await j.timeline()
    moves = [(e.action, e.from_phase, e.to_phase, e.actor) for e in timeline if e.kind == "move"]
    assert moves == [
        ("advance", Phase.INTAKE, Phase.PROFILING, j.actor),
        ("advance", Phase.PROFILING, Phase.JOB_SEARCH, j.actor),
        ("step_back", Phase.JOB_SEARCH, Phase.PROFILING, j.actor),
        ("advance", Phase.PROFILING, Phase.JOB_SEARCH, j.actor),
        ("advance", Phase.JOB_SEARCH, Phase.EMPLOYER_AGREEMENT, j.actor),
        ("advance", Phase.EMPLOYER_AGREEMENT, Phase.FOLLOW_ALONG, j.actor),
        ("rest", Phase.FOLLOW_ALONG, Phase.FOLLOW_ALONG, j.actor),
        ("reassign", Phase.FOLLOW_ALONG, Phase.FOLLOW_ALONG, lead),
        ("resume", Phase.FOLLOW_ALONG, Phase.FOLLOW_ALONG, j.actor),
        ("step_back", Phase.FOLLOW_ALONG, Phase.JOB_SEARCH, j.actor),
        ("close", Phase.JOB_SEARCH, Phase.JOB_SEARCH, lead),
        ("reopen", Phase.JOB_SEARCH, Phase.INTAKE, lead),
    ]
    assert timeline[1].reason_ref == "coaching:meeting/1"
    assert all(e.at.tzinfo is not None for e in timeline)
    events = await j.events()
    assert_events_match_timeline(events, timeline)
    moved = [ev for _, ev in events if isinstance(ev, JourneyMoved)]
    assert [m.action for m in moved] == [m[0] for m in moves]
    rest = next(m for m in moved if m.action == "rest")
    assert (rest.rest_reason, rest.review_date, rest.status) == (
        RestReason.HEALTH_CLARIFICATION,
        review,
        Status.RESTING,
    )
    reassign = next(m for m in moved if m.action == "reassign")
    assert (reassign.from_coach_id, reassign.coach_id, reassign.actor_role) == (j.coach, new_coach, "team_lead")
    assert moved[-1].episode == 2


ILLEGAL_MOVES: list[tuple[str, list[tuple[str, dict[str, Any]]], dict[str, Any], str]] = [
    # (name, moves to get there, the illegal move, expected code)
    ("advance_past_last", [], {"action": "advance", "to_phase": Phase.JOB_SEARCH}, "illegal_advance"),
    ("step_back_from_intake", [], {"action": "step_back"}, "illegal_step_back"),
    ("rest_without_reason", [], {"action": "rest", "review_date": date.today()}, "missing_reason"),
    ("rest_without_review", [], {"action": "rest", "reason": RestReason.OTHER}, "missing_review_date"),
    ("resume_active", [], {"action": "resume"}, "not_resting"),
    ("close_without_outcome", [], {"action": "close"}, "missing_outcome"),
    ("reopen_active", [], {"action": "reopen"}, "not_closed"),
    ("reassign_same", [], {"action": "reassign", "coach_id": "SELF"}, "same_coach"),
    ("auditor_moves", [], {"action": "advance", "actor": "AUDITOR"}, "forbidden_role"),
    (
        "advance_resting",
        [("rest", {"reason": RestReason.CLIENT_REQUEST, "review_date": date.today() + timedelta(days=3)})],
        {"action": "advance"},
        "not_active",
    ),
    (
        "closed_advance",
        [("close", {"outcome": Outcome.DISENGAGED})],
        {"action": "advance"},
        "closed_accepts_only_reopen",
    ),
    (
        "closed_close",
        [("close", {"outcome": Outcome.DISENGAGED})],
        {"action": "close", "outcome": Outcome.EMPLOYED},
        "closed_accepts_only_reopen",
    ),
]


async def test_illegal_moves_are_rejected_before_anything_is_written(env: Env) -> None:
    for name, setup, bad, code in ILLEGAL_MOVES:
        j = await start(env)
        for action, kw in setup:
            await j.move(action, **kw)
        await j.settled()
        before_history = await j.history_length()
        before_timeline = await j.timeline()
        kw = dict(bad)
        if kw.get("coach_id") == "SELF":
            kw["coach_id"] = j.coach
        if kw.get("actor") == "AUDITOR":
            kw["actor"] = Actor(user_id=uuid.uuid4(), role=Role.AUDITOR)
        with pytest.raises(MoveRejected) as ei:
            await j.move(**kw)
        assert ei.value.code == code, name
        assert ei.value.message
        # Nothing written: no timeline entry, and not one event in the workflow's history.
        assert await j.timeline() == before_timeline, name
        assert await j.history_length() == before_history, name
        assert len(await j.events()) == len(before_timeline), name


async def test_illegal_milestones_are_rejected_with_codes(env: Env) -> None:
    j = await start(env)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "disclosure_discussed"}, "missing_criterion"),
        ({"kind": "contact_made"}, "missing_place"),
        ({"kind": "job_ended"}, "no_current_job"),
        ({"kind": "job_started", "confirm_move": True}, "illegal_confirm_move"),
        (
            {"kind": "contact_made", "place": "office", "occurred_at": datetime.now(UTC) + timedelta(days=1)},
            "occurred_in_future",
        ),
    ]
    for kw, code in cases:
        kind = kw.pop("kind")
        with pytest.raises(MoveRejected) as ei:
            await j.milestone(kind, **kw)
        assert ei.value.code == code
    assert len(await j.timeline()) == 1


async def test_milestones_are_recorded_without_moving(env: Env) -> None:
    j = await start(env)
    await j.move("advance")
    await j.move("advance")
    now = datetime.now(UTC)
    await j.milestone("first_employer_contact", occurred_at=now)
    await j.milestone("benefits_counselling_given", occurred_at=now)
    await j.milestone("disclosure_discussed", criterion="b")
    await j.milestone("contact_made", place="community", contact_mode="outreach", reason_ref="coaching:contact/7")
    s = await j.milestone("job_started")
    assert s.phase is Phase.JOB_SEARCH  # no confirmation, no move
    m = s.milestones
    assert m.first_employer_contact_at == now and m.disclosure_criteria == ["b"]
    assert (m.contacts, m.contacts_outside_office, m.outreach_contacts) == (1, 1, 1)
    assert {r.kind for r in s.reminders} == {"follow_along_contact", "silence_outreach"}
    await j.settled()
    timeline = await j.timeline()
    events = await j.events()
    assert_events_match_timeline(events, timeline)
    recorded = [ev for _, ev in events if ev.type == "journey.milestone_recorded"]
    assert [getattr(ev, "kind", None) for ev in recorded] == [
        "first_employer_contact",
        "benefits_counselling_given",
        "disclosure_discussed",
        "contact_made",
        "job_started",
    ]
    assert getattr(recorded[2], "code", None) == "b" and getattr(recorded[3], "code", None) == "community"


async def test_concurrent_moves_validate_against_the_latest_state(env: Env) -> None:
    j = await start(env)
    review = date.today() + timedelta(days=7)
    results = await asyncio.gather(
        *(j.move("rest", reason=RestReason.LIFE_SITUATION, review_date=review) for _ in range(6)),
        return_exceptions=True,
    )
    ok = [r for r in results if isinstance(r, JourneyState)]
    rejected = [r for r in results if isinstance(r, MoveRejected)]
    assert len(ok) == 1 and len(rejected) == 5
    assert {r.code for r in rejected} == {"already_resting"}
    assert [e.action for e in await j.timeline() if e.kind == "move"] == ["rest"]


async def test_a_repeated_update_id_applies_once(env: Env) -> None:
    j = await start(env)
    req = MoveRequest(action="advance", actor=j.actor)
    first = await jc.move(env.client, j.org, j.client_id, req, update_id="advance-1")
    again = await jc.move(env.client, j.org, j.client_id, req, update_id="advance-1")
    assert first.phase is again.phase is Phase.PROFILING
    assert len(await j.timeline()) == 2


# --------------------------------------------------------------------------- search attributes


async def test_search_attributes_follow_the_journey(env: Env) -> None:
    j = await start(env)

    async def count(query: str) -> int:
        return (await env.client.count_workflows(query)).count

    await eventually(lambda: count(f"OrganisationId='{j.org}' AND JourneyPhase='INTAKE'"), lambda n: n == 1)
    await j.move("advance")
    await j.move("advance")
    await eventually(lambda: count(f"JourneyPhase='JOB_SEARCH' AND CoachId='{j.coach}'"), lambda n: n == 1)
    other = uuid.uuid4()
    await j.move("reassign", coach_id=other)
    await j.move("close", outcome=Outcome.EMPLOYED)
    q = f"OrganisationId='{j.org}' AND CoachId='{other}' AND JourneyStatus='CLOSED' AND JourneyPhase='JOB_SEARCH'"
    await eventually(lambda: count(q), lambda n: n == 1)
    assert await count(f"CoachId='{j.coach}'") == 0


async def test_worker_refuses_to_start_without_search_attributes(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journey_worker, "SEARCH_ATTRIBUTES", {"OrganisationId": "Keyword", "NoSuchThing": "Keyword"})
    with pytest.raises(journey_worker.SearchAttributesMissing, match="NoSuchThing"):
        await journey_worker.check_search_attributes(env.client, env.settings.temporal_namespace)


# --------------------------------------------------------------------------- timers


def reminders(s: JourneyState) -> dict[str, bool]:
    return {r.kind: r.overdue for r in s.reminders}


async def test_reminders_fire_once_and_publish_reminder_due(env: Env) -> None:
    timers = LONG.model_copy(update={"employer_contact_due_s": 2, "disclosure_revisit_s": 3, "silence_outreach_s": 4})
    j = await start(env, timers)
    await j.move("advance")  # profiling began: disclosure revisit planned
    s = await eventually(j.state, lambda s: all(reminders(s).values()) and len(s.reminders) == 3, within=15)
    assert set(reminders(s)) == {"employer_contact_due", "disclosure_revisit", "silence_outreach"}
    await asyncio.sleep(1)  # raised once: nothing more comes
    await j.settled()
    timeline = await j.timeline()
    fired = [(e.reminder, e.due_at) for e in timeline if e.kind == "reminder"]
    assert [k for k, _ in fired] == ["employer_contact_due", "disclosure_revisit", "silence_outreach"]
    # Durable timers, never early.
    assert all(e.at >= e.due_at for e in timeline if e.kind == "reminder" and e.due_at)
    events = await j.events()
    assert_events_match_timeline(events, timeline)
    due = [ev for _, ev in events if isinstance(ev, ReminderDue)]
    assert [(d.reminder, d.due_at) for d in due] == fired
    # Reminders never close or move anything.
    assert (s.phase, s.status) == (Phase.PROFILING, Status.ACTIVE)


async def test_reminders_are_cancelled_and_replanned_on_change(env: Env) -> None:
    timers = LONG.model_copy(update={"employer_contact_due_s": 2, "silence_outreach_s": 2})
    j = await start(env, timers)
    await j.milestone("first_employer_contact")
    s = await j.move("rest", reason=RestReason.OTHER, review_date=date.today() + timedelta(days=10))
    assert set(reminders(s)) == {"rest_review"}
    await asyncio.sleep(2.5)
    assert [e for e in await j.timeline() if e.kind == "reminder"] == []
    # Resuming re-plans the silence reminder from the resume time.
    s = await j.move("resume")
    assert reminders(s) == {"silence_outreach": False}
    await eventually(j.state, lambda s: reminders(s) == {"silence_outreach": True}, within=10)
    # A contact re-plans it again (not overdue any more).
    s = await j.milestone("contact_made", place="home")
    assert reminders(s) == {"silence_outreach": False}


async def timer_events(j: Journey) -> Counter[str]:
    """Timer events in the history once the journey is settled: the main loop sets its
    timer after the publishing activity has returned, in a later workflow task."""
    await j.settled()
    counts: Counter[str] = Counter()
    async for e in j.env.client.get_workflow_handle(j.workflow_id).fetch_history_events():
        name = EventType.Name(e.event_type)
        if name.startswith("EVENT_TYPE_TIMER_"):
            counts[name.removeprefix("EVENT_TYPE_TIMER_")] += 1
    return counts


async def test_moves_keep_the_reminder_timer_unless_a_reminder_comes_earlier(env: Env) -> None:
    j = await start(env)
    await j.move("advance")
    await j.milestone("contact_made", place="community")
    await j.move("advance")
    await j.move("step_back")
    # Moves that bring nothing earlier: the one timer (employer contact, 30 days) stays.
    assert await timer_events(j) == {"STARTED": 1}
    # A rest with a review tomorrow: only then is the timer replaced.
    await j.move("rest", reason=RestReason.OTHER, review_date=date.today() + timedelta(days=1))
    assert await timer_events(j) == {"STARTED": 2, "CANCELED": 1}
    # Resuming moves the next reminder later: the earlier timer is kept.
    await j.move("resume")
    assert await timer_events(j) == {"STARTED": 2, "CANCELED": 1}


async def test_a_kept_timer_that_fires_early_re_arms_for_the_next_reminder(env: Env) -> None:
    timers = LONG.model_copy(update={"employer_contact_due_s": 4, "silence_outreach_s": 10})
    j = await start(env, timers)
    await j.settled()
    assert await timer_events(j) == {"STARTED": 1}  # the employer-contact reminder (4 s)
    # That reminder is resolved: its timer is kept and fires early, finds nothing due,
    # and the loop waits on for the silence reminder (10 s).
    s = await j.milestone("first_employer_contact")
    assert set(reminders(s)) == {"silence_outreach"}
    await eventually(lambda: timer_events(j), lambda c: c["FIRED"] == 1, within=15)
    assert [e for e in await j.timeline() if e.kind == "reminder"] == []
    s = await eventually(j.state, lambda s: reminders(s) == {"silence_outreach": True}, within=10)
    timeline = await j.timeline()
    due = [e for e in timeline if e.kind == "reminder"]
    assert [e.reminder for e in due] == ["silence_outreach"]
    assert due[0].due_at is not None and due[0].at >= due[0].due_at
    assert (await timer_events(j))["FIRED"] == 2
    await j.settled()
    assert_events_match_timeline(await j.events(), await j.timeline())


async def test_follow_along_contact_schedule(env: Env) -> None:
    timers = LONG.model_copy(
        update={
            "follow_along_first_s": 1,
            "follow_along_weekly_s": 2,
            "follow_along_first_month_s": 3,
            "follow_along_monthly_s": 60,
        }
    )
    j = await start(env, timers)
    await j.move("advance")
    await j.move("advance")
    started = datetime.now(UTC)
    s = await j.milestone("job_started", occurred_at=started, confirm_move=True)
    [fa] = [r for r in s.reminders if r.kind == "follow_along_contact"]
    assert fa.due_at == started + timedelta(seconds=1)
    await eventually(j.state, lambda s: reminders(s)["follow_along_contact"], within=10)
    first = datetime.now(UTC)
    s = await j.milestone("contact_made", occurred_at=first, place="workplace")
    [fa] = [r for r in s.reminders if r.kind == "follow_along_contact"]
    assert (fa.due_at, fa.overdue) == (first + timedelta(seconds=2), False)  # weekly in the first month
    await eventually(j.state, lambda s: reminders(s)["follow_along_contact"], within=10)
    later = max(datetime.now(UTC), started + timedelta(seconds=3))
    s = await j.milestone("contact_made", occurred_at=later, place="workplace")
    [fa] = [r for r in s.reminders if r.kind == "follow_along_contact"]
    assert fa.due_at == later + timedelta(seconds=60)  # monthly after the first month
    fired = [e.reminder for e in await j.timeline() if e.kind == "reminder"]
    assert fired == ["follow_along_contact", "follow_along_contact"]


async def test_rest_review_reminder_on_the_review_date(env: Env) -> None:
    now = datetime.now(UTC)
    today = now.date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    at_s = int((now - midnight).total_seconds()) + 2  # two seconds from now, "on the review date"
    j = await start(env, LONG.model_copy(update={"rest_review_at_s": at_s}))
    s = await j.move("rest", reason=RestReason.REHABILITATIVE_WORK_ACTIVITY, review_date=today)
    assert s.reminders[0].due_at == midnight + timedelta(seconds=at_s)
    s = await eventually(j.state, lambda s: reminders(s) == {"rest_review": True}, within=10)
    assert s.status is Status.RESTING  # a reminder, never an automatic resume or closure
    await j.settled()
    events = await j.events()
    assert [getattr(ev, "reminder", None) for _, ev in events if ev.type == "journey.reminder_due"] == ["rest_review"]


# --------------------------------------------------------------------------- continue-as-new


async def test_continue_as_new_carries_state_timeline_and_reminders(env: Env) -> None:
    timers = LONG.model_copy(update={"silence_outreach_s": 6})
    j = await start(env, timers, history_limit=40)
    handle = env.client.get_workflow_handle(j.workflow_id)
    first_run = (await handle.describe()).run_id
    await j.move("advance")
    await j.move("advance")
    for _ in range(12):
        await j.milestone("benefits_counselling_given")
    await j.milestone("disclosure_discussed", criterion="a")
    s = await j.move("rest", reason=RestReason.OTHER, review_date=date.today() + timedelta(days=5))
    s = await j.move("resume")
    silence_due = next(r.due_at for r in s.reminders if r.kind == "silence_outreach")
    await j.settled()
    runs = {e.run_id async for e in env.client.list_workflows(f"WorkflowId='{j.workflow_id}'")}
    assert first_run in runs
    assert (await handle.describe()).run_id != first_run, "expected at least one continue-as-new"
    s = await j.state()
    assert (s.phase, s.status, s.milestones.disclosure_criteria) == (Phase.JOB_SEARCH, Status.ACTIVE, ["a"])
    timeline = await j.timeline()
    assert [e.seq for e in timeline] == list(range(len(timeline))) and len(timeline) == 18
    # The silence reminder planned before continuing fires in the new run, once.
    s = await eventually(j.state, lambda s: reminders(s).get("silence_outreach") is True, within=15)
    assert next(r.due_at for r in s.reminders if r.kind == "silence_outreach") == silence_due
    await j.settled()
    timeline = await j.timeline()
    assert_events_match_timeline(await j.events(), timeline)
    # Still searchable after continuing. Runs that continued as new keep their last
    # attributes in visibility, so a caseload query asks for the running one.
    q = f"OrganisationId='{j.org}' AND JourneyPhase='JOB_SEARCH' AND ExecutionStatus='Running'"
    assert (await env.client.count_workflows(q)).count == 1


async def poll_state(j: Journey, stop: asyncio.Event, failures: list[str]) -> None:
    """Query the journey's state as fast as answers come, as busy pages would."""
    while not stop.is_set():
        try:
            await j.state()
        except (WorkflowQueryFailedError, RPCError) as e:
            failures.append(str(e))
        await asyncio.sleep(0)


async def test_every_run_replays_after_moves_under_queries_and_continue_as_new(env: Env) -> None:
    """Coaches' pages query journeys while moves land; every run's history must replay.

    With publishing as a local activity, a task holding an update was sometimes completed
    before the workflow saw the activity's result; the timer or continue-as-new that
    followed then sat in a later task than a replay puts it: queries of closed runs and
    every replay after a cache eviction failed with a nondeterminism error (2-4 runs in
    each round of this test).
    """
    replayer = Replayer(workflows=[ClientJourney], data_converter=env.client.data_converter)
    failed_queries: list[str] = []
    for _ in range(3):
        j = await start(env, LONG.model_copy(update={"silence_outreach_s": 3}), history_limit=25)
        stop = asyncio.Event()
        pollers = [asyncio.create_task(poll_state(j, stop, failed_queries)) for _ in range(3)]
        try:
            await j.move("advance")
            await j.move("advance")
            for _ in range(12):
                await j.milestone("benefits_counselling_given")
            await j.move("rest", reason=RestReason.OTHER, review_date=date.today() + timedelta(days=5))
            await j.move("resume")
            await eventually(j.state, lambda s: reminders(s).get("silence_outreach") is True, within=15)
            await j.settled()
        finally:
            stop.set()
            await asyncio.gather(*pollers)
        runs = [e.run_id async for e in env.client.list_workflows(f"WorkflowId='{j.workflow_id}'")]
        assert len(runs) > 1, "expected continue-as-new"
        for run_id in runs:
            history = await env.client.get_workflow_handle(j.workflow_id, run_id=run_id).fetch_history()
            await replayer.replay_workflow(history)  # raises on nondeterminism
    assert failed_queries == []


# --------------------------------------------------------------------------- NATS outage


class FlakyPublisher(EventPublisher):
    failing = True

    async def publish(self, event: Event, timeout: float = 5.0) -> None:
        if FlakyPublisher.failing:
            raise ConnectionError("NATS is down (test)")
        await super().publish(event, timeout)


async def test_moves_are_accepted_while_nats_is_down_and_events_follow(env: Env) -> None:
    FlakyPublisher.failing = True
    tq = f"journey-flaky-{uuid.uuid4().hex[:8]}"
    broker = NatsBroker(env.nats_url)
    await broker.start()
    try:
        settings = env.settings.model_copy(update={"temporal_task_queue": tq})
        async with await journey_worker.build_worker(env.client, settings, broker, publisher=FlakyPublisher(broker)):
            flaky = Env(env.client, settings, env.nats_url, tq)
            j = await start(flaky, LONG.model_copy(update={"publish_attempts": 2, "publish_backoff_s": 1}))
            t = time.monotonic()
            s = await j.move("advance")
            s = await j.move("advance")
            assert s.phase is Phase.JOB_SEARCH
            assert time.monotonic() - t < 8, "a move waited for NATS too long"
            s = await j.state()
            assert s.pending_events == 3
            assert await j.events() == []
            FlakyPublisher.failing = False
            await j.settled(within=15)
            timeline = await j.timeline()
    finally:
        FlakyPublisher.failing = False
        await broker.stop()
    events = await j.events()
    assert [ev.type for _, ev in events] == ["journey.started", "journey.moved", "journey.moved"]
    assert_events_match_timeline(events, timeline)


# --------------------------------------------------------------------------- the worker process


async def test_run_worker_serves_journeys_and_stops_on_sigterm(env: Env, tmp_path: Path) -> None:
    tq = f"journey-proc-{uuid.uuid4().hex[:8]}"
    environ = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "POLKU_TEMPORAL_ADDRESS": env.settings.temporal_address,
        "POLKU_NATS_URL": env.nats_url,
        "POLKU_TEMPORAL_TASK_QUEUE": tq,
    }
    code = "import asyncio; from shared.settings import Settings; from workflows.worker import run_worker; "
    code += "asyncio.run(run_worker(Settings()))"
    log = await asyncio.to_thread((tmp_path / "worker.log").open, "wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=ROOT, env=environ, stdout=log, stderr=log
    )
    try:
        flaky = Env(env.client, env.settings.model_copy(update={"temporal_task_queue": tq}), env.nats_url, tq)
        j = await start(flaky)
        s = await asyncio.wait_for(j.move("advance"), 30)
        assert s.phase is Phase.PROFILING
        await j.settled()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
    assert [ev.type for _, ev in await j.events()] == ["journey.started", "journey.moved"]


# --------------------------------------------------------------------------- crash while publishing

CRASH_WORKER = """
import asyncio, sys
from pathlib import Path
from faststream.nats import NatsBroker
from shared.events.publisher import EventPublisher
from shared.settings import Settings
from workflows import worker as journey_worker
from workflows.client import connect

marker = Path(sys.argv[4])

class HangAfterMove(EventPublisher):
    # Publishes, then hangs before the activity can return: the crash window.
    async def publish(self, event, timeout=5.0):
        await super().publish(event, timeout)
        if event.type == "journey.moved":
            marker.write_text(str(event.id))
            await asyncio.sleep(3600)

async def main():
    settings = Settings(temporal_address=sys.argv[1], nats_url=sys.argv[2], temporal_task_queue=sys.argv[3])
    client = await connect(settings)
    broker = NatsBroker(settings.nats_url)
    await broker.start()
    worker = await journey_worker.build_worker(client, settings, broker, publisher=HangAfterMove(broker))
    async with worker:
        Path(str(marker) + ".ready").write_text("ok")
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_worker_killed_while_publishing_the_event_lands_once(env: Env, tmp_path: Path) -> None:
    tq = f"journey-crash-{uuid.uuid4().hex[:8]}"
    script = tmp_path / "crash_worker.py"
    script.write_text(CRASH_WORKER)
    marker = tmp_path / "published"
    log = await asyncio.to_thread((tmp_path / "crash_worker.log").open, "wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        env.settings.temporal_address,
        env.nats_url,
        tq,
        str(marker),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    try:
        await eventually(lambda: _exists(Path(str(marker) + ".ready")), bool, within=30)
        org, client_id, coach = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        actor = Actor(user_id=coach, role=Role.COACH)
        inp = JourneyInput(organisation_id=org, region_id="r", client_id=client_id, coach_id=coach, actor=actor)
        # A short task timeout: the dead worker's task times out fast.
        await env.client.start_workflow(
            ClientJourney.run, inp, id=jc.workflow_id(org, client_id), task_queue=tq, task_timeout=timedelta(seconds=2)
        )
        j = Journey(org, client_id, coach, actor, env)
        moving = asyncio.create_task(j.move("advance"))
        await eventually(lambda: _exists(marker), bool, within=30)
        moved_id = marker.read_text()
        # The event is in the stream, the activity has not returned: kill the worker.
        assert [ev.type for _, ev in await j.events()] == ["journey.started", "journey.moved"]
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)
        log.close()

    # A new worker takes over: it re-runs the workflow task and re-publishes the same event id.
    broker = NatsBroker(env.nats_url)
    await broker.start()
    try:
        settings = env.settings.model_copy(update={"temporal_task_queue": tq})
        async with await journey_worker.build_worker(env.client, settings, broker):
            s = await asyncio.wait_for(moving, timeout=60)
            assert s.phase is Phase.PROFILING
            await j.settled(within=60)
            timeline = await j.timeline()
    finally:
        await broker.stop()
    events = await j.events()
    assert [ev.type for _, ev in events] == ["journey.started", "journey.moved"]
    assert events[1][0] == moved_id == str(timeline[1].event_id)
    assert_events_match_timeline(events, timeline)


async def _exists(path: Path) -> bool:
    return await asyncio.to_thread(path.exists)
