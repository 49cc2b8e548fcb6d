"""The final report (loppuraportti): API and page.

The report is assembled from the journey (state, timeline, milestones, outcome), the
client records (profile, meetings, team: ``record_store.client_records_summary``), the
plans and the self-assessments into a draft in four sections. The coach edits and saves
it (every save is a new version with its author and time), records the client's comments,
approves it (which locks it), downloads the PDF and records the day it was sent to the
referring party. Steps out of order answer 409 with a ``code``:

- ``report_locked``: saving or commenting an approved report;
- ``not_saved``: approving a report whose text was never saved;
- ``already_approved``: approving twice;
- ``not_approved``: recording "sent to referrer" before approval;
- ``already_sent``: recording it twice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from babel.dates import get_timezone
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.coaching import plan_store as store
from services.coaching.apiclient import TRANSPORT_STATE, ApiClient
from services.coaching.pages import CurrentUser, PageUser, error_page, not_found_page, render
from services.coaching.plan_models import (
    BENEFIT_TOPIC_LABELS,
    MESSAGES,
    REPORT_SECTION_LABELS,
    REPORT_SECTIONS,
    REPORT_STATUS_LABELS,
    SELF_EFFICACY_MAX,
    SELF_EFFICACY_MIN,
    AssessmentOut,
    BenefitsCounsellingOut,
    ClientCommentIn,
    DisclosurePlanOut,
    FinalReportOut,
    FinalReportRow,
    JobSearchPlanOut,
    ReportFacts,
    ReportSections,
    ScorePair,
    SentToReferrerIn,
)
from services.coaching.plan_pages import PAGE_ROLES, client_name
from services.coaching.plans import (
    INVALID,
    NOT_FOUND,
    PLAN_ROLES,
    PlanUser,
    conflict,
    journey_of,
    session_for,
    transaction,
)
from services.coaching.record_models import ClientRecordsSummary
from services.coaching.record_pages import TEAM_ROLE_LABELS
from services.coaching.record_store import client_records_summary
from services.coaching.report_pdf import render_pdf, report_html
from shared.auth import Principal
from shared.db import utcnow
from shared.i18n import N_, OUTCOME_LABELS, PHASE_LABELS, REST_REASON_LABELS, TIMEZONE, format_day, label, negotiate
from shared.i18n import translator as _translator
from shared.problems import FieldError, ProblemError
from shared.service import ServiceContext, ctx_of
from workflows.client import get_timeline
from workflows.contracts import JourneyState, TimelineEntry

router = APIRouter()

CONFLICTS: dict[int | str, dict[str, Any]] = {
    409: {"description": "Out of order: `code` is report_locked, not_saved, already_approved, not_approved "
          "or already_sent"}
}  # fmt: skip


# --------------------------------------------------------------------------- the draft


@dataclass
class DraftInputs:
    """Everything the draft is written from (decrypted; never leaves the service as is)."""

    state: JourneyState
    timeline: list[TimelineEntry]
    records: ClientRecordsSummary | None
    job_plan: JobSearchPlanOut
    disclosure: DisclosurePlanOut
    benefits: list[BenefitsCounsellingOut]
    assessments: list[AssessmentOut] = field(default_factory=list)


def _scores(assessments: Iterable[AssessmentOut], attr: str) -> ScorePair:
    pair = ScorePair()
    for a in assessments:
        setattr(pair, a.kind, getattr(a, attr))
    return pair


def facts_of(inputs: DraftInputs) -> ReportFacts:
    s, m = inputs.state, inputs.state.milestones
    meetings = inputs.records.meetings if inputs.records else []
    return ReportFacts(
        phase=s.phase.value,
        status=s.status.value,
        outcome=s.outcome.value if s.outcome else None,
        rest_reason=s.rest_reason.value if s.rest_reason else None,
        started_at=s.episode_started_at,
        moves=sum(1 for e in inputs.timeline if e.kind == "move" and e.episode == s.episode),
        first_employer_contact_at=m.first_employer_contact_at,
        jobs_started=m.jobs_started,
        meetings=len(meetings),
        meetings_outside_office=sum(1 for x in meetings if x.place != "office"),
        team_roles=[t.role for t in inputs.records.team] if inputs.records else [],
        team_meetings=len(inputs.records.team_meetings) if inputs.records else 0,
        benefits_counselling=[b.given_on for b in inputs.benefits],
        disclosure_criteria=[c for c, v in inputs.disclosure.criteria().items() if v.discussed],
        work_ability=_scores(inputs.assessments, "work_ability"),
        self_efficacy=_scores(inputs.assessments, "self_efficacy"),
        records_included=inputs.records is not None,
    )


def build_draft(inputs: DraftInputs, lang: str) -> ReportSections:
    """The generated draft, in ``lang``: plain text, one paragraph per fact."""
    t = _translator(lang)
    _ = t.gettext
    facts = facts_of(inputs)
    profile = inputs.records.profile if inputs.records else None
    plan = inputs.job_plan

    summary = [
        _("Coaching began on %(date)s. Phase now: %(phase)s.")
        % {"date": format_day(facts.started_at, lang), "phase": label(PHASE_LABELS, lang, facts.phase)}
    ]
    if facts.status == "CLOSED" and facts.outcome:
        summary.append(_("The coaching ended: %(outcome)s.") % {"outcome": label(OUTCOME_LABELS, lang, facts.outcome)})
    elif facts.status == "RESTING":
        summary.append(
            _("The coaching is resting: %(reason)s.") % {"reason": label(REST_REASON_LABELS, lang, facts.rest_reason)}
        )
    if profile and profile.goals:
        summary.append(_("Goals: %(text)s") % {"text": profile.goals})

    actions: list[str] = []
    if facts.meetings:
        actions.append(
            _("%(n)s meetings, %(outside)s of them outside the office.")
            % {"n": facts.meetings, "outside": facts.meetings_outside_office}
        )
    if facts.first_employer_contact_at:
        actions.append(
            _("First employer contact on %(date)s.") % {"date": format_day(facts.first_employer_contact_at, lang)}
        )
    if facts.jobs_started:
        actions.append(_("Jobs started during the coaching: %(n)s.") % {"n": facts.jobs_started})
    for b in inputs.benefits:
        topics = ", ".join(_(BENEFIT_TOPIC_LABELS[topic]) for topic in b.topics)
        actions.append(
            _("Benefits counselling on %(date)s: %(topics)s.")
            % {"date": format_day(b.given_on, lang), "topics": topics}
        )
    if facts.disclosure_criteria:
        actions.append(
            _("Disclosure of work limitations discussed: %(n)s of the four criteria.")
            % {"n": len(facts.disclosure_criteria)}
        )
    done = [s.text for s in plan.steps if s.done]
    if done:
        actions.append(_("Job search steps taken: %(steps)s.") % {"steps": "; ".join(done)})
    if plan.employers:
        actions.append(_("Employers in the job search plan: %(names)s.") % {"names": ", ".join(plan.employers)})
    if facts.team_roles:
        roles = ", ".join(_(TEAM_ROLE_LABELS.get(r, r)) for r in facts.team_roles)
        actions.append(
            _("Multi-professional team: %(roles)s; %(n)s team meetings.") % {"roles": roles, "n": facts.team_meetings}
        )

    strengths: list[str] = []
    if profile:
        for msgid, text in (
            (N_("Strengths and skills: %(text)s"), profile.strengths),
            (N_("Work history: %(text)s"), profile.work_history),
            (N_("Education: %(text)s"), profile.education),
            (N_("Interests: %(text)s"), profile.interests),
        ):
            if text:
                strengths.append(_(msgid) % {"text": text})
    for msgid, pair, low, high in (
        (N_("Work ability (%(low)s–%(high)s): %(start)s at the start, %(end)s at the end."), facts.work_ability, 0, 10),
        (
            N_("Sense of self-efficacy (%(low)s–%(high)s): %(start)s at the start, %(end)s at the end."),
            facts.self_efficacy,
            SELF_EFFICACY_MIN,
            SELF_EFFICACY_MAX,
        ),
    ):
        if pair.start is not None or pair.end is not None:
            strengths.append(
                _(msgid)
                % {
                    "low": low,
                    "high": high,
                    "start": "–" if pair.start is None else pair.start,
                    "end": "–" if pair.end is None else pair.end,
                }
            )

    next_steps: list[str] = []
    if plan.target_jobs:
        next_steps.append(_("Jobs and fields aimed at: %(text)s.") % {"text": ", ".join(plan.target_jobs)})
    for step in plan.steps:
        if not step.done:
            due = _(" (by %(date)s)") % {"date": format_day(step.due_on, lang)} if step.due_on else ""
            next_steps.append(f"{step.text}{due}")
    if profile and profile.support_needs:
        next_steps.append(_("Support the work ability needs: %(text)s") % {"text": profile.support_needs})

    def joined(lines: list[str]) -> str | None:
        return "\n\n".join(lines) if lines else None

    return ReportSections(
        summary=joined(summary), actions=joined(actions), strengths=joined(strengths), next_steps=joined(next_steps)
    )


# --------------------------------------------------------------------------- operations


async def _inputs(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID) -> DraftInputs:
    state = await journey_of(ctx, principal, client_id)
    timeline = await get_timeline(await ctx.temporal(), principal.organisation_id, client_id)
    async with session_for(ctx, principal) as session:
        records = await client_records_summary(session, ctx.cipher, client_id)
        return DraftInputs(
            state=state,
            timeline=timeline,
            records=records,
            job_plan=store.to_job_plan(client_id, await store.job_plan_row(session, client_id), ctx.cipher),
            disclosure=store.to_disclosure(client_id, await store.disclosure_row(session, client_id), ctx.cipher),
            benefits=await store.benefits(session, ctx.cipher, client_id),
            assessments=await store.assessments(session, ctx.cipher, client_id),
        )


async def _assemble(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, lang: str) -> FinalReportOut:
    inputs = await _inputs(ctx, principal, client_id)
    draft = build_draft(inputs, lang)
    async with session_for(ctx, principal) as session:
        row = await store.report_row(session, client_id)
        versions = await store.report_versions(session, client_id)
        comments = await store.comments(session, ctx.cipher, client_id)
    latest = store.open_sections(versions[-1], ctx.cipher) if versions else None
    return FinalReportOut(
        client_id=client_id,
        status=row.status if row else "draft",
        saved=latest is not None,
        version=row.version if row else 0,
        sections=latest or draft,
        draft=draft,
        versions=store.version_meta(versions),
        comments=comments,
        approved_at=row.approved_at if row else None,
        approved_by=row.approved_by if row else None,
        sent_on=row.sent_on if row else None,
        sent_recorded_by=row.sent_recorded_by if row else None,
        sent_recorded_at=row.sent_recorded_at if row else None,
        facts=facts_of(inputs),
    )


async def read_report(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, lang: str) -> FinalReportOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "final_report.read", client_id)
    return await _assemble(ctx, principal, client_id, lang)


def _locked(row: FinalReportRow | None) -> bool:
    return row is not None and row.status != "draft"


async def save_report(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, body: ReportSections, lang: str
) -> FinalReportOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "final_report.write", client_id)
    async with transaction(ctx, principal) as session:
        await store.ensure_report_row(session, principal.organisation_id, client_id)
        if _locked(await store.report_row(session, client_id, lock=True)):
            raise conflict("report_locked", "The report is approved; it can no longer be edited.")
        await store.save_report(session, ctx.cipher, principal.organisation_id, client_id, body, principal.user_id)
    return await _assemble(ctx, principal, client_id, lang)


async def add_client_comment(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, body: ClientCommentIn, lang: str
) -> FinalReportOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "final_report.client_comment", client_id)
    async with transaction(ctx, principal) as session:
        if _locked(await store.report_row(session, client_id, lock=True)):
            raise conflict("report_locked", "The report is approved; comments go in before approval.")
        store.add_comment(session, ctx.cipher, principal.organisation_id, client_id, body, principal.user_id)
    return await _assemble(ctx, principal, client_id, lang)


async def approve(ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, lang: str) -> FinalReportOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "final_report.approve", client_id)
    async with transaction(ctx, principal) as session:
        row = await store.report_row(session, client_id, lock=True)
        if row is None:
            raise conflict("not_saved", "Save the report's text before approving it.")
        if row.status != "draft":
            raise conflict("already_approved", "The report is approved already.")
        row.status, row.approved_at, row.approved_by = "approved", utcnow(), principal.user_id
    return await _assemble(ctx, principal, client_id, lang)


def _invalid(field_name: str, message: str, kind: str) -> ProblemError:
    return ProblemError(
        422,
        "Unprocessable Content",
        "The request has invalid fields.",
        code="validation_failed",
        extra={"errors": [FieldError(field=field_name, message=message, type=kind).model_dump()]},
    )


async def mark_sent(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, body: SentToReferrerIn, lang: str
) -> FinalReportOut:
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "final_report.sent_to_referrer", client_id)
    async with transaction(ctx, principal) as session:
        row = await store.report_row(session, client_id, lock=True)
        if row is None or row.status == "draft":
            raise conflict("not_approved", "Approve the report before recording it as sent.")
        if row.status == "sent":
            raise conflict("already_sent", "The report is recorded as sent already.")
        assert row.approved_at is not None
        if body.sent_on < row.approved_at.astimezone(get_timezone(TIMEZONE)).date():
            raise _invalid("sent_on", MESSAGES["sent_before_approval"], "sent_before_approval")
        row.status, row.sent_on = "sent", body.sent_on
        row.sent_recorded_by, row.sent_recorded_at = principal.user_id, utcnow()
    return await _assemble(ctx, principal, client_id, lang)


async def pdf_of(
    ctx: ServiceContext, principal: Principal, client_id: uuid.UUID, lang: str, transport: Any = None
) -> bytes:
    """The report as PDF: the approved text, or the current one marked as a draft."""
    await journey_of(ctx, principal, client_id)
    await ctx.audit_access(principal, "final_report.pdf", client_id)
    report = await _assemble(ctx, principal, client_id, lang)
    account = await ctx.identity.account(principal.user_id)
    client: dict[str, Any] | None = None
    if account is not None:
        async with ApiClient(ctx.settings.internal_api, ctx.tokens.access_token(account), transport=transport) as api:
            client = await api.client(client_id)
    staff = {u.id: u.display_name or u.username for u in await ctx.identity.users(principal.organisation_id)}
    organisation = await _organisation_name(ctx, principal)
    name = f"{(client or {}).get('first_name', '')} {(client or {}).get('last_name', '')}".strip()
    html = report_html(
        report,
        lang=lang,
        client_name=name,
        coach_name=staff.get(report_coach(report, principal), ""),
        organisation_name=organisation,
        printed_on=utcnow().astimezone(get_timezone(TIMEZONE)).date(),
    )
    return await asyncio.to_thread(render_pdf, html)


def report_coach(report: FinalReportOut, principal: Principal) -> uuid.UUID:
    return report.approved_by or (report.versions[-1].author_id if report.versions else principal.user_id)


async def _organisation_name(ctx: ServiceContext, principal: Principal) -> str:
    org = await ctx.identity.organisation(principal.organisation_id)
    return org.name if org is not None else ""


# --------------------------------------------------------------------------- API routes


@router.get(
    "/api/v1/clients/{client_id}/final-report",
    response_model=FinalReportOut,
    tags=["final report"],
    summary="The final report: saved text (or the generated draft), versions, client comments, status",
    responses=NOT_FOUND,
)
async def get_final_report(client_id: uuid.UUID, principal: PlanUser, request: Request) -> FinalReportOut:
    return await read_report(ctx_of(request), principal, client_id, negotiate(request))


@router.put(
    "/api/v1/clients/{client_id}/final-report",
    response_model=FinalReportOut,
    tags=["final report"],
    summary="Save the coach's edited text as the next version",
    responses={**NOT_FOUND, **INVALID, **CONFLICTS},
)
async def put_final_report(
    client_id: uuid.UUID, body: ReportSections, principal: PlanUser, request: Request
) -> FinalReportOut:
    return await save_report(ctx_of(request), principal, client_id, body, negotiate(request))


@router.post(
    "/api/v1/clients/{client_id}/final-report/client-comments",
    status_code=201,
    response_model=FinalReportOut,
    tags=["final report"],
    summary="Record the client's comment on the report (before approval)",
    responses={**NOT_FOUND, **INVALID, **CONFLICTS},
)
async def post_client_comment(
    client_id: uuid.UUID, body: ClientCommentIn, principal: PlanUser, request: Request
) -> FinalReportOut:
    return await add_client_comment(ctx_of(request), principal, client_id, body, negotiate(request))


@router.post(
    "/api/v1/clients/{client_id}/final-report/approve",
    response_model=FinalReportOut,
    tags=["final report"],
    summary="Approve the saved report; it can no longer be edited",
    responses={**NOT_FOUND, **CONFLICTS},
)
async def post_approve(client_id: uuid.UUID, principal: PlanUser, request: Request) -> FinalReportOut:
    return await approve(ctx_of(request), principal, client_id, negotiate(request))


@router.post(
    "/api/v1/clients/{client_id}/final-report/sent-to-referrer",
    response_model=FinalReportOut,
    tags=["final report"],
    summary="Record the day the approved report was sent to the referring party",
    responses={**NOT_FOUND, **INVALID, **CONFLICTS},
)
async def post_sent(
    client_id: uuid.UUID, body: SentToReferrerIn, principal: PlanUser, request: Request
) -> FinalReportOut:
    return await mark_sent(ctx_of(request), principal, client_id, body, negotiate(request))


@router.get(
    "/api/v1/clients/{client_id}/final-report.pdf",
    tags=["final report"],
    summary="The report as PDF (watermarked as a draft until approved)",
    response_class=Response,
    responses={**NOT_FOUND, 200: {"content": {"application/pdf": {}}, "description": "The PDF"}},
)
async def get_final_report_pdf(client_id: uuid.UUID, principal: PlanUser, request: Request) -> Response:
    ctx = ctx_of(request)
    pdf = await pdf_of(ctx, principal, client_id, negotiate(request), getattr(request.app.state, TRANSPORT_STATE, None))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="loppuraportti-{date.today().isoformat()}.pdf"',
            "Cache-Control": "no-store",
        },
    )


# --------------------------------------------------------------------------- page

PAGE_CONFLICTS: dict[str, str] = {
    "report_locked": N_("The report is approved and can no longer be changed."),
    "not_saved": N_("Save the report's text before approving it."),
    "already_approved": N_("The report is approved already."),
    "not_approved": N_("Approve the report before recording it as sent."),
    "already_sent": N_("The report is recorded as sent already."),
}
PAGE_SAVED: dict[str, str] = {
    "save": N_("The report was saved."),
    "comment": N_("The client's comment was recorded."),
    "approve": N_("The report was approved."),
    "sent": N_("Sending to the referrer was recorded."),
}
FIELD_MESSAGES: dict[str, str] = {
    "commented_on": N_("Give the date of the comment; it cannot be in the future."),
    "comment": N_("Write the client's comment (at most 5 000 characters)."),
    "sent_on": N_("Give the day it was sent: not in the future, not before approval."),
    **{key: N_("The section is too long: at most 20 000 characters.") for key in REPORT_SECTIONS},
}


def _page_errors(errors: Iterable[Any], lang: str) -> dict[str, str]:
    _ = _translator(lang).gettext
    out: dict[str, str] = {}
    for error in errors:
        loc = error.get("loc") or str(error.get("field", "")).split(".")
        name = str(loc[0]) if loc else ""
        out.setdefault(name, _(FIELD_MESSAGES.get(name, N_("Check this field."))))
    return out


async def _page(
    request: Request,
    user: PageUser,
    client_id: uuid.UUID,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    alert: str | None = None,
    saved: str | None = None,
) -> Response:
    ctx = ctx_of(request)
    lang = negotiate(request)
    report = await read_report(ctx, user.principal, client_id, lang)
    staff = {str(u.id): u.display_name or u.username for u in await ctx.identity.users(user.account.organisation_id)}
    _ = _translator(lang).gettext
    return render(
        request,
        "report/final_report.html",
        user=user,
        status=status,
        client_id=client_id,
        name=await client_name(request, user, client_id),
        section="final_report",
        report=report,
        staff=staff,
        errors=errors or {},
        values=values or {},
        alert=alert,
        saved=_(PAGE_SAVED[saved]) if saved in PAGE_SAVED else None,
        sections=[(key, REPORT_SECTION_LABELS[key]) for key in REPORT_SECTIONS],
        status_label=_(REPORT_STATUS_LABELS[report.status]),
        today=date.today().isoformat(),
        can_write=user.role in PLAN_ROLES,
    )


def _client_uuid(client_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(client_id)
    except ValueError:
        return None


@router.get(
    "/clients/{client_id}/final-report",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=PAGE_ROLES,
)
async def final_report_page(client_id: str, request: Request, user: CurrentUser, saved: str | None = None) -> Response:
    cid = _client_uuid(client_id)
    if cid is None:
        return not_found_page(request, user)
    if user.role not in PLAN_ROLES:
        return error_page(
            request, 403, N_("Not allowed"), N_("Your role does not give access to this page."), user=user
        )
    try:
        return await _page(request, user, cid, saved=saved)
    except ProblemError as exc:
        if exc.status == 404:
            return not_found_page(request, user)
        raise


@router.post(
    "/clients/{client_id}/final-report",
    response_class=HTMLResponse,
    include_in_schema=False,
    dependencies=PAGE_ROLES,
)
async def final_report_post(client_id: str, request: Request, user: CurrentUser) -> Response:
    cid = _client_uuid(client_id)
    if cid is None:
        return not_found_page(request, user)
    if user.role not in PLAN_ROLES:
        return error_page(
            request, 403, N_("Not allowed"), N_("Your role does not give access to this page."), user=user
        )
    ctx, lang = ctx_of(request), negotiate(request)
    try:
        await journey_of(ctx, user.principal, cid)  # another organisation's client: 404 before anything else
    except ProblemError as exc:
        if exc.status == 404:
            return not_found_page(request, user)
        raise
    form = await request.form()
    data = {k: v for k, v in form.items() if isinstance(v, str)}
    if not user.csrf or data.pop("csrf_token", None) != user.csrf:
        return error_page(
            request,
            403,
            N_("Not allowed"),
            N_("The form has expired or you may not do this. Reload the page and try again."),
            user=user,
        )
    action = data.pop("action", "")
    _ = _translator(lang).gettext
    try:
        if action == "save":
            await save_report(ctx, user.principal, cid, ReportSections.model_validate(data), lang)
        elif action == "comment":
            await add_client_comment(ctx, user.principal, cid, ClientCommentIn.model_validate(data), lang)
        elif action == "approve":
            await approve(ctx, user.principal, cid, lang)
        elif action == "sent":
            await mark_sent(ctx, user.principal, cid, SentToReferrerIn.model_validate(data), lang)
        else:
            return error_page(request, 400, N_("Bad request"), N_("The request could not be understood."), user=user)
    except ValidationError as exc:
        return await _page(
            request, user, cid, status=422, errors=_page_errors(exc.errors(), lang), values={action: data}
        )
    except ProblemError as exc:
        if exc.status == 409 and exc.code in PAGE_CONFLICTS:
            return await _page(request, user, cid, status=409, alert=_(PAGE_CONFLICTS[str(exc.code)]))
        if exc.status == 422:
            errors = _page_errors(exc.extra.get("errors", []), lang)
            return await _page(request, user, cid, status=422, errors=errors, values={action: data})
        raise
    return RedirectResponse(f"/clients/{cid}/final-report?saved={action}", status_code=303)


__all__ = ["DraftInputs", "build_draft", "facts_of", "router"]
