"""One origin for the web UI and every service's API.

In the embedded stack all four service apps run in one process and the gateway hands
each request to the app whose route table matches it (``/api/v1/clients/{id}`` to
intake, ``/api/v1/journeys/...`` to coaching, ...). Unmatched paths go to coaching,
which serves the web UI and its 404 page.

In proxy mode (``ProxyGateway``, ``polku serve all --proxy``) each service runs in its own
process and the origin forwards each request over HTTP to the process of the service
the same route tables name. ``polku.deployconfig`` writes the same decisions as a Caddy
configuration for the container deployment.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from shared.settings import SERVICES, Settings

FALLBACK = "coaching"
log = logging.getLogger(__name__)


def create_service_app(name: str, settings: Settings | None = None) -> FastAPI:
    if name == "intake":
        from services.intake.app import create_app as intake

        return intake(settings)
    if name == "coaching":
        from services.coaching.app import create_app as coaching

        return coaching(settings)
    if name == "employer":
        from services.employer.app import create_app as employer

        return employer(settings)
    if name == "reporting":
        from services.reporting.app import create_app as reporting

        return reporting(settings)
    raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")


def owner_of(apps: Mapping[str, FastAPI], scope: Scope) -> str | None:
    """The service whose routes fully match the request (path and method)."""
    partial: str | None = None
    for name, app in apps.items():
        for route in app.router.routes:
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return name
            if match == Match.PARTIAL and partial is None:
                partial = name  # right path, wrong method: let that app answer 405
    return partial


class Gateway:
    def __init__(self, apps: Mapping[str, FastAPI]) -> None:
        self.apps = dict(apps)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if scope["type"] == "http" and path in ("/healthz", "/readyz"):
            await self._health(scope, receive, send)
            return
        name = owner_of(self.apps, scope) or FALLBACK
        await self.apps[name](scope, receive, send)

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> None:
        import httpx
        from starlette.responses import JSONResponse

        kind = scope["path"].strip("/")
        results: dict[str, Any] = {}
        ok = True
        for name, app in self.apps.items():
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                r = await client.get(f"/{kind}/{name}")
            results[name] = r.json() if r.headers.get("content-type", "").startswith("application/") else r.text
            ok = ok and r.status_code == 200
        status = ("ok" if kind == "healthz" else "ready") if ok else "failing"
        await JSONResponse({"status": status, "services": results}, status_code=200 if ok else 503)(
            scope, receive, send
        )

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        stack = AsyncExitStack()
        try:
            for app in self.apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
        except BaseException as exc:  # noqa: BLE001 - reported to the server, which exits
            await stack.aclose()
            await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        try:
            await stack.aclose()
        except Exception as exc:  # noqa: BLE001 - reported to the server, which logs it
            await send({"type": "lifespan.shutdown.failed", "message": f"{type(exc).__name__}: {exc}"})
            return
        await send({"type": "lifespan.shutdown.complete"})


def create_gateway(settings: Settings | None = None, services: tuple[str, ...] = SERVICES) -> Gateway:
    return Gateway({name: create_service_app(name, settings) for name in services})


# --------------------------------------------------------------------------- proxy mode

# Headers that describe one connection, not the message (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the proxy from what uvicorn resolved (client, scheme, host); incoming values are
# dropped so a client cannot claim another address. Expect: uvicorn answered it already.
FORWARDED = frozenset({b"forwarded", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"expect"})
# The proxy's own server adds these to every response.
OWN_RESPONSE_HEADERS = frozenset({b"date", b"server"})


class _ClientGone(Exception):
    """The client disconnected while its request body was being forwarded."""


def _connection_tokens(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    tokens: set[bytes] = set()
    for key, value in headers:
        if key.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return tokens


class ProxyGateway:
    """The single origin in front of service processes (``polku serve all --proxy``).

    Each request goes to the service whose route table matches it, decided exactly as
    ``Gateway`` decides (``owner_of``, unmatched paths to coaching), and is forwarded to
    that service's process over HTTP: method, path and query, headers (less hop-by-hop
    ones), body and response streamed both ways, status and every ``Set-Cookie`` kept.
    The upstream sees the original ``Host`` and ``X-Forwarded-For``/``-Proto``/``-Host``.
    No cookie jar, no redirects followed, no retries: the proxy keeps no state between
    requests. ``/healthz`` and ``/readyz`` ask every service and answer for all of them.
    """

    def __init__(
        self,
        apps: Mapping[str, FastAPI],
        upstreams: Mapping[str, str],
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        health_timeout: float = 5.0,
    ) -> None:
        missing = set(apps) - set(upstreams)
        if missing:
            raise ValueError(f"no upstream URL for {', '.join(sorted(missing))}")
        self.apps = dict(apps)
        self.upstreams = {name: upstreams[name].rstrip("/") for name in apps}
        self.timeouts = {
            "connect": connect_timeout,
            "read": read_timeout,
            "write": read_timeout,
            "pool": connect_timeout,
        }
        self.health_timeout = health_timeout
        self._transport: httpx.AsyncHTTPTransport | None = None

    @property
    def transport(self) -> httpx.AsyncHTTPTransport:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport(
                retries=0, limits=httpx.Limits(max_connections=400, max_keepalive_connections=100)
            )
        return self._transport

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":  # no service speaks websockets: refuse the handshake
            if (await receive())["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": 1000})
            return
        path: str = scope.get("path", "")
        if path in ("/healthz", "/readyz"):
            await self._health(path.strip("/"), scope, receive, send)
            return
        name = owner_of(self.apps, scope) or FALLBACK
        await self.forward(name, scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _ = self.transport
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _request_headers(self, scope: Scope) -> list[tuple[bytes, bytes]]:
        incoming: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
        drop = HOP_BY_HOP | FORWARDED | _connection_tokens(incoming)
        headers = [(k, v) for k, v in incoming if k.lower() not in drop]
        host = next((v for k, v in incoming if k.lower() == b"host"), None)
        client = scope.get("client")
        if client:
            headers.append((b"x-forwarded-for", str(client[0]).encode("latin-1")))
        headers.append((b"x-forwarded-proto", str(scope.get("scheme", "http")).encode("latin-1")))
        if host is not None:
            headers.append((b"x-forwarded-host", host))
        return headers

    async def forward(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward one HTTP request to service ``name`` and stream its answer back."""
        from starlette.responses import Response

        from shared.problems import problem_response

        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        url = httpx.URL(
            self.upstreams[name] + raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        )
        headers = self._request_headers(scope)
        has_body = any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in scope.get("headers", []))

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                chunk: bytes = message.get("body", b"")
                if chunk:
                    yield chunk
                if not message.get("more_body", False):
                    return

        request = httpx.Request(
            scope["method"],
            url,
            headers=headers,
            content=body() if has_body else b"",
            extensions={"timeout": self.timeouts},
        )
        failure: Response | None = None
        try:
            response = await self.transport.handle_async_request(request)
        except _ClientGone:
            return
        except httpx.TimeoutException:
            log.warning("upstream %s timed out", name)
            failure = problem_response(
                504, "Gateway Timeout", f"The {name} service did not answer in time.", code="upstream_timeout"
            )
        except httpx.TransportError as exc:
            log.warning("upstream %s unreachable: %s", name, type(exc).__name__)
            failure = problem_response(
                502, "Bad Gateway", f"The {name} service is not reachable.", code="upstream_unavailable"
            )
        if failure is not None:
            await failure(scope, receive, send)
            return
        try:
            drop = HOP_BY_HOP | OWN_RESPONSE_HEADERS | _connection_tokens(response.headers.raw)
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in drop],
                }
            )
            async for chunk in response.stream:  # type: ignore[union-attr]
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    async def _health(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        import asyncio
        import json

        from starlette.responses import JSONResponse

        async def ask(name: str) -> tuple[str, bool, Any]:
            request = httpx.Request(
                "GET",
                f"{self.upstreams[name]}/{kind}/{name}",
                extensions={"timeout": dict.fromkeys(("connect", "read", "write", "pool"), self.health_timeout)},
            )
            try:
                response = await self.transport.handle_async_request(request)
                try:
                    raw = await response.aread()
                finally:
                    await response.aclose()
            except httpx.HTTPError as exc:
                return name, False, {"status": "unreachable", "error": type(exc).__name__}
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            return name, response.status_code == 200, body

        answers = await asyncio.gather(*(ask(name) for name in self.apps))
        ok = all(good for _, good, _ in answers)
        status = ("ok" if kind == "healthz" else "ready") if ok else "failing"
        services = {name: body for name, _, body in answers}
        await JSONResponse({"status": status, "services": services}, status_code=200 if ok else 503)(
            scope, receive, send
        )


def create_proxy(settings: Settings | None = None, services: tuple[str, ...] = SERVICES) -> ProxyGateway:
    """The proxy origin: the services' route tables, requests to ``settings.service_url(name)``."""
    from shared.settings import get_settings

    settings = settings or get_settings()
    apps = {name: create_service_app(name, settings) for name in services}
    return ProxyGateway(apps, {name: settings.service_url(name) for name in services})
