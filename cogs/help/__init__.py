"""Getting started: /help, and the welcome a server gets when the bot is added to it."""

from __future__ import annotations

from discord.ext import commands

from cogs.help.commands import Help
from cogs.help.welcome import Welcome


async def setup(bot: commands.Bot) -> None:
    """Load /help and the welcome listener."""
    await bot.add_cog(Help(bot))
    await bot.add_cog(Welcome(bot))
