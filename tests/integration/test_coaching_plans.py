"""Plans, self-assessments and feedback against the whole stack: the job search plan, the
disclosure checklist (milestones reach the ClientJourney), benefits counselling, start and
end self-assessments and the feedback survey (events reach reporting), free text encrypted
at rest, audit records, 404 for another organisation, 422 with nothing written, and the
pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from shared.contracts.journey import Role
from tests.conftest import Live, Org, run_sync, wait_for

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TODAY = date.today()


# --------------------------------------------------------------------------- helpers


def coach_http(live: Live, org: Org) -> httpx.Client:
    return live.http(live.username(org, Role.COACH))


def new_client(live: Live, org: Org) -> str:
    return str(live.register_client(org, "Sanni", "Suunnitelma")["client_id"])


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    return body


def coaching_rows(live: Live, table: str, client_id: str) -> list[dict[str, Any]]:
    """The raw rows of a coaching table for one client, as stored (ciphertext and all)."""
    return live.rows("coaching", f"SELECT * FROM {table} WHERE client_id = ?", client_id)


def coaching_db_bytes(live: Live) -> bytes:
    """Every byte the coaching database holds, the write-ahead log included."""
    return live.database_bytes("coaching")


def audit_actions(live: Live, org: Org, client_id: str) -> list[str]:
    from shared.audit import AuditLog
    from shared.db import Database

    async def go() -> list[str]:
        db = Database(live.settings, "platform")
        try:
            return [r.action for r in await AuditLog(db).records(org.id, uuid.UUID(client_id))]
        finally:
            await db.dispose()

    return run_sync(go())


def journey(live: Live, org: Org, client_id: str) -> dict[str, Any]:
    with coach_http(live, org) as http:
        r = http.get(f"/api/v1/journeys/{client_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def milestones(live: Live, org: Org, client_id: str, kind: str) -> list[dict[str, Any]]:
    with coach_http(live, org) as http:
        r = http.get(f"/api/v1/journeys/{client_id}/timeline")
        assert r.status_code == 200, r.text
        return [e for e in r.json() if e["kind"] == "milestone" and e["milestone"] == kind]


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no csrf token in the page"
    return match.group(1)


@pytest.fixture(scope="module")
def org(live: Live) -> Org:
    return live.add_org()


@pytest.fixture(scope="module")
def other_org(live: Live) -> Org:
    return live.add_org()


@pytest.fixture()
def coach(live: Live, org: Org) -> Iterator[httpx.Client]:
    with coach_http(live, org) as http:
        yield http


# --------------------------------------------------------------------------- job search plan

PLAN = {
    "target_jobs": ["Varastotyöntekijä", "Kiinteistöhuolto"],
    "employers": ["Kotkan Satama Oy", "Haminan Huolto Ky"],
    "hours_per_week": 25,
    "steps": [
        {"text": "Päivitä CV yhdessä valmentajan kanssa", "due_on": (TODAY + timedelta(days=7)).isoformat()},
        {"text": "Soita Kotkan Satamaan", "due_on": None, "done": True},
    ],
    "notes": "Asiakas toivoo aamuvuoroja; selkä ei kestä raskaita nostoja.",
}


def test_job_search_plan_is_saved_encrypted_and_audited(live: Live, org: Org, coach: httpx.Client) -> None:
    cid = new_client(live, org)
    empty = coach.get(f"/api/v1/clients/{cid}/job-search-plan")
    assert empty.status_code == 200, empty.text
    assert empty.json()["version"] == 0 and empty.json()["steps"] == []

    r = coach.put(f"/api/v1/clients/{cid}/job-search-plan", json=PLAN)
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["version"] == 1 and saved["updated_by"] == str(org.users[Role.COACH.value])
    assert saved["target_jobs"] == PLAN["target_jobs"] and saved["hours_per_week"] == 25
    assert [s["done"] for s in saved["steps"]] == [False, True]

    again = coach.get(f"/api/v1/clients/{cid}/job-search-plan").json()
    assert {k: again[k] for k in PLAN} == {k: saved[k] for k in PLAN}
    assert (
        coach.put(f"/api/v1/clients/{cid}/job-search-plan", json={**PLAN, "hours_per_week": 30}).json()["version"] == 2
    )

    (row,) = coaching_rows(live, "job_search_plans", cid)
    assert row["content_enc"].startswith("v1:") and "aamuvuoroja" not in row["content_enc"]
    raw = coaching_db_bytes(live)
    for text in ("aamuvuoroja", "Kotkan Satama", "Varastotyöntekijä"):
        assert text.encode() not in raw, f"{text} in clear in the coaching database"
    actions = audit_actions(live, org, cid)
    assert actions.count("plans.job_search.read") == 2 and actions.count("plans.job_search.write") == 2


def test_bad_job_search_plan_is_422_and_writes_nothing(live: Live, org: Org, coach: httpx.Client) -> None:
    cid = new_client(live, org)
    assert coach.put(f"/api/v1/clients/{cid}/job-search-plan", json=PLAN).status_code == 200
    for bad in (
        {**PLAN, "hours_per_week": 100},
        {**PLAN, "steps": [{"text": "", "due_on": None}]},
        {**PLAN, "steps": [{"text": "x", "due_on": "not a date"}]},
        {**PLAN, "unknown": 1},
        {**PLAN, "target_jobs": ["x" * 201]},
    ):
        body = problem(coach.put(f"/api/v1/clients/{cid}/job-search-plan", json=bad), 422)
        assert body["code"] == "validation_failed" and body["errors"]
    after = coach.get(f"/api/v1/clients/{cid}/job-search-plan").json()
    assert after["version"] == 1 and after["hours_per_week"] == 25


# --------------------------------------------------------------------------- disclosure plan


def _criteria(**discussed: str) -> dict[str, Any]:
    return {
        code: (
            {"discussed": True, "discussed_on": discussed[code], "note": f"Kriteeri {code} käyty läpi."}
            if code in discussed
            else {"discussed": False}
        )
        for code in "abcd"
    }


def test_disclosure_checklist_reports_each_new_criterion_to_the_journey(
    live: Live, org: Org, coach: httpx.Client
) -> None:
    cid = new_client(live, org)
    empty = coach.get(f"/api/v1/clients/{cid}/disclosure-plan").json()
    assert (empty["criteria_met"], empty["score"], empty["version"]) == (0, 1, 0)

    day = (TODAY - timedelta(days=3)).isoformat()
    plan = {**_criteria(a=day, b=day), "revisits": [{"planned_on": (TODAY + timedelta(days=60)).isoformat()}]}
    r = coach.put(f"/api/v1/clients/{cid}/disclosure-plan", json=plan)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["criteria_met"], body["score"]) == (2, 3)
    assert body["next_revisit_on"] == (TODAY + timedelta(days=60)).isoformat()
    assert body["a"]["note"] == "Kriteeri a käyty läpi."
    assert sorted(m["criterion"] for m in milestones(live, org, cid, "disclosure_discussed")) == ["a", "b"]
    assert journey(live, org, cid)["milestones"]["disclosure_criteria"] == ["a", "b"]

    # Saving the same again reports nothing new; a held revisit and criterion c do.
    assert coach.put(f"/api/v1/clients/{cid}/disclosure-plan", json=plan).status_code == 200
    assert len(milestones(live, org, cid, "disclosure_discussed")) == 2
    plan = {
        **_criteria(a=day, b=day, c=TODAY.isoformat()),
        "revisits": [{"planned_on": day, "held_on": TODAY.isoformat(), "note": "Palattiin aiheeseen."}],
    }
    body = coach.put(f"/api/v1/clients/{cid}/disclosure-plan", json=plan).json()
    assert body["version"] == 3 and body["next_revisit_on"] is None
    found = milestones(live, org, cid, "disclosure_discussed")
    assert sorted(m["criterion"] for m in found) == ["a", "b", "c", "d"]
    assert journey(live, org, cid)["milestones"]["disclosure_criteria"] == ["a", "b", "c", "d"]

    (row,) = coaching_rows(live, "disclosure_plans", cid)
    assert "Palattiin" not in row["content_enc"] and b"Palattiin aiheeseen" not in coaching_db_bytes(live)
    assert "plans.disclosure.write" in audit_actions(live, org, cid)


def test_bad_disclosure_plan_is_422_reports_nothing_and_writes_nothing(
    live: Live, org: Org, coach: httpx.Client
) -> None:
    cid = new_client(live, org)
    tomorrow = (TODAY + timedelta(days=1)).isoformat()
    for bad in (
        {"a": {"discussed": True}},  # no date
        {"a": {"discussed": False, "discussed_on": TODAY.isoformat()}},  # date without the tick
        {"a": {"discussed": True, "discussed_on": tomorrow}},  # in the future
        {"revisits": [{"planned_on": TODAY.isoformat(), "held_on": tomorrow}]},
        {"e": {"discussed": True, "discussed_on": TODAY.isoformat()}},
    ):
        body = problem(coach.put(f"/api/v1/clients/{cid}/disclosure-plan", json=bad), 422)
        assert body["errors"]
    kinds = {
        e["type"]
        for e in problem(coach.put(f"/api/v1/clients/{cid}/disclosure-plan", json={"a": {"discussed": True}}), 422)[
            "errors"
        ]
    }
    assert kinds == {"discussed_needs_date"}
    assert coach.get(f"/api/v1/clients/{cid}/disclosure-plan").json()["version"] == 0
    assert milestones(live, org, cid, "disclosure_discussed") == []
    assert coaching_rows(live, "disclosure_plans", cid) == []


# --------------------------------------------------------------------------- benefits counselling


def test_benefits_counselling_is_recorded_and_reported_to_the_journey(
    live: Live, org: Org, coach: httpx.Client
) -> None:
    cid = new_client(live, org)
    day = (TODAY - timedelta(days=1)).isoformat()
    body = {"given_on": day, "topics": ["earnings_adjustment", "housing_allowance"], "note": "Soviteltu päiväraha."}
    r = coach.post(f"/api/v1/clients/{cid}/benefits-counselling", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["topics"] == ["earnings_adjustment", "housing_allowance"]
    listed = coach.get(f"/api/v1/clients/{cid}/benefits-counselling").json()
    assert [b["note"] for b in listed] == ["Soviteltu päiväraha."]
    assert len(milestones(live, org, cid, "benefits_counselling_given")) == 1
    assert journey(live, org, cid)["milestones"]["benefits_counselling_at"] is not None

    (row,) = coaching_rows(live, "benefits_counselling", cid)
    assert row["note_enc"].startswith("v1:") and b"Soviteltu" not in coaching_db_bytes(live)
    for bad in (
        {**body, "topics": []},
        {**body, "topics": ["lottery"]},
        {**body, "topics": ["other", "other"]},
        {**body, "given_on": (TODAY + timedelta(days=1)).isoformat()},
    ):
        problem(coach.post(f"/api/v1/clients/{cid}/benefits-counselling", json=bad), 422)
    assert len(coach.get(f"/api/v1/clients/{cid}/benefits-counselling").json()) == 1
    assert len(milestones(live, org, cid, "benefits_counselling_given")) == 1


def test_a_closed_journey_refuses_milestones_with_409_and_nothing_is_written(
    live: Live, org: Org, coach: httpx.Client
) -> None:
    cid = new_client(live, org)
    r = coach.post(f"/api/v1/journeys/{cid}/moves", json={"action": "close", "outcome": "discontinued"})
    assert r.status_code == 200, r.text
    body = problem(coach.put(f"/api/v1/clients/{cid}/disclosure-plan", json=_criteria(a=TODAY.isoformat())), 409)
    assert body["code"] == "closed_accepts_only_reopen"
    assert coach.get(f"/api/v1/clients/{cid}/disclosure-plan").json()["version"] == 0
    body = problem(
        coach.post(
            f"/api/v1/clients/{cid}/benefits-counselling", json={"given_on": TODAY.isoformat(), "topics": ["other"]}
        ),
        409,
    )
    assert coach.get(f"/api/v1/clients/{cid}/benefits-counselling").json() == []
    # A plan without milestones can still be written down after closing.
    assert coach.put(f"/api/v1/clients/{cid}/job-search-plan", json=PLAN).status_code == 200


# --------------------------------------------------------------------------- assessments, feedback


def _assessment(kind: str, work: int, items: list[int], day: date = TODAY) -> dict[str, Any]:
    return {"kind": kind, "assessed_on": day.isoformat(), "work_ability": work, "self_efficacy_items": items}


def test_assessments_and_feedback_reach_reporting(live: Live) -> None:
    org = live.add_org()  # its own organisation, so the report holds exactly this client
    cid = new_client(live, org)
    with coach_http(live, org) as coach:
        start = coach.post(
            f"/api/v1/clients/{cid}/assessments",
            json={**_assessment("start", 4, [2] * 10, TODAY - timedelta(days=90)), "note": "Jännittää alkua."},
        )
        assert start.status_code == 201, start.text
        assert start.json()["self_efficacy"] == 20
        end = coach.post(f"/api/v1/clients/{cid}/assessments", json=_assessment("end", 7, [3] * 10))
        assert end.status_code == 201 and end.json()["self_efficacy"] == 30
        assert (
            problem(coach.post(f"/api/v1/clients/{cid}/assessments", json=_assessment("end", 8, [4] * 10)), 409)["code"]
            == "assessment_exists"
        )
        assert [a["kind"] for a in coach.get(f"/api/v1/clients/{cid}/assessments").json()] == ["start", "end"]

        answers = {"goals_clearer": 4, "job_search_skills": 5, "would_recommend": 5}
        r = coach.post(
            f"/api/v1/clients/{cid}/feedback",
            json={"answered_on": TODAY.isoformat(), "answers": answers, "comment": "Sain paljon tukea."},
        )
        assert r.status_code == 201, r.text
        assert coach.get(f"/api/v1/clients/{cid}/feedback").json()[0]["comment"] == "Sain paljon tukea."

        def report() -> dict[str, Any] | None:
            body: dict[str, Any] = coach.get("/api/v1/reports/assessments").json()
            work = next(i for i in body["instruments"] if i["instrument"] == "work_ability")
            questions = {q["question"]: q for q in body["feedback"]}
            return body if work["clients"] == 1 and "goals_clearer" in questions else None

        body = wait_for(report)
    instruments = {i["instrument"]: i for i in body["instruments"]}
    assert (instruments["work_ability"]["mean_start"], instruments["work_ability"]["mean_end"]) == (40.0, 70.0)
    # 20 and 30 on the scale 10-40 are a third and two thirds of the way.
    assert (instruments["self_efficacy"]["mean_start"], instruments["self_efficacy"]["mean_end"]) == (33.3, 66.7)
    assert instruments["self_efficacy"]["improved"] == 1
    questions = {q["question"]: q for q in body["feedback"]}
    assert questions["goals_clearer"]["mean"] == 4.0 and questions["job_search_skills"]["distribution"]["5"] == 1

    raw = coaching_db_bytes(live)
    assert b"Sain paljon tukea" not in raw and "Jännittää alkua".encode() not in raw
    assert {"assessments.write.start", "assessments.write.end", "feedback.write"} <= set(audit_actions(live, org, cid))


def test_bad_assessment_and_feedback_are_422_and_publish_nothing(live: Live, org: Org, coach: httpx.Client) -> None:
    cid = new_client(live, org)
    for bad in (
        _assessment("start", 11, [2] * 10),
        _assessment("start", -1, [2] * 10),
        _assessment("start", 5, [2] * 9),
        _assessment("start", 5, [2] * 9 + [5]),
        _assessment("middle", 5, [2] * 10),
        _assessment("start", 5, [2] * 10, TODAY + timedelta(days=1)),
    ):
        problem(coach.post(f"/api/v1/clients/{cid}/assessments", json=bad), 422)
    for bad_answers in ({}, {"goals_clearer": 6}, {"goals_clearer": 0}, {"favourite_colour": 3}):
        problem(
            coach.post(
                f"/api/v1/clients/{cid}/feedback", json={"answered_on": TODAY.isoformat(), "answers": bad_answers}
            ),
            422,
        )
    assert coach.get(f"/api/v1/clients/{cid}/assessments").json() == []
    assert coach.get(f"/api/v1/clients/{cid}/feedback").json() == []
    assert coaching_rows(live, "self_assessments", cid) == [] and coaching_rows(live, "client_feedback", cid) == []


# --------------------------------------------------------------------------- organisations, roles

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "job-search-plan", None),
    ("PUT", "job-search-plan", PLAN),
    ("GET", "disclosure-plan", None),
    ("PUT", "disclosure-plan", _criteria(a=TODAY.isoformat())),
    ("GET", "benefits-counselling", None),
    ("POST", "benefits-counselling", {"given_on": TODAY.isoformat(), "topics": ["other"]}),
    ("GET", "assessments", None),
    ("POST", "assessments", _assessment("start", 5, [2] * 10)),
    ("GET", "feedback", None),
    ("POST", "feedback", {"answered_on": TODAY.isoformat(), "answers": {"goals_clearer": 3}}),
]


def test_another_organisation_gets_404_and_nothing_changes(live: Live, org: Org, other_org: Org) -> None:
    cid = new_client(live, org)
    with coach_http(live, other_org) as outsider:
        for method, path, body in ROUTES:
            r = outsider.request(method, f"/api/v1/clients/{cid}/{path}", json=body)
            assert problem(r, 404)["code"] == "not_found", (method, path)
            assert "Sanni" not in r.text
    with coach_http(live, org) as coach:
        assert coach.get(f"/api/v1/clients/{cid}/job-search-plan").json()["version"] == 0
        assert coach.get(f"/api/v1/clients/{cid}/assessments").json() == []
    assert all(not a.startswith(("plans.", "assessments.", "feedback.")) for a in audit_actions(live, other_org, cid))


def test_roles_without_plans_are_refused(live: Live, org: Org) -> None:
    cid = new_client(live, org)
    for role in (Role.EMPLOYER_COORDINATOR, Role.REGION_ANALYST, Role.ORG_ADMIN):
        with live.http(live.username(org, role)) as http:
            assert problem(http.get(f"/api/v1/clients/{cid}/disclosure-plan"), 403)["code"] == "forbidden"
            problem(http.put(f"/api/v1/clients/{cid}/job-search-plan", json=PLAN), 403)
    with live.http(live.username(org, Role.TEAM_LEAD)) as lead:
        assert lead.put(f"/api/v1/clients/{cid}/job-search-plan", json=PLAN).status_code == 200


def test_openapi_documents_the_routes(live: Live) -> None:
    spec = httpx.get(f"{live.base_url}/api/v1/coaching/openapi.json", timeout=30).json()
    for path in ("job-search-plan", "disclosure-plan", "benefits-counselling", "assessments", "feedback"):
        item = spec["paths"][f"/api/v1/clients/{{client_id}}/{path}"]
        for operation in item.values():
            assert "200" in operation["responses"] or "201" in operation["responses"]
            assert "404" in operation["responses"]
    assert "DisclosurePlanOut" in spec["components"]["schemas"]


# --------------------------------------------------------------------------- pages


def test_plans_page_saves_forms_and_shows_errors_beside_fields(live: Live, org: Org) -> None:
    cid = new_client(live, org)
    with closing(live.browser_session(org, Role.COACH)) as session:
        page = session.get(f"/clients/{cid}/plans")
        assert page.status_code == 200, page.text
        for text in ("Työnhakusuunnitelma", "Työkyvyn rajoitteista kertominen", "Etuusneuvonta", "Kriteeri a"):
            assert text in page.text
        token = csrf_of(page.text)
        form = {
            "csrf_token": token,
            "form": "job_search",
            "target_jobs": "Varastotyö\nSiivous",
            "employers": "Kotkan Satama Oy",
            "hours_per_week": "20",
            "step_rows": "2",
            "step_text_0": "Päivitä CV",
            "step_due_0": (TODAY + timedelta(days=5)).isoformat(),
            "step_text_1": "",
            "notes": "Sivulta tallennettu.",
        }
        r = session.post(f"/clients/{cid}/plans", data=form)
        assert r.status_code == 303 and r.headers["location"].startswith(f"/clients/{cid}/plans?saved=job_search")
        shown = session.get(r.headers["location"])
        assert "Työnhakusuunnitelma tallennettiin." in shown.text and "Päivitä CV" in shown.text

        bad = session.post(f"/clients/{cid}/plans", data={**form, "hours_per_week": "500"})
        assert bad.status_code == 422
        assert "Anna tunnit kokonaislukuna, 1–60." in bad.text and 'aria-invalid="true"' in bad.text
        disclosure = session.post(
            f"/clients/{cid}/plans",
            data={
                "csrf_token": token,
                "form": "disclosure",
                "a_discussed": "1",
                "a_discussed_on": "",
                "revisit_rows": "0",
            },
        )
        assert disclosure.status_code == 422 and "Anna päivä, jolloin asiasta keskusteltiin." in disclosure.text
        ok = session.post(
            f"/clients/{cid}/plans",
            data={
                "csrf_token": token,
                "form": "disclosure",
                "a_discussed": "1",
                "a_discussed_on": TODAY.isoformat(),
                "revisit_rows": "1",
                "revisit_planned_0": (TODAY + timedelta(days=61)).isoformat(),
            },
        )
        assert ok.status_code == 303, ok.text
        benefits = session.post(
            f"/clients/{cid}/plans",
            data={"csrf_token": token, "form": "benefits", "given_on": TODAY.isoformat(), "note": "x"},
        )
        assert benefits.status_code == 422 and "Valitse vähintään yksi aihe." in benefits.text
        assert session.post(f"/clients/{cid}/plans", data={**form, "csrf_token": "wrong"}).status_code == 403
    with coach_http(live, org) as coach:
        plan = coach.get(f"/api/v1/clients/{cid}/job-search-plan").json()
        assert plan["hours_per_week"] == 20 and [s["text"] for s in plan["steps"]] == ["Päivitä CV"]
        assert coach.get(f"/api/v1/clients/{cid}/disclosure-plan").json()["criteria_met"] == 1
        assert coach.get(f"/api/v1/clients/{cid}/benefits-counselling").json() == []
    assert [m["criterion"] for m in milestones(live, org, cid, "disclosure_discussed")] == ["a"]


def test_assessments_page_records_an_assessment_and_feedback(live: Live, org: Org) -> None:
    cid = new_client(live, org)
    with closing(live.browser_session(org, Role.COACH)) as session:
        page = session.get(f"/clients/{cid}/assessments")
        assert page.status_code == 200 and "Pystyvyyden tunne" in page.text and "Väittämä 10" in page.text
        token = csrf_of(page.text)
        form = {"csrf_token": token, "form": "assessment", "kind": "start", "assessed_on": TODAY.isoformat()}
        form |= {"work_ability": "6"} | {f"gse_{i}": "3" for i in range(1, 11)}
        missing = session.post(f"/clients/{cid}/assessments", data={**form, "gse_10": ""})
        assert missing.status_code == 422 and "Vastaa jokaiseen väittämään." in missing.text
        r = session.post(f"/clients/{cid}/assessments", data=form)
        assert r.status_code == 303, r.text
        again = session.post(f"/clients/{cid}/assessments", data=form)
        assert again.status_code == 409 and "Tämä itsearviointi on jo kirjattu." in again.text
        feedback = {"csrf_token": token, "form": "feedback", "answered_on": TODAY.isoformat(), "q_goals_clearer": "5"}
        assert session.post(f"/clients/{cid}/assessments", data=feedback).status_code == 303
        shown = session.get(f"/clients/{cid}/assessments")
        assert "Työhön liittyvät tavoitteeni selkiytyivät." in shown.text and ">30<" in shown.text.replace(" ", "")
    with coach_http(live, org) as coach:
        (a,) = coach.get(f"/api/v1/clients/{cid}/assessments").json()
        assert (a["kind"], a["work_ability"], a["self_efficacy"]) == ("start", 6, 30)


def test_pages_of_another_organisations_client_are_404(live: Live, org: Org, other_org: Org) -> None:
    cid = new_client(live, org)
    with closing(live.browser_session(other_org, Role.COACH)) as session:
        for path in ("plans", "assessments", "final-report"):
            r = session.get(f"/clients/{cid}/{path}")
            assert r.status_code == 404 and "Sanni" not in r.text
            assert session.post(f"/clients/{cid}/{path}", data={"form": "job_search"}).status_code == 404


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_plan_pages_render_in_each_language(live: Live, org: Org, lang: str) -> None:
    cid = new_client(live, org)
    expected = {"sv": ("Jobbsökningsplan", "Självbedömningar"), "en": ("Job search plan", "Self-assessments")}[lang]
    with closing(live.browser_session(org, Role.COACH)) as session:
        session.cookies.set("polku_lang", lang)
        assert expected[0] in session.get(f"/clients/{cid}/plans").text
        assert expected[1] in session.get(f"/clients/{cid}/assessments").text


def test_first_saves_at_the_same_moment_both_succeed(live: Live, org: Org) -> None:
    """Two people saving a client's first plan or report draft at once (coach and team
    lead): neither gets a server error, and there is one row each (the later save wins)."""
    from concurrent.futures import ThreadPoolExecutor

    report = {"summary": "Yhteenveto.", "actions": "Toimet.", "strengths": "Vahvuudet.", "next_steps": None}
    for _ in range(3):  # each round a new client, so both saves race to create the row
        cid = new_client(live, org)
        saves = [
            (Role.COACH, f"/api/v1/clients/{cid}/job-search-plan", PLAN),
            (Role.TEAM_LEAD, f"/api/v1/clients/{cid}/job-search-plan", {**PLAN, "hours_per_week": 30}),
            (Role.COACH, f"/api/v1/clients/{cid}/final-report", report),
            (Role.TEAM_LEAD, f"/api/v1/clients/{cid}/final-report", report),
        ]
        clients = [live.http(live.username(org, role)) for role, _, _ in saves]
        try:
            with ThreadPoolExecutor(max_workers=len(saves)) as pool:
                answers = list(
                    pool.map(lambda pair: pair[0].put(pair[1][1], json=pair[1][2]), zip(clients, saves, strict=True))
                )
        finally:
            for http in clients:
                http.close()
        assert [r.status_code for r in answers] == [200] * len(saves), [r.text[:200] for r in answers]
        assert len(coaching_rows(live, "job_search_plans", cid)) == 1
        assert len(coaching_rows(live, "final_reports", cid)) == 1
        assert sorted(r["version"] for r in coaching_rows(live, "final_report_versions", cid)) == [1, 2]
