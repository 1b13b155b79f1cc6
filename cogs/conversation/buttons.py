"""The buttons under a variant: Use as portrait, Favorite and Delete (with its confirmation).
Persistent: the custom_id carries the variant's id, and every press checks it again, so a forged
one changes nothing that is not the presser's."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import discord

from bot.i18n import Catalog
from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import NO_MENTIONS, respond, update
from bot.interactions.routing import FeatureButton
from bot.services.conversation.variants import (
    NewPortrait,
    is_favorite,
    owned_variant,
    shown_in,
    toggle_favorite,
    use_as_portrait,
)
from bot.services.themes.use_cases import remove_variant
from bot.ui.embeds import character_embed
from bot.ui.text import button_label
from cogs.characters.generating import image_file, image_filename
from db.models import ThemeVariant

log = logging.getLogger(__name__)

_UUID = r"[0-9a-f-]{36}"


class VariantButton(
    FeatureButton, template=rf"cvar:(?P<id>{_UUID}):(?P<action>portrait|fav|del|delok)"
):
    """``cvar:<variant id>:<action>``; every action is the variant owner's only."""

    def __init__(
        self,
        variant_id: str,
        action: str,
        *,
        label: str = "",
        emoji: str | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:80] or None,
                emoji=emoji,
                style=style,
                custom_id=f"cvar:{variant_id}:{action}",
            )
        )
        self.variant_id = variant_id
        self.action = action

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> VariantButton:
        return cls(match["id"], match["action"], label=button_label(item))

    async def handle(self, interaction: discord.Interaction[Any]) -> None:
        """Favorite flips in place; Use as portrait swaps and updates the card; Delete asks
        first, and its confirmation deletes the variant and its message."""
        if self.action == "portrait":
            await acknowledge(interaction, ephemeral=True, thinking=True)
        else:
            await acknowledge(interaction, directly=True)
        deps = deps_of(interaction.client)
        member = await caller(interaction)
        t = deps.catalog.t
        if self.action == "fav":
            shown = await toggle_favorite(deps.db, self.variant_id, member.user.id)
            await update(interaction, view=variant_view(deps.catalog, member.lang, shown.variant))
        elif self.action == "portrait":
            made = await use_as_portrait(deps.db, deps.storage, self.variant_id, member.user.id)
            await _refresh_card(interaction, made, member.lang)
            name = clip_name(made.character.name)
            await respond(interaction, t(member.lang, "variant.portrait_done", name=name))
        elif self.action == "del":
            await owned_variant(deps.db, self.variant_id, member.user.id)  # the owner's only
            await respond(
                interaction,
                t(member.lang, "variant.delete_confirm"),
                view=confirm_view(deps.catalog, member.lang, self.variant_id),
            )
        else:
            shown = await owned_variant(deps.db, self.variant_id, member.user.id)
            await remove_variant(deps.db, deps.storage, self.variant_id, member.user.id)
            await _delete_message(interaction.client, shown.variant.meta)
            await update(interaction, content=t(member.lang, "variant.deleted"), view=None)


def clip_name(name: str | None) -> str:
    """A character's name for a sentence."""
    return (name or "?")[:100]


async def _delete_message(client: discord.Client, meta: dict[str, Any] | None) -> None:
    where = shown_in(meta)
    if where is None:
        return
    channel = client.get_partial_messageable(where[0])
    with contextlib.suppress(discord.HTTPException):
        await channel.get_partial_message(where[1]).delete()


async def _refresh_card(
    interaction: discord.Interaction[Any], made: NewPortrait, lang: str
) -> None:
    """Show the new portrait on the character's card, where the bot posted it."""
    where = shown_in(made.character.meta)
    if where is None:
        return
    catalog = deps_of(interaction.client).catalog
    character = made.character
    embed = character_embed(catalog, lang, character, image_filename=image_filename(made.mime_type))
    card = interaction.client.get_partial_messageable(where[0]).get_partial_message(where[1])
    try:
        await card.edit(
            embed=embed,
            attachments=image_file(made.image, made.mime_type)(),  # its buttons stay as they are
            allowed_mentions=NO_MENTIONS,
        )
    except discord.HTTPException:
        log.info("could not update the card of character %s", character.id, exc_info=True)


def variant_view(catalog: Catalog, lang: str, variant: ThemeVariant) -> discord.ui.View:
    """Use as portrait, Favorite, Delete."""
    t = catalog.t
    favorite = is_favorite(variant)
    view = discord.ui.View(timeout=None)
    view.add_item(
        VariantButton(
            variant.id,
            "portrait",
            label=t(lang, "button.use_portrait"),
            emoji="🖼️",
            style=discord.ButtonStyle.primary,
        )
    )
    view.add_item(
        VariantButton(
            variant.id,
            "fav",
            label=t(lang, "button.unfavorite" if favorite else "button.favorite"),
            emoji="⭐",
            style=discord.ButtonStyle.success if favorite else discord.ButtonStyle.secondary,
        )
    )
    view.add_item(VariantButton(variant.id, "del", label=t(lang, "button.delete"), emoji="🗑️"))
    return view


def confirm_view(catalog: Catalog, lang: str, variant_id: str) -> discord.ui.View:
    """The confirmation of Delete."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        VariantButton(
            variant_id,
            "delok",
            label=catalog.t(lang, "button.delete"),
            emoji="🗑️",
            style=discord.ButtonStyle.danger,
        )
    )
    return view
