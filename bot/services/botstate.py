"""The bot's own key-value state (``bot_state``): what a process must remember across restarts,
such as the digest of the command set last synced to Discord."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert

from db.bot_models import BotState
from db.engine import Database


async def get_value(db: Database, key: str) -> str | None:
    """The value stored under ``key``, if any."""
    async with db.read() as session:
        row = await session.get(BotState, key)
    return None if row is None else row.value


async def set_value(db: Database, key: str, value: str) -> None:
    """Store ``value`` under ``key`` (inserted, or replaced)."""
    async with db.transaction() as session:
        stmt = insert(BotState).values(key=key, value=value)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[BotState.key],
                set_={"value": value, "updated_at": stmt.excluded.updated_at},
            )
        )
