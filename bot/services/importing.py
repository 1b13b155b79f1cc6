"""A Character Card becomes a new character of the member's, its images (portrait and V3
assets) its portrait and variants: no generation, no quota.

Every image is checked before the first upload, every upload is tracked, and anything stored
is deleted again when a later step fails: a refused card leaves no rows and no objects.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.cards import CardData
from bot.errors import NotFoundError
from bot.services.accounts import ensure_can_generate
from bot.storage.base import Storage, delete_quietly
from bot.storage.images import extension_for, image_key, validate_reference_image, variant_key
from bot.storage.portraits import StoredPortrait, store_portrait
from db.engine import Database
from db.meta import (
    ART_STYLE,
    FROM_DISCORD,
    GENDER,
    IMAGE_KEY,
    IMPORTED,
    SOURCE,
    THUMBNAIL_KEY,
    with_images,
)
from db.models import STYLES, Character, CharacterTheme, ThemeVariant, User

STORE_CONCURRENCY = 4
"""Images stored at once (each draws its thumbnail in a thread while it uploads)."""


@dataclass(frozen=True)
class Imported:
    """The new character, and how many themes and variants it came with."""

    character: Character
    themes: int
    variants: int


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


async def _check_images(card: CardData) -> None:
    """Every image the card carries decodes within the reference-image limits.

    Raises: InvalidInputError (``invalid.image.*``).
    """
    if card.image:
        await validate_reference_image(card.image)
    for asset in card.assets:
        await validate_reference_image(asset.data)


async def _store_assets(
    storage: Storage, character_id: str, card: CardData, stored: list[str]
) -> list[StoredPortrait]:
    """Each asset stored as a variant image with its thumbnail, in the card's order."""
    gate = asyncio.Semaphore(STORE_CONCURRENCY)

    async def one(index: int) -> StoredPortrait:
        asset = card.assets[index]
        key = variant_key(character_id, asset.theme, extension_for(asset.mime))
        async with gate:
            return await store_portrait(storage, key, asset.data, asset.mime, stored=stored)

    try:
        async with asyncio.TaskGroup() as group:  # one failure cancels the rest
            tasks = [group.create_task(one(i)) for i in range(len(card.assets))]
    except BaseExceptionGroup as failed:  # the first failure, as the caller knows it
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def import_card(db: Database, storage: Storage, user_id: str, card: CardData) -> Imported:
    """Store the card's portrait and images, and create the character with its themes and
    variants.

    Variants a card only links to (URLs in a V2 card's extension, ``http(s)`` assets) are not
    imported: links in untrusted files are never fetched.

    Raises:
        AccountRestrictedError: suspended or banned. StorageError. NotFoundError: no such user.
        InvalidInputError: an image the card carries is not a readable image within limits.
    """
    async with db.read() as session:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFoundError("user")
        ensure_can_generate(user)
    await _check_images(card)
    character_id = str(uuid.uuid4())
    stored: list[str] = []
    try:
        portrait: StoredPortrait | None = None
        if card.image:
            mime = card.image_mime or "image/png"
            key = image_key(character_id, extension_for(mime))
            portrait = await store_portrait(storage, key, card.image, mime, stored=stored)
        images = await _store_assets(storage, character_id, card, stored)
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
            themes = await _add_themes(session, card, character_id)
            _add_variants(session, card, character_id, themes, images)
        return Imported(row, len(themes), len(images))
    except BaseException:
        await delete_quietly(storage, stored)
        raise


def _in_order(index: int) -> datetime:
    """Rows made in one transaction would share ``now()``: a microsecond apiece keeps the
    card's order, so "oldest first" lists them as the card did."""
    return datetime.now(UTC) + timedelta(microseconds=index)


async def _add_themes(
    session: AsyncSession, card: CardData, character_id: str
) -> dict[str, CharacterTheme]:
    themes: dict[str, CharacterTheme] = {}
    for index, name in enumerate(dict.fromkeys([*card.themes, *(a.theme for a in card.assets)])):
        at = _in_order(index)
        themes[name] = CharacterTheme(
            character_id=character_id,
            name=name,
            description=card.theme_descriptions.get(name),
            created_at=at,
            updated_at=at,
        )
        session.add(themes[name])
    await session.flush()
    return themes


def _add_variants(
    session: AsyncSession,
    card: CardData,
    character_id: str,
    themes: dict[str, CharacterTheme],
    images: list[StoredPortrait],
) -> None:
    for index, (asset, image) in enumerate(zip(card.assets, images, strict=True)):
        session.add(
            ThemeVariant(
                created_at=_in_order(index),
                theme_id=themes[asset.theme].id,
                character_id=character_id,
                prompt=asset.prompt,
                image_url=image.image_url,
                thumbnail_url=image.thumbnail_url,
                meta={
                    IMAGE_KEY: image.image_key,
                    THUMBNAIL_KEY: image.thumbnail_key,
                    SOURCE: FROM_DISCORD,
                    IMPORTED: True,
                },
            )
        )


async def _count_created(session: AsyncSession, user_id: str) -> None:
    user = await session.get(User, user_id, with_for_update=True)
    if user is not None:
        user.total_characters_created += 1
