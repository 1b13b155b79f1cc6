"""/account export and /account delete: a member's own data, to take away or to erase."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _

from bot.interactions.caller import caller
from bot.interactions.replies import interaction_language
from bot.interactions.routing import FeatureCog
from bot.interactions.tree import SELF_ACKNOWLEDGING
from bot.services.accounts import find_user_id
from cogs.account.delete import AccountDeleteModal
from cogs.account.export import send_export


class MemberData(FeatureCog):
    """Export or erase everything the bot holds about the member."""

    account = app_commands.Group(
        name=_("account"), description=_("Your data: take a copy, or delete it")
    )

    @account.command(name=_("export"), description=_("Get a copy of everything I hold about you"))
    async def export(self, interaction: discord.Interaction[Any]) -> None:
        """Get a copy of everything I hold about you."""
        member = await caller(interaction)
        await send_export(interaction, self.deps, member)

    @account.command(
        name=_("delete"),
        description=_("Delete your account and everything in it"),
        extras=SELF_ACKNOWLEDGING,
    )
    async def delete(self, interaction: discord.Interaction[Any]) -> None:
        """Delete your account and everything in it."""
        # no row is made for a member who never used the bot: the modal is the first answer
        user_id = await find_user_id(self.deps.db, interaction.user.id)
        lang = (await caller(interaction)).lang if user_id else interaction_language(interaction)
        await interaction.response.send_modal(
            AccountDeleteModal(self.deps.catalog, lang, discord_id=interaction.user.id)
        )
