"""The characters' modals and what their submission does: edit a character's details, ask for
a new variant."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.i18n import Catalog
from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import respond
from bot.interactions.routing import FeatureModal
from bot.services import characters
from bot.storage.pictures import picture
from bot.ui.embeds import character_embed, picture_files
from bot.ui.text import clip
from cogs.characters.variant import variant_flow
from db.meta import Meta
from db.models import Character

# commas of any script separate traits (",", "，", "、") as do line breaks
_TRAIT_SEPARATORS = re.compile(r"[,，、\n]")


def _title(text: str) -> str:
    return clip(text, 45)


def traits(text: str) -> list[str]:
    """The personality traits typed into the modal, in order, blanks dropped."""
    return [p for p in (p.strip() for p in _TRAIT_SEPARATORS.split(text)) if p]


class EditCharacterModal(FeatureModal):
    """Name, description, personality, clothing, backstory; the submission saves them."""

    def __init__(self, catalog: Catalog, lang: str, character: Character) -> None:
        super().__init__(
            title=_title(catalog.t(lang, "modal.edit.title")),
            custom_id=f"charedit:{character.id}",
            timeout=900,
        )
        self.character_id = character.id
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

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Save the details; answer privately with the updated card."""
        await acknowledge(interaction, directly=True, ephemeral=True, thinking=True)
        deps = deps_of(interaction.client)
        member = await caller(interaction)
        row = await characters.save_edit(
            deps.db,
            self.character_id,
            member.user.id,
            name=self.name_input.value,
            description=self.description_input.value,
            personality=traits(self.personality_input.value),
            clothing=self.clothing_input.value,
            background=self.backstory_input.value,
        )
        shown = await picture(deps.storage, row, name="portrait")
        await respond(
            interaction,
            deps.catalog.t(member.lang, "edit.done", name=row.name or ""),
            embed=character_embed(deps.catalog, member.lang, row, picture=shown),
            files=picture_files([shown]) or discord.utils.MISSING,
        )


class NewVariantModal(FeatureModal):
    """Theme (optional) and the edit instruction; the submission makes the variant."""

    def __init__(self, catalog: Catalog, lang: str, character_id: str) -> None:
        super().__init__(
            title=_title(catalog.t(lang, "modal.variant.title")),
            custom_id=f"charvar:{character_id}",
            timeout=900,
        )
        self.character_id = character_id
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

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Make the variant, posted in the character's thread."""
        row = await characters.find_character(deps_of(interaction.client).db, self.character_id)
        await variant_flow(
            interaction,
            character_id=self.character_id,
            instruction=self.instruction_input.value,
            theme=self.theme_input.value.strip() or None,
            thread_id=Meta(row.meta).conversation_id,
        )
