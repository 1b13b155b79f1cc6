"""Embeds for characters, variants, quota and lists."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import discord

from bot.i18n import Catalog
from bot.services.quota import QuotaStatus
from bot.storage.pictures import Picture, is_web_url
from bot.ui.files import file_of
from bot.ui.text import clip, fit_embed
from db.meta import LIKENESS_SCORE, REMIX_OF, REMIX_OF_CREATOR_NAME, REMIX_OF_NAME
from db.models import Character, CharacterTheme, ThemeVariant

STYLE_COLOURS: dict[str, int] = {
    "realistic": 0x8D6E63,
    "anime": 0xEC407A,
    "cartoon": 0xFFCA28,
    "fantasy": 0x7E57C2,
    "cyberpunk": 0x00E5FF,
    "vintage": 0xA1887F,
    "minimalist": 0x90A4AE,
}


def show_image(
    embed: discord.Embed,
    image_filename: str | None,
    picture: Picture | None,
    stored_url: str | None,
) -> None:
    """Point the embed's image at the attached file, else the picture, else the stored URL
    when Discord can fetch it (else no image)."""
    if image_filename:
        embed.set_image(url=f"attachment://{image_filename}")
    elif picture is not None:
        embed.set_image(url=picture.url)
    elif stored_url and is_web_url(stored_url):
        embed.set_image(url=stored_url)


def picture_files(pictures: Iterable[Picture | None]) -> list[discord.File]:
    """The files to attach for the pictures that are attachments (a new list each time: a
    discord.File can be sent only once)."""
    return [
        file_of(p.data, p.filename)
        for p in pictures
        if p is not None and p.data is not None and p.filename is not None
    ]


def replacing_attachments(
    files: list[discord.File], current: discord.Message | None
) -> dict[str, list[discord.File]]:
    """The ``attachments`` argument of an edit that shows ``files`` in place of the message's
    own (nothing when neither has any, so such an edit stays as it was)."""
    if files or (current is not None and current.attachments):
        return {"attachments": files}
    return {}


def character_embed(
    catalog: Catalog,
    lang: str,
    character: Character,
    *,
    image_filename: str | None = None,
    picture: Picture | None = None,
    remixes: int = 0,
) -> discord.Embed:
    """The card of a character: name, style, key attributes, the credit of a remix ("remix
    of X by Y", names only: nobody is pinged), how many remixes it has (``remixes``), the
    image (a file attached as ``image_filename``, else ``picture``, else the stored URL when
    Discord can fetch it)."""
    t = catalog.t
    style = character.style_type or "realistic"
    embed = discord.Embed(
        title=clip(character.name or t(lang, "character.unnamed"), 256),
        description=clip(character.description, 1000) or None,
        colour=STYLE_COLOURS.get(style, 0x5865F2),
    )
    embed.add_field(name=t(lang, "field.style"), value=t(lang, f"style.{style}"), inline=True)
    for key, value in (
        ("field.age", character.age),
        ("field.gender", character.gender),
        ("field.occupation", character.occupation),
    ):
        if value:
            embed.add_field(name=t(lang, key), value=clip(value, 200), inline=True)
    if character.personality:
        embed.add_field(
            name=t(lang, "field.personality"), value=", ".join(character.personality), inline=False
        )
    if character.clothing:
        embed.add_field(name=t(lang, "field.clothing"), value=character.clothing, inline=False)
    if character.background:
        embed.add_field(
            name=t(lang, "field.backstory"), value=clip(character.background, 1024), inline=False
        )
    meta = character.meta or {}
    if meta.get(REMIX_OF):
        embed.add_field(
            name=t(lang, "remix.credit_title"),
            value=t(
                lang,
                "remix.credit",
                name=clip(str(meta.get(REMIX_OF_NAME) or t(lang, "character.unnamed")), 100),
                creator=clip(str(meta.get(REMIX_OF_CREATOR_NAME) or "?"), 100),
            ),
            inline=False,
        )
    if remixes:
        embed.add_field(name=t(lang, "remix.count_title"), value=str(remixes), inline=True)
    flags = []
    if character.is_public:
        flags.append(t(lang, "flag.public"))
    if character.is_favorite:
        flags.append(t(lang, "flag.favorite"))
    if character.is_in_library:
        flags.append(t(lang, "flag.library"))
    footer = t(lang, "character.footer", id=character.id)
    if flags:
        footer = " · ".join([*flags, footer])
    embed.set_footer(text=footer)
    show_image(embed, image_filename, picture, character.image_url)
    return fit_embed(embed)


def variant_embed(
    catalog: Catalog,
    lang: str,
    character: Character,
    theme: CharacterTheme,
    variant: ThemeVariant,
    *,
    image_filename: str | None = None,
    picture: Picture | None = None,
) -> discord.Embed:
    """A variant: its instruction, theme and image (as for :func:`character_embed`)."""
    embed = discord.Embed(
        title=clip(
            catalog.t(
                lang,
                "variant.title",
                character=character.name or catalog.t(lang, "character.unnamed"),
                theme=theme.name,
            ),
            256,
        ),
        description=clip(variant.prompt, 1000),
        colour=STYLE_COLOURS.get(character.style_type or "realistic", 0x5865F2),
    )
    footer = catalog.t(lang, "variant.footer", id=variant.id)
    score = (variant.meta or {}).get(LIKENESS_SCORE)
    if isinstance(score, int) and not isinstance(score, bool):
        footer = " · ".join((catalog.t(lang, "variant.likeness", score=score), footer))
    embed.set_footer(text=footer)
    show_image(embed, image_filename, picture, variant.image_url)
    return fit_embed(embed)


def relative(moment: datetime) -> str:
    """A Discord relative timestamp, rendered in each reader's locale."""
    return f"<t:{int(moment.timestamp())}:R>"


def tier_name(catalog: Catalog, lang: str, tier: str) -> str:
    """A subscription tier as the member reads it (a tier this version does not know: as
    stored)."""
    key = f"quota.tier.{tier}"
    return catalog.t(lang, key) if catalog.has(key) else tier


def quota_embed(catalog: Catalog, lang: str, status: QuotaStatus) -> discord.Embed:
    """Generations left today, tier, and when the count resets."""
    embed = discord.Embed(
        title=catalog.t(lang, "quota.title"),
        description=catalog.t(
            lang,
            "quota.body",
            remaining=status.remaining,
            quota=status.quota,
            tier=tier_name(catalog, lang, status.tier),
            reset=relative(status.resets_at),
        ),
        colour=0x57F287 if status.remaining else 0xED4245,
    )
    return fit_embed(embed)
