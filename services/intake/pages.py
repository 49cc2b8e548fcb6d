"""Intake's pages in the common web UI: referrals (list, new, accept, decline), client
registration (self-referral), a client's registry details and consent, quick help, and
the team lead's view of declines and caseload overrides.

The pages call ``actions`` directly (intake's own data, the same code as the API, so the
same validation, audit and events). Forms post back to their page; a bad form is shown
again with a message at each field (422), a good one redirects (303).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from pydantic import BaseModel, ValidationError

from services.intake import actions, labels, store
from services.intake.models import (
    ClientCreate,
    ConsentChange,
    QuickHelpCreate,
    ReferralAccept,
    ReferralCreate,
    ReferralDecline,
)
from shared.auth import page_roles
from shared.contracts.intake import (
    ConsentScope,
    InformationParty,
    ReferralStatus,
)
from shared.contracts.journey import Role
from shared.i18n import N_, negotiate, translator
from shared.problems import ProblemError
from shared.service import ctx_of
from shared.ui import template_environment, web
from shared.ui.web import CurrentUser, PageUser

TEMPLATES = Path(__file__).parent / "ui" / "templates"
INTAKE_ROLES = frozenset({Role.COACH, Role.TEAM_LEAD})
LEAD_ROLES = frozenset({Role.TEAM_LEAD, Role.ORG_ADMIN})
# The pages' declarations for the route-table walk (each page checks the role again).
INTAKE_PAGE = [Depends(page_roles(*INTAKE_ROLES))]
LEAD_PAGE = [Depends(page_roles(*LEAD_ROLES))]
CLIENT_FIELDS = (
    "first_name",
    "last_name",
    "personal_identity_code",
    "date_of_birth",
    "phone",
    "email",
    "preferred_language",
    "municipality",
)

router = APIRouter(include_in_schema=False)
M = TypeVar("M", bound=BaseModel)


@cache
def env_for(lang: str) -> Environment:
    env = template_environment(TEMPLATES, lang)
    env.filters.update(labels.filters(lang))
    env.globals.update(options=labels.options(lang), parties=[p.value for p in InformationParty])
    return env


def _render(request: Request, template: str, user: PageUser, status: int = 200, **context: Any) -> HTMLResponse:
    return web.render(request, env_for, template, user=user, status=status, **context)


async def _staff(request: Request, user: PageUser) -> dict[str, str]:
    users = await ctx_of(request).identity.users(user.account.organisation_id)
    return {str(u.id): u.display_name or u.username for u in users}


def _gettext(request: Request) -> Callable[[str], str]:
    return translator(negotiate(request)).gettext


def _not_found(request: Request, user: PageUser, what: str) -> HTMLResponse:
    titles = {
        "referral": (N_("No such referral"), N_("There is no referral at this address in your organisation.")),
        "client": (N_("No such client"), N_("There is no client at this address in your organisation.")),
    }
    title, message = titles[what]
    return web.error_page(request, env_for, 404, title, message, user=user)


def _unavailable(request: Request, user: PageUser) -> HTMLResponse:
    return web.error_page(
        request,
        env_for,
        503,
        N_("Service unavailable"),
        N_("Part of the service did not answer. Please try again in a moment."),
        user=user,
    )


async def _form(request: Request, user: PageUser) -> dict[str, Any] | None:
    """The posted form as a dict (repeated names as lists), or None if the CSRF token is wrong."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        data[key] = values if len(values) > 1 else (values[0] if values else "")
    if not web.csrf_ok(user, data.pop("csrf_token", None)):
        return None
    return data


def _expired(request: Request, user: PageUser) -> HTMLResponse:
    return web.error_page(
        request,
        env_for,
        403,
        N_("Not allowed"),
        N_("The form has expired or you may not do this. Reload the page and try again."),
        user=user,
    )


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _validate(model: type[M], data: Mapping[str, Any], lang: str) -> tuple[M | None, dict[str, str]]:
    try:
        return model.model_validate(data), {}
    except ValidationError as exc:
        return None, labels.field_messages(exc.errors(), lang)


def _client_data(form: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {name: form.get(prefix + name, "") for name in CLIENT_FIELDS}


def _consent_data(form: Mapping[str, Any]) -> dict[str, Any]:
    parties = _list(form.get("consent.information_exchange"))
    return {
        "processing": form.get("consent.processing") == "yes",
        "information_exchange": [
            {"party": p, "name": form.get("consent.other_party_name", "") if p == "other" else None} for p in parties
        ],
    }


def _consent_errors(errors: dict[str, str]) -> dict[str, str]:
    # An item of the list is shown at the list's control: "consent.information_exchange.0.name" -> ...other name.
    out = dict(errors)
    for key, message in errors.items():
        if key.startswith("consent.information_exchange.") and key.endswith(".name"):
            out.setdefault("consent.other_party_name", message)
        elif key.startswith("consent.information_exchange."):
            out.setdefault("consent.information_exchange", message)
    return out


async def _guarded(
    request: Request, user: PageUser, roles: frozenset[Role], build: Callable[[], Awaitable[Response]]
) -> Response:
    """Role check, then the page; the workflow engine or audit log being away is a 503 page."""
    if user.role not in roles:
        return web.forbidden_page(request, env_for, user)
    try:
        return await build()
    except actions.JourneyNotStarted:
        return _unavailable(request, user)
    except ProblemError as exc:  # audit log or workflow engine unavailable
        if exc.status == 503:
            return _unavailable(request, user)
        raise


# --------------------------------------------------------------------------- assignment form


def _caseload_problem(request: Request, exc: actions.CaseloadFull) -> str:
    _ = _gettext(request)
    load = exc.load
    return _(
        "%(coach)s has %(active)s active clients and the limit is %(capacity)s. Choose another coach, "
        "or give a reason for assigning past the limit.",
    ) % {"coach": load.name, "active": load.active, "capacity": load.capacity}


async def _register_form_context(request: Request, user: PageUser) -> dict[str, Any]:
    ctx = ctx_of(request)
    coaches = await actions.coach_loads(ctx, user.principal)
    return {"coaches": coaches, "per_fte": actions.CASELOAD_PER_FTE}


def _registration_outcome(request: Request, exc: Exception) -> tuple[dict[str, str], str | None]:
    """Field messages and a page-level message for a refused registration."""
    lang = negotiate(request)
    if isinstance(exc, actions.Invalid):
        return _consent_errors(labels.field_messages([e.model_dump() for e in exc.errors], lang)), None
    if isinstance(exc, actions.CaseloadFull):
        message = _caseload_problem(request, exc)
        return {"override_reason": message}, message
    if isinstance(exc, actions.Conflict):
        return {}, _gettext(request)(N_("The referral has been accepted or declined already."))
    raise exc


# --------------------------------------------------------------------------- referrals


@router.get("/referrals", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def referral_list(request: Request, user: CurrentUser, show: str = "open") -> Response:
    async def build() -> Response:
        status = None if show == "all" else ReferralStatus.RECEIVED
        rows = await actions.referrals(ctx_of(request), user.principal, status)
        return _render(request, "referrals.html", user, referrals=rows, show="all" if status is None else "open")

    return await _guarded(request, user, INTAKE_ROLES, build)


@router.get("/referrals/new", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def referral_new(request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        return _render(request, "referral_new.html", user, values={"referred_on": date.today().isoformat()}, errors={})

    return await _guarded(request, user, INTAKE_ROLES, build)


@router.post("/referrals/new", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def referral_create(request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        form = await _form(request, user)
        if form is None:
            return _expired(request, user)
        data = dict(form)
        data["wants_open_employment"] = {"yes": True, "no": False}.get(str(form.get("wants_open_employment")))
        body, errors = _validate(ReferralCreate, data, negotiate(request))
        if body is None:
            return _render(request, "referral_new.html", user, status=422, values=form, errors=errors)
        referral_id = await actions.create_referral(ctx_of(request), user.principal, body)
        return RedirectResponse(f"/referrals/{referral_id}", status_code=303)

    return await _guarded(request, user, INTAKE_ROLES, build)


async def _referral_page(
    request: Request,
    user: PageUser,
    referral_id: uuid.UUID,
    *,
    status: int = 200,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    decline_values: Mapping[str, Any] | None = None,
    decline_errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> Response:
    ctx = ctx_of(request)
    try:
        referral = await actions.referral(ctx, user.principal, referral_id)
    except actions.NotFound:
        return _not_found(request, user, "referral")
    if values is None:
        values = {
            "client.first_name": referral.first_name or "",
            "client.last_name": referral.last_name or "",
            "client.preferred_language": "fi",
            "coach_id": str(user.id) if user.role == Role.COACH else "",
        }
    return _render(
        request,
        "referral.html",
        user,
        status=status,
        referral=referral,
        values=values,
        errors=errors or {},
        decline_values=decline_values or {},
        decline_errors=decline_errors or {},
        message=message,
        **(await _register_form_context(request, user) if referral.status == ReferralStatus.RECEIVED else {}),
    )


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


@router.get("/referrals/{referral_id}", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def referral_detail(referral_id: str, request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        rid = _uuid(referral_id)
        if rid is None:
            return _not_found(request, user, "referral")
        return await _referral_page(request, user, rid)

    return await _guarded(request, user, INTAKE_ROLES, build)


@router.post("/referrals/{referral_id}/accept", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def referral_accept(referral_id: str, request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        rid = _uuid(referral_id)
        if rid is None:
            return _not_found(request, user, "referral")
        form = await _form(request, user)
        if form is None:
            return _expired(request, user)
        data = {
            "coach_id": form.get("coach_id", ""),
            "client": _client_data(form, "client."),
            "consent": _consent_data(form),
            "override_reason": form.get("override_reason", ""),
            "wish_confirmed": form.get("wish_confirmed") == "yes",
        }
        body, errors = _validate(ReferralAccept, data, negotiate(request))
        message = None
        if body is not None:
            try:
                result = await actions.accept_referral(ctx_of(request), user.principal, rid, body)
                return RedirectResponse(f"/clients/{result.client_id}", status_code=303)
            except actions.NotFound:
                return _not_found(request, user, "referral")
            except (actions.Invalid, actions.CaseloadFull, actions.Conflict) as exc:
                errors, message = _registration_outcome(request, exc)
        status = 409 if message else 422
        return await _referral_page(
            request, user, rid, status=status, values=form, errors=_consent_errors(errors), message=message
        )

    return await _guarded(request, user, INTAKE_ROLES, build)


@router.post("/referrals/{referral_id}/decline", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def referral_decline(referral_id: str, request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        rid = _uuid(referral_id)
        if rid is None:
            return _not_found(request, user, "referral")
        form = await _form(request, user)
        if form is None:
            return _expired(request, user)
        data = {"reason": form.get("reason", ""), "note": form.get("note", "")}
        body, errors = _validate(ReferralDecline, data, negotiate(request))
        message = None
        if body is not None:
            try:
                await actions.decline_referral(ctx_of(request), user.principal, rid, body)
                return RedirectResponse(f"/referrals/{rid}", status_code=303)
            except actions.NotFound:
                return _not_found(request, user, "referral")
            except actions.Conflict:
                message = _gettext(request)(N_("The referral has been accepted or declined already."))
        return await _referral_page(
            request,
            user,
            rid,
            status=409 if message else 422,
            decline_values=form,
            decline_errors=errors,
            message=message,
        )

    return await _guarded(request, user, INTAKE_ROLES, build)


# --------------------------------------------------------------------------- self-referral


@router.get("/register", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def register_form(request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        values = {"preferred_language": "fi", "coach_id": str(user.id) if user.role == Role.COACH else ""}
        context = await _register_form_context(request, user)
        return _render(request, "register.html", user, values=values, errors={}, message=None, **context)

    return await _guarded(request, user, INTAKE_ROLES, build)


@router.post("/register", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def register(request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        form = await _form(request, user)
        if form is None:
            return _expired(request, user)
        data = {
            **_client_data(form, ""),
            "coach_id": form.get("coach_id", ""),
            "consent": _consent_data(form),
            "override_reason": form.get("override_reason", ""),
        }
        body, errors = _validate(ClientCreate, data, negotiate(request))
        message = None
        if body is not None:
            try:
                result = await actions.register_client(
                    ctx_of(request), user.principal, body, body.coach_id, body.consent, body.override_reason
                )
                return RedirectResponse(f"/clients/{result.client_id}", status_code=303)
            except (actions.Invalid, actions.CaseloadFull, actions.Conflict) as exc:
                errors, message = _registration_outcome(request, exc)
        context = await _register_form_context(request, user)
        return _render(
            request,
            "register.html",
            user,
            status=409 if message else 422,
            values=form,
            errors=_consent_errors(errors),
            message=message,
            **context,
        )

    return await _guarded(request, user, INTAKE_ROLES, build)


# --------------------------------------------------------------------------- client details, consent


async def _details_page(
    request: Request,
    user: PageUser,
    client_id: uuid.UUID,
    *,
    status: int = 200,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> Response:
    try:
        client = await actions.client_details(ctx_of(request), user.principal, client_id, protected=True)
    except actions.NotFound:
        return _not_found(request, user, "client")
    staff = await _staff(request, user)
    return _render(
        request,
        "client_details.html",
        user,
        status=status,
        client=client,
        name=f"{client.first_name} {client.last_name}",
        staff=staff,
        values=values or {},
        errors=errors or {},
    )


@router.get("/clients/{client_id}/details", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def client_details(client_id: str, request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        cid = _uuid(client_id)
        if cid is None:
            return _not_found(request, user, "client")
        return await _details_page(request, user, cid)

    return await _guarded(request, user, INTAKE_ROLES, build)


@router.post("/clients/{client_id}/details", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def consent_change(client_id: str, request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        cid = _uuid(client_id)
        if cid is None:
            return _not_found(request, user, "client")
        # Existence first: another organisation's client is a 404 whatever the form says.
        if not await actions.client_exists(ctx_of(request), user.principal, cid):
            return _not_found(request, user, "client")
        form = await _form(request, user)
        if form is None:
            return _expired(request, user)
        data = {
            "scope": form.get("scope", ""),
            "party": form.get("party", ""),
            "party_name": form.get("party_name", ""),
            "given": {"give": True, "withdraw": False}.get(str(form.get("action"))),
        }
        if data["scope"] == ConsentScope.PROCESSING:
            data["party"] = data["party_name"] = ""
        body, errors = _validate(ConsentChange, data, negotiate(request))
        if body is None:
            return await _details_page(request, user, cid, status=422, values=form, errors=errors)
        try:
            await actions.change_consent(ctx_of(request), user.principal, cid, body)
        except actions.NotFound:
            return _not_found(request, user, "client")
        return RedirectResponse(f"/clients/{cid}/details", status_code=303)

    return await _guarded(request, user, INTAKE_ROLES, build)


# --------------------------------------------------------------------------- quick help


async def _quick_help_page(
    request: Request,
    user: PageUser,
    *,
    status: int = 200,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    saved: bool = False,
) -> Response:
    ctx = ctx_of(request)
    async with ctx.database.session(organisation_id=user.account.organisation_id) as session:
        recent = await store.recent_quick_help(session)
        count, minutes = await store.quick_help_totals(session)
    staff = {u.id: u.display_name or u.username for u in await ctx.identity.users(user.account.organisation_id)}
    rows = [
        {
            "occurred_on": q.occurred_on,
            "topic": q.topic,
            "duration": q.duration_minutes,
            "named": q.person_name_enc is not None,  # the name itself is not shown in the list
            "coach": staff.get(q.coach_id, ""),
        }
        for q in recent
    ]
    return _render(
        request,
        "quick_help.html",
        user,
        status=status,
        values=values or {"occurred_on": date.today().isoformat(), "duration_minutes": "30", "anonymous": "yes"},
        errors=errors or {},
        saved=saved,
        recent=rows,
        total_count=count,
        total_minutes=minutes,
    )


@router.get("/quick-help", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def quick_help_form(request: Request, user: CurrentUser, saved: int = 0) -> Response:
    async def build() -> Response:
        return await _quick_help_page(request, user, saved=bool(saved))

    return await _guarded(request, user, INTAKE_ROLES, build)


@router.post("/quick-help", response_class=HTMLResponse, dependencies=INTAKE_PAGE)
async def quick_help(request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        form = await _form(request, user)
        if form is None:
            return _expired(request, user)
        data = {
            "topic": form.get("topic", ""),
            "duration_minutes": form.get("duration_minutes", ""),
            "occurred_on": form.get("occurred_on", ""),
            "anonymous": form.get("anonymous") != "no",
            "person_name": form.get("person_name", ""),
        }
        body, errors = _validate(QuickHelpCreate, data, negotiate(request))
        if body is None:
            return await _quick_help_page(request, user, status=422, values=form, errors=errors)
        await actions.record_quick_help(ctx_of(request), user.principal, body)
        return RedirectResponse("/quick-help?saved=1", status_code=303)

    return await _guarded(request, user, INTAKE_ROLES, build)


# --------------------------------------------------------------------------- oversight


@router.get("/intake/oversight", response_class=HTMLResponse, dependencies=LEAD_PAGE)
async def oversight(request: Request, user: CurrentUser) -> Response:
    async def build() -> Response:
        ctx = ctx_of(request)
        report = await actions.oversight(ctx, user.principal)
        return _render(request, "oversight.html", user, report=report, staff=await _staff(request, user))

    return await _guarded(request, user, LEAD_ROLES, build)


def install(app: FastAPI) -> None:
    web.install(app, env_for)
