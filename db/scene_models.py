"""The scene builder's tables (migration 0006): a member's scene of two to four characters,
the characters in it (in order), and the generations that drew it (docs/scenes.md)."""

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
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.models import GENERATION_STATUSES, NOW, STYLES, UUID_DEFAULT

SCENE_GENERATION_KINDS = ("create", "regenerate", "variant")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Scene(Base):
    """A member's scene: its setting, the prompt that drew it, its image, and (``metadata``,
    attribute ``meta``) its Discord conversation, message and favorite mark."""

    __tablename__ = "scenes"

    id: Mapped[str] = mapped_column(Text, primary_key=True, server_default=UUID_DEFAULT)
    user_id: Mapped[str] = mapped_column(
        Text, ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    title: Mapped[str | None] = mapped_column(Text)
    setting: Mapped[str] = mapped_column(Text, nullable=False)
    style_type: Mapped[str | None] = mapped_column(Text, server_default="realistic")
    prompt: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(Text)
    thumbnail_url: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    generation_status: Mapped[str | None] = mapped_column(Text, server_default="pending")
    meta: Mapped[dict[str, Any] | None] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW, onupdate=func.now()
    )

    __table_args__ = (
        CheckConstraint(_in("style_type", STYLES), name="scenes_style_type_check"),
        CheckConstraint(
            _in("generation_status", GENERATION_STATUSES),
            name="scenes_generation_status_check",
        ),
        Index("idx_scenes_user_created", "user_id", text("created_at DESC")),
        Index(
            "idx_scenes_public_created",
            text("created_at DESC"),
            postgresql_where=text("is_public"),
        ),
        Index(
            "idx_scenes_conversation_id",
            text("(metadata ->> 'conversationId')"),
            postgresql_where=text("(metadata ? 'conversationId')"),
        ),
    )


class SceneCharacter(Base):
    """One character in a scene, at its position (0 first), with an optional role and pose."""

    __tablename__ = "scene_characters"

    id: Mapped[str] = mapped_column(Text, primary_key=True, server_default=UUID_DEFAULT)
    scene_id: Mapped[str] = mapped_column(
        Text, ForeignKey("scenes.id", ondelete="CASCADE"), nullable=False
    )
    character_id: Mapped[str] = mapped_column(
        Text, ForeignKey("characters.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    role: Mapped[str | None] = mapped_column(Text)
    pose: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )

    __table_args__ = (
        UniqueConstraint("scene_id", "character_id", name="scene_characters_scene_character_key"),
        UniqueConstraint("scene_id", "position", name="scene_characters_scene_position_key"),
        CheckConstraint("position >= 0", name="scene_characters_position_check"),
        Index("idx_scene_characters_character", "character_id"),
    )


class SceneGeneration(Base):
    """A generation that drew the scene (create, regenerate) or a variant of it; a variant's
    image keys and its message live in ``metadata`` (the seed's generations have none)."""

    __tablename__ = "scene_generations"

    id: Mapped[str] = mapped_column(Text, primary_key=True, server_default=UUID_DEFAULT)
    scene_id: Mapped[str] = mapped_column(
        Text, ForeignKey("scenes.id", ondelete="CASCADE"), nullable=False
    )
    generation_id: Mapped[str] = mapped_column(
        Text, ForeignKey("generations.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False, server_default="create")
    meta: Mapped[dict[str, Any] | None] = mapped_column(
        "metadata", JSONB, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=NOW
    )

    __table_args__ = (
        CheckConstraint(_in("kind", SCENE_GENERATION_KINDS), name="scene_generations_kind_check"),
        UniqueConstraint("generation_id", name="scene_generations_generation_key"),
        Index("idx_scene_generations_scene_created", "scene_id", text("created_at DESC")),
    )
