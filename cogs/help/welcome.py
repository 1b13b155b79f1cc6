"""The welcome a server gets when the bot is added: whoever can set it up is told to start
with /mod setup, in the server's system channel, else by DM to the member who added the bot
(when the audit log says who). In the server's language; never pings; never raises."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.i18n import Catalog, choose_language
from bot.interactions.command_ids import CommandIds
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS
from bot.interactions.routing import FeatureCog
from bot.ui.text import clip

log = logging.getLogger(__name__)

INVITE_ENTRIES = 10
"""How many of the newest "bot added" audit log entries are searched for this bot's."""


def welcome_text(catalog: Catalog, lang: str, guild_name: str, ids: CommandIds) -> str:
    """The welcome, naming /mod setup, /character create and /help as mentions."""
    return catalog.t(
        lang,
        "welcome.guild",
        guild=discord.utils.escape_markdown(clip(guild_name, 100)),
        setup=ids.mention("mod setup"),
        create=ids.mention("character create"),
        help=ids.mention("help"),
    )


def _can_post(channel: discord.TextChannel, me: discord.Member) -> bool:
    permissions = channel.permissions_for(me)
    return permissions.view_channel and permissions.send_messages


async def inviter(
    client: discord.Client, guild: discord.Guild
) -> discord.User | discord.Member | None:
    """Who added the bot, as the audit log says; None without View Audit Log or an entry."""
    me = guild.me
    bot = client.user
    if me is None or bot is None or not me.guild_permissions.view_audit_log:
        return None
    async for entry in guild.audit_logs(
        action=discord.AuditLogAction.bot_add, limit=INVITE_ENTRIES
    ):
        target = entry.target
        if target is not None and target.id == bot.id:
            return entry.user
    return None


async def welcome(client: commands.Bot, guild: discord.Guild) -> str:
    """Post the welcome; where it went: ``"channel"``, ``"dm"`` or ``"nowhere"``."""
    deps = deps_of(client)
    await deps.command_ids.ensure(client.tree, deps.settings.discord_dev_guild_id)
    lang = choose_language(None, guild.preferred_locale)
    text = welcome_text(deps.catalog, lang, guild.name, deps.command_ids)
    channel = guild.system_channel
    if channel is not None and guild.me is not None and _can_post(channel, guild.me):
        try:
            await channel.send(text, allowed_mentions=NO_MENTIONS)
        except discord.HTTPException as exc:
            log.warning(
                "welcome: could not post in guild=%s channel=%s: %s", guild.id, channel.id, exc
            )
        else:
            return "channel"
    try:
        person = await inviter(client, guild)
    except discord.HTTPException as exc:
        log.info("welcome: could not read the audit log of guild=%s: %s", guild.id, exc)
        return "nowhere"
    if person is None:
        return "nowhere"
    try:
        await person.send(text, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as exc:
        log.info("welcome: could not DM user=%s of guild=%s: %s", person.id, guild.id, exc)
        return "nowhere"
    return "dm"


class Welcome(FeatureCog):
    """Greets a server the bot was just added to."""

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Tell whoever can set the bot up what to do first; a failure is only logged."""
        try:
            where = await welcome(self.client, guild)
        except Exception:
            log.exception("welcome: greeting guild=%s failed", guild.id)
            return
        log.info("joined guild=%s; welcome sent to: %s", guild.id, where)
