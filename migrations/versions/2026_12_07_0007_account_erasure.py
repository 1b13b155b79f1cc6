"""Account erasure: storage_deletions (stored objects whose rows are gone, deleted after the
commit and retried until storage confirms) and account_carryover (a deleted account's quota use
of the day and a suspension or ban, keyed by a hash of the Discord identity, so deleting and
coming back neither resets the daily quota nor lifts a sanction or a server's block).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 08:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "storage_deletions",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("is_prefix", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("storage_deletions_pkey")),
    )
    op.create_table(
        "account_carryover",
        sa.Column("identity_hash", sa.Text(), nullable=False),
        sa.Column("daily_used", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_reset_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=True),
        sa.Column("account_status", sa.Text(), server_default=sa.text("'active'"), nullable=False),
        sa.Column(
            "guild_blocks",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("identity_hash", name=op.f("account_carryover_pkey")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("account_carryover")
    op.drop_table("storage_deletions")
