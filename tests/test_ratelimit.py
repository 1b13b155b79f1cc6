"""The provider budget shared through PostgreSQL (GEMINI_REQUESTS_PER_MINUTE).

The window is a parameter: these tests use a 2-second window (30 per 2 s, as the budget of 30
per minute would be), so they do not run for minutes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.config import Settings
from bot.ops.metrics import BotMetrics
from bot.providers.factory import make_genai_client
from bot.providers.gemini import GeminiImageProvider
from bot.providers.offline import OfflineImageProvider, OfflinePromptOptimizer
from bot.services.generation import CreateRequest, GenerationPipeline
from bot.services.generation.slots import GenerationSlots
from bot.services.ratelimit import SharedRateLimit
from bot.storage.local import LocalStorage
from db.engine import Database
from tests.factories import make_user
from tests.fakes.gemini_server import FakeGemini

WINDOW = 2.0


def most_in_any_window(times: list[float], window: float) -> int:
    """The largest number of ``times`` inside any half-open interval of length ``window``."""
    ordered = sorted(times)
    best = 0
    for i, start in enumerate(ordered):
        best = max(best, sum(1 for t in ordered[i:] if t - start < window))
    return best


@pytest.fixture
async def limiter_engines(database_url) -> AsyncIterator[list[AsyncEngine]]:
    """Two engines on the test database, as two bot processes would have (tagged by name)."""
    engines = [
        create_async_engine(
            database_url,
            pool_size=2,
            connect_args={"server_settings": {"application_name": f"ratelimit-test-{i}"}},
        )
        for i in range(2)
    ]
    yield engines
    for eng in engines:
        await eng.dispose()


def bucket() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


async def test_two_limiters_hold_sixty_requests_to_thirty_per_window(limiter_engines):
    """60 image requests through two limiters (own engines) sharing a budget of 30 per window:
    all succeed, and never more than 30 reach the fake Gemini within any window."""
    gemini = FakeGemini()
    await gemini.start()
    name = bucket()
    limiters = [
        SharedRateLimit(eng, budget=30, window=WINDOW, bucket=name) for eng in limiter_engines
    ]
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, gemini_api_key="test-key-0123456789", gemini_base_url=gemini.base_url
    )
    client = make_genai_client(settings)
    provider = GeminiImageProvider(client, "gemini-2.5-flash-image", timeout=10, max_retries=0)

    async def one(limiter: SharedRateLimit, n: int) -> bytes:
        await limiter.acquire()
        return (await provider.generate(f"portrait {n}", style="anime")).data

    try:
        images = await asyncio.gather(*(one(limiters[n % 2], n) for n in range(60)))
    finally:
        await client.aio.aclose()
        client.close()
        await gemini.stop()
    assert len(images) == 60
    assert all(image.startswith(b"\x89PNG") for image in images)
    arrivals = [r.received_at for r in gemini.requests]
    assert len(arrivals) == 60
    assert most_in_any_window(arrivals, WINDOW) <= 30
    assert max(arrivals) - min(arrivals) >= WINDOW  # the second half had to wait


async def test_waiters_hear_their_queue_positions(limiter_engines):
    """Over budget, waiters are told their place (1 = next) and move up as others pass."""
    limiter = SharedRateLimit(limiter_engines[0], budget=1, window=1.0, bucket=bucket())
    heard: dict[str, list[int]] = {"b": [], "c": []}
    order: list[str] = []

    async def take(name: str) -> None:
        async def tell(position: int) -> None:
            heard[name].append(position)

        await limiter.acquire(tell if name in heard else None)
        order.append(name)

    first = asyncio.create_task(take("a"))
    await first
    second = asyncio.create_task(take("b"))
    await asyncio.sleep(0.05)
    third = asyncio.create_task(take("c"))
    await asyncio.gather(second, third)
    await asyncio.sleep(0.05)  # position callbacks run as tasks
    assert order == ["a", "b", "c"]
    assert heard["b"] == [1]
    assert heard["c"] == [2, 1]
    assert limiter.waiting == 0


async def test_no_transaction_is_open_while_waiting(limiter_engines):
    """A request waiting for the budget holds no database transaction."""
    eng = limiter_engines[1]
    limiter = SharedRateLimit(eng, budget=1, window=3.0, bucket=bucket())
    await limiter.acquire()
    waiting = asyncio.create_task(limiter.acquire())
    await asyncio.sleep(0.5)
    assert not waiting.done()
    assert limiter.waiting == 1
    async with limiter_engines[0].connect() as conn:
        open_xacts = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'ratelimit-test-1' AND xact_start IS NOT NULL"
            )
        )
    assert open_xacts == 0
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert limiter.waiting == 0


async def test_pipeline_waits_for_the_budget_and_shows_the_position(
    session_factory, limiter_engines, tmp_path: Path
):
    """A generation over budget reports ("queued", 1), then its stage again, and completes;
    the metrics count the wait, the provider calls and the completed generations."""
    metrics = BotMetrics()
    limiter = SharedRateLimit(limiter_engines[0], budget=2, window=1.0, bucket=bucket())
    pipeline = GenerationPipeline(
        Database(session_factory),
        LocalStorage(tmp_path / "images"),
        OfflinePromptOptimizer(),
        OfflineImageProvider(),
        slots=GenerationSlots(4),
        text_model="offline",
        image_model="offline",
        rate_limit=limiter,
        metrics=metrics,
    )
    async with session_factory.begin() as s:
        user = await make_user(s, daily_quota=5)
    await pipeline.create_character(CreateRequest(user_id=user.id, description="a first knight"))
    stages: list[tuple[str, int | None]] = []

    async def progress(stage: str, position: int | None) -> None:
        stages.append((stage, position))

    outcome = await pipeline.create_character(
        CreateRequest(user_id=user.id, description="a second knight"), progress
    )
    await asyncio.sleep(0.05)
    assert outcome.character.generation_status == "completed"
    assert stages[:3] == [("prompt", None), ("queued", 1), ("prompt", None)]
    assert stages[-1] == ("saving", None)
    assert outcome.timings["rate_limit_wait"] > 0.1
    registry = metrics.registry
    assert (
        registry.get_sample_value(
            "charbot_generations_total", {"kind": "create", "outcome": "completed"}
        )
        == 2
    )
    assert (
        registry.get_sample_value(
            "charbot_provider_request_seconds_count", {"provider": "text", "outcome": "ok"}
        )
        == 2
    )
    assert registry.get_sample_value("charbot_provider_rate_limit_wait_seconds_sum") > 0.1
