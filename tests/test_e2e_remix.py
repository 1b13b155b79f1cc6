"""End to end: remixes from gallery pages and showcase posts, the remix setting, and theme
recipes (/theme apply), through the real discord.py against the fake Discord and Gemini."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from sqlalchemy import select

from bot.i18n import Catalog
from db.bot_models import MemberSettings, UserNotice
from db.meta import (
    CONVERSATION_ID,
    IMAGE_KEY,
    PARENT_VARIANT_ID,
    REMIX_OF,
    REMIX_OF_CREATOR,
    THUMBNAIL_KEY,
)
from db.models import Character, CharacterTheme, Generation, ThemeVariant, User
from tests.e2e import (
    Stack,
    bot_stack,
    collect_violations,
    custom_ids,
    wait_ephemeral_text,
    wait_final,
    wait_reply,
)
from tests.factories import make_character, make_theme, make_user
from tests.fakes.gemini_server import png_bytes

CATALOG = Catalog.load()
_n = itertools.count(1)


def en(key: str, **params: Any) -> str:
    """The English text of a catalog key."""
    return CATALOG.t("en", key, **params)


stack = bot_stack("e2e-remix")


@pytest.fixture(autouse=True)
def no_violations(stack: Stack):
    """Every request the bot sends passes the OpenAPI spec and Discord's limits; every message
    with content carries allowed_mentions that ping nobody (the fake requires it)."""
    collect_violations(stack)
    stack.gemini.reset()
    yield
    assert collect_violations(stack) == []


# -- helpers -----------------------------------------------------------------------------------


async def _user(session_factory, member, **overrides: Any) -> User:
    async with session_factory.begin() as s:
        return await make_user(s, int(member.id), **overrides)


TARGET_COLOUR = (200, 10, 10)


async def _pictured(
    stack: Stack,
    session_factory,
    user: User,
    colour: tuple[int, int, int] = (10, 120, 200),
    **overrides: Any,
) -> Character:
    """A completed character whose portrait (64 px of ``colour``) is stored, so it can be
    edited or remixed."""
    async with session_factory.begin() as s:
        row = await make_character(s, user, **overrides)
        key, thumb = f"characters/{row.id}/portrait.png", f"characters/{row.id}/thumb.webp"
        row.meta = {**(row.meta or {}), IMAGE_KEY: key, THUMBNAIL_KEY: thumb}
    stack.s3.put_object(stack.bucket, key, png_bytes(colour, 64), "image/png")
    stack.s3.put_object(stack.bucket, thumb, png_bytes(colour, 16), "image/webp")
    return row


async def _used(session_factory, user: User) -> int:
    async with session_factory() as s:
        return (await s.get(User, user.id, populate_existing=True)).daily_used


async def _public_original(stack: Stack, session_factory, tag: str) -> tuple[Any, User, Character]:
    owner_member = stack.member(f"owner{tag}")
    owner = await _user(
        session_factory,
        owner_member,
        allow_gallery_showcase=True,
        display_name=f"Morgana {tag}",
        preferred_language="en",
    )
    original = await _pictured(
        stack,
        session_factory,
        owner,
        name=f"Lady {tag}",
        description="a sorceress of the lake with silver hair",
        personality=["proud", "clever"],
        is_public=True,
        tags=[tag],
    )
    return owner_member, owner, original


async def _gallery_page(stack: Stack, member, tag: str) -> dict:
    return await wait_reply(await stack.command(member, "gallery browse", {"tag": tag}))


# -- remix -------------------------------------------------------------------------------------


async def test_remix_from_a_gallery_page_makes_the_pressers_credited_character(
    stack: Stack, session_factory
):
    """Remix on another member's public card → modal → a new character of the presser, made
    through the create pipeline with the original's portrait as the reference; remixOf and the
    creator recorded; credited by name without a ping; the owner gets a DM; one unit charged;
    /character show of the original counts the remix."""
    tag = f"rmx{next(_n)}"
    owner_member, owner, original = await _public_original(stack, session_factory, tag)
    presser_member = stack.member(f"presser{tag}")
    presser = await _user(session_factory, presser_member)

    page = await _gallery_page(stack, presser_member, tag)
    assert f"remix:{original.id}" in custom_ids(page)
    pressed = await stack.fake.click(presser_member, page, f"remix:{original.id}")
    await pressed.acknowledged(timeout=5)
    assert pressed.modal is not None
    assert pressed.modal["custom_id"] == f"remixmodal:{original.id}"

    submitted = await stack.fake.submit_modal(
        presser_member,
        stack.channel["id"],
        f"remixmodal:{original.id}",
        {"instruction": "as a space pirate"},
        message=page,
    )
    result = await wait_final(submitted, timeout=30)

    async with session_factory() as s:
        made = (
            await s.scalars(
                select(Character).where(
                    Character.user_id == presser.id, Character.meta[REMIX_OF].astext == original.id
                )
            )
        ).one()
    assert made.generation_status == "completed"
    assert made.meta[REMIX_OF_CREATOR] == owner.id
    assert made.id != original.id
    assert await _used(session_factory, presser) == 1
    assert await _used(session_factory, owner) == 0

    image_requests = [r for r in stack.gemini.requests if r.kind == "image"]
    assert len(image_requests) == 1
    assert image_requests[0].images == [png_bytes((10, 120, 200), 64)]
    assert "as a space pirate" in "\n".join(r.text for r in stack.gemini.requests)

    credit = en("remix.credit_line", name=f"Lady {tag}", creator=f"Morgana {tag}")
    assert credit in result["content"]
    assert "<@" not in result["content"]
    assert owner_member.id not in result["content"]
    fields = {f["name"]: f["value"] for f in result["embeds"][0]["fields"]}
    assert fields[en("remix.credit_title")] == en(
        "remix.credit", name=f"Lady {tag}", creator=f"Morgana {tag}"
    )
    assert str(result["id"]) in stack.fake.threads  # posted in the channel with its thread

    await stack.fake.wait_until(lambda: bool(stack.fake.dms(owner_member.id)), timeout=10)
    dms = stack.fake.dms(owner_member.id)
    assert f"Lady {tag}" in dms[-1]["content"]
    assert f"presser{tag}" in dms[-1]["content"]  # the presser's display name
    assert "<@" not in dms[-1]["content"]

    shown = await wait_reply(
        await stack.command(owner_member, "character show", {"character": original.id})
    )
    counts = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
    assert counts[en("remix.count_title")] == "1"


async def test_remixes_turned_off_refuse_the_button_and_charge_nothing(
    stack: Stack, session_factory
):
    """With remixes off in /settings the Remix button refuses clearly (no modal); a modal
    already open refuses on submit too: nothing charged, no character, no generation."""
    tag = f"off{next(_n)}"
    owner_member, owner, original = await _public_original(stack, session_factory, tag)
    presser_member = stack.member(f"presser{tag}")
    presser = await _user(session_factory, presser_member)

    # a modal opened while remixes were still allowed
    page = await _gallery_page(stack, presser_member, tag)
    early = await stack.fake.click(presser_member, page, f"remix:{original.id}")
    await early.acknowledged(timeout=5)
    assert early.modal is not None

    turned = await stack.command(owner_member, "settings", {"remixes": False})
    assert (await wait_ephemeral_text(turned)) == en("settings.saved")
    async with session_factory() as s:
        assert (await s.get(MemberSettings, owner.id)).allow_remix is False

    pressed = await stack.fake.click(presser_member, page, f"remix:{original.id}")
    assert (await wait_ephemeral_text(pressed)) == en("remix.off")
    assert pressed.modal is None

    late = await stack.fake.submit_modal(
        presser_member,
        stack.channel["id"],
        f"remixmodal:{original.id}",
        {"instruction": "in winter clothes"},
        message=page,
    )
    assert (await wait_ephemeral_text(late)) == en("remix.off")

    assert await _used(session_factory, presser) == 0
    async with session_factory() as s:
        assert (
            await s.scalars(select(Character).where(Character.user_id == presser.id))
        ).all() == []
        assert (
            await s.scalars(select(Generation).where(Generation.user_id == presser.id))
        ).all() == []
    assert [r for r in stack.gemini.requests if r.kind == "image"] == []

    # the owner may still remix their own
    own = await stack.fake.click(owner_member, page, f"remix:{original.id}")
    await own.acknowledged(timeout=5)
    assert own.modal is not None


async def _remix(stack: Stack, presser_member, page: dict, character_id: str, text: str) -> dict:
    pressed = await stack.fake.click(presser_member, page, f"remix:{character_id}")
    await pressed.acknowledged(timeout=5)
    assert pressed.modal is not None
    submitted = await stack.fake.submit_modal(
        presser_member,
        stack.channel["id"],
        f"remixmodal:{character_id}",
        {"instruction": text},
        message=page,
    )
    return await wait_final(submitted, timeout=30)


async def test_owner_out_of_dm_reach_gets_a_notice_with_the_next_reply(
    stack: Stack, session_factory
):
    """When the original's owner can't be DM'd, the remix stands and the owner is told once,
    privately, with their next reply."""
    tag = f"ntc{next(_n)}"
    owner_member, owner, original = await _public_original(stack, session_factory, tag)
    presser_member = stack.member(f"presser{tag}")
    await _user(session_factory, presser_member)
    stack.fake.users.pop(owner_member.id)  # Discord refuses to open a DM with them
    page = await _gallery_page(stack, presser_member, tag)
    await _remix(stack, presser_member, page, original.id, "with a crown of reeds")
    for _ in range(100):  # the notice is kept once the remix is posted
        async with session_factory() as s:
            if await s.scalar(select(UserNotice.id).where(UserNotice.user_id == owner.id)):
                break
        await asyncio.sleep(0.1)
    assert stack.fake.dms(owner_member.id) == []

    def distinct(ix) -> list[dict]:
        return list({m["id"]: m for m in ix.messages()}.values())

    nxt = await stack.command(owner_member, "collection list")
    await nxt.wait_for(lambda i: len(distinct(i)) >= 2, 10)
    notice = distinct(nxt)[1]
    assert f"Lady {tag}" in notice["content"]
    assert f"presser{tag}" in notice["content"]
    assert notice["flags"] & 64


async def test_settings_panel_turns_remixes_off_and_on(stack: Stack, session_factory):
    """The /settings panel shows the remix setting and its select changes it."""
    member = stack.member(f"panel{next(_n)}")
    user = await _user(session_factory, member)
    panel = await wait_reply(await stack.command(member, "settings"))
    assert "settings:remix" in custom_ids(panel)
    fields = {f["name"]: f["value"] for f in panel["embeds"][0]["fields"]}
    assert fields[en("settings.remixes")] == en("settings.on")
    picked = await stack.fake.click(member, panel, "settings:remix", values=["off"])
    await picked.acknowledged(timeout=5)
    await picked.wait_for(lambda i: i.edits > 0 or any(c["type"] == 7 for c in i.callbacks), 10)
    async with session_factory() as s:
        assert (await s.get(MemberSettings, user.id)).allow_remix is False
    shown = stack.fake.message(panel["id"])
    fields = {f["name"]: f["value"] for f in shown["embeds"][0]["fields"]}
    assert fields[en("settings.remixes")] == en("settings.off")


async def test_forged_or_private_character_is_refused_politely(stack: Stack, session_factory):
    """A Remix press for a private character or a made-up id is refused with the same clear
    message; nothing is charged."""
    tag = f"forge{next(_n)}"
    owner = await _user(session_factory, stack.member(f"o{tag}"), allow_gallery_showcase=True)
    private = await _pictured(stack, session_factory, owner, name=f"Hidden {tag}")
    _, _, public = await _public_original(stack, session_factory, tag)
    presser_member = stack.member(f"p{tag}")
    presser = await _user(session_factory, presser_member)
    page = await _gallery_page(stack, presser_member, tag)
    for forged in (private.id, "00000000-0000-0000-0000-000000000000", "not-an-id"):
        page["components"][-1]["components"][0]["custom_id"] = f"remix:{forged}"
        stack.fake.messages[str(page["id"])] = page
        ix = await stack.fake.click(presser_member, page, f"remix:{forged}")
        assert (await wait_ephemeral_text(ix)) == en("remix.not_public")
    assert public.id
    assert await _used(session_factory, presser) == 0


async def test_showcase_posts_carry_the_remix_button(stack: Stack, session_factory):
    """A character published to the showcase channel is posted with its Remix button."""
    tag = f"shw{next(_n)}"
    showcase = stack.fake.add_text_channel(stack.guild.id, f"showcase-{tag}")
    admin = stack.member(f"admin{tag}", permissions=1 << 5)
    await wait_ephemeral_text(
        await stack.command(admin, "mod setup", {"showcase_channel": showcase["id"]})
    )
    owner_member = stack.member(f"o{tag}")
    owner = await _user(session_factory, owner_member, allow_gallery_showcase=True)
    row = await _pictured(stack, session_factory, owner, name=f"Shown {tag}")
    await wait_ephemeral_text(
        await stack.command(owner_member, "character publish", {"character": row.id})
    )
    posts = [m for m in stack.fake.channel_messages(showcase["id"]) if m["embeds"]]
    assert len(posts) == 1
    assert f"remix:{row.id}" in custom_ids(posts[0])


# -- theme recipes -----------------------------------------------------------------------------


async def _recipe_theme(
    stack: Stack, session_factory, user: User, tag: str, prompts: list[str]
) -> tuple[Character, CharacterTheme]:
    source = await _pictured(stack, session_factory, user, name=f"Source {tag}")
    async with session_factory.begin() as s:
        theme = await make_theme(s, source, name=f"Seasons {tag}")
    for prompt in prompts:  # each its own transaction: its own created_at, oldest first
        async with session_factory.begin() as s:
            s.add(
                ThemeVariant(
                    theme_id=theme.id,
                    character_id=source.id,
                    prompt=prompt,
                    image_url=f"https://images.example/{prompt}.png",
                    meta={IMAGE_KEY: f"variants/{theme.id}/{prompt}.png"},
                )
            )
    return source, theme


async def test_theme_apply_runs_each_step_in_order_into_the_same_theme(
    stack: Stack, session_factory
):
    """/theme apply of a 3-variant theme: 3 image edits in order (oldest first) on the target's
    image, 3 variants under a theme of the same name on the target, 3 units charged; the
    progress lists each step; both options autocomplete from the caller's own."""
    tag = f"rcp{next(_n)}"
    member = stack.member(f"chef{tag}")
    user = await _user(session_factory, member, daily_quota=10)
    steps = ["make it snow", "add a red scarf", "at night"]
    _, theme = await _recipe_theme(stack, session_factory, user, tag, steps)
    room = stack.fake.add_text_channel(stack.guild.id, f"room-{tag}")
    target = await _pictured(
        stack,
        session_factory,
        user,
        TARGET_COLOUR,
        name=f"Target {tag}",
        meta={CONVERSATION_ID: room["id"]},
    )
    other = await _user(session_factory, stack.member(f"other{tag}"))
    async with session_factory.begin() as s:
        await make_theme(s, await make_character(s, other), name=f"Seasons {tag} foreign")

    themes = await stack.fake.autocomplete(
        member, stack.channel["id"], "theme apply", {"theme": "Seasons"}, focused="theme"
    )
    assert [c["value"] for c in themes] == [theme.id]
    characters = await stack.fake.autocomplete(
        member,
        stack.channel["id"],
        "theme apply",
        {"theme": theme.id, "character": "Target"},
        focused="character",
    )
    assert [c["value"] for c in characters] == [target.id]

    ix = await stack.command(member, "theme apply", {"theme": theme.id, "character": target.id})
    done = en("recipe.finished", made=3, steps=3, theme=f"Seasons {tag}")
    await ix.wait_for(lambda i: done in ((i.original() or {}).get("content") or ""), 60)
    final = ix.original()["content"]
    for i, step in enumerate(steps, 1):
        assert f"`{i}.` {step} — {en('recipe.step_done')}" in final

    edits = [r for r in stack.gemini.requests if r.kind == "image"]
    assert len(edits) == 3
    for request, step in zip(edits, steps, strict=True):  # in order, oldest first
        assert step in request.texts[-1]
    # the first step edits the target's portrait; each next one the step before it
    assert edits[0].images[-1] == png_bytes(TARGET_COLOUR, 64)
    assert edits[1].images[-1] == stack.gemini.image_png
    assert edits[2].images[-1] == stack.gemini.image_png

    async with session_factory() as s:
        made_theme = (
            await s.scalars(
                select(CharacterTheme).where(
                    CharacterTheme.character_id == target.id,
                    CharacterTheme.name == f"Seasons {tag}",
                )
            )
        ).one()
        made = (
            await s.scalars(
                select(ThemeVariant)
                .where(ThemeVariant.theme_id == made_theme.id)
                .order_by(ThemeVariant.created_at)
            )
        ).all()
    assert [v.prompt for v in made] == steps
    assert made[1].meta[PARENT_VARIANT_ID] == made[0].id  # the theme's chain, repeated
    assert made[2].meta[PARENT_VARIANT_ID] == made[1].id
    assert await _used(session_factory, user) == 3
    posted = [m for m in ix.messages() if m.get("embeds")]
    assert len(posted) >= 3


async def test_theme_apply_refused_up_front_when_the_quota_is_short(stack: Stack, session_factory):
    """With 2 units left, a 3-step recipe is refused before anything runs: nothing charged,
    no generation, no theme on the target."""
    tag = f"short{next(_n)}"
    member = stack.member(f"chef{tag}")
    user = await _user(session_factory, member, daily_quota=5, daily_used=3)
    _, theme = await _recipe_theme(stack, session_factory, user, tag, ["one", "two", "three"])
    target = await _pictured(stack, session_factory, user, name=f"Target {tag}")

    ix = await stack.command(member, "theme apply", {"theme": theme.id, "character": target.id})
    assert (await wait_ephemeral_text(ix)) == en("recipe.quota_short", steps=3, left=2)
    assert await _used(session_factory, user) == 3
    assert [r for r in stack.gemini.requests if r.kind == "image"] == []
    async with session_factory() as s:
        assert (
            await s.scalars(select(CharacterTheme).where(CharacterTheme.character_id == target.id))
        ).all() == []
        assert (
            await s.scalars(select(Generation).where(Generation.user_id == user.id))
        ).all() == []


async def test_theme_apply_failed_step_is_refunded_and_the_others_go_on(
    stack: Stack, session_factory
):
    """The image service fails the second step: it is refunded and marked failed in the list;
    the first and third are made (2 units used, 2 variants)."""
    tag = f"fail{next(_n)}"
    member = stack.member(f"chef{tag}")
    user = await _user(session_factory, member, daily_quota=10)
    _, theme = await _recipe_theme(stack, session_factory, user, tag, ["alpha", "beta", "gamma"])
    target = await _pictured(stack, session_factory, user, name=f"Target {tag}")

    stack.gemini.fail_matching("blocked", "beta")
    ix = await stack.command(member, "theme apply", {"theme": theme.id, "character": target.id})
    done = en("recipe.finished", made=2, steps=3, theme=f"Seasons {tag}")
    await ix.wait_for(lambda i: done in ((i.original() or {}).get("content") or ""), 60)
    final = ix.original()["content"]
    assert f"`1.` alpha — {en('recipe.step_done')}" in final
    assert f"`3.` gamma — {en('recipe.step_done')}" in final
    assert "`2.` beta — ❌" in final
    assert await _used(session_factory, user) == 2
