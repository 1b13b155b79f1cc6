"""The command tree: the one place errors become replies, and where quick commands are
acknowledged at once."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import checked, command_open_to_blocked
from bot.interactions.replies import report_error

ACKNOWLEDGES_ITSELF = "acknowledges_itself"
SELF_ACKNOWLEDGING: dict[str, Any] = {ACKNOWLEDGES_ITSELF: True}
"""``extras`` of a command that answers with a modal (which must be the first response), or
that acknowledges by itself because it chooses between a public and a private reply."""


class CharTree(app_commands.CommandTree[discord.Client]):
    """Acknowledges every other command privately: with its answer when a work slot is free
    and the answer is ready within ``DIRECT_ANSWER_SECONDS``, else by deferring before the
    work, so a busy database never makes Discord wait. Refuses a member blocked in the guild
    (:func:`bot.interactions.caller.admitted`). Routes every error to a localised, ephemeral
    reply."""

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        command = interaction.command
        if (
            interaction.type is discord.InteractionType.application_command
            and command is not None
            and not command.extras.get(ACKNOWLEDGES_ITSELF)
            and not interaction.response.is_done()
        ):
            await acknowledge(interaction, directly=True, ephemeral=True, thinking=True)
        return await checked(interaction, open_to_blocked=command_open_to_blocked(command))

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await report_error(interaction, error)
