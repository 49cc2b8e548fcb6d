"""Builds the reporting service's FastAPI app: the report API, the report pages and the
event consumers that keep the projections current."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting import consumers, pages
from services.reporting.api import router
from shared.service import build_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_service_app(
        "reporting",
        [router, pages.router],
        settings=settings,
        on_start=[consumers.start],
        setup=pages.install,
    )
