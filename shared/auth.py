"""Authentication and authorisation.

API callers send ``Authorization: Bearer <token>`` from ``POST /api/v1/auth/token``; the
web UI uses a signed, HTTP-only, SameSite session cookie carrying a CSRF token. Both are
HS256 JWTs signed with the deployment's secret key, so any service can check them.
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
from fastapi import Request

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
            )
        except (ValueError, KeyError) as exc:
            raise unauthorized("The token is not valid.", "token_invalid") from exc


def unauthorized(detail: str, code: str = "unauthenticated") -> ProblemError:
    return ProblemError(401, "Unauthorized", detail, code=code, headers={"WWW-Authenticate": "Bearer"})


def forbidden(role: Role) -> ProblemError:
    return ProblemError(403, "Forbidden", f"The role {role.value} may not do this.", code="forbidden")


def tokens_of(request: Request) -> TokenService:
    service: TokenService = request.app.state.ctx.tokens
    return service


async def api_principal(request: Request) -> Principal:
    """The caller of an API route: a bearer token, or the web UI's session (htmx calls)."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Use 'Authorization: Bearer <token>'.", "token_invalid")
        return tokens_of(request).decode(token.strip(), "access")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        principal = tokens_of(request).decode(cookie, "session")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            check_csrf(principal, request.headers.get(CSRF_HEADER))
        return principal
    raise unauthorized("Authentication is required.")


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


ALL_ROLES: tuple[Role, ...] = tuple(Role)
CLIENT_WORKERS: tuple[Role, ...] = (Role.COACH, Role.TEAM_LEAD, Role.EMPLOYER_COORDINATOR)
