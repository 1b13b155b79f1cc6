"""Export: a character sent privately as JSON and as a PNG Character Card V2 (``/character
export`` and the Export button)."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import discord

from bot.cards import card_from_character, card_json_bytes, card_png
from bot.interactions.acknowledge import acknowledge
from bot.interactions.caller import caller
from bot.interactions.deps import deps_of
from bot.interactions.replies import respond
from bot.services import characters
from db.meta import Meta

_FILENAME = re.compile(r"[^A-Za-z0-9_-]+")


def export_filename(name: str | None, fallback: str) -> str:
    """A safe file stem from a character's name."""
    stem = _FILENAME.sub("_", name or "").strip("_")[:40]
    return stem or fallback


async def send_export(interaction: discord.Interaction[Any], character_id: str) -> None:
    """Answer privately with ``<name>.json`` and ``<name>.card.png``.

    Raises:
        NotFoundError: not visible to the caller.
    """
    deps = deps_of(interaction.client)
    member = await caller(interaction)
    await acknowledge(interaction, ephemeral=True, thinking=True)
    export = await characters.export_of(deps.db, character_id, member.user.id)
    character = export.character
    card = card_from_character(character, export.themes, export.variants, creator=export.creator)
    json_bytes = card_json_bytes(card)
    stem = export_filename(character.name, character.id[:8])
    files = [discord.File(io.BytesIO(json_bytes), filename=f"{stem}.json")]
    key = Meta(character.meta).image_key
    if key:
        portrait = await deps.storage.get(key)
        png = await asyncio.to_thread(card_png, card, portrait)
        files.append(discord.File(io.BytesIO(png), filename=f"{stem}.card.png"))
    await respond(
        interaction,
        deps.catalog.t(member.lang, "export.done", name=character.name or ""),
        files=files,
    )
