"""The characters' context menus: "Make a character" on a message with a picture, and "Edit
this image" on one of the bot's character or variant messages (a modal: instruction, theme;
the variant is made from exactly the image that message shows)."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import locale_str as _

from bot.errors import InvalidInputError
from bot.i18n import Catalog
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.routing import FeatureModal
from bot.interactions.tree import SELF_ACKNOWLEDGING
from bot.services.characters.images import ImageTarget, owned_image
from bot.ui.text import clip
from cogs.characters.from_picture import make_from_message
from cogs.characters.variant import variant_flow

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CHARACTER_BUTTON = re.compile(r"^char:([0-9a-f-]{36}):")


def _custom_ids(components: list[Any]) -> list[str]:
    found: list[str] = []
    for component in components:
        custom_id = getattr(component, "custom_id", None)
        if isinstance(custom_id, str):
            found.append(custom_id)
        found += _custom_ids(list(getattr(component, "children", None) or []))
    return found


def ids_on(message: discord.Message) -> tuple[str | None, list[str]]:
    """The character id its character buttons name (if any), and every id it carries (its
    buttons', then its embeds' footers)."""
    custom_ids = _custom_ids(list(message.components))
    portrait = next(
        (m.group(1) for m in (_CHARACTER_BUTTON.match(c) for c in custom_ids) if m), None
    )
    found = [i for c in custom_ids for i in _UUID.findall(c)]
    for embed in message.embeds:
        found += _UUID.findall(embed.footer.text or "")
    return portrait, found


def is_own_message(interaction: discord.Interaction[Any], message: discord.Message) -> bool:
    """Whether the bot posted the message (itself, or as the answer to an interaction)."""
    me = interaction.client.user
    return (me is not None and message.author.id == me.id) or (
        message.application_id is not None and message.application_id == interaction.application_id
    )


async def make_character_menu(
    interaction: discord.Interaction[Any], message: discord.Message
) -> None:
    """Make a character from this message's picture."""
    await make_from_message(interaction, message)


async def edit_image_menu(interaction: discord.Interaction[Any], message: discord.Message) -> None:
    """Make a variant of the image this message of the bot shows."""
    deps = deps_of(interaction.client)
    member = await caller(interaction)
    if not is_own_message(interaction, message):
        raise InvalidInputError("That is not one of my images.", "invalid.not_my_image")
    portrait, ids = ids_on(message)
    target = await owned_image(deps.db, ids, member.user.id, portrait_hint=portrait)
    await interaction.response.send_modal(EditImageModal(deps.catalog, member.lang, target))


class EditImageModal(FeatureModal):
    """Instruction and theme; the submission makes a variant of the chosen image."""

    def __init__(self, catalog: Catalog, lang: str, target: ImageTarget) -> None:
        t = catalog.t
        super().__init__(
            title=clip(t(lang, "modal.edit_image.title"), 45),
            custom_id=f"editimg:{target.character_id}:{target.variant_id or 'portrait'}",
            timeout=900,
        )
        self.target = target
        self.instruction_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(t(lang, "field.instruction"), 45),
            placeholder=clip(t(lang, "modal.variant.instruction_hint"), 100),
            style=discord.TextStyle.paragraph,
            max_length=500,
            required=True,
        )
        self.theme_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=clip(t(lang, "field.theme"), 45),
            placeholder=clip(t(lang, "modal.variant.theme_hint"), 100),
            max_length=50,
            required=False,
        )
        self.add_item(self.instruction_input)
        self.add_item(self.theme_input)

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Make the variant from the chosen image, posted as any variant is."""
        await variant_flow(
            interaction,
            character_id=self.target.character_id,
            instruction=self.instruction_input.value,
            theme=self.theme_input.value.strip() or None,
            thread_id=self.target.thread_id,
            source_variant_id=self.target.variant_id,
            from_portrait=self.target.variant_id is None,
        )


def context_menus() -> list[app_commands.ContextMenu]:
    """The characters' context menus, to add to the command tree."""
    return [
        app_commands.ContextMenu(
            name=_("Make a character"), callback=make_character_menu, extras=SELF_ACKNOWLEDGING
        ),
        app_commands.ContextMenu(
            name=_("Edit this image"), callback=edit_image_menu, extras=SELF_ACKNOWLEDGING
        ),
    ]
