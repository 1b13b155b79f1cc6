"""End to end: the database goes away for six seconds while creates wait for their images.

The bot reaches PostgreSQL through a TCP proxy the test cuts (open connections dropped, new
ones refused) and restores. With the default stale settings (20 minutes, a sweep every five),
every generation in flight is settled within seconds of the database's return, not by the
sweep: completed when its image arrived, else failed with its unit given back, and the member
is told. Interactions answered during the outage say the database is unavailable and charge
nothing. The log keeps a handful of stack traces and one recovery line.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.errors import DatabaseUnavailableError
from bot.interactions.caller import Caller
from bot.ops.logs import bot_handler
from cogs.characters.generating import guarded
from db.bot_models import UserNotice
from db.models import Generation, User
from tests.conftest import truncate_all
from tests.e2e import Stack, collect_violations, running_stack, wait_ephemeral_text, wait_reply
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.tcp_proxy import TcpProxy

IMAGE_MODEL = "gemini-2.5-flash-image"
OUTAGE_SECONDS = 6.0
SETTLED_WITHIN = 15.0
CREATES = 8
CONCURRENCY = 5  # three creates wait for a slot, and start while the database is away
SAFETY_FAILURES = 2  # images refused while the database is away: failures to record later
MAX_STACK_TRACES = 5
QUOTA_CHECKS = 9  # with one create: ten interactions answered while the database is away


@pytest.fixture(scope="module")
async def proxy(database_url):
    p = TcpProxy.for_url(database_url)
    await p.start()
    yield p
    await p.stop()


@pytest.fixture(scope="module")
async def stack(database_url, engine, proxy, tmp_path_factory):
    gemini = FakeGemini()
    await gemini.start()
    try:
        async with running_stack(
            proxy.url(database_url), tmp_path_factory.mktemp("e2e-outage"), gemini=gemini
        ) as s:
            await s.start_bot(
                generation_concurrency=CONCURRENCY, metrics_port=0, metrics_host="127.0.0.1"
            )
            yield s
    finally:
        await gemini.stop()
    await truncate_all(engine)


@pytest.fixture(autouse=True)
def no_violations(stack: Stack):
    """Every request the bot sends in a test passes the OpenAPI spec and Discord's limits."""
    collect_violations(stack)
    yield
    assert collect_violations(stack) == []


@pytest.fixture
def bot_log(stack: Stack):
    """What the bot's own log handler (repeat filter, secret filter, format) writes."""
    buffer = io.StringIO()
    handler = bot_handler(stack.settings().secrets(), stream=buffer)
    root = logging.getLogger()
    root.addHandler(handler)
    yield buffer
    root.removeHandler(handler)


async def _fetch(stack: Stack, path: str) -> tuple[int, str]:
    assert stack.bot is not None
    assert stack.bot.ops is not None
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{stack.bot.ops.port}{path}") as response,
    ):
        return response.status, await response.text()


def _told_to_wait(ix) -> bool:
    content = str((ix.original() or {}).get("content") or "")
    return "database is unavailable; waiting for it to come back" in content


async def _until(predicate, timeout: float) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


async def _user_rows(session_factory, members) -> dict[str, User]:
    auth = {f"oauth2|discord|{m.id}": m.id for m in members}
    async with session_factory() as s:
        rows = (await s.scalars(select(User).where(User.auth0_id.in_(list(auth))))).all()
    return {auth[u.auth0_id]: u for u in rows}


async def _open_generations(session_factory) -> int:
    async with session_factory() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(Generation)
                .where(Generation.status.in_(("pending", "processing")))
            )
            or 0
        )


async def _accepted(session_factory, count: int) -> None:
    while await _open_generations(session_factory) < count:
        await asyncio.sleep(0.02)


async def _wait_settled(session_factory, timeout: float) -> None:
    async def settled() -> None:
        while await _open_generations(session_factory):
            await asyncio.sleep(0.2)

    await asyncio.wait_for(settled(), timeout)


async def test_a_database_outage_is_settled_when_it_returns(
    stack: Stack, proxy: TcpProxy, session_factory, bot_log: io.StringIO
):
    """Creates in flight during a 6 s outage are settled within 15 s of its end (completed, or
    failed and refunded), every member's daily_used equals their completed generations, the
    refunded members are told so, interactions during the outage are answered with the
    localised "database unavailable, nothing charged", and the log holds at most a handful
    of stack traces and exactly one recovery line."""
    gemini = stack.gemini
    gemini.image_latency = 3.0
    members = [stack.member(f"outage{i}") for i in range(CREATES)]
    creates = [
        await stack.command(m, "character create", {"description": f"knight number {i}"})
        for i, m in enumerate(members)
    ]
    try:
        await _until(
            lambda: sum(1 for r in gemini.requests if r.model == IMAGE_MODEL) >= CONCURRENCY,
            timeout=15,
        )
        # and every create accepted (charged, its rows written: generations are accepted a few
        # at a time), so the last three wait for a slot when the database goes away
        await asyncio.wait_for(_accepted(session_factory, CREATES), 15)
        told_to_wait = [
            asyncio.create_task(ix.wait_for(_told_to_wait, timeout=OUTAGE_SECONDS + 20))
            for ix in creates
        ]
        await proxy.cut()
        gemini.fail_next("image_safety", times=SAFETY_FAILURES, model=IMAGE_MODEL)
        late = stack.member("latecomer")
        during = [await stack.command(late, "quota") for _ in range(QUOTA_CHECKS)]
        during.append(await stack.command(late, "character create", {"description": "a squire"}))
        texts = [await wait_ephemeral_text(ix, timeout=5) for ix in during]
        health_during = await _fetch(stack, "/healthz")
        metrics_during = await _fetch(stack, "/metrics")
        await asyncio.sleep(OUTAGE_SECONDS)
    finally:
        await proxy.restore()
        gemini.image_latency = 0.0

    await _wait_settled(session_factory, SETTLED_WITHIN)
    await asyncio.gather(*told_to_wait)  # every progress message said it waits for the database

    assert health_during[0] == 503
    body = json.loads(health_during[1])
    assert body["database"] == "unreachable"
    assert "database_unreachable_since" in body
    assert "charbot_database_unreachable 1.0" in metrics_during[1]
    assert "charbot_database_unreachable 0.0" in (await _fetch(stack, "/metrics"))[1]

    for text in texts:
        assert "database is unavailable" in text
        assert "nothing was charged" in text
    users = await _user_rows(session_factory, [*members, late])
    assert late.id not in users or users[late.id].daily_used == 0
    async with session_factory() as s:
        rows = (
            await s.execute(
                select(Generation.user_id, Generation.status).where(
                    Generation.user_id.in_([u.id for u in users.values()])
                )
            )
        ).all()
    statuses = Counter(status for _, status in rows)
    assert statuses["completed"] + statuses["failed"] == CREATES
    assert statuses["failed"] >= SAFETY_FAILURES + (CREATES - CONCURRENCY)
    for member in members:
        user = users[member.id]
        completed = sum(1 for uid, st in rows if uid == user.id and st == "completed")
        assert user.daily_used == completed, member.name
    failed_members = {
        member.id
        for member in members
        if any(uid == users[member.id].id and st == "failed" for uid, st in rows)
    }
    for member, ix in zip(members, creates, strict=True):
        if member.id in failed_members:
            text = await wait_ephemeral_text(ix, timeout=10)
            assert "refunded" in text, text
        else:
            await ix.wait_for(lambda i: bool((i.original() or {}).get("embeds")), timeout=10)

    log_text = bot_log.getvalue()
    stack_traces = log_text.count("Traceback (most recent call last)")
    print(f"stack traces in the bot's log during the outage: {stack_traces}")
    assert stack_traces <= MAX_STACK_TRACES, log_text[-4000:]
    recovery = re.findall(r"database back after [\d.]+ s \(unreachable since .*\)", log_text)
    assert len(recovery) == 1, log_text[-4000:]
    assert f"{QUOTA_CHECKS + 1} interactions answered with an error" in recovery[0]
    assert stack.bot is not None
    assert not stack.bot.deps.db.outage.down


async def test_an_outage_that_outlives_the_token_leaves_a_notice(stack: Stack, session_factory):
    """When a generation's outcome is written only after its interaction token expired (an
    outage of more than 15 minutes), the member finds what became of their unit with their
    next reply."""
    member = stack.member("patient")
    first = await stack.command(member, "quota")
    await wait_reply(first)
    user = (await _user_rows(session_factory, [member]))[member.id]
    expired = SimpleNamespace(  # what guarded() reads of an interaction 16 minutes old
        client=stack.bot,
        extras={"caller": Caller(user=user, lang="en", has_notices=False)},
        created_at=datetime.now(UTC) - timedelta(minutes=16),
    )

    async def settled_after_the_outage():
        raise DatabaseUnavailableError("error.database_refunded")

    with pytest.raises(DatabaseUnavailableError):
        await guarded(expired, "en", settled_after_the_outage)  # type: ignore[arg-type]
    async with session_factory() as s:
        kept = (await s.scalars(select(UserNotice.key).where(UserNotice.user_id == user.id))).all()
    assert list(kept) == ["error.database_refunded"]
    later = await stack.command(member, "quota")
    await later.wait_for(lambda i: len({m["id"] for m in i.messages()}) >= 2, timeout=10)
    shown = "\n".join(str(m.get("content") or "") for m in later.messages())
    assert "The database was unavailable" in shown
    assert "Your generation was refunded" in shown
