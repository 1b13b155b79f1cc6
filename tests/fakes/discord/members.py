"""Test-side setup across guilds: a user who is a member of several guilds (the same Discord
user joins another guild), and a channel whose overwrite takes permissions from the bot."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .state import DEFAULT_MEMBER_PERMISSIONS, FakeMember

if TYPE_CHECKING:
    from .server import FakeDiscord


def join_guild(
    fake: FakeDiscord,
    guild_id: str,
    user: dict[str, Any],
    *,
    permissions: int = DEFAULT_MEMBER_PERMISSIONS,
    roles: Iterable[str] = (),
) -> FakeMember:
    """Make an existing user (a member elsewhere, or ``fake.owner_user``) a member of
    ``guild_id``; interactions report ``permissions`` OR the permissions of ``roles``."""
    guild = fake.guilds[guild_id]
    role_ids = [str(r) for r in roles]
    for rid in role_ids:
        permissions |= int(guild.roles[rid]["permissions"])
    member = FakeMember(guild_id, dict(user), role_ids, permissions, joined_at=fake.clock.iso())
    guild.members[member.id] = member
    return member


def bot_role_id(fake: FakeDiscord, guild_id: str) -> str:
    """The id of the bot's managed role in the guild."""
    guild = fake.guilds[guild_id]
    return next(
        rid
        for rid, role in guild.roles.items()
        if (role.get("tags") or {}).get("bot_id") == fake.bot_user["id"]
    )


async def deny_bot(fake: FakeDiscord, channel_id: str, permissions: int) -> None:
    """Deny the bot's role ``permissions`` in a channel (a role overwrite), and tell the bot
    (CHANNEL_UPDATE), as Discord does when a server admin edits the channel."""
    channel = fake.channels[channel_id]
    guild_id = channel["guild_id"]
    overwrites = list(channel.get("permission_overwrites") or [])
    overwrites.append(
        {"id": bot_role_id(fake, guild_id), "type": 0, "allow": "0", "deny": str(permissions)}
    )
    channel["permission_overwrites"] = overwrites
    await fake.dispatch(guild_id, "CHANNEL_UPDATE", dict(channel))
