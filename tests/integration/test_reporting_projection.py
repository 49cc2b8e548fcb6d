"""Reporting's projections and reports on real databases (SQLite and PostgreSQL), fed with
events directly: each event counts once, unknown types are skipped, delivery order does
not change the result, region roll-ups hide small cells, proposed coaching events project."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from services.reporting import reports
from services.reporting.inputs import AssessmentRecorded, FeedbackRecorded
from services.reporting.metrics import Period
from services.reporting.models import FidelityReview, JourneyFact, ReviewIn, ReviewItemIn, Watermark
from services.reporting.projection import apply_batch
from services.reporting.reports import Scope
from shared.contracts.events import EmployerContactRecorded, PlacementStarted, QuickHelpRecorded
from shared.contracts.intake import QuickHelpTopic
from shared.contracts.journey import Outcome, Phase, Status
from shared.db import Database
from shared.migrations import upgrade
from shared.settings import Settings
from tests.reporting_data import Journey

NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD = Period(NOW.date() - timedelta(days=120), NOW.date() + timedelta(days=1))


def _at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


@pytest.fixture
async def db(db_settings: Settings) -> AsyncIterator[Database]:
    await asyncio.to_thread(upgrade, db_settings, "reporting")
    database = Database(db_settings, "reporting", immediate=True)
    try:
        yield database
    finally:
        await database.dispose()


def cohort(org: uuid.UUID, coach: uuid.UUID, outcomes: dict[str, int]) -> list[Journey]:
    """Journeys that start 100 days ago, reach job search, and close with the outcomes given;
    the employed ones record an employer contact and a job first."""
    journeys = []
    for outcome, n in outcomes.items():
        for _ in range(n):
            j = Journey(org, coach_id=coach).start(_at(100))
            j.move(_at(95), "advance", Phase.PROFILING)
            j.move(_at(90), "advance", Phase.JOB_SEARCH)
            if outcome == Outcome.EMPLOYED:
                j.milestone(_at(80), "first_employer_contact")
                j.milestone(_at(70), "benefits_counselling_given")
                j.milestone(_at(60), "job_started")
                j.move(_at(60), "advance", Phase.EMPLOYER_AGREEMENT)
            j.move(_at(10), "close", j.phase, Status.CLOSED, outcome=Outcome(outcome))
            journeys.append(j)
    return journeys


def _raw(journeys: list[Journey]) -> list[dict[str, Any]]:
    return [e for j in journeys for e in j.raw()]


async def _apply(db: Database, raws: list[Any], size: int = 50) -> None:
    for i in range(0, len(raws), size):
        await apply_batch(db, raws[i : i + size])


def _scope(org: uuid.UUID, fte: float = 1.0) -> Scope:
    return Scope((org,), {org: "Org"}, {org: fte})


def _strip(report: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(report.model_dump_json())
    data.pop("organisation_id", None)
    data.pop("data_as_of", None)
    return data


async def test_each_event_counts_once(db: Database) -> None:
    org = uuid.uuid4()
    raws = _raw(cohort(org, uuid.uuid4(), {"employed": 3, "discontinued": 2}))
    await _apply(db, raws)
    again = await apply_batch(db, raws + raws[:5])  # redelivered, and twice in one batch
    assert (again.applied, again.duplicates) == (0, len(raws) + 5)
    await _apply(db, list(reversed(raws)), size=7)
    async with db.session(organisation_id=org) as s:
        outcomes = await reports.outcomes(s, _scope(org), PERIOD, NOW)
        facts = await s.scalar(select(func.count()).select_from(JourneyFact))
        counted = await s.scalar(select(Watermark.events).where(Watermark.organisation_id == org))
    assert facts == counted == len(raws)
    counts = {o.outcome: o.count for o in outcomes.outcomes}
    assert counts["employed"] == 3 and counts["discontinued"] == 2 and outcomes.closed == 5
    assert outcomes.job_starts.first == 3 and outcomes.job_starts.later == 0


async def test_concurrent_batches_of_one_organisation_keep_one_watermark(db: Database) -> None:
    # Consumers of several streams apply batches of the same organisation at once: the
    # watermark must neither collide on its key nor lose counts (PostgreSQL).
    org = uuid.uuid4()
    raws = _raw(cohort(org, uuid.uuid4(), {"employed": 4, "discontinued": 4}))
    newest = max(datetime.fromisoformat(r["occurred_at"]) for r in raws)
    chunks = [raws[i::6] for i in range(6)]
    results = await asyncio.gather(*(apply_batch(db, chunk) for chunk in chunks))
    assert sum(r.applied for r in results) == len(raws)
    async with db.session(organisation_id=org) as s:
        mark = (await s.execute(select(Watermark).where(Watermark.organisation_id == org))).scalar_one()
    assert mark.events == len(raws)
    assert mark.occurred_at == newest


async def test_concurrent_batches_of_many_organisations_in_different_orders_all_apply(db: Database) -> None:
    # Batches from several streams name the same organisations in different orders. On
    # PostgreSQL their row locks could meet in opposite orders (a deadlock, one batch
    # aborted): the watermarks are locked in one order, and an aborted batch runs again.
    orgs = [uuid.uuid4() for _ in range(12)]
    by_org = {org: _raw(cohort(org, uuid.uuid4(), {"employed": 2, "discontinued": 1})) for org in orgs}
    chunks: list[list[dict[str, Any]]] = []
    for k in range(8):
        order = orgs[k:] + orgs[:k] if k % 2 else list(reversed(orgs[k:] + orgs[:k]))
        chunks.append([e for org in order for e in by_org[org][k::8]])
    results = await asyncio.gather(*(apply_batch(db, chunk) for chunk in chunks))
    total = sum(len(events) for events in by_org.values())
    assert sum(r.applied for r in results) == total and sum(r.duplicates for r in results) == 0
    async with db.session(cross_tenant=True) as s:
        marks = {m.organisation_id: m.events for m in (await s.execute(select(Watermark))).scalars()}
    assert {org: marks.get(org) for org in orgs} == {org: len(events) for org, events in by_org.items()}


async def test_unknown_and_invalid_events_are_skipped_not_retried(db: Database) -> None:
    org = uuid.uuid4()
    envelope = {"organisation_id": str(org), "region_id": "r", "occurred_at": NOW.isoformat()}
    result = await apply_batch(
        db,
        [
            {**envelope, "id": str(uuid.uuid4()), "type": "employer.registered", "employer_id": str(uuid.uuid4())},
            {**envelope, "id": str(uuid.uuid4()), "type": "something.new", "whatever": 1},
            {**envelope, "id": str(uuid.uuid4()), "type": "journey.moved"},  # required fields missing
            {"not": "an event"},
            b"\x00binary",
            *Journey(org).start(NOW).raw(),
        ],
    )
    assert (result.applied, result.skipped, result.invalid) == (1, 2, 3)
    assert result.types_skipped == {"employer.registered": 1, "something.new": 1}


async def test_delivery_order_does_not_change_the_projection(db: Database) -> None:
    """The same journeys for two organisations: one in timeline order, the other shuffled
    across batches (late events refold their client). The reports agree."""
    in_order, shuffled = uuid.uuid4(), uuid.uuid4()
    coach = uuid.uuid4()

    def journeys(org: uuid.UUID) -> list[Journey]:
        out = cohort(org, coach, {"employed": 2, "work_trial": 1, "sick_leave": 1})
        j = Journey(org, coach_id=coach).start(_at(50))
        j.move(_at(45), "advance", Phase.PROFILING)
        j.move(_at(40), "rest", Phase.PROFILING, Status.RESTING, rest_reason="life_situation")
        j.move(_at(20), "resume", Phase.PROFILING)
        j.milestone(_at(19), "contact_made", code="home", mode="meeting")
        j.milestone(_at(18), "disclosure_discussed", code="b")
        out.append(j)
        return out

    await _apply(db, _raw(journeys(in_order)))
    raws = _raw(journeys(shuffled))
    random.Random(3).shuffle(raws)
    await _apply(db, raws, size=9)
    results = []
    for org in (in_order, shuffled):
        async with db.session(organisation_id=org) as s:
            scope = _scope(org)
            results.append(
                [
                    _strip(await reports.outcomes(s, scope, PERIOD, NOW)),
                    _strip(await reports.flow(s, scope, PERIOD)),
                    [
                        (i.key, i.value, i.score)
                        for i in (await reports.fidelity_scorecard(s, scope, PERIOD, NOW)).items
                    ],
                ]
            )
    assert results[0] == results[1]
    flow = results[0][1]
    assert {p["phase"]: (p["active"], p["resting"]) for p in flow["phases_now"]}["PROFILING"] == (1, 0)
    assert flow["rest_reasons"] == [{"reason": "life_situation", "rested_in_period": 1, "resting_now": 0}]


async def test_outcomes_and_fidelity_of_a_small_cohort(db: Database) -> None:
    org, coach = uuid.uuid4(), uuid.uuid4()
    journeys = cohort(org, coach, {"employed": 4, "education": 1, "discontinued": 1})
    still = Journey(org, coach_id=coach).start(_at(30)).move(_at(29), "advance", Phase.PROFILING)
    journeys.append(still)
    staff = uuid.uuid4()
    employer = uuid.uuid4()
    extra = [
        EmployerContactRecorded(
            organisation_id=org,
            region_id="r",
            contact_id=uuid.uuid4(),
            employer_id=employer if i % 2 else uuid.uuid4(),
            staff_id=staff,
            occurred_on=_at(5 + i).date(),
            mode="face_to_face" if i < 8 else "email",
            client_present=False,
            purposes=["learn_needs"],
            level=5 if i < 4 else 3,
        ).model_dump(mode="json")
        for i in range(10)
    ]
    extra += [
        PlacementStarted(
            organisation_id=org,
            region_id="r",
            placement_id=uuid.uuid4(),
            client_id=j.client_id,
            employer_id=uuid.uuid4(),
            kind="open_market",
            industry=["G", "I", "Q", "Q"][i],
            starts_on=_at(60).date(),
            hours_per_week=[20, 30, 37.5, 25][i],
            permanent=True,
            competitive=True,
        ).model_dump(mode="json")
        for i, j in enumerate(journeys[:4])
    ]
    extra += [
        QuickHelpRecorded(
            organisation_id=org,
            region_id="r",
            quick_help_id=uuid.uuid4(),
            coach_id=coach,
            topic=QuickHelpTopic.CV if i < 3 else QuickHelpTopic.INTERVIEW_PREPARATION,
            duration_minutes=30,
            occurred_on=_at(3).date(),
            anonymous=i == 0,
        ).model_dump(mode="json")
        for i in range(5)
    ]
    await _apply(db, _raw(journeys) + extra)
    scope = _scope(org, fte=0.5)
    async with db.session(organisation_id=org) as s:
        out = await reports.outcomes(s, scope, PERIOD, NOW)
        card = await reports.fidelity_scorecard(s, scope, PERIOD, NOW)
        evidence = await reports.fidelity_evidence(s, scope, PERIOD, NOW, "rapid_search")
        quick = await reports.quick_help(s, scope, PERIOD)
        flow = await reports.flow(s, scope, PERIOD)

    assert [(o.outcome, o.count) for o in out.outcomes][:8] == [
        ("employed", 4),
        ("work_trial", 0),
        ("rehabilitative_work_activity", 0),
        ("work_ability_assessment", 0),
        ("education", 1),
        ("discontinued", 1),
        ("disengaged", 0),
        ("sick_leave", 0),
    ]
    assert (out.closed, out.employment_rate, out.served, out.worked) == (6, 66.7, 7, 4)
    assert (out.days_to_first_employer_contact.n, out.days_to_first_employer_contact.median) == (4, 20.0)
    assert (out.days_to_first_job.median, out.hours_per_week.median, out.hours_per_week.n) == (40.0, 27.5, 4)

    items = {i.key: i for i in card.items}
    assert (items["caseload"].value, items["caseload"].score) == (2.0, 5)  # 1 active / 0.5 FTE
    assert (items["rapid_search"].value, items["rapid_search"].score) == (20.0, 5)
    assert (items["work_incentives"].value, items["work_incentives"].score) == (100.0, 5)
    weeks = PERIOD.days / 7
    assert items["contact_frequency"].value == round(8 / (0.5 * weeks), 2)
    assert (items["contact_quality"].value, items["contact_quality"].score) == (3.8, 4)
    assert (items["job_type_diversity"].value, items["job_type_diversity"].score) == (75.0, 4)
    assert (items["employer_diversity"].value, items["competitive_jobs"].value) == (100.0, 100.0)
    assert items["staff_focus"].score is None and not card.complete and card.band is None
    assert [r.client_id for r in evidence.rows] == [j.client_id for j in journeys[:4]]
    assert all(r.ok and r.value == 20.0 for r in evidence.rows)

    assert {t.topic: t.count for t in quick.topics if t.count} == {"cv": 3, "interview_preparation": 2}
    assert (quick.total, quick.anonymous, quick.minutes) == (5, 1, 150)
    js = {(t.phase, t.status): t.days for t in flow.time_in_phase}
    assert (js[("JOB_SEARCH", "ACTIVE")].n, js[("JOB_SEARCH", "ACTIVE")].median) == (6, 30.0)

    # A review fills in the other items; the automatic ones are stored as measured.
    body = ReviewIn(
        period_start=PERIOD.start,
        period_end=PERIOD.end,
        items=[ReviewItemIn(item=i.key, score=4, note="ok") for i in card.items if i.score is None],
    )
    review = await reports.create_review(db, scope, body, uuid.uuid4(), NOW)
    expected = sum(i.score or 4 for i in card.items)
    assert review.total == expected and len(review.items) == 25
    async with db.session(organisation_id=org) as s:
        card = await reports.fidelity_scorecard(s, scope, PERIOD, NOW)
    assert card.complete and card.total == expected and card.reviews[0].id == review.id
    with pytest.raises(reports.ReviewError):
        await reports.create_review(db, scope, body.model_copy(update={"items": body.items[1:]}), uuid.uuid4(), NOW)
    async with db.session(organisation_id=org) as s:
        assert await s.scalar(select(func.count()).select_from(FidelityReview)) == 1


async def test_scorecard_and_evidence_agree(db: Database) -> None:
    """Each automatic item measured twice: in SQL for the scorecard, row by row for the
    evidence page. Both give the same value from the same events."""
    org, coach = uuid.uuid4(), uuid.uuid4()
    journeys = cohort(org, coach, {"employed": 3, "discontinued": 2})
    j = Journey(org, coach_id=coach).start(_at(90))
    j.move(_at(89), "advance", Phase.PROFILING).move(_at(88), "advance", Phase.JOB_SEARCH)
    j.milestone(_at(87), "contact_made", code="community", mode="meeting")
    j.milestone(_at(86), "contact_made", code="office", mode="meeting")
    j.milestone(_at(85), "disclosure_discussed", code="a").milestone(_at(85), "disclosure_discussed", code="b")
    j.reminder(_at(60), "silence_outreach").milestone(_at(55), "contact_made", code="remote", mode="outreach")
    j.reminder(_at(40), "silence_outreach")  # nobody reached out
    j.reminder(_at(3), "silence_outreach")  # the window is still open: not counted yet
    j.milestone(_at(30), "job_started").move(_at(30), "advance", Phase.EMPLOYER_AGREEMENT)
    j.move(_at(29), "advance", Phase.FOLLOW_ALONG).reminder(_at(20), "follow_along_contact")
    journeys.append(j)
    await _apply(db, _raw(journeys))
    scope = _scope(org)
    async with db.session(organisation_id=org) as s:
        card = await reports.fidelity_scorecard(s, scope, PERIOD, NOW)
        items = {i.key: i for i in card.items}
        for key in (i.key for i in card.items if i.automatic):
            detail = await reports.fidelity_evidence(s, scope, PERIOD, NOW, key)
            assert (detail.value, detail.base) == (items[key].value, items[key].base), key
    assert (items["assertive_engagement"].value, items["assertive_engagement"].base) == (50.0, 2)
    assert (items["time_unlimited"].value, items["time_unlimited"].base) == (75.0, 4)
    assert (items["community_based"].value, items["community_based"].base) == (33.3, 3)
    assert (items["disclosure"].value, items["disclosure"].base) == (1.33, 6)
    assert (items["work_incentives"].value, items["work_incentives"].base) == (75.0, 4)


async def test_region_rollup_hides_cells_under_five(db: Database) -> None:
    big, small = uuid.uuid4(), uuid.uuid4()
    await _apply(
        db,
        _raw(cohort(big, uuid.uuid4(), {"employed": 8, "discontinued": 6, "education": 2}))
        + _raw(cohort(small, uuid.uuid4(), {"employed": 5, "discontinued": 1})),
    )
    scope = Scope((big, small), {big: "Big", small: "Small"}, {big: 1.0, small: 1.0}, region_id="kymenlaakso")
    async with db.session(cross_tenant=True) as s:
        region = await reports.region(s, scope, PERIOD)
        side = await reports.region_fidelity(s, scope, PERIOD, NOW)
    rows = {o.name: o for o in region.organisations}
    assert (rows["Big"].outcomes["employed"], rows["Small"].outcomes["employed"]) == (8, 5)
    assert region.total.outcomes["employed"] == 13
    assert rows["Big"].outcomes["education"] is None  # 2 people
    # Small's 1 discontinued is hidden; the region total 7 shows, so Big's 6 is hidden too.
    assert (rows["Small"].outcomes["discontinued"], rows["Big"].outcomes["discontinued"]) == (None, None)
    assert region.total.outcomes["discontinued"] == 7
    assert all(v is None or v >= 5 for o in [*region.organisations, region.total] for v in o.outcomes.values())
    assert (rows["Big"].closed, rows["Small"].closed, region.total.closed) == (16, 6, 22)
    assert (rows["Big"].employment_rate, rows["Small"].employment_rate) == (50.0, 83.3)
    text = region.model_dump_json() + side.model_dump_json()
    assert "client_id" not in text
    small_scores = next(o for o in side.organisations if o.name == "Small").scores
    big_scores = next(o for o in side.organisations if o.name == "Big").scores
    assert big_scores["work_incentives"] == 5  # 8 job starts, all after benefits counselling
    assert small_scores["rapid_search"] == 5 and small_scores["disclosure"] == 1
    assert small_scores["community_based"] is None  # no contacts recorded


async def test_proposed_assessment_and_feedback_events_project(db: Database) -> None:
    org = uuid.uuid4()
    clients = [uuid.uuid4() for _ in range(3)]
    events: list[Any] = []
    for i, client in enumerate(clients):
        for timing, score in (("start", 4 + i), ("end", 6 + i if i < 2 else 4 + i)):
            events.append(
                AssessmentRecorded(
                    organisation_id=org,
                    region_id="r",
                    client_id=client,
                    coach_id=uuid.uuid4(),
                    instrument="work_ability",
                    timing=timing,
                    score=score,
                    scale_min=0,
                    scale_max=10,
                    assessed_on=date.today() - timedelta(days=30 if timing == "start" else 2),
                )
            )
    events += [
        FeedbackRecorded(
            organisation_id=org,
            region_id="r",
            response_id=uuid.uuid4(),
            answered_on=date.today(),
            answers={"goals_clearer": a, "job_search_skills": 5},
        )
        for a in (3, 4, 5, 5)
    ]
    await _apply(db, [e.model_dump(mode="json") for e in events])
    async with db.session(organisation_id=org) as s:
        r = await reports.assessments(s, _scope(org), PERIOD)
    work = next(i for i in r.instruments if i.instrument == "work_ability")
    assert (work.clients, work.improved, work.unchanged, work.worsened) == (3, 2, 1, 0)
    assert (work.mean_start, work.mean_end, work.mean_change) == (50.0, 63.3, 13.3)
    goals = next(q for q in r.feedback if q.question == "goals_clearer")
    assert (goals.answers, goals.mean, goals.distribution) == (4, 4.25, {1: 0, 2: 0, 3: 1, 4: 1, 5: 2})
