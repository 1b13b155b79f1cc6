"""Gallery pages: Previous/Next buttons that carry the keyset cursor and the filters in their
custom_id, so they work after a restart and on any process, and the messages they page through.

custom_id layouts (at most 100 characters):
- ``gb:<button n|p><sort n|o><style 0-6|->:<cursor>:<tag>`` for /gallery browse (the tag comes
  last, so it may hold any character; at most :data:`MAX_TAG_IN_ID` of it fits beside a cursor);
- ``gu:<button n|p>:<user id>:<cursor>`` for /gallery user.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from typing import Any

import discord

from bot.interactions.caller import Caller, caller
from bot.interactions.deps import Deps, deps_of
from bot.interactions.routing import PagerButton, pager_label, pager_view
from bot.services import gallery as gallery_service
from bot.services.gallery import BrowseFilters, GalleryEntry
from bot.services.pagination import Page
from bot.storage.pictures import Picture, picture
from bot.ui.embeds import picture_files, replacing_attachments
from bot.ui.text import CUSTOM_ID_MAX
from cogs.gallery.report import add_report_buttons
from cogs.gallery.views import browse_header, page_embeds, user_header
from db.models import STYLES

PAGE_SIZE = 5
MAX_TAG_IN_ID = 40
_CURSOR_CHARS = r"[A-Za-z0-9_.~=-]{0,64}"

GalleryMessage = tuple[str, list[discord.Embed], discord.ui.View | None, list[Picture | None]]
"""A page's header line, its cards, Previous/Next (None when the page is empty), and the
pictures of the cards (those to attach become the message's files)."""


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


def _as_update(message: GalleryMessage, current: discord.Message | None) -> dict[str, Any]:
    content, embeds, view, shown = message
    return {
        "content": content,
        "embeds": embeds,
        "view": view,
        **replacing_attachments(picture_files(shown), current),
    }


class GalleryBrowseButton(
    PagerButton,
    template=r"gb:(?P<btn>[np])(?P<sort>[no])(?P<style>[0-9-]):(?P<cursor>"
    + _CURSOR_CHARS
    + r"):(?P<tag>.{0,60})",
):
    """Previous/Next of /gallery browse."""

    def __init__(
        self, filters: BrowseFilters, cursor: str | None, *, forward: bool, label: str
    ) -> None:
        super().__init__(
            browse_custom_id(filters, cursor, forward=forward),
            forward=forward,
            label=label,
            enabled=cursor is not None,
            fallback=f"gb:{'n' if forward else 'p'}n-::",
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
        return cls(
            filters, match["cursor"] or None, forward=forward, label=pager_label(item, forward)
        )

    async def page(self, interaction: discord.Interaction[Any]) -> dict[str, Any]:
        viewer = await caller(interaction)
        deps = deps_of(interaction.client)
        return _as_update(
            await browse_message(
                deps, viewer, self.filters, self.cursor, guild_id=interaction.guild_id
            ),
            interaction.message,
        )


class GalleryUserButton(
    PagerButton,
    template=r"gu:(?P<btn>[np]):(?P<user>[0-9A-Za-z-]{1,40}):(?P<cursor>" + _CURSOR_CHARS + r")",
):
    """Previous/Next of /gallery user."""

    def __init__(
        self, target_user_id: str, cursor: str | None, *, forward: bool, label: str
    ) -> None:
        custom_id = f"gu:{'n' if forward else 'p'}:{target_user_id}:{cursor or ''}"
        super().__init__(
            custom_id if len(custom_id) <= CUSTOM_ID_MAX else None,
            forward=forward,
            label=label,
            enabled=cursor is not None,
            fallback=f"gu:{'n' if forward else 'p'}:{target_user_id[:40]}:",
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
            match["user"],
            match["cursor"] or None,
            forward=forward,
            label=pager_label(item, forward),
        )

    async def page(self, interaction: discord.Interaction[Any]) -> dict[str, Any]:
        viewer = await caller(interaction)
        deps = deps_of(interaction.client)
        return _as_update(
            await user_gallery_message(
                deps,
                viewer,
                self.target_user_id,
                None,
                self.cursor,
                guild_id=interaction.guild_id,
            ),
            interaction.message,
        )


def _pager(
    deps: Deps, lang: str, page: Page[GalleryEntry], make: Callable[..., PagerButton]
) -> discord.ui.View:
    t = deps.catalog.t
    return pager_view(
        make, page.prev_cursor, page.next_cursor, t(lang, "button.previous"), t(lang, "button.next")
    )


async def _cards(
    deps: Deps, lang: str, entries: Sequence[GalleryEntry]
) -> tuple[list[discord.Embed], list[Picture | None]]:
    """The page's cards and the pictures of those shown (a thumbnail attached per card when
    the images are local files: several fit in one message)."""
    shown = await asyncio.gather(
        *(
            picture(deps.storage, entry.character, name=f"card{i}", small=True)
            for i, entry in enumerate(entries, 1)
        )
    )
    embeds = page_embeds(deps.catalog, lang, entries, shown)
    return embeds, shown[: len(embeds)]


async def browse_message(
    deps: Deps,
    viewer: Caller,
    filters: BrowseFilters,
    cursor: str | None,
    *,
    guild_id: int | None,
) -> GalleryMessage:
    """One page of the public gallery as shown in ``guild_id``: a header line, the cards,
    Previous/Next."""
    lang = viewer.lang
    page = await gallery_service.browse_page(deps.db, filters, cursor, PAGE_SIZE, guild_id=guild_id)
    if not page.items:
        publish = deps.command_ids.mention("character publish")
        return deps.catalog.t(lang, "gallery.empty", command=publish), [], None, []

    def make(token: str | None, *, forward: bool, label: str) -> GalleryBrowseButton:
        return GalleryBrowseButton(filters, token, forward=forward, label=label)

    embeds, shown = await _cards(deps, lang, page.items)
    header = browse_header(deps.catalog, lang, filters)
    view = _pager(deps, lang, page, make)
    add_report_buttons(view, deps.catalog, lang, viewer.user.id, page.items[: len(embeds)])
    return header, embeds, view, shown


async def user_gallery_message(
    deps: Deps,
    viewer: Caller,
    target_user_id: str,
    target_name: str | None,
    cursor: str | None,
    *,
    guild_id: int | None,
) -> GalleryMessage:
    """One page of a member's published characters, as shown in ``guild_id``."""
    lang = viewer.lang
    page = await gallery_service.user_gallery_page(
        deps.db, target_user_id, viewer.user.id, cursor, PAGE_SIZE, guild_id=guild_id
    )
    if not page.items:
        return deps.catalog.t(lang, "gallery.user_empty"), [], None, []
    name = target_name or page.items[0].creator_name

    def make(token: str | None, *, forward: bool, label: str) -> GalleryUserButton:
        return GalleryUserButton(target_user_id, token, forward=forward, label=label)

    embeds, shown = await _cards(deps, lang, page.items)
    view = _pager(deps, lang, page, make)
    add_report_buttons(view, deps.catalog, lang, viewer.user.id, page.items[: len(embeds)])
    return user_header(deps.catalog, lang, name), embeds, view, shown
