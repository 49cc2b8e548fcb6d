"""retention

Revision ID: 1a7retain0002
Revises: f7af97b0ec2d
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import shared.db  # noqa: F401

revision: str = '1a7retain0002'
down_revision: str | None = 'f7af97b0ec2d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # filled in by its feature


def downgrade() -> None:
    pass
