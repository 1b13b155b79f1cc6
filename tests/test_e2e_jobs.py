"""Generations as durable jobs, with real processes: `charbot run` killed with SIGKILL during a
create and started again finishes and posts it once; a `charbot run` that takes commands only
and two `charbot worker` processes make 200 creates, each once, spread over both workers; a
worker killed mid-job leaves it to the other."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from db.job_models import GenerationJob
from db.models import Character, Generation, User
from tests.conftest import truncate_all
from tests.e2e import (
    Stack,
    collect_violations,
    find_id,
    process_env,
    running_stack,
    until_drawing,
    wait_ephemeral_text,
)

HEARTBEAT = 2.0
RESULT_TEXT = "Here is your image (finished after a restart)."


@pytest.fixture(scope="module")
async def stack(database_url, engine, tmp_path_factory):
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-jobs")) as s:
        yield s
    await truncate_all(engine)


@pytest.fixture(autouse=True)
def no_violations(stack: Stack):
    """Every request the processes send passes the OpenAPI spec and Discord's limits."""
    collect_violations(stack)
    stack.gemini.image_latency = 0.0
    yield
    stack.gemini.image_latency = 0.0
    assert collect_violations(stack) == []


class Process:
    """A `charbot` process, its log in a file."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def until_logged(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise AssertionError(f"never logged {needle!r}:\n{self.text()[-3000:]}")
            await asyncio.sleep(0.1)

    async def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.proc.wait(), 60)
        return self.proc.returncode or 0


def _env(stack: Stack, **extra: str) -> dict[str, str]:
    return process_env(
        stack,
        GEMINI_MAX_RETRIES="0",
        JOB_HEARTBEAT_SECONDS=str(HEARTBEAT),
        QUOTA_FREE="10",
        **extra,
    )


async def _spawn(stack: Stack, command: str, name: str, **extra: str) -> Process:
    log = stack.data_dir / f"{name}.log"
    handle = log.open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        command,
        env=_env(stack, **extra),
        cwd=str(stack.data_dir),
        stdout=handle,
        stderr=handle,
    )
    handle.close()
    return Process(proc, log)


async def _run(stack: Stack, name: str, **extra: str) -> Process:
    sessions_before = len(stack.fake.identifies)
    process = await _spawn(stack, "run", name, **extra)
    await stack.fake.wait_until(lambda: len(stack.fake.identifies) > sessions_before, timeout=60)
    await stack.fake.wait_for_ready(timeout=30)
    return process


async def _worker(stack: Stack, name: str, **extra: str) -> Process:
    process = await _spawn(stack, "worker", name, **extra)
    await process.until_logged("taking generation jobs")
    return process


def _images(stack: Stack) -> int:
    return sum(1 for r in stack.gemini.requests if r.model == "gemini-2.5-flash-image")


async def _posted(stack: Stack, ix: Any, timeout: float) -> dict[str, Any]:
    """The interaction's response once it carries the image."""
    await stack.fake.wait_until(
        lambda: bool((ix.original() or {}).get("attachments")), timeout=timeout
    )
    return ix.original() or {}


async def _rows(session_factory: Any) -> tuple[list[Generation], list[GenerationJob]]:
    async with session_factory() as s:
        gens = list((await s.scalars(select(Generation))).all())
        jobs = list((await s.scalars(select(GenerationJob))).all())
    return gens, jobs


async def test_a_create_survives_kill_9_of_the_only_process(stack: Stack, session_factory):
    """SIGKILL of `charbot run` while the portrait is drawn, then a new `charbot run`: the create
    completes, is posted once in the member's response, `daily_used` rose by one, no row failed,
    within the heartbeat timeout plus the provider's time."""
    member = stack.member("perceval")
    stack.gemini.image_latency = 1.0
    drawn_before = _images(stack)
    first = await _run(stack, "kill-first")
    try:
        ix = await stack.command(member, "character create", {"description": "a grail knight"})
        await ix.acknowledged(timeout=5)
        await until_drawing(stack, 20)
    finally:
        await first.kill()
    killed_at = time.monotonic()
    second = await _run(stack, "kill-second")
    try:
        message = await _posted(stack, ix, timeout=60)
        took = time.monotonic() - killed_at
    finally:
        assert await second.stop() == 0
    assert message["content"] == RESULT_TEXT
    assert len(message["attachments"]) == 1
    assert message["embeds"][0]["image"]["url"].endswith("/image.png")  # the card, its image
    assert find_id(message, ":fav")  # with the character's buttons
    assert ix.followups == []  # posted once: the response itself, nothing else
    gens, jobs = await _rows(session_factory)
    assert [g.status for g in gens] == ["completed"]
    assert [j.attempts for j in jobs] == [2]
    assert jobs[0].delivered_at is not None
    async with session_factory() as s:
        user = (await s.scalars(select(User))).one()
        characters = (await s.scalars(select(Character))).all()
    assert user.daily_used == 1
    assert [c.generation_status for c in characters] == ["completed"]
    assert _images(stack) - drawn_before == 2  # the provider call is the one part made twice
    # the heartbeat timeout, the restart and 1 s of drawing, far from STALE_GENERATION_MINUTES
    print(f"\nkill -9 to posted: {took:.1f} s (heartbeat timeout {HEARTBEAT} s)")
    assert took < 60


async def test_two_workers_make_200_creates_each_once(stack: Stack, session_factory, engine):
    """`charbot run` with GENERATION_CONCURRENCY=0 takes the commands; two `charbot worker`
    processes make them: 200 creates from 50 members all complete, each once (one generation,
    one character, two stored objects and one post each), and both workers took a share."""
    await truncate_all(engine)
    stored_before = set(stack.s3.list_keys(stack.bucket))
    gateway = await _run(stack, "gateway", GENERATION_CONCURRENCY="0")
    workers = [await _worker(stack, f"worker-{i}", GENERATION_CONCURRENCY="4") for i in range(2)]
    try:
        members = [stack.member(f"squire{i}") for i in range(50)]
        sent = []
        for round_ in range(4):
            for batch in range(0, len(members), 10):  # ten at a time, as members would
                wave = [
                    await stack.command(m, "character create", {"description": f"squire {round_}"})
                    for m in members[batch : batch + 10]
                ]
                await asyncio.gather(*(ix.acknowledged(timeout=5) for ix in wave))
                sent.extend(wave)
        await asyncio.gather(*(_posted(stack, ix, timeout=240) for ix in sent))
    finally:
        codes = [await w.stop() for w in workers] + [await gateway.stop()]
    assert codes == [0, 0, 0]
    assert all(ix.followups == [] for ix in sent)
    assert all(len((ix.original() or {})["attachments"]) == 1 for ix in sent)
    assert all(find_id(ix.original() or {}, ":fav") for ix in sent)  # cards, with their buttons
    gens, jobs = await _rows(session_factory)
    assert len(gens) == 200
    assert {g.status for g in gens} == {"completed"}
    assert all(j.attempts == 1 and j.delivered_at is not None for j in jobs)
    async with session_factory() as s:
        characters = await s.scalar(select(func.count()).select_from(Character))
        per_worker = dict(
            (
                await s.execute(
                    text("SELECT worker, count(*) FROM generation_jobs GROUP BY worker")
                )
            ).all()
        )
        used = await s.scalar(select(func.sum(User.daily_used)))
    assert characters == 200
    assert used == 200
    print(f"\njobs per worker: {per_worker}")
    assert len(per_worker) == 2
    assert all(count > 0 for count in per_worker.values())
    stored = set(stack.s3.list_keys(stack.bucket)) - stored_before
    assert len(stored) == 400  # a portrait and its thumbnail each, none twice


async def test_a_worker_killed_mid_job_leaves_it_to_the_other(
    stack: Stack, session_factory, engine
):
    """Worker A takes a create and is killed while drawing; worker B, alive, takes it up after
    the heartbeat timeout and posts it."""
    await truncate_all(engine)
    stack.gemini.image_latency = 6.0  # long enough for worker B to start meanwhile
    gateway = await _run(stack, "gateway-2", GENERATION_CONCURRENCY="0")
    first = await _worker(stack, "worker-a", GENERATION_CONCURRENCY="2")
    second: Process | None = None
    try:
        ix = await stack.command(stack.member("gawain"), "character create", {"description": "x"})
        await ix.acknowledged(timeout=5)
        await until_drawing(stack, 20)
        second = await _worker(stack, "worker-b", GENERATION_CONCURRENCY="2")
        await first.kill()
        message = await _posted(stack, ix, timeout=60)
    finally:
        if second is not None:
            assert await second.stop() == 0
        assert await gateway.stop() == 0
    assert message["content"] == RESULT_TEXT
    gens, jobs = await _rows(session_factory)
    assert [g.status for g in gens] == ["completed"]
    assert second is not None
    assert [j.worker for j in jobs] == [f"{os.uname().nodename}:{second.proc.pid}"]
    assert [j.attempts for j in jobs] == [2]


async def test_cancel_reaches_a_queued_job_and_one_a_worker_runs(
    stack: Stack, session_factory, engine
):
    """With the bot taking commands only: a create still waiting in the queue is cancelled
    from its progress message (its job leaves the queue, its unit comes back, a worker started
    later never makes it); a create another process's worker is drawing is cancelled the same
    way: that worker abandons it, it is failed "cancelled", refunded once, nothing is posted."""
    await truncate_all(engine)
    stack.gemini.image_latency = 4.0
    drawn_before = _images(stack)
    member = stack.member("lancelot")
    gateway = await _run(stack, "gateway-3", GENERATION_CONCURRENCY="0")
    worker: Process | None = None
    try:
        waiting = await stack.command(member, "character create", {"description": "a knight"})
        await stack.fake.wait_until(lambda: ":cancel" in str(waiting.original() or {}), 10)
        pressed = await stack.fake.click(
            member, waiting.original() or {}, find_id(waiting.original() or {}, ":cancel")
        )
        await wait_ephemeral_text(pressed)
        async with session_factory() as s:
            assert await s.scalar(text("SELECT count(*) FROM pgqueuer")) == 0
        worker = await _worker(stack, "worker-c", GENERATION_CONCURRENCY="2")
        drawing = await stack.command(member, "character create", {"description": "a lady"})
        await until_drawing(stack, 20)
        await stack.fake.wait_until(lambda: ":cancel" in str(drawing.original() or {}), 10)
        message = drawing.original() or {}
        pressed = await stack.fake.click(member, message, find_id(message, ":cancel"))
        await wait_ephemeral_text(pressed)
        await asyncio.sleep(HEARTBEAT + 2)  # long enough for anything still coming to come
    finally:
        if worker is not None:
            assert await worker.stop() == 0
        assert await gateway.stop() == 0
    gens, jobs = await _rows(session_factory)
    assert sorted((g.status, g.error_message) for g in gens) == [("failed", "cancelled")] * 2
    assert len(jobs) == 2
    async with session_factory() as s:
        user = (await s.scalars(select(User))).one()
    assert user.daily_used == 0
    assert _images(stack) - drawn_before == 1  # the queued one was never drawn
    assert not (waiting.original() or {}).get("attachments")
    assert not (drawing.original() or {}).get("attachments")
    assert waiting.followups == []
    assert drawing.followups == []
