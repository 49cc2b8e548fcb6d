"""Queries over the reporting projections.

Every query takes a scope: the organisations it may read (one for an organisation's
reports, the region's for a roll-up) and filters on it explicitly; organisation reports
run in an organisation-scoped session besides, region roll-ups in a cross-tenant one.
Queries group in SQL where the report needs only counts, and return plain rows where a
computation (percentiles, fidelity evidence) needs them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, case, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.metrics import OUTREACH_WINDOW_DAYS, Period
from services.reporting.models import (
    Assessment,
    EmployerContact,
    Episode,
    FeedbackAnswer,
    FidelityReview,
    FidelityReviewItem,
    Job,
    JourneyFact,
    JourneyProjection,
    Placement,
    QuickHelp,
    Referral,
    Spell,
    Watermark,
)
from shared.contracts.journey import Status

Scope = Sequence[uuid.UUID]


async def _rows(session: AsyncSession, query: Any) -> list[Any]:
    return list((await session.execute(query)).all())


# --------------------------------------------------------------------------- freshness


async def data_as_of(session: AsyncSession, scope: Scope) -> datetime | None:
    """The newest event applied for the scope."""
    w = Watermark
    newest: datetime | None = await session.scalar(select(func.max(w.occurred_at)).where(w.organisation_id.in_(scope)))
    return newest


async def applied_events(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.sum(Watermark.events))) or 0)


# --------------------------------------------------------------------------- journeys


async def open_journeys(session: AsyncSession, organisation_id: uuid.UUID) -> list[Any]:
    """(client_id, coach_id, phase, status, since, rest_reason) of the journeys not closed."""
    j = JourneyProjection
    return await _rows(
        session,
        select(j.client_id, j.coach_id, j.phase, j.status, j.since, j.rest_reason)
        .where(j.organisation_id == organisation_id, j.status != Status.CLOSED.value)
        .order_by(j.since),
    )


async def current_counts(session: AsyncSession, scope: Scope) -> list[Any]:
    """(organisation_id, phase, status, rest_reason, outcome, n) of every journey now."""
    j = JourneyProjection
    return await _rows(
        session,
        select(j.organisation_id, j.phase, j.status, j.rest_reason, j.outcome, func.count())
        .where(j.organisation_id.in_(scope))
        .group_by(j.organisation_id, j.phase, j.status, j.rest_reason, j.outcome),
    )


async def active_at(session: AsyncSession, scope: Scope, at: datetime, now: datetime) -> dict[uuid.UUID, int]:
    """Clients ACTIVE at the instant ``at`` per organisation (finished spells and open ones;
    no spell has finished after ``now``, so for ``at`` >= ``now`` the open ones suffice)."""
    counts: dict[uuid.UUID, int] = {}
    s, j = Spell, JourneyProjection
    finished = (
        []
        if at >= now
        else await _rows(
            session,
            select(s.organisation_id, func.count(func.distinct(s.client_id)))
            .where(s.organisation_id.in_(scope), s.status == Status.ACTIVE.value, s.started_at <= at, s.ended_at > at)
            .group_by(s.organisation_id),
        )
    )
    for org, n in finished:
        counts[org] = counts.get(org, 0) + int(n)
    for org, n in await _rows(
        session,
        select(j.organisation_id, func.count())
        .where(j.organisation_id.in_(scope), j.status == Status.ACTIVE.value, j.since <= at)
        .group_by(j.organisation_id),
    ):
        counts[org] = counts.get(org, 0) + int(n)
    return counts


async def spell_days(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(phase, status, days) of the spells that ended in the period."""
    s = Spell
    return await _rows(
        session,
        select(s.phase, s.status, s.days).where(
            s.organisation_id.in_(scope), s.ended_day >= period.start, s.ended_day <= period.end
        ),
    )


async def moves(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, month, action, from_phase, phase, rest_reason, n) of moves in the period."""
    f = JourneyFact
    return await _rows(
        session,
        select(f.organisation_id, f.month, f.action, f.from_phase, f.phase, f.rest_reason, func.count())
        .where(
            f.organisation_id.in_(scope),
            f.kind == "move",
            f.milestone.is_(None),  # always: lets the (organisation, kind, milestone, day) index answer
            f.day >= period.start,
            f.day <= period.end,
        )
        .group_by(f.organisation_id, f.month, f.action, f.from_phase, f.phase, f.rest_reason),
    )


def _overlaps(period: Period) -> Any:
    """Episodes open at some time during the period."""
    e = Episode
    return and_(e.started_at < period.end_at, or_(e.closed_at.is_(None), e.closed_at >= period.start_at))


async def served(session: AsyncSession, scope: Scope, period: Period) -> dict[uuid.UUID, int]:
    """Clients whose journey was open at some time during the period, per organisation."""
    e = Episode
    return {
        org: int(n)
        for org, n in await _rows(
            session,
            select(e.organisation_id, func.count(func.distinct(e.client_id)))
            .where(e.organisation_id.in_(scope), _overlaps(period))
            .group_by(e.organisation_id),
        )
    }


async def closed_outcomes(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, closed_month, outcome, n) of episodes closed in the period."""
    e = Episode
    return await _rows(
        session,
        select(e.organisation_id, e.closed_month, e.outcome, func.count())
        .where(e.organisation_id.in_(scope), e.closed_day >= period.start, e.closed_day <= period.end)
        .group_by(e.organisation_id, e.closed_month, e.outcome),
    )


async def first_contacts(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, client_id, episode, started_at, first_contact_at) for first
    employer contacts in the period."""
    e = Episode
    return await _rows(
        session,
        select(e.organisation_id, e.client_id, e.episode, e.started_at, e.first_contact_at)
        .where(e.organisation_id.in_(scope), e.first_contact_day >= period.start, e.first_contact_day <= period.end)
        .order_by(e.first_contact_at),
    )


async def job_starts(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, client_id, episode, month, started_at, first_job_at,
    benefits_counselling_at) for every job start in the period."""
    f, e = JourneyFact, Episode
    return await _rows(
        session,
        select(
            f.organisation_id,
            f.client_id,
            f.episode,
            f.month,
            f.milestone_at,
            e.first_job_at,
            e.benefits_counselling_at,
        )
        .join(e, and_(e.client_id == f.client_id, e.episode == f.episode))
        .where(
            f.organisation_id.in_(scope),
            f.kind == "milestone",
            f.milestone == "job_started",
            f.day >= period.start,
            f.day <= period.end,
        )
        .order_by(f.milestone_at),
    )


async def jobs_overlapping(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, client_id, episode, started_at) of jobs running at some time in the period."""
    j = Job
    ended = await _rows(
        session,
        select(j.organisation_id, j.client_id, j.episode, j.started_at).where(
            j.organisation_id.in_(scope), j.ended_at >= period.start_at, j.started_at < period.end_at
        ),
    )
    e = Episode
    running = await _rows(
        session,
        select(e.organisation_id, e.client_id, e.episode, e.current_job_at).where(
            e.organisation_id.in_(scope),
            e.current_job_at.is_not(None),
            e.current_job_at < period.end_at,
            or_(e.closed_at.is_(None), e.closed_at >= period.start_at),
        ),
    )
    return ended + running


async def searching_episodes(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, client_id, episode, disclosure) of episodes that had reached job
    search by the end of the period and were open during it."""
    e = Episode
    return await _rows(
        session,
        select(e.organisation_id, e.client_id, e.episode, e.disclosure)
        .where(e.organisation_id.in_(scope), e.reached_search_at < period.end_at, _overlaps(period))
        .order_by(e.client_id),
    )


async def milestones(
    session: AsyncSession, scope: Scope, start: date, end: date, kind: str, mode: str | None = None
) -> list[Any]:
    """(organisation_id, client_id, episode, milestone_at, code, contact_mode) of one kind of milestone."""
    f = JourneyFact
    q = select(f.organisation_id, f.client_id, f.episode, f.milestone_at, f.code, f.contact_mode).where(
        f.organisation_id.in_(scope), f.kind == "milestone", f.milestone == kind, f.day >= start, f.day <= end
    )
    if mode is not None:
        q = q.where(f.contact_mode == mode)
    return await _rows(session, q.order_by(f.milestone_at))


async def reminders(session: AsyncSession, scope: Scope, period: Period, kind: str) -> list[Any]:
    """(organisation_id, client_id, episode, at) of one kind of reminder raised in the period."""
    f = JourneyFact
    return await _rows(
        session,
        select(f.organisation_id, f.client_id, f.episode, f.at)
        .where(
            f.organisation_id.in_(scope),
            f.kind == "reminder",
            f.milestone.is_(None),
            f.reminder == kind,
            f.day >= period.start,
            f.day <= period.end,
        )
        .order_by(f.at),
    )


async def outreach_after(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """Outreach contacts from the period's start until the outreach window after its end."""
    return await milestones(
        session,
        scope,
        period.start,
        period.end + timedelta(days=OUTREACH_WINDOW_DAYS),
        "contact_made",
        mode="outreach",
    )


# The outcomes report needs only times and counts of these: lean variants that read no
# ids (parsing thousands of UUIDs was a third of the report's time).


async def first_contact_times(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(started_at, first_contact_at) for first employer contacts in the period."""
    e = Episode
    return await _rows(
        session,
        select(e.started_at, e.first_contact_at).where(
            e.organisation_id.in_(scope), e.first_contact_day >= period.start, e.first_contact_day <= period.end
        ),
    )


async def first_job_times(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(started_at, first_job_at) for first jobs in the period."""
    e = Episode
    return await _rows(
        session,
        select(e.started_at, e.first_job_at).where(
            e.organisation_id.in_(scope), e.first_job_at >= period.start_at, e.first_job_at < period.end_at
        ),
    )


async def job_start_times(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(month, started_at, first_job_at) for every job start in the period."""
    f, e = JourneyFact, Episode
    return await _rows(
        session,
        select(f.month, f.milestone_at, e.first_job_at)
        .join(e, and_(e.client_id == f.client_id, e.episode == f.episode))
        .where(
            f.organisation_id.in_(scope),
            f.kind == "milestone",
            f.milestone == "job_started",
            f.day >= period.start,
            f.day <= period.end,
        ),
    )


async def ended_tenures(session: AsyncSession, scope: Scope, period: Period) -> list[float]:
    """Tenure in days of the jobs ended in the period."""
    j = Job
    rows = await _rows(
        session,
        select(j.tenure_days).where(
            j.organisation_id.in_(scope), j.ended_day >= period.start, j.ended_day <= period.end
        ),
    )
    return [float(r[0]) for r in rows]


async def running_job_starts(session: AsyncSession, scope: Scope, before: datetime) -> list[datetime]:
    """When the jobs running at ``before`` started, in journeys still open then (after
    closing, the service no longer follows the job)."""
    e = Episode
    rows = await _rows(
        session,
        select(e.current_job_at).where(
            e.organisation_id.in_(scope),
            e.current_job_at.is_not(None),
            e.current_job_at < before,
            or_(e.closed_at.is_(None), e.closed_at >= before),
        ),
    )
    return [r[0] for r in rows]


async def working_clients(session: AsyncSession, scope: Scope, period: Period) -> int:
    """Clients (per episode) with a job at some time in the period (see ``jobs_overlapping``)."""
    j, e = Job, Episode
    pairs: set[tuple[str, int]] = set()
    for query in (
        select(type_coerce(j.client_id, String), j.episode).where(
            j.organisation_id.in_(scope), j.ended_at >= period.start_at, j.started_at < period.end_at
        ),
        select(type_coerce(e.client_id, String), e.episode).where(
            e.organisation_id.in_(scope),
            e.current_job_at.is_not(None),
            e.current_job_at < period.end_at,
            or_(e.closed_at.is_(None), e.closed_at >= period.start_at),
        ),
    ):
        pairs.update((client, episode) for client, episode in await _rows(session, query))
    return len(pairs)


# --------------------------------------------------------------------------- other streams


async def referrals(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, status, decline_reason, excluding, n) of referrals received in the period."""
    r = Referral
    return await _rows(
        session,
        select(r.organisation_id, r.status, r.decline_reason, r.excluding, func.count())
        .where(r.organisation_id.in_(scope), r.received_day >= period.start, r.received_day <= period.end)
        .group_by(r.organisation_id, r.status, r.decline_reason, r.excluding),
    )


async def quick_help(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, month, topic, n, minutes, anonymous) in the period."""
    q = QuickHelp
    anonymous = func.sum(case((q.anonymous, 1), else_=0))
    return await _rows(
        session,
        select(q.organisation_id, q.month, q.topic, func.count(), func.sum(q.duration_minutes), anonymous)
        .where(q.organisation_id.in_(scope), q.day >= period.start, q.day <= period.end)
        .group_by(q.organisation_id, q.month, q.topic),
    )


async def employer_contacts(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, contact_id, employer_id, staff_id, client_id, day, mode, level) in the period."""
    c = EmployerContact
    return await _rows(
        session,
        select(c.organisation_id, c.contact_id, c.employer_id, c.staff_id, c.client_id, c.day, c.mode, c.level)
        .where(c.organisation_id.in_(scope), c.day >= period.start, c.day <= period.end)
        .order_by(c.day),
    )


async def placements(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, placement_id, client_id, employer_id, kind, industry, starts_on,
    hours_per_week, competitive, permanent) of placements started in the period."""
    p = Placement
    return await _rows(
        session,
        select(
            p.organisation_id,
            p.placement_id,
            p.client_id,
            p.employer_id,
            p.kind,
            p.industry,
            p.starts_on,
            p.hours_per_week,
            p.competitive,
            p.permanent,
        )
        .where(p.organisation_id.in_(scope), p.starts_on >= period.start, p.starts_on <= period.end)
        .order_by(p.starts_on),
    )


async def assessments(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, client_id, instrument, timing, score, scale_min, scale_max, day):
    every assessment of the clients who had an end assessment in the period."""
    a = Assessment
    ended = (
        select(a.client_id)
        .where(a.organisation_id.in_(scope), a.timing == "end", a.day >= period.start, a.day <= period.end)
        .scalar_subquery()
    )
    return await _rows(
        session,
        select(a.organisation_id, a.client_id, a.instrument, a.timing, a.score, a.scale_min, a.scale_max, a.day)
        .where(a.organisation_id.in_(scope), a.client_id.in_(ended))
        .order_by(a.day),
    )


async def feedback(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, survey, question, answer, n) of answers in the period."""
    f = FeedbackAnswer
    return await _rows(
        session,
        select(f.organisation_id, f.survey, f.question, f.answer, func.count())
        .where(f.organisation_id.in_(scope), f.day >= period.start, f.day <= period.end)
        .group_by(f.organisation_id, f.survey, f.question, f.answer),
    )


# --------------------------------------------------------------------------- fidelity reviews


@dataclass
class ReviewWithItems:
    review: FidelityReview
    items: list[FidelityReviewItem]


async def reviews(session: AsyncSession, scope: Scope, limit: int = 50) -> list[FidelityReview]:
    r = FidelityReview
    q = select(r).where(r.organisation_id.in_(scope)).order_by(r.reviewed_at.desc()).limit(limit)
    return list((await session.execute(q)).scalars())


async def review(session: AsyncSession, review_id: uuid.UUID) -> ReviewWithItems | None:
    row = await session.get(FidelityReview, review_id)
    if row is None:
        return None
    items = (
        await session.execute(select(FidelityReviewItem).where(FidelityReviewItem.review_id == review_id))
    ).scalars()
    return ReviewWithItems(row, list(items))


async def latest_reviews(session: AsyncSession, scope: Scope) -> dict[uuid.UUID, ReviewWithItems]:
    """Each organisation's newest review with its items, in two queries however many
    organisations the scope has."""
    r, i = FidelityReview, FidelityReviewItem
    newest = (
        select(r.id, func.row_number().over(partition_by=r.organisation_id, order_by=r.reviewed_at.desc()).label("n"))
        .where(r.organisation_id.in_(scope))
        .subquery()
    )
    rows = list((await session.execute(select(r).join(newest, newest.c.id == r.id).where(newest.c.n == 1))).scalars())
    items: dict[uuid.UUID, list[FidelityReviewItem]] = {row.id: [] for row in rows}
    if rows:
        for item in (await session.execute(select(i).where(i.review_id.in_(list(items))))).scalars():
            items[item.review_id].append(item)
    return {row.organisation_id: ReviewWithItems(row, items[row.id]) for row in rows}


# --------------------------------------------------------------------------- aggregates
# The scorecards need only counts and sums; these answer them in SQL, per organisation,
# without fetching a row per client or contact.


async def contact_counts(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, mode, n, sum of levels) of employer contacts in the period."""
    c = EmployerContact
    return await _rows(
        session,
        select(c.organisation_id, c.mode, func.count(), func.sum(c.level))
        .where(c.organisation_id.in_(scope), c.day >= period.start, c.day <= period.end)
        .group_by(c.organisation_id, c.mode),
    )


async def milestone_code_counts(session: AsyncSession, scope: Scope, period: Period, kind: str) -> list[Any]:
    """(organisation_id, code, n) of one kind of milestone in the period."""
    f = JourneyFact
    return await _rows(
        session,
        select(f.organisation_id, f.code, func.count())
        .where(
            f.organisation_id.in_(scope),
            f.kind == "milestone",
            f.milestone == kind,
            f.day >= period.start,
            f.day <= period.end,
        )
        .group_by(f.organisation_id, f.code),
    )


async def job_start_counts(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, job starts, of them after benefits counselling) in the period."""
    f, e = JourneyFact, Episode
    counselled = func.sum(
        case((and_(e.benefits_counselling_at.is_not(None), e.benefits_counselling_at <= f.milestone_at), 1), else_=0)
    )
    return await _rows(
        session,
        select(f.organisation_id, func.count(), counselled)
        .join(e, and_(e.client_id == f.client_id, e.episode == f.episode))
        .where(
            f.organisation_id.in_(scope),
            f.kind == "milestone",
            f.milestone == "job_started",
            f.day >= period.start,
            f.day <= period.end,
        )
        .group_by(f.organisation_id),
    )


async def disclosure_sums(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, searching episodes, sum of disclosure criteria met)."""
    e = Episode
    return await _rows(
        session,
        select(e.organisation_id, func.count(), func.sum(func.length(e.disclosure)))
        .where(e.organisation_id.in_(scope), e.reached_search_at < period.end_at, _overlaps(period))
        .group_by(e.organisation_id),
    )


async def follow_along_kept(session: AsyncSession, scope: Scope, period: Period) -> dict[uuid.UUID, tuple[int, int]]:
    """Per organisation: (working clients, of them with no follow-along contact missed) -
    clients with a job at some time in the period (per episode), and whether a
    follow_along_contact reminder was raised for them in the period. Ids stay text here:
    only set membership matters."""
    j, e, f = Job, Episode, JourneyFact
    working: dict[uuid.UUID, set[tuple[str, int]]] = {}
    for query in (
        select(j.organisation_id, type_coerce(j.client_id, String), j.episode).where(
            j.organisation_id.in_(scope), j.ended_at >= period.start_at, j.started_at < period.end_at
        ),
        select(e.organisation_id, type_coerce(e.client_id, String), e.episode).where(
            e.organisation_id.in_(scope),
            e.current_job_at.is_not(None),
            e.current_job_at < period.end_at,
            or_(e.closed_at.is_(None), e.closed_at >= period.start_at),
        ),
    ):
        for org, client, episode in await _rows(session, query):
            working.setdefault(org, set()).add((client, episode))
    missed = {
        (client, episode)
        for client, episode in await _rows(
            session,
            select(type_coerce(f.client_id, String), f.episode).where(
                f.organisation_id.in_(scope),
                f.kind == "reminder",
                f.milestone.is_(None),
                f.reminder == "follow_along_contact",
                f.day >= period.start,
                f.day <= period.end,
            ),
        )
    }
    return {org: (len(pairs), len(pairs - missed)) for org, pairs in working.items()}


def days_between_sql(session: AsyncSession, start: Any, end: Any) -> Any:
    """``end - start`` in days as an SQL expression, on SQLite and PostgreSQL alike."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(end) - func.julianday(start)
    return func.extract("epoch", end - start) / 86400.0


async def first_contact_days(session: AsyncSession, scope: Scope, period: Period) -> list[Any]:
    """(organisation_id, first employer contacts in the period, sum of days from entry)."""
    e = Episode
    return await _rows(
        session,
        select(e.organisation_id, func.count(), func.sum(days_between_sql(session, e.started_at, e.first_contact_at)))
        .where(e.organisation_id.in_(scope), e.first_contact_day >= period.start, e.first_contact_day <= period.end)
        .group_by(e.organisation_id),
    )


async def outreach_answered(session: AsyncSession, scope: Scope, period: Period, now: datetime) -> list[Any]:
    """(organisation_id, silences counted, of them answered by outreach within the window):
    silence_outreach reminders raised in the period, and whether an outreach contact with
    the client followed within ``OUTREACH_WINDOW_DAYS``; a silence whose window is still
    open and unanswered is not counted yet."""
    s, o = JourneyFact.__table__.alias("s"), JourneyFact.__table__.alias("o")
    answered = (
        select(o.c.event_id)
        .where(
            o.c.client_id == s.c.client_id,
            o.c.kind == "milestone",
            o.c.milestone == "contact_made",
            o.c.contact_mode == "outreach",
            o.c.milestone_at >= s.c.at,
            days_between_sql(session, s.c.at, o.c.milestone_at) <= OUTREACH_WINDOW_DAYS,
        )
        .exists()
    )
    window_closed = days_between_sql(session, s.c.at, type_coerce(now, s.c.at.type)) >= OUTREACH_WINDOW_DAYS
    return await _rows(
        session,
        select(
            s.c.organisation_id,
            func.sum(case((or_(answered, window_closed), 1), else_=0)),
            func.sum(case((answered, 1), else_=0)),
        )
        .where(
            s.c.organisation_id.in_(scope),
            s.c.kind == "reminder",
            s.c.milestone.is_(None),
            s.c.reminder == "silence_outreach",
            s.c.day >= period.start,
            s.c.day <= period.end,
        )
        .group_by(s.c.organisation_id),
    )
