"""Accounts: the user row of a Discord member, their settings and what they may do."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, bindparam, exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import AccountRestrictedError, InvalidInputError, NotFoundError
from bot.services.carryover import carried_values, restore_blocks, take_carryover
from bot.services.member_cache import MemberCache
from bot.services.member_settings import allows_remix, set_allow_remix
from bot.services.notices import pending_for
from bot.services.showcase import showcased_character_ids
from db.bot_models import GuildBlockedUser
from db.engine import Database
from db.models import CONTENT_FILTERS, LANGUAGES, VISIBILITIES, User

_USERNAME_CHARS = re.compile(r"[^a-zA-Z0-9_]+")
GENERATING_STATUSES = frozenset({"active"})


def auth0_id_for(discord_id: int) -> str:
    """The id the platform's Auth0 Discord connection gives the same person."""
    return f"oauth2|discord|{int(discord_id)}"


def discord_id_in(auth0_id: str | None) -> int | None:
    """The Discord id in an ``auth0_id`` from Discord (see :func:`auth0_id_for`), else None."""
    prefix = auth0_id_for(0)[:-1]
    rest = auth0_id[len(prefix) :] if auth0_id and auth0_id.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


def public_name(display_name: str | None, username: str | None, auth0_id: str | None) -> str | None:
    """The name others may read: the display name, else the username, leaving out any that
    holds the member's Discord id (a username made from the id when the name was taken, say),
    since a member's id is shown to no one else."""
    found = discord_id_in(auth0_id)
    snowflake = str(found) if found is not None else ""
    for name in (display_name, username):
        if name and not (snowflake and snowflake in name):
            return name
    return None


def placeholder_email(discord_id: int) -> str:
    """A syntactically valid address on a reserved domain, until the web platform links one."""
    return f"discord_{int(discord_id)}@users.discord.invalid"


def username_candidates(hint: str, discord_id: int) -> list[str]:
    """Usernames to try, all matching ``^[a-zA-Z0-9_]{3,30}$``: the cleaned hint, then the
    hint with a suffix of the member's id, then the id alone."""
    base = _USERNAME_CHARS.sub("_", hint).strip("_")[:30]
    if len(base) < 3:
        base = (base + "_user")[:30] if base else "member"
    suffix = str(int(discord_id))[-6:]
    out = [base, f"{base[: 30 - len(suffix) - 1]}_{suffix}", f"discord_{int(discord_id)}"[:30]]
    return list(dict.fromkeys(out))


async def get_user_by_discord_id(session: AsyncSession, discord_id: int) -> User | None:
    """The user of a Discord member, if they have used the bot before."""
    return (
        await session.execute(select(User).where(User.auth0_id == auth0_id_for(discord_id)))
    ).scalar_one_or_none()


def _blocked_here() -> ColumnElement[bool]:
    """The member is blocked in the guild bound as ``guild_id`` (NULL outside a guild: never);
    served by the primary key of ``guild_blocked_users``."""
    return exists().where(
        GuildBlockedUser.guild_id == bindparam("guild_id", type_=BigInteger),
        GuildBlockedUser.user_id == User.id,
    )


# built once: SQLAlchemy then reuses its compiled form without working out a cache key per call
_MEMBER_WITH_NOTICES = select(
    User,
    exists().where(*pending_for(User.id)).label("has_notices"),
    _blocked_here().label("blocked"),
).where(User.auth0_id == bindparam("auth0_id"))
_MEMBER_ID_HERE = select(User.id, _blocked_here().label("blocked")).where(
    User.auth0_id == bindparam("auth0_id")
)


async def get_member_with_notices(
    session: AsyncSession, discord_id: int, guild_id: int | None = None
) -> tuple[User, bool, bool] | None:
    """The member's user row, whether an undelivered notice waits for them and whether the
    moderators of ``guild_id`` blocked them there, in one query; None if they have not used the
    bot before."""
    found = (
        await session.execute(
            _MEMBER_WITH_NOTICES, {"auth0_id": auth0_id_for(discord_id), "guild_id": guild_id}
        )
    ).one_or_none()
    return None if found is None else (found[0], bool(found[1]), bool(found[2]))


async def get_or_create_user(
    session: AsyncSession,
    discord_id: int,
    *,
    username_hint: str,
    display_name: str | None = None,
    avatar_url: str | None = None,
    daily_quota: int | None = None,
    language: str | None = None,
) -> User:
    """The member's user row, created on first use; two first uses at once make one row.

    ``language`` (a supported code derived from the Discord locale) is stored as the
    preferred language only when the row is created.
    """
    existing = await get_user_by_discord_id(session, discord_id)
    if existing is not None:
        return existing
    auth0_id = auth0_id_for(discord_id)
    values: dict[str, object] = {
        "auth0_id": auth0_id,
        "email": placeholder_email(discord_id),
        "display_name": (display_name or username_hint)[:100] or None,
        "avatar_url": avatar_url,
    }
    if daily_quota is not None:
        values["daily_quota"] = daily_quota
    if language in LANGUAGES:
        values["preferred_language"] = language
    # a member who deleted their account comes back with today's count, a sanction, blocks
    carried = await take_carryover(session, auth0_id)
    values.update(carried_values(carried))
    for username in username_candidates(username_hint, discord_id):
        # ON CONFLICT DO NOTHING covers every unique index: a concurrent first use (auth0_id,
        # email) or a username someone else has; the SELECT below tells which.
        stmt = insert(User).values(username=username, **values).on_conflict_do_nothing()
        inserted = (await session.execute(stmt.returning(User.id))).scalar_one_or_none()
        if inserted is not None:
            await restore_blocks(session, inserted, carried)
            break
        if await get_user_by_discord_id(session, discord_id) is not None:
            break
    user = await get_user_by_discord_id(session, discord_id)
    if user is None:  # pragma: no cover - every candidate clashed, which the id suffix prevents
        raise NotFoundError("user")
    await session.refresh(user)
    return user


def ensure_can_generate(user: User) -> None:
    """Refuse suspended, banned and deleted accounts.

    Raises:
        AccountRestrictedError: the account is not active.
    """
    status = user.account_status or "active"
    if status not in GENERATING_STATUSES:
        raise AccountRestrictedError(status)


def validate_timezone(name: str) -> str:
    """An IANA zone name as Python and PostgreSQL both know it.

    Raises:
        InvalidInputError: unknown zone.
    """
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 64 or cleaned.startswith(("/", ".")) or ".." in cleaned:
        raise InvalidInputError(
            f"Unknown timezone {cleaned!r}. Use a name like Europe/Paris or America/New_York.",
            "invalid.timezone",
            timezone=cleaned,
        )
    try:
        zoneinfo.ZoneInfo(cleaned)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInputError(
            f"Unknown timezone {cleaned!r}. Use a name like Europe/Paris or America/New_York.",
            "invalid.timezone",
            timezone=cleaned,
        ) from None
    return cleaned


@dataclass(frozen=True)
class SettingsChange:
    """The settings a member may change; None leaves a field as it is."""

    language: str | None = None
    content_filter: str | None = None
    profile_visibility: str | None = None
    allow_gallery_showcase: bool | None = None
    timezone: str | None = None
    allow_remix: bool | None = None


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise InvalidInputError(
            f"{value!r} is not a valid {what}; choose one of {', '.join(allowed)}.",
            "invalid.choice",
            value=value,
            what=what,
            choices=", ".join(allowed),
        )
    return value


async def update_settings(session: AsyncSession, user_id: str, change: SettingsChange) -> User:
    """Apply a settings change after validating every field (nothing changes on bad input).

    Raises:
        InvalidInputError: a value is not allowed. NotFoundError: no such user.
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("user")
    updates: dict[str, object] = {}
    if change.language is not None:
        updates["preferred_language"] = _check_choice(change.language, LANGUAGES, "language")
    if change.content_filter is not None:
        updates["content_filter_level"] = _check_choice(
            change.content_filter, CONTENT_FILTERS, "content filter"
        )
    if change.profile_visibility is not None:
        updates["profile_visibility"] = _check_choice(
            change.profile_visibility, VISIBILITIES, "profile visibility"
        )
    if change.allow_gallery_showcase is not None:
        updates["allow_gallery_showcase"] = bool(change.allow_gallery_showcase)
    if change.timezone is not None:
        updates["timezone"] = validate_timezone(change.timezone)
    for key, value in updates.items():
        setattr(user, key, value)
    if change.allow_remix is not None:
        await set_allow_remix(session, user.id, bool(change.allow_remix))
    await session.flush()
    return user


@dataclass(frozen=True)
class SettingsSaved:
    """A member's row after a settings change, and the characters whose showcase posts must go
    (when they opted out of the gallery showcase)."""

    user: User
    unshow: tuple[str, ...]
    allow_remix: bool = True


async def save_settings(db: Database, user_id: str, change: SettingsChange) -> SettingsSaved:
    """Apply a settings change in one transaction; opting out of the showcase also lists the
    member's characters that have showcase posts.

    Raises:
        InvalidInputError: a value is not allowed. NotFoundError: no such user.
    """
    async with db.transaction() as session:
        user = await update_settings(session, user_id, change)
        unshow: tuple[str, ...] = ()
        if change.allow_gallery_showcase is False:
            unshow = await showcased_character_ids(session, user.id)
        allow_remix = await allows_remix(session, user.id)
    return SettingsSaved(user=user, unshow=unshow, allow_remix=allow_remix)


@dataclass(frozen=True)
class NewMember:
    """What Discord says of a member the bot has not seen yet (their row is made from it)."""

    discord_id: int
    username_hint: str
    display_name: str | None
    avatar_url: str | None
    daily_quota: int
    language: str | None


async def get_or_create_member(session: AsyncSession, member: NewMember) -> User:
    """:func:`get_or_create_user` with what Discord says of the member."""
    return await get_or_create_user(
        session,
        member.discord_id,
        username_hint=member.username_hint,
        display_name=member.display_name,
        avatar_url=member.avatar_url,
        daily_quota=member.daily_quota,
        language=member.language,
    )


async def resolve_member(
    db: Database,
    member: NewMember,
    guild_id: int | None = None,
    cache: MemberCache | None = None,
) -> tuple[User, bool, bool]:
    """The member's user row (created on first use), whether a notice waits for them and
    whether they are blocked in ``guild_id``: from ``cache`` when it holds them (no query but
    the listener's shared ping),
    else one read for a known member, one short transaction for a new one (who has no notice,
    and is blocked only where the account they deleted was: see
    :mod:`bot.services.carryover`)."""
    kept = await cache.current(member.discord_id, guild_id) if cache is not None else None
    if kept is not None:
        return kept
    epoch = cache.epoch if cache is not None else 0
    async with db.read() as session:
        found = await get_member_with_notices(session, member.discord_id, guild_id)
    if found is None:
        async with db.transaction() as session:
            user = await get_or_create_member(session, member)
            blocked = (
                guild_id is not None
                and await session.get(GuildBlockedUser, (guild_id, user.id)) is not None
            )
        found = (user, False, blocked)
    if cache is not None:
        cache.store(epoch, member.discord_id, found, guild_id)
    return found


async def find_member_here(
    db: Database, discord_id: int, guild_id: int, cache: MemberCache | None = None
) -> tuple[str | None, bool]:
    """The member's user id (None when they never used the bot) and whether they are blocked
    in ``guild_id``: from ``cache`` when it holds them, else one read that creates nothing
    (for autocomplete)."""
    kept = await cache.current(discord_id, guild_id) if cache is not None else None
    if kept is not None:
        return kept[0].id, kept[2]
    async with db.read() as session:
        found = (
            await session.execute(
                _MEMBER_ID_HERE, {"auth0_id": auth0_id_for(discord_id), "guild_id": guild_id}
            )
        ).one_or_none()
    return (None, False) if found is None else (str(found[0]), bool(found[1]))


async def find_user_id(db: Database, discord_id: int) -> str | None:
    """The user id of a member who has used the bot, without creating a row."""
    async with db.read() as session:
        user = await get_user_by_discord_id(session, discord_id)
    return None if user is None else user.id
