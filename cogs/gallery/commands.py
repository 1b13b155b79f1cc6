"""/gallery browse and /gallery user: the public gallery, page by page."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.interactions.caller import caller
from bot.interactions.replies import NO_MENTIONS, respond
from bot.interactions.routing import FeatureCog
from bot.services.accounts import find_user_id
from bot.services.gallery import BrowseFilters
from bot.ui.embeds import picture_files
from cogs.common import STYLE_CHOICES
from cogs.gallery.paging import (
    MAX_TAG_IN_ID,
    GalleryBrowseButton,
    GalleryMessage,
    GalleryUserButton,
    browse_message,
    user_gallery_message,
)
from cogs.gallery.report import ReportButton
from cogs.scenes.gallery import scene_gallery_message

KIND_CHOICES = [
    app_commands.Choice(name=_("Characters"), value="characters"),
    app_commands.Choice(name=_("Scenes"), value="scenes"),
]
SORT_CHOICES = [
    app_commands.Choice(name=_("Newest first"), value="newest"),
    app_commands.Choice(name=_("Oldest first"), value="oldest"),
]


async def _reply(interaction: discord.Interaction[Any], message: GalleryMessage) -> None:
    content, embeds, view, shown = message
    await respond(
        interaction,
        content,
        embeds=embeds,
        view=view or discord.utils.MISSING,
        files=picture_files(shown) or discord.utils.MISSING,
        allowed_mentions=NO_MENTIONS,
    )


class Gallery(FeatureCog):
    """Browse published characters."""

    gallery = app_commands.Group(name=_("gallery"), description=_("Browse published characters"))

    @gallery.command(name=_("browse"), description=_("Browse the public gallery"))
    @app_commands.describe(
        style=_("Only this art style"),
        tag=_("Only characters with this tag"),
        sort=_("Order"),
        kind=_("Characters or scenes"),
    )
    @app_commands.choices(style=STYLE_CHOICES, sort=SORT_CHOICES, kind=KIND_CHOICES)
    async def browse(
        self,
        interaction: discord.Interaction[Any],
        style: app_commands.Choice[str] | None = None,
        tag: app_commands.Range[str, 1, MAX_TAG_IN_ID] | None = None,
        sort: app_commands.Choice[str] | None = None,
        kind: app_commands.Choice[str] | None = None,
    ) -> None:
        """Browse the public gallery (characters, or with kind scenes, public scenes newest
        first; style, tag and sort apply to characters)."""
        viewer = await caller(interaction)
        if kind is not None and kind.value == "scenes":
            await _reply(
                interaction,
                await scene_gallery_message(self.deps, viewer, None, guild_id=interaction.guild_id),
            )
            return
        filters = BrowseFilters(
            style=style.value if style else None,
            tag=(tag or "").strip().lstrip("#").strip() or None,
            sort=sort.value if sort else "newest",
        )
        message = await browse_message(
            self.deps, viewer, filters, None, guild_id=interaction.guild_id
        )
        await _reply(interaction, message)

    @gallery.command(name=_("user"), description=_("A member's published characters"))
    @app_commands.describe(member=_("The member"))
    async def user(self, interaction: discord.Interaction[Any], member: discord.User) -> None:
        """A member's published characters."""
        viewer = await caller(interaction)
        if member.id == interaction.user.id:
            target_id: str | None = viewer.user.id
        else:
            target_id = await find_user_id(self.deps.db, member.id)
        if target_id is None:
            await respond(
                interaction,
                self.deps.catalog.t(viewer.lang, "gallery.user_empty"),
                allowed_mentions=NO_MENTIONS,
            )
            return
        await _reply(
            interaction,
            await user_gallery_message(
                self.deps,
                viewer,
                target_id,
                member.display_name,
                None,
                guild_id=interaction.guild_id,
            ),
        )


async def setup(client: commands.Bot) -> None:
    """Load the cog, its persistent page buttons and the Report button."""
    client.add_dynamic_items(GalleryBrowseButton, GalleryUserButton, ReportButton)
    await client.add_cog(Gallery(client))
