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
and the ratios journey/bare. Also, per request: CPU milliseconds of each process
(Temporal server, nats-server, worker, the callers; closed loop) and history events.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import workflow

# The module defines a workflow, so the sandbox re-imports it: let the rest through.
with workflow.unsafe.imports_passed_through():
    from faststream.nats import NatsBroker
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowHandle
    from temporalio.common import SearchAttributeKey
    from temporalio.worker import Worker

    from shared.contracts.journey import SEARCH_ATTRIBUTES, RestReason, Role
    from shared.events.streams import ensure_streams
    from shared.settings import Settings
    from workflows import client as jc
    from workflows.contracts import Actor, JourneyInput, MilestoneRequest, MoveRequest
    from workflows.worker import SANDBOXED, build_worker, check_search_attributes


# The project root (computed when used: the sandbox forbids it at import).
def _root() -> Path:
    return Path(__file__).resolve().parents[1]


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


KEY = SearchAttributeKey.for_keyword("JourneyPhase")


@workflow.defn
class UpsertWorkflow:
    """The floor for a journey move: a no-op update that keeps one search attribute
    current (every move changes the phase, status or coach attribute)."""

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def upsert(self, n: int) -> int:
        workflow.upsert_search_attributes([KEY.value_set("A" if n % 2 else "B")])
        return n


@dataclass
class JourneyDriver:
    """One journey and where it is in a cycle of legal moves."""

    org: uuid.UUID
    client_id: uuid.UUID
    actor: Actor
    step: int = 0
    # Far enough ahead that no rest-review reminder falls due during the run: every request
    # is then one move and one event (a reminder would add a second event and publish).
    review: Any = field(default_factory=lambda: datetime.now(UTC).date() + timedelta(days=60))

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


async def open_loop(sends: list[Callable[[], Awaitable[None]]], count: int, rate: float) -> list[float]:
    """Requests at a steady ``rate`` whatever the latency; round-robin over ``sends``.
    Returns the latencies (seconds)."""
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
    return latencies


async def run(
    address: str,
    nats_url: str,
    journeys: int,
    moves: int,
    *,
    open_loop_moves: int = 150,
    rounds: int = 3,
    warmup: int = 100,
    sandboxed: bool = SANDBOXED,
    worker_process: bool = True,
    cpu_pids: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Start ``journeys`` journeys and as many baseline workflows, then measure.

    ``moves`` and ``open_loop_moves`` are per kind, split over ``rounds`` rounds that take
    turns between the kinds, so a noisy neighbour on the machine hits all alike.
    ``worker_process``: run the worker in a child process (else in this one).
    ``cpu_pids``: processes (e.g. the servers) whose CPU time per request to report.
    """
    tq = f"bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(temporal_address=address, nats_url=nats_url, temporal_task_queue=tq)
    client = await jc.connect(settings)
    await check_search_attributes(client, settings.temporal_namespace)
    await ensure_streams(nats_url)
    if worker_process:
        # Like production: the worker in its own process, the callers elsewhere.
        # As a module, so that the sandbox can import the baseline workflows.
        argv = [sys.executable, "-m", "bench.journeys", "--worker-only", tq, "--temporal", address]
        argv += ["--nats", nats_url, "--sandboxed" if sandboxed else "--no-sandboxed"]
        proc = await asyncio.create_subprocess_exec(*argv, cwd=_root())
        try:
            pids = {**(cpu_pids or {}), "worker": proc.pid, "callers": os.getpid()}
            measuring = asyncio.create_task(
                _measure(client, tq, journeys, moves, open_loop_moves, rounds, warmup, pids)
            )
            exited = asyncio.create_task(proc.wait())
            await asyncio.wait({measuring, exited}, return_when=asyncio.FIRST_COMPLETED)
            if not measuring.done():
                measuring.cancel()
                raise RuntimeError(f"the worker process exited ({proc.returncode})")
            exited.cancel()
            result = measuring.result()
        finally:
            if proc.returncode is None:
                proc.terminate()
                await proc.wait()
    else:
        broker = NatsBroker(nats_url)
        await broker.start()
        try:
            async with await _worker(client, settings, broker, sandboxed):
                pids = {**(cpu_pids or {}), "worker+callers": os.getpid()}
                result = await _measure(client, tq, journeys, moves, open_loop_moves, rounds, warmup, pids)
        finally:
            await broker.stop()
    result["sandboxed"] = sandboxed
    result["worker_process"] = worker_process
    return result


async def _worker(client: Client, settings: Settings, broker: NatsBroker, sandboxed: bool) -> Worker:
    # The production worker, with the baselines beside the journeys: same pools, same
    # runner, same client (data converter, tracing interceptor).
    return await build_worker(
        client, settings, broker, sandboxed=sandboxed, extra_workflows=[NoopWorkflow, UpsertWorkflow]
    )


async def worker_only(address: str, nats_url: str, task_queue: str, sandboxed: bool) -> None:
    settings = Settings(temporal_address=address, nats_url=nats_url, temporal_task_queue=task_queue)
    client = await jc.connect(settings)
    broker = NatsBroker(nats_url)
    await broker.start()
    try:
        async with await _worker(client, settings, broker, sandboxed):
            await asyncio.Event().wait()
    finally:
        await broker.stop()


Send = Callable[[], Awaitable[None]]


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(
    client: Client,
    tq: str,
    journeys: int,
    moves: int,
    open_loop_moves: int,
    rounds: int,
    warmup: int,
    pids: dict[str, int],
) -> dict[str, Any]:
    org = uuid.uuid4()
    drivers: list[JourneyDriver] = []
    for _ in range(journeys):
        coach = uuid.uuid4()
        d = JourneyDriver(org, uuid.uuid4(), Actor(user_id=coach, role=Role.COACH))
        inp = JourneyInput(organisation_id=org, region_id="bench", client_id=d.client_id, coach_id=coach, actor=d.actor)
        await jc.start_journey(client, inp, task_queue=tq)
        drivers.append(d)
    # Into PROFILING, where the cycle of moves starts.
    await asyncio.gather(
        *(jc.move(client, d.org, d.client_id, MoveRequest(action="advance", actor=d.actor)) for d in drivers)
    )
    noops = [
        await client.start_workflow(NoopWorkflow.run, id=f"bench-noop-{uuid.uuid4()}", task_queue=tq)
        for _ in range(journeys)
    ]
    upserts = [
        await client.start_workflow(UpsertWorkflow.run, id=f"bench-upsert-{uuid.uuid4()}", task_queue=tq)
        for _ in range(journeys)
    ]
    counter = iter(range(10**12))

    def bare(i: int) -> Send:
        async def send() -> None:
            await noops[i].execute_update(NoopWorkflow.noop, next(counter))

        return send

    def upsert(i: int) -> Send:
        async def send() -> None:
            await upserts[i].execute_update(UpsertWorkflow.upsert, next(counter))

        return send

    def journey(i: int) -> Send:
        async def send() -> None:
            await drivers[i].send(client)

        return send

    kinds: dict[str, Callable[[int], Send]] = {"bare": bare, "bare_upsert": upsert, "journey": journey}

    def owned(make: Callable[[int], Send]) -> list[Send]:
        """Caller c owns workflows c, c+20, ...: a journey never has two moves in flight."""
        callers: list[Send] = []
        for c in range(CONCURRENCY):
            mine = [make(i) for i in range(c, journeys, CONCURRENCY)]
            turn = iter(range(10**12))

            async def send(mine: list[Send] = mine, turn: Any = turn) -> None:
                await mine[next(turn) % len(mine)]()

            callers.append(send)
        return callers

    for make in kinds.values():
        await closed_loop(owned(make), warmup)
    closed: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    cpu: dict[str, dict[str, float]] = {k: dict.fromkeys(pids, 0.0) for k in kinds}
    opened: dict[str, list[float]] = {k: [] for k in kinds}
    names = list(kinds)
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for k in order:
            before = {name: _cpu_s(pid) for name, pid in pids.items()}
            closed[k].append(await closed_loop(owned(kinds[k]), moves // rounds))
            for name, pid in pids.items():
                cpu[k][name] += _cpu_s(pid) - before[name]
        for k in order:
            opened[k] += await open_loop(
                [kinds[k](i) for i in range(journeys)], open_loop_moves // rounds, OPEN_LOOP_RATE
            )

    # Every journey's events were published (each main loop drained its queue).
    pending = 0
    for d in drivers:
        pending += (await jc.get_state(client, d.org, d.client_id)).pending_events
    histories = {
        "bare": await _history_per_update(noops[:5]),
        "bare_upsert": await _history_per_update(upserts[:5]),
        "journey": await _history_per_update(
            [client.get_workflow_handle(jc.workflow_id(d.org, d.client_id)) for d in drivers[:5]]
        ),
    }
    for h in noops + upserts:
        await h.terminate()

    result: dict[str, Any] = {"journeys": journeys, "concurrency": CONCURRENCY, "rounds": rounds}
    for k in kinds:
        per_s = [c["per_s"] for c in closed[k]]
        result[k] = {
            "closed_loop_per_s": round(statistics.median(per_s), 1),
            "closed_loop_rounds_per_s": per_s,
            "closed_loop_p50_ms": round(statistics.median(c["p50_ms"] for c in closed[k]), 1),
            "open_loop_requests": len(opened[k]),
            "open_loop_p50_ms": round(statistics.median(opened[k]) * 1000, 1),
            "open_loop_p95_ms": round(_pct(opened[k], 0.95) * 1000, 1),
            "history_events_per_request": histories[k],
            # CPU milliseconds per request, closed loop, by process.
            "cpu_ms_per_request": {
                name: round(1000 * used / sum(int(c["requests"]) for c in closed[k]), 2)
                for name, used in cpu[k].items()
            },
        }
    # Ratios per round (the kinds of one round ran back to back), then the median.
    result["throughput_ratio"] = round(
        statistics.median(j["per_s"] / b["per_s"] for j, b in zip(closed["journey"], closed["bare"], strict=True)), 2
    )
    result["throughput_ratio_vs_bare_upsert"] = round(
        statistics.median(
            j["per_s"] / b["per_s"] for j, b in zip(closed["journey"], closed["bare_upsert"], strict=True)
        ),
        2,
    )
    result["p95_ratio"] = round(result["journey"]["open_loop_p95_ms"] / result["bare"]["open_loop_p95_ms"], 2)
    result["pending_events_after"] = pending
    return result


async def _history_per_update(handles: list[WorkflowHandle[Any, Any]]) -> dict[str, float]:
    """History events per completed update, by type, over these workflows' current runs
    (the start and a journey's first move included: a small overstatement)."""
    counts: Counter[str] = Counter()
    for h in handles:
        async for e in h.fetch_history_events():
            counts[EventType.Name(e.event_type).removeprefix("EVENT_TYPE_")] += 1
    updates = counts["WORKFLOW_EXECUTION_UPDATE_COMPLETED"] or 1
    per = {k: round(v / updates, 2) for k, v in counts.most_common()}
    return {"total": round(sum(counts.values()) / updates, 2), **per}


def _print(result: dict[str, Any]) -> None:
    print(json.dumps(result, indent=2))
    print()
    print(f"{'':28}{'bare update':>14}{'bare+upsert':>14}{'journey move':>14}{'ratio':>8}")
    row = [result[k] for k in ("bare", "bare_upsert", "journey")]
    print(
        f"{'closed loop, 20 callers /s':28}"
        + "".join(f"{r['closed_loop_per_s']:>14}" for r in row)
        + f"{result['throughput_ratio']:>8}"
    )
    print(f"{'open loop 10/s, p50 ms':28}" + "".join(f"{r['open_loop_p50_ms']:>14}" for r in row))
    print(
        f"{'open loop 10/s, p95 ms':28}"
        + "".join(f"{r['open_loop_p95_ms']:>14}" for r in row)
        + f"{result['p95_ratio']:>8}"
    )
    print(f"journey/bare+upsert throughput: {result['throughput_ratio_vs_bare_upsert']}")
    for name in row[0]["cpu_ms_per_request"]:
        cpu = "".join(f"{r['cpu_ms_per_request'][name]:>14}" for r in row)
        print(f"{'CPU ms/request, ' + name:28}{cpu}")
    total = "".join(f"{round(sum(r['cpu_ms_per_request'].values()), 2):>14}" for r in row)
    print(f"{'CPU ms/request, all':28}{total}")
    events = "".join(f"{r['history_events_per_request']['total']:>14}" for r in row)
    print(f"{'history events/request':28}{events}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def local_servers(base: Path, in_memory: bool = False) -> Iterator[tuple[str, str, dict[str, int]]]:
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
            yield address, url, {"temporal": procs[0].pid, "nats": procs[1].pid}
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
    parser.add_argument("--moves", type=int, default=1500, help="requests per kind, closed loop")
    parser.add_argument("--open-loop", type=int, default=150, help="requests per kind at 10/s (open loop)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sandboxed", action=argparse.BooleanOptionalAction, default=SANDBOXED)
    parser.add_argument("--in-memory", action="store_true", help="Temporal without its SQLite file")
    parser.add_argument("--in-process", action="store_true", help="the worker in the callers' process")
    parser.add_argument("--worker-only", metavar="TASK_QUEUE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_only:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(worker_only(args.temporal, args.nats, args.worker_only, args.sandboxed))
        return
    kw: dict[str, Any] = {
        "open_loop_moves": args.open_loop,
        "rounds": args.rounds,
        "sandboxed": args.sandboxed,
        "worker_process": not args.in_process,
    }
    if args.temporal and args.nats:
        _print(asyncio.run(run(args.temporal, args.nats, args.journeys, args.moves, **kw)))
        return
    with tempfile.TemporaryDirectory() as tmp, local_servers(Path(tmp), args.in_memory) as (address, url, pids):
        _print(asyncio.run(run(address, url, args.journeys, args.moves, cpu_pids=pids, **kw)))


if __name__ == "__main__":
    main()
