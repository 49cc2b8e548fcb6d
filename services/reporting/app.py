"""Builds the reporting service's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting import consumers
from services.reporting.api import router
from shared.service import build_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    return build_service_app("reporting", [router], settings=settings, subscribers=[consumers.register])
