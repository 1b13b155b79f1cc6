"""Factories for test data: rows shaped like the bot's own, inserted through the ORM."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Character, CharacterTheme, ThemeVariant, User

_seq = itertools.count(1)


def next_discord_id() -> int:
    """A fresh snowflake-like id."""
    return 900_000_000_000_000_000 + next(_seq)


async def make_user(session: AsyncSession, discord_id: int | None = None, **overrides: Any) -> User:
    """A Discord member's user row (auth0_id ``oauth2|discord|<id>``)."""
    did = discord_id if discord_id is not None else next_discord_id()
    values: dict[str, Any] = {
        "email": f"discord_{did}@discord.invalid",
        "auth0_id": f"oauth2|discord|{did}",
        "username": f"member_{did}"[:30],
        "display_name": f"Member {did % 1_000_000}",  # a name that does not hold the id
    }
    values.update(overrides)
    user = User(**values)
    session.add(user)
    await session.flush()
    await session.refresh(user)
    return user


async def make_character(session: AsyncSession, user: User, **overrides: Any) -> Character:
    """A completed character with an image, owned by ``user``."""
    n = next(_seq)
    values: dict[str, Any] = {
        "user_id": user.id,
        "name": f"Character {n}",
        "description": f"a test character number {n}",
        "prompt": f"portrait of test character {n}",
        "style_type": "realistic",
        "image_url": f"https://images.example/characters/{n}.png",
        "thumbnail_url": f"https://images.example/characters/{n}_thumb.webp",
        "generation_status": "completed",
        "tags": ["test"],
        "meta": {"artStyle": "realistic"},
    }
    values.update(overrides)
    character = Character(**values)
    session.add(character)
    await session.flush()
    await session.refresh(character)
    return character


async def make_theme(
    session: AsyncSession, character: Character, name: str = "Winter"
) -> CharacterTheme:
    """A theme of ``character``."""
    theme = CharacterTheme(character_id=character.id, name=name)
    session.add(theme)
    await session.flush()
    await session.refresh(theme)
    return theme


async def make_variant(
    session: AsyncSession, theme: CharacterTheme, prompt: str = "make them smile"
) -> ThemeVariant:
    """A variant in ``theme``."""
    variant = ThemeVariant(
        theme_id=theme.id,
        character_id=theme.character_id,
        prompt=prompt,
        image_url="https://images.example/v.png",
        thumbnail_url="https://images.example/v_thumb.webp",
    )
    session.add(variant)
    await session.flush()
    await session.refresh(variant)
    return variant
