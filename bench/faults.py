"""Fault test: a steady load of coach moves and employer events through the cluster
topology while parts of it fail; afterwards nothing acknowledged is lost or counted twice.

    polku bench faults [--lanes 20] [--interval 4] [--warmup 15] [--settle 10] [--nats-down 10]
    .venv/bin/python -m bench.faults --help

It starts ``polku dev --cluster``'s topology as local processes (bench/cluster.py: Temporal
dev server on its SQLite file, three clustered NATS nodes with three stream replicas,
PostgreSQL, each service in its own process, two workers, the proxy origin), sets up one
organisation, and drives through the origin, as callers do:

- journey moves: ``--lanes`` clients, each moved one move at a time, a move every
  ``--interval`` s (advance, rest, resume, step back: always legal), every move tagged
  with a unique ``reason_ref`` so its timeline entry can be found;
- employer events: an employer contact every ``--interval`` / 4 s (the employer service's
  outbox publishes ``employer_contact.recorded``).

After ``--warmup`` s, one fault at a time, each followed by ``--settle`` s of plain load:
1. ``worker``: SIGKILL one of the two workers; the other takes over. Then it is started
   again, as an orchestrator would.
2. ``nats``: SIGKILL the NATS node every process connected to first, ``--nats-down`` s
   later start it again on its store.
3. ``temporal``: restart the Temporal dev server on the same ``temporal.db``: every
   journey survives.
4. ``reporting``: restart the reporting service, whose consumers project the events.
Both restarts are crashes (SIGKILL, then start) unless ``--graceful`` (SIGTERM, then start).

For each fault it measures, from the moment of the fault:
- ``service``: every lane had a move acknowledged that it sent after the fault, an employer
  contact sent after the fault was acknowledged, and reporting holds both (the whole path
  works again);
- ``healed``: that, and the part is back (the NATS node rejoined with every stream replica
  current, Temporal answers, the reporting service is ready; a killed worker polls again).

Then the load stops and the driver waits until reporting has caught up, and checks:
- every acknowledged move is in its journey's timeline exactly once (by its tag) and its
  event is in reporting's facts exactly once (same client, timeline seq and event id);
- every move in any timeline is in reporting once, and reporting holds no move that is
  not in a timeline (a move whose response was lost in a fault but that took effect is
  counted as "applied unacknowledged": it must still be in reporting once);
- every employer contact the employer service committed (acknowledged or not) is in
  reporting once, one applied event per contact;
- ``polku audit verify``: the audit hash chains are intact.

It prints moves sent, acknowledged, found, duplicates, lost, and each fault's times, and
exits 1 if anything was lost or counted twice, or a fault did not heal.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.cluster import LocalCluster
from bench.load import (
    Coach,
    OrgSetup,
    auth,
    contact_body,
    contact_counts,
    create_employers,
    create_org,
    has_fact,
    login,
    next_move,
    register_clients,
    reporting_facts,
    reporting_pending,
)

FAULTS = ("worker", "nats", "temporal", "reporting")
HEAL_LIMIT_S = 180.0
DRAIN_LIMIT_S = 180.0
MOVE_TIMEOUT_S = 20.0


@dataclass
class FaultConfig:
    lanes: int = 20
    interval_s: float = 4.0  # between one lane's moves
    warmup_s: float = 15.0
    settle_s: float = 10.0
    nats_down_s: float = 10.0
    faults: tuple[str, ...] = FAULTS
    # Restarts of Temporal and reporting as crashes (SIGKILL, then start) rather than graceful
    # stops (SIGTERM): a crashed consumer leaves applied but unacknowledged events behind.
    crash_restarts: bool = True
    keep: bool = False  # keep the data directory
    quiet: bool = False


@dataclass
class MoveRecord:
    lane: int
    client_id: str
    tag: str
    action: str
    sent_at: float
    outcome: str = "pending"  # acked, rejected, failed
    status: int | None = None
    seq: int | None = None
    done_at: float | None = None


@dataclass
class ContactRecord:
    tag: str
    sent_at: float
    outcome: str = "pending"
    contact_id: str | None = None
    done_at: float | None = None


@dataclass
class FaultTiming:
    fault: str
    what: str
    service_s: float | None = None
    healed_s: float | None = None
    note: str = ""


@dataclass
class FaultReport:
    moves_sent: int = 0
    moves_acked: int = 0
    moves_rejected: int = 0
    moves_failed: int = 0
    moves_found: int = 0
    moves_applied_unacked: int = 0
    duplicates: int = 0
    lost: int = 0
    lost_detail: list[str] = field(default_factory=list)
    duplicate_detail: list[str] = field(default_factory=list)
    contacts_sent: int = 0
    contacts_acked: int = 0
    contacts_failed: int = 0
    contacts_found: int = 0
    contacts_committed: int = 0
    contacts_lost: int = 0
    contacts_duplicates: int = 0
    audit_ok: bool = False
    audit_output: str = ""
    faults: list[FaultTiming] = field(default_factory=list)
    restarted_by_supervisor: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.duplicates == 0
            and self.contacts_lost == 0
            and self.contacts_duplicates == 0
            and self.moves_found == self.moves_acked
            and self.contacts_found == self.contacts_acked
            and self.audit_ok
            and all(f.healed_s is not None for f in self.faults)
        )

    def lines(self) -> list[str]:
        out = [
            f"moves: sent {self.moves_sent}, acknowledged {self.moves_acked}, found {self.moves_found}, "
            f"duplicates {self.duplicates}, lost {self.lost} "
            f"(failed {self.moves_failed}, of them applied though unacknowledged {self.moves_applied_unacked}; "
            f"rejected {self.moves_rejected})",
            f"employer contacts: sent {self.contacts_sent}, acknowledged {self.contacts_acked}, "
            f"found {self.contacts_found}, duplicates {self.contacts_duplicates}, lost {self.contacts_lost} "
            f"(committed {self.contacts_committed}, failed {self.contacts_failed})",
            f"audit chain: {'intact' if self.audit_ok else 'BROKEN: ' + self.audit_output}",
        ]
        for f in self.faults:
            service = "not restored" if f.service_s is None else f"{f.service_s:.1f} s"
            healed = "NOT HEALED" if f.healed_s is None else f"{f.healed_s:.1f} s"
            note = f"; {f.note}" if f.note else ""
            out.append(f"fault {f.fault:<9} {f.what}: service restored {service}, healed {healed}{note}")
        if self.restarted_by_supervisor:
            out.append("restarted after an unplanned exit: " + ", ".join(self.restarted_by_supervisor))
        out += [f"  lost: {d}" for d in self.lost_detail[:20]]
        out += [f"  duplicate: {d}" for d in self.duplicate_detail[:20]]
        out.append("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items()))
        out.append("RESULT: " + ("nothing lost, nothing counted twice" if self.ok else "FAILED"))
        return out


class FaultRun:
    def __init__(self, cluster: LocalCluster, config: FaultConfig) -> None:
        self.cluster, self.config = cluster, config
        self.settings = cluster.settings
        self.org: OrgSetup | None = None
        self.moves: list[MoveRecord] = []
        self.contacts: list[ContactRecord] = []
        self.stop = asyncio.Event()
        self.report = FaultReport()
        self.lane_clients: list[str] = []
        self._planned_down: set[str] = set()

    def say(self, message: str) -> None:
        if not self.config.quiet:
            print(f"faults: {message}", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------ set-up

    async def setup(self, http: httpx.AsyncClient) -> None:
        lanes = self.config.lanes
        coaches = max(1, -(-lanes // 10))  # 10 clients per coach, well inside a caseload
        org = await create_org(self.settings, f"Vikatesti {uuid.uuid4().hex[:6]}", "kymenlaakso", coaches)
        for who in [*org.coaches, org.coordinator]:
            await login(http, who)
        await register_clients(http, org, per_coach=-(-lanes // coaches))
        await create_employers(http, org, 2)
        self.org = org
        self.lane_clients = list(org.clients)[:lanes]

    # ------------------------------------------------------------------ load

    async def _state(self, http: httpx.AsyncClient, client_id: str, coach: Coach) -> dict[str, Any]:
        """The journey's state, retried until it answers (Temporal may be restarting)."""
        while True:
            try:
                r = await http.get(f"/api/v1/journeys/{client_id}", headers=auth(coach), timeout=MOVE_TIMEOUT_S)
                if r.status_code == 200:
                    state: dict[str, Any] = r.json()
                    return state
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)

    async def lane(self, http: httpx.AsyncClient, i: int) -> None:
        assert self.org is not None
        client_id = self.lane_clients[i]
        coach = self.org.clients[client_id]
        state = await self._state(http, client_id, coach)
        n = 0
        interval = self.config.interval_s
        # Lanes start spread over one interval, so the load is steady rather than in waves.
        next_at = time.monotonic() + interval * i / max(1, self.config.lanes)
        while not self.stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
                if self.stop.is_set():
                    return
            next_at = max(next_at + interval, time.monotonic())
            body = next_move(state, n)
            tag = f"fault-{i}-{n}"
            n += 1
            rec = MoveRecord(i, client_id, tag, body["action"], time.monotonic())
            self.moves.append(rec)
            try:
                r = await http.post(
                    f"/api/v1/journeys/{client_id}/moves",
                    json={**body, "reason_ref": tag},
                    headers=auth(coach),
                    timeout=MOVE_TIMEOUT_S,
                )
                rec.status = r.status_code
                if r.status_code == 200:
                    state = r.json()
                    rec.outcome, rec.seq = "acked", state["timeline_length"] - 1
                else:
                    rec.outcome = "rejected" if r.status_code == 409 else "failed"
            except httpx.HTTPError:
                rec.outcome = "failed"
            rec.done_at = time.monotonic()
            if rec.outcome != "acked":
                state = await self._state(http, client_id, coach)

    async def employer_lane(self, http: httpx.AsyncClient) -> None:
        assert self.org is not None
        org = self.org
        interval = self.config.interval_s / 4
        n = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), delay)
                if self.stop.is_set():
                    return
            next_at = max(next_at + interval, time.monotonic())
            rec = ContactRecord(f"contact-{n}", time.monotonic())
            body = contact_body(org.employers[n % len(org.employers)])
            n += 1
            self.contacts.append(rec)
            try:
                r = await http.post(
                    "/api/v1/employer-contacts", json=body, headers=auth(org.coordinator), timeout=MOVE_TIMEOUT_S
                )
                if r.status_code == 201 or r.status_code == 200:
                    rec.outcome, rec.contact_id = "acked", r.json()["id"]
                else:
                    rec.outcome = "failed"
            except httpx.HTTPError:
                rec.outcome = "failed"
            rec.done_at = time.monotonic()

    async def supervise(self) -> None:
        """An orchestrator's restart policy: a Polku process that exits unplanned is started again."""
        while not self.stop.is_set():
            for name in self.cluster.dead():
                if name in self.cluster.commands and name not in self._planned_down:
                    code = self.cluster.procs[name].poll()
                    self.report.restarted_by_supervisor.append(f"{name} (exit {code})")
                    self.say(f"{name} exited ({code}) unplanned; starting it again")
                    self.cluster.start_part(name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 0.5)

    # ------------------------------------------------------------------ heal

    async def _restored(self, t0: float) -> None:
        """Every lane and the employer lane acknowledged something sent after ``t0``, and
        reporting holds the newest such move and contact."""
        assert self.org is not None
        while True:
            lanes_ok = all(
                any(m.outcome == "acked" and m.sent_at > t0 for m in self.moves if m.lane == i)
                for i in range(self.config.lanes)
            )
            contact = next((c for c in reversed(self.contacts) if c.outcome == "acked" and c.sent_at > t0), None)
            if lanes_ok and contact is not None:
                break
            await asyncio.sleep(0.2)
        move = next(m for m in reversed(self.moves) if m.outcome == "acked" and m.sent_at > t0)
        assert move.seq is not None and contact.contact_id is not None
        for _ in range(int(HEAL_LIMIT_S / 0.2)):
            if await has_fact(self.settings, move.client_id, move.seq):
                break
            await asyncio.sleep(0.2)
        for _ in range(int(HEAL_LIMIT_S / 0.2)):
            if contact.contact_id in (await contact_counts(self.settings, self.org.id)).in_reporting:
                break
            await asyncio.sleep(0.2)

    async def fault(self, name: str) -> FaultTiming:
        c = self.cluster
        how = "SIGKILL" if self.config.crash_restarts else "SIGTERM"
        t0 = time.monotonic()
        back: Callable[[], Awaitable[None]]
        if name == "worker":
            target = c.workers[0]
            self._planned_down.add(target)
            timing = FaultTiming(name, f"SIGKILL {target}")
            c.kill(target)

            async def back() -> None:
                c.start_part(target)
                self._planned_down.discard(target)
                await c.wait_ready(target)

            # The other worker carries the load: restored first, then the killed one returns.
            restored = asyncio.create_task(self._restored(t0))
            await self._timed(restored, timing, "service_s", t0)
            await back()
            timing.healed_s = time.monotonic() - t0
            timing.note = "the killed worker restarted after service was restored"
            return timing
        if name == "nats":
            target = c.nats_nodes[0]
            timing = FaultTiming(name, f"SIGKILL {target}, back after {self.config.nats_down_s:.0f} s")
            c.kill(target)

            async def back() -> None:
                await asyncio.sleep(self.config.nats_down_s)
                c.start_part(target)
                await c.wait_ready(target)

        elif name == "temporal":
            timing = FaultTiming(name, f"restart on its temporal.db ({how}, start)")

            async def back() -> None:
                await self._stop("temporal")
                c.start_part("temporal")
                await c.wait_ready("temporal")

        elif name == "reporting":
            timing = FaultTiming(name, f"restart the reporting service and its consumers ({how}, start)")
            self._planned_down.add("reporting")

            async def back() -> None:
                await self._stop("reporting")
                c.start_part("reporting")
                self._planned_down.discard("reporting")
                await c.wait_ready("reporting")

        else:
            raise ValueError(name)
        part = asyncio.create_task(back())
        restored = asyncio.create_task(self._restored(t0))
        await self._timed(restored, timing, "service_s", t0)
        try:
            await asyncio.wait_for(part, HEAL_LIMIT_S)
        except Exception as exc:  # noqa: BLE001 - reported as not healed
            timing.note = f"part not back: {exc}"
            return timing
        if timing.service_s is not None:
            timing.healed_s = time.monotonic() - t0
        return timing

    async def _stop(self, name: str) -> None:
        if self.config.crash_restarts:
            self.cluster.kill(name)
        else:
            await self.cluster.terminate(name)

    async def _timed(self, task: asyncio.Task[None], timing: FaultTiming, attr: str, t0: float) -> None:
        try:
            await asyncio.wait_for(task, HEAL_LIMIT_S)
            setattr(timing, attr, time.monotonic() - t0)
        except TimeoutError:
            timing.note = f"not restored within {HEAL_LIMIT_S:.0f} s"

    # ------------------------------------------------------------------ checks

    async def timelines(self, http: httpx.AsyncClient) -> dict[str, list[dict[str, Any]]]:
        assert self.org is not None
        out: dict[str, list[dict[str, Any]]] = {}
        for client_id in self.lane_clients:
            coach = self.org.clients[client_id]
            for _ in range(60):
                r = await http.get(f"/api/v1/journeys/{client_id}/timeline", headers=auth(coach), timeout=30)
                if r.status_code == 200:
                    out[client_id] = r.json()
                    break
                await asyncio.sleep(1)
            else:
                raise RuntimeError(f"timeline of {client_id}: {r.status_code} {r.text[:200]}")
        return out

    async def drain(self, http: httpx.AsyncClient) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
        """Wait until reporting holds every move of every timeline (or the limit passes)."""
        deadline = time.monotonic() + DRAIN_LIMIT_S
        while True:
            timelines = await self.timelines(http)
            facts = await reporting_facts(self.settings, self.lane_clients)
            want = {(c, e["seq"]) for c, t in timelines.items() for e in t if e["kind"] == "move"}
            have = {(f.client_id, f.seq) for fs in facts.values() for f in fs if f.kind == "move"}
            pending = await reporting_pending(self.cluster.nats_urls)
            if want <= have and pending == 0:
                return timelines, facts
            if time.monotonic() > deadline:
                self.say(f"drain: {len(want - have)} moves not in reporting after {DRAIN_LIMIT_S:.0f} s")
                return timelines, facts
            await asyncio.sleep(1.0)

    def check_moves(self, timelines: dict[str, list[dict[str, Any]]], facts: dict[str, Any]) -> None:
        rep = self.report
        moves = self.moves
        rep.moves_sent = len(moves)
        rep.moves_acked = sum(1 for m in moves if m.outcome == "acked")
        rep.moves_rejected = sum(1 for m in moves if m.outcome == "rejected")
        rep.moves_failed = sum(1 for m in moves if m.outcome == "failed")
        acked_tags = {m.tag for m in moves if m.outcome == "acked"}
        sent_tags = {m.tag for m in moves}
        for client_id, timeline in timelines.items():
            entries = [e for e in timeline if e["kind"] == "move"]
            tags = Counter(e.get("reason_ref") for e in entries)
            stored = [f for f in facts.get(client_id, []) if f.kind == "move"]
            by_seq = Counter(f.seq for f in stored)
            by_event = {f.event_id for f in stored}
            timeline_events = {(e["seq"], str(e["event_id"])) for e in entries}
            for tag, count in tags.items():
                if count > 1:
                    rep.duplicates += count - 1
                    rep.duplicate_detail.append(f"move {tag} of {client_id} {count} times in the timeline")
                if tag in sent_tags and tag not in acked_tags:
                    rep.moves_applied_unacked += 1
            for seq, count in by_seq.items():
                if count > 1:
                    rep.duplicates += count - 1
                    rep.duplicate_detail.append(f"timeline seq {seq} of {client_id} {count} times in reporting")
            for f in stored:
                if (f.seq, f.event_id) not in timeline_events:
                    rep.duplicates += 1
                    rep.duplicate_detail.append(f"reporting move {f.event_id} of {client_id} not in the timeline")
            for e in entries:
                if str(e["event_id"]) not in by_event:
                    rep.lost += 1
                    rep.lost_detail.append(
                        f"move {e.get('reason_ref')} (seq {e['seq']}) of {client_id} not in reporting"
                    )
            for m in (m for m in moves if m.client_id == client_id and m.outcome == "acked"):
                match = [e for e in entries if e.get("reason_ref") == m.tag]
                if not match:
                    rep.lost += 1
                    rep.lost_detail.append(f"acknowledged move {m.tag} of {client_id} not in the timeline")
                elif match[0]["seq"] == m.seq and str(match[0]["event_id"]) in by_event and by_seq[m.seq] == 1:
                    rep.moves_found += 1

    async def check_contacts(self) -> None:
        assert self.org is not None
        rep = self.report
        counts = await contact_counts(self.settings, self.org.id)
        acked = {c.contact_id for c in self.contacts if c.outcome == "acked" and c.contact_id}
        rep.contacts_sent = len(self.contacts)
        rep.contacts_acked = len(acked)
        rep.contacts_failed = sum(1 for c in self.contacts if c.outcome == "failed")
        rep.contacts_committed = len(counts.in_employer)
        rep.contacts_found = len(acked & counts.in_reporting & counts.in_employer)
        missing = (acked | counts.in_employer) - counts.in_reporting
        rep.contacts_lost = len(missing) + len(acked - counts.in_employer)
        rep.lost_detail += [f"employer contact {c} not in reporting" for c in sorted(missing)]
        extra = counts.in_reporting - counts.in_employer
        rep.contacts_duplicates = len(extra) + max(0, counts.events_applied - len(counts.in_reporting))
        rep.duplicate_detail += [f"reporting contact {c} the employer service does not have" for c in sorted(extra)]

    def audit(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "polku", "audit", "verify"],
            env=self.cluster.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        self.report.audit_ok = result.returncode == 0 and "chain intact" in result.stdout
        self.report.audit_output = (result.stdout + result.stderr).strip()[-2000:]

    # ------------------------------------------------------------------ the run

    async def run(self) -> FaultReport:
        started = time.monotonic()
        timings = self.report.timings
        limits = httpx.Limits(max_connections=self.config.lanes + 10)
        async with httpx.AsyncClient(base_url=self.cluster.origin, timeout=60, limits=limits) as http:
            await self.setup(http)
            timings["set-up"] = time.monotonic() - started
            self.say(f"{self.config.lanes} lanes, a move each every {self.config.interval_s:.1f} s")
            load = [asyncio.create_task(self.lane(http, i)) for i in range(self.config.lanes)]
            load.append(asyncio.create_task(self.employer_lane(http)))
            supervisor = asyncio.create_task(self.supervise())
            t_load = time.monotonic()
            try:
                await asyncio.sleep(self.config.warmup_s)
                for name in self.config.faults:
                    self.say(f"fault: {name}")
                    timing = await self.fault(name)
                    self.report.faults.append(timing)
                    self.say(
                        f"fault {name}: service {timing.service_s}, healed {timing.healed_s} {timing.note}".rstrip()
                    )
                    await asyncio.sleep(self.config.settle_s)
            finally:
                self.stop.set()
                await asyncio.gather(*load, supervisor, return_exceptions=True)
            timings["load"] = time.monotonic() - t_load
            t_drain = time.monotonic()
            timelines, facts = await self.drain(http)
            timings["drain"] = time.monotonic() - t_drain
            self.check_moves(timelines, facts)
            await self.check_contacts()
        t_audit = time.monotonic()
        await asyncio.to_thread(self.audit)
        timings["audit verify"] = time.monotonic() - t_audit
        return self.report


async def run_faults(config: FaultConfig, data_dir: Path | None = None) -> FaultReport:
    """Start a cluster in ``data_dir`` (a temporary one when None), run, stop it."""
    own = data_dir is None
    base = Path(tempfile.mkdtemp(prefix="polku-faults-")) if data_dir is None else data_dir
    base.chmod(0o755)  # PostgreSQL runs as the postgres user when this runs as root
    cluster = LocalCluster(base)
    started = time.monotonic()
    try:
        await cluster.start()
        start_s = time.monotonic() - started
        report = await FaultRun(cluster, config).run()
        report.timings = {"cluster start": start_s, **report.timings}
        return report
    finally:
        await cluster.stop()
        if own and not config.keep:
            shutil.rmtree(base, ignore_errors=True)
        elif own and not config.quiet:
            print(f"faults: data and logs kept in {base}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polku bench faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--lanes", type=int, default=FaultConfig.lanes, help="clients moved concurrently")
    parser.add_argument("--interval", type=float, default=FaultConfig.interval_s, help="s between a lane's moves")
    parser.add_argument("--warmup", type=float, default=FaultConfig.warmup_s, help="s of load before the first fault")
    parser.add_argument("--settle", type=float, default=FaultConfig.settle_s, help="s of load after each fault")
    parser.add_argument("--nats-down", type=float, default=FaultConfig.nats_down_s, help="s the NATS node stays down")
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, of {', '.join(FAULTS)}")
    parser.add_argument("--data-dir", type=Path, help="where the cluster keeps its files (default: temporary)")
    parser.add_argument("--graceful", action="store_true", help="restart Temporal and reporting with SIGTERM")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory and its logs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    args = parser.parse_args(argv)
    faults = tuple(f.strip() for f in args.faults.split(",") if f.strip())
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        parser.error(f"unknown faults: {', '.join(unknown)}")
    config = FaultConfig(
        lanes=args.lanes,
        interval_s=args.interval,
        warmup_s=args.warmup,
        settle_s=args.settle,
        nats_down_s=args.nats_down,
        faults=faults,
        crash_restarts=not args.graceful,
        keep=args.keep,
    )
    report = asyncio.run(run_faults(config, args.data_dir))
    print("\n".join(report.lines()))
    if args.json:
        print(json.dumps({**asdict(report), "ok": report.ok}, default=str))
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
