"""Gallery rendering: one card per character (image, name, creator, style, tags) and the page
headers. Pure: takes data, returns embeds and text."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.i18n import Catalog
from bot.services.gallery import BrowseFilters, GalleryEntry
from bot.ui.embeds import STYLE_COLOURS
from bot.ui.text import EMBED_TOTAL_MAX, clip, fit_embed


def entry_embed(catalog: Catalog, lang: str, entry: GalleryEntry) -> discord.Embed:
    """One gallery card: image, name, creator, style, tags, and the id (to add to a collection)."""
    t = catalog.t
    character = entry.character
    style = character.style_type or "realistic"
    embed = discord.Embed(
        title=clip(character.name or t(lang, "character.unnamed"), 100),
        description=clip(character.description, 300) or None,
        colour=STYLE_COLOURS.get(style, 0x5865F2),
    )
    embed.add_field(
        name=t(lang, "gallery.creator"), value=clip(entry.creator_name, 100), inline=True
    )
    embed.add_field(name=t(lang, "field.style"), value=t(lang, f"style.{style}"), inline=True)
    tags = [f"#{clip(tag, 30)}" for tag in (character.tags or [])[:10]]
    if tags:
        embed.add_field(name=t(lang, "gallery.tags"), value=clip(" ".join(tags), 300), inline=False)
    embed.set_footer(text=t(lang, "character.footer", id=character.id))
    image = character.image_url or character.thumbnail_url
    if image and image.startswith(("http://", "https://")):
        embed.set_image(url=image)
    return fit_embed(embed)


def page_embeds(
    catalog: Catalog, lang: str, entries: Sequence[GalleryEntry]
) -> list[discord.Embed]:
    """The cards of one page, fewer if together they would pass Discord's 6,000 characters."""
    embeds: list[discord.Embed] = []
    total = 0
    for entry in entries:
        embed = entry_embed(catalog, lang, entry)
        if total + len(embed) > EMBED_TOTAL_MAX:
            break
        embeds.append(embed)
        total += len(embed)
    return embeds


def browse_header(catalog: Catalog, lang: str, filters: BrowseFilters) -> str:
    """The line above a /gallery browse page: the title, and the style and tag asked for."""
    t = catalog.t
    header = t(lang, "gallery.title")
    if filters.style:
        header += " · " + t(lang, f"style.{filters.style}")
    if filters.tag:
        header += f" · #{clip(filters.tag, 50)}"
    return clip(header, 200)


def user_header(catalog: Catalog, lang: str, name: str) -> str:
    """The line above a /gallery user page."""
    return catalog.t(lang, "gallery.user_title", name=clip(name, 100))
