"""The in-memory member cache: served only while its listener is proven alive and only after a
ping begun after the read was answered, and emptied of a member whenever any process writes
their row, notices or blocks (migration 0010's triggers)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services.accounts import NewMember, auth0_id_for, find_member_here, resolve_member
from bot.services.member_cache import MemberCache, MemberListener
from db.engine import Database, SessionFactory
from db.models import User

DISCORD_ID = 700_000_000_000_000_001
GUILD = 42


def _new(discord_id: int = DISCORD_ID) -> NewMember:
    return NewMember(
        discord_id=discord_id,
        username_hint="cached",
        display_name="Cached",
        avatar_url=None,
        daily_quota=5,
        language="en",
    )


def _dsn(engine: AsyncEngine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _until(predicate: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def _listening(engine: AsyncEngine, cache: MemberCache) -> asyncio.Task[None]:
    listener = MemberListener(_dsn(engine), cache, ping=0.05, lease=1.0, retry=0.05)
    task = asyncio.create_task(listener.run())
    await _until(lambda: cache.live)
    return task


def _write_elsewhere(engine: AsyncEngine, sql: str, *args: object) -> None:
    """Run one statement from another process (a Python interpreter of its own)."""
    script = (
        "import asyncio, sys, asyncpg\n"
        "async def main():\n"
        "    conn = await asyncpg.connect(sys.argv[1])\n"
        "    await conn.execute(sys.argv[2], *sys.argv[3:])\n"
        "    await conn.close()\n"
        "asyncio.run(main())\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, _dsn(engine), sql, *map(str, args)],
        check=True,
        timeout=30,
    )


@pytest.fixture
async def db(engine: AsyncEngine, session_factory: SessionFactory) -> Database:
    return Database.on(engine)


async def test_a_write_from_another_process_is_never_missed(
    engine: AsyncEngine, db: Database
) -> None:
    cache = MemberCache()
    task = await _listening(engine, cache)
    try:
        user, _, blocked = await resolve_member(db, _new(), GUILD, cache)
        assert not blocked
        again = await resolve_member(db, _new(), GUILD, cache)  # a read that stores
        assert cache.member(DISCORD_ID, GUILD) is not None
        assert again[0].id == user.id

        # the row: a setting changed by another process
        _write_elsewhere(
            engine, "UPDATE users SET preferred_language = 'ja' WHERE id = $1", user.id
        )
        await _until(lambda: cache.member(DISCORD_ID, GUILD) is None)
        changed, _, _ = await resolve_member(db, _new(), GUILD, cache)
        assert changed.preferred_language == "ja"

        # a notice queued by another process
        await resolve_member(db, _new(), GUILD, cache)
        assert cache.member(DISCORD_ID, GUILD) is not None
        _write_elsewhere(
            engine, "INSERT INTO user_notices (user_id, key) VALUES ($1, 'n.test')", user.id
        )
        await _until(lambda: cache.member(DISCORD_ID, GUILD) is None)
        assert (await resolve_member(db, _new(), GUILD, cache))[1] is True

        # a block in the guild, made by another process
        await resolve_member(db, _new(), GUILD, cache)
        _write_elsewhere(
            engine,
            "INSERT INTO guild_blocked_users (guild_id, user_id, moderator_discord_id) "
            "VALUES ($1::text::bigint, $2, 1)",
            GUILD,
            user.id,
        )
        await _until(lambda: cache.member(DISCORD_ID, GUILD) is None)
        assert (await resolve_member(db, _new(), GUILD, cache))[2] is True
        assert (await find_member_here(db, DISCORD_ID, GUILD, cache)) == (user.id, True)

        # the account deleted by another process
        _write_elsewhere(engine, "DELETE FROM users WHERE id = $1", user.id)
        await _until(lambda: cache.user_id(DISCORD_ID) is None)
        assert (await find_member_here(db, DISCORD_ID, GUILD, cache)) == (None, False)
    finally:
        task.cancel()


async def test_a_change_committed_just_before_a_read_is_always_seen(
    engine: AsyncEngine, db: Database
) -> None:
    """No waiting for the notification: a write another session committed a moment before
    the read (an operator setting the quota used, then the member's next command) is seen by
    that read, every time, though the member was kept in memory."""
    cache = MemberCache()
    task = await _listening(engine, cache)
    other = await asyncpg.connect(_dsn(engine))
    try:
        user, _, _ = await resolve_member(db, _new(), GUILD, cache)
        for used in range(1, 41):
            await resolve_member(db, _new(), GUILD, cache)  # kept again
            assert cache.member(DISCORD_ID, GUILD) is not None
            await other.execute("UPDATE users SET daily_used = $1 WHERE id = $2", used, user.id)
            seen, _, _ = await resolve_member(db, _new(), GUILD, cache)
            assert seen.daily_used == used
        await other.execute(
            "INSERT INTO guild_blocked_users (guild_id, user_id, moderator_discord_id) "
            "VALUES ($1::text::bigint, $2, 1)",
            str(GUILD),
            user.id,
        )
        assert await find_member_here(db, DISCORD_ID, GUILD, cache) == (user.id, True)
    finally:
        await other.close()
        task.cancel()


async def test_reads_at_once_share_one_ping(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = MemberCache()
    listener = MemberListener(_dsn(engine), cache, ping=30.0, lease=60.0, retry=0.05)
    task = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.connected.wait(), 5)
        assert await listener.sync()
        pings: list[str] = []
        original = asyncpg.Connection.execute

        async def counted(self: asyncpg.Connection, query: str, *args: object) -> object:
            pings.append(query)
            return await original(self, query, *args)

        monkeypatch.setattr(asyncpg.Connection, "execute", counted)
        answers = await asyncio.gather(*(listener.sync() for _ in range(50)))
        monkeypatch.undo()
        assert answers == [True] * 50
        assert 1 <= len(pings) <= 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not await listener.sync()


async def test_a_read_that_raced_a_change_is_not_kept(engine: AsyncEngine, db: Database) -> None:
    cache = MemberCache()
    task = await _listening(engine, cache)
    try:
        epoch = cache.epoch
        user, notices, blocked = await resolve_member(db, _new(), None)  # read, not stored
        cache.changed("someone else")  # any change that comes in while a read runs
        cache.store(epoch, DISCORD_ID, (user, notices, blocked), None)
        assert cache.member(DISCORD_ID, None) is None
        cache.store(cache.epoch, DISCORD_ID, (user, notices, blocked), None)
        assert cache.member(DISCORD_ID, None) is not None
    finally:
        task.cancel()


async def test_nothing_is_served_once_the_listener_is_gone(
    engine: AsyncEngine, db: Database
) -> None:
    cache = MemberCache()
    task = await _listening(engine, cache)
    try:
        await resolve_member(db, _new(), None, cache)
        await resolve_member(db, _new(), None, cache)
        assert cache.member(DISCORD_ID, None) is not None
        # the listener's connection is killed: everything kept is dropped at once
        conn = await asyncpg.connect(_dsn(engine))
        try:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query = 'SELECT 1' AND pid <> pg_backend_pid() "
                "AND datname = current_database()"
            )
        finally:
            await conn.close()
        await _until(lambda: cache.member(DISCORD_ID, None) is None)
        # and it listens again
        await _until(lambda: cache.live)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not cache.live
    assert len(cache) == 0


def test_a_lease_ends_when_the_listener_stops_answering() -> None:
    now = [100.0]
    cache = MemberCache(clock=lambda: now[0])
    cache.renew(103.0)
    user = User(id="u1", auth0_id=auth0_id_for(DISCORD_ID))
    cache.store(cache.epoch, DISCORD_ID, (user, False, False), None)
    assert cache.member(DISCORD_ID, None) is not None
    now[0] = 103.5  # no ping answered since: the copy may be stale
    assert cache.member(DISCORD_ID, None) is None
    assert cache.user_id(DISCORD_ID) is None
