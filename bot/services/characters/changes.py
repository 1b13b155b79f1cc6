"""Characters, changed: edits, flags, deletes, and the Discord conversation recorded on a
character. Session helpers: the caller's unit of work commits (or the use cases in
``bot.services.characters.use_cases`` open one)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import ColumnElement, Update, bindparam, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInputError, NotFoundError
from bot.services.characters.lookups import (
    MAX_ATTRIBUTE,
    MAX_DESCRIPTION,
    MAX_NAME,
    clean_text,
    get_owned_character,
    is_valid_id,
    storage_keys,
)
from bot.services.deleting import delete_loaded
from db.meta import (
    CHANNEL_ID,
    CONTENT_FILTER,
    CONVERSATION_ID,
    GUILD_ID,
    MESSAGE_ID,
    RELAXED,
    Meta,
)
from db.models import Character, ThemeVariant

CharacterFlag = Literal["is_favorite", "is_in_library", "is_public"]

GENERATING = ("pending", "processing")
_FLAGS: tuple[str, ...] = ("is_favorite", "is_in_library", "is_public")


@dataclass(frozen=True, slots=True)
class DeletedCharacter:
    """What a delete removed: the objects to delete from storage once the caller has committed."""

    id: str
    name: str | None
    storage_keys: tuple[str, ...]
    image_urls: tuple[str, ...]


async def edit_character(
    session: AsyncSession,
    character_id: str,
    user_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    personality: list[str] | None = None,
    clothing: str | None = None,
    background: str | None = None,
) -> Character:
    """Change the given fields (None = leave alone; "" clears an optional field).

    Raises: NotFoundError, NotOwnerError, InvalidInputError (lengths, empty name, generating).
    """
    character = await get_owned_character(session, character_id, user_id)
    if character.generation_status in GENERATING:
        raise InvalidInputError(
            "This character is still being generated. Try again in a moment.",
            reason_key="invalid.character_generating",
        )
    if name is not None:
        character.name = clean_text(
            name, field="name", label="name", max_length=MAX_NAME, required=True
        )
    if description is not None:
        character.description = clean_text(
            description, field="description", label="description", max_length=MAX_DESCRIPTION
        )
    if personality is not None:
        traits = [t.strip() for t in personality if t and t.strip()]
        clean_text(
            ", ".join(traits), field="personality", label="personality", max_length=MAX_ATTRIBUTE
        )
        character.personality = traits
    if clothing is not None:
        character.clothing = clean_text(
            clothing, field="clothing", label="clothing", max_length=MAX_ATTRIBUTE
        )
    if background is not None:
        character.background = clean_text(
            background, field="backstory", label="backstory", max_length=MAX_ATTRIBUTE
        )
    character.updated_at = func.now()
    await session.flush()
    await session.refresh(character)
    return character


async def delete_character(
    session: AsyncSession, character_id: str, user_id: str
) -> DeletedCharacter:
    """Delete the character (its themes, variants and collection entries go with it by cascade).

    Returns the storage keys and URLs of its image, thumbnail and variant images, for the caller
    to delete after commit.

    Raises: NotFoundError, NotOwnerError.
    """
    character = await get_owned_character(session, character_id, user_id)
    keys = storage_keys(character.meta)
    urls = [u for u in (character.image_url, character.thumbnail_url) if u]
    variants = await session.execute(
        select(ThemeVariant.meta, ThemeVariant.image_url, ThemeVariant.thumbnail_url).where(
            ThemeVariant.character_id == character.id
        )
    )
    for meta, image_url, thumbnail_url in variants:
        keys += storage_keys(meta)
        urls += [u for u in (image_url, thumbnail_url) if u]
    await delete_loaded(session, character, "character")
    return DeletedCharacter(
        id=character.id,
        name=character.name,
        storage_keys=tuple(dict.fromkeys(keys)),
        image_urls=tuple(dict.fromkeys(urls)),
    )


@functools.cache
def _flag_change(flag: CharacterFlag, value: bool | None) -> Update:
    """The UPDATE … RETURNING that sets (``value`` None: toggles) ``flag`` of the character
    ``the_character`` owned by ``its_owner`` (bound parameters: a column's own name is taken
    by the SET clause), built once per flag and value."""
    column = getattr(Character, flag)
    current = func.coalesce(column, literal(False))
    new_value: ColumnElement[bool] = ~current if value is None else literal(value)
    conditions = [
        Character.id == bindparam("the_character"),
        Character.user_id == bindparam("its_owner"),
    ]
    if flag == "is_public":  # only a finished character is published (unpublishing always works)
        conditions.append(or_(~new_value, Character.generation_status == "completed"))
        # never one with an image made under the relaxed filter
        relaxed = Character.meta[CONTENT_FILTER].astext == RELAXED
        conditions.append(or_(~new_value, ~func.coalesce(relaxed, literal(False))))
    return (
        update(Character)
        .where(*conditions)
        .values({flag: new_value, "updated_at": func.now()})
        .returning(Character)
        .execution_options(populate_existing=True)
    )


async def set_flag(
    session: AsyncSession,
    character_id: str,
    user_id: str,
    flag: CharacterFlag,
    value: bool | None = None,
) -> Character:
    """Set (or, with ``value=None``, toggle) a flag of the caller's character.

    Raises: NotFoundError, NotOwnerError, InvalidInputError (unknown flag; publishing a character
    that is not completed).
    """
    if flag not in _FLAGS:
        raise InvalidInputError("Unknown flag.", reason_key="invalid.flag", flag=str(flag))
    # one statement: the change and the updated row (the usual press of a button)
    changed: Character | None = None
    if is_valid_id(character_id):
        changed = await session.scalar(
            _flag_change(flag, None if value is None else bool(value)),
            {"the_character": character_id, "its_owner": user_id},
        )
    if changed is not None:
        return changed
    # nothing changed: say why
    character = await get_owned_character(session, character_id, user_id)
    if Meta(character.meta).relaxed:
        raise InvalidInputError(
            "Images of this character were made under the relaxed content filter, so it cannot "
            "be published to the gallery.",
            reason_key="publish.relaxed",
        )
    raise InvalidInputError(
        "Only a finished character can be published.",
        reason_key="invalid.publish_not_completed",
        status=character.generation_status or "pending",
    )


async def attach_conversation(
    session: AsyncSession,
    character_id: str,
    *,
    guild_id: int | None,
    channel_id: int,
    message_id: int,
    thread_id: int | None,
) -> None:
    """Merge the Discord conversation (ids as strings) into the character's metadata, keeping
    every other key; ``conversationId`` is the thread id.

    Raises: NotFoundError("character").
    """
    if not is_valid_id(character_id):
        raise NotFoundError("character")
    patch = {CHANNEL_ID: str(channel_id), MESSAGE_ID: str(message_id)}
    if guild_id is not None:
        patch[GUILD_ID] = str(guild_id)
    if thread_id is not None:
        patch[CONVERSATION_ID] = str(thread_id)
    merged = func.coalesce(Character.meta, literal({}, JSONB)).op("||", return_type=JSONB)(
        literal(patch, JSONB)
    )
    updated = await session.scalar(
        update(Character)
        .where(Character.id == character_id)
        .values(meta=merged)
        .returning(Character)
        .execution_options(populate_existing=True, synchronize_session=False)
    )
    if updated is None:
        raise NotFoundError("character")
