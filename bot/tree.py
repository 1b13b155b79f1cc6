"""The command tree: the one place errors become replies."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.replies import report_error

if TYPE_CHECKING:
    from bot.app import CharBot

    _Tree = app_commands.CommandTree[CharBot]
else:
    _Tree = app_commands.CommandTree


class CharTree(_Tree):
    """Routes every command error to a localised, ephemeral reply."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(self.client, interaction, error)
