"""The bot's own settings of a member, kept beside the platform's ``users`` row (whose columns
stay as the platform defines them): for now, whether others may remix their characters."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.bot_models import MemberSettings


async def allows_remix(session: AsyncSession, user_id: str) -> bool:
    """Whether the member lets others remix their characters (yes unless they turned it off)."""
    allowed = await session.scalar(
        select(MemberSettings.allow_remix).where(MemberSettings.user_id == user_id)
    )
    return allowed is not False


async def set_allow_remix(session: AsyncSession, user_id: str, allowed: bool) -> None:
    """Record the member's choice (their row is made on their first change)."""
    statement = insert(MemberSettings).values(user_id=user_id, allow_remix=allowed)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[MemberSettings.user_id],
            set_={"allow_remix": allowed, "updated_at": func.now()},
        )
    )
