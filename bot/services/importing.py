"""A Character Card becomes a new character of the member's: no generation, no quota."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import CardData
from bot.errors import NotFoundError
from bot.services.accounts import ensure_can_generate
from bot.storage.base import Storage, delete_quietly
from bot.storage.images import extension_for, image_key
from bot.storage.portraits import StoredPortrait, store_portrait
from db.engine import Database
from db.meta import ART_STYLE, FROM_DISCORD, GENDER, IMPORTED, SOURCE, with_images
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
        meta={SOURCE: FROM_DISCORD, IMPORTED: True, ART_STYLE: style, GENDER: card.gender},
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
    try:
        portrait: StoredPortrait | None = None
        if card.image:
            mime = card.image_mime or "image/png"
            key = image_key(character_id, extension_for(mime))
            portrait = await store_portrait(storage, key, card.image, mime, stored=stored)
        async with db.transaction() as session:
            # the member's row first: locked after the character's insert (which takes a share
            # lock on it), two imports at once deadlocked (found by the fuzz test)
            await _count_created(session, user_id)
            row = character_from_card(card, user_id=user_id, character_id=character_id)
            row.image_url = row.s3_url = portrait.image_url if portrait else None
            row.thumbnail_url = portrait.thumbnail_url if portrait else None
            if portrait is not None:
                row.meta = with_images(row.meta, portrait.image_key, portrait.thumbnail_key)
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
        return row
    except BaseException:
        await delete_quietly(storage, stored)
        raise


async def _count_created(session: AsyncSession, user_id: str) -> None:
    user = await session.get(User, user_id, with_for_update=True)
    if user is not None:
        user.total_characters_created += 1
