"""/mod setup, /mod unpublish, /mod user, /mod log; and notices for members a DM missed.

Moderators are members with Manage Messages or the guild's moderator role; /mod setup needs
Manage Server, because it decides who moderates. Every other member gets an ephemeral refusal.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.i18n import choose_language
from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import Caller, caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureCog
from bot.services import guild_settings, modlog, notices
from bot.services import moderation as moderation_service
from bot.services.accounts import NewMember
from bot.services.moderation import Moderator
from bot.ui.community import mod_log_embed
from bot.ui.text import clip
from cogs.common import as_choices
from cogs.gallery.showcase import remove_showcase_posts
from db.models import User

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


def _moderator(interaction: discord.Interaction[Any], member: Caller) -> Moderator:
    """The member running a /mod command, in the guild they run it in."""
    return Moderator(interaction.guild_id, interaction.user.id, member.user.id)


async def public_character_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """Public characters by name (or id), newest first; values are character ids."""
    db = deps_of(interaction.client).db
    return as_choices(await moderation_service.public_character_choices(db, current[:100]))


class Moderation(FeatureCog):
    """Moderator commands."""

    mod = app_commands.Group(
        name=_("mod"),
        description=_("Moderate the gallery"),
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=False, private_channel=False
        ),
        allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
    )

    # -- checks -----------------------------------------------------------------------------

    async def _require_moderator(self, interaction: discord.Interaction[Any]) -> Caller:
        """The member, when they moderate this guild; else NotModeratorError."""
        member = await caller(interaction)
        role_id: int | None = None
        if interaction.guild_id is not None:
            role_id = await guild_settings.moderator_role(self.deps.db, interaction.guild_id)
        if not moderation_service.is_moderator(
            manage_messages=interaction.permissions.manage_messages,
            role_ids=_role_ids(interaction.user),
            moderator_role_id=role_id,
        ):
            raise moderation_service.NotModeratorError()
        return member

    # -- commands ---------------------------------------------------------------------------

    @mod.command(name=_("setup"), description=_("Set the showcase channel and moderator role"))
    @app_commands.describe(
        showcase_channel=_("Where published characters are posted"),
        moderator_role=_("Members with this role may moderate"),
    )
    async def setup_(
        self,
        interaction: discord.Interaction[Any],
        showcase_channel: discord.TextChannel | None = None,
        moderator_role: discord.Role | None = None,
    ) -> None:
        """Set the showcase channel and moderator role (needs Manage Server)."""
        member = await caller(interaction)
        if not moderation_service.can_configure(manage_guild=interaction.permissions.manage_guild):
            raise moderation_service.SetupRefusedError()
        settings = await guild_settings.setup_guild(
            self.deps.db,
            _moderator(interaction, member),
            showcase_channel_id=showcase_channel.id if showcase_channel else None,
            moderator_role_id=moderator_role.id if moderator_role else None,
        )
        t = self.deps.catalog.t
        none = t(member.lang, "mod.not_set")
        channel = (
            f"<#{settings.showcase_channel_id}>"
            if settings and settings.showcase_channel_id
            else none
        )
        role = (
            f"<@&{settings.moderator_role_id}>" if settings and settings.moderator_role_id else none
        )
        changed = showcase_channel is not None or moderator_role is not None
        key = "mod.setup_done" if changed else "mod.setup_current"
        await respond(interaction, t(member.lang, key, channel=channel, role=role))

    @mod.command(name=_("unpublish"), description=_("Remove a character from the gallery"))
    @app_commands.describe(character=_("The character"), reason=_("Why (the owner is told)"))
    @app_commands.autocomplete(character=public_character_autocomplete)
    async def unpublish(
        self,
        interaction: discord.Interaction[Any],
        character: str,
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        """Remove a character from the gallery; the owner is told why."""
        member = await self._require_moderator(interaction)
        await acknowledge(interaction, ephemeral=True, thinking=True)
        result = await moderation_service.unpublish(
            self.deps.db, character.strip(), _moderator(interaction, member), reason
        )
        await remove_showcase_posts(self.client, result.character.id)
        t = self.deps.catalog.t
        name = clip(result.character.name or t(member.lang, "character.unnamed"), 100)
        dm_sent = await self._notify_owner(interaction, result.owner, name, reason)
        key = "mod.unpublished_dm" if dm_sent else "mod.unpublished_notice"
        await interaction.followup.send(
            t(member.lang, key, name=name), ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    async def _notify_owner(
        self, interaction: discord.Interaction[Any], owner: User, name: str, reason: str
    ) -> bool:
        """DM the owner; when that fails, keep a notice for their next reply. True if DM'd."""
        guild = interaction.guild.name if interaction.guild else ""
        params = {"name": name, "guild": clip(guild, 100), "reason": clip(reason, 500)}
        discord_id = moderation_service.discord_id_of(owner)
        if discord_id is not None:
            lang = choose_language(owner.preferred_language, None)
            text = self.deps.catalog.t(lang, moderation_service.UNPUBLISHED_NOTICE, **params)
            try:
                channel = await self.client.create_dm(discord.Object(id=discord_id))
                await channel.send(clip(text, 2000), allowed_mentions=NO_MENTIONS)
            except discord.HTTPException:
                log.info("could not DM user=%s; keeping a notice", discord_id)
            else:
                return True
        await notices.keep_notice(
            self.deps.db, owner.id, moderation_service.UNPUBLISHED_NOTICE, params
        )
        return False

    @mod.command(name=_("user"), description=_("Set a member's account status"))
    @app_commands.describe(
        member=_("The member"), status=_("The new status"), reason=_("Why (kept in the log)")
    )
    @app_commands.choices(status=STATUS_CHOICES)
    async def user(
        self,
        interaction: discord.Interaction[Any],
        member: discord.User,
        status: app_commands.Choice[str],
        reason: app_commands.Range[str, 1, 500],
    ) -> None:
        """Set a member's account status (suspended and banned members can't generate)."""
        moderator = await self._require_moderator(interaction)
        t = self.deps.catalog.t
        if member.bot:
            await respond(interaction, t(moderator.lang, "mod.not_a_bot"))
            return
        change = await moderation_service.change_status(
            self.deps.db,
            NewMember(
                discord_id=member.id,
                username_hint=member.name,
                display_name=member.display_name,
                avatar_url=None,
                daily_quota=self.deps.settings.quota_for_tier("FREE"),
                language=None,
            ),
            status.value,
            _moderator(interaction, moderator),
            reason,
        )
        for character_id in change.character_ids_to_unshow:
            await remove_showcase_posts(self.client, character_id)
        await respond(
            interaction,
            t(
                moderator.lang,
                "mod.status_set",
                member=f"<@{member.id}>",
                status=t(moderator.lang, f"mod.status.{status.value}"),
            ),
        )

    @mod.command(name=_("log"), description=_("Recent moderator actions"))
    async def log_(self, interaction: discord.Interaction[Any]) -> None:
        """Recent moderator actions: who, what, why, when."""
        member = await self._require_moderator(interaction)
        entries = await modlog.moderation_log(self.deps.db, interaction.guild_id or 0)
        await respond(
            interaction,
            embed=mod_log_embed(self.deps.catalog, member.lang, entries),
            allowed_mentions=NO_MENTIONS,
        )


async def setup(client: commands.Bot) -> None:
    """Load the cog."""
    await client.add_cog(Moderation(client))
