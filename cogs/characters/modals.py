"""Modals: edit a character, ask for a new variant."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.i18n import Catalog
from bot.interactions.replies import reporting
from bot.ui.text import clip
from db.models import Character

EditHandler = Callable[[discord.Interaction[Any], str, dict[str, str]], Awaitable[None]]
VariantHandler = Callable[[discord.Interaction[Any], str, str | None, str], Awaitable[None]]


def _title(text: str) -> str:
    return clip(text, 45)


class ReportingModal(discord.ui.Modal):
    """A modal whose submission is handled like a command: its outcome is recorded and any
    error becomes the member's localised reply."""

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        await reporting(interaction, lambda: self.submit(interaction))

    async def submit(self, interaction: discord.Interaction[Any]) -> None:
        """Handle the submitted values."""
        raise NotImplementedError


class EditCharacterModal(ReportingModal):
    """Name, description, personality, clothing, backstory."""

    def __init__(
        self, catalog: Catalog, lang: str, character: Character, on_submit: EditHandler
    ) -> None:
        super().__init__(
            title=_title(catalog.t(lang, "modal.edit.title")),
            custom_id=f"charedit:{character.id}",
            timeout=900,
        )
        self.character_id = character.id
        self._handler = on_submit
        t = catalog.t
        self.name_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=_title(t(lang, "field.name")),
            default=clip(character.name, 100) or None,
            max_length=100,
            required=True,
        )
        self.description_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=_title(t(lang, "field.description")),
            style=discord.TextStyle.paragraph,
            default=clip(character.description, 2000) or None,
            max_length=2000,
            required=False,
        )
        self.personality_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=_title(t(lang, "field.personality")),
            default=clip(", ".join(character.personality or []), 1000) or None,
            placeholder=clip(t(lang, "modal.edit.personality_hint"), 100),
            max_length=1000,
            required=False,
        )
        self.clothing_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=_title(t(lang, "field.clothing")),
            style=discord.TextStyle.paragraph,
            default=clip(character.clothing, 1000) or None,
            max_length=1000,
            required=False,
        )
        self.backstory_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=_title(t(lang, "field.backstory")),
            style=discord.TextStyle.paragraph,
            default=clip(character.background, 1000) or None,
            max_length=1000,
            required=False,
        )
        for item in (
            self.name_input,
            self.description_input,
            self.personality_input,
            self.clothing_input,
            self.backstory_input,
        ):
            self.add_item(item)

    async def submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._handler(
            interaction,
            self.character_id,
            {
                "name": self.name_input.value,
                "description": self.description_input.value,
                "personality": self.personality_input.value,
                "clothing": self.clothing_input.value,
                "background": self.backstory_input.value,
            },
        )


class NewVariantModal(ReportingModal):
    """Theme (optional) and the edit instruction."""

    def __init__(
        self, catalog: Catalog, lang: str, character_id: str, on_submit: VariantHandler
    ) -> None:
        super().__init__(
            title=_title(catalog.t(lang, "modal.variant.title")),
            custom_id=f"charvar:{character_id}",
            timeout=900,
        )
        self.character_id = character_id
        self._handler = on_submit
        self.theme_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=_title(catalog.t(lang, "field.theme")),
            placeholder=clip(catalog.t(lang, "modal.variant.theme_hint"), 100),
            max_length=50,
            required=False,
        )
        self.instruction_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=_title(catalog.t(lang, "field.instruction")),
            placeholder=clip(catalog.t(lang, "modal.variant.instruction_hint"), 100),
            style=discord.TextStyle.paragraph,
            max_length=500,
            required=True,
        )
        self.add_item(self.theme_input)
        self.add_item(self.instruction_input)

    async def submit(self, interaction: discord.Interaction[Any]) -> None:
        await self._handler(
            interaction,
            self.character_id,
            self.theme_input.value.strip() or None,
            self.instruction_input.value,
        )
