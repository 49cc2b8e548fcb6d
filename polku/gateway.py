"""One origin for the web UI and every service's API.

In the embedded stack all four service apps run in one process and the gateway hands
each request to the app whose route table matches it (``/api/v1/clients/{id}`` to
intake, ``/api/v1/journeys/...`` to coaching, ...). Unmatched paths go to coaching,
which serves the web UI and its 404 page.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from shared.settings import SERVICES, Settings

FALLBACK = "coaching"


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
