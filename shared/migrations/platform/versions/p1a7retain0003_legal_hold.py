"""legal_hold

Revision ID: p1a7retain0003
Revises: p1a7session002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = 'p1a7retain0003'
down_revision: str | None = 'p1a7session002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_years', sa.Integer(), server_default='10', nullable=False))

    op.create_table('legal_holds',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('case_reference', sa.String(length=128), nullable=True),
    sa.Column('placed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('placed_by', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('lifted_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lifted_by', shared.db.UUIDStr(length=36), nullable=True),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index('ix_legal_holds_client', ['organisation_id', 'client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_legal_holds_organisation_id'), ['organisation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_holds_organisation_id'))
        batch_op.drop_index('ix_legal_holds_client')

    op.drop_table('legal_holds')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_column('retention_years')
