"""The /profile edit modal: display name, bio, website and profession, and saving them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord

from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureModal
from bot.services.profiles import (
    MAX_BIO,
    MAX_DISPLAY_NAME,
    MAX_PROFESSION,
    MAX_WEBSITE,
    Profile,
    ProfileEdit,
    save_profile,
)
from bot.ui.community import profile_embed
from bot.ui.text import clip

if TYPE_CHECKING:
    from bot.i18n import Catalog


class ProfileEditModal(FeatureModal):
    """Display name, bio, website, profession, filled with the current values; submitting
    saves them all, or nothing when any field is invalid."""

    def __init__(self, catalog: Catalog, lang: str, profile: Profile, *, discord_id: int) -> None:
        t = catalog.t
        # one modal per member: discord.py keys open modals by custom_id alone
        super().__init__(
            title=clip(t(lang, "profile.modal_title"), 45),
            custom_id=f"profile:edit:{discord_id}",
            timeout=900,
        )
        self.display_name: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(t(lang, "field.display_name"), 45),
            default=clip(profile.display_name, MAX_DISPLAY_NAME) or None,
            max_length=MAX_DISPLAY_NAME,
            required=False,
            custom_id="display_name",
        )
        self.bio: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(t(lang, "field.bio"), 45),
            style=discord.TextStyle.paragraph,
            default=clip(profile.bio, MAX_BIO) or None,
            max_length=MAX_BIO,
            required=False,
            custom_id="bio",
        )
        self.website: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(t(lang, "field.website"), 45),
            placeholder="https://example.com",
            default=clip(profile.website_url, MAX_WEBSITE) or None,
            max_length=MAX_WEBSITE,
            required=False,
            custom_id="website",
        )
        self.profession: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(t(lang, "field.profession"), 45),
            default=clip(profile.profession, MAX_PROFESSION) or None,
            max_length=MAX_PROFESSION,
            required=False,
            custom_id="profession",
        )
        for item in (self.display_name, self.bio, self.website, self.profession):
            self.add_item(item)

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Save the fields and show the saved profile."""
        await acknowledge(interaction, directly=True, ephemeral=True, thinking=True)
        member = await caller(interaction)
        deps = deps_of(interaction.client)
        edit = ProfileEdit(
            display_name=self.display_name.value,
            bio=self.bio.value,
            website_url=self.website.value,
            profession=self.profession.value,
        )
        profile = await save_profile(deps.db, member.user.id, edit)
        await respond(
            interaction,
            deps.catalog.t(member.lang, "profile.saved"),
            embed=profile_embed(deps.catalog, member.lang, profile),
            allowed_mentions=NO_MENTIONS,
        )
