"""The paths reporting takes for speed at 100,000 clients, on real databases: the journey
rows written back only when the fold changed them, each organisation's newest fidelity
review read in two queries however many organisations a region has, and on SQLite the
write-ahead log checkpointed beside the projection instead of inside its commits."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.reporting import projection, store
from services.reporting.metrics import local_day
from services.reporting.models import Episode, FidelityReview, FidelityReviewItem, JourneyProjection
from services.reporting.projection import apply_batch, checkpoints, projection_database
from shared.contracts.journey import Phase
from shared.db import Database
from shared.migrations import upgrade
from shared.settings import Settings
from tests.reporting_data import Journey

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def db(db_settings: Settings) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade, db_settings, "reporting")
    database = projection_database(db_settings)
    try:
        yield database
    finally:
        await database.dispose()


async def test_journey_rows_follow_each_batch_and_read_back_typed(db: Database) -> None:
    org, coach = uuid.uuid4(), uuid.uuid4()
    j = Journey(org, coach_id=coach).start(NOW - timedelta(days=30))
    j.move(NOW - timedelta(days=20), "advance", Phase.PROFILING)
    j.milestone(NOW - timedelta(days=15), "disclosure_discussed", code="b")
    j.move(NOW - timedelta(days=10), "advance", Phase.JOB_SEARCH)
    j.milestone(NOW - timedelta(days=5), "first_employer_contact")
    raws = j.raw()
    # One event per batch: every batch reads the rows the one before wrote, folds on and
    # writes back only what changed.
    for raw in raws:
        await apply_batch(db, [raw])
    async with db.session(organisation_id=org) as s:
        journey = (await s.execute(select(JourneyProjection))).scalar_one()
        episode = (await s.execute(select(Episode))).scalar_one()
    assert (journey.phase, journey.status, journey.last_seq) == ("JOB_SEARCH", "ACTIVE", len(raws) - 1)
    assert journey.client_id == j.client_id and journey.coach_id == coach
    assert journey.since == NOW - timedelta(days=10)
    assert episode.disclosure == "b"
    assert episode.first_contact_at == NOW - timedelta(days=5)
    assert episode.reached_search_at == NOW - timedelta(days=10)
    assert episode.started_day == local_day(NOW - timedelta(days=30))


async def test_batches_applied_at_once_take_turns_and_count_once(db: Database) -> None:
    """Consumers of several streams apply batches at the same time: on SQLite they take
    turns on the projection's one writing connection, on PostgreSQL they run side by side.
    Either way every event counts once, and a batch delivered again counts nothing."""
    org = uuid.uuid4()
    journeys = [Journey(org).start(NOW - timedelta(days=3)) for _ in range(60)]
    for j in journeys:
        j.move(NOW - timedelta(days=2), "advance", Phase.PROFILING)
    raws = [e for j in journeys for e in j.raw()]
    chunks = [raws[i::4] for i in range(4)]
    results = await asyncio.gather(*(apply_batch(db, chunk) for chunk in chunks))
    assert sum(r.applied for r in results) == len(raws)
    again = await apply_batch(db, chunks[0])
    assert (again.applied, again.duplicates) == (0, len(chunks[0]))
    if db.engine.dialect.name == "sqlite":
        assert db.engine.sync_engine.pool.checkedout() == 1  # the writer's connection, kept
    async with db.session(organisation_id=org) as s:
        assert await store.applied_events(s) == len(raws)
        phases = (await s.execute(select(JourneyProjection.phase))).scalars().all()
    assert sorted(phases) == ["PROFILING"] * len(journeys)


async def test_latest_reviews_are_each_organisations_newest_with_its_items(db: Database) -> None:
    orgs = [uuid.uuid4() for _ in range(30)]
    newest: dict[uuid.UUID, uuid.UUID] = {}
    async with db.session(cross_tenant=True) as s, s.begin():
        for n, org in enumerate(orgs[:-1]):  # the last one has no review
            for age in (40, 5, 20):
                review_id = uuid.uuid4()
                s.add(
                    FidelityReview(
                        id=review_id,
                        organisation_id=org,
                        period_start=date(2026, 1, 1),
                        period_end=date(2026, 6, 30),
                        reviewed_at=NOW - timedelta(days=age),
                        reviewer_id=uuid.uuid4(),
                        total=80 + age + n,
                        band="fair",
                    )
                )
                s.add(
                    FidelityReviewItem(
                        review_id=review_id, organisation_id=org, item="caseload", score=age // 5, source="review"
                    )
                )
                if age == 5:
                    newest[org] = review_id
    async with db.session(cross_tenant=True) as s:
        latest = await store.latest_reviews(s, orgs)
    assert set(latest) == set(orgs[:-1])
    for n, org in enumerate(orgs[:-1]):
        found = latest[org]
        assert found.review.id == newest[org]
        assert found.review.total == 85 + n
        assert [(i.item, i.score) for i in found.items] == [("caseload", 1)]
    # An organisation's own session sees its own only.
    async with db.session(organisation_id=orgs[0]) as s:
        assert set(await store.latest_reviews(s, [orgs[0]])) == {orgs[0]}


async def test_the_log_is_checkpointed_beside_the_projection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite only (PostgreSQL has no such log to move): events applied with the checkpoints
    running end up in the database file."""
    settings = Settings(data_dir=tmp_path)
    await asyncio.to_thread(upgrade, settings, "reporting")
    monkeypatch.setattr(projection, "CHECKPOINT_EVERY_S", 0.05)
    db = projection_database(settings)
    task = asyncio.create_task(checkpoints(db))
    try:
        org = uuid.uuid4()
        journeys = [Journey(org).start(NOW - timedelta(days=3)) for _ in range(200)]
        for j in journeys:
            j.move(NOW - timedelta(days=2), "advance", Phase.PROFILING)
        await apply_batch(db, [e for j in journeys for e in j.raw()])
        # The database file alone (immutable=1 reads no log) holds what was applied once
        # the background checkpoint has moved it there; nothing else checkpoints here.
        uri = f"file:{tmp_path / 'reporting.db'}?immutable=1"
        n = 0
        for _ in range(100):  # it runs every 50 ms
            await asyncio.sleep(0.05)
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as plain:
                try:
                    (n,) = plain.execute("SELECT count(*) FROM journeys").fetchone()
                except sqlite3.DatabaseError:  # read (without locks) while a checkpoint wrote the file
                    continue
            if n == 200:
                break
        assert not task.done(), "the checkpoint task stopped"
        assert n == 200
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await db.dispose()
