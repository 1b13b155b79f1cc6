"""Deleting a row the caller has loaded, as one statement that says whether it deleted it."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, and_, delete, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import NotFoundError
from db.base import Base


async def delete_loaded(session: AsyncSession, row: Base, what: str) -> None:
    """Delete ``row`` by its primary key (what references it goes by the database's cascades)
    and forget it in the session.

    Raises: NotFoundError(``what``) when another transaction deleted it first (a second press
    of the same Delete button, the character deleted with its themes meanwhile). The ORM's
    own delete only warns then, and the caller would report a deletion that was not its own.
    """
    mapper = inspect(row).mapper
    key = mapper.primary_key_from_instance(row)
    matches = and_(*(c == v for c, v in zip(mapper.primary_key, key, strict=True)))
    statement = delete(type(row)).where(matches).execution_options(synchronize_session=False)
    result = cast(CursorResult[Any], await session.execute(statement))
    if result.rowcount == 0:
        raise NotFoundError(what)
    session.expunge(row)
