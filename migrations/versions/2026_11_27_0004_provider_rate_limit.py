"""The provider request log of the shared rate limit (GEMINI_REQUESTS_PER_MINUTE).

Every granted Gemini request of every bot process is a row; a grant counts the rows of the
window under an advisory lock. Old rows are pruned by the grants themselves.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "provider_request_slots",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column(
            "taken_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("provider_request_slots_pkey")),
    )
    op.create_index(
        "idx_provider_request_slots_bucket_taken",
        "provider_request_slots",
        ["bucket", "taken_at"],
        unique=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("idx_provider_request_slots_bucket_taken", table_name="provider_request_slots")
    op.drop_table("provider_request_slots")
