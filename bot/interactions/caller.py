"""Who is behind an interaction: their user row (made on first use) and reply language, read
once per interaction; and, for autocomplete, their user id without making a row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import discord

from bot.i18n import choose_language
from bot.interactions.deps import deps_of
from bot.services.accounts import NewMember, find_user_id, resolve_member
from db.models import User

_CALLER = "caller"


@dataclass(frozen=True)
class Caller:
    """The member behind an interaction: their user row, reply language, and whether a notice
    waited for them when the row was read (so a command without one needs no second query)."""

    user: User
    lang: str
    has_notices: bool


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
    user, waiting = await resolve_member(
        deps.db,
        NewMember(
            discord_id=member.id,
            username_hint=member.name,
            display_name=member.display_name,
            avatar_url=member.display_avatar.url if member.avatar else None,
            daily_quota=deps.settings.quota_for_tier("FREE"),
            language=choose_language(None, interaction.locale),
        ),
    )
    found = Caller(
        user=user,
        lang=choose_language(user.preferred_language, interaction.locale),
        has_notices=waiting,
    )
    deps.users.remember(member.id, user.id)
    interaction.extras[_CALLER] = found
    interaction.extras["lang"] = found.lang
    return found


async def caller_user_id(interaction: discord.Interaction[Any]) -> str | None:
    """The member's user id without creating a row (autocomplete must stay read-only); known
    ids come from the process's cache, so a keystroke costs one query, not two."""
    deps = deps_of(interaction.client)
    known = deps.users.get(interaction.user.id)
    if known is not None:
        return known
    user_id = await find_user_id(deps.db, interaction.user.id)
    if user_id is not None:
        deps.users.remember(interaction.user.id, user_id)
    return user_id
