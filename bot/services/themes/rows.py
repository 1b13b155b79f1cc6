"""Themes' rows: a character's named groups of variants — made, found, listed, renamed,
deleted, and offered in autocomplete.

A theme belongs to a character, so ownership of a theme or variant is ownership of its
character. Duplicate theme names are refused case-insensitively here ("Winter" and "winter"
would be indistinguishable in autocomplete), on top of the schema's exact
``UNIQUE(character_id, name)``, which still settles races.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ConflictError, NotFoundError, NotOwnerError
from bot.services.characters import (
    AUTOCOMPLETE_MAX,
    clean_text,
    get_owned_character,
    get_visible_character,
    is_valid_id,
    name_rank,
)
from bot.services.deleting import delete_loaded
from bot.services.pagination import clamp_limit
from bot.services.visibility import is_completed
from db.meta import Meta
from db.models import Character, CharacterTheme, ThemeVariant

DEFAULT_THEME = "Variations"
MAX_THEME_NAME = 50
MAX_THEME_DESCRIPTION = 200
MAX_LABEL = 100  # a Discord autocomplete choice's name


@dataclass(frozen=True, slots=True)
class ThemeSummary:
    """A theme as listed: its variant count and newest variant's thumbnail."""

    id: str
    name: str
    description: str | None
    variant_count: int
    latest_thumbnail_url: str | None
    created_at: datetime


def _theme_name(name: str) -> str:
    cleaned = clean_text(
        name, field="theme_name", label="theme name", max_length=MAX_THEME_NAME, required=True
    )
    assert cleaned is not None
    return cleaned


def _theme_description(description: str | None) -> str | None:
    return clean_text(
        description,
        field="theme_description",
        label="theme description",
        max_length=MAX_THEME_DESCRIPTION,
    )


def _conflict(name: str) -> ConflictError:
    return ConflictError(
        f'This character already has a theme called "{name}".',
        reason_key="conflict.theme_exists",
        name=name,
    )


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def choice_label(*parts: str) -> str:
    """``"A · B · C"`` within Discord's 100 characters, long parts shortened evenly."""
    separator = " · "
    label = separator.join(parts)
    if len(label) <= MAX_LABEL:
        return label
    budget = MAX_LABEL - len(separator) * (len(parts) - 1)
    cap = budget
    while cap > 1 and sum(min(len(p), cap) for p in parts) > budget:
        cap -= 1
    return separator.join(shorten(p, cap) for p in parts)


async def find_theme_by_name(
    session: AsyncSession, character_id: str, name: str
) -> CharacterTheme | None:
    """The character's theme called ``name``: the exact match, else the case-insensitive one."""
    if not is_valid_id(character_id) or not (name or "").strip():
        return None
    rows = (
        await session.scalars(
            select(CharacterTheme)
            .where(
                CharacterTheme.character_id == character_id,
                func.lower(CharacterTheme.name) == name.strip().lower(),
            )
            .order_by(CharacterTheme.created_at, CharacterTheme.id)
        )
    ).all()
    exact = [t for t in rows if t.name == name.strip()]
    if exact:
        return exact[0]
    return rows[0] if rows else None


async def create_theme(
    session: AsyncSession,
    character_id: str,
    user_id: str,
    name: str,
    description: str | None = None,
) -> CharacterTheme:
    """A new theme of the caller's character.

    Raises: NotFoundError, NotOwnerError, InvalidInputError (name 1..50, description ≤ 200),
    ConflictError ("conflict.theme_exists").
    """
    clean_name = _theme_name(name)
    clean_description = _theme_description(description)
    character = await get_owned_character(session, character_id, user_id)
    if await find_theme_by_name(session, character.id, clean_name) is not None:
        raise _conflict(clean_name)
    theme = CharacterTheme(
        character_id=character.id, name=clean_name, description=clean_description
    )
    try:
        async with session.begin_nested():
            session.add(theme)
            await session.flush()
    except IntegrityError as exc:  # a concurrent create of the same name won the race
        raise _conflict(clean_name) from exc
    await session.refresh(theme)
    return theme


async def get_or_create_theme(
    session: AsyncSession, character_id: str, name: str = DEFAULT_THEME
) -> CharacterTheme:
    """The character's theme called ``name``, created if missing (race-safe: INSERT … ON
    CONFLICT DO NOTHING, then SELECT). No ownership check: the caller has done it.

    Raises: NotFoundError("character"), InvalidInputError (name).
    """
    clean_name = _theme_name(name)
    if not is_valid_id(character_id):
        raise NotFoundError("character")
    existing = await find_theme_by_name(session, character_id, clean_name)
    if existing is not None:
        return existing
    if await session.scalar(select(Character.id).where(Character.id == character_id)) is None:
        raise NotFoundError("character")
    await session.execute(
        insert(CharacterTheme)
        .values(character_id=character_id, name=clean_name)
        .on_conflict_do_nothing(index_elements=["character_id", "name"])
    )
    theme = await session.scalar(
        select(CharacterTheme)
        .where(CharacterTheme.character_id == character_id, CharacterTheme.name == clean_name)
        .execution_options(populate_existing=True)
    )
    if theme is None:  # pragma: no cover - the row exists after the upsert
        raise NotFoundError("theme")
    return theme


async def get_owned_theme(session: AsyncSession, theme_id: str, user_id: str) -> CharacterTheme:
    """The theme, provided the caller owns its character.

    Raises: NotFoundError("theme"), NotOwnerError.
    """
    if not is_valid_id(theme_id):
        raise NotFoundError("theme")
    row = (
        await session.execute(
            select(CharacterTheme, Character.user_id)
            .join(Character, Character.id == CharacterTheme.character_id)
            .where(CharacterTheme.id == theme_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise NotFoundError("theme")
    if row.user_id != user_id:
        raise NotOwnerError()
    theme: CharacterTheme = row[0]
    return theme


async def list_themes(
    session: AsyncSession, character_id: str, viewer_user_id: str
) -> list[ThemeSummary]:
    """The character's themes, oldest first, for its owner or anyone when it is publicly
    visible.

    Raises: NotFoundError("character").
    """
    character = await get_visible_character(session, character_id, viewer_user_id)
    count = (
        select(func.count(ThemeVariant.id))
        .where(ThemeVariant.theme_id == CharacterTheme.id)
        .scalar_subquery()
    )
    latest = (
        select(ThemeVariant.thumbnail_url)
        .where(ThemeVariant.theme_id == CharacterTheme.id)
        .order_by(ThemeVariant.created_at.desc(), ThemeVariant.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            CharacterTheme.id,
            CharacterTheme.name,
            CharacterTheme.description,
            count.label("variant_count"),
            latest.label("latest_thumbnail_url"),
            CharacterTheme.created_at,
        )
        .where(CharacterTheme.character_id == character.id)
        .order_by(CharacterTheme.created_at, CharacterTheme.id)
    )
    return [
        ThemeSummary(
            id=r.id,
            name=r.name,
            description=r.description,
            variant_count=int(r.variant_count),
            latest_thumbnail_url=r.latest_thumbnail_url,
            created_at=r.created_at,
        )
        for r in rows
    ]


async def rename_theme(
    session: AsyncSession, theme_id: str, user_id: str, new_name: str
) -> CharacterTheme:
    """Rename the caller's theme.

    Raises: NotFoundError, NotOwnerError, InvalidInputError (name), ConflictError
    ("conflict.theme_exists").
    """
    clean_name = _theme_name(new_name)
    theme = await get_owned_theme(session, theme_id, user_id)
    if theme.name == clean_name:
        return theme
    clash = await session.scalar(
        select(CharacterTheme.id).where(
            CharacterTheme.character_id == theme.character_id,
            CharacterTheme.id != theme.id,
            func.lower(CharacterTheme.name) == clean_name.lower(),
        )
    )
    if clash is not None:
        raise _conflict(clean_name)
    try:
        async with session.begin_nested():
            theme.name = clean_name
            theme.updated_at = func.now()
            await session.flush()
    except IntegrityError as exc:
        raise _conflict(clean_name) from exc
    await session.refresh(theme)
    return theme


async def _variant_keys(session: AsyncSession, *criteria: Any) -> list[str]:
    keys: list[str] = []
    for meta in await session.scalars(select(ThemeVariant.meta).where(*criteria)):
        keys += Meta(meta).storage_keys
    return keys


async def delete_theme(session: AsyncSession, theme_id: str, user_id: str) -> list[str]:
    """Delete the caller's theme and (by cascade) its variants; return the variants' storage
    keys for the caller to delete after commit.

    Raises: NotFoundError, NotOwnerError.
    """
    theme = await get_owned_theme(session, theme_id, user_id)
    keys = await _variant_keys(session, ThemeVariant.theme_id == theme.id)
    await delete_loaded(session, theme, "theme")
    return keys


async def _own_themes(
    session: AsyncSession, user_id: str, query: str, character_id: str | None, limit: int
) -> Sequence[Row[str, str, str | None]]:
    """(id, name, character_name) of the caller's themes on completed characters whose theme or
    character name matches ``query``; theme-name prefix matches first, newest first."""
    limit = clamp_limit(limit, AUTOCOMPLETE_MAX)
    stmt = (
        select(CharacterTheme.id, CharacterTheme.name, Character.name.label("character_name"))
        .join(Character, Character.id == CharacterTheme.character_id)
        .where(Character.user_id == user_id, is_completed)
    )
    if character_id is not None:
        if not is_valid_id(character_id):
            return []
        stmt = stmt.where(Character.id == character_id)
    order: list[Any] = []
    query = (query or "").strip()
    if query:
        theme_match, rank = name_rank(CharacterTheme.name, query)
        character_match, _ = name_rank(Character.name, query)
        stmt = stmt.where(or_(theme_match, character_match))
        order.append(rank)
    order += [CharacterTheme.created_at.desc(), CharacterTheme.id.desc()]
    return (await session.execute(stmt.order_by(*order).limit(limit))).all()


async def autocomplete_themes(
    session: AsyncSession,
    user_id: str,
    query: str,
    character_id: str | None = None,
    limit: int = AUTOCOMPLETE_MAX,
) -> list[tuple[str, str]]:
    """``(theme id, "Character · Theme")`` of the caller's themes on completed characters whose
    theme or character name matches ``query``; theme-name prefix matches first, newest first."""
    rows = await _own_themes(session, user_id, query, character_id, limit)
    return [(r.id, choice_label(r.character_name or "Untitled", r.name)) for r in rows]


async def theme_names(
    session: AsyncSession,
    user_id: str,
    query: str,
    character_id: str,
    limit: int = AUTOCOMPLETE_MAX,
) -> list[str]:
    """The names of the caller's themes of one character, matched and ordered as
    :func:`autocomplete_themes` does (one query)."""
    return [r.name for r in await _own_themes(session, user_id, query, character_id, limit)]
