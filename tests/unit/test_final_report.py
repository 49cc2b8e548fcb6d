"""The final report's draft, its HTML and PDF, and the plan models' validation, without
the stack."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.coaching import plan_pages, plan_store
from services.coaching.final_report import DraftInputs, build_draft, facts_of
from services.coaching.plan_models import (
    AssessmentIn,
    AssessmentOut,
    BenefitsCounsellingIn,
    BenefitsCounsellingOut,
    ClientCommentOut,
    DisclosurePlanIn,
    DisclosurePlanOut,
    DisclosurePlanRow,
    FeedbackIn,
    FinalReportOut,
    JobSearchPlanIn,
    JobSearchPlanOut,
    ReportSections,
)
from services.coaching.record_models import ClientRecordsSummary, MeetingOut, ProfileOut, TeamMemberOut
from services.coaching.report_pdf import render_pdf, rendered_text, report_html
from shared.contracts.journey import Outcome, Phase, Status
from workflows.contracts import JourneyState, Milestones

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CLIENT = uuid.uuid4()
COACH = uuid.uuid4()


def _state(**extra: Any) -> JourneyState:
    base: dict[str, Any] = {
        "organisation_id": uuid.uuid4(),
        "region_id": "kymenlaakso",
        "client_id": CLIENT,
        "coach_id": COACH,
        "phase": Phase.FOLLOW_ALONG,
        "status": Status.CLOSED,
        "outcome": Outcome.EMPLOYED,
        "since": NOW,
        "episode": 1,
        "episode_started_at": datetime(2025, 9, 1, 9, 0, tzinfo=UTC),
        "milestones": Milestones(first_employer_contact_at=datetime(2025, 9, 20, 9, 0, tzinfo=UTC), jobs_started=1),
        "reminders": [],
        "timeline_length": 7,
    }
    return JourneyState(**(base | extra))


def _meeting(place: str) -> MeetingOut:
    return MeetingOut(
        id=uuid.uuid4(),
        client_id=CLIENT,
        occurred_at=NOW,
        duration_minutes=60,
        place=place,  # type: ignore[arg-type]
        contact_mode="meeting",
        participants=["client", "coach"],
        notes="Luottamuksellinen muistiinpano",
        recorded_by=COACH,
        recorded_at=NOW,
    )


def _inputs(with_records: bool = True) -> DraftInputs:
    profile = ProfileOut(
        client_id=CLIENT,
        version=2,
        author_id=COACH,
        saved_at=NOW,
        changed_fields=["strengths"],
        strengths="Tarkka ja luotettava",
        education="Logistiikan perustutkinto",
        goals="Osa-aikatyö varastossa",
        support_needs="Tauot ja selkeät ohjeet",
    )
    records = ClientRecordsSummary(
        client_id=CLIENT,
        profile=profile,
        meetings=[_meeting("office"), _meeting("workplace"), _meeting("community")],
        team=[
            TeamMemberOut(
                id=uuid.uuid4(),
                client_id=CLIENT,
                role="te_expert",
                name="Tiina TE",
                organisation=None,
                contact=None,
                started_at=NOW,
                started_by=COACH,
                ended_at=None,
                ended_by=None,
                active=True,
            )
        ],
        team_meetings=[],
    )
    plan = JobSearchPlanIn.model_validate(
        {
            "target_jobs": ["Varastotyö"],
            "employers": ["Kotkan Satama Oy"],
            "steps": [
                {"text": "Päivitä CV", "done": True},
                {"text": "Työhaastattelu", "due_on": "2026-03-10"},
            ],
        }
    )
    disclosure = DisclosurePlanIn.model_validate(
        {"a": {"discussed": True, "discussed_on": "2025-09-05"}, "b": {"discussed": True, "discussed_on": "2025-09-05"}}
    )
    return DraftInputs(
        state=_state(),
        timeline=[],
        records=records if with_records else None,
        job_plan=JobSearchPlanOut(**plan.model_dump(), client_id=CLIENT, version=1),
        disclosure=DisclosurePlanOut(
            **disclosure.model_dump(), client_id=CLIENT, version=1, criteria_met=2, score=3, next_revisit_on=None
        ),
        benefits=[
            BenefitsCounsellingOut(
                id=uuid.uuid4(),
                client_id=CLIENT,
                given_on=date(2025, 9, 10),
                topics=["earnings_adjustment"],
                note=None,
                recorded_by=COACH,
                recorded_at=NOW,
            )
        ],
        assessments=[
            AssessmentOut(
                id=uuid.uuid4(),
                client_id=CLIENT,
                kind=kind,  # type: ignore[arg-type]
                assessed_on=date(2025, 9, 1),
                work_ability=work,
                self_efficacy_items=[2] * 10,
                self_efficacy=efficacy,
                note=None,
                recorded_by=COACH,
                recorded_at=NOW,
            )
            for kind, work, efficacy in (("start", 4, 20), ("end", 7, 31))
        ],
    )


# --------------------------------------------------------------------------- the draft


def test_draft_is_assembled_from_journey_records_plans_and_assessments() -> None:
    draft = build_draft(_inputs(), "fi")
    assert draft.summary and "Työhönvalmennus alkoi 1.9.2025." in draft.summary
    assert "Valmennus päättyi: Työllistynyt." in draft.summary and "Osa-aikatyö varastossa" in draft.summary
    assert draft.actions and "Tapaamisia 3, joista 2 toimiston ulkopuolella." in draft.actions
    assert "Ensimmäinen työnantajakontakti 20.9.2025." in draft.actions
    assert "Etuusneuvonta 10.9.2025: Ansiotulojen vaikutus etuuksiin (sovittelu)." in draft.actions
    assert "2 neljästä kriteeristä" in draft.actions and "Päivitä CV" in draft.actions
    assert "Moniammatillinen tiimi:" in draft.actions
    assert draft.strengths and "Tarkka ja luotettava" in draft.strengths
    assert "Työkykypistemäärä (0–10): alussa 4, lopussa 7." in draft.strengths
    assert "Pystyvyyden tunne (10–40): alussa 20, lopussa 31." in draft.strengths
    assert draft.next_steps and "Työhaastattelu (10.3.2026 mennessä)" in draft.next_steps
    assert "Päivitä CV" not in draft.next_steps  # done steps are actions, not next steps
    assert "Luottamuksellinen" not in str(draft)  # meeting notes stay out of the report


def test_draft_in_english_and_without_client_records() -> None:
    draft = build_draft(_inputs(with_records=False), "en")
    assert draft.summary == (
        "Coaching began on 01/09/2025. Phase now: Follow-along support.\n\nThe coaching ended: Employed."
    )
    assert draft.actions and "meetings" not in draft.actions
    facts = facts_of(_inputs(with_records=False))
    assert facts.records_included is False and facts.meetings == 0
    assert (facts.work_ability.start, facts.work_ability.end) == (4, 7)


def test_facts_count_meetings_outside_the_office_and_criteria() -> None:
    facts = facts_of(_inputs())
    assert (facts.meetings, facts.meetings_outside_office) == (3, 2)
    assert facts.disclosure_criteria == ["a", "b"] and facts.team_roles == ["te_expert"]
    assert facts.benefits_counselling == [date(2025, 9, 10)] and facts.outcome == "employed"


# --------------------------------------------------------------------------- HTML and PDF


def _report(status: str = "draft") -> FinalReportOut:
    inputs = _inputs()
    sections = ReportSections(
        summary="Aino aloitti valmennuksen syksyllä.",
        actions="Työkokeilu satamassa.\nTyösopimus alkoi.",
        strengths="Täsmällisyys",
        next_steps=None,
    )
    approved = status != "draft"
    return FinalReportOut(
        client_id=CLIENT,
        status=status,  # type: ignore[arg-type]
        saved=True,
        version=2,
        sections=sections,
        draft=build_draft(inputs, "fi"),
        versions=[],
        comments=[
            ClientCommentOut(
                id=uuid.uuid4(),
                commented_on=date(2026, 3, 1),
                comment="Hyvä yhteenveto.",
                recorded_by=COACH,
                recorded_at=NOW,
            )
        ],
        approved_at=NOW if approved else None,
        approved_by=COACH if approved else None,
        sent_on=None,
        sent_recorded_by=None,
        sent_recorded_at=None,
        facts=facts_of(inputs),
    )


def _html(status: str, lang: str = "fi") -> str:
    return report_html(
        _report(status),
        lang=lang,
        client_name="Aino <Korhonen>",
        coach_name="Kaisa Valmentaja",
        organisation_name="Kymen työhönvalmennus",
        printed_on=date(2026, 3, 2),
    )


def test_report_html_has_the_text_escaped_and_a_draft_watermark() -> None:
    html = _html("draft")
    assert "Aino &lt;Korhonen&gt;" in html and "<Korhonen>" not in html
    assert "Työkokeilu satamassa.<br>Työsopimus alkoi." in html
    assert 'class="watermark">LUONNOS<' in html and "Luonnos, ei hyväksytty" in html
    assert "Hyvä yhteenveto." in html and "Loppuraportti" in html
    approved = _html("approved")
    assert "watermark" not in approved.split("<body>")[1] and "Hyväksytty 2.3.2026" in approved
    assert 'class="watermark">DRAFT<' in _html("draft", "en")
    assert not re.search(r"<script", html)


def test_pdf_is_rendered_with_the_report_text() -> None:
    html = _html("draft")
    pdf = render_pdf(html)
    assert pdf.startswith(b"%PDF") and len(pdf) > 5_000
    text = rendered_text(html)
    for expected in (
        "Loppuraportti",
        "Aino <Korhonen>",
        "Aino aloitti valmennuksen syksyllä.",
        "Täsmällisyys",
        "LUONNOS",
    ):
        assert expected in text
    assert "LUONNOS" not in rendered_text(_html("approved"))


# --------------------------------------------------------------------------- models and forms


def _errors(model: type[Any], data: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return {e["type"] for e in info.value.errors()}


def test_plan_models_validate_ranges_and_dates() -> None:
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert _errors(DisclosurePlanIn, {"a": {"discussed": True}}) == {"discussed_needs_date"}
    assert _errors(DisclosurePlanIn, {"b": {"discussed_on": "2025-01-01"}}) == {"date_needs_discussed"}
    assert _errors(DisclosurePlanIn, {"c": {"discussed": True, "discussed_on": tomorrow}}) == {"date_future"}
    assert _errors(BenefitsCounsellingIn, {"given_on": "2025-01-01", "topics": ["other", "other"]}) == {"duplicate"}
    items = [2] * 10
    assert _errors(
        AssessmentIn, {"kind": "start", "assessed_on": "2025-01-01", "work_ability": 11, "self_efficacy_items": items}
    )
    assert _errors(
        AssessmentIn,
        {"kind": "start", "assessed_on": "2025-01-01", "work_ability": 5, "self_efficacy_items": items[:9]},
    )
    assert _errors(
        AssessmentIn,
        {"kind": "start", "assessed_on": "2025-01-01", "work_ability": 5, "self_efficacy_items": [0, *items[1:]]},
    )
    assert _errors(FeedbackIn, {"answered_on": "2025-01-01", "answers": {"goals_clearer": 6}})
    assert _errors(FeedbackIn, {"answered_on": "2025-01-01", "answers": {"unknown_question": 3}})
    assert _errors(FeedbackIn, {"answered_on": "2025-01-01", "answers": {}})
    ok = AssessmentIn.model_validate(
        {"kind": "end", "assessed_on": "2025-01-01", "work_ability": 0, "self_efficacy_items": [4] * 10}
    )
    assert ok.work_ability == 0


def test_disclosure_news_reports_new_criteria_and_held_revisits_once() -> None:
    plan = DisclosurePlanIn.model_validate(
        {
            "a": {"discussed": True, "discussed_on": "2025-09-05"},
            "c": {"discussed": True, "discussed_on": "2025-09-01"},
            "revisits": [{"planned_on": "2025-11-01", "held_on": "2025-11-03"}, {"planned_on": "2026-01-01"}],
        }
    )
    assert plan_store.disclosure_news(None, plan) == [
        ("c", date(2025, 9, 1)),
        ("a", date(2025, 9, 5)),
        ("d", date(2025, 11, 3)),
    ]
    previous = DisclosurePlanRow(criteria_discussed=["a", "c"], revisits_held=["2025-11-03"])
    assert plan_store.disclosure_news(previous, plan) == []
    assert plan_store.next_revisit(plan) == date(2026, 1, 1)


def test_form_rows_and_errors_map_to_the_right_controls() -> None:
    form = {
        "target_jobs": "Varasto\n\n Siivous ",
        "employers": "",
        "hours_per_week": "25",
        "notes": "",
        "step_rows": "3",
        "step_text_0": "",
        "step_due_0": "",
        "step_text_1": "",
        "step_due_1": "2026-05-01",
        "step_text_2": "CV",
    }
    data, index_map = plan_pages.job_plan_data(form)
    assert data["target_jobs"] == ["Varasto", "Siivous"] and index_map == {"steps": [1, 2]}
    with pytest.raises(ValidationError) as info:
        JobSearchPlanIn.model_validate(data)
    errors = plan_pages.field_errors(info.value.errors(), "fi", index_map)
    assert list(errors) == ["step_text_1"]  # the empty text of the second form row
    with pytest.raises(ValidationError) as info:
        DisclosurePlanIn.model_validate({"a": {"discussed": True}, "revisits": [{"planned_on": "x"}]})
    errors = plan_pages.field_errors(info.value.errors(), "fi", {"revisits": [4]})
    assert errors == {"a": "Anna päivä, jolloin asiasta keskusteltiin.", "revisit_planned_4": "Anna päivämäärä."}
