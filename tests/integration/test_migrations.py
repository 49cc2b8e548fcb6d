"""Migrations and models agree, on SQLite and PostgreSQL, and upgrading twice is harmless."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from shared.db import create_engine
from shared.migrations import upgrade_all
from shared.settings import DATABASES, Settings


def _metadata(database: str) -> MetaData:
    if database == "platform":
        from shared.platform import PlatformBase

        return PlatformBase.metadata
    module = __import__(f"services.{database}.models", fromlist=["x"])
    base = getattr(module, f"{database.capitalize()}Base")
    return base.metadata  # type: ignore[no-any-return]


async def test_models_match_migrations(db_settings: Settings) -> None:
    await asyncio.to_thread(upgrade_all, db_settings)
    await asyncio.to_thread(upgrade_all, db_settings)
    for database in DATABASES:
        engine = create_engine(db_settings, database)
        async with engine.connect() as conn:

            def diff(sync_conn, metadata=_metadata(database)):  # type: ignore[no-untyped-def]
                return compare_metadata(MigrationContext.configure(sync_conn), metadata)

            changes = await conn.run_sync(diff)
        await engine.dispose()
        assert changes == [], f"{database}: models and migrations differ: {changes}"


def _downgrade_all_then_upgrade(settings: Settings) -> None:
    from alembic import command

    from shared.migrations import alembic_config

    for database in DATABASES:
        command.downgrade(alembic_config(settings, database), "base")
    upgrade_all(settings)


async def test_every_migration_downgrades_and_upgrades_again(db_settings: Settings) -> None:
    """A release can be rolled back: from head down to an empty database and up again, on
    both databases; afterwards models and migrations still agree."""
    await asyncio.to_thread(upgrade_all, db_settings)
    await asyncio.to_thread(_downgrade_all_then_upgrade, db_settings)
    await test_models_match_migrations(db_settings)
