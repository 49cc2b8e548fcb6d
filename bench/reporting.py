"""Benchmark: the reporting projection against the raw consume rate of the same NATS
server, and report query times with many clients' events loaded.

    .venv/bin/python bench/reporting.py [--clients 100000] [--orgs 20] [--regions 4]
        [--stream-clients 3000] [--queries 20] [--nats nats://...] [--database-url postgresql+asyncpg://...]

Without --nats it starts a nats-server in a temporary directory; the databases are SQLite
files there (as ``polku dev`` has them) unless --database-url is given.

1. Generates organisations (in regions), coaches, and for ``--clients`` clients their
   journey events in timeline order (about ten each: moves, milestones, reminders), with
   employer contacts, placements and quick help.
2. Loads all but ``--stream-clients`` clients' events into the projection through
   ``apply_batch``, the consumers' own code path without the broker.
3. Publishes the other clients' events to JetStream and consumes them twice from the same
   server: raw (fetch, decode, acknowledge) and by the reporting consumers (the same,
   plus the projection). The ratio of the two rates is the projection's cost.
4. Times every report (JSON, through the reporting app in-process with authentication)
   for a team lead of one organisation and a region analyst, ``--queries`` times each.

Figures are printed; nothing is asserted. Targets: ratio >= 0.3, every report p95 <= 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.settings import Settings  # noqa: E402

OUTCOMES = (
    ("employed", 20),
    ("work_trial", 4),
    ("rehabilitative_work_activity", 8),
    ("work_ability_assessment", 4),
    ("education", 2),
    ("discontinued", 7),
    ("disengaged", 1),
    ("sick_leave", 4),
)
PLACES = ("office", "community", "workplace", "home", "remote")
TOPICS = ("interview_preparation", "cv", "strengths", "job_search", "benefits")
INDUSTRIES = ("G", "I", "N", "Q", "C", "H", "F", "47", "56", "81")


@dataclass
class Org:
    id: uuid.UUID
    region: str
    coaches: list[uuid.UUID] = field(default_factory=list)
    lead: uuid.UUID = field(default_factory=uuid.uuid4)
    analyst: uuid.UUID = field(default_factory=uuid.uuid4)


class Journeys:
    """Journey events as dicts (what the consumers decode), timeline-ordered per client."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng, self.now = rng, now

    def client(self, org: Org) -> list[dict[str, Any]]:
        rng = self.rng
        client, coach = uuid.uuid4(), rng.choice(org.coaches)
        t = self.now - timedelta(days=rng.uniform(20, 730))
        events: list[dict[str, Any]] = []
        state: dict[str, Any] = {"phase": "INTAKE", "status": "ACTIVE", "episode": 1}

        def base(kind: str, at: datetime) -> dict[str, Any]:
            return {
                "id": str(uuid.uuid4()),
                "type": kind,
                "occurred_at": at.isoformat(),
                "organisation_id": str(org.id),
                "region_id": org.region,
                "client_id": str(client),
                "journey_id": f"journey-{org.id}-{client}",
                "coach_id": str(coach),
                "episode": state["episode"],
                "phase": state["phase"],
                "status": state["status"],
                "timeline_seq": len(events),
            }

        def later(low: float, high: float) -> datetime:
            nonlocal t
            t = min(t + timedelta(days=rng.uniform(low, high)), self.now - timedelta(minutes=len(events)))
            return t

        def move(action: str, phase: str, status: str = "ACTIVE", **extra: Any) -> None:
            at = later(1, 20)
            before = (state["phase"], state["status"])
            state.update(phase=phase, status=status)
            events.append(
                base("journey.moved", at)
                | {"action": action, "from_phase": before[0], "from_status": before[1]}
                | extra
            )

        def milestone(kind: str, code: str | None = None, mode: str | None = None) -> None:
            at = later(0.5, 15)
            events.append(
                base("journey.milestone_recorded", at)
                | {"kind": kind, "milestone_occurred_at": at.isoformat(), "code": code, "contact_mode": mode}
            )

        def reminder(kind: str) -> None:
            at = later(1, 10)
            events.append(base("journey.reminder_due", at) | {"reminder": kind, "due_at": at.isoformat()})

        events.append(base("journey.started", t))
        job = False
        if rng.random() < 0.9:
            move("advance", "PROFILING")
            if rng.random() < 0.3:
                milestone("disclosure_discussed", code="a")
            if rng.random() < 0.75:
                move("advance", "JOB_SEARCH")
                for _ in range(rng.randint(1, 3)):
                    milestone("contact_made", code=rng.choice(PLACES), mode="meeting")
                if rng.random() < 0.4:
                    milestone("disclosure_discussed", code=rng.choice("bcd"))
                if rng.random() < 0.5:
                    milestone("benefits_counselling_given")
                if rng.random() < 0.7:
                    milestone("first_employer_contact")
                if rng.random() < 0.1:
                    reminder("silence_outreach")
                    if rng.random() < 0.7:
                        milestone("contact_made", code="remote", mode="outreach")
                if rng.random() < 0.45:
                    milestone("job_started")
                    move("advance", "EMPLOYER_AGREEMENT")
                    job = True
                    if rng.random() < 0.6:
                        move("advance", "FOLLOW_ALONG")
                        if rng.random() < 0.15:
                            reminder("follow_along_contact")
                    if rng.random() < 0.2:
                        milestone("job_ended")
                        move("step_back", "JOB_SEARCH")
                        job = False
        if rng.random() < 0.12:
            phase = state["phase"]
            move("rest", phase, "RESTING", rest_reason="health_clarification", review_date=t.date().isoformat())
            if rng.random() < 0.7:
                move("resume", phase)
        if state["status"] == "ACTIVE" and rng.random() < 0.55:
            outcome = "employed" if job else rng.choices(*zip(*OUTCOMES, strict=True))[0]
            move("close", state["phase"], "CLOSED", outcome=outcome)
        return events

    def employer(self, org: Org, n: int) -> list[dict[str, Any]]:
        rng = self.rng
        out: list[dict[str, Any]] = []
        employers = [uuid.uuid4() for _ in range(max(5, n // 10))]
        for _ in range(n):
            day = (self.now - timedelta(days=rng.uniform(0, 700))).date()
            envelope = {"organisation_id": str(org.id), "region_id": org.region, "occurred_at": self.now.isoformat()}
            out.append(
                envelope
                | {
                    "id": str(uuid.uuid4()),
                    "type": "employer_contact.recorded",
                    "contact_id": str(uuid.uuid4()),
                    "employer_id": str(rng.choice(employers)),
                    "staff_id": str(rng.choice(org.coaches)),
                    "occurred_on": day.isoformat(),
                    "mode": rng.choice(("face_to_face", "face_to_face", "phone", "email")),
                    "client_present": False,
                    "purposes": ["learn_needs"],
                    "level": rng.randint(2, 5),
                }
            )
            if rng.random() < 0.3:
                out.append(
                    envelope
                    | {
                        "id": str(uuid.uuid4()),
                        "type": "placement.started",
                        "placement_id": str(uuid.uuid4()),
                        "client_id": str(uuid.uuid4()),
                        "employer_id": str(rng.choice(employers)),
                        "kind": rng.choice(("open_market", "open_market", "wage_subsidy", "work_trial")),
                        "industry": rng.choice(INDUSTRIES),
                        "starts_on": day.isoformat(),
                        "hours_per_week": rng.choice((20, 25, 30, 37.5)),
                        "permanent": rng.random() < 0.6,
                        "competitive": rng.random() < 0.9,
                    }
                )
            if rng.random() < 0.1:
                out.append(
                    envelope
                    | {
                        "id": str(uuid.uuid4()),
                        "type": "quick_help.recorded",
                        "quick_help_id": str(uuid.uuid4()),
                        "coach_id": str(rng.choice(org.coaches)),
                        "topic": rng.choice(TOPICS),
                        "duration_minutes": rng.choice((15, 30, 45)),
                        "occurred_on": day.isoformat(),
                        "anonymous": rng.random() < 0.3,
                    }
                )
        return out


def interleave(rng: random.Random, streams: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Merge clients' event lists at random, each list's own order kept (as on the broker)."""
    pending = [s for s in streams if s]
    out: list[dict[str, Any]] = []
    while pending:
        i = rng.randrange(len(pending))
        out.append(pending[i].pop(0))
        if not pending[i]:
            pending[i] = pending[-1]
            pending.pop()
    return out


def subject(event: dict[str, Any]) -> str:
    return f"polku.{event['organisation_id']}.{event['type']}"


# --------------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def local_nats(base: Path) -> Iterator[str]:
    port = _free_port()
    argv = [str(Path(sys.executable).parent / "nats-server"), "-js", "-sd", str(base / "nats"), "-a", "127.0.0.1"]
    with (base / "nats.log").open("wb") as log:
        proc = subprocess.Popen([*argv, "-p", str(port)], stdout=log, stderr=log)
        try:
            yield f"nats://127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(15)


async def wait_streams(url: str) -> None:
    from shared.events.streams import ensure_streams

    deadline = time.monotonic() + 30
    while True:
        try:
            await ensure_streams(url)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- steps


async def setup_platform(settings: Settings, orgs: list[Org]) -> None:
    """Organisations and users straight into the platform database (no password hashing)."""
    from shared.db import Database
    from shared.platform import Organisation, User

    db = Database(settings, "platform", immediate=True)
    try:
        async with db.session() as s, s.begin():
            for n, org in enumerate(orgs):
                s.add(Organisation(id=org.id, name=f"Organisaatio {n + 1}", region_id=org.region))
                for i, coach in enumerate(org.coaches):
                    s.add(
                        User(
                            id=coach, organisation_id=org.id, username=f"coach-{n}-{i}", password_hash="-", role="coach"
                        )
                    )
                s.add(
                    User(id=org.lead, organisation_id=org.id, username=f"lead-{n}", password_hash="-", role="team_lead")
                )
                s.add(
                    User(
                        id=org.analyst,
                        organisation_id=org.id,
                        username=f"analyst-{n}",
                        password_hash="-",
                        role="region_analyst",
                    )
                )
    finally:
        await db.dispose()


async def load(settings: Settings, events: list[dict[str, Any]], batch: int = 1000) -> dict[str, float]:
    from services.reporting.projection import apply_batch, checkpoints, projection_database

    db = projection_database(settings)
    applied = invalid = 0
    # As the service runs them beside its consumers.
    checkpointing = asyncio.create_task(checkpoints(db))
    t0 = time.perf_counter()
    try:
        for i in range(0, len(events), batch):
            r = await apply_batch(db, events[i : i + batch])
            applied += r.applied
            invalid += r.invalid
            if (i // batch) % 100 == 0:
                done = i + batch
                print(
                    f"  loaded {min(done, len(events)):>9} events, {done / (time.perf_counter() - t0):,.0f}/s",
                    flush=True,
                )
    finally:
        checkpointing.cancel()
        await asyncio.gather(checkpointing, return_exceptions=True)
        await db.dispose()
    seconds = time.perf_counter() - t0
    return {"events": len(events), "applied": applied, "invalid": invalid, "seconds": round(seconds, 1),
            "per_s": round(len(events) / seconds)}  # fmt: skip


async def publish(url: str, events: list[dict[str, Any]]) -> float:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    t0 = time.perf_counter()
    try:
        for i in range(0, len(events), 1000):
            acks = [
                js.publish(subject(e), json.dumps(e).encode(), headers={"Nats-Msg-Id": e["id"]})
                for e in events[i : i + 1000]
            ]
            await asyncio.gather(*acks)
    finally:
        await nc.close()
    return len(events) / (time.perf_counter() - t0)


async def consume_raw(url: str, total: int) -> float:
    """Every stream through a fresh durable: fetch what waits (up to 500), decode, ack."""
    import nats

    from services.reporting.consumers import BATCH_SIZE, consumer_config
    from shared.events.streams import STREAMS

    nc = await nats.connect(url)
    js = nc.jetstream()
    count = 0

    async def one(spec: Any) -> None:
        nonlocal count
        sub = await js.pull_subscribe(
            spec.subjects[0], durable=f"bench-raw-{spec.area}", stream=spec.name, config=consumer_config(spec, None)
        )
        while count < total:
            try:
                msgs = await sub.fetch(BATCH_SIZE, timeout=1)
            except TimeoutError:
                continue
            for m in msgs:
                json.loads(m.data)
                await m.ack()
            count += len(msgs)

    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(asyncio.gather(*(one(s) for s in STREAMS)), timeout=600)
    finally:
        await nc.close()
    return count / (time.perf_counter() - t0)


async def consume_projection(settings: Settings, total: int) -> float:
    """The reporting consumers themselves (with what the service runs beside them), from
    their own fresh durables, until every event published has been applied (the
    watermarks count them)."""
    from sqlalchemy import func, select

    from services.reporting.consumers import projection_tasks
    from services.reporting.models import Watermark
    from services.reporting.projection import projection_database
    from shared.service import freeze_startup_heap

    db = projection_database(settings)
    async with db.session(cross_tenant=True) as s:
        before = int(await s.scalar(select(func.sum(Watermark.events))) or 0)
    freeze_startup_heap()  # as `polku serve` does before it serves
    wal = settings.sqlite_path("reporting").with_name("reporting.db-wal")
    if wal.exists():  # SQLite: the write-ahead log the projection starts with
        print(f"  reporting write-ahead log at the start: {wal.stat().st_size / 2**20:,.0f} MiB")
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(task) for task in projection_tasks(settings, db).values()]
    try:
        while True:
            await asyncio.sleep(0.05)
            async with db.session(cross_tenant=True) as s:
                now = int(await s.scalar(select(func.sum(Watermark.events))) or 0)
            if now - before >= total:
                break
            if time.perf_counter() - t0 > 900:
                raise TimeoutError(f"projection applied {now - before} of {total}")
        return total / (time.perf_counter() - t0)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await db.dispose()


async def time_queries(settings: Settings, org: Org, runs: int) -> dict[str, dict[str, float]]:
    import httpx

    from services.reporting.app import create_app
    from shared.auth import TokenService
    from shared.contracts.journey import Role
    from shared.identity import Account
    from shared.keys import load_keys

    keys = load_keys(settings)
    tokens = TokenService(keys.secret_key, 3600, 3600)
    lead = tokens.access_token(Account(org.lead, "lead", Role.TEAM_LEAD, org.id, org.region, None, 1.0))
    analyst = tokens.access_token(Account(org.analyst, "analyst", Role.REGION_ANALYST, org.id, org.region, None, 1.0))
    paths = [
        (lead, "/api/v1/reports/caseload"),
        (lead, "/api/v1/reports/flow"),
        (lead, "/api/v1/reports/outcomes"),
        (lead, "/api/v1/reports/fidelity"),
        (lead, "/api/v1/reports/fidelity/items/community_based"),
        (lead, "/api/v1/reports/assessments"),
        (lead, "/api/v1/reports/quick-help"),
        (lead, "/api/v1/reports/economics?use_own_figures=true"),
        (lead, "/api/v1/reports/outcomes.xlsx"),
        (analyst, "/api/v1/reports/region"),
        (analyst, "/api/v1/reports/region/fidelity"),
        (analyst, "/api/v1/reports/status"),
    ]
    app = create_app(settings)
    results: dict[str, dict[str, float]] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as http:
            for token, path in paths:
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    r = await http.get(path, headers={"Authorization": f"Bearer {token}"})
                    times.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200:
                        raise RuntimeError(f"{path}: {r.status_code} {r.text[:300]}")
                ordered = sorted(times)
                results[path] = {
                    "first_ms": round(times[0], 1),  # cold: before any cache (region roll-ups keep theirs)
                    "p50_ms": round(statistics.median(ordered), 1),
                    "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 1),
                    "bytes": len(r.content),
                }
    return results


async def run(args: argparse.Namespace, base: Path, url: str) -> dict[str, Any]:
    from shared.migrations import upgrade

    settings = Settings(data_dir=base, nats_url=url, database_url=args.database_url, log_level="WARNING")
    await asyncio.to_thread(upgrade, settings, "platform")
    await asyncio.to_thread(upgrade, settings, "reporting")
    await wait_streams(url)

    rng = random.Random(args.seed)
    now = datetime.now(UTC)
    regions = [f"region-{r + 1}" for r in range(args.regions)]
    per_org = args.clients // args.orgs
    orgs = [
        Org(uuid.uuid4(), regions[i % args.regions], [uuid.uuid4() for _ in range(max(1, per_org // 20))])
        for i in range(args.orgs)
    ]
    await setup_platform(settings, orgs)
    gen = Journeys(rng, now)
    print(f"generating {args.clients:,} clients' events in {args.orgs} organisations, {args.regions} regions ...")
    clients = [gen.client(orgs[i % args.orgs]) for i in range(args.clients)]
    streamed = clients[: args.stream_clients]
    loaded = clients[args.stream_clients :]
    employer = [gen.employer(org, per_org // 2) for org in orgs]
    to_load = interleave(rng, loaded) + [e for part in employer for e in part[len(part) // 10 :]]
    to_stream = interleave(rng, streamed) + [e for part in employer for e in part[: len(part) // 10]]
    print(
        f"events: {len(to_load) + len(to_stream):,} ({len(to_load):,} loaded directly, {len(to_stream):,} through NATS)"
    )

    del clients, streamed, loaded, employer
    result: dict[str, Any] = {"clients": args.clients, "organisations": args.orgs, "regions": args.regions}
    result["load"] = await load(settings, to_load)
    print(f"loaded: {result['load']}")
    result["publish_per_s"] = round(await publish(url, to_stream))
    streamed_events = len(to_stream)
    # The generated events are the bench's, not the service's: a service process does not
    # hold a million dicts, whose every full garbage collection would be timed below.
    del to_load, to_stream
    gc.collect()
    raw = await consume_raw(url, streamed_events)
    projected = await consume_projection(settings, streamed_events)
    result["stream"] = {
        "events": streamed_events,
        "raw_consume_per_s": round(raw),
        "projection_per_s": round(projected),
        "ratio": round(projected / raw, 2),
    }
    print(f"through NATS: {result['stream']}")
    result["queries"] = await time_queries(settings, orgs[0], args.queries)
    return result


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average (1, 5, 15 min): {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=20)
    parser.add_argument("--regions", type=int, default=4)
    parser.add_argument("--stream-clients", type=int, default=3_000, help="clients whose events go through NATS")
    parser.add_argument("--queries", type=int, default=20, help="runs per report")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--nats", help="an existing NATS server (default: start one)")
    parser.add_argument("--database-url", help="PostgreSQL for the databases (default: SQLite files)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON too")
    parser.add_argument("--keep", type=Path, help="keep the data (databases, NATS store) in this new directory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(load_average())
    with contextlib.ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True)
            base = args.keep
        else:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="polku-bench-reporting-")))
        with contextlib.ExitStack() as stack:
            url = args.nats or stack.enter_context(local_nats(base))
            result = asyncio.run(run(args, base, url))
    print()
    print(load_average())
    s = result["stream"]
    print(f"clients {result['clients']:,} in {result['organisations']} organisations, {result['regions']} regions")
    print(f"load through apply_batch: {result['load']['events']:,} events at {result['load']['per_s']:,}/s")
    rates = f"raw consume {s['raw_consume_per_s']:,}/s, projection {s['projection_per_s']:,}/s"
    print(f"{rates}: ratio {s['ratio']} (target >= 0.3)")
    print(f"{'report (one organisation; region as analyst)':58}{'first ms':>10}{'p50 ms':>10}{'p95 ms':>10}")
    for path, q in result["queries"].items():
        print(f"{path:58}{q['first_ms']:>10}{q['p50_ms']:>10}{q['p95_ms']:>10}")
    worst = max(q["p95_ms"] for q in result["queries"].values())
    print(f"worst p95 {worst} ms (target <= 500)")
    if args.json:
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
