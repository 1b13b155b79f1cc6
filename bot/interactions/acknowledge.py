"""Acknowledge an interaction at once, then wait for one of the admission's work slots."""

from __future__ import annotations

from typing import Any

import discord

from bot.interactions import admission
from bot.interactions.deps import deps_of


async def acknowledge(
    interaction: discord.Interaction[Any], *, directly: bool = False, **defer: Any
) -> None:
    """Acknowledge the interaction, then wait for a work slot.

    It is deferred first, unless ``directly`` (the caller answers through ``replies.respond``
    / ``update`` only) and a slot is free at once: then the answer itself
    is the acknowledgement, and a deferral follows only if the answer is not sent
    within DIRECT_ANSWER_SECONDS.
    """
    slots = deps_of(interaction.client).admission
    if directly and slots.free and not interaction.response.is_done():
        await slots.enter()  # free: no waiting
        slots.defer_later(interaction, defer, admission.DIRECT_ANSWER_SECONDS)
        return
    await admission.defer_now(interaction, defer)
    await slots.enter()
