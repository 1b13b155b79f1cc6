"""/gallery browse kind:scenes: public scenes page by page, their Previous/Next buttons
carrying the cursor in the custom_id ``gs:<n|p>:<cursor>``."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import discord

from bot.interactions.caller import Caller, caller
from bot.interactions.deps import Deps, deps_of
from bot.interactions.routing import PagerButton, pager_label, pager_view
from bot.services.scenes.gallery import scene_gallery_page
from bot.storage.pictures import Picture, picture
from bot.ui.embeds import picture_files, replacing_attachments
from bot.ui.text import EMBED_TOTAL_MAX
from cogs.scenes.views import scene_embed

PAGE_SIZE = 5
_CURSOR_CHARS = r"[A-Za-z0-9_.~=-]{0,64}"

SceneGalleryMessage = tuple[str, list[discord.Embed], discord.ui.View | None, list[Picture | None]]


class SceneGalleryButton(
    PagerButton, template=r"gs:(?P<btn>[np]):(?P<cursor>" + _CURSOR_CHARS + ")"
):
    """Previous/Next of /gallery browse kind:scenes."""

    def __init__(self, cursor: str | None, *, forward: bool, label: str) -> None:
        direction = "n" if forward else "p"
        super().__init__(
            f"gs:{direction}:{cursor or ''}",
            forward=forward,
            label=label,
            enabled=cursor is not None,
            fallback=f"gs:{direction}:",
        )
        self.cursor = cursor

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SceneGalleryButton:
        forward = match["btn"] == "n"
        return cls(match["cursor"] or None, forward=forward, label=pager_label(item, forward))

    async def page(self, interaction: discord.Interaction[Any]) -> dict[str, Any]:
        viewer = await caller(interaction)
        deps = deps_of(interaction.client)
        content, embeds, view, shown = await scene_gallery_message(
            deps, viewer, self.cursor, guild_id=interaction.guild_id
        )
        return {
            "content": content,
            "embeds": embeds,
            "view": view,
            **replacing_attachments(picture_files(shown), interaction.message),
        }


async def scene_gallery_message(
    deps: Deps, viewer: Caller, cursor: str | None, *, guild_id: int | None
) -> SceneGalleryMessage:
    """One page of public scenes as shown in ``guild_id``: a header, the cards, Previous/Next."""
    t = deps.catalog.t
    lang = viewer.lang
    page = await scene_gallery_page(deps.db, cursor, PAGE_SIZE, guild_id=guild_id)
    if not page.items:
        publish = deps.command_ids.mention("scene publish")
        return t(lang, "scene.gallery_empty", command=publish), [], None, []
    shown = await asyncio.gather(
        *(
            picture(deps.storage, entry.view.scene, name=f"scene{i}", small=True)
            for i, entry in enumerate(page.items, 1)
        )
    )
    embeds: list[discord.Embed] = []
    total = 0
    for entry, pic in zip(page.items, shown, strict=True):
        embed = scene_embed(deps.catalog, lang, entry.view, picture=pic, creator=entry.creator_name)
        if total + len(embed) > EMBED_TOTAL_MAX:
            break
        embeds.append(embed)
        total += len(embed)

    def make(token: str | None, *, forward: bool, label: str) -> SceneGalleryButton:
        return SceneGalleryButton(token, forward=forward, label=label)

    view = pager_view(
        make, page.prev_cursor, page.next_cursor, t(lang, "button.previous"), t(lang, "button.next")
    )
    return t(lang, "scene.gallery_header"), embeds, view, list(shown[: len(embeds)])
