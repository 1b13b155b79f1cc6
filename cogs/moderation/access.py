"""Who may moderate here, and in which scope: a guild's moderators (Manage Messages, or the
guild's moderator role) act in their guild; platform moderators (the application's owner or
team, and PLATFORM_MODERATOR_IDS) act in every guild and may also choose the platform scope."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _

from bot.interactions.caller import Caller, caller
from bot.interactions.deps import deps_of
from bot.services import guild_settings
from bot.services import moderation as moderation_service
from bot.services.moderation import Moderator

SCOPE_CHOICES = [
    app_commands.Choice(name=_("This server"), value="guild"),
    app_commands.Choice(name=_("The whole platform"), value="platform"),
]


def role_ids(member: discord.abc.User) -> list[int]:
    """The member's role ids, straight from the interaction (no role cache needed)."""
    if isinstance(member, discord.Member):
        return [int(r) for r in member._roles]
    return []


def moderator(interaction: discord.Interaction[Any], member: Caller) -> Moderator:
    """The member running a /mod command, in the guild they run it in."""
    return Moderator(interaction.guild_id, interaction.user.id, member.user.id)


def is_platform_moderator(interaction: discord.Interaction[Any]) -> bool:
    """Whether the member moderates the whole platform."""
    return interaction.user.id in deps_of(interaction.client).platform_moderators


def scope_of(choice: app_commands.Choice[str] | None) -> str:
    """The scope asked for (``guild`` unless the member chose otherwise)."""
    return choice.value if choice is not None else "guild"


async def require_moderator(interaction: discord.Interaction[Any]) -> Caller:
    """The member, when they moderate this guild (or the platform); else NotModeratorError."""
    member = await caller(interaction)
    if is_platform_moderator(interaction):
        return member
    role_id: int | None = None
    if interaction.guild_id is not None:
        role_id = await guild_settings.moderator_role(
            deps_of(interaction.client).db, interaction.guild_id
        )
    if not moderation_service.is_moderator(
        manage_messages=interaction.permissions.manage_messages,
        role_ids=role_ids(interaction.user),
        moderator_role_id=role_id,
    ):
        raise moderation_service.NotModeratorError()
    return member
