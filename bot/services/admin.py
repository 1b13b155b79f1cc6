"""Administration from the shell: a member's tier and account status, and usage statistics.

Each function opens one short unit of work on its own engine and returns plain data; the CLI
prints it. Status changes are recorded in ``moderation_actions`` like a moderator's, with
moderator id 0 and ``{"via": "cli"}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import TIERS, Settings
from bot.services.accounts import get_user_by_discord_id
from bot.services.mod_scopes import MODERATOR_STATUSES
from bot.services.moderation import Moderator, record_action
from db.engine import make_engine, make_session_factory
from db.models import Character, Generation, User

SETTABLE_STATUSES = MODERATOR_STATUSES
T = TypeVar("T")
CLI_MODERATOR_ID = 0
FROM_THE_SHELL = Moderator(guild_id=None, discord_id=CLI_MODERATOR_ID, user_id=None)


class AdminError(Exception):
    """A refused admin command; the message says why. ``exit_code`` is what the CLI returns."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UnknownUserError(AdminError):
    """No user row for that Discord id."""

    def __init__(self, discord_id: int) -> None:
        super().__init__(
            f"no user with Discord id {discord_id} (they have not used the bot yet)", 3
        )


class BadValueError(AdminError):
    """A value outside the allowed set."""

    def __init__(self, what: str, value: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{value!r} is not a {what}; choose one of {', '.join(allowed)}", 2)


@dataclass(frozen=True)
class TierChange:
    """What ``set-tier`` did."""

    username: str
    tier: str
    daily_quota: int
    previous_tier: str | None


@dataclass(frozen=True)
class StatusChange:
    """What ``set-status`` did."""

    username: str
    status: str
    previous_status: str | None


@dataclass(frozen=True)
class Stats:
    """Users, characters, and today's generations (UTC day) by status."""

    users: int
    characters: int
    generations_today: dict[str, int] = field(default_factory=dict)
    day: str = ""


def normalise_tier(tier: str) -> str:
    """The tier in upper case.

    Raises:
        BadValueError: not one of TIERS.
    """
    value = tier.strip().upper()
    if value not in TIERS:
        raise BadValueError("tier", tier, TIERS)
    return value


def normalise_status(status: str) -> str:
    """The status in lower case.

    Raises:
        BadValueError: not one of SETTABLE_STATUSES.
    """
    value = status.strip().lower()
    if value not in SETTABLE_STATUSES:
        raise BadValueError("status", status, SETTABLE_STATUSES)
    return value


async def _locked_user(session: AsyncSession, discord_id: int) -> User:
    user = await get_user_by_discord_id(session, discord_id)
    if user is None:
        raise UnknownUserError(discord_id)
    locked = await session.get(User, user.id, with_for_update=True, populate_existing=True)
    if locked is None:  # pragma: no cover - deleted between the two statements
        raise UnknownUserError(discord_id)
    return locked


async def set_tier(
    session: AsyncSession, settings: Settings, discord_id: int, tier: str
) -> TierChange:
    """Set a member's subscription tier and the daily quota the tier gets.

    Raises:
        BadValueError: unknown tier. UnknownUserError: no such member.
    """
    value = normalise_tier(tier)
    user = await _locked_user(session, discord_id)
    previous = user.subscription_tier
    user.subscription_tier = value
    user.daily_quota = settings.quota_for_tier(value)
    await session.flush()
    return TierChange(user.username or "", value, user.daily_quota, previous)


async def set_status(
    session: AsyncSession, discord_id: int, status: str, reason: str | None = None
) -> StatusChange:
    """Set a member's account status and record it as a moderation action.

    Raises:
        BadValueError: unknown status. UnknownUserError: no such member.
    """
    value = normalise_status(status)
    user = await _locked_user(session, discord_id)
    previous = user.account_status
    user.account_status = value
    record_action(
        session,
        FROM_THE_SHELL,
        "set_status",
        target_user_id=user.id,
        reason=reason,
        details={"via": "cli", "from": previous, "to": value},
        scope="platform",
    )
    await session.flush()
    return StatusChange(user.username or "", value, previous)


async def stats(session: AsyncSession, now: datetime | None = None) -> Stats:
    """Counts of users and characters, and today's generations by status (UTC day)."""
    moment = now or datetime.now(UTC)
    day_start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    users = int(await session.scalar(select(func.count()).select_from(User)) or 0)
    characters = int(await session.scalar(select(func.count()).select_from(Character)) or 0)
    rows = await session.execute(
        select(Generation.status, func.count())
        .where(Generation.created_at >= day_start)
        .group_by(Generation.status)
    )
    by_status = {str(status or "unknown"): int(count) for status, count in rows.all()}
    return Stats(users, characters, by_status, day_start.date().isoformat())


async def in_transaction(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction on a short-lived engine (committed when it returns).

    Raises:
        AdminError: the command was refused (nothing changed).
    """
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with make_session_factory(engine).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()
