"""/profile show, /profile edit and /settings."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.i18n import choose_language
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.tree import SELF_ACKNOWLEDGING
from bot.services import moderation as moderation_service
from bot.services import profiles as profiles_service
from bot.services.accounts import SettingsChange, get_user_by_discord_id, update_settings
from bot.ui.community import ProfileEditModal, profile_embed
from cogs.account.settings import settings_embed, settings_view
from cogs.gallery.showcase import remove_showcase_posts
from db.models import User

if TYPE_CHECKING:
    from bot.app import CharBot

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


class Profile(commands.Cog):
    """Profiles and settings."""

    profile = app_commands.Group(name=_("profile"), description=_("Member profiles"))

    def __init__(self, bot: CharBot) -> None:
        self.bot = bot

    # -- /profile ---------------------------------------------------------------------------

    @profile.command(name=_("show"), description=_("Show a member's profile"))
    @app_commands.describe(member=_("The member (you, if left out)"))
    async def show(
        self, interaction: discord.Interaction[CharBot], member: discord.User | None = None
    ) -> None:
        """Show a member's profile."""
        caller = await self.bot.caller(interaction)
        t = self.bot.catalog.t
        target_id: str | None = caller.user.id
        if member is not None and member.id != interaction.user.id:
            async with self.bot.reads() as session:
                target = await get_user_by_discord_id(session, member.id)
            target_id = target.id if target is not None else None
        if target_id is None:
            await respond(interaction, t(caller.lang, "profile.none"))
            return
        async with self.bot.reads() as session:
            profile = await profiles_service.get_profile(session, target_id, caller.user.id)
        await respond(
            interaction,
            embed=profile_embed(self.bot.catalog, caller.lang, profile),
            allowed_mentions=NO_MENTIONS,
        )

    @profile.command(name=_("edit"), description=_("Edit your profile"), extras=SELF_ACKNOWLEDGING)
    async def edit(self, interaction: discord.Interaction[CharBot]) -> None:
        """Edit your profile."""
        caller = await self.bot.caller(interaction)
        async with self.bot.reads() as session:
            profile = await profiles_service.get_profile(session, caller.user.id, caller.user.id)
        await interaction.response.send_modal(
            ProfileEditModal(
                self.bot.catalog,
                caller.lang,
                profile,
                self.on_profile_submit,
                discord_id=interaction.user.id,
            )
        )

    async def on_profile_submit(
        self, interaction: discord.Interaction[Any], edit: profiles_service.ProfileEdit
    ) -> None:
        """Save the profile modal (nothing is saved when any field is invalid)."""
        caller = await self.bot.caller(interaction)
        async with self.bot.sessions.begin() as session:
            profile = await profiles_service.edit_profile(session, caller.user.id, edit)
        await respond(
            interaction,
            self.bot.catalog.t(caller.lang, "profile.saved"),
            embed=profile_embed(self.bot.catalog, caller.lang, profile),
            allowed_mentions=NO_MENTIONS,
        )

    # -- /settings --------------------------------------------------------------------------

    @app_commands.command(name=_("settings"), description=_("Your language, filters and privacy"))
    @app_commands.describe(
        language=_("The language I answer you in"),
        content_filter=_("How strict the content filter is"),
        profile_visibility=_("Who can see your profile and gallery page"),
        gallery_showcase=_("Show your public characters in the gallery"),
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
        interaction: discord.Interaction[CharBot],
        language: app_commands.Choice[str] | None = None,
        content_filter: app_commands.Choice[str] | None = None,
        profile_visibility: app_commands.Choice[str] | None = None,
        gallery_showcase: bool | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        """Your language, filters and privacy (no options: a panel to change them)."""
        change = SettingsChange(
            language=language.value if language else None,
            content_filter=content_filter.value if content_filter else None,
            profile_visibility=profile_visibility.value if profile_visibility else None,
            allow_gallery_showcase=gallery_showcase,
            timezone=timezone,
        )
        if change == SettingsChange():
            caller = await self.bot.caller(interaction)
            await respond(
                interaction,
                embed=settings_embed(self.bot.catalog, caller.lang, caller.user),
                view=settings_view(self.bot.catalog, caller.lang, caller.user),
                allowed_mentions=NO_MENTIONS,
            )
            return
        user, lang = await self.apply_settings(interaction, change)
        await respond(
            interaction,
            self.bot.catalog.t(lang, "settings.saved"),
            embed=settings_embed(self.bot.catalog, lang, user),
            allowed_mentions=NO_MENTIONS,
        )

    async def apply_settings(
        self, interaction: discord.Interaction[Any], change: SettingsChange
    ) -> tuple[User, str]:
        """Apply a change for the member (from the options or the panel); their row and the
        language to answer in from now on. Opting out of the showcase removes their posts."""
        caller = await self.bot.caller(interaction)
        async with self.bot.sessions.begin() as session:
            user = await update_settings(session, caller.user.id, change)
            unshow: tuple[str, ...] = ()
            if change.allow_gallery_showcase is False:
                unshow = await moderation_service.showcased_character_ids(session, user.id)
        for character_id in unshow:
            await remove_showcase_posts(self.bot, character_id)
        lang = choose_language(user.preferred_language, interaction.locale)
        interaction.extras["lang"] = lang
        interaction.extras.pop("caller", None)
        return user, lang
