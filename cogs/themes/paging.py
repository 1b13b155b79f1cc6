"""/variant list: one variant per page with its image, Previous/Next persistent buttons."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.i18n import Catalog
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.routing import PagerButton, pager_label, pager_view
from bot.services.themes.use_cases import VariantPage, variant_page
from bot.storage.pictures import Picture, picture
from bot.ui.embeds import picture_files, replacing_attachments, show_image
from bot.ui.text import clip, fit_embed

CURSOR_MAX = 60  # what the custom_id template carries


VariantMessage = tuple[discord.Embed, discord.ui.View, Picture | None]
"""A page's embed, Previous/Next, and the variant's picture (attached when it is a file)."""


def variant_page_message(
    catalog: Catalog,
    lang: str,
    theme_id: str,
    shown: VariantPage,
    image: Picture | None = None,
) -> tuple[discord.Embed, discord.ui.View]:
    """The page's embed (the variant's instruction and ``image``, else its stored URL when
    Discord can fetch it) with Previous/Next."""
    t = catalog.t
    page = shown.page
    if not page.items:
        embed = discord.Embed(
            title=clip(shown.theme_name, 100), description=t(lang, "variant.none"), colour=0x5865F2
        )
    else:
        variant = page.items[0]
        embed = discord.Embed(
            title=clip(shown.theme_name, 100),
            description=clip(variant.prompt, 1000),
            colour=0x5865F2,
        )
        show_image(embed, None, image, variant.image_url)
        embed.set_footer(text=t(lang, "variant.footer", id=variant.id))
    view = pager_view(
        lambda cursor, *, forward, label: VariantPageButton(theme_id, cursor, forward, label),
        page.prev_cursor,
        page.next_cursor,
        t(lang, "button.previous"),
        t(lang, "button.next"),
    )
    return fit_embed(embed), view


async def variant_list_message(
    interaction: discord.Interaction[Any], theme_id: str, cursor: str | None
) -> VariantMessage:
    """The page of the theme at ``cursor`` (None: the newest), for the member."""
    deps = deps_of(interaction.client)
    who = await caller(interaction)
    shown = await variant_page(deps.db, theme_id, who.user.id, cursor)
    items = shown.page.items
    image = await picture(deps.storage, items[0], name="variant") if items else None
    embed, view = variant_page_message(deps.catalog, who.lang, theme_id, shown, image)
    return embed, view, image


class VariantPageButton(
    PagerButton,
    template=r"vlist:(?P<theme>[0-9a-f-]{36}):(?P<dir>[pn]):(?P<cursor>[A-Za-z0-9_.~=-]{0,60})",
):
    """Previous/Next of /variant list."""

    def __init__(self, theme_id: str, cursor: str | None, forward: bool, label: str = "") -> None:
        super().__init__(
            f"vlist:{theme_id}:{'n' if forward else 'p'}:{cursor or ''}"[:100],
            forward=forward,
            label=label,
            enabled=cursor is not None and len(cursor) <= CURSOR_MAX,
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
        forward = match["dir"] == "n"
        return cls(match["theme"], match["cursor"] or None, forward, pager_label(item, forward))

    async def page(self, interaction: discord.Interaction[Any]) -> dict[str, Any]:
        embed, view, image = await variant_list_message(interaction, self.theme_id, self.cursor)
        files = picture_files([image])
        return {"embed": embed, "view": view, **replacing_attachments(files, interaction.message)}
