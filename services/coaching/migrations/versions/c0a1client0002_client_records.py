"""client_records

Revision ID: c0a1client0002
Revises: e260c30511cf
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = 'c0a1client0002'
down_revision: str | None = 'e260c30511cf'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('client_meetings',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('occurred_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('place', sa.String(length=20), nullable=False),
    sa.Column('contact_mode', sa.String(length=20), nullable=False),
    sa.Column('participants', sa.JSON(), nullable=False),
    sa.Column('notes_enc', sa.Text(), nullable=True),
    sa.Column('recorded_by', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('client_meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_meetings_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_meetings_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('vocational_profile_versions',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('strengths_enc', sa.Text(), nullable=True),
    sa.Column('interests_enc', sa.Text(), nullable=True),
    sa.Column('work_history_enc', sa.Text(), nullable=True),
    sa.Column('education_enc', sa.Text(), nullable=True),
    sa.Column('work_ability_enc', sa.Text(), nullable=True),
    sa.Column('support_needs_enc', sa.Text(), nullable=True),
    sa.Column('preferred_fields_enc', sa.Text(), nullable=True),
    sa.Column('preferred_hours_per_week', sa.Integer(), nullable=True),
    sa.Column('preferred_area_enc', sa.Text(), nullable=True),
    sa.Column('goals_enc', sa.Text(), nullable=True),
    sa.Column('changed_fields', sa.JSON(), nullable=False),
    sa.Column('author_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('saved_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('organisation_id', 'client_id', 'version', name='uq_profile_version')
    )
    with op.batch_alter_table('vocational_profile_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vocational_profile_versions_client_id'), ['client_id'], unique=False)
        batch_op.create_index(
            batch_op.f('ix_vocational_profile_versions_organisation_id'), ['organisation_id'], unique=False
        )

    op.create_table('client_team_members',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('role', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=True),
    sa.Column('contact_enc', sa.Text(), nullable=True),
    sa.Column('started_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_by', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('ended_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_by', shared.db.UUIDStr(length=36), nullable=True),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('client_team_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_team_members_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_team_members_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('client_team_meetings',
    sa.Column('id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('participant_ids', sa.JSON(), nullable=False),
    sa.Column('notes_enc', sa.Text(), nullable=True),
    sa.Column('recorded_by', shared.db.UUIDStr(length=36), nullable=False),
    sa.Column('recorded_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('client_team_meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_team_meetings_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_client_team_meetings_organisation_id'), ['organisation_id'], unique=False)


def downgrade() -> None:
    for table in ('client_team_meetings', 'client_team_members', 'vocational_profile_versions', 'client_meetings'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_organisation_id'))
            batch_op.drop_index(batch_op.f(f'ix_{table}_client_id'))
        op.drop_table(table)
