"""The reports: store queries in, ``metrics`` decisions, report models out.

Each builder takes a ``Scope`` (the organisations it may read, plus what it needs from
the platform: names, coaches' FTE) and a period, so the organisation reports and the
region roll-ups are the same code.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import fidelity, store
from services.reporting.metrics import (
    EMPLOYMENT_RATE_AVERAGE,
    EMPLOYMENT_RATE_EXCELLENT,
    ITEM_BY_KEY,
    ITEMS,
    MIN_CELL,
    EconomicsParams,
    Period,
    bucket_of,
    days_between,
    economics,
    fidelity_total,
    score_caseload,
    score_item,
    share,
    summarise,
    suppress,
    suppress_lines,
)
from services.reporting.models import (
    AssessmentsReport,
    CaseloadClient,
    CaseloadReport,
    CaseloadTotals,
    CoachCaseload,
    EconomicsOut,
    EconomicsReport,
    EvidenceReport,
    FeedbackQuestion,
    FidelityItemOut,
    FidelityReport,
    FidelityReview,
    FidelityReviewItem,
    FlowReport,
    InstrumentChange,
    JobStarts,
    OutcomeCount,
    OutcomesReport,
    PeriodOut,
    PhaseNow,
    QuickHelpReport,
    ReasonCount,
    RegionFidelityOrg,
    RegionFidelityReport,
    RegionOrganisation,
    RegionReport,
    ReviewIn,
    ReviewItemIn,
    ReviewItemOut,
    ReviewOut,
    ReviewSummary,
    Stat,
    TeamCaseload,
    TimeInPhase,
    TopicCount,
    Transition,
)
from shared.contracts.employer import PlacementKind
from shared.contracts.intake import QuickHelpTopic
from shared.contracts.journey import PHASE_ORDER, Outcome, Status
from shared.db import Database
from shared.identity import Identity

CASELOAD_PER_FTE = 20

# The pilot's outcome table, in its order (shared/domain/IPS.md); other codes follow when they occur.
PILOT_OUTCOMES: tuple[str, ...] = tuple(
    o.value
    for o in (
        Outcome.EMPLOYED,
        Outcome.WORK_TRIAL,
        Outcome.REHABILITATIVE_WORK_ACTIVITY,
        Outcome.WORK_ABILITY_ASSESSMENT,
        Outcome.EDUCATION,
        Outcome.DISCONTINUED,
        Outcome.DISENGAGED,
        Outcome.SICK_LEAVE,
    )
)
ALL_OUTCOMES: tuple[str, ...] = (*PILOT_OUTCOMES, *(o.value for o in Outcome if o.value not in PILOT_OUTCOMES))


@dataclass(frozen=True)
class Scope:
    """The organisations a report covers and what reporting knows of them from the platform."""

    organisations: tuple[uuid.UUID, ...]
    names: Mapping[uuid.UUID, str] = field(default_factory=dict)
    coach_fte: Mapping[uuid.UUID, float] = field(default_factory=dict)
    region_id: str | None = None

    @property
    def single(self) -> uuid.UUID | None:
        return self.organisations[0] if self.region_id is None and len(self.organisations) == 1 else None


async def organisation_scope(identity: Identity, organisation_id: uuid.UUID) -> Scope:
    org = await identity.organisation(organisation_id)
    return Scope(
        (organisation_id,),
        {organisation_id: org.name if org else str(organisation_id)},
        {organisation_id: await _coach_fte(identity, organisation_id)},
    )


async def region_scope(identity: Identity, region_id: str, platform: Database) -> Scope:
    """The region's organisations, with their coaches' FTE summed in one query (a region
    may have hundreds of organisations)."""
    from shared.contracts.journey import Role
    from shared.platform import User

    orgs = [o for o in await identity.organisations() if o.region_id == region_id]
    ids = tuple(o.id for o in orgs)
    fte: dict[uuid.UUID, float] = {}
    if ids:
        async with platform.session(cross_tenant=True) as session:
            rows = await session.execute(
                select(User.organisation_id, func.sum(User.fte))
                .where(User.organisation_id.in_(ids), User.role == Role.COACH.value, User.active.is_(True))
                .group_by(User.organisation_id)
            )
            fte = {org: round(float(total or 0), 2) for org, total in rows.all()}
    return Scope(ids, {o.id: o.name for o in orgs}, {org: fte.get(org, 0.0) for org in ids}, region_id=region_id)


async def _coach_fte(identity: Identity, organisation_id: uuid.UUID) -> float:
    from shared.contracts.journey import Role

    return round(sum(u.fte for u in await identity.users(organisation_id, Role.COACH)), 2)


def period_out(period: Period) -> PeriodOut:
    return PeriodOut(start=period.start, end=period.end, granularity=period.granularity, buckets=period.buckets())


def stat(values: Iterable[float]) -> Stat:
    s = summarise(list(values))
    return Stat(n=s.n, median=s.median, p90=s.p90, mean=s.mean)


async def _head(session: AsyncSession, scope: Scope, period: Period | None) -> dict[str, object]:
    return {
        "organisation_id": scope.single,
        "region_id": scope.region_id,
        "data_as_of": await store.data_as_of(session, scope.organisations),
        "period": period_out(period) if period else None,
    }


# --------------------------------------------------------------------------- caseload


@dataclass(frozen=True)
class Staff:
    id: uuid.UUID
    username: str
    role: str
    fte: float
    team_id: uuid.UUID | None = None


def team_caseloads(
    coaches: Sequence[CoachCaseload], staff: Mapping[uuid.UUID, Staff], team_names: Mapping[uuid.UUID, str]
) -> list[TeamCaseload]:
    """The coaches' caseloads summed per team, in team-name order; coaches in no team last."""
    by_team: dict[uuid.UUID | None, list[CoachCaseload]] = defaultdict(list)
    for coach in coaches:
        user = staff.get(coach.coach_id)
        by_team[user.team_id if user else None].append(coach)
    for named in team_names:
        by_team.setdefault(named, [])
    out = []
    for team_id, members in by_team.items():
        fte = sum(c.fte for c in members)
        active = sum(c.active_clients for c in members)
        out.append(
            TeamCaseload(
                team_id=team_id,
                name=team_names.get(team_id) if team_id else None,
                coaches=len(members),
                fte=round(fte, 2),
                capacity=round(CASELOAD_PER_FTE * fte),
                active_clients=active,
                resting_clients=sum(c.resting_clients for c in members),
                per_fte=round(active / fte, 1) if fte else None,
            )
        )
    return sorted(out, key=lambda t: (t.team_id is None, t.name or ""))


def caseload_report(
    organisation_id: uuid.UUID,
    rows: Iterable[Any],
    staff: Mapping[uuid.UUID, Staff],
    data_as_of: datetime | None,
    only_coach: uuid.UUID | None = None,
    team_names: Mapping[uuid.UUID, str] | None = None,
) -> CaseloadReport:
    by_coach: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in rows:
        if row.status != Status.CLOSED.value:
            by_coach[row.coach_id].append(row)
    # Every coach appears, with or without clients; so does anyone still holding clients.
    coach_ids = set(by_coach) | {u.id for u in staff.values() if u.role == "coach"}

    def order(coach_id: uuid.UUID) -> tuple[str, str]:
        user = staff.get(coach_id)
        return (user.username if user else "~", str(coach_id))

    coaches = []
    for coach_id in sorted(coach_ids, key=order):
        user = staff.get(coach_id)
        fte = user.fte if user else 1.0
        clients = by_coach.get(coach_id, [])
        active = sum(1 for c in clients if c.status == Status.ACTIVE.value)
        coaches.append(
            CoachCaseload(
                coach_id=coach_id,
                username=user.username if user else None,
                fte=fte,
                capacity=round(CASELOAD_PER_FTE * fte),
                active_clients=active,
                resting_clients=len(clients) - active,
                per_fte=round(active / fte, 1) if fte else None,
                clients=[
                    CaseloadClient(
                        client_id=c.client_id, phase=c.phase, status=c.status, since=c.since, rest_reason=c.rest_reason
                    )
                    for c in clients
                ],
            )
        )
    coach_fte = sum(u.fte for u in staff.values() if u.role == "coach")
    active_total = sum(c.active_clients for c in coaches)
    per_fte = round(active_total / coach_fte, 1) if coach_fte else None
    totals = CaseloadTotals(
        coaches=sum(1 for u in staff.values() if u.role == "coach"),
        fte=round(coach_fte, 2),
        capacity=round(CASELOAD_PER_FTE * coach_fte),
        active_clients=active_total,
        resting_clients=sum(c.resting_clients for c in coaches),
        per_fte=per_fte,
        fidelity_score=score_caseload(per_fte) if per_fte is not None else None,
    )
    if only_coach is not None:  # a coach sees their own caseload only
        coaches = [c for c in coaches if c.coach_id == only_coach]
        return CaseloadReport(organisation_id=organisation_id, data_as_of=data_as_of, coaches=coaches)
    # Teams sum their coaches (a lead's own caseload, if any, counts under their coach row only).
    holding = [c for c in coaches if staff.get(c.coach_id) is None or staff[c.coach_id].role == "coach"]
    teams = team_caseloads(holding, staff, team_names or {})
    return CaseloadReport(
        organisation_id=organisation_id, data_as_of=data_as_of, coaches=coaches, teams=teams, totals=totals
    )


# --------------------------------------------------------------------------- journey flow


async def flow(session: AsyncSession, scope: Scope, period: Period) -> FlowReport:
    now: dict[str, dict[str, int]] = {p.value: {"ACTIVE": 0, "RESTING": 0} for p in PHASE_ORDER}
    closed_now = 0
    resting_now: dict[str, int] = defaultdict(int)
    for _org, phase, status, rest_reason, _outcome, n in await store.current_counts(session, scope.organisations):
        if status == Status.CLOSED.value:
            closed_now += n
            continue
        now.setdefault(phase, {"ACTIVE": 0, "RESTING": 0})[status] = now.get(phase, {}).get(status, 0) + n
        if status == Status.RESTING.value:
            resting_now[rest_reason or "other"] += n

    spells: dict[tuple[str, str], list[float]] = defaultdict(list)
    for phase, status, days in await store.spell_days(session, scope.organisations, period):
        spells[(phase, status)].append(days)
    order = {p.value: i for i, p in enumerate(PHASE_ORDER)}
    time_in_phase = [
        TimeInPhase(phase=phase, status=status, days=stat(values))
        for (phase, status), values in sorted(spells.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1]))
    ]

    by_bucket: dict[str, dict[str, int]] = {b: {} for b in period.buckets()}
    totals: dict[str, int] = defaultdict(int)
    transitions: dict[tuple[str, str, str], int] = defaultdict(int)
    rested: dict[str, int] = defaultdict(int)
    for _org, month, action, from_phase, phase, rest_reason, n in await store.moves(
        session, scope.organisations, period
    ):
        bucket = by_bucket.setdefault(bucket_of(month, period.granularity), {})
        bucket[action] = bucket.get(action, 0) + n
        totals[action] += n
        if action in ("advance", "step_back") and from_phase and from_phase != phase:
            transitions[(from_phase, phase, action)] += n
        if action == "rest":
            rested[rest_reason or "other"] += n
    reasons = sorted(set(rested) | set(resting_now))
    return FlowReport(
        **await _head(session, scope, period),
        phases_now=[PhaseNow(phase=p, active=c["ACTIVE"], resting=c["RESTING"]) for p, c in now.items()],
        closed_now=closed_now,
        time_in_phase=time_in_phase,
        moves_by_bucket=by_bucket,
        moves_total=dict(totals),
        transitions=[
            Transition(from_phase=f, to_phase=t, action=a, count=n)
            for (f, t, a), n in sorted(transitions.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][2]))
        ],
        rest_reasons=[
            ReasonCount(reason=r, rested_in_period=rested.get(r, 0), resting_now=resting_now.get(r, 0)) for r in reasons
        ],
    )


# --------------------------------------------------------------------------- outcomes


async def outcomes(session: AsyncSession, scope: Scope, period: Period, now: datetime) -> OutcomesReport:
    orgs = scope.organisations
    buckets = period.buckets()
    counts: dict[str, dict[str, int]] = {}
    for _org, month, outcome, n in await store.closed_outcomes(session, orgs, period):
        code = outcome or "unknown"
        row = counts.setdefault(code, {})
        key = bucket_of(month, period.granularity)
        row[key] = row.get(key, 0) + n
    codes = [*PILOT_OUTCOMES, *(c for c in ALL_OUTCOMES if c not in PILOT_OUTCOMES and c in counts)]
    codes += sorted(c for c in counts if c not in codes)
    rows = [
        OutcomeCount(
            outcome=c,
            count=sum(counts.get(c, {}).values()),
            by_bucket={b: counts.get(c, {}).get(b, 0) for b in buckets},
        )
        for c in codes
    ]
    closed = sum(r.count for r in rows)
    employed = next((r.count for r in rows if r.outcome == Outcome.EMPLOYED), 0)

    served = sum((await store.served(session, orgs, period)).values())
    worked = await store.working_clients(session, orgs, period)

    contact_days = [days_between(s, c) for s, c in await store.first_contact_times(session, orgs, period)]
    job_days = [days_between(s, j) for s, j in await store.first_job_times(session, orgs, period)]

    starts: dict[str, dict[str, int]] = {b: {"first": 0, "later": 0} for b in buckets}
    first = later = 0
    for month, started, first_job in await store.job_start_times(session, orgs, period):
        kind = "first" if first_job is not None and started <= first_job else "later"
        if kind == "first":
            first += 1
        else:
            later += 1
        bucket = starts.setdefault(bucket_of(month, period.granularity), {"first": 0, "later": 0})
        bucket[kind] += 1

    hours = [
        float(r[7])
        for r in await store.placements(session, orgs, period)
        if r[7] is not None and r[4] != PlacementKind.WORK_TRIAL.value
    ]
    ended = await store.ended_tenures(session, orgs, period)
    running = [days_between(at, now) for at in await store.running_job_starts(session, orgs, min(now, period.end_at))]
    return OutcomesReport(
        **await _head(session, scope, period),
        outcomes=rows,
        closed=closed,
        closed_by_bucket={b: sum(r.by_bucket.get(b, 0) for r in rows) for b in buckets},
        employed=employed,
        employment_rate=share(employed, closed),
        benchmark_average=EMPLOYMENT_RATE_AVERAGE,
        benchmark_excellent=EMPLOYMENT_RATE_EXCELLENT,
        served=served,
        worked=worked,
        working_rate=share(worked, served),
        days_to_first_employer_contact=stat(contact_days),
        days_to_first_job=stat(job_days),
        job_starts=JobStarts(first=first, later=later, by_bucket=starts),
        hours_per_week=stat(hours),
        tenure_days_ended=stat(ended),
        tenure_days_running=stat(running),
    )


# --------------------------------------------------------------------------- fidelity


def _context(session: AsyncSession, scope: Scope, period: Period, now: datetime) -> fidelity.MeasureContext:
    return fidelity.MeasureContext(session, scope.organisations, period, now, scope.coach_fte)


def _items(
    measures: Mapping[str, fidelity.Measure],
    review: store.ReviewWithItems | None,
    *,
    hide_small: bool = False,
) -> list[FidelityItemOut]:
    reviewed = {i.item: i for i in review.items} if review else {}
    out = []
    for item in ITEMS:
        m = measures.get(item.key)
        value = m.value if m else None
        score = score_item(item.key, value)
        if hide_small and m is not None and m.people and m.base < MIN_CELL:
            value = score = None
        source = "auto" if score is not None else None
        note = None
        if score is None and item.key in reviewed and not (hide_small and item.automatic):
            score, source, note = reviewed[item.key].score, "review", reviewed[item.key].note
        out.append(
            FidelityItemOut(
                key=item.key,
                number=item.number,
                section=item.section.value,
                label=item.label,
                automatic=item.automatic,
                measure=item.measure,
                value=value,
                base=None if hide_small else (m.base if m else None),
                score=score,
                source=source,
                reviewed_at=review.review.reviewed_at if source == "review" and review else None,
                note=note,
            )
        )
    return out


def review_summary(r: FidelityReview) -> ReviewSummary:
    return ReviewSummary(
        id=r.id,
        period_start=r.period_start,
        period_end=r.period_end,
        reviewed_at=r.reviewed_at,
        reviewer_id=r.reviewer_id,
        total=r.total,
        band=r.band,
    )


async def fidelity_scorecard(session: AsyncSession, scope: Scope, period: Period, now: datetime) -> FidelityReport:
    (org,) = scope.organisations
    measured = await fidelity.measure_all(_context(session, scope, period, now))
    latest = (await store.latest_reviews(session, scope.organisations)).get(org)
    items = _items({k: v[org] for k, v in measured.items()}, latest)
    total = fidelity_total(i.score for i in items)
    received = excluding = 0
    for _org, _status, _reason, is_excluding, n in await store.referrals(session, scope.organisations, period):
        received += n
        excluding += n if is_excluding else 0
    return FidelityReport(
        **await _head(session, scope, period),
        items=items,
        total=total.total,
        scored=total.scored,
        complete=total.complete,
        band=total.band,
        meets_threshold=total.meets_threshold,
        reviews=[review_summary(r) for r in await store.reviews(session, scope.organisations)],
        referrals_received=received,
        referrals_declined_excluding=excluding,
    )


async def fidelity_evidence(
    session: AsyncSession,
    scope: Scope,
    period: Period,
    now: datetime,
    key: str,
    *,
    limit: int = 100,
    offset: int = 0,
) -> EvidenceReport:
    """The rows behind one automatic item: those that miss the criterion first, then by day;
    ``limit`` rows from ``offset``."""
    (org,) = scope.organisations
    ctx = fidelity.MeasureContext(session, scope.organisations, period, now, scope.coach_fte, evidence=True)
    measure = (await fidelity.MEASURES[key](ctx))[org]
    rows = sorted(measure.rows, key=lambda r: (r.ok is not False, r.day is None, r.day))
    return EvidenceReport(
        **await _head(session, scope, period),
        item=key,
        value=measure.value,
        base=measure.base,
        score=score_item(key, measure.value),
        total_rows=len(rows),
        offset=offset,
        rows=fidelity.page(rows[offset : offset + limit]),
    )


class ReviewError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


async def create_review(db: Database, scope: Scope, body: ReviewIn, reviewer_id: uuid.UUID, now: datetime) -> ReviewOut:
    """Store a review: the automatic items as measured for its period, the others (and
    automatic ones without data) as the reviewer scored them. Every item needs a score.

    Measured in one session, written in another: the writing transaction only inserts, so
    on SQLite it waits its turn behind the projection instead of failing on a stale read."""
    (org,) = scope.organisations
    async with db.session(organisation_id=org) as session:
        review, rows = await _prepared_review(session, scope, body, reviewer_id, now)
    async with db.session(organisation_id=org) as session, session.begin():
        session.add(review)
        session.add_all(rows)
    return review_out(store.ReviewWithItems(review, rows))


async def _prepared_review(
    session: AsyncSession, scope: Scope, body: ReviewIn, reviewer_id: uuid.UUID, now: datetime
) -> tuple[FidelityReview, list[FidelityReviewItem]]:
    (org,) = scope.organisations
    if body.period_end < body.period_start:
        raise ReviewError("period_end", "The period ends before it starts.")
    given: dict[str, ReviewItemIn] = {}
    for i, entry in enumerate(body.items):
        if entry.item not in ITEM_BY_KEY:
            raise ReviewError(f"items.{i}.item", f"No fidelity item {entry.item!r}.")
        if entry.item in given:
            raise ReviewError(f"items.{i}.item", f"Item {entry.item!r} is given twice.")
        given[entry.item] = entry
    period = Period(body.period_start, body.period_end)
    measured = await fidelity.measure_all(_context(session, scope, period, now))
    rows: list[FidelityReviewItem] = []
    missing: list[str] = []
    review_id = uuid.uuid4()
    for item in ITEMS:
        m = measured.get(item.key, {}).get(org)
        auto = score_item(item.key, m.value if m else None)
        given_entry = given.get(item.key)
        if auto is not None:
            score, source = auto, "auto"
        elif given_entry is not None:
            score, source = given_entry.score, "review"
        else:
            missing.append(item.key)
            continue
        rows.append(
            FidelityReviewItem(
                review_id=review_id,
                organisation_id=org,
                item=item.key,
                score=score,
                source=source,
                value=m.value if m else None,
                note=given_entry.note if given_entry else None,
            )
        )
    if missing:
        raise ReviewError("items", "Every item needs a score; missing: " + ", ".join(missing))
    total = fidelity_total(r.score for r in rows)
    assert total.band is not None
    review = FidelityReview(
        id=review_id,
        organisation_id=org,
        period_start=body.period_start,
        period_end=body.period_end,
        reviewed_at=now,
        reviewer_id=reviewer_id,
        total=total.total,
        band=total.band,
        note=body.note,
    )
    return review, rows


def review_out(r: store.ReviewWithItems) -> ReviewOut:
    order = {i.key: i.number for i in ITEMS}
    return ReviewOut(
        **review_summary(r.review).model_dump(),
        note=r.review.note,
        items=[
            ReviewItemOut(item=i.item, score=i.score, source=i.source, value=i.value, note=i.note)
            for i in sorted(r.items, key=lambda i: order.get(i.item, 99))
        ],
    )


# --------------------------------------------------------------------------- assessments, quick help


async def assessments(session: AsyncSession, scope: Scope, period: Period) -> AssessmentsReport:
    per_client: dict[tuple[uuid.UUID, str], dict[str, float]] = defaultdict(dict)
    for _org, client, instrument, timing, score, low, high, _day in await store.assessments(
        session, scope.organisations, period
    ):
        # Each score on its own scale as 0-100, so scales can differ between clients.
        per_client[(client, instrument)][timing] = 100 * (score - low) / (high - low)
    instruments: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for (_client, instrument), scores in per_client.items():
        if "start" in scores and "end" in scores:
            instruments[instrument].append((scores["start"], scores["end"]))
    out = []
    for instrument in ("work_ability", "self_efficacy", *sorted(set(instruments) - {"work_ability", "self_efficacy"})):
        pairs = instruments.get(instrument, [])
        starts, ends = [p[0] for p in pairs], [p[1] for p in pairs]
        out.append(
            InstrumentChange(
                instrument=instrument,
                clients=len(pairs),
                mean_start=stat(starts).mean,
                mean_end=stat(ends).mean,
                mean_change=stat([e - s for s, e in pairs]).mean,
                improved=sum(1 for s, e in pairs if e > s),
                unchanged=sum(1 for s, e in pairs if e == s),
                worsened=sum(1 for s, e in pairs if e < s),
            )
        )
    answers: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for _org, survey, question, answer, n in await store.feedback(session, scope.organisations, period):
        dist = answers[(survey, question)]
        dist[answer] = dist.get(answer, 0) + n
    feedback = []
    for (survey, question), dist in sorted(answers.items()):
        total = sum(dist.values())
        feedback.append(
            FeedbackQuestion(
                survey=survey,
                question=question,
                answers=total,
                mean=round(sum(a * n for a, n in dist.items()) / total, 2) if total else None,
                distribution={a: dist.get(a, 0) for a in range(1, 6)},
            )
        )
    return AssessmentsReport(
        **await _head(session, scope, period),
        instruments=out,
        feedback=feedback,
    )


async def quick_help(session: AsyncSession, scope: Scope, period: Period) -> QuickHelpReport:
    buckets = period.buckets()
    topics: dict[str, TopicCount] = {
        t.value: TopicCount(topic=t.value, count=0, minutes=0, by_bucket={b: 0 for b in buckets})
        for t in QuickHelpTopic
    }
    anonymous = 0
    for _org, month, topic, n, minutes, anon in await store.quick_help(session, scope.organisations, period):
        row = topics.setdefault(topic, TopicCount(topic=topic, count=0, minutes=0, by_bucket={b: 0 for b in buckets}))
        row.count += n
        row.minutes += int(minutes or 0)
        key = bucket_of(month, period.granularity)
        row.by_bucket[key] = row.by_bucket.get(key, 0) + n
        anonymous += int(anon or 0)
    rows = list(topics.values())
    return QuickHelpReport(
        **await _head(session, scope, period),
        topics=rows,
        total=sum(r.count for r in rows),
        anonymous=anonymous,
        minutes=sum(r.minutes for r in rows),
    )


# --------------------------------------------------------------------------- economics


async def economics_report(
    session: AsyncSession, scope: Scope, period: Period, params: EconomicsParams
) -> EconomicsReport:
    e = economics(params)
    served = sum((await store.served(session, scope.organisations, period)).values())
    employed = sum(
        n
        for _org, _month, outcome, n in await store.closed_outcomes(session, scope.organisations, period)
        if outcome == Outcome.EMPLOYED
    )
    if scope.region_id is not None:
        served_s, employed_s = suppress(served), suppress(employed)
    else:
        served_s, employed_s = served, employed
    return EconomicsReport(
        **await _head(session, scope, period),
        result=EconomicsOut(
            participants=params.participants,
            employed=params.employed,
            effect_per_employed=params.effect_per_employed,
            pension_per_employed=params.pension_per_employed,
            coaching_cost=params.coaching_cost,
            effect=e.effect,
            net=e.net,
            effect_per_participant=e.effect_per_participant,
            pension_contributions=e.pension_contributions,
            effect_with_pensions=e.effect_with_pensions,
            net_with_pensions=e.net_with_pensions,
            effect_with_pensions_per_participant=e.effect_with_pensions_per_participant,
            return_per_euro=e.return_per_euro,
        ),
        own_participants=served_s,
        own_employed=employed_s,
    )


# --------------------------------------------------------------------------- region


async def region(session: AsyncSession, scope: Scope, period: Period) -> RegionReport:
    """Aggregates per organisation of the region, no personal data, small cells hidden."""
    orgs = list(scope.organisations)
    served = await store.served(session, orgs, period)
    active: dict[uuid.UUID, int] = defaultdict(int)
    for org, _phase, status, _reason, _outcome, n in await store.current_counts(session, orgs):
        if status == Status.ACTIVE.value:
            active[org] += n
    outcome_counts: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for org, _month, outcome, n in await store.closed_outcomes(session, orgs, period):
        outcome_counts[org][outcome or "unknown"] += n
    codes = [*PILOT_OUTCOMES, *sorted({c for oc in outcome_counts.values() for c in oc} - set(PILOT_OUTCOMES))]
    starts = {org: int(n) for org, n, _counselled in await store.job_start_counts(session, orgs, period)}
    quick: dict[uuid.UUID, int] = defaultdict(int)
    for org, _month, _topic, n, _minutes, _anon in await store.quick_help(session, orgs, period):
        quick[org] += n
    latest = await store.latest_reviews(session, orgs)

    # The outcome table: organisations x outcome codes, row totals = closed; hidden jointly.
    grid = [[outcome_counts[o].get(c, 0) for c in codes] for o in orgs]
    closed = [sum(r) for r in grid]
    hidden = suppress_lines(grid, closed) if grid else []

    def column(values: Mapping[uuid.UUID, int]) -> list[int | None]:
        """One measure per organisation; hidden jointly with the region total."""
        cells = suppress_lines([[values.get(o, 0)] for o in orgs]) if orgs else []
        return [c[0] for c in cells]

    served_c, active_c, starts_c, quick_c = column(served), column(active), column(starts), column(quick)
    closed_c = column(dict(zip(orgs, closed, strict=True)))
    rows = []
    for i, org in enumerate(orgs):
        review = latest.get(org)
        employed = hidden[i][0] if codes else None
        rows.append(
            RegionOrganisation(
                organisation_id=org,
                name=scope.names.get(org, str(org)),
                served=served_c[i],
                active_now=active_c[i],
                closed=closed_c[i],
                outcomes=dict(zip(codes, hidden[i], strict=True)),
                employment_rate=share(employed, closed[i])
                if employed is not None and closed_c[i] is not None
                else None,
                job_starts=starts_c[i],
                quick_help=quick_c[i],
                fidelity_total=review.review.total if review else None,
                fidelity_band=review.review.band if review else None,
                fidelity_reviewed_at=review.review.reviewed_at if review else None,
            )
        )
    col_totals = [sum(r[j] for r in grid) for j in range(len(codes))]
    all_closed = sum(closed)
    employed_total = col_totals[0] if codes else 0
    total = RegionOrganisation(
        organisation_id=None,
        name=scope.region_id or "",
        served=suppress(sum(served.values())),
        active_now=suppress(sum(active.values())),
        closed=suppress(all_closed),
        outcomes={c: suppress(n) for c, n in zip(codes, col_totals, strict=True)},
        employment_rate=share(employed_total, all_closed)
        if employed_total >= MIN_CELL and all_closed >= MIN_CELL
        else None,
        job_starts=suppress(sum(starts.values())),
        quick_help=suppress(sum(quick.values())),
        fidelity_total=None,
        fidelity_band=None,
        fidelity_reviewed_at=None,
    )
    return RegionReport(
        **await _head(session, scope, period),
        min_cell=MIN_CELL,
        outcome_codes=codes,
        organisations=rows,
        total=total,
    )


async def region_fidelity(session: AsyncSession, scope: Scope, period: Period, now: datetime) -> RegionFidelityReport:
    measured = await fidelity.measure_all(_context(session, scope, period, now))
    latest = await store.latest_reviews(session, scope.organisations)
    orgs = []
    for org in scope.organisations:
        review = latest.get(org)
        items = _items({k: v[org] for k, v in measured.items()}, review, hide_small=True)
        orgs.append(
            RegionFidelityOrg(
                organisation_id=org,
                name=scope.names.get(org, str(org)),
                scores={i.key: i.score for i in items},
                total=review.review.total if review else None,
                band=review.review.band if review else None,
                reviewed_at=review.review.reviewed_at if review else None,
            )
        )
    return RegionFidelityReport(
        **await _head(session, scope, period),
        min_cell=MIN_CELL,
        items=_items({}, None),
        organisations=orgs,
    )
