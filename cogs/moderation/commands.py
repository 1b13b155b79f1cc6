"""/mod setup, /mod unpublish, /mod user, /mod log, /mod reports: moderation in two scopes.

/mod is guild-only and shown by default to members with Manage Messages. A guild's moderators
(Manage Messages, or the guild's moderator role) act in their guild only: unpublish hides the
character there, user blocks or unblocks the member there. Platform moderators may add
``scope:platform``: unpublish everywhere, and set the account status (active, suspended,
banned). /mod setup needs Manage Server, because it decides who moderates. /mod reports (the
queue of members' reports) is for platform moderators: :mod:`cogs.moderation.reports`.
"""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.interactions.acknowledge import acknowledge
from bot.interactions.autocomplete import answers_itself
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureCog
from bot.services import guild_moderation, guild_settings, modlog
from bot.services import moderation as moderation_service
from bot.services.accounts import NewMember
from bot.services.mod_scopes import check_scope
from bot.ui.modlog import mod_log_embed
from bot.ui.text import clip
from cogs.common import as_choices
from cogs.gallery.showcase import remove_showcase_posts
from cogs.moderation.access import (
    SCOPE_CHOICES,
    is_platform_moderator,
    moderator,
    require_moderator,
    scope_of,
)
from cogs.moderation.announce import action_entry, notify_owner, post_to_log_channel
from cogs.moderation.channels import LOG_NEEDS, SHOWCASE_NEEDS, missing_permissions
from cogs.moderation.reports import REPORT_QUEUE_ITEMS, show_report_queue

STATUS_CHOICES = [
    app_commands.Choice(name=_("Active"), value="active"),
    app_commands.Choice(name=_("Blocked in this server"), value="blocked"),
    app_commands.Choice(name=_("Suspended (platform)"), value="suspended"),
    app_commands.Choice(name=_("Banned (platform)"), value="banned"),
]


@answers_itself
async def public_character_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """Public characters by name (or id), newest first; values are character ids. In the guild
    scope, those not hidden in this guild yet."""
    db = deps_of(interaction.client).db
    platform = getattr(interaction.namespace, "scope", None) == "platform"
    guild_id = None if platform else interaction.guild_id
    return as_choices(
        await moderation_service.public_character_choices(db, current[:100], guild_id=guild_id)
    )


class Moderation(FeatureCog):
    """Moderator commands."""

    mod = app_commands.Group(
        name=_("mod"),
        description=_("Moderate the gallery"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_messages=True),
        allowed_contexts=app_commands.AppCommandContext(
            guild=True, dm_channel=False, private_channel=False
        ),
        allowed_installs=app_commands.AppInstallationType(guild=True, user=False),
    )

    @mod.command(
        name=_("setup"), description=_("Set the showcase channel, moderator role and log channel")
    )
    @app_commands.describe(
        showcase_channel=_("Where published characters are posted"),
        moderator_role=_("Members with this role may moderate"),
        log_channel=_("Where moderator actions and reports are posted"),
    )
    async def setup_(
        self,
        interaction: discord.Interaction[Any],
        showcase_channel: discord.TextChannel | None = None,
        moderator_role: discord.Role | None = None,
        log_channel: discord.TextChannel | None = None,
    ) -> None:
        """Set the showcase channel, moderator role and log channel (needs Manage Server)."""
        member = await caller(interaction)
        if not moderation_service.can_configure(manage_guild=interaction.permissions.manage_guild):
            raise moderation_service.SetupRefusedError()
        t = self.deps.catalog.t
        for channel, needs in ((showcase_channel, SHOWCASE_NEEDS), (log_channel, LOG_NEEDS)):
            if channel is None:
                continue
            missing = missing_permissions(interaction, channel, needs)
            if missing:
                names = ", ".join(t(member.lang, f"perm.{name}") for name in missing)
                text = t(member.lang, "mod.cannot_post", channel=f"<#{channel.id}>", missing=names)
                await respond(interaction, text)
                return
        settings = await guild_settings.setup_guild(
            self.deps.db,
            moderator(interaction, member),
            showcase_channel_id=showcase_channel.id if showcase_channel else None,
            moderator_role_id=moderator_role.id if moderator_role else None,
            log_channel_id=log_channel.id if log_channel else None,
        )
        none = t(member.lang, "mod.not_set")

        def channel_text(channel_id: int | None) -> str:
            return f"<#{channel_id}>" if channel_id else none

        role_id = settings.moderator_role_id if settings else None
        changed = any(o is not None for o in (showcase_channel, moderator_role, log_channel))
        text = t(
            member.lang,
            "mod.setup_done" if changed else "mod.setup_current",
            channel=channel_text(settings.showcase_channel_id if settings else None),
            role=f"<@&{role_id}>" if role_id else none,
            log=channel_text(settings.log_channel_id if settings else None),
        )
        await respond(interaction, text)

    @mod.command(
        name=_("unpublish"),
        description=_("Hide a character in this server (or everywhere: scope platform)"),
    )
    @app_commands.describe(
        character=_("The character"),
        reason=_("Why (the owner is told)"),
        scope=_("Where it applies (the whole platform: platform moderators only)"),
    )
    @app_commands.autocomplete(character=public_character_autocomplete)
    @app_commands.choices(scope=SCOPE_CHOICES)
    async def unpublish(
        self,
        interaction: discord.Interaction[Any],
        character: str,
        reason: app_commands.Range[str, 1, 500],
        scope: app_commands.Choice[str] | None = None,
    ) -> None:
        """Hide a character in this server, or take it out of the gallery everywhere."""
        member = await require_moderator(interaction)
        where = scope_of(scope)
        check_scope(where, platform_moderator=is_platform_moderator(interaction))
        await acknowledge(interaction, ephemeral=True, thinking=True)
        by = moderator(interaction, member)
        if where == "platform":
            result = await moderation_service.unpublish(self.deps.db, character.strip(), by, reason)
            await remove_showcase_posts(self.client, result.character.id)
            notice, told, untold = (
                moderation_service.UNPUBLISHED_NOTICE,
                "mod.unpublished_dm",
                "mod.unpublished_notice",
            )
        else:
            result = await guild_moderation.hide(self.deps.db, character.strip(), by, reason)
            await remove_showcase_posts(
                self.client, result.character.id, guild_id=interaction.guild_id
            )
            notice, told, untold = (
                moderation_service.HIDDEN_NOTICE,
                "mod.hidden_dm",
                "mod.hidden_notice",
            )
        t = self.deps.catalog.t
        name = clip(result.character.name or t(member.lang, "character.unnamed"), 100)
        dm_sent = await notify_owner(interaction, result.owner, notice, name, reason)
        entry = action_entry(
            interaction,
            "unpublish",
            where,
            reason,
            character=(result.character.id, result.character.name),
        )
        await post_to_log_channel(interaction, entry)
        await respond(interaction, t(member.lang, told if dm_sent else untold, name=name))

    @mod.command(
        name=_("user"),
        description=_("Block a member here, or set their account status (scope platform)"),
    )
    @app_commands.describe(
        member=_("The member"),
        status=_("The new status"),
        reason=_("Why (kept in the log)"),
        scope=_("Where it applies (the whole platform: platform moderators only)"),
    )
    @app_commands.choices(status=STATUS_CHOICES, scope=SCOPE_CHOICES)
    async def user(
        self,
        interaction: discord.Interaction[Any],
        member: discord.User,
        status: app_commands.Choice[str],
        reason: app_commands.Range[str, 1, 500],
        scope: app_commands.Choice[str] | None = None,
    ) -> None:
        """Block or unblock a member in this server; platform moderators set account status."""
        acting = await require_moderator(interaction)
        where = scope_of(scope)
        check_scope(
            where, platform_moderator=is_platform_moderator(interaction), status=status.value
        )
        t = self.deps.catalog.t
        if member.bot:
            await respond(interaction, t(acting.lang, "mod.not_a_bot"))
            return
        target = NewMember(
            discord_id=member.id,
            username_hint=member.name,
            display_name=member.display_name,
            avatar_url=None,
            daily_quota=self.deps.settings.quota_for_tier("FREE"),
            language=None,
        )
        by = moderator(interaction, acting)
        mention = f"<@{member.id}>"
        if where == "platform":
            change = await moderation_service.change_status(
                self.deps.db, target, status.value, by, reason
            )
            for character_id in change.character_ids_to_unshow:
                await remove_showcase_posts(self.client, character_id)
            status_text = t(acting.lang, f"mod.status.{status.value}")
            text = t(acting.lang, "mod.status_set", member=mention, status=status_text)
        else:
            await guild_moderation.change_block(self.deps.db, target, status.value, by, reason)
            key = "mod.blocked_set" if status.value == "blocked" else "mod.unblocked_set"
            text = t(acting.lang, key, member=mention)
        entry = action_entry(
            interaction, "set_status", where, reason, member=member, status=status.value
        )
        await post_to_log_channel(interaction, entry)
        await respond(interaction, text)

    @mod.command(name=_("log"), description=_("Recent moderator actions"))
    async def log_(self, interaction: discord.Interaction[Any]) -> None:
        """Recent moderator actions of your scope: who, what, why, when."""
        member = await require_moderator(interaction)
        platform = is_platform_moderator(interaction)
        entries = await modlog.moderation_log(
            self.deps.db, interaction.guild_id or 0, platform=platform
        )
        await respond(
            interaction,
            embed=mod_log_embed(self.deps.catalog, member.lang, entries, platform=platform),
            allowed_mentions=NO_MENTIONS,
        )

    @mod.command(name=_("reports"), description=_("Open reports of gallery characters"))
    async def reports(self, interaction: discord.Interaction[Any]) -> None:
        """Open reports, oldest first, to dismiss or unpublish (platform moderators)."""
        await show_report_queue(interaction)


async def setup(client: commands.Bot) -> None:
    """Load the cog and the report queue's buttons."""
    client.add_dynamic_items(*REPORT_QUEUE_ITEMS)
    await client.add_cog(Moderation(client))
