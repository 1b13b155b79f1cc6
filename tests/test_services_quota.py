"""The daily quota: atomic charges, local-day resets, refunds exactly once, the sweeper."""

from __future__ import annotations

import asyncio
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update

from bot.errors import AccountRestrictedError, QuotaExceededError
from bot.services.generation.records import fail_generation, start_generation, sweep_stale
from bot.services.quota import charge, next_reset, status_of
from db.engine import Database
from db.models import Character, Generation, User
from tests.factories import make_character, make_user


async def _charge_many(session_factory, user_id: str, n: int) -> int:
    async def one() -> bool:
        try:
            async with session_factory.begin() as s:
                await charge(s, user_id)
        except QuotaExceededError:
            return False
        return True

    results = await asyncio.gather(*(one() for _ in range(n)))
    return sum(results)


async def test_concurrent_charges_never_exceed_the_quota(session_factory):
    """50 concurrent charges on separate connections with quota 3: exactly 3 succeed, 20 times."""
    async with session_factory.begin() as s:
        user = await make_user(s, daily_quota=3)
    for _ in range(20):
        assert await _charge_many(session_factory, user.id, 50) == 3
        async with session_factory.begin() as s:
            used = (await s.get(User, user.id, populate_existing=True)).daily_used  # type: ignore[union-attr]
            assert used == 3
            await s.execute(update(User).where(User.id == user.id).values(daily_used=0))


async def test_fourth_charge_is_refused_with_the_reset_time(session):
    """At the limit the charge is refused, naming the quota and a relative reset time."""
    user = await make_user(session, daily_quota=3)
    for _ in range(3):
        await charge(session, user.id)
    with pytest.raises(QuotaExceededError) as info:
        await charge(session, user.id)
    assert info.value.params["quota"] == 3
    assert info.value.params["reset"].startswith("<t:")
    status = status_of(await session.get(User, user.id, populate_existing=True))
    assert (status.used, status.remaining) == (3, 0)


async def test_suspended_user_cannot_be_charged(session):
    """A suspended account is refused before any unit is taken."""
    user = await make_user(session, account_status="suspended")
    with pytest.raises(AccountRestrictedError):
        await charge(session, user.id)
    await session.refresh(user)
    assert user.daily_used == 0


def _local_midnight(zone: str) -> datetime:
    tz = zoneinfo.ZoneInfo(zone)
    now = datetime.now(tz)
    return datetime(now.year, now.month, now.day, tzinfo=tz)


async def test_a_new_local_day_resets_the_count(session):
    """A charge on a later local date (the user's timezone) starts the count again."""
    user = await make_user(session, timezone="Pacific/Kiritimati", daily_quota=3, daily_used=3)
    midnight = _local_midnight("Pacific/Kiritimati")
    user.last_reset_date = midnight - timedelta(minutes=1)  # yesterday, local time
    await session.flush()
    status = await charge(session, user.id)
    assert (status.used, status.remaining) == (1, 2)
    await session.refresh(user)
    assert user.last_reset_date > midnight


async def test_the_same_local_day_does_not_reset(session):
    """Earlier today (local time) counts as today even if UTC's date differs."""
    zone = "America/Los_Angeles"
    user = await make_user(session, timezone=zone, daily_quota=3, daily_used=3)
    user.last_reset_date = _local_midnight(zone) + timedelta(seconds=1)
    await session.flush()
    with pytest.raises(QuotaExceededError):
        await charge(session, user.id)


async def test_a_timezone_postgresql_does_not_know_counts_the_utc_day(session):
    """A timezone the platform stored but no one knows (not one /profile would accept) does
    not make charges fail: the day is UTC's, as /quota shows it."""
    user = await make_user(session, daily_quota=3, daily_used=3)
    await session.execute(
        update(User).where(User.id == user.id).values(timezone="Mars/Olympus_Mons")
    )
    user.last_reset_date = _local_midnight("UTC") - timedelta(minutes=1)  # yesterday, UTC
    await session.flush()
    status = await charge(session, user.id)
    assert (status.used, status.remaining) == (1, 2)
    assert status.resets_at == next_reset("UTC")
    user.last_reset_date = _local_midnight("UTC") + timedelta(seconds=1)  # today, UTC
    user.daily_used = 3
    await session.flush()
    with pytest.raises(QuotaExceededError):
        await charge(session, user.id)


def test_next_reset_is_the_next_local_midnight():
    """The reset instant is the next midnight in the user's zone."""
    now = datetime(2026, 3, 1, 20, 30, tzinfo=UTC)
    assert next_reset("Asia/Tokyo", now) == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert next_reset("UTC", now) == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    assert next_reset("Not/AZone", now) == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


async def test_failed_generation_refunds_exactly_once(session):
    """Failing a generation gives its unit back; failing it again gives nothing more."""
    user = await make_user(session, daily_quota=3)
    await charge(session, user.id)
    await charge(session, user.id)
    gen = await start_generation(session, user_id=user.id, prompt="p", style="anime")
    assert await fail_generation(session, gen.id, "blocked") is True
    assert await fail_generation(session, gen.id, "blocked again") is False
    await session.refresh(user)
    await session.refresh(gen)
    assert user.daily_used == 1
    assert gen.status == "failed"
    assert gen.error_message == "blocked"
    assert gen.completed_at is not None


async def test_refund_skipped_when_the_day_was_reset_after_the_charge(session):
    """A generation charged yesterday does not take a unit off today's fresh count."""
    user = await make_user(session, daily_quota=3)
    gen = await start_generation(session, user_id=user.id, prompt="p", style="anime")
    await session.execute(
        update(Generation)
        .where(Generation.id == gen.id)
        .values(created_at=datetime.now(UTC) - timedelta(days=1))
    )
    await charge(session, user.id)  # today's first unit
    assert await fail_generation(session, gen.id, "late failure") is True
    await session.refresh(user)
    assert user.daily_used == 1


async def test_sweeper_fails_and_refunds_stale_rows_only(session_factory):
    """Rows stuck pending/processing past the age are failed and refunded; fresh ones stay."""
    async with session_factory.begin() as s:
        user = await make_user(s, daily_quota=5)
        character = await make_character(s, user, image_url=None, generation_status="processing")
        character.meta = {"source": "discord"}
        for _ in range(3):
            await charge(s, user.id)
        stale = await start_generation(
            s, user_id=user.id, prompt="p", style="anime", character_id=character.id
        )
        stale.status = "processing"
        fresh = await start_generation(s, user_id=user.id, prompt="p", style="anime")
        await s.flush()
        await s.execute(
            text("UPDATE generations SET updated_at = now() - interval '2 hours' WHERE id = :id"),
            {"id": stale.id},
        )
    failed = await sweep_stale(Database(session_factory), timedelta(minutes=20))
    assert [f.id for f in failed] == [stale.id]
    async with session_factory() as s:
        assert (await s.get(Generation, stale.id)).status == "failed"  # type: ignore[union-attr]
        assert (await s.get(Generation, fresh.id)).status == "pending"  # type: ignore[union-attr]
        assert (await s.get(User, user.id)).daily_used == 2  # type: ignore[union-attr]
        # the half-made character of the interrupted create is gone
        assert await s.get(Character, character.id) is None
    assert await sweep_stale(Database(session_factory), timedelta(minutes=20)) == []
