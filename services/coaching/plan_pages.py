"""Pages of a client's plans and assessments.

- ``/clients/{id}/plans``: the job search plan, the disclosure checklist (criteria a-d
  with dated revisits) and benefits counselling;
- ``/clients/{id}/assessments``: start and end self-assessments and the feedback survey.

The pages run the same operations as the API (``services.coaching.plans``): the same
organisation check, audit records, milestones and events. Each form posts back to its
page with a ``form`` field naming it; a good post answers 303 back to the page, a bad one
422 with a translated message beside each field, and nothing is written.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from services.coaching import plans
from services.coaching.apiclient import ApiError, api_for
from services.coaching.pages import CurrentUser, PageUser, error_page, not_found_page, render
from services.coaching.plan_models import (
    ASSESSMENT_KIND_LABELS,
    BENEFIT_TOPIC_LABELS,
    CRITERIA,
    CRITERION_LABELS,
    FEEDBACK_ANSWER_LABELS,
    FEEDBACK_QUESTION_LABELS,
    FEEDBACK_QUESTIONS,
    GSE_ANSWER_LABELS,
    GSE_ITEMS,
    MESSAGES,
    SELF_EFFICACY_MAX,
    SELF_EFFICACY_MIN,
    WORK_ABILITY_MAX,
    WORK_ABILITY_MIN,
    AssessmentIn,
    BenefitsCounsellingIn,
    DisclosurePlanIn,
    DisclosurePlanOut,
    FeedbackIn,
    JobSearchPlanIn,
    JobSearchPlanOut,
)
from services.coaching.plans import PLAN_ROLES
from shared.auth import page_roles
from shared.i18n import N_, negotiate, translator
from shared.problems import ProblemError
from shared.service import ctx_of

router = APIRouter(include_in_schema=False)
# The roles that may open these pages (see shared.auth.page_roles).
PAGE_ROLES = [Depends(page_roles(*PLAN_ROLES))]

EMPTY_STEP_ROWS = 3
EMPTY_REVISIT_ROWS = 2

# --------------------------------------------------------------------------- messages

SAVED: dict[str, str] = {
    "job_search": N_("The job search plan was saved."),
    "disclosure": N_("The disclosure plan was saved."),
    "benefits": N_("The benefits counselling was recorded."),
    "assessment": N_("The self-assessment was recorded."),
    "feedback": N_("The feedback was recorded."),
}
CONFLICTS: dict[str, str] = {
    "closed_accepts_only_reopen": N_("The journey is closed: reopen it before recording this."),
    "assessment_exists": N_("This self-assessment is recorded already."),
}
REFUSED = N_("The journey did not accept this now. Nothing was saved.")
# By the form field's name, then by the kind of error.
FIELD_MESSAGES: dict[str, str] = {
    "hours_per_week": N_("Give the hours as a whole number, 1–60."),
    "target_jobs": N_("At most 20 lines of at most 200 characters."),
    "employers": N_("At most 50 lines of at most 200 characters."),
    "topics": N_("Choose at least one topic."),
    "work_ability": N_("Choose a score from 0 to 10."),
    "self_efficacy_items": N_("Answer every statement."),
    "answers": N_("Answer at least one question."),
    "kind": N_("Choose start or end."),
}
TYPE_MESSAGES: dict[str, str] = {
    **MESSAGES,
    "missing": N_("Fill in this field."),
    "date_parsing": N_("Give a date."),
    "date_from_datetime_parsing": N_("Give a date."),
    "date_type": N_("Give a date."),
    "string_too_short": N_("Fill in this field."),
    "string_too_long": N_("The text is too long."),
    "too_long": N_("There are too many rows."),
}
FALLBACK = N_("Check this field.")


_STEP_FIELDS = {"text": "text", "due_on": "due", "done": "done"}
_REVISIT_FIELDS = {"planned_on": "planned", "held_on": "held", "note": "note"}


def _field_key(loc: Iterable[Any]) -> str:
    """The form control a pydantic error location points at (see the templates' ids)."""
    parts = [str(p) for p in loc]
    if not parts:
        return ""
    head, rest = parts[0], parts[1:]
    if head == "steps" and rest:
        return f"step_{_STEP_FIELDS.get(rest[1] if len(rest) > 1 else '', 'text')}_{rest[0]}"
    if head == "revisits" and rest:
        return f"revisit_{_REVISIT_FIELDS.get(rest[1] if len(rest) > 1 else '', 'planned')}_{rest[0]}"
    if head in CRITERIA and rest:
        return f"{head}_{rest[0]}"
    return head


def field_errors(errors: Iterable[Mapping[str, Any]], lang: str, index_map: Mapping[str, list[int]]) -> dict[str, str]:
    """{form control: translated message} from pydantic errors; the first per control wins.

    ``index_map`` maps a list field (``steps``, ``revisits``) to the form row of each item,
    since empty rows are dropped before validation."""
    gettext = translator(lang).gettext
    out: dict[str, str] = {}
    for error in errors:
        loc = list(error.get("loc", ()))
        if len(loc) >= 2 and str(loc[0]) in index_map and isinstance(loc[1], int):
            rows = index_map[str(loc[0])]
            loc[1] = rows[loc[1]] if loc[1] < len(rows) else loc[1]
        key = _field_key(loc)
        kind = str(error.get("type", ""))
        msgid = TYPE_MESSAGES.get(kind) if kind in MESSAGES else FIELD_MESSAGES.get(key, TYPE_MESSAGES.get(kind))
        out.setdefault(key, gettext(msgid or FALLBACK))
    return out


# --------------------------------------------------------------------------- forms <-> models


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.replace("\r\n", "\n").split("\n") if line.strip()]


def _rows(form: Mapping[str, str], prefix: str, fields: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Numbered form rows (``{prefix}_{field}_{i}``) that are not entirely empty."""
    count = int(form.get(f"{prefix}_rows", "0") or 0) if form.get(f"{prefix}_rows", "").isdigit() else 0
    out = []
    for i in range(min(count, 100)):
        row = {f: form.get(f"{prefix}_{f}_{i}", "").strip() for f in fields}
        if any(v for k, v in row.items() if k != "done"):
            out.append((i, row))
    return out


def job_plan_data(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    steps = _rows(form, "step", ("text", "due", "done"))
    data = {
        "target_jobs": _lines(form.get("target_jobs", "")),
        "employers": _lines(form.get("employers", "")),
        "hours_per_week": form.get("hours_per_week", ""),
        "notes": form.get("notes", ""),
        "steps": [{"text": r["text"], "due_on": r["due"], "done": bool(r["done"])} for _, r in steps],
    }
    return data, {"steps": [i for i, _ in steps]}


def disclosure_data(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    revisits = _rows(form, "revisit", ("planned", "held", "note"))
    data: dict[str, Any] = {
        code: {
            "discussed": bool(form.get(f"{code}_discussed")),
            "discussed_on": form.get(f"{code}_discussed_on", ""),
            "note": form.get(f"{code}_note", ""),
        }
        for code in CRITERIA
    }
    data["revisits"] = [{"planned_on": r["planned"], "held_on": r["held"], "note": r["note"]} for _, r in revisits]
    return data, {"revisits": [i for i, _ in revisits]}


def benefits_data(form: Mapping[str, Any]) -> dict[str, Any]:
    return {"given_on": form.get("given_on", ""), "topics": form.get("topics", []), "note": form.get("note", "")}


def assessment_data(form: Mapping[str, str]) -> dict[str, Any]:
    return {
        "kind": form.get("kind", ""),
        "assessed_on": form.get("assessed_on", ""),
        "work_ability": form.get("work_ability", ""),
        "self_efficacy_items": [form.get(f"gse_{i}", "") for i in range(1, GSE_ITEMS + 1)],
        "note": form.get("note", ""),
    }


def feedback_data(form: Mapping[str, str]) -> dict[str, Any]:
    return {
        "answered_on": form.get("answered_on", ""),
        "answers": {q: form[f"q_{q}"] for q in FEEDBACK_QUESTIONS if form.get(f"q_{q}")},
        "comment": form.get("comment", ""),
        "anonymous": bool(form.get("anonymous")),
    }


def job_plan_view(plan: JobSearchPlanOut | None, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the job search form shows: the saved plan, or what was just posted."""
    if data is not None:
        steps = [dict(s) for s in data.get("steps", [])]
        view = {
            **data,
            "target_jobs": "\n".join(data.get("target_jobs", [])),
            "employers": "\n".join(data.get("employers", [])),
        }
    else:
        assert plan is not None
        steps = [
            {"text": s.text, "due_on": s.due_on.isoformat() if s.due_on else "", "done": s.done} for s in plan.steps
        ]
        view = {
            "target_jobs": "\n".join(plan.target_jobs),
            "employers": "\n".join(plan.employers),
            "hours_per_week": plan.hours_per_week if plan.hours_per_week is not None else "",
            "notes": plan.notes or "",
        }
    view["steps"] = steps + [{"text": "", "due_on": "", "done": False}] * EMPTY_STEP_ROWS
    return view


def disclosure_view(plan: DisclosurePlanOut | None, data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    view: dict[str, Any]
    if data is not None:
        view = {str(code): dict(data[code]) for code in CRITERIA}
        revisits = [dict(r) for r in data.get("revisits", [])]
    else:
        assert plan is not None
        view = {
            code: {
                "discussed": c.discussed,
                "discussed_on": c.discussed_on.isoformat() if c.discussed_on else "",
                "note": c.note or "",
            }
            for code, c in plan.criteria().items()
        }
        revisits = [
            {
                "planned_on": r.planned_on.isoformat(),
                "held_on": r.held_on.isoformat() if r.held_on else "",
                "note": r.note or "",
            }
            for r in plan.revisits
        ]
    view["revisits"] = revisits + [{"planned_on": "", "held_on": "", "note": ""}] * EMPTY_REVISIT_ROWS
    return view


# --------------------------------------------------------------------------- page plumbing


def _client_uuid(client_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(client_id)
    except ValueError:
        return None


async def client_name(request: Request, user: PageUser, client_id: uuid.UUID) -> str | None:
    try:
        async with api_for(request, user.account) as api:
            client = await api.client(client_id)
    except ApiError:
        return None
    if not client:
        return None
    return f"{client.get('first_name', '')} {client.get('last_name', '')}".strip() or None


async def _form(request: Request) -> dict[str, Any]:
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        data[key] = values if key == "topics" else (values[0] if values else "")
    return data


async def _guarded(
    request: Request, user: PageUser, client_id: str, build: Callable[[uuid.UUID], Awaitable[Response]]
) -> Response:
    """404 for a bad id or another organisation's client, 403 for roles without plans."""
    cid = _client_uuid(client_id)
    if cid is None:
        return not_found_page(request, user)
    if user.role not in PLAN_ROLES:
        return error_page(
            request, 403, N_("Not allowed"), N_("Your role does not give access to this page."), user=user
        )
    try:
        return await build(cid)
    except ProblemError as exc:
        if exc.status == 404:
            return not_found_page(request, user)
        raise


def _csrf_failed(request: Request, user: PageUser) -> Response:
    return error_page(
        request,
        403,
        N_("Not allowed"),
        N_("The form has expired or you may not do this. Reload the page and try again."),
        user=user,
    )


def _alert(exc: ProblemError, lang: str) -> str:
    gettext = translator(lang).gettext
    return gettext(CONFLICTS.get(exc.code or "", REFUSED))


# --------------------------------------------------------------------------- /plans


async def _plans_page(
    request: Request,
    user: PageUser,
    cid: uuid.UUID,
    *,
    status: int = 200,
    form: str | None = None,
    errors: dict[str, str] | None = None,
    data: dict[str, Any] | None = None,
    alert: str | None = None,
    saved: str | None = None,
) -> Response:
    ctx, lang = ctx_of(request), negotiate(request)
    principal = user.principal
    job = await plans.read_job_plan(ctx, principal, cid)
    disclosure = await plans.read_disclosure(ctx, principal, cid)
    counselling = await plans.list_benefits(ctx, principal, cid)
    staff = {str(u.id): u.display_name or u.username for u in await ctx.identity.users(user.account.organisation_id)}
    gettext = translator(lang).gettext
    return render(
        request,
        "plans/plans.html",
        user=user,
        status=status,
        client_id=cid,
        name=await client_name(request, user, cid),
        section="plans",
        job=job,
        job_form=job_plan_view(job, data if form == "job_search" else None),
        disclosure=disclosure,
        disclosure_form=disclosure_view(disclosure, data if form == "disclosure" else None),
        benefits=counselling,
        benefits_form=data if form == "benefits" and data else {"given_on": "", "topics": [], "note": ""},
        form=form,
        errors=errors or {},
        alert=alert,
        saved=gettext(SAVED[saved]) if saved in SAVED else None,
        saved_form=saved if saved in SAVED else None,
        criteria=[(code, CRITERION_LABELS[code]) for code in CRITERIA],
        topics=list(BENEFIT_TOPIC_LABELS.items()),
        topic_labels=BENEFIT_TOPIC_LABELS,
        staff=staff,
        today=date.today().isoformat(),
    )


@router.get("/clients/{client_id}/plans", response_class=HTMLResponse, dependencies=PAGE_ROLES)
async def plans_page(client_id: str, request: Request, user: CurrentUser, saved: str | None = None) -> Response:
    return await _guarded(request, user, client_id, lambda cid: _plans_page(request, user, cid, saved=saved))


FORMS: dict[str, tuple[type[BaseModel], Callable[[Mapping[str, Any]], tuple[dict[str, Any], dict[str, list[int]]]]]] = {
    "job_search": (JobSearchPlanIn, job_plan_data),
    "disclosure": (DisclosurePlanIn, disclosure_data),
    "benefits": (BenefitsCounsellingIn, lambda form: (benefits_data(form), {})),
    "assessment": (AssessmentIn, lambda form: (assessment_data(form), {})),
    "feedback": (FeedbackIn, lambda form: (feedback_data(form), {})),
}


async def _post(request: Request, user: PageUser, cid: uuid.UUID, page: str) -> Response:
    ctx, lang = ctx_of(request), negotiate(request)
    await plans.journey_of(ctx, user.principal, cid)  # another organisation's client: 404 first
    form = await _form(request)
    if not user.csrf or form.pop("csrf_token", None) != user.csrf:
        return _csrf_failed(request, user)
    which = str(form.pop("form", ""))
    allowed = ("job_search", "disclosure", "benefits") if page == "plans" else ("assessment", "feedback")
    if which not in allowed:
        return error_page(request, 400, N_("Bad request"), N_("The request could not be understood."), user=user)
    model, parse = FORMS[which]
    data, index_map = parse(form)
    show = _plans_page if page == "plans" else _assessments_page
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        errors = field_errors(exc.errors(), lang, index_map)
        return await show(request, user, cid, status=422, form=which, errors=errors, data=data)
    operations: dict[str, Callable[..., Awaitable[Any]]] = {
        "job_search": plans.save_job_plan,
        "disclosure": plans.save_disclosure,
        "benefits": plans.record_benefits,
        "assessment": plans.record_assessment,
        "feedback": plans.record_feedback,
    }
    operation = operations[which]
    try:
        await operation(ctx, user.principal, cid, body)
    except ProblemError as exc:
        if exc.status == 409:
            return await show(request, user, cid, status=409, form=which, data=data, alert=_alert(exc, lang))
        raise
    return RedirectResponse(f"/clients/{cid}/{page}?saved={which}#{which}", status_code=303)


@router.post("/clients/{client_id}/plans", response_class=HTMLResponse, dependencies=PAGE_ROLES)
async def plans_post(client_id: str, request: Request, user: CurrentUser) -> Response:
    return await _guarded(request, user, client_id, lambda cid: _post(request, user, cid, "plans"))


# --------------------------------------------------------------------------- /assessments


async def _assessments_page(
    request: Request,
    user: PageUser,
    cid: uuid.UUID,
    *,
    status: int = 200,
    form: str | None = None,
    errors: dict[str, str] | None = None,
    data: dict[str, Any] | None = None,
    alert: str | None = None,
    saved: str | None = None,
) -> Response:
    ctx, lang = ctx_of(request), negotiate(request)
    recorded = await plans.list_assessments(ctx, user.principal, cid)
    responses = await plans.list_feedback(ctx, user.principal, cid)
    gettext = translator(lang).gettext
    assessment_form: dict[str, Any] = {
        "kind": "",
        "assessed_on": "",
        "work_ability": "",
        "note": "",
        "items": [""] * GSE_ITEMS,
    }
    if form == "assessment" and data:
        assessment_form = {**data, "items": [str(v) for v in data.get("self_efficacy_items", [])]}
    feedback_form: dict[str, Any] = {"answered_on": "", "answers": {}, "comment": "", "anonymous": False}
    if form == "feedback" and data:
        feedback_form = data
    kinds_done = {a.kind for a in recorded}
    return render(
        request,
        "plans/assessments.html",
        user=user,
        status=status,
        client_id=cid,
        name=await client_name(request, user, cid),
        section="assessments",
        assessments=recorded,
        feedback=responses,
        assessment_form=assessment_form,
        feedback_form=feedback_form,
        kinds=[(k, v) for k, v in ASSESSMENT_KIND_LABELS.items() if k not in kinds_done],
        kind_labels=ASSESSMENT_KIND_LABELS,
        work_ability_options=[(str(n), str(n)) for n in range(WORK_ABILITY_MIN, WORK_ABILITY_MAX + 1)],
        gse_items=range(1, GSE_ITEMS + 1),
        gse_answers=list(GSE_ANSWER_LABELS.items()),
        self_efficacy_range=(SELF_EFFICACY_MIN, SELF_EFFICACY_MAX),
        questions=list(FEEDBACK_QUESTION_LABELS.items()),
        question_labels=FEEDBACK_QUESTION_LABELS,
        feedback_answers=list(FEEDBACK_ANSWER_LABELS.items()),
        form=form,
        errors=errors or {},
        alert=alert,
        saved=gettext(SAVED[saved]) if saved in SAVED else None,
        saved_form=saved if saved in SAVED else None,
        today=date.today().isoformat(),
    )


@router.get("/clients/{client_id}/assessments", response_class=HTMLResponse, dependencies=PAGE_ROLES)
async def assessments_page(client_id: str, request: Request, user: CurrentUser, saved: str | None = None) -> Response:
    return await _guarded(request, user, client_id, lambda cid: _assessments_page(request, user, cid, saved=saved))


@router.post("/clients/{client_id}/assessments", response_class=HTMLResponse, dependencies=PAGE_ROLES)
async def assessments_post(client_id: str, request: Request, user: CurrentUser) -> Response:
    return await _guarded(request, user, client_id, lambda cid: _post(request, user, cid, "assessments"))


__all__ = ["client_name", "disclosure_data", "field_errors", "job_plan_data", "router"]
