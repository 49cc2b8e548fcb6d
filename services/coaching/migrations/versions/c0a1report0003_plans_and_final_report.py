"""final_report

Revision ID: c0a1report0003
Revises: c0a1client0002
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import shared.db  # noqa: F401

revision: str = 'c0a1report0003'
down_revision: str | None = 'c0a1client0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by its feature


def downgrade() -> None:
    pass
