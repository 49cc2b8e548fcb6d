"""Queries of plans, self-assessments, feedback and final reports, and the encryption of
their free text.

Every function takes an ``AsyncSession`` opened for one organisation
(``ServiceContext.database.session(organisation_id=...)``): the tenancy filter scopes
every query to it. The caller checks that the client exists in that organisation (the
API does it through the journey workflow) and writes the audit record.

Free text is sealed with ``shared.crypto.FieldCipher``; each value's associated data
names its table, row and field (``context``), so a ciphertext cannot be moved to another
row or field. Documents with several free-text parts (a plan's targets, steps and notes)
are sealed as one JSON value.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.coaching import record_store
from services.coaching.plan_models import (
    CRITERIA,
    FEEDBACK_SURVEY,
    AssessmentIn,
    AssessmentOut,
    AssessmentRow,
    BenefitsCounsellingIn,
    BenefitsCounsellingOut,
    BenefitsCounsellingRow,
    ClientCommentIn,
    ClientCommentOut,
    DisclosurePlanIn,
    DisclosurePlanOut,
    DisclosurePlanRow,
    FeedbackIn,
    FeedbackOut,
    FeedbackRow,
    FinalReportCommentRow,
    FinalReportRow,
    FinalReportVersionRow,
    JobSearchPlanIn,
    JobSearchPlanOut,
    JobSearchPlanRow,
    ReportSections,
    ReportVersion,
)
from shared.crypto import FieldCipher
from shared.db import dialect_insert, utcnow
from workflows.contracts import Criterion

JOB_PLAN, DISCLOSURE, BENEFITS, ASSESSMENT, FEEDBACK = (
    "job_search_plan",
    "disclosure_plan",
    "benefits",
    "assessment",
    "feedback",
)
REPORT_VERSION, REPORT_COMMENT = "final_report_version", "final_report_comment"

# Which columns of which table hold ciphertext (for tests and key rotation).
ENCRYPTED: dict[type, tuple[str, tuple[str, ...]]] = {
    JobSearchPlanRow: (JOB_PLAN, ("content_enc",)),
    DisclosurePlanRow: (DISCLOSURE, ("content_enc",)),
    BenefitsCounsellingRow: (BENEFITS, ("note_enc",)),
    AssessmentRow: (ASSESSMENT, ("note_enc",)),
    FeedbackRow: (FEEDBACK, ("comment_enc",)),
    FinalReportVersionRow: (REPORT_VERSION, ("sections_enc",)),
    FinalReportCommentRow: (REPORT_COMMENT, ("comment_enc",)),
}


class Sealer(record_store.Sealer):
    """Encrypts and decrypts the free text of one row (same binding as the records'),
    plus JSON documents."""

    def seal_json(self, field: str, value: Any) -> str:
        sealed = self.seal(field, json.dumps(value, ensure_ascii=False, default=str))
        assert sealed is not None
        return sealed

    def open_json(self, field: str, stored: str) -> Any:
        return json.loads(self.open(field, stored) or "null")


# --------------------------------------------------------------------------- job search plan


async def job_plan_row(session: AsyncSession, client_id: uuid.UUID) -> JobSearchPlanRow | None:
    result = await session.execute(select(JobSearchPlanRow).where(JobSearchPlanRow.client_id == client_id))
    return result.scalar_one_or_none()


def to_job_plan(client_id: uuid.UUID, row: JobSearchPlanRow | None, cipher: FieldCipher) -> JobSearchPlanOut:
    if row is None:
        return JobSearchPlanOut(client_id=client_id, version=0)
    content = Sealer(cipher, JOB_PLAN, row.id).open_json("content", row.content_enc)
    plan = JobSearchPlanIn.model_validate({**content, "hours_per_week": row.hours_per_week})
    return JobSearchPlanOut(
        **plan.model_dump(),
        client_id=client_id,
        version=row.version,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


async def save_job_plan(
    session: AsyncSession,
    cipher: FieldCipher,
    organisation_id: uuid.UUID,
    client_id: uuid.UUID,
    body: JobSearchPlanIn,
    author: uuid.UUID,
) -> JobSearchPlanOut:
    row = await job_plan_row(session, client_id)
    if row is None:
        row = JobSearchPlanRow(id=uuid.uuid4(), organisation_id=organisation_id, client_id=client_id, version=0)
        session.add(row)
    content = body.model_dump(mode="json", exclude={"hours_per_week"})
    row.content_enc = Sealer(cipher, JOB_PLAN, row.id).seal_json("content", content)
    row.hours_per_week = body.hours_per_week
    row.version = (row.version or 0) + 1
    row.updated_by, row.updated_at = author, utcnow()
    await session.flush()
    return to_job_plan(client_id, row, cipher)


# --------------------------------------------------------------------------- disclosure plan


async def disclosure_row(session: AsyncSession, client_id: uuid.UUID) -> DisclosurePlanRow | None:
    result = await session.execute(select(DisclosurePlanRow).where(DisclosurePlanRow.client_id == client_id))
    return result.scalar_one_or_none()


def next_revisit(plan: DisclosurePlanIn) -> date | None:
    open_dates = [r.planned_on for r in plan.revisits if r.held_on is None]
    return min(open_dates) if open_dates else None


def to_disclosure(client_id: uuid.UUID, row: DisclosurePlanRow | None, cipher: FieldCipher) -> DisclosurePlanOut:
    if row is None:
        plan, meta = DisclosurePlanIn(), dict[str, Any](version=0)
    else:
        plan = DisclosurePlanIn.model_validate(Sealer(cipher, DISCLOSURE, row.id).open_json("content", row.content_enc))
        meta = dict[str, Any](version=row.version, updated_by=row.updated_by, updated_at=row.updated_at)
    met = sum(1 for c in plan.criteria().values() if c.discussed)
    return DisclosurePlanOut(
        **plan.model_dump(),
        client_id=client_id,
        **meta,
        criteria_met=met,
        score=1 + met,
        next_revisit_on=next_revisit(plan),
    )


def disclosure_news(previous: DisclosurePlanRow | None, plan: DisclosurePlanIn) -> list[tuple[Criterion, date]]:
    """The (criterion, date) discussions a save adds: criteria newly marked discussed, and
    revisits newly held (criterion ``d``, the topic revisited), in date order."""
    had = set(previous.criteria_discussed) if previous else set()
    held_before = set(previous.revisits_held) if previous else set()
    news: list[tuple[Criterion, date]] = []
    for code, criterion in plan.criteria().items():
        if criterion.discussed and code not in had and criterion.discussed_on is not None:
            news.append((code, criterion.discussed_on))
    for held in sorted({r.held_on for r in plan.revisits if r.held_on is not None}):
        if held.isoformat() not in held_before:
            news.append(("d", held))
    return sorted(news, key=lambda n: (n[1], n[0]))


async def save_disclosure(
    session: AsyncSession,
    cipher: FieldCipher,
    organisation_id: uuid.UUID,
    client_id: uuid.UUID,
    body: DisclosurePlanIn,
    author: uuid.UUID,
) -> DisclosurePlanOut:
    row = await disclosure_row(session, client_id)
    if row is None:
        row = DisclosurePlanRow(id=uuid.uuid4(), organisation_id=organisation_id, client_id=client_id, version=0)
        session.add(row)
    row.criteria_discussed = [code for code, c in body.criteria().items() if c.discussed]
    row.revisits_held = sorted({r.held_on.isoformat() for r in body.revisits if r.held_on is not None})
    row.content_enc = Sealer(cipher, DISCLOSURE, row.id).seal_json("content", body.model_dump(mode="json"))
    row.version = (row.version or 0) + 1
    row.updated_by, row.updated_at = author, utcnow()
    await session.flush()
    return to_disclosure(client_id, row, cipher)


# --------------------------------------------------------------------------- benefits counselling


def to_benefits(row: BenefitsCounsellingRow, cipher: FieldCipher) -> BenefitsCounsellingOut:
    return BenefitsCounsellingOut.model_validate(
        {
            "id": row.id,
            "client_id": row.client_id,
            "given_on": row.given_on,
            "topics": row.topics,
            "note": Sealer(cipher, BENEFITS, row.id).open("note", row.note_enc),
            "recorded_by": row.recorded_by,
            "recorded_at": row.recorded_at,
        }
    )


async def benefits(session: AsyncSession, cipher: FieldCipher, client_id: uuid.UUID) -> list[BenefitsCounsellingOut]:
    """The client's benefits counselling sessions, oldest first."""
    q = (
        select(BenefitsCounsellingRow)
        .where(BenefitsCounsellingRow.client_id == client_id)
        .order_by(BenefitsCounsellingRow.given_on, BenefitsCounsellingRow.recorded_at)
    )
    return [to_benefits(r, cipher) for r in (await session.execute(q)).scalars()]


def add_benefits(
    session: AsyncSession,
    cipher: FieldCipher,
    organisation_id: uuid.UUID,
    client_id: uuid.UUID,
    body: BenefitsCounsellingIn,
    author: uuid.UUID,
) -> BenefitsCounsellingRow:
    row_id = uuid.uuid4()
    row = BenefitsCounsellingRow(
        id=row_id,
        organisation_id=organisation_id,
        client_id=client_id,
        given_on=body.given_on,
        topics=list(body.topics),
        note_enc=Sealer(cipher, BENEFITS, row_id).seal("note", body.note),
        recorded_by=author,
        recorded_at=utcnow(),
    )
    session.add(row)
    return row


# --------------------------------------------------------------------------- assessments


def to_assessment(row: AssessmentRow, cipher: FieldCipher) -> AssessmentOut:
    return AssessmentOut.model_validate(
        {
            "id": row.id,
            "client_id": row.client_id,
            "kind": row.kind,
            "assessed_on": row.assessed_on,
            "work_ability": row.work_ability,
            "self_efficacy_items": row.self_efficacy_items,
            "self_efficacy": row.self_efficacy,
            "note": Sealer(cipher, ASSESSMENT, row.id).open("note", row.note_enc),
            "recorded_by": row.recorded_by,
            "recorded_at": row.recorded_at,
        }
    )


async def assessments(session: AsyncSession, cipher: FieldCipher, client_id: uuid.UUID) -> list[AssessmentOut]:
    """The client's self-assessments: start before end."""
    q = select(AssessmentRow).where(AssessmentRow.client_id == client_id)
    rows = sorted((await session.execute(q)).scalars(), key=lambda r: (r.kind != "start", r.assessed_on))
    return [to_assessment(r, cipher) for r in rows]


async def assessment_exists(session: AsyncSession, client_id: uuid.UUID, kind: str) -> bool:
    q = select(func.count()).select_from(AssessmentRow).where(AssessmentRow.client_id == client_id)
    return bool((await session.execute(q.where(AssessmentRow.kind == kind))).scalar_one())


def add_assessment(
    session: AsyncSession,
    cipher: FieldCipher,
    organisation_id: uuid.UUID,
    client_id: uuid.UUID,
    body: AssessmentIn,
    author: uuid.UUID,
) -> AssessmentRow:
    row_id = uuid.uuid4()
    row = AssessmentRow(
        id=row_id,
        organisation_id=organisation_id,
        client_id=client_id,
        kind=body.kind,
        assessed_on=body.assessed_on,
        work_ability=body.work_ability,
        self_efficacy_items=list(body.self_efficacy_items),
        self_efficacy=sum(body.self_efficacy_items),
        note_enc=Sealer(cipher, ASSESSMENT, row_id).seal("note", body.note),
        recorded_by=author,
        recorded_at=utcnow(),
    )
    session.add(row)
    return row


# --------------------------------------------------------------------------- feedback


def to_feedback(row: FeedbackRow, cipher: FieldCipher) -> FeedbackOut:
    return FeedbackOut.model_validate(
        {
            "id": row.id,
            "client_id": row.client_id,
            "survey": row.survey,
            "answered_on": row.answered_on,
            "answers": row.answers,
            "comment": Sealer(cipher, FEEDBACK, row.id).open("comment", row.comment_enc),
            "anonymous": row.anonymous,
            "recorded_by": row.recorded_by,
            "recorded_at": row.recorded_at,
        }
    )


async def feedback(session: AsyncSession, cipher: FieldCipher, client_id: uuid.UUID) -> list[FeedbackOut]:
    q = (
        select(FeedbackRow)
        .where(FeedbackRow.client_id == client_id)
        .order_by(FeedbackRow.answered_on, FeedbackRow.recorded_at)
    )
    return [to_feedback(r, cipher) for r in (await session.execute(q)).scalars()]


def add_feedback(
    session: AsyncSession,
    cipher: FieldCipher,
    organisation_id: uuid.UUID,
    client_id: uuid.UUID,
    body: FeedbackIn,
    author: uuid.UUID,
) -> FeedbackRow:
    row_id = uuid.uuid4()
    row = FeedbackRow(
        id=row_id,
        organisation_id=organisation_id,
        client_id=client_id,
        survey=FEEDBACK_SURVEY,
        answered_on=body.answered_on,
        answers={str(k): int(v) for k, v in body.answers.items()},
        comment_enc=Sealer(cipher, FEEDBACK, row_id).seal("comment", body.comment),
        anonymous=body.anonymous,
        recorded_by=author,
        recorded_at=utcnow(),
    )
    session.add(row)
    return row


# --------------------------------------------------------------------------- final report


async def report_row(session: AsyncSession, client_id: uuid.UUID, *, lock: bool = False) -> FinalReportRow | None:
    """The report's row; ``lock`` holds it until the transaction ends (PostgreSQL; SQLite's
    write transactions are serial anyway), so two approvals cannot both pass the check."""
    q = select(FinalReportRow).where(FinalReportRow.client_id == client_id)
    result = await session.execute(q.with_for_update() if lock else q)
    return result.scalar_one_or_none()


async def ensure_report_row(session: AsyncSession, organisation_id: uuid.UUID, client_id: uuid.UUID) -> None:
    """Create the report's row unless it exists, without failing when another request
    creates it at the same moment (two people saving the first draft at once)."""
    insert = await dialect_insert(session, FinalReportRow.__table__)
    await session.execute(
        insert.values(
            id=uuid.uuid4(),
            organisation_id=organisation_id,
            client_id=client_id,
            status="draft",
            version=0,
            created_at=utcnow(),
        ).on_conflict_do_nothing(index_elements=["organisation_id", "client_id"])
    )


async def report_versions(session: AsyncSession, client_id: uuid.UUID) -> list[FinalReportVersionRow]:
    q = (
        select(FinalReportVersionRow)
        .where(FinalReportVersionRow.client_id == client_id)
        .order_by(FinalReportVersionRow.version)
    )
    return list((await session.execute(q)).scalars())


def open_sections(row: FinalReportVersionRow, cipher: FieldCipher) -> ReportSections:
    return ReportSections.model_validate(Sealer(cipher, REPORT_VERSION, row.id).open_json("sections", row.sections_enc))


def version_meta(rows: list[FinalReportVersionRow]) -> list[ReportVersion]:
    return [ReportVersion(version=r.version, author_id=r.author_id, saved_at=r.saved_at) for r in rows]


async def save_report(
    session: AsyncSession,
    cipher: FieldCipher,
    organisation_id: uuid.UUID,
    client_id: uuid.UUID,
    sections: ReportSections,
    author: uuid.UUID,
) -> FinalReportRow:
    """Add the next version of the report's text (the caller checked it is not approved)."""
    row = await report_row(session, client_id)
    now = utcnow()
    if row is None:
        row = FinalReportRow(
            id=uuid.uuid4(), organisation_id=organisation_id, client_id=client_id, status="draft", version=0
        )
        row.created_at = now
        session.add(row)
    row.version = (row.version or 0) + 1
    version_id = uuid.uuid4()
    session.add(
        FinalReportVersionRow(
            id=version_id,
            organisation_id=organisation_id,
            client_id=client_id,
            version=row.version,
            sections_enc=Sealer(cipher, REPORT_VERSION, version_id).seal_json(
                "sections", sections.model_dump(mode="json")
            ),
            author_id=author,
            saved_at=now,
        )
    )
    await session.flush()
    return row


def to_comment(row: FinalReportCommentRow, cipher: FieldCipher) -> ClientCommentOut:
    return ClientCommentOut(
        id=row.id,
        commented_on=row.commented_on,
        comment=Sealer(cipher, REPORT_COMMENT, row.id).open("comment", row.comment_enc) or "",
        recorded_by=row.recorded_by,
        recorded_at=row.recorded_at,
    )


async def comments(session: AsyncSession, cipher: FieldCipher, client_id: uuid.UUID) -> list[ClientCommentOut]:
    q = (
        select(FinalReportCommentRow)
        .where(FinalReportCommentRow.client_id == client_id)
        .order_by(FinalReportCommentRow.commented_on, FinalReportCommentRow.recorded_at)
    )
    return [to_comment(r, cipher) for r in (await session.execute(q)).scalars()]


def add_comment(
    session: AsyncSession,
    cipher: FieldCipher,
    organisation_id: uuid.UUID,
    client_id: uuid.UUID,
    body: ClientCommentIn,
    author: uuid.UUID,
) -> FinalReportCommentRow:
    row_id = uuid.uuid4()
    row = FinalReportCommentRow(
        id=row_id,
        organisation_id=organisation_id,
        client_id=client_id,
        commented_on=body.commented_on,
        comment_enc=Sealer(cipher, REPORT_COMMENT, row_id).seal("comment", body.comment) or "",
        recorded_by=author,
        recorded_at=utcnow(),
    )
    session.add(row)
    return row


context = record_store.context

__all__ = [
    "CRITERIA",
    "ENCRYPTED",
    "Sealer",
    "context",
    "disclosure_news",
    "next_revisit",
]
