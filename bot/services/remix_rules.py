"""Who may remix which character: only a publicly visible one; another member's only when that
member allows remixes (a member's own are always allowed: the setting guards their characters
from others). A step of the create use case and of the Remix button alike."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInputError
from bot.services.characters import is_valid_id
from bot.services.member_settings import allows_remix
from bot.services.moderation import discord_id_of
from bot.services.visibility import showcased_join, shown_in_guild
from db.engine import Database
from db.meta import Meta
from db.models import Character, User


@dataclass(frozen=True)
class RemixSource:
    """A character that may be remixed, and who made it."""

    character: Character
    owner_id: str
    owner_discord_id: int | None
    owner_language: str | None
    creator_name: str
    """The creator's display name (never an id)."""


def _not_remixable() -> InvalidInputError:
    return InvalidInputError(
        "That character isn't in the gallery, so it can't be remixed.", "remix.not_public"
    )


async def remixable(
    session: AsyncSession, character_id: str, presser_id: str, guild_id: int | None = None
) -> RemixSource:
    """The publicly visible character ``presser_id`` may remix (in ``guild_id``, unless that
    guild's moderators hid it).

    Raises: InvalidInputError (``remix.not_public``: unknown, forged or not in the gallery;
    ``remix.off``: its owner turned remixes off; ``invalid.no_image``: no portrait).
    """
    if not is_valid_id(character_id):
        raise _not_remixable()
    row = (
        await session.execute(
            select(Character, User)
            .join(User, User.id == Character.user_id)
            .where(Character.id == character_id, *showcased_join(), shown_in_guild(guild_id))
        )
    ).one_or_none()
    if row is None:
        raise _not_remixable()
    character, owner = row.tuple()
    if owner.id != presser_id and not await allows_remix(session, owner.id):
        raise InvalidInputError(
            "Its creator has turned remixes of their characters off.", "remix.off"
        )
    if not Meta(character.meta).image_key:
        raise InvalidInputError(
            "This character has no finished image to edit yet.", "invalid.no_image"
        )
    return RemixSource(
        character=character,
        owner_id=owner.id,
        owner_discord_id=discord_id_of(owner),
        owner_language=owner.preferred_language,
        creator_name=owner.display_name or owner.username or "someone",
    )


async def check_remixable(
    db: Database, character_id: str, presser_id: str, guild_id: int | None = None
) -> RemixSource:
    """The character, if ``presser_id`` may remix it (see :func:`remixable`).

    Raises: InvalidInputError.
    """
    async with db.read() as session:
        return await remixable(session, character_id, presser_id, guild_id)
