"""A member's own account: /quota, /profile show and edit (and "View profile" on a member),
/settings and its panel, and their data: /account export and /account delete."""

from __future__ import annotations

from discord.ext import commands

from cogs.account.data import MemberData
from cogs.account.profile import Profile, profile_menu
from cogs.account.quota import Account
from cogs.account.settings import SettingsSelect


async def setup(bot: commands.Bot) -> None:
    """Load the account cogs and the settings panel's selects."""
    bot.add_dynamic_items(SettingsSelect)
    await bot.add_cog(Account(bot))
    await bot.add_cog(Profile(bot))
    await bot.add_cog(MemberData(bot))
    bot.tree.add_command(profile_menu())
