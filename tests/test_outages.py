"""The parts that make outages cheap, one by one: which errors mean the database is away, the
outage's bookkeeping and its one recovery line, the log's repeat filter, writes kept until the
database answers (and the refund settled once against the stale sweep), and waiting out a busy
provider (never sooner than its Retry-After, up to the deadline, cancellable)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import pytest
from discord import app_commands
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text, update

from bot.errors import DatabaseUnavailableError, GenerationError, GenerationSavedError
from bot.ops.logs import RepeatFilter
from bot.providers.offline import OfflineImageProvider, OfflinePromptOptimizer
from bot.providers.retry import ProviderError, RetryPolicy, waits_reported_to, with_retries
from bot.services.generation import CreateRequest, GenerationPipeline
from bot.services.generation.records import sweep_stale
from bot.services.generation.settle import settle_failure, until_written
from bot.services.generation.slots import GenerationSlots
from bot.storage.local import LocalStorage
from db.engine import Database, make_engine
from db.models import Character, Generation, User
from db.outage import Outage, is_unreachable
from tests.factories import make_user
from tests.fakes.tcp_proxy import TcpProxy


def _operational() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, ConnectionResetError("reset by peer"))


# --------------------------------------------------------------------------- classification


async def test_a_refused_connection_through_the_engine_is_an_outage(database_url):
    """What SQLAlchemy raises when the server refuses connections (a bare
    ConnectionRefusedError out of the pool) says the database is unreachable, also wrapped as
    discord.py wraps a command's error; the same error class from elsewhere does not."""
    proxy = TcpProxy.for_url(database_url)
    await proxy.start()
    engine = make_engine(proxy.url(database_url))
    db = Database.on(engine)
    try:
        await proxy.cut()
        with pytest.raises(Exception) as caught:  # noqa: PT011 - whatever the driver raises
            async with db.transaction() as session:
                await session.execute(text("SELECT 1"))
        assert is_unreachable(caught.value)
        wrapped = app_commands.CommandInvokeError.__new__(app_commands.CommandInvokeError)
        wrapped.original = caught.value
        assert is_unreachable(wrapped)
        assert not is_unreachable(ConnectionRefusedError(111, "S3 refused"))
        assert not is_unreachable(GenerationError("timeout"))
        assert not is_unreachable(ValueError("bad"))
        assert is_unreachable(_operational())
        assert is_unreachable(sa_exc.TimeoutError("QueuePool limit reached"))
    finally:
        await proxy.stop()
        await engine.dispose()


async def test_the_outage_begins_once_and_its_end_is_logged_once(caplog):
    """saw() of an unreachable error begins the outage (logged once); interactions answered
    meanwhile are counted; back() logs one line with the duration and the count, then nothing."""
    now = [100.0]
    outage = Outage(clock=lambda: now[0])
    caplog.set_level(logging.WARNING, logger="db.outage")
    assert not outage.saw(ValueError("not the database"))
    assert not outage.down
    assert outage.saw(_operational())
    assert outage.saw(_operational())
    outage.answered_with_error()
    outage.answered_with_error()
    assert outage.down
    assert outage.since is not None
    now[0] = 106.5
    assert outage.seconds == pytest.approx(6.5)
    outage.back()
    outage.back()
    lines = [r.getMessage() for r in caplog.records if r.name == "db.outage"]
    assert len(lines) == 2
    assert lines[0].startswith("database unreachable since ")
    assert lines[1].startswith("database back after 6.5 s (unreachable since ")
    assert lines[1].endswith("2 interactions answered with an error)")
    assert not outage.down
    assert outage.seconds == 0.0


# --------------------------------------------------------------------------- the log


def _record(msg: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("bot.x", logging.ERROR, __file__, 1, msg, ("a",), exc_info)


def test_repeat_filter_keeps_one_line_per_kind_per_interval():
    """The first failure of a kind passes with its stack; its repeats within the interval are
    left out; the first after it passes once, counting them, without the stack; another kind,
    and anything below WARNING, always passes."""
    now = [0.0]
    repeat = RepeatFilter(60.0, clock=lambda: now[0])
    try:
        raise ConnectionRefusedError(111, "refused")
    except ConnectionRefusedError as error:
        exc = error
    first = _record("answered during an outage: %s", exc)
    assert repeat.filter(first)
    assert first.exc_info is not None
    passed = [repeat.filter(_record("answered during an outage: %s", exc)) for _ in range(119)]
    assert passed.count(True) == 0
    assert repeat.filter(_record("something else %s", exc))
    info = _record("a note %s")
    info.levelno = logging.INFO
    assert repeat.filter(info)
    now[0] = 61.0
    summary = _record("answered during an outage: %s", exc)
    assert repeat.filter(summary)
    assert summary.exc_info is None
    assert "120 like this in the last 60 s" in summary.getMessage()
    assert summary.repeats == 120
    assert not repeat.filter(_record("answered during an outage: %s", exc))


# --------------------------------------------------------------------------- writes kept


async def test_a_write_is_kept_until_the_database_answers():
    """until_written tries again while the database is away (telling the waiter once), returns
    the write's result when it answers, and ends the outage."""
    outage = Outage()
    calls = []
    told = []

    async def write() -> str:
        calls.append(1)
        if len(calls) < 4:
            raise _operational()
        return "written"

    async def waiting() -> None:
        told.append(1)

    assert await until_written(outage, write, within=30, waiting=waiting) == "written"
    assert len(calls) == 4
    assert told == [1]
    assert not outage.down


async def test_a_write_that_fails_for_another_reason_is_not_retried():
    """An error that is not about reaching the database is raised at once."""
    calls = []

    async def write() -> None:
        calls.append(1)
        raise RuntimeError("the generation was failed while it ran")

    with pytest.raises(RuntimeError):
        await until_written(Outage(), write, within=30)
    assert calls == [1]


async def test_a_write_gives_up_after_its_bound():
    """Past ``within`` the last unreachable error is raised (the stale sweep takes over)."""

    async def write() -> None:
        raise _operational()

    with pytest.raises(sa_exc.OperationalError):
        await until_written(Outage(), write, within=0.3)


async def test_a_failure_kept_through_an_outage_refunds_once_against_the_sweep(
    database_url, session_factory
):
    """A generation whose failure waits for the database is refunded when it comes back, and
    the stale sweep afterwards finds nothing; the other way round (the sweep first) the kept
    failure changes nothing: whichever settles first wins, one unit comes back."""
    proxy = TcpProxy.for_url(database_url)
    await proxy.start()
    engine = make_engine(proxy.url(database_url))
    db = Database.on(engine)
    try:
        async with session_factory() as s, s.begin():
            user = await make_user(s, daily_used=2)
            kept = Generation(user_id=user.id, prompt="p", status="processing", batch_size=1)
            swept = Generation(user_id=user.id, prompt="q", status="processing", batch_size=1)
            s.add_all([kept, swept])
        await proxy.cut()
        settling = asyncio.create_task(
            settle_failure(db, kept.id, "failed", placeholder_character_id=None, within=30)
        )
        await asyncio.sleep(1.0)
        assert not settling.done()
        await proxy.restore()
        assert await asyncio.wait_for(settling, 10) is True

        async with session_factory() as s, s.begin():  # the sweep gets the other one first
            await s.execute(
                update(Generation)
                .where(Generation.id == swept.id)
                .values(updated_at=Generation.updated_at - timedelta(hours=1))
            )
        assert [f.id for f in await sweep_stale(db, timedelta(minutes=20))] == [swept.id]
        again = await settle_failure(
            db, swept.id, "failed", placeholder_character_id=None, within=5
        )
        assert again is False
        async with session_factory() as s:
            assert (await s.scalar(select(User.daily_used).where(User.id == user.id))) == 0
    finally:
        await proxy.stop()
        await engine.dispose()


def test_the_member_is_told_what_became_of_their_unit():
    """The runner's outage error says refunded, or refunded when the database is back."""
    assert "was refunded" in str(DatabaseUnavailableError())
    pending = DatabaseUnavailableError("error.database_refund_pending")
    assert "will be refunded" in str(pending)


# --------------------------------------------------------------------------- busy provider


def test_waiting_out_a_busy_provider_never_comes_sooner_than_asked():
    """Beyond the retries a Retry-After is waited out (never less than it asks, even above the
    usual cap), until the deadline; without a hint, or without a deadline, it gives up."""
    policy = RetryPolicy(max_retries=3, wait_seconds=300)
    for index in range(3, 40):
        wait = policy.next_wait(index, 2.0, waited=10.0)
        assert wait is not None
        assert wait >= 2.0
    assert policy.next_wait(3, 2.0, waited=299.0) is None
    assert policy.next_wait(3, None, waited=10.0) is None
    assert RetryPolicy(max_retries=3).next_wait(3, 2.0, waited=1.0) is None
    long = policy.next_wait(0, 120.0, waited=0.0)
    assert long is not None
    assert long >= 120.0


async def test_a_storm_longer_than_the_retries_is_waited_out_and_reported():
    """Ten 429s with Retry-After (three retries allowed): every wait is at least the hint, the
    listener hears each wait, and the call succeeds."""
    failures = [10]
    waits: list[float] = []
    heard: list[float] = []

    async def attempt() -> str:
        if failures[0]:
            failures[0] -= 1
            raise ProviderError("rate_limited", retryable=True, retry_after=0.5)
        return "image"

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def listener(seconds: float) -> None:
        heard.append(seconds)

    policy = RetryPolicy(max_retries=3, wait_seconds=300)
    with waits_reported_to(listener):
        assert await with_retries(attempt, policy, operation="draw", sleep=sleep) == "image"
    assert len(waits) == 10
    assert all(w >= 0.5 for w in waits)
    assert heard == waits


async def test_cancelling_a_generation_that_waits_out_a_storm_ends_it_at_once():
    """A plain cancellation of the task waiting for a busy provider ends the wait cleanly."""

    async def attempt() -> str:
        raise ProviderError("rate_limited", retryable=True, retry_after=30.0)

    policy = RetryPolicy(max_retries=0, wait_seconds=300)
    task = asyncio.create_task(with_retries(attempt, policy, operation="draw"))
    await asyncio.sleep(0.1)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 1.0)


class _AnswerLostOnce(Database):
    """The test database, except that the ``lose``-th transaction commits and then raises what
    SQLAlchemy raises when the connection drops before the server's answer arrives."""

    def __init__(self, factory, lose: int) -> None:
        super().__init__(factory)
        self._count = 0
        self._lose = lose

    @contextlib.asynccontextmanager
    async def _committed_then_lost(self):
        async with super().transaction() as session:
            yield session
        raise _operational()

    def transaction(self):
        self._count += 1
        if self._count == self._lose:
            return self._committed_then_lost()
        return super().transaction()


async def test_a_write_whose_answer_was_lost_is_not_undone(session_factory, tmp_path):
    """When the persist transaction committed but the answer was lost with the connection,
    the retry finds the generation completed: the member is told their image was saved, the
    unit stays used, the character and its stored image stay (nothing is failed or deleted)."""
    db = _AnswerLostOnce(session_factory, lose=3)  # prepare, mark processing, then persist
    storage = LocalStorage(tmp_path)
    pipeline = GenerationPipeline(
        db,
        storage,
        OfflinePromptOptimizer(),
        OfflineImageProvider(),
        slots=GenerationSlots(2),
        text_model="offline",
        image_model="offline",
    )
    async with session_factory.begin() as s:
        user = await make_user(s, daily_quota=3)
    with pytest.raises(GenerationSavedError):
        await pipeline.create_character(CreateRequest(user_id=user.id, description="a baker"))
    async with session_factory() as s:
        generation = (
            await s.scalars(select(Generation).where(Generation.user_id == user.id))
        ).one()
        character = await s.get(Character, generation.character_id)
        used = await s.scalar(select(User.daily_used).where(User.id == user.id))
    assert generation.status == "completed"
    assert used == 1
    assert character is not None
    assert character.generation_status == "completed"
    assert await storage.exists(character.meta["imageKey"])


async def test_a_database_that_does_not_answer_in_time_is_an_outage():
    """A server that accepts connections but never answers: the health check's timeout says
    the database is unreachable (and so begins the outage)."""
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres")
    db = Database.on(engine)
    try:
        assert not await db.answers()
        assert db.outage.down
    finally:
        silent.close()
        await engine.dispose()
