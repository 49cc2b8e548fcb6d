"""Builds the employer service's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from services.employer.api import router
from services.employer.models import OutboxEvent
from shared.service import ServiceContext, build_service_app
from shared.settings import Settings


async def _start(ctx: ServiceContext) -> None:
    ctx.start_outbox(OutboxEvent)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_service_app("employer", [router], settings=settings, on_start=[_start])
