"""The platform schema, exactly as spec/database-design.md defines it.

A database the platform already built from that DDL is adopted by `charbot migrate`, which
detects it and stamps this revision instead of running it (see db/migrate.py and the README).

Revision ID: 0001
Revises:
Create Date: 2026-11-27 08:13:54.427301

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "users",
        sa.Column(
            "id", sa.Text(), server_default=sa.text("(gen_random_uuid())::text"), nullable=False
        ),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("auth0_id", sa.Text(), nullable=True),
        sa.Column("username", sa.Text(), nullable=True),
        sa.Column("display_name", sa.Text(), nullable=True),
        sa.Column("avatar_url", sa.Text(), nullable=True),
        sa.Column("subscription_tier", sa.Text(), server_default="FREE", nullable=True),
        sa.Column("subscription_start_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("subscription_end_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("daily_quota", sa.Integer(), server_default="3", nullable=False),
        sa.Column("daily_used", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "last_reset_date",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("preferred_language", sa.Text(), server_default="en", nullable=True),
        sa.Column("timezone", sa.Text(), server_default="UTC", nullable=True),
        sa.Column(
            "notification_settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text('\'{"email": true, "push": false}\'::jsonb'),
            nullable=True,
        ),
        sa.Column("profile_visibility", sa.Text(), server_default="private", nullable=True),
        sa.Column(
            "allow_gallery_showcase", sa.Boolean(), server_default=sa.text("false"), nullable=True
        ),
        sa.Column("content_filter_level", sa.Text(), server_default="moderate", nullable=True),
        sa.Column("total_characters_created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_images_generated", sa.Integer(), server_default="0", nullable=False),
        sa.Column("account_status", sa.Text(), server_default="active", nullable=True),
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
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "account_status IN ('active', 'suspended', 'banned', 'deleted')",
            name=op.f("users_account_status_check"),
        ),
        sa.CheckConstraint(
            "content_filter_level IN ('strict', 'moderate', 'relaxed')",
            name=op.f("users_content_filter_level_check"),
        ),
        sa.CheckConstraint(
            "email ~ '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$'",
            name=op.f("users_email_format"),
        ),
        sa.CheckConstraint(
            "preferred_language IN ('en', 'zh', 'ja', 'ko')",
            name=op.f("users_preferred_language_check"),
        ),
        sa.CheckConstraint(
            "profile_visibility IN ('public', 'friends', 'private')",
            name=op.f("users_profile_visibility_check"),
        ),
        sa.CheckConstraint(
            "subscription_tier IN ('FREE', 'PREMIUM', 'PRO', 'ENTERPRISE')",
            name=op.f("users_subscription_tier_check"),
        ),
        sa.CheckConstraint("username ~ '^[a-zA-Z0-9_]{3,30}$'", name=op.f("users_username_format")),
        sa.CheckConstraint("daily_quota >= 0", name=op.f("users_daily_quota_positive")),
        sa.CheckConstraint("daily_used >= 0", name=op.f("users_daily_used_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("users_pkey")),
        sa.UniqueConstraint("auth0_id", name=op.f("users_auth0_id_key")),
        sa.UniqueConstraint("email", name=op.f("users_email_key")),
        sa.UniqueConstraint("username", name=op.f("users_username_key")),
    )
    op.create_index(op.f("idx_users_account_status"), "users", ["account_status"], unique=False)
    op.create_index(op.f("idx_users_auth0_id"), "users", ["auth0_id"], unique=False)
    op.create_index(op.f("idx_users_created_at"), "users", ["created_at"], unique=False)
    op.create_index(op.f("idx_users_email"), "users", ["email"], unique=False)
    op.create_index(op.f("idx_users_last_login"), "users", ["last_login_at"], unique=False)
    op.create_index(
        op.f("idx_users_subscription_tier"), "users", ["subscription_tier"], unique=False
    )
    op.create_index(op.f("idx_users_username"), "users", ["username"], unique=False)
    op.create_table(
        "character_collections",
        sa.Column(
            "id", sa.Text(), server_default=sa.text("(gen_random_uuid())::text"), nullable=False
        ),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column("cover_image_url", sa.Text(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("character_collections_user_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("character_collections_pkey")),
    )
    op.create_index(
        op.f("idx_character_collections_user_id"),
        "character_collections",
        ["user_id"],
        unique=False,
    )
    op.create_table(
        "characters",
        sa.Column(
            "id", sa.Text(), server_default=sa.text("(gen_random_uuid())::text"), nullable=False
        ),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("style_type", sa.Text(), server_default="realistic", nullable=True),
        sa.Column("s3_url", sa.Text(), nullable=True),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("thumbnail_url", sa.Text(), nullable=True),
        sa.Column("reference_image_url", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.Column(
            "tags",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=True,
        ),
        sa.Column("age", sa.Text(), nullable=True),
        sa.Column("gender", sa.Text(), nullable=True),
        sa.Column("occupation", sa.Text(), nullable=True),
        sa.Column("personality", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("physical_traits", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("clothing", sa.Text(), nullable=True),
        sa.Column("background", sa.Text(), nullable=True),
        sa.Column("is_public", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column("is_favorite", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column("is_in_library", sa.Boolean(), server_default=sa.text("false"), nullable=True),
        sa.Column("generation_status", sa.Text(), server_default="pending", nullable=True),
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
        sa.CheckConstraint(
            "generation_status IN ('pending', 'processing', 'completed', 'failed')",
            name=op.f("characters_generation_status_check"),
        ),
        sa.CheckConstraint(
            "style_type IN ('realistic', 'anime', 'cartoon', 'fantasy', 'cyberpunk', 'vintage', 'minimalist')",
            name=op.f("characters_style_type_check"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("characters_user_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("characters_pkey")),
    )
    op.create_index(
        op.f("idx_characters_created_at"),
        "characters",
        [sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index(
        op.f("idx_characters_generation_status"), "characters", ["generation_status"], unique=False
    )
    op.create_index(op.f("idx_characters_style_type"), "characters", ["style_type"], unique=False)
    op.create_index(
        op.f("idx_characters_tags"), "characters", ["tags"], unique=False, postgresql_using="gin"
    )
    op.create_index(op.f("idx_characters_user_id"), "characters", ["user_id"], unique=False)
    op.create_table(
        "user_profiles",
        sa.Column(
            "id", sa.Text(), server_default=sa.text("(gen_random_uuid())::text"), nullable=False
        ),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("website_url", sa.Text(), nullable=True),
        sa.Column(
            "social_links",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=True,
        ),
        sa.Column("profession", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("industry", sa.Text(), nullable=True),
        sa.Column("experience_level", sa.Text(), nullable=True),
        sa.Column("primary_use_case", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column("favorite_art_styles", postgresql.ARRAY(sa.Text()), nullable=True),
        sa.Column(
            "badges",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=True,
        ),
        sa.Column("total_likes_received", sa.Integer(), server_default="0", nullable=True),
        sa.Column("total_downloads", sa.Integer(), server_default="0", nullable=True),
        sa.Column("featured_character_count", sa.Integer(), server_default="0", nullable=True),
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
        sa.CheckConstraint(
            "experience_level IN ('beginner', 'intermediate', 'advanced', 'professional')",
            name=op.f("user_profiles_experience_level_check"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("user_profiles_user_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("user_profiles_pkey")),
        sa.UniqueConstraint("user_id", name=op.f("user_profiles_user_id_key")),
    )
    op.create_index(op.f("idx_user_profiles_industry"), "user_profiles", ["industry"], unique=False)
    op.create_index(
        op.f("idx_user_profiles_profession"), "user_profiles", ["profession"], unique=False
    )
    op.create_index(op.f("idx_user_profiles_user_id"), "user_profiles", ["user_id"], unique=False)
    op.create_table(
        "character_collection_items",
        sa.Column(
            "id", sa.Text(), server_default=sa.text("(gen_random_uuid())::text"), nullable=False
        ),
        sa.Column("collection_id", sa.Text(), nullable=False),
        sa.Column("character_id", sa.Text(), nullable=False),
        sa.Column(
            "added_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("character_collection_items_character_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["character_collections.id"],
            name=op.f("character_collection_items_collection_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("character_collection_items_pkey")),
        sa.UniqueConstraint(
            "collection_id",
            "character_id",
            name=op.f("character_collection_items_collection_id_character_id_key"),
        ),
    )
    op.create_index(
        op.f("idx_collection_items_character_id"),
        "character_collection_items",
        ["character_id"],
        unique=False,
    )
    op.create_table(
        "character_themes",
        sa.Column(
            "id", sa.Text(), server_default=sa.text("(gen_random_uuid())::text"), nullable=False
        ),
        sa.Column("character_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("character_themes_character_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("character_themes_pkey")),
        sa.UniqueConstraint(
            "character_id", "name", name=op.f("character_themes_character_id_name_key")
        ),
    )
    op.create_index(
        op.f("idx_character_themes_character_id"),
        "character_themes",
        ["character_id"],
        unique=False,
    )
    op.create_table(
        "generations",
        sa.Column(
            "id", sa.Text(), server_default=sa.text("(gen_random_uuid())::text"), nullable=False
        ),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("character_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=True),
        sa.Column("batch_size", sa.Integer(), server_default="1", nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("style_type", sa.Text(), server_default="realistic", nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint(
            "status IN ('pending', 'processing', 'completed', 'failed')",
            name=op.f("generations_status_check"),
        ),
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("generations_character_id_fkey"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("generations_user_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("generations_pkey")),
    )
    op.create_index(
        op.f("idx_generations_character_id"), "generations", ["character_id"], unique=False
    )
    op.create_index(op.f("idx_generations_status"), "generations", ["status"], unique=False)
    op.create_index(op.f("idx_generations_user_id"), "generations", ["user_id"], unique=False)
    op.create_table(
        "theme_variants",
        sa.Column(
            "id", sa.Text(), server_default=sa.text("(gen_random_uuid())::text"), nullable=False
        ),
        sa.Column("theme_id", sa.Text(), nullable=False),
        sa.Column("character_id", sa.Text(), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("image_url", sa.Text(), nullable=True),
        sa.Column("thumbnail_url", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
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
        sa.ForeignKeyConstraint(
            ["character_id"],
            ["characters.id"],
            name=op.f("theme_variants_character_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["theme_id"],
            ["character_themes.id"],
            name=op.f("theme_variants_theme_id_fkey"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("theme_variants_pkey")),
    )
    op.create_index(
        op.f("idx_theme_variants_character_id"), "theme_variants", ["character_id"], unique=False
    )
    op.create_index(
        op.f("idx_theme_variants_created_at"),
        "theme_variants",
        [sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index(
        op.f("idx_theme_variants_theme_id"), "theme_variants", ["theme_id"], unique=False
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(op.f("idx_theme_variants_theme_id"), table_name="theme_variants")
    op.drop_index(op.f("idx_theme_variants_created_at"), table_name="theme_variants")
    op.drop_index(op.f("idx_theme_variants_character_id"), table_name="theme_variants")
    op.drop_table("theme_variants")
    op.drop_index(op.f("idx_generations_user_id"), table_name="generations")
    op.drop_index(op.f("idx_generations_status"), table_name="generations")
    op.drop_index(op.f("idx_generations_character_id"), table_name="generations")
    op.drop_table("generations")
    op.drop_index(op.f("idx_character_themes_character_id"), table_name="character_themes")
    op.drop_table("character_themes")
    op.drop_index(
        op.f("idx_collection_items_character_id"), table_name="character_collection_items"
    )
    op.drop_table("character_collection_items")
    op.drop_index(op.f("idx_user_profiles_user_id"), table_name="user_profiles")
    op.drop_index(op.f("idx_user_profiles_profession"), table_name="user_profiles")
    op.drop_index(op.f("idx_user_profiles_industry"), table_name="user_profiles")
    op.drop_table("user_profiles")
    op.drop_index(op.f("idx_characters_user_id"), table_name="characters")
    op.drop_index(op.f("idx_characters_tags"), table_name="characters", postgresql_using="gin")
    op.drop_index(op.f("idx_characters_style_type"), table_name="characters")
    op.drop_index(op.f("idx_characters_generation_status"), table_name="characters")
    op.drop_index(op.f("idx_characters_created_at"), table_name="characters")
    op.drop_table("characters")
    op.drop_index(op.f("idx_character_collections_user_id"), table_name="character_collections")
    op.drop_table("character_collections")
    op.drop_index(op.f("idx_users_username"), table_name="users")
    op.drop_index(op.f("idx_users_subscription_tier"), table_name="users")
    op.drop_index(op.f("idx_users_last_login"), table_name="users")
    op.drop_index(op.f("idx_users_email"), table_name="users")
    op.drop_index(op.f("idx_users_created_at"), table_name="users")
    op.drop_index(op.f("idx_users_auth0_id"), table_name="users")
    op.drop_index(op.f("idx_users_account_status"), table_name="users")
    op.drop_table("users")
