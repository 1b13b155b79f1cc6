"""Remix use cases: the create request a remix makes, whether a member allows remixes, and how
many remixes a character has.

A remix is a new character of the presser, made by the create pipeline from the original's
attributes and an instruction, with the original's portrait as the reference image; the
original's id and its creator's user id are recorded in the new character's metadata.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.errors import InvalidInputError
from bot.services.generation.inputs import MAX_DESCRIPTION, MAX_INSTRUCTION, clean
from bot.services.generation.model import CreateRequest, RemixOrigin
from bot.services.member_settings import allows_remix
from bot.services.remix_rules import RemixSource, check_remixable
from bot.services.visibility import is_completed
from bot.storage.base import Storage
from bot.storage.images import validate_reference_image
from db.engine import Database
from db.meta import REMIX_OF, Meta
from db.models import Character

NOTICE_KEY = "remix.notice"
"""The catalog key of the note the original's owner gets (a DM, else a notice)."""

__all__ = [
    "NOTICE_KEY",
    "RemixSource",
    "check_remixable",
    "remix_allowed",
    "remix_count",
    "remix_description",
    "remix_instruction",
    "remix_request",
]


def remix_instruction(instruction: str | None) -> str:
    """The member's instruction, checked. Raises: InvalidInputError (empty or too long)."""
    text = clean(instruction, MAX_INSTRUCTION, "instruction")
    if not text:
        raise InvalidInputError("Say how to change the image.", "invalid.instruction_empty")
    return text


def remix_description(character: Character, instruction: str) -> str:
    """The create description of a remix: the change asked, then the original's attributes."""
    traits = ", ".join(f"{k}: {v}" for k, v in (character.physical_traits or {}).items())
    parts = [
        f"Change: {instruction}",
        character.description or character.prompt,
        f"Occupation: {character.occupation}" if character.occupation else "",
        f"Personality: {', '.join(character.personality)}" if character.personality else "",
        f"Looks: {traits}" if traits else "",
        f"Clothing: {character.clothing}" if character.clothing else "",
        f"Background: {character.background}" if character.background else "",
    ]
    return "\n".join(p for p in parts if p)[:MAX_DESCRIPTION]


async def remix_request(
    db: Database,
    storage: Storage,
    character_id: str,
    presser_id: str,
    instruction: str,
    guild_id: int | None = None,
) -> tuple[CreateRequest, RemixSource]:
    """The create request of a remix (the original's attributes and the instruction, its
    portrait as the reference image, the original recorded; checked again with the charge
    when the create begins) and the original.

    Raises: InvalidInputError, StorageError.
    """
    text = remix_instruction(instruction)
    source = await check_remixable(db, character_id, presser_id, guild_id)
    character = source.character
    stored = await storage.get(Meta(character.meta).image_key or "")
    reference, mime = await validate_reference_image(stored)
    request = CreateRequest(
        user_id=presser_id,
        description=remix_description(character, text),
        style=character.style_type or "realistic",
        name=character.name,
        gender=character.gender,
        age=character.age,
        reference=reference,
        reference_mime=mime,
        remix=RemixOrigin(
            character_id=character.id,
            creator_user_id=source.owner_id,
            character_name=character.name or "",
            creator_name=source.creator_name,
            guild_id=guild_id,
        ),
    )
    return request, source


async def remix_allowed(db: Database, user_id: str) -> bool:
    """Whether the member lets others remix their characters."""
    async with db.read() as session:
        return await allows_remix(session, user_id)


async def remix_count(db: Database, character_id: str) -> int:
    """How many finished characters were remixed from this one."""
    async with db.read() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Character)
            .where(
                Character.meta.has_key(REMIX_OF),
                Character.meta[REMIX_OF].astext == character_id,
                is_completed,
            )
        )
    return int(count or 0)
