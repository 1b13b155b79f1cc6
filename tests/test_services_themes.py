"""Theme and variant services, against the real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.errors import ConflictError, InvalidInputError, NotFoundError, NotOwnerError
from bot.services import themes as svc
from db.models import CharacterTheme, ThemeVariant
from tests.factories import make_character, make_theme, make_user, make_variant

BASE = datetime(2025, 1, 1, tzinfo=UTC)


async def variant_at(session, theme, minutes, keys=None):
    """A variant created ``minutes`` after BASE, optionally with storage keys."""
    variant = await make_variant(session, theme, prompt=f"edit {minutes}")
    variant.created_at = BASE + timedelta(minutes=minutes)
    variant.thumbnail_url = f"https://images.example/v{minutes}_thumb.webp"
    if keys:
        variant.meta = keys
    await session.flush()
    return variant


# --- themes ---------------------------------------------------------------------------------


async def test_create_theme_strips_and_stores(session):
    """The owner creates a theme; name and description are stripped."""
    user = await make_user(session)
    character = await make_character(session, user)
    theme = await svc.create_theme(session, character.id, user.id, "  Winter  ", " Snowy ")
    assert (theme.name, theme.description, theme.character_id) == ("Winter", "Snowy", character.id)


async def test_create_theme_duplicate_name_conflicts(session):
    """A duplicate name (any case) raises ConflictError('conflict.theme_exists')."""
    user = await make_user(session)
    character = await make_character(session, user)
    await svc.create_theme(session, character.id, user.id, "Winter")
    for name in ("Winter", "winter "):
        with pytest.raises(ConflictError) as info:
            await svc.create_theme(session, character.id, user.id, name)
        assert info.value.reason_key == "conflict.theme_exists"
    count = await session.scalar(
        select(func.count()).where(CharacterTheme.character_id == character.id)
    )
    assert count == 1


async def test_create_theme_same_name_on_another_character_is_fine(session):
    """Theme names are unique per character only."""
    user = await make_user(session)
    a, b = await make_character(session, user), await make_character(session, user)
    await svc.create_theme(session, a.id, user.id, "Winter")
    assert (await svc.create_theme(session, b.id, user.id, "Winter")).character_id == b.id


async def test_create_theme_concurrent_duplicates_one_wins(session_factory):
    """Two concurrent creates of the same name: one theme, the other gets ConflictError."""
    async with session_factory() as s, s.begin():
        user = await make_user(s)
        character = await make_character(s, user)

    async def create():
        async with session_factory() as s, s.begin():
            return await svc.create_theme(s, character.id, user.id, "Race")

    results = await asyncio.gather(create(), create(), return_exceptions=True)
    assert sum(isinstance(r, CharacterTheme) for r in results) == 1
    assert sum(isinstance(r, ConflictError) for r in results) == 1


async def test_create_theme_validation(session):
    """Empty, too-long names and too-long descriptions are InvalidInputError with keys."""
    user = await make_user(session)
    character = await make_character(session, user)
    cases = [
        (("   ",), "invalid.theme_name_empty"),
        (("x" * 51,), "invalid.theme_name_too_long"),
        (("ok", "d" * 201), "invalid.theme_description_too_long"),
    ]
    for args, key in cases:
        with pytest.raises(InvalidInputError) as info:
            await svc.create_theme(session, character.id, user.id, *args)
        assert info.value.reason_key == key
    assert (await svc.create_theme(session, character.id, user.id, "x" * 50, "d" * 200)).name


async def test_create_theme_by_another_user_is_refused(session):
    """A non-owner cannot create a theme on someone's character; nothing is created."""
    owner, other = await make_user(session), await make_user(session)
    character = await make_character(session, owner)
    with pytest.raises(NotOwnerError):
        await svc.create_theme(session, character.id, other.id, "Mine now")
    assert await svc.find_theme_by_name(session, character.id, "Mine now") is None


async def test_get_or_create_theme_is_idempotent(session):
    """The default theme is created once and then returned as is."""
    user = await make_user(session)
    character = await make_character(session, user)
    first = await svc.get_or_create_theme(session, character.id, svc.DEFAULT_THEME)
    second = await svc.get_or_create_theme(session, character.id)
    assert first.id == second.id
    assert first.name == "Variations"


async def test_get_or_create_theme_concurrently_creates_one(session_factory):
    """Five concurrent get-or-creates of the same theme return one row."""
    async with session_factory() as s, s.begin():
        user = await make_user(s)
        character = await make_character(s, user)

    async def get():
        async with session_factory() as s, s.begin():
            return (await svc.get_or_create_theme(s, character.id)).id

    ids = await asyncio.gather(*(get() for _ in range(5)))
    assert len(set(ids)) == 1


async def test_get_or_create_theme_unknown_character(session):
    """A missing character is NotFoundError, not a foreign-key error."""
    with pytest.raises(NotFoundError):
        await svc.get_or_create_theme(session, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFoundError):
        await svc.get_or_create_theme(session, "bad id!")


async def test_find_theme_by_name_prefers_exact(session):
    """Exact names win; otherwise a case-insensitive match is returned."""
    user = await make_user(session)
    character = await make_character(session, user)
    lower = await make_theme(session, character, "winter")
    upper = await make_theme(session, character, "Winter")
    assert (await svc.find_theme_by_name(session, character.id, "Winter")).id == upper.id
    assert (await svc.find_theme_by_name(session, character.id, "winter")).id == lower.id
    found = await svc.find_theme_by_name(session, character.id, "WINTER")
    assert found.id in {lower.id, upper.id}
    assert await svc.find_theme_by_name(session, character.id, "Summer") is None


async def test_list_themes_counts_and_latest_thumbnail(session):
    """Themes list their variant count and newest variant's thumbnail."""
    user = await make_user(session)
    character = await make_character(session, user)
    winter = await make_theme(session, character, "Winter")
    empty = await make_theme(session, character, "Empty")
    await variant_at(session, winter, 1)
    await variant_at(session, winter, 5)
    await variant_at(session, winter, 3)
    summaries = {t.name: t for t in await svc.list_themes(session, character.id, user.id)}
    assert summaries["Winter"].variant_count == 3
    assert summaries["Winter"].latest_thumbnail_url == "https://images.example/v5_thumb.webp"
    assert summaries["Empty"].variant_count == 0
    assert summaries["Empty"].latest_thumbnail_url is None
    assert summaries["Empty"].id == empty.id


async def test_list_themes_visibility(session):
    """Others see themes of a publicly visible character only."""
    owner = await make_user(session, allow_gallery_showcase=True)
    viewer = await make_user(session)
    private = await make_character(session, owner)
    public = await make_character(session, owner, is_public=True)
    await make_theme(session, private)
    await make_theme(session, public)
    assert len(await svc.list_themes(session, public.id, viewer.id)) == 1
    with pytest.raises(NotFoundError):
        await svc.list_themes(session, private.id, viewer.id)


async def test_rename_theme(session):
    """The owner renames a theme; renaming onto another theme's name conflicts."""
    user = await make_user(session)
    character = await make_character(session, user)
    winter = await make_theme(session, character, "Winter")
    await make_theme(session, character, "Summer")
    renamed = await svc.rename_theme(session, winter.id, user.id, " Snow ")
    assert renamed.name == "Snow"
    assert (await svc.rename_theme(session, winter.id, user.id, "Snow")).name == "Snow"
    with pytest.raises(ConflictError):
        await svc.rename_theme(session, winter.id, user.id, "SUMMER")
    with pytest.raises(InvalidInputError):
        await svc.rename_theme(session, winter.id, user.id, "")


async def test_rename_theme_only_changes_case(session):
    """Renaming a theme to a different case of its own name is allowed."""
    user = await make_user(session)
    character = await make_character(session, user)
    theme = await make_theme(session, character, "winter")
    assert (await svc.rename_theme(session, theme.id, user.id, "Winter")).name == "Winter"


async def test_theme_ownership_for_rename_and_delete(session):
    """A non-owner cannot rename or delete a theme; it is unchanged."""
    owner, other = await make_user(session), await make_user(session)
    character = await make_character(session, owner)
    theme = await make_theme(session, character, "Winter")
    with pytest.raises(NotOwnerError):
        await svc.rename_theme(session, theme.id, other.id, "Hacked")
    with pytest.raises(NotOwnerError):
        await svc.delete_theme(session, theme.id, other.id)
    assert (await svc.get_owned_theme(session, theme.id, owner.id)).name == "Winter"
    with pytest.raises(NotFoundError):
        await svc.get_owned_theme(session, "nope nope", owner.id)


async def test_delete_theme_returns_keys_and_cascades_variants(session):
    """Deleting a theme removes its variants and returns their storage keys."""
    user = await make_user(session)
    character = await make_character(session, user)
    theme = await make_theme(session, character, "Winter")
    other_theme = await make_theme(session, character, "Summer")
    await variant_at(session, theme, 1, {"imageKey": "v/1.png", "thumbnailKey": "v/1_t.webp"})
    await variant_at(session, theme, 2, {"imageKey": "v/2.png"})
    kept = await variant_at(session, other_theme, 3, {"imageKey": "v/3.png"})
    keys = await svc.delete_theme(session, theme.id, user.id)
    assert sorted(keys) == ["v/1.png", "v/1_t.webp", "v/2.png"]
    left = (await session.scalars(select(ThemeVariant.id))).all()
    assert kept.id in left
    gone = await session.scalar(
        select(func.count()).select_from(ThemeVariant).where(ThemeVariant.theme_id == theme.id)
    )
    assert gone == 0


async def test_autocomplete_themes_own_only_with_labels(session):
    """Theme autocomplete lists only the caller's themes, labelled "Character · Theme"."""
    me = await make_user(session)
    other = await make_user(session, allow_gallery_showcase=True)
    mine = await make_character(session, me, name="Nova")
    theirs = await make_character(session, other, name="Nova", is_public=True)
    pending = await make_character(session, me, name="Nova", generation_status="pending")
    winter = await make_theme(session, mine, "Winter")
    await make_theme(session, theirs, "Winter")
    await make_theme(session, pending, "Winter")
    assert await svc.autocomplete_themes(session, me.id, "win") == [(winter.id, "Nova · Winter")]
    assert await svc.autocomplete_themes(session, me.id, "nov") == [(winter.id, "Nova · Winter")]
    assert await svc.autocomplete_themes(session, other.id, "", character_id=mine.id) == []


async def test_autocomplete_themes_filter_by_character_and_rank(session):
    """A character filter narrows the list; theme-name prefix matches rank first."""
    me = await make_user(session)
    a = await make_character(session, me, name="Alpha")
    b = await make_character(session, me, name="Beta")
    a_snow = await make_theme(session, a, "Snow day")
    a_first = await make_theme(session, a, "First snow")
    b_snow = await make_theme(session, b, "Snowfall")
    ranked = [i for i, _ in await svc.autocomplete_themes(session, me.id, "snow")]
    assert set(ranked[:2]) == {a_snow.id, b_snow.id}
    assert ranked[2] == a_first.id
    only_a = await svc.autocomplete_themes(session, me.id, "", character_id=a.id)
    assert {i for i, _ in only_a} == {a_snow.id, a_first.id}


async def test_autocomplete_theme_label_fits_discord(session):
    """Labels never exceed 100 characters even with a 100-character character name."""
    me = await make_user(session)
    character = await make_character(session, me, name="N" * 100)
    await make_theme(session, character, "T" * 50)
    [(_, label)] = await svc.autocomplete_themes(session, me.id, "")
    assert len(label) <= 100
    assert label == "N" * 47 + "… · " + "T" * 47 + "…"


# --- variants -------------------------------------------------------------------------------


async def test_list_variants_pages_stably(session):
    """Variants page newest first; a variant added between fetches causes no repeat or skip."""
    user = await make_user(session)
    character = await make_character(session, user)
    theme = await make_theme(session, character)
    made = [await variant_at(session, theme, m) for m in range(7)]
    first = await svc.list_variants(session, theme.id, user.id, limit=3)
    await variant_at(session, theme, 100)
    second = await svc.list_variants(session, theme.id, user.id, cursor=first.next_cursor, limit=3)
    third = await svc.list_variants(session, theme.id, user.id, cursor=second.next_cursor, limit=3)
    walked = [v.id for p in (first, second, third) for v in p.items]
    assert walked == [v.id for v in reversed(made)]
    assert third.next_cursor is None


async def test_list_variants_visibility(session):
    """Others may list variants of a publicly visible character only."""
    owner = await make_user(session, allow_gallery_showcase=True)
    viewer = await make_user(session)
    private = await make_character(session, owner)
    public = await make_character(session, owner, is_public=True)
    private_theme, public_theme = (
        await make_theme(session, private),
        await make_theme(session, public),
    )
    await make_variant(session, public_theme)
    assert len((await svc.list_variants(session, public_theme.id, viewer.id)).items) == 1
    with pytest.raises(NotFoundError):
        await svc.list_variants(session, private_theme.id, viewer.id)
    with pytest.raises(NotFoundError):
        await svc.list_variants(session, "missing", viewer.id)


async def test_delete_variant_returns_keys_and_checks_owner(session):
    """Only the owner deletes a variant; its storage keys come back."""
    owner, other = await make_user(session), await make_user(session)
    character = await make_character(session, owner)
    theme = await make_theme(session, character)
    variant = await variant_at(session, theme, 1, {"imageKey": "v.png", "thumbnailKey": "t.webp"})
    with pytest.raises(NotOwnerError):
        await svc.delete_variant(session, variant.id, other.id)
    with pytest.raises(NotOwnerError):
        await svc.get_owned_variant(session, variant.id, other.id)
    assert (await svc.get_owned_variant(session, variant.id, owner.id)).id == variant.id
    assert await svc.delete_variant(session, variant.id, owner.id) == ["v.png", "t.webp"]
    with pytest.raises(NotFoundError):
        await svc.get_owned_variant(session, variant.id, owner.id)


async def test_autocomplete_variants_own_only(session):
    """Variant autocomplete matches instruction, theme or character name, own variants only."""
    me, other = await make_user(session), await make_user(session)
    mine = await make_character(session, me, name="Nova")
    theirs = await make_character(session, other, name="Nova")
    my_theme = await make_theme(session, mine, "Winter")
    smile = await make_variant(session, my_theme, prompt="make them smile")
    await make_variant(session, await make_theme(session, theirs, "Winter"), prompt="smile")
    result = await svc.autocomplete_variants(session, me.id, "smile")
    assert result == [(smile.id, "Nova · Winter · make them smile")]
    assert [i for i, _ in await svc.autocomplete_variants(session, me.id, "wint")] == [smile.id]
    assert await svc.autocomplete_variants(session, me.id, "frown") == []


async def test_create_theme_race_is_caught_in_a_savepoint(session, monkeypatch):
    """When the pre-check misses a concurrent insert, the UNIQUE violation becomes
    ConflictError and the caller's transaction stays usable."""
    user = await make_user(session)
    character = await make_character(session, user)
    await make_theme(session, character, "Winter")

    async def blind(*_args, **_kwargs):
        return None

    monkeypatch.setattr(svc, "find_theme_by_name", blind)
    with pytest.raises(ConflictError) as info:
        await svc.create_theme(session, character.id, user.id, "Winter")
    assert info.value.reason_key == "conflict.theme_exists"
    assert (await svc.create_theme(session, character.id, user.id, "Spring")).name == "Spring"


async def test_a_theme_deleted_twice_at_once_is_deleted_once(session_factory):
    """Two deletes of the same theme, each loaded before the other committed (a double press):
    the first deletes it and returns its keys; the second is told it is gone, and returns no
    keys as if it had deleted it."""
    async with session_factory() as s, s.begin():
        user = await make_user(s)
        character = await make_character(s, user)
        theme = await make_theme(s, character, "Winter")
        await variant_at(s, theme, 1, {"imageKey": "v/1.png"})
    first = session_factory()
    second = session_factory()
    async with first, second:
        await first.begin()
        await second.begin()
        keys = await svc.delete_theme(first, theme.id, user.id)
        late = asyncio.create_task(svc.delete_theme(second, theme.id, user.id))
        await asyncio.sleep(0.2)  # loaded, now waiting on the first one's row lock
        await first.commit()
        with pytest.raises(NotFoundError):
            await late
        await second.rollback()
    assert keys == ["v/1.png"]
    async with session_factory() as s:
        assert await s.get(CharacterTheme, theme.id) is None
