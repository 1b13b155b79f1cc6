"""End to end: /character create through the real libraries, buttons, thread, quota."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Character, Generation, User
from tests.e2e import (
    Stack,
    bot_stack,
    character_thread,
    find_id,
    requests_checked,
    wait_ephemeral_text,
    wait_final,
    wait_reply,
    wait_update,
)

stack = bot_stack("e2e")


no_violations = requests_checked()


async def test_character_create_posts_image_buttons_and_thread(stack: Stack, session_factory):
    """/character create: acknowledged in time, final card with image and buttons, a thread,
    the rows and S3 objects, and /quota shows 2 left."""
    member = stack.member("gawain")
    ix = await stack.command(
        member, "character create", {"description": "a knight with a red scarf", "style": "anime"}
    )
    ack = await ix.acknowledged(timeout=3)
    assert ack["type"] == 5
    assert ix.ack_delay is not None
    assert ix.ack_delay < 3
    message = await wait_final(ix)
    assert message["attachments"][0]["filename"].startswith("portrait.")
    assert message["embeds"][0]["image"]["url"] == message["attachments"][0]["url"]
    portrait = stack.fake.attachment_bytes(message["attachments"][0]["url"])
    assert portrait.startswith(b"\x89PNG")
    assert any(cid.endswith(":fav") for cid in _ids(message))
    # the thread opened on the message, and the conversation stored
    assert await character_thread(stack, message) in stack.fake.threads
    async with session_factory() as s:
        user = (
            await s.scalars(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
        ).one()
        character = (await s.scalars(select(Character).where(Character.user_id == user.id))).one()
        gens = (await s.scalars(select(Generation).where(Generation.user_id == user.id))).all()
    assert character.generation_status == "completed"
    assert character.style_type == "anime"
    assert character.description == "a knight with a red scarf"
    meta = character.meta or {}
    assert meta["conversationId"] in stack.fake.threads
    assert meta["messageId"] == message["id"]
    keys = stack.s3.list_keys(stack.bucket)
    assert meta["imageKey"] in keys
    assert meta["thumbnailKey"] in keys
    assert [g.status for g in gens] == ["completed"]
    texts = [r.text for r in stack.gemini.requests]
    assert any("a knight with a red scarf" in t for t in texts)
    quota = await stack.command(member, "quota")
    await quota.acknowledged(timeout=3)
    reply = await wait_reply(quota)
    assert quota.ephemeral
    assert reply["embeds"][0]["description"].startswith("**2** of 3")


def _ids(message):
    from tests.e2e import custom_ids

    return custom_ids(message)


async def test_favorite_button_works_for_owner_and_refuses_others(stack: Stack, session_factory):
    """Favorite by the owner flips is_favorite; by another member it is refused, nothing changes."""
    owner = stack.member("percival")
    other = stack.member("mordred")
    ix = await stack.command(owner, "character create", {"description": "a quiet archer"})
    message = await wait_final(ix)
    fav = find_id(message, ":fav")
    refused = await stack.fake.click(other, message, fav)
    text = await wait_ephemeral_text(refused)
    assert "owner" in text.lower()
    character_id = fav.split(":")[1]
    async with session_factory() as s:
        assert (await s.get(Character, character_id)).is_favorite is False
    pressed = await stack.fake.click(owner, message, fav)
    await pressed.acknowledged(timeout=3)
    await wait_update(pressed)
    async with session_factory() as s:
        assert (await s.get(Character, character_id)).is_favorite is True
