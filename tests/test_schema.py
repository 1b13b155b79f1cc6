"""The migrations build exactly the platform's schema, and its constraints hold."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.migrate import AdoptionError, alembic_config, current_revision, upgrade
from tests.conftest import ROOT, SHARED
from tests.dbutil import catalog, create_database, drop_database, plain
from tests.make_reference_snapshot import SNAPSHOT, reference_catalog

SEED = SHARED / "spec" / "seed-schema.sql"
SCHEMA_DIFF = SHARED / "tools" / "schema-diff"


async def _reference(server_url: str) -> dict[str, list[list[str]]]:
    if SEED.exists():
        return await reference_catalog(server_url)
    return json.loads(SNAPSHOT.read_text())


async def test_migrated_catalog_contains_every_reference_item(server_url, database_url):
    """Every column, constraint and index of the reference DDL exists, identical, once migrated."""
    reference = await _reference(server_url)
    migrated = await catalog(database_url)
    for kind in ("columns", "constraints", "indexes"):
        have = {tuple(row) for row in migrated[kind]}
        missing = [row for row in reference[kind] if tuple(row) not in have]
        assert missing == [], f"{kind} missing or different: {missing}"
    assert sum(len(v) for v in reference.values()) > 150


@pytest.mark.skipif(
    not SEED.exists(),
    reason="../shared/spec/seed-schema.sql (the platform's DDL) is absent: the schema tests "
    "compare with the committed snapshot tests/data/reference_catalog.json instead",
)
async def test_reference_snapshot_equals_the_live_reference(server_url):
    """The committed catalog snapshot is the reference DDL's catalog today."""
    assert await reference_catalog(server_url) == json.loads(SNAPSHOT.read_text())


@pytest.mark.skipif(
    not SCHEMA_DIFF.exists(),
    reason="../shared/tools/schema-diff (the platform's own tool) is absent: the same comparison "
    "runs against the committed snapshot in test_migrated_catalog_contains_every_reference_item",
)
def test_schema_diff_tool_finds_nothing_missing(database_url):
    """The platform's own schema-diff tool reports that all reference items match."""
    result = subprocess.run(
        [sys.executable, str(SCHEMA_DIFF), plain(database_url)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "reference items match" in result.stdout.splitlines()[-1]


def test_models_and_migrations_agree(database_url):
    """`alembic check` finds nothing to autogenerate."""
    command.check(alembic_config(database_url))


# --- constraints -------------------------------------------------------------------------


async def _insert_user(session: AsyncSession, **overrides: object) -> str:
    values: dict[str, object] = {
        "email": "someone@example.com",
        "username": "someone",
        "auth0_id": "oauth2|discord|1",
    }
    values.update(overrides)
    cols = ", ".join(values)
    params = ", ".join(f":{k}" for k in values)
    row = await session.execute(
        text(f"INSERT INTO users ({cols}) VALUES ({params}) RETURNING id"), values
    )
    return str(row.scalar_one())


BAD_USERS = [
    pytest.param({"email": "not-an-email"}, "users_email_format", id="email"),
    pytest.param({"username": "a b"}, "users_username_format", id="username-space"),
    pytest.param({"username": "ab"}, "users_username_format", id="username-short"),
    pytest.param({"subscription_tier": "GOLD"}, "users_subscription_tier_check", id="tier"),
    pytest.param({"preferred_language": "fr"}, "users_preferred_language_check", id="language"),
    pytest.param({"profile_visibility": "all"}, "users_profile_visibility_check", id="visibility"),
    pytest.param({"content_filter_level": "off"}, "users_content_filter_level_check", id="filter"),
    pytest.param({"account_status": "gone"}, "users_account_status_check", id="status"),
    pytest.param({"daily_quota": -1}, "users_daily_quota_positive", id="quota"),
    pytest.param({"daily_used": -1}, "users_daily_used_positive", id="used"),
]


@pytest.mark.parametrize(("overrides", "constraint"), BAD_USERS)
async def test_user_check_constraint_rejects_bad_row(session, overrides, constraint):
    """Each CHECK on users rejects a row that breaks it, naming the constraint."""
    with pytest.raises(IntegrityError) as info:
        async with session.begin_nested():
            await _insert_user(session, **overrides)
    assert constraint in str(info.value)


async def test_good_user_row_is_accepted_with_defaults(session):
    """A well-formed user gets the reference defaults."""
    user_id = await _insert_user(session)
    row = (
        await session.execute(
            text(
                "SELECT subscription_tier, daily_quota, daily_used, preferred_language, "
                "profile_visibility, content_filter_level, account_status, timezone "
                "FROM users WHERE id = :id"
            ),
            {"id": user_id},
        )
    ).one()
    assert tuple(row) == ("FREE", 3, 0, "en", "private", "moderate", "active", "UTC")


async def test_character_and_generation_enums_are_checked(session):
    """style_type, generation_status and generations.status refuse unknown values."""
    user_id = await _insert_user(session)
    for sql, name in [
        (
            "INSERT INTO characters (user_id, prompt, style_type) VALUES (:u, 'p', 'oil')",
            "characters_style_type_check",
        ),
        (
            "INSERT INTO characters (user_id, prompt, generation_status) VALUES (:u, 'p', 'x')",
            "characters_generation_status_check",
        ),
        (
            "INSERT INTO generations (user_id, prompt, status) VALUES (:u, 'p', 'queued')",
            "generations_status_check",
        ),
        (
            "INSERT INTO user_profiles (user_id, experience_level) VALUES (:u, 'guru')",
            "user_profiles_experience_level_check",
        ),
    ]:
        with pytest.raises(IntegrityError) as info:
            async with session.begin_nested():
                await session.execute(text(sql), {"u": user_id})
        assert name in str(info.value)


async def _character_tree(session: AsyncSession, user_id: str) -> dict[str, str]:
    async def one(sql: str, **params: object) -> str:
        return str((await session.execute(text(sql + " RETURNING id"), params)).scalar_one())

    char = await one("INSERT INTO characters (user_id, prompt) VALUES (:u, 'p')", u=user_id)
    theme = await one(
        "INSERT INTO character_themes (character_id, name) VALUES (:c, 'Winter')", c=char
    )
    variant = await one(
        "INSERT INTO theme_variants (theme_id, character_id, prompt) VALUES (:t, :c, 'smile')",
        t=theme,
        c=char,
    )
    gen = await one(
        "INSERT INTO generations (user_id, character_id, prompt) VALUES (:u, :c, 'p')",
        u=user_id,
        c=char,
    )
    coll = await one(
        "INSERT INTO character_collections (user_id, name) VALUES (:u, 'Heroes')", u=user_id
    )
    item = await one(
        "INSERT INTO character_collection_items (collection_id, character_id) VALUES (:k, :c)",
        k=coll,
        c=char,
    )
    profile = await one("INSERT INTO user_profiles (user_id) VALUES (:u)", u=user_id)
    return {
        "characters": char,
        "character_themes": theme,
        "theme_variants": variant,
        "generations": gen,
        "character_collections": coll,
        "character_collection_items": item,
        "user_profiles": profile,
    }


async def _count(session: AsyncSession, table: str, row_id: str) -> int:
    return int(
        (
            await session.execute(
                text(f"SELECT count(*) FROM {table} WHERE id = :id"), {"id": row_id}
            )
        ).scalar_one()
    )


async def test_deleting_a_character_cascades_and_keeps_generation(session):
    """Deleting a character removes its themes, variants and collection items; its generation
    row stays with character_id set to NULL."""
    user_id = await _insert_user(session)
    ids = await _character_tree(session, user_id)
    await session.execute(text("DELETE FROM characters WHERE id = :id"), {"id": ids["characters"]})
    for table in ("character_themes", "theme_variants", "character_collection_items"):
        assert await _count(session, table, ids[table]) == 0, table
    assert await _count(session, "character_collections", ids["character_collections"]) == 1
    character_id = (
        await session.execute(
            text("SELECT character_id FROM generations WHERE id = :id"), {"id": ids["generations"]}
        )
    ).scalar_one()
    assert character_id is None


async def test_deleting_a_user_cascades_to_everything_they_own(session):
    """Deleting a user removes profile, characters, themes, variants, generations, collections."""
    user_id = await _insert_user(session)
    ids = await _character_tree(session, user_id)
    await session.execute(text("DELETE FROM users WHERE id = :id"), {"id": user_id})
    for table, row_id in ids.items():
        assert await _count(session, table, row_id) == 0, table


async def test_theme_names_are_unique_per_character(session):
    """UNIQUE(character_id, name) refuses a second theme of the same name."""
    user_id = await _insert_user(session)
    ids = await _character_tree(session, user_id)
    with pytest.raises(IntegrityError) as info:
        async with session.begin_nested():
            await session.execute(
                text("INSERT INTO character_themes (character_id, name) VALUES (:c, 'Winter')"),
                {"c": ids["characters"]},
            )
    assert "character_themes_character_id_name_key" in str(info.value)


# --- adopting a platform database ----------------------------------------------------------


async def _platform_database(server_url: str) -> str:
    """A database built the way the platform builds it: the DDL, no alembic history."""
    url = await create_database(server_url, prefix="charbot_platform")
    if SEED.exists():
        conn = await asyncpg.connect(plain(url))
        try:
            await conn.execute(SEED.read_text())
        finally:
            await conn.close()
    else:  # the same schema, built by the baseline revision, then its history removed
        await asyncio.to_thread(command.upgrade, alembic_config(url), "0001")
        conn = await asyncpg.connect(plain(url))
        try:
            await conn.execute("DROP TABLE alembic_version")
        finally:
            await conn.close()
    return url


async def test_existing_platform_database_is_adopted_without_losing_rows(server_url):
    """`upgrade` stamps a platform-built database, applies later revisions and keeps its rows."""
    url = await _platform_database(server_url)
    try:
        conn = await asyncpg.connect(plain(url))
        try:
            user_id = await conn.fetchval(
                "INSERT INTO users (email, username) VALUES ('web@example.com', 'webuser') "
                "RETURNING id"
            )
            await conn.execute(
                "INSERT INTO characters (user_id, name, prompt) VALUES ($1, 'Ava', 'p')", user_id
            )
        finally:
            await conn.close()
        assert await asyncio.to_thread(current_revision, url) is None
        assert await asyncio.to_thread(upgrade, url) == "adopted"
        head = alembic_config(url)
        from alembic.script import ScriptDirectory

        assert await asyncio.to_thread(current_revision, url) == (
            ScriptDirectory.from_config(head).get_current_head()
        )
        conn = await asyncpg.connect(plain(url))
        try:
            assert await conn.fetchval("SELECT count(*) FROM users") == 1
            assert await conn.fetchval("SELECT name FROM characters") == "Ava"
        finally:
            await conn.close()
        assert await asyncio.to_thread(upgrade, url) == "upgraded"
    finally:
        await drop_database(server_url, url)


async def test_partial_platform_schema_is_refused(server_url):
    """A database with only some platform tables and no history is not touched."""
    url = await create_database(server_url, prefix="charbot_partial")
    try:
        conn = await asyncpg.connect(plain(url))
        try:
            await conn.execute("CREATE TABLE users (id text primary key)")
        finally:
            await conn.close()
        with pytest.raises(AdoptionError, match="missing"):
            await asyncio.to_thread(upgrade, url)
        assert await asyncio.to_thread(current_revision, url) is None
    finally:
        await drop_database(server_url, url)


# --- the command line ----------------------------------------------------------------------


def _charbot(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_"))}
    base.update(env)
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_without_token_names_the_variable_and_shows_no_traceback(tmp_path):
    """`charbot run` with DISCORD_TOKEN unset stops at once, naming it and where to get one."""
    result = _charbot(["run"], tmp_path, DATA_DIR=str(tmp_path / "data"))
    assert result.returncode == 2
    assert "DISCORD_TOKEN" in result.stderr
    assert "discord.com/developers/applications" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "data" / "postgres").exists()


def test_malformed_variable_is_named(tmp_path):
    """A malformed variable stops start-up with its name, not a traceback."""
    result = _charbot(["migrate"], tmp_path, DATABASE_URL="mysql://x", LOG_LEVEL="INFO")
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_builds_embedded_database_and_second_call_is_noop(data_dir):
    """With no DATABASE_URL, migrate builds the schema in the embedded server; again: no-op."""
    env = {"DATA_DIR": str(data_dir / "data")}
    first = _charbot(["migrate"], data_dir, **env)
    assert first.returncode == 0, first.stderr
    assert "from empty to" in first.stdout
    second = _charbot(["migrate"], data_dir, **env)
    assert second.returncode == 0, second.stderr
    assert "Already up to date" in second.stdout
    assert (data_dir / "data" / "postgres" / "PG_VERSION").exists()
