"""Scale: the load of one wellbeing region (hyvinvointialue), run at 1x, 10x and 100x on the
cluster topology, then doubled until it saturates.

    polku bench region [--steps 1,10,100] [--duration 60] [--saturate] [--coaches 10]
    .venv/bin/python -m bench.region --help

The load model (figures from ../shared/domain/IPS.md unless said otherwise):

- organisations (service providers): 5 per region. IPS.md: a deployment holds several
  organisations across several regions (5 assumed).
- coaches: 200 full-time per region. Issue #9: "a region has hundreds of coaches" (IPS.md
  gives no count).
- active clients: 4,000 per region = 200 coaches x the caseload of at most 20 per full-time
  coach (quality criterion 1).
- client meetings: 2 per coach per working day. IPS.md: "about 1-3 client meetings a day
  per coach". Each is a ``contact_made`` milestone on the journey (a workflow update).
- employer contacts: 1.2 per coach per working day. The fidelity item "job development,
  frequency" gives the top score for 6 face-to-face contacts per coach per week.
- journey moves: 1 per coach per working day. A journey lasts about a year (Helsinki pilot:
  two coaches serve about 40 clients a year, so a caseload turns over yearly) and makes about
  10 moves in it (4 advances, two rest/resume pairs, a step back, a close):
  20 clients x 10 moves / 230 working days = 0.87, rounded up.
- new clients: 0.09 per coach per working day: 20 a year per coach (the same turnover) over
  230 working days.
- journey reads: 3 per coach per working day: the coach opens the journey before each
  meeting and move.

So one region's working day is 200 moves, 400 meetings, 240 employer contacts, 17 new
clients and 600 reads: 1,457 requests, 857 of them writes, of which 600 go through the
ClientJourney workflow (moves and meetings). The working day is 8 hours and the busiest hour
carries twice the average (assumed): the region's peak rate is 1,457 / 8 h x 2 = 364 requests
an hour, 0.10 a second. ``1x`` is that rate; ``100x`` is 10 requests a second, roughly five
times all 21 regions at their peak together (21x).

A step offers ``multiplier x`` the peak rate for ``--duration`` s, open loop (requests start on
schedule whether or not earlier ones finished), in the mix above, against a fixed pool of
clients (``--orgs`` x ``--coaches`` x 10; the population is not multiplied: 400,000 journeys
would take hours to create, and one journey's cost does not depend on how many others exist,
apart from Temporal's and the databases' cache sizes). Each client has at most one request at
a time, so every move is legal.

Per step it prints: offered and achieved throughput, p50/p95 latency of moves (and of all
requests), errors, the reporting lag (a move's acknowledgement to its fact in reporting's
tables, sampled every 2 s; the largest backlog of reporting's consumers; how long reporting
took to catch up after the step) and the CPU seconds per part of the cluster. A step is
saturated when it achieves under 90% of the offered rate, more than 1% of requests fail, or
the move p95 is over 1 s; ``--saturate`` goes on doubling after the last step until one is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.cluster import LocalCluster
from bench.load import (
    CASELOAD,
    Coach,
    OrgSetup,
    auth,
    contact_body,
    create_employers,
    create_org,
    login,
    milestone_body,
    next_move,
    percentile,
    register_clients,
    reporting_pending,
)

# One region's working day (see the module docstring).
COACHES_PER_REGION = 200
PER_COACH_PER_DAY: dict[str, float] = {
    "move": 1.0,
    "meeting": 2.0,
    "employer_contact": 1.2,
    "new_client": 0.09,
    "read": 3.0,
}
WORKING_HOURS = 8.0
PEAK_FACTOR = 2.0
REGIONS = 21


def region_day() -> dict[str, float]:
    return {k: v * COACHES_PER_REGION for k, v in PER_COACH_PER_DAY.items()}


def peak_rate() -> float:
    """Requests per second of one region in its busiest hour."""
    return sum(region_day().values()) / (WORKING_HOURS * 3600) * PEAK_FACTOR


MIX: list[tuple[str, float]] = [(k, v / sum(PER_COACH_PER_DAY.values())) for k, v in PER_COACH_PER_DAY.items()]
SATURATED_SHARE = 0.9
SATURATED_ERRORS = 0.01
SATURATED_P95_S = 1.0
REQUEST_TIMEOUT_S = 30.0


@dataclass
class StepResult:
    multiplier: float
    offered_per_s: float
    duration_s: float
    requests: int = 0
    ok: int = 0
    errors: int = 0
    late: int = 0  # requests that could not start on time (no free client)
    achieved_per_s: float = 0.0
    moves_per_s: float = 0.0
    writes_per_s: float = 0.0
    move_p50_ms: float = 0.0
    move_p95_ms: float = 0.0
    all_p95_ms: float = 0.0
    lag_p50_ms: float | None = None
    lag_max_ms: float | None = None
    backlog_max: int | None = None
    catch_up_s: float | None = None
    cpu_s: dict[str, float] = field(default_factory=dict)
    saturated: bool = False
    why: str = ""

    def line(self) -> str:
        lag = "n/a" if self.lag_p50_ms is None else f"{self.lag_p50_ms:.0f}/{self.lag_max_ms:.0f} ms"
        cpu_total = sum(self.cpu_s.values()) / max(self.duration_s, 1e-9)
        top = sorted(self.cpu_s.items(), key=lambda kv: -kv[1])[:4]
        cpu = ", ".join(f"{k} {v / max(self.duration_s, 1e-9) * 100:.0f}%" for k, v in top)
        return (
            f"{self.multiplier:>6g}x  offered {self.offered_per_s:6.2f}/s  achieved {self.achieved_per_s:6.2f}/s "
            f"(moves {self.moves_per_s:5.2f}/s, writes {self.writes_per_s:5.2f}/s)  "
            f"move p50 {self.move_p50_ms:5.0f} ms p95 {self.move_p95_ms:5.0f} ms  all p95 {self.all_p95_ms:5.0f} ms  "
            f"errors {self.errors}/{self.requests}  reporting lag p50/max {lag}, backlog max {self.backlog_max}, "
            f"caught up in {self.catch_up_s if self.catch_up_s is None else round(self.catch_up_s, 1)} s  "
            f"CPU {cpu_total * 100:.0f}% of a core ({cpu})" + (f"  SATURATED: {self.why}" if self.saturated else "")
        )


@dataclass
class Pool:
    """The clients the load works on, each with its last known journey state."""

    orgs: list[OrgSetup]
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    coach_of: dict[str, Coach] = field(default_factory=dict)
    busy: set[str] = field(default_factory=set)
    moves: dict[str, int] = field(default_factory=dict)

    def free_client(self, rng: random.Random) -> str | None:
        candidates = [c for c in self.coach_of if c not in self.busy]
        return rng.choice(candidates) if candidates else None


def _pgid_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of every process, summed by process group."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                raw = fh.read().decode(errors="replace")
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        pgrp, utime, stime = int(fields[2]), int(fields[11]), int(fields[12])
        out[pgrp] = out.get(pgrp, 0.0) + (utime + stime) / tick
    return out


class RegionBench:
    def __init__(self, cluster: LocalCluster, *, orgs: int, coaches: int, seed: int = 9) -> None:
        self.cluster = cluster
        self.settings = cluster.settings
        self.n_orgs, self.n_coaches = orgs, coaches
        self.rng = random.Random(seed)
        self.pool: Pool | None = None
        self._tag = 0

    async def setup(self, http: httpx.AsyncClient) -> None:
        orgs = []
        for i in range(self.n_orgs):
            org = await create_org(self.settings, f"Alue {i} {uuid.uuid4().hex[:4]}", "kymenlaakso", self.n_coaches)
            for who in [*org.coaches, org.coordinator]:
                await login(http, who)
            # Half a caseload: the other half takes the new clients of the runs.
            await register_clients(http, org, per_coach=CASELOAD // 2)
            await create_employers(http, org, 3)
            orgs.append(org)
        pool = Pool(orgs)
        for org in orgs:
            for client_id, coach in org.clients.items():
                pool.coach_of[client_id] = coach
                pool.states[client_id] = {"status": "ACTIVE", "phase": "INTAKE"}
                pool.moves[client_id] = 0
        self.pool = pool

    def _org_of(self, client_id: str) -> OrgSetup:
        assert self.pool is not None
        return next(o for o in self.pool.orgs if client_id in o.clients)

    async def one(self, http: httpx.AsyncClient, kind: str, client_id: str) -> tuple[bool, float]:
        """One request of the mix on ``client_id``; (succeeded, seconds)."""
        assert self.pool is not None
        pool = self.pool
        coach = pool.coach_of[client_id]
        org = self._org_of(client_id)
        t0 = time.monotonic()
        try:
            if kind == "move":
                n = pool.moves[client_id]
                pool.moves[client_id] = n + 1
                self._tag += 1
                body = {**next_move(pool.states[client_id], n), "reason_ref": f"region-{self._tag}"}
                r = await http.post(f"/api/v1/journeys/{client_id}/moves", json=body, headers=auth(coach))
                if r.status_code == 200:
                    pool.states[client_id] = r.json()
                elif r.status_code == 409:  # our view was stale: read it again
                    s = await http.get(f"/api/v1/journeys/{client_id}", headers=auth(coach))
                    if s.status_code == 200:
                        pool.states[client_id] = s.json()
                ok = r.status_code == 200
            elif kind == "meeting":
                r = await http.post(
                    f"/api/v1/journeys/{client_id}/milestones", json=milestone_body(), headers=auth(coach)
                )
                ok = r.status_code == 200
            elif kind == "employer_contact":
                body = contact_body(self.rng.choice(org.employers))
                r = await http.post("/api/v1/employer-contacts", json=body, headers=auth(org.coordinator))
                ok = r.status_code in (200, 201)
            elif kind == "new_client":
                body = {"coach_id": str(coach.id), "first_name": "Uusi", "last_name": "Asiakas"}
                r = await http.post(
                    "/api/v1/clients", json={**body, "consent": {"processing": True}}, headers=auth(coach)
                )
                ok = r.status_code in (200, 201)
            else:
                r = await http.get(f"/api/v1/journeys/{client_id}/timeline", headers=auth(coach))
                ok = r.status_code == 200
        except httpx.HTTPError:
            ok = False
        return ok, time.monotonic() - t0

    async def step(self, http: httpx.AsyncClient, multiplier: float, duration_s: float) -> StepResult:
        assert self.pool is not None
        pool = self.pool
        rate = peak_rate() * multiplier
        res = StepResult(multiplier, rate, duration_s)
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        latencies: dict[str, list[float]] = {k: [] for k in kinds}
        oks: dict[str, int] = dict.fromkeys(kinds, 0)
        acked_moves: list[tuple[str, int, float]] = []  # client, seq, acked at
        tasks: set[asyncio.Task[None]] = set()

        async def run(kind: str, client_id: str) -> None:
            ok, seconds = await self.one(http, kind, client_id)
            pool.busy.discard(client_id)
            res.requests += 1
            if ok:
                oks[kind] += 1
                latencies[kind].append(seconds)
                if kind == "move":
                    state = pool.states[client_id]
                    acked_moves.append((client_id, state["timeline_length"] - 1, time.monotonic()))
            else:
                res.errors += 1

        stop_sampling = asyncio.Event()
        backlog: list[int] = []
        lags: list[float] = []
        sampler = asyncio.create_task(self._sample(acked_moves, lags, backlog, stop_sampling))
        cpu_before = _pgid_cpu()
        started = time.monotonic()
        n = 0
        # Open loop: request n starts at started + n / rate (a Poisson process would add noise).
        while True:
            at = started + n / rate
            if at - started >= duration_s:
                break
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            kind = self.rng.choices(kinds, weights)[0]
            client_id = pool.free_client(self.rng)
            if client_id is None:
                res.late += 1
                res.errors += 1
                res.requests += 1
            else:
                pool.busy.add(client_id)
                task = asyncio.create_task(run(kind, client_id))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            n += 1
        if tasks:
            await asyncio.wait(set(tasks), timeout=REQUEST_TIMEOUT_S * 2)
        elapsed = time.monotonic() - started
        cpu_after = _pgid_cpu()
        t_end = time.monotonic()
        res.catch_up_s = await self._catch_up([(c, s) for c, s, _ in acked_moves])
        if res.catch_up_s is not None:
            res.catch_up_s = time.monotonic() - t_end
        stop_sampling.set()
        await sampler
        for name, proc in self.cluster.procs.items():
            before, after = cpu_before.get(proc.pgid, 0.0), cpu_after.get(proc.pgid, 0.0)
            res.cpu_s[name] = max(0.0, after - before)
        res.cpu_s["load generator"] = max(0.0, cpu_after.get(os.getpgrp(), 0.0) - cpu_before.get(os.getpgrp(), 0.0))
        res.duration_s = elapsed
        res.ok = sum(oks.values())
        res.achieved_per_s = res.ok / elapsed
        res.moves_per_s = oks["move"] / elapsed
        res.writes_per_s = (res.ok - oks["read"]) / elapsed
        moves_ms = [s * 1000 for s in latencies["move"]]
        all_ms = [s * 1000 for v in latencies.values() for s in v]
        res.move_p50_ms, res.move_p95_ms = percentile(moves_ms, 50), percentile(moves_ms, 95)
        res.all_p95_ms = percentile(all_ms, 95)
        if lags:
            res.lag_p50_ms, res.lag_max_ms = percentile(lags, 50) * 1000, max(lags) * 1000
        res.backlog_max = max(backlog) if backlog else None
        whys = []
        if res.achieved_per_s < SATURATED_SHARE * rate:
            whys.append(f"achieved {res.achieved_per_s / rate * 100:.0f}% of the offered rate")
        if res.requests and res.errors / res.requests > SATURATED_ERRORS:
            whys.append(f"{res.errors} errors ({res.late} could not start: every client busy)")
        if moves_ms and res.move_p95_ms > SATURATED_P95_S * 1000:
            whys.append(f"move p95 {res.move_p95_ms:.0f} ms")
        res.saturated, res.why = bool(whys), "; ".join(whys)
        return res

    async def _sample(
        self, acked: list[tuple[str, int, float]], lags: list[float], backlog: list[int], stop: asyncio.Event
    ) -> None:
        """Every 2 s: reporting's backlog, and how long the next acknowledged move takes to
        reach reporting's facts."""
        from services.reporting.models import JourneyFact
        from shared.db import Database

        db = Database(self.settings, "reporting", immediate=False)
        try:
            while not stop.is_set():
                pending = await reporting_pending(self.cluster.nats_urls)
                if pending is not None:
                    backlog.append(pending)
                # The next move acknowledged from now on (waiting at most 10 s for one), so
                # the lag is measured from its acknowledgement, not from this sample.
                n0 = len(acked)
                for _ in range(500):
                    if len(acked) > n0 or stop.is_set():
                        break
                    await asyncio.sleep(0.02)
                if len(acked) > n0:
                    client_id, seq, acked_at = acked[n0]
                    for _ in range(300):
                        async with db.session(cross_tenant=True) as s:
                            found = await s.scalar(
                                select(func.count())
                                .select_from(JourneyFact)
                                .where(JourneyFact.client_id == uuid.UUID(client_id), JourneyFact.seq == seq)
                            )
                        if found:
                            lags.append(time.monotonic() - acked_at)
                            break
                        await asyncio.sleep(0.05)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2.0)
        finally:
            await db.dispose()

    async def _catch_up(self, moves: list[tuple[str, int]], limit_s: float = 300.0) -> float | None:
        """Seconds until reporting holds every acknowledged move of the step and its
        consumers have nothing pending; None past ``limit_s``."""
        from services.reporting.models import JourneyFact
        from shared.db import Database

        want = {(c, s) for c, s in moves}
        clients = sorted({uuid.UUID(c) for c, _ in moves})
        db = Database(self.settings, "reporting", immediate=False)
        started = time.monotonic()
        try:
            while time.monotonic() - started < limit_s:
                have: set[tuple[str, int]] = set()
                async with db.session(cross_tenant=True) as s:
                    for i in range(0, len(clients), 500):
                        rows = await s.execute(
                            select(JourneyFact.client_id, JourneyFact.seq).where(
                                JourneyFact.client_id.in_(clients[i : i + 500])
                            )
                        )
                        have |= {(str(c), int(q)) for c, q in rows if q is not None}
                if want <= have and await reporting_pending(self.cluster.nats_urls) == 0:
                    return time.monotonic() - started
                await asyncio.sleep(0.5)
        finally:
            await db.dispose()
        return None


async def run_region(
    steps: list[float],
    *,
    duration_s: float = 60.0,
    saturate: bool = False,
    orgs: int = 5,
    coaches: int = 2,
    max_multiplier: float = 3200.0,
    data_dir: Path | None = None,
    keep: bool = False,
    out: Any = None,
) -> list[StepResult]:
    out = out or sys.stdout
    own = data_dir is None
    base = Path(tempfile.mkdtemp(prefix="polku-region-")) if data_dir is None else data_dir
    base.chmod(0o755)
    cluster = LocalCluster(base)
    results: list[StepResult] = []
    try:
        t0 = time.monotonic()
        await cluster.start()
        bench = RegionBench(cluster, orgs=orgs, coaches=coaches)
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=cluster.origin, timeout=REQUEST_TIMEOUT_S, limits=limits) as http:
            await bench.setup(http)
            assert bench.pool is not None
            day = region_day()
            print(
                f"region model: {COACHES_PER_REGION} coaches, {COACHES_PER_REGION * CASELOAD} active clients; a day of "
                + ", ".join(f"{v:.0f} {k}" for k, v in day.items())
                + f"; peak {peak_rate():.3f} requests/s (1x). Pool: {len(bench.pool.coach_of)} clients in {orgs} "
                f"organisations; cluster up and set up in {time.monotonic() - t0:.0f} s",
                file=out,
                flush=True,
            )
            plan = list(steps)
            i = 0
            while i < len(plan):
                result = await bench.step(http, plan[i], duration_s)
                results.append(result)
                print(result.line(), file=out, flush=True)
                if i == len(plan) - 1 and saturate and not result.saturated and plan[i] * 2 <= max_multiplier:
                    plan.append(plan[i] * 2)
                i += 1
        first = next((r for r in results if r.saturated), None)
        if first is None:
            print(f"no step saturated (up to {results[-1].multiplier:g}x)", file=out)
        else:
            print(
                f"saturates at {first.multiplier:g}x ({first.offered_per_s:.1f} requests/s offered): {first.why}; "
                f"= {first.multiplier / REGIONS:.1f} x all {REGIONS} regions at their peak",
                file=out,
            )
        return results
    finally:
        await cluster.stop()
        if own and not keep:
            shutil.rmtree(base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polku bench region", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", default="1,10,100", help="multipliers of a region's peak load")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per step")
    parser.add_argument("--saturate", action="store_true", help="go on doubling until a step saturates")
    parser.add_argument("--orgs", type=int, default=5, help="organisations in the client pool")
    parser.add_argument(
        "--coaches", type=int, default=2, help=f"coaches per organisation ({CASELOAD // 2} clients each)"
    )
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args(argv)
    steps = [float(s) for s in args.steps.split(",") if s.strip()]
    results = asyncio.run(
        run_region(
            steps,
            duration_s=args.duration,
            saturate=args.saturate,
            orgs=args.orgs,
            coaches=args.coaches,
            data_dir=args.data_dir,
            keep=args.keep,
        )
    )
    if args.json:
        print(json.dumps([asdict(r) for r in results]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
