"""Shared by the features: art style choices, and autocomplete over the caller's own rows."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _

from bot.interactions.autocomplete import answers_itself
from bot.interactions.caller import caller_user_id
from bot.interactions.deps import deps_of
from bot.services import characters as characters_service
from bot.ui.text import CHOICE_NAME_MAX, clip
from db.models import STYLES

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


def as_choices(pairs: list[tuple[str, str]]) -> list[app_commands.Choice[str]]:
    """(value, label) pairs as at most 25 Discord choices."""
    return [
        app_commands.Choice(name=clip(label, CHOICE_NAME_MAX) or value[:8], value=value)
        for value, label in pairs[:25]
    ]


PairsFetcher = Callable[[str], Awaitable[list[tuple[str, str]]]]
"""``fetch(user_id)``: a use case's (value, label) pairs for the member."""


async def own_choices(
    interaction: discord.Interaction[Any], fetch: PairsFetcher
) -> list[app_commands.Choice[str]]:
    """Autocomplete over the caller's own rows. A member the bot does not know yet has none; an
    answer that cannot come within 2.5 s is no choices rather than a list Discord would drop
    anyway."""
    try:
        async with asyncio.timeout(AUTOCOMPLETE_BUDGET_SECONDS):
            user_id = await caller_user_id(interaction)
            if user_id is None:
                return []
            pairs = await fetch(user_id)
    except TimeoutError:
        log.warning("autocomplete took too long for user=%s", interaction.user.id)
        return []
    return as_choices(pairs)


@answers_itself
async def character_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """The caller's own characters matching what they typed (25 at most, newest first)."""
    db = deps_of(interaction.client).db
    return await own_choices(
        interaction,
        lambda user_id: characters_service.character_choices(db, user_id, current[:100]),
    )
