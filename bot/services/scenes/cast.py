"""Who can be in a scene: the cast as typed (ids, short ids or names, comma-separated),
resolved among the member's own finished characters and publicly visible ones (not those the
guild's moderators hid there), two to four, each once, each with a portrait; and the
autocomplete that completes the last item of the list."""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, Text, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInputError
from bot.services.characters import is_valid_id, name_rank
from bot.services.scenes.model import MAX_CAST, MIN_CAST
from bot.services.visibility import is_completed, publicly_visible, shown_in_guild
from db.engine import Database
from db.meta import Meta
from db.models import Character

SHORT_ID = re.compile(r"^[0-9a-f]{8}$")
"""A short id: the first eight characters of a character's id (what autocomplete fills in,
so four of them fit Discord's 100-character option value)."""
MAX_ITEM = 100
MAX_CHOICES = 25


def split_cast(typed: str) -> list[str]:
    """The items of a comma-separated list, trimmed, empty ones dropped."""
    return [item.strip() for item in (typed or "").split(",") if item.strip()]


def short_id(character_id: str) -> str:
    """The short id autocomplete fills in."""
    return character_id[:8]


def _castable(user_id: str, guild_id: int | None) -> tuple[ColumnElement[bool], ...]:
    return (
        or_(and_(Character.user_id == user_id, is_completed), publicly_visible()),
        shown_in_guild(guild_id),
    )


def _unavailable(item: str) -> InvalidInputError:
    return InvalidInputError(
        f"“{item}” is not one of your characters or a public character.",
        "invalid.scene_unavailable",
        item=item[:MAX_ITEM],
    )


async def _resolve_one(
    session: AsyncSession, item: str, user_id: str, guild_id: int | None
) -> Character:
    castable = _castable(user_id, guild_id)
    lowered = item.lower()
    if is_valid_id(lowered) and len(lowered) > 8:
        matches = (
            await session.scalars(select(Character).where(Character.id == lowered, *castable))
        ).all()
    elif SHORT_ID.match(lowered):
        matches = (
            await session.scalars(
                select(Character)
                .where(Character.id.op("LIKE", return_type=Text)(lowered + "%"), *castable)
                .limit(2)
            )
        ).all()
    else:
        matches = []
    if not matches:  # a name: the member's own first, then the newest public one
        rows = (
            await session.scalars(
                select(Character)
                .where(func.lower(Character.name) == lowered, *castable)
                .order_by(Character.created_at.desc(), Character.id.desc())
                .limit(20)
            )
        ).all()
        own = [c for c in rows if c.user_id == user_id]
        matches = own[:1] or rows[:1]
    if len(matches) != 1:
        raise _unavailable(item)
    return matches[0]


async def resolve_cast(
    session: AsyncSession, typed: str, user_id: str, guild_id: int | None
) -> list[Character]:
    """The characters of a scene, in the order typed.

    Raises: InvalidInputError: fewer than two or more than four, one named twice, one that is
        neither the member's nor public (or hidden in this guild), or one without a portrait.
    """
    items = split_cast(typed)
    if not MIN_CAST <= len(items) <= MAX_CAST:
        raise InvalidInputError(
            f"A scene has {MIN_CAST} to {MAX_CAST} characters; you named {len(items)}.",
            "invalid.scene_count",
            min=MIN_CAST,
            max=MAX_CAST,
            count=len(items),
        )
    cast: list[Character] = []
    for item in items:
        character = await _resolve_one(session, item, user_id, guild_id)
        if any(c.id == character.id for c in cast):
            raise InvalidInputError(
                f"{character.name} is in the list twice.",
                "invalid.scene_duplicate",
                name=(character.name or item)[:MAX_ITEM],
            )
        if not Meta(character.meta).image_key or not character.image_url:
            raise InvalidInputError(
                f"{character.name} has no portrait yet.",
                "invalid.scene_no_portrait",
                name=(character.name or item)[:MAX_ITEM],
            )
        cast.append(character)
    return cast


async def cast_choices(
    db: Database, user_id: str, typed: str, guild_id: int | None
) -> list[tuple[str, str]]:
    """Autocomplete for the cast: ``(value, label)`` pairs completing the last item of the
    comma-separated list with a character of the member's or a public one (the member's
    first), the earlier items kept as typed."""
    parts = (typed or "").split(",")
    head = [p.strip() for p in parts[:-1] if p.strip()]
    query = parts[-1].strip() if parts else ""
    stmt = select(Character.id, Character.name, Character.user_id).where(
        *_castable(user_id, guild_id)
    )
    own_first = (Character.user_id != user_id).asc()
    if query:
        matches, rank = name_rank(Character.name, query)
        stmt = stmt.where(matches).order_by(own_first, rank, Character.created_at.desc())
    else:
        stmt = stmt.order_by(own_first, Character.created_at.desc())
    async with db.read() as session:
        rows = (await session.execute(stmt.limit(MAX_CHOICES))).all()
    prefix = ", ".join(head)
    out: list[tuple[str, str]] = []
    for row in rows:
        if short_id(row.id) in head:
            continue
        value = f"{prefix}, {short_id(row.id)}" if prefix else short_id(row.id)
        label = f"{prefix}, {row.name or '?'}" if prefix else (row.name or "?")
        if len(value) > MAX_ITEM:
            continue
        out.append((value, label[-MAX_ITEM:]))
    return out
