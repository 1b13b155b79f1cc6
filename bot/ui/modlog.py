"""The moderation log as moderators read it: /mod log's embed, and the one line a guild's log
channel gets for each action."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot.services.moderation import LogEntry
from bot.ui.embeds import relative
from bot.ui.text import clip, fit_embed

if TYPE_CHECKING:
    from bot.i18n import Catalog


def _action(catalog: Catalog, lang: str, entry: LogEntry) -> str:
    if entry.action == "unpublish" and entry.scope == "guild":
        return catalog.t(lang, "mod.action.hide")
    key = f"mod.action.{entry.action}"
    return catalog.t(lang, key) if catalog.has(key) else entry.action


def _target(catalog: Catalog, lang: str, entry: LogEntry) -> str:
    if entry.target_character_id is not None or entry.action == "unpublish":
        name = clip(entry.target_character_name or catalog.t(lang, "character.unnamed"), 60)
        return f"**{name}**"
    if entry.action == "set_status":
        who = (
            f"<@{entry.target_user_discord_id}>"
            if entry.target_user_discord_id
            else clip(entry.target_user_name or "?", 50)
        )
        to = str(entry.details.get("to", "active"))
        key = f"mod.status.{to}"
        return f"{who} → {catalog.t(lang, key) if catalog.has(key) else to}"
    return ""


def mod_log_line(catalog: Catalog, lang: str, entry: LogEntry) -> str:
    """One action: when, its scope, who, what, to whom, why."""
    scope = catalog.t(lang, f"mod.scope_tag.{entry.scope}")
    line = catalog.t(
        lang,
        "mod.log_line",
        when=relative(entry.created_at),
        moderator=f"<@{entry.moderator_discord_id}>",
        action=_action(catalog, lang, entry),
        target=_target(catalog, lang, entry),
        reason=clip(entry.reason, 200) or "—",
    )
    return f"{scope} {line}"


def mod_log_embed(
    catalog: Catalog, lang: str, entries: Sequence[LogEntry], *, platform: bool
) -> discord.Embed:
    """Recent moderator actions of the caller's scope (its title says which): this guild's,
    and with ``platform`` the whole platform's too."""
    t = catalog.t
    embed = discord.Embed(
        title=t(lang, "mod.log_title_platform" if platform else "mod.log_title_guild"),
        description="\n".join(mod_log_line(catalog, lang, e) for e in entries)
        or t(lang, "mod.log_empty"),
        colour=0xED4245,
    )
    return fit_embed(embed)
