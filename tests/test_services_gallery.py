"""Gallery services, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

from bot.errors import InvalidInputError, NotFoundError
from bot.services import gallery as svc
from db.engine import Database
from db.models import Character
from tests.factories import make_character, make_user

BASE = datetime(2025, 1, 1, tzinfo=UTC)


async def showcaser(session, **overrides):
    """A member who showcases their public characters."""
    values = {"allow_gallery_showcase": True, "profile_visibility": "public"}
    values.update(overrides)
    return await make_user(session, **values)


async def published(session, user, minutes, **overrides):
    """A public completed character created ``minutes`` after BASE."""
    return await make_character(
        session, user, is_public=True, created_at=BASE + timedelta(minutes=minutes), **overrides
    )


async def walk(fetch, limit, **kwargs):
    """Every gallery page, following next cursors; the character ids in order."""
    ids, cursor = [], None
    while True:
        page = await fetch(cursor=cursor, limit=limit, **kwargs)
        ids += [e.character.id for e in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


async def test_browse_shows_only_showcased_public_completed(session):
    """Private, unfinished, non-showcasing and inactive owners' characters never appear."""
    good = await showcaser(session, display_name="Ada")
    shy = await make_user(session, allow_gallery_showcase=False)
    banned = await showcaser(session, account_status="banned")
    visible = await published(session, good, 1)
    await make_character(session, good, created_at=BASE)  # private
    await published(session, good, 2, generation_status="pending")
    await published(session, good, 3, generation_status="failed")
    await published(session, shy, 4)
    await published(session, banned, 5)
    page = await svc.browse(session)
    assert [e.character.id for e in page.items] == [visible.id]
    assert page.items[0].creator_display_name == "Ada"
    assert page.items[0].creator_name == "Ada"
    assert page.items[0].creator_id == good.id
    assert page.next_cursor is None


async def test_browse_newest_and_oldest_keyset_pages(session):
    """Both sort orders walk every entry exactly once in their order."""
    user = await showcaser(session)
    made = [await published(session, user, m) for m in range(12)]
    newest = await walk(lambda **kw: svc.browse(session, **kw), 5, sort="newest")
    oldest = await walk(lambda **kw: svc.browse(session, **kw), 5, sort="oldest")
    assert newest == [c.id for c in reversed(made)]
    assert oldest == [c.id for c in made]


async def test_browse_stable_while_publishing_in_between(session):
    """Characters published between page fetches neither repeat nor push others off a page."""
    user = await showcaser(session)
    made = [await published(session, user, m) for m in range(9)]
    first = await svc.browse(session, limit=4)
    await published(session, user, 1000)
    second = await svc.browse(session, cursor=first.next_cursor, limit=4)
    await published(session, user, 2000)
    third = await svc.browse(session, cursor=second.next_cursor, limit=4)
    walked = [e.character.id for p in (first, second, third) for e in p.items]
    assert walked == [c.id for c in reversed(made)]

    old_first = await svc.browse(session, sort="oldest", limit=4)
    await published(session, user, -50)  # older than everything: must not appear mid-walk
    old_second = await svc.browse(session, sort="oldest", cursor=old_first.next_cursor, limit=4)
    assert [e.character.id for e in old_second.items] == [c.id for c in made[4:8]]


async def test_browse_previous_page(session):
    """The previous-page cursor returns the earlier page in display order."""
    user = await showcaser(session)
    for m in range(8):
        await published(session, user, m)
    first = await svc.browse(session, limit=3)
    second = await svc.browse(session, cursor=first.next_cursor, limit=3)
    back = await svc.browse(session, cursor=second.prev_cursor, limit=3)
    assert [e.character.id for e in back.items] == [e.character.id for e in first.items]
    assert not back.has_previous


async def test_browse_style_and_tag_filters(session):
    """Style and tag filters narrow the gallery; tags match case-insensitively for a
    mixed-case query."""
    user = await showcaser(session)
    anime_cat = await published(session, user, 1, style_type="anime", tags=["cat", "cute"])
    anime_dog = await published(session, user, 2, style_type="anime", tags=["dog"])
    real_cat = await published(session, user, 3, style_type="realistic", tags=["cat"])

    async def ids(**kwargs):
        return {e.character.id for e in (await svc.browse(session, **kwargs)).items}

    assert await ids(style="anime") == {anime_cat.id, anime_dog.id}
    assert await ids(tag="cat") == {anime_cat.id, real_cat.id}
    assert await ids(tag="#Cat ") == {anime_cat.id, real_cat.id}
    assert await ids(style="anime", tag="cat") == {anime_cat.id}
    assert await ids(tag="bird") == set()
    assert await ids(tag="  ") == {anime_cat.id, anime_dog.id, real_cat.id}


async def test_browse_invalid_inputs(session):
    """Unknown style, unknown sort, an overlong tag and a garbage cursor are InvalidInputError."""
    for kwargs, key in [
        ({"style": "watercolor"}, "invalid.style"),
        ({"sort": "random"}, "invalid.sort"),
        ({"tag": "t" * 51}, "invalid.tag_too_long"),
        ({"cursor": "not-a-cursor"}, "invalid.cursor"),
    ]:
        with pytest.raises(InvalidInputError) as info:
            await svc.browse(session, **kwargs)
        assert info.value.reason_key == key


async def test_tag_filter_uses_the_gin_index(session):
    """The tag filter is ``tags @> ARRAY[...]``, which the GIN index idx_characters_tags
    serves."""
    condition = svc._tag_filter("cat")
    sql = str(
        select(Character.id)
        .where(condition)
        .compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )
    assert "@>" in sql
    assert "ANY" not in sql.upper()
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = (await session.execute(text("EXPLAIN " + sql))).scalars().all()
    assert "idx_characters_tags" in "\n".join(plan)


async def test_user_gallery_public_profile_visible_to_anyone(session):
    """A public profile's gallery shows that member's showcased characters to others."""
    member = await showcaser(session)
    viewer = await make_user(session)
    mine = [await published(session, member, m) for m in range(3)]
    await make_character(session, member)  # private
    await published(session, await showcaser(session), 9)  # someone else's
    ids = await walk(lambda **kw: svc.user_gallery(session, member.id, viewer.id, **kw), 2)
    assert ids == [c.id for c in reversed(mine)]


@pytest.mark.parametrize("visibility", ["private", "friends"])
async def test_user_gallery_private_or_friends_only_for_self(session, visibility):
    """Private and friends-only profiles refuse others with 'gallery.profile_private'; the
    member sees their own published characters."""
    member = await make_user(session, profile_visibility=visibility, allow_gallery_showcase=False)
    viewer = await make_user(session)
    character = await published(session, member, 1)
    with pytest.raises(svc.ProfilePrivateError) as info:
        await svc.user_gallery(session, member.id, viewer.id)
    assert info.value.reason_key == "gallery.profile_private"
    own = await svc.user_gallery(session, member.id, member.id)
    assert [e.character.id for e in own.items] == [character.id]


async def test_user_gallery_respects_showcase_for_others(session):
    """With a public profile but showcase off, others see an empty gallery."""
    member = await make_user(session, profile_visibility="public", allow_gallery_showcase=False)
    viewer = await make_user(session)
    await published(session, member, 1)
    assert (await svc.user_gallery(session, member.id, viewer.id)).items == []


async def test_user_gallery_unknown_member(session):
    """An unknown or malformed member id is NotFoundError."""
    viewer = await make_user(session)
    for bad in ("00000000-0000-0000-0000-000000000000", "no such user!"):
        with pytest.raises(NotFoundError):
            await svc.user_gallery(session, bad, viewer.id)


async def test_page_use_cases_read_what_the_session_steps_read(session_factory):
    """browse_page and user_gallery_page give the pages browse and user_gallery give, on their
    own read; a bad sort is refused as before."""
    db = Database(session_factory)
    async with session_factory.begin() as s:
        owner = await showcaser(s)
        viewer = await make_user(s)
        old = await published(s, owner, 1, style_type="anime", tags=["knight"])
        new = await published(s, owner, 2, tags=["knight"])
    newest = await svc.browse_page(db, svc.BrowseFilters(tag="Knight"), None, 5)
    assert [e.character.id for e in newest.items] == [new.id, old.id]
    oldest = await svc.browse_page(db, svc.BrowseFilters(sort="oldest"), None, 1)
    assert [e.character.id for e in oldest.items] == [old.id]
    assert oldest.next_cursor is not None
    anime = await svc.browse_page(db, svc.BrowseFilters(style="anime"), None, 5)
    assert [e.character.id for e in anime.items] == [old.id]
    with pytest.raises(InvalidInputError):
        await svc.browse_page(db, svc.BrowseFilters(sort="sideways"), None, 5)
    first = await svc.user_gallery_page(db, owner.id, viewer.id, None, 1)
    assert [e.character.id for e in first.items] == [new.id]
    second = await svc.user_gallery_page(db, owner.id, viewer.id, first.next_cursor, 1)
    assert [e.character.id for e in second.items] == [old.id]


async def test_a_second_showcase_post_of_the_same_character_is_not_recorded(session_factory):
    """Two publishes at once both post to the showcase channel (found by the fuzz test): the
    first post is recorded, the second is told to remove its message instead of failing."""
    from bot.services import showcase
    from db.bot_models import ShowcasePost

    db = Database(session_factory)
    async with session_factory.begin() as s:
        owner = await make_user(s)
        character = await make_character(s, owner, is_public=True)
    assert await showcase.record_post(db, character.id, 77, 1, 100) is True
    assert await showcase.record_post(db, character.id, 77, 1, 101) is False
    async with session_factory() as s:
        posts = (await s.scalars(select(ShowcasePost))).all()
    assert [(p.guild_id, p.message_id) for p in posts] == [(77, 100)]
