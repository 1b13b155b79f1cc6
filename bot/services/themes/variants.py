"""Variants' rows: the edited versions of a character filed under its themes — paged, found,
deleted, and offered in autocomplete. A variant belongs to a character, so owning it is owning
its character."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFoundError, NotOwnerError
from bot.services.characters import AUTOCOMPLETE_MAX, get_visible_character, is_valid_id, name_rank
from bot.services.deleting import delete_loaded
from bot.services.pagination import Page, apply_keyset, clamp_limit, keyset_page, parse_cursor
from bot.services.themes.rows import choice_label
from bot.services.visibility import is_completed
from db.meta import Meta
from db.models import Character, CharacterTheme, ThemeVariant


async def list_variants(
    session: AsyncSession,
    theme_id: str,
    viewer_user_id: str,
    *,
    cursor: str | None = None,
    limit: int = 10,
) -> Page[ThemeVariant]:
    """The theme's variants, newest first, for the character's owner or anyone when the
    character is publicly visible.

    Raises: NotFoundError("theme"), InvalidInputError (bad cursor).
    """
    limit = clamp_limit(limit)
    parsed = parse_cursor(cursor) if cursor else None
    if not is_valid_id(theme_id):
        raise NotFoundError("theme")
    character_id = await session.scalar(
        select(CharacterTheme.character_id).where(CharacterTheme.id == theme_id)
    )
    if character_id is None:
        raise NotFoundError("theme")
    try:
        await get_visible_character(session, character_id, viewer_user_id)
    except NotFoundError:
        raise NotFoundError("theme") from None
    stmt = apply_keyset(
        select(ThemeVariant).where(ThemeVariant.theme_id == theme_id),
        ThemeVariant.created_at,
        ThemeVariant.id,
        cursor=parsed,
        limit=limit,
    )
    rows = (await session.scalars(stmt)).all()
    return keyset_page(rows, limit=limit, cursor=parsed, key=lambda v: (v.created_at, v.id))


async def get_owned_variant(session: AsyncSession, variant_id: str, user_id: str) -> ThemeVariant:
    """The variant, provided the caller owns its character.

    Raises: NotFoundError("variant"), NotOwnerError.
    """
    if not is_valid_id(variant_id):
        raise NotFoundError("variant")
    row = (
        await session.execute(
            select(ThemeVariant, Character.user_id)
            .join(Character, Character.id == ThemeVariant.character_id)
            .where(ThemeVariant.id == variant_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        raise NotFoundError("variant")
    if row[1] != user_id:
        raise NotOwnerError()
    return row[0]


async def delete_variant(session: AsyncSession, variant_id: str, user_id: str) -> list[str]:
    """Delete the caller's variant; return its storage keys for deletion after commit.

    Raises: NotFoundError, NotOwnerError.
    """
    variant = await get_owned_variant(session, variant_id, user_id)
    keys = Meta(variant.meta).storage_keys
    await delete_loaded(session, variant, "variant")
    return keys


async def autocomplete_variants(
    session: AsyncSession, user_id: str, query: str, limit: int = AUTOCOMPLETE_MAX
) -> list[tuple[str, str]]:
    """``(variant id, "Character · Theme · instruction")`` of the caller's variants whose
    instruction, theme or character name contains ``query``, newest first."""
    limit = clamp_limit(limit, AUTOCOMPLETE_MAX)
    stmt = (
        select(
            ThemeVariant.id,
            ThemeVariant.prompt,
            CharacterTheme.name.label("theme_name"),
            Character.name.label("character_name"),
        )
        .join(CharacterTheme, CharacterTheme.id == ThemeVariant.theme_id)
        .join(Character, Character.id == ThemeVariant.character_id)
        .where(Character.user_id == user_id, is_completed)
    )
    query = (query or "").strip()
    if query:
        matches = [name_rank(c, query)[0] for c in (ThemeVariant.prompt, CharacterTheme.name)]
        matches.append(name_rank(Character.name, query)[0])
        stmt = stmt.where(or_(*matches))
    stmt = stmt.order_by(ThemeVariant.created_at.desc(), ThemeVariant.id.desc()).limit(limit)
    rows = (await session.execute(stmt)).all()
    return [
        (r.id, choice_label(r.character_name or "Untitled", r.theme_name, r.prompt or "variant"))
        for r in rows
    ]
