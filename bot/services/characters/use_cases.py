"""Characters, as the features use them: each use case opens one short unit of work on the
database and returns rows (their loaded attributes stay readable) or plain data."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.services.accounts import public_name
from bot.services.characters.changes import (
    CharacterFlag,
    DeletedCharacter,
    attach_conversation,
    delete_character,
    edit_character,
    set_flag,
)
from bot.services.characters.lookups import (
    CharacterFilter,
    autocomplete_characters,
    find_character_by_thread,
    get_character,
    get_owned_character,
    get_visible_character,
    list_characters,
)
from bot.services.pagination import Page
from bot.storage.base import Storage, delete_quietly
from db.engine import Database
from db.models import Character, CharacterTheme, ThemeVariant, User


@dataclass(frozen=True, slots=True)
class CharacterExport:
    """Everything a Character Card is made from: the character, its themes and variants (oldest
    first), and its creator's name."""

    character: Character
    themes: list[CharacterTheme]
    variants: list[ThemeVariant]
    creator: str


async def character_choices(db: Database, user_id: str, query: str) -> list[tuple[str, str]]:
    """Autocomplete: the member's own completed characters matching ``query`` (id, name)."""
    async with db.read() as session:
        return await autocomplete_characters(session, user_id, query)


async def find_character(db: Database, character_id: str) -> Character:
    """The character with this id, whoever owns it.

    Raises: NotFoundError("character").
    """
    async with db.read() as session:
        return await get_character(session, character_id)


async def owned_character(db: Database, character_id: str, user_id: str) -> Character:
    """The character, provided ``user_id`` owns it.

    Raises: NotFoundError("character"), NotOwnerError.
    """
    async with db.read() as session:
        return await get_owned_character(session, character_id, user_id)


async def visible_character(db: Database, character_id: str, viewer_user_id: str) -> Character:
    """The character as the viewer may see it: their own, or a publicly visible one.

    Raises: NotFoundError("character").
    """
    async with db.read() as session:
        return await get_visible_character(session, character_id, viewer_user_id)


async def character_in_thread(db: Database, thread_id: int) -> Character | None:
    """The character whose conversation is the thread ``thread_id``, or None."""
    async with db.read() as session:
        return await find_character_by_thread(session, thread_id)


async def character_page(
    db: Database,
    user_id: str,
    *,
    filter: CharacterFilter = "all",
    cursor: str | None = None,
    limit: int = 10,
) -> Page[Character]:
    """One keyset page of the member's completed characters, newest first.

    Raises: InvalidInputError (bad cursor or filter).
    """
    async with db.read() as session:
        return await list_characters(session, user_id, filter=filter, cursor=cursor, limit=limit)


async def change_flag(
    db: Database,
    character_id: str,
    user_id: str,
    flag: CharacterFlag,
    value: bool | None = None,
) -> Character:
    """Set (``value`` None: toggle) a flag of the member's character; the updated row.

    Raises: NotFoundError, NotOwnerError, InvalidInputError.
    """
    async with db.statement() as session:  # one UPDATE … RETURNING: it commits on its own
        return await set_flag(session, character_id, user_id, flag, value)


async def save_edit(
    db: Database,
    character_id: str,
    user_id: str,
    *,
    name: str | None = None,
    description: str | None = None,
    personality: list[str] | None = None,
    clothing: str | None = None,
    background: str | None = None,
) -> Character:
    """Change the given fields of the member's character; the updated row.

    Raises: NotFoundError, NotOwnerError, InvalidInputError.
    """
    async with db.transaction() as session:
        return await edit_character(
            session,
            character_id,
            user_id,
            name=name,
            description=description,
            personality=personality,
            clothing=clothing,
            background=background,
        )


async def remove_character(
    db: Database, storage: Storage, character_id: str, user_id: str
) -> DeletedCharacter:
    """Delete the member's character with its themes, variants and collection entries, then,
    once that is committed, its stored images (a storage failure is logged, not raised).

    Raises: NotFoundError, NotOwnerError.
    """
    async with db.transaction() as session:
        deleted = await delete_character(session, character_id, user_id)
    await delete_quietly(storage, deleted.storage_keys)
    return deleted


async def record_conversation(
    db: Database,
    character_id: str,
    *,
    guild_id: int | None,
    channel_id: int,
    message_id: int,
    thread_id: int | None,
) -> None:
    """Remember where the character was posted, and its thread (its conversation).

    Raises: NotFoundError("character").
    """
    async with db.statement() as session:  # one UPDATE: it commits on its own
        await attach_conversation(
            session,
            character_id,
            guild_id=guild_id,
            channel_id=channel_id,
            message_id=message_id,
            thread_id=thread_id,
        )


async def export_of(db: Database, character_id: str, viewer_user_id: str) -> CharacterExport:
    """What a Character Card of the character is made from, as the viewer may see it.

    Raises: NotFoundError("character") (also when it is hidden from the viewer).
    """
    async with db.read() as session:
        character = await get_visible_character(session, character_id, viewer_user_id)
        themes = (
            await session.scalars(
                select(CharacterTheme)
                .where(CharacterTheme.character_id == character.id)
                .order_by(CharacterTheme.created_at)
            )
        ).all()
        variants = (
            await session.scalars(
                select(ThemeVariant)
                .where(ThemeVariant.character_id == character.id)
                .order_by(ThemeVariant.created_at)
            )
        ).all()
        owner = await session.get(User, character.user_id)
    creator = (
        (public_name(owner.display_name, owner.username, owner.auth0_id) or "") if owner else ""
    )
    return CharacterExport(character, list(themes), list(variants), creator)
