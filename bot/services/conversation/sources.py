"""Where an edit in a conversation starts: the character a conversation (a thread, or a DM
channel) belongs to, the image a message replies to, the newest image, the earlier turns of a
branch, and the theme last used in the conversation. Session helpers and read use cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Text, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFoundError
from bot.services.characters import is_valid_id, thread_lookup
from db.engine import Database
from db.meta import (
    CONVERSATION_ID,
    FORMER_PORTRAIT,
    MESSAGE_ID,
    PARENT_VARIANT_ID,
    PORTRAIT_AT,
    Meta,
)
from db.models import Character, CharacterTheme, ThemeVariant, User

MAX_TURNS = 3
"""Earlier turns of a branch an edit carries."""


def _variant_meta(key: str) -> ColumnElement[str]:
    """``theme_variants.metadata ->> 'key'`` (the key a literal)."""
    return ThemeVariant.meta.op("->>", return_type=Text)(literal_column(f"'{key}'"))


@dataclass(frozen=True)
class ImageSource:
    """An image an edit can start from: a variant's, or (``variant_id`` None) the portrait."""

    character_id: str
    variant_id: str | None
    image_key: str
    instruction: str | None = None
    """The instruction that made it (a variant's prompt)."""


@dataclass(frozen=True)
class ConversationTarget:
    """The character a message in a conversation speaks to, and the image it replies to."""

    character_id: str
    character_name: str | None
    owner_user_id: str
    owner_auth0_id: str | None
    owner_language: str
    source: ImageSource | None
    """The replied-to image; None: the newest image (resolved when the edit's turn comes)."""
    replied_to_image: bool


def portrait_of(character: Character) -> ImageSource | None:
    """The character's portrait as an edit source (None without a finished image)."""
    key = Meta(character.meta).image_key
    if character.generation_status != "completed" or not key:
        return None
    return ImageSource(character.id, None, key)


def variant_source(variant: ThemeVariant) -> ImageSource | None:
    """A variant as an edit source (None when its image is not stored)."""
    key = Meta(variant.meta).image_key
    if not key:
        return None
    return ImageSource(variant.character_id, variant.id, key, variant.prompt)


def portrait_time(character: Character) -> datetime:
    """When the portrait last changed (regenerated, or replaced by a variant)."""
    raw = Meta(character.meta).text(PORTRAIT_AT)
    if raw:
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            pass
    return character.created_at


async def newest_image(session: AsyncSession, character: Character) -> ImageSource | None:
    """The character's newest image: its newest variant (kept former portraits aside), or
    the portrait when that changed later or there is no variant."""
    variant = await session.scalar(
        select(ThemeVariant)
        .where(
            ThemeVariant.character_id == character.id,
            _variant_meta(FORMER_PORTRAIT).is_(None),
        )
        .order_by(ThemeVariant.created_at.desc(), ThemeVariant.id.desc())
        .limit(1)
    )
    portrait = portrait_of(character)
    if variant is not None and (portrait is None or variant.created_at > portrait_time(character)):
        return variant_source(variant) or portrait
    return portrait


async def source_variant(session: AsyncSession, character_id: str, variant_id: str) -> ImageSource:
    """A variant of the character as an edit source.

    Raises: NotFoundError("variant") (gone, another character's, or without an image).
    """
    variant = await session.get(ThemeVariant, variant_id) if is_valid_id(variant_id) else None
    source = variant_source(variant) if variant is not None else None
    if variant is None or source is None or variant.character_id != character_id:
        raise NotFoundError("variant")
    return source


async def branch(session: AsyncSession, source: ImageSource) -> list[ImageSource]:
    """The last turns of the branch ending at ``source`` (itself included), oldest first, at
    most :data:`MAX_TURNS`; the portrait starts a branch (no turn)."""
    turns: list[ImageSource] = []
    variant_id = source.variant_id
    seen: set[str] = set()
    while variant_id and len(turns) < MAX_TURNS and variant_id not in seen:
        seen.add(variant_id)
        variant = await session.get(ThemeVariant, variant_id)
        if variant is None or variant.character_id != source.character_id:
            break
        turn = variant_source(variant)
        if turn is None:
            break
        turns.append(turn)
        parent = Meta(variant.meta).text(PARENT_VARIANT_ID)
        variant_id = parent if parent and is_valid_id(parent) else None
    return list(reversed(turns))


async def last_theme(session: AsyncSession, character_id: str, conversation_id: str) -> str | None:
    """The theme of the newest variant made in this conversation, if any."""
    return await session.scalar(
        select(CharacterTheme.name)
        .join(ThemeVariant, ThemeVariant.theme_id == CharacterTheme.id)
        .where(
            ThemeVariant.character_id == character_id,
            _variant_meta(CONVERSATION_ID) == conversation_id,
            _variant_meta(FORMER_PORTRAIT).is_(None),
        )
        .order_by(ThemeVariant.created_at.desc(), ThemeVariant.id.desc())
        .limit(1)
    )


async def _replied_image(
    session: AsyncSession, characters: list[Character], message_id: int
) -> tuple[Character, ImageSource | None] | None:
    """The character and image shown by the bot's message ``message_id``, if it is one."""
    by_id = {c.id: c for c in characters}
    variant = await session.scalar(
        select(ThemeVariant)
        .where(
            ThemeVariant.character_id.in_(list(by_id)),
            _variant_meta(MESSAGE_ID) == str(message_id),
        )
        .limit(1)
    )
    if variant is not None:
        return by_id[variant.character_id], variant_source(variant)
    for character in characters:
        if Meta(character.meta).text(MESSAGE_ID) == str(message_id):
            return character, portrait_of(character)
    return None


async def conversation_target(
    db: Database,
    conversation_id: int,
    *,
    replied_message_id: int | None,
    replied_has_image: bool,
) -> ConversationTarget | None:
    """The character whose conversation ``conversation_id`` is, and the image a message
    there replies to (``replied_message_id``); None when the channel is no conversation.

    A reply to one of the bot's character or variant messages edits that image; a reply to
    another of its images (a card posted again, say) edits the portrait; anything else edits
    the newest image (resolved when the edit's turn comes). In a DM with several characters,
    a reply picks the character shown; otherwise the newest character."""
    async with db.read() as session:
        characters = list((await session.scalars(thread_lookup(conversation_id))).all())
        if not characters:
            return None
        characters.sort(key=lambda c: (c.created_at, c.id), reverse=True)
        character = characters[0]
        source: ImageSource | None = None
        replied = False
        if replied_message_id is not None:
            found = await _replied_image(session, characters, replied_message_id)
            if found is not None:
                character, source = found
                replied = True
            elif replied_has_image:
                source = portrait_of(character)
                replied = True
        owner = await session.get(User, character.user_id)
    if owner is None:  # pragma: no cover - the foreign key keeps the owner
        return None
    return ConversationTarget(
        character_id=character.id,
        character_name=character.name,
        owner_user_id=owner.id,
        owner_auth0_id=owner.auth0_id,
        owner_language=owner.preferred_language or "en",
        source=source,
        replied_to_image=replied,
    )
