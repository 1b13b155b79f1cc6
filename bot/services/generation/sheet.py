"""The character sheet: a turnaround (front, side, back, four expressions) drawn as one image
from the portrait, kept as a variant in the theme "Character sheet" (marked in its metadata).
The newest sheet is sent as an extra reference image with every later edit of the character
(variants, conversation edits, scenes)."""

from __future__ import annotations

from sqlalchemy import Text, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.base import Storage
from db.engine import Database
from db.meta import CHARACTER_SHEET, Meta
from db.models import ThemeVariant

SHEET_THEME = "Character sheet"
"""The theme sheets are filed under (created on first use)."""
SHEET_INSTRUCTION = (
    "Turn this character into a character sheet on a plain light background: the full figure "
    "from the front, from the side and from the back, plus four head shots with different "
    "expressions (neutral, happy, angry, surprised). Same character, outfit, colours and art "
    "style in every view; no text or labels."
)


async def sheet_image_key(session: AsyncSession, character_id: str) -> str | None:
    """The stored image of the character's newest sheet, if it has one."""
    marked = ThemeVariant.meta.op("->>", return_type=Text)(literal_column(f"'{CHARACTER_SHEET}'"))
    variant = await session.scalar(
        select(ThemeVariant)
        .where(ThemeVariant.character_id == character_id, marked.is_not(None))
        .order_by(ThemeVariant.created_at.desc(), ThemeVariant.id.desc())
        .limit(1)
    )
    return Meta(variant.meta).image_key if variant is not None else None


async def character_sheet_image(db: Database, storage: Storage, character_id: str) -> bytes | None:
    """The image of the character's newest sheet (PNG), None without one.

    Raises: StorageError when the stored image cannot be read.
    """
    async with db.read() as session:
        key = await sheet_image_key(session, character_id)
    return await storage.get(key) if key else None
