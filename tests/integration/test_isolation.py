"""Organisation isolation: every route that takes a client id answers 404 to another
organisation, through the API and the web UI. The routes are read from the services'
route tables, so a new route is covered (or fails for want of an example body)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from polku.gateway import create_service_app
from shared.contracts.journey import Role
from shared.routes import iter_routes
from shared.settings import SERVICES
from tests.conftest import Live, Org

# Valid bodies for write routes, so that the organisation check, not validation, answers.
EXAMPLE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/journeys/{client_id}/moves"): {"action": "advance"},
    ("POST", "/api/v1/journeys/{client_id}/milestones"): {
        "kind": "contact_made",
        "occurred_at": "2026-01-05T10:00:00Z",
        "place": "office",
    },
    ("POST", "/api/v1/clients/{client_id}/consent"): {"scope": "information_exchange", "party": "kela", "given": True},
    ("POST", "/clients/{client_id}/details"): {"scope": "information_exchange", "party": "kela", "action": "give"},
    ("PUT", "/api/v1/clients/{client_id}/match-profile"): {"fields": ["I"], "areas": ["Kotka"], "hours_max": 30},
    # services/coaching plans, assessments, feedback, final report (helper A2)
    ("PUT", "/api/v1/clients/{client_id}/job-search-plan"): {"target_jobs": ["Varasto"]},
    ("PUT", "/api/v1/clients/{client_id}/disclosure-plan"): {"a": {"discussed": True, "discussed_on": "2026-01-05"}},
    ("POST", "/api/v1/clients/{client_id}/benefits-counselling"): {"given_on": "2026-01-05", "topics": ["other"]},
    ("POST", "/api/v1/clients/{client_id}/assessments"): {
        "kind": "start",
        "assessed_on": "2026-01-05",
        "work_ability": 5,
        "self_efficacy_items": [2] * 10,
    },
    ("POST", "/api/v1/clients/{client_id}/feedback"): {"answered_on": "2026-01-05", "answers": {"goals_clearer": 4}},
    ("PUT", "/api/v1/clients/{client_id}/final-report"): {"summary": "Yhteenveto"},
    ("POST", "/api/v1/clients/{client_id}/final-report/client-comments"): {
        "commented_on": "2026-01-05",
        "comment": "Hyvä",
    },
    ("POST", "/api/v1/clients/{client_id}/final-report/approve"): {},
    ("POST", "/api/v1/clients/{client_id}/final-report/sent-to-referrer"): {"sent_on": "2026-01-05"},
    ("POST", "/clients/{client_id}/plans"): {"form": "job_search", "target_jobs": "Varasto"},
    ("POST", "/clients/{client_id}/assessments"): {"form": "feedback", "answered_on": "2026-01-05"},
    ("POST", "/clients/{client_id}/final-report"): {"action": "save", "summary": "Yhteenveto"},
    # services/coaching/records.py and record_pages.py (helper A1)
    ("POST", "/api/v1/clients/{client_id}/meetings"): {
        "occurred_at": "2026-01-05T10:00:00Z",
        "duration_minutes": 30,
        "place": "office",
        "participants": ["client"],
    },
    ("PUT", "/api/v1/clients/{client_id}/profile"): {"preferred_hours_per_week": 20},
    ("POST", "/api/v1/clients/{client_id}/team"): {"role": "te_expert", "name": "Tiina"},
    ("POST", "/api/v1/clients/{client_id}/team/meetings"): {
        "held_on": "2026-01-05",
        "participant_ids": ["00000000-0000-0000-0000-000000000000"],
    },
    ("POST", "/clients/{client_id}/meetings"): {
        "date": "2026-01-05",
        "time": "10:00",
        "duration_minutes": "30",
        "place": "office",
        "participants": "client",
    },
    ("POST", "/clients/{client_id}/profile"): {"preferred_hours_per_week": "20"},
    ("POST", "/clients/{client_id}/team"): {"form": "member", "role": "te_expert", "name": "Tiina"},
    # the client page's journey forms (services/coaching/pages.py)
    ("POST", "/clients/{client_id}/moves"): {"action": "advance"},
    ("POST", "/clients/{client_id}/milestones"): {"kind": "job_started", "occurred_at": "2026-01-05"},
    # legal holds (services/intake/retention_api.py)
    ("POST", "/api/v1/clients/{client_id}/legal-hold"): {"case_reference": "123/2026"},
}
# Auditors state a purpose on every look at a client (services/reporting/audit_*.py).
AUDIT_QUERY = {"purpose": "supervision"}


def _csrf_of(session_cookie: str) -> str:
    payload = session_cookie.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["csrf"])


def client_routes() -> list[tuple[str, str, frozenset[Role]]]:
    found = []
    for service in SERVICES:
        for route in iter_routes(create_service_app(service)):
            if "{client_id}" not in route.path:
                continue
            for method in sorted(route.methods - {"HEAD"}):
                found.append((method, route.path, route.roles or frozenset()))
    return found


ROUTES = client_routes()


def test_the_route_walk_finds_routes() -> None:
    paths = {p for _, p, _ in ROUTES}
    assert "/api/v1/clients/{client_id}" in paths
    assert "/api/v1/journeys/{client_id}" in paths


@dataclass
class World:
    """Two organisations and a client of the first, shared by the module's tests (each
    test only needs the owner to get an answer and the other organisation a 404)."""

    live: Live
    org_a: Org
    org_b: Org
    client_id: str
    sessions: dict[tuple[str, Role], httpx.Client] = field(default_factory=dict)

    def session(self, org: Org, role: Role) -> httpx.Client:
        key = (str(org.id), role)
        if key not in self.sessions:
            self.sessions[key] = self.live.browser_session(org, role)
        return self.sessions[key]


@pytest.fixture(scope="module")
def world(live: Live) -> Iterator[World]:
    org_a, org_b = live.add_org(), live.add_org()
    found = World(live, org_a, org_b, live.register_client(org_a, "Venla", "Heikkinen")["client_id"])
    yield found
    for session in found.sessions.values():
        session.close()


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_other_organisations_client_is_404(world: World, method: str, path: str, roles: frozenset[Role]) -> None:
    live, org_a, org_b, client_id = world.live, world.org_a, world.org_b, world.client_id
    url = path.replace("{client_id}", client_id)
    if "{member_id}" in url:  # a member of the client's team (services/coaching/records.py)
        with live.http(live.username(org_a, Role.COACH)) as http:
            member = http.post(f"/api/v1/clients/{client_id}/team", json={"role": "te_expert", "name": "Tiina"})
        url = url.replace("{member_id}", member.json()["id"])
    assert not re.search(r"{\w+}", url), f"{path}: add the other path parameters to this test"
    params = AUDIT_QUERY if "/audit/" in path else None
    if method == "DELETE" and path.endswith("/legal-hold"):  # the owner lifts a hold it placed
        with live.http(live.username(org_a, Role.AUDITOR)) as http:
            placed = http.post(path.replace("{client_id}", client_id), json={"case_reference": "1/2026"})
            assert placed.status_code in (200, 201), placed.text
    body = EXAMPLE_BODIES.get((method, path))
    if method in ("POST", "PUT", "PATCH"):
        assert body is not None, f"add an example body for {method} {path} to EXAMPLE_BODIES"

    if path.startswith("/api/"):
        role = next((r for r in (Role.COACH, Role.TEAM_LEAD, Role.AUDITOR) if r in roles), None)
        assert role is not None, f"{method} {path} declares no role requirement"
        # The owner's organisation gets an answer (not 404) ...
        with live.http(live.username(org_a, role)) as http:
            own = http.request(method, url, json=body, params=params)
            assert own.status_code != 404, own.text
        # ... the other organisation gets 404, and nothing of the client.
        with live.http(live.username(org_b, role)) as http:
            r = http.request(method, url, json=body, params=params)
    else:
        page_roles = (Role.COACH, Role.TEAM_LEAD, Role.AUDITOR, Role.ORG_ADMIN)
        page_role = next((r for r in page_roles if r in roles), Role.COACH)
        own_session = world.session(org_a, page_role)
        own = own_session.request(method, url, data=body, params=params)
        assert own.status_code == 200 if method == "GET" else own.status_code != 404, own.text[:300]
        session = world.session(org_b, page_role)
        if body is not None:  # a well-formed post of the other organisation's own session
            body = {**body, "csrf_token": _csrf_of(session.cookies["polku_session"])}
        r = session.request(method, url, data=body, params=params)
    assert r.status_code == 404, r.text
    assert "Venla" not in r.text and "Heikkinen" not in r.text
