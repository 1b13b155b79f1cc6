"""Gallery pages: one embed per character (image, name, creator, style, tags) and Previous/Next
buttons that carry the keyset cursor and the filters in their custom_id, so they work after a
restart and on any process.

custom_id layouts (at most 100 characters):
- ``gb:<button n|p><sort n|o><style 0-6|->:<cursor>:<tag>`` for /gallery browse (the tag comes
  last, so it may hold any character; at most :data:`MAX_TAG_IN_ID` of it fits beside a cursor);
- ``gu:<button n|p>:<user id>:<cursor>`` for /gallery user.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot.interactions.acknowledge import acknowledge
from bot.interactions.replies import NO_MENTIONS, reporting, update
from bot.services import gallery as gallery_service
from bot.services.gallery import GalleryEntry
from bot.services.pagination import Page
from bot.ui.embeds import STYLE_COLOURS
from bot.ui.text import CUSTOM_ID_MAX, EMBED_TOTAL_MAX, button_label, clip, fit_embed
from db.models import STYLES

if TYPE_CHECKING:
    from bot.app import CharBot
    from bot.i18n import Catalog
    from bot.interactions.caller import Caller

PAGE_SIZE = 5
MAX_TAG_IN_ID = 40
_CURSOR_CHARS = r"[A-Za-z0-9_.~=-]{0,64}"


@dataclass(frozen=True, slots=True)
class BrowseFilters:
    """What /gallery browse was asked for."""

    style: str | None = None
    tag: str | None = None
    sort: str = "newest"


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


def _style_code(style: str | None) -> str:
    return str(STYLES.index(style)) if style in STYLES else "-"


def _style_of(code: str) -> str | None:
    return STYLES[int(code)] if code.isdigit() and int(code) < len(STYLES) else None


def browse_custom_id(filters: BrowseFilters, cursor: str | None, *, forward: bool) -> str | None:
    """The button's custom_id, or None when the filters and cursor cannot fit in 100 chars."""
    sort = "o" if filters.sort == "oldest" else "n"
    custom_id = (
        f"gb:{'n' if forward else 'p'}{sort}{_style_code(filters.style)}:"
        f"{cursor or ''}:{filters.tag or ''}"
    )
    return custom_id if len(custom_id) <= CUSTOM_ID_MAX else None


def _button(
    custom_id: str | None, label: str, enabled: bool, fallback: str
) -> discord.ui.Button[Any]:
    return discord.ui.Button(
        label=label,
        style=discord.ButtonStyle.secondary,
        custom_id=custom_id or fallback,
        disabled=not enabled or custom_id is None,
    )


def _label(item: discord.ui.Item[Any], forward: bool) -> str:
    return button_label(item) or ("→" if forward else "←")


class GalleryBrowseButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"gb:(?P<btn>[np])(?P<sort>[no])(?P<style>[0-9-]):(?P<cursor>"
    + _CURSOR_CHARS
    + r"):(?P<tag>.{0,60})",
):
    """Previous/Next of /gallery browse."""

    def __init__(
        self, filters: BrowseFilters, cursor: str | None, *, forward: bool, label: str
    ) -> None:
        custom_id = browse_custom_id(filters, cursor, forward=forward)
        super().__init__(
            _button(custom_id, label, cursor is not None, f"gb:{'n' if forward else 'p'}n-::")
        )
        self.filters = filters
        self.cursor = cursor

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> GalleryBrowseButton:
        forward = match["btn"] == "n"
        filters = BrowseFilters(
            style=_style_of(match["style"]),
            tag=match["tag"] or None,
            sort="oldest" if match["sort"] == "o" else "newest",
        )
        return cls(filters, match["cursor"] or None, forward=forward, label=_label(item, forward))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await reporting(interaction, lambda: self._run(interaction))

    async def _run(self, interaction: discord.Interaction[Any]) -> None:
        bot: CharBot = interaction.client
        await acknowledge(interaction, directly=True)  # before any database work
        caller = await bot.caller(interaction)
        content, embeds, view = await browse_message(bot, caller, self.filters, self.cursor)
        await update(
            interaction, content=content, embeds=embeds, view=view, allowed_mentions=NO_MENTIONS
        )


class GalleryUserButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"gu:(?P<btn>[np]):(?P<user>[0-9A-Za-z-]{1,40}):(?P<cursor>" + _CURSOR_CHARS + r")",
):
    """Previous/Next of /gallery user."""

    def __init__(
        self, target_user_id: str, cursor: str | None, *, forward: bool, label: str
    ) -> None:
        custom_id = f"gu:{'n' if forward else 'p'}:{target_user_id}:{cursor or ''}"
        super().__init__(
            _button(
                custom_id if len(custom_id) <= CUSTOM_ID_MAX else None,
                label,
                cursor is not None,
                f"gu:{'n' if forward else 'p'}:{target_user_id[:40]}:",
            )
        )
        self.target_user_id = target_user_id
        self.cursor = cursor

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> GalleryUserButton:
        forward = match["btn"] == "n"
        return cls(
            match["user"], match["cursor"] or None, forward=forward, label=_label(item, forward)
        )

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await reporting(interaction, lambda: self._run(interaction))

    async def _run(self, interaction: discord.Interaction[Any]) -> None:
        bot: CharBot = interaction.client
        await acknowledge(interaction, directly=True)  # before any database work
        caller = await bot.caller(interaction)
        content, embeds, view = await user_gallery_message(
            bot, caller, self.target_user_id, None, self.cursor
        )
        await update(
            interaction, content=content, embeds=embeds, view=view, allowed_mentions=NO_MENTIONS
        )


def _paging_view(
    page: Page[GalleryEntry],
    make: Any,
    catalog: Catalog,
    lang: str,
) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(make(page.prev_cursor, forward=False, label=catalog.t(lang, "button.previous")))
    view.add_item(make(page.next_cursor, forward=True, label=catalog.t(lang, "button.next")))
    return view


async def browse_message(
    bot: CharBot, caller: Caller, filters: BrowseFilters, cursor: str | None
) -> tuple[str, list[discord.Embed], discord.ui.View | None]:
    """One page of the public gallery: a header line, the cards, Previous/Next."""
    lang = caller.lang
    t = bot.catalog.t
    async with bot.reads() as session:
        page = await gallery_service.browse(
            session,
            style=filters.style,
            tag=filters.tag,
            sort=filters.sort,  # type: ignore[arg-type]
            cursor=cursor,
            limit=PAGE_SIZE,
        )
    if not page.items:
        return t(lang, "gallery.empty"), [], None
    embeds = page_embeds(bot.catalog, lang, page.items)
    header = t(lang, "gallery.title")
    if filters.style:
        header += " · " + t(lang, f"style.{filters.style}")
    if filters.tag:
        header += f" · #{clip(filters.tag, 50)}"

    def make(token: str | None, *, forward: bool, label: str) -> GalleryBrowseButton:
        return GalleryBrowseButton(filters, token, forward=forward, label=label)

    return clip(header, 200), embeds, _paging_view(page, make, bot.catalog, lang)


async def user_gallery_message(
    bot: CharBot,
    caller: Caller,
    target_user_id: str,
    target_name: str | None,
    cursor: str | None,
) -> tuple[str, list[discord.Embed], discord.ui.View | None]:
    """One page of a member's published characters."""
    lang = caller.lang
    t = bot.catalog.t
    async with bot.reads() as session:
        page = await gallery_service.user_gallery(
            session, target_user_id, caller.user.id, cursor=cursor, limit=PAGE_SIZE
        )
    if not page.items:
        return t(lang, "gallery.user_empty"), [], None
    name = target_name or page.items[0].creator_name
    embeds = page_embeds(bot.catalog, lang, page.items)

    def make(token: str | None, *, forward: bool, label: str) -> GalleryUserButton:
        return GalleryUserButton(target_user_id, token, forward=forward, label=label)

    header = t(lang, "gallery.user_title", name=clip(name, 100))
    return header, embeds, _paging_view(page, make, bot.catalog, lang)
