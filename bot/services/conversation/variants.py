"""What the buttons under a variant do, and where a posted variant lives: Favorite, Use as
portrait (the old portrait kept as a variant in "Previous portraits"), the message that shows
a variant, and the character's newest state for its card."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.errors import InvalidInputError, NotFoundError
from bot.services.characters import is_valid_id
from bot.services.themes import get_or_create_theme
from bot.services.themes.variants import get_owned_variant
from bot.storage.base import Storage, delete_quietly
from bot.storage.images import extension_for, image_key
from bot.storage.portraits import store_portrait
from db.engine import Database
from db.meta import (
    CHANNEL_ID,
    CONVERSATION_ID,
    FAVORITE,
    FORMER_PORTRAIT,
    IMAGE_KEY,
    MESSAGE_ID,
    PORTRAIT_AT,
    SOURCE,
    THUMBNAIL_KEY,
    Meta,
)
from db.models import Character, CharacterTheme, ThemeVariant

log = logging.getLogger(__name__)

PREVIOUS_PORTRAITS = "Previous portraits"
"""The theme that keeps the portraits replaced by Use as portrait."""
FROM_PORTRAIT = "portrait"


@dataclass(frozen=True)
class ShownVariant:
    """A variant with its character and theme, as its message shows it."""

    variant: ThemeVariant
    character: Character
    theme: CharacterTheme


@dataclass(frozen=True)
class NewPortrait:
    """The character after Use as portrait, its new image, and the variant keeping the old."""

    character: Character
    image: bytes
    mime_type: str
    previous: ThemeVariant | None


def shown_in(meta: dict[str, Any] | None) -> tuple[int, int] | None:
    """The (channel, message) a character's or variant's metadata says shows it."""
    view = Meta(meta)
    channel, message = view.text(CHANNEL_ID), view.text(MESSAGE_ID)
    if channel and message and channel.isdigit() and message.isdigit():
        return int(channel), int(message)
    return None


def is_favorite(variant: ThemeVariant) -> bool:
    """Whether the owner marked the variant a favorite."""
    return bool((variant.meta or {}).get(FAVORITE))


async def owned_variant(db: Database, variant_id: str, user_id: str) -> ShownVariant:
    """The member's variant with its character and theme.

    Raises: NotFoundError("variant"), NotOwnerError.
    """
    async with db.read() as session:
        variant = await get_owned_variant(session, variant_id, user_id)
        character = await session.get(Character, variant.character_id)
        theme = await session.get(CharacterTheme, variant.theme_id)
    if character is None or theme is None:  # pragma: no cover - cascades keep them
        raise NotFoundError("variant")
    return ShownVariant(variant, character, theme)


async def record_variant_message(
    db: Database, variant_id: str, *, channel_id: int, message_id: int
) -> None:
    """Remember the message that shows the variant (replies to it edit this image); a variant
    made elsewhere joins the conversation it is posted in."""
    if not is_valid_id(variant_id):
        return
    async with db.transaction() as session:
        variant = await session.get(ThemeVariant, variant_id, with_for_update=True)
        if variant is not None:
            variant.meta = {
                CONVERSATION_ID: str(channel_id),
                **(variant.meta or {}),
                CHANNEL_ID: str(channel_id),
                MESSAGE_ID: str(message_id),
            }


async def toggle_favorite(db: Database, variant_id: str, user_id: str) -> ShownVariant:
    """Flip the variant's favorite mark (its owner only).

    Raises: NotFoundError("variant"), NotOwnerError.
    """
    async with db.transaction() as session:
        variant = await get_owned_variant(session, variant_id, user_id)
        variant.meta = {**(variant.meta or {}), FAVORITE: not is_favorite(variant)}
        character = await session.get(Character, variant.character_id)
        theme = await session.get(CharacterTheme, variant.theme_id)
    if character is None or theme is None:  # pragma: no cover - cascades keep them
        raise NotFoundError("variant")
    return ShownVariant(variant, character, theme)


def _previous_portrait(character: Character, theme: CharacterTheme) -> ThemeVariant | None:
    meta = Meta(character.meta)
    if not meta.image_key or not character.image_url:
        return None
    kept: dict[str, Any] = {IMAGE_KEY: meta.image_key, FORMER_PORTRAIT: True, SOURCE: FROM_PORTRAIT}
    if meta.thumbnail_key:
        kept[THUMBNAIL_KEY] = meta.thumbnail_key
    return ThemeVariant(
        theme_id=theme.id,
        character_id=character.id,
        prompt=(character.prompt or character.name or PREVIOUS_PORTRAITS)[:2000],
        image_url=character.image_url,
        thumbnail_url=character.thumbnail_url,
        meta=kept,
    )


async def use_as_portrait(
    db: Database, storage: Storage, variant_id: str, user_id: str
) -> NewPortrait:
    """Make the variant the character's portrait: its image is copied to a portrait of its
    own (with a thumbnail), the old portrait is kept as a variant in "Previous portraits",
    and the character's image, thumbnail and keys follow. Nothing changes on failure.

    Raises: NotFoundError("variant"), NotOwnerError, InvalidInputError (no stored image),
        StorageError.
    """
    shown = await owned_variant(db, variant_id, user_id)
    source_key = Meta(shown.variant.meta).image_key
    if not source_key:
        raise InvalidInputError("This variant has no stored image.", "invalid.no_image")
    data = await storage.get(source_key)
    mime = "image/png" if source_key.endswith(".png") else f"image/{source_key.rsplit('.', 1)[-1]}"
    stored_keys: list[str] = []
    try:
        stored = await store_portrait(
            storage,
            image_key(shown.character.id, extension_for(mime)),
            data,
            mime,
            stored=stored_keys,
        )
        async with db.transaction() as session:
            variant = await get_owned_variant(session, variant_id, user_id)  # still there
            character = await session.get(Character, variant.character_id, with_for_update=True)
            if character is None:  # pragma: no cover - the variant's foreign key
                raise NotFoundError("character")
            theme = await get_or_create_theme(session, character.id, PREVIOUS_PORTRAITS)
            previous = _previous_portrait(character, theme)
            if previous is not None:
                session.add(previous)
            character.image_url = character.s3_url = stored.image_url
            character.thumbnail_url = stored.thumbnail_url
            character.meta = {
                **(character.meta or {}),
                IMAGE_KEY: stored.image_key,
                THUMBNAIL_KEY: stored.thumbnail_key,
                PORTRAIT_AT: datetime.now(UTC).isoformat(),
            }
            await session.flush()
            if previous is not None:
                await session.refresh(previous)
                theme.updated_at = previous.created_at
    except BaseException:
        await delete_quietly(storage, stored_keys)
        raise
    return NewPortrait(character, data, mime, previous)
