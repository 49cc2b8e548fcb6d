"""What the fault test and the region benchmark share: organisations, users, clients and
employers set up through the API, the next legal move of a journey, and reads of what
reporting stored.

Everything goes through the proxy origin as a real caller would, except creating the
organisation and its users (``polku orgs add`` / ``polku users add`` do the same, straight
into the platform database) and the checks of reporting's tables (read, never written).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from shared.contracts.journey import Role
from shared.settings import Settings

PASSWORD = "bench-salasana-2026"
CASELOAD = 20  # IPS quality criterion 1: at most 20 clients per full-time coach
FIRST = ("Aino", "Eino", "Helmi", "Onni", "Sofia", "Väinö", "Aada", "Leevi", "Iida", "Eetu")


@dataclass
class Coach:
    id: uuid.UUID
    username: str
    token: str = ""


@dataclass
class OrgSetup:
    id: uuid.UUID
    region: str
    coaches: list[Coach]
    coordinator: Coach
    employers: list[str] = field(default_factory=list)
    # client id -> the coach who owns the client
    clients: dict[str, Coach] = field(default_factory=dict)


async def create_org(settings: Settings, name: str, region: str, coaches: int) -> OrgSetup:
    """An organisation with ``coaches`` full-time coaches and one employer coordinator."""
    from shared.db import Database
    from shared.identity import Identity

    db = Database(settings, "platform", immediate=True)
    try:
        ident = Identity(db)
        org_id = await ident.add_organisation(name, region)
        tag = org_id.hex[:8]
        staff = []
        for i in range(coaches):
            username = f"coach{i}-{tag}"
            staff.append(Coach(await ident.add_user(org_id, username, PASSWORD, Role.COACH, fte=1.0), username))
        username = f"coord-{tag}"
        coordinator = Coach(await ident.add_user(org_id, username, PASSWORD, Role.EMPLOYER_COORDINATOR), username)
        return OrgSetup(org_id, region, staff, coordinator)
    finally:
        await db.dispose()


async def login(http: httpx.AsyncClient, who: Coach) -> None:
    r = await http.post("/api/v1/auth/token", json={"username": who.username, "password": PASSWORD})
    r.raise_for_status()
    who.token = r.json()["access_token"]


def auth(who: Coach) -> dict[str, str]:
    return {"Authorization": f"Bearer {who.token}"}


async def _retry_post(http: httpx.AsyncClient, url: str, body: dict[str, Any], who: Coach) -> dict[str, Any]:
    """Set-up calls: retried on a 5xx or a dropped connection (a busy machine)."""
    for attempt in range(5):
        try:
            r = await http.post(url, json=body, headers=auth(who))
            if r.status_code < 500:
                if r.status_code >= 400:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")
                out: dict[str, Any] = r.json()
                return out
        except httpx.TransportError:
            if attempt == 4:
                raise
        await asyncio.sleep(1.0 + attempt)
    raise RuntimeError(f"{url} kept failing: {r.status_code} {r.text[:200]}")


async def register_clients(http: httpx.AsyncClient, org: OrgSetup, per_coach: int, concurrency: int = 4) -> None:
    """``per_coach`` self-referred clients for each coach (at most the caseload of 20)."""
    if per_coach > CASELOAD:
        raise ValueError(f"at most {CASELOAD} clients per full-time coach")
    sem = asyncio.Semaphore(concurrency)

    async def one(coach: Coach, i: int) -> None:
        async with sem:
            body = {
                "coach_id": str(coach.id),
                "first_name": FIRST[i % len(FIRST)],
                "last_name": "Kuormatesti",
                "consent": {"processing": True},
            }
            out = await _retry_post(http, "/api/v1/clients", body, coach)
            org.clients[out["client_id"]] = coach

    await asyncio.gather(*(one(c, i) for c in org.coaches for i in range(per_coach)))


def ytunnukset(start: int, count: int) -> list[str]:
    """``count`` distinct valid Finnish business ids (Y-tunnus), the first ones from
    ``start`` upwards; numbers without a valid check digit are skipped."""
    out: list[str] = []
    n = start
    while len(out) < count:
        digits = f"{n % 10_000_000:07d}"
        total = sum(int(d) * w for d, w in zip(digits, (7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
        if total != 1:  # 1 leaves no valid check digit
            out.append(f"{digits}-{0 if total == 0 else 11 - total}")
        n += 1
    return out


async def create_employers(http: httpx.AsyncClient, org: OrgSetup, count: int) -> None:
    # Each organisation its own range of numbers (the register is per organisation).
    for i, business_id in enumerate(ytunnukset(int(org.id.hex[:6], 16) * 100, count)):
        body = {"name": f"Kuormatesti Oy {i}", "business_id": business_id}
        out = await _retry_post(http, "/api/v1/employers", body, org.coordinator)
        org.employers.append(out["id"])


def contact_body(employer_id: str) -> dict[str, Any]:
    """An employer contact by phone (an employer event, no client named)."""
    return {
        "employer_id": employer_id,
        "occurred_on": date.today().isoformat(),
        "mode": "phone",
        "purposes": ["learn_needs"],
        "level": 3,
    }


def next_move(state: dict[str, Any], n: int) -> dict[str, Any]:
    """A move that is legal in ``state`` (a JourneyState as JSON). Journeys cycle
    INTAKE -> PROFILING -> JOB_SEARCH, rest and resume there, step back to PROFILING, and on."""
    if state["status"] == "RESTING":
        return {"action": "resume"}
    if state["status"] == "CLOSED":
        return {"action": "reopen", "to_phase": "PROFILING"}
    phase = state["phase"]
    if phase in ("INTAKE", "PROFILING"):
        return {"action": "advance"}
    if phase == "JOB_SEARCH" and n % 2 == 0:
        review = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
        return {"action": "rest", "reason": "client_request", "review_date": review}
    return {"action": "step_back"}


def milestone_body(kind: str = "contact_made", place: str = "community") -> dict[str, Any]:
    return {"kind": kind, "occurred_at": datetime.now(UTC).isoformat(), "place": place, "contact_mode": "meeting"}


# --------------------------------------------------------------------------- reporting's tables


@dataclass(frozen=True)
class StoredFact:
    client_id: str
    seq: int | None
    event_id: str
    kind: str


async def reporting_facts(settings: Settings, client_ids: list[str]) -> dict[str, list[StoredFact]]:
    """Every journey fact reporting stored for these clients, by client."""
    from services.reporting.models import JourneyFact
    from shared.db import Database

    db = Database(settings, "reporting", immediate=False)
    out: dict[str, list[StoredFact]] = defaultdict(list)
    try:
        async with db.session(cross_tenant=True) as s:
            for start in range(0, len(client_ids), 500):
                chunk = [uuid.UUID(c) for c in client_ids[start : start + 500]]
                rows = await s.execute(
                    select(JourneyFact.client_id, JourneyFact.seq, JourneyFact.event_id, JourneyFact.kind).where(
                        JourneyFact.client_id.in_(chunk)
                    )
                )
                for client_id, seq, event_id, kind in rows:
                    out[str(client_id)].append(StoredFact(str(client_id), seq, str(event_id), kind))
    finally:
        await db.dispose()
    return out


async def has_fact(settings: Settings, client_id: str, seq: int) -> bool:
    from services.reporting.models import JourneyFact
    from shared.db import Database

    db = Database(settings, "reporting", immediate=False)
    try:
        async with db.session(cross_tenant=True) as s:
            found = await s.scalar(
                select(func.count())
                .select_from(JourneyFact)
                .where(JourneyFact.client_id == uuid.UUID(client_id), JourneyFact.seq == seq)
            )
            return bool(found)
    finally:
        await db.dispose()


@dataclass(frozen=True)
class ContactCounts:
    in_employer: set[str]  # contacts the employer service committed
    in_reporting: set[str]  # contacts reporting projected
    events_applied: int  # employer_contact.recorded events reporting applied (one per contact)


async def contact_counts(settings: Settings, organisation_id: uuid.UUID) -> ContactCounts:
    from services.employer.models import EmployerContact as Logged
    from services.reporting.models import EmployerContact as Projected
    from services.reporting.models import ProcessedEvent
    from shared.db import Database

    employer = Database(settings, "employer", immediate=False)
    reporting = Database(settings, "reporting", immediate=False)
    try:
        async with employer.session(cross_tenant=True) as s:
            logged = {
                str(i) for i in await s.scalars(select(Logged.id).where(Logged.organisation_id == organisation_id))
            }
        async with reporting.session(cross_tenant=True) as s:
            projected = {
                str(i)
                for i in await s.scalars(
                    select(Projected.contact_id).where(Projected.organisation_id == organisation_id)
                )
            }
            applied = await s.scalar(
                select(func.count())
                .select_from(ProcessedEvent)
                .where(
                    ProcessedEvent.organisation_id == organisation_id,
                    ProcessedEvent.type == "employer_contact.recorded",
                )
            )
        return ContactCounts(logged, projected, int(applied or 0))
    finally:
        await employer.dispose()
        await reporting.dispose()


async def reporting_pending(nats_urls: list[str]) -> int | None:
    """Events in the streams that reporting's durable consumers have not acknowledged yet
    (pending + awaiting ack), or None when NATS does not answer."""
    import nats

    from services.reporting.lag import consumer_lag

    try:
        nc = await nats.connect(nats_urls, connect_timeout=2, max_reconnect_attempts=1)
    except Exception:  # noqa: BLE001 - reported as unknown
        return None
    try:
        lags = await consumer_lag(nc.jetstream(), nats_urls[0])
    finally:
        await nc.close()
    if any(lag.pending is None for lag in lags):
        return None
    return sum((lag.pending or 0) + (lag.ack_pending or 0) for lag in lags)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]
