"""Tables the bot needs beyond the platform schema, and the thread lookup index.

guild_settings (showcase channel, moderator role), moderation_actions (the /mod log),
showcase_posts (so unpublishing removes the showcase message), user_notices (moderation notices
not delivered by DM), bot_state (the hash of the synced command set), and an expression index
finding a character from its Discord thread (characters.metadata->>'conversationId').

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 08:21:39.655138

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "bot_state",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("bot_state_pkey")),
    )
    op.create_table(
        "guild_settings",
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("showcase_channel_id", sa.BigInteger(), nullable=True),
        sa.Column("moderator_role_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("guild_id", name=op.f("guild_settings_pkey")),
    )
    op.create_table(
        "user_notices",
        sa.Column(
            "id", sa.Text(), server_default=sa.text("(gen_random_uuid())::text"), nullable=False
        ),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("user_notices_user_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("user_notices_pkey")),
    )
    op.create_index(
        op.f("idx_user_notices_pending"),
        "user_notices",
        ["user_id"],
        unique=False,
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.create_table(
        "moderation_actions",
        sa.Column(
            "id", sa.Text(), server_default=sa.text("(gen_random_uuid())::text"), nullable=False
        ),
        sa.Column("guild_id", sa.BigInteger(), nullable=True),
        sa.Column("moderator_discord_id", sa.BigInteger(), nullable=False),
        sa.Column("moderator_user_id", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target_user_id", sa.Text(), nullable=True),
        sa.Column("target_character_id", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "action IN ('setup', 'unpublish', 'set_status')",
            name=op.f("moderation_actions_action_check"),
        ),
        sa.ForeignKeyConstraint(
            ["moderator_user_id"],
            ["users.id"],
            name=op.f("moderation_actions_moderator_user_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_character_id"],
            ["characters.id"],
            name=op.f("moderation_actions_target_character_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_user_id"],
            ["users.id"],
            name=op.f("moderation_actions_target_user_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("moderation_actions_pkey")),
    )
    op.create_index(
        op.f("idx_moderation_actions_guild_created"),
        "moderation_actions",
        ["guild_id", sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_table(
        "showcase_posts",
        sa.Column("character_id", sa.Text(), nullable=False),
        sa.Column("guild_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("showcase_posts_character_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("character_id", "guild_id", name=op.f("showcase_posts_pkey")),
    )
    op.create_index(
        op.f("idx_characters_conversation_id"),
        "characters",
        [sa.literal_column("(metadata ->> 'conversationId')")],
        unique=False,
        postgresql_where=sa.text("(metadata ? 'conversationId')"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(
        op.f("idx_characters_conversation_id"),
        table_name="characters",
        postgresql_where=sa.text("(metadata ? 'conversationId')"),
    )
    op.drop_table("showcase_posts")
    op.drop_index(op.f("idx_moderation_actions_guild_created"), table_name="moderation_actions")
    op.drop_table("moderation_actions")
    op.drop_index(
        op.f("idx_user_notices_pending"),
        table_name="user_notices",
        postgresql_where=sa.text("delivered_at IS NULL"),
    )
    op.drop_table("user_notices")
    op.drop_table("guild_settings")
    op.drop_table("bot_state")
