"""Autocomplete callbacks that send their own answer.

discord.py sends the choices an autocomplete callback returns, and when Discord no longer takes
them (the member typed on, or the answer came after its 3 s: 404 Unknown interaction) it logs
"Ignoring exception in autocomplete" as an error with a traceback, though nothing can be done
and no member sees anything. A callback wrapped here answers itself, so an answer Discord
refused is one debug line; discord.py then sends nothing more (the response is done)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import discord
from discord import app_commands

log = logging.getLogger(__name__)

UNKNOWN_INTERACTION = 10062
ALREADY_ACKNOWLEDGED = 40060

T = TypeVar("T", str, int, float)
Callback = Callable[
    [discord.Interaction[Any], str], Coroutine[Any, Any, list[app_commands.Choice[T]]]
]


def answers_itself(callback: Callback[T]) -> Callback[T]:
    """``callback``, sending its choices itself: a late answer is dropped quietly."""

    @functools.wraps(callback)
    async def answer(
        interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[T]]:
        choices = await callback(interaction, current)
        if interaction.response.is_done():  # answered already (no choices for the blocked)
            return choices
        try:
            await interaction.response.autocomplete(choices)
        except discord.HTTPException as error:
            if error.code not in (UNKNOWN_INTERACTION, ALREADY_ACKNOWLEDGED):
                raise
            log.debug(
                "autocomplete answer for interaction %s came too late (%s)",
                interaction.id,
                error.code,
            )
        return choices

    return answer
