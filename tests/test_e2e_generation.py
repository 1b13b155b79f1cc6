"""End to end: themes and variants in the thread, restarts, quota, failures, bad input."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, update

from db.models import Character, CharacterTheme, Generation, ThemeVariant, User
from tests.e2e import (
    Stack,
    bot_stack,
    character_thread,
    final,
    find_id,
    requests_checked,
    wait_ephemeral_text,
    wait_final,
    wait_reply,
    wait_update,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


stack = bot_stack("e2e-gen")


no_violations = requests_checked()


async def _user(session_factory, member) -> User:
    async with session_factory() as s:
        return (
            await s.scalars(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
        ).one()


async def _create(stack: Stack, member, description: str = "a wandering bard") -> dict:
    ix = await stack.command(member, "character create", {"description": description})
    return await wait_final(ix)


async def test_synced_commands_cover_the_contract(stack: Stack):
    """Every command and option of the design is registered with descriptions and choices."""
    commands = {c["name"]: c for c in stack.fake.commands()}
    expected = {
        "character": {
            "create": {"description", "name", "style", "gender", "age", "reference"},
            "show": {"character"},
            "list": {"filter"},
            "edit": {"character"},
            "regenerate": {"character", "instruction"},
            "sheet": {"character"},
            "delete": {"character"},
            "publish": {"character"},
            "unpublish": {"character"},
            "export": {"character", "format"},
            "import": {"card"},
        },
        "theme": {
            "create": {"character", "name", "description"},
            "list": {"character"},
            "rename": {"theme", "new_name"},
            "delete": {"theme"},
            "apply": {"theme", "character"},
        },
        "variant": {
            "create": {"instruction", "theme", "character"},
            "list": {"theme"},
            "delete": {"variant"},
        },
    }
    for group, subs in expected.items():
        registered = {o["name"]: o for o in commands[group]["options"]}
        assert set(registered) >= set(subs), group
        for sub, options in subs.items():
            got = {o["name"]: o for o in registered[sub].get("options", [])}
            assert set(got) == options, f"{group} {sub}"
            assert registered[sub]["description"]
            assert all(o["description"] for o in got.values())
    styles = next(o for o in commands["character"]["options"][0]["options"] if o["name"] == "style")
    create = next(o for o in commands["character"]["options"] if o["name"] == "create")
    styles = next(o for o in create["options"] if o["name"] == "style")
    assert {c["value"] for c in styles["choices"]} == {
        "realistic",
        "anime",
        "cartoon",
        "fantasy",
        "cyberpunk",
        "vintage",
        "minimalist",
    }
    assert "quota" in commands


async def test_theme_and_variant_from_inside_the_thread(stack: Stack, session_factory):
    """/theme create, then /variant create in the character's thread with no character option:
    a variant row and a message with the image in the thread; the fake saw the image bytes."""
    member = stack.member("tristan")
    message = await _create(stack, member, "a harpist with silver hair")
    thread_id = await character_thread(stack, message)
    character_id = find_id(message, ":fav").split(":")[1]
    theme = await stack.command(
        member, "theme create", {"character": character_id, "name": "Winter Outfits"}
    )
    assert "Winter Outfits" in await wait_ephemeral_text(theme)
    stack.gemini.requests.clear()
    ix = await stack.command(
        member,
        "variant create",
        {"instruction": "winter coat", "theme": "Winter Outfits"},
        channel_id=thread_id,
    )
    posted = await wait_final(ix)
    assert posted["channel_id"] == thread_id
    assert posted["attachments"][0]["filename"].startswith("variant.")
    assert stack.fake.attachment_bytes(posted["attachments"][0]["url"]).startswith(PNG_SIGNATURE)
    edit_request = stack.gemini.image_requests[-1]
    assert "winter coat" in edit_request.text
    assert edit_request.images
    assert edit_request.images[0].startswith(PNG_SIGNATURE)
    async with session_factory() as s:
        variant = (
            await s.scalars(select(ThemeVariant).where(ThemeVariant.character_id == character_id))
        ).one()
        theme_row = await s.get(CharacterTheme, variant.theme_id)
    assert theme_row.name == "Winter Outfits"
    assert variant.prompt == "winter coat"
    assert variant.meta["imageKey"] in stack.s3.list_keys(stack.bucket)


async def test_variant_without_theme_goes_to_variations(stack: Stack, session_factory):
    """Without a theme the variant is filed under "Variations", created on first use."""
    member = stack.member("bedivere")
    message = await _create(stack, member)
    thread_id = await character_thread(stack, message)
    ix = await stack.command(
        member, "variant create", {"instruction": "make them smile"}, channel_id=thread_id
    )
    await wait_final(ix)
    character_id = find_id(message, ":fav").split(":")[1]
    async with session_factory() as s:
        names = (
            await s.scalars(
                select(CharacterTheme.name).where(CharacterTheme.character_id == character_id)
            )
        ).all()
    assert names == ["Variations"]


async def test_variant_outside_the_thread_is_posted_in_the_thread(stack: Stack):
    """With the character given elsewhere, the variant lands in the thread; the reply links it."""
    member = stack.member("kay")
    message = await _create(stack, member)
    thread_id = await character_thread(stack, message)
    character_id = find_id(message, ":fav").split(":")[1]
    before = len(stack.fake.channel_messages(thread_id))
    ix = await stack.command(
        member, "variant create", {"instruction": "add a hat", "character": character_id}
    )
    await ix.wait_for(lambda i: "posted" in ((i.original() or {}).get("content") or ""), 15)
    assert ix.ephemeral
    in_thread = stack.fake.channel_messages(thread_id)
    assert len(in_thread) == before + 1
    assert in_thread[-1]["attachments"]


async def test_button_on_an_old_message_works_after_a_restart(stack: Stack, session_factory):
    """Stop the bot, start a new one: Favorite on a message from before the restart still works."""
    member = stack.member("galahad")
    message = await _create(stack, member)
    fav = find_id(message, ":fav")
    await stack.stop_bot()
    await stack.start_bot()
    pressed = await stack.fake.click(member, message, fav)
    await wait_update(pressed)
    async with session_factory() as s:
        assert (await s.get(Character, fav.split(":")[1])).is_favorite is True


async def test_fourth_generation_of_the_day_is_refused(stack: Stack, session_factory):
    """Three creates use the quota; the fourth gets a clear, private refusal and no row."""
    member = stack.member("lamorak")
    for n in range(3):
        await _create(stack, member, f"squire number {n}")
    ix = await stack.command(member, "character create", {"description": "one too many"})
    text = await wait_ephemeral_text(ix)
    assert "all 3 generations" in text
    assert "<t:" in text
    user = await _user(session_factory, member)
    async with session_factory() as s:
        count = await s.scalar(
            select(func.count()).select_from(Character).where(Character.user_id == user.id)
        )
    assert count == 3
    assert user.daily_used == 3


async def test_concurrent_creates_respect_the_quota_exactly(stack: Stack, session_factory):
    """8 members fire 5 creates each at once: every interaction acknowledged in time and
    exactly 3 generations complete per member."""
    members = [stack.member(f"knight{n}") for n in range(8)]
    interactions = await asyncio.gather(
        *(
            stack.command(m, "character create", {"description": f"knight {i} {n}"})
            for i, m in enumerate(members)
            for n in range(5)
        )
    )
    acks = await asyncio.gather(*(ix.acknowledged(timeout=3) for ix in interactions))
    assert len(acks) == 40
    assert max(ix.ack_delay for ix in interactions) < 3

    def settled(ix) -> bool:
        return final(ix) is not None or any(m.get("flags", 0) & 64 for m in ix.messages())

    await asyncio.gather(*(ix.wait_for(settled, 30) for ix in interactions))
    for member in members:
        user = await _user(session_factory, member)
        async with session_factory() as s:
            done = await s.scalar(
                select(func.count())
                .select_from(Generation)
                .where(Generation.user_id == user.id, Generation.status == "completed")
            )
        assert done == 3
        assert user.daily_used == 3


async def test_provider_failures_are_explained_and_refunded(stack: Stack, session_factory):
    """IMAGE_SAFETY, then a 500: each tells the member in plain words; the unit comes back."""
    member = stack.member("dagonet")
    stack.gemini.fail_next("image_safety", model="gemini-2.5-flash-image")
    ix = await stack.command(member, "character create", {"description": "a jester"})
    text = await wait_ephemeral_text(ix)
    assert "safety filter" in text
    assert "refunded" in text
    stack.gemini.fail_next("500", times=None, model="gemini-2.5-flash-image")
    try:
        ix = await stack.command(member, "character create", {"description": "a jester"})
        text = await wait_ephemeral_text(ix, timeout=20)
    finally:
        stack.gemini.reset()
    assert "unavailable" in text
    assert "Traceback" not in text
    user = await _user(session_factory, member)
    assert user.daily_used == 0
    async with session_factory() as s:
        statuses = (
            await s.scalars(select(Generation.status).where(Generation.user_id == user.id))
        ).all()
        characters = await s.scalar(
            select(func.count()).select_from(Character).where(Character.user_id == user.id)
        )
    assert sorted(statuses) == ["failed", "failed"]
    assert characters == 0
    # the public "thinking…" placeholder was replaced by a private reply
    assert ix.original() is None or ix.ephemeral


async def test_bad_input_gets_a_clear_reply_and_the_bot_carries_on(stack: Stack):
    """Over-long options, a text file posing as a PNG and an unknown choice sent raw each get a
    clear reply; the next command is answered normally."""
    member = stack.member("pellinore")
    long = await stack.fake.send_command(
        member,
        stack.channel["id"],
        "character create",
        raw_options=[
            {
                "name": "create",
                "type": 1,
                "options": [{"name": "description", "type": 3, "value": "x" * 5000}],
            }
        ],
    )
    assert "too long" in (await wait_ephemeral_text(long)).lower()
    fake_png = await stack.command(
        member,
        "character create",
        {"description": "a knight"},
        attachments={"reference": ("portrait.png", b"just some text, not an image", "image/png")},
    )
    assert "not a readable image" in await wait_ephemeral_text(fake_png)
    unknown = await stack.fake.send_command(
        member,
        stack.channel["id"],
        "character create",
        raw_options=[
            {
                "name": "create",
                "type": 1,
                "options": [
                    {"name": "description", "type": 3, "value": "a knight"},
                    {"name": "style", "type": 3, "value": "oil-painting"},
                ],
            }
        ],
    )
    assert "oil-painting" in await wait_ephemeral_text(unknown)
    quota = await stack.command(member, "quota")
    reply = await wait_reply(quota)
    assert reply["embeds"]


async def test_queue_position_is_shown_when_slots_are_full(stack: Stack):
    """With one slot per process, a second create shows its place in the queue, then finishes."""
    await stack.stop_bot()
    stack.gemini.image_latency = 1.0
    try:
        await stack.start_bot(generation_concurrency=1)
        first, second = stack.member("ector"), stack.member("lionel")
        ix1 = await stack.command(first, "character create", {"description": "a slow painter"})
        await ix1.acknowledged(timeout=3)
        await asyncio.sleep(0.3)
        ix2 = await stack.command(second, "character create", {"description": "a patient poet"})
        await ix2.wait_for(
            lambda i: "queue" in ((i.original() or {}).get("content") or ""), timeout=5
        )
        await wait_final(ix1)
        await wait_final(ix2)
    finally:
        stack.gemini.image_latency = 0.0
        await stack.stop_bot()
        await stack.start_bot()


async def test_result_outliving_the_token_is_posted_with_the_bot_token(stack: Stack):
    """When the 15-minute token expires mid-generation, the result is posted in the channel."""
    member = stack.member("bors")
    stack.gemini.image_latency = 0.8
    try:
        ix = await stack.command(member, "character create", {"description": "a patient monk"})
        await ix.acknowledged(timeout=3)
        stack.fake.advance_time(16 * 60)
        await stack.fake.wait_until(
            lambda: any(
                m.get("embeds")
                and not m.get("webhook_id")
                and member.id in (m.get("content") or "")
                for m in stack.fake.channel_messages(stack.channel["id"])
            ),
            timeout=15,
        )
    finally:
        stack.gemini.image_latency = 0.0
    posted = [
        m
        for m in stack.fake.channel_messages(stack.channel["id"])
        if m.get("embeds") and member.id in (m.get("content") or "")
    ][-1]
    # Only the fake's clock jumped, so the bot's own clock still trusted the token and tried
    # it once per stage before falling back: those expired-token attempts are the simulation's.
    expired = [v for v in stack.fake.take_violations() if "token expired" in v]
    assert expired
    assert all("/webhooks/" in v for v in expired)
    assert posted["attachments"]
    assert posted["author"]["id"] == stack.fake.bot_user["id"]


async def test_autocomplete_offers_only_the_callers_characters(stack: Stack):
    """Character autocomplete lists the caller's own characters, matching what they typed."""
    owner, other = stack.member("elaine"), stack.member("morgana")
    await _create(stack, owner, "a lady of the lake")
    choices = await stack.fake.autocomplete(
        owner, stack.channel["id"], "character show", {"character": ""}, focused="character"
    )
    assert choices
    assert len(choices) <= 25
    theirs = await stack.fake.autocomplete(
        other, stack.channel["id"], "character show", {"character": ""}, focused="character"
    )
    assert theirs == []


async def test_regenerate_button_disables_buttons_then_shows_the_new_portrait(
    stack: Stack, session_factory
):
    """Regenerate greys the buttons at once, then puts the new image and live buttons back."""
    member = stack.member("gareth")
    message = await _create(stack, member)
    regen = find_id(message, ":regen")
    character_id = regen.split(":")[1]
    old_attachment = message["attachments"][0]["id"]
    async with session_factory() as s:
        old_url = (await s.get(Character, character_id)).image_url
    ix = await stack.fake.click(member, message, regen)
    first = await ix.acknowledged(timeout=3)
    assert first["type"] == 7
    rows = first["data"]["components"]
    assert all(c.get("disabled") for row in rows for c in row["components"])
    await stack.fake.wait_until(
        lambda: (
            not any(
                c.get("disabled")
                for row in stack.fake.message(message["id"])["components"]
                for c in row["components"]
            )
            and stack.fake.message(message["id"])["attachments"][0]["id"] != old_attachment
        ),
        timeout=15,
    )
    async with session_factory() as s:
        row = await s.get(Character, character_id)
    assert row.image_url != old_url
    assert row.generation_status == "completed"


async def test_edit_modal_and_delete_with_confirmation(stack: Stack, session_factory):
    """/character edit opens a modal whose submit saves; /character delete asks, then deletes
    the row and its stored objects."""
    member = stack.member("lynette")
    message = await _create(stack, member, "a falconer")
    character_id = find_id(message, ":fav").split(":")[1]
    ix = await stack.command(member, "character edit", {"character": character_id})
    await ix.acknowledged(timeout=3)
    modal = ix.modal
    assert modal is not None
    inputs = [
        c for row in modal["components"] for c in row.get("components", [row.get("component")]) if c
    ]
    values = {c["custom_id"]: c.get("value") or "" for c in inputs}
    name_id = inputs[0]["custom_id"]
    values[name_id] = "Lynette of the Falcons"
    submitted = await stack.fake.submit_modal(
        member, stack.channel["id"], modal["custom_id"], values
    )
    await wait_ephemeral_text(submitted)
    async with session_factory() as s:
        row = await s.get(Character, character_id)
    assert row.name == "Lynette of the Falcons"
    keys = [row.meta["imageKey"], row.meta["thumbnailKey"]]
    ask = await stack.command(member, "character delete", {"character": character_id})
    await wait_reply(ask)
    prompt = ask.original() or {}
    confirm = find_id(prompt, ":yes")
    done = await stack.fake.click(member, prompt, confirm)
    await wait_update(done)
    async with session_factory() as s:
        assert await s.get(Character, character_id) is None
    remaining = stack.s3.list_keys(stack.bucket)
    assert not set(keys) & set(remaining)


async def test_export_then_import_round_trip(stack: Stack, session_factory):
    """Export gives JSON and a PNG card; importing the PNG creates an equal character with no
    quota used."""
    member = stack.member("enid")
    message = await _create(stack, member, "a cartographer with ink-stained fingers")
    export = await stack.fake.click(member, message, find_id(message, ":exp"))
    await export.wait_for(lambda i: any(m.get("attachments") for m in i.messages()), 10)
    files = next(m for m in export.messages() if m.get("attachments"))["attachments"]
    names = sorted(f["filename"] for f in files)
    assert names[0].endswith(".card.png")
    assert names[1].endswith(".json")
    png = stack.fake.attachment_bytes(
        next(f for f in files if f["filename"].endswith(".png"))["url"]
    )
    user = await _user(session_factory, member)
    used_before = user.daily_used
    ix = await stack.command(
        member, "character import", attachments={"card": ("card.png", png, "image/png")}
    )
    await wait_final(ix)
    async with session_factory() as s:
        rows = (
            await s.scalars(
                select(Character).where(Character.user_id == user.id).order_by(Character.created_at)
            )
        ).all()
    original, imported = rows[-2], rows[-1]
    for field in (
        "name",
        "description",
        "style_type",
        "age",
        "gender",
        "occupation",
        "personality",
        "clothing",
        "background",
        "tags",
    ):
        assert getattr(imported, field) == getattr(original, field), field
    assert (await _user(session_factory, member)).daily_used == used_before
    assert imported.meta["imageKey"] in stack.s3.list_keys(stack.bucket)


async def test_suspended_member_cannot_generate(stack: Stack, session_factory):
    """A suspended account is refused before anything is charged."""
    member = stack.member("meleagant")
    first = await stack.command(member, "quota")
    await wait_reply(first)
    user = await _user(session_factory, member)
    async with session_factory.begin() as s:
        await s.execute(update(User).where(User.id == user.id).values(account_status="suspended"))
    ix = await stack.command(member, "character create", {"description": "anything"})
    assert "suspended" in await wait_ephemeral_text(ix)
