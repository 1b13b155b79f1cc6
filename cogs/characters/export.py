"""Export a character as JSON and as a PNG Character Card V2."""

from __future__ import annotations

import asyncio
import io
import re
from typing import TYPE_CHECKING, Any

import discord
from sqlalchemy import select

from bot.cards import card_from_character, card_json_bytes, card_png
from bot.interactions.acknowledge import acknowledge
from bot.interactions.replies import NO_MENTIONS
from bot.services import characters as characters_service
from db.models import CharacterTheme, ThemeVariant, User

if TYPE_CHECKING:
    from bot.app import CharBot

_FILENAME = re.compile(r"[^A-Za-z0-9_-]+")


def export_filename(name: str | None, fallback: str) -> str:
    """A safe file stem from a character's name."""
    stem = _FILENAME.sub("_", name or "").strip("_")[:40]
    return stem or fallback


async def send_export(
    bot: CharBot, interaction: discord.Interaction[Any], character_id: str
) -> None:
    """Answer privately with ``<name>.json`` and ``<name>.card.png``.

    Raises:
        NotFoundError: not visible to the caller.
    """
    caller = await bot.caller(interaction)
    await acknowledge(interaction, ephemeral=True, thinking=True)
    async with bot.reads() as session:
        character = await characters_service.get_visible_character(
            session, character_id, caller.user.id
        )
        themes = list(
            (
                await session.scalars(
                    select(CharacterTheme)
                    .where(CharacterTheme.character_id == character.id)
                    .order_by(CharacterTheme.created_at)
                )
            ).all()
        )
        variants = list(
            (
                await session.scalars(
                    select(ThemeVariant)
                    .where(ThemeVariant.character_id == character.id)
                    .order_by(ThemeVariant.created_at)
                )
            ).all()
        )
        owner = await session.get(User, character.user_id)
    creator = (owner.display_name or owner.username or "") if owner else ""
    card = card_from_character(character, themes, variants, creator=creator)
    json_bytes = card_json_bytes(card)
    stem = export_filename(character.name, character.id[:8])
    files = [discord.File(io.BytesIO(json_bytes), filename=f"{stem}.json")]
    key = (character.meta or {}).get("imageKey")
    if key:
        portrait = await bot.storage.get(str(key))
        png = await asyncio.to_thread(card_png, card, portrait)
        files.append(discord.File(io.BytesIO(png), filename=f"{stem}.card.png"))
    await interaction.followup.send(
        bot.catalog.t(caller.lang, "export.done", name=character.name or ""),
        files=files,
        ephemeral=True,
        allowed_mentions=NO_MENTIONS,
    )
