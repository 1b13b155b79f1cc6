"""Command sync: to the dev guild when DISCORD_DEV_GUILD_ID is set, else globally and only
when the command set changed."""

from __future__ import annotations

import pytest

from tests.conftest import truncate_all
from tests.e2e import Stack, collect_violations, running_stack


@pytest.fixture(scope="module")
async def stack(database_url, engine, tmp_path_factory):
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-sync")) as s:
        yield s
    await truncate_all(engine)


async def test_dev_guild_sync_then_global_sync_once(stack: Stack):
    """With a dev guild the commands go to that guild only; without, they are synced globally
    once, and a restart with the same command set does not sync again."""
    await stack.start_bot(discord_dev_guild_id=int(stack.guild.id))
    await stack.stop_bot()
    guild_names = {c["name"] for c in stack.fake.commands(stack.guild.id)}
    assert {"character", "theme", "variant", "quota", "gallery", "mod"} <= guild_names
    assert stack.fake.commands() == []
    await stack.start_bot()
    await stack.stop_bot()
    assert {c["name"] for c in stack.fake.commands()} == guild_names
    assert stack.fake.command_put_count() == 1
    await stack.start_bot()
    await stack.stop_bot()
    assert stack.fake.command_put_count() == 1
    assert collect_violations(stack) == []
