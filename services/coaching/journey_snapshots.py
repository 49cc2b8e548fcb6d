"""The journey snapshots: the caseload dashboard's read model of each journey's state.

The dashboard shows twenty or more journeys at once; asking the workflow of each one
(a Temporal query per client) was most of its time. So coaching keeps the state each
journey last answered with in ``journey_snapshots`` (``models.JourneySnapshot``):

- the journey API writes the state a move or milestone answers with (``save``), so the
  coach's own change is on the dashboard at once;
- ``SnapshotConsumer``, a durable JetStream pull consumer (``coaching-snapshots``, explicit
  ack) in the coaching service, re-reads a journey's state from the workflow for each
  journey event and saves it: reminders raised by the workflow's timers, milestones that
  other services (employer) report straight to the workflow, moves made elsewhere;
- the dashboard reads the visible clients' snapshots with one query (``load``) and asks
  the workflow only for the journeys without one.

Every save is versioned by the state's ``timeline_length`` (every change appends to the
timeline), and an upsert never replaces a newer version, so the API, several consumer
processes sharing the durable consumer, and the dashboard may write in any order.

A stored state goes stale with time, not only with events: what is due soon is computed
at read time (``at``) from the stored due times, and a reminder whose time has passed
counts as overdue even before the workflow's timer has raised it.

The snapshot holds ids, codes and times only (no names, no free text), like the workflow
payloads and the journey events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, select

from services.coaching.models import JourneySnapshot
from shared.codec import PayloadDecryptError
from shared.db import Database, dialect_insert, utcnow
from shared.events.streams import STREAM_BY_AREA, StreamSpec
from shared.service import ServiceContext
from workflows.contracts import JourneyState

log = logging.getLogger(__name__)

DURABLE = "coaching-snapshots"
BATCH_SIZE = 200
FETCH_WAIT_S = 5.0  # an idle fetch waits this long for the next event before asking again
ACK_WAIT_S = 60.0  # a batch not acknowledged within this long is redelivered
RETRY_S = 1.0
MAX_RETRY_S = 60.0
QUERIES_AT_ONCE = 8  # workflow queries in flight while a batch is applied


# --------------------------------------------------------------------------- pure logic


def row_values(state: JourneyState, now: datetime) -> dict[str, Any]:
    """The table row of ``state``."""
    return {
        "organisation_id": state.organisation_id,
        "client_id": state.client_id,
        "coach_id": state.coach_id,
        "phase": str(state.phase),
        "status": str(state.status),
        "version": state.timeline_length,
        "state": state.model_dump(mode="json"),
        "updated_at": now,
    }


def newest(states: Iterable[JourneyState]) -> list[JourneyState]:
    """One state per client, the highest version of each (a batch may hold several)."""
    best: dict[uuid.UUID, JourneyState] = {}
    for state in states:
        held = best.get(state.client_id)
        if held is None or state.timeline_length > held.timeline_length:
            best[state.client_id] = state
    return list(best.values())


def at(state: JourneyState, now: datetime) -> JourneyState:
    """``state`` as it stands at ``now``: a reminder whose due time has passed is overdue
    (the workflow raises it at that time; the event may still be on its way)."""
    if not any(not r.overdue and r.due_at <= now for r in state.reminders):
        return state
    reminders = [r if r.overdue or r.due_at > now else r.model_copy(update={"overdue": True}) for r in state.reminders]
    return state.model_copy(update={"reminders": reminders})


@dataclass(frozen=True)
class JourneyRef:
    """A journey an event is about, and the timeline length the event shows it reached."""

    organisation_id: uuid.UUID
    client_id: uuid.UUID
    version: int | None  # None: the event carries no timeline position


def journey_ref(event: Any) -> JourneyRef | None:
    """The journey a decoded journey event is about; None for anything else."""
    if not isinstance(event, Mapping) or not str(event.get("type", "")).startswith("journey."):
        return None
    try:
        org = uuid.UUID(str(event["organisation_id"]))
        client = uuid.UUID(str(event["client_id"]))
    except (KeyError, ValueError):
        return None
    seq = event.get("timeline_seq")
    return JourneyRef(org, client, seq + 1 if isinstance(seq, int) and not isinstance(seq, bool) else None)


def to_refresh(refs: Iterable[JourneyRef], stored: Mapping[uuid.UUID, int]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """The journeys (organisation, client) whose snapshot is older than an event shows:
    the others were saved already (by the journey API, or an earlier event's refresh)."""
    wanted: dict[uuid.UUID, tuple[uuid.UUID, int | None]] = {}
    for ref in refs:
        if ref.client_id not in wanted:
            wanted[ref.client_id] = (ref.organisation_id, ref.version)
            continue
        org, version = wanted[ref.client_id]
        if version is not None and (ref.version is None or ref.version > version):
            wanted[ref.client_id] = (org, ref.version)
    out = []
    for client_id, (org, version) in wanted.items():
        have = stored.get(client_id)
        if have is None or version is None or have < version:
            out.append((org, client_id))
    return out


def retry_delay(deliveries: int) -> float:
    """How long a journey that could not be read waits before its events come again:
    doubling from ``RETRY_S`` with each delivery, at most ``MAX_RETRY_S``."""
    return min(MAX_RETRY_S, RETRY_S * float(2 ** max(0, min(deliveries, 16) - 1)))


def decode(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


# --------------------------------------------------------------------------- database


def _table() -> Table:
    table = JourneySnapshot.__table__
    assert isinstance(table, Table)
    return table


async def save(db: Database, states: Sequence[JourneyState]) -> None:
    """Upsert the snapshots of ``states``; a stored newer version is kept."""
    states = newest(states)
    if not states:
        return
    now = utcnow()
    rows = [row_values(s, now) for s in states]
    t = _table()
    keep = ("organisation_id", "client_id")
    async with db.session(cross_tenant=True) as session, session.begin():
        insert = await dialect_insert(session, t)
        stmt = insert.on_conflict_do_update(
            index_elements=[t.c.client_id],
            set_={c.name: insert.excluded[c.name] for c in t.columns if c.name not in keep},
            # Never backwards, nor across organisations. An equal version is the same state
            # (it may mend a stored one that no longer reads, e.g. after a contract change).
            where=(t.c.version <= insert.excluded.version) & (t.c.organisation_id == insert.excluded.organisation_id),
        )
        await session.execute(stmt, rows)


async def load(
    db: Database, organisation_id: uuid.UUID, client_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, JourneyState]:
    """The stored states of ``client_ids`` in the organisation (one query); a client
    without a snapshot, or whose snapshot cannot be read, is left out."""
    if not client_ids:
        return {}
    out: dict[uuid.UUID, JourneyState] = {}
    async with db.session(organisation_id=organisation_id) as session:
        result = await session.execute(
            select(JourneySnapshot.client_id, JourneySnapshot.state).where(
                JourneySnapshot.organisation_id == organisation_id, JourneySnapshot.client_id.in_(client_ids)
            )
        )
        for client_id, state in result.all():
            try:
                out[client_id] = JourneyState.model_validate(state)
            except ValueError:  # an older shape: the workflow is asked instead
                log.warning("a journey snapshot could not be read")
    return out


async def forget(db: Database, client_ids: Sequence[uuid.UUID]) -> None:
    """Delete the snapshots of ``client_ids`` (any organisation): the dashboard then asks
    the workflow for them until a snapshot is saved again."""
    if not client_ids:
        return
    async with db.session(cross_tenant=True) as session, session.begin():
        await session.execute(delete(JourneySnapshot).where(JourneySnapshot.client_id.in_(client_ids)))


async def versions(db: Database, client_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """The stored version of each snapshot among ``client_ids`` (any organisation)."""
    if not client_ids:
        return {}
    async with db.session(cross_tenant=True) as session:
        result = await session.execute(
            select(JourneySnapshot.client_id, JourneySnapshot.version).where(JourneySnapshot.client_id.in_(client_ids))
        )
        return {client_id: version for client_id, version in result.all()}


# --------------------------------------------------------------------------- consumer


def consumer_config(spec: StreamSpec) -> Any:
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    return ConsumerConfig(
        durable_name=DURABLE,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=ACK_WAIT_S,
        max_ack_pending=BATCH_SIZE * 4,
        filter_subjects=list(spec.subjects) if len(spec.subjects) > 1 else None,
    )


class SnapshotConsumer:
    """Keeps the snapshots current from the journey stream for as long as it runs.

    Several coaching processes may run one each: they share the durable consumer, and the
    version check of ``save`` makes their writes safe in any order. A journey whose
    state cannot be read loses its snapshot (the dashboard asks the workflow for it
    instead) and its events come again later (``retry_delay``); when the snapshots cannot
    be saved, or Temporal cannot be reached at all, the whole batch comes again."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.spec = STREAM_BY_AREA["journey"]
        self.saved = 0
        self._organisations: set[uuid.UUID] = set()  # of this deployment, seen so far

    async def run(self) -> None:
        import nats

        while True:
            try:
                nc = await nats.connect(
                    self.ctx.settings.nats_url,
                    name="polku-coaching-snapshots",
                    connect_timeout=5,
                    max_reconnect_attempts=-1,
                )
                break
            except Exception as exc:  # noqa: BLE001 - NATS not up yet: retry
                log.warning("journey snapshots: cannot connect yet (%s)", type(exc).__name__)
                await asyncio.sleep(RETRY_S)
        try:
            sub = await self._subscribe(nc.jetstream())
            while True:
                msgs = await self._fetch(sub)
                if msgs:
                    await self.handle(msgs)
        finally:
            await nc.close()

    async def _subscribe(self, js: Any) -> Any:
        while True:
            try:
                return await js.pull_subscribe(
                    self.spec.subjects[0], durable=DURABLE, stream=self.spec.name, config=consumer_config(self.spec)
                )
            except Exception as exc:  # noqa: BLE001 - the stream may not exist yet: retry
                log.warning("journey snapshots: cannot subscribe yet (%s)", type(exc).__name__)
                await asyncio.sleep(RETRY_S)

    async def _fetch(self, sub: Any) -> list[Any]:
        try:
            msgs: list[Any] = await sub.fetch(BATCH_SIZE, timeout=FETCH_WAIT_S)
            return msgs
        except TimeoutError:
            return []
        except Exception as exc:  # noqa: BLE001 - reconnecting; the loop goes on
            log.warning("journey snapshots: fetch failed (%s)", type(exc).__name__)
            await asyncio.sleep(RETRY_S)
            return []

    async def handle(self, msgs: list[Any]) -> None:
        refs = [journey_ref(decode(m.data)) for m in msgs]
        try:
            failed = await self.refresh([r for r in refs if r is not None])
        except Exception as exc:  # noqa: BLE001 - redelivered after a pause
            log.warning(
                "journey snapshots: a batch of %d events failed (%s); redelivered", len(msgs), type(exc).__name__
            )
            for m in msgs:
                await m.nak(delay=RETRY_S)
            return
        for m, ref in zip(msgs, refs, strict=True):
            if ref is not None and ref.client_id in failed:
                await m.nak(delay=retry_delay(_deliveries(m)))
            else:
                await m.ack()

    async def refresh(self, refs: Sequence[JourneyRef]) -> set[uuid.UUID]:
        """Read and save the journeys that the events show newer than their snapshot;
        the clients whose journey could not be read."""
        from workflows.client import JourneyNotFound, get_state

        if not refs:
            return set()
        db = self.ctx.database
        stale = to_refresh(refs, await versions(db, list({r.client_id for r in refs})))
        # Only this deployment's journeys: a stream shared with another deployment (a test
        # server, say) carries journeys this one can neither read nor show.
        ours = await self._known_organisations({org for org, _ in stale})
        stale = [(org, client_id) for org, client_id in stale if org in ours]
        if not stale:
            return set()
        temporal = await self.ctx.temporal()
        gate = asyncio.Semaphore(QUERIES_AT_ONCE)
        failed: set[uuid.UUID] = set()
        unreadable: set[uuid.UUID] = set()

        async def read(org: uuid.UUID, client_id: uuid.UUID) -> JourneyState | None:
            async with gate:
                try:
                    return await get_state(temporal, org, client_id)
                except JourneyNotFound:  # terminated or never started: nothing to show
                    return None
                except PayloadDecryptError:
                    # Sealed with a key this deployment does not hold (erased, or another
                    # deployment's journey on a shared server): reading again cannot help,
                    # and events left unacknowledged would stall the consumer.
                    log.warning("journey snapshots: a journey's state cannot be decrypted; skipped")
                    unreadable.add(client_id)
                    return None
                except Exception as exc:  # noqa: BLE001 - this journey only; the others go on
                    log.warning("journey snapshots: a journey could not be read (%s)", type(exc).__name__)
                    failed.add(client_id)
                    return None

        states = [s for s in await asyncio.gather(*(read(o, c) for o, c in stale)) if s is not None]
        await save(db, states)
        await forget(db, sorted(failed | unreadable, key=str))
        self.saved += len(states)
        return failed

    async def _known_organisations(self, organisations: set[uuid.UUID]) -> set[uuid.UUID]:
        for org in organisations - self._organisations:
            if await self.ctx.identity.organisation(org) is not None:
                self._organisations.add(org)
        return organisations & self._organisations


def _deliveries(msg: Any) -> int:
    try:
        return int(msg.metadata.num_delivered)
    except Exception:  # noqa: BLE001 - a message without JetStream metadata
        return 1


async def start(ctx: ServiceContext) -> None:
    """Run the snapshot consumer for the service's lifetime (``build_service_app`` hook)."""
    ctx.spawn(SnapshotConsumer(ctx).run(), "journey-snapshots")
