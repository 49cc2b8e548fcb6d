"""The final report (loppuraportti) against the whole stack: a draft assembled from the
journey, the client records, plans and assessments; versions of the coach's text; the
client's comments; approval that locks it; "sent to referrer" only after approval (409s
for steps out of order); the PDF, watermarked until approved; encryption at rest; audit;
another organisation's 404; and the page."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.coaching.plan_models import FinalReportOut
from services.coaching.report_pdf import rendered_text, report_html
from shared.contracts.journey import Role
from tests.conftest import Live, Org
from tests.integration.test_coaching_plans import (
    audit_actions,
    coach_http,
    coaching_db_bytes,
    coaching_rows,
    csrf_of,
    problem,
)

TODAY = date.today()
TEXT = {
    "summary": "Aino aloitti työhönvalmennuksen syksyllä ja työllistyi keväällä.",
    "actions": "Työkokeilu Kotkan satamassa.\nPalkkatuettu työ alkoi.",
    "strengths": "Täsmällisyys, trukkikortti ja hyvä asiakaspalveluote.",
    "next_steps": "Seurantatapaaminen kuukauden kuluttua.",
}


@pytest.fixture(scope="module")
def org(live: Live) -> Org:
    return live.add_org()


def _client(live: Live, org: Org) -> str:
    return str(live.register_client(org, "Aino", "Loppuraportti")["client_id"])


def _report(http: httpx.Client, cid: str) -> dict[str, Any]:
    r = http.get(f"/api/v1/clients/{cid}/final-report")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_draft_is_assembled_from_the_journey_records_plans_and_assessments(live: Live, org: Org) -> None:
    cid = _client(live, org)
    with coach_http(live, org) as coach:
        assert coach.post(f"/api/v1/journeys/{cid}/moves", json={"action": "advance"}).status_code == 200
        meeting = {
            "occurred_at": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
            "duration_minutes": 60,
            "place": "workplace",
            "participants": ["client", "coach"],
        }
        assert coach.post(f"/api/v1/clients/{cid}/meetings", json=meeting).status_code in (200, 201)
        profile = coach.put(f"/api/v1/clients/{cid}/profile", json={"strengths": "Tarkka ja luotettava"})
        assert profile.status_code in (200, 201), profile.text
        assert (
            coach.post(
                f"/api/v1/clients/{cid}/benefits-counselling",
                json={"given_on": TODAY.isoformat(), "topics": ["earnings_adjustment"]},
            ).status_code
            == 201
        )
        assessment = {
            "kind": "start",
            "assessed_on": TODAY.isoformat(),
            "work_ability": 5,
            "self_efficacy_items": [2] * 10,
        }
        assert coach.post(f"/api/v1/clients/{cid}/assessments", json=assessment).status_code == 201
        report = _report(coach, cid)
    assert report["status"] == "draft" and report["saved"] is False and report["version"] == 0
    assert report["sections"] == report["draft"]
    draft = report["draft"]
    assert "Työhönvalmennus alkoi" in draft["summary"] and "Ammatillinen profilointi" in draft["summary"]
    assert "Tapaamisia 1, joista 1 toimiston ulkopuolella." in draft["actions"]
    assert "Ansiotulojen vaikutus etuuksiin" in draft["actions"]
    assert "Tarkka ja luotettava" in draft["strengths"] and "alussa 5, lopussa –" in draft["strengths"]
    facts = report["facts"]
    assert (facts["phase"], facts["meetings"], facts["records_included"]) == ("PROFILING", 1, True)
    assert facts["work_ability"] == {"start": 5, "end": None}
    with live.http(live.username(org, Role.COACH)) as english:
        english.headers["Accept-Language"] = "en"
        assert "Coaching began on" in _report(english, cid)["draft"]["summary"]


def test_report_flow_with_out_of_order_steps_and_pdf(live: Live, org: Org) -> None:
    cid = _client(live, org)
    base = f"/api/v1/clients/{cid}/final-report"
    with coach_http(live, org) as coach:
        # Nothing to approve or send yet.
        assert problem(coach.post(f"{base}/approve"), 409)["code"] == "not_saved"
        assert (
            problem(coach.post(f"{base}/sent-to-referrer", json={"sent_on": TODAY.isoformat()}), 409)["code"]
            == "not_approved"
        )
        draft_pdf = coach.get(f"{base}.pdf")
        assert draft_pdf.status_code == 200 and draft_pdf.headers["content-type"] == "application/pdf"
        assert draft_pdf.content.startswith(b"%PDF")

        first = coach.put(base, json={**TEXT, "next_steps": None})
        assert first.status_code == 200, first.text
        assert (first.json()["version"], first.json()["saved"]) == (1, True)
        second = coach.put(base, json=TEXT).json()
        assert second["version"] == 2 and second["sections"] == TEXT
        assert [v["version"] for v in second["versions"]] == [1, 2]
        assert all(v["author_id"] == str(org.users[Role.COACH.value]) for v in second["versions"])
        assert problem(coach.put(base, json={"summary": "x" * 20_001}), 422)["errors"]
        assert problem(coach.put(base, json={"unknown": "x"}), 422)

        comment = {"commented_on": TODAY.isoformat(), "comment": "Raportti kuvaa hyvin valmennukseni."}
        r = coach.post(f"{base}/client-comments", json=comment)
        assert r.status_code == 201 and r.json()["comments"][0]["comment"] == comment["comment"]
        problem(coach.post(f"{base}/client-comments", json={**comment, "comment": ""}), 422)
        future = (TODAY + timedelta(days=1)).isoformat()
        problem(coach.post(f"{base}/client-comments", json={**comment, "commented_on": future}), 422)

        approved = coach.post(f"{base}/approve")
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "approved" and approved.json()["approved_by"] == str(
            org.users[Role.COACH.value]
        )
        assert problem(coach.post(f"{base}/approve"), 409)["code"] == "already_approved"
        assert problem(coach.put(base, json=TEXT), 409)["code"] == "report_locked"
        assert problem(coach.post(f"{base}/client-comments", json=comment), 409)["code"] == "report_locked"

        yesterday = (TODAY - timedelta(days=1)).isoformat()
        assert (
            problem(coach.post(f"{base}/sent-to-referrer", json={"sent_on": yesterday}), 422)["errors"][0]["field"]
            == "sent_on"
        )
        problem(coach.post(f"{base}/sent-to-referrer", json={"sent_on": future}), 422)
        sent = coach.post(f"{base}/sent-to-referrer", json={"sent_on": TODAY.isoformat()})
        assert sent.status_code == 200 and sent.json()["status"] == "sent"
        assert sent.json()["sent_on"] == TODAY.isoformat()
        assert (
            problem(coach.post(f"{base}/sent-to-referrer", json={"sent_on": TODAY.isoformat()}), 409)["code"]
            == "already_sent"
        )

        final_pdf = coach.get(f"{base}.pdf")
        assert final_pdf.status_code == 200 and final_pdf.content.startswith(b"%PDF")
        assert final_pdf.content != draft_pdf.content
        report = FinalReportOut.model_validate(_report(coach, cid))

    # What the PDF shows: the same HTML the route renders, laid out by WeasyPrint.
    html = report_html(
        report,
        lang="fi",
        client_name="Aino Loppuraportti",
        coach_name="",
        organisation_name="",
        printed_on=TODAY,
    )
    text = rendered_text(html)
    for expected in (TEXT["summary"], "Työkokeilu Kotkan satamassa.", TEXT["strengths"], comment["comment"]):
        assert expected in text
    assert "LUONNOS" not in text and "Hyväksytty" in text

    # Encrypted at rest; every step audited.
    versions = coaching_rows(live, "final_report_versions", cid)
    assert len(versions) == 2 and all(v["sections_enc"].startswith("v1:") for v in versions)
    raw = coaching_db_bytes(live)
    assert "Täsmällisyys".encode() not in raw and b"Raportti kuvaa hyvin" not in raw
    (row,) = coaching_rows(live, "final_reports", cid)
    assert (row["status"], row["version"]) == ("sent", 2)
    actions = audit_actions(live, org, cid)
    for action in (
        "final_report.read",
        "final_report.write",
        "final_report.client_comment",
        "final_report.approve",
        "final_report.sent_to_referrer",
        "final_report.pdf",
    ):
        assert action in actions, action


def test_another_organisation_gets_404(live: Live, org: Org) -> None:
    cid = _client(live, org)
    other = live.add_org()
    base = f"/api/v1/clients/{cid}/final-report"
    with coach_http(live, other) as outsider:
        for method, path, body in (
            ("GET", base, None),
            ("PUT", base, TEXT),
            ("POST", f"{base}/client-comments", {"commented_on": TODAY.isoformat(), "comment": "x"}),
            ("POST", f"{base}/approve", None),
            ("POST", f"{base}/sent-to-referrer", {"sent_on": TODAY.isoformat()}),
            ("GET", f"{base}.pdf", None),
        ):
            r = outsider.request(method, path, json=body)
            assert problem(r, 404)["code"] == "not_found", (method, path)
    with coach_http(live, org) as coach:
        assert _report(coach, cid)["version"] == 0
    assert coaching_rows(live, "final_reports", cid) == []


def test_final_report_page_walks_the_whole_flow(live: Live, org: Org) -> None:
    cid = _client(live, org)
    path = f"/clients/{cid}/final-report"
    with closing(live.browser_session(org, Role.COACH)) as session:
        page = session.get(path)
        assert page.status_code == 200, page.text
        assert "Loppuraportti" in page.text and "Työhönvalmennus alkoi" in page.text
        assert f'href="/api/v1/clients/{cid}/final-report.pdf"' in page.text
        token = csrf_of(page.text)

        early = session.post(path, data={"csrf_token": token, "action": "approve"})
        assert early.status_code == 409 and "Tallenna raportin teksti ennen hyväksymistä." in early.text
        long = session.post(path, data={"csrf_token": token, "action": "save", "summary": "x" * 20_001})
        assert long.status_code == 422 and "Osio on liian pitkä" in long.text
        saved = session.post(path, data={"csrf_token": token, "action": "save", **TEXT})
        assert saved.status_code == 303 and saved.headers["location"] == f"{path}?saved=save"
        assert "Raportti tallennettiin." in session.get(saved.headers["location"]).text
        comment = session.post(
            path,
            data={"csrf_token": token, "action": "comment", "commented_on": TODAY.isoformat(), "comment": "Hyvä."},
        )
        assert comment.status_code == 303
        assert session.post(path, data={"csrf_token": "wrong", "action": "approve"}).status_code == 403
        assert session.post(path, data={"csrf_token": token, "action": "approve"}).status_code == 303
        shown = session.get(path).text
        assert "Hyväksytty" in shown and "Lataa raportti (PDF)" in shown and "Tallenna raportti" not in shown
        sent = session.post(path, data={"csrf_token": token, "action": "sent", "sent_on": TODAY.isoformat()})
        assert sent.status_code == 303
        assert "Raportti on hyväksytty ja lähetetty lähettävälle taholle." in session.get(path).text
        pdf = session.get(f"/api/v1/clients/{cid}/final-report.pdf")  # the page's download link, with the cookie
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    with coach_http(live, org) as coach:
        report = _report(coach, cid)
    assert report["status"] == "sent" and report["sections"] == TEXT and len(report["comments"]) == 1
