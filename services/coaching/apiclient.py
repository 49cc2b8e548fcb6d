"""A small async client for the pages: other services' JSON APIs, as the logged-in user.

Pages never read another service's tables; they call its API through
``settings.internal_api`` with a short-lived bearer token minted for the user, so the
owning service checks the role, the organisation and writes the audit record.
"""

from __future__ import annotations

import ssl
import uuid
from functools import cache
from types import TracebackType
from typing import Any, Self

import httpx
from fastapi import Request

from shared.identity import Account
from shared.service import ctx_of
from shared.telemetry import current_traceparent

JSON = dict[str, Any]
DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
# Tests may put an httpx transport here (e.g. httpx.ASGITransport) to skip the network.
TRANSPORT_STATE = "polku_api_transport"


@cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # the same trust as httpx's default


class ApiError(Exception):
    """A service answered with an error other than 404, or did not answer (status 503)."""

    def __init__(
        self,
        status: int,
        path: str,
        code: str | None = None,
        detail: str | None = None,
        errors: list[JSON] | None = None,
    ) -> None:
        super().__init__(f"{path}: {status} {code or ''}".strip())
        self.status, self.path, self.code, self.detail = status, path, code, detail
        self.errors: list[JSON] = errors or []  # a 422's field errors ({"field", "message", "type"})


class ApiClient:
    """Use as ``async with ApiClient(base_url, token) as api: await api.client(id)``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            verify=_tls_context(),  # built once: httpx builds a new one per client (~100 ms)
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get(self, path: str, params: dict[str, str] | None = None) -> Any | None:
        """The decoded JSON body; None on 404; ``ApiError`` on any other failure."""
        headers = {}
        traceparent = current_traceparent()
        if traceparent:
            headers["traceparent"] = traceparent
        try:
            response = await self._http.get(path, params=params, headers=headers)
        except httpx.TransportError as exc:
            raise ApiError(503, path, "unreachable", type(exc).__name__) from exc
        if response.status_code == 404:
            return None
        if response.is_error:
            code = detail = None
            if response.headers.get("content-type", "").startswith(("application/problem+json", "application/json")):
                try:
                    body = response.json()
                    code, detail = body.get("code"), body.get("detail")
                except (ValueError, AttributeError):
                    pass
            raise ApiError(response.status_code, path, code, detail)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(502, path, "invalid_json") from exc

    async def send(self, method: str, path: str, body: JSON | None = None) -> Any:
        """Any method with ``body`` as JSON; the decoded answer, or ``ApiError`` for any error
        (404 too), carrying the problem's ``code`` and, for a 422, its field ``errors``."""
        headers = {}
        traceparent = current_traceparent()
        if traceparent:
            headers["traceparent"] = traceparent
        try:
            response = await self._http.request(method, path, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise ApiError(503, path, "unreachable", type(exc).__name__) from exc
        if response.is_error:
            problem: JSON = {}
            if response.headers.get("content-type", "").startswith(("application/problem+json", "application/json")):
                try:
                    problem = dict(response.json())
                except (ValueError, TypeError):
                    problem = {}
            errors = problem.get("errors")
            raise ApiError(
                response.status_code,
                path,
                problem.get("code"),
                problem.get("detail"),
                errors if isinstance(errors, list) else None,
            )
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(502, path, "invalid_json") from exc

    async def post(self, path: str, body: JSON) -> Any:
        """POST ``body`` as JSON (see ``send``)."""
        return await self.send("POST", path, body)

    # --- the calls the pages make -----------------------------------------------------

    async def caseload(self) -> JSON | None:
        """reporting: active clients per coach (a coach sees only themselves)."""
        result: JSON | None = await self.get("/api/v1/reports/caseload")
        return result

    async def clients(self, coach_id: uuid.UUID | None = None) -> list[JSON]:
        """intake: the organisation's clients with names, or one coach's."""
        params = {"coach_id": str(coach_id)} if coach_id else None
        result: list[JSON] | None = await self.get("/api/v1/clients", params)
        return result or []

    async def client(self, client_id: uuid.UUID) -> JSON | None:
        """intake: one client's registry record; None if unknown or another organisation's."""
        result: JSON | None = await self.get(f"/api/v1/clients/{client_id}")
        return result

    async def journey(self, client_id: uuid.UUID) -> JSON | None:
        """coaching: where the journey stands (phase, status, since, coach_id, reminders...)."""
        result: JSON | None = await self.get(f"/api/v1/journeys/{client_id}")
        return result

    async def timeline(self, client_id: uuid.UUID) -> list[JSON] | None:
        """coaching: the journey's timeline entries, oldest first."""
        result = await self.get(f"/api/v1/journeys/{client_id}/timeline")
        if isinstance(result, dict):  # tolerate a wrapper object such as {"entries": [...]}
            for key in ("entries", "timeline", "items"):
                if isinstance(result.get(key), list):
                    return list(result[key])
            return []
        return result if result is None else list(result)

    async def move(self, client_id: uuid.UUID, body: JSON) -> JSON:
        """coaching: a journey move; ``ApiError`` 409 (``code`` says why), 422 or 404."""
        result: JSON = await self.post(f"/api/v1/journeys/{client_id}/moves", body)
        return result

    async def milestone(self, client_id: uuid.UUID, body: JSON) -> JSON:
        """coaching: a journey milestone (with ``confirm_move``, the move it confirms)."""
        result: JSON = await self.post(f"/api/v1/journeys/{client_id}/milestones", body)
        return result


def api_for(request: Request, account: Account) -> ApiClient:
    """An ``ApiClient`` acting as ``account`` against this deployment's internal API."""
    ctx = ctx_of(request)
    transport = getattr(request.app.state, TRANSPORT_STATE, None)
    return ApiClient(ctx.settings.internal_api, ctx.tokens.access_token(account), transport=transport)
