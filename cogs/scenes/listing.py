"""/scene list: the member's scenes, newest first, page by page; Previous/Next carry the
cursor in the custom_id ``slist:<n|p>:<cursor>`` (disabled when there is no page that way)."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.interactions.caller import Caller, caller
from bot.interactions.deps import deps_of
from bot.interactions.routing import PagerButton, pager_label, pager_view
from bot.services import scenes
from bot.ui.text import clip
from cogs.scenes.views import list_lines

LIST_SIZE = 10


async def scene_list_message(
    interaction: discord.Interaction[Any], member: Caller, cursor: str | None
) -> tuple[discord.Embed, discord.ui.View]:
    """One page of the member's scenes and the Previous/Next buttons."""
    deps = deps_of(interaction.client)
    t = deps.catalog.t
    lang = member.lang
    page = await scenes.scene_page(deps.db, member.user.id, cursor=cursor, limit=LIST_SIZE)
    lines = list_lines(deps.catalog, lang, page.items)
    empty = t(lang, "scene.list_empty", command=deps.command_ids.mention("scene create"))
    embed = discord.Embed(
        title=t(lang, "scene.list_title"), description=clip(lines, 4000) or empty, colour=0x5865F2
    )

    def make(token: str | None, *, forward: bool, label: str) -> SceneListButton:
        return SceneListButton(token, forward=forward, label=label)

    view = pager_view(
        make, page.prev_cursor, page.next_cursor, t(lang, "button.previous"), t(lang, "button.next")
    )
    return embed, view


class SceneListButton(
    PagerButton, template=r"slist:(?P<dir>[pn]):(?P<cursor>[A-Za-z0-9_.~=-]{0,90})"
):
    """Previous/Next of /scene list."""

    def __init__(self, cursor: str | None, *, forward: bool, label: str) -> None:
        custom_id = f"slist:{'n' if forward else 'p'}:{cursor or ''}"
        super().__init__(
            custom_id if len(custom_id) <= 100 else None,
            forward=forward,
            label=label,
            enabled=cursor is not None,
            fallback=f"slist:{'n' if forward else 'p'}:",
        )
        self.cursor = cursor

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> SceneListButton:
        forward = match["dir"] == "n"
        return cls(match["cursor"] or None, forward=forward, label=pager_label(item, forward))

    async def page(self, interaction: discord.Interaction[Any]) -> dict[str, Any]:
        member = await caller(interaction)
        embed, view = await scene_list_message(interaction, member, self.cursor)
        return {"embed": embed, "view": view}
