"""The fidelity items the data can measure: each measure returns, per organisation, the
measured value, how many people or records it rests on, and the evidence rows (the
clients, contacts and placements that make it). Scoring is ``metrics.score_item``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import store
from services.reporting.metrics import (
    COMMUNITY_PLACES,
    OUTREACH_WINDOW_DAYS,
    Period,
    days_between,
    local_day,
    share,
)
from services.reporting.models import EvidenceRow, JourneyProjection
from services.reporting.store import Scope
from shared.contracts.employer import ContactMode, PlacementKind
from shared.contracts.journey import Status

RAPID_SEARCH_DAYS = 30


@dataclass(slots=True)
class Evidence:
    """An evidence row (``EvidenceRow``'s fields), kept plain: an item may rest on thousands
    of rows, of which a page becomes ``EvidenceRow`` models (``page``)."""

    client_id: uuid.UUID | None = None
    episode: int | None = None
    ref: uuid.UUID | None = None
    day: date | None = None
    value: float | None = None
    detail: str | None = None
    ok: bool | None = None


_row = Evidence


def page(rows: list[Evidence]) -> list[EvidenceRow]:
    # Built from the database's own values: no need to validate them again.
    return [
        EvidenceRow.model_construct(
            client_id=r.client_id, episode=r.episode, ref=r.ref, day=r.day, value=r.value, detail=r.detail, ok=r.ok
        )
        for r in rows
    ]


@dataclass
class Measure:
    value: float | None
    base: int
    people: bool  # whether ``base`` counts people (suppressed under 5 in region views)
    rows: list[Evidence] = field(default_factory=list)


@dataclass(frozen=True)
class MeasureContext:
    session: AsyncSession
    scope: Scope
    period: Period
    now: datetime
    coach_fte: Mapping[uuid.UUID, float]  # per organisation
    # Build the evidence rows too (the evidence page); a scorecard needs only the values.
    evidence: bool = False
    # Rows more than one measure reads (placements), kept for the context's lifetime.
    shared: dict[str, Any] = field(default_factory=dict)


PerOrg = dict[uuid.UUID, Measure]
Measurer = Callable[[MeasureContext], Awaitable[PerOrg]]


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _group(rows: list[Any]) -> dict[uuid.UUID, list[Any]]:
    grouped: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row[0]].append(row)
    return grouped


def _per_org(ctx: MeasureContext, grouped: Mapping[uuid.UUID, list[Any]], build: Callable[..., Measure]) -> PerOrg:
    return {org: build(grouped.get(org, [])) for org in ctx.scope}


def _evidence(ctx: MeasureContext, rows: list[Any], make: Callable[[Any], Evidence]) -> list[Evidence]:
    return [make(r) for r in rows] if ctx.evidence else []


async def caseload(ctx: MeasureContext) -> PerOrg:
    at = min(ctx.now, ctx.period.end_at)
    active = await store.active_at(ctx.session, ctx.scope, at, ctx.now)
    per_coach: dict[uuid.UUID, list[Any]] = {}
    if ctx.evidence:
        j = JourneyProjection
        per_coach = _group(
            list(
                (
                    await ctx.session.execute(
                        select(j.organisation_id, j.coach_id, func.count())
                        .where(j.organisation_id.in_(ctx.scope), j.status == Status.ACTIVE.value)
                        .group_by(j.organisation_id, j.coach_id)
                    )
                ).all()
            )
        )
    result: PerOrg = {}
    for org in ctx.scope:
        fte = ctx.coach_fte.get(org, 0.0)
        n = active.get(org, 0)
        rows = [_row(ref=coach, value=float(count)) for _, coach, count in per_coach.get(org, [])]
        result[org] = Measure(round(n / fte, 1) if fte > 0 else None, n, True, rows)
    return result


async def rapid_search(ctx: MeasureContext) -> PerOrg:
    if not ctx.evidence:
        sums = {
            org: (n, float(days or 0))
            for org, n, days in await store.first_contact_days(ctx.session, ctx.scope, ctx.period)
        }
        result: PerOrg = {}
        for org in ctx.scope:
            n, days = sums.get(org, (0, 0.0))
            result[org] = Measure(round(days / n, 2) if n else None, n, True)
        return result

    def build(rows: list[Any]) -> Measure:
        evidence = [
            _row(
                client_id=client,
                episode=episode,
                day=local_day(contact),
                value=round(days_between(started, contact), 1),
                ok=round(days_between(started, contact), 1) <= RAPID_SEARCH_DAYS,
            )
            for _, client, episode, started, contact in rows
        ]
        return Measure(_mean([days_between(r[3], r[4]) for r in rows]), len(rows), True, evidence)

    return _per_org(ctx, _group(await store.first_contacts(ctx.session, ctx.scope, ctx.period)), build)


def _contact_row(r: Any, ok: bool) -> Evidence:
    _org, contact, _employer, _staff, client, day, mode, level = r
    return _row(ref=contact, client_id=client, day=day, value=float(level), detail=mode, ok=ok)


async def _contact_totals(ctx: MeasureContext) -> dict[uuid.UUID, tuple[int, int, int]]:
    """Per organisation: (contacts, face-to-face ones, sum of levels)."""
    totals: dict[uuid.UUID, tuple[int, int, int]] = {}
    for org, mode, n, levels in await store.contact_counts(ctx.session, ctx.scope, ctx.period):
        all_n, face, level_sum = totals.get(org, (0, 0, 0))
        face += n if mode == ContactMode.FACE_TO_FACE.value else 0
        totals[org] = (all_n + n, face, level_sum + int(levels or 0))
    return totals


async def _contact_rows(ctx: MeasureContext) -> dict[uuid.UUID, list[Any]]:
    if not ctx.evidence:
        return {}
    return _group(await store.employer_contacts(ctx.session, ctx.scope, ctx.period))


async def contact_frequency(ctx: MeasureContext) -> PerOrg:
    totals, rows = await _contact_totals(ctx), await _contact_rows(ctx)
    face = ContactMode.FACE_TO_FACE.value
    result: PerOrg = {}
    for org in ctx.scope:
        n, face_n, _ = totals.get(org, (0, 0, 0))
        fte = ctx.coach_fte.get(org, 0.0)
        value = round(face_n / (fte * ctx.period.weeks), 2) if n and fte > 0 else None
        evidence = [_contact_row(r, r[6] == face) for r in rows.get(org, [])]
        result[org] = Measure(value, face_n, False, evidence)
    return result


async def contact_quality(ctx: MeasureContext) -> PerOrg:
    totals, rows = await _contact_totals(ctx), await _contact_rows(ctx)
    result: PerOrg = {}
    for org in ctx.scope:
        n, _, level_sum = totals.get(org, (0, 0, 0))
        evidence = [_contact_row(r, r[7] >= 4) for r in rows.get(org, [])]
        result[org] = Measure(round(level_sum / n, 2) if n else None, n, False, evidence)
    return result


async def disclosure(ctx: MeasureContext) -> PerOrg:
    if not ctx.evidence:
        sums = {
            org: (n, int(met or 0)) for org, n, met in await store.disclosure_sums(ctx.session, ctx.scope, ctx.period)
        }
        result: PerOrg = {}
        for org in ctx.scope:
            n, met = sums.get(org, (0, 0))
            result[org] = Measure(round(1 + met / n, 2) if n else None, n, True)
        return result

    def build(rows: list[Any]) -> Measure:
        evidence = [
            _row(
                client_id=client,
                episode=episode,
                value=float(1 + len(criteria or "")),
                detail=",".join(criteria or "") or "-",
                ok=len(criteria or "") == 4,
            )
            for _, client, episode, criteria in rows
        ]
        return Measure(_mean([r.value for r in evidence if r.value is not None]), len(rows), True, evidence)

    return _per_org(ctx, _group(await store.searching_episodes(ctx.session, ctx.scope, ctx.period)), build)


async def work_incentives(ctx: MeasureContext) -> PerOrg:
    if not ctx.evidence:
        counts = {
            org: (n, int(ok or 0)) for org, n, ok in await store.job_start_counts(ctx.session, ctx.scope, ctx.period)
        }
        return {
            org: Measure(
                share(counts.get(org, (0, 0))[1], counts.get(org, (0, 0))[0]), counts.get(org, (0, 0))[0], True
            )
            for org in ctx.scope
        }

    def counselled(r: Any) -> bool:
        _org, _client, _episode, _month, started, _first, at = r
        return at is not None and at <= started

    def build(rows: list[Any]) -> Measure:
        evidence = [_row(client_id=r[1], episode=r[2], day=local_day(r[4]), ok=counselled(r)) for r in rows]
        return Measure(share(sum(1 for r in rows if counselled(r)), len(rows)), len(rows), True, evidence)

    return _per_org(ctx, _group(await store.job_starts(ctx.session, ctx.scope, ctx.period)), build)


async def _placements(ctx: MeasureContext) -> dict[uuid.UUID, list[Any]]:
    """Placements that are jobs (a work trial is not one), per organisation."""
    if "placements" not in ctx.shared:
        rows = await store.placements(ctx.session, ctx.scope, ctx.period)
        ctx.shared["placements"] = _group([r for r in rows if r[4] != PlacementKind.WORK_TRIAL.value])
    placements: dict[uuid.UUID, list[Any]] = ctx.shared["placements"]
    return placements


def _diversity(ctx: MeasureContext, grouped: Mapping[uuid.UUID, list[Any]], column: int) -> PerOrg:
    def build(all_rows: list[Any]) -> Measure:
        rows = [r for r in all_rows if r[column] is not None]
        distinct = {r[column] for r in rows}
        evidence: list[Evidence] = []
        if ctx.evidence:
            seen: set[Any] = set()
            for r in rows:
                evidence.append(
                    _row(ref=r[1], client_id=r[2], day=r[6], detail=str(r[column]), ok=r[column] not in seen)
                )
                seen.add(r[column])
        return Measure(share(len(distinct), len(rows)), len(rows), True, evidence)

    return _per_org(ctx, grouped, build)


async def job_type_diversity(ctx: MeasureContext) -> PerOrg:
    return _diversity(ctx, await _placements(ctx), 5)  # industry


async def employer_diversity(ctx: MeasureContext) -> PerOrg:
    return _diversity(ctx, await _placements(ctx), 3)  # employer


async def competitive_jobs(ctx: MeasureContext) -> PerOrg:
    def build(rows: list[Any]) -> Measure:
        evidence = _evidence(ctx, rows, lambda r: _row(ref=r[1], client_id=r[2], day=r[6], detail=r[4], ok=bool(r[8])))
        return Measure(share(sum(1 for r in rows if r[8]), len(rows)), len(rows), True, evidence)

    return _per_org(ctx, await _placements(ctx), build)


async def time_unlimited(ctx: MeasureContext) -> PerOrg:
    if not ctx.evidence:
        counts = await store.follow_along_kept(ctx.session, ctx.scope, ctx.period)
        result: PerOrg = {}
        for org in ctx.scope:
            n, kept = counts.get(org, (0, 0))
            result[org] = Measure(share(kept, n), n, True)
        return result
    working = await store.jobs_overlapping(ctx.session, ctx.scope, ctx.period)
    missed: dict[tuple[uuid.UUID, int], int] = defaultdict(int)
    for _, client, episode, _at in await store.reminders(ctx.session, ctx.scope, ctx.period, "follow_along_contact"):
        missed[(client, episode)] += 1

    def build(rows: list[Any]) -> Measure:
        started: dict[tuple[uuid.UUID, int], datetime] = {}
        for _, client, episode, at in rows:
            key = (client, episode)
            started[key] = min(at, started.get(key, at))
        kept = sum(1 for key in started if missed.get(key, 0) == 0)
        evidence = _evidence(
            ctx,
            sorted(started.items(), key=lambda kv: kv[1]),
            lambda kv: _row(
                client_id=kv[0][0],
                episode=kv[0][1],
                day=local_day(kv[1]),
                value=float(missed.get(kv[0], 0)),
                ok=missed.get(kv[0], 0) == 0,
            ),
        )
        return Measure(share(kept, len(started)), len(started), True, evidence)

    return _per_org(ctx, _group(working), build)


async def community_based(ctx: MeasureContext) -> PerOrg:
    if not ctx.evidence:
        counts: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0])
        for org, place, n in await store.milestone_code_counts(ctx.session, ctx.scope, ctx.period, "contact_made"):
            counts[org][0] += n
            counts[org][1] += n if place in COMMUNITY_PLACES else 0
        return {org: Measure(share(counts[org][1], counts[org][0]), counts[org][0], False) for org in ctx.scope}

    contacts = await store.milestones(ctx.session, ctx.scope, ctx.period.start, ctx.period.end, "contact_made")

    def build(rows: list[Any]) -> Measure:
        evidence = [
            _row(client_id=r[1], episode=r[2], day=local_day(r[3]), detail=r[4], ok=r[4] in COMMUNITY_PLACES)
            for r in rows
        ]
        outside = sum(1 for r in rows if r[4] in COMMUNITY_PLACES)
        return Measure(share(outside, len(rows)), len(rows), False, evidence)

    return _per_org(ctx, _group(contacts), build)


async def assertive_engagement(ctx: MeasureContext) -> PerOrg:
    if not ctx.evidence:
        counts = {
            org: (int(n or 0), int(ok or 0))
            for org, n, ok in await store.outreach_answered(ctx.session, ctx.scope, ctx.period, ctx.now)
        }
        result: PerOrg = {}
        for org in ctx.scope:
            n, ok = counts.get(org, (0, 0))
            result[org] = Measure(share(ok, n), n, True)
        return result
    silences = await store.reminders(ctx.session, ctx.scope, ctx.period, "silence_outreach")
    outreach: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    for _, client, _episode, at, _place, _mode in await store.outreach_after(ctx.session, ctx.scope, ctx.period):
        outreach[client].append(at)
    window = timedelta(days=OUTREACH_WINDOW_DAYS)

    def build(rows: list[Any]) -> Measure:
        counted = []
        for _, client, episode, at in rows:
            answer = min((m for m in outreach.get(client, []) if at <= m <= at + window), default=None)
            if answer is None and at + window > ctx.now:
                continue  # the window is still open: not counted yet
            counted.append((client, episode, at, answer))
        evidence = _evidence(
            ctx,
            counted,
            lambda c: _row(
                client_id=c[0],
                episode=c[1],
                day=local_day(c[2]),
                value=round(days_between(c[2], c[3]), 1) if c[3] else None,
                ok=c[3] is not None,
            ),
        )
        answered = sum(1 for c in counted if c[3] is not None)
        return Measure(share(answered, len(counted)), len(counted), True, evidence)

    return _per_org(ctx, _group(silences), build)


MEASURES: dict[str, Measurer] = {
    "caseload": caseload,
    "work_incentives": work_incentives,
    "disclosure": disclosure,
    "rapid_search": rapid_search,
    "contact_frequency": contact_frequency,
    "contact_quality": contact_quality,
    "job_type_diversity": job_type_diversity,
    "employer_diversity": employer_diversity,
    "competitive_jobs": competitive_jobs,
    "time_unlimited": time_unlimited,
    "community_based": community_based,
    "assertive_engagement": assertive_engagement,
}


async def measure_all(ctx: MeasureContext) -> dict[str, PerOrg]:
    """Every automatic item."""
    return {key: await measure(ctx) for key, measure in MEASURES.items()}
