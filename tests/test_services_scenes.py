"""The scene services on a real database: the cast as typed (ids, short ids, names; two to four;
each once; the member's own or public ones), the autocomplete that completes the list's last
item, the prompt, and the gallery rule on the cast."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.errors import InvalidInputError
from bot.services.scenes.cast import cast_choices, resolve_cast
from bot.services.scenes.gallery import scene_gallery_page
from bot.services.scenes.prompt import scene_prompt
from bot.services.visibility import scene_in_gallery
from db.bot_models import GuildHiddenCharacter
from db.engine import Database
from db.scene_models import Scene, SceneCharacter
from tests.factories import make_character, make_user


async def _pictured(session, user, name, **kw):
    return await make_character(
        session, user, name=name, meta={"imageKey": f"characters/x/{name}.png"}, **kw
    )


async def _members(session):
    """Two members who show their public characters (the gallery's opt-in)."""
    return (
        await make_user(session, allow_gallery_showcase=True),
        await make_user(session, allow_gallery_showcase=True),
    )


async def test_the_cast_resolves_ids_short_ids_and_names_in_order(session):
    me, other = await _members(session)
    aria = await _pictured(session, me, "Aria")
    bram = await _pictured(session, me, "Bram")
    cador = await _pictured(session, other, "Cador", is_public=True)
    cast = await resolve_cast(session, f"aria , {bram.id}, {cador.id[:8]}", me.id, None)
    assert [c.id for c in cast] == [aria.id, bram.id, cador.id]
    by_name = await resolve_cast(session, "Cador, Aria", me.id, None)
    assert [c.id for c in by_name] == [cador.id, aria.id]


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("Aria", "invalid.scene_count"),
        ("Aria, Bram, Cador, Aria, Bram", "invalid.scene_count"),
        ("Aria, aria", "invalid.scene_duplicate"),
        ("Aria, Dindrane", "invalid.scene_unavailable"),
        ("Aria, nobody at all", "invalid.scene_unavailable"),
        ("Aria, Sketch", "invalid.scene_no_portrait"),
    ],
)
async def test_refused_casts_say_why(session, typed, reason):
    me, other = await _members(session)
    await _pictured(session, me, "Aria")
    await _pictured(session, me, "Bram")
    await _pictured(session, other, "Cador", is_public=True)
    await _pictured(session, other, "Dindrane")  # private
    await make_character(session, me, name="Sketch")  # no stored portrait
    with pytest.raises(InvalidInputError) as caught:
        await resolve_cast(session, typed, me.id, None)
    assert caught.value.reason_key == reason


async def test_the_prompt_names_each_character_in_order_and_the_setting(session):
    me = await make_user(session)
    aria = await _pictured(session, me, "Aria", clothing="a red cloak", gender="woman")
    bram = await _pictured(session, me, "Bram")
    prompt = scene_prompt([aria, bram], "a tavern at night", "Old friends")
    assert prompt.index("1. Aria") < prompt.index("2. Bram")
    assert "a red cloak" in prompt
    assert "a tavern at night" in prompt


async def test_autocomplete_completes_the_last_item_keeping_the_earlier_ones(
    engine, session_factory
):
    db = Database(session_factory)
    async with session_factory.begin() as session:
        me, other = await _members(session)
        aria = await _pictured(session, me, "Aria Autocomplete")
        cador = await _pictured(session, other, "Arian Public", is_public=True)
        await _pictured(session, other, "Arial Private")
    first = await cast_choices(db, me.id, "aria", None)
    assert [v for v, _ in first][:2] == [aria.id[:8], cador.id[:8]]  # the member's own first
    assert all("Private" not in label for _, label in first)
    second = await cast_choices(db, me.id, f"{aria.id[:8]}, arian", None)
    assert (f"{aria.id[:8]}, {cador.id[:8]}", f"{aria.id[:8]}, Arian Public") in second


async def test_the_gallery_page_lists_a_scene_with_another_members_public_character(
    session_factory,
):
    async with session_factory.begin() as session:
        me, other = await _members(session)
        mine = await _pictured(session, me, "Mine Gallery")
        theirs = await _pictured(session, other, "Theirs Gallery", is_public=True)
        scene = Scene(
            user_id=me.id, setting="a field", is_public=True, generation_status="completed"
        )
        session.add(scene)
        await session.flush()
        for position, character in enumerate((mine, theirs)):
            session.add(
                SceneCharacter(scene_id=scene.id, character_id=character.id, position=position)
            )
    page = await scene_gallery_page(Database(session_factory), None, 5, guild_id=None)
    assert [entry.view.scene.id for entry in page.items] == [scene.id]
    assert page.items[0].creator_name == me.display_name
    assert page.items[0].view.cast[1].owner_name == other.display_name


async def test_a_public_scene_shows_only_while_its_cast_is_public_or_the_creators(session):
    me, other = await _members(session)
    mine = await _pictured(session, me, "Mine")  # private, but the creator's own
    theirs = await _pictured(session, other, "Theirs", is_public=True)
    scene = Scene(user_id=me.id, setting="a field", is_public=True, generation_status="completed")
    session.add(scene)
    await session.flush()
    for position, character in enumerate((mine, theirs)):
        session.add(SceneCharacter(scene_id=scene.id, character_id=character.id, position=position))
    await session.flush()

    async def shown() -> bool:
        found = await session.scalar(
            select(Scene.id).where(Scene.id == scene.id, scene_in_gallery(None))
        )
        return found is not None

    assert await shown()
    theirs.is_public = False
    await session.flush()
    assert not await shown()
    theirs.is_public = True
    scene.is_public = False
    await session.flush()
    assert not await shown()


async def test_a_character_hidden_in_a_guild_keeps_it_out_of_scenes_there_only(session):
    """Hidden by one guild's moderators: not castable in that guild, and a public scene with
    it is not in that guild's gallery; elsewhere both still hold."""
    me, other = await _members(session)
    mine = await _pictured(session, me, "Mine Hidden")
    theirs = await _pictured(session, other, "Theirs Hidden", is_public=True)
    scene = Scene(user_id=me.id, setting="a field", is_public=True, generation_status="completed")
    session.add(scene)
    await session.flush()
    for position, character in enumerate((mine, theirs)):
        session.add(SceneCharacter(scene_id=scene.id, character_id=character.id, position=position))
    session.add(GuildHiddenCharacter(guild_id=42, character_id=theirs.id, moderator_discord_id=1))
    await session.flush()

    async def shown(guild_id: int | None) -> bool:
        found = await session.scalar(
            select(Scene.id).where(Scene.id == scene.id, scene_in_gallery(guild_id))
        )
        return found is not None

    assert await shown(None)
    assert await shown(7)
    assert not await shown(42)
    typed = f"{mine.id}, {theirs.id}"
    assert len(await resolve_cast(session, typed, me.id, 7)) == 2
    with pytest.raises(InvalidInputError) as caught:
        await resolve_cast(session, typed, me.id, 42)
    assert caught.value.reason_key == "invalid.scene_unavailable"
