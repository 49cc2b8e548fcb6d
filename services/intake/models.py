"""Intake: the client registry. Personal fields are stored encrypted; names are
searchable only through keyed blind indexes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, UUIDStr, utcnow
from shared.outbox import outbox_model
from shared.tenancy import TenantScoped


class IntakeBase(DeclarativeBase):
    pass


OutboxEvent = outbox_model(IntakeBase)


class Client(TenantScoped, IntakeBase):
    __tablename__ = "clients"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    coach_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    journey_id: Mapped[str] = mapped_column(String(120))
    first_name_enc: Mapped[str] = mapped_column(Text)
    last_name_enc: Mapped[str] = mapped_column(Text)
    name_index: Mapped[str] = mapped_column(String(64), index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)


def _name(v: str) -> str:
    v = " ".join(v.split())
    if not v:
        raise ValueError("must not be empty")
    if any(ch.isdigit() for ch in v):
        raise ValueError("must not contain digits")
    return v


class ClientCreate(BaseModel):
    """A self-referral: the coach registers a client directly."""

    model_config = ConfigDict(extra="forbid")

    coach_id: uuid.UUID
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)

    _check_names = field_validator("first_name", "last_name")(_name)
