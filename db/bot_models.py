"""Tables the bot needs beyond the platform's schema (added by their own migrations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models import NOW, UUID_DEFAULT

MOD_ACTIONS = ("setup", "unpublish", "set_status", "dismiss_report")
MOD_SCOPES = ("guild", "platform")
REPORT_STATUSES = ("open", "dismissed", "unpublished")


class GuildSettings(Base):
    """Per-guild configuration: showcase channel, moderator role and log channel."""

    __tablename__ = "guild_settings"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    showcase_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    moderator_role_id: Mapped[int | None] = mapped_column(BigInteger)
    log_channel_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW, onupdate=text("now()")
    )


class ModerationAction(Base):
    """Who did what to whom, why and when, and in which scope: ``guild`` (the action holds in
    ``guild_id`` only) or ``platform`` (everywhere; only platform moderators act there)."""

    __tablename__ = "moderation_actions"

    id: Mapped[str] = mapped_column(Text, primary_key=True, server_default=UUID_DEFAULT)
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    scope: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'guild'"))
    moderator_discord_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    moderator_user_id: Mapped[str | None] = mapped_column(
        Text, ForeignKey("users.id", ondelete="SET NULL")
    )
    action: Mapped[str] = mapped_column(Text, nullable=False)
    target_user_id: Mapped[str | None] = mapped_column(
        Text, ForeignKey("users.id", ondelete="SET NULL")
    )
    target_character_id: Mapped[str | None] = mapped_column(
        Text, ForeignKey("characters.id", ondelete="SET NULL")
    )
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )

    __table_args__ = (
        CheckConstraint(
            "action IN ('setup', 'unpublish', 'set_status', 'dismiss_report')",
            name="moderation_actions_action_check",
        ),
        CheckConstraint("scope IN ('guild', 'platform')", name="moderation_actions_scope_check"),
        Index("idx_moderation_actions_guild_created", "guild_id", text("created_at DESC")),
        Index("idx_moderation_actions_scope_created", "scope", text("created_at DESC")),
    )


class GuildHiddenCharacter(Base):
    """A character a guild's moderators took out of that guild (its showcase and its view of
    the gallery); the character stays public elsewhere."""

    __tablename__ = "guild_hidden_characters"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    character_id: Mapped[str] = mapped_column(
        Text, ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True
    )
    moderator_discord_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )

    __table_args__ = (Index("idx_guild_hidden_characters_character", "character_id"),)


class GuildBlockedUser(Base):
    """A member a guild's moderators blocked from using the bot in that guild only."""

    __tablename__ = "guild_blocked_users"

    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[str] = mapped_column(
        Text, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    moderator_discord_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )

    __table_args__ = (Index("idx_guild_blocked_users_user", "user_id"),)


class CharacterReport(Base):
    """A member's report of a public character: open until a platform moderator dismisses it
    or unpublishes the character. One open report per member and character."""

    __tablename__ = "character_reports"

    id: Mapped[str] = mapped_column(Text, primary_key=True, server_default=UUID_DEFAULT)
    character_id: Mapped[str] = mapped_column(
        Text, ForeignKey("characters.id", ondelete="CASCADE"), nullable=False
    )
    reporter_user_id: Mapped[str] = mapped_column(
        Text, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    guild_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, server_default=text("'open'"))
    resolved_by_discord_id: Mapped[int | None] = mapped_column(BigInteger)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )

    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'dismissed', 'unpublished')", name="character_reports_status_check"
        ),
        Index(
            "uq_character_reports_open_reporter_character",
            "reporter_user_id",
            "character_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
        ),
        Index(
            "idx_character_reports_open_created",
            "created_at",
            postgresql_where=text("status = 'open'"),
        ),
        Index("idx_character_reports_character", "character_id"),
    )


class ShowcasePost(Base):
    """A character's post in a guild's showcase channel, so unpublishing can remove it."""

    __tablename__ = "showcase_posts"

    character_id: Mapped[str] = mapped_column(
        Text, ForeignKey("characters.id", ondelete="CASCADE"), primary_key=True
    )
    guild_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    channel_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    message_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )


class UserNotice(Base):
    """A message for a member that could not be delivered by DM; shown with their next reply."""

    __tablename__ = "user_notices"

    id: Mapped[str] = mapped_column(Text, primary_key=True, server_default=UUID_DEFAULT)
    user_id: Mapped[str] = mapped_column(
        Text, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    key: Mapped[str] = mapped_column(Text, nullable=False)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "idx_user_notices_pending",
            "user_id",
            postgresql_where=text("delivered_at IS NULL"),
        ),
    )


class BotState(Base):
    """Small key/value state shared by every bot process (e.g. the synced command hash)."""

    __tablename__ = "bot_state"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )


class ProviderRequestSlot(Base):
    """One provider request granted by the shared rate limit (a sliding-window log)."""

    __tablename__ = "provider_request_slots"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    bucket: Mapped[str] = mapped_column(Text, nullable=False)
    taken_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=text("clock_timestamp()")
    )

    __table_args__ = (Index("idx_provider_request_slots_bucket_taken", "bucket", "taken_at"),)
