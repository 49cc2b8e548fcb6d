"""What the journey pages show, as pure functions: the moves legal now, the translated
reasons of a refused move, and the caseload dashboard's rows with sorting and filtering.

Which moves a page offers is decided by the workflow's own rules (``workflows.domain``):
each candidate move is validated against the journey's current state, so the buttons can
never disagree with what the workflow accepts (the workflow still has the last word: a
page shown before someone else's move may offer a move that is refused when sent).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared.contracts.journey import PHASE_ORDER, Outcome, Phase, RestReason, Role, Status
from shared.i18n import N_
from workflows.contracts import Actor, JourneyData, JourneyState, MilestoneRequest, MoveRequest
from workflows.domain import MoveRejected, validate_milestone, validate_move

# Reminders due within this many days count as "due" on the dashboard (overdue ones were raised).
DUE_SOON = timedelta(days=7)
MOVER_ROLES = frozenset({Role.COACH, Role.TEAM_LEAD})  # who the journey API lets move


# --------------------------------------------------------------------------- legal moves


@dataclass(frozen=True)
class CoachChoice:
    id: str
    name: str


@dataclass
class MoveOptions:
    """The moves a user may make now; empty lists and Nones mean "not offered"."""

    advance_to: Phase | None = None
    step_back_to: list[Phase] = field(default_factory=list)
    rest_reasons: list[RestReason] = field(default_factory=list)
    resume_to: Phase | None = None
    close_outcomes: list[Outcome] = field(default_factory=list)
    reopen_phases: list[Phase] = field(default_factory=list)
    reassign_to: list[CoachChoice] = field(default_factory=list)
    # JOB_SEARCH: record a job start and confirm the move to EMPLOYER_AGREEMENT with it.
    job_start_confirm: bool = False
    # A job start was recorded (e.g. by the employer service) without moving: ask to confirm.
    job_started_pending: datetime | None = None

    @property
    def any(self) -> bool:
        return bool(
            self.advance_to
            or self.step_back_to
            or self.rest_reasons
            or self.resume_to
            or self.close_outcomes
            or self.reopen_phases
            or self.reassign_to
            or self.job_start_confirm
        )


def journey_data(state: JourneyState) -> JourneyData:
    """The workflow's state as far as the move rules read it, rebuilt from the public view."""
    return JourneyData(
        organisation_id=state.organisation_id,
        region_id=state.region_id,
        client_id=state.client_id,
        coach_id=state.coach_id,
        phase=state.phase,
        status=state.status,
        since=state.since,
        episode=state.episode,
        episode_started_at=state.episode_started_at,
        active_since=state.since,
        rested_phase=state.rested_phase,
        rest_reason=state.rest_reason,
        review_date=state.review_date,
        outcome=state.outcome,
        milestones=state.milestones.model_copy(deep=True),
    )


def _legal(data: JourneyData, actor: Actor, now: datetime, **fields: Any) -> bool:
    try:
        validate_move(data, MoveRequest(actor=actor, **fields), now)
    except (MoveRejected, ValidationError):
        return False
    return True


def legal_moves(
    state: JourneyState,
    user_id: uuid.UUID,
    role: Role,
    coaches: Sequence[CoachChoice] = (),
    now: datetime | None = None,
) -> MoveOptions:
    """The moves ``role`` may make on ``state`` now, each checked by ``validate_move``."""
    options = MoveOptions()
    if role not in MOVER_ROLES:
        return options
    now = now or datetime.now(UTC)
    data = journey_data(state)
    actor = Actor(user_id=user_id, role=role)
    today = now.astimezone(UTC).date()

    if _legal(data, actor, now, action="advance"):
        i = PHASE_ORDER.index(state.phase)
        options.advance_to = PHASE_ORDER[i + 1]
    options.step_back_to = [p for p in Phase if _legal(data, actor, now, action="step_back", to_phase=p)]
    options.rest_reasons = [
        r
        for r in RestReason
        if _legal(data, actor, now, action="rest", reason=r, review_date=today + timedelta(days=1))
    ]
    if _legal(data, actor, now, action="resume"):
        options.resume_to = state.rested_phase
    options.close_outcomes = [o for o in Outcome if _legal(data, actor, now, action="close", outcome=o)]
    options.reopen_phases = [p for p in Phase if _legal(data, actor, now, action="reopen", to_phase=p)]
    options.reassign_to = [c for c in coaches if _legal(data, actor, now, action="reassign", coach_id=uuid.UUID(c.id))]
    try:
        validate_milestone(
            data, MilestoneRequest(kind="job_started", occurred_at=now, confirm_move=True, actor=actor), now
        )
        options.job_start_confirm = True
    except MoveRejected:
        pass
    m = state.milestones
    if state.phase is Phase.JOB_SEARCH and m.job_started_at is not None and options.advance_to is not None:
        options.job_started_pending = m.job_started_at
    return options


# --------------------------------------------------------------------------- refusals

# The workflow's (and the journey API's) refusal codes, in words for the coach.
REJECTIONS: dict[str, str] = {
    "not_active": N_("The journey is not active, so it cannot move now."),
    "already_last_phase": N_("The journey is already in its last phase."),
    "illegal_advance": N_("The journey cannot move to that phase from here."),
    "no_current_job": N_("Follow-along support needs a job: record the job start first."),
    "illegal_step_back": N_("The journey cannot step back to that phase from here."),
    "already_resting": N_("The journey is resting already."),
    "missing_reason": N_("Choose a reason for the resting."),
    "missing_review_date": N_("Give a review date for the resting."),
    "review_date_in_past": N_("The review date is in the past."),
    "not_resting": N_("The journey is not resting, so it cannot resume."),
    "resume_phase_mismatch": N_("A journey resumes to the phase where it rested."),
    "missing_outcome": N_("Choose the outcome of the journey."),
    "not_closed": N_("Only a closed journey can be reopened."),
    "illegal_reopen_phase": N_("A journey cannot be reopened in that phase."),
    "missing_coach": N_("Choose the new coach."),
    "same_coach": N_("The client already has this coach."),
    "closed_accepts_only_reopen": N_("The journey is closed: it can only be reopened."),
    "forbidden_role": N_("Your role cannot change a journey."),
    "unexpected_field": N_("The form had a field that does not belong to this move."),
    "job_already_started": N_("A job is already running: record its end first."),
    "illegal_confirm_move": N_("The journey cannot move with this milestone in its current phase."),
    "occurred_in_future": N_("The date cannot be in the future."),
}
REJECTED_OTHER = N_("The move could not be made. Reload the page and try again.")

# A 422's invalid fields, in words (the API's own messages are English and technical).
FIELD_MESSAGES: dict[str, str] = {
    "review_date": N_("Give the review date as a valid date."),
    "occurred_at": N_("Give the date as a valid date."),
    "reason": N_("Choose a reason from the list."),
    "outcome": N_("Choose an outcome from the list."),
    "to_phase": N_("Choose a phase from the list."),
    "coach_id": N_("Choose a coach of your organisation from the list."),
    "action": N_("Choose a move from the page."),
}
FIELD_OTHER = N_("Check this field.")


def rejection_msgid(code: str | None) -> str:
    return REJECTIONS.get(code or "", REJECTED_OTHER)


def field_errors(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{form field: msgid}`` from a problem's ``errors`` (``field`` may be ``body.x``)."""
    out: dict[str, str] = {}
    for error in errors:
        name = str(error.get("field", "")).rsplit(".", 1)[-1]
        if name:
            out.setdefault(name, FIELD_MESSAGES.get(name, FIELD_OTHER))
    return out


# --------------------------------------------------------------------------- move forms

MOVE_FIELDS: dict[str, tuple[str, ...]] = {
    "advance": ("to_phase",),
    "step_back": ("to_phase",),
    "rest": ("reason", "review_date"),
    "resume": (),
    "close": ("outcome",),
    "reopen": ("to_phase",),
    "reassign": ("coach_id",),
}


def move_body(form: Mapping[str, str]) -> dict[str, str] | None:
    """The journey API's move body from a submitted form: the action and its own fields,
    empty ones left out (the API then says what is missing). None for an unknown action."""
    action = form.get("action", "")
    if action not in MOVE_FIELDS:
        return None
    body = {"action": action}
    for name in MOVE_FIELDS[action]:
        value = (form.get(name) or "").strip()
        if value:
            body[name] = value
    return body


# --------------------------------------------------------------------------- dashboard

SORTS = ("name", "phase", "days", "contact", "reminders")
STATUS_FILTERS = ("OPEN", "ACTIVE", "RESTING", "CLOSED")  # OPEN: active and resting (default)


@dataclass
class DashRow:
    client_id: str
    name: str | None
    coach_id: str
    phase: str
    status: str
    colour: str
    rest_reason: str | None
    outcome: str | None
    since: str
    days: int | None
    last_contact: datetime | None = None
    contact_days: int | None = None
    overdue: list[str] = field(default_factory=list)  # reminder kinds raised and unresolved
    due: list[str] = field(default_factory=list)  # reminder kinds due within DUE_SOON
    next_due: datetime | None = None
    state_known: bool = False  # False when the workflow did not answer (row from the report)

    @property
    def reminder_weight(self) -> tuple[int, int, float]:
        nxt = self.next_due.timestamp() if self.next_due else float("inf")
        return (len(self.overdue), len(self.due), -nxt)


def apply_state(row: DashRow, state: JourneyState, now: datetime, days_since: Any) -> None:
    """Fill a row from the workflow's state: phase, status, last contact and reminders."""
    row.phase, row.status = str(state.phase), str(state.status)
    row.rest_reason = str(state.rest_reason) if state.rest_reason else None
    row.outcome = str(state.outcome) if state.outcome else None
    row.since = state.since.isoformat()
    row.days = days_since(state.since, now)
    row.last_contact = state.milestones.last_contact_at
    row.contact_days = days_since(row.last_contact, now) if row.last_contact else None
    row.overdue = [str(r.kind) for r in state.reminders if r.overdue]
    row.due = [str(r.kind) for r in state.reminders if not r.overdue and r.due_at <= now + DUE_SOON]
    pending = [r.due_at for r in state.reminders if not r.overdue]
    row.next_due = min(pending) if pending else None
    row.state_known = True


@dataclass(frozen=True)
class DashQuery:
    sort: str = "name"
    desc: bool = False
    phase: str = ""
    status: str = "OPEN"

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> DashQuery:
        """Query parameters to a query; unknown values fall back to the defaults."""
        sort = params.get("sort", "name")
        phase = params.get("phase", "")
        status = params.get("status", "OPEN")
        return cls(
            sort=sort if sort in SORTS else "name",
            desc=params.get("order") == "desc",
            phase=phase if phase in {p.value for p in Phase} else "",
            status=status if status in STATUS_FILTERS else "OPEN",
        )

    def keeps(self, row: DashRow) -> bool:
        if self.phase and row.phase != self.phase:
            return False
        if self.status == "OPEN":
            return row.status != Status.CLOSED.value
        return row.status == self.status

    def params(self, **change: Any) -> str:
        """This query as a query string, with ``change`` applied (for sort links)."""
        values = {
            "sort": self.sort,
            "order": "desc" if self.desc else "asc",
            "phase": self.phase,
            "status": self.status,
        }
        values.update({k: ("desc" if v else "asc") if k == "order" else v for k, v in change.items()})
        defaults = {"sort": "name", "order": "asc", "phase": "", "status": "OPEN"}
        kept = [(k, str(v)) for k, v in values.items() if str(v) != defaults[k]]
        return "?" + "&".join(f"{k}={v}" for k, v in kept) if kept else "?"

    def sort_link(self, column: str) -> str:
        """The link of a column header: sort by it, or flip the order if it is the sort."""
        return self.params(sort=column, order=(not self.desc) if self.sort == column else column == "reminders")

    def aria_sort(self, column: str) -> str | None:
        if self.sort != column:
            return None
        return "descending" if self.desc else "ascending"


_NEVER = datetime(1, 1, 1, tzinfo=UTC)


def sort_rows(rows: list[DashRow], query: DashQuery) -> list[DashRow]:
    """Sorted by the query's column; ties and unknown values go by name, unknowns last."""

    def by_name(r: DashRow) -> tuple[bool, str, str]:
        return (r.name is None, (r.name or "").casefold(), r.client_id)

    ordered = sorted(rows, key=by_name)
    if query.sort == "name":
        return list(reversed(ordered)) if query.desc else ordered
    known: list[DashRow]
    unknown: list[DashRow]
    if query.sort == "phase":
        known, unknown = ordered, []
        key: Any = lambda r: PHASE_ORDER.index(Phase(r.phase)) if r.phase in Phase.__members__ else 99  # noqa: E731
    elif query.sort == "days":
        known = [r for r in ordered if r.days is not None]
        unknown = [r for r in ordered if r.days is None]
        key = lambda r: r.days  # noqa: E731
    elif query.sort == "contact":
        # Ascending: the longest without contact first (never contacted is the longest).
        known = ordered
        unknown = []
        key = lambda r: r.last_contact or _NEVER  # noqa: E731
    else:  # reminders: ascending puts the most pressing first
        known, unknown = ordered, []
        key = lambda r: tuple(-x for x in r.reminder_weight)  # noqa: E731
    known = sorted(known, key=key, reverse=query.desc)
    return known + unknown


def today_utc(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(UTC).date()
