"""End to end: the likeness check (a variant scored below CONSISTENCY_THRESHOLD is drawn once
more at no extra quota and the better kept, its score in the footer; 0 turns the check off)
and /character sheet (a turnaround kept in "Character sheet", then sent as a second reference
image with the next variant), through the real discord.py against the fake Discord and Gemini."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, update

from bot.i18n import Catalog
from db.meta import CHARACTER_SHEET, LIKENESS_ATTEMPTS, LIKENESS_REASON, LIKENESS_SCORE
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
)
from tests.fakes.discord.chat import post_user_message
from tests.fakes.gemini_server import png_bytes

CATALOG = Catalog.load()


stack = bot_stack("e2e-likeness")


no_violations = requests_checked()


async def _user(session_factory, member) -> User:
    async with session_factory() as s:
        return (
            await s.scalars(select(User).where(User.auth0_id == f"oauth2|discord|{member.id}"))
        ).one()


async def _character(stack: Stack, member, description: str) -> tuple[str, str]:
    """A new character: its id and its thread."""
    ix = await stack.command(member, "character create", {"description": description})
    message = await wait_final(ix)
    thread_id = await character_thread(stack, message)
    return find_id(message, ":fav").split(":")[1], thread_id


async def _variants(session_factory, character_id: str) -> list[ThemeVariant]:
    async with session_factory() as s:
        return list(
            (
                await s.scalars(
                    select(ThemeVariant)
                    .where(ThemeVariant.character_id == character_id)
                    .order_by(ThemeVariant.created_at)
                )
            ).all()
        )


async def test_an_unlike_variant_is_drawn_again_and_the_better_kept(stack: Stack, session_factory):
    """Scored 30 then 80: two image requests, the second image stored, one unit charged, and
    the footer shows 80."""
    member = stack.member("likeness-retry")
    character_id, thread_id = await _character(stack, member, "a lighthouse keeper")
    used_before = (await _user(session_factory, member)).daily_used
    first, second = png_bytes((10, 10, 200), 48), png_bytes((240, 240, 20), 48)
    images = iter([first, second])
    stack.gemini.requests.clear()
    stack.gemini.score_next(30, 80, reason="the hair colour changed")
    # each image request gets the next picture: the retry answers differently from the first
    stack.gemini.image_png_factory = lambda: next(images, second)
    try:
        ix = await stack.command(
            member, "variant create", {"instruction": "a storm coat"}, channel_id=thread_id
        )
        posted = await wait_final(ix)
    finally:
        stack.gemini.image_png_factory = None
    assert len(stack.gemini.image_requests) == 2
    checks = stack.gemini.likeness_requests
    assert len(checks) == 2
    assert all(len(check.images) == 2 for check in checks)  # the portrait and the new image
    (variant,) = await _variants(session_factory, character_id)
    assert variant.meta[LIKENESS_SCORE] == 80
    assert variant.meta[LIKENESS_ATTEMPTS] == 2
    assert variant.meta[LIKENESS_REASON] == "the hair colour changed"
    assert stack.s3.get_object(stack.bucket, variant.meta["imageKey"])[0] == second
    assert stack.fake.attachment_bytes(posted["attachments"][0]["url"]) == second
    assert (await _user(session_factory, member)).daily_used == used_before + 1
    footer = posted["embeds"][0]["footer"]["text"]
    assert CATALOG.t("en", "variant.likeness", score=80) in footer
    assert "80/100" in footer


async def test_a_like_variant_is_kept_at_once(stack: Stack, session_factory):
    """Scored at or above the threshold: one image request, one check, its score stored."""
    member = stack.member("likeness-once")
    character_id, thread_id = await _character(stack, member, "a tea merchant")
    stack.gemini.requests.clear()
    stack.gemini.score_next(75)
    ix = await stack.command(
        member, "variant create", {"instruction": "a paper umbrella"}, channel_id=thread_id
    )
    posted = await wait_final(ix)
    assert len(stack.gemini.image_requests) == 1
    assert len(stack.gemini.likeness_requests) == 1
    (variant,) = await _variants(session_factory, character_id)
    assert variant.meta[LIKENESS_SCORE] == 75
    assert variant.meta[LIKENESS_ATTEMPTS] == 1
    assert "75/100" in posted["embeds"][0]["footer"]["text"]

    # Use as portrait: the character's metadata now tells the likeness of the new portrait
    pressed = await stack.fake.click(member, posted, find_id(posted, ":portrait"))
    await pressed.acknowledged(timeout=5)
    async with asyncio.timeout(20):
        while True:
            async with session_factory() as s:
                row = await s.get(Character, character_id)
            assert row is not None
            if row.meta.get(LIKENESS_SCORE) == 75:  # none before: it came with the variant
                break
            await asyncio.sleep(0.05)


async def test_a_failed_check_keeps_the_image_without_a_score(stack: Stack, session_factory):
    """The scoring call errs (HTTP 400 from the text model): the variant is kept, unscored,
    and charged once."""
    member = stack.member("likeness-error")
    character_id, thread_id = await _character(stack, member, "a glass blower")
    used_before = (await _user(session_factory, member)).daily_used
    stack.gemini.requests.clear()
    stack.gemini.fail_next("bad_json", model="gemini-2.5-flash")
    ix = await stack.command(
        member, "variant create", {"instruction": "a leather apron"}, channel_id=thread_id
    )
    posted = await wait_final(ix)
    assert len(stack.gemini.image_requests) == 1
    (variant,) = await _variants(session_factory, character_id)
    assert LIKENESS_SCORE not in variant.meta
    assert "/100" not in posted["embeds"][0]["footer"]["text"]
    assert (await _user(session_factory, member)).daily_used == used_before + 1


async def test_a_busy_text_model_is_not_waited_out_for_the_check(stack: Stack, session_factory):
    """The text model answers 429 with Retry-After throughout: the check gives up after its
    one retry (it does not wait out the busy provider as image calls do), and the variant is
    kept unscored."""
    member = stack.member("likeness-busy")
    character_id, thread_id = await _character(stack, member, "a ferry pilot")
    stack.gemini.requests.clear()
    stack.gemini.storm(120, model="gemini-2.5-flash", retry_after=1)
    try:
        ix = await stack.command(
            member, "variant create", {"instruction": "a rain cape"}, channel_id=thread_id
        )
        posted = await wait_final(ix)
        checks = len(stack.gemini.likeness_requests)
    finally:
        stack.gemini.reset()
    assert checks == 2  # the check and its one retry
    (variant,) = await _variants(session_factory, character_id)
    assert LIKENESS_SCORE not in variant.meta
    assert "/100" not in posted["embeds"][0]["footer"]["text"]


async def test_character_sheet_is_then_sent_with_the_next_variant(stack: Stack, session_factory):
    """/character sheet: one unit, a variant in "Character sheet" posted in the thread and
    never checked for likeness; the next variant's image request carries two images (its
    source and the sheet), and it still edits the portrait, not the sheet."""
    member = stack.member("sheet-maker")
    character_id, thread_id = await _character(stack, member, "a clockwork knight")
    used_before = (await _user(session_factory, member)).daily_used
    stack.gemini.requests.clear()
    sheet_png = png_bytes((30, 160, 90), 40)
    stack.gemini.image_png_factory = lambda: sheet_png
    try:
        ix = await stack.command(
            member, "character sheet", {"character": character_id}, channel_id=thread_id
        )
        posted = await wait_final(ix)
    finally:
        stack.gemini.image_png_factory = None
    assert posted["channel_id"] == thread_id
    assert (await _user(session_factory, member)).daily_used == used_before + 1
    assert stack.gemini.likeness_requests == []
    (sheet_request,) = stack.gemini.image_requests
    assert len(sheet_request.images) == 1  # the portrait only
    assert "character sheet" in sheet_request.text
    (sheet,) = await _variants(session_factory, character_id)
    assert sheet.meta[CHARACTER_SHEET] is True
    async with session_factory() as s:
        theme = await s.get(CharacterTheme, sheet.theme_id)
    assert theme is not None
    assert theme.name == "Character sheet"

    stack.gemini.requests.clear()
    ix = await stack.command(
        member, "variant create", {"instruction": "riding a horse"}, channel_id=thread_id
    )
    await wait_final(ix)
    (edit,) = stack.gemini.image_requests
    assert stack.s3.get_object(stack.bucket, sheet.meta["imageKey"])[0] == sheet_png
    assert len(edit.images) == 2
    assert edit.images[0] == stack.gemini.image_png  # the portrait
    assert edit.images[1] == sheet_png
    variants = await _variants(session_factory, character_id)
    assert len(variants) == 2
    assert variants[-1].meta.get("sourceImageKey")  # from the portrait, not the sheet
    assert "parentVariantId" not in variants[-1].meta

    # a conversation edit (a mention in the thread) sends the sheet too, after its source
    async with session_factory.begin() as s:  # a fourth unit today
        await s.execute(
            update(User)
            .where(User.auth0_id == f"oauth2|discord|{member.id}")
            .values(daily_quota=10)
        )
    stack.gemini.requests.clear()
    await post_user_message(stack.fake, thread_id, member, "wearing a cape", mention_bot=True)
    async with asyncio.timeout(20):
        while len(await _variants(session_factory, character_id)) < 3:
            await asyncio.sleep(0.05)
    (conversation_edit,) = stack.gemini.image_requests
    role, _, images = conversation_edit.turns[-1]
    assert role == "user"
    assert len(images) == 2
    assert images[1] == sheet_png
    newest = (await _variants(session_factory, character_id))[-1]
    assert newest.meta["parentVariantId"] == variants[-1].id  # the newest image, not the sheet


async def test_threshold_zero_makes_no_scoring_request(stack: Stack, session_factory):
    """With CONSISTENCY_THRESHOLD=0 a variant makes its image request and nothing else."""
    await stack.stop_bot()
    await stack.start_bot(consistency_threshold=0)
    try:
        member = stack.member("likeness-off")
        character_id, thread_id = await _character(stack, member, "a desert cartographer")
        stack.gemini.requests.clear()
        stack.gemini.score_next(5)
        ix = await stack.command(
            member, "variant create", {"instruction": "a sand veil"}, channel_id=thread_id
        )
        posted = await wait_final(ix)
        assert len(stack.gemini.image_requests) == 1
        assert stack.gemini.likeness_requests == []
        (variant,) = await _variants(session_factory, character_id)
        assert LIKENESS_SCORE not in variant.meta
        assert "/100" not in posted["embeds"][0]["footer"]["text"]
    finally:
        stack.gemini.reset()
        await stack.stop_bot()
        await stack.start_bot()


async def test_regenerate_compares_with_the_previous_portrait(stack: Stack, session_factory):
    """/character regenerate scored 20 then 70: drawn twice, compared with the portrait it
    replaces, the second kept, its score in the character's metadata, one unit charged."""
    member = stack.member("likeness-regen")
    character_id, _ = await _character(stack, member, "a retired duelist")
    used_before = (await _user(session_factory, member)).daily_used
    previous = stack.gemini.image_png
    first, second = png_bytes((200, 20, 20), 44), png_bytes((20, 20, 200), 44)
    images = iter([first, second])
    stack.gemini.requests.clear()
    stack.gemini.score_next(20, 70)
    stack.gemini.image_png_factory = lambda: next(images, second)
    try:
        ix = await stack.command(member, "character regenerate", {"character": character_id})
        posted = await wait_final(ix)
    finally:
        stack.gemini.image_png_factory = None
    assert len(stack.gemini.image_requests) == 2
    checks = stack.gemini.likeness_requests
    assert [check.images for check in checks] == [[previous, first], [previous, second]]
    async with session_factory() as s:
        row = await s.get(Character, character_id)
    assert row is not None
    assert row.meta[LIKENESS_SCORE] == 70
    assert row.meta[LIKENESS_ATTEMPTS] == 2
    assert stack.s3.get_object(stack.bucket, row.meta["imageKey"])[0] == second
    assert stack.fake.attachment_bytes(posted["attachments"][0]["url"]) == second
    assert (await _user(session_factory, member)).daily_used == used_before + 1


async def test_cancel_during_the_check_refunds_and_stores_nothing(stack: Stack, session_factory):
    """The likeness check hangs; Cancel under the progress reply fails the generation
    "cancelled", gives the unit back and keeps no variant."""
    member = stack.member("likeness-cancel")
    character_id, thread_id = await _character(stack, member, "a night watchman")
    used_before = (await _user(session_factory, member)).daily_used
    stack.gemini.requests.clear()
    stack.gemini.fail_next("hang", model="gemini-2.5-flash")
    try:
        ix = await stack.command(
            member, "variant create", {"instruction": "a lantern"}, channel_id=thread_id
        )
        async with asyncio.timeout(20):  # state of the fake Gemini: polled
            while not (stack.gemini.likeness_requests and stack.gemini.in_flight > 0):
                await asyncio.sleep(0.01)
        await ix.wait_for(lambda i: any(c.endswith(":cancel") for c in _ids(i.original())), 10)
        message = ix.original()
        cancel_id = find_id(message, ":cancel")
        pressed = await stack.fake.click(member, message, cancel_id)
        assert await wait_ephemeral_text(pressed) == CATALOG.t("en", "cancel.cancelled")
    finally:
        stack.gemini.reset()
    generation_id = cancel_id.split(":")[1]
    async with session_factory() as s:
        generation = await s.get(Generation, generation_id)
    assert generation is not None
    assert (generation.status, generation.error_message) == ("failed", "cancelled")
    assert await _variants(session_factory, character_id) == []
    assert (await _user(session_factory, member)).daily_used == used_before


def _ids(message: dict | None) -> list[str]:
    return custom_ids(message) if message else []
