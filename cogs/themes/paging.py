"""/variant list: one variant per page with its image, Previous/Next persistent buttons."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.interactions.acknowledge import acknowledge
from bot.interactions.replies import NO_MENTIONS, reporting, update
from bot.services import themes as themes_service
from bot.ui.text import button_label, clip, fit_embed
from db.models import CharacterTheme

if TYPE_CHECKING:
    from bot.app import CharBot
    from bot.interactions.caller import Caller


async def variant_page_message(
    bot: CharBot, caller: Caller, theme_id: str, cursor: str | None
) -> tuple[discord.Embed, discord.ui.View]:
    """One variant of the theme (newest first) with navigation."""
    t = bot.catalog.t
    lang = caller.lang
    async with bot.reads() as session:
        page = await themes_service.list_variants(
            session, theme_id, caller.user.id, cursor=cursor, limit=1
        )
        theme = await session.get(CharacterTheme, theme_id)
    theme_name = theme.name if theme is not None else ""
    if not page.items:
        embed = discord.Embed(
            title=clip(theme_name, 100), description=t(lang, "variant.none"), colour=0x5865F2
        )
    else:
        variant = page.items[0]
        embed = discord.Embed(
            title=clip(theme_name, 100), description=clip(variant.prompt, 1000), colour=0x5865F2
        )
        if variant.image_url and variant.image_url.startswith("http"):
            embed.set_image(url=variant.image_url)
        embed.set_footer(text=t(lang, "variant.footer", id=variant.id))
    view = discord.ui.View(timeout=None)
    view.add_item(VariantPageButton(theme_id, page.prev_cursor, False, t(lang, "button.previous")))
    view.add_item(VariantPageButton(theme_id, page.next_cursor, True, t(lang, "button.next")))
    return fit_embed(embed), view


class VariantPageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"vlist:(?P<theme>[0-9a-f-]{36}):(?P<dir>[pn]):(?P<cursor>[A-Za-z0-9_.~=-]{0,60})",
):
    """Previous/Next of /variant list."""

    def __init__(self, theme_id: str, cursor: str | None, forward: bool, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or ("→" if forward else "←"),
                style=discord.ButtonStyle.secondary,
                custom_id=f"vlist:{theme_id}:{'n' if forward else 'p'}:{cursor or ''}"[:100],
                disabled=cursor is None or len(cursor) > 60,
            )
        )
        self.theme_id = theme_id
        self.cursor = cursor

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> VariantPageButton:
        return cls(match["theme"], match["cursor"] or None, match["dir"] == "n", button_label(item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await reporting(interaction, lambda: self._run(interaction))

    async def _run(self, interaction: discord.Interaction[Any]) -> None:
        bot: CharBot = interaction.client
        await acknowledge(interaction, directly=True)  # before any database work
        caller = await bot.caller(interaction)
        embed, view = await variant_page_message(bot, caller, self.theme_id, self.cursor)
        await update(interaction, embed=embed, view=view, allowed_mentions=NO_MENTIONS)
