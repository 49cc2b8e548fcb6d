"""The journey's rules (workflows.domain), without Temporal."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.contracts.events import JourneyMoved, JourneyStarted, MilestoneRecorded, ReminderDue
from shared.contracts.journey import Outcome, Phase, RestReason, Role, Status
from shared.settings import Settings
from workflows import domain
from workflows.contracts import (
    Actor,
    CarriedState,
    JourneyData,
    JourneyInput,
    JourneyTimers,
    MilestoneRequest,
    MoveRequest,
)
from workflows.domain import MoveRejected

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
ORG = uuid.UUID("00000000-0000-4000-8000-000000000001")
CLIENT = uuid.UUID("00000000-0000-4000-8000-000000000002")
COACH = uuid.UUID("00000000-0000-4000-8000-000000000003")
OTHER_COACH = uuid.UUID("00000000-0000-4000-8000-000000000004")
COACH_ACTOR = Actor(user_id=COACH, role=Role.COACH)
LEAD_ACTOR = Actor(user_id=uuid.UUID("00000000-0000-4000-8000-000000000005"), role=Role.TEAM_LEAD)
TIMERS = JourneyTimers()
DAY = timedelta(days=1)


def journey(now: datetime = T0) -> JourneyData:
    return domain.new_journey(
        organisation_id=ORG, region_id="kymenlaakso", client_id=CLIENT, coach_id=COACH, actor=COACH_ACTOR, now=now
    )


def mv(action: str, actor: Actor = COACH_ACTOR, **kw: Any) -> MoveRequest:
    return MoveRequest.model_validate({"action": action, "actor": actor, **kw})


def ms(kind: str, at: datetime = T0, actor: Actor = COACH_ACTOR, **kw: Any) -> MilestoneRequest:
    return MilestoneRequest.model_validate({"kind": kind, "occurred_at": at, "actor": actor, **kw})


def at_phase(phase: Phase, now: datetime = T0) -> JourneyData:
    """A journey moved forward to ``phase`` (with a job before follow-along)."""
    s = journey(now)
    while s.phase is not phase:
        if s.phase is Phase.EMPLOYER_AGREEMENT:
            domain.apply_milestone(s, ms("job_started", now), now)
        domain.apply_move(s, mv("advance"), now)
    return s


def rejected(fn: Any, *args: Any) -> str:
    with pytest.raises(MoveRejected) as ei:
        fn(*args)
    return ei.value.code


# --------------------------------------------------------------------------- start


def test_new_journey_starts_in_intake_with_a_started_entry() -> None:
    s = journey()
    assert (s.phase, s.status, s.episode, s.since) == (Phase.INTAKE, Status.ACTIVE, 1, T0)
    assert [e.kind for e in s.timeline] == ["started"]
    assert s.timeline[0].actor == COACH_ACTOR
    assert s.timeline[0].seq == 0


# --------------------------------------------------------------------------- legal moves


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (Phase.INTAKE, Phase.PROFILING),
        (Phase.PROFILING, Phase.JOB_SEARCH),
        (Phase.JOB_SEARCH, Phase.EMPLOYER_AGREEMENT),
        (Phase.EMPLOYER_AGREEMENT, Phase.FOLLOW_ALONG),
    ],
)
def test_advance_moves_one_phase_forward(start: Phase, expected: Phase) -> None:
    s = at_phase(start)
    if start is Phase.EMPLOYER_AGREEMENT:
        domain.apply_milestone(s, ms("job_started"), T0)
    later = T0 + DAY
    [entry] = domain.apply_move(s, mv("advance", reason_ref="note-1"), later)
    assert s.phase is expected and s.since == later
    assert (entry.kind, entry.action, entry.from_phase, entry.to_phase) == ("move", "advance", start, expected)
    assert entry.actor == COACH_ACTOR and entry.at == later and entry.reason_ref == "note-1"


def test_advance_with_explicit_next_phase_is_accepted() -> None:
    s = journey()
    domain.apply_move(s, mv("advance", to_phase=Phase.PROFILING), T0)
    assert s.phase is Phase.PROFILING


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (Phase.EMPLOYER_AGREEMENT, Phase.JOB_SEARCH),
        (Phase.FOLLOW_ALONG, Phase.JOB_SEARCH),
        (Phase.JOB_SEARCH, Phase.PROFILING),
    ],
)
def test_step_back(start: Phase, expected: Phase) -> None:
    s = at_phase(start)
    [entry] = domain.apply_move(s, mv("step_back"), T0 + DAY)
    assert s.phase is expected
    assert (entry.action, entry.from_phase, entry.to_phase) == ("step_back", start, expected)


def test_step_back_from_a_job_phase_ends_follow_along_and_restarts_search() -> None:
    s = at_phase(Phase.FOLLOW_ALONG)
    assert s.milestones.job_started_at is not None
    domain.apply_move(s, mv("step_back", to_phase=Phase.JOB_SEARCH), T0 + 5 * DAY)
    assert s.milestones.job_started_at is None
    assert s.search_started_at == T0 + 5 * DAY
    assert "follow_along_contact" not in domain.plan_reminders(s, TIMERS, T0)


@pytest.mark.parametrize("phase", list(Phase))
def test_rest_and_resume_return_to_the_rested_phase(phase: Phase) -> None:
    s = at_phase(phase)
    review = (T0 + 30 * DAY).date()
    [rest] = domain.apply_move(
        s, mv("rest", reason=RestReason.HEALTH_CLARIFICATION, review_date=review, reason_ref="r-9"), T0 + DAY
    )
    assert (s.status, s.rested_phase, s.rest_reason, s.review_date) == (
        Status.RESTING,
        phase,
        RestReason.HEALTH_CLARIFICATION,
        review,
    )
    assert (rest.from_status, rest.to_status, rest.rest_reason, rest.review_date) == (
        Status.ACTIVE,
        Status.RESTING,
        RestReason.HEALTH_CLARIFICATION,
        review,
    )
    [resume] = domain.apply_move(s, mv("resume"), T0 + 2 * DAY)
    assert (s.status, s.phase, s.rested_phase, s.rest_reason, s.review_date) == (
        Status.ACTIVE,
        phase,
        None,
        None,
        None,
    )
    assert s.active_since == T0 + 2 * DAY
    assert (resume.from_status, resume.to_status, resume.to_phase) == (Status.RESTING, Status.ACTIVE, phase)


def test_resume_naming_the_rested_phase_is_accepted() -> None:
    s = at_phase(Phase.JOB_SEARCH)
    domain.apply_move(s, mv("rest", reason=RestReason.OTHER, review_date=T0.date()), T0)
    domain.apply_move(s, mv("resume", to_phase=Phase.JOB_SEARCH), T0)
    assert s.phase is Phase.JOB_SEARCH


@pytest.mark.parametrize("resting", [False, True])
def test_close_from_active_or_resting(resting: bool) -> None:
    s = at_phase(Phase.JOB_SEARCH)
    if resting:
        domain.apply_move(s, mv("rest", reason=RestReason.LIFE_SITUATION, review_date=T0.date()), T0)
    [entry] = domain.apply_move(s, mv("close", outcome=Outcome.EMPLOYED), T0 + DAY)
    assert (s.status, s.outcome, s.rested_phase) == (Status.CLOSED, Outcome.EMPLOYED, None)
    assert entry.outcome is Outcome.EMPLOYED and entry.to_status is Status.CLOSED


def test_reopen_starts_a_new_episode_and_keeps_history() -> None:
    s = at_phase(Phase.FOLLOW_ALONG)
    domain.apply_move(s, mv("close", outcome=Outcome.EMPLOYED), T0)
    before = [e.model_copy() for e in s.timeline]
    later = T0 + 100 * DAY
    [entry] = domain.apply_move(s, mv("reopen", actor=LEAD_ACTOR), later)
    assert (s.status, s.phase, s.episode, s.outcome, s.episode_started_at) == (
        Status.ACTIVE,
        Phase.INTAKE,
        2,
        None,
        later,
    )
    assert s.milestones.job_started_at is None and s.milestones.jobs_started == 0
    assert s.timeline[: len(before)] == before
    assert entry.episode == 2 and entry.actor == LEAD_ACTOR


def test_reopen_into_job_search_restarts_the_search_clock() -> None:
    s = journey()
    domain.apply_move(s, mv("close", outcome=Outcome.DISENGAGED), T0)
    domain.apply_move(s, mv("reopen", to_phase=Phase.JOB_SEARCH), T0 + DAY)
    assert s.phase is Phase.JOB_SEARCH and s.search_started_at == T0 + DAY


def test_reassign_records_both_coaches() -> None:
    s = journey()
    [entry] = domain.apply_move(s, mv("reassign", actor=LEAD_ACTOR, coach_id=OTHER_COACH), T0)
    assert s.coach_id == OTHER_COACH
    assert (entry.from_coach_id, entry.to_coach_id, entry.actor) == (COACH, OTHER_COACH, LEAD_ACTOR)


def test_reassign_while_resting_keeps_resting() -> None:
    s = journey()
    domain.apply_move(s, mv("rest", reason=RestReason.CLIENT_REQUEST, review_date=T0.date()), T0)
    domain.apply_move(s, mv("reassign", coach_id=OTHER_COACH), T0)
    assert s.status is Status.RESTING and s.coach_id == OTHER_COACH


# --------------------------------------------------------------------------- illegal moves


def _closed() -> JourneyData:
    s = journey()
    domain.apply_move(s, mv("close", outcome=Outcome.DISCONTINUED), T0)
    return s


def _resting() -> JourneyData:
    s = at_phase(Phase.JOB_SEARCH)
    domain.apply_move(s, mv("rest", reason=RestReason.OTHER, review_date=T0.date()), T0)
    return s


@pytest.mark.parametrize(
    ("make", "req", "code"),
    [
        (lambda: at_phase(Phase.FOLLOW_ALONG), mv("advance"), "already_last_phase"),
        (journey, mv("advance", to_phase=Phase.JOB_SEARCH), "illegal_advance"),
        (lambda: at_phase(Phase.PROFILING), mv("advance", to_phase=Phase.INTAKE), "illegal_advance"),
        (lambda: at_phase(Phase.EMPLOYER_AGREEMENT), mv("advance"), "no_current_job"),
        (_resting, mv("advance"), "not_active"),
        (_resting, mv("step_back"), "not_active"),
        (journey, mv("step_back"), "illegal_step_back"),
        (lambda: at_phase(Phase.PROFILING), mv("step_back"), "illegal_step_back"),
        (lambda: at_phase(Phase.FOLLOW_ALONG), mv("step_back", to_phase=Phase.PROFILING), "illegal_step_back"),
        (lambda: at_phase(Phase.EMPLOYER_AGREEMENT), mv("step_back", to_phase=Phase.INTAKE), "illegal_step_back"),
        (journey, mv("rest", review_date=T0.date()), "missing_reason"),
        (journey, mv("rest", reason=RestReason.OTHER), "missing_review_date"),
        (journey, mv("rest", reason=RestReason.OTHER, review_date=(T0 - DAY).date()), "review_date_in_past"),
        (_resting, mv("rest", reason=RestReason.OTHER, review_date=T0.date()), "already_resting"),
        (journey, mv("resume"), "not_resting"),
        (_resting, mv("resume", to_phase=Phase.PROFILING), "resume_phase_mismatch"),
        (journey, mv("close"), "missing_outcome"),
        (_resting, mv("close"), "missing_outcome"),
        (journey, mv("reopen"), "not_closed"),
        (_resting, mv("reopen"), "not_closed"),
        (_closed, mv("reopen", to_phase=Phase.FOLLOW_ALONG), "illegal_reopen_phase"),
        (_closed, mv("advance"), "closed_accepts_only_reopen"),
        (_closed, mv("step_back"), "closed_accepts_only_reopen"),
        (_closed, mv("rest", reason=RestReason.OTHER, review_date=T0.date()), "closed_accepts_only_reopen"),
        (_closed, mv("resume"), "closed_accepts_only_reopen"),
        (_closed, mv("close", outcome=Outcome.EMPLOYED), "closed_accepts_only_reopen"),
        (_closed, mv("reassign", coach_id=OTHER_COACH), "closed_accepts_only_reopen"),
        (journey, mv("reassign"), "missing_coach"),
        (journey, mv("reassign", coach_id=COACH), "same_coach"),
        (journey, mv("advance", outcome=Outcome.EMPLOYED), "unexpected_field"),
        (journey, mv("close", outcome=Outcome.EMPLOYED, reason=RestReason.OTHER), "unexpected_field"),
        (journey, mv("reassign", coach_id=OTHER_COACH, to_phase=Phase.PROFILING), "unexpected_field"),
        (journey, mv("advance", actor=Actor(user_id=COACH, role=Role.AUDITOR)), "forbidden_role"),
        (journey, mv("advance", actor=Actor(user_id=COACH, role=Role.REGION_ANALYST)), "forbidden_role"),
    ],
)
def test_illegal_move_is_rejected_with_a_code_and_changes_nothing(make: Any, req: MoveRequest, code: str) -> None:
    s: JourneyData = make()
    before = s.model_copy(deep=True)
    assert rejected(domain.validate_move, s, req, T0) == code
    assert rejected(domain.apply_move, s, req, T0) == code
    assert s == before


def test_reason_ref_must_be_a_reference_not_text() -> None:
    with pytest.raises(ValidationError):
        mv("advance", reason_ref="Client said she is tired of this")
    assert mv("advance", reason_ref="coaching:note/3f2a-91").reason_ref == "coaching:note/3f2a-91"


def test_milestone_time_must_carry_a_zone() -> None:
    with pytest.raises(ValidationError):
        ms("contact_made", at=datetime(2025, 1, 1, 12, 0), place="office")


# --------------------------------------------------------------------------- milestones


def test_milestones_are_summarised_and_recorded() -> None:
    s = at_phase(Phase.JOB_SEARCH)
    t = T0 + DAY
    domain.apply_milestone(s, ms("first_employer_contact", t), t)
    domain.apply_milestone(s, ms("benefits_counselling_given", t), t)
    domain.apply_milestone(s, ms("benefits_counselling_given", t + DAY), t + DAY)
    domain.apply_milestone(s, ms("disclosure_discussed", t, criterion="b"), t)
    domain.apply_milestone(s, ms("disclosure_discussed", t, criterion="a"), t)
    domain.apply_milestone(s, ms("disclosure_discussed", t, criterion="b"), t)
    domain.apply_milestone(s, ms("contact_made", t, place="community"), t)
    domain.apply_milestone(s, ms("contact_made", t - DAY, place="office", contact_mode="outreach"), t)
    m = s.milestones
    assert m.first_employer_contact_at == t
    assert m.benefits_counselling_at == t
    assert m.disclosure_criteria == ["a", "b"]
    assert (m.contacts, m.contacts_outside_office, m.outreach_contacts, m.last_contact_at) == (2, 1, 1, t)
    kinds = [e.milestone for e in s.timeline if e.kind == "milestone"]
    assert kinds.count("disclosure_discussed") == 3 and len(kinds) == 8
    contact = [e for e in s.timeline if e.milestone == "contact_made"]
    assert [(e.place, e.contact_mode) for e in contact] == [("community", "meeting"), ("office", "outreach")]
    assert s.phase is Phase.JOB_SEARCH  # milestones never move by themselves


def test_job_started_with_confirm_move_advances_to_employer_agreement() -> None:
    s = at_phase(Phase.JOB_SEARCH)
    entries = domain.apply_milestone(s, ms("job_started", T0, confirm_move=True, reason_ref="p-1"), T0 + DAY)
    assert s.phase is Phase.EMPLOYER_AGREEMENT
    assert [(e.kind, e.action) for e in entries] == [("milestone", None), ("move", "advance")]
    assert entries[1].actor == COACH_ACTOR and entries[1].from_phase is Phase.JOB_SEARCH
    assert s.milestones.job_started_at == T0 and s.milestones.jobs_started == 1


def test_job_started_without_confirmation_stays_in_job_search() -> None:
    s = at_phase(Phase.JOB_SEARCH)
    domain.apply_milestone(s, ms("job_started"), T0)
    assert s.phase is Phase.JOB_SEARCH and s.milestones.job_started_at == T0


def test_job_ended_with_confirm_move_steps_back_to_job_search() -> None:
    s = at_phase(Phase.FOLLOW_ALONG)
    entries = domain.apply_milestone(s, ms("job_ended", T0 + DAY, confirm_move=True), T0 + DAY)
    assert s.phase is Phase.JOB_SEARCH and s.milestones.job_started_at is None
    assert s.milestones.job_ended_at == T0 + DAY
    assert entries[1].action == "step_back"


def test_milestones_are_accepted_while_resting() -> None:
    s = _resting()
    domain.apply_milestone(s, ms("contact_made", place="home", contact_mode="outreach"), T0)
    assert s.milestones.outreach_contacts == 1 and s.status is Status.RESTING


@pytest.mark.parametrize(
    ("make", "req", "code"),
    [
        (_closed, ms("contact_made", place="office"), "closed_accepts_only_reopen"),
        (journey, ms("disclosure_discussed"), "missing_criterion"),
        (journey, ms("contact_made"), "missing_place"),
        (journey, ms("job_started", criterion="a"), "unexpected_field"),
        (journey, ms("job_started", place="office"), "unexpected_field"),
        (journey, ms("benefits_counselling_given", contact_mode="meeting"), "unexpected_field"),
        (journey, ms("contact_made", T0 + timedelta(hours=1), place="office"), "occurred_in_future"),
        (lambda: at_phase(Phase.FOLLOW_ALONG), ms("job_started"), "job_already_started"),
        (journey, ms("job_ended"), "no_current_job"),
        (lambda: at_phase(Phase.FOLLOW_ALONG), ms("job_ended", T0 - DAY), "ends_before_start"),
        (journey, ms("job_started", confirm_move=True), "illegal_confirm_move"),
        (
            lambda: at_phase(Phase.PROFILING),
            ms("contact_made", place="office", confirm_move=True),
            "illegal_confirm_move",
        ),
        (_resting, ms("job_started", confirm_move=True), "not_active"),
        (journey, ms("contact_made", place="office", actor=Actor(user_id=COACH, role=Role.AUDITOR)), "forbidden_role"),
    ],
)
def test_illegal_milestone_is_rejected(make: Any, req: MilestoneRequest, code: str) -> None:
    s: JourneyData = make()
    before = s.model_copy(deep=True)
    assert rejected(domain.validate_milestone, s, req, T0) == code
    assert rejected(domain.apply_milestone, s, req, T0) == code
    assert s == before


def test_first_employer_contact_is_recorded_once_per_episode() -> None:
    s = journey()
    domain.apply_milestone(s, ms("first_employer_contact"), T0)
    assert rejected(domain.validate_milestone, s, ms("first_employer_contact"), T0) == "already_recorded"
    domain.apply_move(s, mv("close", outcome=Outcome.EDUCATION), T0)
    domain.apply_move(s, mv("reopen"), T0)
    domain.apply_milestone(s, ms("first_employer_contact"), T0)


# --------------------------------------------------------------------------- reminders

SHORT = JourneyTimers(
    employer_contact_due_s=30,
    disclosure_revisit_s=60,
    follow_along_first_s=3,
    follow_along_weekly_s=7,
    follow_along_first_month_s=30,
    follow_along_monthly_s=31,
    silence_outreach_s=20,
    rest_review_at_s=3600,
)
S = timedelta(seconds=1)


def test_timers_from_settings() -> None:
    t = JourneyTimers.from_settings(Settings(employer_contact_due_s=5, silence_outreach_s=9))
    assert (t.employer_contact_due_s, t.silence_outreach_s) == (5, 9)
    assert t.follow_along_first_s == Settings().follow_along_first_s


def test_new_journey_plans_employer_contact_and_silence() -> None:
    assert domain.plan_reminders(journey(), SHORT, T0) == {
        "employer_contact_due": T0 + 30 * S,
        "silence_outreach": T0 + 20 * S,
    }


def test_employer_contact_reminder_goes_when_the_contact_is_recorded() -> None:
    s = journey()
    domain.apply_milestone(s, ms("first_employer_contact", T0 + S), T0 + S)
    assert "employer_contact_due" not in domain.plan_reminders(s, SHORT, T0)


def test_disclosure_revisit_two_months_after_profiling_began_unless_a_job() -> None:
    s = journey()
    domain.apply_move(s, mv("advance"), T0 + 5 * S)
    assert domain.plan_reminders(s, SHORT, T0)["disclosure_revisit"] == T0 + 65 * S
    domain.apply_move(s, mv("advance"), T0 + 10 * S)  # job search: same clock
    assert domain.plan_reminders(s, SHORT, T0)["disclosure_revisit"] == T0 + 65 * S
    # Discussed before the due time: still due; at or after it: resolved.
    domain.apply_milestone(s, ms("disclosure_discussed", T0 + 11 * S, criterion="d"), T0 + 11 * S)
    assert "disclosure_revisit" in domain.plan_reminders(s, SHORT, T0)
    domain.apply_milestone(s, ms("disclosure_discussed", T0 + 65 * S, criterion="d"), T0 + 65 * S)
    assert "disclosure_revisit" not in domain.plan_reminders(s, SHORT, T0)
    s2 = at_phase(Phase.JOB_SEARCH)
    domain.apply_milestone(s2, ms("job_started"), T0)
    plan = domain.plan_reminders(s2, SHORT, T0)
    assert "disclosure_revisit" not in plan and "employer_contact_due" not in plan


def test_disclosure_revisit_restarts_when_a_job_ends() -> None:
    s = at_phase(Phase.FOLLOW_ALONG)
    domain.apply_milestone(s, ms("job_ended", T0 + 40 * S, confirm_move=True), T0 + 40 * S)
    assert domain.plan_reminders(s, SHORT, T0)["disclosure_revisit"] == T0 + 100 * S


def test_follow_along_schedule_three_days_weekly_then_monthly() -> None:
    s = at_phase(Phase.EMPLOYER_AGREEMENT)
    start = T0 + 100 * S
    domain.apply_milestone(s, ms("job_started", start), start)
    assert domain.plan_reminders(s, SHORT, start)["follow_along_contact"] == start + 3 * S
    domain.apply_milestone(s, ms("contact_made", start + 2 * S, place="workplace"), start + 2 * S)
    assert domain.plan_reminders(s, SHORT, start)["follow_along_contact"] == start + 9 * S  # weekly
    domain.apply_milestone(s, ms("contact_made", start + 29 * S, place="workplace"), start + 29 * S)
    assert domain.plan_reminders(s, SHORT, start)["follow_along_contact"] == start + 36 * S  # still first month
    domain.apply_milestone(s, ms("contact_made", start + 40 * S, place="remote"), start + 40 * S)
    assert domain.plan_reminders(s, SHORT, start)["follow_along_contact"] == start + 71 * S  # monthly


def test_contacts_before_the_job_do_not_count_for_follow_along() -> None:
    s = at_phase(Phase.EMPLOYER_AGREEMENT)
    domain.apply_milestone(s, ms("contact_made", T0 + S, place="office"), T0 + S)
    domain.apply_milestone(s, ms("job_started", T0 + 2 * S), T0 + 2 * S)
    assert domain.plan_reminders(s, SHORT, T0)["follow_along_contact"] == T0 + 5 * S


def test_silence_counts_from_the_last_contact_or_activation() -> None:
    s = journey()
    domain.apply_milestone(s, ms("contact_made", T0 + 5 * S, place="home"), T0 + 5 * S)
    assert domain.plan_reminders(s, SHORT, T0)["silence_outreach"] == T0 + 25 * S
    domain.apply_move(s, mv("rest", reason=RestReason.OTHER, review_date=T0.date()), T0 + 6 * S)
    domain.apply_move(s, mv("resume"), T0 + 50 * S)
    assert domain.plan_reminders(s, SHORT, T0)["silence_outreach"] == T0 + 70 * S


def test_resting_plans_only_the_review_and_closed_nothing() -> None:
    s = at_phase(Phase.FOLLOW_ALONG)
    review = date(2025, 4, 1)
    domain.apply_move(s, mv("rest", reason=RestReason.REHABILITATIVE_WORK_ACTIVITY, review_date=review), T0)
    assert domain.plan_reminders(s, SHORT, T0) == {"rest_review": datetime(2025, 4, 1, 1, 0, tzinfo=UTC)}
    domain.apply_move(s, mv("close", outcome=Outcome.SICK_LEAVE), T0)
    assert domain.plan_reminders(s, SHORT, T0) == {}


def test_due_reminders_fire_once_and_replanning_clears_them() -> None:
    s = journey()
    domain.replan(s, SHORT, T0)
    assert domain.next_due(s) == T0 + 20 * S
    assert domain.due_reminders(s, T0 + 19 * S) == []
    due = domain.due_reminders(s, T0 + 31 * S)
    assert due == [("silence_outreach", T0 + 20 * S), ("employer_contact_due", T0 + 30 * S)]
    for kind, at in due:
        entry = domain.raise_reminder(s, kind, at, T0 + 31 * S)
        assert entry.kind == "reminder" and entry.due_at == at and entry.actor is None
    assert domain.due_reminders(s, T0 + 100 * S) == [] and domain.next_due(s) is None
    view = domain.view(s)
    assert [(r.kind, r.overdue) for r in view.reminders] == [
        ("silence_outreach", True),
        ("employer_contact_due", True),
    ]
    # A contact re-plans the silence reminder (not overdue any more); the other stays raised.
    domain.apply_milestone(s, ms("contact_made", T0 + 40 * S, place="office"), T0 + 40 * S)
    domain.replan(s, SHORT, T0 + 40 * S)
    assert {r.kind: r.overdue for r in domain.view(s).reminders} == {
        "employer_contact_due": True,
        "silence_outreach": False,
    }
    assert domain.next_due(s) == T0 + 60 * S


# --------------------------------------------------------------------------- events


def test_events_carry_ids_and_codes_only() -> None:
    s = at_phase(Phase.JOB_SEARCH)
    eid = uuid.uuid4()
    started = domain.event_for(s, s.timeline[0], eid)
    assert isinstance(started, JourneyStarted) and started.id == eid and started.occurred_at == T0
    assert started.subject() == f"polku.{ORG}.journey.started"
    assert started.journey_id == f"journey-{ORG}-{CLIENT}" and started.timeline_seq == 0
    [entry] = domain.apply_move(
        s, mv("rest", reason=RestReason.HEALTH_CLARIFICATION, review_date=T0.date(), reason_ref="x-1"), T0
    )
    moved = domain.event_for(s, entry, uuid.uuid4())
    assert isinstance(moved, JourneyMoved)
    assert (moved.action, moved.from_phase, moved.from_status, moved.status, moved.rest_reason) == (
        "rest",
        Phase.JOB_SEARCH,
        Status.ACTIVE,
        Status.RESTING,
        RestReason.HEALTH_CLARIFICATION,
    )
    assert (moved.actor_id, moved.actor_role, moved.reason_ref) == (COACH, "coach", "x-1")
    [m] = domain.apply_milestone(s, ms("contact_made", place="workplace"), T0)
    rec = domain.event_for(s, m, uuid.uuid4())
    assert isinstance(rec, MilestoneRecorded)
    assert (rec.kind, rec.code, rec.contact_mode, rec.status) == (
        "contact_made",
        "workplace",
        "meeting",
        Status.RESTING,
    )
    r = domain.raise_reminder(s, "rest_review", T0, T0)
    due = domain.event_for(s, r, uuid.uuid4())
    assert isinstance(due, ReminderDue) and due.reminder == "rest_review" and due.actor_id is None


def test_carried_state_round_trips_through_json() -> None:
    s = at_phase(Phase.FOLLOW_ALONG)
    domain.replan(s, SHORT, T0)
    ev = domain.event_for(s, s.timeline[-1], uuid.uuid4())
    inp = JourneyInput(
        organisation_id=ORG,
        region_id="r",
        client_id=CLIENT,
        coach_id=COACH,
        actor=COACH_ACTOR,
        carried_state=CarriedState.model_validate({"journey": s, "pending_events": [ev]}),
    )
    back = JourneyInput.model_validate_json(inp.model_dump_json())
    assert back == inp
    assert back.carried_state is not None and type(back.carried_state.pending_events[0]) is type(ev)


# --------------------------------------------------------------------------- properties

writers = st.sampled_from(
    [COACH_ACTOR, COACH_ACTOR, LEAD_ACTOR, Actor(user_id=OTHER_COACH, role=Role.EMPLOYER_COORDINATOR)]
)
# Read-only roles now and then, to check they never get through.
actors = st.one_of(writers, writers, writers, st.just(Actor(user_id=COACH, role=Role.AUDITOR)))
phases = st.one_of(st.none(), st.sampled_from(list(Phase)))
move_requests = st.builds(
    MoveRequest,
    action=st.sampled_from(["advance", "step_back", "rest", "resume", "close", "reopen", "reassign"]),
    to_phase=phases,
    reason=st.one_of(st.none(), st.sampled_from(list(RestReason))),
    review_date=st.one_of(st.none(), st.just(T0.date()), st.just((T0 - DAY).date())),
    outcome=st.one_of(st.none(), st.sampled_from(list(Outcome))),
    coach_id=st.one_of(st.none(), st.sampled_from([COACH, OTHER_COACH])),
    reason_ref=st.one_of(st.none(), st.just("ref-1")),
    actor=actors,
)


def likely_legal(s: JourneyData) -> list[MoveRequest | MilestoneRequest]:
    """Well-formed requests that fit the state (the rules still decide), so that
    random walks reach every phase and status."""
    if s.status is Status.CLOSED:
        return [mv("reopen"), mv("reopen", to_phase=Phase.JOB_SEARCH, actor=LEAD_ACTOR)]
    if s.status is Status.RESTING:
        return [mv("resume"), mv("close", outcome=Outcome.SICK_LEAVE), mv("reassign", coach_id=OTHER_COACH)]
    out: list[MoveRequest | MilestoneRequest] = [
        mv("advance"),
        mv("advance"),
        mv("step_back"),
        mv("rest", reason=RestReason.LIFE_SITUATION, review_date=T0.date()),
        mv("reassign", actor=LEAD_ACTOR, coach_id=OTHER_COACH if s.coach_id == COACH else COACH),
        ms("job_started", confirm_move=s.phase is Phase.JOB_SEARCH),
        ms("job_ended", confirm_move=s.phase in (Phase.EMPLOYER_AGREEMENT, Phase.FOLLOW_ALONG)),
        ms("contact_made", place="workplace"),
    ]
    if s.phase in (Phase.EMPLOYER_AGREEMENT, Phase.FOLLOW_ALONG):
        out.append(mv("close", outcome=Outcome.EMPLOYED))
    return out


milestone_requests = st.builds(
    lambda kind, crit, place, confirm, actor: ms(
        kind,
        criterion=crit if kind == "disclosure_discussed" else None,
        place=place if kind == "contact_made" else None,
        confirm_move=confirm,
        actor=actor,
    ),
    st.sampled_from(
        [
            "first_employer_contact",
            "job_started",
            "job_ended",
            "benefits_counselling_given",
            "disclosure_discussed",
            "contact_made",
        ]
    ),
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from(["office", "community", "workplace", "home", "remote"]),
    st.booleans(),
    actors,
)
any_request = st.one_of(move_requests, milestone_requests)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_sequences_keep_the_invariants(data: st.DataObject) -> None:
    s = journey()
    domain.replan(s, SHORT, T0)
    for i in range(data.draw(st.integers(10, 60), label="steps")):
        now = T0 + i * S
        if data.draw(st.integers(0, 9), label="dice") < 7:
            req = data.draw(st.sampled_from(likely_legal(s)))
        else:
            req = data.draw(any_request)
        _step(s, req, now)
    assert [e.seq for e in s.timeline] == list(range(len(s.timeline)))


def _step(s: JourneyData, req: MoveRequest | MilestoneRequest, now: datetime) -> None:
    before = s.model_copy(deep=True)
    try:
        if isinstance(req, MoveRequest):
            entries = domain.apply_move(s, req, now)
        else:
            entries = domain.apply_milestone(s, req, now)
    except MoveRejected as e:
        assert e.code and e.code.islower()
        assert s == before, "a rejected move changed the state"
        return
    domain.replan(s, SHORT, now)
    _check(before, s, req, entries, now)


def _check(
    before: JourneyData, s: JourneyData, req: MoveRequest | MilestoneRequest, entries: list[Any], now: datetime
) -> None:
    # Closed accepts only reopen.
    if before.status is Status.CLOSED:
        assert isinstance(req, MoveRequest) and req.action == "reopen"
        assert s.episode == before.episode + 1
    # The timeline is append-only and holds every accepted change with its actor.
    assert s.timeline[: len(before.timeline)] == before.timeline
    assert s.timeline[len(before.timeline) :] == entries and entries
    assert all(e.actor == req.actor and e.at == now for e in entries)
    assert req.actor.role not in domain.READ_ONLY_ROLES
    if isinstance(req, MoveRequest):
        last = entries[-1]
        assert last.kind == "move" and last.action == req.action
        assert (last.from_phase, last.from_status) == (before.phase, before.status)
        assert (last.to_phase, last.to_status) == (s.phase, s.status)
        # Resume returns to the rested phase.
        if req.action == "resume":
            assert s.phase is before.rested_phase and s.status is Status.ACTIVE
        # Advances and step backs move exactly one legal step.
        if req.action == "advance":
            assert list(Phase).index(s.phase) == list(Phase).index(before.phase) + 1
        if req.action == "step_back":
            assert domain.STEP_BACK[before.phase] is s.phase
        if req.action in ("rest", "close", "reassign"):
            assert s.phase is before.phase
    elif not req.confirm_move:
        # A milestone alone never moves the journey.
        assert (s.phase, s.status) == (before.phase, before.status)
    # One phase at a time, and the resting bookkeeping matches the status.
    assert s.phase in Phase and s.status in Status
    assert (s.status is Status.RESTING) == (s.rested_phase is not None) == (s.review_date is not None)
    if s.status is Status.RESTING:
        assert s.rested_phase is s.phase
    assert (s.status is Status.CLOSED) == (s.outcome is not None)
    if s.phase is Phase.FOLLOW_ALONG and before.phase is not Phase.FOLLOW_ALONG and s.status is Status.ACTIVE:
        assert s.milestones.job_started_at is not None
    # Reminders: none when closed, only the review when resting.
    if s.status is Status.CLOSED:
        assert s.reminders == {}
    elif s.status is Status.RESTING:
        assert set(s.reminders) == {"rest_review"}
    else:
        assert "silence_outreach" in s.reminders and "rest_review" not in s.reminders
