"""After a generation made under the relaxed filter: the character has left the gallery (the
use case unpublished it), so its showcase posts go too."""

from __future__ import annotations

import logging
from typing import Any

import discord

from bot.services.generation import Outcome
from cogs.gallery.showcase import remove_showcase_posts

log = logging.getLogger(__name__)


async def withdraw_if_relaxed(interaction: discord.Interaction[Any], outcome: Outcome) -> None:
    """Remove the character's showcase posts when the outcome was made under relaxed; a
    failure is logged (the result is still the member's to see)."""
    if not outcome.relaxed:
        return
    try:
        await remove_showcase_posts(interaction.client, outcome.character.id)
    except Exception:  # noqa: BLE001 - never in the way of the result
        log.warning("could not withdraw the showcase posts of %s", outcome.character.id)
