"""Employer service tables and API models."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.outbox import outbox_model


class EmployerBase(DeclarativeBase):
    pass


OutboxEvent = outbox_model(EmployerBase)
