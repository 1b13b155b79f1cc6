"""Gallery rendering: one card per character (image, name, creator, style, tags) and the page
headers. Pure: takes data, returns embeds and text."""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.i18n import Catalog
from bot.services.gallery import BrowseFilters, GalleryEntry
from bot.storage.pictures import Picture
from bot.ui.embeds import STYLE_COLOURS, show_image
from bot.ui.text import EMBED_TOTAL_MAX, clip, fit_embed


def entry_embed(
    catalog: Catalog, lang: str, entry: GalleryEntry, shown: Picture | None = None
) -> discord.Embed:
    """One gallery card: image, name, creator, style, tags, and the id (to add to a collection).
    The image is ``shown`` (else the stored URL, when Discord can fetch it)."""
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
    show_image(embed, None, shown, character.image_url or character.thumbnail_url)
    return fit_embed(embed)


def page_embeds(
    catalog: Catalog,
    lang: str,
    entries: Sequence[GalleryEntry],
    pictures: Sequence[Picture | None] = (),
) -> list[discord.Embed]:
    """The cards of one page (``pictures[i]`` the image of ``entries[i]``), fewer if together
    they would pass Discord's 6,000 characters: the first ``len(result)`` entries."""
    embeds: list[discord.Embed] = []
    total = 0
    for i, entry in enumerate(entries):
        embed = entry_embed(catalog, lang, entry, pictures[i] if i < len(pictures) else None)
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
