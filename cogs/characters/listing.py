"""Paginated lists and confirmations whose buttons survive restarts (DynamicItems)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot.interactions.acknowledge import acknowledge
from bot.interactions.replies import NO_MENTIONS, reporting, update
from bot.services import characters as characters_service
from bot.ui.text import button_label, clip, fit_embed

if TYPE_CHECKING:
    from bot.app import CharBot
    from bot.i18n import Catalog
    from bot.interactions.caller import Caller

LIST_PAGE_SIZE = 10


async def character_list_message(
    bot: CharBot, caller: Caller, filter_: str, cursor: str | None
) -> tuple[discord.Embed, discord.ui.View]:
    """One page of the caller's characters and the Previous/Next buttons."""
    lang = caller.lang
    t = bot.catalog.t
    async with bot.reads() as session:
        page = await characters_service.list_characters(
            session,
            caller.user.id,
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
        description="\n".join(lines) if lines else t(lang, "list.empty"),
        colour=0x5865F2,
    )
    view = discord.ui.View(timeout=None)
    view.add_item(
        CharacterListButton.make(bot.catalog, lang, filter_, page.prev_cursor, forward=False)
    )
    view.add_item(
        CharacterListButton.make(bot.catalog, lang, filter_, page.next_cursor, forward=True)
    )
    return fit_embed(embed), view


class CharacterListButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"clist:(?P<filter>all|favorites|library):(?P<dir>[pn]):(?P<cursor>[A-Za-z0-9_.~=-]{0,100})",
):
    """Previous/Next of /character list; the cursor rides in the custom_id."""

    def __init__(self, filter_: str, cursor: str | None, forward: bool, label: str = "") -> None:
        token = cursor or ""
        custom_id = f"clist:{filter_}:{'n' if forward else 'p'}:{token}"[:100]
        super().__init__(
            discord.ui.Button(
                label=label or ("→" if forward else "←"),
                style=discord.ButtonStyle.secondary,
                custom_id=custom_id,
                disabled=cursor is None,
            )
        )
        self.filter = filter_
        self.cursor = cursor

    @classmethod
    def make(
        cls, catalog: Catalog, lang: str, filter_: str, cursor: str | None, *, forward: bool
    ) -> CharacterListButton:
        label = catalog.t(lang, "button.next" if forward else "button.previous")
        return cls(filter_, cursor, forward, label)

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CharacterListButton:
        return cls(
            match["filter"], match["cursor"] or None, match["dir"] == "n", button_label(item)
        )

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await reporting(interaction, lambda: self._run(interaction))

    async def _run(self, interaction: discord.Interaction[Any]) -> None:
        bot: CharBot = interaction.client
        await acknowledge(interaction, directly=True)  # before any database work
        caller = await bot.caller(interaction)
        embed, view = await character_list_message(bot, caller, self.filter, self.cursor)
        await update(interaction, embed=embed, view=view, allowed_mentions=NO_MENTIONS)


class ConfirmDeleteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"chardel:(?P<id>[0-9a-f-]{36}):(?P<answer>yes|no)",
):
    """Confirm or cancel /character delete."""

    def __init__(self, character_id: str, confirm: bool, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or ("Delete" if confirm else "Cancel"),
                style=discord.ButtonStyle.danger if confirm else discord.ButtonStyle.secondary,
                custom_id=f"chardel:{character_id}:{'yes' if confirm else 'no'}",
            )
        )
        self.character_id = character_id
        self.confirm = confirm

    @classmethod
    def make(
        cls, catalog: Catalog, lang: str, character_id: str, *, confirm: bool
    ) -> ConfirmDeleteButton:
        label = catalog.t(lang, "button.delete" if confirm else "button.cancel")
        return cls(character_id, confirm, label)

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ConfirmDeleteButton:
        return cls(match["id"], match["answer"] == "yes", button_label(item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await reporting(interaction, lambda: self._run(interaction))

    async def _run(self, interaction: discord.Interaction[Any]) -> None:
        bot: CharBot = interaction.client
        await acknowledge(interaction, directly=True)  # before any database work
        caller = await bot.caller(interaction)
        t = bot.catalog.t
        if not self.confirm:
            await update(interaction, content=t(caller.lang, "delete.cancelled"), view=None)
            return
        async with bot.sessions.begin() as session:
            deleted = await characters_service.delete_character(
                session, self.character_id, caller.user.id
            )
        await bot.delete_objects(deleted.storage_keys)
        await update(
            interaction,
            content=t(caller.lang, "delete.done", name=clip(deleted.name or "", 100)),
            view=None,
            allowed_mentions=NO_MENTIONS,
        )
