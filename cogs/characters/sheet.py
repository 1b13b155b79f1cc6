"""``/character sheet``: the character's turnaround (front, side, back, four expressions)
drawn from its portrait as one image, one quota unit, kept in the theme "Character sheet" and
posted in the character's thread like a variant. Later edits send it as a reference."""

from __future__ import annotations

from typing import Any

import discord

from bot.interactions.deps import deps_of
from bot.services import characters
from cogs.characters.variant import variant_flow
from db.meta import Meta


async def sheet_flow(interaction: discord.Interaction[Any], character_id: str) -> None:
    """Draw the sheet (progress, Cancel and refund as for a variant) and post it."""
    row = await characters.find_character(deps_of(interaction.client).db, character_id)
    await variant_flow(
        interaction,
        character_id=row.id,
        instruction="",
        theme=None,
        thread_id=Meta(row.meta).conversation_id,
        sheet=True,
    )
