"""The journey's rules, as pure functions over ``JourneyData``.

No Temporal here: the workflow calls these from its validators, handlers and main loop,
and unit tests drive them directly. ``validate_*`` never change anything; ``apply_*``
validate again, change the state in place and return the timeline entries they added.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID

from shared.contracts.events import (
    AnyJourneyEvent,
    JourneyMoved,
    JourneyStarted,
    MilestoneRecorded,
    ReminderDue,
)
from shared.contracts.journey import (
    PHASE_ORDER,
    Phase,
    Role,
    Status,
    journey_workflow_id,
)
from workflows.contracts import (
    Actor,
    JourneyData,
    JourneyState,
    JourneyTimers,
    MilestoneRequest,
    Milestones,
    MoveRequest,
    Reminder,
    ReminderKind,
    TimelineEntry,
)

# Roles that may read a journey but never change it.
READ_ONLY_ROLES: frozenset[Role] = frozenset({Role.AUDITOR, Role.REGION_ANALYST})

# Where a step back may go: a job fell through or ended -> search again; search -> profile again.
STEP_BACK: dict[Phase, Phase] = {
    Phase.EMPLOYER_AGREEMENT: Phase.JOB_SEARCH,
    Phase.FOLLOW_ALONG: Phase.JOB_SEARCH,
    Phase.JOB_SEARCH: Phase.PROFILING,
}
# A reopened journey starts over; the job phases need a job recorded in the new episode first.
REOPEN_PHASES: frozenset[Phase] = frozenset({Phase.INTAKE, Phase.PROFILING, Phase.JOB_SEARCH})
SEARCH_PHASES: frozenset[Phase] = frozenset({Phase.PROFILING, Phase.JOB_SEARCH})
PRE_JOB_PHASES: frozenset[Phase] = frozenset({Phase.INTAKE, Phase.PROFILING, Phase.JOB_SEARCH})
# Clock skew tolerated between a service's clock and the workflow's for milestone times.
FUTURE_TOLERANCE = timedelta(minutes=5)


class MoveRejected(Exception):
    """An illegal move or milestone. ``code`` is machine-readable (the UI translates it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _reject(code: str, message: str) -> MoveRejected:
    return MoveRejected(code, message)


def _next_phase(phase: Phase) -> Phase | None:
    i = PHASE_ORDER.index(phase)
    return PHASE_ORDER[i + 1] if i + 1 < len(PHASE_ORDER) else None


# ---------------------------------------------------------------------------------------
# Start


def new_journey(
    *,
    organisation_id: UUID,
    region_id: str,
    client_id: UUID,
    coach_id: UUID,
    actor: Actor,
    now: datetime,
) -> JourneyData:
    state = JourneyData(
        organisation_id=organisation_id,
        region_id=region_id,
        client_id=client_id,
        coach_id=coach_id,
        phase=Phase.INTAKE,
        status=Status.ACTIVE,
        since=now,
        episode=1,
        episode_started_at=now,
        active_since=now,
    )
    _append(
        state,
        TimelineEntry(
            seq=0,
            at=now,
            kind="started",
            episode=1,
            actor=actor,
            to_phase=Phase.INTAKE,
            to_status=Status.ACTIVE,
            to_coach_id=coach_id,
        ),
    )
    return state


def _append(state: JourneyData, entry: TimelineEntry) -> TimelineEntry:
    entry.seq = len(state.timeline)
    state.timeline.append(entry)
    return entry


# ---------------------------------------------------------------------------------------
# Moves


def validate_move(state: JourneyData, req: MoveRequest, now: datetime | None = None) -> None:
    """Raise MoveRejected if ``req`` is not legal now. Reads only.

    ``now`` (the workflow's clock) lets a rest's review date be checked against today.
    """
    if req.actor.role in READ_ONLY_ROLES:
        raise _reject("forbidden_role", f"role {req.actor.role} cannot change a journey")
    _check_fields(req)
    a = req.action
    if state.status is Status.CLOSED and a != "reopen":
        raise _reject("closed_accepts_only_reopen", "a closed journey can only be reopened")

    if a == "advance":
        _require_active(state)
        nxt = _next_phase(state.phase)
        if nxt is None:
            raise _reject("already_last_phase", f"{state.phase} is the last phase")
        if req.to_phase is not None and req.to_phase != nxt:
            raise _reject("illegal_advance", f"advance goes from {state.phase} to {nxt} only")
        if nxt is Phase.FOLLOW_ALONG and state.milestones.job_started_at is None:
            raise _reject("no_current_job", "follow-along needs a job: record job_started first")
    elif a == "step_back":
        _require_active(state)
        target = STEP_BACK.get(state.phase)
        if target is None or (req.to_phase is not None and req.to_phase != target):
            raise _reject(
                "illegal_step_back",
                f"no step back from {state.phase}" + (f" to {req.to_phase}" if req.to_phase is not None else ""),
            )
    elif a == "rest":
        if state.status is Status.RESTING:
            raise _reject("already_resting", "the journey is resting already")
        _require_active(state)
        if req.reason is None:
            raise _reject("missing_reason", "resting needs a reason code")
        if req.review_date is None:
            raise _reject("missing_review_date", "resting needs a review date")
        if now is not None and req.review_date < now.astimezone(UTC).date():
            raise _reject("review_date_in_past", "the review date is in the past")
    elif a == "resume":
        if state.status is not Status.RESTING:
            raise _reject("not_resting", "only a resting journey can resume")
        if req.to_phase is not None and req.to_phase != state.rested_phase:
            raise _reject("resume_phase_mismatch", f"a journey resumes to {state.rested_phase}, where it rested")
    elif a == "close":
        if req.outcome is None:
            raise _reject("missing_outcome", "closing needs an outcome code")
    elif a == "reopen":
        if state.status is not Status.CLOSED:
            raise _reject("not_closed", "only a closed journey can be reopened")
        if req.to_phase is not None and req.to_phase not in REOPEN_PHASES:
            raise _reject("illegal_reopen_phase", f"a journey cannot reopen in {req.to_phase}")
    elif a == "reassign":
        if req.coach_id is None:
            raise _reject("missing_coach", "reassigning needs the new coach's id")
        if req.coach_id == state.coach_id:
            raise _reject("same_coach", "the journey has this coach already")


# Which request fields each action takes; a stray field is an error, not silently dropped,
# so a caller's mistake (e.g. an outcome on a rest) shows at once.
_ACTION_FIELDS: dict[str, frozenset[str]] = {
    "advance": frozenset({"to_phase"}),
    "step_back": frozenset({"to_phase"}),
    "rest": frozenset({"reason", "review_date"}),
    "resume": frozenset({"to_phase"}),
    "close": frozenset({"outcome"}),
    "reopen": frozenset({"to_phase"}),
    "reassign": frozenset({"coach_id"}),
}
_OPTIONAL_FIELDS = ("to_phase", "reason", "review_date", "outcome", "coach_id")


def _check_fields(req: MoveRequest) -> None:
    allowed = _ACTION_FIELDS[req.action]
    for name in _OPTIONAL_FIELDS:
        if name not in allowed and getattr(req, name) is not None:
            raise _reject("unexpected_field", f"{name} does not apply to {req.action}")


def _require_active(state: JourneyData) -> None:
    if state.status is not Status.ACTIVE:
        raise _reject("not_active", f"the journey is {state.status}, not ACTIVE")


def apply_move(state: JourneyData, req: MoveRequest, now: datetime) -> list[TimelineEntry]:
    """Validate and apply ``req``; return the timeline entries added (one per move)."""
    validate_move(state, req, now)
    entry = TimelineEntry(
        seq=0,
        at=now,
        kind="move",
        episode=state.episode,
        actor=req.actor,
        action=req.action,
        from_phase=state.phase,
        from_status=state.status,
        reason_ref=req.reason_ref,
    )
    a = req.action
    if a == "advance":
        nxt = _next_phase(state.phase)
        assert nxt is not None
        if state.phase is Phase.INTAKE and state.search_started_at is None:
            state.search_started_at = now
        _set_phase(state, nxt, now)
    elif a == "step_back":
        target = STEP_BACK[state.phase]
        if state.phase in (Phase.EMPLOYER_AGREEMENT, Phase.FOLLOW_ALONG):
            # The job fell through or ended: searching starts over, follow-along stops.
            state.milestones.job_started_at = None
            state.search_started_at = now
        _set_phase(state, target, now)
    elif a == "rest":
        state.status = Status.RESTING
        state.rested_phase = state.phase
        state.rest_reason = req.reason
        state.review_date = req.review_date
        state.since = now
        entry.rest_reason = req.reason
        entry.review_date = req.review_date
    elif a == "resume":
        assert state.rested_phase is not None
        state.status = Status.ACTIVE
        state.phase = state.rested_phase
        state.rested_phase = None
        state.rest_reason = None
        state.review_date = None
        state.since = now
        state.active_since = now
    elif a == "close":
        state.status = Status.CLOSED
        state.outcome = req.outcome
        state.rested_phase = None
        state.rest_reason = None
        state.review_date = None
        state.since = now
        entry.outcome = req.outcome
    elif a == "reopen":
        phase = req.to_phase or Phase.INTAKE
        state.episode += 1
        state.status = Status.ACTIVE
        state.phase = phase
        state.outcome = None
        state.since = now
        state.episode_started_at = now
        state.active_since = now
        state.search_started_at = now if phase in SEARCH_PHASES else None
        state.milestones = Milestones()
        entry.episode = state.episode
    elif a == "reassign":
        assert req.coach_id is not None
        entry.from_coach_id = state.coach_id
        entry.to_coach_id = req.coach_id
        state.coach_id = req.coach_id
    entry.to_phase = state.phase
    entry.to_status = state.status
    return [_append(state, entry)]


def _set_phase(state: JourneyData, phase: Phase, now: datetime) -> None:
    state.phase = phase
    state.since = now


# ---------------------------------------------------------------------------------------
# Milestones


def validate_milestone(state: JourneyData, req: MilestoneRequest, now: datetime | None = None) -> None:
    if req.actor.role in READ_ONLY_ROLES:
        raise _reject("forbidden_role", f"role {req.actor.role} cannot change a journey")
    if state.status is Status.CLOSED:
        raise _reject("closed_accepts_only_reopen", "a closed journey can only be reopened")
    k = req.kind
    if k == "disclosure_discussed":
        if req.criterion is None:
            raise _reject("missing_criterion", "disclosure_discussed needs a criterion a-d")
    elif req.criterion is not None:
        raise _reject("unexpected_field", f"criterion does not apply to {k}")
    if k == "contact_made":
        if req.place is None:
            raise _reject("missing_place", "contact_made needs a place code")
    elif req.place is not None or req.contact_mode is not None:
        raise _reject("unexpected_field", f"place and contact_mode do not apply to {k}")
    if now is not None and req.occurred_at > now + FUTURE_TOLERANCE:
        raise _reject("occurred_in_future", "a milestone cannot be recorded before it happens")
    m = state.milestones
    if k == "first_employer_contact" and m.first_employer_contact_at is not None:
        raise _reject("already_recorded", "the first employer contact of this episode is recorded")
    if k == "job_started" and m.job_started_at is not None:
        raise _reject("job_already_started", "a job is running: record job_ended first")
    if k == "job_ended":
        if m.job_started_at is None:
            raise _reject("no_current_job", "there is no running job to end")
        if req.occurred_at < m.job_started_at:
            raise _reject("ends_before_start", "a job cannot end before it started")
    if req.confirm_move:
        _require_active(state)
        legal = (k == "job_started" and state.phase is Phase.JOB_SEARCH) or (
            k == "job_ended" and state.phase in (Phase.EMPLOYER_AGREEMENT, Phase.FOLLOW_ALONG)
        )
        if not legal:
            raise _reject("illegal_confirm_move", f"{k} in {state.phase} moves no phase")


def apply_milestone(state: JourneyData, req: MilestoneRequest, now: datetime) -> list[TimelineEntry]:
    """Validate and record ``req``; with ``confirm_move``, also the move it confirms."""
    validate_milestone(state, req, now)
    m = state.milestones
    at = req.occurred_at
    k = req.kind
    if k == "first_employer_contact":
        m.first_employer_contact_at = at
    elif k == "job_started":
        m.job_started_at = at
        m.jobs_started += 1
    elif k == "job_ended":
        m.job_started_at = None
        m.job_ended_at = at
        state.search_started_at = now
    elif k == "benefits_counselling_given":
        # The first one counts for fidelity (counselling before the job).
        if m.benefits_counselling_at is None:
            m.benefits_counselling_at = at
    elif k == "disclosure_discussed":
        assert req.criterion is not None
        if req.criterion not in m.disclosure_criteria:
            m.disclosure_criteria = sorted([*m.disclosure_criteria, req.criterion])
        m.disclosure_discussed_at = _latest(m.disclosure_discussed_at, at)
    elif k == "contact_made":
        m.contacts += 1
        if req.place != "office":
            m.contacts_outside_office += 1
        if req.contact_mode == "outreach":
            m.outreach_contacts += 1
        m.last_contact_at = _latest(m.last_contact_at, at)
    entries = [
        _append(
            state,
            TimelineEntry(
                seq=0,
                at=now,
                kind="milestone",
                episode=state.episode,
                actor=req.actor,
                milestone=k,
                criterion=req.criterion,
                place=req.place,
                contact_mode=(req.contact_mode or "meeting") if k == "contact_made" else None,
                occurred_at=at,
                # The phase and status the milestone was recorded in.
                from_phase=state.phase,
                from_status=state.status,
                reason_ref=req.reason_ref,
            ),
        )
    ]
    if req.confirm_move:
        entry = TimelineEntry(
            seq=0,
            at=now,
            kind="move",
            episode=state.episode,
            actor=req.actor,
            action="advance" if k == "job_started" else "step_back",
            from_phase=state.phase,
            from_status=state.status,
            reason_ref=req.reason_ref,
        )
        _set_phase(state, Phase.EMPLOYER_AGREEMENT if k == "job_started" else Phase.JOB_SEARCH, now)
        entry.to_phase = state.phase
        entry.to_status = state.status
        entries.append(_append(state, entry))
    return entries


def _latest(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


# ---------------------------------------------------------------------------------------
# Reminders


def plan_reminders(state: JourneyData, timers: JourneyTimers, now: datetime) -> dict[ReminderKind, datetime]:
    """The reminders the journey should have now, kind -> due time. Never closes anything.

    Resting keeps only the review reminder; a closed journey has none. ``now`` is accepted
    for symmetry with the workflow's loop (the plan depends on recorded times only).
    """
    del now
    plan: dict[ReminderKind, datetime] = {}
    if state.status is Status.CLOSED:
        return plan
    if state.status is Status.RESTING:
        if state.review_date is not None:
            plan["rest_review"] = review_due_at(state.review_date, timers)
        return plan

    m = state.milestones
    s = timedelta(seconds=1)
    if state.phase in PRE_JOB_PHASES and m.first_employer_contact_at is None and m.job_started_at is None:
        plan["employer_contact_due"] = state.episode_started_at + timers.employer_contact_due_s * s

    if state.phase in SEARCH_PHASES and state.search_started_at is not None and m.job_started_at is None:
        due = state.search_started_at + timers.disclosure_revisit_s * s
        # Resolved once disclosure is discussed again at or after the due time.
        if m.disclosure_discussed_at is None or m.disclosure_discussed_at < due:
            plan["disclosure_revisit"] = due

    if m.job_started_at is not None:
        start = m.job_started_at
        last = m.last_contact_at if m.last_contact_at is not None and m.last_contact_at >= start else None
        if last is None:
            plan["follow_along_contact"] = start + timers.follow_along_first_s * s
        elif last < start + timers.follow_along_first_month_s * s:
            plan["follow_along_contact"] = last + timers.follow_along_weekly_s * s
        else:
            plan["follow_along_contact"] = last + timers.follow_along_monthly_s * s

    baseline = state.active_since
    if m.last_contact_at is not None and m.last_contact_at > baseline:
        baseline = m.last_contact_at
    plan["silence_outreach"] = baseline + timers.silence_outreach_s * s
    return plan


def review_due_at(review_date: date, timers: JourneyTimers) -> datetime:
    return datetime.combine(review_date, time(0), UTC) + timedelta(seconds=timers.rest_review_at_s)


def replan(state: JourneyData, timers: JourneyTimers, now: datetime) -> None:
    """Recompute the planned reminders and forget raised ones that are no longer planned."""
    state.reminders = plan_reminders(state, timers, now)
    state.fired = {k: v for k, v in state.fired.items() if state.reminders.get(k) == v}


def due_reminders(state: JourneyData, now: datetime) -> list[tuple[ReminderKind, datetime]]:
    """Planned reminders whose time has come and that were not raised yet, oldest first."""
    due = [(k, d) for k, d in state.reminders.items() if d <= now and state.fired.get(k) != d]
    return sorted(due, key=lambda kd: (kd[1], kd[0]))


def next_due(state: JourneyData) -> datetime | None:
    """The earliest planned reminder not raised yet (what the workflow's timer waits for)."""
    pending = [d for k, d in state.reminders.items() if state.fired.get(k) != d]
    return min(pending) if pending else None


def raise_reminder(state: JourneyData, kind: ReminderKind, due_at: datetime, now: datetime) -> TimelineEntry:
    state.fired[kind] = due_at
    return _append(
        state,
        TimelineEntry(
            seq=0,
            at=now,
            kind="reminder",
            episode=state.episode,
            reminder=kind,
            due_at=due_at,
            from_phase=state.phase,
            from_status=state.status,
        ),
    )


# ---------------------------------------------------------------------------------------
# Views and events


def view(state: JourneyData, pending_events: int = 0) -> JourneyState:
    return JourneyState(
        organisation_id=state.organisation_id,
        region_id=state.region_id,
        client_id=state.client_id,
        coach_id=state.coach_id,
        phase=state.phase,
        status=state.status,
        since=state.since,
        episode=state.episode,
        episode_started_at=state.episode_started_at,
        rested_phase=state.rested_phase,
        rest_reason=state.rest_reason,
        review_date=state.review_date,
        outcome=state.outcome,
        milestones=state.milestones.model_copy(deep=True),
        reminders=[
            Reminder(kind=k, due_at=d, overdue=state.fired.get(k) == d)
            for k, d in sorted(state.reminders.items(), key=lambda kd: (kd[1], kd[0]))
        ],
        timeline_length=len(state.timeline),
        pending_events=pending_events,
    )


def event_for(state: JourneyData, entry: TimelineEntry, event_id: UUID) -> AnyJourneyEvent:
    """The domain event for one timeline entry, with the state as it is after the entry."""
    common: dict[str, object] = {
        "id": event_id,
        "occurred_at": entry.at,
        "organisation_id": state.organisation_id,
        "region_id": state.region_id,
        "client_id": state.client_id,
        "journey_id": journey_workflow_id(str(state.organisation_id), str(state.client_id)),
        "coach_id": state.coach_id,
        "episode": entry.episode,
        "phase": entry.to_phase or state.phase,
        "status": entry.to_status or state.status,
        "actor_id": entry.actor.user_id if entry.actor else None,
        "actor_role": str(entry.actor.role) if entry.actor else None,
        "timeline_seq": entry.seq,
    }
    if entry.kind == "started":
        return JourneyStarted.model_validate(common)
    if entry.kind == "move":
        assert entry.action is not None and entry.from_phase is not None and entry.from_status is not None
        return JourneyMoved.model_validate(
            common
            | {
                "action": entry.action,
                "from_phase": entry.from_phase,
                "from_status": entry.from_status,
                "from_coach_id": entry.from_coach_id,
                "rest_reason": entry.rest_reason,
                "review_date": entry.review_date,
                "outcome": entry.outcome,
                "reason_ref": entry.reason_ref,
            }
        )
    if entry.kind == "milestone":
        assert entry.milestone is not None and entry.occurred_at is not None
        return MilestoneRecorded.model_validate(
            common
            | {
                "phase": entry.from_phase or state.phase,
                "status": entry.from_status or state.status,
                "kind": entry.milestone,
                "milestone_occurred_at": entry.occurred_at,
                "code": entry.criterion or entry.place,
                "contact_mode": entry.contact_mode,
                "reason_ref": entry.reason_ref,
            }
        )
    assert entry.reminder is not None and entry.due_at is not None
    return ReminderDue.model_validate(
        common
        | {
            "phase": entry.from_phase or state.phase,
            "status": entry.from_status or state.status,
            "reminder": entry.reminder,
            "due_at": entry.due_at,
        }
    )
