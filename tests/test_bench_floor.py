"""The interaction benchmark's floor: its statements do what the bot's answers do, on the
platform's schema, and the report says a target is out of reach only where the floor misses it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.barecreate import STORE
from bench.baremix import COUNTERS, OWN, STARTING, TOGGLE
from bench.interactions import floor_lines


async def _rows(engine: AsyncEngine, statement: Any, **values: Any) -> list[Any]:
    async with engine.begin() as conn:
        return list((await conn.execute(statement, values)).all())


async def _member(engine: AsyncEngine, discord_id: int) -> Any:
    (row,) = await _rows(
        engine,
        COUNTERS,
        who=f"discord|{discord_id}",
        email=f"discord_{discord_id}@floor.invalid",
        name=f"floor_{discord_id}",
    )
    return row


async def _character(engine: AsyncEngine, user: str, character_id: str, name: str) -> None:
    await _rows(
        engine,
        STORE,
        id=character_id,
        user_id=user,
        name=name,
        description="d",
        prompt="p",
        image_url="https://img/x.png",
        thumbnail_url="https://img/x.webp",
    )


async def test_the_floor_answers_with_the_members_rows_and_flips_only_their_own_favorite(
    engine: AsyncEngine, session_factory: Any
) -> None:
    first = await _member(engine, 9001)
    again = await _member(engine, 9001)
    assert (
        (first.daily_used, first.daily_quota)
        == (again.daily_used, again.daily_quota)
        == (0, 100000)
    )
    (count,) = await _rows(
        engine, text("SELECT count(*) FROM users WHERE auth0_id = 'discord|9001'")
    )
    assert count[0] == 1  # the row is made once

    await _member(engine, 9002)
    (owner,) = await _rows(engine, text("SELECT id FROM users WHERE auth0_id = 'discord|9001'"))
    ids = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
    await _character(engine, owner.id, ids[0], "Arthur")
    await _character(engine, owner.id, ids[1], "50%_off")

    assert [r.name for r in await _rows(engine, OWN, who="discord|9001")] == ["50%_off", "Arthur"]
    assert await _rows(engine, OWN, who="discord|9002") == []
    matched = await _rows(engine, STARTING, who="discord|9001", prefix="ar%")
    assert [r.id for r in matched] == [ids[0]]
    escaped = await _rows(engine, STARTING, who="discord|9001", prefix="50\\%%")
    assert [r.id for r in escaped] == [ids[1]]

    assert await _rows(engine, TOGGLE, id=ids[0], who="discord|9002") == []  # not theirs
    assert [r.is_favorite for r in await _rows(engine, TOGGLE, id=ids[0], who="discord|9001")] == [
        True
    ]
    assert [r.is_favorite for r in await _rows(engine, TOGGLE, id=ids[0], who="discord|9001")] == [
        False
    ]


def _side(p90: float, p99: float, cpu: float) -> dict[str, Any]:
    return {
        "answer_p90": p90,
        "answer_p99": p99,
        "cpu_per_interaction": cpu,
        "creates": 10,
        "create_failures": 0,
        "late": 0,
    }


def test_the_floor_report_calls_out_of_reach_only_the_limits_the_floor_misses() -> None:
    base = _side(0.5, 1.0, 0.004)
    lines = floor_lines("mix", _side(0.060, 0.1, 0.0030), base).splitlines()
    p90, p99, cpu = lines[1:]
    assert "60.00" in p90
    assert "out of reach" in p90
    assert "0.10 x the base's" in p99
    assert "within reach" in p99
    assert "0.75 x the base's" in cpu
    assert "out of reach" in cpu

    alone = floor_lines("mix", _side(0.01, 0.1, 0.002), None).splitlines()
    assert "within reach" in alone[1]
    assert all("no base measured" in line for line in alone[2:])
