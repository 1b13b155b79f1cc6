"""The real `charbot run` process: it serves commands, stops cleanly on SIGTERM, and a button
on a message from before the restart still works."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest
from sqlalchemy import select

from db.models import Character
from tests.conftest import truncate_all
from tests.e2e import (
    Stack,
    collect_violations,
    find_id,
    process_env,
    running_stack,
    wait_final,
    wait_update,
)


@pytest.fixture(scope="module")
async def stack(database_url, engine, tmp_path_factory):
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-proc")) as s:
        yield s
    await truncate_all(engine)


def _env(stack: Stack) -> dict[str, str]:
    return process_env(stack)


async def _start(stack: Stack) -> asyncio.subprocess.Process:
    sessions_before = len(stack.fake.identifies)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=_env(stack),
        cwd=str(stack.data_dir),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    await stack.fake.wait_until(lambda: len(stack.fake.identifies) > sessions_before, timeout=60)
    await stack.fake.wait_for_ready(timeout=30)
    return proc


async def _stop(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, stderr.decode(errors="replace")


async def test_restarted_process_still_serves_old_buttons(stack: Stack, session_factory):
    """Create with one process, SIGTERM it (clean exit), start another: Favorite on the old
    message flips is_favorite."""
    member = stack.member("arthur")
    first = await _start(stack)
    try:
        ix = await stack.command(member, "character create", {"description": "a young king"})
        message = await wait_final(ix, timeout=30)
    finally:
        code, stderr = await _stop(first)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert "voice will NOT be supported" not in stderr  # no false alarm for the admin
    fav = find_id(message, ":fav")
    second = await _start(stack)
    try:
        pressed = await stack.fake.click(member, message, fav)
        await wait_update(pressed)
        async with session_factory() as s:
            character = (
                await s.scalars(select(Character).where(Character.id == fav.split(":")[1]))
            ).one()
        assert character.is_favorite is True
    finally:
        code, stderr = await _stop(second)
    assert code == 0, stderr
    assert stack.fake.command_put_count() == 1  # the second start found the same command hash
    assert collect_violations(stack) == []


async def test_doctor_reaches_every_service_and_names_what_fails(stack: Stack):
    """`charbot doctor` checks Discord, the database, S3 and Gemini through the configured
    URLs; a wrong token is reported with how to fix it, and the exit status says so."""
    env = _env(stack)
    ok = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "doctor",
        env=env,
        cwd=str(stack.data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(ok.communicate(), 60)
    report = out.decode()
    assert ok.returncode == 0, report + err.decode()
    assert "4 of 4 checks passed" in report
    assert stack.fake.token not in report
    # S3 without a public base URL: the admin is told the stored links expire
    assert "note:" in report
    assert "S3_PUBLIC_BASE_URL" in report
    env["DISCORD_TOKEN"] = "not-the-real-token-at-all"
    bad = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "doctor",
        env=env,
        cwd=str(stack.data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(bad.communicate(), 60)
    report = out.decode()
    assert bad.returncode == 1
    assert "[FAIL] discord" in report
    assert "DISCORD_TOKEN" in report
    # the fake noted the deliberately wrong token; nothing else the doctor sent broke a rule
    assert [v for v in stack.fake.take_violations() if "bot token" not in v] == []
