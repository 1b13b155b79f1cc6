"""/character list and /character delete's confirmation: the list's page with its
Previous/Next buttons, and the Delete/Cancel buttons (persistent: state rides in the
custom_id)."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.interactions.caller import Caller, caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, update
from bot.interactions.routing import ConfirmButton, PagerButton, pager_label, pager_view
from bot.services import characters
from bot.ui.text import clip, fit_embed

LIST_PAGE_SIZE = 10


async def character_list_message(
    interaction: discord.Interaction[Any], member: Caller, filter_: str, cursor: str | None
) -> tuple[discord.Embed, discord.ui.View]:
    """One page of the member's characters and the Previous/Next buttons."""
    deps = deps_of(interaction.client)
    lang = member.lang
    t = deps.catalog.t
    page = await characters.character_page(
        deps.db,
        member.user.id,
        filter=filter_,  # type: ignore[arg-type]
        cursor=cursor,
        limit=LIST_PAGE_SIZE,
    )
    lines = []
    for character in page.items:
        marks = ("⭐" if character.is_favorite else "") + ("🌐" if character.is_public else "")
        lines.append(
            t(
                lang,
                "list.line",
                name=clip(character.name or t(lang, "character.unnamed"), 80),
                style=t(lang, f"style.{character.style_type or 'realistic'}"),
                marks=marks,
                created=f"<t:{int(character.created_at.timestamp())}:R>",
            )
        )
    embed = discord.Embed(
        title=t(lang, f"list.title.{filter_}"),
        description="\n".join(lines)
        if lines
        else t(lang, "list.empty", command=deps.command_ids.mention("character create")),
        colour=0x5865F2,
    )

    def make(cursor: str | None, *, forward: bool, label: str) -> CharacterListButton:
        return CharacterListButton(filter_, cursor, forward=forward, label=label)

    view = pager_view(
        make,
        page.prev_cursor,
        page.next_cursor,
        t(lang, "button.previous"),
        t(lang, "button.next"),
    )
    return fit_embed(embed), view


class CharacterListButton(
    PagerButton,
    template=r"clist:(?P<filter>all|favorites|library):(?P<dir>[pn]):(?P<cursor>[A-Za-z0-9_.~=-]{0,100})",
):
    """Previous/Next of /character list; the filter and the cursor ride in the custom_id
    (disabled when there is no page that way)."""

    def __init__(self, filter_: str, cursor: str | None, *, forward: bool, label: str) -> None:
        custom_id = f"clist:{filter_}:{'n' if forward else 'p'}:{cursor or ''}"[:100]
        super().__init__(custom_id, forward=forward, label=label, enabled=cursor is not None)
        self.filter = filter_
        self.cursor = cursor

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CharacterListButton:
        forward = match["dir"] == "n"
        return cls(
            match["filter"],
            match["cursor"] or None,
            forward=forward,
            label=pager_label(item, forward),
        )

    async def page(self, interaction: discord.Interaction[Any]) -> dict[str, Any]:
        member = await caller(interaction)
        embed, view = await character_list_message(interaction, member, self.filter, self.cursor)
        return {"embed": embed, "view": view}


class ConfirmDeleteButton(
    ConfirmButton,
    template=r"chardel:(?P<id>[0-9a-f-]{36}):(?P<answer>yes|no)",
):
    """Confirm or cancel /character delete."""

    prefix = "chardel"

    async def confirmed(self, interaction: discord.Interaction[Any], member: Caller) -> None:
        """Delete the character and its stored images."""
        deps = deps_of(interaction.client)
        t = deps.catalog.t
        deleted = await characters.remove_character(
            deps.db, deps.storage, self.target_id, member.user.id
        )
        await update(
            interaction,
            content=t(member.lang, "delete.done", name=clip(deleted.name or "", 100)),
            view=None,
            allowed_mentions=NO_MENTIONS,
        )
