"""The login route, ``/me`` and the logout routes, mounted by the coaching service (the web
UI's home)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from shared import sessions
from shared.auth import ALL_ROLES, PUBLIC, Principal, requires, unauthorized
from shared.contracts.api import Me, TokenRequest, TokenResponse
from shared.identity import LoginLocked
from shared.problems import ProblemError
from shared.service import ctx_of

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post(
    "/auth/token",
    dependencies=[PUBLIC],
    response_model=TokenResponse,
    summary="Exchange a username and password for a bearer token",
    responses={401: {"description": "Wrong username or password"}},
)
async def issue_token(body: TokenRequest, request: Request) -> TokenResponse:
    ctx = ctx_of(request)
    try:
        account = await ctx.identity.authenticate(body.username, body.password)
    except LoginLocked as exc:
        raise ProblemError(
            429,
            "Too Many Requests",
            "Too many failed logins. Try again later.",
            code="login_locked",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    if account is None:
        raise unauthorized("Wrong username or password.", "invalid_credentials")
    return TokenResponse(access_token=ctx.tokens.access_token(account), expires_in=ctx.tokens.token_ttl)


@router.get("/me", response_model=Me, summary="Who the caller is")
async def me(principal: Annotated[Principal, Depends(requires(*ALL_ROLES))]) -> Me:
    return Me(
        id=principal.user_id,
        username=principal.username,
        role=principal.role,
        organisation_id=principal.organisation_id,
        region_id=principal.region_id,
    )


@router.post(
    "/auth/logout",
    status_code=204,
    summary="End the caller's token or session now",
    response_class=Response,
)
async def logout(request: Request, principal: Annotated[Principal, Depends(requires(*ALL_ROLES))]) -> Response:
    await sessions.revoke(ctx_of(request).platform, principal.user_id, principal.jti, principal.expires)
    return Response(status_code=204)


@router.post(
    "/auth/logout-all",
    status_code=204,
    summary="End every token and session of the caller (log out everywhere)",
    response_class=Response,
)
async def logout_all(request: Request, principal: Annotated[Principal, Depends(requires(*ALL_ROLES))]) -> Response:
    await sessions.revoke_all(ctx_of(request).platform, principal.user_id)
    return Response(status_code=204)
