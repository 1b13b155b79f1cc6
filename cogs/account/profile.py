"""/profile show, /profile edit and /settings: the commands of a member's profile and settings."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _

from bot.interactions.autocomplete import answers_itself
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureCog
from bot.interactions.tree import SELF_ACKNOWLEDGING
from bot.services.accounts import SettingsChange
from bot.services.profiles import member_profile, own_profile
from bot.services.remix import remix_allowed
from bot.ui.community import profile_embed
from cogs.account.profile_edit import ProfileEditModal
from cogs.account.settings import apply_settings, settings_embed, settings_view

LANGUAGE_CHOICES = [
    app_commands.Choice(name=_("English"), value="en"),
    app_commands.Choice(name=_("Chinese"), value="zh"),
    app_commands.Choice(name=_("Japanese"), value="ja"),
    app_commands.Choice(name=_("Korean"), value="ko"),
]
FILTER_CHOICES = [
    app_commands.Choice(name=_("Strict"), value="strict"),
    app_commands.Choice(name=_("Moderate"), value="moderate"),
    app_commands.Choice(name=_("Relaxed"), value="relaxed"),
]
VISIBILITY_CHOICES = [
    app_commands.Choice(name=_("Public"), value="public"),
    app_commands.Choice(name=_("Friends"), value="friends"),
    app_commands.Choice(name=_("Private"), value="private"),
]


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


@answers_itself
async def timezone_autocomplete(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    """IANA zone names containing what was typed (prefix matches first)."""
    query = current.strip().lower()
    zones = _zones()
    if query:
        starts = [z for z in zones if z.lower().startswith(query)]
        contains = [z for z in zones if query in z.lower() and z not in starts]
        zones = tuple(starts + contains)
    return [app_commands.Choice(name=z, value=z) for z in zones[:25]]


async def show_profile(
    interaction: discord.Interaction[Any], member: discord.User | discord.Member | None
) -> None:
    """A member's profile, privately; a profile its owner keeps private (or to friends) is
    shown to no one else."""
    deps = deps_of(interaction.client)
    viewer = await caller(interaction)
    catalog = deps.catalog
    if member is None or member.id == interaction.user.id:
        profile = await own_profile(deps.db, viewer.user.id)
    else:
        found = await member_profile(deps.db, member.id, viewer.user.id)
        if found is None:
            await respond(interaction, catalog.t(viewer.lang, "profile.none"))
            return
        profile = found
    await respond(
        interaction,
        embed=profile_embed(catalog, viewer.lang, profile),
        allowed_mentions=NO_MENTIONS,
    )


async def view_profile_menu(
    interaction: discord.Interaction[Any], member: discord.User | discord.Member
) -> None:
    """The member's profile (the user context menu), as /profile show gives it."""
    await show_profile(interaction, member)


def profile_menu() -> app_commands.ContextMenu:
    """ "View profile" on a member."""
    return app_commands.ContextMenu(name=_("View profile"), callback=view_profile_menu)


class Profile(FeatureCog):
    """Profiles and settings."""

    profile = app_commands.Group(name=_("profile"), description=_("Member profiles"))

    # -- /profile ---------------------------------------------------------------------------

    @profile.command(name=_("show"), description=_("Show a member's profile"))
    @app_commands.describe(member=_("The member (you, if left out)"))
    async def show(
        self, interaction: discord.Interaction[Any], member: discord.User | None = None
    ) -> None:
        """Show a member's profile."""
        await show_profile(interaction, member)

    @profile.command(name=_("edit"), description=_("Edit your profile"), extras=SELF_ACKNOWLEDGING)
    async def edit(self, interaction: discord.Interaction[Any]) -> None:
        """Edit your profile."""
        member = await caller(interaction)
        profile = await own_profile(self.deps.db, member.user.id)
        await interaction.response.send_modal(
            ProfileEditModal(
                self.deps.catalog, member.lang, profile, discord_id=interaction.user.id
            )
        )

    # -- /settings --------------------------------------------------------------------------

    @app_commands.command(name=_("settings"), description=_("Your language, filters and privacy"))
    @app_commands.describe(
        language=_("The language I answer you in"),
        content_filter=_("How strict the content filter is"),
        profile_visibility=_("Who can see your profile and gallery page"),
        gallery_showcase=_("Show your public characters in the gallery"),
        remixes=_("Let others remix your public characters"),
        timezone=_("Your timezone, e.g. Europe/Paris (your daily quota resets at your midnight)"),
    )
    @app_commands.choices(
        language=LANGUAGE_CHOICES,
        content_filter=FILTER_CHOICES,
        profile_visibility=VISIBILITY_CHOICES,
    )
    @app_commands.autocomplete(timezone=timezone_autocomplete)
    async def settings(
        self,
        interaction: discord.Interaction[Any],
        language: app_commands.Choice[str] | None = None,
        content_filter: app_commands.Choice[str] | None = None,
        profile_visibility: app_commands.Choice[str] | None = None,
        gallery_showcase: bool | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        remixes: bool | None = None,
    ) -> None:
        """Your language, filters and privacy (no options: a panel to change them)."""
        change = SettingsChange(
            language=language.value if language else None,
            content_filter=content_filter.value if content_filter else None,
            profile_visibility=profile_visibility.value if profile_visibility else None,
            allow_gallery_showcase=gallery_showcase,
            timezone=timezone,
            allow_remix=remixes,
        )
        catalog = self.deps.catalog
        if change == SettingsChange():
            member = await caller(interaction)
            allowed = await remix_allowed(self.deps.db, member.user.id)
            await respond(
                interaction,
                embed=settings_embed(catalog, member.lang, member.user, allow_remix=allowed),
                view=settings_view(catalog, member.lang, member.user, allow_remix=allowed),
                allowed_mentions=NO_MENTIONS,
            )
            return
        user, lang, allowed = await apply_settings(interaction, change)
        await respond(
            interaction,
            catalog.t(lang, "settings.saved"),
            embed=settings_embed(catalog, lang, user, allow_remix=allowed),
            allowed_mentions=NO_MENTIONS,
        )
