"""Record ClientJourney histories for the replay test (tests/replay/test_replay.py).

Runs a few scenarios against a real Temporal dev server and nats-server (started here
from the venv's binaries, or given with --temporal/--nats) with the current workflow
code, and saves each run's history as JSON under tests/replay/histories/:

    .venv/bin/python -m tests.replay.record            # all scenarios
    .venv/bin/python -m tests.replay.record full_path  # some of them

File names carry a version tag (``--tag``, default ``v1``): when the workflow changes,
keep the old files and record new ones under a new tag (see workflows/VERSIONING.md).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from faststream.nats import NatsBroker
from temporalio.client import Client

from shared.codec import EncryptionCodec, decrypt_message
from shared.contracts.events import Event
from shared.contracts.journey import Outcome, Phase, RestReason, Role
from shared.events.publisher import EventPublisher
from shared.settings import Settings
from workflows import client as jc
from workflows.contracts import Actor, JourneyInput, JourneyTimers, MilestoneRequest, MoveRequest
from workflows.domain import MoveRejected
from workflows.worker import build_worker, check_search_attributes

HISTORIES = Path(__file__).parent / "histories"
TASK_QUEUE = "journey-record"


class Run:
    def __init__(self, client: Client, timers: JourneyTimers | None = None, history_limit: int = 10_000) -> None:
        # Fixed ids: re-recording gives files that differ only in times and run ids.
        self.client = client
        self.org = uuid.UUID("0a000000-0000-4000-8000-000000000001")
        self.client_id = uuid.uuid4()
        self.coach = uuid.UUID("0c000000-0000-4000-8000-000000000001")
        self.actor = Actor(user_id=self.coach, role=Role.COACH)
        self.timers = timers or JourneyTimers()
        self.history_limit = history_limit

    async def start(self) -> None:
        inp = JourneyInput(
            organisation_id=self.org,
            region_id="kymenlaakso",
            client_id=self.client_id,
            coach_id=self.coach,
            actor=self.actor,
            timers=self.timers,
            history_limit=self.history_limit,
        )
        await jc.start_journey(self.client, inp, task_queue=TASK_QUEUE)

    async def move(self, action: str, **kw: object) -> None:
        req = MoveRequest.model_validate({"action": action, "actor": kw.pop("actor", self.actor), **kw})
        await jc.move(self.client, self.org, self.client_id, req)

    async def rejected(self, action: str, **kw: object) -> None:
        try:
            await self.move(action, **kw)
        except MoveRejected:
            return
        raise AssertionError(f"{action} {kw} was accepted")

    async def milestone(self, kind: str, **kw: object) -> None:
        kw.setdefault("occurred_at", datetime.now(UTC))
        req = MilestoneRequest.model_validate({"kind": kind, "actor": self.actor, **kw})
        await jc.record_milestone(self.client, self.org, self.client_id, req)

    async def settle(self) -> None:
        for _ in range(100):
            if (await jc.get_state(self.client, self.org, self.client_id)).pending_events == 0:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("events not published")

    @property
    def workflow_id(self) -> str:
        return jc.workflow_id(self.org, self.client_id)


async def full_path(client: Client) -> list[str]:
    """Every move and milestone kind, rejected moves in between."""
    r = Run(client)
    await r.start()
    lead = Actor(user_id=uuid.UUID("0d000000-0000-4000-8000-000000000001"), role=Role.TEAM_LEAD)
    await r.rejected("resume")
    await r.move("advance", reason_ref="coaching:meeting/1")
    await r.milestone("benefits_counselling_given")
    await r.milestone("disclosure_discussed", criterion="b")
    await r.move("advance")
    await r.milestone("first_employer_contact")
    await r.milestone("contact_made", place="community", contact_mode="meeting")
    await r.move("step_back")
    await r.move("advance", to_phase=Phase.JOB_SEARCH)
    await r.milestone("job_started", confirm_move=True)
    await r.move("advance")
    await r.move("rest", reason=RestReason.HEALTH_CLARIFICATION, review_date=date.today() + timedelta(days=30))
    await r.rejected("advance")
    await r.move("reassign", actor=lead, coach_id=uuid.UUID("0c000000-0000-4000-8000-000000000002"))
    await r.move("resume")
    await r.milestone("job_ended", confirm_move=True)
    await r.move("close", outcome=Outcome.WORK_TRIAL, actor=lead)
    await r.rejected("advance")
    await r.move("reopen", actor=lead)
    await r.settle()
    return [r.workflow_id]


async def reminders(client: Client) -> list[str]:
    """Timers firing, being cancelled and re-planned."""
    r = Run(
        client,
        JourneyTimers(
            employer_contact_due_s=1,
            disclosure_revisit_s=2,
            silence_outreach_s=2,
            follow_along_first_s=1,
            follow_along_weekly_s=1,
            follow_along_first_month_s=2,
            follow_along_monthly_s=3600,
        ),
    )
    await r.start()
    await r.move("advance")
    await asyncio.sleep(2.5)
    await r.move("advance")
    await r.milestone("job_started", confirm_move=True)
    await asyncio.sleep(1.5)
    await r.milestone("contact_made", place="workplace")
    await asyncio.sleep(1.5)
    await r.move("rest", reason=RestReason.OTHER, review_date=date.today())
    await r.move("resume")
    await r.settle()
    return [r.workflow_id]


async def continue_as_new(client: Client) -> list[str]:
    """A tiny history limit: several runs, each saved."""
    r = Run(client, JourneyTimers(silence_outreach_s=3), history_limit=30)
    await r.start()
    await r.move("advance")
    for _ in range(8):
        await r.milestone("benefits_counselling_given")
    await r.move("advance")
    await asyncio.sleep(3.5)
    await r.settle()
    return [r.workflow_id]


async def queried_moves(client: Client) -> list[str]:
    """Moves while a coach's page keeps querying, continuing as new on the way: the shape
    that a local publishing activity could not replay (journey-publish-activity-202612)."""
    r = Run(client, JourneyTimers(silence_outreach_s=3), history_limit=25)
    await r.start()
    polling = True

    async def poll() -> None:
        while polling:
            await jc.get_state(client, r.org, r.client_id)
            await asyncio.sleep(0)

    pollers = [asyncio.create_task(poll()) for _ in range(3)]
    try:
        await r.move("advance")
        await r.move("advance")
        for _ in range(12):
            await r.milestone("benefits_counselling_given")
        await r.move("rest", reason=RestReason.OTHER, review_date=date.today() + timedelta(days=5))
        await r.move("resume")
        await asyncio.sleep(3.5)
        await r.settle()
    finally:
        polling = False
        await asyncio.gather(*pollers)
    return [r.workflow_id]


class OutagePublisher(EventPublisher):
    """The real publisher, failing while ``down`` is set (a NATS outage)."""

    down = False

    async def publish(self, event: Event, timeout: float = 5.0) -> None:
        if OutagePublisher.down:
            raise ConnectionError("NATS is down (recording)")
        await super().publish(event, timeout)


async def nats_outage(client: Client) -> list[str]:
    """Publishing fails, moves go on, events follow when NATS is back."""
    r = Run(client, JourneyTimers(publish_attempts=2, publish_backoff_s=1))
    OutagePublisher.down = True
    try:
        await r.start()
        await r.move("advance")
        await asyncio.sleep(1.5)
        await r.move("advance")
    finally:
        OutagePublisher.down = False
    await asyncio.sleep(1.5)
    await r.settle()
    return [r.workflow_id]


SCENARIOS: dict[str, Callable[[Client], Awaitable[list[str]]]] = {
    "full_path": full_path,
    "reminders": reminders,
    "continue_as_new": continue_as_new,
    "nats_outage": nats_outage,
    "queried_moves": queried_moves,
}


async def save_histories(client: Client, name: str, tag: str, workflow_id: str) -> list[Path]:
    """Every run of the workflow (continue-as-new chains), oldest first."""
    runs = [e async for e in client.list_workflows(f"WorkflowId='{workflow_id}'")]
    runs.sort(key=lambda e: e.start_time)
    out = []
    for i, run in enumerate(runs):
        history = await client.get_workflow_handle(workflow_id, run_id=run.run_id).fetch_history()
        # Saved decrypted (ids and codes only, by design), so any machine replays them with
        # its own keys: the codec passes plain payloads through.
        codec = client.data_converter.payload_codec
        assert isinstance(codec, EncryptionCodec)
        for event in history.events:
            decrypt_message(codec.cipher, event)
        suffix = f"-run{i + 1}" if len(runs) > 1 else ""
        path = HISTORIES / f"{tag}-{name}{suffix}.json"
        path.write_text(history.to_json())
        out.append(path)
    return out


async def record(temporal: str, nats_url: str, names: list[str], tag: str) -> None:
    settings = Settings(temporal_address=temporal, nats_url=nats_url, temporal_task_queue=TASK_QUEUE)
    client = await jc.connect(settings)
    await check_search_attributes(client, settings.temporal_namespace)
    broker = NatsBroker(nats_url)
    await broker.start()
    try:
        async with await build_worker(client, settings, broker, publisher=OutagePublisher(broker)):
            for name in names:
                ids = await SCENARIOS[name](client)
                for wid in ids:
                    for path in await save_histories(client, name, tag, wid):
                        print(f"saved {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    finally:
        await broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=f"some of {', '.join(SCENARIOS)}")
    parser.add_argument("--tag", default="v1", help="version tag in the file names")
    parser.add_argument("--temporal", help="address of a running server (with the search attributes)")
    parser.add_argument("--nats", help="URL of a running nats-server with JetStream")
    args = parser.parse_args()
    names = args.scenarios or list(SCENARIOS)
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    HISTORIES.mkdir(parents=True, exist_ok=True)
    if args.temporal and args.nats:
        asyncio.run(record(args.temporal, args.nats, names, args.tag))
        return
    from shared.events.streams import ensure_streams
    from tests.servers import local_nats, local_temporal

    with tempfile.TemporaryDirectory() as tmp, local_temporal(Path(tmp) / "t") as t, local_nats(Path(tmp) / "n") as n:

        async def go() -> None:
            await ensure_streams(n.url)
            await record(t.address, n.url, names, args.tag)

        asyncio.run(go())


if __name__ == "__main__":
    main()
