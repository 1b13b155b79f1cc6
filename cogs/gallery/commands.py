"""/gallery browse and /gallery user: the public gallery, page by page."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str as _
from discord.ext import commands

from bot.interactions.replies import NO_MENTIONS, respond
from bot.services.accounts import get_user_by_discord_id
from cogs.common import STYLE_CHOICES
from cogs.gallery.paging import (
    MAX_TAG_IN_ID,
    BrowseFilters,
    GalleryBrowseButton,
    GalleryUserButton,
    browse_message,
    user_gallery_message,
)

if TYPE_CHECKING:
    from bot.app import CharBot

SORT_CHOICES = [
    app_commands.Choice(name=_("Newest first"), value="newest"),
    app_commands.Choice(name=_("Oldest first"), value="oldest"),
]


class Gallery(commands.Cog):
    """Browse published characters."""

    gallery = app_commands.Group(name=_("gallery"), description=_("Browse published characters"))

    def __init__(self, bot: CharBot) -> None:
        self.bot = bot

    @gallery.command(name=_("browse"), description=_("Browse the public gallery"))
    @app_commands.describe(
        style=_("Only this art style"), tag=_("Only characters with this tag"), sort=_("Order")
    )
    @app_commands.choices(style=STYLE_CHOICES, sort=SORT_CHOICES)
    async def browse(
        self,
        interaction: discord.Interaction[CharBot],
        style: app_commands.Choice[str] | None = None,
        tag: app_commands.Range[str, 1, MAX_TAG_IN_ID] | None = None,
        sort: app_commands.Choice[str] | None = None,
    ) -> None:
        """Browse the public gallery."""
        caller = await self.bot.caller(interaction)
        filters = BrowseFilters(
            style=style.value if style else None,
            tag=(tag or "").strip().lstrip("#").strip() or None,
            sort=sort.value if sort else "newest",
        )
        content, embeds, view = await browse_message(self.bot, caller, filters, None)
        await respond(
            interaction,
            content,
            embeds=embeds,
            view=view or discord.utils.MISSING,
            allowed_mentions=NO_MENTIONS,
        )

    @gallery.command(name=_("user"), description=_("A member's published characters"))
    @app_commands.describe(member=_("The member"))
    async def user(self, interaction: discord.Interaction[CharBot], member: discord.User) -> None:
        """A member's published characters."""
        caller = await self.bot.caller(interaction)
        t = self.bot.catalog.t
        if member.id == interaction.user.id:
            target_id: str | None = caller.user.id
        else:
            async with self.bot.reads() as session:
                target = await get_user_by_discord_id(session, member.id)
            target_id = target.id if target is not None else None
        if target_id is None:
            await respond(
                interaction,
                t(caller.lang, "gallery.user_empty"),
                allowed_mentions=NO_MENTIONS,
            )
            return
        content, embeds, view = await user_gallery_message(
            self.bot, caller, target_id, member.display_name, None
        )
        await respond(
            interaction,
            content,
            embeds=embeds,
            view=view or discord.utils.MISSING,
            allowed_mentions=NO_MENTIONS,
        )


async def setup(bot: CharBot) -> None:
    """Load the cog and its persistent page buttons."""
    bot.add_dynamic_items(GalleryBrowseButton, GalleryUserButton)
    await bot.add_cog(Gallery(bot))
