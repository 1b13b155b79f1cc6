"""Remixes: members' choice to allow remixes of their characters, and the count of a
character's remixes.

- member_settings: the bot's own per-member settings beyond the platform's ``users`` columns
  (the reference schema's tables stay as they are); ``allow_remix`` defaults to true.
- idx_characters_remix_of: the remixes of a character (``metadata ->> 'remixOf'``), counted by
  /character show; partial, so characters that are no remix cost nothing.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 08:30:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REMIXES = sa.text("(metadata ? 'remixOf')")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "member_settings",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("allow_remix", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("member_settings_user_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("member_settings_pkey")),
    )
    op.create_index(
        "idx_characters_remix_of",
        "characters",
        [sa.literal_column("(metadata ->> 'remixOf')")],
        unique=False,
        postgresql_where=REMIXES,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("idx_characters_remix_of", table_name="characters", postgresql_where=REMIXES)
    op.drop_table("member_settings")
