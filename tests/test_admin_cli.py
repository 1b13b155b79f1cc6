"""The admin commands of ``charbot``, run as subprocesses against the test database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from db.bot_models import ModerationAction
from db.models import Generation, User
from tests.factories import make_character, make_user, next_discord_id

ROOT = Path(__file__).resolve().parent.parent


def charbot(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m bot ARGS`` with only DATABASE_URL configured (no .env read)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "GEMINI_", "S3_"))}
    env.update(DATABASE_URL=database_url, PYTHONPATH=str(ROOT), LOG_LEVEL="WARNING")
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def run(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(charbot, database_url, tmp_path, *args)


@pytest.fixture
async def member(session_factory):
    async with session_factory.begin() as s:
        return await make_user(s)


def discord_id_of(user: User) -> str:
    return user.auth0_id.rsplit("|", 1)[1]


async def test_set_tier_sets_tier_and_its_quota(database_url, tmp_path, session_factory, member):
    """`users set-tier ID pro` stores PRO and the PRO quota (100), and says so."""
    done = await run(database_url, tmp_path, "users", "set-tier", discord_id_of(member), "pro")
    assert done.returncode == 0, done.stderr
    assert "PRO" in done.stdout
    assert "daily quota 100" in done.stdout
    async with session_factory() as s:
        row = await s.get(User, member.id)
    assert row.subscription_tier == "PRO"
    assert row.daily_quota == 100


async def test_set_status_changes_status_and_records_the_action(
    database_url, tmp_path, session_factory, member
):
    """`users set-status ID suspended` suspends and leaves a moderation_actions row by "cli"."""
    did = discord_id_of(member)
    done = await run(
        database_url, tmp_path, "users", "set-status", did, "SUSPENDED", "--reason", "spam"
    )
    assert done.returncode == 0, done.stderr
    async with session_factory() as s:
        row = await s.get(User, member.id)
        actions = (
            await s.scalars(
                select(ModerationAction).where(ModerationAction.target_user_id == member.id)
            )
        ).all()
    assert row.account_status == "suspended"
    assert len(actions) == 1
    action = actions[0]
    assert action.action == "set_status"
    assert action.moderator_discord_id == 0
    assert action.reason == "spam"
    assert action.details == {"via": "cli", "from": "active", "to": "suspended"}


async def test_unknown_user_is_a_clear_error_with_exit_code_3(database_url, tmp_path):
    """A Discord id nobody has used exits 3 and names the id; nothing is created."""
    did = str(next_discord_id())
    done = await run(database_url, tmp_path, "users", "set-tier", did, "PRO")
    assert done.returncode == 3
    assert f"no user with Discord id {did}" in done.stderr


async def test_bad_values_exit_2_without_touching_the_user(
    database_url, tmp_path, session_factory, member
):
    """An unknown tier or status (or a non-numeric id) exits 2 and changes nothing."""
    did = discord_id_of(member)
    bad_tier = await run(database_url, tmp_path, "users", "set-tier", did, "GOLD")
    assert bad_tier.returncode == 2
    assert "'GOLD' is not a tier" in bad_tier.stderr
    bad_status = await run(database_url, tmp_path, "users", "set-status", did, "deleted")
    assert bad_status.returncode == 2
    assert "active, suspended, banned" in bad_status.stderr
    bad_id = await run(database_url, tmp_path, "users", "set-tier", "not-a-number", "PRO")
    assert bad_id.returncode == 2
    async with session_factory() as s:
        row = await s.get(User, member.id)
    assert row.subscription_tier == "FREE"
    assert row.account_status == "active"


async def test_stats_counts_users_characters_and_todays_generations(
    database_url, tmp_path, session_factory
):
    """`stats --json` counts users, characters and today's generations by status."""
    async with session_factory.begin() as s:
        owner = await make_user(s)
        await make_user(s)
        character = await make_character(s, owner)
        for status in ("completed", "completed", "failed"):
            s.add(
                Generation(user_id=owner.id, character_id=character.id, status=status, prompt="p")
            )
    done = await run(database_url, tmp_path, "stats", "--json")
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["users"] == 2
    assert found["characters"] == 1
    assert found["generations_today"] == {"completed": 2, "failed": 1}
    text = await run(database_url, tmp_path, "stats")
    assert "generations today" in text.stdout
    assert "  failed: 1" in text.stdout
