"""The conversation feature's cog: it listens to messages (the bot's only message listener)
and registers the conversation's persistent buttons (Cancel, the variant buttons, Apply)."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.interactions.routing import FeatureCog
from cogs.conversation.buttons import VariantButton
from cogs.conversation.cancel import CancelButton
from cogs.conversation.suggestions import ApplyButton
from cogs.conversation.talk import Refusals, on_message

log = logging.getLogger(__name__)


class Conversation(FeatureCog):
    """Messages in characters' conversations."""

    def __init__(self, client: commands.Bot) -> None:
        super().__init__(client)
        self.refusals = Refusals()

    @commands.Cog.listener("on_message")
    async def conversation_message(self, message: discord.Message) -> None:
        """A message the bot can see: handled when it is meant for a character; a failure is
        logged, never raised into the gateway's loop."""
        try:
            outcome = await on_message(self.client, message, self.refusals)
        except Exception:
            log.exception(
                "handling message %s in channel %s failed", message.id, message.channel.id
            )
            outcome = "error"
        self.deps.metrics.conversation_message(outcome)


async def setup(bot: commands.Bot) -> None:
    """Load the cog and the conversation's persistent buttons."""
    bot.add_dynamic_items(CancelButton, VariantButton, ApplyButton)
    await bot.add_cog(Conversation(bot))
