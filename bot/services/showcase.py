"""The showcase channel's bookkeeping: which guild channel shows a character, and the messages
posted there (``showcase_posts``), so they can be removed when the character leaves the
gallery."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.visibility import is_publicly_visible
from db.bot_models import GuildHiddenCharacter, GuildSettings, ShowcasePost
from db.engine import Database
from db.models import Character, User


@dataclass(frozen=True, slots=True)
class PostedMessage:
    """A showcase message to delete from Discord."""

    channel_id: int
    message_id: int


async def is_showcased(db: Database, character: Character) -> bool:
    """Whether the character belongs in showcase channels (the public visibility rule)."""
    async with db.read() as session:
        owner = await session.get(User, character.user_id)
    return is_publicly_visible(character, owner)


async def channel_to_post(db: Database, guild_id: int, character_id: str) -> int | None:
    """The guild's showcase channel, when it has one, the character is not posted there and the
    guild's moderators have not hidden it there."""
    async with db.read() as session:
        settings = await session.get(GuildSettings, guild_id)
        already = await session.get(ShowcasePost, (character_id, guild_id))
        hidden = await session.get(GuildHiddenCharacter, (guild_id, character_id))
    if settings is None or settings.showcase_channel_id is None:
        return None
    if already is not None or hidden is not None:
        return None
    return settings.showcase_channel_id


async def record_post(
    db: Database, character_id: str, guild_id: int, channel_id: int, message_id: int
) -> bool:
    """Remember a message posted in a guild's showcase channel. False when the character was
    recorded there meanwhile (two publishes at once both posted): the caller removes its own."""
    async with db.transaction() as session:
        recorded = await session.scalar(
            insert(ShowcasePost)
            .values(
                character_id=character_id,
                guild_id=guild_id,
                channel_id=channel_id,
                message_id=message_id,
            )
            .on_conflict_do_nothing(index_elements=["character_id", "guild_id"])
            .returning(ShowcasePost.message_id)
        )
    return recorded is not None


async def take_posts(
    db: Database, character_id: str, *, guild_id: int | None = None
) -> list[PostedMessage]:
    """Forget a character's showcase messages in every guild (or in ``guild_id`` only),
    returning them (to delete)."""
    which = [ShowcasePost.character_id == character_id]
    if guild_id is not None:
        which.append(ShowcasePost.guild_id == guild_id)
    async with db.transaction() as session:
        posts = (
            await session.scalars(delete(ShowcasePost).where(*which).returning(ShowcasePost))
        ).all()
    return [PostedMessage(post.channel_id, post.message_id) for post in posts]


async def showcased_character_ids(session: AsyncSession, user_id: str) -> tuple[str, ...]:
    """The member's characters that have a post in some showcase channel."""
    rows = await session.scalars(
        select(ShowcasePost.character_id)
        .join(Character, Character.id == ShowcasePost.character_id)
        .where(Character.user_id == user_id)
        .distinct()
    )
    return tuple(rows)
