"""The journey pages' pure parts: which moves are offered, refusals in words, the
dashboard's sorting and filtering."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.coaching import journey_ui as ju
from shared import i18n
from shared.contracts.journey import Outcome, Phase, RestReason, Role, Status
from workflows.contracts import JourneyState, Milestones, Reminder

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ME = uuid.uuid4()
OTHER = ju.CoachChoice(str(uuid.uuid4()), "Mikko")


def _state(phase: Phase = Phase.INTAKE, status: Status = Status.ACTIVE, **extra: object) -> JourneyState:
    base: dict[str, object] = {
        "organisation_id": uuid.uuid4(),
        "region_id": "kymenlaakso",
        "client_id": uuid.uuid4(),
        "coach_id": ME,
        "phase": phase,
        "status": status,
        "since": NOW - timedelta(days=3),
        "episode": 1,
        "episode_started_at": NOW - timedelta(days=30),
        "milestones": Milestones(),
        "reminders": [],
        "timeline_length": 1,
    }
    base.update(extra)
    return JourneyState.model_validate(base)


def _moves(state: JourneyState, role: Role = Role.COACH) -> ju.MoveOptions:
    me = ju.CoachChoice(str(ME), "Kaisa")
    return ju.legal_moves(state, ME, role, [me, OTHER], NOW)


def test_intake_offers_advance_rest_close_and_reassign_only() -> None:
    m = _moves(_state())
    assert m.advance_to is Phase.PROFILING
    assert m.step_back_to == [] and m.resume_to is None and m.reopen_phases == []
    assert m.rest_reasons == list(RestReason) and m.close_outcomes == list(Outcome)
    assert m.reassign_to == [OTHER]  # never the coach the client has
    assert not m.job_start_confirm


def test_job_search_steps_back_to_profiling_and_offers_the_job_start() -> None:
    m = _moves(_state(Phase.JOB_SEARCH))
    assert m.step_back_to == [Phase.PROFILING]
    assert m.job_start_confirm and m.job_started_pending is None


def test_employer_agreement_without_a_job_cannot_advance() -> None:
    m = _moves(_state(Phase.EMPLOYER_AGREEMENT))
    assert m.advance_to is None and m.step_back_to == [Phase.JOB_SEARCH]
    job = Milestones(job_started_at=NOW - timedelta(days=1), jobs_started=1)
    assert _moves(_state(Phase.EMPLOYER_AGREEMENT, milestones=job)).advance_to is Phase.FOLLOW_ALONG


def test_a_job_start_recorded_elsewhere_asks_to_confirm_the_move() -> None:
    job = Milestones(job_started_at=NOW - timedelta(days=1), jobs_started=1)
    m = _moves(_state(Phase.JOB_SEARCH, milestones=job))
    assert m.job_started_pending == job.job_started_at and m.advance_to is Phase.EMPLOYER_AGREEMENT
    assert not m.job_start_confirm  # a job is running already


def test_follow_along_is_the_last_phase() -> None:
    m = _moves(_state(Phase.FOLLOW_ALONG, milestones=Milestones(job_started_at=NOW, jobs_started=1)))
    assert m.advance_to is None and m.step_back_to == [Phase.JOB_SEARCH]


def test_resting_offers_resume_close_and_reassign() -> None:
    m = _moves(
        _state(
            Phase.PROFILING,
            Status.RESTING,
            rested_phase=Phase.PROFILING,
            rest_reason=RestReason.HEALTH_CLARIFICATION,
            review_date=NOW.date() + timedelta(days=10),
        )
    )
    assert m.resume_to is Phase.PROFILING
    assert m.advance_to is None and m.rest_reasons == [] and m.step_back_to == []
    assert m.close_outcomes and m.reassign_to == [OTHER]


def test_closed_offers_only_reopen() -> None:
    m = _moves(_state(Phase.PROFILING, Status.CLOSED, outcome=Outcome.EMPLOYED))
    assert m.reopen_phases == [Phase.INTAKE, Phase.PROFILING, Phase.JOB_SEARCH]
    assert not (m.advance_to or m.rest_reasons or m.close_outcomes or m.reassign_to or m.resume_to)
    assert m.any


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.REGION_ANALYST, Role.EMPLOYER_COORDINATOR, Role.ORG_ADMIN])
def test_roles_that_cannot_move_get_no_moves(role: Role) -> None:
    assert not _moves(_state(Phase.JOB_SEARCH), role).any


def test_every_refusal_code_of_the_rules_has_words() -> None:
    import inspect

    from workflows import domain

    codes = set(__import__("re").findall(r'_reject\(\s*"(\w+)"', inspect.getsource(domain)))
    move_codes = codes - {"missing_criterion", "missing_place", "already_recorded", "ends_before_start"}
    assert move_codes <= set(ju.REJECTIONS), move_codes - set(ju.REJECTIONS)
    assert ju.rejection_msgid("something_new") == ju.REJECTED_OTHER
    for msgid in ju.REJECTIONS.values():
        assert i18n.translator("fi").gettext(msgid) != msgid


def test_move_body_keeps_only_the_actions_fields() -> None:
    form = {"action": "rest", "reason": "other", "review_date": "2026-04-01", "outcome": "employed", "csrf_token": "x"}
    assert ju.move_body(form) == {"action": "rest", "reason": "other", "review_date": "2026-04-01"}
    assert ju.move_body({"action": "close", "outcome": ""}) == {"action": "close"}  # the API says what is missing
    assert ju.move_body({"action": "explode"}) is None


def test_field_errors_take_the_last_part_of_the_path() -> None:
    errors = [{"field": "body.review_date", "message": "x"}, {"field": "weird", "message": "y"}]
    assert ju.field_errors(errors) == {"review_date": ju.FIELD_MESSAGES["review_date"], "weird": ju.FIELD_OTHER}


# --------------------------------------------------------------------------- dashboard


def _row(name: str | None, phase: str = "INTAKE", status: str = "ACTIVE", **extra: object) -> ju.DashRow:
    row = ju.DashRow(
        client_id=str(uuid.uuid4()),
        name=name,
        coach_id=str(ME),
        phase=phase,
        status=status,
        colour="light-green",
        rest_reason=None,
        outcome=None,
        since="",
        days=None,
    )
    for key, value in extra.items():
        setattr(row, key, value)
    return row


def test_query_parsing_falls_back_to_defaults() -> None:
    q = ju.DashQuery.parse({"sort": "days", "order": "desc", "phase": "JOB_SEARCH", "status": "RESTING"})
    assert q == ju.DashQuery("days", True, "JOB_SEARCH", "RESTING")
    assert ju.DashQuery.parse({"sort": "x';--", "phase": "NOPE", "status": "ALL"}) == ju.DashQuery()


def test_sort_links_flip_the_order_and_keep_the_filter() -> None:
    q = ju.DashQuery(sort="name", phase="PROFILING")
    assert q.sort_link("name") == "?order=desc&phase=PROFILING"
    assert q.sort_link("days") == "?sort=days&phase=PROFILING"
    assert q.sort_link("reminders") == "?sort=reminders&order=desc&phase=PROFILING"
    assert q.aria_sort("name") == "ascending" and q.aria_sort("days") is None
    assert ju.DashQuery().params() == "?"


def test_filter_by_phase_and_status() -> None:
    rows = [_row("A"), _row("B", "PROFILING"), _row("C", status="RESTING"), _row("D", status="CLOSED")]
    assert [r.name for r in rows if ju.DashQuery().keeps(r)] == ["A", "B", "C"]
    assert [r.name for r in rows if ju.DashQuery(status="CLOSED").keeps(r)] == ["D"]
    assert [r.name for r in rows if ju.DashQuery(phase="PROFILING").keeps(r)] == ["B"]
    assert [r.name for r in rows if ju.DashQuery(status="RESTING").keeps(r)] == ["C"]


def test_sorting_by_each_column() -> None:
    a = _row("Aino", "JOB_SEARCH", days=5, last_contact=NOW - timedelta(days=2))
    b = _row("bertta", "INTAKE", days=40, last_contact=None, overdue=["silence_outreach"])
    c = _row("Cecilia", "FOLLOW_ALONG", days=None, last_contact=NOW - timedelta(days=20), due=["rest_review"])
    rows = [c, a, b]

    def names(sort: str, desc: bool = False) -> list[str | None]:
        return [r.name for r in ju.sort_rows(rows, ju.DashQuery(sort=sort, desc=desc))]

    assert names("name") == ["Aino", "bertta", "Cecilia"]  # case-insensitive
    assert names("name", True) == ["Cecilia", "bertta", "Aino"]
    assert names("phase") == ["bertta", "Aino", "Cecilia"]
    assert names("days") == ["Aino", "bertta", "Cecilia"]  # unknown days last either way
    assert names("days", True) == ["bertta", "Aino", "Cecilia"]
    assert names("contact") == ["bertta", "Cecilia", "Aino"]  # longest without contact first
    assert names("reminders") == ["bertta", "Cecilia", "Aino"]  # overdue, then due


def test_apply_state_counts_due_and_overdue_reminders() -> None:
    state = _state(
        Phase.JOB_SEARCH,
        milestones=Milestones(last_contact_at=NOW - timedelta(days=6)),
        reminders=[
            Reminder(kind="silence_outreach", due_at=NOW - timedelta(days=1), overdue=True),
            Reminder(kind="disclosure_revisit", due_at=NOW + timedelta(days=3), overdue=False),
            Reminder(kind="employer_contact_due", due_at=NOW + timedelta(days=20), overdue=False),
        ],
    )
    row = _row(None)
    ju.apply_state(row, state, NOW, lambda value, now: (now - value).days)
    assert row.phase == "JOB_SEARCH" and row.days == 3 and row.contact_days == 6
    assert row.overdue == ["silence_outreach"] and row.due == ["disclosure_revisit"]
    assert row.next_due == NOW + timedelta(days=3) and row.state_known
