"""teams

Revision ID: p1a7teams0004
Revises: p1a7retain0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import shared.db  # noqa: F401

revision: str = 'p1a7teams0004'
down_revision: str | None = 'p1a7retain0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by its feature


def downgrade() -> None:
    pass
