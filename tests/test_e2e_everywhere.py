"""End to end: everywhere Discord lets you — user install and DMs, the context menus, a
picture into a character, speaking as a character, age-restricted channels (issue #16)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from db.bot_models import GuildSettings
from db.models import Character, ThemeVariant, User
from tests.conftest import truncate_all
from tests.e2e import (
    Stack,
    character_thread,
    collect_violations,
    custom_ids,
    find_id,
    running_stack,
    wait_ephemeral_text,
    wait_final,
)
from tests.fakes.discord.everywhere import (
    MANAGE_WEBHOOKS,
    ElsewhereGuild,
    add_nsfw_channel,
    dm_channel,
    message_command,
    post_member_message,
    user_command,
)
from tests.fakes.gemini_server import png_bytes

LOCALES = {"zh-CN", "ja", "ko"}


@pytest.fixture(scope="module")
async def stack(database_url, engine, tmp_path_factory):
    async with running_stack(database_url, tmp_path_factory.mktemp("e2e")) as s:
        await s.start_bot()
        yield s
        guild_id = int(s.guild.id)
    await truncate_all(engine)
    async with engine.begin() as conn:  # the showcase set up here is not another test's
        await conn.execute(delete(GuildSettings).where(GuildSettings.guild_id == guild_id))


@pytest.fixture(autouse=True)
def no_violations(stack: Stack):
    """Every request the bot sends in a test passes the OpenAPI spec and Discord's limits."""
    collect_violations(stack)
    yield
    assert collect_violations(stack) == []


async def _create(stack: Stack, member, description: str, **kw) -> dict:
    ix = await stack.command(member, "character create", {"description": description}, **kw)
    return await wait_final(ix)


async def _user(session_factory, member) -> User:
    async with session_factory() as s:
        return (
            await s.scalars(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
        ).one()


def _modal_inputs(modal: dict) -> list[dict]:
    return [
        c for row in modal["components"] for c in row.get("components", [row.get("component")]) if c
    ]


def _thresholds(request) -> frozenset[str]:
    return frozenset(s["threshold"] for s in request.body.get("safetySettings") or [])


async def test_synced_payload_installs_everywhere_with_localised_context_menus(stack: Stack):
    """Acceptance 1: "Make a character" and "Edit this image" (message) and "View profile"
    (user) are synced with zh-CN/ja/ko names; every slash command but /mod lists both install
    types and the three contexts; /mod stays guild-only and guild-install-only."""
    commands = stack.fake.commands()
    menus = {(c["name"], c["type"]): c for c in commands if c["type"] != 1}
    for name, kind in (("Make a character", 3), ("Edit this image", 3), ("View profile", 2)):
        menu = menus[(name, kind)]
        assert set(menu["name_localizations"] or {}) == LOCALES, name
        assert sorted(menu["integration_types"]) == [0, 1]
        assert sorted(menu["contexts"]) == [0, 1, 2]
    slash = [c for c in commands if c["type"] == 1]
    assert len(slash) > 5
    for command in slash:
        if command["name"] == "mod":
            assert command["integration_types"] == [0]
            assert command["contexts"] == [0]
        else:
            assert sorted(command["integration_types"]) == [0, 1], command["name"]
            assert sorted(command["contexts"]) == [0, 1, 2], command["name"]


async def test_make_a_character_from_a_picture(stack: Stack, session_factory):
    """Acceptance 2: "Make a character" on a message with a PNG sends the picture to the text
    model; Continue opens a modal prefilled with the proposed name and style; submitting
    creates a character (posted with its thread) whose reference is that picture."""
    member = stack.member("morgana")
    picture = png_bytes((40, 90, 210), size=48)
    posted = post_member_message(
        stack.fake, member, stack.channel["id"], "my OC!", files=[("oc.png", picture, "image/png")]
    )
    ix = await message_command(stack.fake, member, posted, "Make a character")
    assert (await ix.acknowledged(timeout=3))["type"] == 5
    await ix.wait_for(lambda i: any(custom_ids(m) for m in i.messages()), 15)
    proposal = next(m for m in ix.messages() if custom_ids(m))
    assert proposal["flags"] & 64  # only the member sees the proposal
    described = [r for r in stack.gemini.requests if r.kind == "text" and r.images]
    assert described
    assert described[-1].images[0] == picture
    assert proposal["embeds"][0]["title"] == "Fake Nova"
    press = await stack.fake.click(member, proposal, find_id(proposal, "realistic"))
    await press.acknowledged(timeout=3)
    modal = press.modal
    assert modal is not None
    inputs = _modal_inputs(modal)
    assert [c.get("value") for c in inputs[:2]] == ["Fake Nova", "realistic"]
    assert inputs[2].get("value")  # the proposed description
    values = {c["custom_id"]: c.get("value") or "" for c in inputs}
    images_before = len([r for r in stack.gemini.requests if r.kind == "image"])
    submitted = await stack.fake.submit_modal(
        member, stack.channel["id"], modal["custom_id"], values, message=proposal
    )
    message = await wait_final(submitted)
    assert not submitted.ephemeral
    await character_thread(stack, message)
    drawn = [r for r in stack.gemini.requests if r.kind == "image"][images_before:]
    assert drawn
    assert picture in drawn[0].images  # the picture went along as the reference
    user = await _user(session_factory, member)
    async with session_factory() as s:
        row = (await s.scalars(select(Character).where(Character.user_id == user.id))).one()
    assert row.name == "Fake Nova"
    assert row.reference_image_url
    assert row.meta["referenceKey"] in stack.s3.list_keys(stack.bucket)
    assert stack.s3.get_object(stack.bucket, row.meta["referenceKey"])[0] == picture


async def test_edit_this_image_edits_that_variant(stack: Stack, session_factory):
    """Acceptance 3: "Edit this image" on a variant's message makes a variant of that
    variant's image (sent to the image model), not of the portrait."""
    member = stack.member("nimue")
    portrait_png, variant_png = png_bytes((220, 30, 30), 40), png_bytes((30, 30, 220), 40)
    stack.gemini.image_png = portrait_png
    try:
        card = await _create(stack, member, "a lady of the lake")
        thread_id = await character_thread(stack, card)
        character_id = find_id(card, ":fav").split(":")[1]
        stack.gemini.image_png = variant_png
        made = await stack.command(
            member,
            "variant create",
            {"instruction": "give her a sword", "character": character_id},
            channel_id=thread_id,
        )
        variant_message = await wait_final(made)
        async with session_factory() as s:
            variant = (
                await s.scalars(
                    select(ThemeVariant).where(ThemeVariant.character_id == character_id)
                )
            ).one()
        assert variant.id in variant_message["embeds"][0]["footer"]["text"]
        stack.gemini.image_png = png_bytes((30, 200, 30), 40)
        ix = await message_command(stack.fake, member, variant_message, "Edit this image")
        await ix.acknowledged(timeout=3)
        modal = ix.modal
        assert modal is not None
        instruction, theme = (c["custom_id"] for c in _modal_inputs(modal))
        edits_before = len([r for r in stack.gemini.requests if r.kind == "image"])
        submitted = await stack.fake.submit_modal(
            member, thread_id, modal["custom_id"], {instruction: "make it glow", theme: "Glow"}
        )
        await wait_final(submitted)
    finally:
        stack.gemini.image_png = png_bytes()
    edit = [r for r in stack.gemini.requests if r.kind == "image"][edits_before:][0]
    assert edit.images[0] == variant_png
    assert edit.images[0] != portrait_png
    async with session_factory() as s:
        rows = (
            await s.scalars(
                select(ThemeVariant)
                .where(ThemeVariant.character_id == character_id)
                .order_by(ThemeVariant.created_at)
            )
        ).all()
    assert len(rows) == 2
    assert rows[1].meta["parentVariantId"] == variant.id
    assert rows[1].prompt == "make it glow"


async def test_user_installed_create_where_the_bot_is_not(stack: Stack, session_factory):
    """Acceptance 4: a user-installed /character create in a server the bot is not in
    completes through the interaction's own messages: no thread requested, no post with the
    bot's token, no error."""
    elsewhere = ElsewhereGuild(stack.fake)
    member = elsewhere.member("percival")
    before = len(stack.fake.requests)
    ix = await elsewhere.command(member, "character create", {"description": "a grail seeker"})
    assert (await ix.acknowledged(timeout=3))["type"] == 5
    message = await wait_final(ix)
    assert message["embeds"][0]["title"]
    requests = stack.fake.requests[before:]
    assert not [r for r in requests if "thread" in r.route]
    assert not [r for r in requests if r.path.startswith("/channels/")]
    assert all(r.status is None or r.status < 400 for r in requests), [
        (r.method, r.path, r.status) for r in requests if r.status and r.status >= 400
    ]
    assert not [m for m in ix.messages() if m["flags"] & 64]  # no error reply
    user = await _user(session_factory, member)
    async with session_factory() as s:
        row = (await s.scalars(select(Character).where(Character.user_id == user.id))).one()
    assert row.generation_status == "completed"
    assert "conversationId" not in (row.meta or {})
    # speaking as a character needs a channel webhook: not where the bot is not a member
    say = await elsewhere.command(member, "character say", {"character": row.id, "text": "hi"})
    assert "server channels" in await wait_ephemeral_text(say)
    assert not [r for r in stack.fake.requests[before:] if r.path.startswith("/channels/")]


async def test_character_say_speaks_through_a_webhook(stack: Stack, session_factory):
    """Acceptance 5: /character say posts through the channel's webhook with the character's
    name and picture (created once, reused in its thread with thread_id); mentions ping no one;
    someone else's character and a missing Manage Webhooks permission are refused."""
    owner, other = stack.member("galahad"), stack.member("mordred")
    card = await _create(stack, owner, "a pure knight")
    thread_id = await character_thread(stack, card)
    character_id = find_id(card, ":fav").split(":")[1]
    name = card["embeds"][0]["title"]
    stack.fake.bot_permissions |= MANAGE_WEBHOOKS
    try:
        said = await stack.command(
            owner, "character say", {"character": character_id, "text": "Hail, @everyone!"}
        )
        await wait_ephemeral_text(said)
        in_thread = await stack.command(
            owner,
            "character say",
            {"character": character_id, "text": "In the thread."},
            channel_id=thread_id,
        )
        await wait_ephemeral_text(in_thread)
        first, second = stack.fake.webhook_executions[-2:]
        assert len(stack.fake.channel_webhooks) == 1  # made once, then found again
        assert first["webhook"] == second["webhook"]
        assert first["body"]["username"] == name
        assert first["body"]["avatar_url"].startswith("http")
        async with session_factory() as s:
            row = await s.get(Character, character_id)
        assert row.meta["thumbnailKey"] in first["body"]["avatar_url"]  # its thumbnail
        assert first["body"]["allowed_mentions"]["parse"] == []
        assert first["message"]["channel_id"] == stack.channel["id"]
        assert first["message"]["author"]["username"] == name
        assert second["thread_id"] == thread_id
        assert second["message"]["channel_id"] == thread_id
        stolen = await stack.command(
            other, "character say", {"character": character_id, "text": "I am Galahad."}
        )
        refusal = await wait_ephemeral_text(stolen)
        assert "owner" in refusal.lower()
    finally:
        stack.fake.bot_permissions &= ~MANAGE_WEBHOOKS
    missing = await stack.command(
        owner, "character say", {"character": character_id, "text": "Anyone?"}
    )
    assert "Manage Webhooks" in await wait_ephemeral_text(missing)
    assert len(stack.fake.webhook_executions) == 2


async def test_relaxed_filter_only_in_age_restricted_channels(stack: Stack, session_factory):
    """Acceptance 6: a member who chose relaxed gets moderate Gemini safety settings in a
    normal channel (and is told so), relaxed in an age-restricted channel; the relaxed
    character is recorded as such and publishing it is refused."""
    member = stack.member("lancelot")
    chosen = await stack.command(member, "settings", {"content_filter": "relaxed"})
    await wait_ephemeral_text(chosen)
    start = len(stack.gemini.requests)
    normal = await _create(stack, member, "a knight in a plain hall")
    assert {_thresholds(r) for r in stack.gemini.requests[start:]} == {
        frozenset({"BLOCK_MEDIUM_AND_ABOVE"})
    }
    assert "moderate" in normal["content"]
    nsfw = add_nsfw_channel(stack.fake, stack.guild.id, "after-dark")
    start = len(stack.gemini.requests)
    restricted = await _create(stack, member, "a knight after dark", channel_id=nsfw["id"])
    assert {_thresholds(r) for r in stack.gemini.requests[start:]} == {
        frozenset({"BLOCK_ONLY_HIGH"})
    }
    assert "moderate" not in restricted["content"]
    relaxed_id = find_id(restricted, ":fav").split(":")[1]
    normal_id = find_id(normal, ":fav").split(":")[1]
    async with session_factory() as s:
        relaxed_row = await s.get(Character, relaxed_id)
        normal_row = await s.get(Character, normal_id)
    assert relaxed_row.meta["contentFilter"] == "relaxed"
    assert "contentFilter" not in normal_row.meta
    publish = await stack.command(member, "character publish", {"character": relaxed_id})
    assert "relaxed" in await wait_ephemeral_text(publish)
    press = await stack.fake.click(member, restricted, find_id(restricted, ":pub"))
    assert "relaxed" in await wait_ephemeral_text(press)
    async with session_factory() as s:
        assert (await s.get(Character, relaxed_id)).is_public is False
    # its relaxed portrait is not edited (nor shown) outside an age-restricted channel
    start = len(stack.gemini.requests)
    outside = await stack.command(
        member, "variant create", {"instruction": "smile", "character": relaxed_id}
    )
    assert "relaxed" in await wait_ephemeral_text(outside)
    assert len(stack.gemini.requests) == start


async def test_a_dm_with_the_bot_is_the_conversation_and_allows_relaxed(
    stack: Stack, session_factory
):
    """In a DM with the bot, /character create posts in the DM (no thread) and a member's
    relaxed filter applies."""
    member = stack.member("tristan")
    chosen = await stack.command(member, "settings", {"content_filter": "relaxed"})
    await wait_ephemeral_text(chosen)
    dm = dm_channel(stack.fake, member.user)
    before = len(stack.fake.requests)
    start = len(stack.gemini.requests)
    ix = await stack.fake.send_command(
        member.user, dm["id"], "character create", {"description": "a harper at sea"}
    )
    message = await wait_final(ix)
    assert message["channel_id"] == dm["id"]
    assert not ix.ephemeral
    assert not [r for r in stack.fake.requests[before:] if "thread" in r.route]
    assert {_thresholds(r) for r in stack.gemini.requests[start:]} == {
        frozenset({"BLOCK_ONLY_HIGH"})
    }
    assert "moderate" not in (message["content"] or "")


async def test_view_profile_never_shows_a_private_profile(stack: Stack):
    """ "View profile" on a member answers like /profile show: privately, and never with a
    profile its owner keeps private."""
    owner, viewer = stack.member("kay"), stack.member("bedivere")
    hidden = await stack.command(owner, "settings", {"profile_visibility": "private"})
    await wait_ephemeral_text(hidden)
    ix = await user_command(stack.fake, viewer, stack.channel["id"], owner, "View profile")
    text = await wait_ephemeral_text(ix)
    assert ix.ephemeral
    assert "kay" not in text.lower()


async def test_context_menus_refuse_what_they_cannot_use(stack: Stack, session_factory):
    """ "Make a character" on a message without a picture, "Edit this image" on a member's
    message or on someone else's character: a clear private refusal, nothing charged."""
    member, other = stack.member("dagonet"), stack.member("lamorak")
    text_only = post_member_message(stack.fake, member, stack.channel["id"], "no picture here")
    ix = await message_command(stack.fake, member, text_only, "Make a character")
    assert "no picture" in (await wait_ephemeral_text(ix)).lower()
    ix = await message_command(stack.fake, member, text_only, "Edit this image")
    assert "not one of my" in (await wait_ephemeral_text(ix)).lower()
    card = await _create(stack, other, "a jousting champion")
    ix = await message_command(stack.fake, member, card, "Edit this image")
    assert "owner" in (await wait_ephemeral_text(ix)).lower()
    assert ix.modal is None
    user = await _user(session_factory, member)
    assert user.daily_used == 0
    # no unit left today: the picture is not even read
    async with session_factory.begin() as s:
        await s.execute(update(User).where(User.id == user.id).values(daily_used=User.daily_quota))
    picture = post_member_message(
        stack.fake, member, stack.channel["id"], "", files=[("p.png", png_bytes(), "image/png")]
    )
    start = len(stack.gemini.requests)
    ix = await message_command(stack.fake, member, picture, "Make a character")
    assert "used" in (await wait_ephemeral_text(ix)).lower()
    assert len(stack.gemini.requests) == start


async def test_make_a_character_where_the_bot_is_not(stack: Stack, session_factory):
    """A user-installed "Make a character" in a server the bot is not in: proposal, modal and
    create all through the interactions' own messages; no thread, no request of the bot's own
    to that server's channels."""
    elsewhere = ElsewhereGuild(stack.fake, "Far Away")
    member = elsewhere.member("palamedes")
    picture = png_bytes((230, 210, 60), size=36)
    posted = elsewhere.post(member, "look", [("me.png", picture, "image/png")])
    before = len(stack.fake.requests)
    ix = await elsewhere.message_command(member, posted, "Make a character")
    await ix.wait_for(lambda i: any(custom_ids(m) for m in i.messages()), 15)
    proposal = next(m for m in ix.messages() if custom_ids(m))
    press = await elsewhere.click(member, proposal, custom_ids(proposal)[0])
    await press.acknowledged(timeout=3)
    modal = press.modal
    assert modal is not None
    values = {c["custom_id"]: c.get("value") or "" for c in _modal_inputs(modal)}
    submitted = await elsewhere.submit_modal(member, modal, values, message=proposal)
    message = await wait_final(submitted)
    assert message["channel_id"] == elsewhere.channel["id"]
    requests = stack.fake.requests[before:]
    assert not [r for r in requests if r.path.startswith("/channels/")]
    user = await _user(session_factory, member)
    async with session_factory() as s:
        row = (await s.scalars(select(Character).where(Character.user_id == user.id))).one()
    assert row.generation_status == "completed"
    assert row.meta["referenceKey"]
    assert "conversationId" not in row.meta


async def test_a_relaxed_portrait_takes_a_public_character_out_of_the_gallery(
    stack: Stack, session_factory
):
    """A public, showcased character redrawn under relaxed in an age-restricted channel leaves
    the gallery: unpublished, and its showcase post removed from the (normal) showcase
    channel."""
    showcase = stack.fake.add_text_channel(stack.guild.id, "showcase-everywhere")
    admin = stack.member("uther", permissions=1 << 5)  # Manage Server
    setup = await stack.command(admin, "mod setup", {"showcase_channel": showcase["id"]})
    await wait_ephemeral_text(setup)
    member = stack.member("elaine")
    for options in ({"gallery_showcase": True}, {"content_filter": "relaxed"}):
        await wait_ephemeral_text(await stack.command(member, "settings", options))
    card = await _create(stack, member, "a maiden of astolat")
    character_id = find_id(card, ":fav").split(":")[1]
    await wait_ephemeral_text(
        await stack.command(member, "character publish", {"character": character_id})
    )
    await stack.fake.wait_until(lambda: bool(stack.fake.channel_messages(showcase["id"])))
    nsfw = add_nsfw_channel(stack.fake, stack.guild.id, "after-hours")
    redrawn = await stack.command(
        member, "character regenerate", {"character": character_id}, channel_id=nsfw["id"]
    )
    await wait_final(redrawn)
    await stack.fake.wait_until(lambda: not stack.fake.channel_messages(showcase["id"]))
    async with session_factory() as s:
        row = await s.get(Character, character_id)
    assert row.is_public is False
    assert row.meta["contentFilter"] == "relaxed"
