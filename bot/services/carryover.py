"""What a deleted account leaves behind, so that deleting is not a way around the rules.

Deleting an account erases its rows, but three facts would otherwise be a loophole:

- today's used quota: delete, come back, and the new account would have a full day again. The
  count of the day (with its reset date and timezone) is kept until the member's local midnight;
- a suspension or ban set by a platform moderator, and
- the servers that blocked the member (``guild_blocked_users``): kept for as long as they stand
  (an operator lifts them by deleting the row).

Nothing else is kept: the key is a SHA-256 of the Discord identity (salted with a fixed label),
not the id, and the row names no character or message. The account that the next use creates
starts with these values and the row is consumed.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.quota import next_reset, status_of
from db.account_models import AccountCarryover
from db.bot_models import GuildBlockedUser
from db.models import User

SANCTIONS = frozenset({"suspended", "banned"})


def identity_hash(auth0_id: str) -> str:
    """The key of a member's carryover: a hash of their platform identity, never the id."""
    return hashlib.sha256(f"charbot.carryover:{auth0_id}".encode()).hexdigest()


async def _blocks(session: AsyncSession, user_id: str) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(GuildBlockedUser).where(GuildBlockedUser.user_id == user_id)
    )
    return [
        {
            "guild_id": str(row.guild_id),
            "moderator_discord_id": str(row.moderator_discord_id),
            "reason": row.reason,
            "created_at": row.created_at.isoformat(),
        }
        for row in rows
    ]


async def remember(session: AsyncSession, user: User, now: datetime | None = None) -> bool:
    """Keep what must outlive the member's account (today's used quota, a sanction, servers'
    blocks); nothing is written when there is nothing to keep. Returns whether a row was."""
    if not user.auth0_id:
        return False
    current = now or datetime.now(UTC)
    used = status_of(user, current).used
    status = user.account_status or "active"
    sanction = status if status in SANCTIONS else "active"
    blocks = await _blocks(session, user.id)
    lasting = sanction != "active" or bool(blocks)
    if used == 0 and not lasting:
        return False
    values = {
        "daily_used": used,
        "last_reset_date": user.last_reset_date,
        "timezone": user.timezone,
        "account_status": sanction,
        "guild_blocks": blocks,
        "expires_at": None if lasting else next_reset(user.timezone, current),
    }
    stmt = insert(AccountCarryover).values(identity_hash=identity_hash(user.auth0_id), **values)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=[AccountCarryover.identity_hash], set_=values)
    )
    return True


async def take_carryover(session: AsyncSession, auth0_id: str) -> AccountCarryover | None:
    """The carryover of an identity, removed (it is applied once, to the new account)."""
    return (
        await session.execute(
            delete(AccountCarryover)
            .where(AccountCarryover.identity_hash == identity_hash(auth0_id))
            .returning(AccountCarryover)
        )
    ).scalar_one_or_none()


def carried_values(row: AccountCarryover | None) -> dict[str, object]:
    """The user-row values a new account starts with. The quota's day is carried with its
    date, so a count of a day that is over counts for nothing, as for any member."""
    if row is None:
        return {}
    values: dict[str, object] = {
        "daily_used": row.daily_used,
        "last_reset_date": row.last_reset_date,
    }
    if row.timezone:
        values["timezone"] = row.timezone
    if row.account_status in SANCTIONS:
        values["account_status"] = row.account_status
    return values


async def restore_blocks(session: AsyncSession, user_id: str, row: AccountCarryover | None) -> None:
    """Block the new account in the servers that had blocked the deleted one."""
    if row is None or not row.guild_blocks:
        return
    entries = [
        {
            "guild_id": int(block["guild_id"]),
            "user_id": user_id,
            "moderator_discord_id": int(block["moderator_discord_id"]),
            "reason": block.get("reason"),
        }
        for block in row.guild_blocks
        if str(block.get("guild_id", "")).isdigit()
        and str(block.get("moderator_discord_id", "")).isdigit()
    ]
    if entries:
        await session.execute(insert(GuildBlockedUser).values(entries).on_conflict_do_nothing())


async def forget_expired(session: AsyncSession) -> int:
    """Drop carryovers whose day is over (lasting ones have no end date and stay)."""
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
