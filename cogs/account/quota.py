"""/quota: what is left today."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.interactions.replies import NO_MENTIONS, respond
from bot.services.quota import status_of
from bot.ui.embeds import quota_embed

if TYPE_CHECKING:
    from bot.app import CharBot


class Account(commands.Cog):
    """Quota (and, later, profile and settings)."""

    def __init__(self, bot: CharBot) -> None:
        self.bot = bot

    @app_commands.command(
        name=_("quota"), description=_("How many generations you have left today")
    )
    async def quota(self, interaction: discord.Interaction[CharBot]) -> None:
        """How many generations you have left today."""
        caller = await self.bot.caller(interaction)
        status = status_of(caller.user)  # the row was read for this interaction a moment ago
        await respond(
            interaction,
            embed=quota_embed(self.bot.catalog, caller.lang, status),
            allowed_mentions=NO_MENTIONS,
        )
