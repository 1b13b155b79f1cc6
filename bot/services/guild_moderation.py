"""Moderation inside one guild: a guild's moderators hide a character there (its showcase post
and its place in that guild's /gallery) and block a member's use of the bot there. Neither
touches ``characters.is_public`` or ``users.account_status``: elsewhere, nothing changes.

Each change is one row of ``guild_hidden_characters`` / ``guild_blocked_users`` written in the
same transaction as its ``moderation_actions`` row (scope ``guild``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import InvalidInputError, NotFoundError
from bot.services.accounts import NewMember, get_or_create_member
from bot.services.characters import get_character
from bot.services.mod_scopes import GUILD_STATUSES, bad_choice
from bot.services.moderation import (
    Moderator,
    SelfModerationError,
    Unpublished,
    clean_reason,
    record_action,
)
from db.bot_models import GuildBlockedUser, GuildHiddenCharacter
from db.engine import Database
from db.models import User


@dataclass(frozen=True, slots=True)
class BlockChange:
    """A member's use of the bot in one guild, before and after (``active`` / ``blocked``)."""

    user: User
    previous: str
    status: str


def _guild_of(by: Moderator) -> int:
    if by.guild_id is None:
        raise InvalidInputError("That only works in a server.", reason_key="error.guild_only")
    return by.guild_id


async def hide_character(
    session: AsyncSession, character_id: str, by: Moderator, reason: str
) -> Unpublished:
    """Hide a public character in ``by``'s guild only, and log it (scope ``guild``).

    The caller removes its showcase post in that guild and tells the owner.

    Raises: NotFoundError("character"), InvalidInputError (reason empty or over 500;
    "mod.not_public"; "mod.already_hidden"; outside a guild).
    """
    guild_id = _guild_of(by)
    why = clean_reason(reason)
    character = await get_character(session, character_id)
    if not character.is_public:
        raise InvalidInputError("That character isn't public.", reason_key="mod.not_public")
    added = await session.scalar(
        insert(GuildHiddenCharacter)
        .values(
            guild_id=guild_id,
            character_id=character.id,
            moderator_discord_id=by.discord_id,
            reason=why,
        )
        .on_conflict_do_nothing()
        .returning(GuildHiddenCharacter.character_id)
    )
    if added is None:
        raise InvalidInputError(
            "That character is already hidden in this server.", reason_key="mod.already_hidden"
        )
    owner = await session.get(User, character.user_id)
    if owner is None:  # pragma: no cover - the foreign key guarantees it
        raise NotFoundError("user")
    record_action(
        session,
        by,
        "unpublish",
        target_user_id=owner.id,
        target_character_id=character.id,
        reason=why,
        details={"name": character.name},
        scope="guild",
    )
    await session.flush()
    return Unpublished(character=character, owner=owner)


async def hide(db: Database, character_id: str, by: Moderator, reason: str) -> Unpublished:
    """/mod unpublish (scope guild): :func:`hide_character` in one transaction."""
    async with db.transaction() as session:
        return await hide_character(session, character_id, by, reason)


async def set_block(
    session: AsyncSession, target_user_id: str, status: str, by: Moderator, reason: str
) -> BlockChange:
    """Block (``blocked``) or unblock (``active``) a member's use of the bot in ``by``'s guild,
    and log it (scope ``guild``, details from/to).

    Raises: InvalidInputError (unknown status, reason empty or too long, outside a guild),
    SelfModerationError, NotFoundError("user").
    """
    guild_id = _guild_of(by)
    if status not in GUILD_STATUSES:
        raise bad_choice(status, "status", GUILD_STATUSES)
    why = clean_reason(reason)
    if by.user_id is not None and by.user_id == target_user_id:
        raise SelfModerationError()
    user = await session.get(User, target_user_id)
    if user is None:
        raise NotFoundError("user")
    if status == "blocked":
        changed = await session.scalar(
            insert(GuildBlockedUser)
            .values(
                guild_id=guild_id,
                user_id=user.id,
                moderator_discord_id=by.discord_id,
                reason=why,
            )
            .on_conflict_do_nothing()
            .returning(GuildBlockedUser.user_id)
        )
    else:
        changed = await session.scalar(
            delete(GuildBlockedUser)
            .where(GuildBlockedUser.guild_id == guild_id, GuildBlockedUser.user_id == user.id)
            .returning(GuildBlockedUser.user_id)
        )
    previous = ("active" if status == "blocked" else "blocked") if changed else status
    record_action(
        session,
        by,
        "set_status",
        target_user_id=user.id,
        reason=why,
        details={"from": previous, "to": status},
        scope="guild",
    )
    await session.flush()
    return BlockChange(user=user, previous=previous, status=status)


async def change_block(
    db: Database, target: NewMember, status: str, by: Moderator, reason: str
) -> BlockChange:
    """/mod user (scope guild): the target's user row (made if they never used the bot) and
    :func:`set_block`, in one transaction: a refused change leaves nothing behind."""
    async with db.transaction() as session:
        user = await get_or_create_member(session, target)
        return await set_block(session, user.id, status, by, reason)
