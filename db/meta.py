"""The keys the bot keeps in ``characters.metadata`` and ``theme_variants.metadata``, and a
typed accessor: the one place their names are spelled (the platform's web front end reads the
same JSON, so a renamed key is a schema change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SOURCE = "source"
IMPORTED = "imported"
ART_STYLE = "artStyle"
GENDER = "gender"
IMAGE_KEY = "imageKey"
THUMBNAIL_KEY = "thumbnailKey"
REFERENCE_KEY = "referenceKey"
CONVERSATION_ID = "conversationId"
"""The character's Discord thread: its conversation."""
TEXT_MODEL = "textModel"
IMAGE_MODEL = "imageModel"
GENERATION_ID = "generationId"
GUILD_ID = "guildId"
CHANNEL_ID = "channelId"
MESSAGE_ID = "messageId"
PARENT_VARIANT_ID = "parentVariantId"
"""A variant made from another variant: the one it edited."""
SOURCE_IMAGE_KEY = "sourceImageKey"
"""A variant made from the portrait: the portrait's image it edited."""
SUGGESTED_BY = "suggestedBy"
"""The Discord id of the member who suggested the edit (the owner applied it)."""
INSTRUCTION_MESSAGE_ID = "instructionMessageId"
"""The member's message in the conversation that asked for the variant."""
FAVORITE = "favorite"
FORMER_PORTRAIT = "formerPortrait"
"""A variant that keeps a portrait replaced by Use as portrait."""
PORTRAIT_AT = "portraitAt"
"""When the character's portrait last changed (ISO 8601), to tell the newest image."""
SUGGESTIONS = "suggestions"
"""Suggestions made in the character's conversation, waiting for the owner (newest last)."""
STORAGE_KEY_FIELDS = (IMAGE_KEY, THUMBNAIL_KEY, REFERENCE_KEY)
FROM_DISCORD = "discord"


@dataclass(frozen=True, slots=True)
class Meta:
    """A read-only view of a row's ``metadata`` JSON (``Meta(row.meta)``)."""

    raw: dict[str, Any] | None

    def text(self, key: str) -> str | None:
        """A string value, or None when absent or not a non-empty string."""
        value = (self.raw or {}).get(key)
        return value if isinstance(value, str) and value else None

    @property
    def image_key(self) -> str | None:
        """The stored portrait (or variant image)."""
        return self.text(IMAGE_KEY)

    @property
    def thumbnail_key(self) -> str | None:
        """The stored thumbnail."""
        return self.text(THUMBNAIL_KEY)

    @property
    def conversation_id(self) -> int | None:
        """The character's thread id, if it has one."""
        value = (self.raw or {}).get(CONVERSATION_ID)
        return int(value) if value and str(value).isdigit() else None

    @property
    def storage_keys(self) -> list[str]:
        """Every storage key recorded (image, thumbnail, reference)."""
        return [key for key in (self.text(k) for k in STORAGE_KEY_FIELDS) if key is not None]


def with_images(raw: dict[str, Any] | None, image_key: str, thumbnail_key: str) -> dict[str, Any]:
    """``raw`` with the image and thumbnail keys set (a new dict: the ORM sees the change)."""
    return {**(raw or {}), IMAGE_KEY: image_key, THUMBNAIL_KEY: thumbnail_key}
