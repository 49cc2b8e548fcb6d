"""Plans, self-assessments, client feedback and the final report (loppuraportti).

Tables of the coaching database (on ``CoachingBase``) and the API models of
``services.coaching.plans`` and ``services.coaching.final_report``.

Free text (plan contents, notes, comments, the report's text) is stored AES-GCM
encrypted (``*_enc``), each value bound to its table, row and field
(``plan_store.context``). Codes, dates, scores and ids stay in clear so they can be
counted and reported.

Scales:
- work ability (työkykypistemäärä): the client's own estimate of their current work
  ability against their lifetime best, 0-10 (the first item of the Work Ability Index);
- sense of self-efficacy (pystyvyyden tunne): the General Self-Efficacy Scale
  (Schwarzer & Jerusalem 1995), ten statements answered 1-4 (1 = not at all true,
  4 = exactly true); the score is their sum, 10-40;
- client feedback: answers 1-5 (1 = not at all, 5 = very much) to the questions in
  ``FEEDBACK_QUESTIONS``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import JSON, Boolean, Date, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.coaching.models import CoachingBase
from shared.db import UTCDateTime, UUIDStr, utcnow
from shared.i18n import N_
from shared.tenancy import TenantScoped
from workflows.contracts import Criterion

# --------------------------------------------------------------------------- vocabulary

CRITERIA: tuple[Criterion, ...] = ("a", "b", "c", "d")
# The four disclosure criteria (työkyvyn rajoitteista kertominen), shared/domain/IPS.md.
CRITERION_LABELS: dict[str, str] = {
    "a": N_("Coaching does not require disclosing work limitations at the workplace."),
    "b": N_(
        "Before disclosure, the coach offers to discuss its pros and cons, how it ties to asking for "
        "adjustments, and the coach's role with the employer."
    ),
    "c": N_("Coach and client agree in detail what is told at the workplace, with example wordings."),
    "d": N_("The topic is revisited on several occasions (e.g. no job after two months, or problems at work)."),
}

BenefitTopic = Literal[
    "unemployment_benefit",
    "earnings_adjustment",
    "housing_allowance",
    "social_assistance",
    "sickness_allowance",
    "rehabilitation",
    "disability_pension",
    "wage_subsidy",
    "other",
]
BENEFIT_TOPICS: tuple[str, ...] = BenefitTopic.__args__  # type: ignore[attr-defined]
BENEFIT_TOPIC_LABELS: dict[str, str] = {
    "unemployment_benefit": N_("Unemployment benefit"),
    "earnings_adjustment": N_("How earnings affect benefits"),
    "housing_allowance": N_("Housing allowance"),
    "social_assistance": N_("Social assistance"),
    "sickness_allowance": N_("Sickness allowance"),
    "rehabilitation": N_("Rehabilitation benefits"),
    "disability_pension": N_("Disability pension or partial disability pension"),
    "wage_subsidy": N_("Pay subsidy"),
    "other": N_("Other benefit matter"),
}

AssessmentKind = Literal["start", "end"]
ASSESSMENT_KIND_LABELS: dict[str, str] = {"start": N_("At the start"), "end": N_("At the end")}
WORK_ABILITY_MIN, WORK_ABILITY_MAX = 0, 10
GSE_ITEMS, GSE_ITEM_MIN, GSE_ITEM_MAX = 10, 1, 4
SELF_EFFICACY_MIN, SELF_EFFICACY_MAX = GSE_ITEMS * GSE_ITEM_MIN, GSE_ITEMS * GSE_ITEM_MAX
GSE_ANSWER_LABELS: dict[int, str] = {
    1: N_("Not at all true"),
    2: N_("Hardly true"),
    3: N_("Moderately true"),
    4: N_("Exactly true"),
}

FEEDBACK_SURVEY = "client_feedback"
FeedbackQuestion = Literal[
    "goals_clearer",
    "strengths_recognised",
    "job_search_skills",
    "work_ability_support",
    "individual_support",
    "would_recommend",
]
FEEDBACK_QUESTIONS: tuple[str, ...] = FeedbackQuestion.__args__  # type: ignore[attr-defined]
# "How much did the coaching help with ..." (Kuinka arvioit työhönvalmennuksen edistäneen ...)
FEEDBACK_QUESTION_LABELS: dict[str, str] = {
    "goals_clearer": N_("My goals for work became clearer."),
    "strengths_recognised": N_("I recognise my strengths and skills better."),
    "job_search_skills": N_("My job-search skills improved."),
    "work_ability_support": N_("I know better what support my work ability needs."),
    "individual_support": N_("I got support that suited me."),
    "would_recommend": N_("I would recommend the coaching to others."),
}
FEEDBACK_ANSWER_LABELS: dict[int, str] = {
    1: N_("Not at all"),
    2: N_("A little"),
    3: N_("Somewhat"),
    4: N_("Much"),
    5: N_("Very much"),
}

ReportStatus = Literal["draft", "approved", "sent"]
REPORT_STATUS_LABELS: dict[str, str] = {
    "draft": N_("Draft"),
    "approved": N_("Approved"),
    "sent": N_("Sent to the referrer"),
}
REPORT_SECTIONS: tuple[str, ...] = ("summary", "actions", "strengths", "next_steps")
REPORT_SECTION_LABELS: dict[str, str] = {
    "summary": N_("Summary"),
    "actions": N_("Main actions"),
    "strengths": N_("Skills and strengths"),
    "next_steps": N_("Recommendations and next steps"),
}

MAX_NOTE = 5_000
MAX_REPORT_SECTION = 20_000

# Validation messages: English msgids; the API returns them, the pages translate them.
MESSAGES: dict[str, str] = {
    "date_future": N_("The date cannot be in the future."),
    "discussed_needs_date": N_("Give the date it was discussed."),
    "date_needs_discussed": N_("Tick 'discussed' too, or leave the date empty."),
    "duplicate": N_("Each option may be chosen once."),
    "sent_before_approval": N_("The report cannot be sent before it was approved."),
}


def _error(code: str) -> PydanticCustomError:
    return PydanticCustomError(code, MESSAGES[code])


def _blank_to_none(value: Any) -> Any:
    """Forms send empty strings for empty fields: store them as 'not given'."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _not_future(value: date | None) -> date | None:
    if value is not None and value > date.today():
        raise _error("date_future")
    return value


Note = Annotated[Annotated[str, Field(max_length=MAX_NOTE)] | None, BeforeValidator(_blank_to_none)]
PastDate = Annotated[date, BeforeValidator(_blank_to_none)]
OptionalDate = Annotated[date | None, BeforeValidator(_blank_to_none)]
Item = Annotated[str, Field(min_length=1, max_length=200)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Saved(BaseModel):
    """Who saved the current version, and when (None before the first save)."""

    client_id: uuid.UUID
    version: int = Field(description="0 until the first save, then one more on every save")
    updated_by: uuid.UUID | None = None
    updated_at: datetime | None = None


# --------------------------------------------------------------------------- tables


class JobSearchPlanRow(TenantScoped, CoachingBase):
    """A client's job search plan (työnhakusuunnitelma): one row, replaced on each save."""

    __tablename__ = "job_search_plans"
    __table_args__ = (UniqueConstraint("organisation_id", "client_id", name="uq_job_search_plan_client"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    # Targets, employers, steps and notes, as one encrypted JSON document.
    content_enc: Mapped[str] = mapped_column(Text)
    hours_per_week: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DisclosurePlanRow(TenantScoped, CoachingBase):
    """A client's disclosure plan: the criteria a-d as a checklist and the revisits."""

    __tablename__ = "disclosure_plans"
    __table_args__ = (UniqueConstraint("organisation_id", "client_id", name="uq_disclosure_plan_client"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    # The criteria discussed (codes) and the dates of held revisits, in clear: they decide
    # which milestones a save reports. Everything else is in the encrypted document.
    criteria_discussed: Mapped[list[str]] = mapped_column(JSON)
    revisits_held: Mapped[list[str]] = mapped_column(JSON)
    content_enc: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BenefitsCounsellingRow(TenantScoped, CoachingBase):
    """One benefits counselling (etuusneuvonta) session."""

    __tablename__ = "benefits_counselling"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    given_on: Mapped[date] = mapped_column(Date)
    topics: Mapped[list[str]] = mapped_column(JSON)
    note_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssessmentRow(TenantScoped, CoachingBase):
    """A self-assessment at the start or the end of coaching: one of each per client."""

    __tablename__ = "self_assessments"
    __table_args__ = (UniqueConstraint("organisation_id", "client_id", "kind", name="uq_self_assessment_kind"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    kind: Mapped[str] = mapped_column(String(10))
    assessed_on: Mapped[date] = mapped_column(Date)
    work_ability: Mapped[int] = mapped_column(Integer)
    self_efficacy_items: Mapped[list[int]] = mapped_column(JSON)
    self_efficacy: Mapped[int] = mapped_column(Integer)
    note_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    recorded_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedbackRow(TenantScoped, CoachingBase):
    """One answered client feedback survey (asiakaspalaute)."""

    __tablename__ = "client_feedback"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    survey: Mapped[str] = mapped_column(String(60))
    answered_on: Mapped[date] = mapped_column(Date)
    answers: Mapped[dict[str, int]] = mapped_column(JSON)
    comment_enc: Mapped[str | None] = mapped_column(Text, nullable=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FinalReportRow(TenantScoped, CoachingBase):
    """A client's final report: where it stands. Its text is in ``FinalReportVersionRow``."""

    __tablename__ = "final_reports"
    __table_args__ = (UniqueConstraint("organisation_id", "client_id", name="uq_final_report_client"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)
    sent_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    sent_recorded_by: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)
    sent_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FinalReportVersionRow(TenantScoped, CoachingBase):
    """One saved text of a final report; rows are never updated."""

    __tablename__ = "final_report_versions"
    __table_args__ = (UniqueConstraint("organisation_id", "client_id", "version", name="uq_final_report_version"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    version: Mapped[int] = mapped_column(Integer)
    sections_enc: Mapped[str] = mapped_column(Text)
    author_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FinalReportCommentRow(TenantScoped, CoachingBase):
    """A comment the client gave on their final report."""

    __tablename__ = "final_report_comments"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    commented_on: Mapped[date] = mapped_column(Date)
    comment_enc: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --------------------------------------------------------------------------- job search plan


class JobSearchStep(_In):
    text: Item
    due_on: OptionalDate = None
    done: bool = False


class JobSearchPlanIn(_In):
    """The job search plan as a whole: a save replaces every field."""

    target_jobs: list[Item] = Field(default_factory=list, max_length=20, description="Jobs or fields aimed at")
    employers: list[Item] = Field(default_factory=list, max_length=50, description="Employers to contact")
    hours_per_week: Annotated[Annotated[int, Field(ge=1, le=60)] | None, BeforeValidator(_blank_to_none)] = Field(
        default=None, description="Working hours a week the client wants"
    )
    steps: list[JobSearchStep] = Field(default_factory=list, max_length=50)
    notes: Note = None


class JobSearchPlanOut(JobSearchPlanIn, _Saved):
    pass


# --------------------------------------------------------------------------- disclosure plan


class CriterionIn(_In):
    discussed: bool = False
    discussed_on: OptionalDate = None
    note: Note = None

    _future = field_validator("discussed_on")(_not_future)

    @model_validator(mode="after")
    def _date_with_tick(self) -> CriterionIn:
        if self.discussed and self.discussed_on is None:
            raise _error("discussed_needs_date")
        if not self.discussed and self.discussed_on is not None:
            raise _error("date_needs_discussed")
        return self


class RevisitIn(_In):
    """A planned return to the topic; ``held_on`` once it was discussed again."""

    planned_on: PastDate = Field(description="When the revisit is planned (may be in the future)")
    held_on: OptionalDate = None
    note: Note = None

    _future = field_validator("held_on")(_not_future)


class DisclosurePlanIn(_In):
    """The disclosure checklist (criteria a-d) and its revisits, as a whole.

    A criterion newly marked discussed reports ``disclosure_discussed`` with its code to
    the journey; a revisit newly marked held reports it with criterion ``d`` (the topic
    revisited), which also resolves the journey's disclosure-revisit reminder."""

    a: CriterionIn = Field(default_factory=CriterionIn)
    b: CriterionIn = Field(default_factory=CriterionIn)
    c: CriterionIn = Field(default_factory=CriterionIn)
    d: CriterionIn = Field(default_factory=CriterionIn)
    revisits: list[RevisitIn] = Field(default_factory=list, max_length=50)

    def criteria(self) -> dict[Criterion, CriterionIn]:
        return {"a": self.a, "b": self.b, "c": self.c, "d": self.d}


class DisclosurePlanOut(DisclosurePlanIn, _Saved):
    criteria_met: int = Field(description="How many of a-d are discussed")
    score: int = Field(description="The fidelity item's score: 1 + criteria met")
    next_revisit_on: date | None = Field(description="The earliest planned revisit not yet held")


# --------------------------------------------------------------------------- benefits counselling


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise _error("duplicate")
    return values


class BenefitsCounsellingIn(_In):
    given_on: PastDate
    topics: list[BenefitTopic] = Field(min_length=1, max_length=len(BENEFIT_TOPICS))
    note: Note = None

    _future = field_validator("given_on")(_not_future)
    _topics = field_validator("topics")(_unique)


class BenefitsCounsellingOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    given_on: date
    topics: list[BenefitTopic]
    note: str | None
    recorded_by: uuid.UUID
    recorded_at: datetime


# --------------------------------------------------------------------------- assessments, feedback


class AssessmentIn(_In):
    """A self-assessment. One ``start`` and one ``end`` per client."""

    kind: AssessmentKind
    assessed_on: PastDate
    work_ability: int = Field(ge=WORK_ABILITY_MIN, le=WORK_ABILITY_MAX, description="Work-ability score 0-10")
    self_efficacy_items: list[Annotated[int, Field(ge=GSE_ITEM_MIN, le=GSE_ITEM_MAX)]] = Field(
        min_length=GSE_ITEMS,
        max_length=GSE_ITEMS,
        description="The General Self-Efficacy Scale: ten answers 1-4, in the scale's order",
    )
    note: Note = None

    _future = field_validator("assessed_on")(_not_future)


class AssessmentOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    kind: AssessmentKind
    assessed_on: date
    work_ability: int
    self_efficacy_items: list[int]
    self_efficacy: int = Field(description="Sum of the ten answers, 10-40")
    note: str | None
    recorded_by: uuid.UUID
    recorded_at: datetime


class FeedbackIn(_In):
    """The end-of-coaching feedback survey. ``anonymous``: the published event (and so
    reporting) carries no client id."""

    answered_on: PastDate
    answers: dict[FeedbackQuestion, Annotated[int, Field(ge=1, le=5)]] = Field(min_length=1)
    comment: Note = None
    anonymous: bool = False

    _future = field_validator("answered_on")(_not_future)


class FeedbackOut(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    survey: str
    answered_on: date
    answers: dict[str, int]
    comment: str | None
    anonymous: bool
    recorded_by: uuid.UUID
    recorded_at: datetime


# --------------------------------------------------------------------------- final report

Section = Annotated[Annotated[str, Field(max_length=MAX_REPORT_SECTION)] | None, BeforeValidator(_blank_to_none)]


class ReportSections(_In):
    """The report's text, section by section."""

    summary: Section = None
    actions: Section = None
    strengths: Section = None
    next_steps: Section = None


class ReportVersion(BaseModel):
    version: int
    author_id: uuid.UUID
    saved_at: datetime


class ClientCommentIn(_In):
    commented_on: PastDate
    comment: Annotated[str, Field(min_length=1, max_length=MAX_NOTE)]

    _future = field_validator("commented_on")(_not_future)


class ClientCommentOut(BaseModel):
    id: uuid.UUID
    commented_on: date
    comment: str
    recorded_by: uuid.UUID
    recorded_at: datetime


class SentToReferrerIn(_In):
    sent_on: PastDate

    _future = field_validator("sent_on")(_not_future)


class ScorePair(BaseModel):
    start: int | None = None
    end: int | None = None


class ReportFacts(BaseModel):
    """What the draft was assembled from (codes, counts, dates; no free text)."""

    phase: str
    status: str
    outcome: str | None
    rest_reason: str | None
    started_at: datetime = Field(description="When the current episode of coaching began")
    moves: int
    first_employer_contact_at: datetime | None
    jobs_started: int
    meetings: int
    meetings_outside_office: int
    team_roles: list[str]
    team_meetings: int
    benefits_counselling: list[date]
    disclosure_criteria: list[str]
    work_ability: ScorePair
    self_efficacy: ScorePair
    records_included: bool = Field(description="Whether meetings, profile and team were read")


class FinalReportOut(BaseModel):
    client_id: uuid.UUID
    status: ReportStatus
    saved: bool = Field(description="False while the text is the generated draft, never saved")
    version: int
    sections: ReportSections = Field(description="The saved text, or the generated draft before the first save")
    draft: ReportSections = Field(description="The draft generated from the records now")
    versions: list[ReportVersion]
    comments: list[ClientCommentOut]
    approved_at: datetime | None
    approved_by: uuid.UUID | None
    sent_on: date | None
    sent_recorded_by: uuid.UUID | None
    sent_recorded_at: datetime | None
    facts: ReportFacts


__all__ = [
    "BENEFIT_TOPICS",
    "BENEFIT_TOPIC_LABELS",
    "CRITERIA",
    "CRITERION_LABELS",
    "FEEDBACK_QUESTIONS",
    "AssessmentIn",
    "AssessmentOut",
    "AssessmentRow",
    "BenefitsCounsellingIn",
    "BenefitsCounsellingOut",
    "BenefitsCounsellingRow",
    "ClientCommentIn",
    "ClientCommentOut",
    "CoachingBase",
    "DisclosurePlanIn",
    "DisclosurePlanOut",
    "DisclosurePlanRow",
    "FeedbackIn",
    "FeedbackOut",
    "FeedbackRow",
    "FinalReportCommentRow",
    "FinalReportOut",
    "FinalReportRow",
    "FinalReportVersionRow",
    "JobSearchPlanIn",
    "JobSearchPlanOut",
    "JobSearchPlanRow",
    "ReportFacts",
    "ReportSections",
    "SentToReferrerIn",
]
