"""A character as Character Card files: ``card_v2`` (JSON and a PNG with a ``chara`` chunk, as
always), ``card_v3`` (a PNG with a ``ccv3`` chunk, a V2 ``chara`` beside it for older readers)
or ``charx`` (the zip). Discord-free: files are (name, bytes) pairs.

V3 and CHARX carry the portrait and the variants' images themselves while they fit in
``EMBED_BUDGET`` (an upload must stay under Discord's limit and under our own import limit);
the variants past it are listed by their link instead, and counted in ``linked``.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Literal

from bot.cards import (
    AssetImage,
    card_from_character,
    card_json_bytes,
    card_png,
    v2_backfill,
    v3_card,
    write_charx,
)
from bot.cards.v3 import Packaging
from bot.errors import StorageError
from bot.services.characters import CharacterExport, export_of
from bot.storage.base import Storage
from db.engine import Database
from db.meta import Meta

CardFormat = Literal["card_v2", "card_v3", "charx"]
FORMATS: tuple[CardFormat, ...] = ("card_v2", "card_v3", "charx")
EMBED_BUDGET = {"card_v3": 3 * 1024 * 1024, "charx": 8 * 1024 * 1024}
"""Image bytes a card may carry. A PNG's ``data:`` URLs are base64 inside the base64 chunk
(×16/9), so it carries less than a ``.charx``, which stores the images as they are."""
_FILENAME = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class CardFiles:
    """The files of an export, the character's name, how many variants it has, and how many
    were linked (not embedded) for lack of room."""

    name: str
    files: list[tuple[str, bytes]]
    linked: int
    variants: int = 0


def export_filename(name: str | None, fallback: str) -> str:
    """A safe file stem from a character's name."""
    stem = _FILENAME.sub("_", name or "").strip("_")[:40]
    return stem or fallback


async def _images(
    storage: Storage, export: CharacterExport, budget: int
) -> tuple[list[AssetImage], int]:
    """Each filed variant's image (oldest first) while the budget lasts, else its link."""
    theme_ids = {t.id for t in export.themes}
    images: list[AssetImage] = []
    linked = 0
    for variant in export.variants:
        if variant.theme_id not in theme_ids:
            continue
        key = Meta(variant.meta).image_key
        data: bytes | None = None
        if key and budget > 0:
            try:
                data = await storage.get(key)
            except StorageError:
                data = None
        if data is not None and len(data) <= budget:
            budget -= len(data)
            images.append(AssetImage(variant.id, data, None))
        else:
            linked += 1
            images.append(AssetImage(variant.id, None, variant.image_url))
    return images, linked


async def export_card(
    db: Database, storage: Storage, character_id: str, viewer_user_id: str, fmt: CardFormat
) -> CardFiles:
    """The character's card in ``fmt``, as the viewer may see it.

    Raises:
        NotFoundError: not visible to the viewer. StorageError: the portrait can't be read.
        InvalidInputError: the stored portrait is not a readable image.
    """
    export = await export_of(db, character_id, viewer_user_id)
    character = export.character
    stem = export_filename(character.name, character.id[:8])
    key = Meta(character.meta).image_key
    portrait = await storage.get(key) if key else None
    v2 = card_from_character(character, export.themes, export.variants, creator=export.creator)
    name = character.name or ""
    theme_ids = {t.id for t in export.themes}
    count = sum(1 for v in export.variants if v.theme_id in theme_ids)
    if fmt == "card_v2":
        files = [(f"{stem}.json", card_json_bytes(v2))]
        if portrait is not None:
            png = await asyncio.to_thread(card_png, v2, portrait)
            files.append((f"{stem}.card.png", png))
        return CardFiles(name, files, 0, count)
    budget = EMBED_BUDGET[fmt] - (len(portrait) if portrait and fmt == "charx" else 0)
    images, linked = await _images(storage, export, budget)
    packaging: Packaging = (
        "charx" if fmt == "charx" else ("png" if portrait is not None else "json")
    )
    card, embedded = v3_card(
        character,
        export.themes,
        export.variants,
        creator=export.creator,
        portrait=portrait,
        images=images,
        packaging=packaging,
        created=int(character.created_at.timestamp()) if character.created_at else 0,
        modified=int(time.time()),
    )
    if fmt == "charx":
        archive = await asyncio.to_thread(write_charx, card, embedded)
        return CardFiles(name, [(f"{stem}.charx", archive)], linked, count)
    if portrait is None:
        return CardFiles(name, [(f"{stem}.v3.json", card_json_bytes(card))], linked, count)
    png = await asyncio.to_thread(card_png, v2_backfill(v2), portrait, v3=card)
    return CardFiles(name, [(f"{stem}.v3.card.png", png)], linked, count)
