"""Builds the coaching service's FastAPI app: the web UI, login, and the journey API."""

from __future__ import annotations

from fastapi import FastAPI

from services.coaching import (
    api,
    codec_server,
    final_report,
    journey_snapshots,
    pages,
    plan_pages,
    plans,
    record_pages,
    records,
)
from services.coaching.models import OutboxEvent
from shared import auth_api
from shared.events import docs as event_docs
from shared.service import ServiceContext, build_service_app, check_temporal
from shared.settings import Settings


async def _start(ctx: ServiceContext) -> None:
    ctx.start_outbox(OutboxEvent)
    # The dashboard's journey snapshots, kept current from the journey events.
    await journey_snapshots.start(ctx)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_service_app(
        "coaching",
        [
            auth_api.router,
            api.router,
            records.router,
            plans.router,
            final_report.router,
            codec_server.router,
            event_docs.router,
            pages.router,
            record_pages.router,
            plan_pages.router,
        ],
        settings=settings,
        on_start=[_start],
        readiness=[check_temporal],
        setup=pages.install,
    )
