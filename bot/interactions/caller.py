"""Who is behind an interaction: their user row (made on first use) and reply language, read
once per interaction; and, for autocomplete, their user id without making a row.

It is also where a member blocked in a guild (by that guild's moderators) is stopped:
:func:`admitted` runs before every slash command, context menu, autocomplete, button, select and
modal, and the block is an EXISTS folded into the one query that reads the member anyway.
Open to blocked members: ``/account`` (their own data) and ``/help``; everything else the bot
does in that guild is refused privately (autocomplete answers no choices). Direct messages and
other guilds are unaffected."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import discord
from discord import app_commands

from bot.errors import BlockedHereError
from bot.i18n import choose_language
from bot.interactions.deps import deps_of
from bot.interactions.replies import report_error
from bot.services.accounts import NewMember, find_member_here, find_user_id, resolve_member
from db.models import User

log = logging.getLogger(__name__)

_CALLER = "caller"
AUTOCOMPLETE_CHECK_SECONDS = 2.0
"""Autocomplete must answer within 3 s and cannot be deferred: a check that takes longer
answers no choices (failing closed)."""
OPEN_TO_BLOCKED: frozenset[str] = frozenset({"account", "help"})
"""Top-level commands a member blocked in a guild may still use there."""


@dataclass(frozen=True)
class Caller:
    """The member behind an interaction: their user row, reply language, and whether a notice
    waited for them when the row was read (so a command without one needs no second query)."""

    user: User
    lang: str
    has_notices: bool
    blocked: bool = False
    """Whether this guild's moderators blocked the member here (False outside a guild)."""


def cached_caller(interaction: discord.Interaction[Any]) -> Caller | None:
    """The member already read for this interaction, if any (no query)."""
    cached = interaction.extras.get(_CALLER)
    return cached if isinstance(cached, Caller) else None


async def caller(interaction: discord.Interaction[Any]) -> Caller:
    """The member's user row (created on first use) and reply language, once per interaction."""
    cached = cached_caller(interaction)
    if cached is not None:
        return cached
    deps = deps_of(interaction.client)
    member = interaction.user
    user, waiting, blocked = await resolve_member(
        deps.db,
        NewMember(
            discord_id=member.id,
            username_hint=member.name,
            display_name=member.display_name,
            avatar_url=member.display_avatar.url if member.avatar else None,
            daily_quota=deps.settings.quota_for_tier("FREE"),
            language=choose_language(None, interaction.locale),
        ),
        interaction.guild_id,
        deps.members,
    )
    found = Caller(
        user=user,
        lang=choose_language(user.preferred_language, interaction.locale),
        has_notices=waiting,
        blocked=blocked,
    )
    deps.users.remember(member.id, user.id)
    interaction.extras[_CALLER] = found
    interaction.extras["lang"] = found.lang
    return found


async def caller_user_id(interaction: discord.Interaction[Any]) -> str | None:
    """The member's user id without creating a row (autocomplete must stay read-only); known
    ids come from the process's cache, so a keystroke costs one query, not two."""
    deps = deps_of(interaction.client)
    known = deps.members.user_id(interaction.user.id) or deps.users.get(interaction.user.id)
    if known is not None:
        return known
    user_id = await find_user_id(deps.db, interaction.user.id)
    if user_id is not None:
        deps.users.remember(interaction.user.id, user_id)
    return user_id


def command_open_to_blocked(command: object) -> bool:
    """Whether a command is one a blocked member may still use (``/account …``, ``/help``)."""
    if isinstance(command, app_commands.Command):
        root = command.root_parent
        return (root.name if root is not None else command.name) in OPEN_TO_BLOCKED
    if isinstance(command, app_commands.Group):
        return (command.root_parent or command).name in OPEN_TO_BLOCKED
    return False


async def admitted(interaction: discord.Interaction[Any], *, open_to_blocked: bool) -> bool:
    """Whether the member may use the bot here. In a guild whose moderators blocked them (and
    for anything but what is ``open_to_blocked``), they are told so privately, autocomplete
    answers no choices, and the interaction goes no further. Costs no extra query for a
    command: the member row it reads is the one the handler would read (cached)."""
    guild_id = interaction.guild_id
    if guild_id is None or open_to_blocked:
        return True
    if interaction.type is discord.InteractionType.autocomplete:
        deps = deps_of(interaction.client)
        async with asyncio.timeout(AUTOCOMPLETE_CHECK_SECONDS):
            user_id, blocked = await find_member_here(
                deps.db, interaction.user.id, guild_id, deps.members
            )
        if user_id is not None:
            deps.users.remember(interaction.user.id, user_id)
        if blocked and not interaction.response.is_done():
            await interaction.response.autocomplete([])
        return not blocked
    member = await caller(interaction)
    if member.blocked:
        await report_error(interaction, BlockedHereError())
        return False
    return True


async def checked(interaction: discord.Interaction[Any], *, open_to_blocked: bool) -> bool:
    """:func:`admitted`, with any failure of the check itself answered like any other error
    (discord.py would drop it silently)."""
    try:
        return await admitted(interaction, open_to_blocked=open_to_blocked)
    except Exception as exc:  # noqa: BLE001 - every error becomes a reply here, and is logged
        if interaction.type is discord.InteractionType.autocomplete:
            log.warning("could not check user=%s for autocomplete; no choices", interaction.user.id)
            with contextlib.suppress(discord.HTTPException):
                await interaction.response.autocomplete([])
            return False
        await report_error(interaction, exc)
        return False
