"""/mod setup, /mod unpublish, /mod user, /mod log; and notices for members a DM missed.

Moderators are members with Manage Messages or the guild's moderator role; /mod setup needs
Manage Server, because it decides who moderates. Every other member gets an ephemeral refusal.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.i18n import choose_language
from bot.interactions.acknowledge import acknowledge
from bot.interactions.replies import NO_MENTIONS, respond
from bot.services import moderation as moderation_service
from bot.services import notices as notices_service
from bot.services.accounts import get_member_with_notices, get_or_create_user
from bot.ui.community import mod_log_embed
from bot.ui.text import clip
from cogs.common import as_choices
from cogs.gallery.showcase import remove_showcase_posts
from db.bot_models import GuildSettings
from db.models import User

if TYPE_CHECKING:
    from bot.app import CharBot

log = logging.getLogger(__name__)

STATUS_CHOICES = [
    app_commands.Choice(name=_("Active"), value="active"),
    app_commands.Choice(name=_("Suspended"), value="suspended"),
    app_commands.Choice(name=_("Banned"), value="banned"),
]


def _role_ids(member: discord.abc.User) -> list[int]:
    """The member's role ids, straight from the interaction (no role cache needed)."""
    if isinstance(member, discord.Member):
        return [int(r) for r in member._roles]
    return []


async def public_character_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """Public characters by name (or id), newest first; values are character ids."""
    bot: CharBot = interaction.client
    async with bot.reads() as session:
        pairs = await moderation_service.autocomplete_public_characters(session, current[:100])
    return as_choices(pairs)


async def deliver_notices(bot: CharBot, interaction: discord.Interaction[Any]) -> None:
    """Show the member their undelivered notices as an ephemeral followup (after the reply).

    Called for every completed slash command (see :meth:`Moderation.on_app_command_completion`);
    a component or modal handler may call it too, after it has answered.
    """
    cached = interaction.extras.get("caller")
    if cached is not None:  # the member's row and notice flag, read when the command began
        user, waiting = cached.user, cached.has_notices
    else:
        async with bot.reads() as session:
            found = await get_member_with_notices(session, interaction.user.id)
        if found is None:
            return
        user, waiting = found
    if not waiting:
        return
    async with bot.sessions.begin() as session:
        notices = await notices_service.take_notices(session, user.id)
    if not notices:
        return
    lang = choose_language(user.preferred_language, interaction.locale)
    text = "\n\n".join(bot.catalog.t(lang, n.key, **(n.params or {})) for n in notices)
    try:
        await respond(interaction, text)
    except discord.HTTPException:
        log.warning("could not show notices to user=%s; keeping them", interaction.user.id)
        async with bot.sessions.begin() as session:
            await notices_service.restore_notices(session, [n.id for n in notices])


class Moderation(commands.Cog):
    """Moderator commands."""

    mod = app_commands.Group(name=_("mod"), description=_("Moderate the gallery"), guild_only=True)

    def __init__(self, bot: CharBot) -> None:
        self.bot = bot

    # -- checks -----------------------------------------------------------------------------

    async def _require_moderator(self, interaction: discord.Interaction[CharBot]) -> None:
        """Raises NotModeratorError unless the member moderates this guild."""
        await self.bot.caller(interaction)
        role_id: int | None = None
        if interaction.guild_id is not None:
            async with self.bot.reads() as session:
                settings = await moderation_service.get_guild_settings(
                    session, interaction.guild_id
                )
            role_id = settings.moderator_role_id if settings else None
        if not moderation_service.is_moderator(
            manage_messages=interaction.permissions.manage_messages,
            role_ids=_role_ids(interaction.user),
            moderator_role_id=role_id,
        ):
            raise moderation_service.NotModeratorError()

    # -- commands ---------------------------------------------------------------------------

    @mod.command(name=_("setup"), description=_("Set the showcase channel and moderator role"))
    @app_commands.describe(
        showcase_channel=_("Where published characters are posted"),
        moderator_role=_("Members with this role may moderate"),
    )
    async def setup_(
        self,
        interaction: discord.Interaction[CharBot],
        showcase_channel: discord.TextChannel | None = None,
        moderator_role: discord.Role | None = None,
    ) -> None:
        """Set the showcase channel and moderator role (needs Manage Server)."""
        caller = await self.bot.caller(interaction)
        if not moderation_service.can_configure(manage_guild=interaction.permissions.manage_guild):
            raise moderation_service.SetupRefusedError()
        guild_id = interaction.guild_id or 0
        changes: dict[str, Any] = {}
        if showcase_channel is not None:
            changes["showcase_channel_id"] = showcase_channel.id
        if moderator_role is not None:
            changes["moderator_role_id"] = moderator_role.id
        settings: GuildSettings | None
        async with self.bot.sessions.begin() as session:
            if changes:
                settings = await moderation_service.configure_guild(
                    session,
                    guild_id,
                    moderator_discord_id=interaction.user.id,
                    moderator_user_id=caller.user.id,
                    **changes,
                )
            else:
                settings = await moderation_service.get_guild_settings(session, guild_id)
        t = self.bot.catalog.t
        none = t(caller.lang, "mod.not_set")
        channel = (
            f"<#{settings.showcase_channel_id}>"
            if settings and settings.showcase_channel_id
            else none
        )
        role = (
            f"<@&{settings.moderator_role_id}>" if settings and settings.moderator_role_id else none
        )
        key = "mod.setup_done" if changes else "mod.setup_current"
        await respond(interaction, t(caller.lang, key, channel=channel, role=role))

    @mod.command(name=_("unpublish"), description=_("Remove a character from the gallery"))
    @app_commands.describe(character=_("The character"), reason=_("Why (the owner is told)"))
    @app_commands.autocomplete(character=public_character_autocomplete)
    async def unpublish(
        self,
        interaction: discord.Interaction[CharBot],
        character: str,
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        """Remove a character from the gallery; the owner is told why."""
        await self._require_moderator(interaction)
        caller = await self.bot.caller(interaction)
        await acknowledge(interaction, ephemeral=True, thinking=True)
        async with self.bot.sessions.begin() as session:
            result = await moderation_service.unpublish_character(
                session,
                character.strip(),
                guild_id=interaction.guild_id,
                moderator_discord_id=interaction.user.id,
                moderator_user_id=caller.user.id,
                reason=reason,
            )
        await remove_showcase_posts(self.bot, result.character.id)
        name = clip(
            result.character.name or self.bot.catalog.t(caller.lang, "character.unnamed"), 100
        )
        dm_sent = await self._notify_owner(interaction, result.owner, name, reason)
        key = "mod.unpublished_dm" if dm_sent else "mod.unpublished_notice"
        await interaction.followup.send(
            self.bot.catalog.t(caller.lang, key, name=name),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    async def _notify_owner(
        self, interaction: discord.Interaction[CharBot], owner: User, name: str, reason: str
    ) -> bool:
        """DM the owner; when that fails, keep a notice for their next reply. True if DM'd."""
        guild = interaction.guild.name if interaction.guild else ""
        params = {"name": name, "guild": clip(guild, 100), "reason": clip(reason, 500)}
        discord_id = moderation_service.discord_id_of(owner)
        if discord_id is not None:
            lang = choose_language(owner.preferred_language, None)
            text = self.bot.catalog.t(lang, moderation_service.UNPUBLISHED_NOTICE, **params)
            try:
                channel = await self.bot.create_dm(discord.Object(id=discord_id))
                await channel.send(clip(text, 2000), allowed_mentions=NO_MENTIONS)
            except discord.HTTPException:
                log.info("could not DM user=%s; keeping a notice", discord_id)
            else:
                return True
        async with self.bot.sessions.begin() as session:
            await notices_service.queue_notice(
                session, owner.id, moderation_service.UNPUBLISHED_NOTICE, params
            )
        return False

    @mod.command(name=_("user"), description=_("Set a member's account status"))
    @app_commands.describe(
        member=_("The member"), status=_("The new status"), reason=_("Why (kept in the log)")
    )
    @app_commands.choices(status=STATUS_CHOICES)
    async def user(
        self,
        interaction: discord.Interaction[CharBot],
        member: discord.User,
        status: app_commands.Choice[str],
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        """Set a member's account status (suspended and banned members can't generate)."""
        await self._require_moderator(interaction)
        caller = await self.bot.caller(interaction)
        t = self.bot.catalog.t
        if member.bot:
            await respond(interaction, t(caller.lang, "mod.not_a_bot"))
            return
        async with self.bot.sessions.begin() as session:
            target = await get_or_create_user(
                session,
                member.id,
                username_hint=member.name,
                display_name=member.display_name,
                daily_quota=self.bot.settings.quota_for_tier("FREE"),
            )
            change = await moderation_service.set_user_status(
                session,
                target.id,
                status.value,
                guild_id=interaction.guild_id,
                moderator_discord_id=interaction.user.id,
                moderator_user_id=caller.user.id,
                reason=reason,
            )
        for character_id in change.character_ids_to_unshow:
            await remove_showcase_posts(self.bot, character_id)
        await respond(
            interaction,
            t(
                caller.lang,
                "mod.status_set",
                member=f"<@{member.id}>",
                status=t(caller.lang, f"mod.status.{status.value}"),
            ),
        )

    @mod.command(name=_("log"), description=_("Recent moderator actions"))
    async def log_(self, interaction: discord.Interaction[CharBot]) -> None:
        """Recent moderator actions: who, what, why, when."""
        await self._require_moderator(interaction)
        caller = await self.bot.caller(interaction)
        async with self.bot.reads() as session:
            entries = await moderation_service.recent_actions(session, interaction.guild_id or 0)
        await respond(
            interaction,
            embed=mod_log_embed(self.bot.catalog, caller.lang, entries),
            allowed_mentions=NO_MENTIONS,
        )

    # -- notices ----------------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_app_command_completion(
        self, interaction: discord.Interaction[Any], command: Any
    ) -> None:
        """After any slash command's reply, show the member notices a DM could not deliver."""
        try:
            await deliver_notices(self.bot, interaction)
        except Exception:
            log.exception("delivering notices failed for user=%s", interaction.user.id)


async def setup(bot: CharBot) -> None:
    """Load the cog."""
    await bot.add_cog(Moderation(bot))
