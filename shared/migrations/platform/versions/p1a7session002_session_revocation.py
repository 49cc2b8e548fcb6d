"""session_revocation

Revision ID: p1a7session002
Revises: 059955cec1a2
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "p1a7session002"
down_revision: str | None = "059955cec1a2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sessions_valid_after", shared.db.UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "revoked_sessions",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", shared.db.UUIDStr(length=36), nullable=False),
        sa.Column("expires_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    with op.batch_alter_table("revoked_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_sessions_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_revoked_sessions_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("revoked_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_revoked_sessions_user_id"))
    op.drop_table("revoked_sessions")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("sessions_valid_after")
