"""Reporting through the whole stack: the pilot's cohort of 50 clients driven over the HTTP
API ends up as exactly the pilot's outcome table; exports, charts, pages and the region
roll-up show it; a duplicated or unknown event changes nothing; a rebuild from the
streams gives the same numbers."""

from __future__ import annotations

import io
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
import pytest

from shared.contracts.journey import Role
from shared.i18n import OUTCOME_LABELS, label
from tests.conftest import Live, Org, run_sync, wait_for

# The Kymenlaakso pilot (shared/domain/IPS.md): 50 clients.
PILOT: dict[str, int] = {
    "employed": 20,
    "work_trial": 4,
    "rehabilitative_work_activity": 8,
    "work_ability_assessment": 4,
    "education": 2,
    "discontinued": 7,
    "disengaged": 1,
    "sick_leave": 4,
}

LAST_NAMES = ("Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _journey(live: Live, org: Org, outcome: str, n: int) -> str:
    """Register one client and take the journey to its outcome: employed clients through
    job search, an employer contact and a job; the others from profiling."""
    last = LAST_NAMES[n % len(LAST_NAMES)]
    client = live.register_client(org, "Pilotti", last, override_reason="pilot cohort of the test")
    cid = client["client_id"]
    with live.http(live.username(org, Role.COACH)) as http:

        def post(kind: str, body: dict[str, Any]) -> None:
            r = http.post(f"/api/v1/journeys/{cid}/{kind}", json=body)
            assert r.status_code == 200, r.text

        post("moves", {"action": "advance"})
        if outcome == "employed":
            post("moves", {"action": "advance"})
            post("milestones", {"kind": "first_employer_contact", "occurred_at": _now()})
            post("milestones", {"kind": "job_started", "occurred_at": _now(), "confirm_move": True})
        post("moves", {"action": "close", "outcome": outcome})
    return str(cid)


@pytest.fixture(scope="module")
def pilot(live: Live) -> Org:
    org = live.add_org(region=f"pilot-{uuid.uuid4().hex[:6]}")
    work = [(outcome, i) for outcome, count in PILOT.items() for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        clients = list(pool.map(lambda w: _journey(live, org, *w), work))
    assert len(set(clients)) == 50
    return org


def _get(live: Live, org: Org, role: Role, path: str, **params: Any) -> httpx.Response:
    with live.http(live.username(org, role)) as http:
        return http.get(path, params=params)


def _outcomes(live: Live, org: Org) -> dict[str, Any]:
    def closed_all() -> dict[str, Any] | None:
        r = _get(live, org, Role.TEAM_LEAD, "/api/v1/reports/outcomes")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body if body["closed"] == 50 else None

    return wait_for(closed_all)


def test_the_pilot_cohort_gives_the_pilots_outcome_table(live: Live, pilot: Org) -> None:
    report = _outcomes(live, pilot)
    assert [(o["outcome"], o["count"]) for o in report["outcomes"]] == list(PILOT.items())
    assert report["closed"] == 50 and report["employed"] == 20
    assert report["employment_rate"] == 40.0
    assert (report["benchmark_average"], report["benchmark_excellent"]) == (41.0, 50.0)
    assert report["job_starts"]["first"] == 20 and report["job_starts"]["later"] == 0
    assert report["days_to_first_employer_contact"]["n"] == 20
    assert report["data_as_of"] is not None

    # The same table in the page's tables, CSV and XLSX, in Finnish.
    tables = _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/outcomes/tables", lang="fi").json()
    first = tables["tables"][0]
    assert [row[:2] for row in first["rows"]] == [
        *([label(OUTCOME_LABELS, "fi", code), n] for code, n in PILOT.items()),
        ["Yhteensä", 50],
    ]
    csv = _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/outcomes.csv", lang="en")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv.headers["content-disposition"]
    text = csv.content.decode("utf-8-sig")
    for line in ("Employed,20,40.0", "Work trial,4,8.0", "Did not stay a client,1,2.0", "Total,50,100.0"):
        assert line in text, text
    xlsx = _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/outcomes.xlsx", lang="en")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    from openpyxl import load_workbook  # type: ignore[import-untyped, unused-ignore]

    book = load_workbook(io.BytesIO(xlsx.content))
    sheet = book[book.sheetnames[1]]
    rows = [tuple(c.value for c in r) for r in sheet.iter_rows(min_row=3, max_col=2)]
    assert ("Employed", 20) in rows and ("Total", 50) in rows

    svg = _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/outcomes/chart.svg", lang="en")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "<script" not in svg.text and "<title" in svg.text and "Outcomes over time" in svg.text


def test_report_pages_show_the_figures(live: Live, pilot: Org) -> None:
    _outcomes(live, pilot)
    with closing(live.browser_session(pilot, Role.TEAM_LEAD)) as session:
        session.cookies.set("polku_lang", "en")
        for path, text in (
            ("/reports", "Outcomes"),
            ("/reports/outcomes", "Did not stay a client"),
            ("/reports/flow", "Time in phase (days)"),
            ("/reports/fidelity", "Caseload size"),
            ("/reports/fidelity/items/rapid_search", "Meets the criterion"),
            ("/reports/quick-help", "Quick help by topic"),
            ("/reports/assessments", "Change from start to end"),
            ("/reports/economics", "243,000"),
            ("/reports/caseload", "Caseload per coach"),
            ("/reports/fidelity/review", "Save the review"),
        ):
            r = session.get(path)
            assert r.status_code == 200, (path, r.status_code)
            assert text in r.text, path
            assert "<script>" not in r.text and " onclick" not in r.text
        page = session.get("/reports/outcomes").text
        assert "<svg" in page and "/api/v1/reports/outcomes.xlsx" in page
        assert ">20<" in page and ">50<" in page
        economics = session.get("/reports/economics").text
        assert "+149,000 €" in economics and "+281,000 €" in economics
        # The region roll-up is the region analyst's.
        assert session.get("/reports/region").status_code == 403
    with closing(live.browser_session(pilot, Role.COACH)) as session:
        assert session.get("/reports/outcomes").status_code == 200
        assert session.get("/reports/fidelity/items/rapid_search").status_code == 403  # names clients


def test_fidelity_scorecard_evidence_and_review(live: Live, pilot: Org) -> None:
    _outcomes(live, pilot)
    card = _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/fidelity").json()
    items = {i["key"]: i for i in card["items"]}
    assert len(items) == 25
    assert items["rapid_search"]["score"] == 5 and items["rapid_search"]["base"] == 20
    assert items["work_incentives"]["score"] == 1  # nobody had benefits counselling before the job
    assert items["caseload"]["value"] == 0.0 and items["caseload"]["score"] == 5  # everyone closed
    evidence = _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/fidelity/items/rapid_search").json()
    assert len(evidence["rows"]) == 20 and all(r["ok"] for r in evidence["rows"])
    assert _get(live, pilot, Role.COACH, "/api/v1/reports/fidelity/items/rapid_search").status_code == 403
    assert _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/fidelity/items/nope").status_code == 404

    missing = [i["key"] for i in card["items"] if i["score"] is None]
    with live.http(live.username(pilot, Role.TEAM_LEAD)) as http:
        r = http.post(
            "/api/v1/reports/fidelity/reviews",
            json={
                "period_start": card["period"]["start"],
                "period_end": card["period"]["end"],
                "items": [{"item": k, "score": 3, "note": "seen in the team meeting"} for k in missing],
            },
        )
        assert r.status_code == 201, r.text
        review = r.json()
        incomplete = http.post(
            "/api/v1/reports/fidelity/reviews",
            json={"period_start": card["period"]["start"], "period_end": card["period"]["end"], "items": []},
        )
        assert incomplete.status_code == 422 and incomplete.json()["errors"][0]["field"] == "items"
    assert len(review["items"]) == 25
    after = _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/fidelity").json()
    assert after["complete"] and after["total"] == review["total"] and after["band"] == review["band"]
    assert after["reviews"][0]["id"] == review["id"]


def test_region_rollup_for_the_region_analyst(live: Live, pilot: Org) -> None:
    _outcomes(live, pilot)
    r = _get(live, pilot, Role.REGION_ANALYST, "/api/v1/reports/region")
    assert r.status_code == 200, r.text
    region = r.json()
    (org,) = [o for o in region["organisations"] if o["organisation_id"] == str(pilot.id)]
    assert org["closed"] == 50 and org["outcomes"]["employed"] == 20 and org["employment_rate"] == 40.0
    # 4, 2 and 1 people: hidden.
    assert org["outcomes"]["work_trial"] is None and org["outcomes"]["disengaged"] is None
    assert "client_id" not in r.text
    assert _get(live, pilot, Role.REGION_ANALYST, "/api/v1/reports/outcomes").status_code == 403
    assert _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/region").status_code == 403
    side = _get(live, pilot, Role.REGION_ANALYST, "/api/v1/reports/region/fidelity").json()
    assert [o["organisation_id"] for o in side["organisations"]] == [str(pilot.id)]
    econ = _get(live, pilot, Role.REGION_ANALYST, "/api/v1/reports/economics").json()
    assert (econ["result"]["net"], econ["result"]["net_with_pensions"]) == (149_000, 281_000)
    assert econ["own_employed"] == 20


def _publish(live: Live, subject: str, body: dict[str, Any]) -> None:
    async def go() -> None:
        nc = await nats.connect(live.settings.nats_url)
        try:
            await nc.jetstream().publish(subject, json.dumps(body).encode(), headers={"Nats-Msg-Id": uuid.uuid4().hex})
        finally:
            await nc.close()

    run_sync(go())


def _journey_events(live: Live, org: Org) -> list[dict[str, Any]]:
    async def go() -> list[dict[str, Any]]:
        nc = await nats.connect(live.settings.nats_url)
        found: list[dict[str, Any]] = []
        try:
            sub = await nc.jetstream().subscribe(f"polku.{org.id}.journey.>", ordered_consumer=True)
            while True:
                try:
                    msg = await sub.next_msg(timeout=1.0)
                except nats.errors.TimeoutError:
                    break
                found.append(json.loads(msg.data))
        finally:
            await nc.close()
        return found

    return run_sync(go())


def test_duplicated_and_unknown_events_change_nothing(live: Live, pilot: Org) -> None:
    before = _outcomes(live, pilot)
    events = _journey_events(live, pilot)
    closing = next(e for e in events if e["type"] == "journey.moved" and e["outcome"] == "employed")
    # The same event again under a new message id (JetStream keeps both), and a type nobody knows.
    _publish(live, f"polku.{pilot.id}.journey.moved", closing)
    unknown = {
        "id": str(uuid.uuid4()),
        "type": "journey.something_new",
        "organisation_id": str(pilot.id),
        "region_id": pilot.region,
        "occurred_at": _now(),
    }
    _publish(live, f"polku.{pilot.id}.journey.something_new", unknown)
    # A journey that starts after them in the same stream shows up: both were acknowledged.
    other = live.add_org(roles=(Role.COACH, Role.TEAM_LEAD))
    live.register_client(other, "Uusi", "Asiakas")

    def shown() -> dict[str, Any] | None:
        flow = _get(live, other, Role.TEAM_LEAD, "/api/v1/reports/flow").json()
        intake = next(p for p in flow["phases_now"] if p["phase"] == "INTAKE")
        return flow if intake["active"] == 1 else None

    wait_for(shown)
    after = _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/outcomes").json()
    assert after["outcomes"] == before["outcomes"] and after["closed"] == 50

    def caught_up() -> dict[str, Any] | None:
        status: dict[str, Any] = _get(live, pilot, Role.TEAM_LEAD, "/api/v1/reports/status").json()
        return status if all(c["pending"] == 0 and c["ack_pending"] == 0 for c in status["consumers"]) else None

    status = wait_for(caught_up)
    assert {c["durable"] for c in status["consumers"]} >= {"reporting-journey", "reporting-intake"}


def test_rebuild_gives_the_same_numbers(live: Live, pilot: Org) -> None:
    from services.reporting.rebuild import rebuild

    _outcomes(live, pilot)
    paths = [
        (Role.TEAM_LEAD, "/api/v1/reports/outcomes"),
        (Role.TEAM_LEAD, "/api/v1/reports/flow"),
        (Role.TEAM_LEAD, "/api/v1/reports/fidelity"),
        (Role.TEAM_LEAD, "/api/v1/reports/caseload"),
        (Role.REGION_ANALYST, "/api/v1/reports/region"),
    ]

    def snapshot() -> list[Any]:
        return [_get(live, pilot, role, path).json() for role, path in paths]

    # Quiet first: nothing of this organisation still on its way.
    before = wait_for(lambda: (a := snapshot()) == snapshot() and a)
    result = run_sync(rebuild(live.settings))
    assert result.streams["POLKU_JOURNEY"] > 0 and result.invalid == 0
    assert snapshot() == before
