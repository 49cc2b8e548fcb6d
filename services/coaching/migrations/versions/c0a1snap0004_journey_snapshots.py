"""journey snapshots: the dashboard's read model of each journey's state

Revision ID: c0a1snap0004
Revises: c0a1report0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = "c0a1snap0004"
down_revision: str | None = "c0a1report0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_snapshots",
        sa.Column("client_id", shared.db.UUIDStr(length=36), nullable=False),
        sa.Column("coach_id", shared.db.UUIDStr(length=36), nullable=False),
        sa.Column("phase", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", shared.db.UUIDStr(length=36), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    with op.batch_alter_table("journey_snapshots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journey_snapshots_coach_id"), ["coach_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_journey_snapshots_organisation_id"), ["organisation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("journey_snapshots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journey_snapshots_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_journey_snapshots_coach_id"))

    op.drop_table("journey_snapshots")
