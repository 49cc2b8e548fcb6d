"""Every route declares who may call it, and answers accordingly.

The walk reads every service's live route table (``shared.routes.iter_routes``), so a new
route is covered without touching this file: it fails here until it declares
``requires(...)`` (API), ``page_roles(...)`` (page) or ``PUBLIC``. The matrix then calls
every route as anonymous and as each role, on the whole stack, and checks the answer
against the declaration: anonymous 401 (pages: the login redirect), a role left out 403,
a role let in neither of those nor a server error."""

from __future__ import annotations

import base64
import http.cookiejar
import json
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from polku.gateway import create_service_app
from services.reporting.metrics import ITEM_BY_KEY
from shared.contracts.journey import Role
from shared.routes import RouteInfo, iter_routes
from shared.settings import SERVICES
from tests.conftest import PASSWORD, Live, Org


@dataclass(frozen=True)
class Route:
    service: str
    method: str
    path: str
    info: RouteInfo

    @property
    def id(self) -> str:
        return f"{self.service} {self.method} {self.path}"


def _walk() -> list[Route]:
    found: list[Route] = []
    for service in SERVICES:
        for info in iter_routes(create_service_app(service)):
            for method in sorted(info.methods - {"HEAD"}) or ["*"]:
                found.append(Route(service, method, info.path, info))
    return found


ROUTES = _walk()
CALLABLE = [r for r in ROUTES if r.method != "*" and not r.info.public]


def test_the_walk_sees_every_service_and_kind_of_route() -> None:
    by_service = {s: [r for r in ROUTES if r.service == s] for s in SERVICES}
    assert all(by_service.values()), "a service has no routes"
    paths = {(r.method, r.path) for r in ROUTES}
    assert ("POST", "/api/v1/clients") in paths  # intake API
    assert ("GET", "/api/v1/journeys/{client_id}") in paths  # coaching API
    assert ("GET", "/referrals") in paths  # a page of intake
    assert ("GET", "/reports/caseload") in paths  # a page generated in a loop
    assert ("POST", "/api/v1/auth/logout-all") in paths


def test_every_route_declares_its_permission() -> None:
    undeclared = sorted(
        f"{r.method} {r.path} ({r.service}: {getattr(r.info.endpoint, '__module__', 'mount')})"
        for r in ROUTES
        if not r.info.declared
    )
    assert not undeclared, "routes without requires(...), page_roles(...) or PUBLIC:\n" + "\n".join(undeclared)


def test_only_login_health_and_docs_are_public() -> None:
    public = {r.path for r in ROUTES if r.info.public}
    allowed = re.compile(
        r"^(/login|/logout|/language|/healthz(/\w+)?|/readyz(/\w+)?|/api/v1/auth/token|/api/v1/events/asyncapi.*"
        r"|/api/v1/\w+/(openapi\.json|docs)|/docs/oauth2-redirect|/static|/\w+-static"
        r"|/api/v1/codec/(decode|encode))$"  # their CORS preflight (OPTIONS) only; POST requires a role
    )
    assert sorted(p for p in public if not allowed.match(p)) == []


def test_no_route_declares_both_public_and_roles() -> None:
    assert [r.id for r in ROUTES if r.info.public and r.info.roles is not None] == []


def test_api_routes_take_no_personal_data_in_the_path() -> None:
    # Identity codes, names and contact details go in bodies, never in URLs.
    words = ("hetu", "ssn", "identity_code", "name", "email", "phone")
    params = {p for r in ROUTES for p in re.findall(r"{(\w+)}", r.path)}
    assert [p for p in params if any(w in p for w in words)] == []


# --------------------------------------------------------------------------- the matrix


def _csrf_of(cookie: str) -> str:
    payload = cookie.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["csrf"])


@dataclass
class Callers:
    """One organisation's users, logged in both ways, re-logged in after a logout."""

    live: Live
    org: Org
    client_id: str
    tokens: dict[Role, str] = field(default_factory=dict)
    pages: dict[Role, httpx.Client] = field(default_factory=dict)
    _api: httpx.Client | None = None

    def token(self, role: Role) -> str:
        if role not in self.tokens:
            r = httpx.post(
                f"{self.live.base_url}/api/v1/auth/token",
                json={"username": self.live.username(self.org, role), "password": PASSWORD},
                timeout=30,
            )
            assert r.status_code == 200, r.text
            self.tokens[role] = r.json()["access_token"]
        return self.tokens[role]

    def page(self, role: Role) -> httpx.Client:
        if role not in self.pages:
            self.pages[role] = self.live.browser_session(self.org, role)
        return self.pages[role]

    def api(self) -> httpx.Client:
        """One connection pool for the bearer-token calls (no cookies: each call says who)."""
        if self._api is None:
            # A jar that keeps nothing: a cookie set by one answer must not speak for the next caller.
            jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            self._api = httpx.Client(base_url=self.live.base_url, timeout=30, cookies=jar)
        return self._api

    def forget(self, role: Role) -> None:
        self.tokens.pop(role, None)
        session = self.pages.pop(role, None)
        if session is not None:
            session.close()


@pytest.fixture(scope="module")
def callers(live: Live) -> Iterator[Callers]:
    org = live.add_org()
    client_id = live.register_client(org, "Matti", "Matriisi")["client_id"]
    found = Callers(live, org, client_id)
    yield found
    for session in found.pages.values():
        session.close()
    found.api().close()


def _url(path: str, client_id: str) -> str:
    values = {"client_id": client_id, "fmt": "csv", "item": next(iter(ITEM_BY_KEY))}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        assert name.endswith("_id"), f"{path}: give the matrix a value for {{{name}}}"
        return str(uuid.uuid4())  # a well-formed id that the organisation does not have

    return re.sub(r"{(\w+)}", fill, path)


def _call(callers: Callers, route: Route, role: Role | None) -> httpx.Response:
    url = _url(route.path, callers.client_id)
    writes = route.method in ("POST", "PUT", "PATCH", "DELETE")
    if route.info.page:
        if role is None:
            with httpx.Client(base_url=callers.live.base_url, timeout=30) as anonymous:
                return anonymous.request(route.method, url, data={} if writes else None)
        session = callers.page(role)
        data = {"csrf_token": _csrf_of(session.cookies["polku_session"])} if writes else None
        return session.request(route.method, url, data=data)
    headers = {} if role is None else {"Authorization": f"Bearer {callers.token(role)}"}
    return callers.api().request(route.method, url, json={} if writes else None, headers=headers)


@pytest.mark.parametrize("route", CALLABLE, ids=[r.id for r in CALLABLE])
def test_every_role_gets_the_declared_answer(callers: Callers, route: Route) -> None:
    allowed = route.info.roles
    assert allowed is not None, f"{route.id} declares no roles"
    wrong: list[str] = []

    anonymous = _call(callers, route, None)
    if route.info.page:
        if not (anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")):
            wrong.append(f"anonymous: {anonymous.status_code}, not the login redirect")
    elif anonymous.status_code != 401:
        wrong.append(f"anonymous: {anonymous.status_code}, not 401")

    roles = list(Role)
    if "logout" in route.path:  # each call ends the caller's session: one at a time
        answers = [_call(callers, route, role) for role in roles]
    else:
        for role in roles:  # log in first (not thread-safe), then call in parallel
            callers.page(role) if route.info.page else callers.token(role)
        with ThreadPoolExecutor(max_workers=len(roles)) as pool:
            answers = list(pool.map(lambda role: _call(callers, route, role), roles))
    for role, r in zip(roles, answers, strict=True):
        if role in allowed:
            redirected_to_login = r.status_code == 303 and r.headers["location"].startswith("/login")
            if r.status_code in (401, 403) or r.status_code >= 500 or redirected_to_login:
                wrong.append(f"{role.value} (allowed): {r.status_code} {r.text[:200]}")
        elif r.status_code != 403:
            wrong.append(f"{role.value} (not allowed): {r.status_code}, not 403")
        if "logout" in route.path:  # the call ended the caller's session: log in again
            callers.forget(role)
    assert not wrong, f"{route.id} declares {sorted(x.value for x in allowed)}:\n" + "\n".join(wrong)


PUBLIC_CALLS = [r for r in ROUTES if r.info.public and r.method in ("GET", "POST")]


@pytest.mark.parametrize("route", PUBLIC_CALLS, ids=[r.id for r in PUBLIC_CALLS])
def test_public_routes_answer_anonymous_callers(callers: Callers, route: Route) -> None:
    r = _call(callers, route, None)
    assert r.status_code < 500, r.text
    if route.method == "GET":
        assert r.status_code < 400, r.text
