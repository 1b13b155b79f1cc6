"""Telling people about a moderator action: the character's owner (a DM, else a notice with
their next reply) and the guild's log channel (best effort: a post that fails never fails the
action, and it pings no one)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import discord

from bot.i18n import choose_language
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS
from bot.services import guild_settings, notices
from bot.services import moderation as moderation_service
from bot.services.moderation import LogEntry
from bot.ui.modlog import mod_log_line
from bot.ui.text import CONTENT_MAX, clip
from db.models import User

log = logging.getLogger(__name__)


async def notify_owner(
    interaction: discord.Interaction[Any], owner: User, key: str, name: str, reason: str
) -> bool:
    """DM the owner the notice ``key``; when that fails, keep it for their next reply. True if
    DM'd."""
    client: discord.Client = interaction.client
    deps = deps_of(client)
    guild = interaction.guild.name if interaction.guild else ""
    params = {"name": name, "guild": clip(guild, 100), "reason": clip(reason, 500)}
    discord_id = moderation_service.discord_id_of(owner)
    if discord_id is not None:
        lang = choose_language(owner.preferred_language, None)
        text = deps.catalog.t(lang, key, **params)
        try:
            channel = await client.create_dm(discord.Object(id=discord_id))
            await channel.send(clip(text, CONTENT_MAX), allowed_mentions=NO_MENTIONS)
        except discord.HTTPException:
            log.info("could not DM user=%s; keeping a notice", discord_id)
        else:
            return True
    await notices.keep_notice(deps.db, owner.id, key, params)
    return False


def action_entry(
    interaction: discord.Interaction[Any],
    action: str,
    scope: str,
    reason: str,
    *,
    character: tuple[str, str | None] | None = None,
    member: discord.abc.User | None = None,
    status: str | None = None,
) -> LogEntry:
    """The action just taken, as the log shows it (for the log channel's post)."""
    return LogEntry(
        action=action,
        moderator_discord_id=interaction.user.id,
        moderator_name=None,
        target_user_name=member.display_name if member else None,
        target_user_discord_id=member.id if member else None,
        target_character_name=character[1] if character else None,
        target_character_id=character[0] if character else None,
        reason=clip(reason.strip(), 500),
        details={"to": status} if status else {},
        created_at=datetime.now(UTC),
        scope=scope,
    )


async def post_to_log_channel(interaction: discord.Interaction[Any], entry: LogEntry) -> None:
    """Post the action to the guild's log channel, when it has one (in the guild's language).
    Never raises: the action is done whatever happens here."""
    guild_id = interaction.guild_id
    if guild_id is None:
        return
    client: discord.Client = interaction.client
    deps = deps_of(client)
    try:
        channel_id = await guild_settings.log_channel(deps.db, guild_id)
        if channel_id is None:
            return
        lang = choose_language(None, interaction.guild_locale)
        text = clip(mod_log_line(deps.catalog, lang, entry), CONTENT_MAX)
        channel = client.get_partial_messageable(channel_id, guild_id=guild_id)
        await channel.send(text, allowed_mentions=NO_MENTIONS)
    except Exception:  # noqa: BLE001 - best effort: the action itself already happened
        log.warning("could not post a moderator action to the log channel of guild=%s", guild_id)
