"""Remix rules and counts, the remix setting, and theme recipes' up-front checks, against the
real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import InvalidInputError, NotOwnerError
from bot.services import remix
from bot.services.accounts import SettingsChange, update_settings
from bot.services.member_settings import allows_remix, set_allow_remix
from bot.services.remix_rules import remixable
from bot.services.themes.recipes import MAX_RECIPE_STEPS, recipe_for
from db.bot_models import GuildHiddenCharacter
from db.engine import Database
from db.meta import IMAGE_KEY, REMIX_OF
from db.models import Character
from tests.factories import make_character, make_theme, make_user, make_variant

IMAGE = {IMAGE_KEY: "characters/x/portrait.png"}


async def _public(session, **owner: object) -> Character:
    user = await make_user(session, **{"allow_gallery_showcase": True, **owner})
    return await make_character(session, user, is_public=True, meta=dict(IMAGE))


async def test_public_character_is_remixable_with_its_creators_display_name(session):
    """Another member may remix a publicly visible character; the source names its creator
    by display name and carries their Discord id only for the DM."""
    original = await _public(session, display_name="Morgana")
    presser = await make_user(session)
    source = await remixable(session, original.id, presser.id)
    assert source.character.id == original.id
    assert source.creator_name == "Morgana"
    assert source.owner_id == original.user_id
    assert source.owner_discord_id is not None


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"is_public": False}, id="private"),
        pytest.param({"generation_status": "pending"}, id="unfinished"),
    ],
)
async def test_a_character_outside_the_gallery_is_not_remixable(session, change):
    """Private or unfinished characters are refused like unknown ids (remix.not_public)."""
    original = await _public(session)
    for key, value in change.items():
        setattr(original, key, value)
    await session.flush()
    presser = await make_user(session)
    for character_id in (original.id, "00000000-0000-0000-0000-000000000000", "x' OR 1=1"):
        with pytest.raises(InvalidInputError) as info:
            await remixable(session, character_id, presser.id)
        assert info.value.reason_key == "remix.not_public"


async def test_suspended_or_opted_out_owner_hides_the_character_from_remix(session):
    """A character whose owner is suspended or left the showcase is not in the gallery."""
    for owner in ({"account_status": "suspended"}, {"allow_gallery_showcase": False}):
        original = await _public(session, **owner)
        presser = await make_user(session)
        with pytest.raises(InvalidInputError) as info:
            await remixable(session, original.id, presser.id)
        assert info.value.reason_key == "remix.not_public"


async def test_a_character_hidden_in_a_guild_is_not_remixable_there(session):
    """A guild's moderators hid it: refused in that guild, still remixable elsewhere."""
    original = await _public(session)
    presser = await make_user(session)
    session.add(GuildHiddenCharacter(guild_id=42, character_id=original.id, moderator_discord_id=1))
    await session.flush()
    with pytest.raises(InvalidInputError) as info:
        await remixable(session, original.id, presser.id, 42)
    assert info.value.reason_key == "remix.not_public"
    assert (await remixable(session, original.id, presser.id, 43)).character.id == original.id
    assert (await remixable(session, original.id, presser.id)).character.id == original.id


async def test_remixes_off_refuse_others_but_not_the_owner(session):
    """With remixes off, another member is refused (remix.off); the owner still may."""
    original = await _public(session)
    assert await allows_remix(session, original.user_id) is True
    await set_allow_remix(session, original.user_id, False)
    assert await allows_remix(session, original.user_id) is False
    presser = await make_user(session)
    with pytest.raises(InvalidInputError) as info:
        await remixable(session, original.id, presser.id)
    assert info.value.reason_key == "remix.off"
    assert (await remixable(session, original.id, original.user_id)).character.id == original.id
    await set_allow_remix(session, original.user_id, True)
    assert (await remixable(session, original.id, presser.id)).character.id == original.id


async def test_settings_change_records_the_remix_choice(session):
    """/settings remixes:false goes through the settings change like the other settings."""
    user = await make_user(session)
    await update_settings(session, user.id, SettingsChange(allow_remix=False))
    assert await allows_remix(session, user.id) is False
    await update_settings(session, user.id, SettingsChange(language="ja"))
    assert await allows_remix(session, user.id) is False


async def test_remix_count_counts_finished_remixes_only(session_factory):
    """The count of /character show: finished characters whose remixOf names the original."""
    async with session_factory.begin() as s:
        original = await _public(s)
        other = await _public(s)
        presser = await make_user(s)
        for status in ("completed", "completed", "failed"):
            await make_character(s, presser, generation_status=status, meta={REMIX_OF: original.id})
        await make_character(s, presser, meta={REMIX_OF: other.id})
    db = Database(session_factory)
    assert await remix.remix_count(db, original.id) == 2
    assert await remix.remix_count(db, other.id) == 1
    assert await remix.remix_count(db, presser.id) == 0


def test_remix_description_leads_with_the_change_and_fits():
    """The instruction comes first; the original's attributes follow; the whole fits the
    create description's limit."""
    character = Character(
        prompt="p",
        description="a sorceress " * 400,
        personality=["proud"],
        clothing="a grey cloak",
    )
    text = remix.remix_description(character, "as a pirate")
    assert text.startswith("Change: as a pirate\na sorceress")
    assert len(text) <= 2000


async def _recipe_setup(s, prompts: list[str], **user: object):
    owner = await make_user(s, **user)
    source = await make_character(s, owner, meta=dict(IMAGE))
    target = await make_character(s, owner, meta=dict(IMAGE))
    theme = await make_theme(s, source, name="Seasons")
    for i, prompt in enumerate(prompts):
        variant = await make_variant(s, theme, prompt=prompt)
        variant.created_at = datetime(2025, 1, 1, 0, i, tzinfo=UTC)
    await s.flush()
    return owner, source, target, theme


async def test_recipe_lists_instructions_oldest_first(session_factory):
    """The recipe is the theme's instructions in creation order, for the target."""
    async with session_factory.begin() as s:
        owner, _, target, theme = await _recipe_setup(s, ["b-first", "a-second", "c-third"])
    recipe = await recipe_for(Database(session_factory), theme.id, target.id, owner.id)
    assert recipe.instructions == ["b-first", "a-second", "c-third"]
    assert (recipe.theme_name, recipe.target_id) == ("Seasons", target.id)


@pytest.mark.parametrize(
    ("prompts", "user", "key"),
    [
        pytest.param(["a", "b", "c"], {"daily_quota": 5, "daily_used": 3}, "recipe.quota_short"),
        pytest.param([], {}, "recipe.empty"),
        pytest.param(["x"] * (MAX_RECIPE_STEPS + 1), {"daily_quota": 99}, "recipe.too_long"),
    ],
)
async def test_recipe_refused_up_front(session_factory, prompts, user, key):
    """Too few units left, an empty theme or too many steps: refused before anything runs."""
    async with session_factory.begin() as s:
        owner, _, target, theme = await _recipe_setup(s, prompts, **user)
    with pytest.raises(InvalidInputError) as info:
        await recipe_for(Database(session_factory), theme.id, target.id, owner.id)
    assert info.value.reason_key == key


async def test_recipe_refuses_the_themes_own_character_and_others_characters(session_factory):
    """The target must be another of the caller's own characters."""
    async with session_factory.begin() as s:
        owner, source, _, theme = await _recipe_setup(s, ["a"])
        stranger = await make_user(s)
        theirs = await make_character(s, stranger, meta=dict(IMAGE))
    db = Database(session_factory)
    with pytest.raises(InvalidInputError) as info:
        await recipe_for(db, theme.id, source.id, owner.id)
    assert info.value.reason_key == "recipe.same_character"
    with pytest.raises(NotOwnerError):
        await recipe_for(db, theme.id, theirs.id, owner.id)
    with pytest.raises(NotOwnerError):
        await recipe_for(db, theme.id, theirs.id, stranger.id)
