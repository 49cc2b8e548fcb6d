"""Employer HTTP routes (employers, contacts, openings, placements arrive with their issue)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["employers"])
