"""The audit core: every read and write of a client's data leaves a record.

Records are appended before the response returns; if the record cannot be stored the
request fails (``AuditUnavailable``) rather than going unlogged. Each organisation's
records form a hash chain; ``verify_chain`` finds the first broken link.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import Database, utcnow
from shared.platform import AuditHead, AuditRecord

GENESIS = "0" * 64


class AuditUnavailable(RuntimeError):
    """The audit record could not be stored; the action must not proceed."""


@dataclass(frozen=True)
class AuditEntry:
    organisation_id: uuid.UUID
    actor_id: uuid.UUID | None
    actor_role: str
    action: str
    client_id: uuid.UUID | None = None
    purpose: str | None = None
    trace_id: str | None = None
    outcome: str = "ok"


def record_hash(
    *,
    organisation_id: uuid.UUID,
    seq: int,
    at: datetime,
    actor_id: uuid.UUID | None,
    actor_role: str,
    action: str,
    client_id: uuid.UUID | None,
    purpose: str | None,
    trace_id: str | None,
    outcome: str,
    prev_hash: str,
) -> str:
    body = {
        "organisation_id": str(organisation_id),
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor_id": None if actor_id is None else str(actor_id),
        "actor_role": actor_role,
        "action": action,
        "client_id": None if client_id is None else str(client_id),
        "purpose": purpose,
        "trace_id": trace_id,
        "outcome": outcome,
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hash_of(r: AuditRecord) -> str:
    return record_hash(
        organisation_id=r.organisation_id,
        seq=r.seq,
        at=r.at,
        actor_id=r.actor_id,
        actor_role=r.actor_role,
        action=r.action,
        client_id=r.client_id,
        purpose=r.purpose,
        trace_id=r.trace_id,
        outcome=r.outcome,
        prev_hash=r.prev_hash,
    )


async def _lock_head(session: AsyncSession, org: uuid.UUID) -> AuditHead:
    """The organisation's chain head, row-locked until the transaction ends."""
    q = select(AuditHead).where(AuditHead.organisation_id == org).with_for_update()
    head = (await session.execute(q)).scalar_one_or_none()
    if head is not None:
        return head
    try:
        # The first record of an organisation: two writers may race to create the head.
        async with session.begin_nested():
            session.add(AuditHead(organisation_id=org, seq=0, hash=GENESIS))
    except IntegrityError:
        pass
    return (await session.execute(q.execution_options(populate_existing=True))).scalar_one()


async def _append(session: AsyncSession, entry: AuditEntry) -> AuditRecord:
    record = _chained(await _lock_head(session, entry.organisation_id), entry)
    session.add(record)
    return record


def _chained(head: AuditHead, entry: AuditEntry) -> AuditRecord:
    """The record of ``entry`` after ``head`` (locked by the caller), which it advances."""
    record = AuditRecord(
        organisation_id=entry.organisation_id,
        seq=head.seq + 1,
        at=utcnow(),
        actor_id=entry.actor_id,
        actor_role=entry.actor_role,
        action=entry.action,
        client_id=entry.client_id,
        purpose=entry.purpose,
        trace_id=entry.trace_id,
        outcome=entry.outcome,
        prev_hash=head.hash,
        hash="",
    )
    record.hash = _hash_of(record)
    head.seq, head.hash = record.seq, record.hash
    return record


class AuditLog:
    """Appends audit records to the platform database, one transaction each."""

    def __init__(self, platform: Database) -> None:
        self._db = platform

    async def append(self, entry: AuditEntry) -> AuditRecord:
        try:
            async with self._db.session() as session, session.begin():
                return await _append(session, entry)
        except Exception as exc:
            raise AuditUnavailable(f"audit record for {entry.action} could not be stored") from exc

    async def append_many(self, entries: list[AuditEntry]) -> None:
        """Several records in one transaction (e.g. one per client on a list page)."""
        if not entries:
            return
        try:
            async with self._db.session() as session, session.begin():
                # Each organisation's head is locked once and the records are chained here,
                # then inserted together at commit (a list page audits 20 or more at once).
                heads: dict[uuid.UUID, AuditHead] = {}
                for entry in entries:
                    head = heads.get(entry.organisation_id)
                    if head is None:
                        head = heads[entry.organisation_id] = await _lock_head(session, entry.organisation_id)
                    session.add(_chained(head, entry))
        except Exception as exc:
            raise AuditUnavailable(f"audit records for {entries[0].action} could not be stored") from exc

    async def records(self, organisation_id: uuid.UUID, client_id: uuid.UUID | None = None) -> list[AuditRecord]:
        async with self._db.session() as session:
            q = select(AuditRecord).where(AuditRecord.organisation_id == organisation_id)
            if client_id is not None:
                q = q.where(AuditRecord.client_id == client_id)
            return list((await session.execute(q.order_by(AuditRecord.seq))).scalars())


@dataclass(frozen=True)
class BrokenLink:
    organisation_id: uuid.UUID
    seq: int
    record_id: int | None
    problem: str

    def __str__(self) -> str:
        rid = "" if self.record_id is None else f" (row id {self.record_id})"
        return f"organisation {self.organisation_id}: chain broken at seq {self.seq}{rid}: {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    organisation_id: uuid.UUID
    records: int
    broken: BrokenLink | None


async def _iter_records(session: AsyncSession, org: uuid.UUID) -> AsyncIterator[AuditRecord]:
    result = await session.stream_scalars(
        select(AuditRecord).where(AuditRecord.organisation_id == org).order_by(AuditRecord.seq)
    )
    async for r in result:
        yield r


async def verify_chain(platform: Database, organisation_id: uuid.UUID | None = None) -> list[ChainReport]:
    """Check every organisation's chain (or only ``organisation_id``'s); report the first
    broken link of each."""
    reports: list[ChainReport] = []
    async with platform.session() as session:
        heads = {h.organisation_id: h for h in (await session.execute(select(AuditHead))).scalars()}
        orgs = set(heads) | set((await session.execute(select(AuditRecord.organisation_id).distinct())).scalars())
        if organisation_id is not None:
            orgs &= {organisation_id}
        for org in sorted(orgs, key=str):
            prev, expected_seq, count, broken = GENESIS, 1, 0, None
            async for r in _iter_records(session, org):
                count += 1
                if r.seq != expected_seq:
                    broken = BrokenLink(org, expected_seq, None, f"record missing (next present is seq {r.seq})")
                    break
                if r.prev_hash != prev:
                    broken = BrokenLink(org, r.seq, r.id, "does not link to the previous record")
                    break
                if _hash_of(r) != r.hash:
                    broken = BrokenLink(org, r.seq, r.id, "content was changed after it was written")
                    break
                prev, expected_seq = r.hash, expected_seq + 1
            if broken is None:
                head = heads.get(org)
                if head is None or head.seq != expected_seq - 1 or head.hash != prev:
                    head_seq = None if head is None else head.seq
                    broken = BrokenLink(
                        org,
                        expected_seq,
                        None,
                        f"records after seq {expected_seq - 1} are missing (head at {head_seq})",
                    )
            reports.append(ChainReport(org, count, broken))
    return reports
