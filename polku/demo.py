"""Demo data: two organisations in two wellbeing regions, their users, ~40 clients
spread over every phase, and each organisation's employers with contact persons, a
contact log and open jobs. Users go straight into the platform database; everything
else goes through the HTTP API, the same path a coach's actions take.

Loading twice changes nothing: an organisation that exists already is left as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx
from sqlalchemy import select

from shared.contracts.journey import Role
from shared.db import Database
from shared.identity import Identity
from shared.platform import Organisation
from shared.settings import Settings

DEMO_PASSWORD = "demo-salasana-2026"


@dataclass(frozen=True)
class DemoOrg:
    name: str
    region: str
    users: tuple[tuple[str, Role, float], ...]
    coaches_clients: int
    # Two teams per organisation: (team name, its members' usernames).
    teams: tuple[tuple[str, tuple[str, ...]], ...] = ()
    employers: tuple[DemoEmployer, ...] = ()


@dataclass(frozen=True)
class DemoEmployer:
    """A made-up employer (the business IDs have valid check digits but belong to nobody
    we know of), its contact person, and the openings it has told us about."""

    name: str
    business_id: str
    industry: str  # TOL 2008
    municipality: str
    contact: tuple[str, str]  # name, title
    openings: tuple[tuple[str, float, float, tuple[str, ...]], ...]  # title, hours min-max, keywords
    support_needs: tuple[str, ...] = ()


KYMI_EMPLOYERS = (
    DemoEmployer(
        "Kotkan Satamakahvila Oy",
        "3260181-2",
        "56101",
        "Kotka",
        ("Marja Salmi", "ravintolapäällikkö"),
        (("Kahvila-apulainen", 15, 25, ("asiakaspalvelu", "kahvila")),),
        ("info_work_trial", "help_task_tailoring"),
    ),
    DemoEmployer(
        "Kymen Kiinteistöhuolto Oy",
        "3083016-0",
        "81100",
        "Kouvola",
        ("Pekka Rinne", "työnjohtaja"),
        (("Kiinteistönhoitaja", 30, 37.5, ("kiinteistöhuolto", "ulkotyö")), ("Siivooja", 20, 30, ("siivous",))),
        ("info_wage_subsidy",),
    ),
    DemoEmployer(
        "Haminan Kierrätyskeskus ry",
        "2318609-8",
        "47790",
        "Hamina",
        ("Tuula Virta", "toiminnanjohtaja"),
        (("Myymälätyöntekijä", 20, 30, ("myymälä", "kierrätys", "asiakaspalvelu")),),
        ("info_coaching", "help_job_start"),
    ),
)
LAPPI_EMPLOYERS = (
    DemoEmployer(
        "Rovaniemen Matkailupalvelut Oy",
        "2909960-6",
        "79900",
        "Rovaniemi",
        ("Antti Kallio", "henkilöstöpäällikkö"),
        (("Matkailuavustaja", 20, 37.5, ("matkailu", "asiakaspalvelu", "englanti")),),
        ("info_work_trial",),
    ),
    DemoEmployer(
        "Kemin Konepaja Oy",
        "2824628-0",
        "25620",
        "Kemi",
        ("Jussi Ylinen", "tuotantopäällikkö"),
        (("Varastotyöntekijä", 30, 37.5, ("varasto", "trukki")),),
        ("help_contract", "help_during_employment"),
    ),
)


ORGS: tuple[DemoOrg, ...] = (
    DemoOrg(
        "Kymen työhönvalmennus",
        "kymenlaakso",
        (
            ("kaisa.valmentaja", Role.COACH, 1.0),
            ("mikko.valmentaja", Role.COACH, 0.8),
            ("tiina.esihenkilo", Role.TEAM_LEAD, 1.0),
            ("jari.yrityskoordinaattori", Role.EMPLOYER_COORDINATOR, 1.0),
            ("aila.tarkastaja", Role.AUDITOR, 1.0),
            ("paula.paakayttaja", Role.ORG_ADMIN, 1.0),
            ("reijo.analyytikko", Role.REGION_ANALYST, 1.0),
        ),
        24,
        (
            ("Kotkan tiimi", ("kaisa.valmentaja", "tiina.esihenkilo", "jari.yrityskoordinaattori")),
            ("Kouvolan tiimi", ("mikko.valmentaja",)),
        ),
        KYMI_EMPLOYERS,
    ),
    DemoOrg(
        "Lapin polku",
        "lappi",
        (
            ("leena.valmentaja", Role.COACH, 1.0),
            ("lauri.esihenkilo", Role.TEAM_LEAD, 1.0),
            ("sanna.tarkastaja", Role.AUDITOR, 1.0),
        ),
        16,
        (
            ("Rovaniemen tiimi", ("leena.valmentaja", "lauri.esihenkilo")),
            ("Kemi-Tornion tiimi", ()),
        ),
        LAPPI_EMPLOYERS,
    ),
)

FIRST = ("Aino", "Eino", "Helmi", "Onni", "Sofia", "Väinö", "Aada", "Leevi", "Iida", "Eetu", "Venla", "Niilo")
LAST = ("Korhonen", "Virtanen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen", "Koskinen")

# Where each demo client's journey is taken, cycling through these from INTAKE: moves and
# the milestones a coach records on the way (a follow-along client has a job).
Step = tuple[str, dict[str, object]]
ADV: Step = ("moves", {"action": "advance"})
EMPLOYER_CONTACT: Step = ("milestones", {"kind": "first_employer_contact", "occurred_at": "-3"})
JOB_STARTED: Step = ("milestones", {"kind": "job_started", "occurred_at": "-1", "confirm_move": True})
TO_SEARCH: tuple[Step, ...] = (ADV, ADV)
SCENARIOS: tuple[tuple[Step, ...], ...] = (
    (),
    (ADV,),
    (*TO_SEARCH,),
    (*TO_SEARCH, EMPLOYER_CONTACT),
    (*TO_SEARCH, EMPLOYER_CONTACT, JOB_STARTED),
    (*TO_SEARCH, EMPLOYER_CONTACT, JOB_STARTED, ADV),
    (ADV, ("moves", {"action": "rest", "reason": "health_clarification", "review_date": "+30"})),
    (*TO_SEARCH, ("moves", {"action": "rest", "reason": "rehabilitative_work_activity", "review_date": "+60"})),
    (*TO_SEARCH, EMPLOYER_CONTACT, JOB_STARTED, ADV, ("moves", {"action": "close", "outcome": "employed"})),
    (ADV, ("moves", {"action": "close", "outcome": "returned_to_referrer"})),
)


async def _ensure_org(identity: Identity, db: Database, spec: DemoOrg) -> tuple[uuid.UUID, bool]:
    async with db.session() as s:
        existing = (await s.execute(select(Organisation).where(Organisation.name == spec.name))).scalar_one_or_none()
    if existing is not None:
        return existing.id, False
    org_id = await identity.add_organisation(spec.name, spec.region)
    team_of = {}
    for team_name, members in spec.teams:
        team_id = await identity.add_team(org_id, team_name)
        team_of.update(dict.fromkeys(members, team_id))
    for username, role, fte in spec.users:
        await identity.add_user(org_id, username, DEMO_PASSWORD, role, fte=fte, team_id=team_of.get(username))
    return org_id, True


def _resolve(body: dict[str, object]) -> dict[str, object]:
    """Relative days ("+30", "-1") to dates and times around today."""
    from datetime import UTC, date, datetime, timedelta

    out = dict(body)
    if isinstance(out.get("review_date"), str):
        out["review_date"] = (date.today() + timedelta(days=int(str(out["review_date"])))).isoformat()
    if isinstance(out.get("occurred_at"), str):
        out["occurred_at"] = (datetime.now(UTC) + timedelta(days=int(str(out["occurred_at"])))).isoformat()
    return out


MEETING_PLACES = ("office", "community", "remote", "home")


async def _first_meeting(http: httpx.AsyncClient, client_id: str, i: int) -> None:
    """The first meeting, a few hours ago, so the caseload shows a last contact."""
    from datetime import UTC, datetime, timedelta

    r = await http.post(
        f"/api/v1/clients/{client_id}/meetings",
        json={
            "occurred_at": (datetime.now(UTC) - timedelta(hours=1 + i % 4)).isoformat(),
            "duration_minutes": 45 + 15 * (i % 2),
            "place": MEETING_PLACES[i % len(MEETING_PLACES)],
            "contact_mode": "meeting",
            "participants": ["client", "coach"],
            "notes": "Tutustumistapaaminen: toiveet, vahvuudet ja seuraavat askeleet.",
        },
    )
    if r.status_code != 201:
        raise RuntimeError(f"demo meeting refused: {r.status_code} {r.text}")


async def _add_employer(http: httpx.AsyncClient, employer: DemoEmployer, contacted_days_ago: int) -> None:
    from datetime import date, timedelta

    def ok(r: httpx.Response) -> dict[str, object]:
        if r.status_code != 201:
            raise RuntimeError(f"demo employer {employer.name}: {r.request.url.path} {r.status_code} {r.text}")
        body: dict[str, object] = r.json()
        return body

    created = ok(
        await http.post(
            "/api/v1/employers",
            json={
                "name": employer.name,
                "business_id": employer.business_id,
                "industry": employer.industry,
                "locations": [{"municipality": employer.municipality}],
                "contact_persons": [{"name": employer.contact[0], "title": employer.contact[1]}],
                "preferred_channel": "face_to_face",
                "support_needs": list(employer.support_needs),
            },
        )
    )
    employer_id = created["id"]
    # A first meeting to learn the employer's needs, and a follow-up a week later.
    for days_ago, purposes, level in (
        (contacted_days_ago + 7, ["learn_needs", "present_service"], 2),
        (contacted_days_ago, ["follow_up"], 3),
    ):
        ok(
            await http.post(
                "/api/v1/employer-contacts",
                json={
                    "employer_id": employer_id,
                    "occurred_on": (date.today() - timedelta(days=days_ago)).isoformat(),
                    "mode": "face_to_face",
                    "purposes": purposes,
                    "level": level,
                },
            )
        )
    for title, hours_min, hours_max, keywords in employer.openings:
        ok(
            await http.post(
                "/api/v1/openings",
                json={
                    "employer_id": employer_id,
                    "title": title,
                    "municipality": employer.municipality,
                    "hours_min": hours_min,
                    "hours_max": hours_max,
                    "keywords": list(keywords),
                },
            )
        )


async def load_demo_data(settings: Settings, base_url: str | None = None) -> str:
    db = Database(settings, "platform", immediate=True)
    identity = Identity(db)
    created: list[str] = []
    try:
        for n, spec in enumerate(ORGS):
            org_id, new = await _ensure_org(identity, db, spec)
            if not new:
                continue
            coaches = [u for u in await identity.users(org_id, Role.COACH)]
            async with httpx.AsyncClient(base_url=base_url or settings.internal_api, timeout=30) as http:
                r = await http.post(
                    "/api/v1/auth/token", json={"username": coaches[0].username, "password": DEMO_PASSWORD}
                )
                r.raise_for_status()
                http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
                for i in range(spec.coaches_clients):
                    coach = coaches[i % len(coaches)]
                    r = await http.post(
                        "/api/v1/clients",
                        json={
                            "coach_id": str(coach.id),
                            "first_name": FIRST[(i + n * 5) % len(FIRST)],
                            "last_name": LAST[(i * 7 + n) % len(LAST)],
                            "consent": {"processing": True},
                        },
                    )
                    r.raise_for_status()
                    client_id = r.json()["client_id"]
                    await _first_meeting(http, client_id, i)
                    for route, body in SCENARIOS[i % len(SCENARIOS)]:
                        r = await http.post(f"/api/v1/journeys/{client_id}/{route}", json=_resolve(body))
                        if r.status_code != 200:
                            raise RuntimeError(f"demo {route} {body} refused: {r.status_code} {r.text}")
                # The employer register is kept by the coordinator where there is one.
                coordinators = await identity.users(org_id, Role.EMPLOYER_COORDINATOR)
                keeper = coordinators[0].username if coordinators else coaches[0].username
                r = await http.post("/api/v1/auth/token", json={"username": keeper, "password": DEMO_PASSWORD})
                r.raise_for_status()
                http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
                for k, employer in enumerate(spec.employers):
                    await _add_employer(http, employer, contacted_days_ago=3 + 9 * k)
            created.append(
                f"{spec.name} ({spec.region}): {spec.coaches_clients} clients, "
                f"{len(spec.employers)} employers, users " + ", ".join(u for u, _, _ in spec.users)
            )
    finally:
        await db.dispose()
    if not created:
        return "demo data already loaded"
    return "demo data loaded (password for every demo user: " + DEMO_PASSWORD + ")\n" + "\n".join(created)
