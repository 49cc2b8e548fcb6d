"""Builds the employer service's FastAPI app: its API, its pages and the journey consumer."""

from __future__ import annotations

from fastapi import FastAPI

from services.employer import consumers, pages
from services.employer.api import router
from services.employer.models import OutboxEvent
from shared.service import ServiceContext, build_service_app, check_temporal
from shared.settings import Settings


async def _start(ctx: ServiceContext) -> None:
    ctx.start_outbox(OutboxEvent)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_service_app(
        "employer",
        [router, pages.router],
        settings=settings,
        on_start=[_start],
        subscribers=[consumers.register],
        readiness=[check_temporal],
        setup=pages.install,
    )
