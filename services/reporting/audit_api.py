"""The auditor's API (role ``auditor``): a client's journey trace, its signed JSON and PDF
exports, the client's access report, checking an export's signature and the access log's
hash chain.

Every call states its purpose (``purpose`` code, optional ``case`` reference) and leaves
an audit record with it before the answer is returned. An auditor sees their own
organisation only: another organisation's client answers 404 (the workflow id, the event
subjects and the audit chain are all per organisation).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.reporting import audit_trace as at
from shared.audit import verify_chain
from shared.auth import Principal, requires
from shared.contracts.journey import Role
from shared.db import utcnow
from shared.i18n import SUPPORTED, label, negotiate
from shared.problems import FieldError, ProblemError, not_found
from shared.service import ServiceContext, ctx_of

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
AUDITOR_ROLES = (Role.AUDITOR,)
Auditor = Annotated[Principal, Depends(requires(*AUDITOR_ROLES))]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such client in your organisation"}}
PDF_TYPE = "application/pdf"
# The purpose of checks that concern the whole log rather than one client.
SUPERVISION = at.AuditPurpose(code="supervision")


# --------------------------------------------------------------------------- parameters


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(
        422,
        "Unprocessable Content",
        "The request has invalid fields.",
        code="validation_failed",
        extra={"errors": [FieldError(field=field, message=message, type="value_error").model_dump()]},
    )


def purpose_params(
    purpose: Annotated[at.PurposeCode, Query(description="Why the auditor looks (audited)")],
    case: Annotated[
        str | None, Query(pattern=at.CASE_REF_PATTERN, description="A case or diary number (no spaces)")
    ] = None,
) -> at.AuditPurpose:
    return at.AuditPurpose(code=purpose, case_reference=case)


def filter_params(
    kind: Annotated[list[at.Kind] | None, Query(description="Entry kinds to keep; none: all")] = None,
    actor: Annotated[uuid.UUID | None, Query(description="Only this actor's entries")] = None,
    start: Annotated[date | None, Query(description="First day (Finnish time)")] = None,
    end: Annotated[date | None, Query(description="Last day (Finnish time)")] = None,
) -> at.TraceFilters:
    if start is not None and end is not None and end < start:
        raise _invalid("end", "The period ends before it starts.")
    return at.TraceFilters(kinds=list(dict.fromkeys(kind or [])), actor_id=actor, start=start, end=end)


PurposeIn = Annotated[at.AuditPurpose, Depends(purpose_params)]
FiltersIn = Annotated[at.TraceFilters, Depends(filter_params)]


# --------------------------------------------------------------------------- building


async def staff_names(ctx: ServiceContext, organisation_id: uuid.UUID) -> dict[uuid.UUID, str]:
    return {u.id: u.display_name or u.username for u in await ctx.identity.users(organisation_id)}


async def _sources(
    ctx: ServiceContext, organisation_id: uuid.UUID, client_id: uuid.UUID
) -> tuple[list[Any], list[at.WorkflowRun], bool, bool, list[dict[str, Any]], bool]:
    """(timeline, runs, workflow found, workflow engine answered, events, events complete)."""
    timeline: list[Any] = []
    runs: list[at.WorkflowRun] = []
    found, available = False, True
    try:
        temporal = await ctx.temporal()
        timeline, runs, found = await at.workflow_history(temporal, organisation_id, client_id)
    except Exception as exc:  # noqa: BLE001 - the trace says the workflow part is missing
        log.warning("audit trace: workflow history unavailable: %s", type(exc).__name__)
        available = False
    try:
        events, complete = await at.client_events(ctx.settings.nats_url, organisation_id, client_id)
    except Exception as exc:  # noqa: BLE001 - the trace says the event part is incomplete
        log.warning("audit trace: events unavailable: %s", type(exc).__name__)
        events, complete = [], False
    return timeline, runs, found, available, events, complete


async def build_trace(
    ctx: ServiceContext,
    principal: Principal,
    client_id: uuid.UUID,
    purpose: at.AuditPurpose,
    filters: at.TraceFilters,
    action: str = "audit.trace.view",
) -> at.JourneyTrace:
    """The client's trace as the auditor asked for it, audited as ``action``; 404 (also
    audited) when the organisation holds nothing about the client."""
    from workflows.client import workflow_id

    org = principal.organisation_id
    timeline, runs, wf_found, wf_available, events, complete = await _sources(ctx, org, client_id)
    earlier = await ctx.audit.records(org, client_id)
    # The auditors' own earlier attempts on this id do not make it a client of ours.
    known = wf_found or events or any(not r.action.startswith("audit.") for r in earlier)
    if not known:
        await ctx.audit_access(principal, action, client_id, purpose=purpose.text(), outcome="not_found")
        raise not_found()
    await ctx.audit_access(principal, action, client_id, purpose=purpose.text())
    records = await ctx.audit.records(org, client_id)  # this view included
    wid = workflow_id(org, client_id)
    everything = at.merge(
        at.workflow_entries(wid, timeline, runs, at.event_trace_ids(events)),
        at.event_entries(events),
        at.access_entries(records),
    )
    everything = at.name_actors(everything, await staff_names(ctx, org))
    return at.JourneyTrace(
        organisation_id=org,
        client_id=client_id,
        workflow_id=wid,
        generated_at=utcnow(),
        generated_by=principal.user_id,
        purpose=purpose.text(),
        filters=filters,
        runs=runs,
        counts=at.counts_of(everything),
        events_complete=complete,
        workflow_available=wf_available,
        actors=at.actors_of(everything),
        entries=at.apply_filters(everything, filters),
    )


async def build_access_report(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, purpose: at.AuditPurpose, lang: str
) -> at.AccessReport:
    org = principal.organisation_id
    earlier = await ctx.audit.records(org, client_id)
    known = any(not r.action.startswith("audit.") for r in earlier)
    if not known:
        await ctx.audit_access(principal, "audit.access_report", client_id, purpose=purpose.text(), outcome="not_found")
        raise not_found()
    await ctx.audit_access(principal, "audit.access_report", client_id, purpose=purpose.text())
    organisation = await ctx.identity.organisation(org)
    return at.access_report(
        await ctx.audit.records(org, client_id),
        client_id=client_id,
        organisation_id=org,
        organisation_name=organisation.name if organisation else "",
        names=await staff_names(ctx, org),
        now=utcnow(),
        lang=lang,
    )


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


async def pdf_of(html: str) -> bytes:
    """A PDF from HTML, off the event loop (WeasyPrint is CPU-bound)."""
    return await asyncio.to_thread(render_pdf, html)


def trace_html(trace: at.JourneyTrace, lang: str) -> str:
    """The trace as a standalone HTML document for the PDF, in ``lang``."""
    from services.reporting.audit_pages import describe
    from services.reporting.pages import env_for

    return (
        env_for(lang)
        .get_template("audit/trace_pdf.html")
        .render(
            trace=trace,
            describe=lambda e: describe(e, lang),
            kind_label=lambda k: label(at.KIND_LABELS, lang, k),
            purpose_text=lambda p: at.purpose_text(p, lang),
        )
    )


def access_report_html(report: at.AccessReport, *, fragment: bool = False) -> str:
    """The access report in its own language: a whole document (for the PDF) or, with
    ``fragment``, the body to place in a page."""
    from services.reporting.pages import env_for

    name = "audit/_access_report_body.html" if fragment else "audit/access_report_pdf.html"
    return env_for(report.lang).get_template(name).render(report=report)


# --------------------------------------------------------------------------- routes


@router.get(
    "/clients/{client_id}/trace",
    response_model=at.JourneyTrace,
    summary="The client's journey trace: workflow history, domain events and access log in one timeline",
    responses=_NOT_FOUND,
)
async def journey_trace(
    client_id: uuid.UUID, principal: Auditor, purpose: PurposeIn, filters: FiltersIn, request: Request
) -> at.JourneyTrace:
    return await build_trace(ctx_of(request), principal, client_id, purpose, filters)


@router.get(
    "/clients/{client_id}/trace/export.json",
    response_model=at.SignedTrace,
    summary="The trace as JSON with an Ed25519 signature over its canonical content",
    responses=_NOT_FOUND,
)
async def export_json(
    client_id: uuid.UUID, principal: Auditor, purpose: PurposeIn, filters: FiltersIn, request: Request
) -> Response:
    ctx = ctx_of(request)
    trace = await build_trace(ctx, principal, client_id, purpose, filters, action="audit.trace.export.json")
    signed = at.sign_trace(trace, ctx.keys.secret_key)
    return Response(
        signed.model_dump_json(indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="trace-{client_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/clients/{client_id}/trace/export.pdf",
    response_class=Response,
    summary="The trace as a PDF document",
    responses={**_NOT_FOUND, 200: {"content": {PDF_TYPE: {}}, "description": "The PDF"}},
)
async def export_pdf(
    client_id: uuid.UUID, principal: Auditor, purpose: PurposeIn, filters: FiltersIn, request: Request
) -> Response:
    ctx = ctx_of(request)
    trace = await build_trace(ctx, principal, client_id, purpose, filters, action="audit.trace.export.pdf")
    pdf = await pdf_of(trace_html(trace, negotiate(request)))
    return Response(
        pdf,
        media_type=PDF_TYPE,
        headers={"Content-Disposition": f'attachment; filename="trace-{client_id}.pdf"', "Cache-Control": "no-store"},
    )


Lang = Literal["fi", "sv", "en"]


@router.get(
    "/clients/{client_id}/access-report",
    response_model=at.AccessReport,
    summary="Who processed the client's data and on what basis over the last two years",
    responses=_NOT_FOUND,
)
async def access_report(
    client_id: uuid.UUID,
    principal: Auditor,
    purpose: PurposeIn,
    request: Request,
    lang: Annotated[Lang | None, Query(description="The report's language; default: the request's")] = None,
) -> at.AccessReport:
    return await build_access_report(ctx_of(request), principal, client_id, purpose, lang or negotiate(request))


@router.get(
    "/clients/{client_id}/access-report.pdf",
    response_class=Response,
    summary="The access report as a PDF to hand to the client",
    responses={**_NOT_FOUND, 200: {"content": {PDF_TYPE: {}}, "description": "The PDF"}},
)
async def access_report_pdf(
    client_id: uuid.UUID,
    principal: Auditor,
    purpose: PurposeIn,
    request: Request,
    lang: Annotated[Lang | None, Query(description="The report's language; default: the request's")] = None,
) -> Response:
    chosen = lang or negotiate(request)
    assert chosen in SUPPORTED
    report = await build_access_report(ctx_of(request), principal, client_id, purpose, chosen)
    pdf = await pdf_of(access_report_html(report))
    return Response(
        pdf,
        media_type=PDF_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="access-report-{client_id}.pdf"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/signing-key", response_model=at.SigningKeyOut, summary="The public key trace exports are signed with")
async def signing_key(principal: Auditor, request: Request) -> at.SigningKeyOut:
    return at.public_key_out(ctx_of(request).keys.secret_key)


@router.post(
    "/exports/verify",
    response_model=at.VerifyResult,
    summary="Check an exported trace's signature (valid: false for any change to it)",
)
async def verify_export(
    principal: Auditor, request: Request, document: Annotated[dict[str, Any], Body(description="The exported JSON")]
) -> at.VerifyResult:
    return await verify_document(ctx_of(request), principal, document)


async def verify_document(ctx: ServiceContext, principal: Principal, document: dict[str, Any]) -> at.VerifyResult:
    """Check a signed export; only the auditor's own organisation's exports count as valid."""
    result = at.verify_signed(document, at.known_keys(ctx.keys.secret_key))
    trace_doc = document.get("trace")
    if (
        result.valid
        and isinstance(trace_doc, dict)
        and str(trace_doc.get("organisation_id")) != str(principal.organisation_id)
    ):
        result = at.VerifyResult(valid=False, key_id=result.key_id, problem="another organisation's export")
    client = at.as_uuid(trace_doc.get("client_id")) if isinstance(trace_doc, dict) and result.valid else None
    await ctx.audit_access(
        principal,
        "audit.export.verify",
        client,
        purpose=SUPERVISION.text(),
        outcome="ok" if result.valid else "invalid",
    )
    return result


class ChainStatus(BaseModel):
    organisation_id: uuid.UUID
    records: int
    intact: bool
    broken_at_seq: int | None = None
    problem: str | None = None


@router.post(
    "/chain/verify",
    response_model=ChainStatus,
    summary="Check the hash chain of the organisation's access log",
)
async def verify_access_chain(principal: Auditor, request: Request) -> ChainStatus:
    ctx = ctx_of(request)
    return await check_chain(ctx, principal)


async def check_chain(ctx: ServiceContext, principal: Principal) -> ChainStatus:
    reports = await verify_chain(ctx.platform, principal.organisation_id)
    report = reports[0] if reports else None
    status = ChainStatus(
        organisation_id=principal.organisation_id,
        records=report.records if report else 0,
        intact=report is None or report.broken is None,
        broken_at_seq=report.broken.seq if report and report.broken else None,
        problem=report.broken.problem if report and report.broken else None,
    )
    # Recorded after the check, so the check itself does not move the head it reports on.
    await ctx.audit_access(
        principal, "audit.chain.verify", None, purpose=SUPERVISION.text(), outcome="ok" if status.intact else "broken"
    )
    return status


__all__ = ["AUDITOR_ROLES", "build_access_report", "build_trace", "check_chain", "router"]
