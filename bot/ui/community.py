"""Embeds of the community commands: profiles and collections (the moderation log:
:mod:`bot.ui.modlog`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord

from bot.services.collections import CollectionSummary, CollectionView
from bot.services.profiles import Profile
from bot.ui.text import clip, fit_embed

if TYPE_CHECKING:
    from bot.i18n import Catalog


# --- profiles -------------------------------------------------------------------------------


def profile_embed(catalog: Catalog, lang: str, profile: Profile) -> discord.Embed:
    """A member's profile card: names, bio, website, profession, stats."""
    t = catalog.t
    name = profile.display_name or profile.username or t(lang, "profile.someone")
    embed = discord.Embed(
        title=clip(name, 100),
        description=clip(profile.bio, 500) or t(lang, "profile.no_bio"),
        colour=0x5865F2,
    )
    if profile.profession:
        embed.add_field(
            name=t(lang, "field.profession"), value=clip(profile.profession, 100), inline=True
        )
    if profile.website_url:
        embed.add_field(
            name=t(lang, "field.website"), value=clip(profile.website_url, 200), inline=True
        )
    embed.add_field(
        name=t(lang, "profile.stats"),
        value=t(
            lang,
            "profile.stats_body",
            characters=profile.characters_created,
            images=profile.images_generated,
        ),
        inline=False,
    )
    if profile.is_self:
        embed.set_footer(
            text=t(
                lang,
                "profile.visibility_footer",
                visibility=t(lang, f"settings.visibility.{profile.visibility}"),
            )
        )
    return fit_embed(embed)


# --- collections ----------------------------------------------------------------------------


def collection_list_embed(
    catalog: Catalog, lang: str, summaries: Sequence[CollectionSummary]
) -> discord.Embed:
    """The member's collections with their sizes."""
    t = catalog.t
    lines = [
        t(
            lang,
            "collection.line",
            name=clip(s.name, 50),
            count=s.item_count,
            visibility=t(lang, "collection.public" if s.is_public else "collection.private"),
        )
        for s in summaries[:50]
    ]
    embed = discord.Embed(
        title=t(lang, "collection.list_title"), description="\n".join(lines), colour=0x5865F2
    )
    return fit_embed(embed)


def collection_embed(
    catalog: Catalog, lang: str, view: CollectionView, *, add_command: str = "/collection add"
) -> discord.Embed:
    """A collection: description and the characters the viewer may see, in the order added
    (``add_command``: how the empty text names /collection add, a mention when known)."""
    t = catalog.t
    collection = view.collection
    lines = [
        t(
            lang,
            "collection.item",
            name=clip(c.name or t(lang, "character.unnamed"), 60),
            style=t(lang, f"style.{c.style_type or 'realistic'}"),
            id=c.id,
        )
        for c in view.characters
    ]
    if view.total_visible > len(view.characters):
        lines.append(t(lang, "collection.more", count=view.total_visible - len(view.characters)))
    if view.hidden_count:
        lines.append(t(lang, "collection.hidden", count=view.hidden_count))
    body = "\n".join(lines) or t(lang, "collection.empty", command=add_command)
    if collection.description:
        body = f"{clip(collection.description, 200)}\n\n{body}"
    embed = discord.Embed(title=clip(collection.name, 100), description=body, colour=0x5865F2)
    embed.set_footer(
        text=t(lang, "collection.public" if collection.is_public else "collection.private")
    )
    return fit_embed(embed)
