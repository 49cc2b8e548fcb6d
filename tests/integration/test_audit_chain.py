"""The audit hash chain on a real database: tampering is found and named."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, text, update

from shared.audit import AuditEntry, AuditLog, verify_chain
from shared.db import Database
from shared.migrations import upgrade
from shared.platform import AuditHead, AuditRecord
from shared.settings import Settings


@pytest.fixture
async def platform(db_settings: Settings) -> Database:
    import asyncio

    await asyncio.to_thread(upgrade, db_settings, "platform")
    db = Database(db_settings, "platform", immediate=True)
    yield db  # type: ignore[misc]
    await db.dispose()


async def _fill(log: AuditLog, org: uuid.UUID, n: int) -> None:
    client = uuid.uuid4()
    for i in range(n):
        await log.append(AuditEntry(org, uuid.uuid4(), "coach", f"client.read.{i}", client, trace_id="ab" * 16))


async def test_intact_chains_verify(platform: Database) -> None:
    log = AuditLog(platform)
    a, b = uuid.uuid4(), uuid.uuid4()
    await _fill(log, a, 5)
    await _fill(log, b, 3)
    reports = {r.organisation_id: r for r in await verify_chain(platform)}
    assert reports[a].records == 5 and reports[a].broken is None
    assert reports[b].records == 3 and reports[b].broken is None


async def test_concurrent_appends_keep_one_chain(platform: Database) -> None:
    import asyncio

    log = AuditLog(platform)
    org = uuid.uuid4()
    await asyncio.gather(*[_fill(log, org, 5) for _ in range(8)])
    (report,) = [r for r in await verify_chain(platform) if r.organisation_id == org]
    assert report.records == 40 and report.broken is None


async def test_edited_row_is_named(platform: Database) -> None:
    log = AuditLog(platform)
    org = uuid.uuid4()
    await _fill(log, org, 6)
    async with platform.session() as s, s.begin():
        await s.execute(
            update(AuditRecord).where(AuditRecord.organisation_id == org, AuditRecord.seq == 4).values(action="nothing")
        )
    (report,) = [r for r in await verify_chain(platform) if r.organisation_id == org]
    assert report.broken is not None and report.broken.seq == 4
    assert "changed" in report.broken.problem


async def test_deleted_row_and_deleted_tail_are_found(platform: Database) -> None:
    log = AuditLog(platform)
    org, org2 = uuid.uuid4(), uuid.uuid4()
    await _fill(log, org, 6)
    await _fill(log, org2, 6)
    async with platform.session() as s, s.begin():
        await s.execute(delete(AuditRecord).where(AuditRecord.organisation_id == org, AuditRecord.seq == 3))
        await s.execute(delete(AuditRecord).where(AuditRecord.organisation_id == org2, AuditRecord.seq == 6))
    reports = {r.organisation_id: r for r in await verify_chain(platform)}
    assert reports[org].broken is not None and reports[org].broken.seq == 3
    assert reports[org2].broken is not None and reports[org2].broken.seq == 6


async def test_rewritten_chain_without_head_is_found(platform: Database) -> None:
    """Deleting a row and re-linking the rest still disagrees with the stored head."""
    log = AuditLog(platform)
    org = uuid.uuid4()
    await _fill(log, org, 3)
    async with platform.session() as s, s.begin():
        await s.execute(delete(AuditHead).where(AuditHead.organisation_id == org))
    (report,) = [r for r in await verify_chain(platform) if r.organisation_id == org]
    assert report.broken is not None


def test_cli_names_the_edited_row(tmp_path: Path) -> None:
    """`polku audit verify` against a SQLite store edited by hand with sqlite3."""
    import asyncio
    import sqlite3

    settings = Settings(data_dir=tmp_path)
    upgrade(settings, "platform")
    org = uuid.uuid4()

    async def fill() -> None:
        db = Database(settings, "platform", immediate=True)
        await _fill(AuditLog(db), org, 5)
        await db.dispose()

    asyncio.run(fill())
    env = {"POLKU_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run([sys.executable, "-m", "polku", "audit", "verify"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert f"organisation {org}: 5 records, chain intact" in ok.stdout

    con = sqlite3.connect(tmp_path / "platform.db")
    row_id = con.execute("SELECT id FROM audit_records WHERE seq = 2").fetchone()[0]
    con.execute("UPDATE audit_records SET purpose = 'covering tracks' WHERE seq = 2")
    con.commit()
    con.close()
    bad = subprocess.run([sys.executable, "-m", "polku", "audit", "verify"], env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert f"organisation {org}: chain broken at seq 2 (row id {row_id})" in bad.stdout


async def test_unscoped_head_table_is_not_tenant_filtered(platform: Database) -> None:
    # The audit tables are deliberately outside tenant scoping: verify reads every chain.
    async with platform.session() as s:
        await s.execute(text("SELECT count(*) FROM audit_heads"))
