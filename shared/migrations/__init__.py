"""Alembic migrations, one environment per database.

``upgrade_all`` brings every database to its newest revision (``polku migrate``).
Each database's scripts live beside its models (``services/X/migrations``,
``shared/migrations/platform``); on PostgreSQL each database is a schema.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from shared.db import create_engine, database_url, is_sqlite
from shared.settings import DATABASES, Settings

ROOT = Path(__file__).resolve().parents[2]


def script_location(database: str) -> Path:
    if database == "platform":
        return ROOT / "shared" / "migrations" / "platform"
    return ROOT / "services" / database / "migrations"


def alembic_config(settings: Settings, database: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location(database)))
    cfg.attributes["polku_settings"] = settings
    cfg.attributes["polku_database"] = database
    return cfg


def upgrade(settings: Settings, database: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings, database), revision)


def upgrade_all(settings: Settings) -> list[str]:
    for database in DATABASES:
        upgrade(settings, database)
    return list(DATABASES)


def make_revision(settings: Settings, database: str, message: str) -> None:
    command.revision(alembic_config(settings, database), message=message, autogenerate=True)


def run_env(target_metadata: MetaData) -> None:
    """The body of every ``env.py``: online migrations through the async engine."""
    from alembic import context

    cfg = context.config
    settings: Settings = cfg.attributes["polku_settings"]
    database: str = cfg.attributes["polku_database"]
    url = database_url(settings, database)
    sqlite = is_sqlite(url)

    def do_run(connection: Connection) -> None:
        opts: dict[str, Any] = {"render_as_batch": sqlite}
        if not sqlite:
            opts["version_table_schema"] = database
        context.configure(connection=connection, target_metadata=target_metadata, **opts)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        if not sqlite:
            admin = create_engine(settings, database)
            async with admin.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{database}"'))
            await admin.dispose()
        engine = create_engine(settings, database)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run_async())
