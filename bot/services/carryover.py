"""What a deleted account leaves behind, so that deleting is not a way around the rules.

Deleting an account erases its rows, but two facts would otherwise be a loophole:

- today's used quota: delete, come back, and the new account would have a full day again. The
  count of the day (with its reset date and timezone) is kept until the member's local midnight;
- a suspension or ban set by a platform moderator: kept for as long as it stands (an operator
  lifts it by deleting the row).

Nothing else is kept: the key is a SHA-256 of the Discord identity (salted with a fixed label),
not the id, and the row names no character, message or server. The account that the next use
creates starts with these values and the row is consumed.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.quota import next_reset, status_of
from db.account_models import AccountCarryover
from db.models import User

SANCTIONS = frozenset({"suspended", "banned"})


def identity_hash(auth0_id: str) -> str:
    """The key of a member's carryover: a hash of their platform identity, never the id."""
    return hashlib.sha256(f"charbot.carryover:{auth0_id}".encode()).hexdigest()


async def remember(session: AsyncSession, user: User, now: datetime | None = None) -> bool:
    """Keep what must outlive the member's account (today's used quota, a sanction); nothing
    is written when there is nothing to keep. Returns whether a row was written."""
    if not user.auth0_id:
        return False
    current = now or datetime.now(UTC)
    used = status_of(user, current).used
    status = user.account_status or "active"
    sanction = status if status in SANCTIONS else "active"
    if used == 0 and sanction == "active":
        return False
    values = {
        "daily_used": used,
        "last_reset_date": user.last_reset_date,
        "timezone": user.timezone,
        "account_status": sanction,
        "expires_at": None if sanction != "active" else next_reset(user.timezone, current),
    }
    stmt = insert(AccountCarryover).values(identity_hash=identity_hash(user.auth0_id), **values)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=[AccountCarryover.identity_hash], set_=values)
    )
    return True


async def carried_values(session: AsyncSession, auth0_id: str) -> dict[str, object]:
    """The user-row values a new account of this identity starts with (consuming the row);
    empty when nothing was carried or it has expired."""
    row = (
        await session.execute(
            delete(AccountCarryover)
            .where(AccountCarryover.identity_hash == identity_hash(auth0_id))
            .returning(AccountCarryover)
        )
    ).scalar_one_or_none()
    if row is None:
        return {}
    values: dict[str, object] = {}
    if row.account_status in SANCTIONS:
        values["account_status"] = row.account_status
    if row.expires_at is None or row.expires_at > datetime.now(UTC):
        values["daily_used"] = row.daily_used
        values["last_reset_date"] = row.last_reset_date
        if row.timezone:
            values["timezone"] = row.timezone
    return values


async def forget_expired(session: AsyncSession) -> int:
    """Drop carryovers whose day is over (sanctions have no end date and stay)."""
    result = await session.execute(
        delete(AccountCarryover)
        .where(AccountCarryover.expires_at.is_not(None))
        .where(AccountCarryover.expires_at <= func.now())
        .returning(AccountCarryover.identity_hash)
    )
    return len(result.all())


async def carried_for(session: AsyncSession, auth0_id: str) -> AccountCarryover | None:
    """The carryover row of an identity, if any (for tests and the operator)."""
    return await session.scalar(
        select(AccountCarryover).where(AccountCarryover.identity_hash == identity_hash(auth0_id))
    )
