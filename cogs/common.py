"""Helpers shared by the cogs: option choices and autocomplete."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import characters as characters_service
from bot.services.accounts import get_user_by_discord_id
from bot.ui.text import CHOICE_NAME_MAX, clip
from db.models import STYLES

if TYPE_CHECKING:
    from bot.app import CharBot

log = logging.getLogger(__name__)
AUTOCOMPLETE_BUDGET_SECONDS = 2.5

STYLE_NAMES = {
    "realistic": "Realistic",
    "anime": "Anime",
    "cartoon": "Cartoon",
    "fantasy": "Fantasy",
    "cyberpunk": "Cyberpunk",
    "vintage": "Vintage",
    "minimalist": "Minimalist",
}
STYLE_CHOICES = [app_commands.Choice(name=_(STYLE_NAMES[s]), value=s) for s in STYLES]


async def caller_user_id(bot: CharBot, interaction: discord.Interaction[Any]) -> str | None:
    """The member's user id without creating a row (autocomplete must stay read-only); known
    ids come from the process's cache, so a keystroke costs one query, not two."""
    known = bot.known_user_id(interaction.user.id)
    if known is not None:
        return known
    async with bot.reads() as session:
        user = await get_user_by_discord_id(session, interaction.user.id)
    if user is None:
        return None
    bot.remember_user_id(interaction.user.id, user.id)
    return user.id


def as_choices(pairs: list[tuple[str, str]]) -> list[app_commands.Choice[str]]:
    """(value, label) pairs as at most 25 Discord choices."""
    return [
        app_commands.Choice(name=clip(label, CHOICE_NAME_MAX) or value[:8], value=value)
        for value, label in pairs[:25]
    ]


PairsFetcher = Callable[[AsyncSession, str], Awaitable[list[tuple[str, str]]]]


async def own_choices(
    interaction: discord.Interaction[Any], fetch: PairsFetcher
) -> list[app_commands.Choice[str]]:
    """Autocomplete over the caller's own rows: ``fetch(session, user_id)`` gives (value, label)
    pairs. A member the bot does not know yet has none; an answer that cannot come within
    2.5 s is no choices rather than a list Discord would drop anyway."""
    bot: CharBot = interaction.client
    try:
        async with asyncio.timeout(AUTOCOMPLETE_BUDGET_SECONDS):
            user_id = await caller_user_id(bot, interaction)
            if user_id is None:
                return []
            async with bot.reads() as session:
                pairs = await fetch(session, user_id)
    except TimeoutError:
        log.warning("autocomplete took too long for user=%s", interaction.user.id)
        return []
    return as_choices(pairs)


async def character_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The caller's own characters matching what they typed (25 at most, newest first)."""
    return await own_choices(
        interaction,
        lambda session, user_id: characters_service.autocomplete_characters(
            session, user_id, current[:100]
        ),
    )
