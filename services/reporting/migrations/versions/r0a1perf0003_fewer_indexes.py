"""reporting: fewer indexes to update per event applied

Every journey event applied is stored as a fact, and each fact paid for three indexes:
its event id (the primary key), (client, seq) and (organisation, kind, ...). Keyed by
(client_id, event_id) instead, the key's index finds a client's facts and tells whether
an event was applied (the event names its client): the one on (client, seq) goes.

Two indexes no query reads go too: journeys by coach (reports group by coach within an
organisation, found by the organisation's index) and episodes by (organisation, started
day).

Revision ID: r0a1perf0003
Revises: r0a1perf0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.db

revision: str = 'r0a1perf0003'
down_revision: str | None = 'r0a1perf0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = 'journey_facts'
PKEY = 'journey_facts_pkey'  # PostgreSQL's name for the unnamed primary key


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column('event_id', shared.db.UUIDStr(length=36), nullable=False),
        sa.Column('client_id', shared.db.UUIDStr(length=36), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=True),
        sa.Column('episode', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('month', sa.Integer(), nullable=False),
        sa.Column('coach_id', shared.db.UUIDStr(length=36), nullable=False),
        sa.Column('phase', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=True),
        sa.Column('from_phase', sa.String(length=40), nullable=True),
        sa.Column('from_status', sa.String(length=20), nullable=True),
        sa.Column('rest_reason', sa.String(length=40), nullable=True),
        sa.Column('outcome', sa.String(length=40), nullable=True),
        sa.Column('milestone', sa.String(length=40), nullable=True),
        sa.Column('milestone_at', shared.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('code', sa.String(length=20), nullable=True),
        sa.Column('contact_mode', sa.String(length=20), nullable=True),
        sa.Column('reminder', sa.String(length=40), nullable=True),
        sa.Column('organisation_id', shared.db.UUIDStr(length=36), nullable=False),
    ]


def _rebuild_sqlite(key: list[str]) -> None:
    """SQLite does not change a primary key in place: copy the facts into a new table.
    Dropping the old one drops its indexes; the report index is made again."""
    columns = _columns()
    names = ', '.join(c.name for c in columns)
    op.create_table(f'{TABLE}_new', *columns, sa.PrimaryKeyConstraint(*key))
    op.execute(f'INSERT INTO {TABLE}_new ({names}) SELECT {names} FROM {TABLE}')
    op.drop_table(TABLE)
    op.rename_table(f'{TABLE}_new', TABLE)
    op.create_index(
        'ix_journey_facts_org_kind_day', TABLE, ['organisation_id', 'kind', 'milestone', 'day', 'code'], unique=False
    )


def upgrade() -> None:
    op.drop_index('ix_journeys_coach_id', table_name='journeys')
    op.drop_index('ix_episodes_org_started_day', table_name='episodes')
    if op.get_bind().dialect.name == 'sqlite':
        _rebuild_sqlite(['client_id', 'event_id'])
        return
    op.drop_index('ix_journey_facts_client_seq', table_name=TABLE)
    op.drop_constraint(PKEY, TABLE, type_='primary')
    op.create_primary_key(PKEY, TABLE, ['client_id', 'event_id'])


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        _rebuild_sqlite(['event_id'])
    else:
        op.drop_constraint(PKEY, TABLE, type_='primary')
        op.create_primary_key(PKEY, TABLE, ['event_id'])
    op.create_index('ix_journey_facts_client_seq', TABLE, ['client_id', 'seq'], unique=False)
    op.create_index('ix_episodes_org_started_day', 'episodes', ['organisation_id', 'started_day'], unique=False)
    op.create_index('ix_journeys_coach_id', 'journeys', ['coach_id'], unique=False)
