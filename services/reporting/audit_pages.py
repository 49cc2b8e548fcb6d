"""The auditor's pages (role ``auditor``) in the common web UI.

``/audit`` finds a client by id or by identity code (the code goes in a POST body to
intake's audited lookup, never into an URL) with a stated purpose, and checks the access
log's hash chain. ``/audit/clients/{id}`` shows the journey trace with filters by kind,
actor and period, and links to the signed JSON and the PDF exports (the API's, which take
the session cookie). ``/audit/clients/{id}/access-report`` is the report for the client,
in the language chosen for them. Every page builds through ``audit_api``, so it checks,
reads and audits exactly as the API does.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any, get_args
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from services.reporting import audit_api
from services.reporting import audit_trace as at
from services.reporting.pages import env_for
from shared.auth import CSRF_FIELD, page_roles
from shared.i18n import (
    ACTION_LABELS,
    MILESTONE_LABELS,
    N_,
    REMINDER_LABELS,
    ROLE_LABELS,
    SUPPORTED,
    label,
    negotiate,
    translator,
)
from shared.problems import ProblemError
from shared.service import ctx_of
from shared.ui import web
from shared.ui.web import PageUser

router = APIRouter(include_in_schema=False)
AUDITOR_ONLY = [Depends(page_roles(*audit_api.AUDITOR_ROLES))]
PURPOSE_CODES: tuple[str, ...] = get_args(at.PurposeCode)
# An httpx transport for the call to intake (tests may set an ASGI one on app.state).
TRANSPORT_STATE = "polku_api_transport"


def render(request: Request, template: str, *, user: PageUser, status: int = 200, **context: Any) -> HTMLResponse:
    lang = negotiate(request)
    return web.render(
        request,
        env_for,
        template,
        user=user,
        status=status,
        purposes=purposes_for(lang),
        describe=lambda e: describe(e, lang),
        kind_label=lambda k: label(at.KIND_LABELS, lang, k),
        purpose_text=lambda p: at.purpose_text(p, lang),
        **context,
    )


def purposes_for(lang: str) -> list[tuple[str, str]]:
    return [(code, label(at.PURPOSES, lang, code)) for code in PURPOSE_CODES]


def describe(entry: at.TraceEntry, lang: str) -> str:
    """A trace entry's ``what`` in words: journey vocabulary where it has labels, the
    access's kind for audit actions, else the code itself."""
    kind, _, code = entry.what.partition(".")
    if entry.kind == "workflow":
        if kind == "started":
            return label(ACTION_LABELS, lang, "started")
        table = {"move": ACTION_LABELS, "milestone": MILESTONE_LABELS, "reminder": REMINDER_LABELS}.get(kind)
        return label(table, lang, code) if table else entry.what
    if entry.kind == "access":
        return label(at.ACTIVITY_LABELS, lang, at.activity_of(entry.what))
    return entry.what


def _purpose_from(values: dict[str, str]) -> at.AuditPurpose | None:
    try:
        return at.AuditPurpose.model_validate(
            {"code": values.get("purpose", ""), "case_reference": values.get("case") or None}
        )
    except ValidationError:
        return None


def _purpose_query(purpose: at.AuditPurpose) -> dict[str, str]:
    q: dict[str, str] = {"purpose": purpose.code}
    if purpose.case_reference:
        q["case"] = purpose.case_reference
    return q


def _not_found(request: Request, user: PageUser) -> HTMLResponse:
    return web.error_page(
        request, env_for, 404, N_("Page not found"), N_("There is no page at this address."), user=user
    )


# --------------------------------------------------------------------------- finding a client


def _find_page(
    request: Request,
    user: PageUser,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
    hits: list[uuid.UUID] | None = None,
    chain: audit_api.ChainStatus | None = None,
    verified: at.VerifyResult | None = None,
) -> HTMLResponse:
    return render(
        request,
        "audit/find.html",
        user=user,
        status=status,
        values=values or {},
        error=error,
        hits=hits,
        chain=chain,
        verified=verified,
    )


@router.get("/audit", response_class=HTMLResponse, dependencies=AUDITOR_ONLY)
async def find_page(request: Request, user: web.CurrentUser) -> Response:
    return _find_page(request, user)


async def _lookup(request: Request, user: PageUser, identity_code: str, purpose: at.AuditPurpose) -> list[uuid.UUID]:
    """Intake's audited lookup by identity code, called as the auditor."""
    ctx = ctx_of(request)
    transport = getattr(request.app.state, TRANSPORT_STATE, None)
    async with httpx.AsyncClient(
        base_url=ctx.settings.internal_api,
        headers={"Authorization": f"Bearer {ctx.tokens.access_token(user.account)}"},
        transport=transport,
        timeout=httpx.Timeout(10.0, connect=3.0),
    ) as http:
        try:
            r = await http.post("/api/v1/clients/lookup", json={"query": identity_code, "purpose": purpose.text()})
        except httpx.HTTPError as exc:
            raise ProblemError(503, "Service Unavailable", "The client registry did not answer.") from exc
    if r.status_code == 422:
        raise ValueError("identity code")
    if r.status_code != 200:
        raise ProblemError(503, "Service Unavailable", "The client registry did not answer.")
    return [uuid.UUID(hit["client_id"]) for hit in r.json()]


@router.post("/audit/find", response_class=HTMLResponse, dependencies=AUDITOR_ONLY)
async def find_submit(request: Request, user: web.CurrentUser) -> Response:
    form = await request.form()
    if not web.csrf_ok(user, form.get(CSRF_FIELD)):
        raise ProblemError(403, "Forbidden", "The form has expired; reload the page.", code="csrf_failed")
    values = {k: str(v).strip() for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}
    _ = translator(negotiate(request)).gettext
    purpose = _purpose_from(values)
    shown = {k: v for k, v in values.items() if k != "identity_code"}  # never echoed back
    if purpose is None:
        return _find_page(
            request, user, values=shown, status=422, error=_("Choose a purpose; a case number has no spaces.")
        )
    client_id, code = values.get("client_id", ""), values.get("identity_code", "")
    if bool(client_id) == bool(code):
        return _find_page(
            request, user, values=shown, status=422, error=_("Give either a client id or an identity code.")
        )
    if client_id:
        try:
            found = [uuid.UUID(client_id)]
        except ValueError:
            return _find_page(request, user, values=shown, status=422, error=_("The client id is not valid."))
    else:
        try:
            found = await _lookup(request, user, code, purpose)
        except ValueError:
            return _find_page(request, user, values=shown, status=422, error=_("The identity code is not valid."))
        if not found:
            return _find_page(request, user, values=shown, error=_("No client of your organisation has this code."))
        if len(found) > 1:
            return _find_page(request, user, values=shown, hits=found)
    query = urlencode(_purpose_query(purpose))
    return RedirectResponse(f"/audit/clients/{found[0]}?{query}", status_code=303)


# --------------------------------------------------------------------------- the trace


def _filters_from(request: Request) -> tuple[at.TraceFilters, str | None]:
    q = request.query_params
    _ = translator(negotiate(request)).gettext
    kinds = [k for k in q.getlist("kind") if k in at.KINDS]
    try:
        actor = uuid.UUID(q["actor"]) if q.get("actor") else None
        start = date.fromisoformat(q["start"]) if q.get("start") else None
        end = date.fromisoformat(q["end"]) if q.get("end") else None
    except ValueError:
        return at.TraceFilters(), _("The filters are not valid.")
    if start and end and end < start:
        return at.TraceFilters(), _("The period ends before it starts.")
    return at.TraceFilters.model_validate({"kinds": kinds, "actor_id": actor, "start": start, "end": end}), None


def _client_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


@router.get("/audit/clients/{client_id}", response_class=HTMLResponse, dependencies=AUDITOR_ONLY)
async def trace_page(client_id: str, request: Request, user: web.CurrentUser) -> Response:
    cid = _client_id(client_id)
    if cid is None:
        return _not_found(request, user)
    purpose = _purpose_from(dict(request.query_params))
    if purpose is None:
        # No stated purpose yet: ask for it before anything is read.
        return render(request, "audit/purpose.html", user=user, client_id=cid, target=f"/audit/clients/{cid}")
    filters, error = _filters_from(request)
    trace = await audit_api.build_trace(ctx_of(request), user.principal, cid, purpose, filters)
    purpose_q = _purpose_query(purpose)
    export_q = urlencode(
        [*purpose_q.items(), *[(k, v) for k, v in request.query_params.multi_items() if k not in purpose_q and v]]
    )
    return render(
        request,
        "audit/trace.html",
        user=user,
        trace=trace,
        filters=filters,
        error=error,
        purpose=purpose,
        purpose_query=urlencode(purpose_q),
        export_query=export_q,
        role_label=lambda r: label(ROLE_LABELS, negotiate(request), r),
    )


@router.get("/audit/clients/{client_id}/access-report", response_class=HTMLResponse, dependencies=AUDITOR_ONLY)
async def access_report_page(client_id: str, request: Request, user: web.CurrentUser) -> Response:
    cid = _client_id(client_id)
    if cid is None:
        return _not_found(request, user)
    purpose = _purpose_from(dict(request.query_params))
    if purpose is None:
        target = f"/audit/clients/{cid}/access-report"
        return render(request, "audit/purpose.html", user=user, client_id=cid, target=target)
    chosen = request.query_params.get("lang") or negotiate(request)
    if chosen not in SUPPORTED:
        chosen = negotiate(request)
    report = await audit_api.build_access_report(ctx_of(request), user.principal, cid, purpose, chosen)
    body = audit_api.access_report_html(report, fragment=True)
    return render(
        request,
        "audit/access_report.html",
        user=user,
        report=report,
        report_body=Markup(body),
        purpose=purpose,
        purpose_query=urlencode(_purpose_query(purpose)),
        chosen=chosen,
    )


# --------------------------------------------------------------------------- checks


@router.post("/audit/chain", response_class=HTMLResponse, dependencies=AUDITOR_ONLY)
async def chain_check(request: Request, user: web.CurrentUser) -> Response:
    form = await request.form()
    if not web.csrf_ok(user, form.get(CSRF_FIELD)):
        raise ProblemError(403, "Forbidden", "The form has expired; reload the page.", code="csrf_failed")
    status = await audit_api.check_chain(ctx_of(request), user.principal)
    return _find_page(request, user, chain=status)


@router.post("/audit/verify-export", response_class=HTMLResponse, dependencies=AUDITOR_ONLY)
async def verify_export_page(request: Request, user: web.CurrentUser) -> Response:
    import json

    form = await request.form()
    if not web.csrf_ok(user, form.get(CSRF_FIELD)):
        raise ProblemError(403, "Forbidden", "The form has expired; reload the page.", code="csrf_failed")
    upload = form.get("export")
    raw = await upload.read() if upload is not None and not isinstance(upload, str) else b""
    try:
        document = json.loads(raw or b"null")
    except ValueError:
        document = None
    ctx = ctx_of(request)
    if not isinstance(document, dict):
        result = at.VerifyResult(valid=False, problem="not a Polku audit trace export")
        await ctx.audit_access(
            user.principal, "audit.export.verify", None, purpose=audit_api.SUPERVISION.text(), outcome="invalid"
        )
    else:
        result = await audit_api.verify_document(ctx, user.principal, document)
    return _find_page(request, user, verified=result, status=200)


__all__ = ["describe", "router"]
