"""Collection services, against the real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.errors import ConflictError, InvalidInputError, NotFoundError, NotOwnerError
from bot.services import collections as svc
from db.models import CharacterCollection, CharacterCollectionItem
from tests.factories import make_character, make_user


async def item_count(session, collection_id):
    """How many entries a collection has in the database."""
    return await session.scalar(
        select(func.count())
        .select_from(CharacterCollectionItem)
        .where(CharacterCollectionItem.collection_id == collection_id)
    )


async def test_create_collection_and_duplicates(session):
    """A member creates a collection; the same name again (any case) conflicts; another member
    may reuse it."""
    me, other = await make_user(session), await make_user(session)
    created = await svc.create_collection(session, me.id, "  Heroes ", " my best ", is_public=True)
    assert (created.name, created.description, created.is_public) == ("Heroes", "my best", True)
    with pytest.raises(ConflictError) as info:
        await svc.create_collection(session, me.id, "heroes")
    assert info.value.reason_key == "conflict.collection_exists"
    assert (await svc.create_collection(session, other.id, "Heroes")).user_id == other.id


async def test_create_collection_validation(session):
    """Name 1..50 and description ≤ 200 are enforced with reason keys."""
    me = await make_user(session)
    for args, key in [
        (("",), "invalid.collection_name_empty"),
        (("n" * 51,), "invalid.collection_name_too_long"),
        (("ok", "d" * 201), "invalid.collection_description_too_long"),
    ]:
        with pytest.raises(InvalidInputError) as info:
            await svc.create_collection(session, me.id, *args)
        assert info.value.reason_key == key
    assert (await svc.create_collection(session, me.id, "n" * 50, "d" * 200)).name == "n" * 50


async def test_concurrent_creates_of_one_name_make_one_collection(session_factory):
    """Two concurrent creates of the same name: one collection, one ConflictError."""
    async with session_factory() as s, s.begin():
        me = await make_user(s)

    async def create():
        async with session_factory() as s, s.begin():
            return await svc.create_collection(s, me.id, "Twins")

    results = await asyncio.gather(create(), create(), return_exceptions=True)
    assert sum(isinstance(r, CharacterCollection) for r in results) == 1
    assert sum(isinstance(r, ConflictError) for r in results) == 1


async def test_add_own_and_public_characters(session):
    """Own completed characters and publicly visible ones can be added; duplicates conflict."""
    me = await make_user(session)
    other = await make_user(session, allow_gallery_showcase=True)
    collection = await svc.create_collection(session, me.id, "Mix")
    mine = await make_character(session, me)
    public = await make_character(session, other, is_public=True)
    await svc.add_to_collection(session, collection.id, mine.id, me.id)
    await svc.add_to_collection(session, collection.id, public.id, me.id)
    with pytest.raises(ConflictError) as info:
        await svc.add_to_collection(session, collection.id, mine.id, me.id)
    assert info.value.reason_key == "conflict.already_in_collection"
    assert await item_count(session, collection.id) == 2


async def test_add_refuses_private_others_and_unfinished(session):
    """Someone else's private character, an unfinished one, or a bad id is NotFoundError."""
    me = await make_user(session)
    other = await make_user(session, allow_gallery_showcase=True)
    collection = await svc.create_collection(session, me.id, "Mix")
    private = await make_character(session, other)
    pending = await make_character(session, me, generation_status="pending")
    for character_id in (private.id, pending.id, "garbage id", "00000000-0000-0000-0000-0"):
        with pytest.raises(NotFoundError):
            await svc.add_to_collection(session, collection.id, character_id, me.id)
    assert await item_count(session, collection.id) == 0


async def test_collection_ownership(session):
    """Another member cannot add to, remove from or delete my collection; nothing changes."""
    me, other = await make_user(session), await make_user(session)
    collection = await svc.create_collection(session, me.id, "Mine")
    mine = await make_character(session, me)
    theirs = await make_character(session, other)
    await svc.add_to_collection(session, collection.id, mine.id, me.id)
    with pytest.raises(NotOwnerError):
        await svc.add_to_collection(session, collection.id, theirs.id, other.id)
    with pytest.raises(NotOwnerError):
        await svc.remove_from_collection(session, collection.id, mine.id, other.id)
    with pytest.raises(NotOwnerError):
        await svc.delete_collection(session, collection.id, other.id)
    assert await item_count(session, collection.id) == 1
    assert (await svc.get_owned_collection(session, collection.id, me.id)).name == "Mine"


async def test_remove_from_collection(session):
    """Removing an entry works once; removing it again is NotFoundError."""
    me = await make_user(session)
    collection = await svc.create_collection(session, me.id, "Mine")
    mine = await make_character(session, me)
    await svc.add_to_collection(session, collection.id, mine.id, me.id)
    await svc.remove_from_collection(session, collection.id, mine.id, me.id)
    assert await item_count(session, collection.id) == 0
    with pytest.raises(NotFoundError):
        await svc.remove_from_collection(session, collection.id, mine.id, me.id)


async def test_show_collection_visibility_and_hidden_entries(session):
    """The owner and (for a public collection) others see it; entries the viewer may not see
    are skipped and counted."""
    me = await make_user(session, allow_gallery_showcase=True)
    viewer = await make_user(session)
    public_collection = await svc.create_collection(session, me.id, "Shared", is_public=True)
    private_collection = await svc.create_collection(session, me.id, "Secret")
    shown = await make_character(session, me, is_public=True, name="Shown")
    hidden = await make_character(session, me, name="Hidden")
    for minute, character in enumerate((shown, hidden)):
        item = await svc.add_to_collection(session, public_collection.id, character.id, me.id)
        item.added_at = datetime(2025, 1, 1, 0, minute, tzinfo=UTC)  # one transaction: force order
    await session.flush()

    own_view = await svc.show_collection(session, public_collection.id, me.id)
    assert [c.id for c in own_view.characters] == [shown.id, hidden.id]
    assert own_view.hidden_count == 0

    their_view = await svc.show_collection(session, public_collection.id, viewer.id)
    assert [c.id for c in their_view.characters] == [shown.id]
    assert (their_view.total_visible, their_view.hidden_count) == (1, 1)

    with pytest.raises(NotFoundError):
        await svc.show_collection(session, private_collection.id, viewer.id)
    assert (await svc.show_collection(session, private_collection.id, me.id)).characters == []


async def test_show_collection_skips_unpublished_characters(session):
    """A character that was public when added but is unpublished later disappears for others."""
    me = await make_user(session)
    other = await make_user(session, allow_gallery_showcase=True)
    collection = await svc.create_collection(session, me.id, "Others", is_public=True)
    public = await make_character(session, other, is_public=True)
    await svc.add_to_collection(session, collection.id, public.id, me.id)
    assert len((await svc.show_collection(session, collection.id, me.id)).characters) == 1
    public.is_public = False
    await session.flush()
    view = await svc.show_collection(session, collection.id, me.id)
    assert view.characters == []
    assert view.hidden_count == 1


async def test_list_and_delete_collections(session):
    """Listing shows the caller's collections with counts; deleting keeps the characters."""
    me, other = await make_user(session), await make_user(session)
    first = await svc.create_collection(session, me.id, "First")
    await svc.create_collection(session, me.id, "Second")
    await svc.create_collection(session, other.id, "Theirs")
    character = await make_character(session, me)
    await svc.add_to_collection(session, first.id, character.id, me.id)
    listed = {c.name: c.item_count for c in await svc.list_collections(session, me.id)}
    assert listed == {"First": 1, "Second": 0}
    await svc.delete_collection(session, first.id, me.id)
    assert [c.name for c in await svc.list_collections(session, me.id)] == ["Second"]
    assert await item_count(session, first.id) == 0
    with pytest.raises(NotFoundError):
        await svc.get_owned_collection(session, first.id, me.id)


async def test_character_delete_removes_it_from_collections(session):
    """Deleting a character removes its collection entries by cascade."""
    from bot.services.characters import delete_character

    me = await make_user(session)
    collection = await svc.create_collection(session, me.id, "Gone soon")
    character = await make_character(session, me)
    await svc.add_to_collection(session, collection.id, character.id, me.id)
    await delete_character(session, character.id, me.id)
    assert await item_count(session, collection.id) == 0


async def test_autocomplete_collections(session):
    """Autocomplete lists the caller's collections only, prefix matches first."""
    me, other = await make_user(session), await make_user(session)
    heroes = await svc.create_collection(session, me.id, "Heroes")
    super_heroes = await svc.create_collection(session, me.id, "Super heroes")
    await svc.create_collection(session, other.id, "Heroes of others")
    assert await svc.autocomplete_collections(session, me.id, "hero") == [
        (heroes.id, "Heroes"),
        (super_heroes.id, "Super heroes"),
    ]
    assert {i for i, _ in await svc.autocomplete_collections(session, me.id, "")} == {
        heroes.id,
        super_heroes.id,
    }
    assert await svc.autocomplete_collections(session, me.id, "%") == []
