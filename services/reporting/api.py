"""Reporting HTTP routes.

Every report is a JSON document (``GET /api/v1/reports/{report}``) and, from the same
builder, its tables in the reader's language (``.../{report}/tables``, what the pages
render), a CSV or XLSX file (``.../{report}.csv``, ``.xlsx``) and, where it has one, an
SVG chart (``.../{report}/chart.svg``). Organisation reports read the caller's
organisation only; region analysts get the region roll-ups, which hold no personal data
and hide every number under 5 people.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from services.reporting import cache, charts, reports, store
from services.reporting.export import CSV_TYPE, XLSX_TYPE, to_csv, to_xlsx
from services.reporting.fidelity import MEASURES
from services.reporting.lag import broker_jetstream, consumer_lag
from services.reporting.metrics import (
    FIDELITY_MAX,
    FIDELITY_THRESHOLD,
    ITEMS,
    SECTION_LABELS,
    EconomicsParams,
    Granularity,
    Period,
    default_period,
    local_day,
)
from services.reporting.models import (
    AssessmentsReport,
    CaseloadReport,
    EconomicsReport,
    EvidenceReport,
    FidelityReport,
    FlowReport,
    OutcomesReport,
    QuickHelpReport,
    RegionFidelityReport,
    RegionReport,
    ReviewIn,
    ReviewOut,
    ReviewSummary,
    StatusReport,
)
from services.reporting.reports import Scope, Staff, organisation_scope, region_scope
from services.reporting.tables import QUICK_HELP_TOPIC_LABELS, Tables, tables_of
from shared.auth import ALL_ROLES, Principal, requires
from shared.contracts.journey import PHASE_ORDER, Role
from shared.db import utcnow
from shared.i18n import ACTION_LABELS, OUTCOME_LABELS, PHASE_LABELS, SUPPORTED, label, negotiate, translator
from shared.problems import FieldError, ProblemError, not_found
from shared.service import ServiceContext, ctx_of

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

CASELOAD_ROLES = (Role.COACH, Role.TEAM_LEAD, Role.ORG_ADMIN)
# Aggregates of the caller's organisation: every role working in it.
ORG_ROLES = (Role.COACH, Role.EMPLOYER_COORDINATOR, Role.TEAM_LEAD, Role.AUDITOR, Role.ORG_ADMIN)
# Evidence names clients (by id): the team lead and the auditor.
EVIDENCE_ROLES = (Role.TEAM_LEAD, Role.AUDITOR)
REVIEW_ROLES = (Role.TEAM_LEAD, Role.AUDITOR, Role.ORG_ADMIN)
REGION_ROLES = (Role.REGION_ANALYST,)

CaseloadViewer = Annotated[Principal, Depends(requires(*CASELOAD_ROLES))]
OrgViewer = Annotated[Principal, Depends(requires(*ORG_ROLES))]
EvidenceViewer = Annotated[Principal, Depends(requires(*EVIDENCE_ROLES))]
Reviewer = Annotated[Principal, Depends(requires(*REVIEW_ROLES))]
RegionViewer = Annotated[Principal, Depends(requires(*REGION_ROLES))]
EconomicsViewer = Annotated[Principal, Depends(requires(*ORG_ROLES, *REGION_ROLES))]
AnyRole = Annotated[Principal, Depends(requires(*ALL_ROLES))]

FileFormat = Literal["csv", "xlsx"]
MAX_PERIOD_DAYS = 10 * 366


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        "Unprocessable Content",
        "The request has invalid fields.",
        code="validation_failed",
        extra={"errors": [FieldError(field=field, message=message, type="value_error").model_dump()]},
    )


def today() -> date:
    return local_day(utcnow())


async def period_params(
    start: Annotated[
        date | None, Query(description="First day (Finnish time); default 11 months before `end`'s month")
    ] = None,
    end: Annotated[date | None, Query(description="Last day, included; default today")] = None,
    granularity: Annotated[Granularity, Query(description="Buckets of the per-period tables")] = "month",
) -> Period:
    end = end or today()
    start = start or default_period(end, granularity).start
    if end < start:
        raise _invalid("end", "The period ends before it starts.")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise _invalid("start", "A period is at most ten years.")
    return Period(start, end, granularity)


PeriodDep = Annotated[Period, Depends(period_params)]


async def _org_scope(ctx: ServiceContext, principal: Principal) -> Scope:
    return await organisation_scope(ctx.identity, principal.organisation_id)


# --------------------------------------------------------------------------- builders


async def build_caseload(principal: CaseloadViewer, request: Request) -> CaseloadReport:
    ctx = ctx_of(request)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        rows = await store.open_journeys(session, principal.organisation_id)
        as_of = await store.data_as_of(session, [principal.organisation_id])
    users = await ctx.identity.users(principal.organisation_id)
    staff = {u.id: Staff(u.id, u.username, u.role, u.fte, u.team_id) for u in users}
    team_names = {t.id: t.name for t in await ctx.identity.teams(principal.organisation_id)}
    only = principal.user_id if principal.role == Role.COACH else None
    return reports.caseload_report(
        principal.organisation_id, rows, staff, as_of, only_coach=only, team_names=team_names
    )


async def build_flow(principal: OrgViewer, period: PeriodDep, request: Request) -> FlowReport:
    ctx = ctx_of(request)
    scope = await _org_scope(ctx, principal)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        return await reports.flow(session, scope, period)


async def build_outcomes(principal: OrgViewer, period: PeriodDep, request: Request) -> OutcomesReport:
    ctx = ctx_of(request)
    scope = await _org_scope(ctx, principal)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        return await reports.outcomes(session, scope, period, utcnow())


async def build_fidelity(principal: OrgViewer, period: PeriodDep, request: Request) -> FidelityReport:
    ctx = ctx_of(request)
    scope = await _org_scope(ctx, principal)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        return await reports.fidelity_scorecard(session, scope, period, utcnow())


async def build_evidence(
    item: str,
    principal: EvidenceViewer,
    period: PeriodDep,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000, description="rows per page")] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EvidenceReport:
    if item not in MEASURES:
        raise not_found("automatic fidelity item")
    ctx = ctx_of(request)
    scope = await _org_scope(ctx, principal)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        report = await reports.fidelity_evidence(session, scope, period, utcnow(), item, limit=limit, offset=offset)
    clients = list(dict.fromkeys(r.client_id for r in report.rows if r.client_id is not None))
    if clients:
        await ctx.audit_many(principal, "report.fidelity.evidence", clients, purpose=f"fidelity:{item}")
    return report


async def build_assessments(principal: OrgViewer, period: PeriodDep, request: Request) -> AssessmentsReport:
    ctx = ctx_of(request)
    scope = await _org_scope(ctx, principal)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        return await reports.assessments(session, scope, period)


async def build_quick_help(principal: OrgViewer, period: PeriodDep, request: Request) -> QuickHelpReport:
    ctx = ctx_of(request)
    scope = await _org_scope(ctx, principal)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        return await reports.quick_help(session, scope, period)


_D = EconomicsParams()


async def build_economics(
    principal: EconomicsViewer,
    period: PeriodDep,
    request: Request,
    participants: Annotated[int, Query(ge=0, le=1_000_000)] = _D.participants,
    employed: Annotated[int, Query(ge=0, le=1_000_000)] = _D.employed,
    effect_per_employed: Annotated[float, Query(ge=0, le=1e7, description="€ of taxes and benefits")] = (
        _D.effect_per_employed
    ),
    pension_per_employed: Annotated[float, Query(ge=0, le=1e7, description="€ of pension contributions")] = (
        _D.pension_per_employed
    ),
    coaching_cost: Annotated[float, Query(ge=0, le=1e10, description="€ for the same time")] = _D.coaching_cost,
    use_own_figures: Annotated[bool, Query(description="participants and employed from the period's data")] = False,
) -> EconomicsReport:
    ctx = ctx_of(request)
    if principal.role == Role.REGION_ANALYST:
        scope = await region_scope(ctx.identity, principal.region_id, ctx.platform)
        session_info: dict[str, Any] = {"cross_tenant": True}
    else:
        scope = await _org_scope(ctx, principal)
        session_info = {"organisation_id": principal.organisation_id}
    async with ctx.database.session(**session_info) as session:
        own = await reports.economics_report(session, scope, period, EconomicsParams())
        if use_own_figures and own.own_participants is not None and own.own_employed is not None:
            participants, employed = own.own_participants, own.own_employed
        if employed > participants:
            raise _invalid("employed", "There cannot be more employed than participants.")
        params = EconomicsParams(participants, employed, effect_per_employed, pension_per_employed, coaching_cost)
        return await reports.economics_report(session, scope, period, params)


async def build_region(principal: RegionViewer, period: PeriodDep, request: Request) -> RegionReport:
    ctx = ctx_of(request)
    scope = await region_scope(ctx.identity, principal.region_id, ctx.platform)
    async with ctx.database.session(cross_tenant=True) as session:
        key = ("region", scope.organisations, period, await cache.data_state(session, scope.organisations))
        return await cache.remembered(key, lambda: reports.region(session, scope, period))


async def build_region_fidelity(principal: RegionViewer, period: PeriodDep, request: Request) -> RegionFidelityReport:
    ctx = ctx_of(request)
    scope = await region_scope(ctx.identity, principal.region_id, ctx.platform)
    async with ctx.database.session(cross_tenant=True) as session:
        key = ("region-fidelity", scope.organisations, period, await cache.data_state(session, scope.organisations))
        return await cache.remembered(key, lambda: reports.region_fidelity(session, scope, period, utcnow()))


# --------------------------------------------------------------------------- charts


def _lang(request: Request, lang: str | None) -> str:
    return lang if lang in SUPPORTED else negotiate(request)


def chart_flow(report: FlowReport, lang: str, chart: str) -> str:
    _ = translator(lang).gettext
    if chart == "moves":
        actions = ["advance", "step_back", "rest", "resume", "close", "reopen", "reassign"]
        return charts.stacked_bars(
            _("Moves per period"),
            list(report.moves_by_bucket),
            [
                charts.Series(label(ACTION_LABELS, lang, a), [c.get(a, 0) for c in report.moves_by_bucket.values()])
                for a in actions
            ],
            _("The table of moves per period has the same figures."),
        )
    phases = [p.value for p in PHASE_ORDER]
    forward = [0] * (len(phases) - 1)
    back = [0] * (len(phases) - 1)
    for t in report.transitions:
        i, j = phases.index(t.from_phase), phases.index(t.to_phase)
        if t.action == "advance" and j == i + 1:
            forward[i] += t.count
        elif t.action == "step_back" and j < i:
            back[j] += t.count
    return charts.phase_flow(
        _("Clients in each phase and moves in the period"),
        [
            charts.Stage(label(PHASE_LABELS, lang, p.phase), p.active, p.resting)
            for p in report.phases_now
            if p.phase in phases
        ],
        forward,
        back,
        (_("Active"), _("Resting")),
        _("Arrows above: moves forward in the period; below: moves back. The tables have the same figures."),
    )


def chart_outcomes(report: OutcomesReport, lang: str, chart: str) -> str:
    _ = translator(lang).gettext
    buckets = list(report.closed_by_bucket)
    return charts.stacked_bars(
        _("Outcomes over time"),
        buckets,
        [
            charts.Series(label(OUTCOME_LABELS, lang, o.outcome), [o.by_bucket.get(b, 0) for b in buckets])
            for o in report.outcomes
        ],
        _("Closed journeys per period by outcome. The table of outcomes per period has the same figures."),
    )


def chart_fidelity(report: FidelityReport, lang: str, chart: str) -> str:
    _ = translator(lang).gettext
    return charts.horizontal_bars(
        _("Fidelity scale: score per item (1-5)"),
        [
            charts.Bar(f"{i.number}. {_(i.label)}", i.score, label(SECTION_LABELS, lang, i.section))
            for i in report.items
        ],
        5,
        _("Total %(total)s of %(max)s; at least %(threshold)s is needed.")
        % {"total": report.total, "max": FIDELITY_MAX, "threshold": FIDELITY_THRESHOLD},
        empty=_("not scored"),
    )


def chart_quick_help(report: QuickHelpReport, lang: str, chart: str) -> str:
    _ = translator(lang).gettext
    peak = max([t.count for t in report.topics] + [1])
    return charts.horizontal_bars(
        _("Quick help by topic"),
        [charts.Bar(label(QUICK_HELP_TOPIC_LABELS, lang, t.topic), t.count) for t in report.topics],
        peak,
        _("The table has the same figures."),
    )


def chart_caseload(report: CaseloadReport, lang: str, chart: str) -> str:
    _ = translator(lang).gettext
    return charts.horizontal_bars(
        _("Active clients per full-time coach"),
        [charts.Bar(c.username or str(c.coach_id), c.per_fte) for c in report.coaches],
        max([40.0, *(c.per_fte or 0 for c in report.coaches)]),
        _("The dashed line is the criterion's 20 per full-time coach."),
        marker=20,
    )


def chart_region_fidelity(report: RegionFidelityReport, lang: str, chart: str) -> str:
    _ = translator(lang).gettext
    return charts.horizontal_bars(
        _("Fidelity total of the latest review"),
        [charts.Bar(o.name, o.total) for o in report.organisations],
        FIDELITY_MAX,
        _("The dashed line is the threshold of 74."),
        empty=_("no review"),
        marker=FIDELITY_THRESHOLD,
    )


def chart_region(report: RegionReport, lang: str, chart: str) -> str:
    _ = translator(lang).gettext
    orgs = report.organisations
    return charts.stacked_bars(
        _("Outcomes per organisation"),
        [o.name for o in orgs],
        [
            charts.Series(label(OUTCOME_LABELS, lang, c), [o.outcomes.get(c) or 0 for o in orgs])
            for c in report.outcome_codes
        ],
        _("Numbers under 5 people are hidden and drawn as nothing."),
    )


# --------------------------------------------------------------------------- routes

Builder = Callable[..., Awaitable[Any]]
Chart = Callable[[Any, str, str], str]


def _file_response(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _meta(report: BaseModel, lang: str) -> list[tuple[str, str]]:
    _ = translator(lang).gettext
    meta: list[tuple[str, str]] = []
    period = getattr(report, "period", None)
    if period is not None:
        meta.append((_("Period"), f"{period.start.isoformat()} – {period.end.isoformat()}"))
    as_of = getattr(report, "data_as_of", None)
    meta.append((_("Data as of"), as_of.isoformat() if as_of else _("No data yet.")))
    return meta


def report_routes(
    name: str, build: Builder, model: type[BaseModel], summary: str, chart: Chart | None = None, default_chart: str = ""
) -> None:
    """The JSON, tables, CSV/XLSX and chart routes of one report, all from ``build``."""
    slug = name.replace("/", "_").replace("{", "").replace("}", "")

    @router.get(f"/{name}.{{fmt}}", summary=f"{summary} (CSV or XLSX)", response_class=Response, name=f"{slug}_file")
    # Closures: the dependency is a default, not an annotation (annotations are strings here
    # and could not see ``build``).
    async def file_route(
        fmt: FileFormat,
        request: Request,
        report: Any = Depends(build),
        lang: str | None = Query(None, description="fi, sv or en"),
    ) -> Response:
        language = _lang(request, lang)
        tables = tables_of(report, language)
        stem = f"polku-{slug}"
        period = getattr(report, "period", None)
        if period is not None:
            stem += f"-{period.start.isoformat()}-{period.end.isoformat()}"
        if fmt == "csv":
            return _file_response(to_csv(tables, meta=_meta(report, language)), CSV_TYPE, f"{stem}.csv")
        return _file_response(to_xlsx(tables, meta=_meta(report, language)), XLSX_TYPE, f"{stem}.xlsx")

    @router.get(f"/{name}/tables", summary=f"{summary} as tables (what the page shows)", response_model=Tables)
    async def tables_route(
        request: Request,
        report: Any = Depends(build),
        lang: str | None = Query(None, description="fi, sv or en"),
    ) -> Tables:
        return tables_of(report, _lang(request, lang))

    if chart is not None:
        draw = chart

        @router.get(f"/{name}/chart.svg", summary=f"{summary} as an SVG chart", response_class=Response)
        async def chart_route(
            request: Request,
            report: Any = Depends(build),
            chart: str = Query(default_chart, description="which chart, where the report has several"),
            lang: str | None = Query(None, description="fi, sv or en"),
        ) -> Response:
            svg = draw(report, _lang(request, lang), chart)
            return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    @router.get(f"/{name}", summary=summary, response_model=model, name=slug)
    async def json_route(report: Any = Depends(build)) -> Any:
        return report


report_routes("caseload", build_caseload, CaseloadReport, "Active clients per coach against 20 per FTE", chart_caseload)
report_routes("flow", build_flow, FlowReport, "Journey flow: phases, time in phase, moves, resting", chart_flow, "flow")
report_routes(
    "outcomes", build_outcomes, OutcomesReport, "Outcomes, employment rate, job starts, tenure", chart_outcomes
)
report_routes("fidelity", build_fidelity, FidelityReport, "Quality criteria (fidelity) scorecard", chart_fidelity)
report_routes(
    "fidelity/items/{item}", build_evidence, EvidenceReport, "The evidence behind one automatic fidelity item"
)
report_routes("assessments", build_assessments, AssessmentsReport, "Self-assessments and client feedback")
report_routes("quick-help", build_quick_help, QuickHelpReport, "Quick help by topic", chart_quick_help)
report_routes("economics", build_economics, EconomicsReport, "Rovaniemi-style economics with editable parameters")
report_routes("region", build_region, RegionReport, "Region roll-up: aggregates, no personal data", chart_region)
report_routes(
    "region/fidelity",
    build_region_fidelity,
    RegionFidelityReport,
    "Fidelity of the region's organisations side by side",
    chart_region_fidelity,
)


# --------------------------------------------------------------------------- fidelity reviews


@router.get("/fidelity/reviews", response_model=list[ReviewSummary], summary="History of fidelity reviews")
async def list_reviews(principal: OrgViewer, request: Request) -> list[ReviewSummary]:
    ctx = ctx_of(request)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        rows = await store.reviews(session, [principal.organisation_id])
    return [reports.review_summary(r) for r in rows]


@router.post(
    "/fidelity/reviews",
    status_code=201,
    response_model=ReviewOut,
    summary="Record a fidelity review: the reviewer's scores for the items the data cannot measure",
    responses={422: {"description": "An item is unknown, given twice or missing"}},
)
async def create_review(body: ReviewIn, principal: Reviewer, request: Request) -> ReviewOut | JSONResponse:
    ctx = ctx_of(request)
    scope = await _org_scope(ctx, principal)
    try:
        return await reports.create_review(ctx.database, scope, body, principal.user_id, utcnow())
    except reports.ReviewError as exc:
        raise _invalid(exc.field, str(exc)) from None


@router.get("/fidelity/reviews/{review_id}", response_model=ReviewOut, summary="One fidelity review with its items")
async def read_review(review_id: uuid.UUID, principal: OrgViewer, request: Request) -> ReviewOut:
    ctx = ctx_of(request)
    async with ctx.database.session(organisation_id=principal.organisation_id) as session:
        found = await store.review(session, review_id)
    if found is None or found.review.organisation_id != principal.organisation_id:
        raise not_found("review")
    return reports.review_out(found)


@router.get("/fidelity/scale", summary="The 25 items of the fidelity scale")
async def fidelity_scale(principal: AnyRole, request: Request, lang: str | None = None) -> list[dict[str, Any]]:
    _ = translator(_lang(request, lang)).gettext
    return [
        {
            "key": i.key,
            "number": i.number,
            "section": i.section.value,
            "label": _(i.label),
            "automatic": i.automatic,
            "measure": _(i.measure) if i.measure else None,
        }
        for i in ITEMS
    ]


# --------------------------------------------------------------------------- status


@router.get("/status", response_model=StatusReport, summary="Projection freshness and consumer lag")
async def status(principal: AnyRole, request: Request) -> StatusReport:
    ctx = ctx_of(request)
    async with ctx.database.session(cross_tenant=True) as session:
        if principal.role == Role.REGION_ANALYST:
            scope = (await region_scope(ctx.identity, principal.region_id, ctx.platform)).organisations
        else:
            scope = (principal.organisation_id,)
        as_of = await store.data_as_of(session, scope)
        applied = await store.applied_events(session)
    return StatusReport(
        data_as_of=as_of,
        events_applied=applied,
        consumers=await consumer_lag(broker_jetstream(ctx.broker), ctx.settings.nats_url),
    )
