"""The command tree: the one place errors become replies, and where quick commands are
acknowledged at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from bot.admission import acknowledge
from bot.replies import report_error

if TYPE_CHECKING:
    from bot.app import CharBot

    _Tree = app_commands.CommandTree[CharBot]
else:
    _Tree = app_commands.CommandTree

# Commands that answer with a modal (which must be the first response), or that acknowledge
# by themselves because they choose between a public and a private reply.
SELF_ACKNOWLEDGING = frozenset(
    {
        "character create",
        "character regenerate",
        "character import",
        "character edit",
        "variant create",
        "profile edit",
    }
)


class CharTree(_Tree):
    """Acknowledges every other command privately: with its answer when a work slot is free
    and the answer is ready within ``DIRECT_ANSWER_SECONDS``, else by deferring before the
    work, so a busy database never makes Discord wait. Routes every error to a localised,
    ephemeral reply."""

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        command = interaction.command
        if (
            interaction.type is discord.InteractionType.application_command
            and command is not None
            and command.qualified_name not in SELF_ACKNOWLEDGING
            and not interaction.response.is_done()
        ):
            await acknowledge(interaction, directly=True, ephemeral=True, thinking=True)
        return True

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(self.client, interaction, error)
