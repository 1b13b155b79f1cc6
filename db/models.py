"""Typed models of the platform's schema (spec/database-design.md), item for item.

Defaults are server defaults, exactly as the reference DDL writes them; CHECK constraints carry
PostgreSQL's default names (``<table>_<column>_check``) or the names the DDL gives them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base

UUID_DEFAULT = text("(gen_random_uuid())::text")
NOW = text("now()")


def _id() -> Mapped[str]:
    return mapped_column(Text, primary_key=True, server_default=UUID_DEFAULT)


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=NOW)


def _updated() -> Mapped[datetime]:
    return mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW, onupdate=func.now()
    )


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


SUBSCRIPTION_TIERS = ("FREE", "PREMIUM", "PRO", "ENTERPRISE")
LANGUAGES = ("en", "zh", "ja", "ko")
VISIBILITIES = ("public", "friends", "private")
CONTENT_FILTERS = ("strict", "moderate", "relaxed")
ACCOUNT_STATUSES = ("active", "suspended", "banned", "deleted")
EXPERIENCE_LEVELS = ("beginner", "intermediate", "advanced", "professional")
STYLES = ("realistic", "anime", "cartoon", "fantasy", "cyberpunk", "vintage", "minimalist")
GENERATION_STATUSES = ("pending", "processing", "completed", "failed")


class User(Base):
    """A platform account; a Discord member is found by ``auth0_id``."""

    __tablename__ = "users"

    id: Mapped[str] = _id()
    email: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    auth0_id: Mapped[str | None] = mapped_column(Text, unique=True)
    username: Mapped[str | None] = mapped_column(Text, unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    avatar_url: Mapped[str | None] = mapped_column(Text)

    subscription_tier: Mapped[str | None] = mapped_column(Text, server_default="FREE")
    subscription_start_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    subscription_end_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    daily_quota: Mapped[int] = mapped_column(Integer, nullable=False, server_default="3")
    daily_used: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    last_reset_date: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )

    preferred_language: Mapped[str | None] = mapped_column(Text, server_default="en")
    timezone: Mapped[str | None] = mapped_column(Text, server_default="UTC")
    notification_settings: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, server_default=text('\'{"email": true, "push": false}\'::jsonb')
    )

    profile_visibility: Mapped[str | None] = mapped_column(Text, server_default="private")
    allow_gallery_showcase: Mapped[bool | None] = mapped_column(
        Boolean, server_default=text("false")
    )
    content_filter_level: Mapped[str | None] = mapped_column(Text, server_default="moderate")

    total_characters_created: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default="0"
    )
    total_images_generated: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    account_status: Mapped[str | None] = mapped_column(Text, server_default="active")

    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    email_verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            _in("subscription_tier", SUBSCRIPTION_TIERS), name="users_subscription_tier_check"
        ),
        CheckConstraint(
            _in("preferred_language", LANGUAGES), name="users_preferred_language_check"
        ),
        CheckConstraint(
            _in("profile_visibility", VISIBILITIES), name="users_profile_visibility_check"
        ),
        CheckConstraint(
            _in("content_filter_level", CONTENT_FILTERS), name="users_content_filter_level_check"
        ),
        CheckConstraint(_in("account_status", ACCOUNT_STATUSES), name="users_account_status_check"),
        CheckConstraint(
            "email ~ '^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}$'",
            name="users_email_format",
        ),
        CheckConstraint("daily_quota >= 0", name="users_daily_quota_positive"),
        CheckConstraint("daily_used >= 0", name="users_daily_used_positive"),
        CheckConstraint("username ~ '^[a-zA-Z0-9_]{3,30}$'", name="users_username_format"),
        Index("idx_users_email", "email"),
        Index("idx_users_auth0_id", "auth0_id"),
        Index("idx_users_username", "username"),
        Index("idx_users_subscription_tier", "subscription_tier"),
        Index("idx_users_last_login", "last_login_at"),
        Index("idx_users_created_at", "created_at"),
        Index("idx_users_account_status", "account_status"),
    )


class UserProfile(Base):
    """Extended profile of a user (one row per user)."""

    __tablename__ = "user_profiles"

    id: Mapped[str] = _id()
    user_id: Mapped[str] = mapped_column(
        Text, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    first_name: Mapped[str | None] = mapped_column(Text)
    last_name: Mapped[str | None] = mapped_column(Text)
    bio: Mapped[str | None] = mapped_column(Text)
    website_url: Mapped[str | None] = mapped_column(Text)
    social_links: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    profession: Mapped[str | None] = mapped_column(Text)
    company: Mapped[str | None] = mapped_column(Text)
    industry: Mapped[str | None] = mapped_column(Text)
    experience_level: Mapped[str | None] = mapped_column(Text)
    primary_use_case: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    favorite_art_styles: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    badges: Mapped[list[Any] | None] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    total_likes_received: Mapped[int | None] = mapped_column(Integer, server_default="0")
    total_downloads: Mapped[int | None] = mapped_column(Integer, server_default="0")
    featured_character_count: Mapped[int | None] = mapped_column(Integer, server_default="0")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        CheckConstraint(
            _in("experience_level", EXPERIENCE_LEVELS), name="user_profiles_experience_level_check"
        ),
        Index("idx_user_profiles_user_id", "user_id"),
        Index("idx_user_profiles_profession", "profession"),
        Index("idx_user_profiles_industry", "industry"),
    )


class Character(Base):
    """A generated character; ``metadata`` (attribute ``meta``) keeps the Discord conversation."""

    __tablename__ = "characters"

    id: Mapped[str] = _id()
    user_id: Mapped[str] = mapped_column(
        Text, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    prompt: Mapped[str] = mapped_column(Text, nullable=False)
    style_type: Mapped[str | None] = mapped_column(Text, server_default="realistic")
    s3_url: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    thumbnail_url: Mapped[str | None] = mapped_column(Text)
    reference_image_url: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any] | None] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    tags: Mapped[list[str] | None] = mapped_column(ARRAY(Text), server_default=text("'{}'::text[]"))
    age: Mapped[str | None] = mapped_column(Text)
    gender: Mapped[str | None] = mapped_column(Text)
    occupation: Mapped[str | None] = mapped_column(Text)
    personality: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    physical_traits: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    clothing: Mapped[str | None] = mapped_column(Text)
    background: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    is_favorite: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    is_in_library: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    generation_status: Mapped[str | None] = mapped_column(Text, server_default="pending")
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        CheckConstraint(_in("style_type", STYLES), name="characters_style_type_check"),
        CheckConstraint(
            _in("generation_status", GENERATION_STATUSES),
            name="characters_generation_status_check",
        ),
        Index("idx_characters_user_id", "user_id"),
        Index("idx_characters_style_type", "style_type"),
        Index("idx_characters_generation_status", "generation_status"),
        Index("idx_characters_created_at", text("created_at DESC")),
        Index("idx_characters_tags", "tags", postgresql_using="gin"),
        # Beyond the reference (migration 0002): find a character from its Discord thread.
        Index(
            "idx_characters_conversation_id",
            text("(metadata ->> 'conversationId')"),
            postgresql_where=text("(metadata ? 'conversationId')"),
        ),
        # Beyond the reference (migration 0008): a character's remixes, counted by /character show.
        Index(
            "idx_characters_remix_of",
            text("(metadata ->> 'remixOf')"),
            postgresql_where=text("(metadata ? 'remixOf')"),
        ),
        # Beyond the reference (migration 0003): listings in their own order (bench/queries.py).
        Index(
            "idx_characters_user_completed",
            "user_id",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_include=["name"],
            postgresql_where=text("generation_status = 'completed'::text"),
        ),
        Index(
            "idx_characters_gallery",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text(
                "(is_public IS TRUE) AND (generation_status = 'completed'::text)"
            ),
        ),
        Index(
            "idx_characters_gallery_style",
            "style_type",
            text("created_at DESC"),
            text("id DESC"),
            postgresql_where=text(
                "(is_public IS TRUE) AND (generation_status = 'completed'::text)"
            ),
        ),
    )


class CharacterTheme(Base):
    """A named group of a character's variants ("Winter Outfits")."""

    __tablename__ = "character_themes"

    id: Mapped[str] = _id()
    character_id: Mapped[str] = mapped_column(
        Text, ForeignKey("characters.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        UniqueConstraint("character_id", "name"),
        Index("idx_character_themes_character_id", "character_id"),
    )


class ThemeVariant(Base):
    """An edited image of a character, filed under a theme."""

    __tablename__ = "theme_variants"

    id: Mapped[str] = _id()
    theme_id: Mapped[str] = mapped_column(
        Text, ForeignKey("character_themes.id", ondelete="CASCADE"), nullable=False
    )
    character_id: Mapped[str] = mapped_column(
        Text, ForeignKey("characters.id", ondelete="CASCADE"), nullable=False
    )
    prompt: Mapped[str] = mapped_column(Text, nullable=False)
    image_url: Mapped[str | None] = mapped_column(Text)
    thumbnail_url: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any] | None] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = _created()

    __table_args__ = (
        Index("idx_theme_variants_theme_id", "theme_id"),
        Index("idx_theme_variants_character_id", "character_id"),
        Index("idx_theme_variants_created_at", text("created_at DESC")),
        # Beyond the reference (migration 0003): a theme's variants, newest first.
        Index(
            "idx_theme_variants_theme_created", "theme_id", text("created_at DESC"), text("id DESC")
        ),
    )


class Generation(Base):
    """One generation job: pending → processing → completed | failed."""

    __tablename__ = "generations"

    id: Mapped[str] = _id()
    user_id: Mapped[str] = mapped_column(
        Text, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    character_id: Mapped[str | None] = mapped_column(
        Text, ForeignKey("characters.id", ondelete="SET NULL")
    )
    status: Mapped[str | None] = mapped_column(Text, server_default="pending")
    batch_size: Mapped[int | None] = mapped_column(Integer, server_default="1")
    prompt: Mapped[str] = mapped_column(Text, nullable=False)
    style_type: Mapped[str | None] = mapped_column(Text, server_default="realistic")
    error_message: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (
        CheckConstraint(_in("status", GENERATION_STATUSES), name="generations_status_check"),
        Index("idx_generations_user_id", "user_id"),
        Index("idx_generations_character_id", "character_id"),
        Index("idx_generations_status", "status"),
    )


class CharacterCollection(Base):
    """A member's named collection of characters."""

    __tablename__ = "character_collections"

    id: Mapped[str] = _id()
    user_id: Mapped[str] = mapped_column(
        Text, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    cover_image_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _updated()

    __table_args__ = (Index("idx_character_collections_user_id", "user_id"),)


class CharacterCollectionItem(Base):
    """A character in a collection."""

    __tablename__ = "character_collection_items"

    id: Mapped[str] = _id()
    collection_id: Mapped[str] = mapped_column(
        Text, ForeignKey("character_collections.id", ondelete="CASCADE"), nullable=False
    )
    character_id: Mapped[str] = mapped_column(
        Text, ForeignKey("characters.id", ondelete="CASCADE"), nullable=False
    )
    added_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )

    __table_args__ = (
        UniqueConstraint("collection_id", "character_id"),
        Index("idx_collection_items_character_id", "character_id"),
    )
