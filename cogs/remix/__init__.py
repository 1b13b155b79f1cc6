"""Remix: the Remix button of gallery cards and showcase posts, its modal, and the flow that
makes the presser's own character from a public one (credited, its owner told)."""

from discord.ext import commands

from cogs.remix.remixing import RemixButton

__all__ = ["setup"]


async def setup(client: commands.Bot) -> None:
    """Register the persistent Remix button (the remix has no command of its own)."""
    client.add_dynamic_items(RemixButton)
