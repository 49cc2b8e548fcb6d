"""Placeholder: filled in by its feature (tables on CoachingBase)."""

from __future__ import annotations

from services.coaching.models import CoachingBase

__all__ = ["CoachingBase"]
