"""reporting: indexes and tables for report speed at 100,000 clients

The projection tables had an index on ``organisation_id`` alone beside a composite index
that starts with it (organisation and day, ...): every query the single one could answer
the composite answers too, and each event applied paid for keeping both. They go.

Revision ID: r0a1perf0002
Revises: 554dcf9e696f
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = 'r0a1perf0002'
down_revision: str | None = '554dcf9e696f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose ``ix_{table}_organisation_id`` a composite (organisation_id, ...) index covers.
COVERED = (
    'assessments',
    'employer_contacts',
    'episodes',
    'feedback_answers',
    'jobs',
    'journey_facts',
    'placements',
    'quick_help',
    'referrals',
    'spells',
)


def upgrade() -> None:
    for table in COVERED:
        op.drop_index(f'ix_{table}_organisation_id', table_name=table)


def downgrade() -> None:
    for table in COVERED:
        op.create_index(f'ix_{table}_organisation_id', table, ['organisation_id'], unique=False)
