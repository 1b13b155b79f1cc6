"""End to end: /scene create with three characters (two own, one public of another member)
through the fake Discord and the fake Gemini; the refusals that change nothing; a provider
failure refunded; a scene variant made in the scene's thread; the scenes gallery and its
visibility rule."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.i18n import Catalog
from bot.services.generation.sheet import sheet_image_key
from db.engine import make_session_factory
from db.meta import CONVERSATION_ID, IMAGE_KEY, MESSAGE_ID, PARENT_VARIANT_ID, SOURCE_IMAGE_KEY
from db.models import Character, Generation, User
from db.scene_models import Scene, SceneCharacter, SceneGeneration
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
from tests.fakes.discord.chat import post_user_message
from tests.fakes.gemini_server import png_bytes

CATALOG = Catalog.load()
IMAGE_MODEL = "gemini-2.5-flash-image"


def en(key: str, **params: Any) -> str:
    return CATALOG.t("en", key, **params)


stack = bot_stack("e2e-scenes")


no_violations = requests_checked()


async def _user(session_factory, member) -> User:
    async with session_factory() as s:
        return (
            await s.scalars(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
        ).one()


async def _plenty(session_factory, member) -> None:
    async with session_factory.begin() as s:
        await s.execute(
            update(User)
            .where(User.auth0_id == f"oauth2|discord|{member.id}")
            .values(daily_quota=100, daily_used=0)
        )


async def _character(stack: Stack, session_factory, member, name: str, colour) -> Character:
    stack.gemini.image_png = png_bytes(colour, size=48)
    ix = await stack.command(
        member, "character create", {"description": f"{name}, a traveller", "name": name}
    )
    card = await wait_final(ix)
    character_id = find_id(card, ":fav").split(":")[1]
    await _plenty(session_factory, member)
    async with session_factory() as s:
        row = await s.get(Character, character_id)
    assert row is not None
    return row


async def _counts(session_factory) -> tuple[int, int, int, int]:
    async with session_factory() as s:
        return (
            await s.scalar(select(func.count()).select_from(Scene)),
            await s.scalar(select(func.count()).select_from(SceneCharacter)),
            await s.scalar(select(func.count()).select_from(SceneGeneration)),
            await s.scalar(select(func.count()).select_from(Generation)),
        )


@pytest.fixture(scope="module")
def factory(engine):
    """Sessions on the run's database that, unlike ``session_factory``, leave the rows in
    place between tests: the module's tests build on one cast and one scene."""
    return make_session_factory(engine)


@pytest.fixture(scope="module")
async def cast(stack: Stack, factory):
    """Morgana's Aria and Bram, Lancelot's public Cador and his private Dindrane."""
    session_factory = factory
    owner, other = stack.member("morgana"), stack.member("lancelot")
    aria = await _character(stack, session_factory, owner, "Aria", (200, 30, 30))
    bram = await _character(stack, session_factory, owner, "Bram", (30, 200, 30))
    cador = await _character(stack, session_factory, other, "Cador", (30, 30, 200))
    dindrane = await _character(stack, session_factory, other, "Dindrane", (90, 90, 90))
    for member in (owner, other):  # the gallery's opt-in: public characters are shown
        await wait_ephemeral_text(
            await stack.command(member, "settings", {"gallery_showcase": True})
        )
    await wait_ephemeral_text(
        await stack.command(other, "character publish", {"character": cador.id})
    )
    return owner, other, aria, bram, cador, dindrane


async def _scene_create(stack: Stack, member, characters: str, **extra: str):
    options = {"characters": characters, "setting": "a tavern at night", **extra}
    return await stack.command(member, "scene create", options)


async def test_a_scene_of_three_draws_them_together_and_credits_the_other_owner(
    stack: Stack, factory, cast
):
    """Aria, Bram (own) and Cador (Lancelot's, public): ONE image request carrying their three
    portraits in that order and their names; the scene, three scene_characters and one
    scene_generations row; the post credits Lancelot by display name without pinging; quota −1; the
    thread is the scene's conversation."""
    session_factory = factory
    owner, other, aria, bram, cador, _ = cast
    storage = stack.bot.deps.storage
    portraits = [await storage.get(c.meta[IMAGE_KEY]) for c in (aria, bram, cador)]
    used = (await _user(session_factory, owner)).daily_used
    stack.gemini.requests.clear()
    stack.gemini.image_png = png_bytes((250, 200, 10), size=64)

    ix = await _scene_create(stack, owner, f"Aria, Bram, {cador.id[:8]}", title="Old friends")
    post = await wait_final(ix)

    image_requests = stack.gemini.requests_for(IMAGE_MODEL)
    assert len(image_requests) == 1
    sent = image_requests[0]
    assert sent.images == portraits  # the three references, in order
    for name in ("Aria", "Bram", "Cador"):
        assert name in sent.text
    assert sent.text.index("Aria") < sent.text.index("Bram") < sent.text.index("Cador")
    assert "recognisable" in sent.text
    assert "a tavern at night" in sent.text

    assert (await _user(session_factory, owner)).daily_used == used + 1
    scene_id = post["embeds"][0]["footer"]["text"].rsplit(" ", 1)[-1]
    async with session_factory() as s:
        scene = await s.get(Scene, scene_id)
        members = (
            await s.scalars(
                select(SceneCharacter)
                .where(SceneCharacter.scene_id == scene_id)
                .order_by(SceneCharacter.position)
            )
        ).all()
        links = (
            await s.scalars(select(SceneGeneration).where(SceneGeneration.scene_id == scene_id))
        ).all()
        generation = await s.get(Generation, links[0].generation_id)
    assert scene is not None
    assert scene.generation_status == "completed"
    assert scene.title == "Old friends"
    assert scene.is_public is False
    assert [(m.character_id, m.position) for m in members] == [
        (aria.id, 0),
        (bram.id, 1),
        (cador.id, 2),
    ]
    assert [link.kind for link in links] == ["create"]
    assert generation is not None
    assert generation.status == "completed"

    cast_field = post["embeds"][0]["fields"][0]["value"]
    credited = (await _user(session_factory, other)).display_name
    assert credited
    assert f"— by {credited}" in cast_field  # credited by display name
    assert cast_field.count("—") == 1  # only the other member's character is credited
    assert f"<@{other.id}>" not in str(post)
    assert {cid.split(":")[-1] for cid in post_ids(post)} == {"fav", "pub", "regen", "exp"}

    thread_id = await character_thread(stack, post)
    async with session_factory() as s:
        assert (await s.get(Scene, scene_id)).meta[CONVERSATION_ID] == thread_id


def post_ids(message: dict) -> list[str]:
    return [
        c["custom_id"]
        for row in message.get("components") or []
        for c in row.get("components") or []
        if "custom_id" in c
    ]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Aria, Bram, Cador, Dindrane, Aria", "invalid.scene_count"),
        ("Aria", "invalid.scene_count"),
        ("Aria, Aria", "invalid.scene_duplicate"),
        ("Aria, Dindrane", "invalid.scene_unavailable"),
    ],
)
async def test_refused_casts_change_nothing(stack: Stack, factory, cast, typed, key):
    """Five characters, one, a duplicate, or another member's private character: a clear
    message; no scene, no generation, nothing charged, no image request."""
    session_factory = factory
    owner = cast[0]
    before = await _counts(session_factory)
    used = (await _user(session_factory, owner)).daily_used
    stack.gemini.requests.clear()
    text = await wait_ephemeral_text(await _scene_create(stack, owner, typed))
    expected = {
        "invalid.scene_count": en("invalid.scene_count", min=2, max=4, count=len(typed.split(","))),
        "invalid.scene_duplicate": en("invalid.scene_duplicate", name="Aria"),
        "invalid.scene_unavailable": en("invalid.scene_unavailable", item="Dindrane"),
    }[key]
    assert text == expected
    assert await _counts(session_factory) == before
    assert (await _user(session_factory, owner)).daily_used == used
    assert stack.gemini.requests_for(IMAGE_MODEL) == []


async def test_a_provider_failure_refunds_and_leaves_no_scene(stack: Stack, factory, cast):
    """The image model fails: the member is told it was refunded; the unit comes back; the
    generation is failed and no scene row is left."""
    session_factory = factory
    owner, _, _, _, cador, _ = cast
    scenes_before, *_ = await _counts(session_factory)
    used = (await _user(session_factory, owner)).daily_used
    stack.gemini.fail_next("500", times=None, model=IMAGE_MODEL)
    try:
        text = await wait_ephemeral_text(
            await _scene_create(stack, owner, f"Bram, {cador.id}"), timeout=20
        )
    finally:
        stack.gemini.reset()
    assert "refunded" in text
    assert (await _user(session_factory, owner)).daily_used == used
    assert (await _counts(session_factory))[0] == scenes_before
    async with session_factory() as s:
        newest = await s.scalar(select(Generation).order_by(Generation.created_at.desc()).limit(1))
    assert newest is not None
    assert newest.status == "failed"


async def _owned_scene(session_factory, owner) -> Scene:
    user = await _user(session_factory, owner)
    async with session_factory() as s:
        scene = await s.scalar(
            select(Scene).where(Scene.user_id == user.id).order_by(Scene.created_at).limit(1)
        )
    assert scene is not None
    return scene


async def test_a_mention_in_the_scene_thread_makes_a_variant_of_the_scene_image(
    stack: Stack, factory, cast
):
    """ "@bot make it snow" in the scene's thread: one edit request whose image is the scene
    image; a scene_generations row of kind variant whose source is the scene image."""
    session_factory = factory
    owner = cast[0]
    scene = await _owned_scene(session_factory, owner)
    thread_id = scene.meta[CONVERSATION_ID]
    scene_png = await stack.bot.deps.storage.get(scene.meta[IMAGE_KEY])
    used = (await _user(session_factory, owner)).daily_used
    stack.gemini.requests.clear()
    asked = await post_user_message(stack.fake, thread_id, owner, "make it snow", mention_bot=True)

    def shown() -> dict | None:
        for m in stack.fake.channel_messages(thread_id):
            replied = (m.get("message_reference") or {}).get("message_id")
            if str(replied) == asked["id"] and m.get("embeds") and m.get("attachments"):
                return m
        return None

    await stack.fake.wait_until(lambda: shown() is not None, timeout=20)
    reply = shown()
    assert reply is not None
    assert reply["content"] == en("scene.variant_created")
    edit = stack.gemini.requests_for(IMAGE_MODEL)
    assert len(edit) == 1
    assert edit[0].images == [scene_png]
    assert "make it snow" in edit[0].text
    async with session_factory() as s:
        variant = await s.scalar(
            select(SceneGeneration).where(
                SceneGeneration.scene_id == scene.id, SceneGeneration.kind == "variant"
            )
        )
    assert variant is not None
    assert variant.meta[SOURCE_IMAGE_KEY] == scene.meta[IMAGE_KEY]
    assert variant.meta[CONVERSATION_ID] == thread_id
    assert variant.meta["instruction"] == "make it snow"
    assert (await _user(session_factory, owner)).daily_used == used + 1

    # a reply to that variant edits it: the new variant's parent is the first one
    first_png = await stack.bot.deps.storage.get(variant.meta[IMAGE_KEY])
    stack.gemini.requests.clear()
    again = await post_user_message(stack.fake, thread_id, owner, "now at dawn", reply_to=reply)
    await stack.fake.wait_until(
        lambda: any(
            str((m.get("message_reference") or {}).get("message_id")) == again["id"]
            and m.get("attachments")
            for m in stack.fake.channel_messages(thread_id)
        ),
        timeout=20,
    )
    assert stack.gemini.requests_for(IMAGE_MODEL)[0].images == [first_png]
    async with session_factory() as s:
        second = await s.scalar(
            select(SceneGeneration)
            .where(SceneGeneration.scene_id == scene.id, SceneGeneration.kind == "variant")
            .order_by(SceneGeneration.created_at.desc())
            .limit(1)
        )
    assert second is not None
    assert second.meta[PARENT_VARIANT_ID] == variant.id
    assert second.meta[SOURCE_IMAGE_KEY] == variant.meta[IMAGE_KEY]

    # another member's mention there is not an instruction: nothing is drawn or charged
    stack.gemini.requests.clear()

    def ignored() -> float:
        registry = stack.bot.deps.metrics.registry
        sample = registry.get_sample_value(
            "charbot_conversation_messages_total", {"outcome": "ignored"}
        )
        return sample or 0.0

    before = ignored()
    await post_user_message(stack.fake, thread_id, cast[1], "make it rain", mention_bot=True)
    async with asyncio.timeout(10):
        while ignored() <= before:
            await asyncio.sleep(0.01)
    assert stack.gemini.requests_for(IMAGE_MODEL) == []


async def _gallery_titles(stack: Stack, member) -> list[str]:
    message = await wait_reply(await stack.command(member, "gallery browse", {"kind": "scenes"}))
    return [e["title"] for e in message.get("embeds") or []]


async def test_the_scenes_gallery_follows_the_cast(stack: Stack, factory, cast):
    """Published, the scene is in /gallery browse kind:scenes; once Lancelot unpublishes
    Cador it is not, though it stays in Morgana's /scene list."""
    session_factory = factory
    owner, other, _, _, cador, _ = cast
    viewer = stack.member("viewer")
    scene = await _owned_scene(session_factory, owner)
    assert "Old friends" not in await _gallery_titles(stack, viewer)
    published = await wait_ephemeral_text(
        await stack.command(owner, "scene publish", {"scene": scene.id})
    )
    assert published == en("scene.published", title="Old friends")
    assert "Old friends" in await _gallery_titles(stack, viewer)

    await wait_ephemeral_text(
        await stack.command(other, "character unpublish", {"character": cador.id})
    )
    assert "Old friends" not in await _gallery_titles(stack, viewer)
    listing = await wait_reply(await stack.command(owner, "scene list"))
    assert "Old friends" in listing["embeds"][0]["description"]

    # Regenerate now needs Cador's portrait, which is private again: refused, by name
    used = (await _user(session_factory, owner)).daily_used
    post = stack.fake.message(scene.meta[MESSAGE_ID])
    refused = await stack.fake.click(owner, post, f"scene:{scene.id}:regen")
    assert await wait_ephemeral_text(refused) == en("invalid.scene_unavailable", item="Cador")
    assert (await _user(session_factory, owner)).daily_used == used


async def test_scene_buttons_autocomplete_show_and_delete(stack: Stack, factory, cast):
    """Autocomplete completes the list's last item; Favorite flips on the message (its owner
    only); Regenerate draws it again (one unit, kind regenerate); Export sends the image
    privately; /scene delete asks, then deletes; the old buttons then find no scene."""
    session_factory = factory
    owner, other, aria, bram, _, _ = cast
    choices = await stack.fake.autocomplete(
        owner,
        stack.channel["id"],
        "scene create",
        {"characters": f"{aria.id[:8]}, br"},
        focused="characters",
    )
    assert choices[0]["value"] == f"{aria.id[:8]}, {bram.id[:8]}"

    post = await wait_final(await _scene_create(stack, owner, "Aria, Bram", title="Duo"))
    scene_id = post["embeds"][0]["footer"]["text"].rsplit(" ", 1)[-1]
    fav = f"scene:{scene_id}:fav"

    refused = await stack.fake.click(other, post, fav)
    assert await wait_ephemeral_text(refused) == en("error.not_owner")

    pressed = await stack.fake.click(owner, post, fav)
    await wait_update(pressed)
    async with session_factory() as s:
        assert (await s.get(Scene, scene_id)).meta["favorite"] is True

    used = (await _user(session_factory, owner)).daily_used
    stack.gemini.requests.clear()
    regen = await stack.fake.click(owner, post, f"scene:{scene_id}:regen")

    async def kinds() -> list[str]:
        async with session_factory() as s:
            rows = await s.scalars(
                select(SceneGeneration.kind)
                .where(SceneGeneration.scene_id == scene_id)
                .order_by(SceneGeneration.created_at)
            )
            return list(rows.all())

    async def regenerated() -> bool:
        async with session_factory() as s:
            status = await s.scalar(
                select(Generation.status)
                .join(SceneGeneration, SceneGeneration.generation_id == Generation.id)
                .where(SceneGeneration.scene_id == scene_id, SceneGeneration.kind == "regenerate")
            )
        return status == "completed"

    async with asyncio.timeout(20):
        while not await regenerated():
            await asyncio.sleep(0.05)
    # disabled, then the new image shown with its buttons working again (a progress edit in
    # between must not count as the end)
    await regen.wait_for(lambda i: i.edits >= 2 and final(i) is not None, 20)
    assert await kinds() == ["create", "regenerate"]
    assert (await _user(session_factory, owner)).daily_used == used + 1

    exported = await stack.fake.click(owner, post, f"scene:{scene_id}:exp")
    await exported.wait_for(
        lambda i: any(m.get("flags", 0) & 64 and m.get("attachments") for m in i.messages()), 10
    )

    shown = await wait_reply(await stack.command(owner, "scene show", {"scene": scene_id}))
    assert shown["embeds"][0]["title"] == "Duo"

    ask = await stack.command(owner, "scene delete", {"scene": scene_id})
    assert await wait_ephemeral_text(ask) == en("scene.delete_confirm", title="Duo")
    confirm = ask.original() or {}
    done = await stack.fake.click(owner, confirm, f"scenedel:{scene_id}:yes")
    await wait_update(done)
    async with session_factory() as s:
        assert await s.get(Scene, scene_id) is None
    gone = await stack.fake.click(owner, post, fav)
    assert await wait_ephemeral_text(gone) == en("error.not_found", what=en("thing.scene"))


async def test_cancel_while_the_scene_is_drawn_refunds_and_leaves_no_scene(
    stack: Stack, factory, cast
):
    """The image model hangs; Cancel under the progress: failed "cancelled", the unit back,
    no scene row, nothing stored under scenes/."""
    session_factory = factory
    owner = cast[0]
    used = (await _user(session_factory, owner)).daily_used
    scenes_before = (await _counts(session_factory))[0]
    stored_before = [k for k in stack.s3.list_keys(stack.bucket) if k.startswith("scenes/")]
    stack.gemini.fail_next("hang", model=IMAGE_MODEL)
    try:
        ix = await _scene_create(stack, owner, "Aria, Bram")

        def progress() -> dict | None:
            original = ix.original()
            return original if original and original.get("components") else None

        await ix.wait_for(lambda _: progress() is not None, 20)
        message = progress()
        assert message is not None
        cancel_id = find_id(message, ":cancel")
        pressed = await stack.fake.click(owner, message, cancel_id)
        assert await wait_ephemeral_text(pressed) == en("cancel.cancelled")
    finally:
        stack.gemini.reset()
    assert (await _user(session_factory, owner)).daily_used == used
    async with session_factory() as s:
        generation = await s.get(Generation, cancel_id.split(":")[1])
    assert generation is not None
    assert (generation.status, generation.error_message) == ("failed", "cancelled")
    assert (await _counts(session_factory))[0] == scenes_before
    assert [k for k in stack.s3.list_keys(stack.bucket) if k.startswith("scenes/")] == stored_before


async def test_a_characters_sheet_goes_with_its_portrait_into_the_scene(
    stack: Stack, factory, cast
):
    """After /character sheet for Bram, a scene of Aria and Bram sends Aria's portrait, then
    Bram's portrait and, right after it, Bram's sheet (labelled as his) in ONE request."""
    owner, _, aria, bram, _, _ = cast
    sheet_png = png_bytes((15, 15, 150), size=40)
    stack.gemini.image_png_factory = lambda: sheet_png
    try:
        await stack.command(owner, "character sheet", {"character": bram.id})
        for _ in range(200):  # the sheet is posted in Bram's thread; wait for its row
            async with factory() as s:
                if await sheet_image_key(s, bram.id):
                    break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the character sheet was not made")
    finally:
        stack.gemini.image_png_factory = None
    storage = stack.bot.deps.storage
    portraits = [await storage.get(c.meta[IMAGE_KEY]) for c in (aria, bram)]
    stack.gemini.requests.clear()
    stack.gemini.image_png = png_bytes((250, 200, 10), size=64)

    await wait_final(await _scene_create(stack, owner, "Aria, Bram"))

    (sent,) = stack.gemini.requests_for(IMAGE_MODEL)
    assert sent.images == [portraits[0], portraits[1], sheet_png]
    assert "Character sheet of Bram" in sent.text
    assert "Character sheet of Aria" not in sent.text
