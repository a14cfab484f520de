"""subscribers: directory numbers and their contracts

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("number", sa.String(32), primary_key=True),
        sa.Column("contract_number", sa.String(32), nullable=False),
        sa.Column("region", sa.String(8), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.CheckConstraint("region IS NULL OR region IN ('east', 'west')", name="ck_region"),
    )
    op.create_index("ix_subscribers_contract_number", "subscribers", ["contract_number"])


def downgrade() -> None:
    op.drop_index("ix_subscribers_contract_number", table_name="subscribers")
    op.drop_table("subscribers")
