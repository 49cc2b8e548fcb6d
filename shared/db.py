"""Databases: one per service (SQLite file each by default, a PostgreSQL schema each
in production) plus ``platform`` for organisations, users and the audit log."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, String, TypeDecorator, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.settings import Settings


def utcnow() -> datetime:
    return datetime.now(UTC)


class UUIDStr(TypeDecorator[uuid.UUID]):
    """UUIDs stored as 36-character strings, the same on SQLite and PostgreSQL."""

    impl = String(36)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> uuid.UUID | None:
        return None if value is None else uuid.UUID(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)  # type: ignore[no-any-return]

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)  # type: ignore[no-any-return]


def database_url(settings: Settings, database: str) -> str:
    if settings.database_url:
        return settings.database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{settings.sqlite_path(database)}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


async def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """An INSERT into ``table`` in the session's database dialect, which has
    ``on_conflict_do_nothing`` / ``on_conflict_do_update`` (both SQLite and PostgreSQL)."""
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    connection = await session.connection()
    return postgresql_insert(table) if connection.dialect.name == "postgresql" else sqlite_insert(table)


async def serialise_on(session: AsyncSession, key: uuid.UUID) -> None:
    """Until the session's transaction ends, other transactions serialising on ``key`` wait.

    PostgreSQL: a transaction-scoped advisory lock on the key. SQLite: every write
    transaction already holds the database's write lock from BEGIN IMMEDIATE, so there is
    nothing more to take (an engine made with ``immediate=False`` must not rely on this).
    """
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key.int >> 65})


def create_engine(settings: Settings, database: str, *, immediate: bool = True) -> AsyncEngine:
    """An engine for one database.

    ``immediate`` (SQLite): every transaction takes the write lock at BEGIN. A deferred
    transaction that reads, then writes after another connection wrote, fails at once with
    "database is locked" (SQLite cannot wait there without risking deadlock); an immediate
    one waits its turn (busy_timeout). Serialising transactions is fine for the embedded
    stack; PostgreSQL, in production, uses row locks instead.
    """
    url = database_url(settings, database)
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")  # first: switching to WAL may itself wait
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_async_engine(
        url,
        pool_pre_ping=True,
        connect_args={"server_settings": {"search_path": database}},
    )


class Database:
    """An engine and its session factory for one database."""

    def __init__(self, settings: Settings, name: str, *, immediate: bool = True) -> None:
        self.name = name
        self.engine = create_engine(settings, name, immediate=immediate)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self, **info: Any) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            session.info.update(info)
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
