"""Authentication and authorisation.

API callers send ``Authorization: Bearer <token>`` from ``POST /api/v1/auth/token``; the
web UI uses a signed, HTTP-only, SameSite session cookie carrying a CSRF token. Both are
HS256 JWTs signed with the deployment's secret key, so any service can check them.

Every route declares who may call it: ``requires(*roles)`` on API routes,
``page_roles(*roles)`` on web pages, ``PUBLIC`` on the few open ones (login, health,
API and event docs). ``tests/integration/test_route_permissions.py`` walks the route
tables and fails on a route that declares none.

A token stays valid until it expires unless a logout ended it (``shared.sessions``):
every authenticated request checks that, so an old cookie is refused after "log out
everywhere".
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import jwt
from fastapi import Depends, Request

from shared import sessions
from shared.contracts.journey import Role
from shared.identity import Account
from shared.problems import ProblemError

SESSION_COOKIE = "polku_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_ALG = "HS256"


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    username: str
    role: Role
    organisation_id: uuid.UUID
    region_id: str
    via: Literal["token", "session"]
    csrf: str | None = None
    jti: str = ""
    issued_ms: int = 0  # when the token was issued, ms since the epoch
    expires: int = 0  # the token's exp claim


class TokenService:
    def __init__(self, secret: bytes, token_ttl: int, session_ttl: int) -> None:
        self._secret, self.token_ttl, self.session_ttl = secret, token_ttl, session_ttl

    def _encode(self, account: Account, typ: str, ttl: int, **extra: str) -> str:
        now = int(time.time())
        claims = {
            "sub": str(account.id),
            "usr": account.username,
            "role": account.role.value,
            "org": str(account.organisation_id),
            "reg": account.region_id,
            "typ": typ,
            "iat": now,
            "exp": now + ttl,
            "ims": sessions.now_ms(),  # iat in milliseconds: logout everywhere compares it
            "jti": secrets.token_hex(8),
            **extra,
        }
        return jwt.encode(claims, self._secret, algorithm=_ALG)

    def access_token(self, account: Account) -> str:
        return self._encode(account, "access", self.token_ttl)

    def session_token(self, account: Account) -> tuple[str, str]:
        csrf = secrets.token_urlsafe(24)
        return self._encode(account, "session", self.session_ttl, csrf=csrf), csrf

    def decode(self, token: str, typ: Literal["access", "session"]) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[_ALG],
                options={"require": ["exp", "iat", "sub", "org", "role", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("The token has expired.", "token_expired") from exc
        except jwt.PyJWTError as exc:
            raise unauthorized("The token is not valid.", "token_invalid") from exc
        if claims.get("typ") != typ:
            raise unauthorized("The token is not valid.", "token_invalid")
        try:
            return Principal(
                user_id=uuid.UUID(claims["sub"]),
                username=str(claims.get("usr", "")),
                role=Role(claims["role"]),
                organisation_id=uuid.UUID(claims["org"]),
                region_id=str(claims.get("reg", "")),
                via="token" if typ == "access" else "session",
                csrf=claims.get("csrf"),
                jti=str(claims.get("jti", "")),
                issued_ms=int(claims.get("ims", int(claims["iat"]) * 1000)),
                expires=int(claims["exp"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise unauthorized("The token is not valid.", "token_invalid") from exc


def unauthorized(detail: str, code: str = "unauthenticated") -> ProblemError:
    return ProblemError(401, "Unauthorized", detail, code=code, headers={"WWW-Authenticate": "Bearer"})


def forbidden(role: Role) -> ProblemError:
    return ProblemError(403, "Forbidden", f"The role {role.value} may not do this.", code="forbidden")


def tokens_of(request: Request) -> TokenService:
    service: TokenService = request.app.state.ctx.tokens
    return service


async def ensure_not_revoked(request: Request, principal: Principal) -> Principal:
    """401 if a logout, a logout everywhere or a deactivation has ended the token."""
    platform = request.app.state.ctx.platform
    if await sessions.is_revoked(platform, principal.user_id, principal.jti, principal.issued_ms):
        raise unauthorized("The session has ended. Log in again.", "session_ended")
    return principal


async def api_principal(request: Request) -> Principal:
    """The caller of an API route: a bearer token, or the web UI's session (htmx calls)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Use 'Authorization: Bearer <token>'.", "token_invalid")
        return await ensure_not_revoked(request, tokens_of(request).decode(token.strip(), "access"))
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = await ensure_not_revoked(request, tokens_of(request).decode(cookie, "session"))
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            check_csrf(principal, request.headers.get(CSRF_HEADER))
        return principal
    raise unauthorized("Authentication is required.")


async def session_principal(request: Request) -> Principal | None:
    """The web UI's logged-in session: None without a cookie, or with an expired,
    invalid or ended one."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return await ensure_not_revoked(request, tokens_of(request).decode(cookie, "session"))
    except ProblemError:
        return None


def check_csrf(principal: Principal, submitted: str | None) -> None:
    if not principal.csrf or not submitted or not hmac.compare_digest(principal.csrf, submitted):
        raise ProblemError(403, "Forbidden", "The form has expired; reload the page.", code="csrf_failed")


RoleCheck = Callable[[Request], Awaitable[Principal]]


def requires(*roles: Role) -> RoleCheck:
    """A dependency that authenticates the caller and checks the role.

    Every API route declares one (the route-table test relies on ``__polku_roles__``).
    """
    allowed = frozenset(roles)

    async def _check(request: Request) -> Principal:
        principal = await api_principal(request)
        if principal.role not in allowed:
            raise forbidden(principal.role)
        request.state.principal = principal
        return principal

    _check.__polku_roles__ = allowed  # type: ignore[attr-defined]
    return _check


def page_roles(*roles: Role) -> RoleCheck:
    """A web page's declaration: the roles that may open it (use in the route decorator,
    ``dependencies=[Depends(page_roles(...))]``). Without a live session the page
    answers with the login redirect (401), with another role the 403 page."""
    allowed = frozenset(roles)

    async def _check(request: Request) -> Principal:
        principal = await session_principal(request)
        if principal is None:
            raise unauthorized("Log in to open this page.")
        if principal.role not in allowed:
            raise forbidden(principal.role)
        return principal

    _check.__polku_roles__ = allowed  # type: ignore[attr-defined]
    return _check


def declare_roles(check: Callable[..., Awaitable[object]], roles: frozenset[Role]) -> None:
    """Mark an existing role-checking dependency with the roles it lets through, for the
    route-table walk (the dependency itself must refuse every other role)."""
    check.__polku_roles__ = frozenset(roles)  # type: ignore[attr-defined]


async def _public() -> None:
    """Declares a route open to anyone, logged in or not."""


_public.__polku_public__ = True  # type: ignore[attr-defined]
PUBLIC = Depends(_public)
"""``dependencies=[PUBLIC]``: the route needs no login (login, health checks, docs)."""


ALL_ROLES: tuple[Role, ...] = tuple(Role)
CLIENT_WORKERS: tuple[Role, ...] = (Role.COACH, Role.TEAM_LEAD, Role.EMPLOYER_COORDINATOR)
