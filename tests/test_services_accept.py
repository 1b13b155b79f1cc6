"""A create's acceptance into the queue: one statement charges, records the pending character,
the generation, its queue row and its job; a refused charge writes nothing and says why."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.errors import AccountRestrictedError, QuotaExceededError
from bot.services.generation.accept import Acceptance, accept_create
from bot.services.generation.inputs import create_inputs, placeholder_values
from bot.services.generation.model import CreateRequest
from db.meta import SOURCE
from db.models import Character, Generation, User
from tests.factories import make_user


def _acceptance(user_id: str) -> tuple[Acceptance, dict[str, Any]]:
    request = CreateRequest(user_id=user_id, description="a lighthouse keeper", name="Morwen")
    return Acceptance("create", request), placeholder_values(create_inputs(request))


async def _rows_of(session: AsyncSession, user_id: str) -> tuple[int, int, int]:
    characters = await session.scalar(
        select(func.count()).select_from(Character).where(Character.user_id == user_id)
    )
    generations = await session.scalar(
        select(func.count()).select_from(Generation).where(Generation.user_id == user_id)
    )
    jobs = await session.scalar(
        text(
            "SELECT count(*) FROM generation_jobs j JOIN generations g ON g.id = j.generation_id"
            " WHERE g.user_id = :u"
        ),
        {"u": user_id},
    )
    return int(characters or 0), int(generations or 0), int(jobs or 0)


async def test_a_create_is_accepted_in_one_statement(
    session: AsyncSession, engine: AsyncEngine
) -> None:
    user = await make_user(session, daily_quota=2)
    acceptance, placeholder = _acceptance(user.id)
    statements: list[str] = []

    def counted(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", counted)
    try:
        begun, quota = await accept_create(session, user, acceptance, placeholder)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", counted)

    assert len(statements) == 1
    assert (quota.used, quota.remaining) == (1, 1)
    character = await session.get(Character, begun.character_id)
    assert character is not None
    assert (character.name, character.description, character.generation_status) == (
        "Morwen",
        "a lighthouse keeper",
        "pending",
    )
    assert character.meta is not None
    assert SOURCE in character.meta
    generation = await session.get(Generation, begun.id)
    assert generation is not None
    assert (generation.status, generation.character_id) == ("pending", begun.character_id)
    job = (
        await session.execute(
            text(
                "SELECT j.kind, q.status FROM generation_jobs j JOIN pgqueuer q"
                " ON q.id = j.queue_job_id WHERE j.generation_id = :g"
            ),
            {"g": begun.id},
        )
    ).one()
    assert (job.kind, job.status) == ("create", "queued")
    charged = await session.get(User, user.id, populate_existing=True)
    assert charged is not None
    assert charged.daily_used == 1


async def test_a_refused_create_writes_nothing_and_says_why(session: AsyncSession) -> None:
    full = await make_user(session, daily_quota=1, daily_used=1)
    acceptance, placeholder = _acceptance(full.id)
    with pytest.raises(QuotaExceededError):
        await accept_create(session, full, acceptance, placeholder)
    assert await _rows_of(session, full.id) == (0, 0, 0)

    suspended = await make_user(session, daily_quota=5, account_status="suspended")
    acceptance, placeholder = _acceptance(suspended.id)
    with pytest.raises(AccountRestrictedError):
        await accept_create(session, suspended, acceptance, placeholder)
    assert await _rows_of(session, suspended.id) == (0, 0, 0)
    again = await session.get(User, suspended.id, populate_existing=True)
    assert again is not None
    assert again.daily_used == 0
