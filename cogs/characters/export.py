"""Export: a character sent privately as a Character Card (``/character export`` and the Export
button): V2 JSON and PNG by default, or a V3 PNG, or a ``.charx``."""

from __future__ import annotations

from typing import Any

import discord

from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import respond
from bot.services.exporting import CardFormat, export_card
from bot.ui.files import file_of

_DONE_KEYS: dict[CardFormat, str] = {
    "card_v2": "export.done",
    "card_v3": "export.done_v3",
    "charx": "export.done_charx",
}


async def send_export(
    interaction: discord.Interaction[Any], character_id: str, fmt: CardFormat = "card_v2"
) -> None:
    """Answer privately with the character's card files in ``fmt``.

    Raises:
        NotFoundError: not visible to the caller.
    """
    deps = deps_of(interaction.client)
    member = await caller(interaction)
    await acknowledge(interaction, ephemeral=True, thinking=True)
    export = await export_card(deps.db, deps.storage, character_id, member.user.id, fmt)
    t = deps.catalog.t
    text = t(member.lang, _DONE_KEYS[fmt], name=export.name)
    if export.linked:
        text += "\n" + t(member.lang, "export.linked", count=export.linked)
    if fmt == "card_v2" and export.variants:  # the V2 card lists variants only as links
        command = deps.command_ids.mention("character export")
        text += "\n" + t(member.lang, "export.hint_v3", count=export.variants, command=command)
    files = [file_of(data, name) for name, data in export.files]
    await respond(interaction, text, files=files)
