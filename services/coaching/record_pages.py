"""Pages of a client's records: meetings and outreach, the vocational profile and the
multi-professional team (``/clients/{id}/meetings``, ``/profile``, ``/team``).

Pages call the records API (``services.coaching.records``) as the logged-in user through
the internal API client, so the API checks the role and organisation and writes the audit
record. Forms post back to the page (with the session's CSRF token); bad input comes back
from the API as a 422 and is shown, translated, next to its field, and nothing changes.
Forms carry htmx attributes: with htmx the page's records section is swapped in place
(200 also for invalid input, since htmx swaps no error answers); without it the page
answers 303 after a save and 422 with the messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from services.coaching.apiclient import ApiClient, ApiError, api_for
from services.coaching.pages import CurrentUser, PageUser, _with_api_errors, not_found_page, render
from services.coaching.record_models import (
    CONTACT_MODES,
    MEETING_PARTICIPANTS,
    PLACES,
    PROFILE_FIELDS,
    TEAM_ROLES,
)
from shared.auth import CLIENT_WORKERS, CSRF_FIELD, check_csrf, page_roles
from shared.contracts.journey import Role
from shared.i18n import N_, TIMEZONE, negotiate, translator
from shared.service import ctx_of

router = APIRouter(include_in_schema=False)

WRITERS = frozenset({Role.COACH, Role.TEAM_LEAD})
# Who may open the pages and who may post their forms (the records API checks again).
READ_PAGE = [Depends(page_roles(*CLIENT_WORKERS, Role.AUDITOR))]
WRITE_PAGE = [Depends(page_roles(*WRITERS))]
ZONE = ZoneInfo(TIMEZONE)

# --------------------------------------------------------------------------- labels

PLACE_LABELS: dict[str, str] = {
    "office": N_("Office"),
    "community": N_("Community"),
    "workplace": N_("Workplace"),
    "home": N_("Client's home"),
    "remote": N_("Remote (phone or video)"),
}
CONTACT_MODE_LABELS: dict[str, str] = {
    "meeting": N_("Meeting"),
    "outreach": N_("Outreach"),
}
PARTICIPANT_LABELS: dict[str, str] = {
    "client": N_("Client"),
    "coach": N_("Coach"),
    "te_expert": N_("TE expert"),
    "social_counsellor": N_("Social counsellor"),
    "employer": N_("Employer"),
    "family": N_("Family or close person"),
    "other": N_("Someone else"),
}
TEAM_ROLE_LABELS: dict[str, str] = {
    "te_expert": N_("TE expert"),
    "social_counsellor": N_("Social counsellor"),
    "employer_coordinator": N_("Employer coordinator"),
    "health_professional": N_("Health care professional"),
    "rehabilitation_counsellor": N_("Rehabilitation counsellor"),
    "other": N_("Other professional"),
}
PROFILE_LABELS: dict[str, str] = {
    "strengths": N_("Strengths and skills"),
    "interests": N_("Interests"),
    "work_history": N_("Work history"),
    "education": N_("Education"),
    "work_ability": N_("Remaining work ability"),
    "support_needs": N_("Support the work ability needs"),
    "preferred_fields": N_("Preferred fields of work"),
    "preferred_hours_per_week": N_("Preferred hours per week"),
    "preferred_area": N_("Preferred area"),
    "goals": N_("Work goals"),
}
assert set(PLACE_LABELS) == set(PLACES) and set(CONTACT_MODE_LABELS) == set(CONTACT_MODES)
assert set(PARTICIPANT_LABELS) == set(MEETING_PARTICIPANTS) and set(TEAM_ROLE_LABELS) == set(TEAM_ROLES)
assert set(PROFILE_LABELS) == set(PROFILE_FIELDS)

# What to say next to a field the API refused (its English message is for API users).
FIELD_MESSAGES: dict[str, str] = {
    "occurred_at": N_("Give a date and time that has already passed."),
    "duration_minutes": N_("Give the duration in whole minutes, 1–1440."),
    "place": N_("Choose the place."),
    "contact_mode": N_("Choose whether this was a meeting or outreach."),
    "participants": N_("Choose at least one participant."),
    "notes": N_("The notes are too long: at most 10 000 characters."),
    "preferred_hours_per_week": N_("Give the hours per week as a whole number, 0–80."),
    "role": N_("Choose the role."),
    "name": N_("Give the name: at most 200 characters."),
    "organisation": N_("At most 200 characters."),
    "contact": N_("At most 300 characters."),
    "held_on": N_("Give the date of the meeting."),
    "participant_ids": N_("Choose at least one member of the team."),
}
TOO_LONG = N_("Too long: at most 5 000 characters.")
CHECK_FIELD = N_("Check this field.")
MEETING_DATE_MISSING = N_("Give the date and time of the meeting.")


def field_message(field: str) -> str:
    """The msgid to show next to ``field`` (an API error path such as ``participants.0``)."""
    name = field.split(".", 1)[0]
    if name in FIELD_MESSAGES:
        return FIELD_MESSAGES[name]
    if name in PROFILE_FIELDS:
        return TOO_LONG
    return CHECK_FIELD


def field_errors(errors: list[dict[str, Any]], lang: str) -> dict[str, str]:
    """The API's 422 field errors as {form field: translated message}, first per field."""
    _ = translator(lang).gettext
    out: dict[str, str] = {}
    for error in errors:
        name = str(error.get("field", "")).split(".", 1)[0]
        out.setdefault(name, _(field_message(name)))
    return out


def meeting_time(day: str, clock: str) -> datetime | None:
    """The form's date and time (Finnish time) as an aware datetime; None if unreadable."""
    try:
        return datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), ZONE)
    except ValueError:
        return None


# --------------------------------------------------------------------------- API calls


def records_api(request: Request, user: PageUser) -> ApiClient:
    """The internal API client acting as the page's user."""
    return api_for(request, user.account)


# --------------------------------------------------------------------------- helpers


def _client_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


async def _client_name(api: ApiClient, user: PageUser, cid: uuid.UUID) -> tuple[bool, str | None]:
    """(exists, name). Roles without access to names (auditor) get no name; the records
    API still decides whether the client exists in the organisation."""
    if user.role not in CLIENT_WORKERS:
        return True, None
    client = await api.client(cid)
    if client is None or str(client.get("organisation_id")) != str(user.account.organisation_id):
        return False, None
    name = f"{client.get('first_name', '')} {client.get('last_name', '')}".strip()
    return True, name or None


async def _staff(request: Request, user: PageUser) -> dict[str, str]:
    users = await ctx_of(request).identity.users(user.account.organisation_id)
    return {str(u.id): u.display_name or u.username for u in users}


Build = Callable[[ApiClient, str | None], Awaitable[Response]]


async def _page(request: Request, user: PageUser, client_id: str, build: Build) -> Response:
    """Common frame of the record pages: client id, name, 404, API failures as pages."""
    cid = _client_id(client_id)
    if cid is None:
        return not_found_page(request, user)

    async def run() -> Response:
        async with records_api(request, user) as api:
            exists, name = await _client_name(api, user, cid)
            if not exists:
                return not_found_page(request, user)
            try:
                return await build(api, name)
            except ApiError as exc:
                if exc.status == 404:
                    return not_found_page(request, user)
                raise

    return await _with_api_errors(request, user, run)


def _answer(
    request: Request,
    user: PageUser,
    template: str,
    context: dict[str, Any],
    *,
    errors: Mapping[str, str],
    failed: bool,
) -> HTMLResponse:
    status = 200 if _is_htmx(request) or not (errors or failed) else 422
    return render(request, template, user=user, status=status, errors=dict(errors), **context)


def _saved_redirect(request: Request, saved: str) -> Response:
    return RedirectResponse(f"{request.url.path}?saved={saved}", status_code=303)


def _common(user: PageUser, client_id: str, name: str | None, section: str) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "name": name,
        "section": section,
        "can_write": user.role in WRITERS,
        "labels": {
            "place": PLACE_LABELS,
            "contact_mode": CONTACT_MODE_LABELS,
            "participant": PARTICIPANT_LABELS,
            "team_role": TEAM_ROLE_LABELS,
            "profile": PROFILE_LABELS,
        },
        "profile_fields": PROFILE_FIELDS,
    }


async def _form(request: Request, user: PageUser, client_id: str) -> FormData | Response:
    """A record form's data, after the checks every post makes in this order: the client
    exists in the user's organisation (else 404, whatever the form says), then the CSRF
    token (403 if it is missing or wrong)."""
    cid = _client_id(client_id)
    if cid is None:
        return not_found_page(request, user)

    # A failed service call propagates: the app answers ApiError with an error page.
    async with records_api(request, user) as api:
        found, _name = await _client_name(api, user, cid)
    if not found:
        return not_found_page(request, user)
    form = await request.form()
    check_csrf(user.principal, str(form.get(CSRF_FIELD, "")))
    return form


async def _write(
    request: Request,
    user: PageUser,
    client_id: str,
    call: tuple[str, str, dict[str, Any] | None],
    *,
    invalid: Callable[[dict[str, str]], Awaitable[Response]],
    conflict: Callable[[str | None], Awaitable[Response]],
    done: Callable[[], Awaitable[Response]],
    saved: str,
) -> Response:
    """Send one write to the records API and answer: the page with the field messages
    (422), with an alert (409), or, after a save, the page (htmx) or a redirect to it."""
    method, path, body = call
    try:
        async with records_api(request, user) as api:
            await api.send(method, f"/api/v1/clients/{client_id}{path}", body)
    except ApiError as exc:
        if exc.status == 422:
            return await invalid(field_errors(exc.errors, negotiate(request)))
        if exc.status == 409:
            return await conflict(exc.code)
        if exc.status == 404:
            return not_found_page(request, user)
        raise
    if _is_htmx(request):
        return await done()
    return _saved_redirect(request, saved)


# --------------------------------------------------------------------------- meetings


def _meeting_defaults() -> dict[str, Any]:
    now = datetime.now(ZONE)
    return {
        "date": now.date().isoformat(),
        "time": now.strftime("%H:%M"),
        "duration_minutes": "60",
        "place": "",
        "contact_mode": "meeting",
        "participants": ["client", "coach"],
        "notes": "",
    }


async def _meetings_page(
    request: Request,
    user: PageUser,
    client_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    alert: str | None = None,
    saved: bool = False,
) -> Response:
    async def build(api: ApiClient, name: str | None) -> Response:
        meetings = await api.send("GET", f"/api/v1/clients/{client_id}/meetings")
        staff = await _staff(request, user)
        context = {
            **_common(user, client_id, name, "meetings"),
            "meetings": list(reversed(meetings)),  # newest first
            "staff": staff,
            "values": values or _meeting_defaults(),
            "alert": alert,
            "saved": saved or request.query_params.get("saved") == "meeting",
        }
        return _answer(request, user, "records/meetings.html", context, errors=errors or {}, failed=alert is not None)

    return await _page(request, user, client_id, build)


@router.get("/clients/{client_id}/meetings", response_class=HTMLResponse, dependencies=READ_PAGE)
async def meetings_page(client_id: str, request: Request, user: CurrentUser) -> Response:
    return await _meetings_page(request, user, client_id)


@router.post("/clients/{client_id}/meetings", response_class=HTMLResponse, dependencies=WRITE_PAGE)
async def record_meeting(client_id: str, request: Request, user: CurrentUser) -> Response:
    form = await _form(request, user, client_id)
    if isinstance(form, Response):
        return form
    _ = translator(negotiate(request)).gettext
    participants = [str(p) for p in form.getlist("participants")]
    values: dict[str, Any] = {
        **{k: str(form.get(k, "")) for k in ("date", "time", "duration_minutes", "place", "contact_mode", "notes")},
        "participants": participants,
    }
    occurred_at = meeting_time(values["date"], values["time"])
    if occurred_at is None:
        return await _meetings_page(request, user, client_id, values=values, errors={"date": _(MEETING_DATE_MISSING)})
    body = {
        "occurred_at": occurred_at.isoformat(),
        "duration_minutes": values["duration_minutes"].strip() or None,
        "place": values["place"] or None,
        "contact_mode": values["contact_mode"] or None,
        "participants": participants,
        "notes": values["notes"],
    }

    async def invalid(errors: dict[str, str]) -> Response:
        if "occurred_at" in errors:  # the form has date and time fields
            errors["date"] = errors.pop("occurred_at")
        return await _meetings_page(request, user, client_id, values=values, errors=errors)

    async def conflict(code: str | None) -> Response:
        message = (
            N_("The journey is closed, so no contacts can be recorded. Reopen the journey first.")
            if code == "closed_accepts_only_reopen"
            else N_("The journey did not accept the contact. Nothing was recorded.")
        )
        return await _meetings_page(request, user, client_id, values=values, alert=_(message))

    async def done() -> Response:
        return await _meetings_page(request, user, client_id, saved=True)

    return await _write(
        request,
        user,
        client_id,
        ("POST", "/meetings", body),
        invalid=invalid,
        conflict=conflict,
        done=done,
        saved="meeting",
    )


# --------------------------------------------------------------------------- profile


async def _profile_page(
    request: Request,
    user: PageUser,
    client_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    alert: str | None = None,
    saved: bool = False,
) -> Response:
    async def build(api: ApiClient, name: str | None) -> Response:
        profile = await api.send("GET", f"/api/v1/clients/{client_id}/profile")
        versions = await api.send("GET", f"/api/v1/clients/{client_id}/profile/versions")
        staff = await _staff(request, user)
        current = {f: ("" if (profile or {}).get(f) is None else str(profile[f])) for f in PROFILE_FIELDS}
        context = {
            **_common(user, client_id, name, "profile"),
            "profile": profile,
            "versions": versions,
            "staff": staff,
            "values": values if values is not None else current,
            "alert": alert,
            "saved": saved or request.query_params.get("saved") == "profile",
        }
        return _answer(request, user, "records/profile.html", context, errors=errors or {}, failed=alert is not None)

    return await _page(request, user, client_id, build)


@router.get("/clients/{client_id}/profile", response_class=HTMLResponse, dependencies=READ_PAGE)
async def profile_page(client_id: str, request: Request, user: CurrentUser) -> Response:
    return await _profile_page(request, user, client_id)


@router.post("/clients/{client_id}/profile", response_class=HTMLResponse, dependencies=WRITE_PAGE)
async def save_profile(client_id: str, request: Request, user: CurrentUser) -> Response:
    form = await _form(request, user, client_id)
    if isinstance(form, Response):
        return form
    _ = translator(negotiate(request)).gettext
    values = {f: str(form.get(f, "")) for f in PROFILE_FIELDS}
    body: dict[str, Any] = {f: values[f] for f in PROFILE_FIELDS}
    body["preferred_hours_per_week"] = values["preferred_hours_per_week"].strip() or None

    async def invalid(errors: dict[str, str]) -> Response:
        return await _profile_page(request, user, client_id, values=values, errors=errors)

    async def conflict(code: str | None) -> Response:
        alert = _(N_("Someone saved the profile at the same moment. Check the fields and save again."))
        return await _profile_page(request, user, client_id, values=values, alert=alert)

    async def done() -> Response:
        return await _profile_page(request, user, client_id, saved=True)

    return await _write(
        request,
        user,
        client_id,
        ("PUT", "/profile", body),
        invalid=invalid,
        conflict=conflict,
        done=done,
        saved="profile",
    )


# --------------------------------------------------------------------------- team


async def _team_page(
    request: Request,
    user: PageUser,
    client_id: str,
    *,
    member_values: dict[str, Any] | None = None,
    member_errors: Mapping[str, str] | None = None,
    meeting_values: dict[str, Any] | None = None,
    meeting_errors: Mapping[str, str] | None = None,
    saved: str | None = None,
) -> Response:
    async def build(api: ApiClient, name: str | None) -> Response:
        members = await api.send("GET", f"/api/v1/clients/{client_id}/team")
        meetings = await api.send("GET", f"/api/v1/clients/{client_id}/team/meetings")
        staff = await _staff(request, user)
        by_id = {m["id"]: m for m in members}
        context = {
            **_common(user, client_id, name, "team"),
            "members": [m for m in members if m["active"]],
            "former": [m for m in members if not m["active"]],
            "members_by_id": by_id,
            "team_meetings": list(reversed(meetings)),
            "staff": staff,
            "member_values": member_values or {"role": "", "name": "", "organisation": "", "contact": ""},
            "member_errors": dict(member_errors or {}),
            "meeting_values": meeting_values
            or {"held_on": datetime.now(ZONE).date().isoformat(), "participant_ids": [], "notes": ""},
            "meeting_errors": dict(meeting_errors or {}),
            "saved": saved or request.query_params.get("saved"),
        }
        errors = {**(member_errors or {}), **(meeting_errors or {})}
        return _answer(request, user, "records/team.html", context, errors=errors, failed=False)

    return await _page(request, user, client_id, build)


@router.get("/clients/{client_id}/team", response_class=HTMLResponse, dependencies=READ_PAGE)
async def team_page(client_id: str, request: Request, user: CurrentUser) -> Response:
    return await _team_page(request, user, client_id)


@router.post("/clients/{client_id}/team", response_class=HTMLResponse, dependencies=WRITE_PAGE)
async def team_form(client_id: str, request: Request, user: CurrentUser) -> Response:
    """The team page's three forms: ``form`` is ``member`` (add), ``end`` (with
    ``member_id``) or ``team_meeting``."""
    form = await _form(request, user, client_id)
    if isinstance(form, Response):
        return form
    kind = str(form.get("form", ""))
    call: tuple[str, str, dict[str, Any] | None]
    if kind == "member":
        member_values = {k: str(form.get(k, "")) for k in ("role", "name", "organisation", "contact")}
        call = ("POST", "/team", {**member_values, "role": member_values["role"] or None})

        async def invalid(errors: dict[str, str]) -> Response:
            return await _team_page(request, user, client_id, member_values=member_values, member_errors=errors)

    elif kind == "team_meeting":
        ids = [str(i) for i in form.getlist("participant_ids")]
        meeting_values: dict[str, Any] = {
            "held_on": str(form.get("held_on", "")),
            "participant_ids": ids,
            "notes": str(form.get("notes", "")),
        }
        call = ("POST", "/team/meetings", {**meeting_values, "held_on": meeting_values["held_on"] or None})

        async def invalid(errors: dict[str, str]) -> Response:
            return await _team_page(request, user, client_id, meeting_values=meeting_values, meeting_errors=errors)

    elif kind == "end" and _client_id(str(form.get("member_id", ""))) is not None:
        call = ("DELETE", f"/team/{form.get('member_id')}", None)

        async def invalid(errors: dict[str, str]) -> Response:  # a DELETE has no body to refuse
            return await _team_page(request, user, client_id)

    else:
        return await _team_page(request, user, client_id)

    async def conflict(code: str | None) -> Response:
        return await _team_page(request, user, client_id)

    saved = {"member": "member", "team_meeting": "team_meeting", "end": "ended"}[kind]

    async def done() -> Response:
        return await _team_page(request, user, client_id, saved=saved)

    return await _write(request, user, client_id, call, invalid=invalid, conflict=conflict, done=done, saved=saved)
