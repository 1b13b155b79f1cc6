"""Graceful shutdown: in-flight generations finish within the grace period, or go back to the
queue unfailed and are finished after the restart."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from db.models import Generation, User
from tests.conftest import truncate_all
from tests.e2e import Stack, collect_violations, running_stack, until_drawing


@pytest.fixture(scope="module")
async def stack(database_url, engine, tmp_path_factory):
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-stop")) as s:
        yield s
    await truncate_all(engine)


@pytest.fixture(autouse=True)
def no_violations(stack: Stack):
    """Every request the bot sends in a test passes the OpenAPI spec and Discord's limits."""
    collect_violations(stack)
    yield
    assert collect_violations(stack) == []


async def _generations(session_factory, member) -> tuple[User, list[Generation]]:
    async with session_factory() as s:
        user = (
            await s.scalars(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
        ).one()
        gens = (await s.scalars(select(Generation).where(Generation.user_id == user.id))).all()
    return user, list(gens)


async def test_shutdown_lets_a_running_generation_finish(stack: Stack, session_factory):
    """Closing the bot while a create draws waits for it: the member gets the character."""
    await stack.start_bot(shutdown_grace_seconds=10)
    stack.gemini.image_latency = 1.0
    member = stack.member("uther")
    try:
        ix = await stack.command(member, "character create", {"description": "a weary king"})
        await ix.acknowledged(timeout=3)
        await until_drawing(stack)
        await stack.stop_bot()
    finally:
        stack.gemini.image_latency = 0.0
    original = ix.original() or {}
    assert original.get("embeds")
    _, gens = await _generations(session_factory, member)
    assert [g.status for g in gens] == ["completed"]


async def test_shutdown_lets_a_drawn_character_be_posted_with_its_thread(
    stack: Stack, session_factory
):
    """Closing the bot once a create has drawn, while it is still posting (its thread request
    held up by a rate limit), waits for the post: the card, the thread and its welcome all
    arrive, and nothing is reported as an error."""
    await stack.start_bot(shutdown_grace_seconds=10)
    threads = "/channels/{channel_id}/messages/{message_id}/threads"
    stack.fake.inject_rate_limit("POST", threads, retry_after=1.0)
    member = stack.member("morgause")
    ix = await stack.command(member, "character create", {"description": "a sorceress"})
    await ix.acknowledged(timeout=3)
    await stack.fake.wait_until(
        lambda: any(r.route == threads and r.status == 429 for r in stack.fake.requests)
    )
    await stack.stop_bot()
    message = ix.original() or {}
    assert message.get("embeds")
    thread_id = message["id"]  # a thread started on a message takes the message's id
    assert thread_id in stack.fake.threads
    welcome = stack.fake.channel_messages(thread_id)
    assert len(welcome) == 1
    assert welcome[0]["author"]["id"] == stack.fake.bot_user["id"]
    _, gens = await _generations(session_factory, member)
    assert [g.status for g in gens] == ["completed"]


async def test_shutdown_past_the_grace_period_gives_the_generation_back(
    stack: Stack, session_factory
):
    """A generation still running when the grace period ends goes back to the queue unfailed
    (charged once, the member told it will follow); the bot started again finishes it and
    posts it in the member's response."""
    await stack.start_bot(shutdown_grace_seconds=0.2)
    stack.gemini.image_latency = 3.0
    member = stack.member("igraine")
    try:
        ix = await stack.command(member, "character create", {"description": "a queen"})
        await ix.acknowledged(timeout=3)
        await until_drawing(stack)
        await stack.stop_bot()
    finally:
        stack.gemini.image_latency = 0.0
    said = (ix.original() or {}).get("content") or ""
    assert "restarting" in said
    assert ix.followups == []
    user, gens = await _generations(session_factory, member)
    assert [g.status for g in gens] == ["processing"]
    assert user.daily_used == 1
    await stack.start_bot()
    await stack.fake.wait_until(lambda: bool((ix.original() or {}).get("attachments")), 30)
    assert (ix.original() or {})["content"] == "Here is your image (finished after a restart)."
    user, gens = await _generations(session_factory, member)
    assert [g.status for g in gens] == ["completed"]
    assert user.daily_used == 1
