"""Benchmark: journey moves against bare Temporal Updates on the same server.

    .venv/bin/python bench/journeys.py [--journeys 40] [--moves 2000] [--open-loop 150]
    .venv/bin/python bench/journeys.py --temporal 127.0.0.1:7233 --nats nats://127.0.0.1:4222

Without --temporal/--nats it starts a Temporal dev server (SQLite file, WAL, as
``polku dev`` does) and a nats-server in a temporary directory.

Measures, for ClientJourney moves (update + state change + event published to JetStream
by the main loop) and for a no-op Update on a no-op workflow, with the same client,
data converter, interceptors and worker:
- throughput with 20 concurrent callers in a closed loop (each caller owns its own
  journeys, so every move is legal);
- p50/p95 latency at a steady open-loop 10 requests/s;
and the ratios journey/bare.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio import workflow

# The module defines a workflow, so the sandbox re-imports it: let the rest through.
with workflow.unsafe.imports_passed_through():
    from faststream.nats import NatsBroker
    from temporalio.client import Client
    from temporalio.worker import Worker

    from shared.contracts.journey import SEARCH_ATTRIBUTES, RestReason, Role
    from shared.events.publisher import EventPublisher
    from shared.events.streams import ensure_streams
    from shared.settings import Settings
    from workflows import client as jc
    from workflows.activities import JourneyActivities
    from workflows.contracts import Actor, JourneyInput, MilestoneRequest, MoveRequest
    from workflows.journey import ClientJourney
    from workflows.worker import check_search_attributes

CONCURRENCY = 20
OPEN_LOOP_RATE = 10.0


@workflow.defn
class NoopWorkflow:
    """The baseline: an update that does nothing, on a workflow that waits forever."""

    def __init__(self) -> None:
        self._n = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def noop(self, n: int) -> int:
        self._n += 1
        return n


@dataclass
class JourneyDriver:
    """One journey and where it is in a cycle of legal moves."""

    org: uuid.UUID
    client_id: uuid.UUID
    actor: Actor
    step: int = 0
    review: Any = field(default_factory=lambda: datetime.now(UTC).date())

    # From PROFILING: every request in the cycle is legal, and it ends where it began.
    def next_request(self) -> MoveRequest | MilestoneRequest:
        cycle = self.step % 5
        self.step += 1
        if cycle == 0:
            return MoveRequest(action="advance", actor=self.actor)
        if cycle == 1:
            return MoveRequest(action="rest", reason=RestReason.OTHER, review_date=self.review, actor=self.actor)
        if cycle == 2:
            return MoveRequest(action="resume", actor=self.actor)
        if cycle == 3:
            return MilestoneRequest(
                kind="contact_made", occurred_at=datetime.now(UTC), place="community", actor=self.actor
            )
        return MoveRequest(action="step_back", actor=self.actor)

    async def send(self, client: Client) -> None:
        req = self.next_request()
        if isinstance(req, MoveRequest):
            await jc.move(client, self.org, self.client_id, req)
        else:
            await jc.record_milestone(client, self.org, self.client_id, req)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def closed_loop(callers: list[Callable[[], Awaitable[None]]], total: int) -> dict[str, float]:
    """``len(callers)`` callers, each sending its next request when the last returns."""
    remaining = total
    latencies: list[float] = []

    async def caller(send: Callable[[], Awaitable[None]]) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            t = time.perf_counter()
            await send()
            latencies.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in callers))
    elapsed = time.perf_counter() - t0
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(_pct(latencies, 0.95) * 1000, 1),
    }


async def open_loop(sends: list[Callable[[], Awaitable[None]]], count: int, rate: float) -> dict[str, float]:
    """Requests at a steady ``rate`` whatever the latency; round-robin over ``sends``."""
    latencies: list[float] = []
    tasks = []

    async def one(send: Callable[[], Awaitable[None]]) -> None:
        t = time.perf_counter()
        await send()
        latencies.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    for i in range(count):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(sends[i % len(sends)])))
    await asyncio.gather(*tasks)
    return {
        "requests": len(latencies),
        "rate_per_s": rate,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p95_ms": round(_pct(latencies, 0.95) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
    }


async def run(
    address: str,
    nats_url: str,
    journeys: int,
    moves: int,
    *,
    open_loop_moves: int = 150,
    warmup: int = 100,
) -> dict[str, Any]:
    """Start ``journeys`` journeys and as many no-op workflows, then measure both."""
    tq = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(temporal_address=address, nats_url=nats_url, temporal_task_queue=tq)
    client = await jc.connect(settings)
    await check_search_attributes(client, settings.temporal_namespace)
    await ensure_streams(nats_url)
    broker = NatsBroker(nats_url)
    await broker.start()
    try:
        # The journey worker's options, plus the baseline workflow: same process, same pools.
        worker = Worker(
            client,
            task_queue=tq,
            workflows=[ClientJourney, NoopWorkflow],
            activities=[JourneyActivities(EventPublisher(broker)).publish_events],
        )
        async with worker:
            return await _measure(client, tq, journeys, moves, open_loop_moves, warmup)
    finally:
        await broker.stop()


async def _measure(
    client: Client, tq: str, journeys: int, moves: int, open_loop_moves: int, warmup: int
) -> dict[str, Any]:
    org = uuid.uuid4()
    drivers: list[JourneyDriver] = []
    for _ in range(journeys):
        coach = uuid.uuid4()
        d = JourneyDriver(org, uuid.uuid4(), Actor(user_id=coach, role=Role.COACH))
        inp = JourneyInput(organisation_id=org, region_id="bench", client_id=d.client_id, coach_id=coach, actor=d.actor)
        await jc.start_journey(client, inp, task_queue=tq)
        drivers.append(d)
    await asyncio.gather(
        *(jc.move(client, d.org, d.client_id, MoveRequest(action="advance", actor=d.actor)) for d in drivers)
    )

    noops = [
        await client.start_workflow(NoopWorkflow.run, id=f"bench-noop-{uuid.uuid4()}", task_queue=tq)
        for _ in range(journeys)
    ]
    counter = iter(range(10**9))

    def noop_send(i: int) -> Callable[[], Awaitable[None]]:
        async def send() -> None:
            await noops[i].execute_update(NoopWorkflow.noop, next(counter))

        return send

    def journey_send(i: int) -> Callable[[], Awaitable[None]]:
        async def send() -> None:
            await drivers[i].send(client)

        return send

    # Each caller owns journeys i, i+20, ...: a journey never has two moves in flight.
    def owned(make: Callable[[int], Callable[[], Awaitable[None]]]) -> list[Callable[[], Awaitable[None]]]:
        callers: list[Callable[[], Awaitable[None]]] = []
        for c in range(CONCURRENCY):
            mine = [make(i) for i in range(c, journeys, CONCURRENCY)]
            rr = iter(range(10**9))

            async def send(mine: list[Callable[[], Awaitable[None]]] = mine, rr: Any = rr) -> None:
                await mine[next(rr) % len(mine)]()

            callers.append(send)
        return callers

    await closed_loop(owned(noop_send), warmup)
    await closed_loop(owned(journey_send), warmup)
    bare_tp = await closed_loop(owned(noop_send), moves)
    journey_tp = await closed_loop(owned(journey_send), moves)
    bare_lat = await open_loop([noop_send(i) for i in range(journeys)], open_loop_moves, OPEN_LOOP_RATE)
    journey_lat = await open_loop([journey_send(i) for i in range(journeys)], open_loop_moves, OPEN_LOOP_RATE)

    # Every journey's events were published (the main loop drained its queue).
    pending = 0
    for d in drivers:
        pending += (await jc.get_state(client, d.org, d.client_id)).pending_events
    for h in noops:
        await h.terminate()
    return {
        "journeys": journeys,
        "concurrency": CONCURRENCY,
        "bare": {"closed_loop": bare_tp, "open_loop": bare_lat},
        "journey": {"closed_loop": journey_tp, "open_loop": journey_lat},
        "throughput_ratio": round(journey_tp["per_s"] / bare_tp["per_s"], 2),
        "p95_ratio": round(journey_lat["p95_ms"] / bare_lat["p95_ms"], 2),
        "journey_p95_ms": journey_lat["p95_ms"],
        "pending_events_after": pending,
    }


def _print(result: dict[str, Any]) -> None:
    b, j = result["bare"], result["journey"]
    print(f"{'':24}{'bare update':>14}{'journey move':>14}{'ratio':>8}")
    print(
        f"{'closed loop, 20 callers':24}{b['closed_loop']['per_s']:>12}/s{j['closed_loop']['per_s']:>12}/s"
        f"{result['throughput_ratio']:>8}"
    )
    print(f"{'open loop 10/s, p50':24}{b['open_loop']['p50_ms']:>11} ms{j['open_loop']['p50_ms']:>11} ms")
    print(
        f"{'open loop 10/s, p95':24}{b['open_loop']['p95_ms']:>11} ms{j['open_loop']['p95_ms']:>11} ms"
        f"{result['p95_ratio']:>8}"
    )
    print(json.dumps(result, indent=2))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def local_servers(base: Path, in_memory: bool = False) -> Iterator[tuple[str, str]]:
    """A Temporal dev server on a SQLite file with WAL (like ``polku dev``; or in memory)
    and nats-server."""
    venv_bin = Path(sys.executable).parent
    tport, nport = _free_port(), _free_port()
    temporal_args = [
        str(venv_bin / "temporal"), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
        "--port", str(tport),
        "--dynamic-config-value", "frontend.enableServerVersionCheck=false", "--log-level", "warn",
    ]  # fmt: skip
    if not in_memory:
        temporal_args += [
            "--db-filename", str(base / "temporal.db"),
            "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
        ]  # fmt: skip
    for name, kind in SEARCH_ATTRIBUTES.items():
        temporal_args += ["--search-attribute", f"{name}={kind}"]
    nats_args = [str(venv_bin / "nats-server"), "-js", "-sd", str(base / "nats"), "-a", "127.0.0.1", "-p", str(nport)]
    with (base / "servers.log").open("wb") as log:
        procs = [subprocess.Popen(a, stdout=log, stderr=log) for a in (temporal_args, nats_args)]
        try:
            address, url = f"127.0.0.1:{tport}", f"nats://127.0.0.1:{nport}"
            asyncio.run(_wait_ready(address, url))
            yield address, url
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(15)


async def _wait_ready(address: str, url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            await Client.connect(address)
            await ensure_streams(url)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--temporal", help="address of a running Temporal server with the search attributes")
    parser.add_argument("--nats", help="URL of a running nats-server with JetStream")
    parser.add_argument("--journeys", type=int, default=40)
    parser.add_argument("--moves", type=int, default=2000, help="requests per closed-loop measurement")
    parser.add_argument("--open-loop", type=int, default=150, help="requests per open-loop measurement")
    args = parser.parse_args()
    if args.temporal and args.nats:
        _print(asyncio.run(run(args.temporal, args.nats, args.journeys, args.moves, open_loop_moves=args.open_loop)))
        return
    with tempfile.TemporaryDirectory() as tmp, local_servers(Path(tmp)) as (address, url):
        _print(asyncio.run(run(address, url, args.journeys, args.moves, open_loop_moves=args.open_loop)))


if __name__ == "__main__":
    main()
