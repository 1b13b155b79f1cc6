"""The engine's pool: a dead pooled connection is replaced before use; a hot one is not pinged."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from db.engine import make_engine
from tests.dbutil import plain


async def _backend_pid(engine: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _driver(engine: Any) -> Any:
    """The asyncpg connection behind the pool's only connection."""
    async with engine.connect() as conn:
        return (await conn.get_raw_connection()).driver_connection


async def test_a_pooled_connection_killed_by_the_server_is_replaced_before_use(database_url):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    admin = await asyncpg.connect(plain(database_url))
    try:
        first = await _backend_pid(engine)
        await admin.execute("SELECT pg_terminate_backend($1)", first)
        await asyncio.sleep(0.2)
        second = await _backend_pid(engine)  # no error reaches the caller
        assert second != first
    finally:
        await admin.close()
        await engine.dispose()


async def test_a_connection_reused_at_once_is_not_pinged_and_an_idle_one_is(database_url):
    engine = make_engine(database_url, pool_size=1, max_overflow=0, ping_after_idle=0.3)
    seen: list[str] = []
    try:
        driver = await _driver(engine)
        driver.add_query_logger(lambda logged: seen.append(logged.query))
        await _backend_pid(engine)
        assert ";" not in seen  # reused within the threshold: no ping
        await asyncio.sleep(0.4)
        await _backend_pid(engine)
        assert ";" in seen  # idle past the threshold: pinged first
    finally:
        await engine.dispose()


async def test_a_read_session_costs_no_transaction_round_trips_and_refuses_writes(database_url):
    from db.engine import make_read_session_factory, make_session_factory
    from db.models import User
    from tests.factories import make_user

    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    seen: list[str] = []
    try:
        driver = await _driver(engine)
        driver.add_query_logger(lambda logged: seen.append(logged.query))
        reads = make_read_session_factory(engine)
        async with reads() as session:
            assert (await session.execute(text("SELECT 41 + 1"))).scalar_one() == 42
        assert not [q for q in seen if q.startswith(("BEGIN", "ROLLBACK", "COMMIT"))]
        async with make_session_factory(engine).begin() as session:
            user = await make_user(session)
        async with reads() as session:
            found = await session.get(User, user.id)
            assert found is not None
            found.display_name = "changed"
            with pytest.raises(RuntimeError, match="cannot write"):
                await session.flush()
        async with make_session_factory(engine)() as session:
            again = await session.get(User, user.id)
            assert again is not None
            assert again.display_name != "changed"
            await session.delete(again)
            await session.commit()
    finally:
        await engine.dispose()


@pytest.mark.parametrize("autocommit", [True, False])
async def test_a_single_statement_write_commits_on_its_own(database_url, autocommit):
    """``Database.statement()``: the write is committed with no BEGIN or COMMIT round trip on
    a handle with autocommit sessions, in a transaction of its own on a handle without."""
    from db.engine import Database, make_session_factory
    from db.models import User
    from tests.factories import make_user

    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    seen: list[str] = []
    try:
        driver = await _driver(engine)
        db = Database.on(engine) if autocommit else Database(make_session_factory(engine))
        async with db.transaction() as session:
            user = await make_user(session)
        driver.add_query_logger(lambda logged: seen.append(logged.query))
        async with db.statement() as session:
            await session.execute(
                text("UPDATE users SET display_name = 'written' WHERE id = :id"), {"id": user.id}
            )
        transaction = [q for q in seen if q.startswith(("BEGIN", "COMMIT"))]
        assert (transaction == []) is autocommit
        async with make_session_factory(engine)() as session:
            again = await session.get(User, user.id)
            assert again is not None
            assert again.display_name == "written"
            await session.delete(again)
            await session.commit()
    finally:
        await engine.dispose()


async def test_nul_characters_a_member_typed_are_dropped_not_an_error(database_url):
    """PostgreSQL text and jsonb cannot hold NUL: a value a member typed with one (found by the
    fuzz test) is stored without it, in text, text[] and jsonb, and queries with it still run."""
    from db.engine import make_session_factory
    from tests.factories import make_user

    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with make_session_factory(engine).begin() as s:
            user = await make_user(
                s, display_name="Nul\x00l", notification_settings={"k\x00": ["v\x00"]}
            )
            await s.execute(
                text("SELECT count(*) FROM users WHERE username = :name OR id = ANY(:ids)"),
                {"name": "x\x00", "ids": ["a\x00"]},
            )
            row = (
                await s.execute(
                    text("SELECT display_name, notification_settings FROM users WHERE id = :id"),
                    {"id": user.id},
                )
            ).one()
            assert tuple(row) == ("Null", {"k": ["v"]})
            await s.rollback()
    finally:
        await engine.dispose()
