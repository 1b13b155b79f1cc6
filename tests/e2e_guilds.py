"""End-to-end helpers for tests with more than one guild: a second guild the bot joins while
running, and a member of one guild who is also a member of another (the same Discord user)."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e import Stack
from tests.fakes.discord import DEFAULT_MEMBER_PERMISSIONS, FakeGuild, FakeMember
from tests.fakes.discord.members import join_guild


async def add_guild(stack: Stack, name: str) -> tuple[FakeGuild, dict[str, Any]]:
    """A guild the bot is added to while it runs, with a "general" channel; returns once the
    bot knows the guild and its channel."""
    guild = stack.fake.add_guild(name)
    channel = stack.fake.add_text_channel(guild.id, "general")
    await wait_for_bot_channel(stack, guild.id, channel["id"])
    return guild, channel


async def add_channel(stack: Stack, guild_id: str, name: str) -> dict[str, Any]:
    """A text channel, once the bot has it in its cache (a command option may name it)."""
    channel = stack.fake.add_text_channel(guild_id, name)
    await wait_for_bot_channel(stack, guild_id, channel["id"])
    return channel


async def wait_for_bot_channel(stack: Stack, guild_id: str, channel_id: str) -> None:
    """Wait until the running bot has the guild and the channel in its cache."""
    assert stack.bot is not None

    def known() -> bool:
        guild = stack.bot.get_guild(int(guild_id)) if stack.bot else None
        return guild is not None and guild.get_channel(int(channel_id)) is not None

    async def poll() -> None:
        while not known():
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), 10)


def also_member(
    stack: Stack,
    guild: FakeGuild,
    member_or_user: FakeMember | dict[str, Any],
    *,
    permissions: int = DEFAULT_MEMBER_PERMISSIONS,
) -> FakeMember:
    """The same Discord user as a member of ``guild`` too."""
    user = member_or_user.user if isinstance(member_or_user, FakeMember) else member_or_user
    return join_guild(stack.fake, guild.id, user, permissions=permissions)
