"""/quota: what is left today."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _

from bot.interactions.caller import caller
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureCog
from bot.services.quota import status_of
from bot.ui.embeds import quota_embed


class Account(FeatureCog):
    """Quota (profile and settings are the Profile cog's)."""

    @app_commands.command(
        name=_("quota"), description=_("How many generations you have left today")
    )
    async def quota(self, interaction: discord.Interaction[Any]) -> None:
        """How many generations you have left today."""
        member = await caller(interaction)
        status = status_of(member.user)  # the row was read for this interaction a moment ago
        await respond(
            interaction,
            embed=quota_embed(self.deps.catalog, member.lang, status),
            allowed_mentions=NO_MENTIONS,
        )
