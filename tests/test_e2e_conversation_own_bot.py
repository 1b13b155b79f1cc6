"""End to end, each with a bot of its own: the Message Content intent when the operator enabled
it, and Cancel on a create waiting for the one generation slot."""

from __future__ import annotations

from sqlalchemy import func, select

from db.models import Character, Generation
from tests.e2e import collect_violations, custom_ids, running_stack, wait_ephemeral_text
from tests.fakes.discord.chat import INTENT_MESSAGE_CONTENT, identified_intents
from tests.test_e2e_conversation import (
    _bot_reply,
    _character,
    _say,
    _until,
    _user,
    _variant,
    en,
)


async def test_message_content_intent_lets_every_owner_message_count(
    database_url, tmp_path_factory, session_factory
):
    """With MESSAGE_CONTENT_INTENT=true the bot asks for the intent and an owner's plain
    message in the thread (no mention, no reply) is an edit."""
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-intent")) as s:
        await s.start_bot(message_content_intent=True)
        assert identified_intents(s.fake)[-1] & INTENT_MESSAGE_CONTENT
        member = s.member("galahad")
        _, thread_id, _ = await _character(s, session_factory, member, "a pure knight")
        asked = await _say(s, thread_id, member, "hold a chalice")
        made = await _variant(session_factory, (await _bot_reply(s, thread_id, asked["id"])))
        assert made.prompt == "hold a chalice"
        assert collect_violations(s) == []


async def test_cancel_a_queued_create_refunds_at_once(
    database_url, tmp_path_factory, session_factory
):
    """One generation at a time and the first hanging: the second create waits in the queue
    with a Cancel button; Cancel removes it and gives its unit back at once, and the hung one
    goes on."""
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e-queue")) as s:
        await s.start_bot(generation_concurrency=1)
        member = s.member("lamorak")
        s.gemini.fail_next("hang", model="gemini-2.5-flash")
        first = await s.command(member, "character create", {"description": "a strong knight"})
        await _until(lambda: s.gemini.in_flight > 0)
        second = await s.command(member, "character create", {"description": "a quiet squire"})

        def cancel_button() -> str | None:
            original = second.original()
            ids = custom_ids(original) if original else []
            return next((c for c in ids if c.endswith(":cancel")), None)

        await second.wait_for(lambda _: cancel_button() is not None, timeout=10)
        assert en("progress.queued", position=1) == second.original()["content"]
        cancel_id = cancel_button()
        used = (await _user(session_factory, member)).daily_used
        pressed = await s.fake.click(member, second.original(), cancel_id)
        assert await wait_ephemeral_text(pressed) == en("cancel.cancelled")
        assert (await _user(session_factory, member)).daily_used == used - 1
        async with session_factory() as db:
            generation = await db.get(Generation, cancel_id.split(":")[1])
            squires = await db.scalar(
                select(func.count())
                .select_from(Character)
                .where(Character.description == "a quiet squire")
            )
        assert (generation.status, generation.error_message) == ("failed", "cancelled")
        assert squires == 0
        assert second.original() is None  # the queued placeholder is gone, nothing posted
        s.gemini.reset()
        await _until(lambda: s.bot.deps.pipeline.in_flight == 0)
        assert first.callbacks
        assert collect_violations(s) == []
