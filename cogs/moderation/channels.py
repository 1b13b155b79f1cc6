"""/mod setup's check that the bot can post in the channels it is given: View Channel, Send
Messages, Embed Links and Attach Files in both the showcase channel (cards carry their picture,
attached when the images are not reachable by URL) and the log channel (reports carry the
reported character's card), the same set ``charbot doctor`` checks.

The bot's permissions in the channel come from the interaction itself when it is the channel
the command was run in (``app_permissions``), else from the guild's cached roles and the
channel's overwrites for the bot's member (exact for the bot, kept current by the gateway),
else from the resolved channel in the interaction's data."""

from __future__ import annotations

from typing import Any

import discord

SHOWCASE_NEEDS = ("view_channel", "send_messages", "embed_links", "attach_files")
LOG_NEEDS = SHOWCASE_NEEDS


def _resolved(interaction: discord.Interaction[Any], channel_id: int) -> discord.Permissions:
    data: Any = interaction.data or {}
    channels = (data.get("resolved") or {}).get("channels") or {}
    raw = (channels.get(str(channel_id)) or {}).get("permissions")
    return discord.Permissions(int(raw)) if raw is not None else discord.Permissions.none()


def bot_permissions_in(
    interaction: discord.Interaction[Any], channel: discord.abc.GuildChannel
) -> discord.Permissions:
    """What the bot may do in ``channel``."""
    if channel.id == interaction.channel_id:
        return interaction.app_permissions
    guild = interaction.guild
    me = guild.me if guild is not None else None
    if me is not None:
        return channel.permissions_for(me)
    return _resolved(interaction, channel.id)


def missing_permissions(
    interaction: discord.Interaction[Any], channel: discord.abc.GuildChannel, needs: tuple[str, ...]
) -> list[str]:
    """The permissions of ``needs`` the bot lacks in ``channel`` (names as in
    :class:`discord.Permissions`), in the order given."""
    have = bot_permissions_in(interaction, channel)
    return [name for name in needs if not getattr(have, name)]
