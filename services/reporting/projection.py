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

import asyncio
import itertools
import logging
import operator
import re
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import Boolean, Date, Table, delete, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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
# SQLite: the write-ahead log is moved into the database file by ``checkpoints`` in the
# background, every CHECKPOINT_EVERY_S; a committing connection does it itself only when
# the log has grown past WAL_AUTOCHECKPOINT_PAGES (4 KiB each) all the same.
CHECKPOINT_EVERY_S = 1.0
WAL_AUTOCHECKPOINT_PAGES = 65536
Apply = Callable[[AsyncSession, list[Any]], Awaitable[None]]


@dataclass(frozen=True)
class Projector:
    model: type[BaseModel]
    apply: Apply
    # Whether ``apply`` keeps the event id itself (journey facts); otherwise it is recorded
    # in ``ProcessedEvent``.
    keeps_ids: bool = False
    # What ``apply`` takes for each validated event, made when the batch is prepared (outside
    # the write transaction); ``apply`` takes the event itself if None.
    shape: Callable[[Any], Any] | None = None


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
# few set-based statements, whatever its size (see ``apply_journey``). Ids stay text (as
# stored) in them: the fold only copies and compares them, and parsing and printing UUIDs
# for every row read and written was a tenth of the projection's time.

Id = str


@dataclass(slots=True)
class Fact:
    """A ``JourneyFact`` row."""

    event_id: Id
    organisation_id: Id
    client_id: Id
    seq: int | None
    episode: int
    kind: str
    at: datetime
    day: date
    month: int
    coach_id: Id
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

    client_id: Id
    organisation_id: Id
    coach_id: Id
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

    client_id: Id
    organisation_id: Id
    episode: int
    coach_id: Id
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
    # Times in UTC from here on: the fold copies them into rows, stored as UTC text.
    at = e.occurred_at.astimezone(UTC)
    fact = Fact(
        event_id=str(e.id),
        organisation_id=str(e.organisation_id),
        client_id=str(e.client_id),
        seq=e.timeline_seq,
        episode=e.episode,
        kind="",
        at=at,
        day=local_day(at),
        month=0,
        coach_id=str(e.coach_id),
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
        fact.milestone_at = e.milestone_occurred_at.astimezone(UTC)
        fact.code = e.code
        fact.contact_mode = e.contact_mode
        fact.day = local_day(fact.milestone_at)  # a milestone counts on its own day
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


async def _delete(session: AsyncSession, table: type[ReportingBase], column: str, keys: Sequence[Any]) -> None:
    t = _table(table)
    await session.execute(delete(t).where(t.c[column].in_(keys)))


async def _insert(session: AsyncSession, table: type[ReportingBase], rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (every column given) in one executemany at the driver's level."""
    if rows:
        connection = await session.connection()
        codec = _codec(table, connection.dialect)
        await _execute_many(connection, codec.insert_sql, [codec.db_row(r) for r in rows])


async def apply_journey(session: AsyncSession, facts: list[Fact]) -> None:
    """Store the facts (``fact_of`` the events, made when the batch was prepared) and fold
    them into each client's rows: read the touched clients' journeys and episodes once,
    fold in memory, write back what changed, each table in one statement."""
    connection = await session.connection()
    dialect = connection.dialect
    fact_codec = _codec(JourneyFact, dialect)
    await _execute_many(connection, fact_codec.insert_sql, [fact_codec.db_row(f) for f in facts])
    by_client: dict[Id, list[Fact]] = defaultdict(list)
    for f in facts:
        by_client[f.client_id].append(f)
    clients = list(by_client)
    journey_codec, episode_codec = _codec(JourneyProjection, dialect), _codec(Episode, dialect)
    # As stored (the driver's values), to write back only what the fold changed.
    stored: dict[Any, tuple[Any, ...]] = {}
    journeys: dict[Id, JourneyRow] = {}
    for raw in await _fetch(connection, journey_codec, "client_id", clients):
        row = JourneyRow(**journey_codec.python(raw))
        journeys[row.client_id] = row
        stored[row.client_id] = raw
    stored_episodes: dict[Any, tuple[Any, ...]] = {}
    episodes: dict[Id, dict[int, EpisodeRow]] = defaultdict(dict)
    for raw in await _fetch(connection, episode_codec, "client_id", clients):
        ep = EpisodeRow(**episode_codec.python(raw))
        episodes[ep.client_id][ep.episode] = ep
        stored_episodes[(ep.client_id, ep.episode)] = raw

    folds: list[ClientFold] = []
    refold: list[Id] = []
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
        all_facts: dict[Id, list[Fact]] = defaultdict(list)
        for raw in await _fetch(connection, fact_codec, "client_id", refold):
            fact = Fact(**fact_codec.python(raw))
            all_facts[fact.client_id].append(fact)
        refolded = set(refold)
        stored = {k: v for k, v in stored.items() if k not in refolded}
        stored_episodes = {k: v for k, v in stored_episodes.items() if k[0] not in refolded}
        folds += [fold_facts(all_facts[c]) for c in refold]

    journey_at = journey_codec.index("client_id")
    await _write(
        connection,
        journey_codec,
        [f.journey for f in folds if f.journey is not None],
        lambda r: stored.get(r[journey_at]),
    )
    client_at, episode_at = episode_codec.index("client_id"), episode_codec.index("episode")
    await _write(
        connection,
        episode_codec,
        [ep for f in folds for ep in f.episodes.values()],
        lambda r: stored_episodes.get((r[client_at], r[episode_at])),
    )
    spell_codec, job_codec = _codec(Spell, dialect), _codec(Job, dialect)
    await _execute_many(connection, spell_codec.insert_sql, [spell_codec.db_row(s) for f in folds for s in f.spells])
    await _execute_many(connection, job_codec.insert_sql, [job_codec.db_row(j) for f in folds for j in f.jobs])


async def _write(
    connection: AsyncConnection,
    codec: _Codec,
    rows: Sequence[JourneyRow | EpisodeRow],
    before: Callable[[tuple[Any, ...]], tuple[Any, ...] | None],
) -> None:
    """Insert the new rows, update the changed ones (one executemany each), skip the rest:
    a row is compared with the stored one as the driver gives and takes the values."""
    new, changed = [], []
    for row in rows:
        values = codec.db_row(row)
        old = before(values)
        if old is None:
            new.append(values)
        elif old != values:
            changed.append(codec.update_params(values))
    await _execute_many(connection, codec.insert_sql, new)
    await _execute_many(connection, codec.update_sql, changed)


# The journey tables take a row per event or more. They are written and read at the
# driver's level, with values converted here once, as SQLAlchemy's column types would
# store and read them (UUIDs as text; UTC times, on SQLite as its "YYYY-MM-DD
# HH:MM:SS.ffffff" text; dates as ISO text and booleans as integers on SQLite):
# SQLAlchemy's per-value processing was a fifth of the projection's time.

SQLITE_TIME = 26  # len("YYYY-MM-DD HH:MM:SS.ffffff")
IN_CHUNK = 500  # keys per IN (...) list


def _uuid_text(v: Any) -> str:
    return v if type(v) is str else str(v)


def _sqlite_time(v: datetime) -> str:
    # isoformat is the faster of the two; the same text as SQLAlchemy's storage format.
    # The fold's times are UTC already (``fact_of``, ``_sqlite_time_in``): no conversion.
    return (v if v.tzinfo is UTC else v.astimezone(UTC)).isoformat(" ", "microseconds")[:SQLITE_TIME]


def _sqlite_time_in(v: str) -> datetime:
    return datetime.fromisoformat(v).replace(tzinfo=UTC)


def _utc(v: datetime) -> datetime:
    return v.astimezone(UTC)


def _to_db(column_type: Any, sqlite: bool) -> Callable[[Any], Any] | None:
    if isinstance(column_type, UUIDStr):
        return _uuid_text
    if isinstance(column_type, UTCDateTime):
        return _sqlite_time if sqlite else _utc
    if sqlite and isinstance(column_type, Date):
        return date.isoformat
    if sqlite and isinstance(column_type, Boolean):
        return int
    return None


def _from_db(column_type: Any, sqlite: bool) -> Callable[[Any], Any] | None:
    if isinstance(column_type, UTCDateTime):
        return _sqlite_time_in if sqlite else _utc
    if sqlite and isinstance(column_type, Date):
        return date.fromisoformat
    if sqlite and isinstance(column_type, Boolean):
        return bool
    return None


@dataclass(frozen=True)
class _Codec:
    """One table at the driver's level: its insert, update and select statements and the
    conversions of its values both ways."""

    table: str
    columns: tuple[str, ...]  # in the statements' order (an autoincrementing id left out)
    keys: tuple[str, ...]  # the primary key
    insert_sql: str
    update_sql: str
    select_sql: str  # ... WHERE {column} IN ( follows
    marks: Callable[[int], str]
    to_db: tuple[tuple[int, Callable[[Any], Any]], ...]
    from_db: tuple[tuple[int, Callable[[Any], Any]], ...]
    update_order: tuple[int, ...]  # the values' order in ``update_sql``: other columns, then the keys
    of_row: Callable[[Any], tuple[Any, ...]]  # the values of a plain row, in ``columns`` order
    of_dict: Callable[[Any], tuple[Any, ...]]  # the same of a dict

    def index(self, column: str) -> int:
        return self.columns.index(column)

    def db_row(self, row: Any) -> tuple[Any, ...]:
        """A row (plain row or dict) as the driver takes it, in ``columns`` order."""
        values = list((self.of_dict if type(row) is dict else self.of_row)(row))
        for i, convert in self.to_db:
            v = values[i]
            if v is not None:
                values[i] = convert(v)
        return tuple(values)

    def update_params(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(values[i] for i in self.update_order)

    def python(self, raw: Sequence[Any]) -> dict[str, Any]:
        """A row the driver gave, as the column types would read it (ids stay text)."""
        values = list(raw)
        for i, convert in self.from_db:
            v = values[i]
            if v is not None:
                values[i] = convert(v)
        return dict(zip(self.columns, values, strict=True))


@cache
def _codec(table: type[ReportingBase], dialect: Any) -> _Codec:
    t = _table(table)
    quote, paramstyle = dialect.identifier_preparer.quote, dialect.paramstyle
    sqlite = dialect.name == "sqlite"
    columns = [c for c in t.columns if not (c.primary_key and c.autoincrement is True)]
    marks: Callable[[int], str]
    if paramstyle == "numeric_dollar":
        marks = _dollar_marks
    elif paramstyle == "qmark":
        marks = _qmarks
    else:  # pragma: no cover - SQLite and PostgreSQL (asyncpg) are the databases Polku runs on
        raise NotImplementedError(paramstyle)
    names = [c.key for c in columns]
    keys = tuple(c.key for c in t.primary_key.columns)
    others = [c for c in columns if c.key not in keys]
    placeholders = marks(len(columns)).split(", ")
    ordered = [*others, *(t.c[k] for k in keys)]
    update_sql = ""
    if set(keys) <= set(names):  # not for a table keyed by an autoincrementing id (insert only)
        sets = ", ".join(f"{quote(c.name)} = {m}" for c, m in zip(others, placeholders, strict=False))
        where = " AND ".join(
            f"{quote(t.c[k].name)} = {m}" for k, m in zip(keys, placeholders[len(others) :], strict=True)
        )
        update_sql = f"UPDATE {quote(t.name)} SET {sets} WHERE {where}"
    listed = ", ".join(quote(c.name) for c in columns)
    return _Codec(
        table=t.name,
        columns=tuple(names),
        keys=keys,
        insert_sql=f"INSERT INTO {quote(t.name)} ({listed}) VALUES ({marks(len(columns))})",
        update_sql=update_sql,
        select_sql=f"SELECT {listed} FROM {quote(t.name)} WHERE ",
        marks=marks,
        to_db=tuple((i, f) for i, c in enumerate(columns) if (f := _to_db(c.type, sqlite)) is not None),
        from_db=tuple((i, f) for i, c in enumerate(columns) if (f := _from_db(c.type, sqlite)) is not None),
        update_order=tuple(names.index(c.key) for c in ordered) if update_sql else (),
        of_row=operator.attrgetter(*names),
        of_dict=operator.itemgetter(*names),
    )


def _dollar_marks(n: int) -> str:
    return ", ".join(f"${i + 1}" for i in range(n))


def _qmarks(n: int) -> str:
    return ", ".join("?" * n)


async def _execute_many(connection: AsyncConnection, sql: str, params: list[tuple[Any, ...]]) -> None:
    if params:
        await connection.exec_driver_sql(sql, params)


async def _fetch(
    connection: AsyncConnection, codec: _Codec, column: str, keys: Sequence[Any], only: tuple[str, ...] = ()
) -> list[tuple[Any, ...]]:
    """The rows whose ``column`` is one of ``keys`` (text ids), as the driver gives them:
    every column in ``codec.columns`` order, or the columns ``only``."""
    found: list[tuple[Any, ...]] = []
    quote = connection.dialect.identifier_preparer.quote
    select_sql = f"SELECT {', '.join(map(quote, only))} FROM {quote(codec.table)} WHERE " if only else codec.select_sql
    for i in range(0, len(keys), IN_CHUNK):
        chunk = tuple(keys[i : i + IN_CHUNK])
        sql = f"{select_sql}{quote(column)} IN ({codec.marks(len(chunk))})"
        found += [tuple(r) for r in await connection.exec_driver_sql(sql, chunk)]
    return found


# --------------------------------------------------------------------------- other projections


async def _insert_new(
    session: AsyncSession, table: type[ReportingBase], key: str, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert the rows whose ``key`` is not stored yet (nor earlier in ``rows``)."""
    connection = await session.connection()
    codec = _codec(table, connection.dialect)
    keys = list(dict.fromkeys(_uuid_text(r[key]) for r in rows))
    known = {found[0] for found in await _fetch(connection, codec, key, keys, (key,))}
    fresh = []
    for r in rows:
        k = _uuid_text(r[key])
        if k not in known:
            known.add(k)
            fresh.append(codec.db_row(r))
    await _execute_many(connection, codec.insert_sql, fresh)


async def _merge(
    session: AsyncSession,
    table: type[ReportingBase],
    key: str,
    events: Sequence[E],
    keyof: Callable[[E], uuid.UUID],
    update: Callable[[dict[str, Any] | None, E], dict[str, Any]],
) -> None:
    """Fold events into rows by key: read them once, update in memory, write them back
    (at the driver's level, as the journey tables; ids stay text in the rows read)."""
    connection = await session.connection()
    codec = _codec(table, connection.dialect)
    keys = list(dict.fromkeys(str(keyof(e)) for e in events))
    rows = {row[key]: row for row in map(codec.python, await _fetch(connection, codec, key, keys))}
    for e in events:
        k = str(keyof(e))
        rows[k] = update(rows.get(k), e)
    quote = connection.dialect.identifier_preparer.quote
    for i in range(0, len(keys), IN_CHUNK):
        chunk = tuple(keys[i : i + IN_CHUNK])
        sql = f"DELETE FROM {quote(codec.table)} WHERE {quote(key)} IN ({codec.marks(len(chunk))})"
        await connection.exec_driver_sql(sql, chunk)
    await _execute_many(connection, codec.insert_sql, [codec.db_row(r) for r in rows.values()])


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
    "journey.started": Projector(JourneyStarted, apply_journey, keeps_ids=True, shape=fact_of),
    "journey.moved": Projector(JourneyMoved, apply_journey, keeps_ids=True, shape=fact_of),
    "journey.milestone_recorded": Projector(MilestoneRecorded, apply_journey, keeps_ids=True, shape=fact_of),
    "journey.reminder_due": Projector(ReminderDue, apply_journey, keeps_ids=True, shape=fact_of),
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


@dataclass(frozen=True, slots=True)
class _Envelope:
    id: Id  # ids as stored (see ``_id_text``)
    type: str
    organisation_id: Id
    occurred_at: datetime


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _id_text(value: Any) -> Id:
    """A UUID as stored (lower-case, hyphenated text); ValueError if it is none. Ids come
    that way off the wire, and checking the text is a fraction of parsing and printing it."""
    if type(value) is str and _CANONICAL_UUID.fullmatch(value):
        return value
    return str(uuid.UUID(str(value)))


def _envelope(raw: Mapping[str, Any]) -> _Envelope | None:
    try:
        at = datetime.fromisoformat(str(raw["occurred_at"]))
        if at.tzinfo is None:
            return None
        return _Envelope(_id_text(raw["id"]), str(raw["type"]), _id_text(raw["organisation_id"]), at)
    except (KeyError, ValueError, TypeError):
        return None


@dataclass
class PreparedBatch:
    """A batch as far as it can be taken without the database: every message's envelope
    read and its event validated (and shaped for its projector), duplicates within the
    batch dropped. Preparing runs outside the write transaction, so a consumer prepares
    its next batch while the database applies the one before."""

    result: BatchResult = field(default_factory=BatchResult)
    events: list[tuple[_Envelope, Any]] = field(default_factory=list)  # (envelope, the projector's input or None)
    seen: set[Id] = field(default_factory=set)  # the event ids in ``events``

    def add(self, raw: Any) -> None:
        """Read and validate the next decoded event (a dict) of the batch."""
        result = self.result
        env = _envelope(raw) if isinstance(raw, Mapping) else None
        if env is None:
            result.invalid += 1
            log.warning("reporting: skipped a message that is not an event")
            return
        if env.id in self.seen:
            result.duplicates += 1
            return
        self.seen.add(env.id)
        projector = PROJECTORS.get(env.type)
        shaped: Any = None
        if projector is None:
            result.skipped += 1
            result.types_skipped[env.type] = result.types_skipped.get(env.type, 0) + 1
        else:
            try:
                model = projector.model.model_validate(raw)
            except ValidationError as exc:
                result.invalid += 1
                log.warning("reporting: skipped invalid %s event %s: %s", env.type, env.id, exc.error_count())
                return
            shaped = projector.shape(model) if projector.shape is not None else model
        self.events.append((env, shaped))


def prepare_batch(raws: Iterable[Any]) -> PreparedBatch:
    """Read and validate decoded events (dicts, in stream order); see ``PreparedBatch``."""
    prepared = PreparedBatch()
    for raw in raws:
        prepared.add(raw)
    return prepared


async def apply_batch(db: Database, raws: Sequence[Any]) -> BatchResult:
    """Apply decoded events (dicts, in stream order) once each, in one transaction."""
    return await apply_prepared(db, prepare_batch(raws))


# PostgreSQL's answers that mean "run the transaction again": deadlock detected, could not
# serialise. Concurrent batches touching the same rows in different orders can meet them.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
TRANSIENT_ATTEMPTS = 5


def is_transient(exc: BaseException) -> bool:
    return getattr(getattr(exc, "orig", None), "sqlstate", None) in TRANSIENT_SQLSTATES


async def apply_prepared(db: Database, prepared: PreparedBatch) -> BatchResult:
    """Apply a prepared batch in one transaction: skip the ids applied before, record the
    new ones, advance the watermarks and run the projectors. A transaction PostgreSQL
    aborts as a deadlock victim (or a serialisation failure) rolls back whole and runs again."""
    for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
        try:
            return await _apply_prepared_once(db, prepared)
        except DBAPIError as exc:
            if attempt == TRANSIENT_ATTEMPTS or not is_transient(exc):
                raise
            log.info("reporting: batch rolled back by the database (%s), attempt %d", exc.orig.sqlstate, attempt)  # type: ignore[union-attr]
            await asyncio.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


async def _apply_prepared_once(db: Database, prepared: PreparedBatch) -> BatchResult:
    # A copy of the counts read while preparing: a rolled-back attempt must not add to them.
    result = replace(prepared.result, types_skipped=dict(prepared.result.types_skipped))
    batch = prepared.events
    if not batch:
        return result
    async with _transaction(db) as session:
        connection = await session.connection()
        # Journey events are kept as facts, the others' ids in ProcessedEvent.
        facts: list[Fact] = [fact for e, fact in batch if _keeps_ids(e.type)]
        others = [e.id for e, _ in batch if not _keeps_ids(e.type)]
        codec = _codec(ProcessedEvent, connection.dialect)
        done = await _stored_facts(connection, facts)
        done.update(raw[0] for raw in await _fetch(connection, codec, "event_id", others, ("event_id",)))
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
        for env, shaped in fresh:
            if shaped is not None:
                groups.setdefault(PROJECTORS[env.type].apply, []).append(shaped)
                result.applied += 1
        for apply, items in groups.items():
            await apply(session, items)
    return result


async def _stored_facts(connection: AsyncConnection, facts: Sequence[Fact]) -> set[Id]:
    """The event ids of those of ``facts`` stored already, found by the table's key (client,
    event id) with a join to the pairs sought."""
    found: set[Id] = set()
    codec = _codec(JourneyFact, connection.dialect)
    for i in range(0, len(facts), IN_CHUNK):
        chunk = facts[i : i + IN_CHUNK]
        marks = codec.marks(2 * len(chunk)).split(", ")
        pairs = ", ".join(f"({client}, {event})" for client, event in zip(marks[::2], marks[1::2], strict=True))
        sql = (
            f"WITH sought (client_id, event_id) AS (VALUES {pairs}) "
            f"SELECT f.event_id FROM sought JOIN {codec.table} AS f "
            "ON f.client_id = sought.client_id AND f.event_id = sought.event_id"
        )
        params = tuple(v for f in chunk for v in (f.client_id, f.event_id))
        found.update(row[0] for row in await connection.exec_driver_sql(sql, params))
    return found


@asynccontextmanager
async def _transaction(db: Database) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that commits when the block ends (rolls back if it raises)."""
    if isinstance(db, ProjectionDatabase):
        async with db.writing() as session:
            yield session
    else:
        async with db.session(cross_tenant=True) as session, session.begin():
            yield session


class ProjectionDatabase(Database):
    """The reporting database as the projection writes it (``projection_database``).

    On SQLite every batch is applied on one connection kept for it, one batch at a time
    (``writing``). SQLite has one writer at a time anyway; the consumers of the streams
    taking turns on separate connections cost twice: a connection waiting for the lock
    polls for it with growing sleeps (up to 100 ms) while the lock may be free, and a
    connection whose database another one has written since discards its whole page
    cache, so each batch read the indexes it updates from the file again."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, "reporting", immediate=True)
        self._sqlite = is_sqlite(database_url(settings, "reporting"))
        self._turn = asyncio.Lock()
        self._writer: AsyncConnection | None = None

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """A cross-tenant session in a transaction: on SQLite on the writer's connection,
        after the batches before it; on PostgreSQL (row locks) as any session."""
        if not self._sqlite:
            async with self.session(cross_tenant=True) as session, session.begin():
                yield session
            return
        async with self._turn:
            if self._writer is None:
                self._writer = await self.engine.connect()
            try:
                async with self.sessions(bind=self._writer) as session:
                    session.info.update(cross_tenant=True)
                    async with session.begin():
                        yield session
            except BaseException:
                # Rolled back; a fresh connection next time in case this one is broken.
                await self._close_writer()
                raise

    async def _close_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer.close()

    async def dispose(self) -> None:
        async with self._turn:
            await self._close_writer()
        await super().dispose()


def projection_database(settings: Settings) -> ProjectionDatabase:
    """The reporting database as the projection writes it: on SQLite every transaction
    takes the write lock at BEGIN (a batch never fails half-way on a busy database), each
    connection keeps a larger page cache (the indexes of millions of facts) and leaves
    checkpointing to ``checkpoints``; batches are applied on one connection, one at a time
    (``ProjectionDatabase``)."""
    db = ProjectionDatabase(settings)
    if is_sqlite(database_url(settings, "reporting")):

        @event.listens_for(db.engine.sync_engine, "connect")
        def _cache(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
            cur.close()

    return db


async def checkpoints(db: Database) -> None:
    """On SQLite, for as long as it runs: copy what the write-ahead log holds into the
    database file every ``CHECKPOINT_EVERY_S``, on a connection of its own.

    SQLite's automatic checkpoint runs inside the commit that crosses the threshold, and
    with the projection's batches (thousands of pages each, at random places in big
    indexes) that was about half of the projection's time: a passive checkpoint here runs
    beside the writer (it takes no write lock and waits for nobody) while the consumers
    decode and fold the next batch. It moves committed pages only: what a commit wrote
    is as safe in the log as in the file."""
    if db.engine.dialect.name != "sqlite":
        return
    while True:
        await asyncio.sleep(CHECKPOINT_EVERY_S)
        try:
            async with db.engine.connect() as connection:
                # On the driver's connection, outside any transaction: SQLAlchemy's would
                # begin one (BEGIN IMMEDIATE here), and SQLite checkpoints only outside.
                driver: Any = (await connection.get_raw_connection()).driver_connection
                cursor = await driver.execute("PRAGMA wal_checkpoint(PASSIVE)")
                busy, frames, copied = await cursor.fetchone()
                await cursor.close()
                if busy:
                    log.debug("reporting: checkpoint busy (%s of %s frames copied)", copied, frames)
        except Exception as exc:  # noqa: BLE001 - the next round tries again; commits checkpoint past the limit
            log.warning("reporting: checkpoint failed (%s)", type(exc).__name__)


def _keeps_ids(event_type: str) -> bool:
    projector = PROJECTORS.get(event_type)
    return projector is not None and projector.keeps_ids


async def _advance_watermarks(session: AsyncSession, events: Sequence[_Envelope], now: datetime) -> None:
    """Advance each organisation's watermark in one upsert: consumers of several streams
    (and replicas of one) apply batches of the same organisation at once, and a
    read-then-write would collide on the key or lose counts under PostgreSQL."""
    newest: dict[Id, datetime] = {}
    counts: dict[Id, int] = defaultdict(int)
    for e in events:
        counts[e.organisation_id] += 1
        if e.organisation_id not in newest or e.occurred_at > newest[e.organisation_id]:
            newest[e.organisation_id] = e.occurred_at
    if not newest:
        return
    # In the organisations' order: concurrent batches then lock the rows in one order and
    # wait for each other instead of deadlocking.
    rows = [
        {"organisation_id": org, "occurred_at": newest[org], "events": counts[org], "updated_at": now}
        for org in sorted(newest, key=str)
    ]
    connection = await session.connection()
    codec = _codec(Watermark, connection.dialect)
    await _execute_many(connection, _watermark_upsert(connection.dialect), [codec.db_row(r) for r in rows])


@cache
def _watermark_upsert(dialect: Any) -> str:
    """The watermark upsert at the driver's level (SQLAlchemy built and compiled it anew
    for every batch): the newer time, the counts added."""
    # SQLite's two-argument max() is the scalar one; the stored texts sort as times.
    newer = "greatest" if dialect.name == "postgresql" else "max"
    return (
        f"{_codec(Watermark, dialect).insert_sql} ON CONFLICT (organisation_id) DO UPDATE SET "
        f"occurred_at = {newer}(watermarks.occurred_at, excluded.occurred_at), "
        "events = watermarks.events + excluded.events, updated_at = excluded.updated_at"
    )
