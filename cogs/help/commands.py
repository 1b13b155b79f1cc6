"""/help: what the bot does and every command it has, as clickable command mentions, in the
member's language (the client shows a mention under the member's localised command name)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _

from bot.i18n import Catalog
from bot.interactions.caller import caller
from bot.interactions.command_ids import CommandIds
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureCog
from bot.ui.text import EMBED_FIELD_VALUE_MAX, fit_embed

GENERAL = ""
"""The section of the top-level commands that have no subcommands (/settings, /quota, …)."""
ORDER = (
    "character",
    "variant",
    "theme",
    "scene",
    "gallery",
    "collection",
    "profile",
    GENERAL,
    "account",
    "mod",
)
"""The order a newcomer meets the sections in; a section not listed comes last."""

TopLevel = app_commands.Command[Any, ..., Any] | app_commands.Group | app_commands.ContextMenu


def _description(catalog: Catalog, lang: str, command: app_commands.Command[Any, ..., Any]) -> str:
    english = command.description
    return catalog.command_text(lang, english) or english


def _section_title(catalog: Catalog, lang: str, group: app_commands.Group) -> str:
    return catalog.command_text(lang, group.description) or group.description


def _runnable(group: app_commands.Group) -> list[app_commands.Command[Any, ..., Any]]:
    """A group's subcommands, nested groups walked."""
    return [c for c in group.walk_commands() if isinstance(c, app_commands.Command)]


def _chunks(lines: Iterable[str], limit: int = EMBED_FIELD_VALUE_MAX) -> list[str]:
    """Lines joined into as few field values as fit, never cutting a line (or a mention)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if current and len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def help_embed(
    catalog: Catalog, lang: str, ids: CommandIds, commands: Sequence[TopLevel]
) -> discord.Embed:
    """Every slash command as ``</name:id> — description``, one section per command group."""
    t = catalog.t
    sections: dict[str, tuple[str, list[app_commands.Command[Any, ..., Any]]]] = {}
    general: list[app_commands.Command[Any, ..., Any]] = []
    for command in commands:
        if isinstance(command, app_commands.Group):
            sections[command.name] = (_section_title(catalog, lang, command), _runnable(command))
        elif isinstance(command, app_commands.Command):
            general.append(command)
    if general:
        sections[GENERAL] = (t(lang, "help.general"), general)

    def rank(key: str) -> int:
        return ORDER.index(key) if key in ORDER else len(ORDER)

    embed = discord.Embed(
        title=t(lang, "help.title"),
        description=t(lang, "help.intro", settings=ids.mention("settings")),
        colour=0x5865F2,
    )
    for key in sorted(sections, key=rank):
        title, members = sections[key]
        lines = (
            f"{ids.mention(c.qualified_name)} — {_description(catalog, lang, c)}" for c in members
        )
        for index, value in enumerate(_chunks(lines)):
            embed.add_field(name=title if index == 0 else "\u200b", value=value, inline=False)
    menus = [c for c in commands if isinstance(c, app_commands.ContextMenu)]
    if menus:
        names = ", ".join(f"**{catalog.command_text(lang, m.name) or m.name}**" for m in menus)
        embed.add_field(
            name=t(lang, "help.menus.title"), value=t(lang, "help.menus", menus=names), inline=False
        )
    return fit_embed(embed)


class Help(FeatureCog):
    """/help."""

    @app_commands.command(name=_("help"), description=_("What the bot does and its commands"))
    async def help_(self, interaction: discord.Interaction[Any]) -> None:
        """What the bot does and its commands."""
        member = await caller(interaction)
        ids = self.deps.command_ids
        await ids.ensure(self.client.tree, self.deps.settings.discord_dev_guild_id)
        embed = help_embed(self.deps.catalog, member.lang, ids, self.client.tree.get_commands())
        await respond(interaction, embed=embed, allowed_mentions=NO_MENTIONS)
