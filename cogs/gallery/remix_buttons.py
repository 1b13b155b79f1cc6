"""The Remix buttons as gallery cards and showcase posts carry them: built here, with nothing of
the remix flow imported (the showcase is reached from the character flows the remix uses), and
answered by the persistent ``RemixButton`` of :mod:`cogs.remix.remixing` (``remix:<id>``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

from bot.i18n import Catalog
from bot.services.gallery import GalleryEntry
from bot.ui.text import BUTTON_LABEL_MAX, clip

REMIX_EMOJI = "🔀"
REMIX_ROW = 2
"""Gallery pages: Previous/Next on row 0, Report buttons on row 1, Remix buttons on row 2."""
_NAME_IN_LABEL = 30


def remix_custom_id(character_id: str) -> str:
    """The custom_id of a character's Remix button."""
    return f"remix:{character_id}"


def remix_button(
    character_id: str, label: str, *, row: int | None = None
) -> discord.ui.Button[Any]:
    """A Remix button (its presses reach ``RemixButton`` by the custom_id)."""
    return discord.ui.Button(
        label=clip(label, BUTTON_LABEL_MAX) or None,
        emoji=REMIX_EMOJI,
        style=discord.ButtonStyle.secondary,
        custom_id=remix_custom_id(character_id),
        row=row,
    )


def add_remix_button(
    view: discord.ui.View, catalog: Catalog, lang: str, character_id: str
) -> discord.ui.View:
    """A showcase post's Remix button, added to its view."""
    view.add_item(remix_button(character_id, catalog.t(lang, "remix.button")))
    return view


def add_remix_buttons(
    view: discord.ui.View, catalog: Catalog, lang: str, entries: Sequence[GalleryEntry]
) -> discord.ui.View:
    """A gallery page's Remix buttons, one per card in the cards' order, on their own row."""
    for entry in entries[:5]:
        name = clip(entry.character.name or catalog.t(lang, "character.unnamed"), _NAME_IN_LABEL)
        label = catalog.t(lang, "remix.button_named", name=name)
        view.add_item(remix_button(entry.character.id, label, row=REMIX_ROW))
    return view
