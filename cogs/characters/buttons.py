"""The buttons under a character's message and what a press does: favorite, library, publish
(flags), new variant (a modal), regenerate in place, and export. Persistent: the custom_id
carries the character's id, so they work after a restart and on any process."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord

from bot.errors import NotOwnerError
from bot.i18n import Catalog
from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.placement import age_restricted
from bot.interactions.replies import deliver, update
from bot.interactions.routing import FeatureButton
from bot.services import characters
from bot.services.characters import CharacterFlag
from bot.ui.embeds import character_embed
from bot.ui.text import button_label
from cogs.characters.export import send_export
from cogs.characters.generating import filter_note, image_file, image_filename, new_portrait
from cogs.characters.modals import NewVariantModal
from cogs.characters.relaxed import withdraw_if_relaxed
from cogs.gallery.showcase import sync_showcase
from db.models import Character

log = logging.getLogger(__name__)

OWNER_ACTIONS = frozenset({"fav", "lib", "pub", "var", "regen"})
FLAGS: dict[str, CharacterFlag] = {
    "fav": "is_favorite",
    "lib": "is_in_library",
    "pub": "is_public",
}


def _style(item: discord.ui.Item[Any]) -> discord.ButtonStyle:
    if isinstance(item, discord.ui.Button):
        return item.style
    return discord.ButtonStyle.secondary


class CharacterButton(
    FeatureButton,
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

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """A press: a flag is flipped on the message; the other actions need the character."""
        flag = FLAGS.get(self.action)
        if flag is not None:
            await toggle_flag(interaction, self.character_id, flag)
            return
        deps = deps_of(interaction.client)
        member = await caller(interaction)
        row = await characters.find_character(deps.db, self.character_id)
        if self.action in OWNER_ACTIONS and row.user_id != member.user.id:
            raise NotOwnerError
        if self.action == "var":
            await interaction.response.send_modal(
                NewVariantModal(deps.catalog, member.lang, self.character_id)
            )
        elif self.action == "regen":
            await regenerate_in_place(interaction, row)
        elif self.action == "exp":
            await send_export(interaction, self.character_id)


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


async def toggle_flag(
    interaction: discord.Interaction[Any],
    character_id: str,
    flag: CharacterFlag,
) -> None:
    """Flip the flag (only the owner may: the use case refuses anyone else) and show it on the
    buttons; a publish change also updates the showcase channel."""
    await acknowledge(interaction, directly=True)  # before any database work
    deps = deps_of(interaction.client)
    member = await caller(interaction)
    row = await characters.change_flag(deps.db, character_id, member.user.id, flag)
    await update(interaction, view=character_view(deps.catalog, member.lang, row))
    if flag == "is_public":
        await sync_showcase(interaction, row)


async def regenerate_in_place(interaction: discord.Interaction[Any], row: Character) -> None:
    """The Regenerate button: the buttons are disabled while the new portrait is drawn (its
    stages shown on the message), then the message shows it; on failure they come back."""
    deps = deps_of(interaction.client)
    deps.flows.track()  # shutdown waits for the result to be shown, as for the command
    member = await caller(interaction)
    lang = member.lang
    await update(interaction, view=character_view(deps.catalog, lang, row, disabled=True))
    try:
        outcome = await new_portrait(
            interaction, member, row.id, age_restricted=age_restricted(interaction)
        )
    except BaseException:
        try:
            await interaction.edit_original_response(
                content=None, view=character_view(deps.catalog, lang, row)
            )
        except discord.HTTPException:
            log.debug("could not re-enable the buttons", exc_info=True)
        raise
    await withdraw_if_relaxed(interaction, outcome)
    character = outcome.character
    await deliver(
        interaction,
        content=filter_note(deps.catalog, lang, outcome).strip() or None,
        embed=character_embed(
            deps.catalog, lang, character, image_filename=image_filename(outcome.mime_type)
        ),
        view=character_view(deps.catalog, lang, character),
        files=image_file(outcome.image, outcome.mime_type),
    )
