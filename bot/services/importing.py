"""A Character Card becomes a new character of the member's: no generation, no quota."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import CardData
from bot.errors import NotFoundError
from bot.services.accounts import ensure_can_generate
from bot.storage.base import Storage, delete_quietly
from bot.storage.images import extension_for, image_key, make_thumbnail, thumbnail_key
from db.engine import Database
from db.models import STYLES, Character, CharacterTheme, User


def _or_none(text: str | None) -> str | None:
    return text if text else None


def character_from_card(card: CardData, *, user_id: str, character_id: str) -> Character:
    """The row a card describes (images are set by the caller)."""
    style = card.style if card.style in STYLES else "realistic"
    return Character(
        id=character_id,
        user_id=user_id,
        name=card.name,
        description=_or_none(card.description),
        prompt=card.prompt or card.description or card.name,
        style_type=style,
        age=card.age,
        gender=card.gender,
        occupation=card.occupation,
        personality=list(card.personality_traits),
        physical_traits=dict(card.physical_traits) or None,
        clothing=card.clothing,
        background=_or_none(card.scenario),
        tags=list(card.tags),
        generation_status="completed",
        meta={"source": "discord", "imported": True, "artStyle": style, "gender": card.gender},
    )


async def import_card(db: Database, storage: Storage, user_id: str, card: CardData) -> Character:
    """Store the card's portrait (if any) and create the character with its themes.

    Variants listed in the card are not imported: their images live in the exporter's storage
    and are not fetched from untrusted files.

    Raises:
        AccountRestrictedError: suspended or banned. StorageError. NotFoundError: no such user.
    """
    async with db.read() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFoundError("user")
        ensure_can_generate(user)
    character_id = str(uuid.uuid4())
    stored: list[str] = []
    urls: dict[str, str] = {}
    try:
        if card.image:
            mime = card.image_mime or "image/png"
            key = image_key(character_id, extension_for(mime))
            thumb_key = thumbnail_key(key)
            thumb = await make_thumbnail(card.image)
            stored.append(key)
            urls["image_url"] = await storage.put(key, card.image, mime)
            stored.append(thumb_key)
            urls["thumbnail_url"] = await storage.put(thumb_key, thumb, "image/webp")
            urls["imageKey"], urls["thumbnailKey"] = key, thumb_key
        async with db.transaction() as session:
            row = character_from_card(card, user_id=user_id, character_id=character_id)
            row.image_url = row.s3_url = urls.get("image_url")
            row.thumbnail_url = urls.get("thumbnail_url")
            if "imageKey" in urls:
                row.meta = {
                    **(row.meta or {}),
                    "imageKey": urls["imageKey"],
                    "thumbnailKey": urls["thumbnailKey"],
                }
            session.add(row)
            await session.flush()
            for name in dict.fromkeys(card.themes):
                session.add(
                    CharacterTheme(
                        character_id=character_id,
                        name=name,
                        description=card.theme_descriptions.get(name),
                    )
                )
            await _count_created(session, user_id)
        return row
    except BaseException:
        await delete_quietly(storage, stored)
        raise


async def _count_created(session: AsyncSession, user_id: str) -> None:
    user = await session.get(User, user_id, with_for_update=True)
    if user is not None:
        user.total_characters_created += 1
