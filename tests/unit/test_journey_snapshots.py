"""The journey snapshots' pure logic: rows, versions, which events need a re-read, and the
state as it stands at read time."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from services.coaching import journey_snapshots as snap
from shared.contracts.journey import Phase, Status
from workflows.contracts import JourneyState, Milestones, Reminder

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ORG = uuid.uuid4()


def state(
    client_id: uuid.UUID | None = None, version: int = 3, reminders: list[Reminder] | None = None
) -> JourneyState:
    return JourneyState(
        organisation_id=ORG,
        region_id="kymenlaakso",
        client_id=client_id or uuid.uuid4(),
        coach_id=uuid.uuid4(),
        phase=Phase.PROFILING,
        status=Status.ACTIVE,
        since=NOW - timedelta(days=3),
        episode=1,
        episode_started_at=NOW - timedelta(days=10),
        milestones=Milestones(last_contact_at=NOW - timedelta(days=1), contacts=2),
        reminders=reminders or [],
        timeline_length=version,
    )


def test_the_row_holds_codes_and_the_state_as_json_and_reads_back() -> None:
    s = state(version=5, reminders=[Reminder(kind="employer_contact_due", due_at=NOW, overdue=False)])
    row = snap.row_values(s, NOW)
    assert row["version"] == 5 and row["phase"] == "PROFILING" and row["status"] == "ACTIVE"
    assert row["client_id"] == s.client_id and row["organisation_id"] == ORG and row["coach_id"] == s.coach_id
    json.dumps(row["state"])  # plain JSON
    assert JourneyState.model_validate(row["state"]) == s


def test_newest_keeps_the_highest_version_of_each_client() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    kept = snap.newest([state(a, 2), state(a, 7), state(a, 4), state(b, 1)])
    assert sorted((s.client_id == a, s.timeline_length) for s in kept) == [(False, 1), (True, 7)]


def test_a_reminder_past_its_time_counts_as_overdue_at_read_time() -> None:
    s = state(
        reminders=[
            Reminder(kind="employer_contact_due", due_at=NOW - timedelta(minutes=1), overdue=False),
            Reminder(kind="silence_outreach", due_at=NOW + timedelta(days=2), overdue=False),
            Reminder(kind="disclosure_revisit", due_at=NOW - timedelta(days=3), overdue=True),
        ]
    )
    now_state = snap.at(s, NOW)
    assert [(r.kind, r.overdue) for r in now_state.reminders] == [
        ("employer_contact_due", True),
        ("silence_outreach", False),
        ("disclosure_revisit", True),
    ]
    assert s.reminders[0].overdue is False  # the stored state is not changed
    nothing_due = state(reminders=[Reminder(kind="silence_outreach", due_at=NOW + timedelta(days=1), overdue=False)])
    assert snap.at(nothing_due, NOW) is nothing_due


def _event(client_id: uuid.UUID, seq: object, kind: str = "journey.moved") -> dict[str, object]:
    return {"type": kind, "organisation_id": str(ORG), "client_id": str(client_id), "timeline_seq": seq}


def test_journey_ref_reads_journey_events_only() -> None:
    c = uuid.uuid4()
    assert snap.journey_ref(_event(c, 4)) == snap.JourneyRef(ORG, c, 5)  # seq 4 is the 5th entry
    assert snap.journey_ref(_event(c, None, "journey.reminder_due")) == snap.JourneyRef(ORG, c, None)
    assert snap.journey_ref(_event(c, True)) == snap.JourneyRef(ORG, c, None)
    assert snap.journey_ref({**_event(c, 1), "type": "client.registered"}) is None
    assert snap.journey_ref({**_event(c, 1), "client_id": "not-a-uuid"}) is None
    assert snap.journey_ref({"type": "journey.moved"}) is None
    assert snap.journey_ref(None) is None and snap.journey_ref([1]) is None
    assert snap.decode(b"{not json") is None


def test_only_journeys_newer_than_their_snapshot_are_read_again() -> None:
    saved, behind, unknown, unsequenced = (uuid.uuid4() for _ in range(4))
    refs = [
        snap.JourneyRef(ORG, saved, 3),
        snap.JourneyRef(ORG, saved, 4),  # the API saved version 4 already
        snap.JourneyRef(ORG, behind, 2),
        snap.JourneyRef(ORG, behind, 6),
        snap.JourneyRef(ORG, unknown, 1),
        snap.JourneyRef(ORG, unsequenced, None),
    ]
    stored = {saved: 4, behind: 5, unsequenced: 9}
    assert set(snap.to_refresh(refs, stored)) == {(ORG, behind), (ORG, unknown), (ORG, unsequenced)}
    assert snap.to_refresh([snap.JourneyRef(ORG, saved, 4)], stored) == []
    assert snap.to_refresh([], stored) == []


def test_a_journey_that_cannot_be_read_comes_again_later_and_later() -> None:
    assert [snap.retry_delay(n) for n in (0, 1, 2, 3, 4)] == [1.0, 1.0, 2.0, 4.0, 8.0]
    assert snap.retry_delay(7) == 60.0 and snap.retry_delay(10**6) == 60.0
