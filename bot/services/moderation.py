"""Moderation: who moderates, in which scope, unpublishing and account status on the whole
platform, and the record of each action. (Hiding a character or blocking a member in one guild:
:mod:`bot.services.guild_moderation`; a guild's settings: :mod:`bot.services.guild_settings`;
reading the log:
:mod:`bot.services.modlog`; notices for members a DM could not reach:
:mod:`bot.services.notices`.)

Everything a moderator does is one ``moderation_actions`` row written in the same transaction as
the change itself (:func:`record_action`, the one place such a row is made, the command line's
status changes included), so the log can never miss an action or show one that did not happen.

Two scopes: a guild's moderators act in their guild only (``scope='guild'``); platform moderators
may also act everywhere (``scope='platform'``): :func:`check_scope` is the rule.

The gallery and the generation pipeline already require ``account_status = 'active'``, so
suspending or banning a member takes their characters out of the gallery and stops their
generations without touching the characters themselves; reactivating brings both back.

The use cases (taking a :class:`~db.engine.Database`) open their own unit of work; the
session-taking functions below them are their steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import DomainError, InvalidInputError, NotFoundError
from bot.services.accounts import NewMember, get_or_create_member
from bot.services.characters import (
    AUTOCOMPLETE_MAX,
    clean_text,
    get_character,
    is_valid_id,
    name_rank,
)
from bot.services.mod_scopes import MODERATOR_STATUSES, bad_choice
from bot.services.pagination import clamp_limit
from bot.services.showcase import showcased_character_ids
from bot.services.visibility import shown_in_guild
from db.bot_models import ModerationAction
from db.engine import Database
from db.models import Character, User

MAX_REASON = 500
UNPUBLISHED_NOTICE = "notice.unpublished"
HIDDEN_NOTICE = "notice.hidden_in_guild"
_FROM_DISCORD = "oauth2|discord|"


class NotModeratorError(DomainError):
    """The member may not use moderator commands here."""

    key = "mod.not_moderator"

    def __init__(self) -> None:
        super().__init__()


class SetupRefusedError(DomainError):
    """The member may not configure moderation (needs Manage Server)."""

    key = "mod.setup_refused"

    def __init__(self) -> None:
        super().__init__()


class SelfModerationError(InvalidInputError):
    """A moderator tried to change their own account status."""

    def __init__(self) -> None:
        super().__init__("You can't change your own account status.", reason_key="mod.self")


@dataclass(frozen=True, slots=True)
class Moderator:
    """Who acts, and where: the guild (None on the command line), the moderator's Discord id
    (0 for the command line) and user id (None when they have none)."""

    guild_id: int | None
    discord_id: int
    user_id: str | None


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One moderator action as /mod log shows it."""

    action: str
    moderator_discord_id: int
    moderator_name: str | None
    target_user_name: str | None
    target_user_discord_id: int | None
    target_character_name: str | None
    target_character_id: str | None
    reason: str | None
    details: dict[str, Any]
    created_at: datetime
    scope: str = "guild"


@dataclass(frozen=True, slots=True)
class Unpublished:
    """A character a moderator took out of the gallery, and whom to tell."""

    character: Character
    owner: User


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A member's account status before and after a moderator changed it."""

    user: User
    previous: str
    character_ids_to_unshow: tuple[str, ...]


# --- who moderates --------------------------------------------------------------------------


def is_moderator(
    *, manage_messages: bool, role_ids: Iterable[int], moderator_role_id: int | None
) -> bool:
    """Whether a member moderates: Manage Messages, or the guild's configured moderator role."""
    if manage_messages:
        return True
    return moderator_role_id is not None and moderator_role_id in set(role_ids)


def can_configure(*, manage_guild: bool) -> bool:
    """Whether a member may run /mod setup: Manage Server only, because setup decides who
    moderates (a moderator-role holder must not be able to re-point the role)."""
    return manage_guild


def discord_id_of(user: User) -> int | None:
    """The Discord snowflake behind a user row, when it came from Discord."""
    return snowflake_of(user.auth0_id)


def snowflake_of(auth0_id: str | None) -> int | None:
    """The Discord snowflake in an ``auth0_id`` from Discord (``oauth2|discord|<id>``)."""
    if auth0_id and auth0_id.startswith(_FROM_DISCORD):
        rest = auth0_id[len(_FROM_DISCORD) :]
        return int(rest) if rest.isdigit() else None
    return None


def clean_reason(reason: str) -> str:
    """The moderator's reason, trimmed; required, at most 500 characters.

    Raises: InvalidInputError.
    """
    return _reason(reason)


def _reason(reason: str) -> str:
    cleaned = clean_text(
        reason, field="reason", label="reason", max_length=MAX_REASON, required=True
    )
    assert cleaned is not None
    return cleaned


def record_action(
    session: AsyncSession,
    by: Moderator,
    action: str,
    *,
    target_user_id: str | None = None,
    target_character_id: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    scope: str = "guild",
) -> None:
    """Log a moderator action in the session's transaction (the one place a
    ``moderation_actions`` row is made), stamped with the statement's own clock so actions of
    one transaction keep their order. ``scope`` is where it holds: ``guild`` (``by``'s guild)
    or ``platform`` (everywhere)."""
    session.add(
        ModerationAction(
            created_at=func.clock_timestamp(),
            scope=scope,
            guild_id=by.guild_id,
            moderator_discord_id=by.discord_id,
            moderator_user_id=by.user_id,
            action=action,
            target_user_id=target_user_id,
            target_character_id=target_character_id,
            reason=reason,
            details=dict(details or {}),
        )
    )


# --- unpublish ------------------------------------------------------------------------------


async def unpublish_character(
    session: AsyncSession,
    character_id: str,
    *,
    guild_id: int | None,
    moderator_discord_id: int,
    moderator_user_id: str | None,
    reason: str,
) -> Unpublished:
    """Take a character out of the gallery everywhere (``is_public`` false) and log who, why
    and when, in the platform scope.

    The caller removes its showcase posts and tells the owner (DM, else :func:`queue_notice`).

    Raises: NotFoundError("character"), InvalidInputError (reason empty or over 500;
    "mod.not_public" when the character is not public).
    """
    why = _reason(reason)
    character = await get_character(session, character_id)
    if not character.is_public:
        raise InvalidInputError("That character isn't public.", reason_key="mod.not_public")
    owner = await session.get(User, character.user_id)
    if owner is None:  # pragma: no cover - the foreign key guarantees it
        raise NotFoundError("user")
    character.is_public = False
    record_action(
        session,
        Moderator(guild_id, moderator_discord_id, moderator_user_id),
        "unpublish",
        target_user_id=owner.id,
        target_character_id=character.id,
        reason=why,
        details={"name": character.name},
        scope="platform",
    )
    await session.flush()
    await session.refresh(character)
    return Unpublished(character=character, owner=owner)


async def unpublish(db: Database, character_id: str, by: Moderator, reason: str) -> Unpublished:
    """/mod unpublish scope:platform (and a report's Unpublish): the character leaves the
    gallery everywhere; :func:`unpublish_character` in one transaction. The caller has checked
    that ``by`` is a platform moderator."""
    async with db.transaction() as session:
        return await unpublish_character(
            session,
            character_id,
            guild_id=by.guild_id,
            moderator_discord_id=by.discord_id,
            moderator_user_id=by.user_id,
            reason=reason,
        )


async def autocomplete_public_characters(
    session: AsyncSession,
    query: str,
    limit: int = AUTOCOMPLETE_MAX,
    *,
    guild_id: int | None = None,
) -> list[tuple[str, str]]:
    """``(id, "name · id prefix")`` of public characters matching ``query``, newest first
    (with ``guild_id``: those that guild's moderators have not hidden there yet)."""
    limit = clamp_limit(limit, AUTOCOMPLETE_MAX)
    stmt = select(Character.id, Character.name).where(
        Character.is_public.is_(True), shown_in_guild(guild_id)
    )
    order: list[Any] = []
    query = (query or "").strip()
    if query:
        matches, rank = name_rank(Character.name, query)
        if is_valid_id(query):  # a pasted id matches too
            matches = or_(matches, Character.id == query)
        stmt = stmt.where(matches)
        order.append(rank)
    order += [Character.created_at.desc(), Character.id.desc()]
    rows = (await session.execute(stmt.order_by(*order).limit(limit))).all()
    return [(r.id, f"{r.name or 'Untitled'} · {r.id[:8]}") for r in rows]


async def public_character_choices(
    db: Database, query: str, *, guild_id: int | None = None
) -> list[tuple[str, str]]:
    """Autocomplete of /mod unpublish: public characters matching ``query``, newest first
    (in the guild scope, those still shown in ``guild_id``)."""
    async with db.read() as session:
        return await autocomplete_public_characters(session, query, guild_id=guild_id)


# --- account status -------------------------------------------------------------------------


async def set_user_status(
    session: AsyncSession,
    target_user_id: str,
    status: str,
    *,
    guild_id: int | None,
    moderator_discord_id: int,
    moderator_user_id: str | None,
    reason: str,
) -> StatusChange:
    """Set a member's account status (active, suspended, banned) and log it.

    Suspended and banned members cannot generate and their characters leave the gallery (both
    follow from the status). ``character_ids_to_unshow`` lists their characters with showcase
    posts, for the caller to remove once committed.

    Raises: InvalidInputError (unknown status, reason empty/too long), SelfModerationError,
    NotFoundError("user").
    """
    if status not in MODERATOR_STATUSES:
        raise bad_choice(status, "status", MODERATOR_STATUSES)
    why = _reason(reason)
    if moderator_user_id is not None and moderator_user_id == target_user_id:
        raise SelfModerationError()
    user = await session.get(User, target_user_id, populate_existing=True)
    if user is None:
        raise NotFoundError("user")
    previous = user.account_status or "active"
    user.account_status = status
    record_action(
        session,
        Moderator(guild_id, moderator_discord_id, moderator_user_id),
        "set_status",
        target_user_id=user.id,
        reason=why,
        details={"from": previous, "to": status},
        scope="platform",
    )
    await session.flush()
    unshow: tuple[str, ...] = ()
    if status != "active":
        unshow = await showcased_character_ids(session, user.id)
    return StatusChange(user=user, previous=previous, character_ids_to_unshow=unshow)


async def change_status(
    db: Database, target: NewMember, status: str, by: Moderator, reason: str
) -> StatusChange:
    """/mod user scope:platform (the caller has checked that ``by`` is a platform moderator):
    the target's user row (made if they never used the bot) and
    :func:`set_user_status`, in one transaction: a refused change leaves nothing behind."""
    async with db.transaction() as session:
        user = await get_or_create_member(session, target)
        return await set_user_status(
            session,
            user.id,
            status,
            guild_id=by.guild_id,
            moderator_discord_id=by.discord_id,
            moderator_user_id=by.user_id,
            reason=reason,
        )
