"""Indexes for the listings that bench/queries.py showed slow at a million characters.

The reference schema indexes characters.user_id, characters.created_at and
theme_variants.theme_id / created_at separately. A listing filters on one and orders by the
other, so PostgreSQL either walks the whole created_at index filtering row by row (a member with
few matching characters, or an old theme: 0.7-0.8 s at 1M characters / 2M variants) or fetches
every matching row and sorts them. Each index below serves one listing in its own order, so a
page reads about as many index entries as it shows:

- idx_characters_user_completed: /character list and the character autocomplete (the
  caller's completed characters, newest first; ``name`` included so autocomplete's name filter
  runs on an index-only scan).
- idx_characters_gallery: /gallery browse (public completed characters, newest or oldest first,
  keyset pages at any depth).
- idx_characters_gallery_style: /gallery browse with a style (and a tag): without it a style and
  tag pair matching 1 public character in 200 walks thousands of gallery rows per page (23 ms,
  over 100 ms under the generic plan of a prepared statement).
- idx_theme_variants_theme_created: /variant list (a theme's variants, newest first).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:00:00.000000

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMPLETED = sa.text("generation_status = 'completed'::text")
GALLERY = sa.text("(is_public IS TRUE) AND (generation_status = 'completed'::text)")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index(
        op.f("idx_characters_user_completed"),
        "characters",
        ["user_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        postgresql_include=["name"],
        postgresql_where=COMPLETED,
    )
    op.create_index(
        op.f("idx_characters_gallery"),
        "characters",
        [sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=GALLERY,
    )
    op.create_index(
        op.f("idx_characters_gallery_style"),
        "characters",
        ["style_type", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
        postgresql_where=GALLERY,
    )
    op.create_index(
        op.f("idx_theme_variants_theme_created"),
        "theme_variants",
        ["theme_id", sa.literal_column("created_at DESC"), sa.literal_column("id DESC")],
        unique=False,
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("idx_theme_variants_theme_created"), table_name="theme_variants")
    op.drop_index(op.f("idx_characters_gallery"), table_name="characters", postgresql_where=GALLERY)
    op.drop_index(
        op.f("idx_characters_user_completed"), table_name="characters", postgresql_where=COMPLETED
    )
