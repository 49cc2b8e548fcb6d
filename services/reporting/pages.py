"""The reporting pages of the common web UI, served by the reporting app on the single origin.

Each page shows one report for a chosen period: its charts (SVG drawn on the server,
inline), its tables (the same ones the CSV and XLSX downloads hold) and links to those
downloads. The pages call the report builders of ``services.reporting.api`` with the
logged-in user, so they read, check and audit exactly as the API does. The fidelity
pages add the evidence behind each automatic item and the reviewer's form.

The layout, header navigation and page plumbing are the common ones (``shared.ui``).
Forms post with the session's CSRF token; no scripts.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from markupsafe import Markup
from pydantic import ValidationError
from starlette.staticfiles import StaticFiles

from services.reporting import api, reports, store
from services.reporting.lag import broker_jetstream, consumer_lag
from services.reporting.metrics import (
    BAND_LABELS,
    FIDELITY_THRESHOLD,
    ITEM_BY_KEY,
    ITEMS,
    SECTION_LABELS,
    Period,
    default_period,
)
from services.reporting.models import ReviewIn, ReviewItemIn
from services.reporting.tables import Tables, tables_of
from shared.auth import CSRF_FIELD, page_roles
from shared.contracts.journey import Role
from shared.db import utcnow
from shared.i18n import N_, format_day, format_when, label, negotiate, translator
from shared.problems import ProblemError
from shared.service import ctx_of
from shared.ui import template_environment, web
from shared.ui.web import PageUser

UI_DIR = Path(__file__).parent / "ui"
TEMPLATES = UI_DIR / "templates"
STATIC = UI_DIR / "static"
STATIC_PATH = "/reporting-static"
EVIDENCE_PAGE = 100  # evidence rows per page

router = APIRouter(include_in_schema=False)


# --------------------------------------------------------------------------- rendering


def format_cell(value: object, kind: str, lang: str) -> str:
    """One table cell as text in ``lang``: numbers in the language's format, days and times
    in Finnish time, a dash for nothing."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float)):
        text = format_decimal(value, format="#,##0.##", locale=lang)
        return f"{text} %" if kind == "percent" else text
    if kind == "date":
        return format_day(value, lang) or str(value)
    if kind == "datetime":
        return format_when(value, lang) or str(value)
    return str(value)


@cache
def env_for(lang: str) -> Environment:
    env = template_environment(TEMPLATES, lang)
    env.filters["cell"] = lambda value, kind="text": format_cell(value, kind, lang)
    # A msgid held in a variable, translated without %-formatting (labels may hold "(%)").
    env.filters["t"] = translator(lang).gettext
    env.filters["band_label"] = lambda code: label(BAND_LABELS, lang, code)
    env.filters["section_label"] = lambda code: label(SECTION_LABELS, lang, code)
    env.globals.update(static=STATIC_PATH, threshold=FIDELITY_THRESHOLD)
    return env


def render(request: Request, template: str, *, user: PageUser, status: int = 200, **context: Any) -> HTMLResponse:
    return web.render(request, env_for, template, user=user, status=status, **context)


# --------------------------------------------------------------------------- the reports


@dataclass(frozen=True)
class ReportPage:
    name: str  # the API's name too: /api/v1/reports/{name}
    title: str  # msgid
    description: str  # msgid
    roles: frozenset[Role]
    build: Callable[..., Awaitable[Any]]
    charts: tuple[str, ...] = ()  # chart names; "" is the report's default chart
    draw: Callable[[Any, str, str], str] | None = None
    period: bool = True
    template: str = "report.html"


ORG = frozenset(api.ORG_ROLES)
PAGES: tuple[ReportPage, ...] = (
    ReportPage(
        "caseload",
        N_("Caseload"),
        N_("Active clients per coach against the criterion's 20 per full-time coach, and the organisation as a whole."),
        frozenset(api.CASELOAD_ROLES),
        api.build_caseload,
        ("",),
        api.chart_caseload,
        period=False,
    ),
    ReportPage(
        "flow",
        N_("Journey flow"),
        N_("Clients in each phase and status, time spent in each phase, moves per period and resting reasons."),
        ORG,
        api.build_flow,
        ("flow", "moves"),
        api.chart_flow,
    ),
    ReportPage(
        "outcomes",
        N_("Outcomes"),
        N_(
            "How journeys ended, the employment rate against IPS programmes, days to the first employer "
            "contact and to the first job, job starts, hours and tenure."
        ),
        ORG,
        api.build_outcomes,
        ("",),
        api.chart_outcomes,
    ),
    ReportPage(
        "fidelity",
        N_("Quality criteria (fidelity)"),
        N_(
            "The 25 items of the fidelity scale: the ones the data can measure scored for the period, "
            "the others from the latest review."
        ),
        ORG,
        api.build_fidelity,
        ("",),
        api.chart_fidelity,
        template="fidelity.html",
    ),
    ReportPage(
        "assessments",
        N_("Self-assessments and feedback"),
        N_("Change in work ability and self-efficacy from start to end, and the answers of the client feedback."),
        ORG,
        api.build_assessments,
    ),
    ReportPage(
        "quick-help",
        N_("Quick help"),
        N_("One-off quick help by topic."),
        ORG,
        api.build_quick_help,
        ("",),
        api.chart_quick_help,
    ),
    ReportPage(
        "economics",
        N_("Economics"),
        N_("The Rovaniemi calculation: added taxes and saved benefits against the cost of coaching."),
        frozenset({*api.ORG_ROLES, *api.REGION_ROLES}),
        api.build_economics,
        template="economics.html",
    ),
    ReportPage(
        "region",
        N_("Region roll-up"),
        N_("The organisations of the region side by side. No personal data; numbers under 5 people are hidden."),
        frozenset(api.REGION_ROLES),
        api.build_region,
        ("",),
        api.chart_region,
    ),
    ReportPage(
        "region/fidelity",
        N_("Quality criteria in the region"),
        N_("The fidelity scores of the region's organisations side by side."),
        frozenset(api.REGION_ROLES),
        api.build_region_fidelity,
        ("",),
        api.chart_region_fidelity,
    ),
)
PAGE_BY_NAME: dict[str, ReportPage] = {p.name: p for p in PAGES}

ECONOMICS_FIELDS: tuple[tuple[str, type], ...] = (
    ("participants", int),
    ("employed", int),
    ("effect_per_employed", float),
    ("pension_per_employed", float),
    ("coaching_cost", float),
)


def _query_period(request: Request) -> tuple[Period, str | None]:
    """The period the query asks for, or the default one with an error message."""
    q = request.query_params
    _ = translator(negotiate(request)).gettext
    try:
        start = date.fromisoformat(q["start"]) if q.get("start") else None
        end = date.fromisoformat(q["end"]) if q.get("end") else None
        granularity = q.get("granularity") or "month"
        if granularity not in ("month", "quarter", "year"):
            raise ValueError(granularity)
    except ValueError:
        return Period(default_period(api.today()).start, api.today()), _("The period is not valid.")
    end = end or api.today()
    start = start or default_period(end).start
    if end < start:
        return Period(default_period(api.today()).start, api.today()), _("The period ends before it starts.")
    return Period(start, end, granularity), None  # type: ignore[arg-type]


def _economics_args(request: Request) -> tuple[dict[str, Any], str | None]:
    q = request.query_params
    _ = translator(negotiate(request)).gettext
    args: dict[str, Any] = {}
    for name, kind in ECONOMICS_FIELDS:
        raw = (q.get(name) or "").strip().replace(",", ".").replace(" ", "")
        if raw:
            try:
                value = kind(float(raw)) if kind is int else float(raw)
            except ValueError:
                return {}, _("The parameters are not valid numbers.")
            if value < 0:
                return {}, _("The parameters cannot be negative.")
            args[name] = value
    args["use_own_figures"] = q.get("use_own_figures") == "1"
    return args, None


def _chart(page: ReportPage, report: Any, lang: str, chart: str, index: int) -> Markup:
    assert page.draw is not None
    svg = page.draw(report, lang, chart)
    # Several charts on one page: give each its own ids for title and description.
    svg = svg.replace("chart-title", f"chart{index}-title").replace("chart-desc", f"chart{index}-desc")
    return Markup(svg)


def _strip_links(tables: Tables, keep: Callable[[str], bool]) -> Tables:
    out = []
    for t in tables.tables:
        hrefs = [h if h is not None and keep(h) else None for h in t.hrefs] if t.hrefs else None
        out.append(t.model_copy(update={"hrefs": hrefs}))
    return tables.model_copy(update={"tables": out})


def _links_for(user: PageUser) -> Callable[[str], bool]:
    def keep(href: str) -> bool:
        if href.startswith("/reports/fidelity/items/"):
            return user.role in api.EVIDENCE_ROLES
        return True

    return keep


async def _status_line(request: Request) -> int | None:
    """Events waiting for the projections (None when the broker does not answer)."""
    ctx = ctx_of(request)
    try:
        lags = await consumer_lag(broker_jetstream(ctx.broker), ctx.settings.nats_url)
    except Exception:  # noqa: BLE001 - the page still shows without it
        return None
    if any(x.pending is None for x in lags):
        return None
    return sum((x.pending or 0) + (x.ack_pending or 0) for x in lags)


async def _report_page(
    request: Request,
    user: PageUser,
    page: ReportPage,
    build_args: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
) -> Response:
    if user.role not in page.roles:
        return web.forbidden_page(request, env_for, user)
    lang = negotiate(request)
    period, error = _query_period(request) if page.period else (None, None)
    kwargs: dict[str, Any] = {"principal": user.principal, "request": request, **(build_args or {})}
    if page.period:
        kwargs["period"] = period
    economics: dict[str, Any] = {}
    if page.name == "economics":
        economics, problem = _economics_args(request)
        error = error or problem
        kwargs.update(economics)
    try:
        report = await page.build(**kwargs)
    except ProblemError as exc:
        if exc.status != 422:
            raise
        kwargs = {k: v for k, v in kwargs.items() if k not in dict(ECONOMICS_FIELDS) and k != "use_own_figures"}
        report = await page.build(**kwargs)
        error = error or translator(lang).gettext("The parameters do not fit together: employed at most participants.")
    tables = _strip_links(tables_of(report, lang), _links_for(user))
    charts = [_chart(page, report, lang, c, i) for i, c in enumerate(page.charts)] if page.draw else []
    query = {k: v for k, v in request.query_params.items() if v}
    return render(
        request,
        page.template,
        user=user,
        page=page,
        report=report,
        tables=tables,
        charts=charts,
        period=period,
        error=error,
        query=urlencode(query),
        api_path=f"/api/v1/reports/{page.name}",
        waiting=await _status_line(request),
        economics=economics,
        can_review=user.role in api.REVIEW_ROLES,
        **(context or {}),
    )


def _page_route(page: ReportPage) -> None:
    @router.get(
        f"/reports/{page.name}",
        response_class=HTMLResponse,
        name=f"page_{page.name.replace('/', '_')}",
        dependencies=[Depends(page_roles(*page.roles))],
    )
    async def show(request: Request, user: web.CurrentUser) -> Response:
        return await _report_page(request, user, page)


@router.get(
    "/reports", response_class=HTMLResponse, dependencies=[Depends(page_roles(*{r for p in PAGES for r in p.roles}))]
)
async def index(request: Request, user: web.CurrentUser) -> Response:
    ctx = ctx_of(request)
    available = [p for p in PAGES if user.role in p.roles]
    if not available:
        return web.forbidden_page(request, env_for, user)
    if user.role == Role.REGION_ANALYST:
        scope: tuple[uuid.UUID, ...] = (
            await reports.region_scope(ctx.identity, user.principal.region_id, ctx.platform)
        ).organisations
    else:
        scope = (user.principal.organisation_id,)
    async with ctx.database.session(cross_tenant=True) as session:
        as_of = await store.data_as_of(session, scope)
    lags = []
    try:
        lags = await consumer_lag(broker_jetstream(ctx.broker), ctx.settings.nats_url)
    except Exception:  # noqa: BLE001 - shown as unknown
        lags = []
    return render(request, "reports.html", user=user, pages=available, data_as_of=as_of, lags=lags)


# The fidelity pages come before the generic ones: their paths are more specific.


@router.get(
    "/reports/fidelity/items/{item}",
    response_class=HTMLResponse,
    dependencies=[Depends(page_roles(*api.EVIDENCE_ROLES))],
)
async def evidence_page(item: str, request: Request, user: web.CurrentUser) -> Response:
    if item not in ITEM_BY_KEY or not ITEM_BY_KEY[item].automatic:
        return web.error_page(
            request, env_for, 404, N_("Page not found"), N_("There is no page at this address."), user=user
        )
    page = ReportPage(
        f"fidelity/items/{item}",
        ITEM_BY_KEY[item].label,
        ITEM_BY_KEY[item].measure or "",
        frozenset(api.EVIDENCE_ROLES),
        api.build_evidence,
        template="evidence.html",
    )
    try:
        offset = max(0, int(request.query_params.get("offset") or 0))
    except ValueError:
        offset = 0
    return await _report_page(
        request,
        user,
        page,
        {"item": item, "offset": offset, "limit": EVIDENCE_PAGE},
        {"item_info": ITEM_BY_KEY[item], "page_size": EVIDENCE_PAGE, "paging": _paging_query(request)},
    )


def _paging_query(request: Request) -> str:
    """The query without ``offset``, for the previous and next page links."""
    return urlencode({k: v for k, v in request.query_params.items() if k != "offset" and v})


@router.get(
    "/reports/fidelity/reviews/{review_id}",
    response_class=HTMLResponse,
    dependencies=[Depends(page_roles(*api.ORG_ROLES))],
)
async def review_page(review_id: str, request: Request, user: web.CurrentUser) -> Response:
    if user.role not in api.ORG_ROLES:
        return web.forbidden_page(request, env_for, user)
    try:
        rid = uuid.UUID(review_id)
    except ValueError:
        rid = None
    ctx = ctx_of(request)
    found = None
    if rid is not None:
        async with ctx.database.session(organisation_id=user.principal.organisation_id) as session:
            found = await store.review(session, rid)
    if found is None:
        return web.error_page(
            request, env_for, 404, N_("Page not found"), N_("There is no page at this address."), user=user
        )
    review = reports.review_out(found)
    staff = {u.id: u.display_name or u.username for u in await ctx.identity.users(user.principal.organisation_id)}
    return render(
        request,
        "review.html",
        user=user,
        review=review,
        items={i.key: i for i in ITEMS},
        reviewer=staff.get(review.reviewer_id, str(review.reviewer_id)),
    )


async def _review_form(
    request: Request,
    user: PageUser,
    period: Period,
    *,
    values: Mapping[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = ctx_of(request)
    scope = await reports.organisation_scope(ctx.identity, user.principal.organisation_id)
    async with ctx.database.session(organisation_id=user.principal.organisation_id) as session:
        card = await reports.fidelity_scorecard(session, scope, period, utcnow())
        latest = (await store.latest_reviews(session, scope.organisations)).get(user.principal.organisation_id)
    previous = {i.item: i for i in latest.items} if latest else {}
    prefill: dict[str, str] = {}
    for item in card.items:
        if item.source != "auto" and item.key in previous:
            prefill[f"score_{item.key}"] = str(previous[item.key].score)
            prefill[f"note_{item.key}"] = previous[item.key].note or ""
    if values is not None:
        prefill.update(values)
    return render(
        request,
        "review_form.html",
        user=user,
        card=card,
        period=period,
        values=prefill,
        error=error,
        status=status,
    )


@router.get(
    "/reports/fidelity/review", response_class=HTMLResponse, dependencies=[Depends(page_roles(*api.REVIEW_ROLES))]
)
async def review_form(request: Request, user: web.CurrentUser) -> Response:
    if user.role not in api.REVIEW_ROLES:
        return web.forbidden_page(request, env_for, user)
    period, error = _query_period(request)
    return await _review_form(request, user, period, error=error)


@router.post(
    "/reports/fidelity/review", response_class=HTMLResponse, dependencies=[Depends(page_roles(*api.REVIEW_ROLES))]
)
async def review_submit(request: Request, user: web.CurrentUser) -> Response:
    if user.role not in api.REVIEW_ROLES:
        return web.forbidden_page(request, env_for, user)
    form = await request.form()
    if not web.csrf_ok(user, form.get(CSRF_FIELD)):
        raise ProblemError(403, "Forbidden", "The form has expired; reload the page.", code="csrf_failed")
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    _ = translator(negotiate(request)).gettext
    try:
        period = Period(date.fromisoformat(values.get("start", "")), date.fromisoformat(values.get("end", "")))
    except ValueError:
        period = Period(default_period(api.today()).start, api.today())
        return await _review_form(request, user, period, values=values, error=_("The period is not valid."), status=422)
    items = []
    for item in ITEMS:
        raw = values.get(f"score_{item.key}", "")
        if raw:
            note = values.get(f"note_{item.key}", "").strip() or None
            try:
                items.append(ReviewItemIn(item=item.key, score=int(raw), note=note))
            except (ValueError, ValidationError):
                return await _review_form(
                    request, user, period, values=values, error=_("Scores are whole numbers 1-5."), status=422
                )
    try:
        body = ReviewIn(
            period_start=period.start,
            period_end=period.end,
            items=items,
            note=values.get("note", "").strip() or None,
        )
    except ValidationError:
        return await _review_form(request, user, period, values=values, error=_("A note is too long."), status=422)
    ctx = ctx_of(request)
    scope = await reports.organisation_scope(ctx.identity, user.principal.organisation_id)
    try:
        review = await reports.create_review(ctx.database, scope, body, user.principal.user_id, utcnow())
    except reports.ReviewError:
        return await _review_form(
            request, user, period, values=values, error=_("Every item needs a score."), status=422
        )
    return RedirectResponse(f"/reports/fidelity/reviews/{review.id}", status_code=303)


for _page in PAGES:
    _page_route(_page)


# --------------------------------------------------------------------------- install


def install(app: FastAPI) -> None:
    """Serve the reporting stylesheet and answer page errors with HTML (``/api`` keeps problem+json)."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="reporting-static")
    web.install(app, env_for)


__all__ = ["PAGES", "format_cell", "install", "router"]
