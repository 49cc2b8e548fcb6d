"""The journey fold: events into the current journey, episodes, spells and jobs; the same
rows whether the events come in order (incrementally) or shuffled (refolded)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.reporting.projection import ClientFold, as_dict, fact_of, fold_facts
from shared.contracts.events import JourneyEvent, MilestoneRecorded
from shared.contracts.journey import Outcome, Phase, RestReason, Status
from tests.reporting_data import Journey

ORG = uuid.uuid4()
CLIENT = uuid.uuid4()
COACH = uuid.uuid4()
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def _day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def _journey() -> Journey:
    j = Journey(ORG, CLIENT, COACH).start(_day(0))
    j.move(_day(3), "advance", Phase.PROFILING)
    j.milestone(_day(4), "disclosure_discussed", code="a")
    j.move(_day(10), "advance", Phase.JOB_SEARCH)
    j.milestone(_day(12), "first_employer_contact")
    j.milestone(_day(13), "benefits_counselling_given")
    j.milestone(_day(14), "disclosure_discussed", code="c")
    j.milestone(_day(14), "disclosure_discussed", code="a")
    j.milestone(_day(20), "job_started")
    j.move(_day(20), "advance", Phase.EMPLOYER_AGREEMENT)
    j.move(_day(25), "rest", Phase.EMPLOYER_AGREEMENT, Status.RESTING, rest_reason=RestReason.HEALTH_CLARIFICATION)
    j.move(_day(30), "resume", Phase.EMPLOYER_AGREEMENT)
    j.move(_day(31), "advance", Phase.FOLLOW_ALONG)
    j.milestone(_day(33), "contact_made", code="workplace", mode="meeting")
    j.reminder(_day(45), "follow_along_contact")
    j.move(_day(60), "step_back", Phase.JOB_SEARCH)  # the job ended
    j.milestone(_day(70), "job_started")
    j.move(_day(70), "advance", Phase.EMPLOYER_AGREEMENT)
    j.move(_day(80), "close", Phase.EMPLOYER_AGREEMENT, Status.CLOSED, outcome=Outcome.EMPLOYED)
    j.move(_day(200), "reopen", Phase.INTAKE)
    return j


def _incremental(events: list[JourneyEvent]) -> ClientFold:
    fold = ClientFold(None, {})
    for e in events:
        f = fact_of(e)
        assert fold.is_in_order(f)
        fold.apply(f)
    return fold


def _spells(fold: ClientFold) -> list[tuple[str, str, float, float]]:
    return [(s["phase"], s["status"], (s["started_at"] - T0).days, (s["ended_at"] - T0).days) for s in fold.spells]


def _snapshot(fold: ClientFold) -> dict[str, Any]:
    assert fold.journey is not None
    return {
        "journey": as_dict(fold.journey),
        "episodes": {n: as_dict(ep) for n, ep in sorted(fold.episodes.items())},
        "spells": sorted(_spells(fold)),
        "jobs": sorted((j["started_at"], j["ended_at"], j["tenure_days"]) for j in fold.jobs),
    }


def test_the_fold_derives_journey_episodes_spells_and_jobs() -> None:
    fold = _incremental(_journey().events)
    j = fold.journey
    assert j is not None
    assert (j.phase, j.status, j.episode, j.since, j.outcome) == ("INTAKE", "ACTIVE", 2, _day(200), None)
    assert j.last_seq == len(_journey().events) - 1

    first, second = fold.episodes[1], fold.episodes[2]
    assert (first.started_at, first.first_contact_at, first.benefits_counselling_at) == (_day(0), _day(12), _day(13))
    assert (first.first_job_at, first.jobs_started, first.current_job_at) == (_day(20), 2, _day(70))
    assert first.reached_search_at == _day(10)
    assert first.disclosure == "ac"
    assert (first.closed_at, first.outcome, first.closed_month) == (_day(80), "employed", 202603)
    assert (second.started_at, second.closed_at, second.jobs_started) == (_day(200), None, 0)

    assert _spells(fold) == [
        ("INTAKE", "ACTIVE", 0, 3),
        ("PROFILING", "ACTIVE", 3, 10),
        ("JOB_SEARCH", "ACTIVE", 10, 20),
        ("EMPLOYER_AGREEMENT", "ACTIVE", 20, 25),
        ("EMPLOYER_AGREEMENT", "RESTING", 25, 30),
        ("EMPLOYER_AGREEMENT", "ACTIVE", 30, 31),
        ("FOLLOW_ALONG", "ACTIVE", 31, 60),
        ("JOB_SEARCH", "ACTIVE", 60, 70),
        ("EMPLOYER_AGREEMENT", "ACTIVE", 70, 80),
    ]
    resting = [s for s in fold.spells if s["status"] == "RESTING"]
    assert [s["rest_reason"] for s in resting] == ["health_clarification"]
    assert [(x["started_at"], x["ended_at"], x["tenure_days"]) for x in fold.jobs] == [(_day(20), _day(60), 40.0)]


def test_a_refold_of_shuffled_facts_equals_the_incremental_fold() -> None:
    events = _journey().events
    expected = _snapshot(_incremental(events))
    rng = random.Random(7)
    for _ in range(5):
        facts = [fact_of(e) for e in events]
        rng.shuffle(facts)
        assert _snapshot(fold_facts(facts)) == expected


def test_an_event_older_than_what_was_folded_is_out_of_order() -> None:
    events = _journey().events
    fold = _incremental(events[:5])
    assert not fold.is_in_order(fact_of(events[3]))
    assert fold.is_in_order(fact_of(events[6]))  # a gap is applied; the missing one refolds later
    assert not ClientFold(None, {}).is_in_order(fact_of(events[1]))  # nothing folded, not a start


def test_milestones_count_on_their_own_day() -> None:
    late = Journey(ORG, CLIENT, COACH).start(_day(0))
    late.move(_day(1), "advance", Phase.PROFILING).move(_day(2), "advance", Phase.JOB_SEARCH)
    recorded = MilestoneRecorded(**late.common(_day(40)), kind="first_employer_contact", milestone_occurred_at=_day(9))
    fact = fact_of(recorded)
    assert fact.at == _day(40) and fact.milestone_at == _day(9) and fact.day == _day(9).date()
    fold = _incremental([*late.events, recorded])
    assert fold.episodes[1].first_contact_at == _day(9)
