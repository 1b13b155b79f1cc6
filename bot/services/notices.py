"""Notices: messages for members that a DM could not reach, shown with their next reply.

The use cases (taking a :class:`~db.engine.Database`) open their own unit of work; the
session-taking functions are their steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from bot.services.pagination import clamp_limit
from db.bot_models import UserNotice
from db.engine import Database
from db.models import User

NOTICE_LIMIT = 5


def pending_for(
    user_id: str | ColumnElement[str] | QueryableAttribute[str],
) -> tuple[ColumnElement[bool], ...]:
    """The conditions of a member's undelivered notices (``user_id`` a value or a column)."""
    return (UserNotice.user_id == user_id, UserNotice.delivered_at.is_(None))


async def queue_notice(
    session: AsyncSession, user_id: str, key: str, params: dict[str, Any]
) -> UserNotice:
    """Keep a message for a member whom a DM could not reach; shown with their next reply."""
    notice = UserNotice(user_id=user_id, key=key, params=params)
    session.add(notice)
    await session.flush()
    return notice


async def take_notices(
    session: AsyncSession, user_id: str, limit: int = NOTICE_LIMIT
) -> list[UserNotice]:
    """The member's undelivered notices, oldest first, marked delivered (at most ``limit``;
    ``FOR UPDATE SKIP LOCKED`` so two replies at once never show the same notice twice)."""
    notices = list(
        await session.scalars(
            select(UserNotice)
            .where(*pending_for(user_id))
            .order_by(UserNotice.created_at, UserNotice.id)
            .limit(clamp_limit(limit))
            .with_for_update(skip_locked=True)
        )
    )
    if notices:
        await session.execute(
            update(UserNotice)
            .where(UserNotice.id.in_([n.id for n in notices]))
            .values(delivered_at=func.now())
        )
    return notices


async def has_notices(session: AsyncSession, user_id: str) -> bool:
    """Whether the member has an undelivered notice (a cheap check before locking)."""
    found = await session.scalar(select(UserNotice.id).where(*pending_for(user_id)).limit(1))
    return found is not None


async def restore_notices(session: AsyncSession, notice_ids: list[str]) -> None:
    """Mark notices undelivered again (their reply could not be sent)."""
    if notice_ids:
        await session.execute(
            update(UserNotice).where(UserNotice.id.in_(notice_ids)).values(delivered_at=None)
        )


@dataclass(frozen=True, slots=True)
class Taken:
    """Notices marked delivered, to show the member, and the language they chose (if any)."""

    notices: list[UserNotice]
    preferred_language: str | None


async def keep_notice(db: Database, user_id: str, key: str, params: dict[str, Any]) -> None:
    """Keep a message (catalog ``key`` and its ``params``) for the member's next reply."""
    async with db.transaction() as session:
        await queue_notice(session, user_id, key, params)


async def notice_waiting(db: Database, user_id: str) -> bool:
    """Whether a notice waits for the member."""
    async with db.read() as session:
        return await has_notices(session, user_id)


async def take_waiting(db: Database, user_id: str) -> Taken:
    """The member's undelivered notices, marked delivered (see :func:`take_notices`), and,
    when there are any, the member's preferred language to show them in."""
    async with db.transaction() as session:
        notices = await take_notices(session, user_id)
        language = (
            await session.scalar(select(User.preferred_language).where(User.id == user_id))
            if notices
            else None
        )
    return Taken(notices, language)


async def put_back(db: Database, notices: list[UserNotice]) -> None:
    """Mark taken notices undelivered again (their reply could not be sent)."""
    async with db.transaction() as session:
        await restore_notices(session, [n.id for n in notices])
