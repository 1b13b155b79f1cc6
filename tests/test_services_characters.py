"""Character services and keyset pagination, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql

from bot.errors import InvalidInputError, NotFoundError, NotOwnerError
from bot.services import characters as svc
from bot.services.pagination import (
    MAX_CURSOR_LENGTH,
    decode_cursor,
    encode_cursor,
    escape_like,
    parse_cursor,
)
from db.models import Character, CharacterCollection, CharacterCollectionItem, ThemeVariant
from tests.factories import make_character, make_theme, make_user, make_variant

BASE = datetime(2025, 1, 1, tzinfo=UTC)


async def make_timeline(session, user, count, **overrides):
    """``count`` completed characters one minute apart (oldest first)."""
    return [
        await make_character(
            session, user, created_at=BASE + timedelta(minutes=i), name=f"Timeline {i}", **overrides
        )
        for i in range(count)
    ]


async def walk(fetch, limit):
    """Every page of a listing, following next cursors; returns the pages' id lists."""
    pages, cursor = [], None
    while True:
        page = await fetch(cursor=cursor, limit=limit)
        pages.append([c.id for c in page.items])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


# --- cursors --------------------------------------------------------------------------------


def test_cursor_round_trips_timestamp_and_id():
    """A cursor decodes to exactly the microsecond timestamp and id it was made from."""
    when = datetime(2025, 6, 7, 8, 9, 10, 123456, tzinfo=UTC)
    cursor = encode_cursor(when, "0b8e4f2c-1d3a-4c5e-9f00-aa11bb22cc33")
    assert decode_cursor(cursor) == (when, "0b8e4f2c-1d3a-4c5e-9f00-aa11bb22cc33")


def test_cursor_is_short_and_url_safe():
    """A UUID cursor fits the 60-character budget and uses only URL-safe characters."""
    cursor = encode_cursor(datetime.now(UTC), "0b8e4f2c-1d3a-4c5e-9f00-aa11bb22cc33", "prev")
    assert len(cursor) <= MAX_CURSOR_LENGTH
    assert all(ch.isalnum() or ch in "-._~" for ch in cursor)
    assert parse_cursor(cursor).direction == "prev"


def test_cursor_carries_ids_that_are_not_url_safe():
    """An id with unsafe characters is carried base64url-encoded and decoded back."""
    when = datetime(2024, 2, 29, tzinfo=UTC)
    cursor = encode_cursor(when, "odd id/with:chars")
    assert " " not in cursor
    assert "/" not in cursor
    assert decode_cursor(cursor) == (when, "odd id/with:chars")


def test_cursor_timezone_is_normalised():
    """A timestamp in another zone decodes to the same instant."""
    when = datetime(2025, 3, 1, 12, 0, tzinfo=UTC).astimezone()
    assert decode_cursor(encode_cursor(when, "x"))[0] == when


@pytest.mark.parametrize(
    "garbage", ["", "hello", "n.", "nzz", "x123.abc", "n123.", "n" + "z" * 15 + ".a", "n1.~@@"]
)
def test_garbage_cursor_is_invalid_input(garbage):
    """A cursor that is not one of ours raises InvalidInputError('invalid.cursor')."""
    with pytest.raises(InvalidInputError) as info:
        decode_cursor(garbage)
    assert info.value.reason_key == "invalid.cursor"


def test_escape_like_neutralises_wildcards():
    """LIKE wildcards and the escape character are escaped."""
    assert escape_like(r"50%_off\now") == r"50\%\_off\\now"


# --- lookups --------------------------------------------------------------------------------


async def test_get_character_bad_or_missing_id_is_not_found(session):
    """Malformed or unknown ids raise NotFoundError, never a database error."""
    for bad in ["", "nope", "a" * 500, "x\x00y", "'; drop table users; --", "12345678-aaaa"]:
        with pytest.raises(NotFoundError):
            await svc.get_character(session, bad)
    assert (await session.execute(text("select 1"))).scalar() == 1


async def test_get_owned_character_refuses_other_users(session):
    """Another user's id gets NotOwnerError; the owner gets the row."""
    owner, other = await make_user(session), await make_user(session)
    character = await make_character(session, owner)
    assert (await svc.get_owned_character(session, character.id, owner.id)).id == character.id
    with pytest.raises(NotOwnerError):
        await svc.get_owned_character(session, character.id, other.id)


async def test_visible_character_rules(session):
    """Others see a character only if public, completed, owner showcases and is active."""
    owner = await make_user(session, allow_gallery_showcase=True)
    viewer = await make_user(session)
    private = await make_character(session, owner)
    public = await make_character(session, owner, is_public=True)
    pending = await make_character(session, owner, is_public=True, generation_status="pending")
    assert (await svc.get_visible_character(session, private.id, owner.id)).id == private.id
    assert (await svc.get_visible_character(session, pending.id, owner.id)).id == pending.id
    assert (await svc.get_visible_character(session, public.id, viewer.id)).id == public.id
    for hidden in (private, pending):
        with pytest.raises(NotFoundError):
            await svc.get_visible_character(session, hidden.id, viewer.id)
    owner.allow_gallery_showcase = False
    await session.flush()
    with pytest.raises(NotFoundError):
        await svc.get_visible_character(session, public.id, viewer.id)
    owner.allow_gallery_showcase = True
    owner.account_status = "suspended"
    await session.flush()
    with pytest.raises(NotFoundError):
        await svc.get_visible_character(session, public.id, viewer.id)


# --- listing --------------------------------------------------------------------------------


async def test_list_pages_newest_first_without_repeats_or_skips(session):
    """Walking every page yields each completed character once, newest first."""
    user = await make_user(session)
    made = await make_timeline(session, user, 23)
    pages = await walk(lambda **kw: svc.list_characters(session, user.id, **kw), 10)
    assert [len(p) for p in pages] == [10, 10, 3]
    assert [i for p in pages for i in p] == [c.id for c in reversed(made)]


async def test_list_is_stable_while_rows_are_inserted(session):
    """Rows inserted between page fetches (newer, and tied with the boundary) cause no repeats
    and no skips of the rows being walked."""
    user = await make_user(session)
    made = await make_timeline(session, user, 12)
    first = await svc.list_characters(session, user.id, limit=5)
    boundary = first.items[-1]
    # a brand-new character, and one with exactly the boundary's timestamp but a larger id
    await make_character(session, user, created_at=BASE + timedelta(days=1))
    await make_character(
        session, user, id="zzzzzzzz-0000-0000-0000-000000000000", created_at=boundary.created_at
    )
    second = await svc.list_characters(session, user.id, cursor=first.next_cursor, limit=5)
    await make_character(session, user, created_at=BASE + timedelta(days=2))
    third = await svc.list_characters(session, user.id, cursor=second.next_cursor, limit=5)
    walked = [c.id for page in (first, second, third) for c in page.items]
    assert walked == [c.id for c in reversed(made)]
    assert third.next_cursor is None


async def test_list_ties_on_created_at_are_broken_by_id(session):
    """Characters sharing one timestamp page by id, none lost or repeated."""
    user = await make_user(session)
    made = [await make_character(session, user, created_at=BASE) for _ in range(7)]
    pages = await walk(lambda **kw: svc.list_characters(session, user.id, **kw), 3)
    assert [i for p in pages for i in p] == sorted((c.id for c in made), reverse=True)


async def test_list_previous_page_returns_the_same_rows(session):
    """The prev cursor of page two gives back page one, with no further previous page."""
    user = await make_user(session)
    await make_timeline(session, user, 9)
    first = await svc.list_characters(session, user.id, limit=4)
    assert not first.has_previous
    second = await svc.list_characters(session, user.id, cursor=first.next_cursor, limit=4)
    assert second.has_previous
    back = await svc.list_characters(session, user.id, cursor=second.prev_cursor, limit=4)
    assert [c.id for c in back.items] == [c.id for c in first.items]
    assert back.prev_cursor is None
    assert back.next_cursor is not None


async def test_list_filters_and_hides_incomplete_and_others(session):
    """Filters select favorites or library; pending/failed rows and others' rows never show."""
    user, other = await make_user(session), await make_user(session)
    fav = await make_character(session, user, is_favorite=True)
    lib = await make_character(session, user, is_in_library=True)
    plain = await make_character(session, user)
    await make_character(session, user, generation_status="pending", is_favorite=True)
    await make_character(session, user, generation_status="failed")
    await make_character(session, other, is_favorite=True)

    async def ids(flt):
        return {c.id for c in (await svc.list_characters(session, user.id, filter=flt)).items}

    assert await ids("all") == {fav.id, lib.id, plain.id}
    assert await ids("favorites") == {fav.id}
    assert await ids("library") == {lib.id}


async def test_list_rejects_unknown_filter_and_bad_cursor(session):
    """An unknown filter or a garbage cursor is InvalidInputError."""
    user = await make_user(session)
    with pytest.raises(InvalidInputError):
        await svc.list_characters(session, user.id, filter="everything")
    with pytest.raises(InvalidInputError):
        await svc.list_characters(session, user.id, cursor="garbage")


# --- autocomplete ---------------------------------------------------------------------------


async def test_autocomplete_prefix_first_then_substring_case_insensitive(session):
    """Prefix matches rank above substring matches; both case-insensitive, recent first."""
    user = await make_user(session)
    sub = await make_character(session, user, name="Old Alice", created_at=BASE)
    pre_old = await make_character(
        session, user, name="alice smith", created_at=BASE + timedelta(1)
    )
    pre_new = await make_character(session, user, name="ALICIA", created_at=BASE + timedelta(2))
    await make_character(session, user, name="Bob", created_at=BASE + timedelta(3))
    result = await svc.autocomplete_characters(session, user.id, "ali")
    assert result == [(pre_new.id, "ALICIA"), (pre_old.id, "alice smith"), (sub.id, "Old Alice")]


async def test_autocomplete_escapes_wildcards(session):
    """A % or _ in the query matches literally."""
    user = await make_user(session)
    literal = await make_character(session, user, name="100% Hero")
    await make_character(session, user, name="100 Heroes")
    await make_character(session, user, name="A_B")
    assert [i for i, _ in await svc.autocomplete_characters(session, user.id, "0%")] == [literal.id]
    assert [n for _, n in await svc.autocomplete_characters(session, user.id, "_")] == ["A_B"]


async def test_autocomplete_empty_query_gives_25_most_recent_own_completed(session):
    """An empty query lists the caller's 25 newest completed characters, nothing of others."""
    user, other = await make_user(session), await make_user(session)
    made = await make_timeline(session, user, 30)
    await make_character(session, user, generation_status="pending", created_at=BASE + timedelta(9))
    await make_character(session, other, is_public=True, created_at=BASE + timedelta(9))
    result = await svc.autocomplete_characters(session, user.id, "  ")
    assert [i for i, _ in result] == [c.id for c in reversed(made)][:25]


async def test_autocomplete_never_shows_other_users_characters(session):
    """Another member's characters, public or private, never appear in my autocomplete."""
    me = await make_user(session)
    other = await make_user(session, allow_gallery_showcase=True)
    await make_character(session, other, name="Secret Sam")
    await make_character(session, other, name="Public Sam", is_public=True)
    assert await svc.autocomplete_characters(session, me.id, "sam") == []


# --- edit -----------------------------------------------------------------------------------


async def test_edit_changes_only_given_fields_and_bumps_updated_at(session):
    """Only the given fields change; empty optional text clears; updated_at moves forward."""
    user = await make_user(session)
    character = await make_character(
        session, user, clothing="coat", background="born in a lab", updated_at=BASE
    )
    edited = await svc.edit_character(
        session,
        character.id,
        user.id,
        name="  Nova  ",
        personality=["brave", " ", " curious "],
        clothing="",
    )
    assert edited.name == "Nova"
    assert edited.personality == ["brave", "curious"]
    assert edited.clothing is None
    assert edited.background == "born in a lab"
    assert edited.description == character.description
    assert edited.updated_at > BASE


async def test_edit_validation_errors_carry_keys_and_change_nothing(session):
    """Too-long fields and an empty name raise InvalidInputError with reason keys and params."""
    user = await make_user(session)
    character = await make_character(session, user, name="Keep")
    cases = [
        ({"name": "x" * 101}, "invalid.name_too_long"),
        ({"name": "   "}, "invalid.name_empty"),
        ({"description": "x" * 2001}, "invalid.description_too_long"),
        ({"personality": ["y" * 600, "z" * 600]}, "invalid.personality_too_long"),
        ({"clothing": "x" * 1001}, "invalid.clothing_too_long"),
        ({"background": "x" * 1001}, "invalid.backstory_too_long"),
    ]
    for fields, key in cases:
        with pytest.raises(InvalidInputError) as info:
            await svc.edit_character(session, character.id, user.id, **fields)
        assert info.value.reason_key == key
    with pytest.raises(InvalidInputError) as info:
        await svc.edit_character(session, character.id, user.id, name="n" * 150)
    assert info.value.params["max"] == 100
    assert info.value.params["length"] == 150
    fresh = await svc.get_character(session, character.id)
    assert fresh.name == "Keep"


async def test_edit_accepts_limits_exactly(session):
    """Values exactly at the limits are accepted."""
    user = await make_user(session)
    character = await make_character(session, user)
    edited = await svc.edit_character(
        session, character.id, user.id, name="n" * 100, description="d" * 2000, clothing="c" * 1000
    )
    assert len(edited.name) == 100
    assert len(edited.description) == 2000


async def test_edit_by_another_user_is_refused_and_changes_nothing(session):
    """A non-owner's edit raises NotOwnerError and the row is unchanged."""
    owner, other = await make_user(session), await make_user(session)
    character = await make_character(session, owner, name="Mine")
    with pytest.raises(NotOwnerError):
        await svc.edit_character(session, character.id, other.id, name="Stolen")
    assert (await svc.get_character(session, character.id)).name == "Mine"


async def test_edit_while_generating_is_refused(session):
    """A character still generating cannot be edited."""
    user = await make_user(session)
    character = await make_character(session, user, generation_status="processing")
    with pytest.raises(InvalidInputError) as info:
        await svc.edit_character(session, character.id, user.id, name="Early")
    assert info.value.reason_key == "invalid.character_generating"


# --- delete ---------------------------------------------------------------------------------


async def test_delete_returns_storage_keys_and_cascades(session):
    """Delete returns image, thumbnail and variant keys; themes, variants and collection
    entries go with it."""
    user = await make_user(session)
    character = await make_character(
        session,
        user,
        meta={"imageKey": "characters/a.png", "thumbnailKey": "characters/a_t.webp", "x": 1},
    )
    theme = await make_theme(session, character)
    v1 = await make_variant(session, theme)
    v1.meta = {"imageKey": "variants/1.png", "thumbnailKey": "variants/1_t.webp"}
    await make_variant(session, theme)  # a platform-made variant without keys
    collection = CharacterCollection(user_id=user.id, name="Faves")
    session.add(collection)
    await session.flush()
    session.add(CharacterCollectionItem(collection_id=collection.id, character_id=character.id))
    await session.flush()

    deleted = await svc.delete_character(session, character.id, user.id)
    assert set(deleted.storage_keys) == {
        "characters/a.png",
        "characters/a_t.webp",
        "variants/1.png",
        "variants/1_t.webp",
    }
    assert character.image_url in deleted.image_urls
    assert await session.scalar(select(Character).where(Character.id == character.id)) is None
    remaining = await session.scalars(
        select(ThemeVariant.id).where(ThemeVariant.character_id == character.id)
    )
    assert remaining.all() == []
    items = await session.scalars(
        select(CharacterCollectionItem.id).where(
            CharacterCollectionItem.collection_id == collection.id
        )
    )
    assert items.all() == []


async def test_delete_by_another_user_is_refused(session):
    """A non-owner's delete raises NotOwnerError and the character survives."""
    owner, other = await make_user(session), await make_user(session)
    character = await make_character(session, owner)
    with pytest.raises(NotOwnerError):
        await svc.delete_character(session, character.id, other.id)
    assert (await svc.get_character(session, character.id)).id == character.id


# --- flags ----------------------------------------------------------------------------------


async def test_set_flag_sets_and_toggles(session):
    """An explicit value sets the flag; None toggles it."""
    user = await make_user(session)
    character = await make_character(session, user)
    assert (await svc.set_flag(session, character.id, user.id, "is_favorite")).is_favorite
    assert not (await svc.set_flag(session, character.id, user.id, "is_favorite")).is_favorite
    assert (await svc.set_flag(session, character.id, user.id, "is_in_library", True)).is_in_library
    assert (await svc.set_flag(session, character.id, user.id, "is_in_library", True)).is_in_library
    assert (await svc.set_flag(session, character.id, user.id, "is_public", True)).is_public


async def test_publish_requires_completed(session):
    """Publishing a character that is not completed is InvalidInputError; it stays private."""
    user = await make_user(session)
    character = await make_character(session, user, generation_status="failed")
    with pytest.raises(InvalidInputError) as info:
        await svc.set_flag(session, character.id, user.id, "is_public", True)
    assert info.value.reason_key == "invalid.publish_not_completed"
    assert not (await svc.get_character(session, character.id)).is_public
    unpublished = await svc.set_flag(session, character.id, user.id, "is_public", False)
    assert unpublished.is_public is False


async def test_publish_by_another_user_is_refused(session):
    """A non-owner cannot publish or favourite; nothing changes."""
    owner, other = await make_user(session), await make_user(session)
    character = await make_character(session, owner)
    for flag in ("is_public", "is_favorite", "is_in_library"):
        with pytest.raises(NotOwnerError):
            await svc.set_flag(session, character.id, other.id, flag, True)
    fresh = await svc.get_character(session, character.id)
    assert not fresh.is_public
    assert not fresh.is_favorite
    assert not fresh.is_in_library


async def test_set_flag_rejects_unknown_flag(session):
    """A flag outside the three is InvalidInputError."""
    user = await make_user(session)
    character = await make_character(session, user)
    with pytest.raises(InvalidInputError):
        await svc.set_flag(session, character.id, user.id, "is_admin", True)


# --- conversation ---------------------------------------------------------------------------


async def test_attach_conversation_merges_metadata_as_strings(session):
    """Conversation ids are merged in as strings without clobbering other metadata keys."""
    user = await make_user(session)
    character = await make_character(session, user, meta={"gender": "female", "artStyle": "anime"})
    await svc.attach_conversation(
        session,
        character.id,
        guild_id=111111111111111111,
        channel_id=222222222222222222,
        message_id=333333333333333333,
        thread_id=444444444444444444,
    )
    meta = (await svc.get_character(session, character.id)).meta
    assert meta == {
        "gender": "female",
        "artStyle": "anime",
        "guildId": "111111111111111111",
        "channelId": "222222222222222222",
        "messageId": "333333333333333333",
        "conversationId": "444444444444444444",
    }
    assert character.meta == meta  # the loaded object was refreshed too


async def test_attach_conversation_without_thread_or_guild_keeps_old_values(session):
    """A None thread or guild leaves any existing conversationId/guildId alone; a NULL
    metadata column is handled."""
    user = await make_user(session)
    character = await make_character(session, user, meta={"conversationId": "5"})
    await svc.attach_conversation(
        session, character.id, guild_id=None, channel_id=7, message_id=8, thread_id=None
    )
    meta = (await svc.get_character(session, character.id)).meta
    assert meta == {"conversationId": "5", "channelId": "7", "messageId": "8"}
    empty = await make_character(session, user, meta=None)
    await session.execute(
        text("update characters set metadata = null where id = :i"), {"i": empty.id}
    )
    await svc.attach_conversation(
        session, empty.id, guild_id=1, channel_id=2, message_id=3, thread_id=4
    )
    assert (await svc.get_character(session, empty.id)).meta["conversationId"] == "4"


async def test_attach_conversation_unknown_character_is_not_found(session):
    """Attaching to a missing character raises NotFoundError."""
    with pytest.raises(NotFoundError):
        await svc.attach_conversation(
            session, "missing-id", guild_id=1, channel_id=2, message_id=3, thread_id=4
        )


async def test_find_character_by_thread(session):
    """The character whose conversationId is the thread id is found; others are not."""
    user = await make_user(session)
    character = await make_character(session, user)
    await make_character(session, user, meta={"conversationId": "999"})
    await svc.attach_conversation(
        session, character.id, guild_id=1, channel_id=2, message_id=3, thread_id=123456789
    )
    found = await svc.find_character_by_thread(session, 123456789)
    assert found is not None
    assert found.id == character.id
    assert await svc.find_character_by_thread(session, 42) is None


async def test_find_by_thread_uses_the_conversation_index(session):
    """The thread lookup is served by the migration's partial expression index, also under a
    generic prepared plan (the JSON key is a literal, not a parameter)."""
    stmt = svc.thread_lookup(123)
    sql = str(stmt.compile(dialect=postgresql.dialect()))
    assert "metadata ->> 'conversationId'" in sql
    assert "metadata ? 'conversationId'" in sql
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    connection = await session.connection()
    asyncpg_sql = str(stmt.compile(dialect=connection.dialect))
    raw = (await connection.get_raw_connection()).driver_connection
    plan = await raw.fetch("EXPLAIN " + asyncpg_sql, "123")
    assert "idx_characters_conversation_id" in "\n".join(row[0] for row in plan)


async def test_autocomplete_searches_the_newest_thousand(session):
    """Autocomplete looks through the member's newest 1,000 characters, so one keystroke costs
    the same for a member with 10,000: a name older than that is not offered."""
    from sqlalchemy import text as sql_text

    from bot.services.characters import AUTOCOMPLETE_SCAN, autocomplete_characters
    from tests.factories import make_user

    user = await make_user(session)
    await session.execute(
        sql_text(
            "INSERT INTO characters (user_id, name, prompt, generation_status, created_at) "
            "SELECT :u, 'Filler ' || g, 'p', 'completed', now() - g * interval '1 minute' "
            "FROM generate_series(1, :n) g"
        ),
        {"u": user.id, "n": AUTOCOMPLETE_SCAN},
    )
    await session.execute(
        sql_text(
            "INSERT INTO characters (user_id, name, prompt, generation_status, created_at) "
            "VALUES (:u, 'Ancient Oracle', 'p', 'completed', now() - interval '30 days'), "
            "(:u, 'Fresh Oracle', 'p', 'completed', now())"
        ),
        {"u": user.id},
    )
    names = [name for _, name in await autocomplete_characters(session, user.id, "oracle")]
    assert names == ["Fresh Oracle"]


async def test_imports_at_once_by_one_member_all_succeed(session_factory, tmp_path):
    """Several /character import at the same moment by one member (found by the fuzz test: the
    member's row was locked after the character's insert, and two imports deadlocked)."""
    import asyncio

    from bot.cards.parse import parse_card
    from bot.services.importing import import_card
    from bot.storage.local import LocalStorage
    from db.engine import Database
    from tests.factories import make_user

    db = Database(session_factory)
    async with session_factory.begin() as s:
        owner = await make_user(s)
    card = parse_card(b'{"name": "Twin", "description": "one of many"}', "card.json")
    storage = LocalStorage(tmp_path / "images")
    made = await asyncio.gather(*(import_card(db, storage, owner.id, card) for _ in range(6)))
    assert len({done.character.id for done in made}) == 6
    async with session_factory() as s:
        refreshed = await s.get(type(owner), owner.id)
    assert refreshed.total_characters_created == 6
