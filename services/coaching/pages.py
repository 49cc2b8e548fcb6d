"""The coaching web UI: server-rendered pages (Jinja2 + htmx) on the single origin.

``router`` holds the page routes; ``install(app)`` mounts ``/static`` and makes errors on
page paths answer HTML while ``/api/...`` keeps problem+json. Call ``install`` after
``install_problem_handlers`` (``build_service_app(..., setup=install)`` does), because it
wraps the handlers already registered.

Pages read other services' data through their APIs (``apiclient``) as the logged-in user,
so the owning service enforces the role and organisation and writes the audit record.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from babel.dates import get_timezone
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from services.coaching import journey_snapshots
from services.coaching.apiclient import ApiClient, ApiError, api_for
from services.coaching.journey_ui import (
    MOVE_FIELDS,
    STATUS_FILTERS,
    CoachChoice,
    DashQuery,
    DashRow,
    apply_state,
    field_errors,
    legal_moves,
    move_body,
    rejection_msgid,
    sort_rows,
    today_utc,
)
from shared import sessions
from shared.auth import (
    ALL_ROLES,
    CLIENT_WORKERS,
    CSRF_FIELD,
    PUBLIC,
    SESSION_COOKIE,
    Principal,
    check_csrf,
    page_roles,
    session_principal,
)
from shared.contracts.journey import Phase, Role, Status
from shared.i18n import LANG_COOKIE, N_, SUPPORTED, TIMEZONE, negotiate, translator
from shared.identity import Account, LoginLocked
from shared.platform import User
from shared.problems import ProblemError, problem_response
from shared.service import ctx_of
from shared.ui import NAV, NavItem, template_environment
from workflows.client import JourneyNotFound, get_state
from workflows.contracts import JourneyState

UI_DIR = Path(__file__).parent / "ui"
TEMPLATES = UI_DIR / "templates"
STATIC = UI_DIR / "static"

# Pre-login CSRF: the cookie holds a random nonce, the form an HMAC of it under the
# deployment secret, so a cookie planted by a sibling host cannot forge a valid pair.
LOGIN_CSRF_COOKIE = "polku_csrf"
LANG_COOKIE_MAX_AGE = 365 * 86400
CASELOAD_ROLES = frozenset({Role.COACH, Role.TEAM_LEAD, Role.ORG_ADMIN})
NAMED_CLIENT_ROLES = frozenset({Role.COACH, Role.TEAM_LEAD})  # intake gives them names

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PageUser:
    principal: Principal
    account: Account

    @property
    def id(self) -> uuid.UUID:
        return self.account.id

    @property
    def role(self) -> Role:
        return self.account.role

    @property
    def name(self) -> str:
        return self.account.display_name or self.account.username

    @property
    def csrf(self) -> str:
        return self.principal.csrf or ""


class LoginRequired(Exception):
    """Raised by page dependencies; answered with a redirect to the login page."""


# --------------------------------------------------------------------------- helpers


def safe_next(value: str | None, *, allow_login: bool = False) -> str:
    """``value`` if it is a path on this site, else ``/`` (no open redirects).

    The login and logout pages are refused unless ``allow_login``, so a login never
    lands back on itself."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    if not allow_login and parts.path.startswith(("/login", "/logout")):
        return "/"
    return value


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith("/api/")


async def _session(request: Request) -> Principal | None:
    return await session_principal(request)  # None also when a logout has ended it


async def page_user(request: Request) -> PageUser:
    """The logged-in user of a page, or ``LoginRequired``."""
    principal = await _session(request)
    if principal is None:
        raise LoginRequired()
    account = await ctx_of(request).identity.account(principal.user_id)
    if account is None:  # deactivated since the session began
        raise LoginRequired()
    return PageUser(principal, account)


CurrentUser = Annotated[PageUser, Depends(page_user)]


def _login_csrf_token(request: Request, nonce: str) -> str:
    secret = ctx_of(request).keys.secret_key
    return hmac.new(secret, b"polku-login-csrf:" + nonce.encode(), hashlib.sha256).hexdigest()


def _login_csrf(request: Request) -> tuple[str, str, bool]:
    """(nonce, form token, whether the nonce cookie must be set)."""
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    fresh = not (16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum())
    if fresh:
        nonce = secrets.token_urlsafe(24)
    return nonce, _login_csrf_token(request, nonce), fresh


def _login_csrf_ok(request: Request, submitted: str) -> bool:
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(nonce and submitted) and hmac.compare_digest(_login_csrf_token(request, nonce), submitted)


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=ctx_of(request).settings.cookie_secure,
    )


def _clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=ctx_of(request).settings.cookie_secure)


def _now() -> datetime:
    return datetime.now(get_timezone(TIMEZONE))


def _parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def days_since(value: object, now: datetime | None = None) -> int | None:
    """Whole calendar days (Finnish time) from ``value`` to now; None if not a time."""
    since = _parse_time(value)
    if since is None:
        return None
    zone = get_timezone(TIMEZONE)
    today = (now or _now()).astimezone(zone).date()
    start = since.astimezone(zone).date() if since.tzinfo else since.date()
    return max(0, (today - start).days)


# The pilot's tracking-sheet colours (shared/domain/IPS.md). The chip always shows the
# status in words too, so colour is never the only carrier of meaning.
_REST_COLOURS = {"health_clarification": "yellow", "rehabilitative_work_activity": "pink"}
_OUTCOME_COLOURS = {
    "employed": "green",
    "education": "green",
    "rehabilitative_work_activity": "pink",
    "sick_leave": "yellow",
    "returned_to_referrer": "red",
    "work_ability_assessment": "red",  # moved to another measure
}


def chip_colour(status: str | None, rest_reason: str | None = None, outcome: str | None = None) -> str:
    """The status chip's colour: light-green, green, yellow, pink, red or grey."""
    if status == "ACTIVE":
        return "light-green"
    if status == "RESTING":
        return _REST_COLOURS.get(rest_reason or "", "grey")
    if status == "CLOSED":
        return _OUTCOME_COLOURS.get(outcome or "", "grey")
    return "grey"


def _env(lang: str) -> Environment:
    env = template_environment(TEMPLATES, lang)  # coaching's templates, then the shared layout
    env.globals["chip_colour"] = chip_colour  # idempotent; the environment is cached
    return env


def render(
    request: Request,
    template: str,
    *,
    user: PageUser | None = None,
    csrf_token: str | None = None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page in the request's language, with the header's user, nav and forms."""
    lang = negotiate(request)
    nav = [item for item in NAV if user is not None and user.role in item.roles]
    html = (
        _env(lang)
        .get_template(template)
        .render(
            user=user,
            csrf_token=csrf_token if csrf_token is not None else (user.csrf if user else None),
            csrf_field=CSRF_FIELD,
            nav=nav,
            path=request.url.path,
            here=_here(request),
            **context,
        )
    )
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            # Pages carry personal data: never cache them, nor serve one language's copy to another.
            "Cache-Control": "no-store",
            "Content-Language": lang,
            "Vary": "Cookie, Accept-Language",
        },
    )


def error_page(
    request: Request, status: int, title: str, message: str, *, user: PageUser | None = None
) -> HTMLResponse:
    """An HTML error page; ``title`` and ``message`` are msgids translated here."""
    _ = translator(negotiate(request)).gettext
    return render(request, "error.html", user=user, status=status, title=_(title), message=_(message))


def not_found_page(request: Request, user: PageUser | None = None) -> HTMLResponse:
    # The same page whether the client does not exist or belongs to another organisation.
    return error_page(
        request,
        404,
        N_("No such client"),
        N_("There is no client at this address in your organisation."),
        user=user,
    )


def _login_page(
    request: Request, *, status: int = 200, error: str | None = None, username: str = "", next_path: str = "/"
) -> HTMLResponse:
    nonce, token, fresh = _login_csrf(request)
    response = render(
        request, "login.html", csrf_token=token, status=status, error=error, username=username, next=next_path
    )
    if fresh:
        _set_cookie(request, response, LOGIN_CSRF_COOKIE, nonce, None)
    return response


# --------------------------------------------------------------------------- login


@router.get("/login", response_class=HTMLResponse, dependencies=[PUBLIC])
async def login_form(request: Request, next: str = "/") -> Response:
    if await _session(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_path=safe_next(next))


@router.post("/login", response_class=HTMLResponse, dependencies=[PUBLIC])
async def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    _ = translator(negotiate(request)).gettext
    next_path = safe_next(next)
    if not _login_csrf_ok(request, csrf_token):
        return _login_page(
            request,
            status=403,
            error=_("The form has expired. Please try again."),
            username=username,
            next_path=next_path,
        )
    ctx = ctx_of(request)
    try:
        account = await ctx.identity.authenticate(username.strip(), password) if username.strip() and password else None
    except LoginLocked as exc:
        return _login_page(
            request,
            status=429,
            error=_("Too many failed logins. Try again in %(minutes)s minutes.")
            % {"minutes": -(-exc.retry_after // 60)},
            username=username,
            next_path=next_path,
        )
    if account is None:
        return _login_page(
            request, status=401, error=_("Wrong username or password."), username=username, next_path=next_path
        )
    token, _csrf = ctx.tokens.session_token(account)
    response = RedirectResponse(next_path, status_code=303)
    _set_cookie(request, response, SESSION_COOKIE, token, ctx.settings.session_ttl_seconds)
    _clear_cookie(request, response, LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout", dependencies=[PUBLIC])  # without a live session: straight to the login page
async def logout(
    request: Request, csrf_token: Annotated[str, Form()] = "", everywhere: Annotated[str, Form()] = ""
) -> Response:
    """End this session (the token is refused from now on), or with ``everywhere`` every
    session and token of the user."""
    principal = await _session(request)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    check_csrf(principal, csrf_token)
    platform = ctx_of(request).platform
    if everywhere:
        await sessions.revoke_all(platform, principal.user_id)
    else:
        await sessions.revoke(platform, principal.user_id, principal.jti, principal.expires)
    response = RedirectResponse("/login", status_code=303)
    _clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.post("/language", dependencies=[PUBLIC])
async def set_language(
    request: Request,
    lang: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    principal = await _session(request)
    if principal is not None:
        check_csrf(principal, csrf_token)
    elif not _login_csrf_ok(request, csrf_token):
        raise ProblemError(403, "Forbidden", "The form has expired; reload the page.", code="csrf_failed")
    # Before login the switcher sits on the login page, which keeps its own ?next=.
    response = RedirectResponse(safe_next(next, allow_login=principal is None), status_code=303)
    if lang in SUPPORTED:
        _set_cookie(request, response, LANG_COOKIE, lang, LANG_COOKIE_MAX_AGE)
    return response


# --------------------------------------------------------------------------- caseload

ClientRow = DashRow  # the dashboard's row (kept under its old name)


@dataclass
class CoachView:
    coach_id: str
    name: str
    is_me: bool
    fte: float
    capacity: int
    active: int
    clients: list[DashRow]
    team: str | None = None
    shown: list[DashRow] | None = None  # the rows after filtering and sorting (None: all)

    @property
    def over(self) -> bool:
        return self.active > self.capacity

    @property
    def rows(self) -> list[DashRow]:
        return self.clients if self.shown is None else self.shown


def _full_name(record: Mapping[str, Any]) -> str:
    return f"{record.get('first_name', '')} {record.get('last_name', '')}".strip()


def caseload_view(
    report: Mapping[str, Any],
    names: Mapping[str, str],
    staff: Mapping[str, str],
    me: uuid.UUID,
    *,
    coaches: set[str] | None = None,
    teams: Mapping[str, str] | None = None,
    also: Iterable[str] = (),
) -> list[CoachView]:
    """The dashboard's coaches and client rows from the caseload report and the registry.

    ``coaches`` limits the view to those coach ids (a team lead's team); ``teams`` maps a
    coach id to their team's name; ``also`` are coaches of the registry's clients, shown
    with an empty caseload when the report does not know them yet."""
    reported = [*report.get("coaches", [])]
    known = {str(c.get("coach_id")) for c in reported}
    reported += [{"coach_id": c} for c in dict.fromkeys(also) if c not in known]
    views: list[CoachView] = []
    for coach in reported:
        coach_id = str(coach.get("coach_id"))
        if coaches is not None and coach_id not in coaches:
            continue
        rows = [
            DashRow(
                client_id=str(c["client_id"]),
                name=names.get(str(c["client_id"])),
                coach_id=coach_id,
                phase=str(c.get("phase", "")),
                status=str(c.get("status", "")),
                colour=chip_colour(c.get("status"), c.get("rest_reason"), c.get("outcome")),
                rest_reason=c.get("rest_reason"),
                outcome=c.get("outcome"),
                since=str(c.get("since", "")),
                days=days_since(c.get("since")),
            )
            for c in coach.get("clients", [])
        ]
        rows.sort(key=lambda r: ((r.name or "\uffff").casefold(), r.client_id))
        views.append(
            CoachView(
                coach_id=coach_id,
                name=staff.get(coach_id) or coach.get("username") or coach_id,
                is_me=coach_id == str(me),
                fte=float(coach.get("fte", 1.0)),
                capacity=int(coach.get("capacity", round(20 * float(coach.get("fte", 1.0))))),
                active=int(coach.get("active_clients", 0)),
                clients=rows,
                team=(teams or {}).get(coach_id),
            )
        )
    views.sort(key=lambda c: (not c.is_me, c.team is None, (c.team or "").casefold(), c.name.casefold()))
    return views


async def _staff(request: Request, organisation_id: uuid.UUID) -> list[User]:
    return await ctx_of(request).identity.users(organisation_id)


async def _staff_names(request: Request, organisation_id: uuid.UUID) -> dict[str, str]:
    return {str(u.id): u.display_name or u.username for u in await _staff(request, organisation_id)}


async def _with_api_errors(request: Request, user: PageUser, build: Callable[[], Awaitable[Response]]) -> Response:
    """Answer a failed service call with an HTML page instead of a stack trace."""
    try:
        return await build()
    except ApiError as exc:
        if exc.status == 403:
            return error_page(
                request, 403, N_("Not allowed"), N_("Your role does not give access to this page."), user=user
            )
        return error_page(
            request,
            503,
            N_("Service unavailable"),
            N_("Part of the service did not answer. Please try again in a moment."),
            user=user,
        )


async def _journey_states(
    request: Request, user: PageUser, client_ids: list[str], *, unless_closed: frozenset[str] = frozenset()
) -> dict[str, JourneyState]:
    """Each client's journey state, for the dashboard (one audit record per journey shown).

    A client in ``unless_closed`` whose journey is closed is not shown: it is left out of
    the answer and not audited.

    From the journey snapshots (``journey_snapshots``: one query for them all), as they
    stand now (a reminder past its time is overdue); the workflow is asked only for the
    journeys without a snapshot yet, and its answers are saved as their snapshots. A
    journey that does not answer is left out (its row keeps the report's phase and status)."""
    if not client_ids:
        return {}
    ctx = ctx_of(request)
    org = user.account.organisation_id
    now = datetime.now(UTC)
    ids = [uuid.UUID(c) for c in client_ids]
    try:
        stored = await journey_snapshots.load(ctx.database, org, ids)
    except Exception:  # noqa: BLE001 - the read model is a cache: the workflow still answers
        log.warning("journey snapshots not read for the dashboard")
        stored = {}
    found = {str(c): journey_snapshots.at(s, now) for c, s in stored.items()}
    missing = [c for c in ids if c not in stored]
    if missing:
        temporal = await ctx.temporal()

        async def one(client_id: uuid.UUID) -> JourneyState | None:
            try:
                return await get_state(temporal, org, client_id)
            except JourneyNotFound:
                return None
            except Exception:  # noqa: BLE001 - one journey not answering must not hide the rest
                log.warning("journey state not read for the dashboard")
                return None

        answered = [s for s in await asyncio.gather(*(one(c) for c in missing)) if s is not None]
        found.update({str(s.client_id): journey_snapshots.at(s, now) for s in answered})
        try:
            await journey_snapshots.save(ctx.database, answered)
        except Exception:  # noqa: BLE001 - the events' consumer saves them later
            log.warning("journey snapshots not saved from the dashboard")
    found = {
        c: found[c]
        for c in client_ids  # the rows' order
        if c in found and not (c in unless_closed and found[c].status == Status.CLOSED)
    }
    await ctx.audit_many(user.principal, "journey.read", [uuid.UUID(c) for c in found])
    return found


def _visible_coaches(user: PageUser, staff: list[User]) -> set[str] | None:
    """Whose caseloads the user sees: a coach their own, a team lead their team (the whole
    organisation when they lead no team), an organisation admin everyone (None)."""
    if user.role == Role.COACH:
        return {str(user.id)}
    if user.role == Role.TEAM_LEAD and user.account.team_id is not None:
        return {str(u.id) for u in staff if u.team_id == user.account.team_id} | {str(user.id)}
    return None


@router.get("/", response_class=HTMLResponse, dependencies=[Depends(page_roles(*ALL_ROLES))])
async def dashboard(request: Request, user: CurrentUser) -> Response:
    query = DashQuery.parse(request.query_params)

    async def build() -> Response:
        if user.role not in CASELOAD_ROLES:
            return render(request, "dashboard.html", user=user, coaches=None, data_as_of=None, query=query)
        # One call after another, not gathered: on the embedded SQLite every transaction
        # takes the write lock, and concurrent ones wait on SQLite's busy back-off.
        ctx = ctx_of(request)
        staff = await _staff(request, user.account.organisation_id)
        teams = await ctx.identity.teams(user.account.organisation_id)
        team_names = {t.id: t.name for t in teams}
        visible = _visible_coaches(user, staff)
        show_clients = user.role in NAMED_CLIENT_ROLES
        registry: list[dict[str, Any]] = []
        async with api_for(request, user.account) as api:
            report = await api.caseload()
            if show_clients and visible is None:
                registry = await api.clients(None)
            elif show_clients and visible is not None:
                for coach_id in sorted(visible):
                    registry += await api.clients(uuid.UUID(coach_id))
        report = report or {}
        names = {str(r["client_id"]): _full_name(r) for r in registry}
        staff_ids = {str(u.id) for u in staff}
        coaches = caseload_view(
            report,
            names,
            {str(u.id): u.display_name or u.username for u in staff},
            user.id,
            coaches=visible,
            teams={str(u.id): team_names[u.team_id] for u in staff if u.team_id in team_names},
            also=[str(r.get("coach_id")) for r in registry if str(r.get("coach_id")) in staff_ids],
        )
        if show_clients:
            await _fill_rows(request, user, coaches, registry, query)
        return render(
            request,
            "dashboard.html",
            user=user,
            coaches=coaches,
            data_as_of=report.get("data_as_of"),
            per_fte=report.get("caseload_per_fte", 20),
            show_clients=show_clients,
            query=query,
            team_name=team_names.get(user.account.team_id) if user.account.team_id else None,
            grouped=user.role != Role.COACH,
            phases=list(Phase),
            status_filters=STATUS_FILTERS,
        )

    return await _with_api_errors(request, user, build)


async def _fill_rows(
    request: Request, user: PageUser, coaches: list[CoachView], registry: Sequence[Mapping[str, Any]], query: DashQuery
) -> None:
    """Bring each row up to date from the workflow (last contact, reminders), add closed
    clients when asked for, then filter and sort every coach's rows."""
    by_coach = {c.coach_id: c for c in coaches}
    # The report is a projection of events and may lag the registry (a client registered a
    # moment ago), and it holds open journeys only: every registry client of a coach shown
    # that the report lacks gets a row whose state comes from the journey itself.
    listed = {r.client_id for c in coaches for r in c.clients}
    from_registry: set[str] = set()
    for record in registry:
        coach = by_coach.get(str(record.get("coach_id")))
        client_id = str(record["client_id"])
        if coach is None or client_id in listed:
            continue
        listed.add(client_id)
        from_registry.add(client_id)
        coach.clients.append(
            DashRow(
                client_id=client_id,
                name=_full_name(record),
                coach_id=coach.coach_id,
                phase="",
                status="",
                colour="grey",
                rest_reason=None,
                outcome=None,
                since="",
                days=None,
            )
        )
    wanted = [r for c in coaches for r in c.clients if query.status == "CLOSED" or r.status != Status.CLOSED.value]
    states = await _journey_states(
        request,
        user,
        [r.client_id for r in wanted],
        unless_closed=frozenset() if query.status == "CLOSED" else frozenset(from_registry),
    )
    for coach in coaches:  # registry rows of closed journeys, when they are not asked for
        coach.clients = [r for r in coach.clients if r.client_id not in from_registry or r.client_id in states]
    now = datetime.now(UTC)
    for row in wanted:
        state = states.get(row.client_id)
        if state is not None:
            apply_state(row, state, now, days_since)
            row.colour = chip_colour(row.status, row.rest_reason, row.outcome)
    for coach in coaches:
        open_rows = [r for r in coach.clients if r.status != Status.CLOSED.value]
        if open_rows and all(r.state_known for r in open_rows):
            coach.active = sum(1 for r in open_rows if r.status == Status.ACTIVE.value)  # fresher than the report
        coach.shown = sort_rows([r for r in coach.clients if query.keeps(r)], query)


# --------------------------------------------------------------------------- client

RECORD_PAGES: tuple[tuple[str, str], ...] = (
    ("meetings", N_("Meetings")),
    ("profile", N_("Vocational profile")),
    ("team", N_("Multi-professional team")),
    ("plans", N_("Job search and disclosure plans")),
    ("assessments", N_("Self-assessments and feedback")),
    ("final-report", N_("Final report")),
)


def _parse_client_id(client_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(client_id)
    except ValueError:
        return None


async def _client_context(
    request: Request,
    user: PageUser,
    api: ApiClient,
    cid: uuid.UUID,
    *,
    need_client: bool = True,
    journey: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Everything the client page and its journey fragment show; None if no such client.

    ``journey``: the state a move just answered with (no need to read it again). The calls
    go one after another: on the embedded SQLite concurrent ones wait on each other's locks."""
    client: Mapping[str, Any] | None = None
    if need_client:
        client = await api.client(cid)
        if client is None or str(client.get("organisation_id")) != str(user.account.organisation_id):
            return None
    if journey is None:
        journey = await api.journey(cid)
    timeline = await api.timeline(cid)
    if not need_client and journey is None:
        return None
    users = await _staff(request, user.account.organisation_id)
    staff = {str(u.id): u.display_name or u.username for u in users}
    coaches = [CoachChoice(str(u.id), u.display_name or u.username) for u in users if u.role == Role.COACH.value]
    state = JourneyState.model_validate(journey) if journey else None
    options = legal_moves(state, user.id, user.role, coaches) if state else None
    coach_id = str((journey or client or {}).get("coach_id"))
    return {
        "client": client,
        "client_id": str(cid),
        "name": _full_name(client) if client else "",
        "journey": journey,
        "colour": chip_colour(
            (journey or {}).get("status"), (journey or {}).get("rest_reason"), (journey or {}).get("outcome")
        ),
        "coach_name": staff.get(coach_id, ""),
        "timeline": list(reversed(timeline or [])),  # newest first
        "staff": staff,
        "moves": options,
        "today": today_utc().isoformat(),
        "record_pages": RECORD_PAGES,
    }


@router.get("/clients/{client_id}", response_class=HTMLResponse, dependencies=[Depends(page_roles(*CLIENT_WORKERS))])
async def client_page(client_id: str, request: Request, user: CurrentUser) -> Response:
    cid = _parse_client_id(client_id)
    if cid is None:
        return not_found_page(request, user)

    async def build() -> Response:
        async with api_for(request, user.account) as api:
            context = await _client_context(request, user, api, cid)
        if context is None:
            return not_found_page(request, user)
        done = request.query_params.get("done", "")
        return render(request, "client.html", user=user, done=done if done in DONE_CODES else "", **context)

    return await _with_api_errors(request, user, build)


DONE_CODES = frozenset({*MOVE_FIELDS, "job_started"})


async def _journey_answer(
    request: Request,
    user: PageUser,
    cid: uuid.UUID,
    submit: Callable[[ApiClient], Awaitable[Any]],
    *,
    done: str,
    form: Mapping[str, str],
) -> Response:
    """Send a move or milestone and answer: htmx gets the journey fragment (updated, or
    with the refusal in place), a plain form post a redirect back or the page with the error."""
    htmx = request.headers.get("hx-request") == "true"
    error: str | None = None
    errors: dict[str, str] = {}
    status = 200

    async def build() -> Response:
        nonlocal error, errors, status
        answered: Mapping[str, Any] | None = None
        async with api_for(request, user.account) as api:
            try:
                result = await submit(api)
                answered = result if isinstance(result, Mapping) else None
            except ApiError as exc:
                if exc.status == 404:
                    return not_found_page(request, user)
                if exc.status == 409:
                    error, status = rejection_msgid(exc.code), 409
                elif exc.status == 422:
                    errors, status = field_errors(exc.errors), 422
                    error = N_("Some fields need checking.")
                elif exc.status == 403:
                    error, status = N_("Your role cannot change a journey."), 403
                else:
                    raise
            if status == 200 and not htmx:
                return RedirectResponse(f"/clients/{cid}?done={done}#journey-live", status_code=303)
            context = await _client_context(request, user, api, cid, need_client=not htmx, journey=answered)
        if context is None:
            return not_found_page(request, user)
        context.update(error=error, field_errors=errors, failed=form.get("action") or form.get("kind"), submitted=form)
        context["done"] = done if status == 200 else ""
        template = "journey/_live.html" if htmx else "client.html"
        return render(request, template, user=user, status=status, **context)

    return await _with_api_errors(request, user, build)


async def _form(request: Request, user: PageUser) -> dict[str, str]:
    data = await request.form()
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    check_csrf(user.principal, form.get(CSRF_FIELD))
    return form


@router.post(
    "/clients/{client_id}/moves",
    response_class=HTMLResponse,
    dependencies=[Depends(page_roles(Role.COACH, Role.TEAM_LEAD))],
)
async def client_move(client_id: str, request: Request, user: CurrentUser) -> Response:
    """A journey move from the client page's forms (htmx, or a plain post without JS)."""
    cid = _parse_client_id(client_id)
    if cid is None:
        return not_found_page(request, user)
    form = await _form(request, user)
    body = move_body(form)
    if body is None:
        return error_page(request, 400, N_("Bad request"), N_("The request could not be understood."), user=user)
    return await _journey_answer(
        request, user, cid, lambda api: api.move(cid, dict(body)), done=body["action"], form=form
    )


def _occurred_at(day: str) -> datetime | str:
    """A date from the form as the time it happened: now for today, noon (Finnish time) for
    another day; the string back unchanged when it is not a date (the API refuses it)."""
    try:
        when = date.fromisoformat(day)
    except ValueError:
        return day
    now = _now()
    if when == now.date():
        return now
    return datetime.combine(when, time(12), tzinfo=get_timezone(TIMEZONE))  # a future day: the API refuses it


@router.post(
    "/clients/{client_id}/milestones",
    response_class=HTMLResponse,
    dependencies=[Depends(page_roles(*CLIENT_WORKERS))],
)
async def client_milestone(client_id: str, request: Request, user: CurrentUser) -> Response:
    """A job start recorded on the client page, with the move to agreeing with the employer
    when the coach confirms it."""
    cid = _parse_client_id(client_id)
    if cid is None:
        return not_found_page(request, user)
    form = await _form(request, user)
    if form.get("kind") != "job_started":
        return error_page(request, 400, N_("Bad request"), N_("The request could not be understood."), user=user)
    occurred = _occurred_at(form.get("occurred_at", "").strip())
    body: dict[str, Any] = {
        "kind": "job_started",
        "occurred_at": occurred.isoformat() if isinstance(occurred, datetime) else occurred,
        "confirm_move": form.get("confirm_move") == "yes",
    }
    return await _journey_answer(
        request, user, cid, lambda api: api.milestone(cid, body), done="job_started", form=form
    )


# --------------------------------------------------------------------------- install

_Handler = Callable[[Request, Any], Awaitable[Response]]
_AnyHandler = Callable[[Request, Any], Response | Awaitable[Response]]
_HTTP_PAGES: dict[int, tuple[str, str]] = {
    400: (N_("Bad request"), N_("The request could not be understood.")),
    403: (N_("Not allowed"), N_("The form has expired or you may not do this. Reload the page and try again.")),
    404: (N_("Page not found"), N_("There is no page at this address.")),
    405: (N_("Not allowed"), N_("This address does not accept that kind of request.")),
    503: (N_("Service unavailable"), N_("Part of the service did not answer. Please try again in a moment.")),
}


def _page_for_status(request: Request, status: int) -> HTMLResponse:
    title, message = _HTTP_PAGES.get(
        status, (N_("Something went wrong"), N_("The request could not be completed. Please try again."))
    )
    return error_page(request, status, title, message)


async def _problem_json(request: Request, exc: Exception) -> JSONResponse:
    # Only used if install() ran before the problem handlers existed.
    if isinstance(exc, ProblemError):
        return problem_response(exc.status, exc.title, exc.detail, code=exc.code, headers=exc.headers)
    if isinstance(exc, StarletteHTTPException):
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(exc.status_code, "Error", str(exc.detail), headers=headers)
    return problem_response(422, "Unprocessable Content", "The request has invalid fields.", code="validation_failed")


def _html_unless_api(previous: _AnyHandler | None) -> _Handler:
    async def handle(request: Request, exc: Any) -> Response:
        if _is_api(request):
            answer = (previous or _problem_json)(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        if isinstance(exc, ProblemError):
            if exc.status == 401:
                return _login_redirect(request)
            return _page_for_status(request, exc.status)
        if isinstance(exc, StarletteHTTPException):
            return _page_for_status(request, exc.status_code)
        return _page_for_status(request, 400)  # RequestValidationError on a page

    return handle


def _login_redirect(request: Request) -> Response:
    target = "/login"
    here = _here(request)
    if request.method in ("GET", "HEAD") and safe_next(here) != "/":
        target += "?next=" + quote(here, safe="/")
    if request.headers.get("hx-request") == "true":
        # htmx would swap a followed redirect into the page; tell it to navigate instead.
        return Response(status_code=401, headers={"HX-Redirect": target})
    response = RedirectResponse(target, status_code=303)
    if request.cookies.get(SESSION_COOKIE):
        _clear_cookie(request, response, SESSION_COOKIE)  # expired or no longer valid
    return response


async def _on_login_required(request: Request, _exc: Exception) -> Response:
    return _login_redirect(request)


async def _on_api_error(request: Request, exc: Exception) -> Response:
    status = exc.status if isinstance(exc, ApiError) else 502
    if _is_api(request):
        return problem_response(502, "Bad Gateway", "A service did not answer.", code="upstream_failed")
    return _page_for_status(request, 403 if status == 403 else 503)


def install(app: FastAPI) -> None:
    """Mount the static files and answer page errors with HTML (``/api/...`` keeps problem+json)."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for cls in (ProblemError, StarletteHTTPException, RequestValidationError):
        previous: _AnyHandler | None = app.exception_handlers.get(cls)
        app.add_exception_handler(cls, _html_unless_api(previous))
    app.add_exception_handler(LoginRequired, _on_login_required)
    app.add_exception_handler(ApiError, _on_api_error)


__all__ = [
    "NAV",
    "ClientRow",
    "CoachView",
    "LoginRequired",
    "NavItem",
    "PageUser",
    "caseload_view",
    "chip_colour",
    "days_since",
    "install",
    "page_user",
    "render",
    "router",
    "safe_next",
]
