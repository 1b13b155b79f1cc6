"""Discord's text limits, and truncation that respects them."""

from __future__ import annotations

from typing import Any

import discord

CONTENT_MAX = 2000
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
EMBED_FIELDS_MAX = 25
THREAD_NAME_MAX = 100
CHOICE_NAME_MAX = 100
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
MODAL_TITLE_MAX = 45


def button_label(item: discord.ui.Item[Any]) -> str:
    """The label a pressed button carried (a DynamicItem rebuilds itself from it), else ""."""
    return (item.label or "") if isinstance(item, discord.ui.Button) else ""


def clip(text: str | None, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    if not text:
        return ""
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """Cut every part of an embed to Discord's limits, then the whole to 6,000 characters."""
    if embed.title:
        embed.title = clip(embed.title, EMBED_TITLE_MAX)
    if embed.description:
        embed.description = clip(embed.description, EMBED_DESCRIPTION_MAX)
    if embed.footer.text:
        embed.set_footer(
            text=clip(embed.footer.text, EMBED_FOOTER_MAX), icon_url=embed.footer.icon_url
        )
    if embed.author.name:
        embed.set_author(
            name=clip(embed.author.name, EMBED_AUTHOR_MAX),
            url=embed.author.url,
            icon_url=embed.author.icon_url,
        )
    fields = embed.fields[:EMBED_FIELDS_MAX]
    embed.clear_fields()
    for field in fields:
        embed.add_field(
            name=clip(field.name, EMBED_FIELD_NAME_MAX) or "\u200b",
            value=clip(field.value, EMBED_FIELD_VALUE_MAX) or "\u200b",
            inline=bool(field.inline),
        )
    while len(embed) > EMBED_TOTAL_MAX and embed.fields:
        embed.remove_field(-1)
    if len(embed) > EMBED_TOTAL_MAX and embed.description:
        excess = len(embed) - EMBED_TOTAL_MAX
        embed.description = clip(embed.description, max(len(embed.description) - excess, 1))
    return embed
