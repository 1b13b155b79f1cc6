"""What /theme and /variant do with the database: each use case opens its own short unit of
work (a read session, or one transaction) and returns plain rows and values."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.characters import (
    find_character_by_thread,
    get_character,
    get_visible_character,
)
from bot.services.pagination import Page
from bot.services.themes.rows import (
    ThemeSummary,
    autocomplete_themes,
    create_theme,
    delete_theme,
    list_themes,
    rename_theme,
    theme_names,
)
from bot.services.themes.variants import autocomplete_variants, delete_variant, list_variants
from bot.storage.base import Storage, delete_quietly
from db.engine import Database
from db.models import Character, CharacterTheme, ThemeVariant


@dataclass(frozen=True, slots=True)
class CharacterThemes:
    """A character's themes as its list shows them."""

    character: Character
    themes: list[ThemeSummary]


@dataclass(frozen=True, slots=True)
class VariantPage:
    """One page of a theme's variants, and the theme's name for its title."""

    theme_name: str
    page: Page[ThemeVariant]


# --- autocomplete ---------------------------------------------------------------------------


async def theme_choices(db: Database, user_id: str, query: str) -> list[tuple[str, str]]:
    """The member's themes matching ``query``: (theme id, "Character · Theme")."""
    async with db.read() as session:
        return await autocomplete_themes(session, user_id, query)


async def variant_choices(db: Database, user_id: str, query: str) -> list[tuple[str, str]]:
    """The member's variants matching ``query``: (variant id, "Character · Theme · …")."""
    async with db.read() as session:
        return await autocomplete_variants(session, user_id, query)


async def theme_name_choices(
    db: Database,
    user_id: str,
    query: str,
    *,
    character_id: str | None,
    thread_id: int | None,
) -> list[str] | None:
    """The names of the member's themes of the character in question — ``character_id``, else
    the character of the thread ``thread_id`` — matching ``query``; None when neither names a
    character. One read session, one query per lookup."""
    async with db.read() as session:
        if not character_id and thread_id is not None:
            found = await find_character_by_thread(session, thread_id)
            character_id = found.id if found is not None else None
        if not character_id:
            return None
        return await theme_names(session, user_id, query, character_id)


# --- themes ---------------------------------------------------------------------------------


async def variant_character(
    db: Database, character_id: str | None, thread_id: int | None
) -> Character | None:
    """The character a variant is for: ``character_id``, else the thread's character; None
    when neither names one.

    Raises: NotFoundError("character") (an id that names no character).
    """
    async with db.read() as session:
        if character_id:
            return await get_character(session, character_id)
        if thread_id is None:
            return None
        return await find_character_by_thread(session, thread_id)


async def new_theme(
    db: Database, character_id: str, user_id: str, name: str, description: str | None
) -> CharacterTheme:
    """A new theme of the member's character (see :func:`rows.create_theme`)."""
    async with db.transaction() as session:
        return await create_theme(session, character_id, user_id, name, description)


async def character_themes(db: Database, character_id: str, viewer_user_id: str) -> CharacterThemes:
    """The character (owned by the viewer, or publicly visible) and its themes.

    Raises: NotFoundError("character").
    """
    async with db.read() as session:
        character = await get_visible_character(session, character_id, viewer_user_id)
        themes = await list_themes(session, character_id, viewer_user_id)
    return CharacterThemes(character=character, themes=themes)


async def retitle_theme(db: Database, theme_id: str, user_id: str, new_name: str) -> CharacterTheme:
    """The member's theme under its new name (see :func:`rows.rename_theme`)."""
    async with db.transaction() as session:
        return await rename_theme(session, theme_id, user_id, new_name)


async def remove_theme(db: Database, storage: Storage, theme_id: str, user_id: str) -> None:
    """Delete the member's theme and its variants, then (after the commit) their stored images;
    a storage failure is logged, not raised.

    Raises: NotFoundError, NotOwnerError.
    """
    async with db.transaction() as session:
        keys = await delete_theme(session, theme_id, user_id)
    await delete_quietly(storage, keys)


# --- variants -------------------------------------------------------------------------------


async def variant_page(
    db: Database, theme_id: str, viewer_user_id: str, cursor: str | None
) -> VariantPage:
    """One variant of the theme (newest first) and the theme's name.

    Raises: NotFoundError("theme"), InvalidInputError (bad cursor).
    """
    async with db.read() as session:
        page = await list_variants(session, theme_id, viewer_user_id, cursor=cursor, limit=1)
        theme = await session.get(CharacterTheme, theme_id)
    return VariantPage(theme_name=theme.name if theme is not None else "", page=page)


async def remove_variant(db: Database, storage: Storage, variant_id: str, user_id: str) -> None:
    """Delete the member's variant, then (after the commit) its stored images; a storage
    failure is logged, not raised.

    Raises: NotFoundError, NotOwnerError.
    """
    async with db.transaction() as session:
        keys = await delete_variant(session, variant_id, user_id)
    await delete_quietly(storage, keys)
