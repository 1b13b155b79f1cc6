"""The scenes migration (0006): upgrade, downgrade and upgrade again leave the same catalog;
its tables keep their rules (two characters per scene at most once, one per position,
cascades from the scene, the character and the member)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic import command

from db.migrate import alembic_config, upgrade
from tests.dbutil import catalog, create_database, drop_database, plain

SCENE_TABLES = {"scenes", "scene_characters", "scene_generations"}


async def test_scenes_migration_round_trip(server_url):
    """upgrade → downgrade to 0005 (the three tables gone) → upgrade: the same catalog.
    Runs on TEST_DATABASE_URL's server, else on the embedded one."""
    url = await create_database(server_url)
    try:
        await asyncio.to_thread(upgrade, url)
        first = await catalog(url)
        assert {row[0] for row in first["columns"]} >= SCENE_TABLES
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0005")
        down = await catalog(url)
        assert not SCENE_TABLES & {row[0] for row in down["columns"]}
        await asyncio.to_thread(upgrade, url)
        assert await catalog(url) == first
    finally:
        await drop_database(server_url, url)


async def _user(conn: asyncpg.Connection, name: str) -> str:
    return str(
        await conn.fetchval(
            "INSERT INTO users (email, username) VALUES ($1, $2) RETURNING id",
            f"{name}@example.com",
            name,
        )
    )


async def _character(conn: asyncpg.Connection, user_id: str) -> str:
    return str(
        await conn.fetchval(
            "INSERT INTO characters (user_id, prompt) VALUES ($1, 'p') RETURNING id", user_id
        )
    )


async def test_scene_rules_and_cascades(database_url):
    conn = await asyncpg.connect(plain(database_url))
    try:
        tx = conn.transaction()
        await tx.start()
        owner, other = await _user(conn, "scene_owner"), await _user(conn, "scene_other")
        mine, theirs = await _character(conn, owner), await _character(conn, other)
        scene = await conn.fetchrow(
            "INSERT INTO scenes (user_id, setting) VALUES ($1, 'a tavern') "
            "RETURNING id, is_public, generation_status, metadata, created_at, updated_at",
            owner,
        )
        assert scene["is_public"] is False
        assert scene["generation_status"] == "pending"
        assert scene["metadata"] == "{}"
        add = "INSERT INTO scene_characters (scene_id, character_id, position) VALUES ($1, $2, $3)"
        await conn.execute(add, scene["id"], mine, 0)
        await conn.execute(add, scene["id"], theirs, 1)
        for character, position in ((mine, 2), (mine, 5)):
            with pytest.raises(asyncpg.UniqueViolationError):
                async with conn.transaction():
                    await conn.execute(add, scene["id"], character, position)
        other_scene = await conn.fetchval(
            "INSERT INTO scenes (user_id, setting) VALUES ($1, 'x') RETURNING id", owner
        )
        await conn.execute(add, other_scene, theirs, 0)
        with pytest.raises(asyncpg.UniqueViolationError):  # one character per position
            async with conn.transaction():
                await conn.execute(add, other_scene, mine, 0)
        with pytest.raises(asyncpg.CheckViolationError):
            async with conn.transaction():
                await conn.execute(
                    "UPDATE scenes SET generation_status = 'drawing' WHERE id = $1", scene["id"]
                )
        gen = await conn.fetchval(
            "INSERT INTO generations (user_id, prompt) VALUES ($1, 'p') RETURNING id", owner
        )
        await conn.execute(
            "INSERT INTO scene_generations (scene_id, generation_id, kind) "
            "VALUES ($1, $2, 'create')",
            scene["id"],
            gen,
        )
        # the other member deletes their character: it leaves the scenes it was in
        await conn.execute("DELETE FROM characters WHERE id = $1", theirs)
        count = "SELECT count(*) FROM scene_characters WHERE scene_id = $1"
        assert await conn.fetchval(count, scene["id"]) == 1
        # the owner's account goes: scenes, their characters and their generations go too
        await conn.execute("DELETE FROM users WHERE id = $1", owner)
        assert await conn.fetchval("SELECT count(*) FROM scenes WHERE user_id = $1", owner) == 0
        assert await conn.fetchval("SELECT count(*) FROM scene_generations") == 0
        await tx.rollback()
    finally:
        await conn.close()
