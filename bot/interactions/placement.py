"""Where an interaction's results go, and what its channel allows.

A server the bot is in: the result is the interaction's response in the channel, and a
character's conversation opens as a thread on it. A DM with the bot: the DM itself, no thread.
Anywhere the bot is not a member (a user-installed app used in another server, or a private
channel): the interaction's own messages (its response and followups) only — no thread, no
post with the bot's token, nothing that needs a channel object.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

import discord

from bot.ui.text import THREAD_NAME_MAX, clip

log = logging.getLogger(__name__)


class Placement(enum.Enum):
    """Where results go."""

    THREAD = "thread"
    """A server channel the bot is in: the response, then a thread on it."""
    CHANNEL = "channel"
    """A DM with the bot: the response in the DM, no thread."""
    FOLLOWUPS = "followups"
    """The bot is not a member: the interaction's own messages only."""


def placement(interaction: discord.Interaction[Any]) -> Placement:
    """Where this interaction's results go."""
    if interaction.guild_id is None:
        if is_bot_dm(interaction):
            return Placement.CHANNEL
        return Placement.FOLLOWUPS
    client: discord.Client = interaction.client
    if client.get_guild(interaction.guild_id) is None:  # not a member (guilds are cached)
        return Placement.FOLLOWUPS
    return Placement.THREAD


def bot_is_member(interaction: discord.Interaction[Any]) -> bool:
    """Whether the bot can reach the interaction's channel with its own token."""
    return placement(interaction) is not Placement.FOLLOWUPS


def is_bot_dm(interaction: discord.Interaction[Any]) -> bool:
    """Whether the interaction comes from a DM with the bot."""
    if interaction.guild_id is not None:
        return False
    context = interaction.context
    if context.dm_channel or context.private_channel:
        return context.dm_channel
    return isinstance(interaction.channel, discord.DMChannel)  # a payload without its context


def age_restricted(interaction: discord.Interaction[Any]) -> bool:
    """Whether the channel allows the relaxed content filter: marked age-restricted, or a DM
    with the bot. Unknown channels (no channel object) count as not age-restricted."""
    if interaction.guild_id is None:
        return is_bot_dm(interaction)
    return channel_is_nsfw(interaction.channel)


def channel_is_nsfw(channel: object) -> bool:
    """Whether a channel (a thread: its parent) is marked age-restricted; False when unknown."""
    check = getattr(channel, "is_nsfw", None)
    if callable(check):
        try:
            return bool(check())
        except AttributeError:  # a thread whose parent is not known
            return False
    return False


async def open_thread(
    interaction: discord.Interaction[Any], message: discord.Message, name: str
) -> discord.Thread | None:
    """Start a conversation's thread on the message that shows its result: only in a server
    channel the bot is in (in a DM the DM is the conversation; where the bot is not a member,
    nothing is opened). None when there is none (a failure is logged, never raised)."""
    if message.guild is None or placement(interaction) is not Placement.THREAD:
        return None
    try:
        return await message.create_thread(name=clip(name, THREAD_NAME_MAX) or "…")
    except discord.HTTPException:
        log.warning("could not open a thread on message %s", message.id, exc_info=True)
        return None
