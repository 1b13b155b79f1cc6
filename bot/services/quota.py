"""The daily generation quota: one atomic statement charges, resets and refuses.

The day is the user's local day (``users.timezone``): a charge on a later local date than
``last_reset_date`` starts the count again. Refunds are tied to a generation's transition to
``failed`` (see ``generations.fail_generation``), so a unit can come back only once.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.errors import AccountRestrictedError, NotFoundError, QuotaExceededError
from db.models import User

# A new local day has begun since the last reset. The zone is a parameter, the one Python
# resolved from the row's timezone (UTC when unknown), so a timezone PostgreSQL would refuse
# cannot make every charge of that member fail, and the day counted is the one /quota shows.
_NEW_DAY = (
    "(now() AT TIME ZONE CAST(:zone AS text))::date"
    " > (last_reset_date AT TIME ZONE CAST(:zone AS text))::date"
)

CHARGE_UPDATE = f"""
    UPDATE users SET
        daily_used = CASE WHEN {_NEW_DAY} THEN 1 ELSE daily_used + 1 END,
        last_reset_date = CASE WHEN {_NEW_DAY} THEN now() ELSE last_reset_date END
    WHERE id = :user_id
      AND coalesce(account_status, 'active') = 'active'
      AND (CASE WHEN {_NEW_DAY} THEN 0 ELSE daily_used END) < daily_quota
    RETURNING id, daily_used, daily_quota, last_reset_date
    """
"""The charge (parameters ``user_id`` and ``zone``, see :func:`charge_zone`): the member's row
as charged, or none when nothing was (see :func:`refused`). A statement of its own
(:data:`CHARGE_SQL`) or the first part of one that records what was charged for."""
CHARGE_SQL = text(CHARGE_UPDATE)


@dataclass(frozen=True)
class QuotaStatus:
    """Where a member stands today."""

    used: int
    quota: int
    tier: str
    resets_at: datetime

    @property
    def remaining(self) -> int:
        """Units left today."""
        return max(self.quota - self.used, 0)


def _zone(name: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return zoneinfo.ZoneInfo("UTC")


def next_reset(timezone: str | None, now: datetime | None = None) -> datetime:
    """The next local midnight of ``timezone``, as an aware UTC instant."""
    zone = _zone(timezone)
    local = (now or datetime.now(UTC)).astimezone(zone)
    tomorrow = (local + timedelta(days=1)).date()
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone)
    return midnight.astimezone(UTC)


def status_of(user: User, now: datetime | None = None) -> QuotaStatus:
    """The quota status of a loaded user row (a new local day counts as nothing used)."""
    current = now or datetime.now(UTC)
    zone = _zone(user.timezone)
    new_day = current.astimezone(zone).date() > user.last_reset_date.astimezone(zone).date()
    return QuotaStatus(
        used=0 if new_day else user.daily_used,
        quota=user.daily_quota,
        tier=user.subscription_tier or "FREE",
        resets_at=next_reset(user.timezone, current),
    )


async def charge(session: AsyncSession, user_id: str) -> QuotaStatus:
    """Take one unit in a single statement, safe across connections and processes.

    Raises:
        QuotaExceededError: none left today. AccountRestrictedError: the account may not
        generate. NotFoundError: no such user.
    """
    loaded = await session.get(User, user_id)  # the caller's row is usually loaded already
    params = {"user_id": user_id, "zone": charge_zone(loaded)}
    row = (await session.execute(CHARGE_SQL, params)).one_or_none()
    if row is None:
        await refused(session, user_id)
    if loaded is not None:  # the row as charged, without reading it again
        return charged_status(loaded, row)
    user = await session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFoundError("user")
    return status_of(user)


def charge_zone(user: User | None) -> str:
    """The zone whose local day the charge counts in: the member's, UTC when unknown."""
    return _zone(user.timezone if user is not None else None).key


def charged_status(user: User, row: Any) -> QuotaStatus:
    """The quota after a charge, from the row it returned (the loaded ``user`` takes its
    counters, without reading it again)."""
    set_committed_value(user, "daily_used", row.daily_used)
    set_committed_value(user, "daily_quota", row.daily_quota)
    set_committed_value(user, "last_reset_date", row.last_reset_date)
    return status_of(user)


async def refused(session: AsyncSession, user_id: str) -> NoReturn:
    """Why a charge of this member took nothing, from their row read again after it.

    Raises: NotFoundError (no such member), AccountRestrictedError, else QuotaExceededError.
    """
    user = await session.get(User, user_id, populate_existing=True)
    if user is None:
        raise NotFoundError("user")
    status = user.account_status or "active"
    if status != "active":
        raise AccountRestrictedError(status)
    raise QuotaExceededError(user.daily_quota, next_reset(user.timezone))


async def set_tier(session: AsyncSession, user_id: str, tier: str, daily_quota: int) -> User:
    """Put a user on a tier with that tier's daily quota.

    Raises:
        NotFoundError: no such user.
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError("user")
    user.subscription_tier = tier
    user.daily_quota = daily_quota
    await session.flush()
    return user
