"""The platform database: organisations, users and the audit log, shared by all services."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, UUIDStr, utcnow
from shared.tenancy import TenantScoped


class PlatformBase(DeclarativeBase):
    pass


class Organisation(PlatformBase):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    region_id: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Years a closed journey's personal data is kept (shared.retention); 10 by law for
    # working-age social services.
    retention_years: Mapped[int] = mapped_column(Integer, default=10, server_default="10")


class LegalHold(TenantScoped, PlatformBase):
    """A legal hold on a client's data: retention erases nothing while one is in force
    (``lifted_at`` null). Lifted holds stay as history. ``case_reference`` is a diary or
    case number, never free text."""

    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_client", "organisation_id", "client_id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    case_reference: Mapped[str | None] = mapped_column(String(128), nullable=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    placed_by: Mapped[uuid.UUID] = mapped_column(UUIDStr)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lifted_by: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, nullable=True)


class Team(TenantScoped, PlatformBase):
    """A team of coaches in one organisation, led by a team lead (``users.team_id``)."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("organisation_id", "name", name="uq_teams_org_name"),)

    id: Mapped[uuid.UUID] = mapped_column(UUIDStr, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
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
    team_id: Mapped[uuid.UUID | None] = mapped_column(UUIDStr, ForeignKey("teams.id"), nullable=True, index=True)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Tokens and sessions issued before this are refused ("log out everywhere").
    sessions_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RevokedSession(PlatformBase):
    """A token or session ended before its expiry (logout); kept until it would expire."""

    __tablename__ = "revoked_sessions"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUIDStr, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


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
