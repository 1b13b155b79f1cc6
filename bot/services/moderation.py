"""Moderation: per-guild settings, who moderates, unpublishing, account status, the action log.
(Notices for members a DM could not reach: :mod:`bot.services.notices`.)

Everything a moderator does is one ``moderation_actions`` row written in the same transaction as
the change itself, so the log can never miss an action or show one that did not happen.

The gallery and the generation pipeline already require ``account_status = 'active'``, so
suspending or banning a member takes their characters out of the gallery and stops their
generations without touching the characters themselves; reactivating brings both back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.errors import DomainError, InvalidInputError, NotFoundError
from bot.services.characters import (
    AUTOCOMPLETE_MAX,
    clean_text,
    get_character,
    is_valid_id,
    name_rank,
)
from bot.services.pagination import clamp_limit
from db.bot_models import GuildSettings, ModerationAction, ShowcasePost
from db.models import Character, User

MODERATOR_STATUSES: Final = ("active", "suspended", "banned")
MAX_REASON = 500
LOG_LIMIT = 15
UNPUBLISHED_NOTICE = "notice.unpublished"


class _Unset:
    """Marks a setting the caller leaves as it is (None means "clear it")."""


UNSET: Final = _Unset()


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
    prefix = "oauth2|discord|"
    if user.auth0_id and user.auth0_id.startswith(prefix):
        rest = user.auth0_id[len(prefix) :]
        return int(rest) if rest.isdigit() else None
    return None


def _reason(reason: str) -> str:
    cleaned = clean_text(
        reason, field="reason", label="reason", max_length=MAX_REASON, required=True
    )
    assert cleaned is not None
    return cleaned


# --- guild settings -------------------------------------------------------------------------


async def get_guild_settings(session: AsyncSession, guild_id: int) -> GuildSettings | None:
    """The guild's settings row, if it has one."""
    return await session.get(GuildSettings, guild_id, populate_existing=True)


async def configure_guild(
    session: AsyncSession,
    guild_id: int,
    *,
    moderator_discord_id: int,
    moderator_user_id: str | None,
    showcase_channel_id: int | _Unset | None = UNSET,
    moderator_role_id: int | _Unset | None = UNSET,
) -> GuildSettings:
    """Create or update the guild's settings (only the values given change) and log it."""
    values: dict[str, Any] = {}
    if not isinstance(showcase_channel_id, _Unset):
        values["showcase_channel_id"] = showcase_channel_id
    if not isinstance(moderator_role_id, _Unset):
        values["moderator_role_id"] = moderator_role_id
    stmt = insert(GuildSettings).values(guild_id=guild_id, **values)
    if values:
        stmt = stmt.on_conflict_do_update(
            index_elements=[GuildSettings.guild_id], set_={**values, "updated_at": func.now()}
        )
    else:
        stmt = stmt.on_conflict_do_nothing()
    await session.execute(stmt)
    session.add(
        ModerationAction(
            created_at=func.clock_timestamp(),
            guild_id=guild_id,
            moderator_discord_id=moderator_discord_id,
            moderator_user_id=moderator_user_id,
            action="setup",
            details={k: (str(v) if v is not None else None) for k, v in values.items()},
        )
    )
    await session.flush()
    settings = await get_guild_settings(session, guild_id)
    assert settings is not None
    return settings


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
    """Take a character out of the gallery (``is_public`` false) and log who, why and when.

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
    session.add(
        ModerationAction(
            created_at=func.clock_timestamp(),
            guild_id=guild_id,
            moderator_discord_id=moderator_discord_id,
            moderator_user_id=moderator_user_id,
            action="unpublish",
            target_user_id=owner.id,
            target_character_id=character.id,
            reason=why,
            details={"name": character.name},
        )
    )
    await session.flush()
    await session.refresh(character)
    return Unpublished(character=character, owner=owner)


async def autocomplete_public_characters(
    session: AsyncSession, query: str, limit: int = AUTOCOMPLETE_MAX
) -> list[tuple[str, str]]:
    """``(id, "name · id prefix")`` of public characters matching ``query``, newest first."""
    limit = clamp_limit(limit, AUTOCOMPLETE_MAX)
    stmt = select(Character.id, Character.name).where(Character.is_public.is_(True))
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
        raise InvalidInputError(
            f"{status!r} is not a valid status; choose one of {', '.join(MODERATOR_STATUSES)}.",
            "invalid.choice",
            value=status,
            what="status",
            choices=", ".join(MODERATOR_STATUSES),
        )
    why = _reason(reason)
    if moderator_user_id is not None and moderator_user_id == target_user_id:
        raise SelfModerationError()
    user = await session.get(User, target_user_id, populate_existing=True)
    if user is None:
        raise NotFoundError("user")
    previous = user.account_status or "active"
    user.account_status = status
    session.add(
        ModerationAction(
            created_at=func.clock_timestamp(),
            guild_id=guild_id,
            moderator_discord_id=moderator_discord_id,
            moderator_user_id=moderator_user_id,
            action="set_status",
            target_user_id=user.id,
            reason=why,
            details={"from": previous, "to": status},
        )
    )
    await session.flush()
    unshow: tuple[str, ...] = ()
    if status != "active":
        unshow = await showcased_character_ids(session, user.id)
    return StatusChange(user=user, previous=previous, character_ids_to_unshow=unshow)


async def showcased_character_ids(session: AsyncSession, user_id: str) -> tuple[str, ...]:
    """The member's characters that have a post in some showcase channel."""
    rows = await session.scalars(
        select(ShowcasePost.character_id)
        .join(Character, Character.id == ShowcasePost.character_id)
        .where(Character.user_id == user_id)
        .distinct()
    )
    return tuple(rows)


# --- the log --------------------------------------------------------------------------------


async def recent_actions(
    session: AsyncSession, guild_id: int, limit: int = LOG_LIMIT
) -> list[LogEntry]:
    """The guild's most recent moderator actions, newest first."""
    moderator = aliased(User)
    target = aliased(User)
    rows = await session.execute(
        select(
            ModerationAction,
            moderator.display_name,
            target.display_name,
            target.auth0_id,
            Character.name,
        )
        .outerjoin(moderator, moderator.id == ModerationAction.moderator_user_id)
        .outerjoin(target, target.id == ModerationAction.target_user_id)
        .outerjoin(Character, Character.id == ModerationAction.target_character_id)
        .where(ModerationAction.guild_id == guild_id)
        .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
        .limit(clamp_limit(limit))
    )
    out = []
    for action, moderator_name, target_name, target_auth0, character_name in rows:
        details = dict(action.details or {})
        target_discord: int | None = None
        if target_auth0 and str(target_auth0).startswith("oauth2|discord|"):
            tail = str(target_auth0).rsplit("|", 1)[-1]
            target_discord = int(tail) if tail.isdigit() else None
        out.append(
            LogEntry(
                action=action.action,
                moderator_discord_id=action.moderator_discord_id,
                moderator_name=moderator_name,
                target_user_name=target_name,
                target_user_discord_id=target_discord,
                target_character_name=character_name or details.get("name"),
                target_character_id=action.target_character_id,
                reason=action.reason,
                details=details,
                created_at=action.created_at,
            )
        )
    return out
