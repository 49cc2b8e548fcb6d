"""Schemathesis against every service's OpenAPI schema, on the whole stack: requests
generated from the schema, each operation called by a role its route declares; no
answer may be a server error, and every answer must match the schema.

Bounded for CI: ``MAX_EXAMPLES`` per operation and a time budget per service; operations
left when the budget runs out are named in the failure, so a budget too small shows."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.result import Ok

from polku.gateway import create_service_app
from shared.contracts.journey import Role
from shared.routes import iter_routes
from shared.settings import SERVICES
from tests.conftest import PASSWORD, Live, Org

MAX_EXAMPLES = 4
# The time budget per service grows with its operations (reporting has many, some render PDFs).
BUDGET_S = 45.0
BUDGET_S_PER_OPERATION = 2.5
# Roles tried first when an operation lets several in (they see the most).
PREFERENCE = (Role.COACH, Role.TEAM_LEAD, Role.EMPLOYER_COORDINATOR, Role.ORG_ADMIN, Role.AUDITOR, Role.REGION_ANALYST)
# Operations that would end the caller's own token: covered by tests/integration/test_sessions.py.
SKIP = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/logout-all")}


@pytest.fixture(scope="module")
def org(live: Live) -> Org:
    # A region of its own: the region roll-ups then cover this organisation only, not the
    # hundreds the session's other tests add to the default region.
    org = live.add_org(region=f"schemathesis-{uuid.uuid4().hex[:8]}")
    live.register_client(org, "Sami", "Skeema")
    return org


@pytest.fixture(scope="module")
def tokens(live: Live, org: Org) -> Iterator[dict[Role, str]]:
    found: dict[Role, str] = {}
    for role in Role:
        r = httpx.post(
            f"{live.base_url}/api/v1/auth/token",
            json={"username": live.username(org, role), "password": PASSWORD},
            timeout=30,
        )
        r.raise_for_status()
        found[role] = r.json()["access_token"]
    yield found


def _roles_by_operation(service: str) -> dict[tuple[str, str], frozenset[Role]]:
    return {
        (method, route.path): route.roles
        for route in iter_routes(create_service_app(service))
        if route.roles is not None
        for method in route.methods
    }


def _fuzz(operation: Any, base_url: str, headers: dict[str, str]) -> int:
    """Call one operation with generated requests; raise on the first failing check."""
    calls = 0

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    run()
    return calls


@pytest.mark.parametrize("service", SERVICES)
def test_the_api_keeps_its_schema(live: Live, tokens: dict[Role, str], service: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live.base_url}/api/v1/{service}/openapi.json")
    roles = _roles_by_operation(service)
    failures: list[str] = []
    left: list[str] = []
    calls = 0
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"{service}: the schema has an invalid operation: {result}"
        operations.append(result.ok())
    assert operations, f"{service}: no operations in the schema"
    deadline = time.monotonic() + max(BUDGET_S, BUDGET_S_PER_OPERATION * len(operations))

    for operation in operations:
        key = (operation.method.upper(), operation.path)
        if key in SKIP:
            continue
        if time.monotonic() > deadline:
            left.append(" ".join(key))
            continue
        declared = roles.get(key, frozenset())
        role = next((r for r in PREFERENCE if r in declared), None)
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role is not None else {}

        began = time.monotonic()
        try:
            calls += _fuzz(operation, live.base_url, headers)
            took = time.monotonic() - began
            if took > BUDGET_S_PER_OPERATION:
                print(f"{service}: {' '.join(key)} took {took:.1f} s")
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported together below
            failures.append(f"{' '.join(key)} as {role}: {type(exc).__name__}: {str(exc)[:1500]}")

    assert not failures, f"{service}: {len(failures)} operations failed\n" + "\n\n".join(failures)
    assert not left, f"{service}: the time budget ran out before {left}"
    assert calls > 0
