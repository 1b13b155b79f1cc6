"""Persistent buttons: DynamicItems whose custom_id carries the ids, so they work after a
restart and on any process (the state they act on lives in PostgreSQL)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bot.i18n import Catalog
from bot.interactions.replies import reporting
from bot.ui.text import button_label
from db.models import Character

if TYPE_CHECKING:
    from bot.app import CharBot

CHARACTER_ACTIONS = ("fav", "lib", "pub", "var", "regen", "exp")
OWNER_ACTIONS = frozenset({"fav", "lib", "pub", "var", "regen"})


def _style(item: discord.ui.Item[Any]) -> discord.ButtonStyle:
    if isinstance(item, discord.ui.Button):
        return item.style
    return discord.ButtonStyle.secondary


class CharacterButtonHandler(Protocol):
    """What handles a press of a character's button (the characters cog)."""

    async def on_character_button(
        self, interaction: discord.Interaction[CharBot], character_id: str, action: str
    ) -> None: ...


class CharacterButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"char:(?P<id>[0-9a-f-]{36}):(?P<action>fav|lib|pub|var|regen|exp)",
):
    """One of a character's buttons: ``char:<character id>:<action>``."""

    def __init__(
        self,
        character_id: str,
        action: str,
        *,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        emoji: str | None = None,
        disabled: bool = False,
        row: int | None = None,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80] or None,
                style=style,
                emoji=emoji,
                custom_id=f"char:{character_id}:{action}",
                disabled=disabled,
                row=row,
            )
        )
        self.character_id = character_id
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CharacterButton:
        return cls(match["id"], match["action"], label=button_label(item), style=_style(item))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        bot: CharBot = interaction.client
        await reporting(
            interaction,
            lambda: bot.character_buttons().on_character_button(
                interaction, self.character_id, self.action
            ),
        )


def character_view(
    catalog: Catalog, lang: str, character: Character, *, disabled: bool = False
) -> discord.ui.View:
    """The buttons under a character's message, reflecting its flags."""
    t = catalog.t
    cid = character.id
    view = discord.ui.View(timeout=None)
    on, off = discord.ButtonStyle.success, discord.ButtonStyle.secondary
    buttons = [
        CharacterButton(
            cid,
            "fav",
            label=t(lang, "button.unfavorite" if character.is_favorite else "button.favorite"),
            emoji="⭐",
            style=on if character.is_favorite else off,
            row=0,
        ),
        CharacterButton(
            cid,
            "lib",
            label=t(lang, "button.unlibrary" if character.is_in_library else "button.library"),
            emoji="📚",
            style=on if character.is_in_library else off,
            row=0,
        ),
        CharacterButton(
            cid,
            "pub",
            label=t(lang, "button.unpublish" if character.is_public else "button.publish"),
            emoji="🌐",
            style=on if character.is_public else off,
            row=0,
        ),
        CharacterButton(
            cid,
            "var",
            label=t(lang, "button.variant"),
            emoji="🎨",
            style=discord.ButtonStyle.primary,
            row=1,
        ),
        CharacterButton(cid, "regen", label=t(lang, "button.regenerate"), emoji="🔄", row=1),
        CharacterButton(cid, "exp", label=t(lang, "button.export"), emoji="📦", row=1),
    ]
    for button in buttons:
        button.item.disabled = disabled
        view.add_item(button)
    return view
