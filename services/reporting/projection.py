"""Applying events to the projections: in batches, once per event id.

``apply_batch`` takes raw decoded events (dicts, as they come off JetStream) and, in one
transaction, skips the ids already applied, records the new ids (journey events as their
facts, others in ``ProcessedEvent``), advances each organisation's watermark ("data as
of") and hands each event to the projector registered for its ``type``. An event type nobody registered is skipped
(and acknowledged by the caller), so a new kind of event never blocks a stream; an event
that does not validate against its model is skipped with a warning, since redelivering it
would not make it valid. Any other failure raises: the caller NACKs the batch and nothing
of it was written.

Adding a projection for a new event type: write ``async def apply_x(session, events)``
and register it in ``PROJECTORS`` with the event's model.

Journey events are kept as facts (``JourneyFact``) and folded into the derived tables
(journeys, episodes, spells, jobs). Events of one client normally arrive in timeline
order and fold incrementally; one that arrives after a later one (``timeline_seq`` at or
below what was folded) makes the client be refolded from all its facts, so the result
never depends on delivery order.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import Boolean, Date, Table, delete, event, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.metrics import days_between, local_day, month_key
from services.reporting.models import (
    Assessment,
    EmployerContact,
    Episode,
    FeedbackAnswer,
    Job,
    JourneyFact,
    JourneyProjection,
    Placement,
    ProcessedEvent,
    QuickHelp,
    Referral,
    ReportingBase,
    Spell,
    Watermark,
)
from shared.contracts.events import (
    AssessmentRecorded,
    EmployerContactRecorded,
    FeedbackRecorded,
    JourneyEvent,
    JourneyMoved,
    JourneyStarted,
    MilestoneRecorded,
    PlacementEnded,
    PlacementStarted,
    QuickHelpRecorded,
    ReferralAccepted,
    ReferralDeclined,
    ReferralReceived,
    ReminderDue,
)
from shared.contracts.intake import EXCLUDING
from shared.contracts.journey import Phase, Status
from shared.db import Database, UTCDateTime, UUIDStr, database_url, is_sqlite, utcnow
from shared.settings import Settings

log = logging.getLogger(__name__)

E = TypeVar("E", bound=BaseModel)
SQLITE_CACHE_KIB = 128 * 1024
Apply = Callable[[AsyncSession, list[Any]], Awaitable[None]]


@dataclass(frozen=True)
class Projector:
    model: type[BaseModel]
    apply: Apply
    # Whether ``apply`` keeps the event id itself (journey facts); otherwise it is recorded
    # in ``ProcessedEvent``.
    keeps_ids: bool = False


@dataclass
class BatchResult:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0  # no projector for the type
    invalid: int = 0  # did not validate
    types_skipped: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- journeys

SEARCH_OR_LATER = frozenset({Phase.JOB_SEARCH.value, Phase.EMPLOYER_AGREEMENT.value, Phase.FOLLOW_ALONG.value})
JOB_PHASES = frozenset({Phase.EMPLOYER_AGREEMENT.value, Phase.FOLLOW_ALONG.value})

# The fold works on plain rows, not ORM objects: a batch reads and writes each table with a
# few set-based statements, whatever its size (see ``apply_journey``).


@dataclass(slots=True)
class Fact:
    """A ``JourneyFact`` row."""

    event_id: uuid.UUID
    organisation_id: uuid.UUID
    client_id: uuid.UUID
    seq: int | None
    episode: int
    kind: str
    at: datetime
    day: date
    month: int
    coach_id: uuid.UUID
    phase: str
    status: str
    action: str | None = None
    from_phase: str | None = None
    from_status: str | None = None
    rest_reason: str | None = None
    outcome: str | None = None
    milestone: str | None = None
    milestone_at: datetime | None = None
    code: str | None = None
    contact_mode: str | None = None
    reminder: str | None = None


@dataclass(slots=True)
class JourneyRow:
    """A ``JourneyProjection`` row."""

    client_id: uuid.UUID
    organisation_id: uuid.UUID
    coach_id: uuid.UUID
    phase: str
    status: str
    episode: int
    since: datetime
    last_event_at: datetime
    last_seq: int | None
    rest_reason: str | None = None
    outcome: str | None = None


@dataclass(slots=True)
class EpisodeRow:
    """An ``Episode`` row."""

    client_id: uuid.UUID
    organisation_id: uuid.UUID
    episode: int
    coach_id: uuid.UUID
    started_at: datetime
    started_day: date
    reached_search_at: datetime | None = None
    first_contact_at: datetime | None = None
    first_contact_day: date | None = None
    first_job_at: datetime | None = None
    jobs_started: int = 0
    current_job_at: datetime | None = None
    benefits_counselling_at: datetime | None = None
    disclosure: str = ""
    closed_at: datetime | None = None
    closed_day: date | None = None
    closed_month: int | None = None
    outcome: str | None = None


Row = Fact | JourneyRow | EpisodeRow


def _columns(table: type[ReportingBase]) -> set[str]:
    return {c.key for c in table.__table__.columns}


for _plain, _mapped in ((Fact, JourneyFact), (JourneyRow, JourneyProjection), (EpisodeRow, Episode)):
    assert set(_plain.__dataclass_fields__) == _columns(_mapped), f"{_plain.__name__} and {_mapped.__name__} differ"


def as_dict(row: Row) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


def fact_of(e: JourneyEvent) -> Fact:
    at = e.occurred_at
    fact = Fact(
        event_id=e.id,
        organisation_id=e.organisation_id,
        client_id=e.client_id,
        seq=e.timeline_seq,
        episode=e.episode,
        kind="",
        at=at,
        day=local_day(at),
        month=0,
        coach_id=e.coach_id,
        phase=e.phase.value,
        status=e.status.value,
    )
    if isinstance(e, JourneyStarted):
        fact.kind = "started"
    elif isinstance(e, JourneyMoved):
        fact.kind = "move"
        fact.action = e.action
        fact.from_phase = e.from_phase.value
        fact.from_status = e.from_status.value
        fact.rest_reason = e.rest_reason.value if e.rest_reason else None
        fact.outcome = e.outcome.value if e.outcome else None
    elif isinstance(e, MilestoneRecorded):
        fact.kind = "milestone"
        fact.milestone = e.kind
        fact.milestone_at = e.milestone_occurred_at
        fact.code = e.code
        fact.contact_mode = e.contact_mode
        fact.day = local_day(e.milestone_occurred_at)  # a milestone counts on its own day
    elif isinstance(e, ReminderDue):
        fact.kind = "reminder"
        fact.reminder = e.reminder
    else:  # pragma: no cover - every JourneyEvent subclass is handled above
        raise TypeError(type(e).__name__)
    fact.month = month_key(fact.day)
    return fact


def _order(f: Fact) -> tuple[int, datetime]:
    return (f.seq if f.seq is not None else -1, f.at)


class ClientFold:
    """Folds one client's journey facts, in timeline order, into its derived rows.

    ``journey`` and ``episodes`` are the client's rows so far (as stored, or none for a
    refold) and change in place; finished spells and jobs are collected in ``spells`` and
    ``jobs`` (rows to insert)."""

    def __init__(self, journey: JourneyRow | None, episodes: Mapping[int, EpisodeRow]) -> None:
        self.journey = journey
        self.episodes: dict[int, EpisodeRow] = dict(episodes)
        self.spells: list[dict[str, Any]] = []
        self.jobs: list[dict[str, Any]] = []

    def is_in_order(self, f: Fact) -> bool:
        j = self.journey
        if j is None:
            return f.kind == "started"
        if f.seq is not None and j.last_seq is not None:
            return f.seq > j.last_seq
        return f.at >= j.last_event_at

    def _episode(self, f: Fact) -> EpisodeRow:
        ep = self.episodes.get(f.episode)
        if ep is None:
            ep = self.episodes[f.episode] = EpisodeRow(
                client_id=f.client_id,
                organisation_id=f.organisation_id,
                episode=f.episode,
                coach_id=f.coach_id,
                started_at=f.at,
                started_day=local_day(f.at),
            )
        return ep

    def _end_spell(self, j: JourneyRow, at: datetime) -> None:
        if j.status == Status.CLOSED.value:
            return
        day = local_day(at)
        self.spells.append(
            {
                "organisation_id": j.organisation_id,
                "client_id": j.client_id,
                "episode": j.episode,
                "phase": j.phase,
                "status": j.status,
                "rest_reason": j.rest_reason if j.status == Status.RESTING.value else None,
                "started_at": j.since,
                "ended_at": at,
                "ended_day": day,
                "days": max(0.0, days_between(j.since, at)),
            }
        )

    def _end_job(self, ep: EpisodeRow, at: datetime) -> None:
        if ep.current_job_at is None:
            return
        self.jobs.append(
            {
                "organisation_id": ep.organisation_id,
                "client_id": ep.client_id,
                "episode": ep.episode,
                "started_at": ep.current_job_at,
                "ended_at": at,
                "ended_day": local_day(at),
                "tenure_days": max(0.0, days_between(ep.current_job_at, at)),
            }
        )
        ep.current_job_at = None

    def apply(self, f: Fact) -> None:
        j = self.journey
        if j is None:
            j = self.journey = JourneyRow(
                client_id=f.client_id,
                organisation_id=f.organisation_id,
                coach_id=f.coach_id,
                phase=f.from_phase or f.phase,
                status=f.from_status or f.status,
                episode=f.episode,
                since=f.at,
                last_event_at=f.at,
                last_seq=f.seq,
            )
        ep = self._episode(f)
        if f.kind == "move":
            self._move(j, ep, f)
        elif f.kind == "milestone":
            self._milestone(ep, f)
        j.coach_id = ep.coach_id = f.coach_id
        if f.seq is not None and (j.last_seq is None or f.seq > j.last_seq):
            j.last_seq = f.seq
        if f.at > j.last_event_at:
            j.last_event_at = f.at

    def _move(self, j: JourneyRow, ep: EpisodeRow, f: Fact) -> None:
        at = f.at
        if f.action == "reopen" or (j.phase, j.status) != (f.phase, f.status):
            self._end_spell(j, at)
            j.since = at
        if f.action == "step_back" and f.from_phase in JOB_PHASES:
            self._end_job(ep, at)  # the job fell through or ended
        j.phase, j.status, j.episode = f.phase, f.status, f.episode
        if f.action == "rest":
            j.rest_reason = f.rest_reason
        elif f.action in ("resume", "close", "reopen"):
            j.rest_reason = None
        if f.action == "close":
            j.outcome = f.outcome
            ep.closed_at = at
            ep.closed_day = local_day(at)
            ep.closed_month = month_key(ep.closed_day)
            ep.outcome = f.outcome
        elif f.action == "reopen":
            j.outcome = None
        if f.phase in SEARCH_OR_LATER and ep.reached_search_at is None:
            ep.reached_search_at = at

    @staticmethod
    def _earliest(current: datetime | None, at: datetime) -> datetime:
        return at if current is None or at < current else current

    def _milestone(self, ep: EpisodeRow, f: Fact) -> None:
        at = f.milestone_at or f.at
        kind = f.milestone
        if kind == "first_employer_contact":
            ep.first_contact_at = self._earliest(ep.first_contact_at, at)
            ep.first_contact_day = local_day(ep.first_contact_at)
        elif kind == "job_started":
            ep.jobs_started += 1
            ep.first_job_at = self._earliest(ep.first_job_at, at)
            ep.current_job_at = at
        elif kind == "job_ended":
            self._end_job(ep, at)
        elif kind == "benefits_counselling_given":
            ep.benefits_counselling_at = self._earliest(ep.benefits_counselling_at, at)
        elif kind == "disclosure_discussed" and f.code and f.code not in ep.disclosure:
            ep.disclosure = "".join(sorted(ep.disclosure + f.code))


def fold_facts(facts: Iterable[Fact]) -> ClientFold:
    """A client's derived rows from all its facts (the refold)."""
    fold = ClientFold(None, {})
    for f in sorted(facts, key=_order):
        fold.apply(f)
    return fold


def _in_order(fold: ClientFold, new: Sequence[Fact]) -> bool:
    """Whether the new facts continue what was folded, each after the one before."""
    if not fold.is_in_order(new[0]):
        return False
    for prev, f in itertools.pairwise(new):
        if (f.seq <= prev.seq) if (f.seq is not None and prev.seq is not None) else f.at < prev.at:
            return False
    return True


def _table(model: type[ReportingBase]) -> Table:
    return cast(Table, model.__table__)


async def _select(session: AsyncSession, table: type[ReportingBase], column: str, keys: Sequence[Any]) -> list[Any]:
    t = _table(table)
    return list((await session.execute(select(t).where(t.c[column].in_(keys)))).mappings())


async def _delete(session: AsyncSession, table: type[ReportingBase], column: str, keys: Sequence[Any]) -> None:
    t = _table(table)
    await session.execute(delete(t).where(t.c[column].in_(keys)))


async def _insert(session: AsyncSession, table: type[ReportingBase], rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(_table(table)), list(rows))


async def apply_journey(session: AsyncSession, events: list[JourneyEvent]) -> None:
    """Store the facts and fold them into each client's rows: read the touched clients'
    journeys and episodes once, fold in memory, write back what changed, each table in
    one statement."""
    facts = [fact_of(e) for e in events]
    await _bulk(session, JourneyFact, [as_dict(f) for f in facts])
    by_client: dict[uuid.UUID, list[Fact]] = defaultdict(list)
    for f in facts:
        by_client[f.client_id].append(f)
    clients = list(by_client)
    journeys = {
        r["client_id"]: JourneyRow(**r) for r in await _select(session, JourneyProjection, "client_id", clients)
    }
    episodes: dict[uuid.UUID, dict[int, EpisodeRow]] = defaultdict(dict)
    for r in await _select(session, Episode, "client_id", clients):
        episodes[r["client_id"]][r["episode"]] = EpisodeRow(**r)

    # As stored, before folding changes them: only what differs afterwards is written.
    stored = {j.client_id: as_dict(j) for j in journeys.values()}
    stored_episodes = {(e.client_id, e.episode): as_dict(e) for eps in episodes.values() for e in eps.values()}

    folds: list[ClientFold] = []
    refold: list[uuid.UUID] = []
    for client_id, new in by_client.items():
        new.sort(key=_order)
        fold = ClientFold(journeys.get(client_id), episodes.get(client_id, {}))
        if _in_order(fold, new):
            for f in new:
                fold.apply(f)
            folds.append(fold)
        else:
            refold.append(client_id)
    if refold:
        for table in (Spell, Job, JourneyProjection, Episode):
            await _delete(session, table, "client_id", refold)
        all_facts: dict[uuid.UUID, list[Fact]] = defaultdict(list)
        for r in await _select(session, JourneyFact, "client_id", refold):
            all_facts[r["client_id"]].append(Fact(**r))
        refolded = set(refold)
        stored = {k: v for k, v in stored.items() if k not in refolded}
        stored_episodes = {k: v for k, v in stored_episodes.items() if k[0] not in refolded}
        folds += [fold_facts(all_facts[c]) for c in refold]

    journey_rows = [as_dict(f.journey) for f in folds if f.journey is not None]
    episode_rows = [as_dict(ep) for f in folds for ep in f.episodes.values()]
    await _write(session, JourneyProjection, ("client_id",), journey_rows, lambda r: stored.get(r["client_id"]))
    await _write(
        session,
        Episode,
        ("client_id", "episode"),
        episode_rows,
        lambda r: stored_episodes.get((r["client_id"], r["episode"])),
    )
    await _bulk(session, Spell, [s for f in folds for s in f.spells])
    await _bulk(session, Job, [j for f in folds for j in f.jobs])


async def _write(
    session: AsyncSession,
    table: type[ReportingBase],
    keys: tuple[str, ...],
    rows: list[dict[str, Any]],
    before: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> None:
    """Insert the new rows, update the changed ones (one executemany each), skip the rest."""
    new, changed = [], []
    for row in rows:
        old = before(row)
        if old is None:
            new.append(row)
        elif old != row:
            changed.append(row)
    await _bulk(session, table, new)
    await _bulk(session, table, changed, update_keys=keys)


# The journey tables take a row per event or more. Their writes go to the driver as plain
# executemany with values converted here once, as SQLAlchemy's column types would store
# them (UUIDs as text; UTC times, on SQLite as its "YYYY-MM-DD HH:MM:SS.ffffff" text):
# SQLAlchemy's per-value processing was a fifth of the projection's time.


def _converter(column_type: Any, sqlite: bool) -> Callable[[Any], Any] | None:
    if isinstance(column_type, UUIDStr):
        return lambda v: None if v is None else str(v)
    if isinstance(column_type, UTCDateTime):
        if sqlite:
            return lambda v: None if v is None else v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return lambda v: None if v is None else v.astimezone(UTC)
    if sqlite and isinstance(column_type, Date):
        return lambda v: None if v is None else v.isoformat()
    if sqlite and isinstance(column_type, Boolean):
        return lambda v: None if v is None else int(v)
    return None


@dataclass(frozen=True)
class _Statement:
    sql: str
    columns: tuple[str, ...]
    converters: tuple[Callable[[Any], Any] | None, ...]

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            row[c] if convert is None else convert(row[c])
            for c, convert in zip(self.columns, self.converters, strict=True)
        )


@cache
def _statement(table: type[ReportingBase], dialect: Any, update_keys: tuple[str, ...] = ()) -> _Statement:
    t = _table(table)
    quote, paramstyle = dialect.identifier_preparer.quote, dialect.paramstyle
    # An autoincrementing id is the database's to give.
    columns = [c for c in t.columns if not (c.primary_key and c.autoincrement is True)]
    if paramstyle == "numeric_dollar":
        marks = [f"${i + 1}" for i in range(len(columns))]
    elif paramstyle == "qmark":
        marks = ["?"] * len(columns)
    else:  # pragma: no cover - SQLite and PostgreSQL (asyncpg) are the databases Polku runs on
        raise NotImplementedError(paramstyle)
    if update_keys:
        ordered = [c for c in columns if c.key not in update_keys] + [t.c[k] for k in update_keys]
        sets = ", ".join(f"{quote(c.name)} = {m}" for c, m in zip(ordered[: -len(update_keys)], marks, strict=False))
        where = " AND ".join(
            f"{quote(c.name)} = {m}"
            for c, m in zip(ordered[-len(update_keys) :], marks[-len(update_keys) :], strict=True)
        )
        sql = f"UPDATE {quote(t.name)} SET {sets} WHERE {where}"
        columns = ordered
    else:
        names = ", ".join(quote(c.name) for c in columns)
        sql = f"INSERT INTO {quote(t.name)} ({names}) VALUES ({', '.join(marks)})"
    sqlite = dialect.name == "sqlite"
    return _Statement(sql, tuple(c.key for c in columns), tuple(_converter(c.type, sqlite) for c in columns))


async def _bulk(
    session: AsyncSession,
    table: type[ReportingBase],
    rows: Sequence[Mapping[str, Any]],
    *,
    update_keys: tuple[str, ...] = (),
) -> None:
    """Insert ``rows`` (or update them by ``update_keys``) in one executemany."""
    if not rows:
        return
    connection = await session.connection()
    statement = _statement(table, connection.dialect, update_keys)
    await connection.exec_driver_sql(statement.sql, [statement.values(r) for r in rows])


# --------------------------------------------------------------------------- other projections


async def _known(session: AsyncSession, table: type[ReportingBase], column: str, keys: Iterable[Any]) -> set[Any]:
    wanted = list(set(keys))
    if not wanted:
        return set()
    t = _table(table)
    return set((await session.execute(select(t.c[column]).where(t.c[column].in_(wanted)))).scalars())


async def _insert_new(
    session: AsyncSession, table: type[ReportingBase], key: str, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert the rows whose ``key`` is not stored yet (nor earlier in ``rows``)."""
    known = await _known(session, table, key, (r[key] for r in rows))
    fresh = []
    for r in rows:
        if r[key] not in known:
            known.add(r[key])
            fresh.append(r)
    await _insert(session, table, fresh)


async def _merge(
    session: AsyncSession,
    table: type[ReportingBase],
    key: str,
    events: Sequence[E],
    keyof: Callable[[E], uuid.UUID],
    update: Callable[[dict[str, Any] | None, E], dict[str, Any]],
) -> None:
    """Fold events into rows by key: read them once, update in memory, write them back."""
    keys = list(dict.fromkeys(keyof(e) for e in events))
    rows: dict[Any, dict[str, Any]] = {r[key]: dict(r) for r in await _select(session, table, key, keys)}
    for e in events:
        rows[keyof(e)] = update(rows.get(keyof(e)), e)
    await _delete(session, table, key, keys)
    await _insert(session, table, list(rows.values()))


def _referral(row: dict[str, Any] | None, e: ReferralReceived | ReferralAccepted | ReferralDeclined) -> dict[str, Any]:
    row = row or {
        "referral_id": e.referral_id,
        "organisation_id": e.organisation_id,
        "received_day": local_day(e.occurred_at),
        "referrer_type": None,
        "status": "received",
        "decline_reason": None,
        "excluding": False,
    }
    if isinstance(e, ReferralReceived):
        row.update(received_day=local_day(e.occurred_at), referrer_type=e.referrer_type.value)
    elif isinstance(e, ReferralAccepted):
        row.update(status="accepted")
    else:
        row.update(status="declined", decline_reason=e.reason.value, excluding=e.reason in EXCLUDING)
    return row


async def apply_referrals(
    session: AsyncSession, events: list[ReferralReceived | ReferralAccepted | ReferralDeclined]
) -> None:
    await _merge(session, Referral, "referral_id", events, lambda e: e.referral_id, _referral)


async def apply_quick_help(session: AsyncSession, events: list[QuickHelpRecorded]) -> None:
    rows = [
        {
            "quick_help_id": e.quick_help_id,
            "organisation_id": e.organisation_id,
            "coach_id": e.coach_id,
            "topic": e.topic.value,
            "duration_minutes": e.duration_minutes,
            "day": e.occurred_on,
            "month": month_key(e.occurred_on),
            "anonymous": e.anonymous,
        }
        for e in events
    ]
    await _insert_new(session, QuickHelp, "quick_help_id", rows)


async def apply_employer_contacts(session: AsyncSession, events: list[EmployerContactRecorded]) -> None:
    rows = [
        {
            "contact_id": e.contact_id,
            "organisation_id": e.organisation_id,
            "employer_id": e.employer_id,
            "staff_id": e.staff_id,
            "client_id": e.client_id,
            "day": e.occurred_on,
            "mode": e.mode.value,
            "level": e.level,
        }
        for e in events
    ]
    await _insert_new(session, EmployerContact, "contact_id", rows)


def _placement(row: dict[str, Any] | None, e: PlacementStarted | PlacementEnded) -> dict[str, Any]:
    row = row or {
        "placement_id": e.placement_id,
        "organisation_id": e.organisation_id,
        "client_id": e.client_id,
        "employer_id": e.employer_id,
        "industry": None,
        "hours_per_week": None,
        "ended_on": None,
        "end_reason": None,
        "starts_on": e.starts_on if isinstance(e, PlacementStarted) else e.started_on,
    }
    row.update(kind=e.kind.value, permanent=e.permanent, competitive=e.competitive)
    if isinstance(e, PlacementStarted):
        row.update(starts_on=e.starts_on, industry=e.industry, hours_per_week=e.hours_per_week)
    else:
        row.update(ended_on=e.ended_on, end_reason=e.reason.value)
    return row


async def apply_placements(session: AsyncSession, events: list[PlacementStarted | PlacementEnded]) -> None:
    await _merge(session, Placement, "placement_id", events, lambda e: e.placement_id, _placement)


async def apply_assessments(session: AsyncSession, events: list[AssessmentRecorded]) -> None:
    await _insert(
        session,
        Assessment,
        [
            {
                "event_id": e.id,
                "organisation_id": e.organisation_id,
                "client_id": e.client_id,
                "instrument": e.instrument,
                "timing": e.timing,
                "score": e.score,
                "scale_min": e.scale_min,
                "scale_max": e.scale_max,
                "day": e.assessed_on,
            }
            for e in events
        ],
    )


async def apply_feedback(session: AsyncSession, events: list[FeedbackRecorded]) -> None:
    await _insert(
        session,
        FeedbackAnswer,
        [
            {
                "event_id": e.id,
                "question": question,
                "organisation_id": e.organisation_id,
                "survey": e.survey,
                "answer": answer,
                "day": e.answered_on,
            }
            for e in events
            for question, answer in sorted(e.answers.items())
        ],
    )


# --------------------------------------------------------------------------- registry

PROJECTORS: dict[str, Projector] = {
    "journey.started": Projector(JourneyStarted, apply_journey, keeps_ids=True),
    "journey.moved": Projector(JourneyMoved, apply_journey, keeps_ids=True),
    "journey.milestone_recorded": Projector(MilestoneRecorded, apply_journey, keeps_ids=True),
    "journey.reminder_due": Projector(ReminderDue, apply_journey, keeps_ids=True),
    "referral.received": Projector(ReferralReceived, apply_referrals),
    "referral.accepted": Projector(ReferralAccepted, apply_referrals),
    "referral.declined": Projector(ReferralDeclined, apply_referrals),
    "quick_help.recorded": Projector(QuickHelpRecorded, apply_quick_help),
    "employer_contact.recorded": Projector(EmployerContactRecorded, apply_employer_contacts),
    "placement.started": Projector(PlacementStarted, apply_placements),
    "placement.ended": Projector(PlacementEnded, apply_placements),
    "assessment.recorded": Projector(AssessmentRecorded, apply_assessments),
    "feedback.recorded": Projector(FeedbackRecorded, apply_feedback),
}


@dataclass(frozen=True)
class _Envelope:
    id: uuid.UUID
    type: str
    organisation_id: uuid.UUID
    occurred_at: datetime


def _envelope(raw: Mapping[str, Any]) -> _Envelope | None:
    try:
        at = datetime.fromisoformat(str(raw["occurred_at"]))
        if at.tzinfo is None:
            return None
        return _Envelope(uuid.UUID(str(raw["id"])), str(raw["type"]), uuid.UUID(str(raw["organisation_id"])), at)
    except (KeyError, ValueError, TypeError):
        return None


async def apply_batch(db: Database, raws: Sequence[Any]) -> BatchResult:
    """Apply decoded events (dicts, in stream order) once each, in one transaction."""
    result = BatchResult()
    batch: list[tuple[_Envelope, BaseModel | None]] = []
    seen: set[uuid.UUID] = set()
    for raw in raws:
        env = _envelope(raw) if isinstance(raw, Mapping) else None
        if env is None:
            result.invalid += 1
            log.warning("reporting: skipped a message that is not an event")
            continue
        if env.id in seen:
            result.duplicates += 1
            continue
        seen.add(env.id)
        projector = PROJECTORS.get(env.type)
        model: BaseModel | None = None
        if projector is None:
            result.skipped += 1
            result.types_skipped[env.type] = result.types_skipped.get(env.type, 0) + 1
        else:
            try:
                model = projector.model.model_validate(raw)
            except ValidationError as exc:
                result.invalid += 1
                log.warning("reporting: skipped invalid %s event %s: %s", env.type, env.id, exc.error_count())
                continue
        batch.append((env, model))
    if not batch:
        return result

    async with db.session(cross_tenant=True) as session, session.begin():
        facts = [e.id for e, _ in batch if _keeps_ids(e.type)]
        others = [e.id for e, _ in batch if not _keeps_ids(e.type)]
        done = await _known(session, JourneyFact, "event_id", facts) | await _known(
            session, ProcessedEvent, "event_id", others
        )
        fresh = [(e, m) for e, m in batch if e.id not in done]
        result.duplicates += len(batch) - len(fresh)
        if not fresh:
            return result
        now = utcnow()
        await _insert(
            session,
            ProcessedEvent,
            [
                {
                    "event_id": e.id,
                    "type": e.type,
                    "organisation_id": e.organisation_id,
                    "occurred_at": e.occurred_at,
                    "processed_at": now,
                }
                for e, _ in fresh
                if not _keeps_ids(e.type)
            ],
        )
        await _advance_watermarks(session, [e for e, _ in fresh], now)
        groups: dict[Apply, list[Any]] = {}
        for env, model in fresh:
            if model is not None:
                groups.setdefault(PROJECTORS[env.type].apply, []).append(model)
                result.applied += 1
        for apply, models in groups.items():
            await apply(session, models)
    return result


def projection_database(settings: Settings) -> Database:
    """The reporting database as the projection writes it: on SQLite every transaction
    takes the write lock at BEGIN (a batch never fails half-way on a busy database) and
    each connection keeps a larger page cache (the indexes of millions of facts)."""
    db = Database(settings, "reporting", immediate=True)
    if is_sqlite(database_url(settings, "reporting")):

        @event.listens_for(db.engine.sync_engine, "connect")
        def _cache(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

    return db


def _keeps_ids(event_type: str) -> bool:
    projector = PROJECTORS.get(event_type)
    return projector is not None and projector.keeps_ids


async def _advance_watermarks(session: AsyncSession, events: Sequence[_Envelope], now: datetime) -> None:
    """Advance each organisation's watermark in one upsert: consumers of several streams
    (and replicas of one) apply batches of the same organisation at once, and a
    read-then-write would collide on the key or lose counts under PostgreSQL."""
    newest: dict[uuid.UUID, datetime] = {}
    counts: dict[uuid.UUID, int] = defaultdict(int)
    for e in events:
        counts[e.organisation_id] += 1
        if e.organisation_id not in newest or e.occurred_at > newest[e.organisation_id]:
            newest[e.organisation_id] = e.occurred_at
    if not newest:
        return
    rows = [
        {"organisation_id": org, "occurred_at": at, "events": counts[org], "updated_at": now}
        for org, at in newest.items()
    ]
    connection = await session.connection()
    t = _table(Watermark)
    if connection.dialect.name == "postgresql":
        pg = postgresql_insert(t)
        stmt: Any = pg.on_conflict_do_update(
            index_elements=[t.c.organisation_id],
            set_={
                "occurred_at": func.greatest(t.c.occurred_at, pg.excluded.occurred_at),
                "events": t.c.events + pg.excluded.events,
                "updated_at": pg.excluded.updated_at,
            },
        )
    else:
        lite = sqlite_insert(t)
        stmt = lite.on_conflict_do_update(
            index_elements=[t.c.organisation_id],
            set_={
                # SQLite's two-argument max() is the scalar one; the stored texts sort as times.
                "occurred_at": func.max(t.c.occurred_at, lite.excluded.occurred_at),
                "events": t.c.events + lite.excluded.events,
                "updated_at": lite.excluded.updated_at,
            },
        )
    await session.execute(stmt, rows)
