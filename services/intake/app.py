"""Builds the intake service's FastAPI app: the intake API and intake's pages."""

from __future__ import annotations

from fastapi import FastAPI

from services.intake import consumers, pages, retention_api
from services.intake.api import router
from services.intake.models import OutboxEvent
from shared.service import ServiceContext, build_service_app, check_temporal
from shared.settings import Settings


async def _start(ctx: ServiceContext) -> None:
    ctx.start_outbox(OutboxEvent)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_service_app(
        "intake",
        [router, retention_api.router, pages.router],
        settings=settings,
        on_start=[_start],
        subscribers=[consumers.register],
        readiness=[check_temporal],
        setup=pages.install,
    )
