"""The auditor's trace without the stack: merging, filtering, signing and the client's
access report (services/reporting/audit_trace.py), and the documents rendered from them."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from services.reporting import audit_trace as at
from shared.contracts.journey import Phase, Role, Status
from shared.platform import AuditRecord
from workflows.contracts import Actor, TimelineEntry

ORG = uuid.uuid4()
CLIENT = uuid.uuid4()
COACH = uuid.uuid4()
LEAD = uuid.uuid4()
AUDITOR = uuid.uuid4()
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SECRET = b"unit-test-secret-key-for-signing"


def _timeline() -> list[TimelineEntry]:
    coach = Actor(user_id=COACH, role=Role.COACH)
    ev1, ev2 = uuid.uuid4(), uuid.uuid4()
    return [
        TimelineEntry(
            seq=1, at=T0, kind="started", episode=1, actor=coach, to_phase=Phase.INTAKE, to_status=Status.ACTIVE
        ),
        TimelineEntry(
            seq=2,
            at=T0 + timedelta(hours=1),
            kind="move",
            episode=1,
            actor=coach,
            action="advance",
            from_phase=Phase.INTAKE,
            to_phase=Phase.PROFILING,
            event_id=ev1,
        ),
        TimelineEntry(
            seq=3,
            at=T0 + timedelta(days=3),
            kind="move",
            episode=1,
            actor=Actor(user_id=LEAD, role=Role.TEAM_LEAD),
            action="rest",
            rest_reason="health_clarification",
            reason_ref="note:123",
            event_id=ev2,
        ),
        TimelineEntry(seq=4, at=T0 + timedelta(days=40), kind="reminder", episode=1, reminder="rest_review"),
    ]


def _runs() -> list[at.WorkflowRun]:
    return [
        at.WorkflowRun(run_id="run-a", started_at=T0 - timedelta(seconds=1)),
        at.WorkflowRun(run_id="run-b", started_at=T0 + timedelta(days=2)),
    ]


def _record(seq: int, at_: datetime, action: str, actor: uuid.UUID | None = COACH, **kw: Any) -> AuditRecord:
    return AuditRecord(
        organisation_id=ORG,
        seq=seq,
        at=at_,
        actor_id=actor,
        actor_role=kw.pop("role", "coach"),
        action=action,
        client_id=kw.pop("client_id", CLIENT),
        purpose=kw.pop("purpose", None),
        trace_id=kw.pop("trace_id", None),
        outcome=kw.pop("outcome", "ok"),
        prev_hash="0" * 64,
        hash=f"{seq:064x}",
    )


def _event(event_type: str, when: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "occurred_at": when.isoformat(),
        "organisation_id": str(ORG),
        "region_id": "r",
        **fields,
    }


# --------------------------------------------------------------------------- assembling


def test_trace_id_comes_from_a_valid_traceparent_only() -> None:
    assert at.trace_id_of(f"00-{TRACE}-00f067aa0ba902b7-01") == TRACE
    assert at.trace_id_of(f"00-{'0' * 32}-00f067aa0ba902b7-01") is None
    assert at.trace_id_of("garbage") is None
    assert at.trace_id_of(None) is None


def test_workflow_entries_keep_actor_time_reason_run_and_the_events_trace() -> None:
    timeline = _timeline()
    traces = {timeline[1].event_id: TRACE}
    entries = at.workflow_entries("journey-x", timeline, _runs(), traces)  # type: ignore[arg-type]
    assert [e.what for e in entries] == ["started", "move.advance", "move.rest", "reminder.rest_review"]
    assert entries[1].actor_id == COACH and entries[1].actor_role == "coach"
    assert entries[1].details["from_phase"] == "INTAKE" and entries[1].details["to_phase"] == "PROFILING"
    assert entries[1].trace_id == TRACE
    assert entries[2].trace_id is None  # no trace id: the reference is the workflow entry's own
    assert entries[2].reason == "health_clarification, note:123"
    assert entries[2].actor_id == LEAD
    assert entries[3].actor_id is None  # a timer of the workflow: the system
    assert [e.run_id for e in entries] == ["run-a", "run-a", "run-b", "run-b"]
    assert entries[2].ref == "workflow:journey-x:run-b:3"


def test_events_are_the_clients_own_with_codes_only() -> None:
    mine = _event(
        "journey.moved",
        T0,
        client_id=str(CLIENT),
        actor_id=str(COACH),
        actor_role="coach",
        action="advance",
        phase="PROFILING",
        traceparent=f"00-{TRACE}-00f067aa0ba902b7-01",
    )
    opening = _event("opening.created", T0, for_client_id=str(CLIENT), employer_id=str(uuid.uuid4()))
    other = _event("journey.moved", T0, client_id=str(uuid.uuid4()))
    scored = _event("assessment.recorded", T0, client_id=str(CLIENT), score=7.0, instrument="work_ability")
    assert [at.event_names_client(e, CLIENT) for e in (mine, opening, other, scored)] == [True, True, False, True]
    entries = at.event_entries([mine, opening, scored])
    assert entries[0].trace_id == TRACE and entries[0].actor_id == COACH
    assert entries[0].ref == f"event:{mine['id']}"
    assert "score" not in entries[2].details and entries[2].details["instrument"] == "work_ability"
    assert at.event_trace_ids([mine, opening]) == {uuid.UUID(mine["id"]): TRACE}


def test_merge_orders_by_time_then_kind_and_filters_by_kind_actor_and_finnish_day() -> None:
    wf = at.workflow_entries("w", _timeline(), _runs())
    access = at.access_entries(
        [
            _record(1, T0, "journey.move.advance"),  # same moment as the start
            _record(2, datetime(2026, 3, 4, 22, 30, tzinfo=UTC), "client.read.details", actor=LEAD, role="team_lead"),
        ]
    )
    merged = at.merge(access, wf)
    assert [e.kind for e in merged[:2]] == ["workflow", "access"]
    assert merged == sorted(merged, key=lambda e: e.at)
    assert {e.kind for e in at.apply_filters(merged, at.TraceFilters(kinds=["access"]))} == {"access"}
    by_lead = at.apply_filters(merged, at.TraceFilters(actor_id=LEAD))
    assert {e.actor_id for e in by_lead} == {LEAD} and len(by_lead) == 2
    # 22:30 UTC on 4 March is 5 March in Helsinki.
    day5 = at.apply_filters(merged, at.TraceFilters(start=date(2026, 3, 5), end=date(2026, 3, 5)))
    assert [e.what for e in day5] == ["client.read.details", "move.rest"]
    assert at.apply_filters(merged, at.TraceFilters(start=date(2026, 3, 4), end=date(2026, 3, 4))) == []
    assert at.counts_of(merged) == {"workflow": 4, "event": 0, "access": 2}


def test_actors_are_named_and_listed_once() -> None:
    merged = at.name_actors(at.workflow_entries("w", _timeline(), _runs()), {COACH: "Kaisa Valmentaja"})
    assert merged[0].actor_name == "Kaisa Valmentaja"
    actors = at.actors_of(merged)
    assert [a.actor_id for a in actors].count(COACH) == 1 and {a.actor_id for a in actors} == {COACH, LEAD}


def test_purposes_read_as_words_in_each_language() -> None:
    assert at.purpose_text("complaint:DNRO-1/2026", "fi") == "Kantelu tai muistutus palvelusta (DNRO-1/2026)"
    assert at.purpose_text("supervision", "sv") == "Tillsyn över behandlingen av klientuppgifter"
    assert at.purpose_text("a coach's search for assignment", "en") == "a coach's search for assignment"
    assert at.purpose_text(None, "fi") == ""


def test_purpose_is_a_code_and_a_case_reference_without_spaces() -> None:
    assert at.AuditPurpose(code="complaint", case_reference="DNRO-2026/12").text() == "complaint:DNRO-2026/12"
    assert at.AuditPurpose(code="supervision").text() == "supervision"
    with pytest.raises(ValueError):
        at.AuditPurpose(code="complaint", case_reference="Matti Meikäläinen")
    with pytest.raises(ValueError):
        at.AuditPurpose.model_validate({"code": "curiosity"})


# --------------------------------------------------------------------------- signing


def _trace() -> at.JourneyTrace:
    entries = at.merge(
        at.workflow_entries("w", _timeline(), _runs()), at.access_entries([_record(1, T0, "client.read.details")])
    )
    return at.JourneyTrace(
        organisation_id=ORG,
        client_id=CLIENT,
        workflow_id="w",
        generated_at=T0,
        generated_by=AUDITOR,
        purpose="supervision",
        filters=at.TraceFilters(),
        counts=at.counts_of(entries),
        entries=entries,
    )


def test_a_signed_export_verifies_as_received_and_any_change_fails() -> None:
    signed = at.sign_trace(_trace(), SECRET)
    doc = json.loads(signed.model_dump_json())
    keys = at.known_keys(SECRET)
    assert signed.signature.key_id in keys
    assert at.verify_signed(doc, keys).valid

    changed = copy.deepcopy(doc)
    changed["trace"]["entries"][1]["actor_name"] = "Someone else"
    result = at.verify_signed(changed, keys)
    assert not result.valid and result.problem == "the content does not match its hash"

    # Even with the hash recomputed, the signature no longer matches.
    changed["signature"]["content_sha256"] = __import__("hashlib").sha256(at.canonical(changed["trace"])).hexdigest()
    assert at.verify_signed(changed, keys).problem == "the signature does not match the content"

    dropped = copy.deepcopy(doc)
    del dropped["trace"]["entries"][0]
    assert not at.verify_signed(dropped, keys).valid
    assert at.verify_signed(doc, at.known_keys(b"another deployment's secret")).problem == "signed with an unknown key"
    assert not at.verify_signed({"format": "x"}, keys).valid


def test_the_signing_key_is_stable_for_a_secret() -> None:
    assert at.public_key_out(SECRET) == at.public_key_out(SECRET)
    assert at.public_key_out(SECRET).key_id != at.public_key_out(b"other").key_id


# --------------------------------------------------------------------------- the access report


@pytest.mark.parametrize(
    ("action", "activity"),
    [
        ("client.read.details", "viewed"),
        ("journey.timeline.read", "viewed"),
        ("client.list", "viewed"),
        ("journey.move.advance", "changed"),
        ("records.profile.save", "changed"),
        ("consent.withdraw", "changed"),
        ("client.search", "searched"),
        ("audit.trace.view", "audited"),
        ("something.else", "processed"),
    ],
)
def test_audit_actions_in_the_clients_terms(action: str, activity: str) -> None:
    assert at.activity_of(action) == activity


def _report(lang: str) -> at.AccessReport:
    now = T0 + timedelta(days=10)
    records = [
        _record(1, T0, "client.register"),
        _record(2, T0 + timedelta(days=1), "client.read.details"),
        _record(3, T0 + timedelta(days=2), "client.read.details"),
        _record(4, T0 + timedelta(days=2), "client.search", actor=LEAD, role="team_lead", purpose="assignment"),
        _record(5, T0 + timedelta(days=3), "audit.trace.view", actor=AUDITOR, role="auditor", purpose="supervision"),
        _record(6, T0 + timedelta(days=3), "client.read.details", actor=LEAD, role="team_lead", outcome="denied"),
        _record(7, now - timedelta(days=800), "client.read.details", actor=LEAD, role="team_lead"),
        _record(8, T0, "client.read.details", client_id=uuid.uuid4()),
    ]
    names = {COACH: "Kaisa Valmentaja", LEAD: "Leena Esihenkilö", AUDITOR: "Aila Tarkastaja"}
    return at.access_report(
        records,
        client_id=CLIENT,
        organisation_id=ORG,
        organisation_name="Testi ry",
        names=names,
        now=now,
        lang=lang,
    )


def test_the_access_report_groups_people_with_basis_over_two_years() -> None:
    report = _report("fi")
    assert [line.actor_name for line in report.lines] == ["Kaisa Valmentaja", "Leena Esihenkilö", "Aila Tarkastaja"]
    coach, lead, auditor = report.lines
    assert coach.activities == {"changed": 1, "viewed": 2} and coach.times == 3
    assert lead.activities == {"searched": 1}  # the refused read and the one 800 days ago are out
    assert lead.purposes == ["assignment"]
    assert auditor.activities == {"audited": 1}
    assert report.total == 5
    assert "asiakassuhde" in coach.basis and "lokivalvonta" in auditor.basis
    assert report.period_end == date(2026, 3, 12) and report.period_start.year == 2024


def test_the_access_report_speaks_the_clients_language() -> None:
    bases = {lang: _report(lang).lines[0].basis for lang in ("fi", "sv", "en")}
    assert bases["en"].startswith("Providing the service to you")
    assert "klientrelation" in bases["sv"]
    assert len(set(bases.values())) == 3


# --------------------------------------------------------------------------- documents


def test_the_documents_render_in_their_language_and_as_pdf() -> None:
    from services.reporting import audit_api

    html = audit_api.trace_html(_trace(), "en")
    assert "Journey started" in html and "Moved to the next phase" in html and "Access log" in html
    for lang, title in (("fi", "Kuka on käsitellyt tietojasi"), ("sv", "Vem har behandlat dina uppgifter")):
        assert title in audit_api.access_report_html(_report(lang))
    assert "Leena Esihenkilö" in audit_api.access_report_html(_report("en"), fragment=True)
    pdf = audit_api.render_pdf(audit_api.access_report_html(_report("fi")))
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
