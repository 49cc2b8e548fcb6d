"""The employer pages of the common web UI, served by the employer app on the single origin.

Coordinators and coaches register employers, log contacts (with the weekly count per
coach against six), add openings, see matches with their reasons and start and end
placements; team leads read. The pages call the same operations as the API
(``services.employer.api``), so they check, audit and write alike; client names come from
the intake API as the logged-in user, which checks the role and audits the read.

The layout, header navigation and page plumbing are the common ones (``shared.ui``).
Forms post with the session's CSRF token; no inline scripts.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.staticfiles import StaticFiles

from services.employer import api, domain, labels, store
from services.employer.models import (
    MESSAGES,
    ContactCreate,
    ContactPersonIn,
    EmployerCreate,
    MatchProfileIn,
    OpeningCreate,
    OpeningStatusChange,
    PlacementCreate,
    PlacementEnd,
)
from shared.auth import CSRF_FIELD, declare_roles
from shared.contracts.employer import (
    WEEKLY_FACE_TO_FACE_TARGET,
    ContactChannel,
    ContactMode,
    OpeningSource,
    OpeningStatus,
    PlacementKind,
    PlacementStatus,
    WorkArrangementSupport,
)
from shared.i18n import N_, negotiate, translator
from shared.problems import ProblemError
from shared.service import ctx_of
from shared.ui import template_environment, web
from shared.ui.web import PageUser

UI_DIR = Path(__file__).parent / "ui"
TEMPLATES = UI_DIR / "templates"
STATIC = UI_DIR / "static"
STATIC_PATH = "/employer-static"

READERS = frozenset(api.READERS)
WRITERS = frozenset(api.WRITERS)

router = APIRouter(include_in_schema=False)


# --------------------------------------------------------------------------- rendering


@cache
def env_for(lang: str) -> Environment:
    """The employer templates, then the shared layout, with the employer vocabulary."""
    env = template_environment(TEMPLATES, lang)
    env.filters.update(labels.filters(lang))
    env.globals.update(static=STATIC_PATH, weekly_target=WEEKLY_FACE_TO_FACE_TARGET, choices=labels.choices(lang))
    return env


def render(request: Request, template: str, *, user: PageUser, status: int = 200, **context: Any) -> HTMLResponse:
    return web.render(request, env_for, template, user=user, status=status, writes=user.role in WRITERS, **context)


def not_found_page(request: Request, user: PageUser) -> HTMLResponse:
    return web.error_page(
        request, env_for, 404, N_("Page not found"), N_("There is no page at this address."), user=user
    )


def bad_request_page(request: Request, user: PageUser) -> HTMLResponse:
    return web.error_page(
        request, env_for, 400, N_("Bad request"), N_("The request could not be understood."), user=user
    )


# --------------------------------------------------------------------------- the user


async def reader(user: web.CurrentUser) -> PageUser:
    if user.role not in READERS:
        raise ProblemError(403, "Forbidden", "Your role does not give access to this page.", code="forbidden")
    return user


async def writer(user: web.CurrentUser) -> PageUser:
    if user.role not in WRITERS:
        raise ProblemError(403, "Forbidden", "Your role does not give access to this page.", code="forbidden")
    return user


declare_roles(reader, READERS)  # what the route-table walk reads
declare_roles(writer, WRITERS)


async def _form(request: Request, user: PageUser) -> FormData:
    form = await request.form()
    if not web.csrf_ok(user, form.get(CSRF_FIELD)):
        raise ProblemError(403, "Forbidden", "The form has expired; reload the page.", code="csrf_failed")
    return form


# --------------------------------------------------------------------------- form helpers

# Model-level errors belong to one field of the form.
_FIELD_OF_CODE = {
    "client_needed": "client_id",
    "carved_tasks": "tasks",
    "end_before_start": "planned_end_on",
    "permanent_end": "planned_end_on",
    "hours_order": "hours_max",
}
_GENERIC: dict[str, str] = {
    "missing": N_("Fill in this field."),
    "string_too_short": N_("Fill in this field."),
    "string_too_long": N_("The text is too long."),
    "too_short": N_("Choose at least one."),
    "too_long": N_("Too many items."),
    "date_parsing": N_("Give a date."),
    "date_from_datetime_parsing": N_("Give a date."),
    "float_parsing": N_("Give a number."),
    "int_parsing": N_("Give a number."),
    "greater_than": N_("The number is out of range."),
    "greater_than_equal": N_("The number is out of range."),
    "less_than_equal": N_("The number is out of range."),
    "uuid_parsing": N_("Choose from the list."),
    "enum": N_("Choose from the list."),
    "bool_parsing": N_("Choose from the list."),
    "value_error": N_("Check this field."),
}


def field_errors(
    request: Request, exc: ValidationError | ProblemError, rename: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Form field name -> translated message."""
    _ = translator(negotiate(request)).gettext
    errors: dict[str, str] = {}
    if isinstance(exc, ProblemError):
        for e in exc.extra.get("errors", []):
            errors.setdefault(str(e["field"]), _(str(e["message"])))
        return errors
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()))
        kind = str(e.get("type", ""))
        name = (rename or {}).get(loc, loc.split(".")[0] if loc else _FIELD_OF_CODE.get(kind, "form"))
        if kind in MESSAGES:
            message = _(MESSAGES[kind])
        elif kind == "value_error" and "email" in str(e.get("msg", "")):
            message = _(N_("Give a valid e-mail address."))
        else:
            message = _(_GENERIC.get(kind, N_("Check this field.")))
        errors.setdefault(name, message)
    return errors


def problem_message(request: Request, exc: ProblemError) -> str:
    _ = translator(negotiate(request)).gettext
    msgid = labels.PROBLEM_TEXTS.get(exc.code or "")
    return _(msgid) if msgid else _(N_("The request could not be completed. Please try again."))


def _one(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _many(form: FormData, name: str) -> list[str]:
    return [v for v in form.getlist(name) if isinstance(v, str) and v]


def _checked(form: FormData, name: str) -> bool:
    return _one(form, name) in ("on", "true", "1", "yes")


def _values(form: FormData, names: Sequence[str]) -> dict[str, Any]:
    return {n: _one(form, n) for n in names}


def _parse_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _redirect(path: str, **query: str) -> RedirectResponse:
    return RedirectResponse(path + (f"?{urlencode(query)}" if query else ""), status_code=303)


# --------------------------------------------------------------------------- other services' data


async def _intake_get(request: Request, user: PageUser, path: str) -> Any | None:
    """GET an intake API path as the user; None when unavailable (names are then not shown)."""
    ctx = ctx_of(request)
    token = ctx.tokens.access_token(user.account)
    try:
        async with httpx.AsyncClient(base_url=ctx.settings.internal_api, timeout=10) as http:
            response = await http.get(path, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return response.json()


def _full_name(record: Mapping[str, Any]) -> str:
    return f"{record.get('first_name', '')} {record.get('last_name', '')}".strip()


async def client_names(request: Request, user: PageUser) -> dict[str, str]:
    records = await _intake_get(request, user, "/api/v1/clients")
    return {str(r["client_id"]): _full_name(r) for r in records or [] if isinstance(r, dict)}


async def client_name(request: Request, user: PageUser, client_id: uuid.UUID) -> str | None:
    record = await _intake_get(request, user, f"/api/v1/clients/{client_id}")
    return _full_name(record) if isinstance(record, dict) else None


async def _staff(request: Request, user: PageUser) -> dict[str, str]:
    users = await ctx_of(request).identity.users(user.account.organisation_id)
    return {str(u.id): u.display_name or u.username for u in users}


async def _staff_choices(request: Request, user: PageUser) -> list[tuple[str, str]]:
    users = await ctx_of(request).identity.users(user.account.organisation_id)
    return [(str(u.id), u.display_name or u.username) for u in users if u.role in {r.value for r in api.STAFF_ROLES}]


async def _client_choices(request: Request, user: PageUser) -> list[tuple[str, str]]:
    """The organisation's clients whose journeys are open, by name."""
    ctx = ctx_of(request)
    async with ctx.database.session(organisation_id=user.account.organisation_id) as session:
        pool = await store.pool(session)
    names = await client_names(request, user)
    choices = [(str(p.client_id), names.get(str(p.client_id)) or _short(p.client_id)) for p in pool]
    return sorted(choices, key=lambda c: c[1].casefold())


def _short(client_id: uuid.UUID | str) -> str:
    return f"#{str(client_id)[:8]}"


# --------------------------------------------------------------------------- employers


EMPLOYER_FIELDS = ("name", "business_id", "industry", "municipalities", "address")
PERSON_FIELDS = ("person_name", "person_title", "person_email", "person_phone")
_EMPLOYER_RENAME = {
    **{f"contact_persons.0.{f}": f"person_{f}" for f in ("name", "title", "email", "phone")},
    **{f"locations.{i}.municipality": "municipalities" for i in range(20)},
    **{f"locations.{i}.address": "address" for i in range(20)},
}


def _employer_body(form: FormData) -> dict[str, Any]:
    municipalities = [m.strip() for m in _one(form, "municipalities").split(",") if m.strip()]
    address = _one(form, "address") or None
    locations = [{"municipality": m, "address": address if i == 0 else None} for i, m in enumerate(municipalities)]
    person = {f: _one(form, f"person_{f}") or None for f in ("name", "title", "email", "phone")}
    return {
        "name": _one(form, "name"),
        "business_id": _one(form, "business_id"),
        "industry": _one(form, "industry") or None,
        "locations": locations,
        "contact_persons": [person] if any(person.values()) else [],
        "preferred_channel": _one(form, "preferred_channel") or ContactChannel.EMAIL.value,
        "support_needs": _many(form, "support_needs"),
    }


@router.get("/employers", response_class=HTMLResponse)
async def employers_page(request: Request, user: PageUser = Depends(reader), name: str = "") -> Response:
    ctx = ctx_of(request)
    employers = await api.list_employers(ctx, user.principal, name.strip() or None)
    return render(request, "employers.html", user=user, employers=employers, name=name)


def _employer_form(
    request: Request,
    user: PageUser,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    alert: str | None = None,
    existing_id: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "employer_form.html",
        user=user,
        status=status,
        values=values or {"preferred_channel": ContactChannel.EMAIL.value},
        errors=errors or {},
        alert=alert,
        existing_id=existing_id,
    )


@router.get("/employers/new", response_class=HTMLResponse)
async def employer_new(request: Request, user: PageUser = Depends(writer)) -> Response:
    return _employer_form(request, user)


@router.post("/employers/new", response_class=HTMLResponse)
async def employer_create(request: Request, user: PageUser = Depends(writer)) -> Response:
    form = await _form(request, user)
    values: dict[str, Any] = {
        **_values(form, (*EMPLOYER_FIELDS, *PERSON_FIELDS, "preferred_channel")),
        "support_needs": _many(form, "support_needs"),
    }
    try:
        body = EmployerCreate.model_validate(_employer_body(form))
        created = await api.register_employer(ctx_of(request), user.principal, body)
    except ValidationError as exc:
        errors = field_errors(request, exc, _EMPLOYER_RENAME)
        return _employer_form(request, user, values=values, errors=errors, status=422)
    except ProblemError as exc:
        if exc.status != 409:
            raise
        return _employer_form(
            request,
            user,
            values=values,
            alert=problem_message(request, exc),
            existing_id=exc.extra.get("employer_id"),
            status=409,
        )
    return _redirect(f"/employers/{created.id}", done="registered")


@router.get("/employers/{employer_id}", response_class=HTMLResponse)
async def employer_page(
    employer_id: str, request: Request, user: PageUser = Depends(reader), done: str = "", logged: str = ""
) -> Response:
    eid = _parse_uuid(employer_id)
    if eid is None:
        return not_found_page(request, user)
    ctx = ctx_of(request)
    employer = await api.read_employer(ctx, user.principal, eid)
    contacts = await api.list_contacts(ctx, user.principal, employer_id=eid, limit=50)
    openings = await api.list_openings(ctx, user.principal, employer_id=eid)
    placements = await api.list_placements(ctx, user.principal, employer_id=eid)
    needs_names = any(c.client_id for c in contacts) or bool(placements)
    names = await client_names(request, user) if needs_names else {}
    logged_contact = next((c for c in contacts if str(c.id) == logged), None)
    return render(
        request,
        "employer.html",
        user=user,
        employer=employer,
        contacts=contacts,
        openings=openings,
        placements=placements,
        names=names,
        staff=await _staff(request, user),
        done=done,
        logged=logged_contact,
        person_values={},
        person_errors={},
    )


@router.post("/employers/{employer_id}/contact-persons", response_class=HTMLResponse)
async def contact_person_add(employer_id: str, request: Request, user: PageUser = Depends(writer)) -> Response:
    eid = _parse_uuid(employer_id)
    if eid is None:
        return not_found_page(request, user)
    form = await _form(request, user)
    try:
        body = ContactPersonIn.model_validate(
            {f: _one(form, f"person_{f}") or None for f in ("name", "title", "email", "phone")}
        )
    except ValidationError as exc:
        ctx = ctx_of(request)
        employer = await api.read_employer(ctx, user.principal, eid)
        contacts = await api.list_contacts(ctx, user.principal, employer_id=eid, limit=50)
        openings = await api.list_openings(ctx, user.principal, employer_id=eid)
        placements = await api.list_placements(ctx, user.principal, employer_id=eid)
        return render(
            request,
            "employer.html",
            user=user,
            status=422,
            employer=employer,
            contacts=contacts,
            openings=openings,
            placements=placements,
            names=await client_names(request, user),
            staff=await _staff(request, user),
            done="",
            logged=None,
            person_values=_values(form, PERSON_FIELDS),
            person_errors=field_errors(request, exc, {f: f"person_{f}" for f in ("name", "title", "email", "phone")}),
        )
    await api.add_contact_person(ctx_of(request), user.principal, eid, body)
    return _redirect(f"/employers/{eid}", done="person")


# --------------------------------------------------------------------------- contacts


@router.get("/employer-contacts", response_class=HTMLResponse)
async def contacts_page(request: Request, user: PageUser = Depends(reader), week: str = "") -> Response:
    ctx = ctx_of(request)
    try:
        the_week = domain.parse_week(week) if week else domain.week_of(domain.finnish_today())
    except ValueError:
        the_week = domain.week_of(domain.finnish_today())
    report = await api.weekly_report(ctx, user.principal, the_week)
    contacts = await api.list_contacts(ctx, user.principal, week=the_week)
    async with ctx.database.session(organisation_id=user.account.organisation_id) as session:
        employers = await store.employer_names(session)
    names = await client_names(request, user) if any(c.client_id for c in contacts) else {}
    return render(
        request,
        "contacts.html",
        user=user,
        report=report,
        week=the_week,
        previous=str(the_week.shift(-1)),
        next=str(the_week.shift(1)),
        contacts=contacts,
        employers={str(k): v for k, v in employers.items()},
        names=names,
        staff=await _staff(request, user),
    )


CONTACT_FIELDS = ("employer_id", "occurred_on", "mode", "client_id", "level", "staff_id")


async def _contact_form(
    request: Request,
    user: PageUser,
    *,
    values: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    employers = await api.list_employers(ctx_of(request), user.principal)
    return render(
        request,
        "contact_form.html",
        user=user,
        status=status,
        values=values,
        errors=errors or {},
        employer_options=[(str(e.id), e.name) for e in employers],
        clients=await _client_choices(request, user),
        staff_choices=await _staff_choices(request, user),
    )


@router.get("/employer-contacts/new", response_class=HTMLResponse)
async def contact_new(
    request: Request, user: PageUser = Depends(writer), employer_id: str = "", client_id: str = ""
) -> Response:
    values = {
        "employer_id": employer_id,
        "client_id": client_id,
        "occurred_on": domain.finnish_today().isoformat(),
        "mode": ContactMode.FACE_TO_FACE.value,
        "staff_id": str(user.id),
        "purposes": [],
        "client_present": False,
    }
    return await _contact_form(request, user, values=values)


@router.post("/employer-contacts/new", response_class=HTMLResponse)
async def contact_create(request: Request, user: PageUser = Depends(writer)) -> Response:
    form = await _form(request, user)
    values: dict[str, Any] = {
        **_values(form, CONTACT_FIELDS),
        "purposes": _many(form, "purposes"),
        "client_present": _checked(form, "client_present"),
    }
    try:
        body = ContactCreate.model_validate(
            {
                "employer_id": values["employer_id"],
                "occurred_on": values["occurred_on"],
                "mode": values["mode"],
                "client_present": values["client_present"],
                "client_id": values["client_id"] or None,
                "purposes": values["purposes"],
                "level": values["level"],
                "staff_id": values["staff_id"] or None,
            }
        )
        contact = await api.record_contact(ctx_of(request), user.principal, body)
    except ValidationError as exc:
        return await _contact_form(request, user, values=values, errors=field_errors(request, exc), status=422)
    except ProblemError as exc:
        if exc.status != 422:
            raise
        return await _contact_form(request, user, values=values, errors=field_errors(request, exc), status=422)
    return _redirect(f"/employers/{contact.employer_id}", logged=str(contact.id))


# --------------------------------------------------------------------------- openings


@router.get("/openings", response_class=HTMLResponse)
async def openings_page(request: Request, user: PageUser = Depends(reader), status: str = "open") -> Response:
    chosen = OpeningStatus(status) if status in {s.value for s in OpeningStatus} else None
    openings = await api.list_openings(ctx_of(request), user.principal, status=chosen)
    return render(
        request,
        "openings.html",
        user=user,
        openings=openings,
        current=chosen.value if chosen else "all",
    )


OPENING_FIELDS = ("employer_id", "title", "source", "industry", "municipality", "hours_min", "hours_max")


async def _opening_form(
    request: Request,
    user: PageUser,
    *,
    values: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    employers = await api.list_employers(ctx_of(request), user.principal)
    return render(
        request,
        "opening_form.html",
        user=user,
        status=status,
        values=values,
        errors=errors or {},
        employer_options=[(str(e.id), e.name) for e in employers],
        clients=await _client_choices(request, user),
    )


@router.get("/openings/new", response_class=HTMLResponse)
async def opening_new(request: Request, user: PageUser = Depends(writer), employer_id: str = "") -> Response:
    values = {"employer_id": employer_id, "source": OpeningSource.EMPLOYER.value}
    return await _opening_form(request, user, values=values)


@router.post("/openings/new", response_class=HTMLResponse)
async def opening_create(request: Request, user: PageUser = Depends(writer)) -> Response:
    form = await _form(request, user)
    values: dict[str, Any] = {
        **_values(form, (*OPENING_FIELDS, "keywords", "for_client_id")),
        "tasks": form.get("tasks") if isinstance(form.get("tasks"), str) else "",
    }
    try:
        body = OpeningCreate.model_validate(
            {
                **{k: values[k] or None for k in OPENING_FIELDS},
                "source": values["source"] or OpeningSource.EMPLOYER.value,
                "keywords": values["keywords"],
                "tasks": values["tasks"],
                "for_client_id": values["for_client_id"] or None,
            }
        )
        opening = await api.create_opening(ctx_of(request), user.principal, body)
    except ValidationError as exc:
        return await _opening_form(request, user, values=values, errors=field_errors(request, exc), status=422)
    return _redirect(f"/openings/{opening.id}", done="created")


@router.get("/openings/{opening_id}", response_class=HTMLResponse)
async def opening_page(opening_id: str, request: Request, user: PageUser = Depends(reader), done: str = "") -> Response:
    oid = _parse_uuid(opening_id)
    if oid is None:
        return not_found_page(request, user)
    result = await api.opening_matches(ctx_of(request), user.principal, oid)
    names = await client_names(request, user)
    return render(
        request,
        "opening.html",
        user=user,
        opening=result.opening,
        matches=result.matches,
        names=names,
        done=done,
    )


@router.post("/openings/{opening_id}/status", response_class=HTMLResponse)
async def opening_status(opening_id: str, request: Request, user: PageUser = Depends(writer)) -> Response:
    oid = _parse_uuid(opening_id)
    if oid is None:
        return not_found_page(request, user)
    form = await _form(request, user)
    try:
        body = OpeningStatusChange.model_validate({"status": _one(form, "status")})
    except ValidationError:
        return bad_request_page(request, user)
    await api.change_opening_status(ctx_of(request), user.principal, oid, body)
    return _redirect(f"/openings/{oid}", done="status")


# --------------------------------------------------------------------------- matching


@router.get("/job-seekers", response_class=HTMLResponse)
async def job_seekers_page(request: Request, user: PageUser = Depends(reader)) -> Response:
    ctx = ctx_of(request)
    async with ctx.database.session(organisation_id=user.account.organisation_id) as session:
        seekers = await store.job_seekers(session)
        with_profile = {p.client_id for p in await store.profiles_of(session, [s.client_id for s in seekers])}
    names = await client_names(request, user)
    staff = await _staff(request, user)
    rows = sorted(
        (
            {
                "client_id": str(s.client_id),
                "name": names.get(str(s.client_id)) or _short(s.client_id),
                "coach": staff.get(str(s.coach_id), ""),
                "has_profile": s.client_id in with_profile,
                "since": s.last_event_at,
            }
            for s in seekers
        ),
        key=lambda r: str(r["name"]).casefold(),
    )
    return render(request, "job_seekers.html", user=user, rows=rows)


def _profile_values(profile: Any) -> dict[str, Any]:
    if profile is None:
        return {}
    return {
        "fields": ", ".join(profile.fields),
        "hours_min": "" if profile.hours_min is None else f"{profile.hours_min:g}",
        "hours_max": "" if profile.hours_max is None else f"{profile.hours_max:g}",
        "areas": ", ".join(profile.areas),
        "interests": ", ".join(profile.interests),
    }


async def _matches_page(
    request: Request,
    user: PageUser,
    client_id: uuid.UUID,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    done: str = "",
    status: int = 200,
) -> HTMLResponse:
    result = await api.client_matches(ctx_of(request), user.principal, client_id)
    name = await client_name(request, user, client_id)
    return render(
        request,
        "client_matches.html",
        user=user,
        status=status,
        client_id=str(client_id),
        name=name or _short(client_id),
        result=result,
        values=values if values is not None else _profile_values(result.profile),
        errors=errors or {},
        done=done,
    )


@router.get("/clients/{client_id}/matches", response_class=HTMLResponse)
async def client_matches_page(
    client_id: str, request: Request, user: PageUser = Depends(reader), done: str = ""
) -> Response:
    cid = _parse_uuid(client_id)
    if cid is None:
        return not_found_page(request, user)
    return await _matches_page(request, user, cid, done=done)


@router.post("/match-profile", response_class=HTMLResponse)
async def match_profile_save(request: Request, user: PageUser = Depends(writer)) -> Response:
    form = await _form(request, user)
    cid = _parse_uuid(_one(form, "client_id"))
    if cid is None:
        return not_found_page(request, user)
    values = _values(form, ("fields", "hours_min", "hours_max", "areas", "interests"))
    try:
        body = MatchProfileIn.model_validate({k: v for k, v in values.items() if v})
    except ValidationError as exc:
        return await _matches_page(request, user, cid, values=values, errors=field_errors(request, exc), status=422)
    await api.set_match_profile(ctx_of(request), user.principal, cid, body)
    return _redirect(f"/clients/{cid}/matches", done="profile")


# --------------------------------------------------------------------------- placements


@router.get("/placements", response_class=HTMLResponse)
async def placements_page(request: Request, user: PageUser = Depends(reader)) -> Response:
    placements = await api.list_placements(ctx_of(request), user.principal)
    names = await client_names(request, user) if placements else {}
    return render(request, "placements.html", user=user, placements=placements, names=names)


PLACEMENT_FIELDS = (
    "client_id",
    "employer_id",
    "opening_id",
    "kind",
    "job_title",
    "job_type",
    "starts_on",
    "planned_end_on",
    "hours_per_week",
    "work_arrangement_support",
)


async def _placement_form(
    request: Request,
    user: PageUser,
    *,
    values: Mapping[str, Any],
    errors: Mapping[str, str] | None = None,
    alert: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    ctx = ctx_of(request)
    employers = await api.list_employers(ctx, user.principal)
    openings = await api.list_openings(ctx, user.principal, status=OpeningStatus.OPEN)
    return render(
        request,
        "placement_form.html",
        user=user,
        status=status,
        values=values,
        errors=errors or {},
        alert=alert,
        employer_options=[(str(e.id), e.name) for e in employers],
        opening_options=[(str(o.id), f"{o.title} – {o.employer_name}") for o in openings],
        clients=await _client_choices(request, user),
    )


@router.get("/placements/new", response_class=HTMLResponse)
async def placement_new(
    request: Request,
    user: PageUser = Depends(writer),
    client_id: str = "",
    opening_id: str = "",
    employer_id: str = "",
) -> Response:
    values: dict[str, Any] = {
        "client_id": client_id,
        "opening_id": opening_id,
        "employer_id": employer_id,
        "kind": PlacementKind.OPEN_MARKET.value,
        "starts_on": domain.finnish_today().isoformat(),
        "work_arrangement_support": WorkArrangementSupport.NONE.value,
        "coach_supports": [],
        "competitive": True,
        "permanent": False,
        "confirm_move": True,
    }
    oid = _parse_uuid(opening_id)
    if oid is not None:
        try:
            opening = await api.read_opening(ctx_of(request), user.principal, oid)
        except ProblemError:
            opening = None
        if opening is not None:
            values["employer_id"] = str(opening.employer_id)
            values["job_title"] = opening.title
            if opening.hours_max is not None:
                values["hours_per_week"] = f"{opening.hours_max:g}"
    return await _placement_form(request, user, values=values)


@router.post("/placements/new", response_class=HTMLResponse)
async def placement_create(request: Request, user: PageUser = Depends(writer)) -> Response:
    form = await _form(request, user)
    values: dict[str, Any] = {
        **_values(form, PLACEMENT_FIELDS),
        "coach_supports": _many(form, "coach_supports"),
        "permanent": _checked(form, "permanent"),
        "competitive": _checked(form, "competitive"),
        "confirm_move": _checked(form, "confirm_move"),
    }
    try:
        body = PlacementCreate.model_validate(
            {
                **{k: values[k] or None for k in PLACEMENT_FIELDS},
                "work_arrangement_support": values["work_arrangement_support"] or WorkArrangementSupport.NONE.value,
                "coach_supports": values["coach_supports"],
                "permanent": values["permanent"],
                "competitive": values["competitive"],
                "confirm_move": values["confirm_move"],
            }
        )
        placement = await api.start_placement(ctx_of(request), user.principal, body)
    except ValidationError as exc:
        return await _placement_form(request, user, values=values, errors=field_errors(request, exc), status=422)
    except ProblemError as exc:
        if exc.status == 422:
            return await _placement_form(request, user, values=values, errors=field_errors(request, exc), status=422)
        if exc.status == 409:
            alert = problem_message(request, exc)
            return await _placement_form(request, user, values=values, alert=alert, status=409)
        raise
    return _redirect(f"/placements/{placement.id}", done="started")


async def _placement_page(
    request: Request,
    user: PageUser,
    placement_id: uuid.UUID,
    *,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    alert: str | None = None,
    done: str = "",
    status: int = 200,
) -> HTMLResponse:
    placement = await api.read_placement(ctx_of(request), user.principal, placement_id)
    name = await client_name(request, user, placement.client_id)
    return render(
        request,
        "placement.html",
        user=user,
        status=status,
        placement=placement,
        name=name or _short(placement.client_id),
        values=values or {"ended_on": domain.finnish_today().isoformat(), "confirm_move": True},
        errors=errors or {},
        alert=alert,
        done=done,
        ended=placement.status == PlacementStatus.ENDED,
    )


@router.get("/placements/{placement_id}", response_class=HTMLResponse)
async def placement_page(
    placement_id: str, request: Request, user: PageUser = Depends(reader), done: str = ""
) -> Response:
    pid = _parse_uuid(placement_id)
    if pid is None:
        return not_found_page(request, user)
    return await _placement_page(request, user, pid, done=done)


@router.post("/placements/{placement_id}/end", response_class=HTMLResponse)
async def placement_end(placement_id: str, request: Request, user: PageUser = Depends(writer)) -> Response:
    pid = _parse_uuid(placement_id)
    if pid is None:
        return not_found_page(request, user)
    form = await _form(request, user)
    values: dict[str, Any] = {**_values(form, ("ended_on", "reason")), "confirm_move": _checked(form, "confirm_move")}
    try:
        body = PlacementEnd.model_validate(
            {"ended_on": values["ended_on"], "reason": values["reason"], "confirm_move": values["confirm_move"]}
        )
        await api.end_placement(ctx_of(request), user.principal, pid, body)
    except ValidationError as exc:
        errors = field_errors(request, exc)
        return await _placement_page(request, user, pid, values=values, errors=errors, status=422)
    except ProblemError as exc:
        if exc.status == 422:
            errors = field_errors(request, exc)
            return await _placement_page(request, user, pid, values=values, errors=errors, status=422)
        if exc.status == 409:
            alert = problem_message(request, exc)
            return await _placement_page(request, user, pid, values=values, alert=alert, status=409)
        raise
    return _redirect(f"/placements/{pid}", done="ended")


# --------------------------------------------------------------------------- install


def install(app: FastAPI) -> None:
    """Serve the employer stylesheet and answer page errors with HTML (``/api`` keeps problem+json)."""
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="employer-static")
    web.install(app, env_for)


__all__ = ["install", "router"]
