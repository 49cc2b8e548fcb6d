"""Builds the reporting service's FastAPI app: the report API, the report pages and the
event consumers that keep the projections current."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting import audit_api, audit_pages, consumers, pages
from services.reporting.api import router
from shared.db import Database
from shared.service import ServiceContext, build_service_app
from shared.settings import Settings


async def _start(ctx: ServiceContext) -> None:
    # The requests mostly read. On SQLite their transactions begin deferred, so reports
    # read from a snapshot beside each other and beside the projection's writes (which take
    # the write lock at BEGIN, in the consumers' own database); the only write here, a
    # review, inserts in a transaction of its own.
    await ctx.database.dispose()
    ctx.db = Database(ctx.settings, ctx.name, immediate=False)
    await consumers.start(ctx)


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_service_app(
        "reporting",
        [router, pages.router, audit_api.router, audit_pages.router],
        settings=settings,
        on_start=[_start],
        setup=pages.install,
    )
