"""No secret reaches the logs: an end-to-end scenario at DEBUG with the real logging set-up."""

from __future__ import annotations

import io
import json
import logging

import pytest

from bot.ops.logs import setup_logging
from tests.conftest import truncate_all
from tests.e2e import (
    character_thread,
    find_id,
    running_stack,
    wait_ephemeral_text,
    wait_final,
)

S3_SECRET = "s3-secret-Zq8v2LmN0pXw4RtY"


@pytest.fixture
def captured_logs():
    """setup_logging as `charbot run` calls it (JSON, DEBUG), writing into a buffer; the
    previous root handlers and level are restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()

    def install(secrets: list[str]) -> io.StringIO:
        setup_logging("DEBUG", secrets, json_format=True)
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(buffer)
        root.handlers.extend(h for h in saved[0] if h not in root.handlers)  # keep caplog
        return buffer

    yield install
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


async def test_logs_of_a_full_scenario_hold_no_token_or_key(
    database_url, engine, tmp_path, captured_logs, monkeypatch
):
    """create, variant, a provider failure and button presses, logged at DEBUG as JSON: no
    line holds the Discord token, the Gemini key, the S3 secret key or an interaction token;
    the interaction and generation lines are there with their fields."""
    async with running_stack(database_url, tmp_path) as stack:
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)  # moto accepts any secret
        settings = stack.settings()
        buffer = captured_logs(settings.secrets())
        await stack.start_bot()
        owner = stack.member("bedivere")
        other = stack.member("morgause")
        made = await wait_final(
            await stack.command(owner, "character create", {"description": "a loyal knight"})
        )
        character_id = find_id(made, ":fav").split(":")[1]
        await character_thread(stack, made)  # the variant goes there; the reply links to it
        variant = await stack.command(
            owner, "variant create", {"instruction": "add a cloak", "character": character_id}
        )
        await variant.wait_for(  # the reply links to the variant once it is posted there
            lambda i: "/channels/" in str((i.original() or {}).get("content")), timeout=20
        )
        stack.gemini.fail_next("invalid_key", times=1)  # a server echoing the key back
        failing = await stack.command(owner, "character create", {"description": "a sad knight"})
        await wait_ephemeral_text(failing, timeout=15)
        fav = find_id(made, ":fav")
        await wait_ephemeral_text(await stack.fake.click(other, made, fav))
        pressed = await stack.fake.click(owner, made, fav)
        await pressed.acknowledged(timeout=3)
        await stack.stop_bot()
        tokens = [ix.token for ix in stack.fake.interactions.values()]
        discord_token = stack.fake.token
    await truncate_all(engine)

    lines = buffer.getvalue().splitlines()
    assert len(lines) > 50
    secrets = {
        "DISCORD_TOKEN": discord_token,
        "GEMINI_API_KEY": settings.gemini_api_key.get_secret_value(),
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
    }
    secrets.update({f"interaction token {n}": t for n, t in enumerate(tokens)})
    assert len(tokens) >= 5
    leaks = [(what, line[:200]) for line in lines for what, s in secrets.items() if s in line]
    assert leaks == []

    records = [json.loads(line) for line in lines]
    interactions = [r for r in records if r.get("event") == "interaction"]
    generations = [r for r in records if r.get("event") == "generation"]
    assert {r["outcome"] for r in interactions} == {"ok", "refused", "error"}
    assert all({"user_id", "guild_id", "duration_ms", "outcome"} <= set(r) for r in interactions)
    assert sorted((r["kind"], r["outcome"]) for r in generations) == [
        ("create", "completed"),
        ("create", "failed"),
        ("variant", "completed"),
    ]


def test_the_missing_voice_notice_is_dropped_and_other_warnings_kept(captured_logs):
    """discord.py's "voice will NOT be supported" warnings (the bot has no voice) do not reach
    the admin's log; its other warnings do."""
    buffer = captured_logs([])
    client_log = logging.getLogger("discord.client")
    client_log.warning("PyNaCl is not installed, voice will NOT be supported")
    client_log.warning("davey is not installed, voice will NOT be supported")
    client_log.warning("the gateway asked to reconnect")
    lines = [json.loads(line)["message"] for line in buffer.getvalue().splitlines()]
    assert lines == ["the gateway asked to reconnect"]
