"""The platform database: organisations, users and the audit log, shared by all services."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, UUIDStr, utcnow


class PlatformBase(DeclarativeBase):
    pass


class Organisation(PlatformBase):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(PlatformBase):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True, default=uuid.uuid4)
    organisation_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, ForeignKey("organisations.id"), index=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    fte: Mapped[float] = mapped_column(Float, default=1.0)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditRecord(PlatformBase):
    """One access to a client's data. Hash-chained per organisation: ``hash`` covers the
    record's fields and the previous record's hash, so an edit or a deletion breaks the
    chain at that point."""

    __tablename__ = "audit_records"
    __table_args__ = (
        UniqueConstraint("organisation_id", "seq", name="uq_audit_org_seq"),
        Index("ix_audit_client", "organisation_id", "client_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organisation_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)
    actor_role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)
    purpose: Mapped[str | None] = mapped_column(Text, nullable=True)
    trace_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(PlatformBase):
    """The newest link of each organisation's chain; locked while appending."""

    __tablename__ = "audit_heads"

    organisation_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
