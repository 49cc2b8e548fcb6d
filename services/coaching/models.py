"""Coaching service tables and API models."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.outbox import outbox_model


class CoachingBase(DeclarativeBase):
    pass


OutboxEvent = outbox_model(CoachingBase)
