"""End to end: Gemini answers every request 429 with ``Retry-After: 2`` for longer than the
retry budget (GEMINI_MAX_RETRIES=3 spends about six seconds). Creates started during the storm
wait it out and complete after it: none fails, no request comes sooner than its Retry-After,
retries share the fleet's request budget, and the member is shown that the image service is
busy.

``make test`` runs a 12 s storm (twice the retry budget). The issue's 60 s storm runs with
``CHARBOT_SLOW_TESTS=1`` (skipped otherwise, with that reason listed by ``-rs``).
"""

from __future__ import annotations

import asyncio
import itertools
import os

import pytest
from sqlalchemy import func, select

from db.bot_models import ProviderRequestSlot
from db.models import Generation, User
from tests.conftest import truncate_all
from tests.e2e import Stack, collect_violations, running_stack, wait_final

RETRY_AFTER = 2.0
CREATES = 3


@pytest.fixture(scope="module")
async def stack(database_url, engine, tmp_path_factory):
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-storm")) as s:
        await s.start_bot(
            gemini_max_retries=3, gemini_wait_seconds=300, gemini_requests_per_minute=600
        )
        yield s
    await truncate_all(engine)


@pytest.fixture(autouse=True)
def no_violations(stack: Stack):
    """Every request the bot sends in a test passes the OpenAPI spec and Discord's limits."""
    collect_violations(stack)
    yield
    assert collect_violations(stack) == []


def _busy(ix) -> bool:
    return "image service is busy" in str((ix.original() or {}).get("content") or "")


async def _ride_out_a_storm(stack: Stack, session_factory, seconds: float, tag: str) -> None:
    gemini = stack.gemini
    gemini.reset()
    async with session_factory() as s:
        began = await s.scalar(select(func.clock_timestamp()))
    gemini.storm(seconds, "429", retry_after=RETRY_AFTER)
    members = [stack.member(f"{tag}{i}") for i in range(CREATES)]
    descriptions = [f"a storm rider called {tag} number {i}" for i in range(CREATES)]
    creates = [
        await stack.command(m, "character create", {"description": d})
        for m, d in zip(members, descriptions, strict=True)
    ]
    saw_busy = [asyncio.create_task(ix.wait_for(_busy, timeout=seconds + 30)) for ix in creates]
    results = [await wait_final(ix, timeout=seconds + 60) for ix in creates]
    await asyncio.gather(*saw_busy)  # each member was shown the waiting message

    assert all(r.get("embeds") for r in results)
    assert not gemini.storming
    for description in descriptions:
        mine = sorted(
            (r for r in gemini.requests if description in r.text), key=lambda r: r.received_at
        )
        refused = [r for r in mine if r.failure == "429"]
        assert len(refused) > 3, "the storm outlasted the retry budget"  # waited, not failed
        for before, after in itertools.pairwise(mine):
            if before.failure == "429" and before.model == after.model:
                assert after.received_at - before.received_at >= RETRY_AFTER
    async with session_factory() as s:
        slots = await s.scalar(
            select(func.count())
            .select_from(ProviderRequestSlot)
            .where(ProviderRequestSlot.taken_at >= began)
        )
    assert slots == len(gemini.requests)  # every attempt took its slot of the shared budget
    async with session_factory() as s:
        for member in members:
            user = (
                await s.scalars(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
            ).one()
            statuses = (
                await s.scalars(select(Generation.status).where(Generation.user_id == user.id))
            ).all()
            assert list(statuses) == ["completed"]
            assert user.daily_used == 1


async def test_creates_wait_out_a_storm_longer_than_the_retry_budget(stack: Stack, session_factory):
    """A 12 s storm of 429 with Retry-After 2 s (twice what the retries cover): every create
    started in it completes after it, no request came sooner than its Retry-After, and every
    member saw "the image service is busy, waiting…"."""
    await _ride_out_a_storm(stack, session_factory, 12.0, "gale")


@pytest.mark.skipif(
    os.environ.get("CHARBOT_SLOW_TESTS") != "1", reason="a 60 s storm; set CHARBOT_SLOW_TESTS=1"
)
async def test_creates_wait_out_a_sixty_second_storm(stack: Stack, session_factory):
    """The issue's storm: 60 s of 429 with Retry-After 2 s; the same holds."""
    await _ride_out_a_storm(stack, session_factory, 60.0, "tempest")
