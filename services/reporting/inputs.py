"""Input contracts reporting proposes for events that do not exist yet.

Coaching records start and end self-assessments and client feedback, but publishes no
event for them so far. These models are what reporting's projection reads when it does;
the coaching service should publish events with these fields (ids, codes and numbers
only, no free text), and they belong in ``shared/contracts/events.py`` once adopted,
with a stream for their subjects (e.g. ``POLKU_COACHING``: ``polku.*.assessment.>``,
``polku.*.feedback.>``). Reporting subscribes to every stream in
``shared.events.streams.STREAMS``, so a new stream needs no change here.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Instrument = Literal["work_ability", "self_efficacy"]
# Question codes of a feedback survey, e.g. "goals_clearer", "job_search_skills".
QuestionCode = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")]


class ProposedEvent(BaseModel):
    """The envelope of ``shared.contracts.events.Event``, repeated rather than inherited so
    the proposals stay out of the AsyncAPI document until they are adopted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    organisation_id: uuid.UUID
    region_id: str
    traceparent: str | None = None

    def subject(self) -> str:
        return f"polku.{self.organisation_id}.{self.type}"


class AssessmentRecorded(ProposedEvent):
    """A client's self-assessment at the start or the end of coaching: work ability
    (työkykyarvio, e.g. 0-10) or sense of self-efficacy (pystyvyyden tunne, e.g. 10-40)."""

    type: Literal["assessment.recorded"] = "assessment.recorded"
    client_id: uuid.UUID
    coach_id: uuid.UUID
    instrument: Instrument
    timing: Literal["start", "end"]
    score: float
    scale_min: float
    scale_max: float
    assessed_on: date

    @model_validator(mode="after")
    def _within_scale(self) -> AssessmentRecorded:
        if not self.scale_min < self.scale_max or not self.scale_min <= self.score <= self.scale_max:
            raise ValueError("score must lie on its scale")
        return self


class FeedbackRecorded(ProposedEvent):
    """One answered client feedback survey: answers 1-5 by question code. Anonymous
    answers carry no client id."""

    type: Literal["feedback.recorded"] = "feedback.recorded"
    response_id: uuid.UUID
    survey: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,59}$")] = "client_feedback"
    client_id: uuid.UUID | None = None
    answered_on: date
    answers: dict[QuestionCode, Annotated[int, Field(ge=1, le=5)]]
