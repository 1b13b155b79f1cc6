"""End to end: the character's thread (or a DM) as a conversation. Members' messages reach the
real bot over the fake gateway; edits chain and carry their branch to the fake Gemini; others
suggest; Cancel, Use as portrait, Favorite, Delete; order and spam; no privileged intent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.errors import NotFoundError, NotOwnerError
from bot.i18n import Catalog
from db.meta import (
    CONVERSATION_ID,
    FAVORITE,
    IMAGE_KEY,
    INSTRUCTION_MESSAGE_ID,
    MESSAGE_ID,
    PARENT_VARIANT_ID,
    SOURCE_IMAGE_KEY,
    SUGGESTED_BY,
)
from db.models import Character, CharacterTheme, Generation, ThemeVariant, User
from tests.e2e import (
    Stack,
    bot_stack,
    character_thread,
    custom_ids,
    find_id,
    requests_checked,
    wait_ephemeral_text,
    wait_final,
    wait_update,
)
from tests.fakes.discord.chat import (
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    PRIVILEGED_INTENTS,
    identified_intents,
    open_dm,
    post_user_message,
)
from tests.fakes.gemini_server import png_bytes

CATALOG = Catalog.load()


def en(key: str, **params: Any) -> str:
    return CATALOG.t("en", key, **params)


stack = bot_stack("e2e-conversation")


no_violations = requests_checked()


# ----------------------------------------------------------------------------------- helpers


async def _user(session_factory, member) -> User:
    async with session_factory() as s:
        return (
            await s.scalars(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
        ).one()


async def _plenty(session_factory, member, quota: int = 100) -> None:
    async with session_factory.begin() as s:
        await s.execute(
            update(User)
            .where(User.auth0_id == f"oauth2|discord|{member.id}")
            .values(daily_quota=quota, daily_used=0)
        )


async def _character(stack: Stack, session_factory, member, description: str):
    """/character create in the main channel: the card, its thread and the character row."""
    ix = await stack.command(member, "character create", {"description": description})
    card = await wait_final(ix)
    thread_id = await character_thread(stack, card)
    await _plenty(session_factory, member)
    character_id = find_id(card, ":fav").split(":")[1]
    return card, thread_id, character_id


def _from_bot(stack: Stack, message: dict) -> bool:
    return message["author"]["id"] == stack.fake.bot_user["id"]


def _reference(message: dict) -> str | None:
    """The id of the message ``message`` replies to (as a string, however it was sent)."""
    replied = (message.get("message_reference") or {}).get("message_id")
    return str(replied) if replied is not None else None


def _replies_to(stack: Stack, channel_id: str, message_id: str) -> list[dict]:
    return [
        m
        for m in stack.fake.channel_messages(channel_id)
        if _from_bot(stack, m) and _reference(m) == message_id
    ]


async def _bot_reply(stack: Stack, channel_id: str, message_id: str, *, image: bool = True) -> dict:
    """The bot's reply to a member's message, once it shows a variant (``image``) or text."""

    def found() -> dict | None:
        for m in _replies_to(stack, channel_id, message_id):
            if image and m.get("embeds") and m.get("attachments"):
                return m
            if not image and m.get("content") and not m.get("embeds"):
                return m
        return None

    await stack.fake.wait_until(lambda: found() is not None, timeout=20)
    reply = found()
    assert reply is not None
    return reply


async def _variant(session_factory, message: dict) -> ThemeVariant:
    """The variant a bot message shows (its embed's footer names it)."""
    footer = message["embeds"][0]["footer"]["text"]
    async with session_factory() as s:
        variant = await s.get(ThemeVariant, footer.rsplit(" ", 1)[-1])
    assert variant is not None
    return variant


async def _until(predicate, timeout: float = 20.0) -> None:
    """Wait for state outside the fake Discord (the fake Gemini, the bot's counters)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def _private_with(ix, suffix: str) -> dict:
    """The private message answering a press that carries a button ending with ``suffix``."""

    def found() -> dict | None:
        for message in ix.messages():
            if message.get("flags", 0) & 64 and any(
                c.endswith(suffix) for c in custom_ids(message)
            ):
                return message
        return None

    await ix.wait_for(lambda _: found() is not None)
    message = found()
    assert message is not None
    return message


async def _say(stack: Stack, channel_id: str, who, text: str, **kw: Any) -> dict:
    return await post_user_message(stack.fake, channel_id, who, text, **kw)


def _handled(stack: Stack, outcome: str) -> float:
    assert stack.bot is not None
    value = stack.bot.deps.metrics.registry.get_sample_value(
        "charbot_conversation_messages_total", {"outcome": outcome}
    )
    return value or 0.0


async def _theme_of(session_factory, variant: ThemeVariant) -> str:
    async with session_factory() as s:
        theme = await s.get(CharacterTheme, variant.theme_id)
    assert theme is not None
    return theme.name


# ------------------------------------------------------------------------------ acceptance 1


async def test_a_mention_then_a_reply_build_on_each_other(stack: Stack, session_factory):
    """ "@bot add a red scarf" → a variant reply; a reply to it "now make it snow" → a second
    variant whose parent is the first, and whose Gemini request carries the first edit's
    instruction and image as history before the edit itself."""
    member = stack.member("percival")
    _card, thread_id, character_id = await _character(
        stack, session_factory, member, "a knight with a kind face"
    )
    async with session_factory() as s:
        portrait_key = (await s.get(Character, character_id)).meta[IMAGE_KEY]

    first_png = png_bytes((10, 200, 30))
    stack.gemini.image_png = first_png
    asked = await _say(stack, thread_id, member, "add a red scarf", mention_bot=True)
    shown = await _bot_reply(stack, thread_id, asked["id"])
    assert en("variant.created", theme="Variations") in shown["content"]
    assert {c.split(":")[-1] for c in custom_ids(shown)} == {"portrait", "fav", "del"}
    first = await _variant(session_factory, shown)
    assert first.prompt == "add a red scarf"
    assert first.meta[CONVERSATION_ID] == thread_id
    assert first.meta[MESSAGE_ID] == shown["id"]
    assert first.meta[INSTRUCTION_MESSAGE_ID] == asked["id"]
    assert first.meta[SOURCE_IMAGE_KEY] == portrait_key
    assert PARENT_VARIANT_ID not in first.meta

    stack.gemini.image_png = png_bytes((240, 240, 250))
    stack.gemini.requests.clear()
    again = await _say(stack, thread_id, member, "now make it snow", reply_to=shown)
    second_shown = await _bot_reply(stack, thread_id, again["id"])
    second = await _variant(session_factory, second_shown)
    assert second.meta[PARENT_VARIANT_ID] == first.id
    assert SOURCE_IMAGE_KEY not in second.meta

    edit = next(r for r in stack.gemini.requests if r.kind == "image")
    roles = [role for role, _, _ in edit.turns]
    assert roles == ["user", "model", "user"]
    (_, history_texts, _), (_, _, history_images), (_, texts, images) = edit.turns
    assert any("add a red scarf" in t for t in history_texts)
    assert history_images == [first_png]
    assert any("now make it snow" in t for t in texts)
    assert images == [first_png]  # the edit starts from the replied-to variant

    # a cancel after completion says so and changes nothing; someone else's id is refused
    owner = await _user(session_factory, member)
    pipeline = stack.bot.deps.pipeline
    assert await pipeline.cancel(second.meta["generationId"], owner.id) == "finished"
    with pytest.raises(NotOwnerError):
        await pipeline.cancel(second.meta["generationId"], "someone-else")
    with pytest.raises(NotFoundError):
        await pipeline.cancel("not-a-generation", owner.id)
    assert (await _user(session_factory, member)).daily_used == owner.daily_used


# ------------------------------------------------------------------------------ acceptance 2


async def test_a_reply_to_the_portrait_edits_the_portrait_and_a_tag_picks_the_theme(
    stack: Stack, session_factory
):
    """After a variant exists, a reply to the character's card (not the newest image) edits the
    portrait; "#winter" files it under "winter", and the next edit keeps that theme."""
    member = stack.member("gawain")
    card, thread_id, character_id = await _character(
        stack, session_factory, member, "a green knight"
    )
    async with session_factory() as s:
        portrait_key = (await s.get(Character, character_id)).meta[IMAGE_KEY]
    asked = await _say(stack, thread_id, member, "give him a cloak", mention_bot=True)
    newest = await _variant(session_factory, (await _bot_reply(stack, thread_id, asked["id"])))

    stack.gemini.requests.clear()
    winter = await _say(stack, thread_id, member, "#winter make it snow", reply_to=card)
    made = await _variant(session_factory, (await _bot_reply(stack, thread_id, winter["id"])))
    assert made.meta[SOURCE_IMAGE_KEY] == portrait_key
    assert PARENT_VARIANT_ID not in made.meta
    assert made.prompt == "make it snow"
    assert await _theme_of(session_factory, made) == "winter"
    edit = next(r for r in stack.gemini.requests if r.kind == "image")
    assert [role for role, _, _ in edit.turns] == ["user"]  # the portrait starts a branch

    later = await _say(stack, thread_id, member, "add falling leaves", mention_bot=True)
    chained = await _variant(session_factory, (await _bot_reply(stack, thread_id, later["id"])))
    assert chained.meta[PARENT_VARIANT_ID] == made.id  # the newest image, not the cloak
    assert chained.meta[PARENT_VARIANT_ID] != newest.id
    assert await _theme_of(session_factory, chained) == "winter"


async def test_variant_create_chains_from_the_newest_image(stack: Stack, session_factory):
    """/variant create in the thread starts from the newest image of the conversation, keeps
    its own default theme ("Variations"), joins the conversation, and its message carries the
    variant buttons."""
    member = stack.member("lancelot")
    _, thread_id, _ = await _character(stack, session_factory, member, "a brooding swordsman")
    asked = await _say(stack, thread_id, member, "#scars add a scar", mention_bot=True)
    first = await _variant(session_factory, (await _bot_reply(stack, thread_id, asked["id"])))
    assert await _theme_of(session_factory, first) == "scars"
    ix = await stack.command(
        member, "variant create", {"instruction": "smile"}, channel_id=thread_id
    )
    result = await wait_final(ix)
    made = await _variant(session_factory, result)
    assert made.meta[PARENT_VARIANT_ID] == first.id
    assert made.meta[CONVERSATION_ID] == thread_id
    assert await _theme_of(session_factory, made) == "Variations"
    assert {c.split(":")[-1] for c in custom_ids(result)} == {"portrait", "fav", "del"}


# ------------------------------------------------------------------------------ acceptance 3


async def test_a_suggestion_is_applied_by_the_owner_only(stack: Stack, session_factory):
    """Another member's mention becomes a suggestion with Apply; their own press is refused and
    changes nothing; the owner's makes the variant, charged to the owner, the suggester
    credited and told who applied it."""
    owner = stack.member("arthur")
    guest = stack.member("merlin")
    _, thread_id, character_id = await _character(stack, session_factory, owner, "a young king")
    before = (await _user(session_factory, owner)).daily_used

    asked = await _say(stack, thread_id, guest, "give him a golden crown", mention_bot=True)
    suggestion = await _bot_reply(stack, thread_id, asked["id"], image=False)
    assert suggestion["content"] == en(
        "conversation.suggestion", who=f"<@{guest.id}>", text="give him a golden crown"
    )
    apply_id = find_id(suggestion, "")
    assert apply_id.startswith(f"sugg:{character_id}:")

    async with session_factory() as s:
        generations_before = await s.scalar(select(func.count()).select_from(Generation))
    refused = await stack.fake.click(guest, suggestion, apply_id)
    assert await wait_ephemeral_text(refused) == en("error.not_owner")
    async with session_factory() as s:
        assert await s.scalar(select(func.count()).select_from(Generation)) == generations_before

    pressed = await stack.fake.click(owner, suggestion, apply_id)
    made_message = await _bot_reply(stack, thread_id, suggestion["id"])
    variant = await _variant(session_factory, made_message)
    assert variant.prompt == "give him a golden crown"
    assert variant.meta[SUGGESTED_BY] == guest.id
    assert f"<@{guest.id}>" in made_message["content"]
    assert (await _user(session_factory, owner)).daily_used == before + 1
    async with session_factory() as s:
        generation = await s.get(Generation, variant.meta["generationId"])
    assert generation.user_id == (await _user(session_factory, owner)).id
    await pressed.wait_for(lambda _: stack.fake.message(suggestion["id"])["components"] == [])
    applied = stack.fake.message(suggestion["id"])["content"]
    assert applied == en(
        "conversation.applied",
        who=f"<@{guest.id}>",
        text="give him a golden crown",
        owner=f"<@{owner.id}>",
    )


# ------------------------------------------------------------------------------ acceptance 4


async def test_cancel_during_a_hanging_edit_fails_refunds_and_posts_nothing(
    stack: Stack, session_factory
):
    """Cancel under the progress reply while the fake Gemini hangs: the generation is failed
    "cancelled" and refunded once, no variant row or stored object, nothing posted after; a
    cancel after that says it had stopped; someone else's Cancel is refused."""
    member = stack.member("mordred")
    other = stack.member("agravain")
    _, thread_id, character_id = await _character(stack, session_factory, member, "a schemer")
    used = (await _user(session_factory, member)).daily_used
    prefix = f"characters/{character_id}/"
    objects_before = [k for k in stack.s3.list_keys(stack.bucket) if k.startswith(prefix)]

    stack.gemini.fail_next("hang", model="gemini-2.5-flash-image")
    asked = await _say(stack, thread_id, member, "a crown of thorns", mention_bot=True)

    def progress() -> dict | None:
        replies = _replies_to(stack, thread_id, asked["id"])
        return replies[0] if replies and replies[0].get("components") else None

    await stack.fake.wait_until(lambda: progress() is not None, timeout=20)
    await _until(lambda: stack.gemini.in_flight > 0)
    message = progress()
    cancel_id = find_id(message, ":cancel")
    refused = await stack.fake.click(other, message, cancel_id)
    assert await wait_ephemeral_text(refused) == en("error.not_owner")
    assert (await _user(session_factory, member)).daily_used == used + 1

    pressed = await stack.fake.click(member, message, cancel_id)
    assert await wait_ephemeral_text(pressed) == en("cancel.cancelled")
    assert (await _user(session_factory, member)).daily_used == used
    generation_id = cancel_id.split(":")[1]
    async with session_factory() as s:
        generation = await s.get(Generation, generation_id)
        variants = await s.scalar(
            select(func.count())
            .select_from(ThemeVariant)
            .where(ThemeVariant.character_id == character_id)
        )
    assert (generation.status, generation.error_message) == ("failed", "cancelled")
    assert variants == 0
    await stack.fake.wait_until(
        lambda: stack.fake.message(message["id"])["content"] == en("conversation.cancelled")
    )
    assert stack.fake.message(message["id"])["components"] == []
    assert [k for k in stack.s3.list_keys(stack.bucket) if k.startswith(prefix)] == objects_before

    stack.gemini.reset()  # the hung request is answered now; the bot no longer listens
    again = await stack.bot.deps.pipeline.cancel(generation_id, generation.user_id)
    assert again == "stopped"
    after = await _say(stack, thread_id, member, "a plain circlet", mention_bot=True)
    await _bot_reply(stack, thread_id, after["id"])
    thread_messages = stack.fake.channel_messages(thread_id)
    bot_after_cancel = [
        m for m in thread_messages if _from_bot(stack, m) and int(m["id"]) > int(message["id"])
    ]
    assert all(_reference(m) == after["id"] for m in bot_after_cancel)
    assert (await _user(session_factory, member)).daily_used == used + 1


async def test_fifty_rapid_messages_make_at_most_the_quota_and_one_refusal(
    stack: Stack, session_factory
):
    """50 messages at once from a member with 3 units left: 3 variants, made one after the
    other; the quota refusal is said once, not once per message."""
    member = stack.member("kay")
    _, thread_id, character_id = await _character(stack, session_factory, member, "a seneschal")
    await _plenty(session_factory, member, quota=3)
    handled = _handled(stack, "edit") + _handled(stack, "refused")
    stack.gemini.max_in_flight = 0
    sent = [
        await _say(stack, thread_id, member, f"edit number {n}", mention_bot=True)
        for n in range(50)
    ]
    await _until(
        lambda: _handled(stack, "edit") + _handled(stack, "refused") >= handled + 50, timeout=60
    )
    async with session_factory() as s:
        variants = (
            await s.scalars(select(ThemeVariant).where(ThemeVariant.character_id == character_id))
        ).all()
    assert len(variants) == 3
    assert (await _user(session_factory, member)).daily_used == 3
    ids = {m["id"] for m in sent}
    refusals = [
        m
        for m in stack.fake.channel_messages(thread_id)
        if _from_bot(stack, m)
        and _reference(m) in ids
        and m["content"].startswith(en("error.quota_exceeded").split("{")[0][:20])
    ]
    assert len(refusals) == 1
    # one at a time: each later variant starts from the one before
    ordered = sorted(variants, key=lambda v: v.created_at)
    assert [v.meta.get(PARENT_VARIANT_ID) for v in ordered[1:]] == [v.id for v in ordered[:-1]]


# ------------------------------------------------------------------------------ acceptance 5


async def test_no_privileged_intent_and_ignored_messages_cost_nothing(
    stack: Stack, session_factory
):
    """The bot identified with guild and DM messages but no privileged intent; messages from a
    bot, in an unrelated channel, or not addressed to it cause no request to Discord or
    Gemini; a reply whose content arrived empty gets the hint."""
    intents = identified_intents(stack.fake)[-1]
    assert intents & INTENT_GUILD_MESSAGES
    assert intents & INTENT_DIRECT_MESSAGES
    assert intents & PRIVILEGED_INTENTS == 0

    member = stack.member("bedivere")
    _, thread_id, _ = await _character(stack, session_factory, member, "a loyal knight")
    other_bot = stack.fake.add_user("otherbot")
    other_bot["bot"] = True
    elsewhere = stack.fake.add_text_channel(stack.guild.id, "tavern")
    requests, gemini = len(stack.fake.requests), len(stack.gemini.requests)
    seen = _handled(stack, "bot") + _handled(stack, "ignored")
    await _say(stack, thread_id, other_bot, "add a hat", mention_bot=True)
    await _say(stack, elsewhere["id"], member, "add a hat", mention_bot=True)
    await _say(stack, elsewhere["id"], member, "just chatting")
    await _say(stack, thread_id, member, "talking to friends, not the bot")
    await _until(lambda: _handled(stack, "bot") + _handled(stack, "ignored") >= seen + 4)
    assert len(stack.fake.requests) == requests
    assert len(stack.gemini.requests) == gemini

    asked = await _say(stack, thread_id, member, "add a shield", mention_bot=True)
    shown = await _bot_reply(stack, thread_id, asked["id"])
    silent = await _say(
        stack, thread_id, member, "make it blue", reply_to=shown, reply_mention=False
    )
    hint = await _bot_reply(stack, thread_id, silent["id"], image=False)
    assert hint["content"] == en("conversation.hint", mention=f"<@{stack.fake.bot_user['id']}>")


# ------------------------------------------------------------------------------ acceptance 6


async def test_use_as_portrait_keeps_the_old_one_and_the_card_follows(
    stack: Stack, session_factory
):
    """Use as portrait: characters.image_url changes, the old portrait is a variant in
    "Previous portraits", the card shows the new image; someone else's press changes nothing;
    Favorite flips; Delete asks, then removes the variant and its message."""
    member = stack.member("tristram")
    other = stack.member("palamedes")
    card, thread_id, character_id = await _character(stack, session_factory, member, "a harper")
    async with session_factory() as s:
        old = await s.get(Character, character_id)
    old_url, old_key = old.image_url, old.meta[IMAGE_KEY]
    old_attachments = [a["id"] for a in card["attachments"]]
    asked = await _say(stack, thread_id, member, "play the harp", mention_bot=True)
    shown = await _bot_reply(stack, thread_id, asked["id"])
    variant = await _variant(session_factory, shown)
    portrait_id = find_id(shown, ":portrait")

    refused = await stack.fake.click(other, shown, portrait_id)
    assert await wait_ephemeral_text(refused) == en("error.not_owner")
    async with session_factory() as s:
        assert (await s.get(Character, character_id)).image_url == old_url

    pressed = await stack.fake.click(member, shown, portrait_id)
    assert await wait_ephemeral_text(pressed) == en("variant.portrait_done", name=old.name)
    async with session_factory() as s:
        now = await s.get(Character, character_id)
        kept = (
            await s.execute(
                select(ThemeVariant, CharacterTheme.name)
                .join(CharacterTheme, CharacterTheme.id == ThemeVariant.theme_id)
                .where(ThemeVariant.character_id == character_id)
                .where(CharacterTheme.name == "Previous portraits")
            )
        ).all()
    assert now.image_url != old_url
    assert now.meta[IMAGE_KEY] != old_key
    assert [(v.image_url, v.meta[IMAGE_KEY]) for v, _ in kept] == [(old_url, old_key)]
    assert stack.s3.get_object(stack.bucket, now.meta[IMAGE_KEY]) == stack.s3.get_object(
        stack.bucket, variant.meta[IMAGE_KEY]
    )
    card_now = stack.fake.message(card["id"])
    assert card_now["attachments"]
    assert [a["id"] for a in card_now["attachments"]] != old_attachments

    # the next edit without a reply starts from the new portrait (the newest image now)
    again = await _say(stack, thread_id, member, "bow to the audience", mention_bot=True)
    made = await _variant(session_factory, (await _bot_reply(stack, thread_id, again["id"])))
    assert made.meta[SOURCE_IMAGE_KEY] == now.meta[IMAGE_KEY]

    for action in (":fav", ":del"):
        refused = await stack.fake.click(other, shown, find_id(shown, action))
        assert await wait_ephemeral_text(refused) == en("error.not_owner")
    assert FAVORITE not in (await _variant(session_factory, shown)).meta
    fav = await stack.fake.click(member, shown, find_id(shown, ":fav"))
    await wait_update(fav)
    assert (await _variant(session_factory, shown)).meta[FAVORITE] is True
    delete = await stack.fake.click(member, shown, find_id(shown, ":del"))
    confirm = await _private_with(delete, ":delok")
    assert confirm["content"] == en("variant.delete_confirm")
    done = await stack.fake.click(member, confirm, find_id(confirm, ":delok"))
    await wait_update(done)
    async with session_factory() as s:
        assert await s.get(ThemeVariant, variant.id) is None
    await stack.fake.wait_until(lambda: stack.fake.message(shown["id"]) is None)


# ------------------------------------------------------------------------------ DMs, cancel


async def test_in_a_dm_the_channel_is_the_conversation(stack: Stack, session_factory):
    """/character create in a DM posts there with no thread; replying to its image makes a
    variant in the DM (DM messages carry their content: no mention needed)."""
    member = stack.member("elaine")
    dm = open_dm(stack.fake, member)
    threads = set(stack.fake.threads)
    ix = await stack.fake.send_command(
        member, dm["id"], "character create", {"description": "a lady of the lake"}
    )
    card = await wait_final(ix)
    await _plenty(session_factory, member)
    assert set(stack.fake.threads) == threads
    character_id = find_id(card, ":fav").split(":")[1]

    async def conversation() -> str | None:
        async with session_factory() as s:
            return (await s.get(Character, character_id)).meta.get(CONVERSATION_ID)

    async with asyncio.timeout(10):  # stored just after the card is shown
        while await conversation() is None:
            await asyncio.sleep(0.01)
    assert await conversation() == dm["id"]
    asked = await _say(stack, dm["id"], member, "hold a sword", reply_to=card, reply_mention=False)
    made = await _variant(session_factory, (await _bot_reply(stack, dm["id"], asked["id"])))
    assert made.character_id == character_id
    assert made.meta[CONVERSATION_ID] == dm["id"]


async def test_refused_instructions_are_answered_once_and_cost_nothing(
    stack: Stack, session_factory
):
    """A too long instruction is answered with the reason; a banned owner hears it once for
    two messages; neither charges anything or asks Gemini."""
    member = stack.member("dagonet")
    _, thread_id, _ = await _character(stack, session_factory, member, "a court jester")
    used = (await _user(session_factory, member)).daily_used
    gemini = len(stack.gemini.requests)
    long = await _say(stack, thread_id, member, "x" * 600, mention_bot=True)
    told = await _bot_reply(stack, thread_id, long["id"], image=False)
    assert told["content"] == en("invalid.too_long", what="instruction", length=600, limit=500)

    async with session_factory.begin() as s:
        await s.execute(
            update(User)
            .where(User.auth0_id == f"oauth2|discord|{member.id}")
            .values(account_status="banned")
        )
    refused = _handled(stack, "refused")
    first = await _say(stack, thread_id, member, "juggle", mention_bot=True)
    second = await _say(stack, thread_id, member, "juggle more", mention_bot=True)
    await _until(lambda: _handled(stack, "refused") >= refused + 2)
    answers = [
        m
        for m in stack.fake.channel_messages(thread_id)
        if _reference(m) in (first["id"], second["id"])
    ]
    assert [m["content"] for m in answers] == [
        en("error.account_restricted", status=en("mod.status.banned"))
    ]
    assert (await _user(session_factory, member)).daily_used == used
    assert len(stack.gemini.requests) == gemini
